// SPDX-License-Identifier: GPL-2.0
/*
 * FOLL_FORCE writes (ptrace, /proc/PID/mem) racing with userfaultfd.
 *
 * 5.10's GUP lets a FOLL_FORCE write through a read-only pte once its own
 * write fault has broken CoW: faultin_page() sets FOLL_COW, and
 * can_follow_write_pte() then accepts any *dirty* pte (the Dirty COW fix,
 * mm/gup.c).  __get_user_pages() looks the pte up again after the fault
 * ("goto retry", which calls cond_resched() first: on a kernel without
 * preemption that is where another task gets the CPU), so what matters is
 * what is mapped there, and whether it is dirty, by the time of that second
 * lookup.  Mainline (5.19 on) follows such a pte only to an exclusive
 * anonymous page that is not uffd-wp protected.  Every test writes through
 * /proc/self/mem into a PROT_READ MAP_PRIVATE mapping.  The writer runs on
 * CPU 0 with a CPU hog that spins in bursts of 1 ms every 2 ms: the
 * wake-up of each burst preempts the writer at its next scheduling point
 * (often that cond_resched()), and the burst keeps it off the CPU, while
 * the userfaultfd side runs on CPU 1.
 *
 * 1. "shmem" (known_broken bit 30; CVE-2022-2590's race): a memfd, filled
 *    with a pattern and sealed with F_SEAL_WRITE, mapped MAP_PRIVATE and
 *    registered for minor faults.  A writer writes the page again and again
 *    (each write copies the page: anonymous, dirty, read-only); a zapper
 *    drops the copy (MADV_DONTNEED) and maps the page-cache page again with
 *    UFFDIO_CONTINUE (EEXIST ignored), in a loop; a handler answers minor
 *    faults with UFFDIO_CONTINUE.  The series' shmem CONTINUE maps the
 *    page-cache page dirty (shmem_mcontinue_atomic_pte()), so when the
 *    writer's second lookup finds it there, the write lands in the sealed
 *    file.  The file is checked every millisecond through pread() and a
 *    second, read-only MAP_SHARED mapping; the first change fails the test,
 *    with the number of writes (attempts) and the time it took.
 * 2. "hugetlb": the same on a hugetlbfs memfd (2 MiB pages, MADV_DONTNEED
 *    of whole huge pages).  hugetlb GUP (follow_hugetlb_page()) follows a
 *    write only through a writable huge pte and CONTINUE maps a private one
 *    read-only, so this passes on every kernel (mainline, since 6.0,
 *    refuses FOLL_FORCE writes to hugetlb mappings altogether: all fail
 *    there): it guards the class (a failure here is no known bug).
 * 3. "shmem UFFDIO_COPY": would be the same race with the page brought in by
 *    UFFDIO_COPY under a MISSING registration.  Skipped: in a MAP_PRIVATE
 *    shmem mapping UFFDIO_COPY installs a new anonymous page
 *    (mfill_atomic_pte() -> mcopy_atomic_pte()) and UFFDIO_ZEROPAGE the zero
 *    page, never the page-cache page, so a FOLL_FORCE write can only reach
 *    the process's own copy; other paths that map the page-cache page into
 *    a private mapping (read faults, fault-around, MADV_COLLAPSE's PMD) map
 *    it clean.
 * 4. "anon" (known_broken bit 31): a PROT_READ MAP_PRIVATE anonymous page
 *    registered for write-protection.  A writer writes increasing sequence
 *    numbers into it; its write fault reuses (or copies) the page, dirty and
 *    read-only, with FOLL_COW set; if UFFDIO_WRITEPROTECT protects the pte
 *    before the second lookup, 5.10 writes through the protection.
 *
 * A GUP of /proc/PID/mem cannot wait for a userfault (no
 * FAULT_FLAG_ALLOW_RETRY: handle_userfault() answers VM_FAULT_SIGBUS, and a
 * CONFIG_DEBUG_VM kernel logs "FAULT_FLAG_ALLOW_RETRY missing" with a stack,
 * rate-limited), on every kernel: where it meets an empty pte of a minor
 * range or a protected pte, the write fails with EIO and no message is
 * sent.  That is the correct outcome these tests expect; the handler
 * threads are there for any message that comes anyway.
 *
 * The detector of test 4 must not fail a correct kernel, where a write may
 * land in a protected page too: a GUP that took its page reference before
 * the protect copies its data after the ioctl returned, on every kernel.
 * What a correct kernel never does is write through a pte lookup made after
 * the protect.  Between GUP's successful lookup and its copy (and
 * set_page_dirty_lock()) there is no point where a kernel without
 * preemption (PREEMPT_NONE, as the guest's kernels are built; a preemptible
 * kernel skips the test) schedules: a writer that is not running at the
 * protect has copied what it looked up before, or has its lookup still to
 * do.  So the protector (CPU 1) protects during a burst of the hog, and
 * the round counts ("clean") if the hog's count of context switches was
 * the same in a sample taken before the ioctl and in one begun after it
 * returned: the hog had CPU 0 all along, so the writer, pinned there, did
 * not run.  (A vCPU stalled by the host switches no guest task; time plays
 * no part.)  The protector notes the value before the ioctl; in a clean
 * round any change of it is a write through the protection.  The round
 * ends when the writer had a write refused (EIO; the writer then
 * un-protects, as a handler would) or a message came (the handler
 * un-protects); both count before they un-protect, and the protector never
 * protects while an un-protect is pending, so "nothing met the protection
 * since the protect" means "protected all along".
 *
 * DURATION=seconds for all races together (default 20, split 2:1:2 across
 * shmem, hugetlb and anon; each stops at its first failure),
 * VARIANTS=comma list of shmem,hugetlb,anon (default all), KEEP_GOING=1:
 * test 4 counts every write through a protection until its time is up.
 */
