// SPDX-License-Identifier: GPL-2.0
/*
 * UFFDIO_POISON (UFFD_FEATURE_POISON, mainline 6.6) on every memory type,
 * held to what mainline 6.12 does: a poisoned pte is a PTE marker that
 * makes every access SIGBUS with BUS_MCEERR_AR, as a memory error would,
 * without any page behind it.  Its ioctl errors and out field, the refusal
 * of any pte that is not none (a page, a marker of poison or of uffd-wp),
 * the wake-up of a blocked missing fault, and what becomes of the marker
 * through fork, mremap, MADV_DONTNEED, munmap, hole punching and
 * truncation, pagemap, kernel accesses, and the fill ioctls over it.
 *
 * A kernel that does not claim UFFD_FEATURE_POISON (uffd-claims.h) skips
 * the scenarios, and fails if it advertises the feature or accepts the
 * ioctl nonetheless.
 */
#include "uffd-test.h"

#include <setjmp.h>
#include <signal.h>
#include <sys/uio.h>
#include <linux/falloc.h>

#define NPAGES 8
/* "updated" as the test leaves it: the kernel did not get that far */
#define UNWRITTEN	0x5a5a5a5a
/* for expect_poison(): do not look at "updated" */
#define ANY_UPDATED	0x7a7a7a7a
/* The offset of PTE_MARKER_POISONED in pagemap's frame field (6.12) */
#define PM_MARKER_POISONED	2
#define MAX_SWAPFILES_SHIFT	5

static const struct uffd_claims *claims;

struct env {
	enum uffd_mem mem;
	size_t page, len;
	char *p;	/* registered */
	char *f;	/* the file, MAP_SHARED (file types), else NULL */
	int mfd;
	int uffd;
	long hp_free, hp_rsvd;	/* the huge page pool before */
	struct verdict v;
};

static char pattern(size_t i)
{
	return 'a' + i % 26;
}

static char *pg(struct env *e, size_t i)
{
	return e->p + i * e->page;
}

/* The signal an access raised: SIGBUS's code, address and address lsb. */
struct bus {
	int code;
	void *addr;
	int lsb;
};

static __thread sigjmp_buf bus_jmp;
static __thread struct bus bus_seen;
static __thread volatile int bus_armed;

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	if (!bus_armed) {
		/* not a test's access: the default action on the refault */
		signal(sig, SIG_DFL);
		return;
	}
	bus_seen.code = si->si_code;
	bus_seen.addr = si->si_addr;
	bus_seen.lsb = si->si_addr_lsb;
	siglongjmp(bus_jmp, 1);
}

/*
 * One access to p (a write of c, or a read): true if it completed, false if
 * it raised SIGBUS, which is described in *b.
 */
static bool touch(volatile char *p, bool write, char c, struct bus *b)
{
	memset(&bus_seen, 0, sizeof(bus_seen));
	bus_armed = 1;
	if (sigsetjmp(bus_jmp, 1)) {
		bus_armed = 0;
		*b = bus_seen;
		return false;
	}
	if (write)
		*p = c;
	else
		(void)*p;
	bus_armed = 0;
	return true;
}

static int page_shift(struct env *e)
{
	return __builtin_ctzl(e->page);
}

/* A SIGBUS as 6.12 raises it for a poisoned pte: MCEERR_AR, lsb page shift. */
static bool bus_is_poison(struct env *e, const char *what, const struct bus *b,
			  void *addr)
{
	if (b->code != BUS_MCEERR_AR || b->addr != addr || b->lsb != page_shift(e))
		return fail(e, "%s: SIGBUS code %d addr %p lsb %d, expected BUS_MCEERR_AR (%d)"
			    " at %p lsb %d", what, b->code, b->addr, b->lsb, BUS_MCEERR_AR,
			    addr, page_shift(e));
	return true;
}

/* An access (read or write) at addr gets the SIGBUS of a poisoned pte. */
static bool expect_poisoned(struct env *e, const char *what, char *addr, bool write)
{
	struct bus b;

	if (touch(addr, write, 'w', &b))
		return fail(e, "%s: the %s at %p went through", what,
			    write ? "write" : "read", addr);
	return bus_is_poison(e, what, &b, addr);
}

/* Every byte of page i is c (the first access must not SIGBUS). */
static bool page_is(struct env *e, const char *what, size_t i, char c)
{
	volatile char *p = pg(e, i);
	struct bus b;
	size_t k;

	if (!touch(p, false, 0, &b))
		return fail(e, "%s: read of page %zu: SIGBUS code %d", what, i, b.code);
	for (k = 0; k < e->page; k++)
		if (p[k] != c)
			return fail(e, "%s: page %zu byte %zu is 0x%02x, expected 0x%02x",
				    what, i, k, (unsigned char)p[k], (unsigned char)c);
	return true;
}

/* UFFDIO_POISON on fd; 0 or -errno, the "updated" field in *updated. */
static int uffd_poison(int fd, void *p, size_t len, uint64_t mode, int64_t *updated)
{
	struct uffdio_poison u = {
		.range = { .start = (unsigned long)p, .len = len },
		.mode = mode,
		.updated = UNWRITTEN,
	};
	int ret = ioctl(fd, UFFDIO_POISON, &u) ? -errno : 0;

	if (updated)
		*updated = u.updated;
	return ret;
}

static const char *err_name(int err)
{
	return err ? strerror(err) : "success";
}

/* UFFDIO_POISON of [p, p+len) returns -err and sets "updated" to updated. */
static bool expect_poison_fd(struct env *e, int fd, const char *what, void *p,
			     size_t len, uint64_t mode, int err, int64_t updated)
{
	int64_t u;
	int ret = uffd_poison(fd, p, len, mode, &u);

	if (ret != -err)
		return fail(e, "%s: UFFDIO_POISON: %s, expected %s", what, err_name(-ret),
			    err_name(err));
	if (updated != ANY_UPDATED && u != updated)
		return fail(e, "%s: updated is %lld, expected %lld", what, (long long)u,
			    (long long)updated);
	return true;
}

static bool expect_poison(struct env *e, const char *what, void *p, size_t len,
			  uint64_t mode, int err, int64_t updated)
{
	return expect_poison_fd(e, e->uffd, what, p, len, mode, err, updated);
}

/* Poison pages [i, i+n) and expect them done. */
static bool poison_pages(struct env *e, size_t i, size_t n)
{
	return expect_poison(e, "poison", pg(e, i), n * e->page, 0, 0, n * e->page);
}

