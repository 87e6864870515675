#!/usr/bin/env bash
# scripts/kafka.sh — owns the local Apache Kafka used by luastream's tests and demos: a
# single-node broker (the default) or a cluster of three (`start --brokers 3`), in KRaft
# mode on 127.0.0.1, run straight from the official jars on Maven Central (see
# scripts/kafka-pom.xml).
#
# Usage: scripts/kafka.sh start [--brokers N | --node I] | stop [--node I] | status | bootstrap
#                         | create-topic NAME [PARTITIONS [REPLICATION]] | delete-topic NAME
#   start         start the broker (idempotent); prints the bootstrap address on stdout
#   stop          stop it (fine when it is not running)
#   status        prints "running" (exit 0) or "stopped" (exit 1); a cluster with some
#                 brokers down prints "degraded" (exit 3)
#   bootstrap     prints the bootstrap address 127.0.0.1:PORT (a cluster: all brokers, comma-separated)
#   create-topic  creates a topic if it does not exist and waits until clients see it with
#                 every partition's replicas in sync (replication factor: 1, on a cluster 3)
#   delete-topic  deletes a topic if it exists (its files go shortly after)
#   --brokers N   (start) a cluster of N >= 3 brokers instead of one; recorded in KAFKA_DATA,
#                 so later commands (start, stop, status, ...) act on the whole cluster
#   --node I      (start, stop) only broker I of the cluster (1..N): stop one to test an outage,
#                 start it again to end it (`start` alone also starts every broker that is down)
#
# A cluster (--brokers N) is N combined KRaft nodes: each process is a broker and one of the
# N controller voters (a static quorum), so the controller quorum survives losing any one
# node (a minority) with no extra processes; broker i is node id i with its own state in
# KAFKA_DATA/broker-i. Internal topics (consumer offsets, transaction state, share groups)
# have replication factor 3 and min.insync.replicas 2, and so do new topics by default, so
# producers with acks=all, transactions and consumer groups keep working while one broker
# is down. The single broker (no --brokers) is unchanged: KAFKA_DATA holds its state.
#
# Environment:
#   KAFKA_PORT             client port (default 9092); a cluster's broker 1
#   KAFKA_CONTROLLER_PORT  KRaft controller port (default KAFKA_PORT+1); a cluster's broker 1
#   KAFKA_PORTS            a cluster's client ports, comma-separated, one per broker
#                          (default KAFKA_PORT, KAFKA_PORT+2, KAFKA_PORT+4, ...)
#   KAFKA_CONTROLLER_PORTS a cluster's controller ports, comma-separated
#                          (default KAFKA_CONTROLLER_PORT, +2, +4, ...)
#   KAFKA_DATA             state folder (default $REPO/.run/kafka); relative to the caller's cwd
#   KAFKA_JARS             jar folder (default $REPO/.run/kafka-jars); relative to the caller's cwd
#   KAFKA_START_TIMEOUT    seconds to wait for the broker to accept clients (default 90);
#                          on timeout the log tail is shown and the half-started broker stopped
#   KAFKA_STOP_TIMEOUT     seconds to wait after SIGTERM before SIGKILL (default 45)
#   KAFKA_HEAP             JVM heap flags (default "-Xms256m -Xmx512m"), per broker
#   JAVA_HOME              if set, $JAVA_HOME/bin/java runs Kafka; otherwise `java` from PATH
# Only the bootstrap address (and status's word) goes to stdout; all other messages go to stderr.
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
# A cluster's record (--brokers N): its size and KRaft cluster id, in KAFKA_DATA.
CLUSTER_CONF="$DATA/cluster.conf"

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

