#!/usr/bin/env bash
# Log load benchmark: appends/s and latency over HTTP (closed loop and many in flight), tile
# GETs/s, and server RSS and start-up time at 1M and 10M entries. Prints a table and updates
# benches/RESULTS.md. Takes 15-25 minutes with the defaults (most of it generating 10M entries).
#
#   scripts/bench-log.sh
#   BENCH_LARGE= scripts/bench-log.sh                      # HTTP runs only (~2 minutes)
#   BENCH_LARGE=1000000 BENCH_SECS=5 scripts/bench-log.sh  # quicker
#   BENCH_DIR=/var/tmp/embargo-bench scripts/bench-log.sh  # keep the large log for next time
#
# Other knobs (see benches/log_load.rs): BENCH_CLIENTS, BENCH_INFLIGHT, BENCH_PIPELINE,
# BENCH_INTERVAL, BENCH_ENVELOPES, BENCH_GEN_BUDGET_SECS, BENCH_SKIP_HTTP.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "nproc $(nproc); $(date -u '+%Y-%m-%d %H:%M UTC'); load average $(cut -d' ' -f1-3 /proc/loadavg)"
cargo build --release --bin embargo
# Run a private copy of the server, so a concurrent `cargo build --release` cannot swap it
# mid-run.
bin_dir=$(mktemp -d)
trap 'rm -rf "$bin_dir"' EXIT
cp target/release/embargo "$bin_dir/embargo"
EMBARGO_BIN="$bin_dir/embargo" cargo bench --bench log_load "$@"
