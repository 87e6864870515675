#!/usr/bin/env bash
# tests/spark/run.sh - the differential suite against Apache Spark (make test-spark):
# installs what is missing (scripts/deps.sh, scripts/spark-deps.sh: PySpark and the Kafka
# connector), builds luastream, and runs tests/spark/ with pytest inside Spark's virtualenv.
# A failure to install is a failure: nothing is skipped. Extra arguments go to pytest
# (e.g. -k tumbling, -x, -v).
set -euo pipefail
cd "$(dirname "$0")/../.."

scripts/deps.sh
make -s all
eval "$(scripts/spark-deps.sh --print)"
export SPARK_JARS
# Spark's own Python workers must be the virtualenv's python too.
export PYSPARK_PYTHON="$SPARK_VENV/bin/python"
export PYSPARK_DRIVER_PYTHON="$SPARK_VENV/bin/python"
exec "$SPARK_VENV/bin/python" -m pytest -q -p no:cacheprovider -rxXs tests/spark "$@"
