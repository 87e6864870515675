/* ls_explain.c - `luastream explain`: a script's plan, printed without
 * connecting to anything (see ls_explain.h).
 *
 * Owns: the planned sinks (a description of what a run would open, each
 * owned by its query or, for the dead-letter output, by the engine, like
 * any sink), and, during ls_explain, the explain-mode engine and the
 * plan's text. Everything printed is read from the compiled engine (the
 * same structures a run executes), never from the script's tables again;
 * text the script chose (names, values, paths) is printed with control
 * characters and invalid UTF-8 escaped, so it cannot break the layout or
 * the JSON. Kafka properties named like secrets are never shown. */
#include "ls_explain.h"

#include <errno.h>
#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yajl_gen.h>

#include "ls_cast.h"

/* ---- text -------------------------------------------------------------------- */

/* Length of the valid UTF-8 character at s[0..n), 0 when there is none. */
static size_t utf8_char(const char *s, size_t n)
{
    unsigned char c = (unsigned char)s[0];
    if (c < 0x80) return 1;
    size_t len = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
    return len && len <= n && ls_utf8_valid(s, len) ? len : 0;
}

/* s[0..n) with control characters, invalid UTF-8 and (quoted) the quote
 * and backslash escaped. */
static void put_esc(ls_buf *b, const char *s, size_t n, int quoted)
{
    if (quoted) ls_buf_putc(b, '"');
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        size_t len = utf8_char(s + i, n - i);
        if (len == 0 || c < 0x20 || c == 0x7f) {
            ls_buf_printf(b, "\\x%02x", c);
            i++;
            continue;
        }
        if (quoted && (c == '"' || c == '\\')) ls_buf_putc(b, '\\');
        ls_buf_append(b, s + i, len);
        i += len;
    }
    if (quoted) ls_buf_putc(b, '"');
}

static void put_safe(ls_buf *b, const char *s) { put_esc(b, s ? s : "", s ? strlen(s) : 0, 0); }

/* "  label            " (values line up in one column). */
static void label(ls_buf *b, const char *l) { ls_buf_printf(b, "  %-17s", l); }

static void dur_text(ls_buf *b, int64_t ms)
{
    static const struct {
        int64_t ms;
        const char *one, *many;
    } units[] = { { 86400000, "day", "days" }, { 3600000, "hour", "hours" },
                  { 60000, "minute", "minutes" }, { 1000, "second", "seconds" },
                  { 1, "millisecond", "milliseconds" } };
    if (ms == 0) {
        ls_buf_puts(b, "0 seconds");
        return;
    }
    for (size_t i = 0; i < sizeof units / sizeof *units; i++)
        if (ms % units[i].ms == 0) {
            int64_t n = ms / units[i].ms;
            ls_buf_printf(b, "%lld %s", (long long)n, n == 1 ? units[i].one : units[i].many);
            return;
        }
}

static void value_text(ls_buf *b, const ls_value *v)
{
    if (v->type == LS_STR) put_esc(b, v->u.s.p, v->u.s.n, 1);
    else ls_value_text(b, v);
}

static size_t source_no(const ls_engine *e, const ls_source *s)
{
    for (size_t i = 0; i < ls_engine_plan_c(e)->nsources; i++)
        if (ls_engine_plan_c(e)->sources[i] == s) return i + 1;
    return 0;
}

static size_t table_no(const ls_engine *e, const ls_table *t)
{
    for (size_t i = 0; i < ls_engine_plan_c(e)->ntables; i++)
        if (ls_engine_plan_c(e)->tables[i] == t) return i + 1;
    return 0;
}

/* Distinct names, in order. */
typedef struct names {
    size_t n, cap;
    const char **v;
} names;

static void names_add(names *ns, const char *s)
{
    if (!s) return;
    for (size_t i = 0; i < ns->n; i++)
        if (strcmp(ns->v[i], s) == 0) return;
    if (ns->n == ns->cap) {
        ns->cap = ns->cap ? ns->cap * 2 : 8;
        ns->v = ls_xrealloc(ns->v, ns->cap * sizeof *ns->v);
    }
    ns->v[ns->n++] = s;
}

static void names_put(ls_buf *b, const names *ns)
{
    for (size_t i = 0; i < ns->n; i++) {
        if (i) ls_buf_puts(b, ", ");
        put_safe(b, ns->v[i]);
    }
}

/* The record columns a query reads (C projection: every operator; with a
 * map: its `where` only, the rest read the map's rows) and the Kafka
 * metadata columns it reads, in the projection's order (ls_query_project:
 * where, the sink's key, join keys, event time, groups, aggregates). */
static void query_columns(const ls_query *q, names *fields, names *meta)
{
    const ls_query_decl *qd = ls_query_declared(q);
    int table = ls_query_needs_table(q);
    size_t n = 0, max = qd->nwhere + 2 + qd->njoins + qd->ngroups + qd->naggs;
    const ls_colref **refs = ls_xcalloc(max, sizeof *refs);
    for (size_t i = 0; i < qd->nwhere; i++) refs[n++] = &qd->where[i].col;
    size_t nwhere = n; /* read before any map */
    if (qd->route.has_key_col) refs[n++] = &qd->route.key_col;
    for (size_t j = 0; j < qd->njoins; j++) refs[n++] = &qd->joins[j].left;
    if (qd->has_event_time) refs[n++] = &qd->event_time;
    for (size_t i = 0; i < qd->ngroups; i++) refs[n++] = &qd->groups[i].col;
    for (size_t a = 0; a < qd->naggs; a++) refs[n++] = &qd->agg_cols[a];
    for (size_t k = 0; k < n; k++) {
        const ls_colref *c = refs[k];
        if (!c->name || (table && k >= nwhere)) continue;
        if (c->meta) names_add(meta, c->name);
        else if (c->join < 0) names_add(fields, c->name);
    }
    free(refs);
}

static void put_col(ls_buf *b, const ls_colref *c)
{
    put_safe(b, c->name);
    if (c->meta) ls_buf_puts(b, " (Kafka metadata)");
    else if (c->join >= 0) ls_buf_printf(b, " (from join %d)", c->join + 1);
}

