/* test_lua_api.c - luastream.core (the C functions behind lua/luastream.lua)
 * and ls_engine_new compiling a real script into queries, without Kafka
 * (sources only connect when the engine runs). */
#include <check.h>
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ls_engine.h"
#include "ls_json_lua.h"
#include "ls_lua_api.h"
#include "ls_schema.h"
#include "suites.h"
#include "test_helpers.h"

/* ---- luastream.core -------------------------------------------------- */

static lua_State *L;

static void core_setup(void)
{
    L = luaL_newstate();
    luaL_openlibs(L);
    luaL_requiref(L, "luastream.core", luaopen_luastream_core, 0);
    lua_setglobal(L, "core");
}

static void core_teardown(void)
{
    lua_close(L);
    L = NULL;
}

/* Runs chunk (which returns values) and checks it left exactly nret. */
static void run(const char *chunk, int nret)
{
    lua_settop(L, 0);
    ck_assert_msg(luaL_loadstring(L, chunk) == LUA_OK, "%s", lua_tostring(L, -1));
    ck_assert_msg(lua_pcall(L, 0, LUA_MULTRET, 0) == LUA_OK, "%s", lua_tostring(L, -1));
    ck_assert_int_eq(lua_gettop(L), nret);
}

START_TEST(core_timestamp)
{
    run("return core.timestamp('2018-12-31T23:57:00Z')", 1);
    ck_assert(lua_isinteger(L, 1));
    ck_assert_int_eq(lua_tointeger(L, 1), 1546300620);
    run("return core.timestamp('2018-12-31 23:57:00.250')", 1);
    ck_assert(!lua_isinteger(L, 1));
    ck_assert_double_eq(lua_tonumber(L, 1), 1546300620.25);
    run("return core.timestamp('2018-02-30')", 2);
    ck_assert(lua_isnil(L, 1));
    ck_assert_str_eq(lua_tostring(L, 2), "invalid timestamp: 2018-02-30");
    run("return pcall(core.timestamp)", 2);
    ck_assert(!lua_toboolean(L, 1));
}
END_TEST

START_TEST(core_format_timestamp)
{
    run("return core.format_timestamp(1546300620)", 1);
    ck_assert_str_eq(lua_tostring(L, 1), "2018-12-31T23:57:00Z");
    run("return core.format_timestamp(1546300620.5)", 1);
    ck_assert_str_eq(lua_tostring(L, 1), "2018-12-31T23:57:00.500Z");
    run("return core.format_timestamp(-0.001)", 1);
    ck_assert_str_eq(lua_tostring(L, 1), "1969-12-31T23:59:59.999Z");
    run("return core.format_timestamp(core.timestamp('2020-02-29T12:00:00.123Z'))", 1);
    ck_assert_str_eq(lua_tostring(L, 1), "2020-02-29T12:00:00.123Z");
}
END_TEST

START_TEST(core_duration_and_decode)
{
    run("return core.duration('10 minutes'), core.duration('500ms'), core.duration('bad')", 3);
    ck_assert_int_eq(lua_tointeger(L, 1), 600000);
    ck_assert_int_eq(lua_tointeger(L, 2), 500);
    ck_assert(lua_isnil(L, 3));
    run("local t = core.decode('{\"a\":[1,2.5,null],\"b\":{\"c\":\"d\"}}')\n"
        "return t.a[1], t.a[2], t.a[3] == core.null, t.b.c, #t.a", 5);
    ck_assert_int_eq(lua_tointeger(L, 1), 1);
    ck_assert_double_eq(lua_tonumber(L, 2), 2.5);
    ck_assert(lua_toboolean(L, 3));
    ck_assert_str_eq(lua_tostring(L, 4), "d");
    ck_assert_int_eq(lua_tointeger(L, 5), 3);
    run("return core.decode('[1, 2')", 2);
    ck_assert(lua_isnil(L, 1));
    ck_assert_ptr_nonnull(strstr(lua_tostring(L, 2), "invalid JSON"));
    run("return core.decode('42'), core.decode('\"s\"')", 2);
    ck_assert_int_eq(lua_tointeger(L, 1), 42);
    ck_assert_str_eq(lua_tostring(L, 2), "s");
    run("return type(core.null), core.null == nil, type(core.params), core.version", 4);
    ck_assert_str_eq(lua_tostring(L, 1), "userdata");
    ck_assert(!lua_toboolean(L, 2));
    ck_assert_str_eq(lua_tostring(L, 3), "table");
    ck_assert_str_eq(lua_tostring(L, 4), LS_VERSION);
}
END_TEST

