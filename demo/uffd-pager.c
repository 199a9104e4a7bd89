// SPDX-License-Identifier: GPL-2.0
/*
 * The pager part of `make run`: a userspace pager for guest-memory-like
 * regions, as a VMM receiving a migrated guest runs it.  Guest memory is a
 * memfd (shared memory, 4 KiB pages) or a hugetlbfs memfd (2 MiB pages),
 * mapped twice: the "guest" view is registered with userfaultfd, the
 * "pager" view is where the pager writes the pages it received.
 *
 * With UFFDIO_REGISTER_MODE_MINOR the received pages are already in the
 * file when the guest touches them: each fault is resolved by
 * UFFDIO_CONTINUE, which maps the page without copying it.  The classic
 * way, UFFDIO_REGISTER_MODE_MISSING, keeps the received pages in a buffer
 * and resolves each fault with UFFDIO_COPY, which copies the page in.
 * Both ways run on the same data, which the "guest" verifies; the demo
 * prints the time per fault of each.  TCG timings are only comparable with
 * each other, run by run.
 */
#include <poll.h>
#include <pthread.h>
#include <time.h>
#include "uffd-test.h"

struct pager {
	int uffd;
	size_t page;
	char *guest, *src;
	bool minor;
	struct bg_thread bg;
	unsigned long faults, errors;
	double ioctl_ns;
};

static double now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e9 + t.tv_nsec;
}

static void *pager_main(void *arg)
{
	struct pager *p = arg;
	struct pollfd pfd[2] = {
		{ .fd = p->uffd, .events = POLLIN },
		{ .fd = p->bg.stop[0], .events = POLLIN },
	};
	struct uffd_msg msg;

	while (poll(pfd, 2, -1) > 0 && !(pfd[1].revents & POLLIN)) {
		unsigned long off;
		double t;
		int ret;

		if (read(p->uffd, &msg, sizeof(msg)) != sizeof(msg) ||
		    msg.event != UFFD_EVENT_PAGEFAULT)
			continue;
		off = (msg.arg.pagefault.address - (unsigned long)p->guest) &
		      ~(p->page - 1);
		t = now_ns();
		if (p->minor) {
			struct uffdio_continue c = {
				.range = { .start = (unsigned long)p->guest + off,
					   .len = p->page },
			};

			ret = ioctl(p->uffd, UFFDIO_CONTINUE, &c);
		} else {
			struct uffdio_copy c = {
				.dst = (unsigned long)p->guest + off,
				.src = (unsigned long)p->src + off,
				.len = p->page,
			};

			ret = ioctl(p->uffd, UFFDIO_COPY, &c);
		}
		p->ioctl_ns += now_ns() - t;
		p->faults++;
		if (ret)
			p->errors++;
	}
	return NULL;
}

/* Page i of the guest holds bytes i, i+1, ... */
static char byte_of(size_t i, size_t k)
{
	return (char)(i + k / 4096);
}

/*
 * Page in npages of mem through the guest view, the minor or the missing
 * way; returns false if the kernel cannot, prints the figures otherwise.
 */
static bool demand_page(enum uffd_mem mem, size_t npages, bool minor,
			double *per_fault_us)
{
	size_t page = mem_page_size(mem), len = npages * page, i, k;
	struct pager p = { .page = page, .minor = minor };
	char *fill = NULL;
	double t;
	int mfd, ret;

	p.guest = mem_map(mem, len, &mfd);
	if (p.guest == MAP_FAILED) {
		printf("  %s: mmap: %s\n", uffd_mem_names[mem], strerror(errno));
		return false;
	}
	p.src = aligned_alloc(page, len);
	for (i = 0; i < npages; i++)
		for (k = 0; k < page; k += 4096)
			memset(p.src + i * page + k, byte_of(i, k), 4096);
	if (minor) {
		/* the pages arrived: they are written into the file already */
		fill = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
		memcpy(fill, p.src, len);
	}
	p.uffd = uffd_open(0);
	ret = uffd_register(p.uffd, p.guest, len, minor ? UFFDIO_REGISTER_MODE_MINOR :
			    UFFDIO_REGISTER_MODE_MISSING, NULL);
	if (ret) {
		printf("  %s, %s: UFFDIO_REGISTER: %s: not on this kernel\n",
		       uffd_mem_names[mem], minor ? "MINOR" : "MISSING", strerror(-ret));
		goto out;
	}
	bg_start(&p.bg, pager_main, &p, "pager");

	/* the guest touches every page once, then checks all of it */
	t = now_ns();
	for (i = 0; i < npages; i++)
		(void)*(volatile char *)(p.guest + i * page);
	t = now_ns() - t;
	for (i = 0; i < npages; i++)
		for (k = 0; k < page; k += 4096)
			if (p.guest[i * page + k] != byte_of(i, k) ||
			    p.guest[i * page + k + 4095] != byte_of(i, k))
				ksft_exit_fail_msg("%s page %zu: wrong data\n",
						   uffd_mem_names[mem], i);
	bg_stop(&p.bg, "pager");
	if (p.faults != npages || p.errors)
		ksft_exit_fail_msg("%lu faults, %lu errors for %zu pages\n",
				   p.faults, p.errors, npages);
	*per_fault_us = t / npages / 1000;
	printf("  %-8s %zu x %4zu KiB, %-8s+ %-8s: %8.1f us per fault (ioctl %8.1f us), data verified\n",
	       uffd_mem_names[mem], npages, page >> 10, minor ? "MINOR" : "MISSING",
	       minor ? "CONTINUE" : "COPY", *per_fault_us, p.ioctl_ns / npages / 1000);
out:
	close(p.uffd);
	if (fill)
		munmap(fill, len);
	free(p.src);
	mem_unmap(p.guest, len, mfd);
	return !ret;
}

int main(void)
{
	static const struct { enum uffd_mem mem; size_t npages; } regions[] = {
		{ MEM_HUGETLB, 32 },	/* 64 MiB of 2 MiB pages */
		{ MEM_SHMEM, 4096 },	/* 16 MiB of 4 KiB pages */
	};
	size_t r;

	printf("\nA userspace pager: guest memory mapped twice, faults on the guest view\n"
	       "resolved with UFFDIO_CONTINUE (the page is already in the file) or,\n"
	       "the classic way, with UFFDIO_COPY (the page is copied in):\n");
	for (r = 0; r < sizeof(regions) / sizeof(regions[0]); r++) {
		double cont = 0, copy = 0, us;
		int round;

		/* alternate, keep the best of three of each */
		for (round = 0; round < 3; round++) {
			if (!demand_page(regions[r].mem, regions[r].npages, true, &us))
				break;
			cont = cont && cont < us ? cont : us;
			if (!demand_page(regions[r].mem, regions[r].npages, false, &us))
				break;
			copy = copy && copy < us ? copy : us;
		}
		if (cont && copy)
			printf("  => %s, best of 3: %.1f us per fault with CONTINUE, %.1f us with COPY"
			       " (COPY/CONTINUE = %.1f)\n", uffd_mem_names[regions[r].mem],
			       cont, copy, copy / cont);
	}
	printf("Pager demo done.\n");
	return 0;
}
