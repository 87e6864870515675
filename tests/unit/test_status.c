/* test_status.c - seeing a job (issue 12) without a broker: partitions as
 * short text, `luastream status`'s report as a table and as JSON (built by
 * hand, hostile strings included), and what a member of a job adds to its
 * progress report and to /metrics (a source faked white-box as a member). */
#include <check.h>
#include <lauxlib.h>
#include <lua.h>
#include <stdlib.h>
#include <string.h>
#include <yajl_tree.h>

#include "ls_monitor.h"
#include "ls_partitions.h"
#include "ls_progress.h"
#include "ls_query.h"
#include "ls_sink.h"
#include "ls_source.h"
#include "ls_source_impl.h" /* white-box: a member's partitions set by hand */
#include "ls_status_report.h"
#include "ls_textwidth.h"
#include "suites.h"
#include "test_helpers.h"

/* ---- partitions as text ------------------------------------------------- */

static char *parts_text(size_t n, const char *const *topics, const int32_t *parts)
{
    ls_buf b;
    ls_buf_init(&b);
    ls_partitions_text(&b, n, topics, parts);
    char *s = strdup(b.data ? b.data : "");
    ls_buf_free(&b);
    return s;
}

START_TEST(partitions_as_ranges)
{
    const char *t1[] = { "calls", "calls", "calls", "calls", "calls" };
    int32_t p1[] = { 3, 0, 1, 7, 2 };
    char *s = parts_text(5, t1, p1);
    ck_assert_str_eq(s, "calls[0-3,7]");
    free(s);

    /* topics by name, duplicates once, a single partition, NULL topic */
    const char *t2[] = { "b", "a", "b", "a", "b", NULL };
    int32_t p2[] = { 5, 1, 5, 2, 9, 4 };
    s = parts_text(6, t2, p2);
    ck_assert_str_eq(s, "?[4], a[1-2], b[5,9]");
    free(s);

    /* nothing: nothing appended */
    s = parts_text(0, NULL, NULL);
    ck_assert_str_eq(s, "");
    free(s);

    /* the ends of the range of partition numbers */
    const char *t3[] = { "x", "x", "x" };
    int32_t p3[] = { INT32_MAX, INT32_MAX - 1, 0 };
    s = parts_text(3, t3, p3);
    ck_assert_str_eq(s, "x[0,2147483646-2147483647]");
    free(s);
}
END_TEST

/* ---- the status report ---------------------------------------------------- */

/* A job of two members, one partition no member owns, one end unknown. */
static ls_status_report *sample_report(void)
{
    ls_status_report *r = ls_status_report_new("calls-split", "broker:9092");
    ls_status_group *g = ls_status_add_group(r, "calls-split", 1);
    g->state = strdup("Stable");
    g->assignor = strdup("cooperative-sticky");
    g->coordinator_id = 2;
    g->coordinator_host = strdup("broker");
    g->coordinator_port = 9092;
    ls_status_member *m = ls_status_add_member(g, "rdkafka-aaaa", "rdkafka", "/10.0.0.1");
    ls_status_part *p = ls_status_add_part(m, "police.calls", 0);
    p->committed = 2500;
    p->end = 2510;
    p = ls_status_add_part(m, "police.calls", 1);
    p->committed = 100;
    p->end = 100;
    m = ls_status_add_member(g, "rdkafka-bbbb", "rdkafka", "/10.0.0.2");
    p = ls_status_add_part(m, "police.calls", 2);
    p->committed = -1; /* nothing committed yet */
    p->end = 42;
    p = ls_status_add_part(m, "police.calls", 3);
    p->committed = 7;
    p->end = -1;
    p->end_error = strdup("Broker: Leader not available");
    p = ls_status_add_unassigned(g, "police.calls", 4);
    p->committed = 10;
    p->end = 5; /* an end below the committed offset (truncated): lag 0, not negative */
    return r;
}

