/* ls_workers.h - parallel processing: `--parallelism N` worker threads.
 *
 * The engine thread polls Kafka and hands chunks of messages to the workers
 * round-robin; each worker decodes and aggregates them in its own lane (own
 * Lua state, own query clones with partial state), with no lock on the
 * per-record path. At the end of a batch every worker merges a slice of
 * the hash partitions (p % N == worker) of all partial states into the
 * queries' real state, so the merge is parallel and lock-free too; then the
 * engine thread emits. Order inside a batch does not matter: the watermark
 * only moves between batches. */
#ifndef LS_WORKERS_H
#define LS_WORKERS_H

#include "ls_record.h"

#include "ls_lane.h"
#include "ls_lua_api.h"
#include "ls_plan.h"
typedef struct ls_workers ls_workers;

/* Starts n workers over plan's queries (borrowed: the engine's), decoding
 * each source's records as decoding says, each with its own Lua state set
 * up from env (the script is loaded again in it, muted). */
ls_workers *ls_workers_new(ls_plan *plan, const ls_decode_plan *decoding, const ls_lua_env *env,
                           int n, ls_err *err);
void ls_workers_free(ls_workers *w);

/* Resets the workers' counters and gives them the current watermarks. */
void ls_workers_begin_batch(ls_workers *w, int64_t batch_id);
/* Hands n records of source si, from the seq-th record of the batch on, to
 * a worker (which releases them); blocks
 * while every worker's queue is full (backpressure). */
void ls_workers_submit(ls_workers *w, size_t si, uint64_t seq, const ls_record *recs, size_t n);
/* Waits for every message, merges the partial states into the engine's
 * queries and adds the workers' counters. -1 + err if a worker failed. */
int ls_workers_end_batch(ls_workers *w, double *decode_ms, ls_err *err);

#endif
