#!/usr/bin/env bash
# Smoke test of the ShareDB peer: every scenario at a tiny size, each JSON result checked against
# the shared schema (check.js), plus the --url/--pid mode and the usage errors. Needs
# `npm ci --prefix bench/peers/sharedb` first. Takes a few seconds; exits non-zero on any failure
# and ends with an 'N passed, N failed' line.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"

if [ ! -d node_modules/sharedb ]; then
  echo "smoke.sh: node_modules missing; run 'npm ci --prefix bench/peers/sharedb' first" >&2
  exit 2
fi

out="$(mktemp -d)"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null; fi
  rm -rf "$out"
}
trap cleanup EXIT

passed=0
failed=0
pass() { passed=$((passed + 1)); echo "ok   $1"; }
fail() { failed=$((failed + 1)); echo "FAIL $1" >&2; }

# run NAME SCENARIO "driver flags" "check.js expectations"
run() {
  local name="$1" scenario="$2" flags="$3" expect="$4"
  local json="$out/$name.json" log="$out/$name.log"
  # The driver has its own --timeout; the outer one only catches a driver that cannot even get
  # that far (e.g. stuck on startup).
  # shellcheck disable=SC2086
  if ! timeout 60 node driver.js "$scenario" $flags --timeout 30 --json "$json" >"$log" 2>&1; then
    fail "$name: driver exited non-zero"; sed 's/^/     /' "$log" >&2; return
  fi
  # shellcheck disable=SC2086
  if node check.js "$json" "$scenario" $expect 2>"$log.check"; then
    pass "$name"
  else
    fail "$name: result does not match the schema"; sed 's/^/     /' "$log.check" >&2
  fi
}

# expect_usage_error NAME ARGS...: the driver must refuse with exit code 2 and say why.
expect_usage_error() {
  local name="$1"; shift
  local log="$out/usage.log" code=0
  timeout 20 node driver.js "$@" >"$log" 2>&1 || code=$?
  if [ "$code" -eq 2 ] && grep -q '^driver.js: ' "$log"; then pass "$name"; else fail "$name: exit $code"; sed 's/^/     /' "$log" >&2; fi
}

run edit   edit   "--editors 2 --ops 20"                       "ops=40 deliveries=40 params.editors=2 params.ops=20 params.docs=1"
run edit1  edit   "--editors 1 --ops 20 --seed 7"              "ops=20 deliveries=0 params.seed=7"
run docs   docs   "--docs 2 --editors 2 --ops 10"              "ops=40 deliveries=40 params.docs=2"
run fanout fanout "--subscribers 5 --rate 200 --ops 20"        "ops=20 deliveries=100 params.subscribers=5 params.rate=200"
run fanout-raw fanout "--subscribers 5 --rate 200 --ops 20 --writer raw" "ops=20 deliveries=100"
run idle   idle   "--connections 20 --settle 0.5"              "ops=0 params.connections=20"

# Against a server started separately, as the comparison script does when it wants to manage
# the server itself.
node server.js --listen 127.0.0.1:0 >"$out/server.out" 2>"$out/server.err" &
server_pid=$!
for _ in $(seq 1 100); do grep -q '^sharedb listening on ' "$out/server.out" && break; sleep 0.1; done
addr="$(sed -n 's/^sharedb listening on //p' "$out/server.out")"
if [ -z "$addr" ] || [ "$(wc -l <"$out/server.out")" -ne 1 ]; then
  fail "server.js: expected exactly one 'sharedb listening on' line"; cat "$out/server.out" "$out/server.err" >&2
else
  pass "server.js readiness line"
  run external edit "--editors 2 --ops 10 --url ws://$addr --pid $server_pid" "ops=20 converged=true"
  kill -TERM "$server_pid"
  code=0; wait "$server_pid" || code=$?
  server_pid=""
  if [ "$code" -eq 0 ]; then pass "server.js exits 0 on SIGTERM"; else fail "server.js exited $code on SIGTERM"; fi
fi

expect_usage_error "usage: unknown scenario"    bogus
expect_usage_error "usage: flag of another scenario" edit --docs 3
expect_usage_error "usage: not a number"        edit --editors two
expect_usage_error "usage: unknown flag"        fanout --bogus 1
expect_usage_error "usage: --url without --pid" edit --url ws://127.0.0.1:1
expect_usage_error "usage: bad --writer"        fanout --writer fast

# The global timeout must end a run that cannot finish (100 ops at 1 op/s) with exit code 3.
code=0
timeout 30 node driver.js fanout --subscribers 2 --rate 1 --ops 100 --timeout 1 >"$out/timeout.log" 2>&1 || code=$?
if [ "$code" -eq 3 ] && grep -q 'did not finish within 1 s' "$out/timeout.log"; then pass "global timeout"; else fail "global timeout: exit $code"; sed 's/^/     /' "$out/timeout.log" >&2; fi

# Ctrl-C mid-run must stop the child server too.
timeout 30 node driver.js fanout --subscribers 2 --rate 1 --ops 100 >"$out/sigint.log" 2>&1 &
driver_pid=$!
sleep 1.5 # long enough to be mid-run; an earlier SIGINT must clean up just the same
kill -INT "$driver_pid"
code=0; wait "$driver_pid" || code=$?
if [ "$code" -eq 130 ]; then pass "SIGINT exits 130"; else fail "SIGINT: exit $code"; sed 's/^/     /' "$out/sigint.log" >&2; fi

# No stray servers: every child the drivers above started must be gone. (The [s] keeps this grep
# from matching its own command line.)
sleep 0.3
if grep -qa -- "$here/server.j[s]" /proc/[0-9]*/cmdline 2>/dev/null; then
  fail "a server.js is still running after its driver exited"
else
  pass "no server.js left running"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
