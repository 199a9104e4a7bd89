// SPDX-License-Identifier: GPL-2.0
/*
 * The benchmarks of `make bench`, run in the guest of each kernel (series,
 * mainline 6.12, base 5.10).  `uffd-bench all` runs every benchmark;
 * `uffd-bench N...` runs benchmarks N (1-7, see bench/README.md).
 *
 * One line per figure on stdout, for scripts/bench-report.py:
 *   R <figure> <value> <unit>     a result (units: ns, us, pages/s, MiB/s)
 *   N <figure> <why>              not available on this kernel
 *   C <figure> <percent> <ns>     a point of a latency distribution
 * A figure is <benchmark>/<what>/<memory or pattern>[/<statistic>].  The
 * program tests only what the running kernel offers (UFFDIO_API features,
 * the REGISTER reply): a mode a kernel refuses is N, not an error.
 *
 * Within a run each timed operation is repeated (ROUNDS_IN, or as many
 * faults as a region has) and the median is printed; the host repeats whole
 * runs, alternating kernels, and reports min/median/max of those.
 */
#include "uffd-test.h"

#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <time.h>
#include <sys/wait.h>

#define PAGE		4096UL
#define MIB		(1UL << 20)
#define ROUNDS_IN	5

static uint64_t kfeatures;	/* what UFFDIO_API offers */
static const char *stress_prog = "/user/uffd-stress";
static const char *selftest_prog = "/user/userfaultfd-5.10";

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void result(const char *fig, double v, const char *unit)
{
	printf("R %s %.1f %s\n", fig, v, unit);
	fflush(stdout);
}

