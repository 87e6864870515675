/* ls_source.c - the Kafka consumer behind a source (see ls_source.h). */
#include "ls_source.h"
#include "ls_source_impl.h"
#include "ls_source_files.h"

#include <math.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

/* Kafka refuses longer topic names (Topic.MAX_NAME_LENGTH). */
#define MAX_TOPIC_NAME 249

ls_source *ls_source_new(const char *bootstrap)
{
    ls_source *s = ls_xcalloc(1, sizeof *s);
    s->d.bootstrap = ls_xstrdup(bootstrap);
    s->d.max_record_bytes = 1 << 20;
    s->d.connect_timeout_ms = 10000;
    return s;
}

ls_source_decl *ls_source_decl_of(ls_source *s)
{
    return s ? &s->d : NULL;
}

const ls_source_decl *ls_source_declared(const ls_source *s)
{
    return s ? &s->d : NULL;
}

int ls_source_connected(const ls_source *s)
{
    return s->rk != NULL;
}

size_t ls_source_nparts(const ls_source *s)
{
    return s->nparts;
}

const ls_source_part *ls_source_part_at(const ls_source *s, size_t i)
{
    return i < s->nparts ? &s->parts[i] : NULL;
}

void ls_source_plan_batches(ls_source *s)
{
    s->planned = 1;
}

void ls_source_add_topic(ls_source *s, const char *topic)
{
    s->d.topics = ls_xrealloc(s->d.topics, (s->d.ntopics + 1) * sizeof *s->d.topics);
    s->d.topics[s->d.ntopics++] = ls_xstrdup(topic);
}

void ls_source_free(ls_source *s)
{
    if (!s) return;
    if (s->d.is_files) ls_fsrc_free(s);
    int closed = 0;
    if (s->rk && s->group) {
        /* leaves the group: the revocation runs the rebalance callback,
         * which lets go of every owned partition (s->parts) */
        s->closing = 1;
        rd_kafka_resp_err_t e = rd_kafka_consumer_close(s->rk);
        if (e) ls_log("group %s: leaving the group: %s", s->group, rd_kafka_err2str(e));
        closed = 1;
    }
    for (size_t i = 0; i < s->nparts; i++) {
        ls_source_part *p = &s->parts[i];
        for (size_t k = 0; k < p->nstash; k++) rd_kafka_message_destroy(p->stash[k]);
        free(p->stash);
        if (p->queue) rd_kafka_queue_destroy(p->queue);
    }
    if (s->queue) rd_kafka_queue_destroy(s->queue);
    if (s->rk) {
        if (!closed) rd_kafka_consumer_close(s->rk);
        rd_kafka_destroy(s->rk);
    }
    free(s->group);
    for (size_t i = 0; i < s->nparts; i++) free(s->parts[i].topic);
    free(s->parts);
    for (size_t i = 0; i < s->nresume; i++) free(s->resume[i].topic);
    free(s->resume);
    free(s->d.group_id);
    for (size_t i = 0; i < s->d.ntopics; i++) free(s->d.topics[i]);
    free(s->d.topics);
    ls_props_free(&s->d.props);
    ls_schema_free(s->d.schema);
    free(s->d.name);
    free(s->d.bootstrap);
    free(s);
}

static int discover(ls_source *s, ls_err *err)
{
    for (size_t t = 0; t < s->d.ntopics; t++) {
        size_t len = strlen(s->d.topics[t]);
        if (len == 0 || len > MAX_TOPIC_NAME) {
            ls_seterr(err, "topic name of %zu characters: Kafka topic names have 1 to %d", len,
                      MAX_TOPIC_NAME);
            return -1;
        }
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(s->rk, s->d.topics[t], NULL);
        if (!rkt) {
            ls_seterr(err, "topic %.64s: %s", s->d.topics[t], rd_kafka_err2str(rd_kafka_last_error()));
            return -1;
        }
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_resp_err_t e = rd_kafka_metadata(s->rk, 0, rkt, &md, s->d.connect_timeout_ms);
        rd_kafka_topic_destroy(rkt);
        if (e || !md) {
            ls_seterr(err, "topic %s: cannot read metadata from %s: %s", s->d.topics[t],
                      s->d.bootstrap, rd_kafka_err2str(e));
            return -1;
        }
        const struct rd_kafka_metadata_topic *mt = md->topic_cnt ? &md->topics[0] : NULL;
        if (!mt || mt->err || mt->partition_cnt == 0) {
            ls_seterr(err, "topic %s does not exist on %s%s%s (create it first, e.g. "
                      "scripts/kafka.sh create-topic %s)",
                      s->d.topics[t], s->d.bootstrap, mt && mt->err ? ": " : "",
                      mt && mt->err ? rd_kafka_err2str(mt->err) : "", s->d.topics[t]);
            rd_kafka_metadata_destroy(md);
            return -1;
        }
        s->parts = ls_xrealloc(s->parts, (s->nparts + (size_t)mt->partition_cnt) * sizeof *s->parts);
        size_t first = s->nparts;
        for (int p = 0; p < mt->partition_cnt; p++) {
            ls_source_part *sp = &s->parts[s->nparts++];
            memset(sp, 0, sizeof *sp);
            sp->topic = ls_xstrdup(s->d.topics[t]);
            sp->partition = mt->partitions[p].id;
            sp->next = -1;
            sp->bound = -1;
            sp->resume = -1;
            sp->fixed_end = -1;
        }
        /* Metadata lists partitions in no particular order: read them by id,
         * so batches (and their outputs) are the same from run to run. */
        for (size_t i = first + 1; i < s->nparts; i++)
            for (size_t j = i; j > first && s->parts[j - 1].partition > s->parts[j].partition; j--) {
                ls_source_part tmp = s->parts[j];
                s->parts[j] = s->parts[j - 1];
                s->parts[j - 1] = tmp;
            }
        rd_kafka_metadata_destroy(md);
    }
    return 0;
}

