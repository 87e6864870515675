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

#include "ls_util.h"

#define LS_JSON_MAX_DEPTH 128

/* A set of top-level field names to keep (NULL = keep everything). */
typedef struct ls_fieldset {
    size_t n;
    char **names;
    size_t *lens;
} ls_fieldset;

ls_fieldset *ls_fieldset_new(void);
/* Adds name (once) and returns its index. */
int ls_fieldset_add(ls_fieldset *fs, const char *name);
/* Index of name, or -1. */
int ls_fieldset_index(const ls_fieldset *fs, const char *name, size_t len);
int ls_fieldset_has(const ls_fieldset *fs, const char *name, size_t len);
void ls_fieldset_free(ls_fieldset *fs);

/* Decodes p[0..n) which must hold one JSON object. On success pushes the
 * table and returns 0; otherwise pushes nothing, fills err and returns -1.
 * JSON null becomes a NULL light userdata (the same value as cjson.null). */
int ls_json_decode(lua_State *L, const char *p, size_t n,
                   const ls_fieldset *proj, char *err);

/* Decodes any JSON value (object, array or scalar) the same way. */
int ls_json_decode_any(lua_State *L, const char *p, size_t n, char *err);

#endif
