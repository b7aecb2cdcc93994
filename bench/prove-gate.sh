#!/usr/bin/env bash
# Prove the regression gate (docs/bench.md): it passes on noise and fails on
# a real +5 % slowdown.
#
#   bench/prove-gate.sh [BUILD_DIR] [RUNS]
#
# 1. RUNS (default 20) measurements of the unchanged build, each compared
#    with a first one by the gate: all must pass (no false alarm).
# 2. The same tree built with -DBS_BENCH_SLOWDOWN=N (extra work in every
#    store call; default N=66, about +5.3 % instructions on the apfs
#    campaign) must fail the gate.
# Exit 0 when both hold, 1 otherwise.  Output: a table per step.
set -euo pipefail

build=${1:-build}
runs=${2:-20}
slow=${BENCH_SLOWDOWN:-66}
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

make --no-print-directory -j2 BUILD="$build" "$build/bslab" "$build/sim_bench" >/dev/null
python3 "$here/gate.py" measure --build "$build" --out "$tmp/base.json" 2>/dev/null

echo "== 1. $runs runs of the unchanged build against its own baseline"
passed=0 worst=0
for i in $(seq "$runs"); do
  python3 "$here/gate.py" measure --build "$build" --out "$tmp/run.json" 2>/dev/null
  if python3 "$here/gate.py" compare "$tmp/base.json" "$tmp/run.json" >"$tmp/table" 2>&1; then
    passed=$((passed + 1))
  else
    cat "$tmp/table"
  fi
  w=$(python3 -c 'import json,sys; b=json.load(open(sys.argv[1]))["ir"]; n=json.load(open(sys.argv[2]))["ir"]
print(max(abs(n[k]/b[k]-1) for k in b))' "$tmp/base.json" "$tmp/run.json")
  worst=$(python3 -c "print(max($worst, $w))")
done
printf '  %d of %d runs passed; largest change of any count: %.4f%%\n' "$passed" "$runs" \
  "$(python3 -c "print($worst * 100)")"

echo "== 2. a build with BS_BENCH_SLOWDOWN=$slow against the same baseline"
make --no-print-directory -j2 BUILD="$tmp/slow" CFLAGS="-DBS_BENCH_SLOWDOWN=$slow" \
  "$tmp/slow/bslab" "$tmp/slow/sim_bench" >/dev/null
python3 "$here/gate.py" measure --build "$tmp/slow" --out "$tmp/slow.json" 2>/dev/null
caught=0
python3 "$here/gate.py" compare "$tmp/base.json" "$tmp/slow.json" || caught=1

if [ "$passed" -eq "$runs" ] && [ "$caught" -eq 1 ]; then
  echo "prove-gate: passed ($runs/$runs unchanged runs passed; the slowdown build failed the gate)"
  exit 0
fi
echo "prove-gate: FAILED (unchanged runs passed: $passed/$runs; slowdown caught: $caught)"
exit 1
