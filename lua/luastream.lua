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

local declared = { sources = {}, tables = {}, queries = {}, dead_letter = nil, params_used = {},
                   unfinished = {} }
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

-- Objects this module made, by kind (weak keys). A table that only looks
-- like one (a hand-built { _kind = "table" }) is not one: the engine trusts
-- what these functions checked.
local made = setmetatable({}, { __mode = "k" })
local function make(kind, t)
  t._kind = kind
  made[t] = kind
  return t
end
local function kind_of(v) return made[v] end

-- "file:line" of the caller `level` levels up (for errors the engine
-- reports later, e.g. a table file that cannot be found).
local function where_of(level)
  local info = debug.getinfo(level + 1, "Sl")
  return info and info.currentline and info.currentline > 0
    and (info.short_src .. ":" .. info.currentline) or nil
end

local function at_most_args(level, what, n, max)
  if n > max then fail(level + 1, "%s takes at most %d argument%s, got %d", what, max, max == 1 and "" or "s", n) end
end

-- Option names compared for suggestions: case, '_', '-' and '.' ignored.
local function norm(s) return (s:lower():gsub("[_%-%.]", "")) end

-- Edits (insert, delete, replace, swap two neighbours) turning a into b.
local function edit_distance(a, b)
  if a == b then return 0 end
  local d = {}
  for i = 0, #a do d[i] = { [0] = i } end
  for j = 0, #b do d[0][j] = j end
  for i = 1, #a do
    for j = 1, #b do
      local cost = a:byte(i) == b:byte(j) and 0 or 1
      local v = math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
      if i > 1 and j > 1 and a:byte(i) == b:byte(j - 1) and a:byte(i - 1) == b:byte(j) then
        v = math.min(v, d[i - 2][j - 2] + 1)
      end
      d[i][j] = v
    end
  end
  return d[#a][#b]
end

-- The known name closest to `name`, if close enough to be a likely typo.
-- known: name -> true, or alias -> canonical name (the canonical is suggested).
local function suggestion(name, known)
  local n, best, best_d = norm(name), nil, math.huge
  for k, v in pairs(known) do
    if type(k) == "string" then
      local d = edit_distance(n, norm(k))
      local canon = v == true and k or v
      if d < best_d or (d == best_d and canon < best) then best, best_d = canon, d end
    end
  end
  if best and best_d <= math.max(1, #n // 4) then return best end
  return nil
end

local function known_list(known)
  local names = {}
  for k, v in pairs(known) do
    if v == true and type(k) == "string" then names[#names + 1] = k end
  end
  table.sort(names)
  return #names > 0 and table.concat(names, ", ") or "none"
end

--- check_options(level, what, opts, known [, free]): every key of the
-- options table opts must be a known option name (known: name -> true,
-- alias -> canonical name); free(key) may accept keys by pattern. A typo
-- is an error at the script's line, with "did you mean" for near misses.
local function check_options(level, what, opts, known, free)
  for k in pairs(opts) do
    if type(k) ~= "string" then
      if not known[k] then
        fail(level + 1, "%s: unexpected value at position %s (options are written name = value; known: %s)",
             what, tostring(k), known_list(known))
      end
    elseif known[k] == nil and not (free and free(k)) then
      local hint = suggestion(k, known)
      if hint then
        fail(level + 1, "%s: unknown option %q; did you mean %q?", what, k, hint)
      end
      fail(level + 1, "%s: unknown option %q (known: %s)", what, k, known_list(known))
    end
  end
end
M._check_options = check_options -- for tests

-- A list: keys 1..n only.
local function check_list(level, what, t)
  local n = #t
  for k in pairs(t) do
    if math.type(k) ~= "integer" or k < 1 or k > n then
      fail(level + 1, "%s must be a list; it has the key %s", what,
           type(k) == "string" and string.format("%q", k) or tostring(k))
    end
  end
end

local function check_integer(level, what, v, min, max)
  local iv = type(v) == "number" and math.tointeger(v) or nil
  if not iv then
    fail(level + 1, "%s must be a whole number from %d to %d, got %s", what, min, max,
         type(v) == "string" and string.format("%q", v) or tostring(v))
  end
  v = iv
  if v < min or v > max then
    fail(level + 1, "%s must be from %d to %d, got %d", what, min, max, v)
  end
  return v
end

-- Kafka topic names: 1 to 249 of [a-zA-Z0-9._-], not "." or "..".
local function check_topic(level, what, t)
  check_type(level + 1, what, t, "string")
  if #t == 0 or #t > 249 or t:find("[^%w%._%-]") or t == "." or t == ".." then
    local shown = #t > 60 and (t:sub(1, 57) .. "...") or t
    fail(level + 1, "%s %q is not a valid Kafka topic name (1 to 249 letters, digits, '.', '_', '-'; got %d characters)",
         what, shown, #t)
  end
end

-- librdkafka properties: names are text, values text, numbers or booleans.
local function check_props(level, what, props)
  check_type(level + 1, what, props, "table")
  local out = {}
  for k, v in pairs(props) do
    if type(k) ~= "string" then fail(level + 1, "%s: property names must be strings, got %s", what, type(k)) end
    local tv = type(v)
    if tv ~= "string" and tv ~= "number" and tv ~= "boolean" then
      fail(level + 1, "%s: property %s must be a string, number or boolean, got %s", what, k, tv)
    end
    out[k] = tostring(v)
  end
  return out
end

--- ls.param(name, default): the value given with `--set name=value`, else default.
-- The text is converted when the default is a number, or a boolean
-- (true/false, yes/no, on/off, 1/0, in any case); anything else is an error.
local TRUE_WORDS = { ["true"] = true, yes = true, on = true, ["1"] = true }
local FALSE_WORDS = { ["false"] = true, no = true, off = true, ["0"] = true }

function M.param(name, default, ...)
  at_most_args(2, "ls.param", 2 + select("#", ...), 2)
  check_type(2, "param name", name, "string")
  declared.params_used[name] = true
  local v = core.params[name]
  if v == nil then return default end
  if type(default) == "number" then
    -- decimal only, as the command line's own numbers: no hex, no spaces
    local n = (v:match("^[+-]?%d+%.?%d*$") or v:match("^[+-]?%.%d+$") or
               v:match("^[+-]?%d+%.?%d*[eE][+-]?%d+$") or v:match("^[+-]?%.%d+[eE][+-]?%d+$"))
              and tonumber(v)
    if not n then
      fail(2, "--set %s=%s: a number is expected (the default is %s: --set %s=%s)", name, v,
           tostring(default), name, tostring(default))
    end
    if n ~= n or n == math.huge or n == -math.huge then
      fail(2, "--set %s=%s: a finite number is expected", name, v)
    end
    return n
  end
  if type(default) == "boolean" then
    local l = v:lower()
    if TRUE_WORDS[l] then return true end
    if FALSE_WORDS[l] then return false end
    fail(2, "--set %s=%s: a boolean is expected: true/false, yes/no, on/off or 1/0 (any case)", name, v)
  end
  return v
end

--- ls.timestamp(s): ISO-8601 text (no zone = UTC) to epoch seconds, or nil.
function M.timestamp(s)
  if s == nil or s == M.null then return nil end
  return core.timestamp(s)
end

--- ls.format_timestamp(seconds): epoch seconds to "YYYY-MM-DDThh:mm:ssZ".
M.format_timestamp = core.format_timestamp

--- ls.seconds(s): "10 minutes" -> 600 (seconds; "500ms" -> 0.5), or nil. Every time
-- and duration the API takes or gives as a number is in seconds.
function M.seconds(s)
  local ms = core.duration(s)
  if not ms then return nil end
  return ms % 1000 == 0 and ms // 1000 or ms / 1000
end

--- ls.decode(json): JSON text to a Lua value using the engine's decoder.
M.decode = core.decode

local INT_MAX = 2147483647

-- schema = { column = "type" } (Spark's type names), checked; nil when absent.
local function schema_of(schema)
  if schema == nil then return nil end
  check_type(3, "schema", schema, "table")
  local types = { string = true, int = true, integer = true, bigint = true, long = true,
                  double = true, float = true, boolean = true, timestamp = true }
  local out = {}
  for col, ty in pairs(schema) do
    if type(col) ~= "string" then fail(3, "schema: column names must be strings, got %s", type(col)) end
    if type(ty) ~= "string" or not types[ty:lower()] then
      fail(3, "schema: column %s: type must be one of string, int, bigint, double, boolean, timestamp (Spark's names), got %s",
           col, type(ty) == "string" and string.format("%q", ty) or type(ty))
    end
    out[col] = ty:lower()
  end
  return out
end

--- ls.kafka_source{ topic=..., bootstrap=..., starting_offsets=..., ... }: a Kafka source.
local KAFKA_OPTIONS = {
  topic = true, topics = true, bootstrap = true, starting_offsets = true,
  max_records_per_trigger = true, maxOffsetsPerTrigger = "max_records_per_trigger",
  max_record_bytes = true, connect_timeout = true, group_id = true, kafka = true,
  schema = true, -- the source schema (engine side in progress): passed through unchanged
}
local function is_kafka_property_key(k) return k:sub(1, 6) == "kafka." and #k > 6 end

function M.kafka_source(opts, ...)
  at_most_args(2, "ls.kafka_source", 1 + select("#", ...), 1)
  check_type(2, "ls.kafka_source options", opts, "table")
  check_options(2, "ls.kafka_source", opts, KAFKA_OPTIONS, is_kafka_property_key)
  local src = { topics = {}, kafka = {} }
  local seen = {}
  local function add_topic(what, t)
    check_topic(3, what, t)
    if seen[t] then fail(3, "ls.kafka_source: topic %q is given twice", t) end
    seen[t] = true
    src.topics[#src.topics + 1] = t
  end
  if opts.topic ~= nil and opts.topics ~= nil then
    fail(2, "ls.kafka_source: give topic = \"name\" or topics = { ... }, not both")
  end
  if opts.topic ~= nil then add_topic("topic", opts.topic) end
  if opts.topics ~= nil then
    check_type(2, "topics", opts.topics, "table")
    check_list(2, "topics", opts.topics)
    for i, t in ipairs(opts.topics) do add_topic("topics[" .. i .. "]", t) end
  end
  if #src.topics == 0 then fail(2, "ls.kafka_source: give topic = \"name\" or topics = {...}") end
  src.bootstrap = opts.bootstrap or "localhost:9092"
  check_type(2, "bootstrap", src.bootstrap, "string")
  if src.bootstrap == "" then fail(2, "bootstrap must not be empty (host:port[,host:port...])") end
  src.starting_offsets = opts.starting_offsets or "earliest"
  if src.starting_offsets ~= "earliest" and src.starting_offsets ~= "latest" then
    fail(2, "starting_offsets must be \"earliest\" or \"latest\", got %q", tostring(src.starting_offsets))
  end
  if opts.max_records_per_trigger ~= nil and opts.maxOffsetsPerTrigger ~= nil then
    fail(2, "ls.kafka_source: give max_records_per_trigger or its Spark name maxOffsetsPerTrigger, not both")
  end
  src.max_records_per_trigger = check_integer(2, "max_records_per_trigger",
    opts.max_records_per_trigger or opts.maxOffsetsPerTrigger or 0, 0, math.maxinteger)
  src.max_record_bytes = check_integer(2, "max_record_bytes", opts.max_record_bytes or 1048576, 1, INT_MAX)
  src.connect_timeout_ms = duration(2, "connect_timeout", opts.connect_timeout or "10 seconds")
  if src.connect_timeout_ms <= 0 or src.connect_timeout_ms > INT_MAX then
    fail(2, "connect_timeout must be positive and at most 24 days, got %s", tostring(opts.connect_timeout))
  end
  if opts.group_id ~= nil then
    check_type(2, "group_id", opts.group_id, "string")
    if opts.group_id == "" then fail(2, "group_id must not be empty") end
  end
  src.group_id = opts.group_id  -- consumer group the positions are committed under (lag tools)
  -- librdkafka properties: kafka = { ["fetch.min.bytes"] = ... } or "kafka.<name>" keys.
  if opts.kafka ~= nil then src.kafka = check_props(2, "kafka properties", opts.kafka) end
  for k, v in pairs(opts) do
    if type(k) == "string" and is_kafka_property_key(k) then
      src.kafka[k:sub(7)] = check_props(2, "kafka properties", { [k:sub(7)] = v })[k:sub(7)]
    end
  end
  src.schema = schema_of(opts.schema)
  src.where = where_of(2)
  declared.sources[#declared.sources + 1] = src
  return make("source", src)
end

--- ls.file_source{ path=..., format=... }: a file source (Spark's file source).
local FILES_OPTIONS = {
  path = true, format = true, max_files_per_trigger = true, maxFilesPerTrigger = "max_files_per_trigger",
  max_records_per_trigger = true, polling = true, schema = true, max_record_bytes = true,
}
local FORMATS = { json = "json", ndjson = "ndjson", jsonl = "ndjson", lines = "lines", text = "lines" }

function M.file_source(opts, ...)
  at_most_args(2, "ls.file_source", 1 + select("#", ...), 1)
  check_type(2, "ls.file_source options", opts, "table")
  check_options(2, "ls.file_source", opts, FILES_OPTIONS)
  if opts.path == nil then fail(2, "ls.file_source: give path = \"dir/*.json\" (a glob pattern, or a directory)") end
  check_type(2, "path", opts.path, "string")
  if opts.path == "" or opts.path:find("\0", 1, true) then fail(2, "ls.file_source: path must be a file pattern or a directory") end
  local src = { kind = "files", path = opts.path }
  local format = opts.format
  if format == nil then
    local ext = opts.path:match("%.(%w+)$")
    format = ext and ({ json = "json", jsonl = "ndjson", ndjson = "ndjson", txt = "lines", log = "lines" })[ext:lower()]
    if not format then
      fail(2, "ls.file_source: give format = \"json\", \"ndjson\" or \"lines\" (it cannot be told from %q)", opts.path)
    end
  else
    check_type(2, "format", format, "string")
    if not FORMATS[format] then
      fail(2, "ls.file_source: format must be \"json\" (a JSON array or values one after another), \"ndjson\" (one JSON object per line) or \"lines\" (each line is {value = line}), got %q", format)
    end
    format = FORMATS[format]
  end
  src.format = format
  if opts.max_files_per_trigger ~= nil and opts.maxFilesPerTrigger ~= nil then
    fail(2, "ls.file_source: give max_files_per_trigger or its Spark name maxFilesPerTrigger, not both")
  end
  src.max_files_per_trigger = check_integer(2, "max_files_per_trigger",
    opts.max_files_per_trigger or opts.maxFilesPerTrigger or 0, 0, math.maxinteger)
  src.max_records_per_trigger = check_integer(2, "max_records_per_trigger", opts.max_records_per_trigger or 0,
    0, math.maxinteger)
  src.max_record_bytes = check_integer(2, "max_record_bytes", opts.max_record_bytes or 1048576, 1, INT_MAX)
  src.polling_ms = duration(2, "polling", opts.polling or "1 second")
  if src.polling_ms <= 0 or src.polling_ms > INT_MAX then
    fail(2, "polling must be positive and at most 24 days, got %s", tostring(opts.polling))
  end
  src.schema = schema_of(opts.schema)
  src.where = where_of(2)
  declared.sources[#declared.sources + 1] = src
  return make("source", src)
end

--- ls.json_table(path, { key = "column" }): a static table for joins.
-- The engine reads the file at start; a relative path is looked up from the
-- working directory, the script's folder and the script folder's parent.
local TABLE_OPTIONS = { key = true }

function M.json_table(path, opts, ...)
  at_most_args(2, "ls.json_table", 2 + select("#", ...), 2)
  check_type(2, "json_table path", path, "string")
  if path == "" then fail(2, "json_table path must not be empty") end
  check_type(2, "json_table options", opts, "table")
  check_options(2, "ls.json_table", opts, TABLE_OPTIONS)
  check_type(2, "json_table key", opts.key, "string")
  if opts.key == "" then fail(2, "json_table key must not be empty") end
  local t = { path = path, key = opts.key, where = where_of(2) }
  declared.tables[#declared.tables + 1] = t
  return make("table", t)
end

--- ls.window(column, size [, slide]): an event-time window for group_by.
function M.window(column, size, slide, ...)
  at_most_args(2, "ls.window", 3 + select("#", ...), 3)
  check_type(2, "window column", column, "string")
  local w = { column = column, size_ms = duration(2, "window size", size) }
  w.slide_ms = slide and duration(2, "window slide", slide) or w.size_ms
  if w.size_ms <= 0 or w.slide_ms <= 0 then fail(2, "window size and slide must be positive") end
  if w.slide_ms > w.size_ms then fail(2, "window slide (%s) cannot exceed its size (%s)", slide, size) end
  if w.size_ms // w.slide_ms > 64 then fail(2, "window size/slide must be at most 64") end
  return make("window", w)
end

--- ls.session_window(column, gap): Spark's session_window for group_by: the
-- sessions of each key, closed by `gap` without records (see README).
function M.session_window(column, gap, ...)
  at_most_args(2, "ls.session_window", 2 + select("#", ...), 2)
  check_type(2, "session_window column", column, "string")
  if column == "" then fail(2, "session_window column must not be empty") end
  if gap == nil then fail(2, "ls.session_window(column, gap): the gap is missing (e.g. \"30 minutes\")") end
  local w = { column = column, gap_ms = duration(2, "session_window gap", gap) }
  if math.type(w.gap_ms) ~= "integer" or w.gap_ms > math.maxinteger // 4 then
    fail(2, "session_window gap is out of range, got %s", tostring(gap))
  end
  if w.gap_ms <= 0 then fail(2, "session_window gap must be positive, got %s", tostring(gap)) end
  return make("session_window", w)
end

-- params: the function's own parameters (sketches), copied into the declaration;
-- default_name: the output name when none is given (else fn(column)).
local function aggregate(fn, column, name, params, default_name)
  if name ~= nil and type(name) ~= "string" then
    fail(3, "the name of %s must be a string, got %s", fn, type(name))
  end
  if column ~= nil and type(column) ~= "string" then
    fail(3, "the column of %s must be a string, got %s", fn, type(column))
  end
  local a = { fn = fn, column = column }
  for k, v in pairs(params or {}) do a[k] = v end
  a.name = name or default_name or (column and (fn .. "(" .. column .. ")") or fn)
  return make("aggregate", a)
end

--- Aggregates: ls.count([column]), ls.sum(c), ls.min(c), ls.max(c), ls.avg(c);
-- an optional last argument names the output column.
-- (not tail calls: aggregate's errors are reported at the script's line,
-- three levels up)
function M.count(column, name, ...)
  at_most_args(2, "ls.count", 2 + select("#", ...), 2)
  local a = aggregate("count", column, name)
  return a
end
for _, fn in ipairs { "sum", "min", "max", "avg" } do
  M[fn] = function(column, name, ...)
    at_most_args(2, "ls." .. fn, 2 + select("#", ...), 2)
    check_type(2, fn .. " column", column, "string")
    local a = aggregate(fn, column, name)
    return a
  end
end

-- A number as Spark names a literal of it in a column name: an integer as
-- is, a double as Java's Double.toString (0.5, 100.0, 1.0E-5, 1.0E7).
local function spark_literal(x)
  if math.type(x) == "integer" then return tostring(x) end
  if x == 0 then return 1 / x < 0 and "-0.0" or "0.0" end
  local t -- the shortest text that reads back as x, as d.ddde+-x
  for prec = 0, 16 do
    t = string.format("%." .. prec .. "e", x)
    if tonumber(t) == x then break end
  end
  local sign, first, rest, exp = t:match("^(-?)(%d)%.?(%d*)e([-+]%d+)$")
  local digits = (first .. rest):gsub("0+$", "")
  exp = tonumber(exp)
  if math.abs(x) >= 1e-3 and math.abs(x) < 1e7 then -- plain decimal
    if exp < 0 then return sign .. "0." .. string.rep("0", -exp - 1) .. digits end
    local ip = digits:sub(1, exp + 1)
    local fp = digits:sub(exp + 2)
    return sign .. ip .. string.rep("0", exp + 1 - #ip) .. "." .. (fp == "" and "0" or fp)
  end
  local r = digits:sub(2)
  return sign .. digits:sub(1, 1) .. "." .. (r == "" and "0" or r) .. "E" .. exp
end
M._spark_literal = spark_literal -- for tests

-- Spark's HLL++ precision for a relative standard deviation (HyperLogLogPlusPlusHelper).
local function hll_precision(rsd)
  return math.ceil(2.0 * math.log(1.106 / rsd) / math.log(2.0))
end

--- ls.approx_count_distinct(column [, rsd [, name]]): Spark's approx_count_distinct
-- (HyperLogLog++, relative standard deviation rsd, default 0.05).
function M.approx_count_distinct(column, rsd, name, ...)
  at_most_args(2, "ls.approx_count_distinct", 3 + select("#", ...), 3)
  check_type(2, "approx_count_distinct column", column, "string")
  if name ~= nil then check_type(2, "the name of approx_count_distinct", name, "string") end
  if rsd ~= nil then
    if type(rsd) ~= "number" then
      fail(2, "ls.approx_count_distinct: rsd (the relative standard deviation) must be a number, got %s%s",
           type(rsd), type(rsd) == "string" and string.format(
             " (to name the column: ls.approx_count_distinct(%q, nil, %q))", column, rsd) or "")
    end
    -- Spark needs precision >= 4; luastream keeps at most 2^18 registers per group
    if rsd ~= rsd or rsd <= 0 or hll_precision(rsd) < 4 or hll_precision(rsd) > 18 then
      fail(2, "ls.approx_count_distinct: rsd must be from 0.00217 to 0.391 (HyperLogLog++ with 2^18 "
           .. "down to 2^4 registers per group; Spark refuses more than 0.391), got %s", tostring(rsd))
    end
  end
  return aggregate("approx_count_distinct", column, name, { rsd = rsd or 0.05 })
end

--- ls.percentile_approx(column, p [, accuracy [, name]]): Spark's percentile_approx: the
-- approximate percentile p (in [0, 1], or a list of them: the result is then a list) with
-- relative error 1/accuracy (default 10000).
function M.percentile_approx(column, p, accuracy, name, ...)
  at_most_args(2, "ls.percentile_approx", 4 + select("#", ...), 4)
  check_type(2, "percentile_approx column", column, "string")
  if name ~= nil then check_type(2, "the name of percentile_approx", name, "string") end
  local function check_p(what, x)
    if type(x) ~= "number" or x ~= x or x < 0 or x > 1 then
      fail(3, "ls.percentile_approx: %s must be a number from 0 to 1 (0.5 is the median), got %s", what,
           type(x) == "string" and string.format("%q", x) or tostring(x))
    end
  end
  local pcts, list, shown = {}, false, nil
  if p == nil then
    fail(2, "ls.percentile_approx(%q, p): p is required: a number from 0 to 1, or a list of them", column)
  elseif type(p) == "table" and not kind_of(p) then
    check_list(2, "percentile_approx p", p)
    if #p == 0 then fail(2, "ls.percentile_approx: the list of percentages is empty") end
    local names = {}
    for i, x in ipairs(p) do
      check_p("p[" .. i .. "]", x)
      pcts[i], names[i] = x + 0.0, spark_literal(x)
    end
    list, shown = true, "array(" .. table.concat(names, ", ") .. ")"
  else
    check_p("p", p)
    pcts[1], shown = p + 0.0, spark_literal(p)
  end
  if accuracy ~= nil and type(accuracy) ~= "number" then
    fail(2, "ls.percentile_approx: accuracy must be a whole number from 1 to 2147483647, got %s%s",
         type(accuracy), type(accuracy) == "string" and string.format(
           " (to name the column: ls.percentile_approx(%q, %s, 10000, %q))", column, shown, accuracy) or "")
  end
  local acc = check_integer(2, "percentile_approx accuracy", accuracy or 10000, 1, INT_MAX)
  return aggregate("percentile_approx", column, name,
                   { percentages = pcts, pct_list = list, accuracy = acc },
                   string.format("percentile_approx(%s, %s, %d)", column, shown, acc))
end

--- Sinks.
local CONSOLE_OPTIONS = { num_rows = true, truncate = true, format = true }

function M.console_sink(opts, ...)
  at_most_args(2, "ls.console_sink", 1 + select("#", ...), 1)
  if opts == nil then opts = {} end
  check_type(2, "ls.console_sink options", opts, "table")
  check_options(2, "ls.console_sink", opts, CONSOLE_OPTIONS)
  local num_rows = 20
  if opts.num_rows ~= nil then num_rows = check_integer(2, "num_rows", opts.num_rows, 1, INT_MAX) end
  if opts.truncate ~= nil then check_type(2, "truncate", opts.truncate, "boolean") end
  if opts.format ~= nil then check_type(2, "console format", opts.format, "function") end
  return make("sink", { type = "console", num_rows = num_rows, truncate = opts.truncate ~= false,
                        format = opts.format })
end

function M.jsonl_sink(dir, ...)
  at_most_args(2, "ls.jsonl_sink", 1 + select("#", ...), 1)
  if type(dir) == "table" then
    check_options(2, "ls.jsonl_sink", dir, { dir = true })
    dir = dir.dir
  end
  check_type(2, "jsonl directory", dir, "string")
  if dir == "" then fail(2, "jsonl directory must not be empty") end
  return make("sink", { type = "jsonl", dir = dir })
end

local KAFKA_SINK_OPTIONS = { prefix = true, topic = true, bootstrap = true, kafka = true,
                             key = true, headers = true }

function M.kafka_sink(opts, ...)
  at_most_args(2, "ls.kafka_sink", 1 + select("#", ...), 1)
  check_type(2, "kafka_sink options", opts, "table")
  check_options(2, "ls.kafka_sink", opts, KAFKA_SINK_OPTIONS)
  -- topic PREFIX.<query> (prefix), or a topic of its own: a name, or a function of the row
  if (opts.prefix == nil) == (opts.topic == nil) then
    fail(2, "ls.kafka_sink: give prefix = \"...\" (topic PREFIX.<query>) or topic = \"name\" | function(row), one of them")
  end
  if opts.prefix ~= nil then
    check_type(2, "kafka_sink prefix", opts.prefix, "string")
    check_topic(2, "kafka_sink prefix", opts.prefix)
  elseif type(opts.topic) == "string" then
    check_topic(2, "kafka_sink topic", opts.topic)
  elseif type(opts.topic) ~= "function" then
    fail(2, "kafka_sink topic must be a topic name or a function(row) returning one, got %s", type(opts.topic))
  end
  if opts.key ~= nil then check_type(2, "kafka_sink key (a column of the row)", opts.key, "string") end
  local headers
  if opts.headers ~= nil then
    check_type(2, "kafka_sink headers", opts.headers, "table")
    headers = {}
    for k, v in pairs(opts.headers) do
      if type(k) ~= "string" or (type(v) ~= "string" and type(v) ~= "number") then
        fail(2, "kafka_sink headers must be name = \"value\" pairs")
      end
      headers[k] = tostring(v)
    end
  end
  if opts.bootstrap ~= nil then
    check_type(2, "kafka_sink bootstrap", opts.bootstrap, "string")
    if opts.bootstrap == "" then fail(2, "kafka_sink bootstrap must not be empty") end
  end
  local kafka = {}
  if opts.kafka ~= nil then kafka = check_props(2, "kafka_sink kafka properties", opts.kafka) end
  return make("sink", { type = "kafka", prefix = opts.prefix, topic = opts.topic, key = opts.key,
                        headers = headers, bootstrap = opts.bootstrap, kafka = kafka })
end

--- ls.output(spec [, opts]): a sink from text: "console", "jsonl:DIR", "kafka:PREFIX".
-- opts: the console's options (num_rows, truncate, format), or a Kafka
-- sink's (bootstrap, kafka); a jsonl sink takes none.
function M.output(spec, opts, ...)
  at_most_args(2, "ls.output", 2 + select("#", ...), 2)
  check_type(2, "output", spec, "string")
  if opts ~= nil then check_type(2, "output options", opts, "table") end
  if spec == "console" then return M.console_sink(opts) end -- a tail call: errors stay at the caller's line
  local dir = spec:match("^jsonl:(.+)$")
  if dir then
    if opts ~= nil then check_options(2, "ls.output " .. spec, opts, {}) end
    return M.jsonl_sink(dir)
  end
  local prefix = spec:match("^kafka:(.+)$")
  if prefix then
    opts = opts or {}
    check_options(2, "ls.output " .. spec, opts, { bootstrap = true, kafka = true })
    return M.kafka_sink { prefix = prefix, bootstrap = opts.bootstrap, kafka = opts.kafka }
  end
  fail(2, "output %q: expected console, jsonl:DIR or kafka:PREFIX", spec)
end

--- ls.checkpoint(dir): keep offsets, state snapshots and commits in dir
-- (--checkpoint DIR overrides it).
function M.checkpoint(dir, ...)
  at_most_args(2, "ls.checkpoint", 1 + select("#", ...), 1)
  check_type(2, "checkpoint directory", dir, "string")
  if dir == "" then fail(2, "checkpoint directory must not be empty") end
  if declared.checkpoint ~= nil and declared.checkpoint ~= dir then
    fail(2, "ls.checkpoint is called twice (%q, then %q)", declared.checkpoint, dir)
  end
  declared.checkpoint = dir
end

--- ls.app(id): this script runs as a member of the job `id` (issue 12):
-- every process started with the same app id shares the input partitions
-- through the consumer group `id` (--app ID overrides it).
function M.app(id, ...)
  at_most_args(2, "ls.app", 1 + select("#", ...), 1)
  check_type(2, "app id", id, "string")
  if #id == 0 or #id > 200 then
    fail(2, "ls.app %q: an app id has 1 to 200 characters, got %d (it names the consumer group, the transactional ids and the job's topics)", id, #id)
  end
  local bad = id:find("[^%w%._%-]")
  if bad then
    fail(2, "ls.app %q: character %d (%q) is not one of a-z A-Z 0-9 . _ - (it names the consumer group, the transactional ids and the job's topics)", id, bad, id:sub(bad, bad))
  end
  if id == "." or id == ".." then fail(2, "ls.app %q is not allowed as an app id (Kafka refuses it as a topic name)", id) end
  if declared.app ~= nil and declared.app ~= id then
    fail(2, "ls.app is called twice (%q, then %q)", declared.app, id)
  end
  declared.app = id
end

--- ls.dead_letter(sink): where bad records go (default: beside the first query's sink).
function M.dead_letter(sink, ...)
  at_most_args(2, "ls.dead_letter", 1 + select("#", ...), 1)
  if kind_of(sink) ~= "sink" then fail(2, "ls.dead_letter expects a sink (ls.output(...))") end
  if declared.dead_letter ~= nil and declared.dead_letter ~= sink then
    fail(2, "ls.dead_letter is called twice")
  end
  declared.dead_letter = sink
end

local QUERY_OPTIONS = {
  from = true, map = true, join = true, watermark = true, event_time = true, group_by = true,
  aggregate = true, output_mode = true, trigger = true, sink = true, partitions = true,
  max_state_rows = true, order_by = true, limit = true, where = true,
}
local WHERE_OPS = { ["="] = true, ["=="] = true, ["~="] = true, ["!="] = true, ["<>"] = true,
                    ["<"] = true, ["<="] = true, [">"] = true, [">="] = true, ["in"] = true,
                    ["is null"] = true, ["is not null"] = true }

-- where = { column = value | { op, operand } }: predicates on the input record, in C.
local function check_where(name, w)
  if type(w) ~= "table" or kind_of(w) then
    fail(3, "query %s: where must be a table of column = value or column = { \"op\", value }", name)
  end
  local out = {}
  local cols = {}
  for col in pairs(w) do
    if type(col) ~= "string" then fail(3, "query %s: where: keys are column names, got %s", name, type(col)) end
    cols[#cols + 1] = col
  end
  table.sort(cols)
  local function scalar(v) return type(v) == "string" or type(v) == "number" or type(v) == "boolean" end
  for _, col in ipairs(cols) do
    local v = w[col]
    local p = { column = col }
    if scalar(v) then
      p.op, p.values = "=", { v }
    elseif type(v) == "table" and not kind_of(v) then
      local op = v[1]
      if type(op) ~= "string" or not WHERE_OPS[op] then
        local hint = type(op) == "string" and suggestion(op, WHERE_OPS) or nil
        fail(3, "query %s: where %s: the operator must be one of = ~= < <= > >= in, is null, is not null, got %s%s",
             name, col, type(op) == "string" and string.format("%q", op) or type(op),
             hint and string.format(" (did you mean %q?)", hint) or "")
      end
      p.op = op
      if op == "is null" or op == "is not null" then
        if v[2] ~= nil then fail(3, "query %s: where %s: %q takes no value", name, col, op) end
        p.values = {}
      elseif op == "in" then
        if type(v[2]) ~= "table" or #v[2] == 0 then fail(3, "query %s: where %s: \"in\" takes a list of values", name, col) end
        for i, x in ipairs(v[2]) do
          if not scalar(x) then fail(3, "query %s: where %s: value %d must be a string, number or boolean", name, col, i) end
        end
        p.values = { table.unpack(v[2]) }
      else
        if not scalar(v[2]) then fail(3, "query %s: where %s: %q needs a string, number or boolean", name, col, op) end
        p.values = { v[2] }
      end
      for k in pairs(v) do
        if k ~= 1 and k ~= 2 then fail(3, "query %s: where %s: write { \"op\", value }", name, col) end
      end
    else
      fail(3, "query %s: where %s must be a value or { \"op\", value }, got %s", name, col, type(v))
    end
    out[#out + 1] = p
  end
  return out
end
local JOIN_OPTIONS = { with = true, on = true, how = true, type = "how", columns = true }
-- { "column", "60 minutes" } or { "column", delay = "60 minutes" }; `unit` is
-- kept for the engine's event-time units (in progress) and passed through.
local WATERMARK_OPTIONS = { [1] = true, [2] = true, delay = true, unit = true }

local function check_join(j, i)
  local what = i and ("join[" .. i .. "]") or "join"
  check_type(3, what, j, "table")
  check_options(3, what, j, JOIN_OPTIONS)
  if kind_of(j.with) ~= "table" then fail(3, "join.with must be a table from ls.json_table") end
  local on = j.on
  if type(on) == "string" then on = { on, on } end
  if type(on) ~= "table" or type(on[1]) ~= "string" or type(on[2] or on[1]) ~= "string" then
    fail(3, "join.on must be \"column\" or { stream_column, table_column }")
  end
  check_list(3, "join.on", on)
  if #on > 2 then fail(3, "join.on must be \"column\" or { stream_column, table_column }") end
  if (on[2] or on[1]) ~= j.with.key then
    fail(3, "join.on table column %q must be the table's key %q", on[2] or on[1], j.with.key)
  end
  if j.how ~= nil and j.type ~= nil then fail(3, "%s: give how or type, not both", what) end
  local how = j.how or j.type or "inner"
  if how == "left_outer" or how == "leftouter" then how = "left" end
  if how ~= "inner" and how ~= "left" then fail(3, "join type must be \"inner\" or \"left\", got %q", tostring(how)) end
  if j.columns ~= nil then
    check_type(3, "join.columns", j.columns, "table")
    check_list(3, "join.columns", j.columns)
    for k, c in ipairs(j.columns) do check_type(3, "join.columns[" .. k .. "]", c, "string") end
  end
  return { table = j.with, left = on[1], how = how, columns = j.columns }
end

-- "once", "available-now" (or Spark's availableNow), or an interval.
local function check_trigger(level, what, t)
  check_type(level + 1, what, t, "string")
  if t == "once" or t == "available-now" or t == "availableNow" or t == "available_now" then return end
  if not core.duration(t) then
    fail(level + 1, "%s: cannot read %q (try \"2 seconds\", \"500ms\", \"once\" or \"available-now\")", what, t)
  end
end

--- ls.query "name" { ... }: declares a streaming query.
function M.query(name, ...)
  at_most_args(2, "ls.query", 1 + select("#", ...), 1)
  check_type(2, "query name", name, "string")
  if not name:match("^[%w_.%-]+$") then fail(2, "query name %q: use letters, digits, _ . -", name) end
  for _, q in ipairs(declared.queries) do
    if q.name == name then fail(2, "query %q is declared twice", name) end
  end
  -- `ls.query "q"` alone, without its { ... }, would declare nothing: the
  -- engine reports names left here (see ls_lua_api.c).
  local pending = { name = name, where = where_of(2) }
  declared.unfinished[#declared.unfinished + 1] = pending
  return function(spec, ...)
    at_most_args(2, "ls.query \"" .. name .. "\"", 1 + select("#", ...), 1)
    check_type(2, "query " .. name, spec, "table")
    for i, p in ipairs(declared.unfinished) do
      if p == pending then table.remove(declared.unfinished, i) break end
    end
    for _, q in ipairs(declared.queries) do
      if q.name == name then fail(2, "query %q is declared twice", name) end
    end
    check_options(2, "query " .. name, spec, QUERY_OPTIONS)
    local q = { name = name }
    if kind_of(spec.from) ~= "source" then fail(2, "query %s: from must be a source (ls.kafka_source{...} or ls.file_source{...})", name) end
    q.from = spec.from
    if spec.map ~= nil then check_type(2, "query " .. name .. ": map", spec.map, "function") end
    q.map = spec.map
    q.joins = {}
    if spec.join ~= nil then
      check_type(2, "query " .. name .. ": join", spec.join, "table")
      if spec.join[1] ~= nil then
        check_list(2, "query " .. name .. ": join", spec.join)
        for i, j in ipairs(spec.join) do q.joins[#q.joins + 1] = check_join(j, i) end
      else
        q.joins[1] = check_join(spec.join)
      end
    end
    local function time_unit(u)
      if u == nil then return nil end
      if u ~= "s" and u ~= "ms" then
        fail(3, "query %s: unit must be \"s\" (epoch seconds, the default, as Spark casts numbers) or \"ms\" (epoch milliseconds), got %s",
             name, type(u) == "string" and string.format("%q", u) or type(u))
      end
      return u
    end
    if spec.watermark ~= nil then
      local wm = spec.watermark
      if type(wm) ~= "table" or type(wm[1]) ~= "string" then
        fail(2, "query %s: watermark = { \"column\", \"60 minutes\" }", name)
      end
      check_options(2, "query " .. name .. ": watermark", wm, WATERMARK_OPTIONS)
      if wm[2] ~= nil and wm.delay ~= nil then fail(2, "query %s: watermark: give the delay once", name) end
      q.event_time = wm[1]
      q.watermark_ms = duration(2, "watermark delay", wm[2] or wm.delay)
      if q.watermark_ms < 0 then fail(2, "query %s: watermark delay must not be negative", name) end
      q.watermark = wm -- as given
      q.event_time_unit = time_unit(wm.unit)
    end
    if spec.event_time ~= nil then
      local et = spec.event_time
      if type(et) == "table" then
        if type(et[1]) ~= "string" then fail(2, "query %s: event_time = \"column\" or { \"column\", unit = \"ms\" }", name) end
        check_options(2, "query " .. name .. ": event_time", et, { [1] = true, unit = true })
        q.event_time_unit = time_unit(et.unit) or q.event_time_unit
        et = et[1]
      end
      check_type(2, "event_time", et, "string")
      if q.event_time and q.event_time ~= et then
        fail(2, "query %s: event_time %q and the watermark's column %q differ: give one", name,
             et, q.event_time)
      end
      q.event_time = et
    end
    q.group_by = {}
    if spec.group_by ~= nil and (type(spec.group_by) ~= "table" or kind_of(spec.group_by)) then
      fail(2, "query %s: group_by must be a list, e.g. { \"column\" } or { ls.window(...), \"column\" }", name)
    end
    if spec.group_by ~= nil then check_list(2, "query " .. name .. ": group_by", spec.group_by) end
    for i, g in ipairs(spec.group_by or {}) do
      if type(g) == "string" and g ~= "" then
        q.group_by[i] = { column = g }
      elseif kind_of(g) == "window" or kind_of(g) == "session_window" then
        if q.window_entry then
          fail(2, "query %s: group_by has two windows (entries %d and %d): at most one ls.window or ls.session_window",
               name, q.window_entry, i)
        end
        q.window_entry = i
        q.group_by[i] = g
      else
        fail(2, "query %s: group_by entry %d must be a column name, ls.window(...) or ls.session_window(...)", name, i)
      end
    end
    q.aggregates = {}
    if spec.aggregate ~= nil and (type(spec.aggregate) ~= "table" or kind_of(spec.aggregate)) then
      fail(2, "query %s: aggregate must be a list, e.g. { ls.count() }", name)
    end
    if spec.aggregate ~= nil and next(spec.aggregate) == nil then
      fail(2, "query %s: aggregate is empty: name at least one (ls.count(), ls.sum(\"x\"), ...) or leave it out", name)
    end
    local seen = {}
    for i, a in ipairs(spec.aggregate or {}) do
      if kind_of(a) ~= "aggregate" then fail(2, "query %s: aggregate entry %d must be ls.count(), ls.sum(...), ...", name, i) end
      q.aggregates[#q.aggregates + 1] = a
    end
    local nlist = #(spec.aggregate or {})
    for k, a in pairs(spec.aggregate or {}) do
      if type(k) == "string" then
        if kind_of(a) ~= "aggregate" then fail(2, "query %s: aggregate %s must be ls.count(), ls.sum(...), ...", name, k) end
        seen[#seen + 1] = k
      elseif math.type(k) ~= "integer" or k < 1 or k > nlist then
        fail(2, "query %s: aggregate has the key %s: use a list, or names (name = ls.sum(\"x\"))", name, tostring(k))
      end
    end
    table.sort(seen)
    for _, k in ipairs(seen) do
      local a = spec.aggregate[k]
      local named = {}
      for f, v in pairs(a) do named[f] = v end -- a sketch's parameters come along
      named.name = k
      q.aggregates[#q.aggregates + 1] = make("aggregate", named)
    end
    local columns = {}
    for _, g in ipairs(q.group_by) do
      local c = (kind_of(g) == "window" or kind_of(g) == "session_window") and g._kind or g.column
      if columns[c] then fail(2, "query %s: column %q appears twice in group_by", name, c) end
      columns[c] = true
    end
    for _, a in ipairs(q.aggregates) do
      if columns[a.name] then fail(2, "query %s: output column %q is defined twice", name, a.name) end
      columns[a.name] = true
    end
    -- no group_by and no aggregate: a per-record query (filter, transform, route)
    q.per_record = #q.group_by == 0 and #q.aggregates == 0
    if spec.where ~= nil then q.filters = check_where(name, spec.where) end
    q.output_mode = spec.output_mode or (q.per_record and "append" or "complete")
    if q.output_mode ~= "complete" and q.output_mode ~= "update" and q.output_mode ~= "append" then
      fail(2, "query %s: output_mode must be complete, update or append, got %q", name, tostring(q.output_mode))
    end
    -- order_by = "count" | { "count", "window", desc = true } | { { "count", desc = true }, "window" }
    if spec.order_by ~= nil then
      local ob = spec.order_by
      if type(ob) == "string" then ob = { ob } end
      if type(ob) ~= "table" or kind_of(ob) then
        fail(2, "query %s: order_by must be a column name or a list, e.g. { \"count\", desc = true }", name)
      end
      local known = { desc = true }
      for i = 1, #ob do known[i] = true end
      check_options(2, "query " .. name .. ": order_by", ob, known)
      if ob.desc ~= nil then check_type(2, "order_by desc", ob.desc, "boolean") end
      q.order_by = {}
      for i, e in ipairs(ob) do
        local col, desc = e, ob.desc or false
        if type(e) == "table" and not kind_of(e) then
          check_options(2, "query " .. name .. ": order_by entry " .. i, e, { [1] = true, desc = true })
          col = e[1]
          if e.desc ~= nil then check_type(2, "order_by desc", e.desc, "boolean"); desc = e.desc end
        end
        if type(col) ~= "string" then
          fail(2, "query %s: order_by entry %d must be a column name or { \"column\", desc = true }", name, i)
        end
        if not columns[col] then
          local names = {}
          for c in pairs(columns) do names[c] = true end
          local hint = suggestion(col, names)
          fail(2, "query %s: order_by column %q is not an output column%s", name, col,
               hint and string.format(" (did you mean %q?)", hint) or "")
        end
        q.order_by[i] = { column = col, desc = desc }
      end
      if #q.order_by == 0 then fail(2, "query %s: order_by names no column", name) end
    end
    if spec.limit ~= nil then q.limit = check_integer(2, "limit", spec.limit, 1, math.maxinteger) end
    -- The rules that tie these together (a per-record query's mode, a session window's mode,
    -- columns and watermark, order_by and limit in complete mode, a sink's key and topic
    -- function) are checked once, by the compiler in C (ls_query_ready), which reports them
    -- at this query's line: a declaration built by hand cannot skip them.
    q.window_entry = nil
    q.trigger = spec.trigger
    if q.trigger ~= nil then check_trigger(2, "trigger", q.trigger) end
    q.sink = spec.sink or M.console_sink()
    if kind_of(q.sink) ~= "sink" then fail(2, "query %s: sink must come from ls.output/ls.console/ls.jsonl/ls.kafka_sink", name) end
    if q.sink.type == "kafka" and q.sink.prefix and #q.sink.prefix + 1 + #name > 249 then
      fail(2, "query %s: the output topic %s.%s would be longer than Kafka's 249 characters", name,
           q.sink.prefix, name)
    end
    if spec.partitions ~= nil then q.partitions = check_integer(2, "partitions", spec.partitions, 1, 65536) end
    if spec.max_state_rows ~= nil then
      q.max_state_rows = check_integer(2, "max_state_rows", spec.max_state_rows, 1, math.maxinteger)
    end
    q.source_line = debug.getinfo(2, "Sl")
    q.where = q.source_line and (q.source_line.short_src .. ":" .. q.source_line.currentline) or name
    declared.queries[#declared.queries + 1] = q
    return make("query", q)
  end
end

--- Deprecated names, kept for this release (each use is reported once, at the
-- script's line, when the script has loaded): the sources and sinks are named
-- ls.<kind>_source and ls.<kind>_sink, and numbers are seconds everywhere.
declared.warnings = {}
local warned = {}
local function deprecated(old, new, fn, why)
  return function(...)
    if not warned[old] then
      warned[old] = true
      local info = debug.getinfo(2, "Sl")
      local where = info and info.currentline and info.currentline > 0
        and (info.short_src .. ":" .. info.currentline .. ": ") or ""
      declared.warnings[#declared.warnings + 1] = string.format(
        "%s%s is deprecated: use %s%s (the old name goes in the next release)", where, old, new,
        why or "")
    end
    return fn(...)
  end
end
M.kafka = deprecated("ls.kafka", "ls.kafka_source", M.kafka_source)
M.files = deprecated("ls.files", "ls.file_source", M.file_source)
M.console = deprecated("ls.console", "ls.console_sink", M.console_sink)
M.jsonl = deprecated("ls.jsonl", "ls.jsonl_sink", M.jsonl_sink)
M.duration = deprecated("ls.duration", "ls.seconds", core.duration,
  ", which gives seconds as every number of the API does (ls.duration gives milliseconds)")

return M
