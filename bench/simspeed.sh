#!/usr/bin/env bash
# The simulation's speed-up, side by side in one run (issue 15, "a 10x faster
# simulation"): a build of an older commit (BEFORE) against this one (NOW),
# per profile: instructions per operation (callgrind, exactly repeatable),
# ops/s (hyperfine -N, both commands in the same hyperfine run), and the
# digests of every seed, which must be equal.
#
#   bench/simspeed.sh BEFORE_BUILD NOW_BUILD
#   SIMSPEED_PROFILES="apfs btrfs ..."  (default: all six)
#   SIMSPEED_RUNS=N     hyperfine runs (default 5)
#   SIMSPEED_IR_SEEDS=N, SIMSPEED_IR_OPS=N  the callgrind campaign (default 2 x 2000)
#   SIMSPEED_SEEDS=N, SIMSPEED_OPS=N        the timed campaign (default 4 x 2000)
#
# Build the older commit in a scratch worktree first, for example:
#   git worktree add --detach /tmp/before df6e69b && make -C /tmp/before -j2 build/bslab
#   bench/simspeed.sh /tmp/before/build build
# (df6e69b: the last main commit before issue 15's incremental check.)
# Exit 1 if a digest differs, 2 on a usage or environment error.
set -euo pipefail

[ $# -eq 2 ] || { sed -n '2,20p' "$0" >&2; exit 2; }
before=$1/bslab now=$2/bslab
[ -x "$before" ] && [ -x "$now" ] || { echo "simspeed: build $before and $now first" >&2; exit 2; }
command -v valgrind >/dev/null || { echo "simspeed: valgrind is missing (make deps)" >&2; exit 2; }
command -v hyperfine >/dev/null || { echo "simspeed: hyperfine is missing (make deps)" >&2; exit 2; }
profiles=${SIMSPEED_PROFILES:-apfs btrfs xfs hfs ext4 tmpfs}
runs=${SIMSPEED_RUNS:-5}
ir_seeds=${SIMSPEED_IR_SEEDS:-2} ir_ops=${SIMSPEED_IR_OPS:-2000}
seeds=${SIMSPEED_SEEDS:-4} ops=${SIMSPEED_OPS:-2000}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

ir() { # ir BSLAB PROFILE: Ir of the whole campaign
  valgrind --tool=callgrind --callgrind-out-file=/dev/null "$1" campaign --profile "$2" \
    --seeds "$ir_seeds" --ops "$ir_ops" --quiet 2>&1 | sed -n 's/.*Collected : //p'
}

failed=0
printf '%-6s %14s %14s %8s %12s %12s %8s  %s\n' profile "Ir/op before" "Ir/op now" "Ir x" \
  "ops/s before" "ops/s now" "ops/s x" digests
for p in $profiles; do
  ib=$(ir "$before" "$p") in=$(ir "$now" "$p")
  n=$((ir_seeds * ir_ops))
  hyperfine -N --style none --runs "$runs" --export-json "$tmp/$p.json" \
    -n before "$before campaign --profile $p --seeds $seeds --ops $ops --quiet" \
    -n now "$now campaign --profile $p --seeds $seeds --ops $ops --quiet" >/dev/null 2>&1
  read -r sb sn < <(python3 -c '
import json, sys
r = {x["command"]: x["median"] for x in json.load(open(sys.argv[1]))["results"]}
print(r["before"], r["now"])' "$tmp/$p.json")
  "$before" campaign --profile "$p" --seeds "$seeds" --ops "$ops" --digest --quiet | grep digest >"$tmp/db"
  "$now" campaign --profile "$p" --seeds "$seeds" --ops "$ops" --digest --quiet | grep digest >"$tmp/dn"
  if cmp -s "$tmp/db" "$tmp/dn" && [ -s "$tmp/dn" ]; then same="equal ($(wc -l <"$tmp/dn") seeds)"; else same=DIFFER; failed=1; fi
  awk -v p="$p" -v ib="$ib" -v in_="$in" -v n="$n" -v sb="$sb" -v sn="$sn" -v k=$((seeds * ops)) -v d="$same" \
    'BEGIN {printf "%-6s %14.0f %14.0f %7.2fx %12.0f %12.0f %7.2fx  %s\n", p, ib / n, in_ / n, ib / in_,
            k / sb, k / sn, sb / sn, d}'
done
exit $failed
