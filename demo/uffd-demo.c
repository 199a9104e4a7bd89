// SPDX-License-Identifier: GPL-2.0
/*
 * The narrated demo of `make run`: what userfaultfd offers on this kernel,
 * then a write-protect fault on anonymous memory caught by a handler thread
 * and resolved by un-protecting the page, then a write tracker on a memfd
 * (a live snapshot, as QEMU takes of guest RAM) that catches every first
 * write after the snapshot point, also to pages that were paged out, and
 * the same tracker on hugetlbfs.
 */
#include <poll.h>
#include <pthread.h>
#include "uffd-test.h"

static int uffd;
static char *area;
static size_t page;

static void say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fflush(stdout);
}

static void show_api(void)
{
	struct uffdio_api api = { 0 };
	int fd = uffd_open_raw(0), i;

	if (fd < 0 || uffd_api(fd, 0, &api))
		ksft_exit_fail_msg("userfaultfd/UFFDIO_API: %s\n", strerror(errno));
	say("This kernel's userfaultfd advertises features 0x%llx:\n",
	    (unsigned long long)api.features);
	for (i = 0; i < UFFD_NR_FEATURE_BITS; i++)
		say("  [%c] %2d %s\n", api.features & FEAT(i) ? 'x' : ' ', i,
		    uffd_feature_names[i].name);
	say("and ioctls 0x%llx (REGISTER, UNREGISTER, API).\n\n",
	    (unsigned long long)api.ioctls);
	close(fd);
}

static void *handler(void *arg)
{
	struct uffd_msg msg;
	struct pollfd pfd = { .fd = uffd, .events = POLLIN };

	while (poll(&pfd, 1, -1) > 0) {
		if (read(uffd, &msg, sizeof(msg)) != sizeof(msg))
			continue;
		if (msg.event != UFFD_EVENT_PAGEFAULT)
			continue;
		unsigned long addr = msg.arg.pagefault.address;
		struct uffdio_writeprotect wp = {
			.range = { .start = addr & ~(page - 1), .len = page },
			.mode = 0,
		};

		say("  handler: caught a %s fault at page %lu (%s); un-protecting it\n",
		    msg.arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WP ? "write-protect" : "missing",
		    (addr - (unsigned long)area) / page,
		    msg.arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WRITE ? "write" : "read");
		if (ioctl(uffd, UFFDIO_WRITEPROTECT, &wp))
			ksft_exit_fail_msg("UFFDIO_WRITEPROTECT: %s\n", strerror(errno));
		return NULL;
	}
	return NULL;
}

/* The write tracker: a snapshot of a memfd taken lazily, page by page. */
#define TPAGES 8
static char *snap[TPAGES];
static int tpipe[2];

static void *tracker(void *arg)
{
	struct pollfd pfd[2] = {
		{ .fd = uffd, .events = POLLIN },
		{ .fd = tpipe[0], .events = POLLIN },
	};
	struct uffd_msg msg;

	while (poll(pfd, 2, -1) > 0 && !(pfd[1].revents & POLLIN)) {
		if (read(uffd, &msg, sizeof(msg)) != sizeof(msg) ||
		    msg.event != UFFD_EVENT_PAGEFAULT)
			continue;
		unsigned long a = msg.arg.pagefault.address & ~(page - 1);
		size_t i = (a - (unsigned long)area) / page;

		/* Save the page as it was at the snapshot point, then let the write go. */
		snap[i] = malloc(page);
		memcpy(snap[i], (char *)a, page);
		say("  tracker: first write to page %zu since the snapshot: saved '%c', un-protecting\n",
		    i, snap[i][0]);
		if (uffd_wp(uffd, (void *)a, page, false))
			ksft_exit_fail_msg("un-protect: %s\n", strerror(errno));
	}
	return NULL;
}

static void pagemap_line(const char *when)
{
	size_t i;

	say("  pagemap %-22s", when);
	for (i = 0; i < TPAGES; i++) {
		uint64_t pm = pagemap(area + i * page);

		say(" %zu:%s%s", i, pm & PM_PRESENT ? "P" : "-", pm & PM_UFFD_WP ? "W" : "-");
	}
	say("   (P present, W uffd-wp)\n");
}

