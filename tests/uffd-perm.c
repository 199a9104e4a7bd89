// SPDX-License-Identifier: GPL-2.0
/*
 * Permissions: an unprivileged userfaultfd user (nobody, no capabilities)
 * gets no access to memory that it could not get without userfaultfd.
 *
 * 1. MINOR/UFFDIO_CONTINUE maps only what the mapping may map: a MAP_SHARED
 *    mapping of a file opened read-only or of a write-sealed memfd cannot
 *    be registered (EPERM), and a registered one keeps F_SEAL_WRITE away; in
 *    a MAP_PRIVATE one CONTINUE maps the page read-only and a write copies
 *    it; a PROT_NONE or PROT_READ range stays so (CONTINUE_MODE_WP too); a
 *    hole or a page beyond EOF maps nothing.
 *    UFFDIO_COPY into a MAP_PRIVATE mapping leaves the file alone.
 * 2. Write-protect never lets a write through to a page the mapping could
 *    not write: un-protect in a PROT_READ range, of page cache pages (and
 *    markers) in a MAP_PRIVATE mapping, of a page COW-shared with a child;
 *    COPY_MODE_WP into a PROT_READ range keeps its wp bit (SCENARIOS 8).
 *
 * Every check runs in a child that became nobody, with
 * vm.unprivileged_userfaultfd at 1, with a plain userfaultfd and again with
 * UFFD_USER_MODE_ONLY where the kernel claims it.  The userfaultfd has
 * UFFD_FEATURE_SIGBUS: a uffd fault is SIGBUS, which the checks tell from
 * SIGSEGV (no access), and no fault ever waits.  Files are created by root
 * in tmpfs (/dev/shm) or hugetlbfs (/mnt/huge), write-sealed memfds by
 * nobody: 3 pages, page 0 all 'A', page 1 all 'B', page 2 a hole; a 4th
 * page is mapped beyond EOF where said.
 */
#include <setjmp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>

#include "uffd-test.h"

#define NPAGES		3
#define SHM_FILE	"/dev/shm/uffd-perm"
#define HUGE_FILE	"/mnt/huge/uffd-perm"
#define MEM(m)		(1u << (m))
#define FILE_MEMS	(MEM(MEM_SHMEM) | MEM(MEM_SHMEM_PRIVATE) | MEM(MEM_HUGETLB) | \
			 MEM(MEM_HUGETLB_PRIVATE))
#define SHARED_MEMS	(MEM(MEM_SHMEM) | MEM(MEM_HUGETLB))
#define PRIVATE_FILE_MEMS (MEM(MEM_SHMEM_PRIVATE) | MEM(MEM_HUGETLB_PRIVATE))

static const struct uffd_claims *claims;

/* The file of a test; nobody opens root's O_RDWR where it may. */
enum file_kind {
	F_RO,		/* root's, 0644, filled: nobody opens it O_RDONLY */
	F_SECRET,	/* root's, 0600, filled */
	F_RW,		/* root's, 0666, filled */
	F_EMPTY,	/* root's, 0666, holes only */
	F_SEALED,	/* nobody's memfd, filled, then F_SEAL_WRITE */
};

struct job;

struct test {
	int nr;			/* shared/SCENARIOS.md, for XFAIL; or 0 */
	const char *name;
	bool (*run)(struct job *j);
	unsigned int mems;	/* MEM() of the memory types it applies to */
	unsigned int mode;	/* CLAIM_* it needs on the memory type */
	enum file_kind file;
	unsigned int opt;	/* KEPT, ONCE */
};

#define KEPT	1	/* root finds its file unchanged afterwards */
#define ONCE	2	/* a premise: once, not per flag of userfaultfd() */

struct job {
	const struct test *t;
	enum uffd_mem mem;
	int flags;		/* of userfaultfd(): 0 or UFFD_USER_MODE_ONLY */
	const char *path;	/* root's file, or NULL */
	int fd;			/* nobody's memfd, or -1 */
	size_t ps;		/* page size */
};

/* Why the check failed: the first reason, written by the child to the pipe. */
static char why[256];

static bool bad(const char *fmt, ...)
{
	va_list ap;

	if (!why[0]) {
		va_start(ap, fmt);
		vsnprintf(why, sizeof(why), fmt, ap);
		va_end(ap);
	}
	return false;
}

static sigjmp_buf touch_jmp;

static void on_fault(int sig)
{
	siglongjmp(touch_jmp, sig);
}

