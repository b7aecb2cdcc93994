#!/usr/bin/env bash
# The shared library exports exactly the public API: every function and
# variable declared in the installed headers (include/backstore.h and
# include/backstore/*.h), and nothing else.  The expected list is read from
# the headers themselves (the compiler's -aux-info for functions, `extern`
# lines for variables), so a new declaration without BS_API, or an internal
# function that leaks, fails here.
#   scripts/check-symbols.sh LIB.so          the check
#   scripts/check-symbols.sh --list-api      the public API's names, sorted
set -euo pipefail
cd "$(dirname "$0")/.."

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

headers=(include/backstore.h include/backstore/*.h)
api() {
  for h in "${headers[@]}"; do echo "#include \"${h#include/}\""; done > "$tmp/all.c"
  ${CC:-cc} -std=c11 -D_GNU_SOURCE -Iinclude -aux-info "$tmp/aux" -fsyntax-only "$tmp/all.c"
  # /* include/backstore.h:90:NC */ extern const char *bs_err_name (int);
  grep -E '^/\* [^ ]*include/backstore(\.h|/[a-z_]+\.h):' "$tmp/aux" |
    sed -E 's/^.*[ *]([A-Za-z_][A-Za-z0-9_]*) \(.*$/\1/'
  # Variables: "BS_API extern TYPE name[];" at the start of a line.
  grep -hE '^BS_API extern ' "${headers[@]}" | sed -E 's/^.*[ *]([A-Za-z_][A-Za-z0-9_]*)(\[\])?;.*$/\1/'
}

if [ "${1:-}" = "--list-api" ]; then
  api | sort -u
  exit 0
fi
[ $# -eq 1 ] || { echo "usage: scripts/check-symbols.sh LIB.so | --list-api" >&2; exit 2; }
lib=$1
[ -f "$lib" ] || { echo "check-symbols: $lib: no such file" >&2; exit 2; }

api | sort -u > "$tmp/expected"
# Defined dynamic symbols: code (T), data (D, B) and read-only data (R).
nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBRVW]$/ {print $3}' | sed 's/@.*//' | sort -u > "$tmp/exported"

n_api=$(wc -l < "$tmp/expected")
if [ "$n_api" -lt 10 ]; then
  echo "check-symbols: only $n_api public names found in the headers; the parser is broken" >&2
  exit 1
fi
status=0
missing=$(comm -23 "$tmp/expected" "$tmp/exported")
extra=$(comm -13 "$tmp/expected" "$tmp/exported")
if [ -n "$missing" ]; then
  echo "check-symbols: declared in the public headers but not exported by $lib" \
       "(no BS_API on the declaration, or never defined):" >&2
  sed 's/^/  /' <<<"$missing" >&2
  status=1
fi
if [ -n "$extra" ]; then
  echo "check-symbols: exported by $lib but not in the public headers (internal symbols leak):" >&2
  sed 's/^/  /' <<<"$extra" >&2
  status=1
fi
# The Debian symbols file must list every public name too (dpkg-gensymbols
# would otherwise fail only when `make deb` runs).
symfile=$(dirname "$0")/../debian/libbackstore0.symbols
if [ -f "$symfile" ]; then
  sed -n 's/^ \(bs_[A-Za-z0-9_]*\)@.*/\1/p' "$symfile" | sort -u > "$tmp/debian"
  if ! cmp -s "$tmp/expected" "$tmp/debian"; then
    echo "check-symbols: debian/libbackstore0.symbols differs from the public headers" \
         "(< headers only, > symbols file only; add new names at the current version):" >&2
    diff "$tmp/expected" "$tmp/debian" | grep '^[<>]' | sed 's/^/  /' >&2
    status=1
  fi
fi
[ $status -eq 0 ] && echo "check-symbols: $lib exports exactly the $n_api public names (debian/libbackstore0.symbols agrees)"
exit $status