/* Stops the partition queues from feeding the consumer queue, so that each
 * partition is read on its own. */
static int split_queues(ls_source *s, ls_err *err)
{
    for (size_t i = 0; i < s->nparts; i++) {
        ls_source_part *p = &s->parts[i];
        p->queue = rd_kafka_queue_get_partition(s->rk, p->topic, p->partition);
        if (!p->queue) {
            ls_seterr(err, "%s[%d]: no queue for the partition", p->topic, p->partition);
            return -1;
        }
        rd_kafka_queue_forward(p->queue, NULL);
    }
    return 0;
}

/* ---- members of one job (--app) ------------------------------------------ */

void ls_source_join_group(ls_source *s, const char *group)
{
    free(s->group);
    s->group = group ? ls_xstrdup(group) : NULL;
}

const char *ls_source_group(const ls_source *s)
{
    return s->group;
}

void ls_source_add_internal_topic(ls_source *s, const char *topic)
{
    if (!s->first_internal) s->first_internal = s->d.ntopics;
    ls_source_add_topic(s, topic);
}

int ls_source_is_internal(const ls_source *s, const char *topic)
{
    if (!s->first_internal) return 0;
    for (size_t t = s->first_internal; t < s->d.ntopics; t++)
        if (strcmp(s->d.topics[t], topic) == 0) return 1;
    return 0;
}

int64_t ls_source_rebalances(const ls_source *s)
{
    return s->rebalances;
}

int64_t ls_source_rebalance_count(const ls_source *s)
{
    return s->rebalance_events;
}

char *ls_source_member_id(const ls_source *s)
{
    if (!s->group || !s->rk) return NULL;
    char *id = rd_kafka_memberid(s->rk);
    char *out = id && *id ? ls_xstrdup(id) : NULL;
    if (id) rd_kafka_mem_free(s->rk, id);
    return out;
}

int ls_source_check(const ls_source *s, ls_err *err)
{
    if (!s->failed) return 0;
    ls_seterr(err, "%s", s->fatal_err);
    return -1;
}

static void group_failed(ls_source *s, const char *fmt, const char *a, const char *b)
{
    if (s->failed) return; /* the first cause is the one to show */
    snprintf(s->fatal_err, sizeof s->fatal_err, fmt, a, b);
    s->failed = 1;
}

/* Where a part of s goes in reading order: topics in declaration order,
 * partitions by id (the same order as without a group). */
static size_t topic_rank(const ls_source *s, const char *topic)
{
    for (size_t t = 0; t < s->d.ntopics; t++)
        if (strcmp(s->d.topics[t], topic) == 0) return t;
    return s->d.ntopics;
}

static ls_source_part *insert_part(ls_source *s, const char *topic, int32_t partition)
{
    size_t at = s->nparts, rank = topic_rank(s, topic);
    while (at > 0) {
        const ls_source_part *q = &s->parts[at - 1];
        size_t qr = topic_rank(s, q->topic);
        if (qr < rank || (qr == rank && q->partition < partition)) break;
        at--;
    }
    s->parts = ls_xrealloc(s->parts, (s->nparts + 1) * sizeof *s->parts);
    memmove(s->parts + at + 1, s->parts + at, (s->nparts - at) * sizeof *s->parts);
    s->nparts++;
    ls_source_part *p = &s->parts[at];
    memset(p, 0, sizeof *p);
    p->topic = ls_xstrdup(topic);
    p->partition = partition;
    p->bound = p->resume = p->fixed_end = -1;
    return p;
}

static void drop_part(ls_source *s, size_t i)
{
    ls_source_part *p = &s->parts[i];
    for (size_t k = 0; k < p->nstash; k++) rd_kafka_message_destroy(p->stash[k]);
    free(p->stash);
    if (p->queue) rd_kafka_queue_destroy(p->queue);
    free(p->topic);
    memmove(s->parts + i, s->parts + i + 1, (s->nparts - i - 1) * sizeof *s->parts);
    s->nparts--;
}

/* The group's committed offsets for l, waiting while they are unstable
 * (an open transaction holds offsets for them: the broker answers once it
 * commits or aborts, at the latest after its transaction.timeout.ms). */
static rd_kafka_resp_err_t committed(ls_source *s, rd_kafka_topic_partition_list_t *l)
{
    rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR_NO_ERROR;
    for (int attempt = 0; attempt < 6; attempt++) {
        e = rd_kafka_committed(s->rk, l, 30000);
        if (e != RD_KAFKA_RESP_ERR__TIMED_OUT) break;
        ls_log("group %s: still waiting for the group's committed offsets (a transaction of a "
               "member that stopped may still be open)", s->group);
    }
    return e;
}

/* Sets l's offsets to where each partition starts: the committed offset,
 * else starting_offsets; also the bound of a bounded run. One row per
 * partition in *next, *bound (arrays of l->cnt). */
