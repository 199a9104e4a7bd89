// SPDX-License-Identifier: GPL-2.0
/*
 * userfaultfd minor faults and UFFDIO_CONTINUE (shared/SCENARIOS.md 16-21),
 * on every memory type whose MINOR registration the kernel under test claims
 * (uffd-claims.h); other types are skipped.
 *
 * Each test maps a file twice, as a VMM maps guest memory: the registered
 * mapping "a" (MAP_SHARED or MAP_PRIVATE, by memory type) and the filler
 * mapping "b" (always MAP_SHARED) through which the test writes the
 * contents.  A resolver thread answers minor faults with UFFDIO_CONTINUE,
 * missing faults with UFFDIO_COPY of 'M' bytes and wp faults by
 * un-protecting, and counts each kind.  Every check verifies the data.
 */
#include "uffd-test.h"

#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <time.h>
#include <sys/wait.h>
#include <linux/falloc.h>

#define NPAGES 8

static const struct uffd_claims *claims;

/* The resolver: answers the faults of up to two uffds (parent, fork child). */
struct resolver {
	int uffd;
	int child_uffd;
	size_t page;
	bool continue_wp;	/* resolve minor faults with CONTINUE_MODE_WP */
	char *copy_src;		/* a page of 'M' for missing faults */
	struct bg_thread bg;
	unsigned long minor, missing, wp, eexist, forks, remaps, unexpected;
	unsigned long child_minor;
	int last_error;
};

struct env {
	enum uffd_mem mem;
	size_t page, len;
	int mfd;
	char *a;	/* registered */
	char *b;	/* filler, MAP_SHARED */
	int uffd;
	struct resolver r;
	struct verdict v;
};

static char pattern(size_t i)
{
	return 'a' + i % 26;
}

static char *pa(struct env *e, size_t i)
{
	return e->a + i * e->page;
}

static char *pb(struct env *e, size_t i)
{
	return e->b + i * e->page;
}

/* Every byte of the page at p is c. */
static bool bytes_are(struct env *e, const char *what, size_t i,
		      const volatile char *p, char c)
{
	size_t k;

	for (k = 0; k < e->page; k++)
		if (p[k] != c)
			return fail(e, "%s page %zu byte %zu is 0x%02x, expected 0x%02x",
				    what, i, k, (unsigned char)p[k], (unsigned char)c);
	return true;
}

/* "mapped" as the test leaves it: the kernel did not get that far */
#define UNWRITTEN	0x5a5a5a5a
/* for expect_continue(): do not look at "mapped" */
#define ANY_MAPPED	0x7a7a7a7a

/* UFFDIO_CONTINUE; returns 0 or -errno, the "mapped" field in *mapped. */
static int uffd_continue(int fd, void *p, size_t len, uint64_t mode,
			 int64_t *mapped)
{
	struct uffdio_continue c = {
		.range = { .start = (unsigned long)p, .len = len },
		.mode = mode,
		.mapped = UNWRITTEN,
	};
	int ret = ioctl(fd, UFFDIO_CONTINUE, &c) ? -errno : 0;

	if (mapped)
		*mapped = c.mapped;
	return ret;
}

static int uffd_copy(int fd, void *dst, void *src, size_t len, uint64_t mode)
{
	struct uffdio_copy c = {
		.dst = (unsigned long)dst, .src = (unsigned long)src,
		.len = len, .mode = mode,
	};

	return ioctl(fd, UFFDIO_COPY, &c) ? -errno : 0;
}

static void uffd_wake(int fd, unsigned long start, size_t len)
{
	struct uffdio_range r = { .start = start, .len = len };

	ioctl(fd, UFFDIO_WAKE, &r);
}

static void count(unsigned long *n)
{
	__atomic_add_fetch(n, 1, __ATOMIC_SEQ_CST);
}

static unsigned long get(unsigned long *n)
{
	return __atomic_load_n(n, __ATOMIC_SEQ_CST);
}

/* Answer one page fault message of fd. */
static void resolve(struct resolver *r, int fd, struct uffd_msg *msg)
{
	uint64_t flags = msg->arg.pagefault.flags;
	unsigned long a = msg->arg.pagefault.address & ~(r->page - 1);
	int ret;

	if (flags & UFFD_PAGEFAULT_FLAG_MINOR) {
		if (flags & UFFD_PAGEFAULT_FLAG_WP) {
			count(&r->unexpected);
			uffd_wake(fd, a, r->page);
			return;
		}
		count(fd == r->uffd ? &r->minor : &r->child_minor);
		ret = uffd_continue(fd, (void *)a, r->page,
				    __atomic_load_n(&r->continue_wp, __ATOMIC_SEQ_CST) ?
				    UFFDIO_CONTINUE_MODE_WP : 0,
				    NULL);
	} else if (flags & UFFD_PAGEFAULT_FLAG_WP) {
		count(&r->wp);
		ret = uffd_wp(fd, (void *)a, r->page, false);
	} else {
		count(&r->missing);
		ret = uffd_copy(fd, (void *)a, r->copy_src, r->page, 0);
	}
	/* another thread's fault on the same page was resolved first */
	if (ret == -EEXIST) {
		count(&r->eexist);
		uffd_wake(fd, a, r->page);
	} else if (ret) {
		r->last_error = -ret;
		ksft_print_msg("resolver: 0x%lx flags 0x%llx: %s\n", a,
			       (unsigned long long)flags, strerror(-ret));
		uffd_wake(fd, a, r->page);
	}
}

static void *resolver_main(void *arg)
{
	struct resolver *r = arg;
	struct uffd_msg msg;
	struct pollfd pfd[3];
	int i, n;

	for (;;) {
		int child = __atomic_load_n(&r->child_uffd, __ATOMIC_SEQ_CST);

		pfd[0] = (struct pollfd){ .fd = r->bg.stop[0], .events = POLLIN };
		pfd[1] = (struct pollfd){ .fd = r->uffd, .events = POLLIN };
		pfd[2] = (struct pollfd){ .fd = child, .events = POLLIN };
		n = child >= 0 ? 3 : 2;
		if (poll(pfd, n, 100) < 0 || (pfd[0].revents & POLLIN))
			return NULL;
		for (i = 1; i < n; i++) {
			if (!(pfd[i].revents & POLLIN))
				continue;
			if (read(pfd[i].fd, &msg, sizeof(msg)) != sizeof(msg))
				continue;
			switch (msg.event) {
			case UFFD_EVENT_PAGEFAULT:
				resolve(r, pfd[i].fd, &msg);
				break;
			case UFFD_EVENT_FORK:
				count(&r->forks);
				__atomic_store_n(&r->child_uffd, (int)msg.arg.fork.ufd,
						 __ATOMIC_SEQ_CST);
				break;
			case UFFD_EVENT_REMAP:
				count(&r->remaps);
				break;
			default:
				count(&r->unexpected);
			}
		}
	}
}

