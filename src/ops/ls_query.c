/* ls_query.c - per-record operators and per-batch emission of a query. */
#include "ls_query.h"

#include <lauxlib.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ls_json_encode.h"
#include "ls_schema.h"
#include "ls_session.h"
#include "ls_sink.h"
#include "ls_source.h"
#include "ls_table.h"
#include "ls_time.h"

#include "ls_query_impl.h"

ls_query_decl *ls_query_decl_of(ls_query *q)
{
    return q ? &q->d : NULL;
}

const ls_query_decl *ls_query_declared(const ls_query *q)
{
    return q ? &q->d : NULL;
}

static const char *const mode_names[] = { "complete", "update", "append" };

const char *ls_mode_name(ls_mode m) { return mode_names[m]; }

int ls_mode_parse(const char *s, ls_mode *m)
{
    for (int i = 0; i < 3; i++)
        if (strcmp(s, mode_names[i]) == 0) {
            *m = (ls_mode)i;
            return 0;
        }
    return -1;
}

static const char *const meta_names[] = {
    NULL, "@topic", "@partition", "@offset", "@timestamp", "@timestampType", "@key",
};

ls_meta_col ls_meta_col_parse(const char *name)
{
    for (int i = 1; i <= LS_META_KEY; i++)
        if (strcmp(name, meta_names[i]) == 0) return (ls_meta_col)i;
    return LS_META_NONE;
}

ls_query *ls_query_new(const char *name, lua_State *L)
{
    ls_query *q = ls_xcalloc(1, sizeof *q);
    q->d.name = ls_xstrdup(name);
    q->L = L;
    q->d.map_ref = LUA_NOREF;
    q->d.window_idx = -1;
    q->d.mode = LS_MODE_COMPLETE;
    q->prev_start_ms = -1;
    q->d.route.topic_fn = LUA_NOREF;
    ls_outbuf_init(&q->out);
    ls_buf_init(&q->outrow);
    ls_buf_init(&q->outkey);
    ls_uuid4(q->id);
    ls_uuid4(q->run_id);
    ls_buf_init(&q->key);
    ls_buf_init(&q->scratch);
    ls_buf_init(&q->warnings);
    return q;
}

int ls_query_ready(ls_query *q, int partitions, ls_err *err)
{
    q->d.per_record = q->d.naggs == 0 && q->d.ngroups == 0;
    if (q->d.per_record && q->d.mode != LS_MODE_APPEND) {
        ls_seterr(err, "query %s: a query without group_by and aggregate writes each record's "
                  "rows as they come: output_mode \"append\", not \"%s\"", q->d.name,
                  ls_mode_name(q->d.mode));
        return -1;
    }
    if (q->d.per_record && (q->d.has_watermark || q->d.has_event_time)) {
        ls_seterr(err, "query %s: a watermark or event time applies to aggregations; this query "
                  "has no group_by or aggregate", q->d.name);
        return -1;
    }
    if (!q->d.per_record && (q->d.route.has_key_col || q->d.route.topic_fn != LUA_NOREF)) {
        ls_seterr(err, "query %s: a sink's key and topic apply to per-record queries (an "
                  "aggregation's message key is its group key)", q->d.name);
        return -1;
    }
    for (size_t i = 0; i < q->d.ngroups; i++)
        if (q->d.groups[i].is_window) {
            if (q->d.window_idx >= 0) {
                ls_seterr(err, "query %s: at most one window in group_by (ls.window or "
                          "ls.session_window)", q->d.name);
                return -1;
            }
            q->d.window_idx = (int)i;
            q->d.session = q->d.groups[i].is_session;
        }
    if (q->d.session && q->d.mode == LS_MODE_UPDATE) { /* Spark's UnsupportedOperationChecker */
        ls_seterr(err, "query %s: output_mode \"update\" is not supported with a session window "
                  "(Spark refuses it: a session can still merge with another); use \"append\" "
                  "(with a watermark) or \"complete\"", q->d.name);
        return -1;
    }
    if (q->d.session && q->d.ngroups < 2) { /* Spark: "Global aggregation with session window" */
        const char *c = q->d.groups[q->d.window_idx].col.name;
        ls_seterr(err, "query %s: a session window needs another group_by column, e.g. "
                  "{ ls.session_window(\"%s\", ...), \"user\" } (Spark does not support a global "
                  "aggregation with a session window)", q->d.name, c);
        return -1;
    }
    if (q->d.session && q->d.has_event_time &&
        (q->d.groups[q->d.window_idx].col.join != q->d.event_time.join ||
         strcmp(q->d.groups[q->d.window_idx].col.name, q->d.event_time.name) != 0)) {
        ls_seterr(err, "query %s: the session window is on \"%s\" but the %s is on \"%s\": use "
                  "one event-time column", q->d.name, q->d.groups[q->d.window_idx].col.name,
                  q->d.has_watermark ? "watermark" : "event_time", q->d.event_time.name);
        return -1;
    }
    q->d.et_group = -1;
    if (q->d.has_watermark && q->d.has_event_time)
        for (size_t i = 0; i < q->d.ngroups; i++)
            if (!q->d.groups[i].is_window && q->d.groups[i].col.join == q->d.event_time.join &&
                strcmp(q->d.groups[i].col.name, q->d.event_time.name) == 0)
                q->d.et_group = (int)i;
    if (q->d.session && q->d.mode == LS_MODE_APPEND && !q->d.has_watermark) {
        const char *c = q->d.groups[q->d.window_idx].col.name;
        ls_seterr(err, "query %s: output_mode \"append\" with a session window needs a watermark "
                  "on \"%s\" (a session is final only when the watermark passes its end), e.g. "
                  "watermark = { \"%s\", \"10 minutes\" }", q->d.name, c, c);
        return -1;
    }
    if (q->d.mode == LS_MODE_APPEND && !q->d.per_record &&
        (!q->d.has_watermark || (q->d.window_idx < 0 && q->d.et_group < 0))) {
        ls_seterr(err, "query %s: output mode append needs a watermark and its event-time "
                  "column in group_by, as a window or itself (rows are final only when the "
                  "watermark passes them)", q->d.name);
        return -1;
    }
    if (q->d.has_watermark && !q->d.has_event_time) {
        ls_seterr(err, "query %s: a watermark needs an event-time column", q->d.name);
        return -1;
    }
    if (q->d.has_watermark && q->d.window_idx >= 0 &&
        strcmp(q->d.groups[q->d.window_idx].col.name, q->d.event_time.name) != 0) {
        ls_seterr(err, "query %s: the window is on column %s but the watermark on %s",
                  q->d.name, q->d.groups[q->d.window_idx].col.name, q->d.event_time.name);
        return -1;
    }
    if (q->d.window_idx >= 0 && !q->d.has_event_time) {
        q->d.has_event_time = 1;
        q->d.event_time = q->d.groups[q->d.window_idx].col;
        q->d.event_time.name = ls_xstrdup(q->d.event_time.name);
    }
    q->d.late_filter = q->d.has_watermark && q->d.mode != LS_MODE_COMPLETE &&
                     (q->d.window_idx >= 0 || q->d.et_group >= 0);
    q->d.evicts = q->d.late_filter;
    /* Spark's SessionWindowStateStoreRestoreExec drops late rows in every
     * output mode (its complete mode keeps every session: no eviction). */
    if (q->d.session && q->d.has_watermark) q->d.late_filter = 1;
    q->state = ls_state_new(partitions, (int)q->d.naggs);
    q->late = ls_state_new(partitions, 0);
    for (size_t a = 0; a < q->d.naggs; a++)
        if (ls_agg_owns_memory(q->d.aggs[a].fn)) ls_state_set_owns_blobs(q->state);
    q->gvals = ls_xcalloc(q->d.ngroups + 1, sizeof *q->gvals);
    q->avals = ls_xcalloc(q->d.naggs + 1, sizeof *q->avals);
    q->join_rows = ls_xcalloc(q->d.njoins + 1, sizeof *q->join_rows);
    q->out_names = ls_xcalloc(q->d.ngroups + q->d.naggs, sizeof *q->out_names);
    q->out_vals = ls_xcalloc(q->d.ngroups + q->d.naggs, sizeof *q->out_vals);
    for (size_t i = 0; i < q->d.ngroups; i++) q->out_names[i] = q->d.groups[i].name;
    for (size_t i = 0; i < q->d.naggs; i++) q->out_names[q->d.ngroups + i] = q->d.aggs[i].name;
    if (!q->d.has_watermark) ls_watermark_init(&q->wm, 0);
    return 0;
}

