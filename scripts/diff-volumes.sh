#!/usr/bin/env bash
# Differential runs (docs/diff.md) on fresh btrfs, xfs, ext4 and tmpfs volumes:
# `bslab diff` with the same arguments on each.  Used by `make campaign`.
#
#   scripts/diff-volumes.sh BUILD_DIR [BSLAB DIFF ARGS...]
#   DIFF_FS="btrfs xfs"   only these filesystems (default: all four)
#
# Volumes come from tests/volctl, owned by this shell (reaped if it dies) and
# destroyed at exit.  Exit 1 if any run diverged, 2 if one could not run;
# without root or loop devices the runs are skipped (exit 0, with a line).
set -uo pipefail

build=${1:-build}
shift || true
[ "$(uname -s)" = Linux ] || { echo "diff: skipped (real volumes are made on Linux only)"; exit 0; }
volctl=$build/plain/tests/volctl
bslab=$build/bslab
[ -x "$volctl" ] && [ -x "$bslab" ] || { echo "diff-volumes: build $volctl and $bslab first" >&2; exit 2; }
if [ "$(id -u)" -ne 0 ] || [ ! -e /dev/loop-control ]; then
  echo "diff: skipped (real volumes need root and /dev/loop-control)"
  exit 0
fi

dirs=()
cleanup() { for d in "${dirs[@]}"; do "$volctl" destroy "$d" >/dev/null 2>&1 || true; done; }
trap cleanup EXIT

status=0
for fs in ${DIFF_FS:-btrfs xfs ext4 tmpfs}; do
  out=$("$volctl" create "$fs" --owner $$) || { echo "diff: cannot make a $fs volume" >&2; status=2; continue; }
  dirs+=("$(sed -n 1p <<<"$out")")
  mnt=$(sed -n 2p <<<"$out")
  "$bslab" diff --profile "$fs" --root "$mnt" "$@"
  rc=$?
  if [ $rc -gt $status ]; then status=$rc; fi
done
exit $status
