/* test_time.c - ls_time_parse / ls_time_format / ls_duration_parse. */
#include <check.h>
#include <string.h>

#include "ls_time.h"
#include "suites.h"

static int64_t parse_ok(const char *s)
{
    int64_t ms = 12345;
    ck_assert_msg(ls_time_parse(s, strlen(s), &ms) == 0, "expected \"%s\" to parse", s);
    return ms;
}

static void parse_bad(const char *s)
{
    int64_t ms = 777;
    ck_assert_msg(ls_time_parse(s, strlen(s), &ms) == -1, "expected \"%s\" to be rejected", s);
    ck_assert_int_eq(ms, 777); /* untouched on failure */
}

START_TEST(time_parse_variants)
{
    const int64_t base = 1546300620000LL; /* 2018-12-31T23:57:00Z */
    ck_assert_int_eq(parse_ok("2018-12-31T23:57:00.000"), base);
    ck_assert_int_eq(parse_ok("2018-12-31T23:57:00"), base);
    ck_assert_int_eq(parse_ok("2018-12-31 23:57:00"), base);
    ck_assert_int_eq(parse_ok("2018-12-31T23:57:00Z"), base);
    ck_assert_int_eq(parse_ok("2018-12-31T23:57:00.000Z"), base);
    ck_assert_int_eq(parse_ok("2018-12-31T23:57"), base);
    ck_assert_int_eq(parse_ok("2018-12-31T23:57:00.123"), base + 123);
    ck_assert_int_eq(parse_ok("2018-12-31T23:57:00.1"), base + 100);
    ck_assert_int_eq(parse_ok("2018-12-31T23:57:00.12"), base + 120);
    ck_assert_int_eq(parse_ok("2018-12-31T23:57:00.123456"), base + 123); /* truncated to ms */
    ck_assert_int_eq(parse_ok("2018-12-31T23:57:00.123Z"), base + 123);
    /* offsets: local time minus the offset */
    ck_assert_int_eq(parse_ok("2019-01-01T00:57:00+01:00"), base);
    ck_assert_int_eq(parse_ok("2019-01-01T00:57:00+0100"), base);
    ck_assert_int_eq(parse_ok("2018-12-31T22:57:00-01:00"), base);
    ck_assert_int_eq(parse_ok("2018-12-31T23:57:00+00:00"), base);
    ck_assert_int_eq(parse_ok("2019-01-01T05:27:00.000+05:30"), base);
    /* date only */
    ck_assert_int_eq(parse_ok("2018-12-31"), 1546214400000LL);
    ck_assert_int_eq(parse_ok("1970-01-01"), 0);
    /* leap day */
    ck_assert_int_eq(parse_ok("2020-02-29T12:00:00Z"), 1582977600000LL);
    /* surrounding whitespace is tolerated */
    ck_assert_int_eq(parse_ok(" 2018-12-31T23:57:00Z "), base);
}
END_TEST

START_TEST(time_parse_negative_epoch)
{
    ck_assert_int_eq(parse_ok("1969-12-31T23:59:59Z"), -1000);
    ck_assert_int_eq(parse_ok("1969-12-31T23:59:59.500Z"), -500);
    ck_assert_int_eq(parse_ok("1960-01-01"), -315619200000LL);
}
END_TEST

START_TEST(time_parse_length_bounded)
{
    /* n limits the input: the rest of the buffer is not read */
    const char *s = "2018-12-31T23:57:00Zjunk";
    int64_t ms = 0;
    ck_assert_int_eq(ls_time_parse(s, 20, &ms), 0);
    ck_assert_int_eq(ms, 1546300620000LL);
    ck_assert_int_eq(ls_time_parse(s, strlen(s), &ms), -1);
}
END_TEST

