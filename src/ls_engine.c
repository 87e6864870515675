/* ls_engine.c - loading a script and running its queries batch by batch. */
#include "ls_engine.h"

#include <lauxlib.h>
#include <lualib.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ls_json_lua.h"
#include "ls_lua_api.h"
#include "ls_progress.h"
#include "ls_time.h"

#define DEFAULT_PARTITIONS 16
/* With no trigger interval a batch takes what arrives until the source has
 * been idle this long, or this much time has passed. */
#define EAGER_IDLE_MS 50
#define EAGER_MAX_MS 1000
/* Messages taken from librdkafka per call. */
#define POLL_BATCH 1024

int ls_trigger_parse(const char *s, ls_trigger *t)
{
    if (!s) return -1;
    if (strcmp(s, "once") == 0) {
        t->kind = LS_TRIGGER_ONCE;
        t->interval_ms = 0;
        return 0;
    }
    if (strcmp(s, "available-now") == 0 || strcmp(s, "availableNow") == 0 ||
        strcmp(s, "available_now") == 0) {
        t->kind = LS_TRIGGER_AVAILABLE_NOW;
        t->interval_ms = 0;
        return 0;
    }
    int64_t ms;
    if (ls_duration_parse(s, &ms)) return -1;
    t->kind = LS_TRIGGER_INTERVAL;
    t->interval_ms = ms;
    return 0;
}

void ls_trigger_text(const ls_trigger *t, char *out, size_t n)
{
    if (t->kind == LS_TRIGGER_ONCE) snprintf(out, n, "once");
    else if (t->kind == LS_TRIGGER_AVAILABLE_NOW) snprintf(out, n, "available-now");
    else snprintf(out, n, "every %lld ms", (long long)t->interval_ms);
}

ls_kafka_producer *ls_engine_producer(ls_engine *e, const char *bootstrap,
                                      const ls_props *props, char *err)
{
    for (size_t i = 0; i < e->nproducers; i++)
        if (strcmp(e->producers[i]->bootstrap, bootstrap) == 0) return e->producers[i];
    ls_kafka_producer *p = ls_kafka_producer_new(bootstrap, props, 10000, err);
    if (!p) return NULL;
    e->producers = ls_xrealloc(e->producers, (e->nproducers + 1) * sizeof *e->producers);
    e->producers[e->nproducers++] = p;
    return p;
}

static void warn_unused_params(ls_engine *e, const ls_engine_opts *o)
{
    lua_State *L = e->L;
    if (!ls_lua_push_declared(L)) return;
    lua_getfield(L, -1, "params_used");
    for (size_t i = 0; i < o->nset; i++) {
        lua_getfield(L, -1, o->set_names[i]);
        if (!lua_toboolean(L, -1))
            ls_log("warning: --set %s is not used by %s", o->set_names[i], e->script);
        lua_pop(L, 1);
    }
    lua_pop(L, 2);
}

/* Queries without a map read only the columns they name: gather them per
 * source so messages are scanned once, in C, for just those fields. */
static void plan_decoding(ls_engine *e)
{
    e->plans = ls_xcalloc(e->nsources + 1, sizeof *e->plans);
    e->stamps = ls_xcalloc(e->nsources + 1, sizeof *e->stamps);
    for (size_t s = 0; s < e->nsources; s++) {
        ls_source_plan *p = &e->plans[s];
        p->fields = ls_fieldset_new();
        for (size_t i = 0; i < e->nqueries; i++) {
            ls_query *q = e->queries[i];
            if (q->source != e->sources[s]) continue;
            if (q->map_ref == LUA_NOREF) {
                ls_query_project(q, p->fields);
                p->needs_view = 1;
            } else {
                p->needs_lua = 1;
            }
        }
    }
    ls_lane_init(&e->lane, e->L, e->queries, e->nqueries, e->sources, e->plans, e->nsources,
                 e->dl);
}

/* ls.checkpoint(dir) in the script, or NULL. */
static char *script_checkpoint(ls_engine *e)
{
    char *dir = NULL;
    lua_State *L = e->L;
    if (!ls_lua_push_declared(L)) return NULL;
    if (lua_getfield(L, -1, "checkpoint") == LUA_TSTRING) dir = ls_xstrdup(lua_tostring(L, -1));
    lua_pop(L, 2);
    return dir;
}

