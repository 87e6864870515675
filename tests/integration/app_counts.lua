-- An aggregation for the scale-out tests (test_app_aggregate.py): counts per
-- crime type over 10-minute windows sliding by 5, update mode, a 60-minute
-- watermark (`--set delay=...` another), aggregates of several kinds (a count, a sum, a string min, a
-- sketch), to a Kafka sink; run as members of one job with --app.
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

ls.query "counts" {
  from = calls,
  watermark = { "call_date_time", ls.param("delay", "60 minutes") },
  group_by = { ls.window("call_date_time", "10 minutes", "5 minutes"), "original_crime_type_name" },
  aggregate = { ls.count(), ls.sum("agency_id", "agencies"), ls.min("address"),
                ls.approx_count_distinct("disposition") },
  output_mode = ls.param("mode", "update"),
  partitions = tonumber(ls.param("partitions", "8")),
  sink = ls.output(ls.param("output", "console")),
}
