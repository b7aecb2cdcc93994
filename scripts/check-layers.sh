#!/usr/bin/env bash
# The layers of DESIGN §1, checked (docs/architecture.md, "Layers"):
#  1. libbackstore.a holds no lab code: no member named like an object of
#     lab/, no symbol that liblab.a defines (neither defined nor referenced:
#     the library must link without the lab), and no symbol of the lab's API
#     prefixes (bs_campaign_, bs_trace_, bs_diff_, bs_lab_, bs_replay_,
#     bs_shrink_), whatever file it comes from.
#  2. what each layer may include (quoted or angled, resolved the way the
#     compiler does: the file's own directory, then include/, then the top):
#     src/ and faults/: the public headers, src/, sim/, real/, faults/;
#     sim/: the public headers, src/, sim/; real/: the public headers, src/,
#     real/; lab/: the public headers, src/, lab/.  So no library file
#     includes lab/ or tools/, and sim/ and real/ never include each other.
#
#   scripts/check-layers.sh [--build DIR] [--flavours "plain asan"]
#   (the archives of DIR/<flavour>/ for each flavour; default plain)
#
# One line per violation; exit 1 if any, else 0 after one line saying so.
set -uo pipefail

build=build flavours=plain
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build=$2; shift 2 ;;
    --flavours) flavours=$2; shift 2 ;;
    *) echo "check-layers.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
top=$(cd "$(dirname "$0")/.." && pwd -P)
cd "$top" || exit 2
bad=0
broken() { echo "layers: $*"; bad=$((bad + 1)); }

lab_prefixes='^(bs_campaign_|bs_trace_|bs_diff_|bs_lab_|bs_replay_|bs_shrink_)'
# Mach-O names carry a leading underscore; ELF names do not.
if [ "$(uname -s)" = Darwin ]; then
  unprefix() { sed 's/^_//'; }                   # a name a line
  unprefix_last() { sed 's/ _\([^ ]*\)$/ \1/'; } # the name ending each line
else
  unprefix() { cat; }
  unprefix_last() { cat; }
fi

check_archive() {
  local lib=$1 lablib=$2 m
  [ -f "$lib" ] || { broken "$lib is missing (build it first)"; return; }
  [ -f "$lablib" ] || { broken "$lablib is missing (build it first)"; return; }
  # Members: ar lists base names, so a lab object is known by its name.
  for m in $(ar t "$lib"); do
    [ -f "lab/${m%.o}.c" ] && broken "$lib has member $m, an object of lab/${m%.o}.c"
  done
  # Symbols: the global ones liblab.a defines (any type but U), then every
  # symbol of the library, "member type name", checked against them.
  local defs
  defs=$(nm -g "$lablib" 2>/dev/null | awk 'NF == 3 && $2 ~ /^[A-TV-Z]$/ {print $3}' | unprefix | sort -u)
  while read -r line; do
    broken "$lib: $line"
  done < <(nm "$lib" 2>/dev/null |
             awk '/:$/ {m = substr($0, 1, length($0) - 1); next}
                  NF == 2 {print m, $1, $2} NF == 3 {print m, $2, $3}' |
             unprefix_last |
             awk -v prefixes="$lab_prefixes" -v defs="$defs" '
               BEGIN { n = split(defs, d, "\n"); for (i = 1; i <= n; i++) lab[d[i]] = 1 }
               $3 ~ prefixes { print $1 " has lab symbol " $3 " (" $2 ")"; next }
               $3 in lab { print $1 ($2 == "U" ? " references " : " defines ") $3 ", which liblab.a defines" }')
}

for flavour in $flavours; do
  check_archive "$build/$flavour/libbackstore.a" "$build/$flavour/liblab.a"
done

# allowed LAYER: the top-level folders its files may include from.
allowed() {
  case $1 in
    src | faults) echo "include src sim real faults" ;;
    sim) echo "include src sim" ;;
    real) echo "include src real" ;;
    lab) echo "include src lab" ;;
  esac
}

# normalize PATH: $norm gets PATH without "." and "dir/.." steps.
normalize() {
  local IFS=/ part out=()
  for part in $1; do
    case $part in
      '' | .) ;;
      ..) [ ${#out[@]} -gt 0 ] && unset 'out[${#out[@]}-1]' ;;
      *) out+=("$part") ;;
    esac
  done
  norm="${out[*]}"
}

# resolve FILE FORM PATH: $target gets the included file as a path from the
# top, or "" for a system header.  (No subshells: this runs ~500 times.)
resolve() {
  local file=$1 form=$2 path=$3 cand cands
  cands=("include/$path" "$path")
  [ "$form" = '"' ] && cands=("${file%/*}/$path" "${cands[@]}")
  target=""
  for cand in "${cands[@]}"; do
    if [ -f "$cand" ]; then
      normalize "$cand"
      target=$norm
      return
    fi
  done
}

include_re='^[[:space:]]*#[[:space:]]*include[[:space:]]*([<"])([^>"]*)[>"]'
for layer in src sim real faults lab; do
  [ -d "$layer" ] || continue
  ok=" $(allowed "$layer") "
  while IFS=: read -r file line text; do
    [[ $text =~ $include_re ]] || continue
    resolve "$file" "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}"
    [ -n "$target" ] || continue
    case $ok in
      *" ${target%%/*} "*) ;;
      *) broken "$file:$line includes $target: $layer/ may include only from $(allowed "$layer")" ;;
    esac
  done < <(grep -rnE '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]' "$layer" --include='*.c' --include='*.h')
done

if [ $bad -gt 0 ]; then
  echo "layers: $bad violation(s) of DESIGN §1 (scripts/check-layers.sh)"
  exit 1
fi
echo "layers: libbackstore.a holds no lab code; src/ sim/ real/ faults/ lab/ include only what DESIGN §1 allows"
exit 0
