#!/usr/bin/env bash
# bench/state.sh - the state micro-benchmark: ns per update of the aggregation state (ls_state)
# at 10k, 1M and 10M groups, one core, no broker (bench/state_bench.c says what a phase does).
# With --ref REV the same driver is also built against the tree as of git revision REV and both
# run in alternation (ref, this tree, ref, ...), so a passing load touches both alike. See
# bench/README.md, "State micro-benchmark".
#
# Usage: bench/state.sh [--ref REV] [--groups 10000,1000000,10000000] [--rounds K]
#                       [--updates N] [--parts P] [--repeat R]
#   --ref REV     also measure the state of git revision REV (built in bench/work/state/ref-REV)
#   --groups      sizes (default 10000,1000000,10000000; 10M groups take about 1.5 GB each run)
#   --rounds K    rounds inside each run (default 3); the best is kept
#   --repeat R    runs of each binary per size, alternating (default 1); the best is kept
#   --updates N   updates of the update phase (default max(groups, 4M))
#   --parts P     hash partitions (default 16, luastream's default)
# Output: a table of ns per operation (thread CPU time) per size and phase, and bytes per group.
set -euo pipefail
cd "$(dirname "$0")/.."

REF= SIZES_ARG=10000,1000000,10000000 ROUNDS=3 UPDATES= PARTS=16 REPEAT=1
while [ $# -gt 0 ]; do
    case "$1" in
        --ref) REF=$2; shift ;;
        --groups) SIZES_ARG=$2; shift ;;
        --rounds) ROUNDS=$2; shift ;;
        --repeat) REPEAT=$2; shift ;;
        --updates) UPDATES=$2; shift ;;
        --parts) PARTS=$2; shift ;;
        -h | --help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "bench/state.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done

W=bench/work/state
mkdir -p "$W"
PKGS="lua5.4 rdkafka yajl libmicrohttpd libxxhash"
INC() { local t=$1; for d in core ops io json lua recovery ui util; do printf -- '-I%s/src/%s ' "$t" "$d"; done; }
build_driver() { # tree output
    local t=$1 out=$2 defs=
    make -s -C "$t" build/libluastream.a >&2
    grep -q ls_state_prefetch "$t/src/ops/ls_state.h" && defs=-DHAVE_PREFETCH
    grep -q ls_state_iter_init "$t/src/ops/ls_state.h" && defs="$defs -DHAVE_ITER"
    # shellcheck disable=SC2046
    cc -std=c11 $defs -O2 -g -Wall -Wextra -Werror -pthread -D_GNU_SOURCE $(INC "$t") \
        $(pkg-config --cflags $PKGS) -o "$out" bench/state_bench.c "$t/build/libluastream.a" \
        $(pkg-config --libs $PKGS) -lm -lpthread
}

build_driver . "$W/state_bench"
BINS=("$W/state_bench")
LABELS=(this)
if [ -n "$REF" ]; then
    R=$(git rev-parse --short "$REF")
    D=$W/ref-$R
    if [ ! -f "$D/Makefile" ]; then
        mkdir -p "$D"
        git archive "$R" Makefile src docs scripts/man2help.awk | tar -x -C "$D"
    fi
    build_driver "$D" "$W/state_bench_ref"
    BINS=("$W/state_bench_ref" "$W/state_bench")
    LABELS=("ref:$R" this)
fi

echo "$(date -u '+%F %H:%M UTC'), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'),"\
     "$(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, load average before: $(cut -d' ' -f1-3 /proc/loadavg),"\
     "this tree: $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src || echo '+changes')"
RAW=$W/raw.txt
: >"$RAW"
ARGS=(--rounds "$ROUNDS" --parts "$PARTS")
[ -n "$UPDATES" ] && ARGS+=(--updates "$UPDATES")
IFS=, read -r -a SIZES <<<"$SIZES_ARG"
for g in "${SIZES[@]}"; do
    for _ in $(seq 1 "$REPEAT"); do
        for i in "${!BINS[@]}"; do
            "${BINS[$i]}" --groups "$g" --label "${LABELS[$i]}" "${ARGS[@]}" | tee -a "$RAW" >&2
        done
    done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$RAW" "${LABELS[@]}" <<'PY'
import sys
raw, labels = sys.argv[1], sys.argv[2:]
best = {}
for line in open(raw):
    f = dict(kv.split("=", 1) for kv in line.split()[1:])
    k = (line.split()[0], int(f["groups"]), f["phase"])
    v = (float(f["ns_per_op"]), float(f["state_bytes_per_group"]))
    if k not in best or v[0] < best[k][0]:
        best[k] = v
sizes = sorted({k[1] for k in best})
phases = ["insert", "update", "update2", "walk", "walkmem", "merge", "remerge", "save", "load", "free"]
head = "| groups | phase | " + " | ".join("%s ns" % l for l in labels)
if len(labels) == 2:
    head += " | this / ref"
print(head + " |")
print("| ---: | --- | " + " | ".join("---:" for _ in labels) + (" | ---:" if len(labels) == 2 else "") + " |")
for g in sizes:
    for ph in phases + ["bytes/group"]:
        if ph == "bytes/group":
            vals = [best[(l, g, "insert")][1] for l in labels]
        elif all((l, g, ph) in best for l in labels):
            vals = [best[(l, g, ph)][0] for l in labels]
        elif (labels[-1], g, ph) in best:
            vals = [float("nan")] * (len(labels) - 1) + [best[(labels[-1], g, ph)][0]]
        else:
            continue
        row = "| %s | %s | " % (format(g, ","), ph) + " | ".join("%.1f" % v for v in vals)
        if len(labels) == 2:
            row += " | %.2f" % (vals[1] / vals[0])
        print(row + " |")
PY