static int start_offsets(ls_source *s, rd_kafka_topic_partition_list_t *l, int64_t *next,
                         int64_t *bound)
{
    rd_kafka_resp_err_t e = committed(s, l);
    if (e) {
        group_failed(s, "group %s: cannot read the group's committed offsets: %s", s->group,
                     rd_kafka_err2str(e));
        return -1;
    }
    for (int i = 0; i < l->cnt; i++) {
        rd_kafka_topic_partition_t *tp = &l->elems[i];
        if (tp->err) {
            char what[300];
            snprintf(what, sizeof what, "%s[%d]", tp->topic, (int)tp->partition);
            group_failed(s, "%s: cannot read the group's committed offset: %s", what,
                         rd_kafka_err2str(tp->err));
            return -1;
        }
        int64_t lo = 0, hi = 0;
        for (int attempt = 0;; attempt++) { /* a topic just created may have no leader yet */
            e = rd_kafka_query_watermark_offsets(s->rk, tp->topic, tp->partition, &lo, &hi,
                                                 s->d.connect_timeout_ms);
            if (attempt >= 20 || (e != RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION &&
                                  e != RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE &&
                                  e != RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART))
                break;
            struct timespec ts = { 0, 250 * 1000000L };
            nanosleep(&ts, NULL);
            /* a leader that moved (a broker lost) is not always looked up again */
            ls_kafka_refresh_topic(s->rk, tp->topic, s->d.connect_timeout_ms);
        }
        if (e) {
            char what[300];
            snprintf(what, sizeof what, "%s[%d]", tp->topic, (int)tp->partition);
            group_failed(s, "%s: cannot read offsets: %s", what, rd_kafka_err2str(e));
            return -1;
        }
        int64_t n = tp->offset >= 0                                                ? tp->offset
                    : s->d.start_latest && !ls_source_is_internal(s, tp->topic) ? hi
                                                                                : lo;
        if (n < lo) {
            ls_log("%s[%d]: the group's committed offset %lld was deleted by retention; "
                   "resuming at %lld", tp->topic, (int)tp->partition, (long long)n, (long long)lo);
            n = lo;
        }
        tp->offset = n;
        next[i] = n;
        bound[i] = hi > n ? hi : n;
    }
    return 0;
}

static void log_parts(const ls_source *s, const char *what, const rd_kafka_topic_partition_list_t *l)
{
    ls_buf b;
    ls_buf_init(&b);
    for (int i = 0; i < l->cnt; i++)
        ls_buf_printf(&b, "%s%s[%d]", i ? ", " : "", l->elems[i].topic, (int)l->elems[i].partition);
    size_t owned = 0;
    for (size_t i = 0; i < s->nparts; i++) owned += !s->parts[i].revoked;
    ls_log("group %s: %s %d partition%s (%s); this member owns %zu", s->group, what, l->cnt,
           l->cnt == 1 ? "" : "s", b.data ? b.data : "", owned);
    ls_buf_free(&b);
}

static void group_assign(ls_source *s, rd_kafka_topic_partition_list_t *given, int incremental)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_copy(given);
    int64_t *next = ls_xcalloc((size_t)l->cnt + 1, sizeof *next);
    int64_t *bound = ls_xcalloc((size_t)l->cnt + 1, sizeof *bound);
    int ok = start_offsets(s, l, next, bound) == 0;
    for (int i = 0; ok && i < l->cnt; i++) {
        const rd_kafka_topic_partition_t *tp = &l->elems[i];
        ls_source_part *had = ls_source_find(s, tp->topic, tp->partition);
        if (had && !had->revoked) continue; /* owned already */
        if (had) drop_part(s, (size_t)(had - s->parts)); /* revoked in this batch, back again */
        ls_source_part *p = insert_part(s, tp->topic, tp->partition);
        p->next = p->batch_start = p->batch_end = p->latest = next[i];
        p->reached = 1;
        if (s->bounded) p->bound = bound[i];
        /* its own queue before it is assigned: no record reaches the
         * consumer queue */
        p->queue = rd_kafka_queue_get_partition(s->rk, tp->topic, tp->partition);
        if (!p->queue) {
            group_failed(s, "%s: no queue for partition %s", tp->topic, "assigned");
            ok = 0;
            break;
        }
        rd_kafka_queue_forward(p->queue, NULL);
    }
    /* assigned even after a failure (the failure stops the run at the next
     * plan): the group protocol must never be left waiting */
    if (incremental) {
        rd_kafka_error_t *e = rd_kafka_incremental_assign(s->rk, l);
        if (e) {
            group_failed(s, "group %s: incremental assign: %s", s->group, rd_kafka_error_string(e));
            rd_kafka_error_destroy(e);
        }
    } else {
        rd_kafka_resp_err_t e = rd_kafka_assign(s->rk, l);
        if (e) group_failed(s, "group %s: assign: %s", s->group, rd_kafka_err2str(e));
    }
    s->assigned_once = 1;
    s->rebalances += l->cnt;
    log_parts(s, "assigned", l);
    free(next);
    free(bound);
    rd_kafka_topic_partition_list_destroy(l);
}

/* Revoked partitions stay until the batch commits (see ls_source.h): their
 * reading stops at their position. */
static void revoke_part(ls_source_part *p)
{
    p->revoked = 1;
    if (p->batch_end > p->next) p->batch_end = p->next;
    p->reached = 1;
}