/* ---- compiling a script ---------------------------------------------- */

static char *dir;

static void find_lua_dir(void)
{
    ck_assert_msg(th_set_lua_path() == 0, "cannot find lua/luastream.lua");
}

static void engine_setup(void)
{
    find_lua_dir();
    dir = th_tmpdir();
    ck_assert_ptr_nonnull(dir);
}

static void engine_teardown(void)
{
    th_rmrf(dir);
    free(dir);
    dir = NULL;
}

/* Writes the script (every "DIR" replaced by the temp dir) and compiles it. */
static ls_engine *compile(const char *script, ls_err *err)
{
    char *path = th_write_script(dir, script);
    ls_engine_opts o = { 0 };
    o.script = path;
    o.quiet = 1;
    ls_engine *e = ls_engine_new(&o, err);
    free(path);
    return e;
}

static const char *JOB =
    "local ls = require 'luastream'\n"
    "local src = ls.kafka_source { topic = 'events', bootstrap = '127.0.0.1:1',\n"
    "                       kafka = { ['fetch.min.bytes'] = 1 } }\n"
    "local radio = ls.json_table('DIR/radio.json', { key = 'code' })\n"
    "ls.query 'per_window' {\n"
    "  from = src,\n"
    "  map = function(r) if r.skip then return nil end\n"
    "    return { time = r.time, station = r.station, v = r.v } end,\n"
    "  join = { with = radio, on = { 'station', 'code' }, how = 'left', columns = { 'name' } },\n"
    "  watermark = { 'time', '10 minutes' },\n"
    "  group_by = { ls.window('time', '10 minutes', '5 minutes'), 'name' },\n"
    "  aggregate = { ls.count(), ls.sum('v', 'total') },\n"
    "  output_mode = 'update',\n"
    "  trigger = '2 seconds',\n"
    "  sink = ls.output('jsonl:DIR/out'),\n"
    "  partitions = 3,\n"
    "}\n"
    "ls.query 'totals' {\n"
    "  from = src, group_by = { 'station' }, aggregate = { n = ls.count() },\n"
    "  sink = ls.jsonl_sink('DIR/out'), trigger = '500ms',\n"
    "}\n";

static void write_radio(void)
{
    const char *radio = "[{\"code\":\"A\",\"name\":\"Alpha\",\"band\":\"vhf\"},{\"code\":\"B\",\"name\":\"Bravo\"}]";
    free(th_write_file(dir, "radio.json", radio, strlen(radio)));
}

