/* ls_progress.c - StreamingQueryProgress-shaped reports (see ls_progress.h). */
#include "ls_progress.h"

#include <string.h>
#include <yajl_gen.h>

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
    char t[32];
    key(g, k);
    ls_time_format(ms, t);
    str(g, t);
}

static double rate(int64_t rows, double ms) { return ms > 0 ? (double)rows * 1000.0 / ms : 0.0; }

/* {"topic": {"0": offset, ...}, ...} for one of the offset fields. */
static void offsets(yajl_gen g, const ls_source *s, int which)
{
    yajl_gen_map_open(g);
    for (size_t t = 0; t < s->ntopics; t++) {
        key(g, s->topics[t]);
        yajl_gen_map_open(g);
        for (size_t i = 0; i < s->nparts; i++) {
            const ls_source_part *p = &s->parts[i];
            if (strcmp(p->topic, s->topics[t]) != 0) continue;
            char pk[16];
            snprintf(pk, sizeof pk, "%d", p->partition);
            key(g, pk);
            int64_t v = which == 0 ? p->batch_start : which == 1 ? p->next
                      : (p->end >= 0 ? p->end : p->next);
            yajl_gen_integer(g, v);
        }
        yajl_gen_map_close(g);
    }
    yajl_gen_map_close(g);
}

void ls_progress_json(const ls_query *q, const ls_batch_timing *t, ls_buf *out)
{
    const ls_query_stats *st = &q->stats;
    yajl_gen g = yajl_gen_alloc(NULL);
    yajl_gen_map_open(g);
    key(g, "id"); str(g, q->id);
    key(g, "runId"); str(g, q->run_id);
    key(g, "name"); str(g, q->name);
    time_field(g, "timestamp", t->trigger_wall_ms);
    integer(g, "batchId", q->batch_id);
    integer(g, "numInputRows", st->input_rows);
    num(g, "inputRowsPerSecond", rate(st->input_rows, t->since_prev_ms));
    num(g, "processedRowsPerSecond", rate(st->input_rows, t->trigger_ms));
    integer(g, "numInvalidRows", st->invalid_rows);
    integer(g, "numFilteredRows", st->filtered_rows);

    key(g, "durationMs");
    yajl_gen_map_open(g);
    integer(g, "addBatch", (int64_t)(st->process_ms + st->emit_ms + 0.5));
    integer(g, "getBatch", (int64_t)(t->get_batch_ms + 0.5));
    integer(g, "decode", (int64_t)(t->decode_ms + 0.5));
    integer(g, "process", (int64_t)(st->process_ms + 0.5));
    integer(g, "sink", (int64_t)(st->emit_ms + 0.5));
    integer(g, "triggerExecution", (int64_t)(t->trigger_ms + 0.5));
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
    if (q->has_watermark) {
        if (q->wm.current != LS_NO_TIME) time_field(g, "watermark", q->wm.current);
        else time_field(g, "watermark", 0);
    }
    yajl_gen_map_close(g);

    key(g, "stateOperators");
    yajl_gen_array_open(g);
    yajl_gen_map_open(g);
    key(g, "operatorName"); str(g, "stateStoreSave");
    integer(g, "numRowsTotal", (int64_t)q->state->groups);
    integer(g, "numRowsUpdated", st->rows_updated);
    integer(g, "numRowsRemoved", st->evicted_rows);
    integer(g, "numRowsDroppedByWatermark", st->late_rows);
    integer(g, "memoryUsedBytes", (int64_t)ls_state_memory(q->state));
    integer(g, "numShufflePartitions", q->state->nparts);
    key(g, "outputMode"); str(g, ls_mode_name(q->mode));
    yajl_gen_map_close(g);
    yajl_gen_array_close(g);

    key(g, "sources");
    yajl_gen_array_open(g);
    yajl_gen_map_open(g);
    key(g, "description"); str(g, q->source->name);
    key(g, "startOffset"); offsets(g, q->source, 0);
    key(g, "endOffset"); offsets(g, q->source, 1);
    key(g, "latestOffset"); offsets(g, q->source, 2);
    integer(g, "numInputRows", st->input_rows);
    num(g, "inputRowsPerSecond", rate(st->input_rows, t->since_prev_ms));
    num(g, "processedRowsPerSecond", rate(st->input_rows, t->trigger_ms));
    yajl_gen_map_close(g);
    yajl_gen_array_close(g);

    key(g, "sink");
    yajl_gen_map_open(g);
    key(g, "description"); str(g, q->sink->description);
    integer(g, "numOutputRows", st->output_rows);
    yajl_gen_map_close(g);
    yajl_gen_map_close(g);

    ls_json_take(g, out);
    yajl_gen_free(g);
}

void ls_progress_human(const ls_query *q, const ls_batch_timing *t, FILE *f)
{
    const ls_query_stats *st = &q->stats;
    char wm[32] = "none", lat[64] = "";
    if (st->has_latency)
        snprintf(lat, sizeof lat, ", latency p50 %lld ms, p99 %lld ms",
                 (long long)st->latency_p50, (long long)st->latency_p99);
    if (q->has_watermark && q->wm.current != LS_NO_TIME) ls_time_format(q->wm.current, wm);
    fprintf(f,
            "[%s] batch %lld: %lld rows in %.0f ms (%.0f rows/s in, %.0f rows/s processed), "
            "%lld invalid, %lld late; state %zu rows (%lld updated), %lld output rows, "
            "watermark %s%s\n",
            q->name, (long long)q->batch_id, (long long)st->input_rows, t->trigger_ms,
            rate(st->input_rows, t->since_prev_ms), rate(st->input_rows, t->trigger_ms),
            (long long)st->invalid_rows, (long long)st->late_rows, q->state->groups,
            (long long)st->rows_updated, (long long)st->output_rows, wm, lat);
}
