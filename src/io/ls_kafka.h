/* ls_kafka.h - the thin layer over librdkafka shared by the source, the
 * Kafka sink, the dead-letter output and the produce/consume commands:
 * configuration with pass-through properties, a bounded-wait reachability
 * check, and a producer that counts every delivery failure. */
#ifndef LS_KAFKA_H
#define LS_KAFKA_H

#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "ls_util.h"

/* librdkafka properties: parallel arrays of names and values. */
typedef struct ls_props {
    size_t n;
    char **names;
    char **values;
} ls_props;

void ls_props_set(ls_props *p, const char *name, const char *value);
/* Properties whose values must never be printed (passwords, keys, tokens). */
int ls_kafka_is_secret(const char *name);
const char *ls_props_get(const ls_props *p, const char *name);
void ls_props_free(ls_props *p);

/* A new configuration with bootstrap.servers, our log/error callbacks and
 * the given properties applied (a bad property fills err, returns NULL). */
rd_kafka_conf_t *ls_kafka_conf(const char *bootstrap, const ls_props *props, ls_err *err);

/* A legal Kafka topic name: 1 to 249 of [a-zA-Z0-9._-], not "." or "..".
 * -1 + err (the name shortened when long) otherwise. */
int ls_kafka_check_topic(const char *topic, ls_err *err);

/* Asks the cluster for metadata within timeout_ms. Returns 0 when a broker
 * answered, -1 with a message naming bootstrap otherwise (also when the
 * interrupt flag is raised meanwhile: "interrupted"). */
int ls_kafka_check_reachable(rd_kafka_t *rk, const char *bootstrap, int timeout_ms, ls_err *err);

/* The program's stop flag (set by its SIGINT/SIGTERM handler): waits of
 * this module that could last seconds (reaching a broker) watch it and
 * give up when it is raised, so Ctrl-C works while a broker is down. Set
 * once at start; NULL (the default) watches nothing. */
void ls_kafka_set_interrupt(volatile sig_atomic_t *flag);

typedef struct ls_kafka_producer {
    rd_kafka_t *rk;
    char *bootstrap;
    int64_t sent;        /* handed to librdkafka */
    int64_t delivered;   /* acknowledged by the broker */
    int64_t failed;      /* delivery reports with an error */
    int64_t purged;      /* messages of an aborted transaction, dropped by the abort
                            (their reports say so; not failures) */
    char last_error[LS_ERRLEN];
    const volatile sig_atomic_t *stop; /* when set and non-zero, a wait for room in a full
                                          local queue gives up (the user asked to stop) */
    ls_props props;      /* what it was made with (ls_kafka_producer_renew) */
} ls_kafka_producer;

/* Asks the cluster for topic's metadata now, so that the client's cache
 * names each partition's current leader (after a broker went away, a
 * request answered "not leader" is not always followed by a refresh).
 * Best effort: a failure is left to the caller's retry. */
void ls_kafka_refresh_topic(rd_kafka_t *rk, const char *topic, int timeout_ms);

ls_kafka_producer *ls_kafka_producer_new(const char *bootstrap, const ls_props *props,
                                         int timeout_ms, ls_err *err);
/* Queues one message, waiting while the local queue is full (unless *stop).
 * -1 + err on failure. */
int ls_kafka_produce(ls_kafka_producer *p, const char *topic, int partition,
                     const void *key, size_t klen, const void *val, size_t vlen, ls_err *err);
/* As ls_kafka_produce; once the broker has acknowledged the message, *next
 * is raised to the message's offset + 1. next must outlive the delivery
 * report, which the producer's polls and flushes (a transaction's commit
 * included) serve on the calling thread. */
int ls_kafka_produce_noting(ls_kafka_producer *p, const char *topic, int partition,
                            const void *key, size_t klen, const void *val, size_t vlen,
                            int64_t *next, ls_err *err);
/* Waits for outstanding deliveries. Returns -1 when some are still
 * outstanding after timeout_ms or any delivery failed since the last call. */
int ls_kafka_flush(ls_kafka_producer *p, int timeout_ms, ls_err *err);
void ls_kafka_producer_free(ls_kafka_producer *p, int timeout_ms);
/* Replaces p's librdkafka client by a new one made with the same
 * properties (what it held is dropped, its counts reset): for a
 * transactional producer that librdkafka made fatal, the same
 * transactional.id starts over (its owner then initialises the
 * transactions again). Whoever borrows p keeps it. -1 + err. */
int ls_kafka_producer_renew(ls_kafka_producer *p, ls_err *err);

#endif
