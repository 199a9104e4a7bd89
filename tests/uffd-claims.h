/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What each kernel is expected to offer through the userfaultfd ABI: the one
 * place that says which features the series claims.  The ABI probe
 * (uffd-abi.c) checks the running kernel against the column of the kernel it
 * was told it runs on (UFFD_REF=series|base|mainline, set by the harness).
 *
 * Values are mainline's (shared/ABI.md); they are spelled out as numbers so
 * that the table does not depend on the headers it is checking.
 */
#ifndef UFFD_CLAIMS_H
#define UFFD_CLAIMS_H

/*
 * The switch for the series' next topic, mainline's userfaultfd ABI of
 * 6.4-6.7: UFFD_FEATURE_WP_UNPOPULATED (bit 13), UFFD_FEATURE_POISON (14)
 * with UFFDIO_POISON, UFFD_FEATURE_WP_ASYNC (15) and the PAGEMAP_SCAN ioctl
 * of /proc/PID/pagemap.  0 while the kernel side is being written: the
 * series (and its no-collapse cut) claim none of it, and uffd-poison,
 * uffd-wp-async and pagemap-scan skip there (and fail if the kernel has it
 * nonetheless).  The patch that lands the topic sets it to 1.
 */
#define SERIES_ABI_6_7 1
/* PAGEMAP_SCAN comes with it, unless the topic lands in two steps. */
#define SERIES_PAGEMAP_SCAN SERIES_ABI_6_7

#include <stdbool.h>
#include <stdint.h>

/* Feature bits of uffdio_api.features, by bit number. */
struct uffd_feature_name {
	int bit;
	const char *name;
};

static const struct uffd_feature_name uffd_feature_names[] = {
	{ 0, "PAGEFAULT_FLAG_WP" },	{ 1, "EVENT_FORK" },
	{ 2, "EVENT_REMAP" },		{ 3, "EVENT_REMOVE" },
	{ 4, "MISSING_HUGETLBFS" },	{ 5, "MISSING_SHMEM" },
	{ 6, "EVENT_UNMAP" },		{ 7, "SIGBUS" },
	{ 8, "THREAD_ID" },		{ 9, "MINOR_HUGETLBFS" },
	{ 10, "MINOR_SHMEM" },		{ 11, "EXACT_ADDRESS" },
	{ 12, "WP_HUGETLBFS_SHMEM" },	{ 13, "WP_UNPOPULATED" },
	{ 14, "POISON" },		{ 15, "WP_ASYNC" },
	{ 16, "MOVE" },
};
#define UFFD_NR_FEATURE_BITS 17

/* Registration modes. */
#define CLAIM_MISSING	(1u << 0)
#define CLAIM_WP	(1u << 1)
#define CLAIM_MINOR	(1u << 2)

/* Memory types a range can be registered on. */
enum uffd_mem {
	MEM_ANON,
	MEM_SHMEM,
	MEM_SHMEM_PRIVATE,
	MEM_HUGETLB,
	MEM_HUGETLB_PRIVATE,
	MEM_NR,
};

static const char *const uffd_mem_names[MEM_NR] = {
	"anon", "shmem", "shmem-private", "hugetlb", "hugetlb-private",
};

