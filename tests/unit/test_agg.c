/* test_agg.c - accumulators of count/sum/min/max/avg. */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "ls_agg.h"
#include "suites.h"

static ls_value run(ls_agg_fn fn, const ls_value *vals, size_t n)
{
    ls_acc a;
    ls_acc_init(&a);
    ls_err err;
    for (size_t i = 0; i < n; i++) ck_assert_int_eq(ls_acc_update(&a, fn, &vals[i], &err), 0);
    return ls_acc_result(&a, fn);
}

START_TEST(agg_parse_names)
{
    ls_agg_fn fn;
    static const char *const names[] = { "count", "sum", "min", "max", "avg" };
    for (int i = 0; i < 5; i++) {
        ck_assert_int_eq(ls_agg_fn_parse(names[i], &fn), 0);
        ck_assert_int_eq(fn, i);
        ck_assert_str_eq(ls_agg_fn_name(fn), names[i]);
    }
    ck_assert_int_eq(ls_agg_fn_parse("mean", &fn), 0);
    ck_assert_int_eq(fn, LS_AGG_AVG);
    ck_assert_int_eq(ls_agg_fn_parse("median", &fn), -1);
    ck_assert_int_eq(ls_agg_fn_parse("", &fn), -1);
    ck_assert_int_eq(ls_agg_fn_parse("COUNT", &fn), -1);
}
END_TEST

START_TEST(agg_count_star_vs_column)
{
    ls_value vals[] = { ls_int(1), ls_null(), ls_str("x", 1), ls_null(), ls_double(2.5) };
    ls_acc star, col;
    ls_acc_init(&star);
    ls_acc_init(&col);
    for (size_t i = 0; i < 5; i++) {
        ck_assert_int_eq(ls_acc_update(&star, LS_AGG_COUNT, NULL, NULL), 0);
        ck_assert_int_eq(ls_acc_update(&col, LS_AGG_COUNT, &vals[i], NULL), 0);
    }
    ls_value r = ls_acc_result(&star, LS_AGG_COUNT);
    ck_assert_int_eq(r.type, LS_INT);
    ck_assert_int_eq(r.u.i, 5);
    r = ls_acc_result(&col, LS_AGG_COUNT);
    ck_assert_int_eq(r.type, LS_INT);
    ck_assert_int_eq(r.u.i, 3); /* nulls are not counted; strings are */
}
END_TEST

START_TEST(agg_sum_ints_stays_int)
{
    ls_value vals[] = { ls_int(1), ls_int(2), ls_null(), ls_int(-10), ls_int(1000000000000LL) };
    ls_value r = run(LS_AGG_SUM, vals, 5);
    ck_assert_int_eq(r.type, LS_INT);
    ck_assert_int_eq(r.u.i, 999999999993LL);
    /* a single value */
    ls_value one = ls_int(7);
    r = run(LS_AGG_SUM, &one, 1);
    ck_assert_int_eq(r.type, LS_INT);
    ck_assert_int_eq(r.u.i, 7);
}
END_TEST

START_TEST(agg_sum_mixed)
{
    ls_value a[] = { ls_int(1), ls_double(0.5), ls_int(2) };
    ls_value r = run(LS_AGG_SUM, a, 3);
    ck_assert_int_eq(r.type, LS_DOUBLE);
    ck_assert_double_eq(r.u.d, 3.5);
    ls_value b[] = { ls_double(0.25), ls_int(1), ls_int(1) };
    r = run(LS_AGG_SUM, b, 3);
    ck_assert_int_eq(r.type, LS_DOUBLE);
    ck_assert_double_eq(r.u.d, 2.25);
}
END_TEST

/* Reaching exactly INT64_MAX is not an overflow. */
START_TEST(agg_sum_int_at_limit)
{
    ls_value a[] = { ls_int(INT64_MAX - 5), ls_int(5) };
    ls_value r = run(LS_AGG_SUM, a, 2);
    ck_assert_int_eq(r.type, LS_INT);
    ck_assert_int_eq(r.u.i, INT64_MAX);
    ls_value b[] = { ls_int(INT64_MIN + 5), ls_int(-5) };
    r = run(LS_AGG_SUM, b, 2);
    ck_assert_int_eq(r.type, LS_INT);
    ck_assert_int_eq(r.u.i, INT64_MIN);
}
END_TEST

