-- late_per_window.lua: issue repro A: 1-hour tumbling windows, watermark 10 minutes, update
-- mode; late data is judged by its window's end, as Spark does.
-- Spark side: tests/spark/test_differential.py, case repro_a_late_per_window.
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
  group_by = { ls.window("ts", "1 hour"), "key" },
  aggregate = { ls.count() },
  output_mode = "update",
  sink = ls.output(ls.param("output", "console")),
}
