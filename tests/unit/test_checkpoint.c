/* test_checkpoint.c - checkpoint directories (ls_checkpoint_*), with an
 * engine compiled from a real script by ls_engine_new and driven by hand:
 * sources are never opened (no Kafka), so they have no partitions and the
 * recorded offsets are empty unless a test fakes partitions. */
#include <check.h>
#include <lua.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yajl_tree.h>

#include "ls_checkpoint.h"
#include "ls_engine.h"
#include "ls_source_impl.h" /* white-box: fakes partitions, reads resume positions */
#include "suites.h"
#include "test_helpers.h"

static char *dir;

static void setup(void)
{
    ck_assert_int_eq(th_set_lua_path(), 0);
    dir = th_tmpdir();
    ck_assert_ptr_nonnull(dir);
}

static void teardown(void)
{
    th_rmrf(dir);
    free(dir);
    dir = NULL;
}

/* dir + "/" + rel, in a static buffer (one at a time) */
static const char *at(const char *rel)
{
    static char buf[4][1024];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, rel);
    return buf[k];
}

static int file_exists(const char *rel)
{
    struct stat st;
    return stat(at(rel), &st) == 0;
}

static long file_size(const char *rel)
{
    struct stat st;
    return stat(at(rel), &st) == 0 ? (long)st.st_size : -1;
}

/* The script: two queries on one source, jsonl sinks in DIR/out. {GROUP}
 * is the second group column of per_window, {PARTS} its partitions. */
static const char *SCRIPT =
    "local ls = require 'luastream'\n"
    "local src = ls.kafka_source { topic = '{TOPIC}', bootstrap = '127.0.0.1:1' }\n"
    "ls.query 'per_window' {\n"
    "  from = src,\n"
    "  watermark = { 'time', '10 minutes' },\n"
    "  group_by = { ls.window('time', '10 minutes'), '{GROUP}' },\n"
    "  aggregate = { ls.count(), ls.sum('v', 'total'), ls.avg('v', 'mean'), ls.max('v', 'peak') },\n"
    "  output_mode = '{MODE}',\n"
    "  trigger = '{TRIGGER}',\n"
    "  sink = ls.jsonl_sink('DIR/out'),\n"
    "  partitions = {PARTS},\n"
    "}\n"
    "ls.query 'totals' {\n"
    "  from = src, group_by = { 'station' }, aggregate = { n = ls.count(), s = ls.sum('v') },\n"
    "  sink = ls.jsonl_sink('DIR/out'),\n"
    "}\n"
    "{EXTRA}\n";

typedef struct variant {
    const char *topic, *group, *mode, *trigger, *parts, *extra;
} variant;

static const variant BASE = { "events", "station", "update", "1 second", "3", "" };

static void subst(ls_buf *out, const char *text, const variant *v)
{
    static const char *const names[] = { "{TOPIC}", "{GROUP}", "{MODE}", "{TRIGGER}", "{PARTS}",
                                         "{EXTRA}", "DIR" };
    const char *vals[] = { v->topic, v->group, v->mode, v->trigger, v->parts, v->extra, dir };
    for (const char *p = text; *p;) {
        size_t i;
        for (i = 0; i < 7; i++)
            if (strncmp(p, names[i], strlen(names[i])) == 0) break;
        if (i < 7) {
            if (i == 5) subst(out, vals[i], v); /* the extra text may use DIR */
            else ls_buf_puts(out, vals[i]);
            p += strlen(names[i]);
        } else {
            ls_buf_putc(out, *p++);
        }
    }
}

/* Compiles the script variant with --checkpoint DIR/cp (unless cp is NULL). */
static ls_engine *engine(const variant *v, const char *cp, ls_err *err)
{
    ls_buf text;
    ls_buf_init(&text);
    ls_buf_puts(&text, "");
    subst(&text, SCRIPT, v);
    char *path = th_write_file(dir, "job.lua", text.data, text.len);
    ls_buf_free(&text);
    ls_engine_opts o = { 0 };
    o.script = path;
    o.quiet = 1;
    o.checkpoint = cp;
    err->msg[0] = '\0';
    ls_engine *e = ls_engine_new(&o, err);
    free(path);
    return e;
}

static ls_engine *engine_ok(const variant *v)
{
    ls_err err;
    ls_engine *e = engine(v, at("cp"), &err);
    ck_assert_msg(e != NULL, "ls_engine_new: %s", err.msg);
    ck_assert_ptr_nonnull(ls_engine_checkpoint(e));
    return e;
}

#define REC(hm, st, v) "{\"time\":\"2018-12-31T" hm ":00Z\",\"station\":\"" st "\",\"v\":" v "}"

/* One batch as ls_engine.c's finish_batch runs it: records through every
 * query, the write-ahead entry, the sinks, the dead letters, the commit. */
static void run_batch(ls_engine *e, int64_t batch, const char *const *recs, size_t n, int commit)
{
    ls_err err = { "" };
    ls_recview view;
    ls_fieldset *fs = ls_engine_decode_plan(e, 0)->fields;
    ls_recview_init(&view, fs->n);
    for (size_t i = 0; i < ls_engine_plan(e)->nqueries; i++) ls_query_begin_batch(ls_engine_plan(e)->queries[i], batch);
    for (size_t r = 0; r < n; r++) {
        ls_origin o = { .topic = "events", .partition = 0, .offset = (int64_t)r, .timestamp = -1, .timestamp_type = -1 };
        size_t len = strlen(recs[r]);
        ck_assert_msg(ls_json_scan(recs[r], len, fs, &view, &err) == 0, "%s", err.msg);
        for (size_t i = 0; i < ls_engine_plan(e)->nqueries; i++)
            ck_assert_int_eq(ls_query_process(ls_engine_plan(e)->queries[i], 0, &view, &o, recs[r], len, ls_reject_to(ls_engine_plan(e)->dl), &err), 0);
    }
    ls_recview_free(&view);
    ck_assert_msg(ls_checkpoint_wal(ls_engine_checkpoint(e), ls_engine_plan(e), batch, &err) == 0, "wal: %s", err.msg);
    for (size_t i = 0; i < ls_engine_plan(e)->nqueries; i++)
        ck_assert_msg(ls_query_end_batch(ls_engine_plan(e)->queries[i], &err) == 0, "%s", err.msg);
    ck_assert_msg(ls_deadletter_flush(ls_engine_plan(e)->dl, &err) == 0, "%s", err.msg);
    if (commit) ck_assert_msg(ls_checkpoint_commit(ls_engine_checkpoint(e), ls_engine_plan(e), batch, &err) == 0, "commit: %s", err.msg);
}

