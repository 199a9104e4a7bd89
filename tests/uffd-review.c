// SPDX-License-Identifier: GPL-2.0
/*
 * Bugs 32-35 and 39 of uffd-claims.h, found by an mm review of the series: each
 * test fails where the bug is and passes on mainline 6.12; a kernel whose
 * claims list the bug as known broken reports XFAIL, and a test of a
 * feature the kernel does not claim (wp on a memory type, MADV_DONTNEED of
 * hugetlbfs, pagemap's uffd-wp bit) is skipped with the reason.
 *
 * 32: un-protecting must not make a pte writable that soft-dirty tracking
 * still needs to see written.  CRIU's pre-dump clears the soft-dirty bits
 * (clear_refs 4) and copies only the pages whose bit 55 of pagemap is set
 * afterwards.  The series un-protected shmem with vm_get_page_prot() of the
 * vma's flags, writable for a shared mapping, instead of the vma's own
 * page protection, which keeps write-notify on for soft-dirty: the write
 * that followed set no soft-dirty bit.  Two orders, on every memory type
 * with a wp claim: clear_refs, protect, un-protect, write; and protect,
 * clear_refs, un-protect, write; every page written after the un-protect
 * must be soft-dirty.  (hugetlbfs has no per-page soft-dirty bit in
 * pagemap: 6.12 reports the vma's VM_SOFTDIRTY only.  Not applicable.)
 *
 * 33: UFFDIO_WRITEPROTECT of an anonymous THP whose PMD holds a migration
 * entry: the series' change_huge_pmd() left the entry as it was and counted
 * it done, so a protect in that moment returned 0 and the THP came back
 * from migration unprotected, and an un-protect left the bit behind.  A
 * thread migrates the THP between the two NUMA nodes with move_pages()
 * while the main thread protects or un-protects the whole THP as soon as
 * pagemap shows the PMD migration entry (PM_SWAP); then the migration in
 * flight is waited for and pagemap must show uffd-wp on all 512 pages
 * (protect) or on none (un-protect).  A round where the THP is no longer
 * PMD-mapped does not count (the THP is mapped again).  Rounds alternate
 * until both directions failed (or, with THP_ALL_ROUNDS=1, to count the
 * failures) or THP_MIGRATE_SECONDS (20) passed; a direction whose ioctl
 * met the migration entry fewer than 20 times (seen before and after the
 * ioctl) is skipped.
 *
 * 34: MADV_DONTNEED of a written page of a MAP_PRIVATE hugetlb mapping must
 * give the page's reservation back to the mapping, as 6.12's
 * __unmap_hugepage_range() does: the series' zap freed the page without it,
 * so the next fault had to find a free unreserved page, and got SIGBUS
 * when another mapping had taken them all.  Checked twice, by the
 * accounting (HugePages_Rsvd one higher after the DONTNEED) and by the
 * effect (a child maps every free unreserved huge page with MAP_NORESERVE,
 * then the owner touches its page again: no SIGBUS), on MAP_HUGETLB memory
 * and on a hugetlbfs file mapped MAP_PRIVATE.  The pool's free and reserved
 * counts are back at the end.
 *
 * 35: UFFDIO_COPY past the end of a hugetlbfs file into a MAP_PRIVATE
 * mapping of it must not leak a reservation (a 5.10 bug): the EOF check of
 * hugetlb_mcopy_atomic_pte() put the page after its reservation had been
 * committed to the vma's map, so unmapping gave one reservation too few
 * back and HugePages_Rsvd stayed one high for good.  The copy itself fails
 * with EFAULT on 5.10; 6.12 checks i_size for shared mappings only and maps
 * the private page (success): both are accepted, the pool is the verdict.
 * Not run where the leak is known (it would stay for the tests after).
 * Also in a MAP_SHARED|MAP_NORESERVE mapping (EFAULT on every kernel),
 * where the page takes no reservation but the allocation adds the index
 * to the file's reserve map: the entry must go with the page (5.10 left
 * it, and the file's truncation later returned a reservation nobody had
 * taken; the first fix made it a reservation), so HugePages_Rsvd must not
 * change with the failed copy.
 *
 * 39: a hugetlb UFFDIO_COPY whose source is not present copies outside the
 * mmap_lock and calls again; the page it waits with must not hold the
 * reservation of the destination (a 5.10 bug, fixed in 5.14): a fault at
 * the destination in that moment took the same reservation a second time,
 * so HugePages_Rsvd fell below the pool's real reservations (below zero
 * when there were no others: a huge unsigned number), and a private
 * mapping kept one reservation too many after its munmap.  Made
 * deterministic with a source registered for missing faults on a second
 * userfaultfd: the copy outside the lock waits in its fault until the
 * destination page was faulted in, through a second mapping of the file
 * (MAP_SHARED, registration MISSING) or the registered one itself
 * (MAP_PRIVATE, registration WP only: its holes fault normally, and a
 * child holds every other free huge page, so that the fault must find its
 * reservation: on 5.10 it got SIGBUS).  Then the copy fails with EEXIST;
 * HugePages_Rsvd must be right while the copy waits and after everything
 * is unmapped, and the page must hold the fault's data.
 */
#include "uffd-test.h"

#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <time.h>
#include <sys/wait.h>

#ifndef MPOL_MF_MOVE_ALL
#define MPOL_MF_MOVE_ALL (1 << 2)
#endif

