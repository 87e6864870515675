/* test_json_scan.c - the projection decoder ls_json_scan / ls_recview:
 * projected values and their types, where strings live (message or arena),
 * reuse of one view, every class of invalid input, the depth limit, and a
 * differential test against the yajl decoder ls_json_decode (the Lua-table
 * path), which must accept and reject the same messages and hold the same
 * values for the projected fields. */
#include <check.h>
#include <lauxlib.h>
#include <lua.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ls_json_lua.h"
#include "ls_json_scan.h"
#include "suites.h"

static lua_State *L;

static void setup(void) { L = luaL_newstate(); }
static void teardown(void)
{
    lua_close(L);
    L = NULL;
}

/* ---- a fieldset and its view ---------------------------------------- */

typedef struct sv {
    ls_fieldset *fs;
    ls_recview view;
    ls_err err;
} sv;

static void sv_open(sv *t, const char *const *names, size_t n)
{
    t->fs = ls_fieldset_new();
    for (size_t i = 0; i < n; i++) ls_fieldset_add(t->fs, names[i]);
    ls_recview_init(&t->view, t->fs->n);
    t->err.msg[0] = '\0';
}

static void sv_close(sv *t)
{
    ls_recview_free(&t->view);
    ls_fieldset_free(t->fs);
    t->fs = NULL;
}

#define NAMES(...) (const char *const[]){ __VA_ARGS__ }, \
    sizeof((const char *const[]){ __VA_ARGS__ }) / sizeof(const char *)

static int scan_n(sv *t, const char *p, size_t n)
{
    t->err.msg[0] = '\0';
    return ls_json_scan(p, n, t->fs, &t->view, &t->err);
}

static void scan_ok_n(sv *t, const char *p, size_t n)
{
    int rc = scan_n(t, p, n);
    ck_assert_msg(rc == 0, "scan of %.*s failed: %s", (int)n, p, t->err.msg);
}

static void scan_ok(sv *t, const char *s) { scan_ok_n(t, s, strlen(s)); }

static const char *scan_bad_n(sv *t, const char *p, size_t n)
{
    int rc = scan_n(t, p, n);
    ck_assert_msg(rc == -1, "scan of %.*s succeeded (expected an error)", (int)n, p);
    ck_assert_msg(t->err.msg[0] != '\0', "no error message for %.*s", (int)n, p);
    return t->err.msg;
}

static const char *scan_bad(sv *t, const char *s) { return scan_bad_n(t, s, strlen(s)); }

static size_t slot(const sv *t, const char *name)
{
    int i = ls_fieldset_index(t->fs, name, strlen(name));
    ck_assert_msg(i >= 0, "%s is not a projected field", name);
    return (size_t)i;
}

static const ls_value *val(const sv *t, const char *name) { return &t->view.vals[slot(t, name)]; }
static int nested(const sv *t, const char *name) { return t->view.nested[slot(t, name)]; }

static void expect_null(const sv *t, const char *name)
{
    ck_assert_msg(val(t, name)->type == LS_NULL, "%s: type %d, expected null", name,
                  (int)val(t, name)->type);
    ck_assert_msg(!nested(t, name), "%s: flagged nested", name);
}

static void expect_nested(const sv *t, const char *name)
{
    ck_assert_msg(nested(t, name), "%s: not flagged nested", name);
    ck_assert_int_eq(val(t, name)->type, LS_NULL);
}

static void expect_int(const sv *t, const char *name, int64_t want)
{
    const ls_value *v = val(t, name);
    ck_assert_msg(v->type == LS_INT, "%s: type %d, expected an integer", name, (int)v->type);
    ck_assert_int_eq(v->u.i, want);
    ck_assert(!nested(t, name));
}

static void expect_double(const sv *t, const char *name, double want)
{
    const ls_value *v = val(t, name);
    ck_assert_msg(v->type == LS_DOUBLE, "%s: type %d, expected a double", name, (int)v->type);
    ck_assert_msg(v->u.d == want, "%s: %.17g, expected %.17g", name, v->u.d, want);
    ck_assert(!nested(t, name));
}

static void expect_bool(const sv *t, const char *name, int want)
{
    const ls_value *v = val(t, name);
    ck_assert_msg(v->type == LS_BOOL, "%s: type %d, expected a boolean", name, (int)v->type);
    ck_assert_int_eq(!!v->u.b, want);
}

static void expect_str_n(const sv *t, const char *name, const char *want, size_t n)
{
    const ls_value *v = val(t, name);
    ck_assert_msg(v->type == LS_STR, "%s: type %d, expected a string", name, (int)v->type);
    ck_assert_msg(v->u.s.n == n && memcmp(v->u.s.p, want, n) == 0,
                  "%s: got \"%.*s\" (%zu bytes), expected \"%.*s\" (%zu bytes)", name,
                  (int)v->u.s.n, v->u.s.p, v->u.s.n, (int)n, want, n);
    ck_assert(!nested(t, name));
}

#define expect_str(t, name, lit) expect_str_n((t), (name), (lit), sizeof(lit) - 1)

static int points_into(const char *p, const char *base, size_t n)
{
    return (uintptr_t)p >= (uintptr_t)base && (uintptr_t)p <= (uintptr_t)(base + n);
}

/* ---- projection ------------------------------------------------------ */

START_TEST(scan_projects_only_listed_fields)
{
    sv t;
    sv_open(&t, NAMES("b", "d", "absent"));
    const char *json = "{\"a\":1,\"b\":\"bee\",\"c\":[1,2,3],\"d\":42,\"e\":{\"b\":\"inner\"}}";
    scan_ok(&t, json);
    ck_assert_uint_eq(t.view.n, 3);
    expect_str(&t, "b", "bee");
    expect_int(&t, "d", 42);
    expect_null(&t, "absent");
    /* a nested "b" does not overwrite the top-level one */
    ck_assert_int_eq(t.view.arena.len, 0);
    sv_close(&t);

    /* an empty projection still validates everything */
    sv_open(&t, NULL, 0);
    scan_ok(&t, "{\"a\":1}");
    ck_assert_str_eq(scan_bad(&t, "{\"a\":1,\"b\":[1,}"), "invalid JSON at byte 14: unexpected character");
    sv_close(&t);

    /* the empty object */
    sv_open(&t, NAMES("a"));
    scan_ok(&t, "{}");
    expect_null(&t, "a");
    scan_ok(&t, " \t\r\n{ \t\r\n} \t\r\n");
    expect_null(&t, "a");
    sv_close(&t);
}
END_TEST

