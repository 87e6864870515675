/* ls_outbuf.c - per-record rows held back by workers (see ls_outbuf.h).
 * Writing them out reuses one set of header arrays for every row. */
#include "ls_outbuf.h"

#include <stdlib.h>
#include <string.h>

void ls_outbuf_init(ls_outbuf *b)
{
    memset(b, 0, sizeof *b);
    ls_buf_init(&b->arena);
}

void ls_outbuf_free(ls_outbuf *b)
{
    free(b->entries);
    ls_buf_free(&b->arena);
    memset(b, 0, sizeof *b);
}

void ls_outbuf_clear(ls_outbuf *b)
{
    b->n = 0;
    ls_buf_reset(&b->arena);
}

/* The arena holds, per entry: json, key, topic, then per header its name
 * (NUL-terminated), a flag byte (1: has a value) and the value's length
 * and bytes. */
void ls_outbuf_add(ls_outbuf *b, uint64_t seq, uint32_t sub, const ls_out *o)
{
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 64;
        b->entries = ls_xrealloc(b->entries, b->cap * sizeof *b->entries);
    }
    ls_outbuf_entry *e = &b->entries[b->n++];
    e->seq = seq;
    e->sub = sub;
    e->at = b->arena.len;
    e->json_len = o->len;
    e->has_key = o->key != NULL;
    e->key_len = o->key ? o->key_len : 0;
    e->has_topic = o->topic != NULL;
    e->topic_len = o->topic ? strlen(o->topic) : 0;
    e->nheaders = o->nheaders;
    ls_buf_append(&b->arena, o->json, o->len);
    if (o->key) ls_buf_append(&b->arena, o->key, o->key_len);
    if (o->topic) ls_buf_append(&b->arena, o->topic, e->topic_len + 1);
    for (size_t i = 0; i < o->nheaders; i++) {
        ls_buf_append(&b->arena, o->hnames[i], strlen(o->hnames[i]) + 1);
        char has = o->hvals[i] != NULL;
        size_t len = has ? o->hlens[i] : 0;
        ls_buf_putc(&b->arena, has);
        ls_buf_append(&b->arena, &len, sizeof len);
        if (len) ls_buf_append(&b->arena, o->hvals[i], len);
    }
}

typedef struct ref {
    const ls_outbuf *b;
    const ls_outbuf_entry *e;
} ref;

static int cmp_ref(const void *x, const void *y)
{
    const ls_outbuf_entry *a = ((const ref *)x)->e, *b = ((const ref *)y)->e;
    if (a->seq != b->seq) return a->seq < b->seq ? -1 : 1;
    return a->sub < b->sub ? -1 : a->sub > b->sub;
}

/* An entry's headers, as ls_out wants them: arrays reused across entries
 * (they were three allocations per row). */
typedef struct hdrs {
    const char **names, **vals;
    size_t *lens, cap;
} hdrs;

static int write_entry(const ref *r, ls_sink *sink, hdrs *h, ls_err *err)
{
    const ls_outbuf_entry *e = r->e;
    const char *p = r->b->arena.data + e->at;
    ls_out o = { 0 };
    o.json = p;
    o.len = e->json_len;
    p += e->json_len;
    if (e->has_key) {
        o.key = p;
        o.key_len = e->key_len;
        p += e->key_len;
    }
    if (e->has_topic) {
        o.topic = p;
        p += e->topic_len + 1;
    }
    const char **names = NULL, **vals = NULL;
    size_t *lens = NULL;
    if (e->nheaders) {
        if (e->nheaders > h->cap) {
            h->cap = e->nheaders;
            h->names = ls_xrealloc(h->names, h->cap * sizeof *h->names);
            h->vals = ls_xrealloc(h->vals, h->cap * sizeof *h->vals);
            h->lens = ls_xrealloc(h->lens, h->cap * sizeof *h->lens);
        }
        names = h->names;
        vals = h->vals;
        lens = h->lens;
        for (size_t i = 0; i < e->nheaders; i++) {
            names[i] = p;
            p += strlen(p) + 1;
            char has = *p++;
            memcpy(&lens[i], p, sizeof lens[i]);
            p += sizeof lens[i];
            vals[i] = has ? p : NULL;
            p += lens[i];
        }
    }
    o.nheaders = e->nheaders;
    o.hnames = names;
    o.hvals = vals;
    o.hlens = lens;
    return sink->vt->write_out(sink, &o, err);
}

int ls_outbuf_write(ls_outbuf *const *bufs, size_t n, ls_sink *sink, ls_err *err)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++) total += bufs[i]->n;
    ref *refs = ls_xcalloc(total + 1, sizeof *refs);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < bufs[i]->n; j++) refs[k++] = (ref){ bufs[i], &bufs[i]->entries[j] };
    qsort(refs, total, sizeof *refs, cmp_ref);
    int rc = 0;
    hdrs h = { NULL, NULL, NULL, 0 };
    for (size_t i = 0; i < total && rc == 0; i++) rc = write_entry(&refs[i], sink, &h, err);
    free(h.names);
    free(h.vals);
    free(h.lens);
    free(refs);
    for (size_t i = 0; i < n; i++) ls_outbuf_clear(bufs[i]);
    return rc;
}
