/* ls_state.c - partitioned hash aggregation state (see ls_state.h).
 *
 * Each partition owns its groups' memory (a slab, ls_slab.h) and a hash index
 * over them. An update is one probe of the index (a miss stops at the slot
 * the new group takes) and, for a new group, a pointer bump in the slab;
 * measured with bench/state.sh (bench/README.md, "State micro-benchmark"). */
#include "ls_state.h"

#include <stdlib.h>
#include <string.h>

#include "ls_acc_codec.h"
#include "ls_slab.h"
#include "ls_util.h"
#include "ls_window.h"

/* A freed group in a slab's free list: its nagg says so (its key_len still
 * sizes it for a walk). */
#define DEAD_GROUP UINT32_MAX

typedef struct spart {
    ls_hmap index; /* first: ls_state_part hands it out */
    ls_slab slab;  /* the groups' memory */
} spart;

struct ls_state {
    int nparts;
    uint64_t pmod;      /* for ls_state_partition_of */
    int nagg;
    spart *parts;
    size_t groups;      /* total across partitions */
    size_t group_bytes; /* bytes held by group allocations */
    int owns_blobs;     /* some accumulator may own a blob: a string, a sketch (memory is
                           counted by a walk) */
};

/* (hash >> 32) % nparts without a division (one per update showed in
 * profiles): Lemire's direct remainder, exact for 32-bit operands, with
 * pmod = 2^64 / nparts rounded up (0 for one partition). */
int ls_state_partition_of(const ls_state *s, uint64_t hash)
{
    uint64_t low = s->pmod * (hash >> 32);
    return (int)(((unsigned __int128)low * (uint32_t)s->nparts) >> 64);
}

int ls_state_nparts(const ls_state *s)
{
    return s->nparts;
}

int ls_state_nagg(const ls_state *s)
{
    return s->nagg;
}

size_t ls_state_groups(const ls_state *s)
{
    return s->groups;
}

size_t ls_state_group_bytes(const ls_state *s)
{
    return s->group_bytes;
}

ls_hmap *ls_state_part(const ls_state *s, int p)
{
    return &s->parts[p].index;
}

ls_group *ls_state_find(const ls_state *s, const char *key, size_t len, uint64_t hash)
{
    return ls_hmap_get(&s->parts[ls_state_partition_of(s, hash)].index, key, len, hash);
}

void ls_state_set_owns_blobs(ls_state *s)
{
    s->owns_blobs = 1;
}

int ls_state_owns_blobs(const ls_state *s)
{
    return s->owns_blobs;
}

/* The hash index reads a group's key without knowing the state: the number
 * of accumulators before the key bytes is kept in the header (nagg). */
static const char *group_key_of(const void *item, size_t *len)
{
    const ls_group *g = item;
    *len = g->key_len;
    return ls_group_key(g, (int)g->nagg);
}

ls_state *ls_state_new(int nparts, int nagg)
{
    ls_state *s = ls_xcalloc(1, sizeof *s);
    s->nparts = nparts > 0 ? nparts : 1;
    s->pmod = UINT64_MAX / (uint64_t)s->nparts + 1;
    s->nagg = nagg;
    s->parts = ls_xcalloc((size_t)s->nparts, sizeof *s->parts);
    for (int i = 0; i < s->nparts; i++) {
        ls_hmap_init(&s->parts[i].index, group_key_of);
        ls_slab_init(&s->parts[i].slab);
    }
    return s;
}

static size_t group_size(const ls_state *s, size_t key_len)
{
    return sizeof(ls_group) + (size_t)s->nagg * sizeof(ls_acc) + key_len;
}

/* What a group costs in its slab (its 16-byte granules). */
static size_t charged(size_t n)
{
    return ls_slab_cost(n);
}

size_t ls_state_group_cost(const ls_state *s, size_t key_len)
{
    return charged(group_size(s, key_len));
}

