/* ls_test.c - `luastream test` (see ls_test.h): inputs bound to sources,
 * one available-now run with sinks in memory, then the final rows printed,
 * written or compared with the expected ones. */
#include "ls_test.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yajl_gen.h>
#include <yajl_tree.h>

#include "ls_value.h"

#define MAX_DIFF_LINES 50

/* ---- canonical JSON --------------------------------------------------------- */

static void gen_number(yajl_gen g, yajl_val v, int by_value)
{
    const char *text = YAJL_GET_NUMBER(v);
    if (by_value && YAJL_IS_DOUBLE(v)) {
        double d = YAJL_GET_DOUBLE(v);
        char out[48];
        size_t n;
        if (d == (double)(long long)d && d > -9007199254740992.0 && d < 9007199254740992.0)
            n = (size_t)snprintf(out, sizeof out, "%lld", (long long)d);
        else
            n = ls_double_text(d, out);
        yajl_gen_number(g, out, n);
        return;
    }
    yajl_gen_number(g, text, strlen(text));
}

static void gen_canonical(yajl_gen g, yajl_val v, int by_value)
{
    if (YAJL_IS_OBJECT(v)) {
        size_t n = YAJL_GET_OBJECT(v)->len;
        const char **keys = YAJL_GET_OBJECT(v)->keys;
        /* sort indexes by key bytes */
        size_t *order = ls_xcalloc(n + 1, sizeof *order);
        for (size_t i = 0; i < n; i++) order[i] = i;
        for (size_t i = 1; i < n; i++)
            for (size_t j = i; j > 0 && strcmp(keys[order[j - 1]], keys[order[j]]) > 0; j--) {
                size_t t = order[j];
                order[j] = order[j - 1];
                order[j - 1] = t;
            }
        yajl_gen_map_open(g);
        for (size_t i = 0; i < n; i++) {
            const char *k = keys[order[i]];
            yajl_gen_string(g, (const unsigned char *)k, strlen(k));
            gen_canonical(g, YAJL_GET_OBJECT(v)->values[order[i]], by_value);
        }
        yajl_gen_map_close(g);
        free(order);
    } else if (YAJL_IS_ARRAY(v)) {
        yajl_gen_array_open(g);
        for (size_t i = 0; i < YAJL_GET_ARRAY(v)->len; i++)
            gen_canonical(g, YAJL_GET_ARRAY(v)->values[i], by_value);
        yajl_gen_array_close(g);
    } else if (YAJL_IS_STRING(v)) {
        const char *s = YAJL_GET_STRING(v);
        yajl_gen_string(g, (const unsigned char *)s, strlen(s));
    } else if (YAJL_IS_NUMBER(v)) {
        gen_number(g, v, by_value);
    } else if (YAJL_IS_TRUE(v)) {
        yajl_gen_bool(g, 1);
    } else if (YAJL_IS_FALSE(v)) {
        yajl_gen_bool(g, 0);
    } else {
        yajl_gen_null(g);
    }
}

int ls_test_canonical(const char *json, size_t len, int numbers_by_value, ls_buf *out, ls_err *err)
{
    char *text = ls_xstrndup(json, len); /* yajl_tree wants a terminated string */
    char why[256];
    yajl_val v = yajl_tree_parse(text, why, sizeof why);
    free(text);
    if (!v) {
        ls_seterr(err, "not JSON: %.200s", why[0] ? why : "parse error");
        /* the message may span lines */
        for (char *p = err->msg; *p; p++)
            if (*p == '\n') *p = ' ';
        return -1;
    }
    yajl_gen g = yajl_gen_alloc(NULL);
    gen_canonical(g, v, numbers_by_value);
    ls_json_take(g, out);
    yajl_gen_free(g);
    yajl_tree_free(v);
    return 0;
}

/* ---- row sets ------------------------------------------------------------------ */

typedef struct row {
    char *shown; /* as written / printed */
    char *key;   /* canonical by value: what comparisons use */
} row;

typedef struct rowset {
    row *v;
    size_t n, cap;
} rowset;

static int add_row(rowset *rs, const char *json, size_t len, ls_err *err)
{
    ls_buf shown, key;
    ls_buf_init(&shown);
    ls_buf_init(&key);
    if (ls_test_canonical(json, len, 0, &shown, err) ||
        ls_test_canonical(json, len, 1, &key, err)) {
        ls_buf_free(&shown);
        ls_buf_free(&key);
        return -1;
    }
    if (rs->n == rs->cap) {
        rs->cap = rs->cap ? rs->cap * 2 : 64;
        rs->v = ls_xrealloc(rs->v, rs->cap * sizeof *rs->v);
    }
    rs->v[rs->n++] = (row){ shown.data ? shown.data : ls_xstrdup(""),
                            key.data ? key.data : ls_xstrdup("") };
    return 0;
}