static void joinrow_free(struct ls_joinrow *jr);

void ls_query_free(ls_query *q)
{
    if (!q) return;
    if (q->d.map_ref != LUA_NOREF && q->L) luaL_unref(q->L, LUA_REGISTRYINDEX, q->d.map_ref);
    for (size_t i = 0; i < q->d.njoins; i++) {
        free(q->d.joins[i].left.name);
        free(q->d.joins[i].tcols);
    }
    free(q->d.joins);
    for (size_t i = 0; i < q->d.ngroups; i++) {
        free(q->d.groups[i].name);
        free(q->d.groups[i].col.name);
    }
    free(q->d.groups);
    for (size_t i = 0; i < q->d.naggs; i++) {
        ls_agg_spec_free(&q->d.aggs[i]);
        free(q->d.agg_cols[i].name);
    }
    free(q->d.aggs);
    free(q->d.agg_cols);
    free(q->d.event_time.name);
    ls_sink_destroy(q->d.sink);
    ls_state_free(q->state);
    ls_state_free(q->late);
    ls_state_free(q->stage_in);
    free(q->part_max);
    ls_buf_free(&q->key);
    ls_buf_free(&q->scratch);
    ls_buf_free(&q->warnings);
    ls_outbuf_free(&q->out);
    ls_buf_free(&q->outrow);
    ls_buf_free(&q->outkey);
    joinrow_free(q->joinrow);
    for (size_t i = 0; i < q->d.nwhere; i++) {
        free(q->d.where[i].col.name);
        ls_where_operand_free(&q->d.where[i].w);
    }
    free(q->d.where);
    free(q->d.route.key_col.name);
    if (q->d.route.topic_fn != LUA_NOREF && q->L) luaL_unref(q->L, LUA_REGISTRYINDEX, q->d.route.topic_fn);
    for (size_t i = 0; i < q->d.route.nheaders; i++) {
        free(q->d.route.hnames[i]);
        free(q->d.route.hvals[i]);
    }
    free(q->d.route.hnames);
    free(q->d.route.hvals);
    free(q->gvals);
    free(q->avals);
    free(q->join_rows);
    free(q->out_names);
    free(q->out_vals);
    free(q->d.order);
    free(q->d.name);
    free(q);
}

static ls_colref copy_colref(const ls_colref *c)
{
    ls_colref r = *c;
    r.name = c->name ? ls_xstrdup(c->name) : NULL;
    return r;
}

ls_query *ls_query_clone(const ls_query *src, lua_State *L, int map_ref, int topic_fn, ls_err *err)
{
    ls_query *q = ls_query_new(src->d.name, L);
    memcpy(q->id, src->id, sizeof q->id);
    memcpy(q->run_id, src->run_id, sizeof q->run_id);
    q->d.map_ref = map_ref;
    q->d.map_meta = src->d.map_meta;
    q->use_view = src->use_view;
    q->d.source = src->d.source;
    q->d.where = ls_xcalloc(src->d.nwhere + 1, sizeof *q->d.where);
    for (size_t i = 0; i < src->d.nwhere; i++) {
        q->d.where[i].col = copy_colref(&src->d.where[i].col);
        ls_where_operand_init(&q->d.where[i].w, src->d.where[i].w.op);
        for (size_t k = 0; k < src->d.where[i].w.nvals; k++)
            ls_where_operand_add(&q->d.where[i].w, &src->d.where[i].w.vals[k]);
    }
    q->d.nwhere = src->d.nwhere;
    q->d.route.has_key_col = src->d.route.has_key_col;
    if (src->d.route.has_key_col) q->d.route.key_col = copy_colref(&src->d.route.key_col);
    q->d.route.nheaders = src->d.route.nheaders;
    q->d.route.hnames = ls_xcalloc(src->d.route.nheaders + 1, sizeof *q->d.route.hnames);
    q->d.route.hvals = ls_xcalloc(src->d.route.nheaders + 1, sizeof *q->d.route.hvals);
    for (size_t i = 0; i < src->d.route.nheaders; i++) {
        q->d.route.hnames[i] = ls_xstrdup(src->d.route.hnames[i]);
        q->d.route.hvals[i] = ls_xstrdup(src->d.route.hvals[i]);
    }
    q->d.route.topic_fn = topic_fn; /* a function of the worker's Lua state */
    q->d.joins = ls_xcalloc(src->d.njoins + 1, sizeof *q->d.joins);
    for (size_t j = 0; j < src->d.njoins; j++) {
        ls_join *d = &q->d.joins[j];
        *d = src->d.joins[j];
        d->left = copy_colref(&src->d.joins[j].left);
        d->tcols = ls_xcalloc(d->ncols + 1, sizeof *d->tcols);
        memcpy(d->tcols, src->d.joins[j].tcols, d->ncols * sizeof *d->tcols);
    }
    q->d.njoins = src->d.njoins;
    q->d.has_event_time = src->d.has_event_time;
    q->d.event_time_ms_unit = src->d.event_time_ms_unit;
    if (src->d.has_event_time) q->d.event_time = copy_colref(&src->d.event_time);
    q->d.has_watermark = src->d.has_watermark;
    q->wm = src->wm;
    q->d.groups = ls_xcalloc(src->d.ngroups + 1, sizeof *q->d.groups);
    for (size_t i = 0; i < src->d.ngroups; i++) {
        q->d.groups[i] = src->d.groups[i];
        q->d.groups[i].name = ls_xstrdup(src->d.groups[i].name);
        q->d.groups[i].col = copy_colref(&src->d.groups[i].col);
    }
    q->d.ngroups = src->d.ngroups;
    q->d.aggs = ls_xcalloc(src->d.naggs + 1, sizeof *q->d.aggs);
    q->d.agg_cols = ls_xcalloc(src->d.naggs + 1, sizeof *q->d.agg_cols);
    for (size_t a = 0; a < src->d.naggs; a++) {
        ls_agg_spec_copy(&q->d.aggs[a], &src->d.aggs[a]);
        q->d.agg_cols[a] = copy_colref(&src->d.agg_cols[a]);
    }
    q->d.naggs = src->d.naggs;
    q->d.mode = src->d.mode;
    q->d.limit = src->d.limit;
    if (src->d.norder) {
        q->d.order = ls_xmalloc(src->d.norder * sizeof *q->d.order);
        memcpy(q->d.order, src->d.order, src->d.norder * sizeof *q->d.order);
        q->d.norder = src->d.norder;
    }
    q->d.trigger_ms = src->d.trigger_ms;
    q->d.max_state_rows = src->d.max_state_rows;
    if (ls_query_ready(q, ls_state_nparts(src->state), err)) {
        ls_query_free(q);
        return NULL;
    }
    return q;
}

static void note_part_max(ls_query *q, int32_t part, int64_t et);

