/* ls_sink_kafka.c - Kafka topic sink: one message per result row, value =
 * the row as JSON, key = the group key columns as JSON (so a compacted
 * topic keeps the current value of every group). The batch is flushed and
 * every delivery confirmed before close_batch returns.
 *
 * With a checkpoint the sink is transactional (exactly once for
 * read_committed readers): each batch is one Kafka transaction on a
 * producer of its own whose transactional.id is stable across restarts
 * (so a restart fences the old producer and aborts its open transaction),
 * and every message carries the header luastream.batch = batch id. A crash
 * after a batch's transaction committed but before the checkpoint's commit
 * record would replay that batch. Only the first batch of a run can be
 * such a replay, so before its first message the sink reads the tail of the
 * topic that message goes to (read_committed) for the batch ids already
 * there: when the batch is there, its transaction committed, with all its
 * messages (whatever topics a per-record query routed them to), and the
 * whole batch is skipped. Each result is committed exactly once. The
 * transactional producer is initialised (which fences any other producer
 * with its transactional.id) when the first batch opens, not when the sink
 * is built: by then the run holds its checkpoint's lock, so a second run
 * started by mistake on the same checkpoint can never fence the first.
 *
 * Per-record rows (write_out) carry their own key, headers and, when the
 * query routes them, topic. A transaction begins with a batch's first
 * message, so a batch without rows writes nothing.
 *
 * Every librdkafka call that can fail is checked: a batch-id scan that
 * cannot read the whole tail of the topic is an error, never a guess (a
 * wrong guess would write a batch twice or skip one). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ls_kafka.h"
#include "ls_sink.h"

#define BATCH_HEADER "luastream.batch"
#define TXN_TIMEOUT_MS 60000

typedef struct kafka_sink {
    ls_sink base;
    ls_kafka_producer *p;      /* borrowed (plain) or owned (transactional) */
    int txn;
    int txn_ready;             /* transactions initialised */
    int checked;               /* the run's first batch was checked against the topics */
    int begun;                 /* this batch's transaction has begun */
    char *bootstrap;           /* transactional: for the batch-id scan */
    ls_props props;
    int64_t done_until;        /* batches up to this id are already in Kafka */
    int skipping;              /* this batch is one of those */
    int64_t batch;
    char *topic;
    ls_buf key, val;
    ls_rowfmt fmt;
    unsigned since_poll;       /* messages since the last rd_kafka_poll */
} kafka_sink;

static int txn_error(rd_kafka_error_t *e, const char *what, const char *topic, ls_err *err)
{
    ls_seterr(err, "kafka sink %s: %s: %s%s", topic, what, rd_kafka_error_string(e),
              rd_kafka_error_is_fatal(e) ? " (fatal: the producer cannot continue)" : "");
    rd_kafka_error_destroy(e);
    return -1;
}

static int64_t last_batch_in(const char *bootstrap, const ls_props *props, const char *topic,
                             ls_err *err);

/* Fences older producers with the same transactional.id. */
static int txn_init(kafka_sink *k, ls_err *err)
{
    rd_kafka_error_t *e = rd_kafka_init_transactions(k->p->rk, TXN_TIMEOUT_MS);
    if (e) return txn_error(e, "init transactions", k->topic, err);
    k->txn_ready = 1;
    return 0;
}

static int open_batch(ls_sink *s, int64_t batch_id, ls_err *err)
{
    kafka_sink *k = (kafka_sink *)s;
    s->rows_in_batch = 0;
    if (k->txn && !k->txn_ready && txn_init(k, err)) return -1;
    k->batch = batch_id;
    k->skipping = 0;
    k->begun = 0;
    return 0;
}

/* Before a batch's first message: is the batch already in Kafka (the run's
 * first batch only), and the transaction begun. */