START_TEST(status_lag_and_totals)
{
    ls_status_report *r = sample_report();
    ls_status_group *g = &r->groups[0];
    ck_assert_int_eq(ls_status_lag(&g->members[0].parts[0]), 10);
    ck_assert_int_eq(ls_status_lag(&g->members[0].parts[1]), 0);
    ck_assert_int_eq(ls_status_lag(&g->members[1].parts[0]), -1);
    ck_assert_int_eq(ls_status_lag(&g->members[1].parts[1]), -1);
    ck_assert_int_eq(ls_status_lag(&g->unassigned[0]), 0);
    ls_status_totals t = ls_status_group_totals(g);
    ck_assert_uint_eq(t.members, 2);
    ck_assert_uint_eq(t.partitions, 5);
    ck_assert_int_eq(t.lag, 10);
    ck_assert_uint_eq(t.unknown_lag, 2);
    ck_assert_ptr_eq(ls_status_find_part(g, "police.calls", 4), &g->unassigned[0]);
    ck_assert_ptr_eq(ls_status_find_part(g, "police.calls", 2), &g->members[1].parts[0]);
    ck_assert_ptr_null(ls_status_find_part(g, "police.calls", 5));
    ck_assert_ptr_null(ls_status_find_part(g, "other", 0));
    ls_status_report_free(r);
    ls_status_report_free(NULL);
}
END_TEST

static char *text_of(const ls_status_report *r)
{
    ls_buf b;
    ls_buf_init(&b);
    ls_status_text(r, &b);
    char *s = strdup(b.data ? b.data : "");
    ls_buf_free(&b);
    return s;
}

/* The column where needle starts on the line holding it, or -1. */
static int column_of(const char *text, const char *line_has, const char *needle)
{
    const char *l = strstr(text, line_has);
    if (!l) return -1;
    while (l > text && l[-1] != '\n') l--;
    const char *at = strstr(l, needle);
    const char *nl = strchr(l, '\n');
    if (!at || (nl && at > nl)) return -1;
    return (int)(at - l);
}

START_TEST(status_text_table)
{
    ls_status_report *r = sample_report();
    char *s = text_of(r);
    ck_assert_msg(strncmp(s, "job calls-split: consumer group calls-split, Stable, 2 members, "
                             "5 partitions, lag 10 (2 unknown)\n", 88) == 0, "%s", s);
    ck_assert_msg(strstr(s, "  assignor cooperative-sticky, coordinator broker 2 (broker:9092)\n"), "%s", s);
    ck_assert_msg(strstr(s, "\n\n  MEMBER        CLIENT   HOST       TOPIC         PARTITION  "
                            "COMMITTED   END  LAG\n"), "%s", s);
    ck_assert_msg(strstr(s, "\n  rdkafka-aaaa  rdkafka  /10.0.0.1  police.calls          0       "
                            "2500  2510   10\n"), "%s", s);
    /* the member's columns on its first row only */
    ck_assert_msg(strstr(s, "\n                                    police.calls          1        "
                            "100   100    0\n"), "%s", s);
    /* unknown offsets and lags are "-" */
    ck_assert_msg(strstr(s, "\n  rdkafka-bbbb  rdkafka  /10.0.0.2  police.calls          2          "
                            "-    42    -\n"), "%s", s);
    ck_assert_msg(strstr(s, "police.calls          3          7     -    -\n"), "%s", s);
    ck_assert_msg(strstr(s, "\n  (no member)                       police.calls          4         "
                            "10     5    0\n"), "%s", s);
    ck_assert_msg(strstr(s, "  total") != NULL, "%s", s);
    /* numbers right-aligned under their heading's end */
    ck_assert_int_eq(column_of(s, "rdkafka-aaaa", "10\n") + 2, column_of(s, "MEMBER", "LAG\n") + 3);
    ck_assert_ptr_null(strstr(s, "warning"));
    free(s);

    /* a job's other groups, a group without anything, a warning */
    ls_status_group *g = ls_status_add_group(r, "calls-split-q-repartition", 0);
    g->state = strdup("Empty");
    r->warning = strdup("listing the consumer groups failed on 1 broker");
    s = text_of(r);
    ck_assert_msg(strstr(s, "\n\ngroup calls-split-q-repartition (name starts with calls-split-), "
                            "Empty, 0 members, 0 partitions, lag 0\n"), "%s", s);
    ck_assert_msg(strstr(s, "  (no member is running: the lag is what the job has left to read)\n"
                            "  no members and no committed offsets\n"), "%s", s);
    ck_assert_msg(strstr(s, "\nwarning: listing the consumer groups failed on 1 broker\n"), "%s", s);
    free(s);
    ls_status_report_free(r);
}
END_TEST

