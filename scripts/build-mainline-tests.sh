#!/usr/bin/env bash
# Build mainline 6.12's own mm selftests (tools/testing/selftests/mm), static,
# against that tree's own exported uapi headers (never the host's), and the
# guest scripts that run them: uffd-unit-tests, uffd-stress and khugepaged for
# `make mainline-tests` (run-mainline-tests, the way 6.12's run_vmtests.sh
# runs them), and the programs of tests/mm-selftests.list for
# `make mm-selftests` (run-mm-selftests).  Used by mainline-tests.sh,
# mm-selftests.sh and bench.sh; prints the directory that holds them.
# ARCH=arm64: cross-built into build/mainline-tests-arm64, with arm64's
# static libraries from Debian (scripts/arm64-root.sh).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

# The static libraries some programs link (the Makefile's LDLIBS below):
# libnuma (migration, ksm_tests), liburing (cow's io_uring pinning tests),
# libcap (mlock-random-test).
"$TOP/scripts/host-deps.sh" libnuma-dev liburing-dev libcap-dev

src=$(ref_src mainline)
[ -f "$src/Makefile" ] || "$TOP/scripts/fetch-source.sh" "$TOP/base/linux-6.12.pin" "$src"
sel=$src/tools/testing/selftests
list=$TOP/tests/mm-selftests.list
dst=$BUILD/mainline-tests$ASUFFIX
cc=${CROSS}gcc
if [ "$ARCH" = arm64 ]; then
	root=$("$TOP/scripts/arm64-root.sh" | tail -n 1)
	cc="$cc -idirafter $root/usr/include -L $root/usr/lib/aarch64-linux-gnu"
fi
hdr=$dst/headers
bin=$dst/guest

# The programs of the list: the first word of each command that is ./NAME
# (NAME.c in selftests/mm; NAME_64 is NAME.c built for 64 bits, as the
# Makefile builds protection_keys_64).
mm_progs=$(awk '!/^[[:space:]]*(#|except[[:space:]]|retry[[:space:]]|$)/ {
	for (i = 3; i <= NF; i++) if ($i ~ /^\.\//) { print substr($i, 3); break }
}' "$list" | sort -u)

# Redone when the tree (its pin), the sources, the static libraries, the
# set of programs, this script or gcc (or the cross compiler and arm64's
# libraries) change.
stamp=$({
	cat "$TOP/base/linux-6.12.pin" "$src/Makefile" "$sel"/kselftest*.h "$sel"/mm/*.[ch] \
		"$sel/mm/Makefile" "$sel/mm/check_config.sh" "$src/mm/gup_test.h" "$0"
	echo "$mm_progs"
	dpkg-query -W libnuma-dev liburing-dev libcap-dev
	gcc --version
	[ -z "$CROSS" ] || { "${CROSS}gcc" --version; cat "$root/.stamp"; }
} | sha256sum | cut -d' ' -f1)
if [ ! -f "$dst/.stamp" ] || [ "$(cat "$dst/.stamp")" != "$stamp" ]; then
	log "building mainline's mm selftests in ${dst#"$TOP"/}"
	rm -rf "$dst"
	mkdir -p "$bin"
	make -s -C "$src" O="$BUILD/obj-mainline-headers$ASUFFIX" ARCH="$ARCH" headers_install \
		INSTALL_HDR_PATH="$hdr" >/dev/null
	# The Makefile's probe for liburing: local_config.h and .mk in $dst.
	(cd "$dst" && sh "$sel/mm/check_config.sh" "$cc")
	iouring=$(sed -n 's/^IOURING_EXTRA_LIBS = *//p' "$dst/local_config.mk")
	# tools/testing/selftests/mm/Makefile's CFLAGS and LDLIBS, plus -static.
	cflags=(-Wall -O2 -I "$src" -I "$dst" -isystem "$hdr/include" -isystem "$src/tools/include/uapi"
		-U_FORTIFY_SOURCE -no-pie -static)
	for p in uffd-unit-tests uffd-stress khugepaged $mm_progs; do
		[ -e "$bin/$p" ] && continue
		# protection_keys_64: x86 only (the Makefile's VMTARGETS).
		[ "$ARCH:$p" != arm64:protection_keys_64 ] || continue
		c=${p%_64} extra=()
		# The Makefile's "$(OUTPUT)/<p>: LDLIBS += ..." lines.
		read -r -a libs < <(awk -v t="\$(OUTPUT)/$c" -v uring="$iouring" '
			/^\$\(OUTPUT\)\/[^:]*: *LDLIBS \+=/ {
				split($0, a, ":")
				n = split(a[1], ts, " ")
				l = substr(a[2], index(a[2], "+=") + 2)
				gsub(/\$\(IOURING_EXTRA_LIBS\)/, uring, l)
				for (i = 1; i <= n; i++) if (ts[i] == t) printf "%s ", l
			}' "$sel/mm/Makefile") || true
		case "$p" in
		uffd-*) extra=(uffd-common.c) ;;
		# khugepaged.c uses KSFT_SKIP but does not include kselftest.h:
		# it is included here, after _GNU_SOURCE (for memfd_create and
		# mremap).
		khugepaged) extra=(-D_GNU_SOURCE= -include "$sel/kselftest.h") ;;
		*_64) extra=(-m64 -mxsave) libs+=(-ldl) ;;
		esac
		src_dir=$sel/mm
		case "$p" in
		# NAME_nonoexec: NAME.c with the memfd_create() flag
		# MFD_NOEXEC_SEAL (6.3), which kernels before 6.3 refuse, taken
		# out (pagemap_ioctl bails out there, before its file tests).
		*_nonoexec)
			[ -f "$sel/mm/${c%_nonoexec}.c" ] ||
				die "tests/mm-selftests.list: no ${c%_nonoexec}.c in ${sel#"$TOP"/}/mm"
			src_dir=$dst extra+=(-I "$sel/mm")
			sed 's/MFD_NOEXEC_SEAL/0/' "$sel/mm/${c%_nonoexec}.c" >"$dst/$c.c" ;;
		esac
		[ -f "$src_dir/$c.c" ] || die "tests/mm-selftests.list: no $c.c in ${sel#"$TOP"/}/mm"
		# In the directory, as its Makefile builds: __FILE__ is then the
		# bare name (gup_longterm makes its "local tmpfile" from it).
		# shellcheck disable=SC2086
		(cd "$src_dir" && $cc "${cflags[@]}" "${extra[@]}" -o "$bin/$p" "$c.c" \
			"$sel/mm/vm_util.c" "$sel/mm/thp_settings.c" -lrt -lpthread -lm \
			${libs[@]+"${libs[@]}"})
	done
	echo "$stamp" >"$dst/.stamp"
