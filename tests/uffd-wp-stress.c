// SPDX-License-Identifier: GPL-2.0
/*
 * Race stress of userfaultfd write-protection on shmem or hugetlbfs: writer
 * threads write and verify a MAP_SHARED memfd region while a protector thread
 * write-protects all of it again and again (a "snapshot" per round), and
 * racer threads page it out (MADV_PAGEOUT, zram swap in the guest), zap it
 * (MADV_DONTNEED), punch holes into it and fork children that must see no
 * protection (no UFFD_FEATURE_EVENT_FORK).
 *
 * Checked: no byte changes unexpectedly (each writer owns a slot of every
 * page; a punched hole resets them), and no protection is lost: a write to
 * a page protected since its last wp fault must raise a wp fault.  The wp
 * handler resolves faults and counts them per page.
 *
 * MEM=shmem (default, 256 pages) or hugetlb (16 huge pages; MADV_PAGEOUT does
 * not apply, and MADV_DONTNEED only where the kernel supports it there),
 * RACERS=comma-separated subset of pageout,dontneed,punch,fork (default: all),
 * DURATION=seconds (default 10), SEED=n (default: time); all printed.
 */
#include "uffd-test.h"

#include <signal.h>
#include <time.h>
#include <sys/wait.h>

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif

#define NPAGES_MAX	256
#define NWRITERS	3

static size_t psize, npages;
static char *area;
static int mfd, uffd;
static volatile bool stop, stop_handler;
static unsigned int stress_seed;
/* Which racers run: bit n for case n of racer(). */
static const char *const racer_names[] = { "pageout", "dontneed", "punch", "fork" };
static unsigned int racers = 0xf;

/* Per page: writers and the hole puncher serialize on it. */
static pthread_mutex_t page_lock[NPAGES_MAX];
/* expected[page][writer]: the value of the writer's slot in the page. */
static uint64_t expected[NPAGES_MAX][NWRITERS];
/* Protected since its last wp fault, and faults seen; under wp_lock. */
static pthread_mutex_t wp_lock = PTHREAD_MUTEX_INITIALIZER;
static bool armed[NPAGES_MAX];
static unsigned long faults[NPAGES_MAX];

static unsigned long n_writes, n_rounds, n_pageout, n_dontneed, n_punch,
	n_fork, n_faults;
static unsigned long corrupt, lost, child_bad;

static uint64_t *slot(size_t page, int w)
{
	return (uint64_t *)(area + page * psize) + w;
}

static void *handler(void *arg)
{
	struct pollfd pfd = { .fd = uffd, .events = POLLIN };
	struct uffd_msg msg;

	/* Runs until the writers are gone: one may wait for a fault. */
	while (!stop_handler) {
		if (poll(&pfd, 1, 100) <= 0)
			continue;
		if (read(uffd, &msg, sizeof(msg)) != sizeof(msg))
			continue;
		if (msg.event != UFFD_EVENT_PAGEFAULT ||
		    !(msg.arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WP)) {
			ksft_print_msg("unexpected event %u\n", msg.event);
			__atomic_add_fetch(&corrupt, 1, __ATOMIC_SEQ_CST);
			continue;
		}
		unsigned long a = msg.arg.pagefault.address & ~(psize - 1);
		size_t i = (a - (unsigned long)area) / psize;

		pthread_mutex_lock(&wp_lock);
		if (uffd_wp(uffd, (void *)a, psize, false))
			ksft_print_msg("un-protect: %s\n", strerror(errno));
		armed[i] = false;
		faults[i]++;
		n_faults++;
		pthread_mutex_unlock(&wp_lock);
	}
	return NULL;
}

