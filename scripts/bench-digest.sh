#!/usr/bin/env bash
# Benchmark and cross-check the model digest on a large file.
#
#   scripts/bench-digest.sh
#
# 1. measures OpenSSL's single-core SHA3-256 speed (`openssl speed -evp sha3-256`, 16 KiB blocks);
# 2. writes a SIZE_GIB file of pseudo-random bytes (AES-128-CTR keystream, no holes) and times
#    `embargo digest FILE` over it: median of RUNS runs, page cache warm, all cores, and once
#    more on one core (RAYON_NUM_THREADS=1);
# 3. prints GB/s and the ratio to (cores x OpenSSL single-core speed);
# 4. checks the digest against scripts/digest_reference.py (an independent Python
#    implementation) for the big file and for a small directory model.
#
# It does not build anything: build first (`cargo build --release`), or point EMBARGO_BIN at any
# binary that understands `digest PATH` and prints `<hex>  PATH`.
#
# Environment:
#   EMBARGO_BIN   binary to run            (default: <repo>/target/release/embargo)
#   SIZE_GIB      size of the big file     (default: 4)
#   RUNS          timed runs, odd          (default: 3)
#   BENCH_DIR     where to put the files   (default: a fresh directory under ${TMPDIR:-/tmp})
#   KEEP=1        keep the files afterwards
#   SKIP_REFERENCE=1  skip the Python cross-check of the big file (it takes a while)
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin=${EMBARGO_BIN:-$repo/target/release/embargo}
size_gib=${SIZE_GIB:-4}
runs=${RUNS:-3}
reference="python3 $repo/scripts/digest_reference.py"

die() { echo "bench-digest: $*" >&2; exit 1; }
[ -x "$bin" ] || die "$bin is not an executable; run \`cargo build --release\` or set EMBARGO_BIN"
command -v openssl >/dev/null || die "openssl is needed"
command -v python3 >/dev/null || die "python3 is needed"

if [ -n "${BENCH_DIR:-}" ]; then
    work=$BENCH_DIR
    mkdir -p "$work"
else
    work=$(mktemp -d "${TMPDIR:-/tmp}/bench-digest.XXXXXX")
fi
cleanup() { [ "${KEEP:-0}" = 1 ] || rm -rf "$work"; }
trap cleanup EXIT

now() { date +%s.%N; }
# Median of the numbers on stdin.
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
# digest of a path according to the binary under test
embargo_digest() { "$bin" digest "$1" | awk 'NR == 1 { print $1 }'; }

cores=$(nproc)
cpu=$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || echo unknown)
echo "cpu: $cpu, $cores cores; binary: $bin"
load=$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo 0)
if awk -v l="$load" 'BEGIN { exit !(l > 0.5) }'; then
    echo "warning: load average $load: other work competes for the cores, numbers will be low"
fi

