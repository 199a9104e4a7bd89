#!/usr/bin/env bash
# Boot a kernel and initramfs under QEMU, keep the console (x86_64: ttyS0,
# arm64: ttyAMA0) and the results channel (ttyS1; arm64: the virtio console
# hvc0) in OUTDIR, and judge the run:
#   exit 0 the guest reported DONE, untainted, no splat on the console
#   EXIT_SPLAT   panic/oops/BUG/WARN/lockdep/KASAN/hung task/taint
#   EXIT_TIMEOUT the guest did not finish within RUN_TIMEOUT seconds
#   EXIT_TESTS   the guest stopped without reporting DONE
#   EXIT_SETUP   arm64: the CPU has no hardware dirty bit management
# Usage: boot.sh IMAGE INITRD OUTDIR MODE   (MODE shell: interactive)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

kernel=$1 initrd=$2 dir=$3 mode=$4
mkdir -p "$dir"
console=$dir/console.log results=$dir/results.log
: >"$console"
: >"$results"

mem=${GUEST_MEM:-2560M} cpus=${GUEST_CPUS:-2} loglevel=6
case "$ARCH" in
x86_64) cmdline="console=ttyS0,115200 panic=-1 hugepages=${HUGEPAGES:-256} numa=fake=2" ;;
# The pool of the default 2 MiB pages the tests use, and small pools of
# arm64's other sizes with 4 KiB pages: 64 KiB (contiguous ptes) and 32 MiB
# (contiguous pmds, gigantic: at boot only).
arm64) cmdline="console=ttyAMA0 panic=-1 default_hugepagesz=2M hugepagesz=2M hugepages=${HUGEPAGES:-256}"
	cmdline="$cmdline hugepagesz=64K hugepages=256 hugepagesz=32M hugepages=4"
	# The console shows the CPU features detected (pr_info), DBM's below.
	loglevel=7 ;;
esac
cmdline="$cmdline transparent_hugepage=always loglevel=$loglevel nokaslr ${KERNEL_CMDLINE:-}"

# KVM only where the CPU has hardware virtualisation and a guest really
# boots with it (a probe run, remembered per machine); TCG otherwise.
accel() {
	local want=${ACCEL:-auto} probe=$CACHE/accel-kvm
	if [ "$ARCH" = arm64 ]; then
		# TCG on this (x86) host; pauth-impdef: QEMU's own pointer
		# authentication algorithm, much faster to emulate than QARMA.
		[ "$want" != kvm ] || die "ACCEL=kvm: an arm64 guest runs under TCG here"
		echo "-accel tcg,thread=multi -cpu max,pauth-impdef=on"
		return
	fi
	if [ "$want" = auto ]; then
		want=tcg
		if grep -qwE 'vmx|svm' /proc/cpuinfo && [ -w /dev/kvm ]; then
			if [ ! -f "$probe" ]; then
				mkdir -p "$CACHE"
				if ACCEL=kvm RUN_TIMEOUT=60 "$0" "$kernel" "$initrd" "$dir/kvm-probe" probe >/dev/null 2>&1; then
					echo kvm >"$probe"
				else
					echo tcg >"$probe"
				fi
			fi
			want=$(cat "$probe")
		fi
	fi
	case "$want" in
	kvm) echo "-accel kvm -cpu host" ;;
	tcg) echo "-accel tcg,thread=multi -cpu max" ;;
	*) die "ACCEL must be auto, kvm or tcg" ;;
	esac
}

# shellcheck disable=SC2046
qemu=("$(qemu_system)" $(accel) -m "$mem" -smp "$cpus" -nographic
	-no-reboot -kernel "$kernel" -initrd "$initrd" -append "$cmdline"
	-nic none -monitor none)
