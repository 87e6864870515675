/* test_sketch.c - approx_count_distinct and percentile_approx: Spark's
 * hashes and estimates on known inputs (the expected numbers are what
 * Spark 4.2.0 returns for the same typed values), merges against a single
 * pass, the result types, snapshots (round trip, the older version,
 * corrupt sketches) and memory accounting. */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ls_agg.h"
#include "ls_cast.h"
#include "ls_hll.h"
#include "ls_quantile.h"
#include "ls_sparkhash.h"
#include "ls_state.h"
#include "ls_window.h"
#include "suites.h"
#include "test_helpers.h"

static ls_agg_spec hll_spec(double rsd, int int32)
{
    ls_agg_spec s;
    memset(&s, 0, sizeof s);
    s.fn = LS_AGG_APPROX_DISTINCT;
    s.hll_p = ls_hll_precision(rsd);
    s.hash_int32 = int32;
    return s;
}

static ls_agg_spec pct_spec(int64_t accuracy, const double *pcts, size_t n, int list)
{
    ls_agg_spec s;
    memset(&s, 0, sizeof s);
    s.fn = LS_AGG_PERCENTILE;
    s.accuracy = accuracy;
    s.pcts = (double *)pcts;
    s.npcts = n;
    s.pct_list = list;
    return s;
}

/* Prepares and folds v (no ck_assert on the way: Check records every
 * assertion, and these run millions of times). */
static void fold(ls_acc *a, const ls_agg_spec *s, ls_value v)
{
    ls_err err = { "" };
    if (ls_agg_prepare(s->fn, &v) != 0 || ls_acc_fold(a, s, &v, -1, &err) != 0)
        ck_abort_msg("fold failed: %s", err.msg);
}

/* ---- Spark's hash --------------------------------------------------------- */

START_TEST(sketch_spark_hashes)
{
    /* SELECT xxhash64(...) in Spark 4.2.0 */
    ck_assert_int_eq((int64_t)ls_spark_hash_long(5), 6251837290343458373LL);
    ck_assert_int_eq((int64_t)ls_spark_hash_int(5), 504019808641096632LL);
    ck_assert_int_eq((int64_t)ls_spark_hash_bytes("hello", 5), -4367754540140381902LL);
    ck_assert_int_eq((int64_t)ls_spark_hash_bytes("", 0), -7444071767201028348LL);
    ck_assert_int_eq((int64_t)ls_spark_hash_double(1.5), 7738255526519901366LL);
    ck_assert_int_eq((int64_t)ls_spark_hash_double(0.0), -5252525462095825812LL);
    ck_assert_int_eq((int64_t)ls_spark_hash_double(-0.0), -5252525462095825812LL);
    ck_assert_int_eq((int64_t)ls_spark_hash_double(NAN), -3127944061524951246LL);
    ck_assert_int_eq((int64_t)ls_spark_hash_double(-NAN), -3127944061524951246LL);
    const char *s = "日本語 and a longer string of more than thirty-two bytes";
    ck_assert_int_eq((int64_t)ls_spark_hash_bytes(s, strlen(s)), -3579761392532871764LL);
    /* through values: a boolean is an int 1, a timestamp its microseconds */
    uint64_t h;
    ls_value t;
    t.type = LS_BOOL;
    t.u.b = 1;
    ck_assert_int_eq(ls_spark_hash_value(&t, 0, &h), 0);
    ck_assert_int_eq((int64_t)h, -6698625589789238999LL);
    t = ls_timestamp(1546300800000LL); /* timestamp'2019-01-01 00:00:00' */
    ck_assert_int_eq(ls_spark_hash_value(&t, 0, &h), 0);
    ck_assert_int_eq((int64_t)h, -173285366489176573LL);
    t = ls_int(5);
    ck_assert_int_eq(ls_spark_hash_value(&t, 1, &h), 0);
    ck_assert_int_eq((int64_t)h, 504019808641096632LL);
    t = ls_null();
    ck_assert_int_eq(ls_spark_hash_value(&t, 0, &h), -1);
}
END_TEST

/* ---- approx_count_distinct ------------------------------------------------ */

/* spark.range(n) aggregated as Spark 4.2.0 does: ids as bigint, as strings,
 * id / 7 as double, rsd 0.01 and 0.3, ids as int. */
