#!/usr/bin/env bash
# make bench, real part: snapshot a tree of 10 000 small files on real volumes
# with `bslab snapshot create --backend real`, against the filesystem's own
# tool on the same tree in the same run:
#   btrfs  native subvolume snapshot  vs  btrfs subvolume snapshot -r
#   xfs    reflink-tree fallback      vs  cp -a --reflink=always
# and, without a gate, the delete (which waits until the space is free) vs
# `btrfs subvolume delete -c` + `btrfs subvolume sync` / `rm -rf` + sync.
#
#   bench/real_snapshot.sh BUILD_DIR [RESULTS_JSON_FRAGMENT]
#   BENCH_SNAP_RUNS=N   runs per measurement (default 10; hyperfine medians)
#   BENCH_SNAP_FILES=N  files in the tree (default 10000, 100 per directory)
#
# Each run snapshots the same unchanged tree; hyperfine's --prepare removes
# the previous run's snapshot (and waits for btrfs' cleaner) outside the
# timing.  Ours includes what the product does on top of the tree: the
# registry's lock, its atomic rewrite and fsyncs.  Gates: our median / the
# tool's median <= 2.0 on btrfs, <= 1.5 on xfs.  Exit 1 on a failed gate, 2
# when a tool is missing.
set -euo pipefail

build=${1:-build}
frag=${2:-$build/bench-real-snapshot.json}
runs=${BENCH_SNAP_RUNS:-10}
files=${BENCH_SNAP_FILES:-10000}
volctl=$build/plain/tests/volctl
bslab=$build/bslab
failed=0

[ -x "$volctl" ] && [ -x "$bslab" ] || { echo "bench: build $volctl and $bslab first" >&2; exit 2; }
if [ "$(id -u)" -ne 0 ] || [ ! -e /dev/loop-control ]; then
  echo "  real snapshot benchmark: skipped (needs root and /dev/loop-control)"
  echo '"real_snapshot": "skipped"' >"$frag"
  exit 0
fi
command -v btrfs >/dev/null || { echo "bench: btrfs-progs is missing (make deps)" >&2; exit 2; }

dirs=()
cleanup() { for d in "${dirs[@]}"; do "$volctl" destroy "$d" >/dev/null 2>&1 || true; done; }
trap cleanup EXIT

# fill DIR: FILES small files, 100 per directory, each a few hundred bytes.
fill() {
  python3 - "$1" "$files" <<'EOF'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    d = os.path.join(root, "d%03d" % (i // 100))
    if i % 100 == 0:
        os.mkdir(d)
    with open(os.path.join(d, "f%03d" % (i % 100)), "w") as f:
        f.write(("file %d\n" % i) * 32)
EOF
}

ms() { awk -v x="$1" 'BEGIN {printf "%.2f", x * 1e3}'; }

# measure FS NAME: hyperfine over the two commands set up by the caller in
# ours/ref/prep_ours/prep_ref; sets $ours_s and $ref_s (median seconds).
measure() {
  local json=$build/bench-snap-$1-$2.json
  hyperfine -N --runs "$runs" --warmup 1 --style none --export-json "$json" \
    --prepare "$prep_ours" -n ours "$ours" --prepare "$prep_ref" -n ref "$ref" \
    >/dev/null 2>"$json.err" || { cat "$json.err" >&2; exit 2; }
  read -r ours_s ref_s < <(python3 -c '
import json, sys
r = {x["command"]: x["median"] for x in json.load(open(sys.argv[1]))["results"]}
print(r["ours"], r["ref"])' "$json")
}

json=()
echo "== real snapshot of $files files: bslab snapshot create --backend real vs the fs tool, median of $runs"
for fs in btrfs xfs; do
  out=$("$volctl" create "$fs" 1024 --owner $$)
  dir=$(sed -n 1p <<<"$out")
  mnt=$(sed -n 2p <<<"$out")
  dirs+=("$dir")
  store=$mnt/store
  "$bslab" init --backend real --root "$store" >/dev/null
  fill "$store"
  sync
  real=(--backend real --root "$store")
  drop_ours="sh -c '$bslab snapshot delete ${real[*]} bench >/dev/null 2>&1 || true'"
  if [ "$fs" = btrfs ]; then
    tool="btrfs subvolume snapshot -r"
    drop_ref="sh -c '[ ! -e $mnt/ref ] || { btrfs subvolume delete -c $mnt/ref && btrfs subvolume sync $mnt; } >/dev/null'"
    ref="btrfs subvolume snapshot -r $store $mnt/ref"
    gate_max=2.0
  else
    tool="cp -a --reflink=always"
    drop_ref="sh -c 'rm -rf $mnt/ref && sync -f $mnt'"
    ref="cp -a --reflink=always $store $mnt/ref"
    gate_max=1.5
  fi
  ours="$bslab snapshot create ${real[*]} bench"
  prep_ours=$drop_ours prep_ref=$drop_ref
  measure "$fs" create
  c_ours=$ours_s c_ref=$ref_s
  ratio=$(awk -v a="$c_ours" -v b="$c_ref" 'BEGIN {print a / b}')
  printf '  %-6s bslab snapshot create %8s ms, %s %8s ms\n' "$fs" "$(ms "$c_ours")" "$tool" "$(ms "$c_ref")"
  verdict=ok
  awk -v r="$ratio" -v m="$gate_max" 'BEGIN {exit !(r <= m)}' || { verdict=FAIL; failed=1; }
  printf '  %-44s %12.4g  (gate <= %s)  %s\n' "$fs snapshot: bslab / $tool" "$ratio" "$gate_max" "$verdict"

  # Delete, each way until its space is free: prepare makes the snapshot.
  "$bslab" snapshot delete "${real[@]}" bench >/dev/null 2>&1 || true
  make_ours="$bslab snapshot create ${real[*]} bench"
  ours="$bslab snapshot delete ${real[*]} bench"
  if [ "$fs" = btrfs ]; then
    make_ref="sh -c '[ -e $mnt/ref ] || btrfs subvolume snapshot -r $store $mnt/ref >/dev/null'"
    ref="sh -c 'btrfs subvolume delete -c $mnt/ref >/dev/null && btrfs subvolume sync $mnt'"
  else
    make_ref="sh -c '[ -e $mnt/ref ] || cp -a --reflink=always $store $mnt/ref'"
    ref="sh -c 'rm -rf $mnt/ref && sync -f $mnt'"
  fi
  prep_ours=$make_ours prep_ref=$make_ref
  measure "$fs" delete
  printf '  %-6s bslab snapshot delete %8s ms, %s %8s ms  (no gate)\n' "$fs" "$(ms "$ours_s")" \
    "$([ "$fs" = btrfs ] && echo "subvolume delete -c + sync" || echo "rm -rf + sync -f")" "$(ms "$ref_s")"
  json+=("\"$fs\": {\"create_ms\": $(ms "$c_ours"), \"tool_create_ms\": $(ms "$c_ref"), \"create_ratio\": $ratio, \"delete_ms\": $(ms "$ours_s"), \"tool_delete_ms\": $(ms "$ref_s")}")
done
printf '"real_snapshot_%dfiles": {%s}\n' "$files" "$(IFS=,; echo "${json[*]}")" >"$frag"
exit $failed
