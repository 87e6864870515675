#!/usr/bin/env bash
# bench/scaleout.sh - scale-out of one job over several members (issue 12, "Measured"): runs
# tests/integration/app_counts.lua (update-mode window counts with four aggregates, Kafka sink)
# as 1, 2 and 3 members of one job (`--app`, a fresh app id per run) on one 12-partition topic
# of N generated calls in ascending event time, then kills one of 3 members (kill -9) on a
# larger topic and measures the rebalance. Prints a table and writes it to
# bench/results/scaleout-<date>.txt. The driver is bench/scaleout.py (stdlib only).
#
# Usage: bench/scaleout.sh [N] [--members 1,2,3] [--rounds 3] [--big-factor 2] [--trigger "1 second"]
#                          [--max-per-trigger 100000] [--no-kill]
#   N                 calls generated (scripts/gen_calls.py, seed 42), default 300000
#   --members         member counts measured, in order
#   --rounds R        runs of each member count, in rounds (default 3); the table shows the median
#   --big-factor F    the kill run's topic holds F x N calls (default 2)
#   --trigger         every member's trigger (default "1 second")
#   --max-per-trigger the source's max_records_per_trigger (input and repartition records of a
#                     member's batch together; default 100000): a batch must end within the
#                     transaction timeout (10 s)
#   --no-kill         skip the rebalance run
# The broker is this tree's scripts/kafka.sh on BENCH_KAFKA_PORT (default 29392), its data in
# bench/work/scaleout-kafka (wiped first, deleted at the end), its jars KAFKA_JARS (default
# this tree's .run/kafka-jars, fetched by scripts/kafka.sh when missing). Logs of every member,
# progress files and status polls: bench/work/scaleout/. Nothing here asserts a time.
set -euo pipefail
cd "$(dirname "$0")/.."
HERE=$(pwd)

N=300000
case ${1:-} in '' | -*) ;; *) N=$1; shift ;; esac
case $N in '' | *[!0-9]*) echo "bench/scaleout.sh: N must be a number, got $N" >&2; exit 2 ;; esac
[ -x build/luastream ] || make -s
command -v kcat >/dev/null || { echo "bench/scaleout.sh: kcat is missing (scripts/deps.sh installs it)" >&2; exit 2; }

WORK=$HERE/bench/work/scaleout
rm -rf "$WORK"
mkdir -p "$WORK" bench/results
export KAFKA_PORT=${BENCH_KAFKA_PORT:-29392}
export KAFKA_CONTROLLER_PORT=$((KAFKA_PORT + 1))
export KAFKA_DATA=$HERE/bench/work/scaleout-kafka
BOOT=127.0.0.1:$KAFKA_PORT
cleanup() {
    scripts/kafka.sh stop >/dev/null 2>&1 || true
    rm -rf "$KAFKA_DATA/data" "$KAFKA_DATA"/broker-*/data 2>/dev/null || true
}
trap cleanup EXIT
scripts/kafka.sh stop >/dev/null 2>&1 || true
rm -rf "$KAFKA_DATA"
scripts/kafka.sh start >"$WORK/kafka.log" 2>&1 || { tail -20 "$WORK/kafka.log" >&2; exit 1; }

python3 bench/scaleout.py --bootstrap "$BOOT" --n "$N" --kafka-data "$KAFKA_DATA" --work "$WORK" "$@" \
    2>&1 | tee "$WORK/report.txt"
exit "${PIPESTATUS[0]}"
