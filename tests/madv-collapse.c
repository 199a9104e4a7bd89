// SPDX-License-Identifier: GPL-2.0
/*
 * MADV_COLLAPSE (Linux 6.1; mainline's uffd-unit-tests "minor-collapse" uses
 * it): what it collapses, what it must leave alone under a userfaultfd, and
 * its errnos.  Each check is one TAP line; every expectation is also met by
 * mainline (REF=mainline), except that 6.12 loses the writes to a pte-mapped
 * shmem THP that it collapses (36: XFAIL there; a later mainline fixed it).
 * A kernel that claims no MADV_COLLAPSE (the base) must answer EINVAL, and
 * the rest is skipped there.  RACE_SECONDS (20) bounds the race of 37.
 */
#include <setjmp.h>
#include <signal.h>
#include <sys/uio.h>

#include "uffd-test.h"

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif

#define THP_DIR "/sys/kernel/mm/transparent_hugepage/"
#define PAGES (HPAGE_SIZE / 4096)

static const struct uffd_claims *claims;
static size_t page;

struct env {
	struct verdict v;
	char *p;		/* HPAGE_SIZE, PMD-aligned */
	char *alias;		/* a second mapping of a file, or NULL */
	int fd;			/* the file, or -1 for anon */
	int uffd;
};

/* madvise(MADV_COLLAPSE): 0 or -errno */
static int collapse(void *p, size_t len)
{
	return madvise(p, len, MADV_COLLAPSE) ? -errno : 0;
}

static char byte_of(size_t i)
{
	return (char)(i * 7 + 1);
}

static void fill(char *p, size_t first, size_t n)
{
	size_t i;

	for (i = first; i < first + n; i++)
		memset(p + i * page, byte_of(i), page);
}

/* Page i of p holds its pattern (or zeroes when !filled) */
static bool page_is(struct env *e, const char *what, char *p, size_t i, bool filled)
{
	char want = filled ? byte_of(i) : 0;
	size_t j;

	for (j = 0; j < page; j++)
		if (p[i * page + j] != want)
			return fail(e, "%s: page %zu byte %zu is %d, not %d", what, i, j,
				    p[i * page + j], want);
	return true;
}

/*
 * A THP sysfs choice: set it, and put back the one saved from a read of
 * the knob ("always [madvise] never").
 */
static void thp_set(const char *name, const char *val, char *old, size_t sz)
{
	char path[128];

	snprintf(path, sizeof(path), THP_DIR "%s", name);
	knob(path, val, old, sz);
}

static void thp_restore(const char *name, char *old)
{
	char *cur = strchr(old, '['), *end;

	if (!cur)
		return;
	end = strchr(++cur, ']');
	if (end)
		*end = 0;
	thp_set(name, cur, NULL, 0);
}

static bool map_env(struct env *e, bool file, bool alias)
{
	if (file) {
		e->fd = memfd_create("collapse", 0);
		if (e->fd < 0 || ftruncate(e->fd, HPAGE_SIZE))
			return fail(e, "memfd: %s", strerror(errno));
	}
	e->p = map_aligned(HPAGE_SIZE, HPAGE_SIZE, file ? MAP_SHARED : MAP_PRIVATE, e->fd);
	if (e->p == MAP_FAILED)
		return fail(e, "mmap: %s", strerror(errno));
	if (alias) {
		e->alias = map_aligned(HPAGE_SIZE, HPAGE_SIZE, MAP_SHARED, e->fd);
		if (e->alias == MAP_FAILED)
			return fail(e, "mmap alias: %s", strerror(errno));
	}
	return true;
}

static void unmap_env(struct env *e)
{
	if (e->p && e->p != MAP_FAILED)
		munmap(e->p, HPAGE_SIZE);
	if (e->alias && e->alias != MAP_FAILED)
		munmap(e->alias, HPAGE_SIZE);
	if (e->fd >= 0)
		close(e->fd);
	if (e->uffd >= 0)
		close(e->uffd);
}

/* The vma of p maps all of its HPAGE_SIZE by one PMD */
static bool pmd_mapped(struct env *e, char *p, bool file)
{
	const char *field = file ? "ShmemPmdMapped" : "AnonHugePages";
	long kb = smaps_kb(p, field);

	if (kb != (long)(HPAGE_SIZE >> 10))
		return fail(e, "%s of the range is %ld kB, not %lu", field, kb,
			    HPAGE_SIZE >> 10);
	return true;
}

static bool not_pmd_mapped(struct env *e, char *p, bool file)
{
	const char *field = file ? "ShmemPmdMapped" : "AnonHugePages";
	long kb = smaps_kb(p, field);

	if (kb != 0)
		return fail(e, "%s of the range is %ld kB, not 0", field, kb);
	return true;
}

