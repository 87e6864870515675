/* ls_query.h - one streaming query: the operators a record goes through
 * and the state they keep.
 *
 *   record table ─▶ map (Lua) ─▶ joins (static tables) ─▶ event time,
 *   watermark check ─▶ group key(s) incl. windows ─▶ aggregates in the
 *   partitioned state ─▶ at batch end: rows per output mode ─▶ sink
 *
 * A query is compiled from the script's declaration by ls_lua_api.c and
 * driven by the engine, which owns sources, tables and sinks' lifetimes. */
#ifndef LS_QUERY_H
#define LS_QUERY_H

#include <lua.h>
#include <stdint.h>

#include "ls_agg.h"
#include "ls_json_scan.h"
#include "ls_outbuf.h"
#include "ls_record.h"
#include "ls_schema.h"
#include "ls_state.h"
#include "ls_where.h"
#include "ls_window.h"

/* Borrowed or owned through pointers only: their modules are not needed here. */
struct ls_source;
struct ls_sink;
struct ls_table;

/* Where a column's value comes from: the (mapped) record, or a join. */
/* Kafka metadata as columns, named as Spark's Kafka source names them with
 * an @ that no JSON field of a record can clash with. */
typedef enum {
    LS_META_NONE = 0,
    LS_META_TOPIC,          /* @topic */
    LS_META_PARTITION,      /* @partition */
    LS_META_OFFSET,         /* @offset */
    LS_META_TIMESTAMP,      /* @timestamp: a timestamp (processing on Kafka time) */
    LS_META_TIMESTAMP_TYPE, /* @timestampType: 0 CreateTime, 1 LogAppendTime */
    LS_META_KEY,            /* @key: the message key as text, or null */
} ls_meta_col;

/* The metadata column named name ("@topic", ...), or LS_META_NONE. */
ls_meta_col ls_meta_col_parse(const char *name);

typedef struct ls_colref {
    char *name;
    int join;  /* -1 = the record; otherwise the join providing it */
    int tcol;  /* column of that join's table */
    int slot;  /* record column of a projected query: index in the view */
    ls_meta_col meta; /* a Kafka metadata column instead (join = -1, no slot) */
} ls_colref;

typedef struct ls_join {
    struct ls_table *table;  /* borrowed from the engine */
    ls_colref left;   /* the stream-side key column */
    int inner;        /* 1 inner, 0 left outer */
    size_t ncols;     /* table columns added to the row */
    int *tcols;
} ls_join;

typedef struct ls_where_pred {
    ls_colref col;
    ls_where_operand w;
} ls_where_pred;

/* A per-record query's Kafka routing (ls.kafka_sink's key, topic, headers). */
typedef struct ls_route {
    int has_key_col;
    ls_colref key_col;       /* the message key: this column of the row */
    int topic_fn;            /* the topic: fn(row) in the query's Lua state, or LUA_NOREF */
    size_t nheaders;         /* static headers */
    char **hnames, **hvals;
} ls_route;

typedef struct ls_groupcol {
    char *name;           /* output name ("window", "session_window") */
    int is_window;        /* a window of either kind (ls.window, ls.session_window) */
    int is_session;       /* a session window: win.size = win.slide = its gap (ls_session.h) */
    ls_window_spec win;
    ls_colref col;        /* the grouped column, or the window's time column */
} ls_groupcol;

typedef enum { LS_MODE_COMPLETE, LS_MODE_UPDATE, LS_MODE_APPEND } ls_mode;

/* order_by: a column of the output row (groups, then aggregates), ascending
 * with nulls first or descending with nulls last, as Spark's defaults. */
typedef struct ls_order_key {
    int col;
    int desc;
} ls_order_key;

const char *ls_mode_name(ls_mode m);
int ls_mode_parse(const char *s, ls_mode *m);

/* Counters of the batch in progress (reset by ls_query_begin_batch). */
typedef struct ls_query_stats {
    int64_t input_rows;     /* records offered to the query */
    int64_t invalid_rows;   /* dead-lettered */
    int64_t filtered_rows;  /* map returned nil, or an inner join missed */
    int64_t late_rows;      /* (window, key) rows dropped by the watermark at the
                               stateful operator: Spark's numRowsDroppedByWatermark */
    int64_t late_input_rows; /* records every one of whose windows was late */
    int64_t unusable_values; /* values an aggregate could not use, taken as null */
    int64_t keyed_rows;     /* records that got as far as reading their group columns */
    uint64_t seen_cols;     /* group/aggregate columns (bit i: group i, then aggregates)
                               that some record of the batch had */
    int64_t rows_updated;   /* groups changed in this batch */
    int64_t output_rows;    /* rows written to the sink */
    int64_t evicted_rows;   /* groups evicted by the watermark */
    int64_t et_min, et_max, et_count;
    double et_sum;
    double process_ms;      /* map + operators */
    double emit_ms;         /* building rows + sink */
    double evict_ms;        /* removing what the watermark passed */
    int has_latency;        /* latency_*: from a record's Kafka timestamp to the end */
    int64_t latency_p50;    /* of the sink write of its batch, ms */
    int64_t latency_p99;
    int64_t latency_max;
} ls_query_stats;

