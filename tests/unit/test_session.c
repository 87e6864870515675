/* test_session.c - session windows (ls_session.c and its use by ls_query.c):
 * assignment of a record to [t, t + gap), extension, merging within a batch
 * and across batches (a bridging record, touching ends), lateness per
 * record, append emission and eviction, complete mode, every aggregate
 * merged (string min/max too), the workers' partial states, snapshots,
 * max_state_rows, and the declarations Spark refuses.
 *
 * Queries are built by hand as src/ls_lua_api.c's compile_group does for
 * ls.session_window; records are decoded with ls_json_decode; rows are read
 * back from a JSON-lines sink. The Spark suite (tests/spark/test_sessions.py)
 * checks the same rules against real Spark. */
#include <check.h>
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdlib.h>
#include <string.h>

#include "ls_deadletter.h"
#include "ls_query_impl.h" /* white-box: a query\'s watermark and ids set by hand */
#include "ls_sink.h"
#include "ls_source.h"
#include "ls_table.h"
#include "ls_json_lua.h"
#include "ls_query.h"
#include "ls_session.h"
#include "suites.h"
#include "test_helpers.h"

#define MIN (60 * 1000LL)

static lua_State *L;
static char *dir;
static ls_deadletter *dl;

static void setup(void)
{
    L = luaL_newstate();
    luaL_openlibs(L);
    dir = th_tmpdir();
    ck_assert_ptr_nonnull(dir);
    ls_err err;
    char path[4096];
    snprintf(path, sizeof path, "%s/dead_letter.jsonl", dir);
    dl = ls_deadletter_file(path, &err);
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
    dir = NULL;
}

typedef struct sq {
    ls_query *q;
    char *path;
    size_t pos;
} sq;

static ls_colref colref(const char *name)
{
    ls_colref c = { strdup(name), -1, -1, -1, 0 };
    return c;
}

/* A query { session_window(ts, gap), key } with count, sum(v), min(v), max(v), avg(v),
 * min(s) and max(s); watermark delay wm_ms (< 0: none). Not ready yet. */
static ls_query *session_query(const char *name, int64_t gap_ms, int64_t wm_ms, int with_key)
{
    ls_query *q = ls_query_new(name, L);
    ls_query_decl_of(q)->groups = calloc(4, sizeof *ls_query_decl_of(q)->groups);
    ls_query_decl_of(q)->aggs = calloc(8, sizeof *ls_query_decl_of(q)->aggs);
    ls_query_decl_of(q)->agg_cols = calloc(8, sizeof *ls_query_decl_of(q)->agg_cols);
    ls_query_decl_of(q)->joins = calloc(1, sizeof *ls_query_decl_of(q)->joins);
    ls_groupcol *g = &ls_query_decl_of(q)->groups[ls_query_decl_of(q)->ngroups++];
    g->name = strdup("session_window");
    g->is_window = g->is_session = 1;
    g->win.size = g->win.slide = gap_ms;
    g->col = colref("ts");
    if (with_key) {
        g = &ls_query_decl_of(q)->groups[ls_query_decl_of(q)->ngroups++];
        g->name = strdup("key");
        g->col = colref("key");
    }
    static const struct { ls_agg_fn fn; const char *col, *name; } A[] = {
        { LS_AGG_COUNT, NULL, "count" }, { LS_AGG_SUM, "v", "sum(v)" },
        { LS_AGG_MIN, "v", "min(v)" },   { LS_AGG_MAX, "v", "max(v)" },
        { LS_AGG_AVG, "v", "avg(v)" },   { LS_AGG_MIN, "s", "min(s)" },
        { LS_AGG_MAX, "s", "max(s)" },
    };
    for (size_t i = 0; i < sizeof A / sizeof *A; i++) {
        ls_query_declared(q)->aggs[i].fn = A[i].fn;
        ls_query_declared(q)->aggs[i].column = A[i].col ? strdup(A[i].col) : NULL;
        ls_query_declared(q)->aggs[i].name = strdup(A[i].name);
        if (A[i].col) ls_query_declared(q)->agg_cols[i] = colref(A[i].col);
        ls_query_decl_of(q)->naggs++;
    }
    if (wm_ms >= 0) {
        ls_query_decl_of(q)->has_event_time = 1;
        ls_query_decl_of(q)->event_time = colref("ts");
        ls_query_decl_of(q)->has_watermark = 1;
        ls_watermark_init(&q->wm, wm_ms);
    }
    return q;
}