/*
 * pagemap of a poisoned pte: 6.12 reports the marker of anon and shmem ptes
 * as a swap entry (bit 62) of the marker type with the marker's value as
 * its offset (root sees the frame field), and nothing for a hugetlb pte
 * (pagemap_hugetlb_range() reports only present and uffd-wp entries).
 */
static bool pagemap_poisoned(struct env *e, const char *what, char *addr)
{
	uint64_t pm = pagemap(addr);
	uint64_t frame = pm & PM_PFN_MASK;

	if (mem_is_hugetlb(e->mem)) {
		if (pm & (PM_PRESENT | PM_SWAP | PM_UFFD_WP))
			return fail(e, "%s: pagemap of a poisoned hugetlb pte: 0x%llx, expected"
				    " neither present, swap nor uffd-wp", what,
				    (unsigned long long)pm);
		return true;
	}
	if (!(pm & PM_SWAP) || (pm & (PM_PRESENT | PM_UFFD_WP)) ||
	    frame >> MAX_SWAPFILES_SHIFT != PM_MARKER_POISONED)
		return fail(e, "%s: pagemap of a poisoned pte: 0x%llx (swap type %llu offset %llu),"
			    " expected a swap entry of offset %d, not present, no uffd-wp",
			    what, (unsigned long long)pm,
			    (unsigned long long)(frame & ((1 << MAX_SWAPFILES_SHIFT) - 1)),
			    (unsigned long long)(frame >> MAX_SWAPFILES_SHIFT),
			    PM_MARKER_POISONED);
	return true;
}

/* pagemap of page i: nothing mapped, no swap entry or marker (not hugetlb). */
static bool pagemap_none(struct env *e, const char *what, size_t i)
{
	uint64_t pm = pagemap(pg(e, i));

	if (!mem_is_hugetlb(e->mem) && (pm & (PM_PRESENT | PM_SWAP | PM_UFFD_WP)))
		return fail(e, "%s: pagemap of page %zu: 0x%llx, expected none", what, i,
			    (unsigned long long)pm);
	return true;
}

/*
 * A fresh env: NPAGES of mem mapped as p (and the file as f), the pages of
 * `fill` written with pattern(i) (through f for file types: in the file,
 * not mapped in p), the pages of `map` then accessed through p (a read:
 * for anon that maps the zero page, for files the page), then a uffd with
 * features | UFFD_FEATURE_POISON registered over p with mode.
 */
static bool setup_feat(struct env *e, enum uffd_mem mem, uint64_t mode,
		       unsigned int fill, unsigned int map, uint64_t features)
{
	size_t i;
	int ret;

	memset(e, 0, sizeof(*e));
	e->mem = mem;
	e->uffd = -1;
	e->mfd = -1;
	e->page = mem_page_size(mem);
	e->len = NPAGES * e->page;
	if (mem_is_hugetlb(mem)) {
		e->hp_free = meminfo("HugePages_Free");
		e->hp_rsvd = meminfo("HugePages_Rsvd");
	}
	e->p = mem_map(mem, e->len, &e->mfd);
	if (e->p == MAP_FAILED) {
		e->p = NULL;
		return fail(e, "mmap: %s", strerror(errno));
	}
	if (e->mfd >= 0) {
		e->f = mmap(NULL, e->len, PROT_READ | PROT_WRITE, MAP_SHARED, e->mfd, 0);
		if (e->f == MAP_FAILED) {
			e->f = NULL;
			return fail(e, "mmap of the file: %s", strerror(errno));
		}
	}
	for (i = 0; i < NPAGES; i++)
		if (fill & (1u << i))
			memset((e->f ? e->f : e->p) + i * e->page, pattern(i), e->page);
	for (i = 0; i < NPAGES; i++)
		if (map & (1u << i))
			(void)*(volatile char *)pg(e, i);
	e->uffd = uffd_open(UFFD_FEATURE_POISON | features);
	ret = uffd_register(e->uffd, e->p, e->len, mode, NULL);
	if (ret)
		return fail(e, "UFFDIO_REGISTER: %s", strerror(-ret));
	return true;
}

static bool setup(struct env *e, enum uffd_mem mem, unsigned int fill, unsigned int map)
{
	return setup_feat(e, mem, UFFDIO_REGISTER_MODE_MISSING, fill, map, 0);
}

static void teardown(struct env *e)
{
	if (e->uffd >= 0)
		close(e->uffd);
	e->uffd = -1;
	if (e->f)
		munmap(e->f, e->len);
	e->f = NULL;
	if (e->p)
		mem_unmap(e->p, e->len, e->mfd);
	else if (e->mfd >= 0)
		close(e->mfd);
	e->p = NULL;
	e->mfd = -1;
}

/*
 * Poisoned holes SIGBUS on every access, with 6.12's si_code, exact si_addr
 * and si_addr_lsb (PAGE_SHIFT, or the huge page's shift for hugetlb); the
 * pages around keep their data; poisoning allocates no huge page.  A file
 * page this mapping does not map takes the poison here only: the file
 * keeps it.
 */
static bool t_basic(struct env *e, enum uffd_mem mem)
{
	long free0;

	if (!setup(e, mem, 0x03, 0x03))
		return false;
	/* after the reads, so that no fault-around maps it in p */
	if (e->f)
		memset(e->f + 4 * e->page, pattern(4), e->page);
	free0 = meminfo("HugePages_Free");
	if (!poison_pages(e, 2, 2))
		return false;
	if (mem_is_hugetlb(mem) && meminfo("HugePages_Free") != free0)
		return fail(e, "poisoning took huge pages: %ld free, were %ld",
			    meminfo("HugePages_Free"), free0);
	/* inside the page, not at its start: si_addr is the address accessed */
	if (!expect_poisoned(e, "read", pg(e, 2) + e->page / 2 + 123, false) ||
	    !expect_poisoned(e, "write", pg(e, 3) + e->page - 1, true) ||
	    !expect_poisoned(e, "second read", pg(e, 2), false) ||
	    !pagemap_poisoned(e, "page 2", pg(e, 2)) ||
	    !page_is(e, "neighbour", 0, pattern(0)) || !page_is(e, "neighbour", 1, pattern(1)))
		return false;
	if (mem_is_hugetlb(mem) && meminfo("HugePages_Free") != free0)
		return fail(e, "the accesses took huge pages: %ld free, were %ld",
			    meminfo("HugePages_Free"), free0);
	ksft_print_msg("%s: SIGBUS BUS_MCEERR_AR, si_addr the address accessed, si_addr_lsb %d;"
		       " pagemap 0x%llx\n", uffd_mem_names[mem], page_shift(e),
		       (unsigned long long)pagemap(pg(e, 2)));
	if (!e->f)
		return true;
	/* page 4 is in the file, not mapped in p */
	if (!poison_pages(e, 4, 1) || !expect_poisoned(e, "page in the file", pg(e, 4), false))
		return false;
	if (e->f[4 * e->page] != pattern(4))
		return fail(e, "the file's page 4 changed: 0x%02x", e->f[4 * e->page]);
	return true;
}