#include "uffd-test.h"

#include <sched.h>
#include <time.h>
#include <sys/klog.h>
#include <sys/resource.h>
#include <sys/utsname.h>

#ifndef MFD_ALLOW_SEALING
#define MFD_ALLOW_SEALING 0x0002U
#endif
#ifndef F_ADD_SEALS
#define F_ADD_SEALS	(1024 + 9)
#define F_SEAL_SHRINK	0x0002
#define F_SEAL_GROW	0x0004
#define F_SEAL_WRITE	0x0008
#endif

#define WRITER_CPU	0
#define HELPER_CPU	1

#define MS		1000000ULL
/* the hog on CPU 0: spins HOG_BURST_US, sleeps HOG_SLEEP_US */
#define HOG_BURST_US	1000
#define HOG_SLEEP_US	1000
/* test 1 and 2: the zapper leaves the page mapped so long after CONTINUE */
#define ZAP_PAUSE_US	200
/* test 4: a round that nothing ends is given up after */
#define ROUND_MAX_NS	(1000 * MS)

/* test 1 and 2: where the writers write, and how much of the file is watched */
#define WRITE_OFF	64
#define WRITE_LEN	16
#define WRITE_BYTE	0xee
#define WATCH_LEN	4096

static const struct uffd_claims *claims;
static int ncpus;
static int mem_fd = -1;	/* /proc/self/mem */
static int write_errno;	/* of the last failed write */
static bool keep_going;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static unsigned long get(unsigned long *n)
{
	return __atomic_load_n(n, __ATOMIC_SEQ_CST);
}

static void count(unsigned long *n)
{
	__atomic_add_fetch(n, 1, __ATOMIC_SEQ_CST);
}

/* Pin the calling thread to cpu; false where there are not two CPUs. */
static bool pin(int cpu)
{
	cpu_set_t set;

	if (ncpus < 2)
		return false;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return !sched_setaffinity(0, sizeof(set), &set);
}

/*
 * The preemption model of the running kernel: "none" where no task is
 * preempted in the kernel (PREEMPT_NONE builds say neither PREEMPT nor
 * PREEMPT_DYNAMIC in uname -v; a PREEMPT_DYNAMIC kernel says its mode in
 * debugfs and in the boot log), else what it is, or "unknown".
 */
static const char *preempt_model(void)
{
	static char mode[32];
	struct utsname u;
	char buf[128], *log, *p;
	int n;

	if (uname(&u))
		return "unknown";
	if (!strstr(u.version, "PREEMPT"))
		return "none";
	if (!strstr(u.version, "PREEMPT_DYNAMIC"))
		return strstr(u.version, "PREEMPT_RT") ? "rt" : "full";
	/* "none (voluntary) full": the mode in parentheses */
	knob("/sys/kernel/debug/sched/preempt", NULL, buf, sizeof(buf));
	p = strchr(buf, '(');
	if (p && sscanf(p + 1, "%31[a-z]", mode) == 1)
		return mode;
	n = klogctl(10, NULL, 0);	/* SYSLOG_ACTION_SIZE_BUFFER */
	log = n > 0 ? calloc(1, n + 1) : NULL;
	if (log && klogctl(3, log, n) > 0) {	/* SYSLOG_ACTION_READ_ALL */
		for (p = log; (p = strstr(p, "Dynamic Preempt: ")); p++)
			sscanf(p + strlen("Dynamic Preempt: "), "%31[a-z]", mode);
	}
	free(log);
	return mode[0] ? mode : "unknown";
}

