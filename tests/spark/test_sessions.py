"""Session windows (ls.session_window, Spark's session_window) against Apache Spark.

The same harness as test_differential.py (harness.py: rounds produced into one topic, each
engine run with availableNow on its own checkpoint, final results compared). The Spark side
reads the messages schemaless and casts with try_cast, as the other cases do. What these cases
pin down (README, Semantics, "Session windows"; found in Spark's source and checked here):
a record at t is the session [t, t + gap); sessions of a key merge when one starts at or
before the end of another (so records exactly `gap` apart are one session); a late row is
judged per record (t + gap <= the previous batch's watermark), before any merging, in append
and in complete mode; append emits a session once, when the watermark reaches its end;
complete emits every session and evicts none; update mode is refused."""
import json
import os

import pytest
from pyspark.sql import functions as F

from harness import ROOT, Case, Produce, Query, run_case

T = "2019-01-01T"


def rec(key, t, v=None):
    r = {"key": key, "ts": None if t is None else (T + t if len(t) <= 12 else t)}
    if v is not None:
        r["v"] = v
    return r


def spark_sessions(gap="5 minutes", watermark="10 minutes"):
    def build(s):
        df = s.json("key", "ts", "v").select(
            "key", F.expr("try_cast(ts as timestamp)").alias("ts"),
            F.expr("try_cast(v as bigint)").alias("v"))
        if watermark:
            df = df.withWatermark("ts", watermark)
        return df.groupBy(F.session_window("ts", gap), "key").agg(
            F.count(F.lit(1)).alias("count"), F.sum("v").alias("sum(v)"),
            F.min("v").alias("min(v)"), F.max("v").alias("max(v)"), F.avg("v").alias("avg(v)"))
    return build


K = ("session_window", "key")

SAMPLE = os.path.abspath(os.path.join(ROOT, "..", "shared", "data", "sf-police-calls-sample.json"))


def sample_halves():
    with open(SAMPLE) as f:
        recs = json.load(f)
    return [[Produce(records=recs[:3400])], [Produce(records=recs[3400:])]]


def spark_crime_type_sessions(s):
    """scripts/sessions.lua in PySpark."""
    df = s.json("call_date_time", "original_crime_type_name").select(
        F.to_timestamp("call_date_time").alias("call_date_time"), "original_crime_type_name")
    return (df.withWatermark("call_date_time", "60 minutes")
            .groupBy(F.session_window("call_date_time", "30 minutes"), "original_crime_type_name")
            .agg(F.count(F.lit(1)).alias("count")))

# Four runs: a session; one record extending it (+ another key); out-of-order records of which
# two are too late (their own session ends at or before the previous watermark) while one
# bridges a new session to the stored one through touching ends (06:21+5 = 06:26), a null key,
# a null event time (dropped by both: Spark silently, luastream as a dead letter), a null value;
# then a record that moves the watermark past everything.
LATE_ROUNDS = [
    [rec("a", "06:30:00", 1)],
    [rec("a", "06:31:00", 2), rec("b", "06:00:00", 3)],
    [rec("a", "06:26:00", 4), rec("a", "06:10:00", 5), rec("a", "06:17:00", 6),
     rec("a", "06:14:00", 7), rec("a", "06:21:00", 8), rec(None, "06:40:00", 9),
     rec("b", None, 10), rec("b", "06:45:00")],
    [rec("a", "07:00:00", 11), rec("c", "06:58:00", 12), rec("c", "07:03:00", 13)],
]

# Within one batch: records exactly gap apart (one session), 1 ms more than gap (two),
# out of order, and a record inside an existing session.
EDGE_ROUND = [rec("a", "08:05:00", 2), rec("a", "08:00:00", 1), rec("a", "08:20:00", 3),
              rec("a", "2019-01-01T08:25:00.001Z", 4), rec("a", "08:10:00", 5),
              rec("c", "08:09:00", 6), rec("a", "09:00:00", 7), rec("a", "08:02:30", 8),
              rec("c", "08:14:00", 9), rec("c", "08:19:00", -1)]

