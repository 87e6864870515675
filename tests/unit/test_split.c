/* test_split.c - ls_splitter: JSON arrays and NDJSON split into records. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ls_json_split.h"
#include "suites.h"

#define MAXREC 16

typedef struct result {
    int n;              /* records read */
    char *rec[MAXREC];
    int rc;             /* last return: 0 end, -1 error */
    ls_err err;
} result;

static void split_stream(FILE *f, result *r)
{
    memset(r, 0, sizeof *r);
    ls_splitter s;
    ls_splitter_init(&s, f);
    for (;;) {
        int rc = ls_splitter_next(&s, &r->err);
        if (rc != 1) {
            r->rc = rc;
            break;
        }
        ck_assert_int_lt(r->n, MAXREC);
        r->rec[r->n++] = strndup(s.rec.data ? s.rec.data : "", s.rec.len);
    }
    /* after the end or an error, it stays ended */
    ls_err err2;
    ck_assert_int_eq(ls_splitter_next(&s, &err2), 0);
    ls_splitter_free(&s);
}

static void split(const char *text, size_t n, result *r)
{
    FILE *f = fmemopen((void *)text, n, "rb");
    ck_assert_ptr_nonnull(f);
    split_stream(f, r);
    fclose(f);
}

static void splits(const char *text, result *r) { split(text, strlen(text), r); }

static void result_free(result *r)
{
    for (int i = 0; i < r->n; i++) free(r->rec[i]);
}

START_TEST(split_compact_array)
{
    result r;
    splits("[{\"a\":1},{\"b\":2},3,\"s\",null,true,-1.5e3]", &r);
    ck_assert_int_eq(r.rc, 0);
    ck_assert_int_eq(r.n, 7);
    ck_assert_str_eq(r.rec[0], "{\"a\":1}");
    ck_assert_str_eq(r.rec[1], "{\"b\":2}");
    ck_assert_str_eq(r.rec[2], "3");
    ck_assert_str_eq(r.rec[3], "\"s\"");
    ck_assert_str_eq(r.rec[4], "null");
    ck_assert_str_eq(r.rec[5], "true");
    ck_assert_str_eq(r.rec[6], "-1.5e3");
    result_free(&r);
}
END_TEST

START_TEST(split_pretty_array)
{
    result r;
    splits("[\n  {\n    \"a\": 1,\n    \"b\": [1, 2]\n  },\n\t{ \"c\" : \"d\" }\r\n]\n\n", &r);
    ck_assert_int_eq(r.rc, 0);
    ck_assert_int_eq(r.n, 2);
    /* records leave compact: whitespace between tokens is dropped ... */
    ck_assert_str_eq(r.rec[0], "{\"a\":1,\"b\":[1,2]}");
    ck_assert_str_eq(r.rec[1], "{\"c\":\"d\"}");
    result_free(&r);
    /* ... but not inside strings */
    splits("[ { \"a b\" : \" x\\\" y \" } ]", &r);
    ck_assert_int_eq(r.rc, 0);
    ck_assert_int_eq(r.n, 1);
    ck_assert_str_eq(r.rec[0], "{\"a b\":\" x\\\" y \"}");
    result_free(&r);
}
END_TEST

START_TEST(split_ndjson)
{
    result r;
    splits("{\"a\":1}\n{\"b\":2}\n\n  {\"c\":[3]}\n", &r);
    ck_assert_int_eq(r.rc, 0);
    ck_assert_int_eq(r.n, 3);
    ck_assert_str_eq(r.rec[0], "{\"a\":1}");
    ck_assert_str_eq(r.rec[1], "{\"b\":2}");
    ck_assert_str_eq(r.rec[2], "{\"c\":[3]}");
    result_free(&r);
    /* no trailing newline; values back to back */
    splits("{\"a\":1}{\"b\":2}", &r);
    ck_assert_int_eq(r.rc, 0);
    ck_assert_int_eq(r.n, 2);
    ck_assert_str_eq(r.rec[1], "{\"b\":2}");
    result_free(&r);
    /* scalars separated by whitespace */
    splits("1 2\n\"x y\"", &r);
    ck_assert_int_eq(r.rc, 0);
    ck_assert_int_eq(r.n, 3);
    ck_assert_str_eq(r.rec[2], "\"x y\"");
    result_free(&r);
}
END_TEST

