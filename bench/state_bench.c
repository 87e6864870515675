/* bench/state_bench.c - micro-benchmark of the aggregation state (ls_state) on one core: ns per
 * update of a count(*) query grouped by (window, string), as scripts/pipeline.lua's
 * crime_type_counts folds each record, at a given number of groups. Built and run by
 * bench/state.sh (against this tree's library and, with --ref, a former one's); see
 * bench/README.md, "State micro-benchmark".
 *
 *   state_bench [--groups 10000,1000000,10000000] [--updates N] [--parts P] [--rounds K]
 *               [--label NAME]
 *
 * For each size G the state starts empty and takes, in phases, each timed by the thread's
 * CPU clock (and the wall clock, for reference):
 *   insert   every one of the G groups once, in a shuffled order (each update creates a group)
 *   update   N updates (default max(G, 4M)) of groups drawn uniformly at random (every one
 *            finds its group: the steady state of a large state)
 *   update2  the same N updates two at a time, as fold() does a record's two windows: both
 *            keys built and hashed, both index slots prefetched (ls_state_prefetch), then both
 *            upserted (only in trees that have ls_state_prefetch; state.sh says so with
 *            -DHAVE_PREFETCH)
 *   walk     every group read once in the index's order (LS_HMAP_FOREACH), its key decoded and
 *            its count read (what complete mode's emission did before formatting a row)
 *   walkmem  the same in memory order (ls_state_iter, what emission does now; only in trees
 *            that have it: -DHAVE_ITER)
 *   merge    ls_state_merge_part of every partition of the state into an empty one (a worker's
 *            partial state merged at the end of a batch: every group new), per group
 *   remerge  the same again (every group found)
 *   save     ls_state_save to a temporary file (the checkpoint's snapshot), per group
 *   load     ls_state_load of it into a new state, per group
 *   free     ls_state_free
 * An update is what fold() in src/ops/ls_query.c does per (window, key): the key built with
 * ls_key_put (a window, then the type name), hashed with ls_hash, ls_state_upsert, the count
 * folded with ls_acc_fold. Keys: group i is window i / 1000 (5-minute steps) and the i % 1000-th
 * of 1000 names of 10 to 30 bytes. The counts are checked at the end of every round (the sum
 * must be G + N, each group's count at least 1).
 *
 * Only the public ls_state API is used, so the same source builds against any tree since the
 * state became opaque (issue 11). Output: one line per (size, phase), best round. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ls_agg.h"
#include "ls_state.h"
#include "ls_value.h"

#define NNAMES 1000
#define WIN_STEP 300000  /* 5 minutes, as pipeline.lua's slide */
#define WIN_SIZE 600000  /* 10 minutes */
#define T0 1543622400000 /* 2018-12-01 */

static char names[NNAMES][32];
static size_t name_len[NNAMES];

