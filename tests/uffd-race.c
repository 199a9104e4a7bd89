// SPDX-License-Identifier: GPL-2.0
/*
 * Data-verified race stress of userfaultfd on every memory type: the mm
 * changes under registered regions while writers, readers and resolvers run,
 * and every byte and every write-protect fault is accounted for.
 *
 * Per memory type, one userfaultfd serves three regions:
 * - wp: registered WP.  NWRITERS threads own a slot (head and tail word) of
 *   every page, verify the whole page's slots and write theirs; a protector
 *   write-protects the pages again and again; the handlers un-protect the
 *   page of each wp fault.  A write to a page protected since its last wp
 *   fault must raise a fault ("lost" otherwise); no slot may change but by
 *   its writer or by a racer whose effect the model knows ("corrupt").
 * - minor (shmem, hugetlbfs): registered MINOR; threads write the pages
 *   through a second, unregistered MAP_SHARED mapping of the file and read
 *   them back through the registered one; the handlers UFFDIO_CONTINUE.
 * - missing: registered MISSING; a thread reads its pages, the handlers fill
 *   them with UFFDIO_COPY of a page whose content says which page it is.
 * - async (where the kernel claims UFFD_FEATURE_WP_ASYNC and PAGEMAP_SCAN):
 *   registered WP with a second userfaultfd, asynchronous (WP_ASYNC, with
 *   or without WP_UNPOPULATED, chosen by the seed).  Writers write its
 *   pages (checking what was there) and no write may block: a wp fault
 *   message from that uffd fails the test.  A tracker scans it with
 *   PAGEMAP_SCAN and PM_SCAN_WP_MATCHING (random sub-ranges, vector
 *   lengths and max_pages, with PM_SCAN_CHECK_WPASYNC or not), as a
 *   write-tracking program does: every page written after the scan that
 *   last protected it must be reported written by the next scan over it
 *   ("lost" otherwise: a write counted done before a scan started, after
 *   the scan before it had ended, that the scan did not report).  Now and
 *   then it scans without protecting (the same rule), scans with
 *   PM_SCAN_WP_MATCHING across all the regions (only the async region may
 *   be reported) and the wp region alone (registered without WP_ASYNC:
 *   nothing reported, EPERM with PM_SCAN_CHECK_WPASYNC), and the others
 *   read-only; every result is held to pm_scan_result_bad().  Operations
 *   that make the kernel forget a write legitimately (unregister, close;
 *   on hugetlbfs MADV_DONTNEED and hole punching, whose empty huge ptes
 *   6.12 does not count as written) restart the page's tracking.
 *
 * Racers (RACERS=comma list, default all that apply): MADV_DONTNEED,
 * MADV_PAGEOUT, punch hole, fork (the child, without the fork event, must
 * see no protection and, for private memory, the data), mremap of wp pages
 * away and back (UFFD_FEATURE_EVENT_REMAP: the protection moves with them),
 * mprotect read-only and back, move_pages() between the two NUMA nodes, THP
 * splits (MADV_COLD or mprotect of part of a THP), khugepaged (scanning every
 * 10 ms), UFFDIO_UNREGISTER and REGISTER of wp pages (the protection goes:
 * pagemap checked where the kernel reports it), close of the userfaultfd
 * (then reopened, every region registered and protected again) and
 * MADV_COLLAPSE of a huge page's worth of any mapping (where the kernel
 * claims it; it must refuse wp ptes and holes under MISSING, and keep every
 * byte; its expected errnos are not counted as operations) and UFFDIO_POISON
 * (where claimed) of pages of the missing and the minor region, emptied by
 * MADV_DONTNEED first half the time, while their faults are pending and
 * resolved by COPY and CONTINUE: a poisoned page reads as SIGBUS
 * BUS_MCEERR_AR at the address accessed, until the reader that met it
 * heals it (UFFDIO_COPY or CONTINUE over the poison, or MADV_DONTNEED);
 * no page reads anything but its content or, once poisoned (and maybe
 * healed by a racer since), that SIGBUS; a fork child of anon or private
 * shmem sees the poison its page tables hold.  The mremap racer moves minor pages (and their poison)
 * and async pages too, the unregister racer async ones.  Racers that
 * change contents or protection hold the page locks of their pages, so that
 * the model stays exact; everything else races freely.  A racer the kernel
 * under test is known to get wrong (uffd-claims.h) is left out, and said so.
 *
 * MEM=<type>|all (default all), RACERS=..., DURATION=seconds in all (10,
 * split across the memory types), SEED=n (default: time).  One TAP test per
 * memory type; a type whose wp the kernel does not claim is skipped.  What
 * a kernel does not claim (uffd-claims.h: POISON, WP_ASYNC, PAGEMAP_SCAN)
 * is left out, and said so.
 */
#include "uffd-test.h"

#include <setjmp.h>
#include <signal.h>
#include <time.h>
#include <sys/wait.h>
#include <linux/falloc.h>
#include <linux/mempolicy.h>

#ifndef MADV_COLD
#define MADV_COLD 20
#endif
#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif
#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif

#define NP_MAX		1024
#define NWRITERS	3
#define NAWRITERS	2
#define NMINOR		2
#define NHANDLERS	2
#define NRACERS		2
#define NPENDING	64
#define NSLOTS		(2 * NWRITERS)
#define THP_DIR		"/sys/kernel/mm/transparent_hugepage/"
/* A PAGEMAP_SCAN vector: longer than one walk's worth (PM_SCAN_ONE_WALK) */
#define VEC_MAX		600
#define UNWRITTEN	0x5a5a5a5a5a5aLL

enum { R_DONTNEED, R_PAGEOUT, R_PUNCH, R_FORK, R_MREMAP, R_MPROTECT, R_MIGRATE,
	R_THPSPLIT, R_KHUGEPAGED, R_UNREGISTER, R_CLOSE, R_COLLAPSE, R_POISON, R_NR };
/* Counted operations: the racers', then these. */
enum { K_WRITE = R_NR, K_PROTECT, K_WP_FAULT, K_MINOR_WRITE, K_MINOR_READ,
	K_MINOR_FAULT, K_MISSING_READ, K_MISSING_FAULT, K_REMAP_EVENT, K_ASYNC_WRITE,
	K_SCAN, K_SCAN_WRITTEN, K_SCAN_CHECKED, K_POISONED, K_POISON_SIGBUS, K_HEAL, K_NR };
static const char *const kind_names[K_NR] = {
	"dontneed", "pageout", "punch", "fork", "mremap", "mprotect", "migrate",
	"thpsplit", "khugepaged", "unregister", "close", "collapse", "poison",
	"write", "protect", "wp-fault", "minor-write", "minor-read", "minor-fault",
	"missing-read", "missing-fault", "remap-event", "async-write", "scan",
	"scan-written", "scan-checked", "poisoned", "poison-sigbus", "heal",
};

struct region {
	char *p;	/* registered */
	char *b;	/* minor: the file mapped again, MAP_SHARED, unregistered */
	size_t n;	/* pages */
	int fd;		/* the memfd, -1 for anon */
	uint64_t mode;	/* UFFDIO_REGISTER_MODE_*, 0 when not used */
	bool async;	/* registered with the asynchronous uffd */
};

static const struct uffd_claims *claims;
static enum uffd_mem mem;
static size_t ps;
static struct region wr, mr, xr, ar;	/* wp, minor, missing, async */
static struct region *regions[4];
static int nregions;
/* where mremap moves wp, minor and async pages to */
static char *spare, *mspare, *aspare;
static int uffd, auffd = -1;
static uint64_t features, afeatures;
static unsigned int active;		/* bit per racer */
static bool stop, stop_handlers;
static unsigned int mem_seed;
/* What the kernel claims of mainline's 6.4-6.7 ABI */
static bool has_poison, has_async;

/*
 * Every access and racer operation holds world for reading; the close of the
 * userfaultfd holds it for writing, so that nothing is in flight then.
 */
static pthread_rwlock_t world;
/* Page locks of the wp and the minor region: contents change under them. */
static pthread_mutex_t wlock[NP_MAX], minlock[NP_MAX];
static uint64_t expected[NP_MAX][NWRITERS];
static uint64_t mgen[NP_MAX];
/*
 * The protection model, under wp_lock: busy pages are left alone; an anon
 * page can be protected only once populated (no markers for anon).
 */
static pthread_mutex_t wp_lock = PTHREAD_MUTEX_INITIALIZER;
static bool armed[NP_MAX], busy[NP_MAX], populated[NP_MAX];
static unsigned long faults[NP_MAX];

/* The handlers stop for the close of the userfaultfd. */
static pthread_mutex_t pause_mx = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pause_cv = PTHREAD_COND_INITIALIZER;
static int pause_req, paused;

/*
 * The async region: page locks (writers, and racers that change contents,
 * protection or the mapping), the content each page must have, and the
 * tracking model.  started and done count the writes of a page begun and
 * finished (atomic); hi is an upper bound of the writes done when the
 * page was last protected (by a scan that reported it or looked at it, or
 * by a protecting operation), under alock; epoch is bumped (under alock)
 * at the start and the end of every operation that moves, unregisters or
 * makes the kernel forget a page's writes: a scan that overlapped one
 * cannot tell what it saw of that page (uncertain: the next scan of it
 * checks nothing).  aops counts such operations of the whole region.
 */
static pthread_mutex_t alock[NP_MAX];
static uint64_t aexp[NP_MAX];
static unsigned long astarted[NP_MAX], adone[NP_MAX], ahi[NP_MAX], aepoch[NP_MAX], aops;
static bool auncertain[NP_MAX];
/*
 * Poison of the missing and the minor region (pz[0], pz[1]): set (before
 * the ioctl) where a page may be poisoned, cleared by the reader that
 * healed it, or by the poisoner whose ioctl did not poison it.  Poisoners
 * and the heal hold xlock[i] (minor: minlock[i]), so that a clear never
 * hides a poison in flight; the reader of the missing region reads without
 * it, so that its faults race with the poisoning.
 */
static bool pz[2][NP_MAX];
static pthread_mutex_t xlock[NP_MAX];

static unsigned long ops[K_NR];
static unsigned long corrupt, lost, extra, verified, child_bad, stale, errors,
	unexpected, nprinted, alost, amsgs;

static bool madv(void *p, size_t len, int advice, const char *what);
static size_t pick(struct region *r, unsigned int *s, size_t *i, size_t max);

static void add(unsigned long *n)
{
	__atomic_add_fetch(n, 1, __ATOMIC_SEQ_CST);
}

static bool stopping(void)
{
	return __atomic_load_n(&stop, __ATOMIC_SEQ_CST);
}

