/* test_sinks.c - row JSON, the JSON-lines file sink and the console sink. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ls_sink.h"
#include "ls_textwidth.h"
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

static ls_value window(int64_t s, int64_t e)
{
    ls_value v;
    v.type = LS_WINDOW;
    v.u.w.start = s;
    v.u.w.end = e;
    return v;
}

static const char *const NAMES3[] = { "window", "station", "count" };

START_TEST(row_json_full_and_key_only)
{
    ls_value vals[] = { window(1546300200000LL, 1546300800000LL), ls_str("A\"1", 3), ls_int(3) };
    ls_row row = { 3, NAMES3, vals, 2 };
    ls_buf b;
    ls_buf_init(&b);
    ls_row_json(&row, 0, &b);
    ck_assert_str_eq(b.data, "{\"window\":{\"start\":\"2018-12-31T23:50:00.000Z\","
                             "\"end\":\"2019-01-01T00:00:00.000Z\"},\"station\":\"A\\\"1\",\"count\":3}");
    ls_buf_reset(&b);
    ls_row_json(&row, 1, &b);
    ck_assert_str_eq(b.data, "{\"window\":{\"start\":\"2018-12-31T23:50:00.000Z\","
                             "\"end\":\"2019-01-01T00:00:00.000Z\"},\"station\":\"A\\\"1\"}");
    /* appends to what the buffer holds */
    ls_buf_reset(&b);
    ls_buf_puts(&b, "x");
    ls_row no_key = { 3, NAMES3, vals, 0 };
    ls_row_json(&no_key, 1, &b);
    ck_assert_str_eq(b.data, "x{}");
    ls_buf_free(&b);
}
END_TEST

START_TEST(row_json_types)
{
    static const char *const names[] = { "n", "b", "d", "big", "s" };
    ls_value vals[5];
    vals[0] = ls_null();
    vals[1].type = LS_BOOL;
    vals[1].u.b = 0;
    vals[2] = ls_double(0.25);
    vals[3] = ls_double(1e20);
    vals[4] = ls_str("caf\xc3\xa9\t", 6);
    ls_row row = { 5, names, vals, 0 };
    ls_buf b;
    ls_buf_init(&b);
    ls_row_json(&row, 0, &b);
    ck_assert_str_eq(b.data, "{\"n\":null,\"b\":false,\"d\":0.25,\"big\":1e+20,\"s\":\"caf\xc3\xa9\\t\"}");
    ls_buf_free(&b);
}
END_TEST

/* Regression (was a bug in ls_row.c, ls_row_json): a string cell holding invalid UTF-8 (a Lua
 * map can produce one, e.g. string.sub cutting a multi-byte character) should
 * become null ("keep the row, null the cell", as the code's comment says),
 * but the yajl generator is allocated without yajl_gen_validate_utf8, so
 * ls_value_json never fails and the raw bytes \xff\xfe are written into the
 * JSON line (jsonl file / Kafka message), producing invalid JSON text. */
START_TEST(row_json_invalid_utf8_cell_is_null)
{
    static const char *const names[] = { "bad", "after" };
    ls_value vals[2];
    vals[0] = ls_str("\xff\xfe", 2);
    vals[1] = ls_int(-1);
    ls_row row = { 2, names, vals, 0 };
    ls_buf b;
    ls_buf_init(&b);
    ls_row_json(&row, 0, &b);
    int valid = ls_utf8_valid(b.data, b.len);
    char copy[128];
    snprintf(copy, sizeof copy, "%s", b.data);
    ls_buf_free(&b);
    ck_assert_msg(valid, "row JSON is not valid UTF-8: %s", copy);
    ck_assert_str_eq(copy, "{\"bad\":null,\"after\":-1}");
}
END_TEST