results_dev=(-serial "file:$results")
if [ "$ARCH" = arm64 ]; then
	# The virt board has one UART (the console): the results go to a
	# virtio console.  Two NUMA nodes of half the memory each (5.10 has
	# no numa=fake on arm64), the CPUs split between them.
	case "$mem" in
	*G) mib=$((${mem%G} * 1024)) ;;
	*M) mib=${mem%M} ;;
	*) die "GUEST_MEM=$mem: give it in M or G" ;;
	esac
	half=$((cpus / 2))
	node0=(-numa "node,nodeid=0,memdev=m0,cpus=0-$((cpus > 1 ? half - 1 : 0))")
	node1=(-numa "node,nodeid=1,memdev=m1")
	[ "$cpus" -lt 2 ] || node1=(-numa "node,nodeid=1,memdev=m1,cpus=$half-$((cpus - 1))")
	qemu=("${qemu[0]}" -M virt "${qemu[@]:1}"
		-object "memory-backend-ram,id=m0,size=$((mib / 2))M"
		-object "memory-backend-ram,id=m1,size=$((mib - mib / 2))M" "${node0[@]}" "${node1[@]}"
		-device virtio-serial-device)
	results_dev=(-chardev "file,id=results,path=$results" -device "virtconsole,chardev=results")
fi

# One guest at a time on this machine (any checkout that shares build/): a
# second TCG guest beside a run halves its CPU, and the time limits of
# tests and the timings of benchmarks then mean nothing.  The KVM probe
# above runs before the lock is taken.
mkdir -p "$BUILD"
exec 9>"$BUILD/guest.lock"
if ! flock -n 9; then
	log "waiting for the guest that runs now to finish ($BUILD/guest.lock)"
	flock 9
fi

if [ "$mode" = shell ]; then
	"${qemu[@]}" -serial mon:stdio "${results_dev[@]}" || true
	exit 0
fi

timeout=${RUN_TIMEOUT:-1800}
timeout --kill-after=10 "$timeout" "${qemu[@]}" \
	-serial "file:$console" "${results_dev[@]}" </dev/null >"$dir/qemu.log" 2>&1 &
qpid=$!
# Progress on the terminal while the guest runs.
if [ "$mode" = check ]; then
	tail -n +1 -s 0.5 -f --pid=$qpid "$results" 2>/dev/null |
		awk '/^### BEGIN /{printf "  %-44s ", $3; fflush()} /^### END /{sub(/\r$/, ""); printf "exit %-4s %6s s\n", $4, $5; fflush()}' >&2 &
elif [ "$mode" != probe ]; then
	tail -n +1 -s 0.5 -f --pid=$qpid "$results" 2>/dev/null | grep --line-buffered -v '^### ' &
fi
tailpid=$!
rc=0
wait $qpid || rc=$?
wait $tailpid 2>/dev/null || true

# arm64: the series keeps uffd-wp apart from the hardware's dirty bit
# management (DBM), which a CPU without it never exercises.
dbm='CPU features: detected: Hardware dirty bit management'
if [ "$ARCH" = arm64 ] && [ "$mode" != probe ] && ! grep -qF "$dbm" "$console"; then
	echo "SETUP: the console ($console) lacks '$dbm': the guest's CPU has no DBM" >&2
	tail -n 30 "$console" >&2 || true
	exit "$EXIT_SETUP"
fi

verdict=0
pattern=$(grep -v '^#' "$TOP/scripts/splat-patterns" | paste -sd'|')
if grep -qE "$pattern" "$console"; then
	echo "KERNEL SPLAT: the console ($console) shows:" >&2
	{ grep -nE -A 25 "$pattern" "$console" || true; } | head -n 120 >&2 || true
	verdict=$EXIT_SPLAT
fi
tainted=$(tr -d '\r' <"$results" | sed -n 's/^### DONE tainted=\([0-9]*\)$/\1/p' | tail -n 1)
if [ -n "$tainted" ] && [ "$tainted" != 0 ] && [ "$verdict" = 0 ]; then
	echo "KERNEL TAINTED: /proc/sys/kernel/tainted = $tainted ($console)" >&2
	verdict=$EXIT_SPLAT
fi
if [ -z "$tainted" ] && [ "$verdict" = 0 ]; then
	if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
		echo "TIMEOUT: the guest did not finish within ${timeout}s (console: $console)" >&2
		verdict=$EXIT_TIMEOUT
	else
		echo "NO RESULT: the guest stopped (qemu exit $rc) without reporting DONE (console: $console)" >&2
		tail -n 30 "$console" >&2 || true
		verdict=$EXIT_TESTS
	fi
fi
exit "$verdict"