/* A FOLL_FORCE write of len bytes at addr; true if all went in. */
static bool force_write(void *addr, const void *buf, size_t len)
{
	ssize_t n = pwrite(mem_fd, buf, len, (off_t)(unsigned long)addr);

	if (n != (ssize_t)len)
		write_errno = n < 0 ? errno : EIO;
	return n == (ssize_t)len;
}

/*
 * The CPU hog on CPU 0: bursts of spinning, each started by a wake-up that
 * preempts the writer there at its next scheduling point, which is where
 * the writer then waits for the burst to end.  While it spins, the hog
 * publishes how often it has been switched out so far (getrusage()): a
 * count that did not move between two samples means the hog had CPU 0, so
 * the writer did not run, in between.
 */
struct hog {
	pthread_t thread;
	int stop;
	int unpinned;
	unsigned long burst;	/* the number of the burst in progress, 0 between */
	unsigned long samples;
	unsigned long switches;	/* the hog's context switches at the last sample */
};

static void *hog_main(void *arg)
{
	struct hog *h = arg;
	unsigned long b = 0;
	struct rusage ru;
	uint64_t start;

	if (!pin(WRITER_CPU))
		__atomic_store_n(&h->unpinned, 1, __ATOMIC_SEQ_CST);
	while (!__atomic_load_n(&h->stop, __ATOMIC_SEQ_CST)) {
		start = now_ns();
		b++;
		do {
			getrusage(RUSAGE_THREAD, &ru);
			__atomic_store_n(&h->switches, ru.ru_nvcsw + ru.ru_nivcsw,
					 __ATOMIC_SEQ_CST);
			__atomic_add_fetch(&h->samples, 1, __ATOMIC_SEQ_CST);
			/* announced once its count includes the sleep before it */
			__atomic_store_n(&h->burst, b, __ATOMIC_SEQ_CST);
		} while (now_ns() - start < HOG_BURST_US * 1000ULL);
		__atomic_store_n(&h->burst, 0, __ATOMIC_SEQ_CST);
		usleep(HOG_SLEEP_US);
	}
	return NULL;
}

static void hog_start(struct hog *h)
{
	memset(h, 0, sizeof(*h));
	if (pthread_create(&h->thread, NULL, hog_main, h))
		ksft_exit_fail_msg("hog: %s\n", strerror(errno));
}

static void hog_stop(struct hog *h)
{
	__atomic_store_n(&h->stop, 1, __ATOMIC_SEQ_CST);
	pthread_join(h->thread, NULL);
}

static int uffd_continue(int fd, void *p, size_t len)
{
	struct uffdio_continue c = {
		.range = { .start = (unsigned long)p, .len = len },
	};

	return ioctl(fd, UFFDIO_CONTINUE, &c) ? -errno : 0;
}

static void uffd_wake(int fd, void *p, size_t len)
{
	struct uffdio_range r = { .start = (unsigned long)p, .len = len };

	ioctl(fd, UFFDIO_WAKE, &r);
}

/* Race time of each variant, in weights of DURATION. */
enum variant { V_SHMEM, V_HUGETLB, V_ANON, V_NR };
static const char *const variant_names[V_NR] = { "shmem", "hugetlb", "anon" };
static const int variant_weight[V_NR] = { 2, 1, 2 };
static unsigned int selected = (1u << V_NR) - 1;
static double race_seconds[V_NR];

/* ---- tests 1 and 2: the sealed memfd ---- */

struct sealed {
	const char *name;
	bool hugetlb;
	size_t page;
	int mfd, uffd;
	char *priv;		/* MAP_PRIVATE, PROT_READ, registered MINOR */
	char *view;		/* MAP_SHARED, PROT_READ, or NULL */
	int stop_writers, stop_zapper;
	struct bg_thread bg;	/* the minor fault handler */
	struct hog hog;
	unsigned long writes, write_errs, zaps, continues, eexist, cont_errs;
	unsigned long minor, handler_eexist, unexpected, checks;
	int last_error;
	struct verdict v;
};