static void write_rows(ls_sink *s, int64_t batch, int first, int n)
{
    ls_err err;
    ck_assert_int_eq(s->vt->open_batch(s, batch, &err), 0);
    for (int i = first; i < first + n; i++) {
        char st[16];
        snprintf(st, sizeof st, "S%d", i);
        ls_value vals[] = { window(0, 600000), ls_str(st, strlen(st)), ls_int(i) };
        ls_row row = { 3, NAMES3, vals, 2 };
        ck_assert_int_eq(s->vt->write(s, &row, &err), 0);
    }
    ck_assert_int_eq(s->rows_in_batch, n);
    ck_assert_int_eq(s->vt->close_batch(s, &err), 0);
}

/* ---- the row writer against the generator ------------------------------- */

static uint64_t wrng = 20261201;
static uint64_t wnext(void)
{
    wrng ^= wrng << 13;
    wrng ^= wrng >> 7;
    wrng ^= wrng << 17;
    return wrng;
}

/* Bytes chosen to hit every path: plain ASCII, each escape, control
 * characters, '/', 0x7f, valid and broken UTF-8 (lax yajl forms too). */
static size_t random_text(char *t, size_t max)
{
    static const char *const pieces[] = {
        "a", "Zq", " ", "/", "\"", "\\", "\b", "\f", "\n", "\r", "\t", "\x01", "\x1f", "\x7f",
        "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xc0\x80", "\xed\xa0\x80", "\xf7\xbf\xbf\xbf",
        "\xc3", "\x80", "\xf8\x80\x80\x80\x80", "\xe2\x82", "0123456789abcdef", "Traffic Stop",
    };
    size_t n = 0, k = wnext() % 12;
    int clean = wnext() % 3 == 0; /* many strings need nothing: the fast path */
    for (size_t i = 0; i < k; i++) {
        const char *p = clean ? (wnext() % 2 ? "Poss Unreported " : "x") : pieces[wnext() % 26];
        size_t l = strlen(p);
        if (!*p) l = 1; /* never: no empty piece */
        if (n + l > max) break;
        memcpy(t + n, p, l);
        n += l;
    }
    if (wnext() % 7 == 0 && n < max) t[n++] = '\0'; /* a NUL inside */
    return n;
}

static ls_value random_value(char *t, size_t max, int64_t *cells)
{
    switch (wnext() % 9) {
    case 0: return ls_null();
    case 1: { ls_value v; v.type = LS_BOOL; v.u.b = (int)(wnext() % 2); return v; }
    case 2: return ls_int((int64_t)wnext() >> (wnext() % 64));
    case 3: {
        static const double ds[] = { 0.0, -0.0, 1.5, 448.99, 1e21, 1e-7, 3.0, 0.1, -2.5e300 };
        double d = wnext() % 4 ? ds[wnext() % 9] : (double)(int64_t)wnext() / 1e6;
        if (wnext() % 10 == 0) d = wnext() % 2 ? NAN : (wnext() % 2 ? INFINITY : -INFINITY);
        return ls_double(d);
    }
    case 4: {
        /* anywhere (years 1966-2096, before 1970 too), or near the last one: the same day,
         * either side of midnight, the same instant */
        static int64_t last = 1546300799999LL;
        int64_t t = wnext() % 3 ? last + (int64_t)(wnext() % 7200000) - 3600000
                                : (int64_t)(wnext() % 4000000000000ULL) - 100000000000LL;
        if (wnext() % 8 == 0) t = wnext() % 2 ? -1 : 0;
        last = t;
        return ls_timestamp(t);
    }
    case 5: return window(1546300200000LL + (int64_t)(wnext() % 4) * 300000, 1546300800000LL);
    case 6: {
        ls_value v;
        v.type = LS_LIST;
        v.u.l.n = (uint32_t)(wnext() % 4);
        v.u.l.elem = (uint8_t)(wnext() % 3 == 0 ? LS_INT : wnext() % 2 ? LS_DOUBLE : LS_TIME);
        for (uint32_t i = 0; i < v.u.l.n; i++) {
            double d = (double)(int64_t)(wnext() % 100000) / 8.0;
            if (v.u.l.elem == LS_DOUBLE) memcpy(&cells[i], &d, 8);
            else cells[i] = (int64_t)(wnext() % 2000000000000ULL);
        }
        v.u.l.cells = cells;
        return v;
    }
    default: return ls_str(t, random_text(t, max));
    }
}

