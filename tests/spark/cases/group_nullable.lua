-- group_nullable.lua: counts and sums per (k1, k2), both nullable or missing, complete mode.
-- Spark side: tests/spark/test_differential.py, case group_nullable.
local ls = require "luastream"

local src = ls.kafka_source {
  topic = ls.param("topic", "t"),
  bootstrap = ls.param("bootstrap", "localhost:9092"),
  starting_offsets = "earliest",
  max_records_per_trigger = ls.param("max_records_per_trigger", 0),
}

ls.query "groups" {
  from = src,
  group_by = { "k1", "k2" },
  aggregate = { ls.count(), ls.sum("v") },
  output_mode = "complete",
  sink = ls.output(ls.param("output", "console")),
}
