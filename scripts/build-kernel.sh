#!/usr/bin/env bash
# Configure and build one kernel flavour: REF=series|base|mainline, DEBUG=0|1,
# ARCH=x86_64|arm64 (cross-built).  tinyconfig + configs/ fragments; every
# requested symbol must end up in the final .config.  Skips the build when
# nothing it depends on changed.  Prints the object directory (the image at
# `kimage`'s path: arch/x86/boot/bzImage, arch/arm64/boot/Image; exported
# headers in hdr/include).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

ref=${REF:-series} debug=${DEBUG:-0}
src=$(ref_src "$ref")
obj=$(ref_obj "$ref" "$debug")
label=$ref
[ "$debug" = 1 ] && label="$ref (debug)"
[ "$ARCH" = x86_64 ] || label="$label $ARCH"

# One build of an object directory at a time (another make, a guest's build
# check); and none of the series while build-each-patch.sh has its work tree
# at another commit.
mkdir -p "$obj"
exec 8>"$obj.lock"
flock 8
case "$ref" in series|fixes|no-collapse) series_tree_lock -s ;; esac

case "$ref" in
series)   [ -d "$src/.git" ] || "$TOP/scripts/worktree.sh" ;;
fixes|no-collapse)
	[ -d "$(ref_src series)/.git" ] || "$TOP/scripts/worktree.sh"
	cut_worktree "$ref" >&2 ;;
base)     [ -f "$src/Makefile" ] || "$TOP/scripts/fetch-source.sh" "$TOP/base/linux-5.10.pin" "$src" ;;
mainline) [ -f "$src/Makefile" ] || "$TOP/scripts/fetch-source.sh" "$TOP/base/linux-6.12.pin" "$src" ;;
esac

frags=("$TOP"/configs/boot.config "$TOP"/configs/userspace.config "$TOP"/configs/mm.config
	"$TOP/configs/$ARCH.config")
# Symbols the series introduces exist in the series and in mainline (the
# fixes of 5.10 bugs, the first topic, introduce none).
case "$ref" in series|no-collapse|mainline) frags+=("$TOP/configs/series.config") ;; esac
[ "$ref" = mainline ] && frags+=("$TOP/configs/mainline.config")
[ "$debug" = 1 ] && frags+=("$TOP/configs/debug.config")

# What the build depends on: the source, the fragments, this script, the
# compiler (and the cross compiler).
src_id() {
	if [ -e "$src/.git" ]; then
		git -C "$src" rev-parse HEAD
		git -C "$src" diff HEAD
	else
		cat "$src/Makefile" "$src/.source-pin" 2>/dev/null || true
	fi
}
stamp=$({ src_id; cat "${frags[@]}" "$0"; gcc --version; [ -z "$CROSS" ] || "${CROSS}gcc" --version; } |
	sha256sum | cut -d' ' -f1)
image=$(kimage "$obj")
if [ -f "$obj/.uffd-stamp" ] && [ "$(cat "$obj/.uffd-stamp")" = "$stamp" ] && [ -f "$image" ]; then
	log "kernel $label is up to date"
	echo "$obj"
	exit 0
fi

mkdir -p "$obj"
rm -f "$obj/.uffd-stamp"
export KBUILD_BUILD_USER=uffd KBUILD_BUILD_HOST=harness \
	KBUILD_BUILD_TIMESTAMP='Thu Jan  1 00:00:00 UTC 2026' KBUILD_BUILD_VERSION=1
kbuild() { kmake "$src" "$obj" ARCH="$ARCH" "$@"; }

log "configuring $label in $obj"
kbuild -s tinyconfig >/dev/null
"$src/scripts/kconfig/merge_config.sh" -m -O "$obj" "$obj/.config" "${frags[@]}" >"$obj/merge.log"
kbuild -s olddefconfig >/dev/null

# merge_config only warns: fail on every requested value that did not stick.
bad=0
while IFS= read -r line; do
	case "$line" in
	CONFIG_*=n) want="# ${line%=n} is not set" ;;
	CONFIG_*) want=$line ;;
	*) continue ;;
	esac
	if ! grep -qxF "$want" "$obj/.config"; then
		sym=${line%%=*}
		echo "config: requested '$line', got '$(grep -E "^(# )?$sym[= ]" "$obj/.config" || echo absent)'" >&2
		bad=1
	fi
done < <(cat "${frags[@]}")
[ "$bad" = 0 ] || die "kernel config for $ref lacks requested symbols (see above)"

log "building $label"
kbuild -s "$(basename "$image")" >"$obj/build.log" 2>&1 || { tail -n 40 "$obj/build.log" >&2; die "kernel build failed ($obj/build.log)"; }
kbuild -s headers_install INSTALL_HDR_PATH="$obj/hdr" >>"$obj/build.log" 2>&1 ||
	{ tail -n 20 "$obj/build.log" >&2; die "headers_install failed"; }
echo "$stamp" >"$obj/.uffd-stamp"
echo "$obj"
