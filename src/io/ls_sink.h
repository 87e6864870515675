/* ls_sink.h - where result rows go.
 *
 * A sink receives the rows a query emits for one batch, between
 * open_batch and close_batch: an aggregation's rows (write: columns and
 * values) or a per-record query's rows (write_out: JSON text and where it
 * goes).  Implementations: console (a table like Spark's console sink, or
 * a Lua-formatted line per row; per-record rows as JSON lines), JSON-lines
 * files and Kafka topics.  A row is a borrowed view: valid only during the
 * write call. */
#ifndef LS_SINK_H
#define LS_SINK_H

#include <stddef.h>
#include <stdint.h>

#include <yajl_gen.h>

#include "ls_util.h"
#include "ls_value.h"

typedef struct ls_row {
    size_t ncols;
    const char *const *names;
    const ls_value *vals;
    size_t nkey; /* the first nkey columns are the group key */
} ls_row;

/* Serializes row (or, with key_only, its key columns) as one JSON object. */
void ls_row_json(const ls_row *row, int key_only, ls_buf *out);
/* The same with a generator from ls_row_gen_new, reused across rows (sinks
 * write rows by the million: one allocation per row showed in profiles). */
yajl_gen ls_row_gen_new(void);
void ls_row_json_with(yajl_gen g, const ls_row *row, int key_only, ls_buf *out);

/* The row writer: the same JSON as ls_row_json, formatted straight into a
 * sink's buffer (see ls_row.c). A sink keeps one ls_rowfmt: the column
 * names rendered once, the last timestamps formatted. */
typedef struct ls_rowfmt {
    size_t ncols;
    const char **cached;  /* the names (pointers) the pieces were made for */
    size_t *off;          /* piece i of text: ",\"name\":" ("{" first) */
    ls_buf text;
    int use_yajl;         /* a name yajl would refuse: its generator writes the rows */
    yajl_gen gen;
    struct { int64_t ms; size_t len; char text[44]; } tcache[2]; /* last timestamps */
    int tnext;
    int day_ok;           /* date holds day's "YYYY-MM-DD" */
    int64_t day;
    char date[10];
} ls_rowfmt;
void ls_rowfmt_init(ls_rowfmt *f);
void ls_rowfmt_free(ls_rowfmt *f);
/* Appends row as one JSON object (the bytes of ls_row_json(row, 0, out)).
 * Returns where its key columns end, relative to where the row starts: that
 * prefix and a '}' are ls_row_json(row, 1, ...); SIZE_MAX when the key must
 * be rendered apart (use_yajl). */
size_t ls_row_write(ls_rowfmt *f, const ls_row *row, ls_buf *out);

/* A row of a per-record query, ready to write: its JSON text and, for a
 * Kafka sink, the message's key, topic and headers (borrowed views). */
typedef struct ls_out {
    const char *json;
    size_t len;
    const char *key;         /* NULL: no key */
    size_t key_len;
    const char *topic;       /* NULL: the sink's own topic */
    size_t nheaders;
    const char *const *hnames;
    const char *const *hvals; /* NULL value: a null header */
    const size_t *hlens;
} ls_out;

typedef struct ls_sink ls_sink;

typedef struct ls_sink_vt {
    int (*open_batch)(ls_sink *s, int64_t batch_id, ls_err *err);
    int (*write)(ls_sink *s, const ls_row *row, ls_err *err);
    int (*write_out)(ls_sink *s, const ls_out *o, ls_err *err);
    int (*close_batch)(ls_sink *s, ls_err *err);
    void (*destroy)(ls_sink *s);
} ls_sink_vt;

struct ls_sink {
    const ls_sink_vt *vt;
    char *description;       /* for progress reports, e.g. "FileSink[out/q.jsonl]" */
    int64_t rows_in_batch;   /* rows written since open_batch */
    const char *file;        /* file sinks: the path (checkpoints cut it back on restart) */
    int sync;                /* fsync at the end of each batch (set when checkpointing) */
    int part;                /* the state partition of the rows that follow (set by the
                                query before each partition's rows; ls_sink_parts.h) */
};

/* A row formatter for the console sink: appends one line for row to out.
 * Returns -1 and fills err when formatting failed. */
typedef int (*ls_format_fn)(void *ctx, const ls_row *row, ls_buf *out, ls_err *err);

typedef struct ls_console_opts {
    const char *query;      /* shown in the batch header */
    int num_rows;           /* rows shown per batch (Spark: 20), tables and formatted lines */
    int truncate;           /* cut cells to 20 columns (on character boundaries) */
    ls_format_fn format;    /* optional: one line per row instead of a table; a row it
                               fails on is skipped, counted and reported (not fatal) */
    void *format_ctx;
    void *errors;           /* FILE * for those reports (default stderr) */
} ls_console_opts;

ls_sink *ls_sink_console_new(const ls_console_opts *opts, void *out_file);
/* Appends to DIR/<query>.jsonl, creating DIR. NULL + err on failure. */
ls_sink *ls_sink_jsonl_new(const char *dir, const char *query, ls_err *err);

struct ls_kafka_producer;
/* Writes rows to topic; message key = the row's key columns as JSON. */
ls_sink *ls_sink_kafka_new(struct ls_kafka_producer *p, const char *topic, ls_err *err);
struct ls_props;
/* The same, exactly once: one transaction per batch on a producer of its
 * own with transactional.id txn_id (see ls_sink_kafka.c). */
ls_sink *ls_sink_kafka_new_txn(const char *bootstrap, const struct ls_props *props,
                               const char *topic, const char *txn_id, ls_err *err);

/* Keeps the query's final rows in memory (`luastream test`, see
 * ls_sink_memory.c); mode is the query's ls_mode; topic (or NULL) the
 * Kafka topic the declared sink writes per-record rows to. */
ls_sink *ls_sink_memory_new(const char *query, int mode, const char *topic);
int ls_sink_is_memory(const ls_sink *s);
size_t ls_sink_memory_count(const ls_sink *s);
/* Row i's JSON text (owned by the sink), or NULL. */
const char *ls_sink_memory_row(const ls_sink *s, size_t i);

static inline void ls_sink_destroy(ls_sink *s) { if (s) s->vt->destroy(s); }
/* Checkpointed runs: the sink syncs its output (fsync) at the end of each batch. */
static inline void ls_sink_sync_each_batch(ls_sink *s) { if (s) s->sync = 1; }


#endif
