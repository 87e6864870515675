/* test_query_clone.c - worker copies of a query (ls_query_clone) and the
 * way their partial results come back (ls_state_merge_part per partition,
 * ls_query_add_partial), driven as ls_workers.c drives them: records split
 * between two clones must give the rows and counters of one query that
 * processed them all. */
#include <check.h>
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdlib.h>
#include <string.h>

#include "ls_deadletter.h"
#include "ls_sink.h"
#include "ls_source.h"
#include "ls_table.h"
#include "ls_json_lua.h"
#include "ls_query.h"
#include "ls_query_impl.h" /* white-box: partial counters and states */
#include "suites.h"
#include "test_helpers.h"

static lua_State *L;
static char *dir;
static ls_deadletter *dl;
static ls_table *radio;

static void setup(void)
{
    L = luaL_newstate();
    luaL_openlibs(L);
    dir = th_tmpdir();
    ck_assert_ptr_nonnull(dir);
    ls_err err;
    size_t n = strlen(dir) + 32;
    char *p = malloc(n);
    snprintf(p, n, "%s/dead_letter.jsonl", dir);
    dl = ls_deadletter_file(p, &err);
    free(p);
    ck_assert_msg(dl != NULL, "%s", err.msg);
    const char *json = "[{\"code\":\"A1\",\"name\":\"Alpha\",\"region\":\"north\"},"
                       " {\"code\":\"B2\",\"name\":\"Bravo\",\"region\":\"south\"},"
                       " {\"code\":3,\"name\":\"Three\",\"region\":\"north\"}]";
    char *path = th_write_file(dir, "radio.json", json, strlen(json));
    radio = ls_table_load(path, "code", &err);
    free(path);
    ck_assert_msg(radio != NULL, "%s", err.msg);
}

static void teardown(void)
{
    ls_table_free(radio);
    ls_deadletter_free(dl);
    lua_close(L);
    th_rmrf(dir);
    free(dir);
    dir = NULL;
}

/* ---- declarations ------------------------------------------------------ */

typedef struct tq {
    ls_query *q;
    char *path;         /* the sink's file */
    size_t pos;         /* bytes already read */
    ls_fieldset *fs;    /* projected: its fields and view */
    ls_recview view;
} tq;

static ls_colref colref(const char *name)
{
    ls_colref c = { strdup(name), -1, -1, -1, 0 };
    return c;
}

static const char *MAP =
    "return function(r)\n"
    "  if r.v == 13 then return nil end\n"                     /* filtered */
    "  if r.v == 66 then error('sixty-six') end\n"             /* dead-lettered */
    "  return { radio = r.radio, t = r.t, v = r.v, w = r.v }\n"
    "end\n";

static int new_map_ref(void)
{
    ck_assert_msg(luaL_dostring(L, MAP) == LUA_OK, "%s", lua_tostring(L, -1));
    return luaL_ref(L, LUA_REGISTRYINDEX);
}

/* Declarations:
 *   0: update mode, sliding window + watermark, left join, group by the
 *      joined name, every aggregate
 *   1: append mode, tumbling window + watermark, group by a record column
 *   2: complete mode, a map, inner join, group by the joined region, no window */
