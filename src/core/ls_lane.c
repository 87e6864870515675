/* ls_lane.c - decoding a message and running it through a lane's queries. */
#include "ls_lane.h"

#include <stdlib.h>
#include <string.h>

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

/* The Kafka metadata of a message, as a map's second argument: topic,
 * partition, offset, timestamp (ms), timestamp_type ("CreateTime" or
 * "LogAppendTime"), key (string or nil), headers (name -> value, a list of
 * values for a repeated name; nil values for null ones). */
static void push_meta(lua_State *L, const ls_origin *o)
{
    lua_createtable(L, 0, 7);
    if (o->file) { /* a file's record: where it is in the file */
        lua_pushstring(L, o->file);
        lua_setfield(L, -2, "file");
        lua_pushinteger(L, (lua_Integer)o->line);
        lua_setfield(L, -2, "line");
        return;
    }
    lua_pushstring(L, o->topic ? o->topic : "");
    lua_setfield(L, -2, "topic");
    lua_pushinteger(L, o->partition);
    lua_setfield(L, -2, "partition");
    lua_pushinteger(L, (lua_Integer)o->offset);
    lua_setfield(L, -2, "offset");
    if (o->timestamp >= 0) {
        lua_pushinteger(L, (lua_Integer)o->timestamp);
        lua_setfield(L, -2, "timestamp");
        lua_pushstring(L, o->timestamp_type == 1 ? "LogAppendTime" : "CreateTime");
        lua_setfield(L, -2, "timestamp_type");
    }
    if (o->key) {
        lua_pushlstring(L, o->key, o->key_len);
        lua_setfield(L, -2, "key");
    }
    rd_kafka_headers_t *hdrs = (rd_kafka_headers_t *)o->headers;
    const rd_kafka_message_t *m = o->msg;
    lua_newtable(L);
    if (m && rd_kafka_message_headers(m, &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR) hdrs = NULL;
    if (hdrs) {
        const char *name;
        const void *val;
        size_t len;
        for (size_t i = 0; rd_kafka_header_get_all(hdrs, i, &name, &val, &len) ==
                           RD_KAFKA_RESP_ERR_NO_ERROR; i++) {
            int t = lua_getfield(L, -1, name);
            if (val) lua_pushlstring(L, val, len);
            else lua_pushlightuserdata(L, NULL); /* a null header value */
            if (t == LUA_TNIL) {
                lua_setfield(L, -3, name);
                lua_pop(L, 1);
            } else if (t == LUA_TTABLE) { /* values are strings: a table is our list */
                lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1); /* a third and later */
                lua_pop(L, 1);
            } else { /* a second value: a list of both */
                lua_createtable(L, 2, 0);
                lua_pushvalue(L, -3);
                lua_rawseti(L, -2, 1);
                lua_pushvalue(L, -2);
                lua_rawseti(L, -2, 2);
                lua_setfield(L, -4, name);
                lua_pop(L, 2);
            }
        }
    }
    lua_setfield(L, -2, "headers");
}

/* Where r came from: its Kafka metadata, or its file and line. */
static void origin_of(const ls_record *r, const ls_source *s, uint64_t seq, ls_origin *o)
{
    memset(o, 0, sizeof *o);
    o->seq = seq;
    const rd_kafka_message_t *m = r->msg;
    const ls_file_msg *k = r->kmsg;
    if (k) { /* a test input's Kafka message */
        o->topic = k->topic ? k->topic : ls_source_declared(s)->ntopics ? ls_source_declared(s)->topics[0] : "";
        o->partition = k->partition;
        o->offset = k->offset;
        o->timestamp = k->timestamp;
        o->timestamp_type = k->timestamp >= 0 ? 0 : -1;
        o->key = k->key;
        o->key_len = k->key_len;
        o->headers = k->headers;
        return;
    }
    if (!m) {
        o->file = r->file;
        o->line = r->line;
        o->partition = -1;
        o->offset = r->index;
        o->timestamp = -1;
        o->timestamp_type = -1;
        return;
    }
    o->topic = rd_kafka_topic_name(m->rkt);
    o->partition = m->partition;
    o->offset = m->offset;
    rd_kafka_timestamp_type_t tt;
    o->timestamp = rd_kafka_message_timestamp(m, &tt);
    o->timestamp_type = tt == RD_KAFKA_TIMESTAMP_CREATE_TIME       ? 0
                      : tt == RD_KAFKA_TIMESTAMP_LOG_APPEND_TIME ? 1
                                                                 : -1;
    if (m->key) {
        o->key = m->key;
        o->key_len = m->key_len;
    }
    o->msg = m;
}

void ls_lane_begin_batch(ls_lane *ln)
{
    ln->decode_ms = 0;
}

int ls_lane_handle(ls_lane *ln, size_t si, uint64_t seq, const ls_record *r, ls_err *err)
{
    ls_origin o;
    origin_of(r, ln->sources[si], seq, &o);
    const ls_source *s = ln->sources[si];
    const ls_source_decl *sd = ls_source_declared(s);
    const ls_decode_plan *plan = &ln->plans[si];
    ls_recview *view = &ln->views[si];
    const char *payload = r->msg ? (r->msg->payload ? (const char *)r->msg->payload : "")
                                 : (r->data ? r->data : "");
    size_t n = r->msg ? (r->msg->payload ? r->msg->len : 0) : r->len;

    ls_err why;
    int bad = 0;
    size_t view_nulls = 0, table_nulls = 0; /* values a failed schema cast made null */
    int timed = (ln->seen++ % LS_TIME_SAMPLE) == 0;
    double t0 = timed ? ls_mono_ms() : 0;
    if (n > sd->max_record_bytes) {
        ls_seterr(&why, "record too large: %zu bytes (max_record_bytes is %zu)", n,
                  sd->max_record_bytes);
        bad = 1;
    } else if (plan->needs_view && ls_json_scan(payload, n, plan->fields, view, &why)) {
        bad = 1;
    } else if (plan->needs_lua &&
               ls_json_decode(ln->L, payload, n, plan->schema ? plan->schema->fields : NULL, &why)) {
        bad = 1;
    } else if (plan->schema) {
        if (plan->needs_view) view_nulls = ls_schema_cast_view(plan->types, view, &ln->scratch);
        if (plan->needs_lua)
            table_nulls = ls_schema_cast_table(plan->schema, ln->L, -1, &ln->lua_scratch);
    }
    if (timed) ln->decode_ms += (ls_mono_ms() - t0) * LS_TIME_SAMPLE;
    if (bad) {
        for (size_t i = 0; i < ln->nqueries; i++)
            if (ls_query_declared(ln->queries[i])->source == s) {
                ls_query_count_invalid(ln->queries[i]);
            }
        return ls_deadletter_write(ln->dl, &o, NULL, why.msg, payload, n, err);
    }
    int rec = plan->needs_lua ? lua_gettop(ln->L) : 0; /* the record table */
    if (plan->needs_meta) {
        push_meta(ln->L, &o);
        o.meta = lua_gettop(ln->L);
    }
    int rc = 0;
    for (size_t i = 0; i < ln->nqueries && rc == 0; i++)
        if (ls_query_declared(ln->queries[i])->source == s) {
            ls_query *q = ln->queries[i];
            ls_query_count_unusable(q, (int64_t)view_nulls, (int64_t)table_nulls);
            rc = ls_query_process(q, rec, view, &o, payload, n, ls_reject_to(ln->dl), err);
        }
    if (plan->needs_meta) lua_pop(ln->L, 1);
    if (plan->needs_lua) lua_pop(ln->L, 1);
    return rc;
}
