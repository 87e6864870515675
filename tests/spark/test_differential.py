"""luastream against Apache Spark Structured Streaming, query shape by query shape.

Each case below is one luastream script (tests/spark/cases/, or scripts/pipeline.lua) and the
same query written in PySpark, run over the same Kafka topic in rounds, final results compared
(harness.py says how). The PySpark side reads the JSON messages schemaless, as luastream does
(every field a string, SparkSource.json) and casts with try_cast where a number or a time is
wanted: Spark 4 runs in ANSI mode, where a plain cast of a bad value fails the query, while
luastream never fails a stream on a bad value.

Cases that luastream gets wrong today carry `xfail` (strict: a case that starts passing is
reported, and its mark must go)."""
import importlib.util
import json
import os

import pytest
from pyspark.sql import functions as F

from harness import ROOT, Case, ExpectedDifference, Mismatch, Produce, Query, run_case

T = "2019-01-01T"
SAMPLE = os.path.abspath(os.path.join(ROOT, "..", "shared", "data", "sf-police-calls-sample.json"))
RADIO = os.path.join(ROOT, "data", "radio_code.json")

# bench/spark/pipeline.py holds the Spark side of scripts/pipeline.lua (used by the benchmark).
_spec = importlib.util.spec_from_file_location(
    "bench_spark_pipeline", os.path.join(ROOT, "bench", "spark", "pipeline.py"))
spark_pipeline = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(spark_pipeline)


def try_cast(col, typ, alias=None):
    return F.expr("try_cast(`%s` as %s)" % (col, typ)).alias(alias or col)


def counts(*aggs):
    """count(*) as Spark names it in luastream's output, then aggs."""
    return [F.count(F.lit(1)).alias("count"), *aggs]


def rec(key, t, v=None, **more):
    r = {"key": key, "ts": T + t if len(t) <= 12 else t}
    if v is not None:
        r["v"] = v
    r.update(more)
    return r


# ------------------------------------------------------------------ windows, watermarks, modes

def spark_tumbling_update(s):
    df = s.json("key", "ts", "v").select("key", try_cast("ts", "timestamp"), try_cast("v", "bigint"))
    return (df.withWatermark("ts", "10 minutes")
            .groupBy(F.window("ts", "1 hour"), "key")
            .agg(*counts(F.sum("v").alias("sum(v)"))))


def spark_tumbling_append(s):
    df = s.json("key", "ts", "v").select("key", try_cast("ts", "timestamp"), try_cast("v", "bigint"))
    return (df.withWatermark("ts", "5 minutes")
            .groupBy(F.window("ts", "15 minutes"), "key")
            .agg(*counts(F.sum("v").alias("sum(v)"))))


def spark_sliding_update(s):
    df = s.json("key", "ts", "v").select("key", try_cast("ts", "timestamp"), try_cast("v", "bigint"))
    return (df.withWatermark("ts", "15 minutes")
            .groupBy(F.window("ts", "10 minutes", "5 minutes"), "key")
            .agg(*counts(F.max("v").alias("max(v)"))))


def spark_sliding_append(s):
    df = s.json("key", "ts", "v").select("key", try_cast("ts", "timestamp"), try_cast("v", "bigint"))
    return (df.withWatermark("ts", "30 minutes")
            .groupBy(F.window("ts", "1 hour", "20 minutes"), "key")
            .agg(*counts(F.min("v").alias("min(v)"))))


def spark_no_watermark(s):
    df = s.json("key", "ts", "v").select("key", try_cast("ts", "timestamp"), try_cast("v", "bigint"))
    return df.groupBy(F.window("ts", "1 hour"), "key").agg(*counts(F.sum("v").alias("sum(v)")))


def spark_complete_watermark(s):
    df = s.json("key", "ts", "v").select("key", try_cast("ts", "timestamp"), try_cast("v", "bigint"))
    return (df.withWatermark("ts", "10 minutes")
            .groupBy(F.window("ts", "30 minutes"), "key")
            .agg(*counts(F.sum("v").alias("sum(v)"))))


def spark_late_per_window(s):
    df = s.json("key", "ts").select("key", try_cast("ts", "timestamp"))
    return (df.withWatermark("ts", "10 minutes")
            .groupBy(F.window("ts", "1 hour"), "key").agg(*counts()))


def spark_capped_partitions(s):
    df = s.json("key", "ts", "v").select("key", try_cast("ts", "timestamp"), try_cast("v", "bigint"))
    return (df.withWatermark("ts", "10 minutes")
            .groupBy(F.window("ts", "15 minutes"), "key")
            .agg(*counts(F.sum("v").alias("sum(v)"))))


def spark_watermark_no_window(s):
    df = s.json("key", "ts", "v").select("key", try_cast("ts", "timestamp"), try_cast("v", "bigint"))
    return (df.withWatermark("ts", "10 minutes").groupBy("key")
            .agg(*counts(F.max("v").alias("max(v)"))))


def spark_sliding(size, slide, key=True):
    def build(s):
        df = s.json("key", "ts").select("key", try_cast("ts", "timestamp"))
        cols = [F.window("ts", size, slide)] + (["key"] if key else [])
        return df.groupBy(*cols).agg(*counts())
    return build


def spark_long_window(size, slide):
    def build(s):
        df = s.json("key", "ts").select("key", try_cast("ts", "timestamp"))
        return (df.withWatermark("ts", "2 days").groupBy(F.window("ts", size, slide), "key")
                .agg(*counts()))
    return build


# ------------------------------------------------------------------ aggregates, grouping

def spark_aggregates(typ):
    # v read as a string then try_cast: what luastream's schema = { v = typ } means
    def build(s):
        df = s.json("key", "v").select("key", F.expr("try_cast(v as %s)" % typ).alias("v"))
        return df.groupBy("key").agg(*counts(
            F.count("v").alias("count(v)"), F.sum("v").alias("sum(v)"), F.avg("v").alias("avg(v)"),
            F.min("v").alias("min(v)"), F.max("v").alias("max(v)")))
    return build


def spark_sum_overflow(s):
    # Plain sum() fails the query on a bigint overflow in ANSI mode; try_sum() gives null.
    df = s.json("key", "v").select("key", F.expr("try_cast(v as bigint)").alias("v"))
    return df.groupBy("key").agg(*counts(
        F.count("v").alias("count(v)"), F.expr("try_sum(v)").alias("sum(v)"),
        F.avg("v").alias("avg(v)"), F.min("v").alias("min(v)"), F.max("v").alias("max(v)")))


