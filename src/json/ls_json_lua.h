/* ls_json_lua.h - decoding a JSON message straight into a Lua table.
 *
 * This is the record decoder of the engine: yajl parses (and validates
 * UTF-8), the callbacks build the Lua table in place, with no intermediate
 * tree.  An optional projection keeps only the named top-level fields, so
 * a query that reads three fields does not pay for fourteen. */
#ifndef LS_JSON_LUA_H
#define LS_JSON_LUA_H

#include <lua.h>
#include <stddef.h>

#include "ls_fieldset.h"
#include "ls_util.h"


/* Decodes p[0..n) which must hold one JSON object. On success pushes the
 * table and returns 0; otherwise pushes nothing, fills err and returns -1.
 * JSON null becomes a NULL light userdata (the same value as cjson.null). */
int ls_json_decode(lua_State *L, const char *p, size_t n,
                   const ls_fieldset *proj, ls_err *err);

/* Decodes any JSON value (object, array or scalar) the same way. */
int ls_json_decode_any(lua_State *L, const char *p, size_t n, ls_err *err);

#endif
