#!/usr/bin/env bash
# bench/run.sh — the luastream benchmark in one command: luastream vs kcat (the read limit)
# vs Apache Spark Structured Streaming on the same Kafka topic. See bench/README.md.
#
# Usage: bench/run.sh [N] [--quick] [--no-spark] [--no-latency] [--no-sweep] [--no-filter]
#                     [--only PART,...] [bench.py options]
#   N             records to generate and produce (default 2000000; --quick: 100000)
#   --quick       smoke run: N=100000 unless given, 1 repeat, fewer Spark settings, 10 s latency runs
#   --no-spark    skip Spark (no PySpark install, no Maven jars)
#   --no-latency  skip the steady-rate latency runs
#   --no-sweep    skip the luastream trigger x parallelism x partitions sweep
#   --no-filter   skip the filter-and-forward part (kcat | kcat vs luastream where/map to a topic)
#   --only PARTS  only these of kcat,luastream,spark,sweep,filter,latency (--only filter: its
#                 section is added to the existing results instead of replacing them)
#   --setup-only  install and build, then stop
#   anything else is passed to bench/bench.py (.run/spark/venv/bin/python bench/bench.py --help)
# Environment: SPARK_VERSION (default 4.2.0), BENCH_KAFKA_PORT (default 29092).
# Installs what is missing: scripts/deps.sh (build deps, kcat, Java, Maven), GNU time, and through
# scripts/spark-deps.sh (shared with the Spark test suite) the Python virtualenv .run/spark/venv
# with PySpark and matplotlib and Spark's Kafka connector jars .run/spark/jars (Maven).
# Writes bench/results/{results.md,results.json,*.png}; scratch data in bench/work/.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
cd "$REPO"

# PySpark and its Kafka connector: scripts/spark-deps.sh installs them (SPARK_VERSION, default
# 4.2.0; SPARK_VENV and SPARK_JARS move them).
export BENCH_KAFKA_PORT=${BENCH_KAFKA_PORT:-29092}

log() { printf 'bench/run.sh: %s\n' "$*" >&2; }
die() { printf 'bench/run.sh: error: %s\n' "$*" >&2; exit 1; }

N=
QUICK=0
NO_SPARK=0
SETUP_ONLY=0
ONLY=
PASS=()
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) QUICK=1; PASS+=("$1") ;;
        --no-spark) NO_SPARK=1; PASS+=("$1") ;;
        --no-latency | --no-sweep | --no-filter | --keep-outputs) PASS+=("$1") ;;
        --setup-only) SETUP_ONLY=1 ;;
        --only)
            [ $# -ge 2 ] || die "--only needs a value"
            ONLY=$2; PASS+=("$1" "$2"); shift ;;
        --only=*) ONLY=${1#--only=}; PASS+=("$1") ;;
        -h | --help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        --*=*) PASS+=("$1") ;;
        --*)  # another bench.py option: its value follows
            PASS+=("$1")
            [ $# -ge 2 ] || die "$1 needs a value"
            PASS+=("$2")
            shift ;;
        *)
            case "$1" in '' | *[!0-9]*) die "N must be a number, got '$1' (see --help)" ;; esac
            N=$1 ;;
    esac
    shift
done
# --only without spark: no PySpark install either.
case ",$ONLY," in ,,) ;; *,spark,*) ;; *) NO_SPARK=1 ;; esac
if [ -z "$N" ]; then
    if [ "$QUICK" = 1 ]; then N=100000; else N=2000000; fi
fi
[ "$N" -ge 1 ] || die "N must be at least 1"

# ------------------------------------------------------------------ cleanup on any exit

# bench.py stops what it started itself; this is the safety net if it was killed outright.
cleanup() {
    KAFKA_PORT=$BENCH_KAFKA_PORT KAFKA_DATA="$HERE/work/kafka" "$REPO/scripts/kafka.sh" stop \
        >/dev/null 2>&1 || true
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ------------------------------------------------------------------ dependencies

mkdir -p "$HERE/work"
grep -qxF 'bench/work/' .gitignore 2>/dev/null || printf 'bench/work/\n' >>.gitignore

scripts/deps.sh
if [ ! -x /usr/bin/time ]; then
    log "installing GNU time (apt)"
    SUDO=()
    [ "$(id -u)" -eq 0 ] || SUDO=(sudo)
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends time >/dev/null
fi
[ -x /usr/bin/time ] || die "GNU time (/usr/bin/time) is missing"

log "building luastream (make)"
make -s all >&2

SPARK_DEPS=(matplotlib)
[ "$NO_SPARK" = 1 ] && SPARK_DEPS=(--no-spark matplotlib)
spark_env=$(scripts/spark-deps.sh --print "${SPARK_DEPS[@]}") || die "scripts/spark-deps.sh failed"
VENV=$(sed -n 's/^SPARK_VENV=//p' <<<"$spark_env")
JARS=$(sed -n 's/^SPARK_JARS=//p' <<<"$spark_env")

[ "$SETUP_ONLY" = 1 ] && { log "setup done"; exit 0; }

log "running the benchmark with N=$N"
# In the background so that a TERM/INT sent to this script reaches bench.py at once (it then
# stops its runs and the broker and still writes what it has).
"$VENV/bin/python" "$HERE/bench.py" --n "$N" --spark-jars "$JARS" "${PASS[@]}" &
BENCH_PID=$!
trap 'kill -TERM "$BENCH_PID" 2>/dev/null || true' INT TERM
rc=0
wait "$BENCH_PID" || rc=$?
while kill -0 "$BENCH_PID" 2>/dev/null; do
    rc=0
    wait "$BENCH_PID" || rc=$?
done
exit "$rc"