static void resolver_start(struct resolver *r, int uffd, size_t page)
{
	memset(r, 0, sizeof(*r));
	r->uffd = uffd;
	r->child_uffd = -1;
	r->page = page;
	r->copy_src = aligned_alloc(page, page);
	if (!r->copy_src)
		ksft_exit_fail_msg("resolver: %s\n", strerror(errno));
	memset(r->copy_src, 'M', page);
	bg_start(&r->bg, resolver_main, r, "resolver");
}

static void resolver_stop(struct resolver *r)
{
	if (!r->bg.running)
		return;
	bg_stop(&r->bg, "resolver");
	if (r->child_uffd >= 0)
		close(r->child_uffd);
	free(r->copy_src);
}

/*
 * Map the file (NPAGES of e->mem) as a and b, write pattern(i) into the pages
 * listed in fill (a bit per page) through b, register a with mode and start
 * the resolver unless no_resolver.
 */
/* A fresh env with NPAGES of mem mapped as a (for file types: a memfd). */
static bool env_map(struct env *e, enum uffd_mem mem)
{
	memset(e, 0, sizeof(*e));
	e->mem = mem;
	e->uffd = -1;
	e->page = mem_page_size(mem);
	e->len = NPAGES * e->page;
	e->a = mem_map(mem, e->len, &e->mfd);
	if (e->a == MAP_FAILED) {
		e->a = NULL;
		return fail(e, "mmap: %s", strerror(errno));
	}
	return true;
}

static bool setup_feat(struct env *e, enum uffd_mem mem, uint64_t mode,
		       unsigned int fill, uint64_t features, bool no_resolver)
{
	size_t i;
	int ret;

	if (!env_map(e, mem))
		return false;
	e->b = mmap(NULL, e->len, PROT_READ | PROT_WRITE, MAP_SHARED, e->mfd, 0);
	if (e->b == MAP_FAILED) {
		e->b = NULL;
		return fail(e, "mmap of the file: %s", strerror(errno));
	}
	for (i = 0; i < NPAGES; i++)
		if (fill & (1u << i))
			memset(pb(e, i), pattern(i), e->page);
	e->uffd = uffd_open(features);
	ret = uffd_register(e->uffd, e->a, e->len, mode, NULL);
	if (ret)
		return fail(e, "UFFDIO_REGISTER: %s", strerror(-ret));
	if (!no_resolver)
		resolver_start(&e->r, e->uffd, e->page);
	return true;
}

#define ALL ((1u << NPAGES) - 1)

static bool setup(struct env *e, enum uffd_mem mem, unsigned int fill)
{
	return setup_feat(e, mem, UFFDIO_REGISTER_MODE_MINOR, fill, 0, false);
}

static void teardown(struct env *e)
{
	resolver_stop(&e->r);
	if (e->uffd >= 0)
		close(e->uffd);
	if (e->b)
		munmap(e->b, e->len);
	if (e->a)
		mem_unmap(e->a, e->len, e->mfd);
}

/* The resolver saw exactly these faults, and nothing else went wrong. */
static bool faults_are(struct env *e, const char *when, unsigned long minor,
		       unsigned long missing, unsigned long wp)
{
	struct resolver *r = &e->r;

	if (get(&r->minor) != minor || get(&r->missing) != missing ||
	    get(&r->wp) != wp || get(&r->unexpected) || r->last_error)
		return fail(e, "%s: %lu minor, %lu missing, %lu wp faults, %lu unexpected"
			    " (expected %lu, %lu, %lu, 0)%s%s", when, get(&r->minor),
			    get(&r->missing), get(&r->wp), get(&r->unexpected),
			    minor, missing, wp, r->last_error ? ", resolver error " : "",
			    r->last_error ? strerror(r->last_error) : "");
	return true;
}

/* A read of every page of a sees pattern(i), each page faulting once. */
static bool read_all(struct env *e, const char *when)
{
	unsigned long before = get(&e->r.minor);
	size_t i;

	for (i = 0; i < NPAGES; i++)
		if (!bytes_are(e, when, i, pa(e, i), pattern(i)))
			return false;
	return faults_are(e, when, before + NPAGES, 0, 0);
}

/* A minor fault per page; CONTINUE maps the page cache page. */
static bool t_basic(struct env *e, enum uffd_mem mem)
{
	size_t i;

	if (!setup(e, mem, ALL) || !read_all(e, "first read"))
		return false;
	for (i = 0; i < NPAGES; i++)
		if (!bytes_are(e, "second read", i, pa(e, i), pattern(i)))
			return false;
	if (!faults_are(e, "second read", NPAGES, 0, 0))
		return false;
	/* a shared mapping writes the file; a private one copies the page */
	memset(pa(e, 0), 'W', e->page);
	if (!faults_are(e, "write", NPAGES, 0, 0) ||
	    !bytes_are(e, "a after write", 0, pa(e, 0), 'W'))
		return false;
	return bytes_are(e, "b after write of a", 0, pb(e, 0),
			 mem_is_shared(mem) ? 'W' : pattern(0));
}

/* MISSING|MINOR: a hole raises a missing fault, a cached page a minor one. */
static bool t_missing_and_minor(struct env *e, enum uffd_mem mem)
{
	unsigned int fill = 0x0f;
	size_t i;

	if (!setup_feat(e, mem, UFFDIO_REGISTER_MODE_MINOR |
			UFFDIO_REGISTER_MODE_MISSING, fill, 0, false))
		return false;
	for (i = 0; i < NPAGES; i++)
		if (!bytes_are(e, "a", i, pa(e, i),
			       fill & (1u << i) ? pattern(i) : 'M'))
			return false;
	return faults_are(e, "read", 4, 4, 0);
}

/*
 * Leave garbage in free memory (free huge pages for hugetlbfs), for a page
 * that is not cleared to show it.
 */
