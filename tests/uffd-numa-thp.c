// SPDX-License-Identifier: GPL-2.0
/*
 * Bug 40: NUMA balancing must not lose the uffd-wp protection of an
 * anonymous THP that it migrates.  5.10 (since 5.7, when THPs got uffd-wp)
 * migrates a THP on its NUMA hinting fault in
 * migrate_misplaced_transhuge_page(), which built the new PMD from the vma's
 * page protection, dirty and writable where the vma is: the THP came back
 * writable and without its uffd-wp bit, and the writes that followed were
 * never reported to the monitor (no UFFD_PAGEFAULT_FLAG_WP message, the
 * write went through).  6.12 migrates the THP through migration entries,
 * which keep the bit (mainline dropped the function in c5b5a3dd2c1f "mm:
 * thp: refactor NUMA fault handling").  The series' claims do not list the
 * bug (uffd-claims.h): where a kernel has it, the test fails.  Needs a
 * kernel built with CONFIG_NUMA_BALANCING.
 *
 * A 2 MiB-aligned MADV_HUGEPAGE range is faulted in as a THP on one node
 * (mbind MPOL_BIND at the fault, MPOL_DEFAULT again after it), registered
 * for wp and write-protected.  NUMA balancing is turned on (and its scan
 * made quicker where the kernel has the knobs: 5.10's kernel.numa_balancing_*
 * sysctls, 6.12's debugfs sched/numa_balancing/), and a thread pinned to a
 * CPU of another node reads the THP over and over until the THP is on that
 * node (move_pages() asks where it is), or NUMA_THP_SECONDS (20) pass: then
 * the test is skipped, the kernel never migrated it.  Then NUMA balancing
 * is turned off again (every knob is restored at the end), and the THP must
 * still be protected: pagemap's uffd-wp bit (57) on all its 512 pages, where the
 * kernel claims pagemap reports it, and a write from another thread must
 * raise exactly one wp fault, which a handler thread resolves by
 * un-protecting (the write must not go through before that).
 *
 * The guest's x86_64 nodes are fake ones (numa=fake=2): every CPU is in
 * both nodes' cpulist, but each CPU has one node of its own (getcpu(): node
 * 0 for both), where NUMA balancing moves the pages it touches; the test
 * finds a CPU and a node with memory other than that CPU's node (preferring
 * a CPU of node 1 and the THP on node 0, else the other way round).
 *
 * The knobs are set by a parent process, which runs the test in a child
 * (this program again) and restores them whatever became of the child.
 * They are written at offset 0: a sysctl ignores a write past it
 * (kernel.sysctl_writes_strict), as after a read of the old value.
 *
 * Skipped (exit 4) where the kernel has no NUMA balancing
 * (CONFIG_NUMA_BALANCING: no /proc/sys/kernel/numa_balancing), fewer than
 * two nodes with memory, no wp claim on anonymous memory, or no THP.
 * Where the migration does not happen in time, the reader's NUMA lines of
 * /proc/PID/sched (CONFIG_SCHED_DEBUG) are printed.
 */
#include "uffd-test.h"

#include <sched.h>
#include <time.h>

#ifndef MPOL_DEFAULT
#define MPOL_DEFAULT	0
#endif
#ifndef MPOL_BIND
#define MPOL_BIND	2
#endif
#ifndef MPOL_MF_MOVE_ALL
#define MPOL_MF_MOVE_ALL (1 << 2)
#endif

#define THP_PAGES	512
#define MAX_NODES	64
#define NB		"/proc/sys/kernel/numa_balancing"
#define DEBUGFS_NB	"/sys/kernel/debug/sched/numa_balancing/"

static const struct uffd_claims *claims;
static size_t page;

struct env {
	struct verdict v;	/* pagemap's uffd-wp bit */
	struct verdict v2;	/* the write traps */
};

#define fail2(e, ...)	verdict_fail(&(e)->v2, __VA_ARGS__)

