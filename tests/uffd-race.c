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
 * byte; its expected errnos are not counted as operations).  Racers that
 * change contents or protection hold the page locks of their pages, so that
 * the model stays exact; everything else races freely.  A racer the kernel
 * under test is known to get wrong (uffd-claims.h) is left out, and said so.
 *
 * MEM=<type>|all (default all), RACERS=..., DURATION=seconds in all (10,
 * split across the memory types), SEED=n (default: time).  One TAP test per
 * memory type; a type whose wp the kernel does not claim is skipped.
 */
#include "uffd-test.h"

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
#define NMINOR		2
#define NHANDLERS	2
#define NRACERS		2
#define NPENDING	64
#define NSLOTS		(2 * NWRITERS)
#define THP_DIR		"/sys/kernel/mm/transparent_hugepage/"

enum { R_DONTNEED, R_PAGEOUT, R_PUNCH, R_FORK, R_MREMAP, R_MPROTECT, R_MIGRATE,
	R_THPSPLIT, R_KHUGEPAGED, R_UNREGISTER, R_CLOSE, R_COLLAPSE, R_NR };
/* Counted operations: the racers', then these. */
enum { K_WRITE = R_NR, K_PROTECT, K_WP_FAULT, K_MINOR_WRITE, K_MINOR_READ,
	K_MINOR_FAULT, K_MISSING_READ, K_MISSING_FAULT, K_REMAP_EVENT, K_NR };
static const char *const kind_names[K_NR] = {
	"dontneed", "pageout", "punch", "fork", "mremap", "mprotect", "migrate",
	"thpsplit", "khugepaged", "unregister", "close", "collapse",
	"write", "protect", "wp-fault", "minor-write", "minor-read", "minor-fault",
	"missing-read", "missing-fault", "remap-event",
};

struct region {
	char *p;	/* registered */
	char *b;	/* minor: the file mapped again, MAP_SHARED, unregistered */
	size_t n;	/* pages */
	int fd;		/* the memfd, -1 for anon */
	uint64_t mode;	/* UFFDIO_REGISTER_MODE_*, 0 when not used */
};

static const struct uffd_claims *claims;
static enum uffd_mem mem;
static size_t ps;
static struct region wr, mr, xr;	/* wp, minor, missing */
static struct region *regions[3];
static int nregions;
static char *spare;			/* where mremap moves wp pages to */
static int uffd;
static uint64_t features;
static unsigned int active;		/* bit per racer */
static bool stop, stop_handlers;
static unsigned int mem_seed;

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

static unsigned long ops[K_NR];
static unsigned long corrupt, lost, extra, verified, child_bad, stale, errors,
	unexpected, nprinted;

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
		struct pollfd pfd = { .fd = fd, .events = POLLIN };

		if (__atomic_load_n(&pause_req, __ATOMIC_SEQ_CST)) {
			/* nothing is in flight: what is left is stale */
			npend = 0;
			handler_pause();
			continue;
		}
		if (poll(&pfd, 1, npend ? 1 : 20) > 0 &&
		    read(fd, &msg, sizeof(msg)) == sizeof(msg)) {
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
			page_is("minor", i, pg(&mr, i), mval(i));
			add(&ops[K_MINOR_READ]);
		}
		pthread_mutex_unlock(&minlock[i]);
		pthread_rwlock_unlock(&world);		usleep(20);	/* leave the CPUs to the faults and racers */
	}
	return NULL;
}

static void *missing_thread(void *arg)
{
	unsigned int seed = mem_seed + 211;

	while (!stopping()) {
		size_t i = rnd(&seed) % xr.n;

		pthread_rwlock_rdlock(&world);
		page_is("missing", i, pg(&xr, i), xval(i));
		pthread_rwlock_unlock(&world);
		add(&ops[K_MISSING_READ]);		usleep(20);
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
 */
static bool r_dontneed(unsigned int *s)
{
	struct region *r = pick_region(s);
	bool priv = r == &wr && !mem_is_shared(mem), ok;
	size_t i, k, n = pick(r, s, &i, 16);
	int w;

	if (priv)
		page_locks(wlock, i, n, true);
	ok = madv(pg(r, i), n * ps, MADV_DONTNEED, "MADV_DONTNEED");
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
	} else {
		ok = punch(r, i, n);
	}
	return ok;
}

/*
 * A child without UFFD_FEATURE_EVENT_FORK: no page of its wp region may be
 * protected, and private memory holds what the parent had written (pages
 * that were locked at the fork are left out).
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
		_exit(ret);
	}
	if (waitpid(pid, &status, 0) != pid)
		bad(&errors, "waitpid: %s", strerror(errno));
	else if (!WIFEXITED(status) || WEXITSTATUS(status))
		bad(&child_bad, "fork child: status 0x%x (exit 1: protected pages, 2: data)",
		    status);
	return true;
}

/* Move wp pages away and back; the registration and protection move along. */
static void *move(void *from, size_t len, void *to)
{
	return mremap(from, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, to);
}

static bool r_mremap(unsigned int *s)
{
	size_t i, k, n = pick(&wr, s, &i, 8), len = n * ps;
	char *from = pg(&wr, i), *to = spare + i * ps;
	void *moved;

	page_locks(wlock, i, n, true);
	set_busy(i, n, true);
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
		for (k = i; k < i + n; k++)
			wp_check("mremap", k);
	}
	set_busy(i, n, false);
	page_locks(wlock, i, n, false);
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
	if (mprotect(pg(r, i), n * ps, PROT_READ | PROT_WRITE))
		ksft_exit_fail_msg("mprotect back: %s\n", strerror(errno));
	return true;
}

