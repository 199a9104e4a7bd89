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

# The guest's architecture, ARCH=x86_64 (default) or arm64: arm64 kernels and
# test programs are cross-built (CROSS, the prefix of the cross tools; SRCARCH,
# the kernel's arch/ directory) and boot under qemu-system-aarch64 -M virt.
# Its builds go to directories of their own (ASUFFIX: build/obj-series-arm64,
# build/tests-arm64, ...); x86_64's keep their names.
ARCH=${ARCH:-x86_64}
# shellcheck disable=SC2034
case "$ARCH" in
x86_64) SRCARCH=x86 CROSS='' ASUFFIX='' ;;
arm64) SRCARCH=arm64 CROSS=aarch64-linux-gnu- ASUFFIX=-arm64 ;;
*) die "unknown ARCH '$ARCH' (x86_64 or arm64)" ;;
esac

# kmake SRC OBJ ARG...: make in the kernel tree SRC with objects in OBJ, through
# ccache when there is one.  Paths are hashed relative to the repository, so
# trees and object directories side by side under build/ share the cache.
# ARCH=arm64 cross-compiles (the host tools are built with the host's gcc).
kmake() {
	local src=$1 obj=$2 cc=${CROSS}gcc hostcc=gcc cross=()
	shift 2
	[ -z "$CROSS" ] || cross=(CROSS_COMPILE="$CROSS")
	command -v ccache >/dev/null && cc="ccache $cc" hostcc="ccache gcc"
	CCACHE_BASEDIR=$TOP CCACHE_NOHASHDIR=1 \
		make -C "$src" O="$obj" CC="$cc" HOSTCC="$hostcc" -j"$(nproc)" ${cross[@]+"${cross[@]}"} "$@"
}

# qemu_system: the QEMU that boots ARCH's guests.
qemu_system() {
	case "$ARCH" in
	x86_64) echo qemu-system-x86_64 ;;
	arm64) echo qemu-system-aarch64 ;;
	esac
}

# kimage OBJ: the kernel image of an object directory, which QEMU boots.
kimage() {
	case "$ARCH" in
	x86_64) echo "$1/arch/x86/boot/bzImage" ;;
	arm64) echo "$1/arch/arm64/boot/Image" ;;
	esac
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

# ref_obj REF DEBUG: the object directory of a flavour (of ARCH).
ref_obj() {
	local d=$BUILD/obj-$1
	[ "${2:-0}" = 1 ] && d=$d-debug
	echo "$d$ASUFFIX"
}