/*
 * EEXIST on anything but a none pte (6.12's mfill_atomic_pte_poison() and
 * hugetlb_mfill_atomic_pte()): a mapped page (for anon: the zero page too)
 * and a poisoned pte; "updated" is -EEXIST.  Progress stops at the first
 * such pte: "updated" says how far it got and the ioctl EAGAIN.
 */
static bool t_eexist(struct env *e, enum uffd_mem mem)
{
	/* 0 written and mapped, 4 and 6 read (zeros), 1-3, 5, 7 holes */
	if (!setup(e, mem, 0x01, 0x51))
		return false;
	if (!expect_poison(e, "mapped page 0", pg(e, 0), e->page, 0, EEXIST, -EEXIST) ||
	    !expect_poison(e, "mapped page 6", pg(e, 6), e->page, 0, EEXIST, -EEXIST) ||
	    !poison_pages(e, 1, 1) ||
	    !expect_poison(e, "poisoned page 1", pg(e, 1), e->page, 0, EEXIST, -EEXIST) ||
	    !expect_poison(e, "pages 1-2", pg(e, 1), 2 * e->page, 0, EEXIST, -EEXIST))
		return false;
	/* page 2 was not reached: pages 2-3 are done, page 4 stops it */
	if (!expect_poison(e, "pages 2-4", pg(e, 2), 3 * e->page, 0, EAGAIN, 2 * e->page) ||
	    !expect_poisoned(e, "page 2", pg(e, 2), false) ||
	    !expect_poisoned(e, "page 3", pg(e, 3), false) ||
	    !page_is(e, "page 0", 0, pattern(0)) ||
	    !page_is(e, "page 4", 4, 0) ||
	    !page_is(e, "page 6", 6, 0))
		return false;
	/* the rest of a range after a present page is left alone */
	return expect_poison(e, "pages 6-7", pg(e, 6), 2 * e->page, 0, EEXIST, -EEXIST) &&
	       poison_pages(e, 7, 1) && poison_pages(e, 5, 1);
}

/*
 * A uffd-wp marker is not none either: 6.12 refuses it (EEXIST), and takes
 * the poison once un-protect has removed the marker.  Protection passes
 * over a poisoned pte and leaves it as it is.  A range registered for wp
 * alone takes poison.  (Anonymous memory has markers with WP_UNPOPULATED.)
 */
static bool t_wp_marker(struct env *e, enum uffd_mem mem)
{
	int ret;

	if (!(claims->modes[mem] & CLAIM_WP))
		return skip(e, "wp not claimed on this memory type");
	if (mem == MEM_ANON && !(claims->features & FEAT(13)))
		return skip(e, "anonymous memory has markers only with WP_UNPOPULATED,"
			    " not claimed");
	if (!setup_feat(e, mem, UFFDIO_REGISTER_MODE_WP, 0x01, 0x01,
			mem == MEM_ANON ? UFFD_FEATURE_WP_UNPOPULATED : 0))
		return false;
	if (!poison_pages(e, 3, 1))
		return false;
	ret = uffd_wp(e->uffd, e->p, e->len, true);
	if (ret)
		return fail(e, "UFFDIO_WRITEPROTECT: %s", strerror(-ret));
	if (claims->pagemap_wp && !(pagemap(pg(e, 2)) & PM_UFFD_WP))
		return fail(e, "no uffd-wp marker in page 2: pagemap 0x%llx",
			    (unsigned long long)pagemap(pg(e, 2)));
	if (!expect_poisoned(e, "poisoned page 3 after protect", pg(e, 3), false) ||
	    !pagemap_poisoned(e, "page 3 after protect", pg(e, 3)) ||
	    !expect_poison(e, "wp marker", pg(e, 2), e->page, 0, EEXIST, -EEXIST))
		return false;
	if (claims->pagemap_wp && !(pagemap(pg(e, 2)) & PM_UFFD_WP))
		return fail(e, "the refused poison took page 2's marker away");
	ret = uffd_wp(e->uffd, pg(e, 2), e->page, false);
	if (ret)
		return fail(e, "un-protect: %s", strerror(-ret));
	return poison_pages(e, 2, 1) && expect_poisoned(e, "page 2", pg(e, 2), true) &&
	       page_is(e, "page 0", 0, pattern(0));
}

/* Unregister the whole range: its holes then fault like any other memory. */
static bool unregister_all(struct env *e)
{
	int ret = uffd_unregister(e->uffd, e->p, e->len);

	return ret ? fail(e, "UFFDIO_UNREGISTER: %s", strerror(-ret)) : true;
}

/*
 * 6.12's errors: the checks of the range and the mode come before any work
 * and leave "updated" alone (EINVAL); the others write it (-errno).
 */
