/* test_trigger_progress.c - trigger parsing and the progress report. */
#include <check.h>
#include <lauxlib.h>
#include <lua.h>
#include <stdlib.h>
#include <string.h>
#include <yajl_tree.h>

#include "ls_deadletter.h"
#include "ls_query_impl.h" /* white-box: a query\'s watermark and ids set by hand */
#include "ls_source_impl.h" /* white-box: fakes partitions */
#include "ls_sink.h"
#include "ls_source.h"
#include "ls_table.h"
#include "ls_engine.h"
#include "ls_json_lua.h"
#include "ls_progress.h"
#include "suites.h"
#include "test_helpers.h"

START_TEST(trigger_parse_values)
{
    ls_trigger t;
    char text[64];
    ck_assert_int_eq(ls_trigger_parse("2 seconds", &t), 0);
    ck_assert_int_eq(t.kind, LS_TRIGGER_INTERVAL);
    ck_assert_int_eq(t.interval_ms, 2000);
    ls_trigger_text(&t, text, sizeof text);
    ck_assert_str_eq(text, "every 2000 ms");
    ck_assert_int_eq(ls_trigger_parse("500ms", &t), 0);
    ck_assert_int_eq(t.kind, LS_TRIGGER_INTERVAL);
    ck_assert_int_eq(t.interval_ms, 500);
    ck_assert_int_eq(ls_trigger_parse("0 seconds", &t), 0);
    ck_assert_int_eq(t.interval_ms, 0);
    ck_assert_int_eq(ls_trigger_parse("once", &t), 0);
    ck_assert_int_eq(t.kind, LS_TRIGGER_ONCE);
    ls_trigger_text(&t, text, sizeof text);
    ck_assert_str_eq(text, "once");
    ck_assert_int_eq(ls_trigger_parse("available-now", &t), 0);
    ck_assert_int_eq(t.kind, LS_TRIGGER_AVAILABLE_NOW);
    ls_trigger_text(&t, text, sizeof text);
    ck_assert_str_eq(text, "available-now");
    t.kind = LS_TRIGGER_ONCE;
    ck_assert_int_eq(ls_trigger_parse("availableNow", &t), 0);
    ck_assert_int_eq(t.kind, LS_TRIGGER_AVAILABLE_NOW);
}
END_TEST

START_TEST(trigger_parse_rejects)
{
    static const char *const bad[] = { "", "bad", "twice", "2 parsecs", "-2 seconds", "Once " };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ls_trigger t = { LS_TRIGGER_ONCE, 77 };
        ck_assert_msg(ls_trigger_parse(bad[i], &t) == -1, "\"%s\" should be rejected", bad[i]);
    }
    ls_trigger t;
    ck_assert_int_eq(ls_trigger_parse(NULL, &t), -1);
}
END_TEST

/* ---- progress ------------------------------------------------------- */

static yajl_val get(yajl_val v, const char *a, const char *b, const char *c)
{
    const char *path[] = { a, b, c, NULL };
    return yajl_tree_get(v, path, yajl_t_any);
}

static void expect_int(yajl_val root, const char *a, const char *b, const char *c, long long want)
{
    yajl_val v = get(root, a, b, c);
    ck_assert_msg(v && YAJL_IS_INTEGER(v), "%s.%s.%s is not an integer", a, b ? b : "", c ? c : "");
    ck_assert_int_eq(YAJL_GET_INTEGER(v), want);
}

static void expect_num(yajl_val root, const char *a, double want)
{
    yajl_val v = get(root, a, NULL, NULL);
    ck_assert_msg(v && YAJL_IS_NUMBER(v), "%s is not a number", a);
    ck_assert_double_eq_tol(YAJL_GET_DOUBLE(v), want, 1e-9);
}

static void expect_str(yajl_val root, const char *a, const char *b, const char *want)
{
    yajl_val v = get(root, a, b, NULL);
    ck_assert_msg(v && YAJL_IS_STRING(v), "%s.%s is not a string", a, b ? b : "");
    ck_assert_str_eq(YAJL_GET_STRING(v), want);
}

static yajl_val only_elem(yajl_val root, const char *key)
{
    yajl_val arr = get(root, key, NULL, NULL);
    ck_assert_msg(arr && YAJL_IS_ARRAY(arr), "%s is not an array", key);
    ck_assert_uint_eq(YAJL_GET_ARRAY(arr)->len, 1);
    return YAJL_GET_ARRAY(arr)->values[0];
}

