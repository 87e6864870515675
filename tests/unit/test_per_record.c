/* test_per_record.c - the pieces of per-record queries that need no query:
 * where predicates (ls_where), Lua rows to JSON (ls_json_encode), and the
 * rows workers hold back until the end of a batch (ls_outbuf). */
#include <check.h>
#include <lauxlib.h>
#include <lualib.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ls_json_encode.h"
#include "ls_outbuf.h"
#include "ls_where.h"
#include "suites.h"
#include "test_helpers.h"

static int match(ls_where_op op, ls_value operand, ls_value v)
{
    ls_where_operand w;
    ls_where_operand_init(&w, op);
    if (op != LS_OP_IS_NULL && op != LS_OP_NOT_NULL) ls_where_operand_add(&w, &operand);
    int r = ls_where_match(&w, &v);
    ls_where_operand_free(&w);
    return r;
}

START_TEST(where_comparisons_as_spark)
{
    ck_assert(match(LS_OP_EQ, ls_str("HAN", 3), ls_str("HAN", 3)));
    ck_assert(!match(LS_OP_EQ, ls_str("HAN", 3), ls_str("han", 3)));
    ck_assert(match(LS_OP_EQ, ls_int(1), ls_double(1.0)));       /* numbers by value */
    ck_assert(match(LS_OP_EQ, ls_double(0.0), ls_double(-0.0)));
    ck_assert(match(LS_OP_EQ, ls_double(NAN), ls_double(NAN)));   /* NaN = NaN in Spark */
    ck_assert(match(LS_OP_GT, ls_int(5), ls_double(NAN)));        /* and above every number */
    ck_assert(match(LS_OP_EQ, ls_int(7), ls_str(" 7", 2)));       /* a string cast to double */
    ck_assert(!match(LS_OP_EQ, ls_int(7), ls_str("seven", 5)));
    ck_assert(!match(LS_OP_NE, ls_int(7), ls_str("seven", 5)));   /* not comparable: no match */
    ck_assert(!match(LS_OP_EQ, ls_int(1), ls_null()));            /* null never compares */
    ck_assert(!match(LS_OP_NE, ls_int(1), ls_null()));
    ck_assert(match(LS_OP_IS_NULL, ls_null(), ls_null()));
    ck_assert(match(LS_OP_NOT_NULL, ls_null(), ls_int(0)));
    ck_assert(match(LS_OP_LT, ls_str("b", 1), ls_str("a", 1)));   /* strings by bytes */
    ck_assert(match(LS_OP_GE, ls_int(9007199254740993LL), ls_int(9007199254740993LL)));
    ck_assert(match(LS_OP_LT, ls_int(9007199254740993LL), ls_double(9007199254740992.0))); /* exactly */
    ls_value t;
    t.type = LS_BOOL;
    t.u.b = 1;
    ck_assert(match(LS_OP_EQ, t, t));
    ck_assert(!match(LS_OP_EQ, t, ls_int(1))); /* a boolean is no number */
    ls_where_operand w;
    ls_where_operand_init(&w, LS_OP_IN);
    ls_value a = ls_str("A", 1), b = ls_int(2);
    ls_where_operand_add(&w, &a);
    ls_where_operand_add(&w, &b);
    ck_assert(ls_where_match(&w, &a));
    ck_assert(ls_where_match(&w, &(ls_value){ .type = LS_DOUBLE, .u.d = 2.0 }));
    ck_assert(!ls_where_match(&w, &(ls_value){ .type = LS_STR, .u.s = { "B", 1 } }));
    ls_where_operand_free(&w);
    ls_where_op op;
    ck_assert_int_eq(ls_where_op_parse("~=", &op), 0);
    ck_assert_int_eq(op, LS_OP_NE);
    ck_assert_int_eq(ls_where_op_parse("=>", &op), -1);
}
END_TEST

static char *encode(lua_State *L, const char *lua, ls_err *err)
{
    ck_assert_int_eq(luaL_dostring(L, lua), LUA_OK);
    ls_buf b;
    ls_buf_init(&b);
    static const char *const skip[] = { "_key", NULL };
    int rc = ls_json_encode(L, -1, skip, &b, err);
    lua_pop(L, 1);
    if (rc) {
        ls_buf_free(&b);
        return NULL;
    }
    ls_buf_puts(&b, "");
    return b.data;
}

