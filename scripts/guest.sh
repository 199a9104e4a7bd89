#!/usr/bin/env bash
# Build what a guest run needs and run it:
#   guest.sh check        every test of tests/list; closing line N passed...
#   guest.sh run          the narrated demo
#   guest.sh cmd 'CMD'    one command (GUEST_FILES=dir copied to /user); its exit code
#   guest.sh shell        an interactive guest shell
# Flavour: REF=series|base|mainline, DEBUG=0|1, ARCH=x86_64|arm64.  Logs:
# out/<time>-<flavour>-<mode>/, or GUEST_OUT=dir (a caller that reads the
# logs, e.g. mainline-tests.sh).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

mode=$1 cmd=${2:-}
ref=${REF:-series} debug=${DEBUG:-0}
"$TOP/scripts/host-deps.sh"
# KOBJ=dir boots a kernel built before (dir/arch/x86/boot/bzImage, see kimage) and
# TESTS_DIR=dir takes test programs built before, instead of building the
# flavour's kernel and tests/ now (for comparing a kept kernel with the work
# tree's, or running one new test while tests/ is being edited).
if [ -n "${KOBJ:-}" ]; then
	img=$(kimage "$KOBJ")
	[ -f "$img" ] || die "KOBJ=$KOBJ has no ${img#"$KOBJ"/}"
	obj=$KOBJ
else
	obj=$("$TOP/scripts/build-kernel.sh" | tail -n 1)
fi
if [ -n "${TESTS_DIR:-}" ]; then
	[ -f "$TESTS_DIR/list" ] || die "TESTS_DIR=$TESTS_DIR has no list"
	tests=$TESTS_DIR
else
	tests=$("$TOP/scripts/build-tests.sh" | tail -n 1)
fi

flavour=$(ref_flavour "$ref" "$debug")
dir=${GUEST_OUT:-$OUT/$(date -u +%Y%m%dT%H%M%SZ)-$flavour-$mode}
mkdir -p "$dir"
cp "$obj/.config" "$dir/config"

scale=$(debug_scale "$debug")
export TEST_TIMEOUT=${TEST_TIMEOUT:-$((300 * scale))}
export RUN_TIMEOUT=${RUN_TIMEOUT:-$((1800 * scale))}

user=-
case "$mode" in
run) cmd="uffd-demo && uffd-pager" ;;
cmd)
	[ -n "$cmd" ] || die "usage: make guest CMD='...' [GUEST_FILES=dir]"
	if [ -n "${GUEST_FILES:-}" ]; then
		[ -d "$GUEST_FILES" ] || die "GUEST_FILES=$GUEST_FILES is not a directory"
		user=$GUEST_FILES
	fi
	;;
check|shell) ;;
*) die "unknown mode $mode" ;;
esac
# What check mode runs: tests/list, or TEST_LIST (make soak).
export TEST_LIST=${TEST_LIST:-$tests/list}
initrd=$dir/initramfs.cpio.gz
"$TOP/scripts/initramfs.sh" "$initrd" "$tests" "$user" "$mode" "$cmd"

log "booting $flavour ($mode); logs in ${dir#"$TOP"/}"
verdict=0
"$TOP/scripts/boot.sh" "$(kimage "$obj")" "$initrd" "$dir" "$mode" || verdict=$?
rm -f "$initrd"

case "$mode" in
check)
	status=0
	"$TOP/scripts/summarise.sh" "$dir" "$TEST_LIST" "$verdict" || status=$?
	[ "$verdict" != 0 ] && status=$verdict
	say_verdict "$status" "$dir"
	exit "$status"
	;;
run|cmd)
	rc=$(tr -d '\r' <"$dir/results.log" | sed -n "s/^### END $mode \\([0-9]*\\) .*$/\\1/p" | tail -n 1)
	[ "$verdict" != 0 ] && exit "$verdict"
	exit "${rc:-$EXIT_TESTS}"
	;;
esac
