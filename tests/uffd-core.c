// SPDX-License-Identifier: GPL-2.0
/*
 * The core of the userfaultfd ABI beyond the memory types: who may create a
 * userfaultfd (UFFD_USER_MODE_ONLY, vm.unprivileged_userfaultfd,
 * /dev/userfaultfd), UFFD_FEATURE_EXACT_ADDRESS, fdinfo, the core fixes
 * of shared/SCENARIOS.md 22-26, and mremap() of hugetlbfs, which mainline's
 * own uffd tests use.  What the kernel under test offers comes
 * from uffd-claims.h ($UFFD_REF); a test of something it does not claim
 * checks that it is refused as on 5.10.
 */
#include <sched.h>
#include <time.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <linux/io_uring.h>

#include "uffd-test.h"

#define DEV_UFFD "/dev/userfaultfd"

static const struct uffd_claims *claims;
static size_t page;

struct env {
	struct verdict v;
};

static bool claims_feature(int bit)
{
	return claims->features & FEAT(bit);
}

/* A userfaultfd of flags (beyond O_CLOEXEC|O_NONBLOCK) with features; or -errno. */
static int uffd_new(int flags, uint64_t features)
{
	int fd = uffd_open_raw(flags), ret;

	if (fd < 0)
		return -errno;
	ret = uffd_api(fd, features, NULL);
	if (ret) {
		close(fd);
		return ret;
	}
	return fd;
}

/*
 * A page of anon memory registered MISSING with a new uffd of features (in
 * *uffdp); NULL after a fail().
 */
static char *missing_page(struct env *e, uint64_t features, int *uffdp)
{
	char *p;

	*uffdp = uffd_new(0, features);
	if (*uffdp < 0) {
		fail(e, "userfaultfd: %s", strerror(-*uffdp));
		return NULL;
	}
	p = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED ||
	    uffd_register(*uffdp, p, page, UFFDIO_REGISTER_MODE_MISSING, NULL)) {
		fail(e, "mmap or UFFDIO_REGISTER: %s", strerror(errno));
		return NULL;
	}
	return p;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static int uffd_copy(int uffd, void *dst, size_t len)
{
	static char src[HPAGE_SIZE];
	struct uffdio_copy c = {
		.dst = (unsigned long)dst, .src = (unsigned long)src, .len = len,
	};

	memset(src, 'C', len);
	return ioctl(uffd, UFFDIO_COPY, &c) ? -errno : 0;
}

/*
 * A missing page of anon memory registered with uffd, and a thread doing a
 * kernel access to it: read() from a pipe into it.
 */
struct kaccess {
	int uffd;
	char *p;
	int pipe[2];
	pthread_t t;
	ssize_t ret;
	int err;
};

static void *kaccess_read(void *arg)
{
	struct kaccess *k = arg;

	k->ret = read(k->pipe[0], k->p, 16);
	k->err = errno;
	return NULL;
}

static const char *kaccess_start(struct kaccess *k, int uffd)
{
	k->uffd = uffd;
	k->p = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (k->p == MAP_FAILED)
		return "mmap";
	if (uffd_register(uffd, k->p, page, UFFDIO_REGISTER_MODE_MISSING, NULL))
		return "UFFDIO_REGISTER";
	if (pipe(k->pipe) || write(k->pipe[1], "0123456789abcdef", 16) != 16)
		return "pipe";
	if (pthread_create(&k->t, NULL, kaccess_read, k))
		return "pthread_create";
	return NULL;
}

/*
 * The kernel access waited for the manager: its fault is reported, and
 * the read() completes after UFFDIO_COPY.  Returns NULL or why not.
 */
static const char *kaccess_waits(struct kaccess *k)
{
	struct uffd_msg msg;

	if (!uffd_msg_within(k->uffd, &msg, 3000)) {
		if (joined_within(k->t, 10))
			return "the read() did not wait for the manager";
		uffd_copy(k->uffd, k->p, page);
		pthread_join(k->t, NULL);
		return "no fault message for the read()";
	}
	if (msg.event != UFFD_EVENT_PAGEFAULT ||
	    msg.arg.pagefault.address != (unsigned long)k->p)
		return "unexpected message";
	if (uffd_copy(k->uffd, k->p, page))
		return "UFFDIO_COPY failed";
	pthread_join(k->t, NULL);
	if (k->ret != 16 || memcmp(k->p, "0123456789abcdef", 16))
		return "the read() after UFFDIO_COPY did not read the pipe";
	return NULL;
}

static void kaccess_end(struct kaccess *k)
{
	close(k->pipe[0]);
	close(k->pipe[1]);
	munmap(k->p, page);
}

/* A kernel access to a page registered with uffd waits for it; NULL or why not. */
static const char *kaccess_check(int uffd)
{
	struct kaccess k;
	const char *why = kaccess_start(&k, uffd);

	if (why)
		return why;
	why = kaccess_waits(&k);
	kaccess_end(&k);
	return why;
}

/* userfaultfd(UFFD_USER_MODE_ONLY) exists where claimed; unknown flags don't. */
static bool t_umo_flag(struct env *e)
{
	int fd = uffd_open_raw(UFFD_USER_MODE_ONLY);
	int err = errno;

	if (claims->user_mode_only && fd < 0)
		return fail(e, "userfaultfd(UFFD_USER_MODE_ONLY): %s", strerror(err));
	if (!claims->user_mode_only && !(fd < 0 && err == EINVAL))
		return fail(e, "userfaultfd(UFFD_USER_MODE_ONLY) on '%s': %s, not EINVAL",
			    claims->ref, fd < 0 ? strerror(err) : "success");
	if (fd >= 0)
		close(fd);
	fd = uffd_open_raw(2);
	if (!(fd < 0 && errno == EINVAL))
		return fail(e, "userfaultfd(2): %s, not EINVAL",
			    fd < 0 ? strerror(errno) : "success");
	return true;
}

