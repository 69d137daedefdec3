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
cargo test --workspace
