/* ls_workers.c - worker threads with their own lanes (see ls_workers.h). */
#include "ls_workers.h"

#include <lauxlib.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "ls_lua_api.h"
#include "ls_lane.h"
#include "ls_lua_api.h"

#define QUEUE_CAP 8 /* chunks waiting per worker */

enum { TASK_CHUNK, TASK_MERGE, TASK_CLEAR, TASK_STOP };

typedef struct task {
    int kind;
    size_t si, n;
    uint64_t seq;
    ls_record *recs;
} task;

typedef struct worker {
    struct ls_workers *pool;
    int index;
    pthread_t thread;
    int started;
    lua_State *L;            /* owned, when a query has a map */
    ls_query **queries;      /* clones of the engine's queries */
    ls_lane lane;
    ls_merge_result *merged; /* per query, from the last merge */
    size_t *late_added;      /* per query: late (window, key) rows the last merge added */
    task *queue[QUEUE_CAP];
    size_t head, count;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int failed;
    ls_err err;
} worker;

struct ls_workers {
    ls_plan *plan;           /* the engine's: queries, sources, dead letters */
    const ls_decode_plan *decoding; /* the engine's, one per source */
    ls_lua_env env;          /* how a worker's Lua state is set up */
    int n;
    worker *w;
    size_t next;             /* round robin */
    int64_t batch_id;
    pthread_mutex_t mu;
    pthread_cond_t done;
    int64_t submitted, completed;
};

static void run_merge(worker *wk)
{
    ls_workers *pool = wk->pool;
    ls_plan *pl = pool->plan;
    for (size_t qi = 0; qi < pl->nqueries; qi++) {
        ls_query *q = pl->queries[qi];
        memset(&wk->merged[qi], 0, sizeof wk->merged[qi]);
        ls_merge_result late = { 0 };
        for (int p = wk->index; p < ls_state_nparts(ls_query_state_c(q)); p += pool->n)
            for (int k = 0; k < pool->n; k++)
                ls_query_merge_part(q, pool->w[k].queries[qi], p, pool->batch_id, &wk->merged[qi],
                                    &late);
        wk->late_added[qi] = late.groups_added;
    }
}

static void *worker_main(void *arg)
{
    worker *wk = arg;
    ls_workers *pool = wk->pool;
    for (;;) {
        pthread_mutex_lock(&wk->mu);
        while (wk->count == 0) pthread_cond_wait(&wk->cv, &wk->mu);
        task *t = wk->queue[wk->head];
        wk->head = (wk->head + 1) % QUEUE_CAP;
        wk->count--;
        pthread_cond_broadcast(&wk->cv); /* a slot is free */
        pthread_mutex_unlock(&wk->mu);

        int stop = t->kind == TASK_STOP;
        if (t->kind == TASK_CHUNK) {
            for (size_t i = 0; i < t->n; i++) {
                if (!wk->failed && ls_lane_handle(&wk->lane, t->si, t->seq + i, &t->recs[i], &wk->err))
                    wk->failed = 1;
                ls_record_release(&t->recs[i]);
            }
            free(t->recs);
        } else if (t->kind == TASK_MERGE) {
            run_merge(wk);
        } else if (t->kind == TASK_CLEAR) {
            for (size_t qi = 0; qi < pool->plan->nqueries; qi++) ls_query_clear_partial(wk->queries[qi]);
        }
        free(t);
        pthread_mutex_lock(&pool->mu);
        pool->completed++;
        pthread_cond_broadcast(&pool->done);
        pthread_mutex_unlock(&pool->mu);
        if (stop) return NULL;
    }
}

static void push(ls_workers *pool, worker *wk, task *t)
{
    pthread_mutex_lock(&pool->mu);
    pool->submitted++;
    pthread_mutex_unlock(&pool->mu);
    pthread_mutex_lock(&wk->mu);
    while (wk->count == QUEUE_CAP) pthread_cond_wait(&wk->cv, &wk->mu);
    wk->queue[(wk->head + wk->count) % QUEUE_CAP] = t;
    wk->count++;
    pthread_cond_broadcast(&wk->cv);
    pthread_mutex_unlock(&wk->mu);
}

