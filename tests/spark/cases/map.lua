-- map.lua: a Lua map that drops records, renames, derives and recomputes columns, then
-- counts and sums per derived key over 30-minute tumbling windows (watermark 1 hour, update).
-- Spark side: tests/spark/test_differential.py, case map_lua.
local ls = require "luastream"

local src = ls.kafka_source {
  topic = ls.param("topic", "t"),
  bootstrap = ls.param("bootstrap", "localhost:9092"),
  starting_offsets = "earliest",
  max_records_per_trigger = ls.param("max_records_per_trigger", 0),
}

ls.query "mapped" {
  from = src,
  map = function(r)
    if r.kind == "skip" then return nil end            -- a filter
    local user = r.user
    if user == nil or user == ls.null then user = "anon" end
    local price, qty = tonumber(r.price), tonumber(r.qty)
    return {
      user = string.upper(user),                       -- coalesce, then upper case
      kind = r.kind,
      at = r.ts,                                       -- a rename
      amount = (price or 0) * (qty or 0),              -- a computed column
    }
  end,
  watermark = { "at", "1 hour" },
  group_by = { ls.window("at", "30 minutes"), "user", "kind" },
  aggregate = { ls.count(), ls.sum("amount") },
  output_mode = "update",
  sink = ls.output(ls.param("output", "console")),
}