static void push(lua_State *L, ls_query *q, ls_deadletter *dl, const char *json)
{
    ls_err err;
    ls_origin o = { .topic = "radio", .partition = 0, .offset = 0, .timestamp = -1, .timestamp_type = -1 };
    ck_assert_int_eq(ls_json_decode(L, json, strlen(json), NULL, &err), 0);
    ck_assert_int_eq(ls_query_process(q, -1, NULL, &o, json, strlen(json), ls_reject_to(dl), &err), 0);
    lua_pop(L, 1);
}

START_TEST(progress_json_fields)
{
    lua_State *L = luaL_newstate();
    char *dir = th_tmpdir();
    ls_err err = { "" };
    size_t n = strlen(dir) + 32;
    char *dlp = malloc(n);
    snprintf(dlp, n, "%s/dl.jsonl", dir);
    ls_deadletter *dl = ls_deadletter_file(dlp, &err);
    ck_assert_ptr_nonnull(dl);

    /* a source that was never opened, with two partitions filled in by hand */
    ls_source *src = ls_source_new("localhost:9092");
    ls_source_add_topic(src, "radio");
    ls_source_decl_of(src)->name = strdup("KafkaV2[Subscribe[radio]]");
    src->nparts = 2;
    src->parts = calloc(2, sizeof *src->parts);
    src->parts[0] = (ls_source_part){ .topic = strdup("radio"), .partition = 0, .next = 3, .latest = 3, .batch_start = 0, .bound = -1, .resume = -1, .fixed_end = -1 };
    src->parts[1] = (ls_source_part){ .topic = strdup("radio"), .partition = 1, .next = 9, .latest = 12, .batch_start = 5, .bound = -1, .resume = -1, .fixed_end = -1 };

    ls_query *q = ls_query_new("radio_counts", L);
    ls_query_decl_of(q)->source = src;
    ls_query_decl_of(q)->groups = calloc(1, sizeof *ls_query_decl_of(q)->groups);
    ls_query_declared(q)->groups[0].name = strdup("window");
    ls_query_declared(q)->groups[0].is_window = 1;
    ls_query_declared(q)->groups[0].win.size = ls_query_declared(q)->groups[0].win.slide = 600000;
    ls_query_declared(q)->groups[0].col = (ls_colref){ strdup("time"), -1, -1, -1, 0 };
    ls_query_decl_of(q)->ngroups = 1;
    ls_query_decl_of(q)->aggs = calloc(1, sizeof *ls_query_decl_of(q)->aggs);
    ls_query_decl_of(q)->agg_cols = calloc(1, sizeof *ls_query_decl_of(q)->agg_cols);
    ls_query_declared(q)->aggs[0].fn = LS_AGG_COUNT;
    ls_query_declared(q)->aggs[0].name = strdup("count");
    ls_query_decl_of(q)->naggs = 1;
    ls_query_decl_of(q)->has_event_time = 1;
    ls_query_decl_of(q)->event_time = (ls_colref){ strdup("time"), -1, -1, -1, 0 };
    ls_query_decl_of(q)->has_watermark = 1;
    ls_watermark_init(&q->wm, 600000);
    ls_query_decl_of(q)->mode = LS_MODE_UPDATE;
    ck_assert_msg(ls_query_ready(q, 3, &err) == 0, "%s", err.msg);
    ls_query_decl_of(q)->sink = ls_sink_jsonl_new(dir, ls_query_decl_of(q)->name, &err);
    ck_assert_ptr_nonnull(ls_query_declared(q)->sink);

    /* batch 0 sets the watermark to 12:05, batch 1 to 12:10 */
    ls_query_begin_batch(q, 0);
    push(L, q, dl, "{\"time\":\"2018-12-31T12:15:00Z\"}");
    push(L, q, dl, "{\"time\":\"2018-12-31T12:01:00Z\"}");
    ck_assert_int_eq(ls_query_end_batch(q, &err), 0);
    ls_query_begin_batch(q, 1);
    push(L, q, dl, "{\"time\":\"2018-12-31T12:20:00Z\"}");
    ck_assert_int_eq(ls_query_end_batch(q, &err), 0);

    /* batch 2 runs with 12:10 and judges late rows by 12:05 */
    ls_query_begin_batch(q, 2);
    q->since_prev_ms = 2000.0; /* as the engine sets it */
    push(L, q, dl, "{\"time\":\"2018-12-31T12:10:00Z\"}");
    push(L, q, dl, "{\"time\":\"2018-12-31T12:30:00Z\"}");
    push(L, q, dl, "{\"time\":\"2018-12-31T11:50:00Z\"}"); /* [11:50,12:00) is late */
    push(L, q, dl, "{\"time\":\"not a time\"}");           /* invalid */
    ck_assert_int_eq(ls_query_end_batch(q, &err), 0);

    ls_batch_timing tm = { .trigger_wall_ms = 1546300620000LL, .trigger_ms = 500.0,
                           .latest_offset_ms = 2.2, .get_batch_ms = 100.4, .decode_ms = 3.6,
                           .wal_ms = 1.0, .commit_ms = 7.0, .checkpointed = 1 };
    ls_buf out;
    ls_buf_init(&out);
    ls_progress_json(q, &tm, &out);
    ck_assert_ptr_null(strchr(out.data, '\n'));
    char perr[256];
    yajl_val root = yajl_tree_parse(out.data, perr, sizeof perr);
    ck_assert_msg(root != NULL, "%s: %s", perr, out.data);

    expect_str(root, "id", NULL, q->id);
    expect_str(root, "runId", NULL, q->run_id);
    ck_assert_uint_eq(strlen(q->id), 36);
    ck_assert_str_ne(q->id, q->run_id);
    expect_str(root, "name", NULL, "radio_counts");
    expect_str(root, "timestamp", NULL, "2018-12-31T23:57:00.000Z");
    expect_int(root, "batchId", NULL, NULL, 2);
    expect_int(root, "batchDuration", NULL, NULL, 500);
    expect_int(root, "numInputRows", NULL, NULL, 4);
    expect_num(root, "inputRowsPerSecond", 2.0);      /* 4 rows / 2 s since the previous batch */
    expect_num(root, "processedRowsPerSecond", 8.0);  /* 4 rows / 0.5 s */
    expect_int(root, "numInvalidRows", NULL, NULL, 1);

    yajl_val d = get(root, "durationMs", NULL, NULL);
    ck_assert(d && YAJL_IS_OBJECT(d));
    expect_int(root, "durationMs", "getBatch", NULL, 100);
    expect_int(root, "durationMs", "latestOffset", NULL, 2);
    expect_int(root, "durationMs", "walCommit", NULL, 1);
    expect_int(root, "durationMs", "commitOffsets", NULL, 7);
    expect_int(root, "durationMs", "decode", NULL, 4);
    expect_int(root, "durationMs", "triggerExecution", NULL, 500);
    ck_assert_ptr_nonnull(get(root, "durationMs", "addBatch", NULL));
    expect_int(root, "numLateInputRows", NULL, NULL, 1);

    expect_str(root, "eventTime", "min", "2018-12-31T11:50:00.000Z");
    expect_str(root, "eventTime", "max", "2018-12-31T12:30:00.000Z");
    expect_str(root, "eventTime", "avg", "2018-12-31T12:10:00.000Z");
    expect_str(root, "eventTime", "watermark", "2018-12-31T12:10:00.000Z"); /* in effect */

    yajl_val so = only_elem(root, "stateOperators");
    /* [12:00,12:10) evicted at 12:10; [12:10,12:20), [12:20,12:30), [12:30,12:40) remain */
    expect_int(so, "numRowsTotal", NULL, NULL, 3);
    expect_int(so, "numRowsUpdated", NULL, NULL, 2);
    expect_int(so, "numRowsDroppedByWatermark", NULL, NULL, 1);
    expect_int(so, "numRowsRemoved", NULL, NULL, 1);
    expect_int(so, "memoryUsedBytes", NULL, NULL, (long long)ls_state_memory(ls_query_state(q)));
    expect_int(so, "numShufflePartitions", NULL, NULL, 3);
    expect_int(so, "numStateStoreInstances", NULL, NULL, 3);
    expect_int(so, "commitTimeMs", NULL, NULL, 7);
    ck_assert_ptr_nonnull(get(so, "allUpdatesTimeMs", NULL, NULL));
    ck_assert_ptr_nonnull(get(so, "allRemovalsTimeMs", NULL, NULL));
    expect_str(so, "outputMode", NULL, "update");

    yajl_val src0 = only_elem(root, "sources");
    expect_str(src0, "description", NULL, "KafkaV2[Subscribe[radio]]");
    expect_int(src0, "startOffset", "radio", "0", 0);
    expect_int(src0, "startOffset", "radio", "1", 5);
    expect_int(src0, "endOffset", "radio", "0", 3);
    expect_int(src0, "endOffset", "radio", "1", 9);
    expect_int(src0, "latestOffset", "radio", "0", 3);
    expect_int(src0, "latestOffset", "radio", "1", 12);
    expect_int(src0, "numInputRows", NULL, NULL, 4);
    /* behind the latest offset: 0 and 3 */
    expect_str(src0, "metrics", "minOffsetsBehindLatest", "0");
    expect_str(src0, "metrics", "maxOffsetsBehindLatest", "3");
    expect_str(src0, "metrics", "avgOffsetsBehindLatest", "1.5");

    char desc[600];
    snprintf(desc, sizeof desc, "FileSink[%s/radio_counts.jsonl]", dir);
    expect_str(root, "sink", "description", desc);
    expect_int(root, "sink", "numOutputRows", NULL, 2);
    yajl_tree_free(root);

    /* the human line */
    FILE *f = tmpfile();
    ls_progress_human(q, &tm, f);
    char *line = th_read_stream(f, NULL);
    fclose(f);
    ck_assert_msg(strstr(line, "[radio_counts] batch 2: 4 rows") != NULL, "%s", line);
    ck_assert_msg(strstr(line, "1 invalid, 1 late") != NULL, "%s", line);
    ck_assert_msg(strstr(line, "watermark 2018-12-31T12:10:00Z") != NULL, "%s", line);
    free(line);

    ls_buf_free(&out);
    ls_query_free(q);
    ls_source_free(src);
    ls_deadletter_free(dl);
    lua_close(L);
    th_rmrf(dir);
    free(dir);
    free(dlp);
}
END_TEST