# True when the broker answers a metadata request and lists itself (by default the single
# broker; a cluster's node passes its own address and port).
broker_ready() {
    local out
    out=$(kcat -L -b "${1:-$BOOTSTRAP}" -m 5 2>/dev/null) || return 1
    grep -Eq "broker [0-9]+ at 127\.0\.0\.1:${2:-$PORT}( |\$)" <<<"$out"
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

# server.properties of one node: write_server_props HEADER NODE_ID VOTERS PORT CPORT RF ISR.
# The single broker and every cluster node differ only in these: the node, the quorum's voters,
# its ports, and replication (RF copies of every topic, ISR of them needed for a write).
write_server_props() {
    local header=$1 node=$2 voters=$3 port=$4 cport=$5 rf=$6 isr=$7
    cat >"$PROPS" <<EOF
# Written by scripts/kafka.sh on every start$header; edits here are overwritten.
process.roles=broker,controller
node.id=$node
controller.quorum.voters=$voters
controller.listener.names=CONTROLLER
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$LOGDIR
num.partitions=1
default.replication.factor=$rf
min.insync.replicas=$isr
auto.create.topics.enable=true
offsets.topic.replication.factor=$rf
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=$rf
transaction.state.log.min.isr=$isr
transaction.state.log.num.partitions=10
share.coordinator.state.topic.replication.factor=$rf
share.coordinator.state.topic.min.isr=$isr
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=4
log.retention.hours=24
# Records of several MB are legal input (luastream dead-letters them by its own limit).
message.max.bytes=16777216
replica.fetch.max.bytes=16777216
EOF
}

write_configs() {
    mkdir -p "$DATA" "$LOGDIR"
    write_server_props "" 1 "1@127.0.0.1:$CPORT" "$PORT" "$CPORT" 1 1
    write_broker_log4j "$LOG4J" "$BROKER_LOG"
    write_tools_log4j
}

# The broker's log4j2 file ($1), logging at INFO into $2.
write_broker_log4j() {
    cat >"$1" <<EOF
# Written by scripts/kafka.sh: broker log at INFO into $2 (rolled at 20 MB).
status = warn
name = luastream-kafka-broker
appender.broker.type = RollingFile
appender.broker.name = broker
appender.broker.fileName = $2
appender.broker.filePattern = $2.%i
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
}

write_tools_log4j() {
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


# ---------------------------------------------------------------- a cluster (--brokers N)

# The cluster's size recorded in KAFKA_DATA (0 when KAFKA_DATA holds no cluster).
recorded_brokers() {
    [ -f "$CLUSTER_CONF" ] || { echo 0; return 0; }
    local n
    n=$(sed -n 's/^brokers=//p' "$CLUSTER_CONF" | head -n 1)
    if ! is_uint "$n" || [ "$n" -lt 3 ]; then
        die "$CLUSTER_CONF is damaged (no brokers=N line); stop the cluster's processes and remove $DATA"
    fi
    echo "$n"
}

# Fills NODE_PORTS/NODE_CPORTS (index 1..BROKERS) from KAFKA_PORTS/KAFKA_CONTROLLER_PORTS
# or the defaults (broker i: KAFKA_PORT + 2(i-1) and KAFKA_CONTROLLER_PORT + 2(i-1)), and
# sets BOOTSTRAP to every broker's address and VOTERS to the controller quorum.
cluster_ports() {
    local i p list seen=" "
    NODE_PORTS=("") NODE_CPORTS=("")
    if [ -n "${KAFKA_PORTS:-}" ]; then
        IFS=, read -r -a list <<<"$KAFKA_PORTS"
        [ "${#list[@]}" -eq "$BROKERS" ] || die "KAFKA_PORTS names ${#list[@]} ports for $BROKERS brokers"
        NODE_PORTS+=("${list[@]}")
    else
        for ((i = 0; i < BROKERS; i++)); do NODE_PORTS+=($((PORT + 2 * i))); done
    fi
    if [ -n "${KAFKA_CONTROLLER_PORTS:-}" ]; then
        IFS=, read -r -a list <<<"$KAFKA_CONTROLLER_PORTS"
        [ "${#list[@]}" -eq "$BROKERS" ] || die "KAFKA_CONTROLLER_PORTS names ${#list[@]} ports for $BROKERS brokers"
        NODE_CPORTS+=("${list[@]}")
    else
        for ((i = 0; i < BROKERS; i++)); do NODE_CPORTS+=($((CPORT + 2 * i))); done
    fi
    BOOTSTRAP=""
    VOTERS=""
    for ((i = 1; i <= BROKERS; i++)); do
        for p in "${NODE_PORTS[i]}" "${NODE_CPORTS[i]}"; do
            is_uint "$p" || die "a cluster port must be a number, got '$p'"
            case "$seen" in
                *" $p "*) die "port $p is given twice (a cluster's client and controller ports must all differ)" ;;
            esac
            seen="$seen$p "
        done
        BOOTSTRAP="${BOOTSTRAP:+$BOOTSTRAP,}127.0.0.1:${NODE_PORTS[i]}"
        VOTERS="${VOTERS:+$VOTERS,}$i@127.0.0.1:${NODE_CPORTS[i]}"
    done
}

# Points the per-broker paths (PIDFILE, PROPS, ...) at broker $1 of the cluster.
use_node() {
    NODE=$1
    NODE_DIR="$DATA/broker-$1"
    PIDFILE="$NODE_DIR/kafka.pid"
    PROPS="$NODE_DIR/server.properties"
    LOG4J="$NODE_DIR/log4j2.properties"
    BROKER_LOG="$NODE_DIR/broker.log"
    STDOUT_LOG="$NODE_DIR/kafka.out"
    LOGDIR="$NODE_DIR/data"
}

# A cluster node's settings differ from the single broker's in the quorum (N voters) and in
# replication: 3 copies of everything, 2 of them needed for an acknowledged write.
write_node_configs() {
    mkdir -p "$NODE_DIR" "$LOGDIR"
    write_server_props " of broker $NODE of $BROKERS" "$NODE" "$VOTERS" "${NODE_PORTS[NODE]}" \
        "${NODE_CPORTS[NODE]}" 3 2
    write_broker_log4j "$LOG4J" "$BROKER_LOG"
}

# One KRaft cluster id for every broker's storage, kept in the cluster's record.
cluster_id() {
    local cid
    cid=$(sed -n 's/^cluster\.id=//p' "$CLUSTER_CONF" 2>/dev/null | head -n 1)
    if [ -z "$cid" ]; then
        cid=$(run_tool kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n 1 | tr -d '[:space:]') ||
            die "kafka.tools.StorageTool random-uuid failed"
        [ -n "$cid" ] || die "kafka.tools.StorageTool random-uuid printed nothing"
    fi
    printf 'brokers=%s\ncluster.id=%s\n' "$BROKERS" "$cid" >"$CLUSTER_CONF"
    printf '%s\n' "$cid"
}

# Formats the storage of the brokers named in $@ that have none yet, all at once (each
# format is a JVM start).
format_nodes() {
    local cid i pids=() nodes=() failed=0
    cid=$(cluster_id)
    for i in "$@"; do
        use_node "$i"
        [ -f "$LOGDIR/meta.properties" ] && continue
        log "formatting storage of broker $i in $LOGDIR (cluster id $cid)"
        run_tool kafka.tools.StorageTool format -t "$cid" -c "$PROPS" --ignore-formatted \
            >"$NODE_DIR/format.log" 2>&1 &
        pids+=($!)
        nodes+=("$i")
    done
    for i in "${!pids[@]}"; do
        if ! wait "${pids[i]}"; then
            cat "$DATA/broker-${nodes[i]}/format.log" >&2 || true
            log "formatting the storage of broker ${nodes[i]} failed"
            failed=1
        fi
    done
    [ "$failed" = 0 ] || die "formatting Kafka storage failed"
}

# Starts the JVM of the broker whose files $PIDFILE, $PROPS, $LOG4J and $STDOUT_LOG name, its
# logs in $1, and waits (5 s at most) for the pid it records. A new session keeps the broker
# out of the caller's process group, so a ^C or a job kill aimed at the caller doesn't take it
# down; the inner shell records its own pid and then becomes the JVM. On failure: the log's
# tail, and $2 as the error.
launch_jvm() {
    local logs=$1 failure=$2
    # shellcheck disable=SC2086,SC2016  # $HEAP splits into flags; $$ is the inner shell's
    nohup setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' kafka-launch "$PIDFILE" \
        "$JAVA" $HEAP -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExitOnOutOfMemoryError \
        -Djava.awt.headless=true -Dlog4j2.configurationFile="$LOG4J" \
        -Dkafka.logs.dir="$logs" -cp "$JARS/*" kafka.Kafka "$PROPS" \
        </dev/null >"$STDOUT_LOG" 2>&1 9>&- &
    local _
    for _ in $(seq 1 50); do
        broker_pid >/dev/null && return 0
        sleep 0.1
    done
    show_log_tail
    rm -f "$PIDFILE"
    die "$failure"
}

# Starts the current node's JVM.
launch_node() {
    log "starting broker $NODE on 127.0.0.1:${NODE_PORTS[NODE]} (controller port ${NODE_CPORTS[NODE]}, data in $NODE_DIR)"
    launch_jvm "$NODE_DIR" "the process of broker $NODE did not start"
}

# SIGTERM to every broker named in $@ at once, then kill_broker's bounded wait and SIGKILL
# for each. (Stopping them one after the other would leave the last ones without a
# controller quorum for their controlled shutdown, which then waits out its timeout.)
stop_nodes() {
    local i pid pids=() nodes=()
    for i in "$@"; do
        use_node "$i"
        if pid=$(broker_pid); then
            log "stopping broker $i (pid $pid)"
            kill -TERM "$pid" 2>/dev/null || true
            pids+=("$pid")
            nodes+=("$i")
        else
            rm -f "$PIDFILE"
        fi
    done
    for i in "${!pids[@]}"; do
        use_node "${nodes[i]}"
        kill_broker "${pids[i]}"
    done
    [ "${#pids[@]}" -gt 0 ] || log "not running"
}

# start --brokers N, or start --node I ($1) of a recorded cluster.
cluster_start() {
    local only=$1 i pid nodes=() launched=() waiting=()
    need_kcat
    take_lock
    if [ -n "$only" ]; then nodes=("$only"); else mapfile -t nodes < <(seq 1 "$BROKERS"); fi
    for i in "${nodes[@]}"; do
        use_node "$i"
        if broker_pid >/dev/null; then
            waiting+=("$i")
            continue
        fi
        rm -f "$PIDFILE"
        if port_open "${NODE_PORTS[i]}"; then
            die "port ${NODE_PORTS[i]} (broker $i) is already in use by another process; set KAFKA_PORTS"
        fi
        if port_open "${NODE_CPORTS[i]}"; then
            die "controller port ${NODE_CPORTS[i]} (broker $i) is already in use by another process; set KAFKA_CONTROLLER_PORTS"
        fi
        launched+=("$i")
    done
    if [ "${#launched[@]}" -gt 0 ]; then
        need_java
        ensure_jars
        write_tools_log4j
        for i in "${launched[@]}"; do use_node "$i"; write_node_configs; done
        format_nodes "${launched[@]}"
        for i in "${launched[@]}"; do use_node "$i"; launch_node; done
        waiting+=("${launched[@]}")
    fi

    # A broker is ready once it answers and lists itself: it has registered with the
    # controller quorum, which takes a majority of the voters running.
    local deadline=$((SECONDS + START_TIMEOUT)) left
    while :; do
        left=()
        for i in "${waiting[@]}"; do
            use_node "$i"
            if ! broker_pid >/dev/null; then
                show_log_tail
                stop_nodes "${launched[@]}"
                die "broker $i exited during startup"
            fi
            if ! port_open "${NODE_PORTS[i]}" || ! broker_ready "127.0.0.1:${NODE_PORTS[i]}" "${NODE_PORTS[i]}"; then
                left+=("$i")
            fi
        done
        [ "${#left[@]}" -gt 0 ] || break
        if [ "$SECONDS" -ge "$deadline" ]; then
            for i in "${left[@]}"; do use_node "$i"; show_log_tail; done
            log "broker(s) ${left[*]} did not accept clients within ${START_TIMEOUT}s; stopping the brokers this start launched"
            stop_nodes "${launched[@]}"
            exit 1
        fi
        sleep 1
    done
    for i in "${nodes[@]}"; do
        use_node "$i"
        pid=$(broker_pid)
        case " ${launched[*]} " in
            *" $i "*) log "broker $i ready (pid $pid)" ;;
            *) log "broker $i already running (pid $pid)" ;;
        esac
    done
    printf '%s\n' "$BOOTSTRAP"
}