static bool skip_both(struct env *e, const char *fmt, ...)
{
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	verdict_skip(&e->v, why);
	return verdict_skip(&e->v2, why);
}

static bool fail_both(struct env *e, const char *fmt, ...)
{
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	verdict_fail(&e->v, "%s", why);
	return verdict_fail(&e->v2, "%s", why);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* ---- NUMA balancing's knobs: set for the test, restored at exit ---- */

struct nb_knob {
	const char *path;
	const char *val;
	char old[64];
	bool set;
};

static struct nb_knob knobs[] = {
	/* 5.10 */
	{ .path = "/proc/sys/kernel/numa_balancing_scan_delay_ms", .val = "0" },
	{ .path = "/proc/sys/kernel/numa_balancing_scan_period_min_ms", .val = "100" },
	{ .path = "/proc/sys/kernel/numa_balancing_scan_size_mb", .val = "64" },
	/* 6.12 (debugfs, where it is mounted) */
	{ .path = DEBUGFS_NB "scan_delay_ms", .val = "0" },
	{ .path = DEBUGFS_NB "scan_period_min_ms", .val = "100" },
	{ .path = DEBUGFS_NB "scan_size_mb", .val = "64" },
	/* last: on */
	{ .path = NB, .val = "1" },
};

static void knobs_restore(void)
{
	int i;

	for (i = sizeof(knobs) / sizeof(knobs[0]) - 1; i >= 0; i--) {
		if (!knobs[i].set)
			continue;
		knob(knobs[i].path, knobs[i].old, NULL, 0);
		knobs[i].set = false;
	}
}

static void knobs_set(void)
{
	size_t i;

	for (i = 0; i < sizeof(knobs) / sizeof(knobs[0]); i++) {
		if (access(knobs[i].path, W_OK))
			continue;
		knob(knobs[i].path, knobs[i].val, knobs[i].old, sizeof(knobs[i].old));
		knobs[i].set = !!knobs[i].old[0];
	}
}

/* ---- nodes and CPUs ---- */

static long mbind_(void *p, size_t len, int mode, unsigned long *mask, unsigned long maxnode)
{
	return syscall(__NR_mbind, p, len, mode, mask, maxnode, 0);
}

/* The NUMA node of the page at p, or -errno. */
static int page_node(void *p)
{
	int status = -1;

	if (syscall(__NR_move_pages, 0, 1UL, &p, NULL, &status, 0))
		return -errno;
	return status;
}

/* Node n has memory (/sys/devices/system/node/has_memory lists it). */
static bool node_has_memory(int n)
{
	char buf[256], *s;
	FILE *f = fopen("/sys/devices/system/node/has_memory", "r");
	bool in = false;

	if (!f)
		return false;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = 0;
	fclose(f);
	/* "0-1" or "0,2-3" */
	for (s = strtok(buf, ",\n"); s && !in; s = strtok(NULL, ",\n")) {
		int a, b;

		if (sscanf(s, "%d-%d", &a, &b) == 2)
			in = n >= a && n <= b;
		else if (sscanf(s, "%d", &a) == 1)
			in = n == a;
	}
	return in;
}

static bool pin_to(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return !sched_setaffinity(0, sizeof(set), &set);
}

/* The node the kernel gives CPU cpu (getcpu() on it), or -1. */
static int cpu_node(int cpu)
{
	unsigned int c = 0, n = 0;

	if (!pin_to(cpu) || syscall(__NR_getcpu, &c, &n, NULL) || (int)c != cpu)
		return -1;
	return n;
}

/*
 * The CPU to read from (*cpu, of node *cpunode) and a node with memory
 * other than *cpunode (*memnode); false if there is none.  A CPU of node 1
 * is preferred (the THP then starts on node 0).
 */
static bool pick_nodes(int *cpu, int *cpunode, int *memnode)
{
	cpu_set_t all;
	int c, n;

	*cpu = -1;
	if (sched_getaffinity(0, sizeof(all), &all))
		return false;
	for (c = 0; c < CPU_SETSIZE; c++) {
		if (!CPU_ISSET(c, &all))
			continue;
		n = cpu_node(c);
		ksft_print_msg("CPU %d: node %d\n", c, n);
		if (n >= 0 && (*cpu < 0 || (*cpunode != 1 && n == 1))) {
			*cpu = c;
			*cpunode = n;
		}
	}
	sched_setaffinity(0, sizeof(all), &all);
	if (*cpu < 0)
		return false;
	for (n = 0; n < MAX_NODES; n++)
		if (n != *cpunode && node_has_memory(n)) {
			*memnode = n;
			return true;
		}
	return false;
}

/* The NUMA lines of a thread's /proc sched file (CONFIG_SCHED_DEBUG), for the log. */
static void sched_numa(pid_t tid)
{
	char path[64], line[256];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%d/sched", tid);
	f = fopen(path, "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, "numa") && !strstr(line, "numa_faults node"))
			ksft_print_msg("reader: %s", line);
	fclose(f);
}

/* ---- the reader: pinned to a CPU, reads the THP until told to stop ---- */

struct reader {
	char *p;
	int cpu;
	int stop;
	bool pinned;
	unsigned long rounds;
	unsigned long sum;
	pid_t tid;
};

static void *reader_main(void *arg)
{
	struct reader *r = arg;
	unsigned long sum = 0;
	size_t i;

	r->tid = syscall(__NR_gettid);
	r->pinned = pin_to(r->cpu);
	while (!__atomic_load_n(&r->stop, __ATOMIC_SEQ_CST)) {
		for (i = 0; i < HPAGE_SIZE; i += page)
			sum += ((volatile char *)r->p)[i];
		__atomic_add_fetch(&r->rounds, 1, __ATOMIC_SEQ_CST);
	}
	r->sum = sum;
	return NULL;
}

/* ---- the checks ---- */

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

struct writer {
	char *p;
	struct wp_handler *h;
	unsigned long faults;
};

static void *writer_main(void *arg)
{
	struct writer *w = arg;

	w->faults = wp_write(w->h, w->p + 3 * page + 5, 'W');
	return NULL;
}

/*
 * After NUMA balancing had the THP: protected on all 512 pages (pagemap,
 * v), and a write from another thread raises one wp fault, resolved by the
 * handler (v2).
 */
static void check_protected(struct env *e, char *p, int uffd, const char *when)
{
	struct wp_handler h;
	struct writer w = { .p = p, .h = &h };
	pthread_t t;
	long thp;
	int n;

	thp = smaps_kb(p, "AnonHugePages");
	ksft_print_msg("%s: AnonHugePages %ld kB, pagemap of the first page 0x%llx\n", when,
		       thp, (unsigned long long)pagemap(p));
	if (!claims->pagemap_wp) {
		verdict_skip(&e->v, "pagemap does not report uffd-wp on this kernel");
	} else {
		n = thp_wp_count(p);
		if (n != THP_PAGES)
			fail(e, "%s: %d of 512 pages have uffd-wp in pagemap%s", when, n,
			     n < 0 ? " (a page not present)" : "");
	}

	wp_handler_start(&h, uffd, HPAGE_SIZE);
	if (pthread_create(&t, NULL, writer_main, &w)) {
		wp_handler_stop(&h);
		fail2(e, "pthread_create: %s", strerror(errno));
		return;
	}
	if (!joined_within(t, 10000)) {
		/* blocked in a fault nobody resolves: the test dies by its timeout */
		fail2(e, "%s: the write did not finish within 10 s (%lu wp faults)", when,
		      h.wp_faults);
		ksft_exit_fail_msg("%s: the writer hangs\n", when);
	}
	wp_handler_stop(&h);
	if (w.faults != 1)
		fail2(e, "%s: the write raised %lu wp faults (UFFD_PAGEFAULT_FLAG_WP messages),"
		      " expected 1%s", when, w.faults,
		      w.faults ? "" : ": it went through the protection");
	if (h.unexpected)
		fail2(e, "%s: %lu unexpected uffd messages", when, h.unexpected);
	if (p[3 * page + 5] != 'W' || p[3 * page + 4] != 't' || p[HPAGE_SIZE - 1] != 't')
		fail2(e, "%s: the THP lost its data", when);
}

/*
 * A THP faulted in on node memnode, filled with 't', registered for wp
 * with uffd and protected; NULL after a skip or fail.
 */
static char *thp_map_on(struct env *e, int memnode, int uffd)
{
	unsigned long mask[MAX_NODES / (8 * sizeof(unsigned long))] = { 0 };
	int tries, ret, n = -1;
	long kb = -1;
	char *p = NULL;

	mask[memnode / (8 * sizeof(long))] |= 1UL << (memnode % (8 * sizeof(long)));
	for (tries = 0; tries < 5; tries++) {
		p = map_aligned(HPAGE_SIZE, HPAGE_SIZE, MAP_PRIVATE, -1);
		if (p == MAP_FAILED) {
			fail_both(e, "mmap: %s", strerror(errno));
			return NULL;
		}
		madvise(p, HPAGE_SIZE, MADV_HUGEPAGE);
		if (mbind_(p, HPAGE_SIZE, MPOL_BIND, mask, MAX_NODES + 1)) {
			fail_both(e, "mbind(MPOL_BIND, node %d): %s", memnode, strerror(errno));
			munmap(p, HPAGE_SIZE);
			return NULL;
		}
		memset(p, 't', HPAGE_SIZE);
		/* NUMA balancing leaves a vma with a policy of its own alone */
		if (mbind_(p, HPAGE_SIZE, MPOL_DEFAULT, NULL, 0)) {
			fail_both(e, "mbind(MPOL_DEFAULT): %s", strerror(errno));
			munmap(p, HPAGE_SIZE);
			return NULL;
		}
		kb = smaps_kb(p, "AnonHugePages");
		n = page_node(p);
		if (kb == 2048 && n == memnode)
			break;
		munmap(p, HPAGE_SIZE);
		p = NULL;
		usleep(100000);
	}
	if (!p) {
		skip_both(e, "no THP on node %d (AnonHugePages %ld kB, node %d)", memnode, kb, n);
		return NULL;
	}
	ret = uffd_register(uffd, p, HPAGE_SIZE, UFFDIO_REGISTER_MODE_WP, NULL);
	if (!ret)
		ret = uffd_wp(uffd, p, HPAGE_SIZE, true);
	if (ret) {
		fail_both(e, "UFFDIO_REGISTER or UFFDIO_WRITEPROTECT: %s", strerror(-ret));
		munmap(p, HPAGE_SIZE);
		return NULL;
	}
	if (claims->pagemap_wp && thp_wp_count(p) != THP_PAGES) {
		fail_both(e, "after UFFDIO_WRITEPROTECT, before NUMA balancing: %d of 512 pages"
			  " have uffd-wp", thp_wp_count(p));
		munmap(p, HPAGE_SIZE);
		return NULL;
	}
	return p;
}

/*
 * With NUMA balancing on, a thread on cpu reads the THP at p until it is on
 * node want; then NUMA balancing is turned off.  false after a skip or fail.
 */
static bool balance(struct env *e, char *p, int cpu, int want)
{
	const char *s = getenv("NUMA_THP_SECONDS");
	uint64_t t0 = now_ns(), until = t0 + (s ? atoi(s) : 20) * 1000000000ULL;
	struct reader r = { .p = p, .cpu = cpu };
	pthread_t t;
	int node = -1;

	if (pthread_create(&t, NULL, reader_main, &r))
		return fail_both(e, "pthread_create: %s", strerror(errno));
	while (node != want && now_ns() < until) {
		usleep(20000);
		node = page_node(p);
	}
	if (node != want)
		sched_numa(r.tid);
	__atomic_store_n(&r.stop, 1, __ATOMIC_SEQ_CST);
	pthread_join(t, NULL);
	/* no more scans: the checks see what the migration left */
	knob(NB, "0", NULL, 0);
	ksft_print_msg("%.1f s, %lu reads of the THP from CPU %d%s; the THP is on node %d\n",
		       (now_ns() - t0) / 1e9, r.rounds, cpu, r.pinned ? "" : " (not pinned)", node);
	if (!r.pinned)
		return fail_both(e, "sched_setaffinity(CPU %d): %s", cpu, strerror(errno));
	if (node != want)
		return skip_both(e, "NUMA balancing did not move the THP to node %d within %s s"
				 " (it is on node %d)", want, s ? s : "20", node);
	if (smaps_kb(p, "AnonHugePages") != 2048)
		ksft_print_msg("the THP was split on the way (AnonHugePages %ld kB)\n",
			       smaps_kb(p, "AnonHugePages"));
	return true;
}

/* The THP faulted in on memnode, protected, read from cpu until balanced. */
static void t_numa(struct env *e, int cpu, int memnode, int want, const char *when)
{
	int uffd = uffd_open(0);
	char *p = thp_map_on(e, memnode, uffd);

	if (p && balance(e, p, cpu, want))
		check_protected(e, p, uffd, when);
	if (p)
		munmap(p, HPAGE_SIZE);
	close(uffd);
}

/*
 * Set the knobs, run the test in a child (this program again, which then
 * starts with them set), restore them, and exit as the child did.
 */
static int run_child(char **argv)
{
	int status;
	pid_t pid;

	knobs_set();
	pid = fork();
	if (!pid) {
		setenv("UFFD_NUMA_THP_CHILD", "1", 1);
		execv("/proc/self/exe", argv);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		status = -1;
	knobs_restore();
	if (pid < 0 || status == -1)
		ksft_exit_fail_msg("fork/wait: %s\n", strerror(errno));
	if (WIFSIGNALED(status))
		ksft_exit_fail_msg("the test was killed by signal %d\n", WTERMSIG(status));
	return WEXITSTATUS(status);
}

int main(int argc, char **argv)
{
	int cpu, cpunode = -1, memnode = -1;
	struct env e;
	char name[2][200];

	if (access(NB, F_OK)) {
		ksft_print_header();
		ksft_exit_skip("no NUMA balancing in this kernel (CONFIG_NUMA_BALANCING: no %s)\n",
			       NB);
	}
	if (!getenv("UFFD_NUMA_THP_CHILD"))
		return run_child(argv);
	claims = uffd_claims_of_kernel();
	page = getpagesize();
	ksft_print_header();
	if (!(claims->modes[MEM_ANON] & CLAIM_WP))
		ksft_exit_skip("'%s' claims no wp on anonymous memory\n", claims->ref);
	if (!pick_nodes(&cpu, &cpunode, &memnode))
		ksft_exit_skip("no CPU with a node of its own and another node with memory\n");
	ksft_print_msg("reading from CPU %d (node %d); the THP starts on node %d\n", cpu,
		       cpunode, memnode);
	ksft_set_plan(2);

	memset(&e, 0, sizeof(e));
	snprintf(name[0], sizeof(name[0]),
		 "40 a protected THP migrated by NUMA balancing (node %d to %d): uffd-wp in pagemap",
		 memnode, cpunode);
	snprintf(name[1], sizeof(name[1]),
		 "40 a protected THP migrated by NUMA balancing (node %d to %d): a write raises a wp fault",
		 memnode, cpunode);
	t_numa(&e, cpu, memnode, cpunode, "after the migration");
	verdict_report(&e.v, !e.v.why[0] && !e.v.skip[0], 40, claims, name[0]);
	verdict_report(&e.v2, !e.v2.why[0] && !e.v2.skip[0], 40, claims, name[1]);


	return ksft_get_fail_cnt() ? ksft_exit_fail() : ksft_exit_pass();
}
