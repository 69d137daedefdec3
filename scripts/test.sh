#!/usr/bin/env bash
# The whole test suite, as a newcomer and CI run it: installs what it needs (PostgreSQL's binaries
# when missing and we are root — the tests start their own server from them — the npm packages of
# the stompjs interop test over ws, sockjs-client and @stomp/tcp-wrapper, the TypeScript client,
# the demo editor and the ShareDB benchmark peer,
# cargo-fuzz), checks that the demo bundle the server embeds is not stale, then checks formatting
# and lints, fuzzes each target briefly, runs every test of the workspace (server, `ot` crate,
# and every scenario of `otterdoc-bench` at a tiny size), the TypeScript client's suite, the demo
# editor in headless Chromium (CHROMIUM, default /usr/bin/chromium), and the ShareDB peer's
# smoke test.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== PostgreSQL binaries (the PostgreSQL store's tests start their own server from them)"
pg_postgres() { ls -d /usr/lib/postgresql/*/bin/postgres 2>/dev/null | sort -V | tail -n 1; }
if [[ -z "${OTTERDOC_TEST_PG_BIN:-}" && -z "$(pg_postgres)" ]]; then
  if [[ "$(id -u)" -eq 0 ]]; then
    apt-get update
    apt-get install -y --no-install-recommends postgresql
  else
    echo "PostgreSQL is missing: install Debian's postgresql package (.ci/run does)," \
      "or set OTTERDOC_TEST_PG_BIN to the directory of its binaries" >&2
    exit 1
  fi
fi
export OTTERDOC_TEST_PG_BIN="${OTTERDOC_TEST_PG_BIN:-$(dirname "$(pg_postgres)")}"
echo "using $OTTERDOC_TEST_PG_BIN"

echo "== npm ci (stompjs interop client over ws, sockjs-client and TCP; ShareDB benchmark peer, TypeScript client, demo editor)"
npm ci --prefix tests/interop --no-audit --no-fund --loglevel=error
npm ci --prefix bench/peers/sharedb --no-audit --no-fund --loglevel=error
npm ci --prefix clients/js --no-audit --no-fund --loglevel=error
npm ci --prefix clients/demo --no-audit --no-fund --loglevel=error

echo "== demo editor: typecheck, and the embedded bundle (assets/demo) rebuilt and compared"
npm run --silent typecheck --prefix clients/demo
npm run --silent check --prefix clients/demo

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
if [[ "$status" -eq 0 ]]; then
  echo "== TypeScript client (clients/js): OT vectors, state machine, real-server tests"
  set +e
  OTTERDOC_BIN="$PWD/target/debug/otterdoc" OTTERDOC_REQUIRE_SERVER=1 \
    npm test --prefix clients/js 2>&1 | tee -a "$log"
  status=${PIPESTATUS[0]}
  set -e
fi
if [[ "$status" -eq 0 ]]; then
  echo "== demo editor in headless Chromium (screenshots in test-artifacts/browser/)"
  set +e
  OTTERDOC_BIN="$PWD/target/debug/otterdoc" npm test --prefix clients/demo 2>&1 | tee -a "$log"
  status=${PIPESTATUS[0]}
  set -e
fi
if [[ "$status" -eq 0 ]]; then
  echo "== ShareDB benchmark peer: every scenario at a tiny size"
  set +e
  bash bench/peers/sharedb/smoke.sh 2>&1 | tee -a "$log"
  status=${PIPESTATUS[0]}
  set -e
fi
# One closing line over every test binary of the workspace (cargo prints one line per binary)
# the TypeScript client's node:test run ("ℹ pass N", "ℹ fail M") and the ShareDB smoke test
# ("N passed, M failed").
awk '/^test result:/ { passed += $4; failed += $6 }
     /^ℹ pass [0-9]+$/ { passed += $3 }
     /^ℹ fail [0-9]+$/ { failed += $3 }
     /^[0-9]+ passed, [0-9]+ failed$/ { passed += $1; failed += $3 }
     END { printf "%d passed, %d failed\n", passed, failed }' "$log"
rm -f "$log"
exit "$status"
