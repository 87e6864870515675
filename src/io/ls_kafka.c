/* ls_kafka.c - librdkafka configuration, reachability and producer. */
#include "ls_kafka.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ls_kafka_is_secret(const char *name)
{
    return strstr(name, "password") || strstr(name, "secret") || strstr(name, "key.pem") ||
           strstr(name, ".key") || strstr(name, "token") || strstr(name, "jaas");
}

int ls_kafka_check_topic(const char *topic, ls_err *err)
{
    size_t n = strlen(topic);
    int ok = n >= 1 && n <= 249 && strcmp(topic, ".") != 0 && strcmp(topic, "..") != 0;
    for (size_t i = 0; ok && i < n; i++) {
        char c = topic[i];
        ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
             c == '.' || c == '_' || c == '-';
    }
    if (ok) return 0;
    ls_seterr(err, "\"%.40s%s\" (%zu characters) is not a valid Kafka topic name: 1 to 249 "
              "letters, digits, '.', '_' or '-'", topic, n > 40 ? "..." : "", n);
    return -1;
}

void ls_props_set(ls_props *p, const char *name, const char *value)
{
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->names[i], name) == 0) {
            free(p->values[i]);
            p->values[i] = ls_xstrdup(value);
            return;
        }
    p->names = ls_xrealloc(p->names, (p->n + 1) * sizeof *p->names);
    p->values = ls_xrealloc(p->values, (p->n + 1) * sizeof *p->values);
    p->names[p->n] = ls_xstrdup(name);
    p->values[p->n] = ls_xstrdup(value);
    p->n++;
}

const char *ls_props_get(const ls_props *p, const char *name)
{
    for (size_t i = 0; p && i < p->n; i++)
        if (strcmp(p->names[i], name) == 0) return p->values[i];
    return NULL;
}

void ls_props_free(ls_props *p)
{
    for (size_t i = 0; i < p->n; i++) {
        free(p->names[i]);
        free(p->values[i]);
    }
    free(p->names);
    free(p->values);
    memset(p, 0, sizeof *p);
}

/* librdkafka reports transient broker trouble (a broker restarting, a
 * refused connection) through logs and the error callback and retries by
 * itself; we pass these to stderr once per distinct message in a row so an
 * outage is visible without flooding the terminal. */
static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    if (level > 4) return;
    fprintf(stderr, "luastream: kafka %s: %s\n", fac, buf);
}

static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    (void)rk;
    (void)opaque;
    if (err == RD_KAFKA_RESP_ERR__TRANSPORT || err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN)
        fprintf(stderr, "luastream: kafka: %s\n", reason);
    else
        fprintf(stderr, "luastream: kafka error %s: %s\n",
                rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
}

rd_kafka_conf_t *ls_kafka_conf(const char *bootstrap, const ls_props *props, ls_err *err)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char errstr[512];
    if (rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, errstr, sizeof errstr) !=
        RD_KAFKA_CONF_OK) {
        ls_seterr(err, "kafka bootstrap.servers: %s", errstr);
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    /* Repeated "connection refused" lines are suppressed by librdkafka
     * itself after the first; keep its default log level. */
    rd_kafka_conf_set_log_cb(conf, log_cb);
    rd_kafka_conf_set_error_cb(conf, error_cb);
    for (size_t i = 0; props && i < props->n; i++) {
        if (rd_kafka_conf_set(conf, props->names[i], props->values[i], errstr, sizeof errstr) !=
            RD_KAFKA_CONF_OK) {
            /* librdkafka's message may quote the value: never for secrets */
            ls_seterr(err, "kafka property %s: %s", props->names[i],
                      ls_kafka_is_secret(props->names[i]) ? "invalid value (not shown: secret)"
                                                          : errstr);
            rd_kafka_conf_destroy(conf);
            return NULL;
        }
    }
    return conf;
}

static volatile sig_atomic_t *interrupt_flag;

void ls_kafka_set_interrupt(volatile sig_atomic_t *flag)
{
    interrupt_flag = flag;
}

int ls_kafka_check_reachable(rd_kafka_t *rk, const char *bootstrap, int timeout_ms, ls_err *err)
{
    /* asked in slices of at most 250 ms, so that a stop is seen quickly */
    double until = ls_mono_ms() + timeout_ms;
    rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR__TIMED_OUT;
    const struct rd_kafka_metadata *md = NULL;
    for (;;) {
        if (interrupt_flag && *interrupt_flag) {
            ls_seterr(err, "interrupted while reaching Kafka at %s", bootstrap);
            return -1;
        }
        double left = until - ls_mono_ms();
        if (left <= 0) break;
        e = rd_kafka_metadata(rk, 0, NULL, &md, left > 250 ? 250 : (int)left + 1);
        if (e != RD_KAFKA_RESP_ERR__TIMED_OUT && e != RD_KAFKA_RESP_ERR__TRANSPORT) break;
    }
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        ls_seterr(err, "cannot reach Kafka at %s within %.1f s: %s", bootstrap,
                  timeout_ms / 1000.0, rd_kafka_err2str(e));
        return -1;
    }
    int brokers = md->broker_cnt;
    rd_kafka_metadata_destroy(md);
    if (brokers == 0) {
        ls_seterr(err, "Kafka at %s answered with no brokers", bootstrap);
        return -1;
    }
    return 0;
}

