-- raising_pipeline.lua - scripts/pipeline.lua with a transform that raises on
-- some records, for the bad-input tests: the raising records must end in the
-- dead-letter output while every other count stays exactly the same.
local ls = require "luastream"

local calls = ls.kafka_source { topic = ls.param("topic", "police.calls"),
                         bootstrap = ls.param("bootstrap", "localhost:9092") }
local radio = ls.json_table("data/radio_code.json", { key = "disposition_code" })
local out = ls.output(ls.param("output", "console"))
local poison = ls.param("poison", "POISON")

local function call(r)
  if r.crime_id == poison then error("refusing crime_id " .. poison) end
  return { original_crime_type_name = r.original_crime_type_name,
           call_date_time = r.call_date_time, disposition = r.disposition }
end

ls.query "crime_type_counts" {
  from = calls, map = call,
  watermark = { "call_date_time", "60 minutes" },
  group_by = { ls.window("call_date_time", "10 minutes", "5 minutes"), "original_crime_type_name" },
  aggregate = { ls.count() }, sink = out,
}

ls.query "disposition_counts" {
  from = calls, map = call,
  join = { with = radio, on = { "disposition", "disposition_code" }, how = "left", columns = { "description" } },
  group_by = { "disposition", "description" },
  aggregate = { ls.count() }, sink = out,
}