fi

# The guest side, written every time (it costs nothing): prog, which runs
# one program bounded by a time limit, framed by "=== BEGIN <name>: <cmd>
# (limit <s>s)" and "=== END <name> exit <rc> <seconds> s" lines; then
# run_vmtests.sh's userfaultfd part (run-mainline-tests), and the programs
# of tests/mm-selftests.list (run-mm-selftests, which reads the list's
# program lines from mm-selftests.list beside it).
cat >"$bin/guest-lib.sh" <<'GUEST'
# shellcheck shell=sh
prog() {
	name=$1 limit=$2
	shift 2
	echo "=== BEGIN $name: $* (limit ${limit}s)"
	start=$(date +%s)
	# In a session of its own (busybox timeout execs the program in its
	# own pid), so that children left behind by a kill go with it.
	timeout -s KILL "$limit" setsid "$@" </dev/null 2>&1 &
	pid=$!
	wait "$pid"
	rc=$?
	kill -9 "-$pid" 2>/dev/null && echo "=== $name: killed the processes it left behind"
	echo "=== END $name exit $rc $(($(date +%s) - start)) s"
}
meminfo() { awk -v k="$1:" '$1 == k { print $2 }' /proc/meminfo; }
GUEST

cat >"$bin/run-mainline-tests" <<'GUEST'
#!/bin/sh
# Usage (in the guest, from /user): run-mainline-tests UNIT_LIMIT STRESS_LIMIT
unit_limit=$1 stress_limit=$2
. ./guest-lib.sh

prog uffd-unit-tests "$unit_limit" ./uffd-unit-tests >/tmp/unit.log
cat /tmp/unit.log
# A failing test ends the program (its err() exits): every test it did not
# reach then runs on its own (-f matches substrings: the host counts each
# test on each memory type once).
for t in $(./uffd-unit-tests -l); do
	grep -q "^Testing $t on " /tmp/unit.log && continue
	prog "uffd-unit-tests-$t" "$unit_limit" ./uffd-unit-tests -f "$t" >/tmp/unit-1.log
	cat /tmp/unit-1.log
	cat /tmp/unit-1.log >>/tmp/unit.log
done

