#!/usr/bin/env bash
# Build mainline 6.12's own userfaultfd selftests (tools/testing/selftests/mm:
# uffd-unit-tests and uffd-stress), static, against that tree's own exported
# uapi headers (never the host's), and run them in the guest of the flavour
# (REF, DEBUG) the way 6.12's run_vmtests.sh does: uffd-unit-tests, then
# uffd-stress anon 20 16, hugetlb and hugetlb-private <MiB> 32, shmem 20 16,
# shmem-private 20 16, where <MiB> is scaled to the guest (see below: 128);
# then 6.12's khugepaged test in its MADV_COLLAPSE context (madvise:anon,
# madvise:shmem).
# Prints every uffd-unit-tests test and every other program as one result,
# then `N passed, N failed, N skipped`.  Exit codes as guest.sh's: 1 a test
# failed or reported no result, 2 setup, 3 timeout, 4 kernel splat or taint.
# Logs: out/<time>-<flavour>-mainline-tests/ (results.log, console.log).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

ref=${REF:-series} debug=${DEBUG:-0}
"$TOP/scripts/host-deps.sh"

bin=$("$TOP/scripts/build-mainline-tests.sh" | tail -n 1)

# Time limits (seconds) of each program under TCG, and of the whole run.
scale=$(debug_scale "$debug")
unit_limit=$((${UNIT_LIMIT:-300} * scale)) stress_limit=$((${STRESS_LIMIT:-90} * scale))
export TEST_TIMEOUT=$((unit_limit + 7 * stress_limit + 60))
export RUN_TIMEOUT=$((TEST_TIMEOUT + 120 * scale))

# Unit tests the flavour's kernel is known to fail, with the reason in the
# README ("What make mainline-tests gives"): reported XFAIL and counted as
# skipped, so that only a new failure fails the run.
# None at present: every test that fails on the series fails the run.
known=''

dir=$OUT/$(date -u +%Y%m%dT%H%M%SZ)-$(ref_flavour "$ref" "$debug")-mainline-tests
verdict=0
GUEST_FILES=$bin GUEST_OUT=$dir "$TOP/scripts/guest.sh" cmd \
	"./run-mainline-tests $unit_limit $stress_limit" || verdict=$?
[ -f "$dir/results.log" ] || exit $((verdict ? verdict : EXIT_SETUP))

