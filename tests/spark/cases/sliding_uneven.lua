-- sliding_uneven.lua: counts per key over 10-minute windows sliding 3 minutes (the size is not
-- a multiple of the slide), and 7-minute windows sliding 2 minutes; no watermark, complete mode.
-- Spark side: tests/spark/test_differential.py, case sliding_uneven.
local ls = require "luastream"

local src = ls.kafka_source {
  topic = ls.param("topic", "t"),
  bootstrap = ls.param("bootstrap", "localhost:9092"),
  starting_offsets = "earliest",
  max_records_per_trigger = ls.param("max_records_per_trigger", 0),
}

ls.query "w10s3" {
  from = src,
  event_time = "ts",
  group_by = { ls.window("ts", "10 minutes", "3 minutes"), "key" },
  aggregate = { ls.count() },
  output_mode = "complete",
  sink = ls.output(ls.param("output", "console")),
}

ls.query "w7s2" {
  from = src,
  event_time = "ts",
  group_by = { ls.window("ts", "7 minutes", "2 minutes") },
  aggregate = { ls.count() },
  output_mode = "complete",
  sink = ls.output(ls.param("output", "console")),
}
