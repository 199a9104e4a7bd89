// SPDX-License-Identifier: GPL-2.0
/*
 * ABI probe: what the running kernel advertises through UFFDIO_API and
 * UFFDIO_REGISTER, against the claims of that kernel (uffd-claims.h) and
 * mainline's rules for refusing what it does not support.
 */
#include "uffd-test.h"

#define NR_MODES 7	/* every non-empty combination of MISSING, WP, MINOR */

static const char *mode_name(unsigned int mode)
{
	static char buf[32];

	snprintf(buf, sizeof(buf), "%s%s%s",
		 mode & CLAIM_MISSING ? "M" : "",
		 mode & CLAIM_WP ? "W" : "",
		 mode & CLAIM_MINOR ? "I" : "");
	return buf;
}

static void test_api(const struct uffd_claims *c)
{
	struct uffdio_api api = { 0 };
	int fd, i, ret;

	fd = uffd_open_raw(0);
	if (fd < 0)
		ksft_exit_fail_msg("userfaultfd: %s\n", strerror(errno));
	check(uffd_register(fd, &fd, 0, UFFDIO_REGISTER_MODE_MISSING, NULL) == -EINVAL,
	      "UFFDIO_REGISTER before UFFDIO_API: EINVAL");
	api = (struct uffdio_api){ .api = 0xab };
	check(ioctl(fd, UFFDIO_API, &api) && errno == EINVAL,
	      "UFFDIO_API with api != 0xAA: EINVAL");
	ret = uffd_api(fd, 0, &api);
	check(!ret && api.features == c->features,
	      "UFFDIO_API features: 0x%llx (expected 0x%llx)",
	      (unsigned long long)api.features, (unsigned long long)c->features);
	check(!ret && api.ioctls == IOC_API_SET, "UFFDIO_API ioctls: 0x%llx",
	      (unsigned long long)api.ioctls);
	check(uffd_api(fd, 0, NULL) == -EINVAL, "second UFFDIO_API: EINVAL");
	close(fd);

	for (i = 0; i < UFFD_NR_FEATURE_BITS; i++) {
		bool want = c->features & FEAT(i);

		fd = uffd_open_raw(0);
		ret = uffd_api(fd, FEAT(i), NULL);
		check(want ? ret == 0 : ret == -EINVAL, "feature %2d %-18s %s",
		      i, uffd_feature_names[i].name,
		      want ? "accepted" : "refused with EINVAL");
		close(fd);
	}
	fd = uffd_open_raw(0);
	check(uffd_api(fd, FEAT(UFFD_NR_FEATURE_BITS), NULL) == -EINVAL &&
	      uffd_api(fd, FEAT(63), NULL) == -EINVAL,
	      "unknown feature bits %d and 63: EINVAL", UFFD_NR_FEATURE_BITS);
	close(fd);
}

static void test_register(const struct uffd_claims *c, enum uffd_mem mem)
{
	size_t len = mem_page_size(mem) * 2;
	unsigned int mode;
	void *p;
	int fd, mfd;

	p = mem_map(mem, len, &mfd);
	if (p == MAP_FAILED) {
		for (mode = 1; mode <= NR_MODES; mode++)
			ksft_test_result_fail("%s: mmap: %s\n", uffd_mem_names[mem],
					      strerror(errno));
		return;
	}
	fd = uffd_open(0);
	for (mode = 1; mode <= NR_MODES; mode++) {
		bool want = (c->modes[mem] & mode) == mode;
		uint64_t ioctls = 0, expect;
		int ret;

		expect = mem_is_hugetlb(mem) ? c->basic_ioctls : c->range_ioctls;
		if (!(mode & CLAIM_WP))
			expect &= ~IOC_WP;
		if (!(mode & CLAIM_MINOR))
			expect &= ~IOC_CONTINUE;
		ret = uffd_register(fd, p, len, mode, &ioctls);
		if (want)
			check(!ret && ioctls == expect,
			      "%-15s register %-3s: ioctls 0x%llx (expected 0x%llx)%s",
			      uffd_mem_names[mem], mode_name(mode),
			      (unsigned long long)ioctls, (unsigned long long)expect,
			      ret ? strerror(-ret) : "");
		else
			check(ret == -EINVAL, "%-15s register %-3s: EINVAL (%s)",
			      uffd_mem_names[mem], mode_name(mode),
			      ret ? strerror(-ret) : "accepted");
		if (!ret)
			uffd_unregister(fd, p, len);
	}
	close(fd);
	mem_unmap(p, len, mfd);
}

int main(void)
{
	const struct uffd_claims *c = uffd_claims_of_kernel();
	int mem;

	ksft_print_header();
	ksft_set_plan(6 + UFFD_NR_FEATURE_BITS + MEM_NR * NR_MODES);
	ksft_print_msg("checking the claims of '%s'\n", c->ref);
	test_api(c);
	for (mem = 0; mem < MEM_NR; mem++)
		test_register(c, mem);
	return ksft_get_fail_cnt() ? ksft_exit_fail() : ksft_exit_pass();
}
