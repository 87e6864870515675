/* ls_sink_parts.c - a job member's JSON-lines sink, one file per state
 * partition (see ls_sink_parts.h for the layout and the crash protocol).
 *
 * Rows come per partition (ls_sink.part says which); they are formatted by
 * the row writer into one buffer, written to the partition's file when the
 * partition changes, at each megabyte and at the end of the batch, then
 * every part written in the batch is fsync'ed: the batch's transaction
 * records their lengths next, so they must be on disk first. */
#include "ls_sink_parts.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define FLUSH_AT (1u << 20)
#define ID_TRIES 50 /* reading an _id another member is writing: 50 x 100 ms */

typedef struct part {
    int fd;          /* -1: not open */
    int64_t len;     /* the file's length as this member left it */
    int known;       /* len is known (owned): the file must still be that long */
    int written;     /* rows written since ls_sink_parts_written */
} part;

typedef struct parts_sink {
    ls_sink base;
    char *folder;    /* DIR/<query> */
    char *app;
    char id[LS_PARTS_ID_LEN + 1];
    part *parts;
    int nparts;
    int cur;         /* the partition the buffered rows belong to */
    ls_buf out;
    ls_buf path;     /* scratch: a part's path */
    ls_rowfmt fmt;
} parts_sink;

static const ls_sink_vt parts_vt;

static const char *part_path(parts_sink *j, int p)
{
    ls_buf_reset(&j->path);
    ls_buf_printf(&j->path, "%s/part-%d.jsonl", j->folder, p);
    return j->path.data;
}

static part *part_at(parts_sink *j, int p)
{
    if (p >= j->nparts) {
        j->parts = ls_xrealloc(j->parts, ((size_t)p + 1) * sizeof *j->parts);
        for (int k = j->nparts; k <= p; k++) j->parts[k] = (part){ -1, 0, 0, 0 };
        j->nparts = p + 1;
    }
    return &j->parts[p];
}

/* Opens part p (appending; with create, made when absent: 0 and fd -1
 * when it is absent and create is 0). A part not owned first takes the
 * length it is found with (never under a job's shuffle, which owns each
 * partition before its rows come); an owned one is checked when written. */
static int open_part(parts_sink *j, int p, int create, ls_err *err)
{
    part *pt = part_at(j, p);
    if (pt->fd >= 0) return 0;
    const char *path = part_path(j, p);
    pt->fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC | (create ? O_CREAT : 0), 0666);
    if (pt->fd < 0 && !create && errno == ENOENT) return 0;
    struct stat st;
    if (pt->fd < 0 || fstat(pt->fd, &st) != 0) {
        ls_seterr(err, "cannot open %s: %s", path, strerror(errno));
        if (pt->fd >= 0) close(pt->fd);
        pt->fd = -1;
        return -1;
    }
    if (!pt->known) {
        pt->len = (int64_t)st.st_size;
        pt->known = 1;
    }
    return 0;
}

static int flush_out(parts_sink *j, ls_err *err)
{
    if (!j->out.len) return 0;
    int p = j->cur;
    if (p < 0) {
        ls_seterr(err, "%s: rows without a state partition", j->folder);
        ls_buf_reset(&j->out);
        return -1;
    }
    if (open_part(j, p, 1, err)) {
        ls_buf_reset(&j->out);
        return -1;
    }
    part *pt = &j->parts[p];
    struct stat st;
    if (fstat(pt->fd, &st) != 0 || (int64_t)st.st_size != pt->len) {
        ls_seterr(err, "%s is %lld bytes, but this member left it at %lld: another process "
                  "writes it (a member the job's group has moved on from, or another run on "
                  "this directory); the rows of this batch are not written",
                  part_path(j, p), (long long)st.st_size, (long long)pt->len);
        ls_buf_reset(&j->out);
        return -1;
    }
    size_t done = 0;
    if (ls_write_all(pt->fd, j->out.data, j->out.len, &done)) {
        ls_seterr(err, "%s: write failed: %s", part_path(j, p), strerror(errno));
        pt->len += (int64_t)done; /* what did reach the file: cut back at the next restore */
        ls_buf_reset(&j->out);
        return -1;
    }
    pt->len += (int64_t)done;
    pt->written = 1;
    ls_buf_reset(&j->out);
    return 0;
}

static int open_batch(ls_sink *s, int64_t batch_id, ls_err *err)
{
    (void)batch_id;
    (void)err;
    s->rows_in_batch = 0;
    s->part = -1;
    return 0;
}

