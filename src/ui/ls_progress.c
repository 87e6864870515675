/* ls_progress.c - StreamingQueryProgress-shaped reports (see ls_progress.h). */
#include "ls_progress.h"

#include <stdlib.h>
#include <string.h>
#include <yajl_gen.h>

#include "ls_partitions.h"
#include "ls_sink.h"
#include "ls_source.h"
#include "ls_textwidth.h"
#include "ls_time.h"

static void key(yajl_gen g, const char *k) { yajl_gen_string(g, (const unsigned char *)k, strlen(k)); }
static void str(yajl_gen g, const char *s) { yajl_gen_string(g, (const unsigned char *)s, strlen(s)); }
/* Rates with one decimal: yajl_gen_double would print 17 significant digits. */
static void num(yajl_gen g, const char *k, double v)
{
    char t[64];
    int n = snprintf(t, sizeof t, "%.1f", v);
    key(g, k);
    yajl_gen_number(g, t, (size_t)n);
}
static void integer(yajl_gen g, const char *k, int64_t v) { key(g, k); yajl_gen_integer(g, v); }

static void time_field(yajl_gen g, const char *k, int64_t ms)
{
    char t[40];
    key(g, k);
    ls_time_format_ms(ms, t);
    str(g, t);
}

static int64_t ms_of(double d) { return (int64_t)(d + 0.5); }

static double rate(int64_t rows, double ms) { return ms > 0 ? (double)rows * 1000.0 / ms : 0.0; }

/* A file source's offsets: {"path": records read, ...} for the files the
 * batch read. */
static void file_offsets(yajl_gen g, const ls_source *s, int which)
{
    yajl_gen_map_open(g);
    for (size_t i = 0; i < ls_source_nparts(s); i++) {
        const ls_source_part *p = ls_source_part_at(s, i);
        if (p->batch_end <= p->batch_start) continue;
        key(g, p->topic);
        yajl_gen_integer(g, which == 0 ? p->batch_start : which == 1 ? p->next
                                      : (p->latest > p->next ? p->latest : p->next));
    }
    yajl_gen_map_close(g);
}

/* {"topic": {"0": offset, ...}, ...} for one of the offset fields. */
static void offsets(yajl_gen g, const ls_source *s, int which)
{
    if (ls_source_declared(s)->is_files) {
        file_offsets(g, s, which);
        return;
    }
    yajl_gen_map_open(g);
    for (size_t t = 0; t < ls_source_declared(s)->ntopics; t++) {
        key(g, ls_source_declared(s)->topics[t]);
        yajl_gen_map_open(g);
        for (size_t i = 0; i < ls_source_nparts(s); i++) {
            const ls_source_part *p = ls_source_part_at(s, i);
            if (strcmp(p->topic, ls_source_declared(s)->topics[t]) != 0) continue;
            char pk[16];
            snprintf(pk, sizeof pk, "%d", p->partition);
            key(g, pk);
            int64_t v = which == 0 ? p->batch_start : which == 1 ? p->next
                      : (p->latest > p->next ? p->latest : p->next);
            yajl_gen_integer(g, v);
        }
        yajl_gen_map_close(g);
    }
    yajl_gen_map_close(g);
}

/* Spark's Kafka source metrics: how far each partition's end is behind the
 * latest offset known at planning; the values are strings, as Spark's. */
static void behind_latest(yajl_gen g, const ls_source *s)
{
    if (ls_source_declared(s)->is_files) return; /* Kafka's metrics only */
    int64_t lo = INT64_MAX, hi = 0;
    double sum = 0;
    for (size_t i = 0; i < ls_source_nparts(s); i++) {
        int64_t d = ls_source_part_at(s, i)->latest - ls_source_part_at(s, i)->next;
        if (d < 0) d = 0;
        if (d < lo) lo = d;
        if (d > hi) hi = d;
        sum += (double)d;
    }
    if (!ls_source_nparts(s)) return;
    char t[64];
    key(g, "metrics");
    yajl_gen_map_open(g);
    snprintf(t, sizeof t, "%.1f", sum / (double)ls_source_nparts(s));
    key(g, "avgOffsetsBehindLatest"); str(g, t);
    snprintf(t, sizeof t, "%lld", (long long)hi);
    key(g, "maxOffsetsBehindLatest"); str(g, t);
    snprintf(t, sizeof t, "%lld", (long long)lo);
    key(g, "minOffsetsBehindLatest"); str(g, t);
    yajl_gen_map_close(g);
}

/* A member of a job (--app): who it is and what it owns, after the batch.
 * A partition's lag is how far its position is behind the latest offset
 * known when the batch was planned. */
