-- luastream.lua - the API a luastream script sees (`local ls = require "luastream"`).
--
-- A script *declares* sources, static tables, queries and sinks; this module
-- checks each declaration where it is made (so a mistake is reported at the
-- script's file:line) and records it. After the script has run, the C
-- engine reads the declarations (M._declared) and runs them. Only `map`
-- and `format` functions run per record / per row.
--
-- Functions implemented in C come from `luastream.core`; this file works
-- in plain Lua 5.4 too when that module is on package.cpath (tests).

local core = require "luastream.core"

local M = {}
M.null = core.null
M.version = core.version

local declared = { sources = {}, tables = {}, queries = {}, dead_letter = nil, params_used = {} }
M._declared = declared

local function fail(level, fmt, ...)
  error(string.format(fmt, ...), level + 1)
end

local function check_type(level, what, v, ty)
  if type(v) ~= ty then
    fail(level + 1, "%s must be a %s, got %s", what, ty, type(v))
  end
end

local function duration(level, what, v)
  if type(v) == "number" then return math.floor(v * 1000 + 0.5) end -- seconds
  check_type(level + 1, what, v, "string")
  local ms = core.duration(v)
  if not ms then
    fail(level + 1, "%s: cannot read duration %q (try \"10 minutes\", \"2 seconds\", \"500ms\")", what, v)
  end
  return ms
end

local function kind_of(v) return type(v) == "table" and rawget(v, "_kind") or nil end

--- ls.param(name, default): the value given with `--set name=value`, else default.
-- Numbers are converted when the default is a number.
function M.param(name, default)
  check_type(2, "param name", name, "string")
  declared.params_used[name] = true
  local v = core.params[name]
  if v == nil then return default end
  if type(default) == "number" then
    local n = tonumber(v)
    if not n then fail(2, "--set %s=%s: a number is expected", name, v) end
    return n
  end
  if type(default) == "boolean" then return v == "true" or v == "1" or v == "yes" end
  return v
end

--- ls.timestamp(s): ISO-8601 text (no zone = UTC) to epoch seconds, or nil.
function M.timestamp(s)
  if s == nil or s == M.null then return nil end
  return core.timestamp(s)
end

--- ls.format_timestamp(seconds): epoch seconds to "YYYY-MM-DDThh:mm:ssZ".
M.format_timestamp = core.format_timestamp

--- ls.duration(s): "10 minutes" -> 600000 (milliseconds), or nil.
M.duration = core.duration

--- ls.decode(json): JSON text to a Lua value using the engine's decoder.
M.decode = core.decode

--- ls.kafka{ topic=..., bootstrap=..., starting_offsets=..., ... }: a Kafka source.
function M.kafka(opts)
  check_type(2, "ls.kafka options", opts, "table")
  local src = { _kind = "source", topics = {}, kafka = {} }
  if opts.topic then src.topics[1] = opts.topic end
  if opts.topics ~= nil then check_type(2, "topics", opts.topics, "table") end
  for _, t in ipairs(opts.topics or {}) do src.topics[#src.topics + 1] = t end
  if #src.topics == 0 then fail(2, "ls.kafka: give topic = \"name\" or topics = {...}") end
  for i, t in ipairs(src.topics) do check_type(2, "topic " .. i, t, "string") end
  src.bootstrap = opts.bootstrap or "localhost:9092"
  check_type(2, "bootstrap", src.bootstrap, "string")
  src.starting_offsets = opts.starting_offsets or "earliest"
  if src.starting_offsets ~= "earliest" and src.starting_offsets ~= "latest" then
    fail(2, "starting_offsets must be \"earliest\" or \"latest\", got %q", tostring(src.starting_offsets))
  end
  src.max_records_per_trigger = opts.max_records_per_trigger or opts.maxOffsetsPerTrigger or 0
  check_type(2, "max_records_per_trigger", src.max_records_per_trigger, "number")
  src.max_record_bytes = opts.max_record_bytes or 1048576
  check_type(2, "max_record_bytes", src.max_record_bytes, "number")
  src.connect_timeout_ms = duration(2, "connect_timeout", opts.connect_timeout or "10 seconds")
  if opts.group_id ~= nil then check_type(2, "group_id", opts.group_id, "string") end
  src.group_id = opts.group_id  -- consumer group the positions are committed under (lag tools)
  -- librdkafka properties: kafka = { ["fetch.min.bytes"] = ... } or "kafka.<name>" keys.
  if opts.kafka ~= nil then check_type(2, "kafka properties", opts.kafka, "table") end
  for k, v in pairs(opts.kafka or {}) do src.kafka[k] = tostring(v) end
  for k, v in pairs(opts) do
    if type(k) == "string" and k:sub(1, 6) == "kafka." then src.kafka[k:sub(7)] = tostring(v) end
  end
  if opts.fields then
    check_type(2, "fields", opts.fields, "table")
    src.fields = opts.fields
  end
  if opts.schema ~= nil then
    check_type(2, "schema", opts.schema, "table")
    local types = { string = true, int = true, integer = true, bigint = true, long = true,
                    double = true, float = true, boolean = true, timestamp = true }
    src.schema = {}
    for col, ty in pairs(opts.schema) do
      if type(col) ~= "string" then fail(2, "schema: column names must be strings, got %s", type(col)) end
      if type(ty) ~= "string" or not types[ty:lower()] then
        fail(2, "schema: column %s: type must be one of string, int, bigint, double, boolean, timestamp (Spark's names), got %s",
             col, type(ty) == "string" and string.format("%q", ty) or type(ty))
      end
      src.schema[col] = ty:lower()
    end
  end
  declared.sources[#declared.sources + 1] = src
  return src
end

--- ls.json_table(path, { key = "column" }): a static table for joins.
function M.json_table(path, opts)
  check_type(2, "json_table path", path, "string")
  check_type(2, "json_table options", opts, "table")
  check_type(2, "json_table key", opts.key, "string")
  local t = { _kind = "table", path = path, key = opts.key }
  declared.tables[#declared.tables + 1] = t
  return t
end

--- ls.window(column, size [, slide]): an event-time window for group_by.
function M.window(column, size, slide)
  check_type(2, "window column", column, "string")
  local w = { _kind = "window", column = column, size_ms = duration(2, "window size", size) }
  w.slide_ms = slide and duration(2, "window slide", slide) or w.size_ms
  if w.size_ms <= 0 or w.slide_ms <= 0 then fail(2, "window size and slide must be positive") end
  if w.slide_ms > w.size_ms then fail(2, "window slide (%s) cannot exceed its size (%s)", slide, size) end
  if w.size_ms // w.slide_ms > 64 then fail(2, "window size/slide must be at most 64") end
  return w
end

local function aggregate(fn, column, name)
  if name ~= nil and type(name) ~= "string" then
    fail(3, "the name of %s must be a string, got %s", fn, type(name))
  end
  if column ~= nil and type(column) ~= "string" then
    fail(3, "the column of %s must be a string, got %s", fn, type(column))
  end
  local a = { _kind = "aggregate", fn = fn, column = column }
  a.name = name or (column and (fn .. "(" .. column .. ")") or fn)
  return a
end

--- Aggregates: ls.count([column]), ls.sum(c), ls.min(c), ls.max(c), ls.avg(c);
-- an optional last argument names the output column.
function M.count(column, name) return aggregate("count", column, name) end
for _, fn in ipairs { "sum", "min", "max", "avg" } do
  M[fn] = function(column, name)
    check_type(2, fn .. " column", column, "string")
    return aggregate(fn, column, name)
  end
end

--- Sinks.
function M.console(opts)
  opts = opts or {}
  if opts.format ~= nil then check_type(2, "console format", opts.format, "function") end
  return { _kind = "sink", type = "console", num_rows = opts.num_rows or 20,
           truncate = opts.truncate ~= false, format = opts.format }
end

function M.jsonl(dir)
  if type(dir) == "table" then dir = dir.dir end
  check_type(2, "jsonl directory", dir, "string")
  return { _kind = "sink", type = "jsonl", dir = dir }
end

function M.kafka_sink(opts)
  check_type(2, "kafka_sink options", opts, "table")
  check_type(2, "kafka_sink prefix", opts.prefix, "string")
  return { _kind = "sink", type = "kafka", prefix = opts.prefix,
           bootstrap = opts.bootstrap, kafka = opts.kafka or {} }
end

--- ls.output(spec [, opts]): a sink from text: "console", "jsonl:DIR", "kafka:PREFIX".
function M.output(spec, opts)
  check_type(2, "output", spec, "string")
  opts = opts or {}
  if spec == "console" then return M.console(opts) end
  local dir = spec:match("^jsonl:(.+)$")
  if dir then return M.jsonl(dir) end
  local prefix = spec:match("^kafka:(.+)$")
  if prefix then
    return M.kafka_sink { prefix = prefix, bootstrap = opts.bootstrap, kafka = opts.kafka }
  end
  fail(2, "output %q: expected console, jsonl:DIR or kafka:PREFIX", spec)
end

--- ls.checkpoint(dir): keep offsets, state snapshots and commits in dir
-- (--checkpoint DIR overrides it).
function M.checkpoint(dir)
  check_type(2, "checkpoint directory", dir, "string")
  declared.checkpoint = dir
end

--- ls.dead_letter(sink): where bad records go (default: beside the first query's sink).
function M.dead_letter(sink)
  if kind_of(sink) ~= "sink" then fail(2, "ls.dead_letter expects a sink (ls.output(...))") end
  declared.dead_letter = sink
end

local query_keys = {
  from = true, map = true, join = true, watermark = true, event_time = true, group_by = true,
  aggregate = true, output_mode = true, trigger = true, sink = true, partitions = true,
  max_state_rows = true,
}

local function check_join(j)
  if kind_of(j.with) ~= "table" then fail(3, "join.with must be a table from ls.json_table") end
  local on = j.on
  if type(on) == "string" then on = { on, on } end
  if type(on) ~= "table" or type(on[1]) ~= "string" or type(on[2] or on[1]) ~= "string" then
    fail(3, "join.on must be \"column\" or { stream_column, table_column }")
  end
  if (on[2] or on[1]) ~= j.with.key then
    fail(3, "join.on table column %q must be the table's key %q", on[2] or on[1], j.with.key)
  end
  local how = j.how or j.type or "inner"
  if how == "left_outer" or how == "leftouter" then how = "left" end
  if how ~= "inner" and how ~= "left" then fail(3, "join type must be \"inner\" or \"left\", got %q", how) end
  if j.columns ~= nil then check_type(3, "join.columns", j.columns, "table") end
  return { table = j.with, left = on[1], how = how, columns = j.columns }
end

--- ls.query "name" { ... }: declares a streaming query.
function M.query(name)
  check_type(2, "query name", name, "string")
  if not name:match("^[%w_.%-]+$") then fail(2, "query name %q: use letters, digits, _ . -", name) end
  for _, q in ipairs(declared.queries) do
    if q.name == name then fail(2, "query %q is declared twice", name) end
  end
  return function(spec)
    check_type(2, "query " .. name, spec, "table")
    for _, q in ipairs(declared.queries) do
      if q.name == name then fail(2, "query %q is declared twice", name) end
    end
    for k in pairs(spec) do
      if not query_keys[k] then fail(2, "query %s: unknown option %q", name, tostring(k)) end
    end
    local q = { _kind = "query", name = name }
    if kind_of(spec.from) ~= "source" then fail(2, "query %s: from must be a source (ls.kafka{...})", name) end
    q.from = spec.from
    if spec.map ~= nil then check_type(2, "query " .. name .. ": map", spec.map, "function") end
    q.map = spec.map
    q.joins = {}
    if spec.join then
      check_type(2, "query " .. name .. ": join", spec.join, "table")
      local list = spec.join[1] and spec.join or { spec.join }
      for _, j in ipairs(list) do q.joins[#q.joins + 1] = check_join(j) end
    end
    local function time_unit(u)
      if u == nil then return nil end
      if u ~= "s" and u ~= "ms" then
        fail(3, "query %s: unit must be \"s\" (epoch seconds, the default, as Spark casts numbers) or \"ms\" (epoch milliseconds), got %s",
             name, type(u) == "string" and string.format("%q", u) or type(u))
      end
      return u
    end
    if spec.watermark then
      local wm = spec.watermark
      if type(wm) ~= "table" or type(wm[1]) ~= "string" then
        fail(2, "query %s: watermark = { \"column\", \"60 minutes\" }", name)
      end
      q.event_time = wm[1]
      q.watermark_ms = duration(2, "watermark delay", wm[2] or wm.delay)
      q.event_time_unit = time_unit(wm.unit)
    end
    if spec.event_time then
      local et = spec.event_time
      if type(et) == "table" then
        if type(et[1]) ~= "string" then fail(2, "query %s: event_time = \"column\" or { \"column\", unit = \"ms\" }", name) end
        q.event_time_unit = time_unit(et.unit) or q.event_time_unit
        et = et[1]
      end
      check_type(2, "event_time", et, "string")
      q.event_time = et
    end
    q.group_by = {}
    if spec.group_by ~= nil and (type(spec.group_by) ~= "table" or kind_of(spec.group_by)) then
      fail(2, "query %s: group_by must be a list, e.g. { \"column\" } or { ls.window(...), \"column\" }", name)
    end
    for i, g in ipairs(spec.group_by or {}) do
      if type(g) == "string" then
        q.group_by[i] = { column = g }
      elseif kind_of(g) == "window" then
        q.group_by[i] = g
      else
        fail(2, "query %s: group_by entry %d must be a column name or ls.window(...)", name, i)
      end
    end
    q.aggregates = {}
    if spec.aggregate ~= nil and (type(spec.aggregate) ~= "table" or kind_of(spec.aggregate)) then
      fail(2, "query %s: aggregate must be a list, e.g. { ls.count() }", name)
    end
    local seen = {}
    for i, a in ipairs(spec.aggregate or {}) do
      if kind_of(a) ~= "aggregate" then fail(2, "query %s: aggregate entry %d must be ls.count(), ls.sum(...), ...", name, i) end
      q.aggregates[#q.aggregates + 1] = a
    end
    for k, a in pairs(spec.aggregate or {}) do
      if type(k) == "string" then
        if kind_of(a) ~= "aggregate" then fail(2, "query %s: aggregate %s must be ls.count(), ls.sum(...), ...", name, k) end
        seen[#seen + 1] = k
      end
    end
    table.sort(seen)
    for _, k in ipairs(seen) do
      local a = spec.aggregate[k]
      q.aggregates[#q.aggregates + 1] = aggregate(a.fn, a.column, k)
    end
    local columns = {}
    for _, g in ipairs(q.group_by) do
      local c = g._kind == "window" and "window" or g.column
      if columns[c] then fail(2, "query %s: column %q appears twice in group_by", name, c) end
      columns[c] = true
    end
    for _, a in ipairs(q.aggregates) do
      if columns[a.name] then fail(2, "query %s: output column %q is defined twice", name, a.name) end
      columns[a.name] = true
    end
    if #q.group_by == 0 and #q.aggregates == 0 then
      fail(2, "query %s: needs group_by and/or aggregate", name)
    end
    q.output_mode = spec.output_mode or "complete"
    if q.output_mode ~= "complete" and q.output_mode ~= "update" and q.output_mode ~= "append" then
      fail(2, "query %s: output_mode must be complete, update or append, got %q", name, tostring(q.output_mode))
    end
    q.trigger = spec.trigger
    if q.trigger ~= nil then check_type(2, "trigger", q.trigger, "string") end
    q.sink = spec.sink or M.console()
    if kind_of(q.sink) ~= "sink" then fail(2, "query %s: sink must come from ls.output/ls.console/ls.jsonl/ls.kafka_sink", name) end
    q.partitions = spec.partitions
    if spec.max_state_rows ~= nil then check_type(2, "max_state_rows", spec.max_state_rows, "number") end
    q.max_state_rows = spec.max_state_rows
    q.source_line = debug.getinfo(2, "Sl")
    q.where = q.source_line and (q.source_line.short_src .. ":" .. q.source_line.currentline) or name
    declared.queries[#declared.queries + 1] = q
    return q
  end
end

return M
