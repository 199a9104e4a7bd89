#!/usr/bin/env bash
# Build the guest's test programs, static, against the series' own exported
# headers (never the host's): our tests in tests/, the demo, and the work
# tree's own tools/testing/selftests/vm/userfaultfd.  The same binaries run
# on every REF, so that a test means the same on each kernel.
# Prints the directory that holds them and tests/list.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

src=$(ref_src series)
[ -d "$src/.git" ] || "$TOP/scripts/worktree.sh"
hdrobj=$BUILD/obj-headers
hdr=$BUILD/headers
dst=$BUILD/tests

# Exported headers of the series, redone when the work tree changes.
hstamp=$({ git -C "$src" rev-parse HEAD; git -C "$src" diff HEAD -- include/uapi arch/x86/include/uapi; } | sha256sum)
if [ ! -f "$hdr/.stamp" ] || [ "$(cat "$hdr/.stamp")" != "$hstamp" ]; then
	log "exporting the series' uapi headers"
	rm -rf "$hdr"
	make -s -C "$src" O="$hdrobj" ARCH=x86_64 headers_install INSTALL_HDR_PATH="$hdr" >/dev/null
	echo "$hstamp" >"$hdr/.stamp"
fi

rm -rf "$dst.tmp"
mkdir -p "$dst.tmp"
CC=${CC:-gcc}
inc=(-isystem "$hdr/include" -I "$src/tools/testing/selftests" -I "$TOP/tests")
ours=(-D_GNU_SOURCE -static -O2 -g -Wall -Wextra -Wno-unused-parameter -Werror "${inc[@]}")

for c in "$TOP"/tests/*.c "$TOP"/demo/*.c; do
	[ -f "$c" ] || continue
	"$CC" "${ours[@]}" -o "$dst.tmp/$(basename "$c" .c)" "$c" -lpthread
done
# The in-tree selftest, with its Makefile's flags plus -O2, as distributions
# build it (the series' first patch fixes what -O2 exposed in it).
"$CC" -static -O2 -Wall "${inc[@]}" -o "$dst.tmp/userfaultfd" \
	"$src/tools/testing/selftests/vm/userfaultfd.c" -lpthread
cp "$TOP/tests/list" "$dst.tmp/list"
rm -rf "$dst"
mv "$dst.tmp" "$dst"
echo "$dst"
