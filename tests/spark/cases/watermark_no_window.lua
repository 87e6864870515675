-- watermark_no_window.lua: counts and maxima per key (no window) with a 10-minute watermark on
-- `ts`, update mode.
-- Spark side: tests/spark/test_differential.py, case watermark_no_window.
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
  group_by = { "key" },
  aggregate = { ls.count(), ls.max("v") },
  output_mode = "update",
  sink = ls.output(ls.param("output", "console")),
}