# approx_count_distinct and percentile_approx (sketches): Spark names the columns itself here,
# so a luastream name that differs shows as a missing column.

def spark_approx_distinct_strings(s):
    df = s.json("key", "v")
    return df.groupBy("key").agg(*counts(
        F.approx_count_distinct("v"), F.approx_count_distinct("v", 0.01).alias("acd_01")))


def spark_approx_distinct_numbers(s):
    df = s.json("key", "v", "i", "d").select(
        "key", try_cast("v", "bigint"), try_cast("i", "int"), try_cast("d", "double"))
    return df.groupBy("key").agg(*counts(
        F.approx_count_distinct("v"), F.approx_count_distinct("v", 0.01).alias("acd_01"),
        F.approx_count_distinct("i"), F.approx_count_distinct("d")))


def spark_percentiles(typ, accuracy):
    def build(s):
        df = s.json("key", "v", "ts").select("key", try_cast("v", typ), try_cast("ts", "timestamp"))
        return df.groupBy("key").agg(*counts(
            F.percentile_approx("v", 0.5), F.percentile_approx("v", [0.1, 0.5, 0.9], accuracy),
            F.percentile_approx("v", [0.0, 0.25, 0.75, 0.99, 1.0], 10000),
            F.percentile_approx("ts", 0.5)))
    return build


def distinct_string_rounds():
    """Strings: a key past linear counting (2,600 distinct of 5,000), one in it (150), a
    few odd ones (empty, accents, East Asian), one all null or missing."""
    big = [{"key": "big", "v": "user-%d" % ((i * 7919) % 2600)} for i in range(5000)]
    mid = [{"key": "mid", "v": "u%d" % (i % 150)} for i in range(600)]
    odd = [{"key": "odd", "v": v} for v in ["", "a", "A", "é", "é", "日本", "日本語", " a", "a "]]
    nul = [{"key": "nul", "v": None}, {"key": "nul"}]
    every = big + mid + odd + nul
    return [every[0::2], every[1::2]]


def distinct_number_rounds():
    """bigint v (negatives, 2^53 and beyond, numbers in strings, bad text), int i, double d
    (-0.0 and 0.0 one value, NaN one value, 1 and 1.0 one value), over 2 partitions."""
    recs = []
    for i in range(6000):
        v = (i * 104729) % 9000 - 4500
        recs.append({"key": "big", "v": v if i % 7 else str(v), "i": (i * 31) % 3000,
                     "d": ((i * 7) % 2500) / 8.0})
    for i, v in enumerate([9007199254740993, 9007199254740992, -9223372036854775808,
                           9223372036854775807, 0, "0", " 5", "abc", None, 1.5]):
        recs.append({"key": "edge", "v": v, "i": [2147483647, -2147483648, 0, "7", "x"][i % 5],
                     "d": [-0.0, 0.0, "NaN", "nan", 1, 1.0, "1e3", 1000, "Infinity", None][i]})
    recs.append({"key": "none"})
    part = [(i % 2, r) for i, r in enumerate(recs)]
    return [part[:4000], part[4000:]]


def percentile_rounds(kind, big=3000):
    """Keys "big" (`big` values: a permutation of part of -5003..5003), "small", "edge" (odd
    values: beyond 2^53, the bigint limits, text; for doubles -0.0, NaN, infinities) and "none"
    (null only). big and small are spread over 2 partitions, edge and none are in partition 0:
    Spark merges its partitions' partial digests comparing with <, which a NaN never
    satisfies, so where a NaN lands depends on the order of those merges, which luastream
    cannot know (README, Differences)."""
    recs = []
    for i in range(big):
        v = (i * 7919) % 10007 - 5003
        if kind == "double":
            v = v / 16.0 if i % 5 else "%r" % (v / 16.0)
        recs.append((i % 2, {"key": "big", "v": v,
                             "ts": "2019-01-01T00:00:00Z" if i % 3 else None}))
    for i in range(40):
        recs.append((i % 2, {"key": "small", "v": (i * 13) % 17 if kind == "bigint" else (i * 13) % 17 + 0.5,
                             "ts": "2019-01-01T%02d:%02d:00Z" % (i % 24, i % 60)}))
    edge = ([9007199254740993, -9223372036854775808, 9223372036854775807, "12", "abc", None, 3]
            if kind == "bigint" else
            [-0.0, 0.0, "NaN", "Infinity", "-Infinity", 1e300, "1e-300", "abc", None, 2.5])
    recs += [(0, {"key": "edge", "v": v}) for v in edge]
    recs.append((0, {"key": "none", "v": None}))
    half = len(recs) * 4 // 7
    return [recs[:half], recs[half:]]


def percentile_batch_rounds():
    """One partition, 24,000 values of one key in batches of 3,000 over 2 runs: far beyond
    where Spark's summary starts compressing (50 values at accuracy 100; 5,000 at 10,000)."""
    recs = [{"key": "k", "v": (i * 7919) % 24001} for i in range(24000)]
    return [recs[:15000], recs[15000:]]


def spark_min_max_text(s):
    df = s.json("key", "name", "ts").select("key", "name", try_cast("ts", "timestamp"))
    return df.groupBy("key").agg(*counts(
        F.min("name").alias("min(name)"), F.max("name").alias("max(name)"),
        F.max("ts").alias("max(ts)")))


MIN_MAX_TEXT_LUA = """\
-- min and max over text and over event-time text, per key (inline script of case min_max_text)
local ls = require "luastream"
local src = ls.kafka_source {
  topic = ls.param("topic", "t"),
  bootstrap = ls.param("bootstrap", "localhost:9092"),
  starting_offsets = "earliest",
}
ls.query "minmax" {
  from = src,
  group_by = { "key" },
  aggregate = { ls.count(), ls.min("name"), ls.max("name"), ls.max("ts") },
  output_mode = "update",
  sink = ls.output(ls.param("output", "console")),
}
"""


def spark_group_nullable(s):
    df = s.json("k1", "k2", "v").select("k1", "k2", try_cast("v", "bigint"))
    return df.groupBy("k1", "k2").agg(*counts(F.sum("v").alias("sum(v)")))


