/* ls_deadletter.c - writing dead-letter entries (see ls_deadletter.h). */
#include "ls_deadletter.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yajl_gen.h>

#include "ls_sink.h"

struct ls_dl_entry {
    char *topic;     /* NULL: not from a message */
    int32_t partition;
    int64_t offset;
    uint64_t seq;    /* arrival order, for entries of one message */
    char *line;      /* the formatted entry */
    size_t len;
    char *key;       /* the Kafka message key */
};

static ls_deadletter *alloc_dl(void)
{
    ls_deadletter *d = ls_xcalloc(1, sizeof *d);
    pthread_mutex_init(&d->lock, NULL);
    return d;
}

ls_deadletter *ls_deadletter_stderr(void)
{
    ls_deadletter *d = alloc_dl();
    d->f = stderr;
    return d;
}

ls_deadletter *ls_deadletter_file(const char *path, ls_err *err)
{
    const char *slash = strrchr(path, '/');
    if (slash && slash != path) {
        char *dir = ls_xstrndup(path, (size_t)(slash - path));
        int rc = ls_mkdirs(dir, err);
        free(dir);
        if (rc) return NULL;
    }
    FILE *f = fopen(path, "a");
    if (!f) {
        ls_seterr(err, "cannot open dead-letter file %s: %s", path, strerror(errno));
        return NULL;
    }
    ls_deadletter *d = alloc_dl();
    d->f = f;
    d->owns_f = 1;
    d->path = ls_xstrdup(path);
    return d;
}

ls_deadletter *ls_deadletter_kafka(ls_kafka_producer *kp, const char *topic)
{
    ls_deadletter *d = alloc_dl();
    d->kp = kp;
    d->topic = ls_xstrdup(topic);
    return d;
}

ls_deadletter *ls_deadletter_memory(void)
{
    ls_deadletter *d = alloc_dl();
    d->f = open_memstream(&d->mem, &d->mem_len);
    if (!d->f) {
        ls_log("out of memory");
        abort();
    }
    d->owns_f = 1;
    return d;
}

const char *ls_deadletter_text(ls_deadletter *d, size_t *len)
{
    if (d->f) fflush(d->f);
    *len = d->mem ? d->mem_len : 0;
    return d->mem ? d->mem : "";
}

static void free_entry(ls_dl_entry *e)
{
    free(e->topic);
    free(e->line);
    free(e->key);
}

void ls_deadletter_sync_each_flush(ls_deadletter *d)
{
    if (d) d->sync = 1;
}

void ls_deadletter_free(ls_deadletter *d)
{
    if (!d) return;
    if (d->npending) { /* closing writes what is queued, as closing a file flushes it */
        ls_err err;
        if (ls_deadletter_flush(d, &err)) ls_log("%s", err.msg);
    }
    free(d->pending);
    if (d->owns_f && d->f) fclose(d->f);
    free(d->mem);
    free(d->path);
    free(d->topic);
    pthread_mutex_destroy(&d->lock);
    free(d);
}

static void gen_str(yajl_gen g, const char *s)
{
    yajl_gen_string(g, (const unsigned char *)s, strlen(s));
}

void ls_deadletter_format(const ls_origin *o, const char *query, const char *error,
                          const char *payload, size_t n, ls_buf *out)
{
    yajl_gen g = yajl_gen_alloc(NULL);
    yajl_gen_map_open(g);
    if (o && o->file) { /* a file source's record */
        gen_str(g, "file");
        gen_str(g, o->file);
        gen_str(g, "line");
        yajl_gen_integer(g, o->line);
        goto rest;
    }
    gen_str(g, "topic");
    if (o && o->topic) gen_str(g, o->topic); else yajl_gen_null(g);
    gen_str(g, "partition");
    if (o && o->topic) yajl_gen_integer(g, o->partition); else yajl_gen_null(g);
    gen_str(g, "offset");
    if (o && o->topic) yajl_gen_integer(g, o->offset); else yajl_gen_null(g);
    gen_str(g, "timestamp");
    if (o && o->timestamp >= 0) yajl_gen_integer(g, o->timestamp); else yajl_gen_null(g);
rest:
    gen_str(g, "query");
    if (query) gen_str(g, query); else yajl_gen_null(g);
    gen_str(g, "error");
    /* Error texts may quote payload bytes: never let them break the line. */
    if (ls_utf8_valid(error, strlen(error))) gen_str(g, error);
    else gen_str(g, "(error message not valid UTF-8)");
    if (payload && ls_utf8_valid(payload, n) && !memchr(payload, '\0', n)) {
        gen_str(g, "value");
        yajl_gen_string(g, (const unsigned char *)payload, n);
    } else {
        ls_buf b64;
        ls_buf_init(&b64);
        ls_base64(&b64, (const unsigned char *)(payload ? payload : ""), payload ? n : 0);
        gen_str(g, "value_base64");
        yajl_gen_string(g, (const unsigned char *)(b64.data ? b64.data : ""), b64.len);
        ls_buf_free(&b64);
    }
    yajl_gen_map_close(g);
    ls_json_take(g, out);
    yajl_gen_free(g);
}

