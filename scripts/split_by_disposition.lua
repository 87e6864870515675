-- split_by_disposition.lua - a topic splitter: every police call is forwarded,
-- keyed by its crime id, to a topic of its disposition (calls.HAN, calls.ADM, ...);
-- calls without a disposition go to calls.unknown. No aggregation: a per-record
-- query, exactly once with a checkpoint.
--   build/luastream scripts/split_by_disposition.lua --set topic=police.calls --checkpoint ck
--
-- Parameters (--set NAME=VALUE):
--   topic      source topic                  (default police.calls)
--   bootstrap  Kafka bootstrap servers       (default localhost:9092)
--   prefix     prefix of the output topics   (default calls)

local ls = require "luastream"

local calls = ls.kafka_source {
  topic = ls.param("topic", "police.calls"),
  bootstrap = ls.param("bootstrap", "localhost:9092"),
}
local prefix = ls.param("prefix", "calls")

ls.query "split" {
  from = calls,
  where = { crime_id = { "is not null" } },        -- evaluated in C, before any Lua
  map = function(r, meta)
    local code = r.disposition
    if code == ls.null or code == nil or code == "" then code = "unknown" end
    return {
      crime_id = r.crime_id,
      type = r.original_crime_type_name,
      at = r.call_date_time,
      disposition = r.disposition,
      source = meta.topic .. "/" .. meta.partition .. "@" .. meta.offset,
      _key = r.crime_id,                            -- the message key
      _topic = prefix .. "." .. code:gsub("[^%w._-]", "_"),  -- the topic, per record
    }
  end,
  sink = ls.kafka_sink { topic = prefix .. ".unknown", headers = { producer = "luastream" } },
}
