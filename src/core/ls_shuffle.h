/* ls_shuffle.h - the Kafka side of aggregations run by a job's members
 * (--app; the query side is ls_query_stage.h; DESIGN.md §2).
 *
 * Topics, per aggregating query Q of app A (created at start with Q's
 * `partitions` count R, replication factor min(3, brokers); an existing
 * one with another partition count is an error, never re-created):
 *   A-Q-repartition  stage 1's partial groups, keyed by group key, in the
 *                    partition of the state partition the key hashes to;
 *                    and watermark markers (no key);
 *   A-Q-changelog    compacted: each state partition's groups after every
 *                    batch (key = group key; a tombstone when evicted), its
 *                    watermark stamps (key "\0wm"), and with a file sink the
 *                    committed length of its part file in each directory
 *                    (key "\0fl" + the directory's id; ls_sink_parts.h).
 * The member's consumer (the group A) subscribes to the input topic and to
 * every repartition topic, so the group spreads both: the member that owns
 * repartition partition p owns state partition p.
 *
 * One batch = one transaction of the member's producer (ls_app.h): the
 * partial groups and markers it sends, the changelog records of the state
 * partitions it changed (with the lengths of the part files it appended
 * to, written and synced before), the sinks' messages, and the offsets it consumed
 * (input and repartition partitions). A member killed at any moment leaves
 * either all of it or none of it.
 *
 * A state partition that comes to a member is rebuilt from its changelog
 * (read_committed, to its end) before the member reads its repartition
 * partition, starting from a snapshot of it at changelog offset X when the
 * member's state cache has a valid one (then from X only: replaying the
 * records after X over the groups as they were at X gives what replaying
 * them all would, since every record is a group's whole value), and its
 * part file (a file sink's) cut back to its committed length; one that
 * leaves is dropped once the batch that gave it up has
 * committed. After an aborted batch every owned partition is rebuilt.
 * A broker lost during a restore is waited out: a changelog partition whose
 * leader is moving is asked again (looked up afresh) for up to 60 s, and
 * errors librdkafka retries by itself are logged, not fatal.
 *
 * A repartition record is read once: after a committed batch the records
 * before the member's committed offsets are deleted (DeleteRecords, as
 * Kafka Streams purges; ls_purge.h), so the topic does not grow to its
 * retention.
 *
 * The watermark (issue 12's job-wide rule): at the end of each batch a
 * member stamps every input partition it owns with the greatest event time
 * it has read so far, and sends the stamps as a marker to every
 * repartition partition. Stage 2 keeps the latest stamp of each input
 * partition; the job's event-time maximum is the least of them (none until
 * every input partition has one), and the watermark follows from it as
 * Spark's does from its maximum. One member alone stamps every partition
 * with its own maximum: Spark's rule (the maximum over all partitions).
 * Several members: the least of their maxima, as Spark's
 * multipleWatermarkPolicy "min" does across streams, so that a member
 * running ahead cannot make another's records late.
 *
 * LUASTREAM_DEBUG_SHUFFLE=1 in the environment logs every marker sent and
 * every partial group found late (its repartition offset, window end and
 * the partition's threshold): how a late drop is traced to its cause. */
#ifndef LS_SHUFFLE_H
#define LS_SHUFFLE_H

#include "ls_kafka.h"
#include "ls_query.h"
#include "ls_record.h"
#include "ls_source.h"

typedef struct ls_shuffle ls_shuffle;

/* For app id app, reading src (the member's consumer, not yet open) and
 * writing with the transactional producer p (borrowed). */
ls_shuffle *ls_shuffle_new(const char *app, ls_source *src, ls_kafka_producer *p);
void ls_shuffle_free(ls_shuffle *sh);

/* Stages query q (ls_query_stage_enable) and names its topics. */
void ls_shuffle_add(ls_shuffle *sh, ls_query *q);
size_t ls_shuffle_count(const ls_shuffle *sh);

/* --standbys n (before prepare): warm copies of n other members' state
 * partitions (ls_standby.h), taken over when a partition comes here. */
void ls_shuffle_set_standbys(ls_shuffle *sh, int n);
/* The checkpoint directory as a cache of state partitions
 * (ls_state_cache.h): a partition that comes to the member starts from its
 * snapshot there, when there is a valid one, and reads its changelog from
 * the snapshot's offset only. */
void ls_shuffle_set_cache(ls_shuffle *sh, const char *dir);
/* After a batch committed: every owned state partition whose changelog
 * moved is saved to the cache, at most every few seconds unless force
 * (the run's end). A failure is logged once, never fatal. */
void ls_shuffle_save_cache(ls_shuffle *sh, int force);

/* Before the source opens: creates (or checks) every staged query's topics
 * and subscribes the source to the repartition topics. -1 + err. */
int ls_shuffle_prepare(ls_shuffle *sh, ls_err *err);

/* Before a batch: rebuilds the state partitions newly owned, drops those
 * given up. -1 + err. */
int ls_shuffle_sync(ls_shuffle *sh, ls_err *err);

/* Between triggers with nothing to do: the standby copies read on. */
void ls_shuffle_idle(ls_shuffle *sh);

/* The staged query whose repartition topic is topic, as an index, or -1. */
int ls_shuffle_topic(const ls_shuffle *sh, const char *topic);
/* A record read from query index qi's repartition topic: merged (stage 2).
 * -1 + err when it does not parse. */
int ls_shuffle_take(ls_shuffle *sh, int qi, const ls_record *r, ls_err *err);

/* At the end of the batch, before the queries end it: stage 1's partial
 * groups and the watermark markers go out; the job's event-time maximum is
 * set; the groups the batch will evict are tombstoned. Queries not in
 * batch `batch` (no work for them) are left alone. */
int ls_shuffle_end_stage1(ls_shuffle *sh, int64_t batch, ls_err *err);
/* After the queries ended the batch: the groups they updated and the
 * watermark stamps go to the changelogs. */
int ls_shuffle_end_stage2(ls_shuffle *sh, int64_t batch, ls_err *err);
/* The batch's transaction aborted: state is rebuilt before the next. */
void ls_shuffle_rollback(ls_shuffle *sh);
/* The batch's transaction committed: the repartition records it read may
 * be deleted (ls_purge.h: at most every 10 s, and once more on stopping). */
void ls_shuffle_committed(ls_shuffle *sh);

/* Progress: state partitions owned, restored so far, and records read
 * restoring them. */
typedef struct ls_shuffle_stats {
    int owned;
    int64_t restores;
    int64_t restored_records;   /* changelog records read (not those of snapshots) */
    int64_t restored_from_cache; /* restores that started from a snapshot */
    int64_t restored_from_standby; /* restores that started from a standby copy */
    int64_t standby, standby_lag; /* partitions held as standby, changelog records behind */
    int64_t cache_saves;        /* snapshots written */
    double restore_ms;
    int64_t purges;          /* DeleteRecords requests on the repartition topics answered */
} ls_shuffle_stats;
void ls_shuffle_stats_get(const ls_shuffle *sh, ls_shuffle_stats *st);

#endif
