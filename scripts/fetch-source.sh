#!/usr/bin/env bash
# Fetch a pinned Debian linux-source .deb, verify its sha256, and unpack
# its kernel tarball.  Usage: fetch-source.sh PINFILE DESTDIR
# The .deb is downloaded with a private apt configuration (own lists and
# cache) whose sources are the host's own, with the host's codename replaced
# by the pin's CODENAME (fetch_deb and private_apt in lib.sh).  Nothing names
# a host: the URIs come from the system.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

pin=$1 dest=$2
fetch_deb "$pin"
deb=$DEB
[ -n "$TARBALL" ] || die "$pin: TARBALL is required"

# Unpack the tarball into DESTDIR (a fresh directory).
rm -rf "$dest.tmp"
mkdir -p "$dest.tmp"
dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$dest.tmp" "./$TARBALL"
tar -x -C "$dest.tmp" -f "$dest.tmp/$TARBALL"
rm -rf "$dest.tmp/usr"
top=$(ls "$dest.tmp")
[ "$(echo "$top" | wc -l)" = 1 ] || die "unexpected tarball layout: $top"
rm -rf "$dest"
mv "$dest.tmp/$top" "$dest"
rmdir "$dest.tmp"
log "unpacked $PACKAGE $VERSION into $dest"