static void trigger_text(ls_buf *b, const ls_engine *e)
{
    int from_flag = 0;
    const ls_trigger *t = ls_engine_trigger(e, &from_flag);
    if (t->kind == LS_TRIGGER_ONCE) {
        ls_buf_puts(b, "once: one batch of everything available, then exit");
    } else if (t->kind == LS_TRIGGER_AVAILABLE_NOW) {
        ls_buf_puts(b, "available-now: everything there at start, in capped batches, then exit");
    } else if (t->interval_ms > 0) {
        ls_buf_puts(b, "every ");
        dur_text(b, t->interval_ms);
        ls_buf_printf(b, " (%lld ms)", (long long)t->interval_ms);
    } else {
        ls_buf_puts(b, "as fast as possible: a batch as soon as the last one ended");
    }
    if (from_flag) ls_buf_puts(b, " (--trigger)");
}

static int checkpoint_exists(const ls_engine *e)
{
    struct stat st;
    return ls_engine_checkpoint_dir(e) && stat(ls_engine_checkpoint_dir(e), &st) == 0;
}

/* Props as name=value, secrets hidden, sorted by name (a script's table
 * has no order). */
static size_t *sorted_props(const ls_props *p)
{
    size_t *ix = ls_xcalloc(p->n + 1, sizeof *ix);
    for (size_t i = 0; i < p->n; i++) ix[i] = i;
    for (size_t i = 1; i < p->n; i++)
        for (size_t j = i; j > 0 && strcmp(p->names[ix[j - 1]], p->names[ix[j]]) > 0; j--) {
            size_t t = ix[j];
            ix[j] = ix[j - 1];
            ix[j - 1] = t;
        }
    return ix;
}

static void props_text(ls_buf *b, const ls_props *p, int hide)
{
    if (!p || p->n == 0) {
        ls_buf_puts(b, "none");
        return;
    }
    size_t *ix = sorted_props(p);
    for (size_t k = 0; k < p->n; k++) {
        size_t i = ix[k];
        if (k) ls_buf_puts(b, ", ");
        put_safe(b, p->names[i]);
        ls_buf_putc(b, '=');
        if (hide && ls_kafka_is_secret(p->names[i])) ls_buf_puts(b, "(secret, not shown)");
        else put_safe(b, p->values[i]);
    }
    free(ix);
}

static const char *lua_reason(const ls_query *q)
{
    if (ls_query_declared(q)->map_ref != LUA_NOREF) return "map";
    if (ls_query_declared(q)->route.topic_fn != LUA_NOREF) return "the sink's topic function";
    return NULL;
}

static int console_format(const ls_query *q)
{
    const ls_sink_plan *p = ls_sink_plan_of(ls_query_declared(q)->sink);
    return p && p->kind == LS_PLAN_CONSOLE && p->format;
}

/* cp: the job has a checkpoint (files are cut back to the last commit on
 * restart: exactly once). */
static void sink_text(ls_buf *b, const ls_sink_plan *p, const ls_query *q, int cp)
{
    if (!p) {
        ls_buf_puts(b, "?");
        return;
    }
    switch (p->kind) {
    case LS_PLAN_CONSOLE:
        ls_buf_printf(b, "console, at most %d rows per batch", p->num_rows);
        if (p->format) ls_buf_puts(b, ", one line per row from the Lua format function");
        else ls_buf_puts(b, p->truncate ? ", cells cut at 20 characters" : ", cells not cut");
        break;
    case LS_PLAN_JSONL:
        ls_buf_puts(b, "JSON lines appended to ");
        put_safe(b, p->path);
        if (p->parts)
            ls_buf_puts(b, ", one file per state partition, written by the member that owns it, "
                        "exactly once (cut back to the length its changelog committed)");
        else if (cp)
            ls_buf_puts(b, ", exactly once (cut back to the last commit on restart)");
        break;
    case LS_PLAN_STDERR:
        ls_buf_puts(b, "stderr");
        break;
    case LS_PLAN_KAFKA:
        if (q && ls_query_declared(q)->route.topic_fn != LUA_NOREF) ls_buf_puts(b, "Kafka, each row's topic from a Lua function");
        else {
            ls_buf_puts(b, "Kafka topic ");
            put_safe(b, p->topic);
        }
        ls_buf_puts(b, " at ");
        put_safe(b, p->bootstrap);
        if (p->txn_id) {
            ls_buf_puts(b, ", exactly once (transactional.id ");
            put_safe(b, p->txn_id);
            ls_buf_putc(b, ')');
        } else {
            ls_buf_puts(b, ", at least once");
        }
        break;
    }
}

/* Kafka details of a query's sink: key, headers, properties. */
static void sink_kafka_lines(ls_buf *b, const ls_sink_plan *p, const ls_query *q)
{
    const ls_query_decl *qd = ls_query_declared(q);
    if (!p || p->kind != LS_PLAN_KAFKA) return;
    label(b, "message key");
    if (!qd->per_record) {
        ls_buf_puts(b, "the group key columns as JSON");
    } else if (qd->route.has_key_col) {
        ls_buf_puts(b, "column ");
        put_col(b, &qd->route.key_col);
    } else {
        ls_buf_puts(b, qd->map_ref != LUA_NOREF ? "a row's _key, else none" : "none");
    }
    ls_buf_putc(b, '\n');
    if (qd->per_record && (qd->route.nheaders || qd->map_ref != LUA_NOREF)) {
        label(b, "headers");
        ls_props h = { qd->route.nheaders, qd->route.hnames, qd->route.hvals };
        if (h.n) props_text(b, &h, 0);
        if (qd->map_ref != LUA_NOREF) ls_buf_puts(b, h.n ? ", then a row's _headers" : "a row's _headers");
        ls_buf_putc(b, '\n');
    }
    if (p->props && p->props->n) {
        label(b, "kafka properties");
        props_text(b, p->props, 1);
        ls_buf_putc(b, '\n');
    }
}

static void where_text(ls_buf *b, const ls_where_pred *p)
{
    put_col(b, &p->col);
    ls_where_op op = p->w.op;
    ls_buf_printf(b, " %s", ls_where_op_name(op));
    if (op == LS_OP_IS_NULL || op == LS_OP_NOT_NULL) return;
    if (op == LS_OP_IN) ls_buf_puts(b, " (");
    else ls_buf_putc(b, ' ');
    for (size_t i = 0; i < p->w.nvals; i++) {
        if (i) ls_buf_puts(b, ", ");
        value_text(b, &p->w.vals[i]);
    }
    if (op == LS_OP_IN) ls_buf_putc(b, ')');
}

