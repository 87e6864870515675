/* test_explain.c - `luastream explain` (ls_explain.c): a script compiled in
 * explain mode opens nothing (no output or checkpoint directory, no Kafka
 * client, even for a Kafka sink on an unreachable broker), reports the same
 * script errors as a run, and its plan (text and JSON) says what each query
 * does; planned sinks refuse writes; the default consumer group of a
 * checkpointed job is the one a run would use; hostile declarations give a
 * message or a plan, never a crash. */
#include <check.h>
#include <lua.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yajl_tree.h>

#include "ls_engine.h"
#include "ls_explain.h"
#include "suites.h"
#include "test_helpers.h"

static char *dir;

static void setup(void)
{
    ck_assert_msg(th_set_lua_path() == 0, "cannot find lua/luastream.lua");
    dir = th_tmpdir();
    ck_assert_ptr_nonnull(dir);
    const char *radio = "[{\"code\":\"A\",\"name\":\"Alpha\"},{\"code\":\"B\",\"name\":\"Bravo\"}]";
    free(th_write_file(dir, "radio.json", radio, strlen(radio)));
}

static void teardown(void)
{
    th_rmrf(dir);
    free(dir);
    dir = NULL;
}

static ls_engine *compile(const char *script, int explain, ls_err *err)
{
    char *path = th_write_script(dir, script);
    ls_engine_opts o = { 0 };
    o.script = path;
    o.quiet = 1;
    o.explain = explain;
    ls_engine *e = ls_engine_new(&o, err);
    free(path);
    return e;
}

static int exists(const char *rel)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, rel);
    struct stat st;
    return stat(p, &st) == 0;
}

/* The plan as text and as parsed JSON (the caller frees both). */
static char *plan_text(const ls_engine *e)
{
    ls_buf b;
    ls_buf_init(&b);
    ls_explain_text(e, NULL, &b);
    return b.data;
}

static yajl_val plan_json(const ls_engine *e)
{
    ls_buf b;
    ls_buf_init(&b);
    ls_explain_json(e, NULL, &b);
    char why[256] = "";
    yajl_val v = yajl_tree_parse(b.data, why, sizeof why);
    ck_assert_msg(v != NULL, "plan JSON does not parse (%s): %s", why, b.data);
    ls_buf_free(&b);
    return v;
}

static yajl_val get(yajl_val v, const char *a, const char *b, const char *c)
{
    const char *path[] = { a, b, c, NULL };
    return yajl_tree_get(v, path, yajl_t_any);
}

static yajl_val at(yajl_val arr, size_t i)
{
    ck_assert(YAJL_IS_ARRAY(arr) && i < arr->u.array.len);
    return arr->u.array.values[i];
}

static const char *JOB =
    "local ls = require 'luastream'\n"
    "local src = ls.kafka_source { topic = 'calls', bootstrap = '127.0.0.1:1', max_records_per_trigger = 50,\n"
    "                       kafka = { ['sasl.password'] = 'hunter2', ['fetch.min.bytes'] = 1 } }\n"
    "local radio = ls.json_table('DIR/radio.json', { key = 'code' })\n"
    "ls.checkpoint('DIR/ckpt/job')\n"
    "ls.query 'counts' {\n"
    "  from = src,\n"
    "  join = { with = radio, on = { 'station', 'code' }, how = 'left', columns = { 'name' } },\n"
    "  watermark = { 'time', '10 minutes' },\n"
    "  group_by = { ls.window('time', '10 minutes', '5 minutes'), 'name' },\n"
    "  aggregate = { ls.count(), ls.sum('v', 'total') },\n"
    "  output_mode = 'update',\n"
    "  trigger = '2 seconds',\n"
    "  sink = ls.output('jsonl:DIR/out'),\n"
    "  partitions = 3,\n"
    "}\n"
    "ls.query 'shout' {\n"
    "  from = src,\n"
    "  where = { level = 'ERROR' },\n"
    "  map = function(r) return { msg = string.upper(r.msg or '') } end,\n"
    "  sink = ls.kafka_sink { topic = 'shouts', bootstrap = '127.0.0.1:1' },\n"
    "}\n"
    "ls.query 'errors' {\n"
    "  from = src, where = { level = 'ERROR', code = { 'in', { 500, 503 } } },\n"
    "  sink = ls.output('kafka:alerts'),\n"
    "}\n";

