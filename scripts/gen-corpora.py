#!/usr/bin/env python3
"""Write the seed corpora of the wire-decoder fuzz targets (corpora/<target>/).

Seeds are the golden files plus hand-picked edge cases around every rule the
decoders enforce (docs/wire.md): valid messages at the limits, and the
smallest malformed variants (cut short, trailing byte, bad offset, boolean 2,
list over its limit, values outside the schema).  `make check` replays every
file under ASan+UBSan; `make fuzz` starts AFL++ from them.  Files are
named by content hash, so rerunning the script adds nothing twice.

Seeds of the snapreg target are registry files (src/snapreg.h), valid and
with one rule broken each.

Seeds of the names target are names around every rule of docs/names.md.

Seeds of the sim_image target are volume images made by driving bslab
(give --bslab): empty volumes of every profile, and volumes with files,
directories, clones, snapshots and branches.

    scripts/gen-corpora.py [--out corpora] [--bslab build/bslab]
"""
import argparse
import hashlib
import os
import struct
import subprocess
import tempfile

U32 = struct.Struct("<I")


def caps(fs_type=1, flags=(1, 1, 1, 0), max_name=255, name=b"apfs", version=1, offset=13):
    return struct.pack("<HB4BH", version, fs_type, *flags, max_name) + U32.pack(offset) + name


def error(code=1, eno=95, msg=b"snapshots are not supported on hfs", offset=10):
    return struct.pack("<HI", code, eno) + U32.pack(offset) + msg


def snapinfo(ident=1, uuid=bytes(range(16)), name=b"base", ro=1, branches=0, created=1700000000000000000,
             offset=41):
    return struct.pack("<Q", ident) + uuid + U32.pack(offset) + struct.pack("<BIQ", ro, branches, created) + name


def variants(valid, fixed, off_at, limit, bool_at):
    """The valid message and its smallest malformed neighbours."""
    out = [valid, valid[:-1], valid[:fixed - 1], valid + b"\x00", b"", valid[:fixed]]
    for bad_off in (fixed - 1, fixed + 1, 0, 0xFFFFFFFF, len(valid) + 1):
        out.append(valid[:off_at] + U32.pack(bad_off) + valid[off_at + 4:])
    if bool_at is not None:
        out.append(valid[:bool_at] + b"\x02" + valid[bool_at + 1:])
        out.append(valid[:bool_at] + b"\xff" + valid[bool_at + 1:])
    out.append(valid[:fixed] + b"A" * (limit + 1))
    out.append(valid[:fixed] + b"A" * limit)
    return out


def corpora():
    c = variants(caps(), 13, 9, 16, 3)
    for t, flags, name in [(2, (0, 0, 1, 0), b"hfs"), (3, (1, 1, 1, 1), b"btrfs"), (4, (0, 1, 1, 1), b"xfs"),
                           (5, (0, 0, 1, 1), b"ext4"), (6, (0, 0, 1, 1), b"tmpfs")]:
        c.append(caps(t, flags, name=name))
    c += [caps(version=2), caps(fs_type=7), caps(fs_type=0, name=b"other"), caps(name=b""),
          caps(name=b"ap\x00s"), caps(name=b"\x7f"), caps(max_name=0)]

    e = variants(error(), 10, 6, 256, None)
    e += [error(code=0), error(code=14), error(code=15), error(code=0xFFFF), error(msg=b""),
          error(msg=b"nul\x00inside"), error(msg="caf\u00e9 \u2603".encode()), error(eno=0xFFFFFFFF)]

    s = variants(snapinfo(), 41, 24, 255, 28)
    s += [snapinfo(name=b""), snapinfo(name=b"x" * 255), snapinfo(name=b"a\x00b"), snapinfo(ro=0),
          snapinfo(ident=0xFFFFFFFFFFFFFFFF, branches=0xFFFFFFFF, created=0)]
    return {"caps": c, "error_response": e, "snapshot_info": s, "names": names(), "snapreg": registries()}


def fnv1a(data):
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def registry(snaps, branches, next_id=None, next_branch=None, fix=True):
    """A registry file (src/snapreg.h): snaps are (id, name), branches (id, snapshot id,
    name); branch counts are derived unless fix is False."""
    next_id = next_id if next_id is not None else max([i for i, _ in snaps], default=0) + 1
    next_branch = next_branch if next_branch is not None else max([i for i, _, _ in branches], default=0) + 1
    body = b"BSREG001" + struct.pack("<QQ", next_id, next_branch) + U32.pack(len(snaps))
    for ident, name in snaps:
        n = sum(1 for _, s, _ in branches if s == ident) if fix else 0
        rec = snapinfo(ident=ident, uuid=bytes([ident & 0xFF]) * 16, name=name, branches=n)
        body += U32.pack(len(rec)) + rec
    body += U32.pack(len(branches))
    for ident, snap, name in branches:
        rec = struct.pack("<QQ", ident, snap) + U32.pack(20) + name
        body += U32.pack(len(rec)) + rec
    return body + struct.pack("<Q", fnv1a(body))


