/* test_files.c - the file source without a broker: listing (order, hidden
 * files), splitting each format into records, planning batches of files
 * (caps, max files, replay, done files), the memory sink of `luastream
 * test` and its canonical JSON. */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <utime.h>

#include "ls_files.h"
#include "ls_sink.h"
#include "ls_source.h"
#include "ls_test.h"
#include "suites.h"
#include "test_helpers.h"

static char *put(const char *dir, const char *name, const char *text, long mtime)
{
    char *p = th_write_file(dir, name, text, strlen(text));
    struct utimbuf t = { mtime, mtime };
    utime(p, &t);
    return p;
}

static const char *rec(const ls_file_records *r, size_t i, char *buf, size_t cap)
{
    snprintf(buf, cap, "%.*s", (int)r->recs[i].len, r->buf + r->recs[i].off);
    return buf;
}

START_TEST(list_oldest_first_without_hidden_files)
{
    char *dir = th_tmpdir();
    free(put(dir, "b.json", "[]", 1000));
    free(put(dir, "a.json", "[]", 2000));
    free(put(dir, "c.json", "[]", 1000));
    free(put(dir, ".tmp.json", "[]", 10));
    free(put(dir, "_SUCCESS", "", 10));
    free(put(dir, "x.txt", "", 10));
    ls_file_entry *l;
    size_t n;
    char pat[512];
    ls_err err;
    snprintf(pat, sizeof pat, "%s/*.json", dir);
    ck_assert_int_eq(ls_files_list(pat, &l, &n, &err), 0);
    ck_assert_uint_eq(n, 3);
    ck_assert(strstr(l[0].path, "/b.json") && strstr(l[1].path, "/c.json") &&
              strstr(l[2].path, "/a.json"));
    ls_files_list_free(l, n);
    /* a directory: every visible file in it */
    ck_assert_int_eq(ls_files_list(dir, &l, &n, &err), 0);
    ck_assert_uint_eq(n, 4);
    ck_assert(strstr(l[0].path, "/x.txt")); /* the oldest */
    ls_files_list_free(l, n);
    /* nothing matches: no files, no error (they may come later) */
    snprintf(pat, sizeof pat, "%s/none/*.json", dir);
    ck_assert_int_eq(ls_files_list(pat, &l, &n, &err), 0);
    ck_assert_uint_eq(n, 0);
    ls_files_list_free(l, n);
    th_rmrf(dir);
    free(dir);
}
END_TEST

START_TEST(split_each_format)
{
    char *dir = th_tmpdir(), b[256];
    ls_err err;
    ls_file_records r;
    char *p = put(dir, "a.ndjson", "{\"a\":1}\r\n\n  \n{\"a\":2}\nbad\n{\"a\":3}", 1);
    ck_assert_int_eq(ls_file_records_load(p, LS_FORMAT_NDJSON, &r, &err), 0);
    ck_assert_uint_eq(r.n, 4);
    ck_assert_str_eq(rec(&r, 0, b, sizeof b), "{\"a\":1}");
    ck_assert_int_eq(r.recs[1].line, 4);
    ck_assert_str_eq(rec(&r, 2, b, sizeof b), "bad");
    ck_assert_int_eq(r.recs[3].line, 6); /* no newline at the end */
    ls_file_records_free(&r);
    free(p);

    p = put(dir, "a.txt", "one\n\ntab\there \"q\"\n\xff\xfe!\n", 1);
    ck_assert_int_eq(ls_file_records_load(p, LS_FORMAT_LINES, &r, &err), 0);
    ck_assert_uint_eq(r.n, 4); /* the empty line is a record; the last newline ends a line */
    ck_assert_str_eq(rec(&r, 0, b, sizeof b), "{\"value\":\"one\"}");
    ck_assert_str_eq(rec(&r, 1, b, sizeof b), "{\"value\":\"\"}");
    ck_assert_str_eq(rec(&r, 2, b, sizeof b), "{\"value\":\"tab\\there \\\"q\\\"\"}");
    ck_assert_str_eq(rec(&r, 3, b, sizeof b), "{\"value\":\"\xEF\xBF\xBD\xEF\xBF\xBD!\"}");
    ls_file_records_free(&r);
    free(p);

    p = put(dir, "a.json", "[\n  {\"a\": 1},\n  {\"b\": [1, 2]},\n  \"s\"\n]\n", 1);
    ck_assert_int_eq(ls_file_records_load(p, LS_FORMAT_JSON, &r, &err), 0);
    ck_assert_uint_eq(r.n, 3);
    ck_assert_str_eq(rec(&r, 1, b, sizeof b), "{\"b\":[1,2]}");
    ck_assert_int_eq(r.recs[1].line, 3);
    ls_file_records_free(&r);
    free(p);

    /* a broken array: the records before the break, then the broken text */
    p = put(dir, "b.json", "[{\"a\": 1}, {\"a\": ", 1);
    ck_assert_int_eq(ls_file_records_load(p, LS_FORMAT_JSON, &r, &err), 0);
    ck_assert_uint_eq(r.n, 2);
    ck_assert_str_eq(rec(&r, 0, b, sizeof b), "{\"a\":1}");
    ls_file_records_free(&r);
    free(p);

    /* empty files: no records */
    p = put(dir, "e.json", "", 1);
    ck_assert_int_eq(ls_file_records_load(p, LS_FORMAT_JSON, &r, &err), 0);
    ck_assert_uint_eq(r.n, 0);
    ls_file_records_free(&r);
    ck_assert_int_eq(ls_file_records_load(p, LS_FORMAT_LINES, &r, &err), 0);
    ck_assert_uint_eq(r.n, 0);
    ls_file_records_free(&r);
    free(p);
    ck_assert_int_eq(ls_file_records_load("/nonexistent/x", LS_FORMAT_JSON, &r, &err), -1);
    th_rmrf(dir);
    free(dir);
}
END_TEST

