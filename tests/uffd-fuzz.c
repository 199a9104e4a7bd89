// SPDX-License-Identifier: GPL-2.0
/*
 * A userfaultfd fuzzer.  Fuzzing threads issue random but valid-shaped
 * userfaultfd calls: userfaultfd() with any flags, UFFDIO_API with any
 * feature bits, REGISTER with any modes, UNREGISTER, WAKE, COPY, ZEROPAGE,
 * WRITEPROTECT and CONTINUE with any modes, over ranges that are aligned or
 * not, huge-page-misaligned, overlapping, partly or wholly unmapped, and
 * close() of the userfaultfds; mixed with mmap (anon, THP, shmem and
 * hugetlbfs, shared and private), unmapping, mremap, mprotect, madvise
 * (DONTNEED, PAGEOUT, REMOVE, FREE, HUGEPAGE, ...), page migration, kernel
 * accesses (read() into the ranges) and fork (children touch and exit) on
 * the same ranges, so that ranges change and descriptors go away under
 * calls in flight.  Toucher threads read and write the ranges (faults,
 * SIGBUS and SIGSEGV are expected) and a server thread resolves the fault
 * messages of every open userfaultfd (COPY, ZEROPAGE, CONTINUE, un-protect
 * or WAKE) and reads their events.
 *
 * All of it happens inside an arena of windows reserved at start, so that
 * the fuzzing never touches the program's own memory: "unmapping" a window
 * maps PROT_NONE over it.  Really unmapped ranges are taken from low
 * addresses nothing maps.
 *
 * The verdict is mostly the kernel's: the harness fails the run on any
 * splat (page migration is left out on a kernel whose claims say that it
 * oopses there, uffd-claims.h 27).  Here: every thread finishes once the
 * userfaultfds are closed (no hang), and the huge page pool, the
 * page-table and the shmem counts are back where they were once the
 * fuzzing process is gone (no leak).
 *
 * SEED=n (default: time), DURATION=seconds (default 10), COUNT=n operations
 * per fuzzing thread (default: no limit), THREADS=n fuzzing threads
 * (default 2); all printed, and the operations per kind.
 */
#include "uffd-test.h"

#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <time.h>
#include <sys/wait.h>

#ifndef MADV_PAGEOUT
#define MADV_COLD 20
#define MADV_PAGEOUT 21
#endif
#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif
#define MPOL_MF_MOVE	(1 << 1)

#define NWIN		8
#define WIN_SIZE	(8UL << 20)	/* a window; regions are up to 4 MiB */
#define NUFFD		4
#define NTOUCHERS	2
#define MAX_THREADS	8
/* Never mapped: the static binary starts at 4 MiB, mmap() works top-down. */
#define HOLE_START	0x100000UL

static char *arena;
static bool no_migrate;	/* the kernel is known to oops on it (claims, 27) */
static bool leaky_mremap;	/* it leaks private hugetlb reservations (28) */
static volatile bool go, stop;
static int fuzzers_done;
static unsigned int base_seed;
static long count_limit = -1;

/*
 * What each window holds (a mapping of win_len[w] bytes at its start);
 * advisory, as threads race on it on purpose.
 */
static enum uffd_mem win_mem[NWIN];
static size_t win_len[NWIN];
static int uffds[NUFFD] = { -1, -1, -1, -1 };
static uint64_t supported;	/* the features UFFDIO_API advertises */
static char src_buf[HPAGE_SIZE] __attribute__((aligned(4096)));

enum op {
	OP_MAP, OP_UNMAP, OP_MREMAP, OP_MPROTECT, OP_MADVISE, OP_MIGRATE,
	OP_FORK, OP_KERNEL_ACCESS, OP_UFFD_OPEN, OP_UFFD_CLOSE, OP_REGISTER,
	OP_UNREGISTER, OP_WAKE, OP_COPY, OP_ZEROPAGE, OP_WRITEPROTECT,
	OP_CONTINUE, OP_NR,
};

