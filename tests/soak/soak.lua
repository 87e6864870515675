-- soak.lua - the soak test's job: windowed counts with a watermark in update
-- mode, so finished windows are evicted and state stays bounded.
local ls = require "luastream"
ls.query "soak_counts" {
  from = ls.kafka_source { topic = ls.param("topic", "soak"), bootstrap = ls.param("bootstrap", "localhost:9092") },
  watermark = { "call_date_time", "10 minutes" },
  group_by = { ls.window("call_date_time", "10 minutes", "5 minutes"), "original_crime_type_name" },
  aggregate = { ls.count() },
  output_mode = "update",
  trigger = "1 second",
  sink = ls.output(ls.param("output", "jsonl:.run/soak")),
}