static sq *snew(int64_t gap_ms, int64_t wm_ms, ls_mode mode, int parts)
{
    sq *t = calloc(1, sizeof *t);
    t->q = session_query("s", gap_ms, wm_ms, 1);
    ls_query_decl_of(t->q)->mode = mode;
    ls_err err = { "" };
    ck_assert_msg(ls_query_ready(t->q, parts, &err) == 0, "ls_query_ready: %s", err.msg);
    ls_query_decl_of(t->q)->sink = ls_sink_jsonl_new(dir, ls_query_decl_of(t->q)->name, &err);
    ck_assert_msg(ls_query_declared(t->q)->sink != NULL, "%s", err.msg);
    size_t n = strlen(dir) + 32;
    t->path = malloc(n);
    snprintf(t->path, n, "%s/%s.jsonl", dir, ls_query_declared(t->q)->name);
    return t;
}

static void sfree(sq *t)
{
    ls_query_free(t->q);
    free(t->path);
    free(t);
}

static void push_to(ls_query *q, const char *json, int32_t partition)
{
    ls_err err = { "" };
    static int64_t off;
    ls_origin o = { .topic = "events", .partition = partition, .offset = off++, .timestamp = -1,
                    .timestamp_type = -1 };
    int top = lua_gettop(L);
    ck_assert_msg(ls_json_decode(L, json, strlen(json), NULL, &err) == 0, "%s: %s", json, err.msg);
    ck_assert_int_eq(ls_query_process(q, -1, NULL, &o, json, strlen(json), ls_reject_to(dl), &err), 0);
    lua_settop(L, top);
}

static void push(sq *t, const char *json) { push_to(t->q, json, 0); }

static void begin(sq *t, int64_t id) { ls_query_begin_batch(t->q, id); }

