/* ls_deadletter.c - writing dead-letter entries (see ls_deadletter.h). */
#include "ls_deadletter.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yajl_gen.h>

#include "ls_sink.h"

static ls_deadletter *alloc_dl(void)
{
    ls_deadletter *d = ls_xcalloc(1, sizeof *d);
    ls_buf_init(&d->line);
    pthread_mutex_init(&d->lock, NULL);
    return d;
}

ls_deadletter *ls_deadletter_stderr(void)
{
    ls_deadletter *d = alloc_dl();
    d->f = stderr;
    return d;
}

ls_deadletter *ls_deadletter_file(const char *path, char *err)
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

void ls_deadletter_free(ls_deadletter *d)
{
    if (!d) return;
    if (d->owns_f && d->f) fclose(d->f);
    free(d->path);
    free(d->topic);
    ls_buf_free(&d->line);
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
    gen_str(g, "topic");
    if (o && o->topic) gen_str(g, o->topic); else yajl_gen_null(g);
    gen_str(g, "partition");
    if (o && o->topic) yajl_gen_integer(g, o->partition); else yajl_gen_null(g);
    gen_str(g, "offset");
    if (o && o->topic) yajl_gen_integer(g, o->offset); else yajl_gen_null(g);
    gen_str(g, "timestamp");
    if (o && o->timestamp >= 0) yajl_gen_integer(g, o->timestamp); else yajl_gen_null(g);
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

static int write_locked(ls_deadletter *d, const ls_origin *o, const char *query,
                        const char *error, const char *payload, size_t n, char *err)
{
    ls_buf_reset(&d->line);
    ls_deadletter_format(o, query, error, payload, n, &d->line);
    d->count++;
    if (d->kp) {
        const char *key = o && o->topic ? o->topic : "";
        return ls_kafka_produce(d->kp, d->topic, -1, key, strlen(key), d->line.data, d->line.len,
                                err);
    }
    if (d->f == stderr) fputs("dead-letter: ", stderr);
    ls_buf_putc(&d->line, '\n');
    if (fwrite(d->line.data, 1, d->line.len, d->f) != d->line.len) {
        ls_seterr(err, "dead-letter %s: write failed: %s", d->path ? d->path : "stderr",
                  strerror(errno));
        return -1;
    }
    return 0;
}

int ls_deadletter_write(ls_deadletter *d, const ls_origin *o, const char *query,
                        const char *error, const char *payload, size_t n, char *err)
{
    pthread_mutex_lock(&d->lock);
    int rc = write_locked(d, o, query, error, payload, n, err);
    pthread_mutex_unlock(&d->lock);
    return rc;
}

int ls_deadletter_flush(ls_deadletter *d, char *err)
{
    if (d->kp) return ls_kafka_flush(d->kp, 60000, err);
    if (fflush(d->f) != 0 || (d->sync && d->owns_f && fsync(fileno(d->f)) != 0)) {
        ls_seterr(err, "dead-letter %s: write failed: %s", d->path ? d->path : "stderr",
                  strerror(errno));
        return -1;
    }
    return 0;
}