/* Count a problem in *n; the first few are printed. */
static void bad(unsigned long *n, const char *fmt, ...)
{
	char msg[200];
	va_list ap;

	add(n);
	if (__atomic_fetch_add(&nprinted, 1, __ATOMIC_SEQ_CST) >= 20)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ksft_print_msg("%s: %s\n", uffd_mem_names[mem], msg);
}

static char *pg(struct region *r, size_t i)
{
	return r->p + i * ps;
}

/* Slot k of a page: k < NWRITERS at its head, the others at its tail. */
static volatile uint64_t *slot(char *page, int k)
{
	return (volatile uint64_t *)(page + (k < NWRITERS ? (size_t)k * 8 : ps - (size_t)(NSLOTS - k) * 8));
}

/* The minor and missing pages are checked by their first and last slot. */
static uint64_t mval(size_t i)
{
	return 0xaULL << 60 | (uint64_t)(i + 1) << 40 | mgen[i];
}

static uint64_t xval(size_t i)
{
	return 0xbULL << 60 | (i + 1);
}

static void put(char *page, uint64_t v)
{
	*slot(page, 0) = v;
	*slot(page, NSLOTS - 1) = v;
}

static bool page_is(const char *what, size_t i, char *page, uint64_t v)
{
	uint64_t h = *slot(page, 0), t = *slot(page, NSLOTS - 1);

	if (h == v && t == v)
		return true;
	bad(&corrupt, "%s page %zu: 0x%llx 0x%llx, expected 0x%llx", what, i,
	    (unsigned long long)h, (unsigned long long)t, (unsigned long long)v);
	return false;
}

/*
 * SIGBUS of an access to a poisoned page, caught by the thread that made
 * it (SA_NODEFER, and sigsetjmp() without the mask: no system call per
 * read).
 */
static __thread sigjmp_buf bus_jmp;
static __thread volatile int bus_armed;
static __thread siginfo_t bus_si;

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	if (!bus_armed) {
		signal(sig, SIG_DFL);	/* not a guarded read: die on the refault */
		return;
	}
	bus_si = *si;
	siglongjmp(bus_jmp, 1);
}

/*
 * No access of the test may fault for good: say where one did, which region
 * and page that is, and end the test.
 */
static void on_sigsegv(int sig, siginfo_t *si, void *uc)
{
	static const struct { const char *name; struct region *r; int spare; } where[] = {
		{ "wp", &wr, 0 }, { "minor", &mr, 0 }, { "minor alias", &mr, 2 },
		{ "missing", &xr, 0 }, { "async", &ar, 0 }, { "wp spare", &wr, 1 },
		{ "minor spare", &mr, 1 }, { "async spare", &ar, 1 },
	};
	unsigned long a = (unsigned long)si->si_addr, base;
	char msg[200];
	size_t k;
	int n;

	for (k = 0; k < sizeof(where) / sizeof(where[0]); k++) {
		base = (unsigned long)(where[k].spare == 2 ? where[k].r->b : !where[k].spare ?
				       where[k].r->p : where[k].r == &wr ? spare :
				       where[k].r == &mr ? mspare : aspare);
		if (base && a >= base && a < base + where[k].r->n * ps)
			break;
	}
	n = snprintf(msg, sizeof(msg), "# %s: signal %d code %d at 0x%lx (%s page %lu)\n",
		     uffd_mem_names[mem], sig, si->si_code, a,
		     k < sizeof(where) / sizeof(where[0]) ? where[k].name : "no region",
		     k < sizeof(where) / sizeof(where[0]) ? (a - base) / ps : 0);
	if (write(1, msg, n) < 0)
		_exit(3);
	_exit(3);
}

/* The head and tail slots of page; false if the read raised SIGBUS (*si). */
static bool peek(char *page, uint64_t *h, uint64_t *t, siginfo_t *si)
{
	bus_armed = 1;
	if (sigsetjmp(bus_jmp, 0)) {
		bus_armed = 0;
		*si = bus_si;
		return false;
	}
	*h = *slot(page, 0);
	*t = *slot(page, NSLOTS - 1);
	bus_armed = 0;
	return true;
}

/*
 * The SIGBUS of a poisoned pte, as 6.12 raises it, for a read of page's head
 * or tail (peek() reads both: the page may be emptied and poisoned between).
 */
static bool is_poison_bus(const siginfo_t *si, char *page)
{
	return si->si_code == BUS_MCEERR_AR && si->si_addr_lsb == __builtin_ctzl(ps) &&
	       (si->si_addr == (void *)slot(page, 0) ||
		si->si_addr == (void *)slot(page, NSLOTS - 1));
}

/*
 * Page i of the missing (k 0) or the minor region (k 1) at page holds v, or
 * raises the SIGBUS of a poisoned pte where it may be poisoned: true if it
 * was read, false if poisoned; anything else is corrupt.
 */
static bool read_page(int k, const char *what, size_t i, char *page, uint64_t v)
{
	uint64_t h, t;
	siginfo_t si;

	if (peek(page, &h, &t, &si)) {
		if (h != v || t != v)
			bad(&corrupt, "%s page %zu: 0x%llx 0x%llx, expected 0x%llx", what, i,
			    (unsigned long long)h, (unsigned long long)t, (unsigned long long)v);
		return true;
	}
	if (!__atomic_load_n(&pz[k][i], __ATOMIC_SEQ_CST) || !is_poison_bus(&si, page))
		bad(&corrupt, "%s page %zu (%s): SIGBUS code %d at %p lsb %d", what, i,
		    pz[k][i] ? "maybe poisoned" : "never poisoned", si.si_code, si.si_addr,
		    si.si_addr_lsb);
	else
		add(&ops[K_POISON_SIGBUS]);
	return false;
}

/* Every writer's slots of wp page i hold what they wrote; page locked. */
static void wp_check(const char *who, size_t i)
{
	int w;

	for (w = 0; w < NWRITERS; w++) {
		uint64_t h = *slot(pg(&wr, i), w), t = *slot(pg(&wr, i), NWRITERS + w);

		if (h != expected[i][w] || t != expected[i][w])
			bad(&corrupt, "%s: wp page %zu slot %d: 0x%llx 0x%llx, expected 0x%llx",
			    who, i, w, (unsigned long long)h, (unsigned long long)t,
			    (unsigned long long)expected[i][w]);
	}
}

/* Take (or drop) the page locks l[i .. i + n). */
static void page_locks(pthread_mutex_t *l, size_t i, size_t n, bool take)
{
	for (; n--; i++)
		take ? pthread_mutex_lock(&l[i]) : pthread_mutex_unlock(&l[i]);
}

static void set_busy(size_t i, size_t n, bool b)
{
	pthread_mutex_lock(&wp_lock);
	while (n--)
		busy[i++] = b;
	pthread_mutex_unlock(&wp_lock);
}

static void uffd_wake(int fd, unsigned long a)
{
	struct uffdio_range r = { .start = a, .len = ps };

	ioctl(fd, UFFDIO_WAKE, &r);
}

/*
 * Write-protect wp pages [i, i + n) and arm them; under wp_lock.  On 5.10 a
 * range must lie in one vma (ENOENT): halve it until it does.
 */
static void protect_run(int fd, size_t i, size_t n)
{
	int ret = uffd_wp(fd, pg(&wr, i), n * ps, true);
	size_t k;

	if (ret == -ENOENT && n > 1) {
		protect_run(fd, i, n / 2);
		protect_run(fd, i + n / 2, n - n / 2);
		return;
	}
	if (!ret)
		for (k = i; k < i + n; k++)
			armed[k] |= populated[k];
	else if (ret != -EAGAIN)	/* EAGAIN: an mremap is going on */
		bad(&errors, "protect %zu pages at %zu: %s", n, i, strerror(-ret));
}

/* Protect every page of [i, i + n) that is not busy; under wp_lock. */
static void protect_range(int fd, size_t i, size_t n)
{
	size_t j, k;

	for (j = i; j < i + n; j = k + 1) {
		for (k = j; k < i + n && !busy[k]; k++)
			;
		if (k > j)
			protect_run(fd, j, k - j);
	}
}

static struct region *region_of(unsigned long a)
{
	int k;

	for (k = 0; k < nregions; k++)
		if (a >= (unsigned long)regions[k]->p &&
		    a < (unsigned long)regions[k]->p + regions[k]->n * ps)
			return regions[k];
	return NULL;
}

/* Answer a page fault; false: retry it later (EAGAIN, the mm is changing). */
static bool resolve(int fd, struct uffd_msg *msg, char *src)
{
	unsigned long a = msg->arg.pagefault.address & ~(ps - 1);
	uint64_t fl = msg->arg.pagefault.flags;
	struct region *r = region_of(a);
	bool benign = false;
	size_t i = r ? (a - (unsigned long)r->p) / ps : 0;
	int ret, kind;

	if (r == &wr && (fl & UFFD_PAGEFAULT_FLAG_WP)) {
		pthread_mutex_lock(&wp_lock);
		ret = uffd_wp(fd, (void *)a, ps, false);
		if (!ret) {
			armed[i] = false;
			faults[i]++;
		}
		/* a message of a fault that was already resolved, page away */
		benign = ret == -ENOENT && busy[i];
		pthread_mutex_unlock(&wp_lock);
		kind = K_WP_FAULT;
	} else if (r == &mr && (fl & UFFD_PAGEFAULT_FLAG_MINOR)) {
		struct uffdio_continue c = { .range = { .start = a, .len = ps } };

		ret = ioctl(fd, UFFDIO_CONTINUE, &c) ? -errno : 0;
		kind = K_MINOR_FAULT;
	} else if (r == &xr && !(fl & (UFFD_PAGEFAULT_FLAG_WP | UFFD_PAGEFAULT_FLAG_MINOR))) {
		struct uffdio_copy c = {
			.dst = a, .src = (unsigned long)src, .len = ps,
		};

		put(src, xval(i));
		ret = ioctl(fd, UFFDIO_COPY, &c) ? -errno : 0;
		kind = K_MISSING_FAULT;
	} else {
		bad(&unexpected, "fault at 0x%lx flags 0x%llx", a, (unsigned long long)fl);
		uffd_wake(fd, a);
		return true;
	}
	if (ret == -EAGAIN)
		return false;
	if (!ret) {
		add(&ops[kind]);
		return true;
	}
	/* EEXIST: another fault's resolution got there first */
	if (ret != -EEXIST && !benign)
		bad(&errors, "%s of page %zu: %s", kind_names[kind], i, strerror(-ret));
	uffd_wake(fd, a);
	return true;
}

