/* ls_monitor.c - progress history and Prometheus totals (see ls_monitor.h). */
#include "ls_monitor.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "ls_source.h"

const double ls_monitor_bucket_bounds[LS_MONITOR_BUCKETS] = {
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
};

ls_monitor *ls_monitor_new(const char *const *names, size_t n)
{
    ls_monitor *m = ls_xcalloc(1, sizeof *m);
    pthread_mutex_init(&m->mu, NULL);
    m->nqueries = n;
    m->queries = ls_xcalloc(n + 1, sizeof *m->queries);
    for (size_t i = 0; i < n; i++) {
        m->queries[i].name = ls_xstrdup(names[i]);
        m->queries[i].watermark_ms = INT64_MIN;
    }
    m->started_ms = ls_now_ms();
    return m;
}

void ls_monitor_free(ls_monitor *m)
{
    if (!m) return;
    for (size_t i = 0; i < m->nqueries; i++) {
        for (size_t k = 0; k < LS_MONITOR_HISTORY; k++) free(m->queries[i].history[k]);
        free(m->queries[i].name);
    }
    free(m->queries);
    for (size_t i = 0; i < m->nowned; i++) free(m->owned[i].topic);
    free(m->owned);
    free(m->app);
    pthread_mutex_destroy(&m->mu);
    free(m);
}

void ls_monitor_set_running(ls_monitor *m, int running)
{
    pthread_mutex_lock(&m->mu);
    m->running = running;
    pthread_mutex_unlock(&m->mu);
}

void ls_monitor_record(ls_monitor *m, size_t i, const char *json, const ls_batch_figures *f)
{
    char *copy = ls_xstrdup(json);
    pthread_mutex_lock(&m->mu);
    ls_query_monitor *q = &m->queries[i];
    size_t slot = (q->head + q->count) % LS_MONITOR_HISTORY;
    if (q->count == LS_MONITOR_HISTORY) {
        free(q->history[q->head]);
        slot = q->head;
        q->head = (q->head + 1) % LS_MONITOR_HISTORY;
    } else {
        q->count++;
    }
    q->history[slot] = copy;
    q->batches++;
    q->input_rows += f->input_rows;
    q->invalid_rows += f->invalid_rows;
    q->output_rows += f->output_rows;
    q->late_rows += f->late_rows;
    q->state_rows = f->state_rows;
    q->state_bytes = f->state_bytes;
    q->watermark_ms = f->watermark_ms;
    q->duration_sum_s += f->duration_s;
    int b = 0;
    while (b < LS_MONITOR_BUCKETS && f->duration_s > ls_monitor_bucket_bounds[b]) b++;
    q->duration_buckets[b]++;
    pthread_mutex_unlock(&m->mu);
}

void ls_monitor_record_member(ls_monitor *m, const ls_source *s)
{
    const char *app = ls_source_group(s);
    if (!app) return;
    /* copied outside the lock: the source is the engine thread's */
    size_t n = 0;
    ls_owned_partition *owned = ls_xcalloc(ls_source_nparts(s) + 1, sizeof *owned);
    for (size_t i = 0; i < ls_source_nparts(s); i++) {
        const ls_source_part *p = ls_source_part_at(s, i);
        if (p->revoked) continue;
        owned[n].topic = ls_xstrdup(p->topic);
        owned[n].partition = p->partition;
        owned[n++].lag = p->latest > p->next ? p->latest - p->next : 0;
    }
    char *app_copy = ls_xstrdup(app);
    pthread_mutex_lock(&m->mu);
    ls_owned_partition *old = m->owned;
    size_t nold = m->nowned;
    char *old_app = m->app;
    m->owned = owned;
    m->nowned = n;
    m->app = app_copy;
    m->rebalances = ls_source_rebalance_count(s);
    pthread_mutex_unlock(&m->mu);
    for (size_t i = 0; i < nold; i++) free(old[i].topic);
    free(old);
    free(old_app);
}

void ls_monitor_record_state(ls_monitor *m, const ls_state_figures *f)
{
    pthread_mutex_lock(&m->mu);
    m->has_state = 1;
    m->state = *f;
    pthread_mutex_unlock(&m->mu);
}

static const char *latest(const ls_query_monitor *q)
{
    return q->count ? q->history[(q->head + q->count - 1) % LS_MONITOR_HISTORY] : NULL;
}