static void dirty_free_memory(enum uffd_mem mem)
{
	size_t len = mem_is_hugetlb(mem) ? 8 * HPAGE_SIZE : 64 << 20;
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS |
		       (mem_is_hugetlb(mem) ? MAP_HUGETLB : 0), -1, 0);

	if (p == MAP_FAILED)
		return;
	memset(p, 0xa5, len);
	munmap(p, len);
}

/* 16: CONTINUE of a fallocated page that was never written maps zeros. */
static bool t_fallocated(struct env *e, enum uffd_mem mem)
{
	size_t i;

	if (!setup(e, mem, 0))
		return false;
	dirty_free_memory(mem);
	if (fallocate(e->mfd, 0, 0, e->len))
		return fail(e, "fallocate: %s", strerror(errno));
	for (i = 0; i < NPAGES; i++)
		if (!bytes_are(e, "a", i, pa(e, i), 0))
			return false;
	if (!faults_are(e, "read", NPAGES, 0, 0))
		return false;
	return bytes_are(e, "b", 0, pb(e, 0), 0);
}

/* No page of [p, p+len) is mapped. */
static bool none_mapped(struct env *e, char *p)
{
	size_t i;

	for (i = 0; i < NPAGES; i++)
		if (pagemap(p + i * e->page) & PM_PRESENT)
			return false;
	return true;
}

/*
 * MADV_PAGEOUT of the pages that p maps: afterwards none is mapped, and the
 * file's pages are in swap (smaps' Swap: of a shmem vma counts them).
 */
static bool page_out(struct env *e, char *p, const char *what)
{
	int tries;

	/* pages mapped twice are not paged out: b lets go of them first */
	if (p != e->b && madvise(e->b, e->len, MADV_DONTNEED))
		return fail(e, "%s: MADV_DONTNEED: %s", what, strerror(errno));
	for (tries = 0; tries < 10 && !none_mapped(e, p); tries++) {
		lru_drain_all();
		if (madvise(p, e->len, MADV_PAGEOUT))
			return fail(e, "%s: MADV_PAGEOUT: %s", what, strerror(errno));
	}
	if (!none_mapped(e, p)) {
		unsigned int mapped = 0;
		size_t i;

		for (i = 0; i < NPAGES; i++)
			if (pagemap(p + i * e->page) & PM_PRESENT)
				mapped |= 1u << i;
		return fail(e, "%s: pages 0x%x still mapped after MADV_PAGEOUT", what,
			    mapped);
	}
	if (smaps_kb(e->b, "Swap") < (long)(e->len >> 11))
		return fail(e, "%s: %ld kB of the file in swap", what, smaps_kb(e->b, "Swap"));
	return true;
}

/* 17: a page that went to swap raises a minor fault and CONTINUE reads it back. */
static bool t_swapped(struct env *e, enum uffd_mem mem)
{
	if (mem_is_hugetlb(mem))
		return skip(e, "hugetlbfs pages are not swapped");
	if (meminfo("SwapTotal") <= 0)
		return skip(e, "no swap in this guest");
	if (!setup(e, mem, ALL))
		return false;
	/* the first time through b, which maps the pages; then through a */
	if (!page_out(e, e->b, "page-out") || !read_all(e, "read after page-out"))
		return false;
	if (!page_out(e, e->a, "page-out of a") ||
	    !read_all(e, "read after the page-out of a"))
		return false;
	return true;
}

/* 18: pages mapped by CONTINUE and COPY keep what was written through them. */
static bool t_reclaim(struct env *e, enum uffd_mem mem)
{
	size_t i;

	if (mem_is_hugetlb(mem))
		return skip(e, "hugetlbfs pages are not reclaimed");
	if (!setup_feat(e, mem, UFFDIO_REGISTER_MODE_MINOR |
			UFFDIO_REGISTER_MODE_MISSING, 0x0f, 0, false))
		return false;
	/* pages 0-3 come by CONTINUE, 4-7 by COPY */
	for (i = 0; i < NPAGES; i++)
		(void)*(volatile char *)pa(e, i);
	if (!faults_are(e, "read", 4, 4, 0))
		return false;
	if (mem_is_shared(mem))
		for (i = 0; i < NPAGES; i++)
			memset(pa(e, i), 'A' + i, e->page);
	if (meminfo("SwapTotal") <= 0)
		return skip(e, "no swap in this guest");
	if (!page_out(e, e->a, "page-out of a"))
		return false;
	/*
	 * Back through a: the file pages fault as minor again, the private
	 * COPY pages are anonymous and come back from swap without a fault.
	 */
	for (i = 0; i < NPAGES; i++) {
		char want = mem_is_shared(mem) ? (char)('A' + i) : i < 4 ? pattern(i) : 'M';

		if (!bytes_are(e, "a after page-out", i, pa(e, i), want))
			return false;
	}
	if (!faults_are(e, "read after page-out", mem_is_shared(mem) ? 4 + 8 : 4 + 4, 4, 0))
		return false;
	for (i = 0; i < NPAGES; i++) {
		char want = mem_is_shared(mem) ? (char)('A' + i) : i < 4 ? pattern(i) : 0;

		/* a private COPY makes an anonymous page: the file has a hole */
		if (!bytes_are(e, "b", i, pb(e, i), want))
			return false;
	}
	return true;
}

/* 19: the error codes of UFFDIO_CONTINUE. */
static bool expect_continue(struct env *e, const char *what, void *p, size_t len,
			    uint64_t mode, int err, int64_t mapped)
{
	int64_t m;
	int ret = uffd_continue(e->uffd, p, len, mode, &m);

	if (ret != -err)
		return fail(e, "%s: CONTINUE returned %s, expected %s", what,
			    ret ? strerror(-ret) : "success", err ? strerror(err) : "success");
	if (mapped != ANY_MAPPED && m != mapped)
		return fail(e, "%s: mapped is %lld, expected %lld", what,
			    (long long)m, (long long)mapped);
	return true;
}