/* Member ids, client ids and hosts come from the clients themselves: no
 * control character or invalid UTF-8 reaches the terminal or the JSON,
 * and the columns still line up around wide characters. */
START_TEST(status_hostile_strings)
{
    ls_status_report *r = ls_status_report_new("j", "b");
    ls_status_group *g = ls_status_add_group(r, "j", 1);
    g->state = strdup("PreparingRebalance");
    ls_status_member *m = ls_status_add_member(g, "id\x1b[31m\n\"x\\", "\xff\xfe", "\xe6\x97\xa5\xe6\x9c\xac");
    ls_status_add_part(m, "t", 0)->end = 3;
    ls_status_add_member(g, NULL, NULL, NULL); /* a member with nothing, not even an id */
    char *s = text_of(r);
    ck_assert_ptr_null(strchr(s, '\x1b'));
    ck_assert_ptr_null(strstr(s, "\xff"));
    ck_assert_msg(strstr(s, "id\xEF\xBF\xBD[31m\xEF\xBF\xBD\"x\\") != NULL, "%s", s);
    ck_assert_msg(strstr(s, "(a rebalance is in progress") != NULL, "%s", s);
    ck_assert_msg(strstr(s, "(none)") != NULL, "%s", s);
    /* 日本 is 4 columns wide: TOPIC starts in the same column on both rows */
    char *lines[16];
    int n = th_lines(s, lines, 16);
    int head = -1, row = -1;
    for (int i = 0; i < n; i++) {
        if (strstr(lines[i], "MEMBER")) head = i;
        if (strstr(lines[i], "\xe6\x97\xa5")) row = i;
    }
    ck_assert(head >= 0 && row >= 0);
    size_t col_head = ls_text_width(lines[head], (size_t)(strstr(lines[head], "TOPIC") - lines[head]));
    const char *t = strstr(lines[row], "  t  ") + 2;
    ck_assert_uint_eq(ls_text_width(lines[row], (size_t)(t - lines[row])), col_head);
    free(s);

    ls_buf b;
    ls_buf_init(&b);
    ls_status_json(r, &b);
    char perr[256];
    yajl_val root = yajl_tree_parse(b.data, perr, sizeof perr);
    ck_assert_msg(root != NULL, "%s: %s", perr, b.data);
    const char *path[] = { "groups", NULL };
    yajl_val groups = yajl_tree_get(root, path, yajl_t_array);
    yajl_val g0 = YAJL_GET_ARRAY(groups)->values[0];
    const char *mp[] = { "members", NULL };
    yajl_val members = yajl_tree_get(g0, mp, yajl_t_array);
    ck_assert_uint_eq(YAJL_GET_ARRAY(members)->len, 2);
    const char *idp[] = { "member_id", NULL };
    yajl_val id = yajl_tree_get(YAJL_GET_ARRAY(members)->values[0], idp, yajl_t_string);
    ck_assert_str_eq(YAJL_GET_STRING(id), "id\xEF\xBF\xBD[31m\xEF\xBF\xBD\"x\\");
    yajl_val none = yajl_tree_get(YAJL_GET_ARRAY(members)->values[1], idp, yajl_t_any);
    ck_assert(none && YAJL_IS_NULL(none));
    yajl_tree_free(root);
    ls_buf_free(&b);
    ls_status_report_free(r);
}
END_TEST

static yajl_val at(yajl_val v, const char *a, const char *b)
{
    const char *path[] = { a, b, NULL };
    return yajl_tree_get(v, path, yajl_t_any);
}

static yajl_val elem(yajl_val arr, size_t i)
{
    ck_assert(arr && YAJL_IS_ARRAY(arr) && YAJL_GET_ARRAY(arr)->len > i);
    return YAJL_GET_ARRAY(arr)->values[i];
}

