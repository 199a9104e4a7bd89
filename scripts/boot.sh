#!/usr/bin/env bash
# Boot a kernel and initramfs under QEMU, keep the console (ttyS0) and the
# results channel (ttyS1) in OUTDIR, and judge the run:
#   exit 0 the guest reported DONE, untainted, no splat on the console
#   EXIT_SPLAT   panic/oops/BUG/WARN/lockdep/KASAN/hung task/taint
#   EXIT_TIMEOUT the guest did not finish within RUN_TIMEOUT seconds
#   EXIT_TESTS   the guest stopped without reporting DONE
# Usage: boot.sh BZIMAGE INITRD OUTDIR MODE   (MODE shell: interactive)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

kernel=$1 initrd=$2 dir=$3 mode=$4
mkdir -p "$dir"
console=$dir/console.log results=$dir/results.log
: >"$console"
: >"$results"

mem=${GUEST_MEM:-2560M}
cmdline="console=ttyS0,115200 panic=-1 hugepages=${HUGEPAGES:-256} numa=fake=2"
cmdline="$cmdline transparent_hugepage=always loglevel=6 nokaslr ${KERNEL_CMDLINE:-}"

# KVM only where the CPU has hardware virtualisation and a guest really
# boots with it (a probe run, remembered per machine); TCG otherwise.
accel() {
	local want=${ACCEL:-auto} probe=$CACHE/accel-kvm
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
qemu=(qemu-system-x86_64 $(accel) -m "$mem" -smp "${GUEST_CPUS:-2}" -nographic
	-no-reboot -kernel "$kernel" -initrd "$initrd" -append "$cmdline"
	-nic none -monitor none)

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
	"${qemu[@]}" -serial mon:stdio -serial "file:$results" || true
	exit 0
fi

timeout=${RUN_TIMEOUT:-1800}
timeout --kill-after=10 "$timeout" "${qemu[@]}" \
	-serial "file:$console" -serial "file:$results" </dev/null >"$dir/qemu.log" 2>&1 &
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
