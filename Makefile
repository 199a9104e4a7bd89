# userfaultfd for Linux 5.10: the harness.  `make help` lists the targets.
# Flavours: REF=series (default) | base | mainline | fixes | no-collapse,
# DEBUG=0 (default) | 1, ARCH=x86_64 (default) | arm64.
SHELL := /bin/bash
export REF ?= series
export DEBUG ?= 0
export ARCH ?= x86_64

.PHONY: help run check soak bench vm-selftests mm-selftests shell guest mainline-tests worktree export check-series each-patch kernel tests clean

help:
	@echo 'make run            build and boot the patched kernel, run the narrated demo'
	@echo 'make check          build, boot and run every test; ends with "N passed, N failed, N skipped"'
	@echo 'make soak           the fuzzer and the race stress tests for DURATION= seconds each (600), SEED='
	@echo 'make bench          bench/ on the series, mainline and base, alternated; table and plot in bench/README.md'
	@echo "make vm-selftests   the base's own selftests/vm programs on REF=base and the series, compared"
	@echo "make mm-selftests   mainline 6.12's selftests/mm programs on base, series and mainline, compared"
	@echo 'make shell          interactive shell in the guest (tests in /tests)'
	@echo "make guest CMD='..' [GUEST_FILES=dir]  run one command in the guest, with your static binaries in /user"
	@echo "make mainline-tests mainline 6.12's uffd-unit-tests and uffd-stress (5 modes) in the guest"
	@echo 'make worktree       create build/linux: base commit (tag base) + patches/series (FORCE=1 recreates)'
	@echo 'make export         write build/linux commits base..HEAD to patches/ and patches/series'
	@echo 'make check-series   checkpatch.pl of the base over every patch'
	@echo 'make each-patch     build the kernel at every patch, then with the features masked (x86_64, i386)'
	@echo 'make kernel | tests build only the kernel of the flavour | the guest test programs'
	@echo 'Flavours: REF=series|base|mainline  DEBUG=1 (KASAN, lockdep, DEBUG_VM, ...)'
	@echo '  ARCH=arm64: cross-built, booted with qemu-system-aarch64 -M virt (check, run, guest, shell, kernel, tests)'
	@echo '  cuts of the series: REF=fixes (its first topic alone), REF=no-collapse (without MADV_COLLAPSE)'
	@echo 'Exit codes: 1 tests failed or missing, 2 setup/build error, 3 timeout, 4 kernel splat or taint'

run:
	@scripts/guest.sh run

check:
	@scripts/guest.sh check

soak:
	@scripts/soak.sh

bench:
	@scripts/bench.sh

vm-selftests:
	@scripts/vm-selftests.sh

mm-selftests:
	@scripts/mm-selftests.sh

shell:
	@scripts/guest.sh shell

# CMD reaches the guest as typed: taken unexpanded ($(value)), passed in the
# environment, never through the recipe's own quotes.
export GUEST_CMD := $(value CMD)
guest:
	@scripts/guest.sh cmd "$$GUEST_CMD"

mainline-tests:
	@scripts/mainline-tests.sh

worktree:
	@scripts/host-deps.sh && scripts/worktree.sh

export:
	@scripts/export.sh

check-series:
	@scripts/check-series.sh

each-patch:
	@scripts/host-deps.sh && scripts/build-kernel.sh >/dev/null && scripts/build-each-patch.sh

kernel:
	@scripts/host-deps.sh && scripts/build-kernel.sh

tests:
	@scripts/host-deps.sh && scripts/build-tests.sh

clean:
	rm -rf build/obj-* build/tests build/tests-arm64 build/headers build/headers-arm64 build/mainline-tests build/mainline-tests-arm64 out