START_TEST(engine_compiles_script)
{
    write_radio();
    ls_err err = { "" };
    ls_engine *e = compile(JOB, &err);
    ck_assert_msg(e != NULL, "ls_engine_new: %s", err.msg);

    ck_assert_uint_eq(ls_engine_plan(e)->nsources, 1);
    ls_source *s = ls_engine_plan(e)->sources[0];
    ck_assert_str_eq(ls_source_declared(s)->name, "KafkaV2[Subscribe[events]]");
    ck_assert_str_eq(ls_source_declared(s)->bootstrap, "127.0.0.1:1");
    ck_assert(!ls_source_connected(s));
    ck_assert_uint_eq(ls_engine_plan(e)->ntables, 1);
    ck_assert_uint_eq(ls_engine_plan(e)->tables[0]->nrows, 2);
    /* queries run in lockstep: the shortest trigger wins */
    ck_assert_int_eq(ls_engine_trigger(e, NULL)->kind, LS_TRIGGER_INTERVAL);
    ck_assert_int_eq(ls_engine_trigger(e, NULL)->interval_ms, 500);

    ck_assert_uint_eq(ls_engine_plan(e)->nqueries, 2);
    ls_query *q = ls_engine_plan(e)->queries[0];
    ck_assert_str_eq(ls_query_declared(q)->name, "per_window");
    ck_assert_ptr_eq(ls_query_declared(q)->source, s);
    ck_assert_int_ne(ls_query_declared(q)->map_ref, LUA_NOREF);
    ck_assert_uint_eq(ls_query_declared(q)->njoins, 1);
    ck_assert_ptr_eq(ls_query_declared(q)->joins[0].table, ls_engine_plan(e)->tables[0]);
    ck_assert_int_eq(ls_query_declared(q)->joins[0].inner, 0);
    ck_assert_uint_eq(ls_query_declared(q)->joins[0].ncols, 1);
    ck_assert_str_eq(ls_query_declared(q)->joins[0].left.name, "station");
    ck_assert_uint_eq(ls_query_declared(q)->ngroups, 2);
    ck_assert_int_eq(ls_query_declared(q)->groups[0].is_window, 1);
    ck_assert_str_eq(ls_query_declared(q)->groups[0].name, "window");
    ck_assert_int_eq(ls_query_declared(q)->groups[0].win.size, 600000);
    ck_assert_int_eq(ls_query_declared(q)->groups[0].win.slide, 300000);
    ck_assert_str_eq(ls_query_declared(q)->groups[1].name, "name");
    ck_assert_int_eq(ls_query_declared(q)->groups[1].col.join, 0); /* resolved to the joined table */
    ck_assert_uint_eq(ls_query_declared(q)->naggs, 2);
    ck_assert_int_eq(ls_query_declared(q)->aggs[0].fn, LS_AGG_COUNT);
    ck_assert_ptr_null(ls_query_declared(q)->aggs[0].column);
    ck_assert_str_eq(ls_query_declared(q)->aggs[0].name, "count");
    ck_assert_int_eq(ls_query_declared(q)->aggs[1].fn, LS_AGG_SUM);
    ck_assert_str_eq(ls_query_declared(q)->aggs[1].name, "total");
    ck_assert_int_eq(ls_query_declared(q)->mode, LS_MODE_UPDATE);
    ck_assert_int_eq(ls_query_declared(q)->has_watermark, 1);
    ck_assert_int_eq(ls_query_watermark(q)->delay, 600000);
    ck_assert_str_eq(ls_query_declared(q)->event_time.name, "time");
    ck_assert_int_eq(ls_state_nparts(ls_query_state(q)), 3);
    char desc[600];
    snprintf(desc, sizeof desc, "FileSink[%s/out/per_window.jsonl]", dir);
    ck_assert_str_eq(ls_query_declared(q)->sink->description, desc);
    ck_assert_str_eq(ls_query_declared(ls_engine_plan(e)->queries[1])->aggs[0].name, "n");
    ck_assert_int_eq(ls_query_declared(ls_engine_plan(e)->queries[1])->mode, LS_MODE_COMPLETE);
    /* the dead letter sits beside the first query's jsonl output */
    ck_assert_ptr_nonnull(ls_engine_plan(e)->dl);
    char dlp[600];
    snprintf(dlp, sizeof dlp, "%s/out/dead_letter.jsonl", dir);
    ck_assert_str_eq(ls_engine_plan(e)->dl->path, dlp);

    /* drive the compiled query by hand */
    const char *recs[] = {
        "{\"time\":\"2018-12-31T12:07:00Z\",\"station\":\"A\",\"v\":2}",
        "{\"time\":\"2018-12-31T12:08:00Z\",\"station\":\"B\",\"v\":3}",
        "{\"time\":\"2018-12-31T12:09:00Z\",\"station\":\"Q\",\"v\":4}",
        "{\"time\":\"2018-12-31T12:09:00Z\",\"station\":\"A\",\"skip\":true}",
        "{\"time\":\"nope\",\"station\":\"A\",\"v\":1}",
    };
    ls_query_begin_batch(q, 0);
    for (size_t i = 0; i < 5; i++) {
        ls_origin o = { .topic = "events", .partition = 0, .offset = (int64_t)i, .timestamp = -1, .timestamp_type = -1 };
        ck_assert_int_eq(ls_json_decode(ls_engine_plan(e)->L, recs[i], strlen(recs[i]), NULL, &err), 0);
        ck_assert_int_eq(ls_query_process(q, -1, NULL, &o, recs[i], strlen(recs[i]), ls_reject_to(ls_engine_plan(e)->dl), &err), 0);
        lua_pop(ls_engine_plan(e)->L, 1);
    }
    ck_assert_int_eq(ls_query_end_batch(q, &err), 0);
    ck_assert_int_eq(ls_query_batch_stats(q)->filtered_rows, 1);
    ck_assert_int_eq(ls_query_batch_stats(q)->invalid_rows, 1);
    ck_assert_int_eq(ls_query_batch_stats(q)->output_rows, 6); /* 3 names x 2 sliding windows */
    char out[600];
    snprintf(out, sizeof out, "%s/out/per_window.jsonl", dir);
    char *text = th_read_file(out, NULL);
    ck_assert_ptr_nonnull(text);
    ck_assert_int_eq(th_count(text, "\n"), 6);
    ck_assert_ptr_nonnull(strstr(text, "{\"window\":{\"start\":\"2018-12-31T12:05:00.000Z\","
                                       "\"end\":\"2018-12-31T12:15:00.000Z\"},\"name\":\"Alpha\","
                                       "\"count\":1,\"total\":2}"));
    ck_assert_ptr_nonnull(strstr(text, "{\"window\":{\"start\":\"2018-12-31T12:00:00.000Z\","
                                       "\"end\":\"2018-12-31T12:10:00.000Z\"},\"name\":null,"
                                       "\"count\":1,\"total\":4}"));
    free(text);
    ls_engine_free(e);
}
END_TEST

