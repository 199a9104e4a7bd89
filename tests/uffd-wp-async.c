// SPDX-License-Identifier: GPL-2.0
/*
 * UFFD_FEATURE_WP_UNPOPULATED (mainline 6.4) and UFFD_FEATURE_WP_ASYNC
 * (6.7), held to what mainline 6.12 does.
 *
 * WP_UNPOPULATED: UFFDIO_WRITEPROTECT of anonymous memory never touched
 * leaves uffd-wp markers (pagemap bit 57), so that its first write raises a
 * wp fault as a populated page's would; a read maps zeros, protected,
 * without a message.  (File memory has markers anyway.)
 *
 * WP_ASYNC: a write to a protected page never blocks and raises no message:
 * the kernel drops the page's protection itself, so that pagemap (bit 57)
 * and PAGEMAP_SCAN's PAGE_IS_WRITTEN tell the written pages from the
 * others, which keep it.  On every memory type, on memory never touched
 * (WP_ASYNC implies WP_UNPOPULATED), across reclaim, THP splits and fork.
 * Every check verifies the data.
 *
 * Pinned pages: an anonymous page pinned for DMA (an io_uring fixed
 * buffer) that is write-protected, then written, stays the page the pin
 * holds, whether the protection is asynchronous or resolved by a handler
 * (5.10's base copied it at the write that followed the un-protection).
 *
 * A kernel that does not claim a feature (uffd-claims.h) skips its
 * scenarios, and fails if it advertises or accepts it nonetheless.
 */
#include "uffd-test.h"

#include <signal.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <linux/io_uring.h>

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif

#define NPAGES 8
#define THP_PAGES 512
#define MAX_PAGES THP_PAGES

static const struct uffd_claims *claims;

struct env {
	enum uffd_mem mem;
	size_t page, len, npages;
	char *p;
	int mfd;
	int uffd;
	struct wp_handler h;
	struct verdict v;
};

static char pattern(size_t i)
{
	return 'A' + i % 26;
}

static char *pg(struct env *e, size_t i)
{
	return e->p + i * e->page;
}

/* Every byte of page i is c. */
static bool page_is(struct env *e, size_t i, char c, const char *when)
{
	size_t k;

	for (k = 0; k < e->page; k++)
		if (pg(e, i)[k] != c)
			return fail(e, "%s: page %zu byte %zu is 0x%02x, expected 0x%02x", when,
				    i, k, (unsigned char)pg(e, i)[k], (unsigned char)c);
	return true;
}

/* Page i holds `written` where written[i], else `other`(i). */
static bool data_is(struct env *e, const bool *written, char w, bool zero, const char *when)
{
	size_t i;

	for (i = 0; i < e->npages; i++)
		if (!page_is(e, i, written[i] ? w : zero ? 0 : pattern(i), when))
			return false;
	return true;
}

/* Write all of page i with c; no wp message may come of it. */
static bool write_page(struct env *e, size_t i, char c)
{
	unsigned long before = __atomic_load_n(&e->h.wp_faults, __ATOMIC_SEQ_CST);

	memset(pg(e, i), c, e->page);
	if (__atomic_load_n(&e->h.wp_faults, __ATOMIC_SEQ_CST) != before)
		return fail(e, "the write to page %zu raised a wp fault message", i);
	return true;
}

/* Write every page of written[] with c. */
static bool write_pages(struct env *e, const bool *written, char c)
{
	size_t i;

	for (i = 0; i < e->npages; i++)
		if (written[i] && !write_page(e, i, c))
			return false;
	return true;
}

/* The handler saw no message at all. */
static bool no_messages(struct env *e, const char *when)
{
	if (e->h.wp_faults || e->h.unexpected)
		return fail(e, "%s: %lu wp fault messages, %lu others", when, e->h.wp_faults,
			    e->h.unexpected);
	return true;
}

/* pagemap's uffd-wp bit of page i is want. */
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

/* Exactly the pages not in written[] have the uffd-wp bit. */
static bool wp_bits(struct env *e, const bool *written, const char *when)
{
	size_t i;

	for (i = 0; i < e->npages; i++)
		if (!wp_bit_is(e, i, !written[i], when))
			return false;
	return true;
}

/*
 * PAGEMAP_SCAN (where claimed) reports exactly the pages of written[] as
 * PAGE_IS_WRITTEN.
 */
