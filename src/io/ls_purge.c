/* ls_purge.c - DeleteRecords after committed batches (see ls_purge.h). */
#include "ls_purge.h"

#include <stdlib.h>
#include <string.h>

#include "ls_util.h"

#define PURGE_TIMEOUT_MS 30000

struct ls_purge {
    char *app;
    rd_kafka_t *rk;          /* borrowed */
    rd_kafka_queue_t *q;     /* answers */
    int interval_ms;
    double last_ms;          /* when the last request went (monotonic), 0: never */
    int pending;
    int failing;             /* the last answer was an error: logged once */
    rd_kafka_topic_partition_list_t *upto; /* the latest offsets handed, not yet sent */
    int64_t done, parts;
};

ls_purge *ls_purge_new(const char *app, rd_kafka_t *rk, int interval_ms)
{
    ls_purge *pg = ls_xcalloc(1, sizeof *pg);
    pg->app = ls_xstrdup(app);
    pg->rk = rk;
    pg->q = rd_kafka_queue_new(rk);
    pg->interval_ms = interval_ms;
    return pg;
}

/* The answer's first error, or NULL; partitions moved counted. */
static const char *answer_error(ls_purge *pg, rd_kafka_event_t *ev, char *buf, size_t cap)
{
    if (rd_kafka_event_error(ev)) return rd_kafka_event_error_string(ev);
    const rd_kafka_DeleteRecords_result_t *res = rd_kafka_event_DeleteRecords_result(ev);
    if (!res) return "an answer of another kind";
    const rd_kafka_topic_partition_list_t *l = rd_kafka_DeleteRecords_result_offsets(res);
    for (int i = 0; l && i < l->cnt; i++) {
        if (l->elems[i].err) {
            snprintf(buf, cap, "%s[%d]: %s", l->elems[i].topic, (int)l->elems[i].partition,
                     rd_kafka_err2str(l->elems[i].err));
            return buf;
        }
    }
    pg->parts += l ? l->cnt : 0;
    return NULL;
}

/* Takes the pending answer if it has come within wait_ms. */
static void collect(ls_purge *pg, int wait_ms)
{
    if (!pg->pending) return;
    rd_kafka_event_t *ev = rd_kafka_queue_poll(pg->q, wait_ms);
    if (!ev) return;
    pg->pending = 0;
    char buf[400];
    const char *why = answer_error(pg, ev, buf, sizeof buf);
    if (why) {
        if (!pg->failing)
            ls_log("app %s: purging consumed repartition records: %s (tried again later)",
                   pg->app, why);
        pg->failing = 1;
    } else {
        pg->failing = 0;
        pg->done++;
    }
    rd_kafka_event_destroy(ev);
}

/* Sends pg->upto (taking it). */
static int send_upto(ls_purge *pg)
{
    rd_kafka_topic_partition_list_t *l = pg->upto;
    pg->upto = NULL;
    int sent = 0;
    if (l->cnt) {
        rd_kafka_DeleteRecords_t *d = rd_kafka_DeleteRecords_new(l);
        rd_kafka_AdminOptions_t *o =
            rd_kafka_AdminOptions_new(pg->rk, RD_KAFKA_ADMIN_OP_DELETERECORDS);
        char errstr[256];
        if (d && o &&
            rd_kafka_AdminOptions_set_operation_timeout(o, PURGE_TIMEOUT_MS, errstr, sizeof errstr) ==
                RD_KAFKA_RESP_ERR_NO_ERROR) {
            rd_kafka_DeleteRecords(pg->rk, &d, 1, o, pg->q);
            pg->pending = sent = 1;
            pg->last_ms = ls_mono_ms();
        } else if (!pg->failing) {
            ls_log("app %s: purging consumed repartition records: cannot make the request",
                   pg->app);
            pg->failing = 1;
        }
        if (o) rd_kafka_AdminOptions_destroy(o);
        if (d) rd_kafka_DeleteRecords_destroy(d);
    }
    rd_kafka_topic_partition_list_destroy(l);
    return sent;
}

int ls_purge_committed(ls_purge *pg, const rd_kafka_topic_partition_list_t *upto)
{
    collect(pg, 0);
    if (!upto) return 0;
    if (pg->upto) rd_kafka_topic_partition_list_destroy(pg->upto);
    pg->upto = rd_kafka_topic_partition_list_new(upto->cnt > 0 ? upto->cnt : 1);
    for (int i = 0; i < upto->cnt; i++)
        if (upto->elems[i].offset >= 0)
            rd_kafka_topic_partition_list_add(pg->upto, upto->elems[i].topic,
                                              upto->elems[i].partition)->offset = upto->elems[i].offset;
    if (pg->pending || (pg->last_ms > 0 && ls_mono_ms() - pg->last_ms < pg->interval_ms)) return 0;
    return send_upto(pg);
}

int64_t ls_purge_done(const ls_purge *pg)
{
    return pg->done;
}

int64_t ls_purge_partitions(const ls_purge *pg)
{
    return pg->parts;
}

void ls_purge_free(ls_purge *pg, int wait_ms)
{
    if (!pg) return;
    collect(pg, wait_ms);
    if (!pg->pending && pg->upto && send_upto(pg)) collect(pg, wait_ms); /* the last offsets too */
    if (pg->upto) rd_kafka_topic_partition_list_destroy(pg->upto);
    rd_kafka_queue_destroy(pg->q); /* an answer still pending goes with it */
    free(pg->app);
    free(pg);
}