/* What a script declares about a query: plain data that the compiler sets
 * (through ls_query_decl_of) before ls_query_ready, and that explain,
 * progress reports, the monitor and the checkpoint read. The query owns
 * what it points to, except source and the join tables (the plan's). */
typedef struct ls_query_decl {
    char *name;
    int map_ref;             /* LUA_NOREF when there is no map */
    int map_meta;            /* the map takes a second argument: the Kafka metadata */
    int per_record;          /* no group_by, no aggregate: rows out one by one (append) */
    size_t nwhere;
    ls_where_pred *where;    /* predicates on the input record, before the map */
    ls_route route;
    struct ls_source *source;      /* borrowed */
    size_t njoins;
    ls_join *joins;
    int has_event_time;
    ls_colref event_time;
    int event_time_ms_unit;  /* numeric event times are epoch ms (unit = "ms"), not seconds */
    int has_watermark;
    int64_t watermark_ms;    /* the watermark delay (has_watermark) */
    int et_group;            /* group column that is the event-time column itself, or -1 */
    int late_filter;         /* late (window, key) rows are dropped (update/append modes
                                with the event time in the grouping; session windows in
                                every mode, as Spark's SessionWindowStateStoreRestoreExec) */
    int evicts;              /* the watermark evicts state (update/append with a late filter) */
    size_t ngroups;
    ls_groupcol *groups;
    int window_idx;          /* index of the window group column (either kind), or -1 */
    int session;             /* that window is a session window */
    size_t naggs;
    ls_agg_spec *aggs;
    ls_colref *agg_cols;     /* per aggregate; name NULL for count(*) */
    ls_mode mode;
    size_t norder;           /* complete mode: rows sorted by these keys ... */
    ls_order_key *order;
    int64_t limit;           /* ... and only the first `limit` emitted (0 = all) */
    int64_t trigger_ms;      /* this query's trigger interval (0 = as fast as possible) */
    int64_t max_state_rows;  /* cap on groups in state, 0 = none (a clear error past it) */
    struct ls_sink *sink;         /* owned */
} ls_query_decl;

/* Opaque: the declaration, then the state, the batch's counters and the
 * scratch of the record being processed. */
typedef struct ls_query ls_query;

/* q's declaration (NULL for no query). */
ls_query_decl *ls_query_decl_of(ls_query *q);
const ls_query_decl *ls_query_declared(const ls_query *q);

/* Allocates an empty query; the compiler fills the declaration fields and
 * then calls ls_query_ready. */
ls_query *ls_query_new(const char *name, lua_State *L);
/* Validates the declaration and allocates state. -1 + err when invalid. */
int ls_query_ready(ls_query *q, int partitions, ls_err *err);
void ls_query_free(ls_query *q);

/* A copy of src's declaration with its own (empty) state, scratch and
 * counters, for a worker thread: map_ref and topic_fn are the map and the
 * sink's topic function in the worker's Lua state L (or LUA_NOREF). Its
 * sink is NULL: workers never emit. */
ls_query *ls_query_clone(const ls_query *src, lua_State *L, int map_ref, int topic_fn, ls_err *err);
/* Adds a clone's batch counters and observed event times into q. */
void ls_query_add_partial(ls_query *q, const ls_query *part);

void ls_query_begin_batch(ls_query *q, int64_t batch_id);

/* The query reads records as Lua tables (a map, or a sink's topic
 * function), not a projection. */
int ls_query_needs_table(const ls_query *q);

/* Plans the projection of a query without map: registers every record
 * column it reads in fields (the source's projection) and switches it to
 * read them from a ls_recview instead of a Lua table. */
void ls_query_project(ls_query *q, ls_fieldset *fields);

/* What the query's state is made of, one line per part (grouping,
 * aggregates, output mode, event time, watermark, per record or not): two
 * declarations with the same text can share a state (hot reload). */