START_TEST(row_writer_equals_generator)
{
    static const char *const names[] = { "window", "original_crime_type_name", "count", "a\"b",
                                         "caf\xc3\xa9", "tab\tname" };
    char texts[6][256];
    int64_t cells[6][4];
    ls_value vals[6];
    ls_rowfmt f;
    ls_rowfmt_init(&f);
    ls_buf want, got, key;
    ls_buf_init(&want);
    ls_buf_init(&got);
    ls_buf_init(&key);
    for (int i = 0; i < 20000; i++) {
        size_t ncols = wnext() % 7, nkey = ncols ? wnext() % (ncols + 1) : 0;
        for (size_t c = 0; c < ncols; c++) vals[c] = random_value(texts[c], sizeof texts[c], cells[c]);
        ls_row row = { ncols, names, vals, nkey };
        ls_buf_reset(&want);
        ls_row_json(&row, 0, &want);
        ls_buf_reset(&got);
        ls_buf_puts(&got, "prefix"); /* appends, after what the buffer holds */
        size_t key_end = ls_row_write(&f, &row, &got);
        ck_assert_uint_eq(got.len, 6 + want.len);
        ck_assert_msg(memcmp(got.data + 6, want.data, want.len) == 0, "row %d: %s\nwant %s", i,
                      got.data + 6, want.data);
        ck_assert_int_eq(got.data[got.len], '\0');
        ls_buf_reset(&want);
        ls_row_json(&row, 1, &want);
        ck_assert_uint_ne(key_end, SIZE_MAX);
        ls_buf_reset(&key);
        ls_buf_append(&key, got.data + 6, key_end);
        ls_buf_putc(&key, '}');
        ck_assert_str_eq(key.data, want.data);
    }
    /* a column name yajl refuses (invalid UTF-8): the generator's own output */
    static const char *const bad[] = { "ok", "b\xff" };
    ls_value two[] = { ls_int(1), ls_str("x", 1) };
    ls_row row = { 2, bad, two, 1 };
    ls_buf_reset(&want);
    ls_row_json(&row, 0, &want);
    ls_buf_reset(&got);
    ck_assert_uint_eq(ls_row_write(&f, &row, &got), SIZE_MAX);
    ck_assert_str_eq(got.data, want.data);
    ls_rowfmt_free(&f);
    ls_buf_free(&want);
    ls_buf_free(&got);
    ls_buf_free(&key);
}
END_TEST

