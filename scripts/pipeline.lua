-- pipeline.lua - the police-calls job: counts per crime type over sliding
-- event-time windows, and counts per disposition joined with the radio-code
-- table. Run it with:  build/luastream scripts/pipeline.lua [--set output=jsonl:out]
--
-- Parameters (--set NAME=VALUE):
--   topic      source topic                       (default police.calls)
--   bootstrap  Kafka bootstrap servers            (default localhost:9092)
--   output     console | jsonl:DIR | kafka:PREFIX (default console)
--   trigger    batch interval                     (default "2 seconds")
--   radio      the disposition-code table         (default data/radio_code.json)

local ls = require "luastream"

local calls = ls.kafka {
  topic = ls.param("topic", "police.calls"),
  bootstrap = ls.param("bootstrap", "localhost:9092"),
  starting_offsets = "earliest",
  max_records_per_trigger = ls.param("max_records_per_trigger", 0),
}

local radio = ls.json_table(ls.param("radio", "data/radio_code.json"), { key = "disposition_code" })

local output = ls.param("output", "console")
local trigger = ls.param("trigger", "2 seconds")

-- The fields the statistics need, with the event time kept as the source's
-- ISO text (the engine parses it; no zone means UTC).
local function call(r)
  return {
    original_crime_type_name = r.original_crime_type_name,
    call_date_time = r.call_date_time,
    disposition = r.disposition,
  }
end

ls.query "crime_type_counts" {
  from = calls,
  map = call,
  watermark = { "call_date_time", "60 minutes" },
  group_by = { ls.window("call_date_time", "10 minutes", "5 minutes"), "original_crime_type_name" },
  aggregate = { ls.count() },
  output_mode = "complete",
  trigger = trigger,
  sink = ls.output(output),
}

ls.query "disposition_counts" {
  from = calls,
  map = call,
  join = { with = radio, on = { "disposition", "disposition_code" }, how = "left",
           columns = { "description" } },
  group_by = { "disposition", "description" },
  aggregate = { ls.count() },
  output_mode = "complete",
  trigger = trigger,
  sink = ls.output(output),
}
