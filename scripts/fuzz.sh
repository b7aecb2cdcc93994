#!/usr/bin/env bash
# AFL++ campaigns over the fuzz targets (make fuzz, make fuzz-cmin); see
# docs/fuzzing.md.  The binaries are built by the Makefile first:
# BUILD/afl/bin/<t>_fuzzer (ASan+UBSan) and <t>_cmplog (afl-fuzz -c).
#
#   scripts/fuzz.sh [--build DIR] [--seconds N] [--timeout MS] [--jobs J] target...
#       run afl-fuzz on each target for N seconds from corpora/<t>/, output
#       in DIR/afl/out/<t>/; exit 1 if any target found a crash or a hang.
#       With J > 1: AFL++'s multi-instance mode, one main instance (-M main,
#       with CmpLog) and J-1 secondaries (-S s2..sJ) sharing DIR/afl/out/<t>/
#       as their sync directory (docs/fuzzing.md, "Several cores, several
#       machines")
#   scripts/fuzz.sh [--build DIR] --cmin target...
#       afl-cmin over corpora/<t>/ plus the last campaign's queue, written
#       back to corpora/<t>/ by content hash; crash-* inputs are kept as is
#   scripts/fuzz.sh --promote target FILE...
#       copy crash or hang inputs into corpora/<t>/crash-<hash> so make check
#       replays them from then on
set -uo pipefail

build=build
seconds=180
timeout_ms=1000
jobs=1
mode=run
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --timeout) timeout_ms=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2
            [[ $jobs =~ ^[1-9][0-9]*$ ]] && [ "$jobs" -le 64 ] ||
              { echo "fuzz.sh: --jobs needs a number from 1 to 64" >&2; exit 2; } ;;
    --cmin) mode=cmin; shift ;;
    --promote) mode=promote; shift ;;
    -h|--help) sed -n '2,/^set /p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
    *) break ;;
  esac