START_TEST(sketch_hll_estimates_equal_spark)
{
    static const struct { int n; int64_t big, str, dbl, rsd01, rsd3, i32; } want[] = {
        { 0, 0, 0, 0, 0, 0, 0 },
        { 1, 1, 1, 1, 1, 1, 1 },
        { 10, 10, 10, 10, 10, 13, 10 },
        { 100, 103, 104, 101, 100, 80, 99 },
        { 1000, 1026, 1034, 990, 996, 979, 1026 },
        { 10000, 9571, 9093, 9441, 9965, 8019, 9823 },
        { 100000, 95546, 97299, 101258, 100425, 78139, 94954 },
    };
    ls_agg_spec d = hll_spec(0.05, 0), p01 = hll_spec(0.01, 0), p3 = hll_spec(0.3, 0),
                i32 = hll_spec(0.05, 1);
    ck_assert_int_eq(d.hll_p, 9);
    ck_assert_int_eq(p01.hll_p, 14);
    ck_assert_int_eq(p3.hll_p, 4);
    for (size_t k = 0; k < sizeof want / sizeof *want; k++) {
        ls_acc a[6];
        for (int j = 0; j < 6; j++) ls_acc_init(&a[j]);
        for (int i = 0; i < want[k].n; i++) {
            char t[16];
            int len = snprintf(t, sizeof t, "%d", i);
            fold(&a[0], &d, ls_int(i));
            fold(&a[1], &d, ls_str(t, (size_t)len));
            fold(&a[2], &d, ls_double((double)i / 7.0));
            fold(&a[3], &p01, ls_int(i));
            fold(&a[4], &p3, ls_int(i));
            fold(&a[5], &i32, ls_int(i));
        }
        int64_t got[6], exp[6] = { want[k].big, want[k].str, want[k].dbl, want[k].rsd01,
                                   want[k].rsd3, want[k].i32 };
        for (int j = 0; j < 6; j++) {
            ls_value r = ls_acc_result(&a[j], LS_AGG_APPROX_DISTINCT);
            ck_assert_int_eq(r.type, LS_INT);
            got[j] = r.u.i;
            ls_acc_release(&a[j]);
        }
        for (int j = 0; j < 6; j++)
            ck_assert_msg(got[j] == exp[j], "n=%d column %d: %lld, Spark %lld", want[k].n, j,
                          (long long)got[j], (long long)exp[j]);
    }
}
END_TEST

/* A million distinct values: Spark's estimate, within the error bound. */
START_TEST(sketch_hll_million_distinct)
{
    ls_agg_spec d = hll_spec(0.05, 0), p01 = hll_spec(0.01, 0), smallest = hll_spec(0.0022, 0);
    ls_acc a[4];
    for (int j = 0; j < 4; j++) ls_acc_init(&a[j]);
    const int n = 1000000;
    for (int i = 0; i < n; i++) {
        char t[16];
        int len = snprintf(t, sizeof t, "%d", i);
        fold(&a[0], &d, ls_int(i));
        fold(&a[1], &p01, ls_int(i));
        fold(&a[2], &d, ls_str(t, (size_t)len));
        fold(&a[3], &smallest, ls_str(t, (size_t)len));
        if (i % 2) fold(&a[0], &d, ls_int(i / 2)); /* repeats change nothing */
    }
    static const int64_t spark[4] = { 925738, 996123, 999692, 1002225 };
    static const int ps[4] = { 9, 14, 9, 18 };
    for (int j = 0; j < 4; j++) {
        int64_t est = ls_acc_result(&a[j], LS_AGG_APPROX_DISTINCT).u.i;
        ck_assert_msg(est == spark[j], "column %d: %lld, Spark %lld", j, (long long)est,
                      (long long)spark[j]);
        double rsd = 1.04 / sqrt((double)(1 << ps[j])); /* the sketch's true rsd */
        ck_assert_msg(fabs((double)est - n) <= 3 * rsd * n, "column %d: %lld is %.2f%% off", j,
                      (long long)est, 100.0 * fabs((double)est - n) / n);
        ls_acc_release(&a[j]);
    }
}
END_TEST

START_TEST(sketch_hll_merge_is_single_pass)
{
    ls_agg_spec d = hll_spec(0.02, 0);
    ls_acc whole, part[3], merged;
    ls_acc_init(&whole);
    ls_acc_init(&merged);
    for (int j = 0; j < 3; j++) ls_acc_init(&part[j]);
    for (int i = 0; i < 50000; i++) {
        char t[24];
        int len = snprintf(t, sizeof t, "user-%d", (i * 7) % 30011);
        fold(&whole, &d, ls_str(t, (size_t)len));
        fold(&part[i % 3], &d, ls_str(t, (size_t)len));
    }
    for (int j = 0; j < 3; j++) ls_acc_merge(&merged, &part[j], LS_AGG_APPROX_DISTINCT);
    ck_assert_int_eq(merged.n, whole.n);
    const unsigned char *a, *b;
    size_t na = ls_acc_sketch_bytes(&whole, &a), nb = ls_acc_sketch_bytes(&merged, &b);
    ck_assert_uint_eq(na, nb);
    ck_assert_int_eq(memcmp(a, b, na), 0); /* the same registers */
    ck_assert_int_eq(ls_acc_result(&merged, LS_AGG_APPROX_DISTINCT).u.i,
                     ls_acc_result(&whole, LS_AGG_APPROX_DISTINCT).u.i);
    ls_acc_release(&whole);
    ls_acc_release(&merged);
    for (int j = 0; j < 3; j++) ls_acc_release(&part[j]);
}
END_TEST

