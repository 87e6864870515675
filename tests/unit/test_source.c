/* test_source.c - batch planning of the Kafka source that needs no broker:
 * Spark's rate limit across partitions (ls_source_rate_limit). */
#include <check.h>

#include "ls_source.h"
#include "suites.h"

static void limit_is(int64_t limit, size_t n, const int64_t *start, const int64_t *latest,
                     const int64_t *want)
{
    int64_t end[8];
    ls_source_rate_limit(limit, n, start, latest, end);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(end[i] == want[i], "partition %zu: end %lld, want %lld", i,
                      (long long)end[i], (long long)want[i]);
}

START_TEST(rate_limit_spark_shares)
{
    /* the repro: two partitions of 4, a cap of 2: one from each */
    limit_is(2, 2, (int64_t[]){ 0, 0 }, (int64_t[]){ 4, 4 }, (int64_t[]){ 1, 1 });
    /* in proportion to what each has: 10 and 3 with a cap of 4 -> 3.07 and 0.92 */
    limit_is(4, 2, (int64_t[]){ 0, 0 }, (int64_t[]){ 10, 3 }, (int64_t[]){ 3, 1 });
    /* a share below one is rounded up, so no partition starves */
    limit_is(3, 3, (int64_t[]){ 0, 0, 0 }, (int64_t[]){ 100, 1, 1 }, (int64_t[]){ 2, 1, 1 });
    /* never past the latest offset; partitions with nothing stay put */
    limit_is(1000, 2, (int64_t[]){ 5, 9 }, (int64_t[]){ 10, 9 }, (int64_t[]){ 10, 9 });
    /* the start is where the last batch ended */
    limit_is(4, 2, (int64_t[]){ 2, 7 }, (int64_t[]){ 6, 11 }, (int64_t[]){ 4, 9 });
    /* nothing anywhere */
    limit_is(4, 2, (int64_t[]){ 3, 3 }, (int64_t[]){ 3, 3 }, (int64_t[]){ 3, 3 });
    /* a latest offset behind the position (a topic recreated) never moves it back */
    limit_is(4, 1, (int64_t[]){ 10 }, (int64_t[]){ 2 }, (int64_t[]){ 10 });
    /* huge offsets do not overflow */
    limit_is(INT64_MAX, 1, (int64_t[]){ INT64_MAX - 5 }, (int64_t[]){ INT64_MAX }, (int64_t[]){ INT64_MAX });
}
END_TEST

Suite *source_suite(void)
{
    Suite *s = suite_create("source");
    TCase *tc = tcase_create("plan");
    tcase_add_test(tc, rate_limit_spark_shares);
    suite_add_tcase(s, tc);
    return s;
}
