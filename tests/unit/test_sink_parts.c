/* test_sink_parts.c - a job member's file sink (ls_sink_parts.h): rows by
 * state partition into DIR/<query>/part-<p>.jsonl, the directory's id, the
 * lengths handed out for the changelog, cutting a part back to its
 * committed length, and a file changed under the member. */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ls_sink_parts.h"
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

static const char *const NAMES[] = { "k", "count" };

/* One batch: for each i, a row {"k":"K<key>","count":<key>} in partition part[i]. */
static int batch(ls_sink *s, const int *part, const int *key, int n, ls_err *err)
{
    if (s->vt->open_batch(s, 0, err)) return -1;
    for (int i = 0; i < n; i++) {
        char k[16];
        snprintf(k, sizeof k, "K%d", key[i]);
        ls_value vals[] = { ls_str(k, strlen(k)), ls_int(key[i]) };
        ls_row row = { 2, NAMES, vals, 1 };
        s->part = part[i];
        if (s->vt->write(s, &row, err)) return -1;
    }
    return s->vt->close_batch(s, err);
}

static char *path_of(const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 16;
    char *p = malloc(n);
    snprintf(p, n, "%s/out/q/%s", dir, name);
    return p;
}

static long size_of(const char *name)
{
    char *p = path_of(name);
    struct stat st;
    long n = stat(p, &st) == 0 ? (long)st.st_size : -1;
    free(p);
    return n;
}

static char *text_of(const char *name)
{
    char *p = path_of(name);
    char *t = th_read_file(p, NULL);
    free(p);
    return t;
}

static char *out_dir(void)
{
    size_t n = strlen(dir) + 8;
    char *o = malloc(n);
    snprintf(o, n, "%s/out", dir);
    return o;
}

START_TEST(rows_go_to_their_partitions_file)
{
    char *out = out_dir();
    ls_err err = { "" };
    ls_sink *s = ls_sink_parts_new(out, "q", "app1", &err);
    ck_assert_msg(s != NULL, "%s", err.msg);
    ck_assert(ls_sink_is_parts(s));
    ck_assert_str_eq(s->description + strlen(s->description) - strlen("/out/q/part-<p>.jsonl]"),
                     "/out/q/part-<p>.jsonl]");
    ck_assert_int_eq(ls_sink_parts_own(s, 0, 0, &err), 0);
    ck_assert_int_eq(ls_sink_parts_own(s, 3, 0, &err), 0);
    int part[] = { 0, 0, 3, 3, 0 }, key[] = { 1, 2, 3, 4, 5 };
    ck_assert_msg(batch(s, part, key, 5, &err) == 0, "%s", err.msg);
    char *t0 = text_of("part-0.jsonl"), *t3 = text_of("part-3.jsonl");
    ck_assert_str_eq(t0, "{\"k\":\"K1\",\"count\":1}\n{\"k\":\"K2\",\"count\":2}\n"
                         "{\"k\":\"K5\",\"count\":5}\n");
    ck_assert_str_eq(t3, "{\"k\":\"K3\",\"count\":3}\n{\"k\":\"K4\",\"count\":4}\n");
    /* the lengths for the changelog: once per batch that wrote the part */
    int64_t len = -1;
    ck_assert_int_eq(ls_sink_parts_written(s, 0, &len), 1);
    ck_assert_int_eq(len, (int64_t)strlen(t0));
    ck_assert_int_eq(ls_sink_parts_written(s, 0, &len), 0);
    ck_assert_int_eq(ls_sink_parts_written(s, 3, &len), 1);
    ck_assert_int_eq(len, (int64_t)strlen(t3));
    ck_assert_int_eq(ls_sink_parts_written(s, 1, &len), 0);
    ck_assert_int_eq(ls_sink_parts_written(s, 99, &len), 0);
    ck_assert_int_eq(size_of("part-1.jsonl"), -1); /* no row, no file */
    ck_assert_int_eq(ls_sink_parts_own(s, 5, 0, &err), 0);
    ck_assert_int_eq(size_of("part-5.jsonl"), -1); /* owned without rows: none either */
    free(t0);
    free(t3);
    /* the directory's id, with the app id */
    char *id = text_of("_id");
    char want[64];
    snprintf(want, sizeof want, "luastream-parts %s app1\n", ls_sink_parts_dir_id(s));
    ck_assert_str_eq(id, want);
    ck_assert_int_eq((int)strlen(ls_sink_parts_dir_id(s)), LS_PARTS_ID_LEN);
    free(id);
    /* a second member on the same directory shares its id */
    ls_sink *s2 = ls_sink_parts_new(out, "q", "app1", &err);
    ck_assert_msg(s2 != NULL, "%s", err.msg);
    ck_assert_str_eq(ls_sink_parts_dir_id(s2), ls_sink_parts_dir_id(s));
    ls_sink_destroy(s2);
    /* another app's member is refused */
    ck_assert_ptr_null(ls_sink_parts_new(out, "q", "app2", &err));
    ck_assert_msg(strstr(err.msg, "holds the output of app app1") && strstr(err.msg, "not of app app2"),
                  "%s", err.msg);
    ls_sink_destroy(s);
    free(out);
}
END_TEST

