#!/usr/bin/env bash
# make soak [DURATION=seconds] [SEED=n]: the fuzzer and the race stress tests
# for as long as asked, each in turn, in one guest boot of the flavour (REF=,
# DEBUG=); uffd-minor's stress splits its DURATION over its four memory types.  Ends like make check, with `N passed, N failed, N skipped`; the
# seeds and operation counts are in each test's output (out/<run>/tap/).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

duration=${DURATION:-600}
seed=${SEED:-$(date +%s)}
[[ $duration =~ ^[0-9]+$ ]] && [ "$duration" -gt 0 ] || die "DURATION=$duration: seconds, please"
[[ $seed =~ ^[0-9]+$ ]] || die "SEED=$seed: a number, please"

list=$(mktemp)
trap 'rm -f "$list"' EXIT
cat >"$list" <<LIST
# make soak: DURATION=$duration SEED=$seed
uffd-fuzz                 env DURATION=$duration SEED=$seed THREADS=3 uffd-fuzz
uffd-wp-stress            env DURATION=$duration SEED=$seed uffd-wp-stress
uffd-wp-stress-hugetlb    env MEM=hugetlb DURATION=$duration SEED=$seed uffd-wp-stress
uffd-race                 env DURATION=$duration SEED=$seed uffd-race
uffd-gup                  env DURATION=$duration uffd-gup
mremap-reclaim            env DURATION=$duration mremap-reclaim
uffd-minor-stress         env MINOR_STRESS_SECONDS=$(((duration + 3) / 4)) uffd-minor
LIST
log "soak: DURATION=$duration SEED=$seed"
# Each test runs for DURATION, then checks and cleans up: allow twice that
# plus the fuzzer's hang limit, and debug kernels their factor.
scale=$(debug_scale "${DEBUG:-0}")
export TEST_TIMEOUT=$(((2 * duration + 300) * scale))
export RUN_TIMEOUT=$((4 * TEST_TIMEOUT + 300 * scale))
export TEST_LIST=$list
exec "$TOP/scripts/guest.sh" check