/* approx_count_distinct and percentile_approx compiled from a script:
 * their parameters, Spark's names, a schema "int" column hashed as Spark's
 * IntegerType, and rows with a list (JSON array) for a list of percentages. */
START_TEST(engine_compiles_sketches)
{
    ls_err err = { "" };
    ls_engine *e = compile(
        "local ls = require 'luastream'\n"
        "local src = ls.kafka_source { topic = 'e', bootstrap = '127.0.0.1:1',\n"
        "                       schema = { k = 'string', i = 'int', v = 'bigint', d = 'double' } }\n"
        "ls.query 'q' {\n"
        "  from = src, group_by = { 'k' }, output_mode = 'update', sink = ls.jsonl_sink('DIR/out'),\n"
        "  aggregate = { ls.approx_count_distinct('i'), ls.approx_count_distinct('v', 0.01),\n"
        "                ls.percentile_approx('v', 0.5), ls.percentile_approx('d', { 0.25, 0.75 }, 100),\n"
        "                p90 = ls.percentile_approx('v', 0.9, 50) },\n"
        "}\n", &err);
    ck_assert_msg(e != NULL, "ls_engine_new: %s", err.msg);
    ls_query *q = ls_engine_plan(e)->queries[0];
    ck_assert_uint_eq(ls_query_declared(q)->naggs, 5);
    ck_assert_str_eq(ls_query_declared(q)->aggs[0].name, "approx_count_distinct(i)");
    ck_assert_int_eq(ls_query_declared(q)->aggs[0].fn, LS_AGG_APPROX_DISTINCT);
    ck_assert_int_eq(ls_query_declared(q)->aggs[0].hll_p, 9);
    ck_assert_int_eq(ls_query_declared(q)->aggs[0].hash_int32, 1);
    ck_assert_str_eq(ls_query_declared(q)->aggs[1].name, "approx_count_distinct(v)");
    ck_assert_int_eq(ls_query_declared(q)->aggs[1].hll_p, 14);
    ck_assert_int_eq(ls_query_declared(q)->aggs[1].hash_int32, 0);
    ck_assert_str_eq(ls_query_declared(q)->aggs[2].name, "percentile_approx(v, 0.5, 10000)");
    ck_assert_int_eq(ls_query_declared(q)->aggs[2].accuracy, 10000);
    ck_assert_uint_eq(ls_query_declared(q)->aggs[2].npcts, 1);
    ck_assert_int_eq(ls_query_declared(q)->aggs[2].pct_list, 0);
    ck_assert_str_eq(ls_query_declared(q)->aggs[3].name, "percentile_approx(d, array(0.25, 0.75), 100)");
    ck_assert_int_eq(ls_query_declared(q)->aggs[3].pct_list, 1);
    ck_assert_uint_eq(ls_query_declared(q)->aggs[3].npcts, 2);
    ck_assert_double_eq(ls_query_declared(q)->aggs[3].pcts[1], 0.75);
    ck_assert_str_eq(ls_query_declared(q)->aggs[4].name, "p90"); /* a named one keeps its parameters */
    ck_assert_int_eq(ls_query_declared(q)->aggs[4].accuracy, 50);
    ck_assert_double_eq(ls_query_declared(q)->aggs[4].pcts[0], 0.9);
    ck_assert_int_eq(ls_state_owns_blobs(ls_query_state(q)), 1);

    const char *recs[] = {
        "{\"k\":\"a\",\"i\":1,\"v\":10,\"d\":1.5}",
        "{\"k\":\"a\",\"i\":\"2\",\"v\":\"30\",\"d\":\"2.5\"}",
        "{\"k\":\"a\",\"i\":2,\"v\":20,\"d\":\"x\"}",
        "{\"k\":\"b\",\"i\":null}",
    };
    const ls_decode_plan *plan = ls_engine_decode_plan(e, 0); /* the source's projection and its casts */
    ck_assert_int_eq(ls_query_uses_view(q), 1);
    ls_recview view;
    ls_recview_init(&view, plan->fields->n);
    ls_buf scratch;
    ls_buf_init(&scratch);
    ls_query_begin_batch(q, 0);
    for (size_t i = 0; i < 4; i++) {
        ls_origin o = { .topic = "e", .partition = 0, .offset = (int64_t)i, .timestamp = -1 };
        ck_assert_int_eq(ls_json_scan(recs[i], strlen(recs[i]), plan->fields, &view, &err), 0);
        ls_schema_cast_view(plan->types, &view, &scratch);
        ck_assert_int_eq(ls_query_process(q, 0, &view, &o, recs[i], strlen(recs[i]), ls_reject_to(ls_engine_plan(e)->dl), &err), 0);
    }
    ck_assert_int_eq(ls_query_end_batch(q, &err), 0);
    ck_assert_int_eq(ls_query_batch_stats(q)->output_rows, 2);
    char out[600];
    snprintf(out, sizeof out, "%s/out/q.jsonl", dir);
    char *text = th_read_file(out, NULL);
    ck_assert_ptr_nonnull(text);
    ck_assert_msg(strstr(text, "{\"k\":\"a\",\"approx_count_distinct(i)\":2,\"approx_count_distinct(v)\":3,"
                               "\"percentile_approx(v, 0.5, 10000)\":20,"
                               "\"percentile_approx(d, array(0.25, 0.75), 100)\":[1.5,2.5],\"p90\":30}") != NULL,
                  "%s", text);
    ck_assert_msg(strstr(text, "{\"k\":\"b\",\"approx_count_distinct(i)\":0,\"approx_count_distinct(v)\":0,"
                               "\"percentile_approx(v, 0.5, 10000)\":null,"
                               "\"percentile_approx(d, array(0.25, 0.75), 100)\":null,\"p90\":null}") != NULL,
                  "%s", text);
    free(text);
    ls_buf_free(&scratch);
    ls_recview_free(&view);
    ls_engine_free(e);
}
END_TEST