/* Regression (was a bug in ls_agg.c, ls_acc_update): on int64 overflow the sum must switch
 * to double and keep the true value (~9.22e18 + ...).  __builtin_add_overflow
 * stores the wrapped result into a->v.i before the fallback converts it, so
 * the overflowing addend is lost and the sign flips. */
START_TEST(agg_sum_overflow_switches_to_double)
{
    ls_value a[] = { ls_int(INT64_MAX), ls_int(1) };
    ls_value r = run(LS_AGG_SUM, a, 2);
    ck_assert_int_eq(r.type, LS_DOUBLE);
    ck_assert_msg(r.u.d > 9.2e18, "INT64_MAX + 1 summed to %g (expected 9.223372036854775808e18)",
                  r.u.d);
    ck_assert_double_eq_tol(r.u.d, 9223372036854775808.0, 1e4);

    ls_value b[] = { ls_int(INT64_MIN), ls_int(-1), ls_int(-1) };
    r = run(LS_AGG_SUM, b, 3);
    ck_assert_int_eq(r.type, LS_DOUBLE);
    ck_assert_msg(r.u.d < -9.2e18, "INT64_MIN - 2 summed to %g", r.u.d);

    ls_value c[] = { ls_int(INT64_MAX), ls_int(INT64_MAX), ls_int(2) };
    r = run(LS_AGG_SUM, c, 3);
    ck_assert_int_eq(r.type, LS_DOUBLE);
    ck_assert_double_eq_tol(r.u.d, 2.0 * 9223372036854775807.0, 1e5);

}
END_TEST

/* Regression (was a bug in ls_agg.c, ls_acc_update, LS_AGG_MIN/LS_AGG_MAX): the current and
 * new values are compared as doubles (as_double / d), so integers above 2^53
 * that differ by less than a double's ulp compare equal and the later, truly
 * larger (or smaller) one is ignored.  Realistic case: max() of nanosecond
 * timestamps (~1.7e18, ulp 256).  max(1700000000000000001,
 * 1700000000000000100) returns 1700000000000000001; expected ...100. */
START_TEST(agg_min_max_large_ints_exact)
{
    ls_value a[] = { ls_int(1700000000000000001LL), ls_int(1700000000000000100LL) };
    ls_value r = run(LS_AGG_MAX, a, 2);
    ck_assert_int_eq(r.type, LS_INT);
    ck_assert_int_eq(r.u.i, 1700000000000000100LL);
    ls_value b[] = { ls_int(9007199254740993LL), ls_int(9007199254740992LL) };
    r = run(LS_AGG_MIN, b, 2);
    ck_assert_int_eq(r.type, LS_INT);
    ck_assert_int_eq(r.u.i, 9007199254740992LL);
}
END_TEST

START_TEST(agg_min_max)
{
    ls_value a[] = { ls_int(5), ls_null(), ls_int(-3), ls_int(9), ls_int(0) };
    ls_value r = run(LS_AGG_MIN, a, 5);
    ck_assert_int_eq(r.type, LS_INT);
    ck_assert_int_eq(r.u.i, -3);
    r = run(LS_AGG_MAX, a, 5);
    ck_assert_int_eq(r.type, LS_INT);
    ck_assert_int_eq(r.u.i, 9);

    /* mixed: the result keeps the type of the winning input */
    ls_value b[] = { ls_int(5), ls_double(2.5), ls_int(7), ls_double(7.5) };
    r = run(LS_AGG_MIN, b, 4);
    ck_assert_int_eq(r.type, LS_DOUBLE);
    ck_assert_double_eq(r.u.d, 2.5);
    r = run(LS_AGG_MAX, b, 4);
    ck_assert_int_eq(r.type, LS_DOUBLE);
    ck_assert_double_eq(r.u.d, 7.5);
    ls_value c[] = { ls_double(2.5), ls_int(1), ls_double(1.5) };
    r = run(LS_AGG_MIN, c, 3);
    ck_assert_int_eq(r.type, LS_INT);
    ck_assert_int_eq(r.u.i, 1);
    /* negative extremes */
    ls_value d[] = { ls_int(INT64_MIN), ls_int(INT64_MAX) };
    r = run(LS_AGG_MIN, d, 2);
    ck_assert_int_eq(r.u.i, INT64_MIN);
    r = run(LS_AGG_MAX, d, 2);
    ck_assert_int_eq(r.u.i, INT64_MAX);
}
END_TEST

