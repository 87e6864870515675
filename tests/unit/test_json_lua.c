/* test_json_lua.c - ls_json_decode / ls_json_decode_any / ls_fieldset. */
#include <check.h>
#include <lauxlib.h>
#include <lua.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ls_json_lua.h"
#include "suites.h"

static lua_State *L;

static void setup(void) { L = luaL_newstate(); }
static void teardown(void)
{
    lua_close(L);
    L = NULL;
}

/* Decodes s (which must succeed) and leaves the table on top. */
static void decode_ok(const char *s, const ls_fieldset *fs)
{
    ls_err err = { "" };
    int top = lua_gettop(L);
    int rc = ls_json_decode(L, s, strlen(s), fs, &err);
    ck_assert_msg(rc == 0, "decode of %s failed: %s", s, err.msg);
    ck_assert_int_eq(lua_gettop(L), top + 1);
    ck_assert_int_eq(lua_type(L, -1), LUA_TTABLE);
}

/* Decodes p[0..n) (which must fail); returns the error text (static). */
static const char *decode_bad_n(const char *p, size_t n)
{
    static ls_err err;
    err.msg[0] = '\0';
    int top = lua_gettop(L);
    ck_assert_int_eq(ls_json_decode(L, p, n, NULL, &err), -1);
    ck_assert_int_eq(lua_gettop(L), top); /* stack balanced on failure */
    ck_assert_msg(err.msg[0] != '\0', "no error message for %.*s", (int)n, p);
    return err.msg;
}

static const char *decode_bad(const char *s) { return decode_bad_n(s, strlen(s)); }

static size_t count_keys(int idx)
{
    size_t n = 0;
    idx = lua_absindex(L, idx);
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        n++;
        lua_pop(L, 1);
    }
    return n;
}

START_TEST(json_scalars_in_object)
{
    decode_ok("{\"i\":42,\"f\":1.5,\"s\":\"text\",\"t\":true,\"b\":false,\"n\":null,"
              "\"neg\":-7,\"e\":1e2,\"z\":0}", NULL);
    ck_assert_int_eq(lua_getfield(L, -1, "i"), LUA_TNUMBER);
    ck_assert(lua_isinteger(L, -1));
    ck_assert_int_eq(lua_tointeger(L, -1), 42);
    lua_pop(L, 1);
    ck_assert_int_eq(lua_getfield(L, -1, "f"), LUA_TNUMBER);
    ck_assert(!lua_isinteger(L, -1));
    ck_assert_double_eq(lua_tonumber(L, -1), 1.5);
    lua_pop(L, 1);
    ck_assert_int_eq(lua_getfield(L, -1, "s"), LUA_TSTRING);
    ck_assert_str_eq(lua_tostring(L, -1), "text");
    lua_pop(L, 1);
    ck_assert_int_eq(lua_getfield(L, -1, "t"), LUA_TBOOLEAN);
    ck_assert_int_eq(lua_toboolean(L, -1), 1);
    lua_pop(L, 1);
    ck_assert_int_eq(lua_getfield(L, -1, "b"), LUA_TBOOLEAN);
    ck_assert_int_eq(lua_toboolean(L, -1), 0);
    lua_pop(L, 1);
    ck_assert_int_eq(lua_getfield(L, -1, "n"), LUA_TLIGHTUSERDATA);
    ck_assert_ptr_null(lua_touserdata(L, -1));
    lua_pop(L, 1);
    ck_assert_int_eq(lua_getfield(L, -1, "neg"), LUA_TNUMBER);
    ck_assert(lua_isinteger(L, -1));
    ck_assert_int_eq(lua_tointeger(L, -1), -7);
    lua_pop(L, 1);
    ck_assert_int_eq(lua_getfield(L, -1, "e"), LUA_TNUMBER);
    ck_assert(!lua_isinteger(L, -1));
    ck_assert_double_eq(lua_tonumber(L, -1), 100.0);
    lua_pop(L, 1);
    ck_assert_int_eq(lua_getfield(L, -1, "z"), LUA_TNUMBER);
    ck_assert(lua_isinteger(L, -1));
    lua_pop(L, 1);
    ck_assert_uint_eq(count_keys(-1), 9);
    lua_pop(L, 1);
    ck_assert_int_eq(lua_gettop(L), 0);
}
END_TEST

