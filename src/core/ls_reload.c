/* ls_reload.c - hot reload: a running job takes a new version of its
 * script between two batches, keeping its state (see ls_reload.h).
 *
 * Two loads of the new script. The first compiles it with its sinks kept
 * in memory (nothing opened, nothing written, prints muted) only to decide:
 * every query must keep its name, place, source and what its state is made
 * of (grouping, windows, aggregates, output mode, event time, watermark),
 * and every source its declaration; otherwise the reload is refused with
 * the first difference and the running script goes on. The second load is
 * the real one (its sinks open, its prints show). Then the new queries take
 * over the old ones' state, watermarks, ids and batch numbers and the old
 * sources (their consumers and positions stay open); everything else (maps,
 * filters, joins and their tables, sinks, dead letters, the Lua state, the
 * decoding plan, the workers) is the new script's, and the old is freed. */
#include "ls_reload.h"
#include "ls_engine_impl.h"

#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ls_cast.h"
#include "ls_lua_api.h"

static int by_text(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Everything a source's records and positions depend on, as text (a
 * schema's columns sorted: a Lua table has no order). */
static void source_shape(const ls_source *s, ls_buf *out)
{
    const ls_source_decl *sd = ls_source_declared(s);
    ls_buf_printf(out, "%s", sd->name ? sd->name : "?");
    if (sd->is_files) ls_buf_printf(out, " format %s", ls_file_format_name(sd->format));
    else ls_buf_printf(out, " at %s from %s", sd->bootstrap, sd->start_latest ? "latest" : "earliest");
    if (!sd->schema) return;
    size_t n = sd->schema->fields->n;
    char **cols = ls_xcalloc(n + 1, sizeof *cols);
    for (size_t i = 0; i < n; i++) {
        ls_buf c;
        ls_buf_init(&c);
        ls_buf_printf(&c, "%s:%s", sd->schema->fields->names[i], ls_type_name(sd->schema->types[i]));
        cols[i] = c.data;
    }
    qsort(cols, n, sizeof *cols, by_text);
    ls_buf_puts(out, " schema");
    for (size_t i = 0; i < n; i++) {
        ls_buf_printf(out, " %s", cols[i]);
        free(cols[i]);
    }
    free(cols);
}

static size_t source_index(const ls_plan *p, const ls_source *s)
{
    for (size_t i = 0; i < p->nsources; i++)
        if (p->sources[i] == s) return i;
    return 0;
}

/* 1 when new can take over old's state; 0 with why saying what changed. */
static int compatible(const ls_plan *old, const ls_plan *new, ls_err *why)
{
    if (new->nsources != old->nsources) {
        ls_seterr(why, "the script declares %zu source%s, the running one %zu", new->nsources,
                  new->nsources == 1 ? "" : "s", old->nsources);
        return 0;
    }
    ls_buf a, b;
    ls_buf_init(&a);
    ls_buf_init(&b);
    int ok = 1;
    for (size_t i = 0; ok && i < old->nsources; i++) {
        ls_buf_reset(&a);
        ls_buf_reset(&b);
        source_shape(old->sources[i], &a);
        source_shape(new->sources[i], &b);
        if (strcmp(a.data, b.data) != 0) {
            ls_seterr(why, "source %zu changed from %s to %s", i + 1, a.data, b.data);
            ok = 0;
        }
    }
    if (ok && new->nqueries != old->nqueries) {
        ls_seterr(why, "the script declares %zu quer%s, the running one %zu", new->nqueries,
                  new->nqueries == 1 ? "y" : "ies", old->nqueries);
        ok = 0;
    }
    for (size_t i = 0; ok && i < old->nqueries; i++) {
        const ls_query *o = old->queries[i], *n = new->queries[i];
        if (strcmp(ls_query_declared(o)->name, ls_query_declared(n)->name) != 0) {
            ls_seterr(why, "query %zu is %s, the running one's is %s (queries keep their names "
                      "and order)", i + 1, ls_query_declared(n)->name, ls_query_declared(o)->name);
            ok = 0;
            break;
        }
        if (source_index(old, ls_query_declared(o)->source) != source_index(new, ls_query_declared(n)->source)) {
            ls_seterr(why, "query %s reads another source", ls_query_declared(o)->name);
            ok = 0;
            break;
        }
        ls_buf_reset(&a);
        ls_buf_reset(&b);
        ls_query_shape(o, &a);
        ls_query_shape(n, &b);
        if (strcmp(a.data, b.data) != 0) {
            /* the first line that differs */
            const char *x = a.data, *y = b.data;
            while (*x && *x == *y) {
                const char *nx = strchr(x, '\n'), *ny = strchr(y, '\n');
                if (!nx || !ny || nx - x != ny - y || strncmp(x, y, (size_t)(nx - x)) != 0) break;
                x = nx + 1;
                y = ny + 1;
            }
            ls_seterr(why, "query %s: %.*s became %.*s (its state could not be kept)", ls_query_declared(o)->name,
                      (int)strcspn(x, "\n"), x, (int)strcspn(y, "\n"), y);
            ok = 0;
        }
    }
    ls_buf_free(&a);
    ls_buf_free(&b);
    return ok;
}

/* The script compiled into a new plan (its sinks in memory when capture,
 * its prints muted then). */
static ls_plan *load(const ls_engine *e, const ls_engine_opts *o, int capture, ls_err *err)
{
    lua_State *L = luaL_newstate();
    ls_lua_env env;
    ls_engine_lua_env(o, &env);
    ls_lua_setup(L, &env);
    ls_plan *p = ls_plan_new(L);
    int rc = capture ? ls_lua_run_script_muted(L, e->script, err) : ls_lua_run_script(L, e->script, err);
    ls_plan_opts po = { e->script, e->checkpoint_dir, e->partitions, e->max_state_rows, capture, 0,
                        NULL, NULL }; /* a reload never runs with --app (ls_engine.c) */
    if (rc == 0) rc = ls_lua_compile(p, &po, err);
    if (rc) {
        ls_plan_free(p);
        return NULL;
    }
    return p;
}

/* What a source may change in place: its caps and polling. */
static void adopt_source_options(ls_source *s, const ls_source *n)
{
    ls_source_decl *d = ls_source_decl_of(s);
    const ls_source_decl *nd = ls_source_declared(n);
    d->max_per_trigger = nd->max_per_trigger;
    d->max_files = nd->max_files;
    d->polling_ms = nd->polling_ms;
    d->max_record_bytes = nd->max_record_bytes;
}

int ls_reload(ls_engine *e, const ls_engine_opts *o, ls_err *fatal)
{
    ls_err why;
    ls_plan *t = load(e, o, 1, &why);
    if (!t) {
        ls_log("reload of %s refused: %s (the running script goes on)", e->script, why.msg);
        return 1;
    }
    int ok = compatible(e->plan, t, &why);
    ls_plan_free(t);
    if (!ok) {
        ls_log("reload of %s refused: %s (the running script goes on)", e->script, why.msg);
        return 1;
    }
    ls_plan *n = load(e, o, 0, &why);
    if (!n) {
        ls_log("reload of %s refused: %s (the running script goes on)", e->script, why.msg);
        return 1;
    }
    ls_plan *old = e->plan;
    /* the new queries, with the old state, reading the old (open) sources:
     * the sources change places, the new plan's unopened ones go with the old */
    for (size_t i = 0; i < n->nqueries; i++)
        ls_query_take_over(n->queries[i], old->queries[i],
                           old->sources[source_index(n, ls_query_declared(n->queries[i])->source)]);
    for (size_t i = 0; i < n->nsources; i++) {
        adopt_source_options(old->sources[i], n->sources[i]);
        ls_source *unopened = n->sources[i];
        n->sources[i] = old->sources[i];
        old->sources[i] = unopened;
    }
    if (e->workers) {
        ls_workers_free(e->workers);
        e->workers = NULL;
    }
    ls_err derr;
    if (ls_deadletter_flush(old->dl, &derr)) ls_log("%s", derr.msg);
    e->plan = n;
    ls_plan_free(old); /* queries and sinks, tables, dead letters, producers, Lua state */
    if (!e->has_trigger_override) {
        ls_trigger t0 = { LS_TRIGGER_INTERVAL, 0 };
        e->trigger = n->has_trigger ? n->trigger : t0;
    }
    ls_engine_replan(e);
    if (e->cp) {
        ls_engine_sync_outputs(e);
        ls_checkpoint_adopt(e->cp, e->plan);
    }
    if (o->parallelism > 1) {
        ls_lua_env env;
        ls_engine_lua_env(o, &env);
        e->workers = ls_workers_new(e->plan, e->plans, &env, o->parallelism, fatal);
        if (!e->workers) return -1;
    }
    ls_log("reloaded %s: %zu quer%s, state kept", e->script, n->nqueries,
           n->nqueries == 1 ? "y" : "ies");
    return 0;
}

int ls_reload_stat(const char *path, ls_file_stamp *st)
{
    struct stat s;
    if (stat(path, &s) != 0) return -1;
    st->mtime_ns = (int64_t)s.st_mtim.tv_sec * 1000000000 + s.st_mtim.tv_nsec;
    st->size = (int64_t)s.st_size;
    st->ino = (uint64_t)s.st_ino;
    return 0;
}