static bool scan_written(struct env *e, const bool *written, const char *when)
{
	struct page_region vec[64];
	struct pm_scan_arg a = {
		.vec = (unsigned long)vec, .vec_len = 64,
		.category_mask = PAGE_IS_WRITTEN, .return_mask = PAGE_IS_WRITTEN,
	};
	bool got[MAX_PAGES] = { false };
	unsigned long base = (unsigned long)e->p, x;
	long n, r;
	size_t i;

	if (!claims->pagemap_scan)
		return true;
	n = pm_scan(&a, e->p, e->len);
	if (n < 0)
		return fail(e, "%s: PAGEMAP_SCAN: %s", when, strerror(-n));
	for (r = 0; r < n; r++) {
		if (vec[r].start < base || vec[r].end > base + e->len ||
		    vec[r].categories != PAGE_IS_WRITTEN)
			return fail(e, "%s: PAGEMAP_SCAN region 0x%llx-0x%llx categories 0x%llx",
				    when, (unsigned long long)vec[r].start,
				    (unsigned long long)vec[r].end,
				    (unsigned long long)vec[r].categories);
		for (x = vec[r].start; x < vec[r].end; x += getpagesize())
			got[(x - base) / e->page] = true;
	}
	for (i = 0; i < e->npages; i++)
		if (got[i] != written[i])
			return fail(e, "%s: PAGEMAP_SCAN says page %zu is %swritten", when, i,
				    got[i] ? "" : "not ");
	return true;
}

/* written[] is as pagemap and PAGEMAP_SCAN see it, and the data is intact. */
static bool tracked(struct env *e, const bool *written, char w, bool zero, const char *when)
{
	return wp_bits(e, written, when) && scan_written(e, written, when) &&
	       data_is(e, written, w, zero, when) && no_messages(e, when);
}

/*
 * Map NPAGES of mem, filled with pattern(i) (file types through a second,
 * shared mapping) unless untouched, read in through p unless lazy; register
 * p for wp with features and start the handler.
 */
static bool setup(struct env *e, enum uffd_mem mem, uint64_t features, bool untouched,
		  bool lazy)
{
	size_t i;
	char *q;
	int ret;

	memset(e, 0, sizeof(*e));
	e->mem = mem;
	e->uffd = -1;
	e->page = mem_page_size(mem);
	e->npages = NPAGES;
	e->len = NPAGES * e->page;
	e->p = mem_map(mem, e->len, &e->mfd);
	if (e->p == MAP_FAILED) {
		e->p = NULL;
		return fail(e, "mmap: %s", strerror(errno));
	}
	if (!untouched) {
		q = e->mfd < 0 ? e->p : mmap(NULL, e->len, PROT_READ | PROT_WRITE,
					     MAP_SHARED, e->mfd, 0);
		if (q == MAP_FAILED)
			return fail(e, "mmap of the file: %s", strerror(errno));
		for (i = 0; i < NPAGES; i++)
			memset(q + i * e->page, pattern(i), e->page);
		if (q != e->p)
			munmap(q, e->len);
		if (!lazy)
			for (i = 0; i < NPAGES; i++)
				(void)*(volatile char *)pg(e, i);
	}
	e->uffd = uffd_open(features);
	ret = uffd_register(e->uffd, e->p, e->len, UFFDIO_REGISTER_MODE_WP, NULL);
	if (ret)
		return fail(e, "UFFDIO_REGISTER: %s", strerror(-ret));
	wp_handler_start(&e->h, e->uffd, e->page);
	return true;
}

static void teardown(struct env *e)
{
	wp_handler_stop(&e->h);
	if (e->uffd >= 0)
		close(e->uffd);
	if (e->p)
		mem_unmap(e->p, e->len, e->mfd);
	else if (e->mfd >= 0)
		close(e->mfd);
}

static bool protect_all(struct env *e)
{
	int ret = uffd_wp(e->uffd, e->p, e->len, true);

	return ret ? fail(e, "UFFDIO_WRITEPROTECT: %s", strerror(-ret)) : true;
}

static const bool none_written[MAX_PAGES];

/*
 * WP_UNPOPULATED: protecting memory never touched marks every pte, and the
 * first write to each page raises one wp fault (resolved by un-protecting).
 */
static bool t_unpopulated_write(struct env *e, enum uffd_mem mem)
{
	size_t i;

	if (!setup(e, mem, UFFD_FEATURE_WP_UNPOPULATED, true, true) || !protect_all(e) ||
	    !wp_bits(e, none_written, "after protecting untouched memory"))
		return false;
	for (i = 0; i < NPAGES; i++) {
		unsigned long n = wp_write(&e->h, pg(e, i), 'w');

		if (n != 1)
			return fail(e, "the first write to page %zu raised %lu wp faults", i, n);
		if (!wp_bit_is(e, i, false, "after the write") || pg(e, i)[0] != 'w' ||
		    pg(e, i)[1] != 0)
			return fail(e, "page %zu after the write: 0x%02x 0x%02x", i,
				    (unsigned char)pg(e, i)[0], (unsigned char)pg(e, i)[1]);
	}
	return e->h.unexpected == 0;
}

/*
 * WP_UNPOPULATED: a read of protected memory never touched maps zeros,
 * raises no message and leaves the page protected: its write still traps.
 */