START_TEST(json_nested)
{
    decode_ok("{\"o\":{\"p\":[10,\"x\",{\"q\":3},[true,null]],\"e\":{},\"a\":[]}}", NULL);
    ck_assert_int_eq(lua_getfield(L, -1, "o"), LUA_TTABLE);
    ck_assert_int_eq(lua_getfield(L, -1, "p"), LUA_TTABLE);
    ck_assert_uint_eq(lua_rawlen(L, -1), 4);
    ck_assert_int_eq(lua_rawgeti(L, -1, 1), LUA_TNUMBER);
    ck_assert_int_eq(lua_tointeger(L, -1), 10);
    lua_pop(L, 1);
    ck_assert_int_eq(lua_rawgeti(L, -1, 2), LUA_TSTRING);
    ck_assert_str_eq(lua_tostring(L, -1), "x");
    lua_pop(L, 1);
    ck_assert_int_eq(lua_rawgeti(L, -1, 3), LUA_TTABLE);
    ck_assert_int_eq(lua_getfield(L, -1, "q"), LUA_TNUMBER);
    ck_assert_int_eq(lua_tointeger(L, -1), 3);
    lua_pop(L, 2);
    ck_assert_int_eq(lua_rawgeti(L, -1, 4), LUA_TTABLE);
    ck_assert_uint_eq(lua_rawlen(L, -1), 2); /* [true, null]: null is a value, not a hole */
    ck_assert_int_eq(lua_rawgeti(L, -1, 2), LUA_TLIGHTUSERDATA);
    lua_pop(L, 3); /* null, inner array, p */
    ck_assert_int_eq(lua_getfield(L, -1, "e"), LUA_TTABLE);
    ck_assert_uint_eq(count_keys(-1), 0);
    lua_pop(L, 1);
    ck_assert_int_eq(lua_getfield(L, -1, "a"), LUA_TTABLE);
    ck_assert_uint_eq(lua_rawlen(L, -1), 0);
    lua_pop(L, 3);
    ck_assert_int_eq(lua_gettop(L), 0);
}
END_TEST

static void expect_int(const char *field, lua_Integer v)
{
    ck_assert_int_eq(lua_getfield(L, -1, field), LUA_TNUMBER);
    ck_assert_msg(lua_isinteger(L, -1), "%s should be an integer", field);
    ck_assert_int_eq(lua_tointeger(L, -1), v);
    lua_pop(L, 1);
}

static void expect_float(const char *field, double v)
{
    ck_assert_int_eq(lua_getfield(L, -1, field), LUA_TNUMBER);
    ck_assert_msg(!lua_isinteger(L, -1), "%s should be a float", field);
    ck_assert_double_eq_tol(lua_tonumber(L, -1), v, fabs(v) * 1e-15 + 1e-300);
    lua_pop(L, 1);
}

START_TEST(json_integers_and_floats)
{
    decode_ok("{\"max\":9223372036854775807,\"min\":-9223372036854775808,"
              "\"over\":9223372036854775808,\"under\":-9223372036854775809,"
              "\"one\":1.0,\"exp\":2E3,\"neg\":-0.25,\"big\":123456789012345678901234567890}",
              NULL);
    expect_int("max", INT64_MAX);
    expect_int("min", INT64_MIN);
    expect_float("over", 9223372036854775808.0);
    expect_float("under", -9223372036854775809.0);
    expect_float("one", 1.0);
    expect_float("exp", 2000.0);
    expect_float("neg", -0.25);
    expect_float("big", 1.2345678901234568e29);
    lua_pop(L, 1);
}
END_TEST

START_TEST(json_unicode_escapes)
{
    decode_ok("{\"a\":\"\\u0041\",\"e\":\"\\u00e9\",\"euro\":\"\\u20AC\","
              "\"smile\":\"\\ud83d\\ude00\",\"ctl\":\"a\\nb\\t\\\"q\\\"\\\\/\\/\","
              "\"raw\":\"caf\xc3\xa9\",\"z\":\"x\\u0000y\"}", NULL);
    size_t n;
    lua_getfield(L, -1, "a");
    ck_assert_str_eq(lua_tostring(L, -1), "A");
    lua_pop(L, 1);
    lua_getfield(L, -1, "e");
    ck_assert_str_eq(lua_tostring(L, -1), "\xc3\xa9");
    lua_pop(L, 1);
    lua_getfield(L, -1, "euro");
    ck_assert_str_eq(lua_tostring(L, -1), "\xe2\x82\xac");
    lua_pop(L, 1);
    lua_getfield(L, -1, "smile");
    ck_assert_str_eq(lua_tostring(L, -1), "\xf0\x9f\x98\x80"); /* U+1F600 from a surrogate pair */
    lua_pop(L, 1);
    lua_getfield(L, -1, "ctl");
    ck_assert_str_eq(lua_tostring(L, -1), "a\nb\t\"q\"\\//");
    lua_pop(L, 1);
    lua_getfield(L, -1, "raw");
    ck_assert_str_eq(lua_tostring(L, -1), "caf\xc3\xa9");
    lua_pop(L, 1);
    lua_getfield(L, -1, "z");
    const char *z = lua_tolstring(L, -1, &n);
    ck_assert_uint_eq(n, 3);
    ck_assert_int_eq(memcmp(z, "x\0y", 3), 0);
    lua_pop(L, 2);
}
END_TEST