void ls_source_release_revoked(ls_source *s)
{
    for (size_t k = s->nparts; k-- > 0;)
        if (s->parts[k].revoked) drop_part(s, k);
}

void ls_source_on_revoke(ls_source *s, ls_source_revoke_fn fn, void *ctx)
{
    s->on_revoke = fn;
    s->on_revoke_ctx = ctx;
}

static void group_revoke(ls_source *s, rd_kafka_topic_partition_list_t *given, int incremental)
{
    int lost = rd_kafka_assignment_lost(s->rk);
    if (s->on_revoke && !s->closing) {
        /* their positions into the open transaction, before the group knows */
        rd_kafka_topic_partition_list_t *pos = rd_kafka_topic_partition_list_new(given->cnt + 1);
        for (size_t k = 0; k < s->nparts; k++) {
            const ls_source_part *p = &s->parts[k];
            int in = !incremental;
            for (int i = 0; !in && i < given->cnt; i++)
                in = given->elems[i].partition == p->partition && strcmp(given->elems[i].topic, p->topic) == 0;
            if (in && !p->revoked)
                rd_kafka_topic_partition_list_add(pos, p->topic, p->partition)->offset = p->next;
        }
        if (pos->cnt) s->on_revoke(s->on_revoke_ctx, pos);
        rd_kafka_topic_partition_list_destroy(pos);
    }
    for (int i = 0; i < given->cnt; i++) {
        const rd_kafka_topic_partition_t *tp = &given->elems[i];
        for (size_t k = 0; k < s->nparts; k++)
            if (s->parts[k].partition == tp->partition && strcmp(s->parts[k].topic, tp->topic) == 0) {
                revoke_part(&s->parts[k]);
                break;
            }
    }
    if (!incremental)
        for (size_t k = 0; k < s->nparts; k++) revoke_part(&s->parts[k]);
    s->rebalances += given->cnt;
    log_parts(s, lost ? "lost (out of the group: its session expired; the batches it had "
                        "not committed go to the new owners)" : "revoked", given);
    if (incremental) {
        rd_kafka_error_t *e = rd_kafka_incremental_unassign(s->rk, given);
        if (e) {
            group_failed(s, "group %s: incremental unassign: %s", s->group, rd_kafka_error_string(e));
            rd_kafka_error_destroy(e);
        }
    } else {
        rd_kafka_resp_err_t e = rd_kafka_assign(s->rk, NULL);
        if (e) group_failed(s, "group %s: unassign: %s", s->group, rd_kafka_err2str(e));
    }
}

/* Runs while the consumer queue is served: between batches (ls_source_plan)
 * and when the consumer closes. */
static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t why,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    ls_source *s = opaque;
    int incremental = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    if (s->closing && why == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        /* given partitions while leaving: taken as they are (no offsets
         * read, nothing will be), so that the group protocol goes on to
         * revoke them at once */
        rd_kafka_error_t *e = incremental ? rd_kafka_incremental_assign(rk, parts) : NULL;
        rd_kafka_resp_err_t re = incremental ? RD_KAFKA_RESP_ERR_NO_ERROR : rd_kafka_assign(rk, parts);
        if (e) {
            ls_log("group %s: leaving: %s", s->group, rd_kafka_error_string(e));
            rd_kafka_error_destroy(e);
        }
        if (re) ls_log("group %s: leaving: %s", s->group, rd_kafka_err2str(re));
        return;
    }
    if (why == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        s->rebalance_events++;
        group_assign(s, parts, incremental);
    } else if (why == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
        group_revoke(s, parts, incremental);
    } else {
        group_failed(s, "group %s: rebalance failed: %s", s->group, rd_kafka_err2str(why));
        group_revoke(s, parts, incremental);
    }
}

static int subscribe(ls_source *s, ls_err *err)
{
    /* discover() checked that the topics exist; the group assigns them */
    while (s->nparts) drop_part(s, s->nparts - 1);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)s->d.ntopics);
    for (size_t t = 0; t < s->d.ntopics; t++)
        rd_kafka_topic_partition_list_add(l, s->d.topics[t], RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(s->rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (e) {
        ls_seterr(err, "group %s: subscribe: %s", s->group, rd_kafka_err2str(e));
        return -1;
    }
    return 0;
}

rd_kafka_topic_partition_list_t *ls_source_positions(const ls_source *s)
{
    if (!s->nparts) return NULL;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)s->nparts);
    for (size_t i = 0; i < s->nparts; i++)
        rd_kafka_topic_partition_list_add(l, s->parts[i].topic, s->parts[i].partition)->offset =
            s->parts[i].next;
    return l;
}

rd_kafka_consumer_group_metadata_t *ls_source_group_metadata(ls_source *s)
{
    return s->rk ? rd_kafka_consumer_group_metadata(s->rk) : NULL;
}