static const char *const B0[] = {
    REC("12:01", "A", "1"), REC("12:02", "B", "2"), REC("12:03", "A", "3.5"),
    "{\"time\":\"nope\",\"station\":\"A\",\"v\":1}", /* dead-lettered by per_window */
};
static const char *const B1[] = { REC("12:11", "A", "10"), REC("12:12", "C", "20") };
/* late: its window [11:40, 11:50) ends before batch 1's watermark 11:53 */
static const char *const B2[] = { REC("12:25", "B", "5"), REC("11:45", "A", "7") };
#define N(a) (sizeof(a) / sizeof((a)[0]))

static yajl_val read_json_file(const char *rel)
{
    char *text = th_read_file(at(rel), NULL);
    ck_assert_msg(text != NULL, "cannot read %s", rel);
    char perr[256];
    yajl_val v = yajl_tree_parse(text, perr, sizeof perr);
    ck_assert_msg(v != NULL, "%s: %s", rel, perr);
    free(text);
    return v;
}

static yajl_val get(yajl_val v, const char *a, const char *b)
{
    const char *p[] = { a, b, NULL };
    return yajl_tree_get(v, p, yajl_t_any);
}

/* The snapshot of a state, to compare states across engines. */
static char *state_bytes(const ls_state *s, size_t *n)
{
    FILE *f = tmpfile();
    ck_assert_int_eq(ls_state_save(s, f), 0);
    char *b = th_read_stream(f, n);
    fclose(f);
    return b;
}

/* Same groups, windows, batches and accumulators in two states (any partition counts). */
static void assert_same_groups(const ls_state *a, const ls_state *b)
{
    ck_assert_uint_eq(ls_state_groups(a), ls_state_groups(b));
    ck_assert_int_eq(ls_state_nagg(a), ls_state_nagg(b));
    for (int p = 0; p < ls_state_nparts(a); p++) {
        const ls_group *g;
        LS_HMAP_FOREACH(ls_state_part(a, p), g) {
            const char *key = ls_group_key(g, ls_state_nagg(a));
            uint64_t h = ls_hash(key, g->key_len);
            const ls_group *o = ls_state_find(b, key, g->key_len, h);
            ck_assert_msg(o != NULL, "a group is missing");
            ck_assert_int_eq(o->window_end, g->window_end);
            ck_assert_int_eq(o->updated_batch, g->updated_batch);
            for (int i = 0; i < ls_state_nagg(a); i++) {
                ck_assert_int_eq(o->acc[i].n, g->acc[i].n);
                ck_assert_int_eq(o->acc[i].kind, g->acc[i].kind);
                ck_assert_int_eq(o->acc[i].v.i, g->acc[i].v.i);
            }
        }
    }
}

/* ---- tests -------------------------------------------------------------- */

START_TEST(checkpoint_fresh_dir_writes_metadata)
{
    ls_engine *e = engine_ok(&BASE);
    ck_assert_int_eq(ls_checkpoint_next_batch(ls_engine_checkpoint(e)), 0);
    ck_assert_int_eq(ls_checkpoint_replaying(ls_engine_checkpoint(e)), 0);
    ck_assert(file_exists("cp/metadata"));
    ck_assert(file_exists("cp/offsets"));
    ck_assert(file_exists("cp/commits"));
    ck_assert(file_exists("cp/state/per_window"));
    ck_assert(file_exists("cp/state/totals"));
    ck_assert(!file_exists("cp/metadata.tmp"));
    /* checkpointing makes the outputs durable per batch */
    for (size_t i = 0; i < ls_engine_plan(e)->nqueries; i++) ck_assert_int_eq(ls_query_declared(ls_engine_plan(e)->queries[i])->sink->sync, 1);
    ck_assert_int_eq(ls_engine_plan(e)->dl->sync, 1);
    yajl_val md = read_json_file("cp/metadata");
    yajl_val qs = get(md, "queries", NULL);
    ck_assert(YAJL_IS_ARRAY(qs));
    ck_assert_uint_eq(YAJL_GET_ARRAY(qs)->len, 2);
    yajl_val q0 = YAJL_GET_ARRAY(qs)->values[0], q1 = YAJL_GET_ARRAY(qs)->values[1];
    ck_assert_str_eq(YAJL_GET_STRING(get(q0, "name", NULL)), "per_window");
    ck_assert_str_eq(YAJL_GET_STRING(get(q1, "name", NULL)), "totals");
    const char *sig0 = YAJL_GET_STRING(get(q0, "signature", NULL));
    ck_assert_uint_eq(strlen(sig0), 16);
    ck_assert_str_ne(sig0, YAJL_GET_STRING(get(q1, "signature", NULL)));
    yajl_tree_free(md);
    ls_engine_free(e);

    /* reopening the same script: accepted, nothing to restore */
    char *before = th_read_file(at("cp/metadata"), NULL);
    e = engine_ok(&BASE);
    ck_assert_int_eq(ls_checkpoint_next_batch(ls_engine_checkpoint(e)), 0);
    ck_assert_uint_eq(ls_state_groups(ls_query_state(ls_engine_plan(e)->queries[0])), 0);
    char *after = th_read_file(at("cp/metadata"), NULL);
    ck_assert_str_eq(after, before);
    free(before);
    free(after);
    ls_engine_free(e);
}
END_TEST