/* Names are validated by the script API (letters, digits, _ . -): safe in JSON. */
void ls_monitor_queries_json(ls_monitor *m, ls_buf *out)
{
    pthread_mutex_lock(&m->mu);
    ls_buf_puts(out, "[");
    for (size_t i = 0; i < m->nqueries; i++) {
        const ls_query_monitor *q = &m->queries[i];
        const char *last = latest(q);
        ls_buf_printf(out, "%s{\"name\":\"%s\",\"state\":\"%s\",\"batches\":%lld,"
                      "\"inputRows\":%lld,\"invalidRows\":%lld,\"outputRows\":%lld,"
                      "\"lastProgress\":%s}",
                      i ? "," : "", q->name, m->running ? "active" : "stopped",
                      (long long)q->batches, (long long)q->input_rows,
                      (long long)q->invalid_rows, (long long)q->output_rows, last ? last : "null");
    }
    ls_buf_puts(out, "]");
    pthread_mutex_unlock(&m->mu);
}

int ls_monitor_progress_json(ls_monitor *m, const char *name, size_t last, ls_buf *out)
{
    int rc = -1;
    pthread_mutex_lock(&m->mu);
    for (size_t i = 0; i < m->nqueries; i++) {
        const ls_query_monitor *q = &m->queries[i];
        if (strcmp(q->name, name) != 0) continue;
        size_t n = last < q->count ? last : q->count;
        ls_buf_puts(out, "[");
        for (size_t k = q->count - n; k < q->count; k++)
            ls_buf_printf(out, "%s%s", k > q->count - n ? "," : "",
                          q->history[(q->head + k) % LS_MONITOR_HISTORY]);
        ls_buf_puts(out, "]");
        rc = 0;
        break;
    }
    pthread_mutex_unlock(&m->mu);
    return rc;
}

/* A Prometheus label value: backslash, quote and newline escaped. */
static void label(ls_buf *out, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\' || *v == '"') ls_buf_putc(out, '\\');
        if (*v == '\n') ls_buf_puts(out, "\\n");
        else ls_buf_putc(out, *v);
    }
}

static void counter(ls_buf *out, const char *name, const char *help, const ls_monitor *m,
                    size_t off, int gauge)
{
    ls_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, gauge ? "gauge" : "counter");
    for (size_t i = 0; i < m->nqueries; i++) {
        const ls_query_monitor *q = &m->queries[i];
        int64_t v = *(const int64_t *)((const char *)q + off);
        ls_buf_printf(out, "%s{query=\"%s\"} %lld\n", name, q->name, (long long)v);
    }
}