int ls_source_rewind(ls_source *s, ls_err *err)
{
    ls_source_release_revoked(s); /* not this member's any more: nothing to go back to */
    rd_kafka_topic_partition_list_t *l = ls_source_positions(s);
    if (!l) return 0;
    int64_t *next = ls_xcalloc((size_t)l->cnt + 1, sizeof *next);
    int64_t *bound = ls_xcalloc((size_t)l->cnt + 1, sizeof *bound);
    int rc = start_offsets(s, l, next, bound);
    if (rc) ls_source_check(s, err);
    for (int i = 0; rc == 0 && i < l->cnt; i++) {
        ls_source_part *p = ls_source_find(s, l->elems[i].topic, l->elems[i].partition);
        for (size_t k = 0; k < p->nstash; k++) rd_kafka_message_destroy(p->stash[k]);
        p->nstash = 0;
        p->next = p->batch_start = p->batch_end = next[i];
        if (p->latest < next[i]) p->latest = next[i];
        p->reached = 1;
    }
    if (rc == 0) {
        /* a seek drops what was prefetched from the old position */
        rd_kafka_error_t *e = rd_kafka_seek_partitions(s->rk, l, 30000);
        if (e) {
            ls_seterr(err, "group %s: cannot go back to the committed offsets: %s", s->group,
                      rd_kafka_error_string(e));
            rd_kafka_error_destroy(e);
            rc = -1;
        }
        for (int i = 0; rc == 0 && i < l->cnt; i++)
            if (l->elems[i].err) {
                ls_seterr(err, "%s[%d]: cannot go back to the committed offset: %s",
                          l->elems[i].topic, (int)l->elems[i].partition,
                          rd_kafka_err2str(l->elems[i].err));
                rc = -1;
            }
    }
    free(next);
    free(bound);
    rd_kafka_topic_partition_list_destroy(l);
    return rc;
}

int ls_source_open(ls_source *s, int bounded, ls_err *err)
{
    if (s->d.is_files) return ls_fsrc_open(s, bounded, err);
    ls_props props = { 0 };
    ls_props_set(&props, "group.id", s->d.group_id ? s->d.group_id : "luastream");
    ls_props_set(&props, "enable.auto.commit", "false");
    ls_props_set(&props, "enable.auto.offset.store", "false");
    ls_props_set(&props, "enable.partition.eof", "true");
    ls_props_set(&props, "receive.message.max.bytes", "104857600");
    /* Prefetch deeper than the default 100k messages: the engine drains
     * the queues in bursts. Each partition has its own queue, bounded by
     * queued.max.messages.kbytes: 32 MB each kept the seed job as fast as
     * one shared 64 MB queue did (measured: smaller queues starve the
     * fetcher, 4 MB per partition ran 4x slower). */
    ls_props_set(&props, "queued.min.messages", "1000000");
    ls_props_set(&props, "queued.max.messages.kbytes", "32768");
    for (size_t i = 0; i < s->d.props.n; i++) ls_props_set(&props, s->d.props.names[i], s->d.props.values[i]);
    if (s->group) {
        /* a member of the job: the app id is the group, partitions move
         * one at a time (the rebalance callback needs the incremental
         * protocol), and offsets are read only once committed */
        ls_props_set(&props, "group.id", s->group);
        ls_props_set(&props, "partition.assignment.strategy", "cooperative-sticky");
        ls_props_set(&props, "isolation.level", "read_committed");
        ls_props_set(&props, "enable.auto.commit", "false");
    }
    rd_kafka_conf_t *conf = ls_kafka_conf(s->d.bootstrap, &props, err);
    ls_props_free(&props);
    if (!conf) return -1;
    if (s->group) {
        rd_kafka_conf_set_opaque(conf, s);
        rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
    }
    char errstr[512];
    s->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    if (!s->rk) {
        ls_seterr(err, "kafka consumer: %s", errstr);
        rd_kafka_conf_destroy(conf);
        return -1;
    }
    rd_kafka_resp_err_t e = rd_kafka_poll_set_consumer(s->rk);
    if (e) {
        ls_seterr(err, "kafka consumer: %s", rd_kafka_err2str(e));
        return -1;
    }
    s->queue = rd_kafka_queue_get_consumer(s->rk);
    if (!s->queue) {
        ls_seterr(err, "kafka consumer: no consumer queue");
        return -1;
    }
    if (ls_kafka_check_reachable(s->rk, s->d.bootstrap, s->d.connect_timeout_ms, err)) return -1;
    if (discover(s, err)) return -1;

    s->bounded = bounded;
    if (s->group) return subscribe(s, err);
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new((int)s->nparts);
    for (size_t i = 0; i < s->nparts; i++) {
        ls_source_part *p = &s->parts[i];
        int64_t lo = 0, hi = 0;
        e = rd_kafka_query_watermark_offsets(s->rk, p->topic, p->partition, &lo, &hi,
                                             s->d.connect_timeout_ms);
        if (e) {
            ls_seterr(err, "%s[%d]: cannot read offsets: %s", p->topic, p->partition,
                      rd_kafka_err2str(e));
            rd_kafka_topic_partition_list_destroy(list);
            return -1;
        }
        p->next = s->d.start_latest ? hi : lo;
        for (size_t r = 0; r < s->nresume; r++)
            if (s->resume[r].partition == p->partition && strcmp(s->resume[r].topic, p->topic) == 0) {
                p->next = s->resume[r].next;
                if (p->next < lo) {
                    ls_log("%s[%d]: checkpoint offset %lld was deleted by retention; "
                           "resuming at %lld", p->topic, p->partition, (long long)p->next,
                           (long long)lo);
                    p->next = lo;
                }
            }
        p->batch_start = p->batch_end = p->latest = p->next;
        p->reached = 1;
        if (bounded) p->bound = hi > p->next ? hi : p->next;
        rd_kafka_topic_partition_list_add(list, p->topic, p->partition)->offset = p->next;
    }
    /* before the assignment, so that no record reaches the consumer queue */
    if (s->planned && split_queues(s, err)) {
        rd_kafka_topic_partition_list_destroy(list);
        return -1;
    }
    e = rd_kafka_assign(s->rk, list);
    rd_kafka_topic_partition_list_destroy(list);
    if (e) {
        ls_seterr(err, "kafka assign: %s", rd_kafka_err2str(e));
        return -1;
    }
    return 0;
}