START_TEST(scan_scalar_types)
{
    sv t;
    sv_open(&t, NAMES("s", "i", "neg", "zero", "negzero", "max", "min", "over", "under", "huge",
                      "f", "negf", "e", "E", "eplus", "eminus", "fe", "t", "fl", "n", "bigexp",
                      "tiny", "fzero", "negfzero"));
    const char *json =
        "{\"s\":\"text\",\"i\":42,\"neg\":-7,\"zero\":0,\"negzero\":-0,"
        "\"max\":9223372036854775807,\"min\":-9223372036854775808,"
        "\"over\":9223372036854775808,\"under\":-9223372036854775809,"
        "\"huge\":123456789012345678901234567890,"
        "\"f\":1.5,\"negf\":-0.25,\"e\":1e2,\"E\":2E3,\"eplus\":2.5e+3,\"eminus\":15e-1,"
        "\"fe\":-1.25E-2,\"t\":true,\"fl\":false,\"n\":null,\"bigexp\":1e400,\"tiny\":1e-400,"
        "\"fzero\":0.0,\"negfzero\":-0.0}";
    scan_ok(&t, json);
    expect_str(&t, "s", "text");
    expect_int(&t, "i", 42);
    expect_int(&t, "neg", -7);
    expect_int(&t, "zero", 0);
    expect_int(&t, "negzero", 0);
    expect_int(&t, "max", INT64_MAX);
    expect_int(&t, "min", INT64_MIN);
    expect_double(&t, "over", 9223372036854775808.0);
    expect_double(&t, "under", -9223372036854775809.0);
    expect_double(&t, "huge", strtod("123456789012345678901234567890", NULL));
    expect_double(&t, "f", 1.5);
    expect_double(&t, "negf", -0.25);
    expect_double(&t, "e", 100.0);
    expect_double(&t, "E", 2000.0);
    expect_double(&t, "eplus", 2500.0);
    expect_double(&t, "eminus", 1.5);
    expect_double(&t, "fe", -0.0125);
    expect_bool(&t, "t", 1);
    expect_bool(&t, "fl", 0);
    expect_null(&t, "n");
    expect_double(&t, "bigexp", HUGE_VAL);
    expect_double(&t, "tiny", 0.0);
    expect_double(&t, "fzero", 0.0);
    ck_assert(!signbit(val(&t, "fzero")->u.d));
    expect_double(&t, "negfzero", 0.0);
    ck_assert(signbit(val(&t, "negfzero")->u.d));
    sv_close(&t);

    /* 20-digit integers beyond uint64 and exactly at its limit */
    sv_open(&t, NAMES("a", "b", "c"));
    scan_ok(&t, "{\"a\":18446744073709551615,\"b\":18446744073709551616,\"c\":-18446744073709551616}");
    expect_double(&t, "a", 18446744073709551615.0);
    expect_double(&t, "b", 18446744073709551616.0);
    expect_double(&t, "c", -18446744073709551616.0);
    sv_close(&t);
}
END_TEST

START_TEST(scan_nested_values_flagged)
{
    sv t;
    sv_open(&t, NAMES("o", "a", "eo", "ea", "after"));
    scan_ok(&t, "{\"o\":{\"x\":{\"y\":[1,{\"z\":null}]}},\"a\":[1,\"two\",[3]],\"eo\":{},"
                "\"ea\":[],\"after\":\"still read\"}");
    expect_nested(&t, "o");
    expect_nested(&t, "a");
    expect_nested(&t, "eo");
    expect_nested(&t, "ea");
    expect_str(&t, "after", "still read");
    sv_close(&t);
}
END_TEST

START_TEST(scan_duplicate_keys_last_wins)
{
    sv t;
    sv_open(&t, NAMES("a", "b", "c", "d"));
    scan_ok(&t, "{\"a\":1,\"b\":{\"x\":1},\"c\":2,\"d\":\"x\\n\",\"a\":\"two\",\"b\":3,\"c\":[2],"
                "\"d\":\"plain\"}");
    expect_str(&t, "a", "two");
    expect_int(&t, "b", 3); /* nested flag cleared by the later scalar */
    expect_nested(&t, "c");  /* and set by a later container */
    expect_str(&t, "d", "plain");
    sv_close(&t);
}
END_TEST

START_TEST(scan_escaped_keys_match)
{
    sv t;
    sv_open(&t, NAMES("name", "id", "k\xc3\xa9y", "a/b", "q\"t"));
    scan_ok(&t, "{\"n\\u0061me\":\"x\",\"\\u0069\\u0064\":5,\"k\\u00e9y\":true,\"a\\/b\":1.5,"
                "\"q\\\"t\":null,\"other\\u0000\":1}");
    expect_str(&t, "name", "x");
    expect_int(&t, "id", 5);
    expect_bool(&t, "k\xc3\xa9y", 1);
    expect_double(&t, "a/b", 1.5);
    expect_null(&t, "q\"t");
    /* a raw UTF-8 key matches too */
    scan_ok(&t, "{\"k\xc3\xa9y\":false}");
    expect_bool(&t, "k\xc3\xa9y", 0);
    /* but an escape of something else does not */
    scan_ok(&t, "{\"n\\u0062me\":\"x\",\"Name\":1,\"name \":2}");
    expect_null(&t, "name");
    sv_close(&t);
}
END_TEST

START_TEST(scan_string_escapes_decoded)
{
    sv t;
    sv_open(&t, NAMES("s", "ctl", "uni", "nul", "plain", "utf8"));
    const char *json =
        "{\"s\":\"a\\nb\\\"c\\\\d\\/e\\u00e9f\\ud83d\\ude00g\","
        "\"ctl\":\"\\b\\f\\n\\r\\t\","
        "\"uni\":\"\\u0041\\u00E9\\u20ac\\uFFFF\\uDBFF\\uDFFF\\u007f\\u0080\\u07FF\\u0800\","
        "\"nul\":\"x\\u0000y\","
        "\"plain\":\"no escapes here\","
        "\"utf8\":\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"}";
    size_t n = strlen(json);
    scan_ok(&t, json);
    expect_str(&t, "s", "a\nb\"c\\d/e\xc3\xa9" "f\xf0\x9f\x98\x80g");
    expect_str(&t, "ctl", "\b\f\n\r\t");
    expect_str(&t, "uni", "A\xc3\xa9\xe2\x82\xac\xef\xbf\xbf\xf4\x8f\xbf\xbf\x7f\xc2\x80\xdf\xbf"
                          "\xe0\xa0\x80");
    expect_str(&t, "nul", "x\0y");
    expect_str(&t, "plain", "no escapes here");
    expect_str(&t, "utf8", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");

    /* escaped strings live in the arena, the others point into the message */
    const char *arena = t.view.arena.data;
    size_t alen = t.view.arena.len;
    const char *esc[] = { "s", "ctl", "uni", "nul" };
    for (size_t i = 0; i < 4; i++) {
        const ls_value *v = val(&t, esc[i]);
        ck_assert_msg(points_into(v->u.s.p, arena, alen) &&
                      points_into(v->u.s.p + v->u.s.n, arena, alen), "%s not in the arena", esc[i]);
    }
    ck_assert_ptr_eq(val(&t, "plain")->u.s.p, strstr(json, "no escapes here"));
    ck_assert_ptr_eq(val(&t, "utf8")->u.s.p, strstr(json, "caf"));
    ck_assert(points_into(val(&t, "utf8")->u.s.p, json, n));
    /* unescaped text never exceeds the message: the arena did not grow past it */
    ck_assert_uint_le(alen, n);
    sv_close(&t);

    /* an empty string, and one that is only an escape */
    sv_open(&t, NAMES("e", "x"));
    const char *j2 = "{\"e\":\"\",\"x\":\"\\\\\"}";
    scan_ok(&t, j2);
    expect_str(&t, "e", "");
    ck_assert(points_into(val(&t, "e")->u.s.p, j2, strlen(j2)));
    expect_str(&t, "x", "\\");
    sv_close(&t);
}
END_TEST

/* Many escaped strings (keys and values) in one message: all must stay
 * valid at once, i.e. the arena is never reallocated under earlier values. */
