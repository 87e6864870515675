/* ls_source.c - the Kafka consumer behind a source (see ls_source.h). */
#include "ls_source.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

ls_source *ls_source_new(const char *bootstrap)
{
    ls_source *s = ls_xcalloc(1, sizeof *s);
    s->bootstrap = ls_xstrdup(bootstrap);
    s->max_record_bytes = 1 << 20;
    s->connect_timeout_ms = 10000;
    return s;
}

void ls_source_add_topic(ls_source *s, const char *topic)
{
    s->topics = ls_xrealloc(s->topics, (s->ntopics + 1) * sizeof *s->topics);
    s->topics[s->ntopics++] = ls_xstrdup(topic);
}

void ls_source_free(ls_source *s)
{
    if (!s) return;
    if (s->queue) rd_kafka_queue_destroy(s->queue);
    if (s->rk) {
        rd_kafka_consumer_close(s->rk);
        rd_kafka_destroy(s->rk);
    }
    for (size_t i = 0; i < s->nparts; i++) free(s->parts[i].topic);
    free(s->parts);
    for (size_t i = 0; i < s->nresume; i++) free(s->resume[i].topic);
    free(s->resume);
    free(s->group_id);
    for (size_t i = 0; i < s->ntopics; i++) free(s->topics[i]);
    free(s->topics);
    ls_props_free(&s->props);
    free(s->name);
    free(s->bootstrap);
    free(s);
}

static int discover(ls_source *s, char *err)
{
    for (size_t t = 0; t < s->ntopics; t++) {
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(s->rk, s->topics[t], NULL);
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_resp_err_t e = rd_kafka_metadata(s->rk, 0, rkt, &md, s->connect_timeout_ms);
        rd_kafka_topic_destroy(rkt);
        if (e) {
            ls_seterr(err, "topic %s: cannot read metadata from %s: %s", s->topics[t],
                      s->bootstrap, rd_kafka_err2str(e));
            return -1;
        }
        const struct rd_kafka_metadata_topic *mt = md->topic_cnt ? &md->topics[0] : NULL;
        if (!mt || mt->err || mt->partition_cnt == 0) {
            ls_seterr(err, "topic %s does not exist on %s%s%s (create it first, e.g. "
                      "scripts/kafka.sh create-topic %s)",
                      s->topics[t], s->bootstrap, mt && mt->err ? ": " : "",
                      mt && mt->err ? rd_kafka_err2str(mt->err) : "", s->topics[t]);
            rd_kafka_metadata_destroy(md);
            return -1;
        }
        s->parts = ls_xrealloc(s->parts, (s->nparts + (size_t)mt->partition_cnt) * sizeof *s->parts);
        for (int p = 0; p < mt->partition_cnt; p++) {
            ls_source_part *sp = &s->parts[s->nparts++];
            memset(sp, 0, sizeof *sp);
            sp->topic = ls_xstrdup(s->topics[t]);
            sp->partition = mt->partitions[p].id;
            sp->next = -1;
            sp->end = -1;
            sp->batch_start = -1;
            sp->limit = -1;
            sp->resume = -1;
        }
        rd_kafka_metadata_destroy(md);
    }
    return 0;
}

int ls_source_open(ls_source *s, int bounded, char *err)
{
    ls_props props = { 0 };
    ls_props_set(&props, "group.id", s->group_id ? s->group_id : "luastream");
    ls_props_set(&props, "enable.auto.commit", "false");
    ls_props_set(&props, "enable.auto.offset.store", "false");
    ls_props_set(&props, "enable.partition.eof", "true");
    ls_props_set(&props, "receive.message.max.bytes", "104857600");
    /* Prefetch deeper than the default 100k messages: the engine drains
     * the queue in bursts; memory stays bounded by queued.max.messages.kbytes. */
    ls_props_set(&props, "queued.min.messages", "1000000");
    for (size_t i = 0; i < s->props.n; i++) ls_props_set(&props, s->props.names[i], s->props.values[i]);
    rd_kafka_conf_t *conf = ls_kafka_conf(s->bootstrap, &props, err);
    ls_props_free(&props);
    if (!conf) return -1;
    char errstr[512];
    s->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    if (!s->rk) {
        ls_seterr(err, "kafka consumer: %s", errstr);
        rd_kafka_conf_destroy(conf);
        return -1;
    }
    rd_kafka_poll_set_consumer(s->rk);
    s->queue = rd_kafka_queue_get_consumer(s->rk);
    if (ls_kafka_check_reachable(s->rk, s->bootstrap, s->connect_timeout_ms, err)) return -1;
    if (discover(s, err)) return -1;

    s->bounded = bounded;
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new((int)s->nparts);
    for (size_t i = 0; i < s->nparts; i++) {
        ls_source_part *p = &s->parts[i];
        int64_t lo = 0, hi = 0;
        rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(
            s->rk, p->topic, p->partition, &lo, &hi, s->connect_timeout_ms);
        if (e) {
            ls_seterr(err, "%s[%d]: cannot read offsets: %s", p->topic, p->partition,
                      rd_kafka_err2str(e));
            rd_kafka_topic_partition_list_destroy(list);
            return -1;
        }
        p->next = s->start_latest ? hi : lo;
        for (size_t r = 0; r < s->nresume; r++)
            if (s->resume[r].partition == p->partition && strcmp(s->resume[r].topic, p->topic) == 0) {
                p->next = s->resume[r].next;
                if (p->next < lo) {
                    fprintf(stderr, "luastream: %s[%d]: checkpoint offset %lld was deleted by "
                            "retention; resuming at %lld\n", p->topic, p->partition,
                            (long long)p->next, (long long)lo);
                    p->next = lo;
                }
            }
        p->batch_start = p->next;
        if (bounded) {
            p->end = hi;
            p->done = p->next >= hi;
        }
        if (!p->done) s->remaining++;
        rd_kafka_topic_partition_list_add(list, p->topic, p->partition)->offset = p->next;
    }
    rd_kafka_resp_err_t e = rd_kafka_assign(s->rk, list);
    rd_kafka_topic_partition_list_destroy(list);
    if (e) {
        ls_seterr(err, "kafka assign: %s", rd_kafka_err2str(e));
        return -1;
    }
    if (!bounded) s->remaining = s->nparts;
    return 0;
}