START_TEST(agg_avg)
{
    ls_value a[] = { ls_int(1), ls_int(2), ls_null(), ls_int(4) };
    ls_value r = run(LS_AGG_AVG, a, 4);
    ck_assert_int_eq(r.type, LS_DOUBLE);
    ck_assert_double_eq_tol(r.u.d, 7.0 / 3.0, 1e-12); /* nulls are ignored */
    ls_value b[] = { ls_int(3) };
    r = run(LS_AGG_AVG, b, 1);
    ck_assert_int_eq(r.type, LS_DOUBLE);
    ck_assert_double_eq(r.u.d, 3.0);
    ls_value c[] = { ls_double(0.5), ls_int(1) };
    r = run(LS_AGG_AVG, c, 2);
    ck_assert_double_eq(r.u.d, 0.75);
    /* avg accumulates in double from the start: huge ints do not overflow */
    ls_value d[] = { ls_int(INT64_MAX), ls_int(INT64_MAX) };
    r = run(LS_AGG_AVG, d, 2);
    ck_assert_int_eq(r.type, LS_DOUBLE);
    ck_assert_double_eq_tol(r.u.d, 9223372036854775807.0, 1e4);
}
END_TEST

/* sum and avg fold numbers only: a value the caller did not prepare is
 * refused and leaves the accumulator as it was. */
START_TEST(agg_non_number)
{
    ls_agg_fn fns[] = { LS_AGG_SUM, LS_AGG_AVG };
    ls_value bad[2];
    bad[0] = ls_str("12", 2);
    bad[1].type = LS_BOOL;
    bad[1].u.b = 1;
    for (int f = 0; f < 2; f++)
        for (int b = 0; b < 2; b++) {
            ls_acc a;
            ls_acc_init(&a);
            ls_err err = { "" };
            ls_value one = ls_int(1);
            ck_assert_int_eq(ls_acc_update(&a, fns[f], &one, &err), 0);
            ck_assert_int_eq(ls_acc_update(&a, fns[f], &bad[b], &err), -1);
            char want[64];
            snprintf(want, sizeof want, "%s: value is not a number", ls_agg_fn_name(fns[f]));
            ck_assert_str_eq(err.msg, want);
            /* the accumulator is unchanged */
            ck_assert_int_eq(a.n, 1);
            ls_value r = ls_acc_result(&a, fns[f]);
            ck_assert_double_eq(r.type == LS_INT ? (double)r.u.i : r.u.d, 1.0);
        }
    /* count accepts anything */
    ls_acc a;
    ls_acc_init(&a);
    ck_assert_int_eq(ls_acc_update(&a, LS_AGG_COUNT, &bad[0], NULL), 0);
    ck_assert_int_eq(ls_acc_result(&a, LS_AGG_COUNT).u.i, 1);
}
END_TEST

