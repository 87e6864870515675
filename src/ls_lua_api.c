/* ls_lua_api.c - luastream.core (the C functions scripts call) and the
 * compiler from a script's declarations to engine objects. */
#include "ls_lua_api.h"

#include <lauxlib.h>
#include <libgen.h>
#include <lualib.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ls_json_lua.h"
#include "ls_time.h"

#ifndef LS_VERSION
#define LS_VERSION "0.1.0"
#endif
#ifndef LS_LUA_DIR
#define LS_LUA_DIR "/usr/local/share/luastream/lua"
#endif

#define PARAMS_KEY "luastream.params"

/* ---- luastream.core -------------------------------------------------- */

static int core_timestamp(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    int64_t ms;
    if (ls_time_parse(s, n, &ms)) {
        lua_pushnil(L);
        lua_pushfstring(L, "invalid timestamp: %s", s);
        return 2;
    }
    if (ms % 1000 == 0) lua_pushinteger(L, (lua_Integer)(ms / 1000));
    else lua_pushnumber(L, (lua_Number)ms / 1000.0);
    return 1;
}

static int core_format_timestamp(lua_State *L)
{
    lua_Number secs = luaL_checknumber(L, 1);
    char out[32];
    size_t n = ls_time_format((int64_t)llround(secs * 1000.0), out);
    lua_pushlstring(L, out, n);
    return 1;
}

static int core_duration(lua_State *L)
{
    int64_t ms;
    if (ls_duration_parse(luaL_checkstring(L, 1), &ms)) {
        lua_pushnil(L);
        return 1;
    }
    lua_pushinteger(L, (lua_Integer)ms);
    return 1;
}

static int core_decode(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    char err[LS_ERRLEN];
    if (ls_json_decode_any(L, s, n, err)) {
        lua_pushnil(L);
        lua_pushstring(L, err);
        return 2;
    }
    return 1;
}

int luaopen_luastream_core(lua_State *L)
{
    static const luaL_Reg fns[] = {
        { "timestamp", core_timestamp },
        { "format_timestamp", core_format_timestamp },
        { "duration", core_duration },
        { "decode", core_decode },
        { NULL, NULL },
    };
    luaL_newlib(L, fns);
    lua_pushlightuserdata(L, NULL);
    lua_setfield(L, -2, "null");
    lua_pushstring(L, LS_VERSION);
    lua_setfield(L, -2, "version");
    if (lua_getfield(L, LUA_REGISTRYINDEX, PARAMS_KEY) != LUA_TTABLE) {
        lua_pop(L, 1);
        lua_newtable(L);
    }
    lua_setfield(L, -2, "params");
    return 1;
}

/* ---- set-up and script loading ----------------------------------------- */

static int file_exists(const char *p) { return access(p, R_OK) == 0; }

/* Where lua/luastream.lua lives: $LUASTREAM_LUA_PATH, the source tree
 * beside a build/ binary, the installed share/ folder, or LS_LUA_DIR. */
static void lua_dir(ls_buf *out)
{
    const char *env = getenv("LUASTREAM_LUA_PATH");
    if (env && *env) {
        ls_buf_puts(out, env);
        return;
    }
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *dir = dirname(exe);
        const char *cands[] = { "%s/../lua", "%s/../share/luastream/lua" };
        for (size_t i = 0; i < 2; i++) {
            ls_buf p;
            ls_buf_init(&p);
            ls_buf_printf(&p, cands[i], dir);
            ls_buf_puts(&p, "/luastream.lua");
            int ok = file_exists(p.data);
            ls_buf_free(&p);
            if (ok) {
                ls_buf_printf(out, cands[i], dir);
                return;
            }
        }
    }
    ls_buf_puts(out, LS_LUA_DIR);
}

/* The sandbox: a script may not run programs or load native code unless
 * the user opts in (--unsafe-lua). lua-cjson, which scripts are promised,
 * is loaded first and stays available. */
static void sandbox(lua_State *L)
{
    const char *preload =
        "pcall(require, 'cjson'); pcall(require, 'cjson.safe')\n"
        "os.execute = nil; io.popen = nil; os.exit = nil\n"
        "package.loadlib = nil\n"
        "package.cpath = ''\n"
        "table.remove(package.searchers, 4); table.remove(package.searchers, 3)\n";
    if (luaL_dostring(L, preload) != LUA_OK) lua_pop(L, 1);
}