START_TEST(owning_a_partition_cuts_its_file_back)
{
    char *out = out_dir();
    ls_err err = { "" };
    ls_sink *s = ls_sink_parts_new(out, "q", "a", &err);
    ck_assert_msg(s != NULL, "%s", err.msg);
    ck_assert_int_eq(ls_sink_parts_own(s, 2, 0, &err), 0);
    int part[] = { 2, 2 }, k1[] = { 1, 2 }, k2[] = { 3, 4 };
    ck_assert_int_eq(batch(s, part, k1, 2, &err), 0);
    int64_t committed;
    ck_assert_int_eq(ls_sink_parts_written(s, 2, &committed), 1);
    ck_assert_int_eq(batch(s, part, k2, 2, &err), 0); /* a batch that does not commit */
    ck_assert_int_gt(size_of("part-2.jsonl"), committed);
    /* the transaction aborted: the partition is dropped, owned again, cut */
    ls_sink_parts_drop(s, 2);
    int64_t cut = ls_sink_parts_own(s, 2, committed, &err);
    ck_assert_int_eq(cut, (int64_t)(2 * strlen("{\"k\":\"K3\",\"count\":3}\n")));
    ck_assert_int_eq(size_of("part-2.jsonl"), committed);
    /* the batch again: appended after the committed rows */
    ck_assert_int_eq(batch(s, part, k2, 2, &err), 0);
    char *t = text_of("part-2.jsonl");
    ck_assert_str_eq(t, "{\"k\":\"K1\",\"count\":1}\n{\"k\":\"K2\",\"count\":2}\n"
                        "{\"k\":\"K3\",\"count\":3}\n{\"k\":\"K4\",\"count\":4}\n");
    free(t);
    /* no committed length: the rows of a first batch that never committed go */
    ck_assert_int_gt(ls_sink_parts_own(s, 2, 0, &err), 0);
    ck_assert_int_eq(size_of("part-2.jsonl"), 0);
    /* a committed length beyond the file (rows lost before they reached the
     * disk): nothing cut, appended as it is */
    ck_assert_int_eq(ls_sink_parts_own(s, 2, 1000, &err), 0);
    ck_assert_int_eq(batch(s, part, k1, 2, &err), 0);
    ck_assert_int_eq(size_of("part-2.jsonl"), 2 * (long)strlen("{\"k\":\"K1\",\"count\":1}\n"));
    ck_assert_int_eq(ls_sink_parts_own(s, -1, 0, &err), -1);
    ls_sink_destroy(s);
    free(out);
}
END_TEST