static void end(sq *t)
{
    ls_err err = { "" };
    ck_assert_msg(ls_query_end_batch(t->q, &err) == 0, "%s", err.msg);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The rows written since the last check, in any order, must be exactly want. */
static void expect_rows(sq *t, const char *const *want, size_t n)
{
    size_t len;
    char *text = th_read_file(t->path, &len);
    ck_assert_ptr_nonnull(text);
    char *lines[256];
    int got = th_lines(text + t->pos, lines, 256);
    t->pos = len;
    const char *exp[256];
    for (size_t i = 0; i < n; i++) exp[i] = want[i];
    qsort(lines, (size_t)got, sizeof *lines, cmp_str);
    qsort(exp, n, sizeof *exp, cmp_str);
    ls_buf g, w;
    ls_buf_init(&g);
    ls_buf_init(&w);
    ls_buf_puts(&g, "");
    ls_buf_puts(&w, "");
    for (int i = 0; i < got; i++) ls_buf_printf(&g, "%s\n", lines[i]);
    for (size_t i = 0; i < n; i++) ls_buf_printf(&w, "%s\n", exp[i]);
    ck_assert_msg(strcmp(g.data, w.data) == 0, "rows:\n--- got\n%s--- want\n%s", g.data, w.data);
    ls_buf_free(&g);
    ls_buf_free(&w);
    free(text);
}

#define ROWS(...) (const char *const[]){ __VA_ARGS__ }, sizeof((const char *const[]){ __VA_ARGS__ }) / sizeof(const char *)
#define NO_ROWS NULL, 0

#define REC(key, hm, v) "{\"key\":\"" key "\",\"ts\":\"2019-01-01T" hm "Z\",\"v\":" #v "}"
#define RECS(key, hm, v, s) "{\"key\":\"" key "\",\"ts\":\"2019-01-01T" hm "Z\",\"v\":" #v ",\"s\":\"" s "\"}"
/* a row: session [s, e), key, count, sum, min, max, avg, and null min(s)/max(s) */
#define SROW(s, e, key, rest) \
    "{\"session_window\":{\"start\":\"2019-01-01T" s ".000Z\",\"end\":\"2019-01-01T" e \
    ".000Z\"},\"key\":\"" key "\"," rest "}"
#define NOS ",\"min(s)\":null,\"max(s)\":null"

/* ---- assignment, extension, merging ----------------------------------- */

START_TEST(session_extend_and_separate)
{
    sq *t = snew(5 * MIN, -1, LS_MODE_COMPLETE, 4);
    begin(t, 0);
    push(t, REC("a", "08:00:00", 1));
    push(t, REC("a", "08:03:00", 2)); /* within the gap: extends to 08:08 */
    push(t, REC("a", "08:20:00", 3)); /* a new session */
    push(t, REC("b", "08:01:00", 4)); /* another key: its own session */
    end(t);
    expect_rows(t, ROWS(
        SROW("08:00:00", "08:08:00", "a", "\"count\":2,\"sum(v)\":3,\"min(v)\":1,\"max(v)\":2,\"avg(v)\":1.5" NOS),
        SROW("08:20:00", "08:25:00", "a", "\"count\":1,\"sum(v)\":3,\"min(v)\":3,\"max(v)\":3,\"avg(v)\":3.0" NOS),
        SROW("08:01:00", "08:06:00", "b", "\"count\":1,\"sum(v)\":4,\"min(v)\":4,\"max(v)\":4,\"avg(v)\":4.0" NOS)));
    ck_assert_uint_eq(ls_state_groups(ls_query_state(t->q)), 3);
    ck_assert_int_eq(ls_query_batch_stats(t->q)->rows_updated, 3);
    sfree(t);
}
END_TEST

/* MergingSessionsIterator: a session starting exactly at the end of the one before joins
 * it; one millisecond later does not. Out of order within the batch. */
START_TEST(session_touching_ends)
{
    sq *t = snew(5 * MIN, -1, LS_MODE_COMPLETE, 2);
    begin(t, 0);
    push(t, REC("a", "08:05:00", 2));
    push(t, REC("a", "08:10:00.001", 3));
    push(t, REC("a", "08:00:00", 1));
    push(t, REC("a", "08:02:30", 4)); /* inside [08:00, 08:10) */
    end(t);
    expect_rows(t, ROWS(
        SROW("08:00:00", "08:10:00", "a", "\"count\":3,\"sum(v)\":7,\"min(v)\":1,\"max(v)\":4,\"avg(v)\":2.3333333333333335" NOS),
        "{\"session_window\":{\"start\":\"2019-01-01T08:10:00.001Z\",\"end\":\"2019-01-01T08:15:00.001Z\"},"
        "\"key\":\"a\",\"count\":1,\"sum(v)\":3,\"min(v)\":3,\"max(v)\":3,\"avg(v)\":3.0" NOS "}"));
    sfree(t);
}
END_TEST

/* A record bridging two stored sessions makes them one, aggregates merged (strings too). */
START_TEST(session_bridge_across_batches)
{
    sq *t = snew(10 * MIN, -1, LS_MODE_COMPLETE, 3);
    begin(t, 0);
    push(t, RECS("a", "08:00:00", 5, "m"));
    push(t, RECS("a", "08:20:00", 1, "z"));
    end(t);
    expect_rows(t, ROWS(
        SROW("08:00:00", "08:10:00", "a", "\"count\":1,\"sum(v)\":5,\"min(v)\":5,\"max(v)\":5,\"avg(v)\":5.0,\"min(s)\":\"m\",\"max(s)\":\"m\""),
        SROW("08:20:00", "08:30:00", "a", "\"count\":1,\"sum(v)\":1,\"min(v)\":1,\"max(v)\":1,\"avg(v)\":1.0,\"min(s)\":\"z\",\"max(s)\":\"z\"")));
    begin(t, 1);
    push(t, RECS("a", "08:10:00", 3, "a")); /* [08:10, 08:20): touches both */
    end(t);
    expect_rows(t, ROWS(
        SROW("08:00:00", "08:30:00", "a", "\"count\":3,\"sum(v)\":9,\"min(v)\":1,\"max(v)\":5,\"avg(v)\":3.0,\"min(s)\":\"a\",\"max(s)\":\"z\"")));
    ck_assert_uint_eq(ls_state_groups(ls_query_state(t->q)), 1);
    ck_assert_int_eq(ls_query_batch_stats(t->q)->rows_updated, 1);
    ck_assert_int_eq(ls_query_batch_stats(t->q)->evicted_rows, 1); /* [08:20, 08:30): [08:00, ...) keeps its start */
    /* a record inside the merged session: the same group */
    begin(t, 2);
    push(t, RECS("a", "08:15:00", 1, "q"));
    end(t);
    expect_rows(t, ROWS(
        SROW("08:00:00", "08:30:00", "a", "\"count\":4,\"sum(v)\":10,\"min(v)\":1,\"max(v)\":5,\"avg(v)\":2.5,\"min(s)\":\"a\",\"max(s)\":\"z\"")));
    ck_assert_uint_eq(ls_state_groups(ls_query_state(t->q)), 1);
    sfree(t);
}
END_TEST

/* ---- watermark: late per record, append emission, complete mode -------- */

/* The Spark probe of README's session semantics (gap 5, watermark 10), batch by batch. */
static void late_rounds(sq *t, int append)
{
    begin(t, 0);
    push(t, REC("a", "06:30:00", 1));
    end(t);
    if (append) expect_rows(t, NO_ROWS);
    begin(t, 1); /* watermark 06:20 from now on; late judged by 0 */
    push(t, REC("a", "06:31:00", 2));
    push(t, REC("b", "06:00:00", 3));
    end(t);
    if (append) { /* [06:00, 06:05) of b ends before 06:20: emitted and evicted */
        expect_rows(t, ROWS(SROW("06:00:00", "06:05:00", "b", "\"count\":1,\"sum(v)\":3,\"min(v)\":3,\"max(v)\":3,\"avg(v)\":3.0" NOS)));
        ck_assert_uint_eq(ls_state_groups(ls_query_state(t->q)), 1);
    }
    begin(t, 2); /* late by 06:20: 06:10 and 06:14 (their sessions end by 06:19) */
    push(t, REC("a", "06:26:00", 4));
    push(t, REC("a", "06:10:00", 5));
    push(t, REC("a", "06:17:00", 6));
    push(t, REC("a", "06:14:00", 7));
    push(t, REC("a", "06:21:00", 8));
    end(t);
    ck_assert_int_eq(ls_query_batch_stats(t->q)->late_rows, 2);
    ck_assert_int_eq(ls_query_batch_stats(t->q)->late_input_rows, 2);
}

START_TEST(session_append)
{
    sq *t = snew(5 * MIN, 10 * MIN, LS_MODE_APPEND, 4);
    late_rounds(t, 1);
    expect_rows(t, NO_ROWS);
    ck_assert_uint_eq(ls_state_groups(ls_query_state(t->q)), 1); /* [06:17, 06:36) */
    begin(t, 3);
    push(t, REC("a", "07:00:00", 9));
    end(t);
    expect_rows(t, NO_ROWS); /* the batch's watermark is 06:21 */
    ck_assert(ls_query_wants_batch(t->q)); /* 06:50: a no-data batch evicts */
    begin(t, 4);
    end(t);
    expect_rows(t, ROWS(SROW("06:17:00", "06:36:00", "a", "\"count\":5,\"sum(v)\":21,\"min(v)\":1,\"max(v)\":8,\"avg(v)\":4.2" NOS)));
    ck_assert_int_eq(ls_query_batch_stats(t->q)->evicted_rows, 1);
    ck_assert_uint_eq(ls_state_groups(ls_query_state(t->q)), 1);
    /* a record whose session ended before the watermark: dropped, counted */
    begin(t, 5);
    push(t, REC("a", "06:40:00", 1));
    end(t);
    expect_rows(t, NO_ROWS);
    ck_assert_int_eq(ls_query_batch_stats(t->q)->late_rows, 1);
    sfree(t);
}
END_TEST

START_TEST(session_complete_drops_late_keeps_all)
{
    sq *t = snew(5 * MIN, 10 * MIN, LS_MODE_COMPLETE, 4);
    late_rounds(t, 0);
    expect_rows(t, ROWS(
        SROW("06:00:00", "06:05:00", "b", "\"count\":1,\"sum(v)\":3,\"min(v)\":3,\"max(v)\":3,\"avg(v)\":3.0" NOS),
        SROW("06:30:00", "06:36:00", "a", "\"count\":2,\"sum(v)\":3,\"min(v)\":1,\"max(v)\":2,\"avg(v)\":1.5" NOS),
        SROW("06:00:00", "06:05:00", "b", "\"count\":1,\"sum(v)\":3,\"min(v)\":3,\"max(v)\":3,\"avg(v)\":3.0" NOS),
        SROW("06:17:00", "06:36:00", "a", "\"count\":5,\"sum(v)\":21,\"min(v)\":1,\"max(v)\":8,\"avg(v)\":4.2" NOS),
        SROW("06:30:00", "06:35:00", "a", "\"count\":1,\"sum(v)\":1,\"min(v)\":1,\"max(v)\":1,\"avg(v)\":1.0" NOS)));
    ck_assert_uint_eq(ls_state_groups(ls_query_state(t->q)), 2); /* nothing evicted */
    ck_assert(!ls_query_wants_batch(t->q));
    sfree(t);
}
END_TEST

/* Late rows are counted as Spark counts them: one per (Kafka partition, key, event time). */
START_TEST(session_late_count_per_partition)
{
    sq *t = snew(5 * MIN, 10 * MIN, LS_MODE_APPEND, 2);
    begin(t, 0);
    push(t, REC("a", "10:02:00", 1));
    end(t);
    begin(t, 1);
    end(t); /* no-data batch: watermark 09:52 */
    begin(t, 2);
    push_to(t->q, REC("a", "09:40:00", 1), 0);
    push_to(t->q, REC("a", "09:40:00", 1), 0);
    push_to(t->q, REC("a", "09:41:00", 1), 0);
    push_to(t->q, REC("a", "09:40:00", 1), 1);
    push_to(t->q, REC("a", "09:46:00", 1), 1);
    end(t);
    ck_assert_int_eq(ls_query_batch_stats(t->q)->late_rows, 4);
    ck_assert_int_eq(ls_query_batch_stats(t->q)->late_input_rows, 5);
    sfree(t);
}
END_TEST

/* ---- workers, snapshots, max_state_rows -------------------------------- */

/* Two workers' partial states (clones) merged into the engine's query as ls_workers.c does:
 * the sessions they hold apart become one at the end of the batch. */
START_TEST(session_workers_merge)
{
    sq *t = snew(10 * MIN, 30 * MIN, LS_MODE_APPEND, 4);
    ls_err err = { "" };
    ls_query *w[2];
    for (int i = 0; i < 2; i++) {
        w[i] = ls_query_clone(t->q, L, LUA_NOREF, LUA_NOREF, &err);
        ck_assert_msg(w[i] != NULL, "%s", err.msg);
    }
    for (int b = 0; b < 2; b++) {
        begin(t, b);
        for (int i = 0; i < 2; i++) { /* as ls_workers_begin_batch */
            ls_query_begin_batch(w[i], b);
            w[i]->wm = t->q->wm;
        }
        if (b == 0) {
            push_to(w[0], RECS("a", "00:00:00", 1, "x"), 0);
            push_to(w[1], RECS("a", "00:08:00", 2, "y"), 1);
            push_to(w[0], RECS("a", "00:25:00", 3, "w"), 0);
            push_to(w[1], RECS("b", "00:01:00", 4, "v"), 1);
        } else {
            push_to(w[1], RECS("a", "00:17:00", 5, "u"), 1); /* bridges [00:00,00:18) and [00:25,00:35) */
            push_to(w[0], RECS("b", "02:00:00", 6, "t"), 0); /* moves the watermark to 01:30 */
        }
        for (int i = 0; i < 2; i++) {
            for (int p = 0; p < ls_state_nparts(ls_query_state(t->q)); p++) {
                ls_merge_result r = { 0 };
                ls_state_merge_part(ls_query_state(t->q), ls_query_state(w[i]), p, ls_query_declared(t->q)->aggs, b, &r);
                ls_state_add_merged(ls_query_state(t->q), &r);
            }
            ls_query_add_partial(t->q, w[i]);
            ls_state_clear(ls_query_state(w[i]));
        }
        end(t);
        if (b == 0) ck_assert_uint_eq(ls_state_groups(ls_query_state(t->q)), 3);
    }
    expect_rows(t, NO_ROWS);
    begin(t, 2); /* no data: the watermark 01:30 closes every session of 00:xx */
    end(t);
    expect_rows(t, ROWS(
        SROW("00:00:00", "00:35:00", "a", "\"count\":4,\"sum(v)\":11,\"min(v)\":1,\"max(v)\":5,\"avg(v)\":2.75,\"min(s)\":\"u\",\"max(s)\":\"y\""),
        SROW("00:01:00", "00:11:00", "b", "\"count\":1,\"sum(v)\":4,\"min(v)\":4,\"max(v)\":4,\"avg(v)\":4.0,\"min(s)\":\"v\",\"max(s)\":\"v\"")));
    for (int i = 0; i < 2; i++) ls_query_free(w[i]);
    sfree(t);
}
END_TEST

/* Sessions are state groups: a snapshot keeps them, and after loading a record still merges
 * with them (into a state of another partition count). */
START_TEST(session_snapshot_restore)
{
    sq *t = snew(5 * MIN, -1, LS_MODE_COMPLETE, 4);
    begin(t, 0);
    push(t, RECS("a", "08:00:00", 1, "k"));
    push(t, RECS("a", "08:10:00", 2, "l"));
    end(t);
    expect_rows(t, ROWS(
        SROW("08:00:00", "08:05:00", "a", "\"count\":1,\"sum(v)\":1,\"min(v)\":1,\"max(v)\":1,\"avg(v)\":1.0,\"min(s)\":\"k\",\"max(s)\":\"k\""),
        SROW("08:10:00", "08:15:00", "a", "\"count\":1,\"sum(v)\":2,\"min(v)\":2,\"max(v)\":2,\"avg(v)\":2.0,\"min(s)\":\"l\",\"max(s)\":\"l\"")));
    char path[4096];
    snprintf(path, sizeof path, "%s/snap", dir);
    FILE *f = fopen(path, "w+b");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(ls_state_save(ls_query_state(t->q), f), 0);
    rewind(f);
    sq *r = snew(5 * MIN, -1, LS_MODE_COMPLETE, 7);
    ls_err err = { "" };
    ck_assert_msg(ls_state_load(ls_query_state(r->q), f, path, &err) == 0, "%s", err.msg);
    fclose(f);
    ck_assert_uint_eq(ls_state_groups(ls_query_state(r->q)), 2);
    r->pos = t->pos; /* the same sink file */
    begin(r, 1);
    push(r, RECS("a", "08:05:00", 3, "j")); /* touches both */
    end(r);
    expect_rows(r, ROWS(
        SROW("08:00:00", "08:15:00", "a", "\"count\":3,\"sum(v)\":6,\"min(v)\":1,\"max(v)\":3,\"avg(v)\":2.0,\"min(s)\":\"j\",\"max(s)\":\"l\"")));
    ck_assert_uint_eq(ls_state_groups(ls_query_state(r->q)), 1);
    sfree(r);
    sfree(t);
}
END_TEST

/* max_state_rows counts sessions after merging. */
START_TEST(session_max_state_rows)
{
    sq *t = snew(5 * MIN, -1, LS_MODE_COMPLETE, 2);
    ls_query_decl_of(t->q)->max_state_rows = 1;
    begin(t, 0);
    push(t, REC("a", "08:00:00", 1));
    push(t, REC("a", "08:04:00", 1));
    push(t, REC("a", "08:08:00", 1));
    end(t); /* three records, one session */
    ck_assert_uint_eq(ls_state_groups(ls_query_state(t->q)), 1);
    begin(t, 1);
    push(t, REC("a", "09:00:00", 1));
    ls_err err = { "" };
    ck_assert_int_eq(ls_query_end_batch(t->q, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "max_state_rows"));
    sfree(t);
}
END_TEST

/* ls_session_merge on a hand-made state: many sessions of one key in reverse order all
 * bridged; unrelated keys untouched. */
START_TEST(session_merge_direct)
{
    int sess_col = _i; /* the session first, then second, among the two group columns */
    ls_agg_spec spec[1] = { { .fn = LS_AGG_COUNT, .column = NULL, .name = "count" } };
    ls_state *s = ls_state_new(3, 1);
    ls_buf k;
    ls_buf_init(&k);
    for (int i = 20; i >= 0; i--) { /* [i*5, i*5+5) minutes: each touches the next */
        for (int key = 0; key < 2; key++) {
            ls_buf_reset(&k);
            ls_value w = { .type = LS_WINDOW };
            w.u.w.start = i * 5 * MIN + key * 1000 * MIN;
            w.u.w.end = w.u.w.start + 5 * MIN;
            ls_value kv = ls_int(key);
            ls_key_put(&k, sess_col == 0 ? &w : &kv);
            ls_key_put(&k, sess_col == 0 ? &kv : &w);
            int created;
            ls_group *g = ls_state_upsert(s, k.data, k.len, ls_hash(k.data, k.len), w.u.w.end, &created);
            ck_assert(created);
            g->acc[0].n = 1;
            g->updated_batch = key == 0 ? 7 : (i % 2 ? 7 : 6); /* key 1: half are older */
        }
    }
    ls_session_result r;
    ls_err err = { "" };
    ck_assert_int_eq(ls_session_merge(s, sess_col, 2, spec, 7, &r, &err), 0);
    ck_assert_uint_eq(ls_state_groups(s), 2);
    ck_assert_int_eq(r.sessions_updated, 2);
    ck_assert_uint_eq(r.merged_away, 42);
    ck_assert_uint_eq(r.stored_merged, 10); /* key 1's older ones but the first */
    ls_group *g;
    int seen = 0;
    for (int p = 0; p < ls_state_nparts(s); p++)
        LS_HMAP_FOREACH(ls_state_part(s, p), g) {
            size_t pos = 0;
            ls_value v[2];
            const char *key = ls_group_key(g, 1);
            ck_assert_int_eq(ls_key_get(key, g->key_len, &pos, &v[0]), 0);
            ck_assert_int_eq(ls_key_get(key, g->key_len, &pos, &v[1]), 0);
            ck_assert_int_eq(v[sess_col].type, LS_WINDOW);
            int64_t base = v[1 - sess_col].u.i * 1000 * MIN;
            ck_assert_int_eq(v[sess_col].u.w.start, base);
            ck_assert_int_eq(v[sess_col].u.w.end, base + 105 * MIN);
            ck_assert_int_eq(g->window_end, base + 105 * MIN);
            ck_assert_int_eq(g->acc[0].n, 21);
            ck_assert_int_eq(g->updated_batch, 7);
            seen++;
        }
    ck_assert_int_eq(seen, 2);
    /* a corrupt key is an error, not a crash */
    ls_buf_reset(&k);
    ls_buf_putc(&k, 'W');
    int created;
    ls_group *bad = ls_state_upsert(s, k.data, k.len, ls_hash(k.data, k.len), 1, &created);
    bad->updated_batch = 8;
    ck_assert_int_eq(ls_session_merge(s, sess_col, 2, spec, 8, &r, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "corrupt"));
    ls_buf_free(&k);
    ls_state_free(s);
}
END_TEST

/* ---- declarations Spark refuses ---------------------------------------- */

static void expect_refused(ls_query *q, ls_mode mode, const char *needle)
{
    ls_err err = { "" };
    ls_query_decl_of(q)->mode = mode;
    ck_assert_int_eq(ls_query_ready(q, 2, &err), -1);
    ck_assert_msg(strstr(err.msg, needle) != NULL, "%s", err.msg);
    ls_query_free(q);
}

START_TEST(session_refusals)
{
    expect_refused(session_query("u", 5 * MIN, 10 * MIN, 1), LS_MODE_UPDATE, "is not supported with a session window");
    expect_refused(session_query("g", 5 * MIN, 10 * MIN, 0), LS_MODE_APPEND, "needs another group_by column");
    expect_refused(session_query("g", 5 * MIN, -1, 0), LS_MODE_COMPLETE, "needs another group_by column");
    expect_refused(session_query("w", 5 * MIN, -1, 1), LS_MODE_APPEND, "needs a watermark");
    /* two windows */
    ls_query *q = session_query("two", 5 * MIN, -1, 1);
    ls_groupcol *g = &ls_query_decl_of(q)->groups[ls_query_decl_of(q)->ngroups++];
    g->name = strdup("window");
    g->is_window = 1;
    g->win.size = g->win.slide = MIN;
    g->col = colref("ts");
    expect_refused(q, LS_MODE_COMPLETE, "at most one window");
    /* the watermark on another column */
    q = session_query("col", 5 * MIN, 10 * MIN, 1);
    free(ls_query_declared(q)->event_time.name);
    ls_query_decl_of(q)->event_time = colref("other");
    expect_refused(q, LS_MODE_APPEND, "session window is on \"ts\"");
}
END_TEST

Suite *session_suite(void)
{
    Suite *s = suite_create("session");
    TCase *tc = tcase_create("session");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, session_extend_and_separate);
    tcase_add_test(tc, session_touching_ends);
    tcase_add_test(tc, session_bridge_across_batches);
    tcase_add_test(tc, session_append);
    tcase_add_test(tc, session_complete_drops_late_keeps_all);
    tcase_add_test(tc, session_late_count_per_partition);
    tcase_add_test(tc, session_workers_merge);
    tcase_add_test(tc, session_snapshot_restore);
    tcase_add_test(tc, session_max_state_rows);
    tcase_add_loop_test(tc, session_merge_direct, 0, 2);
    tcase_add_test(tc, session_refusals);
    suite_add_tcase(s, tc);
    return s;
}