/*
 * Read *p into *got, or write c at p when got is NULL: 0, or the signal the
 * access raised.  Outside of touch() a fault kills the child.
 */
static int touch(volatile char *p, char c, char *got)
{
	struct sigaction sa = { .sa_handler = on_fault }, dfl = { .sa_handler = SIG_DFL };
	int sig;

	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
	sig = sigsetjmp(touch_jmp, 1);
	if (!sig) {
		if (got)
			*got = *p;
		else
			*p = c;
	}
	sigaction(SIGSEGV, &dfl, NULL);
	sigaction(SIGBUS, &dfl, NULL);
	return sig;
}

static const char *sig_name(int sig)
{
	return sig == SIGSEGV ? "SIGSEGV" : sig == SIGBUS ? "SIGBUS (a uffd fault)" :
	       sig ? "a signal" : "no signal";
}

/* A read (got) or a write of c at p raises want (0: none). */
static bool access_is(volatile char *p, char c, char *got, int want, const char *what)
{
	int sig = touch(p, c, got);

	return sig == want ||
	       bad("%s: %s, not %s", what, sig_name(sig), sig_name(want));
}

/* The len bytes at p are all c (read without a fault). */
static bool bytes_are(const char *p, size_t len, char c, const char *what)
{
	size_t i;
	char c0;

	if (!access_is((char *)p, 0, &c0, 0, what))
		return false;
	for (i = 0; i < len; i++)
		if (p[i] != c)
			return bad("%s: byte %zu is 0x%02x, not 0x%02x", what, i,
				   (unsigned char)p[i], (unsigned char)c);
	return true;
}

/* A new fd of the job's file: root's opened O_RDWR (O_RDONLY if 0644), or the memfd. */
static int open_fd(struct job *j)
{
	int fd = j->fd >= 0 ? dup(j->fd) :
		 open(j->path, (j->t->file == F_RO ? O_RDONLY : O_RDWR) | O_CLOEXEC);

	return fd >= 0 ? fd : (bad("open: %s", strerror(errno)), -1);
}

/* Page idx of the job's file, read with pread(), is all c. */
static bool file_is(struct job *j, size_t idx, char c)
{
	char *buf = malloc(j->ps), what[64];
	int fd = open_fd(j);
	bool ok;

	snprintf(what, sizeof(what), "page %zu of the file", idx);
	if (!buf || fd < 0 || pread(fd, buf, j->ps, idx * j->ps) != (ssize_t)j->ps)
		ok = bad("pread: %s", strerror(errno));
	else
		ok = bytes_are(buf, j->ps, c, what);
	if (fd >= 0)
		close(fd);
	free(buf);
	return ok;
}

static bool file_unchanged(struct job *j)
{
	return file_is(j, 0, 'A') && file_is(j, 1, 'B') && file_is(j, 2, 0);
}

static bool present(void *p)
{
	return pagemap(p) & PM_PRESENT;
}

/* The job's memory, len bytes with prot: anon or its file, MAP_SHARED for the shared types. */
static char *map_mem(struct job *j, int prot, size_t len)
{
	int fd = j->mem == MEM_ANON ? -1 : open_fd(j);
	char *p;

	if (j->mem != MEM_ANON && fd < 0)
		return NULL;
	p = mmap(NULL, len, prot, fd < 0 ? MAP_PRIVATE | MAP_ANONYMOUS :
		 mem_is_shared(j->mem) ? MAP_SHARED : MAP_PRIVATE, fd, 0);
	if (fd >= 0)
		close(fd);
	if (p == MAP_FAILED)
		return bad("mmap: %s", strerror(errno)), NULL;
	return p;
}

/* A userfaultfd of the job's flags with UFFD_FEATURE_SIGBUS; -1 after bad(). */
static int uffd_new(struct job *j)
{
	int fd = uffd_open_raw(j->flags), ret;

	if (fd < 0)
		return bad("userfaultfd(0x%x): %s", j->flags, strerror(errno)), -1;
	ret = uffd_api(fd, UFFD_FEATURE_SIGBUS, NULL);
	if (ret)
		return bad("UFFDIO_API: %s", strerror(-ret)), -1;
	return fd;
}

/* A new userfaultfd with [p, p+len) registered in mode; -1 after bad(). */
static int uffd_on(struct job *j, void *p, size_t len, uint64_t mode, uint64_t *ioctls)
{
	int fd = uffd_new(j), ret;

	if (fd < 0)
		return -1;
	ret = uffd_register(fd, p, len, mode, ioctls);
	if (ret)
		return bad("UFFDIO_REGISTER(0x%llx): %s", (unsigned long long)mode,
			   strerror(-ret)), -1;
	return fd;
}