START_TEST(time_parse_rejects)
{
    parse_bad("2018-02-30");
    parse_bad("2018-02-29T00:00:00");  /* 2018 is not a leap year */
    parse_bad("2018-04-31");
    parse_bad("2018-13-01");
    parse_bad("2018-00-10");
    parse_bad("2018-01-00");
    parse_bad("2018-12-31T25:00");
    parse_bad("2018-12-31T25:00:00");
    parse_bad("2018-12-31T23:60:00");
    parse_bad("garbage");
    parse_bad("2018-12-31T23:57:00Zjunk");
    parse_bad("2018-12-31T23:57:00 x");
    parse_bad("2018-12-31x");
    parse_bad("");
    parse_bad("   ");
    parse_bad("18-12-31");
    parse_bad("2018/12/31");
    parse_bad("2018-12-31T23:57:00+25:00");
    parse_bad("2018-12-31T23:57:00+01:99");
    /* refused by Spark's cast too */
    parse_bad("2018-12-31T23:59:60");    /* no leap seconds */
    parse_bad("2018-12-31T24:00:00");
    parse_bad("2018-12-31T23:57:00,5");  /* a comma fraction */
    parse_bad("2018-12-31T23:57Z");      /* a zone needs the seconds */
    parse_bad("2018-12-31T");
    parse_bad("2018-12-31Z");
    parse_bad("20181231");
    parse_bad("201-12-31");
    parse_bad("1234567-01-01");          /* seven-digit year */
    parse_bad("2018-012-01");
    parse_bad("2018-12-31T23:57:00z");   /* zone IDs are case-sensitive */
    parse_bad("2018-12-31T23:57:00+19:00");
    /* refused on purpose (Spark would take today's date, or needs tzdata) */
    parse_bad("12:00:00");
    parse_bad("T12:00:00");
    parse_bad("2018-12-31T23:57:00 Europe/Paris");
    parse_bad("2018-12-31T23:57:00PST");
}
END_TEST

/* What Spark's string-to-timestamp cast accepts (DateTimeUtils.stringToTimestamp). */
START_TEST(time_parse_spark_forms)
{
    const int64_t day = 1546214400000LL;  /* 2018-12-31T00:00:00Z */
    const int64_t base = 1546300620000LL; /* 2018-12-31T23:57:00Z */
    ck_assert_int_eq(parse_ok("2018"), 1514764800000LL);
    ck_assert_int_eq(parse_ok("2018-12"), 1543622400000LL);
    ck_assert_int_eq(parse_ok("2018-1-5"), 1515110400000LL);
    ck_assert_int_eq(parse_ok("2018-12-31 "), day);
    ck_assert_int_eq(parse_ok("2018-12-31T23"), day + 23 * 3600000LL);
    ck_assert_int_eq(parse_ok("2018-12-31 9:5:7"), day + 9 * 3600000LL + 5 * 60000 + 7000);
    ck_assert_int_eq(parse_ok("2018-12-31T23:57:00."), base);
    ck_assert_int_eq(parse_ok("2018-12-31T23:57:00.123456789"), base + 123);
    ck_assert_int_eq(parse_ok("2018-12-31T23:57:00.1234567891"), base + 123);
    ck_assert_int_eq(parse_ok("2018-12-31 23:57:00 UTC"), base);
    ck_assert_int_eq(parse_ok("2018-12-31T23:57:00GMT"), base);
    ck_assert_int_eq(parse_ok("2018-12-31T23:57:00UT"), base);
    ck_assert_int_eq(parse_ok("2019-01-01T00:57:00GMT+01:00"), base);
    ck_assert_int_eq(parse_ok("2019-01-01T00:57:00UTC+1"), base);
    ck_assert_int_eq(parse_ok("2019-01-01T00:57:00+1:00"), base);
    ck_assert_int_eq(parse_ok("2019-01-01T00:57:00+01"), base);
    ck_assert_int_eq(parse_ok("2019-01-01T00:57:30+01:00:30"), base);
    ck_assert_int_eq(parse_ok("2019-01-01T00:57:30+010030"), base);
    ck_assert_int_eq(parse_ok("2018-12-31T18:57:00EST"), base);
    ck_assert_int_eq(parse_ok("2018-12-31T15:57:00.000-08:00"), base);
    ck_assert_int_eq(parse_ok("\t2018-12-31T23:57:00Z\n"), base);
    ck_assert_int_eq(parse_ok("0000-01-01"), -62167219200000LL);
    ck_assert_int_eq(parse_ok("-0001-01-01"), -62198755200000LL);
    ck_assert_int_eq(parse_ok("+10000-01-01"), 253402300800000LL);
}
END_TEST

static void fmt_is(int64_t ms, const char *want)
{
    char out[32];
    size_t n = ls_time_format(ms, out);
    ck_assert_str_eq(out, want);
    ck_assert_uint_eq(n, strlen(want));
}

START_TEST(time_format_values)
{
    fmt_is(0, "1970-01-01T00:00:00Z");
    fmt_is(1546300620000LL, "2018-12-31T23:57:00Z");
    fmt_is(1546300620123LL, "2018-12-31T23:57:00.123Z");
    fmt_is(1546300620005LL, "2018-12-31T23:57:00.005Z");
    fmt_is(-1, "1969-12-31T23:59:59.999Z");
    fmt_is(-500, "1969-12-31T23:59:59.500Z");
    fmt_is(-1000, "1969-12-31T23:59:59Z");
    fmt_is(-1500, "1969-12-31T23:59:58.500Z");
    fmt_is(-315619200000LL, "1960-01-01T00:00:00Z");
}
END_TEST