void ls_query_add_partial(ls_query *q, const ls_query *part)
{
    const ls_query_stats *p = &part->stats;
    ls_query_stats *s = &q->stats;
    s->input_rows += p->input_rows;
    s->invalid_rows += p->invalid_rows;
    s->filtered_rows += p->filtered_rows;
    s->late_input_rows += p->late_input_rows;
    s->unusable_values += p->unusable_values;
    s->keyed_rows += p->keyed_rows;
    s->seen_cols |= p->seen_cols;
    if (p->et_count) {
        if (s->et_min == LS_NO_TIME || p->et_min < s->et_min) s->et_min = p->et_min;
        if (s->et_max == LS_NO_TIME || p->et_max > s->et_max) s->et_max = p->et_max;
        s->et_count += p->et_count;
        s->et_sum += p->et_sum;
    }
    if (p->process_ms > s->process_ms) s->process_ms = p->process_ms; /* workers run side by side */
    if (part->wm.max_event != LS_NO_TIME) ls_watermark_observe(&q->wm, part->wm.max_event);
    for (int k = 0; k < part->npart_max; k++)
        if (part->part_max[k] != LS_NO_TIME) note_part_max(q, k, part->part_max[k]);
}

void ls_query_begin_batch(ls_query *q, int64_t batch_id)
{
    q->batch_id = batch_id;
    for (int k = 0; k < q->npart_max; k++) q->part_max[k] = LS_NO_TIME;
    memset(&q->stats, 0, sizeof q->stats);
    q->stats.et_min = LS_NO_TIME;
    q->stats.et_max = LS_NO_TIME;
    ls_buf_reset(&q->warnings);
    if (q->d.has_watermark) ls_watermark_begin_batch(&q->wm);
}

int ls_query_wants_batch(const ls_query *q)
{
    /* as Spark's StateStoreSaveExec.shouldRunAnotherBatch: on the watermark
     * alone, even when the grouping has no time to evict by */
    return q->d.has_watermark && q->d.mode != LS_MODE_COMPLETE && ls_watermark_pending(&q->wm);
}

static void project_col(ls_query *q, ls_colref *c, ls_fieldset *fields)
{
    (void)q;
    if (c->name && c->join < 0 && !c->meta) c->slot = ls_fieldset_add(fields, c->name);
}

int ls_query_needs_table(const ls_query *q)
{
    return q->d.map_ref != LUA_NOREF || q->d.route.topic_fn != LUA_NOREF;
}

void ls_query_project(ls_query *q, ls_fieldset *fields)
{
    if (ls_query_needs_table(q)) return;
    for (size_t i = 0; i < q->d.nwhere; i++) project_col(q, &q->d.where[i].col, fields);
    if (q->d.route.has_key_col) project_col(q, &q->d.route.key_col, fields);
    for (size_t j = 0; j < q->d.njoins; j++) project_col(q, &q->d.joins[j].left, fields);
    if (q->d.has_event_time) project_col(q, &q->d.event_time, fields);
    for (size_t i = 0; i < q->d.ngroups; i++) project_col(q, &q->d.groups[i].col, fields);
    for (size_t a = 0; a < q->d.naggs; a++) project_col(q, &q->d.agg_cols[a], fields);
    q->use_view = 1;
}

static int check_col(const ls_query *q, const ls_colref *c, const ls_schema *schema, ls_err *err)
{
    if (!c->name || c->join >= 0 || c->meta || ls_schema_type(schema, c->name) >= 0) return 0;
    const char *near = ls_nearest(c->name, (const char *const *)schema->fields->names,
                                  schema->fields->n);
    ls_seterr(err, "query %s: column %s is not in the source's schema%s%s%s", q->d.name, c->name,
              near ? " (did you mean " : "", near ? near : "", near ? "?)" : "");
    return -1;
}

void ls_query_shape(const ls_query *q, ls_buf *out)
{
    ls_buf_puts(out, "group by");
    for (size_t i = 0; i < q->d.ngroups; i++) {
        const ls_groupcol *g = &q->d.groups[i];
        if (g->is_session)
            ls_buf_printf(out, "%s session_window(%s, %lld ms)", i ? "," : "", g->col.name,
                          (long long)g->win.size);
        else if (g->is_window)
            ls_buf_printf(out, "%s window(%s, %lld ms, %lld ms)", i ? "," : "", g->col.name,
                          (long long)g->win.size, (long long)g->win.slide);
        else
            ls_buf_printf(out, "%s %s", i ? "," : "", g->col.name);
        if (strcmp(g->name, g->col.name) != 0 && !g->is_window) ls_buf_printf(out, " as %s", g->name);
    }
    if (!q->d.ngroups) ls_buf_puts(out, " nothing");
    ls_buf_puts(out, "\naggregates");
    for (size_t a = 0; a < q->d.naggs; a++) {
        const ls_agg_spec *g = &q->d.aggs[a];
        ls_buf_printf(out, "%s %s(%s) as %s", a ? "," : "", ls_agg_fn_name(g->fn),
                      g->column ? g->column : "*", g->name);
        /* a sketch's shape: what its state holds */
        if (g->hll_p) ls_buf_printf(out, " [precision %d%s]", g->hll_p, g->hash_int32 ? ", int" : "");
        if (g->npcts) {
            ls_buf_printf(out, " [accuracy %lld,", (long long)g->accuracy);
            for (size_t i = 0; i < g->npcts; i++) ls_buf_printf(out, " %.17g", g->pcts[i]);
            ls_buf_puts(out, "]");
        }
    }
    if (!q->d.naggs) ls_buf_puts(out, " none");
    ls_buf_printf(out, "\noutput mode %s\n", ls_mode_name(q->d.mode));
    if (q->d.has_event_time)
        ls_buf_printf(out, "event time %s%s", q->d.event_time.name, q->d.event_time_ms_unit ? " (ms)" : "");
    else
        ls_buf_puts(out, "no event time");
    if (q->d.has_watermark) ls_buf_printf(out, "\nwatermark delay %lld ms", (long long)q->wm.delay);
    else ls_buf_puts(out, "\nno watermark");
    ls_buf_printf(out, "\n%s\n", q->d.per_record ? "per record" : "aggregation");
}

int ls_query_check_schema(const ls_query *q, const ls_schema *schema, ls_err *err)
{
    if (!schema || q->d.map_ref != LUA_NOREF) return 0;
    for (size_t j = 0; j < q->d.njoins; j++)
        if (check_col(q, &q->d.joins[j].left, schema, err)) return -1;
    if (q->d.has_event_time && check_col(q, &q->d.event_time, schema, err)) return -1;
    for (size_t i = 0; i < q->d.ngroups; i++)
        if (check_col(q, &q->d.groups[i].col, schema, err)) return -1;
    for (size_t a = 0; a < q->d.naggs; a++)
        if (check_col(q, &q->d.agg_cols[a], schema, err)) return -1;
    return 0;
}

/* t[name] without metamethods: a map's row is the script's table, and a
 * metamethod raising outside a protected call would end the process. */
static int raw_field(lua_State *L, int t, const char *name)
{
    t = lua_absindex(L, t);
    lua_pushstring(L, name);
    return lua_rawget(L, t);
}

/* Reads a column of the current row into *v. Strings stay owned by the row
 * table (kept on the Lua stack), the message / view, or the join table.
 * Returns 0, 1 for a nested value (an object or array: err says so), or -1
 * for a value that is no JSON value at all (a function from a map). */
