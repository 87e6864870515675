/* test_deadletter.c - dead-letter entries and the file writer. */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <yajl_tree.h>

#include "ls_deadletter.h"
#include "suites.h"
#include "test_helpers.h"

static char *format(const ls_origin *o, const char *q, const char *e, const char *p, size_t n)
{
    ls_buf b;
    ls_buf_init(&b);
    ls_deadletter_format(o, q, e, p, n, &b);
    return b.data;
}

START_TEST(dl_format_utf8_value)
{
    ls_origin o = { .topic = "radio", .partition = 2, .offset = 41, .timestamp = 1546300620000LL, .timestamp_type = -1 };
    const char *payload = "{\"a\":";
    char *s = format(&o, "q1", "invalid JSON at byte 5: premature EOF", payload, strlen(payload));
    ck_assert_str_eq(s, "{\"topic\":\"radio\",\"partition\":2,\"offset\":41,"
                        "\"timestamp\":1546300620000,\"query\":\"q1\","
                        "\"error\":\"invalid JSON at byte 5: premature EOF\","
                        "\"value\":\"{\\\"a\\\":\"}");
    free(s);
    /* non-ASCII UTF-8 stays text */
    s = format(&o, "q1", "e", "caf\xc3\xa9", 5);
    ck_assert_ptr_nonnull(strstr(s, "\"value\":\"caf\xc3\xa9\"}"));
    ck_assert_ptr_null(strstr(s, "value_base64"));
    free(s);
    /* empty payload */
    s = format(&o, "q1", "empty message", "", 0);
    ck_assert_ptr_nonnull(strstr(s, "\"error\":\"empty message\",\"value\":\"\"}"));
    free(s);
}
END_TEST

START_TEST(dl_format_base64)
{
    ls_origin o = { .topic = "t", .partition = 0, .offset = 0, .timestamp = -1, .timestamp_type = -1 };
    char *s = format(&o, "q", "not valid UTF-8", "\xff\x00" "ab", 4);
    ck_assert_str_eq(s, "{\"topic\":\"t\",\"partition\":0,\"offset\":0,\"timestamp\":null,"
                        "\"query\":\"q\",\"error\":\"not valid UTF-8\","
                        "\"value_base64\":\"/wBhYg==\"}");
    free(s);
    /* valid UTF-8 but with a NUL byte */
    s = format(&o, "q", "e", "a\0b", 3);
    ck_assert_ptr_nonnull(strstr(s, "\"value_base64\":\"YQBi\"}"));
    ck_assert_ptr_null(strstr(s, "\"value\""));
    free(s);
    s = format(&o, "q", "e", "\xc3\x28", 2);
    ck_assert_ptr_nonnull(strstr(s, "\"value_base64\":\"wyg=\"}"));
    free(s);
    s = format(&o, "q", "e", "\xff", 1);
    ck_assert_ptr_nonnull(strstr(s, "\"value_base64\":\"/w==\"}"));
    free(s);
    s = format(&o, "q", "e", "\xff\xfe", 2);
    ck_assert_ptr_nonnull(strstr(s, "\"value_base64\":\"//4=\"}"));
    free(s);
    s = format(&o, "q", "e", "\xff\xfe\xfd", 3);
    ck_assert_ptr_nonnull(strstr(s, "\"value_base64\":\"//79\"}"));
    free(s);
}
END_TEST

START_TEST(dl_format_no_origin)
{
    char *s = format(NULL, NULL, "boom", "x", 1);
    ck_assert_str_eq(s, "{\"topic\":null,\"partition\":null,\"offset\":null,\"timestamp\":null,"
                        "\"query\":null,\"error\":\"boom\",\"value\":\"x\"}");
    free(s);
    /* NULL payload: base64 of nothing */
    s = format(NULL, "q", "boom", NULL, 0);
    ck_assert_ptr_nonnull(strstr(s, "\"value_base64\":\"\"}"));
    free(s);
    /* an error text that is not UTF-8 does not break the line */
    s = format(NULL, "q", "bad \xff byte", "x", 1);
    ck_assert_ptr_nonnull(strstr(s, "\"error\":\"(error message not valid UTF-8)\""));
    free(s);
}
END_TEST

START_TEST(dl_format_parses_as_json)
{
    ls_origin o = { .topic = "topic \"quoted\"", .partition = 5, .offset = 123456789012LL, .timestamp = 0, .timestamp_type = -1 };
    const char *err = "map raised: [string \"...\"]:1: bad\nsecond line\ttab";
    const char *payload = "{\"k\":\"\\u00e9\\n\"}\n";
    char *s = format(&o, "my query", err, payload, strlen(payload));
    ck_assert_ptr_null(strchr(s, '\n')); /* one line */
    char perr[256];
    yajl_val v = yajl_tree_parse(s, perr, sizeof perr);
    ck_assert_msg(v != NULL, "%s: %s", perr, s);
    const char *p_topic[] = { "topic", NULL }, *p_part[] = { "partition", NULL },
               *p_off[] = { "offset", NULL }, *p_ts[] = { "timestamp", NULL },
               *p_q[] = { "query", NULL }, *p_err[] = { "error", NULL },
               *p_val[] = { "value", NULL };
    ck_assert_str_eq(YAJL_GET_STRING(yajl_tree_get(v, p_topic, yajl_t_string)), o.topic);
    ck_assert_int_eq(YAJL_GET_INTEGER(yajl_tree_get(v, p_part, yajl_t_number)), 5);
    ck_assert_int_eq(YAJL_GET_INTEGER(yajl_tree_get(v, p_off, yajl_t_number)), 123456789012LL);
    ck_assert_int_eq(YAJL_GET_INTEGER(yajl_tree_get(v, p_ts, yajl_t_number)), 0);
    ck_assert_str_eq(YAJL_GET_STRING(yajl_tree_get(v, p_q, yajl_t_string)), "my query");
    ck_assert_str_eq(YAJL_GET_STRING(yajl_tree_get(v, p_err, yajl_t_string)), err);
    ck_assert_str_eq(YAJL_GET_STRING(yajl_tree_get(v, p_val, yajl_t_string)), payload);
    yajl_tree_free(v);
    free(s);
}
END_TEST

