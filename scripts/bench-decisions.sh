#!/usr/bin/env bash
# Benchmark decision batches (benches/decisions.rs); results are recorded by hand in
# benches/decisions-results.md.
#
#   scripts/bench-decisions.sh
#
# 1. hashing into the tree on one thread, 1M records of ~320 bytes in memory (median of 3);
#    and parsing + validating the same records on one thread (median of 3);
# 2. a 1M-record batch: pass 1 (read, parse, validate, hash, all cores) and pass 2 (re-read,
#    rs_merkle chunk trees, proofs, render every receipt), receipts discarded (median of 3), then
#    once writing the receipts JSONL to disk (as `embargo batch --jsonl`);
# 3. a 10M-record batch (3.3 GB of JSONL), both passes, receipts rendered and discarded, with
#    peak RSS from /usr/bin/time -v and VmHWM.
#
# Environment: BENCH_DIR (default a fresh directory under ${TMPDIR:-/tmp}; deleted unless
# KEEP=1), LARGE (default 10000000; 0 skips step 3).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
large=${LARGE:-10000000}
dir=${BENCH_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/embargo-bench-decisions.XXXXXX")}
mkdir -p "$dir"
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$dir"' EXIT
bin=$(cargo bench --bench decisions --no-run --message-format=json 2>/dev/null \
  | grep -o '"executable":"[^"]*decisions-[^"]*"' | tail -1 | cut -d'"' -f4)
[ -x "$bin" ] || { echo "could not build benches/decisions.rs" >&2; exit 1; }
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), AVX-512: $(grep -q avx512vl /proc/cpuinfo && echo yes || echo no)"
for i in 1 2 3; do "$bin" hash 1000000; done
for i in 1 2 3; do "$bin" parse 1000000; done
"$bin" gen 1000000 "$dir/1m.jsonl"
for i in 1 2 3; do "$bin" batch "$dir/1m.jsonl" -; done
"$bin" batch "$dir/1m.jsonl" "$dir/1m.receipts.jsonl"
rm -f "$dir/1m.receipts.jsonl"
if [ "$large" != 0 ]; then
  "$bin" gen "$large" "$dir/large.jsonl"
  /usr/bin/time -v "$bin" batch "$dir/large.jsonl" - 2>"$dir/time.txt"
  grep -E "Maximum resident|Elapsed" "$dir/time.txt"
fi