static void handler_pause(void)
{
	pthread_mutex_lock(&pause_mx);
	paused++;
	pthread_cond_broadcast(&pause_cv);
	while (pause_req)
		pthread_cond_wait(&pause_cv, &pause_mx);
	paused--;
	pthread_mutex_unlock(&pause_mx);
}

static void *handler(void *arg)
{
	struct uffd_msg pend[NPENDING], msg;
	char *src = aligned_alloc(ps, ps);
	int npend = 0, k;

	if (!src)
		ksft_exit_fail_msg("handler: %s\n", strerror(errno));
	memset(src, 0, ps);
	while (!__atomic_load_n(&stop_handlers, __ATOMIC_SEQ_CST)) {
		int fd = __atomic_load_n(&uffd, __ATOMIC_SEQ_CST);
		int afd = __atomic_load_n(&auffd, __ATOMIC_SEQ_CST);
		struct pollfd pfd[2] = {
			{ .fd = fd, .events = POLLIN }, { .fd = afd, .events = POLLIN },
		};

		if (__atomic_load_n(&pause_req, __ATOMIC_SEQ_CST)) {
			/* nothing is in flight: what is left is stale */
			npend = 0;
			handler_pause();
			continue;
		}
		if (poll(pfd, 2, npend ? 1 : 20) <= 0)
			pfd[0].revents = pfd[1].revents = 0;
		/* the asynchronous uffd: mremap's events, and never a fault */
		if ((pfd[1].revents & POLLIN) && read(afd, &msg, sizeof(msg)) == sizeof(msg)) {
			if (msg.event == UFFD_EVENT_REMAP) {
				add(&ops[K_REMAP_EVENT]);
			} else if (msg.event == UFFD_EVENT_PAGEFAULT) {
				bad(&amsgs, "a fault message (flags 0x%llx) at 0x%llx from the asynchronous uffd:"
				    " a write blocked", (unsigned long long)msg.arg.pagefault.flags,
				    (unsigned long long)msg.arg.pagefault.address);
				uffd_wake(afd, msg.arg.pagefault.address & ~(ps - 1));
			} else {
				bad(&unexpected, "event %u on the asynchronous uffd", msg.event);
			}
		}
		if ((pfd[0].revents & POLLIN) && read(fd, &msg, sizeof(msg)) == sizeof(msg)) {
			if (msg.event == UFFD_EVENT_REMAP)
				add(&ops[K_REMAP_EVENT]);
			else if (msg.event != UFFD_EVENT_PAGEFAULT)
				bad(&unexpected, "event %u", msg.event);
			else if (!resolve(fd, &msg, src)) {
				if (npend < NPENDING)
					pend[npend++] = msg;
				else
					uffd_wake(fd, msg.arg.pagefault.address & ~(ps - 1));
			}
		}
		for (k = 0; k < npend; )
			if (resolve(fd, &pend[k], src))
				pend[k] = pend[--npend];
			else
				k++;
	}
	free(src);
	return NULL;
}

static void *writer(void *arg)
{
	int w = (int)(long)arg;
	unsigned int seed = mem_seed + 7919 * (w + 1);
	uint64_t n = 0;

	while (!stopping()) {
		size_t i = rnd(&seed) % wr.n;
		unsigned long before, d;
		uint64_t v = (uint64_t)(i + 1) << 48 | (uint64_t)(w + 1) << 40 | ++n;
		bool was_armed;

		pthread_rwlock_rdlock(&world);
		pthread_mutex_lock(&wlock[i]);
		wp_check("writer", i);
		pthread_mutex_lock(&wp_lock);
		populated[i] = true;	/* wp_check() read it */
		was_armed = armed[i];
		before = faults[i];
		pthread_mutex_unlock(&wp_lock);
		*slot(pg(&wr, i), w) = v;
		*slot(pg(&wr, i), NWRITERS + w) = v;
		expected[i][w] = v;
		pthread_mutex_lock(&wp_lock);
		d = faults[i] - before;
		pthread_mutex_unlock(&wp_lock);
		if (was_armed && !d)
			bad(&lost, "wp page %zu: a write went through its protection", i);
		else if (was_armed)
			add(&verified);
		if (d > 1)
			add(&extra);
		pthread_mutex_unlock(&wlock[i]);
		pthread_rwlock_unlock(&world);
		add(&ops[K_WRITE]);
	}
	return NULL;
}

static void *protector(void *arg)
{
	unsigned int seed = mem_seed + 31;

	size_t i, n;

	/* in chunks, so that the handlers get wp_lock in between */
	while (!stopping()) {
		for (i = 0; i < wr.n; i += n) {
			n = wr.n - i < 64 ? wr.n - i : 64;
			pthread_rwlock_rdlock(&world);
			pthread_mutex_lock(&wp_lock);
			protect_range(uffd, i, n);
			pthread_mutex_unlock(&wp_lock);
			pthread_rwlock_unlock(&world);
		}
		add(&ops[K_PROTECT]);
		usleep(5000 + rnd(&seed) % 15000);
	}
	return NULL;
}

/*
 * Heal a poisoned page i of region r (k: 0 missing, 1 minor) the reader
 * met, its lock held: UFFDIO_COPY of its content (missing) or
 * UFFDIO_CONTINUE (minor) over the poison, or MADV_DONTNEED (its next
 * access faults for the handlers); src is a page of the caller's.
 */
static void heal(int k, struct region *r, size_t i, char *src, unsigned int *s)
{
	int fd = __atomic_load_n(&uffd, __ATOMIC_SEQ_CST), ret = -EAGAIN;

	if (rnd(s) % 2 && !k) {
		struct uffdio_copy c = {
			.dst = (unsigned long)pg(r, i), .src = (unsigned long)src, .len = ps,
		};

		put(src, xval(i));
		ret = ioctl(fd, UFFDIO_COPY, &c) ? -errno : 0;
	} else if (rnd(s) % 2 && k) {
		struct uffdio_continue c = {
			.range = { .start = (unsigned long)pg(r, i), .len = ps },
		};

		ret = ioctl(fd, UFFDIO_CONTINUE, &c) ? -errno : 0;
	}
	/* EEXIST: a racer dropped the poison and a fault mapped the page */
	if (ret && ret != -EEXIST && ret != -EAGAIN)
		bad(&errors, "%s over poison, page %zu: %s", k ? "UFFDIO_CONTINUE" : "UFFDIO_COPY",
		    i, strerror(-ret));
	if (ret)
		madv(pg(r, i), ps, MADV_DONTNEED, "MADV_DONTNEED of a poisoned page");
	__atomic_store_n(&pz[k][i], false, __ATOMIC_SEQ_CST);
	add(&ops[K_HEAL]);
}

/* Writes minor pages through the file's second mapping, reads them back. */
static void *minor_thread(void *arg)
{
	unsigned int seed = mem_seed + 101 * (int)(long)arg;

	while (!stopping()) {
		size_t i = rnd(&seed) % mr.n;

		pthread_rwlock_rdlock(&world);
		pthread_mutex_lock(&minlock[i]);
		if (rnd(&seed) % 2) {
			mgen[i]++;
			put(mr.b + i * ps, mval(i));
			add(&ops[K_MINOR_WRITE]);
		} else {
			if (!read_page(1, "minor", i, pg(&mr, i), mval(i)))
				heal(1, &mr, i, NULL, &seed);
			add(&ops[K_MINOR_READ]);
		}
		pthread_mutex_unlock(&minlock[i]);
		pthread_rwlock_unlock(&world);
		usleep(20);	/* leave the CPUs to the faults and racers */
	}
	return NULL;
}

/* Reads missing pages without their locks: the poisoning races its faults. */
static void *missing_thread(void *arg)
{
	unsigned int seed = mem_seed + 211;
	char *src = aligned_alloc(ps, ps);

	if (!src)
		ksft_exit_fail_msg("missing: %s\n", strerror(errno));
	while (!stopping()) {
		size_t i = rnd(&seed) % xr.n;

		pthread_rwlock_rdlock(&world);
		if (!read_page(0, "missing", i, pg(&xr, i), xval(i))) {
			pthread_mutex_lock(&xlock[i]);
			heal(0, &xr, i, src, &seed);
			pthread_mutex_unlock(&xlock[i]);
		}
		pthread_rwlock_unlock(&world);
		add(&ops[K_MISSING_READ]);
		usleep(20);
	}
	free(src);
	return NULL;
}

/*
 * UFFDIO_POISON of 1-4 pages of the missing or the minor region, emptied
 * by MADV_DONTNEED first half the time (else mostly present: EEXIST),
 * DONTWAKE now and then.  6.12's errnos and "updated": done, EAGAIN with
 * the progress or -EAGAIN (an mremap in flight), EEXIST where a page is
 * there, ENOENT across two vmas that a move or an mprotect() of minor
 * pages left unmerged (hugetlb vmas never merge).
 * The first page poisoned must raise the poison's SIGBUS at once, unless a
 * fault pending there was resolved over it meanwhile (undone).
 */
static unsigned long pverified, pundone;

static bool r_poison(unsigned int *s)
{
	int k = mr.mode && rnd(s) % 2;
	struct region *r = k ? &mr : &xr;
	pthread_mutex_t *l = k ? minlock : xlock;
	size_t i, j, n = pick(r, s, &i, 4), done = 0;
	bool was[4];
	struct uffdio_poison u = {
		.range = { .start = (unsigned long)pg(r, i), .len = n * ps },
		.mode = rnd(s) % 4 ? 0 : UFFDIO_POISON_MODE_DONTWAKE,
		.updated = UNWRITTEN,
	};
	int64_t len = n * ps;
	int ret;

	page_locks(l, i, n, true);
	if (rnd(s) % 2)
		madv(pg(r, i), n * ps, MADV_DONTNEED, "MADV_DONTNEED before poisoning");
	for (j = 0; j < n; j++)
		was[j] = __atomic_exchange_n(&pz[k][i + j], true, __ATOMIC_SEQ_CST);
	ret = ioctl(uffd, UFFDIO_POISON, &u) ? -errno : 0;
	if (!ret && u.updated == len)
		done = n;
	else if (ret == -EAGAIN && u.updated > 0 && u.updated < len && !(u.updated % ps))
		done = u.updated / ps;
	else if (!(ret == -EAGAIN && u.updated == -EAGAIN) && !(ret == -EEXIST && u.updated == -EEXIST) &&
		 !(ret == -ENOENT && u.updated == -ENOENT && k &&
		   (active & (1u << R_MREMAP | 1u << R_MPROTECT))))
		bad(&errors, "UFFDIO_POISON of %s pages %zu-%zu: %s, updated %lld",
		    k ? "minor" : "missing", i, i + n - 1, strerror(-ret), (long long)u.updated);
	for (j = done; j < n; j++)
		__atomic_store_n(&pz[k][i + j], was[j], __ATOMIC_SEQ_CST);
	if (done) {
		__atomic_add_fetch(&ops[K_POISONED], done, __ATOMIC_SEQ_CST);
		add(read_page(k, "poisoned", i, pg(r, i), k ? mval(i) : xval(i)) ? &pundone :
		    &pverified);
	}
	page_locks(l, i, n, false);
	return done;
}

