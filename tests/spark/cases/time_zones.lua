-- time_zones.lua: counts per key over 1-minute and 1-hour windows on event-time text with
-- zones and fractional seconds (no watermark, complete mode: batching does not matter).
-- Spark side: tests/spark/test_differential.py, case time_zones.
local ls = require "luastream"

local src = ls.kafka_source {
  topic = ls.param("topic", "t"),
  bootstrap = ls.param("bootstrap", "localhost:9092"),
  starting_offsets = "earliest",
  max_records_per_trigger = ls.param("max_records_per_trigger", 0),
}

ls.query "minutes" {
  from = src,
  event_time = "ts",
  group_by = { ls.window("ts", "1 minute"), "key" },
  aggregate = { ls.count() },
  output_mode = "complete",
  sink = ls.output(ls.param("output", "console")),
}

ls.query "hours" {
  from = src,
  event_time = "ts",
  group_by = { ls.window("ts", "1 hour", "30 minutes") },
  aggregate = { ls.count() },
  output_mode = "complete",
  sink = ls.output(ls.param("output", "console")),
}
