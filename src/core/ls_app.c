/* ls_app.c - a member of a job: the batch's transaction with its consumed
 * offsets (see ls_app.h). */
#include "ls_app.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TXN_TIMEOUT_MS 60000
#define RENEW_MAX 3 /* new producers in a row (no commit between) before giving up */

struct ls_app {
    char *id;
    ls_source *src;          /* borrowed */
    ls_kafka_producer *p;    /* borrowed: the plan owns it; NULL without a Kafka sink */
    int open;                /* a transaction has begun and not ended */
    int64_t committed, aborted;
    int64_t test_abort;      /* LUASTREAM_TEST_ABORT_BATCH: abort this batch once; -1 */
    int64_t batch;           /* the batch in progress */
    double begun_ms;         /* when its transaction began (monotonic) */
    double timeout_ms;       /* the producer's transaction.timeout.ms; 0: none */
    int must_abort;          /* the revoked partitions' offsets could not join the transaction */
    int broken;              /* ... and the producer cannot go on: why holds the error */
    char why[LS_ERRLEN];
    int renewals;            /* new producers since the last commit */
};

int ls_app_check_id(const char *id, ls_err *err)
{
    size_t n = strlen(id);
    if (n == 0 || n > LS_APP_ID_MAX) {
        ls_seterr(err, "\"%.64s\": an app id has 1 to %d characters, got %zu (it names the consumer group, "
                  "the transactional ids and the job's topics)", id, LS_APP_ID_MAX, n);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)id[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-')) {
            ls_seterr(err, "\"%.64s\": character %zu (%s%c) is not one of a-z A-Z 0-9 . _ - "
                      "(it names the consumer group, the transactional ids and the job's topics)",
                      id, i + 1, c < 32 || c > 126 ? "byte " : "", c < 32 || c > 126 ? '?' : c);
            return -1;
        }
    }
    if (strcmp(id, ".") == 0 || strcmp(id, "..") == 0) {
        ls_seterr(err, "\"%s\" is not allowed as an app id (Kafka refuses it as a topic name)", id);
        return -1;
    }
    return 0;
}

/* The positions of partitions revoked during a batch join its open
 * transaction before the group is told (see ls_source_on_revoke). */
static int on_revoke(void *ctx, const rd_kafka_topic_partition_list_t *positions)
{
    ls_app *a = ctx;
    if (!a->p || !a->open || a->must_abort) return 0;
    rd_kafka_consumer_group_metadata_t *md = ls_source_group_metadata(a->src);
    if (!md) {
        a->must_abort = a->broken = 1;
        snprintf(a->why, sizeof a->why, "app %s: the consumer has no group metadata", a->id);
        return -1;
    }
    rd_kafka_error_t *e = rd_kafka_send_offsets_to_transaction(a->p->rk, positions, md,
                                                               TXN_TIMEOUT_MS);
    rd_kafka_consumer_group_metadata_destroy(md);
    if (!e) {
        ls_log("app %s: the positions of %d partition%s revoked during batch %lld joined its "
               "transaction", a->id, positions->cnt, positions->cnt == 1 ? "" : "s",
               (long long)a->batch);
        return 0;
    }
    a->must_abort = 1;
    a->broken = !rd_kafka_error_txn_requires_abort(e);
    snprintf(a->why, sizeof a->why, "app %s: sending the offsets of revoked partitions: %s", a->id,
             rd_kafka_error_string(e));
    rd_kafka_error_destroy(e);
    return -1;
}

ls_kafka_producer *ls_app_producer_new(const char *bootstrap, const ls_props *props,
                                       const char *txn_id, ls_err *err)
{
    ls_props tp = { 0 };
    for (size_t i = 0; props && i < props->n; i++) ls_props_set(&tp, props->names[i], props->values[i]);
    ls_props_set(&tp, "transactional.id", txn_id);
    ls_props_set(&tp, "enable.idempotence", "true");
    /* a member killed with a transaction open holds back its partitions'
     * new owners (and read_committed readers) until the transaction times
     * out: Kafka Streams' exactly-once default, 10 s, unless set */
    if (!props || !ls_props_get(props, "transaction.timeout.ms"))
        ls_props_set(&tp, "transaction.timeout.ms", "10000");
    ls_kafka_producer *p = ls_kafka_producer_new(bootstrap, &tp, 10000, err);
    ls_props_free(&tp);
    return p;
}