/* UFFDIO_CONTINUE of [p, p+len): 0 or -errno; the mapped field in *mapped. */
static int cont(int uffd, void *p, size_t len, int64_t *mapped)
{
	struct uffdio_continue c = {
		.range = { .start = (unsigned long)p, .len = len },
	};
	int ret = ioctl(uffd, UFFDIO_CONTINUE, &c) ? -errno : 0;

	if (mapped)
		*mapped = c.mapped;
	return ret;
}

static bool cont_ok(int uffd, void *p, size_t len)
{
	int ret = cont(uffd, p, len, NULL);

	return !ret || bad("UFFDIO_CONTINUE: %s", strerror(-ret));
}

static bool wp(int uffd, void *p, size_t len, bool on)
{
	int ret = uffd_wp(uffd, p, len, on);

	return !ret || bad("UFFDIO_WRITEPROTECT(%s): %s", on ? "wp" : "un-protect",
			   strerror(-ret));
}

static bool mprot(void *p, size_t len, int prot)
{
	return !mprotect(p, len, prot) || bad("mprotect(%d): %s", prot, strerror(errno));
}

/*
 * 1: a MAP_SHARED mapping of a file opened O_RDONLY, or of a write-sealed
 * memfd, cannot be registered.
 */
static bool t_ro_shared(struct job *j)
{
	int no = j->fd >= 0 ? EPERM : EACCES, uffd, ret, fd;
	size_t len = NPAGES * j->ps;
	unsigned int m;
	char *p;

	fd = open_fd(j);
	if (fd < 0)
		return false;
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (p != MAP_FAILED || errno != no)
		return bad("mmap(PROT_WRITE, MAP_SHARED): %s, not %s",
			   p != MAP_FAILED ? "mapped" : strerror(errno), strerror(no));
	p = map_mem(j, PROT_READ, len);
	uffd = p ? uffd_new(j) : -1;
	if (uffd < 0)
		return false;
	if (!mprotect(p, len, PROT_READ | PROT_WRITE) || errno != EACCES)
		return bad("mprotect(PROT_WRITE): %s, not EACCES", strerror(errno));
	/* CLAIM_MISSING, _WP, _MINOR are UFFDIO_REGISTER_MODE_MISSING, _WP, _MINOR */
	for (m = CLAIM_MISSING; m <= CLAIM_MINOR; m <<= 1) {
		ret = claims->modes[j->mem] & m ? uffd_register(uffd, p, len, m, NULL) : -EPERM;
		if (ret != -EPERM)
			return bad("UFFDIO_REGISTER(0x%x): %s, not EPERM", m, strerror(-ret));
	}
	if (claims->modes[j->mem] & CLAIM_MINOR) {
		ret = cont(uffd, p, j->ps, NULL);
		if (ret != -ENOENT)
			return bad("UFFDIO_CONTINUE of an unregistered range: %s, not ENOENT",
				   strerror(-ret));
	}
	return !present(p) || bad("page 0 is mapped");
}

/*
 * 1: MAP_PRIVATE of a file opened O_RDONLY or of a write-sealed memfd:
 * CONTINUE maps the file's page, a write copies it.
 */
static bool t_ro_private(struct job *j)
{
	size_t len = NPAGES * j->ps;
	uint64_t ioctls = 0;
	char *p = map_mem(j, PROT_READ | PROT_WRITE, len), c;
	int uffd = p ? uffd_on(j, p, len, UFFDIO_REGISTER_MODE_MINOR, &ioctls) : -1;

	if (uffd < 0)
		return false;
	if (!(ioctls & IOC_CONTINUE))
		return bad("REGISTER's ioctls 0x%llx lack CONTINUE", (unsigned long long)ioctls);
	return (!present(p) || bad("page 0 mapped before CONTINUE")) &&
	       cont_ok(uffd, p, j->ps) &&
	       (present(p) || bad("page 0 not mapped by CONTINUE")) &&
	       bytes_are(p, j->ps, 'A', "page 0 after CONTINUE") &&
	       access_is(p + 1, 'z', NULL, 0, "a write to page 0") &&
	       (p[1] == 'z' || bad("the write to page 0 is lost")) &&
	       file_is(j, 0, 'A') &&
	       access_is(p + j->ps, 0, &c, SIGBUS, "a read of page 1 (minor fault)") &&
	       file_is(j, 1, 'B');
}