START_TEST(engine_script_errors)
{
    ls_err err = { "" };
    ck_assert_ptr_null(compile("local ls = require 'luastream'\n"
                               "ls.query 'q' { from = 1 }\n", &err));
    ck_assert_msg(strstr(err.msg, "job.lua:2:") != NULL, "%s", err.msg);
    ck_assert_msg(strstr(err.msg, "from must be a source") != NULL, "%s", err.msg);
    ck_assert_ptr_null(compile("local ls = require 'luastream'\n", &err));
    ck_assert_msg(strstr(err.msg, "declared no query") != NULL, "%s", err.msg);
    ck_assert_ptr_null(compile("return 1\n", &err));
    ck_assert_msg(strstr(err.msg, "declared nothing") != NULL, "%s", err.msg);
    ck_assert_ptr_null(compile("syntax error here\n", &err));
    ck_assert_msg(strstr(err.msg, "job.lua:1:") != NULL, "%s", err.msg);
    /* a table that does not exist names the file */
    ck_assert_ptr_null(compile("local ls = require 'luastream'\n"
                               "local s = ls.kafka_source { topic = 't' }\n"
                               "local t = ls.json_table('DIR/missing.json', { key = 'k' })\n"
                               "ls.query 'q' { from = s, group_by = { 'a' }, sink = ls.jsonl_sink('DIR/o') }\n",
                               &err));
    ck_assert_msg(strstr(err.msg, "missing.json") != NULL, "%s", err.msg);
}
END_TEST

/* Regression (was a bug in ls_lua_api.c, read_props): the call
 *     ls_props_set(p, lua_tostring(L, -2), luaL_tolstring(L, -1, NULL));
 * depends on argument evaluation order.  GCC evaluates luaL_tolstring first;
 * it pushes the value's string, so lua_tostring(L, -2) then reads the
 * value, not the key.  Every librdkafka pass-through property is stored
 * with its value as its name: kafka = { ["fetch.min.bytes"] = 1,
 * ["client.id"] = "me" } gives the properties {"1" = "1", "me" = "me"}, so
 * ls_source_open / the Kafka sink fail with "kafka property 1: No such
 * configuration property" (or the settings are silently lost).  Expected:
 * fetch.min.bytes = "1", client.id = "me". */