START_TEST(dl_utf8_and_base64_helpers)
{
    ck_assert(ls_utf8_valid("", 0));
    ck_assert(ls_utf8_valid("plain ascii", 11));
    ck_assert(ls_utf8_valid("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14));
    ck_assert(ls_utf8_valid("a\0b", 3)); /* NUL is valid UTF-8 (the dead letter checks it apart) */
    ck_assert(!ls_utf8_valid("\xff", 1));
    ck_assert(!ls_utf8_valid("\xc0\xaf", 2));         /* overlong '/' */
    ck_assert(!ls_utf8_valid("\xe0\x80\xaf", 3));     /* overlong */
    ck_assert(!ls_utf8_valid("\xed\xa0\x80", 3));     /* surrogate U+D800 */
    ck_assert(!ls_utf8_valid("\xf4\x90\x80\x80", 4)); /* above U+10FFFF */
    ck_assert(!ls_utf8_valid("\xe2\x82", 2));         /* truncated */
    ck_assert(!ls_utf8_valid("\x80", 1));             /* lone continuation */
    ck_assert(ls_utf8_valid("\xf4\x8f\xbf\xbf", 4));  /* U+10FFFF */

    static const struct { const char *in; size_t n; const char *out; } cases[] = {
        { "", 0, "" }, { "f", 1, "Zg==" }, { "fo", 2, "Zm8=" }, { "foo", 3, "Zm9v" },
        { "foob", 4, "Zm9vYg==" }, { "fooba", 5, "Zm9vYmE=" }, { "foobar", 6, "Zm9vYmFy" },
        { "\xfb\xff", 2, "+/8=" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ls_buf b;
        ls_buf_init(&b);
        ls_buf_puts(&b, "");
        ls_base64(&b, (const unsigned char *)cases[i].in, cases[i].n);
        ck_assert_str_eq(b.data, cases[i].out);
        ls_buf_free(&b);
    }
}
END_TEST

START_TEST(dl_file_writer_appends)
{
    char *dir = th_tmpdir();
    size_t n = strlen(dir) + 64;
    char *path = malloc(n);
    snprintf(path, n, "%s/dl/sub/dead_letter.jsonl", dir); /* parents are created */
    ls_err err = { "" };
    ls_deadletter *d = ls_deadletter_file(path, &err);
    ck_assert_msg(d != NULL, "%s", err.msg);
    ls_origin o = { .topic = "radio", .partition = 1, .offset = 10, .timestamp = -1, .timestamp_type = -1 };
    ck_assert_int_eq(ls_deadletter_write(d, &o, "q", "first", "a", 1, &err), 0);
    o.offset = 11;
    ck_assert_int_eq(ls_deadletter_write(d, &o, "q", "second", "\xff", 1, &err), 0);
    ck_assert_int_eq(d->count, 2);
    ck_assert_int_eq(ls_deadletter_flush(d, &err), 0);
    ls_deadletter_free(d);

    d = ls_deadletter_file(path, &err);
    ck_assert_msg(d != NULL, "%s", err.msg);
    o.offset = 12;
    ck_assert_int_eq(ls_deadletter_write(d, &o, "q2", "third", "c", 1, &err), 0);
    ck_assert_int_eq(d->count, 1);
    ls_deadletter_free(d); /* closing flushes too */

    char *text = th_read_file(path, NULL);
    ck_assert_ptr_nonnull(text);
    char *lines[8];
    char *copy = strdup(text);
    ck_assert_int_eq(th_lines(copy, lines, 8), 3);
    ck_assert_str_eq(lines[0], "{\"topic\":\"radio\",\"partition\":1,\"offset\":10,\"timestamp\":null,"
                               "\"query\":\"q\",\"error\":\"first\",\"value\":\"a\"}");
    ck_assert_str_eq(lines[1], "{\"topic\":\"radio\",\"partition\":1,\"offset\":11,\"timestamp\":null,"
                               "\"query\":\"q\",\"error\":\"second\",\"value_base64\":\"/w==\"}");
    ck_assert_ptr_nonnull(strstr(lines[2], "\"offset\":12,"));
    ck_assert_ptr_nonnull(strstr(lines[2], "\"query\":\"q2\""));
    ck_assert_int_eq(text[strlen(text) - 1], '\n');
    free(copy);
    free(text);

    /* an unopenable path */
    size_t bn = strlen(dir) + 64;
    char *bad = malloc(bn);
    snprintf(bad, bn, "%s/dl", dir); /* a directory, not a file */
    ck_assert_ptr_null(ls_deadletter_file(bad, &err));
    ck_assert_msg(strstr(err.msg, "cannot open dead-letter file") != NULL, "got: %s", err.msg);
    free(bad);
    free(path);
    th_rmrf(dir);
    free(dir);
}
END_TEST

Suite *deadletter_suite(void)
{
    Suite *s = suite_create("deadletter");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, dl_format_utf8_value);
    tcase_add_test(tc, dl_format_base64);
    tcase_add_test(tc, dl_format_no_origin);
    tcase_add_test(tc, dl_format_parses_as_json);
    tcase_add_test(tc, dl_utf8_and_base64_helpers);
    tcase_add_test(tc, dl_file_writer_appends);
    suite_add_tcase(s, tc);
    return s;
}
