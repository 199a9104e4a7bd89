#!/usr/bin/env bash
# Run the base's scripts/checkpatch.pl over every patch of patches/series.
# Exceptions are per patch, each with its reason, in the table below.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

base=$(ref_src base)
[ -f "$base/scripts/checkpatch.pl" ] || "$TOP/scripts/fetch-source.sh" "$TOP/base/linux-5.10.pin" "$base"
# Patch name pattern -> checkpatch types to ignore for that patch only.
declare -A exceptions=(
	# Locals that change between sigsetjmp() and siglongjmp() must be
	# volatile (C11 7.13.2.1); the VOLATILE rule is about kernel code.
	['*selftests-vm-userfaultfd-make-the-signal-test-s-jump*']=VOLATILE
	# The !CONFIG_SHMEM stub of shmem_mcopy_atomic_pte() is the base's
	# ({ BUG(); 0; }) macro, which only gains the new wp_copy argument:
	# its callers are compiled out there, so it can never run.
	['*userfaultfd-shmem-support-UFFDIO_COPY_MODE_WP-and-fi*']=AVOID_BUG
	# The base's BUG_ON(!vma_can_userfault(...)) of register and
	# unregister only gains the wp_async argument; the loop before each
	# checks every vma with the same arguments under mmap_lock for write.
	['*userfaultfd-add-UFFD_FEATURE_WP_ASYNC*']=AVOID_BUG
)
# For every patch: the base is Debian's source package, a tree without git
# history, so checkpatch cannot look up the commit a Fixes: tag names
# (UNKNOWN_COMMIT_ID); the ids are mainline's, checked against its history
# when the tag was written.
global_ignore=(--ignore=UNKNOWN_COMMIT_ID)
# A commit message stands alone for a reader with only the kernel tree: it
# must not point into this repository (its harness and make targets, its
# test programs, tests/ and scripts/, SCENARIOS numbers, its bug and issue
# numbers, its patch numbers).  The message: the Subject line and the body,
# up to the first "---" line.
repo_refs='\bharness\b|SCENARIOS|\bmake (check|run|soak|bench|guest|export|each-patch|check-series|mainline-tests|vm-selftests|mm-selftests)\b'
repo_refs+='|\b(uffd-(abi|core|minor|race|fuzz|review|gup|perm|foll-force|if-claimed|wp-stress|demo|pager)|madv-collapse|mremap-reclaim)\b'
repo_refs+='|(^|[^a-z/])(tests|scripts)/|\bbugs? [0-9]{2}\b|\bissue [0-9]+\b|(^|[^0-9A-Fa-fx:])00[0-9]{2}([^0-9A-Fa-f:]|$)'
message_refs() {
	awk '/^---$/ { exit } /^Subject: / || body { print } /^$/ { body = 1 }' "$1" |
		grep -nE "$repo_refs" || true
}

fail=0 n=0
while read -r p; do
	case "$p" in ''|'#'*) continue ;; esac
	n=$((n + 1))
	ignore=()
	for pat in "${!exceptions[@]}"; do
		# shellcheck disable=SC2053
		[[ $p == $pat ]] && ignore+=("--ignore=${exceptions[$pat]}")
	done
	if ! (cd "$base" && perl scripts/checkpatch.pl -q --no-summary --showfile \
		"${global_ignore[@]}" ${ignore[@]+"${ignore[@]}"} "$TOP/patches/$p"); then
		echo "checkpatch: $p" >&2
		fail=1
	fi
	refs=$(message_refs "$TOP/patches/$p")
	if [ -n "$refs" ]; then
		printf '%s\n' "$refs" | sed "s|^|$p: message points into this repository: line |" >&2
		fail=1
	fi
done <"$TOP/patches/series"
[ "$fail" = 0 ] || die "checkpatch found problems"
log "checkpatch clean: $n patches"
