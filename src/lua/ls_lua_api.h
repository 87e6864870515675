/* ls_lua_api.h - the C side of the script API.
 *
 * `luastream.core` is the small C module behind lua/luastream.lua:
 * timestamp parsing, durations, the JSON decoder and the --set params.
 * ls_lua_compile turns what a script declared into a plan (ls_plan.h): the
 * objects the engine runs, built without knowing the engine. */
#ifndef LS_LUA_API_H
#define LS_LUA_API_H

#include <lua.h>

#include "ls_plan.h"

/* The loader of module luastream.core (also a shared object for tests). */
int luaopen_luastream_core(lua_State *L);

/* Opens the standard libraries, makes `require "luastream"` find lua/
 * (LUASTREAM_LUA_PATH, else beside the executable), preloads the core and
 * stores the --set params. */
/* What a script's Lua state is set up with. */
typedef struct ls_lua_env {
    const char *script;          /* the script (the sandbox lets it read beside it) */
    char *const *set_names;      /* --set NAME=VALUE, read with ls.param */
    char *const *set_values;
    size_t nset;
    int unsafe_lua;              /* no sandbox */
} ls_lua_env;

void ls_lua_setup(lua_State *L, const ls_lua_env *env);

/* Runs the script file. -1 + err ("file:line: message") on failure. */
int ls_lua_run_script(lua_State *L, const char *path, ls_err *err);
/* The same with print and io.write silenced while it loads (a second load
 * of a script whose output was shown once: workers, a reload's check). */
int ls_lua_run_script_muted(lua_State *L, const char *path, ls_err *err);

/* Pushes the script's declarations (require("luastream")._declared) and
 * returns 1, or pushes nothing and returns 0 when the script declared none. */
int ls_lua_push_declared(lua_State *L);

/* Builds sources, tables, queries and sinks from the declarations. */
int ls_lua_compile(ls_plan *plan, const ls_plan_opts *opts, ls_err *err);

#endif