cluster_stop() {
    take_lock
    if [ -n "$1" ]; then
        stop_nodes "$1"
    else
        # shellcheck disable=SC2046  # one argument per broker
        stop_nodes $(seq 1 "$BROKERS")
    fi
    log "stopped"
}

cluster_status() {
    local i pid up=0
    for ((i = 1; i <= BROKERS; i++)); do
        use_node "$i"
        if pid=$(broker_pid); then
            log "broker $i: pid $pid, 127.0.0.1:${NODE_PORTS[i]}, data $NODE_DIR"
            up=$((up + 1))
        else
            log "broker $i: stopped"
        fi
    done
    if [ "$up" -eq "$BROKERS" ]; then echo running; return 0; fi
    if [ "$up" -eq 0 ]; then echo stopped; return 1; fi
    echo degraded
    return 3
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
        launch_jvm "$DATA" "the broker process did not start"
        pid=$(broker_pid)
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

# True when the broker (on a cluster: any of them) is running.
some_broker_running() {
    [ "$BROKERS" -gt 1 ] || { broker_pid >/dev/null; return; }
    local i
    for ((i = 1; i <= BROKERS; i++)); do
        use_node "$i"
        broker_pid >/dev/null && return 0
    done
    return 1
}

# The command-line tools' log4j file, if no start wrote it yet.
tools_config() {
    [ ! -f "$TOOLS_LOG4J" ] || return 0
    if [ "$BROKERS" -eq 1 ]; then write_configs; else write_tools_log4j; fi
}

# Prints "<partitions> <partitions with a leader>" for a topic as kcat sees it, or fails.
# On a cluster a partition counts once its replicas are all in sync as well.
topic_state() {
    local out
    out=$(kcat -L -b "$BOOTSTRAP" -t "$1" -m 5 2>/dev/null) || return 1
    awk -v t="$1" -v cluster=$((BROKERS > 1)) '
        $1 == "topic" && $2 == "\"" t "\"" { found = 1; n = $4; next }
        $1 == "topic" { found = 0 }
        found && $1 == "partition" && $3 == "leader" {
            l = $4; sub(/,$/, "", l)
            rs = $6; sub(/,$/, "", rs); is = $8; sub(/,$/, "", is)
            if (cluster && !($5 == "replicas:" && $7 == "isrs:" && split(rs, r, ",") == split(is, s, ","))) next
            if (l + 0 >= 0) led++
        }
        END { if (n == "") exit 1; print n + 0, led + 0 }' <<<"$out"
}

cmd_create_topic() {
    if [ $# -lt 1 ] || [ -z "$1" ]; then die "usage: $0 create-topic NAME [PARTITIONS [REPLICATION]]"; fi
    local name=$1 parts=${2:-1}
    if ! is_uint "$parts" || [ "$parts" -lt 1 ]; then
        die "PARTITIONS must be a positive number, got '$parts'"
    fi
    local rf=${3:-1}
    [ "$BROKERS" -eq 1 ] || rf=${3:-3}
    if ! is_uint "$rf" || [ "$rf" -lt 1 ] || [ "$rf" -gt "$BROKERS" ]; then
        die "REPLICATION must be a number from 1 to $BROKERS (the brokers), got '$rf'"
    fi
    need_kcat
    some_broker_running || die "the broker is not running; run '$0 start' first"
    need_java
    ensure_jars
    tools_config
    if [ "$BROKERS" -eq 1 ]; then
        log "creating topic '$name' ($parts partitions) if it does not exist"
    else
        log "creating topic '$name' ($parts partitions, replication factor $rf) if it does not exist"
    fi
    run_tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$BOOTSTRAP" --create \
        --if-not-exists --topic "$name" --partitions "$parts" --replication-factor "$rf" >&2 ||
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
        if [ "$SECONDS" -ge "$deadline" ]; then
            [ "$BROKERS" -eq 1 ] || die "topic '$name' did not become visible with all partition leaders and replicas in sync within 60s"
            die "topic '$name' did not become visible with all partition leaders within 60s"
        fi
        sleep 0.5
    done
}

cmd_delete_topic() {
    if [ $# -ne 1 ] || [ -z "$1" ]; then die "usage: $0 delete-topic NAME"; fi
    some_broker_running || die "the broker is not running; run '$0 start' first"
    need_java
    ensure_jars
    tools_config
    log "deleting topic '$1' if it exists"
    run_tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$BOOTSTRAP" --delete \
        --if-exists --topic "$1" >&2 || die "deleting topic '$1' failed"
}

usage() {
    sed -n '7,21p' "$0" | sed 's/^# \{0,1\}//' >&2
}

[ $# -ge 1 ] || { usage; exit 2; }
command=$1
shift

# --brokers N (start) and --node I (start, stop); the cluster's size is recorded in KAFKA_DATA
# by its first start, so every later command knows it.
OPT_BROKERS="" OPT_NODE=""
if [ "$command" = start ] || [ "$command" = stop ]; then
    while [ $# -gt 0 ]; do
        case "$1" in
            --brokers) [ "$command" = start ] && [ $# -ge 2 ] || { usage; exit 2; }; OPT_BROKERS=$2; shift 2 ;;
            --brokers=*) [ "$command" = start ] || { usage; exit 2; }; OPT_BROKERS=${1#*=}; shift ;;
            --node) [ $# -ge 2 ] || { usage; exit 2; }; OPT_NODE=$2; shift 2 ;;
            --node=*) OPT_NODE=${1#*=}; shift ;;
            *) usage; exit 2 ;;
        esac
    done
fi
RECORDED=$(recorded_brokers) || exit 1
BROKERS=1
if [ -n "$OPT_BROKERS" ]; then
    if ! is_uint "$OPT_BROKERS" || [ "$OPT_BROKERS" -eq 0 ] || [ "$OPT_BROKERS" -eq 2 ] || [ "$OPT_BROKERS" -gt 9 ]; then
        die "--brokers must be 1 or 3 to 9 (a cluster keeps 3 replicas), got '$OPT_BROKERS'"
    fi
    if [ "$RECORDED" -gt 0 ] && [ "$RECORDED" != "$OPT_BROKERS" ]; then
        die "$DATA holds a cluster of $RECORDED brokers, not $OPT_BROKERS; stop it and set another KAFKA_DATA"
    fi
    if [ "$OPT_BROKERS" -gt 1 ] && [ "$RECORDED" -eq 0 ] && [ -e "$PROPS" ]; then
        die "$DATA holds a single broker's state; stop it and set another KAFKA_DATA for a cluster"
    fi
    BROKERS=$OPT_BROKERS
elif [ "$RECORDED" -gt 0 ]; then
    BROKERS=$RECORDED
fi
if [ -n "$OPT_NODE" ]; then
    [ "$BROKERS" -gt 1 ] || die "--node applies to a cluster (start --brokers N); $DATA holds none"
    if ! is_uint "$OPT_NODE" || [ "$OPT_NODE" -lt 1 ] || [ "$OPT_NODE" -gt "$BROKERS" ]; then
        die "--node must be a broker number from 1 to $BROKERS, got '$OPT_NODE'"
    fi
    if [ "$command" = start ] && [ "$RECORDED" -eq 0 ]; then
        die "--node starts a broker of an existing cluster; start the cluster first (start --brokers N)"
    fi
fi
[ "$BROKERS" -eq 1 ] || cluster_ports

case "$command" in
    start) if [ "$BROKERS" -gt 1 ]; then cluster_start "$OPT_NODE"; else cmd_start; fi ;;
    stop) if [ "$BROKERS" -gt 1 ]; then cluster_stop "$OPT_NODE"; else cmd_stop; fi ;;
    status) if [ "$BROKERS" -gt 1 ]; then cluster_status; else cmd_status; fi ;;
    bootstrap) printf '%s\n' "$BOOTSTRAP" ;;
    create-topic) cmd_create_topic "$@" ;;
    delete-topic) cmd_delete_topic "$@" ;;
    -h | --help | help) usage ;;
    *) usage; exit 2 ;;
esac