static int by_key(const void *a, const void *b)
{
    const row *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    return c ? c : strcmp(x->shown, y->shown);
}

static void free_rows(rowset *rs)
{
    for (size_t i = 0; i < rs->n; i++) {
        free(rs->v[i].shown);
        free(rs->v[i].key);
    }
    free(rs->v);
    memset(rs, 0, sizeof *rs);
}

/* Lines of text (blank ones skipped) into rs; where names the text in errors. */
static int add_lines(rowset *rs, const char *text, size_t len, const char *where, ls_err *err)
{
    size_t pos = 0;
    long line = 0;
    while (pos < len) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - text) : len;
        line++;
        size_t k = pos;
        while (k < end && (text[k] == ' ' || text[k] == '\t' || text[k] == '\r')) k++;
        if (k < end) {
            ls_err why;
            if (add_row(rs, text + pos, end - pos, &why)) {
                ls_seterr(err, "%s:%ld: %s", where, line, why.msg);
                return -1;
            }
        }
        pos = end + 1;
    }
    return 0;
}

/* ---- inputs --------------------------------------------------------------------- */

/* The source SOURCE names: its number (1-based), one of its topics, or a
 * file source's path. -1 when none. */
static long source_named(const ls_engine *e, const char *name, size_t n)
{
    char *end;
    char *copy = ls_xstrndup(name, n);
    long num = strtol(copy, &end, 10);
    int numeric = n > 0 && *end == '\0';
    long found = -1;
    if (numeric && num >= 1 && (size_t)num <= ls_engine_plan_c(e)->nsources) found = num - 1;
    for (size_t i = 0; found < 0 && i < ls_engine_plan_c(e)->nsources; i++) {
        const ls_source *s = ls_engine_plan_c(e)->sources[i];
        if (ls_source_declared(s)->path && strcmp(ls_source_declared(s)->path, copy) == 0) found = (long)i;
        for (size_t t = 0; found < 0 && !ls_source_declared(s)->is_files && t < ls_source_declared(s)->ntopics; t++)
            if (strcmp(ls_source_declared(s)->topics[t], copy) == 0) found = (long)i;
    }
    free(copy);
    return found;
}

static void list_sources(const ls_engine *e, ls_buf *b)
{
    for (size_t i = 0; i < ls_engine_plan_c(e)->nsources; i++)
        ls_buf_printf(b, "%s%zu = %s", i ? ", " : "", i + 1, ls_source_declared(ls_engine_plan_c(e)->sources[i])->name);
}

static int ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), t = strlen(tail);
    return n >= t && strcmp(s + n - t, tail) == 0;
}

/* A file source reads its own format; a Kafka source reads message
 * envelopes from *.kafka.jsonl, a JSON document from *.json, else lines. */
static ls_file_format input_format(const ls_source *s, const char *path)
{
    if (ls_source_declared(s)->is_files) return ls_source_declared(s)->format;
    if (ends_with(path, ".kafka.jsonl")) return LS_FORMAT_KAFKA;
    return ends_with(path, ".json") ? LS_FORMAT_JSON : LS_FORMAT_NDJSON;
}

