-- A per-record job for the scale-out tests (test_app.py): filter in C,
-- map in Lua, one Kafka sink; run as members of one job with --app.
local ls = require "luastream"

local calls = ls.kafka_source {
  topic = ls.param("topic", "police.calls"),
  bootstrap = ls.param("bootstrap", "localhost:9092"),
  starting_offsets = "earliest",
  max_records_per_trigger = ls.param("max_records_per_trigger", 0),
  -- a killed member leaves the group after this (the broker's least)
  ["kafka.session.timeout.ms"] = 6000,
  ["kafka.heartbeat.interval.ms"] = 1000,
}

ls.query "forward" {
  from = calls,
  where = { disposition = { "~=", "ND" } },
  map = function(r, meta)
    return { id = r.crime_id, type = r.original_crime_type_name, disposition = r.disposition,
             _key = r.crime_id }
  end,
  sink = ls.kafka_sink { topic = ls.param("output", "calls.forwarded") },
}
