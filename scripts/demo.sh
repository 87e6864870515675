#!/usr/bin/env bash
# scripts/demo.sh - the main job, from nothing: install dependencies, build,
# start a local Kafka broker (KRaft), generate police-call records, produce
# them into topic police.calls, and run scripts/pipeline.lua over them with
# results on the console and progress reports on stderr.
#
#   scripts/demo.sh [RECORDS]        (default 100000)
#
# Environment: KAFKA_PORT (9092), OUTPUT (console; or jsonl:DIR, kafka:PREFIX),
# TRIGGER (available-now: process what is in the topic, then exit).
# The broker keeps running afterwards; stop it with scripts/kafka.sh stop.
set -euo pipefail
cd "$(dirname "$0")/.."

RECORDS=${1:-100000}
OUTPUT=${OUTPUT:-console}
TRIGGER=${TRIGGER:-available-now}
TOPIC=police.calls
say() { printf '\n\033[1m== %s\033[0m\n' "$*" >&2; }

say "dependencies"
scripts/deps.sh
say "build"
make -s all
say "Kafka broker"
BOOTSTRAP=$(scripts/kafka.sh start)
scripts/kafka.sh create-topic "$TOPIC" 4 >&2

# Produce only into an empty topic, so running the demo twice does not
# double every count.
have=$(build/luastream consume --topic "$TOPIC" --bootstrap "$BOOTSTRAP" --from-beginning \
       --to-end --max 1 | wc -l)
if [ "$have" -eq 0 ]; then
    say "generate $RECORDS records and produce them to $TOPIC"
    mkdir -p .run
    python3 scripts/gen_calls.py --count "$RECORDS" --out .run/calls.json
    build/luastream produce .run/calls.json --topic "$TOPIC" --bootstrap "$BOOTSTRAP"
else
    say "$TOPIC already holds records: not producing again (scripts/kafka.sh stop; rm -rf .run/kafka for a fresh start)"
fi

say "run scripts/pipeline.lua (trigger $TRIGGER, output $OUTPUT)"
build/luastream scripts/pipeline.lua --set bootstrap="$BOOTSTRAP" --set topic="$TOPIC" \
    --set output="$OUTPUT" --trigger "$TRIGGER" --progress .run/progress.jsonl

say "done: progress reports in .run/progress.jsonl; the broker is still running at $BOOTSTRAP (scripts/kafka.sh stop)"
