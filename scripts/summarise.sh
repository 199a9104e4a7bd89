#!/usr/bin/env bash
# Turn a guest's results channel into one TAP file per test, have prove
# judge them, and print the closing line `N passed, N failed, N skipped`.
# A test of the list that did not report counts as failed.
# The kernel's own verdict (boot.sh's exit code) is one more test, "kernel".
# Usage: summarise.sh OUTDIR LISTFILE BOOT_VERDICT     Exit: 0, or EXIT_TESTS.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

dir=$1 list=$2 verdict=${3:-0}
tap=$dir/tap
rm -rf "$tap"
mkdir -p "$tap"

# Split the framed stream: ### BEGIN name / output / ### END name rc.
awk -v dir="$tap" '
{ sub(/\r$/, "") }
/^### BEGIN / { name = $3; file = dir "/" name ".out"; printf "" > file; next }
/^### END /   { if (name != "") { print $4 > (dir "/" name ".rc"); close(file) } name = ""; next }
/^### /       { next }
name != ""    { print > file }
' "$dir/results.log"

missing=0
files=()
while read -r name _; do
	case "$name" in ''|'#'*) continue ;; esac
	out=$tap/$name.out t=$tap/$name.tap
	if [ ! -f "$tap/$name.rc" ]; then
		printf '1..1\nnot ok 1 - %s reported no result\n' "$name" >"$t"
		echo 1 >"$tap/$name.status"
		missing=$((missing + 1))
	elif head -n 1 "$out" | grep -q '^TAP version'; then
		cp "$out" "$t"
		rc=$(cat "$tap/$name.rc")
		# kselftest exits 4 when it skipped everything: not a failure.
		[ "$rc" = 4 ] && rc=0
		echo "$rc" >"$tap/$name.status"
	else
		rc=$(cat "$tap/$name.rc")
		{
			echo "1..1"
			sed 's/^/# /' "$out"
			case "$rc" in
			0) echo "ok 1 - $name" ;;
			4) echo "ok 1 - $name # SKIP" ;;
			*) echo "not ok 1 - $name (exit $rc)" ;;
			esac
		} >"$t"
		echo 0 >"$tap/$name.status"
	fi
	files+=("$t")
done <"$list"

case "$verdict" in
0) kernel="ok 1 - kernel: finished, no splat on the console, not tainted" ;;
"$EXIT_SPLAT") kernel="not ok 1 - kernel: splat or taint (see console.log)" ;;
"$EXIT_TIMEOUT") kernel="not ok 1 - kernel: the guest timed out" ;;
*) kernel="not ok 1 - kernel: the guest stopped without reporting (exit $verdict)" ;;
esac
printf '1..1\n%s\n' "$kernel" >"$tap/kernel.tap"
echo 0 >"$tap/kernel.status"
files+=("$tap/kernel.tap")

status=0
prove --exec "$TOP/scripts/tap-replay.sh" "${files[@]}" >"$dir/prove.log" 2>&1 || status=$EXIT_TESTS
sed -n '/^Test Summary Report/,$p; /^All tests successful/p' "$dir/prove.log"

# The closing line, from every test point; a file that prove faulted
# without a failing point (bad plan, crash, non-zero exit) adds one failure.
read -r passed failed skipped < <(
	for t in "${files[@]}"; do
		awk -v st="$(cat "${t%.tap}.status")" '
		/^1\.\.[0-9]+/ { plan = substr($1, 4) + 0; hasplan = 1 }
		# Expected failures (XFAIL, TODO) are not passes: counted as skipped.
		/^ok / { n++; if (toupper($0) ~ /# (SKIP|XFAIL)/) s++; else p++ }
		/^not ok / { n++; if (toupper($0) ~ /# TODO/) s++; else f++ }
		END {
			if (!f && (!hasplan || n != plan || st != 0)) f = 1
			print p + 0, f + 0, s + 0
		}' "$t"
	done | awk '{ p += $1; f += $2; s += $3 } END { print p + 0, f + 0, s + 0 }')
[ "$failed" = 0 ] || status=$EXIT_TESTS
echo "$passed passed, $failed failed, $skipped skipped"
exit "$status"
