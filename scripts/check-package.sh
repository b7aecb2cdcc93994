#!/usr/bin/env bash
# The installable package, as a consumer sees it (make check; issue 16):
#  1. libbackstore.so exports exactly the public API (scripts/check-symbols.sh);
#  2. every man page renders without a warning (groff -ww -z);
#  3. `make install` into a temporary DESTDIR, then examples/consumer is built
#     with nothing but `pkg-config backstore` pointed there, against the
#     shared library first (it must load the DESTDIR's .so), then the static
#     one (no libbackstore.so needed); both runs must pass and print the same;
#  4. `make uninstall` with the same DESTDIR leaves no file behind.
#   scripts/check-package.sh [--build DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=build
[ "${1:-}" = "--build" ] && BUILD=$2
MAKE=${MAKE:-make}

fail() { echo "check-package: FAILED: $*" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/bs-package.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# 1. The exported symbols.
so=$(ls "$BUILD"/plain/libbackstore.so.*.*.* 2>/dev/null | head -1)
[ -n "$so" ] || fail "no $BUILD/plain/libbackstore.so.X.Y.Z; build it with make lib"
scripts/check-symbols.sh "$so"

# 2. The man pages.
pages=(docs/bslab.1 docs/man/*.3)
for p in "${pages[@]}"; do
  out=$(LC_ALL=C.UTF-8 groff -man -ww -z -Tutf8 "$p" 2>&1) || fail "groff on $p: $out"
  [ -z "$out" ] || fail "groff -ww warns on $p:"$'\n'"$out"
done
echo "check-package: ${#pages[@]} man pages render without warnings (groff -man -ww -z)"

# 3. Install into a DESTDIR, build the consumer through pkg-config alone.
dest=$tmp/dest
$MAKE --no-print-directory -s install BUILD="$BUILD" DESTDIR="$dest" PREFIX=/usr >"$tmp/install.log" 2>&1 ||
  { cat "$tmp/install.log" >&2; fail "make install DESTDIR=$dest"; }
libdir=$dest/usr/lib
export PKG_CONFIG_PATH=$libdir/pkgconfig PKG_CONFIG_SYSROOT_DIR=$dest
pkg-config --exists backstore || fail "pkg-config does not find the installed backstore.pc"
[ "$(pkg-config --modversion backstore)" = "$("$dest/usr/bin/bslab" --version | sed 's/^bslab //')" ] ||
  fail "backstore.pc's version differs from bslab --version"
for page in backstore bs_open bs_reflink bs_snapshot_create; do
  [ -f "$dest/usr/share/man/man3/$page.3" ] || fail "$page(3) was not installed"
done

run_consumer() { # $1: shared|static
  local dir=$tmp/consumer-$1
  cp -r examples/consumer "$dir"
  rm -f "$dir/consumer"
  local static=""
  [ "$1" = static ] && static=1
  $MAKE --no-print-directory -s -C "$dir" consumer STATIC=$static >"$tmp/build-$1.log" 2>&1 ||
    { cat "$tmp/build-$1.log" >&2; fail "building the consumer ($1)"; }
  # (ldd's output is captured first: `ldd | grep -q` under pipefail fails
  # when grep exits before ldd has written everything.)
  local deps
  deps=$(LD_LIBRARY_PATH=$libdir ldd "$dir/consumer")
  if [ "$1" = shared ]; then
    grep -q "libbackstore.so.[0-9]* => $libdir/" <<<"$deps" ||
      fail "the shared consumer does not load $libdir's libbackstore.so"
  else
    ! grep -q libbackstore <<<"$deps" || fail "the static consumer still needs libbackstore.so"
  fi
  (cd "$tmp" && LD_LIBRARY_PATH=$libdir TMPDIR=$tmp "$dir/consumer") >"$tmp/run-$1.out" 2>&1 ||
    { cat "$tmp/run-$1.out" >&2; fail "the consumer ($1) failed"; }
  echo "check-package: consumer ($1 libbackstore, pkg-config only) passed"
}
run_consumer shared
run_consumer static
diff -u "$tmp/run-shared.out" "$tmp/run-static.out" >&2 ||
  fail "the consumer printed different results with the shared and the static library"

# 4. Uninstall.
$MAKE --no-print-directory -s uninstall BUILD="$BUILD" DESTDIR="$dest" PREFIX=/usr >/dev/null 2>&1 ||
  fail "make uninstall DESTDIR=$dest"
left=$(find "$dest" -not -type d)
[ -z "$left" ] || fail "make uninstall left files behind:"$'\n'"$left"
echo "check-package: make install/uninstall with DESTDIR, the consumer on the shared and the static library: OK"