/* Frees a group and what its accumulators own (their blobs). */
static void free_group_of(const ls_state *s, spart *pt, ls_group *g)
{
    for (int a = 0; a < s->nagg; a++) ls_acc_release(&g->acc[a]);
    g->nagg = DEAD_GROUP;
    ls_slab_free(&pt->slab, g, group_size(s, g->key_len));
}

/* The next live group of a partition in memory order (see ls_state_iter). */
static ls_group *next_live(const ls_state *s, ls_slab_iter *it)
{
    ls_group *g;
    while ((g = ls_slab_iter_item(it)) != NULL) {
        ls_slab_iter_skip(it, group_size(s, g->key_len));
        if (g->nagg != DEAD_GROUP) return g;
    }
    return NULL;
}

void ls_state_iter_init(ls_state_iter *it, const ls_state *s, int p)
{
    it->s = s;
    ls_slab_iter_init(&it->it, &s->parts[p].slab);
}

ls_group *ls_state_iter_next(ls_state_iter *it)
{
    return next_live(it->s, &it->it);
}

/* Releases what the accumulators of a partition's groups own, walking the
 * slab in memory order (sequential reads, unlike a walk of the index: a few
 * ns per group, so it is done whether or not owns_blobs was set). */
static void release_blobs(const ls_state *s, spart *pt)
{
    ls_slab_iter it;
    ls_slab_iter_init(&it, &pt->slab);
    ls_group *g;
    while ((g = next_live(s, &it)) != NULL)
        for (int a = 0; a < s->nagg; a++) ls_acc_release(&g->acc[a]);
}

void ls_state_free(ls_state *s)
{
    if (!s) return;
    for (int i = 0; i < s->nparts; i++) {
        if (s->nagg) release_blobs(s, &s->parts[i]);
        ls_slab_release(&s->parts[i].slab);
        ls_hmap_free(&s->parts[i].index);
    }
    free(s->parts);
    free(s);
}

/* Finds or creates a group in one partition with one probe: the probe
 * that misses stops at the empty slot where the new group goes (before,
 * a miss probed again to insert). Keys are compared inline (the index's
 * key_of callback is for other users). *added = bytes allocated. */
static ls_group *upsert_in(ls_state *s, spart *pt, const char *key, size_t len,
                           uint64_t hash, int64_t window_end, size_t *added)
{
    ls_hmap *index = &pt->index;
    *added = 0;
    size_t slot = LS_HMAP_NO_SLOT;
    if (index->cap) {
        size_t mask = index->cap - 1;
        for (size_t i = hash & mask;; i = (i + 1) & mask) {
            const ls_hslot *sl = &index->slots[i];
            const ls_group *g = sl->item;
            if (!g) {
                slot = i;
                break;
            }
            if (sl->hash == hash && g->key_len == len &&
                memcmp(ls_group_key(g, s->nagg), key, len) == 0)
                return sl->item;
        }
    }
    size_t size = group_size(s, len);
    ls_group *g = ls_slab_alloc(&pt->slab, size);
    g->window_end = window_end;
    g->updated_batch = -1;
    g->key_len = (uint32_t)len;
    g->nagg = (uint32_t)s->nagg;
    for (int i = 0; i < s->nagg; i++) ls_acc_init(&g->acc[i]);
    memcpy(ls_group_key(g, s->nagg), key, len);
    ls_hmap_put_at(index, slot, g, hash);
    *added = charged(size);
    return g;
}

void ls_state_prefetch(const ls_state *s, uint64_t hash)
{
    const ls_hmap *m = &s->parts[ls_state_partition_of(s, hash)].index;
    if (m->cap) __builtin_prefetch(&m->slots[hash & (m->cap - 1)]);
}

ls_group *ls_state_upsert(ls_state *s, const char *key, size_t len, uint64_t hash,
                          int64_t window_end, int *created)
{
    size_t added;
    ls_group *g = upsert_in(s, &s->parts[ls_state_partition_of(s, hash)], key, len, hash,
                            window_end, &added);
    *created = added > 0;
    if (added) {
        s->groups++;
        s->group_bytes += added;
    }
    return g;
}

