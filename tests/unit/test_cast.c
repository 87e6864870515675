/* test_cast.c - Spark's casts from text (ls_cast_*) and of JSON values to a
 * schema's types (ls_cast_value). */
#include <check.h>
#include <math.h>
#include <string.h>

#include "ls_cast.h"
#include "suites.h"

static double dbl_ok(const char *s)
{
    double d = -12345;
    ck_assert_msg(ls_cast_double(s, strlen(s), &d) == 0, "\"%s\" should cast to double", s);
    return d;
}

static void dbl_null(const char *s)
{
    double d = -12345;
    ck_assert_msg(ls_cast_double(s, strlen(s), &d) == -1, "\"%s\" should be null", s);
    ck_assert_double_eq(d, -12345);
}

START_TEST(cast_double_accepts)
{
    ck_assert_double_eq(dbl_ok("7"), 7);
    ck_assert_double_eq(dbl_ok(" 7"), 7);
    ck_assert_double_eq(dbl_ok("7 "), 7);
    ck_assert_double_eq(dbl_ok("\t7\n"), 7);
    ck_assert_double_eq(dbl_ok("1e3"), 1000);
    ck_assert_double_eq(dbl_ok("1E3"), 1000);
    ck_assert_double_eq(dbl_ok("7."), 7);
    ck_assert_double_eq(dbl_ok(".5"), 0.5);
    ck_assert_double_eq(dbl_ok("+5"), 5);
    ck_assert_double_eq(dbl_ok("-2.5e-1"), -0.25);
    ck_assert(signbit(dbl_ok("-0")));
    ck_assert_double_eq(dbl_ok("1.5d"), 1.5); /* Java's type suffixes */
    ck_assert_double_eq(dbl_ok("1.5F"), 1.5);
    ck_assert_double_eq(dbl_ok("0x1p3"), 8);  /* Java's hexadecimal literal */
    ck_assert_double_eq(dbl_ok("0x1.8P1"), 3);
    ck_assert(isnan(dbl_ok("NaN")));
    ck_assert(isnan(dbl_ok("nan")));
    ck_assert(isnan(dbl_ok("-NaN")));
    ck_assert(isinf(dbl_ok("Infinity")) && dbl_ok("Infinity") > 0);
    ck_assert(dbl_ok("-Infinity") < 0 && isinf(dbl_ok("-Infinity")));
    ck_assert(isinf(dbl_ok("inf")) && isinf(dbl_ok("+INF")) && dbl_ok("-inf") < 0);
    ck_assert(isinf(dbl_ok("1e400")));
    ck_assert_double_eq(dbl_ok("1e-400"), 0);
    ck_assert_double_eq(dbl_ok("9007199254740993"), 9007199254740992.0);
}
END_TEST

START_TEST(cast_double_rejects)
{
    dbl_null("0x10"); /* hex without its p exponent */
    dbl_null("1_000");
    dbl_null("1,000");
    dbl_null("");
    dbl_null(" ");
    dbl_null("abc");
    dbl_null("true");
    dbl_null("--5");
    dbl_null("1e");
    dbl_null("e3");
    dbl_null(".");
    dbl_null("1.5dd");
    dbl_null("infinityy");
    dbl_null("7 7");
    /* n bounds the input */
    double d = 0;
    ck_assert_int_eq(ls_cast_double("12junk", 2, &d), 0);
    ck_assert_double_eq(d, 12);
}
END_TEST

START_TEST(cast_integral_and_bool)
{
    int64_t v = 0;
    ck_assert_int_eq(ls_cast_bigint(" -42 ", 5, &v), 0);
    ck_assert_int_eq(v, -42);
    ck_assert_int_eq(ls_cast_bigint("9223372036854775807", 19, &v), 0);
    ck_assert_int_eq(v, INT64_MAX);
    ck_assert_int_eq(ls_cast_bigint("-9223372036854775808", 20, &v), 0);
    ck_assert_int_eq(v, INT64_MIN);
    ck_assert_int_eq(ls_cast_bigint("9223372036854775808", 19, &v), -1);
    ck_assert_int_eq(ls_cast_bigint("7.5", 3, &v), -1);
    ck_assert_int_eq(ls_cast_bigint("1e3", 3, &v), -1);
    ck_assert_int_eq(ls_cast_bigint("+", 1, &v), -1);
    ck_assert_int_eq(ls_cast_int("2147483647", 10, &v), 0);
    ck_assert_int_eq(ls_cast_int("2147483648", 10, &v), -1);
    int b = -1;
    ck_assert_int_eq(ls_cast_bool(" TRUE ", 6, &b), 0);
    ck_assert_int_eq(b, 1);
    ck_assert_int_eq(ls_cast_bool("n", 1, &b), 0);
    ck_assert_int_eq(b, 0);
    ck_assert_int_eq(ls_cast_bool("0", 1, &b), 0);
    ck_assert_int_eq(ls_cast_bool("ture", 4, &b), -1);
}
END_TEST

