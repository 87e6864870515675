#!/usr/bin/env python3
"""bench/spark/pipeline.py - the police-calls job of scripts/pipeline.lua in Apache Spark
Structured Streaming (PySpark), for bench/bench.py.

Queries (the same as scripts/pipeline.lua):
  crime_type_counts   watermark 60 minutes on call_date_time (UTC), count per
                      window(call_date_time, 10 minutes, 5 minutes) x original_crime_type_name,
                      complete mode
  disposition_counts  count per disposition, left-joined with data/radio_code.json
                      (disposition = disposition_code) for `description`, complete mode
  latency (optional)  stateless: per micro-batch, the distribution of (now - Kafka timestamp)
                      measured right after the batch has been computed on the driver

Each query writes through foreachBatch:
  OUT/<query>/latest/part-*.json  the batch's complete result (overwritten each batch, so the
                                  folder holds the final result when the run ends)
  OUT/latency.jsonl               one line per latency batch (count, p50/p99/max in ms)
  OUT/timings.json                wall-clock milestones, batch counts, the plan used for query 2
  OUT/ready                       created once every query is running (for the latency runs)
A file OUT/stop (created by the driver) stops the queries cleanly: used with interval triggers.
"""
import argparse
import json
import os
import signal
import sys
import threading
import time

T0 = time.time()

from pyspark.sql import SparkSession  # noqa: E402
from pyspark.sql import functions as F  # noqa: E402
from pyspark.sql.types import StringType, StructField, StructType  # noqa: E402

FIELDS = [
    "crime_id", "original_crime_type_name", "report_date", "call_date", "offense_date",
    "call_time", "call_date_time", "disposition", "address", "city", "state", "agency_id",
    "address_type", "common_location",
]
SCHEMA = StructType([StructField(f, StringType(), True) for f in FIELDS])


# The two queries, also used by the differential tests (tests/spark/test_differential.py).

def parse_calls(raw):
    """The Kafka source's rows -> call records (every field a string) and kafka_ts."""
    return (raw.select(F.from_json(F.col("value").cast("string"), SCHEMA).alias("r"),
                       F.col("timestamp").alias("kafka_ts"))
            .select("r.*", "kafka_ts"))


def load_radio(spark, path):
    """data/radio_code.json: disposition_code -> description."""
    return (spark.read.option("multiLine", "true").json(path)
            .select(F.col("disposition_code"), F.col("description")))


def crime_type_counts(calls):
    """Counts per 10-minute window sliding 5 minutes x crime type, watermark 60 minutes."""
    return (calls.select(F.to_timestamp(F.col("call_date_time")).alias("call_date_time"),
                         "original_crime_type_name")
            .withWatermark("call_date_time", "60 minutes")
            .groupBy(F.window("call_date_time", "10 minutes", "5 minutes"),
                     "original_crime_type_name")
            .count())