static int read_col(ls_query *q, int row, const ls_recview *view, const ls_colref *c,
                    ls_value *v, ls_err *err)
{
    if (c->meta) {
        const ls_origin *o = q->origin;
        switch (c->meta) {
        case LS_META_TOPIC: *v = o->topic ? ls_str(o->topic, strlen(o->topic)) : ls_null(); break;
        case LS_META_PARTITION: *v = ls_int(o->partition); break;
        case LS_META_OFFSET: *v = ls_int(o->offset); break;
        case LS_META_TIMESTAMP: *v = o->timestamp >= 0 ? ls_timestamp(o->timestamp) : ls_null(); break;
        case LS_META_TIMESTAMP_TYPE:
            *v = o->timestamp_type >= 0 ? ls_int(o->timestamp_type) : ls_null();
            break;
        case LS_META_KEY: *v = o->key ? ls_str(o->key, o->key_len) : ls_null(); break;
        default: *v = ls_null(); break;
        }
        return 0;
    }
    if (c->join >= 0) {
        long r = q->join_rows[c->join];
        *v = r < 0 ? ls_null() : *ls_table_cell(q->d.joins[c->join].table, (size_t)r, (size_t)c->tcol);
        return 0;
    }
    if (q->use_view) {
        if (view->nested[c->slot]) {
            ls_seterr(err, "column %s: a nested value cannot be grouped or aggregated", c->name);
            return 1;
        }
        *v = view->vals[c->slot];
        return 0;
    }
    lua_State *L = q->L;
    int t = raw_field(L, row, c->name);
    switch (t) {
    case LUA_TNIL:
        *v = ls_null();
        break;
    case LUA_TLIGHTUSERDATA:
        if (lua_touserdata(L, -1) != NULL) goto bad;
        *v = ls_null(); /* JSON null */
        break;
    case LUA_TBOOLEAN:
        v->type = LS_BOOL;
        v->u.b = lua_toboolean(L, -1);
        break;
    case LUA_TNUMBER:
        if (lua_isinteger(L, -1)) *v = ls_int((int64_t)lua_tointeger(L, -1));
        else *v = ls_double((double)lua_tonumber(L, -1));
        break;
    case LUA_TSTRING: {
        size_t n;
        const char *s = lua_tolstring(L, -1, &n);
        *v = ls_str(s, n);
        break;
    }
    case LUA_TTABLE:
        ls_seterr(err, "column %s: a nested value cannot be grouped or aggregated", c->name);
        lua_pop(L, 1);
        return 1;
    default:
        goto bad;
    }
    lua_pop(L, 1);
    return 0;
bad:
    ls_seterr(err, "column %s: a %s cannot be grouped or aggregated", c->name,
              luaL_typename(L, -1));
    lua_pop(L, 1);
    return -1;
}

/* Notes that the record has column c (bit of seen_cols), until one has. */
static void note_present(ls_query *q, int row, const ls_recview *view, const ls_colref *c,
                         int bit)
{
    uint64_t m = bit < 64 ? (uint64_t)1 << bit : 0;
    if (!m || (q->stats.seen_cols & m)) return;
    int present;
    if (c->join >= 0 || c->meta) {
        present = 1;
    } else if (q->use_view) {
        present = view->present[c->slot];
    } else {
        present = raw_field(q->L, row, c->name) != LUA_TNIL;
        lua_pop(q->L, 1);
    }
    if (present) q->stats.seen_cols |= m;
}

/* Numbers as event time: epoch seconds, as Spark casts them, or epoch
 * milliseconds with unit = "ms". A number of seconds past the year 5000
 * is almost surely milliseconds: refused with a hint rather than sending
 * the watermark ahead by millennia (it never comes back). */
#define SECONDS_LIMIT 95617584000.0 /* 5000-01-01 */

static int event_time_ms(const ls_query *q, const ls_value *v, int64_t *ms, ls_err *err)
{
    const char *col = q->d.event_time.name;
    double d;
    switch (v->type) {
    case LS_STR:
        if (ls_time_parse(v->u.s.p, v->u.s.n, ms) == 0) return 0;
        ls_seterr(err, "event time %s: invalid timestamp \"%.*s\"", col,
                  (int)(v->u.s.n > 64 ? 64 : v->u.s.n), v->u.s.p);
        return -1;
    case LS_TIME:
        *ms = v->u.i;
        return 0;
    case LS_INT:
    case LS_DOUBLE:
        d = v->type == LS_INT ? (double)v->u.i : v->u.d;
        if (q->d.event_time_ms_unit) {
            if (!(d > -9.2e15 && d < 9.2e15)) break;
            *ms = v->type == LS_INT ? v->u.i : (int64_t)floor(d);
            return 0;
        }
        if (!(d > -SECONDS_LIMIT && d < SECONDS_LIMIT)) {
            if (d > -9.2e15 && d < 9.2e15) {
                ls_seterr(err, "event time %s: %.17g is not a time in seconds (it would be after "
                          "the year 5000): for epoch milliseconds set unit = \"ms\" in the "
                          "watermark or event_time", col, d);
                return -1;
            }
            break;
        }
        if (v->type == LS_INT) {
            *ms = v->u.i * 1000;
        } else { /* Spark: seconds to microseconds, truncated, then milliseconds */
            int64_t us = (int64_t)(d * 1e6);
            *ms = us / 1000 - (us % 1000 < 0);
        }
        return 0;
    case LS_NULL:
        ls_seterr(err, "event time %s is null or missing", col);
        return -1;
    default:
        break;
    }
    ls_seterr(err, "event time %s: not a timestamp", col);
    return -1;
}

static void count_event_time(ls_query *q, int64_t et)
{
    if (q->stats.et_min == LS_NO_TIME || et < q->stats.et_min) q->stats.et_min = et;
    if (q->stats.et_max == LS_NO_TIME || et > q->stats.et_max) q->stats.et_max = et;
    q->stats.et_sum += (double)et;
    q->stats.et_count++;
}

static int dead(ls_query *q, const ls_reject *dl, const ls_origin *o, const char *why,
                const char *payload, size_t n, ls_err *err)
{
    q->stats.invalid_rows++;
    return dl->fn(dl->ctx, o, q->d.name, why, payload, n, err);
}

/* Where records fold: the state, or a job member's stage-1 partial. */
static ls_state *fold_state(const ls_query *q)
{
    return q->stage_in ? q->stage_in : q->state;
}

/* Folds the row into every group it belongs to (one per window). A
 * (window, key) pair the watermark has passed is late: it is not folded,
 * and counted once per batch per distinct pair, as Spark drops rows at its
 * stateful operator after partial aggregation.
 *
 * Every window's key is built and hashed first (one after another in
 * q->key) and its place in the state's index prefetched, so that the
 * windows' cache misses overlap instead of following each other. */
