#!/usr/bin/env bash
# make bench, real part: clone a 1 GiB file on real btrfs and xfs volumes with
# `bslab clone --backend real`, against `cp --reflink=always` of the same file
# in the same run (the reference: one FICLONE plus process start, like ours).
#
#   bench/real_clone.sh BUILD_DIR [RESULTS_JSON_FRAGMENT]
#   BENCH_RUNS=N      runs per measurement (default 20; hyperfine medians)
#   BENCH_FILE_MIB=M  size of the file (default 1024)
#
# Volumes come from tests/volctl (owned by this shell: reaped if it dies).
# Gate: our median / cp's median <= 1.25 (noise allowance; the bar is "not
# slower than cp").  Exit 1 on a failed gate, 2 when volumes cannot be made.
set -euo pipefail

build=${1:-build}
frag=${2:-$build/bench-real.json}
runs=${BENCH_RUNS:-20}
mib=${BENCH_FILE_MIB:-1024}
volctl=$build/plain/tests/volctl
bslab=$build/bslab
failed=0

[ -x "$volctl" ] && [ -x "$bslab" ] || { echo "bench: build $volctl and $bslab first" >&2; exit 2; }
if [ "$(id -u)" -ne 0 ] || [ ! -e /dev/loop-control ]; then
  echo "  real clone benchmark: skipped (needs root and /dev/loop-control)"
  echo '"real_clone": "skipped"' >"$frag"
  exit 0
fi

dirs=()
cleanup() { for d in "${dirs[@]}"; do "$volctl" destroy "$d" >/dev/null 2>&1 || true; done; }
trap cleanup EXIT

json=()
echo "== real clone of a $mib MiB file: bslab clone --backend real vs cp --reflink=always, median of $runs"
for fs in btrfs xfs; do
  out=$("$volctl" create "$fs" $((mib * 2 + 512)) --owner $$)
  dir=$(sed -n 1p <<<"$out")
  mnt=$(sed -n 2p <<<"$out")
  dirs+=("$dir")
  head -c "$((mib * 1048576))" /dev/urandom >"$mnt/src"
  sync
  # No shell between hyperfine and the commands (-N): they take about a
  # millisecond, less than a shell's start-up noise.
  hyperfine -N --runs "$runs" --warmup 1 --style none --export-json "$build/bench-real-$fs.json" \
    --prepare "rm -f $mnt/dst $mnt/ref" \
    -n bslab "$bslab clone --backend real $mnt/src $mnt/dst" \
    -n cp "cp --reflink=always $mnt/src $mnt/ref" >/dev/null 2>"$build/bench-real-$fs.err" ||
    { cat "$build/bench-real-$fs.err" >&2; exit 2; }
  read -r ours ref < <(python3 -c '
import json, sys
r = {x["command"]: x["median"] for x in json.load(open(sys.argv[1]))["results"]}
print(r["bslab"], r["cp"])' "$build/bench-real-$fs.json")
  ratio=$(awk -v a="$ours" -v b="$ref" 'BEGIN {print a / b}')
  printf '  %-6s bslab clone %.2f ms, cp --reflink=always %.2f ms\n' "$fs" \
    "$(awk -v x="$ours" 'BEGIN {print x * 1e3}')" "$(awk -v x="$ref" 'BEGIN {print x * 1e3}')"
  verdict=ok
  awk -v r="$ratio" 'BEGIN {exit !(r <= 1.25)}' || { verdict=FAIL; failed=1; }
  printf '  %-44s %12.4g  (gate <= 1.25)  %s\n' "$fs bslab clone / cp --reflink" "$ratio" "$verdict"
  json+=("\"$fs\": {\"bslab_ms\": $(awk -v x="$ours" 'BEGIN {print x * 1e3}'), \"cp_ms\": $(awk -v x="$ref" 'BEGIN {print x * 1e3}'), \"ratio\": $ratio}")
done
printf '"real_clone_%dmib": {%s}\n' "$mib" "$(IFS=,; echo "${json[*]}")" >"$frag"
exit $failed