static void drain(ls_workers *pool)
{
    pthread_mutex_lock(&pool->mu);
    while (pool->completed < pool->submitted) pthread_cond_wait(&pool->done, &pool->mu);
    pthread_mutex_unlock(&pool->mu);
}

static void broadcast(ls_workers *pool, int kind)
{
    for (int i = 0; i < pool->n; i++) {
        task *t = ls_xcalloc(1, sizeof *t);
        t->kind = kind;
        push(pool, &pool->w[i], t);
    }
    drain(pool);
}

/* The worker's own Lua state, with the script run in it, when some query
 * has a map: each map is taken from that state by query position. */
static int setup_lua(worker *wk, ls_plan *pl, const ls_lua_env *env, ls_err *err)
{
    int any_lua = 0;
    for (size_t i = 0; i < pl->nqueries; i++) any_lua |= ls_query_needs_table(pl->queries[i]);
    if (!any_lua) return 0;
    wk->L = luaL_newstate();
    ls_lua_setup(wk->L, env);
    /* The script runs again here, for this worker's own maps: what it prints
     * while loading was shown once already, by the engine's load. */
    return ls_lua_run_script_muted(wk->L, env->script, err);
}

/* A per-record query's sink topic function, in the worker's Lua state. */
static int topic_fn_of(lua_State *L, size_t qi)
{
    int ref = LUA_NOREF;
    if (!ls_lua_push_declared(L)) return ref;
    lua_getfield(L, -1, "queries");
    lua_rawgeti(L, -1, (lua_Integer)qi + 1);
    lua_getfield(L, -1, "sink");
    if (lua_istable(L, -1) && lua_getfield(L, -1, "topic") == LUA_TFUNCTION)
        ref = luaL_ref(L, LUA_REGISTRYINDEX);
    else
        lua_pop(L, 1);
    lua_pop(L, 4);
    return ref;
}

static int map_ref_of(lua_State *L, size_t qi)
{
    int ref = LUA_NOREF;
    if (!ls_lua_push_declared(L)) return ref;
    lua_getfield(L, -1, "queries");
    lua_rawgeti(L, -1, (lua_Integer)qi + 1);
    if (lua_getfield(L, -1, "map") == LUA_TFUNCTION) ref = luaL_ref(L, LUA_REGISTRYINDEX);
    else lua_pop(L, 1);
    lua_pop(L, 3);
    return ref;
}

ls_workers *ls_workers_new(ls_plan *pl, const ls_decode_plan *decoding, const ls_lua_env *env,
                           int n, ls_err *err)
{
    ls_workers *pool = ls_xcalloc(1, sizeof *pool);
    pool->plan = pl;
    pool->decoding = decoding;
    pool->env = *env;
    pool->n = n;
    pool->w = ls_xcalloc((size_t)n, sizeof *pool->w);
    pthread_mutex_init(&pool->mu, NULL);
    pthread_cond_init(&pool->done, NULL);
    for (int i = 0; i < n; i++) {
        worker *wk = &pool->w[i];
        wk->pool = pool;
        wk->index = i;
        pthread_mutex_init(&wk->mu, NULL);
        pthread_cond_init(&wk->cv, NULL);
        wk->queries = ls_xcalloc(pl->nqueries + 1, sizeof *wk->queries);
        wk->merged = ls_xcalloc(pl->nqueries + 1, sizeof *wk->merged);
        wk->late_added = ls_xcalloc(pl->nqueries + 1, sizeof *wk->late_added);
        if (setup_lua(wk, pl, &pool->env, err)) {
            ls_workers_free(pool);
            return NULL;
        }
        for (size_t qi = 0; qi < pl->nqueries; qi++) {
            const ls_query *src = pl->queries[qi];
            const ls_query_decl *d = ls_query_declared(src);
            int ref = d->map_ref != LUA_NOREF ? map_ref_of(wk->L, qi) : LUA_NOREF;
            int topic_fn = d->route.topic_fn != LUA_NOREF ? topic_fn_of(wk->L, qi) : LUA_NOREF;
            wk->queries[qi] = ls_query_clone(src, wk->L, ref, topic_fn, err);
            if (!wk->queries[qi]) {
                ls_workers_free(pool);
                return NULL;
            }
        }
        ls_lane_init(&wk->lane, wk->L, wk->queries, pl->nqueries, pl->sources, decoding,
                     pl->nsources, pl->dl);
        if (pthread_create(&wk->thread, NULL, worker_main, wk) != 0) {
            ls_seterr(err, "cannot start worker thread %d", i);
            ls_workers_free(pool);
            return NULL;
        }
        wk->started = 1;
    }
    return pool;
}

