/* ls_schema.c - casting records to a source's schema (see ls_schema.h). */
#include "ls_schema.h"

#include <stdlib.h>
#include <string.h>

#include "ls_time.h"

ls_schema *ls_schema_new(void)
{
    ls_schema *s = ls_xcalloc(1, sizeof *s);
    s->fields = ls_fieldset_new();
    return s;
}

void ls_schema_free(ls_schema *s)
{
    if (!s) return;
    ls_fieldset_free(s->fields);
    free(s->types);
    free(s);
}

int ls_schema_add(ls_schema *s, const char *name, ls_type type)
{
    if (ls_fieldset_index(s->fields, name, strlen(name)) >= 0) return -1;
    int i = ls_fieldset_add(s->fields, name);
    s->types = ls_xrealloc(s->types, s->fields->n * sizeof *s->types);
    s->types[i] = type;
    return 0;
}

int ls_schema_type(const ls_schema *s, const char *name)
{
    int i = ls_fieldset_index(s->fields, name, strlen(name));
    return i < 0 ? -1 : (int)s->types[i];
}

size_t ls_schema_cast_view(const int *types, ls_recview *view, ls_buf *scratch)
{
    size_t nulls = 0;
    ls_buf_reset(scratch);
    /* room for every value's text up front: strings point into scratch */
    ls_buf_reserve(scratch, view->n * 48 + 1);
    for (size_t i = 0; i < view->n; i++) {
        if (types[i] < 0) continue;
        if (view->nested[i]) {
            view->nested[i] = 0;
            view->vals[i] = ls_null();
            nulls++;
            continue;
        }
        nulls += (size_t)ls_cast_value((ls_type)types[i], &view->vals[i], scratch);
    }
    return nulls;
}

/* The Lua value at the top of the stack as an ls_value (strings borrowed
 * from the stack); 1 for a table, -1 for anything JSON cannot hold. */
static int to_value(lua_State *L, ls_value *v)
{
    switch (lua_type(L, -1)) {
    case LUA_TNIL: *v = ls_null(); return 0;
    case LUA_TLIGHTUSERDATA: *v = ls_null(); return 0; /* JSON null */
    case LUA_TBOOLEAN:
        v->type = LS_BOOL;
        v->u.b = lua_toboolean(L, -1);
        return 0;
    case LUA_TNUMBER:
        if (lua_isinteger(L, -1)) *v = ls_int((int64_t)lua_tointeger(L, -1));
        else *v = ls_double((double)lua_tonumber(L, -1));
        return 0;
    case LUA_TSTRING: {
        size_t n;
        const char *p = lua_tolstring(L, -1, &n);
        *v = ls_str(p, n);
        return 0;
    }
    case LUA_TTABLE: return 1;
    default: return -1;
    }
}

static void push_value(lua_State *L, const ls_value *v)
{
    switch (v->type) {
    case LS_BOOL: lua_pushboolean(L, v->u.b); break;
    case LS_INT: lua_pushinteger(L, (lua_Integer)v->u.i); break;
    case LS_DOUBLE: lua_pushnumber(L, v->u.d); break;
    case LS_STR: lua_pushlstring(L, v->u.s.p, v->u.s.n); break;
    case LS_TIME: /* epoch seconds, as ls.timestamp gives them */
        if (v->u.i % 1000 == 0) lua_pushinteger(L, (lua_Integer)(v->u.i / 1000));
        else lua_pushnumber(L, (lua_Number)v->u.i / 1000.0);
        break;
    default: lua_pushlightuserdata(L, NULL); break; /* null */
    }
}

size_t ls_schema_cast_table(const ls_schema *s, lua_State *L, int idx, ls_buf *scratch)
{
    size_t nulls = 0;
    idx = lua_absindex(L, idx);
    for (size_t i = 0; i < s->fields->n; i++) {
        const char *name = s->fields->names[i];
        if (lua_getfield(L, idx, name) == LUA_TNIL) {
            lua_pop(L, 1);
            continue; /* absent stays absent */
        }
        ls_value v;
        int kind = to_value(L, &v);
        int failed = kind != 0;
        if (!failed) {
            ls_buf_reset(scratch);
            ls_buf_reserve(scratch, 64);
            failed = ls_cast_value(s->types[i], &v, scratch);
        }
        if (failed) v = ls_null();
        push_value(L, &v);
        lua_setfield(L, idx, name);
        lua_pop(L, 1); /* the original value, kept on the stack while v borrowed it */
        nulls += (size_t)failed;
    }
    return nulls;
}