static bool t_errors(struct env *e, enum uffd_mem mem)
{
	int64_t u;
	char *other;
	int fd, ret;
	bool ok;

	if (!setup(e, mem, 0, 0))
		return false;
	if (!expect_poison(e, "unknown mode bit 1", pg(e, 1), e->page, 1 << 1, EINVAL, UNWRITTEN) ||
	    !expect_poison(e, "unknown mode bit 63", pg(e, 1), e->page, 1ULL << 63, EINVAL,
			   UNWRITTEN) ||
	    !expect_poison(e, "length 0", pg(e, 1), 0, 0, EINVAL, UNWRITTEN) ||
	    !expect_poison(e, "unaligned start", pg(e, 1) + 512, e->page, 0, EINVAL, UNWRITTEN) ||
	    !expect_poison(e, "unaligned length", pg(e, 1), e->page + 512, 0, EINVAL, UNWRITTEN) ||
	    !expect_poison(e, "start beyond the user address space", (void *)USER_VA_END,
			   e->page, 0, EINVAL, UNWRITTEN) ||
	    !expect_poison(e, "range wraps", pg(e, 1), -(unsigned long)getpagesize(), 0, EINVAL,
			   UNWRITTEN) ||
	    !expect_poison(e, "range past the vma", pg(e, NPAGES - 1), 2 * e->page, 0, ENOENT,
			   -ENOENT))
		return false;
	if (mem_is_hugetlb(mem) &&
	    (!expect_poison(e, "start not huge-page aligned", pg(e, 1) + 4096, e->page, 0,
			    EINVAL, -EINVAL) ||
	     !expect_poison(e, "length not huge-page aligned", pg(e, 1), 4096, 0, EINVAL,
			    -EINVAL)))
		return false;
	other = mem_map(mem, e->page, NULL);
	if (other == MAP_FAILED)
		return fail(e, "mmap: %s", strerror(errno));
	ok = expect_poison(e, "unregistered range", other, e->page, 0, ENOENT, -ENOENT);
	munmap(other, e->page);
	if (!ok || !expect_poison(e, "unmapped range", other, e->page, 0, ENOENT, -ENOENT))
		return false;
	/* before UFFDIO_API every ioctl but UFFDIO_API is EINVAL */
	fd = uffd_open_raw(0);
	ret = uffd_poison(fd, pg(e, 1), e->page, 0, &u);
	close(fd);
	if (ret != -EINVAL)
		return fail(e, "before UFFDIO_API: %s, expected EINVAL", err_name(-ret));
	/* shmem: beyond i_size, as the other fills (mfill_file_over_size()) */
	if (e->mfd >= 0 && !mem_is_hugetlb(mem)) {
		if (ftruncate(e->mfd, 4 * e->page))
			return fail(e, "ftruncate: %s", strerror(errno));
		if (!expect_poison(e, "beyond i_size", pg(e, 5), e->page, 0, EFAULT, -EFAULT))
			return false;
	}
	/* 6.12 takes the ioctl without UFFD_FEATURE_POISON asked for */
	if (!unregister_all(e))
		return false;
	fd = uffd_open(0);
	ret = uffd_register(fd, e->p, e->len, UFFDIO_REGISTER_MODE_MISSING, NULL);
	if (ret) {
		close(fd);
		return fail(e, "UFFDIO_REGISTER of a uffd without the feature: %s",
			    strerror(-ret));
	}
	ok = expect_poison_fd(e, fd, "a uffd that did not ask for the feature", pg(e, 0),
			      e->page, 0, 0, e->page);
	close(fd);
	return ok && expect_poisoned(e, "page 0", pg(e, 0), false);
}

/* A thread that reads addr and records whether it got SIGBUS. */
struct reader {
	pthread_t t;
	char *addr;
	bool done, bused;
	struct bus b;
};

static void *reader_main(void *arg)
{
	struct reader *r = arg;

	r->bused = !touch(r->addr, false, 0, &r->b);
	__atomic_store_n(&r->done, true, __ATOMIC_SEQ_CST);
	return NULL;
}

static void uffd_wake(int fd, void *p, size_t len)
{
	struct uffdio_range r = { .start = (unsigned long)p, .len = len };

	ioctl(fd, UFFDIO_WAKE, &r);
}

/* Start a reader of addr and read the missing fault it raises. */
static bool reader_faults(struct env *e, struct reader *r, char *addr)
{
	struct uffd_msg msg;

	memset(r, 0, sizeof(*r));
	r->addr = addr;
	if (pthread_create(&r->t, NULL, reader_main, r))
		return fail(e, "pthread_create: %s", strerror(errno));
	if (!uffd_msg_within(e->uffd, &msg, 5000) || msg.event != UFFD_EVENT_PAGEFAULT ||
	    (msg.arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WP) ||
	    (msg.arg.pagefault.address & ~(e->page - 1)) !=
	    ((unsigned long)addr & ~(e->page - 1)))
		return fail(e, "no missing fault at %p (event 0x%x address 0x%llx)", addr,
			    msg.event, (unsigned long long)msg.arg.pagefault.address);
	return true;
}

/*
 * Join a reader; one still blocked (a failed check) is let go by the close
 * of the uffd, which unregisters the range.
 */
static void reader_reap(struct env *e, struct reader *r)
{
	if (!r->t)
		return;
	if (!joined_within(r->t, 100)) {
		close(e->uffd);
		e->uffd = -1;
		pthread_join(r->t, NULL);
	}
	r->t = 0;
}

/*
 * A thread blocked in a missing fault is woken by UFFDIO_POISON of its page
 * and its retry gets SIGBUS; with UFFDIO_POISON_MODE_DONTWAKE it waits on
 * until UFFDIO_WAKE.
 */
static bool t_wake(struct env *e, enum uffd_mem mem)
{
	struct reader r = { 0 };
	bool ok = false;

	if (!setup(e, mem, 0, 0))
		return false;
	if (!reader_faults(e, &r, pg(e, 5) + 17) || !poison_pages(e, 5, 1))
		goto out;
	if (!joined_within(r.t, 3000)) {
		fail(e, "the faulting thread was not woken by UFFDIO_POISON");
		goto out;
	}
	r.t = 0;
	if (!r.bused) {
		fail(e, "the woken read went through");
		goto out;
	}
	if (!bus_is_poison(e, "woken read", &r.b, pg(e, 5) + 17))
		goto out;
	if (!reader_faults(e, &r, pg(e, 6)) ||
	    !expect_poison(e, "DONTWAKE", pg(e, 6), e->page, UFFDIO_POISON_MODE_DONTWAKE, 0,
			   e->page))
		goto out;
	if (joined_within(r.t, 300)) {
		r.t = 0;
		fail(e, "UFFDIO_POISON_MODE_DONTWAKE woke the faulting thread");
		goto out;
	}
	uffd_wake(e->uffd, pg(e, 6), e->page);
	if (!joined_within(r.t, 3000)) {
		fail(e, "UFFDIO_WAKE did not wake the faulting thread");
		goto out;
	}
	r.t = 0;
	ok = r.bused ? bus_is_poison(e, "read woken by UFFDIO_WAKE", &r.b, pg(e, 6))
		     : fail(e, "the read woken by UFFDIO_WAKE went through");
out:
	reader_reap(e, &r);
	return ok;
}

/*
 * MADV_DONTNEED removes the marker (6.12's zap drops poison unless it
 * spares private copies, which MADV_DONTNEED does not): the page faults as
 * a hole again, a fresh zero page.  Unregistering and closing the uffd keep
 * poison; munmap removes it.
 */