/*
 * With UFFD_USER_MODE_ONLY a kernel access to a missing page fails at once
 * (EFAULT) while a user-mode access is reported as usual.
 */
static void *user_read(void *arg)
{
	return (void *)(unsigned long)*(volatile char *)arg;
}

static bool t_umo_kernel_fails(struct env *e)
{
	struct kaccess k;
	struct uffd_msg msg;
	const char *why;
	bool ok = true;
	pthread_t t;
	int uffd;

	if (!claims->user_mode_only)
		return skip(e, "no UFFD_USER_MODE_ONLY claimed");
	uffd = uffd_new(UFFD_USER_MODE_ONLY, 0);
	if (uffd < 0)
		return fail(e, "userfaultfd: %s", strerror(-uffd));
	why = kaccess_start(&k, uffd);
	if (why)
		return fail(e, "%s: %s", why, strerror(errno));
	if (!joined_within(k.t, 3000)) {
		uffd_copy(uffd, k.p, page);
		pthread_join(k.t, NULL);
		ok = fail(e, "read() into the missing page waited for the manager");
	} else if (!(k.ret < 0 && k.err == EFAULT)) {
		ok = fail(e, "read() into the missing page: %zd (%s), not EFAULT",
			  k.ret, strerror(k.err));
	}
	/* a load by the program itself is still the manager's */
	if (ok && pthread_create(&t, NULL, user_read, k.p))
		ok = fail(e, "pthread_create: %s", strerror(errno));
	else if (ok) {
		if (!uffd_msg_within(uffd, &msg, 3000) ||
		    msg.arg.pagefault.address != (unsigned long)k.p)
			ok = fail(e, "no fault message for a user-mode load");
		if (uffd_copy(uffd, k.p, page))
			ok = fail(e, "UFFDIO_COPY: %s", strerror(errno));
		pthread_join(t, NULL);
	}
	kaccess_end(&k);
	close(uffd);
	return ok;
}

/* Without the flag the same read() waits for the manager (5.10 as before). */
static bool t_kernel_waits(struct env *e)
{
	const char *why;
	int uffd = uffd_new(0, 0);

	if (uffd < 0)
		return fail(e, "userfaultfd: %s", strerror(-uffd));
	why = kaccess_check(uffd);
	close(uffd);
	return why ? fail(e, "%s", why) : true;
}

/* vm.unprivileged_userfaultfd = 0 as nobody. */
static const char *nobody_sysctl0(void *arg)
{
	int fd;

	fd = uffd_open_raw(0);
	if (!(fd < 0 && errno == EPERM))
		return "userfaultfd(0) with the sysctl at 0 is not EPERM";
	fd = uffd_open_raw(UFFD_USER_MODE_ONLY);
	if (claims->user_mode_only && fd < 0)
		return "userfaultfd(UFFD_USER_MODE_ONLY) refused";
	if (!claims->user_mode_only && !(fd < 0 && errno == EPERM))
		return "userfaultfd(UFFD_USER_MODE_ONLY) is not EPERM where unclaimed";
	if (fd >= 0 && uffd_api(fd, 0, NULL))
		return "UFFDIO_API on the user-mode-only uffd failed";
	return NULL;
}

/* vm.unprivileged_userfaultfd = 1 as nobody. */
static const char *nobody_sysctl1(void *arg)
{
	int fd = uffd_open_raw(0);

	if (fd < 0)
		return "userfaultfd(0) with the sysctl at 1 refused";
	if (uffd_api(fd, UFFD_FEATURE_EVENT_FORK, NULL) != -EPERM)
		return "UFFDIO_API(EVENT_FORK) without CAP_SYS_PTRACE is not EPERM";
	if (uffd_api(fd, 0, NULL))
		return "UFFDIO_API(0) failed";
	return NULL;
}

static bool t_unprivileged(struct env *e)
{
	int def = sysctl_get();
	bool ok;

	if (def != claims->unprivileged_default)
		return fail(e, "vm.unprivileged_userfaultfd is %d, '%s' defaults to %d",
			    def, claims->ref, claims->unprivileged_default);
	if (!sysctl_set(0))
		return fail(e, "cannot set " SYSCTL_UNPRIV);
	ok = as_nobody(&e->v, nobody_sysctl0, NULL);
	if (!sysctl_set(1))
		ok = fail(e, "cannot set " SYSCTL_UNPRIV);
	ok = ok && as_nobody(&e->v, nobody_sysctl1, NULL);
	sysctl_set(def);
	return ok;
}

/* A userfaultfd from /dev/userfaultfd; or -errno. */
static int dev_uffd(int dev, unsigned long flags)
{
	int fd = ioctl(dev, USERFAULTFD_IOC_NEW, flags);

	return fd < 0 ? -errno : fd;
}

