-- percentile.lua: percentile_approx per key with one percentage and with a list, update mode.
-- Spark side: tests/spark/test_differential.py, cases percentile_approx_*.
local ls = require "luastream"

-- vtype: v's type in the source's schema (Spark: try_cast); ts is a timestamp column;
-- accuracy: that of the list { 0.1, 0.5, 0.9 }.
local vtype = ls.param("vtype", "bigint")
local src = ls.kafka_source {
  topic = ls.param("topic", "t"),
  bootstrap = ls.param("bootstrap", "localhost:9092"),
  starting_offsets = "earliest",
  max_records_per_trigger = ls.param("max_records_per_trigger", 0),
  schema = { key = "string", v = vtype, ts = "timestamp" },
}

ls.query "percentiles" {
  from = src,
  group_by = { "key" },
  aggregate = {
    ls.count(),
    ls.percentile_approx("v", 0.5),
    ls.percentile_approx("v", { 0.1, 0.5, 0.9 }, ls.param("accuracy", 100)),
    ls.percentile_approx("v", { 0.0, 0.25, 0.75, 0.99, 1.0 }, 10000),
    ls.percentile_approx("ts", 0.5),
  },
  output_mode = "update",
  sink = ls.output(ls.param("output", "console")),
}