START_TEST(scan_arena_holds_all_values)
{
    const char *const names[] = { "k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7" };
    sv t;
    sv_open(&t, names, 8);
    ls_buf msg;
    ls_buf_init(&msg);
    ls_buf_puts(&msg, "{");
    for (int rep = 0; rep < 40; rep++) /* unprojected escaped keys fill the arena too */
        ls_buf_printf(&msg, "\"pad\\u00e9%d\":\"\\u00e9\\u00e9\\u00e9\",", rep);
    for (int i = 0; i < 8; i++)
        ls_buf_printf(&msg, "%s\"k%d\":\"v\\u00e9\\ud83d\\ude00%d\\n\"", i ? "," : "", i, i);
    ls_buf_puts(&msg, "}");
    scan_ok_n(&t, msg.data, msg.len);
    for (int i = 0; i < 8; i++) {
        char want[32];
        int wn = snprintf(want, sizeof want, "v\xc3\xa9\xf0\x9f\x98\x80%d\n", i);
        expect_str_n(&t, names[i], want, (size_t)wn);
    }
    ls_buf_free(&msg);
    sv_close(&t);
}
END_TEST

START_TEST(scan_reuse_resets_view)
{
    sv t;
    sv_open(&t, NAMES("a", "b", "c"));
    scan_ok(&t, "{\"a\":\"first\\tone\",\"b\":[1],\"c\":3}");
    expect_str(&t, "a", "first\tone");
    expect_nested(&t, "b");
    expect_int(&t, "c", 3);

    scan_ok(&t, "{\"a\":\"x\\u00e9\"}");
    expect_str(&t, "a", "x\xc3\xa9");
    expect_null(&t, "b"); /* nested flag of the previous record is gone */
    expect_null(&t, "c");

    /* a failed scan, then a good one: nothing left over */
    scan_bad(&t, "{\"a\":1,\"b\":{\"c\":2},\"c\":");
    scan_ok(&t, "{\"c\":\"\\\"q\\\"\"}");
    expect_null(&t, "a");
    expect_null(&t, "b");
    expect_str(&t, "c", "\"q\"");

    /* the arena does not grow without bound over many records */
    for (int i = 0; i < 1000; i++) {
        char msg[64];
        snprintf(msg, sizeof msg, "{\"a\":\"\\u00e9%d\",\"b\":%d}", i, i);
        scan_ok(&t, msg);
        char want[16];
        int wn = snprintf(want, sizeof want, "\xc3\xa9%d", i);
        expect_str_n(&t, "a", want, (size_t)wn);
        expect_int(&t, "b", i);
        expect_null(&t, "c");
    }
    ck_assert_uint_le(t.view.arena.cap, 256);
    sv_close(&t);
}
END_TEST

/* A message of the police-calls topic, projected to three of its 14 fields. */
START_TEST(scan_police_call_record)
{
    const char *rec =
        "{\"crime_id\":\"183653763\",\"original_crime_type_name\":\"Traffic Stop\","
        "\"report_date\":\"2018-12-31T00:00:00.000\",\"call_date\":\"2018-12-31T00:00:00.000\","
        "\"offense_date\":\"2018-12-31T00:00:00.000\",\"call_time\":\"22:46\","
        "\"call_date_time\":\"2018-12-31T22:46:00.000\",\"disposition\":\"ADM\","
        "\"address\":\"Geary Bl\\/divisadero St\",\"city\":\"San Francisco\",\"state\":\"CA\","
        "\"agency_id\":\"1\",\"address_type\":\"Intersection\",\"common_location\":\"\"}";
    size_t n = strlen(rec);
    sv t;
    sv_open(&t, NAMES("original_crime_type_name", "call_date_time", "address"));
    scan_ok(&t, rec);
    expect_str(&t, "original_crime_type_name", "Traffic Stop");
    expect_str(&t, "call_date_time", "2018-12-31T22:46:00.000");
    expect_str(&t, "address", "Geary Bl/divisadero St");
    ck_assert(points_into(val(&t, "original_crime_type_name")->u.s.p, rec, n));
    ck_assert(points_into(val(&t, "call_date_time")->u.s.p, rec, n));
    ck_assert(points_into(val(&t, "address")->u.s.p, t.view.arena.data, t.view.arena.len));

    /* the same fields through the yajl decoder */
    ls_err err;
    ck_assert_int_eq(ls_json_decode(L, rec, n, t.fs, &err), 0);
    ck_assert_int_eq(lua_getfield(L, -1, "address"), LUA_TSTRING);
    ck_assert_str_eq(lua_tostring(L, -1), "Geary Bl/divisadero St");
    lua_pop(L, 2);

    /* pretty-printed, as a file source might hold it */
    const char *pretty =
        "{\n  \"crime_id\": \"183653763\",\n  \"agency_id\": \"1\",\n"
        "  \"address\": \"Geary Bl\\/divisadero St\",\n  \"common_location\": \"\"\n}\n";
    scan_ok(&t, pretty);
    expect_null(&t, "call_date_time");
    expect_str(&t, "address", "Geary Bl/divisadero St");
    sv_close(&t);
}
END_TEST

/* ---- errors ---------------------------------------------------------- */

typedef struct bad_case {
    const char *p;
    size_t n;
    const char *want; /* a substring of the error */
} bad_case;

#define BAD(lit, want) { lit, sizeof(lit) - 1, want }
#define INV "invalid JSON at byte "