static char pattern(size_t i)
{
	return 'a' + i % 26;
}

/* The first byte of buf (at file offset off) that is not the pattern, or -1. */
static long first_change(const char *buf, size_t off, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (buf[i] != pattern(off + i))
			return i;
	return -1;
}

static void *minor_handler(void *arg)
{
	struct sealed *s = arg;
	struct uffd_msg msg;
	int ret;

	while (uffd_next_msg(s->uffd, s->bg.stop[0], &msg)) {
		if (msg.event != UFFD_EVENT_PAGEFAULT ||
		    !(msg.arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_MINOR)) {
			count(&s->unexpected);
			if (msg.event == UFFD_EVENT_PAGEFAULT)
				uffd_wake(s->uffd, s->priv, s->page);
			continue;
		}
		count(&s->minor);
		/* one page: the fault is on it */
		ret = uffd_continue(s->uffd, s->priv, s->page);
		if (ret == -EEXIST)
			count(&s->handler_eexist);
		else if (ret)
			s->last_error = -ret;
		if (ret)
			uffd_wake(s->uffd, s->priv, s->page);
	}
	return NULL;
}

static void *sealed_writer(void *arg)
{
	struct sealed *s = arg;
	char buf[WRITE_LEN];

	pin(WRITER_CPU);
	memset(buf, WRITE_BYTE, sizeof(buf));
	while (!__atomic_load_n(&s->stop_writers, __ATOMIC_SEQ_CST)) {
		if (force_write(s->priv + WRITE_OFF, buf, sizeof(buf)))
			count(&s->writes);
		else
			count(&s->write_errs);
	}
	return NULL;
}

/* Drops the writer's copy and maps the page-cache page again, in a loop. */
static void *zapper(void *arg)
{
	struct sealed *s = arg;
	int ret;

	while (!__atomic_load_n(&s->stop_zapper, __ATOMIC_SEQ_CST)) {
		if (!madvise(s->priv, s->page, MADV_DONTNEED))
			count(&s->zaps);
		ret = uffd_continue(s->uffd, s->priv, s->page);
		if (!ret) {
			uint64_t until = now_ns() + ZAP_PAUSE_US * 1000ULL;

			count(&s->continues);
			/* leave the page mapped for most of the writer's window */
			while (now_ns() < until)
				;
		} else if (ret == -EEXIST)
			count(&s->eexist);
		else
			count(&s->cont_errs);
	}
	return NULL;
}

/* The sealed memfd and its mappings; false after a verdict. */
static bool sealed_setup(struct sealed *s)
{
	unsigned int mflags = MFD_ALLOW_SEALING | (s->hugetlb ? MFD_HUGETLB : 0);
	uint64_t feature = s->hugetlb ? UFFD_FEATURE_MINOR_HUGETLBFS : UFFD_FEATURE_MINOR_SHMEM;
	uint64_t ioctls = 0;
	char path[64], *fill;
	size_t i;
	int ret, rofd;

	s->uffd = uffd_open_raw(0);
	if (s->uffd < 0)
		return verdict_fail(&s->v, "userfaultfd: %s", strerror(errno));
	ret = uffd_api(s->uffd, feature, NULL);
	if (ret == -EINVAL)
		return verdict_skip(&s->v, s->hugetlb ? "no UFFD_FEATURE_MINOR_HUGETLBFS" :
				    "no UFFD_FEATURE_MINOR_SHMEM");
	if (ret)
		return verdict_fail(&s->v, "UFFDIO_API: %s", strerror(-ret));
	if (s->hugetlb && meminfo("HugePages_Free") < 4)
		return verdict_skip(&s->v, "fewer than 4 free huge pages");

	s->mfd = memfd_create(s->name, mflags);
	if (s->mfd < 0)
		return verdict_fail(&s->v, "memfd_create: %s", strerror(errno));
	if (ftruncate(s->mfd, s->page))
		return verdict_fail(&s->v, "ftruncate: %s", strerror(errno));
	/* hugetlbfs has no write(): fill through a mapping, gone before the seal */
	fill = mmap(NULL, s->page, PROT_READ | PROT_WRITE, MAP_SHARED, s->mfd, 0);
	if (fill == MAP_FAILED)
		return verdict_fail(&s->v, "mmap to fill: %s", strerror(errno));
	for (i = 0; i < s->page; i++)
		fill[i] = pattern(i);
	munmap(fill, s->page);
	if (fcntl(s->mfd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW))
		return verdict_fail(&s->v, "F_ADD_SEALS: %s", strerror(errno));

	/*
	 * The private mapping, and a shared read-only view.  5.10 refuses a
	 * MAP_SHARED mapping of a write-sealed fd opened for writing, even
	 * PROT_READ (6.7 allows it): map it through a read-only open.
	 */
	s->priv = map_aligned(s->page, s->page, MAP_PRIVATE | (s->hugetlb ? MAP_NORESERVE : 0),
			      s->mfd);
	if (s->priv == MAP_FAILED) {
		s->priv = NULL;
		return verdict_fail(&s->v, "mmap MAP_PRIVATE: %s", strerror(errno));
	}
	if (mprotect(s->priv, s->page, PROT_READ))
		return verdict_fail(&s->v, "mprotect: %s", strerror(errno));
	if (!s->hugetlb)
		madvise(s->priv, s->page, MADV_NOHUGEPAGE);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", s->mfd);
	rofd = open(path, O_RDONLY);
	if (rofd >= 0) {
		s->view = mmap(NULL, s->page, PROT_READ, MAP_SHARED, rofd, 0);
		close(rofd);
	}
	if (rofd < 0 || s->view == MAP_FAILED) {
		ksft_print_msg("%s: no read-only view (%s): pread() only\n", s->name,
			       strerror(errno));
		s->view = NULL;
	}
	if (s->hugetlb && madvise(s->priv, s->page, MADV_DONTNEED) && errno == EINVAL)
		return verdict_skip(&s->v, "no MADV_DONTNEED on hugetlbfs");

	ret = uffd_register(s->uffd, s->priv, s->page, UFFDIO_REGISTER_MODE_MINOR, &ioctls);
	if (ret)
		return verdict_fail(&s->v, "UFFDIO_REGISTER MINOR: %s", strerror(-ret));
	if (!(ioctls & IOC_CONTINUE))
		return verdict_fail(&s->v, "UFFDIO_REGISTER: no UFFDIO_CONTINUE in 0x%llx",
				    (unsigned long long)ioctls);
	return true;
}