START_TEST(explain_opens_nothing)
{
    ls_err err = { "" };
    double t0 = ls_mono_ms();
    ls_engine *e = compile(JOB, 1, &err);
    ck_assert_msg(e != NULL, "%s", err.msg);
    /* two Kafka sinks on a broker nobody listens on: a run waits 10 s for
     * them, explain makes no client at all */
    ck_assert_msg(ls_mono_ms() - t0 < 3000, "explain took %.0f ms", ls_mono_ms() - t0);
    ck_assert(!exists("out"));
    ck_assert(!exists("ckpt"));
    ck_assert_ptr_null(ls_engine_checkpoint(e));
    ck_assert(!ls_engine_started_anything(e));
    ck_assert_ptr_null(ls_engine_plan(e)->dl);
    ck_assert_ptr_nonnull(ls_engine_plan(e)->dl_plan);
    ck_assert_uint_eq(ls_engine_plan(e)->nproducers, 0);
    ck_assert(!ls_source_connected(ls_engine_plan(e)->sources[0]));
    for (size_t i = 0; i < ls_engine_plan(e)->nqueries; i++)
        ck_assert_ptr_nonnull(ls_sink_plan_of(ls_query_declared(ls_engine_plan(e)->queries[i])->sink));
    /* an explain engine does not run */
    ck_assert_int_eq(ls_engine_run(e, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "explain"));
    ls_engine_free(e);
    ck_assert(!exists("out") && !exists("ckpt"));
}
END_TEST

START_TEST(explain_text_plan)
{
    ls_err err = { "" };
    ls_engine *e = compile(JOB, 1, &err);
    ck_assert_msg(e != NULL, "%s", err.msg);
    char *t = plan_text(e);
    static const char *want[] = {
        "  trigger          every 2 seconds (2000 ms)\n",
        "  checkpoint       ",
        "ckpt/job (does not exist: a run creates it)",
        "  dead letters     JSON lines appended to ",
        "/out/dead_letter.jsonl, exactly once (cut back to the last commit on restart)\n",
        "  Lua per record   yes, for shout (map)",
        "\nsource 1  KafkaV2[Subscribe[calls]]\n",
        "  max per trigger  50 records",
        "  kafka properties fetch.min.bytes=1, sasl.password=(secret, not shown)\n",
        "  decoding         C projection of 5 fields (station, time, v, code, level), no Lua; and "
        "the whole record into a Lua table, per record, for shout (map)\n",
        "\ntable 1  ",
        "  rows             2\n",
        "\nquery counts  (source 1, aggregation)\n",
        "  read             C projection of 3 fields: station, time, v\n",
        "  join             left join table 1 (",
        ") on station = code, adds name (null when unmatched)\n",
        "  event time       time (ISO-8601 text, or epoch seconds)\n",
        "  watermark        10 minutes behind the latest event time: later rows dropped, passed "
        "groups evicted\n",
        "  window           time, 10 minutes sliding every 5 minutes\n",
        "  group by         window, name (from join 1)\n",
        "  aggregate        count, sum(v) as total\n",
        "  output mode      update: the groups a batch changed\n",
        "  state            3 hash partitions, no cap on groups\n",
        "/out/counts.jsonl, exactly once (cut back to the last commit on restart)\n",
        "\nquery shout  (source 1, per record)\n",
        "  read             the whole record, decoded into a Lua table\n",
        "  where            level = \"ERROR\" (in C, before the map)\n",
        "  map              Lua function per record: map(record)",
        "  sink             Kafka topic shouts at 127.0.0.1:1, exactly once (transactional.id luastream-",
        "  message key      a row's _key, else none\n",
        "  Lua per record   yes (map)\n",
        "\nquery errors  (source 1, per record)\n",
        "  read             C projection of 2 fields: code, level\n",
        "  where            code in (500, 503) and level = \"ERROR\" (in C)\n",
        "  output mode      append: each record that passes, as it came (its bytes)",
        "  sink             Kafka topic alerts.errors at 127.0.0.1:1, exactly once",
        "  Lua per record   no\n",
    };
    for (size_t i = 0; i < sizeof want / sizeof *want; i++)
        ck_assert_msg(strstr(t, want[i]) != NULL, "missing \"%s\" in:\n%s", want[i], t);
    ck_assert_ptr_null(strstr(t, "hunter2"));
    free(t);
    ls_engine_free(e);
}
END_TEST

