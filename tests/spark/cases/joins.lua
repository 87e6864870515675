-- joins.lua: stream-static joins with ls.json_table (key `code`): an inner join counting per
-- code and name, and a left join counting per code, name and region, update mode.
-- Spark side: tests/spark/test_differential.py, case join_inner, join_left.
local ls = require "luastream"

local src = ls.kafka_source {
  topic = ls.param("topic", "t"),
  bootstrap = ls.param("bootstrap", "localhost:9092"),
  starting_offsets = "earliest",
  max_records_per_trigger = ls.param("max_records_per_trigger", 0),
}

local tbl = ls.json_table(ls.param("table", "table.json"), { key = "code" })

ls.query "inner" {
  from = src,
  join = { with = tbl, on = { "code", "code" }, how = "inner", columns = { "name" } },
  group_by = { "code", "name" },
  aggregate = { ls.count(), ls.sum("v") },
  output_mode = "update",
  sink = ls.output(ls.param("output", "console")),
}

ls.query "left" {
  from = src,
  join = { with = tbl, on = { "code", "code" }, how = "left", columns = { "name", "region" } },
  group_by = { "code", "name", "region" },
  aggregate = { ls.count(), ls.max("v") },
  output_mode = "update",
  sink = ls.output(ls.param("output", "console")),
}