ls_engine *ls_engine_new(const ls_engine_opts *o, char *err)
{
    ls_engine *e = ls_xcalloc(1, sizeof *e);
    e->script = ls_xstrdup(o->script);
    e->partitions = o->partitions > 0 ? o->partitions : DEFAULT_PARTITIONS;
    e->max_state_rows = o->max_state_rows;
    e->quiet = o->quiet;
    e->stop = o->stop;
    e->trigger.kind = LS_TRIGGER_INTERVAL;
    e->trigger.interval_ms = 0;
    const char *crash = getenv("LUASTREAM_TEST_CRASH_AFTER_SINK");
    e->crash_after_sink = crash && *crash ? strtoll(crash, NULL, 10) : -1;
    if (o->trigger) {
        if (ls_trigger_parse(o->trigger, &e->trigger)) {
            ls_seterr(err, "--trigger %s: expected an interval (\"2 seconds\", \"500ms\"), "
                      "once or available-now", o->trigger);
            ls_engine_free(e);
            return NULL;
        }
        e->has_trigger_override = 1;
    }
    e->L = luaL_newstate();
    ls_lua_setup(e->L, o);
    if (ls_lua_run_script(e->L, o->script, err)) {
        ls_engine_free(e);
        return NULL;
    }
    e->checkpoint_dir = o->checkpoint ? ls_xstrdup(o->checkpoint) : script_checkpoint(e);
    if (ls_lua_compile(e, err)) {
        ls_engine_free(e);
        return NULL;
    }
    warn_unused_params(e, o);
    plan_decoding(e);
    if (e->checkpoint_dir) {
        e->cp = ls_checkpoint_open(e->checkpoint_dir, e, err);
        if (!e->cp) {
            ls_engine_free(e);
            return NULL;
        }
    }
    if (o->parallelism > 1) {
        e->workers = ls_workers_new(e, o, o->parallelism, err);
        if (!e->workers) {
            ls_engine_free(e);
            return NULL;
        }
    }
    if (o->ui) {
        const char **names = ls_xcalloc(e->nqueries + 1, sizeof *names);
        for (size_t i = 0; i < e->nqueries; i++) names[i] = e->queries[i]->name;
        e->monitor = ls_monitor_new(names, e->nqueries);
        free(names);
        e->http = ls_http_start(o->ui, e->monitor, err);
        if (!e->http) {
            ls_engine_free(e);
            return NULL;
        }
        if (!o->quiet) ls_log("web UI on %s", ls_http_url(e->http));
    }
    if (o->progress_path) {
        e->progress = fopen(o->progress_path, "a");
        if (!e->progress) {
            ls_seterr(err, "cannot open progress file %s", o->progress_path);
            ls_engine_free(e);
            return NULL;
        }
    }
    return e;
}

void ls_engine_free(ls_engine *e)
{
    if (!e) return;
    for (size_t i = 0; i < e->nqueries; i++) ls_query_free(e->queries[i]);
    free(e->queries);
    ls_http_stop(e->http); /* before anything it reads goes */
    ls_monitor_free(e->monitor);
    ls_workers_free(e->workers);
    ls_checkpoint_free(e->cp);
    free(e->checkpoint_dir);
    ls_lane_free(&e->lane);
    for (size_t i = 0; e->plans && i < e->nsources; i++) {
        ls_fieldset_free(e->plans[i].fields);
        free(e->stamps[i].ts);
    }
    free(e->plans);
    free(e->stamps);
    for (size_t i = 0; i < e->nsources; i++) ls_source_free(e->sources[i]);
    free(e->sources);
    for (size_t i = 0; i < e->ntables; i++) ls_table_free(e->tables[i]);
    free(e->tables);
    ls_deadletter_free(e->dl);
    for (size_t i = 0; i < e->nproducers; i++) ls_kafka_producer_free(e->producers[i], 10000);
    free(e->producers);
    if (e->L) lua_close(e->L);
    if (e->progress) fclose(e->progress);
    free(e->script);
    free(e);
}

static void stamp(ls_stamps *st, const rd_kafka_message_t *m)
{
    rd_kafka_timestamp_type_t tt;
    int64_t ts = rd_kafka_message_timestamp(m, &tt);
    if (ts < 0) return;
    if (st->n == st->cap) {
        st->cap = st->cap ? st->cap * 2 : 4096;
        st->ts = ls_xrealloc(st->ts, st->cap * sizeof *st->ts);
    }
    st->ts[st->n++] = ts;
}