START_TEST(explain_json_plan)
{
    ls_err err = { "" };
    ls_engine *e = compile(JOB, 1, &err);
    ck_assert_msg(e != NULL, "%s", err.msg);
    yajl_val v = plan_json(e);
    ck_assert_str_eq(YAJL_GET_STRING(get(v, "trigger", "kind", NULL)), "interval");
    ck_assert_int_eq(YAJL_GET_INTEGER(get(v, "trigger", "interval_ms", NULL)), 2000);
    ck_assert(YAJL_IS_FALSE(get(v, "checkpoint", "exists", NULL)));
    ck_assert(YAJL_IS_TRUE(get(v, "lua_per_record", NULL, NULL)));
    ck_assert_str_eq(YAJL_GET_STRING(get(v, "dead_letter", "type", NULL)), "jsonl");
    yajl_val src = at(get(v, "sources", NULL, NULL), 0);
    ck_assert_str_eq(YAJL_GET_STRING(get(src, "kafka", "sasl.password", NULL)), "(secret, not shown)");
    ck_assert_int_eq(YAJL_GET_INTEGER(get(src, "max_records_per_trigger", NULL, NULL)), 50);
    ck_assert(YAJL_IS_TRUE(get(src, "decoding", "lua_table", NULL)));
    ck_assert_uint_eq(get(src, "decoding", "projection", NULL)->u.array.len, 5);
    yajl_val qs = get(v, "queries", NULL, NULL);
    ck_assert_uint_eq(qs->u.array.len, 3);
    yajl_val q = at(qs, 0);
    ck_assert_str_eq(YAJL_GET_STRING(get(q, "decoding", NULL, NULL)), "projection");
    ck_assert_str_eq(YAJL_GET_STRING(at(get(q, "fields", NULL, NULL), 0)), "station");
    ck_assert_int_eq(YAJL_GET_INTEGER(get(q, "watermark_ms", NULL, NULL)), 600000);
    ck_assert(YAJL_IS_TRUE(get(q, "drops_late_rows", NULL, NULL)));
    ck_assert_int_eq(YAJL_GET_INTEGER(get(q, "window", "slide_ms", NULL)), 300000);
    ck_assert_str_eq(YAJL_GET_STRING(get(at(get(q, "aggregates", NULL, NULL), 1), "name", NULL, NULL)), "total");
    ck_assert_int_eq(YAJL_GET_INTEGER(get(q, "state", "partitions", NULL)), 3);
    ck_assert_str_eq(YAJL_GET_STRING(get(q, "sink", "type", NULL)), "jsonl");
    ck_assert(YAJL_IS_FALSE(get(q, "lua_per_record", NULL, NULL)));
    q = at(qs, 1);
    ck_assert_str_eq(YAJL_GET_STRING(get(q, "kind", NULL, NULL)), "per_record");
    ck_assert(YAJL_IS_NULL(get(q, "fields", NULL, NULL)));
    ck_assert(YAJL_IS_FALSE(get(q, "map", "metadata", NULL)));
    ck_assert(YAJL_IS_TRUE(get(q, "lua_per_record", NULL, NULL)));
    ck_assert(YAJL_IS_TRUE(get(q, "sink", "exactly_once", NULL)));
    ck_assert(YAJL_IS_NULL(get(q, "state", NULL, NULL)));
    q = at(qs, 2);
    yajl_val w = at(get(q, "where", NULL, NULL), 0);
    ck_assert_str_eq(YAJL_GET_STRING(get(w, "op", NULL, NULL)), "in");
    ck_assert_int_eq(YAJL_GET_INTEGER(at(get(w, "values", NULL, NULL), 1)), 503);
    ck_assert_str_eq(YAJL_GET_STRING(get(q, "sink", "topic", NULL)), "alerts.errors");
    yajl_tree_free(v);
    ls_engine_free(e);
}
END_TEST