static bool t_unpopulated_read(struct env *e, enum uffd_mem mem)
{
	size_t i;

	if (!setup(e, mem, UFFD_FEATURE_WP_UNPOPULATED, true, true) || !protect_all(e))
		return false;
	for (i = 0; i < NPAGES; i++)
		if (!page_is(e, i, 0, "read of untouched memory"))
			return false;
	if (!no_messages(e, "after the reads") || !wp_bits(e, none_written, "after the reads"))
		return false;
	for (i = 0; i < NPAGES; i++)
		if (!(pagemap(pg(e, i)) & PM_PRESENT))
			return fail(e, "page %zu not mapped after its read", i);
	if (wp_write(&e->h, pg(e, 3), 'w') != 1)
		return fail(e, "the write after the read did not trap once");
	return page_is(e, 2, 0, "page 2") && pg(e, 3)[0] == 'w' && e->h.unexpected == 0;
}

/*
 * Without WP_UNPOPULATED untouched anonymous memory is not protected: no
 * marker, no fault (5.10's and 6.12's behaviour alike).
 */
static bool t_no_unpopulated(struct env *e, enum uffd_mem mem)
{
	static const bool all[MAX_PAGES] = { [0 ... MAX_PAGES - 1] = true };
	size_t i;

	if (!setup(e, mem, 0, true, true) || !protect_all(e) ||
	    !wp_bits(e, all, "after protecting untouched memory"))
		return false;
	for (i = 0; i < NPAGES; i++)
		if (wp_write(&e->h, pg(e, i), 'w') != 0)
			return fail(e, "the write to untouched page %zu trapped", i);
	return e->h.unexpected == 0;
}

/*
 * WP_ASYNC: writes to protected pages go through without a message; only
 * the written pages lose the protection.  Protecting again re-arms them.
 */
static bool t_async(struct env *e, enum uffd_mem mem)
{
	bool w1[NPAGES] = { [1] = true, [3] = true, [6] = true };
	bool w2[NPAGES] = { [0] = true, [3] = true };
	bool both[NPAGES] = { [0] = true, [1] = true, [3] = true, [6] = true };
	size_t i;

	if (!setup(e, mem, UFFD_FEATURE_WP_ASYNC, false, false) || !protect_all(e) ||
	    !tracked(e, none_written, 0, false, "after protect"))
		return false;
	if (!write_pages(e, w1, 'W') || !tracked(e, w1, 'W', false, "after the writes"))
		return false;
	/* a second write to a written page, and a write to another */
	if (!write_pages(e, w2, 'W') || !tracked(e, both, 'W', false, "after more writes"))
		return false;
	if (!protect_all(e) || !wp_bits(e, none_written, "after protecting again") ||
	    !scan_written(e, none_written, "after protecting again"))
		return false;
	for (i = 0; i < NPAGES; i++)
		if (!page_is(e, i, both[i] ? 'W' : pattern(i), "after protecting again"))
			return false;
	return no_messages(e, "after protecting again");
}

/*
 * WP_ASYNC on memory never touched: WP_ASYNC alone implies WP_UNPOPULATED,
 * so anonymous memory gets markers too; reads map zeros protected, writes
 * drop the protection of their page only.
 */
static bool t_async_unpopulated(struct env *e, enum uffd_mem mem)
{
	bool w[NPAGES] = { [0] = true, [5] = true };

	if (!setup(e, mem, UFFD_FEATURE_WP_ASYNC, true, true) || !protect_all(e) ||
	    !wp_bits(e, none_written, "after protecting untouched memory") ||
	    !scan_written(e, none_written, "after protecting untouched memory"))
		return false;
	if (!page_is(e, 2, 0, "read") || !write_pages(e, w, 'W'))
		return false;
	if (!(pagemap(pg(e, 2)) & PM_PRESENT))
		return fail(e, "page 2 not mapped after its read");
	return tracked(e, w, 'W', true, "after a read and writes");
}

/* MADV_PAGEOUT of every page: none stays mapped (zram swap in the guest). */
static bool page_out(struct env *e)
{
	size_t i;
	int tries;

	for (tries = 0; tries < 10; tries++) {
		bool out = true;

		lru_drain_all();
		if (madvise(e->p, e->len, MADV_PAGEOUT))
			return fail(e, "MADV_PAGEOUT: %s", strerror(errno));
		for (i = 0; i < e->npages; i++)
			out &= !(pagemap(pg(e, i)) & PM_PRESENT);
		if (out)
			return true;
		usleep(10000);
	}
	return fail(e, "pages still mapped after MADV_PAGEOUT");
}

/*
 * WP_ASYNC across reclaim: paged-out pages keep their protection (anon in
 * the swap entry, shmem in a marker); a write brings its page back
 * unprotected, reads bring theirs back protected.
 */