START_TEST(sketch_hll_nulls_and_kinds)
{
    ls_agg_spec d = hll_spec(0.05, 0);
    ls_acc a;
    ls_acc_init(&a);
    ck_assert_int_eq(ls_acc_result(&a, LS_AGG_APPROX_DISTINCT).u.i, 0); /* no value: 0, not null */
    ls_value null = ls_null();
    ck_assert_int_eq(ls_acc_fold(&a, &d, &null, -1, NULL), 0);
    ck_assert_int_eq(a.n, 0);
    /* 5 and "5" and 5.0 are three values (three Spark types); -0.0 is 0.0 */
    fold(&a, &d, ls_int(5));
    fold(&a, &d, ls_str("5", 1));
    fold(&a, &d, ls_double(5.0));
    fold(&a, &d, ls_double(0.0));
    fold(&a, &d, ls_double(-0.0));
    fold(&a, &d, ls_double(NAN));
    fold(&a, &d, ls_double(-NAN));
    ck_assert_int_eq(ls_acc_result(&a, LS_AGG_APPROX_DISTINCT).u.i, 5);
    ck_assert_int_eq(a.n, 7);
    ls_value w;
    w.type = LS_WINDOW;
    w.u.w.start = 0;
    w.u.w.end = 1;
    ck_assert_int_eq(ls_agg_prepare(LS_AGG_APPROX_DISTINCT, &w), 1); /* unusable: null */
    ck_assert_int_eq(w.type, LS_NULL);
    ls_acc_release(&a);
    /* a schema "float" is a double: hashed as a double (Spark's FloatType hashes 4 bytes;
     * README, Differences from Spark) */
    ls_type t;
    ck_assert_int_eq(ls_type_parse("float", &t), 0);
    ck_assert_int_eq(t, LS_TYPE_DOUBLE);
}
END_TEST

/* ---- percentile_approx ---------------------------------------------------- */

static const double P9[] = { 0.0, 0.001, 0.1, 0.25, 0.5, 0.75, 0.9, 0.999, 1.0, 0.3, 0.6 };

static void assert_list(ls_value r, ls_vtype elem, const double *want, uint32_t n)
{
    ck_assert_int_eq(r.type, LS_LIST);
    ck_assert_int_eq(r.u.l.elem, elem);
    ck_assert_uint_eq(r.u.l.n, n);
    for (uint32_t i = 0; i < n; i++) {
        ls_value e = ls_list_at(&r, i);
        double got = elem == LS_INT ? (double)e.u.i : e.u.d;
        ck_assert_msg((isnan(got) && isnan(want[i])) ||
                          (got == want[i] && signbit(got) == signbit(want[i])),
                      "element %u: %.17g, Spark %.17g", i, got, want[i]);
    }
}

/* One pass over (i * 7919) % 100003 for i < 120,000, (i * 104729) % 60013 / 7
 * for i < 60,000 and a few odd doubles, and the percentiles Spark 4.2.0 gives
 * (one partition: its partial digest takes every value in this order). */
START_TEST(sketch_percentile_equals_spark)
{
    static const struct { int64_t acc; double want[9]; } perm[] = {
        { 100, { 0, 0, 9272, 24070, 49874, 74917, 89481, 100002, 100002 } },
        { 1000, { 0, 0, 10027, 25045, 49971, 74936, 89977, 100002, 100002 } },
        { 10000, { 0, 106, 9991, 24998, 49996, 74997, 89996, 99898, 100002 } },
    };
    for (size_t k = 0; k < 3; k++) {
        ls_agg_spec s = pct_spec(perm[k].acc, P9, 9, 1);
        ls_acc a;
        ls_acc_init(&a);
        for (int64_t i = 0; i < 120000; i++) fold(&a, &s, ls_int((i * 7919) % 100003));
        ls_acc_seal(&a);
        assert_list(ls_acc_result(&a, LS_AGG_PERCENTILE), LS_INT, perm[k].want, 9);
        ls_acc_release(&a);
    }
    static const double dbl[9] = { 0.0, 0.0, 794.1428571428571, 2062.285714285714,
                                   4275.857142857143, 6380.0, 7651.571428571428,
                                   8573.142857142857, 8573.142857142857 };
    ls_agg_spec s = pct_spec(100, P9, 9, 1);
    ls_acc a;
    ls_acc_init(&a);
    for (int64_t i = 0; i < 60000; i++) fold(&a, &s, ls_double((double)((i * 104729) % 60013) / 7.0));
    assert_list(ls_acc_result(&a, LS_AGG_PERCENTILE), LS_DOUBLE, dbl, 9); /* unsealed: the same */
    ls_acc_seal(&a);
    assert_list(ls_acc_result(&a, LS_AGG_PERCENTILE), LS_DOUBLE, dbl, 9);
    ls_acc_release(&a);
    /* NaN sorts last, -0.0 before 0.0; with accuracy 2 the compression even
     * drops the smallest sample (Spark's compressImmut keeps it only when not
     * above the next): every percentile is NaN */
    static const double odd[] = { 3.0, -0.0, 0.0, NAN, 1.5, -2.0, 1.5, INFINITY, -1e300 };
    static const double want11[11] = { -1e300, -1e300, -1e300, -0.0, 1.5, 3.0, NAN, NAN, NAN,
                                       -0.0, 1.5 };
    static const double want_acc2[9] = { NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN };
    ls_agg_spec s11 = pct_spec(10000, P9, 11, 1), s2 = pct_spec(2, P9, 9, 1);
    ls_acc b, c;
    ls_acc_init(&b);
    ls_acc_init(&c);
    for (size_t i = 0; i < sizeof odd / sizeof *odd; i++) {
        fold(&b, &s11, ls_double(odd[i]));
        fold(&c, &s2, ls_double(odd[i]));
    }
    assert_list(ls_acc_result(&b, LS_AGG_PERCENTILE), LS_DOUBLE, want11, 11);
    assert_list(ls_acc_result(&c, LS_AGG_PERCENTILE), LS_DOUBLE, want_acc2, 9);
    /* lists order as Spark's arrays (order_by): element by element, then by length */
    ls_value lb = ls_acc_result(&b, LS_AGG_PERCENTILE), lc = ls_acc_result(&c, LS_AGG_PERCENTILE);
    ck_assert_int_lt(ls_value_order(&lb, &lc), 0); /* -1e300 < NaN */
    ck_assert_int_gt(ls_value_order(&lc, &lb), 0);
    ck_assert_int_eq(ls_value_order(&lb, &lb), 0);
    ls_value shorter = lb;
    shorter.u.l.n = 3;
    ck_assert_int_lt(ls_value_order(&shorter, &lb), 0);
    ls_acc_release(&b);
    ls_acc_release(&c);
}
END_TEST