# One result per uffd-unit-tests test ("Testing <what>... done | skipped
# [reason: ..] | failed [reason: ..]", the verdict after stray output, if any)
# and per uffd-stress mode (exit 0 passed, 4 skipped, else failed).  A test
# without a verdict, a missing summary line or program fails.
echo
tr -d '\r' <"$dir/results.log" | awk -v known="$known" '
function verdict(v, why) {
	# a test run again by a later -f run of another test counts once
	if (prog ~ /^uffd-unit-tests/ && name in seen) {
		pending = 0
		last = ""
		return
	}
	seen[name] = 1
	if (v == "FAIL" && known != "" && name ~ known) {
		v = "XFAIL"
		why = why " (known, see the README)"
	}
	lastv = v
	n[v]++
	if (prog == "uffd-unit-tests") u[v]++
	printf "  %-4s %s%s\n", v, name, why
	pending = 0
	last = ""
}
# The verdict, or else output of the test: its last line is kept for the
# reason of a missing verdict.
function stray(s) {
	check(s)
	if (pending && s != "") last = ": " substr(s, 1, 160)
}
function check(s) {
	if (s ~ /^done/) verdict("PASS", "")
	else if (s ~ /^skipped \[reason: /) verdict("SKIP", " (" substr(s, 18, length(s) - 18) ")")
	else if (s ~ /^failed \[reason: /) verdict("FAIL", " (" substr(s, 17, length(s) - 17) ")")
}
/^=== BEGIN / {
	prog = substr($3, 1, length($3) - 1)
	nout = 0
	nbad = 0
	cmd = substr($0, index($0, ": ./") + 4)
	args[prog] = substr(cmd, 1, index(cmd, " (limit") - 1)
	next
}
/^=== END / {
	if (pending) verdict("FAIL", " (no result, the program ended" last ")")
	if (prog ~ /^uffd-unit-tests-/) {
		# a run of the tests the whole run did not reach: its own
		# results count, its summary covers tests counted before
		printf "       %s: exit %s, %s s\n", prog, $5, $6
	} else if (prog == "uffd-unit-tests") {
		name = "uffd-unit-tests: exit " $5 ", " $6 " s"
		# Without UFFD_USER_MODE_ONLY (5.11) or /dev/userfaultfd (6.1)
		# it skips everything after its UFFDIO_API tests.
		if (summary == "" && $5 == 4 && skipall != "") verdict("SKIP", " (" skipall ")")
		else if (summary == "" && lastv == "XFAIL")
			verdict("XFAIL", " (no summary line: a known failure ended the program)")
		else if (summary == "") verdict("FAIL", " (no summary line)")
		else if (summary != (u["PASS"] + 0) "/" (u["SKIP"] + 0) "/" (u["FAIL"] + u["XFAIL"]))
			verdict("FAIL", " (its own count pass/skip/fail=" summary " disagrees)")
		else if (($5 != 0) != (u["FAIL"] + u["XFAIL"] > 0))
			verdict("FAIL", " (exit code disagrees with the results)")
		else printf "       %s\n", name
	} else {
		name = sprintf("%-36s exit %-3s %4s s", args[$3], $5, $6)
		verdict($5 == 0 ? "PASS" : $5 == 4 ? "SKIP" : "FAIL", "")
		# why it failed: its lines that say so, else its last ones
		if ($5 != 0 && $5 != 4) {
			if (nbad == 0)
				for (i = (nout > 6 ? nout - 5 : 1); i <= nout; i++) bad[++nbad] = out[i]
			for (i = 1; i <= nbad && i <= 12; i++) printf "         | %s\n", substr(bad[i], 1, 160)
		}
	}
	ended[$3] = 1
	prog = ""
	next
}
/^=== / { print "  " $0; next }
prog ~ /^uffd-unit-tests/ && /^Testing .*\.\.\. / {
	if (pending) verdict("FAIL", " (no result" last ")")
	i = index($0, "... ")
	name = "uffd-unit-tests: " substr($0, 9, i - 9)
	pending = 1
	stray(substr($0, i + 4))
	next
}
prog ~ /^uffd-unit-tests/ && /skip all tests$/ { skipall = $0; next }
prog == "uffd-unit-tests" && /^Userfaults unit tests: / {
	split($0, a, /[=,( ]+/)
	summary = a[5] "/" a[7] "/" a[9]
	next
}
pending { stray($0) }
# the output of a program other than uffd-unit-tests, for its failure
prog != "" && prog !~ /^uffd-unit-tests/ {
	line = $0
	gsub(/\033\[[0-9;]*m/, "", line)
	if (line == "") next
	out[++nout] = line
	if (line ~ /[Ff]ail|[Ee]rror|Unexpected|Bail out|[Ii]nvalid/ && nbad < 12) bad[++nbad] = line
}
END {
	prog = ""
	k = split("uffd-unit-tests uffd-stress-anon uffd-stress-hugetlb uffd-stress-hugetlb-private uffd-stress-shmem uffd-stress-shmem-private khugepaged-madvise-anon khugepaged-madvise-shmem", all, " ")
	for (i = 1; i <= k; i++)
		if (!ended[all[i]]) { name = all[i]; verdict("FAIL", " (no result)") }
	printf "%d %d %d\n", n["PASS"], n["FAIL"], n["SKIP"] + n["XFAIL"] >"/dev/stderr"
}' 2>"$dir/counts" | tee "$dir/summary.log"
read -r passed failed skipped <"$dir/counts"

status=0
[ "$failed" = 0 ] || status=$EXIT_TESTS
case "$verdict" in
0) ;;
"$EXIT_SPLAT"|"$EXIT_TIMEOUT") status=$verdict ;;
*) status=$EXIT_TESTS ;;
esac
say_verdict "$status" "$dir"
echo "$passed passed, $failed failed, $skipped skipped"
exit "$status"
