/* ls_session.h - Spark's session_window(column, gap) over the aggregation state.
 *
 * Owns the one step that session windows add to an aggregation: merging
 * sessions. It owns no long-lived memory; the sessions themselves are
 * ordinary groups of the query's ls_state (so snapshots, eviction, append
 * emission, max_state_rows, memory and the workers' partial states work for
 * them unchanged):
 *
 *   key     the group columns, the session_window column holding the
 *           session as a window value {start, end};
 *   window_end  the session's end (eviction and lateness compare it).
 *
 * A record at event time t is folded as the session [t, t + gap) of its key
 * (Spark's SessionWindowing rule and partial aggregation: one row per key and
 * event time). At the end of a batch, after the workers' partial states were
 * merged, ls_session_merge merges the sessions of every key the batch touched
 * as Spark's MergingSessionsIterator does over input sorted by start: a
 * session whose start is at or before the end of the one before it (sorted
 * by start) joins it, the end being the largest end, the aggregates merged
 * (ls_acc_merge). So a record within the gap of a session extends it, and a
 * record bridging two sessions makes them one, within a batch or across
 * batches. The result does not depend on the order records came in. */
#ifndef LS_SESSION_H
#define LS_SESSION_H

#include <stdint.h>

#include "ls_agg.h"
#include "ls_state.h"

typedef struct ls_session_result {
    size_t merged_away;   /* groups removed because they became part of another session */
    size_t stored_merged; /* sessions stored before the batch that a merged session with
                             another start replaced (Spark's numRowsRemoved) */
    int64_t sessions_updated; /* sessions of the keys the batch touched, after merging
                                 (Spark's numRowsUpdated: it rewrites a key's sessions) */
} ls_session_result;

/* Merges overlapping or touching sessions of every key (the group columns
 * other than the session, at index session_col of ngroups in the key) that
 * has a group updated in batch_id. The merged sessions are marked updated in
 * batch_id. -1 + err for a key that does not decode (corrupt state). */
int ls_session_merge(ls_state *s, int session_col, int ngroups, const ls_agg_spec *aggs,
                     int64_t batch_id, ls_session_result *r, ls_err *err);

#endif
