/* ls_standby.c - standby copies of state partitions other members own
 * (see ls_standby.h). */
#include "ls_standby.h"

#include <stdlib.h>
#include <string.h>

#include "ls_value.h" /* ls_hash */

#define REFRESH_MS 3000        /* the group is described again at least this often */
#define ADMIN_TIMEOUT_MS 10000
#define TICK_BUDGET_MS 200     /* a tick reads for at most this long */

/* ---- a copy: the changelog compacted in memory ---------------------------- */

typedef struct entry {
    char *kv;                  /* key bytes then value bytes (NULL: empty slot) */
    uint32_t klen, vlen;
    uint64_t h;
    int dead;                  /* removed (a slot a probe must pass) */
} entry;

typedef struct copy {
    int ti, part;
    int64_t next;              /* every record before it is in the copy */
    entry *slots;
    size_t cap, live, used;    /* used: live + dead slots */
} copy;

static void copy_clear(copy *c)
{
    for (size_t i = 0; i < c->cap; i++) free(c->slots[i].kv);
    free(c->slots);
    c->slots = NULL;
    c->cap = c->live = c->used = 0;
}

static entry *probe(copy *c, const void *key, size_t klen, uint64_t h)
{
    size_t i = h & (c->cap - 1);
    entry *free_slot = NULL;
    for (;;) {
        entry *e = &c->slots[i];
        if (!e->kv && !e->dead) return free_slot ? free_slot : e;
        if (e->dead) {
            if (!free_slot) free_slot = e;
        } else if (e->h == h && e->klen == klen && memcmp(e->kv, key, klen) == 0) {
            return e;
        }
        i = (i + 1) & (c->cap - 1);
    }
}

static void grow(copy *c)
{
    size_t ncap = c->cap ? c->cap : 64;
    while (c->live * 2 + 1 > ncap) ncap *= 2;
    if (c->live * 4 + 4 > ncap * 3) ncap *= 2;
    entry *old = c->slots;
    size_t ocap = c->cap;
    c->slots = ls_xcalloc(ncap, sizeof *c->slots);
    c->cap = ncap;
    c->used = c->live;
    for (size_t i = 0; i < ocap; i++) {
        if (!old[i].kv) continue;
        entry *e = probe(c, old[i].kv, old[i].klen, old[i].h);
        *e = old[i];
    }
    free(old);
}

/* A record: the key's value replaced, or (val NULL) removed. */
static void copy_put(copy *c, const void *key, size_t klen, const void *val, size_t vlen)
{
    if ((c->used + 1) * 4 > c->cap * 3) grow(c);
    uint64_t h = ls_hash(key, klen);
    entry *e = probe(c, key, klen, h);
    if (e->kv) { /* the key is there */
        free(e->kv);
        e->kv = NULL;
        c->live--;
        if (!val) {
            e->dead = 1;
            return;
        }
    } else if (!val) {
        return;
    } else if (!e->dead) {
        c->used++;
    }
    e->dead = 0;
    e->kv = ls_xmalloc(klen + vlen + 1);
    memcpy(e->kv, key, klen);
    if (vlen) memcpy(e->kv + klen, val, vlen);
    e->klen = (uint32_t)klen;
    e->vlen = (uint32_t)vlen;
    e->h = h;
    c->live++;
}

/* ---- the standby ------------------------------------------------------------ */

typedef struct topic {
    char *changelog, *repart;
    int nparts;
} topic;

struct ls_standby {
    char *app;
    int n;
    rd_kafka_t *rk;            /* owned: reads the changelogs, describes the group */
    rd_kafka_queue_t *q;       /* the description's answer */
    topic *t;
    size_t nt;
    copy *c;                   /* the copies held */
    size_t nc;
    int asking;                /* a description was asked for */
    double asked_at;
    int64_t rebalances;        /* as of the last description asked for */
    int reassign;              /* the copies changed: the reader's assignment follows */
    int warned;
};

ls_standby *ls_standby_new(const char *app, int n, rd_kafka_t *rk)
{
    ls_standby *sb = ls_xcalloc(1, sizeof *sb);
    sb->app = ls_xstrdup(app);
    sb->n = n;
    sb->rk = rk;
    sb->q = rd_kafka_queue_new(rk);
    sb->rebalances = -1;
    return sb;
}

