-- aggregates.lua: every aggregate over one column `v` per key, update mode (no window).
-- Spark side: tests/spark/test_differential.py, case aggregates_ints, aggregates_floats, aggregates_bad_values.
local ls = require "luastream"

-- vtype: the type of v in the source's schema (Spark's from_json of strings + try_cast),
-- or "" for no schema (JSON types decide).
local vtype = ls.param("vtype", "")
local src = ls.kafka_source {
  topic = ls.param("topic", "t"),
  bootstrap = ls.param("bootstrap", "localhost:9092"),
  starting_offsets = "earliest",
  max_records_per_trigger = ls.param("max_records_per_trigger", 0),
  schema = vtype ~= "" and { key = "string", v = vtype } or nil,
}

ls.query "aggs" {
  from = src,
  group_by = { "key" },
  aggregate = { ls.count(), ls.count("v"), ls.sum("v"), ls.avg("v"), ls.min("v"), ls.max("v") },
  output_mode = "update",
  sink = ls.output(ls.param("output", "console")),
}
