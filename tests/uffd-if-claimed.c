// SPDX-License-Identifier: GPL-2.0
/*
 * uffd-if-claimed MEM MODE COMMAND [ARG...]: run COMMAND only if the kernel
 * under test ($UFFD_REF, see uffd-claims.h) claims registration MODE
 * (missing, wp or minor) on memory type MEM (anon, shmem, ...), or, for
 * MODE "dev", /dev/userfaultfd besides registration on MEM; otherwise
 * exit 4, which the harness counts as a skip.  For programs that test a
 * mode unconditionally, such as the series' own selftest, whose shmem mode
 * needs shmem write-protection.
 */
#include "uffd-test.h"

int main(int argc, char **argv)
{
	const struct uffd_claims *claims;
	unsigned int mode;
	bool dev = false;
	int mem;

	if (argc < 4) {
		fprintf(stderr, "usage: %s MEM missing|wp|minor|dev COMMAND [ARG...]\n",
			argv[0]);
		return 2;
	}
	claims = uffd_claims_of_kernel();
	for (mem = 0; mem < MEM_NR; mem++)
		if (!strcmp(argv[1], uffd_mem_names[mem]))
			break;
	if (mem == MEM_NR) {
		fprintf(stderr, "%s: unknown memory type '%s'\n", argv[0], argv[1]);
		return 2;
	}
	if (!strcmp(argv[2], "missing"))
		mode = CLAIM_MISSING;
	else if (!strcmp(argv[2], "wp"))
		mode = CLAIM_WP;
	else if (!strcmp(argv[2], "minor"))
		mode = CLAIM_MINOR;
	else if (!strcmp(argv[2], "dev"))
		mode = CLAIM_MISSING, dev = true;
	else {
		fprintf(stderr, "%s: unknown mode '%s'\n", argv[0], argv[2]);
		return 2;
	}
	if (!(claims->modes[mem] & mode)) {
		printf("skip: '%s' claims no %s registration on %s\n", claims->ref,
		       argv[2], argv[1]);
		return 4;
	}
	if (dev && !claims->dev_userfaultfd) {
		printf("skip: '%s' claims no /dev/userfaultfd\n", claims->ref);
		return 4;
	}
	execvp(argv[3], argv + 3);
	fprintf(stderr, "%s: %s: %s\n", argv[0], argv[3], strerror(errno));
	return 2;
}