static bool t_dev(struct env *e)
{
	struct uffdio_api api = { .api = UFFD_API };
	const char *why;
	struct stat st;
	int dev, fd;

	if (!claims->dev_userfaultfd) {
		if (!stat(DEV_UFFD, &st) || errno != ENOENT)
			return fail(e, DEV_UFFD " exists on '%s'", claims->ref);
		return true;
	}
	if (stat(DEV_UFFD, &st))
		return fail(e, DEV_UFFD ": %s", strerror(errno));
	if (!S_ISCHR(st.st_mode) || st.st_uid || (st.st_mode & 0777) != 0600)
		return fail(e, DEV_UFFD " is not a 0600 root character device (mode %o)",
			    st.st_mode);
	dev = open(DEV_UFFD, O_RDWR | O_CLOEXEC);
	if (dev < 0)
		return fail(e, "open " DEV_UFFD ": %s", strerror(errno));
	fd = dev_uffd(dev, 0x100);
	if (fd != -EINVAL)
		return fail(e, "USERFAULTFD_IOC_NEW(0x100): %s, not EINVAL", strerror(-fd));
	if (ioctl(dev, UFFDIO_API, &api) == 0 || errno != EINVAL)
		return fail(e, "UFFDIO_API on the device: not EINVAL");
	fd = dev_uffd(dev, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
	if (fd < 0)
		return fail(e, "USERFAULTFD_IOC_NEW(UFFD_USER_MODE_ONLY): %s", strerror(-fd));
	close(fd);
	/* a full userfaultfd: UFFDIO_API, and a kernel access waits for it */
	fd = dev_uffd(dev, O_CLOEXEC | O_NONBLOCK);
	close(dev);
	if (fd < 0)
		return fail(e, "USERFAULTFD_IOC_NEW: %s", strerror(-fd));
	if (!(fcntl(fd, F_GETFD) & FD_CLOEXEC) || !(fcntl(fd, F_GETFL) & O_NONBLOCK))
		return fail(e, "O_CLOEXEC or O_NONBLOCK not applied");
	if (uffd_api(fd, 0, &api) || api.features != claims->features)
		return fail(e, "UFFDIO_API on the new uffd");
	why = kaccess_check(fd);
	close(fd);
	return why ? fail(e, "%s", why) : true;
}

static const char *nobody_dev_denied(void *arg)
{
	int dev = open(DEV_UFFD, O_RDWR | O_CLOEXEC);

	return dev < 0 && errno == EACCES ? NULL : "opened a 0600 root " DEV_UFFD;
}

/* With access to the node, nobody gets a full uffd whatever the sysctl. */
static const char *nobody_dev_allowed(void *arg)
{
	int dev = open(DEV_UFFD, O_RDWR | O_CLOEXEC), fd;

	if (dev < 0)
		return "cannot open a 0666 " DEV_UFFD;
	fd = dev_uffd(dev, O_CLOEXEC | O_NONBLOCK);
	close(dev);
	if (fd < 0)
		return "USERFAULTFD_IOC_NEW refused";
	if (uffd_api(fd, 0, NULL))
		return "UFFDIO_API failed";
	return kaccess_check(fd);
}

static bool t_dev_perm(struct env *e)
{
	int def = sysctl_get();
	bool ok;

	if (!claims->dev_userfaultfd)
		return skip(e, "no /dev/userfaultfd claimed");
	if (!sysctl_set(0))
		return fail(e, "cannot set " SYSCTL_UNPRIV);
	ok = as_nobody(&e->v, nobody_dev_denied, NULL);
	if (chmod(DEV_UFFD, 0666))
		ok = fail(e, "chmod: %s", strerror(errno));
	ok = ok && as_nobody(&e->v, nobody_dev_allowed, NULL);
	chmod(DEV_UFFD, 0600);
	sysctl_set(def);
	return ok;
}

/* UFFD_FEATURE_EXACT_ADDRESS: the message carries the address of the access. */
struct exact {
	volatile char *addr;
};

static void *exact_read(void *arg)
{
	return (void *)(unsigned long)*((struct exact *)arg)->addr;
}

/* The address reported for a load at p + off, with or without the feature. */
static bool exact_once(struct env *e, enum uffd_mem mem, bool feature, unsigned long *got)
{
	size_t ps = mem_page_size(mem);
	size_t off = mem_is_hugetlb(mem) ? 0x123456 : 0x123;
	struct uffd_msg msg;
	struct exact x;
	pthread_t t;
	int uffd, fd;
	char *p;
	bool ok = true;

	uffd = uffd_new(0, feature ? UFFD_FEATURE_EXACT_ADDRESS : 0);
	if (uffd < 0)
		return fail(e, "userfaultfd: %s", strerror(-uffd));
	p = mem_map(mem, ps, &fd);
	if (p == MAP_FAILED) {
		close(uffd);
		return fail(e, "mmap: %s", strerror(errno));
	}
	if (uffd_register(uffd, p, ps, UFFDIO_REGISTER_MODE_MISSING, NULL)) {
		ok = fail(e, "UFFDIO_REGISTER: %s", strerror(errno));
		goto out;
	}
	x.addr = p + off;
	if (pthread_create(&t, NULL, exact_read, &x)) {
		ok = fail(e, "pthread_create: %s", strerror(errno));
		goto out;
	}
	*got = 0;
	if (uffd_msg_within(uffd, &msg, 3000))
		*got = msg.arg.pagefault.address - (unsigned long)p;
	else
		ok = fail(e, "no fault message");
	if (uffd_copy(uffd, p, ps))
		ok = fail(e, "UFFDIO_COPY at the page start: %s", strerror(errno));
	if (!joined_within(t, 3000))
		return fail(e, "the load was not woken by UFFDIO_COPY");
out:
	mem_unmap(p, ps, fd);
	close(uffd);
	return ok;
}

static bool t_exact(struct env *e, enum uffd_mem mem)
{
	size_t off = mem_is_hugetlb(mem) ? 0x123456 : 0x123;
	unsigned long got;

	if (!claims_feature(11)) {
		if (uffd_new(0, UFFD_FEATURE_EXACT_ADDRESS) != -EINVAL)
			return fail(e, "UFFDIO_API(EXACT_ADDRESS) is not EINVAL on '%s'",
				    claims->ref);
		return true;
	}
	if (!exact_once(e, mem, true, &got))
		return false;
	if (got != off)
		return fail(e, "with the feature: offset 0x%lx reported, not 0x%zx", got, off);
	if (!exact_once(e, mem, false, &got))
		return false;
	if (got)
		return fail(e, "without the feature: offset 0x%lx reported, not 0", got);
	return true;
}

/*
 * 22: close() of the uffd while another thread is in get_user_pages() on a
 * registered missing page.  mlock() populates its range with one GUP under
 * one mmap_lock hold: it faults in 1023 fresh pages, then the registered
 * one.  close() lands in that window at a random point; if the GUP then
 * finds the uffd released and spins, the close() waits for its lock for
 * good.  (process_vm_readv() would do too, but needs CROSS_MEMORY_ATTACH.)
 */
#define GUP_PAGES 1024

struct gup_race {
	char *region;
	volatile int go;
	int ret, err;
};

static void *gup_populate(void *arg)
{
	struct gup_race *g = arg;

	while (!__atomic_load_n(&g->go, __ATOMIC_ACQUIRE))
		;
	g->ret = mlock(g->region, GUP_PAGES * page);
	g->err = errno;
	return NULL;
}

/* One round; returns 0 or an exit code of the child. */
static int gup_round(struct gup_race *g, uint64_t delay_ns, bool with_uffd)
{
	pthread_t t;
	uint64_t t0;
	int uffd = -1;

	g->region = mmap(NULL, GUP_PAGES * page, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (g->region == MAP_FAILED)
		return 10;
	if (with_uffd) {
		uffd = uffd_new(0, 0);
		if (uffd < 0 || uffd_register(uffd, g->region + (GUP_PAGES - 1) * page,
					      page, UFFDIO_REGISTER_MODE_MISSING, NULL))
			return 11;
	}
	g->go = 0;
	if (pthread_create(&t, NULL, gup_populate, g))
		return 12;
	__atomic_store_n(&g->go, 1, __ATOMIC_RELEASE);
	t0 = now_ns();
	while (now_ns() - t0 < delay_ns)
		;
	if (uffd >= 0)
		close(uffd);
	pthread_join(t, NULL);
	munmap(g->region, GUP_PAGES * page);
	if (g->ret)
		fprintf(stderr, "# mlock: %s\n", strerror(g->err));
	return g->ret ? 13 : 0;
}

static void gup_child(int report)
{
	struct gup_race g;
	uint64_t span, t0, end;
	unsigned int rounds = 0;
	int ret;

	/* how long a pass over fresh pages takes, without a uffd */
	t0 = now_ns();
	ret = gup_round(&g, 0, false);
	span = now_ns() - t0;
	if (ret)
		_exit(ret);
	srandom(22);
	end = now_ns() + 3000000000ULL;
	while (now_ns() < end && rounds < 2000) {
		ret = gup_round(&g, (uint64_t)random() % span, true);
		if (ret)
			_exit(ret);
		rounds++;
		if (write(report, &rounds, sizeof(rounds)) != sizeof(rounds))
			_exit(14);
	}
	_exit(0);
}

static bool t_close_gup(struct env *e)
{
	unsigned int rounds = 0, r;
	struct pollfd pfd;
	int p[2], status;
	pid_t pid = fork_piped(&e->v, p);

	if (pid < 0)
		return false;
	if (!pid) {
		close(p[0]);
		gup_child(p[1]);
	}
	close(p[1]);
	/* a round takes milliseconds: 10 s without one is a hang */
	pfd = (struct pollfd){ .fd = p[0], .events = POLLIN };
	while (poll(&pfd, 1, 10000) == 1 && read(p[0], &r, sizeof(r)) == sizeof(r))
		rounds = r;
	close(p[0]);
	if (waitpid(pid, &status, WNOHANG) == 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		return fail(e, "round %u hung: close() and mlock() stuck for 10 s",
			    rounds + 1);
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		return fail(e, "child failed in round %u (status 0x%x)", rounds + 1, status);
	ksft_print_msg("close during GUP: %u rounds\n", rounds);
	return true;
}

/* 23: EAGAIN while a fork event is pending is written to the out fields. */
static bool t_eagain_out(struct env *e)
{
	static char src[4096];
	struct uffdio_zeropage z;
	struct uffdio_copy c;
	struct uffd_msg msg;
	struct pollfd pfd;
	pid_t pid = -1;
	int uffd, status, rc, rz, errc, errz;
	pthread_t t;
	char *p;

	p = missing_page(e, UFFD_FEATURE_EVENT_FORK, &uffd);
	if (!p)
		return false;
	if (pthread_create(&t, NULL, do_fork, &pid))
		return fail(e, "pthread_create: %s", strerror(errno));
	/* fork() waits in the kernel until its event is read */
	pfd = (struct pollfd){ .fd = uffd, .events = POLLIN };
	if (poll(&pfd, 1, 10000) != 1) {
		close(uffd);
		pthread_join(t, NULL);
		return fail(e, "no fork event");
	}
	c = (struct uffdio_copy){ .dst = (unsigned long)p, .src = (unsigned long)src,
				  .len = page, .copy = 0x5a5a };
	rc = ioctl(uffd, UFFDIO_COPY, &c);
	errc = errno;
	z = (struct uffdio_zeropage){ .range = { (unsigned long)p, page }, .zeropage = 0x5a5a };
	rz = ioctl(uffd, UFFDIO_ZEROPAGE, &z);
	errz = errno;
	if (read(uffd, &msg, sizeof(msg)) != sizeof(msg) || msg.event != UFFD_EVENT_FORK)
		return fail(e, "reading the fork event: %s", strerror(errno));
	close(msg.arg.fork.ufd);
	pthread_join(t, NULL);
	waitpid(pid, &status, 0);
	munmap(p, page);
	close(uffd);
	if (rc != -1 || errc != EAGAIN)
		return fail(e, "UFFDIO_COPY during fork: %d (%s), not EAGAIN", rc, strerror(errc));
	if (rz != -1 || errz != EAGAIN)
		return fail(e, "UFFDIO_ZEROPAGE during fork: %d (%s), not EAGAIN", rz,
			    strerror(errz));
	if (c.copy != -EAGAIN)
		return fail(e, "uffdio_copy.copy is %lld, not -EAGAIN", (long long)c.copy);
	if (z.zeropage != -EAGAIN)
		return fail(e, "uffdio_zeropage.zeropage is %lld, not -EAGAIN",
			    (long long)z.zeropage);
	return true;
}

/*
 * 24: an io_uring ring mapping (VM_IO|VM_PFNMAP, from a driver that sets no
 * vm_ops) cannot be registered.  5.10 refuses it because mmap_region() gives
 * such a vma dummy_vm_ops, so that it does not pass for anonymous memory;
 * 6.12 refuses VM_SPECIAL vmas by name.
 */
static bool t_special(struct env *e)
{
	static const uint64_t modes[] = {
		UFFDIO_REGISTER_MODE_MISSING, UFFDIO_REGISTER_MODE_WP,
	};
	struct io_uring_params prm;
	size_t len, i;
	int ring, uffd, ret;
	void *p;
	bool ok = true;

	memset(&prm, 0, sizeof(prm));
	ring = syscall(__NR_io_uring_setup, 4, &prm);
	if (ring < 0)
		return skip(e, "no io_uring");
	len = prm.sq_off.array + prm.sq_entries * sizeof(__u32);
	len = (len + page - 1) / page * page;
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring,
		 IORING_OFF_SQ_RING);
	if (p == MAP_FAILED) {
		close(ring);
		return fail(e, "mmap of the SQ ring: %s", strerror(errno));
	}
	uffd = uffd_new(0, 0);
	if (uffd < 0)
		return fail(e, "userfaultfd: %s", strerror(-uffd));
	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		ret = uffd_register(uffd, p, len, modes[i], NULL);
		if (!ret)
			uffd_unregister(uffd, p, len);
		if (ret != -EINVAL)
			ok = fail(e, "registering an io_uring ring (mode %llu): %s, not EINVAL",
				  (unsigned long long)modes[i], ret ? strerror(-ret) : "success");
	}
	close(uffd);
	munmap(p, len);
	close(ring);
	return ok;
}

/* 25: registering part of a vma splits it; unregistering merges it back. */
struct vma_state {
	int nr;			/* vmas in the region */
	unsigned int um;	/* pages whose vma says "um" */
};

static struct vma_state vmas_of(char *p, int pages, size_t ps)
{
	struct vma_state s = { 0, 0 };
	unsigned long a = (unsigned long)p, lo, hi, start = 0, end = 0;
	unsigned long last = a + pages * ps;
	char line[512];
	FILE *f = fopen("/proc/self/smaps", "r");
	int i;

	if (!f)
		return (struct vma_state){ -1, 0 };
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, ' ') &&
		    line[strspn(line, "0123456789abcdef")] == '-') {
			start = lo;
			end = hi;
			if (start < last && end > a)
				s.nr++;
			continue;
		}
		if (!strncmp(line, "VmFlags:", 8) && start < last && end > a &&
		    strstr(line, " um"))
			for (i = 0; i < pages; i++)
				if (a + i * ps >= start && a + i * ps < end)
					s.um |= 1u << i;
	}
	fclose(f);
	return s;
}