/* 1: F_SEAL_WRITE waits for a registered MAP_SHARED PROT_READ mapping to go. */
static bool t_seal_busy(struct job *j)
{
	size_t len = NPAGES * j->ps;
	char *p = mmap(NULL, len, PROT_READ, MAP_SHARED, j->fd, 0);
	int uffd = p != MAP_FAILED ? uffd_on(j, p, len, UFFDIO_REGISTER_MODE_MISSING, NULL) : -1;

	if (uffd < 0)
		return bad("mmap: %s", strerror(errno));
	if (!fcntl(j->fd, F_ADD_SEALS, F_SEAL_WRITE) || errno != EBUSY)
		return bad("F_SEAL_WRITE with a registered mapping: %s, not EBUSY",
			   strerror(errno));
	munmap(p, len);
	return !fcntl(j->fd, F_ADD_SEALS, F_SEAL_WRITE) ||
	       bad("F_SEAL_WRITE after munmap: %s", strerror(errno));
}

/* 1: nobody can neither open nor map a 0600 root file. */
static bool t_secret(struct job *j)
{
	int fd = open(j->path, O_RDONLY | O_CLOEXEC);

	if (fd >= 0 || errno != EACCES)
		return bad("open(O_RDONLY) of a 0600 root file: %s, not EACCES",
			   fd >= 0 ? "opened" : strerror(errno));
	fd = open(j->path, O_RDWR | O_CLOEXEC);
	if (fd >= 0 || errno != EACCES)
		return bad("open(O_RDWR) of a 0600 root file: %s, not EACCES",
			   fd >= 0 ? "opened" : strerror(errno));
	return true;
}

/*
 * 1: CONTINUE into PROT_NONE (page 0) and PROT_READ (page 1, of a file
 * opened O_RDWR) maps pages no write reaches, page 0 no read either.
 */
static bool t_prot(struct job *j)
{
	size_t len = NPAGES * j->ps;
	char *p = map_mem(j, PROT_READ, len), c;
	int uffd = p ? uffd_on(j, p, len, UFFDIO_REGISTER_MODE_MINOR, NULL) : -1;

	return uffd >= 0 && mprot(p, j->ps, PROT_NONE) && cont_ok(uffd, p, j->ps) &&
	       cont_ok(uffd, p + j->ps, j->ps) &&
	       access_is(p, 0, &c, SIGSEGV, "a read of the PROT_NONE page") &&
	       access_is(p, 'z', NULL, SIGSEGV, "a write to the PROT_NONE page") &&
	       bytes_are(p + j->ps, j->ps, 'B', "the PROT_READ page") &&
	       access_is(p + j->ps, 'z', NULL, SIGSEGV, "a write to the PROT_READ page") &&
	       mprot(p, j->ps, PROT_READ) &&
	       bytes_are(p, j->ps, 'A', "page 0 after mprotect(PROT_READ)") &&
	       access_is(p, 'z', NULL, SIGSEGV, "a write to page 0 after mprotect(PROT_READ)");
}

/* Page 0 written: the file has the write through a shared mapping only. */
static bool write_reached(struct job *j, char *p)
{
	bool ok;

	if (!mem_is_shared(j->mem))
		return file_unchanged(j);
	memset(p, 'z', j->ps);
	ok = file_is(j, 0, 'z');
	memset(p, 'A', j->ps);
	return ok && file_unchanged(j);
}

/*
 * 1: CONTINUE_MODE_WP into a PROT_READ range, then mprotect(PROT_READ |
 * PROT_WRITE): the first write is a wp fault; after un-protect a write
 * reaches the file only through a shared mapping.
 */
static bool t_cont_wp(struct job *j)
{
	size_t len = NPAGES * j->ps;
	char *p = map_mem(j, PROT_READ | PROT_WRITE, len);
	int uffd = p ? uffd_on(j, p, len, UFFDIO_REGISTER_MODE_MINOR |
			      UFFDIO_REGISTER_MODE_WP, NULL) : -1;
	struct uffdio_continue c = {
		.range = { .start = (unsigned long)p, .len = j->ps },
		.mode = UFFDIO_CONTINUE_MODE_WP,
	};

	if (uffd < 0 || !mprot(p, j->ps, PROT_READ))
		return false;
	if (ioctl(uffd, UFFDIO_CONTINUE, &c))
		return bad("UFFDIO_CONTINUE_MODE_WP: %s", strerror(errno));
	return mprot(p, j->ps, PROT_READ | PROT_WRITE) &&
	       bytes_are(p, j->ps, 'A', "page 0 after CONTINUE") &&
	       access_is(p, 'z', NULL, SIGBUS, "the first write after mprotect(RW)") &&
	       bytes_are(p, j->ps, 'A', "page 0 after the wp fault") && file_unchanged(j) &&
	       wp(uffd, p, j->ps, false) &&
	       access_is(p, 'z', NULL, 0, "a write after un-protect") &&
	       (p[0] == 'z' || bad("the write is lost")) && write_reached(j, p);
}

