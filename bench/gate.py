#!/usr/bin/env python3
"""The regression gate (docs/bench.md): instruction counts and A/B timings.

  gate.py measure  --build DIR [--out FILE]   Ir of every in-process sim workload (JSON)
  gate.py compare  BASELINE NOW [--limit P]   table; exit 1 if a count grew > P (0.05)
  gate.py baseline --build DIR [--out FILE]   measure, and rewrite the baseline file
  gate.py ab --base DIR --cand DIR [--rounds N] [--out FILE]
                                              real-volume timings, baseline build vs
                                              candidate, interleaved hyperfine rounds;
                                              exit 1 if a ratio of medians is worse
                                              than 1.05 with 95 % confidence
  gate.py self-test                           the decision logic on synthetic data

Instruction counts (valgrind callgrind, "Ir") of a deterministic program on
the sim are the same on every run, so a +5 % change is a real change and
noise cannot fail the gate.  Real-volume timings are not: they are compared
A/B in one run on the same volumes, and gated on a bootstrap confidence
interval of the ratio of medians.  Exit status: 0 pass, 1 regression,
2 usage or environment error.
"""
import argparse
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

LIMIT = 0.05          # a count may grow by at most this fraction
AB_LIMIT = 1.05       # a timing ratio (candidate / baseline) worse than this, with confidence, fails
PROFILES = ["apfs", "hfs", "btrfs", "xfs", "ext4", "tmpfs"]
CAMPAIGN_OPS = 300


def die(msg, code=2):
    print(f"gate: {msg}", file=sys.stderr)
    sys.exit(code)


# ---- instruction counts -------------------------------------------------------

def workloads(build, tmp):
    """(name, argv, function to count in or None for the whole program)."""
    bslab, simb = os.path.join(build, "bslab"), os.path.join(build, "sim_bench")
    w = []
    for p in PROFILES:
        w.append((f"campaign-{p}", [bslab, "campaign", "--profile", p, "--seed", "1", "--ops",
                                     str(CAMPAIGN_OPS), "--quiet"], None))
    w.append(("clone-64mib", [simb, "clone", "apfs", "64"], "bs_reflink"))
    w.append(("snapshot-10000-files", [simb, "snapshot", "apfs", "10000"], "bs_snapshot_create"))
    w.append(("trace-replay", [bslab, "replay", os.path.join(tmp, "pass", "apfs-seed-1.trace")], None))
    w.append(("shrink", [bslab, "shrink", "--quiet", os.path.join(tmp, "fail", "apfs-seed-1.trace"),
                         "-o", os.path.join(tmp, "min.trace")], None))
    w.append(("ssz-encode-decode", [simb, "ssz", "20000"], None))
    return w


def prepare_traces(build, tmp):
    """A passing trace to replay and a failing one to shrink, made by this build."""
    bslab = os.path.join(build, "bslab")
    subprocess.run([bslab, "campaign", "--profile", "apfs", "--seed", "1", "--ops", str(CAMPAIGN_OPS),
                    "--quiet", "--trace-all", "--trace-dir", os.path.join(tmp, "pass")],
                   check=True, stdout=subprocess.DEVNULL)
    r = subprocess.run([bslab, "campaign", "--profile", "apfs", "--seed", "1", "--ops", "200", "--quiet",
                        "--sim-bug", "leak-block", "--trace-dir", os.path.join(tmp, "fail")],
                       stdout=subprocess.DEVNULL)
    if r.returncode != 1:
        die("the leak-block campaign did not fail: no trace to shrink")


def parse_callgrind(text):
    """Total Ir of a callgrind output file ("summary:" or "totals:" line)."""
    for key in ("summary:", "totals:"):
        m = re.search(r"^" + key + r"\s+(\d+)", text, re.M)
        if m:
            return int(m.group(1))
    raise ValueError("no summary line in callgrind output")