START_TEST(json_invalid_reports_position)
{
    const char *e = decode_bad("{\"a\":1,}");
    ck_assert_msg(strstr(e, "invalid JSON at byte") != NULL, "got: %s", e);
    e = decode_bad("{\"a\" 1}");
    size_t at = 0;
    ck_assert_msg(sscanf(e, "invalid JSON at byte %zu:", &at) == 1, "got: %s", e);
    ck_assert_msg(at >= 4 && at <= 6, "position %zu for an error at byte 5: %s", at, e);
    ck_assert_ptr_nonnull(strstr(e, "colon"));
    /* an input that ends too early is reported at its end */
    e = decode_bad("{\"a\":[1,2");
    ck_assert_msg(strncmp(e, "invalid JSON at byte 9: ", 24) == 0, "got: %s", e);
    e = decode_bad("{\"a\":tru}");
    ck_assert_msg(strstr(e, "at byte") != NULL, "got: %s", e);
    ck_assert_ptr_null(strchr(e, '\n')); /* one line */
    decode_bad("{\"a\":{\"b\":");
    decode_bad("{\"a\":1} x");        /* trailing garbage */
    decode_bad("{}{}");               /* two values */
    decode_bad("{'a':1}");
    decode_bad("{\"a\":01}");
    decode_bad("{\"a\":\"unterminated}");
}
END_TEST

START_TEST(json_root_must_be_object)
{
    static const char *const roots[] = { "[1,2]", "[]", "5", "\"s\"", "null", "true", "-1.5",
                                         "[{\"a\":1}]" };
    for (size_t i = 0; i < sizeof roots / sizeof roots[0]; i++)
        ck_assert_str_eq(decode_bad(roots[i]), "not a JSON object");
}
END_TEST

START_TEST(json_empty_message)
{
    ck_assert_str_eq(decode_bad(""), "empty message");
    ck_assert_str_eq(decode_bad_n("{}", 0), "empty message");
    decode_bad("   "); /* whitespace only: an error, whatever its wording */
    decode_ok("{}", NULL);
    ck_assert_uint_eq(count_keys(-1), 0);
    lua_pop(L, 1);
    decode_ok("  \n {\"a\":1}  \n", NULL);
    lua_pop(L, 1);
}
END_TEST

START_TEST(json_invalid_utf8)
{
    decode_bad("{\"a\":\"\xff\"}");
    decode_bad("{\"a\":\"\xc3\"}");          /* truncated sequence */
    decode_bad("{\"a\":\"\xc3\x28\"}");      /* bad continuation */
    decode_bad("{\"\xfe\":1}");              /* in a key */
    decode_bad("{\"a\":[\"ok\",\"\x80\"]}"); /* nested */
}
END_TEST

static char *nested(const char *open, const char *close, int levels, const char *inner)
{
    size_t n = strlen(open) * (size_t)levels + strlen(close) * (size_t)levels + strlen(inner) + 1;
    char *p = malloc(n);
    p[0] = '\0';
    for (int i = 0; i < levels; i++) strcat(p, open);
    strcat(p, inner);
    for (int i = 0; i < levels; i++) strcat(p, close);
    return p;
}