/* Every byte of the file still the pattern; false after a verdict. */
static bool sealed_check(struct sealed *s, bool whole, uint64_t t0)
{
	static char buf[WATCH_LEN];
	size_t off, len = whole ? s->page : WATCH_LEN;
	long k;

	for (off = 0; off < len; off += WATCH_LEN) {
		if (pread(s->mfd, buf, WATCH_LEN, off) != WATCH_LEN)
			return verdict_fail(&s->v, "pread: %s", strerror(errno));
		k = first_change(buf, off, WATCH_LEN);
		if (k >= 0)
			return verdict_fail(&s->v, "the sealed file changed (pread: byte %zu is 0x%02x, was 0x%02x) after %lu FOLL_FORCE writes in %.2f s",
					    off + k, (unsigned char)buf[k],
					    (unsigned char)pattern(off + k), get(&s->writes),
					    (now_ns() - t0) / 1e9);
		if (!s->view)
			continue;
		k = first_change(s->view + off, off, WATCH_LEN);
		if (k >= 0)
			return verdict_fail(&s->v, "the sealed file changed (shared view: byte %zu is 0x%02x, was 0x%02x) after %lu FOLL_FORCE writes in %.2f s",
					    off + k, (unsigned char)s->view[off + k],
					    (unsigned char)pattern(off + k), get(&s->writes),
					    (now_ns() - t0) / 1e9);
	}
	count(&s->checks);
	return true;
}