static bool vmas_are(struct env *e, const char *when, char *p, size_t ps, int nr,
		     unsigned int um)
{
	struct vma_state s = vmas_of(p, 8, ps);

	if (s.nr != nr || s.um != um)
		return fail(e, "%s: %d vmas, um pages 0x%x; want %d vmas, um 0x%x",
			    when, s.nr, s.um, nr, um);
	return true;
}

/* A read of page i is reported (resolved by COPY), or not. */
static bool fault_at(struct env *e, int uffd, char *p, size_t ps, int i, bool reported)
{
	struct uffd_msg msg;
	struct exact x = { .addr = p + i * ps };
	pthread_t t;
	bool got;

	if (pthread_create(&t, NULL, exact_read, &x))
		return fail(e, "pthread_create: %s", strerror(errno));
	got = uffd_msg_within(uffd, &msg, reported ? 3000 : 300);
	if (got)
		uffd_copy(uffd, p + i * ps, ps);
	if (!joined_within(t, 3000))
		return fail(e, "the read of page %d hangs", i);
	if (got != reported)
		return fail(e, "a read of page %d was %s", i,
			    got ? "reported" : "not reported");
	if (got && msg.arg.pagefault.address != (unsigned long)(p + i * ps))
		return fail(e, "page %d reported at the wrong address", i);
	return true;
}