def spark_group_numbers(s):
    df = s.json("k1", "k2", "v").select(try_cast("k1", "bigint"), "k2", try_cast("v", "bigint"))
    return df.groupBy("k1", "k2").agg(*counts(F.sum("v").alias("sum(v)")))


# ------------------------------------------------------------------ joins, map

def _joined(s, how):
    df = s.json("code", "v").select("code", try_cast("v", "bigint"))
    t = s.table()
    t = t.select(F.col("code").alias("t_code"), "name", "region")
    return df.join(t, df["code"] == t["t_code"], how)


def spark_join_inner(s):
    return _joined(s, "inner").groupBy("code", "name").agg(*counts(F.sum("v").alias("sum(v)")))


def spark_join_left(s):
    return (_joined(s, "left").groupBy("code", "name", "region")
            .agg(*counts(F.max("v").alias("max(v)"))))


def spark_map(s):
    df = s.json("user", "kind", "price", "qty", "ts")
    df = (df.filter(~F.col("kind").eqNullSafe("skip"))
          .select(F.upper(F.coalesce(F.col("user"), F.lit("anon"))).alias("user"), "kind",
                  F.expr("try_cast(ts as timestamp)").alias("at"),
                  (F.coalesce(F.expr("try_cast(price as double)"), F.lit(0.0))
                   * F.coalesce(F.expr("try_cast(qty as double)"), F.lit(0.0))).alias("amount")))
    return (df.withWatermark("at", "1 hour")
            .groupBy(F.window("at", "30 minutes"), "user", "kind")
            .agg(*counts(F.sum("amount").alias("sum(amount)"))))


# ------------------------------------------------------------------ event-time text

def spark_minutes(event_time):
    def build(s):
        df = s.json("key", "ts").select("key", F.expr(event_time).alias("ts"))
        return df.groupBy(F.window("ts", "1 minute"), "key").agg(*counts())
    return build


def spark_hours(event_time):
    def build(s):
        df = s.json("key", "ts").select("key", F.expr(event_time).alias("ts"))
        return df.groupBy(F.window("ts", "1 hour", "30 minutes")).agg(*counts())
    return build


TS_TEXT = "try_cast(ts as timestamp)"
TS_EPOCH = "timestamp_seconds(try_cast(ts as double))"


# ------------------------------------------------------------------ the seed's pipeline

def spark_crime_type_counts(s):
    return spark_pipeline.crime_type_counts(spark_pipeline.parse_calls(s.raw))


def spark_disposition_counts(s):
    return spark_pipeline.disposition_counts(spark_pipeline.parse_calls(s.raw),
                                             spark_pipeline.load_radio(s.spark, RADIO))


def sample_halves():
    with open(SAMPLE) as f:
        recs = json.load(f)
    assert len(recs) == 6802
    return [[Produce(records=recs[:3400])], [Produce(records=recs[3400:])]]


# ------------------------------------------------------------------ the planned source schema

def spark_schema(s):
    df = s.json("key", "ts", "v", "n").select(
        "key", try_cast("ts", "timestamp"), try_cast("v", "double"), try_cast("n", "bigint"))
    return (df.withWatermark("ts", "10 minutes").groupBy(F.window("ts", "1 hour"), "key")
            .agg(*counts(F.count("n").alias("count(n)"), F.sum("n").alias("sum(n)"),
                         F.sum("v").alias("sum(v)"), F.max("v").alias("max(v)"))))


SCHEMA_LUA = """\
-- the planned source schema: Spark's type names, try_cast semantics (a bad value is null)
local ls = require "luastream"
local src = ls.kafka_source {
  topic = ls.param("topic", "t"),
  bootstrap = ls.param("bootstrap", "localhost:9092"),
  starting_offsets = "earliest",
  schema = { key = "string", ts = "timestamp", v = "double", n = "bigint" },
}
ls.query "typed" {
  from = src,
  watermark = { "ts", "10 minutes" },
  group_by = { ls.window("ts", "1 hour"), "key" },
  aggregate = { ls.count(), ls.count("n"), ls.sum("n"), ls.sum("v"), ls.max("v") },
  output_mode = "update",
  sink = ls.output(ls.param("output", "console")),
}
"""

W = ("window", "key")