static bool expect(struct env *e, const char *what, int got, int want)
{
	if (got != want)
		return fail(e, "%s: MADV_COLLAPSE gave %s, not %s", what,
			    got ? strerror(-got) : "0", want ? strerror(-want) : "0");
	return true;
}

/* expect() of a collapse of e->p made with a THP knob set to val */
static bool collapse_with(struct env *e, const char *knob_name, const char *val,
			  const char *what, int want)
{
	char old[64];
	int r;

	thp_set(knob_name, val, old, sizeof(old));
	r = collapse(e->p, HPAGE_SIZE);
	if (strchr(old, '['))
		thp_restore(knob_name, old);
	else
		thp_set(knob_name, old, NULL, 0);
	return expect(e, what, r, want);
}

static bool register_uffd(struct env *e, char *p, uint64_t features, uint64_t mode)
{
	e->uffd = uffd_open(features);
	if (uffd_register(e->uffd, p, HPAGE_SIZE, mode, NULL))
		return fail(e, "UFFDIO_REGISTER: %s", strerror(errno));
	return true;
}

/* A read of p that raises SIGBUS (a userfault under UFFD_FEATURE_SIGBUS) */
static sigjmp_buf bus_jmp;

static void on_sigbus(int sig)
{
	siglongjmp(bus_jmp, 1);
}

static bool read_faults(volatile char *p)
{
	struct sigaction sa = { .sa_handler = on_sigbus }, old;
	bool faulted = false;

	sigaction(SIGBUS, &sa, &old);
	if (sigsetjmp(bus_jmp, 1))
		faulted = true;
	else
		(void)*p;
	sigaction(SIGBUS, &old, NULL);
	return faulted;
}

static bool t_anon_full(struct env *e)
{
	size_t i;

	if (!map_env(e, false, false))
		return false;
	fill(e->p, 0, PAGES);
	if (!not_pmd_mapped(e, e->p, false) ||
	    !expect(e, "populated", collapse(e->p, HPAGE_SIZE), 0) ||
	    !pmd_mapped(e, e->p, false))
		return false;
	for (i = 0; i < PAGES; i++)
		if (!page_is(e, "after collapse", e->p, i, true))
			return false;
	/* A THP already: nothing to do, success */
	return expect(e, "again", collapse(e->p, HPAGE_SIZE), 0);
}

static bool t_anon_sparse(struct env *e)
{
	size_t i;

	if (!map_env(e, false, false))
		return false;
	fill(e->p, 3, 1);
	/* khugepaged's limit does not apply */
	if (!collapse_with(e, "khugepaged/max_ptes_none", "0", "one page of 512", 0) ||
	    !pmd_mapped(e, e->p, false))
		return false;
	for (i = 0; i < PAGES; i++)
		if (!page_is(e, "after collapse", e->p, i, i == 3))
			return false;
	return true;
}

static bool t_anon_wp(struct env *e)
{
	if (!map_env(e, false, false))
		return false;
	fill(e->p, 0, PAGES);
	if (!register_uffd(e, e->p, 0, UFFDIO_REGISTER_MODE_WP))
		return false;
	if (uffd_wp(e->uffd, e->p + 5 * page, page, true))
		return fail(e, "UFFDIO_WRITEPROTECT: %s", strerror(errno));
	if (!expect(e, "a wp pte", collapse(e->p, HPAGE_SIZE), -EINVAL) ||
	    !not_pmd_mapped(e, e->p, false))
		return false;
	if (!(pagemap(e->p + 5 * page) & PM_UFFD_WP))
		return fail(e, "page 5 lost its uffd-wp bit");
	return page_is(e, "after collapse", e->p, 5, true);
}

static bool t_anon_missing(struct env *e)
{
	if (!map_env(e, false, false))
		return false;
	fill(e->p, 0, PAGES / 2);
	if (!register_uffd(e, e->p, UFFD_FEATURE_SIGBUS, UFFDIO_REGISTER_MODE_MISSING))
		return false;
	if (!expect(e, "holes under MISSING", collapse(e->p, HPAGE_SIZE), -EBUSY) ||
	    !not_pmd_mapped(e, e->p, false))
		return false;
	if (!read_faults(e->p + (PAGES - 1) * page))
		return fail(e, "a hole was filled: no missing fault");
	return page_is(e, "populated half", e->p, 0, true);
}

/*
 * MAP_PRIVATE of /dev/zero is anonymous memory that has a vm_file; its
 * file offset (one page here) does not have to fit a huge page.
 */
static bool t_devzero(struct env *e)
{
	int fd = open("/dev/zero", O_RDWR);
	size_t i;

	if (fd < 0)
		return skip(e, "no /dev/zero");
	e->p = map_aligned(HPAGE_SIZE, HPAGE_SIZE, MAP_PRIVATE, -1);
	if (e->p != MAP_FAILED)
		e->p = mmap(e->p, HPAGE_SIZE, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_FIXED, fd, page);
	close(fd);
	if (e->p == MAP_FAILED)
		return fail(e, "mmap /dev/zero: %s", strerror(errno));
	fill(e->p, 0, PAGES);
	if (!expect(e, "private /dev/zero", collapse(e->p, HPAGE_SIZE), 0) ||
	    !pmd_mapped(e, e->p, false))
		return false;
	for (i = 0; i < PAGES; i++)
		if (!page_is(e, "after collapse", e->p, i, true))
			return false;
	return true;
}