/*
 * Writes pages of the async region: what was there must be there, and
 * the write must not block (a message on the asynchronous uffd fails the
 * test).  started and done bracket the write for the tracker.
 */
static void *async_writer(void *arg)
{
	int w = (int)(long)arg;
	unsigned int seed = mem_seed + 4099 * (w + 1);
	uint64_t n = 0;

	while (!stopping()) {
		size_t i = rnd(&seed) % ar.n;
		uint64_t v = 0xcULL << 60 | (uint64_t)(i + 1) << 40 | (uint64_t)(w + 1) << 32 |
			     (++n & 0xffffffff);

		pthread_mutex_lock(&alock[i]);
		page_is("async", i, pg(&ar, i), aexp[i]);
		__atomic_add_fetch(&astarted[i], 1, __ATOMIC_SEQ_CST);
		put(pg(&ar, i), v);
		__atomic_add_fetch(&adone[i], 1, __ATOMIC_SEQ_CST);
		aexp[i] = v;
		pthread_mutex_unlock(&alock[i]);
		add(&ops[K_ASYNC_WRITE]);
		usleep(50);	/* the CPUs are the other regions' too */
	}
	return NULL;
}

/*
 * Bracket an operation on async pages [i, i + n), locked, that moves them,
 * unregisters them or makes the kernel forget their writes: a scan that
 * overlaps it learns nothing of them.  With reset (at its end), their
 * writes so far are forgotten legitimately: tracking restarts from there.
 * ainflight counts the operations going on.
 */
static unsigned long ainflight;

static void async_begin(size_t i, size_t n)
{
	size_t k;

	__atomic_add_fetch(&ainflight, 1, __ATOMIC_SEQ_CST);
	__atomic_add_fetch(&aops, 1, __ATOMIC_SEQ_CST);
	for (k = i; k < i + n; k++)
		__atomic_add_fetch(&aepoch[k], 1, __ATOMIC_SEQ_CST);
}

static void async_end(size_t i, size_t n, bool reset)
{
	size_t k;

	for (k = i; k < i + n; k++) {
		if (reset)
			ahi[k] = __atomic_load_n(&astarted[k], __ATOMIC_SEQ_CST);
		__atomic_add_fetch(&aepoch[k], 1, __ATOMIC_SEQ_CST);
	}
	__atomic_add_fetch(&aops, 1, __ATOMIC_SEQ_CST);
	__atomic_sub_fetch(&ainflight, 1, __ATOMIC_SEQ_CST);
}

/* Protect async pages [i, i + n) with the asynchronous uffd fd. */
static void async_protect(int fd, size_t i, size_t n)
{
	int ret = uffd_wp(fd, pg(&ar, i), n * ps, true);

	if (ret == -ENOENT && n > 1) {	/* several vmas, as 5.10 refused them */
		async_protect(fd, i, n / 2);
		async_protect(fd, i + n / 2, n - n / 2);
		return;
	}
	/* EAGAIN: an mremap is going on; the pages stay unprotected (written) */
	if (ret && ret != -EAGAIN)
		bad(&errors, "protect %zu async pages at %zu: %s", n, i, strerror(-ret));
}

static struct page_region tvec[VEC_MAX];	/* the tracker's */
static unsigned long te0[NP_MAX], tdone[NP_MAX];
static bool treported[NP_MAX];

static bool in_region(const struct region *r, char *base, unsigned long a)
{
	return a >= (unsigned long)base && a < (unsigned long)base + r->n * ps;
}

static const char *scan_str(const struct pm_scan_arg *a)
{
	static char buf[160];

	snprintf(buf, sizeof(buf), "PAGEMAP_SCAN 0x%llx-0x%llx flags 0x%llx vec_len %llu max_pages %llu",
		 (unsigned long long)a->start, (unsigned long long)a->end,
		 (unsigned long long)a->flags, (unsigned long long)a->vec_len,
		 (unsigned long long)a->max_pages);
	return buf;
}

enum { SCAN_TRACK, SCAN_LOOK, SCAN_WIDE, SCAN_SYNC, SCAN_ANY, SCAN_FINAL };

/*
 * One scan of the tracker (see the top of the file).  SCAN_TRACK:
 * PM_SCAN_WP_MATCHING of part of the async region; SCAN_LOOK: the same
 * without protecting; SCAN_WIDE: PM_SCAN_WP_MATCHING from the lowest
 * region to the end of the highest; SCAN_SYNC: PM_SCAN_WP_MATCHING of the
 * wp region; SCAN_ANY: a read-only scan of a region with random masks;
 * SCAN_FINAL: PM_SCAN_WP_MATCHING of all of the async region, all at once.
 */
static void scan(unsigned int *s, int kind)
{
	struct pm_scan_arg a = { .vec = (unsigned long)tvec, .walk_end = UNWRITTEN };
	size_t i = 0, n = ar.n, k, per = ps / getpagesize();
	unsigned long aops0, busy0, lo = ~0UL, hi = 0, x, done, found = 0;
	struct region *r = &ar;
	char why[200];
	long ret;
	int j;

	a.category_mask = a.return_mask = PAGE_IS_WRITTEN;
	if (rnd(s) % 4 == 0)	/* more categories: more, smaller regions */
		a.return_mask |= PAGE_IS_PRESENT | PAGE_IS_SWAPPED | PAGE_IS_HUGE | PAGE_IS_FILE;
	if (kind != SCAN_LOOK && kind != SCAN_ANY)
		a.flags = PM_SCAN_WP_MATCHING;
	if ((kind == SCAN_TRACK || kind == SCAN_SYNC) && rnd(s) % 2)
		a.flags |= PM_SCAN_CHECK_WPASYNC;
	if (kind == SCAN_FINAL) {
		a.flags |= PM_SCAN_CHECK_WPASYNC;
		a.return_mask = PAGE_IS_WRITTEN;
	}
	switch (kind) {
	case SCAN_FINAL:
		lo = (unsigned long)ar.p;
		hi = lo + n * ps;
		break;
	case SCAN_SYNC:
		r = &wr;
		/* fall through */
	case SCAN_ANY:
	case SCAN_TRACK:
	case SCAN_LOOK:
		if (kind == SCAN_ANY) {
			r = regions[rnd(s) % nregions];
			a.category_mask = rnd(s) & rnd(s) & 0xff & ~PAGE_IS_WPALLOWED;
			a.category_anyof_mask = rnd(s) % 2 ? rnd(s) & 0xff : 0;
			a.category_inverted = rnd(s) % 2 ? rnd(s) & 0xff : 0;
			a.return_mask = rnd(s) & 0xff;
		}
		n = pick(r, s, &i, rnd(s) % 2 ? r->n : 16);
		lo = (unsigned long)pg(r, i);
		hi = lo + n * ps;
		break;
	case SCAN_WIDE:
		for (j = 0; j < nregions; j++) {
			x = (unsigned long)regions[j]->p;
			lo = x < lo ? x : lo;
			x += regions[j]->n * ps;
			hi = x > hi ? x : hi;
		}
		break;
	}
	switch (rnd(s) % 3) {
	case 0:
		a.vec_len = 1 + rnd(s) % 8;
		break;
	case 1:
		/* as many as the pages, but never beyond tvec */
		a.vec_len = 1 + rnd(s) % (n < VEC_MAX ? n + 1 : VEC_MAX);
		break;
	default:
		a.vec_len = VEC_MAX;
	}
	if (rnd(s) % 3 == 0)
		a.max_pages = 1 + rnd(s) % (n * per);
	if (kind == SCAN_FINAL) {
		a.vec_len = VEC_MAX;
		a.max_pages = 0;
	}
	aops0 = __atomic_load_n(&aops, __ATOMIC_SEQ_CST);
	busy0 = __atomic_load_n(&ainflight, __ATOMIC_SEQ_CST);
	for (k = i; r == &ar && k < i + n; k++) {
		te0[k] = __atomic_load_n(&aepoch[k], __ATOMIC_SEQ_CST);
		tdone[k] = __atomic_load_n(&adone[k], __ATOMIC_SEQ_CST);
	}
	if (kind == SCAN_WIDE) {
		for (k = 0; k < ar.n; k++) {
			te0[k] = __atomic_load_n(&aepoch[k], __ATOMIC_SEQ_CST);
			tdone[k] = __atomic_load_n(&adone[k], __ATOMIC_SEQ_CST);
		}
		i = 0;
		n = ar.n;
	}
	ret = pm_scan(&a, (void *)lo, hi - lo);
	add(&ops[K_SCAN]);
	if (ret < 0) {
		/* a vma of the range is not async, being unregistered or moved */
		if (ret == -EPERM && (a.flags & PM_SCAN_CHECK_WPASYNC) &&
		    (kind == SCAN_SYNC || busy0 || __atomic_load_n(&ainflight, __ATOMIC_SEQ_CST) ||
		     __atomic_load_n(&aops, __ATOMIC_SEQ_CST) != aops0))
			ret = 0;
		else
			bad(&errors, "%s: %s", scan_str(&a), strerror(-ret));
		/* what it protected before it failed is not known */
		for (k = i; a.flags & PM_SCAN_WP_MATCHING && kind != SCAN_SYNC && k < i + n; k++) {
			pthread_mutex_lock(&alock[k]);
			auncertain[k] = true;
			pthread_mutex_unlock(&alock[k]);
		}
		return;
	}
	if (pm_scan_result_bad(&a, tvec, ret, why, sizeof(why)))
		bad(&errors, "%s: %s", scan_str(&a), why);
	if (kind == SCAN_ANY)
		return;
	/*
	 * More regions than one walk's worth: walk_end is where the last walk
	 * started, not how far it got (pm_scan_result_bad()), so what was
	 * protected is not known.  (The async region is never that many.)
	 */
	if (ret > PM_SCAN_ONE_WALK) {
		for (k = i; k < i + n; k++) {
			pthread_mutex_lock(&alock[k]);
			auncertain[k] = true;
			pthread_mutex_unlock(&alock[k]);
		}
		return;
	}
	memset(treported + i, 0, n);
	/*
	 * Where the walk got to.  A hugetlb page that max_pages lets in only
	 * in part is neither reported nor protected, and 6.12 goes on
	 * walking: every later written huge page is left alone the same way,
	 * and walk_end is the start of the last of them.  So once less than
	 * a huge page's worth of max_pages is left, only the pages up to the
	 * last region reported are known to have been looked at.
	 */
	done = a.walk_end;
	for (j = 0; j < ret; j++)
		found += (tvec[j].end - tvec[j].start) / getpagesize();
	if (per > 1 && a.max_pages && a.max_pages - found < per)
		done = ret ? tvec[ret - 1].end : a.start;
	for (j = 0; j < ret; j++) {
		for (x = tvec[j].start; x < tvec[j].end; x += getpagesize()) {
			if (in_region(&ar, ar.p, x))
				treported[(x - (unsigned long)ar.p) / ps] = true;
			else if (!in_region(&ar, aspare, x))
				break;
		}
		if (x < tvec[j].end) {
			bad(&errors, "%s: region 0x%llx-0x%llx categories 0x%llx not of the async region",
			    scan_str(&a), (unsigned long long)tvec[j].start,
			    (unsigned long long)tvec[j].end, (unsigned long long)tvec[j].categories);
			break;
		}
	}
	if (kind == SCAN_SYNC)
		return;
	/* every async page the walk got to */
	for (k = i; k < i + n && (unsigned long)pg(&ar, k) < done; k++) {
		if ((unsigned long)pg(&ar, k) < lo)
			continue;
		pthread_mutex_lock(&alock[k]);
		if (__atomic_load_n(&aepoch[k], __ATOMIC_SEQ_CST) != te0[k]) {
			auncertain[k] = true;
		} else {
			if (treported[k])
				add(&ops[K_SCAN_WRITTEN]);
			else if (!auncertain[k] && tdone[k] > ahi[k])
				bad(&alost, "async page %zu: %lu writes done before the scan, %lu when it was"
				    " last protected, not reported written (%s)", k, tdone[k], ahi[k],
				    scan_str(&a));
			else if (!auncertain[k])
				add(&ops[K_SCAN_CHECKED]);
			if (a.flags & PM_SCAN_WP_MATCHING) {
				ahi[k] = __atomic_load_n(&astarted[k], __ATOMIC_SEQ_CST);
				auncertain[k] = false;
			}
		}
		pthread_mutex_unlock(&alock[k]);
	}
}

