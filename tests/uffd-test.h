/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the harness's userfaultfd tests: TAP output (the work
 * tree's kselftest.h), opening a userfaultfd, mapping each memory type, and
 * the claims of the kernel under test.
 */
#ifndef UFFD_TEST_H
#define UFFD_TEST_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <grp.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <poll.h>
#include <pthread.h>
#include <linux/userfaultfd.h>
#include <linux/fs.h>

#include "kselftest.h"
#include "uffd-claims.h"

/*
 * The end of the user address space.  x86_64 with 4-level page tables (the
 * guest's kernels have no 5-level) maps below 1 << 47, and its access_ok()
 * takes [p, p + size) up to TASK_SIZE_MAX, a page below that; arm64 with
 * 48-bit addresses (configs/arm64.config) maps below 1 << 48 and its
 * access_ok() takes ranges up to there (5.10 and 6.12 alike).
 */
#ifdef __aarch64__
#define USER_VA_END	(1UL << 48)
#define TASK_SIZE_MAX	USER_VA_END
#else
#define USER_VA_END	(1UL << 47)
#define TASK_SIZE_MAX	(USER_VA_END - 4096)
#endif

#ifndef MFD_HUGETLB
#define MFD_HUGETLB 0x0004U
#endif

/*
 * Mainline's uapi (6.4-6.7) that the series' exported headers may lack yet:
 * the tests are built against those headers, so each is spelled out here,
 * with mainline's values, where they do not define it.
 */
#ifndef UFFD_FEATURE_WP_UNPOPULATED
#define UFFD_FEATURE_WP_UNPOPULATED	(1 << 13)
#endif
#ifndef UFFD_FEATURE_POISON
#define UFFD_FEATURE_POISON		(1 << 14)
#endif
#ifndef UFFD_FEATURE_WP_ASYNC
#define UFFD_FEATURE_WP_ASYNC		(1 << 15)
#endif
#ifndef _UFFDIO_POISON
#define _UFFDIO_POISON			(0x08)
struct uffdio_poison {
	struct uffdio_range range;
#define UFFDIO_POISON_MODE_DONTWAKE	((__u64)1 << 0)
	__u64 mode;
	/* bytes poisoned, or -errno (out) */
	__s64 updated;
};
#define UFFDIO_POISON	_IOWR(UFFDIO, _UFFDIO_POISON, struct uffdio_poison)
#endif

/* The PAGEMAP_SCAN ioctl of /proc/PID/pagemap (include/uapi/linux/fs.h). */
#ifndef PAGEMAP_SCAN
#define PAGE_IS_WPALLOWED	(1 << 0)
#define PAGE_IS_WRITTEN		(1 << 1)
#define PAGE_IS_FILE		(1 << 2)
#define PAGE_IS_PRESENT		(1 << 3)
#define PAGE_IS_SWAPPED		(1 << 4)
#define PAGE_IS_PFNZERO		(1 << 5)
#define PAGE_IS_HUGE		(1 << 6)
#define PAGE_IS_SOFT_DIRTY	(1 << 7)

struct page_region {
	__u64 start;
	__u64 end;
	__u64 categories;
};

#define PM_SCAN_WP_MATCHING	(1 << 0)
#define PM_SCAN_CHECK_WPASYNC	(1 << 1)

struct pm_scan_arg {
	__u64 size;
	__u64 flags;
	__u64 start;
	__u64 end;
	__u64 walk_end;
	__u64 vec;
	__u64 vec_len;
	__u64 max_pages;
	__u64 category_inverted;
	__u64 category_mask;
	__u64 category_anyof_mask;
	__u64 return_mask;
};

#define PAGEMAP_SCAN	_IOWR('f', 16, struct pm_scan_arg)
#endif

#define HPAGE_SIZE (2UL << 20)

/* One TAP result: ok when cond holds. */
static inline bool check(bool cond, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (cond)
		ksft_test_result_pass("%s\n", msg);
	else
		ksft_test_result_fail("%s\n", msg);
	return cond;
}