# ref_flavour REF DEBUG: a flavour's name in out/ (series, series-debug,
# series-arm64, ...).
ref_flavour() {
	if [ "${2:-0}" = 1 ]; then echo "$1-debug$ASUFFIX"; else echo "$1$ASUFFIX"; fi
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

# private_apt CODENAME [ARCH...]: point apt-get (APT_CONFIG, exported) at a
# private configuration under build/cache, with its own lists and cache, and
# update it (once per script).  Its sources are the host's own
# (/etc/apt/sources.list.d/debian.sources) with the host's codename replaced
# by CODENAME (empty: the host's suites); the ARCHs (arm64) add their
# package indices from the same sources.  Nothing names a host: the URIs come
# from the system, whose apt configuration and dpkg architectures stay as
# they are.
private_apt() {
	local codename=$1 apt_root host host_sources=/etc/apt/sources.list.d/debian.sources a archs=
	shift
	apt_root=$CACHE/apt-${codename:-host}
	for a in "$@"; do
		apt_root+=-$a archs+=" \"$a\";"
	done
	[ "${APT_CONFIG:-}" = "$apt_root/apt.conf" ] && return 0
	mkdir -p "$apt_root"/{lists/partial,archives/partial,etc/sources.list.d,etc/preferences.d}
	[ -r "$host_sources" ] || die "$host_sources not readable: cannot derive apt sources"
	if [ -n "$codename" ]; then
		host=$(. /etc/os-release && echo "${VERSION_CODENAME:?}")
		# Replace the codename in the Suites: lines only (bookworm,
		# bookworm-updates, bookworm-security -> CODENAME...).
		sed -E "/^Suites:/ s/\\b${host}\\b/${codename}/g" "$host_sources" \
			>"$apt_root/etc/sources.list.d/debian.sources"
	else
		cp "$host_sources" "$apt_root/etc/sources.list.d/debian.sources"
	fi
	cat >"$apt_root/apt.conf" <<CONF
Dir::State::Lists "$apt_root/lists";
Dir::Cache "$apt_root";
Dir::Cache::archives "$apt_root/archives";
Dir::Etc::sourcelist "/dev/null";
Dir::Etc::sourceparts "$apt_root/etc/sources.list.d";
Dir::Etc::preferencesparts "$apt_root/etc/preferences.d";
APT::Get::List-Cleanup "false";
APT::Sandbox::User "root";
CONF
	[ -z "$archs" ] ||
		echo "APT::Architectures { \"$(dpkg --print-architecture)\";$archs };" >>"$apt_root/apt.conf"
	export APT_CONFIG=$apt_root/apt.conf
	log "apt-get update (private configuration, suites of ${codename:-the host}${1:+, also for $*})"
	apt-get -q update >"$apt_root/update.log" 2>&1 ||
		{ cat "$apt_root/update.log" >&2; die "apt-get update failed"; }
}

# fetch_deb PINFILE: the .deb a pin names (PACKAGE, VERSION, SHA256; CODENAME,
# the Debian suites that have it, empty for the host's; DEB_ARCH, all when
# empty), downloaded with private_apt into build/cache/debs unless a copy
# with the pinned sha256 is there.  Sets DEB to its path and the pin's
# variables.
fetch_deb() {
	local pin=$1 debdir=$CACHE/debs tmp got
	# shellcheck disable=SC2034
	PACKAGE='' VERSION='' CODENAME='' SHA256='' TARBALL='' DEB_ARCH=''
	# shellcheck disable=SC1090
	. "$pin"
	[ -n "$PACKAGE" ] && [ -n "$VERSION" ] && [ -n "$SHA256" ] ||
		die "$pin: PACKAGE, VERSION and SHA256 are required"
	DEB=$debdir/${PACKAGE}_${VERSION//:/%3a}_${DEB_ARCH:-all}.deb
	mkdir -p "$debdir"
	if [ -f "$DEB" ] && ! deb_verified "$DEB"; then
		log "cached $DEB does not match the pinned sha256; fetching again"
		rm -f "$DEB"
	fi
	if [ ! -f "$DEB" ]; then
		if [ -n "$DEB_ARCH" ] && [ "$DEB_ARCH" != all ] &&
			[ "$DEB_ARCH" != "$(dpkg --print-architecture)" ]; then
			private_apt "$CODENAME" "$DEB_ARCH"
		else
			private_apt "$CODENAME"
		fi
		tmp=$(mktemp -d "$debdir/dl.XXXXXX")
		log "apt-get download $PACKAGE${DEB_ARCH:+:$DEB_ARCH}=$VERSION"
		(cd "$tmp" && apt-get -q download "$PACKAGE${DEB_ARCH:+:$DEB_ARCH}=$VERSION" >&2) ||
			{ rm -rf "$tmp"; die "could not download $PACKAGE=$VERSION"; }
		got=$(ls "$tmp"/*.deb)
		if ! deb_verified "$got"; then
			sha256sum "$got" >&2
			rm -rf "$tmp"
			die "$PACKAGE=$VERSION does not match the pinned sha256 $SHA256"
		fi
		mv "$got" "$DEB"
		rm -rf "$tmp"
	fi
	log "$DEB: sha256 verified"
}
deb_verified() { echo "$SHA256  $1" | sha256sum --check --status; }