START_TEST(split_kafka_messages)
{
    char *dir = th_tmpdir(), b[256];
    ls_err err;
    ls_file_records r;
    char *p = put(dir, "m.kafka.jsonl",
                  "{\"value\": {\"a\": 1}, \"key\": \"k\", \"timestamp\": 5, \"partition\": 1}\n"
                  "{\"value\": \"raw text\", \"timestamp\": \"1970-01-01T00:00:01Z\", "
                  "\"headers\": {\"h\": [\"x\", null], \"g\": \"y\"}}\n"
                  "{\"value\": null, \"partition\": 1}\n", 1);
    ck_assert_int_eq(ls_file_records_load(p, LS_FORMAT_KAFKA, &r, &err), 0);
    ck_assert_uint_eq(r.n, 3);
    ck_assert_str_eq(rec(&r, 0, b, sizeof b), "{\"a\":1}");
    ck_assert_str_eq(r.msgs[0].key, "k");
    ck_assert_int_eq(r.msgs[0].timestamp, 5);
    ck_assert_int_eq(r.msgs[0].partition, 1);
    ck_assert_int_eq(r.msgs[0].offset, 0);
    ck_assert_str_eq(rec(&r, 1, b, sizeof b), "raw text");
    ck_assert_int_eq(r.msgs[1].timestamp, 1000);
    ck_assert_int_eq(r.msgs[1].offset, 0); /* partition 0's first */
    ck_assert_uint_eq(rd_kafka_header_cnt(r.msgs[1].headers), 3);
    ck_assert_uint_eq(r.recs[2].len, 0);
    ck_assert_int_eq(r.msgs[2].offset, 1); /* partition 1's second */
    ls_file_records_free(&r);
    free(p);
    p = put(dir, "bad.kafka.jsonl", "{\"value\": 1}\n{\"valeu\": 1}\n", 1);
    ck_assert_int_eq(ls_file_records_load(p, LS_FORMAT_KAFKA, &r, &err), -1);
    ck_assert_msg(strstr(err.msg, ":2: unknown member \"valeu\""), "%s", err.msg);
    free(p);
    th_rmrf(dir);
    free(dir);
}
END_TEST