static bool t_dontneed(struct env *e, enum uffd_mem mem)
{
	int flags = mem_is_shared(mem) ? MAP_SHARED : MAP_PRIVATE;
	char *q;

	if (mem_is_hugetlb(mem) && !claims->hugetlb_dontneed)
		return skip(e, "no MADV_DONTNEED of hugetlbfs claimed");
	if (!setup(e, mem, 0x01, 0x01) || !poison_pages(e, 2, 2))
		return false;
	if (madvise(pg(e, 2), e->page, MADV_DONTNEED))
		return fail(e, "MADV_DONTNEED: %s", strerror(errno));
	if (!pagemap_none(e, "after MADV_DONTNEED", 2) || !unregister_all(e) ||
	    !expect_poisoned(e, "page 3 after unregister", pg(e, 3), false) ||
	    !page_is(e, "page 2 after MADV_DONTNEED", 2, 0) ||
	    !page_is(e, "page 0", 0, pattern(0)))
		return false;
	close(e->uffd);
	e->uffd = -1;
	if (!expect_poisoned(e, "page 3 after close of the uffd", pg(e, 3), false))
		return false;
	if (munmap(e->p, e->len))
		return fail(e, "munmap: %s", strerror(errno));
	if (e->mfd < 0)
		q = mmap(e->p, e->len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	else
		q = mmap(e->p, e->len, PROT_READ | PROT_WRITE, flags | MAP_FIXED, e->mfd, 0);
	if (q != e->p) {
		e->p = NULL;
		return fail(e, "mmap again: %s", strerror(errno));
	}
	return pagemap_none(e, "new mapping", 3) && page_is(e, "page 3 of a new mapping", 3, 0);
}

/*
 * A hole punched in the file: hugetlbfs zaps every mapping of the range
 * (hugetlb_vmdelete_list(), private copies included) and poison goes with
 * it; shmem zaps with even_cows clear, which keeps poison markers in shared
 * and private mappings alike (6.12).  Truncation drops poison on both.
 */
static bool t_punch(struct env *e, enum uffd_mem mem)
{
	if (!setup(e, mem, 0x03, 0x03) || !poison_pages(e, 2, 2))
		return false;
	if (fallocate(e->mfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, e->page, 2 * e->page))
		return fail(e, "fallocate(PUNCH_HOLE): %s", strerror(errno));
	if (!unregister_all(e) || !page_is(e, "punched page 1", 1, 0) ||
	    !page_is(e, "page 0", 0, pattern(0)))
		return false;
	if (mem_is_hugetlb(mem)) {
		if (!page_is(e, "punched poisoned page 2", 2, 0) ||
		    !expect_poisoned(e, "page 3 (not punched)", pg(e, 3), false))
			return false;
	} else if (!expect_poisoned(e, "punched poisoned page 2", pg(e, 2), false) ||
		   !pagemap_poisoned(e, "punched page 2", pg(e, 2))) {
		return false;
	}
	if (ftruncate(e->mfd, 0) || ftruncate(e->mfd, e->len))
		return fail(e, "ftruncate: %s", strerror(errno));
	return pagemap_none(e, "after truncation", 3) &&
	       page_is(e, "page 3 after truncation", 3, 0) &&
	       page_is(e, "page 2 after truncation", 2, 0);
}

/*
 * What the child of a fork finds at the poisoned page 2 and on page 0: a
 * SIGBUS (*b) or the byte read.
 */
struct child_report {
	bool bused;
	struct bus b;
	char c;
	char c0;
};

static void child_look(struct env *e, int fd)
{
	struct child_report r = { 0 };

	r.c0 = pg(e, 0)[0];
	r.bused = !touch(pg(e, 2) + 5, false, 0, &r.b);
	if (!r.bused)
		r.c = pg(e, 2)[5];
	_exit(write(fd, &r, sizeof(r)) == sizeof(r) ? 0 : 1);
}

/*
 * What 6.12's fork does with poison: copy_pte_marker() keeps it in every
 * page table fork copies, but fork copies none of a shared mapping that
 * has no anon_vma unless the child's vma is registered for wp
 * (vma_needs_copy(); 5.10 copies hugetlb page tables always, see
 * child_inherits()).  So the child of a private mapping gets SIGBUS, and
 * the child of a shared one faults the file afresh: without EVENT_FORK
 * (its vma not registered) it reads the hole; with it, its missing fault
 * goes to its own uffd, which the parent answers with UFFDIO_POISON on the
 * child's uffd.  Once the child is gone, that uffd gives ESRCH.
 */
struct forker {
	struct env *e;
	int fd;
	pid_t pid;
};

static void *fork_thread(void *arg)
{
	struct forker *f = arg;

	f->pid = fork();
	if (!f->pid)
		child_look(f->e, f->fd);
	return NULL;
}

/*
 * The child's page table has the poisoned pte: a private mapping's always,
 * a shared one's where fork() copies page tables it need not (5.10's
 * hugetlb, claims.hugetlb_fork_lazy).
 */
static bool child_inherits(enum uffd_mem mem)
{
	return !mem_is_shared(mem) || (mem_is_hugetlb(mem) && !claims->hugetlb_fork_lazy);
}

static bool check_child(struct env *e, const struct child_report *r, bool poisoned)
{
	if (r->c0 != pattern(0))
		return fail(e, "the child's page 0 reads 0x%02x", (unsigned char)r->c0);
	if (poisoned)
		return r->bused ? bus_is_poison(e, "child", &r->b, pg(e, 2) + 5)
				: fail(e, "the child read 0x%02x from the poisoned page",
				       (unsigned char)r->c);
	if (r->bused)
		return fail(e, "the child got SIGBUS code %d, expected to read the hole",
			    r->b.code);
	return r->c ? fail(e, "the child read 0x%02x from the hole", (unsigned char)r->c) : true;
}

static bool t_fork_noevent(struct env *e, enum uffd_mem mem)
{
	struct child_report r;
	int p[2], status;
	pid_t pid;
	ssize_t n;

	if (!setup(e, mem, 0x01, 0x01) || !poison_pages(e, 2, 1))
		return false;
	pid = fork_piped(&e->v, p);
	if (pid < 0)
		return false;
	if (!pid)
		child_look(e, p[1]);
	close(p[1]);
	n = read(p[0], &r, sizeof(r));
	close(p[0]);
	waitpid(pid, &status, 0);
	if (n != sizeof(r))
		return fail(e, "no report from the child (status 0x%x)", status);
	return check_child(e, &r, child_inherits(mem)) &&
	       expect_poisoned(e, "parent after fork", pg(e, 2) + 5, false);
}

static bool t_fork_event(struct env *e, enum uffd_mem mem)
{
	struct forker f = { .e = e };
	struct child_report r;
	struct uffd_msg msg;
	int p[2], status, child_uffd = -1, faults = 0;
	pthread_t t;
	bool ok = false, got = false;

	if (!setup_feat(e, mem, UFFDIO_REGISTER_MODE_MISSING, 0x01, 0x01,
			UFFD_FEATURE_EVENT_FORK) || !poison_pages(e, 2, 1))
		return false;
	if (pipe(p))
		return fail(e, "pipe: %s", strerror(errno));
	f.fd = p[1];
	if (pthread_create(&t, NULL, fork_thread, &f))
		return fail(e, "pthread_create: %s", strerror(errno));
	/* fork() waits for its event to be read */
	if (!uffd_msg_within(e->uffd, &msg, 10000) || msg.event != UFFD_EVENT_FORK) {
		close(e->uffd);
		e->uffd = -1;
		pthread_join(t, NULL);
		fail(e, "no fork event");
		goto out;
	}
	child_uffd = msg.arg.fork.ufd;
	pthread_join(t, NULL);
	if (f.pid < 0) {
		fail(e, "fork: %s", strerror(errno));
		goto out;
	}
	/* the child's report, answering its faults meanwhile */
	for (int i = 0; i < 100 && !got; i++) {
		struct pollfd pfd[2] = {
			{ .fd = p[0], .events = POLLIN },
			{ .fd = child_uffd, .events = POLLIN },
		};

		if (poll(pfd, 2, 100) <= 0)
			continue;
		if (pfd[1].revents & POLLIN &&
		    read(child_uffd, &msg, sizeof(msg)) == sizeof(msg)) {
			faults++;
			if (msg.event != UFFD_EVENT_PAGEFAULT ||
			    (msg.arg.pagefault.address & ~(e->page - 1)) !=
			    (unsigned long)pg(e, 2)) {
				fail(e, "child's uffd: event 0x%x at 0x%llx", msg.event,
				     (unsigned long long)msg.arg.pagefault.address);
				goto out;
			}
			if (!expect_poison_fd(e, child_uffd, "child's uffd", pg(e, 2), e->page, 0,
					      0, e->page))
				goto out;
		}
		if (pfd[0].revents & POLLIN)
			got = read(p[0], &r, sizeof(r)) == sizeof(r);
	}
	if (!got) {
		fail(e, "no report from the child");
		goto out;
	}
	if (faults != (child_inherits(mem) ? 0 : 1)) {
		fail(e, "%d faults on the child's uffd, expected %d", faults,
		     child_inherits(mem) ? 0 : 1);
		goto out;
	}
	if (!check_child(e, &r, true))
		goto out;
	waitpid(f.pid, &status, 0);
	f.pid = -1;
	ok = expect_poison_fd(e, child_uffd, "child's uffd after its exit", pg(e, 3), e->page,
			      0, ESRCH, UNWRITTEN) &&
	     expect_poisoned(e, "parent after fork", pg(e, 2) + 5, false);
out:
	if (child_uffd >= 0)
		close(child_uffd);
	if (f.pid > 0) {
		kill(f.pid, SIGKILL);
		waitpid(f.pid, &status, 0);
	}
	close(p[0]);
	close(p[1]);
	return ok;
}

/*
 * mremap moves the marker with the page table (move_ptes(), and
 * move_hugetlb_page_tables() for hugetlb); without EVENT_REMAP the new range
 * is not registered, and keeps the poison.
 */
static bool t_mremap(struct env *e, enum uffd_mem mem)
{
	char *to, *old;

	if (mem_is_hugetlb(mem) && !claims->hugetlb_mremap)
		return skip(e, "no mremap of hugetlbfs claimed");
	if (!setup(e, mem, 0x03, 0x03) || !poison_pages(e, 2, 1))
		return false;
	to = map_aligned(2 * e->len, HPAGE_SIZE, MAP_PRIVATE, -1);
	if (to == MAP_FAILED)
		return fail(e, "mmap: %s", strerror(errno));
	old = e->p;
	e->p = mremap(old, e->len, e->len, MREMAP_MAYMOVE | MREMAP_FIXED, to);
	if (e->p == MAP_FAILED) {
		e->p = old;
		munmap(to, 2 * e->len);
		return fail(e, "mremap: %s", strerror(errno));
	}
	munmap(to + e->len, e->len);
	return expect_poisoned(e, "moved page 2", pg(e, 2) + 99, true) &&
	       pagemap_poisoned(e, "moved page 2", pg(e, 2)) &&
	       page_is(e, "moved page 0", 0, pattern(0)) &&
	       page_is(e, "moved page 1", 1, pattern(1)) &&
	       page_is(e, "page 3 (a hole, now unregistered)", 3, 0);
}

/*
 * The kernel's own accesses to a poisoned page fail with EFAULT (the
 * fault's exception fixup; no signal): a pipe's write() from it, read()
 * into it, process_vm_readv() (GUP) from it.
 */
static bool t_kernel_access(struct env *e, enum uffd_mem mem)
{
	char buf[64] = "some bytes";
	struct iovec local = { .iov_base = buf, .iov_len = sizeof(buf) };
	struct iovec remote = { .iov_base = NULL, .iov_len = sizeof(buf) };
	ssize_t w, r, v;
	int p[2], ew, er, ev;

	if (!setup(e, mem, 0, 0) || !poison_pages(e, 2, 1))
		return false;
	if (pipe(p))
		return fail(e, "pipe: %s", strerror(errno));
	errno = 0;
	w = write(p[1], pg(e, 2), sizeof(buf));
	ew = errno;
	if (write(p[1], buf, sizeof(buf)) != sizeof(buf)) {
		close(p[0]);
		close(p[1]);
		return fail(e, "write to the pipe: %s", strerror(errno));
	}
	errno = 0;
	r = read(p[0], pg(e, 2) + 100, sizeof(buf));
	er = errno;
	close(p[0]);
	close(p[1]);
	remote.iov_base = pg(e, 2) + 200;
	errno = 0;
	v = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
	ev = errno;
	if (w != -1 || ew != EFAULT || r != -1 || er != EFAULT || v != -1 || ev != EFAULT)
		return fail(e, "write() from it: %zd (%s), read() into it: %zd (%s),"
			    " process_vm_readv() from it: %zd (%s); expected EFAULT each",
			    w, strerror(ew), r, strerror(er), v, strerror(ev));
	return expect_poisoned(e, "page 2 after", pg(e, 2), false);
}

static int uffd_copy(int fd, void *dst, void *src, size_t len, int64_t *copied)
{
	struct uffdio_copy c = {
		.dst = (unsigned long)dst, .src = (unsigned long)src, .len = len,
		.copy = UNWRITTEN,
	};
	int ret = ioctl(fd, UFFDIO_COPY, &c) ? -errno : 0;

	*copied = c.copy;
	return ret;
}

/*
 * The fills over a poisoned pte, as 6.12 does them: UFFDIO_COPY and
 * UFFDIO_CONTINUE treat a marker as none (pte_none_mostly()) and replace
 * the poison with the page; UFFDIO_ZEROPAGE installs the zero page only
 * into a none pte (EEXIST) on anon and private shmem, while shared shmem
 * fills the file and maps it like COPY (hugetlb has no ZEROPAGE).
 */
static bool t_fill_over(struct env *e, enum uffd_mem mem)
{
	bool minor = mem != MEM_ANON && (claims->modes[mem] & CLAIM_MINOR);
	struct uffdio_zeropage z;
	struct uffdio_continue c;
	int64_t copied;
	char *src;
	int ret;

	/* page 4 in the file only (for CONTINUE) */
	if (!setup_feat(e, mem, UFFDIO_REGISTER_MODE_MISSING |
			(minor ? UFFDIO_REGISTER_MODE_MINOR : 0), 0x10, 0, 0) ||
	    !poison_pages(e, 2, 2))
		return false;
	src = aligned_alloc(e->page, e->page);
	if (!src)
		return fail(e, "aligned_alloc: %s", strerror(errno));
	memset(src, 'C', e->page);
	ret = uffd_copy(e->uffd, pg(e, 2), src, e->page, &copied);
	free(src);
	if (ret || copied != (int64_t)e->page)
		return fail(e, "UFFDIO_COPY over poison: %s, copy %lld", err_name(-ret),
			    (long long)copied);
	if (!page_is(e, "copied over poison", 2, 'C'))
		return false;
	if (!mem_is_hugetlb(mem)) {
		z = (struct uffdio_zeropage){
			.range = { .start = (unsigned long)pg(e, 3), .len = e->page },
			.zeropage = UNWRITTEN,
		};
		ret = ioctl(e->uffd, UFFDIO_ZEROPAGE, &z) ? -errno : 0;
		if (mem == MEM_SHMEM) {
			if (ret || z.zeropage != (int64_t)e->page ||
			    !page_is(e, "zeropage over poison", 3, 0))
				return fail(e, "UFFDIO_ZEROPAGE over poison on shared shmem: %s,"
					    " zeropage %lld", err_name(-ret),
					    (long long)z.zeropage);
		} else if (ret != -EEXIST || z.zeropage != -EEXIST ||
			   !expect_poisoned(e, "after ZEROPAGE", pg(e, 3), false)) {
			return fail(e, "UFFDIO_ZEROPAGE over poison: %s, zeropage %lld;"
				    " expected EEXIST and the poison kept", err_name(-ret),
				    (long long)z.zeropage);
		}
	}
	if (!minor)
		return true;
	/* page 4 is in the file, poisoned here; CONTINUE maps it */
	if (!poison_pages(e, 4, 1))
		return false;
	c = (struct uffdio_continue){
		.range = { .start = (unsigned long)pg(e, 4), .len = e->page },
		.mapped = UNWRITTEN,
	};
	ret = ioctl(e->uffd, UFFDIO_CONTINUE, &c) ? -errno : 0;
	if (ret || c.mapped != (int64_t)e->page)
		return fail(e, "UFFDIO_CONTINUE over poison: %s, mapped %lld", err_name(-ret),
			    (long long)c.mapped);
	return page_is(e, "continued over poison", 4, pattern(4));
}

/*
 * While a fork event is pending the mm is changing: UFFDIO_POISON says
 * EAGAIN, in "updated" too, and does nothing.
 */
static bool t_eagain(struct env *e, enum uffd_mem mem)
{
	struct uffd_msg msg;
	struct pollfd pfd;
	pid_t pid = -1;
	pthread_t t;
	int status;
	bool ok;

	if (!setup_feat(e, mem, UFFDIO_REGISTER_MODE_MISSING, 0, 0, UFFD_FEATURE_EVENT_FORK))
		return false;
	if (pthread_create(&t, NULL, do_fork, &pid))
		return fail(e, "pthread_create: %s", strerror(errno));
	pfd = (struct pollfd){ .fd = e->uffd, .events = POLLIN };
	if (poll(&pfd, 1, 10000) != 1) {
		close(e->uffd);
		e->uffd = -1;
		pthread_join(t, NULL);
		if (pid > 0)
			waitpid(pid, &status, 0);
		return fail(e, "no fork event");
	}
	ok = expect_poison(e, "during fork", pg(e, 0), e->page, 0, EAGAIN, -EAGAIN);
	if (read(e->uffd, &msg, sizeof(msg)) != sizeof(msg) || msg.event != UFFD_EVENT_FORK)
		return fail(e, "reading the fork event: %s", strerror(errno));
	close(msg.arg.fork.ufd);
	pthread_join(t, NULL);
	waitpid(pid, &status, 0);
	return ok && poison_pages(e, 0, 1) && expect_poisoned(e, "page 0", pg(e, 0), false);
}

/*
 * A THP: its PMD is not a page table, so 6.12 refuses to poison in it
 * (EEXIST); once MADV_DONTNEED of one page has split it, that page takes
 * the poison and the others keep their data.
 */
static bool t_thp(struct env *e, enum uffd_mem mem)
{
	size_t i;
	int ret;

	memset(e, 0, sizeof(*e));
	e->mem = mem;
	e->uffd = -1;
	e->mfd = -1;
	e->page = getpagesize();
	e->len = HPAGE_SIZE;
	e->p = map_thp_range();
	if (e->p == MAP_FAILED) {
		e->p = NULL;
		return fail(e, "mmap: %s", strerror(errno));
	}
	for (i = 0; i < HPAGE_SIZE / e->page; i++)
		memset(pg(e, i), pattern(i), e->page);
	if (smaps_kb(e->p, "AnonHugePages") != 2048)
		return skip(e, "no THP (AnonHugePages of the range is not 2048 kB)");
	e->uffd = uffd_open(UFFD_FEATURE_POISON);
	ret = uffd_register(e->uffd, e->p, e->len, UFFDIO_REGISTER_MODE_MISSING, NULL);
	if (ret)
		return fail(e, "UFFDIO_REGISTER: %s", strerror(-ret));
	if (!expect_poison(e, "a page of the THP", pg(e, 5), e->page, 0, EEXIST, -EEXIST))
		return false;
	if (madvise(pg(e, 5), e->page, MADV_DONTNEED))
		return fail(e, "MADV_DONTNEED: %s", strerror(errno));
	if (!poison_pages(e, 5, 1) || !expect_poisoned(e, "page 5", pg(e, 5), false) ||
	    !pagemap_poisoned(e, "page 5", pg(e, 5)))
		return false;
	for (i = 0; i < HPAGE_SIZE / e->page; i++)
		if (i != 5 && !page_is(e, "rest of the split THP", i, pattern(i)))
			return false;
	return expect_poison(e, "page 6 (mapped)", pg(e, 6), e->page, 0, EEXIST, -EEXIST);
}

struct scenario {
	const char *name;
	bool (*run)(struct env *e, enum uffd_mem mem);
	bool anon_only;
	bool no_anon;
};

static const struct scenario scenarios[] = {
	{ .name = "poisoned holes SIGBUS", .run = t_basic },
	{ .name = "EEXIST on present pages and poison, partial progress", .run = t_eexist },
	{ .name = "EEXIST on a uffd-wp marker", .run = t_wp_marker },
	{ .name = "errors", .run = t_errors },
	{ .name = "wakes a missing fault, DONTWAKE does not", .run = t_wake },
	{ .name = "MADV_DONTNEED drops poison, unregister and close keep it, munmap drops it",
	  .run = t_dontneed },
	{ .name = "hole punch (hugetlbfs drops poison, shmem keeps it), truncation drops it",
	  .run = t_punch, .no_anon = true },
	{ .name = "fork without event", .run = t_fork_noevent },
	{ .name = "fork with event", .run = t_fork_event },
	{ .name = "mremap moves poison", .run = t_mremap },
	{ .name = "kernel accesses get EFAULT", .run = t_kernel_access },
	{ .name = "COPY and CONTINUE replace poison, ZEROPAGE", .run = t_fill_over },
	{ .name = "EAGAIN during fork", .run = t_eagain },
	{ .name = "THP: EEXIST, then split", .run = t_thp, .anon_only = true },
};

#define NR_SCENARIOS (sizeof(scenarios) / sizeof(scenarios[0]))

/*
 * The ioctl where the kernel claims no poisoning: UFFDIO_POISON of a
 * registered hole must fail (EINVAL, an unknown ioctl) and leave it a
 * hole; where it claims it, it works.  And the REGISTER reply lists
 * UFFDIO_POISON exactly where claimed.
 */
static void check_ioctl(bool claimed)
{
	char *p = mmap(NULL, getpagesize(), PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint64_t ioctls = 0;
	int fd = uffd_open(0), ret;
	struct bus b;

	if (p == MAP_FAILED)
		ksft_exit_fail_msg("mmap: %s\n", strerror(errno));
	ret = uffd_register(fd, p, getpagesize(), UFFDIO_REGISTER_MODE_MISSING, &ioctls);
	if (ret)
		ksft_exit_fail_msg("UFFDIO_REGISTER: %s\n", strerror(-ret));
	check(!!(ioctls & IOC_POISON) == !!(claims->range_ioctls & IOC_POISON),
	      "UFFDIO_REGISTER's ioctls %s UFFDIO_POISON, as '%s' claims (0x%llx)",
	      claims->range_ioctls & IOC_POISON ? "list" : "do not list", claims->ref,
	      (unsigned long long)ioctls);
	ret = uffd_poison(fd, p, getpagesize(), 0, NULL);
	if (claimed) {
		check(!ret, "UFFDIO_POISON of a registered hole: %s", err_name(-ret));
	} else {
		/* after an unregister a kernel that poisoned it would SIGBUS */
		uffd_unregister(fd, p, getpagesize());
		check(ret == -EINVAL && touch(p, false, 0, &b),
		      "'%s' claims no UFFDIO_POISON: EINVAL (%s), the hole is left alone",
		      claims->ref, err_name(-ret));
	}
	close(fd);
	munmap(p, getpagesize());
}

int main(void)
{
	struct sigaction sa = { .sa_sigaction = on_sigbus, .sa_flags = SA_SIGINFO };
	bool claimed;
	size_t s;
	int mem;

	claims = uffd_claims_of_kernel();
	ksft_print_header();
	ksft_set_plan(3 + MEM_NR * NR_SCENARIOS);
	sigaction(SIGBUS, &sa, NULL);
	claimed = feature_as_claimed(claims, 14);
	check_ioctl(claimed);
	for (s = 0; s < NR_SCENARIOS; s++) {
		const struct scenario *sc = &scenarios[s];

		for (mem = 0; mem < MEM_NR; mem++) {
			const char *name = uffd_mem_names[mem];
			char title[200];
			struct env e;
			bool ok;

			snprintf(title, sizeof(title), "%s %s", sc->name, name);
			if ((sc->anon_only && mem != MEM_ANON) || (sc->no_anon && mem == MEM_ANON)) {
				ksft_test_result_skip("%s: not applicable to %s\n", title, name);
				continue;
			}
			if (!claimed) {
				ksft_test_result_skip("%s: '%s' claims no UFFDIO_POISON\n", title,
						      claims->ref);
				continue;
			}
			memset(&e, 0, sizeof(e));
			e.uffd = e.mfd = -1;
			ok = sc->run(&e, mem);
			teardown(&e);
			if (mem_is_hugetlb(mem) && !e.v.skip[0] &&
			    (meminfo("HugePages_Free") != e.hp_free ||
			     meminfo("HugePages_Rsvd") != e.hp_rsvd))
				ok = fail(&e, "huge page pool: %ld free, %ld reserved; were %ld, %ld",
					  meminfo("HugePages_Free"), meminfo("HugePages_Rsvd"),
					  e.hp_free, e.hp_rsvd);
			verdict_report(&e.v, ok, 0, claims, title);
		}
	}
	return ksft_get_fail_cnt() ? ksft_exit_fail() : ksft_exit_pass();
}
