/* test_window.c - ls_window_assign and the watermark. */
#include <check.h>

#include "ls_window.h"
#include "suites.h"

#define MIN (60 * 1000LL)
#define T12 (12 * 60 * MIN) /* 12:00 on 1970-01-01 */

START_TEST(window_tumbling)
{
    ls_window_spec w = { 10 * MIN, 10 * MIN };
    int64_t st[LS_MAX_WINDOWS];
    ck_assert_int_eq(ls_window_assign(&w, T12 + 7 * MIN, st), 1);
    ck_assert_int_eq(st[0], T12);
    /* exactly on a boundary: the window starting there, not the previous one */
    ck_assert_int_eq(ls_window_assign(&w, T12 + 10 * MIN, st), 1);
    ck_assert_int_eq(st[0], T12 + 10 * MIN);
    /* last millisecond of a window */
    ck_assert_int_eq(ls_window_assign(&w, T12 + 10 * MIN - 1, st), 1);
    ck_assert_int_eq(st[0], T12);
    ck_assert_int_eq(ls_window_assign(&w, 0, st), 1);
    ck_assert_int_eq(st[0], 0);
    /* a real date: 2018-12-31T23:57:00Z falls in [23:50, 00:00) */
    ck_assert_int_eq(ls_window_assign(&w, 1546300620000LL, st), 1);
    ck_assert_int_eq(st[0], 1546300200000LL);
}
END_TEST

START_TEST(window_sliding)
{
    ls_window_spec w = { 10 * MIN, 5 * MIN };
    int64_t st[LS_MAX_WINDOWS];
    ck_assert_int_eq(ls_window_assign(&w, T12 + 7 * MIN, st), 2);
    ck_assert_int_eq(st[0], T12);
    ck_assert_int_eq(st[1], T12 + 5 * MIN);
    /* on a boundary: 12:10 is in [12:05,12:15) and [12:10,12:20), not [12:00,12:10) */
    ck_assert_int_eq(ls_window_assign(&w, T12 + 10 * MIN, st), 2);
    ck_assert_int_eq(st[0], T12 + 5 * MIN);
    ck_assert_int_eq(st[1], T12 + 10 * MIN);
    ck_assert_int_eq(ls_window_assign(&w, T12, st), 2);
    ck_assert_int_eq(st[0], T12 - 5 * MIN);
    ck_assert_int_eq(st[1], T12);

    /* size not a multiple of slide: 10 min / 3 min at 12:07 -> 11:57(x), 12:00, 12:03, 12:06 */
    ls_window_spec odd = { 10 * MIN, 3 * MIN };
    int n = ls_window_assign(&odd, T12 + 7 * MIN, st);
    for (int i = 0; i < n; i++) {
        ck_assert(st[i] <= T12 + 7 * MIN && T12 + 7 * MIN < st[i] + odd.size);
        ck_assert_int_eq(st[i] % odd.slide, 0);
        if (i) ck_assert_int_eq(st[i] - st[i - 1], odd.slide);
    }
    ck_assert_int_eq(n, 3);
    ck_assert_int_eq(st[0], T12);
    ck_assert_int_eq(st[2], T12 + 6 * MIN);

    /* 1 hour windows every minute: 60 windows */
    ls_window_spec many = { 60 * MIN, MIN };
    ck_assert_int_eq(ls_window_assign(&many, T12 + 30 * MIN + 5, st), 60);
    ck_assert_int_eq(st[0], T12 - 29 * MIN);
    ck_assert_int_eq(st[59], T12 + 30 * MIN);
    /* more than LS_MAX_WINDOWS windows are capped */
    ls_window_spec tiny = { 1000, 1 };
    n = ls_window_assign(&tiny, 5000, st);
    ck_assert_int_le(n, LS_MAX_WINDOWS);
    ck_assert_int_gt(n, 0);
    for (int i = 0; i < n; i++) ck_assert(st[i] <= 5000 && 5000 < st[i] + 1000);
}
END_TEST

START_TEST(window_negative_times)
{
    ls_window_spec w = { 10 * MIN, 10 * MIN };
    int64_t st[LS_MAX_WINDOWS];
    ck_assert_int_eq(ls_window_assign(&w, -1, st), 1);
    ck_assert_int_eq(st[0], -10 * MIN);
    ck_assert_int_eq(ls_window_assign(&w, -10 * MIN, st), 1);
    ck_assert_int_eq(st[0], -10 * MIN);
    ck_assert_int_eq(ls_window_assign(&w, -10 * MIN - 1, st), 1);
    ck_assert_int_eq(st[0], -20 * MIN);
    ls_window_spec s = { 10 * MIN, 5 * MIN };
    ck_assert_int_eq(ls_window_assign(&s, -3 * MIN, st), 2);
    ck_assert_int_eq(st[0], -10 * MIN);
    ck_assert_int_eq(st[1], -5 * MIN);
}
END_TEST

