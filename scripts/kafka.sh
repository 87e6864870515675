#!/usr/bin/env bash
# scripts/kafka.sh — owns the local single-node Apache Kafka broker used by luastream's
# tests and demos: KRaft mode (one process is both broker and controller) on 127.0.0.1,
# run straight from the official jars on Maven Central (see scripts/kafka-pom.xml).
#
# Usage: scripts/kafka.sh start | stop | status | bootstrap | create-topic NAME [PARTITIONS]
#                         | delete-topic NAME
#   start         start the broker (idempotent); prints the bootstrap address on stdout
#   stop          stop it (fine when it is not running)
#   status        prints "running" (exit 0) or "stopped" (exit 1)
#   bootstrap     prints the bootstrap address 127.0.0.1:PORT
#   create-topic  creates a topic if it does not exist and waits until clients see it
#   delete-topic  deletes a topic if it exists (its files go shortly after)
# Environment:
#   KAFKA_PORT             client port (default 9092)
#   KAFKA_CONTROLLER_PORT  KRaft controller port (default KAFKA_PORT+1)
#   KAFKA_DATA             state folder (default $REPO/.run/kafka); relative to the caller's cwd
#   KAFKA_JARS             jar folder (default $REPO/.run/kafka-jars); relative to the caller's cwd
#   KAFKA_START_TIMEOUT    seconds to wait for the broker to accept clients (default 90);
#                          on timeout the log tail is shown and the half-started broker stopped
#   KAFKA_STOP_TIMEOUT     seconds to wait after SIGTERM before SIGKILL (default 45)
#   KAFKA_HEAP             JVM heap flags (default "-Xms256m -Xmx512m")
#   JAVA_HOME              if set, $JAVA_HOME/bin/java runs Kafka; otherwise `java` from PATH
# Only the bootstrap address goes to stdout; all other messages go to stderr.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SCRIPT_DIR/.." && pwd)

log() { printf 'kafka.sh: %s\n' "$*" >&2; }
die() { printf 'kafka.sh: error: %s\n' "$*" >&2; exit 1; }

# Make a path absolute relative to the caller's cwd.
abspath() {
    case "$1" in
        /*) printf '%s\n' "$1" ;;
        *) printf '%s/%s\n' "$PWD" "$1" ;;
    esac
}

is_uint() { case "$1" in '' | *[!0-9]*) return 1 ;; *) return 0 ;; esac; }

PORT=${KAFKA_PORT:-9092}
is_uint "$PORT" || die "KAFKA_PORT must be a number, got '$PORT'"
CPORT=${KAFKA_CONTROLLER_PORT:-$((PORT + 1))}
is_uint "$CPORT" || die "KAFKA_CONTROLLER_PORT must be a number, got '$CPORT'"
[ "$PORT" != "$CPORT" ] || die "KAFKA_PORT and KAFKA_CONTROLLER_PORT must differ"
DATA=$(abspath "${KAFKA_DATA:-$REPO/.run/kafka}")
JARS=$(abspath "${KAFKA_JARS:-$REPO/.run/kafka-jars}")
START_TIMEOUT=${KAFKA_START_TIMEOUT:-90}
is_uint "$START_TIMEOUT" || die "KAFKA_START_TIMEOUT must be a number of seconds"
HEAP=${KAFKA_HEAP:-"-Xms256m -Xmx512m"}
BOOTSTRAP="127.0.0.1:$PORT"

PIDFILE="$DATA/kafka.pid"
PROPS="$DATA/server.properties"
LOG4J="$DATA/log4j2.properties"
TOOLS_LOG4J="$DATA/log4j2-tools.properties"
BROKER_LOG="$DATA/broker.log"
STDOUT_LOG="$DATA/kafka.out"
LOGDIR="$DATA/data"

if [ -n "${JAVA_HOME:-}" ]; then
    JAVA="$JAVA_HOME/bin/java"
else
    JAVA=java
fi

# ---------------------------------------------------------------- prerequisites

need_java() {
    command -v "$JAVA" >/dev/null 2>&1 || die "java not found ($JAVA); run scripts/deps.sh"
    local line major
    line=$("$JAVA" -version 2>&1 | head -n 1) || true
    major=$(printf '%s\n' "$line" | sed -n 's/.*version "\([0-9][0-9]*\)\(\.\([0-9][0-9]*\)\)\{0,1\}.*/\1 \3/p')
    # shellcheck disable=SC2086  # split "17 0" into its two numbers
    set -- $major
    if [ "${1:-0}" = 1 ]; then major=${2:-0}; else major=${1:-0}; fi
    [ "$major" -ge 17 ] 2>/dev/null || die "Kafka 4.x needs Java 17 or newer; '$JAVA -version' says: $line"
}

