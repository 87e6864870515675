/* ls_purge.h - deletes records of an internal topic that no one will read
 * again (Kafka's DeleteRecords), as Kafka Streams purges its repartition
 * topics.
 *
 * Why: a repartition topic's records are read once, by the member that owns
 * the partition, and are done with once that member's transaction has
 * committed its offsets past them. Left to retention they fill the brokers'
 * disks (a partial group per key per batch). After a committed batch the
 * caller hands the offsets it committed; at most every interval_ms one
 * DeleteRecords request moves each partition's log start up to them.
 *
 * Asynchronous on purpose: the request is sent on the producer's handle
 * with a queue of our own, and its answer is collected at the next call, so
 * a slow or absent broker never holds a batch back. One request at a time;
 * a failure is logged once per run of failures and the next interval
 * tries again (nothing depends on a purge for correctness: the records are
 * never read again either way).
 *
 * Owns its queue and the pending request's answer; borrows rk, which must
 * outlive it. */
#ifndef LS_PURGE_H
#define LS_PURGE_H

#include <librdkafka/rdkafka.h>
#include <stdint.h>

typedef struct ls_purge ls_purge;

/* For the job `app` (named in log lines), sending on rk. */
ls_purge *ls_purge_new(const char *app, rd_kafka_t *rk, int interval_ms);
/* Sends the last offsets handed if they have not gone yet (a member
 * stopping purges what it committed last), waits up to wait_ms for the
 * answer, then frees. */
void ls_purge_free(ls_purge *pg, int wait_ms);

/* Offsets committed: records before them may go (upto is copied; entries
 * with a negative offset are skipped). Sends a request when the interval
 * has passed since the last one and none is pending, the first at once;
 * returns 1 when it sent one, else 0. */
int ls_purge_committed(ls_purge *pg, const rd_kafka_topic_partition_list_t *upto);

/* Requests answered without error so far, and the partitions they moved. */
int64_t ls_purge_done(const ls_purge *pg);
int64_t ls_purge_partitions(const ls_purge *pg);

#endif
