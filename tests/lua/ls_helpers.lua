-- ls_helpers.lua - shared helpers for the busted specs in tests/lua.
--
-- lua/luastream.lua keeps every declaration in a module-level table, so
-- each test loads a fresh copy with fresh(): it drops the cached
-- "luastream" module (keeping the C module "luastream.core") and fills
-- luastream.core.params, the table ls.param reads (the C engine fills it
-- from --set NAME=VALUE; values are always strings there).

local core = require "luastream.core"
local luassert = require "luassert"

local H = {}

H.core = core

--- A freshly required luastream module, with core.params set to `params`.
function H.fresh(params)
  package.loaded["luastream"] = nil
  for k in pairs(core.params) do core.params[k] = nil end
  for k, v in pairs(params or {}) do core.params[k] = v end
  return require "luastream"
end

--- The error message raised by fn(...); fails the test if fn succeeds.
function H.error_of(fn, ...)
  local ok, err = pcall(fn, ...)
  luassert.is_false(ok, "expected an error, but the call succeeded")
  return tostring(err)
end

--- True if `s` contains `sub` (plain text, no patterns).
function H.contains(s, sub)
  return type(s) == "string" and s:find(sub, 1, true) ~= nil
end

--- Writes `text` to a new temporary file and returns its path.
function H.write_temp(text)
  local path = os.tmpname()
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
  return path
end

--- The 1-based number of the first line of `text` containing `marker`.
function H.line_of(text, marker)
  local n = 0
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    n = n + 1
    if line:find(marker, 1, true) then return n end
  end
  error("marker " .. marker .. " not found", 2)
end

--- Runs a script (Lua source text) saved to a temporary file, the way the
-- engine does (loadfile + pcall). Returns ok, err_or_nil, path; the file
-- is removed afterwards.
function H.run_script(text)
  local path = H.write_temp(text)
  local chunk, lerr = loadfile(path)
  if not chunk then
    os.remove(path)
    error("cannot load test script: " .. tostring(lerr), 2)
  end
  local ok, err = pcall(chunk)
  os.remove(path)
  return ok, err, path
end

--- Number of keys in a table (any kind of key).
function H.nkeys(t)
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  return n
end

return H
