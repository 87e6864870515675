-- landing_files.lua - a file-source job: police calls dropped as JSON files
-- into a landing folder (each file a JSON array, as the city publishes them)
-- are counted per disposition, with the code's description, as they arrive.
-- Each file is read once; with a checkpoint a restart goes on where it stopped.
--   build/luastream scripts/landing_files.lua --set landing=landing --checkpoint ck
--
-- Parameters (--set NAME=VALUE):
--   landing    the folder files arrive in  (default landing)
--   output     console | jsonl:DIR | kafka:PREFIX (default console)
--   radio      the disposition-code table  (default data/radio_code.json)

local ls = require "luastream"

local landing = ls.file_source {
  path = ls.param("landing", "landing") .. "/*.json",
  format = "json",                 -- a JSON array (or values one after another) per file
  max_files_per_trigger = 10,
  polling = "1 second",
}
local radio = ls.json_table(ls.param("radio", "data/radio_code.json"), { key = "disposition_code" })

ls.query "dispositions" {
  from = landing,
  join = { with = radio, on = { "disposition", "disposition_code" }, how = "left",
           columns = { "description" } },
  group_by = { "disposition", "description" },
  aggregate = { ls.count(), ls.min("call_date_time", "first_call"), ls.max("call_date_time", "last_call") },
  output_mode = "complete",
  trigger = "2 seconds",
  sink = ls.output(ls.param("output", "console")),
}
