/* ls_sandbox.c - the script sandbox (see ls_sandbox.h): a Lua chunk that
 * wraps or removes the dangerous functions, and a C check that a path
 * resolves (symbolic links followed) under a readable folder. */
#include "ls_sandbox.h"

#include <lauxlib.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ls_util.h"

/* check(path) -> true, or nil and why. The readable folders are the
 * closure's upvalues (real paths). A path that does not resolve (no such
 * file) passes: opening it fails on its own. */
static int check_readable(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    char real[PATH_MAX];
    if (!realpath(path, real)) {
        lua_pushboolean(L, 1);
        return 1;
    }
    for (int i = 1;; i++) {
        const char *root = lua_tostring(L, lua_upvalueindex(i));
        if (!root) break;
        size_t n = strlen(root);
        if (strcmp(root, "/") == 0 ||
            (strncmp(real, root, n) == 0 && (real[n] == '/' || real[n] == '\0'))) {
            lua_pushboolean(L, 1);
            return 1;
        }
    }
    lua_pushnil(L);
    lua_pushfstring(L, "%s is outside the script's folder and the working directory: the "
                    "sandbox does not let scripts read it (--unsafe-lua lifts it)", real);
    return 2;
}

static const char sandbox_lua[] =
    "local check, script_dir = ...\n"
    "pcall(require, 'cjson'); pcall(require, 'cjson.safe')\n"
    "local open, lines, input, output = io.open, io.lines, io.input, io.output\n"
    "local load_, loadfile_, searchpath = load, loadfile, package.searchpath\n"
    "local error, type, tostring, format = error, type, tostring, string.format\n"
    "local LIFT = '(sandbox; --unsafe-lua lifts it)'\n"
    "local function refused(name)\n"
    "  return function() error(name .. ' is not allowed in a script ' .. LIFT, 2) end\n"
    "end\n"
    "local function readable(path, what)\n"
    "  if type(path) ~= 'string' then return end\n"
    "  local ok, why = check(path)\n"
    "  if not ok then error(what .. ': ' .. why, 3) end\n"
    "end\n"
    "io.open = function(path, mode)\n"
    "  if mode ~= nil and mode ~= 'r' and mode ~= 'rb' then\n"
    "    error(format('io.open(%q, %q): scripts may only read files (mode \"r\") %s',\n"
    "                 tostring(path), tostring(mode), LIFT), 2)\n"
    "  end\n"
    "  readable(path, 'io.open')\n"
    "  return open(path, mode)\n"
    "end\n"
    "io.lines = function(path, ...)\n"
    "  readable(path, 'io.lines')\n"
    "  return lines(path, ...)\n"
    "end\n"
    "io.input = function(f)\n"
    "  readable(f, 'io.input')\n"
    "  return input(f)\n"
    "end\n"
    "io.output = function(f)\n"
    "  if type(f) == 'string' then\n"
    "    error(format('io.output(%q): scripts may not write files %s', f, LIFT), 2)\n"
    "  end\n"
    "  return output(f)\n"
    "end\n"
    "io.popen = refused('io.popen'); io.tmpfile = refused('io.tmpfile')\n"
    "os.execute = refused('os.execute'); os.exit = refused('os.exit')\n"
    "os.remove = refused('os.remove'); os.rename = refused('os.rename')\n"
    "os.tmpname = refused('os.tmpname'); os.setlocale = refused('os.setlocale')\n"
    "load = function(chunk, name, mode, env)\n"
    "  if mode ~= nil and mode ~= 't' then\n"
    "    error('load: scripts may load text chunks only (mode \"t\") ' .. LIFT, 2)\n"
    "  end\n"
    "  return load_(chunk, name, 't', env)\n"
    "end\n"
    "loadfile = function(path, mode, env)\n"
    "  readable(path, 'loadfile')\n"
    "  return loadfile_(path, 't', env)\n"
    "end\n"
    "dofile = function(path)\n"
    "  readable(path, 'dofile')\n"
    "  local f, err = loadfile_(path, 't')\n"
    "  if not f then error(err, 2) end\n"
    "  return f()\n"
    "end\n"
    "debug = { traceback = debug.traceback, getinfo = debug.getinfo }\n"
    "package.loaded.debug = debug\n"
    /* Lua modules: from the path fixed now and the script's folder, as text;
     * no native modules. */
    "local fixed = script_dir .. '/?.lua;' .. script_dir .. '/?/init.lua;' .. package.path\n"
    "package.searchers[2] = function(name)\n"
    "  local file, err = searchpath(name, fixed)\n"
    "  if not file then return '\\n\\t' .. tostring(err):gsub('^\\n\\t', '') end\n"
    "  local f, lerr = loadfile_(file, 't')\n"
    "  if not f then error(format('error loading module %q from file %q:\\n\\t%s', name, file, lerr), 2) end\n"
    "  return f, file\n"
    "end\n"
    "package.searchers[4] = nil; package.searchers[3] = nil\n"
    "package.loadlib = nil; package.cpath = ''\n";

void ls_sandbox_apply(lua_State *L, const char *script)
{
    char dir[PATH_MAX] = ".", cwd[PATH_MAX] = "";
    if (script) {
        char *copy = ls_xstrdup(script);
        if (!realpath(dirname(copy), dir)) snprintf(dir, sizeof dir, ".");
        free(copy);
    }
    if (!getcwd(cwd, sizeof cwd)) cwd[0] = '\0';
    int top = lua_gettop(L);
    if (luaL_loadbuffer(L, sandbox_lua, sizeof sandbox_lua - 1, "=sandbox") != LUA_OK) {
        /* a bug in the chunk above: refuse to run scripts unsandboxed */
        ls_log("internal error: the sandbox does not load: %s", lua_tostring(L, -1));
        abort();
    }
    lua_pushstring(L, dir);
    if (cwd[0]) lua_pushstring(L, cwd);
    else lua_pushnil(L);
    lua_pushcclosure(L, check_readable, 2);
    lua_pushstring(L, dir);
    if (lua_pcall(L, 2, 0, 0) != LUA_OK) {
        ls_log("internal error: the sandbox does not apply: %s", lua_tostring(L, -1));
        abort();
    }
    lua_settop(L, top);
}
