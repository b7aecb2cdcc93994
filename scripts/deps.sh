#!/usr/bin/env bash
# Install the Debian packages the Makefile targets need.  Idempotent: does
# nothing when everything is present; runs `apt-get update` at most once.
# Not root and something missing: says what to install and exits 2.
#   scripts/deps.sh              what make all/run/check need
#   scripts/deps.sh --package    that, and the tools of make deb (debian/)
set -euo pipefail

# What each package is for (keep this list exactly what the targets use).
PACKAGES=(
  build-essential   # gcc, make, ar; libasan/libubsan come with gcc
  libcmocka-dev     # the test framework of every suite
  valgrind          # leak check of the plain test build
  python3           # scripts/gen-golden.py, the golden-file generator
  hyperfine         # make bench: medians of repeated campaign runs
  doxygen           # make docs (part of make check): API reference, doc coverage
  afl++             # make fuzz: afl-clang-fast (pulls in clang), afl-fuzz, afl-cmin
  libclang-rt-14-dev  # make fuzz: clang's ASan/UBSan runtimes for the AFL++ builds
  libfiu-dev        # fault points in real/sys.c (bs/real/*), enabled by tests
  libplist-dev      # reads `diskutil apfs listSnapshots -plist` (real/parse_diskutil_plist.c)
  pkg-config        # the Makefile finds libplist with it
  xfslibs-dev       # <xfs/xfs.h>: the geometry ioctl that says whether xfs has reflink
  btrfs-progs       # mkfs.btrfs: real btrfs test volumes (tests/support/volume.c)
  xfsprogs          # mkfs.xfs: real xfs test volumes, made with -m reflink=1
  e2fsprogs         # mkfs.ext4: real ext4 test volumes (priority required, not Essential)
  groff-base        # make check: groff -ww -z lints the man pages (scripts/check-package.sh)
  libfuse3-dev      # bslab mount (tools/bslab/mount.c): the FUSE server library
  fuse3             # bslab mount: fusermount3, and unmounting in tests/test_mount*.c
  git               # tests/test_mount.c: a real program on a mounted sim volume
  sqlite3           # tests/test_mount.c: a WAL database on a mounted sim volume
)
# make deb: dpkg-buildpackage -us -uc -b, then lintian (debian/, docs/install.md).
PACKAGE_TOOLS=(
  dpkg-dev          # dpkg-buildpackage
  debhelper         # dh, debhelper-compat 13 (debian/control)
  fakeroot          # dpkg-buildpackage as a normal user
  lintian           # the package lint
)
case "${1:-}" in
  "") ;;
  --package) PACKAGES+=("${PACKAGE_TOOLS[@]}") ;;
  *) echo "usage: scripts/deps.sh [--package]" >&2; exit 2 ;;
esac

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
  echo "deps.sh: missing packages: ${missing[*]}; this is not a Debian-like system," \
       "install their equivalents by hand." >&2
  exit 2
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "deps.sh: missing packages: ${missing[*]}" >&2
  echo "deps.sh: run as root, or: sudo apt-get install -y ${missing[*]}" >&2
  exit 2
fi
echo "deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "deps.sh: done"
