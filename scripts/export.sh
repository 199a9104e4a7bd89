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

# cover_letter PATCH TEXT: git's cover letter PATCH with the subject (first
# line) and the text (the rest) of TEXT in place of its placeholders.
cover_letter() {
	local subject
	subject=$(head -n 1 "$2")
	awk -v subject="$subject" -v text="$2" '
	/\*\*\* SUBJECT HERE \*\*\*/ { sub(/\*\*\* SUBJECT HERE \*\*\*/, subject) }
	/^\*\*\* BLURB HERE \*\*\*$/ {
		while ((getline line <text) > 0) if (++nr > 2) print line
		next
	}
	{ print }' "$1" >"$1.tmp"
	mv "$1.tmp" "$1"
}

rm -f "$TOP"/patches/*.patch
n=$(git -C "$wt" rev-list --count base..HEAD)
if [ "$n" -gt 0 ]; then
	# The cover letter is signed and dated as the last commit was written
	# (its author, whom git am keeps), so that an export of the same
	# patches gives the same files on any machine.
	GIT_COMMITTER_NAME=$(git -C "$wt" log -1 --format=%an HEAD) \
	GIT_COMMITTER_EMAIL=$(git -C "$wt" log -1 --format=%ae HEAD) \
	GIT_COMMITTER_DATE=$(git -C "$wt" log -1 --format=%aD HEAD) \
	git -C "$wt" -c core.abbrev=12 format-patch -q --zero-commit --full-index \
		--no-signature --base=base --cover-letter -o "$TOP/patches" base..HEAD
	cover_letter "$TOP/patches/0000-cover-letter.patch" "$TOP/docs/cover-letter.txt"
fi
# patches/series, with the banner of docs/topics.txt before the first patch
# of each topic; a banner whose patch is not in the series is an error.
{
	echo "# Applied in order by scripts/worktree.sh (git am); written by make export."
	echo "# 0000-cover-letter.patch (from docs/cover-letter.txt) is not applied."
	git -C "$wt" log --reverse --format=%s base..HEAD |
	paste - <(cd "$TOP/patches" && ls -1 -- *.patch 2>/dev/null |
		grep -v '^0000-cover-letter\.patch$' || true) |
	awk -F'\t' -v topics="$TOP/docs/topics.txt" '
	BEGIN {
		while ((getline line <topics) > 0) {
			if (line ~ /^#/ || line == "") continue
			split(line, f, "\t"); banner[f[1]] = f[2]; left[f[1]] = 1
		}
	}
	{
		if ($1 in banner) { print ""; print "# --- " banner[$1] " ---"; delete left[$1] }
		print $2
	}
	END { for (s in left) { print "no patch for the topic of: " s >"/dev/stderr"; exit 1 } }'
} >"$TOP/patches/series.tmp"
mv "$TOP/patches/series.tmp" "$TOP/patches/series"
log "exported $n patches to patches/"
