-- capped_partitions.lua: issue repro B: 15-minute windows, watermark 10 minutes, update mode,
-- two partitions read max_records_per_trigger records per batch.
-- Spark side: tests/spark/test_differential.py, case repro_b_capped_partitions.
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
  group_by = { ls.window("ts", "15 minutes"), "key" },
  aggregate = { ls.count(), ls.sum("v") },
  output_mode = "update",
  sink = ls.output(ls.param("output", "console")),
}