static const bad_case bad_cases[] = {
    /* empty */
    BAD("", "empty message"),
    BAD(" ", "empty message"),
    BAD(" \t\r\n ", "empty message"),
    /* valid JSON, not an object */
    BAD("[1]", "not a JSON object"),
    BAD("\"s\"", "not a JSON object"),
    BAD("42", "not a JSON object"),
    BAD("-1.5e3", "not a JSON object"),
    BAD("true", "not a JSON object"),
    BAD("false", "not a JSON object"),
    BAD("null", "not a JSON object"),
    BAD(" [ ] ", "not a JSON object"),
    BAD("[{\"a\":1}]", "not a JSON object"),
    /* garbage */
    BAD("x", INV "0: unexpected character"),
    BAD("hello", INV "0:"),
    BAD("}", INV "0:"),
    BAD("{x}", INV "1: expected a string key"),
    BAD("{a:1}", INV "1: expected a string key"),
    BAD("{'a':1}", INV "1:"),
    BAD("{,}", INV "1:"),
    BAD("{]", INV "1:"),
    BAD("{\"a\":}", INV "5:"),
    BAD("{\"a\":1,}", INV "7: expected a string key"),
    BAD("{\"a\":[1,]}", INV "8:"),
    BAD("{\"a\":[,1]}", INV "6:"),
    BAD("{\"a\":[1 2]}", INV "8: expected ',' or ']'"),
    BAD("{\"a\":{\"b\"}}", INV "9: expected ':'"),
    BAD("[1,]", INV),
    BAD("\xff", INV "0:"),
    BAD("\xef\xbb\xbf{}", INV "0:"), /* a byte-order mark is not JSON whitespace */
    BAD("\f{}", INV "0:"),
    BAD("{\"a\":\v1}", INV "5: unexpected character"),
    BAD("{\f\"a\":1}", INV "1: expected a string key"),
    BAD("{\"a\":1\f}", INV "6: expected ',' or '}'"),
    BAD("{}\v", INV "2: trailing characters"),
    BAD("{\"a\":1}}", INV "7: trailing characters"),
    /* missing colon / comma */
    BAD("{\"a\" 1}", INV "5: expected ':'"),
    BAD("{\"a\"}", INV "4: expected ':'"),
    BAD("{\"a\":1 \"b\":2}", INV "7: expected ',' or '}'"),
    BAD("{\"a\":1,\"b\" 2}", INV "11: expected ':'"),
    BAD("{\"a\":{\"b\":1 \"c\":2}}", INV "12:"),
    /* truncated */
    BAD("{", INV "1:"),
    BAD("{ ", INV "2:"),
    BAD("{\"a\"", INV "4:"),
    BAD("{\"a\":", INV "5: unexpected end"),
    BAD("{\"a\":1", INV "6: unterminated object"),
    BAD("{\"a\":1,", INV "7:"),
    BAD("{\"a", "unterminated string"),
    BAD("{\"a\":\"xy", "unterminated string"),
    BAD("{\"a\":\"x\\", "unterminated string"),
    BAD("{\"a\":\"\\u12", "bad \\u escape"),
    BAD("{\"a\":\"\\u12\"}", "bad \\u escape"),
    BAD("{\"a\":\"\\ud83d\\ude0", "unpaired surrogate"),
    BAD("{\"a\":[1,2", INV "9: unterminated array"),
    BAD("{\"a\":[", INV "6:"),
    BAD("{\"a\":{\"b\":1}", INV "12: unterminated object"),
    BAD("{\"a\":tr", INV "5: unexpected character"),
    BAD("{\"a\":-", "bad number"),
    BAD("{\"a\":1.", "bad number"),
    BAD("{\"a\":1e", "bad number"),
    /* trailing characters */
    BAD("{} x", INV "3: trailing characters"),
    BAD("{}{}", INV "2: trailing characters"),
    BAD("{\"a\":1}]", INV "7: trailing characters"),
    BAD("{} 1", INV "3: trailing characters"),
    BAD("[1] x", INV "4: trailing characters"),
    BAD("{}\0", INV "2: trailing characters"),
    BAD("{}\n\0", INV "3: trailing characters"),
    BAD("{} \"abc\"", INV "3: trailing characters"),
    BAD("{} \"abc", INV "3: trailing characters"),
    BAD("{\"a\":1}\"", INV "7: trailing characters"),
    BAD("{\"a\":1} \"x\\\"", INV "8: trailing characters"),
    /* bad numbers */
    BAD("{\"a\":01}", INV "6: expected ',' or '}'"),
    BAD("{\"a\":-01}", INV "7:"),
    BAD("{\"a\":00}", INV "6:"),
    BAD("{\"a\":1.}", INV "7: bad number"),
    BAD("{\"a\":.5}", INV "5: unexpected character"),
    BAD("{\"a\":-}", INV "6: bad number"),
    BAD("{\"a\":--1}", INV "6: bad number"),
    BAD("{\"a\":-.5}", INV "6: bad number"),
    BAD("{\"a\":1e}", INV "7: bad number"),
    BAD("{\"a\":1e+}", INV "8: bad number"),
    BAD("{\"a\":1E-}", INV "8: bad number"),
    BAD("{\"a\":1.e5}", "bad number"),
    BAD("{\"a\":+1}", INV "5: unexpected character"),
    BAD("{\"a\":0x10}", INV "6:"),
    BAD("{\"a\":1.5.2}", INV "8:"),
    BAD("{\"a\":1e5.2}", INV "8:"),
    BAD("{\"a\":NaN}", INV "5:"),
    BAD("{\"a\":Infinity}", INV "5:"),
    BAD("{\"a\":-Infinity}", "bad number"),
    BAD("-", "bad number"),
    BAD("01", INV "1: trailing characters"),
    /* bad literals */
    BAD("{\"a\":tru}", INV "5: unexpected character"),
    BAD("{\"a\":nul}", INV "5: unexpected character"),
    BAD("{\"a\":fals}", INV "5:"),
    BAD("{\"a\":True}", INV "5:"),
    BAD("{\"a\":NULL}", INV "5:"),
    BAD("{\"a\":nulll}", INV "9:"),
    BAD("{\"a\":truefalse}", INV "9:"),
    BAD("tru", INV "0:"),
    BAD("nul", INV "0:"),
    /* control characters in strings (raw, unescaped) */
    BAD("{\"a\":\"x\ny\"}", INV "7: control character in string"),
    BAD("{\"a\":\"\t\"}", INV "6: control character in string"),
    BAD("{\"a\":\"\x01\"}", "control character in string"),
    BAD("{\"a\":\"\x1f\"}", "control character in string"),
    BAD("{\"\x01\":1}", INV "2: control character in string"),
    BAD("{\"a\":[\"\r\"]}", "control character in string"),
    /* invalid UTF-8 */
    BAD("{\"a\":\"\x80\"}", INV "6: invalid UTF-8"),            /* lone continuation */
    BAD("{\"a\":\"x\xbf\"}", INV "7: invalid UTF-8"),
    BAD("{\"a\":\"\xc0\x80\"}", INV "6: invalid UTF-8"),        /* overlong NUL */
    BAD("{\"a\":\"\xc1\xbf\"}", INV "6: invalid UTF-8"),        /* overlong 2-byte */
    BAD("{\"a\":\"\xe0\x80\x80\"}", INV "6: invalid UTF-8"),    /* overlong 3-byte */
    BAD("{\"a\":\"\xe0\x9f\xbf\"}", INV "6: invalid UTF-8"),
    BAD("{\"a\":\"\xf0\x80\x80\x80\"}", INV "6: invalid UTF-8"), /* overlong 4-byte */
    BAD("{\"a\":\"\xf0\x8f\xbf\xbf\"}", INV "6: invalid UTF-8"),
    BAD("{\"a\":\"\xed\xa0\x80\"}", INV "6: invalid UTF-8"),    /* U+D800 */
    BAD("{\"a\":\"\xed\xbf\xbf\"}", INV "6: invalid UTF-8"),    /* U+DFFF */
    BAD("{\"a\":\"\xed\xa0\xbd\xed\xb8\x80\"}", INV "6: invalid UTF-8"), /* CESU-8 pair */
    BAD("{\"a\":\"\xf4\x90\x80\x80\"}", INV "6: invalid UTF-8"), /* U+110000 */
    BAD("{\"a\":\"\xf5\x80\x80\x80\"}", INV "6: invalid UTF-8"),
    BAD("{\"a\":\"\xf7\xbf\xbf\xbf\"}", INV "6: invalid UTF-8"),
    BAD("{\"a\":\"\xf8\x88\x80\x80\x80\"}", INV "6: invalid UTF-8"),
    BAD("{\"a\":\"\xfe\"}", INV "6: invalid UTF-8"),
    BAD("{\"a\":\"\xff\"}", INV "6: invalid UTF-8"),
    BAD("{\"a\":\"\xc3\"}", INV "6: invalid UTF-8"),            /* truncated before the quote */
    BAD("{\"a\":\"\xe2\x82\"}", INV "6: invalid UTF-8"),
    BAD("{\"a\":\"\xf0\x9f\x98\"}", INV "6: invalid UTF-8"),
    BAD("{\"a\":\"\xc3\x28\"}", INV "6: invalid UTF-8"),        /* bad continuation */
    BAD("{\"a\":\"\xe2\x28\xa1\"}", INV "6: invalid UTF-8"),
    BAD("{\"a\":\"\xc3", INV "6: invalid UTF-8"),               /* truncated at the end */
    BAD("{\"a\":\"\xe2\x82", INV "6: invalid UTF-8"),
    BAD("{\"a\":\"\xf0\x9f\x98", INV "6: invalid UTF-8"),
    BAD("{\"\xfe\":1}", INV "2: invalid UTF-8"),                /* in a key */
    BAD("{\"a\":[\"ok\",\"\x80\"]}", INV "12: invalid UTF-8"),  /* nested */
    BAD("{\"a\":{\"\xc0\xaf\":1}}", INV "7: invalid UTF-8"),
    BAD("{\"a\":\xc3\xa9}", INV "5: unexpected character"),     /* outside a string */
    /* lone / unpaired surrogate escapes */
    BAD("{\"a\":\"\\ud800\"}", "unpaired surrogate in \\u escape"),
    BAD("{\"a\":\"\\uDBFF\"}", "unpaired surrogate in \\u escape"),
    BAD("{\"a\":\"\\udc00\"}", "unpaired surrogate in \\u escape"),
    BAD("{\"a\":\"\\uDFFF\"}", "unpaired surrogate in \\u escape"),
    BAD("{\"a\":\"\\ud800x\"}", "unpaired surrogate in \\u escape"),
    BAD("{\"a\":\"\\ud800\\u0041\"}", "unpaired surrogate in \\u escape"),
    BAD("{\"a\":\"\\ud800\\ud800\"}", "unpaired surrogate in \\u escape"),
    BAD("{\"a\":\"\\ude00\\ud83d\"}", "unpaired surrogate in \\u escape"),
    BAD("{\"a\":\"\\ud800\\n\"}", "unpaired surrogate in \\u escape"),
    BAD("{\"a\":\"\\ud800\\\\udc00\"}", "unpaired surrogate in \\u escape"),
    BAD("{\"\\ud800\":1}", "unpaired surrogate in \\u escape"),
    BAD("{\"a\":\"\\ud800", "unpaired surrogate in \\u escape"),
    /* bad escapes */
    BAD("{\"a\":\"\\x41\"}", INV "6: bad escape in string"),
    BAD("{\"a\":\"\\a\"}", "bad escape in string"),
    BAD("{\"a\":\"\\'\"}", "bad escape in string"),
    BAD("{\"a\":\"\\ \"}", "bad escape in string"),
    BAD("{\"a\":\"\\U00e9\"}", "bad escape in string"),
    BAD("{\"a\":\"\\0\"}", "bad escape in string"),
    BAD("{\"a\":\"\\\0\"}", "bad escape in string"),
    BAD("{\"a\":\"\\u00g0\"}", "bad \\u escape"),
    BAD("{\"a\":\"\\u-123\"}", "bad \\u escape"),
    BAD("{\"a\":\"\\u 123\"}", "bad \\u escape"),
    BAD("{\"a\":\"\\ud83d\\uZe00\"}", "unpaired surrogate in \\u escape"),
    BAD("{\"\\q\":1}", INV "2: bad escape in string"),
    /* NUL bytes */
    BAD("{\"a\":\"x\0y\"}", INV "7: control character in string"),
    BAD("{\"a\0\":1}", INV "3: control character in string"),
    BAD("{\"a\":1\0}", INV "6: expected ',' or '}'"),
    BAD("{\0\"a\":1}", INV "1: expected a string key"),
    BAD("\0{}", INV "0: unexpected character"),
    BAD("\0", INV "0:"),
};