static bool t_async_reclaim(struct env *e, enum uffd_mem mem)
{
	bool w[NPAGES] = { [2] = true, [4] = true };

	if (meminfo("SwapTotal") <= 0)
		return skip(e, "no swap in this guest");
	if (!setup(e, mem, UFFD_FEATURE_WP_ASYNC, false, false) || !protect_all(e) ||
	    !page_out(e) || !wp_bits(e, none_written, "after MADV_PAGEOUT") ||
	    !scan_written(e, none_written, "after MADV_PAGEOUT"))
		return false;
	if (!write_pages(e, w, 'W'))
		return false;
	return tracked(e, w, 'W', false, "after writes to paged-out pages") &&
	       page_out(e) && wp_bits(e, w, "after a second MADV_PAGEOUT") &&
	       tracked(e, w, 'W', false, "after the second swap-in");
}

/* A 2 MiB-aligned anon range mapped by a THP, registered, protected. */
static bool setup_thp_unprotected(struct env *e, uint64_t features)
{
	size_t i;
	int ret;

	memset(e, 0, sizeof(*e));
	e->mem = MEM_ANON;
	e->uffd = -1;
	e->mfd = -1;
	e->page = getpagesize();
	e->npages = THP_PAGES;
	e->len = HPAGE_SIZE;
	e->p = map_thp_range();
	if (e->p == MAP_FAILED) {
		e->p = NULL;
		return fail(e, "mmap: %s", strerror(errno));
	}
	for (i = 0; i < THP_PAGES; i++)
		memset(pg(e, i), pattern(i), e->page);
	if (smaps_kb(e->p, "AnonHugePages") != 2048)
		return skip(e, "no THP (AnonHugePages of the range is not 2048 kB)");
	e->uffd = uffd_open(features);
	ret = uffd_register(e->uffd, e->p, e->len, UFFDIO_REGISTER_MODE_WP, NULL);
	if (ret)
		return fail(e, "UFFDIO_REGISTER: %s", strerror(-ret));
	wp_handler_start(&e->h, e->uffd, e->page);
	return true;
}

static bool setup_thp(struct env *e, enum uffd_mem mem)
{
	return setup_thp_unprotected(e, UFFD_FEATURE_WP_ASYNC) && protect_all(e) &&
	       tracked(e, none_written, 0, false, "after protecting the THP");
}

/*
 * WP_ASYNC, THP: the write to one 4K page of a protected THP splits the PMD
 * (6.12's wp_huge_pmd()); that page alone loses the protection.
 */
static bool t_async_thp_write(struct env *e, enum uffd_mem mem)
{
	static bool w[MAX_PAGES];

	memset(w, 0, sizeof(w));
	w[7] = true;
	if (!setup_thp(e, mem) || !write_page(e, 7, 'W'))
		return false;
	if (smaps_kb(e->p, "AnonHugePages") != 0)
		return fail(e, "the PMD was not split by the write (AnonHugePages %ld kB)",
			    smaps_kb(e->p, "AnonHugePages"));
	if (!tracked(e, w, 'W', false, "after the write to page 7"))
		return false;
	w[300] = true;
	return write_page(e, 300, 'W') && tracked(e, w, 'W', false, "after a write to page 300");
}

/*
 * WP_ASYNC, THP split by mprotect() of half of it and by MADV_DONTNEED of
 * one page: the ptes keep the protection; the zapped anonymous page has
 * none (an anonymous zap keeps no marker) and PAGEMAP_SCAN counts it as
 * written (6.12: an empty pte of a uffd-wp vma is "written").
 */
static bool t_async_thp_split(struct env *e, enum uffd_mem mem)
{
	static bool w[MAX_PAGES];
	size_t i;

	memset(w, 0, sizeof(w));
	if (!setup_thp(e, mem))
		return false;
	if (mprotect(e->p, HPAGE_SIZE / 2, PROT_READ) ||
	    mprotect(e->p, HPAGE_SIZE / 2, PROT_READ | PROT_WRITE))
		return fail(e, "mprotect: %s", strerror(errno));
	if (madvise(pg(e, 100), e->page, MADV_DONTNEED))
		return fail(e, "MADV_DONTNEED: %s", strerror(errno));
	w[100] = true;
	if (!wp_bits(e, w, "after the split") || !scan_written(e, w, "after the split"))
		return false;
	for (i = 0; i < THP_PAGES; i++)
		if (!page_is(e, i, i == 100 ? 0 : pattern(i), "after the split"))
			return false;
	w[0] = w[300] = true;
	if (!write_page(e, 0, 'W') || !write_page(e, 300, 'W') || !write_page(e, 100, 'W'))
		return false;
	return tracked(e, w, 'W', false, "after writes");
}

/*
 * What a child of fork() sees: without EVENT_FORK its vma is not registered
 * and no pte carries the uffd-wp bit (6.12 copies none: pte_clear_uffd_wp(),
 * and markers only into a wp vma); with it, the child's vma is registered
 * for async wp and its ptes keep the bits, which its own writes drop.
 * Either way the child's writes never block.
 */