static void na(const char *fig, const char *why)
{
	printf("N %s %s\n", fig, why);
	fflush(stdout);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Sorts v; the median of n values. */
static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* The p-th percentile of n sorted values. */
static double percentile(const double *v, size_t n, double p)
{
	size_t i = (size_t)ceil(p / 100 * n);

	return v[i ? i - 1 : 0];
}

static void touch_write(char *p, size_t len, size_t step)
{
	size_t off;

	for (off = 0; off < len; off += step)
		((volatile char *)p)[off] = 1;
}

static void touch_read(char *p, size_t len, size_t step)
{
	size_t off;

	for (off = 0; off < len; off += step)
		(void)((volatile char *)p)[off];
}

static void die_errno(const char *what)
{
	printf("# error: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* A uffd with the given features; -1 where the kernel refuses them. */
static int uffd_with(uint64_t features)
{
	int fd = uffd_open_raw(0);

	if (fd < 0)
		die_errno("userfaultfd");
	if (uffd_api(fd, features, NULL)) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * 1 and 4: faults resolved by a handler thread.  Modes: MISSING+COPY
 * (the region is empty), WP+WRITEPROTECT (populated, protected; writes),
 * MINOR+CONTINUE (the file is populated through a second mapping; reads).
 */
enum rt_mode { RT_MISSING, RT_WP, RT_MINOR };
static const char *const rt_names[] = { "missing-copy", "wp-unprotect", "minor-continue" };
static const uint64_t rt_reg[] = {
	UFFDIO_REGISTER_MODE_MISSING, UFFDIO_REGISTER_MODE_WP, UFFDIO_REGISTER_MODE_MINOR,
};

struct rt {
	enum rt_mode mode;
	int uffd;
	size_t ps;
	char *src;
	struct bg_thread bg;
	unsigned long errors;
};

static void *rt_handler(void *arg)
{
	struct rt *rt = arg;
	struct pollfd pfd[2] = {
		{ .fd = rt->uffd, .events = POLLIN },
		{ .fd = rt->bg.stop[0], .events = POLLIN },
	};
	struct uffd_msg msg;

	for (;;) {
		unsigned long a;
		int r = 0;

		if (poll(pfd, 2, -1) < 0 || (pfd[1].revents & POLLIN))
			return NULL;
		if (read(rt->uffd, &msg, sizeof(msg)) != sizeof(msg) ||
		    msg.event != UFFD_EVENT_PAGEFAULT)
			continue;
		a = msg.arg.pagefault.address & ~(rt->ps - 1);
		if (rt->mode == RT_MISSING) {
			struct uffdio_copy c = {
				.dst = a, .src = (unsigned long)rt->src, .len = rt->ps,
			};

			r = ioctl(rt->uffd, UFFDIO_COPY, &c);
		} else if (rt->mode == RT_WP) {
			r = uffd_wp(rt->uffd, (void *)a, rt->ps, false);
		} else {
			struct uffdio_continue c = {
				.range = { .start = a, .len = rt->ps },
			};

			r = ioctl(rt->uffd, UFFDIO_CONTINUE, &c);
		}
		if (r) {
			struct uffdio_range w = { .start = a, .len = rt->ps };

			rt->errors++;
			ioctl(rt->uffd, UFFDIO_WAKE, &w);
		}
	}
}

/*
 * Fault every page of a fresh len-byte region of mem once, each resolved
 * by the handler.  lat[i] gets each fault's round trip (ns) when lat is not
 * NULL; returns the elapsed time of the whole pass (ns), 0 if the kernel
 * does not offer the mode (*why says why).
 */
static uint64_t rt_pass(enum rt_mode mode, enum uffd_mem mem, size_t len,
			double *lat, const char **why)
{
	size_t ps = mem_page_size(mem), n = len / ps, i;
	struct rt rt = { .mode = mode, .ps = ps };
	char *p, *alias = NULL;
	uint64_t t0, t, ioctls = 0;
	int fd;

	p = mem_map(mem, len, &fd);
	if (p == MAP_FAILED) {
		*why = "cannot-map";
		return 0;
	}
	if (mem == MEM_ANON)
		madvise(p, len, MADV_NOHUGEPAGE);
	rt.uffd = uffd_with(0);
	if (uffd_register(rt.uffd, p, len, rt_reg[mode], &ioctls)) {
		*why = "mode-not-offered";
		close(rt.uffd);
		mem_unmap(p, len, fd);
		return 0;
	}
	rt.src = mmap(NULL, ps, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	memset(rt.src, 0x5a, ps);
	if (mode == RT_WP) {
		touch_write(p, len, ps);
		if (uffd_wp(rt.uffd, p, len, true))
			die_errno("UFFDIO_WRITEPROTECT");
	} else if (mode == RT_MINOR) {
		alias = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (alias == MAP_FAILED)
			die_errno("mmap alias");
		touch_write(alias, len, ps);
	}
	bg_start(&rt.bg, rt_handler, &rt, "handler");
	t0 = now_ns();
	for (i = 0; i < n; i++) {
		t = now_ns();
		if (mode == RT_WP)
			((volatile char *)p)[i * ps] = 2;
		else
			(void)((volatile char *)p)[i * ps];
		if (lat)
			lat[i] = now_ns() - t;
	}
	t = now_ns() - t0;
	bg_stop(&rt.bg, "handler");
	if (rt.errors)
		printf("# %s on %s: %lu resolve errors\n", rt_names[mode],
		       uffd_mem_names[mem], rt.errors);
	if (alias)
		munmap(alias, len);
	munmap(rt.src, ps);
	close(rt.uffd);
	mem_unmap(p, len, fd);
	return rt.errors ? 0 : t;
}

/* Which memory types have which page size in the figures. */
struct rt_mem {
	enum uffd_mem mem;
	const char *name;
	size_t len;
};

static void bench_roundtrip(void)
{
	static const struct rt_mem mems[] = {
		{ MEM_ANON, "anon-4k", 16 * MIB },
		{ MEM_SHMEM, "shmem-4k", 16 * MIB },
		{ MEM_HUGETLB, "hugetlb-2m", 256 * MIB },
	};
	static const double pcts[] = { 1, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 99, 99.9 };
	char fig[128];
	size_t m, k, n;
	int mode;

	for (mode = RT_MISSING; mode <= RT_MINOR; mode++) {
		for (m = 0; m < sizeof(mems) / sizeof(mems[0]); m++) {
			const char *why = "error";
			double *lat;

			/* Minor faults are for shmem and hugetlbfs only. */
			if (mode == RT_MINOR && mems[m].mem == MEM_ANON)
				continue;

			snprintf(fig, sizeof(fig), "1/%s/%s", rt_names[mode], mems[m].name);
			n = mems[m].len / mem_page_size(mems[m].mem);
			lat = calloc(n, sizeof(*lat));
			if (!rt_pass(mode, mems[m].mem, mems[m].len, lat, &why)) {
				char f[160];

				snprintf(f, sizeof(f), "%s/p50", fig);
				na(f, why);
				snprintf(f, sizeof(f), "%s/p99", fig);
				na(f, why);
				free(lat);
				continue;
			}
			qsort(lat, n, sizeof(*lat), cmp_double);
			for (k = 0; k < sizeof(pcts) / sizeof(pcts[0]); k++)
				printf("C %s %g %.0f\n", fig, pcts[k], percentile(lat, n, pcts[k]));
			strcat(fig, "/p50");
			result(fig, percentile(lat, n, 50), "ns");
			strcpy(fig + strlen(fig) - 3, "p99");
			result(fig, percentile(lat, n, 99), "ns");
			free(lat);
		}
	}
}

/*
 * 2: write tracking of an anon region (4 KiB pages) of 64 MiB and of
 * 1 GiB: arm the tracking, write a pattern (dense: every page; sparse:
 * every 64th), collect the written pages.  ns per written page, arm and
 * collect included.  uffd-wp-async-scan is the way Wine tracks write
 * watches on 6.7+: an async uffd-wp range, protected once; each round
 * writes, then one PAGEMAP_SCAN collects the written pages and protects
 * them again (collect and arm in one ioctl).
 */
enum wt_method {
	WT_UFFD_THREAD, WT_UFFD_SIGBUS, WT_MPROTECT, WT_SOFTDIRTY, WT_ASYNC_SCAN, WT_NR
};
static const char *const wt_names[] = {
	"uffd-wp-thread", "uffd-wp-sigbus", "mprotect-sigsegv", "soft-dirty",
	"uffd-wp-async-scan",
};

/*
 * The 6.4-6.7 uapi that the headers the bench is built against may lack:
 * WP_UNPOPULATED, WP_ASYNC and PAGEMAP_SCAN are spelled out in
 * uffd-test.h; UFFD_USER_MODE_ONLY (5.11) here.
 */
#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY	1
#endif

/* The one mode to run ("2/<mode>" on the command line), or NULL: all */
static const char *wt_only;

/* The sizes of the region; the figures of 64 MiB keep their names. */
static const struct {
	size_t len;
	const char *suffix;
	int rounds;
} wt_sizes[] = {
	{ 64 * MIB, "", ROUNDS_IN },
	{ 1024 * MIB, "-1g", 3 },
};

static char *wt_area;
static size_t wt_len;
static int wt_uffd = -1;
static volatile unsigned long wt_seen;

static void wt_sigbus(int sig, siginfo_t *si, void *uc)
{
	unsigned long a = (unsigned long)si->si_addr & ~(PAGE - 1);

	if (uffd_wp(wt_uffd, (void *)a, PAGE, false))
		_exit(3);
	wt_seen++;
}

static void wt_sigsegv(int sig, siginfo_t *si, void *uc)
{
	unsigned long a = (unsigned long)si->si_addr & ~(PAGE - 1);

	if (mprotect((void *)a, PAGE, PROT_READ | PROT_WRITE))
		_exit(3);
	wt_seen++;
}

static unsigned long soft_dirty_count(int pm)
{
	static uint64_t ent[16384];
	size_t n = wt_len / PAGE, i, done = 0;
	unsigned long dirty = 0;

	while (done < n) {
		size_t k = n - done < 16384 ? n - done : 16384;
		off_t off = ((unsigned long)wt_area / PAGE + done) * 8;

		if (pread(pm, ent, k * 8, off) != (ssize_t)(k * 8))
			die_errno("pagemap");
		for (i = 0; i < k; i++)
			dirty += (ent[i] >> 55) & 1;
		done += k;
	}
	return dirty;
}

/*
 * Wine's uffd write watches: a uffd for user-mode faults only, with async
 * wp that also protects the empty ptes, the region registered for wp and
 * protected once.  The uffd, or -1 where the kernel does not offer that
 * (then the reason is printed as a comment).
 */
static int wt_async_open(int pm)
{
	struct pm_scan_arg a = {
		.size = sizeof(a),
		.flags = PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC,
		.start = (unsigned long)wt_area,
		.end = (unsigned long)wt_area + wt_len,
		.category_mask = PAGE_IS_WRITTEN,
		.return_mask = PAGE_IS_WRITTEN,
	};
	struct page_region r;
	const char *step;
	int fd = uffd_open_raw(UFFD_USER_MODE_ONLY);

	if (fd < 0) {
		printf("# uffd-wp-async-scan: userfaultfd(UFFD_USER_MODE_ONLY): %s\n",
		       strerror(errno));
		return -1;
	}
	a.vec = (unsigned long)&r;
	a.vec_len = 1;
	if (uffd_api(fd, UFFD_FEATURE_WP_UNPOPULATED | UFFD_FEATURE_WP_ASYNC, NULL))
		step = "UFFDIO_API(WP_UNPOPULATED | WP_ASYNC)";
	else if (uffd_register(fd, wt_area, wt_len, UFFDIO_REGISTER_MODE_WP, NULL))
		step = "UFFDIO_REGISTER(MODE_WP)";
	else if (uffd_wp(fd, wt_area, wt_len, true))
		step = "UFFDIO_WRITEPROTECT";
	/* Nothing written since: finds nothing, where the ioctl exists. */
	else if (ioctl(pm, PAGEMAP_SCAN, &a))
		step = "PAGEMAP_SCAN";
	else
		return fd;
	printf("# uffd-wp-async-scan: %s: %s\n", step, strerror(errno));
	close(fd);
	return -1;
}

/*
 * One PAGEMAP_SCAN over the region: the written pages, protected again
 * (a second call only if vec filled up, which a vec of one region per
 * written page does not).  The number of pages found.
 */
static unsigned long wt_async_collect(int pm, struct page_region *vec, size_t vec_len)
{
	struct pm_scan_arg a = {
		.size = sizeof(a),
		.flags = PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC,
		.start = (unsigned long)wt_area,
		.end = (unsigned long)wt_area + wt_len,
		.vec = (unsigned long)vec,
		.vec_len = vec_len,
		.category_mask = PAGE_IS_WRITTEN,
		.return_mask = PAGE_IS_WRITTEN,
	};
	unsigned long pages = 0;
	long k, i;

	for (;;) {
		k = ioctl(pm, PAGEMAP_SCAN, &a);
		if (k < 0)
			die_errno("PAGEMAP_SCAN");
		for (i = 0; i < k; i++)
			pages += (vec[i].end - vec[i].start) / PAGE;
		if (a.walk_end >= a.end)
			return pages;
		a.start = a.walk_end;
	}
}

static void bench_tracking_size(int sz, int pm, int cr)
{
	static const struct { const char *name; size_t stride; } pats[] = {
		{ "dense", 1 }, { "sparse", 64 },
	};
	int method, pat, r, rounds = wt_sizes[sz].rounds;
	struct page_region *vec;
	char fig[128];

	wt_len = wt_sizes[sz].len;
	wt_area = mem_map(MEM_ANON, wt_len, NULL);
	if (wt_area == MAP_FAILED)
		die_errno("mmap");
	madvise(wt_area, wt_len, MADV_NOHUGEPAGE);
	touch_write(wt_area, wt_len, PAGE);
	/* One region per written page at most. */
	vec = calloc(wt_len / PAGE, sizeof(*vec));
	if (!vec)
		die_errno("calloc");

	for (method = 0; method < WT_NR; method++) {
		struct wp_handler h = { .uffd = -1 };
		const char *why = NULL;

		if (wt_only && strcmp(wt_only, wt_names[method]))
			continue;

		if (method == WT_UFFD_THREAD || method == WT_UFFD_SIGBUS) {
			uint64_t f = method == WT_UFFD_SIGBUS ? UFFD_FEATURE_SIGBUS : 0;

			h.uffd = uffd_with(f);
			if (h.uffd < 0 || uffd_register(h.uffd, wt_area, wt_len,
							UFFDIO_REGISTER_MODE_WP, NULL))
				why = "mode-not-offered";
			wt_uffd = h.uffd;
			if (!why && method == WT_UFFD_THREAD)
				wp_handler_start(&h, h.uffd, PAGE);
		}
		if (method == WT_SOFTDIRTY && (pm < 0 || cr < 0))
			why = "no-soft-dirty";
		if (method == WT_ASYNC_SCAN) {
			h.uffd = pm < 0 ? -1 : wt_async_open(pm);
			if (h.uffd < 0)
				why = "mode-not-offered";
		}
		for (pat = 0; pat < 2; pat++) {
			size_t stride = pats[pat].stride, n = wt_len / PAGE / stride, i;
			double v[ROUNDS_IN];

			snprintf(fig, sizeof(fig), "2/%s/%s%s", wt_names[method],
				 pats[pat].name, wt_sizes[sz].suffix);
			if (why) {
				na(fig, why);
				continue;
			}
			for (r = 0; r < rounds; r++) {
				uint64_t t0 = now_ns();
				unsigned long got;

				wt_seen = 0;
				if (method == WT_UFFD_THREAD || method == WT_UFFD_SIGBUS) {
					if (uffd_wp(h.uffd, wt_area, wt_len, true))
						die_errno("protect");
				} else if (method == WT_MPROTECT) {
					mprotect(wt_area, wt_len, PROT_READ);
				} else if (method == WT_SOFTDIRTY && write(cr, "4", 1) != 1) {
					die_errno("clear_refs");
				}
				/* WT_ASYNC_SCAN: armed by the collect before. */
				for (i = 0; i < n; i++)
					((volatile char *)wt_area)[i * stride * PAGE] = r;
				if (method == WT_SOFTDIRTY)
					got = soft_dirty_count(pm);
				else if (method == WT_ASYNC_SCAN)
					got = wt_async_collect(pm, vec, n);
				else if (method == WT_UFFD_THREAD)
					got = __atomic_exchange_n(&h.wp_faults, 0, __ATOMIC_SEQ_CST);
				else
					got = wt_seen;
				v[r] = (double)(now_ns() - t0) / n;
				if (got != n) {
					printf("# %s: %lu of %zu writes seen\n", fig, got, n);
					v[r] = NAN;
				}
				if (method == WT_MPROTECT)
					mprotect(wt_area, wt_len, PROT_READ | PROT_WRITE);
			}
			if (isnan(median(v, rounds)) || isnan(v[rounds - 1]))
				na(fig, "writes-missed");
			else
				result(fig, median(v, rounds), "ns");
		}
		if (method == WT_UFFD_THREAD && !why)
			wp_handler_stop(&h);
		if (h.uffd >= 0)
			close(h.uffd);
	}
	free(vec);
	munmap(wt_area, wt_len);
}

static void bench_tracking(void)
{
	struct sigaction sa = { .sa_flags = SA_SIGINFO };
	int pm, cr;
	size_t sz;

	pm = open("/proc/self/pagemap", O_RDONLY);
	cr = open("/proc/self/clear_refs", O_WRONLY);
	sa.sa_sigaction = wt_sigbus;
	sigaction(SIGBUS, &sa, NULL);
	sa.sa_sigaction = wt_sigsegv;
	sigaction(SIGSEGV, &sa, NULL);
	for (sz = 0; sz < sizeof(wt_sizes) / sizeof(wt_sizes[0]); sz++)
		bench_tracking_size(sz, pm, cr);
	signal(SIGBUS, SIG_DFL);
	signal(SIGSEGV, SIG_DFL);
	close(pm);
	close(cr);
}

/*
 * 3: UFFDIO_WRITEPROTECT and un-protect of 1 MiB to 1 GiB, ns per page:
 * anon and shmem populated, shmem never touched (markers), and on shmem the
 * way without markers: populate by reading, then protect.
 */
static void bench_protect(void)
{
	static const size_t sizes[] = { 1 * MIB, 16 * MIB, 256 * MIB, 1024 * MIB };
	static const struct { enum uffd_mem mem; bool populate; const char *name; } kinds[] = {
		{ MEM_ANON, true, "anon-populated" },
		{ MEM_SHMEM, true, "shmem-populated" },
		{ MEM_SHMEM, false, "shmem-unpopulated" },
	};
	char fig[128];
	size_t s, k;

	for (k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		for (s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
			size_t len = sizes[s], n = len / PAGE;
			double vp[ROUNDS_IN], vu[ROUNDS_IN], vpp[ROUNDS_IN];
			int uffd = uffd_with(0), fd, r, rounds = len > 256 * MIB ? 3 : ROUNDS_IN;
			char *p = mem_map(kinds[k].mem, len, &fd);
			char name[64];

			snprintf(name, sizeof(name), "%s/%zuM", kinds[k].name, len / MIB);
			if (p == MAP_FAILED)
				die_errno("mmap");
			madvise(p, len, MADV_NOHUGEPAGE);
			if (uffd_register(uffd, p, len, UFFDIO_REGISTER_MODE_WP, NULL)) {
				snprintf(fig, sizeof(fig), "3/protect/%s", name);
				na(fig, "mode-not-offered");
				snprintf(fig, sizeof(fig), "3/unprotect/%s", name);
				na(fig, "mode-not-offered");
				if (!kinds[k].populate) {
					snprintf(fig, sizeof(fig), "3/populate+protect/%s", name);
					na(fig, "mode-not-offered");
				}
				close(uffd);
				mem_unmap(p, len, fd);
				continue;
			}
			if (kinds[k].populate)
				touch_write(p, len, PAGE);
			for (r = 0; r < rounds; r++) {
				uint64_t t0 = now_ns(), t1;

				if (uffd_wp(uffd, p, len, true))
					die_errno("protect");
				t1 = now_ns();
				if (uffd_wp(uffd, p, len, false))
					die_errno("un-protect");
				vp[r] = (double)(t1 - t0) / n;
				vu[r] = (double)(now_ns() - t1) / n;
			}
			snprintf(fig, sizeof(fig), "3/protect/%s", name);
			result(fig, median(vp, rounds), "ns");
			snprintf(fig, sizeof(fig), "3/unprotect/%s", name);
			result(fig, median(vu, rounds), "ns");
			if (!kinds[k].populate) {
				/* Without markers: map every page first. */
				for (r = 0; r < rounds; r++) {
					uint64_t t0;

					madvise(p, len, MADV_REMOVE);
					t0 = now_ns();
					touch_read(p, len, PAGE);
					if (uffd_wp(uffd, p, len, true))
						die_errno("protect");
					vpp[r] = (double)(now_ns() - t0) / n;
					uffd_wp(uffd, p, len, false);
				}
				snprintf(fig, sizeof(fig), "3/populate+protect/%s", name);
				result(fig, median(vpp, rounds), "ns");
			}
			close(uffd);
			mem_unmap(p, len, fd);
		}
	}
}

/* 4: demand paging of a region, pages per second, one faulting thread. */
static void bench_demand(void)
{
	static const struct rt_mem mems[] = {
		{ MEM_HUGETLB, "hugetlb-1g", 1024 * MIB },
		{ MEM_SHMEM, "memfd-256m", 256 * MIB },
	};
	static const enum rt_mode modes[] = { RT_MINOR, RT_MISSING };
	char fig[128];
	size_t m, k;

	for (m = 0; m < sizeof(mems) / sizeof(mems[0]); m++) {
		for (k = 0; k < 2; k++) {
			const char *why = "error";
			uint64_t t = rt_pass(modes[k], mems[m].mem, mems[m].len, NULL, &why);

			snprintf(fig, sizeof(fig), "4/%s/%s", rt_names[modes[k]], mems[m].name);
			if (!t)
				na(fig, why);
			else
				result(fig, (double)(mems[m].len / mem_page_size(mems[m].mem)) *
				       1e9 / t, "pages/s");
		}
	}
}

/*
 * 5 and 6: the cost of mm operations on a 64 MiB region: fault it in,
 * MADV_DONTNEED it, fork (the child exits at once), mprotect it read-only
 * and back, munmap it.  5 runs them on shmem that is plain, write-protected
 * (a uffd with EVENT_FORK), or protected and zapped (markers only); 6 on
 * memory that no uffd knows.
 */
enum op { OP_FAULT, OP_ZAP, OP_FORK, OP_MPROTECT, OP_MUNMAP, OP_NR };
static const char *const op_names[] = { "fault", "zap", "fork", "mprotect", "munmap" };
enum state { ST_PLAIN, ST_WP, ST_MARKERS };
static const char *const st_names[] = { "plain", "wp", "markers" };

struct ops_env {
	enum uffd_mem mem;
	bool thp;
	enum state st;
	size_t len;
	char *p;
	int fd, uffd;
	struct bg_thread bg;
};

/* Reads fork events and closes the child's uffd, so that fork goes on. */
static void *fork_event_reader(void *arg)
{
	struct ops_env *e = arg;
	struct pollfd pfd[2] = {
		{ .fd = e->uffd, .events = POLLIN },
		{ .fd = e->bg.stop[0], .events = POLLIN },
	};
	struct uffd_msg msg;

	for (;;) {
		if (poll(pfd, 2, -1) < 0 || (pfd[1].revents & POLLIN))
			return NULL;
		if (read(e->uffd, &msg, sizeof(msg)) == sizeof(msg) &&
		    msg.event == UFFD_EVENT_FORK)
			close(msg.arg.fork.ufd);
	}
}

/* Map and fault in the region in its state; false if the kernel can't. */
static bool ops_setup(struct ops_env *e, bool populate)
{
	e->p = mem_map(e->mem, e->len, &e->fd);
	if (e->p == MAP_FAILED)
		die_errno("mmap");
	madvise(e->p, e->len, e->thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
	if (populate)
		touch_write(e->p, e->len, PAGE);
	e->uffd = -1;
	if (e->st == ST_PLAIN)
		return true;
	e->uffd = uffd_with(UFFD_FEATURE_EVENT_FORK);
	if (e->uffd < 0 || uffd_register(e->uffd, e->p, e->len, UFFDIO_REGISTER_MODE_WP, NULL) ||
	    uffd_wp(e->uffd, e->p, e->len, true)) {
		if (e->uffd >= 0)
			close(e->uffd);
		mem_unmap(e->p, e->len, e->fd);
		return false;
	}
	if (e->st == ST_MARKERS)
		madvise(e->p, e->len, MADV_DONTNEED);
	bg_start(&e->bg, fork_event_reader, e, "fork events");
	return true;
}

static void ops_teardown(struct ops_env *e, bool mapped)
{
	if (e->uffd >= 0) {
		bg_stop(&e->bg, "fork events");
		close(e->uffd);
	}
	if (mapped)
		munmap(e->p, e->len);
	if (e->fd >= 0)
		close(e->fd);
}

/* One timed operation; ns per 4 KiB page (fork: us per fork). */
static double ops_once(struct ops_env *e, enum op op)
{
	size_t n = e->len / PAGE;
	uint64_t t0;
	double v;
	pid_t pid;

	if (!ops_setup(e, op != OP_FAULT))
		return NAN;
	t0 = now_ns();
	switch (op) {
	case OP_FAULT:
		touch_write(e->p, e->len, PAGE);
		break;
	case OP_ZAP:
		madvise(e->p, e->len, MADV_DONTNEED);
		break;
	case OP_FORK:
		pid = fork();
		if (!pid)
			_exit(0);
		waitpid(pid, NULL, 0);
		break;
	case OP_MPROTECT:
		mprotect(e->p, e->len, PROT_READ);
		mprotect(e->p, e->len, PROT_READ | PROT_WRITE);
		break;
	case OP_MUNMAP:
		munmap(e->p, e->len);
		break;
	default:
		break;
	}
	v = (double)(now_ns() - t0);
	v = op == OP_FORK ? v / 1000 : v / n;
	ops_teardown(e, op != OP_MUNMAP);
	return v;
}

static void ops_figure(const char *fig, struct ops_env *e, enum op op)
{
	double v[ROUNDS_IN];
	int r;

	for (r = 0; r < ROUNDS_IN; r++) {
		v[r] = ops_once(e, op);
		if (isnan(v[r])) {
			na(fig, "mode-not-offered");
			return;
		}
	}
	result(fig, median(v, ROUNDS_IN), op == OP_FORK ? "us" : "ns");
}

static void bench_markers(void)
{
	struct ops_env e = { .mem = MEM_SHMEM, .len = 64 * MIB };
	char fig[128];
	int op;

	for (op = OP_ZAP; op < OP_NR; op++) {
		for (e.st = ST_PLAIN; e.st <= ST_MARKERS; e.st++) {
			snprintf(fig, sizeof(fig), "5/%s/shmem-%s", op_names[op], st_names[e.st]);
			ops_figure(fig, &e, op);
		}
	}
}

static void bench_others(void)
{
	static const struct { enum uffd_mem mem; bool thp; const char *name; } mems[] = {
		{ MEM_ANON, false, "anon-4k" }, { MEM_ANON, true, "anon-thp" },
		{ MEM_SHMEM, false, "shmem" },
	};
	struct ops_env e = { .len = 64 * MIB, .st = ST_PLAIN };
	char fig[128];
	size_t m;
	int op;

	for (m = 0; m < sizeof(mems) / sizeof(mems[0]); m++) {
		e.mem = mems[m].mem;
		e.thp = mems[m].thp;
		for (op = 0; op < OP_NR; op++) {
			snprintf(fig, sizeof(fig), "6/%s/%s", op_names[op], mems[m].name);
			ops_figure(fig, &e, op);
		}
	}
}

/*
 * 7: stress programs bouncing pages between two areas with one handler
 * thread per CPU: mainline 6.12's uffd-stress (it opens its uffd with
 * UFFD_USER_MODE_ONLY, which 5.10 refuses), and 5.10's own selftest
 * (tools/testing/selftests/vm/userfaultfd, the base's, which then also runs
 * its short zeropage, signal and events tests), 32 MiB 8 times; MiB
 * bounced per second of the whole run.
 */
static void run_stress(const char *fig, const char *prog, const char *const argv[],
		       size_t mib, size_t bounces)
{
	uint64_t t0 = now_ns();
	int status = -1;
	pid_t pid;

	if (access(prog, X_OK)) {
		na(fig, "program-missing");
		return;
	}
	pid = fork();
	if (!pid) {
		int null = open("/dev/null", O_WRONLY);

		dup2(null, 1);
		dup2(null, 2);
		execv(prog, (char *const *)argv);
		_exit(127);
	}
	waitpid(pid, &status, 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		char why[32];

		snprintf(why, sizeof(why), "exit-%d",
			 WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
		na(fig, why);
		return;
	}
	result(fig, (double)(mib * bounces) * 1e9 / (now_ns() - t0), "MiB/s");
}

static void bench_stress(void)
{
	static const char *const mems[] = {
		"anon", "shmem", "shmem-private", "hugetlb", "hugetlb-private",
	};
	/* 5.10's names of the same memory types; hugetlb needs a file. */
	static const char *const mems_5_10[] = { "anon", "shmem", "hugetlb_shared", "hugetlb" };
	const char *const fig_5_10[] = { "anon", "shmem", "hugetlb", "hugetlb-private" };
	const size_t mib = 32, bounces = 8;
	const char *hfile = "/mnt/huge/uffd-bench-5.10";
	char fig[128];
	size_t m;

	for (m = 0; m < sizeof(mems) / sizeof(mems[0]); m++) {
		const char *argv[] = { "uffd-stress", mems[m], "32", "8", NULL };

		snprintf(fig, sizeof(fig), "7/uffd-stress-6.12/%s", mems[m]);
		run_stress(fig, stress_prog, argv, mib, bounces);
	}
	for (m = 0; m < sizeof(mems_5_10) / sizeof(mems_5_10[0]); m++) {
		const char *argv[] = { "userfaultfd-5.10", mems_5_10[m], "32", "8", hfile, NULL };

		snprintf(fig, sizeof(fig), "7/selftest-5.10/%s", fig_5_10[m]);
		run_stress(fig, selftest_prog, argv, mib, bounces);
		unlink(hfile);
	}
}

static void (*const benches[])(void) = {
	NULL, bench_roundtrip, bench_tracking, bench_protect, bench_demand,
	bench_markers, bench_others, bench_stress,
};

int main(int argc, char **argv)
{
	struct uffdio_api api = { 0 };
	int fd = uffd_open_raw(0), i, b, m;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (fd < 0 || uffd_api(fd, 0, &api))
		die_errno("userfaultfd");
	kfeatures = api.features;
	close(fd);
	printf("# uffd-bench: UFFDIO_API features 0x%llx\n", (unsigned long long)kfeatures);
	if (argc < 2 || !strcmp(argv[1], "all")) {
		for (b = 1; b <= 7; b++)
			benches[b]();
		return 0;
	}
	for (i = 1; i < argc; i++) {
		const char *mode = strchr(argv[i], '/');

		b = atoi(argv[i]);
		wt_only = NULL;
		if (mode && b == 2) {
			wt_only = mode + 1;
			for (m = 0; m < WT_NR && strcmp(wt_only, wt_names[m]); m++)
				;
			if (m == WT_NR)
				b = 0;
		} else if (mode) {
			b = 0;
		}
		if (b < 1 || b > 7) {
			fprintf(stderr, "usage: uffd-bench all | N... (1-7, or 2/<mode>)\n");
			return 2;
		}
		benches[b]();
	}
	return 0;
}