static void *writer(void *arg)
{
	int w = (int)(long)arg;
	unsigned int seed = stress_seed + w * 7919;

	while (!stop) {
		size_t i = rnd(&seed) % npages;
		unsigned long before;
		bool was_armed;
		uint64_t v;

		pthread_mutex_lock(&page_lock[i]);
		v = *slot(i, w);
		if (v != expected[i][w]) {
			ksft_print_msg("page %zu slot %d: %llu, expected %llu\n", i, w,
				       (unsigned long long)v,
				       (unsigned long long)expected[i][w]);
			__atomic_add_fetch(&corrupt, 1, __ATOMIC_SEQ_CST);
		}
		pthread_mutex_lock(&wp_lock);
		was_armed = armed[i];
		before = faults[i];
		pthread_mutex_unlock(&wp_lock);
		*(volatile uint64_t *)slot(i, w) = ++expected[i][w];
		pthread_mutex_lock(&wp_lock);
		if (was_armed && faults[i] == before) {
			ksft_print_msg("page %zu: write went through a protection\n", i);
			lost++;
		}
		pthread_mutex_unlock(&wp_lock);
		pthread_mutex_unlock(&page_lock[i]);
		__atomic_add_fetch(&n_writes, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static void *protector(void *arg)
{
	size_t i;

	while (!stop) {
		pthread_mutex_lock(&wp_lock);
		if (uffd_wp(uffd, area, npages * psize, true))
			ksft_print_msg("protect: %s\n", strerror(errno));
		for (i = 0; i < npages; i++)
			armed[i] = true;
		pthread_mutex_unlock(&wp_lock);
		n_rounds++;
		usleep(20000);
	}
	return NULL;
}

/* A child without the fork event: no protection, no stale marker. */
static void forker(void)
{
	int status;
	size_t i;
	pid_t pid = fork();

	if (pid < 0)
		return;
	if (!pid) {
		for (i = 0; i < npages; i++)
			if (pagemap(area + i * psize) & PM_UFFD_WP)
				_exit(1);
		/* Reading faults in pages behind markers the child has none of. */
		for (i = 0; i < npages; i++)
			(void)*(volatile char *)(area + i * psize);
		_exit(0);
	}
	if (waitpid(pid, &status, 0) == pid && (!WIFEXITED(status) || WEXITSTATUS(status)))
		child_bad++;
	n_fork++;
}

static void *racer(void *arg)
{
	unsigned int seed = (unsigned int)(long)arg;

	while (!stop) {
		size_t i = rnd(&seed) % npages, n = 1 + rnd(&seed) % 16;
		unsigned int kind = rnd(&seed) % 4;
		int w;

		if (i + n > npages)
			n = npages - i;
		switch (racers & (1u << kind) ? kind : 4) {
		case 0:
			/* Counted where the kernel does it (not hugetlbfs) */
			if (!madvise(area + i * psize, n * psize, MADV_PAGEOUT))
				n_pageout++;
			break;
		case 1:
			if (!madvise(area + i * psize, n * psize, MADV_DONTNEED))
				n_dontneed++;
			break;
		case 2:
			pthread_mutex_lock(&page_lock[i]);
			if (fallocate(mfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				      i * psize, psize))
				ksft_print_msg("punch: %s\n", strerror(errno));
			for (w = 0; w < NWRITERS; w++)
				expected[i][w] = 0;
			pthread_mutex_unlock(&page_lock[i]);
			n_punch++;
			break;
		case 3:
			forker();
			break;
		default:
			break;
		}
		usleep(1000);
	}
	return NULL;
}

int main(void)
{
	const struct uffd_claims *claims = uffd_claims_of_kernel();
	const char *d = getenv("DURATION"), *s = getenv("SEED");
	unsigned int duration = d ? atoi(d) : 10;
	unsigned int seed = s ? strtoul(s, NULL, 0) : (unsigned int)time(NULL);
	const char *m = getenv("MEM"), *rs = getenv("RACERS");
	enum uffd_mem mem = m && !strcmp(m, "hugetlb") ? MEM_HUGETLB : MEM_SHMEM;
	pthread_t th, pt, rt, wt[NWRITERS];
	size_t i;
	int ret, w;

	ksft_print_header();
	ksft_set_plan(4);
	if (!(claims->modes[mem] & CLAIM_WP)) {
		ksft_test_result_skip("'%s' claims no wp on %s\n", claims->ref,
				      uffd_mem_names[mem]);
		ksft_test_result_skip("lost protection\n");
		ksft_test_result_skip("fork children\n");
		ksft_test_result_skip("clean after unregister\n");
		return ksft_exit_pass();
	}
	if (rs) {
		racers = 0;
		for (i = 0; i < 4; i++)
			if (strstr(rs, racer_names[i]))
				racers |= 1u << i;
	}
	ksft_print_msg("MEM=%s RACERS=%s DURATION=%u SEED=%u\n", uffd_mem_names[mem],
		       rs ? rs : "all", duration, seed);
	stress_seed = seed;
	psize = mem_page_size(mem);
	npages = mem_is_hugetlb(mem) ? 16 : NPAGES_MAX;
	area = mem_map(mem, npages * psize, &mfd);
	if (area == MAP_FAILED)
		ksft_exit_fail_msg("mmap: %s\n", strerror(errno));
	for (i = 0; i < npages; i++)
		pthread_mutex_init(&page_lock[i], NULL);
	uffd = uffd_open(0);
	ret = uffd_register(uffd, area, npages * psize, UFFDIO_REGISTER_MODE_WP, NULL);
	if (ret)
		ksft_exit_fail_msg("UFFDIO_REGISTER: %s\n", strerror(-ret));
	pthread_create(&th, NULL, handler, NULL);
	for (w = 0; w < NWRITERS; w++)
		pthread_create(&wt[w], NULL, writer, (void *)(long)w);
	pthread_create(&pt, NULL, protector, NULL);
	pthread_create(&rt, NULL, racer, (void *)(long)seed);
	sleep(duration);
	stop = true;
	pthread_join(rt, NULL);
	pthread_join(pt, NULL);
	for (w = 0; w < NWRITERS; w++)
		pthread_join(wt[w], NULL);
	stop_handler = true;
	pthread_join(th, NULL);

	ksft_print_msg("%lu writes, %lu wp faults, %lu protect rounds, %lu pageout, %lu dontneed, %lu punch, %lu fork in %u s\n",
		       n_writes, n_faults, n_rounds, n_pageout, n_dontneed, n_punch,
		       n_fork, duration);
	ksft_print_msg("per second: %lu writes, %lu wp faults\n", n_writes / duration,
		       n_faults / duration);
	check(!corrupt && n_writes, "data verified (%lu writes, %lu bad)", n_writes, corrupt);
	if (lost && mem_is_hugetlb(mem) && (claims->known_broken & SCENARIO(1)))
		ksft_test_result_xfail("no lost protection (%lu wp faults, %lu lost): known broken on '%s'\n",
				       n_faults, lost, claims->ref);
	else
		check(!lost && n_faults, "no lost protection (%lu wp faults, %lu lost)",
		      n_faults, lost);
	check(!child_bad && n_fork, "fork children saw no protection (%lu forks, %lu bad)",
	      n_fork, child_bad);
	ret = uffd_unregister(uffd, area, npages * psize);
	for (i = 0; !ret && i < npages; i++)
		if (pagemap(area + i * psize) & PM_UFFD_WP)
			ret = -EEXIST;
	check(!ret, "no protection left after UFFDIO_UNREGISTER");
	return ksft_get_fail_cnt() ? ksft_exit_fail() : ksft_exit_pass();
}
