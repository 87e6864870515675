-- sessions.lua: session windows (Spark's session_window) per key on `ts`, gap `gap`
-- (default 5 minutes), watermark `watermark` on ts (default 10 minutes; "none": none),
-- output mode `mode` (default append); count, sum, min, max, avg of v.
-- Spark side: tests/spark/test_sessions.py.
local ls = require "luastream"

local src = ls.kafka_source {
  topic = ls.param("topic", "t"),
  bootstrap = ls.param("bootstrap", "localhost:9092"),
  starting_offsets = "earliest",
  max_records_per_trigger = ls.param("max_records_per_trigger", 0),
}

local wm = ls.param("watermark", "10 minutes")

ls.query "sessions" {
  from = src,
  watermark = wm ~= "none" and { "ts", wm } or nil,
  group_by = { ls.session_window("ts", ls.param("gap", "5 minutes")), "key" },
  aggregate = { ls.count(), ls.sum("v"), ls.min("v"), ls.max("v"), ls.avg("v") },
  output_mode = ls.param("mode", "append"),
  sink = ls.output(ls.param("output", "console")),
}