static bool t_split(struct env *e, enum uffd_mem mem)
{
	size_t ps = mem_page_size(mem);
	bool merge = !mem_is_hugetlb(mem);	/* hugetlb vmas never merge */
	int uffd, fd;
	char *p;
	bool ok;

	uffd = uffd_new(0, 0);
	if (uffd < 0)
		return fail(e, "userfaultfd: %s", strerror(-uffd));
	p = mem_map(mem, 8 * ps, &fd);
	if (p == MAP_FAILED)
		return fail(e, "mmap: %s", strerror(errno));
	/*
	 * Pages 0 and 7 are written first: the private types get their
	 * anon_vma before the split, so that the parts can merge again
	 * (a part without one does not merge with a part with one).
	 */
	p[0] = p[7 * ps] = 1;
	ok = vmas_are(e, "mapped", p, ps, 1, 0);
	ok = ok && !uffd_register(uffd, p + 2 * ps, 4 * ps, UFFDIO_REGISTER_MODE_MISSING, NULL);
	ok = ok && vmas_are(e, "registered pages 2-5", p, ps, 3, 0x3c);
	ok = ok && fault_at(e, uffd, p, ps, 1, false) && fault_at(e, uffd, p, ps, 2, true) &&
	     fault_at(e, uffd, p, ps, 5, true) && fault_at(e, uffd, p, ps, 6, false);
	ok = ok && !uffd_unregister(uffd, p + 3 * ps, 2 * ps);
	ok = ok && vmas_are(e, "unregistered pages 3-4", p, ps, 5, 0x24);
	ok = ok && fault_at(e, uffd, p, ps, 3, false) && fault_at(e, uffd, p, ps, 4, false);
	ok = ok && !uffd_register(uffd, p + 3 * ps, 2 * ps, UFFDIO_REGISTER_MODE_MISSING, NULL);
	ok = ok && vmas_are(e, "registered pages 3-4 again", p, ps, merge ? 3 : 5, 0x3c);
	ok = ok && !uffd_unregister(uffd, p, 8 * ps);
	ok = ok && vmas_are(e, "unregistered all", p, ps, merge ? 1 : 5, 0);
	ok = ok && fault_at(e, uffd, p, ps, 7, false);
	if (!ok && !e->v.why[0])
		fail(e, "register/unregister: %s", strerror(errno));
	mem_unmap(p, 8 * ps, fd);
	close(uffd);
	return ok;
}