START_TEST(json_max_depth)
{
    ls_err err;
    /* The root object is level 1: 127 arrays inside it make 128 levels. */
    char *inner = nested("[", "]", LS_JSON_MAX_DEPTH - 1, "1");
    size_t n = strlen(inner) + 8;
    char *ok = malloc(n);
    snprintf(ok, n, "{\"a\":%s}", inner);
    ck_assert_int_eq(ls_json_decode(L, ok, strlen(ok), NULL, &err), 0);
    lua_pop(L, 1);
    free(ok);
    free(inner);

    inner = nested("[", "]", LS_JSON_MAX_DEPTH, "1");
    n = strlen(inner) + 8;
    char *deep = malloc(n);
    snprintf(deep, n, "{\"a\":%s}", inner);
    ck_assert_str_eq(decode_bad(deep), "JSON nested deeper than 128 levels");
    free(deep);
    free(inner);

    /* objects count too */
    char *objs = nested("{\"k\":", "}", LS_JSON_MAX_DEPTH + 1, "1");
    ck_assert_str_eq(decode_bad(objs), "JSON nested deeper than 128 levels");
    free(objs);

    /* far deeper than the limit: still a clean error, stack balanced */
    char *huge = nested("{\"k\":", "}", 5000, "1");
    ck_assert_str_eq(decode_bad(huge), "JSON nested deeper than 128 levels");
    free(huge);

    /* decode_any: 128 arrays ok, 129 not */
    char *arr = nested("[", "]", LS_JSON_MAX_DEPTH, "");
    ck_assert_int_eq(ls_json_decode_any(L, arr, strlen(arr), &err), 0);
    lua_pop(L, 1);
    free(arr);
    arr = nested("[", "]", LS_JSON_MAX_DEPTH + 1, "");
    ck_assert_int_eq(ls_json_decode_any(L, arr, strlen(arr), &err), -1);
    ck_assert_int_eq(lua_gettop(L), 0);
    free(arr);
}
END_TEST

START_TEST(json_projection)
{
    ls_fieldset *fs = ls_fieldset_new();
    ls_fieldset_add(fs, "a");
    ls_fieldset_add(fs, "c");
    ls_fieldset_add(fs, "k");
    ls_fieldset_add(fs, "a"); /* duplicates are ignored */
    ck_assert_uint_eq(fs->n, 3);
    ck_assert(ls_fieldset_has(fs, "c", 1));
    ck_assert(!ls_fieldset_has(fs, "cc", 2));
    ck_assert(ls_fieldset_has(fs, "cc", 1)); /* length-bounded compare */

    decode_ok("{\"b\":{\"a\":99,\"c\":[1,{\"k\":2}],\"z\":{}},"
              "\"a\":1,"
              "\"d\":[[],[[{\"a\":5}]],{\"c\":\"no\"}],"
              "\"c\":\"keep\","
              "\"e\":null,\"f\":true,\"g\":\"s\",\"h\":2.5,"
              "\"k\":{\"x\":{\"y\":[1,2,3]},\"b\":\"nested keys are not projected\"},"
              "\"last\":{\"a\":{}}}", fs);
    ck_assert_uint_eq(count_keys(-1), 3);
    expect_int("a", 1);
    lua_getfield(L, -1, "c");
    ck_assert_str_eq(lua_tostring(L, -1), "keep");
    lua_pop(L, 1);
    ck_assert_int_eq(lua_getfield(L, -1, "b"), LUA_TNIL);
    lua_pop(L, 1);
    ck_assert_int_eq(lua_getfield(L, -1, "k"), LUA_TTABLE);
    ck_assert_uint_eq(count_keys(-1), 2);
    ck_assert_int_eq(lua_getfield(L, -1, "x"), LUA_TTABLE);
    ck_assert_int_eq(lua_getfield(L, -1, "y"), LUA_TTABLE);
    ck_assert_uint_eq(lua_rawlen(L, -1), 3);
    lua_pop(L, 4);

    /* a projected field absent from the record simply stays nil */
    decode_ok("{\"x\":[{\"a\":1}],\"y\":{\"c\":2}}", fs);
    ck_assert_uint_eq(count_keys(-1), 0);
    lua_pop(L, 1);

    /* projection does not hide errors in skipped values */
    decode_bad("{\"skip\":[1,2,}");
    ls_err err;
    const char *bad = "{\"skip\":{\"q\":[1,}],\"a\":1}";
    ck_assert_int_eq(ls_json_decode(L, bad, strlen(bad), fs, &err), -1);
    ck_assert_int_eq(lua_gettop(L), 0);
    const char *badutf = "{\"skip\":\"\xff\",\"a\":1}";
    ck_assert_int_eq(ls_json_decode(L, badutf, strlen(badutf), fs, &err), -1);
    ck_assert_int_eq(lua_gettop(L), 0);
    ls_fieldset_free(fs);
}
END_TEST

