/* test_table.c - static join tables loaded from JSON files (ls_table). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "ls_table.h"
#include "suites.h"
#include "test_helpers.h"

static char *dir;

static void setup(void) { dir = th_tmpdir(); ck_assert_ptr_nonnull(dir); }
static void teardown(void)
{
    th_rmrf(dir);
    free(dir);
    dir = NULL;
}

static char *write_json(const char *name, const char *text)
{
    return th_write_file(dir, name, text, strlen(text));
}

/* Loads text (which must fail) and returns the error; frees the path. */
static void load_fails(const char *text, const char *want_substr)
{
    char *path = write_json("bad.json", text);
    ls_err err = { "" };
    ls_table *t = ls_table_load(path, "code", &err);
    ck_assert_msg(t == NULL, "loading %s should fail", text);
    ck_assert_msg(strstr(err.msg, path) != NULL, "error does not name the file: %s", err.msg);
    ck_assert_msg(strstr(err.msg, want_substr) != NULL, "error \"%s\" lacks \"%s\"", err.msg, want_substr);
    free(path);
}

static const char *RADIO =
    "[\n"
    "  {\"code\": \"A1\", \"name\": \"Alpha\", \"power\": 10},\n"
    "  {\"name\": \"Bravo\", \"code\": \"B2\", \"power\": 2.5, \"active\": true},\n"
    "  {\"code\": 7, \"name\": null, \"region\": \"north\"},\n"
    "  {\"code\": \"D4\"}\n"
    "]\n";

START_TEST(table_load_and_lookup)
{
    char *path = write_json("radio.json", RADIO);
    ls_err err = { "" };
    ls_table *t = ls_table_load(path, "code", &err);
    ck_assert_msg(t != NULL, "load failed: %s", err.msg);
    ck_assert_str_eq(t->path, path);
    ck_assert_str_eq(t->key, "code");
    ck_assert_uint_eq(t->nrows, 4);
    /* the key column first, then columns in order of first appearance */
    ck_assert_uint_eq(t->ncols, 5);
    ck_assert_str_eq(t->cols[0], "code");
    ck_assert_str_eq(t->cols[1], "name");
    ck_assert_str_eq(t->cols[2], "power");
    ck_assert_str_eq(t->cols[3], "active");
    ck_assert_str_eq(t->cols[4], "region");
    ck_assert_int_eq(ls_table_col(t, "code"), 0);
    ck_assert_int_eq(ls_table_col(t, "region"), 4);
    ck_assert_int_eq(ls_table_col(t, "nope"), -1);

    ls_buf scratch;
    ls_buf_init(&scratch);
    ls_value k = ls_str("B2", 2);
    long r = ls_table_lookup(t, &k, &scratch);
    ck_assert_int_eq(r, 1);
    const ls_value *name = ls_table_cell(t, (size_t)r, 1);
    ck_assert_int_eq(name->type, LS_STR);
    ck_assert_uint_eq(name->u.s.n, 5);
    ck_assert_int_eq(memcmp(name->u.s.p, "Bravo", 5), 0);
    ck_assert_int_eq(ls_table_cell(t, 1, 2)->type, LS_DOUBLE);
    ck_assert_double_eq(ls_table_cell(t, 1, 2)->u.d, 2.5);
    ck_assert_int_eq(ls_table_cell(t, 1, 3)->type, LS_BOOL);
    ck_assert_int_eq(ls_table_cell(t, 1, 3)->u.b, 1);
    ck_assert_int_eq(ls_table_cell(t, 1, 4)->type, LS_NULL); /* row lacks the column */

    k = ls_str("A1", 2);
    r = ls_table_lookup(t, &k, &scratch);
    ck_assert_int_eq(r, 0);
    ck_assert_int_eq(ls_table_cell(t, 0, 2)->type, LS_INT);
    ck_assert_int_eq(ls_table_cell(t, 0, 2)->u.i, 10);

    /* integer key; 7.0 finds it too */
    k = ls_int(7);
    ck_assert_int_eq(ls_table_lookup(t, &k, &scratch), 2);
    k = ls_double(7.0);
    ck_assert_int_eq(ls_table_lookup(t, &k, &scratch), 2);
    ck_assert_int_eq(ls_table_cell(t, 2, 1)->type, LS_NULL); /* explicit null */
    ck_assert_int_eq(ls_table_cell(t, 2, 4)->type, LS_STR);

    k = ls_str("D4", 2);
    ck_assert_int_eq(ls_table_lookup(t, &k, &scratch), 3);

    /* misses */
    k = ls_str("Z9", 2);
    ck_assert_int_eq(ls_table_lookup(t, &k, &scratch), -1);
    k = ls_str("7", 1); /* a string is not the integer 7 */
    ck_assert_int_eq(ls_table_lookup(t, &k, &scratch), -1);
    k = ls_str("a1", 2);
    ck_assert_int_eq(ls_table_lookup(t, &k, &scratch), -1);
    k = ls_null();
    ck_assert_int_eq(ls_table_lookup(t, &k, &scratch), -1);
    k = ls_int(8);
    ck_assert_int_eq(ls_table_lookup(t, &k, &scratch), -1);
    ls_buf_free(&scratch);
    ls_table_free(t);
    free(path);
}
END_TEST

