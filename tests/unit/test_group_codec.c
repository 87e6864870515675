/* test_group_codec.c - a group's bytes on a job's topics (ls_acc_codec.h)
 * and the state-partition functions a job's members use (ls_state_put,
 * ls_state_clear_part, ls_state_sweep_part): a group survives the trip, a
 * partial group merges, hostile bytes are refused whole. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "ls_acc_codec.h"
#include "ls_hll.h"
#include "ls_state.h"
#include "ls_value.h"
#include "ls_window.h"
#include "suites.h"

enum { NAGG = 4 };

static void specs(ls_agg_spec *s)
{
    memset(s, 0, NAGG * sizeof *s);
    s[0].fn = LS_AGG_COUNT;
    s[1].fn = LS_AGG_SUM;
    s[2].fn = LS_AGG_MIN;
    s[3].fn = LS_AGG_APPROX_DISTINCT;
    s[3].hll_p = ls_hll_precision(0.05);
}

static void fold(ls_acc *a, const ls_agg_spec *s, const char *name, int64_t n)
{
    for (int k = 0; k < NAGG; k++) {
        ls_value v = k == 0 ? ls_int(1) : k == 1 ? ls_int(n) : ls_str(name, strlen(name));
        ls_err err = { "" };
        if (ls_agg_prepare(s[k].fn, &v) != 0 || ls_acc_fold(&a[k], &s[k], &v, -1, &err) != 0)
            ck_abort_msg("fold failed: %s", err.msg);
    }
}

static void release(ls_acc *a)
{
    for (int k = 0; k < NAGG; k++) ls_acc_release(&a[k]);
}

START_TEST(group_codec_round_trip_and_merge)
{
    ls_agg_spec s[NAGG];
    specs(s);
    ls_acc a[NAGG], b[NAGG];
    for (int k = 0; k < NAGG; k++) ls_acc_init(&a[k]);
    fold(a, s, "bravo", 3);
    fold(a, s, "alpha", 4);
    ls_buf bytes;
    ls_buf_init(&bytes);
    ls_group_encode(1234, a, NAGG, &bytes);
    int64_t wend = 0;
    for (int k = 0; k < NAGG; k++) ls_acc_init(&b[k]);
    ck_assert_int_eq(ls_group_decode(bytes.data, bytes.len, NAGG, &wend, b), 0);
    ck_assert_int_eq(wend, 1234);
    for (int k = 0; k < NAGG; k++) {
        ls_value x = ls_acc_result(&a[k], s[k].fn), y = ls_acc_result(&b[k], s[k].fn);
        ck_assert_int_eq(ls_value_order(&x, &y), 0);
    }

    /* into a state: created as it is, then a second partial merges */
    ls_state *st = ls_state_new(4, NAGG);
    const char key[] = "Sk";
    uint64_t h = ls_hash(key, 2);
    int created;
    ls_group *g = ls_state_put(st, key, 2, h, wend, b, s, &created);
    ck_assert_int_eq(created, 1);
    for (int k = 0; k < NAGG; k++) ls_acc_init(&b[k]);
    ck_assert_int_eq(ls_group_decode(bytes.data, bytes.len, NAGG, &wend, b), 0);
    g = ls_state_put(st, key, 2, h, wend, b, s, &created);
    ck_assert_int_eq(created, 0);
    ck_assert_int_eq(ls_acc_result(&g->acc[0], LS_AGG_COUNT).u.i, 4);
    ck_assert_int_eq(ls_acc_result(&g->acc[1], LS_AGG_SUM).u.i, 14);
    ck_assert_int_eq(ls_acc_result(&g->acc[3], LS_AGG_APPROX_DISTINCT).u.i, 2);
    /* replaced (a changelog record): the value as it is */
    for (int k = 0; k < NAGG; k++) ls_acc_init(&b[k]);
    ck_assert_int_eq(ls_group_decode(bytes.data, bytes.len, NAGG, &wend, b), 0);
    g = ls_state_put(st, key, 2, h, 99, b, NULL, &created);
    ck_assert_int_eq(ls_acc_result(&g->acc[0], LS_AGG_COUNT).u.i, 2);
    ck_assert_int_eq(g->window_end, 99);

    /* a tombstone marks, the sweep removes; clearing a partition frees it */
    g->updated_batch = LS_GROUP_DEAD;
    int p = ls_state_partition_of(st, h);
    ck_assert_uint_eq(ls_state_sweep_part(st, p), 1);
    ck_assert_uint_eq(ls_state_groups(st), 0);
    for (int k = 0; k < NAGG; k++) ls_acc_init(&b[k]);
    ck_assert_int_eq(ls_group_decode(bytes.data, bytes.len, NAGG, &wend, b), 0);
    ls_state_put(st, key, 2, h, wend, b, s, &created);
    ls_state_clear_part(st, (p + 1) % 4); /* another partition: nothing */
    ck_assert_uint_eq(ls_state_groups(st), 1);
    ls_state_clear_part(st, p);
    ck_assert_uint_eq(ls_state_groups(st), 0);
    ls_state_clear_part(st, 17); /* out of range: nothing */
    ls_state_free(st);
    release(a);
    ls_buf_free(&bytes);
}
END_TEST

START_TEST(group_codec_refuses_hostile_bytes)
{
    ls_agg_spec s[NAGG];
    specs(s);
    ls_acc a[NAGG], b[NAGG];
    for (int k = 0; k < NAGG; k++) ls_acc_init(&a[k]);
    fold(a, s, "alpha", 1);
    ls_buf bytes;
    ls_buf_init(&bytes);
    ls_group_encode(5, a, NAGG, &bytes);
    int64_t wend;
    /* every cut, and the whole with a byte more, fail (and leak nothing: ASan) */
    for (size_t n = 0; n <= bytes.len + 1; n++) {
        if (n == bytes.len) continue;
        ls_buf_reserve(&bytes, 2);
        for (int k = 0; k < NAGG; k++) ls_acc_init(&b[k]);
        ck_assert_msg(ls_group_decode(bytes.data, n, NAGG, &wend, b) == -1, "%zu bytes parsed", n);
    }
    /* another version, a huge string length */
    char *bad = malloc(bytes.len);
    memcpy(bad, bytes.data, bytes.len);
    bad[0] = 2;
    for (int k = 0; k < NAGG; k++) ls_acc_init(&b[k]);
    ck_assert_int_eq(ls_group_decode(bad, bytes.len, NAGG, &wend, b), -1);
    memcpy(bad, bytes.data, bytes.len);
    for (size_t i = 9; i < bytes.len; i++) bad[i] = (char)0xff;
    for (int k = 0; k < NAGG; k++) ls_acc_init(&b[k]);
    ck_assert_int_eq(ls_group_decode(bad, bytes.len, NAGG, &wend, b), -1);
    free(bad);
    release(a);
    ls_buf_free(&bytes);
}
END_TEST

Suite *group_codec_suite(void)
{
    Suite *s = suite_create("group_codec");
    TCase *t = tcase_create("group_codec");
    tcase_add_test(t, group_codec_round_trip_and_merge);
    tcase_add_test(t, group_codec_refuses_hostile_bytes);
    suite_add_tcase(s, t);
    return s;
}
