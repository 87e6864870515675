-- sketches_spec.lua - ls.approx_count_distinct and ls.percentile_approx as a script
-- sees them: Spark's output names, the parameters recorded for the engine, and every
-- mistake an error at the script's own line with a hint.

local H = require "ls_helpers"

local function assert_has(msg, sub)
  assert(H.contains(msg, sub), string.format("expected %q to contain %q", tostring(msg), sub))
end

-- Runs `call` (a line of script, the ls.* call under test) and returns the error; checks
-- that it is reported at that line of the script.
local function error_at_line(call)
  local text = 'local ls = require "luastream"\nlocal a = ' .. call .. ' --!\n'
  local ok, err, path = H.run_script(text)
  assert.is_false(ok, "expected an error from " .. call)
  err = tostring(err)
  local want = path .. ":" .. H.line_of(text, "--!") .. ": "
  assert(err:sub(1, #want) == want, string.format("error should start with %q, got %q", want, err))
  return err
end

describe("sketch aggregates", function()
  local ls

  before_each(function()
    ls = H.fresh()
  end)

  describe("ls.approx_count_distinct", function()
    it("is named as Spark names it, with or without rsd", function()
      local a = ls.approx_count_distinct("user")
      assert.are.equal("aggregate", a._kind)
      assert.are.equal("approx_count_distinct", a.fn)
      assert.are.equal("user", a.column)
      assert.are.equal("approx_count_distinct(user)", a.name)
      assert.are.equal(0.05, a.rsd)
      a = ls.approx_count_distinct("user", 0.01)
      assert.are.equal("approx_count_distinct(user)", a.name) -- Spark leaves rsd out of the name
      assert.are.equal(0.01, a.rsd)
      assert.are.equal("users", ls.approx_count_distinct("user", nil, "users").name)
      assert.are.equal("users", ls.approx_count_distinct("user", 0.1, "users").name)
    end)

    it("accepts rsd over Spark's range that luastream keeps", function()
      assert.are.equal(0.391, ls.approx_count_distinct("u", 0.391).rsd)     -- 2^4 registers
      assert.are.equal(0.00217, ls.approx_count_distinct("u", 0.00217).rsd) -- 2^18
    end)

    it("refuses a bad rsd at the script's line", function()
      assert_has(error_at_line('ls.approx_count_distinct("u", 0.5)'),
        "rsd must be from 0.00217 to 0.391")
      assert_has(error_at_line('ls.approx_count_distinct("u", 0.00216)'), "got 0.00216") -- 2^19 registers
      assert_has(error_at_line('ls.approx_count_distinct("u", 0.3911)'), "got 0.3911")     -- 2^3
      assert_has(error_at_line('ls.approx_count_distinct("u", 0)'), "rsd must be from")
      assert_has(error_at_line('ls.approx_count_distinct("u", -1)'), "rsd must be from")
      assert_has(error_at_line('ls.approx_count_distinct("u", 0/0)'), "rsd must be from")
      assert_has(error_at_line('ls.approx_count_distinct("u", {})'), "rsd (the relative standard deviation) must be a number, got table")
    end)

    it("says how to name the column when a name is given in rsd's place", function()
      assert_has(error_at_line('ls.approx_count_distinct("user", "users")'),
        'to name the column: ls.approx_count_distinct("user", nil, "users")')
    end)

    it("needs a column and at most three arguments", function()
      assert_has(error_at_line("ls.approx_count_distinct()"),
        "approx_count_distinct column must be a string, got nil")
      assert_has(error_at_line('ls.approx_count_distinct("u", 0.05, "n", 1)'),
        "ls.approx_count_distinct takes at most 3 arguments, got 4")
      assert_has(error_at_line('ls.approx_count_distinct("u", 0.05, 7)'),
        "the name of approx_count_distinct must be a string, got number")
    end)
  end)

  describe("ls.percentile_approx", function()
    it("is named as Spark names it: percentage and accuracy as literals", function()
      local a = ls.percentile_approx("latency", 0.5)
      assert.are.equal("percentile_approx", a.fn)
      assert.are.equal("latency", a.column)
      assert.are.equal("percentile_approx(latency, 0.5, 10000)", a.name)
      assert.are.same({ 0.5 }, a.percentages)
      assert.is_false(a.pct_list)
      assert.are.equal(10000, a.accuracy)
      assert.are.equal("percentile_approx(latency, 0.99, 100)", ls.percentile_approx("latency", 0.99, 100).name)
      assert.are.equal("percentile_approx(x, 1, 10000)", ls.percentile_approx("x", 1).name)
      assert.are.equal("percentile_approx(x, 1.0, 10000)", ls.percentile_approx("x", 1.0).name)
      assert.are.equal("percentile_approx(x, 1.0E-4, 10000)", ls.percentile_approx("x", 0.0001).name)
      assert.are.equal("p50", ls.percentile_approx("x", 0.5, nil, "p50").name)
    end)

    it("takes a list of percentages: the result is a list, named as Spark's array", function()
      local a = ls.percentile_approx("v", { 0.25, 0.5, 0.75 })
      assert.is_true(a.pct_list)
      assert.are.same({ 0.25, 0.5, 0.75 }, a.percentages)
      assert.are.equal("percentile_approx(v, array(0.25, 0.5, 0.75), 10000)", a.name)
      assert.are.equal("percentile_approx(v, array(0.5), 200)", ls.percentile_approx("v", { 0.5 }, 200).name)
    end)

    it("keeps its parameters when named in a map", function()
      local q = ls.query "q" {
        from = ls.kafka_source { topic = "t" }, group_by = { "k" },
        aggregate = { p99 = ls.percentile_approx("v", 0.99, 500), users = ls.approx_count_distinct("u", 0.01) },
      }
      local p99, users = q.aggregates[1], q.aggregates[2]
      assert.are.equal("p99", p99.name)
      assert.are.equal(500, p99.accuracy)
      assert.are.same({ 0.99 }, p99.percentages)
      assert.are.equal("users", users.name)
      assert.are.equal(0.01, users.rsd)
    end)

    it("refuses a percentage outside [0, 1] at the script's line", function()
      assert_has(error_at_line('ls.percentile_approx("v", 1.5)'),
        "ls.percentile_approx: p must be a number from 0 to 1 (0.5 is the median), got 1.5")
      assert_has(error_at_line('ls.percentile_approx("v", -0.1)'), "got -0.1")
      assert_has(error_at_line('ls.percentile_approx("v", 0/0)'), "p must be a number from 0 to 1")
      assert_has(error_at_line('ls.percentile_approx("v", "median")'), 'got "median"')
      assert_has(error_at_line('ls.percentile_approx("v", { 0.5, 2 })'), "p[2] must be a number from 0 to 1")
      assert_has(error_at_line('ls.percentile_approx("v", { 0.5, "x" })'), 'p[2] must be a number from 0 to 1 (0.5 is the median), got "x"')
      assert_has(error_at_line('ls.percentile_approx("v", {})'), "the list of percentages is empty")
      assert_has(error_at_line('ls.percentile_approx("v", { 0.5, k = 1 })'), "percentile_approx p must be a list")
    end)

    it("needs p", function()
      assert_has(error_at_line('ls.percentile_approx("v")'),
        'ls.percentile_approx("v", p): p is required: a number from 0 to 1, or a list of them')
    end)

    it("refuses an accuracy that is not a positive whole number", function()
      assert_has(error_at_line('ls.percentile_approx("v", 0.5, 0)'),
        "percentile_approx accuracy must be from 1 to 2147483647, got 0")
      assert_has(error_at_line('ls.percentile_approx("v", 0.5, 2.5)'),
        "percentile_approx accuracy must be a whole number from 1 to 2147483647, got 2.5")
      assert_has(error_at_line('ls.percentile_approx("v", 0.5, 2^31)'), "must be from 1 to 2147483647")
      assert_has(error_at_line('ls.percentile_approx("v", 0.5, "p50")'),
        'to name the column: ls.percentile_approx("v", 0.5, 10000, "p50")')
    end)

    it("needs a column and at most four arguments", function()
      assert_has(error_at_line("ls.percentile_approx()"), "percentile_approx column must be a string, got nil")
      assert_has(error_at_line('ls.percentile_approx("v", 0.5, 100, "n", 1)'),
        "ls.percentile_approx takes at most 4 arguments, got 5")
    end)
  end)

  it("declares the README's example as written, with the column names its row shows", function()
    local f = assert(io.open("README.md"))
    local text = f:read("a")
    f:close()
    local example
    for block in text:gmatch("```lua\n(.-)```") do
      if block:find("approx_count_distinct", 1, true) then example = block end
    end
    assert.is_string(example)
    local ok, err = H.run_script('local ls = require "luastream"\n'
      .. 'local clicks = ls.kafka_source { topic = "clicks" }\n' .. example)
    assert.is_true(ok, err)
    local q = ls._declared.queries[1]
    local row = text:match("gives rows like (`.-`)"):gsub("%s*\n%s*", " ")
    for _, a in ipairs(q.aggregates) do
      assert_has(row, '"' .. a.name .. '":')
    end
  end)

  describe("Spark's literal text", function()
    it("writes numbers as Spark's column names do (Java's Double.toString)", function()
      local cases = { { 0.5, "0.5" }, { 1, "1" }, { 1.0, "1.0" }, { 0.001, "0.001" }, { 0.0001, "1.0E-4" },
                      { 1e-5, "1.0E-5" }, { 0.999, "0.999" }, { 0.0, "0.0" }, { 1e7, "1.0E7" },
                      { 123456.5, "123456.5" }, { 12345678.9, "1.23456789E7" }, { 2.5e-8, "2.5E-8" } }
      for _, c in ipairs(cases) do
        assert.are.equal(c[2], ls._spark_literal(c[1]))
      end
    end)
  end)
end)