int ls_source_exhausted(const ls_source *s)
{
    if (!s->bounded) return 0;
    if (s->group && !s->assigned_once) return 0; /* its share is not known yet */
    for (size_t i = 0; i < s->nparts; i++)
        if (s->parts[i].next < s->parts[i].bound) return 0;
    return 1;
}

static ls_source_part *find_part(ls_source *s, const rd_kafka_message_t *m)
{
    if (!m->rkt) return NULL;
    return ls_source_find(s, rd_kafka_topic_name(m->rkt), m->partition);
}

static int drain_consumer_queue(ls_source *s, int *fatal, ls_err *err);

/* An error or event from the consumer: fatal ones fill err and set *fatal,
 * others (a broker going away, which librdkafka retries) are logged. */
static void consumer_error(ls_source *s, const rd_kafka_message_t *m, int *fatal, ls_err *err)
{
    char fe[512];
    if (rd_kafka_fatal_error(s->rk, fe, sizeof fe)) {
        ls_seterr(err, "kafka consumer: %s", fe);
        *fatal = 1;
    } else {
        ls_log("kafka consumer: %s", rd_kafka_message_errstr(m));
    }
}

/* ---- unplanned reading (`luastream consume`) ------------------------- */

rd_kafka_message_t *ls_source_poll(ls_source *s, int timeout_ms, ls_source_part **part,
                                   int *fatal, ls_err *err)
{
    *fatal = 0;
    rd_kafka_message_t *m = rd_kafka_consumer_poll(s->rk, timeout_ms);
    if (!m) return NULL;
    ls_source_part *p = find_part(s, m);
    if (m->err) {
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            if (p && m->offset > p->next) p->next = m->offset;
        } else {
            consumer_error(s, m, fatal, err);
        }
        rd_kafka_message_destroy(m);
        return NULL;
    }
    if (!p || (s->bounded && m->offset >= p->bound)) {
        rd_kafka_message_destroy(m); /* past the bound of this run */
        if (p && s->bounded) p->next = p->bound;
        return NULL;
    }
    p->next = m->offset + 1;
    *part = p;
    return m;
}

/* ---- planned batches ----------------------------------------------------- */

void ls_source_rate_limit(int64_t limit, size_t n, const int64_t *start, const int64_t *latest,
                          int64_t *end)
{
    double total = 0;
    for (size_t i = 0; i < n; i++)
        if (latest[i] > start[i]) total += (double)(latest[i] - start[i]);
    for (size_t i = 0; i < n; i++) {
        end[i] = latest[i] > start[i] ? latest[i] : start[i];
        if (total < 1 || latest[i] <= start[i]) continue;
        /* the same arithmetic as Spark, so the same shares */
        double prorate = (double)limit * ((double)(latest[i] - start[i]) / total);
        double r = prorate < 1 ? ceil(prorate) : floor(prorate);
        int64_t share = r >= 9.2e18 ? INT64_MAX : (int64_t)r;
        int64_t off = share > INT64_MAX - start[i] ? INT64_MAX : start[i] + share;
        if (off < end[i]) end[i] = off;
    }
}

/* The broker's latest offsets for every partition (one request per
 * leader), as Spark's source asks at the start of each batch. */
static int query_latest(ls_source *s, ls_err *err)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)s->nparts);
    for (size_t i = 0; i < s->nparts; i++)
        rd_kafka_topic_partition_list_add(l, s->parts[i].topic, s->parts[i].partition)->offset =
            RD_KAFKA_OFFSET_END; /* a ListOffsets timestamp of -1: the latest offset */
    rd_kafka_resp_err_t e = rd_kafka_offsets_for_times(s->rk, l, s->d.connect_timeout_ms);
    int rc = 0;
    if (e) {
        ls_seterr(err, "cannot read the latest offsets from %s: %s", s->d.bootstrap,
                  rd_kafka_err2str(e));
        rc = -1;
    }
    for (int i = 0; rc == 0 && i < l->cnt; i++) {
        const rd_kafka_topic_partition_t *tp = &l->elems[i];
        ls_source_part *p = ls_source_find(s, tp->topic, tp->partition);
        if (!p) continue;
        if (tp->err || tp->offset < 0) {
            ls_seterr(err, "%s[%d]: cannot read the latest offset: %s", p->topic, p->partition,
                      rd_kafka_err2str(tp->err));
            rc = -1;
        } else {
            p->latest = tp->offset;
            p->latest_known = 1;
        }
    }
    rd_kafka_topic_partition_list_destroy(l);
    /* a leader that moved (a broker lost, or back and leading again) is not
     * always looked up again after "not leader": asked now, so that the
     * next trigger's request goes to the partitions' current leaders */
    for (size_t i = 0; rc != 0 && i < s->nparts; i++) {
        int seen = 0;
        for (size_t j = 0; j < i && !seen; j++) seen = strcmp(s->parts[j].topic, s->parts[i].topic) == 0;
        if (!seen) ls_kafka_refresh_topic(s->rk, s->parts[i].topic, s->d.connect_timeout_ms);
    }
    return rc;
}

