#!/usr/bin/env bash
# Run the cmocka suites: plain build, ASan+UBSan build (LeakSanitizer on),
# then the plain build again under valgrind's leak checker.  One line per
# suite run, the log of any failure, and cmocka-style totals at the end.
#
#   scripts/run-tests.sh [--build DIR] [--quick] [--corpora "T..."] test_name...
#   --quick     plain build only (make quickcheck)
#   --corpora   fuzz targets whose corpora/<T>/ inputs are replayed through
#               <T>_replay in each build (a crash or sanitizer report fails)
set -uo pipefail

build=build
quick=0
corpora=""
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build=$2; shift 2 ;;
    --quick) quick=1; shift ;;
    --corpora) corpora=$2; shift 2 ;;
    --) shift; break ;;
    -*) echo "run-tests.sh: unknown option $1" >&2; exit 2 ;;
    *) break ;;
  esac
done
[ $# -gt 0 ] || { echo "run-tests.sh: no suites given" >&2; exit 2; }

logs=$build/test-logs
mkdir -p "$logs"
total=0 passed=0 failed=0 skipped=0 bad_runs=0
failed_names=()

export CMOCKA_MESSAGE_OUTPUT=stdout
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:strict_string_checks=1:detect_stack_use_after_return=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export LSAN_OPTIONS=exitcode=23

# run FLAVOUR NAME CMD...: run one suite, tally cmocka's own counts.
run() {
  local flavour=$1 name=$2; shift 2
  local log="$logs/$name.$flavour.log" start end rc
  start=$(date +%s.%N)
  "$@" >"$log" 2>&1
  rc=$?
  end=$(date +%s.%N)
  local run_n pass_n fail_n skip_n
  run_n=$(sed -n 's/^\[==========\] \([0-9]*\) test(s) run\./\1/p' "$log" | awk '{s+=$1} END {print s+0}')
  pass_n=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test(s)\./\1/p' "$log" | awk '{s+=$1} END {print s+0}')
  fail_n=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test(s),.*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
  skip_n=$(sed -n 's/^\[  SKIPPED \] \([0-9]*\) test(s),.*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
  total=$((total + run_n)); passed=$((passed + pass_n))
  failed=$((failed + fail_n)); skipped=$((skipped + skip_n))
  local secs
  secs=$(awk -v a="$start" -v b="$end" 'BEGIN {printf "%.1f", b - a}')
  if [ $rc -ne 0 ] || [ "$fail_n" -gt 0 ] || [ "$run_n" -eq 0 ]; then
    bad_runs=$((bad_runs + 1))
    failed_names+=("$name ($flavour, exit $rc)")
    printf '  FAIL  %-22s %-8s %3d run, %d failed  %5ss  (log: %s)\n' "$name" "$flavour" "$run_n" "$fail_n" "$secs" "$log"
    sed 's/^/        | /' "$log" | tail -n 60
  else
    printf '  ok    %-22s %-8s %3d run, %d skipped %5ss\n' "$name" "$flavour" "$run_n" "$skip_n" "$secs"
  fi
}

# replay FLAVOUR TARGET: every committed input of one fuzz target.
replay() {
  local flavour=$1 t=$2 log="$logs/corpus-$2.$1.log" rc n
  "$build/$flavour/fuzz/${t}_replay" "corpora/$t" >"$log" 2>&1
  rc=$?
  n=$(sed -n 's/^replay: \([0-9]*\) input(s) ran$/\1/p' "$log")
  if [ $rc -ne 0 ] || [ -z "$n" ]; then
    bad_runs=$((bad_runs + 1))
    failed_names+=("corpus $t ($flavour, exit $rc)")
    printf '  FAIL  %-22s %-8s corpus replay  (log: %s)\n' "corpus/$t" "$flavour" "$log"
    sed 's/^/        | /' "$log" | tail -n 40
  else
    printf '  ok    %-22s %-8s %3d inputs\n' "corpus/$t" "$flavour" "$n"
  fi
}

echo "== plain build"
for t in "$@"; do BSLAB=$build/bslab run plain "$t" "$build/plain/tests/$t"; done
for t in $corpora; do replay plain "$t"; done
if [ $quick -eq 0 ]; then
  echo "== ASan+UBSan build (LeakSanitizer on)"
  for t in "$@"; do BSLAB=$build/asan/bslab run asan "$t" "$build/asan/tests/$t"; done
  for t in $corpora; do replay asan "$t"; done
  echo "== valgrind leak check (plain build)"
  # The 100 000-iteration leak loop runs in full under LSan above; valgrind
  # runs every suite with smaller iteration counts to stay inside the budget.
  for t in "$@"; do
    BSLAB=$build/bslab BS_TEST_ITER=${BS_VALGRIND_ITER:-20} BS_LEAK_ITER=2000 \
      run valgrind "$t" valgrind -q --leak-check=full --show-leak-kinds=definite,indirect \
      --errors-for-leak-kinds=definite,indirect --error-exitcode=99 --trace-children=no \
      "$build/plain/tests/$t"
  done
fi

echo
if [ $bad_runs -gt 0 ]; then
  echo "Failing suite runs:"
  for n in "${failed_names[@]}"; do echo "  $n"; done
  echo
fi
echo "[==========] $total test(s) run."
echo "[  PASSED  ] $passed test(s)."
[ $skipped -gt 0 ] && echo "[  SKIPPED ] $skipped test(s)."
if [ $bad_runs -gt 0 ]; then
  echo "[  FAILED  ] $((failed > bad_runs ? failed : bad_runs)) test(s)."
  exit 1
fi
exit 0