/* One group of a partial state folded into dst's partition. */
static void merge_one(ls_state *dst, spart *to, const ls_group *sg, const char *key, uint64_t hash,
                      const ls_agg_spec *aggs, int64_t batch_id, ls_merge_result *r)
{
    size_t added;
    ls_group *g = upsert_in(dst, to, key, sg->key_len, hash, sg->window_end, &added);
    if (added) {
        r->groups_added++;
        r->bytes_added += added;
    }
    for (int a = 0; a < dst->nagg; a++) ls_acc_merge(&g->acc[a], &sg->acc[a], aggs[a].fn);
    if (g->updated_batch != batch_id) {
        g->updated_batch = batch_id;
        r->rows_updated++;
    }
}

/* src's groups are handed over in the order of its index: that keeps dst's
 * probes close together (dst's index is laid out by the same hash bits).
 * But when dst's index grows more than once during such a merge, what was
 * merged so far sits in the low part of each region of the grown index and
 * overflows into long clusters: merging 10M groups into an empty state took
 * 8.8 us per group (bench/state.sh). So a dst smaller than src is sized for
 * both first (it will hold at least half of that); dst at least src's size
 * can double at most once during the merge, which costs at most a constant
 * factor. A sparse src (an index kept at the size of an earlier, larger
 * batch) is walked in memory order instead, in proportion to its groups
 * rather than its index, each key hashed again. */
void ls_state_merge_part(ls_state *dst, const ls_state *src, int part, const ls_agg_spec *aggs,
                         int64_t batch_id, ls_merge_result *r)
{
    spart *to = &dst->parts[part];
    const ls_hmap *from = &src->parts[part].index;
    if (to->index.count < from->count) ls_hmap_reserve(&to->index, to->index.count + from->count);
    if (from->count * 8 >= from->cap) {
        for (size_t i = 0; i < from->cap; i++) {
            const ls_group *sg = from->slots[i].item;
            if (sg) merge_one(dst, to, sg, ls_group_key(sg, src->nagg), from->slots[i].hash, aggs,
                              batch_id, r);
        }
        return;
    }
    ls_state_iter it;
    ls_state_iter_init(&it, src, part);
    for (const ls_group *sg; (sg = ls_state_iter_next(&it)) != NULL;) {
        const char *key = ls_group_key(sg, src->nagg);
        merge_one(dst, to, sg, key, ls_hash(key, sg->key_len), aggs, batch_id, r);
    }
}

void ls_state_seal(ls_state *s, const ls_agg_spec *aggs, int64_t batch_id)
{
    int any = 0;
    for (int a = 0; a < s->nagg; a++) any |= ls_agg_needs_seal(aggs[a].fn);
    if (!any) return;
    for (int i = 0; i < s->nparts; i++) {
        ls_state_iter it;
        ls_state_iter_init(&it, s, i);
        for (ls_group *g; (g = ls_state_iter_next(&it)) != NULL;) {
            if (g->updated_batch != batch_id) continue; /* sealed in an earlier batch */
            for (int a = 0; a < s->nagg; a++)
                if (ls_agg_needs_seal(aggs[a].fn)) ls_acc_seal(&g->acc[a]);
        }
    }
}

/* A worker's partial state after its merge, every batch: each partition's
 * slab is reset (its chunks kept for the next batch) and its index emptied
 * in place (its size kept). */
void ls_state_clear(ls_state *s)
{
    for (int i = 0; i < s->nparts; i++) {
        spart *pt = &s->parts[i];
        if (!pt->index.count) continue;
        if (s->nagg) release_blobs(s, pt);
        ls_slab_reset(&pt->slab);
        ls_hmap_clear(&pt->index);
    }
    s->groups = 0;
    s->group_bytes = 0;
}

