/* ls_query_stage.h - an aggregating query split into two stages, for the
 * members of a job (--app; DESIGN.md §2). The Kafka side (topics,
 * transactions, restoring) is ls_shuffle.h; this is the query side.
 *
 *   stage 1  the records this member reads are decoded, mapped, joined and
 *            folded as usual, but into a partial state that lives for one
 *            batch; at the batch's end each partial group (one per window
 *            and key: Spark's partial aggregation) is handed out with the
 *            state partition its key hashes to, and the partial is emptied;
 *   stage 2  partial groups read back from the repartition topic are merged
 *            into the state partitions this member owns (a (window, key)
 *            the job's watermark has passed is late and dropped there, as
 *            Spark drops rows at its stateful operator after partial
 *            aggregation); the batch then ends as without a job: rows out
 *            per output mode, eviction, watermark.
 *
 * The watermark is not the member's own: the shuffle sets it per batch. Every
 * change of a state partition (groups updated, groups evicted) is handed
 * out for its changelog, and a partition is rebuilt from one. */
#ifndef LS_QUERY_STAGE_H
#define LS_QUERY_STAGE_H

#include "ls_query.h"

/* Makes q a staged query (before its first batch). Sessions are refused by
 * the compiler (their merge needs every session of a key in one place). */
void ls_query_stage_enable(ls_query *q);
int ls_query_staged(const ls_query *q);

/* A group's bytes for a topic: its state partition, its key, its value
 * (ls_group_encode), or no value (val NULL): a tombstone. Returns -1 + err
 * when it could not be sent. */
typedef int (*ls_stage_out_fn)(void *ctx, int part, const char *key, size_t klen,
                               const char *val, size_t vlen, ls_err *err);

/* End of stage 1: every partial group (sealed first: percentile digests)
 * to out, then the partial is emptied. */
int ls_query_stage_send(ls_query *q, ls_stage_out_fn out, void *ctx, ls_err *err);
/* The batch's greatest event time of each source partition this member
 * read (index = partition number, LS_NO_TIME: none): what it stamps its
 * input partitions with. Returns the array's length. */
int ls_query_stage_part_max(const ls_query *q, const int64_t **max);


/* Stage 2: a partial group of state partition part. A group whose window
 * ended at or before late_at (its partition's watermark for late rows;
 * LS_NO_TIME: nothing is late) is counted and dropped. -1 + err when the
 * bytes do not parse. */
int ls_query_stage_merge(ls_query *q, int part, const char *key, size_t klen, const void *val,
                         size_t vlen, int64_t late_at, ls_err *err);
/* Before ls_query_end_batch: the member's own event times do not move the
 * watermark (the shuffle sets it, ls_query_restore_watermark), and the
 * batch's updated-group count is stage 2's. */
void ls_query_stage_event_max(ls_query *q);
/* Before ls_query_end_batch: a tombstone for each group the batch's end
 * will evict. After it: each group updated in the batch. */
int ls_query_stage_evictions(ls_query *q, ls_stage_out_fn out, void *ctx, ls_err *err);
int ls_query_stage_updates(ls_query *q, ls_stage_out_fn out, void *ctx, ls_err *err);

/* Rebuilding state partition part from its changelog: each record in
 * order (val NULL: a tombstone), then ls_query_stage_restored. -1 + err
 * when a record does not parse. */
int ls_query_stage_restore(ls_query *q, int part, const char *key, size_t klen, const void *val,
                           size_t vlen, ls_err *err);
void ls_query_stage_restored(ls_query *q, int part);
/* Every group of state partition part, as ls_query_stage_updates hands
 * them out (a snapshot of the partition: ls_state_cache.h). -1 + err when
 * out fails. */
int ls_query_stage_snapshot(ls_query *q, int part, ls_stage_out_fn out, void *ctx, ls_err *err);
/* A state partition this member no longer owns. */
void ls_query_stage_drop(ls_query *q, int part);
/* The batch was aborted before it ended (its transaction could not hold
 * what it wrote): its partial groups not yet sent, its late groups and its
 * updated-group count are discarded, as its records will be read again. */
void ls_query_stage_discard(ls_query *q);

#endif
