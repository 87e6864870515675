/* test_state_cache.c - the snapshot files of a job member's state cache
 * (ls_state_cache.h): a snapshot survives the trip byte for byte, through a
 * file too; every truncation, every flipped byte and every mismatch (app,
 * query, declaration, partition) is refused with a reason, never read. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "ls_state_cache.h"
#include "suites.h"
#include "test_helpers.h"

static const ls_snap_id ID = { "app1", "counts", "0123456789abcdef", 8, 3 };

/* Three records, one with an empty value, one with a key holding a NUL. */
static void build(ls_buf *b)
{
    ls_snap_writer w;
    ls_snap_begin(&w, b, &ID, 4242, 1700000000000LL);
    ls_snap_add(&w, "k1", 2, "value-one", 9);
    ls_snap_add(&w, "\0wm", 3, "", 0);
    ls_snap_add(&w, "a-longer-key", 12, "v", 1);
    ls_snap_finish(&w);
}

static void check_records(ls_snap_view *v)
{
    const char *keys[] = { "k1", "\0wm", "a-longer-key" };
    const size_t klens[] = { 2, 3, 12 };
    const char *vals[] = { "value-one", "", "v" };
    for (int i = 0; i < 3; i++) {
        const void *k, *x;
        size_t kl, xl;
        ck_assert_int_eq(ls_snap_next(v, &k, &kl, &x, &xl), 1);
        ck_assert_uint_eq(kl, klens[i]);
        ck_assert(memcmp(k, keys[i], kl) == 0);
        ck_assert_uint_eq(xl, strlen(vals[i]));
        ck_assert(memcmp(x, vals[i], xl) == 0);
    }
    const void *k, *x;
    size_t kl, xl;
    ck_assert_int_eq(ls_snap_next(v, &k, &kl, &x, &xl), 0);
}

START_TEST(test_round_trip)
{
    ls_buf b;
    ls_buf_init(&b);
    build(&b);
    ls_snap_view v;
    ls_err err = { "" };
    ck_assert_msg(ls_snap_parse(b.data, b.len, &ID, &v, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(v.offset, 4242);
    ck_assert_int_eq(v.saved_ms, 1700000000000LL);
    ck_assert_uint_eq(v.count, 3);
    check_records(&v);
    ls_buf_free(&b);
}
END_TEST

START_TEST(test_empty_partition)
{
    ls_buf b;
    ls_buf_init(&b);
    ls_snap_writer w;
    ls_snap_begin(&w, &b, &ID, 0, 0);
    ls_snap_finish(&w);
    ls_snap_view v;
    ls_err err = { "" };
    ck_assert_msg(ls_snap_parse(b.data, b.len, &ID, &v, &err) == 0, "%s", err.msg);
    const void *k, *x;
    size_t kl, xl;
    ck_assert_int_eq(ls_snap_next(&v, &k, &kl, &x, &xl), 0);
    ls_buf_free(&b);
}
END_TEST

START_TEST(test_every_truncation_refused)
{
    ls_buf b;
    ls_buf_init(&b);
    build(&b);
    for (size_t n = 0; n < b.len; n++) {
        /* a copy of exactly n bytes, so that ASan sees any read past it */
        char *cut = malloc(n ? n : 1);
        memcpy(cut, b.data, n);
        ls_snap_view v;
        ls_err err = { "" };
        ck_assert_msg(ls_snap_parse(cut, n, &ID, &v, &err) == -1, "%zu of %zu bytes read", n, b.len);
        ck_assert(err.msg[0]);
        free(cut);
    }
    ls_buf_free(&b);
}
END_TEST

START_TEST(test_every_flipped_byte_refused)
{
    ls_buf b;
    ls_buf_init(&b);
    build(&b);
    for (size_t i = 0; i < b.len; i++) {
        char *bad = malloc(b.len);
        memcpy(bad, b.data, b.len);
        bad[i] ^= 0x20;
        ls_snap_view v;
        ls_err err = { "" };
        ck_assert_msg(ls_snap_parse(bad, b.len, &ID, &v, &err) == -1, "byte %zu flipped: read", i);
        free(bad);
    }
    ls_buf_free(&b);
}
END_TEST

static void refused(const ls_snap_id *want, const char *why)
{
    ls_buf b;
    ls_buf_init(&b);
    build(&b);
    ls_snap_view v;
    ls_err err = { "" };
    ck_assert_int_eq(ls_snap_parse(b.data, b.len, want, &v, &err), -1);
    ck_assert_msg(strstr(err.msg, why) != NULL, "%s", err.msg);
    ls_buf_free(&b);
}

START_TEST(test_mismatch_refused)
{
    ls_snap_id w = ID;
    w.app = "app2";
    refused(&w, "app id app1");
    w = ID;
    w.query = "other";
    refused(&w, "query counts");
    w = ID;
    w.signature = "0123456789abcdee";
    refused(&w, "another declaration");
    w = ID;
    w.nparts = 16;
    refused(&w, "partition 3 of 8");
    w = ID;
    w.part = 2;
    refused(&w, "partition 3 of 8");
}
END_TEST

START_TEST(test_file_round_trip)
{
    char *dir = th_tmpdir();
    ck_assert_ptr_nonnull(dir);
    ls_buf b, r;
    ls_buf_init(&b);
    ls_buf_init(&r);
    ls_err err = { "" };
    ck_assert_int_eq(ls_snap_load(dir, "counts", 3, &r, &err), 1); /* none yet */
    build(&b);
    ck_assert_msg(ls_snap_save(dir, "counts", 3, &b, &err) == 0, "%s", err.msg);
    ck_assert_msg(ls_snap_save(dir, "counts", 3, &b, &err) == 0, "%s", err.msg); /* over it */
    ck_assert_int_eq(ls_snap_load(dir, "counts", 3, &r, &err), 0);
    ck_assert_uint_eq(r.len, b.len);
    ck_assert(memcmp(r.data, b.data, b.len) == 0);
    ls_snap_view v;
    ck_assert_int_eq(ls_snap_parse(r.data, r.len, &ID, &v, &err), 0);
    check_records(&v);
    ls_buf_free(&b);
    ls_buf_free(&r);
    th_rmrf(dir);
    free(dir);
}
END_TEST

Suite *state_cache_suite(void)
{
    Suite *s = suite_create("state_cache");
    TCase *tc = tcase_create("snapshot");
    tcase_add_test(tc, test_round_trip);
    tcase_add_test(tc, test_empty_partition);
    tcase_add_test(tc, test_every_truncation_refused);
    tcase_add_test(tc, test_every_flipped_byte_refused);
    tcase_add_test(tc, test_mismatch_refused);
    tcase_add_test(tc, test_file_round_trip);
    suite_add_tcase(s, tc);
    return s;
}
