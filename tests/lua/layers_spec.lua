-- layers_spec.lua - the C core's structure (issue 11): no circle between modules in the
-- include graph. A module is a file's stem; its private "_impl.h" counts as the module, and
-- two modules are one module spread over two files: ls_engine with ls_reload (the reload
-- swaps the engine's plan) and ls_source with ls_source_files (Kafka and files behind one
-- source). Run from the repository's root, as tests/lua/run.sh does.

local SAME = { ls_reload = "ls_engine", ls_source_files = "ls_source" }

local function module_of(stem)
  stem = stem:gsub("_impl$", "")
  return SAME[stem] or stem
end

local function include_graph()
  local graph, files = {}, {}
  local p = assert(io.popen("ls src/*/*.c src/*/*.h src/*.c 2>/dev/null"))
  for path in p:lines() do files[#files + 1] = path end
  p:close()
  assert(#files > 20, "no C sources found: run from the repository's root")
  for _, path in ipairs(files) do
    local from = module_of(path:match("([%w_]+)%.[ch]$"))
    graph[from] = graph[from] or {}
    for line in io.lines(path) do
      local inc = line:match('^#include "([%w_]+)%.h"')
      if inc then
        local to = module_of(inc)
        if to ~= from then graph[from][to] = true end
      end
    end
  end
  return graph
end

-- A circle, as a list of modules, or nil (depth-first search, colours white/grey/black).
local function find_circle(graph)
  local colour, stack = {}, {}
  local function visit(m)
    colour[m] = "grey"
    stack[#stack + 1] = m
    for to in pairs(graph[m] or {}) do
      if colour[to] == "grey" then
        local circle, on = {}, false
        for _, s in ipairs(stack) do
          if s == to then on = true end
          if on then circle[#circle + 1] = s end
        end
        circle[#circle + 1] = to
        return circle
      elseif not colour[to] then
        local c = visit(to)
        if c then return c end
      end
    end
    stack[#stack] = nil
    colour[m] = "black"
    return nil
  end
  local names = {}
  for m in pairs(graph) do names[#names + 1] = m end
  table.sort(names)
  for _, m in ipairs(names) do
    if not colour[m] then
      local c = visit(m)
      if c then return c end
    end
  end
  return nil
end

describe("the C core's modules", function()
  it("include each other without a circle", function()
    local circle = find_circle(include_graph())
    assert(circle == nil, "a circle of includes: " .. table.concat(circle or {}, " -> "))
  end)

  it("finds a circle when there is one (the check itself)", function()
    local g = { a = { b = true }, b = { c = true }, c = { a = true } }
    local c = find_circle(g)
    assert.is_not_nil(c)
    assert.are.equal(c[1], c[#c])
  end)
end)