START_TEST(json_encode_rows)
{
    lua_State *L = luaL_newstate();
    luaL_openlibs(L);
    lua_pushlightuserdata(L, NULL);
    lua_setglobal(L, "null");
    ls_err err;
    char *s = encode(L, "return { b = 1, a = 'x', c = { 1, 2.5, 'three', false, null }, d = {}, _key = 'k' }", &err);
    ck_assert_str_eq(s, "{\"a\":\"x\",\"b\":1,\"c\":[1,2.5,\"three\",false,null],\"d\":{}}");
    free(s);
    s = encode(L, "return { n = 0/0, i = 1/0, f = 448.99, g = 3.0, e = 1e21 }", &err);
    ck_assert_str_eq(s, "{\"e\":1e+21,\"f\":448.99,\"g\":3.0,\"i\":\"Infinity\",\"n\":\"NaN\"}");
    free(s);
    s = encode(L, "return { [1] = 'a', [3] = 'c' }", &err); /* not 1..n: no array */
    ck_assert_ptr_null(s);
    ck_assert_msg(strstr(err.msg, "a number key in an object") != NULL, "%s", err.msg);
    ck_assert_ptr_null(encode(L, "return { f = print }", &err));
    ck_assert_msg(strstr(err.msg, "a function cannot be written as JSON") != NULL, "%s", err.msg);
    ck_assert_ptr_null(encode(L, "return { s = '\\xff' }", &err));
    ck_assert_msg(strstr(err.msg, "not valid UTF-8") != NULL, "%s", err.msg);
    ck_assert_ptr_null(encode(L, "local t = {} t.self = t return t", &err)); /* a cycle: too deep */
    ck_assert_msg(strstr(err.msg, "nested deeper") != NULL, "%s", err.msg);
    ck_assert_int_eq(lua_gettop(L), 0);
    lua_close(L);
}
END_TEST

START_TEST(outbuf_writes_in_reading_order)
{
    char *dir = th_tmpdir();
    ls_err err;
    ls_sink *sink = ls_sink_jsonl_new(dir, "q", &err);
    ck_assert_ptr_nonnull(sink);
    ls_outbuf a, b;
    ls_outbuf_init(&a);
    ls_outbuf_init(&b);
    const char *hn[] = { "h" }, *hv[] = { "v" };
    size_t hl[] = { 1 };
    ls_out o = { "{\"r\":3}", 7, "k", 1, "t", 1, hn, hv, hl };
    ls_outbuf_add(&b, 3, 0, &o);
    o.json = "{\"r\":1}";
    ls_outbuf_add(&a, 1, 0, &o);
    o.json = "{\"r\":2.2}";
    o.len = 9;
    ls_outbuf_add(&b, 2, 2, &o);
    o.json = "{\"r\":2.1}";
    ls_outbuf_add(&a, 2, 1, &o);
    ls_outbuf *bufs[] = { &a, &b };
    sink->vt->open_batch(sink, 0, &err);
    ck_assert_int_eq(ls_outbuf_write(bufs, 2, sink, &err), 0);
    ck_assert_int_eq(sink->vt->close_batch(sink, &err), 0);
    ck_assert_uint_eq(a.n + b.n, 0);
    char path[1024];
    snprintf(path, sizeof path, "%s/q.jsonl", dir);
    char *text = th_read_file(path, NULL);
    ck_assert_str_eq(text, "{\"r\":1}\n{\"r\":2.1}\n{\"r\":2.2}\n{\"r\":3}\n");
    free(text);
    ls_outbuf_free(&a);
    ls_outbuf_free(&b);
    ls_sink_destroy(sink);
    th_rmrf(dir);
    free(dir);
}
END_TEST

Suite *per_record_suite(void)
{
    Suite *s = suite_create("per_record");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, where_comparisons_as_spark);
    tcase_add_test(tc, json_encode_rows);
    tcase_add_test(tc, outbuf_writes_in_reading_order);
    suite_add_tcase(s, tc);
    return s;
}
