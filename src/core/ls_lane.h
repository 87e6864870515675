/* ls_lane.h - one thread's way through the operators.
 *
 * A lane decodes a message once (the projection view and/or a Lua table,
 * as its source's plan says) and offers it to every query of that source.
 * The engine thread has one lane over the real queries; with --parallelism
 * N each worker thread has its own lane: its own Lua state, decode buffers
 * and query clones whose partial state is merged at the end of the batch. */
#ifndef LS_LANE_H
#define LS_LANE_H

#include <librdkafka/rdkafka.h>
#include <lua.h>

#include "ls_deadletter.h"
#include "ls_json_lua.h"
#include "ls_json_scan.h"
#include "ls_query.h"
#include "ls_record.h"
#include "ls_schema.h"
#include "ls_source.h"

/* How a source's messages are decoded: a projection view for the queries
 * without a map (C only), a Lua table for the others; either or both. */
typedef struct ls_decode_plan {
    ls_fieldset *fields;     /* union of the record columns projected queries read */
    int needs_view;
    int needs_lua;
    int needs_meta;          /* some map takes the Kafka metadata table */
    const ls_schema *schema; /* the source's, or NULL */
    int *types;              /* with a schema: the type of each field of `fields` */
} ls_decode_plan;

typedef struct ls_lane {
    lua_State *L;
    size_t nqueries;
    ls_query **queries;
    size_t nsources;
    ls_source **sources;          /* the engine's: identity and limits only */
    const ls_decode_plan *plans;  /* the engine's, one per source */
    ls_recview *views;            /* this lane's, one per source */
    ls_deadletter *dl;            /* shared; writes are locked */
    ls_buf scratch;               /* strings the view's schema casts made, per message */
    ls_buf lua_scratch;           /* the same for the Lua table (copied into Lua at once) */
    uint64_t seen;                /* messages decoded (sampled timing) */
    double decode_ms;             /* this batch */
} ls_lane;

void ls_lane_init(ls_lane *ln, lua_State *L, ls_query **queries, size_t nqueries,
                  ls_source **sources, const ls_decode_plan *plans, size_t nsources,
                  ls_deadletter *dl);
void ls_lane_free(ls_lane *ln); /* frees the views only */

/* Runs record r of source si, the seq-th record its batch read, through
 * the lane's queries. Returns -1 only when an output failed. */
int ls_lane_handle(ls_lane *ln, size_t si, uint64_t seq, const ls_record *r, ls_err *err);
/* A new batch: the lane's decode time starts again from zero. */
void ls_lane_begin_batch(ls_lane *ln);

#endif