int64_t ls_source_plan(ls_source *s, int64_t cap, ls_err *err)
{
    if (s->d.is_files) return ls_fsrc_plan(s, cap);
    int fatal = 0;
    if (s->queue && drain_consumer_queue(s, &fatal, err)) return -1;
    if (s->failed) return ls_source_check(s, err);
    if (s->group) ls_source_release_revoked(s); /* revoked between batches */
    if (s->group && s->nparts == 0) return 0; /* nothing assigned (yet) */
    int replay = 0;
    for (size_t i = 0; i < s->nparts; i++) replay |= s->parts[i].fixed_end >= 0;
    if (!replay) {
        if (s->bounded) {
            for (size_t i = 0; i < s->nparts; i++) s->parts[i].latest = s->parts[i].bound;
        } else if (query_latest(s, err)) {
            return -1;
        }
    }
    int64_t *start = ls_xcalloc(s->nparts + 1, sizeof *start);
    int64_t *latest = ls_xcalloc(s->nparts + 1, sizeof *latest);
    int64_t *end = ls_xcalloc(s->nparts + 1, sizeof *end);
    for (size_t i = 0; i < s->nparts; i++) {
        start[i] = s->parts[i].next;
        latest[i] = replay ? (s->parts[i].fixed_end >= 0 ? s->parts[i].fixed_end : start[i])
                           : s->parts[i].latest;
    }
    if (replay || cap <= 0) memcpy(end, latest, s->nparts * sizeof *end);
    else ls_source_rate_limit(cap, s->nparts, start, latest, end);
    int64_t planned = 0;
    for (size_t i = 0; i < s->nparts; i++) {
        ls_source_part *p = &s->parts[i];
        p->batch_start = start[i];
        p->batch_end = end[i] > start[i] ? end[i] : start[i];
        if (replay && p->latest < p->batch_end) p->latest = p->batch_end;
        p->fixed_end = -1;
        p->reached = p->batch_end <= p->batch_start;
        planned += p->batch_end - p->batch_start;
    }
    free(start);
    free(latest);
    free(end);
    return planned;
}

/* Keeps m for a later batch, in offset order; a duplicate is dropped. */
static void stash(ls_source_part *p, rd_kafka_message_t *m)
{
    size_t at = p->nstash;
    while (at > 0 && p->stash[at - 1]->offset > m->offset) at--;
    if (at > 0 && p->stash[at - 1]->offset == m->offset) {
        rd_kafka_message_destroy(m);
        return;
    }
    if (p->nstash == p->stash_cap) {
        p->stash_cap = p->stash_cap ? p->stash_cap * 2 : 16;
        p->stash = ls_xrealloc(p->stash, p->stash_cap * sizeof *p->stash);
    }
    memmove(p->stash + at + 1, p->stash + at, (p->nstash - at) * sizeof *p->stash);
    p->stash[at] = m;
    p->nstash++;
}

/* Serves the partition's kept messages below its end, oldest first. */
static size_t from_stash(ls_source_part *p, rd_kafka_message_t **out, size_t max)
{
    size_t k = 0;
    while (k < p->nstash && k < max && p->stash[k]->offset < p->batch_end) {
        out[k] = p->stash[k];
        p->next = out[k]->offset + 1;
        k++;
    }
    memmove(p->stash, p->stash + k, (p->nstash - k) * sizeof *p->stash);
    p->nstash -= k;
    if ((p->nstash > 0 && p->stash[0]->offset >= p->batch_end) || p->next >= p->batch_end)
        p->reached = 1;
    return k;
}

/* Errors and events that reach the consumer queue (not a partition's);
 * a record that got there all the same is kept with its partition. */
static int drain_consumer_queue(ls_source *s, int *fatal, ls_err *err)
{
    rd_kafka_message_t *m;
    while (!*fatal && (m = rd_kafka_consume_queue(s->queue, 0))) {
        ls_source_part *p = m->err ? NULL : find_part(s, m);
        if (p && m->offset >= p->next) {
            stash(p, m);
            continue;
        }
        if (m->err && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) consumer_error(s, m, fatal, err);
        rd_kafka_message_destroy(m);
    }
    return *fatal ? -1 : 0;
}

