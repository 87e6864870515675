/* ls_session.c - merging session windows (see ls_session.h).
 *
 * Owns, for the length of one ls_session_merge call, the index of the keys
 * it is merging (buckets: a key's bytes without the session, and its
 * sessions); nothing survives the call. The groups belong to the state. */
#include "ls_session.h"

#include <stdlib.h>
#include <string.h>

#include "ls_hmap.h"
#include "ls_util.h"
#include "ls_value.h"

/* window_end of a group merged into another session: every such group is
 * removed in one pass at the end (ls_state_evict drops what ends at or
 * before it, and no live session ends that early). */
#define MERGED_AWAY (INT64_MIN + 1)

typedef struct member {
    ls_group *g;
    int64_t start, end;
    size_t pre, post; /* the session value's bytes in g's key: [pre, post) */
} member;

typedef struct bucket {
    char *kws; /* the key without the session (owned) */
    size_t len;
    member *m; /* its sessions (owned array; the groups are the state's) */
    size_t n, cap;
} bucket;

static const char *bucket_key(const void *item, size_t *len)
{
    const bucket *b = item;
    *len = b->len;
    return b->kws;
}

/* g's key without the session value, into kws; the session into *m. */
static int split_key(ls_group *g, int nagg, int session_col, int ngroups, ls_buf *kws, member *m)
{
    const char *key = ls_group_key(g, nagg);
    size_t pos = 0;
    int found = 0;
    ls_buf_reset(kws);
    for (int i = 0; i < ngroups; i++) {
        size_t at = pos;
        ls_value v;
        if (ls_key_get(key, g->key_len, &pos, &v)) return -1;
        if (i == session_col) {
            if (v.type != LS_WINDOW) return -1;
            m->g = g;
            m->start = v.u.w.start;
            m->end = v.u.w.end;
            m->pre = at;
            m->post = pos;
            found = 1;
        } else {
            ls_buf_append(kws, key + at, pos - at);
        }
    }
    return found && pos == g->key_len ? 0 : -1;
}

static int cmp_member(const void *x, const void *y)
{
    const member *a = x, *b = y;
    if (a->start != b->start) return a->start < b->start ? -1 : 1;
    return a->end < b->end ? -1 : a->end > b->end;
}

typedef struct merge_ctx {
    ls_state *s;
    const ls_agg_spec *aggs;
    int64_t batch_id;
    ls_buf nk;          /* a merged session's key */
    size_t merged_away;
    size_t stored_merged;
    int64_t updated;    /* sessions of the keys merged, after merging */
} merge_ctx;

/* One run of n >= 2 sessions (sorted) that are one session [m[0].start, end):
 * folded into the group that already is that session, or a new one. */
static void merge_run(merge_ctx *c, member *m, size_t n, int64_t end)
{
    ls_state *s = c->s;
    ls_group *target = NULL;
    for (size_t i = 0; i < n && m[i].start == m[0].start; i++)
        if (m[i].end == end) target = m[i].g;
    if (!target) {
        const char *key = ls_group_key(m[0].g, ls_state_nagg(s));
        ls_value w;
        w.type = LS_WINDOW;
        w.u.w.start = m[0].start;
        w.u.w.end = end;
        ls_buf_reset(&c->nk);
        ls_buf_append(&c->nk, key, m[0].pre);
        ls_key_put(&c->nk, &w);
        ls_buf_append(&c->nk, key + m[0].post, m[0].g->key_len - m[0].post);
        int created;
        target = ls_state_upsert(s, c->nk.data, c->nk.len, ls_hash(c->nk.data, c->nk.len), end,
                                 &created);
        target->window_end = end;
    }
    target->updated_batch = c->batch_id;
    for (size_t i = 0; i < n; i++) {
        ls_group *g = m[i].g;
        if (g == target) continue;
        /* Spark rewrites a key's sessions by start: a stored one is removed unless the
         * merged session keeps its start */
        if (g->updated_batch != c->batch_id && m[i].start != m[0].start) c->stored_merged++;
        for (int a = 0; a < ls_state_nagg(s); a++) ls_acc_merge(&target->acc[a], &g->acc[a], c->aggs[a].fn);
        g->window_end = MERGED_AWAY;
        c->merged_away++;
    }
}

static void merge_bucket(merge_ctx *c, bucket *b)
{
    if (b->n < 2) {
        c->updated += (int64_t)b->n;
        return;
    }
    qsort(b->m, b->n, sizeof *b->m, cmp_member);
    size_t i = 0;
    while (i < b->n) {
        /* as MergingSessionsIterator: the next session joins when it starts at
         * or before the current end */
        int64_t end = b->m[i].end;
        size_t j = i + 1;
        while (j < b->n && b->m[j].start <= end) {
            if (b->m[j].end > end) end = b->m[j].end;
            j++;
        }
        if (j - i > 1) merge_run(c, b->m + i, j - i, end);
        c->updated++;
        i = j;
    }
}

int ls_session_merge(ls_state *s, int session_col, int ngroups, const ls_agg_spec *aggs,
                     int64_t batch_id, ls_session_result *r, ls_err *err)
{
    memset(r, 0, sizeof *r);
    ls_hmap buckets;
    ls_hmap_init(&buckets, bucket_key);
    ls_buf kws;
    ls_buf_init(&kws);
    merge_ctx c = { s, aggs, batch_id, { 0 }, 0, 0, 0 };
    ls_buf_init(&c.nk);
    int rc = 0;
    /* pass 0: the keys the batch touched; pass 1: their older sessions */
    for (int pass = 0; pass < 2 && rc == 0; pass++) {
        if (pass == 1 && buckets.count == 0) break;
        for (int p = 0; p < ls_state_nparts(s) && rc == 0; p++) {
            ls_group *g;
            LS_HMAP_FOREACH(ls_state_part(s, p), g) {
                if ((g->updated_batch == batch_id) != (pass == 0)) continue;
                member m;
                if (split_key(g, ls_state_nagg(s), session_col, ngroups, &kws, &m)) {
                    ls_seterr(err, "corrupt session key in the state");
                    rc = -1;
                    break;
                }
                const char *k = kws.data ? kws.data : "";
                uint64_t h = ls_hash(k, kws.len);
                bucket *b = ls_hmap_get(&buckets, k, kws.len, h);
                if (!b) {
                    if (pass == 1) continue;
                    b = ls_xcalloc(1, sizeof *b);
                    b->kws = ls_xmalloc(kws.len + 1);
                    memcpy(b->kws, k, kws.len);
                    b->len = kws.len;
                    ls_hmap_put(&buckets, b, h);
                }
                if (b->n == b->cap) {
                    b->cap = b->cap ? b->cap * 2 : 4;
                    b->m = ls_xrealloc(b->m, b->cap * sizeof *b->m);
                }
                b->m[b->n++] = m;
            }
        }
    }
    bucket *b;
    LS_HMAP_FOREACH(&buckets, b) {
        if (rc == 0) merge_bucket(&c, b);
        free(b->kws);
        free(b->m);
        free(b);
    }
    ls_hmap_free(&buckets);
    ls_buf_free(&kws);
    ls_buf_free(&c.nk);
    if (c.merged_away) ls_state_evict(s, MERGED_AWAY);
    r->merged_away = c.merged_away;
    r->stored_merged = c.stored_merged;
    r->sessions_updated = c.updated;
    return rc;
}