START_TEST(status_json_object)
{
    ls_status_report *r = sample_report();
    ls_buf b;
    ls_buf_init(&b);
    ls_status_json(r, &b);
    ck_assert(b.len > 0 && b.data[b.len - 1] == '\n');
    ck_assert_ptr_eq(strchr(b.data, '\n'), b.data + b.len - 1); /* one line */
    char perr[256];
    yajl_val root = yajl_tree_parse(b.data, perr, sizeof perr);
    ck_assert_msg(root != NULL, "%s: %s", perr, b.data);
    ck_assert_str_eq(YAJL_GET_STRING(at(root, "app", NULL)), "calls-split");
    ck_assert_str_eq(YAJL_GET_STRING(at(root, "bootstrap", NULL)), "broker:9092");
    ck_assert(YAJL_IS_NULL(at(root, "warning", NULL)));
    yajl_val g = elem(at(root, "groups", NULL), 0);
    ck_assert_str_eq(YAJL_GET_STRING(at(g, "group", NULL)), "calls-split");
    ck_assert(YAJL_IS_TRUE(at(g, "job_group", NULL)));
    ck_assert_str_eq(YAJL_GET_STRING(at(g, "state", NULL)), "Stable");
    ck_assert_str_eq(YAJL_GET_STRING(at(g, "assignor", NULL)), "cooperative-sticky");
    ck_assert_int_eq(YAJL_GET_INTEGER(at(g, "coordinator", "id")), 2);
    ck_assert_str_eq(YAJL_GET_STRING(at(g, "coordinator", "host")), "broker");
    ck_assert_int_eq(YAJL_GET_INTEGER(at(g, "coordinator", "port")), 9092);
    ck_assert_int_eq(YAJL_GET_INTEGER(at(g, "totals", "members")), 2);
    ck_assert_int_eq(YAJL_GET_INTEGER(at(g, "totals", "partitions")), 5);
    ck_assert_int_eq(YAJL_GET_INTEGER(at(g, "totals", "lag")), 10);
    ck_assert_int_eq(YAJL_GET_INTEGER(at(g, "totals", "unknown_lag")), 2);
    yajl_val m0 = elem(at(g, "members", NULL), 0);
    ck_assert_str_eq(YAJL_GET_STRING(at(m0, "member_id", NULL)), "rdkafka-aaaa");
    ck_assert_str_eq(YAJL_GET_STRING(at(m0, "client_id", NULL)), "rdkafka");
    ck_assert_str_eq(YAJL_GET_STRING(at(m0, "host", NULL)), "/10.0.0.1");
    ck_assert(YAJL_IS_NULL(at(m0, "group_instance_id", NULL)));
    ck_assert_int_eq(YAJL_GET_INTEGER(at(m0, "lag", NULL)), 10);
    yajl_val p0 = elem(at(m0, "partitions", NULL), 0);
    ck_assert_str_eq(YAJL_GET_STRING(at(p0, "topic", NULL)), "police.calls");
    ck_assert_int_eq(YAJL_GET_INTEGER(at(p0, "partition", NULL)), 0);
    ck_assert_int_eq(YAJL_GET_INTEGER(at(p0, "committed", NULL)), 2500);
    ck_assert_int_eq(YAJL_GET_INTEGER(at(p0, "end", NULL)), 2510);
    ck_assert_int_eq(YAJL_GET_INTEGER(at(p0, "lag", NULL)), 10);
    ck_assert_ptr_null(at(p0, "end_error", NULL));
    yajl_val m1 = elem(at(g, "members", NULL), 1);
    yajl_val p2 = elem(at(m1, "partitions", NULL), 0);
    ck_assert(YAJL_IS_NULL(at(p2, "committed", NULL)));
    ck_assert(YAJL_IS_NULL(at(p2, "lag", NULL)));
    yajl_val p3 = elem(at(m1, "partitions", NULL), 1);
    ck_assert(YAJL_IS_NULL(at(p3, "end", NULL)));
    ck_assert_str_eq(YAJL_GET_STRING(at(p3, "end_error", NULL)), "Broker: Leader not available");
    yajl_val u = elem(at(g, "unassigned", NULL), 0);
    ck_assert_int_eq(YAJL_GET_INTEGER(at(u, "partition", NULL)), 4);
    ck_assert_int_eq(YAJL_GET_INTEGER(at(u, "lag", NULL)), 0);
    yajl_tree_free(root);
    ls_buf_free(&b);

    /* a group without assignor or coordinator: nulls */
    ls_status_report *e = ls_status_report_new("x", "b");
    ls_status_add_group(e, "x", 1);
    ls_buf_init(&b);
    ls_status_json(e, &b);
    root = yajl_tree_parse(b.data, perr, sizeof perr);
    ck_assert_msg(root != NULL, "%s", perr);
    g = elem(at(root, "groups", NULL), 0);
    ck_assert(YAJL_IS_NULL(at(g, "state", NULL)));
    ck_assert(YAJL_IS_NULL(at(g, "assignor", NULL)));
    ck_assert(YAJL_IS_NULL(at(g, "coordinator", NULL)));
    ck_assert_uint_eq(YAJL_GET_ARRAY(at(g, "members", NULL))->len, 0);
    yajl_tree_free(root);
    ls_buf_free(&b);
    ls_status_report_free(e);
    ls_status_report_free(r);
}
END_TEST

