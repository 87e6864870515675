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
 * are kept, the rest are counted ("only showing top 20 rows"). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ls_sink.h"

typedef struct console_sink {
    ls_sink base;
    ls_console_opts opts;
    FILE *out;
    int64_t batch;
    size_t ncols;
    char **names;
    char **cells;      /* kept rows * ncols, owned */
    size_t kept;
    size_t total;
    ls_buf lines;      /* formatted mode: the lines of this batch */
} console_sink;

static void clear_cells(console_sink *c)
{
    for (size_t i = 0; i < c->kept * c->ncols; i++) free(c->cells[i]);
    free(c->cells);
    c->cells = NULL;
    c->kept = c->total = 0;
}

static int open_batch(ls_sink *s, int64_t batch_id, char *err)
{
    (void)err;
    console_sink *c = (console_sink *)s;
    c->batch = batch_id;
    clear_cells(c);
    ls_buf_reset(&c->lines);
    return 0;
}

static char *cell_text(const ls_value *v, int truncate)
{
    ls_buf b;
    ls_buf_init(&b);
    ls_value_text(&b, v);
    ls_buf_reserve(&b, 0);
    if (truncate && b.len > 20) { /* Spark cuts to 17 characters plus "..." */
        b.len = 17;
        ls_buf_puts(&b, "...");
    }
    return b.data;
}

static int write_row(ls_sink *s, const ls_row *row, char *err)
{
    console_sink *c = (console_sink *)s;
    c->total++;
    if (c->opts.format) {
        size_t before = c->lines.len;
        if (c->opts.format(c->opts.format_ctx, row, &c->lines, err)) {
            c->lines.len = before;
            return -1;
        }
        ls_buf_putc(&c->lines, '\n');
        return 0;
    }
    if (!c->names) {
        c->ncols = row->ncols;
        c->names = ls_xcalloc(row->ncols, sizeof *c->names);
        for (size_t i = 0; i < row->ncols; i++) c->names[i] = ls_xstrdup(row->names[i]);
    }
    if ((int)c->kept >= c->opts.num_rows) return 0;
    c->cells = ls_xrealloc(c->cells, (c->kept + 1) * c->ncols * sizeof *c->cells);
    for (size_t i = 0; i < c->ncols; i++)
        c->cells[c->kept * c->ncols + i] =
            cell_text(i < row->ncols ? &row->vals[i] : NULL, c->opts.truncate);
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

static void line(FILE *out, char *const *cells, const size_t *w, size_t n)
{
    fputc('|', out);
    for (size_t i = 0; i < n; i++) fprintf(out, "%*s|", (int)w[i], cells[i]);
    fputc('\n', out);
}

static int close_batch(ls_sink *s, char *err)
{
    (void)err;
    console_sink *c = (console_sink *)s;
    FILE *out = c->out;
    s->rows_in_batch = (int64_t)c->total;
    fprintf(out, "-------------------------------------------\n");
    fprintf(out, "Batch: %lld (%s)\n", (long long)c->batch, c->opts.query);
    fprintf(out, "-------------------------------------------\n");
    if (c->opts.format) {
        fwrite(c->lines.data ? c->lines.data : "", 1, c->lines.len, out);
    } else if (c->names) {
        size_t *w = ls_xcalloc(c->ncols, sizeof *w);
        for (size_t i = 0; i < c->ncols; i++) w[i] = strlen(c->names[i]);
        for (size_t r = 0; r < c->kept; r++)
            for (size_t i = 0; i < c->ncols; i++) {
                size_t l = strlen(c->cells[r * c->ncols + i]);
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

static const ls_sink_vt console_vt = { open_batch, write_row, close_batch, destroy };

ls_sink *ls_sink_console_new(const ls_console_opts *opts, void *out_file)
{
    console_sink *c = ls_xcalloc(1, sizeof *c);
    c->base.vt = &console_vt;
    c->base.description = ls_xstrdup("ConsoleSink");
    c->opts = *opts;
    c->opts.query = ls_xstrdup(opts->query ? opts->query : "");
    if (c->opts.num_rows <= 0) c->opts.num_rows = 20;
    c->out = out_file ? out_file : stdout;
    ls_buf_init(&c->lines);
    return &c->base;
}