START_TEST(scan_rejects_invalid)
{
    sv t;
    sv_open(&t, NAMES("a", "b"));
    for (size_t i = 0; i < sizeof bad_cases / sizeof *bad_cases; i++) {
        const bad_case *c = &bad_cases[i];
        const char *err = scan_bad_n(&t, c->p, c->n);
        ck_assert_msg(strstr(err, c->want) != NULL, "case %zu (%.*s): error \"%s\", expected \"%s\"",
                      i, (int)c->n, c->p, err, c->want);
        /* positions stay inside the message */
        const char *at = strstr(err, INV);
        if (at) {
            unsigned long pos = strtoul(at + strlen(INV), NULL, 10);
            ck_assert_msg(pos <= c->n, "case %zu: position %lu past the end (%zu)", i, pos, c->n);
        }
    }
    /* the view is still usable afterwards */
    scan_ok(&t, "{\"a\":1}");
    expect_int(&t, "a", 1);
    sv_close(&t);
}
END_TEST

/* The limits of what is valid (next to the invalid cases above). */
START_TEST(scan_accepts_utf8_boundaries)
{
    static const struct { const char *s; size_t n; } ok[] = {
#define OK(lit) { lit, sizeof(lit) - 1 }
        OK("\xc2\x80"),             /* U+0080 */
        OK("\xdf\xbf"),             /* U+07FF */
        OK("\xe0\xa0\x80"),         /* U+0800 */
        OK("\xed\x9f\xbf"),         /* U+D7FF */
        OK("\xee\x80\x80"),         /* U+E000 */
        OK("\xef\xbf\xbf"),         /* U+FFFF */
        OK("\xef\xbb\xbf"),         /* a BOM inside a string is just U+FEFF */
        OK("\xf0\x90\x80\x80"),     /* U+10000 */
        OK("\xf4\x8f\xbf\xbf"),     /* U+10FFFF */
        OK("\x7f"),                 /* DEL is not a control character for JSON */
        OK(" !#$%&'()*+,-./:;<=>?@[]^_`{|}~"),
#undef OK
    };
    sv t;
    sv_open(&t, NAMES("a"));
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        char msg[128];
        int n = snprintf(msg, sizeof msg, "{\"a\":\"%.*s\"}", (int)ok[i].n, ok[i].s);
        scan_ok_n(&t, msg, (size_t)n);
        expect_str_n(&t, "a", ok[i].s, ok[i].n);
        ck_assert(points_into(val(&t, "a")->u.s.p, msg, (size_t)n));
    }
    sv_close(&t);
}
END_TEST

static char *deep(const char *open, const char *close, int levels, const char *inner,
                  const char *prefix, const char *suffix)
{
    size_t n = strlen(prefix) + strlen(suffix) + (strlen(open) + strlen(close)) * (size_t)levels +
               strlen(inner) + 1;
    char *p = malloc(n), *q = p;
    q = stpcpy(q, prefix);
    for (int i = 0; i < levels; i++) q = stpcpy(q, open);
    q = stpcpy(q, inner);
    for (int i = 0; i < levels; i++) q = stpcpy(q, close);
    stpcpy(q, suffix);
    return p;
}