static void member(yajl_gen g, const ls_source *s, const ls_batch_timing *t)
{
    const char *app = ls_source_group(s);
    if (!app) return;
    char *id = ls_source_member_id(s);
    key(g, "member");
    yajl_gen_map_open(g);
    key(g, "app"); str(g, app);
    key(g, "memberId");
    if (id) {
        /* the coordinator's text, from the client's client.id: any bytes */
        ls_buf b;
        ls_buf_init(&b);
        ls_text_printable(&b, id, strlen(id), 0);
        yajl_gen_string(g, (const unsigned char *)(b.data ? b.data : ""), b.len);
        ls_buf_free(&b);
    } else {
        yajl_gen_null(g); /* not joined yet */
    }
    integer(g, "rebalances", ls_source_rebalance_count(s));
    integer(g, "partitionsMoved", ls_source_rebalances(s));
    key(g, "partitions");
    yajl_gen_array_open(g);
    int64_t total = 0;
    for (size_t i = 0; i < ls_source_nparts(s); i++) {
        const ls_source_part *p = ls_source_part_at(s, i);
        if (p->revoked) continue;
        int64_t lag = p->latest > p->next ? p->latest - p->next : 0;
        total += lag;
        yajl_gen_map_open(g);
        key(g, "topic"); str(g, p->topic);
        integer(g, "partition", p->partition);
        integer(g, "offset", p->next);
        integer(g, "latestOffset", p->latest > p->next ? p->latest : p->next);
        integer(g, "lag", lag);
        yajl_gen_map_close(g);
    }
    yajl_gen_array_close(g);
    integer(g, "lag", total);
    if (t->member_state) {
        integer(g, "statePartitions", t->state_owned);
        key(g, "stateRestore"); /* before this batch read: the partitions that came to it */
        yajl_gen_map_open(g);
        integer(g, "partitions", t->restored_partitions);
        integer(g, "changelogRecords", t->restored_records);
        integer(g, "durationMs", ms_of(t->restore_ms));
        yajl_gen_map_close(g);
    }
    yajl_gen_map_close(g);
    free(id);
}

/* ", member ID owns t[0-3] (lag N)" for the human line, and the state
 * partitions the batch rebuilt. */
static void member_text(const ls_source *s, const ls_batch_timing *t, ls_buf *out)
{
    if (!ls_source_group(s)) return;
    size_t n = ls_source_nparts(s), k = 0;
    const char **topics = ls_xcalloc(n + 1, sizeof *topics);
    int32_t *parts = ls_xcalloc(n + 1, sizeof *parts);
    int64_t lag = 0;
    for (size_t i = 0; i < n; i++) {
        const ls_source_part *p = ls_source_part_at(s, i);
        if (p->revoked) continue;
        topics[k] = p->topic;
        parts[k++] = p->partition;
        if (p->latest > p->next) lag += p->latest - p->next;
    }
    char *id = ls_source_member_id(s);
    ls_buf_puts(out, "; member ");
    if (id) ls_text_printable(out, id, strlen(id), 0);
    else ls_buf_puts(out, "(joining)");
    if (k) {
        ls_buf_puts(out, " owns ");
        ls_partitions_text(out, k, topics, parts);
    } else {
        ls_buf_puts(out, " owns no partition");
    }
    ls_buf_printf(out, " (lag %lld)", (long long)lag);
    if (t->restored_partitions)
        ls_buf_printf(out, "; restored %lld state partition%s (%lld changelog records, %.0f ms)",
                      (long long)t->restored_partitions, t->restored_partitions == 1 ? "" : "s",
                      (long long)t->restored_records, t->restore_ms);
    free(id);
    free(topics);
    free(parts);
}

