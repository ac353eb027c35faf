#!/usr/bin/env bash
# Benchmark the fairness audit against Fairlearn and onnxruntime's Python API, in one run.
#
#   scripts/bench-audit.sh            # writes benches/audit-results.md
#
# 1. resamples ../shared/datasets/adult.csv (UCI Adult, Becker and Kohavi 1996, CC BY 4.0) to
#    ROWS rows (default 1,000,000; seeded, with replacement);
# 2. runs `embargo audit` on it with the logistic-regression pipeline of tests/fixtures/audit
#    (ONNX Runtime inference, then every metric: per-group metrics and between-group
#    differences and ratios by sex, race and sex & race, calibration, ranking metrics (exposure,
#    skew@10/100/1000, NDKL, rND, rKL over the whole ranking), and BOOT bootstrap resamples
#    (default 200) of every classification statistic);
# 3. runs scripts/bench_fairlearn.py on the same file and model: onnxruntime's Python API on
#    the same rows, then Fairlearn's MetricFrame computing the same group metrics (count,
#    selection rate, TPR, FPR, FNR, TNR, PPV, accuracy, mean score) and differences/ratios by the
#    same three groupings, first without bootstrap and then with FAIRLEARN_BOOT resamples
#    (MetricFrame's n_boot; default 2, because one resample costs about as much as the point
#    estimates, ~1.5 min here): the time for BOOT resamples is extrapolated linearly from it and
#    reported as such;
# 4. prints both sides from this run and writes them to benches/audit-results.md.
#
# Environment: EMBARGO_BIN (default target/release/embargo), ROWS, BOOT, FAIRLEARN_BOOT,
# BENCH_DIR (default a fresh directory under ${TMPDIR:-/tmp}), KEEP=1 to keep it.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
bin=${EMBARGO_BIN:-$repo/target/release/embargo}
rows=${ROWS:-1000000}
boot=${BOOT:-200}
fl_boot=${FAIRLEARN_BOOT:-2}
die() { echo "bench-audit: $*" >&2; exit 1; }
scripts/setup.sh --audit-train >&2
[ -x "$bin" ] || die "$bin is not an executable; run \`cargo build --release\` or set EMBARGO_BIN"
py=$repo/.venv-audit/bin/python
if [ -n "${BENCH_DIR:-}" ]; then work=$BENCH_DIR; mkdir -p "$work"; else work=$(mktemp -d "${TMPDIR:-/tmp}/bench-audit.XXXXXX"); fi
cleanup() { [ "${KEEP:-0}" = 1 ] || rm -rf "$work"; }
trap cleanup EXIT

cores=$(nproc)
cpu=$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || echo unknown)
load=$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo 0)
echo "cpu: $cpu, $cores cores, load average $load; $rows rows, $boot bootstrap resamples"

data=$work/adult-$rows.csv
"$py" - "$repo/../shared/datasets/adult.csv" "$data" "$rows" <<'PY'
import sys, numpy as np, pandas as pd
src, dst, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
df = pd.read_csv(src, dtype=str, keep_default_na=False)
idx = np.random.default_rng(20261124).integers(0, len(df), n)
df.iloc[idx].to_csv(dst, index=False)
PY
model=$repo/tests/fixtures/audit/adult-logreg.onnx
suite=$work/bench.toml
sed -e "s#^path = .*#path = \"$data\"#" -e "s#^resamples = .*#resamples = $boot#" \
    tests/fixtures/audit/adult-four-fifths.toml > "$suite"
cat >> "$suite" <<'TOML'

[ranking]
k = [10, 100, 1000]
step = 10
TOML

echo "== embargo audit"
set +e
"$bin" audit "$suite" --model "$model" --out "$work/report" --quiet 2> "$work/embargo.err"
code=$?
set -e
cat "$work/embargo.err"
[ "$code" -le 1 ] || die "embargo audit could not run (exit $code)"
timings=$(grep '^timings:' "$work/embargo.err")
field() { sed -n "s/.*$1 \([0-9.]*\)s.*/\1/p" <<<"$timings"; }
e_load=$(field load); e_inf=$(field inference); e_met=$(field metrics); e_total=$(field total)

