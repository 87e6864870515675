-- kafka_time_counts.lua - counts per crime type per minute of *Kafka* time
-- (the time each message was written to the topic, not a field of the record),
-- with a 2-minute watermark: processing on arrival time, without a map.
--   build/luastream scripts/kafka_time_counts.lua --set topic=police.calls
--
-- Parameters (--set NAME=VALUE):
--   topic      source topic               (default police.calls)
--   bootstrap  Kafka bootstrap servers    (default localhost:9092)
--   output     console | jsonl:DIR | kafka:PREFIX (default console)

local ls = require "luastream"

local calls = ls.kafka_source {
  topic = ls.param("topic", "police.calls"),
  bootstrap = ls.param("bootstrap", "localhost:9092"),
}

ls.query "per_minute" {
  from = calls,
  watermark = { "@timestamp", "2 minutes" },        -- the message timestamp is the event time
  group_by = { ls.window("@timestamp", "1 minute"), "original_crime_type_name" },
  aggregate = { ls.count(), ls.max("@offset", "last_offset") },
  output_mode = "update",
  sink = ls.output(ls.param("output", "console")),
}
