#!/usr/bin/env bash
# make mm-selftests: mainline 6.12's tools/testing/selftests/mm programs of
# tests/mm-selftests.list, built by build-mainline-tests.sh, on REF=base,
# the series and REF=mainline (one guest boot each, in turn; DEBUG= as
# given), compared test by test.  The run fails when a test passes on base
# or on mainline but not on the series, unless the list excepts it with its
# reason (a feature 5.10 never had).  Prints one line per program (its
# results on each kernel and the series' verdict), then
# `N passed, N failed, N skipped` of the series' verdicts.
#
# KERNELS="base series mainline" (default) chooses the kernels booted
# (KERNELS= none), PROGS="NAME..." the programs.  Mainline's results when it
# is not booted: those recorded in tests/mm-selftests.mainline.tsv (its
# kernel and these programs are pinned; CI compares with them instead of
# building a fourth kernel).  RECORD=1 writes that file from this run's
# mainline results.  KOBJ_BASE=, KOBJ_SERIES=,
# KOBJ_MAINLINE= boot a kernel built before (guest.sh's KOBJ) instead of
# building that flavour; TESTS_DIR= passes through to guest.sh.  REUSE_BASE=dir (and
# REUSE_SERIES=, REUSE_MAINLINE=) takes that kernel's results from an
# earlier run's log directory instead of booting it.  GUEST_CPUS=3 (boot.sh's)
# gives migration the CPUs its tests need.
# Logs: out/<time>-mm-selftests/<ref>/ (results.log, console.log, tests.tsv).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

list=$TOP/tests/mm-selftests.list
debug=${DEBUG:-0}
kernels=${KERNELS-base series mainline}
progs=${PROGS:-}
[ -z "${KOBJ:-}" ] || die "KOBJ= would boot one kernel for all three: use KOBJ_BASE=, KOBJ_SERIES=, KOBJ_MAINLINE="
"$TOP/scripts/host-deps.sh"
bin=$("$TOP/scripts/build-mainline-tests.sh" | tail -n 1)

