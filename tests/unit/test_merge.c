/* test_merge.c - partial aggregates of parallel workers: ls_acc_merge, and
 * ls_state_merge_part / ls_state_clear on whole states.  Merging partial
 * results must give what folding every value into one accumulator (one
 * state) gives. */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ls_agg.h"
#include "ls_state.h"
#include "ls_value.h"
#include "ls_window.h"
#include "suites.h"

/* ---- a fixed-seed PRNG (xorshift64*) ---------------------------------- */

static uint64_t rng_state;

static void rng_seed(uint64_t s) { rng_state = s ? s : 0x9E3779B97F4A7C15ULL; }

static uint64_t rng_next(void)
{
    uint64_t x = rng_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/* Uniform in [0, n). */
static uint64_t rng_below(uint64_t n) { return n ? rng_next() % n : 0; }

/* ---- accumulators ------------------------------------------------------ */

/* vals[i] NULL-typed pointer entries are passed as NULL when star (count(*)). */
static ls_acc fold(ls_agg_fn fn, const ls_value *vals, size_t n, int star)
{
    ls_acc a;
    ls_acc_init(&a);
    ls_err err;
    for (size_t i = 0; i < n; i++)
        ck_assert_int_eq(ls_acc_update(&a, fn, star ? NULL : &vals[i], &err), 0);
    return a;
}

/* Folds the pieces [cuts[k], cuts[k+1]) separately and merges them left to right. */
static ls_acc fold_pieces(ls_agg_fn fn, const ls_value *vals, const size_t *cuts, size_t npieces,
                          int star)
{
    ls_acc total;
    ls_acc_init(&total);
    for (size_t k = 0; k < npieces; k++) {
        ls_acc part = fold(fn, vals + cuts[k], cuts[k + 1] - cuts[k], star);
        ls_acc_merge(&total, &part, fn);
    }
    return total;
}

static void assert_same_value(ls_value got, ls_value want, const char *what)
{
    ck_assert_msg(got.type == want.type, "%s: type %d, want %d", what, got.type, want.type);
    if (got.type == LS_INT) ck_assert_msg(got.u.i == want.u.i, "%s: %lld, want %lld", what,
                                          (long long)got.u.i, (long long)want.u.i);
    if (got.type == LS_DOUBLE)
        ck_assert_msg(got.u.d == want.u.d || fabs(got.u.d - want.u.d) <= 1e-12 * fabs(want.u.d),
                      "%s: %.17g, want %.17g", what, got.u.d, want.u.d);
}

static void assert_merge_matches(ls_agg_fn fn, const ls_value *vals, size_t n, int star,
                                 const char *what)
{
    ls_acc whole = fold(fn, vals, n, star);
    ls_value want = ls_acc_result(&whole, fn);
    /* every single cut point, and all values one per piece */
    for (size_t c = 0; c <= n; c++) {
        size_t cuts[3] = { 0, c, n };
        ls_acc m = fold_pieces(fn, vals, cuts, 2, star);
        char label[128];
        snprintf(label, sizeof label, "%s, cut at %zu", what, c);
        assert_same_value(ls_acc_result(&m, fn), want, label);
        ck_assert_int_eq(m.n, whole.n);
    }
    size_t *cuts = calloc(n + 1, sizeof *cuts);
    for (size_t i = 0; i <= n; i++) cuts[i] = i;
    ls_acc m = fold_pieces(fn, vals, cuts, n, star);
    char label[128];
    snprintf(label, sizeof label, "%s, one value per piece", what);
    assert_same_value(ls_acc_result(&m, fn), want, label);
    ck_assert_int_eq(m.n, whole.n);
    free(cuts);
}

START_TEST(merge_count_star_and_column)
{
    ls_value vals[] = { ls_int(1), ls_null(), ls_str("x", 1), ls_null(), ls_double(2.5),
                        ls_null(), ls_int(0) };
    size_t n = sizeof vals / sizeof vals[0];
    assert_merge_matches(LS_AGG_COUNT, vals, n, 1, "count(*)");
    assert_merge_matches(LS_AGG_COUNT, vals, n, 0, "count(col)");
    ls_acc col = fold_pieces(LS_AGG_COUNT, vals, (size_t[]){ 0, 2, 4, 7 }, 3, 0);
    ck_assert_int_eq(ls_acc_result(&col, LS_AGG_COUNT).u.i, 4); /* nulls are not counted */
    ls_acc star = fold_pieces(LS_AGG_COUNT, vals, (size_t[]){ 0, 2, 4, 7 }, 3, 1);
    ck_assert_int_eq(ls_acc_result(&star, LS_AGG_COUNT).u.i, 7);
    /* pieces of nulls only */
    ls_value nulls[] = { ls_null(), ls_null(), ls_null() };
    assert_merge_matches(LS_AGG_COUNT, nulls, 3, 0, "count(col) of nulls");
    assert_merge_matches(LS_AGG_SUM, nulls, 3, 0, "sum of nulls");
    assert_merge_matches(LS_AGG_AVG, nulls, 3, 0, "avg of nulls");
}
END_TEST

START_TEST(merge_sum_ints_and_doubles)
{
    ls_value ints[] = { ls_int(1), ls_int(-7), ls_null(), ls_int(1000000000000LL), ls_int(42) };
    assert_merge_matches(LS_AGG_SUM, ints, 5, 0, "sum of ints");
    ls_acc m = fold_pieces(LS_AGG_SUM, ints, (size_t[]){ 0, 2, 5 }, 2, 0);
    ls_value r = ls_acc_result(&m, LS_AGG_SUM);
    ck_assert_int_eq(r.type, LS_INT); /* stays an integer */
    ck_assert_int_eq(r.u.i, 1000000000036LL);

    ls_value mixed[] = { ls_int(3), ls_double(0.5), ls_int(-1), ls_null(), ls_double(2.25),
                         ls_int(10) };
    assert_merge_matches(LS_AGG_SUM, mixed, 6, 0, "sum of ints and doubles");
    m = fold_pieces(LS_AGG_SUM, mixed, (size_t[]){ 0, 1, 3, 6 }, 3, 0); /* int, mixed, mixed */
    r = ls_acc_result(&m, LS_AGG_SUM);
    ck_assert_int_eq(r.type, LS_DOUBLE);
    ck_assert_double_eq(r.u.d, 14.75);
    /* an int piece merged with a double piece, both ways round */
    m = fold_pieces(LS_AGG_SUM, (ls_value[]){ ls_int(4), ls_double(0.5) }, (size_t[]){ 0, 1, 2 }, 2, 0);
    r = ls_acc_result(&m, LS_AGG_SUM);
    ck_assert_int_eq(r.type, LS_DOUBLE);
    ck_assert_double_eq(r.u.d, 4.5);
    m = fold_pieces(LS_AGG_SUM, (ls_value[]){ ls_double(0.5), ls_int(4) }, (size_t[]){ 0, 1, 2 }, 2, 0);
    r = ls_acc_result(&m, LS_AGG_SUM);
    ck_assert_int_eq(r.type, LS_DOUBLE);
    ck_assert_double_eq(r.u.d, 4.5);
}
END_TEST

START_TEST(merge_sum_overflow_to_double)
{
    /* each piece fits in int64, their total does not */
    ls_value vals[] = { ls_int(INT64_MAX - 10), ls_int(5), ls_int(20), ls_int(INT64_MAX / 2),
                        ls_int(1) };
    assert_merge_matches(LS_AGG_SUM, vals, 5, 0, "sum overflowing");
    ls_acc m = fold_pieces(LS_AGG_SUM, vals, (size_t[]){ 0, 1, 3, 5 }, 3, 0);
    ls_value r = ls_acc_result(&m, LS_AGG_SUM);
    ck_assert_int_eq(r.type, LS_DOUBLE);
    double want = (double)(INT64_MAX - 10) + 5.0 + 20.0 + (double)(INT64_MAX / 2) + 1.0;
    ck_assert(fabs(r.u.d - want) <= 1e-12 * want);
    ck_assert_int_eq(m.n, 5);
    /* and below zero */
    ls_value neg[] = { ls_int(INT64_MIN + 3), ls_int(-2), ls_int(INT64_MIN / 2), ls_int(-9) };
    assert_merge_matches(LS_AGG_SUM, neg, 4, 0, "sum underflowing");
    m = fold_pieces(LS_AGG_SUM, neg, (size_t[]){ 0, 2, 4 }, 2, 0);
    r = ls_acc_result(&m, LS_AGG_SUM);
    ck_assert_int_eq(r.type, LS_DOUBLE);
    ck_assert(r.u.d < 1.4 * (double)INT64_MIN);
    /* right at the edge: exactly INT64_MAX stays an integer */
    ls_value edge[] = { ls_int(INT64_MAX - 1), ls_int(1) };
    m = fold_pieces(LS_AGG_SUM, edge, (size_t[]){ 0, 1, 2 }, 2, 0);
    r = ls_acc_result(&m, LS_AGG_SUM);
    ck_assert_int_eq(r.type, LS_INT);
    ck_assert_int_eq(r.u.i, INT64_MAX);
}
END_TEST

START_TEST(merge_min_max_large_ints)
{
    /* beyond 2^53 neighbours differ as integers but not as doubles */
    const int64_t b = (int64_t)1 << 60;
    ls_value vals[] = { ls_int(b + 1), ls_int(b + 3), ls_null(), ls_int(b + 2), ls_int(b),
                        ls_int(b + 5), ls_int(b + 4) };
    size_t n = sizeof vals / sizeof vals[0];
    assert_merge_matches(LS_AGG_MIN, vals, n, 0, "min of large ints");
    assert_merge_matches(LS_AGG_MAX, vals, n, 0, "max of large ints");
    ls_acc m = fold_pieces(LS_AGG_MAX, vals, (size_t[]){ 0, 5, 7 }, 2, 0);
    ck_assert_int_eq(ls_acc_result(&m, LS_AGG_MAX).u.i, b + 5);
    m = fold_pieces(LS_AGG_MIN, vals, (size_t[]){ 0, 3, 7 }, 2, 0);
    ck_assert_int_eq(ls_acc_result(&m, LS_AGG_MIN).u.i, b);
    ck_assert_int_eq(ls_acc_result(&m, LS_AGG_MIN).type, LS_INT);
    /* the extremes of int64 */
    ls_value ext[] = { ls_int(0), ls_int(INT64_MAX), ls_int(INT64_MIN), ls_int(INT64_MAX - 1),
                       ls_int(INT64_MIN + 1) };
    assert_merge_matches(LS_AGG_MIN, ext, 5, 0, "min of int64 extremes");
    assert_merge_matches(LS_AGG_MAX, ext, 5, 0, "max of int64 extremes");
    /* doubles and ints together */
    ls_value mixed[] = { ls_int(3), ls_double(-1.5), ls_int(-1), ls_double(7.25), ls_int(7) };
    assert_merge_matches(LS_AGG_MIN, mixed, 5, 0, "min mixed");
    assert_merge_matches(LS_AGG_MAX, mixed, 5, 0, "max mixed");
    m = fold_pieces(LS_AGG_MIN, mixed, (size_t[]){ 0, 1, 5 }, 2, 0);
    ck_assert_int_eq(ls_acc_result(&m, LS_AGG_MIN).type, LS_DOUBLE);
    ck_assert_double_eq(ls_acc_result(&m, LS_AGG_MIN).u.d, -1.5);
}
END_TEST

START_TEST(merge_avg)
{
    ls_value vals[] = { ls_int(1), ls_int(2), ls_null(), ls_double(4.5), ls_int(10), ls_int(-3) };
    assert_merge_matches(LS_AGG_AVG, vals, 6, 0, "avg");
    ls_acc m = fold_pieces(LS_AGG_AVG, vals, (size_t[]){ 0, 2, 3, 6 }, 3, 0);
    ls_value r = ls_acc_result(&m, LS_AGG_AVG);
    ck_assert_int_eq(r.type, LS_DOUBLE);
    ck_assert_double_eq(r.u.d, 14.5 / 5.0);
    ck_assert_int_eq(m.n, 5);
    /* ints only: the mean is still a double, and exact */
    ls_value ints[] = { ls_int(1), ls_int(2) };
    m = fold_pieces(LS_AGG_AVG, ints, (size_t[]){ 0, 1, 2 }, 2, 0);
    r = ls_acc_result(&m, LS_AGG_AVG);
    ck_assert_int_eq(r.type, LS_DOUBLE);
    ck_assert_double_eq(r.u.d, 1.5);
    /* large ints, which an avg accumulator holds as a double sum */
    ls_value big[] = { ls_int(INT64_MAX), ls_int(INT64_MAX), ls_int(1) };
    assert_merge_matches(LS_AGG_AVG, big, 3, 0, "avg of large ints");
}
END_TEST

/* Merging an empty accumulator changes nothing; merging into an empty one
 * copies the other, for every function. */
START_TEST(merge_empty_is_noop)
{
    static const ls_agg_fn fns[] = { LS_AGG_COUNT, LS_AGG_SUM, LS_AGG_MIN, LS_AGG_MAX, LS_AGG_AVG };
    ls_value vals[] = { ls_int(5), ls_double(-2.5), ls_int(INT64_MAX), ls_null() };
    for (size_t f = 0; f < 5; f++)
        for (size_t k = 0; k < 4; k++) {
            ls_acc a = fold(fns[f], vals, k + 1, 0), empty, e2, copy;
            ls_acc_init(&empty);
            copy = a;
            ls_acc_merge(&a, &empty, fns[f]);
            ck_assert_int_eq(a.n, copy.n);
            ck_assert_int_eq(a.kind, copy.kind);
            ck_assert_int_eq(a.v.i, copy.v.i);
            assert_same_value(ls_acc_result(&a, fns[f]), ls_acc_result(&copy, fns[f]), "x + empty");
            ls_acc_init(&e2);
            ls_acc_merge(&e2, &copy, fns[f]);
            ck_assert_int_eq(e2.n, copy.n);
            ck_assert_int_eq(e2.kind, copy.kind);
            ck_assert_int_eq(e2.v.i, copy.v.i);
            assert_same_value(ls_acc_result(&e2, fns[f]), ls_acc_result(&copy, fns[f]), "empty + x");
            /* empty + empty stays empty: null (count 0) */
            ls_acc z1, z2;
            ls_acc_init(&z1);
            ls_acc_init(&z2);
            ls_acc_merge(&z1, &z2, fns[f]);
            ck_assert_int_eq(z1.n, 0);
            ls_value r = ls_acc_result(&z1, fns[f]);
            ck_assert_int_eq(r.type, fns[f] == LS_AGG_COUNT ? LS_INT : LS_NULL);
        }
}
END_TEST

/* A random list of nulls, small ints and half-integer doubles (every sum is
 * exact in a double whatever the order). */
static size_t random_values(ls_value *vals, size_t max)
{
    size_t n = (size_t)rng_below(max + 1);
    for (size_t i = 0; i < n; i++) {
        uint64_t kind = rng_below(100);
        if (kind < 15) vals[i] = ls_null();
        else if (kind < 65) vals[i] = ls_int((int64_t)rng_below(2001) - 1000);
        else vals[i] = ls_double(((double)rng_below(4001) - 2000.0) / 2.0);
    }
    return n;
}

/* Random cut points: npieces pieces, some possibly empty. */
static size_t random_cuts(size_t n, size_t *cuts, size_t maxpieces)
{
    size_t np = 1 + (size_t)rng_below(maxpieces);
    cuts[0] = 0;
    cuts[np] = n;
    for (size_t k = 1; k < np; k++) cuts[k] = (size_t)rng_below(n + 1);
    for (size_t i = 1; i < np; i++) /* sort the inner cuts */
        for (size_t j = i; j > 1 && cuts[j - 1] > cuts[j]; j--) {
            size_t t = cuts[j];
            cuts[j] = cuts[j - 1];
            cuts[j - 1] = t;
        }
    return np;
}

/* Pieces merged in a random tree: repeatedly merge a random piece into its
 * left neighbour (order kept, association random). */
static ls_acc fold_tree(ls_agg_fn fn, const ls_value *vals, const size_t *cuts, size_t np,
                        int star)
{
    ls_acc parts[16];
    for (size_t k = 0; k < np; k++) parts[k] = fold(fn, vals + cuts[k], cuts[k + 1] - cuts[k], star);
    while (np > 1) {
        size_t k = 1 + (size_t)rng_below(np - 1);
        ls_acc_merge(&parts[k - 1], &parts[k], fn);
        memmove(&parts[k], &parts[k + 1], (np - k - 1) * sizeof *parts);
        np--;
    }
    return parts[0];
}

START_TEST(merge_random_splits_property)
{
    static const ls_agg_fn fns[] = { LS_AGG_COUNT, LS_AGG_SUM, LS_AGG_MIN, LS_AGG_MAX, LS_AGG_AVG };
    rng_seed(20240611);
    ls_value vals[64];
    size_t cuts[17];
    for (int iter = 0; iter < 3000; iter++) {
        size_t n = random_values(vals, 60);
        size_t np = random_cuts(n, cuts, 15);
        for (size_t f = 0; f < 6; f++) {
            int star = f == 5;
            ls_agg_fn fn = star ? LS_AGG_COUNT : fns[f];
            ls_acc whole = fold(fn, vals, n, star);
            char what[96];
            snprintf(what, sizeof what, "iteration %d, %s%s, %zu values in %zu pieces", iter,
                     ls_agg_fn_name(fn), star ? "(*)" : "", n, np);
            ls_acc left = fold_pieces(fn, vals, cuts, np, star);
            assert_same_value(ls_acc_result(&left, fn), ls_acc_result(&whole, fn), what);
            ck_assert_int_eq(left.n, whole.n);
            ls_acc tree = fold_tree(fn, vals, cuts, np, star);
            assert_same_value(ls_acc_result(&tree, fn), ls_acc_result(&whole, fn), what);
            ck_assert_int_eq(tree.n, whole.n);
        }
    }
}
END_TEST

/* min/max over random full-range int64s (exact integer comparison). */
START_TEST(merge_random_int64_min_max)
{
    rng_seed(77);
    ls_value vals[40];
    size_t cuts[9];
    for (int iter = 0; iter < 2000; iter++) {
        size_t n = (size_t)rng_below(41);
        const int64_t base = ((int64_t)1 << 62) + (int64_t)rng_below(1000);
        for (size_t i = 0; i < n; i++)
            vals[i] = rng_below(2) ? ls_int((int64_t)rng_next()) : ls_int(base + (int64_t)rng_below(8));
        size_t np = random_cuts(n, cuts, 8);
        for (int mx = 0; mx < 2; mx++) {
            ls_agg_fn fn = mx ? LS_AGG_MAX : LS_AGG_MIN;
            ls_acc whole = fold(fn, vals, n, 0);
            ls_acc m = fold_pieces(fn, vals, cuts, np, 0);
            assert_same_value(ls_acc_result(&m, fn), ls_acc_result(&whole, fn), "int64 min/max");
        }
    }
}
END_TEST

/* ---- states ------------------------------------------------------------- */

static const ls_agg_spec SPECS[] = {
    { .fn = LS_AGG_COUNT, .column = NULL, .name = "n" },
    { .fn = LS_AGG_SUM, .column = "v", .name = "total" },
    { .fn = LS_AGG_MIN, .column = "v", .name = "lo" },
    { .fn = LS_AGG_MAX, .column = "v", .name = "hi" },
    { .fn = LS_AGG_AVG, .column = "v", .name = "mean" },
    { .fn = LS_AGG_COUNT, .column = "v", .name = "nv" },
};
enum { NSPECS = sizeof SPECS / sizeof SPECS[0] };

typedef struct rec {
    int64_t key;
    int64_t wend; /* LS_NO_TIME or a window end */
    ls_value v;
} rec;

/* Folds one record into s as ls_query's fold does; returns 1 when the group
 * was not yet updated in this batch. */
static int feed(ls_state *s, const rec *r, int64_t batch)
{
    ls_buf key;
    ls_buf_init(&key);
    ls_value k = ls_int(r->key);
    ls_key_put(&key, &k);
    if (r->wend != LS_NO_TIME) {
        ls_value w = ls_int(r->wend);
        ls_key_put(&key, &w);
    }
    int created;
    ls_group *g = ls_state_upsert(s, key.data, key.len, ls_hash(key.data, key.len), r->wend,
                                  &created);
    ls_buf_free(&key);
    for (int a = 0; a < NSPECS; a++)
        ck_assert_int_eq(ls_acc_update(&g->acc[a], SPECS[a].fn, SPECS[a].column ? &r->v : NULL, NULL), 0);
    if (g->updated_batch == batch) return 0;
    g->updated_batch = batch;
    return 1;
}

static void random_recs(rec *rs, size_t n, int64_t nkeys)
{
    for (size_t i = 0; i < n; i++) {
        rs[i].key = (int64_t)rng_below((uint64_t)nkeys);
        rs[i].wend = rs[i].key % 3 == 0 ? LS_NO_TIME : 60000 * (1 + rs[i].key % 4);
        uint64_t kind = rng_below(10);
        rs[i].v = kind == 0 ? ls_null()
                : kind < 6  ? ls_int((int64_t)rng_below(1000) - 500)
                            : ls_double((double)((int64_t)rng_below(400) - 200) / 4.0);
    }
}

static size_t count_groups(const ls_state *s, size_t *bytes)
{
    size_t n = 0, b = 0;
    for (int p = 0; p < ls_state_nparts(s); p++) {
        const ls_group *g;
        LS_HMAP_FOREACH(ls_state_part(s, p), g) {
            n++;
            b += ls_state_group_cost(s, g->key_len);
            uint64_t h = ls_hash(ls_group_key(g, ls_state_nagg(s)), g->key_len);
            ck_assert_int_eq(ls_state_partition_of(s, h), p);
        }
    }
    if (bytes) *bytes = b;
    return n;
}

/* Same groups, windows, batches and aggregate results. */
static void assert_states_equal(const ls_state *got, const ls_state *want)
{
    ck_assert_uint_eq(count_groups(got, NULL), count_groups(want, NULL));
    for (int p = 0; p < ls_state_nparts(want); p++) {
        const ls_group *w;
        LS_HMAP_FOREACH(ls_state_part(want, p), w) {
            const char *key = ls_group_key(w, ls_state_nagg(want));
            uint64_t h = ls_hash(key, w->key_len);
            const ls_group *g = ls_state_find(got, key, w->key_len, h);
            ck_assert_msg(g != NULL, "a group is missing from the merged state");
            ck_assert_int_eq(g->window_end, w->window_end);
            ck_assert_int_eq(g->updated_batch, w->updated_batch);
            for (int a = 0; a < ls_state_nagg(want); a++) {
                char what[64];
                snprintf(what, sizeof what, "aggregate %s", SPECS[a].name);
                assert_same_value(ls_acc_result(&g->acc[a], SPECS[a].fn),
                                  ls_acc_result(&w->acc[a], SPECS[a].fn), what);
                ck_assert_int_eq(g->acc[a].n, w->acc[a].n);
            }
        }
    }
}

/* Merges every partition of each partial into dst, adds the results to its
 * totals (ls_state_add_merged), and checks them against what dst gained. */
static ls_merge_result merge_all(ls_state *dst, ls_state *const *parts, int nparts_states,
                                 int64_t batch)
{
    size_t groups0 = ls_state_groups(dst), bytes0 = ls_state_group_bytes(dst);
    ls_merge_result total = { 0, 0, 0 };
    for (int p = 0; p < ls_state_nparts(dst); p++) {
        ls_merge_result r = { 0, 0, 0 };
        for (int k = 0; k < nparts_states; k++)
            ls_state_merge_part(dst, parts[k], p, SPECS, batch, &r);
        total.groups_added += r.groups_added;
        total.bytes_added += r.bytes_added;
        total.rows_updated += r.rows_updated;
    }
    /* merge_part leaves the totals to the caller */
    ck_assert_uint_eq(ls_state_groups(dst), groups0);
    ck_assert_uint_eq(ls_state_group_bytes(dst), bytes0);
    ls_state_add_merged(dst, &total);
    size_t bytes;
    ck_assert_uint_eq(count_groups(dst, &bytes), ls_state_groups(dst));
    ck_assert_uint_eq(ls_state_group_bytes(dst), bytes);
    return total;
}

START_TEST(merge_states_equal_single_state)
{
    enum { NPARTS = 7, NRECS = 4000, NBATCH = 4 };
    rng_seed(4242);
    ls_state *single = ls_state_new(NPARTS, NSPECS), *dst = ls_state_new(NPARTS, NSPECS);
    ls_state *wk[3] = { ls_state_new(NPARTS, NSPECS), ls_state_new(NPARTS, NSPECS),
                        ls_state_new(NPARTS, NSPECS) };
    rec *rs = calloc(NRECS, sizeof *rs);
    for (int64_t batch = 0; batch < NBATCH; batch++) {
        /* later batches touch fewer, partly new keys */
        size_t n = NRECS >> batch;
        random_recs(rs, n, 300 + 100 * batch);
        int64_t updated = 0;
        size_t groups0 = ls_state_groups(single);
        for (size_t i = 0; i < n; i++) {
            updated += feed(single, &rs[i], batch);
            /* each record goes to one of the workers at random */
            ls_state *w = wk[rng_below(3)];
            int64_t wb = 100 + batch; /* a worker's own batch marks do not matter */
            feed(w, &rs[i], wb);
        }
        ls_merge_result r = merge_all(dst, wk, 3, batch);
        ck_assert_int_eq(r.rows_updated, updated);
        ck_assert_uint_eq(r.groups_added, ls_state_groups(single) - groups0);
        ck_assert_uint_eq(ls_state_groups(dst), ls_state_groups(single));
        ck_assert_uint_eq(ls_state_group_bytes(dst), ls_state_group_bytes(single));
        assert_states_equal(dst, single);
        for (int k = 0; k < 3; k++) {
            ls_state_clear(wk[k]);
            ck_assert_uint_eq(ls_state_groups(wk[k]), 0);
            ck_assert_uint_eq(count_groups(wk[k], NULL), 0);
        }
    }
    free(rs);
    for (int k = 0; k < 3; k++) ls_state_free(wk[k]);
    ls_state_free(single);
    ls_state_free(dst);
}
END_TEST

/* A group is counted once per batch: whether several partials hold it, or
 * dst already marked it in this batch. */
START_TEST(merge_rows_updated_once_per_batch)
{
    ls_state *dst = ls_state_new(2, NSPECS);
    ls_state *a = ls_state_new(2, NSPECS), *b = ls_state_new(2, NSPECS);
    rec r1 = { 1, LS_NO_TIME, ls_int(5) }, r2 = { 2, LS_NO_TIME, ls_int(7) },
        r3 = { 3, 120000, ls_double(1.5) };
    feed(a, &r1, 0);
    feed(a, &r2, 0);
    feed(b, &r1, 0);
    feed(b, &r3, 0);
    ls_state *both[2] = { a, b };
    ls_merge_result r = merge_all(dst, both, 2, 10);
    ck_assert_int_eq(r.rows_updated, 3); /* keys 1, 2, 3: key 1 once */
    ck_assert_uint_eq(r.groups_added, 3);
    ck_assert_uint_eq(r.bytes_added, ls_state_group_bytes(dst));
    /* merging the same partials again in the same batch: nothing new is updated */
    r = merge_all(dst, both, 2, 10);
    ck_assert_int_eq(r.rows_updated, 0);
    ck_assert_uint_eq(r.groups_added, 0);
    ck_assert_uint_eq(r.bytes_added, 0);
    /* the next batch: every group touched counts again, existing ones add no bytes */
    ls_state_clear(a);
    ls_state_clear(b);
    feed(b, &r2, 0);
    rec r4 = { 4, LS_NO_TIME, ls_null() };
    feed(b, &r4, 0);
    size_t bytes0 = ls_state_group_bytes(dst);
    r = merge_all(dst, both, 2, 11);
    ck_assert_int_eq(r.rows_updated, 2);
    ck_assert_uint_eq(r.groups_added, 1);
    ck_assert_uint_eq(ls_state_group_bytes(dst) - bytes0, r.bytes_added);
    ck_assert_uint_eq(r.bytes_added, ls_state_group_cost(dst, 1 + 8));
    /* a group dst already folded a row into in this batch is not counted again */
    ls_state_clear(b);
    feed(dst, &r1, 12);
    feed(b, &r1, 0);
    r = merge_all(dst, both, 2, 12);
    ck_assert_int_eq(r.rows_updated, 0);
    /* windows are kept */
    ls_buf key;
    ls_buf_init(&key);
    ls_value k = ls_int(3), w = ls_int(120000);
    ls_key_put(&key, &k);
    ls_key_put(&key, &w);
    uint64_t h = ls_hash(key.data, key.len);
    ls_group *g = ls_state_find(dst, key.data, key.len, h);
    ck_assert_ptr_nonnull(g);
    ck_assert_int_eq(g->window_end, 120000);
    ck_assert_int_eq(g->updated_batch, 10);
    ls_buf_free(&key);
    /* merged groups are evicted like any other */
    ck_assert_uint_eq(ls_state_evict(dst, 120000), 1);
    size_t bytes;
    ck_assert_uint_eq(count_groups(dst, &bytes), ls_state_groups(dst));
    ck_assert_uint_eq(bytes, ls_state_group_bytes(dst));
    ls_state_free(a);
    ls_state_free(b);
    ls_state_free(dst);
}
END_TEST

/* Merging an empty partial, or one partition only, touches nothing else. */
START_TEST(merge_empty_and_single_partition)
{
    ls_state *dst = ls_state_new(4, NSPECS), *src = ls_state_new(4, NSPECS);
    ls_merge_result r = merge_all(dst, &src, 1, 0);
    ck_assert_uint_eq(r.groups_added, 0);
    ck_assert_int_eq(r.rows_updated, 0);
    ck_assert_uint_eq(ls_state_groups(dst), 0);
    rng_seed(9);
    rec rs[200];
    random_recs(rs, 200, 50);
    for (size_t i = 0; i < 200; i++) feed(src, &rs[i], 0);
    size_t total = 0;
    for (int p = 0; p < 4; p++) {
        ls_merge_result one = { 0, 0, 0 };
        ls_state_merge_part(dst, src, p, SPECS, 3, &one);
        ck_assert_uint_eq(one.groups_added, ls_state_part(src, p)->count);
        ck_assert_uint_eq(ls_state_part(dst, p)->count, ls_state_part(src, p)->count);
        for (int q = p + 1; q < 4; q++) ck_assert_uint_eq(ls_state_part(dst, q)->count, 0);
        total += one.groups_added;
        ls_state_add_merged(dst, &one);
    }
    ck_assert_uint_eq(total, ls_state_groups(src));
    ck_assert_uint_eq(ls_state_group_bytes(dst), ls_state_group_bytes(src));
    /* the source is left as it was */
    ck_assert_uint_eq(count_groups(src, NULL), ls_state_groups(src));
    ls_state_free(src);
    ls_state_free(dst);
}
END_TEST

START_TEST(clear_leaves_empty_reusable_state)
{
    ls_state *s = ls_state_new(5, NSPECS);
    size_t mem0 = ls_state_memory(s);
    ls_state_clear(s); /* clearing an empty state is fine */
    ck_assert_uint_eq(ls_state_groups(s), 0);
    rng_seed(31337);
    rec rs[3000];
    random_recs(rs, 3000, 1000);
    for (int round = 0; round < 3; round++) {
        for (size_t i = 0; i < 3000; i++) feed(s, &rs[i], round);
        ck_assert_uint_gt(ls_state_groups(s), 500);
        ck_assert_uint_gt(ls_state_group_bytes(s), 0);
        ls_state_clear(s);
        ck_assert_uint_eq(ls_state_groups(s), 0);
        ck_assert_uint_eq(ls_state_group_bytes(s), 0);
        ck_assert_uint_eq(count_groups(s, NULL), 0);
        for (int p = 0; p < ls_state_nparts(s); p++) ck_assert_uint_eq(ls_state_part(s, p)->count, 0);
        ck_assert_uint_ge(ls_state_memory(s), mem0);
        /* every key is new again, with fresh accumulators */
        int created;
        ls_group *g = ls_state_upsert(s, "fresh", 5, ls_hash("fresh", 5), LS_NO_TIME, &created);
        ck_assert_int_eq(created, 1);
        for (int a = 0; a < NSPECS; a++) ck_assert_int_eq(g->acc[a].n, 0);
        ck_assert_int_eq(g->updated_batch, -1);
        ls_state_clear(s);
    }
    /* a cleared state merges into another like a fresh one */
    ls_state *dst = ls_state_new(5, NSPECS);
    feed(s, &rs[0], 0);
    ls_merge_result r = merge_all(dst, &s, 1, 1);
    ck_assert_uint_eq(r.groups_added, 1);
    ls_state_free(dst);
    ls_state_free(s);
}
END_TEST

Suite *merge_suite(void)
{
    Suite *s = suite_create("merge");
    TCase *tc = tcase_create("accumulators");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, merge_count_star_and_column);
    tcase_add_test(tc, merge_sum_ints_and_doubles);
    tcase_add_test(tc, merge_sum_overflow_to_double);
    tcase_add_test(tc, merge_min_max_large_ints);
    tcase_add_test(tc, merge_avg);
    tcase_add_test(tc, merge_empty_is_noop);
    tcase_add_test(tc, merge_random_splits_property);
    tcase_add_test(tc, merge_random_int64_min_max);
    suite_add_tcase(s, tc);
    tc = tcase_create("states");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, merge_states_equal_single_state);
    tcase_add_test(tc, merge_rows_updated_once_per_batch);
    tcase_add_test(tc, merge_empty_and_single_partition);
    tcase_add_test(tc, clear_leaves_empty_reusable_state);
    suite_add_tcase(s, tc);
    return s;
}