static void source_text(ls_buf *b, const ls_engine *e, size_t si)
{
    const ls_source *s = ls_engine_plan_c(e)->sources[si];
    const ls_source_decl *sd = ls_source_declared(s);
    const ls_decode_plan *plan = ls_engine_decode_plan(e, si);
    ls_buf_printf(b, "\nsource %zu  ", si + 1);
    put_safe(b, sd->name);
    ls_buf_putc(b, '\n');
    if (sd->is_files) {
        label(b, "files");
        put_safe(b, sd->path ? sd->path : "(a fixed list)");
        ls_buf_puts(b, " (oldest first, each once; names starting with . or _ skipped)\n");
        label(b, "format");
        ls_buf_printf(b, "%s\n", ls_file_format_name(sd->format));
        label(b, "polling");
        dur_text(b, sd->polling_ms);
        ls_buf_puts(b, " between two listings\n");
        label(b, "max per trigger");
        if (sd->max_files > 0) ls_buf_printf(b, "%lld files", (long long)sd->max_files);
        if (sd->max_files > 0 && sd->max_per_trigger > 0) ls_buf_puts(b, ", ");
        if (sd->max_per_trigger > 0) ls_buf_printf(b, "%lld records", (long long)sd->max_per_trigger);
        if (sd->max_files <= 0 && sd->max_per_trigger <= 0) ls_buf_puts(b, "no limit");
        ls_buf_putc(b, '\n');
        label(b, "max record bytes");
        ls_buf_printf(b, "%zu (larger records are dead-lettered)\n", sd->max_record_bytes);
        goto schema;
    }
    label(b, sd->ntopics == 1 ? "topic" : "topics");
    for (size_t t = 0; t < sd->ntopics; t++) {
        if (t) ls_buf_puts(b, ", ");
        put_safe(b, sd->topics[t]);
    }
    ls_buf_putc(b, '\n');
    label(b, "bootstrap");
    put_safe(b, sd->bootstrap);
    ls_buf_putc(b, '\n');
    label(b, "starting offsets");
    ls_buf_puts(b, sd->start_latest ? "latest" : "earliest");
    if (ls_engine_checkpoint_dir(e)) ls_buf_puts(b, " (a checkpoint's positions come first)");
    ls_buf_putc(b, '\n');
    label(b, "max per trigger");
    if (sd->max_per_trigger > 0) {
        ls_buf_printf(b, "%lld records, spread over the partitions", (long long)sd->max_per_trigger);
        if (ls_engine_trigger(e, NULL)->kind == LS_TRIGGER_ONCE) ls_buf_puts(b, " (not applied: trigger once)");
    } else {
        ls_buf_puts(b, "no limit");
    }
    ls_buf_putc(b, '\n');
    label(b, "max record bytes");
    ls_buf_printf(b, "%zu (larger messages are dead-lettered)\n", sd->max_record_bytes);
    label(b, "connect timeout");
    dur_text(b, sd->connect_timeout_ms);
    ls_buf_putc(b, '\n');
    label(b, "consumer group");
    put_safe(b, sd->group_id);
    ls_buf_puts(b, ls_source_group(s) ? " (the job's members share its partitions; positions "
                                        "committed in each batch's transaction)\n"
                                      : " (positions committed for lag tools)\n");
    label(b, "kafka properties");
    props_text(b, &sd->props, 1);
    ls_buf_putc(b, '\n');
schema:
    label(b, "schema");
    if (!sd->schema) {
        ls_buf_puts(b, "none: JSON types");
    } else {
        names cols = { 0 };
        for (size_t f = 0; f < sd->schema->fields->n; f++) names_add(&cols, sd->schema->fields->names[f]);
        /* sorted: a Lua table has no order */
        for (size_t i = 1; i < cols.n; i++)
            for (size_t j = i; j > 0 && strcmp(cols.v[j - 1], cols.v[j]) > 0; j--) {
                const char *t = cols.v[j];
                cols.v[j] = cols.v[j - 1];
                cols.v[j - 1] = t;
            }
        for (size_t i = 0; i < cols.n; i++) {
            if (i) ls_buf_puts(b, ", ");
            put_safe(b, cols.v[i]);
            ls_buf_printf(b, " %s", ls_type_name((ls_type)ls_schema_type(sd->schema, cols.v[i])));
        }
        ls_buf_puts(b, " (other fields are not read)");
        free(cols.v);
    }
    ls_buf_putc(b, '\n');
    label(b, "decoding");
    if (!plan->needs_view && !plan->needs_lua) ls_buf_puts(b, "none: no query reads this source");
    if (plan->needs_view) {
        if (plan->fields->n == 0) {
            ls_buf_puts(b, "C validation of each message, no field read");
        } else {
            ls_buf_printf(b, "C projection of %zu field%s (", plan->fields->n,
                          plan->fields->n == 1 ? "" : "s");
            for (size_t f = 0; f < plan->fields->n; f++) {
                if (f) ls_buf_puts(b, ", ");
                put_safe(b, plan->fields->names[f]);
            }
            ls_buf_puts(b, "), no Lua");
        }
    }
    if (plan->needs_lua) {
        if (plan->needs_view) ls_buf_puts(b, "; and ");
        if (plan->schema)
            ls_buf_printf(b, "a Lua table of the schema's %zu columns", plan->schema->fields->n);
        else
            ls_buf_puts(b, "the whole record into a Lua table");
        if (plan->needs_meta) ls_buf_puts(b, " and a Kafka metadata table");
        ls_buf_puts(b, ", per record, for ");
        int first = 1;
        for (size_t i = 0; i < ls_engine_plan_c(e)->nqueries; i++) {
            const ls_query *q = ls_engine_plan_c(e)->queries[i];
            if (ls_query_declared(q)->source != s || !ls_query_needs_table(q)) continue;
            if (!first) ls_buf_puts(b, ", ");
            first = 0;
            put_safe(b, ls_query_declared(q)->name);
            ls_buf_printf(b, " (%s)", lua_reason(q));
        }
    }
    ls_buf_putc(b, '\n');
    label(b, "queries");
    int first = 1;
    for (size_t i = 0; i < ls_engine_plan_c(e)->nqueries; i++) {
        if (ls_query_declared(ls_engine_plan_c(e)->queries[i])->source != s) continue;
        if (!first) ls_buf_puts(b, ", ");
        first = 0;
        put_safe(b, ls_query_declared(ls_engine_plan_c(e)->queries[i])->name);
    }
    if (first) ls_buf_puts(b, "none (a run still reads it)");
    ls_buf_putc(b, '\n');
}

