#!/usr/bin/env bash
# The project's test command: installs what the tests need (idempotently), then runs every
# test: unit, conformance against ../shared/test-vectors, integration (real server processes),
# crash safety. Usage: scripts/test.sh [extra cargo test args]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
if [ ! -d ../shared/test-vectors ]; then
  echo "scripts/test.sh: ../shared/test-vectors is missing; the conformance tests need it beside this checkout" >&2
  exit 1
fi
cargo test --release --all-features "$@" -- --test-threads=2