ls_app *ls_app_new(const char *id, ls_source *src, ls_kafka_producer *p)
{
    ls_app *a = ls_xcalloc(1, sizeof *a);
    a->id = ls_xstrdup(id);
    a->src = src;
    a->p = p;
    char v[32];
    size_t vn = sizeof v;
    if (p && rd_kafka_conf_get(rd_kafka_conf(p->rk), "transaction.timeout.ms", v, &vn) ==
                 RD_KAFKA_CONF_OK)
        a->timeout_ms = strtod(v, NULL);
    const char *t = getenv("LUASTREAM_TEST_ABORT_BATCH");
    a->test_abort = t && *t ? strtoll(t, NULL, 10) : -1;
    ls_source_on_revoke(src, on_revoke, a);
    return a;
}

static int fail(ls_app *a, rd_kafka_error_t *e, const char *what, ls_err *err)
{
    ls_seterr(err, "app %s: %s: %s%s", a->id, what, rd_kafka_error_string(e),
              rd_kafka_error_is_fatal(e) ? " (fatal: this member's producer cannot continue; "
                                           "another member or a restart takes its partitions)"
                                         : "");
    rd_kafka_error_destroy(e);
    return -1;
}

static int renew_for(ls_app *a, int64_t batch, rd_kafka_error_t *e, ls_err *err);

int ls_app_start(ls_app *a, ls_err *err)
{
    if (!a->p) return 0;
    rd_kafka_error_t *e = rd_kafka_init_transactions(a->p->rk, TXN_TIMEOUT_MS);
    return e ? fail(a, e, "init transactions", err) : 0;
}

int ls_app_begin(ls_app *a, int64_t batch, ls_err *err)
{
    a->batch = batch;
    if (!a->p || a->open) return 0;
    rd_kafka_error_t *e = rd_kafka_begin_transaction(a->p->rk);
    if (e && rd_kafka_error_is_fatal(e)) { /* nothing of this batch is written yet */
        if (renew_for(a, batch, e, err) < 0) return -1;
        e = rd_kafka_begin_transaction(a->p->rk);
    }
    if (e) return fail(a, e, "begin transaction", err);
    a->open = 1;
    a->begun_ms = ls_mono_ms();
    return 0;
}

double ls_app_read_budget_ms(const ls_app *a)
{
    return a->p ? a->timeout_ms / 2 : 0;
}

void ls_app_explain_failure(const ls_app *a, ls_err *err)
{
    if (!a->p || !a->open || a->timeout_ms <= 0) return;
    double took = ls_mono_ms() - a->begun_ms;
    if (took < a->timeout_ms) return;
    char hint[400];
    snprintf(hint, sizeof hint, "batch %lld's transaction was open %.1f s, longer than the "
             "producer's transaction.timeout.ms (%.0f s), so the broker aborted it and fenced this "
             "member; a batch ends its reading at half that timeout, so the rest of it (its end, "
             "the rows, the commit) took too long: lower max_records_per_trigger, or raise the "
             "Kafka sink's transaction.timeout.ms",
             (long long)a->batch, took / 1000, a->timeout_ms / 1000);
    ls_err_prefix(err, hint);
}

static int is_fatal(const ls_app *a)
{
    char fe[256];
    return rd_kafka_fatal_error(a->p->rk, fe, sizeof fe) != RD_KAFKA_RESP_ERR_NO_ERROR;
}

/* librdkafka made the producer fatal: after a broker loss, typically its
 * transaction timed out at a coordinator that moved and the producer's
 * epoch moved on ("fenced"). A new producer takes the same
 * transactional.id and initialises the transactions again (which ends
 * whatever the old one left open), and the batch is read again as after
 * an abort: 1. At most RENEW_MAX times in a row without a commit: an error
 * that a new producer does not mend ends the run (-1 + err). */