START_TEST(table_many_rows)
{
    ls_buf text;
    ls_buf_init(&text);
    ls_buf_putc(&text, '[');
    for (int i = 0; i < 5000; i++)
        ls_buf_printf(&text, "%s{\"id\":%d,\"label\":\"row-%d\"}", i ? "," : "", i, i);
    ls_buf_putc(&text, ']');
    char *path = th_write_file(dir, "big.json", text.data, text.len);
    ls_buf_free(&text);
    ls_err err;
    ls_table *t = ls_table_load(path, "id", &err);
    ck_assert_msg(t != NULL, "%s", err.msg);
    ck_assert_uint_eq(t->nrows, 5000);
    ls_buf scratch;
    ls_buf_init(&scratch);
    for (int i = 0; i < 5000; i += 13) {
        ls_value k = ls_int(i);
        long r = ls_table_lookup(t, &k, &scratch);
        ck_assert_int_eq(r, i);
        char want[32];
        int n = snprintf(want, sizeof want, "row-%d", i);
        const ls_value *c = ls_table_cell(t, (size_t)r, 1);
        ck_assert_uint_eq(c->u.s.n, (size_t)n);
        ck_assert_int_eq(memcmp(c->u.s.p, want, (size_t)n), 0);
    }
    ls_value miss = ls_int(5000);
    ck_assert_int_eq(ls_table_lookup(t, &miss, &scratch), -1);
    ls_buf_free(&scratch);
    ls_table_free(t);
    free(path);
}
END_TEST

START_TEST(table_empty_array)
{
    char *path = write_json("empty.json", "[]");
    ls_err err;
    ls_table *t = ls_table_load(path, "code", &err);
    ck_assert_msg(t != NULL, "%s", err.msg);
    ck_assert_uint_eq(t->nrows, 0);
    ls_buf scratch;
    ls_buf_init(&scratch);
    ls_value k = ls_str("A", 1);
    ck_assert_int_eq(ls_table_lookup(t, &k, &scratch), -1);
    ls_buf_free(&scratch);
    ls_table_free(t);
    free(path);
}
END_TEST

START_TEST(table_missing_file)
{
    ls_err err = { "" };
    size_t n = strlen(dir) + 32;
    char *path = malloc(n);
    snprintf(path, n, "%s/does-not-exist.json", dir);
    ck_assert_ptr_null(ls_table_load(path, "code", &err));
    ck_assert_msg(strstr(err.msg, path) != NULL, "error does not name the file: %s", err.msg);
    ck_assert_msg(strstr(err.msg, "No such file") != NULL, "got: %s", err.msg);
    free(path);
}
END_TEST