/* What the TAP line says of the async region */
static const char *async_summary(bool async)
{
	static char buf[200];

	if (!async)
		return "";
	snprintf(buf, sizeof(buf), "; async: %lu writes, %lu scans, %lu writes lost, %lu blocked",
		 ops[K_ASYNC_WRITE], ops[K_SCAN], alost, amsgs);
	return buf;
}

static void *tracker(void *arg)
{
	unsigned int seed = mem_seed + 6007;
	int kind;

	while (!stopping()) {
		switch (rnd(&seed) % 20) {
		case 0 ... 11:
			kind = SCAN_TRACK;
			break;
		case 12 ... 14:
			kind = SCAN_LOOK;
			break;
		case 15 ... 16:
			kind = SCAN_WIDE;
			break;
		case 17:
			kind = SCAN_SYNC;
			break;
		default:
			kind = SCAN_ANY;
		}
		pthread_rwlock_rdlock(&world);
		scan(&seed, kind);
		pthread_rwlock_unlock(&world);
		usleep(1000 + rnd(&seed) % 4000);
	}
	return NULL;
}

/* n pages of r at *i, at most max. */
static size_t pick(struct region *r, unsigned int *s, size_t *i, size_t max)
{
	size_t n = 1 + rnd(s) % max;

	*i = rnd(s) % r->n;
	return *i + n > r->n ? r->n - *i : n;
}

static struct region *pick_region(unsigned int *s)
{
	return regions[rnd(s) % nregions];
}

static bool madv(void *p, size_t len, int advice, const char *what)
{
	if (!madvise(p, len, advice))
		return true;
	/*
	 * The mremap racer moves wp pages away and back: a racer that does
	 * not lock those pages may find them gone for a moment (ENOMEM).
	 */
	if (errno == ENOMEM && (active & (1u << R_MREMAP)))
		return false;
	bad(&errors, "%s: %s", what, strerror(errno));
	return false;
}

/*
 * DONTNEED: shared memory keeps its contents and, by markers, its protection;
 * private memory reverts to the file's (zeros), anon to none, unprotected.
 * Async pages alike; on hugetlbfs the empty huge ptes it leaves are not
 * "written" to 6.12's PAGEMAP_SCAN: the writes before are forgotten.
 */
static bool r_dontneed(unsigned int *s)
{
	struct region *r = pick_region(s);
	bool priv = r == &wr && !mem_is_shared(mem), ok;
	bool async = r == &ar && (!mem_is_shared(mem) || mem_is_hugetlb(mem));
	size_t i, k, n = pick(r, s, &i, 16);
	int w;

	if (priv)
		page_locks(wlock, i, n, true);
	if (async) {
		page_locks(alock, i, n, true);
		async_begin(i, n);
	}
	ok = madv(pg(r, i), n * ps, MADV_DONTNEED, "MADV_DONTNEED");
	if (async) {
		for (k = i; ok && !mem_is_shared(mem) && k < i + n; k++)
			aexp[k] = 0;
		async_end(i, n, mem_is_hugetlb(mem));
		page_locks(alock, i, n, false);
	}
	if (priv && ok) {
		pthread_mutex_lock(&wp_lock);
		for (k = i; k < i + n; k++) {
			for (w = 0; w < NWRITERS; w++)
				expected[k][w] = 0;
			if (mem == MEM_ANON)
				armed[k] = populated[k] = false;
		}
		pthread_mutex_unlock(&wp_lock);
	}
	if (priv)
		page_locks(wlock, i, n, false);
	return ok;
}

static bool r_pageout(unsigned int *s)
{
	struct region *r = pick_region(s);
	size_t i, n = pick(r, s, &i, 64);
	char *p = r->b && rnd(s) % 2 ? r->b : r->p;

	lru_drain_all();
	return madv(p + i * ps, n * ps, MADV_PAGEOUT, "MADV_PAGEOUT");
}

static bool punch(struct region *r, size_t i, size_t n)
{
	if (!fallocate(r->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, i * ps, n * ps))
		return true;
	bad(&errors, "punch hole: %s", strerror(errno));
	return false;
}

/*
 * Punch hole: the file's pages go, protection stays (markers); private
 * shmem keeps its copied pages, private hugetlbfs loses them too.  Minor
 * pages are written again at once: a hole would not raise a minor fault.
 */
static bool r_punch(unsigned int *s)
{
	struct region *r = pick_region(s);
	size_t i, k, n = pick(r, s, &i, 16);
	bool ok;
	int w;

	if (r == &mr) {
		page_locks(minlock, i, n, true);
		ok = punch(r, i, n);
		for (k = i; k < i + n; k++)
			put(mr.b + k * ps, mval(k));
		page_locks(minlock, i, n, false);
	} else if (r == &wr && mem != MEM_SHMEM_PRIVATE) {
		page_locks(wlock, i, n, true);
		ok = punch(r, i, n);
		for (k = i; ok && k < i + n; k++)
			for (w = 0; w < NWRITERS; w++)
				expected[k][w] = 0;
		page_locks(wlock, i, n, false);
	} else if (r == &ar && mem != MEM_SHMEM_PRIVATE) {
		/* hugetlbfs: the empty huge ptes forget the writes (r_dontneed()) */
		page_locks(alock, i, n, true);
		async_begin(i, n);
		ok = punch(r, i, n);
		for (k = i; ok && k < i + n; k++)
			aexp[k] = 0;
		async_end(i, n, mem_is_hugetlb(mem));
		page_locks(alock, i, n, false);
	} else {
		ok = punch(r, i, n);
	}
	return ok;
}

/*
 * In a fork child of anon or private shmem memory: the pages of the missing
 * region its page tables hold (anonymous copies, in memory or in swap, or
 * poison markers), those not locked at the fork, read their content or,
 * where the parent may have poisoned them, the poison's SIGBUS.  Empty
 * ones are left alone, and so are file pages (shared memory, the minor
 * region) and hugetlbfs (whose hole punch takes private pages too): the
 * child is not registered, so a read of a hole, which a racer's punch may
 * make at any time, would fill it (the file, behind the parent's missing
 * faults, or a private page of zeros).
 */
static int child_poison(void)
{
	uint64_t h, t;
	siginfo_t si;
	size_t i;
	int ret = 0;

	for (i = 0; (mem == MEM_ANON || mem == MEM_SHMEM_PRIVATE) && i < xr.n; i++) {
		if (!(pagemap(pg(&xr, i)) & (PM_PRESENT | PM_SWAP)) ||
		    pthread_mutex_trylock(&xlock[i]))
			continue;
		if (!peek(pg(&xr, i), &h, &t, &si)) {
			if (!pz[0][i] || !is_poison_bus(&si, pg(&xr, i)))
				ret = 4;
		} else if (h != xval(i) || t != xval(i)) {
			ret = 4;
		}
	}
	return ret;
}

/*
 * A child without UFFD_FEATURE_EVENT_FORK: no page of its wp and async
 * regions may be protected, private memory holds what the parent had
 * written (pages that were locked at the fork are left out), and the
 * missing pages it has read as child_poison() says.
 */
static bool r_fork(unsigned int *s)
{
	/* a hugetlbfs hole punch zaps the child's private pages too */
	bool data = !mem_is_shared(mem) &&
		    !(mem == MEM_HUGETLB_PRIVATE && (active & (1u << R_PUNCH)));
	int status, ret = 0, w;
	size_t i;
	pid_t pid = fork();

	if (pid < 0)
		return false;
	if (!pid) {
		for (i = 0; i < wr.n; i++) {
			if (claims->pagemap_wp && (pagemap(pg(&wr, i)) & PM_UFFD_WP))
				ret |= 1;
			if (!data || pthread_mutex_trylock(&wlock[i]))
				continue;
			for (w = 0; w < NWRITERS; w++)
				if (*slot(pg(&wr, i), w) != expected[i][w] ||
				    *slot(pg(&wr, i), NWRITERS + w) != expected[i][w])
					ret |= 2;
		}
		for (i = 0; claims->pagemap_wp && i < ar.n; i++)
			if (pagemap(pg(&ar, i)) & PM_UFFD_WP)
				ret |= 1;
		ret |= child_poison();
		_exit(ret);
	}
	if (waitpid(pid, &status, 0) != pid)
		bad(&errors, "waitpid: %s", strerror(errno));
	else if (!WIFEXITED(status) || WEXITSTATUS(status))
		bad(&child_bad, "fork child: status 0x%x (exit 1: protected pages, 2: data,"
		    " 4: missing pages)", status);
	return true;
}