static void table_text(ls_buf *b, const ls_engine *e, size_t ti)
{
    const ls_table *t = ls_engine_plan_c(e)->tables[ti];
    ls_buf_printf(b, "\ntable %zu  ", ti + 1);
    put_safe(b, t->path);
    ls_buf_putc(b, '\n');
    label(b, "key");
    put_safe(b, t->key);
    ls_buf_putc(b, '\n');
    label(b, "rows");
    ls_buf_printf(b, "%zu\n", t->nrows);
    label(b, "columns");
    for (size_t c = 0; c < t->ncols; c++) {
        if (c) ls_buf_puts(b, ", ");
        put_safe(b, t->cols[c]);
    }
    ls_buf_putc(b, '\n');
}

static void query_text(ls_buf *b, const ls_engine *e, const ls_query *q)
{
    const ls_query_decl *qd = ls_query_declared(q);
    ls_buf_puts(b, "\nquery ");
    put_safe(b, qd->name);
    ls_buf_printf(b, "  (source %zu, %s)\n", source_no(e, qd->source),
                  qd->per_record ? "per record" : "aggregation");
    int table = ls_query_needs_table(q);
    names fields = { 0 }, meta = { 0 };
    query_columns(q, &fields, &meta);
    label(b, "read");
    if (table) {
        ls_buf_puts(b, ls_source_declared(qd->source)->schema ? "a Lua table of the schema's columns"
                                         : "the whole record, decoded into a Lua table");
        if (qd->map_meta) ls_buf_puts(b, ", and the Kafka metadata table");
    } else if (fields.n) {
        ls_buf_printf(b, "C projection of %zu field%s: ", fields.n, fields.n == 1 ? "" : "s");
        names_put(b, &fields);
    } else {
        ls_buf_puts(b, "no field (C validation of the message only)");
    }
    if (meta.n) {
        ls_buf_puts(b, "; Kafka metadata ");
        names_put(b, &meta);
    }
    ls_buf_putc(b, '\n');
    free(fields.v);
    free(meta.v);
    if (qd->nwhere) {
        label(b, "where");
        for (size_t i = 0; i < qd->nwhere; i++) {
            if (i) ls_buf_puts(b, " and ");
            where_text(b, &qd->where[i]);
        }
        ls_buf_puts(b, qd->map_ref != LUA_NOREF ? " (in C, before the map)\n" : " (in C)\n");
    }
    if (qd->map_ref != LUA_NOREF) {
        label(b, "map");
        ls_buf_printf(b, "Lua function per record: map(record%s) returns a row, a list of rows or nil\n",
                      qd->map_meta ? ", meta" : "");
    }
    for (size_t j = 0; j < qd->njoins; j++) {
        const ls_join *jn = &qd->joins[j];
        label(b, "join");
        ls_buf_printf(b, "%s join table %zu (", jn->inner ? "inner" : "left", table_no(e, jn->table));
        put_safe(b, jn->table->path);
        ls_buf_puts(b, ") on ");
        put_col(b, &jn->left);
        ls_buf_puts(b, " = ");
        put_safe(b, jn->table->key);
        ls_buf_puts(b, ", adds ");
        for (size_t k = 0; k < jn->ncols; k++) {
            if (k) ls_buf_puts(b, ", ");
            put_safe(b, jn->table->cols[jn->tcols[k]]);
        }
        if (jn->ncols == 0) ls_buf_puts(b, "no column");
        ls_buf_puts(b, jn->inner ? " (unmatched records dropped)\n" : " (null when unmatched)\n");
    }
    if (qd->has_event_time) {
        label(b, "event time");
        put_col(b, &qd->event_time);
        ls_buf_printf(b, " (ISO-8601 text, or epoch %s)\n",
                      qd->event_time_ms_unit ? "milliseconds" : "seconds");
    }
    if (qd->has_watermark) {
        label(b, "watermark");
        dur_text(b, qd->watermark_ms);
        if (qd->late_filter)
            ls_buf_puts(b, " behind the latest event time: later rows dropped, passed groups evicted\n");
        else if (qd->mode == LS_MODE_COMPLETE)
            ls_buf_puts(b, " (complete mode: nothing dropped or evicted, every group kept)\n");
        else
            ls_buf_puts(b, " (no window or event-time column in group_by: nothing dropped or evicted)\n");
    }
    if (qd->window_idx >= 0) {
        const ls_groupcol *g = &qd->groups[qd->window_idx];
        label(b, g->is_session ? "session window" : "window");
        put_col(b, &g->col);
        ls_buf_puts(b, ", ");
        dur_text(b, g->win.size);
        if (g->is_session) {
            ls_buf_puts(b, " gap (sessions per key, merged when a record bridges two)");
        } else if (g->win.slide != g->win.size) {
            ls_buf_puts(b, " sliding every ");
            dur_text(b, g->win.slide);
        } else {
            ls_buf_puts(b, " tumbling");
        }
        ls_buf_putc(b, '\n');
    }
    if (qd->ngroups) {
        label(b, "group by");
        for (size_t i = 0; i < qd->ngroups; i++) {
            if (i) ls_buf_puts(b, ", ");
            if (qd->groups[i].is_window) ls_buf_puts(b, qd->groups[i].name);
            else put_col(b, &qd->groups[i].col);
        }
        ls_buf_putc(b, '\n');
    }
    if (qd->naggs) {
        label(b, "aggregate");
        for (size_t a = 0; a < qd->naggs; a++) {
            const ls_agg_spec *s = &qd->aggs[a];
            const char *fn = ls_agg_fn_name(s->fn);
            if (a) ls_buf_puts(b, ", ");
            ls_buf_puts(b, fn);
            if (s->column) {
                ls_buf_putc(b, '(');
                put_col(b, &qd->agg_cols[a]);
                ls_buf_putc(b, ')');
            }
            /* the output name, when not Spark's default (count, sum(c), ...) */
            ls_buf dflt;
            ls_buf_init(&dflt);
            if (s->column) ls_buf_printf(&dflt, "%s(%s)", fn, s->column);
            else ls_buf_puts(&dflt, fn);
            if (strcmp(dflt.data, s->name) != 0) {
                ls_buf_puts(b, " as ");
                put_safe(b, s->name);
            }
            ls_buf_free(&dflt);
        }
        ls_buf_putc(b, '\n');
    }
    label(b, "output mode");
    if (qd->per_record)
        ls_buf_puts(b, qd->map_ref != LUA_NOREF
                           ? "append: the map's rows as JSON, written as each record is read\n"
                           : "append: each record that passes, as it came (its bytes), written as "
                             "it is read\n");
    else if (qd->mode == LS_MODE_COMPLETE)
        ls_buf_puts(b, "complete: every group, each batch\n");
    else if (qd->mode == LS_MODE_UPDATE)
        ls_buf_puts(b, "update: the groups a batch changed\n");
    else
        ls_buf_puts(b, "append: each group once, when the watermark passes it\n");
    if (qd->per_record && qd->njoins) {
        label(b, "");
        ls_buf_puts(b, "(joined columns added to each row)\n");
    }
    if (qd->norder) {
        label(b, "order by");
        for (size_t i = 0; i < qd->norder; i++) {
            if (i) ls_buf_puts(b, ", ");
            put_safe(b, ls_query_out_name(q, qd->order[i].col));
            if (qd->order[i].desc) ls_buf_puts(b, " desc");
        }
        ls_buf_putc(b, '\n');
    }
    if (qd->limit) {
        label(b, "limit");
        ls_buf_printf(b, "%lld rows\n", (long long)qd->limit);
    }
    if (!qd->per_record) {
        label(b, "state");
        ls_buf_printf(b, "%d hash partitions, ", ls_state_nparts(ls_query_state_c(q)));
        if (qd->max_state_rows) ls_buf_printf(b, "at most %lld groups\n", (long long)qd->max_state_rows);
        else ls_buf_puts(b, "no cap on groups\n");
        const char *app = ls_engine_app(e);
        if (app) { /* a job's members: ls_shuffle.h */
            int n = ls_state_nparts(ls_query_state_c(q));
            label(b, "stages");
            ls_buf_printf(b, "2: partial groups of each batch through topic %s-%s-repartition, "
                          "state partitions in compacted topic %s-%s-changelog (%d partitions "
                          "each, created at start when missing)\n", app, qd->name, app, qd->name, n);
        }
    }
    const ls_sink_plan *sp = ls_sink_plan_of(qd->sink);
    label(b, "sink");
    sink_text(b, sp, q, ls_engine_checkpoint_dir(e) != NULL);
    ls_buf_putc(b, '\n');
    sink_kafka_lines(b, sp, q);
    label(b, "Lua per record");
    const char *why = lua_reason(q);
    if (why) ls_buf_printf(b, "yes (%s)", why);
    else ls_buf_puts(b, "no");
    if (console_format(q)) ls_buf_puts(b, "; Lua per output row (console format)");
    ls_buf_putc(b, '\n');
}

