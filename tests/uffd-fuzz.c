// SPDX-License-Identifier: GPL-2.0
/*
 * A userfaultfd fuzzer.  Fuzzing threads issue random but valid-shaped
 * userfaultfd calls: userfaultfd() with any flags, UFFDIO_API with any
 * feature bits (and, where the kernel claims it, often an asynchronous
 * write-protect uffd: WP_ASYNC, with or without WP_UNPOPULATED, whose
 * registrations are mostly wp alone), REGISTER with any modes, UNREGISTER,
 * WAKE, COPY, ZEROPAGE, WRITEPROTECT, CONTINUE and POISON with any modes,
 * over ranges that are aligned or not, huge-page-misaligned, overlapping,
 * partly or wholly unmapped, and close() of the userfaultfds; PAGEMAP_SCAN
 * of /proc/self/pagemap (and of a forked child's) with random flags
 * (PM_SCAN_WP_MATCHING, PM_SCAN_CHECK_WPASYNC), masks, ranges, vectors
 * (some in the arena itself, some invalid), vec_len and max_pages; mixed
 * with mmap (anon, THP, shmem and hugetlbfs, shared and private, and ramfs
 * files, which only an asynchronous wp uffd can register), unmapping,
 * mremap, mprotect, madvise (DONTNEED, PAGEOUT, REMOVE, FREE, HUGEPAGE,
 * ...), page migration, kernel accesses (read() into the ranges) and fork
 * (children touch and exit) on the same ranges, so that ranges change and
 * descriptors go away under calls in flight.  Toucher threads read and
 * write the ranges (faults, SIGBUS and SIGSEGV are expected) and a server
 * thread resolves the fault messages of every open userfaultfd (COPY,
 * ZEROPAGE, CONTINUE, POISON, un-protect or WAKE) and reads their events.
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
 * fuzzing process is gone (no leak).  And the calls of mainline's 6.4-6.7
 * ABI are held to 6.12: UFFDIO_POISON and PAGEMAP_SCAN fail only with an
 * errno 6.12 has for them, their out fields agree with the result
 * ("updated"; walk_end and the regions: in range, in order, merged, of the
 * categories asked for, no more than max_pages), and no asynchronous uffd
 * ever sends a write-protect fault (its writes must not block).  On a
 * kernel that claims neither (uffd-claims.h), both are still called and
 * must fail as such a kernel does: UFFDIO_POISON with EINVAL (an unknown
 * uffd ioctl), PAGEMAP_SCAN with ENOTTY (a pagemap without ioctls).
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
#include <sys/mount.h>
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
/* A kernel address, and the top of the user address space (uffd-test.h) */
#define KERNEL_ADDR	0xffff888000000000UL
#define USER_TOP	TASK_SIZE_MAX
/* An out field ("updated", walk_end) as the fuzzer leaves it */
#define UNWRITTEN	0x5a5a5a5a5a5aLL
/*
 * A PAGEMAP_SCAN vector of the fuzzer's own: longer than the regions one
 * walk of 6.12 gathers (PM_SCAN_ONE_WALK), so that the walks that copy
 * them out in turn are fuzzed too.
 */
#define VEC_MAX		640
#define MAX_FD		1024
#define MAX_ERRNO	134

static char *arena;
static const struct uffd_claims *claims;
static bool no_migrate;	/* the kernel is known to oops on it (claims, 27) */
/* What the kernel claims of mainline's 6.4-6.7 ABI (uffd-claims.h) */
static bool has_poison, has_async, has_scan;
/* A ramfs mount for file windows only asynchronous wp can register, or "" */
static char ramfs_dir[64];
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
static bool slot_async[NUFFD];	/* advisory: the slot's uffd is WP_ASYNC */
/*
 * Per fd number: whether the uffd open on it is asynchronous, and a count
 * bumped at every open and close of a uffd there, so that the server can
 * tell that a message came from the uffd it looked at.
 */
static bool fd_async[MAX_FD];
static unsigned int fd_gen[MAX_FD];
static uint64_t supported;	/* the features UFFDIO_API advertises */
static int pagemap_self = -1;
/*
 * What the fuzzing process reports to its parent: the checked calls of the
 * 6.4-6.7 ABI and how many broke 6.12's rules.
 */