/* Move wp pages away and back; the registration and protection move along. */
static void *move(void *from, size_t len, void *to)
{
	return mremap(from, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, to);
}

/*
 * Half the time wp pages; else minor pages (with their poison, if any) or
 * async pages (a scan meanwhile learns nothing of them: async_begin()).
 */
static bool r_mremap(unsigned int *s)
{
	int which = rnd(s) % 4;
	struct region *r = which == 2 && mr.mode ? &mr : which == 3 && ar.mode ? &ar : &wr;
	pthread_mutex_t *l = r == &wr ? wlock : r == &mr ? minlock : alock;
	char *sp = r == &wr ? spare : r == &mr ? mspare : aspare;
	size_t i, k, n = pick(r, s, &i, 8), len = n * ps;
	char *from = pg(r, i), *to = sp + i * ps;
	void *moved;

	page_locks(l, i, n, true);
	if (r == &wr)
		set_busy(i, n, true);
	if (r == &ar)
		async_begin(i, n);
	moved = move(from, len, to);
	/* EFAULT: more than one vma (hugetlb vmas never merge): one page */
	if (moved == MAP_FAILED && errno == EFAULT) {
		len = ps;
		moved = move(from, len, to);
	}
	if (moved == MAP_FAILED) {
		bad(&errors, "mremap away: %s", strerror(errno));
	} else {
		if (move(to, len, from) == MAP_FAILED)
			ksft_exit_fail_msg("mremap back: %s\n", strerror(errno));
		/* keep the spare range reserved */
		if (mmap(to, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED |
			 MAP_NORESERVE, -1, 0) == MAP_FAILED)
			ksft_exit_fail_msg("mmap spare: %s\n", strerror(errno));
		for (k = i; k < i + n; k++) {
			if (r == &wr)
				wp_check("mremap", k);
			else if (r == &mr)
				read_page(1, "minor, moved", k, pg(&mr, k), mval(k));
			else
				page_is("async, moved", k, pg(&ar, k), aexp[k]);
		}
	}
	if (r == &ar)
		async_end(i, n, false);
	if (r == &wr)
		set_busy(i, n, false);
	page_locks(l, i, n, false);
	return moved != MAP_FAILED;
}

/* Read-only and back: wp pages locked (and checked), minor pages not. */
static bool mprotect_ro(struct region *r, size_t i, size_t n)
{
	size_t k;

	if (mprotect(pg(r, i), n * ps, PROT_READ)) {
		bad(&errors, "mprotect: %s", strerror(errno));
		return false;
	}
	for (k = i; r == &wr && k < i + n; k++)
		wp_check("mprotect", k);
	for (k = i; r == &ar && k < i + n; k++)
		page_is("async, read-only", k, pg(&ar, k), aexp[k]);
	if (mprotect(pg(r, i), n * ps, PROT_READ | PROT_WRITE))
		ksft_exit_fail_msg("mprotect back: %s\n", strerror(errno));
	return true;
}

/* wp, minor or async pages; the minor ones locked where mremap moves them */
static bool r_mprotect(unsigned int *s)
{
	int which = rnd(s) % 3;
	struct region *r = which == 1 && mr.mode ? &mr : which == 2 && ar.mode ? &ar : &wr;
	pthread_mutex_t *l = r == &wr ? wlock : r == &ar ? alock :
			     active & (1u << R_MREMAP) ? minlock : NULL;
	size_t i, n = pick(r, s, &i, 16);
	bool ok;

	if (l)
		page_locks(l, i, n, true);
	ok = mprotect_ro(r, i, n);
	if (l)
		page_locks(l, i, n, false);
	return ok;
}

static bool r_migrate(unsigned int *s)
{
	void *pages[16];
	int nodes[16], status[16];
	size_t k, n = 1 + rnd(s) % 16;

	for (k = 0; k < n; k++) {
		struct region *r = pick_region(s);

		pages[k] = (r->b && rnd(s) % 2 ? r->b : r->p) + rnd(s) % r->n * ps;
		nodes[k] = rnd(s) % 2;
	}
	if (syscall(__NR_move_pages, 0, n, pages, nodes, status, MPOL_MF_MOVE_ALL) >= 0)
		return true;
	bad(&errors, "move_pages: %s", strerror(errno));
	return false;
}

/*
 * Part of a THP of the wp (or the async) region: MADV_COLD splits the page,
 * mprotect the pmd.
 */
static bool r_thpsplit(unsigned int *s)
{
	struct region *r = ar.mode && rnd(s) % 3 == 0 ? &ar : &wr;
	pthread_mutex_t *l = r == &wr ? wlock : alock;
	size_t per = HPAGE_SIZE / ps, c = rnd(s) % (r->n / per);
	size_t i = c * per + rnd(s) % per, n = 1 + rnd(s) % 8;
	bool ok;

	if (i + n > (c + 1) * per)
		n = (c + 1) * per - i;
	if (rnd(s) % 2)
		return madv(pg(r, i), n * ps, MADV_COLD, "MADV_COLD");
	page_locks(l, i, n, true);
	ok = mprotect_ro(r, i, n);
	page_locks(l, i, n, false);
	return ok;
}

/*
 * Async pages: unregistered (no protection may stay), registered again and
 * maybe protected; their tracking restarts.
 */
static bool unregister_async(unsigned int *s)
{
	size_t i, k, n = pick(&ar, s, &i, 16);
	int ret;

	page_locks(alock, i, n, true);
	async_begin(i, n);
	ret = uffd_unregister(auffd, pg(&ar, i), n * ps);
	if (ret)
		ksft_exit_fail_msg("UFFDIO_UNREGISTER (async): %s\n", strerror(-ret));
	for (k = i; claims->pagemap_wp && k < i + n; k++)
		if (pagemap(pg(&ar, k)) & PM_UFFD_WP)
			bad(&stale, "async page %zu protected after UFFDIO_UNREGISTER", k);
	ret = uffd_register(auffd, pg(&ar, i), n * ps, UFFDIO_REGISTER_MODE_WP, NULL);
	if (ret)
		ksft_exit_fail_msg("UFFDIO_REGISTER (async): %s\n", strerror(-ret));
	if (rnd(s) % 2)
		async_protect(auffd, i, n);
	async_end(i, n, true);
	page_locks(alock, i, n, false);
	return true;
}

/* wp pages are unprotected once unregistered; registered again, maybe protected. */
static bool r_unregister(unsigned int *s)
{
	size_t i, k, n;
	int ret;

	if (ar.mode && rnd(s) % 3 == 0)
		return unregister_async(s);
	n = pick(&wr, s, &i, 16);

	page_locks(wlock, i, n, true);
	set_busy(i, n, true);
	ret = uffd_unregister(uffd, pg(&wr, i), n * ps);
	if (ret)
		ksft_exit_fail_msg("UFFDIO_UNREGISTER: %s\n", strerror(-ret));
	for (k = i; claims->pagemap_wp && k < i + n; k++)
		if (pagemap(pg(&wr, k)) & PM_UFFD_WP)
			bad(&stale, "wp page %zu protected after UFFDIO_UNREGISTER", k);
	ret = uffd_register(uffd, pg(&wr, i), n * ps, UFFDIO_REGISTER_MODE_WP, NULL);
	if (ret)
		ksft_exit_fail_msg("UFFDIO_REGISTER: %s\n", strerror(-ret));
	pthread_mutex_lock(&wp_lock);
	for (k = i; k < i + n; k++)
		armed[k] = false;
	if (rnd(s) % 2)
		protect_run(uffd, i, n);
	pthread_mutex_unlock(&wp_lock);
	set_busy(i, n, false);
	page_locks(wlock, i, n, false);
	return true;
}

/* MADV_COLLAPSE of one PMD's worth of a region (or of the minor alias) */
static bool r_collapse(unsigned int *s)
{
	struct region *r = pick_region(s);
	char *base = r->b && rnd(s) % 2 ? r->b : r->p;
	size_t per = HPAGE_SIZE / ps;

	if (r->n < per)
		return false;
	if (!madvise(base + rnd(s) % (r->n / per) * HPAGE_SIZE, HPAGE_SIZE, MADV_COLLAPSE))
		return true;
	/* wp ptes or read-only (EINVAL), holes under MISSING (EBUSY), busy, no memory */
	if (errno != EINVAL && errno != EBUSY && errno != EAGAIN && errno != ENOMEM)
		bad(&errors, "MADV_COLLAPSE: %s", strerror(errno));
	return false;
}

/* Every region with the uffd fd, the async one with afd. */
static void register_all(int fd, int afd)
{
	int k, ret;

	for (k = 0; k < nregions; k++) {
		ret = uffd_register(regions[k]->async ? afd : fd, regions[k]->p,
				    regions[k]->n * ps, regions[k]->mode, NULL);
		if (ret)
			ksft_exit_fail_msg("UFFDIO_REGISTER: %s\n", strerror(-ret));
	}
}

/* Protect all of the async region (locked), with afd: tracking restarts. */
static void protect_async_all(int afd)
{
	page_locks(alock, 0, ar.n, true);
	async_begin(0, ar.n);
	async_protect(afd, 0, ar.n);
	async_end(0, ar.n, true);
	page_locks(alock, 0, ar.n, false);
}

/* Close the userfaultfd with nothing in flight; open, register, protect. */
static bool r_close(unsigned int *s)
{
	size_t i;
	int fd, afd = -1;

	pthread_rwlock_wrlock(&world);
	pthread_mutex_lock(&pause_mx);
	pause_req = 1;
	while (paused < NHANDLERS)
		pthread_cond_wait(&pause_cv, &pause_mx);
	close(uffd);
	for (i = 0; claims->pagemap_wp && i < wr.n; i++)
		if (pagemap(pg(&wr, i)) & PM_UFFD_WP)
			bad(&stale, "wp page %zu protected after close", i);
	fd = uffd_open(features);
	if (ar.mode) {
		/* the writers go on: their pages lose the protection, never block */
		close(auffd);
		for (i = 0; claims->pagemap_wp && i < ar.n; i++)
			if (pagemap(pg(&ar, i)) & PM_UFFD_WP)
				bad(&stale, "async page %zu protected after close", i);
		afd = uffd_open(afeatures);
	}
	register_all(fd, afd);
	pthread_mutex_lock(&wp_lock);
	for (i = 0; i < wr.n; i++)
		armed[i] = false;
	protect_range(fd, 0, wr.n);
	pthread_mutex_unlock(&wp_lock);
	if (ar.mode)
		protect_async_all(afd);
	__atomic_store_n(&uffd, fd, __ATOMIC_SEQ_CST);
	__atomic_store_n(&auffd, afd, __ATOMIC_SEQ_CST);
	pause_req = 0;
	pthread_cond_broadcast(&pause_cv);
	pthread_mutex_unlock(&pause_mx);
	pthread_rwlock_unlock(&world);
	return true;
}