static int cmp_i64(const void *x, const void *y)
{
    int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
    return a < b ? -1 : a > b;
}

/* Below 1 / (2 * relative error) values nothing is compressed away: the
 * result is the exact percentile (the value of rank ceil(p n)), whatever
 * the batches, seals and merges. */
START_TEST(sketch_percentile_exact_regime_any_order)
{
    enum { N = 4000 };
    static const double ps[] = { 0.01, 0.25, 0.5, 0.9, 0.99 };
    ls_agg_spec s = pct_spec(10000, ps, 5, 1);
    int64_t *vals = malloc(N * sizeof *vals), *sorted = malloc(N * sizeof *sorted);
    for (int i = 0; i < N; i++) vals[i] = sorted[i] = ((int64_t)i * 2654435761LL) % 100000 - 50000;
    qsort(sorted, N, sizeof *sorted, cmp_i64);
    double want[5];
    for (int k = 0; k < 5; k++) want[k] = (double)sorted[(int)ceil(ps[k] * N) - 1];

    ls_acc single, batched, merged, part[4];
    ls_acc_init(&single);
    ls_acc_init(&batched);
    ls_acc_init(&merged);
    for (int j = 0; j < 4; j++) ls_acc_init(&part[j]);
    for (int i = 0; i < N; i++) {
        fold(&single, &s, ls_int(vals[i]));
        fold(&batched, &s, ls_int(vals[i]));
        if (i % 777 == 0) ls_acc_seal(&batched); /* batch ends */
        fold(&part[(i / 13) % 4], &s, ls_int(vals[i]));
    }
    ls_acc_seal(&part[2]); /* a partial sealed, another not */
    for (int j = 0; j < 4; j++) ls_acc_merge(&merged, &part[j], LS_AGG_PERCENTILE);
    ck_assert_int_eq(merged.n, N);
    assert_list(ls_acc_result(&single, LS_AGG_PERCENTILE), LS_INT, want, 5);
    assert_list(ls_acc_result(&batched, LS_AGG_PERCENTILE), LS_INT, want, 5);
    assert_list(ls_acc_result(&merged, LS_AGG_PERCENTILE), LS_INT, want, 5);
    ls_acc_seal(&merged);
    assert_list(ls_acc_result(&merged, LS_AGG_PERCENTILE), LS_INT, want, 5);
    ls_acc_release(&single);
    ls_acc_release(&batched);
    ls_acc_release(&merged);
    for (int j = 0; j < 4; j++) ls_acc_release(&part[j]);
    free(vals);
    free(sorted);
}
END_TEST

/* Beyond it, a merged digest keeps the error bound: the rank of each
 * answer is within 2 * relative error * n of the asked one. */
START_TEST(sketch_percentile_merge_within_bound)
{
    enum { N = 300000 };
    static const double ps[] = { 0.05, 0.25, 0.5, 0.75, 0.95 };
    const int64_t accuracy = 500;
    ls_agg_spec s = pct_spec(accuracy, ps, 5, 1);
    ls_acc single, merged, part[3];
    ls_acc_init(&single);
    ls_acc_init(&merged);
    for (int j = 0; j < 3; j++) ls_acc_init(&part[j]);
    for (int64_t i = 0; i < N; i++) {
        int64_t v = (i * 7919) % N; /* a permutation of 0..N-1: a value is its rank - 1 */
        fold(&single, &s, ls_int(v));
        fold(&part[i % 3], &s, ls_int(v));
        if (i % 70000 == 0) ls_acc_seal(&part[i % 3]);
    }
    for (int j = 0; j < 3; j++) ls_acc_merge(&merged, &part[j], LS_AGG_PERCENTILE);
    ls_acc_seal(&merged);
    ls_value rs = ls_acc_result(&single, LS_AGG_PERCENTILE), rm = ls_acc_result(&merged, LS_AGG_PERCENTILE);
    for (uint32_t k = 0; k < 5; k++) {
        double want = ceil(ps[k] * N) - 1, bound = 2.0 * N / (double)accuracy;
        ck_assert_msg(fabs((double)ls_list_at(&rs, k).u.i - want) <= bound, "single %u", k);
        ck_assert_msg(fabs((double)ls_list_at(&rm, k).u.i - want) <= bound, "merged %u", k);
    }
    ls_acc_release(&single);
    ls_acc_release(&merged);
    for (int j = 0; j < 3; j++) ls_acc_release(&part[j]);
}
END_TEST

