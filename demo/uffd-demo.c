// SPDX-License-Identifier: GPL-2.0
/*
 * The narrated demo of `make run`: what userfaultfd offers on this kernel,
 * then a write-protect fault on anonymous memory caught by a handler thread
 * and resolved by un-protecting the page.
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
	say("Demo done.\n");
	return 0;
}