/*
 * Two PMDs, the first never touched (its pmd is empty): the walk stops
 * there with EINVAL and leaves the second alone, as mainline's does.
 */
static bool t_anon_empty_pmd(struct env *e)
{
	char *p = map_aligned(2 * HPAGE_SIZE, HPAGE_SIZE, MAP_PRIVATE, -1);
	bool ok;

	if (p == MAP_FAILED)
		return fail(e, "mmap: %s", strerror(errno));
	fill(p, PAGES, PAGES);
	ok = expect(e, "empty first PMD", collapse(p, 2 * HPAGE_SIZE), -EINVAL) &&
	     not_pmd_mapped(e, p, false);
	munmap(p, 2 * HPAGE_SIZE);
	return ok;
}

static bool t_shmem_full(struct env *e)
{
	size_t i;

	if (!map_env(e, true, true))
		return false;
	fill(e->p, 0, PAGES);
	/* shmem_enabled and the mount's huge= do not apply */
	if (!collapse_with(e, "shmem_enabled", "never", "populated", 0) ||
	    !pmd_mapped(e, e->p, true))
		return false;
	for (i = 0; i < PAGES; i++)
		if (!page_is(e, "after collapse", e->p, i, true) ||
		    !page_is(e, "other mapping", e->alias, i, true))
			return false;
	return expect(e, "again", collapse(e->p, HPAGE_SIZE), 0) &&
	       pmd_mapped(e, e->p, true);
}

static bool t_shmem_holes(struct env *e)
{
	size_t i;

	if (!map_env(e, true, false))
		return false;
	fill(e->p, 0, 1);
	fill(e->p, 300, 2);
	if (!expect(e, "3 pages of 512", collapse(e->p, HPAGE_SIZE), 0) ||
	    !pmd_mapped(e, e->p, true))
		return false;
	for (i = 0; i < PAGES; i++)
		if (!page_is(e, "after collapse", e->p, i, i == 0 || i == 300 || i == 301))
			return false;
	return true;
}

static bool t_shmem_missing(struct env *e)
{
	if (!map_env(e, true, true))
		return false;
	fill(e->alias, 0, 10);
	if (!register_uffd(e, e->p, UFFD_FEATURE_SIGBUS, UFFDIO_REGISTER_MODE_MISSING))
		return false;
	/* Collapse through the other mapping: the file's holes are the point */
	if (!expect(e, "holes under MISSING", collapse(e->alias, HPAGE_SIZE), -EBUSY) ||
	    !not_pmd_mapped(e, e->alias, true))
		return false;
	if (!read_faults(e->p + 100 * page))
		return fail(e, "a hole was filled: no missing fault");
	if (read_faults(e->p + 5 * page))
		return fail(e, "a populated page raised a missing fault");
	return page_is(e, "populated", e->p, 5, true);
}

static bool t_shmem_minor(struct env *e)
{
	struct uffdio_continue c = { .range = { 0, HPAGE_SIZE } };
	size_t i;

	if (!(claims->modes[MEM_SHMEM] & CLAIM_MINOR))
		return skip(e, "no minor faults on shmem");
	if (!map_env(e, true, true))
		return false;
	fill(e->alias, 0, PAGES);
	if (!register_uffd(e, e->p, UFFD_FEATURE_SIGBUS | UFFD_FEATURE_MINOR_SHMEM,
			   UFFDIO_REGISTER_MODE_MINOR))
		return false;
	/* Map every page as a CONTINUE after a minor fault would */
	c.range.start = (unsigned long)e->p;
	if (ioctl(e->uffd, UFFDIO_CONTINUE, &c))
		return fail(e, "UFFDIO_CONTINUE: %s", strerror(errno));
	if (!expect(e, "minor-registered", collapse(e->p, HPAGE_SIZE), 0) ||
	    !pmd_mapped(e, e->p, true))
		return false;
	/* Mapped by the PMD: no minor fault (which would be a SIGBUS here) */
	for (i = 0; i < PAGES; i++) {
		if (read_faults(e->p + i * page))
			return fail(e, "page %zu raised a minor fault after the collapse", i);
		if (!page_is(e, "after collapse", e->p, i, true))
			return false;
	}
	return true;
}

