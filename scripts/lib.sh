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

# ref_src REF: the kernel source tree of a flavour.
ref_src() {
	case "$1" in
	series)   echo "$BUILD/linux" ;;
	base)     echo "$BUILD/linux-base" ;;
	mainline) echo "$BUILD/linux-mainline" ;;
	*) die "unknown REF '$1' (series, base or mainline)" ;;
	esac
}

# ref_obj REF DEBUG: the object directory of a flavour.
ref_obj() {
	local d=$BUILD/obj-$1
	[ "${2:-0}" = 1 ] && d=$d-debug
	echo "$d"
}