struct uffd_claims {
	const char *ref;
	uint64_t features;	/* exactly what UFFDIO_API advertises */
	uint64_t range_ioctls;	/* REGISTER reply on non-hugetlb ranges */
	uint64_t basic_ioctls;	/* REGISTER reply on hugetlb ranges */
	/* Modes each memory type accepts (other modes: EINVAL). */
	unsigned int modes[MEM_NR];
	/* /proc/PID/pagemap reports uffd-wp (bit 57). */
	bool pagemap_wp;
	/*
	 * Registration modes whose pending faults UFFDIO_UNREGISTER wakes (the
	 * others wait for UFFDIO_WAKE or the close of the uffd).
	 */
	unsigned int unregister_wakes;
	/* userfaultfd(UFFD_USER_MODE_ONLY) and its access rule */
	bool user_mode_only;
	/* /dev/userfaultfd and USERFAULTFD_IOC_NEW */
	bool dev_userfaultfd;
	/* the default of vm.unprivileged_userfaultfd */
	int unprivileged_default;
	/* mremap() moves hugetlb vmas (Linux 5.16; 5.10 says EINVAL) */
	bool hugetlb_mremap;
	/* MADV_DONTNEED zaps hugetlb vmas (Linux 6.1; 5.10 says EINVAL) */
	bool hugetlb_dontneed;
	/* madvise(MADV_COLLAPSE) (Linux 6.1; 5.10 says EINVAL) */
	bool madv_collapse;
	/*
	 * The PAGEMAP_SCAN ioctl of /proc/PID/pagemap (Linux 6.7; 5.10 has no
	 * ioctl there: ENOTTY).
	 */
	bool pagemap_scan;
	/*
	 * fork() copies the page tables of a hugetlb vma only where it must:
	 * an anon_vma, or a child vma registered for wp (6.0's lazy copy,
	 * vma_needs_copy()); 5.10 copies them always.  So a poisoned pte of
	 * a shared hugetlb mapping reaches the child only on 5.10.
	 */
	bool hugetlb_fork_lazy;
	/*
	 * Scenarios of shared/SCENARIOS.md this kernel is known to get wrong,
	 * bit n for scenario n: their failures are reported as XFAIL, so that
	 * what is still missing is listed here.  A patch that fixes one
	 * clears its bit.  Bugs found here beyond SCENARIOS.md are numbered
	 * from 27 on:
	 * 27: UFFDIO_COPY/ZEROPAGE/CONTINUE oops on the PMD migration entry
	 * of a THP (uffd-fuzz; mainline fixed it in 6.11).
	 * 28: mremap() of part of a private hugetlb mapping leaks the
	 * reservations of the rest of it (uffd-core; 6.12).
	 * 29: khugepaged fills the holes of a shmem range registered for
	 * missing faults, so their faults never come (madv-collapse;
	 * 6.12 refuses such a collapse).
	 * Bugs 30-38 were found by an mm review of the series (uffd-review
	 * tests them):
	 * 30: a FOLL_FORCE write (/proc/PID/mem) lands in the file through
	 * the dirty read-only pte UFFDIO_CONTINUE maps into a MAP_PRIVATE
	 * shmem mapping (CVE-2022-2590's race; writes a sealed memfd).
	 * 31: a FOLL_FORCE write goes through an anonymous pte that was
	 * write-protected by uffd-wp after its CoW fault (FOLL_COW trusts
	 * the dirty bit), with no wp message.
	 * 32: un-protecting shmem makes ptes writable that are not
	 * soft-dirty, so a later write is missed by clear_refs tracking.
	 * 33: UFFDIO_WRITEPROTECT skips the PMD migration entry of an
	 * anonymous THP (the THP comes back unprotected).
	 * 34: MADV_DONTNEED on a private hugetlb mapping gives its
	 * reservation away (the owner's next fault may get SIGBUS).
	 * 35: UFFDIO_COPY past EOF of a private hugetlb mapping leaks a
	 * reservation (HugePages_Rsvd stays one high).
	 * 36: MADV_COLLAPSE of a pte-mapped shmem THP drops the ptes'
	 * dirty bits, so written data is lost after reclaim.
	 * 37: UFFDIO_COPY into a shmem hole fails with EEXIST while a
	 * collapse that will back off holds its new THP in the hole.
	 * 38: mremap() of hugetlb allocates page tables under the rmap
	 * locks (lockdep: fs_reclaim against the anon_vma/i_mmap locks).
	 * 39: a hugetlb UFFDIO_COPY retried outside the mmap_lock holds the
	 * destination's reservation meanwhile: a fault there takes it a
	 * second time (HugePages_Rsvd underflows, or a private mapping's
	 * fault gets SIGBUS).  A 5.10 bug (mainline fixed it in 5.14); the
	 * series' wp-only hugetlb registrations make it reachable in one
	 * vma.
	 */
	uint64_t known_broken;
};

#define SCENARIO(n)	((uint64_t)1 << (n))

/* _UFFDIO_* ioctl numbers, as bits of the ioctls masks. */
#define IOC(nr)		((uint64_t)1 << (nr))
#define IOC_WAKE	IOC(0x02)
#define IOC_COPY	IOC(0x03)
#define IOC_ZEROPAGE	IOC(0x04)
#define IOC_MOVE	IOC(0x05)
#define IOC_WP		IOC(0x06)
#define IOC_CONTINUE	IOC(0x07)
#define IOC_POISON	IOC(0x08)
/* UFFDIO_API's ioctls: REGISTER, UNREGISTER, API. */
#define IOC_API_SET	(IOC(0x00) | IOC(0x01) | IOC(0x3f))

#define FEAT(bit)	((uint64_t)1 << (bit))
/* Bits 0-8: every 5.10 kernel. */
#define FEATURES_5_10	0x1ffULL

/* Unpatched 5.10: wp on anonymous memory only, no minor faults. */
#define RANGE_IOCTLS_5_10	(IOC_WAKE | IOC_COPY | IOC_ZEROPAGE | IOC_WP)
#define BASIC_IOCTLS_5_10	(IOC_WAKE | IOC_COPY)
#define MODES_5_10						\
	[MEM_ANON] = CLAIM_MISSING | CLAIM_WP,			\
	[MEM_SHMEM] = CLAIM_MISSING,				\
	[MEM_SHMEM_PRIVATE] = CLAIM_MISSING,			\
	[MEM_HUGETLB] = CLAIM_MISSING,				\
	[MEM_HUGETLB_PRIVATE] = CLAIM_MISSING