void ls_explain_text(const ls_engine *e, const ls_engine_opts *o, ls_buf *b)
{
    ls_buf_puts(b, "plan of ");
    put_safe(b, ls_engine_script(e));
    ls_buf_puts(b, " (nothing was connected or opened)\n");
    label(b, "trigger");
    trigger_text(b, e);
    ls_buf_putc(b, '\n');
    label(b, "checkpoint");
    if (ls_engine_checkpoint_dir(e)) {
        put_safe(b, ls_engine_checkpoint_dir(e));
        ls_buf_puts(b, checkpoint_exists(e) ? " (exists: a run resumes from it)"
                                            : " (does not exist: a run creates it)");
    } else {
        ls_buf_puts(b, "none: a run starts from the starting offsets, with empty state");
    }
    ls_buf_putc(b, '\n');
    int any_lua = 0;
    for (size_t i = 0; i < ls_engine_plan_c(e)->nqueries; i++) any_lua |= ls_query_needs_table(ls_engine_plan_c(e)->queries[i]);
    label(b, "parallelism");
    if (o && o->parallelism > 1)
        ls_buf_printf(b, "%d worker threads%s\n", o->parallelism,
                      any_lua ? ", each loading the script again for its own Lua state" : "");
    else
        ls_buf_puts(b, "1 (every record on the engine thread)\n");
    label(b, "dead letters");
    sink_text(b, ls_sink_plan_of(ls_engine_plan_c(e)->dl_plan), NULL, ls_engine_checkpoint_dir(e) != NULL);
    ls_buf_putc(b, '\n');
    label(b, "Lua per record");
    if (!any_lua) {
        ls_buf_puts(b, "no: every query reads its fields in C\n");
    } else {
        ls_buf_puts(b, "yes, for ");
        int first = 1, schema = 0;
        for (size_t i = 0; i < ls_engine_plan_c(e)->nqueries; i++) {
            const ls_query *q = ls_engine_plan_c(e)->queries[i];
            if (!ls_query_needs_table(q)) continue;
            if (!first) ls_buf_puts(b, ", ");
            first = 0;
            schema |= ls_source_declared(ls_query_declared(q)->source)->schema != NULL;
            put_safe(b, ls_query_declared(q)->name);
            ls_buf_printf(b, " (%s)", lua_reason(q));
        }
        ls_buf_printf(b, ": each record of its source is decoded%s into a Lua table\n",
                      schema ? "" : " whole");
    }
    for (size_t i = 0; i < ls_engine_plan_c(e)->nsources; i++) source_text(b, e, i);
    for (size_t i = 0; i < ls_engine_plan_c(e)->ntables; i++) table_text(b, e, i);
    for (size_t i = 0; i < ls_engine_plan_c(e)->nqueries; i++) query_text(b, e, ls_engine_plan_c(e)->queries[i]);
}

