-- complete_watermark.lua: counts and sums per key over 30-minute windows on `ts` with a 10-minute
-- watermark in complete mode (as in Spark, complete mode drops nothing and evicts nothing).
-- Spark side: tests/spark/test_differential.py, case partitions_cap_complete.
local ls = require "luastream"

local src = ls.kafka_source {
  topic = ls.param("topic", "t"),
  bootstrap = ls.param("bootstrap", "localhost:9092"),
  starting_offsets = "earliest",
  max_records_per_trigger = ls.param("max_records_per_trigger", 0),
}

ls.query "counts" {
  from = src,
  watermark = { "ts", "10 minutes" },
  group_by = { ls.window("ts", "30 minutes"), "key" },
  aggregate = { ls.count(), ls.sum("v") },
  output_mode = "complete",
  sink = ls.output(ls.param("output", "console")),
}
