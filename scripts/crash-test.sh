#!/usr/bin/env bash
# Crash-safety soak: SIGKILLs `embargo serve` at random moments while 16 writers submit,
# restarts it on the same data directory, and checks after every restart that no acknowledged
# entry was lost or changed and that every checkpoint ever seen is consistent with the log.
#
#   scripts/crash-test.sh                 # 300 kills (release build)
#   EMBARGO_CRASH_KILLS=1000 scripts/crash-test.sh
#   EMBARGO_CRASH_SEED=42 scripts/crash-test.sh   # another kill schedule
set -euo pipefail
cd "$(dirname "$0")/.."
export EMBARGO_CRASH_KILLS="${EMBARGO_CRASH_KILLS:-300}"
exec cargo test --release --test crash_safety -- --nocapture "$@"
