/* test_query.c - ls_query end to end without Kafka: queries built by hand
 * (as src/ls_lua_api.c's compile_query does), records decoded with
 * ls_json_decode, rows read back from a JSON-lines sink.
 *
 * Queries without a map run twice (loop tests, _i = 0 / 1): once reading
 * their columns from the Lua table, once projected (ls_query_project) and
 * fed by ls_json_scan through a ls_recview, as the engine does; both must
 * give the same rows. */
#include <check.h>
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdlib.h>
#include <string.h>

#include "ls_json_lua.h"
#include "ls_deadletter.h"
#include "ls_query.h"
#include "ls_query_impl.h" /* white-box: partial counters and states */
#include "ls_sink.h"
#include "ls_source.h"
#include "ls_table.h"
#include "suites.h"
#include "test_helpers.h"

#define MIN (60 * 1000LL)

static lua_State *L;
static char *dir;
static char *dl_path;
static ls_deadletter *dl;
/* queries made ready from now on read a projected view (set per loop test) */
static int projected;

static void setup(void)
{
    projected = 0;
    L = luaL_newstate();
    luaL_openlibs(L);
    dir = th_tmpdir();
    ck_assert_ptr_nonnull(dir);
    size_t n = strlen(dir) + 32;
    dl_path = malloc(n);
    snprintf(dl_path, n, "%s/dead_letter.jsonl", dir);
    ls_err err;
    dl = ls_deadletter_file(dl_path, &err);
    ck_assert_ptr_nonnull(dl);
}

static void teardown(void)
{
    ls_deadletter_free(dl);
    dl = NULL;
    lua_close(L);
    L = NULL;
    th_rmrf(dir);
    free(dir);
    free(dl_path);
    dir = dl_path = NULL;
}

/* ---- building queries ---------------------------------------------- */

typedef struct tq {
    ls_query *q;
    char *path;  /* the sink's file */
    size_t pos;  /* bytes already checked */
    ls_fieldset *fs;  /* projected queries: their fields and the view */
    ls_recview view;
} tq;

static ls_colref colref(const char *name)
{
    ls_colref c = { strdup(name), -1, -1, -1, 0 };
    return c;
}

static tq *qnew(const char *name)
{
    tq *t = calloc(1, sizeof *t);
    t->q = ls_query_new(name, L);
    t->q->d.groups = calloc(8, sizeof *t->q->d.groups);
    t->q->d.aggs = calloc(8, sizeof *t->q->d.aggs);
    t->q->d.agg_cols = calloc(8, sizeof *t->q->d.agg_cols);
    t->q->d.joins = calloc(4, sizeof *t->q->d.joins);
    return t;
}

static void qfree(tq *t)
{
    if (t->fs) {
        ls_recview_free(&t->view);
        ls_fieldset_free(t->fs);
    }
    ls_query_free(t->q);
    free(t->path);
    free(t);
}

static void add_group(tq *t, const char *col)
{
    ls_groupcol *g = &t->q->d.groups[t->q->d.ngroups++];
    g->name = strdup(col);
    g->col = colref(col);
}

/* A group column provided by a join (what resolve() does for table columns). */
static void add_group_from_join(tq *t, const char *name, int join)
{
    ls_groupcol *g = &t->q->d.groups[t->q->d.ngroups++];
    g->name = strdup(name);
    g->col = colref(name);
    g->col.join = join;
    g->col.tcol = ls_table_col(t->q->d.joins[join].table, name);
    ck_assert_int_ge(g->col.tcol, 0);
}

static void add_window(tq *t, const char *col, int64_t size, int64_t slide)
{
    ls_groupcol *g = &t->q->d.groups[t->q->d.ngroups++];
    g->name = strdup("window");
    g->is_window = 1;
    g->win.size = size;
    g->win.slide = slide;
    g->col = colref(col);
}

static void add_agg(tq *t, ls_agg_fn fn, const char *col, const char *name)
{
    size_t i = t->q->d.naggs++;
    t->q->d.aggs[i].fn = fn;
    t->q->d.aggs[i].column = col ? strdup(col) : NULL;
    t->q->d.aggs[i].name = strdup(name);
    if (col) t->q->d.agg_cols[i] = colref(col);
}

static void set_watermark(tq *t, const char *col, int64_t delay)
{
    t->q->d.has_event_time = 1;
    t->q->d.event_time = colref(col);
    t->q->d.has_watermark = 1;
    ls_watermark_init(&t->q->wm, delay);
}

static void add_join(tq *t, ls_table *tab, const char *left, int inner)
{
    ls_join *j = &t->q->d.joins[t->q->d.njoins++];
    j->table = tab;
    j->left = colref(left);
    j->inner = inner;
    j->tcols = calloc(tab->ncols + 1, sizeof *j->tcols);
    for (size_t c = 1; c < tab->ncols; c++) j->tcols[j->ncols++] = (int)c; /* all but the key */
}

/* ls_query_ready plus a JSON-lines sink in the temp dir. */
static void ready(tq *t, ls_mode mode, int parts)
{
    ls_err err = { "" };
    t->q->d.mode = mode;
    ck_assert_msg(ls_query_ready(t->q, parts, &err) == 0, "ls_query_ready: %s", err.msg);
    t->q->d.sink = ls_sink_jsonl_new(dir, t->q->d.name, &err);
    ck_assert_msg(t->q->d.sink != NULL, "%s", err.msg);
    size_t n = strlen(dir) + strlen(t->q->d.name) + 16;
    t->path = malloc(n);
    snprintf(t->path, n, "%s/%s.jsonl", dir, t->q->d.name);
    if (projected && t->q->d.map_ref == LUA_NOREF) {
        /* as the engine's plan_decoding: a fresh fieldset, a view of its size */
        t->fs = ls_fieldset_new();
        ls_query_project(t->q, t->fs);
        ck_assert(t->q->use_view);
        ls_recview_init(&t->view, t->fs->n);
    }
}

/* ---- running them -------------------------------------------------- */

static int64_t next_offset;

static void push(tq *t, const char *json)
{
    ls_err err = { "" };
    ls_origin o = { .topic = "events", .partition = 3, .offset = next_offset++, .timestamp = -1, .timestamp_type = -1 };
    if (t->fs) {
        int top = lua_gettop(L);
        ck_assert_msg(ls_json_scan(json, strlen(json), t->fs, &t->view, &err) == 0, "%s: %s", json,
                      err.msg);
        ck_assert_int_eq(ls_query_process(t->q, 0, &t->view, &o, json, strlen(json), ls_reject_to(dl), &err), 0);
        ck_assert_int_eq(lua_gettop(L), top); /* no Lua stack use */
        return;
    }
    lua_pushliteral(L, "below"); /* the record need not be at the top */
    int top = lua_gettop(L);
    ck_assert_msg(ls_json_decode(L, json, strlen(json), NULL, &err) == 0, "%s: %s", json, err.msg);
    lua_pushliteral(L, "above");
    ck_assert_int_eq(ls_query_process(t->q, -2, NULL, &o, json, strlen(json), ls_reject_to(dl), &err), 0);
    ck_assert_int_eq(lua_gettop(L), top + 2); /* stack balanced */
    lua_settop(L, top - 1);
}

static void begin(tq *t, int64_t id)
{
    ls_err err = { "" };
    ls_query_begin_batch(t->q, id);
    ck_assert_msg(ls_query_open_rows(t->q, &err) == 0, "%s", err.msg); /* per-record queries */
}