/* The same script errors, with file:line, as a run. */
START_TEST(explain_script_errors_as_a_run)
{
    static const char *scripts[] = {
        "local ls = require 'luastream'\nlocal s = ls.kafka_source { topic = 't' }\n"
        "ls.query 'q' { from = s, group_by = { 'a' }, output_mod = 'update' }\n",
        "local ls = require 'luastream'\nlocal s = ls.kafka_source { topic = 't' }\n"
        "ls.query 'q' { from = s, sink = ls.jsonl_sink('DIR/o') }\n"
        "ls._declared.queries[1].sink = { type = 'console', num_rows = -1 }\n",
        "local ls = require 'luastream'\nlocal s = ls.kafka_source { topic = 't' }\n"
        "local t = ls.json_table('nowhere.json', { key = 'k' })\n"
        "ls.query 'q' { from = s }\n",
        "syntax error\n",
    };
    for (size_t i = 0; i < sizeof scripts / sizeof *scripts; i++) {
        ls_err run_err = { "" };
        ls_err ex_err = { "" };
        ls_engine *r = compile(scripts[i], 0, &run_err);
        ls_engine *x = compile(scripts[i], 1, &ex_err);
        ck_assert_msg(r == NULL && x == NULL, "script %zu compiled", i);
        ck_assert_str_eq(ex_err.msg, run_err.msg);
        ck_assert_msg(strstr(ex_err.msg, "job.lua:") != NULL, "%s", ex_err.msg);
    }
    /* a Kafka sink property librdkafka refuses: refused without a client */
    ls_err err = { "" };
    ls_engine *e = compile("local ls = require 'luastream'\n"
                           "local s = ls.kafka_source { topic = 't', bootstrap = '127.0.0.1:1' }\n"
                           "ls.query 'q' { from = s, sink = ls.kafka_sink { topic = 'o',\n"
                           "  kafka = { ['linger.ms'] = 'soon' } } }\n", 1, &err);
    ck_assert_ptr_null(e);
    ck_assert_msg(strstr(err.msg, "job.lua:3:") && strstr(err.msg, "kafka property linger.ms"), "%s", err.msg);
}
END_TEST

/* Lua per record without a map (a sink's topic function), and with a
 * source schema (the map's table holds the schema's columns only). */
START_TEST(explain_topic_function_and_schema)
{
    ls_err err = { "" };
    ls_engine *e = compile("local ls = require 'luastream'\n"
                           "local s = ls.kafka_source { topic = 't', bootstrap = '127.0.0.1:1',\n"
                           "  schema = { level = 'string', n = 'bigint', ts = 'timestamp' } }\n"
                           "ls.query 'route' { from = s, where = { level = { '~=', 'DEBUG' } },\n"
                           "  sink = ls.kafka_sink { topic = function(r) return r.level end } }\n"
                           "ls.query 'm' { from = s, map = function(r) return r end,\n"
                           "  group_by = { 'level' }, aggregate = { ls.sum('n') } }\n", 1, &err);
    ck_assert_msg(e != NULL, "%s", err.msg);
    char *t = plan_text(e);
    static const char *want[] = {
        "  Lua per record   yes, for route (the sink's topic function), m (map): each record of "
        "its source is decoded into a Lua table\n",
        "  schema           level string, n bigint, ts timestamp (other fields are not read)\n",
        "  decoding         a Lua table of the schema's 3 columns, per record, for route (the "
        "sink's topic function), m (map)\n",
        "  where            level ~= \"DEBUG\" (in C)\n",
        "  sink             Kafka, each row's topic from a Lua function at 127.0.0.1:1, at least once\n",
        "  read             a Lua table of the schema's columns\n",
        "  Lua per record   yes (the sink's topic function)\n",
    };
    for (size_t i = 0; i < sizeof want / sizeof *want; i++)
        ck_assert_msg(strstr(t, want[i]) != NULL, "missing \"%s\" in:\n%s", want[i], t);
    free(t);
    yajl_val v = plan_json(e);
    yajl_val q = at(get(v, "queries", NULL, NULL), 0);
    ck_assert(YAJL_IS_TRUE(get(q, "sink", "topic_function", NULL)));
    ck_assert(YAJL_IS_TRUE(get(q, "lua_per_record", NULL, NULL)));
    ck_assert(YAJL_IS_NULL(get(q, "map", NULL, NULL)));
    ck_assert_str_eq(YAJL_GET_STRING(get(at(get(v, "sources", NULL, NULL), 0), "schema", "n", NULL)), "bigint");
    yajl_tree_free(v);
    ls_engine_free(e);
}
END_TEST

