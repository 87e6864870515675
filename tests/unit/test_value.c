/* test_value.c - ls_value key encoding, hashing and rendering. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <yajl_gen.h>

#include "ls_value.h"
#include "suites.h"

static ls_value boolean(int b)
{
    ls_value v;
    v.type = LS_BOOL;
    v.u.b = b;
    return v;
}

static ls_value window(int64_t s, int64_t e)
{
    ls_value v;
    v.type = LS_WINDOW;
    v.u.w.start = s;
    v.u.w.end = e;
    return v;
}

START_TEST(key_round_trip_every_type)
{
    static const char bin[] = "a\0b\xff";
    ls_value in[] = {
        ls_null(), boolean(1), boolean(0), ls_int(0), ls_int(-1), ls_int(INT64_MAX),
        ls_int(INT64_MIN), ls_double(2.5), ls_double(-1e300), ls_str("hello", 5),
        ls_str("", 0), ls_str(bin, 4), window(1546300200000LL, 1546300800000LL),
        window(-600000, 0), ls_timestamp(1546300800123LL),
    };
    size_t n = sizeof in / sizeof in[0];
    ls_buf key;
    ls_buf_init(&key);
    for (size_t i = 0; i < n; i++) ls_key_put(&key, &in[i]);
    size_t pos = 0;
    for (size_t i = 0; i < n; i++) {
        ls_value out;
        memset(&out, 0xab, sizeof out);
        ck_assert_int_eq(ls_key_get(key.data, key.len, &pos, &out), 0);
        ck_assert_int_eq(out.type, in[i].type);
        switch (in[i].type) {
        case LS_NULL: break;
        case LS_BOOL: ck_assert_int_eq(out.u.b, in[i].u.b); break;
        case LS_INT: ck_assert_int_eq(out.u.i, in[i].u.i); break;
        case LS_DOUBLE: ck_assert_double_eq(out.u.d, in[i].u.d); break;
        case LS_STR:
            ck_assert_uint_eq(out.u.s.n, in[i].u.s.n);
            ck_assert_int_eq(memcmp(out.u.s.p, in[i].u.s.p, in[i].u.s.n), 0);
            ck_assert(out.u.s.p >= key.data && out.u.s.p <= key.data + key.len); /* points into key */
            break;
        case LS_WINDOW:
            ck_assert_int_eq(out.u.w.start, in[i].u.w.start);
            ck_assert_int_eq(out.u.w.end, in[i].u.w.end);
            break;
        case LS_TIME: ck_assert_int_eq(out.u.i, in[i].u.i); break;
        case LS_LIST: ck_abort_msg("a list is never a group key"); break;
        }
    }
    ck_assert_uint_eq(pos, key.len);
    ls_value extra;
    ck_assert_int_eq(ls_key_get(key.data, key.len, &pos, &extra), -1); /* past the end */
    ls_buf_free(&key);
}
END_TEST

START_TEST(key_malformed)
{
    ls_value v;
    size_t pos = 0;
    ck_assert_int_eq(ls_key_get("X", 1, &pos, &v), -1);
    ck_assert_uint_eq(pos, 0);
    ck_assert_int_eq(ls_key_get("I123", 4, &pos, &v), -1); /* truncated int */
    ck_assert_int_eq(ls_key_get("D1", 2, &pos, &v), -1);
    ck_assert_int_eq(ls_key_get("S\x05\0\0\0ab", 7, &pos, &v), -1); /* string longer than key */
    ck_assert_int_eq(ls_key_get("S\x01\0", 3, &pos, &v), -1);
    ck_assert_int_eq(ls_key_get("W12345678", 9, &pos, &v), -1);
    ck_assert_int_eq(ls_key_get("", 0, &pos, &v), -1);
    ck_assert_uint_eq(pos, 0);
}
END_TEST

static void key_of(const ls_value *v, ls_buf *b)
{
    ls_buf_reset(b);
    ls_key_put(b, v);
}

START_TEST(key_int_and_integral_double_equal)
{
    ls_buf a, b;
    ls_buf_init(&a);
    ls_buf_init(&b);
    ls_value three = ls_int(3), threed = ls_double(3.0);
    key_of(&three, &a);
    key_of(&threed, &b);
    ck_assert_uint_eq(a.len, b.len);
    ck_assert_int_eq(memcmp(a.data, b.data, a.len), 0);
    ck_assert_uint_eq(ls_hash(a.data, a.len), ls_hash(b.data, b.len));
    /* 3.0 decodes as the integer 3 */
    size_t pos = 0;
    ls_value out;
    ck_assert_int_eq(ls_key_get(b.data, b.len, &pos, &out), 0);
    ck_assert_int_eq(out.type, LS_INT);
    ck_assert_int_eq(out.u.i, 3);
    /* -0.0 and 0 */
    ls_value z = ls_int(0), nz = ls_double(-0.0);
    key_of(&z, &a);
    key_of(&nz, &b);
    ck_assert_int_eq(memcmp(a.data, b.data, a.len), 0);
    /* 3.5 differs from 3; "3" differs from 3; true differs from 1 */
    ls_value f = ls_double(3.5), s = ls_str("3", 1), t = boolean(1), one = ls_int(1);
    key_of(&three, &a);
    key_of(&f, &b);
    ck_assert(a.len != b.len || memcmp(a.data, b.data, a.len) != 0);
    key_of(&s, &b);
    ck_assert(a.len != b.len || memcmp(a.data, b.data, a.len) != 0);
    key_of(&t, &a);
    key_of(&one, &b);
    ck_assert(a.len != b.len || memcmp(a.data, b.data, a.len) != 0);
    /* tuples: ("ab","c") differs from ("a","bc") */
    ls_value ab = ls_str("ab", 2), c = ls_str("c", 1), a1 = ls_str("a", 1), bc = ls_str("bc", 2);
    ls_buf_reset(&a);
    ls_key_put(&a, &ab);
    ls_key_put(&a, &c);
    ls_buf_reset(&b);
    ls_key_put(&b, &a1);
    ls_key_put(&b, &bc);
    ck_assert(a.len != b.len || memcmp(a.data, b.data, a.len) != 0);
    ls_buf_free(&a);
    ls_buf_free(&b);
}
END_TEST