/*
 * 26: UFFDIO_WRITEPROTECT from another process racing with the exit of the
 * process whose uffd it is: the ioctl must fail cleanly (ESRCH) once the
 * mm is gone.
 */
#define WP_EXIT_PAGES 64

static bool send_fd(int sock, int fd, void *data, size_t len)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { data, len };
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);

	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	return sendmsg(sock, &mh, 0) == (ssize_t)len;
}

static int recv_fd(int sock, void *data, size_t len)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { data, len };
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *c;
	int fd;

	if (recvmsg(sock, &mh, 0) != (ssize_t)len)
		return -1;
	c = CMSG_FIRSTHDR(&mh);
	if (!c || c->cmsg_type != SCM_RIGHTS)
		return -1;
	memcpy(&fd, CMSG_DATA(c), sizeof(int));
	return fd;
}

static void wp_exit_child(int sock, unsigned int delay_us)
{
	size_t len = WP_EXIT_PAGES * page;
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int uffd = uffd_new(0, UFFD_FEATURE_PAGEFAULT_FLAG_WP);

	if (p == MAP_FAILED || uffd < 0)
		_exit(1);
	memset(p, 1, len);
	if (uffd_register(uffd, p, len, UFFDIO_REGISTER_MODE_WP, NULL) ||
	    !send_fd(sock, uffd, &p, sizeof(p)))
		_exit(1);
	usleep(delay_us);
	_exit(0);
}

static bool t_wp_exit(struct env *e)
{
	unsigned int rounds = 0;
	uint64_t end = now_ns() + 2000000000ULL;
	unsigned long ops = 0;

	srandom(26);
	while (now_ns() < end) {
		int sv[2], uffd, status, err = 0;
		bool protect = true;
		char *p;
		pid_t pid;

		if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
			return fail(e, "socketpair: %s", strerror(errno));
		pid = fork();
		if (pid < 0)
			return fail(e, "fork: %s", strerror(errno));
		if (!pid) {
			close(sv[0]);
			wp_exit_child(sv[1], random() % 2000);
		}
		close(sv[1]);
		uffd = recv_fd(sv[0], &p, sizeof(p));
		close(sv[0]);
		if (uffd < 0) {
			waitpid(pid, &status, 0);
			return fail(e, "no uffd from the child");
		}
		/* until the mm is gone */
		while (!err) {
			err = uffd_wp(uffd, p, WP_EXIT_PAGES * page, protect);
			protect = !protect;
			ops++;
		}
		waitpid(pid, &status, 0);
		close(uffd);
		if (err != -ESRCH)
			return fail(e, "UFFDIO_WRITEPROTECT after the exit: %s, not ESRCH",
				    strerror(-err));
		rounds++;
	}
	ksft_print_msg("writeprotect vs exit: %u rounds, %lu ioctls\n", rounds, ops);
	return true;
}

/* fdinfo: mainline's format, pending and total counts of a fault. */
static bool fdinfo_is(struct env *e, int uffd, const char *when, unsigned long pending,
		      unsigned long total, uint64_t features)
{
	char path[64], want[200], got[200] = "";
	ssize_t n;
	char *s;
	int fd;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", uffd);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return fail(e, "%s: %s", path, strerror(errno));
	n = read(fd, got, sizeof(got) - 1);
	close(fd);
	if (n > 0)
		got[n] = 0;
	s = strstr(got, "pending:");
	snprintf(want, sizeof(want), "pending:\t%lu\ntotal:\t%lu\nAPI:\t%x:%llx:%llx\n",
		 pending, total, (unsigned int)UFFD_API, (unsigned long long)(features | (1u << 31)),
		 (unsigned long long)(claims->range_ioctls | IOC_API_SET));
	if (!s || strcmp(s, want))
		return fail(e, "fdinfo %s: \"%s\", want \"%s\"", when, s ? s : got, want);
	return true;
}

static bool t_fdinfo(struct env *e)
{
	uint64_t features = UFFD_FEATURE_THREAD_ID;
	struct uffd_msg msg;
	struct exact x;
	pthread_t t;
	bool ok;
	int uffd;
	char *p;

	p = missing_page(e, features, &uffd);
	if (!p)
		return false;
	ok = fdinfo_is(e, uffd, "idle", 0, 0, features);
	x.addr = p;
	if (pthread_create(&t, NULL, exact_read, &x))
		return fail(e, "pthread_create: %s", strerror(errno));
	for (int i = 0; i < 300 && !fdinfo_is(e, uffd, "", 1, 1, features); i++) {
		e->v.why[0] = 0;
		usleep(10000);
	}
	ok = ok && fdinfo_is(e, uffd, "fault pending", 1, 1, features);
	if (!uffd_msg_within(uffd, &msg, 3000))
		ok = fail(e, "no fault message");
	ok = ok && fdinfo_is(e, uffd, "fault read", 0, 1, features);
	uffd_copy(uffd, p, page);
	if (!joined_within(t, 3000))
		return fail(e, "the load was not woken");
	ok = ok && fdinfo_is(e, uffd, "fault resolved", 0, 0, features);
	munmap(p, page);
	close(uffd);
	return ok;
}

/*
 * 27 (found by uffd-fuzz; not in SCENARIOS.md): UFFDIO_COPY and ZEROPAGE
 * into a registered anon THP while move_pages() migrates it.  For a moment
 * its PMD holds a migration entry, which is no page table: the answer is
 * EEXIST, as for the THP itself.  5.10.262 walked it as a page table and
 * oopsed, so the test does not run where that is known.
 */
