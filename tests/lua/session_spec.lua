-- session_spec.lua - ls.session_window (Spark's session_window) as a script sees it: the
-- declaration and every mistake reported at the script's line.

local H = require "ls_helpers"

local contains, error_of = H.contains, H.error_of

local function assert_has(msg, sub)
  assert(contains(msg, sub), string.format("expected %q to contain %q", tostring(msg), sub))
end

-- the error is reported at the line of the call in this file
local function assert_here(msg)
  assert(contains(msg, "session_spec.lua:"), string.format("expected %q to name session_spec.lua:LINE", tostring(msg)))
end

describe("ls.session_window", function()
  local ls

  before_each(function()
    ls = H.fresh()
  end)

  local function src() return ls.kafka_source { topic = "t" } end

  -- a query with a session window; spec entries override the defaults
  local function declare(spec)
    local s = {
      from = src(),
      watermark = { "ts", "10 minutes" },
      group_by = { ls.session_window("ts", "5 minutes"), "user" },
      aggregate = { ls.count() },
      output_mode = "append",
    }
    for k, v in pairs(spec or {}) do s[k] = v end
    for k, v in pairs(s) do if v == "nil" then s[k] = nil end end
    local q = ls.query "q" (s)
    return q
  end

  it("converts the gap to milliseconds", function()
    local w = ls.session_window("ts", "30 minutes")
    assert.are.equal("session_window", w._kind)
    assert.are.equal("ts", w.column)
    assert.are.equal(1800000, w.gap_ms)
    assert.are.equal(1500, ls.session_window("ts", 1.5).gap_ms) -- seconds
  end)

  it("declares a query in append and complete modes", function()
    local q = declare()
    assert.are.equal("append", q.output_mode)
    assert.are.equal("session_window", q.group_by[1]._kind)
    assert.are.equal("user", q.group_by[2].column)
    assert.is_nil(q.window_entry)
    ls = H.fresh()
    q = declare { output_mode = "complete", watermark = "nil" }
    assert.are.equal("complete", q.output_mode)
  end)

  it("names its output column session_window (order_by can use it)", function()
    local q = declare { output_mode = "complete", order_by = { "session_window", "count" } }
    assert.are.equal("session_window", q.order_by[1].column)
    ls = H.fresh()
    local err = error_of(declare, { output_mode = "complete", order_by = "window" })
    assert_has(err, 'order_by column "window" is not an output column')
  end)

  it("errors on a gap that is missing, not positive or unreadable", function()
    local err = error_of(function() local w = ls.session_window("ts"); return w end)
    assert_has(err, "the gap is missing")
    assert_here(err)
    assert_has(error_of(ls.session_window, "ts", "0 seconds"), "session_window gap must be positive")
    assert_has(error_of(ls.session_window, "ts", -5), "session_window gap must be positive")
    assert_has(error_of(ls.session_window, "ts", "soon"), 'session_window gap: cannot read duration "soon"')
    assert_has(error_of(ls.session_window, "ts", {}), "session_window gap must be a string, got table")
    assert_has(error_of(ls.session_window, "ts", 1e300), "session_window gap is out of range, got 1e+300")
    assert_has(error_of(ls.session_window, "ts", math.huge), "session_window gap is out of range")
    assert_has(error_of(ls.session_window, "ts", 0/0), "session_window gap is out of range")
  end)

  it("errors on a bad column or extra arguments", function()
    assert_has(error_of(ls.session_window, 5, "5 minutes"), "session_window column must be a string, got number")
    assert_has(error_of(ls.session_window, "", "5 minutes"), "session_window column must not be empty")
    assert_has(error_of(ls.session_window, "ts", "5 minutes", "1 minute"), "ls.session_window takes at most 2 arguments, got 3")
  end)

  -- (update mode, a session window alone in group_by: the rules are checked by the compiler: tests/unit/test_lua_api.c, engine_query_rules_at_the_line)

  it("allows at most one window of either kind", function()
    local err = error_of(declare, { output_mode = "complete",
      group_by = { ls.session_window("ts", "5 minutes"), ls.window("ts", "1 hour"), "user" } })
    assert_has(err, "group_by has two windows (entries 1 and 2)")
    ls = H.fresh()
    err = error_of(declare, { group_by = { ls.session_window("ts", "5 minutes"), "user",
      ls.session_window("ts", "10 minutes") } })
    assert_has(err, "group_by has two windows (entries 1 and 3)")
  end)

  -- (its watermark or event time on another column, append without a watermark: the rules are checked by the compiler: tests/unit/test_lua_api.c, engine_query_rules_at_the_line)

  it("is refused where a column name is expected", function()
    local err = error_of(declare, { group_by = { "user", { column = "ts", gap_ms = 1000, _kind = "session_window" } } })
    assert_has(err, "group_by entry 2 must be a column name, ls.window(...) or ls.session_window(...)")
  end)
end)

describe("scripts/sessions.lua", function()
  it("declares one session-window query, append mode, with its parameters", function()
    local ls = H.fresh({ gap = "10 minutes", delay = "2 hours", output = "jsonl:out" })
    assert(loadfile("scripts/sessions.lua"))()
    local q = ls._declared.queries[1]
    assert.are.equal("crime_type_sessions", q.name)
    assert.are.equal("append", q.output_mode)
    assert.are.equal("session_window", q.group_by[1]._kind)
    assert.are.equal("call_date_time", q.group_by[1].column)
    assert.are.equal(600000, q.group_by[1].gap_ms)
    assert.are.equal("original_crime_type_name", q.group_by[2].column)
    assert.are.equal(7200000, q.watermark_ms)
    assert.are.equal(1, #ls._declared.queries)
  end)
end)
