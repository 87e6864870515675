-- bench/state_memory.lua - one group per record (group by crime_id): measures
-- the aggregation state's memory per key (progress: memoryUsedBytes).
local ls = require "luastream"
ls.query "per_call" {
  from = ls.kafka_source { topic = ls.param("topic", "police.calls"),
                    bootstrap = ls.param("bootstrap", "localhost:9092") },
  group_by = { "crime_id" },
  aggregate = { ls.count() },
  sink = ls.output(ls.param("output", "jsonl:.run/state_memory")),
}
