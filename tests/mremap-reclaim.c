// SPDX-License-Identifier: GPL-2.0
/*
 * mremap() of hugetlb ranges while the kernel reclaims memory (bug 38 of
 * uffd-claims.h).  A hugetlb move allocates the page tables of its new
 * range; where it does that with the rmap locks of the old range held
 * (anon_vma_lock_write() of a private range, i_mmap_rwsem), a GFP_KERNEL
 * allocation enters fs_reclaim under them, while reclaim takes the same
 * kinds of lock under fs_reclaim: the deferred split of THPs and the
 * unmap of anon pages take anon_vma locks, rmap_walk_file() takes
 * i_mmap_rwsem.  Lockdep calls that a "possible circular locking
 * dependency" once both orders have been seen in one boot.
 *
 * For DURATION seconds (20; 60 on a kernel with lockdep), in one process:
 *  - a thread moves a private hugetlb range (written, so it has an
 *    anon_vma) back and forth with MREMAP_MAYMOVE|MREMAP_FIXED between two
 *    GiB-aligned regions that hold nothing else, so that every move needs
 *    a new page table (the old one is freed with the old range), and
 *    checks every page after every move;
 *  - a thread does the same with a shared hugetlb range;
 *  - a thread queues THPs for deferred split: it faults anon THPs and
 *    MADV_DONTNEEDs half of each, keeping a few batches alive;
 * and a child process drives real reclaim (kswapd and direct reclaim): it
 * takes more memory than is available (MemAvailable plus an eighth of the
 * free swap, at most 64 MiB more; the guest swaps to zram), most of it
 * as a shmem file that it fallocate()s (quick), the rest as a shmem file
 * it maps and 256 MiB of anon memory that it touches page by page again
 * and again, so that reclaim unmaps anon pages and splits THPs (anon_vma
 * locks) and unmaps shmem pages (rmap_walk_file()).  The child asks to be
 * the OOM killer's first choice and pages its oldest memory out
 * (MADV_PAGEOUT) when MemAvailable runs low, so that reclaim need not
 * kill anything.  THPs are "always" for the run, for anon memory and
 * shmem alike (enabled, shmem_enabled; put back afterwards).
 *
 * The checks (TAP): every huge page keeps its contents across every move;
 * reclaim ran (kswapd used CPU time and swap filled: the kernels here
 * count no vm events; how many queued THPs were split meanwhile is
 * printed); the hugetlb pool is back where it was and the child exited by
 * itself.  On a kernel without lockdep that is all; with DEBUG=1 the
 * harness fails the run on the lockdep report this provokes on the series
 * before its fix (check console.log for "possible circular locking
 * dependency").  Once lockdep has reported (and turned itself off) the
 * run ends early.  A kernel that cannot mremap() hugetlb
 * (claims->hugetlb_mremap: the base) skips.
 */
#include <dirent.h>
#include <signal.h>
#include <time.h>

#include "uffd-test.h"

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

#define GIB		(1UL << 30)
#define NR_HUGE		2		/* huge pages per moved range */
#define SPLIT_BATCH	(8 * HPAGE_SIZE)
#define SPLIT_KEEP	8		/* batches alive at a time */
#define SHMEM_BYTES	(64UL << 20)	/* the child's mapped shmem file */
#define ANON_BYTES	(256UL << 20)	/* the child's anon memory */
#define CHUNK		(32UL << 20)	/* in chunks of */
#define BULK_STEP	(64UL << 20)	/* fallocate() steps of the rest */

static const struct uffd_claims *claims;
static size_t page;
static volatile bool stop;

struct mover {
	const char *name;
	bool shared;
	char *slot[2];		/* GiB-aligned, a GiB apart */
	int cur;		/* the slot the range is at */
	size_t len;
	unsigned long moves;
	struct verdict v;
	pthread_t thread;
};

/* What the word at the start of 4K page k of huge page j of m holds */
static unsigned long word_of(const struct mover *m, size_t j, size_t k)
{
	return ((unsigned long)m->shared << 63) | (j << 32) | k | 0x5a000000UL;
}

#define mover_fail(m, ...)	verdict_fail(&(m)->v, __VA_ARGS__)

/* Every page of the range at its current slot holds its word */
static bool mover_check(struct mover *m)
{
	char *p = m->slot[m->cur];
	size_t j, k;

	for (j = 0; j < NR_HUGE; j++)
		for (k = 0; k < HPAGE_SIZE / page; k++) {
			unsigned long w = *(unsigned long *)(p + j * HPAGE_SIZE + k * page);

			if (w != word_of(m, j, k)) {
				mover_fail(m, "%s: after move %lu huge page %zu page %zu holds "
					   "0x%lx, not 0x%lx", m->name, m->moves, j, k, w,
					   word_of(m, j, k));
				return false;
			}
		}
	return true;
}