def registries():
    """Valid registries and their smallest inconsistent neighbours."""
    three = [(1, b"nightly"), (4, "caf\u00e9 \u2603".encode()), (9, b"x" * 255)]
    brs = [(2, 1, b"agent-1"), (1, 4, b"agent-2"), (3, 1, b"b" * 255)]
    good = registry(three, brs, next_branch=7)
    out = [registry([], []), registry([(1, b"a")], []), registry([(1, b"a")], [(1, 1, b"a")]), good,
           registry(three, [], next_id=2 ** 64 - 1), registry([(1, b"a")], [], next_branch=2 ** 64 - 1)]
    out += [good[:-1], good[:-9] + good[-8:], good + b"\x00", b"BSREG002" + good[8:], good[:-8] + bytes(8), b""]
    out += [registry(three, brs, fix=False),                      # branch counts 0
            registry([(4, b"a"), (1, b"b")], []),                 # ids not ascending
            registry([(1, b"a"), (2, b"a")], []),                 # duplicate name
            registry([(1, b"a")], [], next_id=1),                 # id not below next_id
            registry([(0, b"a")], []),                            # id 0
            registry([(1, b"..")], []),                           # invalid name
            registry([(1, b"a")], [(1, 2, b"x")]),                # branch of a missing snapshot
            registry([(1, b"a")], [(1, 1, b"y"), (2, 1, b"x")]),  # branches not in name order
            registry([(1, b"a")], [(1, 1, b"x"), (1, 1, b"y")]),  # duplicate branch id
            registry([(1, b"a")], [(1, 1, b"x")], next_branch=1)]  # branch id not below next
    return out


def names():
    """Snapshot names around every rule of docs/names.md (the input up to its
    first NUL is the name)."""
    snow, emoji = "\u2603".encode(), "\U0001F600".encode()
    return [b"snap-1", b"with space\ttab", b"$(rm -rf /)", b"-rf", b"'\"", snow + emoji, b"x" * 255,
            b"x" * 256, snow * 85, snow * 86, b"\xff" * 300, b"", b".", b"..", b"...", b".a", b"a.",
            b"a/b", b"/", b"a\x00/b", b"\x00", b"\xc0\xaf", b"\xc1\xbf", b"\xc2\x80", b"\xe0\x9f\xbf",
            b"\xe0\xa0\x80", b"\xed\x9f\xbf", b"\xed\xa0\x80", b"\xef\xbf\xbf", b"\xf0\x8f\xbf\xbf",
            b"\xf0\x90\x80\x80", b"\xf4\x8f\xbf\xbf", b"\xf4\x90\x80\x80", b"\xf5\x80\x80\x80", b"\xfe",
            b"a\xe2\x82", b"\x80", b"ok\xbf"]


SIM_SCRIPTS = {
    "empty": [],
    "files": [["mkdir", "/d"], ["put", "{host}", "/a"], ["put", "{host}", "/d/b"], ["rm", "/d/b"]],
    "clones": [["put", "{big}", "/a"], ["clone", "/a", "/b"], ["put", "{host}", "/b"]],
    "snapshots": [["mkdir", "/d"], ["put", "{big}", "/d/a"], ["clone", "/d/a", "/c"],
                  ["snapshot", "create", "s1"], ["branch", "create", "s1", "br"], ["put", "{host}", "/d/a"],
                  ["snapshot", "create", "s2"]],
}


def sim_images(bslab):
    """Images made by bslab: (name, bytes)."""
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        host, big = os.path.join(tmp, "host"), os.path.join(tmp, "big")
        with open(host, "wb") as f:
            f.write(b"hello\n")
        with open(big, "wb") as f:
            f.write(bytes(range(256)) * 40)  # 10 KiB: three blocks
        for profile in ("apfs", "hfs", "btrfs", "xfs", "ext4", "tmpfs"):
            for name, steps in SIM_SCRIPTS.items():
                needs = "snapshot" if "snapshot" in str(steps) else "clone" if "clone" in str(steps) else None
                if (needs == "snapshot" and profile not in ("apfs", "btrfs")) or \
                        (needs == "clone" and profile not in ("apfs", "btrfs", "xfs")):
                    continue
                img = os.path.join(tmp, f"{profile}-{name}.img")
                cmds = [["init", "--profile", profile, "--seed", "7"]] + steps
                for c in cmds:
                    c = [a.format(host=host, big=big) for a in c]
                    subprocess.run([bslab, "--image", img] + c, check=True, stdout=subprocess.DEVNULL)
                with open(img, "rb") as f:
                    out.append(f.read())
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="corpora")
    ap.add_argument("--bslab", help="bslab binary, to make the sim_image seeds")
    args = ap.parse_args()
    golden = os.path.join(os.path.dirname(__file__), "..", "golden")
    extra = {"caps": sorted(f for f in os.listdir(golden) if f.startswith("caps-")),
             "error_response": sorted(f for f in os.listdir(golden) if f.startswith("error-"))}
    targets = corpora()
    if args.bslab:
        targets["sim_image"] = sim_images(args.bslab)
    for target, inputs in targets.items():
        d = os.path.join(args.out, target)
        os.makedirs(d, exist_ok=True)
        for f in extra.get(target, []):
            with open(os.path.join(golden, f), "rb") as g:
                inputs.append(g.read())
        for data in inputs:
            with open(os.path.join(d, hashlib.sha1(data).hexdigest()[:16]), "wb") as f:
                f.write(data)
        print(f"{d}: {len(os.listdir(d))} files")


if __name__ == "__main__":
    main()