START_TEST(cast_values_to_types)
{
    ls_buf scratch;
    ls_buf_init(&scratch);
    ls_type t;
    ck_assert_int_eq(ls_type_parse("long", &t), 0);
    ck_assert_int_eq(t, LS_TYPE_BIGINT);
    ck_assert_int_eq(ls_type_parse("varchar", &t), -1);
    ck_assert_str_eq(ls_type_name(LS_TYPE_TIMESTAMP), "timestamp");

    ls_value v = ls_str("7", 1);
    ck_assert_int_eq(ls_cast_value(LS_TYPE_INT, &v, &scratch), 0);
    ck_assert_int_eq(v.type, LS_INT);
    /* numbers and booleans are read as their JSON text, then cast: as Spark's
     * try_cast of a string column */
    v = ls_double(7.9);
    ck_assert_int_eq(ls_cast_value(LS_TYPE_BIGINT, &v, &scratch), 1); /* "7.9" is no bigint */
    ck_assert_int_eq(v.type, LS_NULL);
    v = ls_double(7.0);
    ck_assert_int_eq(ls_cast_value(LS_TYPE_BIGINT, &v, &scratch), 1); /* nor "7.0" */
    v = ls_int(5000000000LL);
    ck_assert_int_eq(ls_cast_value(LS_TYPE_INT, &v, &scratch), 1);
    v = ls_int(-3);
    ck_assert_int_eq(ls_cast_value(LS_TYPE_BIGINT, &v, &scratch), 0);
    ck_assert_int_eq(v.u.i, -3);
    v.type = LS_BOOL;
    v.u.b = 1;
    ck_assert_int_eq(ls_cast_value(LS_TYPE_DOUBLE, &v, &scratch), 1); /* "true" is no double */
    v.type = LS_BOOL;
    v.u.b = 0;
    ck_assert_int_eq(ls_cast_value(LS_TYPE_STRING, &v, &scratch), 0);
    ck_assert_uint_eq(v.u.s.n, 5);
    ck_assert_int_eq(memcmp(v.u.s.p, "false", 5), 0);
    v = ls_double(5.0);
    ck_assert_int_eq(ls_cast_value(LS_TYPE_STRING, &v, &scratch), 0);
    ck_assert_int_eq(memcmp(v.u.s.p, "5.0", 3), 0);
    v = ls_str("0x10", 4);
    ck_assert_int_eq(ls_cast_value(LS_TYPE_DOUBLE, &v, &scratch), 1);
    v = ls_int(3);
    ck_assert_int_eq(ls_cast_value(LS_TYPE_DOUBLE, &v, &scratch), 0);
    ck_assert_int_eq(v.type, LS_DOUBLE);
    v = ls_int(42);
    ck_assert_int_eq(ls_cast_value(LS_TYPE_STRING, &v, &scratch), 0);
    ck_assert_int_eq(v.type, LS_STR);
    ck_assert_int_eq(memcmp(v.u.s.p, "42", 2), 0);
    v = ls_str("yes", 3);
    ck_assert_int_eq(ls_cast_value(LS_TYPE_BOOLEAN, &v, &scratch), 0);
    ck_assert_int_eq(v.type, LS_BOOL);
    ck_assert_int_eq(v.u.b, 1);
    v = ls_str("2018-12-31 23:57:00", 19);
    ck_assert_int_eq(ls_cast_value(LS_TYPE_TIMESTAMP, &v, &scratch), 0);
    ck_assert_int_eq(v.type, LS_TIME);
    ck_assert_int_eq(v.u.i, 1546300620000LL);
    v = ls_int(1546300620); /* seconds, as Spark casts numbers */
    ck_assert_int_eq(ls_cast_value(LS_TYPE_TIMESTAMP, &v, &scratch), 0);
    ck_assert_int_eq(v.u.i, 1546300620000LL);
    v = ls_double(1.5);
    ck_assert_int_eq(ls_cast_value(LS_TYPE_TIMESTAMP, &v, &scratch), 0);
    ck_assert_int_eq(v.u.i, 1500);
    v = ls_str("23:59:60", 8);
    ck_assert_int_eq(ls_cast_value(LS_TYPE_TIMESTAMP, &v, &scratch), 1);
    v = ls_null();
    ck_assert_int_eq(ls_cast_value(LS_TYPE_INT, &v, &scratch), 0); /* null stays null */
    ls_buf_free(&scratch);
}
END_TEST

Suite *cast_suite(void)
{
    Suite *s = suite_create("cast");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, cast_double_accepts);
    tcase_add_test(tc, cast_double_rejects);
    tcase_add_test(tc, cast_integral_and_bool);
    tcase_add_test(tc, cast_values_to_types);
    suite_add_tcase(s, tc);
    return s;
}
