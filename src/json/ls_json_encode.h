/* ls_json_encode.h - a Lua value as JSON: the rows a per-record query's map
 * returns, written to its sink.
 *
 * A table with only the keys 1..n is an array, any other table an object
 * whose keys are written sorted (Lua tables have no order; sorted keys make
 * the same row the same bytes in every run). Integers and floats are
 * written as the engine writes numbers (a float as the shortest text that
 * reads back to it, with .0 when integral; NaN and the infinities as the
 * strings "NaN", "Infinity", "-Infinity"), ls.null as null. Functions,
 * userdata, threads, non-string keys of an object, invalid UTF-8 and
 * nesting deeper than LS_JSON_MAX_DEPTH are errors naming what was wrong. */
#ifndef LS_JSON_ENCODE_H
#define LS_JSON_ENCODE_H

#include <lua.h>

#include "ls_util.h"

/* Appends the JSON text of the value at idx to out. skip (NULL-terminated
 * names, or NULL) lists top-level keys to leave out of an object. Returns
 * 0, or -1 with err (out then holds a partial text: discard it). */
int ls_json_encode(lua_State *L, int idx, const char *const *skip, ls_buf *out, ls_err *err);

#endif