START_TEST(jsonl_sink_writes_and_appends)
{
    size_t n = strlen(dir) + 64;
    char *out = malloc(n);
    snprintf(out, n, "%s/out/nested/deeper", dir);
    ls_err err = { "" };
    ls_sink *s = ls_sink_jsonl_new(out, "q1", &err);
    ck_assert_msg(s != NULL, "%s", err.msg);
    char *path = malloc(n + 16);
    snprintf(path, n + 16, "%s/q1.jsonl", out);
    char desc[600];
    snprintf(desc, sizeof desc, "FileSink[%s]", path);
    ck_assert_str_eq(s->description, desc);
    struct stat sb;
    ck_assert_int_eq(stat(out, &sb), 0);
    ck_assert(S_ISDIR(sb.st_mode));

    write_rows(s, 0, 1, 2);
    /* flushed at the end of the batch: readable before the sink is closed */
    size_t len;
    char *text = th_read_file(path, &len);
    ck_assert_ptr_nonnull(text);
    ck_assert_str_eq(text,
        "{\"window\":{\"start\":\"1970-01-01T00:00:00.000Z\",\"end\":\"1970-01-01T00:10:00.000Z\"},"
        "\"station\":\"S1\",\"count\":1}\n"
        "{\"window\":{\"start\":\"1970-01-01T00:00:00.000Z\",\"end\":\"1970-01-01T00:10:00.000Z\"},"
        "\"station\":\"S2\",\"count\":2}\n");
    free(text);
    write_rows(s, 1, 3, 3);
    write_rows(s, 2, 0, 0); /* an empty batch writes nothing */
    ls_sink_destroy(s);

    /* a new sink on the same directory appends */
    s = ls_sink_jsonl_new(out, "q1", &err);
    ck_assert_msg(s != NULL, "%s", err.msg);
    write_rows(s, 3, 6, 1);
    ls_sink_destroy(s);

    text = th_read_file(path, &len);
    char *lines[16];
    int nl = th_lines(text, lines, 16);
    ck_assert_int_eq(nl, 6);
    for (int i = 0; i < nl; i++) {
        char want[64];
        snprintf(want, sizeof want, "\"station\":\"S%d\",\"count\":%d}", i + 1, i + 1);
        ck_assert_msg(strstr(lines[i], want) != NULL, "line %d: %s", i, lines[i]);
        ck_assert_int_eq(lines[i][0], '{');
    }
    free(text);
    free(path);
    free(out);
}
END_TEST

START_TEST(jsonl_sink_bad_dir)
{
    char *file = th_write_file(dir, "plain", "x", 1);
    size_t n = strlen(file) + 16;
    char *bad = malloc(n);
    snprintf(bad, n, "%s/sub", file); /* a directory below a regular file */
    ls_err err = { "" };
    ck_assert_ptr_null(ls_sink_jsonl_new(bad, "q", &err));
    ck_assert_msg(strstr(err.msg, "cannot create directory") != NULL, "got: %s", err.msg);
    ck_assert_int_eq(ls_mkdirs(bad, &err), -1);
    /* mkdir -p of an existing directory is fine */
    ck_assert_int_eq(ls_mkdirs(dir, &err), 0);
    free(bad);
    free(file);
}
END_TEST

static const char *const NAMES2[] = { "station", "count" };

static void console_row(ls_sink *s, const char *st, int64_t c)
{
    ls_err err;
    ls_value vals[] = { ls_str(st, strlen(st)), ls_int(c) };
    ls_row row = { 2, NAMES2, vals, 1 };
    ck_assert_int_eq(s->vt->write(s, &row, &err), 0);
}

START_TEST(console_sink_table)
{
    FILE *f = tmpfile();
    ls_console_opts o = { 0 };
    o.query = "radio";
    o.num_rows = 2;
    o.truncate = 1;
    ls_sink *s = ls_sink_console_new(&o, f);
    ck_assert_str_eq(s->description, "ConsoleSink");
    ls_err err;
    ck_assert_int_eq(s->vt->open_batch(s, 3, &err), 0);
    console_row(s, "A", 1);
    console_row(s, "Bravo-long", 22);
    console_row(s, "C", 3);
    ck_assert_int_eq(s->vt->close_batch(s, &err), 0);
    ck_assert_int_eq(s->rows_in_batch, 3);
    char *text = th_read_stream(f, NULL);
    ck_assert_str_eq(text,
                     "-------------------------------------------\n"
                     "Batch: 3 (radio)\n"
                     "-------------------------------------------\n"
                     "+----------+-----+\n"
                     "|   station|count|\n"
                     "+----------+-----+\n"
                     "|         A|    1|\n"
                     "|Bravo-long|   22|\n"
                     "+----------+-----+\n"
                     "only showing top 2 rows\n"
                     "\n");
    free(text);

    /* next batch: fewer rows than num_rows, no "only showing" line */
    fclose(f);
    f = tmpfile();
    ls_sink_destroy(s);
    s = ls_sink_console_new(&o, f);
    ck_assert_int_eq(s->vt->open_batch(s, 4, &err), 0);
    console_row(s, "A", 1);
    ck_assert_int_eq(s->vt->close_batch(s, &err), 0);
    ck_assert_int_eq(s->vt->open_batch(s, 5, &err), 0);
    console_row(s, "Z", 100000);
    ck_assert_int_eq(s->vt->close_batch(s, &err), 0);
    text = th_read_stream(f, NULL);
    ck_assert_str_eq(text,
                     "-------------------------------------------\n"
                     "Batch: 4 (radio)\n"
                     "-------------------------------------------\n"
                     "+-------+-----+\n"
                     "|station|count|\n"
                     "+-------+-----+\n"
                     "|      A|    1|\n"
                     "+-------+-----+\n"
                     "\n"
                     "-------------------------------------------\n"
                     "Batch: 5 (radio)\n"
                     "-------------------------------------------\n"
                     "+-------+------+\n"
                     "|station| count|\n"
                     "+-------+------+\n"
                     "|      Z|100000|\n"
                     "+-------+------+\n"
                     "\n");
    ck_assert_int_eq(th_count(text, "only showing"), 0);
    free(text);
    ls_sink_destroy(s);
    fclose(f);
}
END_TEST