START_TEST(split_empty_inputs)
{
    result r;
    splits("[]", &r);
    ck_assert_int_eq(r.rc, 0);
    ck_assert_int_eq(r.n, 0);
    splits(" [ \n ] \n", &r);
    ck_assert_int_eq(r.rc, 0);
    ck_assert_int_eq(r.n, 0);
    splits("", &r);
    ck_assert_int_eq(r.rc, 0);
    ck_assert_int_eq(r.n, 0);
    splits(" \n\t ", &r);
    ck_assert_int_eq(r.rc, 0);
    ck_assert_int_eq(r.n, 0);
}
END_TEST

START_TEST(split_bom)
{
    result r;
    splits("\xef\xbb\xbf[{\"a\":1}]", &r);
    ck_assert_int_eq(r.rc, 0);
    ck_assert_int_eq(r.n, 1);
    ck_assert_str_eq(r.rec[0], "{\"a\":1}");
    result_free(&r);
    splits("\xef\xbb\xbf\n{\"a\":1}\n{\"a\":2}\n", &r);
    ck_assert_int_eq(r.rc, 0);
    ck_assert_int_eq(r.n, 2);
    ck_assert_str_eq(r.rec[0], "{\"a\":1}");
    result_free(&r);
}
END_TEST

START_TEST(split_tricky_strings)
{
    result r;
    splits("[{\"s\":\"a]b,c}d{[\"},\"x,]\",{\"q\":\"he said \\\"hi\\\", ]\"},"
           "{\"bs\":\"ends with backslash \\\\\"},{\"n\":[[],{},[{}]]}]", &r);
    ck_assert_msg(r.rc == 0, "%s", r.err.msg);
    ck_assert_int_eq(r.n, 5);
    ck_assert_str_eq(r.rec[0], "{\"s\":\"a]b,c}d{[\"}");
    ck_assert_str_eq(r.rec[1], "\"x,]\"");
    ck_assert_str_eq(r.rec[2], "{\"q\":\"he said \\\"hi\\\", ]\"}");
    ck_assert_str_eq(r.rec[3], "{\"bs\":\"ends with backslash \\\\\"}");
    ck_assert_str_eq(r.rec[4], "{\"n\":[[],{},[{}]]}");
    result_free(&r);
    /* nested arrays as records */
    splits("[[1,[2,3]],[]]", &r);
    ck_assert_int_eq(r.rc, 0);
    ck_assert_int_eq(r.n, 2);
    ck_assert_str_eq(r.rec[0], "[1,[2,3]]");
    ck_assert_str_eq(r.rec[1], "[]");
    result_free(&r);
}
END_TEST

static void expect_error(const char *text, int nrec, const char *what, const char *where)
{
    result r;
    splits(text, &r);
    ck_assert_msg(r.rc == -1, "expected an error for %s", text);
    ck_assert_int_eq(r.n, nrec);
    ck_assert_msg(strstr(r.err.msg, what) != NULL, "error \"%s\" lacks \"%s\"", r.err.msg, what);
    ck_assert_msg(strstr(r.err.msg, where) != NULL, "error \"%s\" lacks \"%s\"", r.err.msg, where);
    result_free(&r);
}

