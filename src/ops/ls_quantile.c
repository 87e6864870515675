/* ls_quantile.c - Spark's QuantileSummaries and PercentileDigest over one
 * flat block of bytes (see ls_quantile.h). The summary steps below follow
 * Spark's code line by line (names in comments are Spark's). */
#include "ls_quantile.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ls_util.h"

typedef struct qstat { /* Spark's Stats(value, g, delta) */
    double v;
    int64_t g;
    int64_t delta;
} qstat;

typedef struct qhdr {
    uint64_t len, cap;  /* bytes in use, allocated */
    double eps;         /* relative error: 1 / accuracy */
    int64_t s_count;    /* values summarised by S */
    uint64_t s_n;       /* samples of S */
    uint32_t npct;      /* percentages */
    uint32_t nparts;    /* partial digests of the batch: one per source partition */
    uint32_t last;      /* the partial the last value went to (where to look first) */
    uint8_t list;       /* the result is a list */
    uint8_t kinds;      /* LS_QK_* seen */
    uint8_t fresh;      /* the cached results are those of the current content */
    uint8_t has_result; /* ... and there was a value (else the result is null) */
} qhdr;                 /* then pct[npct], result[npct], S's samples, the partials */

/* A partial digest: Spark's buffer of one map task (one Kafka partition) in a batch. */
typedef struct qpart {
    int64_t part;       /* the source partition (-1: not known) */
    int64_t count;      /* values in its samples (its head not included) */
    uint64_t n;         /* samples */
    uint64_t head_n;    /* values in its head buffer ... */
    uint64_t head_cap;  /* ... of this many places */
} qpart;                /* then qstat[n], double[head_cap] */

#define MAX_COUNT ((int64_t)1 << 60) /* sums of three stay within int64 */
#define FIRST_HEAD 8                 /* head places of a new partial (doubled as it fills) */

static qhdr *hdr(const unsigned char *q) { return (qhdr *)(void *)q; }
static double *pcts(const qhdr *h) { return (double *)(void *)(h + 1); }
static int64_t *results(const qhdr *h) { return (int64_t *)(void *)(pcts(h) + h->npct); }
static qstat *s_of(const qhdr *h) { return (qstat *)(void *)(results(h) + h->npct); }
static qpart *first_part(const qhdr *h) { return (qpart *)(void *)(s_of(h) + h->s_n); }
static qstat *part_stats(const qpart *p) { return (qstat *)(void *)(p + 1); }
static double *part_head(const qpart *p) { return (double *)(void *)(part_stats(p) + p->n); }
static size_t part_size(const qpart *p)
{
    return sizeof *p + (size_t)p->n * sizeof(qstat) + (size_t)p->head_cap * 8;
}
static qpart *next_part(const qpart *p) { return (qpart *)(void *)((char *)p + part_size(p)); }

static size_t base_len(uint32_t npct, uint64_t s_n)
{
    return sizeof(qhdr) + 2 * (size_t)npct * 8 + (size_t)s_n * sizeof(qstat);
}

/* ---- summaries (sampled, count) ----------------------------------------- */

typedef struct summ {
    qstat *st; /* owned unless it points into a digest (see `borrowed`) */
    size_t n;
    int64_t count;
    int borrowed;
} summ;

static void summ_free(summ *s)
{
    if (!s->borrowed) free(s->st);
    s->st = NULL;
    s->n = 0;
}

static summ borrow(qstat *st, size_t n, int64_t count)
{
    summ s = { st, n, count, 1 };
    return s;
}

/* java.lang.Double.compare: -0.0 below 0.0, NaN above everything (Scala's
 * `sorted` of an Array[Double]). */
static int java_double_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    if (x < y) return -1;
    if (x > y) return 1;
    int64_t xb, yb;
    if (isnan(x)) x = NAN;
    if (isnan(y)) y = NAN;
    memcpy(&xb, &x, 8);
    memcpy(&yb, &y, 8);
    return xb == yb ? 0 : xb < yb ? -1 : 1;
}

/* Spark's withHeadBufferInserted: the sorted head buffer woven into the
 * samples, each new sample with g = 1 and delta floor(2 eps count) except
 * at the ends. */
