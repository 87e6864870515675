/* ls_engine.h - the run loop: triggers, batches, and everything a running
 * script owns (Lua state, sources, tables, queries, producers, dead-letter).
 *
 * One batch, as Spark's MicroBatchExecution runs one: at the trigger, every
 * source plans its end offsets (ls_source_plan: the latest offsets, capped
 * by max_records_per_trigger); the offsets go to the checkpoint's log; the
 * planned records are read partition by partition, each decoded once and
 * offered to every query reading that source, in declaration order; then
 * each query that ran emits its rows, the state is committed and a progress
 * report written. A query runs in a batch when its source has records for
 * it, or, without records, when its watermark moved far enough to evict
 * (Spark's no-data batch). Triggers: an interval (batches start on its
 * multiples; none while there is nothing to do), 0 (a batch as soon as the
 * last ended and there is something to do), once (one batch of everything
 * there), available-now (everything there at the start, in capped batches,
 * then the no-data batch the watermark asks for, then exit). */
#ifndef LS_ENGINE_H
#define LS_ENGINE_H

#include <lua.h>
#include <signal.h>
#include <stdio.h>

#include "ls_checkpoint.h"
#include "ls_plan.h"
#include "ls_lane.h"
#include "ls_trigger.h"


/* Opaque (its fields: ls_engine_impl.h, for the engine's own files). */
typedef struct ls_engine ls_engine;

typedef struct ls_engine_opts {
    const char *script;
    char **set_names;        /* --set NAME=VALUE */
    char **set_values;
    size_t nset;
    const char *trigger;     /* --trigger, or NULL */
    const char *progress_path;
    int partitions;          /* --partitions, 0 = default */
    int parallelism;         /* --parallelism: worker threads, 0/1 = none */
    const char *checkpoint;  /* --checkpoint DIR (overrides the script's) */
    const char *app;         /* --app ID (overrides the script's ls.app): a member of that job */
    int standbys;            /* --standbys N: standby copies of other members' state partitions */
    int standbys_given;      /* --standbys was given (it needs an app id) */
    int unsafe_lua;          /* --unsafe-lua: keep os.execute, io.popen, C modules */
    int64_t max_state_rows;  /* --max-state-rows, 0 = none */
    const char *ui;          /* --ui HOST:PORT, or NULL */
    int quiet;
    int capture;             /* luastream test: no checkpoint, sinks and dead letters in memory */
    int watch;               /* --watch: reload the script when its file changes */
    volatile sig_atomic_t *reload; /* raised (SIGHUP) to reload the script, or NULL */
    volatile sig_atomic_t *stop;
    int explain;             /* luastream explain: compile and plan only; no Kafka client,
                                checkpoint, sink output, worker, UI or progress file */
} ls_engine_opts;

/* Loads the script and builds everything it declares. On failure returns
 * NULL and fills err (script errors carry file:line). With opts->explain
 * it stops after the decoding plan, having opened nothing. */
ls_engine *ls_engine_new(const ls_engine_opts *opts, ls_err *err);
/* Runs until the trigger is exhausted (once / available-now) or *stop. */
int ls_engine_run(ls_engine *e, ls_err *err);
void ls_engine_free(ls_engine *e);

/* The Lua set-up a run's options ask for (script, --set, --unsafe-lua). */
struct ls_lua_env;
void ls_engine_lua_env(const ls_engine_opts *o, struct ls_lua_env *env);

/* Checkpointed runs: every sink and the dead-letter output sync at the end
 * of each batch (fsync), so a commit never names rows not on disk. */
void ls_engine_sync_outputs(ls_engine *e);

/* Plans the decoding again (after the queries changed: a reload). */
void ls_engine_replan(ls_engine *e);

/* Read-only views for `luastream explain`, `luastream test` and the tests. */
ls_plan *ls_engine_plan(ls_engine *e);             /* the compiled script */
const ls_plan *ls_engine_plan_c(const ls_engine *e);
/* The trigger in force; *from_flag: given by --trigger (may be NULL). */
const ls_trigger *ls_engine_trigger(const ls_engine *e, int *from_flag);
const char *ls_engine_script(const ls_engine *e);
const char *ls_engine_checkpoint_dir(const ls_engine *e);
/* The app id this run is a member of (--app / ls.app), or NULL. */
const char *ls_engine_app(const ls_engine *e); /* or NULL */
ls_checkpoint *ls_engine_checkpoint(ls_engine *e);        /* or NULL */
/* How source si's records are decoded (its projection and casts). */
const ls_decode_plan *ls_engine_decode_plan(const ls_engine *e, size_t si);
/* Something was started that only a run needs (worker threads, the web
 * server): an explain engine has none. */
int ls_engine_started_anything(const ls_engine *e);


#endif