START_TEST(console_sink_default_rows_and_truncate)
{
    FILE *f = tmpfile();
    ls_console_opts o = { 0 };
    o.query = "q";
    o.num_rows = 0; /* default 20, as Spark */
    o.truncate = 1;
    ls_sink *s = ls_sink_console_new(&o, f);
    ls_err err;
    ck_assert_int_eq(s->vt->open_batch(s, 0, &err), 0);
    console_row(s, "abcdefghijklmnopqrstuvwxyz", 0);
    for (int i = 1; i < 25; i++) console_row(s, "x", i);
    ck_assert_int_eq(s->vt->close_batch(s, &err), 0);
    char *text = th_read_stream(f, NULL);
    ck_assert_msg(strstr(text, "|abcdefghijklmnopq...|") != NULL, "%s", text);
    ck_assert_ptr_nonnull(strstr(text, "only showing top 20 rows\n"));
    ck_assert_int_eq(th_count(text, "|                   x|"), 19);
    ck_assert_ptr_null(strstr(text, "|  20|"));
    ck_assert_ptr_null(strstr(text, "   24|"));
    free(text);
    ls_sink_destroy(s);
    fclose(f);

    f = tmpfile();
    o.truncate = 0;
    s = ls_sink_console_new(&o, f);
    ck_assert_int_eq(s->vt->open_batch(s, 0, &err), 0);
    console_row(s, "abcdefghijklmnopqrstuvwxyz", 0);
    ck_assert_int_eq(s->vt->close_batch(s, &err), 0);
    text = th_read_stream(f, NULL);
    ck_assert_ptr_nonnull(strstr(text, "|abcdefghijklmnopqrstuvwxyz|    0|\n"));
    free(text);
    ls_sink_destroy(s);
    fclose(f);
}
END_TEST