static int all_exhausted(const ls_engine *e)
{
    for (size_t i = 0; i < e->nsources; i++)
        if (!ls_source_exhausted(e->sources[i])) return 0;
    return 1;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Latency of the batch's records for a query whose sink finished at now:
 * with timestamps sorted ascending, the p-th latency percentile is now
 * minus the timestamp at quantile (1 - p). */
static void set_latency(ls_query *q, const ls_stamps *p, int64_t now)
{
    q->stats.has_latency = p->n > 0;
    if (!p->n) return;
    size_t last = p->n - 1;
    q->stats.latency_max = now - p->ts[0];
    q->stats.latency_p99 = now - p->ts[(size_t)(0.01 * (double)last)];
    q->stats.latency_p50 = now - p->ts[(size_t)(0.50 * (double)last)];
}

static int finish_batch(ls_engine *e, ls_batch_timing *t, int64_t batch, char *err)
{
    if (e->workers && ls_workers_end_batch(e->workers, &t->decode_ms, err)) return -1;
    if (e->cp && ls_checkpoint_wal(e->cp, e, batch, err)) return -1;
    if (!e->workers) t->decode_ms = e->lane.decode_ms;
    for (size_t s = 0; s < e->nsources; s++)
        if (e->stamps[s].n) qsort(e->stamps[s].ts, e->stamps[s].n, sizeof(int64_t), cmp_i64);
    for (size_t i = 0; i < e->nqueries; i++) {
        if (ls_query_end_batch(e->queries[i], err)) return -1;
        for (size_t s = 0; s < e->nsources; s++)
            if (e->sources[s] == e->queries[i]->source)
                set_latency(e->queries[i], &e->stamps[s], ls_now_ms());
    }
    for (size_t s = 0; s < e->nsources; s++) e->stamps[s].n = 0;
    if (ls_deadletter_flush(e->dl, err)) return -1;
    t->trigger_ms = ls_mono_ms() - t->trigger_ms;
    ls_buf line;
    ls_buf_init(&line);
    for (size_t i = 0; i < e->nqueries; i++) {
        const ls_query *q = e->queries[i];
        if (e->progress || e->monitor) {
            ls_buf_reset(&line);
            ls_progress_json(q, t, &line);
        }
        if (e->monitor) {
            ls_batch_figures f = { q->stats.input_rows, q->stats.invalid_rows,
                                   q->stats.output_rows, q->stats.late_rows,
                                   (int64_t)q->state->groups, (int64_t)ls_state_memory(q->state),
                                   q->has_watermark ? q->wm.current : INT64_MIN,
                                   t->trigger_ms / 1000.0 };
            ls_monitor_record(e->monitor, i, line.data, &f);
        }
        if (e->progress) {
            ls_buf_putc(&line, '\n');
            fwrite(line.data, 1, line.len, e->progress);
        }
        if (!e->quiet) ls_progress_human(q, t, stderr);
    }
    ls_buf_free(&line);
    if (e->progress) fflush(e->progress);
    if (batch == e->crash_after_sink) _exit(137); /* see ls_engine.h */
    if (e->cp && ls_checkpoint_commit(e->cp, e, batch, err)) return -1;
    return 0;
}

/* The reading half of one batch: when does it end, and how long may the
 * next poll wait. */
typedef struct batch_reader {
    double start, deadline, catch_up_until, last_msg;
    int64_t count, max;
    int replaying, last_poll_got;
} batch_reader;

static int64_t records_per_trigger(const ls_engine *e)
{
    int64_t max = 0;
    if (e->trigger.kind == LS_TRIGGER_ONCE) return 0; /* once: everything, as Spark */
    for (size_t i = 0; i < e->nsources; i++)
        if (e->sources[i]->max_per_trigger > 0 && (max == 0 || e->sources[i]->max_per_trigger < max))
            max = e->sources[i]->max_per_trigger;
    return max;
}

/* Milliseconds the next poll may wait, or -1 when the batch is complete. */
static int next_wait(const ls_engine *e, const batch_reader *r, double now)
{
    if (r->replaying) { /* exactly the recorded batch, whatever the trigger */
        for (size_t i = 0; i < e->nsources; i++)
            if (!ls_source_limits_reached(e->sources[i])) return 100;
        return -1;
    }
    if (r->max && r->count >= r->max) return -1;
    if (e->trigger.kind != LS_TRIGGER_INTERVAL) return all_exhausted(e) ? -1 : 100;
    if (e->trigger.interval_ms > 0) {
        if (now < r->deadline) {
            int wait = (int)(r->deadline - now) + 1;
            return wait > 100 ? 100 : wait;
        }
        /* Behind (records still arriving at once): take what is available,
         * as Spark plans a batch up to the latest offsets, so a slow batch
         * is followed by a bigger one instead of falling further behind;
         * bounded in time. */
        return r->last_poll_got && now < r->catch_up_until ? 0 : -1;
    }
    /* no interval: until the sources have been idle a moment */
    if (r->count > 0 && (now - r->last_msg >= EAGER_IDLE_MS || now - r->start >= EAGER_MAX_MS))
        return -1;
    return r->count > 0 ? EAGER_IDLE_MS : 100;
}

/* One round over the sources: poll, stamp, and process (or hand to the
 * workers). Returns whether anything came, or -1 on a fatal error. */
static int poll_round(ls_engine *e, batch_reader *r, int wait, ls_batch_timing *t, char *err)
{
    int got = 0;
    for (size_t i = 0; i < e->nsources; i++) {
        rd_kafka_message_t *msgs[POLL_BATCH];
        size_t want = POLL_BATCH;
        if (r->max && (int64_t)want > r->max - r->count) want = (size_t)(r->max - r->count);
        int fatal = 0;
        double p0 = ls_mono_ms();
        size_t n = ls_source_poll_batch(e->sources[i], e->nsources == 1 ? wait : 0, msgs, want,
                                        &fatal, err);
        t->get_batch_ms += ls_mono_ms() - p0;
        if (fatal) return -1;
        for (size_t k = 0; k < n; k++) stamp(&e->stamps[i], msgs[k]);
        if (e->workers) {
            ls_workers_submit(e->workers, i, msgs, n);
        } else {
            int rc = 0;
            for (size_t k = 0; k < n; k++) {
                if (rc == 0) rc = ls_lane_handle(&e->lane, i, msgs[k], err);
                rd_kafka_message_destroy(msgs[k]);
            }
            if (rc) return -1;
        }
        got |= n > 0;
        r->count += (int64_t)n;
    }
    return got;
}

static void sleep_until(double when)
{
    double left = when - ls_mono_ms();
    if (left <= 0) return;
    struct timespec ts = { (time_t)(left / 1000), (long)((int64_t)left % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

int ls_engine_run(ls_engine *e, char *err)
{
    int bounded = e->trigger.kind != LS_TRIGGER_INTERVAL;
    for (size_t i = 0; i < e->nsources; i++)
        if (ls_source_open(e->sources[i], bounded, err)) return -1;
    if (!e->quiet) {
        char tt[64];
        ls_trigger_text(&e->trigger, tt, sizeof tt);
        ls_log("running %zu quer%s from %s (trigger: %s)", e->nqueries,
               e->nqueries == 1 ? "y" : "ies", e->script, tt);
    }
    if (e->cp) ls_checkpoint_apply_replay(e->cp, e);
    if (e->monitor) ls_monitor_set_running(e->monitor, 1);
    int replaying = e->cp && e->cp->replay;
    double prev_start = -1;
    int64_t batch = e->cp ? e->cp->next_batch : 0;
    double interval = (double)e->trigger.interval_ms;
    while (!(e->stop && *e->stop)) {
        if (bounded && all_exhausted(e)) break;
        batch_reader r = { 0 };
        r.start = r.last_msg = ls_mono_ms();
        r.deadline = r.start + interval;
        r.catch_up_until = r.deadline + (interval * 4 > 1000 ? interval * 4 : 1000.0);
        r.max = records_per_trigger(e);
        r.replaying = replaying;
        ls_batch_timing t = { 0 };
        t.trigger_wall_ms = ls_now_ms();
        t.trigger_ms = r.start;
        for (size_t i = 0; i < e->nqueries; i++) ls_query_begin_batch(e->queries[i], batch);
        if (e->workers) ls_workers_begin_batch(e->workers, batch);
        e->lane.decode_ms = 0;
        for (size_t i = 0; i < e->nsources; i++) ls_source_begin_batch(e->sources[i]);

        while (!(e->stop && *e->stop)) {
            int wait = next_wait(e, &r, ls_mono_ms());
            if (wait < 0) break;
            int got = poll_round(e, &r, wait, &t, err);
            if (got < 0) return -1;
            r.last_poll_got = got;
            if (got) r.last_msg = ls_mono_ms();
            else if (e->nsources > 1) sleep_until(ls_mono_ms() + 5);
        }
        if (r.count == 0 && !bounded && !replaying) continue; /* no input: no batch, as in Spark */
        t.since_prev_ms = prev_start < 0 ? ls_mono_ms() - r.start : r.start - prev_start;
        prev_start = r.start;
        if (finish_batch(e, &t, batch, err)) return -1;
        if (replaying) {
            replaying = 0;
            for (size_t i = 0; i < e->nsources; i++)
                if (ls_source_clear_limits(e->sources[i], err)) return -1;
        }
        e->total_input += r.count;
        e->batches_run++;
        batch++;
        if (e->trigger.kind == LS_TRIGGER_ONCE) break;
        /* a batch cut short by max_records_per_trigger waits for its trigger */
        if (!bounded && interval > 0 && r.max && r.count >= r.max) sleep_until(r.deadline);
    }
    if (e->monitor) ls_monitor_set_running(e->monitor, 0);
    return 0;
}
