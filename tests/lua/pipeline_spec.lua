-- pipeline_spec.lua - scripts/pipeline.lua loaded in plain Lua: what it
-- declares, how --set parameters change it, and its map function.
-- (The radio-code table file is read by the C engine, not here.)

local H = require "ls_helpers"

local SCRIPT = "scripts/pipeline.lua"

-- Runs the pipeline script against a fresh module (with `params` as if
-- given with --set) and returns the module.
local function load_pipeline(params)
  local ls = H.fresh(params)
  local chunk = assert(loadfile(SCRIPT))
  chunk()
  return ls
end

local function query(ls, name)
  for _, q in ipairs(ls._declared.queries) do
    if q.name == name then return q end
  end
  error("no query named " .. name, 2)
end

-- The line of the script holding `text`.
local function script_line(text)
  local f = assert(io.open(SCRIPT))
  local src = f:read("a")
  f:close()
  return H.line_of(src, text)
end

-- A record shaped like the police-calls schema (all 14 fields are text).
local function record()
  return {
    crime_id = "183653123",
    original_crime_type_name = "Suspicious Person",
    report_date = "2018-12-31T00:00:00.000",
    call_date = "2018-12-31T00:00:00.000",
    offense_date = "2018-12-31T00:00:00.000",
    call_time = "23:57",
    call_date_time = "2018-12-31T23:57:00.000",
    disposition = "GOA",
    address = "100 Block Of Market St",
    city = "San Francisco",
    state = "CA",
    agency_id = "1",
    address_type = "Premise Address",
    common_location = "",
  }
end