static bool (*const racer_ops[R_NR])(unsigned int *s) = {
	[R_DONTNEED] = r_dontneed, [R_PAGEOUT] = r_pageout, [R_PUNCH] = r_punch,
	[R_FORK] = r_fork, [R_MREMAP] = r_mremap, [R_MPROTECT] = r_mprotect,
	[R_MIGRATE] = r_migrate, [R_THPSPLIT] = r_thpsplit,
	[R_UNREGISTER] = r_unregister, [R_CLOSE] = r_close, [R_COLLAPSE] = r_collapse,
	[R_POISON] = r_poison,
};

static void *racer(void *arg)
{
	unsigned int seed = mem_seed + 1009 * ((int)(long)arg + 1);
	struct timespec now, last = { 0 };

	while (!stopping()) {
		int k = rnd(&seed) % R_NR;
		bool ok;

		if (!(active & (1u << k)) || !racer_ops[k]) {
			if (!(active & ~(1u << R_KHUGEPAGED)))
				usleep(10000);
			continue;
		}
		if (k == R_CLOSE) {
			/* it stops everything: at most 5 a second */
			clock_gettime(CLOCK_MONOTONIC, &now);
			if ((now.tv_sec - last.tv_sec) * 1000 +
			    (now.tv_nsec - last.tv_nsec) / 1000000 < 200)
				continue;
			last = now;
			ok = r_close(&seed);
		} else {
			pthread_rwlock_rdlock(&world);
			ok = racer_ops[k](&seed);
			pthread_rwlock_unlock(&world);
		}
		if (ok)
			add(&ops[k]);
		usleep(500 + rnd(&seed) % 1000);
	}
	return NULL;
}

static char old_scan[32], old_shmem[64];

static long collapsed(void)
{
	char buf[32];

	knob(THP_DIR "khugepaged/pages_collapsed", NULL, buf, sizeof(buf));
	return atol(buf);
}

static void knobs_restore(void)
{
	char *b = strchr(old_shmem, '[');

	if (old_scan[0])
		knob(THP_DIR "khugepaged/scan_sleep_millisecs", old_scan, NULL, 0);
	/* "always within_size [advise] never ...": the bracketed one */
	if (b) {
		b[strcspn(b, "]")] = 0;
		knob(THP_DIR "shmem_enabled", b + 1, NULL, 0);
	}
}

/* The racers that apply to memory type m on this kernel, of those wanted. */
static unsigned int racers_for(enum uffd_mem m, unsigned int want)
{
	const char *name = uffd_mem_names[m];
	unsigned int a = want, left = 0;
	bool huge = mem_is_hugetlb(m);

	if (huge && !claims->hugetlb_dontneed)
		a &= ~(1u << R_DONTNEED);
	if (huge)
		a &= ~(1u << R_PAGEOUT | 1u << R_THPSPLIT | 1u << R_KHUGEPAGED);
	if (huge || !claims->madv_collapse)
		a &= ~(1u << R_COLLAPSE);
	if (m == MEM_ANON)
		a &= ~(1u << R_PUNCH);
	if (huge && !claims->hugetlb_mremap)
		a &= ~(1u << R_MREMAP);
	if (!has_poison)
		a &= ~(1u << R_POISON);
	/* known broken here: left out, so that the rest is tested */
	if (huge && (claims->known_broken & SCENARIO(1)))
		left |= 1u << R_PUNCH;
	if (m == MEM_HUGETLB_PRIVATE && (claims->known_broken & SCENARIO(28)))
		left |= 1u << R_MREMAP;
	if ((claims->known_broken & SCENARIO(27)) ||
	    (m == MEM_ANON && (claims->known_broken & SCENARIO(3))))
		left |= 1u << R_MIGRATE;
	if (claims->known_broken & SCENARIO(22))
		left |= 1u << R_CLOSE;
	left &= a;
	if (left)
		ksft_print_msg("%s: left out, known broken on '%s' (uffd-claims.h): %s%s%s%s\n",
			       name, claims->ref,
			       left & (1u << R_PUNCH) ? "punch (1) " : "",
			       left & (1u << R_MREMAP) ? "mremap (28) " : "",
			       left & (1u << R_MIGRATE) ? "migrate (3, 27) " : "",
			       left & (1u << R_CLOSE) ? "close (22)" : "");
	return a & ~left;
}

/*
 * Map n pages of the memory type, 2 MiB aligned; minor: the file twice;
 * async: registered with the asynchronous uffd.
 */
static void region_map(struct region *r, size_t n, uint64_t mode, bool async)
{
	int flags = mem_is_shared(mem) ? MAP_SHARED : MAP_PRIVATE;
	char *p = mem_map(mem, n * ps, &r->fd);

	if (p == MAP_FAILED)
		ksft_exit_fail_msg("mmap %s: %s\n", uffd_mem_names[mem], strerror(errno));
	munmap(p, n * ps);
	r->n = n;
	r->mode = mode;
	r->async = async;
	r->p = map_aligned(n * ps, HPAGE_SIZE, flags, r->fd);
	r->b = mode == UFFDIO_REGISTER_MODE_MINOR ?
		map_aligned(n * ps, HPAGE_SIZE, MAP_SHARED, r->fd) : NULL;
	if (r->p == MAP_FAILED || r->b == MAP_FAILED)
		ksft_exit_fail_msg("mmap %s: %s\n", uffd_mem_names[mem], strerror(errno));
	regions[nregions++] = r;
}

static void region_unmap(struct region *r)
{
	munmap(r->p, r->n * ps);
	if (r->b)
		munmap(r->b, r->n * ps);
	if (r->fd >= 0)
		close(r->fd);
	memset(r, 0, sizeof(*r));
}

static void join(pthread_t t, const char *who)
{
	/* 30 s: a thread waits for a fault nobody resolves */
	if (!joined_within(t, 30000))
		ksft_exit_fail_msg("%s: %s thread stuck\n", uffd_mem_names[mem], who);
}

static double since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec - t0->tv_sec + (t.tv_nsec - t0->tv_nsec) / 1e9;
}