/*
 * What SERIES_ABI_6_7 adds to the series' claims: WP_UNPOPULATED, POISON
 * and WP_ASYNC, UFFDIO_POISON in both ioctl masks, PAGEMAP_SCAN.
 */
#if SERIES_ABI_6_7
#define SERIES_6_7_FEATURES	(FEAT(13) | FEAT(14) | FEAT(15))
#define SERIES_6_7_IOCTLS	IOC_POISON
#else
#define SERIES_6_7_FEATURES	0
#define SERIES_6_7_IOCTLS	0
#endif

/* What the series claims up to its MADV_COLLAPSE topic */
#define SERIES_BEFORE_COLLAPSE						\
	.features = FEATURES_5_10 | FEAT(9) | FEAT(10) | FEAT(11) | FEAT(12) | \
		    SERIES_6_7_FEATURES,				\
	.range_ioctls = RANGE_IOCTLS_5_10 | IOC_CONTINUE | SERIES_6_7_IOCTLS, \
	.basic_ioctls = BASIC_IOCTLS_5_10 | IOC_WP | IOC_CONTINUE |	\
			SERIES_6_7_IOCTLS,				\
	.modes = {							\
		[MEM_ANON] = CLAIM_MISSING | CLAIM_WP,			\
		[MEM_SHMEM] = CLAIM_MISSING | CLAIM_WP | CLAIM_MINOR,	\
		[MEM_SHMEM_PRIVATE] = CLAIM_MISSING | CLAIM_WP | CLAIM_MINOR, \
		[MEM_HUGETLB] = CLAIM_MISSING | CLAIM_WP | CLAIM_MINOR,	\
		[MEM_HUGETLB_PRIVATE] = CLAIM_MISSING | CLAIM_WP | CLAIM_MINOR, \
	},								\
	.pagemap_wp = true,						\
	.unregister_wakes = CLAIM_MISSING | CLAIM_WP | CLAIM_MINOR,	\
	.user_mode_only = true,						\
	.dev_userfaultfd = true,					\
	.unprivileged_default = 1,					\
	.hugetlb_mremap = true,						\
	.hugetlb_dontneed = true,					\
	.pagemap_scan = SERIES_PAGEMAP_SCAN