static void fold(ls_query *q, int64_t et, int64_t part)
{
    int64_t starts[LS_MAX_WINDOWS], evict[LS_MAX_WINDOWS];
    uint64_t hs[LS_MAX_WINDOWS];
    size_t offs[LS_MAX_WINDOWS + 1];
    int nw = 1;
    const ls_groupcol *wg = q->d.window_idx >= 0 ? &q->d.groups[q->d.window_idx] : NULL;
    if (wg && wg->is_session) { /* Spark's SessionWindowing: [t, t + gap), merged at batch end */
        starts[0] = et;
    } else if (wg) {
        nw = ls_window_assign(&wg->win, et, starts);
    }
    ls_buf_reset(&q->key);
    for (int w = 0; w < nw; w++) {
        int64_t evict_at = q->d.et_group >= 0 ? et : LS_NO_TIME;
        offs[w] = q->key.len;
        for (size_t i = 0; i < q->d.ngroups; i++) {
            if ((int)i == q->d.window_idx) {
                ls_value wv;
                wv.type = LS_WINDOW;
                wv.u.w.start = starts[w];
                if (__builtin_add_overflow(starts[w], wg->win.size, &wv.u.w.end))
                    wv.u.w.end = INT64_MAX;
                evict_at = wv.u.w.end;
                ls_key_put(&q->key, &wv);
            } else {
                ls_key_put(&q->key, &q->gvals[i]);
            }
        }
        evict[w] = evict_at;
        hs[w] = ls_hash(q->key.data ? q->key.data + offs[w] : "", q->key.len - offs[w]);
        if (nw > 1) ls_state_prefetch(fold_state(q), hs[w]);
    }
    offs[nw] = q->key.len;
    int late = 0;
    for (int w = 0; w < nw; w++) {
        int created;
        uint64_t h = hs[w];
        const char *key = q->key.data ? q->key.data + offs[w] : "";
        size_t len = offs[w + 1] - offs[w];
        /* a member of a job judges lateness at stage 2, with the job's watermark */
        if (q->d.late_filter && !q->stage_in && ls_watermark_is_late(&q->wm, evict[w])) {
            if (q->d.session && q->origin) {
                /* Spark drops a session window's rows before any shuffle: one per
                 * (key, event time) of each Kafka partition (a session has one
                 * window: its key is the buffer's only one) */
                int32_t part = q->origin->partition;
                ls_buf_append(&q->key, &part, sizeof part);
                if (q->origin->topic) ls_buf_puts(&q->key, q->origin->topic);
                h = ls_hash(q->key.data, q->key.len);
                key = q->key.data;
                len = q->key.len;
            }
            ls_state_upsert(q->late, key, len, h, evict[w], &created);
            late++;
            continue;
        }
        ls_group *g = ls_state_upsert(fold_state(q), key, len, h, evict[w], &created);
        for (size_t a = 0; a < q->d.naggs; a++)
            ls_acc_fold(&g->acc[a], &q->d.aggs[a], q->d.agg_cols[a].name ? &q->avals[a] : NULL, part,
                        NULL); /* values were prepared before folding */
        if (g->updated_batch != q->batch_id) {
            g->updated_batch = q->batch_id;
            q->stats.rows_updated++;
        }
    }
    if (late && late == nw) q->stats.late_input_rows++;
}

/* A record column an aggregate reads: a value it cannot use (a nested
 * object or array, text in sum) is null for that aggregate, counted, and
 * the record goes on. */
static int read_agg_col(ls_query *q, int row, const ls_recview *view, size_t a, ls_err *why)
{
    ls_value *v = &q->avals[a];
    int rc = read_col(q, row, view, &q->d.agg_cols[a], v, why);
    if (rc < 0) return -1;
    if (rc > 0) {
        *v = ls_null();
        q->stats.unusable_values++;
        return 0;
    }
    q->stats.unusable_values += ls_agg_prepare(q->d.aggs[a].fn, v);
    return 0;
}

/* ---- per-record rows ------------------------------------------------------ */

/* The keys a map's row may carry for routing, left out of the row itself. */
static const char *const route_keys[] = { "_key", "_topic", "_headers", NULL };

/* A value's text as a Kafka key or header: strings as they are, numbers and
 * booleans as JSON writes them; null (or anything else): none. */
static int value_bytes(const ls_value *v, ls_buf *out)
{
    if (v->type == LS_NULL || v->type == LS_WINDOW) return -1;
    if (v->type == LS_STR) ls_buf_append(out, v->u.s.p, v->u.s.n);
    else ls_value_text(out, v);
    return 0;
}

/* The joined columns of per-record rows, written by the row writer into
 * json (a generator per row cost more than the rest of a forwarded row). */
struct ls_joinrow {
    ls_rowfmt fmt;
    const char **names;
    ls_value *vals;
    size_t n;
    ls_buf json;
};

static void joinrow_free(struct ls_joinrow *jr)
{
    if (!jr) return;
    ls_rowfmt_free(&jr->fmt);
    free(jr->names);
    free(jr->vals);
    ls_buf_free(&jr->json);
    free(jr);
}

/* The joined columns of the current record, appended to an object's JSON
 * text (which ends with '}'). */
static void splice_joins(ls_query *q, ls_buf *json)
{
    if (!q->d.njoins) return;
    struct ls_joinrow *jr = q->joinrow;
    if (!jr) {
        jr = q->joinrow = ls_xcalloc(1, sizeof *jr);
        ls_rowfmt_init(&jr->fmt);
        ls_buf_init(&jr->json);
        for (size_t j = 0; j < q->d.njoins; j++) jr->n += q->d.joins[j].ncols;
        jr->names = ls_xcalloc(jr->n + 1, sizeof *jr->names);
        jr->vals = ls_xcalloc(jr->n + 1, sizeof *jr->vals);
        size_t i = 0;
        for (size_t j = 0; j < q->d.njoins; j++)
            for (size_t k = 0; k < q->d.joins[j].ncols; k++)
                jr->names[i++] = q->d.joins[j].table->cols[q->d.joins[j].tcols[k]];
    }
    size_t i = 0;
    for (size_t j = 0; j < q->d.njoins; j++) {
        const ls_join *jn = &q->d.joins[j];
        long r = q->join_rows[j];
        for (size_t k = 0; k < jn->ncols; k++)
            jr->vals[i++] = r < 0 ? ls_null() : *ls_table_cell(jn->table, (size_t)r, (size_t)jn->tcols[k]);
    }
    ls_row row = { jr->n, jr->names, jr->vals, 0 };
    ls_buf_reset(&jr->json);
    ls_row_write(&jr->fmt, &row, &jr->json);
    const char *p = jr->json.data;
    size_t n = jr->json.len;
    if (n > 2 && json->len >= 2 && json->data[json->len - 1] == '}') {
        json->len--; /* drop the '}' */
        if (json->data[json->len - 1] != '{') ls_buf_putc(json, ',');
        ls_buf_append(json, p + 1, n - 1);
    }
}

/* Writes one row of a per-record query: the record itself (no map: its
 * bytes as they came) or the map's row (row: its Lua stack index), with
 * the joined columns, routed as the sink says. 1 + why for a row that
 * cannot be written (a dead letter). */