struct migrator {
	char *p;
	volatile bool stop;
	unsigned long moved;
};

static void *migrate_thp(void *arg)
{
	struct migrator *m = arg;
	void *pages[1] = { m->p };
	int node, status;

	for (node = 1; !m->stop; node ^= 1)
		if (!syscall(__NR_move_pages, 0, 1, pages, &node, &status, 1 << 1) &&
		    status == node)
			m->moved++;
	return NULL;
}

static bool t_fill_migrating_thp(struct env *e)
{
	static char fill_src[4096];
	struct migrator m = { 0 };
	uint64_t until = now_ns() + 3000000000ULL;
	unsigned long i, fills = 0;
	pthread_t t;
	int uffd, ret;
	bool ok = true;

	if (claims->known_broken & SCENARIO(27))
		return skip(e, "known to oops this kernel");
	m.p = map_aligned(HPAGE_SIZE, HPAGE_SIZE, MAP_PRIVATE, -1);
	if (m.p == MAP_FAILED)
		return fail(e, "mmap: %s", strerror(errno));
	madvise(m.p, HPAGE_SIZE, MADV_HUGEPAGE);
	memset(m.p, 1, HPAGE_SIZE);
	if (smaps_kb(m.p, "AnonHugePages") != 2048) {
		munmap(m.p, HPAGE_SIZE);
		return skip(e, "no THP");
	}
	uffd = uffd_new(0, 0);
	if (uffd < 0)
		return fail(e, "userfaultfd: %s", strerror(-uffd));
	ret = uffd_register(uffd, m.p, HPAGE_SIZE, UFFDIO_REGISTER_MODE_MISSING, NULL);
	if (ret)
		return fail(e, "UFFDIO_REGISTER: %s", strerror(-ret));
	if (pthread_create(&t, NULL, migrate_thp, &m))
		return fail(e, "pthread_create: %s", strerror(errno));
	for (i = 0; ok && now_ns() < until; i++) {
		char *dst = m.p + (i % 512) * page;

		if (i & 1) {
			struct uffdio_zeropage z = {
				.range = { .start = (unsigned long)dst, .len = page },
			};

			ret = ioctl(uffd, UFFDIO_ZEROPAGE, &z) ? errno : 0;
		} else {
			struct uffdio_copy c = {
				.dst = (unsigned long)dst,
				.src = (unsigned long)fill_src, .len = page,
			};

			ret = ioctl(uffd, UFFDIO_COPY, &c) ? errno : 0;
		}
		if (ret != EEXIST)
			ok = fail(e, "%s into a present page: %s, not EEXIST",
				  i & 1 ? "ZEROPAGE" : "COPY", ret ? strerror(ret) : "success");
		fills++;
	}
	m.stop = true;
	pthread_join(t, NULL);
	close(uffd);
	munmap(m.p, HPAGE_SIZE);
	ksft_print_msg("%lu fills, %lu THP migrations\n", fills, m.moved);
	if (ok && !m.moved)
		return skip(e, "the THP never migrated");
	return ok;
}

/* Every byte of [p, p+len) is c. */
static bool bytes_all(struct env *e, const char *what, const char *p, size_t len, char c)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i] != c)
			return fail(e, "%s: byte %zu is 0x%02x, not 0x%02x", what, i,
				    (unsigned char)p[i], (unsigned char)c);
	return true;
}

/* mremap(old, len, new_len, flags, to) fails with EINVAL and moves nothing. */
static bool mremap_einval(struct env *e, const char *what, void *old, size_t len,
			  size_t new_len, int flags, void *to)
{
	void *q = mremap(old, len, new_len, flags, to);

	if (q != MAP_FAILED)
		return fail(e, "mremap of %s succeeded", what);
	if (errno != EINVAL)
		return fail(e, "mremap of %s: %s, not EINVAL", what, strerror(errno));
	return true;
}

/*
 * mremap() moves the middle of a mapping (Linux 5.16 for hugetlbfs; 6.12's
 * uffd tests move hugetlb areas): the data moves, a page never touched
 * faults in at the new place, the rest stays.  A hugetlb range moves in
 * whole huge pages and never grows (EINVAL), and the reservations of a
 * private one move with it: once all is unmapped, the pool's free and
 * reserved counts are back where they were (28: not on 6.12).
 */
