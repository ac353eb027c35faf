#!/usr/bin/env bash
# Benchmark timelocked escrow on a multi-GB model: speed and memory of streaming encryption
# and decryption.
#
#   scripts/bench-escrow.sh
#
# 1. The crypto core alone (examples/escrow_bench.rs): seals SIZE_GIB of pseudo-random bytes
#    (quicknet round 1000, 2-of-3 trustees) to a sink and to a file, opens the file with the
#    real round-1000 signature and with trustee shares; median of RUNS, GB/s, peak RSS.
# 2. End to end through the real binary: a SIZE_GIB model file, a log with a local test beacon,
#    `embargo commit --escrow tlock` (digest, seal, hash the ciphertext, commit, deposit), then
#    the round signature posted after reveal_at, which makes the log decrypt the escrow as a
#    stream through the model hasher into its blob store and log the reveal. Reports wall time,
#    GB/s and peak RSS of the committing CLI and of the server.
#
# Environment:
#   SIZE_GIB    model size              (default: 4)
#   RUNS        runs of the core bench  (default: 3)
#   BENCH_DIR   where to put the files  (default: a fresh directory under ${TMPDIR:-/tmp})
#   KEEP=1      keep the files afterwards
#   SKIP_CORE=1 skip part 1
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
size_gib=${SIZE_GIB:-4}
runs=${RUNS:-3}
target=${CARGO_TARGET_DIR:-$repo/target}

die() { echo "bench-escrow: $*" >&2; exit 1; }
command -v openssl >/dev/null || die "openssl is needed"

cargo build --release --manifest-path "$repo/Cargo.toml" --bin embargo --example escrow_bench
bin=$target/release/embargo

if [ -n "${BENCH_DIR:-}" ]; then
    work=$BENCH_DIR
    mkdir -p "$work"
else
    work=$(mktemp -d "${TMPDIR:-/tmp}/embargo-bench-escrow.XXXXXX")
fi
server_pid=
cleanup() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
    [ "${KEEP:-}" = 1 ] || rm -rf "$work"
}
trap cleanup EXIT

if [ "${SKIP_CORE:-}" != 1 ]; then
    echo "== 1. crypto core: seal and open ${size_gib} GiB, median of ${runs}"
    "$target/release/examples/escrow_bench" "$size_gib" "$runs" "$work"
fi

echo
echo "== 2. end to end: commit --escrow tlock, then the log opens it (${size_gib} GiB model)"
cd "$work"
bytes=$((size_gib * 1024 * 1024 * 1024))
# (openssl dies of SIGPIPE when head has enough: not an error)
set +o pipefail
openssl enc -aes-128-ctr -pass pass:embargo-bench -nosalt -pbkdf2 </dev/zero 2>/dev/null |
    head -c "$bytes" >model.bin
set -o pipefail
[ "$(stat -c %s model.bin)" = "$bytes" ] || die "could not write the model file"
"$bin" keygen --name bench.example/log --out log.key >/dev/null 2>&1
platform_vkey=$("$bin" keygen --name platform.example --out platform.key 2>/dev/null)
"$bin" escrow test-beacon new beacon --period 1 2>/dev/null
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
url=http://127.0.0.1:$port
EMBARGO_OPERATOR_TOKEN=bench-operator-token-0123 "$bin" serve --data data --key log.key \
    --listen "127.0.0.1:$port" --min-embargo 1s --beacon-chain beacon/chain.json 2>server.log &
server_pid=$!
for _ in $(seq 100); do curl -sf "$url/v1/log" >/dev/null && break; sleep 0.1; done
EMBARGO_OPERATOR_TOKEN=bench-operator-token-0123 "$bin" platform add platform.example \
    --vkey "$platform_vkey" --log "$url" >/dev/null 2>&1

# Long enough for the seal and deposit to finish before reveal_at.
reveal_s=$((size_gib * 20 + 30))
start=$(date +%s.%N)
/usr/bin/time -f "%M" -o commit.rss "$bin" commit model.bin --log "$url" --key platform.key \
    --name bench --version 1 --reveal-after "${reveal_s}s" --escrow tlock \
    --beacon beacon/chain.json >commit.out 2>commit.err || { cat commit.err; die "commit failed"; }
end=$(date +%s.%N)
index=$(tail -1 commit.out)
grep -E "sealed the model" commit.err || true
commit_s=$(echo "$end - $start" | bc -l)
printf 'commit --escrow (digest + seal + ciphertext hash + deposit): %.1f s, %.2f GB/s of model, CLI peak RSS %d MiB\n' \
    "$commit_s" "$(echo "$bytes / $commit_s / 1000000000" | bc -l)" "$(($(cat commit.rss) / 1024))"
server_rss_before=$(awk '/VmHWM/ {print $2}' "/proc/$server_pid/status")
printf 'server peak RSS after receiving the deposit: %d MiB\n' "$((server_rss_before / 1024))"

lock=$(curl -sf "$url/v1/commitments/$index" | python3 -c 'import json,sys; print(json.load(sys.stdin)["escrow"]["lock_round"])')
reveal_at=$(curl -sf "$url/v1/commitments/$index" | python3 -c 'import json,sys,datetime; print(int(datetime.datetime.fromisoformat(json.load(sys.stdin)["reveal_at"].replace("Z","+00:00")).timestamp()))')
while [ "$(date +%s)" -le "$reveal_at" ]; do sleep 0.5; done
sig=$("$bin" escrow test-beacon sign beacon --round "$lock" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["signature"], d["chain_hash"])')
start=$(date +%s.%N)
"$bin" escrow beacon --log "$url" --round "$lock" --signature "${sig% *}" --chain "${sig#* }" >open.out 2>open.err ||
    { cat open.err; die "opening failed"; }
end=$(date +%s.%N)
grep -q "revealed by escrow" open.err || { cat open.err; die "the escrow did not open to the model"; }
open_s=$(echo "$end - $start" | bc -l)
server_rss=$(awk '/VmHWM/ {print $2}' "/proc/$server_pid/status")
printf 'open by the log (verify signature + decrypt + parse + hash + store + log): %.1f s, %.2f GB/s, server peak RSS %d MiB\n' \
    "$open_s" "$(echo "$bytes / $open_s / 1000000000" | bc -l)" "$((server_rss / 1024))"
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
