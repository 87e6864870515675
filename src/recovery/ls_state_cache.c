/* ls_state_cache.c - snapshots of a job member's state partitions in its
 * checkpoint directory (see ls_state_cache.h). */
#include "ls_state_cache.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "ls_checkpoint.h"
#include "ls_value.h"

static const char MAGIC[4] = { 'L', 'S', 'S', 'C' };

static void put_u32(ls_buf *b, uint32_t v) { ls_buf_append(b, &v, 4); }
static void put_u64(ls_buf *b, uint64_t v) { ls_buf_append(b, &v, 8); }

static void put_str(ls_buf *b, const char *s)
{
    put_u32(b, (uint32_t)strlen(s));
    ls_buf_append(b, s, strlen(s));
}

void ls_snap_begin(ls_snap_writer *w, ls_buf *b, const ls_snap_id *id, int64_t offset,
                   int64_t saved_ms)
{
    w->b = b;
    w->count = 0;
    ls_buf_reset(b);
    ls_buf_append(b, MAGIC, 4);
    put_u32(b, LS_SNAP_VERSION);
    put_str(b, id->app);
    put_str(b, id->query);
    char sig[16] = { 0 };
    memcpy(sig, id->signature, strnlen(id->signature, 16));
    ls_buf_append(b, sig, 16);
    put_u32(b, (uint32_t)id->nparts);
    put_u32(b, (uint32_t)id->part);
    put_u64(b, (uint64_t)offset);
    put_u64(b, (uint64_t)saved_ms);
}

void ls_snap_add(ls_snap_writer *w, const void *key, size_t klen, const void *val, size_t vlen)
{
    put_u32(w->b, (uint32_t)klen);
    ls_buf_append(w->b, key, klen);
    put_u32(w->b, (uint32_t)vlen);
    ls_buf_append(w->b, val, vlen);
    w->count++;
}

void ls_snap_finish(ls_snap_writer *w)
{
    put_u64(w->b, w->count);
    put_u64(w->b, ls_hash(w->b->data, w->b->len));
}

/* ---- reading ----------------------------------------------------------- */

typedef struct cursor {
    const unsigned char *p, *end;
} cursor;

static int get(cursor *c, void *out, size_t n)
{
    if ((size_t)(c->end - c->p) < n) return -1;
    memcpy(out, c->p, n);
    c->p += n;
    return 0;
}

/* A length-prefixed field: its bytes stay in place. */
static int get_bytes(cursor *c, const unsigned char **s, uint32_t *n)
{
    if (get(c, n, 4) || (size_t)(c->end - c->p) < *n) return -1;
    *s = c->p;
    c->p += *n;
    return 0;
}

static int same(const unsigned char *s, uint32_t n, const char *want)
{
    return strlen(want) == n && memcmp(s, want, n) == 0;
}