static bool r_mprotect(unsigned int *s)
{
	struct region *r = mr.mode && rnd(s) % 3 == 0 ? &mr : &wr;
	size_t i, n = pick(r, s, &i, 16);
	bool ok;

	if (r == &wr)
		page_locks(wlock, i, n, true);
	ok = mprotect_ro(r, i, n);
	if (r == &wr)
		page_locks(wlock, i, n, false);
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

/* Part of a THP of the wp region: MADV_COLD splits the page, mprotect the pmd. */
static bool r_thpsplit(unsigned int *s)
{
	size_t per = HPAGE_SIZE / ps, c = rnd(s) % (wr.n / per);
	size_t i = c * per + rnd(s) % per, n = 1 + rnd(s) % 8;
	bool ok;

	if (i + n > (c + 1) * per)
		n = (c + 1) * per - i;
	if (rnd(s) % 2)
		return madv(pg(&wr, i), n * ps, MADV_COLD, "MADV_COLD");
	page_locks(wlock, i, n, true);
	ok = mprotect_ro(&wr, i, n);
	page_locks(wlock, i, n, false);
	return ok;
}

/* wp pages are unprotected once unregistered; registered again, maybe protected. */
static bool r_unregister(unsigned int *s)
{
	size_t i, k, n = pick(&wr, s, &i, 16);
	int ret;

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

static void register_all(int fd)
{
	int k, ret;

	for (k = 0; k < nregions; k++) {
		ret = uffd_register(fd, regions[k]->p, regions[k]->n * ps, regions[k]->mode,
				    NULL);
		if (ret)
			ksft_exit_fail_msg("UFFDIO_REGISTER: %s\n", strerror(-ret));
	}
}

/* Close the userfaultfd with nothing in flight; open, register, protect. */
static bool r_close(unsigned int *s)
{
	size_t i;
	int fd;

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
	register_all(fd);
	pthread_mutex_lock(&wp_lock);
	for (i = 0; i < wr.n; i++)
		armed[i] = false;
	protect_range(fd, 0, wr.n);
	pthread_mutex_unlock(&wp_lock);
	__atomic_store_n(&uffd, fd, __ATOMIC_SEQ_CST);
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

/* Map n pages of the memory type, 2 MiB aligned; minor: the file twice. */
static void region_map(struct region *r, size_t n, uint64_t mode)
{
	int flags = mem_is_shared(mem) ? MAP_SHARED : MAP_PRIVATE;
	char *p = mem_map(mem, n * ps, &r->fd);

	if (p == MAP_FAILED)
		ksft_exit_fail_msg("mmap %s: %s\n", uffd_mem_names[mem], strerror(errno));
	munmap(p, n * ps);
	r->n = n;
	r->mode = mode;
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
	pthread_t ht[NHANDLERS], wt[NWRITERS], mt[NMINOR], rt[NRACERS], pt, xt;
	long free0 = meminfo("HugePages_Free"), rsvd0 = meminfo("HugePages_Rsvd"), free1,
		rsvd1, coll0 = collapsed();
	bool minor = claims->modes[m] & CLAIM_MINOR, huge = mem_is_hugetlb(m), ok;
	struct timespec t0;
	/*
	 * The minor region is one PMD's worth, so that MADV_COLLAPSE can
	 * collapse it.  The missing region stays smaller: while the close
	 * racer has the userfaultfd closed, khugepaged could collapse it and
	 * fill its holes, legitimately, and the model would count them corrupt.
	 */
	size_t i, nw = huge ? 16 : NP_MAX, nm = huge ? 8 : 512, nx = huge ? 8 : 256;
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
	corrupt = lost = extra = verified = child_bad = stale = errors = unexpected = 0;
	nprinted = 0;
	stop = stop_handlers = false;
	nregions = 0;
	active = racers_for(m, want);
	ksft_print_msg("%s: %.1f s, racers:", name, secs);
	for (k = 0; k < R_NR; k++)
		if (active & (1u << k))
			printf(" %s", kind_names[k]);
	printf("%s\n", minor ? "" : " (no minor region: not claimed)");

	region_map(&wr, nw, UFFDIO_REGISTER_MODE_WP);
	if (minor)
		region_map(&mr, nm, UFFDIO_REGISTER_MODE_MINOR);
	region_map(&xr, nx, UFFDIO_REGISTER_MODE_MISSING);
	spare = map_aligned(nw * ps, HPAGE_SIZE, MAP_PRIVATE | MAP_NORESERVE, -1);
	if (spare == MAP_FAILED || mprotect(spare, nw * ps, PROT_NONE))
		ksft_exit_fail_msg("spare: %s\n", strerror(errno));
	if (active & (1u << R_KHUGEPAGED))
		madvise(wr.p, nw * ps, MADV_HUGEPAGE);
	/* anon: what is not populated cannot be protected */
	memset(wr.p, 0, nw * ps);
	for (i = 0; i < nm && minor; i++) {
		mgen[i] = 1;
		put(mr.b + i * ps, mval(i));
	}
	features = active & (1u << R_MREMAP) ? UFFD_FEATURE_EVENT_REMAP : 0;
	uffd = uffd_open(features);
	register_all(uffd);
	pthread_mutex_lock(&wp_lock);
	protect_range(uffd, 0, wr.n);
	pthread_mutex_unlock(&wp_lock);

	for (k = 0; k < NHANDLERS; k++)
		pthread_create(&ht[k], NULL, handler, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (k = 0; k < NWRITERS; k++)
		pthread_create(&wt[k], NULL, writer, (void *)(long)k);
	for (k = 0; minor && k < NMINOR; k++)
		pthread_create(&mt[k], NULL, minor_thread, (void *)(long)k);
	pthread_create(&xt, NULL, missing_thread, NULL);
	pthread_create(&pt, NULL, protector, NULL);
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
	t = since(&t0);

	/* every page once more, the handlers still serving */
	for (i = 0; i < wr.n; i++)
		wp_check("final", i);
	for (i = 0; i < mr.n; i++)
		page_is("minor final", i, pg(&mr, i), mval(i));
	for (i = 0; i < xr.n; i++)
		page_is("missing final", i, pg(&xr, i), xval(i));
	__atomic_store_n(&stop_handlers, true, __ATOMIC_SEQ_CST);
	for (k = 0; k < NHANDLERS; k++)
		join(ht[k], "handler");
	if (uffd_unregister(uffd, wr.p, wr.n * ps))
		bad(&errors, "UFFDIO_UNREGISTER: %s", strerror(errno));
	for (i = 0; claims->pagemap_wp && i < wr.n; i++)
		if (pagemap(pg(&wr, i)) & PM_UFFD_WP)
			bad(&stale, "wp page %zu protected after the final UFFDIO_UNREGISTER", i);
	close(uffd);
	region_unmap(&wr);
	if (minor)
		region_unmap(&mr);
	region_unmap(&xr);
	munmap(spare, nw * ps);
	ops[R_KHUGEPAGED] = active & (1u << R_KHUGEPAGED) ? collapsed() - coll0 : 0;

	for (k = 0; k < K_NR; k++)
		if (ops[k] || (k < R_NR && (active & (1u << k))))
			ksft_print_msg("%s: %-13s %9lu %9.0f/s\n", name, kind_names[k], ops[k],
				       ops[k] / t);
	ksft_print_msg("%s: %lu writes, %lu through a protection: %lu faulted (%lu more than once), %lu lost; %lu corrupt\n",
		       name, ops[K_WRITE], verified + lost, verified, extra, lost, corrupt);
	free1 = meminfo("HugePages_Free");
	rsvd1 = meminfo("HugePages_Rsvd");
	if (free1 != free0 || rsvd1 != rsvd0)
		bad(&errors, "huge page pool: %ld free, %ld reserved (before: %ld, %ld)",
		    free1, rsvd1, free0, rsvd0);
	ok = !corrupt && !lost && !child_bad && !stale && !errors && !unexpected &&
	     ops[K_WRITE] && verified && (!minor || ops[K_MINOR_FAULT]) && ops[K_MISSING_FAULT];
	check(ok, "%s: %lu writes, %lu wp faults, %lu lost, %lu corrupt, %lu bad children, %lu stale protections, %lu errors, %lu unexpected",
	      name, ops[K_WRITE], ops[K_WP_FAULT], lost, corrupt, child_bad, stale, errors,
	      unexpected);
}

int main(void)
{
	const char *d = getenv("DURATION"), *s = getenv("SEED"), *m = getenv("MEM"),
		   *rs = getenv("RACERS");
	unsigned int duration = d ? atoi(d) : 10, want = 0, seed, nrun = 0;
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