/* /proc/self/pagemap: the pte is soft-dirty (or the vma is VM_SOFTDIRTY) */
#define PM_SOFT_DIRTY	(1ULL << 55)

#define NPAGES		4
#define THP_PAGES	512

static const struct uffd_claims *claims;
static size_t page;

/*
 * A test's verdict; tests that check two things in one run (33: both
 * directions, 34: accounting and effect) give the second its own.
 */
struct env {
	struct verdict v;
	struct verdict v2;
};

#define fail2(e, ...)	verdict_fail(&(e)->v2, __VA_ARGS__)

/* Skip both checks of a test. */
static bool skip_both(struct env *e, const char *why)
{
	verdict_skip(&e->v, why);
	return verdict_skip(&e->v2, why);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* ---- 32: soft-dirty after un-protect ---- */

/* echo 4 > /proc/self/clear_refs: clear the soft-dirty bits of this mm. */
static bool clear_soft_dirty(struct env *e)
{
	int fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
	bool ok = fd >= 0 && write(fd, "4", 1) == 1;

	if (fd >= 0)
		close(fd);
	return ok ? true : fail(e, "clear_refs: %s", strerror(errno));
}

/* Bit 55 of pagemap is want for every page of [p, p + NPAGES pages). */
static bool soft_dirty_is(struct env *e, char *p, bool want, const char *when)
{
	size_t i;

	for (i = 0; i < NPAGES; i++) {
		uint64_t pm = pagemap(p + i * page);

		if (!!(pm & PM_SOFT_DIRTY) != want)
			return fail(e, "%s: page %zu pagemap 0x%llx: soft-dirty %s", when, i,
				    (unsigned long long)pm, want ? "clear" : "set");
	}
	return true;
}

static bool uffd_wp_all(struct env *e, int uffd, char *p, size_t len, bool protect)
{
	int ret = uffd_wp(uffd, p, len, protect);

	return ret ? fail(e, "UFFDIO_WRITEPROTECT(%s): %s",
			  protect ? "protect" : "un-protect", strerror(-ret)) : true;
}

/*
 * NPAGES of mem written, registered for wp, then clear_refs and protect in
 * the order asked, un-protect, and a write to every page: each written
 * page must be soft-dirty, and no write may raise a wp fault.
 */
static bool soft_dirty_run(struct env *e, bool clear_first, char *p, int uffd,
			   struct wp_handler *h)
{
	size_t len = NPAGES * page, i;

	if (clear_first && !(clear_soft_dirty(e) &&
			     soft_dirty_is(e, p, false, "after clear_refs")))
		return false;
	if (!uffd_wp_all(e, uffd, p, len, true))
		return false;
	if (!clear_first && !(clear_soft_dirty(e) &&
			      soft_dirty_is(e, p, false, "after clear_refs")))
		return false;
	if (!uffd_wp_all(e, uffd, p, len, false) ||
	    !soft_dirty_is(e, p, false, "after un-protect"))
		return false;
	for (i = 0; i < NPAGES; i++)
		if (wp_write(h, p + i * page, 'w'))
			return fail(e, "the write to un-protected page %zu raised a wp fault", i);
	if (!soft_dirty_is(e, p, true, "written after un-protect"))
		return false;
	for (i = 0; i < NPAGES; i++)
		if (p[i * page] != 'w' || p[i * page + 1] != 'a' + (char)i)
			return fail(e, "page %zu lost its data", i);
	return h->unexpected ? fail(e, "%lu unexpected uffd messages", h->unexpected) : true;
}

static bool t_soft_dirty(struct env *e, enum uffd_mem mem, bool clear_first)
{
	size_t len = NPAGES * page, i;
	struct wp_handler h;
	int fd, uffd, ret;
	bool ok;
	char *p;

	if (mem_is_hugetlb(mem))
		return skip(e, "pagemap has no per-page soft-dirty bit on hugetlbfs "
			    "(6.12: the vma's only)");
	if (!(claims->modes[mem] & CLAIM_WP))
		return skip(e, "no wp claimed on this memory type");
	p = mem_map(mem, len, &fd);
	if (p == MAP_FAILED)
		return fail(e, "mmap: %s", strerror(errno));
	/* written before clear_refs: mapped, dirty, soft-dirty */
	for (i = 0; i < NPAGES; i++)
		memset(p + i * page, 'a' + i, page);
	if (!(pagemap(p) & PM_SOFT_DIRTY)) {
		mem_unmap(p, len, fd);
		return skip(e, "no soft-dirty tracking (CONFIG_MEM_SOFT_DIRTY)");
	}
	uffd = uffd_open(0);
	ret = uffd_register(uffd, p, len, UFFDIO_REGISTER_MODE_WP, NULL);
	if (ret) {
		close(uffd);
		mem_unmap(p, len, fd);
		return fail(e, "UFFDIO_REGISTER: %s", strerror(-ret));
	}
	wp_handler_start(&h, uffd, page);
	ok = soft_dirty_run(e, clear_first, p, uffd, &h);
	wp_handler_stop(&h);
	close(uffd);
	mem_unmap(p, len, fd);
	return ok;
}

/* ---- 33: UFFDIO_WRITEPROTECT of a THP under migration ---- */

/*
 * The migrating thread: moves the THP at p to the other node, again and
 * again, while run is 1; pauses at 0 (between two move_pages() calls: busy
 * says whether one is in flight), ends at -1.
 */
struct migrator {
	char *p;
	int node;		/* where the THP is */
	int run;
	int busy;
	unsigned long started, moved, failed;
	uint64_t ns;		/* time spent in move_pages() */
	int last_status;
};

static void *migrator_main(void *arg)
{
	struct migrator *m = arg;

	for (;;) {
		int run = __atomic_load_n(&m->run, __ATOMIC_SEQ_CST);
		int to, status = -1;
		void *pages[1];
		uint64_t t;

		if (run < 0)
			return NULL;
		if (!run) {
			usleep(50);
			continue;
		}
		/* busy before run is read again: migrator_pause() sees one of them */
		__atomic_store_n(&m->busy, 1, __ATOMIC_SEQ_CST);
		if (__atomic_load_n(&m->run, __ATOMIC_SEQ_CST) != 1) {
			__atomic_store_n(&m->busy, 0, __ATOMIC_SEQ_CST);
			continue;
		}
		/* read only now: the main thread maps a new THP while paused */
		pages[0] = m->p;
		to = !m->node;
		__atomic_add_fetch(&m->started, 1, __ATOMIC_SEQ_CST);
		t = now_ns();
		if (syscall(__NR_move_pages, 0, 1UL, pages, &to, &status, MPOL_MF_MOVE_ALL))
			status = -errno;
		m->ns += now_ns() - t;
		m->last_status = status;
		if (status == to) {
			m->node = to;
			m->moved++;
		} else {
			m->failed++;
		}
		__atomic_store_n(&m->busy, 0, __ATOMIC_SEQ_CST);
	}
}

/* Stop the migrator and wait for the move_pages() in flight. */
static void migrator_pause(struct migrator *m)
{
	__atomic_store_n(&m->run, 0, __ATOMIC_SEQ_CST);
	while (__atomic_load_n(&m->busy, __ATOMIC_SEQ_CST))
		sched_yield();
}

static void migrator_resume(struct migrator *m)
{
	__atomic_store_n(&m->run, 1, __ATOMIC_SEQ_CST);
}

/* The NUMA node of the page at p, or -errno. */
static int page_node(void *p)
{
	int status = -1;

	if (syscall(__NR_move_pages, 0, 1UL, &p, NULL, &status, 0))
		return -errno;
	return status;
}

/*
 * A 2 MiB-aligned anonymous THP, filled, PMD-mapped and registered for wp
 * with uffd; NULL after a fail() or skip().
 */
static char *thp_map(struct env *e, int uffd)
{
	int tries, ret;
	char *p;

	for (tries = 0; tries < 5; tries++) {
		p = map_aligned(HPAGE_SIZE, HPAGE_SIZE, MAP_PRIVATE, -1);
		if (p == MAP_FAILED) {
			fail(e, "mmap: %s", strerror(errno));
			return NULL;
		}
		madvise(p, HPAGE_SIZE, MADV_HUGEPAGE);
		memset(p, 't', HPAGE_SIZE);
		if (smaps_kb(p, "AnonHugePages") == 2048)
			break;
		munmap(p, HPAGE_SIZE);
		p = NULL;
		usleep(100000);
	}
	if (!p) {
		skip(e, "no THP (AnonHugePages of a 2 MiB-aligned MADV_HUGEPAGE range is not 2048 kB)");
		return NULL;
	}
	ret = uffd_register(uffd, p, HPAGE_SIZE, UFFDIO_REGISTER_MODE_WP, NULL);
	if (ret) {
		munmap(p, HPAGE_SIZE);
		fail(e, "UFFDIO_REGISTER: %s", strerror(-ret));
		return NULL;
	}
	return p;
}

/* How many of the THP's 512 pages pagemap shows with uffd-wp; -1 if one is not present. */
static int thp_wp_count(char *p)
{
	int i, n = 0;

	for (i = 0; i < THP_PAGES; i++) {
		uint64_t pm = pagemap(p + i * page);

		if (!(pm & PM_PRESENT))
			return -1;
		n += !!(pm & PM_UFFD_WP);
	}
	return n;
}

#define THP_MIN_HITS 20

/*
 * One round of direction protect, with the migrator paused: the opposite
 * state set quietly; the migrator resumed and the ioctl made as soon as
 * pagemap shows the PMD migration entry (PM_SWAP), or after 2 s without;
 * the migration in flight waited for.  Returns the uffd-wp count after it
 * (-1: a page not present), or -2 after a verdict_fail(); *hit says that
 * the entry was there before and after the ioctl, in one move_pages().
 */
static int thp_round(struct verdict *v, int uffd, struct migrator *m, bool protect,
		     bool *hit)
{
	uint64_t until = now_ns() + 2000000000ULL;
	bool before;
	unsigned long s;
	int n, ret;

	ret = uffd_wp(uffd, m->p, HPAGE_SIZE, !protect);
	if (ret) {
		verdict_fail(v, "quiet UFFDIO_WRITEPROTECT: %s", strerror(-ret));
		return -2;
	}
	n = thp_wp_count(m->p);
	if (n != (protect ? 0 : THP_PAGES)) {
		verdict_fail(v, "%s without migration: %d of 512 pages have uffd-wp",
			     protect ? "un-protect" : "protect", n);
		return -2;
	}
	migrator_resume(m);
	/*
	 * Yield while watching: 5.10's move_pages() starts with
	 * lru_add_drain_all(), whose work on this CPU must not wait for us.
	 */
	do {
		s = __atomic_load_n(&m->started, __ATOMIC_SEQ_CST);
		before = pagemap(m->p) & PM_SWAP;
	} while (!before && now_ns() < until && !sched_yield());
	ret = uffd_wp(uffd, m->p, HPAGE_SIZE, protect);
	*hit = before && (pagemap(m->p) & PM_SWAP) &&
	       __atomic_load_n(&m->started, __ATOMIC_SEQ_CST) == s;
	migrator_pause(m);
	if (ret) {
		verdict_fail(v, "UFFDIO_WRITEPROTECT(%s) during a migration: %s",
			     protect ? "protect" : "un-protect", strerror(-ret));
		return -2;
	}
	return thp_wp_count(m->p);
}

static bool t_thp_migrate(struct env *e)
{
	const char *dir[2] = { "protect", "un-protect" };
	struct verdict *v[2] = { &e->v, &e->v2 };
	unsigned long rounds[2] = { 0 }, hits[2] = { 0 }, bad[2] = { 0 }, splits = 0, r;
	bool seen[2] = { false, false }, hit, stop = false;
	struct migrator m = { 0 };
	const char *s = getenv("THP_MIGRATE_SECONDS");
	/* THP_ALL_ROUNDS=1: go on after a failure, to count how often it happens */
	bool all_rounds = getenv("THP_ALL_ROUNDS") && atoi(getenv("THP_ALL_ROUNDS"));
	uint64_t until;
	pthread_t t;
	int uffd, d, n;

	if (!(claims->modes[MEM_ANON] & CLAIM_WP))
		return skip_both(e, "no wp claimed on anon");
	if (!claims->pagemap_wp)
		return skip_both(e, "pagemap does not report uffd-wp on this kernel");
	uffd = uffd_open(0);
	m.p = thp_map(e, uffd);
	if (!m.p) {
		close(uffd);
		e->v2 = e->v;
		return false;
	}
	m.node = page_node(m.p);
	if (m.node < 0 || pthread_create(&t, NULL, migrator_main, &m)) {
		munmap(m.p, HPAGE_SIZE);
		close(uffd);
		fail(e, "move_pages(query) or pthread_create: %s",
		     strerror(m.node < 0 ? -m.node : errno));
		e->v2 = e->v;
		return false;
	}
	/* Warm up: the THP migrates and stays a THP; the time a move takes is printed. */
	migrator_resume(&m);
	until = now_ns() + 3000000000ULL;
	while (m.moved < 10 && now_ns() < until)
		usleep(10000);
	migrator_pause(&m);
	if (!m.moved) {
		stop = true;
		skip_both(e, "the THP never migrated");
		ksft_print_msg("move_pages() status %d\n", m.last_status);
	} else if (smaps_kb(m.p, "AnonHugePages") != 2048) {
		stop = true;
		skip_both(e, "move_pages() split the THP");
	}
	ksft_print_msg("%lu migrations of the THP in warm-up, %lu failed, %llu us each\n",
		       m.moved, m.failed,
		       (unsigned long long)(m.ns / (m.moved + m.failed ? m.moved + m.failed : 1) / 1000));
	until = now_ns() + (s ? atoi(s) : 20) * 1000000000ULL;
	for (r = 0; !stop && !(seen[0] && seen[1] && !all_rounds) && now_ns() < until; r++) {
		d = r & 1;
		if (seen[d] && !all_rounds)
			d = !d;
		n = thp_round(v[d], uffd, &m, !d, &hit);
		if (n == -2)
			break;
		if (smaps_kb(m.p, "AnonHugePages") != 2048) {
			/* split under migration: does not count, map a new THP */
			splits++;
			munmap(m.p, HPAGE_SIZE);
			m.p = thp_map(e, uffd);
			if (!m.p || (m.node = page_node(m.p)) < 0) {
				if (!e->v.why[0] && !e->v.skip[0])
					fail(e, "move_pages(query): %s", strerror(-m.node));
				e->v2 = e->v;
				break;
			}
			continue;
		}
		rounds[d]++;
		hits[d] += hit;
		if (n != (d ? 0 : THP_PAGES)) {
			seen[d] = true;
			bad[d]++;
			verdict_fail(v[d], "%s of a THP during its migration returned 0, "
				     "then %d of 512 pages had uffd-wp (round %lu)",
				     dir[d], n, rounds[d]);
		}
	}
	__atomic_store_n(&m.run, -1, __ATOMIC_SEQ_CST);
	pthread_join(t, NULL);
	if (m.p)
		munmap(m.p, HPAGE_SIZE);
	close(uffd);
	ksft_print_msg("%lu migrations (%lu failed); protect: %lu rounds, %lu on the migration "
		       "entry, %lu wrong; un-protect: %lu rounds, %lu on it, %lu wrong; "
		       "%lu THPs split\n", m.moved, m.failed, rounds[0], hits[0], bad[0],
		       rounds[1], hits[1], bad[1], splits);
	for (d = 0; d < 2; d++)
		if (!v[d]->why[0] && !v[d]->skip[0] && hits[d] < THP_MIN_HITS)
			verdict_skip(v[d], "too few ioctls on the migration entry");
	return false;
}

/* ---- 34: MADV_DONTNEED of private hugetlb keeps the reservation ---- */

#define HUGE_FILE_DONTNEED	"/mnt/huge/uffd-review-dontneed"
#define HUGE_FILE_EOF		"/mnt/huge/uffd-review-eof"

static long sysctl_long(const char *path)
{
	char buf[32] = "";

	knob(path, NULL, buf, sizeof(buf));
	return buf[0] ? atol(buf) : -1;
}

/*
 * A child that maps, once told how many, that many huge pages with
 * MAP_NORESERVE and touches them all, answers, and holds them until the
 * parent closes its end.
 */
struct hog {
	pid_t pid;
	int to, from;
};

static bool hog_start(struct env *e, struct hog *hg)
{
	int to[2], from[2];

	if (pipe(to) || pipe(from))
		return fail(e, "pipe: %s", strerror(errno));
	hg->pid = fork();
	if (hg->pid < 0)
		return fail(e, "fork: %s", strerror(errno));
	if (!hg->pid) {
		long n, i;
		char c = 0, *q = NULL;

		close(to[1]);
		close(from[0]);
		if (read(to[0], &n, sizeof(n)) != sizeof(n))
			_exit(1);
		if (n > 0) {
			q = mmap(NULL, n * HPAGE_SIZE, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_NORESERVE,
				 -1, 0);
			if (q == MAP_FAILED)
				c = 1;
			for (i = 0; !c && i < n; i++)
				q[i * HPAGE_SIZE] = 1;
		}
		if (write(from[1], &c, 1) != 1)
			_exit(1);
		/* hold the pages until the parent is done */
		while (read(to[0], &c, 1) > 0)
			;
		_exit(0);
	}
	close(to[0]);
	close(from[1]);
	hg->to = to[1];
	hg->from = from[0];
	return true;
}

/* Tell the hog to take n pages; true once it holds them. */
static bool hog_take(struct env *e, struct hog *hg, long n)
{
	char c = 1;

	if (write(hg->to, &n, sizeof(n)) != sizeof(n) || read(hg->from, &c, 1) != 1)
		return fail2(e, "the child taking %ld free huge pages died", n);
	return c ? fail2(e, "the child could not map %ld huge pages", n) : true;
}

static void hog_stop(struct hog *hg)
{
	if (hg->pid <= 0)
		return;
	close(hg->to);
	close(hg->from);
	waitpid(hg->pid, NULL, 0);
	hg->pid = 0;
}

static sigjmp_buf sigbus_jmp;

static void on_sigbus(int sig)
{
	siglongjmp(sigbus_jmp, 1);
}

/* Write a byte at p; false if that raised SIGBUS. */
static bool touch_survives(volatile char *p)
{
	struct sigaction sa = { .sa_handler = on_sigbus }, old;
	volatile bool ok = false;

	sigaction(SIGBUS, &sa, &old);
	if (!sigsetjmp(sigbus_jmp, 1)) {
		*p = 'x';
		ok = true;
	}
	sigaction(SIGBUS, &old, NULL);
	return ok;
}

/*
 * 2 huge pages mapped MAP_PRIVATE (MAP_HUGETLB, or a hugetlbfs file), both
 * written, page 0 dropped by MADV_DONTNEED: HugePages_Rsvd must be one
 * higher than after the writes (v).  Then a child takes every free huge
 * page nobody has reserved and the owner writes page 0 again: it must not
 * get SIGBUS (v2).
 */
static bool t_dontneed_resv(struct env *e, bool file)
{
	long free0 = meminfo("HugePages_Free"), rsvd0 = meminfo("HugePages_Rsvd");
	long rsvd_map, rsvd_touch, rsvd_dn, n, free1, rsvd1;
	struct hog hg = { 0 };
	bool ok = true;
	int fd = -1;
	char *p;

	if (!claims->hugetlb_dontneed) {
		return skip_both(e, "no MADV_DONTNEED of hugetlbfs (Linux 6.1+)");
	}
	if (sysctl_long("/proc/sys/vm/nr_overcommit_hugepages") != 0 ||
	    meminfo("HugePages_Surp") != 0) {
		return skip_both(e, "surplus huge pages allowed or in use: "
				 "the pool cannot be exhausted");
	}
	if (free0 - rsvd0 < 3) {
		return skip_both(e, "fewer than 3 free unreserved huge pages");
	}
	/* forked first, so that it shares none of the owner's pages */
	if (!hog_start(e, &hg))
		return false;
	if (file) {
		fd = open(HUGE_FILE_DONTNEED, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600);
		if (fd < 0) {
			hog_stop(&hg);
			return fail(e, "%s: %s", HUGE_FILE_DONTNEED, strerror(errno));
		}
		unlink(HUGE_FILE_DONTNEED);
		if (ftruncate(fd, 2 * HPAGE_SIZE)) {
			close(fd);
			hog_stop(&hg);
			return fail(e, "ftruncate: %s", strerror(errno));
		}
		p = mmap(NULL, 2 * HPAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	} else {
		p = mmap(NULL, 2 * HPAGE_SIZE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
	}
	if (p == MAP_FAILED) {
		if (fd >= 0)
			close(fd);
		hog_stop(&hg);
		return fail(e, "mmap: %s", strerror(errno));
	}
	rsvd_map = meminfo("HugePages_Rsvd");
	memset(p, 'a', 2 * HPAGE_SIZE);
	rsvd_touch = meminfo("HugePages_Rsvd");
	if (rsvd_map != rsvd0 + 2 || rsvd_touch != rsvd0)
		ok = fail(e, "HugePages_Rsvd %ld before, %ld after mmap of 2 pages, %ld after writing them",
			  rsvd0, rsvd_map, rsvd_touch);
	if (ok && madvise(p, HPAGE_SIZE, MADV_DONTNEED))
		ok = fail(e, "MADV_DONTNEED: %s", strerror(errno));
	if (!ok) {
		fail2(e, "not run: %s", e->v.why);
		goto out;
	}
	rsvd_dn = meminfo("HugePages_Rsvd");
	if (rsvd_dn != rsvd_touch + 1)
		fail(e, "HugePages_Rsvd %ld after MADV_DONTNEED of a written private page, "
		     "%ld before, not %ld: its reservation was given away", rsvd_dn, rsvd_touch,
		     rsvd_touch + 1);
	/* the effect: every free page nobody reserved is taken */
	n = meminfo("HugePages_Free") - meminfo("HugePages_Rsvd");
	if (!hog_take(e, &hg, n))
		goto out;
	if (meminfo("HugePages_Free") != meminfo("HugePages_Rsvd")) {
		fail2(e, "a child took %ld huge pages, and still %ld free, %ld reserved", n,
		      meminfo("HugePages_Free"), meminfo("HugePages_Rsvd"));
		goto out;
	}
	if (!touch_survives(p))
		fail2(e, "SIGBUS writing the page dropped by MADV_DONTNEED, after a child "
		      "took the %ld free unreserved huge pages", n);
	else if (p[1] != 0 || p[HPAGE_SIZE] != 'a')
		fail2(e, "page 0 after MADV_DONTNEED: byte 1 is 0x%02x, page 1: 0x%02x",
		      p[1], p[HPAGE_SIZE]);
out:
	hog_stop(&hg);
	munmap(p, 2 * HPAGE_SIZE);
	if (fd >= 0)
		close(fd);
	free1 = meminfo("HugePages_Free");
	rsvd1 = meminfo("HugePages_Rsvd");
	if (free1 != free0 || rsvd1 != rsvd0) {
		fail(e, "huge page pool at the end: %ld free, %ld reserved; before: %ld, %ld",
		     free1, rsvd1, free0, rsvd0);
		fail2(e, "huge page pool at the end: %ld free, %ld reserved; before: %ld, %ld",
		      free1, rsvd1, free0, rsvd0);
	}
	return false;
}

/* The huge page pool's free and reserved counts are back (after when). */
static bool pool_back(struct env *e, long free0, long rsvd0, const char *when)
{
	long free1 = meminfo("HugePages_Free"), rsvd1 = meminfo("HugePages_Rsvd");

	if (free1 == free0 && rsvd1 == rsvd0)
		return true;
	return fail(e, "huge page pool after %s: %ld free, %ld reserved; before: %ld, %ld",
		    when, free1, rsvd1, free0, rsvd0);
}

/* ---- 35: UFFDIO_COPY past EOF of a private hugetlb mapping ---- */

static bool t_copy_eof(struct env *e, bool shared)
{
	enum uffd_mem mem = shared ? MEM_HUGETLB : MEM_HUGETLB_PRIVATE;
	long free0 = meminfo("HugePages_Free"), rsvd0 = meminfo("HugePages_Rsvd");
	long rsvd_map;
	struct uffdio_copy copy;
	bool ok = true;
	int fd, uffd, ret, err;
	char *p, *src;

	/* the leak would starve the hugetlb tests that come after this one */
	if (claims->known_broken & SCENARIO(35))
		return fail(e, "not run: known to leak a huge page reservation");
	if (!(claims->modes[mem] & CLAIM_MISSING))
		return skip(e, "no missing faults claimed on this memory type");
	if (free0 - rsvd0 < 2)
		return skip(e, "fewer than 2 free unreserved huge pages");
	src = mmap(NULL, HPAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (src == MAP_FAILED)
		return fail(e, "mmap: %s", strerror(errno));
	memset(src, 'C', HPAGE_SIZE);
	fd = open(HUGE_FILE_EOF, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0) {
		munmap(src, HPAGE_SIZE);
		return fail(e, "%s: %s", HUGE_FILE_EOF, strerror(errno));
	}
	if (ftruncate(fd, 2 * HPAGE_SIZE)) {
		ok = fail(e, "ftruncate: %s", strerror(errno));
		goto out_file;
	}
	p = mmap(NULL, 2 * HPAGE_SIZE, PROT_READ | PROT_WRITE,
		 shared ? MAP_SHARED | MAP_NORESERVE : MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED) {
		ok = fail(e, "mmap: %s", strerror(errno));
		goto out_file;
	}
	rsvd_map = meminfo("HugePages_Rsvd");
	if (rsvd_map != rsvd0 + (shared ? 0 : 2))
		ok = fail(e, "HugePages_Rsvd %ld after mmap of 2 %s pages, %ld before",
			  rsvd_map, shared ? "MAP_NORESERVE" : "private", rsvd0);
	uffd = uffd_open(0);
	ret = uffd_register(uffd, p, 2 * HPAGE_SIZE, UFFDIO_REGISTER_MODE_MISSING, NULL);
	if (ret) {
		ok = fail(e, "UFFDIO_REGISTER: %s", strerror(-ret));
		goto out_map;
	}
	if (ftruncate(fd, HPAGE_SIZE)) {
		ok = fail(e, "ftruncate: %s", strerror(errno));
		goto out_map;
	}
	copy = (struct uffdio_copy){
		.dst = (unsigned long)p + HPAGE_SIZE, .src = (unsigned long)src,
		.len = HPAGE_SIZE,
	};
	rsvd_map = meminfo("HugePages_Rsvd");
	err = ioctl(uffd, UFFDIO_COPY, &copy) ? errno : 0;
	if (err == EFAULT && meminfo("HugePages_Rsvd") != rsvd_map) {
		ok = fail(e, "HugePages_Rsvd %ld after the failed UFFDIO_COPY, %ld before it",
			  meminfo("HugePages_Rsvd"), rsvd_map);
	} else if (err == EFAULT) {
		ksft_print_msg("UFFDIO_COPY past EOF: EFAULT (copy %lld)\n", (long long)copy.copy);
	} else if (!err && !shared) {
		/* 6.12 maps a private page past EOF */
		ksft_print_msg("UFFDIO_COPY past EOF: success (copy %lld)\n", (long long)copy.copy);
		if (p[HPAGE_SIZE] != 'C' || p[2 * HPAGE_SIZE - 1] != 'C')
			ok = fail(e, "UFFDIO_COPY past EOF succeeded, but the page does not hold the data");
	} else {
		ok = fail(e, "UFFDIO_COPY past EOF: %s, not EFAULT (5.10) or success (6.12)",
			  strerror(err));
	}
out_map:
	munmap(p, 2 * HPAGE_SIZE);
	close(uffd);
out_file:
	close(fd);
	unlink(HUGE_FILE_EOF);
	munmap(src, HPAGE_SIZE);
	return pool_back(e, free0, rsvd0, "munmap, close and unlink") && ok;
}

/* ---- 39: hugetlb UFFDIO_COPY retried outside the mmap_lock ---- */

struct copy_enoent {
	int uffd;		/* the destination's */
	char *dst;
	char *src;
	int err;		/* errno of the UFFDIO_COPY, 0 if it succeeded */
};

static void *copy_enoent_main(void *arg)
{
	struct copy_enoent *c = arg;
	struct uffdio_copy copy = {
		.dst = (unsigned long)c->dst, .src = (unsigned long)c->src,
		.len = HPAGE_SIZE,
	};

	c->err = ioctl(c->uffd, UFFDIO_COPY, &copy) ? errno : 0;
	return NULL;
}

/* wait up to 20 s for a fault message on uffd; false on timeout */
static bool wait_fault(struct env *e, int uffd, struct uffd_msg *msg)
{
	struct pollfd pfd = { .fd = uffd, .events = POLLIN };

	if (poll(&pfd, 1, 20000) != 1)
		return fail(e, "no fault on the source within 20 s");
	if (read(uffd, msg, sizeof(*msg)) != sizeof(*msg) || msg->event != UFFD_EVENT_PAGEFAULT)
		return fail(e, "read of the source's userfaultfd: %s", strerror(errno));
	return true;
}

static bool t_copy_enoent(struct env *e, bool shared)
{
	enum uffd_mem mem = shared ? MEM_HUGETLB : MEM_HUGETLB_PRIVATE;
	long free0 = meminfo("HugePages_Free"), rsvd0 = meminfo("HugePages_Rsvd");
	long rsvd_map, rsvd_wait;
	struct copy_enoent c = { .uffd = -1 };
	struct hog hg = { 0 };
	struct uffdio_copy fill;
	struct uffd_msg msg;
	uint64_t mode = shared ? UFFDIO_REGISTER_MODE_MISSING : UFFDIO_REGISTER_MODE_WP;
	unsigned int need = shared ? CLAIM_MISSING : CLAIM_WP;
	char *dst, *other = MAP_FAILED, *src = MAP_FAILED, *data = MAP_FAILED;
	int fd, suffd = -1, ret;
	bool ok = true, started = false;
	pthread_t t;

	if (!(claims->modes[mem] & need))
		return skip(e, shared ? "no missing faults claimed on hugetlb" :
			    "no write-protection claimed on hugetlb-private");
	if (free0 - rsvd0 < 4)
		return skip(e, "fewer than 4 free unreserved huge pages");
	dst = mem_map(mem, HPAGE_SIZE, &fd);
	if (dst == MAP_FAILED)
		return fail(e, "hugetlb memfd: %s", strerror(errno));
	rsvd_map = meminfo("HugePages_Rsvd");
	if (shared) {
		other = mmap(NULL, HPAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (other == MAP_FAILED) {
			ok = fail(e, "second mmap: %s", strerror(errno));
			goto out;
		}
	}
	/* the source: anon, faults to a second userfaultfd; data: its bytes */
	src = mmap(NULL, HPAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	data = mmap(NULL, HPAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (src == MAP_FAILED || data == MAP_FAILED) {
		ok = fail(e, "mmap: %s", strerror(errno));
		goto out;
	}
	memset(data, 'S', HPAGE_SIZE);
	madvise(src, HPAGE_SIZE, MADV_NOHUGEPAGE);
	/* forked before the userfaultfds exist, so that it holds none open */
	if (!shared && !hog_start(e, &hg)) {
		ok = false;
		goto out;
	}
	c.uffd = uffd_open(0);
	suffd = uffd_open(0);
	ret = uffd_register(c.uffd, dst, HPAGE_SIZE, mode, NULL);
	if (!ret)
		ret = uffd_register(suffd, src, HPAGE_SIZE, UFFDIO_REGISTER_MODE_MISSING, NULL);
	if (ret) {
		ok = fail(e, "UFFDIO_REGISTER: %s", strerror(-ret));
		goto out;
	}
	c.dst = dst;
	c.src = src;
	if (pthread_create(&t, NULL, copy_enoent_main, &c)) {
		ok = fail(e, "pthread_create");
		goto out;
	}
	started = true;
	/* the copy outside the lock waits in the source's fault */
	if (!wait_fault(e, suffd, &msg)) {
		ok = false;
		goto out;
	}
	/*
	 * The destination's page, faulted in while the copy waits.  In the
	 * private mapping only its reservation can give it a page: the hog
	 * holds every other free one.
	 */
	if (!shared) {
		if (!hog_take(e, &hg, meminfo("HugePages_Free") - meminfo("HugePages_Rsvd"))) {
			ok = fail(e, "%s", e->v2.why);
			goto out;
		}
		if (!touch_survives(dst)) {
			ok = fail(e, "SIGBUS: the private mapping's fault found its reservation taken");
			goto out;
		}
	} else {
		other[0] = 'x';
	}
	rsvd_wait = meminfo("HugePages_Rsvd");
	if (rsvd_wait != rsvd_map - 1)
		ok = fail(e, "HugePages_Rsvd %ld while the copy waits, after the fault took the "
			  "page's reservation: %ld expected (%ld after mmap)",
			  rsvd_wait, rsvd_map - 1, rsvd_map);
	fill = (struct uffdio_copy){
		.dst = (unsigned long)src, .src = (unsigned long)data, .len = HPAGE_SIZE,
	};
	if (ioctl(suffd, UFFDIO_COPY, &fill) && errno != EEXIST)
		ok = fail(e, "UFFDIO_COPY into the source: %s", strerror(errno));
out:
	hog_stop(&hg);
	if (started) {
		/* an unresolved fault ends with its uffd */
		if (!joined_within(t, 20000)) {
			close(suffd);
			suffd = -1;
			pthread_join(t, NULL);
		}
		if (c.err != EEXIST)
			ok = fail(e, "UFFDIO_COPY onto the faulted page: %s, not EEXIST",
				  c.err ? strerror(c.err) : "success");
		if (ok && (dst[0] != 'x' || dst[HPAGE_SIZE - 1] != 0))
			ok = fail(e, "the destination does not hold the fault's data");
	}
	if (suffd >= 0)
		close(suffd);
	if (c.uffd >= 0)
		close(c.uffd);
	if (src != MAP_FAILED)
		munmap(src, HPAGE_SIZE);
	if (data != MAP_FAILED)
		munmap(data, HPAGE_SIZE);
	if (other != MAP_FAILED)
		munmap(other, HPAGE_SIZE);
	mem_unmap(dst, HPAGE_SIZE, fd);
	return pool_back(e, free0, rsvd0, "munmap and close") && ok;
}

int main(void)
{
	struct env e;
	int mem, order;
	char name[160];

	claims = uffd_claims_of_kernel();
	page = getpagesize();
	ksft_print_header();
	ksft_set_plan(2 * MEM_NR + 2 + 4 + 2 + 2);

	for (order = 0; order < 2; order++) {
		for (mem = 0; mem < MEM_NR; mem++) {
			memset(&e, 0, sizeof(e));
			snprintf(name, sizeof(name), "32 soft-dirty: %s, un-protect, write %s",
				 order ? "protect, clear_refs" : "clear_refs, protect",
				 uffd_mem_names[mem]);
			verdict_report(&e.v, t_soft_dirty(&e, mem, !order), 32, claims, name);
		}
	}

	memset(&e, 0, sizeof(e));
	t_thp_migrate(&e);
	verdict_report(&e.v, !e.v.why[0] && !e.v.skip[0], 33, claims,
		       "33 protect a THP under migration: all 512 pages protected");
	verdict_report(&e.v2, !e.v2.why[0] && !e.v2.skip[0], 33, claims,
		       "33 un-protect a THP under migration: no page protected");

	for (order = 0; order < 2; order++) {
		const char *what = order ? "hugetlbfs file" : "MAP_HUGETLB";

		memset(&e, 0, sizeof(e));
		t_dontneed_resv(&e, order);
		snprintf(name, sizeof(name),
			 "34 MADV_DONTNEED of a private %s page gives the reservation back", what);
		verdict_report(&e.v, !e.v.why[0] && !e.v.skip[0], 34, claims, name);
		snprintf(name, sizeof(name),
			 "34 MADV_DONTNEED of a private %s page: no SIGBUS after others took the pool",
			 what);
		verdict_report(&e.v2, !e.v2.why[0] && !e.v2.skip[0], 34, claims, name);
	}

	for (order = 0; order < 2; order++) {
		memset(&e, 0, sizeof(e));
		snprintf(name, sizeof(name),
			 "35 UFFDIO_COPY past EOF of a %s hugetlbfs mapping leaks no reservation",
			 order ? "MAP_SHARED|MAP_NORESERVE" : "private");
		verdict_report(&e.v, t_copy_eof(&e, order), 35, claims, name);
	}

	for (order = 0; order < 2; order++) {
		memset(&e, 0, sizeof(e));
		snprintf(name, sizeof(name),
			 "39 hugetlb UFFDIO_COPY retried outside the lock holds no reservation (%s)",
			 order ? "private, wp" : "shared, missing");
		verdict_report(&e.v, t_copy_enoent(&e, !order), 39, claims, name);
	}

	return ksft_get_fail_cnt() ? ksft_exit_fail() : ksft_exit_pass();
}