static ls_source_part *find_part(ls_source *s, const rd_kafka_message_t *m)
{
    const char *t = rd_kafka_topic_name(m->rkt);
    for (size_t i = 0; i < s->nparts; i++)
        if (s->parts[i].partition == m->partition && strcmp(s->parts[i].topic, t) == 0)
            return &s->parts[i];
    return NULL;
}

static void finish_part(ls_source *s, ls_source_part *p)
{
    if (p->done) return;
    p->done = 1;
    s->remaining--;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, p->topic, p->partition);
    rd_kafka_pause_partitions(s->rk, l);
    rd_kafka_topic_partition_list_destroy(l);
}

/* Keeps m when it is a record of this run (returns 1); otherwise handles
 * the event or error it carries, destroys it and returns 0. */
static int keep_message(ls_source *s, rd_kafka_message_t *m, int *fatal, char *err)
{
    ls_source_part *p = m->rkt ? find_part(s, m) : NULL;
    if (m->err) {
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            if (p && s->bounded && m->offset >= p->end) finish_part(s, p);
        } else {
            char fe[512];
            if (rd_kafka_fatal_error(s->rk, fe, sizeof fe)) {
                ls_seterr(err, "kafka consumer: %s", fe);
                *fatal = 1;
            } else {
                fprintf(stderr, "luastream: kafka consumer: %s\n", rd_kafka_message_errstr(m));
            }
        }
        rd_kafka_message_destroy(m);
        return 0;
    }
    if (!p || p->done || (s->bounded && m->offset >= p->end) ||
        (p->limit >= 0 && m->offset >= p->limit)) {
        rd_kafka_message_destroy(m); /* past the bound of this run or batch */
        return 0;
    }
    p->next = m->offset + 1;
    if (s->bounded && p->next >= p->end) finish_part(s, p);
    return 1;
}

rd_kafka_message_t *ls_source_poll(ls_source *s, int timeout_ms, ls_source_part **part,
                                   int *fatal, char *err)
{
    *fatal = 0;
    rd_kafka_message_t *m = rd_kafka_consumer_poll(s->rk, timeout_ms);
    if (!m || !keep_message(s, m, fatal, err)) return NULL;
    *part = find_part(s, m);
    return m;
}

size_t ls_source_poll_batch(ls_source *s, int timeout_ms, rd_kafka_message_t **out, size_t max,
                            int *fatal, char *err)
{
    *fatal = 0;
    ssize_t n = rd_kafka_consume_batch_queue(s->queue, timeout_ms, out, max);
    if (n < 0) {
        ls_seterr(err, "kafka consumer: %s", rd_kafka_err2str(rd_kafka_last_error()));
        *fatal = 1;
        return 0;
    }
    size_t kept = 0;
    for (ssize_t i = 0; i < n; i++)
        if (keep_message(s, out[i], fatal, err)) out[kept++] = out[i];
    return kept;
}

void ls_source_begin_batch(ls_source *s)
{
    for (size_t i = 0; i < s->nparts; i++) s->parts[i].batch_start = s->parts[i].next;
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

void ls_source_limit(ls_source *s, const char *topic, int32_t partition, int64_t limit)
{
    ls_source_part *p = ls_source_find(s, topic, partition);
    if (p) p->limit = limit;
}

int ls_source_limits_reached(const ls_source *s)
{
    for (size_t i = 0; i < s->nparts; i++)
        if (s->parts[i].limit >= 0 && s->parts[i].next < s->parts[i].limit) return 0;
    return 1;
}

/* Re-assigning at the current positions drops what was fetched beyond the
 * limits; it is fetched again for the next batch. */
int ls_source_clear_limits(ls_source *s, char *err)
{
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new((int)s->nparts);
    for (size_t i = 0; i < s->nparts; i++) {
        s->parts[i].limit = -1;
        rd_kafka_topic_partition_list_add(list, s->parts[i].topic, s->parts[i].partition)->offset =
            s->parts[i].next;
    }
    rd_kafka_resp_err_t e = rd_kafka_assign(s->rk, list);
    rd_kafka_topic_partition_list_destroy(list);
    if (e) {
        ls_seterr(err, "kafka assign: %s", rd_kafka_err2str(e));
        return -1;
    }
    return 0;
}

void ls_source_commit_group(ls_source *s)
{
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new((int)s->nparts);
    for (size_t i = 0; i < s->nparts; i++)
        if (s->parts[i].next >= 0)
            rd_kafka_topic_partition_list_add(list, s->parts[i].topic, s->parts[i].partition)
                ->offset = s->parts[i].next;
    if (list->cnt) rd_kafka_commit(s->rk, list, 1);
    rd_kafka_topic_partition_list_destroy(list);
}
