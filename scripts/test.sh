#!/usr/bin/env bash
# The whole test suite, as a newcomer and CI run it: installs what it needs (the npm packages of
# the stompjs interop test, cargo-fuzz), then checks formatting and lints, fuzzes each target
# briefly, and runs every test of the workspace (server and `ot` crate).
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== npm ci (stompjs interop client)"
npm ci --prefix tests/interop --no-audit --no-fund --loglevel=error

echo "== cargo fmt --check"
cargo fmt --all -- --check
(cd fuzz && cargo fmt -- --check)

echo "== cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings

echo "== fuzz targets (${FUZZ_SECONDS:-20} s each)"
bash fuzz/run.sh

echo "== cargo test --workspace"
log=$(mktemp)
set +e
cargo test --workspace 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# One closing line over every test binary of the workspace (cargo prints one line per binary).
awk '/^test result:/ { passed += $4; failed += $6 } END { printf "%d passed, %d failed\n", passed, failed }' "$log"
rm -f "$log"
exit "$status"
