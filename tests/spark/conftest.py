"""Session fixtures of the Spark differential suite: one Kafka broker (scripts/kafka.sh on free
ports in a temporary folder, the integration tests' Broker) and one SparkSession (local[2])
for every case. tests/spark/run.sh installs Spark (scripts/spark-deps.sh) and runs pytest
inside that virtualenv; SPARK_JARS names the Kafka connector's jars."""
import glob
import importlib.util
import os
import shutil
import sys
import tempfile

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)

# The integration tests' broker fixture code, shared rather than copied (loaded under its
# own name: both folders have a conftest.py).
_spec = importlib.util.spec_from_file_location(
    "integration_conftest", os.path.join(ROOT, "tests", "integration", "conftest.py"))
integration = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(integration)

JARS = os.environ.get("SPARK_JARS") or os.path.join(ROOT, ".run", "spark", "jars")


@pytest.fixture(scope="session")
def broker():
    tmp = tempfile.mkdtemp(prefix="luastream-spark-")
    b = integration.Broker(tmp)
    b.sh("start")
    try:
        yield b
    finally:
        try:
            b.sh("stop")
        except Exception as e:  # never hide the test result behind a stop failure
            print("kafka stop failed:", e)
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="session")
def admin(spark, broker):
    """Topic creation for the cases (harness.TopicAdmin)."""
    from harness import TopicAdmin
    a = TopicAdmin(spark, broker.bootstrap)
    try:
        yield a
    finally:
        a.close()


@pytest.fixture(scope="session")
def spark():
    """One SparkSession for the whole run (the JVM takes ~15 s to start)."""
    from pyspark.sql import SparkSession

    jars = sorted(glob.glob(os.path.join(JARS, "*.jar")))
    if not any(os.path.basename(j).startswith("spark-sql-kafka-0-10") for j in jars):
        raise RuntimeError("no spark-sql-kafka-0-10 jar in %s: run scripts/spark-deps.sh "
                           "(tests/spark/run.sh does)" % JARS)
    tmp = tempfile.mkdtemp(prefix="luastream-spark-session-")
    session = (SparkSession.builder.master("local[2]").appName("luastream-spark-suite")
               .config("spark.jars", ",".join(jars))
               .config("spark.sql.shuffle.partitions", "2")
               .config("spark.default.parallelism", "2")
               .config("spark.ui.enabled", "false")
               .config("spark.sql.session.timeZone", "UTC")
               .config("spark.driver.memory", "1g")
               .config("spark.local.dir", tmp)
               .config("spark.sql.warehouse.dir", os.path.join(tmp, "warehouse"))
               .config("spark.driver.extraJavaOptions",
                       "-Dderby.system.home=" + os.path.join(tmp, "derby"))
               .getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    gateway_proc = getattr(session.sparkContext._gateway, "proc", None)
    try:
        yield session
    finally:
        session.stop()
        # The JVM exits once its stdin closes; wait for it so no Spark process outlives the run.
        if gateway_proc is not None:
            try:
                if gateway_proc.stdin:
                    gateway_proc.stdin.close()
                gateway_proc.wait(timeout=60)
            except Exception:
                gateway_proc.kill()
        shutil.rmtree(tmp, ignore_errors=True)
