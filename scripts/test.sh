#!/usr/bin/env bash
# The project's test command: installs what the tests need (idempotently), then runs every
# test: unit, conformance against ../shared/test-vectors, integration (real server processes),
# crash safety, and the website in a real browser (tests/web). Usage: scripts/test.sh [extra cargo test args]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
if [ ! -d ../shared/test-vectors ]; then
  echo "scripts/test.sh: ../shared/test-vectors is missing; the conformance tests need it beside this checkout" >&2
  exit 1
fi
cargo test --release --all-features "$@" -- --test-threads=2
# The website in headless Chromium, against the release binary: the integration tests above
# built it, unless extra arguments narrowed them.
bin=${CARGO_TARGET_DIR:-$PWD/target}/release/embargo
if [ $# -gt 0 ] || [ ! -x "$bin" ]; then
  cargo build --release --quiet
fi
# A hard limit, so a browser or server left running cannot hold CI until its own timeout.
EMBARGO_BIN=$bin timeout --kill-after=30s 20m node --test tests/web/
