/* ls_monitor.h - what the web UI and /metrics show, shared between the
 * engine thread (which records each batch) and the HTTP server's thread
 * (which reads): per query, the last progress reports as JSON and running
 * totals for Prometheus; for a member of a job (--app), its rebalances and
 * the lag of each partition it owns. One mutex; the engine holds it for a
 * copy per batch, never while processing records, so a slow client never
 * slows the stream. */
#ifndef LS_MONITOR_H
#define LS_MONITOR_H

#include <pthread.h>
#include <stdint.h>

#include "ls_util.h"

#define LS_MONITOR_HISTORY 600   /* progress reports kept per query */
#define LS_MONITOR_BUCKETS 12    /* batch-duration histogram buckets */

typedef struct ls_query_monitor {
    char *name;
    char *history[LS_MONITOR_HISTORY]; /* ring of progress JSON, oldest first from head */
    size_t head, count;
    int64_t batches, input_rows, invalid_rows, output_rows, late_rows;
    int64_t state_rows, state_bytes, watermark_ms;
    double duration_sum_s;
    int64_t duration_buckets[LS_MONITOR_BUCKETS + 1]; /* cumulative at render time */
} ls_query_monitor;

/* A partition a member of a job owns, and how far behind it is. */
typedef struct ls_owned_partition {
    char *topic;
    int32_t partition;
    int64_t lag;        /* the latest offset known minus the member's position */
} ls_owned_partition;

typedef struct ls_monitor {
    pthread_mutex_t mu;
    size_t nqueries;
    ls_query_monitor *queries;
    int running;        /* the engine is processing (for /healthz) */
    int64_t started_ms;
    /* a member of a job (--app): set by ls_monitor_record_member */
    char *app;          /* NULL: not a member of a job */
    int64_t rebalances;
    size_t nowned;
    ls_owned_partition *owned;
    /* its aggregations' state partitions (ls_monitor_record_state) */
    int has_state;
    struct ls_state_figures {
        int64_t owned, restores, restored_records, from_cache, from_standby, purges;
        int64_t standby, standby_lag; /* partitions held as standby, their records behind */
        double restore_s;
    } state;
} ls_monitor;

extern const double ls_monitor_bucket_bounds[LS_MONITOR_BUCKETS];

ls_monitor *ls_monitor_new(const char *const *names, size_t n);
void ls_monitor_free(ls_monitor *m);
void ls_monitor_set_running(ls_monitor *m, int running);

/* Called by the engine after each batch of query i. */
typedef struct ls_batch_figures {
    int64_t input_rows, invalid_rows, output_rows, late_rows, state_rows, state_bytes, watermark_ms;
    double duration_s;
} ls_batch_figures;
void ls_monitor_record(ls_monitor *m, size_t i, const char *progress_json,
                       const ls_batch_figures *f);
/* Called by the engine after each plan (every trigger, batch or not, so a
 * partition taken away shows at once) when s is a member of a job's group:
 * its rebalances and its owned partitions' lag. Nothing for other sources. */
typedef struct ls_source ls_source;
void ls_monitor_record_member(ls_monitor *m, const ls_source *s);

/* Called by the engine after each batch of a member running aggregations:
 * the state partitions it owns, those it rebuilt so far (how many, the
 * changelog records read, how many started from its state cache, the
 * seconds it took), those it holds as a standby (--standbys), and the
 * purges of its repartition topics (ls_purge.h). */
typedef struct ls_state_figures ls_state_figures;
void ls_monitor_record_state(ls_monitor *m, const ls_state_figures *f);

/* Renderings, into out (caller-owned). */
void ls_monitor_queries_json(ls_monitor *m, ls_buf *out);
/* Returns 0, or -1 when there is no such query. */
int ls_monitor_progress_json(ls_monitor *m, const char *name, size_t last, ls_buf *out);
void ls_monitor_metrics(ls_monitor *m, ls_buf *out);

#endif