/* CONTINUE of page idx fails with want; nothing is mapped. */
static bool cont_fails(int uffd, char *p, size_t ps, size_t idx, int want, const char *what)
{
	int64_t mapped = 0;
	int ret = cont(uffd, p + idx * ps, ps, &mapped);

	if (ret != -want)
		return bad("UFFDIO_CONTINUE %s: %s, not %s", what, strerror(-ret),
			   strerror(want));
	if (mapped != -want)
		return bad("UFFDIO_CONTINUE %s: mapped %lld, not %d", what,
			   (long long)mapped, -want);
	return !present(p + idx * ps) || bad("UFFDIO_CONTINUE %s mapped a page", what);
}

/*
 * 1: CONTINUE of a hole or beyond EOF maps nothing.  Mapped PROT_READ: a
 * writable hugetlbfs mapping would extend the file to its length.  Beyond
 * EOF, shmem says EINVAL (shmem_get_folio() refuses an index past i_size
 * before it looks for a page), hugetlbfs EFAULT, on 6.12 as on the series.
 */
static bool t_hole_eof(struct job *j)
{
	size_t len = (NPAGES + 1) * j->ps;
	char *p = map_mem(j, PROT_READ, len);
	int uffd = p ? uffd_on(j, p, len, UFFDIO_REGISTER_MODE_MINOR, NULL) : -1;
	int eof = mem_is_hugetlb(j->mem) ? EFAULT : EINVAL;

	return uffd >= 0 && cont_fails(uffd, p, j->ps, 2, EFAULT, "of a hole") &&
	       cont_fails(uffd, p, j->ps, 3, eof, "beyond EOF") &&
	       cont_ok(uffd, p, j->ps) && bytes_are(p, j->ps, 'A', "page 0 after CONTINUE");
}