static void sealed_race(struct sealed *s, double seconds)
{
	uint64_t t0 = now_ns(), end = t0 + (uint64_t)(seconds * 1e9);
	pthread_t wt, zt;
	bool ok = true;

	bg_start(&s->bg, minor_handler, s, "handler");
	hog_start(&s->hog);
	pthread_create(&zt, NULL, zapper, s);
	pthread_create(&wt, NULL, sealed_writer, s);
	while (ok && now_ns() < end) {
		usleep(1000);
		ok = sealed_check(s, false, t0);
	}
	__atomic_store_n(&s->stop_writers, 1, __ATOMIC_SEQ_CST);
	pthread_join(wt, NULL);
	__atomic_store_n(&s->stop_zapper, 1, __ATOMIC_SEQ_CST);
	pthread_join(zt, NULL);
	bg_stop(&s->bg, "handler");
	hog_stop(&s->hog);
	if (ok)
		sealed_check(s, true, t0);

	ksft_print_msg("%s: %.2f s: %lu FOLL_FORCE writes (%lu failed: %s), %lu MADV_DONTNEED, %lu CONTINUE (%lu EEXIST, %lu errors), %lu minor faults (%lu EEXIST), %lu checks\n",
		       s->name, (now_ns() - t0) / 1e9, s->writes, s->write_errs,
		       s->write_errs ? strerror(write_errno) : "-", s->zaps,
		       s->continues, s->eexist, s->cont_errs, s->minor, s->handler_eexist,
		       s->checks);
	if (s->unexpected || s->last_error)
		verdict_fail(&s->v, "%lu unexpected messages, handler error %s", s->unexpected,
			     strerror(s->last_error));
	else if (!s->writes && s->hugetlb && s->write_errs)
		ksft_print_msg("%s: no FOLL_FORCE write reaches a hugetlb mapping on this kernel (6.0 on refuse them)\n",
			       s->name);
	else if (!s->writes || !s->continues)
		verdict_fail(&s->v, "no race: %lu writes, %lu CONTINUE", s->writes, s->continues);
}

static void t_sealed(bool hugetlb, int nr, const char *name)
{
	struct sealed s;

	memset(&s, 0, sizeof(s));
	s.name = hugetlb ? "hugetlb" : "shmem";
	s.hugetlb = hugetlb;
	s.page = hugetlb ? HPAGE_SIZE : (size_t)getpagesize();
	s.mfd = -1;
	s.uffd = -1;
	if (!(selected & (1u << (hugetlb ? V_HUGETLB : V_SHMEM))))
		verdict_skip(&s.v, "not in VARIANTS");
	else if (sealed_setup(&s))
		sealed_race(&s, race_seconds[hugetlb ? V_HUGETLB : V_SHMEM]);
	verdict_report(&s.v, !s.v.why[0] && !s.v.skip[0], nr, claims, name);
	if (s.priv)
		munmap(s.priv, s.page);
	if (s.view)
		munmap(s.view, s.page);
	if (s.uffd >= 0)
		close(s.uffd);
	if (s.mfd >= 0)
		close(s.mfd);
}

/* ---- test 4: anonymous memory under uffd-wp ---- */

struct anon {
	size_t page;
	char *area, *target;
	int uffd;
	struct bg_thread bg;	/* the wp handler */
	struct hog hog;
	int stop;
	/* the writer met the protection (a refused write, a message): counted before and after it is lifted */
	unsigned long met, unprotected;
	unsigned long msgs, unexpected;
	/* writes that went in, that the protection refused (EIO), others */
	unsigned long writes, refused, write_errs;
	int unpinned;
	unsigned long last_burst;
	unsigned long rounds, ended, quiet, unclean, caught;
	struct verdict v;
};

/* Nothing should come: a GUP of /proc/PID/mem cannot wait for a fault. */
static void *wp_handler(void *arg)
{
	struct anon *a = arg;
	struct uffd_msg msg;

	while (uffd_next_msg(a->uffd, a->bg.stop[0], &msg)) {
		if (msg.event != UFFD_EVENT_PAGEFAULT ||
		    !(msg.arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WP))
			count(&a->unexpected);
		count(&a->msgs);
		count(&a->met);
		if (uffd_wp(a->uffd, a->target, a->page, false))
			uffd_wake(a->uffd, a->target, a->page);
		count(&a->unprotected);
	}
	return NULL;
}

static void *anon_writer(void *arg)
{
	struct anon *a = arg;
	uint64_t seq = 1;

	/* before its first write: the detector relies on it */
	if (!pin(WRITER_CPU))
		__atomic_store_n(&a->unpinned, 1, __ATOMIC_SEQ_CST);
	while (!__atomic_load_n(&a->stop, __ATOMIC_SEQ_CST)) {
		seq++;
		if (pwrite(mem_fd, &seq, sizeof(seq), (off_t)(unsigned long)a->target) ==
		    sizeof(seq))
			count(&a->writes);
		else if (errno == EIO) {
			/* the protection did its job: lift it, as a handler would */
			count(&a->refused);
			count(&a->met);
			uffd_wp(a->uffd, a->target, a->page, false);
			count(&a->unprotected);
		} else
			count(&a->write_errs);
	}
	return NULL;
}

static uint64_t target_value(struct anon *a)
{
	return *(volatile uint64_t *)a->target;
}

/*
 * One protection round (see the header); returns false after a verdict
 * (a write through the protection, unless KEEP_GOING).
 */