static int emit_row(ls_query *q, int row, const ls_recview *view, const ls_origin *o,
                    const char *payload, size_t n, uint32_t sub, ls_err *why, ls_err *err)
{
    lua_State *L = q->L;
    ls_buf_reset(&q->outrow);
    ls_buf_reset(&q->outkey);
    ls_out out = { 0 };
    if (q->d.map_ref == LUA_NOREF && !q->d.njoins) { /* the record's bytes, as they came */
        out.json = payload ? payload : "";
        out.len = n;
    } else {
        if (q->d.map_ref == LUA_NOREF) {
            ls_buf_append(&q->outrow, payload, n);
        } else if (ls_json_encode(L, row, route_keys, &q->outrow, why)) {
            ls_err_prefix(why, "map returned a row that is not JSON");
            return 1;
        }
        splice_joins(q, &q->outrow);
        out.json = q->outrow.data ? q->outrow.data : "";
        out.len = q->outrow.len;
    }
    /* the key: the sink's key column, or the row's _key */
    ls_value kv = ls_null();
    if (q->d.route.has_key_col) {
        if (read_col(q, row, view, &q->d.route.key_col, &kv, why) < 0) return 1;
    } else if (q->d.map_ref != LUA_NOREF) {
        int t = raw_field(L, row, "_key");
        if (t == LUA_TSTRING || t == LUA_TNUMBER || t == LUA_TBOOLEAN) {
            read_col(q, row, view, &(ls_colref){ (char *)"_key", -1, -1, -1, 0 }, &kv, why);
        } else if (t != LUA_TNIL) {
            ls_seterr(why, "_key must be a string or a number, got %s", luaL_typename(L, -1));
            lua_pop(L, 1);
            return 1;
        }
        lua_pop(L, 1);
    }
    if (value_bytes(&kv, &q->outkey) == 0) {
        out.key = q->outkey.data ? q->outkey.data : "";
        out.key_len = q->outkey.len;
    }
    /* the topic: the row's _topic, or the sink's topic function */
    int top = q->d.map_ref != LUA_NOREF || q->d.route.topic_fn != LUA_NOREF ? lua_gettop(L) : 0;
    if (q->d.map_ref != LUA_NOREF && raw_field(L, row, "_topic") != LUA_TNIL) {
        if (lua_type(L, -1) != LUA_TSTRING) {
            ls_seterr(why, "_topic must be a string, got %s", luaL_typename(L, -1));
            lua_settop(L, top);
            return 1;
        }
        out.topic = lua_tostring(L, -1);
    } else if (q->d.route.topic_fn != LUA_NOREF) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, q->d.route.topic_fn);
        lua_pushvalue(L, row);
        if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
            const char *msg = lua_tostring(L, -1);
            ls_seterr(why, "the sink's topic function raised: %s", msg ? msg : "(no message)");
            lua_settop(L, top);
            return 1;
        }
        if (lua_type(L, -1) != LUA_TSTRING) {
            ls_seterr(why, "the sink's topic function returned a %s (expected a topic name)",
                      luaL_typename(L, -1));
            lua_settop(L, top);
            return 1;
        }
        out.topic = lua_tostring(L, -1);
    }
    if (out.topic) {
        size_t tl = strlen(out.topic);
        if (tl == 0 || tl > 249) {
            ls_seterr(why, "topic name of %zu characters (Kafka allows 1 to 249)", tl);
            lua_settop(L, top);
            return 1;
        }
    }
    /* headers: the sink's, then the row's _headers */
    const char *hn[64], *hv[64];
    size_t hl[64], nh = 0;
    for (size_t i = 0; i < q->d.route.nheaders && nh < 64; i++, nh++) {
        hn[nh] = q->d.route.hnames[i];
        hv[nh] = q->d.route.hvals[i];
        hl[nh] = strlen(hv[nh]);
    }
    if (q->d.map_ref != LUA_NOREF && raw_field(L, row, "_headers") != LUA_TNIL) {
        int ht = lua_gettop(L);
        if (!lua_istable(L, ht)) {
            ls_seterr(why, "_headers must be a table of name = \"value\", got %s", luaL_typename(L, ht));
            lua_settop(L, top);
            return 1;
        }
        /* the names and values stay in the table (on the stack) while they are used */
        lua_pushnil(L);
        while (lua_next(L, ht)) {
            if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING) {
                ls_seterr(why, "_headers: each header is name = \"value\" (strings)");
                lua_settop(L, top);
                return 1;
            }
            if (nh == 64) {
                ls_seterr(why, "_headers: more than 64 headers");
                lua_settop(L, top);
                return 1;
            }
            hn[nh] = lua_tostring(L, -2);
            hv[nh] = lua_tolstring(L, -1, &hl[nh]);
            nh++;
            lua_pop(L, 1);
        }
    }
    out.nheaders = nh;
    out.hnames = hn;
    out.hvals = hv;
    out.hlens = hl;
    int rc = 0;
    if (q->d.sink) rc = q->d.sink->vt->write_out(q->d.sink, &out, err);
    else ls_outbuf_add(&q->out, o->seq, sub, &out);
    if (top) lua_settop(L, top);
    if (rc == 0) q->stats.output_rows++;
    return rc ? -1 : 0;
}

int ls_query_open_rows(ls_query *q, ls_err *err)
{
    if (!q->d.per_record || !q->d.sink) return 0;
    return q->d.sink->vt->open_batch(q->d.sink, q->batch_id, err);
}

/* ---- one record ------------------------------------------------------------- */

/* The `where` predicates on the input record (before any map). */
static int where_holds(ls_query *q, int rec, const ls_recview *view, ls_err *why, int *bad)
{
    for (size_t i = 0; i < q->d.nwhere; i++) {
        ls_value v;
        int rc = read_col(q, rec, view, &q->d.where[i].col, &v, why);
        if (rc > 0) v = ls_null(); /* an object or array: never equal to a scalar */
        else if (rc < 0) {
            *bad = 1;
            return 0;
        }
        if (!ls_where_match(&q->d.where[i].w, &v)) return 0;
    }
    return 1;
}

/* One row (the record, or one of the rows its map returned) through joins,
 * then out (per-record) or into the state. 1 + why for a bad row. */
/* The batch's greatest event time of a source partition (a job's
 * watermark stamps, ls_shuffle.h). */
static void note_part_max(ls_query *q, int32_t part, int64_t et)
{
    if (part < 0 || part > 1 << 20) return;
    if (part >= q->npart_max) {
        q->part_max = ls_xrealloc(q->part_max, ((size_t)part + 1) * sizeof *q->part_max);
        for (int k = q->npart_max; k <= part; k++) q->part_max[k] = LS_NO_TIME;
        q->npart_max = part + 1;
    }
    if (q->part_max[part] == LS_NO_TIME || et > q->part_max[part]) q->part_max[part] = et;
}

static int process_row(ls_query *q, int row, const ls_recview *view, const ls_origin *o,
                       const char *payload, size_t n, uint32_t sub, ls_err *why, ls_err *err)
{
    for (size_t j = 0; j < q->d.njoins; j++) {
        ls_value k;
        if (read_col(q, row, view, &q->d.joins[j].left, &k, why)) return 1;
        q->join_rows[j] = k.type == LS_NULL ? -1 : ls_table_lookup(q->d.joins[j].table, &k, &q->scratch);
        if (q->join_rows[j] < 0 && q->d.joins[j].inner) {
            q->stats.filtered_rows++;
            return 0;
        }
    }
    if (q->d.per_record) return emit_row(q, row, view, o, payload, n, sub, why, err);

    int64_t et = 0;
    if (q->d.has_event_time) {
        ls_value v;
        if (read_col(q, row, view, &q->d.event_time, &v, why) || event_time_ms(q, &v, &et, why))
            return 1;
    }

    q->stats.keyed_rows++;
    for (size_t i = 0; i < q->d.ngroups; i++) {
        if ((int)i == q->d.window_idx) continue;
        if ((int)i == q->d.et_group) { /* grouped by its instant, as Spark's timestamp column */
            q->gvals[i] = ls_timestamp(et);
            continue;
        }
        note_present(q, row, view, &q->d.groups[i].col, (int)i);
        if (read_col(q, row, view, &q->d.groups[i].col, &q->gvals[i], why)) return 1;
    }
    for (size_t a = 0; a < q->d.naggs; a++) {
        if (!q->d.agg_cols[a].name) continue;
        note_present(q, row, view, &q->d.agg_cols[a], (int)(q->d.ngroups + a));
        if (read_agg_col(q, row, view, a, why)) return 1;
    }
    /* Only a row that passed every check moves event-time statistics and
     * the watermark: a dead-lettered one must not make others late. Late
     * ones do (Spark's EventTimeWatermark sees every row). */
    if (q->d.has_event_time) {
        count_event_time(q, et);
        if (q->d.has_watermark) {
            ls_watermark_observe(&q->wm, et);
            note_part_max(q, o ? o->partition : -1, et);
        }
    }
    fold(q, et, o ? o->partition : -1); /* the partition: Spark's percentile digests are per partition */
    return 0;
}