void ls_workers_free(ls_workers *pool)
{
    if (!pool) return;
    for (int i = 0; i < pool->n; i++) {
        worker *wk = &pool->w[i];
        if (!wk->started) continue;
        task *t = ls_xcalloc(1, sizeof *t);
        t->kind = TASK_STOP;
        push(pool, wk, t);
        pthread_join(wk->thread, NULL);
    }
    for (int i = 0; i < pool->n; i++) {
        worker *wk = &pool->w[i];
        for (size_t qi = 0; wk->queries && qi < pool->plan->nqueries; qi++)
            ls_query_free(wk->queries[qi]);
        free(wk->queries);
        free(wk->merged);
        free(wk->late_added);
        ls_lane_free(&wk->lane);
        if (wk->L) lua_close(wk->L);
        pthread_mutex_destroy(&wk->mu);
        pthread_cond_destroy(&wk->cv);
    }
    pthread_mutex_destroy(&pool->mu);
    pthread_cond_destroy(&pool->done);
    free(pool->w);
    free(pool);
}

void ls_workers_begin_batch(ls_workers *pool, int64_t batch_id)
{
    pool->batch_id = batch_id;
    pool->next = 0; /* chunk k of every batch goes to worker k % n: the same folds every run */
    for (int i = 0; i < pool->n; i++) {
        worker *wk = &pool->w[i];
        ls_lane_begin_batch(&wk->lane);
        for (size_t qi = 0; qi < pool->plan->nqueries; qi++) {
            ls_query_begin_partial(wk->queries[qi], pool->plan->queries[qi], batch_id);
        }
    }
}

void ls_workers_submit(ls_workers *pool, size_t si, uint64_t seq, const ls_record *recs,
                       size_t n)
{
    if (!n) return;
    task *t = ls_xcalloc(1, sizeof *t);
    t->kind = TASK_CHUNK;
    t->si = si;
    t->seq = seq;
    t->n = n;
    t->recs = ls_xmalloc(n * sizeof *t->recs);
    memcpy(t->recs, recs, n * sizeof *recs);
    worker *wk = &pool->w[pool->next];
    pool->next = (pool->next + 1) % (size_t)pool->n;
    push(pool, wk, t);
}

int ls_workers_end_batch(ls_workers *pool, double *decode_ms, ls_err *err)
{
    drain(pool);
    ls_plan *pl = pool->plan;
    for (int i = 0; i < pool->n; i++)
        if (pool->w[i].failed) {
            ls_seterr(err, "%s", pool->w[i].err.msg);
            return -1;
        }
    broadcast(pool, TASK_MERGE);
    ls_outbuf **outs = ls_xcalloc((size_t)pool->n, sizeof *outs);
    for (size_t qi = 0; qi < pl->nqueries; qi++) {
        ls_query *q = pl->queries[qi];
        if (ls_query_declared(q)->per_record) { /* the workers' rows, in the order the batch read them */
            for (int i = 0; i < pool->n; i++) outs[i] = ls_query_held_rows(pool->w[i].queries[qi]);
            if (ls_outbuf_write(outs, (size_t)pool->n, ls_query_declared(q)->sink, err)) {
                free(outs);
                return -1;
            }
        }
        for (int i = 0; i < pool->n; i++) {
            ls_query_fold_partial(q, pool->w[i].queries[qi], &pool->w[i].merged[qi],
                                  pool->w[i].late_added[qi]);
        }
    }
    free(outs);
    broadcast(pool, TASK_CLEAR);
    double d = 0;
    for (int i = 0; i < pool->n; i++)
        if (pool->w[i].lane.decode_ms > d) d = pool->w[i].lane.decode_ms;
    *decode_ms += d;
    return 0;
}
