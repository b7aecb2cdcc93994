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

# Real volumes (tests/support/volume.h): reap those of crashed earlier runs
# now, and this run's at exit, however it ends.
volctl=$build/plain/tests/volctl
vol_root=${BS_VOL_ROOT:-/dev/shm/backstore-vols}
# RAM disks (docs/ramdisk.md) of the suites, recorded here: reaped likewise.
export BS_RAMDISK_DIR=${BS_RAMDISK_DIR:-/dev/shm/backstore-ramdisks}
reap_volumes() {
  [ -x "$build/bslab" ] && "$build/bslab" ramdisk reap >/dev/null 2>&1
  [ -x "$volctl" ] || return 0
  "$volctl" reap 2>&1 | grep -E '^(reaped|detached|could not)' | sed 's/^/  volctl: /'
  return 0
}
reap_volumes
trap reap_volumes EXIT
# The volumes of this run name it (tests/support/volume.c), so that the
# check at the end counts only this run's leftovers.
export BS_VOL_RUN="run-$$-$(date +%s)"


# owner_alive ENTRY: the owner (pid + start time) of registry entry ENTRY runs.
owner_alive() {
  local pid start stat
  read -r pid start 2>/dev/null <"$1/owner" || return 1
  read -r stat 2>/dev/null <"/proc/$pid/stat" || return 1
  set -- ${stat##*) }   # field 3 (state) on; field 22 (start time) is $20
  [ "$1" != Z ] && [ "$1" != X ] && [ "${20}" = "$start" ]
}

# Mounts and loop devices under the registry whose owner is gone and whose
# entry names this run: left behind by a suite of this run (other runs,
# alive or crashed, share the registry root).
volume_leftovers() {
  {
    awk -v r="$vol_root/" 'index($2, r) == 1 {print "mount", $2}' /proc/mounts
    if command -v losetup >/dev/null 2>&1; then
      losetup -a 2>/dev/null | sed -n 's|^\(/dev/loop[0-9]*\): .*(\(.*\))$|\1 \2|p'
    else
      for f in /sys/block/loop*/loop/backing_file; do
        [ -r "$f" ] && { f=${f#/sys/block/}; echo "/dev/${f%%/*} $(cat "/sys/block/$f")"; }
      done
    fi
  } | while read -r what path; do
    case $path in "$vol_root"/*) ;; *) continue ;; esac
    local rel=${path#"$vol_root"/}
    owner_alive "$vol_root/${rel%%/*}" && continue
    [ "$(cat "$vol_root/${rel%%/*}/run" 2>/dev/null)" = "$BS_VOL_RUN" ] || continue
    if [ "$what" = mount ]; then echo "mounted:  $path"; else echo "attached: $what <- $path"; fi
  done
}
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
  # A promoted hang input must fail the replay, not stall make check
  # (macOS has no timeout(1) unless coreutils is installed).
  local limit=()
  command -v timeout >/dev/null 2>&1 && limit=(timeout 300)
  ${limit[@]+"${limit[@]}"} "$build/$flavour/fuzz/${t}_replay" "corpora/$t" >"$log" 2>&1
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

echo "== layers"
flavours="plain asan"
[ $quick -eq 1 ] && flavours=plain
if ! scripts/check-layers.sh --build "$build" --flavours "$flavours" | sed 's/^/  /'; then
  bad_runs=$((bad_runs + 1))
  failed_names+=("layers (scripts/check-layers.sh)")
fi
echo "== plain build"
for t in "$@"; do BSLAB=$build/bslab run plain "$t" "$build/plain/tests/$t"; done
for t in $corpora; do replay plain "$t"; done
if [ $quick -eq 0 ]; then
  echo "== ASan+UBSan build (LeakSanitizer on)"
  for t in "$@"; do BSLAB=$build/asan/bslab run asan "$t" "$build/asan/tests/$t"; done
  for t in $corpora; do replay asan "$t"; done
  echo "== valgrind leak check (plain build)"
  # The 100 000-iteration leak loop runs in full under LSan above; valgrind
  # runs every suite with smaller iteration counts (and fewer threads: it runs
  # one at a time) to stay inside the budget.
  for t in "$@"; do
    BSLAB=$build/bslab BS_TEST_ITER=${BS_VALGRIND_ITER:-20} BS_LEAK_ITER=2000 BS_TEST_THREADS=16 \
      run valgrind "$t" valgrind -q --leak-check=full --show-leak-kinds=definite,indirect \
      --errors-for-leak-kinds=definite,indirect --error-exitcode=99 --trace-children=no \
      "$build/plain/tests/$t"
  done
fi

echo
left=$(volume_leftovers)
if [ -n "$left" ]; then
  echo "volumes: LEFT BEHIND under $vol_root (reaped now; a suite did not destroy them):"
  echo "$left" | sed 's/^/  /'
  bad_runs=$((bad_runs + 1))
  failed_names+=("volumes left behind under $vol_root")
else
  echo "volumes: nothing of ours remains under $vol_root (no mount, no loop device)"
fi
# RAM disks whose owner (a suite's process) is gone: left behind.
left=$([ -x "$build/bslab" ] && "$build/bslab" ramdisk list 2>/dev/null | awk '$7 == "dead"')
if [ -n "$left" ]; then
  echo "RAM disks: LEFT BEHIND in $BS_RAMDISK_DIR (reaped now; a suite did not destroy them):"
  echo "$left" | sed 's/^/  /'
  bad_runs=$((bad_runs + 1))
  failed_names+=("RAM disks left behind in $BS_RAMDISK_DIR")
else
  echo "RAM disks: nothing of ours remains in $BS_RAMDISK_DIR"
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
