/* test_engine.c - the engine's batch loop without a broker: a script over a
 * file source, run available-now with a cap, checked batch by batch through
 * its progress reports (batch ids, rows per batch, the no-data batch the
 * watermark asks for, the watermark itself) and its rows; the same rows
 * with worker threads. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ls_app.h"
#include "ls_engine.h"
#include "suites.h"
#include "test_helpers.h"

static char *put(const char *dir, const char *name, const char *text)
{
    return th_write_file(dir, name, text, strlen(text));
}

static char *write_script(const char *dir, const char *text) { return put(dir, "job.lua", text); }

/* Runs path to the end; returns the progress report text. */
static char *run(const char *path, const char *progress, int parallelism)
{
    ls_engine_opts o = { 0 };
    o.script = path;
    o.trigger = "available-now";
    o.progress_path = progress;
    o.parallelism = parallelism;
    o.quiet = 1;
    ls_err err;
    ls_engine *e = ls_engine_new(&o, &err);
    ck_assert_msg(e != NULL, "%s", err.msg);
    ck_assert_msg(ls_engine_run(e, &err) == 0, "%s", err.msg);
    ls_engine_free(e);
    return th_read_file(progress, NULL);
}

START_TEST(capped_batches_then_a_no_data_batch)
{
    ck_assert_int_eq(th_set_lua_path(), 0);
    char *dir = th_tmpdir();
    /* 7 records over two files: batches of 3, 3, 1, then the watermark's no-data batch */
    free(put(dir, "a.ndjson",
                       "{\"k\":\"x\",\"t\":\"2024-01-01T10:00:00\"}\n"
                       "{\"k\":\"x\",\"t\":\"2024-01-01T10:01:00\"}\n"
                       "{\"k\":\"y\",\"t\":\"2024-01-01T10:02:00\"}\n"
                       "{\"k\":\"x\",\"t\":\"2024-01-01T10:12:00\"}\n"));
    free(put(dir, "b.ndjson",
                       "{\"k\":\"y\",\"t\":\"2024-01-01T10:13:00\"}\n"
                       "{\"k\":\"x\",\"t\":\"2024-01-01T10:30:00\"}\n"
                       "{\"k\":\"y\",\"t\":\"2024-01-01T10:31:00\"}\n"));
    char text[1024], out[600], prog[600], prog2[600];
    snprintf(out, sizeof out, "%s/out", dir);
    snprintf(prog, sizeof prog, "%s/progress.jsonl", dir);
    snprintf(prog2, sizeof prog2, "%s/progress2.jsonl", dir);
    snprintf(text, sizeof text,
             "local ls = require 'luastream'\n"
             "local f = ls.file_source { path = '%s/*.ndjson', max_records_per_trigger = 3 }\n"
             "ls.query 'w' { from = f, watermark = { 't', '5 minutes' },\n"
             "  group_by = { ls.window('t', '10 minutes'), 'k' }, aggregate = { ls.count() },\n"
             "  output_mode = 'append', sink = ls.jsonl_sink('%s') }\n", dir, out);
    char *script = write_script(dir, text);
    char *p = run(script, prog, 1);
    char *lines[16];
    int n = th_lines(p, lines, 16);
    ck_assert_int_eq(n, 4);
    const char *rows[] = { "\"numInputRows\":3", "\"numInputRows\":3", "\"numInputRows\":1",
                           "\"numInputRows\":0" };
    for (int i = 0; i < n; i++) {
        char id[32];
        snprintf(id, sizeof id, "\"batchId\":%d", i);
        ck_assert_msg(strstr(lines[i], id), "%s", lines[i]);
        ck_assert_msg(strstr(lines[i], rows[i]), "batch %d: %s", i, lines[i]);
    }
    /* after batch 2 the latest event is 10:31: the watermark 10:26 closes 10:00 and 10:10 */
    ck_assert_msg(strstr(lines[3], "\"watermark\":\"2024-01-01T10:26:00.000Z\""), "%s", lines[3]);
    free(p);
    char wpath[700];
    snprintf(wpath, sizeof wpath, "%s/w.jsonl", out);
    char *rows1 = th_read_file(wpath, NULL);
    ck_assert_int_eq(th_count(rows1, "\n"), 4); /* (10:00, x), (10:00, y), (10:10, x), (10:10, y) */
    ck_assert_int_eq(th_count(rows1, "\"count\":2"), 1);

    /* with two workers: the same batches and rows */
    remove(wpath);
    p = run(script, prog2, 2);
    ck_assert_int_eq(th_count(p, "\n"), 4);
    char *rows2 = th_read_file(wpath, NULL);
    ck_assert_str_eq(rows1, rows2);
    free(p);
    free(rows1);
    free(rows2);
    free(script);
    th_rmrf(dir);
    free(dir);
}
END_TEST