typedef struct evict_ctx {
    ls_state *s;
    spart *pt;
    int64_t watermark;
    size_t dropped;
} evict_ctx;

static int keep_group(void *item, void *ctx)
{
    const ls_group *g = item;
    const evict_ctx *e = ctx;
    return g->window_end == LS_NO_TIME || g->window_end > e->watermark;
}

static void drop_group(void *item, void *ctx)
{
    evict_ctx *e = ctx;
    ls_group *g = item;
    e->s->group_bytes -= charged(group_size(e->s, g->key_len));
    e->s->groups--;
    e->dropped++;
    free_group_of(e->s, e->pt, g);
}

size_t ls_state_evict(ls_state *s, int64_t watermark)
{
    evict_ctx e = { s, NULL, watermark, 0 };
    if (watermark == LS_NO_TIME) return 0;
    for (int i = 0; i < s->nparts; i++) {
        e.pt = &s->parts[i];
        ls_hmap_filter(&e.pt->index, keep_group, drop_group, &e);
    }
    return e.dropped;
}

size_t ls_state_memory(const ls_state *s)
{
    size_t bytes = s->group_bytes + sizeof *s + (size_t)s->nparts * sizeof(ls_hmap);
    for (int i = 0; i < s->nparts; i++) bytes += ls_hmap_bytes(&s->parts[i].index);
    if (s->owns_blobs) { /* string min/max values and sketches live apart from their groups */
        for (int i = 0; i < s->nparts; i++) {
            ls_state_iter it;
            ls_state_iter_init(&it, s, i);
            for (const ls_group *g; (g = ls_state_iter_next(&it)) != NULL;)
                for (int a = 0; a < s->nagg; a++) {
                    size_t extra = ls_acc_extra_bytes(&g->acc[a]);
                    if (extra) bytes += charged(extra);
                }
        }
    }
    return bytes;
}

/* ---- snapshots ---------------------------------------------------------- */

#define SNAP_MAGIC "LSST"
/* Version 2 writes a string accumulator as its length and bytes; version 3
 * adds sketches (approx_count_distinct, percentile_approx) as a uint64
 * length and their bytes. Versions 1 (no string accumulators) and 2 are
 * still read. */
#define SNAP_VERSION 3u

typedef struct snapio {
    FILE *f;
    uint64_t sum; /* FNV-1a over every byte so far */
    int bad;
} snapio;

static void sum_bytes(snapio *io, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        io->sum ^= b[i];
        io->sum *= 1099511628211ULL;
    }
}

static void put(snapio *io, const void *p, size_t n)
{
    sum_bytes(io, p, n);
    if (fwrite(p, 1, n, io->f) != n) io->bad = 1;
}

static void put_cb(void *io, const void *p, size_t n)
{
    put(io, p, n);
}

int ls_state_save(const ls_state *s, FILE *f)
{
    snapio io = { f, 1469598103934665603ULL, 0 };
    uint32_t version = SNAP_VERSION, nagg = (uint32_t)s->nagg;
    uint64_t length = 0; /* patched at the end; not covered by the checksum */
    long start = ftell(f);
    put(&io, SNAP_MAGIC, 4);
    put(&io, &version, 4);
    put(&io, &nagg, 4);
    if (fwrite(&length, 1, 8, f) != 8) io.bad = 1;
    uint64_t count = 0;
    for (int p = 0; p < s->nparts; p++) {
        const ls_group *g;
        LS_HMAP_FOREACH(&s->parts[p].index, g) {
            uint8_t more = 1;
            put(&io, &more, 1);
            put(&io, &g->window_end, 8);
            put(&io, &g->updated_batch, 8);
            put(&io, &g->key_len, 4);
            for (int a = 0; a < s->nagg; a++) ls_acc_encode(&g->acc[a], put_cb, &io);
            put(&io, ls_group_key(g, s->nagg), g->key_len);
            count++;
        }
    }
    uint8_t end = 0;
    put(&io, &end, 1);
    put(&io, &count, 8);
    uint64_t sum = io.sum;
    if (fwrite(&sum, 1, 8, f) != 8) io.bad = 1;
    /* the total length lets a load tell a cut file from a damaged one */
    long stop = ftell(f);
    length = (uint64_t)(stop - start);
    if (start < 0 || stop < 0 || fseek(f, start + 12, SEEK_SET) != 0 ||
        fwrite(&length, 1, 8, f) != 8 || fseek(f, stop, SEEK_SET) != 0)
        io.bad = 1;
    return io.bad ? -1 : 0;
}