/* ls_explain: exit codes, the plan written to a stream, what the script
 * prints kept out of it, source properties checked. */
START_TEST(explain_command)
{
    ls_err err = { "" };
    ls_engine_opts o = { 0 };
    char *path = th_write_script(dir, "local ls = require 'luastream'\n"
                              "local s = ls.kafka_source { topic = 't', bootstrap = '127.0.0.1:1' }\n"
                              "ls.query 'q' { from = s, group_by = { 'a' }, aggregate = { ls.max('b') },\n"
                              "  sink = ls.output('jsonl:DIR/rows') }\n");
    o.script = path;
    FILE *f = tmpfile();
    ck_assert_int_eq(ls_explain(&o, 0, f, &err), 0);
    size_t n;
    char *out = th_read_stream(f, &n);
    ck_assert_msg(strstr(out, "  aggregate        max(b)\n") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "/rows/q.jsonl\n") != NULL, "%s", out);
    free(out);
    fclose(f);
    f = tmpfile();
    o.parallelism = 4;
    o.partitions = 7;
    ck_assert_int_eq(ls_explain(&o, 1, f, &err), 0);
    out = th_read_stream(f, &n);
    yajl_val v = yajl_tree_parse(out, NULL, 0);
    ck_assert_ptr_nonnull(v);
    ck_assert_int_eq(YAJL_GET_INTEGER(get(v, "parallelism", NULL, NULL)), 4);
    ck_assert_int_eq(YAJL_GET_INTEGER(get(at(get(v, "queries", NULL, NULL), 0), "state", "partitions", NULL)), 7);
    yajl_tree_free(v);
    free(out);
    fclose(f);
    ck_assert(!exists("rows"));
    free(path);

    path = th_write_script(dir, "local ls = require 'luastream'\n"
                        "local s = ls.kafka_source { topic = 't', bootstrap = '127.0.0.1:1',\n"
                        "  kafka = { ['no.such.property'] = 1 } }\n"
                        "ls.query 'q' { from = s }\n");
    o.script = path;
    f = tmpfile();
    ck_assert_int_eq(ls_explain(&o, 0, f, &err), 2);
    ck_assert_msg(strstr(err.msg, "source 1") && strstr(err.msg, "no.such.property"), "%s", err.msg);
    ck_assert_int_eq(ftell(f), 0);
    fclose(f);
    free(path);

    path = th_write_script(dir, "local ls = require 'luastream'\nlocal s = ls.kafka_source { topic = 't' }\n"
                        "ls.query 'q' { from = s, group_by = 'a' }\n");
    o.script = path;
    f = tmpfile();
    ck_assert_int_eq(ls_explain(&o, 1, f, &err), 2);
    ck_assert_msg(strstr(err.msg, "job.lua:3:") != NULL, "%s", err.msg);
    fclose(f);
    free(path);
}
END_TEST

/* The default consumer group of a checkpointed job hashes the checkpoint
 * directory's absolute path: explain, which does not create it, names the
 * group a run will use. */
