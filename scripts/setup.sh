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

