/* ls_json_lua.c - yajl callbacks that build Lua tables (see ls_json_lua.h). */
#include "ls_json_lua.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <lauxlib.h>
#include <yajl_parse.h>

/* Parser state: the Lua stack holds the open containers (and, inside an
 * object, the pending key); idx[] holds the next array index per level
 * (0 for objects). */
typedef struct decoder {
    lua_State *L;
    const ls_fieldset *proj;
    int require_object;
    int depth;
    int skip;            /* > 0 while skipping a projected-out value */
    int done;            /* the root value is complete */
    ls_err *err;
    lua_Integer idx[LS_JSON_MAX_DEPTH + 1];
} decoder;

/* Stores the value on top of the stack into the enclosing container. */
static int store(decoder *d)
{
    lua_State *L = d->L;
    if (d->depth == 0) {
        d->done = 1;
        return 1;
    }
    if (d->idx[d->depth] == 0)
        lua_rawset(L, -3);                       /* object: t[key] = v */
    else
        lua_rawseti(L, -2, d->idx[d->depth]++);  /* array: t[i] = v */
    return 1;
}

static int root_check(decoder *d, int is_object)
{
    if (d->depth == 0 && d->require_object && !is_object) {
        ls_seterr(d->err, "not a JSON object");
        return 0;
    }
    return 1;
}

/* A scalar at the root or inside a skipped value needs no Lua work. */
#define SCALAR_PROLOGUE(d, is_obj)          \
    if ((d)->skip) return 1;                \
    if (!root_check((d), (is_obj))) return 0; \
    luaL_checkstack((d)->L, 4, "JSON too deep")

static int cb_null(void *ctx)
{
    decoder *d = ctx;
    SCALAR_PROLOGUE(d, 0);
    lua_pushlightuserdata(d->L, NULL);
    return store(d);
}

static int cb_bool(void *ctx, int b)
{
    decoder *d = ctx;
    SCALAR_PROLOGUE(d, 0);
    lua_pushboolean(d->L, b);
    return store(d);
}

static int cb_number(void *ctx, const char *s, size_t n)
{
    decoder *d = ctx;
    SCALAR_PROLOGUE(d, 0);
    char buf[64];
    char *tmp = n < sizeof buf ? buf : ls_xmalloc(n + 1);
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    int integral = strpbrk(tmp, ".eE") == NULL;
    if (integral) {
        errno = 0;
        char *end;
        long long v = strtoll(tmp, &end, 10);
        if (errno == 0 && *end == '\0')
            lua_pushinteger(d->L, (lua_Integer)v);
        else
            integral = 0;
    }
    if (!integral) lua_pushnumber(d->L, strtod(tmp, NULL));
    if (tmp != buf) free(tmp);
    return store(d);
}

static int cb_string(void *ctx, const unsigned char *s, size_t n)
{
    decoder *d = ctx;
    SCALAR_PROLOGUE(d, 0);
    lua_pushlstring(d->L, (const char *)s, n);
    return store(d);
}

static int open_container(decoder *d, int is_object)
{
    if (d->skip) {
        d->skip++;
        return 1;
    }
    if (!root_check(d, is_object)) return 0;
    if (d->depth >= LS_JSON_MAX_DEPTH) {
        ls_seterr(d->err, "JSON nested deeper than %d levels", LS_JSON_MAX_DEPTH);
        return 0;
    }
    luaL_checkstack(d->L, 4, "JSON too deep");
    lua_newtable(d->L);
    d->depth++;
    d->idx[d->depth] = is_object ? 0 : 1;
    return 1;
}

static int close_container(decoder *d)
{
    if (d->skip) {
        if (--d->skip == 1) { /* the skipped value itself ended */
            d->skip = 0;
        }
        return 1;
    }
    d->depth--;
    return store(d);
}

static int cb_start_map(void *ctx) { return open_container(ctx, 1); }
static int cb_start_array(void *ctx) { return open_container(ctx, 0); }
static int cb_end(void *ctx) { return close_container(ctx); }

static int cb_map_key(void *ctx, const unsigned char *s, size_t n)
{
    decoder *d = ctx;
    if (d->skip) return 1;
    if (d->depth == 1 && d->proj && !ls_fieldset_has(d->proj, (const char *)s, n)) {
        d->skip = 1; /* skip the next value; nested containers count up from 1 */
        return 1;
    }
    lua_pushlstring(d->L, (const char *)s, n);
    return 1;
}

/* While skipping, a scalar value directly after the key ends the skip. */
static int skip_scalar(decoder *d)
{
    if (d->skip == 1) d->skip = 0;
    return 1;
}

static int sk_null(void *ctx) { decoder *d = ctx; return d->skip ? skip_scalar(d) : cb_null(ctx); }
static int sk_bool(void *ctx, int b) { decoder *d = ctx; return d->skip ? skip_scalar(d) : cb_bool(ctx, b); }
static int sk_number(void *ctx, const char *s, size_t n)
{ decoder *d = ctx; return d->skip ? skip_scalar(d) : cb_number(ctx, s, n); }
static int sk_string(void *ctx, const unsigned char *s, size_t n)
{ decoder *d = ctx; return d->skip ? skip_scalar(d) : cb_string(ctx, s, n); }

static const yajl_callbacks callbacks = {
    sk_null, sk_bool, NULL, NULL, sk_number, sk_string,
    cb_start_map, cb_map_key, cb_end, cb_start_array, cb_end,
};

static int decode(lua_State *L, const char *p, size_t n, const ls_fieldset *proj,
                  int require_object, ls_err *err)
{
    decoder d;
    memset(&d, 0, sizeof d);
    d.L = L;
    d.proj = proj;
    d.require_object = require_object;
    d.err = err;
    if (err) err->msg[0] = '\0';
    int base = lua_gettop(L);

    yajl_handle h = yajl_alloc(&callbacks, NULL, &d);
    yajl_status st = yajl_parse(h, (const unsigned char *)p, n);
    int at_end = 0;
    if (st == yajl_status_ok) {
        st = yajl_complete_parse(h);
        at_end = 1; /* an error now is at the end of the input */
    }
    if (st != yajl_status_ok) {
        if (!err || !err->msg[0]) {
            if (n == 0) {
                ls_seterr(err, "empty message");
            } else {
                unsigned char *msg = yajl_get_error(h, 0, (const unsigned char *)p, n);
                size_t at = at_end ? n : yajl_get_bytes_consumed(h);
                char *nl = strchr((char *)msg, '\n');
                if (nl) *nl = '\0';
                ls_seterr(err, "invalid JSON at byte %zu: %s", at, (char *)msg);
                yajl_free_error(h, msg);
            }
        }
        yajl_free(h);
        lua_settop(L, base);
        return -1;
    }
    yajl_free(h);
    if (!d.done) {
        ls_seterr(err, n ? "invalid JSON: incomplete value" : "empty message");
        lua_settop(L, base);
        return -1;
    }
    return 0;
}

int ls_json_decode(lua_State *L, const char *p, size_t n, const ls_fieldset *proj, ls_err *err)
{
    return decode(L, p, n, proj, 1, err);
}

int ls_json_decode_any(lua_State *L, const char *p, size_t n, ls_err *err)
{
    return decode(L, p, n, NULL, 0, err);
}