START_TEST(engine_source_kafka_properties)
{
    ls_err err = { "" };
    ls_engine *e = compile("local ls = require 'luastream'\n"
                           "local s = ls.kafka_source { topic = 't', bootstrap = '127.0.0.1:1',\n"
                           "  kafka = { ['fetch.min.bytes'] = 1, ['client.id'] = 'me' },\n"
                           "  ['kafka.socket.timeout.ms'] = 7000 }\n"
                           "ls.query 'q' { from = s, group_by = { 'a' }, sink = ls.jsonl_sink('DIR/o') }\n",
                           &err);
    ck_assert_msg(e != NULL, "%s", err.msg);
    ls_props props = ls_source_declared(ls_engine_plan(e)->sources[0])->props;
    char names[256] = "";
    for (size_t i = 0; i < props.n; i++) {
        strncat(names, props.names[i], sizeof names - strlen(names) - 2);
        strncat(names, " ", sizeof names - strlen(names) - 1);
    }
    const char *fmb = ls_props_get(&props, "fetch.min.bytes");
    const char *cid = ls_props_get(&props, "client.id");
    const char *sto = ls_props_get(&props, "socket.timeout.ms");
    int ok = props.n == 3 && fmb && strcmp(fmb, "1") == 0 && cid && strcmp(cid, "me") == 0 &&
             sto && strcmp(sto, "7000") == 0;
    ls_engine_free(e);
    ck_assert_msg(ok, "source properties are named: %s", names);
}
END_TEST

/* Regression (was a bug in ls_lua_api.c, read_props): for a string key it calls
 * luaL_tolstring(L, -1, NULL), which pushes a string, and then pops
 * lua_type(L, -2) == LUA_TSTRING ? 2 : 1 -- but -2 is now the value, not the
 * key.  A non-string value (number, boolean) therefore pops only one slot,
 * lua_next(L, -2) is called on the key instead of the table, and the
 * process crashes or the properties are garbage.  Sources are safe because
 * luastream.lua tostring()s their values, but ls.kafka_sink{kafka = {...}} /
 * ls.output("kafka:P", {kafka = {...}}) pass values through untouched, so
 * kafka = { ["linger.ms"] = 5 } crashes ls_engine_new.  Expected: the
 * number is passed as "5" (here the unknown second property then fails the
 * producer configuration quickly with "kafka property no.such.property"). */
START_TEST(engine_kafka_sink_numeric_property)
{
    ls_err err = { "" };
    ls_engine *e = compile("local ls = require 'luastream'\n"
                           "local s = ls.kafka_source { topic = 't', bootstrap = '127.0.0.1:1' }\n"
                           "ls.query 'q' { from = s, group_by = { 'a' },\n"
                           "  sink = ls.output('kafka:out', { bootstrap = '127.0.0.1:1',\n"
                           "    kafka = { ['linger.ms'] = 5, ['enable.idempotence'] = false,\n"
                           "              ['no.such.property'] = 'x' } }) }\n",
                           &err);
    ck_assert_ptr_null(e);
    ck_assert_msg(strstr(err.msg, "no.such.property") != NULL, "%s", err.msg);
}
END_TEST


/* Declarations a script changed behind the API's back (ls._declared is
 * reachable) or hand-built look-alikes: each is a clear error, or compiles,
 * and none crashes the engine (this suite also runs under ASan/UBSan). */