static const char *const op_names[OP_NR] = {
	"map", "unmap", "mremap", "mprotect", "madvise", "migrate", "fork",
	"kernel-access", "uffd-open", "uffd-close", "register", "unregister",
	"wake", "copy", "zeropage", "writeprotect", "continue",
};

/* Per kind: calls, and calls that succeeded. */
static unsigned long n_op[OP_NR], n_ok[OP_NR];
static unsigned long n_touch, n_touch_sig, n_faults, n_events, n_resolved;

static bool chance(unsigned int *seed, unsigned int one_in)
{
	return rnd(seed) % one_in == 0;
}

static char *win(int w)
{
	return arena + (size_t)w * WIN_SIZE;
}

static void count(enum op op, bool ok)
{
	__atomic_add_fetch(&n_op[op], 1, __ATOMIC_RELAXED);
	if (ok)
		__atomic_add_fetch(&n_ok[op], 1, __ATOMIC_RELAXED);
}

/*
 * A random range: mostly inside the mapping of one window, aligned to its
 * page size; sometimes anywhere in the window, unaligned, crossing into the
 * next window, huge-page-misaligned, empty, in the unmapped hole, or beyond
 * the user address space.
 */
static void pick_range(unsigned int *seed, unsigned long *start, unsigned long *len)
{
	int w = rnd(seed) % NWIN;
	size_t ps = mem_is_hugetlb(win_mem[w]) || chance(seed, 4) ? HPAGE_SIZE :
		    (size_t)getpagesize();
	size_t mapped = win_len[w] >= ps ? win_len[w] : WIN_SIZE;
	unsigned long off = rnd(seed) % (mapped / ps) * ps;
	unsigned long n = (1 + rnd(seed) % 4) * ps;

	if (off + n > mapped && !chance(seed, 8))
		n = mapped - off;
	switch (rnd(seed) % 24) {
	case 0:
		off += 1 + rnd(seed) % 4095;		/* unaligned start */
		break;
	case 1:
		n += 1 + rnd(seed) % 4095;		/* unaligned length */
		break;
	case 2:
		off = WIN_SIZE - ps;			/* into the next window */
		n = 2 * ps;
		break;
	case 3:
		n = 0;
		break;
	case 4:
		*start = HOLE_START + rnd(seed) % 16 * 4096;
		*len = (1 + rnd(seed) % 16) * 4096;
		return;
	case 5:
		*start = (1UL << 47) - 4096 * (rnd(seed) % 4);
		*len = 8192;
		return;
	case 6:
		off += 4096;				/* huge-page-misaligned */
		break;
	}
	if (n > WIN_SIZE)
		n = WIN_SIZE;
	if (w == NWIN - 1 && off + n > WIN_SIZE)
		off = WIN_SIZE - n;			/* stays in the arena */
	*start = (unsigned long)win(w) + off;
	*len = n;
}