void ls_lua_setup(lua_State *L, const ls_engine_opts *opts)
{
    luaL_openlibs(L);
    if (!opts || !opts->unsafe_lua) sandbox(L);
    lua_newtable(L);
    for (size_t i = 0; opts && i < opts->nset; i++) {
        lua_pushstring(L, opts->set_values[i]);
        lua_setfield(L, -2, opts->set_names[i]);
    }
    lua_setfield(L, LUA_REGISTRYINDEX, PARAMS_KEY);

    ls_buf dir;
    ls_buf_init(&dir);
    lua_dir(&dir);
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "path");
    lua_pushfstring(L, "%s/?.lua;%s", dir.data, lua_tostring(L, -1));
    lua_setfield(L, -3, "path");
    lua_pop(L, 1);
    lua_getfield(L, -1, "preload");
    lua_pushcfunction(L, luaopen_luastream_core);
    lua_setfield(L, -2, "luastream.core");
    lua_pop(L, 2);
    ls_buf_free(&dir);
}

int ls_lua_run_script(lua_State *L, const char *path, char *err)
{
    if (luaL_loadfile(L, path) != LUA_OK || lua_pcall(L, 0, 0, 0) != LUA_OK) {
        const char *msg = lua_tostring(L, -1);
        ls_seterr(err, "%s", msg ? msg : "script failed with a non-string error");
        lua_pop(L, 1);
        return -1;
    }
    return 0;
}

/* ---- compiling declarations ------------------------------------------- */

/* Helpers reading fields of the table at index idx. */
static char *opt_str(lua_State *L, int idx, const char *k)
{
    char *r = NULL;
    if (lua_getfield(L, idx, k) == LUA_TSTRING) r = ls_xstrdup(lua_tostring(L, -1));
    lua_pop(L, 1);
    return r;
}

static int64_t opt_int(lua_State *L, int idx, const char *k, int64_t def)
{
    int64_t r = def;
    if (lua_getfield(L, idx, k) == LUA_TNUMBER) r = (int64_t)lua_tonumber(L, -1);
    lua_pop(L, 1);
    return r;
}

static int index_of(lua_State *L, int idx, const char *k)
{
    int r = -1;
    if (lua_getfield(L, idx, k) == LUA_TTABLE) r = (int)opt_int(L, -1, "_index", -1);
    lua_pop(L, 1);
    return r;
}

