#!/usr/bin/env bash
# Build mainline 6.12's own userfaultfd selftests (tools/testing/selftests/mm:
# uffd-unit-tests and uffd-stress) and its khugepaged test (for MADV_COLLAPSE),
# static, against that tree's own exported uapi headers (never the host's),
# and the guest script that runs them the way 6.12's run_vmtests.sh does
# (run-mainline-tests).  Used by mainline-tests.sh and bench.sh; prints the
# directory that holds them.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

src=$(ref_src mainline)
[ -f "$src/Makefile" ] || "$TOP/scripts/fetch-source.sh" "$TOP/base/linux-6.12.pin" "$src"
sel=$src/tools/testing/selftests
dst=$BUILD/mainline-tests
hdr=$dst/headers
bin=$dst/guest

# Redone when the tree (its pin), the sources, this script or gcc change.
srcs=("$sel"/mm/uffd-common.c "$sel"/mm/vm_util.c "$sel"/mm/thp_settings.c)
stamp=$({
	cat "$TOP/base/linux-6.12.pin" "$src/Makefile" "$sel/kselftest.h" "$sel"/mm/{uffd,vm_util,thp_settings,khugepaged}*.[ch] "$0"
	gcc --version
} | sha256sum | cut -d' ' -f1)
if [ ! -f "$dst/.stamp" ] || [ "$(cat "$dst/.stamp")" != "$stamp" ]; then
	log "building mainline's uffd-unit-tests and uffd-stress in ${dst#"$TOP"/}"
	rm -rf "$dst"
	mkdir -p "$bin"
	make -s -C "$src" O="$BUILD/obj-mainline-headers" ARCH=x86_64 headers_install \
		INSTALL_HDR_PATH="$hdr" >/dev/null
	# tools/testing/selftests/mm/Makefile's CFLAGS and LDLIBS, plus -static.
	cflags=(-Wall -O2 -I "$src" -isystem "$hdr/include" -isystem "$src/tools/include/uapi"
		-U_FORTIFY_SOURCE -no-pie -static)
	for p in uffd-unit-tests uffd-stress; do
		gcc "${cflags[@]}" -o "$bin/$p" "$sel/mm/$p.c" "${srcs[@]}" -lrt -lpthread -lm
	done
	# khugepaged.c uses KSFT_SKIP but does not include kselftest.h: it is
	# included here, after _GNU_SOURCE (for memfd_create and mremap).
	gcc "${cflags[@]}" -D_GNU_SOURCE= -include "$sel/kselftest.h" -o "$bin/khugepaged" \
		"$sel/mm/khugepaged.c" \
		"$sel/mm/vm_util.c" "$sel/mm/thp_settings.c" -lrt -lpthread -lm
	# The guest side: run_vmtests.sh's userfaultfd part, each program bounded
	# by a time limit.  Lines "=== END <name> exit <rc> <seconds> s" frame
	# each program's output.
	cat >"$bin/run-mainline-tests" <<'GUEST'
#!/bin/sh
# Usage (in the guest, from /user): run-mainline-tests UNIT_LIMIT STRESS_LIMIT
unit_limit=$1 stress_limit=$2
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
	chmod 0755 "$bin/run-mainline-tests"
	echo "$stamp" >"$dst/.stamp"
fi
echo "$bin"