struct fork_arg {
	struct env *e;
	bool event;
};

static const char *fork_child(void *arg)
{
	struct fork_arg *f = arg;
	struct env *e = f->e;
	bool w[NPAGES] = { [1] = true };
	size_t i;

	for (i = 0; i < NPAGES; i++)
		if (!wp_bit_is(e, i, f->event, "in the child") ||
		    !page_is(e, i, pattern(i), "in the child"))
			return e->v.why;
	memset(pg(e, 1), 'c', e->page);
	for (i = 0; i < NPAGES; i++)
		if (!wp_bit_is(e, i, f->event && !w[i], "in the child after its write"))
			return e->v.why;
	return page_is(e, 1, 'c', "in the child after its write") ? NULL : e->v.why;
}

static bool t_async_fork(struct env *e, enum uffd_mem mem, bool event)
{
	struct fork_arg f = { .e = e, .event = event };
	bool w[NPAGES] = { [2] = true };
	struct pollfd pfd;
	int child_uffd;
	size_t i;

	if (!setup(e, mem, UFFD_FEATURE_WP_ASYNC | (event ? UFFD_FEATURE_EVENT_FORK : 0),
		   false, false) || !protect_all(e))
		return false;
	if (!in_child(&e->v, fork_child, &f, false, "child"))
		return false;
	child_uffd = __atomic_load_n(&e->h.fork_ufd, __ATOMIC_SEQ_CST);
	if (event) {
		if (child_uffd < 0)
			return fail(e, "no fork event");
		pfd = (struct pollfd){ .fd = child_uffd, .events = POLLIN };
		i = poll(&pfd, 1, 0);
		close(child_uffd);
		if (i)
			return fail(e, "a message on the child's uffd");
	} else if (child_uffd >= 0) {
		return fail(e, "a fork event without EVENT_FORK");
	}
	/*
	 * The child's write lands in shared memory only, and the parent's
	 * tracking does not see it: its ptes keep their protection.
	 */
	if (!wp_bits(e, none_written, "parent after fork") ||
	    !scan_written(e, none_written, "parent after fork") ||
	    !page_is(e, 1, mem_is_shared(mem) ? 'c' : pattern(1), "the child's write"))
		return false;
	return write_page(e, 2, 'W') && wp_bits(e, w, "after the parent's write") &&
	       scan_written(e, w, "after the parent's write") &&
	       page_is(e, 2, 'W', "after the parent's write") && no_messages(e, "after fork");
}

static bool t_async_fork_noevent(struct env *e, enum uffd_mem mem)
{
	return t_async_fork(e, mem, false);
}

static bool t_async_fork_event(struct env *e, enum uffd_mem mem)
{
	return t_async_fork(e, mem, true);
}

/*
 * An io_uring whose one fixed buffer is a page of ours: registering it pins
 * the page (FOLL_PIN | FOLL_LONGTERM), as a driver doing DMA would, and
 * IORING_OP_READ_FIXED then writes into the page through that pin, not
 * through our page tables.
 */
struct pin_ring {
	int fd;
	char *sq;
	struct io_uring_sqe *sqes;
	size_t sq_len, sqes_len;
	struct io_uring_params prm;
};

static void pin_ring_close(struct pin_ring *r)
{
	if (r->sqes)
		munmap(r->sqes, r->sqes_len);
	if (r->sq)
		munmap(r->sq, r->sq_len);
	if (r->fd >= 0)
		close(r->fd);
}

/* 0, or -errno; 1: no io_uring with one mapping for both rings (5.4) */
static int pin_ring_open(struct pin_ring *r, void *buf, size_t len)
{
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	size_t cq_len;

	memset(r, 0, sizeof(*r));
	r->fd = syscall(__NR_io_uring_setup, 2, &r->prm);
	if (r->fd < 0)
		return 1;
	if (!(r->prm.features & IORING_FEAT_SINGLE_MMAP)) {
		close(r->fd);
		r->fd = -1;
		return 1;
	}
	r->sq_len = r->prm.sq_off.array + r->prm.sq_entries * sizeof(__u32);
	cq_len = r->prm.cq_off.cqes + r->prm.cq_entries * sizeof(struct io_uring_cqe);
	if (cq_len > r->sq_len)
		r->sq_len = cq_len;
	r->sqes_len = r->prm.sq_entries * sizeof(struct io_uring_sqe);
	r->sq = mmap(NULL, r->sq_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
		     r->fd, IORING_OFF_SQ_RING);
	if (r->sq == MAP_FAILED) {
		r->sq = NULL;
		return -errno;
	}
	r->sqes = mmap(NULL, r->sqes_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
		       r->fd, IORING_OFF_SQES);
	if (r->sqes == MAP_FAILED) {
		r->sqes = NULL;
		return -errno;
	}
	if (syscall(__NR_io_uring_register, r->fd, IORING_REGISTER_BUFFERS, &iov, 1))
		return -errno;
	return 0;
}

