-- tumbling_update.lua: counts and sums per key over 1-hour tumbling windows on `ts`, watermark
-- 10 minutes, update mode. Spark: tests/spark/test_differential.py, case tumbling_update.
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
  group_by = { ls.window("ts", "1 hour"), "key" },
  aggregate = { ls.count(), ls.sum("v") },
  output_mode = "update",
  sink = ls.output(ls.param("output", "console")),
}