static bool t_errors(struct env *e, enum uffd_mem mem)
{
	char *other;
	bool ok;

	/* pages 0-5 in the file, 6-7 holes; no resolver: nothing faults */
	if (!setup_feat(e, mem, UFFDIO_REGISTER_MODE_MINOR, 0x3f, 0, true))
		return false;
	if (!expect_continue(e, "page 0", pa(e, 0), e->page, 0, 0, e->page) ||
	    !bytes_are(e, "a", 0, pa(e, 0), pattern(0)) ||
	    !expect_continue(e, "mapped page", pa(e, 0), e->page, 0, EEXIST, -EEXIST) ||
	    !expect_continue(e, "hole", pa(e, 6), e->page, 0, EFAULT, -EFAULT) ||
	    !expect_continue(e, "page 5 and a hole", pa(e, 5), 2 * e->page, 0,
			     EAGAIN, e->page) ||
	    !bytes_are(e, "a", 5, pa(e, 5), pattern(5)) ||
	    !expect_continue(e, "length 0", pa(e, 1), 0, 0, EINVAL, UNWRITTEN) ||
	    !expect_continue(e, "unaligned start", pa(e, 1) + 4096 / 2, e->page, 0,
			     EINVAL, UNWRITTEN) ||
	    !expect_continue(e, "unknown mode", pa(e, 1), e->page, 1 << 2, EINVAL,
			     UNWRITTEN) ||
	    !expect_continue(e, "MODE_WP without wp registration", pa(e, 1), e->page,
			     UFFDIO_CONTINUE_MODE_WP, EINVAL, -EINVAL))
		return false;
	if (mem_is_hugetlb(mem) &&
	    !expect_continue(e, "start not huge-page aligned", pa(e, 1) + 4096,
			     e->page - 4096, 0, EINVAL, -EINVAL))
		return false;
	other = mmap(NULL, e->page, PROT_READ | PROT_WRITE, MAP_SHARED, e->mfd, 0);
	if (other == MAP_FAILED)
		return fail(e, "mmap: %s", strerror(errno));
	ok = expect_continue(e, "unregistered range", other, e->page, 0, ENOENT, -ENOENT);
	munmap(other, e->page);
	if (!ok)
		return false;
	/* beyond i_size: hugetlbfs says EFAULT, shmem's lookup EINVAL (as 6.12) */
	if (ftruncate(e->mfd, 4 * e->page))
		return fail(e, "ftruncate: %s", strerror(errno));
	return expect_continue(e, "beyond i_size", pa(e, 4), e->page, 0,
			       mem_is_hugetlb(mem) ? EFAULT : EINVAL,
			       mem_is_hugetlb(mem) ? -EFAULT : -EINVAL);
}

/*
 * 19: a page with a memory error is never mapped.  6.12 keeps such a page in
 * the file and CONTINUE says EIO; 5.10's memory-failure handling takes it
 * out of the file (shmem and hugetlbfs), which leaves a hole: EFAULT.
 */
static bool t_poisoned(struct env *e, enum uffd_mem mem)
{
	int64_t mapped;
	int ret;

	int status;
	pid_t pid;

	if (!setup_feat(e, mem, UFFDIO_REGISTER_MODE_MINOR, ALL, 0, true))
		return false;
	/*
	 * A child poisons the page: a kernel may kill the processes that map
	 * it (6.12 does).  This one maps it nowhere: b is mapped afresh.
	 */
	munmap(e->b, e->len);
	e->b = mmap(NULL, e->len, PROT_READ | PROT_WRITE, MAP_SHARED, e->mfd, 0);
	if (e->b == MAP_FAILED) {
		e->b = NULL;
		return fail(e, "mmap: %s", strerror(errno));
	}
	pid = fork();
	if (pid < 0)
		return fail(e, "fork: %s", strerror(errno));
	if (!pid) {
		(void)*(volatile char *)pb(e, 1);
		_exit(madvise(pb(e, 1), e->page, MADV_HWPOISON) ?
		      (errno == EINVAL || errno == EPERM ? 2 : 1) : 0);
	}
	if (waitpid(pid, &status, 0) != pid)
		return fail(e, "waitpid: %s", strerror(errno));
	if (WIFEXITED(status) && WEXITSTATUS(status) == 2)
		return skip(e, "no MADV_HWPOISON (CONFIG_MEMORY_FAILURE, root)");
	/* the child may have been killed for mapping the page: SIGBUS */
	if (!(WIFEXITED(status) && !WEXITSTATUS(status)) &&
	    !(WIFSIGNALED(status) && WTERMSIG(status) == SIGBUS))
		return fail(e, "the poisoning child: status 0x%x", status);
	ret = uffd_continue(e->uffd, pa(e, 1), e->page, 0, &mapped);
	if ((ret != -EIO && ret != -EFAULT) || mapped != ret)
		return fail(e, "CONTINUE of a poisoned page: %s, mapped %lld",
			    ret ? strerror(-ret) : "success", (long long)mapped);
	if (pagemap(pa(e, 1)) & PM_PRESENT)
		return fail(e, "the poisoned page is mapped");
	ksft_print_msg("CONTINUE of a poisoned %s page: %s\n", uffd_mem_names[mem],
		       strerror(-ret));
	/* the neighbours are fine */
	return expect_continue(e, "page 2", pa(e, 2), e->page, 0, 0, e->page) &&
	       bytes_are(e, "a", 2, pa(e, 2), pattern(2));
}

/* 20: no fault-around: a minor fault maps its own page only. */
static bool t_no_fault_around(struct env *e, enum uffd_mem mem)
{
	size_t i;

	if (!setup(e, mem, ALL))
		return false;
	if (!bytes_are(e, "a", 0, pa(e, 0), pattern(0)) ||
	    !faults_are(e, "read of page 0", 1, 0, 0))
		return false;
	for (i = 1; i < NPAGES; i++)
		if (pagemap(pa(e, i)) & PM_PRESENT)
			return fail(e, "page %zu was mapped by the fault on page 0", i);
	if (!bytes_are(e, "a", 3, pa(e, 3), pattern(3)))
		return false;
	return faults_are(e, "read of page 3", 2, 0, 0);
}

/* MINOR|WP: CONTINUE_MODE_WP maps a protected page; the write traps. */
static bool t_minor_wp(struct env *e, enum uffd_mem mem)
{
	if (!setup_feat(e, mem, UFFDIO_REGISTER_MODE_MINOR | UFFDIO_REGISTER_MODE_WP,
			ALL, 0, false))
		return false;
	__atomic_store_n(&e->r.continue_wp, true, __ATOMIC_SEQ_CST);
	if (!bytes_are(e, "a", 0, pa(e, 0), pattern(0)) ||
	    !faults_are(e, "read", 1, 0, 0))
		return false;
	if (claims->pagemap_wp && !(pagemap(pa(e, 0)) & PM_UFFD_WP))
		return fail(e, "page 0 mapped by CONTINUE_MODE_WP: uffd-wp bit clear");
	memset(pa(e, 0), 'W', e->page);
	if (!faults_are(e, "write", 1, 0, 1))
		return false;
	/* a write to a page not yet mapped: minor first, then wp */
	memset(pa(e, 1), 'W', e->page);
	if (!faults_are(e, "write to page 1", 2, 0, 2))
		return false;
	return bytes_are(e, "b", 1, pb(e, 1), mem_is_shared(mem) ? 'W' : pattern(1));
}