static void declare(ls_query *q, int kind)
{
    q->d.groups = calloc(4, sizeof *q->d.groups);
    q->d.aggs = calloc(8, sizeof *q->d.aggs);
    q->d.agg_cols = calloc(8, sizeof *q->d.agg_cols);
    q->d.joins = calloc(2, sizeof *q->d.joins);
    if (kind == 0 || kind == 2) {
        ls_join *j = &q->d.joins[q->d.njoins++];
        j->table = radio;
        j->left = colref("radio");
        j->inner = kind == 2;
        j->tcols = calloc(radio->ncols + 1, sizeof *j->tcols);
        for (size_t c = 1; c < radio->ncols; c++) j->tcols[j->ncols++] = (int)c;
    }
    if (kind == 0 || kind == 1) {
        ls_groupcol *g = &q->d.groups[q->d.ngroups++];
        g->name = strdup("window");
        g->is_window = 1;
        g->win.size = 10 * 60000;
        g->win.slide = kind == 0 ? 5 * 60000 : 10 * 60000;
        g->col = colref("t");
        q->d.has_event_time = 1;
        q->d.event_time = colref("t");
        q->d.has_watermark = 1;
        ls_watermark_init(&q->wm, 5 * 60000);
    }
    ls_groupcol *g = &q->d.groups[q->d.ngroups++];
    const char *gcol = kind == 0 ? "name" : kind == 1 ? "radio" : "region";
    g->name = strdup(gcol);
    g->col = colref(gcol);
    if (kind != 1) {
        g->col.join = 0;
        g->col.tcol = ls_table_col(radio, gcol);
    }
    static const struct { ls_agg_fn fn; const char *col, *name; } aggs[] = {
        { LS_AGG_COUNT, NULL, "n" }, { LS_AGG_SUM, "v", "total" }, { LS_AGG_MIN, "v", "lo" },
        { LS_AGG_MAX, "v", "hi" },   { LS_AGG_AVG, "v", "mean" },  { LS_AGG_COUNT, "v", "nv" },
    };
    for (size_t a = 0; a < 6; a++) {
        size_t i = q->d.naggs++;
        q->d.aggs[i].fn = aggs[a].fn;
        q->d.aggs[i].column = aggs[a].col ? strdup(aggs[a].col) : NULL;
        q->d.aggs[i].name = strdup(aggs[a].name);
        if (aggs[a].col) q->d.agg_cols[i] = colref(aggs[a].col);
    }
    q->d.mode = kind == 0 ? LS_MODE_UPDATE : kind == 1 ? LS_MODE_APPEND : LS_MODE_COMPLETE;
    q->d.trigger_ms = 250 * (kind + 1);
    q->d.max_state_rows = 100000 + kind; /* far above what the tests hold */
    if (kind == 2) q->d.map_ref = new_map_ref();
}

static tq *make(const char *name, int kind, int projected, int parts)
{
    tq *t = calloc(1, sizeof *t);
    t->q = ls_query_new(name, L);
    declare(t->q, kind);
    ls_err err = { "" };
    ck_assert_msg(ls_query_ready(t->q, parts, &err) == 0, "%s", err.msg);
    t->q->d.sink = ls_sink_jsonl_new(dir, name, &err);
    ck_assert_msg(t->q->d.sink != NULL, "%s", err.msg);
    size_t n = strlen(dir) + strlen(name) + 16;
    t->path = malloc(n);
    snprintf(t->path, n, "%s/%s.jsonl", dir, name);
    if (projected && t->q->d.map_ref == LUA_NOREF) {
        t->fs = ls_fieldset_new();
        ls_query_project(t->q, t->fs);
        ls_recview_init(&t->view, t->fs->n);
    }
    return t;
}

static void tq_free(tq *t)
{
    if (t->fs) {
        ls_recview_free(&t->view);
        ls_fieldset_free(t->fs);
    }
    ls_query_free(t->q);
    free(t->path);
    free(t);
}

/* ---- running ------------------------------------------------------------ */

/* Runs json through q; projected queries read `fs` / `view` (a clone
 * reads its parent's). */