/* ---- JSON -------------------------------------------------------------------- */

/* A string as valid JSON text: invalid UTF-8 bytes become U+FFFD. */
static void jstrn(yajl_gen g, const char *s, size_t n)
{
    if (ls_utf8_valid(s, n)) {
        yajl_gen_string(g, (const unsigned char *)s, n);
        return;
    }
    ls_buf t;
    ls_buf_init(&t);
    for (size_t i = 0; i < n;) {
        size_t len = utf8_char(s + i, n - i);
        if (len) ls_buf_append(&t, s + i, len);
        else ls_buf_puts(&t, "\xEF\xBF\xBD");
        i += len ? len : 1;
    }
    yajl_gen_string(g, (const unsigned char *)(t.data ? t.data : ""), t.len);
    ls_buf_free(&t);
}

static void jstr(yajl_gen g, const char *s)
{
    if (s) jstrn(g, s, strlen(s));
    else yajl_gen_null(g);
}

static void jkey(yajl_gen g, const char *k) { yajl_gen_string(g, (const unsigned char *)k, strlen(k)); }

static void kv_str(yajl_gen g, const char *k, const char *v)
{
    jkey(g, k);
    jstr(g, v);
}

static void kv_int(yajl_gen g, const char *k, int64_t v)
{
    jkey(g, k);
    yajl_gen_integer(g, (long long)v);
}

/* An integer, or null when it is 0 (no limit). */
static void kv_int_or_null(yajl_gen g, const char *k, int64_t v)
{
    jkey(g, k);
    if (v) yajl_gen_integer(g, (long long)v);
    else yajl_gen_null(g);
}

static void kv_bool(yajl_gen g, const char *k, int v)
{
    jkey(g, k);
    yajl_gen_bool(g, v != 0);
}

static void j_names(yajl_gen g, const names *ns)
{
    yajl_gen_array_open(g);
    for (size_t i = 0; i < ns->n; i++) jstr(g, ns->v[i]);
    yajl_gen_array_close(g);
}

/* An object of the pairs in p, sorted by name; with hide, the values of
 * secret properties are not shown. */
static void j_props(yajl_gen g, const ls_props *p, int hide)
{
    yajl_gen_map_open(g);
    if (p) {
        size_t *ix = sorted_props(p);
        for (size_t k = 0; k < p->n; k++) {
            size_t i = ix[k];
            jstr(g, p->names[i]);
            jstr(g, hide && ls_kafka_is_secret(p->names[i]) ? "(secret, not shown)" : p->values[i]);
        }
        free(ix);
    }
    yajl_gen_map_close(g);
}

/* A column reference: its name, and where it comes from when not the record. */
static void j_col(yajl_gen g, const ls_colref *c)
{
    yajl_gen_map_open(g);
    kv_str(g, "column", c->name);
    kv_str(g, "from", c->meta ? "kafka_metadata" : c->join >= 0 ? "join" : "record");
    if (c->join >= 0) kv_int(g, "join", c->join + 1);
    yajl_gen_map_close(g);
}

static void j_sink(yajl_gen g, const ls_sink_plan *p, const ls_query *q, int cp)
{
    const ls_query_decl *qd = ls_query_declared(q);
    static const char *kinds[] = { "console", "jsonl", "kafka", "stderr" };
    yajl_gen_map_open(g);
    kv_str(g, "type", p ? kinds[p->kind] : NULL);
    if (p && p->kind == LS_PLAN_CONSOLE) {
        kv_int(g, "num_rows", p->num_rows);
        kv_bool(g, "truncate", p->truncate);
        kv_bool(g, "format", p->format);
    } else if (p && p->kind == LS_PLAN_JSONL) {
        kv_str(g, "path", p->path);
        kv_bool(g, "exactly_once", cp || p->parts);
        kv_bool(g, "per_partition", p->parts);
    } else if (p && p->kind == LS_PLAN_KAFKA) {
        kv_str(g, "topic", p->topic);
        kv_bool(g, "topic_function", q && qd->route.topic_fn != LUA_NOREF);
        kv_str(g, "bootstrap", p->bootstrap);
        kv_bool(g, "exactly_once", p->txn_id != NULL);
        kv_str(g, "transactional_id", p->txn_id);
        if (q) {
            jkey(g, "key");
            if (!qd->per_record) jstr(g, "group_key");
            else if (qd->route.has_key_col) j_col(g, &qd->route.key_col);
            else yajl_gen_null(g);
            jkey(g, "headers");
            ls_props h = { qd->route.nheaders, qd->route.hnames, qd->route.hvals };
            j_props(g, &h, 0);
        }
        jkey(g, "kafka");
        j_props(g, p->props, 1);
    }
    yajl_gen_map_close(g);
}

static void j_value(yajl_gen g, const ls_value *v)
{
    if (v->type == LS_STR) jstrn(g, v->u.s.p, v->u.s.n);
    else ls_value_json(g, v);
}