/* What sum and avg make of other values, as Spark's implicit cast. */
START_TEST(agg_prepare_casts)
{
    ls_value v = ls_str(" 7 ", 3);
    ck_assert_int_eq(ls_agg_prepare(LS_AGG_SUM, &v), 0);
    ck_assert_int_eq(v.type, LS_DOUBLE);
    ck_assert_double_eq(v.u.d, 7.0);
    v = ls_str("1e3", 3);
    ck_assert_int_eq(ls_agg_prepare(LS_AGG_AVG, &v), 0);
    ck_assert_double_eq(v.u.d, 1000.0);
    v = ls_str("NaN", 3);
    ck_assert_int_eq(ls_agg_prepare(LS_AGG_SUM, &v), 0);
    ck_assert(isnan(v.u.d));
    v = ls_str("0x10", 4); /* not a number to Spark: null, counted as unusable */
    ck_assert_int_eq(ls_agg_prepare(LS_AGG_SUM, &v), 1);
    ck_assert_int_eq(v.type, LS_NULL);
    v = ls_str("abc", 3);
    ck_assert_int_eq(ls_agg_prepare(LS_AGG_SUM, &v), 1);
    v.type = LS_BOOL;
    v.u.b = 1;
    ck_assert_int_eq(ls_agg_prepare(LS_AGG_AVG, &v), 1);
    /* min, max and count take strings and booleans as they are */
    v = ls_str("abc", 3);
    ck_assert_int_eq(ls_agg_prepare(LS_AGG_MAX, &v), 0);
    ck_assert_int_eq(v.type, LS_STR);
    ck_assert_int_eq(ls_agg_prepare(LS_AGG_COUNT, &v), 0);
    v = ls_null();
    ck_assert_int_eq(ls_agg_prepare(LS_AGG_SUM, &v), 0); /* null is not unusable, just null */
}
END_TEST

/* NaN is above every number, so min and max do not depend on order; a sum
 * with NaN is NaN; strings compare by their bytes. */
START_TEST(agg_nan_and_strings)
{
    ls_value a[] = { ls_double(NAN), ls_int(1) }, b[] = { ls_int(1), ls_double(NAN) };
    ck_assert_int_eq(run(LS_AGG_MIN, a, 2).u.i, 1);
    ck_assert_int_eq(run(LS_AGG_MIN, b, 2).u.i, 1);
    ck_assert(isnan(run(LS_AGG_MAX, a, 2).u.d));
    ck_assert(isnan(run(LS_AGG_MAX, b, 2).u.d));
    ck_assert(isnan(run(LS_AGG_SUM, a, 2).u.d));
    ck_assert(isnan(run(LS_AGG_AVG, b, 2).u.d));
    ls_value inf[] = { ls_double(INFINITY), ls_double(-INFINITY) };
    ck_assert(isnan(run(LS_AGG_SUM, inf, 2).u.d));
    ck_assert(isinf(run(LS_AGG_MAX, inf, 2).u.d));
    ls_value z[] = { ls_double(0.0), ls_double(-0.0) }, z2[] = { ls_double(-0.0), ls_double(0.0) };
    ck_assert(signbit(run(LS_AGG_MIN, z, 2).u.d) && signbit(run(LS_AGG_MIN, z2, 2).u.d));
    ck_assert(!signbit(run(LS_AGG_MAX, z, 2).u.d) && !signbit(run(LS_AGG_MAX, z2, 2).u.d));
    /* strings: byte order (UTF-8 code points), an owned copy */
    ls_acc acc;
    ls_acc_init(&acc);
    char buf[8] = "pear";
    ls_value s1 = ls_str(buf, 4), s2 = ls_str("apple", 5), s3 = ls_str("\xc3\xa9", 2);
    ck_assert_int_eq(ls_acc_update(&acc, LS_AGG_MIN, &s1, NULL), 0);
    memcpy(buf, "zzzz", 4); /* the accumulator kept its own copy */
    ck_assert_int_eq(ls_acc_update(&acc, LS_AGG_MIN, &s2, NULL), 0);
    ck_assert_int_eq(ls_acc_update(&acc, LS_AGG_MIN, &s3, NULL), 0);
    ls_value r = ls_acc_result(&acc, LS_AGG_MIN);
    ck_assert_int_eq(r.type, LS_STR);
    ck_assert_uint_eq(r.u.s.n, 5);
    ck_assert_int_eq(memcmp(r.u.s.p, "apple", 5), 0);
    ck_assert_uint_eq(ls_acc_extra_bytes(&acc), 10); /* its allocation: length, bytes, NUL */
    /* merging string accumulators */
    ls_acc other;
    ls_acc_init(&other);
    ls_value s4 = ls_str("aardvark", 8);
    ck_assert_int_eq(ls_acc_update(&other, LS_AGG_MIN, &s4, NULL), 0);
    ls_acc_merge(&acc, &other, LS_AGG_MIN);
    r = ls_acc_result(&acc, LS_AGG_MIN);
    ck_assert_uint_eq(r.u.s.n, 8);
    ck_assert_int_eq(acc.n, 4);
    ls_acc_release(&acc);
    ls_acc_release(&other);
    ck_assert_int_eq(acc.n, 0);
    /* mixed kinds: booleans < numbers < strings, whatever the order */
    ls_value t;
    t.type = LS_BOOL;
    t.u.b = 1;
    ls_value m1[] = { ls_str("x", 1), ls_int(5), t }, m2[] = { t, ls_str("x", 1), ls_int(5) };
    ls_acc x, y;
    ls_acc_init(&x);
    ls_acc_init(&y);
    for (int i = 0; i < 3; i++) {
        ls_acc_update(&x, LS_AGG_MAX, &m1[i], NULL);
        ls_acc_update(&y, LS_AGG_MAX, &m2[i], NULL);
    }
    ck_assert_int_eq(ls_acc_result(&x, LS_AGG_MAX).type, LS_STR);
    ck_assert_int_eq(ls_acc_result(&y, LS_AGG_MAX).type, LS_STR);
    ls_acc_release(&x);
    ls_acc_release(&y);
}
END_TEST