static int renew(ls_app *a, int64_t batch, const char *why, ls_err *err)
{
    a->open = 0;
    a->must_abort = a->broken = 0;
    if (++a->renewals > RENEW_MAX) {
        ls_seterr(err, "app %s: batch %lld: %s (fatal: this member's producer cannot continue, "
                  "and %d new ones did not mend it; another member or a restart takes its "
                  "partitions)", a->id, (long long)batch, why, RENEW_MAX);
        return -1;
    }
    const char *tid = ls_props_get(&a->p->props, "transactional.id");
    ls_log("app %s: batch %lld aborted (%s): this member's producer cannot continue; a new one "
           "takes transactional.id %s, and the batch's records will be read again from the "
           "group's committed offsets", a->id, (long long)batch, why, tid ? tid : "?");
    if (ls_kafka_producer_renew(a->p, err)) return -1;
    rd_kafka_error_t *e = rd_kafka_init_transactions(a->p->rk, TXN_TIMEOUT_MS);
    for (int attempt = 0; e && rd_kafka_error_is_retriable(e) && attempt < 4; attempt++) {
        rd_kafka_error_destroy(e);
        e = rd_kafka_init_transactions(a->p->rk, TXN_TIMEOUT_MS);
    }
    if (e) return fail(a, e, "init transactions (a new producer)", err);
    a->aborted++;
    if (ls_source_rewind(a->src, err)) return -1;
    return 1;
}

/* renew() for a fatal error e (destroyed). */
static int renew_for(ls_app *a, int64_t batch, rd_kafka_error_t *e, ls_err *err)
{
    char why[LS_ERRLEN];
    snprintf(why, sizeof why, "%s", rd_kafka_error_string(e));
    rd_kafka_error_destroy(e);
    return renew(a, batch, why, err);
}

/* An abortable error: the transaction is aborted and the batch read again
 * from the group's committed offsets. */
