#!/usr/bin/env bash
# bench/scan.sh - the decoder micro-benchmark: the projection decoder (ls_json_scan) alone, on
# one core, over generated corpora, for each implementation (scalar, sse2, avx2). No broker,
# no Kafka; a minute or two. See bench/README.md, "Decoder micro-benchmark".
#
# Usage: bench/scan.sh [--ref REV] [--corpus NAME,...] [--impl LIST] [--proj typical,all]
#                      [--rounds K] [--count N] [--cc CC]
#   --ref REV     also measure src/json/ls_json_scan.c as of git revision REV ("ref")
#   --corpus      of sample,calls,pretty,long,numbers,escapes,utf8,nested (default: all of them;
#                 sample is the real police calls of ../shared/data beside the repo, when present)
#   --impl        of scalar,sse2,avx2,ref (default: all that run here)
#   --proj        typical (3 fields), all (every field), or both (default)
#   --rounds K    timed rounds (default 7); the best of each implementation is reported
#   --count N     records of the calls corpus (default 20000; the generated others have N/4)
#   --cc CC       compiler (default cc)
# Corpora are generated once (bench/scan_corpus.py, seed 42) into bench/work/scan/; the
# binary is bench/work/scan/scan_bench (-O2, as the Makefile builds luastream).
set -euo pipefail
cd "$(dirname "$0")/.."

REF= CORPUS=sample,calls,pretty,long,numbers,escapes,utf8,nested IMPL=scalar,sse2,avx2,ref
PROJ=typical,all ROUNDS=7 COUNT=20000 CC=${CC:-cc}
while [ $# -gt 0 ]; do
    case "$1" in
        --ref) REF=$2; shift ;;
        --corpus) CORPUS=$2; shift ;;
        --impl) IMPL=$2; shift ;;
        --proj) PROJ=$2; shift ;;
        --rounds) ROUNDS=$2; shift ;;
        --count) COUNT=$2; shift ;;
        --cc) CC=$2; shift ;;
        -h | --help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "bench/scan.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done

W=bench/work/scan
mkdir -p "$W"
if [ ! -f "$W/calls.msgs" ] || { [ ! -f "$W/sample.msgs" ] && [ -f "$(cd "$(dirname "$0")/../.." && pwd)/shared/data/sf-police-calls-sample.json" ]; } || [ "$(cat "$W/.count" 2>/dev/null)" != "$COUNT" ]; then
    python3 bench/scan_corpus.py --out "$W" --count "$COUNT" >&2
    echo "$COUNT" >"$W/.count"
fi

CFLAGS="-std=c11 -O2 -g -Wall -Wextra -Werror -pthread -D_GNU_SOURCE -Isrc/json -Isrc/util -Isrc/ops
        $(pkg-config --cflags yajl)"
DEFS=
grep -q ls_json_scan_with src/json/ls_json_scan.c || DEFS=-DSCAN_BENCH_NO_IMPL
EXTRA=
if [ -n "$REF" ]; then
    git show "$REF:src/json/ls_json_scan.c" >"$W/ref_scan.c"
    # shellcheck disable=SC2086
    $CC $CFLAGS -Dls_json_scan=ls_json_scan_ref -Dls_recview_init=ls_recview_init_ref \
        -Dls_recview_free=ls_recview_free_ref -c "$W/ref_scan.c" -o "$W/ref_scan.o"
    EXTRA="$W/ref_scan.o"
    DEFS="$DEFS -DSCAN_BENCH_REF"
    echo "ref = $REF ($(git rev-parse --short "$REF"))" >&2
fi
# the scanner as the Makefile builds it (branches kept within 32-byte blocks on x86-64)
SCANFLAGS=
[ "$(uname -m)" = x86_64 ] && SCANFLAGS=-Wa,-mbranches-within-32B-boundaries
# shellcheck disable=SC2086
$CC $CFLAGS $SCANFLAGS -c src/json/ls_json_scan.c -o "$W/ls_json_scan.o"
SRC="$W/ls_json_scan.o src/json/ls_fieldset.c src/util/ls_util.c"
# shellcheck disable=SC2086
$CC $CFLAGS $DEFS -o "$W/scan_bench" bench/scan_bench.c $SRC $EXTRA -lm

FILES=()
IFS=, read -r -a NAMES <<<"$CORPUS"
for n in "${NAMES[@]}"; do
    if [ -f "$W/$n.msgs" ]; then FILES+=("$W/$n.msgs"); else echo "no corpus $n: skipped" >&2; fi
done
echo "$(date -u '+%F %H:%M UTC'), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'),"\
     "$(nproc) cores, AVX2: $(grep -qw avx2 /proc/cpuinfo && echo yes || echo no),"\
     "load average before: $(cut -d' ' -f1-3 /proc/loadavg), $($CC --version | head -1)"
"$W/scan_bench" --impl "$IMPL" --proj "$PROJ" --rounds "$ROUNDS" "${FILES[@]}"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