START_TEST(table_errors)
{
    load_fails("[{\"code\":\"A\"},", "invalid JSON");
    load_fails("not json", "invalid JSON");
    load_fails("{\"code\":\"A\"}", "expected a JSON array of objects");
    load_fails("42", "expected a JSON array of objects");
    load_fails("[{\"code\":\"A\"}, 5]", "element 2 (counting from 1) is not an object");
    load_fails("[[1]]", "element 1 (counting from 1) is not an object");
    load_fails("[{\"code\":\"A\"}, {\"name\":\"x\"}]", "element 2 (counting from 1) has no key \"code\"");
    load_fails("[{\"code\":null}]", "element 1 (counting from 1) has no key \"code\"");
    load_fails("[{\"code\":\"A\"}, {\"code\":\"B\"}, {\"code\":\"A\"}]",
               "duplicate key code = \"A\" at element 3 (counting from 1)");
    load_fails("[{\"code\":1}, {\"code\":1.0}]", "duplicate key code = \"1.0\" at element 2 (counting from 1)");
    load_fails("[{\"code\":\"A\",\"loc\":{\"lat\":1}}]",
               "element 1 (counting from 1), field \"loc\": nested values are not supported");
    load_fails("[{\"code\":\"A\"},{\"code\":\"B\",\"tags\":[1,2]}]",
               "element 2 (counting from 1), field \"tags\": nested values are not supported");
    load_fails("[{\"code\":{\"a\":1}}]", "nested values are not supported");
}
END_TEST

/* A field repeated inside one element: the last value wins. */
START_TEST(table_repeated_field_last_wins)
{
    char *path = write_json("rep.json", "[{\"code\":\"A\",\"name\":\"first\",\"name\":\"second\"}]");
    ls_err err;
    ls_table *t = ls_table_load(path, "code", &err);
    ck_assert_msg(t != NULL, "%s", err.msg);
    ck_assert_uint_eq(t->ncols, 2);
    const ls_value *c = ls_table_cell(t, 0, 1);
    ck_assert_int_eq(c->type, LS_STR);
    ck_assert_uint_eq(c->u.s.n, 6);
    ck_assert_int_eq(memcmp(c->u.s.p, "second", 6), 0);
    ls_table_free(t);
    free(path);
}
END_TEST

/* Regression (was a bug in ls_table.c, ls_table_load): when a field is repeated in one
 * element, first with a string and then with a nested value, the loader
 * frees the first string ("duplicate key: last wins"), then cell_from_node
 * fails without overwriting the cell, so the cell still says LS_STR with
 * the freed pointer and ls_table_free frees it a second time (double free;
 * ASan: attempting double-free).  Expected: the error
 * "field \"name\": nested values are not supported" and no crash. */
START_TEST(table_repeated_field_then_nested)
{
    load_fails("[{\"code\":\"A\",\"name\":\"x\",\"name\":{\"n\":1}}]",
               "field \"name\": nested values are not supported");
}
END_TEST

/* Regression (was a bug in ls_table.c, read_file): for an empty file nothing is appended,
 * so the buffer returned by ls_buf_reserve(&b, 0) is a fresh 64-byte
 * allocation that is never NUL-terminated; yajl_tree_parse() then runs
 * strlen() over uninitialized memory (ASan: heap-buffer-overflow READ of
 * size 65 in yajl_tree_parse from ls_table_load).  Expected: a clean
 * "<path>: invalid JSON: ..." error.  The plain build usually passes by
 * luck; make test-asan shows the overflow. */
START_TEST(table_empty_file)
{
    load_fails("", "invalid JSON");
}
END_TEST

Suite *table_suite(void)
{
    Suite *s = suite_create("table");
    TCase *tc = tcase_create("load");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, table_load_and_lookup);
    tcase_add_test(tc, table_many_rows);
    tcase_add_test(tc, table_empty_array);
    tcase_add_test(tc, table_missing_file);
    tcase_add_test(tc, table_errors);
    tcase_add_test(tc, table_repeated_field_last_wins);
    suite_add_tcase(s, tc);
    tc = tcase_create("regressions");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, table_repeated_field_then_nested);
    tcase_add_test(tc, table_empty_file);
    suite_add_tcase(s, tc);
    return s;
}