void ls_standby_free(ls_standby *sb)
{
    if (!sb) return;
    for (size_t i = 0; i < sb->nc; i++) copy_clear(&sb->c[i]);
    free(sb->c);
    for (size_t i = 0; i < sb->nt; i++) {
        free(sb->t[i].changelog);
        free(sb->t[i].repart);
    }
    free(sb->t);
    rd_kafka_queue_destroy(sb->q);
    rd_kafka_consumer_close(sb->rk);
    rd_kafka_destroy(sb->rk);
    free(sb->app);
    free(sb);
}

void ls_standby_add(ls_standby *sb, const char *changelog, const char *repart, int nparts)
{
    sb->t = ls_xrealloc(sb->t, (sb->nt + 1) * sizeof *sb->t);
    sb->t[sb->nt].changelog = ls_xstrdup(changelog);
    sb->t[sb->nt].repart = ls_xstrdup(repart);
    sb->t[sb->nt].nparts = nparts;
    sb->nt++;
}

static void warn(ls_standby *sb, const char *what, const char *why)
{
    if (sb->warned++ < 5) /* the copies only save time: a few lines, not one per tick */
        ls_log("warning: app %s: standby copies: %s: %s", sb->app, what, why);
}

static copy *find(ls_standby *sb, int ti, int part)
{
    for (size_t i = 0; i < sb->nc; i++)
        if (sb->c[i].ti == ti && sb->c[i].part == part) return &sb->c[i];
    return NULL;
}

static void drop(ls_standby *sb, copy *c)
{
    copy_clear(c);
    *c = sb->c[--sb->nc];
    sb->reassign = 1;
}

static int topic_index(const ls_standby *sb, const char *name, int changelog)
{
    for (size_t i = 0; i < sb->nt; i++)
        if (strcmp(changelog ? sb->t[i].changelog : sb->t[i].repart, name) == 0) return (int)i;
    return -1;
}

/* ---- which partitions ---------------------------------------------------------- */