/* While a fork event is pending the mm is changing: CONTINUE says EAGAIN. */
static bool t_eagain(struct env *e, enum uffd_mem mem)
{
	struct pollfd pfd;
	struct uffd_msg msg;
	pthread_t t;
	pid_t pid = -1;
	int status;
	bool ok;

	if (!setup_feat(e, mem, UFFDIO_REGISTER_MODE_MINOR, ALL,
			UFFD_FEATURE_EVENT_FORK, true))
		return false;
	if (pthread_create(&t, NULL, do_fork, &pid))
		return fail(e, "pthread_create: %s", strerror(errno));
	/* fork() waits in the kernel until the event is read */
	pfd = (struct pollfd){ .fd = e->uffd, .events = POLLIN };
	if (poll(&pfd, 1, 10000) != 1) {
		/* closing the uffd lets a fork() that waits for it go on */
		close(e->uffd);
		e->uffd = -1;
		pthread_join(t, NULL);
		if (pid > 0)
			waitpid(pid, &status, 0);
		return fail(e, "no fork event");
	}
	ok = expect_continue(e, "during fork", pa(e, 0), e->page, 0, EAGAIN, -EAGAIN);
	if (read(e->uffd, &msg, sizeof(msg)) != sizeof(msg) ||
	    msg.event != UFFD_EVENT_FORK)
		return fail(e, "reading the fork event: %s", strerror(errno));
	close(msg.arg.fork.ufd);
	pthread_join(t, NULL);
	waitpid(pid, &status, 0);
	return ok && expect_continue(e, "after fork", pa(e, 0), e->page, 0, 0, e->page);
}

/* fork: the child's faults go to its own uffd with EVENT_FORK, else nowhere. */
static bool t_fork(struct env *e, enum uffd_mem mem, bool event)
{
	int status;
	pid_t pid;
	size_t i;

	if (!setup_feat(e, mem, UFFDIO_REGISTER_MODE_MINOR, ALL,
			event ? UFFD_FEATURE_EVENT_FORK : 0, false))
		return false;
	pid = fork();
	if (pid < 0)
		return fail(e, "fork: %s", strerror(errno));
	if (!pid) {
		for (i = 0; i < NPAGES; i++)
			if (!bytes_are(e, "child", i, pa(e, i), pattern(i)))
				_exit(1);
		_exit(0);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status))
		return fail(e, "child failed (status 0x%x)", status);
	if (get(&e->r.child_minor) != (event ? NPAGES : 0) ||
	    get(&e->r.forks) != (event ? 1 : 0))
		return fail(e, "the child raised %lu minor faults, %lu fork events",
			    get(&e->r.child_minor), get(&e->r.forks));
	/* the parent's registration is unchanged */
	return read_all(e, "parent read");
}

static bool t_fork_event(struct env *e, enum uffd_mem mem)
{
	return t_fork(e, mem, true);
}

static bool t_fork_noevent(struct env *e, enum uffd_mem mem)
{
	return t_fork(e, mem, false);
}

