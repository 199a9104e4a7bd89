#!/usr/bin/env bash
# Fetch a pinned Debian linux-source .deb, verify its sha256, and unpack
# its kernel tarball.  Usage: fetch-source.sh PINFILE DESTDIR
# The .deb is downloaded with a private apt configuration (own lists and
# cache) whose sources are the host's own, with the host's codename replaced
# by the pin's CODENAME.  Nothing names a host: the URIs come from the system.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

pin=$1 dest=$2
PACKAGE= VERSION= CODENAME= SHA256= TARBALL=
# shellcheck disable=SC1090
. "$pin"
[ -n "$PACKAGE" ] && [ -n "$VERSION" ] && [ -n "$SHA256" ] && [ -n "$TARBALL" ] ||
	die "$pin: PACKAGE, VERSION, SHA256 and TARBALL are required"

debdir=$CACHE/debs
deb=$debdir/${PACKAGE}_${VERSION//:/%3a}_all.deb
mkdir -p "$debdir"

verify() { echo "$SHA256  $1" | sha256sum --check --status; }

if [ -f "$deb" ] && ! verify "$deb"; then
	log "cached $deb does not match the pinned sha256; fetching again"
	rm -f "$deb"
fi

if [ ! -f "$deb" ]; then
	apt_root=$CACHE/apt-${CODENAME:-host}
	mkdir -p "$apt_root"/{lists/partial,archives/partial,etc/sources.list.d,etc/preferences.d}
	host_sources=/etc/apt/sources.list.d/debian.sources
	[ -r "$host_sources" ] || die "$host_sources not readable: cannot derive apt sources"
	if [ -n "$CODENAME" ]; then
		host=$(. /etc/os-release && echo "${VERSION_CODENAME:?}")
		# Replace the codename in the Suites: lines only (bookworm,
		# bookworm-updates, bookworm-security -> CODENAME...).
		sed -E "/^Suites:/ s/\\b${host}\\b/${CODENAME}/g" "$host_sources" \
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
	export APT_CONFIG=$apt_root/apt.conf
	log "apt-get update (private configuration, suites of ${CODENAME:-the host})"
	apt-get -q update >"$apt_root/update.log" 2>&1 ||
		{ cat "$apt_root/update.log" >&2; die "apt-get update failed"; }
	tmp=$(mktemp -d "$debdir/dl.XXXXXX")
	log "apt-get download $PACKAGE=$VERSION"
	(cd "$tmp" && apt-get -q download "$PACKAGE=$VERSION") ||
		{ rm -rf "$tmp"; die "could not download $PACKAGE=$VERSION"; }
	got=$(ls "$tmp"/*.deb)
	if ! verify "$got"; then
		sha256sum "$got" >&2
		rm -rf "$tmp"
		die "$PACKAGE=$VERSION does not match the pinned sha256 $SHA256"
	fi
	mv "$got" "$deb"
	rm -rf "$tmp"
fi
log "$deb: sha256 verified"

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