# As run_vmtests.sh: a pool of at least 256 MiB and 2 huge pages per CPU,
# half of it for each of the source and destination areas.  run_vmtests.sh
# halves all the free pages, but the guest reserves 256 (512 MiB, for make
# check) and 256 MiB per area takes 2 s a bounce under TCG: the stress uses
# half of run_vmtests.sh's minimum pool (128 MiB with 2 MiB pages) per area.
hp_kb=$(meminfo Hugepagesize) free=$(meminfo HugePages_Free)
need=$((256 * 1024 / ${hp_kb:-2048})) cpus=$(nproc)
[ "$need" -ge $((2 * cpus)) ] || need=$((2 * cpus))
if [ "${free:-0}" -lt "$need" ]; then
	echo 3 >/proc/sys/vm/drop_caches
	echo $(($(cat /proc/sys/vm/nr_hugepages) + need - ${free:-0})) >/proc/sys/vm/nr_hugepages
	free=$(meminfo HugePages_Free)
fi
half_mb=$((need * ${hp_kb:-0} / 1024 / 2))
echo "=== huge pages: ${free:-0} free of ${hp_kb:-0} kB, pool $need, $half_mb MiB per area"

prog uffd-stress-anon "$stress_limit" ./uffd-stress anon 20 16
prog uffd-stress-hugetlb "$stress_limit" ./uffd-stress hugetlb "$half_mb" 32
prog uffd-stress-hugetlb-private "$stress_limit" ./uffd-stress hugetlb-private "$half_mb" 32
prog uffd-stress-shmem "$stress_limit" ./uffd-stress shmem 20 16
prog uffd-stress-shmem-private "$stress_limit" ./uffd-stress shmem-private 20 16
# MADV_COLLAPSE (Linux 6.1), which uffd-unit-tests' minor-collapse uses: the
# madvise context of 6.12's khugepaged test (run_vmtests.sh runs all of its
# contexts; the khugepaged one tests khugepaged's own timing and settings).
prog khugepaged-madvise-anon "$stress_limit" ./khugepaged madvise:anon
prog khugepaged-madvise-shmem "$stress_limit" ./khugepaged madvise:shmem
echo "=== ALL DONE"
GUEST

cat >"$bin/run-mm-selftests" <<'GUEST'
#!/bin/sh
# Usage (in the guest, from /user): run-mm-selftests SCALE [NAME...]
# Runs the programs of mm-selftests.list (all, or those NAMEd), each with
# its time limit times SCALE.  Lines: NAME LIMIT [FILE=VALUE...] COMMAND...;
# each FILE (under /proc/sys or /sys) is set to VALUE for the program and
# restored after it.
scale=$1
shift
only=" $* "
. ./guest-lib.sh
set -f
retry=" $(cat mm-selftests.retry 2>/dev/null | tr '\n' ' ') "
while read -r name limit rest; do
	case "$name" in ''|'#'*) continue ;; esac
	case "$only" in "  "|*" $name "*) ;; *) continue ;; esac
	# shellcheck disable=SC2086
	set -- $rest
	saved=
	while :; do
		case "$1" in /proc/sys/*=*|/sys/*=*) ;; *) break ;; esac
		f=${1%%=*}
		saved="$saved $f=$(cat "$f")"
		echo "${1#*=}" >"$f" || echo "=== $name: cannot set $1"
		shift
	done
	# As run_vmtests.sh before its thp and hugetlb tests: free memory
	# for huge pages.
	echo 3 >/proc/sys/vm/drop_caches
	echo 1 >/proc/sys/vm/compact_memory
	# A program the list lets retry: a failed first run is shown, framed
	# as comments, and the second run counts.
	case "$retry" in
	*" $name "*)
		prog "$name" $((limit * scale)) "$@" >/tmp/mm-first.log
		rc=$(sed -n 's/^=== END [^ ]* exit \([0-9]*\) .*/\1/p' /tmp/mm-first.log)
		case "$rc" in
		0|4) cat /tmp/mm-first.log ;;
		*)
			sed 's/^/=== first run: /' /tmp/mm-first.log
			echo "=== $name: retried (first run exit $rc)"
			echo 3 >/proc/sys/vm/drop_caches
			prog "$name" $((limit * scale)) "$@"
			;;
		esac
		;;
	*) prog "$name" $((limit * scale)) "$@" ;;
	esac
	for s in $saved; do
		echo "${s#*=}" >"${s%%=*}"
		[ "$(cat "${s%%=*}")" = "${s#*=}" ] ||
			echo "=== $name: could not restore ${s%%=*} (${s#*=}): $(cat "${s%%=*}")"
	done
done <mm-selftests.list
echo "=== ALL DONE"
GUEST
chmod 0755 "$bin/run-mainline-tests" "$bin/run-mm-selftests"
grep -Ev '^[[:space:]]*(#|except[[:space:]]|retry[[:space:]]|$)' "$list" >"$bin/mm-selftests.list"
awk '$1 == "retry" { print $2 }' "$list" >"$bin/mm-selftests.retry"
echo "$bin"