START_TEST(checkpoint_dir_from_script)
{
    variant v = BASE;
    v.extra = "ls.checkpoint('DIR/from_script')";
    ls_err err;
    ls_engine *e = engine(&v, NULL, &err);
    ck_assert_msg(e != NULL, "%s", err.msg);
    ck_assert_ptr_nonnull(ls_engine_checkpoint(e));
    ck_assert(file_exists("from_script/metadata"));
    ls_engine_free(e);
    /* --checkpoint overrides the script's */
    e = engine(&v, at("cp"), &err);
    ck_assert_msg(e != NULL, "%s", err.msg);
    ck_assert(file_exists("cp/metadata"));
    ls_engine_free(e);
    /* no checkpoint at all */
    e = engine(&BASE, NULL, &err);
    ck_assert_msg(e != NULL, "%s", err.msg);
    ck_assert_ptr_null(ls_engine_checkpoint(e));
    ck_assert_int_eq(ls_query_declared(ls_engine_plan(e)->queries[0])->sink->sync, 0);
    ls_engine_free(e);
}
END_TEST

/* A checkpoint of another declaration is refused, naming metadata; what
 * does not shape the state (trigger, partitions) may change. */
START_TEST(checkpoint_changed_declaration_refused)
{
    ls_engine *e = engine_ok(&BASE);
    run_batch(e, 0, B0, N(B0), 1);
    ls_engine_free(e);
    ls_err err;
    variant changes[4];
    for (int i = 0; i < 4; i++) changes[i] = BASE;
    changes[0].group = "v";        /* grouping */
    changes[1].mode = "append";    /* output mode */
    changes[2].topic = "other";    /* source */
    changes[3].extra = "ls.query 'third' { from = src, group_by = { 'station' }, sink = ls.jsonl_sink('DIR/out') }";
    for (int i = 0; i < 4; i++) {
        e = engine(&changes[i], at("cp"), &err);
        ck_assert_msg(e == NULL, "change %d accepted", i);
        ck_assert_msg(strstr(err.msg, at("cp/metadata")) != NULL, "change %d: %s", i, err.msg);
        if (i < 3) ck_assert_msg(strstr(err.msg, "per_window") != NULL, "change %d: %s", i, err.msg);
        else ck_assert_msg(strstr(err.msg, "3 queries") || strstr(err.msg, "this one has 3"), "%s", err.msg);
    }
    /* the refused runs left the checkpoint as it was */
    ck_assert(file_exists("cp/commits/0"));
    ck_assert(!file_exists("cp/offsets/1"));
    variant ok = BASE;
    ok.trigger = "5 seconds";
    ok.parts = "11";
    e = engine(&ok, at("cp"), &err);
    ck_assert_msg(e != NULL, "%s", err.msg);
    ck_assert_int_eq(ls_checkpoint_next_batch(ls_engine_checkpoint(e)), 1);
    ck_assert_int_eq(ls_state_nparts(ls_query_state(ls_engine_plan(e)->queries[0])), 11);
    ls_engine_free(e);
}
END_TEST

START_TEST(checkpoint_corrupt_metadata)
{
    ls_engine *e = engine_ok(&BASE);
    ls_engine_free(e);
    ls_err err;
    const char *bad[] = { "{\"version\":1,\"quer", "[]", "{\"version\":1}",
                          "{\"queries\":[{\"name\":1,\"signature\":2},{}]}" };
    for (int i = 0; i < 4; i++) {
        free(th_write_file(dir, "cp/metadata", bad[i], strlen(bad[i])));
        e = engine(&BASE, at("cp"), &err);
        ck_assert_msg(e == NULL, "metadata %d accepted", i);
        ck_assert_msg(strstr(err.msg, at("cp/metadata")) != NULL, "%d: %s", i, err.msg);
    }
}
END_TEST