void ls_kafka_refresh_topic(rd_kafka_t *rk, const char *topic, int timeout_ms)
{
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    if (!rkt) return;
    const struct rd_kafka_metadata *md = NULL;
    if (rd_kafka_metadata(rk, 0, rkt, &md, timeout_ms) == RD_KAFKA_RESP_ERR_NO_ERROR && md)
        rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
}

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    ls_kafka_producer *p = opaque;
    if (m->err == RD_KAFKA_RESP_ERR__PURGE_QUEUE || m->err == RD_KAFKA_RESP_ERR__PURGE_INFLIGHT) {
        p->purged++; /* only rd_kafka_abort_transaction purges: meant to be dropped */
    } else if (m->err) {
        p->failed++;
        snprintf(p->last_error, sizeof p->last_error, "%s: %s",
                 m->rkt ? rd_kafka_topic_name(m->rkt) : "?", rd_kafka_err2str(m->err));
    } else {
        p->delivered++;
        int64_t *next = m->_private; /* ls_kafka_produce_noting's */
        if (next && m->offset >= 0 && m->offset + 1 > *next) *next = m->offset + 1;
    }
}

/* A librdkafka producer for p, from its bootstrap and properties. */
static rd_kafka_t *make_producer(ls_kafka_producer *p, ls_err *err)
{
    rd_kafka_conf_t *conf = ls_kafka_conf(p->bootstrap, &p->props, err);
    if (!conf) return NULL;
    rd_kafka_conf_set_opaque(conf, p);
    rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    char errstr[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!rk) {
        ls_seterr(err, "kafka producer: %s", errstr);
        rd_kafka_conf_destroy(conf);
    }
    return rk;
}

int ls_kafka_producer_renew(ls_kafka_producer *p, ls_err *err)
{
    rd_kafka_t *rk = make_producer(p, err);
    if (!rk) return -1;
    /* the old one's messages are the failed transaction's: dropped */
    rd_kafka_purge(p->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_poll(p->rk, 0);
    rd_kafka_destroy(p->rk);
    p->rk = rk;
    p->failed = 0;
    p->last_error[0] = '\0';
    return 0;
}

ls_kafka_producer *ls_kafka_producer_new(const char *bootstrap, const ls_props *props,
                                         int timeout_ms, ls_err *err)
{
    ls_props defaults = { 0 };
    /* Large records are legal input: let librdkafka send up to 16 MB
     * (the broker's own limit still applies and failures are counted). */
    ls_props_set(&defaults, "message.max.bytes", "16777216");
    ls_props_set(&defaults, "linger.ms", "5");
    ls_props_set(&defaults, "queue.buffering.max.messages", "500000");
    for (size_t i = 0; props && i < props->n; i++)
        ls_props_set(&defaults, props->names[i], props->values[i]);
    ls_kafka_producer *p = ls_xcalloc(1, sizeof *p);
    p->props = defaults;
    p->bootstrap = ls_xstrdup(bootstrap);
    p->rk = make_producer(p, err);
    if (!p->rk) {
        ls_props_free(&p->props);
        free(p->bootstrap);
        free(p);
        return NULL;
    }
    if (timeout_ms > 0 && ls_kafka_check_reachable(p->rk, bootstrap, timeout_ms, err)) {
        ls_kafka_producer_free(p, 0);
        return NULL;
    }
    return p;
}

int ls_kafka_produce(ls_kafka_producer *p, const char *topic, int partition,
                     const void *key, size_t klen, const void *val, size_t vlen, ls_err *err)
{
    return ls_kafka_produce_noting(p, topic, partition, key, klen, val, vlen, NULL, err);
}

int ls_kafka_produce_noting(ls_kafka_producer *p, const char *topic, int partition,
                            const void *key, size_t klen, const void *val, size_t vlen,
                            int64_t *next, ls_err *err)
{
    for (;;) {
        rd_kafka_resp_err_t e = rd_kafka_producev(
            p->rk, RD_KAFKA_V_TOPIC(topic),
            RD_KAFKA_V_PARTITION(partition < 0 ? RD_KAFKA_PARTITION_UA : partition),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_KEY((void *)key, klen), RD_KAFKA_V_VALUE((void *)val, vlen),
            RD_KAFKA_V_OPAQUE(next), RD_KAFKA_V_END);
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
            p->sent++;
            rd_kafka_poll(p->rk, 0);
            return 0;
        }
        if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            if (p->stop && *p->stop) {
                ls_seterr(err, "produce to %s: stopped while waiting for room in the local queue",
                          topic);
                return -1;
            }
            rd_kafka_poll(p->rk, 5); /* backpressure: wait for deliveries */
            continue;
        }
        p->failed++;
        ls_seterr(err, "produce to %s: %s", topic, rd_kafka_err2str(e));
        snprintf(p->last_error, sizeof p->last_error, "%s", err ? err->msg : "");
        return -1;
    }
}

int ls_kafka_flush(ls_kafka_producer *p, int timeout_ms, ls_err *err)
{
    rd_kafka_resp_err_t e = rd_kafka_flush(p->rk, timeout_ms);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        ls_seterr(err, "kafka at %s: %d messages still undelivered after %.1f s",
                  p->bootstrap, rd_kafka_outq_len(p->rk), timeout_ms / 1000.0);
        return -1;
    }
    if (p->failed) {
        ls_seterr(err, "kafka: %lld messages failed delivery (last: %s)",
                  (long long)p->failed, p->last_error);
        return -1;
    }
    return 0;
}

void ls_kafka_producer_free(ls_kafka_producer *p, int timeout_ms)
{
    if (!p) return;
    if (p->rk) {
        if (timeout_ms > 0 && rd_kafka_flush(p->rk, timeout_ms) != RD_KAFKA_RESP_ERR_NO_ERROR)
            ls_log("kafka at %s: %d messages still undelivered after %.1f s are dropped",
                   p->bootstrap, rd_kafka_outq_len(p->rk), timeout_ms / 1000.0);
        rd_kafka_destroy(p->rk);
    }
    ls_props_free(&p->props);
    free(p->bootstrap);
    free(p);
}
