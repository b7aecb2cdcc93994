#!/usr/bin/env bash
# bslab mount against tmpfs (docs/mount.md, "Speed"): the same workload, in
# the same run, on a sim volume mounted through FUSE and on a fresh tmpfs.
# Metadata: 2000 creates, 2000 stats, 2000 unlinks (ops/s); data: a 64 MiB
# file written and fsynced, then read (MB/s).  Reported only; no gate.
#   bench/mount.sh [PROFILE]     (default apfs; needs root and /dev/fuse)
set -euo pipefail
profile=${1:-apfs}
bslab=${BSLAB:-build/bslab}
work=$(mktemp -d /tmp/bslab-mount-bench-XXXXXX)
cleanup() {
  fusermount3 -u "$work/sim" 2>/dev/null || true
  umount "$work/tmpfs" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
mkdir "$work/sim" "$work/tmpfs"
"$bslab" mount --profile "$profile" "$work/sim"
mount -t tmpfs -o size=256m bslab-bench "$work/tmpfs"
for d in "$work/sim" "$work/tmpfs"; do
  python3 - "$d" "$( [ "$d" = "$work/sim" ] && echo "bslab mount ($profile)" || echo tmpfs)" <<'PY'
import os, sys, time
d, name, n = sys.argv[1], sys.argv[2], 2000
t = time.monotonic()
for i in range(n): os.close(os.open(f"{d}/f{i}", os.O_CREAT | os.O_WRONLY, 0o644))
for i in range(n): os.stat(f"{d}/f{i}")
for i in range(n): os.unlink(f"{d}/f{i}")
meta = 3 * n / (time.monotonic() - t)
buf = b"x" * (1 << 20)
t = time.monotonic()
with open(f"{d}/big", "wb") as f:
    for _ in range(64): f.write(buf)
    f.flush(); os.fsync(f.fileno())
w = 64 / (time.monotonic() - t)
t = time.monotonic()
with open(f"{d}/big", "rb") as f:
    while f.read(1 << 20): pass
r = 64 / (time.monotonic() - t)
os.unlink(f"{d}/big")
print(f"{name:24s} metadata {meta:8.0f} ops/s   write {w:6.0f} MB/s   read {r:6.0f} MB/s")
PY
done