static int first_message(kafka_sink *k, const char *topic, ls_err *err)
{
    if (!k->checked) {
        int64_t done = last_batch_in(k->bootstrap, &k->props, topic, err);
        if (done < -1) return -1;
        k->done_until = done;
        k->checked = 1;
        k->skipping = k->batch <= k->done_until;
    }
    if (k->skipping) return 0; /* committed by the run before the restart */
    rd_kafka_error_t *e = rd_kafka_begin_transaction(k->p->rk);
    if (e) return txn_error(e, "begin transaction", k->topic, err);
    k->begun = 1;
    return 0;
}

/* One message: value, key, topic (NULL: the sink's), headers; with a
 * checkpoint inside the batch's transaction, with the batch header. */
static int produce(kafka_sink *k, const ls_out *o, ls_err *err)
{
    const char *topic = o->topic ? o->topic : k->topic;
    if (k->txn && !k->begun && !k->skipping && first_message(k, topic, err)) return -1;
    if (k->skipping) return 0;
    rd_kafka_headers_t *h = NULL;
    if (o->nheaders || k->txn) {
        h = rd_kafka_headers_new(o->nheaders + 1);
        for (size_t i = 0; i < o->nheaders; i++)
            rd_kafka_header_add(h, o->hnames[i], -1, o->hvals[i],
                                o->hvals[i] ? (ssize_t)o->hlens[i] : 0);
        if (k->txn) {
            char b[24];
            snprintf(b, sizeof b, "%lld", (long long)k->batch);
            rd_kafka_header_add(h, BATCH_HEADER, -1, b, (ssize_t)strlen(b));
        }
    }
    for (;;) {
        rd_kafka_resp_err_t e = rd_kafka_producev(
            k->p->rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_KEY(o->key, o->key ? o->key_len : 0), RD_KAFKA_V_VALUE((void *)o->json, o->len),
            RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_END);
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR) break; /* the message owns the headers now */
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            if (h) rd_kafka_headers_destroy(h);
            ls_seterr(err, "kafka sink %s: %s", topic, rd_kafka_err2str(e));
            return -1;
        }
        rd_kafka_poll(k->p->rk, 5);
    }
    k->p->sent++;
    /* delivery reports served every 256 messages, not after each (a lock
     * and a queue check per message); close_batch waits for them all */
    if ((++k->since_poll & 255) == 0) rd_kafka_poll(k->p->rk, 0);
    return 0;
}

/* An aggregation's row: the value formatted once by the row writer, the
 * key (the group columns' object) its prefix closed with '}'. */
static int write_row(ls_sink *s, const ls_row *row, ls_err *err)
{
    kafka_sink *k = (kafka_sink *)s;
    s->rows_in_batch++;
    ls_buf_reset(&k->key);
    ls_buf_reset(&k->val);
    size_t key_end = ls_row_write(&k->fmt, row, &k->val);
    if (key_end == SIZE_MAX) {
        ls_row_json(row, 1, &k->key);
    } else {
        ls_buf_append(&k->key, k->val.data, key_end);
        ls_buf_putc(&k->key, '}');
    }
    ls_out o = { k->val.data, k->val.len, k->key.data, k->key.len, NULL, 0, NULL, NULL, NULL };
    return produce(k, &o, err);
}

static int write_out(ls_sink *s, const ls_out *o, ls_err *err)
{
    s->rows_in_batch++;
    return produce((kafka_sink *)s, o, err);
}

