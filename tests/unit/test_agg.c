/* test_agg.c - accumulators of count/sum/min/max/avg. */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>

#include "ls_agg.h"
#include "suites.h"

static ls_value run(ls_agg_fn fn, const ls_value *vals, size_t n)
{
    ls_acc a;
    ls_acc_init(&a);
    char err[LS_ERRLEN];
    for (size_t i = 0; i < n; i++) ck_assert_int_eq(ls_acc_update(&a, fn, &vals[i], err), 0);
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

START_TEST(agg_non_number)
{
    ls_agg_fn fns[] = { LS_AGG_SUM, LS_AGG_MIN, LS_AGG_MAX, LS_AGG_AVG };
    ls_value bad[2];
    bad[0] = ls_str("12", 2);
    bad[1].type = LS_BOOL;
    bad[1].u.b = 1;
    for (int f = 0; f < 4; f++)
        for (int b = 0; b < 2; b++) {
            ls_acc a;
            ls_acc_init(&a);
            char err[LS_ERRLEN] = "";
            ls_value one = ls_int(1);
            ck_assert_int_eq(ls_acc_update(&a, fns[f], &one, err), 0);
            ck_assert_int_eq(ls_acc_update(&a, fns[f], &bad[b], err), -1);
            char want[64];
            snprintf(want, sizeof want, "%s: value is not a number", ls_agg_fn_name(fns[f]));
            ck_assert_str_eq(err, want);
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
    tcase_add_test(tc, agg_zero_inputs);
    tcase_add_test(tc, agg_acc_is_24_bytes);
    suite_add_tcase(s, tc);
    tc = tcase_create("regressions");
    tcase_add_test(tc, agg_sum_overflow_switches_to_double);
    tcase_add_test(tc, agg_min_max_large_ints_exact);
    suite_add_tcase(s, tc);
    return s;
}