static void j_source(yajl_gen g, const ls_engine *e, size_t si)
{
    const ls_source *s = ls_engine_plan_c(e)->sources[si];
    const ls_source_decl *sd = ls_source_declared(s);
    const ls_decode_plan *plan = ls_engine_decode_plan(e, si);
    yajl_gen_map_open(g);
    kv_int(g, "id", (int64_t)si + 1);
    kv_str(g, "name", sd->name);
    kv_str(g, "kind", sd->is_files ? "files" : "kafka");
    if (sd->is_files) {
        kv_str(g, "path", sd->path);
        kv_str(g, "format", ls_file_format_name(sd->format));
        kv_int_or_null(g, "max_files_per_trigger", sd->max_files);
        kv_int(g, "polling_ms", sd->polling_ms);
    }
    jkey(g, "topics");
    yajl_gen_array_open(g);
    for (size_t t = 0; t < sd->ntopics; t++) jstr(g, sd->topics[t]);
    yajl_gen_array_close(g);
    kv_str(g, "bootstrap", sd->bootstrap);
    kv_str(g, "starting_offsets", sd->start_latest ? "latest" : "earliest");
    kv_int_or_null(g, "max_records_per_trigger", sd->max_per_trigger);
    kv_int(g, "max_record_bytes", (int64_t)sd->max_record_bytes);
    kv_int(g, "connect_timeout_ms", sd->connect_timeout_ms);
    kv_str(g, "group_id", sd->group_id);
    jkey(g, "kafka");
    j_props(g, &sd->props, 1);
    jkey(g, "schema");
    if (!sd->schema) {
        yajl_gen_null(g);
    } else {
        ls_props sp = { 0 }; /* names and type names, sorted like properties */
        for (size_t f = 0; f < sd->schema->fields->n; f++)
            ls_props_set(&sp, sd->schema->fields->names[f], ls_type_name(sd->schema->types[f]));
        j_props(g, &sp, 0);
        ls_props_free(&sp);
    }
    jkey(g, "decoding");
    yajl_gen_map_open(g);
    jkey(g, "projection");
    if (plan->needs_view) {
        yajl_gen_array_open(g);
        for (size_t f = 0; f < plan->fields->n; f++) jstr(g, plan->fields->names[f]);
        yajl_gen_array_close(g);
    } else {
        yajl_gen_null(g);
    }
    kv_bool(g, "lua_table", plan->needs_lua);
    kv_bool(g, "metadata_table", plan->needs_meta);
    yajl_gen_map_close(g);
    jkey(g, "queries");
    yajl_gen_array_open(g);
    for (size_t i = 0; i < ls_engine_plan_c(e)->nqueries; i++)
        if (ls_query_declared(ls_engine_plan_c(e)->queries[i])->source == s) jstr(g, ls_query_declared(ls_engine_plan_c(e)->queries[i])->name);
    yajl_gen_array_close(g);
    yajl_gen_map_close(g);
}

static void j_table(yajl_gen g, const ls_engine *e, size_t ti)
{
    const ls_table *t = ls_engine_plan_c(e)->tables[ti];
    yajl_gen_map_open(g);
    kv_int(g, "id", (int64_t)ti + 1);
    kv_str(g, "path", t->path);
    kv_str(g, "key", t->key);
    kv_int(g, "rows", (int64_t)t->nrows);
    jkey(g, "columns");
    yajl_gen_array_open(g);
    for (size_t c = 0; c < t->ncols; c++) jstr(g, t->cols[c]);
    yajl_gen_array_close(g);
    yajl_gen_map_close(g);
}

static void j_query(yajl_gen g, const ls_engine *e, const ls_query *q)
{
    const ls_query_decl *qd = ls_query_declared(q);
    int table = ls_query_needs_table(q);
    yajl_gen_map_open(g);
    kv_str(g, "name", qd->name);
    kv_int(g, "source", (int64_t)source_no(e, qd->source));
    kv_str(g, "kind", qd->per_record ? "per_record" : "aggregation");
    kv_str(g, "decoding", table ? "lua_table" : "projection");
    names fields = { 0 }, meta = { 0 };
    query_columns(q, &fields, &meta);
    jkey(g, "fields");
    if (table) yajl_gen_null(g);
    else j_names(g, &fields);
    jkey(g, "metadata_columns");
    j_names(g, &meta);
    free(fields.v);
    free(meta.v);
    jkey(g, "where");
    yajl_gen_array_open(g);
    for (size_t i = 0; i < qd->nwhere; i++) {
        const ls_where_pred *p = &qd->where[i];
        yajl_gen_map_open(g);
        kv_str(g, "column", p->col.name);
        kv_str(g, "op", ls_where_op_name(p->w.op));
        jkey(g, "values");
        yajl_gen_array_open(g);
        for (size_t k = 0; k < p->w.nvals; k++) j_value(g, &p->w.vals[k]);
        yajl_gen_array_close(g);
        yajl_gen_map_close(g);
    }
    yajl_gen_array_close(g);
    jkey(g, "map");
    if (qd->map_ref != LUA_NOREF) {
        yajl_gen_map_open(g);
        kv_bool(g, "metadata", qd->map_meta);
        yajl_gen_map_close(g);
    } else {
        yajl_gen_null(g);
    }
    jkey(g, "joins");
    yajl_gen_array_open(g);
    for (size_t j = 0; j < qd->njoins; j++) {
        const ls_join *jn = &qd->joins[j];
        yajl_gen_map_open(g);
        kv_int(g, "table", (int64_t)table_no(e, jn->table));
        kv_str(g, "how", jn->inner ? "inner" : "left");
        jkey(g, "on");
        j_col(g, &jn->left);
        kv_str(g, "table_key", jn->table->key);
        jkey(g, "columns");
        yajl_gen_array_open(g);
        for (size_t k = 0; k < jn->ncols; k++) jstr(g, jn->table->cols[jn->tcols[k]]);
        yajl_gen_array_close(g);
        yajl_gen_map_close(g);
    }
    yajl_gen_array_close(g);
    jkey(g, "event_time");
    if (qd->has_event_time) {
        yajl_gen_map_open(g);
        kv_str(g, "column", qd->event_time.name);
        kv_str(g, "unit", qd->event_time_ms_unit ? "ms" : "s");
        yajl_gen_map_close(g);
    } else {
        yajl_gen_null(g);
    }
    jkey(g, "watermark_ms");
    if (qd->has_watermark) yajl_gen_integer(g, (long long)qd->watermark_ms);
    else yajl_gen_null(g);
    kv_bool(g, "drops_late_rows", qd->late_filter);
    jkey(g, "window");
    if (qd->window_idx >= 0) {
        const ls_groupcol *gc = &qd->groups[qd->window_idx];
        yajl_gen_map_open(g);
        kv_str(g, "kind", gc->is_session ? "session" : "time");
        kv_str(g, "column", gc->col.name);
        if (gc->is_session) {
            kv_int(g, "gap_ms", gc->win.size);
        } else {
            kv_int(g, "size_ms", gc->win.size);
            kv_int(g, "slide_ms", gc->win.slide);
        }
        yajl_gen_map_close(g);
    } else {
        yajl_gen_null(g);
    }
    jkey(g, "group_by");
    yajl_gen_array_open(g);
    for (size_t i = 0; i < qd->ngroups; i++) jstr(g, qd->groups[i].name);
    yajl_gen_array_close(g);
    jkey(g, "aggregates");
    yajl_gen_array_open(g);
    for (size_t a = 0; a < qd->naggs; a++) {
        yajl_gen_map_open(g);
        kv_str(g, "fn", ls_agg_fn_name(qd->aggs[a].fn));
        kv_str(g, "column", qd->aggs[a].column);
        kv_str(g, "name", qd->aggs[a].name);
        yajl_gen_map_close(g);
    }
    yajl_gen_array_close(g);
    kv_str(g, "output_mode", ls_mode_name(qd->mode));
    jkey(g, "order_by");
    yajl_gen_array_open(g);
    for (size_t i = 0; i < qd->norder; i++) {
        yajl_gen_map_open(g);
        kv_str(g, "column", ls_query_out_name(q, qd->order[i].col));
        kv_bool(g, "desc", qd->order[i].desc);
        yajl_gen_map_close(g);
    }
    yajl_gen_array_close(g);
    kv_int_or_null(g, "limit", qd->limit);
    jkey(g, "state");
    if (qd->per_record) {
        yajl_gen_null(g);
    } else {
        yajl_gen_map_open(g);
        kv_int(g, "partitions", ls_state_nparts(ls_query_state_c(q)));
        kv_int_or_null(g, "max_state_rows", qd->max_state_rows);
        yajl_gen_map_close(g);
    }
    jkey(g, "sink");
    j_sink(g, ls_sink_plan_of(qd->sink), q, ls_engine_checkpoint_dir(e) != NULL);
    kv_bool(g, "lua_per_record", table);
    kv_bool(g, "lua_per_output_row", console_format(q));
    yajl_gen_map_close(g);
}