/* READ_FIXED of len bytes of fd (from offset 0) into buf: bytes read or -errno */
static long pin_ring_read(struct pin_ring *r, int fd, void *buf, size_t len)
{
	unsigned int *tail = (unsigned int *)(r->sq + r->prm.sq_off.tail);
	unsigned int mask = *(unsigned int *)(r->sq + r->prm.sq_off.ring_mask);
	unsigned int *array = (unsigned int *)(r->sq + r->prm.sq_off.array);
	unsigned int *cq_head = (unsigned int *)(r->sq + r->prm.cq_off.head);
	unsigned int cq_mask = *(unsigned int *)(r->sq + r->prm.cq_off.ring_mask);
	struct io_uring_cqe *cqes = (struct io_uring_cqe *)(r->sq + r->prm.cq_off.cqes);
	unsigned int t = *tail, h;
	struct io_uring_sqe *sqe = &r->sqes[t & mask];
	long res;

	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = IORING_OP_READ_FIXED;
	sqe->fd = fd;
	sqe->addr = (unsigned long)buf;
	sqe->len = len;
	sqe->buf_index = 0;
	array[t & mask] = t & mask;
	__atomic_store_n(tail, t + 1, __ATOMIC_RELEASE);
	if (syscall(__NR_io_uring_enter, r->fd, 1, 1, IORING_ENTER_GETEVENTS, NULL, 0) < 0)
		return -errno;
	h = __atomic_load_n(cq_head, __ATOMIC_ACQUIRE);
	res = cqes[h & cq_mask].res;
	__atomic_store_n(cq_head, h + 1, __ATOMIC_RELEASE);
	return res;
}

enum pin_protect { PIN_UFFDIO, PIN_SCAN, PIN_SYNC, PIN_NONE };

/*
 * The CPU writes page 0, then the "device" writes it through the pin (a
 * page of 'D' read from src): the program must read the device's data.
 */
static bool pinned_write(struct env *e, struct pin_ring *r, int src, const char *when)
{
	long n;

	memset(pg(e, 0), 'C', e->page);
	n = pin_ring_read(r, src, pg(e, 0), e->page);
	if (n != (long)e->page)
		return fail(e, "%s: READ_FIXED: %s", when, n < 0 ? strerror(-n) : "short");
	return page_is(e, 0, 'D', when);
}

/*
 * A page pinned for DMA (an io_uring fixed buffer) that is write-protected
 * and then written by the CPU must stay the page the pin holds: what the
 * device writes later is what the program reads.  5.10 copies an
 * anonymous page whose count is not one at a write fault, so such a page
 * must never be left read-only for the write that follows: not by the
 * protection (resolved by the kernel, WP_ASYNC, or by the handler), not
 * by the split of a protected THP, not by the un-protection of the whole
 * range afterwards (PIN_NONE: of a range where nothing was protected).
 * Mainline keeps such pages exclusive instead.
 */
static bool t_pinned(struct env *e, enum pin_protect how, bool thp)
{
	static const bool first[MAX_PAGES] = { [0] = true };
	struct pm_scan_arg a = { .flags = PM_SCAN_WP_MATCHING };
	uint64_t features = how == PIN_SYNC || how == PIN_NONE ? 0 : UFFD_FEATURE_WP_ASYNC;
	struct pin_ring r;
	char dma[256];
	bool ok = false;
	size_t k;
	long n;
	int src, ret;

	if (thp ? !setup_thp_unprotected(e, features) :
		  !setup(e, MEM_ANON, features, false, false))
		return false;
	ret = pin_ring_open(&r, pg(e, 0), e->page);
	if (ret) {
		pin_ring_close(&r);
		return ret > 0 ? skip(e, "no io_uring") :
				 fail(e, "IORING_REGISTER_BUFFERS: %s", strerror(-ret));
	}
	/* what the device will write: a page of 'D' in a memfd */
	memset(dma, 'D', sizeof(dma));
	src = memfd_create("dma", 0);
	for (k = 0; src >= 0 && k < e->page; k += sizeof(dma))
		if (pwrite(src, dma, sizeof(dma), k) != sizeof(dma))
			break;
	if (src < 0 || k < e->page) {
		ok = fail(e, "the device's data in a memfd: %s", strerror(errno));
		goto out;
	}
	if (thp && smaps_kb(e->p, "AnonHugePages") != 2048) {
		ok = skip(e, "no THP after the pin");
		goto out;
	}
	if (how == PIN_NONE)
		goto unprotect;
	if (how == PIN_SCAN) {
		n = pm_scan(&a, e->p, e->len);
		ret = n < 0 ? n : 0;
	} else {
		ret = uffd_wp(e->uffd, e->p, e->len, true);
	}
	if (ret) {
		ok = fail(e, "protect: %s", strerror(-ret));
		goto out;
	}
	/* the pages nobody pinned are protected (a THP is pinned whole) */
	if (!thp && !wp_bit_is(e, 1, true, "an unpinned page after protect"))
		goto out;
	if (!pinned_write(e, &r, src, "the pinned page written while protected"))
		goto out;
	/*
	 * A pinned THP stays unprotected whole on the series; 6.12 protects
	 * it and splits it at the write: only page 0 is sure to be written.
	 */
	if (how != PIN_SYNC &&
	    (!wp_bit_is(e, 0, false, "the written pinned page") ||
	     (!thp && !scan_written(e, first, "the written pinned page")) ||
	     !no_messages(e, "the written pinned page")))
		goto out;
unprotect:
	ret = uffd_wp(e->uffd, e->p, e->len, false);
	if (ret) {
		ok = fail(e, "un-protect: %s", strerror(-ret));
		goto out;
	}
	/*
	 * A THP that stays mapped whole is reused whole by a write fault:
	 * split it, so that the write meets page 0's own pte.
	 */
	if (thp && madvise(pg(e, THP_PAGES - 1), e->page, MADV_DONTNEED)) {
		ok = fail(e, "MADV_DONTNEED: %s", strerror(errno));
		goto out;
	}
	ok = pinned_write(e, &r, src, "the pinned page written after the range was un-protected");
out:
	if (src >= 0)
		close(src);
	pin_ring_close(&r);
	return ok;
}

