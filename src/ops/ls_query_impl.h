/* ls_query_impl.h - the fields of a running query, for ls_query.c and
 * white-box unit tests only; everything else uses ls_query.h (the plain
 * declaration, and functions for the running part). */
#ifndef LS_QUERY_IMPL_H
#define LS_QUERY_IMPL_H

#include "ls_query.h"

struct ls_query {
    ls_query_decl d;         /* what the script declared */
    char id[37], run_id[37];
    lua_State *L;            /* borrowed */
    int use_view;            /* record columns come from the projection view
                                (set by ls_query_project), not a Lua table */
    ls_watermark wm;
    ls_state *state;         /* owned */
    ls_state *late;          /* owned: the (window, key) rows dropped as late this batch */
    ls_state *stage_in;      /* owned, a member of a job only (ls_query_stage.h): stage 1
                                folds the batch's records here, not into state */
    int64_t stage_updated;   /* stage 2: groups of state updated this batch */
    int64_t *part_max;       /* with a watermark: the batch's greatest event time per source
                                partition (index = partition number), LS_NO_TIME none */
    int npart_max;
    int64_t batch_id;
    double prev_start_ms;    /* monotonic start of this query's previous batch, or -1 */
    double since_prev_ms;    /* from that start to this batch's (inputRowsPerSecond) */
    ls_query_stats stats;
    const ls_origin *origin; /* the record being processed */
    uint64_t warned_cols;    /* columns already reported missing from every record */
    ls_buf warnings;         /* this batch's warnings, each NUL-terminated */
    ls_outbuf out;           /* a worker's clone of a per-record query: rows held back */
    ls_buf outrow;           /* per-record scratch: the row's JSON, its key */
    ls_buf outkey;
    struct ls_joinrow *joinrow; /* per-record rows' joined columns: their writer (first use) */
    /* scratch, reused per record */
    ls_buf key, scratch;
    ls_value *gvals, *avals;
    long *join_rows;
    const char **out_names;  /* group names then aggregate names */
    ls_value *out_vals;
};

#endif