START_TEST(agg_zero_inputs)
{
    ls_acc a;
    ls_acc_init(&a);
    ls_value r = ls_acc_result(&a, LS_AGG_COUNT);
    ck_assert_int_eq(r.type, LS_INT);
    ck_assert_int_eq(r.u.i, 0);
    ck_assert_int_eq(ls_acc_result(&a, LS_AGG_SUM).type, LS_NULL);
    ck_assert_int_eq(ls_acc_result(&a, LS_AGG_MIN).type, LS_NULL);
    ck_assert_int_eq(ls_acc_result(&a, LS_AGG_MAX).type, LS_NULL);
    ck_assert_int_eq(ls_acc_result(&a, LS_AGG_AVG).type, LS_NULL);
    /* only nulls is the same as nothing */
    ls_value nulls[] = { ls_null(), ls_null() };
    ck_assert_int_eq(run(LS_AGG_SUM, nulls, 2).type, LS_NULL);
    ck_assert_int_eq(run(LS_AGG_AVG, nulls, 2).type, LS_NULL);
    r = run(LS_AGG_COUNT, nulls, 2);
    ck_assert_int_eq(r.u.i, 0);
}
END_TEST

START_TEST(agg_acc_is_24_bytes)
{
    ck_assert_uint_eq(sizeof(ls_acc), 24);
}
END_TEST

Suite *agg_suite(void)
{
    Suite *s = suite_create("agg");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, agg_parse_names);
    tcase_add_test(tc, agg_count_star_vs_column);
    tcase_add_test(tc, agg_sum_ints_stays_int);
    tcase_add_test(tc, agg_sum_mixed);
    tcase_add_test(tc, agg_sum_int_at_limit);
    tcase_add_test(tc, agg_min_max);
    tcase_add_test(tc, agg_avg);
    tcase_add_test(tc, agg_non_number);
    tcase_add_test(tc, agg_prepare_casts);
    tcase_add_test(tc, agg_nan_and_strings);
    tcase_add_test(tc, agg_zero_inputs);
    tcase_add_test(tc, agg_acc_is_24_bytes);
    suite_add_tcase(s, tc);
    tc = tcase_create("regressions");
    tcase_add_test(tc, agg_sum_overflow_switches_to_double);
    tcase_add_test(tc, agg_min_max_large_ints_exact);
    suite_add_tcase(s, tc);
    return s;
}