/* A snapshot says how many groups it holds (its count, before the
 * checksum): each partition's index is sized for its share at once rather
 * than doubling its way there, rehashing every group each time. The count
 * is checked later; here it is only bounded by what the file can hold. */
static void presize(ls_state *s, const char *count_at, size_t len)
{
    uint64_t n;
    memcpy(&n, count_at, 8);
    if (n > len / 21) n = len / 21; /* a group takes 21 bytes at least */
    double share = (double)n / s->nparts;
    if (share < 64) return; /* a small state: a resize or two cost nothing */
    size_t want = (size_t)(share + 4 * __builtin_sqrt(share)); /* rarely exceeded */
    for (int i = 0; i < s->nparts; i++) ls_hmap_reserve(&s->parts[i].index, want);
}

/* Loading reads the whole snapshot and checks its checksum before parsing
 * anything, so a corrupt length field is reported as corruption and never
 * trusted for an allocation. */
typedef struct reader {
    const unsigned char *p, *end;
} reader;

static int take(reader *r, void *out, size_t n)
{
    if ((size_t)(r->end - r->p) < n) return -1;
    memcpy(out, r->p, n);
    r->p += n;
    return 0;
}

int ls_state_load(ls_state *s, FILE *f, const char *path, ls_err *err)
{
    ls_buf b;
    ls_buf_init(&b);
    int rc = -1;
    if (ls_read_stream(f, &b)) {
        ls_seterr(err, "%s: read error", path);
        ls_buf_free(&b);
        return -1;
    }
    ls_acc *acc = NULL;
    const size_t header = 20, trailer = 1 + 8 + 8;
    if (b.len >= 4 && memcmp(b.data, SNAP_MAGIC, 4) != 0) {
        ls_seterr(err, "%s: not a luastream state snapshot", path);
        goto out;
    }
    if (b.len < header + trailer) {
        ls_seterr(err, "%s: snapshot is truncated", path);
        goto out;
    }
    uint32_t version, nagg;
    memcpy(&version, b.data + 4, 4);
    memcpy(&nagg, b.data + 8, 4);
    if (version != SNAP_VERSION && version != 2 && version != 1) {
        ls_seterr(err, "%s: unsupported snapshot version %u", path, version);
        goto out;
    }
    if (nagg != (uint32_t)s->nagg) {
        ls_seterr(err, "%s: snapshot has %u aggregates, the query %d", path, nagg, s->nagg);
        goto out;
    }
    uint64_t length;
    memcpy(&length, b.data + 12, 8);
    snapio io = { NULL, 1469598103934665603ULL, 0 };
    sum_bytes(&io, b.data, 12);
    sum_bytes(&io, b.data + header, b.len - header - 8);
    uint64_t want_sum;
    memcpy(&want_sum, b.data + b.len - 8, 8);
    if (io.sum != want_sum || b.len != length) {
        /* a cut file has no checksum at its end and is shorter than its header says */
        if (io.sum != want_sum && b.len < length)
            ls_seterr(err, "%s: snapshot is truncated (%zu of %llu bytes)", path, b.len,
                      (unsigned long long)length);
        else
            ls_seterr(err, "%s: snapshot is corrupt (checksum mismatch)", path);
        goto out;
    }
    reader r = { (const unsigned char *)b.data + header, (const unsigned char *)b.data + b.len - 8 };
    presize(s, b.data + b.len - 16, b.len);
    acc = ls_xcalloc((size_t)s->nagg + 1, sizeof *acc);
    uint64_t count = 0;
    for (;;) {
        uint8_t more;
        if (take(&r, &more, 1)) goto corrupt;
        if (!more) break;
        int64_t wend, upd;
        uint32_t klen;
        if (take(&r, &wend, 8) || take(&r, &upd, 8) || take(&r, &klen, 4)) goto corrupt;
        int bad = 0;
        for (int a = 0; a < s->nagg && !bad; a++) {
            ls_acc_init(&acc[a]);
            bad = ls_acc_decode(&r.p, r.end, version, &acc[a]);
        }
        if (bad || (size_t)(r.end - r.p) < klen) {
            for (int a = 0; a < s->nagg; a++) ls_acc_release(&acc[a]);
            goto corrupt;
        }
        const char *key = (const char *)r.p;
        r.p += klen;
        int created;
        ls_group *g = ls_state_upsert(s, key, klen, ls_hash(key, klen), wend, &created);
        if (!created) {
            for (int a = 0; a < s->nagg; a++) ls_acc_release(&acc[a]);
            goto corrupt;
        }
        g->updated_batch = upd;
        for (int a = 0; a < s->nagg; a++) {
            g->acc[a] = acc[a]; /* the group takes the blobs */
            if (ls_acc_extra_bytes(&acc[a])) s->owns_blobs = 1;
            ls_acc_init(&acc[a]); /* so that a later failure cannot free them again */
        }
        count++;
    }
    uint64_t want_count;
    if (take(&r, &want_count, 8) || want_count != count || r.p != r.end) goto corrupt;
    rc = 0;
    goto out;
corrupt:
    ls_seterr(err, "%s: snapshot is corrupt (content does not parse)", path);
out:
    free(acc);
    ls_buf_free(&b);
    return rc;
}