describe("scripts/pipeline.lua", function()
  describe("with default parameters", function()
    local ls

    before_each(function()
      ls = load_pipeline()
    end)

    it("declares one Kafka source with the defaults", function()
      local d = ls._declared
      assert.are.equal(1, #d.sources)
      local s = d.sources[1]
      assert.are.same({ "police.calls" }, s.topics)
      assert.are.equal("localhost:9092", s.bootstrap)
      assert.are.equal("earliest", s.starting_offsets)
      assert.are.equal(0, s.max_records_per_trigger)
    end)

    it("declares the radio-code table keyed by disposition_code", function()
      local d = ls._declared
      assert.are.equal(1, #d.tables)
      assert.are.equal("data/radio_code.json", d.tables[1].path)
      assert.are.equal("disposition_code", d.tables[1].key)
    end)

    it("uses the parameters it documents", function()
      assert.are.same({
        topic = true, bootstrap = true, max_records_per_trigger = true,
        radio = true, output = true, trigger = true,
      }, ls._declared.params_used)
    end)

    it("declares exactly the two queries, in order", function()
      local names = {}
      for i, q in ipairs(ls._declared.queries) do names[i] = q.name end
      assert.are.same({ "crime_type_counts", "disposition_counts" }, names)
    end)

    it("crime_type_counts: sliding 10/5 minute windows per crime type", function()
      local q = query(ls, "crime_type_counts")
      assert.are.equal(ls._declared.sources[1], q.from)
      assert.is_nil(q.map) -- no per-record Lua: the engine projects the fields in C
      assert.are.equal(2, #q.group_by)
      local w = q.group_by[1]
      assert.are.equal("window", w._kind)
      assert.are.equal("call_date_time", w.column)
      assert.are.equal(600000, w.size_ms)
      assert.are.equal(300000, w.slide_ms)
      assert.are.same({ column = "original_crime_type_name" }, q.group_by[2])
      assert.are.equal("call_date_time", q.event_time)
      assert.are.equal(3600000, q.watermark_ms)
      assert.are.same({}, q.joins)
      assert.are.equal(1, #q.aggregates)
      assert.are.equal("count", q.aggregates[1].fn)
      assert.are.equal("count", q.aggregates[1].name)
      assert.are.equal("complete", q.output_mode)
      assert.are.equal("2 seconds", q.trigger)
      assert.are.equal("console", q.sink.type)
      assert.are.equal(SCRIPT .. ":" .. script_line('ls.query "crime_type_counts"'), q.where)
    end)

    it("disposition_counts: counts per disposition, left-joined with its description", function()
      local q = query(ls, "disposition_counts")
      assert.are.equal(ls._declared.sources[1], q.from)
      assert.is_nil(q.map) -- no per-record Lua: the engine projects the fields in C
      assert.are.equal(1, #q.joins)
      local j = q.joins[1]
      assert.are.equal(ls._declared.tables[1], j.table)
      assert.are.equal("disposition", j.left)
      assert.are.equal("disposition_code", j.table.key)
      assert.are.equal("left", j.how)
      assert.are.same({ "description" }, j.columns)
      assert.are.same({ { column = "disposition" }, { column = "description" } }, q.group_by)
      assert.is_nil(q.watermark_ms)
      assert.are.equal(1, #q.aggregates)
      assert.are.equal("count", q.aggregates[1].name)
      assert.are.equal("complete", q.output_mode)
      assert.are.equal("2 seconds", q.trigger)
      assert.are.equal("console", q.sink.type)
      assert.are.equal(SCRIPT .. ":" .. script_line('ls.query "disposition_counts"'), q.where)
    end)

    it("the radio-code file has the key and the joined column", function()
      local f = assert(io.open(ls._declared.tables[1].path))
      local rows = assert(ls.decode(f:read("a")))
      f:close()
      assert.is_true(#rows > 0)
      for i, row in ipairs(rows) do
        assert.is_string(row.disposition_code, "row " .. i)
        assert.is_string(row.description, "row " .. i)
      end
    end)
  end)

  describe("with --set parameters", function()
    it("takes topic, bootstrap and output=jsonl:DIR", function()
      local ls = load_pipeline {
        topic = "calls.test",
        bootstrap = "broker1:19092,broker2:19092",
        output = "jsonl:/tmp/luastream-out",
      }
      local s = ls._declared.sources[1]
      assert.are.same({ "calls.test" }, s.topics)
      assert.are.equal("broker1:19092,broker2:19092", s.bootstrap)
      for _, q in ipairs(ls._declared.queries) do
        assert.are.same({ _kind = "sink", type = "jsonl", dir = "/tmp/luastream-out" }, q.sink)
      end
    end)

    it("takes output=kafka:PREFIX, trigger, radio and max_records_per_trigger", function()
      local ls = load_pipeline {
        output = "kafka:stats",
        trigger = "10 seconds",
        radio = "/data/codes.json",
        max_records_per_trigger = "5000",
      }
      assert.are.equal("/data/codes.json", ls._declared.tables[1].path)
      assert.are.equal(5000, ls._declared.sources[1].max_records_per_trigger)
      for _, q in ipairs(ls._declared.queries) do
        assert.are.equal("kafka", q.sink.type)
        assert.are.equal("stats", q.sink.prefix)
        assert.are.equal("10 seconds", q.trigger)
      end
    end)

    it("reports a bad output at the script's line", function()
      H.fresh { output = "file:/tmp/x" }
      local ok, err = pcall(assert(loadfile(SCRIPT)))
      assert.is_false(ok)
      err = tostring(err)
      -- the first `sink = ls.output(output)` (in crime_type_counts)
      local want = SCRIPT .. ":" .. script_line("sink = ls.output(output)") .. ": "
      assert.are.equal(want, err:sub(1, #want))
      assert.truthy(err:find('output "file:/tmp/x": expected console, jsonl:DIR or kafka:PREFIX', 1, true))
    end)

    it("reports a non-numeric max_records_per_trigger", function()
      H.fresh { max_records_per_trigger = "many" }
      local ok, err = pcall(assert(loadfile(SCRIPT)))
      assert.is_false(ok)
      assert.truthy(tostring(err):find("--set max_records_per_trigger=many: a number is expected", 1, true))
    end)
  end)

  describe("columns", function()
    -- Without a map, the engine reads exactly the columns the queries name.
    local function columns(q)
      local cols = {}
      for _, g in ipairs(q.group_by) do cols[#cols + 1] = g.column end
      for _, j in ipairs(q.joins) do cols[#cols + 1] = j.left end
      if q.event_time then cols[#cols + 1] = q.event_time end
      table.sort(cols)
      return cols
    end

    it("reads only the three fields the statistics need", function()
      local ls = load_pipeline()
      assert.are.same({ "call_date_time", "call_date_time", "original_crime_type_name" },
                      columns(query(ls, "crime_type_counts")))
      assert.are.same({ "description", "disposition", "disposition" },
                      columns(query(ls, "disposition_counts")))
    end)

    it("finds them in a real record, with an event time the engine can read", function()
      local ls = H.fresh()
      local json = '{"crime_id":"183653123","original_crime_type_name":"Passing Call",'
        .. '"report_date":"2018-12-31T00:00:00.000","call_date":"2018-12-31T00:00:00.000",'
        .. '"offense_date":"2018-12-31T00:00:00.000","call_time":"08:05",'
        .. '"call_date_time":"2018-12-31T08:05:00.000","disposition":"HAN",'
        .. '"address":"Market St/4th St","city":"San Francisco","state":"CA","agency_id":"1",'
        .. '"address_type":"Intersection","common_location":""}'
      local r = assert(ls.decode(json))
      assert.are.equal("Passing Call", r.original_crime_type_name)
      assert.are.equal("HAN", r.disposition)
      assert.are.equal(1546243500, ls.timestamp(r.call_date_time))
      assert.are.equal(1546300620, ls.timestamp(record().call_date_time))
    end)
  end)
end)