void ls_query_shape(const ls_query *q, ls_buf *out);

/* With a source schema, a query without a map may name only declared
 * columns: -1 + err naming the first other one (and the nearest declared
 * name). */
int ls_query_check_schema(const ls_query *q, const ls_schema *schema, ls_err *err);

/* Runs one decoded record through the query: the Lua table at stack index
 * rec (queries with a map, or not projected) or the projected view. A
 * record (or a row of a map's list) it cannot process goes to reject, with
 * the reason, and is counted; returns -1 only when reject's output (or, for
 * a per-record query, the sink) failed. */
int ls_query_process(ls_query *q, int rec, const ls_recview *view, const ls_origin *o,
                     const char *payload, size_t n, const ls_reject *reject, ls_err *err);

/* Per-record queries: opens the sink for the batch's rows (written as they
 * come) before any record. -1 + err when the sink failed. */
int ls_query_open_rows(ls_query *q, ls_err *err);

/* Ends the batch: emits rows per output mode, evicts what the batch's
 * watermark passed, then folds the batch's event times into the watermark
 * for the next batch. -1 + err when the sink failed. */
int ls_query_end_batch(ls_query *q, ls_err *err);

/* True when the query would evict (or, in append mode, emit) if it ran a
 * batch now, without new data: Spark then runs a no-data batch. */
int ls_query_wants_batch(const ls_query *q);

/* The compiler: a watermark delay_ms behind the latest event time. */
void ls_query_set_watermark(ls_query *q, int64_t delay_ms);

/* Records come from the projection view (ls_query_project), not a Lua table. */
int ls_query_uses_view(const ls_query *q);

/* ---- the running query, for the engine, the workers, the checkpoint and
 * the reports: read-only views and the few changes they make ---- */
const char *ls_query_id(const ls_query *q);      /* Spark's id (stable over restarts) */
const char *ls_query_run_id(const ls_query *q);  /* and runId (this run) */
int64_t ls_query_batch_id(const ls_query *q);
const ls_query_stats *ls_query_batch_stats(const ls_query *q);
const ls_watermark *ls_query_watermark(const ls_query *q);
/* From the previous batch's start to this one's, ms (-1: the first). */
double ls_query_since_prev_ms(const ls_query *q);
/* This batch's warnings, each NUL-terminated. */
const ls_buf *ls_query_warnings(const ls_query *q);
/* Output column i: the group columns, then the aggregates. */
const char *ls_query_out_name(const ls_query *q, size_t i);
/* The aggregation state: the checkpoint saves and loads it. */
ls_state *ls_query_state(ls_query *q);
const ls_state *ls_query_state_c(const ls_query *q);
/* A checkpoint's watermark: the batch's and the next one's. */
void ls_query_restore_watermark(ls_query *q, int64_t batch, int64_t global);
/* The engine starts batch batch_id of the query at start_ms (monotonic). */
void ls_query_start(ls_query *q, int64_t batch_id, double start_ms);
/* Latency of the batch's records to the sink write, ms (has = 0: none). */
void ls_query_set_latency(ls_query *q, int has, int64_t p50, int64_t p99, int64_t max);
/* A record of the query's source that could not be decoded (dead-lettered). */
void ls_query_count_invalid(ls_query *q);
/* Values the decoder could not use (a projection's or a table's count). */
void ls_query_count_unusable(ls_query *q, int64_t view_nulls, int64_t table_nulls);
/* Hot reload: new query q takes over old's state, watermark, ids and
 * counters, reading source (old keeps q's empty state, to be freed). */
void ls_query_take_over(ls_query *q, ls_query *old, struct ls_source *source);

/* Workers: part is a worker's clone of q (ls_query_clone). */
void ls_query_begin_partial(ls_query *part, const ls_query *q, int64_t batch_id);
/* Folds partition p of part's state (and of its late rows) into q's; only
 * partition p of q is touched, so partitions merge in parallel. */
void ls_query_merge_part(ls_query *q, const ls_query *part, int p, int64_t batch_id,
                         ls_merge_result *r, ls_merge_result *late);
/* After every partition merged (one thread): the totals and part's counters. */
void ls_query_fold_partial(ls_query *q, const ls_query *part, const ls_merge_result *r,
                           size_t late_added);
/* A per-record clone's rows, held until the batch ends. */
ls_outbuf *ls_query_held_rows(ls_query *part);
/* Empties a clone's state for the next batch. */
void ls_query_clear_partial(ls_query *part);

#endif