START_TEST(explain_group_id_as_a_run)
{
    static const char *script =
        "local ls = require 'luastream'\n"
        "local s = ls.kafka_source { topic = 't', bootstrap = '127.0.0.1:1' }\n"
        "ls.checkpoint('DIR/a/./b/../cp')\n"
        "ls.query 'q' { from = s, group_by = { 'k' }, aggregate = { ls.count() } }\n";
    ls_err err = { "" };
    ls_engine *x = compile(script, 1, &err);
    ck_assert_msg(x != NULL, "%s", err.msg);
    ck_assert(!exists("a"));
    ls_engine *r = compile(script, 0, &err); /* a run's engine: creates and locks the directory */
    ck_assert_msg(r != NULL, "%s", err.msg);
    ck_assert(exists("a/cp"));
    ck_assert_str_eq(ls_source_declared(ls_engine_plan(x)->sources[0])->group_id, ls_source_declared(ls_engine_plan(r)->sources[0])->group_id);
    ls_engine_free(r);
    ls_engine_free(x);
    /* and once it exists, explain says so */
    x = compile(script, 1, &err);
    char *t = plan_text(x);
    ck_assert_msg(strstr(t, "(exists: a run resumes from it)") != NULL, "%s", t);
    free(t);
    ls_engine_free(x);
}
END_TEST

START_TEST(explain_abspath)
{
    char *real = realpath(dir, NULL);
    char in[1024], want[1024];
    snprintf(in, sizeof in, "%s/x/./y/../z//w", dir);
    snprintf(want, sizeof want, "%s/x/z/w", real);
    char *p = ls_abspath_to_be(in);
    ck_assert_str_eq(p, want);
    free(p);
    snprintf(in, sizeof in, "%s/nope/../../%s", dir, strrchr(real, '/') + 1);
    p = ls_abspath_to_be(in);
    ck_assert_str_eq(p, real); /* ".." climbs out of what does not exist yet */
    free(p);
    p = ls_abspath_to_be(dir);
    ck_assert_str_eq(p, real);
    free(p);
    p = ls_abspath_to_be("/");
    ck_assert_str_eq(p, "/");
    free(p);
    p = ls_abspath_to_be("/no-such-dir-luastream/q");
    ck_assert_str_eq(p, "/no-such-dir-luastream/q");
    free(p);
    char *cwd = getcwd(NULL, 0);
    ck_assert_int_eq(chdir(dir), 0);
    p = ls_abspath_to_be("rel/dir");
    snprintf(want, sizeof want, "%s/rel/dir", real);
    ck_assert_str_eq(p, want);
    free(p);
    ck_assert_int_eq(chdir(cwd), 0);
    free(cwd);
    free(real);
}
END_TEST

START_TEST(explain_planned_sinks_refuse_writes)
{
    ls_err err = { "" };
    ls_props props = { 0 };
    ls_props_set(&props, "linger.ms", "5");
    ls_sink_plan in = { .kind = LS_PLAN_KAFKA, .topic = "t", .bootstrap = "127.0.0.1:1",
                        .props = &props };
    ls_sink *s = ls_sink_planned(&in, &err);
    ls_props_free(&props); /* the plan holds its own copy */
    ck_assert_ptr_nonnull(s);
    const ls_sink_plan *p = ls_sink_plan_of(s);
    ck_assert_ptr_nonnull(p);
    ck_assert_str_eq(p->topic, "t");
    ck_assert_str_eq(p->props->values[0], "5");
    ck_assert_ptr_null(p->txn_id);
    ck_assert_str_eq(s->description, "KafkaSink[t]");
    ck_assert_int_eq(s->vt->open_batch(s, 0, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "only planned"));
    ls_row row = { 0 };
    ck_assert_int_eq(s->vt->write(s, &row, &err), -1);
    ls_out o = { 0 };
    ck_assert_int_eq(s->vt->write_out(s, &o, &err), -1);
    ck_assert_int_eq(s->vt->close_batch(s, &err), -1);
    ls_sink_destroy(s);

    ls_sink_plan j = { .kind = LS_PLAN_JSONL, .dir = "d", .name = "q" };
    s = ls_sink_planned(&j, &err);
    ck_assert_str_eq(ls_sink_plan_of(s)->path, "d/q.jsonl");
    ck_assert_str_eq(s->description, "FileSink[d/q.jsonl]");
    ls_sink_destroy(s);

    ls_console_opts co = { 0 };
    co.num_rows = 5;
    s = ls_sink_console_new(&co, stdout);
    ck_assert_ptr_null(ls_sink_plan_of(s)); /* a real sink */
    ls_sink_destroy(s);
    ck_assert_ptr_null(ls_sink_plan_of(NULL));
}
END_TEST

