/* ls_json_encode.c - Lua values to JSON text (see ls_json_encode.h). */
#include "ls_json_encode.h"

#include <lauxlib.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <yajl_gen.h>

#include "ls_json_lua.h"
#include "ls_value.h"

typedef struct enc {
    lua_State *L;
    yajl_gen g;
    ls_err *err;
} enc;

static int value(enc *e, int idx, int depth, const char *const *skip);

static int skipped(const char *k, const char *const *skip)
{
    for (size_t i = 0; skip && skip[i]; i++)
        if (strcmp(k, skip[i]) == 0) return 1;
    return 0;
}

static int cmp_keys(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* 1..n with nothing else: an array (an empty table is an object). */
static size_t array_len(lua_State *L, int idx)
{
    size_t n = lua_rawlen(L, idx), count = 0;
    if (n == 0) return 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        if (!lua_isinteger(L, -1)) {
            lua_pop(L, 1);
            return 0;
        }
        lua_Integer k = lua_tointeger(L, -1);
        if (k < 1 || (size_t)k > n) {
            lua_pop(L, 1);
            return 0;
        }
        count++;
    }
    return count == n ? n : 0;
}

static int table(enc *e, int idx, int depth, const char *const *skip)
{
    lua_State *L = e->L;
    if (depth > LS_JSON_MAX_DEPTH) {
        ls_seterr(e->err, "nested deeper than %d levels", LS_JSON_MAX_DEPTH);
        return -1;
    }
    if (!lua_checkstack(L, 4)) {
        ls_seterr(e->err, "out of Lua stack");
        return -1;
    }
    size_t n = array_len(L, idx);
    if (n) {
        yajl_gen_array_open(e->g);
        for (size_t i = 1; i <= n; i++) {
            lua_rawgeti(L, idx, (lua_Integer)i);
            int rc = value(e, lua_gettop(L), depth + 1, NULL);
            lua_pop(L, 1);
            if (rc) return -1;
        }
        yajl_gen_array_close(e->g);
        return 0;
    }
    /* an object: its string keys, sorted */
    size_t nk = 0, cap = 8;
    const char **keys = ls_xmalloc(cap * sizeof *keys);
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) != LUA_TSTRING) {
            ls_seterr(e->err, "a %s key in an object (JSON keys are strings)", luaL_typename(L, -1));
            lua_pop(L, 1);
            free(keys);
            return -1;
        }
        const char *k = lua_tostring(L, -1); /* stays valid: the table holds the key */
        if (skipped(k, skip)) continue;
        if (nk == cap) keys = ls_xrealloc(keys, (cap *= 2) * sizeof *keys);
        keys[nk++] = k;
    }
    qsort(keys, nk, sizeof *keys, cmp_keys);
    yajl_gen_map_open(e->g);
    int rc = 0;
    for (size_t i = 0; i < nk && rc == 0; i++) {
        size_t kl;
        lua_pushstring(L, keys[i]);
        const char *k = lua_tolstring(L, -1, &kl);
        if (yajl_gen_string(e->g, (const unsigned char *)k, kl) != yajl_gen_status_ok) {
            ls_seterr(e->err, "a key that is not valid UTF-8");
            rc = -1;
        }
        lua_rawget(L, idx);
        if (rc == 0) rc = value(e, lua_gettop(L), depth + 1, NULL);
        lua_pop(L, 1);
    }
    free(keys);
    if (rc == 0) yajl_gen_map_close(e->g);
    return rc;
}

static int value(enc *e, int idx, int depth, const char *const *skip)
{
    lua_State *L = e->L;
    switch (lua_type(L, idx)) {
    case LUA_TNIL: yajl_gen_null(e->g); return 0;
    case LUA_TBOOLEAN: yajl_gen_bool(e->g, lua_toboolean(L, idx)); return 0;
    case LUA_TNUMBER: {
        ls_value v = lua_isinteger(L, idx) ? ls_int((int64_t)lua_tointeger(L, idx))
                                           : ls_double((double)lua_tonumber(L, idx));
        ls_value_json(e->g, &v);
        return 0;
    }
    case LUA_TSTRING: {
        size_t n;
        const char *s = lua_tolstring(L, idx, &n);
        if (yajl_gen_string(e->g, (const unsigned char *)s, n) != yajl_gen_status_ok) {
            ls_seterr(e->err, "a string that is not valid UTF-8");
            return -1;
        }
        return 0;
    }
    case LUA_TLIGHTUSERDATA:
        if (lua_touserdata(L, idx) == NULL) { /* ls.null */
            yajl_gen_null(e->g);
            return 0;
        }
        break;
    case LUA_TTABLE: return table(e, idx, depth, skip);
    default: break;
    }
    ls_seterr(e->err, "a %s cannot be written as JSON", luaL_typename(L, idx));
    return -1;
}

int ls_json_encode(lua_State *L, int idx, const char *const *skip, ls_buf *out, ls_err *err)
{
    enc e = { L, yajl_gen_alloc(NULL), err };
    yajl_gen_config(e.g, yajl_gen_validate_utf8, 1);
    int top = lua_gettop(L);
    int rc = value(&e, lua_absindex(L, idx), 0, skip);
    lua_settop(L, top);
    if (rc == 0) ls_json_take(e.g, out);
    yajl_gen_free(e.g);
    return rc;
}
