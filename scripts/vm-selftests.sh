#!/usr/bin/env bash
# make vm-selftests: the base's own tools/testing/selftests/vm programs
# (tests/vm-selftests.list) on REF=base and on the series (or on the cut of
# it that REF= names: fixes, no-collapse), one guest boot each (DEBUG= as
# given), and a table of both results side by side.  A program passes here
# when it ends the same way on both kernels; a difference is a failure,
# unless it is listed below with its cause.
# Ends with `N passed, N failed, N skipped`.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

list=$TOP/tests/vm-selftests.list
debug=${DEBUG:-0}
other=${REF:-series}
[ "$other" != base ] || other=series
# Programs whose result differs on purpose: NAME -> cause.
declare -A known=()

mkdir -p "$OUT"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
declare -A dirs
for ref in base "$other"; do
	dirs[$ref]=$OUT/$stamp-$(ref_flavour "$ref" "$debug")-vm-selftests
	log "vm selftests on $ref"
	REF=$ref TEST_LIST=$list GUEST_OUT=${dirs[$ref]} "$TOP/scripts/guest.sh" check \
		>"${dirs[$ref]}.log" 2>&1 || true
	grep -E '^VERDICT|^[0-9]+ passed' "${dirs[$ref]}.log" | sed "s/^/  $ref: /" || true
done

# rc NAME REF: the program's exit code on REF, or "none"; "splat" when the
# kernel of that run splatted (its console is kept).
rc() {
	local f=${dirs[$2]}/tap/$1.rc
	if [ -f "$f" ]; then cat "$f"; else echo none; fi
}
pass=0 fail=0 skip=0
printf '%-28s %-8s %-8s %s\n' program base "$other" verdict
while read -r name _; do
	case "$name" in ''|'#'*) continue ;; esac
	b=$(rc "$name" base) s=$(rc "$name" "$other")
	if [ "$b" = none ] || [ "$s" = none ]; then
		v="FAIL (no result)"; fail=$((fail + 1))
	elif [ "$b" = "$s" ]; then
		v=same; pass=$((pass + 1))
	elif [ -n "${known[$name]:-}" ]; then
		v="differs: ${known[$name]}"; skip=$((skip + 1))
	else
		v="FAIL (differs)"; fail=$((fail + 1))
	fi
	printf '%-28s %-8s %-8s %s\n' "$name" "$b" "$s" "$v"
done <"$list"
# The kernels' own verdicts: no splat, no taint, in time.
for ref in base "$other"; do
	if grep -q '^VERDICT: kernel splat' "${dirs[$ref]}.log"; then
		echo "kernel $ref: splat (${dirs[$ref]#"$TOP"/}/console.log)"
		fail=$((fail + 1))
	fi
done
echo "logs: ${dirs[base]#"$TOP"/}, ${dirs[$other]#"$TOP"/}"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" = 0 ] || exit "$EXIT_TESTS"