/* Map a window afresh: a random memory type, 1-4 MiB at its start. */
static bool op_map(unsigned int *seed)
{
	int w = rnd(seed) % NWIN, mem = rnd(seed) % (MEM_NR + 1), fd = -1, flags;
	size_t len = (1 + rnd(seed) % 2) * HPAGE_SIZE * (chance(seed, 2) ? 1 : 2);
	void *p;

	win_len[w] = len;
	if (mem == MEM_NR) {		/* anon THP */
		p = mmap(win(w), len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
		if (p != MAP_FAILED)
			madvise(p, len, MADV_HUGEPAGE);
		win_mem[w] = MEM_ANON;
		return p != MAP_FAILED;
	}
	if (mem == MEM_ANON) {
		p = mmap(win(w), len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
		win_mem[w] = MEM_ANON;
		return p != MAP_FAILED;
	}
	fd = memfd_create("uffd-fuzz", mem_is_hugetlb(mem) ? MFD_HUGETLB : 0);
	if (fd < 0)
		return false;
	flags = (mem_is_shared(mem) ? MAP_SHARED : MAP_PRIVATE) | MAP_FIXED;
	p = MAP_FAILED;
	if (!ftruncate(fd, len))
		p = mmap(win(w), len, PROT_READ | PROT_WRITE, flags, fd, 0);
	close(fd);
	win_mem[w] = mem;
	return p != MAP_FAILED;
}

/* "Unmap" part of a window: PROT_NONE over it, never a hole of the arena. */
static bool op_unmap(unsigned int *seed)
{
	int w = rnd(seed) % NWIN;
	size_t off = rnd(seed) % 4 * HPAGE_SIZE, len = (1 + rnd(seed) % 4) * HPAGE_SIZE;

	if (chance(seed, 2)) {
		off = 0;
		len = WIN_SIZE;
	}
	if (off + len > WIN_SIZE)
		len = WIN_SIZE - off;
	if (!off && len == WIN_SIZE)
		win_len[w] = 0;
	return mmap(win(w) + off, len, PROT_NONE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED,
		    -1, 0) != MAP_FAILED;
}

/* Plug a hole that mremap() left in the arena. */
static void plug(char *p, size_t len)
{
	mmap(p, len, PROT_NONE,
	     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
}

/*
 * Move part of a window to another window, or shrink it in place; both
 * ranges stay within a window (so within the arena).
 */
static bool op_mremap(unsigned int *seed)
{
	int from = rnd(seed) % NWIN, to = rnd(seed) % NWIN;
	size_t ps = chance(seed, 2) ? HPAGE_SIZE : (size_t)getpagesize();
	size_t off = rnd(seed) % 2 * ps, len = (1 + rnd(seed) % 2) * ps;
	char *p;

	if (chance(seed, 4)) {
		p = mremap(win(from) + off, len, len / 2, 0);
		if (p == MAP_FAILED)
			return false;
		plug(p + len / 2, len - len / 2);
		return true;
	}
	if (from == to)
		to = (to + 1) % NWIN;
	if (leaky_mremap && win_mem[from] == MEM_HUGETLB_PRIVATE)
		return false;
	p = mremap(win(from) + off, len, len, MREMAP_MAYMOVE | MREMAP_FIXED,
		   win(to) + rnd(seed) % 2 * ps);
	if (p == MAP_FAILED)
		return false;
	win_mem[to] = win_mem[from];
	win_len[to] = len;
	plug(win(from) + off, len);
	return true;
}

static bool op_mprotect(unsigned int *seed)
{
	static const int prots[] = { PROT_NONE, PROT_READ, PROT_READ | PROT_WRITE };
	unsigned long start, len;

	pick_range(seed, &start, &len);
	return !mprotect((void *)start, len, prots[rnd(seed) % 3]);
}

static bool op_madvise(unsigned int *seed)
{
	static const int advice[] = {
		MADV_DONTNEED, MADV_PAGEOUT, MADV_REMOVE, MADV_FREE, MADV_COLD,
		MADV_HUGEPAGE, MADV_NOHUGEPAGE, MADV_WILLNEED,
	};
	unsigned long start, len;
	int a = advice[rnd(seed) % (sizeof(advice) / sizeof(advice[0]))];

	pick_range(seed, &start, &len);
	if (a == MADV_PAGEOUT)
		lru_drain_all();
	return !madvise((void *)start, len, a);
}

/* Move a few pages to the other fake NUMA node. */
static bool op_migrate(unsigned int *seed)
{
	void *pages[4];
	int nodes[4], status[4], i;

	for (i = 0; i < 4; i++) {
		pages[i] = win(rnd(seed) % NWIN) + rnd(seed) % (WIN_SIZE / 4096) * 4096;
		nodes[i] = rnd(seed) % 2;
	}
	return !syscall(__NR_move_pages, 0, 4, pages, nodes, status, MPOL_MF_MOVE);
}

/*
 * Touch random bytes of the arena; faults are resolved by the server, a
 * signal (SIGBUS from UFFD_FEATURE_SIGBUS, SIGSEGV from PROT_NONE) jumps
 * back here.
 */
static __thread sigjmp_buf touch_jmp;
static __thread volatile sig_atomic_t touch_armed;

static void on_signal(int sig)
{
	if (!touch_armed)
		_exit(100 + sig);
	siglongjmp(touch_jmp, 1);
}

static void touch(unsigned int *seed, int n)
{
	volatile char *p;
	volatile int i;	/* changes between sigsetjmp() and siglongjmp() */

	for (i = 0; i < n; i++) {
		int w = rnd(seed) % NWIN;

		p = win(w) + rnd(seed) % (win_len[w] ? win_len[w] : WIN_SIZE);
		if (sigsetjmp(touch_jmp, 1)) {
			touch_armed = 0;
			__atomic_add_fetch(&n_touch_sig, 1, __ATOMIC_RELAXED);
			continue;
		}
		touch_armed = 1;
		if (chance(seed, 2))
			(void)*p;
		else
			*p = (char)rnd(seed);
		touch_armed = 0;
		__atomic_add_fetch(&n_touch, 1, __ATOMIC_RELAXED);
	}
}

/*
 * A child touches some of the arena (its faults, if any, and signals) and
 * exits.  It shares the fd table: a child with a copy of it would keep
 * every userfaultfd alive that the parent closes while the fork is in
 * flight, and that fork waits for its events to be read, which nobody
 * does once the parent has closed its fd (the same on every kernel).
 */
static bool op_fork(unsigned int *seed)
{
	unsigned int child_seed = rnd(seed);
	int status;
	pid_t pid;

	pid = syscall(__NR_clone, CLONE_FILES | SIGCHLD, 0, NULL, NULL, 0);
	if (pid < 0)
		return false;
	if (!pid) {
		alarm(5);
		touch(&child_seed, 16);
		_exit(0);
	}
	return waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	       !WEXITSTATUS(status);
}

/* The kernel reads into a random range (GUP; EFAULT with USER_MODE_ONLY). */
static bool op_kernel_access(unsigned int *seed)
{
	unsigned long start, len;
	int fd = open("/dev/zero", O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return false;
	pick_range(seed, &start, &len);
	if (len > HPAGE_SIZE)
		len = HPAGE_SIZE;
	n = read(fd, (void *)start, len);
	close(fd);
	return n >= 0;
}

static bool op_uffd_open(unsigned int *seed)
{
	static const int flag_set[] = { 0, UFFD_USER_MODE_ONLY, 0x100, O_NONBLOCK };
	int slot = rnd(seed) % NUFFD, flags = O_CLOEXEC | O_NONBLOCK, fd, old;
	struct uffdio_api api = { .api = UFFD_API };

	flags |= flag_set[rnd(seed) % 4];
	fd = syscall(__NR_userfaultfd, flags);
	if (fd < 0)
		return false;
	/* any subset of what the kernel has, or of the 17 bits mainline knows */
	api.features = rnd(seed) & (chance(seed, 4) ? 0x1ffff : supported);
	if (chance(seed, 3))
		api.features &= ~(uint64_t)UFFD_FEATURE_SIGBUS;
	if (chance(seed, 16))
		api.features |= 1ULL << 63;
	if (chance(seed, 16))
		api.api = rnd(seed);
	if (ioctl(fd, UFFDIO_API, &api) && (errno != EINVAL ||
	    ioctl(fd, UFFDIO_API, &(struct uffdio_api){ .api = UFFD_API }))) {
		close(fd);
		return false;
	}
	if (chance(seed, 8))	/* a second UFFDIO_API is EINVAL */
		ioctl(fd, UFFDIO_API, &api);
	old = __atomic_exchange_n(&uffds[slot], fd, __ATOMIC_SEQ_CST);
	if (old >= 0)
		close(old);
	return true;
}

static bool op_uffd_close(unsigned int *seed)
{
	int fd = __atomic_exchange_n(&uffds[rnd(seed) % NUFFD], -1, __ATOMIC_SEQ_CST);

	return fd >= 0 && !close(fd);
}

/*
 * The last range registered with each userfaultfd slot: most range ioctls
 * go there, so that they get past the lookup into the page tables.
 */
static struct { unsigned long start, len; } registered[NUFFD];

static bool op_register(unsigned int *seed)
{
	unsigned long start, len;
	uint64_t mode = 1 + rnd(seed) % 7;
	int slot = rnd(seed) % NUFFD;

	pick_range(seed, &start, &len);
	if (chance(seed, 16))
		mode |= 1ULL << (3 + rnd(seed) % 61);
	if (uffd_register(uffds[slot], (void *)start, len, mode, NULL))
		return false;
	registered[slot].start = start;
	registered[slot].len = len;
	return true;
}

static bool op_range_ioctl(unsigned int *seed, enum op op)
{
	unsigned long start, len;
	int slot = rnd(seed) % NUFFD, fd = uffds[slot];
	unsigned int mode = rnd(seed) % 4;
	unsigned long src = (unsigned long)src_buf;

	pick_range(seed, &start, &len);
	if (registered[slot].len && !chance(seed, 3)) {
		/* a page or a few of what this userfaultfd registered last */
		size_t ps = len >= HPAGE_SIZE && !(len % HPAGE_SIZE) ? HPAGE_SIZE :
			    (size_t)getpagesize();
		size_t n = registered[slot].len / ps;

		if (n) {
			start = registered[slot].start + rnd(seed) % n * ps;
			len = (1 + rnd(seed) % 2) * ps;
		}
	}
	/* a source in the arena itself: faults while the kernel copies */
	if (chance(seed, 4))
		src = (unsigned long)win(rnd(seed) % NWIN);
	else if (len > sizeof(src_buf))
		len = sizeof(src_buf);
	switch (op) {
	case OP_UNREGISTER:
		return !uffd_unregister(fd, (void *)start, len);
	case OP_WAKE: {
		struct uffdio_range r = { .start = start, .len = len };

		return !ioctl(fd, UFFDIO_WAKE, &r);
	}
	case OP_COPY: {
		struct uffdio_copy c = {
			.dst = start, .src = src, .len = len, .mode = mode,
		};

		return !ioctl(fd, UFFDIO_COPY, &c);
	}
	case OP_ZEROPAGE: {
		struct uffdio_zeropage z = {
			.range = { .start = start, .len = len }, .mode = mode & 1,
		};

		return !ioctl(fd, UFFDIO_ZEROPAGE, &z);
	}
	case OP_WRITEPROTECT: {
		struct uffdio_writeprotect wp = {
			.range = { .start = start, .len = len }, .mode = mode,
		};

		return !ioctl(fd, UFFDIO_WRITEPROTECT, &wp);
	}
	default: {
		struct uffdio_continue c = {
			.range = { .start = start, .len = len }, .mode = mode,
		};

		return !ioctl(fd, UFFDIO_CONTINUE, &c);
	}
	}
}

static void *fuzzer(void *arg)
{
	unsigned int seed = base_seed + (unsigned int)(long)arg * 7919;
	long n;

	while (!go)
		usleep(1000);
	for (n = 0; !stop && n != count_limit; n++) {
		enum op op = rnd(&seed) % OP_NR;
		bool ok;

		switch (op) {
		case OP_MAP: ok = op_map(&seed); break;
		case OP_UNMAP: ok = op_unmap(&seed); break;
		case OP_MREMAP: ok = op_mremap(&seed); break;
		case OP_MPROTECT: ok = op_mprotect(&seed); break;
		case OP_MADVISE: ok = op_madvise(&seed); break;
		case OP_MIGRATE: ok = !no_migrate && op_migrate(&seed); break;
		case OP_FORK: ok = chance(&seed, 4) && op_fork(&seed); break;
		case OP_KERNEL_ACCESS: ok = op_kernel_access(&seed); break;
		case OP_UFFD_OPEN: ok = op_uffd_open(&seed); break;
		case OP_UFFD_CLOSE: ok = chance(&seed, 2) && op_uffd_close(&seed); break;
		case OP_REGISTER: ok = op_register(&seed); break;
		default: ok = op_range_ioctl(&seed, op); break;
		}
		count(op, ok);
	}
	__atomic_add_fetch(&fuzzers_done, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

static void *toucher(void *arg)
{
	unsigned int seed = base_seed + 104729 * (1 + (unsigned int)(long)arg);

	while (!go)
		usleep(1000);
	while (!stop) {
		touch(&seed, 64);
		usleep(100);
	}
	return NULL;
}

/* Resolve one fault at address a reported by fd: map, un-protect or wake. */
static void resolve(int fd, unsigned long a, uint64_t flags, unsigned int *seed)
{
	unsigned long ps = win_mem[((a - (unsigned long)arena) / WIN_SIZE) % NWIN] >= MEM_HUGETLB ?
			   HPAGE_SIZE : (unsigned long)getpagesize();
	unsigned long start = a & ~(ps - 1);
	struct uffdio_range r = { .start = start, .len = ps };
	int ret;

	if (flags & UFFD_PAGEFAULT_FLAG_WP) {
		struct uffdio_writeprotect wp = { .range = r };

		ret = ioctl(fd, UFFDIO_WRITEPROTECT, &wp);
	} else if (flags & UFFD_PAGEFAULT_FLAG_MINOR) {
		struct uffdio_continue c = { .range = r };

		ret = ioctl(fd, UFFDIO_CONTINUE, &c);
	} else if (chance(seed, 2)) {
		struct uffdio_copy c = { .dst = start, .src = (unsigned long)src_buf, .len = ps };

		ret = ioctl(fd, UFFDIO_COPY, &c);
	} else {
		struct uffdio_zeropage z = { .range = r };

		ret = ioctl(fd, UFFDIO_ZEROPAGE, &z);
	}
	/* mapped by someone else, gone, or the wrong size: just wake */
	if (ret)
		ioctl(fd, UFFDIO_WAKE, &r);
	else
		__atomic_add_fetch(&n_resolved, 1, __ATOMIC_RELAXED);
}

static volatile bool stop_server;

/* Read one message of fd: resolve a fault, close the child's uffd of a fork. */
static void serve(int fd, unsigned int *seed)
{
	struct uffd_msg msg;

	if (read(fd, &msg, sizeof(msg)) != sizeof(msg))
		return;
	if (msg.event == UFFD_EVENT_PAGEFAULT) {
		n_faults++;
		resolve(fd, msg.arg.pagefault.address, msg.arg.pagefault.flags, seed);
		return;
	}
	n_events++;
	/* the child's userfaultfd: its ranges go with it */
	if (msg.event == UFFD_EVENT_FORK)
		close(msg.arg.fork.ufd);
}

static void *server(void *arg)
{
	unsigned int seed = base_seed ^ 0x5eed;
	struct pollfd pfd[NUFFD];
	int i;

	while (!stop_server) {
		for (i = 0; i < NUFFD; i++)
			pfd[i] = (struct pollfd){ .fd = uffds[i], .events = POLLIN };
		if (poll(pfd, NUFFD, 10) <= 0)
			continue;
		for (i = 0; i < NUFFD; i++)
			if (pfd[i].revents & POLLIN)
				serve(pfd[i].fd, &seed);
	}
	return NULL;
}

/* The features UFFDIO_API advertises. */
static uint64_t probe_features(void)
{
	struct uffdio_api api = { 0 };
	int fd = uffd_open_raw(0);

	if (fd >= 0 && uffd_api(fd, 0, &api))
		api.features = 0;
	if (fd >= 0)
		close(fd);
	return api.features;
}

/* Close every userfaultfd: what waits on one is woken, its ranges unregistered. */
static void close_all_uffds(void)
{
	int i, fd;

	for (i = 0; i < NUFFD; i++) {
		fd = __atomic_exchange_n(&uffds[i], -1, __ATOMIC_SEQ_CST);
		if (fd >= 0)
			close(fd);
	}
}

/* The kernel's stacks of all tasks to the console (sysrq-t). */
static void dump_tasks(void)
{
	int fd;

	/* the stacks are KERN_INFO: let them through to the console */
	knob("/proc/sys/kernel/printk", "8", NULL, 0);
	fd = open("/proc/sysrq-trigger", O_WRONLY);
	if (fd >= 0 && write(fd, "t", 1) != 1)
		ksft_print_msg("sysrq: %s\n", strerror(errno));
	if (fd >= 0)
		close(fd);
}

/*
 * Join a thread that must come back by deadline (CLOCK_REALTIME); if it
 * does not, dump the tasks' stacks and exit 3.
 */
static void join_or_die(pthread_t t, const char *who, const struct timespec *deadline)
{
	if (!pthread_timedjoin_np(t, NULL, deadline))
		return;
	ksft_print_msg("a %s thread did not come back within 60 s of the close of every userfaultfd; task stacks on the console\n",
		       who);
	dump_tasks();
	fflush(stdout);
	_exit(3);
}

static void fuzz(unsigned int duration, int nthreads)
{
	pthread_t ft[MAX_THREADS], tt[NTOUCHERS], st;
	struct sigaction sa = { .sa_handler = on_signal };
	struct timespec deadline;
	int i;

	sigaction(SIGBUS, &sa, NULL);
	sigaction(SIGSEGV, &sa, NULL);
	arena = map_aligned(NWIN * WIN_SIZE, HPAGE_SIZE,
			    MAP_PRIVATE | MAP_NORESERVE, -1);
	if (arena == MAP_FAILED || mprotect(arena, NWIN * WIN_SIZE, PROT_NONE))
		ksft_exit_fail_msg("arena: %s\n", strerror(errno));
	memset(src_buf, 0x5a, sizeof(src_buf));
	supported = probe_features();
	pthread_create(&st, NULL, server, NULL);
	for (i = 0; i < NTOUCHERS; i++)
		pthread_create(&tt[i], NULL, toucher, (void *)(long)i);
	for (i = 0; i < nthreads; i++)
		pthread_create(&ft[i], NULL, fuzzer, (void *)(long)i);
	/* every thread has its stack: nothing but the fuzzing maps from now on */
	go = true;
	for (i = 0; i < (int)duration * 10; i++) {
		if (__atomic_load_n(&fuzzers_done, __ATOMIC_SEQ_CST) == nthreads)
			break;
		usleep(100000);
	}
	stop = true;
	/*
	 * Once the userfaultfds are closed, every thread must come back.  The
	 * server still serves faults meanwhile, and a fuzzer may still open
	 * one more userfaultfd before it sees stop: close them twice.
	 */
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 60;
	close_all_uffds();
	for (i = 0; i < nthreads; i++)
		join_or_die(ft[i], "fuzzer", &deadline);
	close_all_uffds();
	for (i = 0; i < NTOUCHERS; i++)
		join_or_die(tt[i], "toucher", &deadline);
	stop_server = true;
	join_or_die(st, "server", &deadline);
	for (i = 0; i < OP_NR; i++)
		ksft_print_msg("%-14s %8lu calls %8lu ok  %6lu/s\n", op_names[i], n_op[i],
			       n_ok[i], n_op[i] / duration);
	ksft_print_msg("touches %lu (%lu signals), faults %lu (%lu resolved), events %lu\n",
		       n_touch, n_touch_sig, n_faults, n_resolved, n_events);
	munmap(arena, NWIN * WIN_SIZE);
}

int main(void)
{
	const char *d = getenv("DURATION"), *s = getenv("SEED"), *c = getenv("COUNT"),
		   *t = getenv("THREADS");
	unsigned int duration = d ? atoi(d) : 10;
	int nthreads = t ? atoi(t) : 2, status, i;
	long free0, rsvd0, pt0, shmem0, free1, rsvd1, pt1, shmem1;
	char thp_scan[32] = "", shmem_thp[64] = "";
	pid_t pid;

	base_seed = s ? strtoul(s, NULL, 0) : (unsigned int)time(NULL);
	if (c)
		count_limit = atol(c);
	if (!duration)
		duration = 1;
	if (nthreads < 1 || nthreads > MAX_THREADS)
		nthreads = 2;
	setvbuf(stdout, NULL, _IOLBF, 0);
	ksft_print_header();
	ksft_set_plan(3);
	ksft_print_msg("SEED=%u DURATION=%u COUNT=%ld THREADS=%d\n", base_seed, duration,
		       count_limit, nthreads);
	if (uffd_claims_of_kernel()->known_broken & SCENARIO(27)) {
		no_migrate = true;
		ksft_print_msg("no page migration: known to oops this kernel under UFFDIO_COPY\n");
	}
	if (uffd_claims_of_kernel()->known_broken & SCENARIO(28)) {
		leaky_mremap = true;
		ksft_print_msg("no mremap of private hugetlb windows: known to leak reservations here\n");
	}
	/* khugepaged scans often, shmem THPs where asked for */
	knob("/sys/kernel/mm/transparent_hugepage/khugepaged/scan_sleep_millisecs", "10",
	     thp_scan, sizeof(thp_scan));
	knob("/sys/kernel/mm/transparent_hugepage/shmem_enabled", "advise", shmem_thp,
	     sizeof(shmem_thp));
	free0 = meminfo("HugePages_Free");
	rsvd0 = meminfo("HugePages_Rsvd");
	vmstat_fold();
	pt0 = meminfo("PageTables");
	shmem0 = meminfo("Shmem");

	pid = fork();
	if (pid < 0)
		ksft_exit_fail_msg("fork: %s\n", strerror(errno));
	if (!pid) {
		fuzz(duration, nthreads);
		fflush(stdout);
		_exit(0);
	}
	/* the fuzzing, 60 s for its threads to come back, and some slack */
	for (i = 0; waitpid(pid, &status, WNOHANG) != pid; i++) {
		if (i == (int)(duration + 90) * 10) {
			ksft_print_msg("the fuzzing process did not finish in %u s; task stacks on the console\n",
				       duration + 90);
			dump_tasks();
			kill(pid, SIGKILL);
		}
		usleep(100000);
	}
	if (thp_scan[0])
		knob("/sys/kernel/mm/transparent_hugepage/khugepaged/scan_sleep_millisecs",
		     thp_scan, NULL, 0);
	/* "always [advise] never ...": restore the bracketed one */
	if (strchr(shmem_thp, '[')) {
		char *b = strchr(shmem_thp, '[') + 1;

		b[strcspn(b, "]")] = 0;
		knob("/sys/kernel/mm/transparent_hugepage/shmem_enabled", b, NULL, 0);
	}
	check(WIFEXITED(status) && !WEXITSTATUS(status),
	      "fuzzing finished, every thread back after the userfaultfds closed (status 0x%x)",
	      status);
	free1 = meminfo("HugePages_Free");
	rsvd1 = meminfo("HugePages_Rsvd");
	if ((free1 != free0 || rsvd1 != rsvd0) && leaky_mremap)
		ksft_test_result_xfail("huge page pool as before: %ld free, %ld reserved (before: %ld, %ld): known to leak here (28)\n",
				       free1, rsvd1, free0, rsvd0);
	else
		check(free1 == free0 && rsvd1 == rsvd0,
		      "huge page pool as before: %ld free, %ld reserved (before: %ld, %ld)",
		      free1, rsvd1, free0, rsvd0);
	/*
	 * Other processes of the guest are idle; allow for their noise, and
	 * for frees the kernel defers (RCU) a few seconds.
	 */
	for (i = 0; i < 50; i++) {
		vmstat_fold();
		pt1 = meminfo("PageTables");
		shmem1 = meminfo("Shmem");
		if (pt1 <= pt0 + 64 && shmem1 <= shmem0 + 1024)
			break;
		usleep(100000);
	}
	check(pt1 <= pt0 + 64 && shmem1 <= shmem0 + 1024,
	      "page tables %ld kB, shmem %ld kB (before: %ld, %ld)", pt1, shmem1, pt0, shmem0);
	return ksft_get_fail_cnt() ? ksft_exit_fail() : ksft_exit_pass();
}
