-- sliding_append.lua: counts per key over 1-hour windows sliding 20 minutes on `ts`,
-- watermark 30 minutes, append mode.
-- Spark side: tests/spark/test_differential.py, case sliding_append.
local ls = require "luastream"

local src = ls.kafka_source {
  topic = ls.param("topic", "t"),
  bootstrap = ls.param("bootstrap", "localhost:9092"),
  starting_offsets = "earliest",
  max_records_per_trigger = ls.param("max_records_per_trigger", 0),
}

ls.query "counts" {
  from = src,
  watermark = { "ts", "30 minutes" },
  group_by = { ls.window("ts", "1 hour", "20 minutes"), "key" },
  aggregate = { ls.count(), ls.min("v") },
  output_mode = "append",
  sink = ls.output(ls.param("output", "console")),
}
