#!/usr/bin/env bash
# Install the host packages the harness needs (Debian) for ARCH, if any is
# missing, and those named as arguments (make bench: gnuplot-nox python3).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

pkgs=(gcc make libc6-dev bc flex bison libelf-dev libssl-dev perl cpio xz-utils
	gzip file git ccache qemu-system-x86 busybox-static rsync libcap-dev "$@")
# ARCH=arm64: the cross compiler, its static libc and qemu-system-aarch64
# (the guest's busybox and libcap are arm64 .debs: scripts/arm64-root.sh).
[ "$ARCH" = x86_64 ] || pkgs+=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-system-arm)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null | grep -qx installed ||
		missing+=("$p")
done
[ ${#missing[@]} = 0 ] && exit 0
[ "$(id -u)" = 0 ] || die "missing host packages (run as root to install): ${missing[*]}"
log "installing host packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get -q update >/dev/null
apt-get -q install -y --no-install-recommends "${missing[@]}" >/dev/null ||
	die "apt-get install ${missing[*]} failed"
