#!/usr/bin/env bash
# scripts/demo.sh - the main job, from nothing, as a live stream: install dependencies, build,
# start a local Kafka broker (KRaft), generate police-call records, then replay them into a
# fresh topic at a steady rate while scripts/pipeline.lua runs on that topic with a
# processing-time trigger. Each batch prints the busiest windows and dispositions and a
# progress line with the input rate beside the processed rate (inputRowsPerSecond,
# processedRowsPerSecond); the web UI charts the same. The demo ends by itself once the
# replay is done and the last batch has caught up (or on Ctrl-C), prints a summary, and
# stops everything it started.
#
#   scripts/demo.sh [RECORDS]                          (default 100000)
#   scripts/demo.sh --compare-triggers "1 second,2 seconds" [RECORDS]
#       replays the same records once per trigger (console output into each run's
#       folder) and prints a table of mean inputRowsPerSecond, processedRowsPerSecond
#       and batch duration per trigger
#
# Environment:
#   DEMO_RATE         records per second the producer replays (default 3000)
#   DEMO_TRIGGER      the pipeline's processing-time trigger (default "2 seconds")
#   DEMO_UI_PORT      the web UI's port on 127.0.0.1 (default: a free one)
#   DEMO_KEEP_BROKER  1: leave the broker running at the end (a broker that was already
#                     running when the demo started is never stopped)
#   DEMO_KEEP_TOPIC   1: keep the run's topic (by default it is deleted at the end)
#   DEMO_DIR          where runs keep their files (default .run/demo)
#   DEMO_STALL_TIMEOUT seconds the pipeline may go without reading a record once the
#                     replay is done before the demo gives up (default 60)
#   OUTPUT            console (default), jsonl:DIR or kafka:PREFIX (the main job only)
#   KAFKA_PORT, KAFKA_CONTROLLER_PORT, KAFKA_DATA  the broker's (see scripts/kafka.sh)
# Exit status: 0 when every record was processed, 130/143 on Ctrl-C/SIGTERM, 1 on an error,
# 2 on a usage error.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\n\033[1m== %s\033[0m\n' "$*" >&2; }
note() { printf '   %s\n' "$*" >&2; }
die() { printf 'demo.sh: error: %s\n' "$*" >&2; exit 1; }
usage_error() { printf 'demo.sh: %s (scripts/demo.sh --help)\n' "$*" >&2; exit 2; }
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
is_uint() { case "$1" in '' | *[!0-9]*) return 1 ;; *) return 0 ;; esac; }

# ---------------------------------------------------------------- arguments

COMPARE=""
RECORDS=""
while [ $# -gt 0 ]; do
    case "$1" in
        --compare-triggers)
            [ $# -ge 2 ] || usage_error "--compare-triggers needs a list, e.g. \"1 second,2 seconds\""
            COMPARE=$2
            shift 2 ;;
        --compare-triggers=*) COMPARE=${1#*=}; shift ;;
        -h | --help) usage; exit 0 ;;
        -*) usage_error "unknown option $1" ;;
        *)
            [ -z "$RECORDS" ] || usage_error "one RECORDS argument at most, got '$RECORDS' and '$1'"
            RECORDS=$1
            shift ;;
    esac
done
RECORDS=${RECORDS:-100000}
is_uint "$RECORDS" && [ "$RECORDS" -gt 0 ] || usage_error "RECORDS must be a positive whole number, got '$RECORDS'"
RATE=${DEMO_RATE:-3000}
is_uint "$RATE" && [ "$RATE" -gt 0 ] || usage_error "DEMO_RATE must be a positive whole number of records/s, got '$RATE'"
STALL=${DEMO_STALL_TIMEOUT:-60}
is_uint "$STALL" || usage_error "DEMO_STALL_TIMEOUT must be a number of seconds, got '$STALL'"
OUTPUT=${OUTPUT:-console}