/* mremap with EVENT_REMAP keeps the registration at the new address. */
static bool t_mremap(struct env *e, enum uffd_mem mem)
{
	char *to, *q;
	size_t i;

	if (!setup_feat(e, mem, UFFDIO_REGISTER_MODE_MINOR, ALL,
			UFFD_FEATURE_EVENT_REMAP, false))
		return false;
	if (!bytes_are(e, "a", 0, pa(e, 0), pattern(0)))
		return false;
	to = mmap(NULL, e->len + e->page, PROT_NONE,
		  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (to == MAP_FAILED)
		return fail(e, "mmap: %s", strerror(errno));
	to = (char *)(((unsigned long)to + e->page - 1) & ~(e->page - 1));
	q = mremap(e->a, e->len, e->len, MREMAP_MAYMOVE | MREMAP_FIXED, to);
	if (q == MAP_FAILED) {
		if (errno == EINVAL && mem_is_hugetlb(mem) &&
		    !claims->hugetlb_mremap)
			return skip(e, "no mremap of hugetlbfs before Linux 5.16");
		return fail(e, "mremap: %s", strerror(errno));
	}
	e->a = q;
	/* mremap() returned once the event was read, maybe not yet counted */
	for (i = 0; i < 100 && !get(&e->r.remaps); i++)
		usleep(10000);
	if (get(&e->r.remaps) != 1)
		return fail(e, "%lu remap events", get(&e->r.remaps));
	/* page 0 moved mapped; the others fault at the new address */
	for (i = 1; i < NPAGES; i++)
		if (!bytes_are(e, "moved a", i, pa(e, i), pattern(i)))
			return false;
	return bytes_are(e, "moved a", 0, pa(e, 0), pattern(0)) &&
	       faults_are(e, "read after mremap", NPAGES, 0, 0);
}

static void *read_page0(void *arg)
{
	struct env *e = arg;

	(void)*(volatile char *)pa(e, 0);
	return NULL;
}

/*
 * Set e up (MINOR, filled, no resolver) with a thread *t blocked in a minor
 * fault on page 0, its message queued.  On failure there is no such thread.
 */
static bool pending_fault(struct env *e, enum uffd_mem mem, pthread_t *t)
{
	struct pollfd pfd;

	if (!setup_feat(e, mem, UFFDIO_REGISTER_MODE_MINOR, ALL, 0, true))
		return false;
	if (pthread_create(t, NULL, read_page0, e))
		return fail(e, "pthread_create: %s", strerror(errno));
	pfd = (struct pollfd){ .fd = e->uffd, .events = POLLIN };
	if (poll(&pfd, 1, 10000) == 1)
		return true;
	/* closing the uffd lets the reader go before a goes away */
	close(e->uffd);
	e->uffd = -1;
	pthread_join(*t, NULL);
	return fail(e, "no fault message");
}

/*
 * UFFDIO_CONTINUE_MODE_DONTWAKE maps the page but leaves the faulting thread
 * waiting, until UFFDIO_WAKE.
 */
static bool t_dontwake(struct env *e, enum uffd_mem mem)
{
	struct uffd_msg msg;
	bool waited;
	pthread_t t;
	int ret;

	if (!pending_fault(e, mem, &t))
		return false;
	ret = read(e->uffd, &msg, sizeof(msg)) != sizeof(msg) ? -errno :
	      uffd_continue(e->uffd, pa(e, 0), e->page, UFFDIO_CONTINUE_MODE_DONTWAKE,
			    NULL);
	/* the page is mapped, the thread must still wait */
	waited = !joined_within(t, 500);
	uffd_wake(e->uffd, (unsigned long)e->a, e->page);
	if (waited)
		pthread_join(t, NULL);
	if (ret)
		return fail(e, "fault message and CONTINUE(DONTWAKE): %s", strerror(-ret));
	if (!waited)
		return fail(e, "the faulting thread went on before UFFDIO_WAKE");
	if (!(pagemap(pa(e, 0)) & PM_PRESENT))
		return fail(e, "CONTINUE(DONTWAKE) did not map the page");
	return bytes_are(e, "a", 0, pa(e, 0), pattern(0));
}

/*
 * UFFDIO_UNREGISTER of a range with a pending minor fault wakes the faulting
 * thread, which then maps the page cache page itself.  Mainline wakes only
 * missing faults there; the claims say which kernel wakes what.
 */
static bool t_unregister_pending(struct env *e, enum uffd_mem mem)
{
	pthread_t t;
	bool woken;
	int ret;

	if (!pending_fault(e, mem, &t))
		return false;
	ret = uffd_unregister(e->uffd, e->a, e->len);
	if (ret) {
		close(e->uffd);
		e->uffd = -1;
		pthread_join(t, NULL);
		return fail(e, "UFFDIO_UNREGISTER: %s", strerror(-ret));
	}
	woken = joined_within(t, 2000);
	if (!woken) {
		uffd_wake(e->uffd, (unsigned long)e->a, e->page);
		pthread_join(t, NULL);
	}
	if (!bytes_are(e, "a", 0, pa(e, 0), pattern(0)))
		return false;
	if (!woken && (claims->unregister_wakes & CLAIM_MINOR))
		return fail(e, "the faulting thread still waits 2 s after UFFDIO_UNREGISTER");
	if (!woken)
		return skip(e, "UFFDIO_UNREGISTER leaves the pending minor fault to UFFDIO_WAKE"
			    " on this kernel (as mainline)");
	return true;
}

/* After UFFDIO_UNREGISTER faults map the page cache page; CONTINUE is ENOENT. */
static bool t_unregister(struct env *e, enum uffd_mem mem)
{
	size_t i;
	int ret;

	if (!setup(e, mem, ALL))
		return false;
	ret = uffd_unregister(e->uffd, e->a, e->len);
	if (ret)
		return fail(e, "UFFDIO_UNREGISTER: %s", strerror(-ret));
	for (i = 0; i < NPAGES; i++)
		if (!bytes_are(e, "a", i, pa(e, i), pattern(i)))
			return false;
	if (!faults_are(e, "read", 0, 0, 0))
		return false;
	return expect_continue(e, "unregistered", pa(e, 0), e->page, 0, ENOENT,
			       -ENOENT);
}

/* 19: anonymous memory has no minor faults and nothing to CONTINUE. */
static bool t_anon(struct env *e, enum uffd_mem mem)
{
	int ret;

	if (!env_map(e, mem))
		return false;
	e->uffd = uffd_open(0);
	ret = uffd_register(e->uffd, e->a, e->len, UFFDIO_REGISTER_MODE_MINOR, NULL);
	if (ret != -EINVAL)
		return fail(e, "REGISTER_MODE_MINOR: %s, expected EINVAL",
			    ret ? strerror(-ret) : "accepted");
	ret = uffd_register(e->uffd, e->a, e->len, UFFDIO_REGISTER_MODE_MISSING, NULL);
	if (ret)
		return fail(e, "REGISTER_MODE_MISSING: %s", strerror(-ret));
	/* a kernel without UFFDIO_CONTINUE does not know the ioctl at all */
	return expect_continue(e, "anonymous range", pa(e, 0), e->page, 0, EINVAL,
			       claims->range_ioctls & IOC_CONTINUE ? -EINVAL : ANY_MAPPED);
}

static __thread sigjmp_buf bus_jmp;
static __thread volatile sig_atomic_t bus_armed;

static void on_sigbus(int sig)
{
	if (bus_armed)
		siglongjmp(bus_jmp, 1);
	signal(sig, SIG_DFL);
	raise(sig);
}

struct race {
	char *b;
	int go;		/* 1: the reader is spinning, 2: both go */
	bool sigbus;
};

/* Run the calling thread on one CPU only; false if there is no such CPU. */
static bool pin_to(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return !sched_setaffinity(0, sizeof(set), &set);
}

static void pin_to_all(void)
{
	cpu_set_t set;
	int cpu;

	CPU_ZERO(&set);
	for (cpu = 0; cpu < CPU_SETSIZE; cpu++)
		CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

static void *race_reader(void *arg)
{
	struct race *r = arg;

	pin_to(1);
	/* spin, not sleep: the fault must start with the copy */
	__atomic_store_n(&r->go, 1, __ATOMIC_SEQ_CST);
	while (__atomic_load_n(&r->go, __ATOMIC_SEQ_CST) != 2)
		;
	if (sigsetjmp(bus_jmp, 1)) {
		bus_armed = 0;
		r->sigbus = true;
		return NULL;
	}
	bus_armed = 1;
	(void)*(volatile char *)r->b;
	bus_armed = 0;
	return NULL;
}

/*
 * 21: UFFDIO_COPY into one mapping of a hugetlbfs file and a fault on the
 * same huge page through another mapping take the same hugetlb fault mutex.
 * With the pool down to the file's one reserved page, two allocations for
 * that page at once would leave the loser without a page: SIGBUS for the
 * fault, ENOMEM for the copy.  5.10 gets this right (its linear_page_index()
 * gives the huge page index of a hugetlb vma, as the fault path hashes);
 * hashing the copy by 4 KiB index instead fails here in the first round.
 */
/* One round of t_fault_mutex; cleans up after itself. */
static bool race_round(struct env *e, const char *src, int round, int *fault_first)
{
	size_t hp = HPAGE_SIZE;
	int mfd = memfd_create("race", MFD_HUGETLB), uffd = -1, ret;
	char *a = MAP_FAILED, *b = MAP_FAILED;
	struct race r = { 0 };
	bool ok = false;
	pthread_t t;

	/*
	 * Huge page 1 of the file: at index 0 the 4 KiB index and the huge
	 * page index are equal, and so are the mutexes.
	 */
	if (mfd < 0 || ftruncate(mfd, 2 * hp)) {
		fail(e, "memfd: %s", strerror(errno));
		goto out;
	}
	a = mmap(NULL, hp, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, hp);
	b = mmap(NULL, hp, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, hp);
	if (a == MAP_FAILED || b == MAP_FAILED) {
		fail(e, "mmap: %s", strerror(errno));
		goto out;
	}
	uffd = uffd_open(0);
	ret = uffd_register(uffd, a, hp, UFFDIO_REGISTER_MODE_MISSING, NULL);
	if (ret) {
		fail(e, "UFFDIO_REGISTER: %s", strerror(-ret));
		goto out;
	}
	r.b = b;
	if (pthread_create(&t, NULL, race_reader, &r)) {
		fail(e, "pthread_create: %s", strerror(errno));
		goto out;
	}
	while (__atomic_load_n(&r.go, __ATOMIC_SEQ_CST) != 1)
		;
	__atomic_store_n(&r.go, 2, __ATOMIC_SEQ_CST);
	ret = uffd_copy(uffd, a, (void *)src, hp, 0);
	pthread_join(t, NULL);
	if (r.sigbus)
		fail(e, "round %d: the fault got SIGBUS (copy: %s)", round,
		     ret ? strerror(-ret) : "ok");
	else if (ret && ret != -EEXIST)
		fail(e, "round %d: UFFDIO_COPY: %s", round, strerror(-ret));
	else if (b[0] != (ret ? 0 : 'C') || a[0] != b[0])
		fail(e, "round %d: a[0] 0x%x b[0] 0x%x after copy %s", round,
		     a[0], b[0], ret ? strerror(-ret) : "ok");
	else
		ok = true;
	if (ret == -EEXIST)
		(*fault_first)++;
out:
	if (uffd >= 0)
		close(uffd);
	if (a != MAP_FAILED)
		munmap(a, hp);
	if (b != MAP_FAILED)
		munmap(b, hp);
	if (mfd >= 0)
		close(mfd);
	return ok;
}

static bool t_fault_mutex(struct env *e, enum uffd_mem mem)
{
	struct sigaction sa = { .sa_handler = on_sigbus }, old;
	long free_pages = meminfo("HugePages_Free");
	long rsvd = meminfo("HugePages_Rsvd");
	size_t hog_len, hp = HPAGE_SIZE;
	time_t end = time(NULL) + 20;
	int round, fault_first = 0;
	char *hog, *src;
	bool ok = true;

	memset(e, 0, sizeof(*e));
	e->mem = mem;
	e->uffd = -1;
	if (mem != MEM_HUGETLB)
		return skip(e, "the race needs a shared hugetlbfs file");
	if (free_pages - rsvd < 2)
		return skip(e, "fewer than 2 free huge pages");
	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		return skip(e, "the race needs two CPUs");
	hog_len = (free_pages - rsvd - 1) * hp;
	hog = mmap(NULL, hog_len, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_POPULATE, -1, 0);
	if (hog == MAP_FAILED)
		return fail(e, "mmap of %zu huge pages: %s", hog_len / hp, strerror(errno));
	src = aligned_alloc(hp, hp);
	if (meminfo("HugePages_Free") - meminfo("HugePages_Rsvd") != 1 || !src ||
	    !pin_to(0)) {
		munmap(hog, hog_len);
		free(src);
		return skip(e, "could not leave exactly one unreserved huge page,"
			    " or pin to CPU 0");
	}
	memset(src, 'C', hp);
	sigaction(SIGBUS, &sa, &old);
	for (round = 0; ok && round < 300 && time(NULL) < end; round++)
		ok = race_round(e, src, round, &fault_first);
	sigaction(SIGBUS, &old, NULL);
	pin_to_all();
	free(src);
	munmap(hog, hog_len);
	if (ok)
		ksft_print_msg("fault mutex: %d rounds without a failed allocation,"
			       " the fault first in %d\n", round, fault_first);
	return ok;
}

/*
 * Stress: threads read random pages of a minor-registered mapping and
 * verify them while one resolver answers; each round refills the file with
 * new contents through b and maps a afresh, so that every page faults again.
 */
#define STRESS_THREADS 4

struct stress {
	struct env *e;
	size_t npages;
	int round;
	pthread_barrier_t bar;
	bool stop;
	unsigned long reads, bad;
	char bad_msg[160];
};

static char stress_byte(size_t i, int round)
{
	return 'A' + (i * 7 + round) % 26;
}

static void *stress_reader(void *arg)
{
	struct stress *s = arg;
	struct env *e = s->e;
	unsigned int seed = (unsigned int)(unsigned long)pthread_self();
	size_t order[NPAGES], k, j, i, off;

	for (;;) {
		pthread_barrier_wait(&s->bar);
		if (__atomic_load_n(&s->stop, __ATOMIC_SEQ_CST))
			return NULL;
		/* every page, in an order of its own: all threads race for each */
		for (k = 0; k < s->npages; k++)
			order[k] = k;
		for (k = s->npages - 1; k > 0; k--) {
			j = rand_r(&seed) % (k + 1);
			i = order[k];
			order[k] = order[j];
			order[j] = i;
		}
		for (k = 0; k < s->npages; k++) {
			char want = 0;
			const volatile char *p;

			i = order[k];
			p = e->a + i * e->page;
			want = stress_byte(i, s->round);
			for (off = 0; off < e->page; off += 512)
				if (p[off] != want && !__atomic_fetch_add(&s->bad, 1,
									 __ATOMIC_SEQ_CST))
					snprintf(s->bad_msg, sizeof(s->bad_msg),
						 "round %d page %zu offset %zu: 0x%02x, expected 0x%02x",
						 s->round, i, off, (unsigned char)p[off],
						 (unsigned char)want);
			__atomic_add_fetch(&s->reads, 1, __ATOMIC_SEQ_CST);
		}
		pthread_barrier_wait(&s->bar);
	}
}

static bool t_stress(struct env *e, enum uffd_mem mem)
{
	const char *d = getenv("MINOR_STRESS_SECONDS");
	time_t end = time(NULL) + (d ? atoi(d) : 3);
	struct stress s = { .e = e };
	pthread_t t[STRESS_THREADS];
	size_t i;
	int ret, n;

	if (!setup(e, mem, 0))
		return false;
	s.npages = NPAGES;
	pthread_barrier_init(&s.bar, NULL, STRESS_THREADS + 1);
	for (n = 0; n < STRESS_THREADS; n++)
		pthread_create(&t[n], NULL, stress_reader, &s);
	for (s.round = 0; time(NULL) < end || s.round < 2; s.round++) {
		for (i = 0; i < s.npages; i++)
			memset(pb(e, i), stress_byte(i, s.round), e->page);
		pthread_barrier_wait(&s.bar);	/* go */
		pthread_barrier_wait(&s.bar);	/* done */
		/* a fresh mapping of the file, registered again */
		if (mmap(e->a, e->len, PROT_READ | PROT_WRITE,
			 MAP_FIXED | (mem_is_shared(mem) ? MAP_SHARED : MAP_PRIVATE),
			 e->mfd, 0) == MAP_FAILED) {
			fail(e, "mmap: %s", strerror(errno));
			break;
		}
		ret = uffd_register(e->uffd, e->a, e->len, UFFDIO_REGISTER_MODE_MINOR,
				    NULL);
		if (ret) {
			fail(e, "UFFDIO_REGISTER: %s", strerror(-ret));
			break;
		}
	}
	__atomic_store_n(&s.stop, true, __ATOMIC_SEQ_CST);
	pthread_barrier_wait(&s.bar);
	for (n = 0; n < STRESS_THREADS; n++)
		pthread_join(t[n], NULL);
	pthread_barrier_destroy(&s.bar);
	ksft_print_msg("stress %s: %d rounds, %lu page reads verified, %lu minor faults"
		       " (%lu resolved by another fault's CONTINUE)\n",
		       uffd_mem_names[mem], s.round, s.reads, get(&e->r.minor),
		       get(&e->r.eexist));
	if (s.bad)
		return fail(e, "%lu bad reads, first: %s", s.bad, s.bad_msg);
	if (get(&e->r.unexpected) || e->r.last_error)
		return fail(e, "%lu unexpected messages, resolver error %s",
			    get(&e->r.unexpected), strerror(e->r.last_error));
	/*
	 * Every round maps every page afresh, each by one CONTINUE that
	 * succeeds; a fault that raced with it gets EEXIST.  (Rarely, a message
	 * of a fault that did not wait is answered after the next mmap: its
	 * CONTINUE then maps the page of the next round early.)
	 */
	if (get(&e->r.minor) - get(&e->r.eexist) < s.npages * s.round)
		return fail(e, "%lu minor faults, %lu of them answered EEXIST, in %d rounds"
			    " of %zu pages", get(&e->r.minor), get(&e->r.eexist), s.round,
			    s.npages);
	return true;
}

struct scenario {
	int nr;			/* of shared/SCENARIOS.md, 0 for none */
	const char *name;
	bool (*run)(struct env *e, enum uffd_mem mem);
	bool anon_only;		/* the others are for file memory */
	bool no_minor;		/* runs without MINOR registration */
};

static const struct scenario scenarios[] = {
	{ .nr = 0, .name = "minor fault and CONTINUE", .run = t_basic },
	{ .nr = 0, .name = "missing and minor", .run = t_missing_and_minor },
	{ .nr = 16, .name = "fallocated page maps zeros", .run = t_fallocated },
	{ .nr = 17, .name = "page in swap", .run = t_swapped },
	{ .nr = 18, .name = "CONTINUE and COPY pages survive reclaim", .run = t_reclaim },
	{ .nr = 19, .name = "CONTINUE errors", .run = t_errors },
	{ .nr = 19, .name = "anon: no minor, no CONTINUE", .run = t_anon, .anon_only = true,
	  .no_minor = true },
	{ .nr = 19, .name = "poisoned page is not mapped", .run = t_poisoned },
	{ .nr = 20, .name = "no fault-around", .run = t_no_fault_around },
	{ .nr = 21, .name = "hugetlb fault mutex shared by COPY and faults", .run = t_fault_mutex,
	  .no_minor = true },
	{ .nr = 0, .name = "minor with wp", .run = t_minor_wp },
	{ .nr = 0, .name = "EAGAIN during fork", .run = t_eagain },
	{ .nr = 0, .name = "fork with event", .run = t_fork_event },
	{ .nr = 0, .name = "fork without event", .run = t_fork_noevent },
	{ .nr = 0, .name = "mremap with event", .run = t_mremap },
	{ .nr = 0, .name = "unregister", .run = t_unregister },
	{ .nr = 0, .name = "unregister wakes a pending fault", .run = t_unregister_pending },
	{ .nr = 0, .name = "CONTINUE with DONTWAKE", .run = t_dontwake },
	{ .nr = 0, .name = "stress", .run = t_stress },
};

#define NR_SCENARIOS (sizeof(scenarios) / sizeof(scenarios[0]))

int main(void)
{
	size_t s;
	int mem;

	claims = uffd_claims_of_kernel();
	ksft_print_header();
	ksft_set_plan(MEM_NR * NR_SCENARIOS);
	for (s = 0; s < NR_SCENARIOS; s++) {
		const struct scenario *sc = &scenarios[s];

		for (mem = 0; mem < MEM_NR; mem++) {
			const char *name = uffd_mem_names[mem];
			struct env e;
			char title[200];
			bool ok;
			bool needs_wp = sc->run == t_minor_wp;

			if ((mem == MEM_ANON) != sc->anon_only) {
				ksft_test_result_skip("%d %s %s: not applicable to %s\n",
						      sc->nr, sc->name, name, name);
				continue;
			}
			if ((!sc->no_minor && !(claims->modes[mem] & CLAIM_MINOR)) ||
			    (needs_wp && !(claims->modes[mem] & CLAIM_WP))) {
				ksft_test_result_skip("%d %s %s: '%s' claims no %s on %s\n",
						      sc->nr, sc->name, name, claims->ref,
						      needs_wp ? "minor+wp" : "minor", name);
				continue;
			}
			memset(&e, 0, sizeof(e));
			e.uffd = -1;
			ok = sc->run(&e, mem);
			snprintf(title, sizeof(title), "%d %s %s", sc->nr, sc->name, name);
			verdict_report(&e.v, ok, sc->nr, claims, title);
			teardown(&e);
		}
	}
	return ksft_get_fail_cnt() ? ksft_exit_fail() : ksft_exit_pass();
}
