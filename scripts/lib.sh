# shellcheck shell=bash
# Common paths and helpers, sourced by every script in scripts/.
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$TOP/build}
CACHE=${CACHE:-$TOP/build/cache}
OUT=${OUT:-$TOP/out}

# Exit codes of `make check` / boot.sh, documented in README.md.
EXIT_TESTS=1      # one or more tests failed (or a result is missing)
EXIT_SETUP=2      # host setup, fetch, build or boot error
EXIT_TIMEOUT=3    # the guest did not finish in time
EXIT_SPLAT=4      # kernel panic/oops/BUG/WARN/lockdep/KASAN/hung task/taint

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit "$EXIT_SETUP"; }

# kmake SRC OBJ ARG...: make in the kernel tree SRC with objects in OBJ, through
# ccache when there is one.  Paths are hashed relative to the repository, so
# trees and object directories side by side under build/ share the cache.
kmake() {
	local src=$1 obj=$2 cc=gcc
	shift 2
	command -v ccache >/dev/null && cc="ccache gcc"
	CCACHE_BASEDIR=$TOP CCACHE_NOHASHDIR=1 \
		make -C "$src" O="$obj" CC="$cc" HOSTCC="$cc" -j"$(nproc)" "$@"
}

# ref_src REF: the kernel source tree of a flavour.
ref_src() {
	case "$1" in
	series)   echo "$BUILD/linux" ;;
	base)     echo "$BUILD/linux-base" ;;
	mainline) echo "$BUILD/linux-mainline" ;;
	fixes|no-collapse) echo "$BUILD/linux-$1" ;;
	*) die "unknown REF '$1' (series, base, mainline, fixes or no-collapse)" ;;
	esac
}

# cut_patches CUT: how many patches of patches/series a cut of the series
# keeps: "fixes" ends before the second topic banner (the fixes of 5.10
# bugs alone), "no-collapse" before the MADV_COLLAPSE banner.
cut_patches() {
	awk -v cut="$1" '
	/^# --- / { banners++
		if ((cut == "fixes" && banners == 2) ||
		    (cut == "no-collapse" && /MADV_COLLAPSE/)) { print n; found = 1; exit }
		next }
	/^#/ || /^$/ { next }
	{ n++ }
	END { if (!found) exit 1 }' "$TOP/patches/series" ||
		die "patches/series has no topic banner for the cut '$1'"
}

# cut_worktree CUT: build/linux-CUT, a detached work tree of build/linux at
# the last commit the cut keeps (moved there when the series changed).
cut_worktree() {
	local wt=$BUILD/linux-$1 n commit
	n=$(cut_patches "$1")
	commit=$(git -C "$BUILD/linux" rev-list --reverse base..HEAD | sed -n "${n}p")
	[ -n "$commit" ] || die "build/linux has fewer than $n commits"
	if [ ! -e "$wt/.git" ]; then
		git -C "$BUILD/linux" worktree prune
		git -C "$BUILD/linux" worktree add -q --detach "$wt" "$commit"
	elif [ "$(git -C "$wt" rev-parse HEAD)" != "$commit" ]; then
		git -C "$wt" checkout -q --detach "$commit"
	fi
	log "build/linux-$1: base + $n patches ($(git -C "$wt" log -1 --format=%s))"
}

# ref_obj REF DEBUG: the object directory of a flavour.
ref_obj() {
	local d=$BUILD/obj-$1
	[ "${2:-0}" = 1 ] && d=$d-debug
	echo "$d"
}

# ref_flavour REF DEBUG: a flavour's name in out/ (series, series-debug, ...).
ref_flavour() {
	if [ "${2:-0}" = 1 ]; then echo "$1-debug"; else echo "$1"; fi
}

# debug_scale DEBUG: the factor of time limits (debug kernels are several
# times slower under TCG).
debug_scale() {
	if [ "${1:-0}" = 1 ]; then echo 3; else echo 1; fi
}

# say_verdict STATUS OUTDIR: the VERDICT line of a failed guest run (stderr).
say_verdict() {
	local status=$1 dir=${2#"$TOP"/}
	case "$status" in
	0) ;;
	"$EXIT_SPLAT") echo "VERDICT: kernel splat or taint (exit $status); console: $dir/console.log" >&2 ;;
	"$EXIT_TIMEOUT") echo "VERDICT: timeout (exit $status); console: $dir/console.log" >&2 ;;
	*) echo "VERDICT: tests failed or missing (exit $status); logs: $dir" >&2 ;;
	esac
}

# series_tree_lock -s|-n: hold, until the script exits, the lock of the
# series work tree on fd 7: shared (-s, waits) for a build that reads it,
# exclusive and at once (-n) for build-each-patch.sh, which checks out other
# commits there.
series_tree_lock() {
	mkdir -p "$BUILD"
	exec 7>"$BUILD/series-tree.lock"
	flock "$1" 7
}
