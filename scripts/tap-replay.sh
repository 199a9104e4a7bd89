#!/usr/bin/env bash
# prove --exec helper: replay a TAP file recorded in the guest, exiting with
# the test's recorded status.
set -euo pipefail
cat "$1"
exit "$(cat "${1%.tap}.status")"