START_TEST(console_sink_window_and_empty)
{
    FILE *f = tmpfile();
    ls_console_opts o = { 0 };
    o.query = "w";
    o.num_rows = 20;
    o.truncate = 0;
    ls_sink *s = ls_sink_console_new(&o, f);
    ls_err err;
    /* a batch before any row was ever written */
    ck_assert_int_eq(s->vt->open_batch(s, 0, &err), 0);
    ck_assert_int_eq(s->vt->close_batch(s, &err), 0);
    ck_assert_int_eq(s->rows_in_batch, 0);
    ck_assert_int_eq(s->vt->open_batch(s, 1, &err), 0);
    ls_value vals[] = { window(0, 600000), ls_str("S", 1), ls_int(2) };
    ls_row row = { 3, NAMES3, vals, 2 };
    ck_assert_int_eq(s->vt->write(s, &row, &err), 0);
    ck_assert_int_eq(s->vt->close_batch(s, &err), 0);
    char *text = th_read_stream(f, NULL);
    ck_assert_str_eq(text,
                     "-------------------------------------------\n"
                     "Batch: 0 (w)\n"
                     "-------------------------------------------\n"
                     "(no rows)\n"
                     "\n"
                     "-------------------------------------------\n"
                     "Batch: 1 (w)\n"
                     "-------------------------------------------\n"
                     "+------------------------------------------+-------+-----+\n"
                     "|                                    window|station|count|\n"
                     "+------------------------------------------+-------+-----+\n"
                     "|{1970-01-01 00:00:00, 1970-01-01 00:10:00}|      S|    2|\n"
                     "+------------------------------------------+-------+-----+\n"
                     "\n");
    free(text);
    ls_sink_destroy(s);
    fclose(f);
}
END_TEST

static int fmt_row(void *ctx, const ls_row *row, ls_buf *out, ls_err *err)
{
    int *calls = ctx;
    (*calls)++;
    if (row->vals[1].u.i < 0) {
        ls_buf_puts(out, "partial garbage");
        ls_seterr(err, "negative count");
        return -1;
    }
    ls_buf_printf(out, "%.*s has %lld", (int)row->vals[0].u.s.n, row->vals[0].u.s.p,
                  (long long)row->vals[1].u.i);
    return 0;
}

/* A row the format fails on is skipped, counted and reported with the
 * query and the row (not fatal: it was, with a message naming neither). */
START_TEST(console_sink_format_mode)
{
    FILE *f = tmpfile(), *errors = tmpfile();
    int calls = 0;
    ls_console_opts o = { 0 };
    o.query = "fmt";
    o.num_rows = 20;
    o.format = fmt_row;
    o.format_ctx = &calls;
    o.errors = errors;
    ls_sink *s = ls_sink_console_new(&o, f);
    ls_err err = { "" };
    ck_assert_int_eq(s->vt->open_batch(s, 7, &err), 0);
    console_row(s, "A", 1);
    ls_value vals[] = { ls_str("C", 1), ls_int(-1) };
    ls_row bad = { 2, NAMES2, vals, 1 };
    ck_assert_int_eq(s->vt->write(s, &bad, &err), 0);
    console_row(s, "B", 2);
    ck_assert_int_eq(s->vt->close_batch(s, &err), 0);
    ck_assert_int_eq(calls, 3);
    ck_assert_int_eq(s->rows_in_batch, 3);
    char *text = th_read_stream(f, NULL);
    ck_assert_str_eq(text,
                     "-------------------------------------------\n"
                     "Batch: 7 (fmt)\n"
                     "-------------------------------------------\n"
                     "A has 1\n"
                     "B has 2\n"
                     "\n");
    free(text);
    text = th_read_stream(errors, NULL);
    ck_assert_str_eq(text, "luastream: query fmt, batch 7: console format failed on the row "
                           "{\"station\":\"C\",\"count\":-1}: negative count (row skipped)\n");
    free(text);
    /* many failures: the first three in full, then a count */
    fclose(errors);
    errors = tmpfile();
    ls_sink_destroy(s);
    o.errors = errors;
    s = ls_sink_console_new(&o, f);
    ck_assert_int_eq(s->vt->open_batch(s, 8, &err), 0);
    for (int i = 0; i < 5; i++) ck_assert_int_eq(s->vt->write(s, &bad, &err), 0);
    ck_assert_int_eq(s->vt->close_batch(s, &err), 0);
    text = th_read_stream(errors, NULL);
    ck_assert_int_eq(th_count(text, "(row skipped)"), 3);
    ck_assert_ptr_nonnull(strstr(text, "luastream: query fmt, batch 8: 5 rows skipped in all"));
    free(text);
    ls_sink_destroy(s);
    fclose(f);
    fclose(errors);
}
END_TEST