/*
 * What one scenario of a test found: its first failure (why), or why this
 * kernel cannot run it (skip).  Both return false, so that a check reads
 * "return fail(e, ...)"; a test's env embeds one as v.
 */
struct verdict {
	char why[256];
	char skip[256];
};

static inline bool verdict_fail(struct verdict *v, const char *fmt, ...)
{
	va_list ap;

	if (!v->why[0]) {
		va_start(ap, fmt);
		vsnprintf(v->why, sizeof(v->why), fmt, ap);
		va_end(ap);
	}
	return false;
}

static inline bool verdict_skip(struct verdict *v, const char *why)
{
	snprintf(v->skip, sizeof(v->skip), "%s", why);
	return false;
}

#define fail(e, ...)	verdict_fail(&(e)->v, __VA_ARGS__)
#define skip(e, why)	verdict_skip(&(e)->v, why)

/*
 * Unprivileged users: the uid of nobody (the guest's /etc/passwd has only
 * root; the uid works numerically), and the sysctl that says whether such a
 * user may open a userfaultfd that handles kernel faults.
 */
#define NOBODY 65534
#define SYSCTL_UNPRIV "/proc/sys/vm/unprivileged_userfaultfd"

/* vm.unprivileged_userfaultfd, or -1. */
static inline int sysctl_get(void)
{
	FILE *f = fopen(SYSCTL_UNPRIV, "r");
	int v = -1;

	if (f) {
		if (fscanf(f, "%d", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

static inline bool sysctl_set(int v)
{
	FILE *f = fopen(SYSCTL_UNPRIV, "w");
	bool ok;

	if (!f)
		return false;
	ok = fprintf(f, "%d\n", v) > 0;
	return !fclose(f) && ok;
}

/* Become nobody, without capabilities; false if that did not work. */
static inline bool drop_to_nobody(void)
{
	return !setgroups(0, NULL) && !setresgid(NOBODY, NOBODY, NOBODY) &&
	       !setresuid(NOBODY, NOBODY, NOBODY) && geteuid() == NOBODY;
}

/* fork() with a pipe p from the child to the parent; -1 after a verdict_fail(). */
static inline pid_t fork_piped(struct verdict *v, int p[2])
{
	pid_t pid;

	if (pipe(p)) {
		verdict_fail(v, "pipe: %s", strerror(errno));
		return -1;
	}
	pid = fork();
	if (pid < 0)
		verdict_fail(v, "fork: %s", strerror(errno));
	return pid;
}

/*
 * Run fn(arg) in a child (that became nobody if nobody); fn returns 0 or a
 * line of why not, written to the pipe.  Returns true if the child exited
 * 0, else verdict_fail()s with "who: why".
 */
static inline bool in_child(struct verdict *v, const char *(*fn)(void *), void *arg,
			    bool nobody, const char *who)
{
	char why[256] = "";
	int p[2], status;
	ssize_t n;
	pid_t pid = fork_piped(v, p);

	if (pid < 0)
		return false;
	if (!pid) {
		const char *r = !nobody || drop_to_nobody() ? fn(arg) : "cannot become nobody";

		if (r && write(p[1], r, strlen(r)) < 0)
			_exit(2);
		_exit(r ? 1 : 0);
	}
	close(p[1]);
	n = read(p[0], why, sizeof(why) - 1);
	close(p[0]);
	waitpid(pid, &status, 0);
	if (WIFEXITED(status) && !WEXITSTATUS(status))
		return true;
	if (n > 0)
		why[n] = 0;
	if (!why[0] && WIFSIGNALED(status))
		snprintf(why, sizeof(why), "child killed by signal %d", WTERMSIG(status));
	return verdict_fail(v, "%s: %s", who, why[0] ? why : "child died");
}

/* Run fn(arg) in a child that became nobody (in_child()). */
static inline bool as_nobody(struct verdict *v, const char *(*fn)(void *), void *arg)
{
	return in_child(v, fn, arg, true, "as nobody");
}

/*
 * A thread that serves a userfaultfd until bg_stop(): its loop polls
 * stop[0] along with the uffd and returns when that is readable.
 */
struct bg_thread {
	pthread_t thread;
	int stop[2];
	bool running;
};

static inline void bg_start(struct bg_thread *t, void *(*fn)(void *), void *arg,
			    const char *who)
{
	if (pipe(t->stop) || pthread_create(&t->thread, NULL, fn, arg))
		ksft_exit_fail_msg("%s: %s\n", who, strerror(errno));
	t->running = true;
}

static inline void bg_stop(struct bg_thread *t, const char *who)
{
	if (!t->running)
		return;
	t->running = false;
	if (write(t->stop[1], "x", 1) != 1)
		ksft_exit_fail_msg("%s stop: %s\n", who, strerror(errno));
	pthread_join(t->thread, NULL);
	close(t->stop[0]);
	close(t->stop[1]);
}

/* t finished within ms milliseconds (and was joined). */
static inline bool joined_within(pthread_t t, int ms)
{
	for (; ms > 0; ms -= 10) {
		if (!pthread_tryjoin_np(t, NULL))
			return true;
		usleep(10000);
	}
	return !pthread_tryjoin_np(t, NULL);
}

/* A thread that forks a child that exits at once; its pid in *arg. */
static inline void *do_fork(void *arg)
{
	pid_t pid = fork();

	if (!pid)
		_exit(0);
	*(pid_t *)arg = pid;
	return NULL;
}

/*
 * The TAP line of one test's verdict: pass, skip, XFAIL where the kernel is
 * known to get scenario nr wrong (uffd-claims.h), else fail.
 */
static inline void verdict_report(const struct verdict *v, bool ok, int nr,
				  const struct uffd_claims *c, const char *name)
{
	const char *why = v->why[0] ? v->why : "unexpected faults";

	if (ok)
		ksft_test_result_pass("%s\n", name);
	else if (v->skip[0] && !v->why[0])
		ksft_test_result_skip("%s: %s\n", name, v->skip);
	else if (nr && (c->known_broken & SCENARIO(nr)))
		ksft_test_result_xfail("%s: known broken on '%s': %s\n", name, c->ref, why);
	else
		ksft_test_result_fail("%s: %s\n", name, why);
}

/* The claims of the kernel named by $UFFD_REF (default: the series). */
static inline const struct uffd_claims *uffd_claims_of_kernel(void)
{
	const char *ref = getenv("UFFD_REF");
	size_t i;

	if (!ref || !*ref)
		ref = "series";
	for (i = 0; i < sizeof(uffd_claims) / sizeof(uffd_claims[0]); i++)
		if (!strcmp(uffd_claims[i].ref, ref))
			return &uffd_claims[i];
	ksft_exit_fail_msg("UFFD_REF=%s: no claims for this kernel\n", ref);
	return NULL;
}

/* The seeded pseudo-random numbers of the stress tests and the fuzzer. */
static inline unsigned int rnd(unsigned int *seed)
{
	*seed = *seed * 1103515245 + 12345;
	return *seed >> 8;
}

/*
 * A sysfs or procfs knob: its old value into old (if not NULL), then val
 * written (if not NULL).  A knob this kernel lacks reads as "".  Both at
 * offset 0: a sysctl ignores a write at a later offset
 * (kernel.sysctl_writes_strict), as after reading the old value.
 */
static inline void knob(const char *path, const char *val, char *old, size_t oldsz)
{
	int fd = open(path, val ? O_RDWR : O_RDONLY);
	ssize_t n;

	if (old) {
		n = fd < 0 ? 0 : pread(fd, old, oldsz - 1, 0);
		old[n > 0 ? n : 0] = 0;
	}
	if (fd >= 0 && val && pwrite(fd, val, strlen(val), 0) < 0)
		ksft_print_msg("%s: %s\n", path, strerror(errno));
	if (fd >= 0)
		close(fd);
}

/* A userfaultfd, before UFFDIO_API. */
static inline int uffd_open_raw(int flags)
{
	return syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK | flags);
}

/* UFFDIO_API on fd; returns 0 or -errno, the reply in *api. */
static inline int uffd_api(int fd, uint64_t features, struct uffdio_api *api)
{
	struct uffdio_api a = { .api = UFFD_API, .features = features };

	if (ioctl(fd, UFFDIO_API, &a))
		return -errno;
	if (api)
		*api = a;
	return 0;
}

/*
 * One TAP line: UFFDIO_API advertises feature bit `bit` where, and only
 * where, the kernel under test claims it.  Returns the claim: the tests of a
 * feature run where it is claimed and skip elsewhere, and a kernel that
 * advertises a feature it does not claim (or the reverse) fails here.
 */
static inline bool feature_as_claimed(const struct uffd_claims *c, int bit)
{
	bool want = c->features & FEAT(bit);
	struct uffdio_api api = { 0 };
	int fd = uffd_open_raw(0), ret;

	if (fd < 0)
		ksft_exit_fail_msg("userfaultfd: %s\n", strerror(errno));
	ret = uffd_api(fd, 0, &api);
	close(fd);
	check(!ret && !!(api.features & FEAT(bit)) == want,
	      "UFFD_FEATURE_%s (bit %d) %s, as '%s' claims (features 0x%llx)",
	      uffd_feature_names[bit].name, bit, want ? "advertised" : "not advertised",
	      c->ref, (unsigned long long)api.features);
	return want;
}

/* The next message of uffd within ms milliseconds. */
static inline bool uffd_msg_within(int uffd, struct uffd_msg *msg, int ms)
{
	struct pollfd pfd = { .fd = uffd, .events = POLLIN };

	return poll(&pfd, 1, ms) == 1 && read(uffd, msg, sizeof(*msg)) == sizeof(*msg);
}

/* A userfaultfd with UFFDIO_API done; exits the test on failure. */
static inline int uffd_open(uint64_t features)
{
	int fd = uffd_open_raw(0);

	if (fd < 0)
		ksft_exit_fail_msg("userfaultfd: %s\n", strerror(errno));
	if (uffd_api(fd, features, NULL))
		ksft_exit_fail_msg("UFFDIO_API(0x%llx): %s\n",
				   (unsigned long long)features, strerror(errno));
	return fd;
}

static inline bool mem_is_hugetlb(enum uffd_mem mem)
{
	return mem == MEM_HUGETLB || mem == MEM_HUGETLB_PRIVATE;
}

/* Mapped MAP_SHARED (the others are MAP_PRIVATE). */
static inline bool mem_is_shared(enum uffd_mem mem)
{
	return mem == MEM_SHMEM || mem == MEM_HUGETLB;
}

/*
 * The huge page size of the hugetlb memory types: the default one (2 MiB),
 * or UFFD_HUGETLB_KB's (arm64 with 4 KiB pages also has 64 KiB pages of
 * contiguous ptes and 32 MiB pages of contiguous pmds).
 */
static inline size_t hugetlb_page_size(void)
{
	const char *kb = getenv("UFFD_HUGETLB_KB");

	return kb ? strtoul(kb, NULL, 0) << 10 : HPAGE_SIZE;
}

/* memfd_create() flags for hugetlb pages of that size (MFD_HUGE_SHIFT 26) */
static inline unsigned int hugetlb_memfd_flags(void)
{
	if (!getenv("UFFD_HUGETLB_KB"))
		return MFD_HUGETLB;
	return MFD_HUGETLB | (unsigned int)__builtin_ctzl(hugetlb_page_size()) << 26;
}

/* Page size of a memory type. */
static inline size_t mem_page_size(enum uffd_mem mem)
{
	return mem_is_hugetlb(mem) ? hugetlb_page_size() : (size_t)getpagesize();
}

/*
 * Map len bytes of a memory type.  File-backed types get a memfd of that
 * size; *fdp receives it (or -1 for anon) so that a test can map it twice.
 * Returns MAP_FAILED with errno set on failure.
 */
static inline void *mem_map(enum uffd_mem mem, size_t len, int *fdp)
{
	int fd = -1, flags;
	void *p;

	if (fdp)
		*fdp = -1;
	if (mem == MEM_ANON)
		return mmap(NULL, len, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	fd = memfd_create(uffd_mem_names[mem],
			  mem_is_hugetlb(mem) ? hugetlb_memfd_flags() : 0);
	if (fd < 0)
		return MAP_FAILED;
	if (ftruncate(fd, len)) {
		close(fd);
		return MAP_FAILED;
	}
	flags = mem_is_shared(mem) ? MAP_SHARED : MAP_PRIVATE;
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, flags, fd, 0);
	if (p == MAP_FAILED || !fdp)
		close(fd);
	else
		*fdp = fd;
	return p;
}

static inline void mem_unmap(void *p, size_t len, int fd)
{
	munmap(p, len);
	if (fd >= 0)
		close(fd);
}

/*
 * An align-aligned read-write mapping of len bytes over fd (or anon when
 * fd < 0), flags MAP_SHARED or MAP_PRIVATE (and modifiers).
 */
static inline char *map_aligned(size_t len, size_t align, int flags, int fd)
{
	char *r = mmap(NULL, len + align, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	char *p;

	if (r == MAP_FAILED)
		return r;
	p = (char *)(((unsigned long)r + align - 1) & ~(align - 1));
	if (p > r)
		munmap(r, p - r);
	munmap(p + len, r + align - p - len);
	return mmap(p, len, PROT_READ | PROT_WRITE, flags | MAP_FIXED |
		    (fd < 0 ? MAP_ANONYMOUS : 0), fd, 0);
}

/*
 * A 2 MiB-aligned private anonymous range that may be mapped by a THP
 * (MADV_HUGEPAGE), or MAP_FAILED.
 */
static inline char *map_thp_range(void)
{
	char *p = map_aligned(HPAGE_SIZE, HPAGE_SIZE, MAP_PRIVATE, -1);

	if (p != MAP_FAILED)
		madvise(p, HPAGE_SIZE, MADV_HUGEPAGE);
	return p;
}

/* UFFDIO_REGISTER of [p, p+len); returns 0 or -errno, ioctls in *ioctls. */
static inline int uffd_register(int fd, void *p, size_t len, uint64_t mode,
				uint64_t *ioctls)
{
	struct uffdio_register r = {
		.range = { .start = (unsigned long)p, .len = len },
		.mode = mode,
	};

	if (ioctl(fd, UFFDIO_REGISTER, &r))
		return -errno;
	if (ioctls)
		*ioctls = r.ioctls;
	return 0;
}

static inline int uffd_unregister(int fd, void *p, size_t len)
{
	struct uffdio_range r = { .start = (unsigned long)p, .len = len };

	return ioctl(fd, UFFDIO_UNREGISTER, &r) ? -errno : 0;
}

/* UFFDIO_WRITEPROTECT; returns 0 or -errno. */
static inline int uffd_wp(int fd, void *p, size_t len, bool protect)
{
	struct uffdio_writeprotect wp = {
		.range = { .start = (unsigned long)p, .len = len },
		.mode = protect ? UFFDIO_WRITEPROTECT_MODE_WP : 0,
	};

	return ioctl(fd, UFFDIO_WRITEPROTECT, &wp) ? -errno : 0;
}

/* A field of /proc/self/smaps for the vma holding addr, in kB; -1 if none. */
static inline long smaps_kb(void *addr, const char *field)
{
	unsigned long a = (unsigned long)addr, start, end;
	char line[256], perms[8];
	bool in = false;
	long kb = -1;
	FILE *f = fopen("/proc/self/smaps", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		/* "start-end perms offset dev inode path" starts a vma */
		if (sscanf(line, "%lx-%lx %7s ", &start, &end, perms) == 3) {
			in = a >= start && a < end;
			continue;
		}
		if (in && !strncmp(line, field, strlen(field)) && line[strlen(field)] == ':') {
			kb = strtol(line + strlen(field) + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	return kb;
}

/* A field of /proc/meminfo (kB, or a count for HugePages_*); -1 if none. */
static inline long meminfo(const char *field)
{
	char line[256];
	size_t n = strlen(field);
	long v = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, field, n) && line[n] == ':')
			v = atol(line + n + 1);
	fclose(f);
	return v;
}

/*
 * /proc/meminfo's page-table and shmem counts lag behind by what each CPU
 * has not folded into them yet (up to its stat threshold per zone, some
 * hundred kB on the guest): fold them first (root only; a no-op else).
 */
static inline void vmstat_fold(void)
{
	int fd = open("/proc/sys/vm/stat_refresh", O_WRONLY | O_CLOEXEC);

	if (fd >= 0) {
		/* EINVAL when a counter is negative: they are folded anyway */
		ssize_t r = write(fd, "1", 1);

		(void)r;
		close(fd);
	}
}

/*
 * Move the pages every CPU has just added to its LRU batch onto the LRU:
 * MADV_PAGEOUT passes over a page that is not there yet, and drains only
 * the batch of its own CPU.  migrate_pages() from node 0 to node 0 moves
 * nothing but drains every CPU first (5.10 and 6.12 alike).
 */
static inline void lru_drain_all(void)
{
	unsigned long node0 = 1;

	syscall(__NR_migrate_pages, 0, 2, &node0, &node0);
}

/* /proc/self/pagemap */
#define PM_UFFD_WP	(1ULL << 57)
#define PM_SWAP		(1ULL << 62)
#define PM_PRESENT	(1ULL << 63)

/* The frame field of a pagemap entry (a swap entry's type and offset) */
#define PM_PFN_MASK	((1ULL << 55) - 1)

/* This process's /proc/self/pagemap, open; -1 with errno on failure. */
static inline int pagemap_fd(void)
{
	static int fd = -1;
	static pid_t owner;

	/* An fd inherited over fork() reads the parent's page tables. */
	if (fd >= 0 && owner != getpid()) {
		close(fd);
		fd = -1;
	}
	if (fd < 0) {
		fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
		owner = getpid();
	}
	return fd;
}

static inline uint64_t pagemap(void *addr)
{
	int fd = pagemap_fd();
	uint64_t e = 0;
	off_t off = (unsigned long)addr / getpagesize() * sizeof(e);

	if (fd < 0 || pread(fd, &e, sizeof(e), off) != sizeof(e))
		ksft_exit_fail_msg("pagemap: %s\n", strerror(errno));
	return e;
}

/*
 * PAGEMAP_SCAN over [start, start+len) of this process: the regions found
 * (>= 0) or -errno.  The other fields of a are the caller's (flags, vec,
 * vec_len, max_pages, the masks); walk_end is left in a.
 */
static inline long pm_scan(struct pm_scan_arg *a, void *start, size_t len)
{
	int fd = pagemap_fd();
	long ret;

	a->size = sizeof(*a);
	a->start = (unsigned long)start;
	a->end = (unsigned long)start + len;
	if (fd < 0)
		return -errno;
	ret = ioctl(fd, PAGEMAP_SCAN, a);
	return ret < 0 ? -errno : ret;
}

/*
 * The regions one walk of PAGEMAP_SCAN gathers at most before it copies
 * them out (6.12: PMD_SIZE / PAGE_SIZE); a scan with a longer vector walks
 * again from walk_end, with mmap_lock dropped in between.
 */
#define PM_SCAN_ONE_WALK	512

/*
 * What 6.12 guarantees of a PAGEMAP_SCAN that returned n >= 0 regions into
 * vec for the argument a (as asked, with walk_end as the kernel left it),
 * whatever else goes on in the process: NULL, or what is wrong, in why.
 * - no more regions than vec_len; walk_end page-aligned in [start, end];
 * - each region page-aligned, not empty, within [start, walk_end] (with
 *   one walk, and no PM_SCAN_WP_MATCHING; a scan that walks again leaves
 *   walk_end where its last walk started, as 6.12's pagemap_scan_output()
 *   only moves it on an early stop; and PM_SCAN_WP_MATCHING puts walk_end
 *   at the start of a huge page that max_pages lets in only in part, which
 *   it neither reports nor protects, and walks on: later pages may be
 *   reported, past walk_end), after the one before;
 * - its categories within return_mask, agreeing with category_mask and
 *   category_inverted, and with category_anyof_mask where that is within
 *   return_mask; adjacent regions of equal categories are one (one walk,
 *   and no PM_SCAN_WP_MATCHING, whose backing out of a huge page that it
 *   cannot protect whole may leave two);
 * - no more pages than max_pages; and a scan stopped by neither the vector
 *   nor max_pages ends at end (one walk, no PM_SCAN_WP_MATCHING, which
 *   stops before a huge page it cannot protect whole).
 */
static inline const char *pm_scan_result_bad(const struct pm_scan_arg *a,
					     const struct page_region *vec, long n,
					     char *why, size_t sz)
{
	uint64_t ps = getpagesize(), end = (a->end + ps - 1) & ~(ps - 1), pages = 0;
	uint64_t R = a->return_mask, M = a->category_mask & R, A = a->category_anyof_mask;
	uint64_t inv = a->category_inverted;
	bool one = a->vec_len <= PM_SCAN_ONE_WALK, wp = a->flags & PM_SCAN_WP_MATCHING;
	long k;

	if (n > (long)a->vec_len) {
		snprintf(why, sz, "%ld regions, vec_len %llu", n, (unsigned long long)a->vec_len);
		return why;
	}
	if (a->walk_end < a->start || a->walk_end > end || a->walk_end % ps) {
		snprintf(why, sz, "walk_end 0x%llx out of [0x%llx, 0x%llx]",
			 (unsigned long long)a->walk_end, (unsigned long long)a->start,
			 (unsigned long long)end);
		return why;
	}
	for (k = 0; k < n; k++) {
		const struct page_region *r = &vec[k];
		uint64_t c = r->categories;

		if (r->start % ps || r->end % ps || r->start >= r->end || r->start < a->start ||
		    r->end > (one && !wp ? a->walk_end : end)) {
			snprintf(why, sz, "region %ld 0x%llx-0x%llx out of [0x%llx, walk_end 0x%llx]",
				 k, (unsigned long long)r->start, (unsigned long long)r->end,
				 (unsigned long long)a->start, (unsigned long long)a->walk_end);
			return why;
		}
		if (k && r->start < r[-1].end) {
			snprintf(why, sz, "region %ld 0x%llx-0x%llx before the end of the one before",
				 k, (unsigned long long)r->start, (unsigned long long)r->end);
			return why;
		}
		if (k && one && !wp && r->start == r[-1].end && c == r[-1].categories) {
			snprintf(why, sz, "regions %ld and %ld adjacent, both categories 0x%llx",
				 k - 1, k, (unsigned long long)c);
			return why;
		}
		if ((c & ~R) || (c & M) != (~inv & M) ||
		    (A && !(A & ~R) && !((c ^ inv) & A))) {
			snprintf(why, sz, "region %ld categories 0x%llx; masks 0x%llx anyof 0x%llx"
				 " inverted 0x%llx return 0x%llx", k, (unsigned long long)c,
				 (unsigned long long)a->category_mask, (unsigned long long)A,
				 (unsigned long long)inv, (unsigned long long)R);
			return why;
		}
		pages += (r->end - r->start) / ps;
	}
	if (a->max_pages && pages > a->max_pages) {
		snprintf(why, sz, "%llu pages, max_pages %llu", (unsigned long long)pages,
			 (unsigned long long)a->max_pages);
		return why;
	}
	if (one && !wp && n < (long)a->vec_len && (!a->max_pages || pages < a->max_pages) &&
	    a->walk_end != end) {
		snprintf(why, sz, "stopped at 0x%llx before end 0x%llx (%ld of %llu regions,"
			 " %llu pages)", (unsigned long long)a->walk_end, (unsigned long long)end,
			 n, (unsigned long long)a->vec_len, (unsigned long long)pages);
		return why;
	}
	return NULL;
}

/*
 * A fault handler thread: counts write-protect faults and resolves each by
 * un-protecting the faulting page (of size page).  A fork event records the
 * child's userfaultfd in fork_ufd, a remap event is counted.  Any other
 * message is counted as unexpected; a missing fault is only woken, so the
 * faulting thread refaults until the per-test timeout kills the test, which
 * then fails: tests register MISSING only where they resolve it themselves.
 */
struct wp_handler {
	int uffd;
	size_t page;
	struct bg_thread bg;
	unsigned long wp_faults;
	unsigned long unexpected;
	unsigned long remaps;
	int fork_ufd;
};

/*
 * The next message on uffd, for a handler thread; false once its stop pipe
 * (a bg_thread's stop[0]) is readable, or poll() fails.
 */
static inline bool uffd_next_msg(int uffd, int stop, struct uffd_msg *msg)
{
	struct pollfd pfd[2] = {
		{ .fd = uffd, .events = POLLIN },
		{ .fd = stop, .events = POLLIN },
	};

	for (;;) {
		if (poll(pfd, 2, -1) < 0 || (pfd[1].revents & POLLIN))
			return false;
		if (read(uffd, msg, sizeof(*msg)) == sizeof(*msg))
			return true;
	}
}

static inline void *wp_handler_main(void *arg)
{
	struct wp_handler *h = arg;
	struct uffd_msg msg;

	while (uffd_next_msg(h->uffd, h->bg.stop[0], &msg)) {
		if (msg.event == UFFD_EVENT_PAGEFAULT &&
		    (msg.arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WP)) {
			unsigned long a = msg.arg.pagefault.address & ~(h->page - 1);

			__atomic_add_fetch(&h->wp_faults, 1, __ATOMIC_SEQ_CST);
			if (uffd_wp(h->uffd, (void *)a, h->page, false))
				ksft_print_msg("handler: un-protect: %s\n", strerror(errno));
			continue;
		}
		if (msg.event == UFFD_EVENT_FORK) {
			__atomic_store_n(&h->fork_ufd, (int)msg.arg.fork.ufd,
					 __ATOMIC_SEQ_CST);
			continue;
		}
		if (msg.event == UFFD_EVENT_REMAP) {
			__atomic_add_fetch(&h->remaps, 1, __ATOMIC_SEQ_CST);
			continue;
		}
		__atomic_add_fetch(&h->unexpected, 1, __ATOMIC_SEQ_CST);
		ksft_print_msg("handler: unexpected event %u flags 0x%llx\n", msg.event,
			       (unsigned long long)msg.arg.pagefault.flags);
		if (msg.event == UFFD_EVENT_PAGEFAULT) {
			struct uffdio_range r = {
				.start = msg.arg.pagefault.address & ~(h->page - 1),
				.len = h->page,
			};

			/* Unblock the faulting thread; the test fails anyway. */
			ioctl(h->uffd, UFFDIO_WAKE, &r);
		}
	}
	return NULL;
}

static inline void wp_handler_start(struct wp_handler *h, int uffd, size_t page)
{
	memset(h, 0, sizeof(*h));
	h->uffd = uffd;
	h->page = page;
	h->fork_ufd = -1;
	bg_start(&h->bg, wp_handler_main, h, "handler");
}

static inline void wp_handler_stop(struct wp_handler *h)
{
	bg_stop(&h->bg, "handler");
}

/* Write one byte at p; return how many wp faults the write raised. */
static inline unsigned long wp_write(struct wp_handler *h, volatile char *p, char c)
{
	unsigned long before = __atomic_load_n(&h->wp_faults, __ATOMIC_SEQ_CST);

	*p = c;
	return __atomic_load_n(&h->wp_faults, __ATOMIC_SEQ_CST) - before;
}

#endif