/* Reads the planned batch of every part; returns the records as "file:index" */
static int64_t read_all(ls_source *s, char *out, size_t cap)
{
    int64_t n = 0;
    out[0] = '\0';
    for (size_t pi = 0; pi < ls_source_nparts(s); pi++) {
        ls_record recs[4];
        size_t k;
        int fatal;
        ls_err err;
        while ((k = ls_source_read(s, pi, 0, recs, 4, &fatal, &err)) > 0)
            for (size_t i = 0; i < k; i++, n++) {
                const char *base = strrchr(recs[i].file, '/') + 1;
                size_t len = strlen(out);
                snprintf(out + len, cap - len, "%s%c%lld", len ? " " : "", base[0],
                         (long long)recs[i].index);
            }
    }
    ls_source_end_batch(s);
    return n;
}

START_TEST(plan_files_caps_and_done)
{
    char *dir = th_tmpdir(), got[512], pat[512];
    ls_err err;
    free(put(dir, "a.ndjson", "1\n2\n3\n", 100));
    free(put(dir, "b.ndjson", "4\n5\n", 200));
    free(put(dir, "c.ndjson", "", 300));
    free(put(dir, "d.ndjson", "6\n", 400));
    snprintf(pat, sizeof pat, "%s/*.ndjson", dir);
    ls_source *s = ls_source_new_files(pat, LS_FORMAT_NDJSON);
    ls_source_decl_of(s)->max_files = 2;
    ck_assert_int_eq(ls_source_open(s, 1, &err), 0);
    ck_assert_uint_eq(ls_source_nparts(s), 4);
    /* a cap of 4 records cuts b after its first */
    ck_assert_int_eq(ls_source_plan(s, 4, &err), 4);
    ck_assert_int_eq(read_all(s, got, sizeof got), 4);
    ck_assert_str_eq(got, "a0 a1 a2 b0");
    ck_assert(ls_source_part_at(s, 0)->done && !ls_source_part_at(s, 1)->done);
    /* b goes on first; the empty c is done without counting; d is the second file */
    ck_assert_int_eq(ls_source_plan(s, 4, &err), 2);
    ck_assert_int_eq(read_all(s, got, sizeof got), 2);
    ck_assert_str_eq(got, "b1 d0");
    ck_assert_int_eq(ls_source_position(ls_source_part_at(s, 0), 0), LS_FILE_DONE);
    ck_assert_int_eq(ls_source_plan(s, 4, &err), 0);
    ck_assert_int_eq(ls_source_arrived(s), 0);
    ls_source_free(s);

    /* a restart: a is done, b read to 1, a replay of the batch [1, 2) of b */
    s = ls_source_new_files(pat, LS_FORMAT_NDJSON);
    char path[600];
    snprintf(path, sizeof path, "%s/a.ndjson", dir);
    ls_source_resume_at(s, path, 0, LS_FILE_DONE);
    snprintf(path, sizeof path, "%s/b.ndjson", dir);
    ls_source_resume_at(s, path, 0, 1);
    ck_assert_int_eq(ls_source_open(s, 1, &err), 0);
    ls_source_replay(s, path, 0, 2);
    ck_assert_int_eq(ls_source_plan(s, 0, &err), 1); /* only the replayed record */
    ck_assert_int_eq(read_all(s, got, sizeof got), 1);
    ck_assert_str_eq(got, "b1");
    ck_assert_int_eq(ls_source_plan(s, 0, &err), 1); /* then what was never read */
    ck_assert_int_eq(read_all(s, got, sizeof got), 1);
    ck_assert_str_eq(got, "d0");
    ls_source_free(s);
    th_rmrf(dir);
    free(dir);
}
END_TEST

START_TEST(plan_files_new_files_when_unbounded)
{
    char *dir = th_tmpdir(), got[512];
    ls_err err;
    ls_source *s = ls_source_new_files(dir, LS_FORMAT_NDJSON);
    ls_source_decl_of(s)->polling_ms = 1; /* list at every plan */
    ck_assert_int_eq(ls_source_open(s, 0, &err), 0);
    ck_assert_int_eq(ls_source_plan(s, 0, &err), 0);
    free(put(dir, "x.ndjson", "{}\n{}\n", 100));
    struct timespec ts = { 0, 5000000 };
    nanosleep(&ts, NULL);
    ck_assert_uint_eq(ls_source_arrived(s), 1);
    ck_assert_int_eq(ls_source_plan(s, 0, &err), 2);
    ck_assert_int_eq(read_all(s, got, sizeof got), 2);
    /* a file read to its end is not read again, even grown */
    free(put(dir, "x.ndjson", "{}\n{}\n{}\n", 100));
    nanosleep(&ts, NULL);
    ck_assert_int_eq(ls_source_plan(s, 0, &err), 0);
    ls_source_free(s);
    th_rmrf(dir);
    free(dir);
}
END_TEST