START_TEST(nothing_to_read_runs_no_batch)
{
    ck_assert_int_eq(th_set_lua_path(), 0);
    char *dir = th_tmpdir();
    char text[512], prog[600];
    snprintf(prog, sizeof prog, "%s/progress.jsonl", dir);
    snprintf(text, sizeof text,
             "local ls = require 'luastream'\n"
             "ls.query 'q' { from = ls.file_source { path = '%s/none/*.json' }, group_by = { 'k' },\n"
             "  sink = ls.jsonl_sink('%s/out') }\n", dir, dir);
    char *script = write_script(dir, text);
    char *p = run(script, prog, 1);
    ck_assert_msg(!p || p[0] == '\0', "a batch ran: %s", p ? p : "");
    free(p);
    free(script);
    th_rmrf(dir);
    free(dir);
}
END_TEST

/* --app (issue 12): the id's rules, and what a member cannot run yet is
 * refused while loading, before anything connects or is created. */
static char *app_refusal(const char *script, const char *app, const char *checkpoint)
{
    ls_engine_opts o = { 0 };
    o.script = script;
    o.app = app;
    o.checkpoint = checkpoint;
    o.quiet = 1;
    ls_err err;
    ls_engine *e = ls_engine_new(&o, &err);
    ck_assert_msg(e == NULL, "loaded: %s", script);
    return strdup(err.msg);
}