static int write_row(ls_sink *s, const ls_row *row, ls_err *err)
{
    parts_sink *j = (parts_sink *)s;
    if (s->part != j->cur && flush_out(j, err)) return -1;
    j->cur = s->part;
    ls_row_write(&j->fmt, row, &j->out);
    ls_buf_putc(&j->out, '\n');
    s->rows_in_batch++;
    return j->out.len >= FLUSH_AT ? flush_out(j, err) : 0;
}

static int write_out(ls_sink *s, const ls_out *o, ls_err *err)
{
    (void)o;
    ls_seterr(err, "%s: a per-record query's rows have no state partition", ((parts_sink *)s)->folder);
    return -1;
}

static int close_batch(ls_sink *s, ls_err *err)
{
    parts_sink *j = (parts_sink *)s;
    if (flush_out(j, err)) return -1;
    for (int p = 0; p < j->nparts; p++) {
        part *pt = &j->parts[p];
        if (pt->written && pt->fd >= 0 && fsync(pt->fd) != 0) {
            ls_seterr(err, "%s: write failed: %s", part_path(j, p), strerror(errno));
            return -1;
        }
    }
    return 0;
}

static void destroy(ls_sink *s)
{
    parts_sink *j = (parts_sink *)s;
    /* rows still buffered belong to a batch that did not end: not written
     * (they would be cut back anyway) */
    for (int p = 0; p < j->nparts; p++)
        if (j->parts[p].fd >= 0) close(j->parts[p].fd);
    free(j->parts);
    ls_buf_free(&j->out);
    ls_buf_free(&j->path);
    ls_rowfmt_free(&j->fmt);
    free(j->folder);
    free(j->app);
    free(s->description);
    free(j);
}

static const ls_sink_vt parts_vt = { open_batch, write_row, write_out, close_batch, destroy };

/* ---- the directory's id ------------------------------------------------------ */

/* "luastream-parts <id> <app>\n": 0 and the id when it parses and names app,
 * 1 when it is not whole yet (being written: no line end), -1 + err when
 * it is not an id or names another app. */
static int parse_id(parts_sink *j, const char *path, const char *text, size_t len, ls_err *err)
{
    static const char magic[] = "luastream-parts ";
    size_t m = sizeof magic - 1, alen = strlen(j->app);
    if (len == 0 || text[len - 1] != '\n') return 1;
    int ok = len >= m + LS_PARTS_ID_LEN + 2 && memcmp(text, magic, m) == 0 &&
             text[m + LS_PARTS_ID_LEN] == ' ';
    for (size_t i = 0; ok && i < LS_PARTS_ID_LEN; i++)
        ok = text[m + i] && strchr("0123456789abcdef", text[m + i]) != NULL;
    if (!ok) {
        ls_seterr(err, "%s is not a luastream file sink's id (expected \"luastream-parts <16 hex "
                  "digits> <app id>\"): was %s made by something else? Give the sink another "
                  "directory", path, j->folder);
        return -1;
    }
    const char *app = text + m + LS_PARTS_ID_LEN + 1;
    size_t have = (size_t)(text + len - 1 - app);
    if (have != alen || memcmp(app, j->app, alen) != 0) {
        ls_seterr(err, "%s holds the output of app %.*s (%s), not of app %s: give each job a "
                  "directory of its own (or delete this one to start over)", j->folder,
                  (int)(have > 200 ? 200 : have), app, path, j->app);
        return -1;
    }
    memcpy(j->id, text + m, LS_PARTS_ID_LEN);
    j->id[LS_PARTS_ID_LEN] = '\0';
    return 0;
}

/* Reads DIR/<query>/_id, or makes it (O_EXCL: of members starting at once
 * on a shared directory, one makes it and the others read it). */
static int dir_id(parts_sink *j, ls_err *err)
{
    ls_buf path;
    ls_buf_init(&path);
    ls_buf_printf(&path, "%s/_id", j->folder);
    int rc = -1;
    for (int attempt = 0; attempt < ID_TRIES; attempt++) {
        int fd = open(path.data, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd >= 0) {
            char uuid[37];
            ls_uuid4(uuid);
            static const char hex[] = "0123456789abcdef";
            uint64_t h = ls_hash(uuid, strlen(uuid));
            for (int i = 0; i < LS_PARTS_ID_LEN; i++) j->id[i] = hex[(h >> (4 * i)) & 15];
            j->id[LS_PARTS_ID_LEN] = '\0';
            ls_buf text;
            ls_buf_init(&text);
            ls_buf_printf(&text, "luastream-parts %s %s\n", j->id, j->app);
            int ok = write(fd, text.data, text.len) == (ssize_t)text.len && fsync(fd) == 0;
            if (!ok) ls_seterr(err, "%s: write failed: %s", path.data, strerror(errno));
            close(fd);
            ls_buf_free(&text);
            rc = ok ? 0 : -1;
            break;
        }
        if (errno != EEXIST) {
            ls_seterr(err, "cannot create %s: %s", path.data, strerror(errno));
            break;
        }
        ls_buf text;
        ls_buf_init(&text);
        ls_err why;
        int r = ls_read_file(path.data, &text, &why);
        if (r == 0) r = parse_id(j, path.data, text.data ? text.data : "", text.len, err);
        else r = 1; /* removed meanwhile: make it again */
        ls_buf_free(&text);
        if (r <= 0) {
            rc = r;
            break;
        }
        if (attempt == ID_TRIES - 1) {
            ls_seterr(err, "%s is empty or cut short after %d s: the member that made it "
                      "stopped while writing it? Delete it and start again", path.data,
                      ID_TRIES / 10);
            break;
        }
        struct timespec ts = { 0, 100 * 1000000L };
        nanosleep(&ts, NULL);
    }
    ls_buf_free(&path);
    return rc;
}