static void push(ls_query *q, ls_fieldset *fs, ls_recview *view, const char *json, int64_t off)
{
    ls_err err = { "" };
    ls_origin o = { .topic = "events", .partition = 1, .offset = off, .timestamp = -1, .timestamp_type = -1 };
    size_t n = strlen(json);
    if (q->use_view) {
        ck_assert_msg(ls_json_scan(json, n, fs, view, &err) == 0, "%s: %s", json, err.msg);
        ck_assert_int_eq(ls_query_process(q, 0, view, &o, json, n, ls_reject_to(dl), &err), 0);
        return;
    }
    int top = lua_gettop(L);
    ck_assert_msg(ls_json_decode(L, json, n, NULL, &err) == 0, "%s: %s", json, err.msg);
    ck_assert_int_eq(ls_query_process(q, -1, NULL, &o, json, n, ls_reject_to(dl), &err), 0);
    lua_settop(L, top);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The rows written since the last call, sorted, one per line (malloc'd). */
static char *new_rows(tq *t)
{
    size_t len;
    char *text = th_read_file(t->path, &len);
    ck_assert_ptr_nonnull(text);
    char *lines[4096];
    int n = th_lines(text + t->pos, lines, 4096);
    ck_assert_int_lt(n, 4096);
    t->pos = len;
    qsort(lines, (size_t)n, sizeof *lines, cmp_str);
    ls_buf b;
    ls_buf_init(&b);
    ls_buf_puts(&b, "");
    for (int i = 0; i < n; i++) ls_buf_printf(&b, "%s\n", lines[i]);
    free(text);
    return b.data;
}

static uint64_t rng;

static uint64_t rnd(uint64_t n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng % n;
}

/* A record of batch b: event times move forward batch by batch, with some
 * stragglers (late once the watermark passed them), every kind of value,
 * and some bad ones (dead-lettered). */
static void make_record(char *out, size_t cap, int b)
{
    static const char *const radios[] = { "\"A1\"", "\"B2\"", "\"Z9\"", "3", "3.0", "null" };
    int64_t base = 1546257600 + (int64_t)b * 900; /* 2018-12-31T12:00Z, 15 min per batch */
    int64_t t = base + (int64_t)rnd(900);
    if (rnd(8) == 0) t -= 1200 + (int64_t)rnd(1800); /* a straggler */
    char v[32];
    switch (rnd(10)) {
    case 0: snprintf(v, sizeof v, "null"); break;
    case 1: snprintf(v, sizeof v, "%.2f", (double)((int64_t)rnd(400) - 200) / 4.0); break;
    case 2: snprintf(v, sizeof v, "\"%d\"", (int)rnd(50)); break; /* number in a string */
    case 3: snprintf(v, sizeof v, rnd(4) ? "13" : "\"abc\""); break;
    case 4: snprintf(v, sizeof v, "66"); break;
    default: snprintf(v, sizeof v, "%d", (int)rnd(1000) - 300); break;
    }
    char ts[48];
    if (rnd(40) == 0) snprintf(ts, sizeof ts, "\"nope\"");                 /* bad event time */
    else if (rnd(3) == 0) snprintf(ts, sizeof ts, "%lld.5", (long long)t); /* fractional seconds */
    else snprintf(ts, sizeof ts, "%lld", (long long)t);
    if (rnd(30) == 0) snprintf(out, cap, "{\"radio\":\"A1\",\"v\":%s}", v); /* no event time */
    else snprintf(out, cap, "{\"radio\":%s,\"t\":%s,\"v\":%s}", radios[rnd(6)], ts, v);
}

static void assert_same_stats(const ls_query *got, const ls_query *want, int b)
{
    const ls_query_stats *g = &got->stats, *w = &want->stats;
#define SAME(f) ck_assert_msg(g->f == w->f, "batch %d: " #f " %lld, want %lld", b, (long long)g->f, (long long)w->f)
    SAME(input_rows);
    SAME(invalid_rows);
    SAME(filtered_rows);
    SAME(late_rows);
    SAME(rows_updated);
    SAME(output_rows);
    SAME(evicted_rows);
    SAME(et_min);
    SAME(et_max);
    SAME(et_count);
#undef SAME
    ck_assert_msg(g->et_sum == w->et_sum, "batch %d: et_sum %.17g, want %.17g", b, g->et_sum, w->et_sum);
    ck_assert_int_eq(got->wm.global, want->wm.global);
    ck_assert_int_eq(got->wm.batch, want->wm.batch);
    ck_assert_int_eq(got->wm.max_event, want->wm.max_event);
    ck_assert_uint_eq(ls_state_groups(got->state), ls_state_groups(want->state));
    ck_assert_uint_eq(ls_state_group_bytes(got->state), ls_state_group_bytes(want->state));
}

/* ---- tests ---------------------------------------------------------------- */

static void assert_same_colref(const ls_colref *c, const ls_colref *o)
{
    if (!o->name) {
        ck_assert_ptr_null(c->name);
        return;
    }
    ck_assert_ptr_nonnull(c->name);
    ck_assert_ptr_ne(c->name, o->name); /* a copy */
    ck_assert_str_eq(c->name, o->name);
    ck_assert_int_eq(c->join, o->join);
    ck_assert_int_eq(c->tcol, o->tcol);
    ck_assert_int_eq(c->slot, o->slot);
}

/* _i: declaration kind * 2 + projected */
START_TEST(clone_copies_declaration)
{
    int kind = _i / 2, projected = _i % 2;
    tq *o = make("orig", kind, projected, 6);
    ls_source *src = ls_source_new("127.0.0.1:1");
    o->q->d.source = src;
    /* the original has some state and counters already */
    ls_query_begin_batch(o->q, 4);
    char rec[256];
    rng = 99;
    for (int i = 0; i < 50; i++) {
        make_record(rec, sizeof rec, 0);
        push(o->q, o->fs, &o->view, rec, i);
    }
    ck_assert_uint_gt(ls_state_groups(o->q->state), 0);

    ls_err err = { "" };
    int ref = kind == 2 ? new_map_ref() : LUA_NOREF;
    ls_query *c = ls_query_clone(o->q, L, ref, LUA_NOREF, &err);
    ck_assert_msg(c != NULL, "%s", err.msg);
    ls_query *q = o->q;
    ck_assert_ptr_ne(c->d.name, q->d.name);
    ck_assert_str_eq(c->d.name, q->d.name);
    ck_assert_str_eq(c->id, q->id);
    ck_assert_str_eq(c->run_id, q->run_id);
    ck_assert_ptr_eq(c->L, L);
    ck_assert_int_eq(c->d.map_ref, ref);
    ck_assert_int_eq(c->use_view, q->use_view);
    ck_assert_int_eq(c->use_view, projected && kind != 2);
    ck_assert_ptr_eq(c->d.source, src);
    ck_assert_uint_eq(c->d.njoins, q->d.njoins);
    for (size_t j = 0; j < q->d.njoins; j++) {
        ck_assert_ptr_eq(c->d.joins[j].table, q->d.joins[j].table);
        assert_same_colref(&c->d.joins[j].left, &q->d.joins[j].left);
        ck_assert_int_eq(c->d.joins[j].inner, q->d.joins[j].inner);
        ck_assert_uint_eq(c->d.joins[j].ncols, q->d.joins[j].ncols);
        ck_assert_ptr_ne(c->d.joins[j].tcols, q->d.joins[j].tcols);
        for (size_t k = 0; k < q->d.joins[j].ncols; k++)
            ck_assert_int_eq(c->d.joins[j].tcols[k], q->d.joins[j].tcols[k]);
    }
    ck_assert_int_eq(c->d.has_event_time, q->d.has_event_time);
    assert_same_colref(&c->d.event_time, &q->d.event_time);
    ck_assert_int_eq(c->d.has_watermark, q->d.has_watermark);
    ck_assert_int_eq(c->wm.delay, q->wm.delay);
    ck_assert_int_eq(c->wm.global, q->wm.global);
    ck_assert_int_eq(c->wm.batch, q->wm.batch);
    ck_assert_int_eq(c->wm.late, q->wm.late);
    ck_assert_int_eq(c->wm.max_event, q->wm.max_event);
    if (kind != 2) ck_assert_int_eq(c->wm.delay, 5 * 60000);
    ck_assert_uint_eq(c->d.ngroups, q->d.ngroups);
    ck_assert_int_eq(c->d.window_idx, q->d.window_idx);
    for (size_t i = 0; i < q->d.ngroups; i++) {
        ck_assert_str_eq(c->d.groups[i].name, q->d.groups[i].name);
        ck_assert_ptr_ne(c->d.groups[i].name, q->d.groups[i].name);
        ck_assert_int_eq(c->d.groups[i].is_window, q->d.groups[i].is_window);
        ck_assert_int_eq(c->d.groups[i].win.size, q->d.groups[i].win.size);
        ck_assert_int_eq(c->d.groups[i].win.slide, q->d.groups[i].win.slide);
        assert_same_colref(&c->d.groups[i].col, &q->d.groups[i].col);
    }
    ck_assert_uint_eq(c->d.naggs, q->d.naggs);
    for (size_t a = 0; a < q->d.naggs; a++) {
        ck_assert_int_eq(c->d.aggs[a].fn, q->d.aggs[a].fn);
        ck_assert_str_eq(c->d.aggs[a].name, q->d.aggs[a].name);
        if (q->d.aggs[a].column) ck_assert_str_eq(c->d.aggs[a].column, q->d.aggs[a].column);
        else ck_assert_ptr_null(c->d.aggs[a].column);
        assert_same_colref(&c->d.agg_cols[a], &q->d.agg_cols[a]);
    }
    ck_assert_int_eq(c->d.mode, q->d.mode);
    ck_assert_int_eq(c->d.trigger_ms, q->d.trigger_ms);
    ck_assert_int_eq(c->d.max_state_rows, q->d.max_state_rows);
    ck_assert_int_eq(c->d.max_state_rows, 100000 + kind);
    /* its own, empty state with the same shape; no sink; fresh counters */
    ck_assert_ptr_ne(c->state, q->state);
    ck_assert_int_eq(ls_state_nparts(c->state), ls_state_nparts(q->state));
    ck_assert_int_eq(ls_state_nagg(c->state), ls_state_nagg(q->state));
    ck_assert_uint_eq(ls_state_groups(c->state), 0);
    ck_assert_uint_eq(ls_state_group_bytes(c->state), 0);
    ck_assert_ptr_null(c->d.sink);
    ck_assert_int_eq(c->stats.input_rows, 0);
    ck_assert_ptr_ne(c->out_names, q->out_names);
    for (size_t i = 0; i < q->d.ngroups + q->d.naggs; i++) ck_assert_str_eq(c->out_names[i], q->out_names[i]);

    /* the clone works on its own: records fold into its state, not the original's */
    size_t before = ls_state_groups(q->state);
    ls_query_begin_batch(c, 4);
    rng = 99;
    for (int i = 0; i < 50; i++) {
        make_record(rec, sizeof rec, 0);
        push(c, o->fs, &o->view, rec, i);
    }
    ck_assert_uint_eq(ls_state_groups(q->state), before);
    ck_assert_uint_eq(ls_state_groups(c->state), before); /* the same records: the same groups */
    ck_assert_int_eq(c->stats.input_rows, q->stats.input_rows);
    ck_assert_int_eq(c->stats.invalid_rows, q->stats.invalid_rows);
    ls_query_free(c);
    /* and the original outlives it */
    ck_assert_int_eq(ls_query_end_batch(q, &err), 0);
    tq_free(o);
    ls_source_free(src);
    ck_assert_int_eq(lua_gettop(L), 0);
}
END_TEST

/* _i: declaration kind * 2 + projected */
START_TEST(clone_partials_equal_single_query)
{
    int kind = _i / 2, projected = _i % 2;
    enum { NBATCH = 5, PER_BATCH = 400, PARTS = 5 };
    tq *single = make("single", kind, projected, PARTS);
    tq *merged = make("merged", kind, projected, PARTS);
    ls_err err = { "" };
    ls_query *w[2];
    for (int k = 0; k < 2; k++) {
        w[k] = ls_query_clone(merged->q, L, kind == 2 ? new_map_ref() : LUA_NOREF, LUA_NOREF, &err);
        ck_assert_msg(w[k] != NULL, "%s", err.msg);
    }
    rng = 0x1234567 + (uint64_t)_i;
    char rec[256];
    int64_t off = 0, total_rows = 0, late = 0, filtered = 0, evicted = 0;
    for (int b = 0; b < NBATCH; b++) {
        ls_query_begin_batch(single->q, b);
        ls_query_begin_batch(merged->q, b);
        for (int k = 0; k < 2; k++) {
            ls_query_begin_batch(w[k], b);
            w[k]->wm = merged->q->wm; /* as ls_workers_begin_batch */
        }
        int n = b == 3 ? 0 : PER_BATCH; /* an empty batch too */
        for (int i = 0; i < n; i++, off++) {
            make_record(rec, sizeof rec, b);
            push(single->q, single->fs, &single->view, rec, off);
            push(w[rnd(2)], merged->fs, &merged->view, rec, off);
        }
        /* the merge, partition by partition, then the totals */
        ls_merge_result r[2] = { { 0, 0, 0 }, { 0, 0, 0 } }, lr[2] = { { 0, 0, 0 }, { 0, 0, 0 } };
        for (int p = 0; p < PARTS; p++)
            for (int k = 0; k < 2; k++) {
                ls_state_merge_part(merged->q->state, w[k]->state, p, merged->q->d.aggs, b, &r[k]);
                ls_state_merge_part(merged->q->late, w[k]->late, p, merged->q->d.aggs, b, &lr[k]);
            }
        for (int k = 0; k < 2; k++) {
            ls_state_add_merged(merged->q->state, &r[k]);
            merged->q->stats.rows_updated += r[k].rows_updated;
            ls_merge_result late = { lr[k].groups_added, 0, 0 };
            ls_state_add_merged(merged->q->late, &late);
            ls_query_add_partial(merged->q, w[k]);
        }
        for (int k = 0; k < 2; k++) {
            ls_state_clear(w[k]->state);
            ls_state_clear(w[k]->late);
            ck_assert_uint_eq(ls_state_groups(w[k]->state), 0);
        }
        ck_assert_msg(ls_query_end_batch(single->q, &err) == 0, "%s", err.msg);
        ck_assert_msg(ls_query_end_batch(merged->q, &err) == 0, "%s", err.msg);
        char *want = new_rows(single), *got = new_rows(merged);
        ck_assert_msg(strcmp(got, want) == 0, "batch %d rows:\n--- merged\n%s--- single\n%s", b,
                      got, want);
        free(want);
        free(got);
        assert_same_stats(merged->q, single->q, b);
        total_rows += single->q->stats.output_rows;
        late += single->q->stats.late_rows;
        filtered += single->q->stats.filtered_rows;
        evicted += single->q->stats.evicted_rows;
    }
    /* the run exercised what it should */
    ck_assert_int_ge(total_rows, 10);
    if (kind != 2) {
        ck_assert_int_gt(late, 0);
        ck_assert_int_gt(evicted, 0);
    } else {
        ck_assert_int_gt(filtered, 0);
    }
    ck_assert_int_gt(dl->count, 10);
    for (int k = 0; k < 2; k++) ls_query_free(w[k]);
    tq_free(single);
    tq_free(merged);
    ck_assert_int_eq(lua_gettop(L), 0);
}
END_TEST

/* add_partial sums counters and widens event-time bounds, ignores empty
 * partials, and moves the watermark's max event but not the watermark. */
START_TEST(add_partial_counters)
{
    tq *t = make("sum", 0, 0, 2);
    ls_query *q = t->q;
    ls_err err = { "" };
    ls_query *a = ls_query_clone(q, L, LUA_NOREF, LUA_NOREF, &err), *b = ls_query_clone(q, L, LUA_NOREF, LUA_NOREF, &err);
    ls_query_begin_batch(q, 0);
    ls_query_begin_batch(a, 0);
    ls_query_begin_batch(b, 0);
    /* an empty partial changes nothing */
    ls_query_add_partial(q, b);
    ck_assert_int_eq(q->stats.input_rows, 0);
    ck_assert_int_eq(q->stats.et_min, LS_NO_TIME);
    ck_assert_int_eq(q->stats.et_max, LS_NO_TIME);
    ck_assert_int_eq(q->stats.et_count, 0);
    ck_assert_int_eq(q->wm.max_event, LS_NO_TIME);
    a->stats.input_rows = 10;
    a->stats.invalid_rows = 2;
    a->stats.filtered_rows = 3;
    a->stats.late_input_rows = 1;
    a->stats.et_min = 5000;
    a->stats.et_max = 9000;
    a->stats.et_count = 4;
    a->stats.et_sum = 28000;
    a->wm.max_event = 9000;
    b->stats.input_rows = 7;
    b->stats.et_min = 1000;
    b->stats.et_max = 6000;
    b->stats.et_count = 2;
    b->stats.et_sum = 7000;
    b->wm.max_event = 6000;
    ls_query_add_partial(q, a);
    ls_query_add_partial(q, b);
    ck_assert_int_eq(q->stats.input_rows, 17);
    ck_assert_int_eq(q->stats.invalid_rows, 2);
    ck_assert_int_eq(q->stats.filtered_rows, 3);
    ck_assert_int_eq(q->stats.late_input_rows, 1);
    ck_assert_int_eq(q->stats.et_min, 1000);
    ck_assert_int_eq(q->stats.et_max, 9000);
    ck_assert_int_eq(q->stats.et_count, 6);
    ck_assert_double_eq(q->stats.et_sum, 35000);
    ck_assert_int_eq(q->wm.max_event, 9000);
    ck_assert_int_eq(q->wm.global, 0); /* moves only at the end of the batch */
    ls_query_free(a);
    ls_query_free(b);
    tq_free(t);
}
END_TEST

Suite *query_clone_suite(void)
{
    Suite *s = suite_create("query_clone");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, clone_copies_declaration, 0, 6);
    tcase_add_loop_test(tc, clone_partials_equal_single_query, 0, 6);
    tcase_add_test(tc, add_partial_counters);
    suite_add_tcase(s, tc);
    return s;
}