CASES = [
    Case("session_append",
         "session windows, append mode, watermark 10 min: sessions extend, merge through a "
         "record bridging to a stored one, late records dropped per record; four runs",
         lua="sessions.lua",
         queries=[Query("sessions", spark_sessions(), "append")],
         rounds=LATE_ROUNDS),
    Case("session_complete",
         "the same input in complete mode: late records are dropped too (Spark's session "
         "restore operator filters in every mode), nothing is evicted; the last batch compared "
         "whole, so a session merged into another must be gone",
         lua="sessions.lua", params={"mode": "complete"},
         queries=[Query("sessions", spark_sessions(), "complete", K, last_batch=True)],
         rounds=LATE_ROUNDS),
    Case("session_gap_edges",
         "complete mode without watermark: records exactly gap apart are one session, 1 ms "
         "more are two, out of order within a batch, a record inside a session; then later "
         "records bridging sessions across runs",
         lua="sessions.lua", params={"mode": "complete", "watermark": "none"},
         queries=[Query("sessions", spark_sessions(watermark=None), "complete", K,
                        last_batch=True)],
         rounds=[EDGE_ROUND,
                 [rec("a", "08:15:00", 10), rec("c", "08:24:00", 11), rec("a", "08:57:00", 12)]]),
    Case("session_capped",
         "append mode, one record per batch (max_records_per_trigger): sessions grow, are "
         "evicted and emitted batch by batch; a record late by the current watermark but not "
         "by the previous one is accepted (and its session evicted at once); one too late",
         lua="sessions.lua", cap=1,
         queries=[Query("sessions", spark_sessions(), "append")],
         rounds=[[rec("a", "08:00:00", 1), rec("a", "08:05:00", 2), rec("a", "08:20:00", 3),
                  rec("a", "2019-01-01T08:25:00.001Z", 4), rec("a", "08:10:00", 5),
                  rec("c", "08:09:00", 6), rec("a", "09:00:00", 7)],
                 [rec("a", "08:52:00", 8), rec("a", "08:56:00", 9), rec("b", "09:30:00", 10)]]),
    Case("session_late_bridge",
         "append mode, two records per batch: a late-but-not-too-late record bridges two "
         "stored sessions of a key into one (aggregates merged), across batches and runs",
         lua="sessions.lua", cap=2, params={"gap": "10 minutes", "watermark": "30 minutes"},
         queries=[Query("sessions", spark_sessions("10 minutes", "30 minutes"), "append")],
         rounds=[[rec("u", "10:00:00", 1), rec("v", "10:01:00", 2), rec("u", "10:25:00", 3),
                  rec("v", "10:30:00", 4), rec("u", "10:14:00", 5), rec("u", "10:40:00", 6)],
                 [rec("v", "10:19:00", 7), rec("v", "10:11:00", 8), rec("u", "11:30:00", 9),
                  rec("u", "10:50:00", 10), rec("v", "12:00:00", 11)]]),
    Case("session_pipeline_sample",
         "scripts/sessions.lua (sessions of calls per crime type, gap 30 min, append) on the "
         "6,802-record sample (newest first, so the second run is mostly late), 4 partitions, "
         "1,500 records per batch, --parallelism 2, two runs",
         lua="scripts/sessions.lua", partitions=4, cap=1500, args=("--parallelism", "2"),
         queries=[Query("crime_type_sessions", spark_crime_type_sessions, "append")],
         rounds=sample_halves()),
    Case("session_parallel",
         "--parallelism 2 over 3 partitions, 3 records per batch, append mode: each worker's "
         "partial sessions are merged at the end of the batch, sessions spanning partitions "
         "and workers merge; late rows counted per partition",
         lua="sessions.lua", partitions=3, cap=3, args=("--parallelism", "2"),
         params={"gap": "10 minutes"},
         queries=[Query("sessions", spark_sessions("10 minutes"), "append")],
         rounds=[[(0, rec("a", "00:00:00", 1)), (1, rec("a", "00:08:00", 2)),
                  (2, rec("a", "00:16:00", 3)), (0, rec("b", "00:01:00", 4)),
                  (1, rec("b", "00:30:00", 5)), (2, rec("a", "00:26:00", 6)),
                  (0, rec("a", "00:40:00", 7)), (1, rec("b", "00:19:00", 8)),
                  (2, rec("b", "00:11:00", 9)), (0, rec("a", "01:20:00", 10)),
                  (1, rec("a", "00:31:00", 11)), (2, rec("c", "01:00:00", 12))],
                 [(0, rec("a", "01:25:00", 13)), (1, rec("a", "01:12:00", 14)),
                  (2, rec("b", "02:00:00", 15)), (1, rec("a", "00:45:00", 16))]]),
]


@pytest.mark.parametrize("case", [pytest.param(c, id=c.name) for c in CASES])
def test_sessions_same_as_spark(case, broker, spark, admin, tmp_path_factory):
    work = str(tmp_path_factory.mktemp(case.name))
    run_case(case, broker, spark, admin, work)