START_TEST(memory_sink_final_rows)
{
    const char *names[] = { "k", "n" };
    ls_value vals[2];
    ls_err err;
    ls_row row = { 2, names, vals, 1 };
    /* update: the last row of each key */
    ls_sink *s = ls_sink_memory_new("q", 1, NULL);
    s->vt->open_batch(s, 0, &err);
    vals[0] = ls_str("a", 1), vals[1] = ls_int(1);
    s->vt->write(s, &row, &err);
    vals[0] = ls_str("b", 1), vals[1] = ls_int(1);
    s->vt->write(s, &row, &err);
    s->vt->open_batch(s, 1, &err);
    vals[0] = ls_str("a", 1), vals[1] = ls_int(2);
    s->vt->write(s, &row, &err);
    ck_assert_uint_eq(ls_sink_memory_count(s), 2);
    ck_assert_str_eq(ls_sink_memory_row(s, 0), "{\"k\":\"a\",\"n\":2}");
    ls_sink_destroy(s);
    /* complete: the last batch only */
    s = ls_sink_memory_new("q", 0, NULL);
    s->vt->open_batch(s, 0, &err);
    s->vt->write(s, &row, &err);
    s->vt->write(s, &row, &err);
    s->vt->open_batch(s, 1, &err);
    s->vt->write(s, &row, &err);
    ck_assert_uint_eq(ls_sink_memory_count(s), 1);
    ls_sink_destroy(s);
    /* append with routing: the Kafka key, topic and headers in the row */
    s = ls_sink_memory_new("q", 2, "out.topic");
    const char *hn[] = { "h" }, *hv[] = { "v" };
    size_t hl[] = { 1 };
    ls_out o = { "{\"x\":1}", 7, "k1", 2, NULL, 1, hn, hv, hl };
    s->vt->write_out(s, &o, &err);
    ls_out bare = { "{}", 2, NULL, 0, "t2", 0, NULL, NULL, NULL };
    s->vt->write_out(s, &bare, &err);
    ck_assert_str_eq(ls_sink_memory_row(s, 0),
                     "{\"_headers\":{\"h\":\"v\"},\"_key\":\"k1\",\"_topic\":\"out.topic\",\"x\":1}");
    ck_assert_str_eq(ls_sink_memory_row(s, 1), "{\"_topic\":\"t2\"}");
    ls_sink_destroy(s);
}
END_TEST

START_TEST(canonical_json)
{
    ls_buf b;
    ls_err err;
    ls_buf_init(&b);
    ck_assert_int_eq(ls_test_canonical("{ \"b\": [1.0, 2], \"a\": {\"z\":1,\"y\":null} }", 41, 0,
                                       &b, &err), 0);
    ck_assert_str_eq(b.data, "{\"a\":{\"y\":null,\"z\":1},\"b\":[1.0,2]}");
    ls_buf_reset(&b);
    ck_assert_int_eq(ls_test_canonical("[1.0, 1e0, 0.5, 10000000000000000000]", 38, 1, &b, &err), 0);
    ck_assert_str_eq(b.data, "[1,1,0.5,1e+19]");
    ls_buf_reset(&b);
    ck_assert_int_eq(ls_test_canonical("{\"a\":", 5, 0, &b, &err), -1);
    ls_buf_free(&b);
}
END_TEST

Suite *files_suite(void)
{
    Suite *s = suite_create("files");
    TCase *tc = tcase_create("files");
    tcase_add_test(tc, list_oldest_first_without_hidden_files);
    tcase_add_test(tc, split_each_format);
    tcase_add_test(tc, split_kafka_messages);
    tcase_add_test(tc, plan_files_caps_and_done);
    tcase_add_test(tc, plan_files_new_files_when_unbounded);
    tcase_add_test(tc, memory_sink_final_rows);
    tcase_add_test(tc, canonical_json);
    suite_add_tcase(s, tc);
    return s;
}
