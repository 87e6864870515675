/* ls_progress.h - the per-batch progress report of a query, in the shape
 * of Spark's StreamingQueryProgress (same field names), written as one JSON
 * line to the --progress file and as a short human line on stderr. */
#ifndef LS_PROGRESS_H
#define LS_PROGRESS_H

#include <stdio.h>

#include "ls_query.h"

/* Timings of one batch, shared by the queries that ran in it. Idle time
 * waiting for the trigger is in none of them. */
typedef struct ls_batch_timing {
    int64_t trigger_wall_ms;   /* wall clock when the batch was triggered */
    double start_ms;           /* monotonic clock then */
    double trigger_ms;         /* the whole batch: planning to commit */
    double latest_offset_ms;   /* planning: the broker's latest offsets (Spark's latestOffset) */
    double wal_ms;             /* writing the batch's planned offsets (walCommit) */
    double get_batch_ms;       /* reading the batch's records from Kafka */
    double decode_ms;          /* JSON decoding (shared by the source's queries) */
    double commit_ms;          /* state snapshots and the commit record (commitOffsets) */
    int checkpointed;          /* walCommit and commitOffsets apply */
    /* a member of a job running aggregations (ls_shuffle.h): the state
     * partitions it owns, and those this batch rebuilt before it read */
    int member_state;
    int state_owned;
    int64_t restored_partitions, restored_records;
    double restore_ms;
} ls_batch_timing;

/* Appends the JSON report of q's finished batch to out. */
void ls_progress_json(const ls_query *q, const ls_batch_timing *t, ls_buf *out);
/* One line for humans: rates, invalid rows, state, watermark. */
void ls_progress_human(const ls_query *q, const ls_batch_timing *t, FILE *f);

#endif
