#!/usr/bin/env bash
# Create build/linux: the base as one commit with a fixed identity and date
# (tagged `base`, reproducible SHA), then `git am` of patches/series.
# Also provides build/linux-base, the pristine base used by REF=base.
# An existing build/linux is kept (it is the developer's work tree) unless
# FORCE=1; with FORCE=1 it is recreated from patches/.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

pin=$TOP/base/linux-5.10.pin
wt=$BUILD/linux
pristine=$(ref_src base)

if [ ! -f "$pristine/Makefile" ]; then
	"$TOP/scripts/fetch-source.sh" "$pin" "$pristine"
fi

if [ -d "$wt/.git" ] && [ "${FORCE:-0}" != 1 ]; then
	log "$wt exists (FORCE=1 recreates it from patches/)"
	exit 0
fi

rm -rf "$wt" "$wt.tmp"
cp -a "$pristine" "$wt.tmp"
export GIT_AUTHOR_NAME=base GIT_AUTHOR_EMAIL=base@localhost \
	GIT_COMMITTER_NAME=base GIT_COMMITTER_EMAIL=base@localhost \
	GIT_AUTHOR_DATE='2000-01-01T00:00:00Z' GIT_COMMITTER_DATE='2000-01-01T00:00:00Z'
(
	cd "$wt.tmp"
	. "$pin"
	git init -q -b master .
	git config core.autocrlf false
	git config gc.auto 0
	# Every file of the tarball, including those the kernel's .gitignore
	# files would hide.
	git add -A -f .
	git commit -q -m "Linux $VERSION (Debian $PACKAGE)"
	git tag base
	got=$(git rev-parse HEAD)
	[ "$got" = "$BASE_COMMIT" ] ||
		die "base commit is $got, the pin says $BASE_COMMIT (tarball or git changed?)"
)
unset GIT_AUTHOR_NAME GIT_AUTHOR_EMAIL GIT_COMMITTER_NAME GIT_COMMITTER_EMAIL \
	GIT_AUTHOR_DATE GIT_COMMITTER_DATE
mv "$wt.tmp" "$wt"
# Commits in the work tree are the repository's configured identity's.
for k in user.name user.email; do
	v=$(git -C "$TOP" config "$k" || true)
	[ -z "$v" ] || git -C "$wt" config "$k" "$v"
done

# Apply the series: no fuzz, no 3-way, stop at the first failure.
n=0
while read -r p; do
	case "$p" in ''|'#'*) continue ;; esac
	n=$((n + 1))
	if ! git -C "$wt" am -q --keep-cr --no-3way "$TOP/patches/$p"; then
		git -C "$wt" am --abort || true
		die "patch $n ($p) does not apply; build/linux stops before it"
	fi
done <"$TOP/patches/series"
log "build/linux: base + $n patches"