/* ---- a member's progress report and metrics -------------------------------- */

/* A source faked as a member of job "job1" owning radio[0], radio[2],
 * radio[3], with radio[1] revoked in the batch (not owned any more). */
static ls_source *member_source(void)
{
    ls_source *src = ls_source_new("localhost:9092");
    ls_source_add_topic(src, "radio");
    ls_source_decl_of(src)->name = strdup("KafkaV2[Subscribe[radio]]");
    ls_source_join_group(src, "job1");
    src->nparts = 4;
    src->parts = calloc(4, sizeof *src->parts);
    int64_t next[] = { 10, 20, 30, 40 }, latest[] = { 10, 25, 33, 41 };
    for (int i = 0; i < 4; i++)
        src->parts[i] = (ls_source_part){ .topic = strdup("radio"), .partition = i, .next = next[i],
                                          .latest = latest[i], .bound = -1, .resume = -1,
                                          .fixed_end = -1 };
    src->parts[1].revoked = 1;
    src->rebalance_events = 3;
    src->rebalances = 5;
    return src;
}

START_TEST(member_in_progress_report)
{
    lua_State *L = luaL_newstate();
    char *dir = th_tmpdir();
    ls_err err = { "" };
    ls_source *src = member_source();
    ls_query *q = ls_query_new("q", L);
    ls_query_decl_of(q)->source = src;
    ls_query_decl_of(q)->mode = LS_MODE_APPEND; /* per record */
    ck_assert_msg(ls_query_ready(q, 1, &err) == 0, "%s", err.msg);
    ls_query_decl_of(q)->sink = ls_sink_jsonl_new(dir, "q", &err);
    ck_assert_ptr_nonnull(ls_query_declared(q)->sink);
    ls_query_begin_batch(q, 0);
    ck_assert_int_eq(ls_query_end_batch(q, &err), 0);
    ls_batch_timing tm = { 0 };
    ls_buf out;
    ls_buf_init(&out);
    ls_progress_json(q, &tm, &out);
    char perr[256];
    yajl_val root = yajl_tree_parse(out.data, perr, sizeof perr);
    ck_assert_msg(root != NULL, "%s: %s", perr, out.data);
    ck_assert_str_eq(YAJL_GET_STRING(at(root, "member", "app")), "job1");
    ck_assert(YAJL_IS_NULL(at(root, "member", "memberId"))); /* no client: not joined */
    ck_assert_int_eq(YAJL_GET_INTEGER(at(root, "member", "rebalances")), 3);
    ck_assert_int_eq(YAJL_GET_INTEGER(at(root, "member", "partitionsMoved")), 5);
    ck_assert_int_eq(YAJL_GET_INTEGER(at(root, "member", "lag")), 4);
    yajl_val parts = at(root, "member", "partitions");
    ck_assert_uint_eq(YAJL_GET_ARRAY(parts)->len, 3); /* radio[1] was revoked */
    yajl_val p = elem(parts, 1);
    ck_assert_str_eq(YAJL_GET_STRING(at(p, "topic", NULL)), "radio");
    ck_assert_int_eq(YAJL_GET_INTEGER(at(p, "partition", NULL)), 2);
    ck_assert_int_eq(YAJL_GET_INTEGER(at(p, "offset", NULL)), 30);
    ck_assert_int_eq(YAJL_GET_INTEGER(at(p, "latestOffset", NULL)), 33);
    ck_assert_int_eq(YAJL_GET_INTEGER(at(p, "lag", NULL)), 3);
    yajl_tree_free(root);

    FILE *f = tmpfile();
    ls_progress_human(q, &tm, f);
    char *line = th_read_stream(f, NULL);
    fclose(f);
    ck_assert_msg(strstr(line, "; member (joining) owns radio[0,2-3] (lag 4)\n") != NULL, "%s", line);
    free(line);

    /* not a member: neither */
    ls_source_join_group(src, NULL);
    ls_buf_reset(&out);
    ls_progress_json(q, &tm, &out);
    ck_assert_ptr_null(strstr(out.data, "\"member\""));
    f = tmpfile();
    ls_progress_human(q, &tm, f);
    line = th_read_stream(f, NULL);
    fclose(f);
    ck_assert_ptr_null(strstr(line, "member"));
    free(line);

    ls_buf_free(&out);
    ls_query_free(q);
    ls_source_free(src);
    lua_close(L);
    th_rmrf(dir);
    free(dir);
}
END_TEST