/* Before the first watermark, and with no events, the eventTime object says so. */
START_TEST(progress_json_empty_batch)
{
    lua_State *L = luaL_newstate();
    char *dir = th_tmpdir();
    ls_err err = { "" };
    ls_source *src = ls_source_new("localhost:9092");
    ls_source_decl_of(src)->name = strdup("src");
    ls_query *q = ls_query_new("q", L);
    ls_query_decl_of(q)->source = src;
    ls_query_decl_of(q)->groups = calloc(1, sizeof *ls_query_decl_of(q)->groups);
    ls_query_declared(q)->groups[0].name = strdup("k");
    ls_query_declared(q)->groups[0].col = (ls_colref){ strdup("k"), -1, -1, -1, 0 };
    ls_query_decl_of(q)->ngroups = 1;
    ls_query_decl_of(q)->has_event_time = 1;
    ls_query_decl_of(q)->event_time = (ls_colref){ strdup("t"), -1, -1, -1, 0 };
    ls_query_decl_of(q)->has_watermark = 1;
    ls_watermark_init(&q->wm, 1000);
    ck_assert_int_eq(ls_query_ready(q, 1, &err), 0);
    ls_query_decl_of(q)->sink = ls_sink_jsonl_new(dir, "q", &err);
    ls_query_begin_batch(q, 0);
    ck_assert_int_eq(ls_query_end_batch(q, &err), 0);
    ls_batch_timing tm = { 0 };
    ls_buf out;
    ls_buf_init(&out);
    ls_progress_json(q, &tm, &out);
    char perr[256];
    yajl_val root = yajl_tree_parse(out.data, perr, sizeof perr);
    ck_assert_msg(root != NULL, "%s", perr);
    expect_int(root, "numInputRows", NULL, NULL, 0);
    expect_num(root, "inputRowsPerSecond", 0.0);
    expect_num(root, "processedRowsPerSecond", 0.0);
    ck_assert_ptr_null(get(root, "eventTime", "min", NULL));
    expect_str(root, "eventTime", "watermark", "1970-01-01T00:00:00.000Z");
    expect_str(root, "timestamp", NULL, "1970-01-01T00:00:00.000Z");
    ck_assert_ptr_null(get(root, "durationMs", "walCommit", NULL)); /* no checkpoint */
    yajl_val so = only_elem(root, "stateOperators");
    expect_int(so, "numRowsTotal", NULL, NULL, 0);
    expect_str(so, "outputMode", NULL, "complete");
    yajl_val s0 = only_elem(root, "sources");
    yajl_val so_off = get(s0, "startOffset", NULL, NULL);
    ck_assert(so_off && YAJL_IS_NULL(so_off)); /* batch 0, as Spark */
    yajl_tree_free(root);
    ls_buf_free(&out);
    ls_query_free(q);
    ls_source_free(src);
    lua_close(L);
    th_rmrf(dir);
    free(dir);
}
END_TEST

Suite *trigger_progress_suite(void)
{
    Suite *s = suite_create("trigger_progress");
    TCase *tc = tcase_create("trigger");
    tcase_add_test(tc, trigger_parse_values);
    tcase_add_test(tc, trigger_parse_rejects);
    suite_add_tcase(s, tc);
    tc = tcase_create("progress");
    tcase_add_test(tc, progress_json_fields);
    tcase_add_test(tc, progress_json_empty_batch);
    suite_add_tcase(s, tc);
    return s;
}