void ls_monitor_metrics(ls_monitor *m, ls_buf *out)
{
    pthread_mutex_lock(&m->mu);
    counter(out, "luastream_batches_total", "Batches run.", m, offsetof(ls_query_monitor, batches), 0);
    counter(out, "luastream_input_rows_total", "Records read.", m,
            offsetof(ls_query_monitor, input_rows), 0);
    counter(out, "luastream_invalid_rows_total", "Records sent to the dead-letter output.", m,
            offsetof(ls_query_monitor, invalid_rows), 0);
    counter(out, "luastream_output_rows_total", "Rows written to the sink.", m,
            offsetof(ls_query_monitor, output_rows), 0);
    counter(out, "luastream_late_rows_total", "Records dropped by the watermark.", m,
            offsetof(ls_query_monitor, late_rows), 0);
    counter(out, "luastream_state_rows", "Groups in the aggregation state.", m,
            offsetof(ls_query_monitor, state_rows), 1);
    counter(out, "luastream_state_memory_bytes", "Memory used by the aggregation state.", m,
            offsetof(ls_query_monitor, state_bytes), 1);
    ls_buf_puts(out, "# HELP luastream_watermark_seconds Event-time watermark (Unix time).\n"
                     "# TYPE luastream_watermark_seconds gauge\n");
    for (size_t i = 0; i < m->nqueries; i++)
        if (m->queries[i].watermark_ms != INT64_MIN)
            ls_buf_printf(out, "luastream_watermark_seconds{query=\"%s\"} %.3f\n",
                          m->queries[i].name, (double)m->queries[i].watermark_ms / 1000.0);
    ls_buf_puts(out, "# HELP luastream_batch_duration_seconds Time to run a batch.\n"
                     "# TYPE luastream_batch_duration_seconds histogram\n");
    for (size_t i = 0; i < m->nqueries; i++) {
        const ls_query_monitor *q = &m->queries[i];
        int64_t cum = 0;
        for (int b = 0; b < LS_MONITOR_BUCKETS; b++) {
            cum += q->duration_buckets[b];
            ls_buf_printf(out, "luastream_batch_duration_seconds_bucket{query=\"%s\",le=\"%g\"} %lld\n",
                          q->name, ls_monitor_bucket_bounds[b], (long long)cum);
        }
        cum += q->duration_buckets[LS_MONITOR_BUCKETS];
        ls_buf_printf(out, "luastream_batch_duration_seconds_bucket{query=\"%s\",le=\"+Inf\"} %lld\n",
                      q->name, (long long)cum);
        ls_buf_printf(out, "luastream_batch_duration_seconds_sum{query=\"%s\"} %.6f\n", q->name,
                      q->duration_sum_s);
        ls_buf_printf(out, "luastream_batch_duration_seconds_count{query=\"%s\"} %lld\n", q->name,
                      (long long)cum);
    }
    if (m->app) {
        ls_buf_puts(out, "# HELP luastream_rebalances_total Rebalances of the job's consumer "
                         "group this member took part in.\n"
                         "# TYPE luastream_rebalances_total counter\n"
                         "luastream_rebalances_total{app=\"");
        label(out, m->app);
        ls_buf_printf(out, "\"} %lld\n", (long long)m->rebalances);
        if (m->has_state) {
            static const struct { const char *name, *type, *help; } st[] = {
                { "luastream_state_partitions_owned", "gauge",
                  "State partitions of the job's aggregations this member owns." },
                { "luastream_state_restores_total", "counter",
                  "State partitions this member rebuilt from their changelogs." },
                { "luastream_restored_records_total", "counter",
                  "Changelog records read rebuilding them (not those of a snapshot or a "
                  "standby's copy)." },
                { "luastream_restore_seconds_total", "counter",
                  "Seconds spent rebuilding them." },
                { "luastream_restored_from_cache_total", "counter",
                  "Rebuilt state partitions that started from a snapshot in the member's "
                  "state cache (its checkpoint directory)." },
                { "luastream_restored_from_standby_total", "counter",
                  "Rebuilt state partitions that started from the member's standby copy." },
                { "luastream_standby_partitions", "gauge",
                  "State partitions this member keeps a standby copy of (--standbys)." },
                { "luastream_standby_lag_records", "gauge",
                  "Changelog records its standby copies are behind, summed." },
                { "luastream_repartition_purges_total", "counter",
                  "Requests that deleted the repartition records this member read and committed." },
            };
            const struct ls_state_figures *f = &m->state;
            double v[] = { (double)f->owned, (double)f->restores, (double)f->restored_records,
                           f->restore_s, (double)f->from_cache, (double)f->from_standby,
                           (double)f->standby, (double)f->standby_lag, (double)f->purges };
            for (size_t k = 0; k < sizeof v / sizeof v[0]; k++) {
                ls_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n%s{app=\"", st[k].name, st[k].help,
                              st[k].name, st[k].type, st[k].name);
                label(out, m->app);
                ls_buf_printf(out, "\"} %.17g\n", v[k]);
            }
        }
        ls_buf_puts(out, "# HELP luastream_owned_partitions Input partitions this member of "
                         "the job owns.\n"
                         "# TYPE luastream_owned_partitions gauge\n"
                         "luastream_owned_partitions{app=\"");
        label(out, m->app);
        ls_buf_printf(out, "\"} %zu\n", m->nowned);
        ls_buf_puts(out, "# HELP luastream_consumer_lag Messages of an owned partition not read "
                         "yet (its latest offset at the last plan minus the member's position).\n"
                         "# TYPE luastream_consumer_lag gauge\n");
        for (size_t i = 0; i < m->nowned; i++) {
            ls_buf_puts(out, "luastream_consumer_lag{app=\"");
            label(out, m->app);
            ls_buf_puts(out, "\",topic=\"");
            label(out, m->owned[i].topic);
            ls_buf_printf(out, "\",partition=\"%d\"} %lld\n", (int)m->owned[i].partition,
                          (long long)m->owned[i].lag);
        }
    }
    ls_buf_printf(out, "# HELP luastream_up Whether the engine is processing.\n"
                       "# TYPE luastream_up gauge\nluastream_up %d\n", m->running);
    pthread_mutex_unlock(&m->mu);
}