static void read_props(lua_State *L, int idx, ls_props *p)
{
    if (lua_getfield(L, idx, "kafka") == LUA_TTABLE) {
        lua_pushnil(L);
        while (lua_next(L, -2)) {
            if (lua_type(L, -2) == LUA_TSTRING) {
                const char *name = lua_tostring(L, -2); /* read before the push below */
                const char *value = luaL_tolstring(L, -1, NULL);
                ls_props_set(p, name, value);
                lua_pop(L, 1);
            }
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
}

static int compile_sources(ls_engine *e, lua_State *L, int decl, char *err)
{
    lua_getfield(L, decl, "sources");
    size_t n = lua_rawlen(L, -1);
    e->sources = ls_xcalloc(n + 1, sizeof *e->sources);
    for (size_t i = 1; i <= n; i++) {
        lua_rawgeti(L, -1, (lua_Integer)i);
        int d = lua_gettop(L);
        char *bootstrap = opt_str(L, d, "bootstrap");
        ls_source *s = ls_source_new(bootstrap);
        free(bootstrap);
        e->sources[e->nsources++] = s;
        lua_getfield(L, d, "topics");
        ls_buf name;
        ls_buf_init(&name);
        ls_buf_puts(&name, "KafkaV2[Subscribe[");
        for (size_t t = 1; t <= lua_rawlen(L, -1); t++) {
            lua_rawgeti(L, -1, (lua_Integer)t);
            ls_source_add_topic(s, lua_tostring(L, -1));
            ls_buf_printf(&name, "%s%s", t > 1 ? "," : "", lua_tostring(L, -1));
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
        ls_buf_puts(&name, "]]");
        s->name = name.data;
        char *so = opt_str(L, d, "starting_offsets");
        s->start_latest = so && strcmp(so, "latest") == 0;
        free(so);
        s->max_per_trigger = opt_int(L, d, "max_records_per_trigger", 0);
        s->max_record_bytes = (size_t)opt_int(L, d, "max_record_bytes", 1 << 20);
        s->connect_timeout_ms = (int)opt_int(L, d, "connect_timeout_ms", 10000);
        s->group_id = opt_str(L, d, "group_id");
        read_props(L, d, &s->props);
        if (lua_getfield(L, d, "schema") == LUA_TTABLE) { /* validated by luastream.lua */
            s->schema = ls_schema_new();
            lua_pushnil(L);
            while (lua_next(L, -2)) {
                ls_type t;
                if (lua_type(L, -2) == LUA_TSTRING && lua_type(L, -1) == LUA_TSTRING &&
                    ls_type_parse(lua_tostring(L, -1), &t) == 0)
                    ls_schema_add(s->schema, lua_tostring(L, -2), t);
                lua_pop(L, 1);
            }
        }
        lua_pop(L, 1);
        lua_pushinteger(L, (lua_Integer)(i - 1));
        lua_setfield(L, d, "_index");
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    (void)err;
    return 0;
}

static int compile_tables(ls_engine *e, lua_State *L, int decl, char *err)
{
    lua_getfield(L, decl, "tables");
    size_t n = lua_rawlen(L, -1);
    e->tables = ls_xcalloc(n + 1, sizeof *e->tables);
    for (size_t i = 1; i <= n; i++) {
        lua_rawgeti(L, -1, (lua_Integer)i);
        int d = lua_gettop(L);
        char *path = opt_str(L, d, "path");
        char *key = opt_str(L, d, "key");
        /* Relative paths: from the working directory, else from the
         * script's folder's parent (scripts/x.lua -> data/...). */
        ls_buf p;
        ls_buf_init(&p);
        ls_buf_puts(&p, path);
        if (path[0] != '/' && !file_exists(path)) {
            char *sc = ls_xstrdup(e->script);
            ls_buf alt;
            ls_buf_init(&alt);
            ls_buf_printf(&alt, "%s/../%s", dirname(sc), path);
            if (file_exists(alt.data)) {
                ls_buf_reset(&p);
                ls_buf_puts(&p, alt.data);
            }
            ls_buf_free(&alt);
            free(sc);
        }
        ls_table *t = ls_table_load(p.data, key, err);
        ls_buf_free(&p);
        free(path);
        free(key);
        if (!t) return -1;
        e->tables[e->ntables++] = t;
        lua_pushinteger(L, (lua_Integer)(i - 1));
        lua_setfield(L, d, "_index");
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    return 0;
}

/* A column name resolves to the latest join (before `upto`) providing it,
 * else to the record. */
static ls_colref resolve(const ls_query *q, size_t upto, const char *name)
{
    ls_colref c = { ls_xstrdup(name), -1, -1, -1 };
    for (size_t j = upto; j-- > 0;) {
        const ls_join *jn = &q->joins[j];
        for (size_t k = 0; k < jn->ncols; k++)
            if (strcmp(jn->table->cols[jn->tcols[k]], name) == 0) {
                c.join = (int)j;
                c.tcol = jn->tcols[k];
                return c;
            }
    }
    return c;
}

typedef struct lua_format_ctx {
    lua_State *L;
    int ref;
} lua_format_ctx;

/* Calls a console sink's Lua format(row) and appends the string it returns. */
static int lua_format(void *ctx, const ls_row *row, ls_buf *out, char *err)
{
    lua_format_ctx *c = ctx;
    lua_State *L = c->L;
    lua_rawgeti(L, LUA_REGISTRYINDEX, c->ref);
    lua_createtable(L, 0, (int)row->ncols);
    for (size_t i = 0; i < row->ncols; i++) {
        const ls_value *v = &row->vals[i];
        char t[32];
        switch (v->type) {
        case LS_NULL: lua_pushlightuserdata(L, NULL); break;
        case LS_BOOL: lua_pushboolean(L, v->u.b); break;
        case LS_INT: lua_pushinteger(L, (lua_Integer)v->u.i); break;
        case LS_DOUBLE: lua_pushnumber(L, v->u.d); break;
        case LS_STR: lua_pushlstring(L, v->u.s.p, v->u.s.n); break;
        case LS_WINDOW:
            lua_createtable(L, 0, 2);
            lua_pushlstring(L, t, ls_time_format(v->u.w.start, t));
            lua_setfield(L, -2, "start");
            lua_pushlstring(L, t, ls_time_format(v->u.w.end, t));
            lua_setfield(L, -2, "end");
            break;
        case LS_TIME: lua_pushlstring(L, t, ls_time_format(v->u.i, t)); break;
        }
        lua_setfield(L, -2, row->names[i]);
    }
    if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
        ls_seterr(err, "format raised: %s", lua_tostring(L, -1));
        lua_pop(L, 1);
        return -1;
    }
    size_t n;
    const char *s = lua_tolstring(L, -1, &n);
    if (!s) {
        ls_seterr(err, "format must return a string, got %s", luaL_typename(L, -1));
        lua_pop(L, 1);
        return -1;
    }
    ls_buf_append(out, s, n);
    lua_pop(L, 1);
    return 0;
}

/* Per-engine storage for format contexts (freed with the engine's Lua
 * state: they live in a userdata anchored in the registry). */
static lua_format_ctx *new_format_ctx(lua_State *L, int fn_idx)
{
    lua_format_ctx *c = lua_newuserdatauv(L, sizeof *c, 0);
    c->L = L;
    lua_pushvalue(L, fn_idx);
    c->ref = luaL_ref(L, LUA_REGISTRYINDEX);
    luaL_ref(L, LUA_REGISTRYINDEX); /* anchors the userdata itself */
    return c;
}

static ls_sink *compile_sink(ls_engine *e, lua_State *L, int sk, ls_query *q, char *err)
{
    char *type = opt_str(L, sk, "type");
    ls_sink *s = NULL;
    if (!type || strcmp(type, "console") == 0) {
        ls_console_opts o = { 0 };
        o.query = q->name;
        o.num_rows = (int)opt_int(L, sk, "num_rows", 20);
        lua_getfield(L, sk, "truncate");
        o.truncate = lua_isnil(L, -1) || lua_toboolean(L, -1);
        lua_pop(L, 1);
        if (lua_getfield(L, sk, "format") == LUA_TFUNCTION) {
            o.format = lua_format;
            o.format_ctx = new_format_ctx(L, lua_gettop(L));
        }
        lua_pop(L, 1);
        s = ls_sink_console_new(&o, stdout);
    } else if (strcmp(type, "jsonl") == 0) {
        char *dir = opt_str(L, sk, "dir");
        s = ls_sink_jsonl_new(dir, q->name, err);
        free(dir);
    } else if (strcmp(type, "kafka") == 0) {
        char *prefix = opt_str(L, sk, "prefix");
        char *bootstrap = opt_str(L, sk, "bootstrap");
        ls_props props = { 0 };
        read_props(L, sk, &props);
        const char *bs = bootstrap ? bootstrap : q->source->bootstrap;
        ls_buf topic;
        ls_buf_init(&topic);
        ls_buf_printf(&topic, "%s.%s", prefix, q->name);
        if (e->checkpoint_dir) {
            /* exactly once: a transactional.id stable for this checkpoint and query */
            ls_buf id;
            ls_buf_init(&id);
            ls_buf_printf(&id, "%s|%s", e->checkpoint_dir, q->name);
            char txn[64];
            snprintf(txn, sizeof txn, "luastream-%016llx", (unsigned long long)ls_hash(id.data, id.len));
            ls_buf_free(&id);
            s = ls_sink_kafka_new_txn(bs, &props, topic.data, txn, err);
        } else {
            ls_kafka_producer *p = ls_engine_producer(e, bs, &props, err);
            if (p) s = ls_sink_kafka_new(p, topic.data, err);
        }
        ls_buf_free(&topic);
        ls_props_free(&props);
        free(prefix);
        free(bootstrap);
    } else {
        ls_seterr(err, "query %s: unknown sink type %s", q->name, type);
    }
    free(type);
    return s;
}

/* The dead-letter output mirrors a sink: DIR/dead_letter.jsonl for
 * jsonl:DIR, topic PREFIX.dead_letter for kafka:PREFIX, stderr for console. */
static int compile_dead_letter(ls_engine *e, lua_State *L, int sk, char *err)
{
    char *type = opt_str(L, sk, "type");
    if (type && strcmp(type, "jsonl") == 0) {
        char *dir = opt_str(L, sk, "dir");
        ls_buf p;
        ls_buf_init(&p);
        ls_buf_printf(&p, "%s/dead_letter.jsonl", dir);
        e->dl = ls_deadletter_file(p.data, err);
        ls_buf_free(&p);
        free(dir);
    } else if (type && strcmp(type, "kafka") == 0) {
        char *prefix = opt_str(L, sk, "prefix");
        char *bootstrap = opt_str(L, sk, "bootstrap");
        ls_props props = { 0 };
        read_props(L, sk, &props);
        const char *bs = bootstrap ? bootstrap : e->sources[0]->bootstrap;
        ls_kafka_producer *p = ls_engine_producer(e, bs, &props, err);
        if (p) {
            ls_buf topic;
            ls_buf_init(&topic);
            ls_buf_printf(&topic, "%s.dead_letter", prefix);
            e->dl = ls_deadletter_kafka(p, topic.data);
            ls_buf_free(&topic);
        }
        ls_props_free(&props);
        free(prefix);
        free(bootstrap);
    } else {
        e->dl = ls_deadletter_stderr();
    }
    free(type);
    return e->dl ? 0 : -1;
}

static int compile_query(ls_engine *e, lua_State *L, int d, ls_query *q, char *err)
{
    int si = index_of(L, d, "from");
    if (si < 0 || (size_t)si >= e->nsources) {
        ls_seterr(err, "query %s: unknown source", q->name);
        return -1;
    }
    q->source = e->sources[si];
    if (lua_getfield(L, d, "map") == LUA_TFUNCTION) q->map_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    else lua_pop(L, 1);

    lua_getfield(L, d, "joins");
    size_t nj = lua_rawlen(L, -1);
    q->joins = ls_xcalloc(nj + 1, sizeof *q->joins);
    for (size_t j = 1; j <= nj; j++) {
        lua_rawgeti(L, -1, (lua_Integer)j);
        int jd = lua_gettop(L);
        ls_join *jn = &q->joins[q->njoins];
        int ti = index_of(L, jd, "table");
        jn->table = e->tables[ti];
        char *left = opt_str(L, jd, "left");
        jn->left = resolve(q, q->njoins, left);
        free(left);
        char *how = opt_str(L, jd, "how");
        jn->inner = !how || strcmp(how, "inner") == 0;
        free(how);
        jn->tcols = ls_xcalloc(jn->table->ncols + 1, sizeof *jn->tcols);
        if (lua_getfield(L, jd, "columns") == LUA_TTABLE) {
            for (size_t k = 1; k <= lua_rawlen(L, -1); k++) {
                lua_rawgeti(L, -1, (lua_Integer)k);
                const char *cn = lua_tostring(L, -1);
                int c = cn ? ls_table_col(jn->table, cn) : -1;
                if (c < 0) {
                    ls_seterr(err, "query %s: join column %s is not in %s", q->name,
                              cn ? cn : "?", jn->table->path);
                    q->njoins++;
                    return -1;
                }
                if (jn->ncols < jn->table->ncols) jn->tcols[jn->ncols++] = c;
                lua_pop(L, 1);
            }
        } else {
            for (size_t c = 1; c < jn->table->ncols; c++) jn->tcols[jn->ncols++] = (int)c;
        }
        lua_pop(L, 2);
        q->njoins++;
    }
    lua_pop(L, 1);

    char *et = opt_str(L, d, "event_time");
    if (et) {
        q->has_event_time = 1;
        q->event_time = resolve(q, q->njoins, et);
        free(et);
    }
    char *unit = opt_str(L, d, "event_time_unit");
    q->event_time_ms_unit = unit && strcmp(unit, "ms") == 0;
    free(unit);
    lua_getfield(L, d, "watermark_ms");
    if (lua_isinteger(L, -1)) {
        q->has_watermark = 1;
        ls_watermark_init(&q->wm, (int64_t)lua_tointeger(L, -1));
    }
    lua_pop(L, 1);

    lua_getfield(L, d, "group_by");
    size_t ng = lua_rawlen(L, -1);
    q->groups = ls_xcalloc(ng + 1, sizeof *q->groups);
    for (size_t i = 1; i <= ng; i++) {
        lua_rawgeti(L, -1, (lua_Integer)i);
        int gd = lua_gettop(L);
        ls_groupcol *g = &q->groups[q->ngroups++];
        char *col = opt_str(L, gd, "column");
        if (lua_getfield(L, gd, "_kind") == LUA_TSTRING && strcmp(lua_tostring(L, -1), "window") == 0) {
            g->is_window = 1;
            g->name = ls_xstrdup("window");
            g->win.size = opt_int(L, gd, "size_ms", 0);
            g->win.slide = opt_int(L, gd, "slide_ms", 0);
        } else {
            g->name = ls_xstrdup(col);
        }
        lua_pop(L, 1);
        g->col = resolve(q, q->njoins, col);
        free(col);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);

    lua_getfield(L, d, "aggregates");
    size_t na = lua_rawlen(L, -1);
    q->aggs = ls_xcalloc(na + 1, sizeof *q->aggs);
    q->agg_cols = ls_xcalloc(na + 1, sizeof *q->agg_cols);
    for (size_t i = 1; i <= na; i++) {
        lua_rawgeti(L, -1, (lua_Integer)i);
        int ad = lua_gettop(L);
        ls_agg_spec *a = &q->aggs[q->naggs];
        char *fn = opt_str(L, ad, "fn");
        ls_agg_fn_parse(fn, &a->fn);
        free(fn);
        a->column = opt_str(L, ad, "column");
        a->name = opt_str(L, ad, "name");
        if (a->column) q->agg_cols[q->naggs] = resolve(q, q->njoins, a->column);
        q->naggs++;
        lua_pop(L, 1);
    }
    lua_pop(L, 1);

    char *mode = opt_str(L, d, "output_mode");
    ls_mode_parse(mode ? mode : "complete", &q->mode);
    free(mode);

    char *trig = opt_str(L, d, "trigger");
    if (trig) {
        ls_trigger t;
        if (ls_trigger_parse(trig, &t)) {
            ls_seterr(err, "query %s: cannot read trigger \"%s\"", q->name, trig);
            free(trig);
            return -1;
        }
        if (!e->has_trigger_override) {
            /* Queries of one engine run in lockstep: the shortest interval wins. */
            if (t.kind != LS_TRIGGER_INTERVAL || e->trigger.kind != LS_TRIGGER_INTERVAL ||
                e->trigger.interval_ms == 0 || t.interval_ms < e->trigger.interval_ms)
                e->trigger = t;
        }
        free(trig);
    }

    q->max_state_rows = opt_int(L, d, "max_state_rows", e->max_state_rows);
    int parts = (int)opt_int(L, d, "partitions", e->partitions);
    if (ls_query_ready(q, parts, err)) return -1;

    lua_getfield(L, d, "sink");
    q->sink = compile_sink(e, L, lua_gettop(L), q, err);
    lua_pop(L, 1);
    return q->sink ? 0 : -1;
}

int ls_lua_push_declared(lua_State *L)
{
    int top = lua_gettop(L);
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "loaded");
    lua_getfield(L, -1, "luastream");
    if (!lua_istable(L, -1) || lua_getfield(L, -1, "_declared") != LUA_TTABLE) {
        lua_settop(L, top);
        return 0;
    }
    lua_replace(L, top + 1);
    lua_settop(L, top + 1);
    return 1;
}

int ls_lua_compile(ls_engine *e, char *err)
{
    lua_State *L = e->L;
    int top = lua_gettop(L);
    if (!ls_lua_push_declared(L)) {
        ls_seterr(err, "%s: the script declared nothing (it must use require \"luastream\")",
                  e->script);
        return -1;
    }
    int decl = lua_gettop(L);
    int rc = -1;
    if (compile_sources(e, L, decl, err) || compile_tables(e, L, decl, err)) goto out;

    lua_getfield(L, decl, "queries");
    size_t nq = lua_rawlen(L, -1);
    if (nq == 0) {
        ls_seterr(err, "%s: the script declared no query (ls.query \"name\" {...})", e->script);
        goto out;
    }
    e->queries = ls_xcalloc(nq, sizeof *e->queries);
    for (size_t i = 1; i <= nq; i++) {
        lua_rawgeti(L, -1, (lua_Integer)i);
        int d = lua_gettop(L);
        char *name = opt_str(L, d, "name");
        ls_query *q = ls_query_new(name, L);
        free(name);
        e->queries[e->nqueries++] = q;
        if (compile_query(e, L, d, q, err)) {
            char *where = opt_str(L, d, "where");
            if (where) {
                char tmp[LS_ERRLEN];
                snprintf(tmp, sizeof tmp, "%s: %s", where, err);
                memcpy(err, tmp, LS_ERRLEN);
                free(where);
            }
            goto out;
        }
        if (i == 1) {
            if (lua_getfield(L, decl, "dead_letter") != LUA_TTABLE) {
                lua_pop(L, 1);
                lua_getfield(L, d, "sink");
            }
            int bad = compile_dead_letter(e, L, lua_gettop(L), err);
            lua_pop(L, 1);
            if (bad) goto out;
        }
        lua_pop(L, 1);
    }
    rc = 0;
out:
    lua_settop(L, top);
    return rc;
}