static int write_entry(ls_deadletter *d, const ls_dl_entry *e, ls_err *err)
{
    if (d->kp)
        return ls_kafka_produce(d->kp, d->topic, -1, e->key, strlen(e->key), e->line, e->len, err);
    if (d->f == stderr) fputs("dead-letter: ", stderr);
    if (fwrite(e->line, 1, e->len, d->f) != e->len || fputc('\n', d->f) == EOF) {
        ls_seterr(err, "dead-letter %s: write failed: %s", d->path ? d->path : "stderr",
                  strerror(errno));
        return -1;
    }
    return 0;
}

int ls_deadletter_write(ls_deadletter *d, const ls_origin *o, const char *query,
                        const char *error, const char *payload, size_t n, ls_err *err)
{
    (void)err;
    ls_buf line;
    ls_buf_init(&line);
    ls_deadletter_format(o, query, error, payload, n, &line);
    pthread_mutex_lock(&d->lock);
    if (d->npending == d->pending_cap) {
        d->pending_cap = d->pending_cap ? d->pending_cap * 2 : 64;
        d->pending = ls_xrealloc(d->pending, d->pending_cap * sizeof *d->pending);
    }
    ls_dl_entry *e = &d->pending[d->npending];
    const char *from = o ? (o->file ? o->file : o->topic) : NULL; /* file records: by path */
    e->topic = from ? ls_xstrdup(from) : NULL;
    e->partition = o ? o->partition : 0;
    e->offset = o ? o->offset : 0;
    e->seq = d->count++;
    e->line = line.data ? line.data : ls_xstrdup("");
    e->len = line.len;
    e->key = ls_xstrdup(from ? from : "");
    d->npending++;
    pthread_mutex_unlock(&d->lock);
    return 0;
}

int ls_deadletter_reject(void *dl, const ls_origin *o, const char *query, const char *error,
                         const char *payload, size_t n, ls_err *err)
{
    return ls_deadletter_write(dl, o, query, error, payload, n, err);
}

static int cmp_entry(const void *a, const void *b)
{
    const ls_dl_entry *x = a, *y = b;
    int c = strcmp(x->topic ? x->topic : "", y->topic ? y->topic : "");
    if (c) return c;
    if (x->partition != y->partition) return x->partition < y->partition ? -1 : 1;
    if (x->offset != y->offset) return x->offset < y->offset ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

int ls_deadletter_flush(ls_deadletter *d, ls_err *err)
{
    pthread_mutex_lock(&d->lock);
    if (d->npending > 1) qsort(d->pending, d->npending, sizeof *d->pending, cmp_entry);
    int rc = 0;
    for (size_t i = 0; i < d->npending; i++) {
        if (rc == 0) rc = write_entry(d, &d->pending[i], err);
        free_entry(&d->pending[i]);
    }
    d->npending = 0;
    pthread_mutex_unlock(&d->lock);
    if (rc) return -1;
    if (d->kp) return ls_kafka_flush(d->kp, 60000, err);
    if (fflush(d->f) != 0 || (d->sync && d->owns_f && fsync(fileno(d->f)) != 0)) {
        ls_seterr(err, "dead-letter %s: write failed: %s", d->path ? d->path : "stderr",
                  strerror(errno));
        return -1;
    }
    return 0;
}
