-- sliding_update.lua: counts and maxima per key over 10-minute windows sliding 5 minutes on
-- `ts`, watermark 15 minutes, update mode.
-- Spark side: tests/spark/test_differential.py, case sliding_update.
local ls = require "luastream"

local src = ls.kafka_source {
  topic = ls.param("topic", "t"),
  bootstrap = ls.param("bootstrap", "localhost:9092"),
  starting_offsets = "earliest",
  max_records_per_trigger = ls.param("max_records_per_trigger", 0),
}

ls.query "counts" {
  from = src,
  watermark = { "ts", "15 minutes" },
  group_by = { ls.window("ts", "10 minutes", "5 minutes"), "key" },
  aggregate = { ls.count(), ls.max("v") },
  output_mode = "update",
  sink = ls.output(ls.param("output", "console")),
}
