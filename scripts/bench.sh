#!/usr/bin/env bash
# make bench [ROUNDS=3] [KERNELS="series mainline base"] [BENCHES=all]
# [REPORT=bench]: bench/uffd-bench (and for benchmark 7 mainline 6.12's
# uffd-stress and the base's selftests/vm/userfaultfd) in the guest of each
# kernel, the same binaries and QEMU configuration for all, alternating
# kernels round by round (the order rotates, so that no kernel always runs
# first), then bench/report.py: the table and the plot in REPORT/README.md
# (between its results markers), REPORT/latency.png and REPORT/results.tsv.
# Raw output: out/<time>-bench/.
# TESTS_DIR=dir takes bench/uffd-bench from a tests directory built before
# (as guest.sh does) instead of building tests/ now.  Each kernel is built
# (or found up to date) once, before the first run: every run of a kernel
# boots that kernel image with those binaries, even if a tree changes meanwhile.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

rounds=${ROUNDS:-3}
read -r -a kernels <<<"${KERNELS:-series mainline base}"
benches=${BENCHES:-all}
report=${REPORT:-$TOP/bench}
[ -f "$report/README.md" ] || die "REPORT=$report: no README.md with the results markers there"
[[ $rounds =~ ^[1-9][0-9]*$ ]] || die "ROUNDS=$rounds: a positive number, please"
[ "${DEBUG:-0}" = 0 ] || die "make bench measures the production kernels: DEBUG=0"

"$TOP/scripts/host-deps.sh" gnuplot-nox python3
declare -A kobj
for k in "${kernels[@]}"; do
	kobj[$k]=$(REF=$k DEBUG=0 "$TOP/scripts/build-kernel.sh" | tail -n 1)
done
if [ -n "${TESTS_DIR:-}" ]; then
	[ -x "$TESTS_DIR/bench/uffd-bench" ] || die "TESTS_DIR=$TESTS_DIR has no bench/uffd-bench"
	[ -f "$TESTS_DIR/list" ] || die "TESTS_DIR=$TESTS_DIR has no list"
	tests=$TESTS_DIR
else
	tests=$("$TOP/scripts/build-tests.sh" | tail -n 1)
fi

dir=$OUT/$(date -u +%Y%m%dT%H%M%SZ)-bench
files=$dir/guest-files
mkdir -p "$files"
cp "$tests/bench/uffd-bench" "$files/"
# Benchmark 7's programs, only when it runs.
if [ "$benches" = all ] || [[ " $benches " == *" 7 "* ]]; then
	mainline_bin=$("$TOP/scripts/build-mainline-tests.sh" | tail -n 1)
	cp "$mainline_bin/uffd-stress" "$files/"
	# The base's own stress, against the base's own headers (it checks
	# the REGISTER reply against their ioctl masks) and with the flags of
	# its Makefile (no -O: the base's signal test fails at -O2, see patch
	# 0001), static.
	base_src=$(ref_src base)
	[ -f "$base_src/Makefile" ] || "$TOP/scripts/fetch-source.sh" "$TOP/base/linux-5.10.pin" "$base_src"
	base_hdr=$dir/base-headers
	make -s -C "$base_src" O="$BUILD/obj-base-headers$ASUFFIX" ARCH="$ARCH" headers_install \
		INSTALL_HDR_PATH="$base_hdr" >/dev/null
	"${CROSS}gcc" -static -Wall -isystem "$base_hdr/include" -o "$files/userfaultfd-5.10" \
		"$base_src/tools/testing/selftests/vm/userfaultfd.c" -lpthread
fi
{
	echo "date: $(date -u +%Y-%m-%dT%H:%MZ)"
	echo "host: $(nproc) CPUs, $(awk '/^model name/ { $1 = $2 = $3 = ""; print; exit }' /proc/cpuinfo | sed 's/^ *//')"
	echo "qemu: $("$(qemu_system)" --version | head -n 1)"
	echo "rounds: $rounds; kernels: ${kernels[*]}; benchmarks: $benches"
} >"$dir/machine.txt"

# The bench guest: room for benchmark 3's 1 GiB regions and benchmark 4's
# 1 GiB hugetlbfs file (512 huge pages).  Benchmark 2 alone took 19 min on a
# kernel whose handler-thread round trip stalled (1 GiB written by faults
# that a thread resolves, 3 times): the limits leave room for that.
export GUEST_MEM=${GUEST_MEM:-4G} HUGEPAGES=${HUGEPAGES:-600}
export TEST_TIMEOUT=${TEST_TIMEOUT:-2400} RUN_TIMEOUT=${RUN_TIMEOUT:-2700}
n=${#kernels[@]}
for ((r = 1; r <= rounds; r++)); do
	for ((i = 0; i < n; i++)); do
		k=${kernels[$(((i + r - 1) % n))]}
		log "bench round $r/$rounds: $k"
		status=0
		REF=$k DEBUG=0 KOBJ=${kobj[$k]} TESTS_DIR=$tests GUEST_FILES=$files GUEST_OUT=$dir/$k-$r \
			"$TOP/scripts/guest.sh" cmd "./uffd-bench $benches" >/dev/null || status=$?
		[ "$status" = 0 ] || {
			say_verdict "$status" "$dir/$k-$r"
			exit "$status"
		}
		tr -d '\r' <"$dir/$k-$r/results.log" | grep -E '^[RNC] ' >"$dir/$k-$r.txt"
	done
done
python3 "$TOP/bench/report.py" "$dir" "$report"
log "results: ${report#"$TOP"/}/README.md, latency.png (raw: ${dir#"$TOP"/})"