static int write_tracker_demo(enum uffd_mem mem)
{
	bool huge = mem_is_hugetlb(mem);
	size_t len, i;
	pthread_t th;
	int fd, ret;

	page = mem_page_size(mem);
	len = TPAGES * page;
	memset(snap, 0, sizeof(snap));
	if (huge)
		say("\nThe same tracker on a hugetlbfs memfd (2 MiB pages):\n");
	else
		say("\nA write tracker on a memfd (shared memory), surviving swap-out:\n");
	area = mem_map(mem, len, &fd);
	if (area == MAP_FAILED)
		ksft_exit_fail_msg("memfd: %s\n", strerror(errno));
	for (i = 0; i < TPAGES; i++)
		memset(area + i * page, '0' + i, page);
	uffd = uffd_open(0);
	ret = uffd_register(uffd, area, len, UFFDIO_REGISTER_MODE_WP, NULL);
	if (ret) {
		say("  UFFDIO_REGISTER_MODE_WP on %s: %s: this kernel cannot track writes there.\n",
		    uffd_mem_names[mem], strerror(-ret));
		mem_unmap(area, len, fd);
		return 0;
	}
	if (uffd_wp(uffd, area, len, true))
		ksft_exit_fail_msg("UFFDIO_WRITEPROTECT: %s\n", strerror(errno));
	say("  8 pages '0'..'7', registered; snapshot point: all write-protected.\n");
	pagemap_line("at the snapshot:");
	if (!huge) {
		lru_drain_all();
		madvise(area, len, 21 /* MADV_PAGEOUT */);
		pagemap_line("after MADV_PAGEOUT:");
	}
	if (pipe(tpipe) || pthread_create(&th, NULL, tracker, NULL))
		ksft_exit_fail_msg("tracker: %s\n", strerror(errno));
	say(huge ? "  reading page 3 raises no fault: '%c'\n" :
		   "  reading page 3 brings it back without a fault: '%c'\n", area[3 * page]);
	say("  writing 'x' to pages 1 and 5, then again to page 1:\n");
	area[1 * page] = 'x';
	area[5 * page] = 'x';
	area[1 * page + 1] = 'x';
	pagemap_line("after the writes:");
	if (write(tpipe[1], "x", 1) != 1)
		ksft_exit_fail_msg("pipe: %s\n", strerror(errno));
	pthread_join(th, NULL);
	for (i = 0; i < TPAGES; i++)
		if ((i == 1 || i == 5) != !!snap[i] || (snap[i] && snap[i][0] != (char)('0' + i)))
			ksft_exit_fail_msg("tracker missed or invented a write to page %zu\n", i);
	say("  the snapshot holds pages 1 and 5 as they were ('1', '5'); the others are unchanged in place.\n");
	for (i = 0; i < TPAGES; i++) {
		free(snap[i]);
		snap[i] = NULL;
	}
	uffd_unregister(uffd, area, len);
	pagemap_line("after UNREGISTER:");
	close(uffd);
	close(tpipe[0]);
	close(tpipe[1]);
	mem_unmap(area, len, fd);
	return 0;
}

int main(void)
{
	struct uffdio_writeprotect wp;
	pthread_t th;
	size_t len;

	page = getpagesize();
	len = 4 * page;
	show_api();

	say("Write-protect on anonymous memory:\n");
	area = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (area == MAP_FAILED)
		ksft_exit_fail_msg("mmap: %s\n", strerror(errno));
	memset(area, 'a', len);
	uffd = uffd_open(0);
	if (uffd_register(uffd, area, len, UFFDIO_REGISTER_MODE_WP, NULL))
		ksft_exit_fail_msg("UFFDIO_REGISTER_MODE_WP: %s\n", strerror(errno));
	wp = (struct uffdio_writeprotect){
		.range = { .start = (unsigned long)area, .len = len },
		.mode = UFFDIO_WRITEPROTECT_MODE_WP,
	};
	if (ioctl(uffd, UFFDIO_WRITEPROTECT, &wp))
		ksft_exit_fail_msg("UFFDIO_WRITEPROTECT: %s\n", strerror(errno));
	say("  4 pages filled with 'a', registered and write-protected.\n");
	say("  reading page 2 does not fault: it holds '%c'.\n", area[2 * page]);
	pthread_create(&th, NULL, handler, NULL);
	say("  writing 'b' to page 2: the writer blocks until the handler resolves...\n");
	area[2 * page] = 'b';
	pthread_join(th, NULL);
	say("  ...the write completed: page 2 holds '%c', page 1 still '%c'.\n",
	    area[2 * page], area[page]);
	if (area[2 * page] != 'b' || area[page] != 'a')
		ksft_exit_fail_msg("unexpected contents\n");
	close(uffd);
	munmap(area, len);
	write_tracker_demo(MEM_SHMEM);
	write_tracker_demo(MEM_HUGETLB);
	say("Demo done.\n");
	return 0;
}