/* UFFDIO_COPY of a page of 'C' to dst in mode. */
static bool copy(int uffd, char *dst, size_t ps, uint64_t mode)
{
	char *src = mmap(NULL, ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct uffdio_copy c = {
		.dst = (unsigned long)dst, .src = (unsigned long)src, .len = ps, .mode = mode,
	};
	bool ok;

	if (src == MAP_FAILED)
		return bad("mmap: %s", strerror(errno));
	memset(src, 'C', ps);
	ok = !ioctl(uffd, UFFDIO_COPY, &c) ||
	     bad("UFFDIO_COPY(mode 0x%llx): %s", (unsigned long long)mode, strerror(errno));
	munmap(src, ps);
	return ok;
}

/*
 * 1: UFFDIO_COPY into MAP_PRIVATE of a file opened O_RDONLY, over a page
 * (0) and a hole (2): the copies are private, the file is unchanged.
 */
static bool t_copy_private(struct job *j)
{
	size_t len = NPAGES * j->ps;
	char *p = map_mem(j, PROT_READ | PROT_WRITE, len);
	int uffd = p ? uffd_on(j, p, len, UFFDIO_REGISTER_MODE_MISSING, NULL) : -1;

	return uffd >= 0 && copy(uffd, p, j->ps, 0) && copy(uffd, p + 2 * j->ps, j->ps, 0) &&
	       bytes_are(p, j->ps, 'C', "page 0 after COPY") &&
	       bytes_are(p + 2 * j->ps, j->ps, 'C', "page 2 after COPY") && file_unchanged(j);
}

/*
 * 2: un-protect in a PROT_READ range: a write still faults; after
 * mprotect(PROT_READ | PROT_WRITE) it works without a wp fault.
 */
static bool t_wp_prot_read(struct job *j)
{
	size_t len = j->mem != MEM_ANON ? NPAGES * j->ps : j->ps;
	char *p = map_mem(j, PROT_READ | PROT_WRITE, len), c = j->mem != MEM_ANON ? 'A' : 0;
	int uffd = p ? uffd_on(j, p, len, UFFDIO_REGISTER_MODE_WP, NULL) : -1;

	/* populated writable and dirty: the byte written back is the same */
	return uffd >= 0 && access_is(p, c, NULL, 0, "populating write") &&
	       wp(uffd, p, j->ps, true) && mprot(p, len, PROT_READ) &&
	       wp(uffd, p, j->ps, false) &&
	       access_is(p, 'z', NULL, SIGSEGV, "a write to the PROT_READ page") &&
	       bytes_are(p, j->ps, c, "page 0 after the write") &&
	       (j->mem == MEM_ANON || file_unchanged(j)) &&
	       mprot(p, len, PROT_READ | PROT_WRITE) &&
	       access_is(p, 'z', NULL, 0, "a write after mprotect(PROT_READ | PROT_WRITE)") &&
	       (p[0] == 'z' || bad("the write is lost")) &&
	       (j->mem == MEM_ANON || write_reached(j, p));
}

/*
 * 2: MAP_PRIVATE of a file: page 0 read-faulted (the page cache page mapped
 * read-only) and page 1 never faulted (a marker), protected (a write is a
 * wp fault) and un-protected: a write copies them.
 */
static bool t_wp_private(struct job *j)
{
	size_t len = NPAGES * j->ps, ps = j->ps;
	char *p = map_mem(j, PROT_READ | PROT_WRITE, len);
	int uffd = p ? uffd_on(j, p, len, UFFDIO_REGISTER_MODE_WP, NULL) : -1;

	return uffd >= 0 && bytes_are(p, ps, 'A', "page 0 read-faulted") &&
	       wp(uffd, p, 2 * ps, true) &&
	       access_is(p, 'z', NULL, SIGBUS, "a write to protected page 0") &&
	       access_is(p + ps, 'z', NULL, SIGBUS, "a write to protected page 1") &&
	       wp(uffd, p, 2 * ps, false) &&
	       access_is(p, 'z', NULL, 0, "a write to page 0 after un-protect") &&
	       access_is(p + ps, 'z', NULL, 0, "a write to page 1 after un-protect") &&
	       ((p[0] == 'z' && p[ps] == 'z') || bad("a write is lost")) &&
	       bytes_are(p + 1, ps - 1, 'A', "the rest of page 0") &&
	       bytes_are(p + ps + 1, ps - 1, 'B', "the rest of page 1") &&
	       file_unchanged(j);
}

/*
 * 2: a page COW-shared with a child, protected (a write is a wp fault) and
 * un-protected: the parent's write copies it, the child's view is unchanged.
 */
static bool t_wp_fork(struct job *j)
{
	size_t len = j->mem != MEM_ANON ? NPAGES * j->ps : j->ps;
	char *p = map_mem(j, PROT_READ | PROT_WRITE, len);
	int uffd = p ? uffd_on(j, p, len, UFFDIO_REGISTER_MODE_WP, NULL) : -1;
	int go[2], status;
	bool ok;
	pid_t pid;

	if (uffd < 0 || !access_is(p, 'P', NULL, 0, "populating write"))
		return false;
	memset(p, 'P', j->ps);
	if (pipe(go))
		return bad("pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		return bad("fork: %s", strerror(errno));
	if (!pid) {
		char x;
		size_t i;

		close(go[1]);
		if (read(go[0], &x, 1) != 1)
			_exit(2);
		for (i = 0; i < j->ps; i++)
			if (p[i] != 'P')
				_exit(1);
		_exit(0);
	}
	close(go[0]);
	ok = wp(uffd, p, j->ps, true) &&
	     access_is(p, 'Q', NULL, SIGBUS, "the parent's write to the protected page") &&
	     wp(uffd, p, j->ps, false) &&
	     access_is(p, 'Q', NULL, 0, "the parent's write after un-protect") &&
	     (p[0] == 'Q' || bad("the parent's write is lost")) &&
	     bytes_are(p + 1, j->ps - 1, 'P', "the rest of the parent's page");
	if (write(go[1], "x", 1) != 1)
		ok = bad("write: %s", strerror(errno));
	close(go[1]);
	waitpid(pid, &status, 0);
	if (ok && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
		return bad("the child's page changed under it (status 0x%x)", status);
	return ok && (j->mem == MEM_ANON || file_unchanged(j));
}

/*
 * 2, SCENARIOS 8: UFFDIO_COPY_MODE_WP into a PROT_READ range, then
 * mprotect(PROT_READ | PROT_WRITE): the first write is a wp fault.
 */
static bool t_copy_wp(struct job *j)
{
	size_t len = j->mem != MEM_ANON ? NPAGES * j->ps : j->ps;
	char *p = map_mem(j, PROT_READ | PROT_WRITE, len);
	int uffd = p ? uffd_on(j, p, len, UFFDIO_REGISTER_MODE_MISSING |
			      UFFDIO_REGISTER_MODE_WP, NULL) : -1;

	return uffd >= 0 && mprot(p, j->ps, PROT_READ) &&
	       copy(uffd, p, j->ps, UFFDIO_COPY_MODE_WP) &&
	       mprot(p, j->ps, PROT_READ | PROT_WRITE) &&
	       bytes_are(p, j->ps, 'C', "page 0 after COPY") &&
	       access_is(p, 'z', NULL, SIGBUS, "the first write after mprotect(RW)") &&
	       bytes_are(p, j->ps, 'C', "page 0 after the wp fault") &&
	       wp(uffd, p, j->ps, false) &&
	       access_is(p, 'z', NULL, 0, "a write after un-protect") &&
	       (p[0] == 'z' || bad("the write is lost"));
}

static const struct test tests[] = {
	{ 0, "1 MAP_SHARED of an O_RDONLY file cannot be registered", t_ro_shared,
	  SHARED_MEMS, 0, F_RO, KEPT },
	{ 0, "1 MAP_SHARED of a write-sealed memfd cannot be registered", t_ro_shared,
	  SHARED_MEMS, 0, F_SEALED, 0 },
	{ 0, "1 F_SEAL_WRITE waits for a registered mapping", t_seal_busy, SHARED_MEMS, 0,
	  F_SEALED, 0 },
	{ 0, "1 MAP_PRIVATE of an O_RDONLY file: CONTINUE maps read-only, a write copies",
	  t_ro_private, PRIVATE_FILE_MEMS, CLAIM_MINOR, F_RO, KEPT },
	{ 0, "1 MAP_PRIVATE of a write-sealed memfd: CONTINUE maps read-only, a write copies",
	  t_ro_private, PRIVATE_FILE_MEMS, CLAIM_MINOR, F_SEALED, 0 },
	{ 0, "1 COPY into MAP_PRIVATE of an O_RDONLY file: the file is unchanged",
	  t_copy_private, PRIVATE_FILE_MEMS, 0, F_RO, KEPT },
	{ 0, "1 a 0600 root file cannot be opened", t_secret, FILE_MEMS, 0, F_SECRET,
	  KEPT | ONCE },
	{ 0, "1 CONTINUE into PROT_NONE and PROT_READ: no write, no read of PROT_NONE",
	  t_prot, FILE_MEMS, CLAIM_MINOR, F_RW, KEPT },
	{ 0, "1 CONTINUE_MODE_WP into PROT_READ, mprotect RW: the first write traps",
	  t_cont_wp, FILE_MEMS, CLAIM_MINOR | CLAIM_WP, F_RW, 0 },
	{ 0, "1 CONTINUE of a hole or beyond EOF maps nothing", t_hole_eof, FILE_MEMS,
	  CLAIM_MINOR, F_RW, KEPT },
	{ 0, "2 un-protect in a PROT_READ range: a write faults", t_wp_prot_read,
	  MEM(MEM_ANON) | FILE_MEMS, CLAIM_WP, F_RW, 0 },
	{ 0, "2 un-protect of MAP_PRIVATE file pages: a write copies (O_RDWR)",
	  t_wp_private, PRIVATE_FILE_MEMS, CLAIM_WP, F_RW, KEPT },
	{ 0, "2 un-protect of MAP_PRIVATE file pages: a write copies (O_RDONLY)",
	  t_wp_private, PRIVATE_FILE_MEMS, CLAIM_WP, F_RO, KEPT },
	{ 0, "2 un-protect of a page COW-shared with a child: a write copies", t_wp_fork,
	  MEM(MEM_ANON) | PRIVATE_FILE_MEMS, CLAIM_WP, F_RW, KEPT },
	{ 8, "2 COPY_MODE_WP into PROT_READ, mprotect RW: the first write traps", t_copy_wp,
	  MEM(MEM_ANON) | FILE_MEMS, CLAIM_WP, F_EMPTY, 0 },
};

#define NR_TESTS (sizeof(tests) / sizeof(tests[0]))

/* Fill pages 0 and 1 of fd: 'A' and 'B'; false after bad(). */
static bool fill(int fd, size_t ps)
{
	char *p = mmap(NULL, 2 * ps, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	if (p == MAP_FAILED)
		return bad("mmap to fill: %s", strerror(errno));
	memset(p, 'A', ps);
	memset(p + ps, 'B', ps);
	munmap(p, 2 * ps);
	return true;
}

/*
 * The child, as nobody: the test, with /proc/self readable again (setresuid
 * made it undumpable), on nobody's own memfd for F_SEALED.
 */
static const char *child(void *arg)
{
	struct job *j = arg;
	unsigned int flags = MFD_CLOEXEC | MFD_ALLOW_SEALING |
			     (mem_is_hugetlb(j->mem) ? MFD_HUGETLB : 0);

	if (prctl(PR_SET_DUMPABLE, 1))
		return "prctl(PR_SET_DUMPABLE)";
	if (j->t->file == F_SEALED) {
		j->fd = memfd_create("uffd-perm", flags);
		if (j->fd < 0 || ftruncate(j->fd, NPAGES * j->ps))
			return bad("memfd: %s", strerror(errno)), why;
		if (!fill(j->fd, j->ps))
			return why;
		/* t_seal_busy seals it itself */
		if (j->t->run != t_seal_busy && fcntl(j->fd, F_ADD_SEALS, F_SEAL_WRITE))
			return bad("F_SEAL_WRITE: %s", strerror(errno)), why;
	}
	return j->t->run(j) ? NULL : why;
}

/* Root's file for a test on mem: NPAGES pages, 'A', 'B' and a hole. */
static const char *make_file(enum uffd_mem mem, enum file_kind kind)
{
	const char *path = mem_is_hugetlb(mem) ? HUGE_FILE : SHM_FILE;
	mode_t m = kind == F_RO ? 0644 : kind == F_SECRET ? 0600 : 0666;
	int fd;

	unlink(path);
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, m);
	if (fd < 0 || fchmod(fd, m) || ftruncate(fd, NPAGES * mem_page_size(mem)) ||
	    (kind != F_EMPTY && !fill(fd, mem_page_size(mem))))
		ksft_exit_fail_msg("%s: %s %s\n", path, strerror(errno), why);
	close(fd);
	return path;
}

static void run(const struct test *t, enum uffd_mem mem, int flags)
{
	const char *mname = uffd_mem_names[mem];
	struct job j = { .t = t, .mem = mem, .flags = flags, .fd = -1,
			 .ps = mem_page_size(mem) };
	struct verdict v;
	char name[200];
	bool ok;

	snprintf(name, sizeof(name), "%s %s%s", t->name, mname,
		 flags ? " user-mode-only" : "");
	if (flags && !claims->user_mode_only) {
		ksft_test_result_skip("%s: '%s' claims no UFFD_USER_MODE_ONLY\n", name,
				      claims->ref);
		return;
	}
	if ((claims->modes[mem] & t->mode) != t->mode) {
		ksft_test_result_skip("%s: '%s' claims no %s on %s\n", name, claims->ref,
				      t->mode & CLAIM_MINOR ? "minor" : "wp", mname);
		return;
	}
	memset(&v, 0, sizeof(v));
	if (mem != MEM_ANON && t->file != F_SEALED)
		j.path = make_file(mem, t->file);
	fflush(stdout);
	ok = as_nobody(&v, child, &j);
	if (ok && j.path && (t->opt & KEPT) && !file_unchanged(&j))
		ok = verdict_fail(&v, "as root: %s", why);
	why[0] = 0;
	if (j.path)
		unlink(j.path);
	verdict_report(&v, ok, t->nr, claims, name);
}

int main(void)
{
	static const int variants[] = { 0, UFFD_USER_MODE_ONLY };
	unsigned int plan = 0;
	size_t i, k;
	int def, mem;

	claims = uffd_claims_of_kernel();
	for (k = 0; k < 2; k++)
		for (i = 0; i < NR_TESTS; i++)
			if (!(k && (tests[i].opt & ONCE)))
				plan += __builtin_popcount(tests[i].mems);
	ksft_print_header();
	ksft_set_plan(plan);
	def = sysctl_get();
	if (!sysctl_set(1))
		ksft_exit_fail_msg("cannot set " SYSCTL_UNPRIV "\n");
	for (k = 0; k < 2; k++)
		for (i = 0; i < NR_TESTS; i++)
			for (mem = 0; mem < MEM_NR; mem++)
				if ((tests[i].mems & MEM(mem)) && !(k && (tests[i].opt & ONCE)))
					run(&tests[i], mem, variants[k]);
	sysctl_set(def);
	return ksft_get_fail_cnt() ? ksft_exit_fail() : ksft_exit_pass();
}