/* Spark's micro-batch watermark: global moves at the end of a batch, a
 * batch runs with the global value it started with, and late rows are
 * judged by the previous batch's value. */
START_TEST(watermark_lifecycle)
{
    ls_watermark wm;
    ls_watermark_init(&wm, 10 * MIN);
    ck_assert_int_eq(wm.delay, 10 * MIN);
    ck_assert_int_eq(wm.max_event, LS_NO_TIME);
    ck_assert_int_eq(wm.global, 0); /* Spark starts at the epoch */
    ck_assert_int_eq(wm.batch, 0);
    ck_assert_int_eq(wm.late, 0);

    ls_watermark_begin_batch(&wm); /* batch 0 */
    ck_assert(!ls_watermark_is_late(&wm, 1));
    ck_assert(ls_watermark_is_late(&wm, 0)); /* at or before: late (a window ending at the epoch) */
    ck_assert_int_eq(ls_watermark_end_batch(&wm), 0); /* no events yet */
    ck_assert(!ls_watermark_pending(&wm));

    ls_watermark_begin_batch(&wm); /* batch 1 */
    ls_watermark_observe(&wm, T12 + 5 * MIN);
    ls_watermark_observe(&wm, T12 + 20 * MIN);
    ls_watermark_observe(&wm, T12 + 1 * MIN); /* older: max unchanged */
    ck_assert_int_eq(wm.max_event, T12 + 20 * MIN);
    ck_assert_int_eq(wm.global, 0); /* moves only at batch end */
    ck_assert_int_eq(ls_watermark_end_batch(&wm), 1);
    ck_assert_int_eq(wm.global, T12 + 10 * MIN);
    ck_assert_int_eq(wm.batch, 0);
    ck_assert(ls_watermark_pending(&wm)); /* a batch now would evict more */

    ls_watermark_begin_batch(&wm); /* batch 2 runs with 12:10, judges late by 0 */
    ck_assert_int_eq(wm.batch, T12 + 10 * MIN);
    ck_assert_int_eq(wm.late, 0);
    ck_assert(!ls_watermark_is_late(&wm, T12));
    ck_assert(!ls_watermark_pending(&wm));
    ck_assert_int_eq(ls_watermark_end_batch(&wm), 0); /* no new events */

    ls_watermark_begin_batch(&wm); /* batch 3: late by 12:10 */
    ck_assert_int_eq(wm.late, T12 + 10 * MIN);
    ck_assert(ls_watermark_is_late(&wm, T12 + 10 * MIN)); /* equal is late */
    ck_assert(!ls_watermark_is_late(&wm, T12 + 10 * MIN + 1));
    /* older events never move it backwards */
    ls_watermark_observe(&wm, T12);
    ck_assert_int_eq(ls_watermark_end_batch(&wm), 0);
    ck_assert_int_eq(wm.global, T12 + 10 * MIN);
    /* a newer event moves it forward */
    ls_watermark_observe(&wm, T12 + 30 * MIN);
    ck_assert_int_eq(ls_watermark_end_batch(&wm), 1);
    ck_assert_int_eq(wm.global, T12 + 20 * MIN);
}
END_TEST

/* Before the epoch the watermark stays at 0, as Spark's does. */
START_TEST(watermark_zero_delay_negative)
{
    ls_watermark wm;
    ls_watermark_init(&wm, 0);
    ls_watermark_begin_batch(&wm);
    ls_watermark_observe(&wm, -5000);
    ck_assert_int_eq(ls_watermark_end_batch(&wm), 0);
    ck_assert_int_eq(wm.global, 0);
    ls_watermark_observe(&wm, 5000);
    ck_assert_int_eq(ls_watermark_end_batch(&wm), 1);
    ck_assert_int_eq(wm.global, 5000);
    /* delay near the limits never overflows */
    ls_watermark_init(&wm, INT64_MAX);
    ls_watermark_observe(&wm, INT64_MIN + 1);
    ck_assert_int_eq(ls_watermark_end_batch(&wm), 0);
}
END_TEST

Suite *window_suite(void)
{
    Suite *s = suite_create("window");
    TCase *tc = tcase_create("assign");
    tcase_add_test(tc, window_tumbling);
    tcase_add_test(tc, window_sliding);
    tcase_add_test(tc, window_negative_times);
    suite_add_tcase(s, tc);
    tc = tcase_create("watermark");
    tcase_add_test(tc, watermark_lifecycle);
    tcase_add_test(tc, watermark_zero_delay_negative);
    suite_add_tcase(s, tc);
    return s;
}