need_kcat() {
    command -v kcat >/dev/null 2>&1 || die "kcat not found; run scripts/deps.sh"
}

have_jars() {
    compgen -G "$JARS/kafka_2.13-*.jar" >/dev/null
}

# Fetch the broker and tools jars with Maven, once. Copies into a scratch folder first so an
# interrupted download never leaves a half-filled jar folder that looks complete.
ensure_jars() {
    have_jars && return 0
    command -v mvn >/dev/null 2>&1 || die "mvn not found; run scripts/deps.sh"
    log "fetching Kafka jars into $JARS (Maven)"
    mkdir -p "$(dirname "$JARS")"
    local tmp mvnlog
    tmp=$(mktemp -d "$(dirname "$JARS")/.kafka-jars.XXXXXX")
    mvnlog="$tmp.log"
    if ! mvn -q -B -Dstyle.color=never -f "$SCRIPT_DIR/kafka-pom.xml" dependency:copy-dependencies \
        -DincludeScope=runtime -DoutputDirectory="$tmp" >"$mvnlog" 2>&1; then
        tail -n 30 "$mvnlog" >&2 || true
        rm -rf "$tmp" "$mvnlog"
        die "Maven could not fetch the Kafka jars"
    fi
    compgen -G "$tmp/kafka_2.13-*.jar" >/dev/null || { rm -rf "$tmp" "$mvnlog"; die "Maven ran but no kafka_2.13 jar appeared"; }
    mkdir -p "$JARS"
    mv "$tmp"/*.jar "$JARS"/
    rm -rf "$tmp" "$mvnlog"
}

# ---------------------------------------------------------------- process helpers

# Prints the broker's pid if the pid file names a live Kafka process for this KAFKA_DATA.
broker_pid() {
    [ -f "$PIDFILE" ] || return 1
    local pid cmd
    pid=$(tr -dc '0-9' <"$PIDFILE" 2>/dev/null) || return 1
    [ -n "$pid" ] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
    case "$cmd" in
        *kafka.Kafka*"$PROPS"*) printf '%s\n' "$pid" ;;
        *) return 1 ;;
    esac
}

port_open() {
    timeout 2 bash -c ": >/dev/tcp/127.0.0.1/$1" 2>/dev/null
}

# True when the broker answers a metadata request and lists itself.
broker_ready() {
    local out
    out=$(kcat -L -b "$BOOTSTRAP" -m 5 2>/dev/null) || return 1
    grep -q "broker [0-9][0-9]* at 127\.0\.0\.1:$PORT" <<<"$out"
}

show_log_tail() {
    local f
    for f in "$BROKER_LOG" "$STDOUT_LOG"; do
        if [ -s "$f" ]; then
            log "last lines of $f:"
            tail -n 40 "$f" >&2 || true
        fi
    done
}

# SIGTERM (Kafka shuts down cleanly on it), a bounded wait, then SIGKILL.
kill_broker() {
    local pid=$1
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + ${KAFKA_STOP_TIMEOUT:-45}))
    while kill -0 "$pid" 2>/dev/null; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            log "broker did not stop in time; sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            sleep 0.5
            break
        fi
        sleep 0.5
    done
    rm -f "$PIDFILE"
}

# Serialises start/stop/create-topic on one KAFKA_DATA (when flock is available).
take_lock() {
    mkdir -p "$DATA"
    command -v flock >/dev/null 2>&1 || return 0
    exec 9>"$DATA/.lock"
    flock -w 180 9 || die "timed out waiting for the lock on $DATA"
}

# ---------------------------------------------------------------- config files

write_configs() {
    mkdir -p "$DATA" "$LOGDIR"
    cat >"$PROPS" <<EOF
# Written by scripts/kafka.sh on every start; edits here are overwritten.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CPORT
controller.listener.names=CONTROLLER
listeners=PLAINTEXT://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$CPORT
advertised.listeners=PLAINTEXT://127.0.0.1:$PORT
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$LOGDIR
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
auto.create.topics.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=10
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=4
log.retention.hours=24
# Records of several MB are legal input (luastream dead-letters them by its own limit).
message.max.bytes=16777216
replica.fetch.max.bytes=16777216
EOF
    cat >"$LOG4J" <<EOF
# Written by scripts/kafka.sh: broker log at INFO into $BROKER_LOG (rolled at 20 MB).
status = warn
name = luastream-kafka-broker
appender.broker.type = RollingFile
appender.broker.name = broker
appender.broker.fileName = $BROKER_LOG
appender.broker.filePattern = $BROKER_LOG.%i
appender.broker.layout.type = PatternLayout
appender.broker.layout.pattern = [%d] %p %m (%c)%n
appender.broker.policies.type = Policies
appender.broker.policies.size.type = SizeBasedTriggeringPolicy
appender.broker.policies.size.size = 20MB
appender.broker.strategy.type = DefaultRolloverStrategy
appender.broker.strategy.max = 2
rootLogger.level = INFO
rootLogger.appenderRef.broker.ref = broker
logger.config.name = org.apache.kafka.common.config
logger.config.level = WARN
logger.utils.name = org.apache.kafka.common.utils.AppInfoParser
logger.utils.level = WARN
EOF
    cat >"$TOOLS_LOG4J" <<EOF
# Written by scripts/kafka.sh: command-line tools log warnings to stderr only.
status = warn
name = luastream-kafka-tools
appender.err.type = Console
appender.err.name = stderr
appender.err.target = SYSTEM_ERR
appender.err.layout.type = PatternLayout
appender.err.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.err.ref = stderr
EOF
}

# Runs a Kafka command-line class from the jar folder, logging to stderr at WARN.
run_tool() {
    # shellcheck disable=SC2086
    "$JAVA" -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true \
        -Dlog4j2.configurationFile="$TOOLS_LOG4J" -cp "$JARS/*" "$@"
}

format_storage() {
    [ -f "$LOGDIR/meta.properties" ] && return 0
    local cid fmtlog
    cid=$(run_tool kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n 1 | tr -d '[:space:]') ||
        die "kafka.tools.StorageTool random-uuid failed"
    [ -n "$cid" ] || die "kafka.tools.StorageTool random-uuid printed nothing"
    log "formatting storage in $LOGDIR (cluster id $cid)"
    fmtlog="$DATA/format.log"
    if ! run_tool kafka.tools.StorageTool format -t "$cid" -c "$PROPS" --ignore-formatted >"$fmtlog" 2>&1; then
        cat "$fmtlog" >&2 || true
        die "formatting Kafka storage failed"
    fi
}

# ---------------------------------------------------------------- commands

cmd_start() {
    need_kcat
    take_lock
    local pid
    if pid=$(broker_pid); then
        if port_open "$PORT" && broker_ready; then
            log "already running (pid $pid)"
            printf '%s\n' "$BOOTSTRAP"
            return 0
        fi
        log "broker process $pid exists but is not ready yet; waiting"
    else
        rm -f "$PIDFILE"
        if port_open "$PORT"; then
            die "port $PORT is already in use by another process (not the broker in $DATA); set KAFKA_PORT"
        fi
        if port_open "$CPORT"; then
            die "controller port $CPORT is already in use by another process; set KAFKA_CONTROLLER_PORT"
        fi
        need_java
        ensure_jars
        write_configs
        format_storage
        log "starting Kafka on $BOOTSTRAP (controller port $CPORT, data in $DATA)"
        # A new session keeps the broker out of the caller's process group, so a ^C or a job
        # kill aimed at the caller doesn't take it down; the inner shell records its own pid
        # and then becomes the JVM.
        # shellcheck disable=SC2086,SC2016  # $HEAP splits into flags; $$ is the inner shell's
        nohup setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' kafka-launch "$PIDFILE" \
            "$JAVA" $HEAP -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExitOnOutOfMemoryError \
            -Djava.awt.headless=true -Dlog4j2.configurationFile="$LOG4J" \
            -Dkafka.logs.dir="$DATA" -cp "$JARS/*" kafka.Kafka "$PROPS" \
            </dev/null >"$STDOUT_LOG" 2>&1 9>&- &
        local _
        for _ in $(seq 1 50); do
            pid=$(broker_pid) && break
            sleep 0.1
        done
        [ -n "${pid:-}" ] || { show_log_tail; rm -f "$PIDFILE"; die "the broker process did not start"; }
    fi

    local deadline=$((SECONDS + START_TIMEOUT))
    while :; do
        if ! kill -0 "$pid" 2>/dev/null; then
            show_log_tail
            rm -f "$PIDFILE"
            die "the broker exited during startup"
        fi
        if port_open "$PORT" && broker_ready; then
            log "ready (pid $pid)"
            printf '%s\n' "$BOOTSTRAP"
            return 0
        fi
        if [ "$SECONDS" -ge "$deadline" ]; then
            show_log_tail
            log "the broker did not accept clients within ${START_TIMEOUT}s; stopping it"
            kill_broker "$pid"
            exit 1
        fi
        sleep 1
    done
}

cmd_stop() {
    take_lock
    local pid
    if ! pid=$(broker_pid); then
        rm -f "$PIDFILE"
        log "not running"
        return 0
    fi
    log "stopping broker (pid $pid)"
    kill_broker "$pid"
    log "stopped"
}

cmd_status() {
    local pid
    if pid=$(broker_pid); then
        log "pid $pid, bootstrap $BOOTSTRAP, data $DATA"
        echo running
        return 0
    fi
    echo stopped
    return 1
}

# Prints "<partitions> <partitions with a leader>" for a topic as kcat sees it, or fails.
topic_state() {
    local out
    out=$(kcat -L -b "$BOOTSTRAP" -t "$1" -m 5 2>/dev/null) || return 1
    awk -v t="$1" '
        $1 == "topic" && $2 == "\"" t "\"" { found = 1; n = $4; next }
        $1 == "topic" { found = 0 }
        found && $1 == "partition" && $3 == "leader" { l = $4; sub(/,$/, "", l); if (l + 0 >= 0) led++ }
        END { if (n == "") exit 1; print n + 0, led + 0 }' <<<"$out"
}

cmd_create_topic() {
    if [ $# -lt 1 ] || [ -z "$1" ]; then die "usage: $0 create-topic NAME [PARTITIONS]"; fi
    local name=$1 parts=${2:-1}
    if ! is_uint "$parts" || [ "$parts" -lt 1 ]; then
        die "PARTITIONS must be a positive number, got '$parts'"
    fi
    need_kcat
    broker_pid >/dev/null || die "the broker is not running; run '$0 start' first"
    need_java
    ensure_jars
    [ -f "$TOOLS_LOG4J" ] || write_configs
    log "creating topic '$name' ($parts partitions) if it does not exist"
    run_tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$BOOTSTRAP" --create \
        --if-not-exists --topic "$name" --partitions "$parts" --replication-factor 1 >&2 ||
        die "creating topic '$name' failed"
    local deadline=$((SECONDS + 60)) state n led
    while :; do
        if state=$(topic_state "$name"); then
            read -r n led <<<"$state"
            if [ "$n" -ge 1 ] && [ "$led" -eq "$n" ]; then
                [ "$n" -eq "$parts" ] || log "note: topic '$name' already existed with $n partitions (asked for $parts)"
                log "topic '$name' ready with $n partitions"
                return 0
            fi
        fi
        [ "$SECONDS" -lt "$deadline" ] || die "topic '$name' did not become visible with all partition leaders within 60s"
        sleep 0.5
    done
}

cmd_delete_topic() {
    if [ $# -ne 1 ] || [ -z "$1" ]; then die "usage: $0 delete-topic NAME"; fi
    broker_pid >/dev/null || die "the broker is not running; run '$0 start' first"
    need_java
    ensure_jars
    [ -f "$TOOLS_LOG4J" ] || write_configs
    log "deleting topic '$1' if it exists"
    run_tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$BOOTSTRAP" --delete \
        --if-exists --topic "$1" >&2 || die "deleting topic '$1' failed"
}

usage() {
    sed -n '6,13p' "$0" | sed 's/^# \{0,1\}//' >&2
}

[ $# -ge 1 ] || { usage; exit 2; }
command=$1
shift
case "$command" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    bootstrap) printf '%s\n' "$BOOTSTRAP" ;;
    create-topic) cmd_create_topic "$@" ;;
    delete-topic) cmd_delete_topic "$@" ;;
    -h | --help | help) usage ;;
    *) usage; exit 2 ;;
esac
