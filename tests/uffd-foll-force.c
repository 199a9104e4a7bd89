// SPDX-License-Identifier: GPL-2.0
/*
 * A FOLL_FORCE write (/proc/PID/mem, ptrace) must not go through a page
 * that userfaultfd write-protects (bug 31 of uffd-claims.h), without a race.
 *
 * 5.10's GUP breaks copy-on-write for a FOLL_FORCE write to a read-only
 * private mapping with a write fault, sets FOLL_COW when the fault says it
 * wrote (VM_FAULT_WRITE) and then accepts the dirty read-only pte
 * (can_follow_write_pte()).  do_swap_page() maps a swapped-out page that
 * uffd-wp protects dirty and read-only and still returns VM_FAULT_WRITE, so
 * a FOLL_FORCE write to a protected page that was paged out lands in it:
 * no write-protect message, pagemap bit 57 still set, the data changed.
 * The racy form of the same bug (UFFDIO_WRITEPROTECT between the fault and
 * the retried lookup) is in uffd-gup.
 *
 * The page is protected, the vma made PROT_READ, the page paged out
 * (MADV_PAGEOUT, zram swap in the guest), then written through
 * /proc/self/mem while a handler thread resolves wp faults by un-protecting.
 * Right is either of: the write raised a wp message before it landed
 * (mainline: its GUP can wait for the handler), or it failed (5.10 with the
 * fix: a FOLL_FORCE fault from get_user_pages_remote() cannot wait, and
 * handle_userfault() makes it fail: EIO) and the page is unchanged.  Wrong:
 * the data changed and no message came.  The same for a page that stays
 * mapped (no swap-out), where the protected pte is not dirty and every
 * kernel refuses the shortcut: a control that the handling is understood.
 */
#include "uffd-test.h"

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif

static bool paged_out(char *p, size_t ps)
{
	int tries;

	for (tries = 0; tries < 20; tries++) {
		lru_drain_all();
		if (madvise(p, ps, MADV_PAGEOUT))
			return false;
		if (!(pagemap(p) & PM_PRESENT))
			return true;
		usleep(10000);
	}
	return false;
}

static void test_foll_force(bool pageout, const struct uffd_claims *c)
{
	size_t ps = getpagesize();
	struct verdict v = { 0 };
	struct wp_handler h;
	bool ok = false, started = false;
	unsigned long faults;
	char name[128], b = 'B';
	int uffd = -1, mem = -1;
	ssize_t n;
	char *p;

	snprintf(name, sizeof(name), "anon: FOLL_FORCE write to a protected %s page",
		 pageout ? "paged-out" : "mapped");
	if (!(c->modes[MEM_ANON] & CLAIM_WP)) {
		verdict_skip(&v, "no wp on anon");
		goto out;
	}
	p = mmap(NULL, ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		verdict_fail(&v, "mmap: %s", strerror(errno));
		goto out;
	}
	p[0] = 'A';
	uffd = uffd_open(0);
	if (uffd < 0) {
		verdict_fail(&v, "userfaultfd: %s", strerror(errno));
		goto unmap;
	}
	if (uffd_register(uffd, p, ps, UFFDIO_REGISTER_MODE_WP, NULL) ||
	    uffd_wp(uffd, p, ps, true) || mprotect(p, ps, PROT_READ)) {
		verdict_fail(&v, "register, protect, mprotect: %s", strerror(errno));
		goto unmap;
	}
	if (pageout && !paged_out(p, ps)) {
		verdict_skip(&v, "MADV_PAGEOUT did not page it out (no swap?)");
		goto unmap;
	}
	mem = open("/proc/self/mem", O_RDWR);
	if (mem < 0) {
		verdict_fail(&v, "/proc/self/mem: %s", strerror(errno));
		goto unmap;
	}
	wp_handler_start(&h, uffd, ps);
	started = true;
	n = pwrite(mem, &b, 1, (off_t)(unsigned long)p);
	faults = __atomic_load_n(&h.wp_faults, __ATOMIC_SEQ_CST);
	if (n == 1 && !faults) {
		verdict_fail(&v, "the write went through without a wp message (page now '%c', pagemap bit 57 %d)",
			     p[0], !!(pagemap(p) & PM_UFFD_WP));
		goto unmap;
	}
	if (n != 1 && p[0] != 'A') {
		verdict_fail(&v, "the write failed (%s) but the page changed to '%c'",
			     strerror(errno), p[0]);
		goto unmap;
	}
	if (n != 1)
		ksft_print_msg("%s: write refused (%s), page unchanged\n", name, strerror(errno));
	else
		ksft_print_msg("%s: write after %lu wp message(s)\n", name, faults);
	ok = h.unexpected == 0;
	if (!ok)
		verdict_fail(&v, "unexpected uffd messages");
unmap:
	if (started)
		wp_handler_stop(&h);
	if (mem >= 0)
		close(mem);
	if (uffd >= 0)
		close(uffd);
	munmap(p, ps);
out:
	verdict_report(&v, ok, 31, c, name);
}

int main(void)
{
	const struct uffd_claims *c = uffd_claims_of_kernel();

	ksft_print_header();
	ksft_set_plan(2);
	test_foll_force(false, c);
	test_foll_force(true, c);
	return ksft_get_fail_cnt() ? ksft_exit_fail() : ksft_exit_pass();
}
