#!/usr/bin/env bash
# Calibrate the sim's latency model (docs/sim.md, "Calibration"): make a fresh
# btrfs, xfs, ext4 and tmpfs volume with tests/volctl and run
# `bslab calibrate` on each; prints each one's table and the LAT(...) line
# for sim/profile.c.
#
#   bench/calibrate.sh [BUILD_DIR] [BSLAB CALIBRATE ARGS...]   e.g. --ops 400
#   CALIBRATE_FS="btrfs xfs"   only these filesystems (default: all four)
#
# Needs root and /dev/loop-control (exit 2 otherwise).  Volumes are owned by
# this shell (reaped if it dies) and destroyed at exit.
set -uo pipefail

build=${1:-build}
shift || true
volctl=$build/plain/tests/volctl
bslab=$build/bslab
[ -x "$volctl" ] && [ -x "$bslab" ] || { echo "calibrate: build $volctl and $bslab first" >&2; exit 2; }
if [ "$(id -u)" -ne 0 ] || [ ! -e /dev/loop-control ]; then
  echo "calibrate: needs root and /dev/loop-control" >&2
  exit 2
fi

dirs=()
cleanup() { for d in "${dirs[@]}"; do "$volctl" destroy "$d" >/dev/null 2>&1 || true; done; }
trap cleanup EXIT

status=0
for fs in ${CALIBRATE_FS:-btrfs xfs ext4 tmpfs}; do
  out=$("$volctl" create "$fs" --owner $$) || { echo "calibrate: cannot make a $fs volume" >&2; status=2; continue; }
  dirs+=("$(sed -n 1p <<<"$out")")
  "$bslab" calibrate --root "$(sed -n 2p <<<"$out")" "$@" || status=2
done
exit $status
