-- sessions.lua - sessions of police calls per crime type (Spark's session_window): the calls
-- of one crime type that follow each other with less than `gap` between them make one
-- session, [first call, last call + gap), with its number of calls. A session is written once,
-- when the watermark has passed its end (append mode), so it is final.
-- Run it with:  build/luastream scripts/sessions.lua [--set output=jsonl:out]
--
-- Parameters (--set NAME=VALUE):
--   topic      source topic                       (default police.calls)
--   bootstrap  Kafka bootstrap servers            (default localhost:9092)
--   output     console | jsonl:DIR | kafka:PREFIX (default console)
--   trigger    batch interval                     (default "2 seconds")
--   gap        inactivity that closes a session   (default "30 minutes")
--   delay      the watermark's delay              (default "60 minutes")

local ls = require "luastream"

local calls = ls.kafka_source {
  topic = ls.param("topic", "police.calls"),
  bootstrap = ls.param("bootstrap", "localhost:9092"),
  starting_offsets = "earliest",
  max_records_per_trigger = ls.param("max_records_per_trigger", 0),
}

-- As in scripts/pipeline.lua, no per-record Lua: the engine reads call_date_time (ISO text,
-- UTC when it has no zone) and original_crime_type_name in C.
ls.query "crime_type_sessions" {
  from = calls,
  watermark = { "call_date_time", ls.param("delay", "60 minutes") },
  group_by = { ls.session_window("call_date_time", ls.param("gap", "30 minutes")),
               "original_crime_type_name" },
  aggregate = { ls.count() },
  output_mode = "append",
  trigger = ls.param("trigger", "2 seconds"),
  sink = ls.output(ls.param("output", "console")),
}