static summ with_head(summ in, const double *head, size_t hn, double eps)
{
    summ out = { NULL, 0, in.count, 0 };
    if (hn == 0) {
        out.st = ls_xmalloc((in.n + 1) * sizeof *out.st);
        if (in.n) memcpy(out.st, in.st, in.n * sizeof *out.st);
        out.n = in.n;
        return out;
    }
    double *sorted = ls_xmalloc(hn * sizeof *sorted);
    memcpy(sorted, head, hn * sizeof *sorted);
    qsort(sorted, hn, sizeof *sorted, java_double_cmp);
    out.st = ls_xmalloc((in.n + hn) * sizeof *out.st);
    size_t si = 0;
    for (size_t op = 0; op < hn; op++) {
        double cur = sorted[op];
        while (si < in.n && in.st[si].v <= cur) out.st[out.n++] = in.st[si++];
        out.count++;
        int64_t delta = 0;
        if (!(out.n == 0 || (si == in.n && op == hn - 1)))
            delta = (int64_t)floor(2 * eps * (double)out.count);
        qstat t = { cur, 1, delta };
        out.st[out.n++] = t;
    }
    while (si < in.n) out.st[out.n++] = in.st[si++];
    free(sorted);
    return out;
}

/* Spark's compressImmut: from the right, a sample is folded into the one
 * after it while g + g' + delta' < threshold; the first (smallest) sample
 * always stays. */
static summ compress_immut(summ in, double threshold)
{
    summ out = { NULL, 0, in.count, 0 };
    out.st = ls_xmalloc((in.n + 1) * sizeof *out.st);
    if (in.n == 0) return out;
    size_t w = in.n; /* filled from the end */
    qstat head = in.st[in.n - 1];
    for (size_t i = in.n - 1; i-- > 1;) {
        qstat s1 = in.st[i];
        if ((double)(s1.g + head.g + head.delta) < threshold) {
            head.g += s1.g;
        } else {
            out.st[--w] = head;
            head = s1;
        }
    }
    out.st[--w] = head;
    if (in.st[0].v <= head.v && in.n > 1) out.st[--w] = in.st[0];
    out.n = in.n - w;
    memmove(out.st, out.st + w, out.n * sizeof *out.st);
    return out;
}

/* Spark's compress(): the head inserted, then compressImmut. */
static summ compress(summ in, const double *head, size_t hn, double eps)
{
    summ wh = with_head(in, head, hn, eps);
    summ out = compress_immut(wh, 2 * eps * (double)wh.count);
    summ_free(&wh);
    return out;
}

static summ copy_summ(summ in)
{
    summ out = { ls_xmalloc((in.n + 1) * sizeof(qstat)), in.n, in.count, 0 };
    if (in.n) memcpy(out.st, in.st, in.n * sizeof(qstat));
    return out;
}

/* Spark's merge of two compressed summaries (a is "this", b "other"). */
static summ merge(summ a, summ b, double eps)
{
    if (b.count == 0) return copy_summ(a);
    if (a.count == 0) return copy_summ(b);
    summ m = { ls_xmalloc((a.n + b.n + 1) * sizeof(qstat)), 0, a.count + b.count, 0 };
    int64_t add_self = (int64_t)floor(2 * eps * (double)b.count);
    int64_t add_other = (int64_t)floor(2 * eps * (double)a.count);
    size_t i = 0, j = 0;
    while (i < a.n && j < b.n) {
        qstat next;
        if (a.st[i].v < b.st[j].v) {
            next = a.st[i++];
            if (j > 0) next.delta += add_self;
        } else {
            next = b.st[j++];
            if (i > 0) next.delta += add_other;
        }
        m.st[m.n++] = next;
    }
    while (i < a.n) m.st[m.n++] = a.st[i++];
    while (j < b.n) m.st[m.n++] = b.st[j++];
    summ out = compress_immut(m, 2 * eps * (double)m.count);
    summ_free(&m);
    return out;
}

/* ---- query ---------------------------------------------------------------- */