/* The root object is level 1; LS_JSON_MAX_DEPTH containers in all are fine. */
START_TEST(scan_depth_limit)
{
    sv t;
    sv_open(&t, NAMES("a", "b"));
    /* exactly at the limit: 127 arrays inside the root object */
    char *at = deep("[", "]", LS_JSON_MAX_DEPTH - 1, "", "{\"a\":", ",\"b\":1}");
    scan_ok(&t, at);
    expect_nested(&t, "a");
    expect_int(&t, "b", 1);
    free(at);
    /* root + 126 objects + {} = 128 objects */
    at = deep("{\"k\":", "}", LS_JSON_MAX_DEPTH - 2, "{}", "{\"a\":", "}");
    scan_ok(&t, at);
    expect_nested(&t, "a");
    free(at);

    /* one past it */
    char *over = deep("[", "]", LS_JSON_MAX_DEPTH, "", "{\"a\":", "}");
    ck_assert_str_eq(scan_bad(&t, over), "JSON nested deeper than 128 levels");
    free(over);
    over = deep("{\"k\":", "}", LS_JSON_MAX_DEPTH - 1, "{}", "{\"a\":", "}");
    ck_assert_str_eq(scan_bad(&t, over), "JSON nested deeper than 128 levels");
    free(over);
    /* in a field that is not projected */
    over = deep("[", "]", LS_JSON_MAX_DEPTH, "", "{\"zz\":", "}");
    ck_assert_str_eq(scan_bad(&t, over), "JSON nested deeper than 128 levels");
    free(over);

    /* far deeper: a clean error, no stack exhaustion */
    char *huge = deep("[", "]", 100000, "", "{\"a\":", "}");
    ck_assert_str_eq(scan_bad(&t, huge), "JSON nested deeper than 128 levels");
    free(huge);
    huge = deep("[", "]", 100000, "", "", "");
    ck_assert_ptr_nonnull(strstr(scan_bad(&t, huge), "nested deeper"));
    free(huge);
    /* truncated deep nesting */
    huge = deep("{\"k\":", "", 100000, "", "", "");
    ck_assert_ptr_nonnull(strstr(scan_bad(&t, huge), "nested deeper"));
    free(huge);
    sv_close(&t);
}
END_TEST

/* ls_json_decode (like yajl's own limit) accepts 128 levels of containers
 * whatever their innermost content; the scanner counts the innermost scalar
 * as a level of its own and rejects it. See the report. */
START_TEST(scan_depth_limit_with_scalar)
{
    sv t;
    sv_open(&t, NAMES("a"));
    ls_err err = { "" };
    /* 127 arrays inside the root object, innermost holding 1: what
     * test_json_lua.c's json_max_depth shows ls_json_decode accepts */
    char *at = deep("[", "]", LS_JSON_MAX_DEPTH - 1, "1", "{\"a\":", "}");
    int yajl_rc = ls_json_decode(L, at, strlen(at), NULL, &err);
    if (yajl_rc == 0) lua_pop(L, 1);
    int rc = scan_n(&t, at, strlen(at));
    ls_err scan_err;
    strcpy(scan_err.msg, t.err.msg);
    /* an object with a key and scalar at the innermost level, same count */
    char *at2 = deep("{\"k\":", "}", LS_JSON_MAX_DEPTH - 2, "{\"x\":\"s\"}", "{\"a\":", "}");
    int yajl_rc2 = ls_json_decode(L, at2, strlen(at2), NULL, &err);
    if (yajl_rc2 == 0) lua_pop(L, 1);
    int rc2 = scan_n(&t, at2, strlen(at2));
    free(at);
    free(at2);
    sv_close(&t);
    ck_assert_int_eq(yajl_rc, 0);
    ck_assert_int_eq(yajl_rc2, 0);
    ck_assert_msg(rc == 0, "scanner rejects 128 levels with a scalar inside: %s", scan_err.msg);
    ck_assert_msg(rc2 == 0, "scanner rejects 128 levels with a key/scalar inside");
}
END_TEST

/* Numbers of 64 characters or more are cut to their first 63 characters
 * before conversion, which changes their value. See the report. */
START_TEST(scan_long_numbers)
{
    static const char *const nums[] = {
        /* 70 digits: 1.2345...e69 */
        "1234567890123456789012345678901234567890123456789012345678901234567890",
        /* a long mantissa loses its exponent */
        "1.0000000000000000000000000000000000000000000000000000000000000000000e10",
        /* plenty of leading fractional zeros */
        "0.00000000000000000000000000000000000000000000000000000000000000000000000123",
        "-12345678901234567890123456789012345678901234567890123456789012345.5",
    };
    sv t;
    sv_open(&t, NAMES("x"));
    char failures[4096] = "";
    size_t fl = 0;
    for (size_t i = 0; i < sizeof nums / sizeof *nums; i++) {
        char msg[256];
        int n = snprintf(msg, sizeof msg, "{\"x\":%s}", nums[i]);
        ls_err err;
        ck_assert_int_eq(ls_json_decode(L, msg, (size_t)n, NULL, &err), 0);
        lua_getfield(L, -1, "x");
        double want = lua_tonumber(L, -1);
        lua_pop(L, 2);
        ck_assert_double_eq(want, strtod(nums[i], NULL));
        if (scan_n(&t, msg, (size_t)n) != 0 || t.view.vals[0].type != LS_DOUBLE ||
            t.view.vals[0].u.d != want)
            fl += (size_t)snprintf(failures + fl, sizeof failures - fl, "  %s: scanned %.17g, want %.17g\n",
                                   nums[i], t.view.vals[0].u.d, want);
    }
    sv_close(&t);
    ck_assert_msg(fl == 0, "long numbers converted wrongly:\n%s", failures);
}
END_TEST

/* ---- differential test against ls_json_decode (yajl) ----------------- */

/* splitmix64: a fixed-seed generator, so the corpus is the same every run */
static uint64_t rng_state;
static uint64_t rng(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}
static size_t rng_below(size_t n) { return n ? (size_t)(rng() % n) : 0; }

static const char *const diff_fields[] = {
    "id", "name", "v", "flag", "nil", "list", "nested", "esc", "k\xc3\xa9y", "missing",
    "crime_id", "address", "agency_id", "",
};
#define NDIFF (sizeof diff_fields / sizeof *diff_fields)

static const char *const base_records[] = {
    "{\"id\":1,\"name\":\"alpha\",\"v\":3.25,\"flag\":true,\"nil\":null,\"list\":[1,2,{\"x\":\"y\"}],"
    "\"nested\":{\"a\":{\"b\":[]}},\"esc\":\"tab\\there \\\"q\\\" \\u00e9\\ud83d\\ude00 \\/\"}",
    "{\"id\":-42,\"name\":\"\",\"v\":1e3,\"flag\":false,\"extra\":\"caf\\u00e9 caf\xc3\xa9\",\"nested\":[]}",
    "{ \"name\" : \"spaced\" , \"id\" : 9223372036854775807 , \"v\" : -0.0 }",
    "{\"id\":\"123\",\"v\":\"4.5\",\"name\":\"\\u0000nul\",\"esc\":\"\\\\\\\\\"}",
    "{\"list\":[[[[]]]],\"nested\":{},\"v\":-1.5E-7,\"id\":0}",
    "{\"k\\u00e9y\":\"unicode key\",\"name\":\"\\u65e5\\u672c\",\"id\":18446744073709551616}",
    "{\"name\":\"dup\",\"name\":\"dup2\",\"id\":1,\"id\":{\"x\":1},\"v\":[2],\"v\":2}",
    "{\"crime_id\":\"183653763\",\"original_crime_type_name\":\"Traffic Stop\","
    "\"report_date\":\"2018-12-31T00:00:00.000\",\"call_date\":\"2018-12-31T00:00:00.000\","
    "\"offense_date\":\"2018-12-31T00:00:00.000\",\"call_time\":\"22:46\","
    "\"call_date_time\":\"2018-12-31T22:46:00.000\",\"disposition\":\"ADM\","
    "\"address\":\"Geary Bl\\/divisadero St\",\"city\":\"San Francisco\",\"state\":\"CA\","
    "\"agency_id\":\"1\",\"address_type\":\"Intersection\",\"common_location\":\"\"}",
    "{}",
    "{\"esc\":\"\\b\\f\\n\\r\\t\",\"flag\":null,\"\":\"empty key\"}",
    "{\"name\":\"\xe6\x97\xa5\xe6\x9c\xac\xf0\x9f\x98\x80\",\"v\":[true,false,null],"
    "\"k\xc3\xa9y\":-9223372036854775808}",
    "{\"id\":12345678901234567890,\"v\":0.1,\"flag\":1E+2,\"nil\":-0,\"esc\":\"\\u20AC\\uD834\\uDD1E\"}",
};
#define NBASE (sizeof base_records / sizeof *base_records)