START_TEST(app_ids_and_refusals)
{
    ls_err err;
    ck_assert_int_eq(ls_app_check_id("calls-split.v2_A", &err), 0);
    const char *bad[] = { "", "a/b", "job 1", ".", "..", "caf\xc3\xa9" };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        ck_assert_msg(ls_app_check_id(bad[i], &err) == -1, "%s accepted", bad[i]);
    char longid[LS_APP_ID_MAX + 2];
    memset(longid, 'a', sizeof longid - 1);
    longid[sizeof longid - 1] = '\0';
    ck_assert_int_eq(ls_app_check_id(longid, &err), -1);
    ck_assert_msg(strstr(err.msg, "1 to 200 characters, got 201"), "%s", err.msg);
    longid[LS_APP_ID_MAX] = '\0';
    ck_assert_int_eq(ls_app_check_id(longid, &err), 0);

    ck_assert_int_eq(th_set_lua_path(), 0);
    char *dir = th_tmpdir();
    char text[1024], ck[600];
    snprintf(ck, sizeof ck, "%s/ck", dir);
    /* a session window, with ls.app in the script: refused at the query's line */
    char *agg = put(dir, "agg.lua",
                    "local ls = require 'luastream'\n"
                    "ls.app 'from-script'\n"
                    "local s = ls.kafka_source { topic = 't', bootstrap = '127.0.0.1:1' }\n"
                    "ls.query 'counts' { from = s, group_by = { 'k', ls.session_window('t', '5 minutes') },\n"
                    "  aggregate = { ls.count() }, output_mode = 'append', watermark = { 't', '1 minute' } }\n");
    char *m = app_refusal(agg, NULL, NULL);
    ck_assert_msg(strstr(m, "agg.lua:4: query counts: a session window with app id from-script"), "%s", m);
    free(m);
    m = app_refusal(agg, "from-flag", NULL); /* the flag wins */
    ck_assert_msg(strstr(m, "with app id from-flag"), "%s", m);
    free(m);
    /* order_by: no member holds the whole result */
    char *ord = put(dir, "ord.lua",
                    "local ls = require 'luastream'\n"
                    "local s = ls.kafka_source { topic = 't', bootstrap = '127.0.0.1:1' }\n"
                    "ls.query 'counts' { from = s, group_by = { 'k' }, aggregate = { ls.count() },\n"
                    "  output_mode = 'complete', order_by = { 'count' } }\n");
    m = app_refusal(ord, "job", NULL);
    ck_assert_msg(strstr(m, "ord.lua:3: query counts: order_by and limit with app id job"), "%s", m);
    free(m);
    /* a checkpoint is the member's state cache: no refusal of its own */
    m = app_refusal(agg, "job", ck);
    ck_assert_msg(strstr(m, "a session window with app id job"), "%s", m);
    free(m);
    /* --standbys without an app id */
    {
        ls_engine_opts o = { 0 };
        o.script = ord;
        o.standbys = 1;
        o.standbys_given = 1;
        o.quiet = 1;
        ls_engine *e = ls_engine_new(&o, &err);
        ck_assert_ptr_null(e);
        ck_assert_msg(strstr(err.msg, "--standbys 1 without an app id") && strstr(err.msg, "--app ID"),
                      "%s", err.msg);
    }
    /* --standbys with an app id but no aggregation: nothing to stand by for */
    {
        char *fwd = put(dir, "fwd.lua",
                        "local ls = require 'luastream'\n"
                        "local a = ls.kafka_source { topic = 'a', bootstrap = '127.0.0.1:1' }\n"
                        "ls.query 'q' { from = a, map = function(r) return r end }\n");
        ls_engine_opts o = { 0 };
        o.script = fwd;
        o.app = "job";
        o.standbys = 2;
        o.standbys_given = 1;
        o.quiet = 1;
        ls_engine *e = ls_engine_new(&o, &err);
        ck_assert_ptr_null(e);
        ck_assert_msg(strstr(err.msg, "--standbys 2: app job runs no aggregation") &&
                      strstr(err.msg, "leave --standbys out"), "%s", err.msg);
        free(fwd);
    }
    free(ord);
    /* a file source */
    snprintf(text, sizeof text,
             "local ls = require 'luastream'\n"
             "ls.query 'q' { from = ls.file_source { path = '%s/*.json' } }\n", dir);
    char *files = put(dir, "files.lua", text);
    m = app_refusal(files, "job", NULL);
    ck_assert_msg(strstr(m, "ls.file_source with app id job"), "%s", m);
    free(m);
    /* two sources; a group_id of another name */
    char *two = put(dir, "two.lua",
                    "local ls = require 'luastream'\n"
                    "local a = ls.kafka_source { topic = 'a', bootstrap = '127.0.0.1:1' }\n"
                    "local b = ls.kafka_source { topic = 'b', bootstrap = '127.0.0.1:1' }\n"
                    "ls.query 'q' { from = a }\n");
    m = app_refusal(two, "job", NULL);
    ck_assert_msg(strstr(m, "two.lua:3: source 2: with app id job a script reads one Kafka source"),
                  "%s", m);
    free(m);
    char *gid = put(dir, "gid.lua",
                    "local ls = require 'luastream'\n"
                    "local a = ls.kafka_source { topic = 'a', bootstrap = '127.0.0.1:1', group_id = 'g' }\n"
                    "ls.query 'q' { from = a }\n");
    m = app_refusal(gid, "job", NULL);
    ck_assert_msg(strstr(m, "gid.lua:2: source 1: group_id g: with app id job the consumer group is "
                            "the app id"), "%s", m);
    free(m);
    free(agg);
    free(files);
    free(two);
    free(gid);
    th_rmrf(dir);
    free(dir);
}
END_TEST

Suite *engine_suite(void)
{
    Suite *s = suite_create("engine");
    TCase *tc = tcase_create("batches");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, capped_batches_then_a_no_data_batch);
    tcase_add_test(tc, nothing_to_read_runs_no_batch);
    tcase_add_test(tc, app_ids_and_refusals);
    suite_add_tcase(s, tc);
    return s;
}