/* Spark's findApproxQuantile. */
static double find_approx(const summ *s, size_t *index, int64_t *min_rank_at, double target_error,
                          double p)
{
    size_t i = *index;
    qstat cur = s->st[i];
    int64_t rank = (int64_t)ceil(p * (double)s->count);
    int64_t min_rank = *min_rank_at;
    while (i + 1 < s->n) {
        int64_t max_rank = min_rank + cur.delta;
        if ((double)max_rank - target_error <= (double)rank &&
            (double)rank <= (double)min_rank + target_error) {
            *index = i;
            *min_rank_at = min_rank;
            return cur.v;
        }
        cur = s->st[++i];
        min_rank += cur.g;
    }
    *index = s->n - 1;
    *min_rank_at = 0;
    return s->st[s->n - 1].v;
}

typedef struct pct_pos {
    double p;
    uint32_t pos;
} pct_pos;

/* Scala's stable sortBy on the percentages. */
static int pct_cmp(const void *a, const void *b)
{
    const pct_pos *x = a, *y = b;
    int c = java_double_cmp(&x->p, &y->p);
    return c ? c : x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* Spark's query(percentiles) over a compressed summary (n > 0). */
static void query(const summ *s, double eps, const double *ps, uint32_t np, double *out)
{
    int64_t max_gd = INT64_MIN;
    for (size_t k = 0; k < s->n; k++)
        if (s->st[k].delta + s->st[k].g > max_gd) max_gd = s->st[k].delta + s->st[k].g;
    double target_error = (double)(max_gd / 2);
    size_t index = 0;
    int64_t min_rank = s->st[0].g;
    pct_pos *order = ls_xmalloc((np + 1) * sizeof *order); /* by percentage, stably */
    for (uint32_t k = 0; k < np; k++) {
        order[k].p = ps[k];
        order[k].pos = k;
    }
    qsort(order, np, sizeof *order, pct_cmp);
    for (uint32_t k = 0; k < np; k++) {
        double p = order[k].p;
        uint32_t pos = order[k].pos;
        if (p <= eps) out[pos] = s->st[0].v;
        else if (p >= 1 - eps) out[pos] = s->st[s->n - 1].v;
        else out[pos] = find_approx(s, &index, &min_rank, target_error, p);
    }
    free(order);
}

/* ---- the digest block ------------------------------------------------------ */

static summ s_summ(const qhdr *h) { return borrow(s_of(h), h->s_n, h->s_count); }
static summ p_summ(const qpart *p) { return borrow(part_stats(p), p->n, p->count); }

/* A partial as the next block holds it: its samples and its head. */
typedef struct partv {
    int64_t part;
    summ st;
    const double *head;
    size_t head_n, head_cap;
} partv;

/* A new block like proto (parameters, kinds) holding S and the partials. */
static unsigned char *build(const qhdr *proto, summ s, const partv *parts, size_t np)
{
    size_t len = base_len(proto->npct, s.n);
    for (size_t k = 0; k < np; k++)
        len += sizeof(qpart) + parts[k].st.n * sizeof(qstat) + parts[k].head_cap * 8;
    unsigned char *q = ls_xmalloc(len);
    qhdr *h = hdr(q);
    *h = *proto;
    h->len = h->cap = len;
    h->s_count = s.count;
    h->s_n = s.n;
    h->nparts = (uint32_t)np;
    h->last = 0;
    h->fresh = 0;
    h->has_result = 0;
    memcpy(pcts(h), pcts(proto), proto->npct * sizeof(double));
    memset(results(h), 0, proto->npct * sizeof(int64_t)); /* computed when asked */
    if (s.n) memcpy(s_of(h), s.st, s.n * sizeof(qstat));
    qpart *p = first_part(h);
    for (size_t k = 0; k < np; k++) {
        memset(p, 0, sizeof *p);
        p->part = parts[k].part;
        p->count = parts[k].st.count;
        p->n = parts[k].st.n;
        p->head_n = parts[k].head_n;
        p->head_cap = parts[k].head_cap;
        if (p->n) memcpy(part_stats(p), parts[k].st.st, p->n * sizeof(qstat));
        memset(part_head(p), 0, p->head_cap * 8);
        if (p->head_n) memcpy(part_head(p), parts[k].head, p->head_n * 8);
        p = next_part(p);
    }
    return q;
}

/* The partials of h as they stand. */
static partv *partials(const qhdr *h)
{
    partv *v = ls_xcalloc(h->nparts + 1, sizeof *v);
    const qpart *p = first_part(h);
    for (uint32_t k = 0; k < h->nparts; k++, p = next_part(p)) {
        v[k].part = p->part;
        v[k].st = p_summ(p);
        v[k].head = part_head(p);
        v[k].head_n = p->head_n;
        v[k].head_cap = p->head_cap;
    }
    return v;
}

unsigned char *ls_qsum_new(int64_t accuracy, const double *ps, size_t npct, int list)
{
    qhdr proto;
    memset(&proto, 0, sizeof proto);
    proto.eps = 1.0 / (double)(accuracy > 0 ? accuracy : LS_QSUM_DEFAULT_ACCURACY);
    proto.npct = (uint32_t)npct;
    proto.list = list != 0;
    unsigned char *q = ls_xcalloc(1, base_len(proto.npct, 0));
    qhdr *h = hdr(q);
    *h = proto;
    h->len = h->cap = base_len(proto.npct, 0);
    memcpy(pcts(h), ps, npct * sizeof(double));
    return q;
}

/* Makes room for `more` bytes at the end of q. */
static unsigned char *reserve(unsigned char *q, size_t more)
{
    qhdr *h = hdr(q);
    if (h->len + more <= h->cap) return q;
    size_t cap = h->cap * 2 > h->len + more ? h->cap * 2 : h->len + more;
    q = ls_xrealloc(q, cap);
    hdr(q)->cap = cap;
    return q;
}

/* The partial of source partition `part`, made when there is none; *at is
 * its offset in q (q may move). */
static unsigned char *partial_of(unsigned char *q, int64_t part, size_t *at)
{
    qhdr *h = hdr(q);
    qpart *p = first_part(h);
    uint32_t k = 0;
    if (h->last < h->nparts) { /* values come in runs of one partition: try the last one */
        for (; k < h->last; k++) p = next_part(p);
        if (p->part != part) {
            p = first_part(h);
            k = 0;
        }
    }
    for (; k < h->nparts && p->part != part; k++) p = next_part(p);
    if (k < h->nparts) {
        h->last = k;
        *at = (size_t)((unsigned char *)p - q);
        return q;
    }
    size_t size = sizeof(qpart) + FIRST_HEAD * 8;
    q = reserve(q, size);
    h = hdr(q);
    *at = h->len;
    p = (qpart *)(void *)(q + h->len);
    memset(p, 0, size);
    p->part = part;
    p->head_cap = FIRST_HEAD;
    h->len += size;
    h->last = h->nparts++;
    return q;
}

unsigned char *ls_qsum_add(unsigned char *q, double x, int kind, int64_t part)
{
    size_t at;
    q = partial_of(q, part, &at);
    qpart *p = (qpart *)(void *)(q + at);
    if (p->head_n == p->head_cap) { /* double its head, moving the partials after it */
        size_t grow = p->head_cap ? p->head_cap : FIRST_HEAD;
        if (p->head_cap + grow > LS_QSUM_HEAD_SIZE) grow = LS_QSUM_HEAD_SIZE - p->head_cap;
        q = reserve(q, grow * 8);
        p = (qpart *)(void *)(q + at);
        unsigned char *tail = (unsigned char *)next_part(p), *end = q + hdr(q)->len;
        memmove(tail + grow * 8, tail, (size_t)(end - tail));
        memset(tail, 0, grow * 8); /* the new places (never left uninitialised in a snapshot) */
        p->head_cap += grow;
        hdr(q)->len += grow * 8;
    }
    qhdr *h = hdr(q);
    part_head(p)[p->head_n++] = x;
    h->kinds |= (uint8_t)kind;
    h->fresh = 0;
    if (p->head_n < LS_QSUM_HEAD_SIZE) return q;
    /* Spark's insert: the full head buffer goes into the samples, which
     * are compressed once there are compressThreshold of them */
    summ r = with_head(p_summ(p), part_head(p), p->head_n, h->eps);
    if (r.n >= LS_QSUM_COMPRESS_THRESHOLD) {
        summ c = compress_immut(r, 2 * h->eps * (double)r.count);
        summ_free(&r);
        r = c;
    }
    partv *v = partials(h);
    v[h->last].st = r;
    v[h->last].head_n = 0;
    v[h->last].head_cap = FIRST_HEAD;
    unsigned char *nq = build(h, s_summ(h), v, h->nparts);
    summ_free(&r);
    free(v);
    free(q);
    return nq;
}

static int by_part(const void *a, const void *b)
{
    const partv *x = a, *y = b;
    return x->part < y->part ? -1 : x->part > y->part;
}

/* The batch's partials as Spark's shuffle merges them: each compressed (as
 * serialized), then merged one into the other in partition order. */
static summ batch_partial(const qhdr *h)
{
    partv *v = partials(h);
    qsort(v, h->nparts, sizeof *v, by_part);
    summ c = { NULL, 0, 0, 1 };
    for (uint32_t k = 0; k < h->nparts; k++) {
        summ pc = compress(v[k].st, v[k].head, v[k].head_n, h->eps);
        summ m = merge(c, pc, h->eps);
        summ_free(&pc);
        summ_free(&c);
        c = m;
    }
    free(v);
    return c;
}

/* All of q as one compressed summary: S merged with the batch's partials. */
static summ whole(const qhdr *h)
{
    summ c = batch_partial(h);
    summ w = merge(s_summ(h), c, h->eps);
    summ_free(&c);
    return w;
}

unsigned char *ls_qsum_seal(unsigned char *q)
{
    qhdr *h = hdr(q);
    if (h->nparts == 0) return q;
    summ w = whole(h);
    unsigned char *nq = build(h, w, NULL, 0);
    summ_free(&w);
    free(q);
    return nq;
}

unsigned char *ls_qsum_merge(unsigned char *q, const unsigned char *other)
{
    const qhdr *o = hdr(other);
    qhdr *h = hdr(q);
    if (o->s_count == 0 && o->nparts == 0) return q;
    double eps = h->eps > o->eps ? h->eps : o->eps;
    /* every partial compressed; other's joins the one of its partition */
    partv *mine = partials(h), *theirs = partials(o);
    partv *v = ls_xcalloc((size_t)h->nparts + o->nparts + 1, sizeof *v);
    size_t np = 0;
    for (uint32_t k = 0; k < h->nparts; k++) {
        v[np] = mine[k];
        v[np].st = compress(mine[k].st, mine[k].head, mine[k].head_n, h->eps);
        v[np].head_n = v[np].head_cap = 0;
        np++;
    }
    for (uint32_t k = 0; k < o->nparts; k++) {
        summ pc = compress(theirs[k].st, theirs[k].head, theirs[k].head_n, o->eps);
        size_t j = 0;
        while (j < np && v[j].part != theirs[k].part) j++;
        if (j < np) {
            summ m = merge(v[j].st, pc, eps);
            summ_free(&v[j].st);
            summ_free(&pc);
            v[j].st = m;
        } else {
            v[np].part = theirs[k].part;
            v[np].st = pc;
            v[np].head = NULL;
            v[np].head_n = v[np].head_cap = 0;
            np++;
        }
    }
    summ s = o->s_count ? merge(s_summ(h), s_summ(o), eps) : s_summ(h);
    h->kinds |= o->kinds;
    unsigned char *nq = build(h, s, v, np);
    for (size_t k = 0; k < np; k++) summ_free(&v[k].st);
    summ_free(&s);
    free(v);
    free(mine);
    free(theirs);
    free(q);
    return nq;
}

/* Java's double-to-long conversion (d.toLong): NaN is 0, out of range
 * saturates. */
static int64_t java_d2l(double d)
{
    if (isnan(d)) return 0;
    if (d >= 9223372036854775808.0) return INT64_MAX;
    if (d <= -9223372036854775808.0) return INT64_MIN;
    return (int64_t)d;
}

static ls_vtype result_type(const qhdr *h)
{
    if ((h->kinds & LS_QK_DOUBLE) || (h->kinds & (LS_QK_INT | LS_QK_TIME)) == (LS_QK_INT | LS_QK_TIME))
        return LS_DOUBLE;
    return h->kinds & LS_QK_TIME ? LS_TIME : LS_INT;
}

/* Computes the results of the current content into the cache. */
static void refresh(qhdr *h)
{
    summ w = whole(h);
    h->has_result = w.count > 0 && w.n > 0;
    if (h->has_result) {
        double *r = ls_xmalloc(h->npct * sizeof *r + 8);
        query(&w, h->eps, pcts(h), h->npct, r);
        ls_vtype t = result_type(h);
        int64_t *cells = results(h);
        for (uint32_t k = 0; k < h->npct; k++) {
            if (t == LS_DOUBLE) {
                memcpy(&cells[k], &r[k], 8);
            } else if (t == LS_INT) {
                cells[k] = java_d2l(r[k]);
            } else { /* epoch microseconds to milliseconds */
                int64_t us = java_d2l(r[k]);
                cells[k] = us / 1000 - (us % 1000 < 0);
            }
        }
        free(r);
    }
    summ_free(&w);
    h->fresh = 1;
}

ls_value ls_qsum_result(const unsigned char *q)
{
    qhdr *h = hdr(q); /* the result cache is refreshed in place: q is not logically changed */
    if (!h->fresh) refresh(h);
    if (!h->has_result) return ls_null();
    ls_vtype t = result_type(h);
    if (h->list) {
        ls_value v;
        v.type = LS_LIST;
        v.u.l.cells = results(h);
        v.u.l.n = h->npct;
        v.u.l.elem = (uint8_t)t;
        return v;
    }
    int64_t c = results(h)[0];
    if (t == LS_INT) return ls_int(c);
    if (t == LS_TIME) return ls_timestamp(c);
    double d;
    memcpy(&d, &c, 8);
    return ls_double(d);
}

size_t ls_qsum_len(const unsigned char *q) { return hdr(q)->len; }
size_t ls_qsum_cap(const unsigned char *q) { return hdr(q)->cap; }

int64_t ls_qsum_count(const unsigned char *q)
{
    const qhdr *h = hdr(q);
    int64_t n = h->s_count;
    const qpart *p = first_part(h);
    for (uint32_t k = 0; k < h->nparts; k++, p = next_part(p)) n += p->count + (int64_t)p->head_n;
    return n;
}

static int stats_ok(const qstat *st, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++)
        if (st[i].g < 0 || st[i].g > MAX_COUNT || st[i].delta < 0 || st[i].delta > MAX_COUNT) return 0;
    return 1;
}