START_TEST(a_file_changed_under_the_member_is_an_error)
{
    char *out = out_dir();
    ls_err err = { "" };
    ls_sink *s = ls_sink_parts_new(out, "q", "a", &err);
    ck_assert_msg(s != NULL, "%s", err.msg);
    ck_assert_int_eq(ls_sink_parts_own(s, 1, 0, &err), 0);
    int part[] = { 1 }, key[] = { 1 };
    ck_assert_int_eq(batch(s, part, key, 1, &err), 0);
    /* another process appends (a member the group moved on from) */
    char *p = path_of("part-1.jsonl");
    int fd = open(p, O_WRONLY | O_APPEND);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, "{}\n", 3), 3);
    close(fd);
    ck_assert_int_eq(batch(s, part, key, 1, &err), -1);
    ck_assert_msg(strstr(err.msg, "part-1.jsonl is 24 bytes, but this member left it at 21") &&
                  strstr(err.msg, "another process writes it"), "%s", err.msg);
    char *t = text_of("part-1.jsonl");
    ck_assert_str_eq(t, "{\"k\":\"K1\",\"count\":1}\n{}\n"); /* nothing interleaved */
    free(t);
    free(p);
    /* owned while absent, then made by another process before the first row */
    ck_assert_int_eq(ls_sink_parts_own(s, 4, 0, &err), 0);
    char *p4 = path_of("part-4.jsonl");
    fd = open(p4, O_WRONLY | O_CREAT, 0666);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, "{}\n", 3), 3);
    close(fd);
    int part4[] = { 4 };
    ck_assert_int_eq(batch(s, part4, key, 1, &err), -1);
    ck_assert_msg(strstr(err.msg, "part-4.jsonl is 3 bytes, but this member left it at 0"), "%s", err.msg);
    free(p4);
    /* a per-record row has no partition */
    ls_out o = { .json = "{}", .len = 2 };
    ck_assert_int_eq(s->vt->write_out(s, &o, &err), -1);
    /* a row before any partition was named */
    ck_assert_int_eq(s->vt->open_batch(s, 1, &err), 0);
    ls_value vals[] = { ls_str("x", 1), ls_int(1) };
    ls_row row = { 2, NAMES, vals, 1 };
    ck_assert_int_eq(s->vt->write(s, &row, &err), 0);
    ck_assert_int_eq(s->vt->close_batch(s, &err), -1);
    ck_assert_msg(strstr(err.msg, "rows without a state partition"), "%s", err.msg);
    ls_sink_destroy(s);
    free(out);
}
END_TEST

START_TEST(a_bad_id_file_is_refused)
{
    char *out = out_dir();
    ls_err err = { "" };
    char *q = path_of("");
    ck_assert_int_eq(ls_mkdirs(q, &err), 0);
    char *id = path_of("_id");
    FILE *f = fopen(id, "w");
    ck_assert_ptr_nonnull(f);
    fputs("something else\n", f);
    fclose(f);
    ck_assert_ptr_null(ls_sink_parts_new(out, "q", "a", &err));
    ck_assert_msg(strstr(err.msg, "is not a luastream file sink's id"), "%s", err.msg);
    /* a directory that cannot be made */
    char *file = th_write_file(dir, "plain", "x", 1);
    ck_assert_ptr_null(ls_sink_parts_new(file, "q", "a", &err));
    ck_assert_msg(strstr(err.msg, "cannot create directory"), "%s", err.msg);
    free(file);
    free(id);
    free(q);
    free(out);
}
END_TEST

Suite *sink_parts_suite(void)
{
    Suite *s = suite_create("sink_parts");
    TCase *tc = tcase_create("parts");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, rows_go_to_their_partitions_file);
    tcase_add_test(tc, owning_a_partition_cuts_its_file_back);
    tcase_add_test(tc, a_file_changed_under_the_member_is_an_error);
    tcase_add_test(tc, a_bad_id_file_is_refused);
    suite_add_tcase(s, tc);
    return s;
}
