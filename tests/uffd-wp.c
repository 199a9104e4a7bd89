// SPDX-License-Identifier: GPL-2.0
/*
 * userfaultfd write-protect must survive zap and be cleaned up completely
 * (shared/SCENARIOS.md 1, 8, 9, 13, 14, 15), on every memory type whose wp
 * registration the kernel under test claims (uffd-claims.h); other types
 * are skipped.  Each check verifies the data byte for byte, the uffd-wp bit
 * of /proc/self/pagemap (where the kernel claims to report it) and that
 * each expected write traps exactly once.
 */
#include "uffd-test.h"

#define NPAGES 4

static const struct uffd_claims *claims;

struct env {
	enum uffd_mem mem;
	size_t page, len;
	char *p;
	int mfd;
	int uffd;
	struct wp_handler h;
	char why[200];
};

static char pattern(size_t i)
{
	return 'A' + i % 26;
}

static char *pg(struct env *e, size_t i)
{
	return e->p + i * e->page;
}

/* Record the first failure of a scenario. */
static bool fail(struct env *e, const char *fmt, ...)
{
	va_list ap;

	if (!e->why[0]) {
		va_start(ap, fmt);
		vsnprintf(e->why, sizeof(e->why), fmt, ap);
		va_end(ap);
	}
	return false;
}

static bool page_is(struct env *e, size_t i, char c)
{
	size_t k;

	for (k = 0; k < e->page; k++)
		if (pg(e, i)[k] != c)
			return fail(e, "page %zu byte %zu is 0x%02x, expected 0x%02x",
				    i, k, pg(e, i)[k], c);
	return true;
}

/* The wp bit of page i in pagemap, where the kernel reports it. */
static bool wp_bit_is(struct env *e, size_t i, bool want, const char *when)
{
	uint64_t pm;

	if (!claims->pagemap_wp)
		return true;
	pm = pagemap(pg(e, i));
	if (!!(pm & PM_UFFD_WP) != want)
		return fail(e, "%s: page %zu pagemap 0x%llx: uffd-wp bit %s", when, i,
			    (unsigned long long)pm, want ? "clear" : "set");
	return true;
}

/* A write to page i raises exactly `faults` wp faults and lands. */
static bool write_traps(struct env *e, size_t i, unsigned long faults)
{
	unsigned long n = wp_write(&e->h, pg(e, i), 'z');

	if (n != faults)
		return fail(e, "write to page %zu raised %lu wp faults, expected %lu",
			    i, n, faults);
	pg(e, i)[0] = pattern(i);
	return page_is(e, i, pattern(i));
}

/*
 * Map NPAGES of e->mem filled with pattern(i) (file types through a second,
 * shared mapping, so that a private mapping sees page-cache pages), read
 * them in through e->p unless lazy, register them with mode and start the
 * handler.
 */
static bool setup(struct env *e, enum uffd_mem mem, uint64_t mode, bool fill, bool lazy)
{
	size_t i;
	char *q;
	int ret;

	memset(e, 0, sizeof(*e));
	e->mem = mem;
	e->page = mem_page_size(mem);
	e->len = NPAGES * e->page;
	e->p = mem_map(mem, e->len, &e->mfd);
	if (e->p == MAP_FAILED)
		return fail(e, "mmap: %s", strerror(errno));
	if (fill) {
		q = e->mfd < 0 ? e->p : mmap(NULL, e->len, PROT_READ | PROT_WRITE,
					     MAP_SHARED, e->mfd, 0);
		if (q == MAP_FAILED)
			return fail(e, "mmap of the file: %s", strerror(errno));
		for (i = 0; i < NPAGES; i++)
			memset(q + i * e->page, pattern(i), e->page);
		if (q != e->p)
			munmap(q, e->len);
	}
	if (!lazy)
		for (i = 0; i < NPAGES; i++)
			(void)*(volatile char *)pg(e, i);
	e->uffd = uffd_open(0);
	ret = uffd_register(e->uffd, e->p, e->len, mode, NULL);
	if (ret)
		return fail(e, "UFFDIO_REGISTER: %s", strerror(-ret));
	wp_handler_start(&e->h, e->uffd, e->page);
	return true;
}

static void teardown(struct env *e)
{
	wp_handler_stop(&e->h);
	if (e->uffd > 0)
		close(e->uffd);
	if (e->p && e->p != MAP_FAILED)
		mem_unmap(e->p, e->len, e->mfd);
}

static bool protect_all(struct env *e)
{
	int ret = uffd_wp(e->uffd, e->p, e->len, true);

	return ret ? fail(e, "UFFDIO_WRITEPROTECT: %s", strerror(-ret)) : true;
}

/* Zap page i's pte while the page stays in the file (or anon memory goes). */
static bool zap(struct env *e, size_t i)
{
	if (madvise(pg(e, i), e->page, MADV_DONTNEED))
		return fail(e, "MADV_DONTNEED: %s", strerror(errno));
	return true;
}