static bool anon_round(struct anon *a, uint64_t t_start, uint64_t end)
{
	uint64_t t0, t, v0, v;
	unsigned long m0, sw, n, b;
	bool clean;
	int ret;

	/* a new burst of the hog: the writer is off CPU 0, wherever it stopped */
	t = now_ns();
	while ((b = get(&a->hog.burst)) == 0 || b == a->last_burst)
		if (now_ns() - t > 100 * MS)
			return true;
	a->last_burst = b;
	/* never protect while the protection of the last round is being lifted */
	m0 = get(&a->met);
	if (get(&a->unprotected) != m0)
		return true;
	sw = get(&a->hog.switches);
	v0 = target_value(a);
	ret = uffd_wp(a->uffd, a->target, a->page, true);
	if (ret)
		return verdict_fail(&a->v, "UFFDIO_WRITEPROTECT: %s", strerror(-ret));
	t0 = now_ns();
	a->rounds++;
	/* a sample of the hog that began after the protect returned */
	n = get(&a->hog.samples);
	while (get(&a->hog.samples) < n + 2 && now_ns() - t0 < 100 * MS)
		;
	clean = get(&a->hog.samples) >= n + 2 && get(&a->hog.switches) == sw &&
		!__atomic_load_n(&a->unpinned, __ATOMIC_SEQ_CST) &&
		!__atomic_load_n(&a->hog.unpinned, __ATOMIC_SEQ_CST);
	if (!clean)
		a->unclean++;
	for (;;) {
		t = now_ns();
		v = target_value(a);
		/* the writer met the protection: writes after that are allowed */
		if (get(&a->met) != m0) {
			a->ended++;
			return true;
		}
		if (clean && v != v0) {
			a->caught++;
			ksft_print_msg("anon: write through the protection in round %lu at %.3f s: %llu -> %llu, %.2f ms after the protect\n",
				       a->rounds, (t - t_start) / 1e9, (unsigned long long)v0,
				       (unsigned long long)v, (t - t0) / 1e6);
			if (a->caught == 1)
				verdict_fail(&a->v, "a FOLL_FORCE write went through a uffd-wp protection (%llu -> %llu; round %lu, %lu writes, %.3f s)",
					     (unsigned long long)v0, (unsigned long long)v,
					     a->rounds, get(&a->writes), (t - t_start) / 1e9);
			if (!keep_going)
				return false;
			break;
		}
		if (t - t0 > ROUND_MAX_NS || t > end) {
			a->quiet++;
			break;
		}
		usleep(50);
	}
	ret = uffd_wp(a->uffd, a->target, a->page, false);
	if (ret)
		return verdict_fail(&a->v, "UFFDIO_WRITEPROTECT un-protect: %s", strerror(-ret));
	return true;
}

