-- api_spec.lua - lua/luastream.lua as a script sees it.
--
-- Every test gets a fresh module (ls_helpers.fresh) because declarations
-- are recorded in a module-level table.

local H = require "ls_helpers"

local contains, error_of = H.contains, H.error_of

-- assert that `msg` contains the plain text `sub`, with a readable failure.
local function assert_has(msg, sub)
  assert(contains(msg, sub), string.format("expected %q to contain %q", tostring(msg), sub))
end

describe("luastream API", function()
  local ls

  before_each(function()
    ls = H.fresh()
  end)

  -- A minimal valid source / table for query tests.
  local function src() return ls.kafka_source { topic = "t" } end
  local function tbl() return ls.json_table("codes.json", { key = "code" }) end

  describe("module", function()
    it("exposes version and null from luastream.core", function()
      assert.are.equal(H.core.version, ls.version)
      assert.is_string(ls.version)
      assert.matches("^%d+%.%d+%.%d+", ls.version)
      assert.are.equal(H.core.null, ls.null)
      assert.are.equal("userdata", type(ls.null))
    end)

    it("starts with empty declarations", function()
      local d = ls._declared
      assert.are.same({}, d.sources)
      assert.are.same({}, d.tables)
      assert.are.same({}, d.queries)
      assert.is_nil(d.dead_letter)
      assert.are.same({}, d.params_used)
    end)

    it("is a new module (with new declarations) after a fresh require", function()
      ls.kafka_source { topic = "a" }
      assert.are.equal(1, #ls._declared.sources)
      local ls2 = H.fresh()
      assert.are_not.equal(ls, ls2)
      assert.are.equal(0, #ls2._declared.sources)
    end)
  end)

  describe("ls.param", function()
    it("returns the default when the parameter is not set", function()
      assert.are.equal("police.calls", ls.param("topic", "police.calls"))
      assert.are.equal(0, ls.param("n", 0))
      assert.is_nil(ls.param("nothing"))
      assert.is_false(ls.param("flag", false))
    end)

    it("records every parameter name used", function()
      ls.param("topic", "x")
      ls.param("n", 1)
      assert.are.same({ topic = true, n = true }, ls._declared.params_used)
    end)

    it("returns the value set in luastream.core.params (as --set does)", function()
      ls = H.fresh { topic = "other.topic", output = "jsonl:/tmp/out" }
      assert.are.equal("other.topic", ls.param("topic", "police.calls"))
      assert.are.equal("jsonl:/tmp/out", ls.param("output", "console"))
      assert.are.equal("other.topic", ls.param("topic")) -- no default: the text
    end)

    it("converts to a number when the default is a number", function()
      ls = H.fresh { n = "42", f = "2.5", neg = "-3" }
      local n = ls.param("n", 0)
      assert.are.equal(42, n)
      assert.are.equal("integer", math.type(n))
      assert.are.equal(2.5, ls.param("f", 1))
      assert.are.equal(-3, ls.param("neg", 0))
    end)

    it("keeps text when the default is a string, even if it looks numeric", function()
      ls = H.fresh { n = "42" }
      assert.are.equal("42", ls.param("n", "7"))
    end)

    it("raises a clear error when a number is expected but not given", function()
      ls = H.fresh { n = "lots" }
      local err = error_of(ls.param, "n", 10)
      assert_has(err, "--set n=lots: a number is expected")
    end)

    it("converts to a boolean when the default is a boolean", function()
      ls = H.fresh { a = "true", b = "1", c = "yes", d = "false", e = "no" }
      assert.is_true(ls.param("a", false))
      assert.is_true(ls.param("b", false))
      assert.is_true(ls.param("c", false))
      assert.is_false(ls.param("d", true))
      assert.is_false(ls.param("e", true))
    end)

    it("reads true/false, yes/no, on/off, 1/0 in any case", function()
      local t = { "true", "TRUE", "True", "yes", "YES", "on", "On", "1" }
      local f = { "false", "FALSE", "no", "No", "off", "OFF", "0" }
      for _, v in ipairs(t) do
        ls = H.fresh { b = v }
        assert.is_true(ls.param("b", false), v)
      end
      for _, v in ipairs(f) do
        ls = H.fresh { b = v }
        assert.is_false(ls.param("b", true), v)
      end
    end)

    it("errors on anything else where a boolean is expected, naming the parameter", function()
      for _, v in ipairs { "ture", "", "2", "y", "enabled", " true" } do
        ls = H.fresh { verbose = v }
        assert_has(error_of(ls.param, "verbose", false),
          "--set verbose=" .. v .. ": a boolean is expected: true/false, yes/no, on/off or 1/0")
      end
    end)

    it("says the expected form when a number is expected", function()
      ls = H.fresh { n = "ten" }
      assert_has(error_of(ls.param, "n", 10), "--set n=ten: a number is expected (the default is 10: --set n=10)")
      ls = H.fresh { n = "1e999" }
      assert_has(error_of(ls.param, "n", 10), "a finite number is expected")
      -- decimal only, as the command line's numbers: no hex, no spaces
      for _, v in ipairs { "0x10", " 5", "5 ", "1_000", "nan", "inf", "." } do
        ls = H.fresh { n = v }
        assert_has(error_of(ls.param, "n", 10), "a number is expected")
      end
      for v, want in pairs { ["5"] = 5, ["-2.5"] = -2.5, [".5"] = 0.5, ["1e3"] = 1000.0, ["+7"] = 7 } do
        ls = H.fresh { n = v }
        assert.are.equal(want, ls.param("n", 10))
      end
    end)

    it("requires a string name", function()
      assert_has(error_of(ls.param, 1, "x"), "param name must be a string, got number")
    end)

    it("does not see parameters of a previous fresh module", function()
      ls = H.fresh { topic = "x" }
      ls = H.fresh()
      assert.are.equal("d", ls.param("topic", "d"))
    end)
  end)

  describe("ls.timestamp", function()
    it("reads ISO-8601 text without a zone as UTC epoch seconds", function()
      local t = ls.timestamp("2018-12-31T23:57:00.000")
      assert.are.equal(1546300620, t)
      assert.are.equal("integer", math.type(t))
    end)

    it("reads a Z suffix", function()
      assert.are.equal(1546300620, ls.timestamp("2018-12-31T23:57:00Z"))
      assert.are.equal(1546300620, ls.timestamp("2018-12-31T23:57:00.000Z"))
    end)

    it("applies an offset", function()
      assert.are.equal(1546300620 - 3600, ls.timestamp("2018-12-31T23:57:00+01:00"))
      assert.are.equal(1546300620 + 5 * 3600 + 30 * 60, ls.timestamp("2018-12-31T23:57:00-05:30"))
      assert.are.equal(1546300620 - 3600, ls.timestamp("2018-12-31T23:57:00.000+0100"))
    end)

    it("keeps milliseconds as a fraction", function()
      assert.are.equal(1546300620.25, ls.timestamp("2018-12-31T23:57:00.250"))
    end)

    it("reads a date alone as midnight UTC", function()
      assert.are.equal(1546214400, ls.timestamp("2018-12-31"))
    end)

    it("returns nil for invalid text", function()
      assert.is_nil(ls.timestamp("not a time"))
      assert.is_nil(ls.timestamp("2018-13-01T00:00:00"))
      assert.is_nil(ls.timestamp("2018-02-30T00:00:00"))
      assert.is_nil(ls.timestamp("2018-12-31T23:57:00 junk"))
      assert.is_nil(ls.timestamp(""))
    end)

    it("returns nil for nil and for ls.null", function()
      assert.is_nil(ls.timestamp(nil))
      assert.is_nil(ls.timestamp(ls.null))
    end)
  end)

  describe("ls.format_timestamp", function()
    it("formats epoch seconds as ISO-8601 UTC", function()
      assert.are.equal("2018-12-31T23:57:00Z", ls.format_timestamp(1546300620))
      assert.are.equal("1970-01-01T00:00:00Z", ls.format_timestamp(0))
    end)

    it("keeps milliseconds", function()
      assert.are.equal("2018-12-31T23:57:00.500Z", ls.format_timestamp(1546300620.5))
    end)

    it("round-trips with ls.timestamp", function()
      local s = "2019-03-10T08:15:42Z"
      assert.are.equal(s, ls.format_timestamp(ls.timestamp(s)))
    end)
  end)

  describe("ls.seconds", function()
    it("reads durations in seconds, as every number of the API", function()
      assert.are.equal(600, ls.seconds("10 minutes"))
      assert.are.equal(2, ls.seconds("2 seconds"))
      assert.are.equal(0.5, ls.seconds("500ms"))
      assert.are.equal(3600, ls.seconds("1 hour"))
      assert.are.equal(86400, ls.seconds("1 day"))
      assert.are.equal(1.5, ls.seconds("1.5 seconds"))
      assert.are.equal(60, ls.seconds("interval 1 minute"))
      assert.are.equal("integer", math.type(ls.seconds("1 minute")))
    end)

    it("returns nil for text it cannot read", function()
      assert.is_nil(ls.seconds("ten minutes"))
      assert.is_nil(ls.seconds("10 fortnights"))
      assert.is_nil(ls.seconds("10"))
      assert.is_nil(ls.seconds(""))
      assert.is_nil(ls.seconds("-5 seconds"))
    end)
  end)

  describe("deprecated names", function()
    it("still work, each noted once with the new name and the caller's line", function()
      assert.are.equal(600000, ls.duration("10 minutes")) -- milliseconds, as before
      ls.duration("1 minute")
      local s = ls.kafka { topic = "t" }
      assert.are.same({ "t" }, s.topics)
      assert.are.equal("files", ls.files({ path = "in", format = "json" }).kind)
      assert.are.equal("console", ls.console().type)
      assert.are.equal("jsonl", ls.jsonl("out").type)
      local w = ls._declared.warnings
      assert.are.equal(5, #w)
      assert_has(w[1], "ls.duration is deprecated: use ls.seconds")
      assert.matches("api_spec.lua:%d+: ls.duration", w[1])
      assert_has(w[2], "ls.kafka is deprecated: use ls.kafka_source")
      assert_has(w[3], "ls.files is deprecated: use ls.file_source")
      assert_has(w[4], "ls.console is deprecated: use ls.console_sink")
      assert_has(w[5], "ls.jsonl is deprecated: use ls.jsonl_sink")
    end)

    it("report errors at the caller's line, as the new names do", function()
      local msg = error_of(function() local s = ls.kafka { topics = 5 }; return s end)
      assert.matches("api_spec.lua:%d+: topics must be a table", msg)
    end)
  end)

  describe("ls.decode", function()
    it("decodes objects", function()
      local t = ls.decode('{"a": 1, "b": "x", "c": true, "d": 2.5, "e": {"f": [1]}}')
      assert.are.same({ a = 1, b = "x", c = true, d = 2.5, e = { f = { 1 } } }, t)
      assert.are.equal("integer", math.type(t.a))
    end)

    it("decodes arrays", function()
      assert.are.same({ 1, "two", { 3 } }, ls.decode('[1, "two", [3]]'))
      assert.are.same({}, ls.decode("[]"))
    end)

    it("decodes scalars at the top level", function()
      assert.are.equal(42, ls.decode("42"))
      assert.are.equal("s", ls.decode('"s"'))
      assert.is_false(ls.decode("false"))
    end)

    it("decodes null as ls.null (in objects, arrays and at the top level)", function()
      local t = ls.decode('{"a": null, "b": [null, 1]}')
      assert.are.equal(ls.null, t.a)
      assert.are.equal(ls.null, t.b[1])
      assert.are.equal(1, t.b[2])
      assert.are.equal(ls.null, ls.decode("null"))
    end)

    it("returns nil and a message for invalid JSON", function()
      local v, msg = ls.decode("{bad")
      assert.is_nil(v)
      assert.is_string(msg)
      assert_has(msg, "invalid JSON")
      v, msg = ls.decode('{"a": 1')
      assert.is_nil(v)
      assert.is_string(msg)
      v, msg = ls.decode("[1] [2]")
      assert.is_nil(v)
      assert.is_string(msg)
    end)

    it("returns nil and a message for empty text", function()
      local v, msg = ls.decode("")
      assert.is_nil(v)
      assert_has(msg, "empty")
    end)
  end)

  describe("ls.file_source", function()
    it("declares a file source, its format told from the path", function()
      local s = ls.file_source { path = "landing/*.json" }
      assert.are.equal("source", s._kind)
      assert.are.equal("files", s.kind)
      assert.are.equal("landing/*.json", s.path)
      assert.are.equal("json", s.format)
      assert.are.equal(0, s.max_files_per_trigger)
      assert.are.equal(0, s.max_records_per_trigger)
      assert.are.equal(1000, s.polling_ms)
      assert.are.equal(s, ls._declared.sources[1])
      assert.are.equal("ndjson", ls.file_source({ path = "x/*.jsonl" }).format)
      assert.are.equal("lines", ls.file_source({ path = "logs/app.log" }).format)
    end)

    it("takes the given options, with Spark's name of the file cap", function()
      local s = ls.file_source { path = "in", format = "lines", max_files_per_trigger = 3,
                           max_records_per_trigger = 100, polling = "250ms", max_record_bytes = 10,
                           schema = { n = "int" } }
      assert.are.equal("lines", s.format)
      assert.are.equal(3, s.max_files_per_trigger)
      assert.are.equal(100, s.max_records_per_trigger)
      assert.are.equal(250, s.polling_ms)
      assert.are.equal(10, s.max_record_bytes)
      assert.are.same({ n = "int" }, s.schema)
      assert.are.equal(2, ls.file_source({ path = "in", format = "text", maxFilesPerTrigger = 2 }).max_files_per_trigger)
      assert.are.equal("ndjson", ls.file_source({ path = "in", format = "jsonl" }).format)
    end)

    it("errors on a missing path, an unknown format and misspelled options", function()
      assert_has(error_of(ls.file_source, {}), 'ls.file_source: give path = "dir/*.json"')
      assert_has(error_of(ls.file_source, { path = "" }), "ls.file_source: path must be a file pattern or a directory")
      assert_has(error_of(ls.file_source, { path = "in" }), 'ls.file_source: give format = "json", "ndjson" or "lines"')
      assert_has(error_of(ls.file_source, { path = "in", format = "csv" }), 'format must be "json"')
      assert_has(error_of(ls.file_source, { path = "in", format = "json", max_file_per_trigger = 1 }),
        "max_files_per_trigger")
      assert_has(error_of(ls.file_source, { path = "in", format = "json", max_files_per_trigger = -1 }),
        "max_files_per_trigger")
      assert_has(error_of(ls.file_source, { path = "in", format = "json", polling = "soon" }), "polling")
      assert_has(error_of(ls.file_source, { path = "in", format = "json", max_files_per_trigger = 1,
                                     maxFilesPerTrigger = 2 }), "not both")
      assert_has(error_of(ls.file_source, { path = "in", format = "json", schema = { n = "num" } }),
        "schema: column n")
    end)

    it("feeds queries like a Kafka source", function()
      local q = ls.query "q" { from = ls.file_source { path = "in/*.json" }, group_by = { "k" } }
      assert.are.equal("files", q.from.kind)
    end)
  end)

  describe("ls.kafka_source", function()
    it("declares a source with defaults", function()
      local s = ls.kafka_source { topic = "calls" }
      assert.are.equal("source", s._kind)
      assert.are.same({ "calls" }, s.topics)
      assert.are.equal("localhost:9092", s.bootstrap)
      assert.are.equal("earliest", s.starting_offsets)
      assert.are.equal(0, s.max_records_per_trigger)
      assert.are.equal(1048576, s.max_record_bytes)
      assert.are.equal(10000, s.connect_timeout_ms)
      assert.are.same({}, s.kafka)
      assert.are.equal(s, ls._declared.sources[1])
      assert.are.equal(1, #ls._declared.sources)
    end)

    it("takes the given options", function()
      local s = ls.kafka_source {
        topic = "calls", bootstrap = "broker:9093", starting_offsets = "latest",
        max_records_per_trigger = 500, max_record_bytes = 4096, connect_timeout = "3 seconds",
      }
      assert.are.equal("broker:9093", s.bootstrap)
      assert.are.equal("latest", s.starting_offsets)
      assert.are.equal(500, s.max_records_per_trigger)
      assert.are.equal(4096, s.max_record_bytes)
      assert.are.equal(3000, s.connect_timeout_ms)
    end)

    it("accepts maxOffsetsPerTrigger as an alias", function()
      assert.are.equal(7, ls.kafka_source({ topic = "t", maxOffsetsPerTrigger = 7 }).max_records_per_trigger)
    end)

    it("accepts a topics list, but not beside topic", function()
      assert.are.same({ "a", "b" }, ls.kafka_source({ topics = { "a", "b" } }).topics)
      assert_has(error_of(ls.kafka_source, { topic = "x", topics = { "a", "b" } }),
        'ls.kafka_source: give topic = "name" or topics = { ... }, not both')
    end)

    it("refuses an empty aggregate list, as Spark's agg() does", function()
      assert_has(error_of(function() ls.query "q" { from = src(), group_by = { "k" }, aggregate = {} } end),
        "query q: aggregate is empty")
    end)

    it("reports a bad aggregate name at the script's line", function()
      local msg = error_of(function() local a = ls.sum("v", 5); return a end)
      assert_has(msg, "the name of sum must be a string, got number")
      assert.matches("api_spec.lua:%d+:", msg)
    end)

    it("errors when no topic is given", function()
      assert_has(error_of(ls.kafka_source, {}), "ls.kafka_source: give topic = \"name\" or topics = {...}")
      assert_has(error_of(ls.kafka_source, { topics = {} }), "ls.kafka_source: give topic")
      assert.are.equal(0, #ls._declared.sources)
    end)

    it("errors when a topic is not a string", function()
      assert_has(error_of(ls.kafka_source, { topics = { "a", 5 } }), "topics[2] must be a string, got number")
    end)

    it("errors on a bad starting_offsets", function()
      assert_has(error_of(ls.kafka_source, { topic = "t", starting_offsets = "beginning" }),
        'starting_offsets must be "earliest" or "latest", got "beginning"')
    end)

    it("errors on a bad connect_timeout", function()
      assert_has(error_of(ls.kafka_source, { topic = "t", connect_timeout = "soon" }),
        'connect_timeout: cannot read duration "soon"')
    end)

    it("errors when the options are not a table", function()
      assert_has(error_of(ls.kafka_source, "t"), "ls.kafka_source options must be a table, got string")
    end)

    it("passes kafka.* keys and the kafka table through as text", function()
      local s = ls.kafka_source {
        topic = "t",
        ["kafka.fetch.min.bytes"] = 1024,
        ["kafka.security.protocol"] = "SSL",
        kafka = { ["client.id"] = "me", ["enable.auto.commit"] = false },
      }
      assert.are.same({
        ["fetch.min.bytes"] = "1024",
        ["security.protocol"] = "SSL",
        ["client.id"] = "me",
        ["enable.auto.commit"] = "false",
      }, s.kafka)
    end)

    it("takes a schema of Spark type names", function()
      local s = ls.kafka_source { topic = "t", schema = { a = "int", b = "DOUBLE", c = "timestamp", d = "long" } }
      assert.are.same({ a = "int", b = "double", c = "timestamp", d = "long" }, s.schema)
      assert_has(error_of(ls.kafka_source, { topic = "t", schema = { a = "number" } }),
        'schema: column a: type must be one of string, int, bigint, double, boolean, timestamp (Spark\'s names), got "number"')
      assert_has(error_of(ls.kafka_source, { topic = "t", schema = { a = 5 } }), "got number")
      assert_has(error_of(ls.kafka_source, { topic = "t", schema = { "int" } }), "column names must be strings")
      assert_has(error_of(ls.kafka_source, { topic = "t", schema = "a:int" }), "schema must be a table")
    end)

    it("has no fields option (the engine never read it)", function()
      assert_has(error_of(ls.kafka_source, { topic = "t", fields = { "a", "b" } }), 'ls.kafka_source: unknown option "fields"')
    end)

    it("rejects unknown options, with a suggestion for near misses", function()
      assert_has(error_of(ls.kafka_source, { topic = "t", starting_offset = "latest" }),
        'ls.kafka_source: unknown option "starting_offset"; did you mean "starting_offsets"?')
      assert_has(error_of(ls.kafka_source, { topic = "t", maxOffsetPerTrigger = 5 }),
        'unknown option "maxOffsetPerTrigger"; did you mean "max_records_per_trigger"?')
      assert_has(error_of(ls.kafka_source, { topic = "t", startingOffsets = "latest" }),
        'did you mean "starting_offsets"?')
      assert_has(error_of(ls.kafka_source, { topic = "t", nonsense = 1 }),
        'ls.kafka_source: unknown option "nonsense" (known: bootstrap, connect_timeout, group_id')
      assert_has(error_of(ls.kafka_source, { "t" }), "ls.kafka_source: unexpected value at position 1")
      assert.are.equal(0, #ls._declared.sources)
    end)

    it("keeps kafka.* keys and the kafka table free-form", function()
      local s = ls.kafka_source { topic = "t", ["kafka.anything.at.all"] = "x", kafka = { ["whatever.prop"] = 1 } }
      assert.are.same({ ["anything.at.all"] = "x", ["whatever.prop"] = "1" }, s.kafka)
      assert_has(error_of(ls.kafka_source, { topic = "t", kafka = { ["a.b"] = {} } }),
        "property a.b must be a string, number or boolean, got table")
    end)

    it("checks numbers, names and ranges", function()
      assert_has(error_of(ls.kafka_source, { topic = "t", max_records_per_trigger = -1 }),
        "max_records_per_trigger must be from 0 to")
      assert_has(error_of(ls.kafka_source, { topic = "t", max_records_per_trigger = 1.5 }),
        "max_records_per_trigger must be a whole number")
      assert_has(error_of(ls.kafka_source, { topic = "t", max_record_bytes = 0 }), "max_record_bytes must be from 1 to")
      assert_has(error_of(ls.kafka_source, { topic = "t", maxOffsetsPerTrigger = 5, max_records_per_trigger = 5 }),
        "not both")
      assert_has(error_of(ls.kafka_source, { topic = string.rep("x", 600) }), "is not a valid Kafka topic name")
      assert_has(error_of(ls.kafka_source, { topic = "a b" }), "is not a valid Kafka topic name")
      assert_has(error_of(ls.kafka_source, { topics = { "a", "a" } }), 'topic "a" is given twice')
      assert_has(error_of(ls.kafka_source, { topic = "t", bootstrap = "" }), "bootstrap must not be empty")
      assert_has(error_of(ls.kafka_source, { topic = "t", group_id = "" }), "group_id must not be empty")
      assert_has(error_of(ls.kafka_source, { topic = "t", connect_timeout = 0 }), "connect_timeout must be positive")
      assert_has(error_of(ls.kafka_source, { topic = "t" }, "extra"), "ls.kafka_source takes at most 1 argument, got 2")
    end)

    it("reads starting_offsets = \"latest\" (it is not ignored)", function()
      assert.are.equal("latest", ls.kafka_source({ topic = "t", starting_offsets = "latest" }).starting_offsets)
    end)
  end)

  describe("ls.json_table", function()
    it("declares a table with its key", function()
      local t = ls.json_table("data/x.json", { key = "code" })
      assert.are.equal("table", t._kind)
      assert.are.equal("data/x.json", t.path)
      assert.are.equal("code", t.key)
      assert.are.equal(t, ls._declared.tables[1])
    end)

    it("requires a key", function()
      assert_has(error_of(ls.json_table, "data/x.json", {}), "json_table key must be a string, got nil")
      assert_has(error_of(ls.json_table, "data/x.json"), "json_table options must be a table, got nil")
      assert_has(error_of(ls.json_table, nil, { key = "k" }), "json_table path must be a string")
      assert.are.equal(0, #ls._declared.tables)
    end)
  end)

  describe("ls.window", function()
    it("converts size and slide to milliseconds", function()
      local w = ls.window("ts", "10 minutes", "5 minutes")
      assert.are.equal("window", w._kind)
      assert.are.equal("ts", w.column)
      assert.are.equal(600000, w.size_ms)
      assert.are.equal(300000, w.slide_ms)
    end)

    it("makes a tumbling window when no slide is given", function()
      local w = ls.window("ts", "1 hour")
      assert.are.equal(3600000, w.size_ms)
      assert.are.equal(3600000, w.slide_ms)
    end)

    it("reads numbers as seconds", function()
      local w = ls.window("ts", 600, 300)
      assert.are.equal(600000, w.size_ms)
      assert.are.equal(300000, w.slide_ms)
      assert.are.equal(1500, ls.window("ts", 1.5).size_ms)
    end)

    it("errors when the slide exceeds the size", function()
      assert_has(error_of(ls.window, "ts", "5 minutes", "10 minutes"),
        "window slide (10 minutes) cannot exceed its size (5 minutes)")
    end)

    it("errors on durations it cannot read", function()
      assert_has(error_of(ls.window, "ts", "ten minutes"), 'window size: cannot read duration "ten minutes"')
      assert_has(error_of(ls.window, "ts", "10 minutes", "often"), 'window slide: cannot read duration "often"')
      assert_has(error_of(ls.window, "ts", {}), "window size must be a string, got table")
    end)

    it("errors on zero sizes", function()
      assert_has(error_of(ls.window, "ts", "0 seconds"), "window size and slide must be positive")
      assert_has(error_of(ls.window, "ts", 0), "window size and slide must be positive")
    end)

    it("errors when size/slide is above 64", function()
      assert.are.equal(64, ls.window("ts", "64 minutes", "1 minute").size_ms // 60000)
      assert_has(error_of(ls.window, "ts", "65 minutes", "1 minute"), "window size/slide must be at most 64")
    end)

    it("requires a column name", function()
      assert_has(error_of(ls.window, nil, "1 minute"), "window column must be a string, got nil")
    end)
  end)

  describe("aggregates", function()
    it("have default names", function()
      assert.are.same({ _kind = "aggregate", fn = "count", name = "count" }, ls.count())
      assert.are.equal("count(x)", ls.count("x").name)
      assert.are.equal("sum(x)", ls.sum("x").name)
      assert.are.equal("avg(x)", ls.avg("x").name)
      assert.are.equal("min(x)", ls.min("x").name)
      assert.are.equal("max(x)", ls.max("x").name)
      local a = ls.sum("bytes")
      assert.are.equal("sum", a.fn)
      assert.are.equal("bytes", a.column)
    end)

    it("take a custom name", function()
      assert.are.equal("n", ls.count(nil, "n").name)
      assert.are.equal("calls", ls.count("x", "calls").name)
      assert.are.equal("total", ls.sum("x", "total").name)
      assert.are.equal("mean", ls.avg("x", "mean").name)
    end)

    it("need a column for sum/min/max/avg", function()
      for _, fn in ipairs { "sum", "min", "max", "avg" } do
        assert_has(error_of(ls[fn]), fn .. " column must be a string, got nil")
      end
    end)
  end)

  describe("sinks", function()
    it("ls.output(\"console\")", function()
      local s = ls.output("console")
      assert.are.equal("sink", s._kind)
      assert.are.equal("console", s.type)
      assert.are.equal(20, s.num_rows)
      assert.is_true(s.truncate)
      local f = function() return "" end
      s = ls.output("console", { num_rows = 5, truncate = false, format = f })
      assert.are.equal(5, s.num_rows)
      assert.is_false(s.truncate)
      assert.are.equal(f, s.format)
    end)

    it("ls.output(\"jsonl:DIR\")", function()
      assert.are.same({ _kind = "sink", type = "jsonl", dir = "/tmp/out dir" }, ls.output("jsonl:/tmp/out dir"))
      assert.are.same({ _kind = "sink", type = "jsonl", dir = "out" }, ls.jsonl_sink { dir = "out" })
    end)

    it("ls.output(\"kafka:PREFIX\")", function()
      local s = ls.output("kafka:stats")
      assert.are.equal("sink", s._kind)
      assert.are.equal("kafka", s.type)
      assert.are.equal("stats", s.prefix)
      assert.is_nil(s.bootstrap)
      assert.are.same({}, s.kafka)
      s = ls.output("kafka:stats", { bootstrap = "b:1", kafka = { acks = "all" } })
      assert.are.equal("b:1", s.bootstrap)
      assert.are.same({ acks = "all" }, s.kafka)
    end)

    it("ls.output errors on anything else", function()
      assert_has(error_of(ls.output, "file:/tmp"), 'output "file:/tmp": expected console, jsonl:DIR or kafka:PREFIX')
      assert_has(error_of(ls.output, "jsonl:"), "expected console, jsonl:DIR or kafka:PREFIX")
      assert_has(error_of(ls.output, "kafka:"), "expected console, jsonl:DIR or kafka:PREFIX")
      assert_has(error_of(ls.output, nil), "output must be a string, got nil")
      assert_has(error_of(ls.output, "console", { format = "%s" }), "console format must be a function")
    end)

    it("ls.dead_letter records a sink and rejects anything else", function()
      local s = ls.output("jsonl:dl")
      ls.dead_letter(s)
      assert.are.equal(s, ls._declared.dead_letter)
      assert_has(error_of(ls.dead_letter, "jsonl:dl"), "ls.dead_letter expects a sink")
    end)
  end)

  describe("ls.query", function()
    it("declares a query with every option", function()
      local source, codes = src(), tbl()
      local map = function(r) return r end
      local sink = ls.output("jsonl:/tmp/q")
      local q = ls.query "all_options" {
        from = source,
        map = map,
        join = { with = codes, on = { "c", "code" }, how = "left", columns = { "label" } },
        watermark = { "ts", "10 minutes" },
        event_time = "ts",
        group_by = { ls.window("ts", "10 minutes", "5 minutes"), "label" },
        aggregate = { ls.count(), ls.sum("x") },
        output_mode = "update",
        trigger = "5 seconds",
        sink = sink,
        partitions = 4,
      }
      assert.are.equal(1, #ls._declared.queries)
      assert.are.equal(q, ls._declared.queries[1])
      assert.are.equal("query", q._kind)
      assert.are.equal("all_options", q.name)
      assert.are.equal(source, q.from)
      assert.are.equal(map, q.map)
      assert.are.same({ { table = codes, left = "c", how = "left", columns = { "label" } } }, q.joins)
      assert.are.equal("ts", q.event_time)
      assert.are.equal(600000, q.watermark_ms)
      assert.are.equal(2, #q.group_by)
      assert.are.equal("window", q.group_by[1]._kind)
      assert.are.equal(600000, q.group_by[1].size_ms)
      assert.are.equal(300000, q.group_by[1].slide_ms)
      assert.are.same({ column = "label" }, q.group_by[2])
      assert.are.same({ "count", "sum(x)" }, { q.aggregates[1].name, q.aggregates[2].name })
      assert.are.equal("update", q.output_mode)
      assert.are.equal("5 seconds", q.trigger)
      assert.are.equal(sink, q.sink)
      assert.are.equal(4, q.partitions)
      assert.is_string(q.where)
      assert.matches("api_spec%.lua:%d+$", q.where)
    end)

    it("sorts and limits a complete result with order_by and limit", function()
      local q = ls.query "top" { from = src(), group_by = { "k" }, aggregate = { ls.count() },
                                 order_by = { "count", "k", desc = true }, limit = 10 }
      assert.are.same({ { column = "count", desc = true }, { column = "k", desc = true } }, q.order_by)
      assert.are.equal(10, q.limit)
      q = ls.query "top2" { from = src(), group_by = { "k" }, aggregate = { ls.count() },
                            order_by = { { "count", desc = true }, "k" } }
      assert.are.same({ { column = "count", desc = true }, { column = "k", desc = false } }, q.order_by)
      q = ls.query "top3" { from = src(), group_by = { "k" }, aggregate = { ls.count() }, order_by = "k" }
      assert.are.same({ { column = "k", desc = false } }, q.order_by)
      local function bad(spec) return error_of(ls.query "bad", spec) end
      assert_has(bad { from = src(), group_by = { "k" }, aggregate = { ls.count() }, order_by = { "coutn" } },
        'order_by column "coutn" is not an output column (did you mean "count"?)')
      assert_has(bad { from = src(), group_by = { "k" }, aggregate = { ls.count() }, order_by = { "k", dsec = true } },
        'unknown option "dsec"; did you mean "desc"?')
      -- (order_by in update mode: the rule is checked by the compiler: tests/unit/test_lua_api.c, engine_query_rules_at_the_line)
      assert_has(bad { from = src(), group_by = { "k" }, aggregate = { ls.count() }, limit = 0 },
        "limit must be")
      assert_has(bad { from = src(), group_by = { "k" }, aggregate = { ls.count() }, order_by = {} },
        "order_by names no column")
      assert_has(bad { from = src(), group_by = { "k" }, aggregate = { ls.count() }, orderBy = { "k" } },
        'did you mean "order_by"?')
    end)

    it("reads numeric event times as seconds, or milliseconds with unit = \"ms\"", function()
      local q = ls.query "ms" { from = src(), watermark = { "ts", "1 minute", unit = "ms" },
                                group_by = { ls.window("ts", "1 minute") }, aggregate = { ls.count() } }
      assert.are.equal("ms", q.event_time_unit)
      q = ls.query "s" { from = src(), event_time = { "ts", unit = "s" }, aggregate = { ls.count() } }
      assert.are.equal("ts", q.event_time)
      assert.are.equal("s", q.event_time_unit)
      q = ls.query "none" { from = src(), event_time = "ts", aggregate = { ls.count() } }
      assert.is_nil(q.event_time_unit)
      assert_has(error_of(ls.query "bad", { from = src(), watermark = { "ts", "1 minute", unit = "seconds" },
                                            aggregate = { ls.count() } }),
        'query bad: unit must be "s" (epoch seconds, the default, as Spark casts numbers) or "ms" (epoch milliseconds), got "seconds"')
      assert_has(error_of(ls.query "bad2", { from = src(), event_time = { unit = "ms" }, aggregate = { ls.count() } }),
        'event_time = "column" or { "column", unit = "ms" }')
    end)

    it("has defaults: complete mode, console sink, no joins, no watermark", function()
      local q = ls.query "d" { from = src(), group_by = { "k" } }
      assert.are.equal("complete", q.output_mode)
      assert.are.equal("console", q.sink.type)
      assert.are.same({}, q.joins)
      assert.are.same({}, q.aggregates)
      assert.is_nil(q.watermark_ms)
      assert.is_nil(q.event_time)
      assert.is_nil(q.trigger)
      assert.is_nil(q.map)
    end)

    it("accepts aggregate without group_by", function()
      local q = ls.query "total" { from = src(), aggregate = { ls.count() } }
      assert.are.equal(0, #q.group_by)
      assert.are.equal(1, #q.aggregates)
    end)

    it("reads the watermark delay from seconds or from delay =", function()
      assert.are.equal(90000, ls.query "a" { from = src(), group_by = { "k" }, watermark = { "ts", 90 } }.watermark_ms)
      assert.are.equal(60000,
        ls.query "b" { from = src(), group_by = { "k" }, watermark = { "ts", delay = "1 minute" } }.watermark_ms)
    end)

    it("accepts event_time without a watermark", function()
      local q = ls.query "e" { from = src(), group_by = { "k" }, event_time = "ts" }
      assert.are.equal("ts", q.event_time)
      assert.is_nil(q.watermark_ms)
    end)

    it("errors on an unknown option", function()
      assert_has(error_of(function() ls.query "q" { from = src(), group_by = { "k" }, groupby = { "k" } } end),
        'query q: unknown option "groupby"')
      assert.are.equal(0, #ls._declared.queries)
    end)

    it("errors on a duplicate name", function()
      ls.query "q" { from = src(), group_by = { "k" } }
      assert_has(error_of(ls.query, "q"), 'query "q" is declared twice')
      assert.are.equal(1, #ls._declared.queries)
    end)

    it("errors on a bad name", function()
      assert_has(error_of(ls.query, "my query"), 'query name "my query": use letters, digits, _ . -')
      assert_has(error_of(ls.query, 3), "query name must be a string, got number")
      assert.is_function(ls.query "ok_name.v-2")
    end)

    it("errors when from is missing or not a source", function()
      assert_has(error_of(function() ls.query "q" { group_by = { "k" } } end),
        "query q: from must be a source (ls.kafka_source{...} or ls.file_source{...})")
      assert_has(error_of(function() ls.query "q" { from = tbl(), group_by = { "k" } } end),
        "query q: from must be a source")
    end)

    it("errors on a bad output_mode", function()
      assert_has(error_of(function() ls.query "q" { from = src(), group_by = { "k" }, output_mode = "all" } end),
        'query q: output_mode must be complete, update or append, got "all"')
      for _, mode in ipairs { "complete", "update", "append" } do
        assert.are.equal(mode, ls.query("m_" .. mode) { from = src(), group_by = { "k" }, output_mode = mode }.output_mode)
      end
    end)

    it("makes a query without group_by and aggregate a per-record query, in append mode", function()
      local q = ls.query "q" { from = src() }
      assert.is_true(q.per_record)
      assert.are.equal("append", q.output_mode)
      -- (another mode or a watermark: the rule is checked by the compiler: tests/unit/test_lua_api.c, engine_query_rules_at_the_line)
    end)

    it("takes where predicates", function()
      local q = ls.query "w" { from = src(), where = { d = "HAN", n = { ">", 2 }, c = { "in", { "A", "B" } },
                                                     x = { "is null" } } }
      assert.are.same({
        { column = "c", op = "in", values = { "A", "B" } }, { column = "d", op = "=", values = { "HAN" } },
        { column = "n", op = ">", values = { 2 } }, { column = "x", op = "is null", values = {} },
      }, q.filters)
      local function bad(w) return error_of(function() ls.query "bad" { from = src(), where = w } end) end
      assert_has(bad { n = { "=>", 2 } }, 'where n: the operator must be one of')
      assert_has(bad { n = { "in", 2 } }, '"in" takes a list of values')
      assert_has(bad { n = { "is null", 1 } }, '"is null" takes no value')
      assert_has(bad { n = { ">", {} } }, 'needs a string, number or boolean')
      assert_has(bad { n = function() end }, "where n must be a value or")
      assert_has(bad "d = 'HAN'", "where must be a table")
    end)

    it("routes per-record rows with a kafka_sink's key, topic and headers", function()
      local s = ls.kafka_sink { topic = function(row) return row.t end, key = "id", headers = { a = "b", n = 1 } }
      assert.are.equal("function", type(s.topic))
      assert.are.same({ a = "b", n = "1" }, s.headers)
      ls.query "r" { from = src(), sink = s }
      assert_has(error_of(ls.kafka_sink, { prefix = "p", topic = "t" }), "give prefix")
      assert_has(error_of(ls.kafka_sink, {}), "give prefix")
      assert_has(error_of(ls.kafka_sink, { topic = 5 }), "kafka_sink topic must be a topic name or a function")
      assert_has(error_of(ls.kafka_sink, { topic = "t", headers = { a = {} } }), "headers must be name")
      -- (a key on an aggregation: the rule is checked by the compiler: tests/unit/test_lua_api.c, engine_query_rules_at_the_line)
    end)

    it("errors on bad group_by and aggregate entries", function()
      assert_has(error_of(function() ls.query "q" { from = src(), group_by = { "k", 5 } } end),
        "query q: group_by entry 2 must be a column name, ls.window(...) or ls.session_window(...)")
      assert_has(error_of(function() ls.query "q" { from = src(), aggregate = { "count" } } end),
        "query q: aggregate entry 1 must be ls.count()")
      assert_has(error_of(function() ls.query "q" { from = src(), aggregate = { n = "count" } } end),
        "query q: aggregate n must be ls.count()")
    end)

    it("errors on bad map, sink, trigger and watermark values", function()
      assert_has(error_of(function() ls.query "q" { from = src(), group_by = { "k" }, map = {} } end),
        "query q: map must be a function, got table")
      assert_has(error_of(function() ls.query "q" { from = src(), group_by = { "k" }, sink = "console" } end),
        "query q: sink must come from ls.output")
      assert_has(error_of(function() ls.query "q" { from = src(), group_by = { "k" }, trigger = 5 } end),
        "trigger must be a string, got number")
      assert_has(error_of(function() ls.query "q" { from = src(), group_by = { "k" }, watermark = "ts" } end),
        'query q: watermark = { "column", "60 minutes" }')
      assert_has(error_of(function() ls.query "q" { from = src(), group_by = { "k" }, watermark = { "ts", "soon" } } end),
        'watermark delay: cannot read duration "soon"')
      assert_has(error_of(function() ls.query "q" { from = src(), group_by = { "k" }, watermark = { "ts" } } end),
        "watermark delay must be a string, got nil")
    end)

    it("sorts named aggregates (given as a map) by name, after the listed ones", function()
      local q = ls.query "named" {
        from = src(),
        group_by = { "k" },
        aggregate = {
          ls.count(),
          zeta = ls.sum("z"),
          alpha = ls.avg("a"),
          mid = ls.count(),
          beta = ls.max("b", "ignored_name"),
        },
      }
      local names, fns, cols = {}, {}, {}
      for i, a in ipairs(q.aggregates) do
        names[i], fns[i], cols[i] = a.name, a.fn, a.column or "-"
        assert.are.equal("aggregate", a._kind)
      end
      assert.are.same({ "count", "alpha", "beta", "mid", "zeta" }, names)
      assert.are.same({ "count", "avg", "max", "count", "sum" }, fns)
      assert.are.same({ "-", "a", "b", "-", "z" }, cols)
    end)

    it("gives named aggregates the same order on every run", function()
      local function order()
        local l = H.fresh()
        local agg = {}
        for _, k in ipairs { "q", "c", "x", "a", "m", "b", "z", "k" } do agg[k] = l.count() end
        local q = l.query "o" { from = l.kafka { topic = "t" }, aggregate = agg }
        local r = {}
        for i, a in ipairs(q.aggregates) do r[i] = a.name end
        return r
      end
      assert.are.same({ "a", "b", "c", "k", "m", "q", "x", "z" }, order())
      assert.are.same(order(), order())
    end)

    describe("join", function()
      it("accepts on = \"key\" and defaults to an inner join with all columns", function()
        local codes = tbl()
        local q = ls.query "j" { from = src(), join = { with = codes, on = "code" }, group_by = { "code" } }
        assert.are.same({ { table = codes, left = "code", how = "inner" } }, q.joins)
      end)

      it("accepts { stream_column, table_column }", function()
        local q = ls.query "j" { from = src(), join = { with = tbl(), on = { "c", "code" } }, group_by = { "c" } }
        assert.are.equal("c", q.joins[1].left)
      end)

      it("reads how/type aliases", function()
        local function how(j)
          j.with, j.on = tbl(), "code"
          return ls.query("j" .. #ls._declared.queries) { from = src(), join = j, group_by = { "code" } }.joins[1].how
        end
        assert.are.equal("inner", how {})
        assert.are.equal("inner", how { how = "inner" })
        assert.are.equal("left", how { how = "left" })
        assert.are.equal("left", how { how = "left_outer" })
        assert.are.equal("left", how { how = "leftouter" })
        assert.are.equal("left", how { type = "left" })
      end)

      it("takes a list of joins", function()
        local a = ls.json_table("a.json", { key = "ka" })
        local b = ls.json_table("b.json", { key = "kb" })
        local q = ls.query "j" {
          from = src(),
          join = { { with = a, on = "ka" }, { with = b, on = { "x", "kb" }, how = "left" } },
          group_by = { "ka" },
        }
        assert.are.equal(2, #q.joins)
        assert.are.equal(a, q.joins[1].table)
        assert.are.equal(b, q.joins[2].table)
        assert.are.equal("x", q.joins[2].left)
        assert.are.equal("left", q.joins[2].how)
      end)

      it("errors when on does not match the table's key", function()
        assert_has(error_of(function()
          ls.query "j" { from = src(), join = { with = tbl(), on = { "c", "label" } }, group_by = { "c" } }
        end), 'join.on table column "label" must be the table\'s key "code"')
        assert_has(error_of(function()
          ls.query "j" { from = src(), join = { with = tbl(), on = "c" }, group_by = { "c" } }
        end), 'join.on table column "c" must be the table\'s key "code"')
      end)

      it("errors on other bad join specs", function()
        assert_has(error_of(function()
          ls.query "j" { from = src(), join = { with = src(), on = "code" }, group_by = { "c" } }
        end), "join.with must be a table from ls.json_table")
        assert_has(error_of(function()
          ls.query "j" { from = src(), join = { with = tbl(), on = 5 }, group_by = { "c" } }
        end), 'join.on must be "column" or { stream_column, table_column }')
        assert_has(error_of(function()
          ls.query "j" { from = src(), join = { with = tbl(), on = "code", how = "right" }, group_by = { "c" } }
        end), 'join type must be "inner" or "left", got "right"')
        assert_has(error_of(function()
          ls.query "j" { from = src(), join = { with = tbl(), on = "code", columns = "label" }, group_by = { "c" } }
        end), "join.columns must be a table, got string")
      end)
    end)
  end)

  it("accepts the README's example script as it is written", function()
    local f = assert(io.open("README.md"))
    local text = f:read("a")
    f:close()
    local example = text:match("```lua\n(.-)```")
    assert.is_string(example)
    local ok, err = H.run_script(example)
    assert.is_true(ok, err)
    assert.are.equal(2, #ls._declared.queries)
  end)

  describe("typos are never silent", function()
    it("check_options: known names pass, others fail with a suggestion or the list", function()
      local known = { num_rows = true, truncate = true, maxOffsetsPerTrigger = "max_records_per_trigger",
                      max_records_per_trigger = true }
      local check = ls._check_options
      check(1, "x", { num_rows = 1, truncate = true, maxOffsetsPerTrigger = 3 }, known)
      assert_has(error_of(check, 1, "x", { numRows = 1 }, known), 'x: unknown option "numRows"; did you mean "num_rows"?')
      assert_has(error_of(check, 1, "x", { truncat = 1 }, known), 'did you mean "truncate"?')
      assert_has(error_of(check, 1, "x", { maxOffsetPerTrigger = 1 }, known), 'did you mean "max_records_per_trigger"?')
      assert_has(error_of(check, 1, "x", { colour = 1 }, known),
        'x: unknown option "colour" (known: max_records_per_trigger, num_rows, truncate)')
      check(1, "x", { ["kafka.x"] = 1 }, known, function(k) return k:sub(1, 6) == "kafka." end)
    end)

    it("every option table of the API rejects unknown keys", function()
      local s = src()
      local cases = {
        { function() ls.jsonl_sink { dir = "out", mode = "a" } end, 'ls.jsonl_sink: unknown option "mode"' },
        { function() ls.kafka_sink { prefix = "p", bootstrp = "b" } end, 'did you mean "bootstrap"?' },
        { function() ls.output("jsonl:out", { num_rows = 5 }) end, 'ls.output jsonl:out: unknown option "num_rows" (known: none)' },
        { function() ls.output("kafka:p", { bootstrap = "b", kafak = {} }) end, 'did you mean "kafka"?' },
        { function() ls.output("console", { num_row = 5 }) end, 'did you mean "num_rows"?' },
        { function() ls.console_sink { formt = tostring } end, 'did you mean "format"?' },
        { function() ls.json_table("x.json", { key = "k", keys = "k" }) end, 'ls.json_table: unknown option "keys"' },
        { function() ls.query "q" { from = s, group_by = { "k" }, watermark = { "ts", "1 minute", dealy = 1 } } end,
          'watermark: unknown option "dealy"; did you mean "delay"?' },
        { function() ls.query "q" { from = s, group_by = { "k" }, outputMode = "update" } end,
          'query q: unknown option "outputMode"; did you mean "output_mode"?' },
        { function() ls.query "q" { from = s, group_by = { "k" }, join = { with = tbl(), on = "code", hwo = "left" } } end,
          'join: unknown option "hwo"; did you mean "how"?' },
        { function() ls.query "q" { from = s, group_by = { "k", x = "y" } } end, 'group_by must be a list; it has the key "x"' },
        { function() ls.query "q" { from = s, group_by = { "k" }, trigger = "2 fortnights" } end, 'trigger: cannot read "2 fortnights"' },
        { function() ls.query "q" { from = s, group_by = { "k" }, partitions = 0 } end, "partitions must be from 1 to 65536, got 0" },
        { function() ls.query "q" { from = s, group_by = { "k" }, max_state_rows = 0.5 } end, "max_state_rows must be a whole number" },
        { function() ls.query "q" { from = s, group_by = { "k" }, watermark = { "a", "1 minute" }, event_time = "b" } end,
          'event_time "b" and the watermark\'s column "a" differ' },
        { function() ls.console_sink { num_rows = 0 } end, "num_rows must be from 1 to" },
        { function() ls.console_sink { truncate = "no" } end, "truncate must be a boolean, got string" },
        { function() ls.window("ts", "1 minute", "1 minute", "extra") end, "ls.window takes at most 3 arguments, got 4" },
        { function() ls.checkpoint("a"); ls.checkpoint("b") end, "ls.checkpoint is called twice" },
        { function() ls.app("job 1") end, 'ls.app "job 1": character 4 (" ") is not one of a-z A-Z 0-9 . _ -' },
        { function() ls.app("") end, "an app id has 1 to 200 characters, got 0" },
        { function() ls.app(("a"):rep(201)) end, "an app id has 1 to 200 characters, got 201" },
        { function() ls.app("..") end, 'ls.app ".." is not allowed as an app id' },
        { function() ls.app(7) end, "app id" },
        { function() ls.app("a"); ls.app("b") end, "ls.app is called twice" },
      }
      for i, c in ipairs(cases) do
        local ok, err = pcall(c[1])
        assert(not ok, "case " .. i .. " did not fail")
        assert_has(tostring(err), c[2])
      end
    end)

    it("passes the watermark table (with unit) through unchanged", function()
      local wm = { "ts", "10 minutes", unit = "ms" }
      local q = ls.query "q" { from = src(), group_by = { "k" }, watermark = wm }
      assert.are.equal(wm, q.watermark)
      assert.are.equal("ts", q.event_time)
      assert.are.equal(600000, q.watermark_ms)
    end)

    it("records ls.query \"name\" without its { ... } as unfinished (the engine reports it)", function()
      local declare = ls.query "lonely"
      assert.are.equal(1, #ls._declared.unfinished)
      assert.are.equal("lonely", ls._declared.unfinished[1].name)
      declare { from = src(), group_by = { "k" } }
      assert.are.equal(0, #ls._declared.unfinished)
    end)

    it("rejects look-alike declarations (tables not made by the API)", function()
      local fake_table = { _kind = "table", key = "k", path = "x.json" }
      assert_has(error_of(function()
        ls.query "q" { from = src(), group_by = { "k" }, join = { with = fake_table, on = "k" } }
      end), "join.with must be a table from ls.json_table")
      assert_has(error_of(ls.dead_letter, { _kind = "sink", type = "jsonl" }), "ls.dead_letter expects a sink")
      assert_has(error_of(function()
        ls.query "q" { from = src(), group_by = { { _kind = "window", column = "ts" } } }
      end), "group_by entry 1 must be a column name, ls.window(...) or ls.session_window(...)")
      assert_has(error_of(function()
        ls.query "q" { from = src(), aggregate = { { _kind = "aggregate", fn = "count" } } }
      end), "aggregate entry 1 must be ls.count()")
    end)
  end)

  -- Mistakes in a script must be reported at the script's file:line (the
  -- line where the offending call starts), not inside luastream.lua. Each
  -- case is a script whose bad call is on the line marked "--!".
  describe("errors point at the script's file:line", function()
    local prelude = table.concat({
      'local ls = require "luastream"',
      'local src = ls.kafka_source { topic = "calls" }',
      'local codes = ls.json_table("codes.json", { key = "code" })',
      "",
    }, "\n")

    local cases = {
      {
        "ls.kafka_source without topic",
        'local s = ls.kafka_source { bootstrap = "broker:9092" } --!\n',
        "ls.kafka_source: give topic",
      },
      {
        "ls.kafka_source without topic, multi-line call",
        'local s = ls.kafka_source { --!\n  bootstrap = "broker:9092",\n  starting_offsets = "earliest",\n}\n',
        "ls.kafka_source: give topic",
      },
      {
        "ls.kafka_source bad starting_offsets",
        'ls.kafka_source { topic = "t", starting_offsets = "first" } --!\n',
        "starting_offsets must be",
      },
      {
        "ls.kafka_source bad connect_timeout (checked in a helper)",
        'ls.kafka_source { topic = "t", connect_timeout = "whenever" } --!\n',
        "connect_timeout: cannot read duration",
      },
      {
        "ls.kafka_source non-string topic (type check)",
        "ls.kafka_source { topic = 5 } --!\n",
        "topic must be a string",
      },
      {
        "ls.window slide > size",
        'local w = ls.window("ts", "5 minutes", "10 minutes") --!\n',
        "window slide (10 minutes) cannot exceed its size (5 minutes)",
      },
      {
        "ls.window bad size",
        'local w = ls.window("ts", "5 lightyears") --!\n',
        "window size: cannot read duration",
      },
      {
        "ls.window inside a query's group_by",
        'ls.query "q" {\n  from = src,\n  group_by = { ls.window("ts", "1 minute", "2 minutes") }, --!\n}\n',
        "cannot exceed its size",
      },
      {
        "ls.query unknown option",
        'ls.query "q" { from = src, group_by = { "k" }, sinks = ls.output("console") } --!\n',
        'query q: unknown option "sinks"',
      },
      {
        "ls.query unknown option, multi-line (reported at the ls.query line)",
        'local x = 1\nls.query "q" { --!\n  from = src,\n  group_by = { "k" },\n  bogus = true,\n}\n',
        'query q: unknown option "bogus"',
      },
      {
        "ls.query join on the wrong column",
        'ls.query "q" { --!\n  from = src,\n  join = { with = codes, on = { "c", "description" } },\n'
          .. '  group_by = { "c" },\n}\n',
        'join.on table column "description" must be the table\'s key "code"',
      },
      {
        "ls.query join.columns not a table (type check two calls deep)",
        'ls.query "q" { from = src, join = { with = codes, on = "code", columns = "x" }, group_by = { "c" } } --!\n',
        "join.columns must be a table",
      },
      {
        "ls.query bad join how",
        'ls.query "q" { from = src, join = { with = codes, on = "code", how = "outer" }, group_by = { "c" } } --!\n',
        "join type must be",
      },
      {
        "ls.query duplicate name",
        'ls.query "q" { from = src, group_by = { "k" } }\nls.query "q" { from = src, group_by = { "k" } } --!\n',
        'query "q" is declared twice',
      },
      {
        "ls.query missing from",
        'ls.query "q" { group_by = { "k" } } --!\n',
        "from must be a source",
      },
      {
        "ls.query bad watermark delay",
        'ls.query "q" { from = src, group_by = { "k" }, watermark = { "ts", "an hour" } } --!\n',
        "watermark delay: cannot read duration",
      },
      {
        "ls.query bad output_mode",
        'ls.query "q" { from = src, group_by = { "k" }, output_mode = "full" } --!\n',
        "output_mode must be",
      },
      {
        "ls.query map not a function",
        'ls.query "q" { from = src, group_by = { "k" }, map = "call" } --!\n',
        "map must be a function",
      },
      {
        "ls.json_table without key",
        'local t = ls.json_table("codes.json", { }) --!\n',
        "json_table key must be a string",
      },
      {
        "ls.json_table with an unknown option",
        'local t = ls.json_table("codes.json", { column = "code" }) --!\n',
        'ls.json_table: unknown option "column" (known: key)',
      },
      {
        "ls.kafka_source with a misspelt option (did you mean)",
        'local s = ls.kafka_source { topic = "t", --!\n  starting_offset = "latest" }\n',
        'ls.kafka_source: unknown option "starting_offset"; did you mean "starting_offsets"?',
      },
      {
        "ls.console_sink with Spark's numRows",
        'local c = ls.console_sink { numRows = 5 } --!\n',
        'ls.console_sink: unknown option "numRows"; did you mean "num_rows"?',
      },
      {
        "ls.output console with a misspelt option (through a tail call)",
        'local o = ls.output("console", { truncat = false }) --!\n',
        'unknown option "truncat"; did you mean "truncate"?',
      },
      {
        "a join with a misspelt option",
        'ls.query "q" { from = src, group_by = { "c" }, --!\n  join = { with = codes, on = "code", colums = { "x" } } }\n',
        'join: unknown option "colums"; did you mean "columns"?',
      },
      {
        "a join.with not made by ls.json_table",
        'ls.query "q" { from = src, group_by = { "c" }, join = { with = { _kind = "table", key = "k" }, on = "k" } } --!\n',
        "join.with must be a table from ls.json_table",
      },
      {
        "a source not made by ls.kafka_source",
        'ls.query "q" { from = { _kind = "source", topics = { "t" } }, group_by = { "c" } } --!\n',
        "from must be a source",
      },
      {
        "a sink not made by ls.output",
        'ls.query "q" { from = src, group_by = { "c" }, sink = { _kind = "sink", type = "jsonl" } } --!\n',
        "sink must come from ls.output",
      },
      {
        "ls.param boolean that is not one",
        'local b = ls.param("verbose", false) --!\n',
        "--set verbose=ture: a boolean is expected",
        { verbose = "ture" },
      },
      {
        "ls.sum without column",
        "local a = ls.sum() --!\n",
        "sum column must be a string",
      },
      {
        "ls.output bad spec",
        'local o = ls.output("stdout") --!\n',
        'output "stdout": expected console',
      },
      {
        "ls.output console with a bad format (through a tail call)",
        'local o = ls.output("console", { format = "%s" }) --!\n',
        "console format must be a function",
      },
      {
        "ls.dead_letter not a sink",
        'ls.dead_letter("jsonl:dl") --!\n',
        "ls.dead_letter expects a sink",
      },
      {
        "ls.param not a number",
        'local n = ls.param("not_a_number", 5) --!\n',
        "a number is expected",
        { not_a_number = "five" },
      },
      {
        "a mistake inside a function the script defines",
        'local function make(name)\n  local q = ls.query(name) { from = src, output_mode = "updte" } --!\n  return q\nend\nmake("q")\n',
        'output_mode must be complete, update or append, got "updte"',
      },
    }

    for _, c in ipairs(cases) do
      local title, body, expected, params = c[1], c[2], c[3], c[4]
      it(title, function()
        H.fresh(params)
        local text = prelude .. body
        local line = H.line_of(text, "--!")
        local ok, err, path = H.run_script(text)
        assert.is_false(ok, "the script should have failed")
        err = tostring(err)
        local want = path .. ":" .. line .. ": "
        assert(err:sub(1, #want) == want,
          string.format("error should start with %q, got %q", want, err))
        assert_has(err, expected)
        assert(not contains(err, "luastream.lua"), "error mentions luastream.lua: " .. err)
      end)
    end

    it("records where a query was declared (q.where)", function()
      local text = prelude .. 'local x = 1\nls.query "q" { --!\n  from = src,\n  group_by = { "k" },\n}\n'
      local line = H.line_of(text, "--!")
      local ls2 = H.fresh()
      local ok, err, path = H.run_script(text)
      assert.is_true(ok, err)
      assert.are.equal(path .. ":" .. line, ls2._declared.queries[1].where)
    end)
  end)

  -- Tests below fail on purpose: each shows a bug in lua/luastream.lua
  -- (see the report). They pass once the module validates these values.
  describe("BUG: values of the wrong type", function()
    it("BUG: group_by given a single column name (not a list) is silently ignored", function()
      local err = error_of(function()
        ls.query "q" { from = src(), group_by = "disposition", aggregate = { ls.count() } }
      end)
      assert_has(err, "group_by")
    end)

    it("BUG: group_by given a single ls.window(...) (not a list) is silently ignored", function()
      local err = error_of(function()
        ls.query "q" { from = src(), group_by = ls.window("ts", "10 minutes"), aggregate = { ls.count() } }
      end)
      assert_has(err, "group_by")
    end)

    it("BUG: an aggregate name that is not a string is accepted", function()
      error_of(ls.count, nil, 5)
      error_of(ls.sum, "x", {})
    end)

    it("BUG: the function returned by ls.query can declare the same name twice", function()
      local declare = ls.query "twice"
      declare { from = src(), group_by = { "k" } }
      local err = error_of(declare, { from = src(), group_by = { "k" } })
      assert_has(err, 'query "twice" is declared twice')
      assert.are.equal(1, #ls._declared.queries)
    end)

    -- A non-table where a table is expected raises a Lua runtime error
    -- inside luastream.lua instead of a message at the script's line.
    local cases = {
      { "BUG: ls.query join = <number>", 'ls.query "q" { from = src, join = 42, group_by = { "k" } } --!\n' },
      { "BUG: ls.query aggregate = <string>", 'ls.query "q" { from = src, aggregate = "count" } --!\n' },
      { "BUG: ls.kafka_source kafka = <string>", 'ls.kafka_source { topic = "t", kafka = "fetch.min.bytes=1" } --!\n' },
    }
    for _, c in ipairs(cases) do
      it(c[1] .. " is reported inside luastream.lua, not at the script's line", function()
        local text = 'local ls = require "luastream"\nlocal src = ls.kafka_source { topic = "calls" }\n' .. c[2]
        local line = H.line_of(text, "--!")
        local ok, err, path = H.run_script(text)
        assert.is_false(ok)
        err = tostring(err)
        local want = path .. ":" .. line .. ": "
        assert(err:sub(1, #want) == want, string.format("error should start with %q, got %q", want, err))
      end)
    end
  end)
end)