done
[ $# -gt 0 ] || { echo "fuzz.sh: no targets given (see --help)" >&2; exit 2; }

# The 16 hex digits every corpus file is named by (as scripts/gen-corpora.py).
hash16() { sha1sum "$1" | cut -c1-16; }

need() {
  command -v "$1" >/dev/null 2>&1 && return 0
  echo "fuzz.sh: $1 not found: make fuzz needs AFL++ (run scripts/deps.sh as root," \
       "or apt-get install afl++)" >&2
  exit 2
}

check_target() {
  [ -d "corpora/$1" ] || { echo "fuzz.sh: no corpus corpora/$1/ (is '$1' a target?)" >&2; exit 2; }
}

# ---- --promote: crash inputs become regression inputs ----------------------
if [ $mode = promote ]; then
  t=$1; shift
  check_target "$t"
  [ $# -gt 0 ] || { echo "fuzz.sh: --promote $t: no input files given" >&2; exit 2; }
  replay=$build/asan/fuzz/${t}_replay
  rc=0
  for f in "$@"; do
    [ -f "$f" ] || { echo "fuzz.sh: $f: no such file" >&2; rc=2; continue; }
    dst=corpora/$t/crash-$(hash16 "$f")
    cp "$f" "$dst"
    echo "promoted $f -> $dst"
    # make check will replay it: say now if the fix is not in yet.
    if [ -x "$replay" ] && ! ("$replay" "$dst") >/dev/null 2>&1; then
      echo "  still fails under $replay (make check will fail until it is fixed): $replay $dst"
      rc=1
    fi
  done
  exit $rc
fi

need afl-fuzz
export AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1
# Other jobs share the cores; do not fail for want of a free one to bind.
export AFL_NO_AFFINITY=1

# ---- --cmin: minimise corpus + last campaign's finds ----------------------
if [ $mode = cmin ]; then
  need afl-cmin
  for t in "$@"; do
    check_target "$t"
    work=$build/afl/cmin/$t
    rm -rf "$work" && mkdir -p "$work/in"
    before=$(find "corpora/$t" -maxdepth 1 -type f ! -name 'crash-*' | wc -l)
    for f in "corpora/$t"/* "$build/afl/out/$t"/*/queue/id:*; do
      [ -f "$f" ] || continue
      case ${f##*/} in crash-*) continue ;; esac
      cp "$f" "$work/in/$(hash16 "$f")"
    done
    if ! afl-cmin -i "$work/in" -o "$work/out" -m none -t 5000 -- "$build/afl/bin/${t}_fuzzer" \
         >"$work.log" 2>&1 || [ -z "$(ls -A "$work/out" 2>/dev/null)" ]; then
      echo "fuzz.sh: afl-cmin failed for $t, corpora/$t/ unchanged (log $work.log)" >&2
      tail -n 5 "$work.log" | sed 's/^/  | /' >&2
      exit 1
    fi
    find "corpora/$t" -maxdepth 1 -type f ! -name 'crash-*' -delete
    cp "$work/out"/* "corpora/$t/"
    after=$(ls "$work/out" | wc -l)
    echo "$t: $(ls "$work/in" | wc -l) distinct inputs (corpus $before + queue) -> $after kept" \
         "in corpora/$t/ (plus $(find "corpora/$t" -maxdepth 1 -name 'crash-*' | wc -l) crash-*)"
  done
  echo "fuzz-cmin: review with git status corpora/, then commit"
  exit 0
fi

# ---- campaigns -------------------------------------------------------------
stat_of() { sed -n "s/^$1 *: *//p" "$2"; }

failed=()
summary=()
for t in "$@"; do
  check_target "$t"
  bin=$build/afl/bin/${t}_fuzzer
  out=$build/afl/out/$t
  log=$build/afl/$t.log
  rm -rf "$out" && mkdir -p "$out"
  echo "== $t: ${seconds}s from corpora/$t ($(ls "corpora/$t" | wc -l) inputs), $jobs instance(s)"
  if [ "$jobs" -eq 1 ]; then
    afl-fuzz -i "corpora/$t" -o "$out" -m none -t "$timeout_ms" -V "$seconds" \
      -c "$build/afl/bin/${t}_cmplog" -- "$bin" >"$log" 2>&1
    rc=$?
    stats=$out/default/fuzzer_stats
  else
    # One main instance (deterministic stages, CmpLog) and secondaries; they
    # exchange finds through $out, their sync directory.
    pids=()
    afl-fuzz -M main -i "corpora/$t" -o "$out" -m none -t "$timeout_ms" -V "$seconds" \
      -c "$build/afl/bin/${t}_cmplog" -- "$bin" >"$log" 2>&1 &
    pids+=($!)
    for i in $(seq 2 "$jobs"); do
      afl-fuzz -S "s$i" -i "corpora/$t" -o "$out" -m none -t "$timeout_ms" -V "$seconds" \
        -- "$bin" >"$build/afl/$t.s$i.log" 2>&1 &
      pids+=($!)
    done
    rc=0
    for p in "${pids[@]}"; do
      wait "$p" || rc=$?
    done
    stats=$out/main/fuzzer_stats
  fi
  if [ $rc -ne 0 ] || [ ! -f "$stats" ]; then
    failed+=("$t")
    summary+=("$(printf '%-16s %12s %10s %8s  %s' "$t" - - - "afl-fuzz exit $rc")")
    echo "  FAILED: afl-fuzz exit $rc (log $log)"
    grep -E 'PROGRAM ABORT|Location|\[-\]' "$log" | sed 's/\x1b\[[0-9;?]*[a-zA-Z]//g' | head -n 8 | sed 's/^/  | /'
    continue
  fi
  printf '  %s execs in %ss, %s execs/s; corpus %s (+%s new); edges %s (%s of the map)\n' \
    "$(stat_of execs_done "$stats")" "$(stat_of run_time "$stats")" \
    "$(stat_of execs_per_sec "$stats")" "$(stat_of corpus_count "$stats")" \
    "$(stat_of corpus_found "$stats")" "$(stat_of edges_found "$stats")" "$(stat_of bitmap_cvg "$stats")"
  # afl-fuzz exits 0 whatever it found: the verdict is what it saved, and
  # the seeds its dry run skipped for crashing or timing out (it only warns).
  finds=()
  for f in "$out"/*/crashes/id:* "$out"/*/hangs/id:*; do
    [ -f "$f" ] && finds+=("$f")
  done
  while read -r seed; do
    [ -n "$seed" ] && finds+=("corpora/$t/$seed")
  done < <(sed 's/\x1b\[[0-9;?]*[a-zA-Z]//g' "$log" | awk '
    /Attempting dry run with/ { seed = $0; sub(/.*orig:/, "", seed); sub(/\047.*/, "", seed) }
    /results in a timeout \(skipping\)|results in a crash, skipping/ { print seed }')
  summary+=("$(printf '%-16s %12s %10s %8s  %s' "$t" "$(stat_of execs_done "$stats")" \
    "$(stat_of execs_per_sec "$stats")" "$(stat_of corpus_found "$stats")" "${#finds[@]}")")
  if [ ${#finds[@]} -gt 0 ]; then
    failed+=("$t")
    echo "  FAILED: ${#finds[@]} crash/hang input(s):"
    printf '    %s\n' "${finds[@]}"
    echo "  replay one (stack trace): make $build/asan/fuzz/${t}_replay && $build/asan/fuzz/${t}_replay FILE"
    echo "  after the fix, keep it:   scripts/fuzz.sh --promote $t FILE..."
  fi
done
echo
printf '%-16s %12s %10s %8s  %s\n' target execs execs/s new "crashes+hangs"
printf '%s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: FAILED: ${failed[*]}"
  exit 1
fi
echo "fuzz: no crash or hang in $# target(s); new inputs in $build/afl/out/<t>/*/queue" \
     "(make fuzz-cmin folds them into corpora/)"