static bool anon_setup(struct anon *a)
{
	uint64_t seq = 1;
	int ret;

	static char why[128];
	const char *model = preempt_model();

	if (ncpus < 2)
		return verdict_skip(&a->v, "needs two CPUs");
	/* see the header: a preempted GUP could land its write late */
	if (strcmp(model, "none")) {
		snprintf(why, sizeof(why), "the detector needs a kernel that does not preempt, this one's model is %s",
			 model);
		return verdict_skip(&a->v, why);
	}
	a->area = mmap(NULL, 4 * a->page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (a->area == MAP_FAILED) {
		a->area = NULL;
		return verdict_fail(&a->v, "mmap: %s", strerror(errno));
	}
	madvise(a->area, 4 * a->page, MADV_NOHUGEPAGE);
	a->target = a->area + a->page;
	if (!force_write(a->target, &seq, sizeof(seq)))
		return verdict_fail(&a->v, "write to /proc/self/mem: %s", strerror(errno));
	a->uffd = uffd_open_raw(0);
	if (a->uffd < 0)
		return verdict_fail(&a->v, "userfaultfd: %s", strerror(errno));
	ret = uffd_api(a->uffd, 0, NULL);
	if (ret)
		return verdict_fail(&a->v, "UFFDIO_API: %s", strerror(-ret));
	ret = uffd_register(a->uffd, a->area, 4 * a->page, UFFDIO_REGISTER_MODE_WP, NULL);
	if (ret == -EINVAL)
		return verdict_skip(&a->v, "no UFFDIO_REGISTER_MODE_WP on anonymous memory");
	if (ret)
		return verdict_fail(&a->v, "UFFDIO_REGISTER WP: %s", strerror(-ret));
	return true;
}

static void anon_race(struct anon *a, double seconds)
{
	uint64_t t0 = now_ns(), end = t0 + (uint64_t)(seconds * 1e9);
	pthread_t wt;

	bg_start(&a->bg, wp_handler, a, "handler");
	hog_start(&a->hog);
	pthread_create(&wt, NULL, anon_writer, a);
	while (now_ns() < end)
		if (!anon_round(a, t0, end))
			break;
	__atomic_store_n(&a->stop, 1, __ATOMIC_SEQ_CST);
	pthread_join(wt, NULL);
	bg_stop(&a->bg, "handler");
	hog_stop(&a->hog);
	ksft_print_msg("anon: %.2f s: %lu FOLL_FORCE writes, %lu refused (EIO), %lu other errors, %lu wp messages; %lu rounds (%lu with the writer maybe on CPU 0 at the protect): %lu ended by a refused write or a message, %lu quiet; %lu writes through the protection\n",
		       (now_ns() - t0) / 1e9, a->writes, a->refused, a->write_errs, a->msgs,
		       a->rounds, a->unclean, a->ended, a->quiet, a->caught);
	if (a->unpinned || a->hog.unpinned)
		verdict_fail(&a->v, "cannot pin the writer and the hog to CPU %d", WRITER_CPU);
	else if (a->unexpected || a->write_errs)
		verdict_fail(&a->v, "%lu unexpected messages, %lu writes failed otherwise",
			     a->unexpected, a->write_errs);
	else if (!a->writes || !a->ended)
		verdict_fail(&a->v, "no race: %lu writes, %lu rounds ended by a refused write",
			     a->writes, a->ended);
}

static void t_anon(int nr, const char *name)
{
	struct anon a;

	memset(&a, 0, sizeof(a));
	a.page = getpagesize();
	a.uffd = -1;
	if (!(selected & (1u << V_ANON)))
		verdict_skip(&a.v, "not in VARIANTS");
	else if (anon_setup(&a))
		anon_race(&a, race_seconds[V_ANON]);
	verdict_report(&a.v, !a.v.why[0] && !a.v.skip[0], nr, claims, name);
	if (a.uffd >= 0)
		close(a.uffd);
	if (a.area)
		munmap(a.area, 4 * a.page);
}

int main(void)
{
	const char *d = getenv("DURATION"), *vs = getenv("VARIANTS"), *k = getenv("KEEP_GOING");
	double duration = d ? atof(d) : 20;
	int i, weights = 0;

	claims = uffd_claims_of_kernel();
	ksft_print_header();
	ksft_set_plan(4);
	if (vs) {
		selected = 0;
		for (i = 0; i < V_NR; i++)
			if (strstr(vs, variant_names[i]))
				selected |= 1u << i;
	}
	keep_going = k && atoi(k);
	for (i = 0; i < V_NR; i++)
		if (selected & (1u << i))
			weights += variant_weight[i];
	for (i = 0; i < V_NR; i++)
		race_seconds[i] = weights ? duration * variant_weight[i] / weights : 0;
	ncpus = sysconf(_SC_NPROCESSORS_ONLN);
	ksft_print_msg("DURATION=%g VARIANTS=%s KEEP_GOING=%d, %d CPUs, preemption: %s\n",
		       duration, vs ? vs : "all", keep_going, ncpus, preempt_model());
	mem_fd = open("/proc/self/mem", O_RDWR | O_CLOEXEC);
	if (mem_fd < 0)
		ksft_exit_fail_msg("/proc/self/mem: %s\n", strerror(errno));
	/* the userfaultfd side, and every thread it starts, on CPU 1 */
	pin(HELPER_CPU);

	t_sealed(false, 30, "shmem: a FOLL_FORCE write racing with MADV_DONTNEED and UFFDIO_CONTINUE leaves a sealed memfd alone");
	t_sealed(true, 0, "hugetlb: a FOLL_FORCE write racing with MADV_DONTNEED and UFFDIO_CONTINUE leaves a sealed memfd alone");
	ksft_test_result_skip("shmem UFFDIO_COPY: never maps the page-cache page into a MAP_PRIVATE mapping (an anonymous copy, or the zero page)\n");
	t_anon(31, "anon: a FOLL_FORCE write racing with UFFDIO_WRITEPROTECT raises a wp fault");
	close(mem_fd);
	return ksft_get_fail_cnt() ? ksft_exit_fail() : ksft_exit_pass();
}