# The triggers: one, or the comparison's list ("1 second,2 seconds"), each a processing-time
# interval (once and available-now end by themselves before the replay is done).
TRIGGERS=()
if [ -n "$COMPARE" ]; then
    IFS=, read -r -a parts <<<"$COMPARE"
    for t in "${parts[@]}"; do
        t=$(printf '%s' "$t" | sed 's/^[[:space:]]*//; s/[[:space:]]*$//')
        [ -n "$t" ] && TRIGGERS+=("$t")
    done
    [ ${#TRIGGERS[@]} -ge 1 ] || usage_error "--compare-triggers needs at least one trigger"
else
    TRIGGERS=("${DEMO_TRIGGER:-2 seconds}")
fi
for t in "${TRIGGERS[@]}"; do
    case "$t" in
        once | available-now)
            usage_error "the demo needs a processing-time trigger (\"2 seconds\", 500ms), not '$t': it runs while the records arrive" ;;
    esac
done

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
port_free() {
    python3 -c 'import socket, sys; s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1])))' "$1" 2>/dev/null
}
if [ -n "${DEMO_UI_PORT:-}" ]; then
    is_uint "$DEMO_UI_PORT" && [ "$DEMO_UI_PORT" -ge 1 ] && [ "$DEMO_UI_PORT" -le 65535 ] ||
        usage_error "DEMO_UI_PORT must be a port number, got '$DEMO_UI_PORT'"
    UI_PORT=$DEMO_UI_PORT
else
    UI_PORT=$(free_port)
fi

RUN_ID=$(date -u +%Y%m%dT%H%M%SZ)-$$
DEMO_DIR=${DEMO_DIR:-.run/demo}
RUN_DIR=$DEMO_DIR/$RUN_ID
CALLS=$DEMO_DIR/calls-$RECORDS.json
mkdir -p "$RUN_DIR"

# ---------------------------------------------------------------- what runs, and stopping it

PIPELINE_PID=""
PRODUCER_PID=""
BROKER_STARTED=0   # 1: this run started the broker (so it stops it)
TOPICS=()          # the topics this run created
BOOTSTRAP=""
CUR_PROGRESS=""    # the progress file of the stream running now (for a summary on Ctrl-C)
CUR_LABEL=""
SUMMARY_DONE=1

# Waits up to $2 seconds for process $1 (a child of this shell) to end. Sets RC to its
# exit status, or to "alive" if it is still running. (Not in a $(...): a subshell cannot
# wait for this shell's children.)
RC=""
wait_for() {
    local pid=$1 deadline=$((SECONDS + $2))
    RC=0
    while kill -0 "$pid" 2>/dev/null; do
        if [ "$SECONDS" -ge "$deadline" ]; then RC=alive; return; fi
        sleep 0.2
    done
    wait "$pid" 2>/dev/null || RC=$?
}

# SIGINT (the program finishes what is in progress and exits), a bounded wait, then SIGKILL.
# Sets RC to the exit status.
stop_child() {
    local pid=$1 what=$2
    kill -INT "$pid" 2>/dev/null || true
    wait_for "$pid" 30
    if [ "$RC" = alive ]; then
        note "$what did not stop within 30 s of SIGINT: killing it"
        kill -KILL "$pid" 2>/dev/null || true
        wait_for "$pid" 5
    fi
}

summary() {
    local progress=$1
    SUMMARY_DONE=1
    python3 scripts/demo_report.py summary "$progress" >&2 || true
    [ ! -s "$progress" ] || note "progress    $progress (one JSON report per query per batch)"
}

on_exit() {
    local rc=$?
    # No more signals; a terminal or pipe gone away (| tee killed by the same Ctrl-C) makes
    # writes fail instead of ending this shell before it has stopped what it started.
    trap '' INT TERM HUP PIPE
    set +e
    if [ -n "$PRODUCER_PID" ]; then
        stop_child "$PRODUCER_PID" "the producer"
        PRODUCER_PID=""
    fi
    if [ -n "$PIPELINE_PID" ]; then
        stop_child "$PIPELINE_PID" "the pipeline"
        PIPELINE_PID=""
    fi
    if [ "$SUMMARY_DONE" = 0 ] && [ -n "$CUR_PROGRESS" ]; then
        say "summary${CUR_LABEL:+ ($CUR_LABEL)}: stopped before the end"
        summary "$CUR_PROGRESS"
    fi
    if [ ${#TOPICS[@]} -gt 0 ] && [ "${DEMO_KEEP_TOPIC:-0}" != 1 ]; then
        for t in "${TOPICS[@]}"; do
            if scripts/kafka.sh delete-topic "$t" >>"$RUN_DIR/kafka.log" 2>&1; then
                note "topic $t deleted (DEMO_KEEP_TOPIC=1 keeps it)"
            else
                note "could not delete topic $t (see $RUN_DIR/kafka.log)"
            fi
        done
    elif [ ${#TOPICS[@]} -gt 0 ]; then
        note "topic(s) kept (DEMO_KEEP_TOPIC=1): ${TOPICS[*]}"
    fi
    if [ "$BROKER_STARTED" = 1 ]; then
        if [ "${DEMO_KEEP_BROKER:-0}" = 1 ]; then
            note "the broker is still running at $BOOTSTRAP (DEMO_KEEP_BROKER=1): scripts/kafka.sh stop"
        else
            scripts/kafka.sh stop >>"$RUN_DIR/kafka.log" 2>&1 || note "stopping the broker failed (see $RUN_DIR/kafka.log)"
            note "broker stopped (DEMO_KEEP_BROKER=1 leaves it running)"
        fi
    elif [ -n "$BOOTSTRAP" ]; then
        note "the broker at $BOOTSTRAP was already running before the demo: left running"
    fi
    exit "$rc"
}
on_signal() {
    trap '' PIPE
    set +e
    printf '\n' >&2
    say "$1: stopping"
    case "$1" in SIGTERM) exit 143 ;; SIGHUP) exit 129 ;; *) exit 130 ;; esac
}
trap on_exit EXIT
trap 'on_signal SIGINT' INT
trap 'on_signal SIGTERM' TERM
trap 'on_signal SIGHUP' HUP

# ---------------------------------------------------------------- one stream

# Messages of TOPIC the pipeline has read so far, from its progress reports.
consumed() { python3 scripts/demo_report.py consumed "$1" "$2"; }

# Quiet runs (--compare-triggers): echoes the progress lines of crime_type_counts that the
# pipeline has written to $1 since the last call (SHOWN counts the log's lines shown).
SHOWN=0
show_batches() {
    [ -f "$1" ] || return 0
    local n
    n=$(wc -l <"$1")
    [ "$n" -gt "$SHOWN" ] || return 0
    sed -n "$((SHOWN + 1)),${n}p" "$1" | grep '^\[crime_type_counts\] batch' | sed 's/^/   /' >&2 || true
    SHOWN=$n
}

# Fails (with the pipeline's exit status) when the pipeline is no longer running.
pipeline_alive() {
    kill -0 "$PIPELINE_PID" 2>/dev/null && return 0
    local rc=0
    wait "$PIPELINE_PID" 2>/dev/null || rc=$?
    PIPELINE_PID=""
    die "the pipeline exited early (status $rc)${1:+; $1}"
}

# run_stream LABEL TRIGGER DIR LIVE: a fresh topic; the pipeline on it with TRIGGER and the
# web UI; the producer replaying $CALLS at $RATE; waits for the replay to end and the
# pipeline to catch up, then stops the pipeline with SIGINT (it finishes the batch in
# progress). LIVE=1: both print on the terminal; 0: into DIR.
run_stream() {
    local label=$1 trigger=$2 dir=$3 live=$4
    local topic="police.calls.$RUN_ID${label:+.$label}"
    local progress="$dir/progress.jsonl" output=$OUTPUT logs="" plog=/dev/null
    mkdir -p "$dir"
    [ "$live" = 1 ] || output=console
    if ! scripts/kafka.sh create-topic "$topic" 4 >"$dir/topic.log" 2>&1; then
        cat "$dir/topic.log" >&2
        die "could not create topic $topic"
    fi
    TOPICS+=("$topic")
    if [ -z "${DEMO_UI_PORT:-}" ] && ! port_free "$UI_PORT"; then
        UI_PORT=$(free_port)
        note "the web UI moved to a free port: http://127.0.0.1:$UI_PORT/"
    fi
    CUR_PROGRESS=$progress
    CUR_LABEL=$trigger
    SUMMARY_DONE=0
    # setsid: the programs have process groups of their own, so a Ctrl-C reaches this script
    # alone and each program gets exactly one SIGINT from on_exit (a second one would end
    # the pipeline at once, in the middle of a batch).
    local cmd=(build/luastream scripts/pipeline.lua --set "bootstrap=$BOOTSTRAP" --set "topic=$topic"
               --set "output=$output" --trigger "$trigger" --progress "$progress"
               --ui "127.0.0.1:$UI_PORT")
    if [ "$live" = 1 ]; then
        setsid "${cmd[@]}" &
    else
        logs=" (console output in $dir/console.txt, log in $dir/pipeline.log)"
        plog=$dir/pipeline.log
        SHOWN=0
        setsid "${cmd[@]}" >"$dir/console.txt" 2>"$dir/pipeline.log" &
    fi
    PIPELINE_PID=$!
    # The producer starts once the pipeline serves its health check (it has opened its source).
    local deadline=$((SECONDS + 60))
    until curl -sf -o /dev/null --max-time 1 "http://127.0.0.1:$UI_PORT/healthz"; do
        pipeline_alive "$logs"
        [ "$SECONDS" -lt "$deadline" ] || die "the pipeline did not answer on http://127.0.0.1:$UI_PORT/healthz within 60 s$logs"
        sleep 0.2
    done
    if [ "$live" = 1 ]; then
        setsid build/luastream produce "$CALLS" --topic "$topic" --bootstrap "$BOOTSTRAP" --rate "$RATE" &
    else
        note "trigger $trigger: web UI http://127.0.0.1:$UI_PORT/, topic $topic, replaying $RECORDS records at $RATE records/s"
        setsid build/luastream produce "$CALLS" --topic "$topic" --bootstrap "$BOOTSTRAP" --rate "$RATE" \
            2>"$dir/producer.log" &
    fi
    PRODUCER_PID=$!
    while kill -0 "$PRODUCER_PID" 2>/dev/null; do
        pipeline_alive "$logs"
        show_batches "$plog"
        sleep 0.5
    done
    local rc=0
    wait "$PRODUCER_PID" || rc=$?
    PRODUCER_PID=""
    if [ "$rc" -ne 0 ]; then
        [ "$live" = 1 ] || tail -n 5 "$dir/producer.log" >&2
        die "the producer failed (status $rc)"
    fi
    # Caught up: the pipeline's progress reports show every produced record read.
    local n last=-1 since=$SECONDS
    while :; do
        n=$(consumed "$progress" "$topic")
        [ "$n" -lt "$RECORDS" ] || break
        pipeline_alive "$logs"
        show_batches "$plog"
        if [ "$n" != "$last" ]; then
            last=$n
            since=$SECONDS
        elif [ $((SECONDS - since)) -ge "$STALL" ]; then
            die "the pipeline has read $n of $RECORDS records and read nothing for ${STALL}s$logs"
        fi
        sleep 0.5
    done
    stop_child "$PIPELINE_PID" "the pipeline"
    PIPELINE_PID=""
    show_batches "$plog"
    [ "$RC" = 0 ] || die "the pipeline exited with status $RC on SIGINT$logs"
}

# ---------------------------------------------------------------- the job

if [ -n "$COMPARE" ]; then
    list=$(printf '"%s", ' "${TRIGGERS[@]}")
    say "luastream demo, comparing triggers ${list%, } over $RECORDS police calls replayed at $RATE records/s"
else
    say "luastream demo: $RECORDS police calls replayed at $RATE records/s, scripts/pipeline.lua every ${TRIGGERS[0]}"
    note "web UI: http://127.0.0.1:$UI_PORT/ (live charts of input against processed rows per second)"
fi
note "run $RUN_ID, files in $RUN_DIR"

say "dependencies"
scripts/deps.sh
say "build"
make -s all

say "Kafka broker"
if scripts/kafka.sh status >/dev/null 2>&1; then
    BOOTSTRAP=$(scripts/kafka.sh start)
    note "already running at $BOOTSTRAP: it stays running afterwards"
else
    BROKER_STARTED=1
    BOOTSTRAP=$(scripts/kafka.sh start)
fi

if [ -s "$CALLS" ]; then
    say "$RECORDS generated calls in $CALLS (gen_calls.py --seed 42)"
else
    say "generate $RECORDS calls into $CALLS"
    python3 scripts/gen_calls.py --count "$RECORDS" --seed 42 --out "$CALLS.tmp"
    mv "$CALLS.tmp" "$CALLS"
fi

if [ -z "$COMPARE" ]; then
    say "stream: the producer replays $RECORDS calls at $RATE records/s; scripts/pipeline.lua runs every ${TRIGGERS[0]}, output $OUTPUT"
    note "web UI: http://127.0.0.1:$UI_PORT/"
    run_stream "" "${TRIGGERS[0]}" "$RUN_DIR" 1
    say "summary: the replay is done and the pipeline has caught up"
    summary "$RUN_DIR/progress.jsonl"
    case "$OUTPUT" in
        console) note "outputs     the tables above (OUTPUT=jsonl:DIR writes every row to files)" ;;
        jsonl:*) note "outputs     ${OUTPUT#jsonl:}/crime_type_counts.jsonl, ${OUTPUT#jsonl:}/disposition_counts.jsonl" ;;
        *) note "outputs     $OUTPUT" ;;
    esac
    note "the web UI was at http://127.0.0.1:$UI_PORT/ while the pipeline ran"
else
    args=()
    i=0
    for t in "${TRIGGERS[@]}"; do
        i=$((i + 1))
        say "run $i of ${#TRIGGERS[@]}: trigger $t"
        run_stream "t$i" "$t" "$RUN_DIR/t$i" 0
        summary "$RUN_DIR/t$i/progress.jsonl"
        args+=("$t=$RUN_DIR/t$i/progress.jsonl")
    done
    say "triggers compared: $RECORDS records replayed at $RATE records/s, means per batch"
    python3 scripts/demo_report.py compare --json "$RUN_DIR/compare.json" "${args[@]}"
    note "the same table as JSON in $RUN_DIR/compare.json; each run's files in $RUN_DIR/tN/"
fi