START_TEST(split_errors_with_position)
{
    expect_error("[{\"a\":1} {\"b\":2}]", 1, "expected ',' or ']' between records",
                 "at byte 9 (line 1, column 10)");
    expect_error("[\n{\"a\":1}\n{\"b\":2}]", 1, "expected ',' or ']' between records",
                 "(line 3, column 1)");
    expect_error("[{\"a\":1},{\"b\":2}", 2,
                 "the array opened at line 1, column 1 is not closed: end of file",
                 "at byte 16 (line 1, column 17)");
    expect_error("[{\"a\":1}] x", 1, "unexpected data after the closing ']'",
                 "at byte 10 (line 1, column 11)");
    expect_error("[{\"a\":1}]\n]", 1, "unexpected data after the closing ']'", "line 2, column 1");
    expect_error("[{\"a\":1},{\"b\":", 1,
                 "the record that starts at line 1, column 10 is cut off: 1 bracket is never closed",
                 "end of file at byte 14");
    expect_error("[{\"a\":\"unterminated}]", 0,
                 "the record that starts at line 1, column 2 is cut off: its string opened at "
                 "line 1, column 7 is never closed", "end of file at byte 21");
    expect_error("{\"a\":1}\n{\"b\":[1,2", 1,
                 "the record that starts at line 2, column 1 is cut off: 2 brackets are never closed",
                 "(line 2, column 10)");
    expect_error("[{\"a\":1},]", 1, "expected a value", "at byte 9");
    expect_error("[,{\"a\":1}]", 0, "expected a value", "at byte 1");
    expect_error("[", 0, "is not closed", "at byte 1");
    expect_error("{\"a\":1}}", 1, "unexpected closing bracket", "at byte 7");
    expect_error("{\"a\":1},{\"b\":2}", 1, "unexpected character", "at byte 7");
}
END_TEST

START_TEST(split_large_records_across_chunks)
{
    /* records larger than the 64 KiB read buffer, and one straddling it */
    size_t big = 150000;
    ls_buf text;
    ls_buf_init(&text);
    ls_buf_puts(&text, "[{\"pad\":\"");
    for (size_t i = 0; i < big; i++) ls_buf_putc(&text, (char)('a' + i % 26));
    ls_buf_puts(&text, "\"},");
    ls_buf_puts(&text, "{\"k\":\"]\\\",{\"}");
    ls_buf_puts(&text, ",\n{\"pad2\":[");
    for (int i = 0; i < 20000; i++) ls_buf_printf(&text, "%s%d", i ? "," : "", i);
    ls_buf_puts(&text, "]}]");
    FILE *f = tmpfile();
    fwrite(text.data, 1, text.len, f);
    rewind(f);
    result r;
    split_stream(f, &r);
    fclose(f);
    ck_assert_msg(r.rc == 0, "%s", r.err.msg);
    ck_assert_int_eq(r.n, 3);
    ck_assert_uint_eq(strlen(r.rec[0]), big + 10);
    ck_assert_int_eq(strncmp(r.rec[0], "{\"pad\":\"abc", 11), 0);
    ck_assert_str_eq(r.rec[1], "{\"k\":\"]\\\",{\"}");
    ck_assert_int_eq(strncmp(r.rec[2], "{\"pad2\":[0,1,2,", 15), 0);
    ck_assert_int_eq(strcmp(r.rec[2] + strlen(r.rec[2]) - 8, ",19999]}"), 0);
    result_free(&r);
    ls_buf_free(&text);
}
END_TEST

START_TEST(split_record_position)
{
    const char *text = "[\n  {\"a\":1},\n  {\"b\":2}\n]";
    FILE *f = fmemopen((void *)text, strlen(text), "rb");
    ls_splitter s;
    ls_splitter_init(&s, f);
    ls_err err;
    ck_assert_int_eq(ls_splitter_next(&s, &err), 1);
    ck_assert_uint_eq(s.rec_offset, 4);
    ck_assert_uint_eq(s.rec_line, 2);
    ck_assert_uint_eq(s.rec_col, 3);
    ck_assert_int_eq(ls_splitter_next(&s, &err), 1);
    ck_assert_uint_eq(s.rec_offset, 15);
    ck_assert_uint_eq(s.rec_line, 3);
    ck_assert_uint_eq(s.rec_col, 3);
    ck_assert_int_eq(ls_splitter_next(&s, &err), 0);
    ck_assert_uint_eq(s.offset, strlen(text));
    ls_splitter_free(&s);
    fclose(f);
}
END_TEST

/* The record as written (for exact error positions) beside the compact one,
 * and positions inside it. */
