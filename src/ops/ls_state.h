/* ls_state.h - the partitioned aggregation state of one query.
 *
 * State is split into `nparts` hash partitions (Spark's shuffle partitions):
 * a group lives in partition hash(key) % nparts.  Partitions are the unit
 * that later work checkpoints and moves between consumer-group members; a
 * worker thread will own a slice of them.  Each group is one piece of its
 * partition's slab (ls_slab.h): header, `nagg` inline accumulators, then
 * the encoded key bytes; what an accumulator owns apart (a string min/max,
 * a sketch: its blob) is freed with its group and counted in the state's
 * memory.
 *
 * window_end is the event time that decides when a group is evicted and
 * when it is late: its window's end, or, for a query grouping by the
 * event-time column itself, that event time (LS_NO_TIME: never). */
#ifndef LS_STATE_H
#define LS_STATE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ls_agg.h"
#include "ls_hmap.h"
#include "ls_slab.h"

typedef struct ls_group {
    int64_t window_end;    /* LS_NO_TIME when the key has no window */
    int64_t updated_batch; /* last batch that folded a row into it */
    uint32_t key_len;
    uint32_t nagg;         /* accumulators before the key bytes */
    ls_acc acc[];          /* nagg accumulators, then key_len key bytes */
} ls_group;

/* Opaque: its partitions, their totals (groups, bytes), whether some
 * accumulator owns memory apart. */
typedef struct ls_state ls_state;

static inline char *ls_group_key(const ls_group *g, int nagg)
{
    return (char *)(g->acc + nagg);
}

/* The partition of a key: from the hash's high bits, because the index
 * inside a partition uses the low ones (which would otherwise be equal for
 * every key of a partition and cluster its probes). */
int ls_state_partition_of(const ls_state *s, uint64_t hash);

int ls_state_nparts(const ls_state *s);
int ls_state_nagg(const ls_state *s);      /* accumulators per group */
size_t ls_state_groups(const ls_state *s); /* across partitions */
size_t ls_state_group_bytes(const ls_state *s);
/* Partition p's groups, to walk with LS_HMAP_FOREACH (or change in place:
 * an accumulator's value, never a key). */
ls_hmap *ls_state_part(const ls_state *s, int p);
/* Partition p's groups in memory order (creation order, freed places
 * reused): sequential reads, where LS_HMAP_FOREACH over the index jumps
 * through memory, a cache miss per group in a large state. No group may be
 * added or removed while walking.
 *   ls_state_iter it; ls_state_iter_init(&it, s, p);
 *   for (ls_group *g; (g = ls_state_iter_next(&it)) != NULL;) ... */
typedef struct ls_state_iter {
    const ls_state *s;
    ls_slab_iter it;
} ls_state_iter;
void ls_state_iter_init(ls_state_iter *it, const ls_state *s, int p);
ls_group *ls_state_iter_next(ls_state_iter *it);
/* The group of key, or NULL. */
ls_group *ls_state_find(const ls_state *s, const char *key, size_t len, uint64_t hash);
/* Some accumulator may own a blob (a string min/max, a sketch): memory is
 * then counted by a walk. Set by the query that declares such aggregates. */
void ls_state_set_owns_blobs(ls_state *s);
int ls_state_owns_blobs(const ls_state *s);

ls_state *ls_state_new(int nparts, int nagg);
void ls_state_free(ls_state *s);

/* Starts loading the index slot where the key of this hash is looked up
 * first (a caller with several keys at hand prefetches them all, then
 * upserts: their cache misses overlap). */
void ls_state_prefetch(const ls_state *s, uint64_t hash);

/* Finds or creates the group for key; *created tells which. */
ls_group *ls_state_upsert(ls_state *s, const char *key, size_t len, uint64_t hash,
                          int64_t window_end, int *created);

/* Drops every group whose window ended at or before watermark; returns the
 * number dropped. Groups without a window are never evicted. */
size_t ls_state_evict(ls_state *s, int64_t watermark);

/* Folds partition `part` of src (a worker's partial state) into dst,
 * marking the groups it touches as updated in batch_id. Touches only that
 * partition of dst, so partitions can be merged in parallel; returns the
 * groups and bytes dst gained and how many groups became updated, for
 * ls_state_add_merged once all partitions are done. */
typedef struct ls_merge_result {
    size_t groups_added;
    size_t bytes_added;
    int64_t rows_updated;
} ls_merge_result;
void ls_state_merge_part(ls_state *dst, const ls_state *src, int part, const ls_agg_spec *aggs,
                         int64_t batch_id, ls_merge_result *r);
/* After every partition was merged (on one thread): adds what the merges
 * gained (r's groups and bytes) to s's totals. */
void ls_state_add_merged(ls_state *s, const ls_merge_result *r);
/* Bytes a group with a key of key_len bytes costs, as counted in
 * group_bytes: its size as its slab takes it (16-byte granules), so
 * memoryUsedBytes is honest. (Places freed by eviction wait in the slab for
 * groups of their size, as freed memory waited in malloc's lists before:
 * not counted.) */
size_t ls_state_group_cost(const ls_state *s, size_t key_len);

/* End of batch batch_id: every accumulator of a group updated in it whose
 * function needs it is sealed (ls_acc_seal: a percentile digest takes in
 * the batch's values, as Spark's state store saves it). Nothing to do, and
 * no walk, when no aggregate needs it. */
void ls_state_seal(ls_state *s, const ls_agg_spec *aggs, int64_t batch_id);

/* Frees every group (a worker's partial state after its merge). */
void ls_state_clear(ls_state *s);

/* ---- state partitions that move between the members of a job (--app) ----
 * A member owns some of the partitions; one that moves away is cleared,
 * one that comes is rebuilt from its changelog (ls_shuffle.h). */

/* Frees every group of partition p. */
void ls_state_clear_part(ls_state *s, int p);
/* Key's group (created when missing, with window_end) gets the nagg
 * accumulators of acc: merged into its own (ls_acc_merge with aggs' functions;
 * a group just created takes them as they are), or, when aggs is NULL, in place
 * of its own (and its window_end set). acc's blobs are taken or released:
 * acc is left initialised. */
ls_group *ls_state_put(ls_state *s, const char *key, size_t len, uint64_t hash,
                       int64_t window_end, ls_acc *acc, const ls_agg_spec *aggs, int *created);
/* A group whose updated_batch is LS_GROUP_DEAD is removed by the next
 * ls_state_sweep_part of its partition (a changelog's tombstone while the
 * partition is restored: one sweep at the end, not a walk per tombstone). */
#define LS_GROUP_DEAD INT64_MIN
/* Removes partition p's dead groups; returns how many. */
size_t ls_state_sweep_part(ls_state *s, int p);

/* Snapshots (checkpoints). The format: "LSST", version, nagg, total length,
 * then each group (window end, last batch updated, key length,
 * accumulators, key bytes; an accumulator is its count, its kind and
 * either 8 value bytes, a string's uint32 length and bytes, or a sketch's
 * uint64 length and bytes), then
 * a count and a 64-bit checksum of everything but the length. f must be
 * seekable (the length is written last). Loading re-hashes every
 * key, so a snapshot can be loaded with another number of partitions. */
int ls_state_save(const ls_state *s, FILE *f);
/* Loads into an empty state with the same nagg. -1 + err (naming path)
 * for a truncated, corrupt or incompatible snapshot. */
int ls_state_load(ls_state *s, FILE *f, const char *path, ls_err *err);

/* Memory held by the state: groups plus hash indexes. */
size_t ls_state_memory(const ls_state *s);

#endif