unsigned char *ls_qsum_load(const unsigned char *b, size_t n)
{
    qhdr h;
    if (n < sizeof h) return NULL;
    memcpy(&h, b, sizeof h);
    uint64_t limit = n / 8; /* no count of items can exceed the bytes there are */
    if (h.len != n || h.npct == 0 || h.npct > limit || h.s_n > limit || h.nparts > limit ||
        base_len(h.npct, h.s_n) > n || !(h.eps > 0 && h.eps <= 1) || h.list > 1 ||
        h.kinds > 7 || h.s_count < 0 || h.s_count > MAX_COUNT || (h.s_n > 0) != (h.s_count > 0))
        return NULL;
    unsigned char *q = ls_xmalloc(n);
    memcpy(q, b, n);
    qhdr *nh = hdr(q);
    nh->cap = n;
    nh->last = 0;
    nh->fresh = 0;
    nh->has_result = 0;
    int ok = stats_ok(s_of(nh), nh->s_n);
    for (uint32_t k = 0; ok && k < nh->npct; k++) ok = pcts(nh)[k] >= 0 && pcts(nh)[k] <= 1;
    /* the partials, each within the block */
    size_t at = base_len(nh->npct, nh->s_n);
    for (uint32_t k = 0; ok && k < nh->nparts; k++) {
        qpart p;
        if (n - at < sizeof p) {
            ok = 0;
            break;
        }
        memcpy(&p, q + at, sizeof p);
        ok = p.n <= limit && p.head_cap <= LS_QSUM_HEAD_SIZE && p.head_n <= p.head_cap &&
             p.head_n < LS_QSUM_HEAD_SIZE && p.count >= 0 && p.count <= MAX_COUNT &&
             (p.n > 0) == (p.count > 0) && (n - at - sizeof p) / sizeof(qstat) >= p.n &&
             n - at - sizeof p - p.n * sizeof(qstat) >= p.head_cap * 8;
        if (ok) {
            ok = stats_ok((const qstat *)(const void *)(q + at + sizeof p), p.n);
            at += sizeof p + p.n * sizeof(qstat) + p.head_cap * 8;
        }
    }
    if (!ok || at != n) {
        free(q);
        return NULL;
    }
    return q;
}
