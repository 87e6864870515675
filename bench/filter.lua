-- bench/filter.lua - the benchmark's filter-and-forward job (bench/bench.py, part "filter";
-- see bench/README.md): one per-record query from the input topic to an output topic, no
-- aggregation. Without a map the forwarded messages are the input's bytes, unchanged.
--
-- Parameters (--set NAME=VALUE):
--   bootstrap, topic, out       broker, input topic, output topic
--   variant                     han   where disposition = "HAN" (evaluated in C, no Lua per record)
--                               multi four C predicates: in, > (a number against the string
--                                     crime_id: cast to double), ~=, is not null
--                               all   no where: every record forwarded
--                               lua   the same filter as han, written as a Lua map (each record
--                                     decoded into a Lua table, the row encoded back to JSON)
--   crime_id_gt                 the threshold of multi's crime_id > (bench.py: the median id)
--   max_records_per_trigger     the source's cap per batch (default 0: no cap)
-- A checkpoint (--checkpoint DIR) makes the output exactly once: each batch one transaction.

local ls = require "luastream"

local variant = ls.param("variant", "han")

local calls = ls.kafka_source {
  topic = ls.param("topic", "calls.bench"),
  bootstrap = ls.param("bootstrap", "127.0.0.1:29092"),
  starting_offsets = "earliest",
  max_records_per_trigger = ls.param("max_records_per_trigger", 0),
}

local q = {
  from = calls,
  sink = ls.kafka_sink { topic = ls.param("out", "calls.filtered") },
}

if variant == "han" then
  q.where = { disposition = "HAN" }
elseif variant == "multi" then
  q.where = {
    disposition = { "in", { "HAN", "GOA", "CIT" } },
    crime_id = { ">", ls.param("crime_id_gt", 0) },
    address_type = { "~=", "Intersection" },
    common_location = { "is not null" },
  }
elseif variant == "lua" then
  q.map = function(r)
    if r.disposition == "HAN" then return r end
  end
elseif variant ~= "all" then
  error("--set variant=" .. tostring(variant) .. ": expected han, multi, all or lua")
end

ls.query "filter" (q)