CASES = [
    # 1. tumbling and sliding windows, update and append, late and out-of-order data in rounds
    Case("tumbling_update",
         "1-hour tumbling windows, watermark 10 min, update mode; out-of-order data within the "
         "watermark and late data whose window has closed, over three runs",
         lua="tumbling_update.lua",
         queries=[Query("counts", spark_tumbling_update, "update", W)],
         rounds=[
             [rec("a", "00:10:00", 1), rec("b", "00:20:00", 2), rec("a", "01:05:00", 3)],
             [rec("a", "00:55:00", 4), rec("a", "02:30:00", 5), rec("a", "00:59:59", 40)],
             [rec("b", "00:30:00", 6), rec("a", "02:25:00", 7), rec("b", "03:00:00", 8),
              rec("b", "01:10:00", 9)],
         ]),
    Case("tumbling_append",
         "15-minute tumbling windows, watermark 5 min, append mode: each window once when the "
         "watermark passes its end; closed-window late data dropped; three runs",
         lua="tumbling_append.lua",
         queries=[Query("counts", spark_tumbling_append, "append")],
         rounds=[
             [rec("a", "00:01:00", 1), rec("a", "00:14:00", 2), rec("b", "00:07:00", 3),
              rec("a", "00:16:00", 4)],
             [rec("a", "00:12:00", 5), rec("b", "00:35:00", 6), rec("a", "00:29:59.999", 50)],
             [rec("a", "00:20:00", 7), rec("b", "00:31:00", 8), rec("c", "01:10:00", 9),
              rec("c", "01:01:00", 10)],
         ]),
    Case("append_capped",
         "append mode over many small batches (one partition, 2 records per batch): windows "
         "are emitted as the watermark passes them within a run and across runs",
         lua="tumbling_append.lua", cap=2,
         queries=[Query("counts", spark_tumbling_append, "append")],
         rounds=[
             [rec("a", "00:01:00", 1), rec("b", "00:03:00", 2), rec("a", "00:02:00", 3),
              rec("a", "00:16:00", 4), rec("b", "00:14:00", 5), rec("a", "00:33:00", 6),
              rec("a", "00:31:00", 7), rec("b", "00:47:00", 8)],
             [rec("b", "00:44:00", 9), rec("c", "01:10:00", 10), rec("a", "00:20:00", 11)],
         ]),
    Case("late_by_previous_watermark",
         "Spark 4 judges late input by the watermark of the previous batch (eviction and "
         "emission use the current one; PropagateWatermarkSimulator): with several data batches "
         "in a run, a record behind the current watermark but not behind the previous one counts",
         lua="tumbling_update.lua", cap=2,
         queries=[Query("counts", spark_tumbling_update, "update", W)],
         rounds=[[rec("a", "00:10:00", 1), rec("a", "01:30:00", 2),
                  rec("a", "00:50:00", 3), rec("b", "01:35:00", 4),
                  rec("a", "00:55:00", 5)]],
         spark_expect={"counts": [
             {"window": {"start": T + "00:00:00Z", "end": T + "01:00:00Z"}, "key": "a",
              "count": 2, "sum(v)": 4},
             {"window": {"start": T + "01:00:00Z", "end": T + "02:00:00Z"}, "key": "a",
              "count": 1, "sum(v)": 2},
             {"window": {"start": T + "01:00:00Z", "end": T + "02:00:00Z"}, "key": "b",
              "count": 1, "sum(v)": 4}]}),
    Case("sliding_update",
         "10-minute windows sliding 5 min, watermark 15 min, update mode, max; out-of-order and "
         "late data over three runs",
         lua="sliding_update.lua",
         queries=[Query("counts", spark_sliding_update, "update", W)],
         rounds=[
             [rec("a", "00:02:00", 5), rec("a", "00:07:00", 3), rec("b", "00:12:00", 8),
              rec("a", "00:30:00", 1)],
             [rec("a", "00:16:00", 9), rec("b", "00:01:00", 100), rec("a", "00:45:00", 2)],
             [rec("a", "00:33:00", 4), rec("b", "00:40:00", 6), rec("a", "00:50:00", 7),
              rec("a", "00:21:00", 100)],
         ]),
    Case("sliding_append",
         "1-hour windows sliding 20 min, watermark 30 min, append mode, min; three runs",
         lua="sliding_append.lua",
         queries=[Query("counts", spark_sliding_append, "append")],
         rounds=[
             [rec("a", "10:05:00", 3), rec("a", "10:25:00", 1), rec("b", "10:50:00", 2),
              rec("a", "11:10:00", 7)],
             [rec("a", "10:45:00", 4), rec("b", "09:50:00", 100), rec("b", "12:00:00", 5)],
             [rec("a", "11:35:00", 6), rec("c", "13:30:00", 8), rec("a", "10:20:00", 100)],
         ]),
    Case("watermark_no_window",
         "a watermark on a query grouped by key alone (no window): Spark never drops input for "
         "lateness there (the event time is not part of the grouping key)",
         lua="watermark_no_window.lua",
         queries=[Query("counts", spark_watermark_no_window, "update", ("key",))],
         rounds=[[rec("a", "10:00:00", 1), rec("b", "10:30:00", 2)],
                 [rec("a", "09:00:00", 3), rec("b", "10:19:00", 4), rec("b", "10:25:00", 5)]]),
    Case("sliding_uneven",
         "sliding windows whose size is not a multiple of the slide (10 min every 3, 7 min every "
         "2): an event belongs to 3 or 4 windows depending on where it falls",
         lua="sliding_uneven.lua",
         queries=[Query("w10s3", spark_sliding("10 minutes", "3 minutes"), "complete", W),
                  Query("w7s2", spark_sliding("7 minutes", "2 minutes", key=False), "complete",
                        ("window",))],
         rounds=[[rec("a", "10:00:00"), rec("a", "10:01:00"), rec("a", "10:02:30"),
                  rec("b", "10:05:59"), rec("b", "10:06:00"), rec("a", "10:08:00"),
                  rec("b", "10:59:59.999")]]),
    Case("long_windows",
         "1-day tumbling windows and 7-day windows sliding 1 day (epoch-aligned, UTC), watermark "
         "2 days, update mode, two runs",
         lua="long_windows.lua",
         queries=[Query("days", spark_long_window("1 day", "1 day"), "update", W),
                  Query("weeks", spark_long_window("7 days", "1 day"), "update", W)],
         rounds=[[rec("a", "2019-01-01T10:00:00Z"), rec("a", "2019-01-03T23:59:59Z"),
                  rec("b", "2019-01-07T00:00:00Z"), rec("a", "2018-12-27T12:00:00Z")],
                 [rec("a", "2019-01-05T01:00:00Z"), rec("b", "2019-01-10T00:00:00Z"),
                  rec("a", "2019-01-05T12:00:00Z"), rec("a", "2018-12-29T00:00:00Z")]]),
    # 2. several partitions with a small cap per trigger
    Case("partitions_cap",
         "3 partitions read 4 records per batch (max_records_per_trigger = maxOffsetsPerTrigger), "
         "event-time windows without a watermark, update mode, two runs",
         lua="partitions_cap.lua", partitions=3, cap=4,
         queries=[Query("counts", spark_no_watermark, "update", W)],
         rounds=[
             [(i % 3, rec("abc"[i % 3 if i % 4 else 0], "%02d:%02d:00" % (i % 5, (i * 7) % 60), i))
              for i in range(17)],
             [(i % 3, rec("abd"[i % 3], "%02d:%02d:00" % ((i * 3) % 6, (i * 13) % 60), i))
              for i in range(11)],
         ]),
    Case("partitions_cap_complete",
         "2 partitions read 3 records per batch, complete mode with a watermark (nothing is "
         "dropped in complete mode), late data, two runs",
         lua="complete_watermark.lua", partitions=2, cap=3,
         queries=[Query("counts", spark_complete_watermark, "complete", W)],
         rounds=[
             [(0, rec("a", "05:00:00", 1)), (0, rec("a", "03:00:00", 2)), (0, rec("b", "05:40:00", 3)),
              (1, rec("a", "01:00:00", 4)), (1, rec("b", "06:20:00", 5)), (1, rec("a", "05:10:00", 6)),
              (1, rec("c", "00:10:00", 7))],
             [(0, rec("a", "00:20:00", 8)), (1, rec("b", "07:00:00", 9)), (1, rec("b", "02:00:00", 10))],
         ]),
    # 3. aggregates over ints, floats, huge ints, numbers in strings, NaN, nulls, missing fields
    Case("aggregates_ints",
         "count, count(v), sum, avg, min, max over ints: negatives, zero, beyond 2^53 within "
         "int64, numbers in strings, nulls, missing fields, all-null groups; two runs",
         lua="aggregates.lua", params={"vtype": "bigint"},
         queries=[Query("aggs", spark_aggregates("bigint"), "update", ("key",))],
         rounds=[
             [{"key": "a", "v": 1}, {"key": "a", "v": -3}, {"key": "a", "v": "12"},
              {"key": "a", "v": None}, {"key": "a"}, {"key": "b", "v": 9007199254740993},
              {"key": "b", "v": 9007199254740993}, {"key": "c", "v": None}, {"key": "c"},
              {"key": "d", "v": 0}, {"key": "e", "v": "-5"},
              {"key": "f", "v": -9007199254740993}, {"key": "f", "v": 4611686018427387904}],
             [{"key": "a", "v": 2}, {"key": "b", "v": "9007199254740995"}, {"key": "c"},
              {"key": "d", "v": "0"}, {"key": "g", "v": 9223372036854775807},
              {"key": "g", "v": -9223372036854775808}],
         ]),
    Case("aggregates_floats",
         "the same aggregates over doubles: fractions, exponents, negative zero, ints mixed in, "
         "numbers in strings, nulls, missing fields; two runs",
         lua="aggregates.lua", params={"vtype": "double"},
         queries=[Query("aggs", spark_aggregates("double"), "update", ("key",))],
         rounds=[
             [{"key": "a", "v": 1.5}, {"key": "a", "v": 2.25}, {"key": "a", "v": "3.5"},
              {"key": "a", "v": None}, {"key": "b", "v": 1e-3}, {"key": "b", "v": 2.5e10},
              {"key": "b", "v": "1e3"}, {"key": "c", "v": 7}, {"key": "c", "v": 0.1},
              {"key": "c", "v": 0.2}, {"key": "d", "v": -0.0}, {"key": "d"},
              {"key": "e", "v": 1.7976931348623157e308}, {"key": "e", "v": "-2.5E-3"}],
             [{"key": "a", "v": -0.75}, {"key": "b", "v": 3}, {"key": "c", "v": 0.3},
              {"key": "f", "v": 123456789.123456789}, {"key": "f", "v": 100000000000000000000}],
         ]),
    Case("aggregates_nan_infinity",
         "aggregates over NaN and infinities (as JSON has them: in strings): NaN sums to NaN, "
         "is the largest value for min/max; infinities add up to infinity or NaN",
         lua="aggregates.lua", params={"vtype": "double"},
         queries=[Query("aggs", spark_aggregates("double"), "update", ("key",))],
         rounds=[[{"key": "nan", "v": 1.0}, {"key": "nan", "v": "NaN"}, {"key": "nan", "v": 2.0},
                  {"key": "inf", "v": "Infinity"}, {"key": "inf", "v": 5},
                  {"key": "ninf", "v": "-Infinity"}, {"key": "ninf", "v": -1},
                  {"key": "both", "v": "Infinity"}, {"key": "both", "v": "-Infinity"},
                  {"key": "onlynan", "v": "NaN"}]]),
    Case("aggregates_bad_values",
         "values that are not numbers (text, empty, booleans, objects, arrays, padded or hex "
         "numbers): Spark's try_cast makes them null, so the rest of the record still counts",
         lua="aggregates.lua", params={"vtype": "double"},
         queries=[Query("aggs", spark_aggregates("double"), "update", ("key",))],
         rounds=[[{"key": "a", "v": 1}, {"key": "a", "v": "abc"}, {"key": "a", "v": ""},
                  {"key": "b", "v": True}, {"key": "b", "v": {"x": 1}}, {"key": "b", "v": [1, 2]},
                  {"key": "b", "v": 2}, {"key": "c", "v": " 7 "}, {"key": "c", "v": "0x10"},
                  {"key": "c", "v": 1}]]),
    Case("sum_overflow",
         "a bigint sum past 2^63: Spark (ANSI) fails the query with sum(), gives null with "
         "try_sum(); luastream goes on in double precision",
         lua="aggregates.lua", params={"vtype": "bigint"},
         queries=[Query("aggs", spark_sum_overflow, "update", ("key",))],
         rounds=[[{"key": "big", "v": 9223372036854775807}, {"key": "big", "v": 9223372036854775807},
                  {"key": "ok", "v": 9223372036854775806}, {"key": "ok", "v": 1}]],
         expected_difference={"aggs": ExpectedDifference(
             "Spark's ANSI mode: a bigint overflow is an error (null with try_sum); luastream "
             "never fails a stream on a value and continues the sum as a double",
             differ=[({"key": "big", "count": 2, "count(v)": 2, "sum(v)": None,
                       "avg(v)": 9.223372036854775807e18, "min(v)": 9223372036854775807,
                       "max(v)": 9223372036854775807},
                      '{"key":"big","count":2,"count(v)":2,"sum(v)":1.8446744073709552e+19,'
                      '"avg(v)":9.223372036854776e+18,"min(v)":9223372036854775807,'
                      '"max(v)":9223372036854775807}')])}),
    # 3b. sketches: approx_count_distinct (HyperLogLog++) and percentile_approx
    Case("approx_count_distinct_strings",
         "approx_count_distinct over strings (Spark's xxhash64 of the UTF-8 bytes, HLL++ with "
         "rsd 0.05 and 0.01: linear counting, bias correction and raw estimates), two runs",
         lua="approx_distinct.lua",
         queries=[Query("distinct", spark_approx_distinct_strings, "update", ("key",))],
         rounds=distinct_string_rounds()),
    Case("approx_count_distinct_numbers",
         "approx_count_distinct over bigint (8-byte hash), int (4-byte hash) and double (-0.0 "
         "and NaN normalised) columns of the schema; numbers in strings, bad values; 2 "
         "partitions, 1,500 records per batch, two runs",
         lua="approx_distinct.lua", params={"typed": "yes"}, partitions=2, cap=1500,
         queries=[Query("distinct", spark_approx_distinct_numbers, "update", ("key",))],
         rounds=distinct_number_rounds()),
    Case("percentile_approx_bigint",
         "percentile_approx over bigint with one percentage and with lists (bigint results), "
         "and over a timestamp column; fewer values per key than the summary keeps exactly; 2 "
         "partitions, 800 records per batch, two runs",
         lua="percentile.lua", params={"vtype": "bigint", "accuracy": "10000"}, partitions=2,
         cap=800,
         queries=[Query("percentiles", spark_percentiles("bigint", 10000), "update", ("key",))],
         rounds=percentile_rounds("bigint")),
    Case("percentile_approx_double",
         "percentile_approx over doubles (numbers in strings, -0.0, NaN above everything, "
         "infinities), one percentage and lists; 2 partitions, 800 records per batch, two runs",
         lua="percentile.lua", params={"vtype": "double", "accuracy": "10000"}, partitions=2,
         cap=800,
         queries=[Query("percentiles", spark_percentiles("double", 10000), "update", ("key",))],
         rounds=percentile_rounds("double")),
    Case("percentile_approx_batches",
         "percentile_approx far beyond the exact regime: 24,000 values of one key in batches "
         "of 3,000 over two runs on one partition: Spark's per-batch partial digest merged into "
         "the state's, step for step, gives Spark's very samples",
         lua="percentile.lua", params={"vtype": "bigint"}, cap=3000,
         queries=[Query("percentiles", spark_percentiles("bigint", 100), "update", ("key",))],
         rounds=percentile_batch_rounds()),
    Case("percentile_approx_partitions",
         "percentile_approx beyond the exact regime (3,000 values at accuracy 100) over 2 "
         "partitions in chunks, 800 records per batch: one partial digest per partition and "
         "batch, merged as Spark's shuffle merges them, gives Spark's samples",
         lua="percentile.lua", params={"vtype": "bigint"}, partitions=2, cap=800,
         queries=[Query("percentiles", spark_percentiles("bigint", 100), "update", ("key",))],
         rounds=percentile_rounds("bigint")),
    Case("min_max_text",
         "min and max over a text column (Spark: by code point) and over event-time text (the "
         "latest time per key, a timestamp)",
         lua=MIN_MAX_TEXT_LUA,
         queries=[Query("minmax", spark_min_max_text, "update", ("key",))],
         rounds=[[{"key": "a", "name": "pear", "ts": T + "10:00:00Z"},
                  {"key": "a", "name": "Apple", "ts": T + "12:30:00Z"},
                  {"key": "a", "name": "apple", "ts": T + "11:00:00Z"},
                  {"key": "b", "name": "é", "ts": T + "09:00:00Z"}, {"key": "b", "name": None}]]),
    # 4. grouping by nullable columns
    Case("group_nullable",
         "grouping by two nullable string columns: null, missing, empty string and the text "
         "'null' are distinct from each other as in Spark (null and missing are the same group), "
         "complete mode, two runs",
         lua="group_nullable.lua",
         queries=[Query("groups", spark_group_nullable, "complete", ("k1", "k2"))],
         rounds=[
             [{"k1": "a", "k2": "x", "v": 1}, {"k1": "a", "k2": None, "v": 2}, {"k1": "a", "v": 3},
              {"k1": None, "k2": "x", "v": 4}, {"k2": "x", "v": 5}, {"k1": None, "k2": None, "v": 6},
              {"v": 7}, {"k1": "", "k2": "", "v": 8}, {"k1": "null", "k2": "x", "v": 9}],
             [{"k1": "a", "k2": "x", "v": 10}, {"v": 11}, {"k1": "", "k2": None},
              {"k1": "b", "k2": "é ü 中", "v": 12}],
         ]),
    Case("group_numbers",
         "grouping by a nullable integer column (as Spark's bigint) and a string column",
         lua="group_nullable.lua",
         queries=[Query("groups", spark_group_numbers, "complete", ("k1", "k2"))],
         rounds=[[{"k1": 1, "k2": "x", "v": 1}, {"k1": 1, "k2": "x", "v": 2},
                  {"k1": -7, "k2": "x", "v": 3}, {"k1": None, "k2": "x", "v": 4},
                  {"k2": "x", "v": 5}, {"k1": 9007199254740993, "k2": "y", "v": 6},
                  {"k1": 9007199254740992, "k2": "y", "v": 7}, {"k1": 0, "k2": None, "v": 8}]]),
    Case("malformed_messages",
         "messages that are not JSON objects (garbage, truncated JSON, an array, a string, a "
         "number, an empty message) among good records",
         lua="group_nullable.lua",
         queries=[Query("groups", spark_group_nullable, "complete", ("k1", "k2"))],
         rounds=[[{"k1": "a", "k2": "x", "v": 1}, "garbage{{{", '{"k1": "a", "k2": ', "[1, 2]",
                  '"just a string"', "42", "", {"k1": "a", "k2": "x", "v": 2}]],
         expected_difference={"groups": ExpectedDifference(
             "luastream dead-letters a message that is not a JSON object; Spark's from_json "
             "makes it a row of nulls, which is then counted (in the null group)",
             only_spark=[{"k1": None, "k2": None, "count": 6, "sum(v)": None}])}),
    Case("json_types_decide",
         "without a schema, JSON types decide: 5 and \"5\" are two groups in luastream, one "
         "string group in Spark (whose column has one type)",
         lua="group_nullable.lua",
         queries=[Query("groups", spark_group_nullable, "complete", ("k1", "k2"))],
         rounds=[[{"k1": 5, "k2": "x", "v": 1}, {"k1": "5", "k2": "x", "v": 2},
                  {"k1": "a", "k2": "x", "v": 3}]],
         expected_difference={"groups": ExpectedDifference(
             "JSON has no schema: luastream keeps the number 5 and the string \"5\" apart; "
             "declare the column in the source's schema to get Spark's typing",
             differ=[({"k1": "5", "k2": "x", "count": 2, "sum(v)": 3},
                      '{"k1":"5","k2":"x","count":1,"sum(v)":2}')],
             only_luastream=['{"k1":5,"k2":"x","count":1,"sum(v)":1}'])}),
    Case("json_text_forms",
         "the same string written with \\u escapes and literally, escaped quotes, insignificant "
         "white space, a duplicated field (the last one wins in Spark)",
         lua="group_nullable.lua",
         queries=[Query("groups", spark_group_nullable, "complete", ("k1", "k2"))],
         rounds=[['{"k1":"\\u00e9t\\u00e9","k2":"x","v":1}', {"k1": "été", "k2": "x", "v": 2},
                  '{"k1":"a\\"b","k2":"x","v":3}', ' { "k1" : "a" ,\t"k2":"y" , "v" : 4 } ',
                  '{"k1":"first","k2":"z","k1":"last","v":5}']]),
    # 5. stream-static joins, inner and left, missing and null keys
    Case("joins",
         "inner and left stream-static joins (ls.json_table vs a static DataFrame) with keys "
         "missing from the table, null and missing keys, table rows with null or missing columns",
         lua="joins.lua",
         table=[{"code": "A", "name": "Alpha", "region": "north"},
                {"code": "B", "name": "Beta", "region": None},
                {"code": "C", "name": None},
                {"code": "", "name": "Empty", "region": "south"}],
         queries=[Query("inner", spark_join_inner, "update", ("code", "name")),
                  Query("left", spark_join_left, "update", ("code", "name", "region"))],
         rounds=[
             [{"code": "A", "v": 1}, {"code": "B", "v": 2}, {"code": "C", "v": 3},
              {"code": "D", "v": 4}, {"code": None, "v": 5}, {"v": 6}, {"code": "", "v": 7},
              {"code": "A", "v": 8}],
             [{"code": "D", "v": 9}, {"code": "B", "v": 10}, {"code": None, "v": 11},
              {"code": "a", "v": 12}],
         ]),
    # 6. a Lua map and the same select/withColumn/filter in PySpark
    Case("map_lua",
         "a Lua map (filter, coalesce, upper, rename, computed column) before a windowed "
         "aggregation, vs filter/select/withColumn in PySpark; two runs",
         lua="map.lua",
         queries=[Query("mapped", spark_map, "update", ("window", "user", "kind"))],
         rounds=[
             [{"user": "ann", "kind": "buy", "price": "2.5", "qty": 2, "ts": T + "10:01:00"},
              {"user": "ann", "kind": "buy", "price": 4, "qty": "3", "ts": T + "10:20:00"},
              {"user": None, "kind": "sell", "price": 1.25, "qty": 4, "ts": T + "10:05:00"},
              {"kind": "sell", "price": 10, "ts": T + "10:06:00"},
              {"user": "bob", "kind": "skip", "price": 99, "qty": 1, "ts": T + "10:07:00"},
              {"user": "Bob", "price": 3, "qty": 3, "ts": T + "10:40:00"},
              {"user": "bob", "kind": None, "price": "x", "qty": 1, "ts": T + "10:41:00"}],
             [{"user": "ann", "kind": "buy", "price": 0.1, "qty": 3, "ts": T + "10:29:59"},
              {"user": "BOB", "kind": "buy", "price": 2, "qty": 2, "ts": T + "11:45:00"}],
         ]),
    # 7. time zones and fractional seconds in event-time text; epoch seconds
    Case("time_zones",
         "event-time text with Z, +hh:mm and -hh:mm offsets, no zone (UTC), fractional seconds "
         "at window boundaries, across midnight; 1-minute and sliding 1-hour windows",
         lua="time_zones.lua",
         queries=[Query("minutes", spark_minutes(TS_TEXT), "complete", W),
                  Query("hours", spark_hours(TS_TEXT), "complete", ("window",))],
         rounds=[[
             {"key": "a", "ts": "2019-01-01T10:00:00Z"},
             {"key": "a", "ts": "2019-01-01T10:00:59.999Z"},
             {"key": "a", "ts": "2019-01-01T10:01:00.000+00:00"},
             {"key": "a", "ts": "2019-01-01T12:30:00+02:00"},
             {"key": "a", "ts": "2019-01-01T05:29:59.5-05:00"},
             {"key": "b", "ts": "2019-01-01T10:59:59.999999Z"},
             {"key": "b", "ts": "2019-01-01T10:15:00"},
             {"key": "b", "ts": "2019-01-01T10:15:30.25"},
             {"key": "b", "ts": "2019-01-01T23:30:00-02:00"},
             {"key": "b", "ts": "2019-01-02T05:15:00+05:45"},
             {"key": "c", "ts": "2018-12-31T23:59:59.999Z"},
             {"key": "c", "ts": "2019-01-01T00:00:00.001Z"},
         ]]),
    Case("time_formats_lenient",
         "event-time text forms Spark's cast also reads: a space instead of T, offsets without "
         "a colon, a date alone, more than 6 fraction digits",
         lua="time_zones.lua",
         queries=[Query("minutes", spark_minutes(TS_TEXT), "complete", W)],
         rounds=[[
             {"key": "a", "ts": "2019-01-01 10:00:30"},
             {"key": "a", "ts": "2019-01-01T12:00:00+0200"},
             {"key": "b", "ts": "2019-01-01"},
             {"key": "b", "ts": "2019-01-01T10:00:00.1234567Z"},
         ]],
         ),
    Case("time_formats_rare",
         "event-time text at the edges of Spark's cast to timestamp (each form is its own key): "
         "an hour alone, single-digit fields, a leading +, zone names (UTC, GMT+01:00), a year "
         "alone, an empty fraction are read; hh:mmZ, second 60, offsets past 18:00, a comma "
         "before the fraction, 24:00, Feb 30 and a lowercase z are not",
         lua="time_zones.lua",
         queries=[Query("minutes", spark_minutes(TS_TEXT), "complete", W)],
         rounds=[[{"key": f, "ts": f} for f in [
             "2019-01-01T10:00:00Z", "2019-01-01T10", "2019-01-01T10:00:00 UTC",
             "2019-01-01T10:00:00GMT+01:00", "2019-01-01T10:00:00 Europe/Paris",
             "2019-1-1T1:2:3", "+2019-01-01T10:00:00", "2019-01-01T10:00:00.Z", "2019",
             "2019-01-01T10:00Z", "2019-01-01T10:00:60", "2019-01-01T10:00:00+19:00",
             "2019-01-01T10:00:00,5Z", "2019-01-01T24:00:00", "2019-02-30T10:00:00",
             "2019-01-01t10:00:00z"]]],
         expected_difference={"minutes": ExpectedDifference(
             "a zone region ID needs the time-zone database: luastream reads fixed offsets only "
             "and dead-letters the record",
             only_spark=['{"window":{"start":"2019-01-01T09:00:00.000Z","end":"2019-01-01T09:01:00.000Z"},'
                         '"key":"2019-01-01T10:00:00 Europe/Paris","count":1}'])}),
    Case("pre_epoch",
         "event times before 1970 (negative epoch): windows still aligned to the epoch",
         lua="time_zones.lua",
         queries=[Query("minutes", spark_minutes(TS_TEXT), "complete", W),
                  Query("hours", spark_hours(TS_TEXT), "complete", ("window",))],
         rounds=[[rec("a", "1969-12-31T23:59:30Z"), rec("a", "1969-12-31T23:59:59.999Z"),
                  rec("a", "1970-01-01T00:00:00Z"), rec("b", "1969-12-31T23:00:00Z"),
                  rec("b", "1969-07-20T20:17:40Z"), rec("b", "1900-01-01T00:00:00.5Z")]]),
    Case("epoch_seconds",
         "event time as numbers of seconds since the epoch (integers and fractions)",
         lua="time_zones.lua",
         queries=[Query("minutes", spark_minutes(TS_EPOCH), "complete", W)],
         rounds=[[
             {"key": "a", "ts": 1546336800}, {"key": "a", "ts": 1546336859.999},
             {"key": "a", "ts": 1546336860}, {"key": "b", "ts": 1546300799.5},
             {"key": "b", "ts": 0}, {"key": "b", "ts": 1546336800.25},
         ]]),
    Case("bad_event_time",
         "records whose event time is null, missing or not a time: Spark's window() drops them "
         "(null window), as luastream does (dead letter)",
         lua="tumbling_update.lua",
         queries=[Query("counts", spark_tumbling_update, "update", W)],
         rounds=[[rec("a", "00:10:00", 1), {"key": "a", "ts": None, "v": 2}, {"key": "a", "v": 3},
                  {"key": "a", "ts": "yesterday", "v": 4}, rec("a", "00:20:00", 5)]]),
    # 8. the seed's pipeline on the real sample
    Case("pipeline_sample",
         "scripts/pipeline.lua (sliding-window counts in complete mode; counts per disposition "
         "left-joined with data/radio_code.json) vs bench/spark/pipeline.py on the real "
         "6,802-record sample, 4 partitions, two runs, 1,500 records per batch",
         lua="scripts/pipeline.lua", partitions=4, cap=1500, params={"radio": RADIO},
         queries=[Query("crime_type_counts", spark_crime_type_counts, "complete",
                        ("window", "original_crime_type_name")),
                  Query("disposition_counts", spark_disposition_counts, "complete",
                        ("disposition",))],
         rounds=sample_halves()),
    # the repros
    Case("repro_a_late_per_window",
         "issue repro A: a record older than the watermark still counts while its window is "
         "open (Spark drops by window end); one partition, same checkpoint over two runs",
         lua="late_per_window.lua",
         queries=[Query("counts", spark_late_per_window, "update", W)],
         rounds=[[{"key": "a", "ts": T + "06:05:00Z"}],
                 [{"key": "a", "ts": T + "05:30:00Z"}, {"key": "a", "ts": T + "04:30:00Z"},
                  {"key": "a", "ts": T + "06:10:00Z"}]],
         spark_expect={"counts": [
             {"window": {"start": T + "05:00:00Z", "end": T + "06:00:00Z"}, "key": "a", "count": 1},
             {"window": {"start": T + "06:00:00Z", "end": T + "07:00:00Z"}, "key": "a", "count": 2}]}),
    Case("repro_a_sliding",
         "repro A with sliding windows: a record older than the watermark counts in those of its "
         "windows that are still open",
         lua="sliding_update.lua",
         queries=[Query("counts", spark_sliding_update, "update", W)],
         rounds=[[rec("a", "01:00:00", 1)],
                 [rec("a", "00:44:00", 2), rec("a", "00:20:00", 3)]]),
    Case("repro_b_capped_partitions",
         "issue repro B: 2 partitions, 2 records per batch: Spark takes 1 from each partition per "
         "batch, so no record is late",
         lua="capped_partitions.lua", partitions=2, cap=2,
         queries=[Query("counts", spark_capped_partitions, "update", W)],
         rounds=[[(0, rec("k", "00:00:00", 1)), (0, rec("k", "01:00:00", 1)),
                  (0, rec("k", "02:00:00", 1)), (0, rec("k", "03:00:00", 1)),
                  (1, rec("k", "00:01:00", 1)), (1, rec("k", "01:01:00", 1)),
                  (1, rec("k", "02:01:00", 1)), (1, rec("k", "03:01:00", 1))]],
         spark_expect={"counts": [
             {"window": {"start": T + "%02d:00:00Z" % h, "end": T + "%02d:15:00Z" % h},
              "key": "k", "count": 2, "sum(v)": 2} for h in range(4)]}),
    # the planned source schema
    Case("schema_try_cast",
         "ls.kafka_source{schema=...} (planned): Spark type names with try_cast semantics: numbers in "
         "a string column are text, bad numbers are null, '1.5' is not a bigint",
         lua=SCHEMA_LUA,
         queries=[Query("typed", spark_schema, "update", W)],
         rounds=[[{"key": "1", "ts": T + "00:10:00", "v": 1.5, "n": 1},
                  {"key": 1, "ts": T + "00:11:00", "v": "2", "n": "2"},
                  {"key": "x", "ts": T + "00:12:00", "v": "abc", "n": "1.5"},
                  {"key": "x", "ts": T + "00:13:00", "v": "NaN", "n": "zz"},
                  {"key": "x", "ts": T + "00:14:00", "v": None, "n": 3}]]),
]


def params():
    for c in CASES:
        marks = []
        if c.xfail:
            marks.append(pytest.mark.xfail(strict=True, raises=Mismatch, reason=c.xfail))
        yield pytest.param(c, id=c.name, marks=marks)


@pytest.mark.parametrize("case", list(params()))
def test_same_results_as_spark(case, broker, spark, admin, tmp_path_factory):
    work = str(tmp_path_factory.mktemp(case.name))
    run_case(case, broker, spark, admin, work)
