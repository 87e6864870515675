-- partitions_cap.lua: counts and sums per key and 1-hour window, no watermark, update mode,
-- read from several partitions at most max_records_per_trigger records per batch.
-- Spark side: tests/spark/test_differential.py, case partitions_cap.
local ls = require "luastream"

local src = ls.kafka_source {
  topic = ls.param("topic", "t"),
  bootstrap = ls.param("bootstrap", "localhost:9092"),
  starting_offsets = "earliest",
  max_records_per_trigger = ls.param("max_records_per_trigger", 0),
}

ls.query "counts" {
  from = src,
  event_time = "ts",
  group_by = { ls.window("ts", "1 hour"), "key" },
  aggregate = { ls.count(), ls.sum("v") },
  output_mode = "update",
  sink = ls.output(ls.param("output", "console")),
}