START_TEST(time_format_round_trip)
{
    static const int64_t samples[] = { 0, 1, 999, 1000, 1546300620000LL, 1546300620123LL,
                                       -1, -999, -1000, -1001, -86400000LL, 1582977600000LL,
                                       253402300799999LL /* 9999-12-31T23:59:59.999Z */ };
    for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++) {
        char out[32];
        size_t n = ls_time_format(samples[i], out);
        int64_t back = 0;
        ck_assert_msg(ls_time_parse(out, n, &back) == 0, "cannot parse back %s", out);
        ck_assert_int_eq(back, samples[i]);
    }
}
END_TEST

static int64_t dur_ok(const char *s)
{
    int64_t ms = -42;
    ck_assert_msg(ls_duration_parse(s, &ms) == 0, "expected duration \"%s\" to parse", s);
    return ms;
}

START_TEST(duration_parse_values)
{
    ck_assert_int_eq(dur_ok("500 milliseconds"), 500);
    ck_assert_int_eq(dur_ok("2 seconds"), 2000);
    ck_assert_int_eq(dur_ok("1 second"), 1000);
    ck_assert_int_eq(dur_ok("1 minute"), 60000);
    ck_assert_int_eq(dur_ok("10 minutes"), 600000);
    ck_assert_int_eq(dur_ok("60 minutes"), 3600000);
    ck_assert_int_eq(dur_ok("1 hour"), 3600000);
    ck_assert_int_eq(dur_ok("2 hours"), 7200000);
    ck_assert_int_eq(dur_ok("1 day"), 86400000);
    ck_assert_int_eq(dur_ok("2s"), 2000);
    ck_assert_int_eq(dur_ok("500ms"), 500);
    ck_assert_int_eq(dur_ok("1m"), 60000);
    ck_assert_int_eq(dur_ok("1h"), 3600000);
    ck_assert_int_eq(dur_ok("1d"), 86400000);
    ck_assert_int_eq(dur_ok("0 seconds"), 0);
    ck_assert_int_eq(dur_ok("1.5 seconds"), 1500);
    ck_assert_int_eq(dur_ok("interval 10 minutes"), 600000);
    ck_assert_int_eq(dur_ok("  10 Minutes  "), 600000);
}
END_TEST

START_TEST(duration_parse_rejects)
{
    static const char *const bad[] = { "", "abc", "10 parsecs", "-1s", "10", "s", "10 minutes x",
                                       "ten minutes", "   ", "1 m s" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t ms = -42;
        ck_assert_msg(ls_duration_parse(bad[i], &ms) == -1, "expected \"%s\" to be rejected",
                      bad[i]);
        ck_assert_int_eq(ms, -42);
    }
    int64_t ms = -42;
    ck_assert_int_eq(ls_duration_parse(NULL, &ms), -1);
}
END_TEST

/* Regression (was a bug in ls_time.c, ls_duration_parse): the value is bounded (v <= 1e15)
 * before the unit is applied, so "1000000000000 days" (8.64e19 ms) does not
 * fit in int64 and the double -> int64_t conversion is undefined; on x86-64
 * it yields INT64_MIN, i.e. a negative duration is accepted (e.g. as a
 * watermark delay or window size).  Expected: -1 (rejected). */
START_TEST(duration_parse_overflow_rejected)
{
    static const char *const huge[] = { "1000000000000 days", "999999999999999 weeks",
                                        "100000000000000 hours" };
    for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++) {
        int64_t ms = 0;
        int rc = ls_duration_parse(huge[i], &ms);
        ck_assert_msg(rc == -1, "\"%s\" accepted as %lld ms", huge[i], (long long)ms);
    }
}
END_TEST

Suite *time_suite(void)
{
    Suite *s = suite_create("time");
    TCase *tc = tcase_create("parse");
    tcase_add_test(tc, time_parse_variants);
    tcase_add_test(tc, time_parse_negative_epoch);
    tcase_add_test(tc, time_parse_length_bounded);
    tcase_add_test(tc, time_parse_rejects);
    tcase_add_test(tc, time_parse_spark_forms);
    suite_add_tcase(s, tc);
    tc = tcase_create("format");
    tcase_add_test(tc, time_format_values);
    tcase_add_test(tc, time_format_round_trip);
    suite_add_tcase(s, tc);
    tc = tcase_create("duration");
    tcase_add_test(tc, duration_parse_values);
    tcase_add_test(tc, duration_parse_rejects);
    suite_add_tcase(s, tc);
    tc = tcase_create("regressions");
    tcase_add_test(tc, duration_parse_overflow_rejected);
    suite_add_tcase(s, tc);
    return s;
}