void ls_progress_json(const ls_query *q, const ls_batch_timing *t, ls_buf *out)
{
    const ls_query_stats *st = ls_query_batch_stats(q);
    const ls_query_decl *d = ls_query_declared(q);
    const ls_state *state = ls_query_state_c(q);
    const ls_buf *warnings = ls_query_warnings(q);
    yajl_gen g = yajl_gen_alloc(NULL);
    yajl_gen_map_open(g);
    key(g, "id"); str(g, ls_query_id(q));
    key(g, "runId"); str(g, ls_query_run_id(q));
    key(g, "name"); str(g, d->name);
    time_field(g, "timestamp", t->trigger_wall_ms);
    integer(g, "batchId", ls_query_batch_id(q));
    integer(g, "batchDuration", ms_of(t->trigger_ms));
    integer(g, "numInputRows", st->input_rows);
    num(g, "inputRowsPerSecond", rate(st->input_rows, ls_query_since_prev_ms(q)));
    num(g, "processedRowsPerSecond", rate(st->input_rows, t->trigger_ms));
    integer(g, "numInvalidRows", st->invalid_rows);
    integer(g, "numFilteredRows", st->filtered_rows);
    integer(g, "numLateInputRows", st->late_input_rows);
    integer(g, "numUnusableValues", st->unusable_values);

    key(g, "durationMs");
    yajl_gen_map_open(g);
    integer(g, "addBatch", ms_of(st->process_ms + st->emit_ms));
    if (t->checkpointed) integer(g, "commitOffsets", ms_of(t->commit_ms));
    integer(g, "getBatch", ms_of(t->get_batch_ms));
    integer(g, "latestOffset", ms_of(t->latest_offset_ms));
    integer(g, "triggerExecution", ms_of(t->trigger_ms));
    if (t->checkpointed) integer(g, "walCommit", ms_of(t->wal_ms));
    if (t->member_state) integer(g, "restoreState", ms_of(t->restore_ms));
    integer(g, "decode", ms_of(t->decode_ms));
    integer(g, "process", ms_of(st->process_ms));
    integer(g, "sink", ms_of(st->emit_ms));
    yajl_gen_map_close(g);

    if (st->has_latency) {
        key(g, "latencyMs");
        yajl_gen_map_open(g);
        integer(g, "p50", st->latency_p50);
        integer(g, "p99", st->latency_p99);
        integer(g, "max", st->latency_max);
        yajl_gen_map_close(g);
    }

    key(g, "eventTime");
    yajl_gen_map_open(g);
    if (st->et_count > 0) {
        time_field(g, "avg", (int64_t)(st->et_sum / (double)st->et_count));
        time_field(g, "max", st->et_max);
        time_field(g, "min", st->et_min);
    }
    if (d->has_watermark) time_field(g, "watermark", ls_query_watermark(q)->batch); /* in effect during the batch */
    yajl_gen_map_close(g);

    key(g, "stateOperators");
    yajl_gen_array_open(g);
    yajl_gen_map_open(g);
    key(g, "operatorName"); str(g, "stateStoreSave");
    integer(g, "numRowsTotal", (int64_t)ls_state_groups(state));
    integer(g, "numRowsUpdated", st->rows_updated);
    integer(g, "allUpdatesTimeMs", ms_of(st->process_ms));
    integer(g, "numRowsRemoved", st->evicted_rows);
    integer(g, "allRemovalsTimeMs", ms_of(st->evict_ms));
    integer(g, "commitTimeMs", ms_of(t->commit_ms));
    integer(g, "memoryUsedBytes", (int64_t)ls_state_memory(state));
    integer(g, "numRowsDroppedByWatermark", st->late_rows);
    integer(g, "numShufflePartitions", ls_state_nparts(state));
    integer(g, "numStateStoreInstances", ls_state_nparts(state));
    key(g, "outputMode"); str(g, ls_mode_name(d->mode));
    yajl_gen_map_close(g);
    yajl_gen_array_close(g);

    key(g, "sources");
    yajl_gen_array_open(g);
    yajl_gen_map_open(g);
    key(g, "description"); str(g, ls_source_declared(d->source)->name);
    key(g, "startOffset");
    if (ls_query_batch_id(q) == 0) yajl_gen_null(g); /* as Spark's first batch */
    else offsets(g, d->source, 0);
    key(g, "endOffset"); offsets(g, d->source, 1);
    key(g, "latestOffset"); offsets(g, d->source, 2);
    integer(g, "numInputRows", st->input_rows);
    num(g, "inputRowsPerSecond", rate(st->input_rows, ls_query_since_prev_ms(q)));
    num(g, "processedRowsPerSecond", rate(st->input_rows, t->trigger_ms));
    behind_latest(g, d->source);
    yajl_gen_map_close(g);
    yajl_gen_array_close(g);

    member(g, d->source, t);

    if (warnings->len) {
        key(g, "warnings");
        yajl_gen_array_open(g);
        for (size_t at = 0; at < warnings->len; at += strlen(warnings->data + at) + 1)
            str(g, warnings->data + at);
        yajl_gen_array_close(g);
    }

    key(g, "sink");
    yajl_gen_map_open(g);
    key(g, "description"); str(g, d->sink->description);
    integer(g, "numOutputRows", st->output_rows);
    yajl_gen_map_close(g);
    yajl_gen_map_close(g);

    ls_json_take(g, out);
    yajl_gen_free(g);
}

void ls_progress_human(const ls_query *q, const ls_batch_timing *t, FILE *f)
{
    const ls_query_stats *st = ls_query_batch_stats(q);
    const ls_query_decl *d = ls_query_declared(q);
    const ls_state *state = ls_query_state_c(q);
    char wm[32] = "none", lat[64] = "";
    if (st->has_latency)
        snprintf(lat, sizeof lat, ", latency p50 %lld ms, p99 %lld ms",
                 (long long)st->latency_p50, (long long)st->latency_p99);
    if (d->has_watermark) ls_time_format(ls_query_watermark(q)->batch, wm);
    ls_buf who;
    ls_buf_init(&who);
    member_text(d->source, t, &who);
    fprintf(f,
            "[%s] batch %lld: %lld rows in %.0f ms (%.0f rows/s in, %.0f rows/s processed), "
            "%lld invalid, %lld late; state %zu rows (%lld updated), %lld output rows, "
            "watermark %s%s%s\n",
            d->name, (long long)ls_query_batch_id(q), (long long)st->input_rows, t->trigger_ms,
            rate(st->input_rows, ls_query_since_prev_ms(q)), rate(st->input_rows, t->trigger_ms),
            (long long)st->invalid_rows, (long long)st->late_rows, ls_state_groups(state),
            (long long)st->rows_updated, (long long)st->output_rows, wm, lat,
            who.data ? who.data : "");
    ls_buf_free(&who);
}
