#!/usr/bin/env bash
# Installs what building, testing and the demo need. Safe to run again: it only installs what
# is missing.
set -euo pipefail
need_apt=()
command -v cc >/dev/null || need_apt+=(gcc)
command -v curl >/dev/null || need_apt+=(curl)
command -v openssl >/dev/null || need_apt+=(openssl)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing ${need_apt[*]}" >&2
  apt-get update -qq && apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
if ! command -v cargo >/dev/null; then
  echo "setup: cargo is missing: install the Rust toolchain (rustup) first" >&2
  exit 1
fi
# The website's browser tests (tests/web): Debian's Chromium, driven by playwright-core from
# npm (`npx playwright install` cannot download browsers here).
if [ ! -x /usr/bin/chromium ]; then
  echo "setup: installing chromium (for the browser tests)" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "setup: installing nodejs and npm (for the browser tests)" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
fi
web_tests="$(cd "$(dirname "$0")/.." && pwd)/tests/web"
if [ ! -d "$web_tests/node_modules/playwright-core" ]; then
  echo "setup: installing the browser tests' npm packages" >&2
  (cd "$web_tests" && { npm ci --no-audit --no-fund --loglevel=error || npm install --no-audit --no-fund --loglevel=error; })
fi

# The fairness audit: ONNX Runtime's shared library from the `onnxruntime` package on PyPI, in
# a virtualenv beside the checkout (.venv-audit), where `embargo audit` finds it. With
# --audit-train, also the training, export and Fairlearn packages (scripts/train_models.py,
# scripts/bench-audit.sh). Versions: scripts/requirements-audit.txt.
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv=$repo/.venv-audit
reqs=$repo/scripts/requirements-audit.txt
if ! command -v python3 >/dev/null || ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
  echo "setup: installing python3 and python3-venv (for ONNX Runtime)" >&2
  apt-get update -qq && apt-get install -y -qq python3 python3-venv python3-pip >/dev/null
fi
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
ort_pin=$(grep '^onnxruntime==' "$reqs")
if ! ls "$venv"/lib/python3*/site-packages/onnxruntime/capi/libonnxruntime.so.${ort_pin#onnxruntime==} >/dev/null 2>&1; then
  echo "setup: installing $ort_pin into .venv-audit" >&2
  "$venv/bin/pip" install -q "$ort_pin"
fi
if [ "${1:-}" = "--audit-train" ] && ! "$venv/bin/python" -c 'import fairlearn, skl2onnx, sklearn, pandas' 2>/dev/null; then
  echo "setup: installing the audit's training and Fairlearn packages into .venv-audit" >&2
  "$venv/bin/pip" install -q -r "$reqs"
fi
