#!/usr/bin/env bash
# Build the kernel at every commit of the series (base..HEAD of the work
# tree), with the configuration of the series flavour, to show that every
# patch builds on its own.  Then build the kernel parts the series touches
# with its features masked: x86_64 without CONFIG_PTE_MARKER_UFFD_WP, and
# i386, which has no uffd-wp at all.
# FROM=rev starts after rev instead of the base (to build only the commits
# added since a full run; the masked builds always run).
# Uses build/obj-step*; leaves the work tree at its branch again.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
[ "$ARCH" = x86_64 ] || die "make each-patch builds for x86_64 and i386 only (ARCH=$ARCH)"

src=$(ref_src series)
cfg=$(ref_obj series 0)/.config
[ -f "$cfg" ] || die "build the series first (make kernel): $cfg is missing"
[ -z "$(git -C "$src" status --porcelain --untracked-files=no)" ] ||
	die "the work tree $src has uncommitted changes"
# Guests and builds of the series wait (build-kernel.sh) while the work tree
# is at other commits.
series_tree_lock -n || die "a build of the series is running: try again when it is done"
branch=$(git -C "$src" symbolic-ref --short HEAD)
trap 'git -C "$src" checkout -q "$branch"' EXIT

# Compiler warnings in the files a commit touches.
warnings() {
	local files
	files=$(git -C "$src" diff --name-only "$1~1" "$1" -- '*.c' '*.h' | paste -sd'|')
	[ -n "$files" ] || return 0
	grep -E "^\.\./linux/($files):[0-9]+:[0-9]+: warning" "$2" || true
}

fail=0
obj=$BUILD/obj-step
mkdir -p "$obj"
for c in $(git -C "$src" rev-list --reverse "${FROM:-base}"..HEAD); do
	subject=$(git -C "$src" log -1 --format=%s "$c")
	git -C "$src" checkout -q "$c"
	cp "$cfg" "$obj/.config"
	start=$(date +%s)
	if kmake "$src" "$obj" ARCH=x86_64 -s olddefconfig >/dev/null &&
		kmake "$src" "$obj" ARCH=x86_64 -s bzImage >"$obj/build.log" 2>&1; then
		w=$(warnings "$c" "$obj/build.log")
		if [ -n "$w" ]; then
			printf '%s\n' "$w"
			echo "WARN  ${c:0:12} $subject"
			fail=1
		else
			echo "ok    ${c:0:12} $subject ($(($(date +%s) - start)) s)"
		fi
	else
		tail -n 20 "$obj/build.log"
		echo "FAIL  ${c:0:12} $subject"
		fail=1
	fi
done
git -C "$src" checkout -q "$branch"

# The series' files with its features masked.
parts=(mm/ fs/userfaultfd.o fs/proc/task_mmu.o fs/hugetlbfs/)
masked() {
	local name=$1 arch=$2 obj=$BUILD/obj-step-$1
	shift 2
	mkdir -p "$obj"
	kmake "$src" "$obj" ARCH="$arch" -s tinyconfig >/dev/null
	"$src/scripts/kconfig/merge_config.sh" -m -O "$obj" "$obj/.config" \
		"$TOP"/configs/{boot,userspace,mm}.config >/dev/null
	printf '%s\n' "$@" >>"$obj/.config"
	kmake "$src" "$obj" ARCH="$arch" -s olddefconfig >/dev/null
	if grep -q '^CONFIG_PTE_MARKER_UFFD_WP=y' "$obj/.config"; then
		echo "FAIL  $name: CONFIG_PTE_MARKER_UFFD_WP is still set"
		fail=1
	elif kmake "$src" "$obj" ARCH="$arch" -s "${parts[@]}" >"$obj/build.log" 2>&1; then
		echo "ok    $name: ${parts[*]} build without PTE markers for uffd-wp"
	else
		tail -n 20 "$obj/build.log"
		echo "FAIL  $name"
		fail=1
	fi
}
masked x86_64-masked x86_64 '# CONFIG_PTE_MARKER_UFFD_WP is not set'
masked i386 i386 '# CONFIG_64BIT is not set'
exit "$fail"
