/* ls_progress.h - the per-batch progress report of a query, in the shape
 * of Spark's StreamingQueryProgress (same field names), written as one JSON
 * line to the --progress file and as a short human line on stderr. */
#ifndef LS_PROGRESS_H
#define LS_PROGRESS_H

#include <stdio.h>

#include "ls_query.h"

typedef struct ls_batch_timing {
    int64_t trigger_wall_ms;   /* wall clock at batch start */
    double since_prev_ms;      /* since the previous batch of this query started */
    double trigger_ms;         /* whole batch */
    double get_batch_ms;       /* waiting for / reading Kafka */
    double decode_ms;          /* JSON decoding (shared by the source's queries) */
} ls_batch_timing;

/* Appends the JSON report of q's finished batch to out. */
void ls_progress_json(const ls_query *q, const ls_batch_timing *t, ls_buf *out);
/* One line for humans: rates, invalid rows, state, watermark. */
void ls_progress_human(const ls_query *q, const ls_batch_timing *t, FILE *f);

#endif