static size_t kafka_read(ls_source *s, size_t pi, int timeout_ms, rd_kafka_message_t **out,
                         size_t max, int *fatal, ls_err *err)
{
    ls_source_part *p = &s->parts[pi];
    if (p->reached || max == 0) return 0;
    if (p->nstash) return from_stash(p, out, max);
    int64_t left = p->batch_end - p->next;
    size_t want = left < (int64_t)max ? (size_t)left : max;
    ssize_t n = rd_kafka_consume_batch_queue(p->queue, 0, out, want);
    if (n == 0 && timeout_ms > 0) {
        /* nothing yet: wait for one message, not for a full batch */
        rd_kafka_message_t *m = rd_kafka_consume_queue(p->queue, timeout_ms);
        if (m) out[n++] = m;
    }
    if (n < 0) {
        ls_seterr(err, "kafka consumer: %s", rd_kafka_err2str(rd_kafka_last_error()));
        *fatal = 1;
        return 0;
    }
    if (n == 0 && s->group) {
        /* nothing to read: maybe a rebalance waits for this member
         * (librdkafka pauses fetching meanwhile). The callback may add or
         * revoke parts (p moves): the caller looks again. */
        drain_consumer_queue(s, fatal, err);
        if (!*fatal && s->failed) {
            ls_source_check(s, err);
            *fatal = 1;
        }
        return 0;
    }
    if (n == 0 && drain_consumer_queue(s, fatal, err)) return 0;
    size_t kept = 0;
    int eof = 0;
    for (ssize_t i = 0; i < n; i++) {
        rd_kafka_message_t *m = out[i];
        if (m->err) {
            if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                if (m->offset >= p->batch_end) eof = 1; /* only markers were left */
            } else {
                consumer_error(s, m, fatal, err);
            }
            rd_kafka_message_destroy(m);
        } else if (m->offset < p->next) {
            rd_kafka_message_destroy(m); /* already read: never twice */
        } else if (m->offset >= p->batch_end || p->nstash) {
            stash(p, m); /* the next batch's */
            p->reached = 1;
        } else {
            p->next = m->offset + 1;
            out[kept++] = m;
        }
    }
    if (eof && p->next < p->batch_end) {
        /* the end of the partition before the planned end (transaction
         * markers at the end, or records that reached the consumer queue:
         * those are taken from there and served first) */
        if (!s->group && drain_consumer_queue(s, fatal, err)) {
            for (size_t i = 0; i < kept; i++) rd_kafka_message_destroy(out[i]);
            return 0;
        }
        if (!p->nstash || p->stash[0]->offset >= p->batch_end) p->reached = 1;
    }
    if (p->next >= p->batch_end) p->reached = 1;
    return kept;
}

size_t ls_source_read(ls_source *s, size_t pi, int timeout_ms, ls_record *out, size_t max,
                      int *fatal, ls_err *err)
{
    *fatal = 0;
    if (s->d.is_files) return ls_fsrc_read(s, pi, out, max);
    rd_kafka_message_t *msgs[1024];
    if (max > sizeof msgs / sizeof *msgs) max = sizeof msgs / sizeof *msgs;
    size_t n = kafka_read(s, pi, timeout_ms, msgs, max, fatal, err);
    for (size_t i = 0; i < n; i++) {
        memset(&out[i], 0, sizeof out[i]);
        out[i].msg = msgs[i];
    }
    return n;
}

void ls_source_end_batch(ls_source *s)
{
    if (s->d.is_files) ls_fsrc_end_batch(s);
    for (size_t i = 0; i < s->nparts; i++) {
        ls_source_part *p = &s->parts[i];
        if (p->reached && p->next < p->batch_end) p->next = p->batch_end;
    }
}

void ls_source_cut_batch(ls_source *s)
{
    if (s->d.is_files) return;
    for (size_t i = 0; i < s->nparts; i++) {
        ls_source_part *p = &s->parts[i];
        if (p->reached) continue;
        p->batch_end = p->next;
        p->reached = 1;
    }
}

size_t ls_source_arrived(ls_source *s)
{
    if (s->d.is_files) return ls_fsrc_arrived(s);
    size_t got = 0;
    for (size_t i = 0; i < s->nparts; i++) {
        ls_source_part *p = &s->parts[i];
        if (!p->queue) continue;
        rd_kafka_message_t *m;
        while ((m = rd_kafka_consume_queue(p->queue, 0))) {
            if (m->err || m->offset < p->next) {
                if (m->err && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                    ls_log("kafka consumer: %s", rd_kafka_message_errstr(m));
                rd_kafka_message_destroy(m); /* an end-of-partition event, or read already */
                continue;
            }
            stash(p, m);
            got++;
        }
        got += p->nstash > 0;
    }
    return got;
}

ls_source_part *ls_source_find(ls_source *s, const char *topic, int32_t partition)
{
    for (size_t i = 0; i < s->nparts; i++)
        if (s->parts[i].partition == partition && strcmp(s->parts[i].topic, topic) == 0)
            return &s->parts[i];
    return NULL;
}

void ls_source_resume_at(ls_source *s, const char *topic, int32_t partition, int64_t offset)
{
    s->resume = ls_xrealloc(s->resume, (s->nresume + 1) * sizeof *s->resume);
    ls_source_part *r = &s->resume[s->nresume++];
    memset(r, 0, sizeof *r);
    r->topic = ls_xstrdup(topic);
    r->partition = partition;
    r->next = offset;
}

void ls_source_replay(ls_source *s, const char *topic, int32_t partition, int64_t end)
{
    ls_source_part *p = ls_source_find(s, topic, partition);
    if (p) p->fixed_end = end;
}

int64_t ls_source_position(const ls_source_part *p, int planned_end)
{
    if (p->done) return LS_FILE_DONE;
    return planned_end ? p->batch_end : p->next;
}

void ls_source_commit_group(ls_source *s)
{
    if (s->d.is_files) return;
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new((int)s->nparts);
    for (size_t i = 0; i < s->nparts; i++)
        if (s->parts[i].next >= 0)
            rd_kafka_topic_partition_list_add(list, s->parts[i].topic, s->parts[i].partition)
                ->offset = s->parts[i].next;
    if (list->cnt) {
        rd_kafka_resp_err_t e = rd_kafka_commit(s->rk, list, 1);
        if (e) ls_log("kafka: cannot commit group offsets (for lag tools): %s", rd_kafka_err2str(e));
    }
    rd_kafka_topic_partition_list_destroy(list);
}