/* Values of two partitions arriving in interleaved chunks, over batches:
 * the digest is Spark's (one partial per partition and batch, compressed,
 * merged in partition order, then into the state), far beyond the exact
 * regime and with a NaN (whose place Spark's merges decide). */
START_TEST(sketch_percentile_partials_per_partition)
{
    static const double ps[] = { 0.1, 0.5, 0.9, 0.99 };
    ls_agg_spec s = pct_spec(100, ps, 4, 1);
    ls_acc a;
    ls_acc_init(&a);
    unsigned char *state = ls_qsum_new(100, ps, 4, 1);
    ls_err err;
    for (int batch = 0; batch < 4; batch++) {
        unsigned char *part[2] = { ls_qsum_new(100, ps, 4, 1), ls_qsum_new(100, ps, 4, 1) };
        for (int chunk = 0; chunk < 6; chunk++)     /* partition 0, 1, 0, 1, ... */
            for (int i = 0; i < 500; i++) {
                int p = chunk % 2;
                int64_t k = ((int64_t)batch * 3000 + chunk * 500 + i) * 7919 % 100003;
                double x = k == 4242 ? NAN : (double)k;
                ls_value v = ls_double(x);
                if (ls_acc_fold(&a, &s, &v, p, &err)) ck_abort_msg("%s", err.msg);
                part[p] = ls_qsum_add(part[p], x, LS_QK_DOUBLE, p);
            }
        /* Spark: the partials merged in partition order, the result into the state */
        unsigned char *merged = ls_qsum_new(100, ps, 4, 1);
        for (int p = 0; p < 2; p++) {
            merged = ls_qsum_merge(merged, part[p]);
            free(part[p]);
        }
        merged = ls_qsum_seal(merged);
        state = ls_qsum_merge(state, merged);
        state = ls_qsum_seal(state);
        free(merged);
        ls_acc_seal(&a);
        ls_value got = ls_acc_result(&a, LS_AGG_PERCENTILE), want = ls_qsum_result(state);
        double w[4];
        for (uint32_t i = 0; i < 4; i++) w[i] = ls_list_at(&want, i).u.d;
        assert_list(got, LS_DOUBLE, w, 4);
        ck_assert_int_eq(ls_qsum_count(a.v.blob), (batch + 1) * 3000);
    }
    /* not the same as one partial: the partition split matters beyond the exact regime */
    ls_acc one;
    ls_acc_init(&one);
    for (int batch = 0; batch < 4; batch++) {
        for (int chunk = 0; chunk < 6; chunk++)
            for (int i = 0; i < 500; i++) {
                int64_t k = ((int64_t)batch * 3000 + chunk * 500 + i) * 7919 % 100003;
                fold(&one, &s, ls_double(k == 4242 ? NAN : (double)k));
            }
        ls_acc_seal(&one);
    }
    ls_value r1 = ls_acc_result(&one, LS_AGG_PERCENTILE), r2 = ls_acc_result(&a, LS_AGG_PERCENTILE);
    int same = 1;
    for (uint32_t i = 0; i < 4; i++) same &= ls_list_at(&r1, i).u.d == ls_list_at(&r2, i).u.d;
    ck_assert_msg(!same, "a partition split that changes nothing tests nothing");
    ls_acc_release(&one);
    ls_acc_release(&a);
    free(state);
}
END_TEST

START_TEST(sketch_percentile_types)
{
    static const double half = 0.5;
    ls_agg_spec one = pct_spec(0, &half, 1, 0); /* accuracy 0: the default 10000 */
    ls_acc a;
    ls_acc_init(&a);
    ck_assert_int_eq(ls_acc_result(&a, LS_AGG_PERCENTILE).type, LS_NULL); /* no value: null */
    ls_value null = ls_null();
    ck_assert_int_eq(ls_acc_fold(&a, &one, &null, -1, NULL), 0);
    ck_assert_int_eq(ls_acc_result(&a, LS_AGG_PERCENTILE).type, LS_NULL);
    fold(&a, &one, ls_int(7));
    fold(&a, &one, ls_int(-3));
    fold(&a, &one, ls_int(9007199254740993LL)); /* a bigint beyond 2^53, as Spark: via double */
    ls_value r = ls_acc_result(&a, LS_AGG_PERCENTILE);
    ck_assert_int_eq(r.type, LS_INT); /* integers in, integers out (Spark's bigint column) */
    ck_assert_int_eq(r.u.i, 7);
    fold(&a, &one, ls_double(7.5)); /* a double: the result is a double */
    r = ls_acc_result(&a, LS_AGG_PERCENTILE);
    ck_assert_int_eq(r.type, LS_DOUBLE);
    ck_assert_double_eq(r.u.d, 7.0);
    ls_acc_release(&a);
    /* strings are cast to double as sum casts them; text that is no number
     * and booleans are unusable (null) */
    ls_value v = ls_str(" 12 ", 4);
    ck_assert_int_eq(ls_agg_prepare(LS_AGG_PERCENTILE, &v), 0);
    ck_assert_int_eq(v.type, LS_DOUBLE);
    v = ls_str("abc", 3);
    ck_assert_int_eq(ls_agg_prepare(LS_AGG_PERCENTILE, &v), 1);
    ck_assert_int_eq(v.type, LS_NULL);
    v.type = LS_BOOL;
    v.u.b = 1;
    ck_assert_int_eq(ls_agg_prepare(LS_AGG_PERCENTILE, &v), 1);
    /* timestamps give timestamps */
    fold(&a, &one, ls_timestamp(1546300800000LL));
    fold(&a, &one, ls_timestamp(1546300860000LL));
    fold(&a, &one, ls_timestamp(1546300920000LL));
    r = ls_acc_result(&a, LS_AGG_PERCENTILE);
    ck_assert_int_eq(r.type, LS_TIME);
    ck_assert_int_eq(r.u.i, 1546300860000LL);
    ls_acc_release(&a);
}
END_TEST