START_TEST(checkpoint_wal_and_commit_files)
{
    ls_engine *e = engine_ok(&BASE);
    run_batch(e, 0, B0, N(B0), 0);
    /* the write-ahead entry is there before the commit */
    ck_assert(file_exists("cp/offsets/0"));
    ck_assert(!file_exists("cp/commits/0"));
    ck_assert(!file_exists("cp/state/per_window/0"));
    yajl_val wal = read_json_file("cp/offsets/0");
    ck_assert_int_eq(YAJL_GET_INTEGER(get(wal, "batchId", NULL)), 0);
    yajl_val srcs = get(wal, "sources", NULL);
    ck_assert(YAJL_IS_ARRAY(srcs));
    ck_assert_uint_eq(YAJL_GET_ARRAY(srcs)->len, 1); /* one source, no partitions yet */
    ck_assert_uint_eq(YAJL_GET_ARRAY(YAJL_GET_ARRAY(srcs)->values[0])->len, 0);
    /* the files as they were before the batch's rows: empty */
    yajl_val files = get(wal, "files", NULL);
    ck_assert(YAJL_IS_OBJECT(files));
    yajl_val len = get(files, at("out/per_window.jsonl"), NULL);
    ck_assert_msg(len && YAJL_IS_INTEGER(len), "no length of per_window.jsonl in offsets/0");
    ck_assert_int_eq(YAJL_GET_INTEGER(len), 0);
    yajl_tree_free(wal);

    ls_err err;
    ck_assert_msg(ls_checkpoint_commit(ls_engine_checkpoint(e), ls_engine_plan(e), 0, &err) == 0, "%s", err.msg);
    ck_assert(file_exists("cp/commits/0"));
    ck_assert(file_exists("cp/state/per_window/0"));
    ck_assert(file_exists("cp/state/totals/0"));
    ck_assert(!file_exists("cp/state/per_window/0.tmp"));
    ck_assert(!file_exists("cp/commits/0.tmp"));
    yajl_val cm = read_json_file("cp/commits/0");
    ck_assert_int_eq(YAJL_GET_INTEGER(get(cm, "batchId", NULL)), 0);
    /* the files after the batch */
    ck_assert_int_gt(file_size("out/per_window.jsonl"), 0);
    ck_assert_int_eq(YAJL_GET_INTEGER(get(get(cm, "files", NULL), at("out/per_window.jsonl"), NULL)),
                     file_size("out/per_window.jsonl"));
    ck_assert_int_eq(YAJL_GET_INTEGER(get(get(cm, "files", NULL), at("out/totals.jsonl"), NULL)),
                     file_size("out/totals.jsonl"));
    ck_assert_int_eq(YAJL_GET_INTEGER(get(get(cm, "files", NULL), at("out/dead_letter.jsonl"), NULL)),
                     file_size("out/dead_letter.jsonl"));
    ck_assert_int_gt(file_size("out/dead_letter.jsonl"), 0);
    /* watermarks: the one batch 0 ran with, the one batch 1 runs with */
    yajl_val wm = get(get(cm, "eventTimeWatermarks", NULL), "per_window", NULL);
    ck_assert(YAJL_IS_OBJECT(wm));
    ck_assert_int_eq(YAJL_GET_INTEGER(get(wm, "batch", NULL)), 0);
    ck_assert_int_eq(YAJL_GET_INTEGER(get(wm, "next", NULL)), ls_query_watermark(ls_engine_plan(e)->queries[0])->global);
    ck_assert_int_eq(ls_query_watermark(ls_engine_plan(e)->queries[0])->max_event, 1546257780000LL);      /* 12:03 */
    ck_assert_int_eq(ls_query_watermark(ls_engine_plan(e)->queries[0])->global, 1546257780000LL - 600000); /* 11:53 */
    yajl_tree_free(cm);

    /* the state snapshot is the query's state */
    FILE *f = fopen(at("cp/state/per_window/0"), "rb");
    ls_state *s = ls_state_new(1, (int)ls_query_declared(ls_engine_plan(e)->queries[0])->naggs);
    ck_assert_msg(ls_state_load(s, f, "x", &err) == 0, "%s", err.msg);
    fclose(f);
    assert_same_groups(ls_query_state(ls_engine_plan(e)->queries[0]), s);
    ls_state_free(s);

    /* the next batch's write-ahead entry records the lengths after batch 0 */
    long out0 = file_size("out/per_window.jsonl");
    run_batch(e, 1, B1, N(B1), 1);
    wal = read_json_file("cp/offsets/1");
    ck_assert_int_eq(YAJL_GET_INTEGER(get(get(wal, "files", NULL), at("out/per_window.jsonl"), NULL)), out0);
    yajl_tree_free(wal);
    ck_assert_int_gt(file_size("out/per_window.jsonl"), out0);

    /* two batches of history are kept: committing 2 removes batch 0 */
    run_batch(e, 2, B2, N(B2), 1);
    ck_assert(!file_exists("cp/offsets/0"));
    ck_assert(!file_exists("cp/commits/0"));
    ck_assert(!file_exists("cp/state/per_window/0"));
    ck_assert(!file_exists("cp/state/totals/0"));
    for (int b = 1; b <= 2; b++) {
        char rel[64];
        snprintf(rel, sizeof rel, "cp/commits/%d", b);
        ck_assert_msg(file_exists(rel), "%s", rel);
        snprintf(rel, sizeof rel, "cp/offsets/%d", b);
        ck_assert_msg(file_exists(rel), "%s", rel);
        snprintf(rel, sizeof rel, "cp/state/totals/%d", b);
        ck_assert_msg(file_exists(rel), "%s", rel);
    }
    ls_engine_free(e);
}
END_TEST

/* Offsets of (faked) source partitions go into the write-ahead entry; a
 * commit's offsets become the sources' resume positions on restart, and a
 * pending entry's offsets limit the replayed batch. */
