#!/usr/bin/env bash
# RAM-disk cycle (docs/ramdisk.md): create + mount + destroy per fs with
# `bslab ramdisk`, against a shell script doing the same steps by hand on the
# same machine in the same run (a sparse file in /dev/shm, `losetup -f
# --show`, mkfs, mount, umount, `losetup -d`; tmpfs: mount, umount), with
# hyperfine.  Both sides are a sh script (ours: `bslab ramdisk create`, then
# `bslab ramdisk destroy`), so the ratio compares the steps.  Also the memory a RAM disk costs: Shmem of
# /proc/meminfo before anything is written and after writing 100 MiB.
#
#   bench/ramdisk_cycle.sh BUILD_DIR [SIZE_MB [RESULTS_JSON_FRAGMENT]]
#   (root and /dev/loop-control, else skipped; RUNS=N, default 10)
#
# Prints one line per fs: both medians, their ratio; exit 1 when a gate fails
# (ratio <= 1.0 and < 2 s for btrfs, xfs, ext4).  make bench runs it
# (bench/run.sh); the fragment (default BUILD_DIR/bench-ramdisk.json) has
# the medians and ratios.  tmpfs has no gate here:
# its cycle is two process starts on both sides; the in-process cycle (the
# issue's tmpfs <= 5 ms) is what test_ramdisk's ramdisk_cycle_time_per_fs
# prints (not gated: a timed assertion does not belong in make check).
set -euo pipefail

build=${1:-build}
size=${2:-320}
frag=${3:-$build/bench-ramdisk.json}
runs=${RUNS:-10}
bslab=$(cd "$build" && pwd)/bslab
if [ "$(id -u)" -ne 0 ] || [ ! -e /dev/loop-control ]; then
  echo "  RAM-disk cycle benchmark: skipped (needs root and /dev/loop-control)"
  echo '"ramdisk_cycle": "skipped"' >"$frag"
  exit 0
fi
command -v hyperfine >/dev/null || { echo "ramdisk_cycle: hyperfine is missing" >&2; exit 2; }
work=$(mktemp -d /dev/shm/bs-rdbench.XXXXXX)
export BS_RAMDISK_DIR=$work/rt
cleanup() {
  "$bslab" ramdisk reap >/dev/null 2>&1 || true
  umount -l "$work"/mnt 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/mnt"

mkfs_args() {
  case $1 in
  btrfs) echo "mkfs.btrfs -q -f -K" ;;
  xfs) echo "mkfs.xfs -q -f -K -m reflink=1" ;;
  ext4) echo "mkfs.ext4 -q -F -E nodiscard,lazy_itable_init=0,lazy_journal_init=0" ;;
  esac
}

# The shell's cycle: the same steps by hand.
shell_cycle() {
  local fs=$1
  if [ "$fs" = tmpfs ]; then
    echo "mount -t tmpfs -o size=${size}m tmpfs $work/mnt && umount $work/mnt"
  else
    echo "truncate -s ${size}M $work/img && dev=\$(losetup -f --show $work/img) && $(mkfs_args "$fs") \$dev && mount \$dev $work/mnt && umount $work/mnt && losetup -d \$dev && rm -f $work/img"
  fi
}
ours_cycle() {
  echo "id=\$($bslab ramdisk create --fs $1 --size-mb $size --format json | sed 's/.*\"id\":\"\\([^\"]*\\)\".*/\\1/') && $bslab ramdisk destroy \$id"
}

failed=0
json=()
echo "== RAM-disk cycle (create + mount + destroy, ${size} MiB): bslab ramdisk vs the same steps by hand, median of $runs"
printf '%-6s %12s %12s %8s  %s\n' fs "ours(ms)" "shell(ms)" ratio gate
for fs in tmpfs btrfs xfs ext4; do
  [ "$fs" = xfs ] && [ "$size" -lt 300 ] && continue
  hf=$work/$fs.json
  ours_cycle "$fs" >"$work/ours-$fs.sh"
  shell_cycle "$fs" >"$work/shell-$fs.sh"
  hyperfine -N --style none --warmup 2 --runs "$runs" --export-json "$hf" \
    -n ours "sh $work/ours-$fs.sh" -n shell "sh $work/shell-$fs.sh" >/dev/null
  read -r ours shell < <(python3 -c "
import json,sys; r={x['command']:x['median'] for x in json.load(open('$hf'))['results']}
print(r['ours']*1000, r['shell']*1000)")
  ratio=$(awk -v a="$ours" -v b="$shell" 'BEGIN{printf "%.3f", a/b}')
  if [ "$fs" = tmpfs ]; then
    ok=info; g="(process starts; in-process: test_ramdisk)"
  else
    ok=$(awk -v r="$ratio" -v a="$ours" 'BEGIN{print (r <= 1.0 && a < 2000) ? "ok" : "FAIL"}'); g="ratio <= 1.0, < 2 s"
  fi
  [ "$ok" = FAIL ] && failed=1
  printf '%-6s %12.2f %12.2f %8s  %s %s\n' "$fs" "$ours" "$shell" "$ratio" "$g" "$ok"
  json+=("\"$fs\": {\"ours_ms\": $ours, \"shell_ms\": $shell, \"ratio\": $ratio}")
done

# Memory of a 1 GiB RAM disk: sparse backing, pages taken as written.
shmem() { awk '/^Shmem:/ {print $2}' /proc/meminfo; }
before=$(shmem)
info=$("$bslab" ramdisk create --fs ext4 --size-mb 1024 --format json)
mnt=$(echo "$info" | sed 's/.*"mount":"\([^"]*\)".*/\1/')
id=$(echo "$info" | sed 's/.*"id":"\([^"]*\)".*/\1/')
made=$(shmem)
dd if=/dev/urandom of="$mnt/data" bs=1M count=100 status=none conv=fsync
written=$(shmem)
"$bslab" ramdisk destroy "$id"
after=$(shmem)
echo "1 GiB ext4 RAM disk, Shmem: +$(( (made - before) / 1024 )) MiB once made, +$(( (written - before) / 1024 )) MiB after writing 100 MiB, $(( (after - before) / 1024 )) MiB after destroy"
printf '"ramdisk_cycle_%dmib": {%s, "shmem_mib_1gib_ext4": {"made": %d, "after_100mib": %d, "after_destroy": %d}}\n' \
  "$size" "$(IFS=,; echo "${json[*]}")" $(( (made - before) / 1024 )) $(( (written - before) / 1024 )) \
  $(( (after - before) / 1024 )) >"$frag"
exit $failed