static bool t_mremap(struct env *e, enum uffd_mem mem)
{
	size_t ps = mem_page_size(mem);
	long free0 = meminfo("HugePages_Free"), rsvd0 = meminfo("HugePages_Rsvd");
	long free1, rsvd1;
	char *p, *to, *q, *alias;
	int fd;
	bool ok = true;

	/* the leak would starve the hugetlb tests that come after this one */
	if (mem == MEM_HUGETLB_PRIVATE && (claims->known_broken & SCENARIO(28)))
		return fail(e, "not run: known to leak huge page reservations");
	p = mem_map(mem, 4 * ps, &fd);
	if (p == MAP_FAILED)
		return fail(e, "mmap: %s", strerror(errno));
	/* pages 1 and 3 written; 0 and 2 never touched */
	memset(p + ps, 'b', ps);
	memset(p + 3 * ps, 'd', ps);
	to = map_aligned(4 * ps, HPAGE_SIZE, MAP_PRIVATE | MAP_NORESERVE, -1);
	if (to == MAP_FAILED) {
		mem_unmap(p, 4 * ps, fd);
		return fail(e, "mmap: %s", strerror(errno));
	}
	/* 5.10 without hugetlb mremap() returns the address for old == new */
	if (mem_is_hugetlb(mem) && claims->hugetlb_mremap)
		ok = mremap_einval(e, "an unaligned address", p + page, ps - page,
				   ps - page, MREMAP_MAYMOVE, NULL) &&
		     mremap_einval(e, "a growing range", p + 3 * ps, ps, 2 * ps,
				   MREMAP_MAYMOVE, NULL) &&
		     mremap_einval(e, "to an unaligned address", p + ps, ps, ps,
				   MREMAP_MAYMOVE | MREMAP_FIXED, to + page);
	q = mremap(p + ps, 2 * ps, 2 * ps, MREMAP_MAYMOVE | MREMAP_FIXED, to);
	if (q == MAP_FAILED) {
		int err = errno;

		mem_unmap(p, 4 * ps, fd);
		munmap(to, 4 * ps);
		if (ok && err == EINVAL && mem_is_hugetlb(mem) && !claims->hugetlb_mremap)
			return skip(e, "no mremap of hugetlbfs (Linux 5.16+)");
		return fail(e, "mremap: %s", strerror(err));
	}
	ok = ok && (q == to || fail(e, "moved to %p, not %p", q, to));
	/* page 1 moved with its data; page 2 faults in as zeros */
	ok = ok && bytes_all(e, "moved page 1", q, ps, 'b') &&
	     bytes_all(e, "moved page 2", q + ps, ps, 0);
	if (ok) {
		memset(q + ps, 'c', ps);
		memset(p, 'a', ps);
	}
	ok = ok && bytes_all(e, "page 0", p, ps, 'a') &&
	     bytes_all(e, "page 3", p + 3 * ps, ps, 'd') &&
	     bytes_all(e, "moved page 2", q + ps, ps, 'c');
	/* a shared mapping still maps the same file pages */
	if (ok && mem_is_shared(mem)) {
		alias = mmap(NULL, 4 * ps, PROT_READ, MAP_SHARED, fd, 0);
		if (alias == MAP_FAILED) {
			ok = fail(e, "mmap of the file: %s", strerror(errno));
		} else {
			ok = bytes_all(e, "file page 0", alias, ps, 'a') &&
			     bytes_all(e, "file page 1", alias + ps, ps, 'b') &&
			     bytes_all(e, "file page 2", alias + 2 * ps, ps, 'c') &&
			     bytes_all(e, "file page 3", alias + 3 * ps, ps, 'd');
			munmap(alias, 4 * ps);
		}
	}
	/* shrinking in place keeps the first page */
	if (ok && mremap(q, 2 * ps, ps, 0) != q)
		ok = fail(e, "shrinking the moved range: %s", strerror(errno));
	ok = ok && bytes_all(e, "moved page 1 after shrinking", q, ps, 'b');
	munmap(to, 4 * ps);
	mem_unmap(p, 4 * ps, fd);
	free1 = meminfo("HugePages_Free");
	rsvd1 = meminfo("HugePages_Rsvd");
	if (ok && (free1 != free0 || rsvd1 != rsvd0))
		ok = fail(e, "huge page pool after munmap: %ld free, %ld reserved; before: %ld, %ld",
			  free1, rsvd1, free0, rsvd0);
	return ok;
}

struct test {
	int nr;			/* shared/SCENARIOS.md, or 0 */
	const char *name;
	bool (*run)(struct env *e);
	bool (*run_mem)(struct env *e, enum uffd_mem mem);
};

static const struct test tests[] = {
	{ .nr = 0, .name = "user-mode only: the flag", .run = t_umo_flag },
	{ .nr = 0, .name = "user-mode only: a kernel access fails, a user access is reported", .run = t_umo_kernel_fails },
	{ .nr = 0, .name = "without user-mode only: a kernel access waits for the manager", .run = t_kernel_waits },
	{ .nr = 0, .name = "unprivileged users: vm.unprivileged_userfaultfd and EVENT_FORK", .run = t_unprivileged },
	{ .nr = 0, .name = "/dev/userfaultfd", .run = t_dev },
	{ .nr = 0, .name = "/dev/userfaultfd: the node's permissions decide", .run = t_dev_perm },
	{ .nr = 0, .name = "exact address", .run_mem = t_exact },
	{ .nr = 0, .name = "fdinfo", .run = t_fdinfo },
	{ .nr = 22, .name = "close during GUP", .run = t_close_gup },
	{ .nr = 23, .name = "EAGAIN in the out fields of COPY and ZEROPAGE", .run = t_eagain_out },
	{ .nr = 24, .name = "VM_SPECIAL vmas cannot be registered", .run = t_special },
	{ .nr = 25, .name = "register and unregister split and merge vmas", .run_mem = t_split },
	{ .nr = 26, .name = "UFFDIO_WRITEPROTECT racing with exit", .run = t_wp_exit },
	{ .nr = 28, .name = "mremap moves part of a mapping", .run_mem = t_mremap },
	{ .nr = 27, .name = "COPY and ZEROPAGE into a THP being migrated", .run = t_fill_migrating_thp },
};

#define NR_TESTS (sizeof(tests) / sizeof(tests[0]))

static void report(const struct test *t, struct env *e, bool ok, const char *mem)
{
	char name[160];

	snprintf(name, sizeof(name), "%d %s%s%s", t->nr, t->name, mem ? " " : "",
		 mem ? mem : "");
	verdict_report(&e->v, ok, t->nr, claims, name);
}

int main(void)
{
	unsigned int plan = 0;
	size_t i;
	int mem;

	claims = uffd_claims_of_kernel();
	page = getpagesize();
	for (i = 0; i < NR_TESTS; i++)
		plan += tests[i].run ? 1 : MEM_NR;
	ksft_print_header();
	ksft_set_plan(plan);
	for (i = 0; i < NR_TESTS; i++) {
		struct env e;

		if (tests[i].run) {
			memset(&e, 0, sizeof(e));
			report(&tests[i], &e, tests[i].run(&e), NULL);
			continue;
		}
		for (mem = 0; mem < MEM_NR; mem++) {
			memset(&e, 0, sizeof(e));
			report(&tests[i], &e, tests[i].run_mem(&e, mem), uffd_mem_names[mem]);
		}
	}
	return ksft_get_fail_cnt() ? ksft_exit_fail() : ksft_exit_pass();
}
