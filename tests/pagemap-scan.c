// SPDX-License-Identifier: GPL-2.0
/*
 * The PAGEMAP_SCAN ioctl of /proc/PID/pagemap (mainline 6.7), held to what
 * mainline 6.12 does: the errno of every argument out of range (6.12's
 * pagemap_scan_get_args() and do_pagemap_scan()), and what its own
 * selftest (pagemap_ioctl) leaves out: walk_end when the vector or
 * max_pages stops the walk, how regions merge, the categories of a
 * swapped page, the zero pages, file pages, a THP and hugetlb pages,
 * PM_SCAN_CHECK_WPASYNC and PM_SCAN_WP_MATCHING on ranges without
 * WP_ASYNC, another process's pagemap, and the atomic write tracking of
 * PM_SCAN_WP_MATCHING on anon, shmem, hugetlbfs and a THP.
 *
 * A kernel that does not claim PAGEMAP_SCAN (uffd-claims.h) skips, and
 * fails if /proc/PID/pagemap takes the ioctl nonetheless (5.10: ENOTTY).
 */
#include "uffd-test.h"

#include <signal.h>

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif

/* TASK_SIZE_MAX: uffd-test.h */
#ifdef __aarch64__
#define ARCH_SOFT_DIRTY	0	/* no CONFIG_MEM_SOFT_DIRTY on arm64 */
#else
#define ARCH_SOFT_DIRTY	PAGE_IS_SOFT_DIRTY
#endif
#define KERNEL_ADDR	0xffff888000000000UL
#define UNWRITTEN	0x5a5a5a5aUL

#define NPAGES 8
#define THP_PAGES 512
#define ALL_CATEGORIES	0xffULL
/* The categories a page has by itself (not its vma's, not soft-dirty) */
#define PAGE_CATS	(PAGE_IS_PRESENT | PAGE_IS_SWAPPED | PAGE_IS_FILE | \
			 PAGE_IS_PFNZERO | PAGE_IS_HUGE)

static const struct uffd_claims *claims;
static size_t psize;

struct env {
	enum uffd_mem mem;
	size_t page, len, npages;
	char *p;
	int mfd;
	int uffd;
	struct verdict v;
};

static char *pg(struct env *e, size_t i)
{
	return e->p + i * e->page;
}

/* PAGEMAP_SCAN with the raw argument; its result or -errno. */
static long scan_raw(int fd, void *arg)
{
	long r = ioctl(fd, PAGEMAP_SCAN, arg);

	return r < 0 ? -errno : r;
}

static const char *err_name(long r)
{
	return r < 0 ? strerror(-r) : "success";
}

/* An argument over [e->p, +len) with the vector and masks given. */
static struct pm_scan_arg scan_arg(struct env *e, size_t len, struct page_region *vec,
				   size_t vec_len, uint64_t mask, uint64_t ret_mask)
{
	return (struct pm_scan_arg){
		.size = sizeof(struct pm_scan_arg),
		.start = (unsigned long)e->p, .end = (unsigned long)e->p + len,
		.walk_end = UNWRITTEN,
		.vec = (unsigned long)vec, .vec_len = vec_len,
		.category_mask = mask, .return_mask = ret_mask,
	};
}

/* An expected region: pages [from, to) of e (in e->page units), categories. */
struct want {
	size_t from, to;
	uint64_t cat;
};

/* The n regions of vec are exactly want[0..nw). */
static bool regions_are(struct env *e, const char *what, const struct page_region *vec,
			long n, const struct want *want, long nw)
{
	unsigned long base = (unsigned long)e->p;
	long i;

	if (n < 0)
		return fail(e, "%s: PAGEMAP_SCAN: %s", what, strerror(-n));
	for (i = 0; i < n || i < nw; i++) {
		if (i >= n)
			return fail(e, "%s: %ld regions, expected %ld (missing pages %zu-%zu"
				    " categories 0x%llx)", what, n, nw, want[i].from, want[i].to,
				    (unsigned long long)want[i].cat);
		if (i >= nw || vec[i].start != base + want[i].from * e->page ||
		    vec[i].end != base + want[i].to * e->page || vec[i].categories != want[i].cat)
			return fail(e, "%s: region %ld is pages %lld-%lld categories 0x%llx;"
				    " expected %s%zu-%zu 0x%llx", what, i,
				    (long long)((long long)(vec[i].start - base) / (long long)e->page),
				    (long long)((long long)(vec[i].end - base) / (long long)e->page),
				    (unsigned long long)vec[i].categories,
				    i >= nw ? "none, not " : "", i < nw ? want[i].from : 0,
				    i < nw ? want[i].to : 0,
				    (unsigned long long)(i < nw ? want[i].cat : 0));
	}
	return true;
}

/* Scan with a, and the regions are exactly want. */
static bool scan_is(struct env *e, const char *what, struct pm_scan_arg *a,
		    const struct want *want, long nw)
{
	long n = scan_raw(pagemap_fd(), a);

	return regions_are(e, what, (struct page_region *)(unsigned long)a->vec, n, want, nw);
}

#define WANT(...)	((const struct want[]){ __VA_ARGS__ })
#define NWANT(...)	(long)(sizeof((const struct want[]){ __VA_ARGS__ }) / sizeof(struct want))
#define SCAN_IS(e, what, a, ...)	scan_is(e, what, a, WANT(__VA_ARGS__), NWANT(__VA_ARGS__))
#define SCAN_NONE(e, what, a)		scan_is(e, what, a, NULL, 0)