static int close_batch(ls_sink *s, ls_err *err)
{
    kafka_sink *k = (kafka_sink *)s;
    if (!k->txn) return ls_kafka_flush(k->p, 60000, err);
    if (!k->begun) return 0; /* nothing written, or the batch was already there */
    k->begun = 0;
    rd_kafka_error_t *e = rd_kafka_commit_transaction(k->p->rk, TXN_TIMEOUT_MS);
    if (e) {
        char what[LS_ERRLEN];
        snprintf(what, sizeof what, "commit transaction of batch %lld", (long long)k->batch);
        if (!rd_kafka_error_is_fatal(e)) {
            rd_kafka_error_t *a = rd_kafka_abort_transaction(k->p->rk, TXN_TIMEOUT_MS);
            if (a) {
                snprintf(what, sizeof what, "commit transaction of batch %lld (and its abort: %s)",
                         (long long)k->batch, rd_kafka_error_string(a));
                rd_kafka_error_destroy(a);
            }
        }
        return txn_error(e, what, k->topic, err);
    }
    if (k->p->failed) {
        ls_seterr(err, "kafka sink %s: %lld messages failed delivery (last: %s)", k->topic,
                  (long long)k->p->failed, k->p->last_error);
        return -1;
    }
    return 0;
}

static void destroy(ls_sink *s)
{
    kafka_sink *k = (kafka_sink *)s;
    if (k->txn) ls_kafka_producer_free(k->p, 0);
    free(k->bootstrap);
    ls_props_free(&k->props);
    ls_buf_free(&k->key);
    ls_buf_free(&k->val);
    ls_rowfmt_free(&k->fmt);
    free(k->topic);
    free(s->description);
    free(k);
}

static const ls_sink_vt kafka_vt = { open_batch, write_row, write_out, close_batch, destroy };

static kafka_sink *alloc_sink(const char *topic)
{
    kafka_sink *k = ls_xcalloc(1, sizeof *k);
    k->base.vt = &kafka_vt;
    k->topic = ls_xstrdup(topic);
    k->done_until = -1;
    ls_buf d;
    ls_buf_init(&d);
    ls_buf_printf(&d, "KafkaSink[%s]", topic);
    k->base.description = d.data;
    ls_buf_init(&k->key);
    ls_buf_init(&k->val);
    ls_rowfmt_init(&k->fmt);
    return k;
}

ls_sink *ls_sink_kafka_new(ls_kafka_producer *p, const char *topic, ls_err *err)
{
    (void)err;
    kafka_sink *k = alloc_sink(topic);
    k->p = p;
    return &k->base;
}

/* The highest luastream.batch header among the last committed messages of
 * every partition of topic, -1 when there is none (no topic yet, or no
 * messages), or -2 + err when the topic's tail could not be read whole. */
static int64_t scan_tail(rd_kafka_t *rk, const char *topic, ls_err *err)
{
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    if (!rkt) {
        ls_seterr(err, "kafka sink %s: %s", topic, rd_kafka_err2str(rd_kafka_last_error()));
        return -2;
    }
    int64_t best = -1;
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_topic_partition_list_t *list = NULL;
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, rkt, &md, 10000);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        ls_seterr(err, "kafka sink %s: cannot read the topic's metadata (to find the batches "
                  "already written): %s", topic, rd_kafka_err2str(e));
        best = -2;
        goto out;
    }
    if (md->topic_cnt < 1 || md->topics[0].err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
        goto out; /* a new topic: nothing written yet */
    if (md->topics[0].err) {
        ls_seterr(err, "kafka sink %s: %s", topic, rd_kafka_err2str(md->topics[0].err));
        best = -2;
        goto out;
    }
    const struct rd_kafka_metadata_topic *mt = &md->topics[0];
    list = rd_kafka_topic_partition_list_new(mt->partition_cnt > 0 ? mt->partition_cnt : 1);
    int pending = 0;
    for (int i = 0; i < mt->partition_cnt; i++) {
        int64_t lo, hi;
        int32_t part = mt->partitions[i].id;
        e = rd_kafka_query_watermark_offsets(rk, topic, part, &lo, &hi, 10000);
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
            ls_seterr(err, "kafka sink %s: partition %d: cannot read its offsets: %s", topic,
                      (int)part, rd_kafka_err2str(e));
            best = -2;
            goto out;
        }
        if (hi <= lo) continue;
        /* Only the newest committed messages matter: a batch that
         * committed here was the last thing the crashed run wrote, so
         * its rows are the tail of the partition. */
        int64_t from = hi - 1000 > lo ? hi - 1000 : lo;
        rd_kafka_topic_partition_list_add(list, topic, part)->offset = from;
        pending++;
    }
    if (pending && (e = rd_kafka_assign(rk, list)) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        ls_seterr(err, "kafka sink %s: cannot assign its partitions: %s", topic, rd_kafka_err2str(e));
        best = -2;
        goto out;
    }
    double until = ls_mono_ms() + 30000;
    while (pending > 0 && ls_mono_ms() < until) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        if (!m) continue;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            pending--;
        } else if (m->err) {
            ls_seterr(err, "kafka sink %s: reading the batches already written: %s", topic,
                      rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            best = -2;
            goto out;
        } else {
            rd_kafka_headers_t *h;
            const void *v;
            size_t n;
            if (rd_kafka_message_headers(m, &h) == RD_KAFKA_RESP_ERR_NO_ERROR &&
                rd_kafka_header_get_last(h, BATCH_HEADER, &v, &n) == RD_KAFKA_RESP_ERR_NO_ERROR &&
                v && n > 0 && n < 24) {
                char b[24];
                memcpy(b, v, n);
                b[n] = '\0';
                char *end;
                long long id = strtoll(b, &end, 10);
                if (*end == '\0' && id > best) best = id;
            }
        }
        rd_kafka_message_destroy(m);
    }
    if (pending > 0) {
        ls_seterr(err, "kafka sink %s: could not read the end of %d partition%s within 30 s "
                  "(to find the batches already written)", topic, pending, pending == 1 ? "" : "s");
        best = -2;
    }
