#!/usr/bin/env bash
# The consumer example against the Debian packages (make deb, after lintian):
# libbackstore0 and libbackstore-dev are unpacked into a temporary root
# (without touching the system's packages) and examples/consumer is built
# with pkg-config pointed there and run.  CI does the same with the packages
# really installed in a clean container (.github/workflows/package.yml).
#   scripts/check-deb.sh DEB_DIR
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -eq 1 ] || { echo "usage: scripts/check-deb.sh DEB_DIR" >&2; exit 2; }
debs=$1
fail() { echo "check-deb: FAILED: $*" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/bs-deb.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
root=$tmp/root
for p in libbackstore0 libbackstore-dev backstore-tools; do
  deb=$(ls "$debs"/${p}_*.deb 2>/dev/null | head -1)
  [ -n "$deb" ] || fail "no ${p}_*.deb in $debs"
  dpkg-deb -x "$deb" "$root"
done
pc=$(find "$root" -name backstore.pc)
[ -n "$pc" ] || fail "libbackstore-dev has no backstore.pc"
libdir=$(dirname "$(dirname "$pc")")
export PKG_CONFIG_PATH=$(dirname "$pc") PKG_CONFIG_SYSROOT_DIR=$root
cp -r examples/consumer "$tmp/consumer"
rm -f "$tmp/consumer/consumer"
make --no-print-directory -s -C "$tmp/consumer" consumer >"$tmp/build.log" 2>&1 ||
  { cat "$tmp/build.log" >&2; fail "building the consumer against libbackstore-dev"; }
(cd "$tmp" && LD_LIBRARY_PATH=$libdir TMPDIR=$tmp "$tmp/consumer/consumer") >"$tmp/run.out" 2>&1 ||
  { cat "$tmp/run.out" >&2; fail "the consumer failed against libbackstore0"; }
LD_LIBRARY_PATH=$libdir "$root/usr/bin/bslab" --version >/dev/null || fail "bslab from backstore-tools does not run"
echo "check-deb: the consumer builds against libbackstore-dev and passes on libbackstore0"
for d in "$debs"/*.deb; do
  printf '  %-44s %8s bytes installed-size %s KiB\n' "$(basename "$d")" "$(stat -c %s "$d")" \
    "$(dpkg-deb -f "$d" Installed-Size)"
done
