/* ls_sink_console.c - Spark-style console output:
 *
 *   -------------------------------------------
 *   Batch: 3
 *   -------------------------------------------
 *   +------+-----+
 *   |window|count|
 *   ...
 *
 * Rows are buffered per batch to size the columns; only the first num_rows
 * are kept, the rest are counted ("only showing top 20 rows"). Columns are
 * measured in display columns, not bytes (ls_textwidth: "日本" is 4 wide),
 * long cells are cut on character boundaries, and bytes that are not
 * printable UTF-8 show as U+FFFD, so the table lines up and stays valid
 * UTF-8. With a Lua `format`, the first num_rows rows are formatted, one
 * line each; a row on which format raises or returns no string is skipped:
 * counted, reported on stderr with the query and the row, never fatal (the
 * console is for looking, not for results). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ls_sink.h"
#include "ls_time.h"
#include "ls_textwidth.h"

#define MAX_REPORTED 3 /* format failures printed in full per batch */

typedef struct console_sink {
    ls_sink base;
    ls_console_opts opts;
    FILE *out, *errors;
    int64_t batch;
    size_t ncols;
    char **names;
    char **cells;      /* kept rows * ncols, owned, printable */
    size_t kept;       /* rows shown (table rows or formatted lines) */
    size_t total;
    size_t failed;     /* format failures in this batch */
    int records;       /* a per-record query's rows: JSON lines */
    ls_buf lines;      /* formatted mode: the lines of this batch */
} console_sink;

static void clear_cells(console_sink *c)
{
    for (size_t i = 0; i < c->kept * c->ncols; i++) free(c->cells[i]);
    free(c->cells);
    c->cells = NULL;
    c->kept = c->total = c->failed = 0;
    c->records = 0;
}

static int open_batch(ls_sink *s, int64_t batch_id, ls_err *err)
{
    (void)err;
    console_sink *c = (console_sink *)s;
    c->batch = batch_id;
    clear_cells(c);
    ls_buf_reset(&c->lines);
    return 0;
}

/* A timestamp as Spark's show() prints one (UTC): "2018-12-31 23:50:00",
 * with the milliseconds only when there are some (".5", ".25", ".125"). */
static void spark_time(ls_buf *out, int64_t ms)
{
    char t[40];
    size_t n = ls_time_format_ms(ms, t); /* 2018-12-31T23:50:00.000Z */
    if (n != 24 || t[10] != 'T') { /* a year outside 0..9999: as it comes */
        ls_buf_append(out, t, n);
        return;
    }
    t[10] = ' ';
    size_t keep = 19;
    if (memcmp(t + 19, ".000", 4) != 0) keep = t[22] != '0' ? 23 : t[21] != '0' ? 22 : 21;
    ls_buf_append(out, t, keep);
}

/* A value as the console shows it: timestamps and windows as Spark's
 * show() does ({start, end} of the window), the rest as everywhere. */
static void console_text(ls_buf *out, const ls_value *v)
{
    if (v->type == LS_TIME) {
        spark_time(out, v->u.i);
    } else if (v->type == LS_WINDOW) {
        ls_buf_putc(out, '{');
        spark_time(out, v->u.w.start);
        ls_buf_puts(out, ", ");
        spark_time(out, v->u.w.end);
        ls_buf_putc(out, '}');
    } else {
        ls_value_text(out, v);
    }
}

/* A cell's text, printable, cut as Spark does (more than 20 columns: the
 * first 17 and "..."), in columns, never inside a character. */
static char *cell_text(const ls_value *v, int truncate)
{
    ls_buf raw, b;
    ls_buf_init(&raw);
    ls_buf_init(&b);
    if (v) console_text(&raw, v);
    ls_text_printable(&b, raw.data ? raw.data : "", raw.len, 0);
    ls_buf_free(&raw);
    ls_buf_reserve(&b, 0);
    if (truncate && ls_text_width(b.data, b.len) > 20) {
        b.len = ls_text_prefix(b.data, b.len, 17);
        ls_buf_puts(&b, "...");
    }
    return b.data;
}

static void report_format_failure(console_sink *c, const ls_row *row, const char *why)
{
    if (++c->failed > MAX_REPORTED) return;
    ls_buf j;
    ls_buf_init(&j);
    ls_row_json(row, 0, &j);
    fprintf(c->errors, "luastream: query %s, batch %lld: console format failed on the row %.300s%s: "
            "%s (row skipped)\n", c->opts.query, (long long)c->batch, j.data ? j.data : "{}",
            j.len > 300 ? "..." : "", why);
    ls_buf_free(&j);
}

