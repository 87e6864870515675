#!/usr/bin/env bash
# scripts/spark-deps.sh — owns installing Apache Spark for the parts of luastream that run it
# (the differential test suite tests/spark/ and the benchmark bench/): a Python virtualenv
# with PySpark from PyPI, and Spark's Kafka connector jars fetched by Maven
# (bench/spark/pom.xml). The one place that knows how Spark is installed.
#
# Usage: scripts/spark-deps.sh [--print] [--no-spark] [PIP-REQUIREMENT...]
#   PIP-REQUIREMENT  extra packages for the virtualenv (bench/run.sh adds matplotlib)
#   --print          print SPARK_VENV=... and SPARK_JARS=... on stdout when done
#   --no-spark       only the virtualenv with the extra packages (bench/run.sh --no-spark)
# Environment:
#   SPARK_VERSION    PySpark and connector version (default 4.2.0; they must be equal)
#   SPARK_VENV       the virtualenv (default $REPO/.run/spark/venv)
#   SPARK_JARS       the connector's jars, for spark.jars (default $REPO/.run/spark/jars)
# Idempotent and fast when everything is there (no pip or mvn run). Needs python3 with venv,
# Java 17+ and Maven: scripts/deps.sh installs them on Debian 12. Any failure is an error
# (exit 1): nothing is skipped. Messages go to stderr.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SCRIPT_DIR/.." && pwd)

# Newest PySpark 4.x whose spark-sql-kafka-0-10_2.13 connector of the same version is on
# Maven Central (PyPI has 4.3.0, Central stops at 4.2.0 for now).
SPARK_VERSION=${SPARK_VERSION:-4.2.0}
VENV=${SPARK_VENV:-$REPO/.run/spark/venv}
JARS=${SPARK_JARS:-$REPO/.run/spark/jars}
POM="$REPO/bench/spark/pom.xml"
# pytest runs tests/spark/ inside the virtualenv (next to PySpark).
BASE_REQS=("pyspark==$SPARK_VERSION" "pytest>=7")

log() { printf 'spark-deps.sh: %s\n' "$*" >&2; }
die() { printf 'spark-deps.sh: error: %s\n' "$*" >&2; exit 1; }

PRINT=0
NO_SPARK=0
EXTRA=()
for a in "$@"; do
    case "$a" in
        --print) PRINT=1 ;;
        --no-spark) NO_SPARK=1 ;;
        -h | --help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) die "unknown option $a" ;;
        *) EXTRA+=("$a") ;;
    esac
done

case "$VENV" in /*) ;; *) VENV="$PWD/$VENV" ;; esac
case "$JARS" in /*) ;; *) JARS="$PWD/$JARS" ;; esac
mkdir -p "$(dirname "$VENV")" "$(dirname "$JARS")"

# One installer at a time (the tests and the benchmark may start together).
if command -v flock >/dev/null 2>&1; then
    exec 9>"$(dirname "$VENV")/.spark-deps.lock"
    flock -w 1800 9 || die "timed out waiting for another spark-deps.sh to finish"
fi

# ------------------------------------------------------------------ virtualenv with PySpark

# True when the venv has every requirement (NAME==VERSION exactly, NAME or NAME>=X present).
venv_has_all() {
    [ -x "$VENV/bin/python" ] || return 1
    "$VENV/bin/python" - "$@" <<'PY' 2>/dev/null
import importlib.metadata as m, re, sys
for req in sys.argv[1:]:
    name, op, ver = re.match(r"([A-Za-z0-9_.\-]+)\s*(==|>=|<=|<|>)?\s*(.*)", req).groups()
    try:
        have = m.version(name)
    except m.PackageNotFoundError:
        sys.exit(1)
    if op == "==" and have != ver:
        sys.exit(1)
sys.exit(0)
PY
}

if [ -x "$VENV/bin/python" ] && ! "$VENV/bin/python" -c 'import sys' >/dev/null 2>&1; then
    log "the virtualenv $VENV is broken (its python does not run); recreating it"
    rm -rf "$VENV"
fi
if [ ! -x "$VENV/bin/python" ]; then
    log "creating the virtualenv $VENV"
    python3 -m venv "$VENV" || die "python3 -m venv failed (Debian: scripts/deps.sh installs python3-venv)"
fi
REQS=("${BASE_REQS[@]}" "${EXTRA[@]}")
[ "$NO_SPARK" = 1 ] && REQS=("${EXTRA[@]}")
if [ ${#REQS[@]} -gt 0 ] && ! venv_has_all "${REQS[@]}"; then
    log "pip install ${REQS[*]} (PySpark is about 450 MB the first time)"
    pipout=$(mktemp "${TMPDIR:-/tmp}/spark-deps-pip.XXXXXX")
    if ! "$VENV/bin/python" -m pip install -q --disable-pip-version-check "${REQS[@]}" >"$pipout" 2>&1; then
        tail -n 30 "$pipout" >&2 || true
        rm -f "$pipout"
        die "pip could not install ${REQS[*]}"
    fi
    rm -f "$pipout"
    venv_has_all "${REQS[@]}" || die "pip ran but ${REQS[*]} are still not all installed in $VENV"
fi

if [ "$NO_SPARK" = 1 ]; then
    [ "$PRINT" = 1 ] && printf 'SPARK_VENV=%s\nSPARK_JARS=\n' "$VENV"
    log "virtualenv ready ($VENV; no Spark asked for)"
    exit 0
fi

# ------------------------------------------------------------------ the Kafka connector

if ! compgen -G "$JARS/spark-sql-kafka-0-10_2.13-$SPARK_VERSION.jar" >/dev/null; then
    command -v mvn >/dev/null 2>&1 || die "mvn not found; run scripts/deps.sh"
    log "fetching spark-sql-kafka-0-10_2.13:$SPARK_VERSION and what it adds to PySpark (Maven)"
    # Into a scratch folder first: an interrupted download never looks complete.
    tmp=$(mktemp -d "$(dirname "$JARS")/.spark-jars.XXXXXX")
    if ! mvn -q -B -Dstyle.color=never -f "$POM" -Dspark.version="$SPARK_VERSION" \
        dependency:copy-dependencies -DoutputDirectory="$tmp" >"$tmp.log" 2>&1; then
        tail -n 30 "$tmp.log" >&2 || true
        rm -rf "$tmp" "$tmp.log"
        die "Maven could not fetch the Spark Kafka connector $SPARK_VERSION"
    fi
    compgen -G "$tmp/spark-sql-kafka-0-10_2.13-$SPARK_VERSION.jar" >/dev/null ||
        { rm -rf "$tmp" "$tmp.log"; die "Maven ran but no spark-sql-kafka jar appeared"; }
    rm -rf "$JARS" "$tmp.log"
    mv "$tmp" "$JARS"
fi
# A connector of another version must not end up on the class path.
for j in "$JARS"/spark-*.jar; do
    case "$j" in
        *"-$SPARK_VERSION.jar") ;;
        *) die "stale jar $j (expected version $SPARK_VERSION); remove $JARS and run again" ;;
    esac
done

if [ "$PRINT" = 1 ]; then
    printf 'SPARK_VENV=%s\nSPARK_JARS=%s\n' "$VENV" "$JARS"
fi
log "Spark $SPARK_VERSION ready (venv $VENV, jars $JARS)"