def count_ir(argv, toggle, tmp):
    out = os.path.join(tmp, "cg.out")
    cmd = ["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out]
    if toggle:
        cmd.append("--toggle-collect=" + toggle)
    # A fixed environment: the stack's start (and so a few instructions) depends on it.
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C"}
    r = subprocess.run(cmd + argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=tmp)
    if r.returncode == 2 and b"usage" in r.stderr:
        return None  # an older build without this workload (main before it existed)
    if r.returncode not in (0, 1):
        die(f"{' '.join(argv)} failed under valgrind:\n{r.stderr.decode(errors='replace')[-2000:]}")
    with open(out) as f:
        return parse_callgrind(f.read())


def measure(build):
    if not shutil.which("valgrind"):
        die("valgrind is missing (make deps)")
    for exe in ("bslab", "sim_bench"):
        if not os.access(os.path.join(build, exe), os.X_OK):
            die(f"build {build}/{exe} first")
    build = os.path.abspath(build)
    with tempfile.TemporaryDirectory(prefix="bs-gate-") as tmp:
        prepare_traces(build, tmp)
        ir = {}
        for name, argv, toggle in workloads(build, tmp):
            n = count_ir(argv, toggle, tmp)
            if n is None:
                print(f"  {name:24} {'(not in this build)':>15}", file=sys.stderr)
                continue
            ir[name] = n
            print(f"  {name:24} {n:>15,} Ir", file=sys.stderr)
    return {"version": 1, "tool": "valgrind callgrind Ir", "campaign_ops": CAMPAIGN_OPS, "ir": ir}


def compare(base, now, limit=LIMIT):
    """Rows (name, baseline, now, change or None, verdict) and whether all passed."""
    rows, ok = [], True
    for name in sorted(set(base["ir"]) | set(now["ir"])):
        b, n = base["ir"].get(name), now["ir"].get(name)
        if b is None:
            rows.append((name, None, n, None, "new (not gated)"))
            continue
        if n is None:
            rows.append((name, b, None, None, "MISSING"))
            ok = False
            continue
        change = n / b - 1 if b else (0.0 if n == 0 else float("inf"))
        verdict = "ok" if change <= limit + 1e-12 else "FAIL"  # exactly +limit passes
        ok = ok and verdict == "ok"
        rows.append((name, b, n, change, verdict))
    return rows, ok


def table(rows, limit=LIMIT):
    out = [f"{'name':26} {'baseline':>15} {'now':>15} {'change':>9}  verdict (gate: +{limit:.0%})"]
    for name, b, n, ch, v in rows:
        fb = f"{b:,}" if b is not None else "-"
        fn = f"{n:,}" if n is not None else "-"
        fc = f"{ch:+.2%}" if ch is not None else "-"
        out.append(f"{name:26} {fb:>15} {fn:>15} {fc:>9}  {v}")
    return "\n".join(out)


# ---- A/B timings --------------------------------------------------------------

def ratio_ci(base, cand, resamples=2000, seed=1):
    """Ratio of medians cand/base and its 95 % bootstrap interval (seeded: repeatable)."""
    rng = random.Random(seed)
    r = statistics.median(cand) / statistics.median(base)
    boot = sorted(statistics.median(rng.choices(cand, k=len(cand))) /
                  statistics.median(rng.choices(base, k=len(base))) for _ in range(resamples))
    return r, boot[int(0.025 * resamples)], boot[int(0.975 * resamples) - 1]


def ab_verdict(base, cand, limit=AB_LIMIT):
    """Worse than @limit only when the whole interval is above it."""
    r, lo, hi = ratio_ci(base, cand)
    return r, lo, hi, ("FAIL" if lo > limit else "ok")


def volctl(build, *args):
    r = subprocess.run([os.path.join(build, "plain", "tests", "volctl"), *args], capture_output=True, text=True)
    if r.returncode != 0:
        die(f"volctl {' '.join(args)}: {r.stderr.strip()}")
    return r.stdout.splitlines()


def fill_tree(root, n):
    """@n small files, 100 per directory, under @root (the snapshot case's tree)."""
    for i in range(n):
        d = os.path.join(root, "d%03d" % (i // 100))
        if i % 100 == 0:
            os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "f%03d" % (i % 100)), "w") as f:
            f.write(("file %d\n" % i) * 32)


def ab_cases(base_build, cand_build, mnt, work):
    """name -> (prepare command, command of a build dir).  Each case's state is
    set up here; both builds run the same commands on the same volume."""
    b0 = os.path.abspath(cand_build)
    # A 64 MiB clone on btrfs.
    with open(os.path.join(mnt, "src"), "wb") as f:
        f.write(os.urandom(64 << 20))
    cases = {"real-clone-64mib-btrfs": (f"rm -f {mnt}/dst",
                                        lambda b: f"{b}/bslab clone --backend real {mnt}/src {mnt}/dst")}
    # A native snapshot of 2000 small files on btrfs (bench/real_snapshot.sh
    # times 10 000 against the fs tool): the prepare deletes the last one.
    store = os.path.join(mnt, "store")
    real = f"--backend real --root {store}"
    subprocess.run([os.path.join(b0, "bslab"), "init", *real.split()], check=True, stdout=subprocess.DEVNULL)
    fill_tree(store, 2000)
    os.sync()
    cases["real-snapshot-2000-files-btrfs"] = (
        f"sh -c '{b0}/bslab snapshot delete {real} ab >/dev/null 2>&1 || true'",
        lambda b: f"{b}/bslab snapshot create {real} ab")
    # The RAM-disk cycle (bench/ramdisk_cycle.sh): create, mount, destroy.
    for fs in ("tmpfs", "btrfs"):
        for label, b in (("base", base_build), ("cand", cand_build)):
            b = os.path.abspath(b)
            with open(os.path.join(work, f"ramdisk-{fs}-{label}.sh"), "w") as f:
                f.write(f"id=$({b}/bslab ramdisk create --fs {fs} --size-mb 320 --format json | "
                        f"sed 's/.*\"id\":\"\\([^\"]*\\)\".*/\\1/') && {b}/bslab ramdisk destroy \"$id\"\n")
        cases[f"ramdisk-cycle-{fs}"] = (
            "true", lambda b, fs=fs: "sh " + os.path.join(
                work, f"ramdisk-{fs}-{'base' if b == os.path.abspath(base_build) else 'cand'}.sh"))
    return cases


def ab(base_build, cand_build, rounds, runs):
    if os.geteuid() != 0 or not os.path.exists("/dev/loop-control"):
        print("  A/B real-volume timings: skipped (needs root and /dev/loop-control)")
        return {"skipped": True}, True
    if not shutil.which("hyperfine"):
        die("hyperfine is missing (make deps)")
    results, ok, made = {}, True, []
    work = tempfile.mkdtemp(prefix="bs-ab.", dir="/dev/shm")
    env_was = os.environ.get("BS_RAMDISK_DIR")
    os.environ["BS_RAMDISK_DIR"] = os.path.join(work, "rt")  # RAM disks of this run only
    try:
        lines = volctl(cand_build, "create", "btrfs", "512", "--owner", str(os.getpid()))
        made.append(lines[0])
        mnt = lines[1]
        cases = ab_cases(base_build, cand_build, mnt, work)
        for name, (prep, cmd) in cases.items():
            times = {"base": [], "cand": []}
            for i in range(rounds):
                order = [("base", base_build), ("cand", cand_build)]
                if i % 2:
                    order.reverse()  # interleaved, and neither always first
                with tempfile.NamedTemporaryFile(suffix=".json") as js:
                    argv = ["hyperfine", "-N", "--runs", str(runs), "--style", "none", "--prepare", prep,
                            "--export-json", js.name]
                    for label, b in order:
                        argv += ["-n", label, cmd(os.path.abspath(b))]
                    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                    for res in json.load(open(js.name))["results"]:
                        times[res["command"]] += res["times"]
            r, lo, hi, v = ab_verdict(times["base"], times["cand"])
            ok = ok and v == "ok"
            results[name] = {"base_median_s": statistics.median(times["base"]),
                             "cand_median_s": statistics.median(times["cand"]), "ratio": r,
                             "ci95": [lo, hi], "samples": len(times["base"]), "verdict": v}
            print(f"  {name:30} ratio {r:.3f}  95% CI [{lo:.3f}, {hi:.3f}]  (fail if CI > {AB_LIMIT})  {v}")
    finally:
        subprocess.run([os.path.join(cand_build, "bslab"), "ramdisk", "reap"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for d in made:
            subprocess.run([os.path.join(cand_build, "plain", "tests", "volctl"), "destroy", d],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(work, ignore_errors=True)
        if env_was is None:
            os.environ.pop("BS_RAMDISK_DIR", None)
        else:
            os.environ["BS_RAMDISK_DIR"] = env_was
    return results, ok


# ---- self-test ------------------------------------------------------------------

def self_test():
    base = {"ir": {"a": 1000000, "b": 2000000, "gone": 5}}
    rows, ok = compare(base, {"ir": {"a": 1049999, "b": 1500000, "gone": 5}})
    assert ok, "+4.99 % and an improvement must pass"
    rows, ok = compare(base, {"ir": {"a": 1050001, "b": 2000000, "gone": 5}})
    assert not ok and rows[0][4] == "FAIL", "+5.0001 % must fail"
    rows, ok = compare(base, {"ir": {"a": 1000000, "b": 2000000}})
    assert not ok, "a workload that disappeared must fail"
    rows, ok = compare(base, {"ir": {"a": 1000000, "b": 2000000, "gone": 5, "new": 7}})
    assert ok and any(r[0] == "new" for r in rows), "a new workload is reported, not gated"
    assert "+4.99%" in table(compare(base, {"ir": {"a": 1049900, "b": 2000000, "gone": 5}})[0])
    assert parse_callgrind("events: Ir\nsummary: 12345\n") == 12345
    assert parse_callgrind("events: Ir\ntotals: 99\n") == 99
    rng = random.Random(7)
    noise = [1.0 + rng.gauss(0, 0.03) for _ in range(40)]
    same = [1.0 + rng.gauss(0, 0.03) for _ in range(40)]
    slow = [1.10 + rng.gauss(0, 0.03) for _ in range(40)]
    assert ab_verdict(noise, same)[3] == "ok", "noise alone must pass"
    assert ab_verdict(noise, slow)[3] == "FAIL", "a 10 % slowdown must fail"
    wide = [1.0 + rng.gauss(0, 0.5) for _ in range(5)]
    assert ab_verdict(wide, [x * 1.06 for x in wide])[3] == "ok", "no confidence: no failure"
    print("gate self-test: passed")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("measure"); m.add_argument("--build", default="build"); m.add_argument("--out")
    b = sub.add_parser("baseline"); b.add_argument("--build", default="build")
    b.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "baseline.json"))
    c = sub.add_parser("compare"); c.add_argument("baseline"); c.add_argument("now")
    c.add_argument("--limit", type=float, default=LIMIT); c.add_argument("--table")
    a = sub.add_parser("ab"); a.add_argument("--base", required=True); a.add_argument("--cand", required=True)
    a.add_argument("--rounds", type=int, default=6); a.add_argument("--runs", type=int, default=5)
    a.add_argument("--out")
    sub.add_parser("self-test")
    args = ap.parse_args()
    if args.cmd == "self-test":
        self_test()
    elif args.cmd in ("measure", "baseline"):
        res = measure(args.build)
        text = json.dumps(res, indent=2, sort_keys=True) + "\n"
        if args.out:
            with open(args.out, "w") as f:
                f.write(text)
        else:
            sys.stdout.write(text)
    elif args.cmd == "compare":
        base, now = json.load(open(args.baseline)), json.load(open(args.now))
        rows, ok = compare(base, now, args.limit)
        t = table(rows, args.limit)
        print(t)
        if args.table:
            with open(args.table, "w") as f:
                f.write(t + "\n")
        print("bench-gate: " + ("passed" if ok else "FAILED: an instruction count grew by more than "
                                 f"{args.limit:.0%}"))
        sys.exit(0 if ok else 1)
    elif args.cmd == "ab":
        res, ok = ab(args.base, args.cand, args.rounds, args.runs)
        if args.out:
            with open(args.out, "w") as f:
                json.dump(res, f, indent=2, sort_keys=True)
        print("A/B: " + ("passed" if ok else f"FAILED: a timing ratio is worse than {AB_LIMIT} with confidence"))
        sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