/* ---- opening, owning ------------------------------------------------------------ */

ls_sink *ls_sink_parts_new(const char *dir, const char *query, const char *app, ls_err *err)
{
    parts_sink *j = ls_xcalloc(1, sizeof *j);
    ls_buf f;
    ls_buf_init(&f);
    ls_buf_printf(&f, "%s/%s", dir, query);
    j->folder = f.data;
    j->app = ls_xstrdup(app);
    j->cur = -1;
    ls_buf_init(&j->out);
    ls_buf_init(&j->path);
    ls_rowfmt_init(&j->fmt);
    j->base.vt = &parts_vt;
    j->base.part = -1;
    ls_buf d;
    ls_buf_init(&d);
    ls_buf_printf(&d, "FileSink[%s/part-<p>.jsonl]", j->folder);
    j->base.description = d.data;
    if (ls_mkdirs(j->folder, err) || dir_id(j, err)) {
        destroy(&j->base);
        return NULL;
    }
    return &j->base;
}

int ls_sink_is_parts(const ls_sink *s)
{
    return s && s->vt == &parts_vt;
}

const char *ls_sink_parts_dir_id(const ls_sink *s)
{
    return ((const parts_sink *)s)->id;
}

const char *ls_sink_parts_folder(const ls_sink *s)
{
    return ((const parts_sink *)s)->folder;
}

int64_t ls_sink_parts_own(ls_sink *s, int p, int64_t len, ls_err *err)
{
    parts_sink *j = (parts_sink *)s;
    if (p < 0) {
        ls_seterr(err, "%s: partition %d", j->folder, p);
        return -1;
    }
    ls_sink_parts_drop(s, p);
    if (open_part(j, p, 0, err)) return -1; /* a part without rows is made by its first row */
    part *pt = &j->parts[p];
    const char *path = part_path(j, p);
    int64_t cut = 0;
    if (pt->fd < 0) { /* absent: as long as nothing */
        pt->len = 0;
        pt->known = 1;
    }
    if (pt->len > len) {
        if (ftruncate(pt->fd, (off_t)len) != 0 || fsync(pt->fd) != 0) {
            ls_seterr(err, "%s: cannot cut it back to %lld bytes: %s", path, (long long)len,
                      strerror(errno));
            return -1;
        }
        cut = pt->len - len;
        ls_log("%s: cut back from %lld to %lld bytes (its last committed length): %lld bytes "
               "of rows of a batch that did not commit", path, (long long)pt->len, (long long)len,
               (long long)cut);
        pt->len = len;
    } else if (pt->len < len) {
        ls_log("warning: %s is %lld bytes, shorter than the %lld bytes its last committed "
               "batch left in this directory: %lld bytes of rows were lost (written but not "
               "on disk when the machine stopped, or the file was changed by hand); appending "
               "to it as it is", path, (long long)pt->len, (long long)len,
               (long long)(len - pt->len));
    }
    return cut;
}

void ls_sink_parts_drop(ls_sink *s, int p)
{
    parts_sink *j = (parts_sink *)s;
    if (p < 0 || p >= j->nparts) return;
    part *pt = &j->parts[p];
    if (pt->fd >= 0) close(pt->fd);
    *pt = (part){ -1, 0, 0, 0 };
    if (j->cur == p) {
        ls_buf_reset(&j->out);
        j->cur = -1;
    }
}

int ls_sink_parts_written(ls_sink *s, int p, int64_t *len)
{
    parts_sink *j = (parts_sink *)s;
    if (p < 0 || p >= j->nparts || !j->parts[p].written) return 0;
    j->parts[p].written = 0;
    *len = j->parts[p].len;
    return 1;
}