int ls_snap_parse(const void *data, size_t len, const ls_snap_id *want, ls_snap_view *v,
                  ls_err *err)
{
    const unsigned char *d = data;
    if (len < 4 + 4 + 16 || memcmp(d, MAGIC, 4) != 0) {
        ls_seterr(err, "not a state snapshot (%zu bytes)", len);
        return -1;
    }
    uint64_t sum, count;
    memcpy(&sum, d + len - 8, 8);
    if (sum != ls_hash(d, len - 8)) {
        ls_seterr(err, "its checksum does not match (truncated or corrupt)");
        return -1;
    }
    memcpy(&count, d + len - 16, 8);
    cursor c = { d + 4, d + len - 16 };
    uint32_t version, nparts, part, alen, qlen;
    const unsigned char *app, *query;
    char sig[16];
    uint64_t off, at;
    if (get(&c, &version, 4)) goto short_;
    if (version != LS_SNAP_VERSION) {
        ls_seterr(err, "format version %u (this luastream reads %d)", version, LS_SNAP_VERSION);
        return -1;
    }
    if (get_bytes(&c, &app, &alen) || get_bytes(&c, &query, &qlen) || get(&c, sig, 16) ||
        get(&c, &nparts, 4) || get(&c, &part, 4) || get(&c, &off, 8) || get(&c, &at, 8))
        goto short_;
    if (!same(app, alen, want->app)) {
        ls_seterr(err, "made for app id %.*s, not %s", (int)(alen > 200 ? 200 : alen),
                  (const char *)app, want->app);
        return -1;
    }
    if (!same(query, qlen, want->query)) {
        ls_seterr(err, "made for query %.*s, not %s", (int)(qlen > 200 ? 200 : qlen),
                  (const char *)query, want->query);
        return -1;
    }
    if (strlen(want->signature) != 16 || memcmp(sig, want->signature, 16) != 0) {
        ls_seterr(err, "made for another declaration of query %s (its grouping, aggregates, "
                  "mode or topic changed)", want->query);
        return -1;
    }
    if ((int64_t)nparts != want->nparts || (int64_t)part != want->part) {
        ls_seterr(err, "made for state partition %u of %u, not %d of %d", part, nparts,
                  want->part, want->nparts);
        return -1;
    }
    if ((int64_t)off < 0) {
        ls_seterr(err, "changelog offset %lld", (long long)(int64_t)off);
        return -1;
    }
    v->offset = (int64_t)off;
    v->saved_ms = (int64_t)at;
    v->count = count;
    v->p = c.p;
    v->end = c.end;
    /* every record whole, and exactly count of them */
    uint64_t n = 0;
    while (c.p < c.end) {
        const unsigned char *s;
        uint32_t sl;
        if (get_bytes(&c, &s, &sl) || get_bytes(&c, &s, &sl)) goto short_;
        n++;
    }
    if (n != count) {
        ls_seterr(err, "%llu records where %llu were written", (unsigned long long)n,
                  (unsigned long long)count);
        return -1;
    }
    return 0;
short_:
    ls_seterr(err, "a field runs past its end (truncated or corrupt)");
    return -1;
}

int ls_snap_next(ls_snap_view *v, const void **key, size_t *klen, const void **val,
                 size_t *vlen)
{
    cursor c = { v->p, v->end };
    const unsigned char *k, *x;
    uint32_t kl, xl;
    if (c.p >= c.end || get_bytes(&c, &k, &kl) || get_bytes(&c, &x, &xl)) return 0;
    v->p = c.p;
    *key = k;
    *klen = kl;
    *val = x;
    *vlen = xl;
    return 1;
}

/* ---- files --------------------------------------------------------------- */

void ls_snap_path(ls_buf *out, const char *dir, const char *query, int part)
{
    ls_buf_reset(out);
    ls_buf_printf(out, "%s/state-cache/%s.%d", dir, query, part);
}

int ls_snap_save(const char *dir, const char *query, int part, const ls_buf *b, ls_err *err)
{
    ls_buf p;
    ls_buf_init(&p);
    ls_buf_printf(&p, "%s/state-cache", dir);
    if (mkdir(p.data, 0755) != 0 && errno != EEXIST) {
        ls_seterr(err, "state cache: cannot create %s: %s", p.data, strerror(errno));
        ls_buf_free(&p);
        return -1;
    }
    ls_snap_path(&p, dir, query, part);
    int rc = ls_checkpoint_write_file(p.data, b->data, b->len, err);
    ls_buf_free(&p);
    return rc;
}

int ls_snap_load(const char *dir, const char *query, int part, ls_buf *b, ls_err *err)
{
    ls_buf p;
    ls_buf_init(&p);
    ls_snap_path(&p, dir, query, part);
    struct stat st;
    int rc;
    if (stat(p.data, &st) != 0 && errno == ENOENT) {
        rc = 1;
    } else {
        ls_err why;
        ls_buf_reset(b);
        rc = ls_read_file(p.data, b, &why) ? -1 : 0;
        if (rc) ls_seterr(err, "state cache: cannot read %s", why.msg);
    }
    ls_buf_free(&p);
    return rc;
}