static void ask(ls_standby *sb, int64_t rebalances)
{
    char errstr[256];
    rd_kafka_AdminOptions_t *o =
        rd_kafka_AdminOptions_new(sb->rk, RD_KAFKA_ADMIN_OP_DESCRIBECONSUMERGROUPS);
    if (!o) return;
    if (rd_kafka_AdminOptions_set_request_timeout(o, ADMIN_TIMEOUT_MS, errstr, sizeof errstr)) {
        rd_kafka_AdminOptions_destroy(o);
        warn(sb, "describing the group", errstr);
        return;
    }
    const char *ids[1] = { sb->app };
    rd_kafka_DescribeConsumerGroups(sb->rk, ids, 1, o, sb->q);
    rd_kafka_AdminOptions_destroy(o);
    sb->asking = 1;
    sb->asked_at = ls_mono_ms();
    sb->rebalances = rebalances;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The partitions this member stands by for, from the group's description:
 * want[ti][p] = 1; those the description gives this member itself: 2 (a
 * copy of one is kept: the member is about to take it over). */
static int wanted(ls_standby *sb, const rd_kafka_ConsumerGroupDescription_t *d,
                  const char *me, unsigned char **want)
{
    size_t nm = rd_kafka_ConsumerGroupDescription_member_count(d);
    const char **ids = ls_xcalloc(nm + 1, sizeof *ids);
    size_t n = 0;
    for (size_t i = 0; i < nm; i++) {
        const rd_kafka_MemberDescription_t *md = rd_kafka_ConsumerGroupDescription_member(d, i);
        const char *id = md ? rd_kafka_MemberDescription_consumer_id(md) : NULL;
        if (id) ids[n++] = id;
    }
    qsort(ids, n, sizeof *ids, cmp_str);
    long mine = -1;
    for (size_t i = 0; i < n; i++)
        if (strcmp(ids[i], me) == 0) mine = (long)i;
    for (size_t i = 0; mine >= 0 && i < nm; i++) {
        const rd_kafka_MemberDescription_t *md = rd_kafka_ConsumerGroupDescription_member(d, i);
        const char *id = md ? rd_kafka_MemberDescription_consumer_id(md) : NULL;
        if (!id) continue;
        const char **at = bsearch(&id, ids, n, sizeof *ids, cmp_str);
        long owner = at ? (long)(at - ids) : -1;
        /* this member is the owner's k-th successor */
        long k = owner < 0 ? -1 : (mine - owner + (long)n) % (long)n;
        if (k < 0 || k > sb->n) continue;
        const rd_kafka_MemberAssignment_t *a = rd_kafka_MemberDescription_assignment(md);
        const rd_kafka_topic_partition_list_t *l = a ? rd_kafka_MemberAssignment_partitions(a) : NULL;
        for (int j = 0; l && j < l->cnt; j++) {
            int ti = l->elems[j].topic ? topic_index(sb, l->elems[j].topic, 0) : -1;
            int p = l->elems[j].partition;
            if (ti >= 0 && p >= 0 && p < sb->t[ti].nparts) want[ti][p] = k == 0 ? 2 : 1;
        }
    }
    free(ids);
    return mine >= 0;
}

/* The group's description has come: the copies follow it. */
static void answer(ls_standby *sb, rd_kafka_event_t *ev, const char *me,
                   ls_standby_owned_fn owned, void *ctx)
{
    sb->asking = 0;
    const rd_kafka_DescribeConsumerGroups_result_t *res =
        rd_kafka_event_DescribeConsumerGroups_result(ev);
    size_t nd = 0;
    const rd_kafka_ConsumerGroupDescription_t **ds =
        res ? rd_kafka_DescribeConsumerGroups_result_groups(res, &nd) : NULL;
    if (rd_kafka_event_error(ev) || !ds || nd < 1) {
        warn(sb, "describing the group", rd_kafka_event_error(ev) ? rd_kafka_event_error_string(ev)
                                                                   : "no answer");
        return;
    }
    const rd_kafka_error_t *e = rd_kafka_ConsumerGroupDescription_error(ds[0]);
    if (e) {
        warn(sb, "describing the group", rd_kafka_error_string(e));
        return;
    }
    if (rd_kafka_ConsumerGroupDescription_state(ds[0]) != RD_KAFKA_CONSUMER_GROUP_STATE_STABLE) {
        /* a rebalance under way: the assignments shown are not the group's
         * yet (a member's may be empty); nothing changes on them */
        sb->asked_at = ls_mono_ms() - REFRESH_MS + 500;
        return;
    }
    unsigned char **want = ls_xcalloc(sb->nt + 1, sizeof *want);
    for (size_t ti = 0; ti < sb->nt; ti++) want[ti] = ls_xcalloc((size_t)sb->t[ti].nparts, 1);
    if (me) wanted(sb, ds[0], me, want);
    for (size_t ti = 0; ti < sb->nt; ti++)
        for (int p = 0; p < sb->t[ti].nparts; p++)
            if (want[ti][p] == 1 && owned(ctx, (int)ti, p)) want[ti][p] = 0;
    for (size_t i = 0; i < sb->nc;) { /* copies no longer wanted nor about to be taken */
        if (!want[sb->c[i].ti][sb->c[i].part]) drop(sb, &sb->c[i]);
        else i++;
    }
    for (size_t ti = 0; ti < sb->nt; ti++)
        for (int p = 0; p < sb->t[ti].nparts; p++)
            if (want[ti][p] == 1 && !find(sb, (int)ti, p)) { /* a new copy, from the start */
                int64_t lo = 0, hi = 0;
                rd_kafka_resp_err_t qe = rd_kafka_query_watermark_offsets(
                    sb->rk, sb->t[ti].changelog, p, &lo, &hi, ADMIN_TIMEOUT_MS);
                if (qe) {
                    warn(sb, sb->t[ti].changelog, rd_kafka_err2str(qe));
                    continue;
                }
                sb->c = ls_xrealloc(sb->c, (sb->nc + 1) * sizeof *sb->c);
                copy *c = &sb->c[sb->nc++];
                memset(c, 0, sizeof *c);
                c->ti = (int)ti;
                c->part = p;
                c->next = lo; /* nothing before lo is left to read */
                sb->reassign = 1;
            }
    for (size_t ti = 0; ti < sb->nt; ti++) free(want[ti]);
    free(want);
}

/* The reader reads exactly the copies, each from its offset. */
static void assign(ls_standby *sb)
{
    sb->reassign = 0;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)sb->nc + 1);
    for (size_t i = 0; i < sb->nc; i++)
        rd_kafka_topic_partition_list_add(l, sb->t[sb->c[i].ti].changelog, sb->c[i].part)->offset =
            sb->c[i].next;
    /* a full unassign first: nothing fetched for an earlier assignment is
     * delivered after it */
    rd_kafka_resp_err_t e = rd_kafka_assign(sb->rk, NULL);
    if (!e && l->cnt) e = rd_kafka_assign(sb->rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (e) {
        warn(sb, "assigning the changelogs", rd_kafka_err2str(e));
        for (size_t i = 0; i < sb->nc; i++) copy_clear(&sb->c[i]);
        sb->nc = 0; /* none held: the next description starts them again */
    }
}

