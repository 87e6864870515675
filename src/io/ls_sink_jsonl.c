/* ls_sink_jsonl.c - JSON-lines file sink: DIR/<query>.jsonl, one row per
 * line, appended in emission order and flushed at the end of each batch,
 * so the last line written for a group key holds its current value.
 *
 * Rows are formatted by the row writer (ls_row_write) straight into the
 * sink's own buffer, written to the file (opened O_APPEND, as fopen "a")
 * with one write(2) per megabyte and at the end of each batch: no
 * generator, no stdio copy per line (bench/rows.sh). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ls_sink.h"

#define FLUSH_AT (1u << 20)

typedef struct jsonl_sink {
    ls_sink base;
    char *path;
    int fd;
    ls_buf out;  /* rows not written yet */
    ls_rowfmt fmt;
} jsonl_sink;

static int flush_out(jsonl_sink *j, ls_err *err)
{
    if (ls_write_all(j->fd, j->out.data, j->out.len, NULL)) {
        ls_seterr(err, "%s: write failed: %s", j->path, strerror(errno));
        ls_buf_reset(&j->out); /* as a failed fwrite: those rows are lost, the error reported */
        return -1;
    }
    ls_buf_reset(&j->out);
    return 0;
}

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
    ls_row_write(&j->fmt, row, &j->out);
    ls_buf_putc(&j->out, '\n');
    s->rows_in_batch++;
    return j->out.len >= FLUSH_AT ? flush_out(j, err) : 0;
}

static int write_out(ls_sink *s, const ls_out *o, ls_err *err)
{
    jsonl_sink *j = (jsonl_sink *)s;
    ls_buf_append(&j->out, o->json, o->len);
    ls_buf_putc(&j->out, '\n');
    s->rows_in_batch++;
    return j->out.len >= FLUSH_AT ? flush_out(j, err) : 0;
}

static int close_batch(ls_sink *s, ls_err *err)
{
    jsonl_sink *j = (jsonl_sink *)s;
    if (flush_out(j, err)) return -1;
    if (s->sync && fsync(j->fd) != 0) {
        ls_seterr(err, "%s: write failed: %s", j->path, strerror(errno));
        return -1;
    }
    return 0;
}

static void destroy(ls_sink *s)
{
    jsonl_sink *j = (jsonl_sink *)s;
    if (j->fd >= 0) {
        ls_err ignored;
        flush_out(j, &ignored); /* what fclose did: rows of a batch cut short are written */
        close(j->fd);
    }
    ls_buf_free(&j->out);
    ls_rowfmt_free(&j->fmt);
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
    j->fd = open(j->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
    if (j->fd < 0) {
        ls_seterr(err, "cannot open %s: %s", j->path, strerror(errno));
        free(j->path);
        free(j);
        return NULL;
    }
    j->base.vt = &jsonl_vt;
    j->base.file = j->path;
    ls_buf d;
    ls_buf_init(&d);
    ls_buf_printf(&d, "FileSink[%s]", j->path);
    j->base.description = d.data;
    ls_buf_init(&j->out);
    ls_rowfmt_init(&j->fmt);
    return &j->base;
}