/* 1: MADV_DONTNEED of a wp'd page keeps its wp state as a marker. */
static bool t_dontneed(struct env *e, enum uffd_mem mem)
{
	return setup(e, mem, UFFDIO_REGISTER_MODE_WP, true, false) && protect_all(e) &&
	       zap(e, 1) && wp_bit_is(e, 1, true, "after zap") &&
	       page_is(e, 1, pattern(1)) && wp_bit_is(e, 1, true, "after read") &&
	       write_traps(e, 1, 1) && wp_bit_is(e, 1, false, "after resolve") &&
	       write_traps(e, 1, 0) && write_traps(e, 0, 1) && e->h.unexpected == 0;
}

/* 15: un-protecting a zapped page removes its marker. */
static bool t_unprotect(struct env *e, enum uffd_mem mem)
{
	int ret;

	if (!(setup(e, mem, UFFDIO_REGISTER_MODE_WP, true, false) && protect_all(e) &&
	      zap(e, 1)))
		return false;
	ret = uffd_wp(e->uffd, pg(e, 1), e->page, false);
	if (ret)
		return fail(e, "un-protect: %s", strerror(-ret));
	return wp_bit_is(e, 1, false, "after un-protect") && write_traps(e, 1, 0) &&
	       wp_bit_is(e, 1, false, "after write") && write_traps(e, 2, 1) &&
	       e->h.unexpected == 0;
}

/* 13: UFFDIO_UNREGISTER (or close) leaves no wp bit and no marker. */
static bool unregistered_clean(struct env *e)
{
	size_t i;

	for (i = 0; i < NPAGES; i++) {
		if (!wp_bit_is(e, i, false, "after unregister"))
			return false;
		if (!page_is(e, i, pattern(i)))
			return false;
		pg(e, i)[1] = 'z';
		if (pg(e, i)[1] != 'z')
			return fail(e, "write to page %zu lost", i);
		if (!wp_bit_is(e, i, false, "after write"))
			return false;
	}
	return e->h.wp_faults == 0 && e->h.unexpected == 0;
}

static bool t_unregister(struct env *e, enum uffd_mem mem)
{
	int ret;

	/* A zapped anon page is gone: only file memory keeps a marker. */
	if (!(setup(e, mem, UFFDIO_REGISTER_MODE_WP, true, false) && protect_all(e) &&
	      (e->mfd < 0 || zap(e, 1))))
		return false;
	ret = uffd_unregister(e->uffd, e->p, e->len);
	if (ret)
		return fail(e, "UFFDIO_UNREGISTER: %s", strerror(-ret));
	return unregistered_clean(e);
}

static bool t_close(struct env *e, enum uffd_mem mem)
{
	if (!(setup(e, mem, UFFDIO_REGISTER_MODE_WP, true, false) && protect_all(e) &&
	      (e->mfd < 0 || zap(e, 1))))
		return false;
	wp_handler_stop(&e->h);
	close(e->uffd);
	e->uffd = -1;
	return unregistered_clean(e);
}

