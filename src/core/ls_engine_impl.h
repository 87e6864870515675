/* ls_engine_impl.h - the fields of an engine, for the engine's own files
 * only (ls_engine.c runs it, ls_reload.c swaps its plan). Everything else
 * sees the opaque type of ls_engine.h and its functions, as Lua's core
 * keeps lstate.h to itself. */
#ifndef LS_ENGINE_IMPL_H
#define LS_ENGINE_IMPL_H

#include "ls_deadletter.h"
#include "ls_app.h"
#include "ls_engine.h"
#include "ls_http.h"
#include "ls_kafka.h"
#include "ls_monitor.h"
#include "ls_query.h"
#include "ls_shuffle.h"
#include "ls_source.h"
#include "ls_table.h"
#include "ls_workers.h"

/* Kafka timestamps of one source's records in the current batch (latency). */
typedef struct ls_stamps {
    int64_t *ts;
    size_t n, cap;
} ls_stamps;

struct ls_engine {
    ls_plan *plan;           /* owned: the compiled script (sources, queries, sinks, Lua state) */
    char *script;
    ls_decode_plan *plans;   /* one per source */
    ls_stamps *stamps;       /* one per source */
    ls_lane lane;            /* the engine thread's lane (parallelism 1) */
    ls_workers *workers;     /* parallelism > 1 */
    ls_checkpoint *cp;       /* --checkpoint / ls.checkpoint, or NULL */
    char *app_id;            /* --app / ls.app: a member of that job (ls_app.h), or NULL */
    char *app_txn_id;        /* its producer's transactional.id: "<app>-<uuid>" */
    char *cache_dir;         /* with an app id, the checkpoint directory: a cache of state
                                partitions (ls_state_cache.h), not where the run resumes */
    int cache_lock;          /* its lock (ls_checkpoint_lock), or -1 */
    ls_app *app;             /* made when the run starts */
    ls_shuffle *shuffle;     /* --app with aggregations: their two stages (ls_shuffle.h), or NULL */
    int reload_refused;      /* a reload was asked for under --app (reported once) */
    int cutting;             /* a member's batches ended early for their transaction timeout:
                                2 the batch in progress, 1 the one before (logged once a run) */
    char *checkpoint_dir;    /* known before compiling: Kafka sinks turn transactional */
    ls_monitor *monitor;     /* --ui: what the web server shows */
    ls_http *http;
    int64_t crash_after_sink; /* fault injection for tests (LUASTREAM_TEST_CRASH_AFTER_SINK):
                                 die after the sinks wrote this batch, before its commit */
    int capture;             /* luastream test: sinks and dead letters kept in memory */
    const struct ls_engine_opts *opts; /* borrowed: what the run was started with (reloads) */
    int64_t script_mtime_ns; /* --watch: the script file as last loaded */
    int64_t script_size;
    uint64_t script_ino;
    int has_trigger_override;
    ls_trigger trigger;
    int partitions;          /* default hash partitions of aggregation state */
    int64_t max_state_rows;  /* default cap on groups per query, 0 = none */
    FILE *progress;          /* JSON lines, or NULL */
    int quiet;               /* no human progress lines */
    volatile sig_atomic_t *stop;
    int64_t batches_run;
    int64_t total_input;
    int plan_failing;        /* the latest offsets could not be read (reported once) */
    int explain;             /* built for `luastream explain` (ls_explain.h): sinks are
                                planned, nothing is opened, the engine never runs */
};

#endif