out:
    if (list) rd_kafka_topic_partition_list_destroy(list);
    if (md) rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    return best;
}

static int64_t last_batch_in(const char *bootstrap, const ls_props *props, const char *topic,
                             ls_err *err)
{
    ls_props cp = { 0 };
    for (size_t i = 0; props && i < props->n; i++) ls_props_set(&cp, props->names[i], props->values[i]);
    ls_props_set(&cp, "group.id", "luastream-sink-recovery");
    ls_props_set(&cp, "isolation.level", "read_committed");
    ls_props_set(&cp, "enable.auto.commit", "false");
    ls_props_set(&cp, "enable.partition.eof", "true");
    rd_kafka_conf_t *conf = ls_kafka_conf(bootstrap, &cp, err);
    ls_props_free(&cp);
    if (!conf) return -2;
    char errstr[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        ls_seterr(err, "kafka sink %s: %s", topic, errstr);
        return -2;
    }
    int64_t best = -2;
    rd_kafka_resp_err_t e = rd_kafka_poll_set_consumer(rk);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
        ls_seterr(err, "kafka sink %s: %s", topic, rd_kafka_err2str(e));
    else
        best = scan_tail(rk, topic, err);
    rd_kafka_consumer_close(rk); /* nothing committed: a failed close loses nothing */
    rd_kafka_destroy(rk);
    return best;
}

ls_sink *ls_sink_kafka_new_txn(const char *bootstrap, const ls_props *props, const char *topic,
                               const char *txn_id, ls_err *err)
{
    ls_props tp = { 0 };
    for (size_t i = 0; props && i < props->n; i++) ls_props_set(&tp, props->names[i], props->values[i]);
    ls_props_set(&tp, "transactional.id", txn_id);
    ls_props_set(&tp, "enable.idempotence", "true");
    ls_kafka_producer *p = ls_kafka_producer_new(bootstrap, &tp, 10000, err);
    ls_props_free(&tp);
    if (!p) return NULL;
    kafka_sink *k = alloc_sink(topic);
    k->p = p;
    k->txn = 1;
    k->bootstrap = ls_xstrdup(bootstrap);
    for (size_t i = 0; props && i < props->n; i++) ls_props_set(&k->props, props->names[i], props->values[i]);
    return &k->base;
}