static const struct uffd_claims uffd_claims[] = {
	{
		.ref = "base",
		.features = FEATURES_5_10,
		.range_ioctls = RANGE_IOCTLS_5_10,
		.basic_ioctls = BASIC_IOCTLS_5_10,
		.modes = { MODES_5_10 },
		/*
		 * 8: UFFDIO_COPY_MODE_WP into a read-only anon VMA loses wp.
		 * 3: a PMD migration entry drops the uffd-wp bit of an anon THP.
		 * 2: swapoff drops the uffd-wp bit of swapped-out anon pages.
		 * 22: close() of the uffd hangs against a GUP that finds it
		 * released (VM_FAULT_NOPAGE spins under the mmap_lock).
		 * 23: COPY and ZEROPAGE leave their out field alone on an
		 * early EAGAIN.
		 * 27: the fill ioctls oops on a THP being migrated.
		 * 29: khugepaged fills holes under a missing registration.
		 * 31: a FOLL_FORCE write through an anon pte protected after
		 * its CoW fault.
		 * 33: UFFDIO_WRITEPROTECT skips a THP's PMD migration entry.
		 * 35: UFFDIO_COPY past EOF of private hugetlb leaks a
		 * reservation.
		 * 37: khugepaged holds its new THP in the holes (29 too).
		 * 39: a hugetlb UFFDIO_COPY retried outside the mmap_lock
		 * holds the destination's reservation.
		 */
		.known_broken = SCENARIO(8) | SCENARIO(3) | SCENARIO(2) |
				SCENARIO(22) | SCENARIO(23) | SCENARIO(27) |
				SCENARIO(29) | SCENARIO(31) | SCENARIO(33) |
				SCENARIO(35) | SCENARIO(37) | SCENARIO(39),
		.unregister_wakes = CLAIM_MISSING,
		.unprivileged_default = 1,
	},
	{
		/*
		 * The series: 5.10 plus what the patches in patches/ add so
		 * far: scenario 8 fixed for anon, pagemap bit 57, wp cleared
		 * on unregister/close (13), PTE markers and wp for shmem and
		 * hugetlbfs (UFFD_FEATURE_WP_HUGETLBFS_SHMEM), minor faults
		 * and UFFDIO_CONTINUE for hugetlbfs and shmem; USER_MODE_ONLY,
		 * /dev/userfaultfd, EXACT_ADDRESS and the core fixes of
		 * scenarios 22 and 23 (5.10 keeps its sysctl default).
		 */
		.ref = "series",
		SERIES_BEFORE_COLLAPSE,
		.madv_collapse = true,
	},
	{
		/*
		 * The first topic of the series alone (REF=fixes): the fixes
		 * of 5.10 bugs on the base, with the base's ABI, less
		 * write-protection where the architecture has no uffd-wp bit
		 * (arm64 gets one later in the series): not advertised, and
		 * MODE_WP refused.
		 */
		.ref = "fixes",
#ifdef __aarch64__
		.features = FEATURES_5_10 & ~FEAT(0),
		.modes = {
			[MEM_ANON] = CLAIM_MISSING,
			[MEM_SHMEM] = CLAIM_MISSING,
			[MEM_SHMEM_PRIVATE] = CLAIM_MISSING,
			[MEM_HUGETLB] = CLAIM_MISSING,
			[MEM_HUGETLB_PRIVATE] = CLAIM_MISSING,
		},
#else
		.features = FEATURES_5_10,
		.modes = { MODES_5_10 },
#endif
		.range_ioctls = RANGE_IOCTLS_5_10,
		.basic_ioctls = BASIC_IOCTLS_5_10,
		.unregister_wakes = CLAIM_MISSING,
		.unprivileged_default = 1,
	},
	{
		/* The series without its MADV_COLLAPSE topic (REF=no-collapse) */
		.ref = "no-collapse",
		SERIES_BEFORE_COLLAPSE,
	},
	{
		/* Mainline 6.12 (shared/ABI.md), built with configs/. */
		.ref = "mainline",
		.features = FEATURES_5_10 | FEAT(9) | FEAT(10) | FEAT(11) |
			    FEAT(12) | FEAT(13) | FEAT(14) | FEAT(15) | FEAT(16),
		.range_ioctls = IOC_WAKE | IOC_COPY | IOC_ZEROPAGE | IOC_MOVE |
				IOC_WP | IOC_CONTINUE | IOC_POISON,
		.basic_ioctls = IOC_WAKE | IOC_COPY | IOC_WP | IOC_CONTINUE |
				IOC_POISON,
		.modes = {
			[MEM_ANON] = CLAIM_MISSING | CLAIM_WP,
			[MEM_SHMEM] = CLAIM_MISSING | CLAIM_WP | CLAIM_MINOR,
			[MEM_SHMEM_PRIVATE] = CLAIM_MISSING | CLAIM_WP | CLAIM_MINOR,
			[MEM_HUGETLB] = CLAIM_MISSING | CLAIM_WP | CLAIM_MINOR,
			[MEM_HUGETLB_PRIVATE] = CLAIM_MISSING | CLAIM_WP | CLAIM_MINOR,
		},
		.pagemap_wp = true,
		.unregister_wakes = CLAIM_MISSING,
		.user_mode_only = true,
		.dev_userfaultfd = true,
		.unprivileged_default = 0,
		.hugetlb_mremap = true,
		.hugetlb_dontneed = true,
		.madv_collapse = true,
		.pagemap_scan = true,
		.hugetlb_fork_lazy = true,
		/*
		 * 1: a hugetlbfs hole punch racing with faults loses uffd-wp
		 * (measured on Debian's 6.12: uffd-wp-stress MEM=hugetlb
		 * RACERS=punch, ~23k writes through a protection in 6 s; the
		 * series: none).  6.12's hugetlb_vmdelete_list() skips a vma
		 * whose hugetlb vma lock it cannot trylock, and the page is
		 * then unmapped by hugetlb_unmap_file_folio() with
		 * ZAP_FLAG_DROP_MARKER.  The one-shot punch test passes.
		 * 28: after moving 2 of 4 huge pages of a private mapping and
		 * unmapping everything, HugePages_Rsvd stays 1 (measured on
		 * Debian's 6.12): move_vma() drops the reservation map of the
		 * whole old vma (clear_vma_resv_huge_pages()), so the pieces
		 * that stay never return theirs.
		 * 36: MADV_COLLAPSE of a pte-mapped shmem THP drops the ptes'
		 * dirty bits (collapse_pte_mapped_thp() frees the page table
		 * without marking the folio dirty), so the data written
		 * through them is lost after reclaim (measured on Debian's
		 * 6.12 by the review; later mainline marks the folio dirty).
		 */
		.known_broken = SCENARIO(1) | SCENARIO(28) | SCENARIO(36),
	},
};

#endif
