-- approx_distinct.lua: approx_count_distinct per key, update mode.
-- Spark side: tests/spark/test_differential.py, cases approx_count_distinct_strings and
-- approx_count_distinct_numbers.
local ls = require "luastream"

-- typed = "yes": v bigint, i int, d double in the source's schema (Spark: try_cast);
-- otherwise no schema: the JSON values as they are (strings in these cases).
local typed = ls.param("typed", "no") == "yes"
local src = ls.kafka_source {
  topic = ls.param("topic", "t"),
  bootstrap = ls.param("bootstrap", "localhost:9092"),
  starting_offsets = "earliest",
  max_records_per_trigger = ls.param("max_records_per_trigger", 0),
  schema = typed and { key = "string", v = "bigint", i = "int", d = "double" } or nil,
}

local aggregates = { ls.count(), ls.approx_count_distinct("v"), ls.approx_count_distinct("v", 0.01, "acd_01") }
if typed then
  aggregates[#aggregates + 1] = ls.approx_count_distinct("i")
  aggregates[#aggregates + 1] = ls.approx_count_distinct("d")
end

ls.query "distinct" {
  from = src,
  group_by = { "key" },
  aggregate = aggregates,
  output_mode = "update",
  sink = ls.output(ls.param("output", "console")),
}