def disposition_counts(calls, radio, plan="aggregate-then-join"):
    """Counts per disposition with the radio table's description (left join)."""
    if plan == "aggregate-then-join":
        agg = calls.groupBy("disposition").count()
        return (agg.join(radio, agg["disposition"] == radio["disposition_code"], "left")
                .select("disposition", "description", "count"))
    return (calls.join(radio, calls["disposition"] == radio["disposition_code"], "left")
            .groupBy("disposition", "description").count())


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--out", required=True, help="output folder (created)")
    ap.add_argument("--radio", required=True, help="data/radio_code.json")
    ap.add_argument("--jars", default="", help="comma-separated jars for spark.jars")
    ap.add_argument("--trigger", default="available-now",
                    help="available-now, asap (no trigger: next batch as soon as possible) "
                         "or an interval such as '500 milliseconds'")
    ap.add_argument("--shuffle-partitions", type=int, default=200)
    ap.add_argument("--default-parallelism", type=int, default=0, help="0: Spark's default")
    ap.add_argument("--max-offsets", type=int, default=0, help="maxOffsetsPerTrigger, 0: no limit")
    ap.add_argument("--driver-memory", default="", help="spark.driver.memory, empty: Spark's default")
    ap.add_argument("--master", default="local[2]")
    ap.add_argument("--latency", action="store_true", help="add the stateless latency query")
    ap.add_argument("--no-results", action="store_true",
                    help="run only the latency query (not used by bench.py)")
    ap.add_argument("--conf", action="append", default=[], help="extra spark conf KEY=VALUE")
    return ap.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    timings = {"process_start": T0}
    stop_flag = threading.Event()

    def on_signal(signum, _frame):
        stop_flag.set()
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    b = (SparkSession.builder.appName("luastream-bench").master(args.master)
         .config("spark.sql.session.timeZone", "UTC")
         .config("spark.sql.shuffle.partitions", str(args.shuffle_partitions))
         .config("spark.ui.enabled", "false")
         .config("spark.sql.streaming.checkpointLocation", os.path.join(out, "checkpoint"))
         .config("spark.sql.adaptive.enabled", "false"))  # AQE is off for streaming anyway
    if args.jars:
        b = b.config("spark.jars", args.jars)
    if args.default_parallelism > 0:
        b = b.config("spark.default.parallelism", str(args.default_parallelism))
    if args.driver_memory:
        b = b.config("spark.driver.memory", args.driver_memory)
    for kv in args.conf:
        k, _, v = kv.partition("=")
        b = b.config(k, v)
    spark = b.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    gateway_proc = getattr(spark.sparkContext._gateway, "proc", None)
    timings["session_ready"] = time.time()

    reader = (spark.readStream.format("kafka")
              .option("kafka.bootstrap.servers", args.bootstrap)
              .option("subscribe", args.topic)
              .option("startingOffsets", "earliest")
              .option("failOnDataLoss", "false"))
    if args.max_offsets > 0:
        reader = reader.option("maxOffsetsPerTrigger", str(args.max_offsets))
    calls = parse_calls(reader.load())
    radio = load_radio(spark, args.radio)
    radio.cache().count()

    batches = {}

    def use_pool(df, name):
        # With spark.scheduler.mode=FAIR each query's jobs get a pool of their own, so the
        # queries share the cores instead of queueing (ignored in FIFO mode, the default).
        # Set here, in the foreachBatch callback, as the callback's thread runs the jobs.
        df.sparkSession.sparkContext.setLocalProperty("spark.scheduler.pool", name)

    def writer(name):
        dest = os.path.join(out, name, "latest")

        def write(df, batch_id):
            use_pool(df, name)
            df.write.mode("overwrite").json(dest)
            batches[name] = batches.get(name, 0) + 1
        return write

    lat_path = os.path.join(out, "latency.jsonl")
    lat_lock = threading.Lock()

    def latency_batch(df, batch_id):
        # Everything of the batch is computed in one job on the executors; `now` is taken on
        # the driver once the job's result is back, i.e. when the batch's output exists.
        use_pool(df, "latency")
        ms = F.unix_millis(F.col("kafka_ts"))
        r = df.agg(F.count(F.lit(1)).alias("n"),
                   F.min(ms).alias("oldest"),
                   F.percentile_approx(ms, [0.01, 0.5], 10000).alias("q")).collect()[0]
        now = time.time() * 1000.0
        if not r["n"]:
            return
        q01, q50 = r["q"]
        rec = {"batchId": batch_id, "numInputRows": r["n"], "at": now,
               "p50": now - q50, "p99": now - q01, "max": now - r["oldest"]}
        with lat_lock:
            with open(lat_path, "a") as f:
                f.write(json.dumps(rec) + "\n")

    def trig(w):
        t = args.trigger
        if t in ("available-now", "availableNow"):
            return w.trigger(availableNow=True)
        if t in ("asap", "default", "0"):
            return w
        return w.trigger(processingTime=t)

    queries = []
    if not args.no_results:
        crime = crime_type_counts(calls)
        queries.append(trig(crime.writeStream.queryName("crime_type_counts")
                            .outputMode("complete")
                            .option("checkpointLocation", os.path.join(out, "checkpoint", "q1"))
                            .foreachBatch(writer("crime_type_counts"))).start())

        # Aggregate first, then join the small result with the static table (the brief's
        # plan). Spark refuses some stream-static joins after a streaming aggregation; then
        # join each record first and group by (disposition, description), as luastream does.
        def start_q2(plan):
            df = disposition_counts(calls, radio, plan)
            return trig(df.writeStream.queryName("disposition_counts").outputMode("complete")
                        .option("checkpointLocation",
                                os.path.join(out, "checkpoint", "q2-" + plan))
                        .foreachBatch(writer("disposition_counts"))).start()
        try:
            queries.append(start_q2("aggregate-then-join"))
            timings["q2_plan"] = "aggregate-then-join"
        except Exception as e:  # AnalysisException: not supported in this mode
            timings["q2_plan"] = "join-then-aggregate"
            timings["q2_plan_reason"] = str(e).split("\n")[0][:300]
            queries.append(start_q2("join-then-aggregate"))

    if args.latency:
        queries.append(trig(calls.select("kafka_ts").writeStream.queryName("latency")
                            .option("checkpointLocation", os.path.join(out, "checkpoint", "q3"))
                            .foreachBatch(latency_batch)).start())
    timings["queries_started"] = time.time()

    # Ready once every query has run its first trigger (fetched its starting offsets) and
    # waits for data or has made progress.
    deadline = time.time() + 120
    while time.time() < deadline and not stop_flag.is_set():
        st = [q.status for q in queries]
        if all(q.lastProgress is not None or not s["isTriggerActive"] and
               s["message"].startswith("Waiting") for q, s in zip(queries, st)):
            break
        if any(not q.isActive for q in queries):
            break
        time.sleep(0.1)
    timings["ready_status"] = [q.status for q in queries]
    with open(os.path.join(out, "ready"), "w") as f:
        f.write("%f\n" % time.time())
    timings["ready"] = time.time()

    stop_file = os.path.join(out, "stop")
    failed = None
    while True:
        if all(not q.isActive for q in queries):
            break
        if stop_flag.is_set() or os.path.exists(stop_file):
            for q in queries:
                q.stop()
            break
        for q in queries:
            if q.exception() is not None:
                failed = q.exception()
        if failed:
            break
        time.sleep(0.05)
    for q in queries:
        if q.exception() is not None:
            failed = q.exception()
    timings["queries_done"] = time.time()
    timings["batches"] = batches
    progress = {}
    for q in queries:
        try:
            progress[q.name] = [json.loads(p.json) for p in q.recentProgress]
        except Exception:
            progress[q.name] = []
    with open(os.path.join(out, "progress.json"), "w") as f:
        json.dump(progress, f)
    if failed is not None:
        timings["error"] = str(failed)[:2000]
    with open(os.path.join(out, "timings.json"), "w") as f:
        json.dump(timings, f, indent=1)
    spark.stop()
    # Wait for the JVM so that its CPU time is accounted to this process tree (GNU time).
    if gateway_proc is not None:
        try:
            if gateway_proc.stdin:
                gateway_proc.stdin.close()
            gateway_proc.wait(timeout=60)
        except Exception:
            gateway_proc.kill()
    if failed is not None:
        print("pipeline.py: query failed: %s" % failed, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