static int write_row(ls_sink *s, const ls_row *row, ls_err *err)
{
    (void)err;
    console_sink *c = (console_sink *)s;
    c->total++;
    if ((int)c->kept >= c->opts.num_rows) return 0;
    if (c->opts.format) {
        size_t before = c->lines.len;
        ls_err ferr = { "" };
        if (c->opts.format(c->opts.format_ctx, row, &c->lines, &ferr)) {
            c->lines.len = before;
            if (c->lines.data) c->lines.data[before] = '\0';
            report_format_failure(c, row, ferr.msg);
            return 0;
        }
        /* the line as printable text (a format may return any bytes) */
        ls_buf line;
        ls_buf_init(&line);
        ls_text_printable(&line, c->lines.data + before, c->lines.len - before, 1);
        c->lines.len = before;
        ls_buf_append(&c->lines, line.data ? line.data : "", line.len);
        ls_buf_free(&line);
        ls_buf_putc(&c->lines, '\n');
        c->kept++;
        return 0;
    }
    if (!c->names) {
        c->ncols = row->ncols;
        c->names = ls_xcalloc(row->ncols, sizeof *c->names);
        for (size_t i = 0; i < row->ncols; i++) {
            ls_buf n;
            ls_buf_init(&n);
            ls_text_printable(&n, row->names[i], strlen(row->names[i]), 0);
            ls_buf_reserve(&n, 0);
            c->names[i] = n.data;
        }
    }
    c->cells = ls_xrealloc(c->cells, (c->kept + 1) * c->ncols * sizeof *c->cells);
    for (size_t i = 0; i < c->ncols; i++)
        c->cells[c->kept * c->ncols + i] =
            cell_text(i < row->ncols ? &row->vals[i] : NULL, c->opts.truncate);
    c->kept++;
    return 0;
}

/* A per-record query's row: its JSON text as a line (the first num_rows). */
static int write_out(ls_sink *s, const ls_out *o, ls_err *err)
{
    (void)err;
    console_sink *c = (console_sink *)s;
    c->total++;
    c->records = 1;
    if ((int)c->kept >= c->opts.num_rows) return 0;
    ls_text_printable(&c->lines, o->json, o->len, 1);
    ls_buf_putc(&c->lines, '\n');
    c->kept++;
    return 0;
}

static void rule(FILE *out, const size_t *w, size_t n)
{
    fputc('+', out);
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < w[i]; k++) fputc('-', out);
        fputc('+', out);
    }
    fputc('\n', out);
}

/* One table line, cells right-aligned to their column's display width. */
static void line(FILE *out, char *const *cells, const size_t *w, size_t n)
{
    fputc('|', out);
    for (size_t i = 0; i < n; i++) {
        size_t cw = ls_text_width(cells[i], strlen(cells[i]));
        for (size_t k = cw; k < w[i]; k++) fputc(' ', out);
        fputs(cells[i], out);
        fputc('|', out);
    }
    fputc('\n', out);
}

static int close_batch(ls_sink *s, ls_err *err)
{
    (void)err;
    console_sink *c = (console_sink *)s;
    FILE *out = c->out;
    s->rows_in_batch = (int64_t)c->total;
    fprintf(out, "-------------------------------------------\n");
    fprintf(out, "Batch: %lld (%s)\n", (long long)c->batch, c->opts.query);
    fprintf(out, "-------------------------------------------\n");
    if (c->opts.format || c->records) {
        fwrite(c->lines.data ? c->lines.data : "", 1, c->lines.len, out);
        if (c->total > c->kept + c->failed) fprintf(out, "only showing top %zu rows\n", c->kept);
    } else if (c->names) {
        size_t *w = ls_xcalloc(c->ncols, sizeof *w);
        for (size_t i = 0; i < c->ncols; i++) w[i] = ls_text_width(c->names[i], strlen(c->names[i]));
        for (size_t r = 0; r < c->kept; r++)
            for (size_t i = 0; i < c->ncols; i++) {
                const char *cell = c->cells[r * c->ncols + i];
                size_t l = ls_text_width(cell, strlen(cell));
                if (l > w[i]) w[i] = l;
            }
        rule(out, w, c->ncols);
        line(out, c->names, w, c->ncols);
        rule(out, w, c->ncols);
        for (size_t r = 0; r < c->kept; r++) line(out, c->cells + r * c->ncols, w, c->ncols);
        rule(out, w, c->ncols);
        if (c->total > c->kept) fprintf(out, "only showing top %zu rows\n", c->kept);
        free(w);
    } else {
        fprintf(out, "(no rows)\n");
    }
    fputc('\n', out);
    fflush(out);
    if (c->failed > MAX_REPORTED)
        fprintf(c->errors, "luastream: query %s, batch %lld: %zu rows skipped in all: console "
                "format failed (the first %d are above)\n", c->opts.query, (long long)c->batch,
                c->failed, MAX_REPORTED);
    clear_cells(c);
    return 0;
}

static void destroy(ls_sink *s)
{
    console_sink *c = (console_sink *)s;
    clear_cells(c);
    for (size_t i = 0; c->names && i < c->ncols; i++) free(c->names[i]);
    free(c->names);
    ls_buf_free(&c->lines);
    free((char *)c->opts.query);
    free(s->description);
    free(c);
}

static const ls_sink_vt console_vt = { open_batch, write_row, write_out, close_batch, destroy };

ls_sink *ls_sink_console_new(const ls_console_opts *opts, void *out_file)
{
    console_sink *c = ls_xcalloc(1, sizeof *c);
    c->base.vt = &console_vt;
    c->base.description = ls_xstrdup("ConsoleSink");
    c->opts = *opts;
    c->opts.query = ls_xstrdup(opts->query ? opts->query : "");
    if (c->opts.num_rows <= 0) c->opts.num_rows = 20;
    c->out = out_file ? out_file : stdout;
    c->errors = opts->errors ? opts->errors : stderr;
    ls_buf_init(&c->lines);
    return &c->base;
}