static void end(tq *t)
{
    ls_err err = { "" };
    ck_assert_msg(ls_query_end_batch(t->q, &err) == 0, "%s", err.msg);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The rows written since the last check, in any order, must be exactly want. */
static void check_rows(tq *t, const char *const *want, size_t n, int sorted);

static void expect_rows(tq *t, const char *const *want, size_t n) { check_rows(t, want, n, 1); }
/* The rows of the batch in the order they were written. */
static void expect_rows_ordered(tq *t, const char *const *want, size_t n) { check_rows(t, want, n, 0); }

static void check_rows(tq *t, const char *const *want, size_t n, int sorted)
{
    size_t len;
    char *text = th_read_file(t->path, &len);
    ck_assert_ptr_nonnull(text);
    ck_assert_uint_ge(len, t->pos);
    char *lines[256];
    int got = th_lines(text + t->pos, lines, 256);
    t->pos = len;
    const char *exp[256];
    ck_assert_uint_le(n, 256);
    for (size_t i = 0; i < n; i++) exp[i] = want[i];
    if (sorted) {
        qsort(lines, (size_t)got, sizeof *lines, cmp_str);
        qsort(exp, n, sizeof *exp, cmp_str);
    }
    ls_buf g, w;
    ls_buf_init(&g);
    ls_buf_init(&w);
    ls_buf_puts(&g, "");
    ls_buf_puts(&w, "");
    for (int i = 0; i < got; i++) ls_buf_printf(&g, "%s\n", lines[i]);
    for (size_t i = 0; i < n; i++) ls_buf_printf(&w, "%s\n", exp[i]);
    ck_assert_msg(strcmp(g.data, w.data) == 0, "rows of %s:\n--- got\n%s--- want\n%s",
                  t->q->d.name, g.data, w.data);
    ls_buf_free(&g);
    ls_buf_free(&w);
    free(text);
}

#define ROWS(...) (const char *const[]){ __VA_ARGS__ }, sizeof((const char *const[]){ __VA_ARGS__ }) / sizeof(const char *)
#define NO_ROWS NULL, 0

#define REC(hm) "{\"time\":\"2018-12-31T" hm ":00Z\",\"station\":\"A\"}"
#define WROW(s, e, rest) "{\"window\":{\"start\":\"2018-12-31T" s ":00.000Z\",\"end\":\"2018-12-31T" e ":00.000Z\"}," rest "}"

static void expect_stats(tq *t, int64_t input, int64_t late, int64_t updated, int64_t output,
                         int64_t evicted, size_t groups)
{
    const ls_query_stats *s = &t->q->stats;
    ck_assert_int_eq(s->input_rows, input);
    ck_assert_int_eq(s->late_rows, late);
    ck_assert_int_eq(s->rows_updated, updated);
    ck_assert_int_eq(s->output_rows, output);
    ck_assert_int_eq(s->evicted_rows, evicted);
    ck_assert_uint_eq(ls_state_groups(t->q->state), groups);
    ck_assert_int_eq(t->q->d.sink->rows_in_batch, output);
}

/* ---- tests ---------------------------------------------------------- */

START_TEST(query_complete_group_by)
{
    projected = _i;
    tq *t = qnew("by_station");
    add_group(t, "station");
    add_agg(t, LS_AGG_COUNT, NULL, "n");
    add_agg(t, LS_AGG_SUM, "power", "total");
    add_agg(t, LS_AGG_MAX, "power", "peak");
    add_agg(t, LS_AGG_AVG, "power", "mean");
    add_agg(t, LS_AGG_COUNT, "power", "n_power");
    ready(t, LS_MODE_COMPLETE, 4);

    begin(t, 0);
    push(t, "{\"station\":\"A\",\"power\":1}");
    push(t, "{\"station\":\"B\",\"power\":2.5}");
    /* a number in a string is cast to double for sum and avg, as Spark's implicit
     * cast; max compares it as a string, above every number (JSON types decide) */
    push(t, "{\"station\":\"A\",\"power\":\"3\"}");
    push(t, "{\"station\":\"A\",\"power\":null}");
    push(t, "{\"station\":\"C\"}");
    end(t);
    expect_rows(t, ROWS("{\"station\":\"A\",\"n\":3,\"total\":4.0,\"peak\":\"3\",\"mean\":2.0,\"n_power\":2}",
                        "{\"station\":\"B\",\"n\":1,\"total\":2.5,\"peak\":2.5,\"mean\":2.5,\"n_power\":1}",
                        "{\"station\":\"C\",\"n\":1,\"total\":null,\"peak\":null,\"mean\":null,\"n_power\":0}"));
    expect_stats(t, 5, 0, 3, 3, 0, 3);

    begin(t, 1);
    push(t, "{\"station\":\"B\",\"power\":5}");
    end(t);
    /* complete: every group again */
    expect_rows(t, ROWS("{\"station\":\"A\",\"n\":3,\"total\":4.0,\"peak\":\"3\",\"mean\":2.0,\"n_power\":2}",
                        "{\"station\":\"B\",\"n\":2,\"total\":7.5,\"peak\":5,\"mean\":3.75,\"n_power\":2}",
                        "{\"station\":\"C\",\"n\":1,\"total\":null,\"peak\":null,\"mean\":null,\"n_power\":0}"));
    expect_stats(t, 1, 0, 1, 3, 0, 3);

    /* an empty batch still emits everything in complete mode */
    begin(t, 2);
    end(t);
    ck_assert_int_eq(t->q->stats.output_rows, 3);
    ck_assert_int_eq(t->q->stats.input_rows, 0);
    qfree(t);
}
END_TEST

START_TEST(query_update_mode_no_watermark)
{
    projected = _i;
    tq *t = qnew("upd");
    add_group(t, "station");
    add_agg(t, LS_AGG_COUNT, NULL, "n");
    ready(t, LS_MODE_UPDATE, 2);
    begin(t, 0);
    push(t, "{\"station\":\"A\"}");
    push(t, "{\"station\":\"B\"}");
    end(t);
    expect_rows(t, ROWS("{\"station\":\"A\",\"n\":1}", "{\"station\":\"B\",\"n\":1}"));
    begin(t, 1);
    push(t, "{\"station\":\"B\"}");
    push(t, "{\"station\":\"B\"}");
    end(t);
    expect_rows(t, ROWS("{\"station\":\"B\",\"n\":3}")); /* only changed groups */
    expect_stats(t, 2, 0, 1, 1, 0, 2);
    begin(t, 2);
    end(t);
    expect_rows(t, NO_ROWS);
    qfree(t);
}
END_TEST

START_TEST(query_global_aggregate)
{
    projected = _i;
    tq *t = qnew("global");
    add_agg(t, LS_AGG_COUNT, NULL, "n");
    add_agg(t, LS_AGG_MIN, "v", "lo");
    ready(t, LS_MODE_COMPLETE, 8);
    begin(t, 0);
    push(t, "{\"v\":3}");
    push(t, "{\"v\":-2}");
    push(t, "{\"w\":1}");
    end(t);
    expect_rows(t, ROWS("{\"n\":3,\"lo\":-2}"));
    ck_assert_uint_eq(ls_state_groups(t->q->state), 1);
    qfree(t);
}
END_TEST

/* Spark's timing: a batch evicts with the watermark computed before it
 * began, and judges late rows by the previous batch's watermark (one batch
 * behind); a late row is dropped per window, not per record. */
START_TEST(query_update_with_watermark)
{
    projected = _i;
    tq *t = qnew("upd_wm");
    add_window(t, "time", 10 * MIN, 10 * MIN);
    add_agg(t, LS_AGG_COUNT, NULL, "count");
    set_watermark(t, "time", 10 * MIN);
    ready(t, LS_MODE_UPDATE, 4);

    begin(t, 0);
    push(t, REC("12:01"));
    push(t, REC("12:07"));
    push(t, REC("12:15"));
    end(t);
    expect_rows(t, ROWS(WROW("12:00", "12:10", "\"count\":2"), WROW("12:10", "12:20", "\"count\":1")));
    expect_stats(t, 3, 0, 2, 2, 0, 2);
    ck_assert_int_eq(t->q->wm.batch, 0);
    ck_assert_int_eq(t->q->wm.global, 1546257900000LL); /* 12:15 - 10 min = 12:05 */
    ck_assert(ls_query_wants_batch(t->q));               /* it would evict: a no-data batch */

    begin(t, 1); /* runs with 12:05; late rows are judged by batch 0's watermark (0) */
    push(t, REC("12:06"));
    push(t, REC("11:04")); /* its window [11:00,11:10) ended before 12:05, but not before 0 */
    push(t, REC("12:31"));
    end(t);
    expect_rows(t, ROWS(WROW("11:00", "11:10", "\"count\":1"), WROW("12:00", "12:10", "\"count\":3"),
                        WROW("12:30", "12:40", "\"count\":1")));
    /* emitted, then evicted with 12:05: [11:00,11:10) */
    expect_stats(t, 3, 0, 3, 3, 1, 3);
    ck_assert_int_eq(t->q->wm.batch, 1546257900000LL);
    ck_assert_int_eq(t->q->wm.global, 1546258860000LL); /* 12:31 - 10 = 12:21 */

    begin(t, 2); /* runs with 12:21; late means a window ending at or before 12:05 */
    push(t, REC("11:55")); /* [11:50,12:00): late */
    push(t, REC("11:58")); /* the same window: one late row after aggregation */
    push(t, REC("12:02")); /* [12:00,12:10) ends 12:10: not late, counted, then evicted */
    end(t);
    expect_rows(t, ROWS(WROW("12:00", "12:10", "\"count\":4")));
    expect_stats(t, 3, 1, 1, 1, 2, 1); /* evicted: [12:00,12:10) and [12:10,12:20) */
    ck_assert_int_eq(t->q->stats.late_input_rows, 2);
    ck_assert_int_eq(t->q->stats.et_count, 3); /* late rows still have an event time */
    ck_assert(!ls_query_wants_batch(t->q));    /* 12:02 did not move the watermark */

    begin(t, 3);
    push(t, REC("12:45"));
    end(t);
    expect_rows(t, ROWS(WROW("12:40", "12:50", "\"count\":1")));
    expect_stats(t, 1, 0, 1, 1, 0, 2);
    qfree(t);
}
END_TEST

START_TEST(query_append_with_watermark)
{
    projected = _i;
    tq *t = qnew("app");
    add_window(t, "time", 10 * MIN, 10 * MIN);
    add_group(t, "station");
    add_agg(t, LS_AGG_COUNT, NULL, "count");
    set_watermark(t, "time", 10 * MIN);
    ready(t, LS_MODE_APPEND, 4);

    begin(t, 0);
    push(t, REC("12:01"));
    push(t, REC("12:07"));
    push(t, REC("12:15"));
    end(t);
    expect_rows(t, NO_ROWS); /* runs with watermark 0: no window is final */
    expect_stats(t, 3, 0, 2, 0, 0, 2);

    begin(t, 1); /* runs with 12:05 */
    push(t, REC("12:06"));
    push(t, REC("12:31"));
    end(t);
    expect_rows(t, NO_ROWS); /* no window ends at or before 12:05 */
    expect_stats(t, 2, 0, 2, 0, 0, 3);

    begin(t, 2); /* a no-data batch: runs with 12:21, so two windows are final */
    end(t);
    expect_rows(t, ROWS(WROW("12:00", "12:10", "\"station\":\"A\",\"count\":3"),
                        WROW("12:10", "12:20", "\"station\":\"A\",\"count\":1")));
    expect_stats(t, 0, 0, 0, 2, 2, 1);
    ck_assert(!ls_query_wants_batch(t->q));

    begin(t, 3); /* late rows are judged by 12:21, the watermark batch 2 ran with */
    push(t, REC("12:04")); /* [12:00,12:10) ended before 12:21: late */
    end(t);
    expect_rows(t, NO_ROWS);
    expect_stats(t, 1, 1, 0, 0, 0, 1);

    begin(t, 4);
    push(t, REC("12:55")); /* the watermark will be 12:45 */
    end(t);
    expect_rows(t, NO_ROWS);
    expect_stats(t, 1, 0, 1, 0, 0, 2);

    begin(t, 5); /* no data: runs with 12:45 */
    end(t);
    expect_rows(t, ROWS(WROW("12:30", "12:40", "\"station\":\"A\",\"count\":1")));
    expect_stats(t, 0, 0, 0, 1, 1, 1);
    qfree(t);
}
END_TEST

START_TEST(query_complete_keeps_late_rows)
{
    projected = _i;
    tq *t = qnew("cmp_wm");
    add_window(t, "time", 10 * MIN, 10 * MIN);
    add_agg(t, LS_AGG_COUNT, NULL, "count");
    set_watermark(t, "time", 10 * MIN);
    ready(t, LS_MODE_COMPLETE, 4);

    begin(t, 0);
    push(t, REC("12:01"));
    push(t, REC("12:15"));
    end(t);
    expect_rows(t, ROWS(WROW("12:00", "12:10", "\"count\":1"), WROW("12:10", "12:20", "\"count\":1")));

    begin(t, 1);
    push(t, REC("12:04")); /* behind the watermark (12:05) but complete mode keeps it */
    end(t);
    expect_rows(t, ROWS(WROW("12:00", "12:10", "\"count\":2"), WROW("12:10", "12:20", "\"count\":1")));
    expect_stats(t, 1, 0, 1, 2, 0, 2);

    begin(t, 2);
    push(t, REC("13:30"));
    end(t);
    /* nothing is evicted in complete mode */
    expect_rows(t, ROWS(WROW("12:00", "12:10", "\"count\":2"), WROW("12:10", "12:20", "\"count\":1"),
                        WROW("13:30", "13:40", "\"count\":1")));
    expect_stats(t, 1, 0, 1, 3, 0, 3);
    qfree(t);
}
END_TEST

START_TEST(query_sliding_windows)
{
    projected = _i;
    tq *t = qnew("sliding");
    add_window(t, "time", 10 * MIN, 5 * MIN);
    add_agg(t, LS_AGG_COUNT, NULL, "count");
    ready(t, LS_MODE_COMPLETE, 4);
    begin(t, 0);
    push(t, REC("12:07"));
    push(t, REC("12:02"));
    push(t, REC("12:12"));
    push(t, REC("12:10")); /* on a boundary: [12:05,12:15) and [12:10,12:20) */
    end(t);
    expect_rows(t, ROWS(WROW("11:55", "12:05", "\"count\":1"), WROW("12:00", "12:10", "\"count\":2"),
                        WROW("12:05", "12:15", "\"count\":3"), WROW("12:10", "12:20", "\"count\":2")));
    expect_stats(t, 4, 0, 4, 4, 0, 4);
    ck_assert_int_eq(t->q->stats.et_min, 1546257720000LL); /* 12:02 */
    ck_assert_int_eq(t->q->stats.et_max, 1546258320000LL); /* 12:12 */
    qfree(t);
}
END_TEST

START_TEST(query_sliding_update_watermark)
{
    projected = _i;
    tq *t = qnew("sliding_upd");
    add_window(t, "time", 10 * MIN, 5 * MIN);
    add_agg(t, LS_AGG_COUNT, NULL, "count");
    set_watermark(t, "time", 0);
    ready(t, LS_MODE_UPDATE, 2);
    begin(t, 0);
    push(t, REC("12:07"));
    end(t);
    expect_rows(t, ROWS(WROW("12:00", "12:10", "\"count\":1"), WROW("12:05", "12:15", "\"count\":1")));
    begin(t, 1); /* no-data batch: runs with 12:07, nothing ended yet */
    end(t);
    expect_rows(t, NO_ROWS);
    begin(t, 2); /* late rows: windows ending at or before 12:07 */
    push(t, REC("12:01")); /* [11:55,12:05) is late; [12:00,12:10) is not */
    push(t, REC("12:11"));
    end(t);
    /* the watermark (12:07) evicts nothing yet: no window ends by then */
    expect_rows(t, ROWS(WROW("12:00", "12:10", "\"count\":2"), WROW("12:05", "12:15", "\"count\":2"),
                        WROW("12:10", "12:20", "\"count\":1")));
    expect_stats(t, 2, 1, 3, 3, 0, 3);
    ck_assert_int_eq(t->q->stats.late_input_rows, 0); /* one of its two windows counted */
    qfree(t);
}
END_TEST

/* Grouping by the event-time column itself (no window): the watermark
 * judges and evicts by that time, as Spark's state key predicate does. */
START_TEST(query_group_by_event_time)
{
    projected = _i;
    tq *t = qnew("by_time");
    add_group(t, "time");
    add_agg(t, LS_AGG_COUNT, NULL, "count");
    set_watermark(t, "time", 10 * MIN);
    ready(t, LS_MODE_UPDATE, 2);
    ck_assert_int_eq(t->q->d.et_group, 0);
    begin(t, 0);
    push(t, REC("12:20"));
    push(t, "{\"time\":\"2018-12-31 12:20:00\"}"); /* the same instant, another spelling */
    end(t);
    expect_rows(t, ROWS("{\"time\":\"2018-12-31T12:20:00.000Z\",\"count\":2}"));
    begin(t, 1); /* late: at or before 0; evicts at or before 12:10 */
    push(t, REC("12:05"));
    end(t);
    expect_rows(t, ROWS("{\"time\":\"2018-12-31T12:05:00.000Z\",\"count\":1}"));
    expect_stats(t, 1, 0, 1, 1, 1, 1);
    begin(t, 2); /* late: at or before 12:10 */
    push(t, REC("12:10"));
    push(t, REC("12:11"));
    end(t);
    expect_rows(t, ROWS("{\"time\":\"2018-12-31T12:11:00.000Z\",\"count\":1}"));
    expect_stats(t, 2, 1, 1, 1, 0, 2);
    qfree(t);
}
END_TEST

static ls_table *load_radio(ls_err *err);

static void add_where(tq *t, const char *col, ls_where_op op, const ls_value *vals, size_t n)
{
    t->q->d.where = realloc(t->q->d.where, (t->q->d.nwhere + 1) * sizeof *t->q->d.where);
    ls_where_pred *p = &t->q->d.where[t->q->d.nwhere++];
    p->col = colref(col);
    ls_where_operand_init(&p->w, op);
    for (size_t i = 0; i < n; i++) ls_where_operand_add(&p->w, &vals[i]);
}

/* Per-record queries: no group_by, no aggregate. Without a map the
 * record's own bytes go out; where filters before anything. */
START_TEST(query_per_record_filter)
{
    projected = _i;
    tq *t = qnew("han");
    ls_value han = ls_str("HAN", 3), two = ls_int(2);
    add_where(t, "d", LS_OP_EQ, &han, 1);
    add_where(t, "n", LS_OP_GE, &two, 1);
    ready(t, LS_MODE_APPEND, 1);
    ck_assert(t->q->d.per_record);
    begin(t, 0);
    push(t, "{\"d\":\"HAN\",  \"n\":2}");   /* kept, bytes as they came */
    push(t, "{\"d\":\"HAN\",\"n\":\"7\"}");  /* "7" against a number: 7 */
    push(t, "{\"d\":\"GOA\",\"n\":9}");
    push(t, "{\"d\":\"HAN\",\"n\":1}");
    push(t, "{\"d\":\"HAN\"}");             /* null n: no comparison holds */
    push(t, "{\"d\":\"HAN\",\"n\":\"x\"}");  /* not a number: no match */
    end(t);
    expect_rows_ordered(t, ROWS("{\"d\":\"HAN\",  \"n\":2}", "{\"d\":\"HAN\",\"n\":\"7\"}"));
    ck_assert_int_eq(t->q->stats.input_rows, 6);
    ck_assert_int_eq(t->q->stats.filtered_rows, 4);
    ck_assert_int_eq(t->q->stats.output_rows, 2);
    qfree(t);
}
END_TEST

/* A map's rows: a table is one row (routing keys left out), a list of
 * tables several (Spark's explode), {} none, nil none; joined columns are
 * added to the row. */
START_TEST(query_per_record_map_rows)
{
    tq *t = qnew("rows");
    ls_err err;
    ls_table *tab = load_radio(&err);
    ck_assert_msg(tab != NULL, "%s", err.msg);
    add_join(t, tab, "code", 0);
    (void)luaL_dostring(L, "return function(r)\n"
                     "  if r.n == 0 then return nil end\n"
                     "  if r.n == 1 then return {} end\n"
                     "  if r.n == 2 then return { { code = r.code, i = 1 }, { code = r.code, i = 2.5 } } end\n"
                     "  return { code = r.code, x = { 3, 'y', true }, z = {}, _key = 'k', _topic = 't' }\n"
                     "end");
    t->q->d.map_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    ready(t, LS_MODE_APPEND, 1);
    begin(t, 0);
    push(t, "{\"code\":\"A1\",\"n\":0}");
    push(t, "{\"code\":\"A1\",\"n\":1}");
    push(t, "{\"code\":\"B2\",\"n\":2}");
    push(t, "{\"code\":\"ZZ\",\"n\":3}");
    end(t);
    expect_rows_ordered(t, ROWS(
        "{\"code\":\"B2\",\"i\":1,\"name\":\"Bravo\",\"region\":\"south\"}",
        "{\"code\":\"B2\",\"i\":2.5,\"name\":\"Bravo\",\"region\":\"south\"}",
        "{\"code\":\"ZZ\",\"x\":[3,\"y\",true],\"z\":{},\"name\":null,\"region\":null}"));
    ck_assert_int_eq(t->q->stats.filtered_rows, 2);
    ck_assert_int_eq(t->q->stats.output_rows, 3);
    qfree(t);
    ls_table_free(tab);
}
END_TEST

/* Complete mode with order_by and limit: sorted as Spark's orderBy (nulls
 * first ascending, last descending), then the first rows only. */
START_TEST(query_order_by_and_limit)
{
    projected = _i;
    tq *t = qnew("top");
    add_group(t, "station");
    add_agg(t, LS_AGG_COUNT, NULL, "n");
    ready(t, LS_MODE_COMPLETE, 4);
    t->q->d.order = calloc(2, sizeof *t->q->d.order);
    t->q->d.order[0] = (ls_order_key){ 1, 1 }; /* n desc */
    t->q->d.order[1] = (ls_order_key){ 0, 0 }; /* station asc */
    t->q->d.norder = 2;
    t->q->d.limit = 3;
    begin(t, 0);
    static const char *const st[] = { "b", "a", "c", "a", "b", "d", "a", NULL, NULL, "c" };
    char rec[64];
    for (size_t i = 0; i < sizeof st / sizeof st[0]; i++) {
        if (st[i]) snprintf(rec, sizeof rec, "{\"station\":\"%s\"}", st[i]);
        else snprintf(rec, sizeof rec, "{\"station\":null}");
        push(t, rec);
    }
    end(t);
    /* a 3, then the ties b 2, c 2 and null 2 by station ascending: null first */
    expect_rows_ordered(t, ROWS("{\"station\":\"a\",\"n\":3}", "{\"station\":null,\"n\":2}",
                                "{\"station\":\"b\",\"n\":2}"));
    ck_assert_int_eq(t->q->stats.output_rows, 3);
    /* descending station: nulls last */
    t->q->d.order[0] = (ls_order_key){ 0, 1 };
    t->q->d.norder = 1;
    t->q->d.limit = 0;
    begin(t, 1);
    end(t);
    expect_rows_ordered(t, ROWS("{\"station\":\"d\",\"n\":1}", "{\"station\":\"c\",\"n\":2}",
                                "{\"station\":\"b\",\"n\":2}", "{\"station\":\"a\",\"n\":3}",
                                "{\"station\":null,\"n\":2}"));
    qfree(t);
}
END_TEST

/* A group or aggregate column no record of a batch has is reported once
 * (a typo puts everything into one null group); a null value is no typo. */
START_TEST(query_warns_about_missing_columns)
{
    projected = _i;
    tq *t = qnew("typo");
    add_group(t, "contry");
    add_group(t, "station");
    add_agg(t, LS_AGG_SUM, "v", "total");
    ready(t, LS_MODE_COMPLETE, 2);
    begin(t, 0);
    push(t, "{\"country\":\"FR\",\"station\":null,\"v\":1}");
    push(t, "{\"country\":\"DE\",\"v\":2}");
    end(t);
    ck_assert_msg(strstr(ls_query_warnings(t->q)->data, "query typo: column contry was in none of the 2 "
                                             "records of batch 0") != NULL, "%s", ls_query_warnings(t->q)->data);
    ck_assert_uint_eq(strlen(ls_query_warnings(t->q)->data) + 1, ls_query_warnings(t->q)->len); /* one warning */
    begin(t, 1); /* said once */
    push(t, "{\"country\":\"FR\",\"station\":\"A\",\"v\":1}");
    end(t);
    ck_assert_uint_eq(ls_query_warnings(t->q)->len, 0);
    qfree(t);

    t = qnew("fine");
    add_group(t, "station");
    add_agg(t, LS_AGG_SUM, "v", "total");
    ready(t, LS_MODE_COMPLETE, 2);
    begin(t, 0);
    push(t, "{\"station\":\"A\"}");      /* v missing here ... */
    push(t, "{\"station\":\"A\",\"v\":null}"); /* ... but there */
    end(t);
    ck_assert_uint_eq(ls_query_warnings(t->q)->len, 0);
    qfree(t);
}
END_TEST

/* A watermark on a query whose grouping has no event time judges nothing:
 * Spark has no time in the state key to compare. */
START_TEST(query_watermark_without_time_key)
{
    projected = _i;
    tq *t = qnew("no_time_key");
    add_group(t, "station");
    add_agg(t, LS_AGG_COUNT, NULL, "count");
    set_watermark(t, "time", 10 * MIN);
    ready(t, LS_MODE_UPDATE, 2);
    begin(t, 0);
    push(t, REC("13:00"));
    end(t);
    expect_rows(t, ROWS("{\"station\":\"A\",\"count\":1}"));
    begin(t, 1);
    push(t, REC("10:00"));
    end(t);
    expect_rows(t, ROWS("{\"station\":\"A\",\"count\":2}"));
    expect_stats(t, 1, 0, 1, 1, 0, 1);
    ck_assert(!ls_query_wants_batch(t->q));
    qfree(t);
}
END_TEST

/* Numeric event times are seconds since the epoch, as Spark casts them. */
START_TEST(query_numeric_event_time)
{
    projected = _i;
    tq *t = qnew("numeric_time");
    add_window(t, "ts", 60000, 60000);
    add_agg(t, LS_AGG_COUNT, NULL, "count");
    ready(t, LS_MODE_COMPLETE, 1);
    begin(t, 0);
    push(t, "{\"ts\":1546300620}");   /* 2018-12-31T23:57:00Z */
    push(t, "{\"ts\":1546300679.5}"); /* 23:57:59.5 */
    push(t, "{\"ts\":\"2018-12-31T23:57:30+00:00\"}");
    end(t);
    expect_rows(t, ROWS("{\"window\":{\"start\":\"2018-12-31T23:57:00.000Z\",\"end\":\"2018-12-31T23:58:00.000Z\"},"
                        "\"count\":3}"));
    /* milliseconds taken for seconds would be after the year 5000: a dead letter
     * with a hint, not a watermark sent ahead by millennia */
    begin(t, 1);
    push(t, "{\"ts\":1714557604980}");
    end(t);
    ck_assert_int_eq(t->q->stats.invalid_rows, 1);
    ls_err ferr;
    ck_assert_int_eq(ls_deadletter_flush(dl, &ferr), 0);
    char *text = th_read_file(dl_path, NULL);
    ck_assert_msg(strstr(text, "1714557604980 is not a time in seconds") && strstr(text, "unit = \\\"ms\\\""),
                  "%s", text);
    free(text);
    qfree(t);

    /* unit = "ms" reads epoch milliseconds */
    t = qnew("numeric_ms");
    add_window(t, "ts", 60000, 60000);
    add_agg(t, LS_AGG_COUNT, NULL, "count");
    t->q->d.event_time_ms_unit = 1;
    ready(t, LS_MODE_COMPLETE, 1);
    begin(t, 0);
    push(t, "{\"ts\":1546300620000}");
    push(t, "{\"ts\":1546300679999.9}");
    end(t);
    expect_rows(t, ROWS("{\"window\":{\"start\":\"2018-12-31T23:57:00.000Z\",\"end\":\"2018-12-31T23:58:00.000Z\"},"
                        "\"count\":2}"));
    qfree(t);
}
END_TEST

static ls_table *load_radio(ls_err *err)
{
    const char *json = "[{\"code\":\"A1\",\"name\":\"Alpha\",\"region\":\"north\"},"
                       " {\"code\":\"B2\",\"name\":\"Bravo\",\"region\":\"south\"},"
                       " {\"code\":3,\"name\":\"Three\",\"region\":\"north\"}]";
    char *path = th_write_file(dir, "radio.json", json, strlen(json));
    ls_table *tab = ls_table_load(path, "code", err);
    free(path);
    return tab;
}

static void push_join_records(tq *t)
{
    push(t, "{\"radio\":\"A1\",\"v\":1}");
    push(t, "{\"radio\":\"B2\",\"v\":2}");
    push(t, "{\"radio\":\"Z9\",\"v\":3}");  /* no match */
    push(t, "{\"radio\":\"A1\",\"v\":4}");
    push(t, "{\"v\":5}");                   /* no key */
    push(t, "{\"radio\":3.0,\"v\":6}");     /* numeric key, 3.0 == 3 */
}

START_TEST(query_left_join)
{
    projected = _i;
    ls_err err = { "" };
    ls_table *tab = load_radio(&err);
    ck_assert_msg(tab != NULL, "%s", err.msg);
    tq *t = qnew("left_join");
    add_join(t, tab, "radio", 0);
    add_group_from_join(t, "name", 0);
    add_agg(t, LS_AGG_COUNT, NULL, "n");
    add_agg(t, LS_AGG_SUM, "v", "s");
    ready(t, LS_MODE_COMPLETE, 4);
    begin(t, 0);
    push_join_records(t);
    end(t);
    expect_rows(t, ROWS("{\"name\":\"Alpha\",\"n\":2,\"s\":5}", "{\"name\":\"Bravo\",\"n\":1,\"s\":2}",
                        "{\"name\":\"Three\",\"n\":1,\"s\":6}", "{\"name\":null,\"n\":2,\"s\":8}"));
    ck_assert_int_eq(t->q->stats.filtered_rows, 0);
    ck_assert_int_eq(t->q->stats.input_rows, 6);
    qfree(t);
    ls_table_free(tab);
}
END_TEST

START_TEST(query_inner_join)
{
    projected = _i;
    ls_err err = { "" };
    ls_table *tab = load_radio(&err);
    ck_assert_msg(tab != NULL, "%s", err.msg);
    tq *t = qnew("inner_join");
    add_join(t, tab, "radio", 1);
    add_group_from_join(t, "region", 0);
    add_agg(t, LS_AGG_COUNT, NULL, "n");
    add_agg(t, LS_AGG_SUM, "v", "s");
    ready(t, LS_MODE_COMPLETE, 4);
    begin(t, 0);
    push_join_records(t);
    end(t);
    expect_rows(t, ROWS("{\"region\":\"north\",\"n\":3,\"s\":11}", "{\"region\":\"south\",\"n\":1,\"s\":2}"));
    ck_assert_int_eq(t->q->stats.filtered_rows, 2);
    ck_assert_int_eq(t->q->stats.invalid_rows, 0);
    ck_assert_int_eq(dl->count, 0);
    qfree(t);
    ls_table_free(tab);
}
END_TEST

static int map_ref(const char *code)
{
    ck_assert_msg(luaL_dostring(L, code) == LUA_OK, "%s", lua_tostring(L, -1));
    ck_assert_int_eq(lua_type(L, -1), LUA_TFUNCTION);
    return luaL_ref(L, LUA_REGISTRYINDEX);
}

START_TEST(query_map_function)
{
    tq *t = qnew("mapped");
    t->q->d.map_ref = map_ref(
        "return function(r)\n"
        "  if r.v == 0 then return nil end\n"
        "  if r.v < 0 then error('negative v: ' .. r.v) end\n"
        "  if r.v == 99 then return 42 end\n"
        "  return { k = string.upper(r.k), v = r.v * 10 }\n"
        "end\n");
    add_group(t, "k");
    add_agg(t, LS_AGG_SUM, "v", "total");
    ready(t, LS_MODE_COMPLETE, 4);
    next_offset = 100;
    begin(t, 0);
    push(t, "{\"k\":\"a\",\"v\":1}");
    push(t, "{\"k\":\"a\",\"v\":0}");  /* filtered */
    push(t, "{\"k\":\"b\",\"v\":-1}"); /* raises: dead-lettered */
    push(t, "{\"k\":\"b\",\"v\":2}");
    push(t, "{\"k\":\"c\",\"v\":99}"); /* returns a number: dead-lettered */
    push(t, "{\"k\":\"a\",\"v\":3}");
    end(t);
    expect_rows(t, ROWS("{\"k\":\"A\",\"total\":40}", "{\"k\":\"B\",\"total\":20}"));
    ck_assert_int_eq(t->q->stats.input_rows, 6);
    ck_assert_int_eq(t->q->stats.filtered_rows, 1);
    ck_assert_int_eq(t->q->stats.invalid_rows, 2);
    ck_assert_int_eq(dl->count, 2);

    ls_err err;
    ck_assert_int_eq(ls_deadletter_flush(dl, &err), 0);
    char *text = th_read_file(dl_path, NULL);
    char *lines[8];
    ck_assert_int_eq(th_lines(text, lines, 8), 2);
    ck_assert_msg(strstr(lines[0], "\"topic\":\"events\",\"partition\":3,\"offset\":102,") != NULL,
                  "%s", lines[0]);
    ck_assert_msg(strstr(lines[0], "\"query\":\"mapped\",\"error\":\"map raised: ") != NULL, "%s",
                  lines[0]);
    ck_assert_msg(strstr(lines[0], "negative v: -1") != NULL, "%s", lines[0]);
    ck_assert_msg(strstr(lines[0], "\"value\":\"{\\\"k\\\":\\\"b\\\",\\\"v\\\":-1}\"}") != NULL,
                  "%s", lines[0]);
    ck_assert_msg(strstr(lines[1], "\"offset\":104,") != NULL, "%s", lines[1]);
    ck_assert_msg(strstr(lines[1], "\"error\":\"map returned a number (expected a table, a list of tables or nil)\"")
                  != NULL, "%s", lines[1]);
    free(text);
    qfree(t);
    ck_assert_int_eq(lua_gettop(L), 0);
}
END_TEST

START_TEST(query_invalid_rows_dead_lettered)
{
    tq *t = qnew("strict");
    add_window(t, "time", 10 * MIN, 10 * MIN);
    add_group(t, "station");
    add_agg(t, LS_AGG_SUM, "v", "total");
    ready(t, LS_MODE_COMPLETE, 2);
    next_offset = 0;
    begin(t, 0);
    push(t, "{\"time\":\"2018-12-31T12:01:00Z\",\"station\":\"A\",\"v\":1}");
    push(t, "{\"time\":\"yesterday\",\"station\":\"A\",\"v\":1}");
    push(t, "{\"station\":\"A\",\"v\":1}");
    push(t, "{\"time\":true,\"station\":\"A\",\"v\":1}");
    push(t, "{\"time\":\"2018-12-31T12:02:00Z\",\"station\":\"A\",\"v\":\"abc\"}");
    push(t, "{\"time\":\"2018-12-31T12:03:00Z\",\"station\":{\"nested\":1},\"v\":1}");
    push(t, "{\"time\":\"2018-12-31T12:04:00Z\",\"station\":\"A\",\"v\":[1]}");
    push(t, "{\"time\":\"2018-12-31T12:05:00Z\",\"station\":null,\"v\":2.5}");
    end(t);
    /* "abc" and [1] are values sum cannot use: null for it, the rows still count */
    expect_rows(t, ROWS(WROW("12:00", "12:10", "\"station\":\"A\",\"total\":1"),
                        WROW("12:00", "12:10", "\"station\":null,\"total\":2.5")));
    ck_assert_int_eq(t->q->stats.invalid_rows, 4);
    ck_assert_int_eq(t->q->stats.unusable_values, 2);
    ls_err err;
    ck_assert_int_eq(ls_deadletter_flush(dl, &err), 0);
    char *text = th_read_file(dl_path, NULL);
    char *lines[8];
    ck_assert_int_eq(th_lines(text, lines, 8), 4);
    ck_assert_msg(strstr(lines[0], "\"error\":\"event time time: invalid timestamp \\\"yesterday\\\"\"")
                  != NULL, "%s", lines[0]);
    ck_assert_msg(strstr(lines[1], "\"error\":\"event time time is null or missing\"") != NULL, "%s", lines[1]);
    ck_assert_msg(strstr(lines[2], "\"error\":\"event time time: not a timestamp\"") != NULL, "%s",
                  lines[2]);
    ck_assert_msg(strstr(lines[3], "\"error\":\"column station: a nested value cannot be grouped or aggregated\"")
                  != NULL, "%s", lines[3]);
    for (int i = 0; i < 4; i++)
        ck_assert_msg(strstr(lines[i], "\"query\":\"strict\"") != NULL, "%s", lines[i]);
    free(text);
    qfree(t);
}
END_TEST

START_TEST(query_ready_validation)
{
    ls_err err;
    tq *t = qnew("empty"); /* no group_by, no aggregate: per-record, in append mode only */
    ck_assert_int_eq(ls_query_ready(t->q, 1, &err), -1);
    ck_assert_str_eq(err.msg, "query empty: a query without group_by and aggregate writes each record's "
                          "rows as they come: output_mode \"append\", not \"complete\"");
    qfree(t);
    t = qnew("per_record");
    t->q->d.mode = LS_MODE_APPEND;
    ck_assert_int_eq(ls_query_ready(t->q, 1, &err), 0);
    ck_assert(t->q->d.per_record);
    qfree(t);

    t = qnew("append_no_wm");
    add_window(t, "time", MIN, MIN);
    add_agg(t, LS_AGG_COUNT, NULL, "n");
    t->q->d.mode = LS_MODE_APPEND;
    ck_assert_int_eq(ls_query_ready(t->q, 1, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "output mode append needs a watermark and its event-time column in group_by"));
    qfree(t);

    t = qnew("append_no_window");
    add_group(t, "station");
    add_agg(t, LS_AGG_COUNT, NULL, "n");
    set_watermark(t, "time", MIN);
    t->q->d.mode = LS_MODE_APPEND;
    ck_assert_int_eq(ls_query_ready(t->q, 1, &err), -1);
    qfree(t);

    t = qnew("two_windows");
    add_window(t, "time", MIN, MIN);
    add_window(t, "time", 2 * MIN, MIN);
    ck_assert_int_eq(ls_query_ready(t->q, 1, &err), -1);
    ck_assert_str_eq(err.msg, "query two_windows: at most one window in group_by (ls.window or ls.session_window)");
    qfree(t);

    t = qnew("mismatch");
    add_window(t, "time", MIN, MIN);
    set_watermark(t, "other", MIN);
    ck_assert_int_eq(ls_query_ready(t->q, 1, &err), -1);
    ck_assert_str_eq(err.msg, "query mismatch: the window is on column time but the watermark on other");
    qfree(t);

    /* a window alone makes its column the event time */
    t = qnew("window_only");
    add_window(t, "ts", MIN, MIN);
    ck_assert_int_eq(ls_query_ready(t->q, 1, &err), 0);
    ck_assert_int_eq(t->q->d.has_event_time, 1);
    ck_assert_str_eq(t->q->d.event_time.name, "ts");
    ck_assert_int_eq(t->q->d.window_idx, 0);
    qfree(t);
}
END_TEST

START_TEST(query_mode_names)
{
    ls_mode m;
    ck_assert_int_eq(ls_mode_parse("complete", &m), 0);
    ck_assert_int_eq(m, LS_MODE_COMPLETE);
    ck_assert_int_eq(ls_mode_parse("update", &m), 0);
    ck_assert_int_eq(m, LS_MODE_UPDATE);
    ck_assert_int_eq(ls_mode_parse("append", &m), 0);
    ck_assert_int_eq(m, LS_MODE_APPEND);
    ck_assert_int_eq(ls_mode_parse("Append", &m), -1);
    ck_assert_str_eq(ls_mode_name(LS_MODE_UPDATE), "update");
}
END_TEST

START_TEST(query_console_sink)
{
    tq *t = qnew("console_q");
    add_group(t, "station");
    add_agg(t, LS_AGG_COUNT, NULL, "count");
    ls_err err;
    t->q->d.mode = LS_MODE_COMPLETE;
    ck_assert_int_eq(ls_query_ready(t->q, 1, &err), 0);
    FILE *f = tmpfile();
    ls_console_opts o = { 0 };
    o.query = t->q->d.name;
    o.num_rows = 20;
    o.truncate = 1;
    t->q->d.sink = ls_sink_console_new(&o, f);
    begin(t, 0);
    push(t, "{\"station\":\"A\"}");
    push(t, "{\"station\":\"A\"}");
    end(t);
    char *text = th_read_stream(f, NULL);
    ck_assert_str_eq(text,
                     "-------------------------------------------\n"
                     "Batch: 0 (console_q)\n"
                     "-------------------------------------------\n"
                     "+-------+-----+\n"
                     "|station|count|\n"
                     "+-------+-----+\n"
                     "|      A|    2|\n"
                     "+-------+-----+\n"
                     "\n");
    free(text);
    qfree(t);
    fclose(f);
}
END_TEST

/* ---- projected queries (ls_query_project + ls_json_scan) ------------ */

START_TEST(query_project_registers_fields)
{
    ls_err err = { "" };
    ls_table *tab = load_radio(&err);
    ck_assert_msg(tab != NULL, "%s", err.msg);
    tq *t = qnew("fields");
    add_join(t, tab, "radio", 0);
    add_window(t, "time", MIN, MIN);
    add_group(t, "station");
    add_group_from_join(t, "region", 0);
    add_agg(t, LS_AGG_COUNT, NULL, "n");
    add_agg(t, LS_AGG_SUM, "v", "s");
    add_agg(t, LS_AGG_MAX, "v", "m");
    add_agg(t, LS_AGG_AVG, "station", "odd"); /* a column read twice */
    set_watermark(t, "time", MIN);
    ck_assert_int_eq(ls_query_ready(t->q, 1, &err), 0);

    ls_fieldset *fs = ls_fieldset_new();
    ls_fieldset_add(fs, "already"); /* another query of the source came first */
    ls_query_project(t->q, fs);
    ck_assert(t->q->use_view);
    /* the record columns, once each; not count(*) nor the join's column */
    ck_assert_uint_eq(fs->n, 5);
    ck_assert_int_eq(ls_fieldset_index(fs, "already", 7), 0);
    int radio = ls_fieldset_index(fs, "radio", 5), time = ls_fieldset_index(fs, "time", 4);
    int station = ls_fieldset_index(fs, "station", 7), v = ls_fieldset_index(fs, "v", 1);
    ck_assert_int_gt(radio, 0);
    ck_assert_int_gt(time, 0);
    ck_assert_int_gt(station, 0);
    ck_assert_int_gt(v, 0);
    ck_assert_int_eq(ls_fieldset_index(fs, "region", 6), -1);
    ck_assert_int_eq(t->q->d.joins[0].left.slot, radio);
    ck_assert_int_eq(t->q->d.event_time.slot, time);
    ck_assert_int_eq(t->q->d.groups[0].col.slot, time);
    ck_assert_int_eq(t->q->d.groups[1].col.slot, station);
    ck_assert_int_eq(t->q->d.agg_cols[1].slot, v);
    ck_assert_int_eq(t->q->d.agg_cols[2].slot, v);
    ck_assert_int_eq(t->q->d.agg_cols[3].slot, station);
    ls_fieldset_free(fs);
    qfree(t);

    /* projected before ls_query_ready: the window's column still becomes
     * the event time with its slot */
    t = qnew("early");
    add_group(t, "station");
    add_window(t, "ts", MIN, MIN);
    add_agg(t, LS_AGG_COUNT, NULL, "n");
    fs = ls_fieldset_new();
    ls_query_project(t->q, fs);
    ck_assert_int_eq(ls_query_ready(t->q, 1, &err), 0);
    ck_assert_uint_eq(fs->n, 2);
    ck_assert_int_eq(t->q->d.event_time.slot, ls_fieldset_index(fs, "ts", 2));
    ls_fieldset_free(fs);
    qfree(t);

    /* a query with a map keeps reading its (mapped) Lua table */
    t = qnew("mapped_not_projected");
    t->q->d.map_ref = map_ref("return function(r) return r end");
    add_group(t, "station");
    add_agg(t, LS_AGG_SUM, "v", "s");
    ck_assert_int_eq(ls_query_ready(t->q, 1, &err), 0);
    fs = ls_fieldset_new();
    ls_query_project(t->q, fs);
    ck_assert_int_eq(t->q->use_view, 0);
    ck_assert_uint_eq(fs->n, 0);
    ls_fieldset_free(fs);
    qfree(t);
    ls_table_free(tab);
}
END_TEST

/* sum/avg/min/max over numbers and numbers in strings, escaped or not */
START_TEST(query_numeric_strings)
{
    projected = _i;
    tq *t = qnew("numeric_strings");
    add_group(t, "g");
    add_agg(t, LS_AGG_COUNT, NULL, "n");
    add_agg(t, LS_AGG_COUNT, "v", "n_v");
    add_agg(t, LS_AGG_SUM, "v", "total");
    add_agg(t, LS_AGG_AVG, "v", "mean");
    add_agg(t, LS_AGG_MIN, "v", "lo");
    add_agg(t, LS_AGG_MAX, "v", "hi");
    ready(t, LS_MODE_COMPLETE, 2);
    begin(t, 0);
    push(t, "{\"g\":\"x\",\"v\":\"1\"}");
    push(t, "{\"g\":\"x\",\"v\":\"2.5\"}");
    push(t, "{\"g\":\"x\",\"v\":3}");
    push(t, "{\"g\":\"x\",\"v\":\"\\u0034\"}"); /* "4", unescaped in the arena */
    push(t, "{\"g\":\"x\",\"v\":null}");
    push(t, "{\"g\":\"i\",\"v\":\"-2\"}");
    push(t, "{\"g\":\"i\",\"v\":7}");
    push(t, "{\"g\":\"i\",\"v\":\"1e1\"}");
    push(t, "{\"g\":\"i\"}");
    end(t);
    /* sum and avg cast strings to double, as Spark's implicit cast; min and max
     * keep JSON types: numbers below strings, strings by their bytes */
    expect_rows(t, ROWS("{\"g\":\"x\",\"n\":5,\"n_v\":4,\"total\":10.5,\"mean\":2.625,\"lo\":3,\"hi\":\"4\"}",
                        "{\"g\":\"i\",\"n\":4,\"n_v\":3,\"total\":15.0,\"mean\":5.0,\"lo\":7,\"hi\":\"1e1\"}"));
    ck_assert_int_eq(t->q->stats.invalid_rows, 0);
    qfree(t);
}
END_TEST

/* Group keys from escaped strings (in the view's arena, overwritten by the
 * next record) are copied into the state. */
START_TEST(query_escaped_group_keys)
{
    projected = _i;
    tq *t = qnew("escaped_keys");
    add_group(t, "station");
    add_agg(t, LS_AGG_COUNT, NULL, "n");
    ready(t, LS_MODE_UPDATE, 4);
    begin(t, 0);
    push(t, "{\"station\":\"A\\u00e9\"}");
    push(t, "{\"station\":\"A\xc3\xa9\"}");      /* the same text, unescaped */
    push(t, "{\"st\\u0061tion\":\"B\\/C\"}");    /* an escaped key */
    push(t, "{\"station\":\"\\\"q\\\"\"}");
    push(t, "{\"station\":\"A\\u00e9\",\"station\":\"B/C\"}"); /* the last wins */
    end(t);
    expect_rows(t, ROWS("{\"station\":\"A\xc3\xa9\",\"n\":2}", "{\"station\":\"B/C\",\"n\":2}",
                        "{\"station\":\"\\\"q\\\"\",\"n\":1}"));
    begin(t, 1);
    push(t, "{\"station\":\"\\ud83d\\ude00\"}");
    push(t, "{\"station\":\"A\\u00e9\"}");
    end(t);
    expect_rows(t, ROWS("{\"station\":\"A\xc3\xa9\",\"n\":3}",
                        "{\"station\":\"\xf0\x9f\x98\x80\",\"n\":1}"));
    qfree(t);
}
END_TEST

/* Reads the dead-letter file; returns its lines (text to free in *text). */
static int dead_lines(char **text, char **lines, int max)
{
    ls_err err;
    ck_assert_int_eq(ls_deadletter_flush(dl, &err), 0);
    *text = th_read_file(dl_path, NULL);
    ck_assert_ptr_nonnull(*text);
    return th_lines(*text, lines, max);
}

START_TEST(query_projected_dead_letters)
{
    projected = 1;
    tq *t = qnew("strict_view");
    add_window(t, "time", 10 * MIN, 10 * MIN);
    add_group(t, "station");
    add_agg(t, LS_AGG_SUM, "v", "total");
    ready(t, LS_MODE_COMPLETE, 2);
    ck_assert_ptr_nonnull(t->fs);
    next_offset = 0;
    begin(t, 0);
    push(t, "{\"time\":\"2018-12-31T12:01:00Z\",\"station\":\"A\",\"v\":1}");
    push(t, "{\"time\":\"2018-12-31T12:02:00Z\",\"station\":{\"nested\":1},\"v\":1}");
    push(t, "{\"time\":\"2018-12-31T12:03:00Z\",\"station\":[\"A\"],\"v\":1}");
    push(t, "{\"station\":\"A\",\"v\":1}");
    push(t, "{\"time\":null,\"station\":\"A\",\"v\":1}");
    push(t, "{\"time\":{\"t\":1},\"station\":\"A\",\"v\":1}");
    push(t, "{\"time\":\"2018-12-31T12:04:00Z\",\"station\":\"A\",\"v\":{}}");
    push(t, "{\"time\":\"2018-12-31T12:05:00Z\",\"station\":\"A\",\"v\":\"abc\"}");
    push(t, "{\"time\":\"2018-12-31T12:06:00Z\",\"station\":\"A\",\"v\":true}");
    push(t, "{\"time\":\"yesterday\",\"station\":\"A\",\"v\":1}");
    /* a nested value in a field the query does not read is fine */
    push(t, "{\"time\":\"2018-12-31T12:07:00Z\",\"station\":\"A\",\"v\":2,\"other\":{\"x\":[]}}");
    /* and a later scalar replaces an earlier nested value */
    push(t, "{\"time\":\"2018-12-31T12:08:00Z\",\"station\":[1],\"station\":\"A\",\"v\":3}");
    end(t);
    /* {}, "abc" and true are values sum cannot use: null for it, the rows still count */
    expect_rows(t, ROWS(WROW("12:00", "12:10", "\"station\":\"A\",\"total\":6")));
    ck_assert_int_eq(t->q->stats.input_rows, 12);
    ck_assert_int_eq(t->q->stats.invalid_rows, 6);
    ck_assert_int_eq(t->q->stats.unusable_values, 3);
    ck_assert_int_eq(dl->count, 6);

    char *text, *lines[16];
    ck_assert_int_eq(dead_lines(&text, lines, 16), 6);
    static const char *const want[] = {
        "\"error\":\"column station: a nested value cannot be grouped or aggregated\"",
        "\"error\":\"column station: a nested value cannot be grouped or aggregated\"",
        "\"error\":\"event time time is null or missing\"",
        "\"error\":\"event time time is null or missing\"",
        "\"error\":\"column time: a nested value cannot be grouped or aggregated\"",
        "\"error\":\"event time time: invalid timestamp \\\"yesterday\\\"\"",
    };
    static const int offsets[] = { 1, 2, 3, 4, 5, 9 };
    for (int i = 0; i < 6; i++) {
        ck_assert_msg(strstr(lines[i], want[i]) != NULL, "line %d: %s\nwant %s", i, lines[i], want[i]);
        ck_assert_msg(strstr(lines[i], "\"query\":\"strict_view\"") != NULL, "%s", lines[i]);
        char off[32];
        snprintf(off, sizeof off, "\"offset\":%d,", offsets[i]);
        ck_assert_msg(strstr(lines[i], off) != NULL, "line %d: %s", i, lines[i]);
    }
    /* the message itself is kept as it came */
    ck_assert_msg(strstr(lines[1], "\"value\":\"{\\\"time\\\":\\\"2018-12-31T12:03:00Z\\\","
                                   "\\\"station\\\":[\\\"A\\\"],\\\"v\\\":1}\"") != NULL,
                  "%s", lines[1]);
    free(text);
    qfree(t);
}
END_TEST

/* A nested join key is dead-lettered too; a null one misses the table. */
START_TEST(query_projected_join_key_nested)
{
    projected = 1;
    ls_err err = { "" };
    ls_table *tab = load_radio(&err);
    ck_assert_msg(tab != NULL, "%s", err.msg);
    tq *t = qnew("join_view");
    add_join(t, tab, "radio", 0);
    add_group_from_join(t, "name", 0);
    add_agg(t, LS_AGG_COUNT, NULL, "n");
    ready(t, LS_MODE_COMPLETE, 1);
    ck_assert_uint_eq(t->fs->n, 1); /* only the key: name comes from the table */
    begin(t, 0);
    push(t, "{\"radio\":\"A\\u0031\"}"); /* "A1", escaped */
    push(t, "{\"radio\":{\"code\":\"A1\"}}");
    push(t, "{\"radio\":null,\"name\":\"ignored\"}");
    push(t, "{\"radio\":3}");
    end(t);
    expect_rows(t, ROWS("{\"name\":\"Alpha\",\"n\":1}", "{\"name\":null,\"n\":1}",
                        "{\"name\":\"Three\",\"n\":1}"));
    char *text, *lines[4];
    ck_assert_int_eq(dead_lines(&text, lines, 4), 1);
    ck_assert_msg(strstr(lines[0], "\"error\":\"column radio: a nested value cannot be grouped or "
                                   "aggregated\"") != NULL, "%s", lines[0]);
    free(text);
    qfree(t);
    ls_table_free(tab);
}
END_TEST

/* Two queries of one source share a fieldset and one view (the engine's
 * plan): each reads its own slots. */
START_TEST(query_projected_shared_view)
{
    tq *a = qnew("per_station");
    add_group(a, "station");
    add_agg(a, LS_AGG_COUNT, NULL, "n");
    ready(a, LS_MODE_COMPLETE, 2);
    tq *b = qnew("per_window");
    add_window(b, "time", 10 * MIN, 10 * MIN);
    add_agg(b, LS_AGG_SUM, "v", "total");
    add_agg(b, LS_AGG_MAX, "station", "last"); /* a string max, by bytes */
    set_watermark(b, "time", 10 * MIN);
    ready(b, LS_MODE_UPDATE, 2);

    ls_fieldset *fs = ls_fieldset_new();
    ls_query_project(a->q, fs);
    ls_query_project(b->q, fs);
    a->q->L = b->q->L = NULL; /* projected queries need no Lua state (worker lanes) */
    ck_assert_uint_eq(fs->n, 3); /* station, time, v */
    ls_recview view;
    ls_recview_init(&view, fs->n);
    static const char *const recs[] = {
        "{\"time\":\"2018-12-31T12:01:00Z\",\"station\":\"1\",\"v\":2}",
        "{\"time\":\"2018-12-31T12:02:00Z\",\"station\":\"2\",\"v\":\"3\"}",
        "{\"station\":\"\\u0031\",\"v\":4}",
        "{\"time\":\"2018-12-31T12:15:00Z\",\"station\":\"x\",\"v\":5}",
    };
    ls_err err;
    ls_query_begin_batch(a->q, 0);
    ls_query_begin_batch(b->q, 0);
    for (size_t i = 0; i < 4; i++) {
        ls_origin o = { .topic = "events", .partition = 0, .offset = (int64_t)i, .timestamp = -1, .timestamp_type = -1 };
        size_t n = strlen(recs[i]);
        ck_assert_msg(ls_json_scan(recs[i], n, fs, &view, &err) == 0, "%s", err.msg);
        ck_assert_int_eq(ls_query_process(a->q, 0, &view, &o, recs[i], n, ls_reject_to(dl), &err), 0);
        ck_assert_int_eq(ls_query_process(b->q, 0, &view, &o, recs[i], n, ls_reject_to(dl), &err), 0);
    }
    end(a);
    end(b);
    expect_rows(a, ROWS("{\"station\":\"1\",\"n\":2}", "{\"station\":\"2\",\"n\":1}",
                        "{\"station\":\"x\",\"n\":1}"));
    /* sum casts "3" to 3.0; a missing time is dead-lettered */
    expect_rows(b, ROWS(WROW("12:00", "12:10", "\"total\":5.0,\"last\":\"2\""),
                        WROW("12:10", "12:20", "\"total\":5,\"last\":\"x\"")));
    ck_assert_int_eq(b->q->stats.invalid_rows, 1);
    ck_assert_int_eq(a->q->stats.invalid_rows, 0);
    ls_recview_free(&view);
    ls_fieldset_free(fs);
    qfree(a);
    qfree(b);
}
END_TEST

Suite *query_suite(void)
{
    Suite *s = suite_create("query");
    TCase *tc = tcase_create("end_to_end");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, query_complete_group_by, 0, 2);
    tcase_add_loop_test(tc, query_update_mode_no_watermark, 0, 2);
    tcase_add_loop_test(tc, query_global_aggregate, 0, 2);
    tcase_add_loop_test(tc, query_update_with_watermark, 0, 2);
    tcase_add_loop_test(tc, query_append_with_watermark, 0, 2);
    tcase_add_loop_test(tc, query_complete_keeps_late_rows, 0, 2);
    tcase_add_loop_test(tc, query_group_by_event_time, 0, 2);
    tcase_add_loop_test(tc, query_watermark_without_time_key, 0, 2);
    tcase_add_loop_test(tc, query_warns_about_missing_columns, 0, 2);
    tcase_add_loop_test(tc, query_order_by_and_limit, 0, 2);
    tcase_add_loop_test(tc, query_per_record_filter, 0, 2);
    tcase_add_test(tc, query_per_record_map_rows);
    tcase_add_loop_test(tc, query_sliding_windows, 0, 2);
    tcase_add_loop_test(tc, query_sliding_update_watermark, 0, 2);
    tcase_add_loop_test(tc, query_numeric_event_time, 0, 2);
    tcase_add_loop_test(tc, query_left_join, 0, 2);
    tcase_add_loop_test(tc, query_inner_join, 0, 2);
    tcase_add_test(tc, query_map_function);
    tcase_add_test(tc, query_invalid_rows_dead_lettered);
    tcase_add_test(tc, query_ready_validation);
    tcase_add_test(tc, query_mode_names);
    tcase_add_test(tc, query_console_sink);
    tcase_add_test(tc, query_project_registers_fields);
    tcase_add_loop_test(tc, query_numeric_strings, 0, 2);
    tcase_add_loop_test(tc, query_escaped_group_keys, 0, 2);
    tcase_add_test(tc, query_projected_dead_letters);
    tcase_add_test(tc, query_projected_join_key_nested);
    tcase_add_test(tc, query_projected_shared_view);
    suite_add_tcase(s, tc);
    return s;
}
