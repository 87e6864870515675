#!/usr/bin/env bash
# bench/rows.sh - the row-writer micro-benchmark: result rows written per second per core by the
# JSON-lines sink and the Kafka sink (bench/rows_bench.c says what is timed). The jsonl part
# needs no broker; with --kafka a private broker is started (this tree's scripts/kafka.sh on
# BENCH_KAFKA_PORT, default 29292, data in bench/work/rows-kafka, stopped at the end). With
# --ref REV the same driver is also built against the tree as of git revision REV and both run
# in alternation. See bench/README.md, "Row writer".
#
# Usage: bench/rows.sh [--ref REV] [--kafka] [--rows N] [--rounds K] [--repeat R]
#   --ref REV    also measure the sinks of git revision REV (built in bench/work/state/ref-REV)
#   --kafka      also the Kafka sink, on a private broker (topics of 4 partitions)
#   --rows N     rows per round (default 1,000,000)
#   --rounds K   rounds per run (default 5); the best is kept
#   --repeat R   runs of each binary, alternating (default 1); the best is kept
# Output: a table of rows per CPU second (all threads of the process; the broker's not counted).
set -euo pipefail
cd "$(dirname "$0")/.."
HERE=$(pwd)

REF= KAFKA=0 ROWS=1000000 ROUNDS=5 REPEAT=1
while [ $# -gt 0 ]; do
    case "$1" in
        --ref) REF=$2; shift ;;
        --kafka) KAFKA=1 ;;
        --rows) ROWS=$2; shift ;;
        --rounds) ROUNDS=$2; shift ;;
        --repeat) REPEAT=$2; shift ;;
        -h | --help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "bench/rows.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done

W=bench/work/rows
mkdir -p "$W"
PKGS="lua5.4 rdkafka yajl libmicrohttpd libxxhash"
INC() { local t=$1; for d in core ops io json lua recovery ui util; do printf -- '-I%s/src/%s ' "$t" "$d"; done; }
build_driver() { # tree output
    local t=$1 out=$2
    make -s -C "$t" build/libluastream.a >&2
    # shellcheck disable=SC2046
    cc -std=c11 -O2 -g -Wall -Wextra -Werror -pthread -D_GNU_SOURCE $(INC "$t") \
        $(pkg-config --cflags $PKGS) -o "$out" bench/rows_bench.c "$t/build/libluastream.a" \
        $(pkg-config --libs $PKGS) -lm -lpthread
}

build_driver . "$W/rows_bench"
BINS=("$W/rows_bench")
LABELS=(this)
if [ -n "$REF" ]; then
    R=$(git rev-parse --short "$REF")
    D=bench/work/state/ref-$R
    if [ ! -f "$D/Makefile" ]; then
        mkdir -p "$D"
        git archive "$R" Makefile src docs scripts/man2help.awk | tar -x -C "$D"
    fi
    build_driver "$D" "$W/rows_bench_ref"
    BINS=("$W/rows_bench_ref" "$W/rows_bench")
    LABELS=("ref:$R" this)
fi

KARGS=()
if [ "$KAFKA" = 1 ]; then
    export KAFKA_PORT=${BENCH_KAFKA_PORT:-29292}
    export KAFKA_CONTROLLER_PORT=$((KAFKA_PORT + 1))
    export KAFKA_DATA=$HERE/bench/work/rows-kafka
    scripts/kafka.sh stop >/dev/null 2>&1 || true # a broker left by an earlier run: restarted empty
    rm -rf "$KAFKA_DATA/data"
    cleanup() { scripts/kafka.sh stop >/dev/null 2>&1 || true; }
    trap cleanup EXIT
    scripts/kafka.sh start >"$W/kafka.log" 2>&1 || { tail -20 "$W/kafka.log" >&2; exit 1; }
    KARGS=(--bootstrap "127.0.0.1:$KAFKA_PORT")
fi

echo "$(date -u '+%F %H:%M UTC'), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'),"\
     "$(nproc) cores, load average before: $(cut -d' ' -f1-3 /proc/loadavg),"\
     "this tree: $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src || echo '+changes')"
RAW=$W/raw.txt
: >"$RAW"
for rep in $(seq 1 "$REPEAT"); do
    for i in "${!BINS[@]}"; do
        T=()
        if [ "$KAFKA" = 1 ]; then
            T=(--topic "rows.$i.$rep.$$")
            for s in window disposition record; do
                scripts/kafka.sh create-topic "rows.$i.$rep.$$.$s" 4 >>"$W/kafka.log" 2>&1
            done
        fi
        "${BINS[$i]}" --rows "$ROWS" --rounds "$ROUNDS" --dir "$W" --label "${LABELS[$i]}" \
            "${KARGS[@]}" "${T[@]}" | tee -a "$RAW" >&2
    done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$RAW" "${LABELS[@]}" <<'PY'
import sys
raw, labels = sys.argv[1], sys.argv[2:]
best = {}
for line in open(raw):
    f = dict(kv.split("=", 1) for kv in line.split()[1:])
    k = (line.split()[0], f["sink"], f["shape"])
    v = (float(f["rows_per_cpu_s"]), int(f["bytes"]) / int(f["rows"]))
    if k not in best or v[0] > best[k][0]:
        best[k] = v
keys = sorted({(k[1], k[2]) for k in best}, key=lambda k: (k[0] != "jsonl", ["window", "disposition", "record"].index(k[1])))
head = "| sink | rows | bytes/row | " + " | ".join("%s rows/s per core" % l for l in labels)
print(head + (" | this / ref |" if len(labels) == 2 else " |"))
print("| --- | --- | ---: | " + " | ".join("---:" for _ in labels) + (" | ---: |" if len(labels) == 2 else " |"))
for sink, shape in keys:
    vals = [best[(l, sink, shape)][0] for l in labels]
    per = best[(labels[-1], sink, shape)][1]
    row = "| %s | %s | %s | " % (sink, shape, "%.0f" % per if per else "-") + " | ".join(format(round(v), ",") for v in vals)
    if len(labels) == 2:
        row += " | %.2f" % (vals[1] / vals[0])
    print(row + " |")
PY