# -- 1. OpenSSL single-core SHA3-256 --------------------------------------------------------
echo "measuring: openssl speed -mr -evp sha3-256 -seconds 3"
openssl_bps=$(openssl speed -mr -evp sha3-256 -seconds 3 2>/dev/null | awk -F: '
    /^\+H:/ { for (i = 2; i <= NF; i++) if ($i == 16384) column = i + 1 }
    /^\+F:/ { if (column) print $column }')
[ -n "$openssl_bps" ] || die "could not parse the 16384-byte column of openssl speed"
echo "openssl sha3-256, one core, 16 KiB blocks: $(awk -v b="$openssl_bps" 'BEGIN { printf "%.1f MB/s", b / 1e6 }')"

# -- 2. the big file ------------------------------------------------------------------------
big=$work/big.bin
bytes=$((size_gib * 1024 * 1024 * 1024))
if [ ! -f "$big" ] || [ "$(stat -c %s "$big")" != "$bytes" ]; then
    echo "writing $size_gib GiB of AES-CTR keystream to $big"
    openssl enc -aes-128-ctr -K 000102030405060708090a0b0c0d0e0f -iv 00000000000000000000000000000000 \
        -in /dev/zero 2>/dev/null | head -c "$bytes" >"$big"
fi
cat "$big" >/dev/null # warm the page cache: this measures hashing, not the disk

time_runs() { # label, env assignments...; sets $median_seconds and $median_cpu_seconds
    local label=$1 walls=() cpus=() wall user sys
    shift
    for _ in $(seq "$runs"); do
        # bash's `time` keyword: wall, user and system seconds of the child
        read -r wall user sys < <({ TIMEFORMAT='%R %U %S'; time env "$@" "$bin" digest "$big" >"$work/out.txt"; } 2>&1)
        walls+=("$wall")
        cpus+=("$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')")
    done
    echo "  $label: wall ${walls[*]} s; cpu (user + sys) ${cpus[*]} s"
    median_seconds=$(printf '%s\n' "${walls[@]}" | median)
    median_cpu_seconds=$(printf '%s\n' "${cpus[@]}" | median)
}

echo "timing: $bin digest $big ($runs runs each)"
time_runs "all cores" RAYON_NUM_THREADS="$cores"
all_seconds=$median_seconds
cpu_seconds=$median_cpu_seconds
time_runs "one core " RAYON_NUM_THREADS=1
one_seconds=$median_seconds
rust_digest=$(awk '{ print $1 }' "$work/out.txt")

awk -v bytes="$bytes" -v all="$all_seconds" -v one="$one_seconds" -v cpu="$cpu_seconds" \
    -v ossl="$openssl_bps" -v cores="$cores" -v gib="$size_gib" 'BEGIN {
    all_rate = bytes / all; one_rate = bytes / one; cpu_rate = bytes / cpu
    printf "\nresults for a %d GiB file (medians, warm page cache):\n", gib
    printf "  openssl sha3-256, 1 core (per CPU second):  %8.1f MB/s\n", ossl / 1e6
    printf "  embargo digest, 1 core (wall clock):        %8.1f MB/s  = %.2f x openssl\n", one_rate / 1e6, one_rate / ossl
    printf "  embargo digest, %d cores (wall clock):       %8.1f MB/s  = %.2f GB/s\n", cores, all_rate / 1e6, all_rate / 1e9
    printf "  embargo digest, per CPU second:             %8.1f MB/s  = %.2f x openssl\n", cpu_rate / 1e6, cpu_rate / ossl
    printf "  ratio to %d x openssl 1 core (wall clock):   %8.2f  (target >= 0.90)\n", cores, all_rate / (cores * ossl)
}'
echo "  (openssl speed divides by CPU time; the wall-clock figures drop when other work shares the cores)"

# -- 3. cross-check with the independent reference -------------------------------------------
status=0
check() { # label, path
    local ours theirs
    ours=$(embargo_digest "$2")
    theirs=$($reference "$2" | awk '{ print $1 }')
    if [ "$ours" = "$theirs" ]; then
        echo "  $1: $ours  agree"
    else
        echo "  $1: MISMATCH embargo $ours, reference $theirs"
        status=1
    fi
}

echo
echo "cross-check with scripts/digest_reference.py:"
model=$work/model
rm -rf "$model"
mkdir -p "$model/weights" "$model/tokenizer" "$model/empty-dir"
: >"$model/weights/.keep"
printf '\0' >"$model/one-byte"
printf '{"hidden_size": 64}\n' >"$model/config.json"
printf 'hello\nwörld\n' >"$model/tokenizer/vocab é.txt"
head -c $((1024 * 1024)) "$big" >"$model/weights/exactly-1MiB.bin"
head -c $((1024 * 1024 + 1)) "$big" >"$model/weights/1MiB-plus-1.bin"
head -c $((4 * 1024 * 1024 + 3)) "$big" >"$model/weights/4MiB-plus-3.bin"
tail -c $((9 * 1024 * 1024 + 5)) "$big" >"$model/weights/9MiB-plus-5.bin"
check "directory model" "$model"
check "1 MiB + 1 file " "$model/weights/1MiB-plus-1.bin"
if [ "${SKIP_REFERENCE:-0}" = 1 ]; then
    echo "  big file: skipped (SKIP_REFERENCE=1); embargo says $rust_digest"
else
    start=$(now)
    theirs=$($reference "$big" | awk '{ print $1 }')
    took=$(awk -v s="$start" -v e="$(now)" 'BEGIN { printf "%.0f", e - s }')
    if [ "$rust_digest" = "$theirs" ]; then
        echo "  $size_gib GiB file: $rust_digest  agree (reference took ${took} s)"
    else
        echo "  $size_gib GiB file: MISMATCH embargo $rust_digest, reference $theirs"
        status=1
    fi
fi
exit $status
