#!/usr/bin/env bash
# make bench, threads: two threads on one real btrfs store against one
# thread, for clones of two different 256 MiB files and for reads of them
# (bench/threads_bench.c), each against the bare syscalls in the same run.
#
#   bench/real_threads.sh BUILD_DIR [RESULTS_JSON_FRAGMENT]
#   BENCH_RUNS=N   repeats; medians are reported (default 7)
#
# Gates: the store's two-thread speedup / the syscalls' >= 0.75, for reads
# (the page cache lets two readers run at once: a store-wide lock would show
# as a ratio near 0.5) and for clones (btrfs takes clones in one subvolume
# one at a time, so both speedups are near 1).  Exit 1 on a failed gate, 2
# when the volume cannot be made.
set -euo pipefail

build=${1:-build}
frag=${2:-$build/bench-real-threads.json}
runs=${BENCH_RUNS:-7}
volctl=$build/plain/tests/volctl
tb=$build/threads_bench
failed=0

[ -x "$volctl" ] && [ -x "$tb" ] || { echo "bench: build $volctl and $tb first" >&2; exit 2; }
if [ "$(id -u)" -ne 0 ] || [ ! -e /dev/loop-control ]; then
  echo "  threads benchmark: skipped (needs root and /dev/loop-control)"
  echo '"real_threads": "skipped"' >"$frag"
  exit 0
fi
dir=
cleanup() { [ -z "$dir" ] || "$volctl" destroy "$dir" >/dev/null 2>&1 || true; }
trap cleanup EXIT
out=$("$volctl" create btrfs 1400 --owner $$)
dir=$(sed -n 1p <<<"$out")
mnt=$(sed -n 2p <<<"$out")

echo "== two threads vs one on one btrfs store, 256 MiB files, median of $runs (store vs bare syscalls)"
json=()
for w in read clone; do
  rm -rf "$mnt/ws" && mkdir "$mnt/ws"
  rounds=$([ "$w" = read ] && echo 50 || echo 1000)
  line=$("$tb" "$w" "$mnt/ws" 256 "$rounds" "$runs") || exit 2
  read -r _ store _ sys _ ratio <<<"$line"
  verdict=ok
  awk -v r="$ratio" 'BEGIN {exit !(r >= 0.75)}' || { verdict=FAIL; failed=1; }
  printf '  %-6s store speedup %.2f, syscall speedup %.2f\n' "$w" "$store" "$sys"
  printf '  %-44s %12.4g  (gate >= 0.75)  %s\n' "$w: store speedup / syscall speedup" "$ratio" "$verdict"
  json+=("\"$w\": {\"store_speedup\": $store, \"syscall_speedup\": $sys, \"ratio\": $ratio}")
done
printf '"real_threads": {%s}\n' "$(IFS=,; echo "${json[*]}")" >"$frag"
exit $failed