/* num_rows applies to formatted lines too (it was ignored with a format). */
START_TEST(console_sink_format_num_rows)
{
    FILE *f = tmpfile();
    int calls = 0;
    ls_console_opts o = { 0 };
    o.query = "fmt";
    o.num_rows = 2;
    o.format = fmt_row;
    o.format_ctx = &calls;
    ls_sink *s = ls_sink_console_new(&o, f);
    ls_err err = { "" };
    ck_assert_int_eq(s->vt->open_batch(s, 1, &err), 0);
    console_row(s, "A", 1);
    console_row(s, "B", 2);
    console_row(s, "C", 3);
    console_row(s, "D", 4);
    ck_assert_int_eq(s->vt->close_batch(s, &err), 0);
    ck_assert_int_eq(calls, 2); /* rows past num_rows are not formatted */
    ck_assert_int_eq(s->rows_in_batch, 4);
    char *text = th_read_stream(f, NULL);
    ck_assert_str_eq(text,
                     "-------------------------------------------\n"
                     "Batch: 1 (fmt)\n"
                     "-------------------------------------------\n"
                     "A has 1\n"
                     "B has 2\n"
                     "only showing top 2 rows\n"
                     "\n");
    free(text);
    ls_sink_destroy(s);
    fclose(f);
}
END_TEST

/* Columns line up in display columns ("São Tomé" is 8 wide in 10 bytes,
 * "日本" 4 wide in 6), and cutting never splits a character. */
START_TEST(console_sink_utf8_widths)
{
    FILE *f = tmpfile();
    ls_console_opts o = { 0 };
    o.query = "u";
    o.num_rows = 20;
    o.truncate = 1;
    ls_sink *s = ls_sink_console_new(&o, f);
    ls_err err;
    ck_assert_int_eq(s->vt->open_batch(s, 0, &err), 0);
    console_row(s, "São Tomé", 1);
    console_row(s, "日本", 22);
    console_row(s, "Chad", 3);
    ck_assert_int_eq(s->vt->close_batch(s, &err), 0);
    char *text = th_read_stream(f, NULL);
    ck_assert_str_eq(text,
                     "-------------------------------------------\n"
                     "Batch: 0 (u)\n"
                     "-------------------------------------------\n"
                     "+--------+-----+\n"
                     "| station|count|\n"
                     "+--------+-----+\n"
                     "|São Tomé|    1|\n"
                     "|    日本|   22|\n"
                     "|    Chad|    3|\n"
                     "+--------+-----+\n"
                     "\n");
    free(text);
    fclose(f);
    /* 25 wide characters (50 columns): cut to 17 columns on a boundary
     * (8 characters, 16 columns) plus "..."; bad bytes become U+FFFD */
    f = tmpfile();
    ls_sink_destroy(s);
    s = ls_sink_console_new(&o, f);
    ck_assert_int_eq(s->vt->open_batch(s, 1, &err), 0);
    console_row(s, "日本日本日本日本日本日本日本日本日本日本日本日本日", 1);
    console_row(s, "ééééééééééééééééééééé", 2);
    console_row(s, "a\xff\t" "b", 3);
    ck_assert_int_eq(s->vt->close_batch(s, &err), 0);
    text = th_read_stream(f, NULL);
    ck_assert_msg(ls_utf8_valid(text, strlen(text)), "output is not valid UTF-8");
    ck_assert_msg(strstr(text, "| 日本日本日本日本...|    1|\n") != NULL, "%s", text);
    ck_assert_msg(strstr(text, "|ééééééééééééééééé...|    2|\n") != NULL, "%s", text);
    ck_assert_msg(strstr(text, "|                a\xEF\xBF\xBD\xEF\xBF\xBD" "b|    3|\n") != NULL, "%s", text);
    free(text);
    ls_sink_destroy(s);
    fclose(f);
}
END_TEST