/* ---- state: seal, memory, snapshots --------------------------------------- */

static const double PCTS[] = { 0.1, 0.5, 0.9 };
static ls_agg_spec SPECS[3];

static void specs_init(void)
{
    memset(SPECS, 0, sizeof SPECS);
    SPECS[0].fn = LS_AGG_APPROX_DISTINCT;
    SPECS[0].hll_p = 11;
    SPECS[1].fn = LS_AGG_PERCENTILE;
    SPECS[1].accuracy = 1000;
    SPECS[1].pcts = (double *)PCTS;
    SPECS[1].npcts = 3;
    SPECS[1].pct_list = 1;
    SPECS[2].fn = LS_AGG_COUNT;
}

/* nkeys groups, values of batch `batch` folded in (the state's own batch
 * ends are the caller's seals). */
static void fill(ls_state *s, int nkeys, int batch, int per_key)
{
    for (int k = 0; k < nkeys; k++) {
        ls_value key = ls_int(k);
        ls_buf kb;
        ls_buf_init(&kb);
        ls_key_put(&kb, &key);
        int created;
        ls_group *g = ls_state_upsert(s, kb.data, kb.len, ls_hash(kb.data, kb.len), LS_NO_TIME,
                                      &created);
        g->updated_batch = batch;
        for (int i = 0; i < per_key; i++) {
            int64_t v = ((int64_t)(batch * per_key + i) * 7919 + k) % 10007;
            ls_value iv = ls_int(v);
            for (int a = 0; a < 3; a++)
                if (ls_acc_fold(&g->acc[a], &SPECS[a], a == 2 ? NULL : &iv, k % 3, NULL)) ck_abort();
        }
        ls_buf_free(&kb);
    }
}

static char *save(const ls_state *s, size_t *n)
{
    FILE *f = tmpfile();
    ck_assert_int_eq(ls_state_save(s, f), 0);
    char *bytes = th_read_stream(f, n);
    fclose(f);
    return bytes;
}

static int load(const char *bytes, size_t n, int nparts, int nagg, ls_state **out, ls_err *err)
{
    FILE *f = tmpfile();
    if (n) ck_assert_uint_eq(fwrite(bytes, 1, n, f), n);
    rewind(f);
    *out = ls_state_new(nparts, nagg);
    int rc = ls_state_load(*out, f, "snap", err);
    fclose(f);
    return rc;
}

/* Every group's JSON row text (results of the 3 aggregates), in key order. */
static void rows_text(const ls_state *s, int nkeys, ls_buf *out)
{
    yajl_gen g = yajl_gen_alloc(NULL);
    for (int k = 0; k < nkeys; k++) {
        ls_value key = ls_int(k);
        ls_buf kb;
        ls_buf_init(&kb);
        ls_key_put(&kb, &key);
        uint64_t h = ls_hash(kb.data, kb.len);
        const ls_group *grp = ls_state_find(s, kb.data, kb.len, h);
        ck_assert_ptr_nonnull(grp);
        yajl_gen_array_open(g);
        for (int a = 0; a < 3; a++) {
            ls_value r = ls_acc_result(&grp->acc[a], SPECS[a].fn);
            ls_value_json(g, &r);
        }
        yajl_gen_array_close(g);
        ls_json_take(g, out);
        ls_buf_putc(out, '\n');
        yajl_gen_reset(g, NULL);
        ls_buf_free(&kb);
    }
    yajl_gen_free(g);
}