void ls_state_add_merged(ls_state *s, const ls_merge_result *r)
{
    s->groups += r->groups_added;
    s->group_bytes += r->bytes_added;
}

/* ---- state partitions that move between the members of a job ----------- */

static int keep_nothing(void *item, void *ctx)
{
    (void)item;
    (void)ctx;
    return 0;
}

void ls_state_clear_part(ls_state *s, int p)
{
    if (p < 0 || p >= s->nparts) return;
    evict_ctx e = { s, &s->parts[p], 0, 0 };
    ls_hmap_filter(&e.pt->index, keep_nothing, drop_group, &e);
}

ls_group *ls_state_put(ls_state *s, const char *key, size_t len, uint64_t hash,
                       int64_t window_end, ls_acc *acc, const ls_agg_spec *aggs, int *created)
{
    ls_group *g = ls_state_upsert(s, key, len, hash, window_end, created);
    for (int a = 0; a < s->nagg; a++) {
        if (ls_acc_extra_bytes(&acc[a])) s->owns_blobs = 1;
        if (aggs && !*created) {
            ls_acc_merge(&g->acc[a], &acc[a], aggs[a].fn);
            ls_acc_release(&acc[a]);
        } else {
            ls_acc_release(&g->acc[a]);
            g->acc[a] = acc[a]; /* the group takes the blob */
        }
        ls_acc_init(&acc[a]);
    }
    if (!aggs) g->window_end = window_end;
    return g;
}

static int not_dead(void *item, void *ctx)
{
    (void)ctx;
    return ((const ls_group *)item)->updated_batch != LS_GROUP_DEAD;
}

size_t ls_state_sweep_part(ls_state *s, int p)
{
    if (p < 0 || p >= s->nparts) return 0;
    evict_ctx e = { s, &s->parts[p], 0, 0 };
    ls_hmap_filter(&e.pt->index, not_dead, drop_group, &e);
    return e.dropped;
}