static struct shared {
	unsigned long calls, bad, printed;
} *shared;
static char src_buf[HPAGE_SIZE] __attribute__((aligned(4096)));

enum op {
	OP_MAP, OP_UNMAP, OP_MREMAP, OP_MPROTECT, OP_MADVISE, OP_MIGRATE,
	OP_FORK, OP_KERNEL_ACCESS, OP_UFFD_OPEN, OP_UFFD_CLOSE, OP_REGISTER,
	OP_UNREGISTER, OP_WAKE, OP_COPY, OP_ZEROPAGE, OP_WRITEPROTECT,
	OP_CONTINUE, OP_POISON, OP_PAGEMAP_SCAN, OP_NR,
};

static const char *const op_names[OP_NR] = {
	"map", "unmap", "mremap", "mprotect", "madvise", "migrate", "fork",
	"kernel-access", "uffd-open", "uffd-close", "register", "unregister",
	"wake", "copy", "zeropage", "writeprotect", "continue", "poison",
	"pagemap-scan",
};

/* Per kind: calls, and calls that succeeded. */
static unsigned long n_op[OP_NR], n_ok[OP_NR];
static unsigned long n_touch, n_touch_sig, n_touch_mce, n_faults, n_events, n_resolved,
	n_poisoned_faults, n_async_opened, n_wp_msgs;
/* The errnos of UFFDIO_POISON and PAGEMAP_SCAN (0: success) */
static unsigned long n_errno[2][MAX_ERRNO];

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

/* A call that broke 6.12's rules: counted for the parent, the first few printed. */
static void violation(const char *fmt, ...)
{
	char msg[300];
	va_list ap;

	__atomic_add_fetch(&shared->bad, 1, __ATOMIC_SEQ_CST);
	if (__atomic_fetch_add(&shared->printed, 1, __ATOMIC_SEQ_CST) >= 20)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ksft_print_msg("not as 6.12: %s\n", msg);
}

static const char *errname(int err)
{
	const char *n = err ? strerrorname_np(err) : "ok";

	return n ? n : "?";
}

/* One checked call of kind k (0: UFFDIO_POISON, 1: PAGEMAP_SCAN) that gave err. */
static void note_errno(int k, int err)
{
	__atomic_add_fetch(&shared->calls, 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&n_errno[k][err >= 0 && err < MAX_ERRNO ? err : 0], 1,
			   __ATOMIC_RELAXED);
}

/* Close a uffd of the fuzzer, so that the server knows that fd went away. */
static void uffd_close(int fd)
{
	if (fd < MAX_FD)
		__atomic_add_fetch(&fd_gen[fd], 1, __ATOMIC_SEQ_CST);
	close(fd);
}

/*
 * UFFDIO_POISON of [start, start + len) on fd, held to 6.12's
 * userfaultfd_poison() and mfill_atomic(): the errnos it has, and
 * "updated": untouched by the checks of the argument before any work
 * (EINVAL) and by what is no uffd of this mm (EBADF, ENOTTY; ESRCH), the
 * length when done, the progress or -EAGAIN with EAGAIN, else -errno.  A
 * kernel that does not claim it fails it as an unknown uffd ioctl
 * (EINVAL) and writes nothing.  Returns the call's success.
 */