int ls_query_process(ls_query *q, int rec, const ls_recview *view, const ls_origin *o,
                     const char *payload, size_t n, const ls_reject *dl, ls_err *err)
{
    lua_State *L = q->L;
    int top = q->use_view ? 0 : lua_gettop(L); /* projected queries may have no Lua state */
    ls_err why;
    int rc = 0;
    int timed = (q->stats.input_rows % LS_TIME_SAMPLE) == 0;
    double t0 = timed ? ls_mono_ms() : 0;
    q->stats.input_rows++;
    q->origin = o;
    if (!q->use_view) rec = lua_absindex(L, rec);

    if (q->d.nwhere) {
        int bad = 0;
        if (!where_holds(q, rec, view, &why, &bad)) {
            if (bad) rc = dead(q, dl, o, why.msg, payload, n, err);
            else q->stats.filtered_rows++;
            goto out;
        }
    }
    if (q->d.map_ref == LUA_NOREF) {
        int r = process_row(q, rec, view, o, payload, n, 0, &why, err);
        if (r > 0) rc = dead(q, dl, o, why.msg, payload, n, err);
        else rc = r;
        goto out;
    }

    lua_rawgeti(L, LUA_REGISTRYINDEX, q->d.map_ref);
    lua_pushvalue(L, rec);
    int nargs = 1;
    if (q->d.map_meta && o->meta) {
        lua_pushvalue(L, o->meta);
        nargs = 2;
    }
    if (lua_pcall(L, nargs, 1, 0) != LUA_OK) {
        const char *msg = lua_tostring(L, -1);
        ls_seterr(&why, "map raised: %s", msg ? msg : luaL_typename(L, -1));
        rc = dead(q, dl, o, why.msg, payload, n, err);
        goto out;
    }
    if (lua_isnil(L, -1)) {
        q->stats.filtered_rows++;
        goto out;
    }
    if (!lua_istable(L, -1)) {
        ls_seterr(&why, "map returned a %s (expected a table, a list of tables or nil)",
                  luaL_typename(L, -1));
        rc = dead(q, dl, o, why.msg, payload, n, err);
        goto out;
    }
    int result = lua_gettop(L);
    /* a list of rows (Spark's explode): { {..}, {..} }; {} is an empty list */
    int t1 = lua_rawgeti(L, result, 1);
    lua_pop(L, 1);
    lua_pushnil(L);
    int empty = !lua_next(L, result);
    if (!empty) lua_pop(L, 2);
    if (t1 != LUA_TTABLE && !empty) {
        int r = process_row(q, result, view, o, payload, n, 0, &why, err);
        if (r > 0) rc = dead(q, dl, o, why.msg, payload, n, err);
        else rc = r;
        goto out;
    }
    if (empty) q->stats.filtered_rows++;
    lua_Integer count = (lua_Integer)lua_rawlen(L, result);
    for (lua_Integer i = 1; i <= count && rc == 0; i++) {
        if (lua_rawgeti(L, result, i) != LUA_TTABLE) {
            ls_seterr(&why, "map returned a list whose item %lld is a %s (expected a table)",
                      (long long)i, luaL_typename(L, -1));
            rc = dead(q, dl, o, why.msg, payload, n, err);
            break;
        }
        int r = process_row(q, lua_gettop(L), view, o, payload, n, (uint32_t)i, &why, err);
        if (r > 0) rc = dead(q, dl, o, why.msg, payload, n, err);
        else rc = r;
        lua_settop(L, result);
    }
out:
    if (!q->use_view) lua_settop(L, top);
    if (timed) q->stats.process_ms += (ls_mono_ms() - t0) * LS_TIME_SAMPLE;
    return rc;
}

/* The output row of a group into vals (ngroups + naggs values; strings
 * point into the group). */
static int group_values(const ls_query *q, const ls_group *g, ls_value *vals, ls_err *err)
{
    const char *key = ls_group_key(g, (int)q->d.naggs);
    size_t pos = 0;
    for (size_t i = 0; i < q->d.ngroups; i++)
        if (ls_key_get(key, g->key_len, &pos, &vals[i])) {
            ls_seterr(err, "query %s: corrupt group key", q->d.name);
            return -1;
        }
    for (size_t a = 0; a < q->d.naggs; a++) vals[q->d.ngroups + a] = ls_acc_result(&g->acc[a], q->d.aggs[a].fn);
    return 0;
}

static int emit_group(ls_query *q, const ls_group *g, ls_err *err)
{
    if (group_values(q, g, q->out_vals, err)) return -1;
    ls_row row = { q->d.ngroups + q->d.naggs, q->out_names, q->out_vals, q->d.ngroups };
    if (q->d.sink->vt->write(q->d.sink, &row, err)) return -1;
    q->stats.output_rows++;
    return 0;
}

/* ---- order_by / limit (complete mode) ---------------------------------- */

typedef struct sorted_row {
    const ls_group *g;
    ls_value *vals; /* the output row */
} sorted_row;

static const ls_query *sort_q; /* qsort has no context argument */

/* Two non-null values of a column. */
static int cmp_value(const ls_value *a, const ls_value *b)
{
    if (a->type == LS_WINDOW && b->type == LS_WINDOW) {
        if (a->u.w.start != b->u.w.start) return a->u.w.start < b->u.w.start ? -1 : 1;
        return a->u.w.end < b->u.w.end ? -1 : a->u.w.end > b->u.w.end;
    }
    return ls_value_order(a, b);
}

static int cmp_rows(const void *x, const void *y)
{
    const sorted_row *a = x, *b = y;
    for (size_t k = 0; k < sort_q->d.norder; k++) {
        const ls_order_key *o = &sort_q->d.order[k];
        const ls_value *va = &a->vals[o->col], *vb = &b->vals[o->col];
        int an = va->type == LS_NULL, bn = vb->type == LS_NULL, c;
        if (an || bn) c = o->desc ? an - bn : bn - an; /* nulls first ascending, last descending */
        else c = o->desc ? -cmp_value(va, vb) : cmp_value(va, vb);
        if (c) return c;
    }
    return 0;
}

/* Complete mode with order_by / limit: every group's row, sorted, the
 * first `limit` emitted. */
static int emit_ordered(ls_query *q, ls_err *err)
{
    size_t n = ls_state_groups(q->state), ncols = q->d.ngroups + q->d.naggs, i = 0;
    sorted_row *rows = ls_xcalloc(n + 1, sizeof *rows);
    ls_value *vals = ls_xcalloc(n * ncols + 1, sizeof *vals);
    int rc = 0;
    for (int p = 0; p < ls_state_nparts(q->state) && rc == 0; p++) {
        ls_group *g;
        LS_HMAP_FOREACH(ls_state_part(q->state, p), g) {
            if (i == n) break;
            rows[i].g = g;
            rows[i].vals = vals + i * ncols;
            if (group_values(q, g, rows[i].vals, err)) {
                rc = -1;
                break;
            }
            i++;
        }
    }
    if (rc == 0 && q->d.norder) {
        sort_q = q; /* the engine thread is the only one emitting */
        qsort(rows, i, sizeof *rows, cmp_rows);
    }
    size_t upto = q->d.limit > 0 && (uint64_t)q->d.limit < i ? (size_t)q->d.limit : i;
    for (size_t k = 0; rc == 0 && k < upto; k++) rc = emit_group(q, rows[k].g, err);
    free(rows);
    free(vals);
    return rc;
}

/* A group or aggregate column that no record of the batch had is most
 * likely misspelled (everything then lands in one null group): said once
 * per column, on stderr and in the batch's progress report. */
static void warn_missing_columns(ls_query *q)
{
    if (q->stats.keyed_rows == 0) return;
    size_t ncols = q->d.ngroups + q->d.naggs;
    for (size_t i = 0; i < ncols && i < 64; i++) {
        const ls_colref *c = i < q->d.ngroups ? &q->d.groups[i].col : &q->d.agg_cols[i - q->d.ngroups];
        uint64_t m = (uint64_t)1 << i;
        if (!c->name || c->join >= 0 || (int)i == q->d.window_idx || (int)i == q->d.et_group ||
            (q->stats.seen_cols & m) || (q->warned_cols & m))
            continue;
        q->warned_cols |= m;
        ls_buf text;
        ls_buf_init(&text);
        ls_buf_printf(&text, "query %s: column %s was in none of the %lld records of batch %lld "
                      "(it is null for all of them: is the name right?)", q->d.name, c->name,
                      (long long)q->stats.keyed_rows, (long long)q->batch_id);
        ls_log("warning: %s", text.data);
        ls_buf_append(&q->warnings, text.data, text.len + 1); /* with its NUL */
        ls_buf_free(&text);
    }
}

