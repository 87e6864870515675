-- long_windows.lua: counts per key over 1-day tumbling windows and 7-day windows sliding 1 day,
-- watermark 2 days, update mode.
-- Spark side: tests/spark/test_differential.py, case long_windows.
local ls = require "luastream"

local src = ls.kafka_source {
  topic = ls.param("topic", "t"),
  bootstrap = ls.param("bootstrap", "localhost:9092"),
  starting_offsets = "earliest",
  max_records_per_trigger = ls.param("max_records_per_trigger", 0),
}

ls.query "days" {
  from = src,
  watermark = { "ts", "2 days" },
  group_by = { ls.window("ts", "1 day"), "key" },
  aggregate = { ls.count() },
  output_mode = "update",
  sink = ls.output(ls.param("output", "console")),
}

ls.query "weeks" {
  from = src,
  watermark = { "ts", "2 days" },
  group_by = { ls.window("ts", "7 days", "1 day"), "key" },
  aggregate = { ls.count() },
  output_mode = "update",
  sink = ls.output(ls.param("output", "console")),
}
