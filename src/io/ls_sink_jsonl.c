/* ls_sink_jsonl.c - JSON-lines file sink: DIR/<query>.jsonl, one row per
 * line, appended in emission order and flushed at the end of each batch,
 * so the last line written for a group key holds its current value. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ls_sink.h"

typedef struct jsonl_sink {
    ls_sink base;
    char *path;
    FILE *f;
    ls_buf line;
    yajl_gen gen;
} jsonl_sink;

static int open_batch(ls_sink *s, int64_t batch_id, ls_err *err)
{
    (void)batch_id;
    (void)err;
    s->rows_in_batch = 0;
    return 0;
}

static int write_row(ls_sink *s, const ls_row *row, ls_err *err)
{
    jsonl_sink *j = (jsonl_sink *)s;
    ls_buf_reset(&j->line);
    ls_row_json_with(j->gen, row, 0, &j->line);
    ls_buf_putc(&j->line, '\n');
    if (fwrite(j->line.data, 1, j->line.len, j->f) != j->line.len) {
        ls_seterr(err, "%s: write failed: %s", j->path, strerror(errno));
        return -1;
    }
    s->rows_in_batch++;
    return 0;
}

static int write_out(ls_sink *s, const ls_out *o, ls_err *err)
{
    jsonl_sink *j = (jsonl_sink *)s;
    if (fwrite(o->json, 1, o->len, j->f) != o->len || fputc('\n', j->f) == EOF) {
        ls_seterr(err, "%s: write failed: %s", j->path, strerror(errno));
        return -1;
    }
    s->rows_in_batch++;
    return 0;
}

static int close_batch(ls_sink *s, ls_err *err)
{
    jsonl_sink *j = (jsonl_sink *)s;
    if (fflush(j->f) != 0 || (s->sync && fsync(fileno(j->f)) != 0)) {
        ls_seterr(err, "%s: write failed: %s", j->path, strerror(errno));
        return -1;
    }
    return 0;
}

static void destroy(ls_sink *s)
{
    jsonl_sink *j = (jsonl_sink *)s;
    if (j->f) fclose(j->f);
    ls_buf_free(&j->line);
    yajl_gen_free(j->gen);
    free(j->path);
    free(s->description);
    free(j);
}

static const ls_sink_vt jsonl_vt = { open_batch, write_row, write_out, close_batch, destroy };

ls_sink *ls_sink_jsonl_new(const char *dir, const char *query, ls_err *err)
{
    if (ls_mkdirs(dir, err)) return NULL;
    jsonl_sink *j = ls_xcalloc(1, sizeof *j);
    ls_buf p;
    ls_buf_init(&p);
    ls_buf_printf(&p, "%s/%s.jsonl", dir, query);
    j->path = p.data;
    j->f = fopen(j->path, "a");
    if (!j->f) {
        ls_seterr(err, "cannot open %s: %s", j->path, strerror(errno));
        free(j->path);
        free(j);
        return NULL;
    }
    setvbuf(j->f, NULL, _IOFBF, 1 << 20); /* rows come by the hundred thousand */
    j->base.vt = &jsonl_vt;
    j->base.file = j->path;
    ls_buf d;
    ls_buf_init(&d);
    ls_buf_printf(&d, "FileSink[%s]", j->path);
    j->base.description = d.data;
    ls_buf_init(&j->line);
    j->gen = ls_row_gen_new();
    return &j->base;
}