void ls_explain_json(const ls_engine *e, const ls_engine_opts *o, ls_buf *out)
{
    yajl_gen g = yajl_gen_alloc(NULL);
    yajl_gen_map_open(g);
    kv_str(g, "script", ls_engine_script(e));
    int from_flag = 0;
    const ls_trigger *t = ls_engine_trigger(e, &from_flag);
    jkey(g, "trigger");
    yajl_gen_map_open(g);
    kv_str(g, "kind", t->kind == LS_TRIGGER_ONCE            ? "once"
                      : t->kind == LS_TRIGGER_AVAILABLE_NOW ? "available-now"
                                                                    : "interval");
    kv_int(g, "interval_ms", t->interval_ms);
    kv_bool(g, "from_command_line", from_flag);
    yajl_gen_map_close(g);
    jkey(g, "checkpoint");
    if (ls_engine_checkpoint_dir(e)) {
        yajl_gen_map_open(g);
        kv_str(g, "dir", ls_engine_checkpoint_dir(e));
        kv_bool(g, "exists", checkpoint_exists(e));
        yajl_gen_map_close(g);
    } else {
        yajl_gen_null(g);
    }
    kv_int(g, "parallelism", o && o->parallelism > 1 ? o->parallelism : 1);
    jkey(g, "dead_letter");
    j_sink(g, ls_sink_plan_of(ls_engine_plan_c(e)->dl_plan), NULL, ls_engine_checkpoint_dir(e) != NULL);
    int any_lua = 0;
    for (size_t i = 0; i < ls_engine_plan_c(e)->nqueries; i++) any_lua |= ls_query_needs_table(ls_engine_plan_c(e)->queries[i]);
    kv_bool(g, "lua_per_record", any_lua);
    jkey(g, "sources");
    yajl_gen_array_open(g);
    for (size_t i = 0; i < ls_engine_plan_c(e)->nsources; i++) j_source(g, e, i);
    yajl_gen_array_close(g);
    jkey(g, "tables");
    yajl_gen_array_open(g);
    for (size_t i = 0; i < ls_engine_plan_c(e)->ntables; i++) j_table(g, e, i);
    yajl_gen_array_close(g);
    jkey(g, "queries");
    yajl_gen_array_open(g);
    for (size_t i = 0; i < ls_engine_plan_c(e)->nqueries; i++) j_query(g, e, ls_engine_plan_c(e)->queries[i]);
    yajl_gen_array_close(g);
    yajl_gen_map_close(g);
    const unsigned char *p;
    size_t n;
    yajl_gen_get_buf(g, &p, &n);
    ls_buf_append(out, p, n);
    if (n && p[n - 1] != '\n') ls_buf_putc(out, '\n');
    yajl_gen_free(g);
}

/* ---- the command ------------------------------------------------------------ */

int ls_explain(const ls_engine_opts *o, int json, FILE *out, ls_err *err)
{
    ls_engine_opts eo = *o;
    eo.explain = 1;
    /* What the script prints while it loads goes to stderr: stdout is the plan's. */
    int saved = -1;
    if (out == stdout) {
        fflush(stdout);
        saved = dup(STDOUT_FILENO);
        if (saved >= 0 && dup2(STDERR_FILENO, STDOUT_FILENO) < 0) {
            close(saved);
            saved = -1;
        }
    }
    ls_engine *e = ls_engine_new(&eo, err);
    if (saved >= 0) {
        fflush(stdout);
        dup2(saved, STDOUT_FILENO);
        close(saved);
    }
    if (!e) return 2;
    /* A run checks its consumers' properties when it connects: check them
     * now, one by one as librdkafka reads them, with no client made. */
    for (size_t i = 0; i < ls_engine_plan_c(e)->nsources; i++) {
        ls_err why;
        const ls_source_decl *d = ls_source_declared(ls_engine_plan_c(e)->sources[i]);
        if (d->is_files) continue;
        rd_kafka_conf_t *conf = ls_kafka_conf(d->bootstrap, &d->props, &why);
        if (!conf) {
            ls_seterr(err, "source %zu (%s): %s", i + 1, d->name, why.msg);
            ls_engine_free(e);
            return 2;
        }
        rd_kafka_conf_destroy(conf);
    }
    ls_buf b;
    ls_buf_init(&b);
    if (json) ls_explain_json(e, &eo, &b);
    else ls_explain_text(e, &eo, &b);
    ls_engine_free(e);
    errno = 0;
    int ok = fwrite(b.data, 1, b.len, out) == b.len;
    ok = fflush(out) == 0 && ok;
    ls_buf_free(&b);
    if (!ok && errno != EPIPE) {
        ls_seterr(err, "cannot write the plan: %s", strerror(errno ? errno : EIO));
        return 1;
    }
    return 0;
}