START_TEST(checkpoint_offsets_recorded_and_restored)
{
    ls_engine *e = engine_ok(&BASE);
    ls_source *src = ls_engine_plan(e)->sources[0];
    src->nparts = 2;
    src->parts = calloc(2, sizeof *src->parts);
    src->parts[0] = (ls_source_part){ .topic = strdup("events"), .partition = 0, .next = 42, .batch_end = 42, .bound = -1, .batch_start = 40, .resume = -1, .fixed_end = -1 };
    src->parts[1] = (ls_source_part){ .topic = strdup("events"), .partition = 1, .next = 7, .batch_end = 7, .bound = -1, .batch_start = 7, .resume = -1, .fixed_end = -1 };
    ls_err err;
    ck_assert_msg(ls_checkpoint_wal(ls_engine_checkpoint(e), ls_engine_plan(e), 0, &err) == 0, "%s", err.msg);
    char *text = th_read_file(at("cp/offsets/0"), NULL);
    ck_assert_msg(strstr(text, "\"sources\":[[[\"events\",0,42],[\"events\",1,7]]]") != NULL, "%s", text);
    free(text);
    /* (a commit would also commit the consumer group, which needs Kafka:
     * write the commit record of batch 0 by hand from the entry) */
    text = th_read_file(at("cp/offsets/0"), NULL);
    free(th_write_file(dir, "cp/commits/0", text, strlen(text)));
    free(text);
    FILE *f = fopen(at("cp/state/per_window/0"), "wb");
    ck_assert_int_eq(ls_state_save(ls_query_state(ls_engine_plan(e)->queries[0]), f), 0);
    fclose(f);
    f = fopen(at("cp/state/totals/0"), "wb");
    ck_assert_int_eq(ls_state_save(ls_query_state(ls_engine_plan(e)->queries[1]), f), 0);
    fclose(f);
    /* the entry of batch 1 holds its planned ends */
    src->parts[0].batch_end = 50;
    src->parts[1].batch_end = 9;
    ck_assert_msg(ls_checkpoint_wal(ls_engine_checkpoint(e), ls_engine_plan(e), 1, &err) == 0, "%s", err.msg);
    ls_engine_free(e);

    e = engine_ok(&BASE);
    ck_assert_int_eq(ls_checkpoint_next_batch(ls_engine_checkpoint(e)), 1);
    ck_assert_int_eq(ls_checkpoint_replaying(ls_engine_checkpoint(e)), 1);
    src = ls_engine_plan(e)->sources[0];
    ck_assert_uint_eq(src->nresume, 2);
    ck_assert_str_eq(src->resume[0].topic, "events");
    ck_assert_int_eq(src->resume[0].partition, 0);
    ck_assert_int_eq(src->resume[0].next, 42);
    ck_assert_int_eq(src->resume[1].partition, 1);
    ck_assert_int_eq(src->resume[1].next, 7);
    /* once "open", the replayed batch is limited to the recorded offsets */
    src->nparts = 2;
    src->parts = calloc(2, sizeof *src->parts);
    src->parts[0] = (ls_source_part){ .topic = strdup("events"), .partition = 0, .next = 42, .batch_start = 42, .batch_end = 42, .bound = -1, .resume = 42, .fixed_end = -1 };
    src->parts[1] = (ls_source_part){ .topic = strdup("events"), .partition = 1, .next = 7, .batch_start = 7, .batch_end = 7, .bound = -1, .resume = 7, .fixed_end = -1 };
    ls_checkpoint_apply_replay(ls_engine_checkpoint(e), ls_engine_plan(e));
    ck_assert_int_eq(src->parts[0].fixed_end, 50);
    ck_assert_int_eq(src->parts[1].fixed_end, 9);
    /* the replayed batch is planned with exactly those ends, without asking Kafka */
    ck_assert_int_eq(ls_source_plan(src, 1, &err), (50 - 42) + (9 - 7));
    ck_assert_int_eq(src->parts[0].batch_end, 50);
    ck_assert_int_eq(src->parts[1].batch_end, 9);
    ck_assert_int_eq(src->parts[0].fixed_end, -1);
    /* replaying batch 1 does not rewrite its entry */
    long size = file_size("cp/offsets/1");
    ck_assert_msg(ls_checkpoint_wal(ls_engine_checkpoint(e), ls_engine_plan(e), 1, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(file_size("cp/offsets/1"), size);
    /* (the sources are freed with the engine; the consumer was never created) */
    ls_engine_free(e);

    /* a commit with malformed offsets is refused, naming it */
    const char *bad = "{\"batchId\":0,\"sources\":[[[\"events\",\"zero\",42]]],\"files\":{}}";
    free(th_write_file(dir, "cp/commits/0", bad, strlen(bad)));
    e = engine(&BASE, at("cp"), &err);
    ck_assert_ptr_null(e);
    ck_assert_msg(strstr(err.msg, at("cp/commits/0")) && strstr(err.msg, "offsets"), "%s", err.msg);
    const char *two = "{\"batchId\":0,\"sources\":[[],[]],\"files\":{}}";
    free(th_write_file(dir, "cp/commits/0", two, strlen(two)));
    e = engine(&BASE, at("cp"), &err);
    ck_assert_ptr_null(e);
    ck_assert_msg(strstr(err.msg, at("cp/commits/0")) && strstr(err.msg, "sources"), "%s", err.msg);
}
END_TEST

/* After a commit, a new engine restores state and watermarks and goes on
 * with the next batch as if it had never stopped. */
START_TEST(checkpoint_restore_after_commit)
{
    /* the reference: one engine running batches 0..2 without stopping */
    ls_engine *ref = engine_ok(&BASE);
    run_batch(ref, 0, B0, N(B0), 1);
    run_batch(ref, 1, B1, N(B1), 1);
    long ref_len1 = file_size("out/totals.jsonl");
    run_batch(ref, 2, B2, N(B2), 1);
    char *ref_rows = th_read_file(at("out/totals.jsonl"), NULL);
    char *ref_window = th_read_file(at("out/per_window.jsonl"), NULL);
    size_t nref[2];
    char *ref_state[2] = { state_bytes(ls_query_state(ls_engine_plan(ref)->queries[0]), &nref[0]),
                           state_bytes(ls_query_state(ls_engine_plan(ref)->queries[1]), &nref[1]) };
    ls_watermark ref_wm = *ls_query_watermark(ls_engine_plan(ref)->queries[0]);
    int64_t ref_late = ls_query_batch_stats(ls_engine_plan(ref)->queries[0])->late_rows;
    ck_assert_int_eq(ref_late, 1);
    ls_engine_free(ref);
    th_rmrf(at("cp"));
    th_rmrf(at("out"));

    /* the same batches with a restart after batch 1 (and another partition count) */
    ls_engine *e = engine_ok(&BASE);
    run_batch(e, 0, B0, N(B0), 1);
    run_batch(e, 1, B1, N(B1), 1);
    size_t n1;
    char *before = state_bytes(ls_query_state(ls_engine_plan(e)->queries[0]), &n1);
    size_t groups1 = ls_state_groups(ls_query_state(ls_engine_plan(e)->queries[0])), tgroups1 = ls_state_groups(ls_query_state(ls_engine_plan(e)->queries[1]));
    ls_watermark wm1 = *ls_query_watermark(ls_engine_plan(e)->queries[0]);
    ck_assert_uint_gt(groups1, 0);
    ck_assert_uint_gt(tgroups1, 0);
    ck_assert_int_gt(wm1.global, 0);
    ls_engine_free(e);

    variant v = BASE;
    v.parts = "8";
    e = engine_ok(&v);
    ck_assert_int_eq(ls_checkpoint_next_batch(ls_engine_checkpoint(e)), 2);
    ck_assert_int_eq(ls_checkpoint_replaying(ls_engine_checkpoint(e)), 0);
    ck_assert_int_eq(ls_state_nparts(ls_query_state(ls_engine_plan(e)->queries[0])), 8);
    ck_assert_uint_eq(ls_state_groups(ls_query_state(ls_engine_plan(e)->queries[0])), groups1);
    ck_assert_uint_eq(ls_state_groups(ls_query_state(ls_engine_plan(e)->queries[1])), tgroups1);
    ck_assert_int_eq(ls_query_watermark(ls_engine_plan(e)->queries[0])->global, wm1.global);
    ck_assert_int_eq(ls_query_watermark(ls_engine_plan(e)->queries[0])->batch, wm1.batch);
    ls_state *s1 = ls_state_new(3, (int)ls_query_declared(ls_engine_plan(e)->queries[0])->naggs);
    FILE *f = tmpfile();
    fwrite(before, 1, n1, f);
    rewind(f);
    ls_err err;
    ck_assert_msg(ls_state_load(s1, f, "before", &err) == 0, "%s", err.msg);
    fclose(f);
    assert_same_groups(s1, ls_query_state(ls_engine_plan(e)->queries[0]));
    assert_same_groups(ls_query_state(ls_engine_plan(e)->queries[0]), s1);
    ls_state_free(s1);
    free(before);
    ck_assert_int_eq(file_size("out/totals.jsonl"), ref_len1);

    run_batch(e, 2, B2, N(B2), 1);
    /* the late row of batch 2 is late after the restart too */
    ck_assert_int_eq(ls_query_batch_stats(ls_engine_plan(e)->queries[0])->late_rows, ref_late);
    ck_assert_int_eq(ls_query_watermark(ls_engine_plan(e)->queries[0])->global, ref_wm.global);
    ck_assert_int_eq(ls_query_watermark(ls_engine_plan(e)->queries[0])->batch, ref_wm.batch);
    ck_assert_int_eq(ls_query_watermark(ls_engine_plan(e)->queries[0])->late, ref_wm.late);
    /* the outputs are byte for byte those of the run without restart... */
    char *rows = th_read_file(at("out/totals.jsonl"), NULL);
    char *window = th_read_file(at("out/per_window.jsonl"), NULL);
    /* ...up to the order of rows within a batch, which depends on the
     * partition count: compare the sorted lines */
    char *a[64], *b[64];
    int na = th_lines(rows, a, 64), nb = th_lines(ref_rows, b, 64);
    ck_assert_int_eq(na, nb);
    int nw = th_lines(window, a + na, 64 - na), nwr = th_lines(ref_window, b + nb, 64 - nb);
    ck_assert_int_eq(nw, nwr);
    for (int i = 0; i < na + nw; i++) {
        int found = 0;
        for (int j = 0; j < nb + nwr && !found; j++) found = strcmp(a[i], b[j]) == 0;
        ck_assert_msg(found, "row %s not in the reference run", a[i]);
    }
    for (int q = 0; q < 2; q++) {
        ls_state *r = ls_state_new(1, (int)ls_query_declared(ls_engine_plan(e)->queries[q])->naggs);
        f = tmpfile();
        fwrite(ref_state[q], 1, nref[q], f);
        rewind(f);
        ck_assert_msg(ls_state_load(r, f, "ref", &err) == 0, "%s", err.msg);
        fclose(f);
        assert_same_groups(r, ls_query_state(ls_engine_plan(e)->queries[q]));
        ls_state_free(r);
        free(ref_state[q]);
    }
    free(rows);
    free(window);
    free(ref_rows);
    free(ref_window);
    ls_engine_free(e);
}
END_TEST

/* Damaged commit records and snapshots stop the restart with an error
 * naming the file. */
START_TEST(checkpoint_corrupt_files_named)
{
    ls_engine *e = engine_ok(&BASE);
    run_batch(e, 0, B0, N(B0), 1);
    run_batch(e, 1, B1, N(B1), 1);
    ls_engine_free(e);
    ls_err err;
    size_t n;
    char *commit = th_read_file(at("cp/commits/1"), &n);
    size_t nsnap;
    char *snap = th_read_file(at("cp/state/per_window/1"), &nsnap);

    /* a commit record cut in half / garbage */
    free(th_write_file(dir, "cp/commits/1", commit, n / 2));
    e = engine(&BASE, at("cp"), &err);
    ck_assert_ptr_null(e);
    ck_assert_msg(strstr(err.msg, at("cp/commits/1")) && strstr(err.msg, "corrupt"), "%s", err.msg);
    free(th_write_file(dir, "cp/commits/1", "\x01\x02garbage", 9));
    e = engine(&BASE, at("cp"), &err);
    ck_assert_ptr_null(e);
    ck_assert_msg(strstr(err.msg, at("cp/commits/1")) != NULL, "%s", err.msg);
    free(th_write_file(dir, "cp/commits/1", "", 0));
    e = engine(&BASE, at("cp"), &err);
    ck_assert_ptr_null(e);
    ck_assert_msg(strstr(err.msg, at("cp/commits/1")) != NULL, "%s", err.msg);
    free(th_write_file(dir, "cp/commits/1", commit, n));

    /* a truncated state snapshot */
    free(th_write_file(dir, "cp/state/per_window/1", snap, nsnap - 9));
    e = engine(&BASE, at("cp"), &err);
    ck_assert_ptr_null(e);
    ck_assert_msg(strstr(err.msg, at("cp/state/per_window/1")) && strstr(err.msg, "truncated"), "%s", err.msg);
    /* one corrupt byte in it */
    snap[nsnap / 2] ^= 0x40;
    free(th_write_file(dir, "cp/state/per_window/1", snap, nsnap));
    e = engine(&BASE, at("cp"), &err);
    ck_assert_ptr_null(e);
    ck_assert_msg(strstr(err.msg, at("cp/state/per_window/1")) && strstr(err.msg, "corrupt"), "%s", err.msg);
    /* a missing one */
    unlink(at("cp/state/per_window/1"));
    e = engine(&BASE, at("cp"), &err);
    ck_assert_ptr_null(e);
    ck_assert_msg(strstr(err.msg, at("cp/state/per_window/1")) && strstr(err.msg, "missing"), "%s", err.msg);
    snap[nsnap / 2] ^= 0x40;
    free(th_write_file(dir, "cp/state/per_window/1", snap, nsnap));
    /* a damaged write-ahead entry of the next batch */
    free(th_write_file(dir, "cp/offsets/2", "{\"batchId\":2,", 13));
    e = engine(&BASE, at("cp"), &err);
    ck_assert_ptr_null(e);
    ck_assert_msg(strstr(err.msg, at("cp/offsets/2")) != NULL, "%s", err.msg);
    unlink(at("cp/offsets/2"));
    /* repaired: it opens again */
    e = engine(&BASE, at("cp"), &err);
    ck_assert_msg(e != NULL, "%s", err.msg);
    ck_assert_int_eq(ls_checkpoint_next_batch(ls_engine_checkpoint(e)), 2);
    ls_engine_free(e);
    free(commit);
    free(snap);
}
END_TEST

/* Output written after the last commit (a batch the sinks wrote but that
 * never committed) is cut off on restart. */
START_TEST(checkpoint_output_cut_back)
{
    ls_engine *e = engine_ok(&BASE);
    run_batch(e, 0, B0, N(B0), 1);
    ls_engine_free(e);
    long out = file_size("out/per_window.jsonl"), tot = file_size("out/totals.jsonl"),
         dlen = file_size("out/dead_letter.jsonl");
    char *committed = th_read_file(at("out/per_window.jsonl"), NULL);
    FILE *f = fopen(at("out/per_window.jsonl"), "ab");
    fputs("{\"half\":\"written\"}\n{\"cut\":", f);
    fclose(f);
    f = fopen(at("out/totals.jsonl"), "ab");
    fputs("{\"station\":\"Z\",\"n\":1,\"s\":1}\n", f);
    fclose(f);
    f = fopen(at("out/dead_letter.jsonl"), "ab");
    fputs("{\"partial\":", f);
    fclose(f);
    ck_assert_int_gt(file_size("out/per_window.jsonl"), out);

    e = engine_ok(&BASE);
    ck_assert_int_eq(file_size("out/per_window.jsonl"), out);
    ck_assert_int_eq(file_size("out/totals.jsonl"), tot);
    ck_assert_int_eq(file_size("out/dead_letter.jsonl"), dlen);
    char *now = th_read_file(at("out/per_window.jsonl"), NULL);
    ck_assert_str_eq(now, committed);
    free(now);
    /* and the sinks append after the cut */
    run_batch(e, 1, B1, N(B1), 1);
    now = th_read_file(at("out/per_window.jsonl"), NULL);
    ck_assert_int_eq(strncmp(now, committed, strlen(committed)), 0);
    ck_assert_ptr_null(strstr(now, "half"));
    ck_assert_ptr_nonnull(strstr(now + strlen(committed), "\"station\":\"A\""));
    ck_assert_int_eq(th_count(now, "\n"), th_count(now, "{\"window\""));
    free(now);
    free(committed);
    /* a file shorter than recorded is left alone */
    ls_engine_free(e);
    ck_assert_int_eq(truncate(at("out/totals.jsonl"), 3), 0);
    e = engine_ok(&BASE);
    ck_assert_int_eq(file_size("out/totals.jsonl"), 3);
    ls_engine_free(e);
}
END_TEST

/* A crash after the write-ahead entry and the sinks, before the commit:
 * the restart restores the last commit, cuts the outputs back to it and
 * replays the batch. */
START_TEST(checkpoint_crash_before_commit)
{
    ls_engine *e = engine_ok(&BASE);
    /* no commit at all yet: the entry's lengths are what the files are cut to */
    run_batch(e, 0, B0, N(B0), 0);
    ck_assert_int_gt(file_size("out/per_window.jsonl"), 0);
    ls_engine_free(e);
    e = engine_ok(&BASE);
    ck_assert_int_eq(ls_checkpoint_next_batch(ls_engine_checkpoint(e)), 0);
    ck_assert_int_eq(ls_checkpoint_replaying(ls_engine_checkpoint(e)), 1);
    ck_assert_int_eq(file_size("out/per_window.jsonl"), 0);
    ck_assert_int_eq(file_size("out/totals.jsonl"), 0);
    ck_assert_uint_eq(ls_state_groups(ls_query_state(ls_engine_plan(e)->queries[0])), 0);
    run_batch(e, 0, B0, N(B0), 1);
    size_t groups0 = ls_state_groups(ls_query_state(ls_engine_plan(e)->queries[1]));
    long len0 = file_size("out/totals.jsonl");
    /* batch 1 written but not committed */
    run_batch(e, 1, B1, N(B1), 0);
    ck_assert_uint_gt(ls_state_groups(ls_query_state(ls_engine_plan(e)->queries[1])), groups0);
    ck_assert_int_gt(file_size("out/totals.jsonl"), len0);
    ls_engine_free(e);
    e = engine_ok(&BASE);
    ck_assert_int_eq(ls_checkpoint_next_batch(ls_engine_checkpoint(e)), 1);
    ck_assert_int_eq(ls_checkpoint_replaying(ls_engine_checkpoint(e)), 1);
    ck_assert_uint_eq(ls_state_groups(ls_query_state(ls_engine_plan(e)->queries[1])), groups0); /* batch 0's state */
    ck_assert_int_eq(file_size("out/totals.jsonl"), len0);
    /* the replay gives the same rows again */
    run_batch(e, 1, B1, N(B1), 1);
    ck_assert_int_eq(ls_query_batch_stats(ls_engine_plan(e)->queries[1])->output_rows, 3);
    ls_engine_free(e);
    e = engine_ok(&BASE);
    ck_assert_int_eq(ls_checkpoint_next_batch(ls_engine_checkpoint(e)), 2);
    ck_assert_int_eq(ls_checkpoint_replaying(ls_engine_checkpoint(e)), 0);
    ls_engine_free(e);
}
END_TEST

/* A write-ahead entry or snapshot that cannot be written fails the batch
 * with an error naming it, and no commit record claims the batch. */
START_TEST(checkpoint_write_errors_named)
{
    ls_engine *e = engine_ok(&BASE);
    ls_err err = { "" };
    run_batch(e, 0, B0, N(B0), 1);
    /* the state folder of a query replaced by a file */
    th_rmrf(at("cp/state/totals"));
    free(th_write_file(dir, "cp/state/totals", "x", 1));
    ck_assert_msg(ls_checkpoint_wal(ls_engine_checkpoint(e), ls_engine_plan(e), 1, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(ls_checkpoint_commit(ls_engine_checkpoint(e), ls_engine_plan(e), 1, &err), -1);
    ck_assert_msg(strstr(err.msg, at("cp/state/totals/1")) != NULL, "%s", err.msg);
    ck_assert(!file_exists("cp/commits/1"));
    ck_assert(file_exists("cp/commits/0"));
    /* the offsets folder replaced by a file */
    th_rmrf(at("cp/offsets"));
    free(th_write_file(dir, "cp/offsets", "x", 1));
    ck_assert_int_eq(ls_checkpoint_wal(ls_engine_checkpoint(e), ls_engine_plan(e), 2, &err), -1);
    ck_assert_msg(strstr(err.msg, at("cp/offsets/2")) != NULL, "%s", err.msg);
    ls_engine_free(e);
    ls_checkpoint_free(NULL);
}
END_TEST

/* Regression (was a bug in ls_checkpoint.c gen_files + ls_deadletter.c): the write-ahead
 * entry offsets/N is meant to record "the lengths of the output files
 * before its rows", but it stats the dead-letter file after the batch's
 * records were processed, and dead letters are written through a stdio
 * buffer during processing: once a batch has produced more than one buffer
 * of dead letters (32 KiB here: offsets/0 records 32768), part of them is
 * already in the file.  A crash
 * before the first commit then cuts dead_letter.jsonl back to that length,
 * which keeps a prefix of the batch's dead letters, usually ending in the
 * middle of a line, and the replay of the batch writes them all again:
 * a torn JSON line plus duplicates.  (After a first commit the restart uses
 * the commit's lengths, so only the first batch of a checkpoint directory is
 * affected.)  Expected: offsets/0 records 0 for the dead-letter file (its
 * length when the batch started, e.g. remembered at the last flush) and the
 * restart cuts it back to empty. */
START_TEST(checkpoint_wal_dead_letter_length)
{
    ls_engine *e = engine_ok(&BASE);
    enum { NBAD = 120 };
    char *bad[NBAD];
    for (int i = 0; i < NBAD; i++) {
        bad[i] = malloc(256);
        snprintf(bad[i], 256, "{\"time\":\"not a time %d\",\"station\":\"A\",\"v\":1,"
                 "\"padding\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}", i);
    }
    run_batch(e, 0, (const char *const *)bad, NBAD, 0); /* the entry, the sinks; no commit */
    ck_assert_int_gt(file_size("out/dead_letter.jsonl"), 8192);
    ls_engine_free(e);
    yajl_val wal = read_json_file("cp/offsets/0");
    long long recorded = YAJL_GET_INTEGER(get(get(wal, "files", NULL), at("out/dead_letter.jsonl"), NULL));
    yajl_tree_free(wal);
    e = engine_ok(&BASE); /* the restart */
    long after = file_size("out/dead_letter.jsonl");
    char *text = th_read_file(at("out/dead_letter.jsonl"), NULL);
    int torn = after > 0 && text[after - 1] != '\n';
    free(text);
    ls_engine_free(e);
    for (int i = 0; i < NBAD; i++) free(bad[i]);
    ck_assert_msg(recorded == 0 && after == 0,
                  "offsets/0 recorded %lld bytes of dead letters written during batch 0; the "
                  "restart kept %ld bytes of them%s", recorded, after,
                  torn ? ", ending in a torn line" : "");
}
END_TEST

/* One run per checkpoint directory: a second open while the first holds it
 * is refused naming the directory and the holder's pid; closing releases
 * it. (flock locks conflict between two opens even in one process.) */
START_TEST(checkpoint_second_run_refused)
{
    ls_engine *e = engine_ok(&BASE);
    ck_assert(file_exists("cp/lock"));
    char *pid = th_read_file(at("cp/lock"), NULL);
    char want[32];
    snprintf(want, sizeof want, "%ld\n", (long)getpid());
    ck_assert_str_eq(pid, want);
    free(pid);
    ls_err err;
    ls_engine *e2 = engine(&BASE, at("cp"), &err);
    ck_assert_ptr_null(e2);
    char expect[LS_ERRLEN];
    snprintf(expect, sizeof expect, "checkpoint directory %s is in use by another luastream run "
             "(pid %ld)", at("cp"), (long)getpid());
    ck_assert_msg(strstr(err.msg, expect) != NULL, "%s", err.msg);
    ls_engine_free(e);
    e = engine_ok(&BASE); /* released with the first run */
    ls_engine_free(e);
}
END_TEST

Suite *checkpoint_suite(void)
{
    Suite *s = suite_create("checkpoint");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, checkpoint_fresh_dir_writes_metadata);
    tcase_add_test(tc, checkpoint_dir_from_script);
    tcase_add_test(tc, checkpoint_changed_declaration_refused);
    tcase_add_test(tc, checkpoint_corrupt_metadata);
    tcase_add_test(tc, checkpoint_wal_and_commit_files);
    tcase_add_test(tc, checkpoint_offsets_recorded_and_restored);
    tcase_add_test(tc, checkpoint_restore_after_commit);
    tcase_add_test(tc, checkpoint_corrupt_files_named);
    tcase_add_test(tc, checkpoint_output_cut_back);
    tcase_add_test(tc, checkpoint_crash_before_commit);
    tcase_add_test(tc, checkpoint_write_errors_named);
    tcase_add_test(tc, checkpoint_second_run_refused);
    suite_add_tcase(s, tc);
    tc = tcase_create("regressions");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, checkpoint_wal_dead_letter_length);
    suite_add_tcase(s, tc);
    return s;
}