START_TEST(hash_basics)
{
    ck_assert_uint_eq(ls_hash("abc", 3), ls_hash("abc", 3));
    ck_assert_uint_ne(ls_hash("abc", 3), ls_hash("abd", 3));
    ck_assert_uint_ne(ls_hash("abc", 3), ls_hash("abc", 2));
    ck_assert_uint_ne(ls_hash("", 0), ls_hash("\0", 1));
}
END_TEST

static char *json_of(const ls_value *v)
{
    yajl_gen g = yajl_gen_alloc(NULL);
    ck_assert_int_eq(ls_value_json(g, v), yajl_gen_status_ok);
    const unsigned char *p;
    size_t n;
    yajl_gen_get_buf(g, &p, &n);
    char *s = strndup((const char *)p, n);
    yajl_gen_free(g);
    return s;
}

static void json_is(ls_value v, const char *want)
{
    char *s = json_of(&v);
    ck_assert_str_eq(s, want);
    free(s);
}

START_TEST(value_json_rendering)
{
    json_is(ls_null(), "null");
    json_is(boolean(1), "true");
    json_is(boolean(0), "false");
    json_is(ls_int(-42), "-42");
    json_is(ls_int(INT64_MAX), "9223372036854775807");
    json_is(ls_double(2.5), "2.5");
    json_is(ls_double(3.0), "3.0"); /* a double says it is one, as Spark's to_json */
    json_is(ls_double(-0.0), "-0.0");
    /* the shortest text that reads back to the same double, no rounding noise */
    json_is(ls_double(448.99), "448.99");
    json_is(ls_double(64.141428571428577), "64.14142857142858");
    json_is(ls_double(0.1 + 0.2), "0.30000000000000004");
    json_is(ls_double(1e21), "1e+21");
    json_is(ls_double(1e-5), "1e-05");
    json_is(ls_double(123456789012.5), "123456789012.5");
    json_is(ls_double(1e15), "1e+15");
    json_is(ls_double(123456789012345.0), "123456789012345.0");
    json_is(ls_double(5e-324), "4.94065645841247e-324"); /* reads back exactly */
    /* JSON has no NaN or infinities: strings, as Spark's to_json writes them */
    json_is(ls_double(NAN), "\"NaN\"");
    json_is(ls_double(INFINITY), "\"Infinity\"");
    json_is(ls_double(-INFINITY), "\"-Infinity\"");
    json_is(ls_timestamp(1546300620000LL), "\"2018-12-31T23:57:00.000Z\"");
    json_is(ls_str("a\"b\n", 4), "\"a\\\"b\\n\"");
    json_is(window(1546300200000LL, 1546300800000LL),
            "{\"start\":\"2018-12-31T23:50:00.000Z\",\"end\":\"2019-01-01T00:00:00.000Z\"}");
    json_is(window(1500, 2500), "{\"start\":\"1970-01-01T00:00:01.500Z\","
                                "\"end\":\"1970-01-01T00:00:02.500Z\"}");
}
END_TEST

static void text_is(ls_value v, const char *want)
{
    ls_buf b;
    ls_buf_init(&b);
    ls_value_text(&b, &v);
    ck_assert_str_eq(b.data, want);
    ls_buf_free(&b);
}

START_TEST(value_text_rendering)
{
    text_is(ls_null(), "null");
    text_is(boolean(1), "true");
    text_is(ls_int(-7), "-7");
    text_is(ls_double(3.0), "3.0");
    text_is(ls_double(0.5), "0.5");
    text_is(ls_double(198.99), "198.99");
    text_is(ls_double(NAN), "NaN");
    text_is(ls_double(-INFINITY), "-Infinity");
    text_is(ls_timestamp(0), "1970-01-01T00:00:00Z");
    text_is(ls_str("plain", 5), "plain");
    text_is(window(0, 600000), "{1970-01-01T00:00:00Z, 1970-01-01T00:10:00Z}");
}
END_TEST

Suite *value_suite(void)
{
    Suite *s = suite_create("value");
    TCase *tc = tcase_create("keys");
    tcase_add_test(tc, key_round_trip_every_type);
    tcase_add_test(tc, key_malformed);
    tcase_add_test(tc, key_int_and_integral_double_equal);
    tcase_add_test(tc, hash_basics);
    suite_add_tcase(s, tc);
    tc = tcase_create("render");
    tcase_add_test(tc, value_json_rendering);
    tcase_add_test(tc, value_text_rendering);
    suite_add_tcase(s, tc);
    return s;
}