static bool t_shmem_wp(struct env *e)
{
	size_t i;

	if (!(claims->modes[MEM_SHMEM] & CLAIM_WP))
		return skip(e, "no wp on shmem");
	if (!map_env(e, true, false))
		return false;
	fill(e->p, 0, PAGES);
	if (!register_uffd(e, e->p, UFFD_FEATURE_WP_HUGETLBFS_SHMEM, UFFDIO_REGISTER_MODE_WP))
		return false;
	if (uffd_wp(e->uffd, e->p, HPAGE_SIZE, true))
		return fail(e, "UFFDIO_WRITEPROTECT: %s", strerror(errno));
	if (!expect(e, "write-protected", collapse(e->p, HPAGE_SIZE), -EINVAL) ||
	    !not_pmd_mapped(e, e->p, true))
		return false;
	for (i = 0; i < PAGES; i++)
		if (!(pagemap(e->p + i * page) & PM_UFFD_WP))
			return fail(e, "page %zu lost its uffd-wp protection", i);
	for (i = 0; i < PAGES; i += 37)
		if (!page_is(e, "after collapse", e->p, i, true))
			return false;
	return true;
}

static bool t_shmem_deny(struct env *e)
{
	if (!map_env(e, true, false))
		return false;
	fill(e->p, 0, PAGES);
	return collapse_with(e, "shmem_enabled", "deny", "shmem_enabled=deny", -EINVAL) &&
	       not_pmd_mapped(e, e->p, true);
}

static bool t_nohugepage(struct env *e)
{
	if (!map_env(e, false, false))
		return false;
	fill(e->p, 0, PAGES);
	if (madvise(e->p, HPAGE_SIZE, MADV_NOHUGEPAGE))
		return fail(e, "MADV_NOHUGEPAGE: %s", strerror(errno));
	return expect(e, "MADV_NOHUGEPAGE", collapse(e->p, HPAGE_SIZE), -EINVAL) &&
	       not_pmd_mapped(e, e->p, false);
}

static bool t_hugetlb(struct env *e)
{
	int fd = memfd_create("collapse-hugetlb", MFD_HUGETLB);
	char *p;
	int r;

	if (fd < 0 || ftruncate(fd, HPAGE_SIZE))
		return fail(e, "hugetlb memfd: %s", strerror(errno));
	p = mmap(NULL, HPAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		close(fd);
		return skip(e, "no huge page for a hugetlb mapping");
	}
	*p = 1;
	r = collapse(p, HPAGE_SIZE);
	munmap(p, HPAGE_SIZE);
	close(fd);
	return expect(e, "hugetlb", r, -EINVAL);
}

