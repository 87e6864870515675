#!/usr/bin/env bash
# bench/ab.sh - does a change make the main job slower? Runs scripts/pipeline.lua of two
# luastream source trees (each with its own build and scripts) on the same Kafka topic, in
# alternation (A B A B ...), and prints a table of records/s and CPU seconds per run and the
# best and median of each, so a refactor can be shown to cost nothing (issue 11) and a speed-up
# be measured (issue 13) with everything else equal: same topic, same broker, same machine,
# same moment.
#
# Usage: bench/ab.sh TREE_A TREE_B [N] [ROUNDS] [-- EXTRA LUASTREAM FLAGS]
#   TREE_A, TREE_B  source trees, each built (make) with build/luastream in it
#   N               records generated (scripts/gen_calls.py, seed 42) and produced (default 300000)
#   ROUNDS          runs of each tree (default 5)
#   extra flags     passed to both runs, e.g. -- --parallelism 2
# The broker is this tree's scripts/kafka.sh on BENCH_KAFKA_PORT (default 29192), its data in
# bench/work/ab-kafka, stopped at the end. Output: the table on stdout, logs in bench/work/ab.
set -euo pipefail
cd "$(dirname "$0")/.."
HERE=$(pwd)

[ $# -ge 2 ] || { sed -n '2,16p' "$0" >&2; exit 2; }
A=$(cd "$1" && pwd)
B=$(cd "$2" && pwd)
shift 2
N=300000
ROUNDS=5
[ $# -gt 0 ] && [ "$1" != "--" ] && { N=$1; shift; }
[ $# -gt 0 ] && [ "$1" != "--" ] && { ROUNDS=$1; shift; }
[ $# -gt 0 ] && [ "$1" = "--" ] && shift
EXTRA=("$@")
for t in "$A" "$B"; do
    [ -x "$t/build/luastream" ] || { echo "bench/ab.sh: $t/build/luastream is missing: run make there" >&2; exit 2; }
done
case $N in '' | *[!0-9]*) echo "bench/ab.sh: N must be a number, got $N" >&2; exit 2 ;; esac
case $ROUNDS in '' | *[!0-9]* | 0) echo "bench/ab.sh: ROUNDS must be a positive number" >&2; exit 2 ;; esac

WORK=$HERE/bench/work/ab
mkdir -p "$WORK"
export KAFKA_PORT=${BENCH_KAFKA_PORT:-29192}
export KAFKA_CONTROLLER_PORT=$((KAFKA_PORT + 1))
export KAFKA_DATA=$HERE/bench/work/ab-kafka
BOOT=127.0.0.1:$KAFKA_PORT
cleanup() { scripts/kafka.sh stop >/dev/null 2>&1 || true; }
trap cleanup EXIT
scripts/kafka.sh start >"$WORK/kafka.log" 2>&1 || { tail -20 "$WORK/kafka.log" >&2; exit 1; }

DATA=$HERE/bench/work/calls-$N-seed42.ndjson
if [ ! -s "$DATA" ]; then
    python3 scripts/gen_calls.py --count "$N" --seed 42 --format ndjson --out "$DATA.tmp"
    mv "$DATA.tmp" "$DATA"
fi
TOPIC=ab.calls.$N.$$
scripts/kafka.sh create-topic "$TOPIC" 4 >>"$WORK/kafka.log" 2>&1
"$A/build/luastream" produce "$DATA" --topic "$TOPIC" --bootstrap "$BOOT" --quiet

# One run: wall time and CPU (user + sys of the process) from GNU time, records from the
# progress reports of its first query.
run_one() {
    local tree=$1 label=$2 i=$3
    local out="$WORK/$label-$i"
    rm -rf "$out"
    mkdir -p "$out"
    (cd "$tree" && /usr/bin/time -f '%e %U %S %M' -o "$out/time" build/luastream scripts/pipeline.lua \
        --set "bootstrap=$BOOT" --set "topic=$TOPIC" --set "output=jsonl:$out/rows" \
        --trigger available-now --quiet --progress "$out/progress.jsonl" "${EXTRA[@]}" \
        >"$out/stdout" 2>"$out/stderr") || { echo "run $label $i failed: see $out/stderr" >&2; tail -5 "$out/stderr" >&2; exit 1; }
    python3 - "$out" "$label" "$N" <<'PY'
import json, sys
out, label, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
wall, user, sys_, rss = open(out + "/time").read().split()[-4:]
rows = 0
first = None
for line in open(out + "/progress.jsonl"):
    r = json.loads(line)
    first = first or r["name"]
    if r["name"] == first:
        rows += r["numInputRows"]
if rows != n:
    sys.exit("%s read %d records of %d" % (label, rows, n))
print("%s %.3f %.3f %d" % (label, float(wall), float(user) + float(sys_), int(rss)))
PY
}

RES=$WORK/results.txt
: >"$RES"
for i in $(seq 1 "$ROUNDS"); do
    run_one "$A" A "$i" >>"$RES"
    run_one "$B" B "$i" >>"$RES"
done

python3 - "$RES" "$N" "$A" "$B" "$ROUNDS" "${EXTRA[*]:-}" <<'PY'
import statistics, sys, os, subprocess, datetime
res, n, a, b, rounds, extra = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6]
runs = {"A": [], "B": []}
for line in open(res):
    label, wall, cpu, rss = line.split()
    runs[label].append((float(wall), float(cpu), int(rss)))
def rev(t):
    try:
        return subprocess.run(["git", "-C", t, "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True).stdout.strip() or "?"
    except OSError:
        return "?"
print("bench/ab.sh  %s  N = %d, %s rounds, 4 partitions, pipeline.lua available-now%s" % (
    datetime.date.today().isoformat(), n, rounds, (" " + extra) if extra else ""))
print("load average at the end: %s" % " ".join(open("/proc/loadavg").read().split()[:3]))
print()
print("%-4s %-10s %12s %12s %12s %12s %10s" % ("tree", "commit", "best rec/s", "median rec/s",
                                              "best CPU s", "median CPU s", "max RSS MiB"))
for k, t in (("A", a), ("B", b)):
    r = runs[k]
    rates = [n / w for w, _, _ in r]
    cpus = [c for _, c, _ in r]
    print("%-4s %-10s %12.0f %12.0f %12.2f %12.2f %10.0f" % (k, rev(t), max(rates), statistics.median(rates),
                                                           min(cpus), statistics.median(cpus),
                                                           max(m for _, _, m in r) / 1024))
ra = statistics.median([n / w for w, _, _ in runs["A"]])
rb = statistics.median([n / w for w, _, _ in runs["B"]])
ca = statistics.median([c for _, c, _ in runs["A"]])
cb = statistics.median([c for _, c, _ in runs["B"]])
print()
print("B / A: median records/s %.3f, median CPU %.3f" % (rb / ra, cb / ca))
print("runs (wall s, CPU s): A %s" % ", ".join("%.2f/%.2f" % (w, c) for w, c, _ in runs["A"]))
print("                      B %s" % ", ".join("%.2f/%.2f" % (w, c) for w, c, _ in runs["B"]))
PY
