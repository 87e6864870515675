/* ls_query_stage.c - the two stages of an aggregating query run by a job's
 * members (see ls_query_stage.h). */
#include "ls_query_stage.h"

#include <stdlib.h>

#include "ls_acc_codec.h"
#include "ls_query_impl.h"

void ls_query_stage_enable(ls_query *q)
{
    if (!q->stage_in) q->stage_in = ls_state_new(ls_state_nparts(q->state), (int)q->d.naggs);
    if (ls_state_owns_blobs(q->state)) ls_state_set_owns_blobs(q->stage_in);
}

int ls_query_staged(const ls_query *q)
{
    return q->stage_in != NULL;
}

int ls_query_stage_send(ls_query *q, ls_stage_out_fn out, void *ctx, ls_err *err)
{
    ls_state *s = q->stage_in;
    ls_state_seal(s, q->d.aggs, q->batch_id);
    ls_buf val;
    ls_buf_init(&val);
    int rc = 0;
    for (int p = 0; p < ls_state_nparts(s) && rc == 0; p++) {
        ls_group *g;
        LS_HMAP_FOREACH(ls_state_part(s, p), g) {
            ls_buf_reset(&val);
            ls_group_encode(g->window_end, g->acc, (int)q->d.naggs, &val);
            rc = out(ctx, p, ls_group_key(g, (int)q->d.naggs), g->key_len, val.data, val.len, err);
            if (rc) break;
        }
    }
    ls_buf_free(&val);
    ls_state_clear(s);
    return rc;
}

int ls_query_stage_part_max(const ls_query *q, const int64_t **max)
{
    *max = q->part_max;
    return q->npart_max;
}

/* Decodes a group's value into a fresh array of accumulators (the caller
 * frees the array; the blobs are taken by ls_state_put). */
static ls_acc *decode(const ls_query *q, int part, const void *val, size_t vlen, int64_t *wend,
                      ls_err *err)
{
    ls_acc *acc = ls_xcalloc(q->d.naggs + 1, sizeof *acc);
    for (size_t a = 0; a < q->d.naggs; a++) ls_acc_init(&acc[a]);
    if (ls_group_decode(val, vlen, (int)q->d.naggs, wend, acc)) {
        ls_seterr(err, "query %s: state partition %d: a group of %zu bytes does not parse "
                  "(written by another version of luastream, or not by luastream)",
                  q->d.name, part, vlen);
        free(acc);
        return NULL;
    }
    return acc;
}

int ls_query_stage_merge(ls_query *q, int part, const char *key, size_t klen, const void *val,
                         size_t vlen, int64_t late_at, ls_err *err)
{
    int64_t wend;
    ls_acc *acc = decode(q, part, val, vlen, &wend, err);
    if (!acc) return -1;
    uint64_t h = ls_hash(key, klen);
    int created;
    if (late_at != LS_NO_TIME && wend != LS_NO_TIME && wend <= late_at) {
        ls_state_upsert(q->late, key, klen, h, wend, &created); /* counted at the batch's end */
        for (size_t a = 0; a < q->d.naggs; a++) ls_acc_release(&acc[a]);
    } else {
        ls_group *g = ls_state_put(q->state, key, klen, h, wend, acc, q->d.aggs, &created);
        if (g->updated_batch != q->batch_id) {
            g->updated_batch = q->batch_id;
            q->stage_updated++;
        }
    }
    free(acc);
    return 0;
}

void ls_query_stage_event_max(ls_query *q)
{
    q->wm.max_event = LS_NO_TIME;
    q->stats.rows_updated = q->stage_updated;
    q->stage_updated = 0;
}

/* The groups the batch's end evicts: ls_state_evict's rule at q's watermark. */
static int evicted(const ls_query *q, const ls_group *g)
{
    return q->d.evicts && g->window_end != LS_NO_TIME && q->wm.batch != LS_NO_TIME &&
           g->window_end <= q->wm.batch;
}

int ls_query_stage_evictions(ls_query *q, ls_stage_out_fn out, void *ctx, ls_err *err)
{
    for (int p = 0; p < ls_state_nparts(q->state); p++) {
        ls_group *g;
        LS_HMAP_FOREACH(ls_state_part(q->state, p), g)
            if (evicted(q, g) &&
                out(ctx, p, ls_group_key(g, (int)q->d.naggs), g->key_len, NULL, 0, err))
                return -1;
    }
    return 0;
}

int ls_query_stage_updates(ls_query *q, ls_stage_out_fn out, void *ctx, ls_err *err)
{
    ls_buf val;
    ls_buf_init(&val);
    int rc = 0;
    for (int p = 0; p < ls_state_nparts(q->state) && rc == 0; p++) {
        ls_group *g;
        LS_HMAP_FOREACH(ls_state_part(q->state, p), g) {
            if (g->updated_batch != q->batch_id) continue;
            ls_buf_reset(&val);
            ls_group_encode(g->window_end, g->acc, (int)q->d.naggs, &val);
            rc = out(ctx, p, ls_group_key(g, (int)q->d.naggs), g->key_len, val.data, val.len, err);
            if (rc) break;
        }
    }
    ls_buf_free(&val);
    return rc;
}

int ls_query_stage_restore(ls_query *q, int part, const char *key, size_t klen, const void *val,
                           size_t vlen, ls_err *err)
{
    uint64_t h = ls_hash(key, klen);
    if (!val) { /* a tombstone: the group goes at the sweep (ls_query_stage_restored) */
        ls_group *g = ls_state_find(q->state, key, klen, h);
        if (g) g->updated_batch = LS_GROUP_DEAD;
        return 0;
    }
    int64_t wend;
    ls_acc *acc = decode(q, part, val, vlen, &wend, err);
    if (!acc) return -1;
    int created;
    ls_group *g = ls_state_put(q->state, key, klen, h, wend, acc, NULL, &created);
    g->updated_batch = -1; /* restored: not updated in any batch of this member */
    free(acc);
    return 0;
}

void ls_query_stage_restored(ls_query *q, int part)
{
    ls_state_sweep_part(q->state, part);
}

void ls_query_stage_drop(ls_query *q, int part)
{
    ls_state_clear_part(q->state, part);
}

int ls_query_stage_snapshot(ls_query *q, int part, ls_stage_out_fn out, void *ctx, ls_err *err)
{
    ls_buf val;
    ls_buf_init(&val);
    int rc = 0;
    ls_group *g;
    LS_HMAP_FOREACH(ls_state_part(q->state, part), g) {
        if (g->updated_batch == LS_GROUP_DEAD) continue;
        ls_buf_reset(&val);
        ls_group_encode(g->window_end, g->acc, (int)q->d.naggs, &val);
        rc = out(ctx, part, ls_group_key(g, (int)q->d.naggs), g->key_len, val.data, val.len, err);
        if (rc) break;
    }
    ls_buf_free(&val);
    return rc;
}

void ls_query_stage_discard(ls_query *q)
{
    ls_state_clear(q->stage_in);
    ls_state_clear(q->late);
    q->stage_updated = 0;
}
