#!/usr/bin/env bash
# Build the guest's test programs, static, against the series' own exported
# headers (never the host's): our tests in tests/, the demo, and the work
# tree's own tools/testing/selftests/vm/userfaultfd.  The same binaries run
# on every REF, so that a test means the same on each kernel.  ARCH=arm64:
# cross-built into build/tests-arm64, against the arm64 uapi headers.
# Prints the directory that holds them and tests/list.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

src=$(ref_src series)
[ -d "$src/.git" ] || "$TOP/scripts/worktree.sh"
# Not while build-each-patch.sh has the work tree at another commit (its
# headers would be that commit's), nor beside another build of the tests.
series_tree_lock -s
exec 8>"$BUILD/tests.lock"
flock 8
hdrobj=$BUILD/obj-headers$ASUFFIX
hdr=$BUILD/headers$ASUFFIX
dst=$BUILD/tests$ASUFFIX

# Exported headers of the series, redone when the work tree changes.
hstamp=$({ git -C "$src" rev-parse HEAD; git -C "$src" diff HEAD -- include/uapi "arch/$SRCARCH/include/uapi"; } | sha256sum)
if [ ! -f "$hdr/.stamp" ] || [ "$(cat "$hdr/.stamp")" != "$hstamp" ]; then
	log "exporting the series' uapi headers"
	rm -rf "$hdr"
	make -s -C "$src" O="$hdrobj" ARCH="$ARCH" headers_install INSTALL_HDR_PATH="$hdr" >/dev/null
	echo "$hstamp" >"$hdr/.stamp"
fi

rm -rf "$dst.tmp"
mkdir -p "$dst.tmp"
CC=${CC:-${CROSS}gcc}
inc=(-isystem "$hdr/include" -I "$src/tools/testing/selftests" -I "$TOP/tests")
# libcap of the vm selftests: the host's, or arm64's from Debian.
vm_libs=()
if [ "$ARCH" = arm64 ]; then
	root=$("$TOP/scripts/arm64-root.sh" | tail -n 1)
	vm_libs=(-idirafter "$root/usr/include" -L "$root/usr/lib/aarch64-linux-gnu")
fi
ours=(-D_GNU_SOURCE -static -O2 -g -Wall -Wextra -Wno-unused-parameter -Werror "${inc[@]}")

for c in "$TOP"/tests/*.c "$TOP"/demo/*.c; do
	[ -f "$c" ] || continue
	"$CC" "${ours[@]}" -o "$dst.tmp/$(basename "$c" .c)" "$c" -lpthread
done
# The benchmarks of make bench (bench/), with the same flags.
mkdir -p "$dst.tmp/bench"
for c in "$TOP"/bench/*.c; do
	"$CC" "${ours[@]}" -o "$dst.tmp/bench/$(basename "$c" .c)" "$c" -lpthread -lm
done
# The in-tree selftest, with its Makefile's flags plus -O2, as distributions
# build it (the series' first patch fixes what -O2 exposed in it).
"$CC" -static -O2 -Wall "${inc[@]}" -o "$dst.tmp/userfaultfd" \
	"$src/tools/testing/selftests/vm/userfaultfd.c" -lpthread
# The base's other vm selftests, for make vm-selftests (tests/vm-selftests.list),
# with the flags of their Makefile, static.
vm=$src/tools/testing/selftests/vm
mkdir -p "$dst.tmp/vm"
for t in compaction_test hugepage-mmap hugepage-shm khugepaged map_fixed_noreplace \
	map_hugetlb map_populate mlock-random-test mlock2-tests mremap_dontunmap \
	on-fault-limit protection_keys thuge-gen transhuge-stress va_128TBswitch \
	virtual_address_range; do
	# Protection keys: x86 (and powerpc) only, as in their Makefile.
	[ "$ARCH:$t" != arm64:protection_keys ] || continue
	"$CC" -static -O2 -Wall "${inc[@]}" ${vm_libs[@]+"${vm_libs[@]}"} -o "$dst.tmp/vm/$t" "$vm/$t.c" \
		-lrt -lpthread -lcap
done
# hugepage-mmap opens huge/hugepagefile; transhuge-stress runs until stopped
# (alive after 20 s is its pass, as run_vmtests has no test of it).
printf '#!/bin/sh\ncd /mnt && exec /tests/vm/hugepage-mmap\n' >"$dst.tmp/vm/hugepage-mmap.sh"
printf '#!/bin/sh\ntimeout 20 /tests/vm/transhuge-stress >/dev/null\ns=$?\n[ $s = 143 ] || [ $s = 124 ]\n' \
	>"$dst.tmp/vm/transhuge-stress.sh"
chmod 0755 "$dst.tmp"/vm/*.sh
# The list, and the tests only an architecture has (tests/list.$ARCH).
cat "$TOP/tests/list" >"$dst.tmp/list"
[ ! -f "$TOP/tests/list.$ARCH" ] || cat "$TOP/tests/list.$ARCH" >>"$dst.tmp/list"
rm -rf "$dst"
mv "$dst.tmp" "$dst"
echo "$dst"
