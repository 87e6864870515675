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

#include "ls_app.h"
#include "ls_sink_planned.h"
#include "ls_sink_parts.h"
#include "ls_hll.h"
#include "ls_json_lua.h"
#include "ls_quantile.h"
#include "ls_sandbox.h"
#include "ls_schema.h"
#include "ls_time.h"

/* What compiling reads (the run's options) and fills (the plan). */
typedef struct compiler {
    ls_plan *plan;
    const ls_plan_opts *opts;
    ls_props app_props;     /* --app: the Kafka properties of the first Kafka sink (the */
    const char *app_query;  /* transactional producer all share) and its query */
} compiler;

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
    ls_err err;
    if (ls_json_decode_any(L, s, n, &err)) {
        lua_pushnil(L);
        lua_pushstring(L, err.msg);
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

void ls_lua_setup(lua_State *L, const ls_lua_env *opts)
{
    luaL_openlibs(L);
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
    if (!opts || !opts->unsafe_lua) ls_sandbox_apply(L, opts ? opts->script : NULL);
}

/* Message handler of the script's load: an error value that is not a
 * message (error { code = 1 }) is reported with the place it was raised
 * (the first Lua function on the stack: error() itself is C) and its type;
 * no metamethod of it runs. */
static int load_msgh(lua_State *L)
{
    if (lua_type(L, 1) == LUA_TSTRING) return 1;
    const char *type = luaL_typename(L, 1);
    for (int level = 1; level <= 3; level++) {
        luaL_where(L, level);
        if (lua_rawlen(L, -1) > 0) break;
        lua_pop(L, 1);
        if (level == 3) lua_pushliteral(L, "");
    }
    lua_pushfstring(L, "%sthe script raised an error that is not a message (a %s value; "
                       "error(\"text\") says what went wrong)", lua_tostring(L, -1), type);
    return 1;
}

int ls_lua_run_script(lua_State *L, const char *path, ls_err *err)
{
    lua_pushcfunction(L, load_msgh);
    int h = lua_gettop(L);
    if (luaL_loadfile(L, path) != LUA_OK || lua_pcall(L, 0, 0, h) != LUA_OK) {
        const char *msg = lua_tostring(L, -1);
        ls_seterr(err, "%s", msg ? msg : "the script raised an error that is not a message");
        lua_settop(L, h - 1);
        return -1;
    }
    lua_settop(L, h - 1);
    return 0;
}

int ls_lua_run_script_muted(lua_State *L, const char *path, ls_err *err)
{
    static const char mute[] =
        "local p, io_, w = print, io, io and io.write\n"
        "print = function() end\n"
        "if w then io_.write = function() return io_.stdout end end\n"
        "return function() print = p; if w then io_.write = w end end\n";
    if (luaL_dostring(L, mute) != LUA_OK || !lua_isfunction(L, -1)) {
        ls_seterr(err, "cannot prepare a Lua state");
        lua_settop(L, 0);
        return -1;
    }
    int restore = luaL_ref(L, LUA_REGISTRYINDEX);
    int rc = ls_lua_run_script(L, path, err);
    lua_rawgeti(L, LUA_REGISTRYINDEX, restore);
    if (lua_pcall(L, 0, 0, 0) != LUA_OK) lua_pop(L, 1);
    luaL_unref(L, LUA_REGISTRYINDEX, restore);
    return rc;
}

/* ---- compiling declarations ------------------------------------------- */

/* The declarations are plain tables the script can reach (ls._declared)
 * and change after lua/luastream.lua checked them, so nothing read back is
 * trusted: every field is read raw (no metamethod runs), type- and
 * range-checked, and references (a query's source, a join's table) are
 * resolved by identity against the declared lists, never by an index
 * stored in the user's table. The whole compile runs under lua_pcall, so
 * even an unforeseen Lua error is a message, not a crash. */

/* Pushes t[k] without metamethods; returns its type. t must be a table. */
static int rawfield(lua_State *L, int t, const char *k)
{
    t = lua_absindex(L, t);
    lua_pushstring(L, k);
    return lua_rawget(L, t);
}

/* t[k] as a new string, or NULL when absent and not required. -1 + err
 * ("what: k must be a string, got ...") otherwise. */
static int get_str(lua_State *L, int t, const char *k, int required, const char *what,
                   char **out, ls_err *err)
{
    *out = NULL;
    int ty = rawfield(L, t, k);
    if (ty == LUA_TSTRING) {
        size_t n;
        const char *s = lua_tolstring(L, -1, &n);
        if (memchr(s, '\0', n)) {
            ls_seterr(err, "%s: %s contains a NUL byte", what, k);
            lua_pop(L, 1);
            return -1;
        }
        *out = ls_xstrndup(s, n);
    } else if (ty != LUA_TNIL || required) {
        ls_seterr(err, "%s: %s must be a string, got %s", what, k, lua_typename(L, ty));
        lua_pop(L, 1);
        return -1;
    }
    lua_pop(L, 1);
    return 0;
}

/* t[k] as a whole number in [min, max], def when absent. */
static int get_int(lua_State *L, int t, const char *k, int64_t def, int64_t min, int64_t max,
                   const char *what, int64_t *out, ls_err *err)
{
    int ty = rawfield(L, t, k);
    int64_t v = def;
    if (ty == LUA_TNUMBER) {
        int isint = 0;
        lua_Integer i = lua_tointegerx(L, -1, &isint);
        if (!isint) {
            ls_seterr(err, "%s: %s must be a whole number", what, k);
            lua_pop(L, 1);
            return -1;
        }
        v = (int64_t)i;
    } else if (ty != LUA_TNIL) {
        ls_seterr(err, "%s: %s must be a number, got %s", what, k, lua_typename(L, ty));
        lua_pop(L, 1);
        return -1;
    }
    lua_pop(L, 1);
    if (v < min || v > max) {
        ls_seterr(err, "%s: %s must be from %lld to %lld, got %lld", what, k, (long long)min,
                  (long long)max, (long long)v);
        return -1;
    }
    *out = v;
    return 0;
}

/* t[k] as a number, def when absent. */
static int get_num(lua_State *L, int t, const char *k, double def, const char *what, double *out,
                   ls_err *err)
{
    int ty = rawfield(L, t, k);
    *out = def;
    if (ty == LUA_TNUMBER) {
        *out = (double)lua_tonumber(L, -1);
    } else if (ty != LUA_TNIL) {
        ls_seterr(err, "%s: %s must be a number, got %s", what, k, lua_typename(L, ty));
        lua_pop(L, 1);
        return -1;
    }
    lua_pop(L, 1);
    return 0;
}

/* Pushes t[k], which must be a table (or absent when !required: then
 * pushes nothing and returns 0). Returns 1 when pushed. */
static int get_table(lua_State *L, int t, const char *k, int required, const char *what,
                     ls_err *err)
{
    int ty = rawfield(L, t, k);
    if (ty == LUA_TTABLE) return 1;
    lua_pop(L, 1);
    if (ty == LUA_TNIL && !required) return 0;
    ls_seterr(err, "%s: %s must be a table, got %s", what, k, lua_typename(L, ty));
    return -1;
}

/* Position (0-based) of the value at v in the declared list `list` (a
 * field of the declarations at decl), by identity; -1 when it is not there. */
static int decl_index(lua_State *L, int decl, const char *list, int v)
{
    v = lua_absindex(L, v);
    int found = -1;
    if (rawfield(L, decl, list) == LUA_TTABLE) {
        lua_Integer n = (lua_Integer)lua_rawlen(L, -1);
        for (lua_Integer i = 1; i <= n && found < 0; i++) {
            lua_rawgeti(L, -1, i);
            if (lua_rawequal(L, -1, v)) found = (int)(i - 1);
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
    return found;
}

/* Prefixes err with "where: " when the declaration at d recorded where it
 * was made (lua/luastream.lua does). */
static void at_where(lua_State *L, int d, ls_err *err)
{
    if (lua_type(L, d) != LUA_TTABLE || rawfield(L, d, "where") != LUA_TSTRING) {
        lua_pop(L, 1);
        return;
    }
    ls_err_prefix(err, lua_tostring(L, -1));
    lua_pop(L, 1);
}

/* librdkafka properties from t.kafka: names are strings, values strings,
 * numbers or booleans (read without __tostring: nothing of the script runs). */
static int read_props(lua_State *L, int t, ls_props *p, const char *what, ls_err *err)
{
    int has = get_table(L, t, "kafka", 0, what, err);
    if (has <= 0) return has;
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        if (lua_type(L, -2) != LUA_TSTRING) {
            ls_seterr(err, "%s: kafka property names must be strings, got %s", what,
                      luaL_typename(L, -2));
            lua_pop(L, 3);
            return -1;
        }
        const char *name = lua_tostring(L, -2);
        int ty = lua_type(L, -1);
        if (ty == LUA_TBOOLEAN) {
            ls_props_set(p, name, lua_toboolean(L, -1) ? "true" : "false");
        } else if (ty == LUA_TSTRING || ty == LUA_TNUMBER) {
            lua_pushvalue(L, -1); /* convert a copy: lua_next needs the key untouched */
            ls_props_set(p, name, lua_tostring(L, -1));
            lua_pop(L, 1);
        } else {
            ls_seterr(err, "%s: kafka property %s must be a string, number or boolean, got %s",
                      what, name, lua_typename(L, ty));
            lua_pop(L, 3);
            return -1;
        }
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    /* librdkafka's own check, now, so that a misspelled property is an
     * error at the script's line rather than when the consumer starts */
    ls_err why;
    rd_kafka_conf_t *conf = ls_kafka_conf("localhost:9092", p, &why);
    if (!conf) {
        ls_seterr(err, "%s: %s", what, why.msg);
        return -1;
    }
    rd_kafka_conf_destroy(conf);
    return 0;
}

/* The source's schema = { column = "type" } (Spark's type names). */
static int read_schema(lua_State *L, int d, ls_source *s, const char *what, ls_err *err)
{
    int has = get_table(L, d, "schema", 0, what, err);
    if (has <= 0) return has;
    ls_source_decl_of(s)->schema = ls_schema_new();
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        ls_type t;
        size_t n;
        const char *col = lua_type(L, -2) == LUA_TSTRING ? lua_tolstring(L, -2, &n) : NULL;
        const char *ty = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
        if (!col || n == 0 || memchr(col, '\0', n) || !ty || ls_type_parse(ty, &t) != 0 ||
            ls_schema_add(ls_source_decl_of(s)->schema, col, t) != 0) {
            ls_seterr(err, "%s: schema: each entry must be column = \"type\" with a type of "
                      "string, int, bigint, double, boolean or timestamp", what);
            lua_pop(L, 3);
            return -1;
        }
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    return 0;
}

/* ls.file_source{...}: a file source. */
static int compile_files(compiler *e, lua_State *L, int d, const char *what, ls_err *err)
{
    char *path = NULL, *format = NULL;
    ls_file_format f;
    if (get_str(L, d, "path", 1, what, &path, err) || get_str(L, d, "format", 1, what, &format, err)) {
        free(path);
        return -1;
    }
    if (ls_file_format_parse(format, &f)) {
        ls_seterr(err, "%s: format must be json, ndjson or lines", what);
        free(path);
        free(format);
        return -1;
    }
    free(format);
    ls_source *s = ls_source_new_files(path, f);
    ls_source_decl *sd = ls_source_decl_of(s);
    e->plan->sources[e->plan->nsources++] = s;
    ls_buf name;
    ls_buf_init(&name);
    ls_buf_printf(&name, "FileStreamSource[%s]", path);
    sd->name = name.data;
    free(path);
    int64_t v;
    if (get_int(L, d, "max_files_per_trigger", 0, 0, INT64_MAX, what, &v, err)) return -1;
    sd->max_files = v;
    if (get_int(L, d, "max_records_per_trigger", 0, 0, INT64_MAX, what, &v, err)) return -1;
    sd->max_per_trigger = v;
    if (get_int(L, d, "max_record_bytes", 1 << 20, 1, INT32_MAX, what, &v, err)) return -1;
    sd->max_record_bytes = (size_t)v;
    if (get_int(L, d, "polling_ms", 1000, 1, INT32_MAX, what, &v, err)) return -1;
    sd->polling_ms = v;
    return read_schema(L, d, s, what, err);
}

static int compile_source(compiler *e, lua_State *L, int d, size_t i, ls_err *err)
{
    char what[64];
    snprintf(what, sizeof what, "source %zu", i);
    if (lua_type(L, d) != LUA_TTABLE) {
        ls_seterr(err, "%s: not a declaration from ls.kafka_source or ls.file_source", what);
        return -1;
    }
    char *kind;
    if (get_str(L, d, "kind", 0, what, &kind, err)) return -1;
    int files = kind && strcmp(kind, "files") == 0;
    free(kind);
    if (files && e->opts->app) {
        ls_seterr(err, "ls.file_source with app id %s: the members of a job (--app) read Kafka "
                  "topics only (files are not split between members); run it without --app",
                  e->opts->app);
        return -1;
    }
    if (files) return compile_files(e, L, d, what, err);
    if (e->opts->app && e->plan->nsources > 0) {
        ls_seterr(err, "%s: with app id %s a script reads one Kafka source (one consumer group "
                  "member per process); several sources are issue 12's remaining work", what,
                  e->opts->app);
        return -1;
    }
    char *bootstrap;
    if (get_str(L, d, "bootstrap", 1, what, &bootstrap, err)) return -1;
    ls_source *s = ls_source_new(bootstrap);
    ls_source_decl *sd = ls_source_decl_of(s);
    free(bootstrap);
    e->plan->sources[e->plan->nsources++] = s;
    if (get_table(L, d, "topics", 1, what, err) < 0) return -1;
    ls_buf name;
    ls_buf_init(&name);
    ls_buf_puts(&name, "KafkaV2[Subscribe[");
    size_t nt = lua_rawlen(L, -1);
    for (size_t t = 1; t <= nt; t++) {
        lua_rawgeti(L, -1, (lua_Integer)t);
        size_t len;
        const char *topic = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &len) : NULL;
        if (!topic || len == 0 || len > 249 || memchr(topic, '\0', len)) {
            ls_seterr(err, "%s: topic %zu must be a Kafka topic name (1 to 249 characters)", what, t);
            ls_buf_free(&name);
            lua_pop(L, 2);
            return -1;
        }
        ls_source_add_topic(s, topic);
        ls_buf_printf(&name, "%s%s", t > 1 ? "," : "", topic);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    ls_buf_puts(&name, "]]");
    sd->name = name.data;
    if (nt == 0) {
        ls_seterr(err, "%s: no topic", what);
        return -1;
    }
    char *so;
    if (get_str(L, d, "starting_offsets", 0, what, &so, err)) return -1;
    if (so && strcmp(so, "latest") != 0 && strcmp(so, "earliest") != 0) {
        ls_seterr(err, "%s: starting_offsets must be \"earliest\" or \"latest\"", what);
        free(so);
        return -1;
    }
    sd->start_latest = so && strcmp(so, "latest") == 0;
    free(so);
    int64_t v;
    if (get_int(L, d, "max_records_per_trigger", 0, 0, INT64_MAX, what, &v, err)) return -1;
    sd->max_per_trigger = v;
    if (get_int(L, d, "max_record_bytes", 1 << 20, 1, INT32_MAX, what, &v, err)) return -1;
    sd->max_record_bytes = (size_t)v;
    if (get_int(L, d, "connect_timeout_ms", 10000, 1, INT32_MAX, what, &v, err)) return -1;
    sd->connect_timeout_ms = (int)v;
    if (get_str(L, d, "group_id", 0, what, &sd->group_id, err)) return -1;
    if (e->opts->app && sd->group_id && strcmp(sd->group_id, e->opts->app) != 0) {
        ls_seterr(err, "%s: group_id %s: with app id %s the consumer group is the app id "
                  "(leave group_id out, or make it the same)", what, sd->group_id, e->opts->app);
        return -1;
    }
    if (read_props(L, d, &sd->props, what, err)) return -1;
    return read_schema(L, d, s, what, err);
}

static int compile_sources(compiler *e, lua_State *L, int decl, ls_err *err)
{
    lua_getfield(L, decl, "sources"); /* a table: ls_lua_push_declared checked */
    size_t n = lua_rawlen(L, -1);
    e->plan->sources = ls_xcalloc(n + 1, sizeof *e->plan->sources);
    for (size_t i = 1; i <= n; i++) {
        lua_rawgeti(L, -1, (lua_Integer)i);
        int d = lua_gettop(L);
        if (compile_source(e, L, d, i, err)) {
            at_where(L, d, err);
            return -1;
        }
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    return 0;
}

/* Where a relative table path is looked for, in order: the working
 * directory, the script's folder, the script folder's parent (a script in
 * scripts/ naming data/x.json). Fills paths (up to 3, deduplicated). */
static size_t table_candidates(const char *script, const char *path, ls_buf *paths)
{
    size_t n = 0;
    ls_buf_puts(&paths[n++], path);
    if (path[0] == '/') return n;
    char *sc = ls_xstrdup(script);
    const char *dir = dirname(sc);
    if (strcmp(dir, ".") != 0) {
        ls_buf_printf(&paths[n++], "%s/%s", dir, path);
        ls_buf_printf(&paths[n++], "%s/../%s", dir, path);
    } else {
        ls_buf_printf(&paths[n++], "../%s", path);
    }
    free(sc);
    return n;
}

static int compile_table(compiler *e, lua_State *L, int d, size_t i, ls_err *err)
{
    char what[64];
    snprintf(what, sizeof what, "table %zu", i);
    if (lua_type(L, d) != LUA_TTABLE) {
        ls_seterr(err, "%s: not a declaration from ls.json_table", what);
        return -1;
    }
    char *path, *key;
    if (get_str(L, d, "path", 1, what, &path, err)) return -1;
    if (get_str(L, d, "key", 1, what, &key, err)) {
        free(path);
        return -1;
    }
    ls_buf cands[3];
    for (size_t k = 0; k < 3; k++) ls_buf_init(&cands[k]);
    size_t nc = table_candidates(e->opts->script, path, cands), found = nc;
    for (size_t k = 0; k < nc && found == nc; k++)
        if (file_exists(cands[k].data)) found = k;
    ls_table *t = NULL;
    if (found < nc) {
        t = ls_table_load(cands[found].data, key, err);
    } else {
        /* Say every place looked in: the user sees at once why it was missed. */
        static const char *whence[] = { "from the working directory", "beside the script",
                                        "in the script folder's parent" };
        char cwd[1024];
        if (!getcwd(cwd, sizeof cwd)) snprintf(cwd, sizeof cwd, "?");
        ls_buf m;
        ls_buf_init(&m);
        ls_buf_printf(&m, "json_table \"%s\": no such file; looked for ", path);
        for (size_t k = 0; k < nc; k++) {
            ls_buf_printf(&m, "%s%s", k ? ", " : "", cands[k].data);
            if (path[0] != '/')
                ls_buf_printf(&m, " (%s%s%s)", whence[nc == 2 && k == 1 ? 2 : k],
                              k == 0 ? " " : "", k == 0 ? cwd : "");
        }
        ls_seterr(err, "%s", m.data);
        ls_buf_free(&m);
    }
    for (size_t k = 0; k < 3; k++) ls_buf_free(&cands[k]);
    free(path);
    free(key);
    if (!t) return -1;
    e->plan->tables[e->plan->ntables++] = t;
    return 0;
}

static int compile_tables(compiler *e, lua_State *L, int decl, ls_err *err)
{
    lua_getfield(L, decl, "tables");
    size_t n = lua_rawlen(L, -1);
    e->plan->tables = ls_xcalloc(n + 1, sizeof *e->plan->tables);
    for (size_t i = 1; i <= n; i++) {
        lua_rawgeti(L, -1, (lua_Integer)i);
        int d = lua_gettop(L);
        if (compile_table(e, L, d, i, err)) {
            at_where(L, d, err);
            return -1;
        }
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    return 0;
}

/* A column name resolves to the latest join (before `upto`) providing it,
 * else to the record. */
static ls_colref resolve(const ls_query *q, size_t upto, const char *name)
{
    ls_colref c = { ls_xstrdup(name), -1, -1, -1, ls_meta_col_parse(name) };
    if (c.meta) return c; /* @topic, @key, ...: the Kafka metadata */
    for (size_t j = upto; j-- > 0;) {
        const ls_join *jn = &ls_query_declared(q)->joins[j];
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

/* The text of a Lua error object without running any of its metamethods. */
static const char *error_text(lua_State *L, int idx)
{
    const char *m = lua_type(L, idx) == LUA_TSTRING || lua_type(L, idx) == LUA_TNUMBER
                        ? lua_tostring(L, idx) : NULL;
    return m ? m : lua_pushfstring(L, "(an error object of type %s)", luaL_typename(L, idx));
}

/* Calls a console sink's Lua format(row) and appends the string it returns. */
static int lua_format(void *ctx, const ls_row *row, ls_buf *out, ls_err *err)
{
    lua_format_ctx *c = ctx;
    lua_State *L = c->L;
    int top = lua_gettop(L);
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
        case LS_LIST:
            lua_createtable(L, (int)v->u.l.n, 0);
            for (uint32_t k = 0; k < v->u.l.n; k++) {
                ls_value e = ls_list_at(v, k);
                if (e.type == LS_INT) lua_pushinteger(L, (lua_Integer)e.u.i);
                else if (e.type == LS_DOUBLE) lua_pushnumber(L, e.u.d);
                else lua_pushlstring(L, t, ls_time_format(e.u.i, t));
                lua_rawseti(L, -2, (lua_Integer)k + 1);
            }
            break;
        default: lua_pushnil(L); break;
        }
        lua_setfield(L, -2, row->names[i]);
    }
    if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
        ls_seterr(err, "format raised: %s", error_text(L, -1));
        lua_settop(L, top);
        return -1;
    }
    if (lua_type(L, -1) != LUA_TSTRING) {
        ls_seterr(err, "format must return a string, got %s", luaL_typename(L, -1));
        lua_settop(L, top);
        return -1;
    }
    size_t n;
    const char *s = lua_tolstring(L, -1, &n);
    ls_buf_append(out, s, n);
    lua_settop(L, top);
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

/* A Kafka sink's key column, topic function and static headers (a
 * per-record query's routing). */
static int compile_route(lua_State *L, int sk, ls_query *q, const char *what, ls_err *err)
{
    ls_query_decl *qd = ls_query_decl_of(q);
    char *key;
    if (get_str(L, sk, "key", 0, what, &key, err)) return -1;
    if (key) {
        qd->route.has_key_col = 1;
        qd->route.key_col = resolve(q, qd->njoins, key);
        free(key);
    }
    if (rawfield(L, sk, "topic") == LUA_TFUNCTION) qd->route.topic_fn = luaL_ref(L, LUA_REGISTRYINDEX);
    else lua_pop(L, 1);
    const ls_query_decl *d = ls_query_declared(q);
    if (!d->per_record && (d->route.has_key_col || d->route.topic_fn != LUA_NOREF)) {
        ls_seterr(err, "query %s: a kafka_sink key or topic function applies to a per-record "
                  "query (an aggregation's message key is its group key)", d->name);
        return -1;
    }
    int has = get_table(L, sk, "headers", 0, what, err);
    if (has < 0) return -1;
    if (has) {
        lua_pushnil(L);
        while (lua_next(L, -2)) {
            size_t nl, vl;
            const char *name = lua_type(L, -2) == LUA_TSTRING ? lua_tolstring(L, -2, &nl) : NULL;
            const char *val = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &vl) : NULL;
            if (!name || !val || memchr(name, '\0', nl) || memchr(val, '\0', vl)) {
                ls_seterr(err, "%s: headers must be name = \"value\"", what);
                lua_pop(L, 3);
                return -1;
            }
            size_t i = qd->route.nheaders++;
            qd->route.hnames = ls_xrealloc(qd->route.hnames, qd->route.nheaders * sizeof *qd->route.hnames);
            qd->route.hvals = ls_xrealloc(qd->route.hvals, qd->route.nheaders * sizeof *qd->route.hvals);
            qd->route.hnames[i] = ls_xstrdup(name);
            qd->route.hvals[i] = ls_xstrdup(val);
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
    }
    return 0;
}

/* With an app id every Kafka sink (and a Kafka dead-letter output) writes
 * through one transactional producer, on the cluster the source reads: the
 * batch's messages and its consumed offsets are one transaction. q is NULL
 * for the dead-letter output. */
static ls_kafka_producer *app_producer(compiler *e, ls_query *q, const char *bootstrap,
                                       const ls_props *props, const char *what, ls_err *err)
{
    const char *src = e->plan->nsources ? ls_source_declared(e->plan->sources[0])->bootstrap : "";
    if (strcmp(bootstrap, src) != 0) {
        ls_seterr(err, "%s: bootstrap %s: with app id %s a Kafka sink writes to the cluster the "
                  "source reads (%s): its messages and the consumed offsets are one transaction",
                  what, bootstrap, e->opts->app, src);
        return NULL;
    }
    if (e->plan->app_producer) {
        int same = props->n == e->app_props.n;
        for (size_t i = 0; same && i < props->n; i++) {
            const char *v = ls_props_get(&e->app_props, props->names[i]);
            same = v && strcmp(v, props->values[i]) == 0;
        }
        if (!same && q) {
            ls_seterr(err, "%s: with app id %s every Kafka sink shares one transactional producer, "
                      "and this sink's kafka properties differ from query %s's: give them the "
                      "same", what, e->opts->app, e->app_query);
            return NULL;
        }
        return e->plan->app_producer;
    }
    for (size_t i = 0; i < props->n; i++) ls_props_set(&e->app_props, props->names[i], props->values[i]);
    e->app_query = q ? ls_query_declared(q)->name : "(dead letters)";
    ls_kafka_producer *p = ls_app_producer_new(bootstrap, props, e->opts->app_txn_id, err);
    if (!p) return NULL;
    ls_plan_set_app_producer(e->plan, p);
    return p;
}

static ls_sink *compile_sink(compiler *e, lua_State *L, int sk, ls_query *q, ls_err *err)
{
    ls_query_decl *qd = ls_query_decl_of(q);
    char what[300];
    snprintf(what, sizeof what, "query %s: sink", qd->name);
    if (lua_type(L, sk) != LUA_TTABLE) {
        ls_seterr(err, "%s: not a sink from ls.output, ls.console_sink, ls.jsonl_sink or ls.kafka_sink", what);
        return NULL;
    }
    char *type;
    if (get_str(L, sk, "type", 1, what, &type, err)) return NULL;
    ls_sink *s = NULL;
    if (e->opts->capture && strcmp(type, "kafka") != 0) { /* luastream test: rows kept in memory */
        s = ls_sink_memory_new(qd->name, (int)qd->mode, NULL);
    } else if (strcmp(type, "console") == 0) {
        ls_console_opts o = { 0 };
        o.query = qd->name;
        int64_t rows;
        if (get_int(L, sk, "num_rows", 20, 1, INT32_MAX, what, &rows, err)) goto out;
        o.num_rows = (int)rows;
        o.truncate = rawfield(L, sk, "truncate") == LUA_TNIL || lua_toboolean(L, -1);
        lua_pop(L, 1);
        int ft = rawfield(L, sk, "format");
        if (ft == LUA_TFUNCTION) {
            o.format = lua_format;
            o.format_ctx = new_format_ctx(L, lua_gettop(L));
        }
        lua_pop(L, 1);
        if (ft != LUA_TFUNCTION && ft != LUA_TNIL) {
            ls_seterr(err, "%s: format must be a function, got %s", what, lua_typename(L, ft));
            goto out;
        }
        if (e->opts->explain) {
            ls_sink_plan p = { .kind = LS_PLAN_CONSOLE, .num_rows = o.num_rows,
                               .truncate = o.truncate, .format = ft == LUA_TFUNCTION };
            s = ls_sink_planned(&p, err);
        } else {
            s = ls_sink_console_new(&o, stdout);
        }
    } else if (strcmp(type, "jsonl") == 0 && e->opts->app && qd->per_record) {
        ls_seterr(err, "%s: a jsonl sink for a per-record query with app id %s: its rows have "
                  "no state partition to keep a file by, and a file per member would be written "
                  "outside the job's transactions; use a Kafka sink (exactly once from every "
                  "member), or run without --app (an aggregation's jsonl sink under --app "
                  "writes DIR/<query>/part-<p>.jsonl)", what, e->opts->app);
    } else if (strcmp(type, "jsonl") == 0) {
        char *dir;
        if (get_str(L, sk, "dir", 1, what, &dir, err)) goto out;
        if (e->opts->explain) { /* no directory made, no file opened */
            ls_sink_plan p = { .kind = LS_PLAN_JSONL, .dir = dir, .name = qd->name,
                               .parts = e->opts->app != NULL };
            s = ls_sink_planned(&p, err);
        } else if (e->opts->app) { /* a job's member: a file per state partition */
            s = ls_sink_parts_new(dir, qd->name, e->opts->app, err);
        } else {
            s = ls_sink_jsonl_new(dir, qd->name, err);
        }
        free(dir);
    } else if (strcmp(type, "kafka") == 0) {
        char *prefix, *bootstrap, *fixed = NULL;
        if (get_str(L, sk, "prefix", 0, what, &prefix, err)) goto out;
        if (get_str(L, sk, "bootstrap", 0, what, &bootstrap, err)) {
            free(prefix);
            goto out;
        }
        int tt = rawfield(L, sk, "topic");
        lua_pop(L, 1);
        if ((tt == LUA_TSTRING && get_str(L, sk, "topic", 0, what, &fixed, err)) ||
            (!prefix && tt != LUA_TSTRING && tt != LUA_TFUNCTION) ||
            compile_route(L, sk, q, what, err)) {
            if (!err->msg[0]) ls_seterr(err, "%s: give prefix or topic", what);
            free(prefix);
            free(bootstrap);
            free(fixed);
            goto out;
        }
        ls_props props = { 0 };
        if (read_props(L, sk, &props, what, err) == 0) {
            const char *bs = bootstrap ? bootstrap : ls_source_declared(qd->source)->bootstrap;
            ls_buf topic;
            ls_buf_init(&topic);
            /* PREFIX.<query>, a topic of its own, or (routed by a function) the
             * query's name, used only to name the sink */
            if (prefix) ls_buf_printf(&topic, "%s.%s", prefix, qd->name);
            else ls_buf_puts(&topic, fixed ? fixed : qd->name);
            char txn[64] = "";
            if (e->opts->checkpoint_dir) {
                /* exactly once: a transactional.id stable for this checkpoint and query */
                ls_buf id;
                ls_buf_init(&id);
                ls_buf_printf(&id, "%s|%s", e->opts->checkpoint_dir, qd->name);
                snprintf(txn, sizeof txn, "luastream-%016llx",
                         (unsigned long long)ls_hash(id.data, id.len));
                ls_buf_free(&id);
            }
            if (e->opts->capture) { /* luastream test: rows kept in memory */
                s = ls_sink_memory_new(qd->name, (int)qd->mode,
                                       prefix || fixed ? topic.data : NULL);
            } else if (e->opts->explain) { /* no producer: nothing connects */
                ls_sink_plan p = { .kind = LS_PLAN_KAFKA, .topic = topic.data, .bootstrap = bs,
                                   .txn_id = e->opts->app ? e->opts->app_txn_id : txn[0] ? txn : NULL,
                                   .props = &props };
                s = ls_sink_planned(&p, err);
            } else if (e->opts->app) {
                ls_kafka_producer *p = app_producer(e, q, bs, &props, what, err);
                if (p) s = ls_sink_kafka_new(p, topic.data, err);
            } else if (txn[0]) {
                s = ls_sink_kafka_new_txn(bs, &props, topic.data, txn, err);
            } else {
                ls_kafka_producer *p = ls_plan_producer(e->plan, bs, &props, err);
                if (p) s = ls_sink_kafka_new(p, topic.data, err);
            }
            ls_buf_free(&topic);
        }
        ls_props_free(&props);
        free(prefix);
        free(fixed);
        free(bootstrap);
    } else {
        ls_seterr(err, "%s: unknown sink type %s", what, type);
    }
out:
    free(type);
    return s;
}

/* The dead-letter output mirrors a sink: DIR/dead_letter.jsonl for
 * jsonl:DIR, topic PREFIX.dead_letter for kafka:PREFIX, stderr for console. */
static int compile_dead_letter(compiler *e, lua_State *L, int sk, ls_err *err)
{
    const char *what = "dead-letter sink";
    char *type = NULL;
    if (lua_type(L, sk) != LUA_TTABLE) {
        ls_seterr(err, "%s: not a sink from ls.output", what);
        return -1;
    }
    if (get_str(L, sk, "type", 1, what, &type, err)) return -1;
    if (e->opts->capture) {
        e->plan->dl = ls_deadletter_memory();
    } else if (strcmp(type, "jsonl") == 0) {
        char *dir;
        if (get_str(L, sk, "dir", 1, what, &dir, err) == 0) {
            if (e->opts->explain) { /* no directory made, no file opened */
                ls_sink_plan plan = { .kind = LS_PLAN_JSONL, .dir = dir, .name = "dead_letter" };
                e->plan->dl_plan = ls_sink_planned(&plan, err);
            } else {
                ls_buf p;
                ls_buf_init(&p);
                ls_buf_printf(&p, "%s/dead_letter.jsonl", dir);
                e->plan->dl = ls_deadletter_file(p.data, err);
                ls_buf_free(&p);
            }
            free(dir);
        }
    } else if (strcmp(type, "kafka") == 0) {
        char *prefix = NULL, *bootstrap = NULL, *fixed = NULL;
        ls_props props = { 0 };
        int tt = rawfield(L, sk, "topic");
        lua_pop(L, 1);
        /* PREFIX.dead_letter; beside a fixed topic T: T.dead_letter; with a
         * topic function: luastream.dead_letter */
        if (get_str(L, sk, "prefix", 0, what, &prefix, err) == 0 &&
            (tt != LUA_TSTRING || get_str(L, sk, "topic", 0, what, &fixed, err) == 0) &&
            get_str(L, sk, "bootstrap", 0, what, &bootstrap, err) == 0 &&
            read_props(L, sk, &props, what, err) == 0) {
            const char *bs = bootstrap ? bootstrap : ls_source_declared(e->plan->sources[0])->bootstrap;
            ls_buf topic;
            ls_buf_init(&topic);
            ls_buf_printf(&topic, "%s.dead_letter", prefix ? prefix : fixed ? fixed : "luastream");
            if (e->opts->explain) { /* no producer: nothing connects */
                ls_sink_plan plan = { .kind = LS_PLAN_KAFKA, .topic = topic.data, .bootstrap = bs,
                                      .props = &props };
                e->plan->dl_plan = ls_sink_planned(&plan, err);
            } else {
                /* with an app id, inside the batch's transaction */
                ls_kafka_producer *p = e->opts->app
                    ? app_producer(e, NULL, bs, &props, what, err)
                    : ls_plan_producer(e->plan, bs, &props, err);
                if (p) e->plan->dl = ls_deadletter_kafka(p, topic.data);
            }
            ls_buf_free(&topic);
        }
        ls_props_free(&props);
        free(prefix);
        free(fixed);
        free(bootstrap);
    } else if (e->opts->explain) {
        ls_sink_plan plan = { .kind = LS_PLAN_STDERR };
        e->plan->dl_plan = ls_sink_planned(&plan, err);
    } else {
        e->plan->dl = ls_deadletter_stderr();
    }
    free(type);
    return e->plan->dl || e->plan->dl_plan ? 0 : -1;
}

static int compile_join(compiler *e, lua_State *L, int decl, int jd, ls_query *q, ls_err *err)
{
    ls_query_decl *qd = ls_query_decl_of(q);
    char what[300];
    snprintf(what, sizeof what, "query %s: join %zu", qd->name, qd->njoins + 1);
    if (lua_type(L, jd) != LUA_TTABLE) {
        ls_seterr(err, "%s: not a join declaration", what);
        return -1;
    }
    rawfield(L, jd, "table");
    int ti = decl_index(L, decl, "tables", -1);
    lua_pop(L, 1);
    if (ti < 0 || (size_t)ti >= e->plan->ntables) {
        ls_seterr(err, "%s: with must be a table from ls.json_table", what);
        return -1;
    }
    ls_join *jn = &qd->joins[qd->njoins];
    jn->table = e->plan->tables[ti];
    char *left, *how;
    if (get_str(L, jd, "left", 1, what, &left, err)) return -1;
    if (get_str(L, jd, "how", 0, what, &how, err)) {
        free(left);
        return -1;
    }
    jn->left = resolve(q, qd->njoins, left);
    free(left);
    jn->inner = !how || strcmp(how, "inner") == 0;
    int bad_how = how && strcmp(how, "inner") != 0 && strcmp(how, "left") != 0;
    free(how);
    jn->tcols = ls_xcalloc(jn->table->ncols + 1, sizeof *jn->tcols);
    qd->njoins++; /* owned by q from here: freed with it */
    if (bad_how) {
        ls_seterr(err, "%s: how must be \"inner\" or \"left\"", what);
        return -1;
    }
    int has = get_table(L, jd, "columns", 0, what, err);
    if (has < 0) return -1;
    if (has) {
        size_t nc = lua_rawlen(L, -1);
        for (size_t k = 1; k <= nc; k++) {
            lua_rawgeti(L, -1, (lua_Integer)k);
            const char *cn = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
            int c = cn ? ls_table_col(jn->table, cn) : -1;
            if (c < 0) {
                ls_seterr(err, "%s: column %s is not in %s", what, cn ? cn : "(not a string)",
                          jn->table->path);
                lua_pop(L, 2);
                return -1;
            }
            if (jn->ncols < jn->table->ncols) jn->tcols[jn->ncols++] = c;
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
    } else {
        for (size_t c = 1; c < jn->table->ncols; c++) jn->tcols[jn->ncols++] = (int)c;
    }
    return 0;
}

static int compile_group(lua_State *L, int gd, ls_query *q, ls_err *err)
{
    ls_query_decl *qd = ls_query_decl_of(q);
    char what[300];
    snprintf(what, sizeof what, "query %s: group_by entry %zu", qd->name, qd->ngroups + 1);
    if (lua_type(L, gd) != LUA_TTABLE) {
        ls_seterr(err, "%s: must be a column name, ls.window(...) or ls.session_window(...)", what);
        return -1;
    }
    char *col;
    if (get_str(L, gd, "column", 1, what, &col, err)) return -1;
    ls_groupcol *g = &qd->groups[qd->ngroups++];
    int is_window = 0, is_session = 0;
    if (rawfield(L, gd, "_kind") == LUA_TSTRING) {
        is_window = strcmp(lua_tostring(L, -1), "window") == 0;
        is_session = strcmp(lua_tostring(L, -1), "session_window") == 0;
    }
    lua_pop(L, 1);
    g->col = resolve(q, qd->njoins, col);
    free(col);
    if (is_session) { /* Spark's session_window(col, gap): see ls_session.h */
        g->is_window = g->is_session = 1;
        g->name = ls_xstrdup("session_window");
        if (get_int(L, gd, "gap_ms", 0, 1, INT64_MAX / 4, what, &g->win.size, err)) return -1;
        g->win.slide = g->win.size;
        return 0;
    }
    if (!is_window) {
        g->name = ls_xstrdup(g->col.name);
        return 0;
    }
    g->is_window = 1;
    g->name = ls_xstrdup("window");
    if (get_int(L, gd, "size_ms", 0, 1, INT64_MAX / 2, what, &g->win.size, err) ||
        get_int(L, gd, "slide_ms", 0, 1, INT64_MAX / 2, what, &g->win.slide, err))
        return -1;
    if (g->win.slide > g->win.size || g->win.size / g->win.slide > LS_MAX_WINDOWS) {
        ls_seterr(err, "%s: a window's slide must be at most its size, and size/slide at most %d",
                  what, LS_MAX_WINDOWS);
        return -1;
    }
    return 0;
}

/* approx_count_distinct's rsd, as a precision Spark would use and luastream
 * keeps (4 to 18); a column the source schema declares "int" hashes as
 * Spark's IntegerType when the query reads it directly (no map, no join). */
static int compile_hll(lua_State *L, int ad, const ls_query *q, ls_agg_spec *a, const char *what,
                       ls_err *err)
{
    const ls_query_decl *qd = ls_query_declared(q);
    double rsd;
    if (get_num(L, ad, "rsd", LS_HLL_DEFAULT_RSD, what, &rsd, err)) return -1;
    a->hll_p = ls_hll_precision(rsd);
    if (a->hll_p < LS_HLL_MIN_P || a->hll_p > LS_HLL_MAX_P) {
        ls_seterr(err, "%s: rsd must be from 0.00217 to 0.391, got %g", what, rsd);
        return -1;
    }
    const ls_colref *c = &qd->agg_cols[qd->naggs - 1];
    a->hash_int32 = qd->map_ref == LUA_NOREF && c->join < 0 && qd->source && ls_source_declared(qd->source)->schema &&
                    ls_schema_type(ls_source_declared(qd->source)->schema, c->name) == (int)LS_TYPE_INT;
    return 0;
}

/* percentile_approx's accuracy and percentages (a list, or one). */
static int compile_percentile(lua_State *L, int ad, ls_agg_spec *a, const char *what, ls_err *err)
{
    if (get_int(L, ad, "accuracy", LS_QSUM_DEFAULT_ACCURACY, 1, INT32_MAX, what, &a->accuracy, err))
        return -1;
    int lt = rawfield(L, ad, "pct_list");
    a->pct_list = lt == LUA_TBOOLEAN && lua_toboolean(L, -1);
    lua_pop(L, 1);
    if (get_table(L, ad, "percentages", 1, what, err) < 0) return -1;
    size_t n = lua_rawlen(L, -1);
    if (n == 0 || (!a->pct_list && n != 1)) {
        ls_seterr(err, "%s: percentages must list %s", what, a->pct_list ? "at least one" : "one");
        lua_pop(L, 1);
        return -1;
    }
    a->pcts = ls_xcalloc(n + 1, sizeof *a->pcts);
    for (size_t i = 1; i <= n; i++) {
        int ty = lua_rawgeti(L, -1, (lua_Integer)i);
        double p = ty == LUA_TNUMBER ? (double)lua_tonumber(L, -1) : -1;
        lua_pop(L, 1);
        if (!(p >= 0 && p <= 1)) {
            ls_seterr(err, "%s: percentages[%zu] must be a number from 0 to 1", what, i);
            lua_pop(L, 1);
            return -1;
        }
        a->pcts[a->npcts++] = p;
    }
    lua_pop(L, 1);
    return 0;
}

static int compile_agg(lua_State *L, int ad, ls_query *q, ls_err *err)
{
    ls_query_decl *qd = ls_query_decl_of(q);
    char what[300];
    snprintf(what, sizeof what, "query %s: aggregate %zu", qd->name, qd->naggs + 1);
    if (lua_type(L, ad) != LUA_TTABLE) {
        ls_seterr(err, "%s: must be ls.count(), ls.sum(...), ...", what);
        return -1;
    }
    char *fn;
    if (get_str(L, ad, "fn", 1, what, &fn, err)) return -1;
    ls_agg_spec *a = &qd->aggs[qd->naggs];
    int bad = ls_agg_fn_parse(fn, &a->fn);
    free(fn);
    if (bad) {
        ls_seterr(err, "%s: unknown aggregate function", what);
        return -1;
    }
    qd->naggs++; /* owned by q from here */
    if (get_str(L, ad, "column", 0, what, &a->column, err) ||
        get_str(L, ad, "name", 1, what, &a->name, err))
        return -1;
    if (!a->column && a->fn != LS_AGG_COUNT) {
        ls_seterr(err, "%s: %s needs a column", what, a->name);
        return -1;
    }
    if (a->column) qd->agg_cols[qd->naggs - 1] = resolve(q, qd->njoins, a->column);
    if (a->fn == LS_AGG_APPROX_DISTINCT) return compile_hll(L, ad, q, a, what, err);
    if (a->fn == LS_AGG_PERCENTILE) return compile_percentile(L, ad, a, what, err);
    return 0;
}

/* Runs `each` over the list t[k] (a table of declarations). */
static int each_of(compiler *e, lua_State *L, int t, const char *k, int required, ls_query *q,
                   int decl, int (*each)(compiler *, lua_State *, int, int, ls_query *, ls_err *),
                   ls_err *err)
{
    char what[300];
    snprintf(what, sizeof what, "query %s", ls_query_declared(q)->name);
    int has = get_table(L, t, k, required, what, err);
    if (has <= 0) return has;
    size_t n = lua_rawlen(L, -1);
    for (size_t i = 1; i <= n; i++) {
        lua_rawgeti(L, -1, (lua_Integer)i);
        if (each(e, L, decl, lua_gettop(L), q, err)) return -1;
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    return 0;
}

static int each_join(compiler *e, lua_State *L, int decl, int d, ls_query *q, ls_err *err)
{
    return compile_join(e, L, decl, d, q, err);
}

static int each_group(compiler *e, lua_State *L, int decl, int d, ls_query *q, ls_err *err)
{
    (void)e;
    (void)decl;
    return compile_group(L, d, q, err);
}

static int each_agg(compiler *e, lua_State *L, int decl, int d, ls_query *q, ls_err *err)
{
    (void)e;
    (void)decl;
    return compile_agg(L, d, q, err);
}

/* One order_by entry { column = name, desc = bool }: the output column's
 * position (after ls_query_ready named the output columns). */
static int each_order(compiler *e, lua_State *L, int decl, int d, ls_query *q, ls_err *err)
{
    ls_query_decl *qd = ls_query_decl_of(q);
    (void)e;
    (void)decl;
    char what[300];
    snprintf(what, sizeof what, "query %s: order_by", qd->name);
    char *col;
    if (lua_type(L, d) != LUA_TTABLE) {
        ls_seterr(err, "%s: an entry is not a declaration", what);
        return -1;
    }
    if (get_str(L, d, "column", 1, what, &col, err)) return -1;
    int desc = rawfield(L, d, "desc") == LUA_TBOOLEAN && lua_toboolean(L, -1);
    lua_pop(L, 1);
    size_t ncols = qd->ngroups + qd->naggs, i;
    for (i = 0; i < ncols && strcmp(ls_query_out_name(q, i), col) != 0; i++) {}
    if (i == ncols) {
        ls_seterr(err, "%s: %s is not an output column", what, col);
        free(col);
        return -1;
    }
    free(col);
    qd->order = ls_xrealloc(qd->order, (qd->norder + 1) * sizeof *qd->order);
    qd->order[qd->norder].col = (int)i;
    qd->order[qd->norder].desc = desc;
    qd->norder++;
    return 0;
}

/* One `where` predicate { column =, op =, values = {...} } (validated by
 * luastream.lua; checked again here: nothing from a script is trusted). */
static int each_where(compiler *e, lua_State *L, int decl, int d, ls_query *q, ls_err *err)
{
    ls_query_decl *qd = ls_query_decl_of(q);
    (void)e;
    (void)decl;
    char what[300];
    snprintf(what, sizeof what, "query %s: where", qd->name);
    if (lua_type(L, d) != LUA_TTABLE) {
        ls_seterr(err, "%s: an entry is not a declaration", what);
        return -1;
    }
    char *col = NULL, *op = NULL;
    ls_where_op wop;
    if (get_str(L, d, "column", 1, what, &col, err) || get_str(L, d, "op", 1, what, &op, err) ||
        ls_where_op_parse(op, &wop)) {
        if (!err->msg[0] || op) ls_seterr(err, "%s: unknown operator %s", what, op ? op : "?");
        free(col);
        free(op);
        return -1;
    }
    free(op);
    qd->where = ls_xrealloc(qd->where, (qd->nwhere + 1) * sizeof *qd->where);
    ls_where_pred *p = &qd->where[qd->nwhere++];
    p->col = resolve(q, 0, col); /* the input record, before joins and map */
    free(col);
    ls_where_operand_init(&p->w, wop);
    if (get_table(L, d, "values", 1, what, err) < 0) return -1;
    size_t n = lua_rawlen(L, -1);
    for (size_t i = 1; i <= n; i++) {
        ls_value v;
        switch (lua_rawgeti(L, -1, (lua_Integer)i)) {
        case LUA_TSTRING: {
            size_t len;
            const char *str = lua_tolstring(L, -1, &len);
            v = ls_str(str, len);
            break;
        }
        case LUA_TNUMBER:
            v = lua_isinteger(L, -1) ? ls_int((int64_t)lua_tointeger(L, -1))
                                     : ls_double((double)lua_tonumber(L, -1));
            break;
        case LUA_TBOOLEAN:
            v.type = LS_BOOL;
            v.u.b = lua_toboolean(L, -1);
            break;
        default:
            ls_seterr(err, "%s %s: values must be strings, numbers or booleans", what, p->col.name);
            lua_pop(L, 2);
            return -1;
        }
        ls_where_operand_add(&p->w, &v);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    int want = wop == LS_OP_IN ? -1 : wop == LS_OP_IS_NULL || wop == LS_OP_NOT_NULL ? 0 : 1;
    if ((want >= 0 && p->w.nvals != (size_t)want) || (want < 0 && p->w.nvals == 0)) {
        ls_seterr(err, "%s %s: wrong number of values for %s", what, p->col.name, ls_where_op_name(wop));
        return -1;
    }
    return 0;
}

static size_t list_len(lua_State *L, int t, const char *k)
{
    size_t n = rawfield(L, t, k) == LUA_TTABLE ? lua_rawlen(L, -1) : 0;
    lua_pop(L, 1);
    return n;
}

/* A query's event time, its unit and its watermark. */
static int compile_event_time(lua_State *L, int d, ls_query *q, const char *what, ls_err *err)
{
    ls_query_decl *qd = ls_query_decl_of(q);
    char *et;
    if (get_str(L, d, "event_time", 0, what, &et, err)) return -1;
    if (et) {
        qd->has_event_time = 1;
        qd->event_time = resolve(q, qd->njoins, et);
        free(et);
    }
    char *unit;
    if (get_str(L, d, "event_time_unit", 0, what, &unit, err)) return -1;
    if (unit && strcmp(unit, "ms") != 0 && strcmp(unit, "s") != 0) {
        ls_seterr(err, "%s: event_time_unit must be \"s\" or \"ms\"", what);
        free(unit);
        return -1;
    }
    qd->event_time_ms_unit = unit && strcmp(unit, "ms") == 0;
    free(unit);
    if (rawfield(L, d, "watermark_ms") != LUA_TNIL) {
        lua_pop(L, 1);
        int64_t wm;
        if (get_int(L, d, "watermark_ms", 0, 0, INT64_MAX / 2, what, &wm, err)) return -1;
        ls_query_set_watermark(q, wm);
    } else {
        lua_pop(L, 1);
    }
    return 0;
}

/* A query's output mode, and its trigger folded into the plan's (queries of
 * one engine run in lockstep: the shortest interval wins). */
static int compile_mode_and_trigger(compiler *e, lua_State *L, int d, ls_query *q, const char *what,
                                    ls_err *err)
{
    ls_query_decl *qd = ls_query_decl_of(q);
    char *mode;
    if (get_str(L, d, "output_mode", 0, what, &mode, err)) return -1;
    int bad_mode = ls_mode_parse(mode ? mode : "complete", &qd->mode);
    free(mode);
    if (bad_mode) {
        ls_seterr(err, "query %s: output_mode must be complete, update or append", qd->name);
        return -1;
    }

    char *trig;
    if (get_str(L, d, "trigger", 0, what, &trig, err)) return -1;
    if (trig) {
        ls_trigger t;
        if (ls_trigger_parse(trig, &t)) {
            ls_seterr(err, "query %s: cannot read trigger \"%s\"", qd->name, trig);
            free(trig);
            return -1;
        }
        /* Queries of one engine run in lockstep: the shortest interval wins. */
        ls_plan *p = e->plan;
        if (!p->has_trigger || t.kind != LS_TRIGGER_INTERVAL || p->trigger.kind != LS_TRIGGER_INTERVAL ||
            p->trigger.interval_ms == 0 || t.interval_ms < p->trigger.interval_ms)
            p->trigger = t;
        p->has_trigger = 1;
        free(trig);
    }
    return 0;
}

static int compile_query(compiler *e, lua_State *L, int decl, int d, ls_query *q, ls_err *err)
{
    ls_query_decl *qd = ls_query_decl_of(q);
    char what[300];
    snprintf(what, sizeof what, "query %s", qd->name);
    rawfield(L, d, "from");
    int si = decl_index(L, decl, "sources", -1);
    lua_pop(L, 1);
    if (si < 0 || (size_t)si >= e->plan->nsources) {
        ls_seterr(err, "query %s: from must be a source from ls.kafka_source", qd->name);
        return -1;
    }
    qd->source = e->plan->sources[si];
    int mt = rawfield(L, d, "map");
    if (mt == LUA_TFUNCTION) {
        lua_Debug ar;
        lua_pushvalue(L, -1);
        if (lua_getinfo(L, ">u", &ar)) qd->map_meta = ar.nparams >= 2 || ar.isvararg;
        qd->map_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    } else {
        lua_pop(L, 1);
        if (mt != LUA_TNIL) {
            ls_seterr(err, "query %s: map must be a function, got %s", qd->name, lua_typename(L, mt));
            return -1;
        }
    }

    qd->joins = ls_xcalloc(list_len(L, d, "joins") + 1, sizeof *qd->joins);
    if (each_of(e, L, d, "joins", 0, q, decl, each_join, err)) return -1;

    if (compile_event_time(L, d, q, what, err)) return -1;

    qd->groups = ls_xcalloc(list_len(L, d, "group_by") + 1, sizeof *qd->groups);
    if (each_of(e, L, d, "group_by", 0, q, decl, each_group, err)) return -1;
    size_t na = list_len(L, d, "aggregates");
    qd->aggs = ls_xcalloc(na + 1, sizeof *qd->aggs);
    qd->agg_cols = ls_xcalloc(na + 1, sizeof *qd->agg_cols);
    if (each_of(e, L, d, "aggregates", 0, q, decl, each_agg, err)) return -1;

    if (compile_mode_and_trigger(e, L, d, q, what, err)) return -1;

    int64_t parts;
    if (get_int(L, d, "max_state_rows", e->opts->max_state_rows, 0, INT64_MAX, what,
                &qd->max_state_rows, err) ||
        get_int(L, d, "partitions", e->opts->partitions, 1, 65536, what, &parts, err))
        return -1;
    if (ls_query_ready(q, (int)parts, err)) return -1;
    if (e->opts->app && qd->session) {
        ls_seterr(err, "query %s: a session window with app id %s: the members of a job cannot "
                  "run it yet (merging a key's sessions needs all of them in one place); run it "
                  "without --app", qd->name, e->opts->app);
        return -1;
    }
    if (ls_query_check_schema(q, ls_source_declared(ls_query_declared(q)->source)->schema, err)) return -1; /* at the query's line */
    if (each_of(e, L, d, "filters", 0, q, decl, each_where, err) ||
        each_of(e, L, d, "order_by", 0, q, decl, each_order, err) ||
        get_int(L, d, "limit", 0, 0, INT64_MAX, what, &qd->limit, err))
        return -1;
    if ((qd->norder || qd->limit) && qd->mode != LS_MODE_COMPLETE) {
        ls_seterr(err, "query %s: order_by and limit need output_mode \"complete\" (Spark sorts "
                  "only a complete result)", qd->name);
        return -1;
    }
    if ((qd->norder || qd->limit) && e->opts->app) {
        ls_seterr(err, "query %s: order_by and limit with app id %s: each member holds only its "
                  "state partitions, so no member has the whole result to sort; leave them out "
                  "and sort where the sink's rows are read", qd->name, e->opts->app);
        return -1;
    }

    rawfield(L, d, "sink");
    qd->sink = compile_sink(e, L, lua_gettop(L), q, err);
    lua_pop(L, 1);
    return qd->sink ? 0 : -1;
}

/* The registry's package.loaded, read raw (the script may have replaced
 * the global `package`). */
static int push_loaded(lua_State *L)
{
    return lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE) == LUA_TTABLE;
}

int ls_lua_push_declared(lua_State *L)
{
    int top = lua_gettop(L);
    if (!push_loaded(L)) goto none;
    lua_pushliteral(L, "luastream");
    if (lua_rawget(L, -2) != LUA_TTABLE) goto none;
    lua_pushliteral(L, "_declared");
    if (lua_rawget(L, -2) != LUA_TTABLE) goto none;
    /* Callers read it with plain lua_getfield, which would run metamethods
     * a script attached (and an error there has no handler): strip them,
     * and make sure the lists are tables. */
    lua_pushnil(L);
    lua_setmetatable(L, -2);
    static const char *lists[] = { "sources", "tables", "queries", "params_used", "unfinished" };
    for (size_t i = 0; i < sizeof lists / sizeof *lists; i++) {
        lua_pushstring(L, lists[i]);
        if (lua_rawget(L, -2) == LUA_TTABLE) {
            lua_pushnil(L);
            lua_setmetatable(L, -2);
            lua_pop(L, 1);
        } else {
            lua_pop(L, 1);
            lua_pushstring(L, lists[i]);
            lua_newtable(L);
            lua_rawset(L, -3);
        }
    }
    lua_replace(L, top + 1);
    lua_settop(L, top + 1);
    return 1;
none:
    lua_settop(L, top);
    return 0;
}

typedef struct compile_args {
    compiler *e;
    ls_err *err;
    int rc;
} compile_args;

static int compile_all(lua_State *L)
{
    compile_args *a = lua_touserdata(L, 1);
    compiler *e = a->e;
    ls_err *err = a->err;
    a->rc = -1;
    if (!ls_lua_push_declared(L)) {
        ls_seterr(err, "%s: the script declared nothing (it must use require \"luastream\")",
                  e->opts->script);
        return 0;
    }
    int decl = lua_gettop(L);
    lua_getfield(L, decl, "unfinished");
    if (lua_rawlen(L, -1) > 0) {
        lua_rawgeti(L, -1, 1);
        char *name = NULL;
        if (lua_type(L, -1) == LUA_TTABLE && get_str(L, -1, "name", 1, "", &name, err) == 0) {
            ls_seterr(err, "ls.query \"%s\" has no { ... }: the query is never declared "
                      "(write ls.query \"%s\" { from = ..., ... })", name, name);
            at_where(L, lua_gettop(L), err);
        } else {
            ls_seterr(err, "a query has no { ... }");
        }
        free(name);
        return 0;
    }
    lua_pop(L, 1);
    if (compile_sources(e, L, decl, err) || compile_tables(e, L, decl, err)) return 0;

    lua_getfield(L, decl, "queries");
    size_t nq = lua_rawlen(L, -1);
    if (nq == 0) {
        ls_seterr(err, "%s: the script declared no query (ls.query \"name\" {...})", e->opts->script);
        return 0;
    }
    e->plan->queries = ls_xcalloc(nq, sizeof *e->plan->queries);
    for (size_t i = 1; i <= nq; i++) {
        lua_rawgeti(L, -1, (lua_Integer)i);
        int d = lua_gettop(L);
        char *name = NULL;
        if (lua_type(L, d) != LUA_TTABLE) {
            ls_seterr(err, "query %zu: not a declaration from ls.query", i);
            return 0;
        }
        if (get_str(L, d, "name", 1, "query", &name, err)) {
            at_where(L, d, err);
            return 0;
        }
        ls_query *q = ls_query_new(name, L);
        free(name);
        e->plan->queries[e->plan->nqueries++] = q;
        if (compile_query(e, L, decl, d, q, err)) {
            at_where(L, d, err);
            return 0;
        }
        if (i == 1) {
            if (lua_getfield(L, decl, "dead_letter") != LUA_TTABLE) {
                lua_pop(L, 1);
                rawfield(L, d, "sink");
            }
            int bad = compile_dead_letter(e, L, lua_gettop(L), err);
            lua_pop(L, 1);
            if (bad) return 0;
        }
        lua_pop(L, 1);
    }
    a->rc = 0;
    return 0;
}

int ls_lua_compile(ls_plan *plan, const ls_plan_opts *opts, ls_err *err)
{
    lua_State *L = plan->L;
    int top = lua_gettop(L);
    compiler c = { plan, opts, { 0 }, NULL };
    compile_args a = { &c, err, -1 };
    lua_pushcfunction(L, compile_all);
    lua_pushlightuserdata(L, &a);
    if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
        ls_seterr(err, "%s: while reading the declarations: %s", opts->script, error_text(L, -1));
        a.rc = -1;
    }
    ls_props_free(&c.app_props);
    lua_settop(L, top);
    return a.rc;
}