static bool t_pinned_uffdio(struct env *e, enum uffd_mem mem)
{
	return t_pinned(e, PIN_UFFDIO, false);
}

static bool t_pinned_scan(struct env *e, enum uffd_mem mem)
{
	return t_pinned(e, PIN_SCAN, false);
}

static bool t_pinned_sync(struct env *e, enum uffd_mem mem)
{
	return t_pinned(e, PIN_SYNC, false);
}

static bool t_pinned_unprotect(struct env *e, enum uffd_mem mem)
{
	return t_pinned(e, PIN_NONE, false);
}

static bool t_pinned_thp_unprotect(struct env *e, enum uffd_mem mem)
{
	return t_pinned(e, PIN_NONE, true);
}

static bool t_pinned_thp_uffdio(struct env *e, enum uffd_mem mem)
{
	return t_pinned(e, PIN_UFFDIO, true);
}

static bool t_pinned_thp_scan(struct env *e, enum uffd_mem mem)
{
	return t_pinned(e, PIN_SCAN, true);
}

static bool t_pinned_thp_sync(struct env *e, enum uffd_mem mem)
{
	return t_pinned(e, PIN_SYNC, true);
}

struct scenario {
	const char *name;
	bool (*run)(struct env *e, enum uffd_mem mem);
	int feature;		/* the feature bit it needs claimed, or -1 */
	bool anon_only;
	bool no_hugetlb;
};

static const struct scenario scenarios[] = {
	{ .name = "unpopulated: protect marks untouched memory, the first write traps",
	  .run = t_unpopulated_write, .feature = 13 },
	{ .name = "unpopulated: a read maps zeros, no message, still protected",
	  .run = t_unpopulated_read, .feature = 13 },
	{ .name = "without WP_UNPOPULATED untouched anon is not protected",
	  .run = t_no_unpopulated, .feature = -1, .anon_only = true },
	{ .name = "async: writes go through, only written pages lose wp",
	  .run = t_async, .feature = 15 },
	{ .name = "async: untouched memory", .run = t_async_unpopulated, .feature = 15 },
	{ .name = "async: reclaim", .run = t_async_reclaim, .feature = 15, .no_hugetlb = true },
	{ .name = "async: a write splits a protected THP", .run = t_async_thp_write,
	  .feature = 15, .anon_only = true },
	{ .name = "async: THP split by mprotect and MADV_DONTNEED", .run = t_async_thp_split,
	  .feature = 15, .anon_only = true },
	{ .name = "async: fork without event", .run = t_async_fork_noevent, .feature = 15 },
	{ .name = "async: fork with event", .run = t_async_fork_event, .feature = 15 },
	{ .name = "async: a pinned page protected by UFFDIO_WRITEPROTECT stays the DMA target",
	  .run = t_pinned_uffdio, .feature = 15, .anon_only = true },
	{ .name = "async: a pinned page protected by PAGEMAP_SCAN stays the DMA target",
	  .run = t_pinned_scan, .feature = 15, .anon_only = true },
	{ .name = "wp: a pinned page resolved by the handler stays the DMA target",
	  .run = t_pinned_sync, .feature = -1, .anon_only = true },
	{ .name = "async: a pinned THP protected by UFFDIO_WRITEPROTECT stays the DMA target",
	  .run = t_pinned_thp_uffdio, .feature = 15, .anon_only = true },
	{ .name = "async: a pinned THP protected by PAGEMAP_SCAN stays the DMA target",
	  .run = t_pinned_thp_scan, .feature = 15, .anon_only = true },
	{ .name = "wp: a pinned THP resolved by the handler stays the DMA target",
	  .run = t_pinned_thp_sync, .feature = -1, .anon_only = true },
	{ .name = "wp: un-protecting a range leaves a pinned page the DMA target",
	  .run = t_pinned_unprotect, .feature = -1, .anon_only = true },
	{ .name = "wp: un-protecting a range leaves a pinned THP the DMA target",
	  .run = t_pinned_thp_unprotect, .feature = -1, .anon_only = true },
};