static double now(clockid_t c)
{
    struct timespec ts;
    clock_gettime(c, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t rng = 88172645463325252ULL;
static inline uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void make_names(void)
{
    static const char *const words[] = { "Traffic", "Stop", "Poss", "Unreported", "Suspicious",
                                         "Person", "Vehicle", "Alarm", "Burglary", "Complaint",
                                         "Noise", "Welfare", "Check", "Auto", "Boost", "Cite" };
    uint64_t r = 12345;
    for (int i = 0; i < NNAMES; i++) {
        size_t n = 0;
        size_t want = 10 + (size_t)(i % 21); /* 10..30 bytes */
        while (n < want) {
            r = r * 6364136223846793005ULL + 1442695040888963407ULL;
            const char *w = words[(r >> 33) % 16];
            size_t wl = strlen(w);
            if (n) names[i][n++] = ' ';
            for (size_t k = 0; k < wl && n < want; k++) names[i][n++] = w[k];
        }
        n += (size_t)snprintf(names[i] + n, sizeof names[i] - n, "%d", i); /* distinct */
        name_len[i] = n;
    }
}

typedef struct ctx {
    ls_state *s;
    ls_buf key;
    ls_agg_spec count;
} ctx;

/* Group id's key appended to key; its window's end. */
static inline int64_t put_key(ls_buf *key, uint64_t id)
{
    ls_value w, name;
    w.type = LS_WINDOW;
    w.u.w.start = T0 + (int64_t)(id / NNAMES) * WIN_STEP;
    w.u.w.end = w.u.w.start + WIN_SIZE;
    name = ls_str(names[id % NNAMES], name_len[id % NNAMES]);
    ls_key_put(key, &w);
    ls_key_put(key, &name);
    return w.u.w.end;
}

static inline void fold_into(ctx *c, const char *key, size_t len, uint64_t h, int64_t wend)
{
    int created;
    ls_group *g = ls_state_upsert(c->s, key, len, h, wend, &created);
    ls_acc_fold(&g->acc[0], &c->count, NULL, 0, NULL);
    if (g->updated_batch != 0) g->updated_batch = 0;
}

/* One update of group id: fold()'s work for one (window, key). */
static inline void update(ctx *c, uint64_t id)
{
    ls_buf_reset(&c->key);
    int64_t wend = put_key(&c->key, id);
    fold_into(c, c->key.data, c->key.len, ls_hash(c->key.data, c->key.len), wend);
}

#ifdef HAVE_PREFETCH
/* Two updates as fold() does a record's two windows. */
static inline void update2(ctx *c, uint64_t a, uint64_t b)
{
    ls_buf_reset(&c->key);
    int64_t wa = put_key(&c->key, a);
    size_t la = c->key.len;
    int64_t wb = put_key(&c->key, b);
    uint64_t ha = ls_hash(c->key.data, la), hb = ls_hash(c->key.data + la, c->key.len - la);
    ls_state_prefetch(c->s, ha);
    ls_state_prefetch(c->s, hb);
    fold_into(c, c->key.data, la, ha, wa);
    fold_into(c, c->key.data + la, c->key.len - la, hb, wb);
}
#endif

enum { PH_INSERT, PH_UPDATE, PH_UPDATE2, PH_WALK, PH_WALKMEM, PH_MERGE, PH_REMERGE, PH_SAVE,
       PH_LOAD, PH_FREE, NPH };
static const char *const ph_names[NPH] = { "insert", "update", "update2", "walk", "walkmem", "merge",
                                           "remerge", "save", "load", "free" };

/* Decodes a group's key and reads its count, as emission does. */
static inline int visit(const ls_group *g, uint64_t *total, int64_t *wsum)
{
    const char *k = ls_group_key(g, 1);
    size_t pos = 0;
    ls_value v1, v2;
    if (ls_key_get(k, g->key_len, &pos, &v1) || ls_key_get(k, g->key_len, &pos, &v2)) return -1;
    *wsum += v1.u.w.start + (int64_t)v2.u.s.n;
    ls_value cnt = ls_acc_result(&g->acc[0], LS_AGG_COUNT);
    if (cnt.u.i < 1) return -1;
    *total += (uint64_t)cnt.u.i;
    return 0;
}

typedef struct result {
    double cpu, wall; /* best, seconds */
    double ops;
} result;

static void keep(result *r, double cpu, double wall, double ops)
{
    if (r->ops == 0 || cpu < r->cpu) {
        r->cpu = cpu;
        r->wall = wall;
    }
    r->ops = ops;
}

static size_t parse_list(const char *s, uint64_t *out, size_t max)
{
    size_t n = 0;
    while (*s && n < max) {
        char *end;
        out[n++] = strtoull(s, &end, 10);
        s = *end == ',' ? end + 1 : end;
        if (end == s && *s) break;
    }
    return n;
}

int main(int argc, char **argv)
{
    uint64_t sizes[16] = { 10000, 1000000, 10000000 };
    size_t nsizes = 3;
    uint64_t updates = 0;
    int parts = 16, rounds = 3;
    const char *label = "state";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--groups") && i + 1 < argc) nsizes = parse_list(argv[++i], sizes, 16);
        else if (!strcmp(argv[i], "--updates") && i + 1 < argc) updates = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--parts") && i + 1 < argc) parts = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--rounds") && i + 1 < argc) rounds = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--label") && i + 1 < argc) label = argv[++i];
        else {
            fprintf(stderr, "usage: state_bench [--groups N,...] [--updates N] [--parts P] "
                            "[--rounds K] [--label NAME]\n");
            return 2;
        }
    }
    make_names();
    for (size_t si = 0; si < nsizes; si++) {
        uint64_t G = sizes[si];
        uint64_t U = updates ? updates : (G > 4000000 ? G : 4000000);
        result res[NPH];
        memset(res, 0, sizeof res);
        size_t mem = 0;
        for (int r = 0; r < rounds; r++) {
            ctx c;
            c.s = ls_state_new(parts, 1);
            ls_buf_init(&c.key);
            memset(&c.count, 0, sizeof c.count);
            c.count.fn = LS_AGG_COUNT;
            /* a permutation of 0..G-1: i -> (a i + b) mod G with gcd(a, G) = 1 */
            uint64_t a = 2654435761ULL % G, b = G / 3;
            while (a < 2) a++;
            for (;;) {
                uint64_t x = a, y = G;
                while (y) { uint64_t t = x % y; x = y; y = t; }
                if (x == 1) break;
                a++;
            }
            double c0 = now(CLOCK_THREAD_CPUTIME_ID), w0 = now(CLOCK_MONOTONIC);
            for (uint64_t i = 0; i < G; i++) update(&c, (a * i + b) % G);
            double c1 = now(CLOCK_THREAD_CPUTIME_ID), w1 = now(CLOCK_MONOTONIC);
            keep(&res[PH_INSERT], c1 - c0, w1 - w0, (double)G);
            if (ls_state_groups(c.s) != G) {
                fprintf(stderr, "state_bench: %zu groups, expected %llu\n", ls_state_groups(c.s),
                        (unsigned long long)G);
                return 1;
            }
            mem = ls_state_memory(c.s);
            rng = 88172645463325252ULL + (uint64_t)r;
            c0 = now(CLOCK_THREAD_CPUTIME_ID), w0 = now(CLOCK_MONOTONIC);
            for (uint64_t i = 0; i < U; i++) update(&c, next() % G);
            c1 = now(CLOCK_THREAD_CPUTIME_ID), w1 = now(CLOCK_MONOTONIC);
            keep(&res[PH_UPDATE], c1 - c0, w1 - w0, (double)U);
#ifdef HAVE_PREFETCH
            rng = 88172645463325252ULL + (uint64_t)r;
            c0 = now(CLOCK_THREAD_CPUTIME_ID), w0 = now(CLOCK_MONOTONIC);
            for (uint64_t i = 0; i + 1 < U; i += 2) {
                uint64_t x = next() % G;
                update2(&c, x, next() % G);
            }
            if (U & 1) update(&c, next() % G);
            c1 = now(CLOCK_THREAD_CPUTIME_ID), w1 = now(CLOCK_MONOTONIC);
            keep(&res[PH_UPDATE2], c1 - c0, w1 - w0, (double)U);
            uint64_t U2 = U; /* both passes made the same updates: the counts add up */
#else
            uint64_t U2 = 0;
#endif
            /* walk: decode each key, read each count (and check the total) */
            uint64_t total = 0, seen = 0;
            int64_t wsum = 0;
            c0 = now(CLOCK_THREAD_CPUTIME_ID), w0 = now(CLOCK_MONOTONIC);
            for (int p = 0; p < ls_state_nparts(c.s); p++) {
                ls_group *g;
                LS_HMAP_FOREACH(ls_state_part(c.s, p), g) {
                    if (visit(g, &total, &wsum)) return 1;
                    seen++;
                }
            }
            c1 = now(CLOCK_THREAD_CPUTIME_ID), w1 = now(CLOCK_MONOTONIC);
            keep(&res[PH_WALK], c1 - c0, w1 - w0, (double)G);
            if (seen != G || total != G + U + U2 || wsum == 0) {
                fprintf(stderr, "state_bench: walk saw %llu groups, total %llu (expected %llu, %llu)\n",
                        (unsigned long long)seen, (unsigned long long)total, (unsigned long long)G,
                        (unsigned long long)(G + U + U2));
                return 1;
            }
#ifdef HAVE_ITER
            uint64_t total2 = 0, seen2 = 0;
            c0 = now(CLOCK_THREAD_CPUTIME_ID), w0 = now(CLOCK_MONOTONIC);
            for (int p = 0; p < ls_state_nparts(c.s); p++) {
                ls_state_iter it;
                ls_state_iter_init(&it, c.s, p);
                for (const ls_group *g; (g = ls_state_iter_next(&it)) != NULL; seen2++)
                    if (visit(g, &total2, &wsum)) return 1;
            }
            c1 = now(CLOCK_THREAD_CPUTIME_ID), w1 = now(CLOCK_MONOTONIC);
            keep(&res[PH_WALKMEM], c1 - c0, w1 - w0, (double)G);
            if (seen2 != seen || total2 != total) {
                fprintf(stderr, "state_bench: the memory-order walk saw %llu groups, %llu in all\n",
                        (unsigned long long)seen2, (unsigned long long)total2);
                return 1;
            }
#endif
            ls_state *m = ls_state_new(parts, 1);
            for (int pass = 0; pass < 2; pass++) {
                ls_merge_result mr = { 0, 0, 0 };
                c0 = now(CLOCK_THREAD_CPUTIME_ID), w0 = now(CLOCK_MONOTONIC);
                for (int p = 0; p < parts; p++) ls_state_merge_part(m, c.s, p, &c.count, 1 + pass, &mr);
                ls_state_add_merged(m, &mr);
                c1 = now(CLOCK_THREAD_CPUTIME_ID), w1 = now(CLOCK_MONOTONIC);
                keep(&res[pass ? PH_REMERGE : PH_MERGE], c1 - c0, w1 - w0, (double)G);
                if (ls_state_groups(m) != G || (uint64_t)mr.rows_updated != G) return 1;
            }
            ls_state_free(m);
            FILE *f = tmpfile();
            if (!f) return 1;
            c0 = now(CLOCK_THREAD_CPUTIME_ID), w0 = now(CLOCK_MONOTONIC);
            if (ls_state_save(c.s, f) || fflush(f)) return 1;
            c1 = now(CLOCK_THREAD_CPUTIME_ID), w1 = now(CLOCK_MONOTONIC);
            keep(&res[PH_SAVE], c1 - c0, w1 - w0, (double)G);
            rewind(f);
            ls_state *t = ls_state_new(parts, 1);
            ls_err err;
            c0 = now(CLOCK_THREAD_CPUTIME_ID), w0 = now(CLOCK_MONOTONIC);
            if (ls_state_load(t, f, "tmp", &err)) {
                fprintf(stderr, "state_bench: %s\n", err.msg);
                return 1;
            }
            c1 = now(CLOCK_THREAD_CPUTIME_ID), w1 = now(CLOCK_MONOTONIC);
            keep(&res[PH_LOAD], c1 - c0, w1 - w0, (double)G);
            fclose(f);
            if (ls_state_groups(t) != G) return 1;
            ls_state_free(t);
            c0 = now(CLOCK_THREAD_CPUTIME_ID), w0 = now(CLOCK_MONOTONIC);
            ls_state_free(c.s);
            c1 = now(CLOCK_THREAD_CPUTIME_ID), w1 = now(CLOCK_MONOTONIC);
            keep(&res[PH_FREE], c1 - c0, w1 - w0, (double)G);
            ls_buf_free(&c.key);
        }
        for (int ph = 0; ph < NPH; ph++)
            if (res[ph].ops) printf("%s groups=%llu phase=%s ns_per_op=%.1f wall_ns_per_op=%.1f ops=%.0f "
                   "state_bytes_per_group=%.1f\n",
                   label, (unsigned long long)G, ph_names[ph], res[ph].cpu * 1e9 / res[ph].ops,
                   res[ph].wall * 1e9 / res[ph].ops, res[ph].ops, (double)mem / (double)G);
        fflush(stdout);
    }
    return 0;
}