START_TEST(split_raw_record_and_locate)
{
    const char *text = "[\n  {\"a\": 1,\n   \"b\": tru},\n  {\"c\": \"x y\"}\n]";
    FILE *f = fmemopen((void *)text, strlen(text), "rb");
    ls_splitter s;
    ls_splitter_init(&s, f);
    ls_err err;
    ck_assert_int_eq(ls_splitter_next(&s, &err), 1);
    ck_assert_str_eq(s.rec.data, "{\"a\":1,\"b\":tru}");
    ck_assert_str_eq(s.raw.data, "{\"a\": 1,\n   \"b\": tru}");
    uint64_t off, line, col;
    ls_splitter_locate(&s, 0, &off, &line, &col);
    ck_assert_uint_eq(off, 4);
    ck_assert_uint_eq(line, 2);
    ck_assert_uint_eq(col, 3);
    ls_splitter_locate(&s, strlen("{\"a\": 1,\n   \"b\": "), &off, &line, &col); /* "tru" */
    ck_assert_uint_eq(line, 3);
    ck_assert_uint_eq(col, 9);
    ck_assert_uint_eq(off, (uint64_t)(strstr(text, "tru") - text));
    ck_assert_int_eq(ls_splitter_next(&s, &err), 1);
    ck_assert_str_eq(s.raw.data, "{\"c\": \"x y\"}");
    ck_assert_int_eq(ls_splitter_next(&s, &err), 0);
    ls_splitter_free(&s);
    fclose(f);
}
END_TEST

/* A read error is an error, not the end of the input (a directory given as
 * the file read as "no records"). */
START_TEST(split_read_error_is_not_the_end)
{
    FILE *f = fopen("/", "rb");
    ck_assert_ptr_nonnull(f);
    result r;
    split_stream(f, &r);
    fclose(f);
    ck_assert_int_eq(r.rc, -1);
    ck_assert_msg(strstr(r.err.msg, "read error at byte 0: Is a directory") != NULL, "%s", r.err.msg);
}
END_TEST

/* Regression (was a bug in ls_json_split.c, read_value): records are compacted by dropping
 * every whitespace byte outside strings, which also removes whitespace that
 * separates tokens.  A malformed record such as {"a":1 2} (two numbers)
 * leaves the splitter as the valid {"a":12}, and [tru e] as [true], so the
 * caller's JSON parser can no longer reject it and a wrong value is
 * processed.  Expected: the record keeps a separator (e.g. {"a":1 2}) or the
 * splitter reports an error; actual: {"a":12}. */
START_TEST(split_compaction_keeps_tokens_apart)
{
    result r;
    splits("[{\"a\":1 2},{\"b\":tru e},{\"c\":\"x\" \"y\"}]", &r);
    if (r.rc == 0) {
        ck_assert_int_eq(r.n, 3);
        ck_assert_str_ne(r.rec[0], "{\"a\":12}");
        ck_assert_str_ne(r.rec[1], "{\"b\":true}");
    }
    result_free(&r);
    splits("{\"n\": -1 5}\n", &r);
    if (r.rc == 0) {
        ck_assert_int_eq(r.n, 1);
        ck_assert_str_ne(r.rec[0], "{\"n\":-15}");
    }
    result_free(&r);
}
END_TEST

Suite *split_suite(void)
{
    Suite *s = suite_create("split");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, split_compact_array);
    tcase_add_test(tc, split_pretty_array);
    tcase_add_test(tc, split_ndjson);
    tcase_add_test(tc, split_empty_inputs);
    tcase_add_test(tc, split_bom);
    tcase_add_test(tc, split_tricky_strings);
    tcase_add_test(tc, split_errors_with_position);
    tcase_add_test(tc, split_large_records_across_chunks);
    tcase_add_test(tc, split_record_position);
    tcase_add_test(tc, split_raw_record_and_locate);
    tcase_add_test(tc, split_read_error_is_not_the_end);
    suite_add_tcase(s, tc);
    tc = tcase_create("regressions");
    tcase_add_test(tc, split_compaction_keeps_tokens_apart);
    suite_add_tcase(s, tc);
    return s;
}