static bool do_poison(int fd, unsigned long start, unsigned long len, uint64_t mode,
		      const char *who)
{
	struct uffdio_poison u = {
		.range = { .start = start, .len = len }, .mode = mode, .updated = UNWRITTEN,
	};
	int err = ioctl(fd, UFFDIO_POISON, &u) ? errno : 0;
	int64_t up = u.updated;
	bool ok;

	note_errno(0, err);
	if (!has_poison) {
		ok = (err == EINVAL || err == EBADF || err == ENOTTY) && up == UNWRITTEN;
	} else {
		switch (err) {
		case 0:
			ok = up == (int64_t)len;
			break;
		case EAGAIN:
			ok = up == -EAGAIN || (up > 0 && up < (int64_t)len && !(up % 4096));
			break;
		case EINVAL:
		case EFAULT:
			ok = up == UNWRITTEN || up == -err;
			break;
		case EBADF:
		case ENOTTY:
		case ESRCH:
			ok = up == UNWRITTEN;
			break;
		case ENOENT:
		case ENOMEM:
		case EEXIST:
		case EINTR:
			ok = up == -err;
			break;
		default:
			ok = false;
		}
	}
	if (!ok)
		violation("%s: UFFDIO_POISON 0x%lx+0x%lx mode 0x%llx: %s, updated %lld", who,
			  start, len, (unsigned long long)mode, errname(err), (long long)up);
	return !err;
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
		*start = USER_VA_END - 4096 * (rnd(seed) % 4);
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

/* Any subset of the categories, sparse; now and then a bit 6.12 does not know. */
static uint64_t pick_mask(unsigned int *seed)
{
	uint64_t m = rnd(seed) & rnd(seed) & 0xff;

	if (chance(seed, 40))
		m |= 1ULL << (8 + rnd(seed) % 56);
	return m;
}

/* access_ok() of x86_64 and arm64 (5.10 and 6.12 alike): [p, p + size) up to TASK_SIZE_MAX */
static bool user_range_ok(uint64_t p, uint64_t size)
{
	uint64_t sum = p + size;

	return sum >= p && sum <= USER_TOP;
}

/*
 * The errno of 6.12's pagemap_scan_get_args() for an argument, in its
 * order, or 0 for one that gets to the walk.
 */
static int scan_arg_error(const struct pm_scan_arg *a)
{
	uint64_t size;

	if (a->size != sizeof(*a) || (a->flags & ~(uint64_t)(PM_SCAN_WP_MATCHING |
							   PM_SCAN_CHECK_WPASYNC)) ||
	    ((a->category_inverted | a->category_mask | a->category_anyof_mask |
	      a->return_mask) & ~0xffULL) || a->start % 4096)
		return EINVAL;
	if (!user_range_ok(a->start, a->end - a->start))
		return EFAULT;
	if (!a->vec && a->vec_len)
		return EINVAL;
	if (__builtin_mul_overflow(a->vec_len, sizeof(struct page_region), &size))
		size = ~0ULL;	/* size_mul() saturates */
	if (a->vec && !user_range_ok(a->vec, size))
		return EFAULT;
	return 0;
}

static __thread struct page_region scan_vec[VEC_MAX];

/*
 * PAGEMAP_SCAN of the pagemap fd (of this process, or of a child) with a
 * random argument: flags (PM_SCAN_WP_MATCHING, PM_SCAN_CHECK_WPASYNC, an
 * unknown one), masks, max_pages, a range as pick_range() gives (or the
 * arena, the whole user address space, an empty or reversed range, a
 * kernel address), a vector of this thread's (up to VEC_MAX, or none) or
 * in the arena (where the kernel's copy faults), or an invalid one.
 * Held to 6.12's do_pagemap_scan(): the errno of an invalid argument
 * (scan_arg_error(), with walk_end not written), what a valid one may
 * still fail with (EPERM for PM_SCAN_CHECK_WPASYNC, EFAULT for a vector
 * the kernel cannot write, ESRCH for a child gone, ENOMEM, EINTR), and
 * pm_scan_result_bad() of what a scan into this thread's vector returned.
 * A kernel that does not claim it has no ioctl on pagemap: ENOTTY.
 */
static bool op_pagemap_scan(unsigned int *seed, int fd, bool child, const char *who)
{
	struct pm_scan_arg a = { .size = sizeof(a), .walk_end = UNWRITTEN };
	unsigned long start, len;
	bool own = false, ok;
	char why[200];
	int err, expect, w;
	long n;

	pick_range(seed, &start, &len);
	switch (rnd(seed) % 32) {
	case 0:
	case 1:
		start = (unsigned long)arena;
		len = NWIN * WIN_SIZE;
		break;
	case 2:
		start = 0;
		len = USER_TOP;
		break;
	case 3:
		len = 0;
		break;
	case 4:			/* end below start */
		len = -4096UL * (1 + rnd(seed) % 16);
		break;
	case 5:
		start = KERNEL_ADDR;
		len = 4096;
		break;
	}
	a.start = start;
	a.end = start + len;
	switch (rnd(seed) % 20) {
	case 0 ... 6:
		break;
	case 7 ... 12:
		a.flags = PM_SCAN_WP_MATCHING;
		break;
	case 13 ... 15:
		a.flags = PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC;
		break;
	case 16 ... 18:
		a.flags = PM_SCAN_CHECK_WPASYNC;
		break;
	default:
		a.flags = 1ULL << (2 + rnd(seed) % 62);
	}
	if ((a.flags & PM_SCAN_WP_MATCHING) && !chance(seed, 3)) {
		/* what a write tracker asks for (6.12's fast path) */
		a.category_mask = a.return_mask = PAGE_IS_WRITTEN;
	} else {
		a.category_mask = pick_mask(seed);
		a.category_anyof_mask = chance(seed, 3) ? pick_mask(seed) : 0;
		a.category_inverted = chance(seed, 4) ? pick_mask(seed) : 0;
		a.return_mask = chance(seed, 2) ? 0xff : pick_mask(seed);
	}
	switch (rnd(seed) % 4) {
	case 0:
		a.max_pages = 1 + rnd(seed) % 8;
		break;
	case 1:
		a.max_pages = 1 + rnd(seed) % 2048;
		break;
	}
	switch (rnd(seed) % 32) {
	case 0 ... 21:
		own = true;
		a.vec = (unsigned long)scan_vec;
		a.vec_len = chance(seed, 2) ? rnd(seed) % 9 : rnd(seed) % (VEC_MAX + 1);
		break;
	case 22 ... 24:
		break;		/* no vector: nothing is reported */
	case 25:
		a.vec_len = 1 + rnd(seed) % 8;	/* a length without a vector */
		break;
	case 26 ... 29:
		/* in a window of the arena, all of it */
		a.vec_len = 1 + rnd(seed) % 64;
		w = rnd(seed) % NWIN;
		a.vec = (unsigned long)win(w) +
			rnd(seed) % ((WIN_SIZE - a.vec_len * sizeof(struct page_region)) / 8) * 8;
		break;
	case 30:
		a.vec = KERNEL_ADDR;
		a.vec_len = 1;
		break;
	default:		/* its size overflows */
		a.vec = (unsigned long)scan_vec;
		a.vec_len = ~0ULL / sizeof(struct page_region) + 1;
	}
	if (chance(seed, 40))
		a.size = chance(seed, 2) ? 0 : sizeof(a) + (chance(seed, 2) ? 8 : -8);
	expect = scan_arg_error(&a);
	n = ioctl(fd, PAGEMAP_SCAN, &a);
	err = n < 0 ? errno : 0;
	note_errno(1, err);
	if (!has_scan)
		ok = err == ENOTTY && a.walk_end == UNWRITTEN;
	else if (err == ESRCH)		/* the child's mm is gone: first of all */
		ok = child && a.walk_end == UNWRITTEN;
	else if (expect)
		ok = err == expect && a.walk_end == UNWRITTEN;
	else
		ok = !err || (err == EPERM && (a.flags & PM_SCAN_CHECK_WPASYNC)) ||
		     (err == EFAULT && !own) || err == ENOMEM || err == EINTR;
	if (!ok) {
		violation("%s: PAGEMAP_SCAN 0x%llx-0x%llx flags 0x%llx masks 0x%llx/0x%llx/0x%llx/0x%llx"
			  " vec 0x%llx/%llu max_pages %llu size %llu: %s (expected %s), walk_end 0x%llx",
			  who, (unsigned long long)a.start, (unsigned long long)a.end,
			  (unsigned long long)a.flags, (unsigned long long)a.category_mask,
			  (unsigned long long)a.category_anyof_mask,
			  (unsigned long long)a.category_inverted,
			  (unsigned long long)a.return_mask, (unsigned long long)a.vec,
			  (unsigned long long)a.vec_len, (unsigned long long)a.max_pages,
			  (unsigned long long)a.size, errname(err),
			  !has_scan ? "ENOTTY" : errname(expect), (unsigned long long)a.walk_end);
		return !err;
	}
	if (!err && own && pm_scan_result_bad(&a, scan_vec, n, why, sizeof(why)))
		violation("%s: PAGEMAP_SCAN 0x%llx-0x%llx flags 0x%llx max_pages %llu vec_len %llu: %s",
			  who, (unsigned long long)a.start, (unsigned long long)a.end,
			  (unsigned long long)a.flags, (unsigned long long)a.max_pages,
			  (unsigned long long)a.vec_len, why);
	return !err;
}

/*
 * A file of ramfs, shared or private: page cache that is neither shmem nor
 * hugetlbfs, which only an asynchronous wp uffd registers (wp alone).
 */
static bool map_ramfs(unsigned int *seed, int w, size_t len)
{
	char path[96];
	bool shared = chance(seed, 2);
	void *p = MAP_FAILED;
	int fd;

	snprintf(path, sizeof(path), "%s/w%d-%u", ramfs_dir, w, rnd(seed));
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return false;
	unlink(path);
	if (!ftruncate(fd, len))
		p = mmap(win(w), len, PROT_READ | PROT_WRITE,
			 (shared ? MAP_SHARED : MAP_PRIVATE) | MAP_FIXED, fd, 0);
	close(fd);
	/* for the page size, a file of small pages */
	win_mem[w] = shared ? MEM_SHMEM : MEM_SHMEM_PRIVATE;
	return p != MAP_FAILED;
}

/* Map a window afresh: a random memory type, 1-4 MiB at its start. */
static bool op_map(unsigned int *seed)
{
	int w = rnd(seed) % NWIN, mem = rnd(seed) % (MEM_NR + 2), fd = -1, flags;
	size_t len = (1 + rnd(seed) % 2) * HPAGE_SIZE * (chance(seed, 2) ? 1 : 2);
	void *p;

	win_len[w] = len;
	if (mem == MEM_NR + 1) {	/* ramfs, where it could be mounted */
		if (ramfs_dir[0])
			return map_ramfs(seed, w, len);
		mem = MEM_ANON;
	}
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

static void on_signal(int sig, siginfo_t *si, void *uc)
{
	if (!touch_armed)
		_exit(100 + sig);
	/* a poisoned pte (UFFDIO_POISON): as a memory error would */
	if (sig == SIGBUS && si->si_code == BUS_MCEERR_AR)
		__atomic_add_fetch(&n_touch_mce, 1, __ATOMIC_RELAXED);
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
	char path[64];
	int status, fd, i;
	pid_t pid;

	pid = syscall(__NR_clone, CLONE_FILES | SIGCHLD, 0, NULL, NULL, 0);
	if (pid < 0)
		return false;
	if (!pid) {
		alarm(5);
		touch(&child_seed, 16);
		_exit(0);
	}
	/*
	 * Half the time, scan the child's pagemap while it touches and exits:
	 * its vmas registered through a fork event have the child's uffd,
	 * which the server closes meanwhile.
	 */
	snprintf(path, sizeof(path), "/proc/%d/pagemap", pid);
	fd = chance(seed, 2) ? open(path, O_RDONLY | O_CLOEXEC) : -1;
	for (i = 0; fd >= 0 && i < 3; i++)
		count(OP_PAGEMAP_SCAN, op_pagemap_scan(seed, fd, true, "child's pagemap"));
	if (fd >= 0)
		close(fd);
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
	bool async = false;
	uint64_t want;

	flags |= flag_set[rnd(seed) % 4];
	fd = syscall(__NR_userfaultfd, flags);
	if (fd < 0)
		return false;
	/* any subset of what the kernel has, or of the 17 bits mainline knows */
	api.features = rnd(seed) & (chance(seed, 4) ? 0x1ffff : supported);
	if (chance(seed, 3))
		api.features &= ~(uint64_t)UFFD_FEATURE_SIGBUS;
	/* a third of them asynchronous wp, where claimed (WP_UNPOPULATED or not) */
	if (has_async && chance(seed, 3)) {
		api.features |= UFFD_FEATURE_WP_ASYNC;
		api.features &= ~(uint64_t)UFFD_FEATURE_WP_UNPOPULATED;
		if (chance(seed, 2))
			api.features |= UFFD_FEATURE_WP_UNPOPULATED;
	}
	if (chance(seed, 16))
		api.features |= 1ULL << 63;
	if (chance(seed, 16))
		api.api = rnd(seed);
	want = api.features;
	if (!ioctl(fd, UFFDIO_API, &api)) {
		async = want & UFFD_FEATURE_WP_ASYNC;
	} else if (errno != EINVAL ||
		   ioctl(fd, UFFDIO_API, &(struct uffdio_api){ .api = UFFD_API })) {
		close(fd);
		return false;
	}
	if (chance(seed, 8))	/* a second UFFDIO_API is EINVAL */
		ioctl(fd, UFFDIO_API, &api);
	if (fd < MAX_FD) {
		fd_async[fd] = async;
		__atomic_add_fetch(&fd_gen[fd], 1, __ATOMIC_SEQ_CST);
	}
	if (async)
		__atomic_add_fetch(&n_async_opened, 1, __ATOMIC_RELAXED);
	slot_async[slot] = async;
	old = __atomic_exchange_n(&uffds[slot], fd, __ATOMIC_SEQ_CST);
	if (old >= 0)
		uffd_close(old);
	return true;
}

static bool op_uffd_close(unsigned int *seed)
{
	int fd = __atomic_exchange_n(&uffds[rnd(seed) % NUFFD], -1, __ATOMIC_SEQ_CST);

	if (fd < 0)
		return false;
	uffd_close(fd);
	return true;
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
	/* an asynchronous wp uffd is mostly for wp alone, on any memory */
	if (slot_async[slot] && !chance(seed, 3))
		mode = UFFDIO_REGISTER_MODE_WP;
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
	case OP_POISON:
		/* DONTWAKE or not; now and then an unknown mode bit */
		return do_poison(fd, start, len, chance(seed, 8) ? 1ULL << (1 + rnd(seed) % 63) :
				 rnd(seed) % 2, "fuzzer");
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
		case OP_PAGEMAP_SCAN:
			ok = op_pagemap_scan(&seed, pagemap_self, false, "fuzzer");
			break;
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
	} else if (has_poison && chance(seed, 6)) {
		/* the page is lost: the faulting access gets SIGBUS */
		ret = !do_poison(fd, start, ps, 0, "server");
		if (!ret)
			n_poisoned_faults++;
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

/*
 * Read one message of fd: resolve a fault, close the child's uffd of a fork.
 * A write-protect fault from an asynchronous uffd (open on fd all along,
 * gen the count of fd_gen[fd] when the server looked) is a write that
 * blocked, which 6.12 never lets one do.
 */
static void serve(int fd, unsigned int gen, unsigned int *seed)
{
	struct uffd_msg msg;

	if (read(fd, &msg, sizeof(msg)) != sizeof(msg))
		return;
	if (msg.event == UFFD_EVENT_PAGEFAULT && (msg.arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WP) &&
	    fd < MAX_FD && fd_async[fd] && __atomic_load_n(&fd_gen[fd], __ATOMIC_SEQ_CST) == gen) {
		n_wp_msgs++;
		violation("a write-protect fault at 0x%llx from an asynchronous uffd",
			  (unsigned long long)msg.arg.pagefault.address);
	}
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
	unsigned int gen[NUFFD];
	int i, fd;

	while (!stop_server) {
		for (i = 0; i < NUFFD; i++) {
			fd = __atomic_load_n(&uffds[i], __ATOMIC_SEQ_CST);
			gen[i] = fd >= 0 && fd < MAX_FD ?
				 __atomic_load_n(&fd_gen[fd], __ATOMIC_SEQ_CST) : 0;
			pfd[i] = (struct pollfd){ .fd = fd, .events = POLLIN };
		}
		if (poll(pfd, NUFFD, 10) <= 0)
			continue;
		for (i = 0; i < NUFFD; i++)
			if (pfd[i].revents & POLLIN)
				serve(pfd[i].fd, gen[i], &seed);
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
			uffd_close(fd);
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
	struct sigaction sa = { .sa_sigaction = on_signal, .sa_flags = SA_SIGINFO };
	struct timespec deadline;
	char line[512];
	int i, k, e;

	sigaction(SIGBUS, &sa, NULL);
	sigaction(SIGSEGV, &sa, NULL);
	arena = map_aligned(NWIN * WIN_SIZE, HPAGE_SIZE,
			    MAP_PRIVATE | MAP_NORESERVE, -1);
	if (arena == MAP_FAILED || mprotect(arena, NWIN * WIN_SIZE, PROT_NONE))
		ksft_exit_fail_msg("arena: %s\n", strerror(errno));
	memset(src_buf, 0x5a, sizeof(src_buf));
	supported = probe_features();
	pagemap_self = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (pagemap_self < 0)
		ksft_exit_fail_msg("/proc/self/pagemap: %s\n", strerror(errno));
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
	ksft_print_msg("touches %lu (%lu signals, %lu of them poison), faults %lu (%lu resolved,"
		       " %lu by UFFDIO_POISON), events %lu\n", n_touch, n_touch_sig, n_touch_mce,
		       n_faults, n_resolved, n_poisoned_faults, n_events);
	ksft_print_msg("asynchronous wp uffds opened %lu, wp fault messages from them %lu\n",
		       n_async_opened, n_wp_msgs);
	for (k = 0; k < 2; k++) {
		int len = snprintf(line, sizeof(line), "%s errnos:",
				   k ? "PAGEMAP_SCAN" : "UFFDIO_POISON");

		for (e = 0; e < MAX_ERRNO; e++)
			if (n_errno[k][e] && len < (int)sizeof(line))
				len += snprintf(line + len, sizeof(line) - len, " %s %lu",
						errname(e), n_errno[k][e]);
		ksft_print_msg("%s\n", line);
	}
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
	unsigned long calls, bad;
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
	ksft_set_plan(4);
	ksft_print_msg("SEED=%u DURATION=%u COUNT=%ld THREADS=%d\n", base_seed, duration,
		       count_limit, nthreads);
	claims = uffd_claims_of_kernel();
	has_poison = claims->features & FEAT(14);
	has_async = claims->features & FEAT(15);
	has_scan = claims->pagemap_scan;
	ksft_print_msg("'%s' claims: UFFDIO_POISON %s, WP_ASYNC %s, PAGEMAP_SCAN %s\n", claims->ref,
		       has_poison ? "yes" : "no (must be EINVAL)", has_async ? "yes" : "no",
		       has_scan ? "yes" : "no (must be ENOTTY)");
	shared = mmap(NULL, sizeof(*shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		      -1, 0);
	if (shared == MAP_FAILED)
		ksft_exit_fail_msg("mmap: %s\n", strerror(errno));
	/* ramfs: file memory that is not shmem (asynchronous wp registers it) */
	snprintf(ramfs_dir, sizeof(ramfs_dir), "/tmp/uffd-fuzz-ramfs-XXXXXX");
	if (!mkdtemp(ramfs_dir)) {
		ksft_print_msg("no ramfs windows: mkdtemp: %s\n", strerror(errno));
		ramfs_dir[0] = 0;
	} else if (mount("ramfs", ramfs_dir, "ramfs", 0, "mode=0700")) {
		ksft_print_msg("no ramfs windows: mount: %s\n", strerror(errno));
		rmdir(ramfs_dir);
		ramfs_dir[0] = 0;
	}
	if (claims->known_broken & SCENARIO(27)) {
		no_migrate = true;
		ksft_print_msg("no page migration: known to oops this kernel under UFFDIO_COPY\n");
	}
	if (claims->known_broken & SCENARIO(28)) {
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
	if (ramfs_dir[0]) {
		umount2(ramfs_dir, MNT_DETACH);
		rmdir(ramfs_dir);
	}
	check(WIFEXITED(status) && !WEXITSTATUS(status),
	      "fuzzing finished, every thread back after the userfaultfds closed (status 0x%x)",
	      status);
	calls = __atomic_load_n(&shared->calls, __ATOMIC_SEQ_CST);
	bad = __atomic_load_n(&shared->bad, __ATOMIC_SEQ_CST);
	check(!bad, "UFFDIO_POISON and PAGEMAP_SCAN %s: %lu calls, %lu not so",
	      has_poison || has_scan ? "as 6.12 (errnos, out fields, no wp message from an"
				       " asynchronous uffd)" : "EINVAL and ENOTTY, as claimed",
	      calls, bad);
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
