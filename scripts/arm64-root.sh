#!/usr/bin/env bash
# ARCH=arm64: the arm64 userland the guest and the cross-built tests need
# from Debian, the packages pinned by base/arm64-*.pin (name, version,
# sha256): busybox-static (the guest's /bin/busybox), libcap-dev, libnuma-dev
# and liburing-dev (static libraries and headers).  Fetched with fetch_deb's
# private apt configuration, which adds the arm64 package indices of the
# host's own sources (no dpkg architecture is added to the system), and
# unpacked with dpkg-deb -x into build/cache/arm64-root, redone when a pin
# changes.  Prints that directory.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

root=$CACHE/arm64-root
mkdir -p "$CACHE"
exec 8>"$root.lock"
flock 8
pins=("$TOP"/base/arm64-*.pin)
stamp=$(cat "${pins[@]}" | sha256sum | cut -d' ' -f1)
if [ ! -f "$root/.stamp" ] || [ "$(cat "$root/.stamp")" != "$stamp" ]; then
	rm -rf "$root.tmp"
	mkdir -p "$root.tmp"
	for pin in "${pins[@]}"; do
		fetch_deb "$pin"
		dpkg-deb -x "$DEB" "$root.tmp"
	done
	echo "$stamp" >"$root.tmp/.stamp"
	rm -rf "$root"
	mv "$root.tmp" "$root"
	log "arm64 userland in ${root#"$TOP"/}: $(cd "$TOP/base" && echo arm64-*.pin)"
fi
echo "$root"