/* Gives every source its files; 2 on a usage error (printed). */
static int bind_inputs(ls_engine *e, const ls_test_opts *o)
{
    size_t ns = ls_engine_plan_c(e)->nsources;
    const char ***paths = ls_xcalloc(ns + 1, sizeof *paths);
    ls_file_format **formats = ls_xcalloc(ns + 1, sizeof *formats);
    size_t *counts = ls_xcalloc(ns + 1, sizeof *counts);
    int rc = 0;
    for (size_t i = 0; i < o->ninputs && rc == 0; i++) {
        const char *arg = o->inputs[i], *file = arg;
        const char *eq = strchr(arg, '=');
        long si = -1;
        if (eq) {
            si = source_named(e, arg, (size_t)(eq - arg));
            if (si >= 0) file = eq + 1;
        }
        struct stat st;
        if (si < 0 && eq && stat(arg, &st) != 0) {
            ls_buf b;
            ls_buf_init(&b);
            list_sources(e, &b);
            fprintf(stderr, "luastream: test: --input %s: no source is named %.*s (the script's "
                    "sources: %s)\n", arg, (int)(eq - arg), arg, b.data ? b.data : "none");
            ls_buf_free(&b);
            rc = 2;
            break;
        }
        if (si < 0) {
            if (ns != 1) {
                ls_buf b;
                ls_buf_init(&b);
                list_sources(e, &b);
                fprintf(stderr, "luastream: test: --input %s: %s; name the source as "
                        "--input SOURCE=FILE, SOURCE being its number or one of its topics (%s)\n",
                        arg, ns ? "the script has several sources" : "the script has no source",
                        b.data ? b.data : "none");
                ls_buf_free(&b);
                rc = 2;
                break;
            }
            si = 0;
        }
        const char *bad = stat(file, &st) != 0 ? strerror(errno)
                        : !S_ISREG(st.st_mode) ? "not a regular file" : NULL;
        if (bad) {
            fprintf(stderr, "luastream: test: --input %s: %s\n", arg, bad);
            rc = 2;
            break;
        }
        ls_file_records check; /* a bad input is a usage error, before anything runs */
        ls_err why;
        if (ls_file_records_load(file, input_format(ls_engine_plan_c(e)->sources[si], file), &check, &why)) {
            fprintf(stderr, "luastream: test: --input %s: %s\n", arg, why.msg);
            rc = 2;
            break;
        }
        ls_file_records_free(&check);
        size_t k = counts[si]++;
        paths[si] = ls_xrealloc(paths[si], counts[si] * sizeof **paths);
        formats[si] = ls_xrealloc(formats[si], counts[si] * sizeof **formats);
        paths[si][k] = file;
        formats[si][k] = input_format(ls_engine_plan_c(e)->sources[si], file);
    }
    for (size_t si = 0; si < ns; si++) {
        ls_source *s = ls_engine_plan_c(e)->sources[si];
        if (rc == 0) {
            if (!counts[si])
                ls_log("test: source %zu (%s) has no --input: it reads nothing", si + 1, ls_source_declared(s)->name);
            ls_source_use_files(s, paths[si], formats[si], counts[si]);
            ls_source_decl_of(s)->max_per_trigger = o->batch_size;
            ls_source_decl_of(s)->max_files = 0;
        }
        free(paths[si]);
        free(formats[si]);
    }
    free(paths);
    free(formats);
    free(counts);
    return rc;
}

/* ---- results ---------------------------------------------------------------------- */

static int collect_query(const ls_query *q, rowset *rs, ls_err *err)
{
    size_t n = ls_sink_memory_count(ls_query_declared(q)->sink);
    for (size_t i = 0; i < n; i++) {
        const char *r = ls_sink_memory_row(ls_query_declared(q)->sink, i);
        if (add_row(rs, r, strlen(r), err)) return -1;
    }
    qsort(rs->v, rs->n, sizeof *rs->v, by_key);
    return 0;
}

static int collect_dead_letters(ls_engine *e, rowset *rs, ls_err *err)
{
    size_t len;
    const char *text = ls_deadletter_text(ls_engine_plan_c(e)->dl, &len);
    if (add_lines(rs, text, len, "dead letters", err)) return -1;
    qsort(rs->v, rs->n, sizeof *rs->v, by_key);
    return 0;
}