START_TEST(member_in_metrics)
{
    const char *names[] = { "q" };
    ls_monitor *m = ls_monitor_new(names, 1);
    ls_buf b;
    ls_buf_init(&b);
    ls_monitor_metrics(m, &b);
    ck_assert_ptr_null(strstr(b.data, "luastream_rebalances_total")); /* not a member */

    ls_source *src = member_source();
    ls_monitor_record_member(m, src);
    ls_buf_reset(&b);
    ls_monitor_metrics(m, &b);
    ck_assert_msg(strstr(b.data, "# TYPE luastream_rebalances_total counter\n"
                                 "luastream_rebalances_total{app=\"job1\"} 3\n"), "%s", b.data);
    ck_assert_msg(strstr(b.data, "luastream_owned_partitions{app=\"job1\"} 3\n"), "%s", b.data);
    ck_assert_msg(strstr(b.data, "# TYPE luastream_consumer_lag gauge\n"
                                 "luastream_consumer_lag{app=\"job1\",topic=\"radio\",partition=\"0\"} 0\n"
                                 "luastream_consumer_lag{app=\"job1\",topic=\"radio\",partition=\"2\"} 3\n"
                                 "luastream_consumer_lag{app=\"job1\",topic=\"radio\",partition=\"3\"} 1\n"
                                 "# HELP luastream_up"), "%s", b.data);

    /* a partition taken away disappears from the gauges at the next plan */
    src->parts[3].revoked = 1;
    src->rebalance_events = 4;
    ls_monitor_record_member(m, src);
    ls_buf_reset(&b);
    ls_monitor_metrics(m, &b);
    ck_assert_ptr_null(strstr(b.data, "partition=\"3\""));
    ck_assert_ptr_nonnull(strstr(b.data, "luastream_rebalances_total{app=\"job1\"} 4\n"));
    ck_assert_ptr_nonnull(strstr(b.data, "luastream_owned_partitions{app=\"job1\"} 2\n"));

    /* a source outside any group changes nothing */
    ls_source *plain = ls_source_new("b");
    ls_monitor_record_member(m, plain);
    ls_buf_reset(&b);
    ls_monitor_metrics(m, &b);
    ck_assert_ptr_nonnull(strstr(b.data, "luastream_owned_partitions{app=\"job1\"} 2\n"));
    ls_source_free(plain);

    ls_buf_free(&b);
    ls_source_free(src);
    ls_monitor_free(m);
}
END_TEST

Suite *status_suite(void)
{
    Suite *s = suite_create("status");
    TCase *tc = tcase_create("report");
    tcase_add_test(tc, partitions_as_ranges);
    tcase_add_test(tc, status_lag_and_totals);
    tcase_add_test(tc, status_text_table);
    tcase_add_test(tc, status_hostile_strings);
    tcase_add_test(tc, status_json_object);
    suite_add_tcase(s, tc);
    tc = tcase_create("member");
    tcase_add_test(tc, member_in_progress_report);
    tcase_add_test(tc, member_in_metrics);
    suite_add_tcase(s, tc);
    return s;
}
