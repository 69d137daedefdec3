#!/usr/bin/env bash
# Runs otterdoc and ShareDB through the same scenarios on this machine, one after the other in
# one run, and prints otterdoc / ShareDB for every figure (bench/compare.mjs). Results (JSON,
# SVG plots) go to $OUT (default bench/results/<date>).
#
#   bash bench/compare.sh            # the sizes of docs/benchmarks.md
#   bash bench/compare.sh --quick    # small sizes, a minute or so
set -euo pipefail
cd "$(dirname "$0")/.."
quick=0
[[ "${1:-}" == "--quick" ]] && quick=1
OUT=${OUT:-bench/results/$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"

cargo build --release --workspace --bins
npm ci --prefix bench/peers/sharedb --no-audit --no-fund --loglevel=error
BENCH=target/release/otterdoc-bench
SHAREDB="node bench/peers/sharedb/driver.js"

both() { # name, scenario args (the same for both tools)
  local name=$1; shift
  echo "== $name: $*" >&2
  $BENCH "$@" --json "$OUT/$name.otterdoc.json" --plot "$OUT/$name.otterdoc.svg" >&2
  $SHAREDB "$@" --json "$OUT/$name.sharedb.json" >&2
}
ours() { # otterdoc only
  local name=$1; shift
  echo "== $name: $*" >&2
  $BENCH "$@" --json "$OUT/$name.otterdoc.json" --plot "$OUT/$name.otterdoc.svg" >&2
}

if (( quick )); then
  both edit-k1 edit --editors 1 --ops 200
  both edit-k8 edit --editors 8 --ops 100
  both edit-k32 edit --editors 32 --ops 50
  both docs docs --docs 8 --editors 3 --ops 50
  both fanout-1k fanout --subscribers 1000 --rate 100 --ops 100
  both idle-2k idle --connections 2000
  ours trace trace --trace automerge-paper --editors 2 --patches 5000
  ours history history --ops 20000
else
  both edit-k1 edit --editors 1 --ops 500
  both edit-k8 edit --editors 8 --ops 500
  both edit-k32 edit --editors 32 --ops 500
  both docs docs --docs 16 --editors 3 --ops 200
  both fanout-1k fanout --subscribers 1000 --rate 100 --ops 500
  both idle-2k idle --connections 2000
  ours fanout-10k fanout --subscribers 10000 --rate 5 --ops 100
  ours idle-100k idle --connections 100000
  ours trace trace --trace automerge-paper --editors 2
  ours history history --ops 1000000
fi
node bench/compare.mjs "$OUT" | tee "$OUT/compare.md"
echo "results in $OUT" >&2