static int write_rows(const char *path, const rowset *rs)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        ls_log("test: cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    for (size_t i = 0; i < rs->n; i++) fprintf(f, "%s\n", rs->v[i].shown);
    if (fclose(f) != 0) {
        ls_log("test: cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

static void print_rows(const char *title, const rowset *rs)
{
    printf("# %s: %zu row%s\n", title, rs->n, rs->n == 1 ? "" : "s");
    for (size_t i = 0; i < rs->n; i++) printf("%s\n", rs->v[i].shown);
}

/* Compares got with the rows of file (absent = none when may_be_absent).
 * Prints a verdict and the differing rows; returns 1 when they differ. */
static int compare(const char *title, const char *file, int may_be_absent, const rowset *got)
{
    ls_buf text;
    ls_buf_init(&text);
    ls_err err;
    rowset want = { 0 };
    struct stat st;
    int absent = stat(file, &st) != 0;
    if (absent && !may_be_absent) {
        printf("FAIL %s: no expected rows: %s is missing (write it with --output DIR)\n", title,
               file);
        ls_buf_free(&text);
        return 1;
    }
    if (!absent && (ls_read_file(file, &text, &err) ||
                    add_lines(&want, text.data ? text.data : "", text.len, file, &err))) {
        printf("FAIL %s: %s\n", title, err.msg);
        ls_buf_free(&text);
        free_rows(&want);
        return 1;
    }
    ls_buf_free(&text);
    qsort(want.v, want.n, sizeof *want.v, by_key);
    /* a merge of two sorted lists: rows only in one of them differ */
    size_t i = 0, j = 0, differ = 0, shown = 0;
    ls_buf out;
    ls_buf_init(&out);
    while (i < want.n || j < got->n) {
        int c = i == want.n ? 1 : j == got->n ? -1 : strcmp(want.v[i].key, got->v[j].key);
        if (c == 0) {
            i++;
            j++;
            continue;
        }
        differ++;
        if (shown++ < MAX_DIFF_LINES) {
            if (c < 0) ls_buf_printf(&out, "  - %s\n", want.v[i].shown);
            else ls_buf_printf(&out, "  + %s\n", got->v[j].shown);
        }
        if (c < 0) i++;
        else j++;
    }
    if (differ) {
        printf("FAIL %s: %zu row%s differ (expected %zu, got %zu; - expected only, "
               "+ produced only)\n%s", title, differ, differ == 1 ? "" : "s", want.n, got->n,
               out.data);
        if (shown > MAX_DIFF_LINES) printf("  ... and %zu more\n", shown - MAX_DIFF_LINES);
    } else {
        printf("ok   %s: %zu row%s\n", title, got->n, got->n == 1 ? "" : "s");
    }
    ls_buf_free(&out);
    free_rows(&want);
    return differ > 0;
}

/* Expected files of queries the script does not have: a renamed query. */
static int stray_expectations(const ls_engine *e, const char *dir)
{
    int bad = 0;
    ls_file_entry *l;
    size_t n;
    char pat[4096];
    ls_err err;
    snprintf(pat, sizeof pat, "%s/*.jsonl", dir);
    if (ls_files_list(pat, &l, &n, &err)) return 0;
    for (size_t i = 0; i < n; i++) {
        const char *base = strrchr(l[i].path, '/');
        base = base ? base + 1 : l[i].path;
        size_t bl = strlen(base) - 6;
        int known = bl == strlen("dead_letter") && strncmp(base, "dead_letter", bl) == 0;
        for (size_t q = 0; !known && q < ls_engine_plan_c(e)->nqueries; q++)
            known = strlen(ls_query_declared(ls_engine_plan_c(e)->queries[q])->name) == bl && strncmp(ls_query_declared(ls_engine_plan_c(e)->queries[q])->name, base, bl) == 0;
        if (!known) {
            printf("FAIL %s: expected rows for a query the script does not declare\n", l[i].path);
            bad = 1;
        }
    }
    ls_files_list_free(l, n);
    return bad;
}

static int report(ls_engine *e, const ls_test_opts *o)
{
    ls_err err;
    int differ = 0, failed = 0;
    if (o->output_dir && ls_mkdirs(o->output_dir, &err)) {
        ls_log("test: %s", err.msg);
        return 2;
    }
    ls_buf path;
    ls_buf_init(&path);
    for (size_t i = 0; i <= ls_engine_plan_c(e)->nqueries && !failed; i++) {
        rowset rs = { 0 };
        const char *name = i < ls_engine_plan_c(e)->nqueries ? ls_query_declared(ls_engine_plan_c(e)->queries[i])->name : "dead_letter";
        int ok = i < ls_engine_plan_c(e)->nqueries ? collect_query(ls_engine_plan_c(e)->queries[i], &rs, &err) == 0
                                 : collect_dead_letters(e, &rs, &err) == 0;
        if (!ok) {
            ls_log("test: query %s: a row is not JSON: %s", name, err.msg);
            failed = 1;
        } else {
            if (o->output_dir) {
                ls_buf_reset(&path);
                ls_buf_printf(&path, "%s/%s.jsonl", o->output_dir, name);
                failed |= write_rows(path.data, &rs) != 0;
            }
            if (o->expect_dir) {
                ls_buf_reset(&path);
                ls_buf_printf(&path, "%s/%s.jsonl", o->expect_dir, name);
                differ |= compare(i < ls_engine_plan_c(e)->nqueries ? name : "dead letters", path.data,
                                  i == ls_engine_plan_c(e)->nqueries, &rs);
            } else if (!o->output_dir) {
                print_rows(i < ls_engine_plan_c(e)->nqueries ? name : "dead letters", &rs);
            }
        }
        free_rows(&rs);
    }
    ls_buf_free(&path);
    if (o->expect_dir && !failed) differ |= stray_expectations(e, o->expect_dir);
    if (fflush(stdout) != 0) failed = 1;
    return failed ? 1 : differ ? 1 : 0;
}

int ls_test(const ls_test_opts *o)
{
    ls_err err = { "" };
    ls_engine_opts run = o->run;
    run.capture = 1;
    run.quiet = 1;
    run.trigger = "available-now";
    run.parallelism = 1;
    ls_engine *e = ls_engine_new(&run, &err);
    if (!e) {
        fprintf(stderr, "luastream: %s\n", err.msg);
        return 2;
    }
    int rc = bind_inputs(e, o);
    if (rc == 0 && ls_engine_run(e, &err)) {
        fprintf(stderr, "luastream: test: %s\n", err.msg);
        rc = 1;
    }
    if (rc == 0) rc = report(e, o);
    ls_engine_free(e);
    return rc;
}