START_TEST(engine_hostile_declarations)
{
    static const char *base =
        "local ls = require 'luastream'\n"
        "local s = ls.kafka_source { topic = 't', bootstrap = '127.0.0.1:1' }\n"
        "local t = ls.json_table('DIR/radio.json', { key = 'code' })\n"
        "ls.query 'q' { from = s, group_by = { 'a' }, join = { with = t, on = 'code' },\n"
        "               sink = ls.jsonl_sink('DIR/o') }\n"
        "local D, Q = ls._declared, ls._declared.queries[1]\n";
    static const struct { const char *tail, *want; } cases[] = {
        { "Q.joins[1].table = { _kind = 'table', key = 'k', _index = 7 }\n", "with must be a table from ls.json_table" },
        { "Q.joins[1].table = nil\n", "with must be a table from ls.json_table" },
        { "Q.from = { _kind = 'source', _index = -3 }\n", "from must be a source from ls.kafka_source" },
        { "D.tables[1].path = nil\n", "job.lua:3: table 1: path must be a string, got nil" },
        { "D.tables[1].key = 5\n", "key must be a string, got number" },
        { "Q.sink = { _kind = 'sink', type = 'jsonl' }\n", "job.lua:4: query q: sink: dir must be a string" },
        { "Q.sink = { type = 'console', num_rows = -1 }\n", "num_rows must be from 1" },
        { "Q.sink = 'console'\n", "not a sink" },
        { "Q.group_by[1] = { _kind = 'window', column = 'a', size_ms = 600000, slide_ms = 0 }\n", "slide_ms must be from 1" },
        { "Q.group_by[1] = { _kind = 'window', column = 'a', size_ms = 600000, slide_ms = 1 }\n", "size/slide at most 64" },
        { "Q.group_by = { 5 }\n", "group_by entry 1: must be a column name" },
        { "Q.aggregates = { { fn = 'sum', name = 'x' } }\n", "x needs a column" },
        { "Q.aggregates = { { fn = 'median', name = 'x', column = 'v' } }\n", "unknown aggregate function" },
        { "Q.aggregates = { { fn = 'approx_count_distinct', name = 'x' } }\n", "x needs a column" },
        { "Q.aggregates = { { fn = 'approx_count_distinct', name = 'x', column = 'v', rsd = 0.5 } }\n", "rsd must be from 0.00217 to 0.391, got 0.5" },
        { "Q.aggregates = { { fn = 'approx_count_distinct', name = 'x', column = 'v', rsd = 0 } }\n", "rsd must be from" },
        { "Q.aggregates = { { fn = 'approx_count_distinct', name = 'x', column = 'v', rsd = 0/0 } }\n", "rsd must be from" },
        { "Q.aggregates = { { fn = 'approx_count_distinct', name = 'x', column = 'v', rsd = 1e-9 } }\n", "rsd must be from" },
        { "Q.aggregates = { { fn = 'approx_count_distinct', name = 'x', column = 'v', rsd = '0.1' } }\n", "rsd must be a number, got string" },
        { "Q.aggregates = { { fn = 'approx_count_distinct', name = 'x', column = 'v' } }\n", NULL },
        { "Q.aggregates = { { fn = 'percentile_approx', name = 'x', column = 'v' } }\n", "percentages must be a table, got nil" },
        { "Q.aggregates = { { fn = 'percentile_approx', name = 'x', column = 'v', percentages = { 1.5 } } }\n", "percentages[1] must be a number from 0 to 1" },
        { "Q.aggregates = { { fn = 'percentile_approx', name = 'x', column = 'v', percentages = { 'a' } } }\n", "percentages[1] must be a number from 0 to 1" },
        { "Q.aggregates = { { fn = 'percentile_approx', name = 'x', column = 'v', percentages = { 0/0 } } }\n", "percentages[1] must be a number from 0 to 1" },
        { "Q.aggregates = { { fn = 'percentile_approx', name = 'x', column = 'v', percentages = {}, pct_list = true } }\n", "percentages must list at least one" },
        { "Q.aggregates = { { fn = 'percentile_approx', name = 'x', column = 'v', percentages = { 0.1, 0.2 } } }\n", "percentages must list one" },
        { "Q.aggregates = { { fn = 'percentile_approx', name = 'x', column = 'v', percentages = { 0.5 }, accuracy = 0 } }\n", "accuracy must be from 1 to 2147483647" },
        { "Q.aggregates = { { fn = 'percentile_approx', name = 'x', column = 'v', percentages = { 0.5 }, accuracy = 2.5 } }\n", "accuracy must be a whole number" },
        { "Q.aggregates = { { fn = 'percentile_approx', name = 'x', column = 'v', percentages = setmetatable({}, { __len = function() error('boom') end }) } }\n", "percentages must list one" },
        { "Q.aggregates = { { fn = 'percentile_approx', name = 'x', column = 'v', percentages = { 0.5 } } }\n", NULL },
        { "Q.partitions = 0\n", "partitions must be from 1 to 65536" },
        { "Q.output_mode = 'sometimes'\n", "output_mode must be" },
        { "Q.watermark_ms = 1.5\n", "watermark_ms must be a whole number" },
        { "Q.name = nil\n", "name must be a string" },
        { "Q.map = 'string.upper'\n", "map must be a function" },
        { "D.sources[1].topics = 5\n", "topics must be a table" },
        { "D.sources[1].topics = { ('x'):rep(600) }\n", "must be a Kafka topic name" },
        { "D.sources[1].max_records_per_trigger = -2\n", "max_records_per_trigger must be from 0" },
        { "D.sources[1].kafka = { ['a.b'] = {} }\n", "kafka property a.b must be a string, number or boolean" },
        { "table.insert(D.sources, 5)\n", "source 2: not a declaration" },
        { "table.insert(D.queries, 5)\n", "query 2: not a declaration" },
        { "D.queries = 5\n", "declared no query" },
        { "ls.query 'lonely'\n", "job.lua:7: ls.query \"lonely\" has no { ... }" },
        { "setmetatable(Q, { __index = function() error('boom') end })\n", NULL },
        { "setmetatable(D, { __index = function() error('boom') end })\n", NULL },
        { "package = nil\n", NULL },
    };
    write_radio();
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char script[2048];
        ls_err err = { "" };
        snprintf(script, sizeof script, "%s%s", base, cases[i].tail);
        ls_engine *e = compile(script, &err);
        if (cases[i].want) {
            ck_assert_msg(e == NULL, "case %zu compiled", i);
            ck_assert_msg(strstr(err.msg, cases[i].want) != NULL, "case %zu: %s", i, err.msg);
        } else {
            ck_assert_msg(e != NULL, "case %zu: %s", i, err.msg);
        }
        ls_engine_free(e);
    }
}
END_TEST

