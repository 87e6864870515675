/* ls_standby.h - a job member's standby copies (--standbys N, as Kafka
 * Streams' num.standby.replicas): warm copies of state partitions that
 * other members own, kept by tailing their changelogs (read_committed), so
 * that when one comes to this member its restore reads only what the copy
 * has not seen (ls_shuffle.h).
 *
 * Which partitions: every member derives it alike from the group's
 * assignment (the Admin API's DescribeConsumerGroups, as `luastream status`
 * reads it), described again after each rebalance and every few seconds,
 * used only when the group is Stable (mid-rebalance, a member's assignment
 * can show empty):
 * the members sorted by member id, the standbys of a state partition owned
 * by member i are the next N members in that order (wrapping, never i
 * itself). A copy is the changelog compacted in memory (key -> the latest
 * value's bytes, watermark stamps included) and the offset up to which it
 * has read everything; it is handed over as records in the changelog's own
 * form, so restoring from it is restoring from any state at offset X.
 *
 * Nothing here blocks a batch for long: descriptions are asked for
 * asynchronously, and each tick reads what has arrived, within a budget. */
#ifndef LS_STANDBY_H
#define LS_STANDBY_H

#include <librdkafka/rdkafka.h>
#include <stdint.h>

#include "ls_util.h"

typedef struct ls_standby ls_standby;

/* For app id app (its consumer group), n standbys per partition, reading
 * with rk (a consumer outside the group, read_committed, partition EOF
 * reported, auto.offset.reset "error"; the standby owns it). */
ls_standby *ls_standby_new(const char *app, int n, rd_kafka_t *rk);
void ls_standby_free(ls_standby *sb);

/* A staged query's topics: its changelog (what copies are of) and its
 * repartition topic (whose assignment says who owns what). */
void ls_standby_add(ls_standby *sb, const char *changelog, const char *repart, int nparts);

/* Is state partition part of topic index ti owned by this member? */
typedef int (*ls_standby_owned_fn)(void *ctx, int ti, int part);

/* Between batches: refreshes the set of copies when the group's
 * description has come (asked for after a rebalance, i.e. when rebalances
 * differs from the last call, or every few seconds), and reads what has
 * arrived on their changelogs. member_id: this member's (NULL before it
 * joined: no copies). Errors are logged, never fatal (a copy only saves
 * time). */
void ls_standby_tick(ls_standby *sb, const char *member_id, int64_t rebalances,
                     ls_standby_owned_fn owned, void *ctx);

/* Hands the copy of partition part of changelog topic ti over, if there is
 * one whose offset X is within [lo, hi] (the changelog's bounds now): each
 * of its records to fn (key, value; no tombstones), then *from = X; the
 * copy is dropped either way. 1 handed over, 0 none (or not usable, logged),
 * -1 when fn failed (err set: the caller drops what fn built). */
typedef int (*ls_standby_record_fn)(void *ctx, const void *key, size_t klen, const void *val,
                                    size_t vlen, ls_err *err);
int ls_standby_take(ls_standby *sb, int ti, int part, int64_t lo, int64_t hi,
                    ls_standby_record_fn fn, void *ctx, int64_t *from, ls_err *err);

/* Copies held, and the changelog records they are behind (summed, from the
 * reader's last fetch). */
void ls_standby_stats(const ls_standby *sb, int64_t *held, int64_t *lag);

#endif