/* Declarations changed behind the API's back: a message or a plan (text and
 * valid JSON), never a crash. */
START_TEST(explain_hostile_declarations)
{
    static const char *base =
        "local ls = require 'luastream'\n"
        "local s = ls.kafka_source { topic = 't', bootstrap = '127.0.0.1:1' }\n"
        "local t = ls.json_table('DIR/radio.json', { key = 'code' })\n"
        "ls.query 'q' { from = s, group_by = { 'a' }, join = { with = t, on = 'code' },\n"
        "               sink = ls.jsonl_sink('DIR/o') }\n"
        "local D, Q = ls._declared, ls._declared.queries[1]\n";
    static const char *tails[] = {
        "Q.sink = { _kind = 'sink', type = 'kafka', prefix = 'p', kafka = { ['a'] = {} } }\n",
        "Q.sink = { type = 'kafka', topic = 'x', headers = { h = 'v' }, key = 'a' }\n",
        "Q.sink = { type = 'kafka' }\n",
        "Q.sink = { type = 'console', format = 5 }\n",
        "Q.sink = { type = 'jsonl', dir = 'a\\0b' }\n",
        "D.dead_letter = { type = 'kafka', prefix = 5 }\n",
        "D.dead_letter = { type = 'jsonl' }\n",
        "D.dead_letter = { type = 'kafka', topic = 'dl', kafka = { ['linger.ms'] = 'x' } }\n",
        "D.sources[1].schema = { a = 'int', code = 'string' }\n",
        "D.sources[1].schema = { b = 'int' }\n",
        "Q.filters = { { column = 'a', op = 'in', values = { 1, 'x', true, 2.5 } } }\n",
        "Q.filters = { { column = 'a', op = 'between', values = { 1 } } }\n",
        "Q.filters = { { column = '@key', op = 'is null', values = {} } }\n",
        "Q.group_by = {}\nQ.aggregates = {}\nQ.output_mode = 'append'\n",
        "Q.event_time = 'a'\nQ.watermark_ms = 0\nQ.output_mode = 'update'\n",
        "Q.name = ('n'):rep(300)\n",
        "D.checkpoint = 5\n",
        "setmetatable(Q, { __index = function() error('boom') end })\n",
    };
    for (size_t i = 0; i < sizeof tails / sizeof *tails; i++) {
        char script[2048];
        ls_err err = { "" };
        snprintf(script, sizeof script, "%s%s", base, tails[i]);
        ls_engine *e = compile(script, 1, &err);
        if (!e) {
            ck_assert_msg(err.msg[0] != '\0', "case %zu: no message", i);
            continue;
        }
        char *t = plan_text(e);
        ck_assert_msg(strstr(t, "\nquery ") != NULL, "case %zu:\n%s", i, t);
        free(t);
        yajl_tree_free(plan_json(e));
        ls_engine_free(e);
        ck_assert_msg(!exists("o"), "case %zu created the output directory", i);
    }
}
END_TEST

Suite *explain_suite(void)
{
    Suite *s = suite_create("explain");
    TCase *tc = tcase_create("plan");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, explain_opens_nothing);
    tcase_add_test(tc, explain_text_plan);
    tcase_add_test(tc, explain_json_plan);
    tcase_add_test(tc, explain_topic_function_and_schema);
    tcase_add_test(tc, explain_script_errors_as_a_run);
    tcase_add_test(tc, explain_command);
    tcase_add_test(tc, explain_group_id_as_a_run);
    tcase_add_test(tc, explain_abspath);
    tcase_add_test(tc, explain_planned_sinks_refuse_writes);
    tcase_add_test(tc, explain_hostile_declarations);
    suite_add_tcase(s, tc);
    return s;
}
