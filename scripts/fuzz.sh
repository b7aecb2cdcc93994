#!/usr/bin/env bash
# make fuzz: run each libFuzzer target for a while, starting from its
# committed corpus.  New inputs go to BUILD/fuzz-corpus/<target>/ (not into
# the repository); a crash is saved as BUILD/fuzz-artifacts/<target>-crash-*
# and fails the run.  To keep what a campaign found, minimise it into the
# committed corpus:
#   build/libfuzzer/bin/<t>_fuzzer -merge=1 corpora/<t> build/fuzz-corpus/<t>
#
#   scripts/fuzz.sh [--build DIR] [--seconds N] target...
set -uo pipefail

build=build
seconds=60
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    -*) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
    *) break ;;
  esac
done
[ $# -gt 0 ] || { echo "fuzz.sh: no targets given" >&2; exit 2; }

failed=()
for t in "$@"; do
  bin=$build/libfuzzer/bin/${t}_fuzzer
  work=$build/fuzz-corpus/$t
  art=$build/fuzz-artifacts
  log=$build/fuzz-$t.log
  mkdir -p "$work" "$art"
  echo "== $t: ${seconds}s from corpora/$t ($(ls "corpora/$t" | wc -l) inputs)"
  "$bin" -max_total_time="$seconds" -print_final_stats=1 -artifact_prefix="$art/$t-" \
    "$work" "corpora/$t" >"$log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  peak=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log")
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1)
  if [ $rc -ne 0 ]; then
    failed+=("$t")
    echo "  FAILED (exit $rc): crash inputs in $art/$t-*; log $log"
    grep -E 'ERROR|SUMMARY|abort|decoded input' "$log" | head -n 10 | sed 's/^/  | /'
  else
    echo "  ok: ${execs:-?} executions, $cov, $(ls "$work" | wc -l) new corpus inputs, peak ${peak:-?} MB"
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: crashes in: ${failed[*]}"
  exit 1
fi
echo "fuzz: no crashes in $# target(s)"