int ls_query_end_batch(ls_query *q, ls_err *err)
{
    double t0 = ls_mono_ms();
    warn_missing_columns(q);
    if (q->d.session) { /* the batch's sessions (and the workers') joined to the others */
        ls_session_result sr;
        if (ls_session_merge(q->state, q->d.window_idx, (int)q->d.ngroups, q->d.aggs, q->batch_id, &sr,
                             err))
            return -1;
        q->stats.rows_updated = sr.sessions_updated;
        q->stats.evicted_rows = (int64_t)sr.stored_merged; /* Spark counts them as removed */
    }
    if (q->d.max_state_rows > 0 && (int64_t)ls_state_groups(q->state) > q->d.max_state_rows) {
        ls_seterr(err, "query %s: the state holds %zu groups, more than max_state_rows = %lld "
                  "(evict old windows with a watermark and output mode update or append, "
                  "or raise the cap)", q->d.name, ls_state_groups(q->state), (long long)q->d.max_state_rows);
        return -1;
    }
    q->stats.late_rows = (int64_t)ls_state_groups(q->late);
    ls_state_clear(q->late);
    if (q->d.per_record) { /* its rows went out as they came (ls_query_open_rows) */
        if (q->d.sink->vt->close_batch(q->d.sink, err)) return -1;
        q->stats.emit_ms = ls_mono_ms() - t0;
        return 0;
    }
    int64_t wm = q->wm.batch;
    ls_state_seal(q->state, q->d.aggs, q->batch_id); /* percentile digests take in the batch */
    if (q->d.sink->vt->open_batch(q->d.sink, q->batch_id, err)) return -1;
    if (q->d.norder || q->d.limit) {
        if (emit_ordered(q, err)) return -1;
    }
    for (int p = 0; !q->d.norder && !q->d.limit && p < ls_state_nparts(q->state); p++) {
        ls_state_iter it; /* memory order: sequential reads (ls_state.h) */
        ls_state_iter_init(&it, q->state, p);
        q->d.sink->part = p; /* a job's file sink writes a part per state partition */
        for (ls_group *g; (g = ls_state_iter_next(&it)) != NULL;) {
            int emit;
            switch (q->d.mode) {
            case LS_MODE_COMPLETE: emit = 1; break;
            case LS_MODE_UPDATE: emit = g->updated_batch == q->batch_id; break;
            default: /* append: final once the batch's watermark passed it */
                emit = g->window_end != LS_NO_TIME && g->window_end <= wm;
                break;
            }
            if (emit && emit_group(q, g, err)) return -1;
        }
    }
    if (q->d.sink->vt->close_batch(q->d.sink, err)) return -1;
    double e0 = ls_mono_ms();
    if (q->d.evicts) q->stats.evicted_rows += (int64_t)ls_state_evict(q->state, wm);
    q->stats.evict_ms = ls_mono_ms() - e0;
    if (q->d.has_watermark) ls_watermark_end_batch(&q->wm);
    q->stats.emit_ms = ls_mono_ms() - t0;
    return 0;
}

/* ---- the running query, seen from the engine, workers, checkpoint, reports ---- */

void ls_query_set_watermark(ls_query *q, int64_t delay_ms)
{
    q->d.has_watermark = 1;
    q->d.watermark_ms = delay_ms;
    ls_watermark_init(&q->wm, delay_ms);
}

int ls_query_uses_view(const ls_query *q)
{
    return q->use_view;
}

const char *ls_query_id(const ls_query *q)
{
    return q->id;
}

const char *ls_query_run_id(const ls_query *q)
{
    return q->run_id;
}

int64_t ls_query_batch_id(const ls_query *q)
{
    return q->batch_id;
}

const ls_query_stats *ls_query_batch_stats(const ls_query *q)
{
    return &q->stats;
}

const ls_watermark *ls_query_watermark(const ls_query *q)
{
    return &q->wm;
}

double ls_query_since_prev_ms(const ls_query *q)
{
    return q->since_prev_ms;
}

const ls_buf *ls_query_warnings(const ls_query *q)
{
    return &q->warnings;
}

const char *ls_query_out_name(const ls_query *q, size_t i)
{
    return i < q->d.ngroups + q->d.naggs ? q->out_names[i] : NULL;
}

ls_state *ls_query_state(ls_query *q)
{
    return q->state;
}

const ls_state *ls_query_state_c(const ls_query *q)
{
    return q->state;
}

void ls_query_restore_watermark(ls_query *q, int64_t batch, int64_t global)
{
    q->wm.batch = batch;
    q->wm.global = global;
}

void ls_query_start(ls_query *q, int64_t batch_id, double start_ms)
{
    ls_query_begin_batch(q, batch_id);
    q->since_prev_ms = q->prev_start_ms < 0 ? -1 : start_ms - q->prev_start_ms;
    q->prev_start_ms = start_ms;
}

void ls_query_set_latency(ls_query *q, int has, int64_t p50, int64_t p99, int64_t max)
{
    q->stats.has_latency = has;
    q->stats.latency_p50 = p50;
    q->stats.latency_p99 = p99;
    q->stats.latency_max = max;
}

void ls_query_count_invalid(ls_query *q)
{
    q->stats.input_rows++;
    q->stats.invalid_rows++;
}

void ls_query_count_unusable(ls_query *q, int64_t view_nulls, int64_t table_nulls)
{
    q->stats.unusable_values += q->use_view ? view_nulls : table_nulls;
}

void ls_query_take_over(ls_query *q, ls_query *old, struct ls_source *source)
{
    memcpy(q->id, old->id, sizeof q->id);
    memcpy(q->run_id, old->run_id, sizeof q->run_id);
    q->wm = old->wm;
    ls_state *st = q->state;
    q->state = old->state;
    old->state = st;
    st = q->late;
    q->late = old->late;
    old->late = st;
    q->batch_id = old->batch_id;
    q->prev_start_ms = old->prev_start_ms;
    q->since_prev_ms = old->since_prev_ms;
    q->warned_cols = old->warned_cols;
    q->stats = old->stats;
    q->d.source = source;
}

void ls_query_begin_partial(ls_query *part, const ls_query *q, int64_t batch_id)
{
    ls_query_begin_batch(part, batch_id);
    part->wm = q->wm; /* late checks use the current watermark */
}

void ls_query_merge_part(ls_query *q, const ls_query *part, int p, int64_t batch_id,
                         ls_merge_result *r, ls_merge_result *late)
{
    ls_state_merge_part(fold_state(q), part->state, p, q->d.aggs, batch_id, r);
    ls_state_merge_part(q->late, part->late, p, q->d.aggs, batch_id, late);
}

void ls_query_fold_partial(ls_query *q, const ls_query *part, const ls_merge_result *r,
                           size_t late_added)
{
    ls_state_add_merged(fold_state(q), r);
    q->stats.rows_updated += r->rows_updated;
    ls_merge_result late = { late_added, 0, 0 };
    ls_state_add_merged(q->late, &late);
    ls_query_add_partial(q, part);
    q->stats.output_rows += part->stats.output_rows;
}

ls_outbuf *ls_query_held_rows(ls_query *part)
{
    return &part->out;
}

void ls_query_clear_partial(ls_query *part)
{
    ls_state_clear(part->state);
    ls_state_clear(part->late);
}
