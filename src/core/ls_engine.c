/* ls_engine.c - loading a script and running its queries batch by batch. */
#include "ls_engine.h"
#include "ls_engine_impl.h"

#include <ctype.h>
#include <errno.h>
#include <lauxlib.h>
#include <libgen.h>
#include <lualib.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ls_sink_planned.h"
#include "ls_json_lua.h"
#include "ls_lua_api.h"
#include "ls_progress.h"
#include "ls_reload.h"
#include "ls_time.h"

#define DEFAULT_PARTITIONS 16


/* What the script's load noted (deprecated names, at their lines): shown
 * once, after the load. */
static void show_load_warnings(ls_engine *e)
{
    lua_State *L = e->plan->L;
    if (!ls_lua_push_declared(L)) return;
    if (lua_getfield(L, -1, "warnings") == LUA_TTABLE) {
        lua_Integer n = (lua_Integer)lua_rawlen(L, -1);
        for (lua_Integer i = 1; i <= n; i++) {
            if (lua_rawgeti(L, -1, i) == LUA_TSTRING) ls_log("warning: %s", lua_tostring(L, -1));
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 2);
}

static void warn_unused_params(ls_engine *e, const ls_engine_opts *o)
{
    lua_State *L = e->plan->L;
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

static void free_plans(ls_engine *e)
{
    ls_lane_free(&e->lane);
    for (size_t i = 0; e->plans && i < e->plan->nsources; i++) {
        ls_fieldset_free(e->plans[i].fields);
        free(e->plans[i].types);
        free(e->stamps[i].ts);
    }
    free(e->plans);
    free(e->stamps);
    e->plans = NULL;
    e->stamps = NULL;
}

/* Queries without a map read only the columns they name: gather them per
 * source so messages are scanned once, in C, for just those fields. */
static void plan_decoding(ls_engine *e)
{
    e->plans = ls_xcalloc(e->plan->nsources + 1, sizeof *e->plans);
    e->stamps = ls_xcalloc(e->plan->nsources + 1, sizeof *e->stamps);
    for (size_t s = 0; s < e->plan->nsources; s++) {
        ls_decode_plan *p = &e->plans[s];
        const ls_schema *schema = ls_source_declared(e->plan->sources[s])->schema;
        p->fields = ls_fieldset_new();
        p->schema = schema;
        for (size_t i = 0; i < e->plan->nqueries; i++) {
            ls_query *q = e->plan->queries[i];
            if (ls_query_declared(q)->source != e->plan->sources[s]) continue;
            if (!ls_query_needs_table(q)) {
                ls_query_project(q, p->fields);
                p->needs_view = 1;
            } else {
                p->needs_lua = 1;
                p->needs_meta |= ls_query_declared(q)->map_meta;
            }
        }
        if (schema) {
            p->types = ls_xcalloc(p->fields->n + 1, sizeof *p->types);
            for (size_t f = 0; f < p->fields->n; f++)
                p->types[f] = ls_schema_type(schema, p->fields->names[f]);
        }
    }
    ls_lane_init(&e->lane, e->plan->L, e->plan->queries, e->plan->nqueries, e->plan->sources, e->plans, e->plan->nsources,
                 e->plan->dl);
}

void ls_engine_lua_env(const ls_engine_opts *o, ls_lua_env *env)
{
    env->script = o->script;
    env->set_names = o->set_names;
    env->set_values = o->set_values;
    env->nset = o->nset;
    env->unsafe_lua = o->unsafe_lua;
}

void ls_engine_sync_outputs(ls_engine *e)
{
    for (size_t i = 0; i < e->plan->nqueries; i++)
        ls_sink_sync_each_batch(ls_query_declared(e->plan->queries[i])->sink);
    ls_deadletter_sync_each_flush(e->plan->dl);
}

void ls_engine_replan(ls_engine *e)
{
    free_plans(e);
    plan_decoding(e);
}

/* A source without group_id commits under a group of its own job, so that
 * Kafka's tools never mix unrelated jobs: "luastream.<script>" and, with a
 * checkpoint, a hash of the checkpoint directory's absolute path
 * ("luastream.pipeline.3f2a9c1e"): two runs of one script on one
 * checkpoint are one job, on two checkpoints two jobs. */
static void default_group_ids(ls_engine *e)
{
    char *copy = ls_xstrdup(e->script);
    const char *base = basename(copy);
    ls_buf id;
    ls_buf_init(&id);
    ls_buf_puts(&id, "luastream.");
    size_t blen = strlen(base);
    if (blen > 4 && strcmp(base + blen - 4, ".lua") == 0) blen -= 4;
    for (size_t i = 0; i < blen && i < 100; i++) {
        char c = base[i];
        ls_buf_putc(&id, isalnum((unsigned char)c) || c == '-' || c == '_' ? c : '_');
    }
    free(copy);
    if (e->checkpoint_dir) {
        /* explain creates no directory: the path it would have */
        char *abs = e->explain ? ls_abspath_to_be(e->checkpoint_dir)
                               : realpath(e->checkpoint_dir, NULL);
        const char *p = abs ? abs : e->checkpoint_dir;
        ls_buf_printf(&id, ".%08llx", (unsigned long long)(ls_hash(p, strlen(p)) & 0xffffffffu));
        free(abs);
    }
    for (size_t i = 0; i < e->plan->nsources; i++) {
        ls_source_decl *d = ls_source_decl_of(e->plan->sources[i]);
        if (e->app_id && !d->is_files) { /* a member of the job: the group is the app id */
            free(d->group_id);
            d->group_id = ls_xstrdup(e->app_id);
            ls_source_join_group(e->plan->sources[i], e->app_id);
        }
        if (!d->group_id) d->group_id = ls_xstrdup(id.data);
    }
    ls_buf_free(&id);
}

/* ls.app "ID" in the script (checked there), or NULL. */
static char *script_app(ls_engine *e)
{
    char *id = NULL;
    lua_State *L = e->plan->L;
    if (!ls_lua_push_declared(L)) return NULL;
    if (lua_getfield(L, -1, "app") == LUA_TSTRING) id = ls_xstrdup(lua_tostring(L, -1));
    lua_pop(L, 2);
    return id;
}

/* Some query of the plan aggregates (runs in two stages under --app). */
static int any_aggregation(const ls_plan *p)
{
    for (size_t i = 0; i < p->nqueries; i++)
        if (!ls_query_declared(p->queries[i])->per_record) return 1;
    return 0;
}

/* The app id (the flag wins over ls.app) and what it changes: the
 * checkpoint directory becomes a cache of state partitions (the group's
 * committed offsets are where a member resumes: ls_state_cache.h), and
 * reloading on file changes is ruled out. */
static int resolve_app(ls_engine *e, const ls_engine_opts *o, ls_err *err)
{
    if (e->capture) return 0; /* luastream test: files in, rows in memory */
    e->app_id = o->app ? ls_xstrdup(o->app) : script_app(e);
    if (!e->app_id && o->standbys_given) {
        ls_seterr(err, "--standbys %d without an app id: standbys are copies of state kept by "
                  "the other members of a job; add --app ID (or ls.app \"ID\" in the script), "
                  "or leave --standbys out", o->standbys);
        return -1;
    }
    if (!e->app_id) return 0;
    if (ls_app_check_id(e->app_id, err)) { /* ls.app checked it already: --app, from a caller */
        ls_err_prefix(err, "--app");
        return -1;
    }
    if (e->checkpoint_dir) { /* a cache: no offsets, no transactional sinks of its own */
        e->cache_dir = e->checkpoint_dir;
        e->checkpoint_dir = NULL;
    }
    if (o->watch) {
        ls_seterr(err, "--watch with app id %s: reloading a member of a job is not supported yet "
                  "(restart the members one by one: the group moves their partitions)", e->app_id);
        return -1;
    }
    char uuid[37];
    ls_uuid4(uuid);
    ls_buf t;
    ls_buf_init(&t);
    ls_buf_printf(&t, "%s-%s", e->app_id, uuid);
    e->app_txn_id = t.data;
    return 0;
}

/* ls.checkpoint(dir) in the script, or NULL. */
static char *script_checkpoint(ls_engine *e)
{
    char *dir = NULL;
    lua_State *L = e->plan->L;
    if (!ls_lua_push_declared(L)) return NULL;
    if (lua_getfield(L, -1, "checkpoint") == LUA_TSTRING) dir = ls_xstrdup(lua_tostring(L, -1));
    lua_pop(L, 2);
    return dir;
}

ls_engine *ls_engine_new(const ls_engine_opts *o, ls_err *err)
{
    ls_engine *e = ls_xcalloc(1, sizeof *e);
    e->cache_lock = -1;
    e->script = ls_xstrdup(o->script);
    e->partitions = o->partitions > 0 ? o->partitions : DEFAULT_PARTITIONS;
    e->max_state_rows = o->max_state_rows;
    e->quiet = o->quiet;
    e->stop = o->stop;
    e->explain = o->explain;
    e->trigger.kind = LS_TRIGGER_INTERVAL;
    e->trigger.interval_ms = 0;
    const char *crash = getenv("LUASTREAM_TEST_CRASH_AFTER_SINK");
    e->crash_after_sink = crash && *crash ? strtoll(crash, NULL, 10) : -1;
    if (o->trigger) {
        if (ls_trigger_parse(o->trigger, &e->trigger)) {
            ls_seterr(err, "--trigger %s: expected an interval (\"2 seconds\", \"500ms\"), "
                      "once or available-now (see luastream --help)", o->trigger);
            ls_engine_free(e);
            return NULL;
        }
        e->has_trigger_override = 1;
    }
    e->capture = o->capture;
    e->opts = o;
    ls_file_stamp st;
    if (ls_reload_stat(o->script, &st) == 0) {
        e->script_mtime_ns = st.mtime_ns;
        e->script_size = st.size;
        e->script_ino = st.ino;
    }
    lua_State *L = luaL_newstate();
    ls_lua_env env;
    ls_engine_lua_env(o, &env);
    ls_lua_setup(L, &env);
    e->plan = ls_plan_new(L); /* owns L from here */
    if (ls_lua_run_script(L, o->script, err)) {
        ls_engine_free(e);
        return NULL;
    }
    if (!e->capture) /* a test keeps nothing */
        e->checkpoint_dir = o->checkpoint ? ls_xstrdup(o->checkpoint) : script_checkpoint(e);
    if (resolve_app(e, o, err)) {
        ls_engine_free(e);
        return NULL;
    }
    int lock_fd = -1; /* before compiling: the sinks create their files */
    if (e->checkpoint_dir && !e->explain &&
        (lock_fd = ls_checkpoint_lock(e->checkpoint_dir, err)) < 0) {
        ls_engine_free(e);
        return NULL;
    }
    if (e->cache_dir && !e->explain && /* one member per cache directory */
        (e->cache_lock = ls_checkpoint_lock(e->cache_dir, err)) < 0) {
        ls_engine_free(e);
        return NULL;
    }
    ls_plan_opts po = { o->script, e->checkpoint_dir, e->partitions, e->max_state_rows,
                        e->capture, e->explain, e->app_id, e->app_txn_id };
    if (ls_lua_compile(e->plan, &po, err)) {
        if (lock_fd >= 0) close(lock_fd);
        ls_engine_free(e);
        return NULL;
    }
    if (e->app_id && o->standbys > 0 && !any_aggregation(e->plan)) {
        ls_seterr(err, "--standbys %d: app %s runs no aggregation, so there is no state to keep "
                  "copies of (leave --standbys out)", o->standbys, e->app_id);
        ls_engine_free(e);
        return NULL;
    }
    if (!e->has_trigger_override && e->plan->has_trigger) e->trigger = e->plan->trigger;
    warn_unused_params(e, o);
    show_load_warnings(e);
    plan_decoding(e);
    if (e->explain) { /* the plan is complete: open nothing */
        default_group_ids(e);
        return e;
    }
    if (e->checkpoint_dir) {
        ls_engine_sync_outputs(e); /* before the checkpoint notes their lengths */
        e->cp = ls_checkpoint_open(e->checkpoint_dir, lock_fd, e->plan, err);
        if (!e->cp) {
            ls_engine_free(e);
            return NULL;
        }
    }
    default_group_ids(e); /* after the checkpoint directory exists: its absolute path */
    if (o->parallelism > 1) {
        e->workers = ls_workers_new(e->plan, e->plans, &env, o->parallelism, err);
        if (!e->workers) {
            ls_engine_free(e);
            return NULL;
        }
    }
    if (o->ui) {
        const char **names = ls_xcalloc(e->plan->nqueries + 1, sizeof *names);
        for (size_t i = 0; i < e->plan->nqueries; i++) names[i] = ls_query_declared(e->plan->queries[i])->name;
        e->monitor = ls_monitor_new(names, e->plan->nqueries);
        free(names);
        e->http = ls_http_start(o->ui, e->monitor, err);
        if (!e->http) {
            ls_engine_free(e);
            return NULL;
        }
        ls_log("web UI on %s", ls_http_url(e->http)); /* also with --quiet: not progress */
    }
    if (o->progress_path) {
        e->progress = fopen(o->progress_path, "a");
        if (!e->progress) {
            ls_seterr(err, "--progress %s: cannot open it: %s", o->progress_path, strerror(errno));
            ls_engine_free(e);
            return NULL;
        }
    }
    return e;
}

void ls_engine_free(ls_engine *e)
{
    if (!e) return;
    ls_http_stop(e->http); /* before anything it reads goes */
    ls_monitor_free(e->monitor);
    ls_workers_free(e->workers);
    ls_app_free(e->app); /* before the plan: its producer */
    ls_shuffle_free(e->shuffle);
    free(e->app_id);
    free(e->app_txn_id);
    free(e->cache_dir);
    if (e->cache_lock >= 0) close(e->cache_lock);
    ls_checkpoint_free(e->cp);
    free(e->checkpoint_dir);
    free_plans(e);
    ls_plan_free(e->plan);
    if (e->progress) fclose(e->progress);
    free(e->script);
    free(e);
}

static void stamp(ls_stamps *st, const ls_record *r)
{
    if (!r->msg) return; /* a file's record: no time of arrival */
    rd_kafka_timestamp_type_t tt;
    int64_t ts = rd_kafka_message_timestamp(r->msg, &tt);
    if (ts < 0) return;
    if (st->n == st->cap) {
        st->cap = st->cap ? st->cap * 2 : 4096;
        st->ts = ls_xrealloc(st->ts, st->cap * sizeof *st->ts);
    }
    st->ts[st->n++] = ts;
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
    if (!p->n) {
        ls_query_set_latency(q, 0, 0, 0, 0);
        return;
    }
    size_t last = p->n - 1;
    ls_query_set_latency(q, 1, now - p->ts[(size_t)(0.50 * (double)last)],
                         now - p->ts[(size_t)(0.01 * (double)last)], now - p->ts[0]);
}

static size_t source_index(const ls_engine *e, const ls_source *s)
{
    for (size_t i = 0; i < e->plan->nsources; i++)
        if (e->plan->sources[i] == s) return i;
    return 0;
}

static void report(ls_engine *e, const ls_batch_timing *t, const int *active)
{
    ls_buf line;
    ls_buf_init(&line);
    for (size_t i = 0; i < e->plan->nqueries; i++) {
        const ls_query *q = e->plan->queries[i];
        if (!active[i]) continue;
        if (e->progress || e->monitor) {
            ls_buf_reset(&line);
            ls_progress_json(q, t, &line);
        }
        if (e->monitor) {
            const ls_query_stats *st = ls_query_batch_stats(q);
            const ls_state *state = ls_query_state_c(q);
            ls_batch_figures f = { st->input_rows, st->invalid_rows, st->output_rows, st->late_rows,
                                   (int64_t)ls_state_groups(state), (int64_t)ls_state_memory(state),
                                   ls_query_declared(q)->has_watermark ? ls_query_watermark(q)->batch
                                                                       : INT64_MIN,
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
}

static int finish_batch(ls_engine *e, ls_batch_timing *t, int64_t batch, const int *active,
                        ls_err *err)
{
    if (e->workers && ls_workers_end_batch(e->workers, &t->decode_ms, err)) return -1;
    if (!e->workers) t->decode_ms = e->lane.decode_ms;
    for (size_t s = 0; s < e->plan->nsources; s++)
        if (e->stamps[s].n) qsort(e->stamps[s].ts, e->stamps[s].n, sizeof(int64_t), cmp_i64);
    if (e->shuffle && ls_shuffle_end_stage1(e->shuffle, batch, err)) return -1;
    for (size_t i = 0; i < e->plan->nqueries; i++) {
        ls_query *q = e->plan->queries[i];
        if (!active[i]) continue;
        if (ls_query_end_batch(q, err)) return -1;
        set_latency(q, &e->stamps[source_index(e, ls_query_declared(q)->source)], ls_now_ms());
    }
    if (e->shuffle && ls_shuffle_end_stage2(e->shuffle, batch, err)) return -1;
    for (size_t s = 0; s < e->plan->nsources; s++) e->stamps[s].n = 0;
    if (ls_deadletter_flush(e->plan->dl, err)) return -1;
    if (batch == e->crash_after_sink) _exit(137); /* see ls_engine.h */
    if (e->app) {
        int rc = ls_app_commit(e->app, batch, err);
        if (rc < 0) return -1;
        /* rc 1: aborted and rewound; the rows were counted, not committed,
         * and the state is rebuilt from the changelogs before the next batch */
        if (rc == 1 && e->shuffle) ls_shuffle_rollback(e->shuffle);
        if (rc == 0 && e->shuffle) {
            ls_shuffle_committed(e->shuffle);
            ls_shuffle_save_cache(e->shuffle, 0);
        }
    }
    if (e->cp) {
        double c0 = ls_mono_ms();
        if (ls_checkpoint_commit(e->cp, e->plan, batch, err)) return -1;
        t->commit_ms = ls_mono_ms() - c0;
    }
    t->trigger_ms = ls_mono_ms() - t->start_ms;
    report(e, t, active);
    return 0;
}

/* Records of one partition read (and handed to a worker) at a time: fixed,
 * so that which worker folds which records (and so every floating-point
 * sum) is the same from run to run. */
#define CHUNK 1024

typedef struct reader {
    ls_record chunk[CHUNK];
    size_t fill;
    int64_t count;
} reader;

static int dispatch(ls_engine *e, reader *r, size_t si, ls_err *err)
{
    if (!r->fill) return 0;
    for (size_t k = 0; k < r->fill; k++) stamp(&e->stamps[si], &r->chunk[k]);
    uint64_t seq = (uint64_t)r->count;
    r->count += (int64_t)r->fill;
    if (e->workers) {
        ls_workers_submit(e->workers, si, seq, r->chunk, r->fill);
        r->fill = 0;
        return 0;
    }
    int rc = 0;
    for (size_t k = 0; k < r->fill; k++) {
        if (rc == 0) rc = ls_lane_handle(&e->lane, si, seq + k, &r->chunk[k], err);
        ls_record_release(&r->chunk[k]);
    }
    r->fill = 0;
    return rc;
}

/* Records of a repartition topic: stage 2 of an aggregation (ls_shuffle.h),
 * on the engine's thread; they are not input records of any query. */
static int take_stage2(ls_engine *e, reader *r, int qi, ls_err *err)
{
    int rc = 0;
    for (size_t k = 0; k < r->fill; k++) {
        if (rc == 0) rc = ls_shuffle_take(e->shuffle, qi, &r->chunk[k], err);
        ls_record_release(&r->chunk[k]);
    }
    r->fill = 0;
    return rc;
}

/* Reads the planned batch: every partition of every source up to its
 * planned end, CHUNK records of one partition at a time, partitions taken
 * in turn (so librdkafka keeps fetching for all of them). The order of
 * records, and so of chunks, depends only on the offsets: the same for
 * every run. Returns -1 on a fatal error. */
/* A member's batch has read for its budget (ls_app_read_budget_ms): its
 * reading ends where it is, so that its transaction commits in time. Said
 * once per run of such batches. */
static int cut_due(ls_engine *e, const ls_batch_timing *t)
{
    double budget = e->app ? ls_app_read_budget_ms(e->app) : 0;
    if (budget <= 0 || ls_mono_ms() - t->start_ms < budget) return 0;
    if (!e->cutting)
        ls_log("app %s: a batch read for %.1f s, half the transaction timeout: it ends there and "
               "the next batch reads on (set max_records_per_trigger to keep batches shorter)",
               e->app_id, budget / 1000);
    e->cutting = 2; /* this batch */
    return 1;
}

static int read_batch(ls_engine *e, const int64_t *planned, reader *r, ls_batch_timing *t,
                      ls_err *err)
{
    for (size_t si = 0; si < e->plan->nsources; si++) {
        ls_source *s = e->plan->sources[si];
        if (planned[si] <= 0) continue;
        for (int left = 1; left;) {
            left = 0;
            for (size_t pi = 0; pi < ls_source_nparts(s); pi++) {
                int qi = e->shuffle ? ls_shuffle_topic(e->shuffle, ls_source_part_at(s, pi)->topic) : -1;
                while (!ls_source_part_at(s, pi)->reached && r->fill < CHUNK) {
                    /* a stop (SIGINT, SIGTERM) is not looked at here: the batch is
                     * read to its planned end and finished, so that what a run
                     * commits never depends on when a signal came */
                    int fatal = 0;
                    double p0 = ls_mono_ms();
                    size_t n = ls_source_read(s, pi, 100, r->chunk + r->fill, CHUNK - r->fill,
                                              &fatal, err);
                    t->get_batch_ms += ls_mono_ms() - p0;
                    if (fatal) return -1;
                    r->fill += n;
                }
                if (qi >= 0 ? take_stage2(e, r, qi, err) : dispatch(e, r, si, err)) return -1;
                left |= !ls_source_part_at(s, pi)->reached;
                if (cut_due(e, t)) { /* every source's reading ends here */
                    for (size_t k = 0; k < e->plan->nsources; k++)
                        ls_source_cut_batch(e->plan->sources[k]);
                    return 0;
                }
            }
        }
    }
    return 0;
}

static int64_t records_per_trigger(const ls_source *s, const ls_trigger *t)
{
    return t->kind == LS_TRIGGER_ONCE ? 0 : ls_source_declared(s)->max_per_trigger; /* once: everything, as Spark */
}

static void sleep_ms(double ms)
{
    if (ms <= 0) return;
    struct timespec ts = { (time_t)(ms / 1000), (long)((int64_t)ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* A reload asked for (SIGHUP), or --watch and the script file changed
 * since it was loaded (its time, size or inode). */
static int reload_due(ls_engine *e)
{
    const ls_engine_opts *o = e->opts;
    if (!o) return 0;
    if (e->app_id) { /* --watch was refused; SIGHUP is noted once */
        if (o->reload && *o->reload) {
            *o->reload = 0;
            if (!e->reload_refused)
                ls_log("reload asked for (SIGHUP): not supported with app id %s yet; ignored "
                       "(restart the members one by one instead)", e->app_id);
            e->reload_refused = 1;
        }
        return 0;
    }
    int due = 0;
    if (o->reload && *o->reload) {
        *o->reload = 0;
        due = 1;
    }
    ls_file_stamp st;
    if ((o->watch || due) && ls_reload_stat(e->script, &st) == 0 &&
        (st.mtime_ns != e->script_mtime_ns || st.size != e->script_size || st.ino != e->script_ino)) {
        e->script_mtime_ns = st.mtime_ns;
        e->script_size = st.size;
        e->script_ino = st.ino;
        due |= o->watch;
    }
    return due;
}

/* Waits until the monotonic clock reaches when, or a stop is asked for. */
static void wait_until(const ls_engine *e, double when)
{
    for (double now = ls_mono_ms(); now < when && !(e->stop && *e->stop); now = ls_mono_ms())
        sleep_ms(when - now > 100 ? 100 : when - now);
}

/* Plans the next batch of every source. Returns 1 when some query has
 * work (records, or a no-data batch its watermark asks for), 0 when not,
 * -1 on a fatal error. A broker that cannot be asked is reported (once per
 * outage) and leaves that source without a batch this time. */
static int plan_batch(ls_engine *e, int64_t *planned, int *active, ls_batch_timing *t,
                      ls_err *err)
{
    double t0 = ls_mono_ms();
    for (size_t si = 0; si < e->plan->nsources; si++) {
        ls_err why;
        planned[si] = ls_source_plan(e->plan->sources[si], records_per_trigger(e->plan->sources[si], &e->trigger),
                                     &why);
        if (planned[si] < 0 && ls_source_check(e->plan->sources[si], err)) return -1; /* a rebalance failed */
        if (planned[si] < 0) {
            if (!e->plan_failing) ls_log("%s (retrying)", why.msg);
            e->plan_failing = 1;
            planned[si] = 0;
        } else {
            e->plan_failing = 0;
        }
    }
    t->latest_offset_ms = ls_mono_ms() - t0;
    int any = 0;
    for (size_t i = 0; i < e->plan->nqueries; i++) {
        ls_query *q = e->plan->queries[i];
        active[i] = planned[source_index(e, ls_query_declared(q)->source)] > 0 ||
                    (e->trigger.kind != LS_TRIGGER_ONCE && ls_query_wants_batch(q));
        any |= active[i];
    }
    return any;
}

/* With no trigger interval and nothing to do: wait for records to arrive
 * (librdkafka keeps fetching into the partition queues), briefly. */
static void wait_for_input(ls_engine *e)
{
    double until = ls_mono_ms() + 1000;
    while (!(e->stop && *e->stop) && ls_mono_ms() < until) {
        for (size_t si = 0; si < e->plan->nsources; si++)
            if (ls_source_arrived(e->plan->sources[si])) return;
        sleep_ms(10);
    }
}

static int sources_exhausted(const ls_engine *e)
{
    for (size_t si = 0; si < e->plan->nsources; si++)
        if (!ls_source_exhausted(e->plan->sources[si])) return 0;
    return 1;
}

static int run_batch(ls_engine *e, int64_t batch, const int64_t *planned, const int *active,
                     ls_batch_timing *t, reader *r, ls_err *err)
{
    e->cutting = e->cutting == 2; /* the last batch was cut: still in a run of them */
    /* state partitions that came to this member are rebuilt first */
    if (e->shuffle) {
        ls_shuffle_stats a, b;
        ls_shuffle_stats_get(e->shuffle, &a);
        if (ls_shuffle_sync(e->shuffle, err)) return -1;
        ls_shuffle_stats_get(e->shuffle, &b);
        t->member_state = 1;
        t->state_owned = b.owned;
        t->restored_partitions = b.restores - a.restores;
        t->restored_records = b.restored_records - a.restored_records;
        t->restore_ms = b.restore_ms - a.restore_ms;
    }
    if (e->app && ls_app_begin(e->app, batch, err)) return -1; /* before any row or dead letter */
    for (size_t i = 0; i < e->plan->nqueries; i++) {
        ls_query *q = e->plan->queries[i];
        if (!active[i]) continue;
        ls_query_start(q, batch, t->start_ms);
    }
    if (e->workers) ls_workers_begin_batch(e->workers, batch);
    ls_lane_begin_batch(&e->lane);
    for (size_t i = 0; i < e->plan->nqueries; i++)
        if (active[i] && ls_query_open_rows(e->plan->queries[i], err)) return -1;
    if (e->cp) {
        double w0 = ls_mono_ms();
        if (ls_checkpoint_wal(e->cp, e->plan, batch, err)) return -1;
        t->wal_ms = ls_mono_ms() - w0;
    }
    r->count = 0;
    int rc = read_batch(e, planned, r, t, err);
    if (rc < 0) return -1;
    for (size_t si = 0; si < e->plan->nsources; si++) ls_source_end_batch(e->plan->sources[si]);
    if (finish_batch(e, t, batch, active, err)) {
        /* a member's batch whose transaction could not hold what it wrote
         * (a broker lost for longer than messages may wait) is aborted and
         * read again, its state rebuilt, as after a failed commit */
        int ab = e->app ? ls_app_abort_failed(e->app, batch, err) : 0;
        if (ab <= 0) return -1;
        if (e->shuffle) ls_shuffle_rollback(e->shuffle);
        for (size_t s = 0; s < e->plan->nsources; s++) e->stamps[s].n = 0;
    }
    e->total_input += r->count;
    e->batches_run++;
    return 0;
}

/* A member of a job running aggregations: their repartition and changelog
 * topics, before the source opens (it subscribes to the repartition
 * topics too). */
static int start_shuffle(ls_engine *e, int bounded, ls_err *err)
{
    if (!any_aggregation(e->plan)) return 0;
    if (bounded) {
        ls_seterr(err, "app %s: aggregations run by a job's members need a processing-time "
                  "trigger (\"N seconds\" or \"0 seconds\"): with available-now or once a "
                  "member could stop before the partial groups other members send it arrive",
                  e->app_id);
        return -1;
    }
    if (!e->plan->app_producer) { /* console sinks only: the job's topics still need one */
        ls_source *src = e->plan->sources[0];
        ls_kafka_producer *p = ls_app_producer_new(ls_source_declared(src)->bootstrap,
                                                   &ls_source_declared(src)->props, e->app_txn_id, err);
        if (!p) return -1;
        ls_plan_set_app_producer(e->plan, p);
    }
    e->shuffle = ls_shuffle_new(e->app_id, e->plan->sources[0], e->plan->app_producer);
    ls_shuffle_set_cache(e->shuffle, e->cache_dir);
    ls_shuffle_set_standbys(e->shuffle, e->opts->standbys);
    for (size_t i = 0; i < e->plan->nqueries; i++)
        if (!ls_query_declared(e->plan->queries[i])->per_record) ls_shuffle_add(e->shuffle, e->plan->queries[i]);
    return ls_shuffle_prepare(e->shuffle, err);
}

/* A member's state partitions, restores and standby copies, for /metrics. */
static void record_state(ls_engine *e)
{
    if (!e->monitor || !e->shuffle) return;
    ls_shuffle_stats st;
    ls_shuffle_stats_get(e->shuffle, &st);
    ls_state_figures f = { .owned = st.owned, .restores = st.restores,
                           .restored_records = st.restored_records,
                           .from_cache = st.restored_from_cache,
                           .from_standby = st.restored_from_standby, .purges = st.purges,
                           .standby = st.standby, .standby_lag = st.standby_lag,
                           .restore_s = st.restore_ms / 1000.0 };
    ls_monitor_record_state(e->monitor, &f);
}

int ls_engine_run(ls_engine *e, ls_err *err)
{
    if (e->explain) {
        ls_seterr(err, "an engine built for explain has only planned sinks: it cannot run");
        return -1;
    }
    int bounded = e->trigger.kind != LS_TRIGGER_INTERVAL;
    if (e->app_id && start_shuffle(e, bounded, err)) return -1;
    for (size_t i = 0; i < e->plan->nsources; i++) {
        ls_source_plan_batches(e->plan->sources[i]);
        if (ls_source_open(e->plan->sources[i], bounded, err)) return -1;
    }
    if (!e->quiet) {
        char tt[64];
        ls_trigger_text(&e->trigger, tt, sizeof tt);
        ls_log("running %zu quer%s from %s (trigger: %s)", e->plan->nqueries,
               e->plan->nqueries == 1 ? "y" : "ies", e->script, tt);
    }
    if (e->cp) ls_checkpoint_apply_replay(e->cp, e->plan);
    if (e->app_id) {
        /* one Kafka source (the compiler refused more): the member's consumer */
        e->app = ls_app_new(e->app_id, e->plan->sources[0], e->plan->app_producer);
        if (ls_app_start(e->app, err)) return -1;
        if (!e->quiet)
            ls_log("member of app %s (consumer group %s%s%s)", e->app_id, e->app_id,
                   e->plan->app_producer ? ", transactional.id " : ", no Kafka sink: offsets "
                   "committed after each batch, at least once", e->plan->app_producer ? e->app_txn_id : "");
    }
    if (e->monitor) ls_monitor_set_running(e->monitor, 1);
    int64_t batch = e->cp ? ls_checkpoint_next_batch(e->cp) : 0;
    double interval = (double)e->trigger.interval_ms;
    int64_t *planned = ls_xcalloc(e->plan->nsources + 1, sizeof *planned);
    int *active = ls_xcalloc(e->plan->nqueries + 1, sizeof *active);
    reader *r = ls_xcalloc(1, sizeof *r);
    int rc = 0;
    double next_tick = ls_mono_ms();
    while (!(e->stop && *e->stop)) {
        if (interval > 0) {
            wait_until(e, next_tick);
            if (e->stop && *e->stop) break;
        }
        if (reload_due(e) && ls_reload(e, e->opts, err) < 0) {
            rc = -1;
            break;
        }
        interval = (double)e->trigger.interval_ms; /* a reload may change it */
        ls_batch_timing t = { 0 };
        t.start_ms = ls_mono_ms();
        t.trigger_wall_ms = ls_now_ms();
        t.checkpointed = e->cp != NULL;
        /* Spark's ProcessingTimeExecutor: ticks on multiples of the interval */
        if (interval > 0) next_tick = (double)((int64_t)(t.start_ms / interval) + 1) * interval;
        int work = plan_batch(e, planned, active, &t, err);
        if (e->monitor && e->app) ls_monitor_record_member(e->monitor, e->plan->sources[0]);
        if (work < 0) {
            rc = -1;
            break;
        }
        if (!work) {
            /* available-now / once: nothing left to do (a member of a job:
             * once the group has given it its share, all of it read) */
            if (bounded && (!e->app || sources_exhausted(e))) break;
            if (e->shuffle) { /* standby copies keep up while there is nothing to do */
                ls_shuffle_idle(e->shuffle);
                record_state(e);
            }
            if (interval <= 0) wait_for_input(e);
            continue;
        }
        if (run_batch(e, batch, planned, active, &t, r, err)) {
            if (e->app) ls_app_explain_failure(e->app, err);
            rc = -1;
            break;
        }
        /* and after it: the lag shown is what is left once the batch read its share */
        if (e->monitor && e->app) ls_monitor_record_member(e->monitor, e->plan->sources[0]);
        record_state(e);
        batch++;
        if (e->trigger.kind == LS_TRIGGER_ONCE) break;
    }
    free(planned);
    free(active);
    free(r);
    /* the last batch committed: the cache as it stands, for the next run */
    if (rc == 0 && e->shuffle) ls_shuffle_save_cache(e->shuffle, 1);
    if (e->monitor) ls_monitor_set_running(e->monitor, 0);
    return rc;
}

ls_plan *ls_engine_plan(ls_engine *e)
{
    return e->plan;
}

const ls_plan *ls_engine_plan_c(const ls_engine *e)
{
    return e->plan;
}

const ls_trigger *ls_engine_trigger(const ls_engine *e, int *from_flag)
{
    if (from_flag) *from_flag = e->has_trigger_override;
    return &e->trigger;
}

const char *ls_engine_script(const ls_engine *e)
{
    return e->script;
}

const char *ls_engine_checkpoint_dir(const ls_engine *e)
{
    return e->checkpoint_dir;
}

const char *ls_engine_app(const ls_engine *e)
{
    return e->app_id;
}

ls_checkpoint *ls_engine_checkpoint(ls_engine *e)
{
    return e->cp;
}

const ls_decode_plan *ls_engine_decode_plan(const ls_engine *e, size_t si)
{
    return si < e->plan->nsources ? &e->plans[si] : NULL;
}

int ls_engine_started_anything(const ls_engine *e)
{
    return e->cp || e->workers || e->http;
}
