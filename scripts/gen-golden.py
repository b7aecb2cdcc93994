#!/usr/bin/env python3
"""Write the golden SSZ files of DESIGN §4, independently of the C encoder.

The bytes are laid out here by hand with `struct`, straight from the DESIGN §4
schema and capability table, so that tests/test_ssz.c comparing the C encoder
(and the sim and real backends) against them is not circular.  The committed
golden/*.ssz files are the source of truth; this script documents how they
were made and checks that they still match.

    scripts/gen-golden.py [--dir golden]          write the files
    scripts/gen-golden.py [--dir golden] --check  exit 1 if any file differs
"""
import argparse
import os
import struct
import sys

OFFSET = struct.Struct("<I")  # SSZ offsets are uint32 little-endian

# DESIGN §4 table: fs, fs_type, native_snapshots, native_reflink, xattrs,
# case_sensitive, max_name_len, fs_type_name.
CAPS = [
    ("apfs", 1, True, True, True, False, 255, "apfs"),
    ("hfs", 2, False, False, True, False, 255, "hfs"),
    ("btrfs", 3, True, True, True, True, 255, "btrfs"),
    ("xfs", 4, False, True, True, True, 255, "xfs"),
    ("ext4", 5, False, False, True, True, 255, "ext4"),
    ("tmpfs", 6, False, False, True, True, 255, "tmpfs"),
]

# Wire numbers of DESIGN §2 used below.
WIRE_UNSUPPORTED = 1
WIRE_TOOL_FAILED = 11
WIRE_PARSE = 12
EOPNOTSUPP = 95  # Linux value; the file pins the number, not the host's errno

ERRORS = [
    # name, code, os_errno, message
    ("tool-failed", WIRE_TOOL_FAILED, 0, "diskutil exited with status 1"),
    ("parse", WIRE_PARSE, 0, "diskutil apfs listSnapshots: output is not a snapshot list (line 1)"),
    ("parse-plist", WIRE_PARSE, 0, "diskutil apfs listSnapshots -plist: output is not a property list"),
    ("unsupported", WIRE_UNSUPPORTED, EOPNOTSUPP, "snapshots are not supported on hfs"),
]


def byte_list(data: bytes, limit: int) -> bytes:
    assert len(data) <= limit, (data, limit)
    return data


def caps(fs_type, snaps, reflink, xattrs, case, max_name, name):
    # CapabilityResponse fixed part: uint16 schema_version, uint8 fs_type,
    # 4 x boolean, uint16 max_name_len, offset of fs_type_name.
    fixed = struct.Struct("<HB????H")
    body = byte_list(name.encode("ascii"), 16)
    head = fixed.pack(1, fs_type, snaps, reflink, xattrs, case, max_name)
    return head + OFFSET.pack(fixed.size + OFFSET.size) + body


def error(code, os_errno, message):
    # ErrorResponse fixed part: uint16 code, uint32 os_errno, offset of message.
    fixed = struct.Struct("<HI")
    body = byte_list(message.encode("utf-8"), 256)
    return fixed.pack(code, os_errno) + OFFSET.pack(fixed.size + OFFSET.size) + body


def files():
    out = {}
    for fs, *row in CAPS:
        out[f"caps-{fs}.ssz"] = caps(*row)
    for name, *row in ERRORS:
        out[f"error-{name}.ssz"] = error(*row)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", default="golden")
    ap.add_argument("--check", action="store_true", help="compare instead of writing")
    args = ap.parse_args()
    bad = 0
    for name, data in sorted(files().items()):
        path = os.path.join(args.dir, name)
        if args.check:
            try:
                with open(path, "rb") as f:
                    same = f.read() == data
            except FileNotFoundError:
                same = False
            if not same:
                print(f"{path}: differs from DESIGN §4", file=sys.stderr)
                bad += 1
        else:
            os.makedirs(args.dir, exist_ok=True)
            with open(path, "wb") as f:
                f.write(data)
            print(f"{path}: {len(data)} bytes  {data.hex()}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