static void *mover_main(void *arg)
{
	struct mover *m = arg;

	while (!stop) {
		char *to = m->slot[!m->cur];
		char *r = mremap(m->slot[m->cur], m->len, m->len,
				 MREMAP_MAYMOVE | MREMAP_FIXED, to);

		if (r != to) {
			mover_fail(m, "%s: mremap to %p: %s", m->name, (void *)to,
				   r == MAP_FAILED ? strerror(errno) : "moved elsewhere");
			break;
		}
		m->cur = !m->cur;
		m->moves++;
		if (!mover_check(m))
			break;
	}
	return NULL;
}

/* Nothing is mapped in [p, p + len) */
static bool unused(char *p, size_t len)
{
	char *q = mmap(p, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE |
		       MAP_FIXED_NOREPLACE, -1, 0);

	if (q == MAP_FAILED)
		return false;
	munmap(q, len);
	return q == p;
}

/*
 * Map m's range at the first of its slots, the GiBs at base and base + 1
 * GiB (which hold nothing else: checked before), and write every page.
 * Returns 0 or -errno.
 */
static int mover_map(struct mover *m, char *base)
{
	int fd = memfd_create(m->name, MFD_HUGETLB);
	size_t j, k;
	char *p;

	if (fd < 0)
		return -errno;
	m->len = NR_HUGE * HPAGE_SIZE;
	m->slot[0] = base;
	m->slot[1] = base + GIB;
	m->cur = 0;
	if (ftruncate(fd, m->len)) {
		close(fd);
		return -errno;
	}
	p = mmap(base, m->len, PROT_READ | PROT_WRITE,
		 (m->shared ? MAP_SHARED : MAP_PRIVATE) | MAP_FIXED, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return -errno;
	/* The private range's first write faults give it its anon_vma */
	for (j = 0; j < NR_HUGE; j++)
		for (k = 0; k < HPAGE_SIZE / page; k++)
			*(unsigned long *)(p + j * HPAGE_SIZE + k * page) = word_of(m, j, k);
	return 0;
}

/*
 * /proc/kpageflags of the page at p: whether it is (part of) a THP.  -1:
 * not present (swapped out, so split: this kernel swaps no THP whole) or
 * not known.
 */
#define KPF_THP		22
#define PM_PFN_MASK	((1ULL << 55) - 1)

static int is_thp(int kpf, void *p)
{
	uint64_t e = pagemap(p), flags;

	if (kpf < 0 || !(e & PM_PRESENT) || !(e & PM_PFN_MASK) ||
	    pread(kpf, &flags, sizeof(flags), (e & PM_PFN_MASK) * sizeof(flags)) != sizeof(flags))
		return -1;
	return !!(flags & (1ULL << KPF_THP));
}

struct splitter {
	unsigned long rounds;	/* batches made */
	unsigned long queued;	/* THPs half unmapped: queued for deferred split */
	unsigned long split;	/* of them, split (or swapped out) by the time they went */
	pthread_t thread;
};

/*
 * Fault anon THPs and MADV_DONTNEED half of each: they wait for the
 * deferred split shrinker.  Before a batch goes, count how many of its
 * THPs reclaim split meanwhile.
 */
static void *splitter_main(void *arg)
{
	int kpf = open("/proc/kpageflags", O_RDONLY);
	char *batch[SPLIT_KEEP] = { 0 };
	struct splitter *sp = arg;
	size_t off;
	int b = 0;

	while (!stop) {
		char *p = map_aligned(SPLIT_BATCH, HPAGE_SIZE, MAP_PRIVATE, -1);

		if (p == MAP_FAILED) {
			usleep(100000);
			continue;
		}
		madvise(p, SPLIT_BATCH, MADV_HUGEPAGE);
		for (off = 0; off < SPLIT_BATCH; off += HPAGE_SIZE) {
			p[off] = 1;
			if (is_thp(kpf, p + off) == 1) {
				madvise(p + off + HPAGE_SIZE / 2, HPAGE_SIZE / 2, MADV_DONTNEED);
				sp->queued++;
			} else {
				/* Not a THP: not counted as split later */
				p[off] = 0;
			}
		}
		if (batch[b]) {
			for (off = 0; off < SPLIT_BATCH; off += HPAGE_SIZE)
				if (batch[b][off] && is_thp(kpf, batch[b] + off) != 1)
					sp->split++;
			munmap(batch[b], SPLIT_BATCH);
		}
		batch[b] = p;
		b = (b + 1) % SPLIT_KEEP;
		sp->rounds++;
		usleep(20000);
	}
	for (b = 0; b < SPLIT_KEEP; b++)
		if (batch[b])
			munmap(batch[b], SPLIT_BATCH);
	if (kpf >= 0)
		close(kpf);
	return NULL;
}

/* A THP sysfs choice: its old value into old, val written */
static void thp_knob(const char *name, const char *val, char *old, size_t sz)
{
	char path[128];

	snprintf(path, sizeof(path), "/sys/kernel/mm/transparent_hugepage/%s", name);
	knob(path, val, old, sz);
}

/* Write back the choice in brackets of old ("always [madvise] never") */
static void thp_knob_restore(const char *name, char *old)
{
	char *cur = strchr(old, '['), *end = cur ? strchr(cur, ']') : NULL;

	if (cur && end) {
		*end = 0;
		thp_knob(name, cur + 1, NULL, 0);
	}
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Write one byte to every page of [p, p + len) */
static void touch(char *p, size_t len, char c)
{
	size_t off;

	for (off = 0; off < len; off += page)
		((volatile char *)p)[off] = c;
}

/* What the child shares with the parent */
struct child {
	int halt;		/* set by the parent: stop now */
	long filled_mb;		/* how much it has taken */
	long fill_ms;		/* how long that took */
	long rounds;		/* touches of all of its mapped memory since */
	long given_back;	/* fallocate() steps punched out again */
};

/* Half the swap is in use: leave the rest, so that reclaim never kills */
static bool swap_short(long total_kb)
{
	return meminfo("SwapFree") < total_kb / 2;
}

/*
 * The child: bytes of memory, touched again and again until cs->halt or
 * the deadline.  Most of it is a shmem file that fallocate() fills (fast:
 * with THPs, which are cleared only when reclaim writes them out), in
 * steps, so that reclaim may take the pages of earlier steps (those of
 * the step in progress are kept); the rest is a mapped shmem file and
 * ANON_BYTES of anon memory (THPs mostly), which it keeps touching:
 * reclaim has to unmap them, split their THPs and swap them in and out.
 * Reclaim takes more than the excess (THPs go whole, with two NUMA nodes
 * kswapd keeps freeing the local one): where half of the swap is in use
 * the child punches its oldest step out again (its swap with it), and
 * takes a new one where three quarters are free; where MemAvailable is short of 32 MiB it pages
 * its oldest anon chunk out.  Exits 0, or 1 if it could not map.
 */
static void pressure(size_t bytes, double deadline, volatile struct child *cs)
{
	size_t n = ANON_BYTES / CHUNK, i, oldest = 0, lo = 0, hi = 0;
	int bulk = memfd_create("mremap-reclaim-bulk", 0);
	int fd = memfd_create("mremap-reclaim-shmem", 0);
	int adj = open("/proc/self/oom_score_adj", O_WRONLY);
	long swap_total = meminfo("SwapTotal");
	char *chunk[ANON_BYTES / CHUNK];
	double t0 = now();
	char *shm, c = 1;

	if (adj >= 0) {
		if (write(adj, "1000", 4) != 4)
			_exit(1);
		close(adj);
	}
	if (bulk < 0 || fd < 0 || ftruncate(fd, SHMEM_BYTES))
		_exit(1);
	shm = mmap(NULL, SHMEM_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (shm == MAP_FAILED)
		_exit(1);
	bytes = bytes > ANON_BYTES + SHMEM_BYTES ? bytes - ANON_BYTES - SHMEM_BYTES : 0;
	bytes -= bytes % BULK_STEP;
	for (; hi < bytes && !cs->halt && now() < deadline; hi += BULK_STEP) {
		if (swap_short(swap_total) || fallocate(bulk, 0, hi, BULK_STEP))
			break;
		cs->filled_mb = (hi + BULK_STEP) >> 20;
	}
	touch(shm, SHMEM_BYTES, c);
	for (i = 0; i < n && !cs->halt && now() < deadline; i++) {
		/* Populated by the kernel: faster than by touch */
		chunk[i] = mmap(NULL, CHUNK, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
		if (chunk[i] == MAP_FAILED)
			_exit(1);
		touch(chunk[i], CHUNK, c);
		cs->filled_mb = (hi + SHMEM_BYTES + (i + 1) * CHUNK) >> 20;
	}
	cs->fill_ms = (now() - t0) * 1000;
	n = i;
	while (!cs->halt && now() < deadline && n) {
		c++;
		touch(shm, SHMEM_BYTES, c);
		for (i = 0; i < n && !cs->halt && now() < deadline; i++) {
			touch(chunk[i], CHUNK, c);
			if (swap_short(swap_total) && hi > lo) {
				/* The oldest step: swapped out most likely */
				fallocate(bulk, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
					  lo, BULK_STEP);
				lo += BULK_STEP;
				cs->given_back++;
			} else if (hi - lo < bytes && meminfo("SwapFree") > swap_total / 4 * 3) {
				if (!fallocate(bulk, 0, hi, BULK_STEP))
					hi += BULK_STEP;
			} else if (meminfo("MemAvailable") < 32 << 10) {
				madvise(chunk[oldest], CHUNK, MADV_PAGEOUT);
				oldest = (oldest + 1) % n;
			}
		}
		cs->rounds++;
	}
	_exit(0);
}

/* CPU time (clock ticks) of the kswapd threads so far */
static unsigned long kswapd_ticks(void)
{
	unsigned long utime, stime, sum = 0;
	char path[64], buf[512], *q;
	struct dirent *d;
	DIR *dir = opendir("/proc");
	FILE *f;

	if (!dir)
		return 0;
	while ((d = readdir(dir))) {
		if (d->d_name[0] < '1' || d->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%.20s/stat", d->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		/* pid (comm) state ppid ... field 14 utime, 15 stime */
		if (fgets(buf, sizeof(buf), f) && strstr(buf, "(kswapd") &&
		    (q = strrchr(buf, ')')) &&
		    sscanf(q + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
			   &utime, &stime) == 2)
			sum += utime + stime;
		fclose(f);
	}
	closedir(dir);
	return sum;
}

/* lockdep's debug_locks: 1 while it checks, 0 once it reported; -1: none */
static int debug_locks(void)
{
	char line[128];
	int v = -1;
	FILE *f = fopen("/proc/lockdep_stats", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, " debug_locks: %d", &v) == 1)
			break;
	fclose(f);
	return v;
}

int main(void)
{
	struct mover m[2] = {
		{ .name = "hugetlb-private", .shared = false },
		{ .name = "hugetlb-shared", .shared = true },
	};
	long free0, rsvd0, swap_kb, avail_kb, margin_kb, swap_peak_kb = 0, kb;
	unsigned long ticks;
	struct splitter sp;
	const char *env = getenv("DURATION");
	char base_buf[32], old_enabled[64], old_shmem[64];
	struct verdict v;
	char *base = (char *)(32UL << 40);
	int locks0 = debug_locks(), secs, status = 0, i, r;
	volatile struct child *cs;
	bool reclaimed, child_ok, pool_ok, waited, lockdep_off = false;
	double t0, deadline, elapsed;
	pid_t pid;

	memset(&v, 0, sizeof(v));
	memset(&sp, 0, sizeof(sp));
	claims = uffd_claims_of_kernel();
	page = getpagesize();
	secs = env ? atoi(env) : (locks0 >= 0 ? 60 : 20);
	ksft_print_header();
	if (!claims->hugetlb_mremap)
		ksft_exit_skip("'%s' claims no mremap() of hugetlb\n", claims->ref);
	free0 = meminfo("HugePages_Free");
	rsvd0 = meminfo("HugePages_Rsvd");
	if (free0 - rsvd0 < 2 * NR_HUGE)
		ksft_exit_skip("%ld free huge pages, %ld reserved: %d needed\n", free0, rsvd0,
			       2 * NR_HUGE);
	swap_kb = meminfo("SwapFree");
	if (swap_kb < 64 << 10)
		ksft_exit_skip("%ld kB of free swap: reclaim could only kill\n", swap_kb);
	ksft_set_plan(3);

	/* Two GiB for each range, in a part of the address space of its own */
	for (i = 0; i < 16 && !unused(base, 4 * GIB); i++)
		base += 64 * GIB;
	if (i == 16)
		ksft_exit_fail_msg("no 4 GiB of unused address space at 32 TiB and above\n");
	r = mover_map(&m[0], base);
	if (!r)
		r = mover_map(&m[1], base + 2 * GIB);
	if (r)
		ksft_exit_fail_msg("mapping the hugetlb ranges: %s\n", strerror(-r));
	snprintf(base_buf, sizeof(base_buf), "%p", (void *)m[0].slot[0]);
	cs = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (cs == MAP_FAILED)
		ksft_exit_fail_msg("mmap: %s\n", strerror(errno));

	/* THPs for the splitter and the child, whatever the guest set */
	thp_knob("enabled", "always", old_enabled, sizeof(old_enabled));
	thp_knob("shmem_enabled", "always", old_shmem, sizeof(old_shmem));
	ticks = kswapd_ticks();
	if (pthread_create(&sp.thread, NULL, splitter_main, &sp))
		ksft_exit_fail_msg("pthread_create: %s\n", strerror(errno));
	usleep(200000);

	avail_kb = meminfo("MemAvailable");
	margin_kb = swap_kb / 8 < 64 << 10 ? swap_kb / 8 : 64 << 10;
	t0 = now();
	deadline = t0 + secs;
	ksft_print_msg("ranges at %s; %d s; the child takes %ld + %ld kB (MemAvailable + "
		       "an eighth of the free swap, at most 64 MiB)\n", base_buf, secs, avail_kb,
		       margin_kb);
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		ksft_exit_fail_msg("fork: %s\n", strerror(errno));
	if (!pid)
		pressure((size_t)(avail_kb + margin_kb) << 10, deadline, cs);
	for (i = 0; i < 2; i++)
		if (pthread_create(&m[i].thread, NULL, mover_main, &m[i]))
			ksft_exit_fail_msg("pthread_create: %s\n", strerror(errno));

	/* Until the deadline, a mover's failure, or lockdep's report */
	waited = false;
	while (now() < deadline && !m[0].v.why[0] && !m[1].v.why[0]) {
		if (!waited && waitpid(pid, &status, WNOHANG) == pid)
			waited = true;
		kb = swap_kb - meminfo("SwapFree");
		if (kb > swap_peak_kb)
			swap_peak_kb = kb;
		if (locks0 == 1 && debug_locks() == 0) {
			ksft_print_msg("lockdep reported (debug_locks is 0): see the console\n");
			lockdep_off = true;
			break;
		}
		usleep(100000);
	}
	elapsed = now() - t0;
	stop = true;
	cs->halt = 1;
	for (i = 0; i < 2; i++)
		pthread_join(m[i].thread, NULL);
	pthread_join(sp.thread, NULL);
	ticks = kswapd_ticks() - ticks;
	/* The child stops within one chunk; give it a minute under TCG */
	for (i = 0; !waited && i < 600; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			waited = true;
		else
			usleep(100000);
	}
	if (!waited) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
	}
	thp_knob_restore("enabled", old_enabled);
	thp_knob_restore("shmem_enabled", old_shmem);
	ksft_print_msg("%.1f s: %lu and %lu moves; the child took %ld MiB in %.1f s, then "
		       "touched its mapped memory %ld times and gave %ld steps back; %lu THPs "
		       "queued for deferred split in %lu batches, %lu split when their batch "
		       "went; kswapd ran %lu ticks; swap use grew by up to %ld kB\n", elapsed,
		       m[0].moves, m[1].moves, cs->filled_mb, cs->fill_ms / 1000.0, cs->rounds,
		       cs->given_back, sp.queued, sp.rounds, sp.split, ticks, swap_peak_kb);

	for (i = 0; i < 2; i++) {
		munmap(m[i].slot[m[i].cur], m[i].len);
		if (m[i].v.why[0])
			verdict_fail(&v, "%s", m[i].v.why);
	}
	if (!m[0].moves || !m[1].moves)
		verdict_fail(&v, "a range never moved");
	verdict_report(&v, !v.why[0], 38, claims,
		       "38 hugetlb ranges moved back and forth under reclaim keep every page");

	/*
	 * Deferred splits are counted, not asked for: on 6.12 none of the
	 * splitter's THPs was seen split by the time its batch went.
	 */
	reclaimed = ticks && swap_peak_kb > 0;
	if (lockdep_off && !reclaimed)
		ksft_test_result_skip("reclaim ran: no matter, lockdep ended the run after "
				      "%.1f s\n", elapsed);
	else
		check(reclaimed, "reclaim ran: kswapd (%lu ticks) swapped (%ld kB)", ticks,
		      swap_peak_kb);

	child_ok = WIFEXITED(status) && !WEXITSTATUS(status);
	pool_ok = meminfo("HugePages_Free") == free0 && meminfo("HugePages_Rsvd") == rsvd0;
	if (!child_ok)
		ksft_print_msg("the child %s %d%s\n", WIFEXITED(status) ? "exited" : "was killed by signal",
			       WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status),
			       waited ? "" : " (killed: it did not stop)");
	check(child_ok && pool_ok, "the child exited by itself (no OOM kill), the hugetlb pool "
	      "is back (free %ld, reserved %ld; were %ld, %ld)", meminfo("HugePages_Free"),
	      meminfo("HugePages_Rsvd"), free0, rsvd0);
	return ksft_get_fail_cnt() ? ksft_exit_fail() : ksft_exit_pass();
}