static int roll_back(ls_app *a, int64_t batch, rd_kafka_error_t *why, const char *reason,
                     ls_err *err)
{
    ls_log("app %s: batch %lld aborted (%s): its records will be read again from the group's "
           "committed offsets", a->id, (long long)batch,
           why ? rd_kafka_error_string(why) : reason);
    if (why) rd_kafka_error_destroy(why);
    rd_kafka_error_t *e = rd_kafka_abort_transaction(a->p->rk, TXN_TIMEOUT_MS);
    /* a coordinator that moved (a broker lost) can take longer than one
     * call's wait: a retriable failure is the same abort, asked again */
    for (int attempt = 0; e && rd_kafka_error_is_retriable(e) && attempt < 4; attempt++) {
        ls_log("app %s: aborting batch %lld: %s (retrying)", a->id, (long long)batch,
               rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
        e = rd_kafka_abort_transaction(a->p->rk, TXN_TIMEOUT_MS);
    }
    a->open = 0;
    a->must_abort = 0;
    if (e && rd_kafka_error_is_fatal(e)) return renew_for(a, batch, e, err);
    if (e) return fail(a, e, "abort transaction", err);
    /* the aborted messages' delivery reports (purged, failed) belong to
     * the transaction that is gone: served now, and forgotten */
    rd_kafka_poll(a->p->rk, 0);
    a->p->failed = 0;
    a->p->last_error[0] = '\0';
    a->aborted++; /* rewinding lets go of the partitions revoked meanwhile */
    if (ls_source_rewind(a->src, err)) return -1;
    return 1;
}

int ls_app_commit(ls_app *a, int64_t batch, ls_err *err)
{
    if (!a->p) { /* no transaction: the positions after the batch, at least once */
        ls_source_commit_group(a->src);
        ls_source_release_revoked(a->src);
        a->committed++;
        return 0;
    }
    if (!a->open) return 0;
    if (a->must_abort && a->broken && is_fatal(a)) return renew(a, batch, a->why, err);
    if (a->must_abort && a->broken) {
        ls_seterr(err, "%s (the producer cannot continue)", a->why);
        return -1;
    }
    if (a->must_abort) return roll_back(a, batch, NULL, a->why, err);
    if (batch == a->test_abort && a->test_abort >= 0) {
        a->test_abort = -1; /* once */
        return roll_back(a, batch, NULL, "LUASTREAM_TEST_ABORT_BATCH", err);
    }
    rd_kafka_topic_partition_list_t *pos = ls_source_positions(a->src);
    if (pos) {
        rd_kafka_consumer_group_metadata_t *md = ls_source_group_metadata(a->src);
        if (!md) {
            rd_kafka_topic_partition_list_destroy(pos);
            ls_seterr(err, "app %s: the consumer has no group metadata", a->id);
            return -1;
        }
        rd_kafka_error_t *e = rd_kafka_send_offsets_to_transaction(a->p->rk, pos, md, TXN_TIMEOUT_MS);
        /* a coordinator that moved (a broker lost) may not answer in time:
         * the same offsets, again; then the batch is aborted and read again */
        for (int attempt = 0; e && rd_kafka_error_is_retriable(e) && !rd_kafka_error_is_fatal(e) &&
                              !rd_kafka_error_txn_requires_abort(e);
             attempt++) {
            if (attempt == 3) {
                rd_kafka_consumer_group_metadata_destroy(md);
                rd_kafka_topic_partition_list_destroy(pos);
                return roll_back(a, batch, e, NULL, err);
            }
            ls_log("app %s: sending the offsets of batch %lld: %s (retrying)", a->id,
                   (long long)batch, rd_kafka_error_string(e));
            rd_kafka_error_destroy(e);
            e = rd_kafka_send_offsets_to_transaction(a->p->rk, pos, md, TXN_TIMEOUT_MS);
        }
        rd_kafka_consumer_group_metadata_destroy(md);
        rd_kafka_topic_partition_list_destroy(pos);
        if (e) {
            if (rd_kafka_error_txn_requires_abort(e)) return roll_back(a, batch, e, NULL, err);
            if (rd_kafka_error_is_fatal(e)) return renew_for(a, batch, e, err);
            char what[64];
            snprintf(what, sizeof what, "sending the offsets of batch %lld", (long long)batch);
            return fail(a, e, what, err);
        }
    }
    for (int attempt = 0;; attempt++) {
        rd_kafka_error_t *e = rd_kafka_commit_transaction(a->p->rk, TXN_TIMEOUT_MS);
        if (!e) break;
        if (rd_kafka_error_txn_requires_abort(e)) return roll_back(a, batch, e, NULL, err);
        if (rd_kafka_error_is_fatal(e)) return renew_for(a, batch, e, err);
        if (rd_kafka_error_is_retriable(e) && attempt < 3) { /* the same commit, again */
            ls_log("app %s: commit of batch %lld: %s (retrying)", a->id, (long long)batch,
                   rd_kafka_error_string(e));
            rd_kafka_error_destroy(e);
            continue;
        }
        char what[64];
        snprintf(what, sizeof what, "commit transaction of batch %lld", (long long)batch);
        return fail(a, e, what, err);
    }
    a->open = 0;
    ls_source_release_revoked(a->src); /* their positions are committed */
    if (a->p->failed) {
        ls_seterr(err, "app %s: %lld messages failed delivery (last: %s)", a->id,
                  (long long)a->p->failed, a->p->last_error);
        return -1;
    }
    a->committed++;
    a->renewals = 0;
    return 0;
}

int ls_app_abort_failed(ls_app *a, int64_t batch, ls_err *err)
{
    if (!a->p || !a->open) return 0;
    rd_kafka_poll(a->p->rk, 0); /* delivery reports not yet counted */
    if (!a->p->failed && !is_fatal(a)) return 0;
    char why[LS_ERRLEN + 64];
    snprintf(why, sizeof why, "%s", err->msg);
    ls_err e2 = { 0 };
    int rc = is_fatal(a) ? renew(a, batch, why, &e2) : roll_back(a, batch, NULL, why, &e2);
    if (rc < 0) {
        ls_seterr(err, "%s; then %s", why, e2.msg);
        return -1;
    }
    return 1;
}

int64_t ls_app_committed(const ls_app *a)
{
    return a->committed;
}

int64_t ls_app_aborted(const ls_app *a)
{
    return a->aborted;
}

void ls_app_free(ls_app *a)
{
    if (!a) return;
    ls_source_on_revoke(a->src, NULL, NULL);
    if (a->open && a->p) {
        rd_kafka_error_t *e = rd_kafka_abort_transaction(a->p->rk, 10000);
        if (e) {
            ls_log("app %s: aborting the open transaction: %s", a->id, rd_kafka_error_string(e));
            rd_kafka_error_destroy(e);
        }
    }
    free(a->id);
    free(a);
}