START_TEST(sketch_snapshot_round_trip)
{
    specs_init();
    ls_state *s = ls_state_new(4, 3), *t;
    for (int a = 0; a < 3; a++) if (ls_agg_owns_memory(SPECS[a].fn)) ls_state_set_owns_blobs(s);
    fill(s, 50, 0, 40);
    ls_state_seal(s, SPECS, 0);
    fill(s, 30, 1, 25); /* batch 1 not sealed yet: its values are in the partial */
    size_t n;
    char *bytes = save(s, &n);
    ck_assert_mem_eq(bytes + 4, "\x03\x00\x00\x00", 4); /* version 3 */
    ls_err err = { "" };
    ck_assert_msg(load(bytes, n, 7, 3, &t, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(ls_state_owns_blobs(t), 1);
    ls_buf a, b;
    ls_buf_init(&a);
    ls_buf_init(&b);
    rows_text(s, 50, &a);
    rows_text(t, 50, &b);
    ck_assert_str_eq(a.data, b.data);
    ck_assert_ptr_nonnull(strstr(a.data, "[")); /* lists */
    /* both go on alike: seal, more batches */
    ls_state_seal(s, SPECS, 1);
    ls_state_seal(t, SPECS, 1);
    fill(s, 60, 2, 300);
    fill(t, 60, 2, 300);
    ls_state_seal(s, SPECS, 2);
    ls_state_seal(t, SPECS, 2);
    ls_buf_reset(&a);
    ls_buf_reset(&b);
    rows_text(s, 60, &a);
    rows_text(t, 60, &b);
    ck_assert_str_eq(a.data, b.data);
    ls_buf_free(&a);
    ls_buf_free(&b);
    free(bytes);
    ls_state_free(s);
    ls_state_free(t);
}
END_TEST

/* FNV-1a over the snapshot's bytes, as ls_state.c sums them (all but the
 * length field and the checksum itself). */
static void fix_checksum(char *b, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n - 8; i++) {
        if (i >= 12 && i < 20) continue;
        h ^= (unsigned char)b[i];
        h *= 1099511628211ULL;
    }
    memcpy(b + n - 8, &h, 8);
}

/* A sketch whose bytes were changed (the checksum made right again, as
 * someone editing the file would) is refused, never trusted. */
START_TEST(sketch_snapshot_corrupt_sketch_refused)
{
    specs_init();
    SPECS[0].hll_p = 4; /* 16 registers: every byte of the snapshot is tried */
    ls_state *s = ls_state_new(1, 3);
    ls_state_set_owns_blobs(s);
    fill(s, 1, 0, 30);
    ls_state_seal(s, SPECS, 0);
    size_t n;
    char *bytes = save(s, &n);
    char *bad = malloc(n);
    ls_err err;
    int refused = 0, loaded = 0;
    /* every byte of the group's accumulators and key, each changed two ways */
    for (size_t i = 21; i < n - 17; i++)
        for (int m = 0; m < 2; m++) {
            memcpy(bad, bytes, n);
            bad[i] = (char)(m ? 0xff : bad[i] ^ 0x40);
            fix_checksum(bad, n);
            ls_state *t;
            err.msg[0] = '\0';
            if (load(bad, n, 1, 3, &t, &err) == 0) {
                loaded++; /* a value changed within range: still a well-formed sketch */
                yajl_gen gen = yajl_gen_alloc(NULL);
                ls_group *g;
                LS_HMAP_FOREACH(ls_state_part(t, 0), g) /* its results can be computed, go on */
                    for (int a = 0; a < 3; a++) {
                        ls_value r = ls_acc_result(&g->acc[a], SPECS[a].fn);
                        ls_value_json(gen, &r);
                        ls_acc_seal(&g->acc[a]);
                        ls_value v = ls_int(1);
                        ls_acc_fold(&g->acc[a], &SPECS[a], a == 2 ? NULL : &v, -1, NULL);
                    }
                yajl_gen_free(gen);
            } else {
                ck_assert_msg(strstr(err.msg, "corrupt") || strstr(err.msg, "truncated"), "%s", err.msg);
                refused++;
            }
            ls_state_free(t);
        }
    ck_assert_int_gt(refused, 0);
    ck_assert_int_gt(loaded, 0);
    free(bad);
    free(bytes);
    ls_state_free(s);
}
END_TEST

/* A version-2 snapshot (before sketches: a string min and an int sum) is
 * still read. */
START_TEST(sketch_snapshot_version_2_still_read)
{
    ls_buf b;
    ls_buf_init(&b);
    uint32_t version = 2, nagg = 2;
    uint64_t length = 0;
    ls_buf_append(&b, "LSST", 4);
    ls_buf_append(&b, &version, 4);
    ls_buf_append(&b, &nagg, 4);
    ls_buf_append(&b, &length, 8);
    ls_value key = ls_str("k", 1);
    ls_buf kb;
    ls_buf_init(&kb);
    ls_key_put(&kb, &key);
    uint8_t more = 1, end = 0, kind_str = LS_ACC_STR, kind_int = LS_ACC_INT;
    int64_t wend = LS_NO_TIME, upd = 4, n1 = 2, n2 = 3, sum = 42;
    uint32_t klen = (uint32_t)kb.len, slen = 5;
    ls_buf_append(&b, &more, 1);
    ls_buf_append(&b, &wend, 8);
    ls_buf_append(&b, &upd, 8);
    ls_buf_append(&b, &klen, 4);
    ls_buf_append(&b, &n1, 8);
    ls_buf_append(&b, &kind_str, 1);
    ls_buf_append(&b, &slen, 4);
    ls_buf_append(&b, "apple", 5);
    ls_buf_append(&b, &n2, 8);
    ls_buf_append(&b, &kind_int, 1);
    ls_buf_append(&b, &sum, 8);
    ls_buf_append(&b, kb.data, kb.len);
    uint64_t count = 1, sumbits = 0;
    ls_buf_append(&b, &end, 1);
    ls_buf_append(&b, &count, 8);
    ls_buf_append(&b, &sumbits, 8);
    length = b.len;
    memcpy(b.data + 12, &length, 8);
    fix_checksum(b.data, b.len);
    ls_state *t;
    ls_err err = { "" };
    ck_assert_msg(load(b.data, b.len, 3, 2, &t, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(ls_state_groups(t), 1);
    ck_assert_int_eq(ls_state_owns_blobs(t), 1);
    uint64_t h = ls_hash(kb.data, kb.len);
    const ls_group *g = ls_state_find(t, kb.data, kb.len, h);
    ck_assert_ptr_nonnull(g);
    ls_value r = ls_acc_result(&g->acc[0], LS_AGG_MIN);
    ck_assert_int_eq(r.type, LS_STR);
    ck_assert_int_eq(memcmp(r.u.s.p, "apple", 5), 0);
    ck_assert_int_eq(ls_acc_result(&g->acc[1], LS_AGG_SUM).u.i, 42);
    /* a version-2 snapshot with a sketch's kind is corrupt */
    b.data[20 + 1 + 8 + 8 + 4 + 8] = LS_ACC_HLL;
    fix_checksum(b.data, b.len);
    ls_state_free(t);
    ck_assert_int_eq(load(b.data, b.len, 3, 2, &t, &err), -1);
    ck_assert_msg(strstr(err.msg, "corrupt") != NULL, "%s", err.msg);
    ls_state_free(t);
    ls_buf_free(&kb);
    ls_buf_free(&b);
}
END_TEST

/* memoryUsedBytes counts the sketches; merging worker states equals
 * folding everything into one (what --parallelism relies on). */
START_TEST(sketch_state_memory_and_merge)
{
    specs_init();
    ls_state *one = ls_state_new(4, 3), *main = ls_state_new(4, 3), *w[2];
    ls_state_set_owns_blobs(one);
    ls_state_set_owns_blobs(main);
    size_t before = ls_state_memory(one);
    fill(one, 20, 0, 60);
    size_t after = ls_state_memory(one);
    /* 20 groups, each with 2^11 registers and a digest of 60 values */
    ck_assert_uint_ge(after - before, 20 * ((1u << 11) + 60 * 8));
    for (int i = 0; i < 2; i++) {
        w[i] = ls_state_new(4, 3);
        ls_state_set_owns_blobs(w[i]);
    }
    /* the same values split between two workers (30 each per key) */
    fill(w[0], 20, 0, 30);
    for (int k = 0; k < 20; k++) {
        ls_value key = ls_int(k);
        ls_buf kb;
        ls_buf_init(&kb);
        ls_key_put(&kb, &key);
        int created;
        ls_group *g = ls_state_upsert(w[1], kb.data, kb.len, ls_hash(kb.data, kb.len), LS_NO_TIME,
                                      &created);
        g->updated_batch = 0;
        for (int i = 30; i < 60; i++) {
            ls_value iv = ls_int(((int64_t)i * 7919 + k) % 10007);
            for (int a = 0; a < 3; a++)
                if (ls_acc_fold(&g->acc[a], &SPECS[a], a == 2 ? NULL : &iv, k % 3, NULL)) ck_abort();
        }
        ls_buf_free(&kb);
    }
    for (int i = 0; i < 2; i++)
        for (int p = 0; p < 4; p++) {
            ls_merge_result r = { 0, 0, 0 };
            ls_state_merge_part(main, w[i], p, SPECS, 0, &r);
            ls_state_add_merged(main, &r);
        }
    ls_state_seal(one, SPECS, 0);
    ls_state_seal(main, SPECS, 0);
    ls_buf a, b;
    ls_buf_init(&a);
    ls_buf_init(&b);
    rows_text(one, 20, &a);
    rows_text(main, 20, &b);
    ck_assert_str_eq(a.data, b.data); /* 60 values per group: the exact regime */
    ls_buf_free(&a);
    ls_buf_free(&b);
    ls_state_clear(w[0]);
    ck_assert_uint_eq(ls_state_groups(w[0]), 0);
    for (int i = 0; i < 2; i++) ls_state_free(w[i]);
    ls_state_free(one);
    ls_state_free(main);
}
END_TEST

Suite *sketch_suite(void)
{
    Suite *s = suite_create("sketch");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, sketch_spark_hashes);
    tcase_add_test(tc, sketch_hll_estimates_equal_spark);
    tcase_add_test(tc, sketch_hll_million_distinct);
    tcase_add_test(tc, sketch_hll_merge_is_single_pass);
    tcase_add_test(tc, sketch_hll_nulls_and_kinds);
    tcase_add_test(tc, sketch_percentile_equals_spark);
    tcase_add_test(tc, sketch_percentile_exact_regime_any_order);
    tcase_add_test(tc, sketch_percentile_merge_within_bound);
    tcase_add_test(tc, sketch_percentile_partials_per_partition);
    tcase_add_test(tc, sketch_percentile_types);
    tcase_add_test(tc, sketch_snapshot_round_trip);
    tcase_add_test(tc, sketch_snapshot_corrupt_sketch_refused);
    tcase_add_test(tc, sketch_snapshot_version_2_still_read);
    tcase_add_test(tc, sketch_state_memory_and_merge);
    suite_add_tcase(s, tc);
    return s;
}
