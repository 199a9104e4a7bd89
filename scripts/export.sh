#!/usr/bin/env bash
# Write the commits base..HEAD of build/linux to patches/ as format-patch
# files, deterministically (zero commit ids, full index hashes, no
# signature, numbered names), and rewrite patches/series.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

wt=$(ref_src series)
[ -d "$wt/.git" ] || die "no work tree: make worktree first"
[ -z "$(git -C "$wt" status --porcelain --untracked-files=no)" ] ||
	die "build/linux has uncommitted changes: commit them first"

rm -f "$TOP"/patches/*.patch
n=$(git -C "$wt" rev-list --count base..HEAD)
if [ "$n" -gt 0 ]; then
	git -C "$wt" -c core.abbrev=12 format-patch -q --zero-commit --full-index \
		--no-signature --base=base -o "$TOP/patches" base..HEAD
fi
{
	echo "# Applied in order by scripts/worktree.sh (git am); written by make export."
	(cd "$TOP/patches" && ls -1 -- *.patch 2>/dev/null || true)
} >"$TOP/patches/series"
log "exported $n patches to patches/"