#define NR_SCENARIOS (sizeof(scenarios) / sizeof(scenarios[0]))

/* The features of uffd's context, from its fdinfo ("API:\taa:<features>:<ioctls>"). */
static uint64_t ctx_features(int uffd)
{
	char path[64], buf[512] = "", *api;
	unsigned long long f = 0;
	unsigned int a;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", uffd);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n > 0)
		buf[n] = 0;
	api = strstr(buf, "API:");
	if (!api || sscanf(api, "API:\t%x:%llx:", &a, &f) != 2)
		return 0;
	return f;
}

/*
 * WP_ASYNC implies WP_UNPOPULATED in the uffd's context (6.12's
 * userfaultfd_api()); the reply lists what the kernel has, as for any
 * request.  A kernel that claims neither refuses both.
 */
static void check_api(bool unpopulated, bool async)
{
	struct uffdio_api api;
	int fd = uffd_open_raw(0), ret13, ret15;
	uint64_t f;

	if (async) {
		ret15 = uffd_api(fd, UFFD_FEATURE_WP_ASYNC, &api);
		f = ctx_features(fd);
		check(!ret15 && (f & UFFD_FEATURE_WP_UNPOPULATED) && api.features == claims->features,
		      "UFFDIO_API(WP_ASYNC): %s, context features 0x%llx (WP_UNPOPULATED %s),"
		      " reply 0x%llx", strerror(-ret15), (unsigned long long)f,
		      f & UFFD_FEATURE_WP_UNPOPULATED ? "implied" : "missing",
		      (unsigned long long)api.features);
		close(fd);
		return;
	}
	ret15 = uffd_api(fd, UFFD_FEATURE_WP_ASYNC, NULL);
	close(fd);
	fd = uffd_open_raw(0);
	ret13 = uffd_api(fd, UFFD_FEATURE_WP_UNPOPULATED, NULL);
	close(fd);
	check(ret15 == -EINVAL && (unpopulated ? !ret13 : ret13 == -EINVAL),
	      "'%s' claims no WP_ASYNC%s: UFFDIO_API with WP_ASYNC: %s, with WP_UNPOPULATED: %s",
	      claims->ref, unpopulated ? "" : " nor WP_UNPOPULATED", strerror(-ret15),
	      strerror(-ret13));
}

int main(void)
{
	bool claimed[UFFD_NR_FEATURE_BITS] = { false };
	size_t s;
	int mem;

	claims = uffd_claims_of_kernel();
	ksft_print_header();
	ksft_set_plan(3 + MEM_NR * NR_SCENARIOS);
	claimed[13] = feature_as_claimed(claims, 13);
	claimed[15] = feature_as_claimed(claims, 15);
	check_api(claimed[13], claimed[15]);
	for (s = 0; s < NR_SCENARIOS; s++) {
		const struct scenario *sc = &scenarios[s];

		for (mem = 0; mem < MEM_NR; mem++) {
			const char *name = uffd_mem_names[mem];
			char title[200];
			struct env e;
			bool ok;

			snprintf(title, sizeof(title), "%s %s", sc->name, name);
			if ((sc->anon_only && mem != MEM_ANON) ||
			    (sc->no_hugetlb && mem_is_hugetlb(mem))) {
				ksft_test_result_skip("%s: not applicable to %s\n", title, name);
				continue;
			}
			if (!(claims->modes[mem] & CLAIM_WP)) {
				ksft_test_result_skip("%s: '%s' claims no wp on %s\n", title,
						      claims->ref, name);
				continue;
			}
			if (sc->feature >= 0 && !claimed[sc->feature]) {
				ksft_test_result_skip("%s: '%s' claims no UFFD_FEATURE_%s\n", title,
						      claims->ref,
						      uffd_feature_names[sc->feature].name);
				continue;
			}
			memset(&e, 0, sizeof(e));
			e.uffd = e.mfd = -1;
			ok = sc->run(&e, mem);
			verdict_report(&e.v, ok, 0, claims, title);
			teardown(&e);
		}
	}
	return ksft_get_fail_cnt() ? ksft_exit_fail() : ksft_exit_pass();
}