echo "== onnxruntime (Python) and Fairlearn MetricFrame"
fl=$("$py" scripts/bench_fairlearn.py "$data" "$model" "$fl_boot")
echo "$fl"
get() { "$py" -c "import json,sys; print(json.loads(sys.argv[1]).get(sys.argv[2], 0))" "$fl" "$1"; }
p_inf=$(get inference_s); p_prep=$(get feed_prep_s); f_point=$(get metricframe_s); f_boot=$(get metricframe_bootstrap_s); p_load=$(get load_s)
e_pos=$("$py" -c "
import json,sys
r=json.load(open(sys.argv[1]))
print(round(r['overall']['selection_rate']*r['overall']['count']))" "$work/report/report.json")
[ "$e_pos" = "$(get predicted_positive)" ] || die "the two sides predict differently: $e_pos vs $(get predicted_positive) positives"

report=$("$py" - "$e_inf" "$e_met" "$e_total" "$e_load" "$p_inf" "$p_prep" "$f_point" "$f_boot" "$fl_boot" "$boot" "$rows" "$cpu" "$cores" "$load" "$p_load" <<'PY'
import sys
e_inf, e_met, e_total, e_load, p_inf, p_prep, f_point, f_boot = map(float, sys.argv[1:9])
fl_boot, boot, rows = int(sys.argv[9]), int(sys.argv[10]), int(sys.argv[11])
cpu, cores, load, p_load = sys.argv[12], sys.argv[13], sys.argv[14], float(sys.argv[15])
per = (f_boot - f_point) / fl_boot if fl_boot else 0.0
f_full = f_point + per * boot
e_work = e_inf + e_met
fl_work = p_inf + f_full
print(f"""# Audit benchmark

`scripts/bench-audit.sh`, one run: {rows:,} rows (Adult resampled with replacement), sensitive
attributes sex and race (and their intersection), the logistic-regression pipeline of
`tests/fixtures/audit/adult-logreg.onnx`. CPU: {cpu}, {cores} cores, load average {load} at the start.

| | embargo audit (Rust, ort) | Python (onnxruntime + Fairlearn) | ratio |
|---|---:|---:|---:|
| inference, same model and rows | {e_inf:.2f} s | {p_inf:.2f} s (+ {p_prep:.2f} s building the input arrays) | {e_inf / p_inf:.2f}x the time |
| every metric, point estimates | part of the next line | {f_point:.1f} s (MetricFrame) | |
| every metric + {boot} bootstrap resamples | {e_met:.2f} s | {f_full:,.0f} s (MetricFrame, n_boot={boot}: {f_point:.1f} s + {boot} x {per:.1f} s, extrapolated from a measured n_boot={fl_boot} run of {f_boot:.1f} s) | {f_full / e_met:,.0f}x faster |
| inference + metrics + bootstrap | {e_work:.2f} s | {fl_work:,.0f} s | {fl_work / e_work:,.0f}x faster |

embargo's metrics line also includes what Fairlearn does not compute here: calibration error,
reference-group comparisons, equalized-odds and equal-opportunity aggregates, and ranking
metrics (exposure, skew@k, NDKL, rND, rKL) over the {rows:,}-row ranking. Measured without
extrapolation: embargo's metrics with {boot} bootstrap resamples ({e_met:.2f} s) against
MetricFrame's point estimates alone ({f_point:.1f} s): {f_point / e_met:,.0f}x. Reading the CSV
(not in the lines above): embargo {e_load:.2f} s, pandas {p_load:.2f} s. Both sides predicted the
same number of positives.
""")
PY
)
echo "$report"
mkdir -p benches
echo "$report" > benches/audit-results.md
echo "written to benches/audit-results.md"