static bool t_ranges(struct env *e)
{
	char *hole;

	if (!map_env(e, false, false))
		return false;
	fill(e->p, 0, PAGES);
	if (!expect(e, "unaligned start", collapse(e->p + 1, page), -EINVAL) ||
	    !expect(e, "inside one PMD", collapse(e->p + page, page), -EINVAL) ||
	    !expect(e, "short of one PMD", collapse(e->p, page), 0) ||
	    !not_pmd_mapped(e, e->p, false))
		return false;
	/* A vma that cannot hold a huge page: EINVAL, even for a short range */
	munmap(e->p + page, HPAGE_SIZE - page);
	if (!expect(e, "vma of one page", collapse(e->p, page), -EINVAL))
		return false;
	hole = mmap(NULL, page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	munmap(hole, page);
	return expect(e, "unmapped", collapse(hole, page), -ENOMEM);
}

static bool t_process_madvise(struct env *e)
{
	struct iovec iov;
	int pidfd;
	long r;

	if (!map_env(e, false, false))
		return false;
	fill(e->p, 0, PAGES);
	pidfd = syscall(__NR_pidfd_open, getpid(), 0);
	if (pidfd < 0)
		return fail(e, "pidfd_open: %s", strerror(errno));
	iov.iov_base = e->p;
	iov.iov_len = HPAGE_SIZE;
	r = syscall(__NR_process_madvise, pidfd, &iov, 1, MADV_COLLAPSE, 0);
	close(pidfd);
	if (r != (long)HPAGE_SIZE)
		return fail(e, "process_madvise: %ld (%s)", r, r < 0 ? strerror(errno) : "short");
	return pmd_mapped(e, e->p, false);
}

static unsigned long thp_counter(const char *name)
{
	char v[32];

	thp_set(name, NULL, v, sizeof(v));
	return strtoul(v, NULL, 10);
}

/*
 * A memfd of HPAGE_SIZE mapped shared and PMD-aligned, 10 of its pages
 * written (small pages: shmem_enabled is "never" here) and, with @missing,
 * registered for missing faults.  Then khugepaged may collapse it
 * (shmem_enabled=force, max_ptes_none=511) for 3 full scans.  Returns
 * whether it did, that is whether the hole at page 100 is in the page
 * cache now (mincore() of shmem reports the file's pages), or -1 on a
 * setup failure.
 */
static int khugepaged_round(struct env *e, bool missing)
{
	unsigned long scans;
	unsigned char vec;
	char old[64];
	int i;

	if (!map_env(e, true, false))
		return -1;
	fill(e->p, 0, 10);
	if (missing && !register_uffd(e, e->p, UFFD_FEATURE_SIGBUS,
				      UFFDIO_REGISTER_MODE_MISSING))
		return -1;
	thp_set("shmem_enabled", "force", old, sizeof(old));
	scans = thp_counter("khugepaged/full_scans");
	for (i = 0; i < 1000 && thp_counter("khugepaged/full_scans") < scans + 3; i++)
		usleep(10000);
	thp_restore("shmem_enabled", old);
	if (thp_counter("khugepaged/full_scans") < scans + 3) {
		fail(e, "khugepaged made no 3 full scans in 10 s");
		return -1;
	}
	if (mincore(e->p + 100 * page, page, &vec)) {
		fail(e, "mincore: %s", strerror(errno));
		return -1;
	}
	return vec & 1;
}

/*
 * khugepaged fills the holes of a shmem range it collapses with zeroes.
 * Under a missing-fault registration that hides the faults the handler
 * waits for (5.10 did it; mainline refuses the collapse).
 */
static bool t_khugepaged_missing(struct env *e)
{
	const char *knobs[][2] = {
		{ "enabled", "always" }, { "shmem_enabled", "never" },
		{ "khugepaged/max_ptes_none", "511" },
		{ "khugepaged/scan_sleep_millisecs", "10" },
		{ "khugepaged/pages_to_scan", "4096" },
	};
	char old[5][64];
	struct env control = { .fd = -1, .uffd = -1 };
	char *anon;
	int n, ctl, r = -1;

	for (n = 0; n < 5; n++)
		thp_set(knobs[n][0], knobs[n][1], old[n], sizeof(old[n]));
	/* An anon THP-eligible vma makes khugepaged scan this mm (6.12) */
	anon = map_aligned(HPAGE_SIZE, HPAGE_SIZE, MAP_PRIVATE, -1);
	if (anon != MAP_FAILED)
		anon[0] = 1;

	ctl = khugepaged_round(&control, false);
	if (ctl < 0)
		fail(e, "control: %s", control.v.why);
	else if (ctl == 0)
		skip(e, "khugepaged collapsed no shmem here, even without a userfaultfd");
	else
		r = khugepaged_round(e, true);
	unmap_env(&control);
	if (anon != MAP_FAILED)
		munmap(anon, HPAGE_SIZE);
	for (n = 0; n < 5; n++) {
		if (strchr(old[n], '['))
			thp_restore(knobs[n][0], old[n]);
		else
			thp_set(knobs[n][0], old[n], NULL, 0);
	}
	if (r < 0)
		return false;
	if (r > 0)
		return fail(e, "khugepaged collapsed a MISSING-registered range with holes");
	if (!read_faults(e->p + 100 * page))
		return fail(e, "a hole of a MISSING-registered range was filled");
	return true;
}

/*
 * /proc/kpageflags of the page mapped at p (pagemap's PFN; root only):
 * true and the flags in *flags, or false where the kernel does not say.
 */
#define KPF_DIRTY		4
#define KPF_COMPOUND_HEAD	15
#define KPF_THP			22
#define PM_PFN_MASK		((1ULL << 55) - 1)

static bool kpageflags(void *p, uint64_t *flags, uint64_t *pfn)
{
	uint64_t e = pagemap(p);
	int fd;
	bool ok;

	*pfn = e & PM_PFN_MASK;
	if (!(e & PM_PRESENT) || !*pfn)
		return false;
	fd = open("/proc/kpageflags", O_RDONLY);
	if (fd < 0)
		return false;
	ok = pread(fd, flags, sizeof(*flags), *pfn * sizeof(*flags)) == sizeof(*flags);
	close(fd);
	return ok;
}

/* How many pages of [p, p + len) mincore() finds in memory (-1: error) */
static long resident(char *p, size_t len)
{
	unsigned char vec[PAGES];
	size_t i;
	long n = 0;

	if (len > HPAGE_SIZE || mincore(p, len, vec))
		return -1;
	for (i = 0; i < len / page; i++)
		n += vec[i] & 1;
	return n;
}

/*
 * The memfd of e mapped at e->p by ptes only, one THP that a read fault
 * brought in.  The fault maps it by the PMD (6.12 allocates a THP only
 * for a vma that covers the PMD); then one page of the vma is made
 * read-only, which splits the vma and zaps the PMD, and every page is
 * read again: no vma covers the PMD now, so the faults map ptes; the page
 * is made writable again (the vma merges back, the ptes stay).  The THP
 * is checked with /proc/kpageflags: a compound head whose 512 pages are
 * mapped in order, and not dirty.  Returns 1, 0 if the read fault brought
 * no THP, -1 after a fail().
 */
static int pte_mapped_thp(struct env *e)
{
	char *last = e->p + HPAGE_SIZE - page;
	uint64_t flags, pfn0, pfn;
	volatile char sink = 0;
	size_t i;

	sink += *(volatile char *)e->p;
	if (mprotect(last, page, PROT_READ)) {
		fail(e, "mprotect(PROT_READ): %s", strerror(errno));
		return -1;
	}
	for (i = 0; i < PAGES; i++)
		sink += ((volatile char *)e->p)[i * page];
	(void)sink;
	if (mprotect(last, page, PROT_READ | PROT_WRITE)) {
		fail(e, "mprotect(PROT_READ|PROT_WRITE): %s", strerror(errno));
		return -1;
	}
	if (!not_pmd_mapped(e, e->p, true))
		return -1;
	if (!kpageflags(e->p, &flags, &pfn0)) {
		fail(e, "no PFN or /proc/kpageflags for the page");
		return -1;
	}
	if (!(flags & (1ULL << KPF_THP)) || !(flags & (1ULL << KPF_COMPOUND_HEAD)))
		return 0;
	if (flags & (1ULL << KPF_DIRTY)) {
		fail(e, "setup: the THP a read fault brought in is dirty already");
		return -1;
	}
	for (i = 1; i < PAGES; i++) {
		if (!kpageflags(e->p + i * page, &flags, &pfn) || pfn != pfn0 + i) {
			fail(e, "setup: page %zu is not mapped by a pte to the THP", i);
			return -1;
		}
	}
	return 1;
}

/*
 * 36: a shmem THP that a read fault brought in (so not PageDirty: shmem
 * dirties a new page only for a write), mapped by clean writable ptes and
 * then written through them: only the ptes' hardware dirty bits know of
 * the writes.  MADV_COLLAPSE maps it by its PMD; unless it moves those
 * dirty bits to the page, reclaim (MADV_PAGEOUT here) takes the THP for a
 * clean one and drops it from the page cache, and the file reads zeroes.
 * The last page, whose pte was read-only for a while, is left unwritten.
 * 6.12 loses the data too (a later mainline fixed it): XFAIL there.
 */
static bool t_shmem_pte_dirty_once(struct env *e)
{
	static char buf[HPAGE_SIZE];
	uint64_t flags, pfn;
	long left = -1;
	size_t i, lost = 0, first = 0;
	int r, tries;

	if (!map_env(e, true, false))
		return false;
	r = pte_mapped_thp(e);
	if (r <= 0)
		return r < 0 ? false : skip(e, "a read fault brought in no shmem THP");
	fill(e->p, 0, PAGES - 1);
	if (kpageflags(e->p, &flags, &pfn))
		ksft_print_msg("36: before the collapse the THP is %sdirty\n",
			       flags & (1ULL << KPF_DIRTY) ? "" : "not ");
	if (!expect(e, "pte-mapped THP", collapse(e->p, HPAGE_SIZE), 0) ||
	    !pmd_mapped(e, e->p, true))
		return false;
	if (kpageflags(e->p, &flags, &pfn))
		ksft_print_msg("36: after the collapse the THP is %sdirty\n",
			       flags & (1ULL << KPF_DIRTY) ? "" : "not ");
	for (tries = 0; tries < 5; tries++) {
		lru_drain_all();
		if (madvise(e->p, HPAGE_SIZE, MADV_PAGEOUT))
			return fail(e, "MADV_PAGEOUT: %s", strerror(errno));
		left = resident(e->p, HPAGE_SIZE);
		if (!left)
			break;
		usleep(100000);
	}
	ksft_print_msg("36: %ld of %zu pages resident after MADV_PAGEOUT\n", left, PAGES);
	/* Read the file, not the mapping */
	if (pread(e->fd, buf, HPAGE_SIZE, 0) != (ssize_t)HPAGE_SIZE)
		return fail(e, "pread: %s", strerror(errno));
	for (i = 0; i < PAGES - 1; i++) {
		if (byte_of(i) && buf[i * page] != byte_of(i) && !lost++)
			first = i;
	}
	if (lost)
		return fail(e, "%zu written pages read back wrong after MADV_PAGEOUT (page %zu: %d, "
			    "not %d): the collapse dropped the ptes' dirty bits", lost, first,
			    buf[first * page], byte_of(first));
	for (i = 0; i < PAGES - 1; i++)
		if (!page_is(e, "read back", buf, i, true))
			return false;
	return page_is(e, "read back (never written)", buf, PAGES - 1, false);
}

static bool t_shmem_pte_dirty(struct env *e)
{
	char old[64];
	bool ok;

	/* The read fault's THP: shmem_enabled decides it (always) */
	thp_set("shmem_enabled", "always", old, sizeof(old));
	ok = t_shmem_pte_dirty_once(e);
	thp_restore("shmem_enabled", old);
	return ok;
}

/*
 * 37: a shmem range registered for missing faults with holes, and
 * MADV_COLLAPSE of the same file through another mapping, again and
 * again; it must refuse (EBUSY), as the series and 6.12 do.  A thread
 * fills the holes with UFFDIO_COPY and punches each again at once.  A
 * collapse that puts its locked new THP into every hole during its walk
 * and only then looks for a MISSING registration makes a UFFDIO_COPY of
 * that window fail with EEXIST although the hole stays a hole (QEMU
 * postcopy aborts on EEXIST).  Any EEXIST fails, with the proof: the
 * page was not in memory (mincore()) and a later COPY of it succeeds.
 * The file's present pages are its upper half, mapped, so that the walk
 * drops its lock for each of them with the holes of the lower half taken.
 * RACE_SECONDS (20) bounds it.
 */
#define RACE_HOLES (PAGES / 2)

struct copy_race {
	struct env *e;
	char *src;
	volatile bool stop;
	unsigned long copies, collapses, busy, eagain, other;
	struct verdict v;
};

/* the race's first failure, which ends it */
#define race_fail(r, ...)	((r)->stop = true, verdict_fail(&(r)->v, __VA_ARGS__))

/* UFFDIO_COPY of one page into page i of the registered mapping: 0 or errno */
static int copy_page(struct copy_race *r, size_t i)
{
	struct uffdio_copy c = {
		.dst = (unsigned long)r->e->p + i * page,
		.src = (unsigned long)r->src,
		.len = page,
	};

	return ioctl(r->e->uffd, UFFDIO_COPY, &c) ? errno : 0;
}

static bool punch(struct copy_race *r, size_t i)
{
	if (!fallocate(r->e->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, i * page, page))
		return true;
	race_fail(r, "punch page %zu: %s", i, strerror(errno));
	return false;
}

/* An EEXIST for hole i: was there a page? */
static void eexist(struct copy_race *r, size_t i)
{
	unsigned char vec = 0;
	int err = EEXIST, t;

	/* No more collapses: the one in flight ends within milliseconds */
	r->stop = true;
	if (mincore(r->e->alias + i * page, page, &vec))
		vec = 2;
	for (t = 0; t < 2000 && (err == EEXIST || err == EAGAIN); t++) {
		usleep(1000);
		err = copy_page(r, i);
	}
	if (!err) {
		punch(r, i);
		race_fail(r, "UFFDIO_COPY into hole %zu gave EEXIST, yet it was a hole (mincore %d) "
			  "and a COPY %d ms later filled it", i, vec, t);
	} else if (err == EEXIST) {
		race_fail(r, "UFFDIO_COPY into hole %zu gave EEXIST for 2 s: the hole was filled "
			  "(mincore %d)", i, vec);
	} else {
		race_fail(r, "UFFDIO_COPY into hole %zu: EEXIST, then %s", i, strerror(err));
	}
}

static void *copier(void *arg)
{
	struct copy_race *r = arg;
	size_t i = 0;
	int err;

	while (!r->stop) {
		err = copy_page(r, i);
		if (err == EAGAIN)
			continue;
		if (err == EEXIST) {
			eexist(r, i);
			break;
		}
		if (err) {
			race_fail(r, "UFFDIO_COPY into hole %zu: %s", i, strerror(err));
			break;
		}
		r->copies++;
		if (!punch(r, i))
			break;
		i = (i + 1) % RACE_HOLES;
	}
	return NULL;
}

static void *collapser(void *arg)
{
	struct copy_race *r = arg;
	volatile char *a = r->e->alias;
	char sink = 0;
	size_t i;
	int err;

	while (!r->stop) {
		err = collapse(r->e->alias, HPAGE_SIZE);
		r->collapses++;
		if (err == -EBUSY)
			r->busy++;
		else if (err == -EAGAIN)
			r->eagain++;
		else if (!err)
			race_fail(r, "MADV_COLLAPSE collapsed a MISSING-registered range with holes");
		else
			r->other++;
		/* Map the present pages again: the walk unmaps each */
		for (i = RACE_HOLES; i < PAGES; i++)
			sink += a[i * page];
	}
	(void)sink;
	return NULL;
}

static bool t_shmem_copy_race(struct env *e)
{
	struct copy_race r = { .e = e };
	const char *s = getenv("RACE_SECONDS");
	int secs = s ? atoi(s) : 20, ms;
	pthread_t t[2];

	if (!map_env(e, true, true))
		return false;
	r.src = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (r.src == MAP_FAILED)
		return fail(e, "mmap: %s", strerror(errno));
	memset(r.src, 0x5a, page);
	fill(e->alias, RACE_HOLES, PAGES - RACE_HOLES);
	if (!register_uffd(e, e->p, UFFD_FEATURE_SIGBUS, UFFDIO_REGISTER_MODE_MISSING))
		return false;
	if (pthread_create(&t[0], NULL, copier, &r) ||
	    pthread_create(&t[1], NULL, collapser, &r))
		ksft_exit_fail_msg("pthread_create: %s\n", strerror(errno));
	for (ms = 0; ms < secs * 1000 && !r.stop; ms += 10)
		usleep(10000);
	r.stop = true;
	pthread_join(t[0], NULL);
	pthread_join(t[1], NULL);
	munmap(r.src, page);
	ksft_print_msg("37: %.1f s: %lu copies and punches, %lu collapses (EBUSY %lu, EAGAIN %lu, "
		       "other %lu)\n", ms / 1000.0, r.copies, r.collapses, r.busy, r.eagain, r.other);
	if (r.v.why[0])
		return fail(e, "%s", r.v.why);
	if (!r.copies || !r.busy)
		return fail(e, "no race: %lu copies, %lu collapses that got to the holes",
			    r.copies, r.busy);
	return true;
}

struct scenario {
	int nr;			/* uffd-claims.h's numbering, 0 for none */
	const char *name;
	bool (*run)(struct env *e);
	bool any_kernel;	/* needs no MADV_COLLAPSE */
};

static const struct scenario scenarios[] = {
	{ 0, "anon: a populated range collapses", t_anon_full, false },
	{ 0, "anon: one page of 512 is enough", t_anon_sparse, false },
	{ 0, "anon: a wp pte refuses the collapse and keeps its protection", t_anon_wp, false },
	{ 0, "anon: holes under MISSING stay holes (EBUSY)", t_anon_missing, false },
	{ 0, "anon: a private /dev/zero mapping collapses as anon", t_devzero, false },
	{ 0, "anon: an empty PMD ends the walk (EINVAL)", t_anon_empty_pmd, false },
	{ 0, "shmem: a populated range collapses and is PMD-mapped", t_shmem_full, false },
	{ 0, "shmem: holes are filled with zeroes", t_shmem_holes, false },
	{ 0, "shmem: holes under MISSING stay holes (EBUSY)", t_shmem_missing, false },
	{ 0, "shmem: a MINOR-registered range collapses (minor-collapse)", t_shmem_minor, false },
	{ 0, "shmem: a wp range keeps its protection (EINVAL)", t_shmem_wp, false },
	{ 0, "shmem: shmem_enabled=deny forbids it", t_shmem_deny, false },
	{ 0, "MADV_NOHUGEPAGE forbids it", t_nohugepage, false },
	{ 0, "hugetlb: EINVAL", t_hugetlb, false },
	{ 0, "ranges: EINVAL, 0 and ENOMEM as mainline", t_ranges, false },
	{ 0, "process_madvise(MADV_COLLAPSE)", t_process_madvise, false },
	{ 29, "khugepaged: holes under MISSING stay holes", t_khugepaged_missing, true },
	{ 36, "shmem: the writes to a pte-mapped THP survive its collapse and reclaim",
	  t_shmem_pte_dirty, false },
	{ 37, "shmem: a collapse that backs off makes no UFFDIO_COPY into a hole fail (EEXIST)",
	  t_shmem_copy_race, false },
};

#define NR_SCENARIOS (sizeof(scenarios) / sizeof(scenarios[0]))

int main(void)
{
	char old_enabled[64];
	size_t s;

	claims = uffd_claims_of_kernel();
	page = getpagesize();
	ksft_print_header();
	ksft_set_plan(NR_SCENARIOS);

	/* Faults map small pages; MADV_COLLAPSE ignores the setting */
	thp_set("enabled", "never", old_enabled, sizeof(old_enabled));
	if (!claims->madv_collapse) {
		char *p = map_aligned(HPAGE_SIZE, HPAGE_SIZE, MAP_PRIVATE, -1);
		int r;

		fill(p, 0, PAGES);
		r = collapse(p, HPAGE_SIZE);
		check(r == -EINVAL, "'%s' claims no MADV_COLLAPSE: EINVAL (%s)",
		      claims->ref, r ? strerror(-r) : "0");
		munmap(p, HPAGE_SIZE);
	}
	for (s = 0; s < NR_SCENARIOS; s++) {
		const struct scenario *sc = &scenarios[s];
		struct env e;
		char title[200];
		bool ok;

		/* the check above stands for the first scenario */
		if (!claims->madv_collapse && !s)
			continue;
		snprintf(title, sizeof(title), "%d %s", sc->nr, sc->name);
		if (!claims->madv_collapse && !sc->any_kernel) {
			ksft_test_result_skip("%s: '%s' claims no MADV_COLLAPSE\n",
					      title, claims->ref);
			continue;
		}
		memset(&e, 0, sizeof(e));
		e.fd = e.uffd = -1;
		ok = sc->run(&e);
		verdict_report(&e.v, ok, sc->nr, claims, title);
		unmap_env(&e);
	}
	thp_restore("enabled", old_enabled);
	return ksft_get_fail_cnt() ? ksft_exit_fail() : ksft_exit_pass();
}
