#!/usr/bin/env bash
# make bench: sim throughput and the cost of clones and snapshots.
#
#   bench/run.sh BUILD_DIR
#   BENCH_RUNS=N   runs per measurement (default 5); medians are reported
#
# Gates are ratios against a reference measured in the same run, never
# absolute times: a clone against a read+write copy of the same file, the
# heap growth of clones against the file's size, a snapshot against creating
# the files it covers, and on real volumes clones and snapshots against the
# filesystem's own tools (bench/real_clone.sh, bench/real_snapshot.sh), and
# two threads on one store against the bare syscalls (bench/real_threads.sh),
# overlay branches against reflink-tree branches and an overlay copy-up
# against cp --reflink=always (bench/real_overlay.sh), and the RAM-disk cycle
# against the same steps done by hand (bench/ramdisk_cycle.sh).  Exit 1
# when a gate fails.  Results also go to
# BUILD_DIR/bench.json.
set -euo pipefail

build=${1:-build}
runs=${BENCH_RUNS:-5}
bslab=$build/bslab
simb=$build/sim_bench
out=$build/bench.json
profiles=(apfs hfs btrfs xfs ext4 tmpfs)
seeds=16 ops=2000
failed=0

command -v hyperfine >/dev/null || { echo "bench: hyperfine is missing (make deps)" >&2; exit 2; }
[ -x "$bslab" ] && [ -x "$simb" ] || { echo "bench: build $bslab and $simb first (make bench)" >&2; exit 2; }

median() { sort -g | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
# field KEY: the value after KEY on each input line.
field() { awk -v k="$1" '{for (i = 1; i < NF; i++) if ($i == k) print $(i+1)}'; }
# gate NAME VALUE OP LIMIT: report and record one ratio check.
gate() {
  local verdict=ok
  awk -v v="$2" -v l="$4" -v op="$3" 'BEGIN {exit !((op == "<=") ? v <= l : v >= l)}' || { verdict=FAIL; failed=1; }
  printf '  %-44s %12.4g  (gate %s %s)  %s\n' "$1" "$2" "$3" "$4" "$verdict"
}

echo "== campaign throughput: $seeds seeds x $ops ops, one thread, median of $runs (hyperfine)"
json_profiles=()
for p in "${profiles[@]}"; do
  hyperfine --runs "$runs" --warmup 1 --style none --export-json "$build/bench-$p.json" \
    "$bslab campaign --profile $p --seeds $seeds --ops $ops --quiet" >/dev/null 2>"$build/bench-$p.err" ||
    { cat "$build/bench-$p.err" >&2; exit 2; }
  secs=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["results"][0]["median"])' "$build/bench-$p.json")
  rate=$(awk -v s="$secs" -v n=$((seeds * ops)) 'BEGIN {printf "%.0f", n / s}')
  printf '  %-8s %8s ops/s  (median %.3f s per run, process start included)\n' "$p" "$rate" "$secs"
  json_profiles+=("\"$p\": $rate")
done

echo "== sim clone of a 64 MiB file vs a read+write copy of it, median of $runs"
lines=$(for _ in $(seq "$runs"); do "$simb" clone apfs 64; done)
clone=$(field clone_s <<<"$lines" | median)
copy=$(field copy_s <<<"$lines" | median)
printf '  clone %.1f us, copy %.1f ms\n' "$(awk -v x="$clone" 'BEGIN {print x * 1e6}')" \
  "$(awk -v x="$copy" 'BEGIN {print x * 1e3}')"
speedup=$(awk -v a="$copy" -v b="$clone" 'BEGIN {print a / b}')
gate "copy time / clone time" "$speedup" ">=" 100

echo "== heap growth of 100 clones of a 64 MiB file"
grow=$("$simb" clone-mem apfs 64 100 | field heap_growth_bytes)
mem_ratio=$(awk -v g="$grow" 'BEGIN {print g / (64 * 1048576)}')
printf '  %d bytes\n' "$grow"
gate "heap growth of 100 clones / file size" "$mem_ratio" "<=" 0.01

echo "== snapshot of 10 000 files vs creating them, median of $runs"
snap_ratios=()
for p in apfs btrfs; do
  lines=$(for _ in $(seq "$runs"); do "$simb" snapshot "$p" 10000; done)
  create=$(field create_s <<<"$lines" | median)
  snap=$(field snapshot_s <<<"$lines" | median)
  printf '  %-6s create %.1f ms, snapshot %.2f ms\n' "$p" "$(awk -v x="$create" 'BEGIN {print x * 1e3}')" \
    "$(awk -v x="$snap" 'BEGIN {print x * 1e3}')"
  r=$(awk -v a="$snap" -v b="$create" 'BEGIN {print a / b}')
  gate "$p snapshot time / create time" "$r" "<=" 0.5
  snap_ratios+=("\"$p\": $r")
done

bench/real_clone.sh "$build" "$build/bench-real.json" || failed=1
bench/real_snapshot.sh "$build" "$build/bench-real-snapshot.json" || failed=1
bench/real_threads.sh "$build" "$build/bench-real-threads.json" || failed=1
bench/real_overlay.sh "$build" "$build/bench-real-overlay.json" || failed=1
bench/ramdisk_cycle.sh "$build" 320 "$build/bench-ramdisk.json" || failed=1

{
  printf '{\n  "campaign_ops_per_sec": {%s},\n' "$(IFS=,; echo "${json_profiles[*]}")"
  printf '  "clone_speedup_64mib": %s,\n  "clone_heap_ratio": %s,\n' "$speedup" "$mem_ratio"
  printf '  "snapshot_over_create_10k": {%s},\n' "$(IFS=,; echo "${snap_ratios[*]}")"
  printf '  %s,\n' "$(cat "$build/bench-real.json")"
  printf '  %s,\n' "$(cat "$build/bench-real-snapshot.json")"
  printf '  %s,\n' "$(cat "$build/bench-real-threads.json")"
  printf '  %s,\n' "$(cat "$build/bench-real-overlay.json")"
  printf '  %s}\n' "$(cat "$build/bench-ramdisk.json")"
} >"$out"
echo "results: $out"
[ $failed -eq 0 ] && echo "bench: all gates passed" || echo "bench: a gate FAILED"
exit $failed