START_TEST(json_stack_balanced)
{
    lua_pushstring(L, "sentinel");
    lua_pushinteger(L, 7);
    ls_err err;
    for (int i = 0; i < 100; i++) {
        const char *good = "{\"a\":[1,{\"b\":[null,2.5]}],\"c\":\"d\"}";
        ck_assert_int_eq(ls_json_decode(L, good, strlen(good), NULL, &err), 0);
        ck_assert_int_eq(lua_gettop(L), 3);
        lua_pop(L, 1);
        const char *bad = "{\"a\":[1,{\"b\":[null,2.5]}],\"c\":";
        ck_assert_int_eq(ls_json_decode(L, bad, strlen(bad), NULL, &err), -1);
        ck_assert_int_eq(lua_gettop(L), 2);
        ck_assert_int_eq(ls_json_decode(L, "[1]", 3, NULL, &err), -1);
        ck_assert_int_eq(lua_gettop(L), 2);
    }
    ck_assert_str_eq(lua_tostring(L, 1), "sentinel");
    ck_assert_int_eq(lua_tointeger(L, 2), 7);
    /* a NULL err buffer is allowed */
    ck_assert_int_eq(ls_json_decode(L, "{", 1, NULL, NULL), -1);
    ck_assert_int_eq(lua_gettop(L), 2);
    lua_settop(L, 0);
}
END_TEST

START_TEST(json_decode_any)
{
    ls_err err;
    ck_assert_int_eq(ls_json_decode_any(L, "5", 1, &err), 0);
    ck_assert(lua_isinteger(L, -1));
    ck_assert_int_eq(lua_tointeger(L, -1), 5);
    ck_assert_int_eq(ls_json_decode_any(L, "\"s\"", 3, &err), 0);
    ck_assert_str_eq(lua_tostring(L, -1), "s");
    ck_assert_int_eq(ls_json_decode_any(L, "null", 4, &err), 0);
    ck_assert_int_eq(lua_type(L, -1), LUA_TLIGHTUSERDATA);
    ck_assert_ptr_null(lua_touserdata(L, -1));
    ck_assert_int_eq(ls_json_decode_any(L, "false", 5, &err), 0);
    ck_assert_int_eq(lua_type(L, -1), LUA_TBOOLEAN);
    ck_assert_int_eq(ls_json_decode_any(L, "-2.5", 4, &err), 0);
    ck_assert_double_eq(lua_tonumber(L, -1), -2.5);
    ck_assert_int_eq(ls_json_decode_any(L, "[1,[2],{\"a\":3}]", 15, &err), 0);
    ck_assert_int_eq(lua_type(L, -1), LUA_TTABLE);
    ck_assert_uint_eq(lua_rawlen(L, -1), 3);
    ck_assert_int_eq(ls_json_decode_any(L, "{\"o\":1}", 7, &err), 0);
    ck_assert_int_eq(lua_type(L, -1), LUA_TTABLE);
    ck_assert_int_eq(lua_gettop(L), 7);
    ck_assert_int_eq(ls_json_decode_any(L, "", 0, &err), -1);
    ck_assert_str_eq(err.msg, "empty message");
    ck_assert_int_eq(ls_json_decode_any(L, "[1,", 3, &err), -1);
    ck_assert_int_eq(ls_json_decode_any(L, "1 2", 3, &err), -1);
    ck_assert_int_eq(lua_gettop(L), 7);
    lua_settop(L, 0);
}
END_TEST

Suite *json_lua_suite(void)
{
    Suite *s = suite_create("json_lua");
    TCase *tc = tcase_create("decode");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, json_scalars_in_object);
    tcase_add_test(tc, json_nested);
    tcase_add_test(tc, json_integers_and_floats);
    tcase_add_test(tc, json_unicode_escapes);
    tcase_add_test(tc, json_invalid_reports_position);
    tcase_add_test(tc, json_root_must_be_object);
    tcase_add_test(tc, json_empty_message);
    tcase_add_test(tc, json_invalid_utf8);
    tcase_add_test(tc, json_max_depth);
    tcase_add_test(tc, json_projection);
    tcase_add_test(tc, json_stack_balanced);
    tcase_add_test(tc, json_decode_any);
    suite_add_tcase(s, tc);
    return s;
}
