/* ls_lane.c - decoding a message and running it through a lane's queries. */
#include "ls_lane.h"

#include <stdlib.h>

void ls_lane_init(ls_lane *ln, lua_State *L, ls_query **queries, size_t nqueries,
                  ls_source **sources, const ls_decode_plan *plans, size_t nsources,
                  ls_deadletter *dl)
{
    ln->L = L;
    ln->queries = queries;
    ln->nqueries = nqueries;
    ln->sources = sources;
    ln->plans = plans;
    ln->nsources = nsources;
    ln->dl = dl;
    ln->seen = 0;
    ln->decode_ms = 0;
    ls_buf_init(&ln->scratch);
    ls_buf_init(&ln->lua_scratch);
    ln->views = ls_xcalloc(nsources + 1, sizeof *ln->views);
    for (size_t i = 0; i < nsources; i++) ls_recview_init(&ln->views[i], plans[i].fields->n);
}

void ls_lane_free(ls_lane *ln)
{
    for (size_t i = 0; ln->views && i < ln->nsources; i++) ls_recview_free(&ln->views[i]);
    free(ln->views);
    ln->views = NULL;
    ls_buf_free(&ln->scratch);
    ls_buf_free(&ln->lua_scratch);
}

int ls_lane_handle(ls_lane *ln, size_t si, const rd_kafka_message_t *m, char *err)
{
    ls_origin o;
    o.topic = rd_kafka_topic_name(m->rkt);
    o.partition = m->partition;
    o.offset = m->offset;
    rd_kafka_timestamp_type_t tt;
    o.timestamp = rd_kafka_message_timestamp(m, &tt);
    const ls_source *s = ln->sources[si];
    const ls_decode_plan *plan = &ln->plans[si];
    ls_recview *view = &ln->views[si];
    const char *payload = m->payload ? (const char *)m->payload : "";
    size_t n = m->payload ? m->len : 0;

    char why[LS_ERRLEN];
    int bad = 0;
    size_t view_nulls = 0, table_nulls = 0; /* values a failed schema cast made null */
    int timed = (ln->seen++ % LS_TIME_SAMPLE) == 0;
    double t0 = timed ? ls_mono_ms() : 0;
    if (n > s->max_record_bytes) {
        ls_seterr(why, "record too large: %zu bytes (max_record_bytes is %zu)", n,
                  s->max_record_bytes);
        bad = 1;
    } else if (plan->needs_view && ls_json_scan(payload, n, plan->fields, view, why)) {
        bad = 1;
    } else if (plan->needs_lua &&
               ls_json_decode(ln->L, payload, n, plan->schema ? plan->schema->fields : NULL, why)) {
        bad = 1;
    } else if (plan->schema) {
        if (plan->needs_view) view_nulls = ls_schema_cast_view(plan->types, view, &ln->scratch);
        if (plan->needs_lua)
            table_nulls = ls_schema_cast_table(plan->schema, ln->L, -1, &ln->lua_scratch);
    }
    if (timed) ln->decode_ms += (ls_mono_ms() - t0) * LS_TIME_SAMPLE;
    if (bad) {
        for (size_t i = 0; i < ln->nqueries; i++)
            if (ln->queries[i]->source == s) {
                ln->queries[i]->stats.input_rows++;
                ln->queries[i]->stats.invalid_rows++;
            }
        return ls_deadletter_write(ln->dl, &o, NULL, why, payload, n, err);
    }
    int rc = 0;
    for (size_t i = 0; i < ln->nqueries && rc == 0; i++)
        if (ln->queries[i]->source == s) {
            ls_query *q = ln->queries[i];
            q->stats.unusable_values += (int64_t)(q->use_view ? view_nulls : table_nulls);
            rc = ls_query_process(q, -1, view, &o, payload, n, ln->dl, err);
        }
    if (plan->needs_lua) lua_pop(ln->L, 1);
    return rc;
}