static void take_message(ls_standby *sb, rd_kafka_message_t *m)
{
    int ti = m->rkt ? topic_index(sb, rd_kafka_topic_name(m->rkt), 1) : -1;
    copy *c = ti >= 0 ? find(sb, ti, m->partition) : NULL;
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        if (c && m->offset > c->next) c->next = m->offset; /* read everything before it */
        return;
    }
    if (m->err) {
        warn(sb, m->rkt ? rd_kafka_topic_name(m->rkt) : "reading", rd_kafka_message_errstr(m));
        if (c) drop(sb, c); /* a gap (out of range): started again at the next description */
        sb->asked_at = 0;
        return;
    }
    if (!c || m->offset < c->next) return;
    copy_put(c, m->key ? m->key : "", m->key_len, m->payload, m->len);
    c->next = m->offset + 1;
}

static int never_owned(void *ctx, int ti, int part)
{
    (void)ctx;
    (void)ti;
    (void)part;
    return 0;
}

void ls_standby_tick(ls_standby *sb, const char *member_id, int64_t rebalances,
                     ls_standby_owned_fn owned, void *ctx)
{
    if (!owned) owned = never_owned;
    double now = ls_mono_ms();
    if (!sb->asking && (rebalances != sb->rebalances || now - sb->asked_at > REFRESH_MS))
        ask(sb, rebalances);
    if (sb->asking) {
        rd_kafka_event_t *ev = rd_kafka_queue_poll(sb->q, 0);
        if (ev) {
            answer(sb, ev, member_id, owned, ctx);
            rd_kafka_event_destroy(ev);
        } else if (now - sb->asked_at > 2 * ADMIN_TIMEOUT_MS) {
            sb->asking = 0; /* lost: ask again */
        }
    }
    if (sb->reassign) assign(sb);
    if (!sb->nc) return;
    double until = ls_mono_ms() + TICK_BUDGET_MS;
    while (ls_mono_ms() < until) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(sb->rk, 0);
        if (!m) break;
        take_message(sb, m);
        rd_kafka_message_destroy(m);
        if (sb->reassign) assign(sb); /* a copy was dropped */
    }
}

int ls_standby_take(ls_standby *sb, int ti, int part, int64_t lo, int64_t hi,
                    ls_standby_record_fn fn, void *ctx, int64_t *from, ls_err *err)
{
    copy *c = find(sb, ti, part);
    if (!c) return 0;
    if (c->next < lo || c->next > hi) {
        char why[160];
        snprintf(why, sizeof why, "partition %d: the copy is at offset %lld, the changelog holds "
                 "%lld to %lld: not used", part, (long long)c->next, (long long)lo, (long long)hi);
        warn(sb, sb->t[ti].changelog, why);
        drop(sb, c);
        return 0;
    }
    int rc = 0;
    for (size_t i = 0; i < c->cap && rc == 0; i++) {
        entry *e = &c->slots[i];
        if (e->kv) rc = fn(ctx, e->kv, e->klen, e->kv + e->klen, e->vlen, err);
    }
    *from = c->next;
    drop(sb, c);
    return rc ? -1 : 1;
}

void ls_standby_stats(const ls_standby *sb, int64_t *held, int64_t *lag)
{
    *held = (int64_t)sb->nc;
    *lag = 0;
    for (size_t i = 0; i < sb->nc; i++) {
        int64_t lo, hi;
        if (rd_kafka_get_watermark_offsets(sb->rk, sb->t[sb->c[i].ti].changelog, sb->c[i].part,
                                           &lo, &hi) == RD_KAFKA_RESP_ERR_NO_ERROR &&
            hi > sb->c[i].next)
            *lag += hi - sb->c[i].next;
    }
}