START_TEST(text_width_table)
{
    ck_assert_uint_eq(ls_text_width("abc", 3), 3);
    ck_assert_uint_eq(ls_text_width("日本", 6), 4);
    ck_assert_uint_eq(ls_text_width("e\xCC\x81", 3), 1); /* e + combining acute */
    ck_assert_uint_eq(ls_text_prefix("日本語", 9, 5), 6);
    ck_assert_uint_eq(ls_text_prefix("e\xCC\x81x", 4, 1), 3); /* keeps the combining mark */
    ck_assert_int_eq(ls_text_cp_width_table(0x65E5), 2);
    ck_assert_int_eq(ls_text_cp_width_table(0xE9), 1);
    ck_assert_int_eq(ls_text_cp_width_table(0x301), 0);
    ck_assert_int_eq(ls_text_cp_width_table(0xAC00), 2);
    ck_assert_int_eq(ls_text_cp_width_table(0x1F600), 2);
    /* an emoji with a skin tone, and two joined by a zero-width joiner: one glyph each */
    ck_assert_uint_eq(ls_text_width("\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD", 8), 2);
    ck_assert_uint_eq(ls_text_width("\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x92\xBB", 11), 2);
    /* a modifier alone shows as itself */
    ck_assert_uint_eq(ls_text_width("a\xF0\x9F\x8F\xBD", 5), 3);
}
END_TEST

/* The file sinks' and the checkpoint's write loop (ls_util.h). */
START_TEST(write_all_writes_everything_or_says_why)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/w", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ck_assert_int_ge(fd, 0);
    static char big[300000];
    memset(big, 'x', sizeof big);
    size_t done = 1;
    ck_assert_int_eq(ls_write_all(fd, big, sizeof big, &done), 0);
    ck_assert_uint_eq(done, sizeof big);
    ck_assert_int_eq(ls_write_all(fd, "", 0, &done), 0);
    ck_assert_uint_eq(done, 0);
    ck_assert_int_eq(close(fd), 0);
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq((int)st.st_size, (int)sizeof big);
    /* a closed descriptor: -1, errno set, nothing written */
    errno = 0;
    ck_assert_int_eq(ls_write_all(fd, "abc", 3, &done), -1);
    ck_assert_int_eq(errno, EBADF);
    ck_assert_uint_eq(done, 0);
    /* a full device: what was written is counted */
    int full = open("/dev/full", O_WRONLY);
    if (full >= 0) {
        ck_assert_int_eq(ls_write_all(full, "abc", 3, NULL), -1);
        ck_assert_int_eq(errno, ENOSPC);
        close(full);
    }
}
END_TEST

Suite *sinks_suite(void)
{
    Suite *s = suite_create("sinks");
    TCase *tc = tcase_create("row");
    tcase_add_test(tc, row_json_full_and_key_only);
    tcase_add_test(tc, row_json_types);
    suite_add_tcase(s, tc);
    tc = tcase_create("regressions");
    tcase_add_test(tc, row_json_invalid_utf8_cell_is_null);
    tcase_add_test(tc, row_writer_equals_generator);
    suite_add_tcase(s, tc);
    tc = tcase_create("jsonl");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, jsonl_sink_writes_and_appends);
    tcase_add_test(tc, jsonl_sink_bad_dir);
    tcase_add_test(tc, write_all_writes_everything_or_says_why);
    suite_add_tcase(s, tc);
    tc = tcase_create("console");
    tcase_add_test(tc, console_sink_table);
    tcase_add_test(tc, console_sink_default_rows_and_truncate);
    tcase_add_test(tc, console_sink_window_and_empty);
    tcase_add_test(tc, console_sink_format_mode);
    tcase_add_test(tc, console_sink_format_num_rows);
    tcase_add_test(tc, console_sink_utf8_widths);
    tcase_add_test(tc, text_width_table);
    suite_add_tcase(s, tc);
    return s;
}
