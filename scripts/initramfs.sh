#!/usr/bin/env bash
# Build the guest initramfs: busybox-static (ARCH=arm64: Debian's arm64
# build, scripts/arm64-root.sh), guest/init, the test binaries and list, the
# user's files and a harness.conf.
# Usage: initramfs.sh OUTPUT.cpio.gz TESTDIR USERDIR|- MODE [CMD]
set -euo pipefail
. "$(dirname "$0")/lib.sh"

out=$1 tests=$2 user=$3 mode=$4 cmd=${5:-}
host_bb=$(command -v busybox) || die "busybox-static is not installed"
file -L "$host_bb" | grep -q 'statically linked' || die "$host_bb is not static (install busybox-static)"
bb=$host_bb
# The applets to link: the list of the host's busybox, the same Debian
# package as the guest's (it cannot run the arm64 one).
[ "$ARCH" = x86_64 ] || bb=$("$TOP/scripts/arm64-root.sh" | tail -n 1)/bin/busybox

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
# mktemp makes it 0700; the guest's / must let unprivileged tests through
chmod 0755 "$root"
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,tmp,tests,user,root}
cp "$bb" "$root/bin/busybox"
for a in $("$host_bb" --list-full); do
	[ -e "$root/$a" ] || ln -s /bin/busybox "$root/$a"
done
install -m 0755 "$TOP/guest/init" "$root/init"
cp -a "$tests"/. "$root/tests/"
[ -z "${TEST_LIST:-}" ] || cp "$TEST_LIST" "$root/tests/list"
[ "$user" = - ] || cp -a "$user"/. "$root/user/"
{
	printf 'MODE=%q\n' "$mode"
	printf 'CMD=%q\n' "$cmd"
	printf 'TEST_TIMEOUT=%q\n' "${TEST_TIMEOUT:-300}"
	# The results channel (boot.sh): a second UART, or arm64's virtio console.
	if [ "$ARCH" = arm64 ]; then echo RESULTS=/dev/hvc0; else echo RESULTS=/dev/ttyS1; fi
	# Whose claims the tests check: the kernel's own (REF), or EXPECT's,
	# e.g. REF=base EXPECT=mainline shows what the base gets wrong.
	printf 'export UFFD_REF=%q\n' "${EXPECT:-${REF:-series}}"
} >"$root/etc/harness.conf"
echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
echo 'root:x:0:' >"$root/etc/group"
(cd "$root" && find . -print0 | LC_ALL=C sort -z |
	cpio --null -o -H newc --reproducible --quiet) | gzip -n -1 >"$out"