# The guest's time limit: every program's limit, plus its setup (drop
# caches, compaction), plus the boot.
scale=$(debug_scale "$debug")
limits=$(awk -v only=" $progs " '$1 == "retry" { twice[$2] = 1; next }
	!/^[[:space:]]*(#|except[[:space:]]|$)/ &&
	(only == "  " || index(only, " " $1 " ")) { s += ($2 + 10) * (twice[$1] ? 2 : 1) }
	END { print s + 0 }' "$list")
[ "$limits" != 0 ] || die "PROGS=$progs: no such program in tests/mm-selftests.list"
export TEST_TIMEOUT=$((limits * scale + 60))
export RUN_TIMEOUT=$((TEST_TIMEOUT + 120 * scale))

# parse RESULTS.LOG: one line per test, "PROGRAM<tab>TEST<tab>ok|fail|skip
# <tab>DETAIL", and per program that ended "PROGRAM<tab><tab>end<tab>EXIT
# SECONDS".
parse() {
	tr -d '\r' <"$1" | awk '
	function result(name, v, detail) {
		if (name == "") name = "(unnamed)"
		if (++seen[prog, name] > 1) name = name " (" seen[prog, name] ")"
		printf "%s\t%s\t%s\t%s\n", prog, name, v, substr(detail, 1, 200)
	}
	# TAP lines after a "# [RUN] WHAT" line are named WHAT if there is one,
	# else "WHAT: <description>"; the others by their description.
	function runclose(   i) {
		for (i = 1; i <= nr; i++)
			result(run == "" ? rdesc[i] : nr == 1 ? run : run ": " rdesc[i], rv[i], rdetail[i])
		nr = 0
		run = ""
	}
	# khugepaged: "Run test: NAME (context:memory)", then one coloured
	# verdict per check (green OK, red Fail, yellow Skip).
	function khclose() {
		if (kh == "") return
		result(kh, khv["fail"] ? "fail" : khv["ok"] ? "ok" : khv["skip"] ? "skip" : "fail",
			khv["fail"] ? khfail : khv["ok"] ? "" : khv["skip"] ? "skipped" : "no verdict")
		kh = ""
		delete khv
	}
	/^=== BEGIN / {
		prog = substr($0, 11, index($0, ": ") - 11)
		next
	}
	prog == "" { next }
	/^=== END / {
		runclose()
		khclose()
		# $3 name, $5 exit code, $6 seconds
		printf "%s\t\tend\t%s %s\n", prog, $5, $6
		prog = ""
		next
	}
	/^=== / { next }
	/^# \[RUN\] / { runclose(); run = substr($0, 9); next }
	/^(not )?ok [0-9]+/ {
		v = /^not / ? "fail" : "ok"
		rest = $0
		sub(/^(not )?ok [0-9]+ ?/, "", rest)
		if (rest ~ /^# (SKIP|XFAIL)/) {
			v = "skip"
			desc = substr(rest, index(substr(rest, 3), " ") + 3)
		} else if (match(rest, / # (SKIP|XFAIL)/)) {
			v = "skip"
			desc = substr(rest, 1, RSTART - 1)
		} else desc = rest
		gsub(/[[:space:]]+$/, "", desc)
		# pagemap_ioctl names the results of its transact_test by counts
		# that differ from run to run: they are compared without them.
		if (prog ~ /^pagemap_ioctl(_nonoexec)?$/ && desc ~ /^transact_test /)
			gsub(/[0-9]+(\.[0-9]+)?/, "N", desc)
		nr++
		rdesc[nr] = desc; rv[nr] = v; rdetail[nr] = rest
		next
	}
	/^Run test: / { khclose(); kh = substr($0, 11); next }
	kh != "" && /\033\[32m/ { khv["ok"]++ }
	kh != "" && /\033\[31m/ { if (!khv["fail"]++) khfail = $0 }
	kh != "" && /\033\[33m/ { khv["skip"]++ }
	' | sed 's/\x1b\[[0-9;]*m//g'
}

mkdir -p "$OUT"
top=$OUT/$(date -u +%Y%m%dT%H%M%SZ)-mm-selftests
[ "$debug" = 0 ] || top=$top-debug
recorded=$TOP/tests/mm-selftests.mainline.tsv
declare -A dirs verdicts tsv
for ref in base series mainline; do
	reuse_var=REUSE_${ref^^} kobj_var=KOBJ_${ref^^}
	if [ "$ref" = mainline ] && [ -z "${REUSE_MAINLINE:-}" ] &&
		[[ " $kernels " != *" mainline "* ]] && [ -f "$recorded" ]; then
		log "mainline: the results recorded in ${recorded#"$TOP"/}"
		tsv[$ref]=$recorded
		continue
	elif [ -n "${!reuse_var:-}" ]; then
		dirs[$ref]=${!reuse_var}
		[ -f "${dirs[$ref]}/results.log" ] || die "$reuse_var=${!reuse_var} has no results.log"
		verdicts[$ref]=$(cat "${dirs[$ref]}/verdict" 2>/dev/null || echo 0)
	elif [[ " $kernels " == *" $ref "* ]]; then
		dirs[$ref]=$top/$ref
		mkdir -p "$top"
		log "mm selftests on $ref"
		v=0
		env ${!kobj_var:+KOBJ="${!kobj_var}"} REF="$ref" GUEST_FILES="$bin" GUEST_OUT="${dirs[$ref]}" \
			"$TOP/scripts/guest.sh" cmd "./run-mm-selftests $scale $progs" \
			>"${dirs[$ref]}.log" 2>&1 || v=$?
		verdicts[$ref]=$v
		mkdir -p "${dirs[$ref]}"
		echo "$v" >"${dirs[$ref]}/verdict"
		[ -f "${dirs[$ref]}/results.log" ] || { cat "${dirs[$ref]}.log" >&2; exit "$EXIT_SETUP"; }
	else
		continue
	fi
	parse "${dirs[$ref]}/results.log" >"${dirs[$ref]}/tests.tsv.$$"
	mv "${dirs[$ref]}/tests.tsv.$$" "${dirs[$ref]}/tests.tsv"
	tsv[$ref]=${dirs[$ref]}/tests.tsv
done
if [ "${RECORD:-0}" = 1 ]; then
	[ -n "${dirs[mainline]:-}" ] || die "RECORD=1: mainline was not run"
	[ -z "$progs" ] || die "RECORD=1 records all programs: run without PROGS="
	# the verdicts, without the details (they differ from run to run)
	awk -F '\t' -v OFS='\t' '$3 == "end" { print; next } { print $1, $2, $3, "" }' \
		"${tsv[mainline]}" >"$recorded"
	log "recorded mainline's results in ${recorded#"$TOP"/}"
fi
[ -n "${dirs[series]:-}" ] || die "no series run (KERNELS= or REUSE_SERIES=): nothing to compare"

# The comparison.  Each program has the tests it printed and one more,
# "exit code" (0 ok, 4 skip, else failed; killed at its limit: 137).  A
# test that is ok on base or on mainline and not ok on the series (failed,
# skipped or missing) regressed, unless an except line of the list matches
# it; a regressed exit code is explained by the tests that regressed with
# it, and counts on its own only when no test did.
files=()
for ref in base series mainline; do
	if [ -n "${tsv[$ref]:-}" ]; then files+=("$ref=${tsv[$ref]}"); fi
done
echo
awk -v only=" $progs " -v files="${files[*]}" -v counts="$top.counts" '
BEGIN {
	nf = split(files, fl, " ")
	for (i = 1; i <= nf; i++) {
		ref = substr(fl[i], 1, index(fl[i], "=") - 1)
		have[ref] = 1
		file = substr(fl[i], length(ref) + 2)
		while ((getline line <file) > 0) {
			split(line, a, "\t")
			if (a[3] == "end") {
				ended[ref, a[1]] = a[4]
				split(a[4], rc, " ")
				add(ref, a[1], "exit code", rc[1] == 0 ? "ok" : rc[1] == 4 ? "skip" : "fail", "exit " rc[1])
			} else {
				add(ref, a[1], a[2], a[3], a[4])
				printed[ref, a[1]] = 1
				cnt[ref, a[1], a[3]]++
			}
		}
	}
}
function add(ref, p, name, verdict, detail) {
	v[ref, p, name] = verdict
	d[ref, p, name] = detail
	if (!((p, name) in known)) {
		known[p, name] = 1
		ntests[p]++
		tests[p, ntests[p]] = name
	}
}
# except NAME | ERE | REASON (the fields split at bars between blanks)
/^except[[:space:]]/ {
	split($0, x, /[[:space:]]+\|[[:space:]]+/)
	split(x[1], y, /[[:space:]]+/)
	ne++
	exprog[ne] = y[2]; exre[ne] = x[2]; exwhy[ne] = x[3]
	next
}
/^retry[[:space:]]/ { next }
/^[[:space:]]*(#|$)/ { next }
{ if (only == "  " || index(only, " " $1 " ")) order[++np] = $1 }
function orno(x) { return x == "" ? "-" : x }
# The column of a kernel: "-" not run, "none" no result; the verdict of a
# program that printed no tests there (pass, fail, skip), else its tests
# ok/failed/skipped, with "!" when it was killed (its limit) or died of a
# signal.
function col(ref, p,   s, how) {
	if (!have[ref]) return "-"
	if (!((ref, p) in ended)) return "none"
	if (!printed[ref, p]) return v[ref, p, "exit code"] == "ok" ? "pass" : v[ref, p, "exit code"]
	split(ended[ref, p], how, " ")
	return (cnt[ref, p, "ok"] + 0) "/" (cnt[ref, p, "fail"] + 0) "/" (cnt[ref, p, "skip"] + 0) \
		(how[1] >= 128 ? "!" : "")
}
END {
	printf "%-26s %-10s %-10s %-10s %s\n", "program", "base", "series", "mainline", "series verdict"
	for (i = 1; i <= np; i++) {
		p = order[i]
		reg = 0; exc = 0; everywhere = 0; exitreg = 0; list = ""
		for (j = 1; j <= ntests[p]; j++) {
			t = tests[p, j]
			s = v["series", p, t]
			if (s == "ok") continue
			if (v["base", p, t] != "ok" && v["mainline", p, t] != "ok") {
				if (s == "fail" && t != "exit code" && (have["base"] || have["mainline"]) &&
				    (!have["base"] || v["base", p, t] == "fail") &&
				    (!have["mainline"] || v["mainline", p, t] == "fail"))
					everywhere++
				continue
			}
			hit = 0
			for (e = 1; e <= ne; e++)
				if (exprog[e] == p && t ~ exre[e]) { hit = e; break }
			if (hit) {
				exc++
				if (!excnt[hit]++) exorder[++nexc] = hit
				continue
			}
			if (t == "exit code") { exitreg = 1; continue }
			if (++reg <= 10)
				list = list sprintf("  %s: %s (base %s, mainline %s, series %s%s)\n", p, t,
					orno(v["base", p, t]), orno(v["mainline", p, t]), s == "" ? "missing" : s,
					d["series", p, t] == "" ? "" : ": " d["series", p, t])
		}
		if (exitreg && !reg && !exc) {
			reg = 1
			list = sprintf("  %s: exit code (base %s, mainline %s, series %s)\n", p,
				orno(d["base", p, "exit code"]), orno(d["mainline", p, "exit code"]),
				orno(d["series", p, "exit code"]))
		}
		if (reg > 10) list = list sprintf("  %s: ... and %d more\n", p, reg - 10)
		regs = regs list
		note = ""
		if (!(("series", p) in ended)) { verdict = "FAIL"; note = "no result on the series"; failed++ }
		else if (reg) { verdict = "FAIL"; note = reg " regressed"; failed++ }
		else if (printed["series", p] ? !cnt["series", p, "ok"] : v["series", p, "exit code"] != "ok") {
			verdict = "SKIP"; skipped++
		}
		else { verdict = "PASS"; passed++ }
		if (exc) note = note (note == "" ? "" : "; ") exc " excepted"
		if (everywhere) note = note (note == "" ? "" : "; ") everywhere " failed on every kernel"
		printf "%-26s %-10s %-10s %-10s %s%s\n", p, col("base", p), col("series", p), col("mainline", p),
			verdict, note == "" ? "" : " (" note ")"
	}
	if (nexc) printf "\nExcepted (tests that pass on base or mainline, not on the series):\n"
	for (i = 1; i <= nexc; i++)
		printf "  %s: %d: %s\n", exprog[exorder[i]], excnt[exorder[i]], exwhy[exorder[i]]
	if (regs != "") printf "\nTests that pass on base or mainline but not on the series:\n%s", regs
	printf "%d %d %d\n", passed, failed, skipped >counts
}' "$list" | tee "$top.summary"
mkdir -p "$top"
read -r passed failed skipped <"$top.counts"
rm -f "$top.counts"
mv "$top.summary" "$top/summary.log"

# The kernels' own verdicts: a splat or timeout on the series fails the run;
# on base or mainline it is reported (not this series' doing).
status=0
[ "$failed" = 0 ] || status=$EXIT_TESTS
for ref in base series mainline; do
	case "${verdicts[$ref]:-0}" in
	0|1) ;;
	*)
		echo "kernel $ref: guest verdict ${verdicts[$ref]} (3 timeout, 4 splat or taint; ${dirs[$ref]#"$TOP"/}/console.log)"
		if [ "$ref" = series ]; then status=${verdicts[$ref]}; failed=$((failed + 1)); fi
		;;
	esac
done
# Programs the list lets retry, whose first run failed.
for ref in base series mainline; do
	[ -f "${dirs[$ref]:-/nonexistent}/results.log" ] || continue
	tr -d '\r' <"${dirs[$ref]}/results.log" | sed -n "s/^=== \([^ ]*\): retried (\(.*\))$/retried on $ref: \1 (\2)/p"
done
logs=
for ref in base series mainline; do
	[ -z "${dirs[$ref]:-}" ] || logs="$logs ${dirs[$ref]#"$TOP"/}"
done
echo "logs:$logs"
echo "$passed passed, $failed failed, $skipped skipped"
exit "$status"