/* Valid inputs beyond the base records (non-objects and invalid ones come
 * from bad_cases). */
static const char *const extra_valid[] = {
    "{\"id\":1}\n", "\n\r\t {\"id\":1} \n", "{\"v\":1E400}", "{\"v\":-1e-400}",
    "{\"name\":\"\\u0000\"}", "{\"name\":\"\\/\\/\"}", "{\"list\":[{},[],\"\",0,-0.5]}",
    "{\"nested\":{\"nested\":{\"nested\":1}},\"id\":2}", "{\"\\u0069d\":3}", "{\"id\":1,\"id\":null}",
    "{\"esc\":\"\xf4\x8f\xbf\xbf\xef\xbf\xbf\xed\x9f\xbf\"}", "{\"v\":-9223372036854775809}",
    "{\"v\":1.7976931348623157e308}", "{\"v\":5e-324}", "{\"v\":123.456e-2}",
};

/* The construct at the scanner's error position is one RFC 8259 forbids
 * but yajl 2 accepts: yajl checks only the shape of UTF-8 sequences (lead
 * byte + the right number of continuation bytes), so it takes overlong
 * forms, UTF-8-encoded surrogates and code points above U+10FFFF; and it
 * decodes a \u escape of a lone surrogate (to '?' or to an encoded
 * surrogate) instead of rejecting it. Its lexer also skips form feed and
 * vertical tab as whitespace; JSON whitespace is space, \t, \n and \r.
 * And after a complete root value it accepts an unterminated string as
 * trailing text ({} "abc): yajl_complete_parse feeds the lexer one more
 * space, which extends the open string, so the trailing token never
 * completes and is never reported as trailing garbage. */
static int yajl_known_lax(const char *p, size_t n, const char *err)
{
    const char *at = strstr(err, INV);
    if (!at) return 0;
    size_t pos = strtoul(at + strlen(INV), NULL, 10);
    const unsigned char *u = (const unsigned char *)p;
    if (pos < n && (u[pos] == '\f' || u[pos] == '\v') &&
        (strstr(err, ": unexpected character") || strstr(err, ": expected ") ||
         strstr(err, ": trailing characters")))
        return 1;
    if (pos < n && u[pos] == '"' && strstr(err, ": trailing characters")) {
        for (size_t i = pos + 1; i < n; i++) {
            if (u[i] == '\\') i++;
            else if (u[i] == '"') return 0; /* a complete string: yajl rejects that */
        }
        return 1;
    }
    if (strstr(err, ": invalid UTF-8") && pos < n) {
        unsigned c = u[pos];
        size_t len = (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
        if (!len || pos + len > n) return 0;
        for (size_t i = 1; i < len; i++)
            if ((u[pos + i] >> 6) != 0x2) return 0;
        return 1; /* well-shaped, so only the code point is wrong */
    }
    if (strstr(err, ": unpaired surrogate in \\u escape") && pos >= 6 && pos <= n) {
        const char *e = p + pos - 6;
        if (e[0] != '\\' || e[1] != 'u') return 0;
        char hex[5] = { e[2], e[3], e[4], e[5], 0 };
        unsigned long cp = strtoul(hex, NULL, 16);
        return cp >= 0xD800 && cp <= 0xDFFF;
    }
    return 0;
}

typedef struct diff_stats {
    int inputs, accepted, rejected, yajl_lax;
    ls_buf fail;
    int nfail;
} diff_stats;

static void describe(ls_buf *b, const char *p, size_t n)
{
    for (size_t i = 0; i < n && i < 200; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c >= 0x20 && c < 0x7f) ls_buf_putc(b, (char)c);
        else ls_buf_printf(b, "\\x%02x", c);
    }
    if (n > 200) ls_buf_puts(b, "...");
}

static void diff_fail(diff_stats *d, const char *p, size_t n, const char *fmt, const char *a,
                      const char *b)
{
    d->nfail++;
    if (d->nfail > 20) return;
    ls_buf_puts(&d->fail, "  ");
    describe(&d->fail, p, n);
    ls_buf_puts(&d->fail, "\n    ");
    ls_buf_printf(&d->fail, fmt, a, b);
    ls_buf_putc(&d->fail, '\n');
}

/* Compares the scanned view with the table on top of the Lua stack. */
static void compare_fields(diff_stats *d, const sv *t, const char *p, size_t n)
{
    for (size_t i = 0; i < NDIFF; i++) {
        const char *name = diff_fields[i];
        const ls_value *v = val(t, name);
        int nest = nested(t, name);
        int lt = lua_getfield(L, -1, name);
        int same = 0;
        switch (lt) {
        case LUA_TNIL: same = v->type == LS_NULL && !nest; break;
        case LUA_TLIGHTUSERDATA:
            same = lua_touserdata(L, -1) == NULL && v->type == LS_NULL && !nest;
            break;
        case LUA_TTABLE: same = v->type == LS_NULL && nest; break;
        case LUA_TBOOLEAN: same = v->type == LS_BOOL && !!v->u.b == lua_toboolean(L, -1); break;
        case LUA_TNUMBER:
            if (lua_isinteger(L, -1)) same = v->type == LS_INT && v->u.i == lua_tointeger(L, -1);
            else same = v->type == LS_DOUBLE && v->u.d == lua_tonumber(L, -1) &&
                        !signbit(v->u.d) == !signbit(lua_tonumber(L, -1));
            break;
        case LUA_TSTRING: {
            size_t ln;
            const char *ls = lua_tolstring(L, -1, &ln);
            same = v->type == LS_STR && v->u.s.n == ln && memcmp(v->u.s.p, ls, ln) == 0;
            break;
        }
        default: break;
        }
        if (!same) {
            char a[160], b[160];
            ls_buf tmp;
            ls_buf_init(&tmp);
            if (v->type == LS_STR) describe(&tmp, v->u.s.p, v->u.s.n);
            snprintf(a, sizeof a, "%s type %d nested %d %s", name, (int)v->type, nest,
                     tmp.data ? tmp.data : "");
            ls_buf_free(&tmp);
            snprintf(b, sizeof b, "lua %s %s", lua_typename(L, lt),
                     lt == LUA_TSTRING || lt == LUA_TNUMBER ? lua_tostring(L, -1) : "");
            diff_fail(d, p, n, "field differs: scanner %s, %s", a, b);
        }
        lua_pop(L, 1);
    }
}