/* The rules that tie a query's parts together are checked once, by the
 * compiler (not by luastream.lua), and reported at the query's line. */
START_TEST(engine_query_rules_at_the_line)
{
    static const char *head =
        "local ls = require 'luastream'\n"
        "local s = ls.kafka_source { topic = 't' }\n";
    static const struct { const char *query, *want; } cases[] = {
        { "ls.query 'q2' { from = s, output_mode = 'complete' }",
          "job.lua:3: query q2: a query without group_by and aggregate writes each record's rows "
          "as they come: output_mode \"append\", not \"complete\"" },
        { "ls.query 'q3' { from = s, watermark = { 'ts', '1 minute' } }",
          "job.lua:3: query q3: a watermark or event time applies to aggregations" },
        { "ls.query 'q' { from = s, watermark = { 'ts', '10 minutes' }, output_mode = 'update',\n"
          "  group_by = { ls.session_window('ts', '5 minutes'), 'user' }, aggregate = { ls.count() } }",
          "job.lua:3: query q: output_mode \"update\" is not supported with a session window" },
        { "ls.query 'q' { from = s, watermark = { 'ts', '10 minutes' }, output_mode = 'append',\n"
          "  group_by = { ls.session_window('ts', '5 minutes') }, aggregate = { ls.count() } }",
          "job.lua:3: query q: a session window needs another group_by column" },
        { "ls.query 'q' { from = s, watermark = { 'other', '10 minutes' }, output_mode = 'append',\n"
          "  group_by = { ls.session_window('ts', '5 minutes'), 'user' }, aggregate = { ls.count() } }",
          "the session window is on \"ts\" but the watermark is on \"other\"" },
        { "ls.query 'q' { from = s, event_time = 'other', output_mode = 'complete',\n"
          "  group_by = { ls.session_window('ts', '5 minutes'), 'user' }, aggregate = { ls.count() } }",
          "the session window is on \"ts\" but the event_time is on \"other\"" },
        { "ls.query 'q' { from = s, output_mode = 'append',\n"
          "  group_by = { ls.session_window('ts', '5 minutes'), 'user' }, aggregate = { ls.count() } }",
          "job.lua:3: query q: output_mode \"append\" with a session window needs a watermark on \"ts\"" },
        { "ls.query 'q' { from = s, group_by = { 'k' }, aggregate = { ls.count() }, order_by = { 'k' },\n"
          "  output_mode = 'update' }",
          "job.lua:3: query q: order_by and limit need output_mode \"complete\"" },
        { "ls.query 'q' { from = s, group_by = { 'k' }, aggregate = { ls.count() }, output_mode = 'complete',\n"
          "  sink = ls.kafka_sink { topic = 'o', key = 'k' } }",
          "job.lua:3: query q: a kafka_sink key or topic function applies to a per-record query" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char script[2048];
        snprintf(script, sizeof script, "%s%s\n", head, cases[i].query);
        ls_err err = { "" };
        ls_engine *e = compile(script, &err);
        ck_assert_msg(e == NULL, "case %zu compiled", i);
        ck_assert_msg(strstr(err.msg, cases[i].want) != NULL, "case %zu: %s", i, err.msg);
    }
}
END_TEST

Suite *lua_api_suite(void)
{
    Suite *s = suite_create("lua_api");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, core_setup, core_teardown);
    tcase_add_test(tc, core_timestamp);
    tcase_add_test(tc, core_format_timestamp);
    tcase_add_test(tc, core_duration_and_decode);
    suite_add_tcase(s, tc);
    tc = tcase_create("compile");
    tcase_add_checked_fixture(tc, engine_setup, engine_teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, engine_compiles_script);
    tcase_add_test(tc, engine_script_errors);
    tcase_add_test(tc, engine_hostile_declarations);
    tcase_add_test(tc, engine_query_rules_at_the_line);
    tcase_add_test(tc, engine_compiles_sketches);
    suite_add_tcase(s, tc);
    tc = tcase_create("regressions");
    tcase_add_checked_fixture(tc, engine_setup, engine_teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, engine_source_kafka_properties);
    tcase_add_test(tc, engine_kafka_sink_numeric_property);
    suite_add_tcase(s, tc);
    return s;
}