/* One memory type for secs seconds; its TAP line. */
static void run(enum uffd_mem m, unsigned int want, double secs, unsigned int seed)
{
	const char *name = uffd_mem_names[m];
	pthread_t ht[NHANDLERS], wt[NWRITERS], mt[NMINOR], rt[NRACERS], at[NAWRITERS], pt, xt, tt;
	long free0 = meminfo("HugePages_Free"), rsvd0 = meminfo("HugePages_Rsvd"), free1,
		rsvd1, coll0 = collapsed();
	bool minor = claims->modes[m] & CLAIM_MINOR, huge = mem_is_hugetlb(m), ok;
	bool async = has_async, unpopulated;
	struct timespec t0;
	/*
	 * The minor region is one PMD's worth, so that MADV_COLLAPSE can
	 * collapse it.  The missing region stays smaller: while the close
	 * racer has the userfaultfd closed, khugepaged could collapse it and
	 * fill its holes, legitimately, and the model would count them corrupt.
	 */
	size_t i, nw = huge ? 16 : NP_MAX, nm = huge ? 8 : 512, nx = huge ? 8 : 256;
	size_t na = huge ? 16 : 512;
	double t;
	int k;

	mem = m;
	ps = mem_page_size(m);
	mem_seed = seed ^ (m * 0x9e3779b9u);
	memset(ops, 0, sizeof(ops));
	memset(expected, 0, sizeof(expected));
	memset(armed, 0, sizeof(armed));
	memset(busy, 0, sizeof(busy));
	memset(faults, 0, sizeof(faults));
	memset(populated, 1, sizeof(populated));
	memset(aexp, 0, sizeof(aexp));
	memset(astarted, 0, sizeof(astarted));
	memset(adone, 0, sizeof(adone));
	memset(ahi, 0, sizeof(ahi));
	memset(aepoch, 0, sizeof(aepoch));
	memset(auncertain, 0, sizeof(auncertain));
	memset(pz, 0, sizeof(pz));
	aops = ainflight = 0;
	corrupt = lost = extra = verified = child_bad = stale = errors = unexpected = 0;
	alost = amsgs = pverified = pundone = 0;
	nprinted = 0;
	stop = stop_handlers = false;
	nregions = 0;
	active = racers_for(m, want);
	/* WP_ASYNC implies WP_UNPOPULATED: asked for, or not, by the seed */
	unpopulated = mem_seed & 1;
	ksft_print_msg("%s: %.1f s, racers:", name, secs);
	for (k = 0; k < R_NR; k++)
		if (active & (1u << k))
			printf(" %s", kind_names[k]);
	printf("%s%s\n", minor ? "" : " (no minor region: not claimed)",
	       !async ? " (no async region: not claimed)" :
	       unpopulated ? " (async: WP_ASYNC|WP_UNPOPULATED)" : " (async: WP_ASYNC)");

	region_map(&wr, nw, UFFDIO_REGISTER_MODE_WP, false);
	if (minor)
		region_map(&mr, nm, UFFDIO_REGISTER_MODE_MINOR, false);
	region_map(&xr, nx, UFFDIO_REGISTER_MODE_MISSING, false);
	if (async)
		region_map(&ar, na, UFFDIO_REGISTER_MODE_WP, true);
	spare = map_aligned(nw * ps, HPAGE_SIZE, MAP_PRIVATE | MAP_NORESERVE, -1);
	mspare = map_aligned(nm * ps, HPAGE_SIZE, MAP_PRIVATE | MAP_NORESERVE, -1);
	aspare = map_aligned(na * ps, HPAGE_SIZE, MAP_PRIVATE | MAP_NORESERVE, -1);
	if (spare == MAP_FAILED || mprotect(spare, nw * ps, PROT_NONE) ||
	    mspare == MAP_FAILED || mprotect(mspare, nm * ps, PROT_NONE) ||
	    aspare == MAP_FAILED || mprotect(aspare, na * ps, PROT_NONE))
		ksft_exit_fail_msg("spare: %s\n", strerror(errno));
	if (active & (1u << R_KHUGEPAGED)) {
		madvise(wr.p, nw * ps, MADV_HUGEPAGE);
		if (async)
			madvise(ar.p, na * ps, MADV_HUGEPAGE);
	}
	/* anon: what is not populated cannot be protected */
	memset(wr.p, 0, nw * ps);
	if (async)
		memset(ar.p, 0, na * ps);
	for (i = 0; i < nm && minor; i++) {
		mgen[i] = 1;
		put(mr.b + i * ps, mval(i));
	}
	features = active & (1u << R_MREMAP) ? UFFD_FEATURE_EVENT_REMAP : 0;
	afeatures = features | UFFD_FEATURE_WP_ASYNC | (unpopulated ? UFFD_FEATURE_WP_UNPOPULATED : 0);
	uffd = uffd_open(features);
	auffd = async ? uffd_open(afeatures) : -1;
	register_all(uffd, auffd);
	pthread_mutex_lock(&wp_lock);
	protect_range(uffd, 0, wr.n);
	pthread_mutex_unlock(&wp_lock);
	if (async)
		protect_async_all(auffd);

	for (k = 0; k < NHANDLERS; k++)
		pthread_create(&ht[k], NULL, handler, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (k = 0; k < NWRITERS; k++)
		pthread_create(&wt[k], NULL, writer, (void *)(long)k);
	for (k = 0; minor && k < NMINOR; k++)
		pthread_create(&mt[k], NULL, minor_thread, (void *)(long)k);
	pthread_create(&xt, NULL, missing_thread, NULL);
	pthread_create(&pt, NULL, protector, NULL);
	for (k = 0; async && k < NAWRITERS; k++)
		pthread_create(&at[k], NULL, async_writer, (void *)(long)k);
	if (async)
		pthread_create(&tt, NULL, tracker, NULL);
	for (k = 0; k < NRACERS; k++)
		pthread_create(&rt[k], NULL, racer, (void *)(long)k);
	while (since(&t0) < secs)
		usleep(50000);
	__atomic_store_n(&stop, true, __ATOMIC_SEQ_CST);
	for (k = 0; k < NRACERS; k++)
		join(rt[k], "racer");
	join(pt, "protector");
	join(xt, "missing reader");
	for (k = 0; minor && k < NMINOR; k++)
		join(mt[k], "minor");
	for (k = 0; k < NWRITERS; k++)
		join(wt[k], "writer");
	for (k = 0; async && k < NAWRITERS; k++)
		join(at[k], "async writer");
	if (async)
		join(tt, "tracker");
	t = since(&t0);

	/* every page once more, the handlers still serving */
	for (i = 0; i < wr.n; i++)
		wp_check("final", i);
	for (i = 0; i < mr.n; i++)
		read_page(1, "minor final", i, pg(&mr, i), mval(i));
	for (i = 0; i < xr.n; i++)
		read_page(0, "missing final", i, pg(&xr, i), xval(i));
	for (i = 0; i < ar.n; i++)
		page_is("async final", i, pg(&ar, i), aexp[i]);
	/* and a last scan of the whole async region, with nothing going on */
	if (async)
		scan(&seed, SCAN_FINAL);
	__atomic_store_n(&stop_handlers, true, __ATOMIC_SEQ_CST);
	for (k = 0; k < NHANDLERS; k++)
		join(ht[k], "handler");
	if (uffd_unregister(uffd, wr.p, wr.n * ps))
		bad(&errors, "UFFDIO_UNREGISTER: %s", strerror(errno));
	for (i = 0; claims->pagemap_wp && i < wr.n; i++)
		if (pagemap(pg(&wr, i)) & PM_UFFD_WP)
			bad(&stale, "wp page %zu protected after the final UFFDIO_UNREGISTER", i);
	if (async && uffd_unregister(auffd, ar.p, ar.n * ps))
		bad(&errors, "UFFDIO_UNREGISTER (async): %s", strerror(errno));
	for (i = 0; claims->pagemap_wp && i < ar.n; i++)
		if (pagemap(pg(&ar, i)) & PM_UFFD_WP)
			bad(&stale, "async page %zu protected after the final UFFDIO_UNREGISTER", i);
	close(uffd);
	if (async)
		close(auffd);
	auffd = -1;
	region_unmap(&wr);
	if (minor)
		region_unmap(&mr);
	region_unmap(&xr);
	if (async)
		region_unmap(&ar);
	munmap(spare, nw * ps);
	munmap(mspare, nm * ps);
	munmap(aspare, na * ps);
	ops[R_KHUGEPAGED] = active & (1u << R_KHUGEPAGED) ? collapsed() - coll0 : 0;

	for (k = 0; k < K_NR; k++)
		if (ops[k] || (k < R_NR && (active & (1u << k))))
			ksft_print_msg("%s: %-13s %9lu %9.0f/s\n", name, kind_names[k], ops[k],
				       ops[k] / t);
	ksft_print_msg("%s: %lu writes, %lu through a protection: %lu faulted (%lu more than once), %lu lost; %lu corrupt\n",
		       name, ops[K_WRITE], verified + lost, verified, extra, lost, corrupt);
	if (async)
		ksft_print_msg("%s: async: %lu writes (%lu wp fault messages), %lu scans: %lu pages reported written, %lu not written as the model says, %lu writes lost\n",
			       name, ops[K_ASYNC_WRITE], amsgs, ops[K_SCAN], ops[K_SCAN_WRITTEN],
			       ops[K_SCAN_CHECKED], alost);
	if (active & (1u << R_POISON))
		ksft_print_msg("%s: poison: %lu pages poisoned, %lu SIGBUS read, %lu healed; right after the ioctl %lu poisoned, %lu resolved over already\n",
			       name, ops[K_POISONED], ops[K_POISON_SIGBUS], ops[K_HEAL], pverified,
			       pundone);
	if (ops[K_POISONED] >= 20 && !pverified)
		bad(&errors, "%lu pages poisoned, none raised SIGBUS right after", ops[K_POISONED]);
	free1 = meminfo("HugePages_Free");
	rsvd1 = meminfo("HugePages_Rsvd");
	if (free1 != free0 || rsvd1 != rsvd0)
		bad(&errors, "huge page pool: %ld free, %ld reserved (before: %ld, %ld)",
		    free1, rsvd1, free0, rsvd0);
	ok = !corrupt && !lost && !child_bad && !stale && !errors && !unexpected &&
	     ops[K_WRITE] && verified && (!minor || ops[K_MINOR_FAULT]) && ops[K_MISSING_FAULT] &&
	     !alost && !amsgs && (!async || (ops[K_ASYNC_WRITE] && ops[K_SCAN_WRITTEN]));
	check(ok, "%s: %lu writes, %lu wp faults, %lu lost, %lu corrupt, %lu bad children, %lu stale protections, %lu errors, %lu unexpected%s",
	      name, ops[K_WRITE], ops[K_WP_FAULT], lost, corrupt, child_bad, stale, errors,
	      unexpected, async_summary(async));
}

int main(void)
{
	const char *d = getenv("DURATION"), *s = getenv("SEED"), *m = getenv("MEM"),
		   *rs = getenv("RACERS");
	unsigned int duration = d ? atoi(d) : 10, want = 0, seed, nrun = 0;
	struct sigaction sa = { .sa_sigaction = on_sigbus, .sa_flags = SA_SIGINFO | SA_NODEFER };
	struct sigaction sv = { .sa_sigaction = on_sigsegv, .sa_flags = SA_SIGINFO };
	pthread_rwlockattr_t ra;
	bool sel[MEM_NR];
	int k;

	seed = s ? strtoul(s, NULL, 0) : (unsigned int)time(NULL);
	claims = uffd_claims_of_kernel();
	setvbuf(stdout, NULL, _IOLBF, 0);
	ksft_print_header();
	ksft_set_plan(MEM_NR);
	for (k = 0; k < R_NR; k++)
		if (!rs || !*rs || !strcmp(rs, "all") || strstr(rs, kind_names[k]))
			want |= 1u << k;
	if (rs && *rs && !want)
		ksft_exit_fail_msg("RACERS=%s: none of them known\n", rs);
	ksft_print_msg("MEM=%s RACERS=%s DURATION=%u SEED=%u\n", m ? m : "all",
		       rs ? rs : "all", duration, seed);
	has_poison = claims->features & FEAT(14);
	has_async = (claims->features & FEAT(15)) && claims->pagemap_scan;
	if (!has_poison && (want & (1u << R_POISON)))
		ksft_print_msg("left out: poison ('%s' claims no UFFDIO_POISON)\n", claims->ref);
	if (!has_async)
		ksft_print_msg("no async region: '%s' claims no %s\n", claims->ref,
			       claims->features & FEAT(15) ? "PAGEMAP_SCAN" : "UFFD_FEATURE_WP_ASYNC");
	sigaction(SIGBUS, &sa, NULL);
	sigaction(SIGSEGV, &sv, NULL);
	for (k = 0; k < MEM_NR; k++) {
		sel[k] = !m || !*m || !strcmp(m, "all") || !strcmp(m, uffd_mem_names[k]);
		nrun += sel[k] && (claims->modes[k] & CLAIM_WP);
	}
	pthread_rwlockattr_init(&ra);
	pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&world, &ra);
	for (k = 0; k < NP_MAX; k++) {
		pthread_mutex_init(&wlock[k], NULL);
		pthread_mutex_init(&minlock[k], NULL);
		pthread_mutex_init(&alock[k], NULL);
		pthread_mutex_init(&xlock[k], NULL);
	}
	pagemap(&seed);		/* open it before the threads do */
	if (want & (1u << R_KHUGEPAGED)) {
		knob(THP_DIR "khugepaged/scan_sleep_millisecs", "10", old_scan,
		     sizeof(old_scan));
		knob(THP_DIR "shmem_enabled", "advise", old_shmem, sizeof(old_shmem));
		atexit(knobs_restore);
	}
	for (k = 0; k < MEM_NR; k++) {
		if (!sel[k])
			ksft_test_result_skip("%s: not selected (MEM=%s)\n", uffd_mem_names[k], m);
		else if (!(claims->modes[k] & CLAIM_WP))
			ksft_test_result_skip("%s: '%s' claims no wp on %s\n", uffd_mem_names[k],
					      claims->ref, uffd_mem_names[k]);
		else
			run(k, want, duration > nrun ? (double)duration / nrun : 1, seed);
	}
	return ksft_get_fail_cnt() ? ksft_exit_fail() : ksft_exit_pass();
}