/* 14: munmap drops markers: a new mapping at the same place has none. */
static bool t_munmap(struct env *e, enum uffd_mem mem)
{
	int flags = (mem == MEM_SHMEM || mem == MEM_HUGETLB) ? MAP_SHARED : MAP_PRIVATE;
	size_t i;
	char *q;

	if (!(setup(e, mem, UFFDIO_REGISTER_MODE_WP, true, false) && protect_all(e) &&
	      zap(e, 1)))
		return false;
	if (munmap(e->p, e->len))
		return fail(e, "munmap: %s", strerror(errno));
	if (e->mfd < 0)
		q = mmap(e->p, e->len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	else
		q = mmap(e->p, e->len, PROT_READ | PROT_WRITE, flags | MAP_FIXED, e->mfd, 0);
	if (q != e->p)
		return fail(e, "mmap again: %s", strerror(errno));
	for (i = 0; i < NPAGES; i++) {
		if (!wp_bit_is(e, i, false, "new mapping"))
			return false;
		if (e->mfd >= 0 && !page_is(e, i, pattern(i)))
			return false;
		pg(e, i)[0] = 'z';
		if (!wp_bit_is(e, i, false, "after write"))
			return false;
	}
	return e->h.wp_faults == 0 && e->h.unexpected == 0;
}

/* 8: mprotect read-only then read-write keeps wp ptes write-protected. */
static bool t_mprotect(struct env *e, enum uffd_mem mem)
{
	if (!(setup(e, mem, UFFDIO_REGISTER_MODE_WP, true, false) && protect_all(e)))
		return false;
	/* Dirty ptes, which mprotect may make writable on its own. */
	if (!(write_traps(e, 0, 1) && write_traps(e, 2, 1) && protect_all(e)))
		return false;
	if (mprotect(e->p, e->len, PROT_READ) || mprotect(e->p, e->len, PROT_READ | PROT_WRITE))
		return fail(e, "mprotect: %s", strerror(errno));
	return wp_bit_is(e, 0, true, "after mprotect") && write_traps(e, 0, 1) &&
	       write_traps(e, 1, 1) && write_traps(e, 2, 1) && e->h.unexpected == 0;
}

/* 8: UFFDIO_COPY_MODE_WP into a PROT_READ range, then mprotect RW: traps. */
static bool t_copy_wp_mprotect(struct env *e, enum uffd_mem mem)
{
	struct uffdio_copy copy;
	char *src;

	if (!setup(e, mem, UFFDIO_REGISTER_MODE_MISSING | UFFDIO_REGISTER_MODE_WP,
		   false, true))
		return false;
	src = mmap(NULL, e->page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (src == MAP_FAILED)
		return fail(e, "mmap: %s", strerror(errno));
	memset(src, pattern(0), e->page);
	if (mprotect(e->p, e->len, PROT_READ))
		return fail(e, "mprotect: %s", strerror(errno));
	copy = (struct uffdio_copy){
		.dst = (unsigned long)e->p, .src = (unsigned long)src,
		.len = e->page, .mode = UFFDIO_COPY_MODE_WP,
	};
	if (ioctl(e->uffd, UFFDIO_COPY, &copy)) {
		munmap(src, e->page);
		return fail(e, "UFFDIO_COPY_MODE_WP: %s", strerror(errno));
	}
	munmap(src, e->page);
	if (mprotect(e->p, e->len, PROT_READ | PROT_WRITE))
		return fail(e, "mprotect: %s", strerror(errno));
	return wp_bit_is(e, 0, true, "after copy") && page_is(e, 0, pattern(0)) &&
	       write_traps(e, 0, 1) && e->h.unexpected == 0;
}

/*
 * 9: wp of pages never mapped, then a read fault: the read does not trap,
 * maps nothing writable, and neither it nor fault-around loses the wp state
 * of the neighbours.
 */
static bool t_read_fault(struct env *e, enum uffd_mem mem)
{
	size_t i;

	if (!(setup(e, mem, UFFDIO_REGISTER_MODE_WP, true, true) && protect_all(e)))
		return false;
	if (!page_is(e, 1, pattern(1)) || e->h.wp_faults)
		return fail(e, "read of page 1 raised %lu faults", e->h.wp_faults);
	for (i = 0; i < NPAGES; i++)
		if (!wp_bit_is(e, i, true, "after read fault"))
			return false;
	for (i = 0; i < NPAGES; i++)
		if (!write_traps(e, i, 1))
			return false;
	return e->h.unexpected == 0;
}

struct scenario {
	int nr;		/* in shared/SCENARIOS.md */
	const char *name;
	bool (*run)(struct env *e, enum uffd_mem mem);
	bool anon;	/* applies to anonymous memory */
};

static const struct scenario scenarios[] = {
	{ 1, "dontneed keeps wp", t_dontneed, false },
	{ 15, "un-protect removes marker", t_unprotect, false },
	{ 13, "unregister clears wp", t_unregister, true },
	{ 13, "close clears wp", t_close, true },
	{ 14, "munmap drops markers", t_munmap, true },
	{ 8, "mprotect keeps wp", t_mprotect, true },
	{ 8, "copy_wp then mprotect traps", t_copy_wp_mprotect, true },
	{ 9, "read fault keeps wp", t_read_fault, false },
};

int main(void)
{
	size_t s;
	int mem;

	claims = uffd_claims_of_kernel();
	ksft_print_header();
	ksft_set_plan(MEM_NR * sizeof(scenarios) / sizeof(scenarios[0]));
	for (s = 0; s < sizeof(scenarios) / sizeof(scenarios[0]); s++) {
		for (mem = 0; mem < MEM_NR; mem++) {
			const char *name = uffd_mem_names[mem];
			struct env e;

			if (mem == MEM_ANON && !scenarios[s].anon) {
				ksft_test_result_skip("%d %s %s: not applicable to anon\n",
						      scenarios[s].nr, scenarios[s].name, name);
				continue;
			}
			if (!(claims->modes[mem] & CLAIM_WP)) {
				ksft_test_result_skip("%d %s %s: '%s' claims no wp on %s\n",
						      scenarios[s].nr, scenarios[s].name, name,
						      claims->ref, name);
				continue;
			}
			if (scenarios[s].run(&e, mem))
				ksft_test_result_pass("%d %s %s\n", scenarios[s].nr,
						      scenarios[s].name, name);
			else if (claims->known_broken & SCENARIO(scenarios[s].nr))
				ksft_test_result_xfail("%d %s %s: known broken on '%s': %s\n",
						       scenarios[s].nr, scenarios[s].name, name,
						       claims->ref, e.why[0] ? e.why : "unexpected faults");
			else
				ksft_test_result_fail("%d %s %s: %s\n", scenarios[s].nr,
						      scenarios[s].name, name,
						      e.why[0] ? e.why : "unexpected faults");
			teardown(&e);
		}
	}
	return ksft_get_fail_cnt() ? ksft_exit_fail() : ksft_exit_pass();
}
