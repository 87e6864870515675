-- tumbling_append.lua: counts and sums per key over 15-minute tumbling windows on `ts`,
-- watermark 5 minutes, append mode (each window once, when the watermark passes its end).
-- Spark side: tests/spark/test_differential.py, case tumbling_append.
local ls = require "luastream"

local src = ls.kafka_source {
  topic = ls.param("topic", "t"),
  bootstrap = ls.param("bootstrap", "localhost:9092"),
  starting_offsets = "earliest",
  max_records_per_trigger = ls.param("max_records_per_trigger", 0),
}

ls.query "counts" {
  from = src,
  watermark = { "ts", "5 minutes" },
  group_by = { ls.window("ts", "15 minutes"), "key" },
  aggregate = { ls.count(), ls.sum("v") },
  output_mode = "append",
  sink = ls.output(ls.param("output", "console")),
}