static void diff_one(diff_stats *d, sv *t, const char *p, size_t n)
{
    ls_err yerr = { "" };
    d->inputs++;
    int top = lua_gettop(L);
    int yrc = ls_json_decode(L, p, n, NULL, &yerr);
    int src = scan_n(t, p, n);
    if (yrc == 0 && src == 0) {
        d->accepted++;
        compare_fields(d, t, p, n);
    } else if (yrc != 0 && src != 0) {
        d->rejected++;
        if (!t->err.msg[0]) diff_fail(d, p, n, "%s%s", "scanner rejected with no message", "");
    } else if (yrc == 0 && yajl_known_lax(p, n, t->err.msg)) {
        d->yajl_lax++; /* documented above: the scanner is right */
    } else if (yrc == 0) {
        diff_fail(d, p, n, "yajl accepts, scanner rejects: %s%s", t->err.msg, "");
    } else {
        diff_fail(d, p, n, "scanner accepts, yajl rejects: %s%s", yerr.msg, "");
    }
    lua_settop(L, top);
}

static const unsigned char interesting[] = {
    '"', '\\', '{', '}', '[', ']', ':', ',', '0', '1', '9', '-', '+', '.', 'e', 'E', 'u', 'n',
    't', 'f', 'a', ' ', '\n', '/', 0x00, 0x01, 0x1f, 0x7f, 0x80, 0xbf, 0xc0, 0xc3, 0xe0, 0xed,
    0xf0, 0xf4, 0xf5, 0xff,
};

/* One deterministic mutation of src into out; returns its length. */
static size_t mutate(const char *src, size_t n, char *out)
{
    memcpy(out, src, n);
    size_t at = rng_below(n);
    switch (rng_below(6)) {
    case 0: /* replace a byte with an interesting one */
        out[at] = (char)interesting[rng_below(sizeof interesting)];
        return n;
    case 1: /* flip one bit */
        out[at] = (char)(out[at] ^ (1 << rng_below(8)));
        return n;
    case 2: /* truncate */
        return at;
    case 3: /* insert */
        memmove(out + at + 1, out + at, n - at);
        out[at] = (char)interesting[rng_below(sizeof interesting)];
        return n + 1;
    case 4: /* delete */
        memmove(out + at, out + at + 1, n - at - 1);
        return n - 1;
    default: { /* swap two bytes */
        size_t b = rng_below(n);
        char c = out[at];
        out[at] = out[b];
        out[b] = c;
        return n;
    }
    }
}

START_TEST(scan_differential_vs_yajl)
{
    sv t;
    sv_open(&t, diff_fields, NDIFF);
    diff_stats d;
    memset(&d, 0, sizeof d);
    ls_buf_init(&d.fail);

    for (size_t i = 0; i < NBASE; i++) diff_one(&d, &t, base_records[i], strlen(base_records[i]));
    ck_assert_int_eq(d.accepted, (int)NBASE); /* the base records are all valid */
    for (size_t i = 0; i < sizeof extra_valid / sizeof *extra_valid; i++)
        diff_one(&d, &t, extra_valid[i], strlen(extra_valid[i]));
    ck_assert_int_eq(d.nfail, 0);
    ck_assert_int_eq(d.rejected, 0);
    for (size_t i = 0; i < sizeof bad_cases / sizeof *bad_cases; i++)
        diff_one(&d, &t, bad_cases[i].p, bad_cases[i].n);
    int lax_hand = d.yajl_lax;

    rng_state = 20181231;
    char buf[1024];
    for (int round = 0; round < 40; round++)
        for (size_t i = 0; i < NBASE; i++) {
            size_t n = strlen(base_records[i]);
            ck_assert_uint_lt(n + 8, sizeof buf);
            size_t m = mutate(base_records[i], n, buf);
            /* sometimes stack a second mutation */
            if (m && rng_below(3) == 0) {
                char tmp[1024];
                memcpy(tmp, buf, m);
                m = mutate(tmp, m, buf);
            }
            diff_one(&d, &t, buf, m);
        }

    ck_assert_msg(d.nfail == 0, "%d of %d inputs differ between ls_json_scan and ls_json_decode:\n%s",
                  d.nfail, d.inputs, d.fail.data);
    ck_assert_int_ge(d.inputs, 600);
    /* the corpus exercises both sides, and the yajl-lax cases were seen */
    ck_assert_int_ge(d.accepted, 60);
    ck_assert_int_ge(d.rejected, 300);
    ck_assert_int_ge(lax_hand, 15);
    ls_buf_free(&d.fail);
    sv_close(&t);
}
END_TEST

/* What the differential test tolerates, pinned down: yajl takes these
 * (RFC 8259 forbids them), ls_json_scan rejects them. */
START_TEST(scan_stricter_than_yajl)
{
    static const bad_case lax[] = {
        BAD("{\"a\":\"\xc0\x80\"}", ""),
        BAD("{\"a\":\"\xe0\x80\x80\"}", ""),
        BAD("{\"a\":\"\xed\xa0\x80\"}", ""),
        BAD("{\"a\":\"\xf4\x90\x80\x80\"}", ""),
        BAD("{\"a\":\"\xf7\xbf\xbf\xbf\"}", ""),
        BAD("{\"a\":\"\\ud800\"}", ""),
        BAD("{\"a\":\"\\udc00\"}", ""),
        BAD("{\"a\":\"\\ud800\\u0041\"}", ""),
        BAD("\f{\"a\":1}", ""),
        BAD("{\"a\":\v1}", ""),
        BAD("{}\f", ""),
        BAD("{} \"abc", ""),
        BAD("{\"a\":1}\"", ""),
    };
    sv t;
    sv_open(&t, NAMES("a"));
    for (size_t i = 0; i < sizeof lax / sizeof *lax; i++) {
        ls_err err;
        int yrc = ls_json_decode(L, lax[i].p, lax[i].n, NULL, &err);
        if (yrc == 0) lua_pop(L, 1);
        /* if yajl ever gets strict, the differential test needs no exception */
        ck_assert_msg(yrc == 0, "case %zu: yajl now rejects it: %s", i, err.msg);
        scan_bad_n(&t, lax[i].p, lax[i].n);
        ck_assert_msg(yajl_known_lax(lax[i].p, lax[i].n, t.err.msg), "case %zu: %s", i, t.err.msg);
    }
    sv_close(&t);
}
END_TEST

Suite *json_scan_suite(void)
{
    Suite *s = suite_create("json_scan");
    TCase *tc = tcase_create("scan");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, scan_projects_only_listed_fields);
    tcase_add_test(tc, scan_scalar_types);
    tcase_add_test(tc, scan_nested_values_flagged);
    tcase_add_test(tc, scan_duplicate_keys_last_wins);
    tcase_add_test(tc, scan_escaped_keys_match);
    tcase_add_test(tc, scan_string_escapes_decoded);
    tcase_add_test(tc, scan_arena_holds_all_values);
    tcase_add_test(tc, scan_reuse_resets_view);
    tcase_add_test(tc, scan_police_call_record);
    tcase_add_test(tc, scan_rejects_invalid);
    tcase_add_test(tc, scan_accepts_utf8_boundaries);
    tcase_add_test(tc, scan_depth_limit);
    tcase_add_test(tc, scan_depth_limit_with_scalar);
    tcase_add_test(tc, scan_long_numbers);
    tcase_add_test(tc, scan_differential_vs_yajl);
    tcase_add_test(tc, scan_stricter_than_yajl);
    suite_add_tcase(s, tc);
    return s;
}