/* walk_end is w pages past e->p. */
static bool walk_end_is(struct env *e, const char *what, const struct pm_scan_arg *a, size_t w)
{
	if (a->walk_end != (unsigned long)e->p + w * e->page)
		return fail(e, "%s: walk_end is 0x%llx (page %lld), expected page %zu", what,
			    (unsigned long long)a->walk_end,
			    (long long)((long long)(a->walk_end - (unsigned long)e->p) /
					(long long)e->page), w);
	return true;
}

/* Map n pages of anon memory; write the pages of `write`, read those of `read`. */
static bool map_anon(struct env *e, size_t n, uint64_t write, uint64_t read)
{
	size_t i;

	memset(e, 0, sizeof(*e));
	e->uffd = -1;
	e->mfd = -1;
	e->page = psize;
	e->npages = n;
	e->len = n * psize;
	e->p = mmap(NULL, e->len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (e->p == MAP_FAILED) {
		e->p = NULL;
		return fail(e, "mmap: %s", strerror(errno));
	}
	/* no THP: the tests want 4K ptes */
	madvise(e->p, e->len, MADV_NOHUGEPAGE);
	for (i = 0; i < n && i < 64; i++) {
		if (write & (1ULL << i))
			memset(pg(e, i), 'a' + i, psize);
		else if (read & (1ULL << i))
			(void)*(volatile char *)pg(e, i);
	}
	return true;
}

static void teardown(struct env *e)
{
	if (e->uffd >= 0)
		close(e->uffd);
	e->uffd = -1;
	if (e->p)
		mem_unmap(e->p, e->len, e->mfd);
	else if (e->mfd >= 0)
		close(e->mfd);
	e->p = NULL;
	e->mfd = -1;
}

/* PAGEMAP_SCAN with a returns -err; walk_end left alone if untouched. */
static bool expect_err(struct env *e, const char *what, struct pm_scan_arg *a, long err,
		       bool untouched)
{
	long r = scan_raw(pagemap_fd(), a);

	if (r != -err)
		return fail(e, "%s: PAGEMAP_SCAN: %s (%ld), expected %s", what, err_name(r), r,
			    err_name(-err));
	if (untouched && a->walk_end != UNWRITTEN)
		return fail(e, "%s: walk_end written (0x%llx)", what,
			    (unsigned long long)a->walk_end);
	return true;
}

/* The category masks of a, by number (for the table of errors). */
static __u64 *mask_field(struct pm_scan_arg *a, int i)
{
	switch (i) {
	case 0:
		return &a->category_inverted;
	case 1:
		return &a->category_mask;
	case 2:
		return &a->category_anyof_mask;
	default:
		return &a->return_mask;
	}
}

/*
 * Each field out of range, with 6.12's errno: the copy of the argument
 * (EFAULT), its size, flags and the four category masks (EINVAL), start
 * aligned (EINVAL), [start, end) and the vector within the user address
 * space as access_ok() sees it (EFAULT: end below start, beyond
 * TASK_SIZE_MAX, a kernel address, a vector length whose size overflows),
 * a vector length without a vector (EINVAL); none of these write walk_end.
 * The vector itself is written only when there is something to write.
 */
static bool t_errors(struct env *e)
{
	static const char *const masks[] = {
		"category_inverted", "category_mask", "category_anyof_mask", "return_mask",
	};
	struct page_region vec[NPAGES];
	struct pm_scan_arg a, *guard;
	char *two, *ro;
	int i, b;

	if (!map_anon(e, NPAGES, 0x0f, 0))
		return false;
#define CASE(what, field, value, err)						\
	do {									\
		a = scan_arg(e, e->len, vec, NPAGES, 0, PAGE_IS_PRESENT);	\
		a.field = (value);						\
		if (!expect_err(e, what, &a, err, true))			\
			return false;						\
	} while (0)
	a = scan_arg(e, e->len, vec, NPAGES, 0, PAGE_IS_PRESENT);
	if (!SCAN_IS(e, "valid", &a, { 0, 4, PAGE_IS_PRESENT }, { 4, 8, 0 }))
		return false;
	if (scan_raw(pagemap_fd(), NULL) != -EFAULT)
		return fail(e, "NULL argument: not EFAULT");
	/* an argument that runs into an inaccessible page */
	two = mmap(NULL, 2 * psize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (two == MAP_FAILED)
		return fail(e, "mmap: %s", strerror(errno));
	mprotect(two + psize, psize, PROT_NONE);
	guard = (struct pm_scan_arg *)(two + psize - 16);
	b = scan_raw(pagemap_fd(), guard);
	munmap(two, 2 * psize);
	if (b != -EFAULT)
		return fail(e, "argument running into a PROT_NONE page: %s, expected EFAULT",
			    err_name(b));
	CASE("size 0", size, 0, EINVAL);
	CASE("size 8 short", size, sizeof(a) - 8, EINVAL);
	CASE("size 8 long", size, sizeof(a) + 8, EINVAL);
	CASE("flags bit 2", flags, 1 << 2, EINVAL);
	CASE("flags bit 63", flags, 1ULL << 63, EINVAL);
	for (i = 0; i < 4; i++) {
		for (b = 8; b < 64; b += 55) {
			char what[64];

			snprintf(what, sizeof(what), "%s bit %d", masks[i], b);
			a = scan_arg(e, e->len, vec, NPAGES, 0, PAGE_IS_PRESENT);
			*mask_field(&a, i) = 1ULL << b;
			if (!expect_err(e, what, &a, EINVAL, true))
				return false;
		}
	}
	CASE("start not page aligned", start, (unsigned long)e->p + 1, EINVAL);
	CASE("end below start", end, (unsigned long)e->p - psize, EFAULT);
	CASE("end beyond TASK_SIZE_MAX", end, TASK_SIZE_MAX + 1, EFAULT);
#ifndef __aarch64__	/* arm64: the end of the address space is TASK_SIZE_MAX */
	CASE("end 1 << 47", end, USER_VA_END, EFAULT);
#endif
	CASE("end -1", end, ~0UL, EFAULT);
	a = scan_arg(e, e->len, vec, NPAGES, 0, PAGE_IS_PRESENT);
	a.start = KERNEL_ADDR;
	a.end = KERNEL_ADDR + psize;
	if (!expect_err(e, "start in kernel space", &a, EFAULT, true))
		return false;
	CASE("vec NULL with vec_len 1", vec, 0, EINVAL);
	CASE("vec a kernel address", vec, KERNEL_ADDR, EFAULT);
	CASE("vec_len * 24 overflows", vec_len, ~0ULL / sizeof(struct page_region) + 1, EFAULT);
	CASE("vec_len beyond TASK_SIZE_MAX", vec_len, TASK_SIZE_MAX / sizeof(struct page_region),
	     EFAULT);
#undef CASE
	/* what is valid: an empty range at the top, a NULL vector, no vector */
	a = scan_arg(e, 0, vec, NPAGES, 0, PAGE_IS_PRESENT);
	a.start = a.end = TASK_SIZE_MAX;
	if (scan_raw(pagemap_fd(), &a) != 0 || a.walk_end != TASK_SIZE_MAX)
		return fail(e, "empty range at TASK_SIZE_MAX: not 0 with walk_end there");
	a = scan_arg(e, e->len, NULL, 0, 0, PAGE_IS_PRESENT);
	if (scan_raw(pagemap_fd(), &a) != 0 || !walk_end_is(e, "NULL vec", &a, NPAGES))
		return fail(e, "NULL vector, vec_len 0: not 0 with walk_end at end");
	a = scan_arg(e, e->len, vec, 0, 0, PAGE_IS_PRESENT);
	if (scan_raw(pagemap_fd(), &a) != 0 || !walk_end_is(e, "vec_len 0", &a, NPAGES))
		return fail(e, "vec_len 0: not 0 with walk_end at end");
	/* end rounded up to a page: walk_end says so */
	a = scan_arg(e, 4 * psize + 1, vec, NPAGES, 0, PAGE_IS_PRESENT);
	if (!SCAN_IS(e, "end not page aligned", &a, { 0, 4, PAGE_IS_PRESENT }, { 4, 5, 0 }) ||
	    !walk_end_is(e, "end not page aligned", &a, 5))
		return false;
	/* a vector in unmapped or read-only memory: EFAULT once written to */
	ro = mmap(NULL, psize, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	two = mmap(NULL, psize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ro == MAP_FAILED || two == MAP_FAILED)
		return fail(e, "mmap: %s", strerror(errno));
	munmap(two, psize);
	a = scan_arg(e, e->len, (struct page_region *)two, NPAGES, 0, PAGE_IS_PRESENT);
	b = expect_err(e, "vec unmapped", &a, EFAULT, false);
	a = scan_arg(e, e->len, (struct page_region *)ro, NPAGES, 0, PAGE_IS_PRESENT);
	b = b && expect_err(e, "vec read-only", &a, EFAULT, false);
	a = scan_arg(e, e->len, (struct page_region *)two, NPAGES, PAGE_IS_SWAPPED,
		     PAGE_IS_PRESENT);
	b = b && expect_err(e, "vec unmapped, nothing found", &a, 0, false);
	munmap(ro, psize);
	if (!b)
		return false;
	/* another ioctl number of the same size */
	a = scan_arg(e, e->len, vec, NPAGES, 0, PAGE_IS_PRESENT);
	b = ioctl(pagemap_fd(), _IOWR('f', 17, struct pm_scan_arg), &a) ? -errno : 0;
	if (b != -EINVAL)
		return fail(e, "ioctl 17 on pagemap: %s, expected EINVAL", err_name(b));
	return true;
}

/*
 * The walk stops early when the vector is full (walk_end: the first page
 * not reported) or max_pages are reported (walk_end: the first page past
 * them, inside a region if need be); adjacent pages of the same categories
 * take one vector entry, however many; max_pages means nothing without a
 * vector.
 */
static bool t_walk_end(struct env *e)
{
	struct page_region vec[NPAGES];
	struct pm_scan_arg a;

	if (!map_anon(e, NPAGES, 0x55, 0))
		return false;
	a = scan_arg(e, e->len, vec, 2, PAGE_IS_PRESENT, PAGE_IS_PRESENT);
	if (!SCAN_IS(e, "vec_len 2", &a, { 0, 1, PAGE_IS_PRESENT }, { 2, 3, PAGE_IS_PRESENT }) ||
	    !walk_end_is(e, "vec_len 2", &a, 4))
		return false;
	a = scan_arg(e, e->len, vec, NPAGES, PAGE_IS_PRESENT, PAGE_IS_PRESENT);
	a.max_pages = 3;
	if (!SCAN_IS(e, "max_pages 3", &a, { 0, 1, PAGE_IS_PRESENT }, { 2, 3, PAGE_IS_PRESENT },
		     { 4, 5, PAGE_IS_PRESENT }) ||
	    !walk_end_is(e, "max_pages 3", &a, 6))
		return false;
	a = scan_arg(e, e->len, vec, NPAGES, PAGE_IS_PRESENT, PAGE_IS_PRESENT);
	if (!SCAN_IS(e, "whole", &a, { 0, 1, PAGE_IS_PRESENT }, { 2, 3, PAGE_IS_PRESENT },
		     { 4, 5, PAGE_IS_PRESENT }, { 6, 7, PAGE_IS_PRESENT }) ||
	    !walk_end_is(e, "whole", &a, NPAGES))
		return false;
	/* contiguous: one entry; max_pages cuts it */
	memset(e->p, 'x', e->len);
	a = scan_arg(e, e->len, vec, 1, PAGE_IS_PRESENT, PAGE_IS_PRESENT);
	if (!SCAN_IS(e, "8 pages, vec_len 1", &a, { 0, 8, PAGE_IS_PRESENT }) ||
	    !walk_end_is(e, "8 pages, vec_len 1", &a, NPAGES))
		return false;
	a = scan_arg(e, e->len, vec, NPAGES, PAGE_IS_PRESENT, PAGE_IS_PRESENT);
	a.max_pages = 2;
	if (!SCAN_IS(e, "8 pages, max_pages 2", &a, { 0, 2, PAGE_IS_PRESENT }) ||
	    !walk_end_is(e, "8 pages, max_pages 2", &a, 2))
		return false;
	a = scan_arg(e, e->len, NULL, 0, PAGE_IS_PRESENT, PAGE_IS_PRESENT);
	a.max_pages = 2;
	if (scan_raw(pagemap_fd(), &a) != 0 || !walk_end_is(e, "max_pages, no vector", &a, NPAGES))
		return fail(e, "max_pages without a vector: not 0 with walk_end at end");
	return true;
}

/*
 * Regions: adjacent pages merge when their reported categories (after
 * return_mask) are equal, across vmas too; category_mask, _anyof_mask and
 * _inverted choose the pages.
 */
static bool t_merge(struct env *e)
{
	struct page_region vec[NPAGES];
	const uint64_t P = PAGE_IS_PRESENT, Z = PAGE_IS_PFNZERO;
	struct pm_scan_arg a;

	/* 0-1 and 4-5 written, 2-3 read (the zero page), 6-7 untouched */
	if (!map_anon(e, NPAGES, 0x33, 0x0c))
		return false;
	a = scan_arg(e, e->len, vec, NPAGES, 0, P | Z);
	if (!SCAN_IS(e, "present|pfnzero", &a, { 0, 2, P }, { 2, 4, P | Z }, { 4, 6, P },
		     { 6, 8, 0 }))
		return false;
	a = scan_arg(e, e->len, vec, NPAGES, 0, P);
	if (!SCAN_IS(e, "present", &a, { 0, 6, P }, { 6, 8, 0 }))
		return false;
	a = scan_arg(e, e->len, vec, NPAGES, P, 0);
	if (!SCAN_IS(e, "mask present, return nothing", &a, { 0, 6, 0 }))
		return false;
	a = scan_arg(e, e->len, vec, NPAGES, P | Z, P | Z);
	if (!SCAN_IS(e, "mask present|pfnzero", &a, { 2, 4, P | Z }))
		return false;
	a = scan_arg(e, e->len, vec, NPAGES, P, P);
	a.category_inverted = P;
	if (!SCAN_IS(e, "inverted present", &a, { 6, 8, 0 }))
		return false;
	a = scan_arg(e, e->len, vec, NPAGES, 0, Z);
	a.category_anyof_mask = Z | PAGE_IS_SWAPPED;
	if (!SCAN_IS(e, "anyof pfnzero|swapped", &a, { 2, 4, Z }))
		return false;
	a = scan_arg(e, e->len, vec, NPAGES, 0, P);
	a.category_inverted = Z;
	a.category_mask = Z;
	if (!SCAN_IS(e, "mask and inverted pfnzero", &a, { 0, 2, P }, { 4, 6, P }, { 6, 8, 0 }))
		return false;
	/* two vmas (pages 4-7 read-only): one region across them */
	if (mprotect(pg(e, 4), 4 * psize, PROT_READ))
		return fail(e, "mprotect: %s", strerror(errno));
	a = scan_arg(e, e->len, vec, NPAGES, P, P);
	return SCAN_IS(e, "across two vmas", &a, { 0, 6, P });
}

/* MADV_PAGEOUT of pages [i, i+n) until none of them is mapped. */
static bool page_out(struct env *e, size_t i, size_t n)
{
	int tries;
	size_t k;

	for (tries = 0; tries < 10; tries++) {
		bool out = true;

		lru_drain_all();
		if (madvise(pg(e, i), n * e->page, MADV_PAGEOUT))
			return fail(e, "MADV_PAGEOUT: %s", strerror(errno));
		for (k = i; k < i + n; k++)
			out &= !(pagemap(pg(e, k)) & PM_PRESENT);
		if (out)
			return true;
		usleep(10000);
	}
	return fail(e, "pages still mapped after MADV_PAGEOUT");
}

/*
 * A paged-out anonymous page is PAGE_IS_SWAPPED (and not FILE); a paged-out
 * shmem page is not: its pte is empty and the swap entry in the file.
 */
static bool t_swapped(struct env *e)
{
	struct page_region vec[NPAGES];
	struct pm_scan_arg a;
	bool ok;

	if (meminfo("SwapTotal") <= 0)
		return skip(e, "no swap in this guest");
	if (!map_anon(e, 4, 0x0f, 0) || !page_out(e, 1, 2))
		return false;
	a = scan_arg(e, e->len, vec, NPAGES, 0, PAGE_CATS);
	if (!SCAN_IS(e, "anon", &a, { 0, 1, PAGE_IS_PRESENT }, { 1, 3, PAGE_IS_SWAPPED },
		     { 3, 4, PAGE_IS_PRESENT }))
		return false;
	/*
	 * swapped pages are written (not uffd-wp), soft-dirty (a new vma)
	 * where the architecture has soft-dirty (x86; arm64 has none)
	 */
	a = scan_arg(e, e->len, vec, NPAGES, PAGE_IS_SWAPPED, ALL_CATEGORIES);
	if (!SCAN_IS(e, "anon, all categories", &a,
		     { 1, 3, PAGE_IS_SWAPPED | PAGE_IS_WRITTEN | ARCH_SOFT_DIRTY }))
		return false;
	teardown(e);
	e->page = psize;
	e->npages = 4;
	e->len = 4 * psize;
	e->mem = MEM_SHMEM;
	e->p = mem_map(MEM_SHMEM, e->len, &e->mfd);
	if (e->p == MAP_FAILED) {
		e->p = NULL;
		return fail(e, "mmap: %s", strerror(errno));
	}
	memset(e->p, 's', e->len);
	if (!page_out(e, 1, 2))
		return false;
	a = scan_arg(e, e->len, vec, NPAGES, 0, PAGE_CATS);
	ok = SCAN_IS(e, "shmem", &a, { 0, 1, PAGE_IS_PRESENT | PAGE_IS_FILE }, { 1, 3, 0 },
		     { 3, 4, PAGE_IS_PRESENT | PAGE_IS_FILE });
	if (ok && smaps_kb(e->p, "Swap") < 8)
		return fail(e, "shmem: %ld kB in swap, expected 8", smaps_kb(e->p, "Swap"));
	return ok;
}

/* A 2 MiB-aligned anon range, THP allowed. */
static bool map_thp(struct env *e)
{
	memset(e, 0, sizeof(*e));
	e->uffd = -1;
	e->mfd = -1;
	e->page = psize;
	e->npages = THP_PAGES;
	e->len = HPAGE_SIZE;
	e->p = map_thp_range();
	if (e->p == MAP_FAILED) {
		e->p = NULL;
		return fail(e, "mmap: %s", strerror(errno));
	}
	return true;
}

/*
 * The zero page is PRESENT|PFNZERO, not FILE; the huge zero page (a read of
 * a THP-sized range, use_zero_page on) PRESENT|PFNZERO|HUGE, and a THP
 * PRESENT|HUGE, one region each.
 */
static bool t_zero_thp(struct env *e)
{
	struct page_region vec[NPAGES];
	struct pm_scan_arg a;
	char use_zero[16] = "";
	size_t i;

	if (!map_anon(e, 2, 0x01, 0x02))
		return false;
	a = scan_arg(e, e->len, vec, NPAGES, 0, PAGE_CATS);
	if (!SCAN_IS(e, "zero page", &a, { 0, 1, PAGE_IS_PRESENT },
		     { 1, 2, PAGE_IS_PRESENT | PAGE_IS_PFNZERO }))
		return false;
	teardown(e);
	knob("/sys/kernel/mm/transparent_hugepage/use_zero_page", NULL, use_zero, sizeof(use_zero));
	if (!map_thp(e))
		return false;
	(void)*(volatile char *)e->p;
	a = scan_arg(e, e->len, vec, NPAGES, 0, PAGE_CATS);
	if (use_zero[0] != '1')
		ksft_print_msg("huge zero page not tested: use_zero_page is '%s'\n", use_zero);
	else if (!SCAN_IS(e, "huge zero page", &a,
			  { 0, THP_PAGES, PAGE_IS_PRESENT | PAGE_IS_PFNZERO | PAGE_IS_HUGE }))
		return false;
	/* a write to the huge zero page splits it: a THP needs a new range */
	teardown(e);
	if (!map_thp(e))
		return false;
	for (i = 0; i < THP_PAGES; i++)
		memset(pg(e, i), 't', psize);
	if (smaps_kb(e->p, "AnonHugePages") != 2048)
		return skip(e, "no THP (AnonHugePages of the range is not 2048 kB)");
	a = scan_arg(e, e->len, vec, NPAGES, 0, PAGE_CATS);
	return SCAN_IS(e, "THP", &a, { 0, THP_PAGES, PAGE_IS_PRESENT | PAGE_IS_HUGE });
}

/*
 * File pages: a shared shmem page is PRESENT|FILE; in a private mapping a
 * page read is the file's (FILE), a page written an anonymous copy.
 */
static bool t_file(struct env *e)
{
	const uint64_t PF = PAGE_IS_PRESENT | PAGE_IS_FILE;
	struct page_region vec[NPAGES];
	struct pm_scan_arg a;
	char *priv;

	memset(e, 0, sizeof(*e));
	e->uffd = -1;
	e->page = psize;
	e->npages = 4;
	e->len = 4 * psize;
	e->p = mem_map(MEM_SHMEM, e->len, &e->mfd);
	if (e->p == MAP_FAILED) {
		e->p = NULL;
		return fail(e, "mmap: %s", strerror(errno));
	}
	memset(e->p, 'f', 2 * psize);
	a = scan_arg(e, e->len, vec, NPAGES, 0, PAGE_CATS);
	if (!SCAN_IS(e, "shared", &a, { 0, 2, PF }, { 2, 4, 0 }))
		return false;
	priv = mmap(NULL, e->len, PROT_READ | PROT_WRITE, MAP_PRIVATE, e->mfd, 0);
	if (priv == MAP_FAILED)
		return fail(e, "mmap: %s", strerror(errno));
	munmap(e->p, e->len);
	e->p = priv;
	(void)*(volatile char *)pg(e, 0);
	pg(e, 1)[0] = 'w';
	a = scan_arg(e, e->len, vec, NPAGES, 0, PAGE_CATS);
	return SCAN_IS(e, "private", &a, { 0, 1, PF }, { 1, 2, PAGE_IS_PRESENT }, { 2, 4, 0 });
}

/*
 * hugetlb: every page PAGE_IS_HUGE.  In a shared mapping every page is
 * FILE.  In a private one, a page written is an anonymous copy, a page of
 * the file only read is FILE, and a hole read is an anonymous page of
 * zeros (6.12's hugetlb_no_page() puts nothing in the file for it).
 */
static bool t_hugetlb(struct env *e)
{
	const uint64_t PH = PAGE_IS_PRESENT | PAGE_IS_HUGE;
	struct page_region vec[NPAGES];
	struct pm_scan_arg a;
	enum uffd_mem mem;
	char *f;

	for (mem = MEM_HUGETLB; mem <= MEM_HUGETLB_PRIVATE; mem++) {
		memset(e, 0, sizeof(*e));
		e->uffd = -1;
		e->mem = mem;
		e->page = HPAGE_SIZE;
		e->npages = 3;
		e->len = 3 * HPAGE_SIZE;
		e->p = mem_map(mem, e->len, &e->mfd);
		if (e->p == MAP_FAILED) {
			e->p = NULL;
			return fail(e, "mmap: %s", strerror(errno));
		}
		f = mmap(NULL, HPAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, e->mfd, HPAGE_SIZE);
		if (f == MAP_FAILED)
			return fail(e, "mmap of the file: %s", strerror(errno));
		memset(f, 'f', HPAGE_SIZE);
		munmap(f, HPAGE_SIZE);
		memset(pg(e, 0), 'h', HPAGE_SIZE);
		(void)*(volatile char *)pg(e, 1);
		(void)*(volatile char *)pg(e, 2);
		a = scan_arg(e, e->len, vec, NPAGES, 0, PAGE_CATS);
		if (mem == MEM_HUGETLB ? !SCAN_IS(e, "shared", &a, { 0, 3, PH | PAGE_IS_FILE })
				       : !SCAN_IS(e, "private", &a, { 0, 1, PH },
						  { 1, 2, PH | PAGE_IS_FILE }, { 2, 3, PH }))
			return false;
		teardown(e);
	}
	return true;
}

/*
 * PM_SCAN_CHECK_WPASYNC on a vma without async wp: EPERM, with or without
 * PM_SCAN_WP_MATCHING, whether the vma is not registered or registered for
 * synchronous wp; PM_SCAN_WP_MATCHING alone passes over such a vma, which
 * it neither reports nor protects.  PAGE_IS_WPALLOWED marks the vmas of
 * async wp only.
 */
static bool t_check_wpasync(struct env *e)
{
	const uint64_t W = PAGE_IS_WRITTEN;
	struct page_region vec[NPAGES];
	struct pm_scan_arg a;
	int round, ret;

	if (!map_anon(e, NPAGES, 0xff, 0))
		return false;
	for (round = 0; round < 3; round++) {
		const char *what = round == 0 ? "unregistered" : round == 1 ? "sync wp"
										: "async wp";

		if (round) {
			e->uffd = uffd_open(round == 2 ? UFFD_FEATURE_WP_ASYNC : 0);
			ret = uffd_register(e->uffd, e->p, e->len, UFFDIO_REGISTER_MODE_WP, NULL);
			if (ret)
				return fail(e, "%s: UFFDIO_REGISTER: %s", what, strerror(-ret));
		}
		a = scan_arg(e, e->len, vec, NPAGES, 0, PAGE_IS_WPALLOWED);
		if (round == 2 ? !SCAN_IS(e, what, &a, { 0, 8, PAGE_IS_WPALLOWED })
			       : !SCAN_IS(e, what, &a, { 0, 8, 0 }))
			return false;
		if (round == 2)
			break;
		a = scan_arg(e, e->len, vec, NPAGES, W, W);
		a.flags = PM_SCAN_CHECK_WPASYNC;
		if (!expect_err(e, what, &a, EPERM, false))
			return false;
		a = scan_arg(e, e->len, vec, NPAGES, W, W);
		a.flags = PM_SCAN_CHECK_WPASYNC | PM_SCAN_WP_MATCHING;
		if (!expect_err(e, what, &a, EPERM, false))
			return false;
		a = scan_arg(e, e->len, vec, NPAGES, W, W);
		a.flags = PM_SCAN_WP_MATCHING;
		if (!SCAN_NONE(e, what, &a) || !walk_end_is(e, what, &a, NPAGES))
			return false;
		if (pagemap(pg(e, 0)) & PM_UFFD_WP)
			return fail(e, "%s: PM_SCAN_WP_MATCHING protected a page", what);
		if (round)
			close(e->uffd);
		e->uffd = -1;
	}
	return true;
}

/* This process's and another's pagemap; a process gone is ESRCH. */
static bool t_other_process(struct env *e)
{
	const uint64_t P = PAGE_IS_PRESENT;
	struct page_region vec[NPAGES];
	struct pm_scan_arg a;
	int p[2], q[2], fd;
	char path[64], c;
	bool ok;
	pid_t pid;

	if (!map_anon(e, NPAGES, 0x0f, 0))
		return false;
	if (pipe(p) || pipe(q))
		return fail(e, "pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		return fail(e, "fork: %s", strerror(errno));
	if (!pid) {
		pg(e, 6)[0] = 'c';
		if (write(p[1], "x", 1) != 1 || read(q[0], &c, 1) != 1)
			_exit(1);
		_exit(0);
	}
	snprintf(path, sizeof(path), "/proc/%d/pagemap", pid);
	fd = open(path, O_RDONLY);
	ok = fd >= 0 && read(p[0], &c, 1) == 1;
	a = scan_arg(e, e->len, vec, NPAGES, P, P);
	ok = ok && regions_are(e, "the child's pagemap", vec, scan_raw(fd, &a),
			       WANT({ 0, 4, P }, { 6, 7, P }), 2);
	a = scan_arg(e, e->len, vec, NPAGES, P, P);
	ok = ok && SCAN_IS(e, "ours", &a, { 0, 4, P });
	if (write(q[1], "x", 1) != 1)
		kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	a = scan_arg(e, e->len, vec, NPAGES, P, P);
	if (ok && scan_raw(fd, &a) != -ESRCH)
		ok = fail(e, "the pagemap of a process gone: not ESRCH");
	if (fd >= 0)
		close(fd);
	close(p[0]);
	close(p[1]);
	close(q[0]);
	close(q[1]);
	return ok;
}

/*
 * PM_SCAN_WP_MATCHING tracks writes atomically, on a range registered for
 * async wp (with PM_SCAN_CHECK_WPASYNC): each scan reports exactly the
 * pages written since the last one and protects them again.  The first
 * scan, without a vector, protects everything; a later scan over part of a
 * THP splits it and protects that part only.
 */
static bool written_are(struct env *e, const char *what, const bool *want)
{
	const uint64_t W = PAGE_IS_WRITTEN;
	struct page_region vec[64];
	struct pm_scan_arg a = scan_arg(e, e->len, vec, 64, W, W);
	struct want w[64];
	long nw = 0;
	size_t i;

	a.flags = PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC;
	for (i = 0; i < e->npages; i++) {
		if (!want[i])
			continue;
		if (nw && w[nw - 1].to == i)
			w[nw - 1].to++;
		else
			w[nw++] = (struct want){ i, i + 1, W };
	}
	return scan_is(e, what, &a, w, nw);
}

static bool write_pages(struct env *e, const bool *w, char c)
{
	size_t i;

	for (i = 0; i < e->npages; i++)
		if (w[i])
			memset(pg(e, i), c, e->page);
	return true;
}

static bool data_is(struct env *e, const bool *a, char ca, const bool *b, char cb, char other)
{
	size_t i, k;

	for (i = 0; i < e->npages; i++) {
		char c = b[i] ? cb : a[i] ? ca : other;

		for (k = 0; k < e->page; k += 512)
			if (pg(e, i)[k] != c)
				return fail(e, "page %zu byte %zu is 0x%02x, expected 0x%02x", i, k,
					    (unsigned char)pg(e, i)[k], (unsigned char)c);
	}
	return true;
}

static bool t_wp_matching(struct env *e, int kind)
{
	static bool none[THP_PAGES], wa[THP_PAGES], wb[THP_PAGES];
	bool thp = kind == MEM_NR;
	enum uffd_mem mem = thp ? MEM_ANON : (enum uffd_mem)kind;
	struct pm_scan_arg a;
	size_t i, n;
	long r;
	int ret;

	if (!(claims->features & FEAT(15)) || !(claims->modes[mem] & CLAIM_WP))
		return skip(e, "no async wp claimed");
	if (thp) {
		if (!map_thp(e))
			return false;
	} else {
		memset(e, 0, sizeof(*e));
		e->mem = mem;
		e->page = mem_page_size(mem);
		e->npages = NPAGES;
		e->len = NPAGES * e->page;
		e->p = mem_map(mem, e->len, &e->mfd);
		if (e->p == MAP_FAILED) {
			e->p = NULL;
			return fail(e, "mmap: %s", strerror(errno));
		}
	}
	n = e->npages;
	memset(none, 0, sizeof(none));
	memset(wa, 0, sizeof(wa));
	memset(wb, 0, sizeof(wb));
	memset(e->p, 'i', e->len);
	if (thp && smaps_kb(e->p, "AnonHugePages") != 2048)
		return skip(e, "no THP (AnonHugePages of the range is not 2048 kB)");
	e->uffd = uffd_open(UFFD_FEATURE_WP_ASYNC);
	ret = uffd_register(e->uffd, e->p, e->len, UFFDIO_REGISTER_MODE_WP, NULL);
	if (ret)
		return fail(e, "UFFDIO_REGISTER: %s", strerror(-ret));
	/* everything is written so far; protect it all, without a vector */
	a = scan_arg(e, e->len, NULL, 0, PAGE_IS_WRITTEN, PAGE_IS_WRITTEN);
	a.flags = PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC;
	r = scan_raw(pagemap_fd(), &a);
	if (r)
		return fail(e, "PM_SCAN_WP_MATCHING without a vector: %s (%ld)", err_name(r), r);
	for (i = 0; i < n; i++)
		if (!(pagemap(pg(e, i)) & PM_UFFD_WP))
			return fail(e, "page %zu not protected by PM_SCAN_WP_MATCHING", i);
	if (!written_are(e, "after protecting all", none))
		return false;
	wa[1] = wa[4] = wa[n - 1] = true;
	if (thp)
		wa[200] = true;
	write_pages(e, wa, 'A');
	if (!written_are(e, "after writes", wa) || !written_are(e, "after the rescan", none))
		return false;
	wb[0] = wb[4] = true;
	write_pages(e, wb, 'B');
	if (!written_are(e, "after more writes", wb) || !data_is(e, wa, 'A', wb, 'B', 'i'))
		return false;
	if (!thp)
		return true;
	/* a new THP, protected in its first half only */
	teardown(e);
	if (!map_thp(e))
		return false;
	memset(e->p, 'i', e->len);
	if (smaps_kb(e->p, "AnonHugePages") != 2048)
		return skip(e, "no second THP");
	e->uffd = uffd_open(UFFD_FEATURE_WP_ASYNC);
	ret = uffd_register(e->uffd, e->p, e->len, UFFDIO_REGISTER_MODE_WP, NULL);
	if (ret)
		return fail(e, "UFFDIO_REGISTER: %s", strerror(-ret));
	a = scan_arg(e, HPAGE_SIZE / 2, NULL, 0, PAGE_IS_WRITTEN, PAGE_IS_WRITTEN);
	a.flags = PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC;
	r = scan_raw(pagemap_fd(), &a);
	if (r)
		return fail(e, "PM_SCAN_WP_MATCHING of half a THP: %s (%ld)", err_name(r), r);
	if (smaps_kb(e->p, "AnonHugePages") != 0)
		return fail(e, "the THP is still PMD-mapped after a scan of half of it");
	memset(wa, 0, sizeof(wa));
	for (i = THP_PAGES / 2; i < THP_PAGES; i++)
		wa[i] = true;
	wa[10] = true;
	pg(e, 10)[0] = 'A';
	return written_are(e, "half protected", wa);
}

struct scenario {
	const char *name;
	bool (*run)(struct env *e);
	int wp_kind;	/* t_wp_matching's memory type (MEM_NR: THP), or -1 */
};

static const struct scenario scenarios[] = {
	{ .name = "errors", .run = t_errors, .wp_kind = -1 },
	{ .name = "walk_end when the vector or max_pages stops the walk", .run = t_walk_end,
	  .wp_kind = -1 },
	{ .name = "regions merge by reported categories, across vmas", .run = t_merge,
	  .wp_kind = -1 },
	{ .name = "swapped pages: anon SWAPPED, shmem not", .run = t_swapped, .wp_kind = -1 },
	{ .name = "zero page, huge zero page, THP", .run = t_zero_thp, .wp_kind = -1 },
	{ .name = "file pages, shared and private", .run = t_file, .wp_kind = -1 },
	{ .name = "hugetlb pages", .run = t_hugetlb, .wp_kind = -1 },
	{ .name = "CHECK_WPASYNC and WP_MATCHING without async wp", .run = t_check_wpasync,
	  .wp_kind = -1 },
	{ .name = "another process's pagemap, and one gone", .run = t_other_process,
	  .wp_kind = -1 },
	{ .name = "WP_MATCHING tracks writes: anon", .wp_kind = MEM_ANON },
	{ .name = "WP_MATCHING tracks writes: shmem", .wp_kind = MEM_SHMEM },
	{ .name = "WP_MATCHING tracks writes: shmem-private", .wp_kind = MEM_SHMEM_PRIVATE },
	{ .name = "WP_MATCHING tracks writes: hugetlb", .wp_kind = MEM_HUGETLB },
	{ .name = "WP_MATCHING tracks writes: hugetlb-private", .wp_kind = MEM_HUGETLB_PRIVATE },
	{ .name = "WP_MATCHING tracks writes: THP", .wp_kind = MEM_NR },
};

#define NR_SCENARIOS (sizeof(scenarios) / sizeof(scenarios[0]))

/*
 * The ioctl is there where, and only where, the kernel claims it: a valid
 * scan of one page succeeds, or the pagemap file has no ioctl (ENOTTY).
 */
static bool check_present(void)
{
	char *p = mmap(NULL, psize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct pm_scan_arg a = { .return_mask = PAGE_IS_PRESENT };
	long r = pm_scan(&a, p, psize);

	munmap(p, psize);
	check(claims->pagemap_scan ? r == 0 : r == -ENOTTY,
	      "PAGEMAP_SCAN %s, as '%s' claims (%s)", claims->pagemap_scan ? "works" : "is ENOTTY",
	      claims->ref, err_name(r));
	return claims->pagemap_scan;
}

int main(void)
{
	bool claimed;
	size_t s;

	claims = uffd_claims_of_kernel();
	psize = getpagesize();
	ksft_print_header();
	ksft_set_plan(1 + NR_SCENARIOS);
	claimed = check_present();
	for (s = 0; s < NR_SCENARIOS; s++) {
		const struct scenario *sc = &scenarios[s];
		struct env e;
		bool ok;

		if (!claimed) {
			ksft_test_result_skip("%s: '%s' claims no PAGEMAP_SCAN\n", sc->name,
					      claims->ref);
			continue;
		}
		memset(&e, 0, sizeof(e));
		e.uffd = e.mfd = -1;
		ok = sc->wp_kind >= 0 ? t_wp_matching(&e, sc->wp_kind) : sc->run(&e);
		verdict_report(&e.v, ok, 0, claims, sc->name);
		teardown(&e);
	}
	return ksft_get_fail_cnt() ? ksft_exit_fail() : ksft_exit_pass();
}
