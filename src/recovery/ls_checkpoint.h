/* ls_checkpoint.h - recovery: a checkpoint directory like Spark's.
 *
 *   DIR/metadata        the queries (name + signature of their declaration)
 *   DIR/offsets/N       written after batch N was read and processed, before
 *                       any sink wrote it: the end offsets of the batch and
 *                       the lengths of the output files before its rows
 *   DIR/state/Q/N       snapshot of query Q's aggregation state after batch N
 *   DIR/commits/N       written after the sinks wrote batch N and its state
 *                       snapshots are durable: end offsets, watermarks and
 *                       output-file lengths
 *
 * Every file is written to a temporary name, fsync'ed and renamed, so a
 * kill -9 at any moment leaves either the old or the new file. Restart:
 * load the snapshots of the last commit C, cut the output files back to the
 * lengths recorded there (dropping a half-written batch), resume reading at
 * C's offsets, and if offsets/C+1 exists, run batch C+1 again over exactly
 * the same offsets before reading on. The checkpoint is the source of
 * truth; consumer-group offsets are committed after each batch only so
 * that Kafka tools show the lag.
 *
 *   DIR/lock            flock'ed by the run using DIR, holding its pid: a
 *                       second run on DIR is refused at start */
#ifndef LS_CHECKPOINT_H
#define LS_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>
#include "ls_util.h"

struct ls_plan;

/* Opaque: the directory, its lock, the batch this run starts at and the
 * replay entry, the output files' lengths. */
typedef struct ls_checkpoint ls_checkpoint;

/* The first batch this run executes (0 on a fresh directory). */
int64_t ls_checkpoint_next_batch(const ls_checkpoint *c);
/* The last batch recorded in the offsets log was not committed: the next
 * batch replays its offsets exactly (1), or not (0). */
int ls_checkpoint_replaying(const ls_checkpoint *c);

/* Creates dir if needed and takes its lock: the descriptor holding it, or
 * -1 + err (another run has it: err names its pid). Taken before anything
 * of the run touches the disk (its sinks' files), so a refused second run
 * leaves no trace. */
int ls_checkpoint_lock(const char *dir, ls_err *err);
/* Opens or creates dir for engine e (compiled, sources not yet open),
 * given its lock (ls_checkpoint_lock; the checkpoint owns it from here,
 * also when opening fails): checks compatibility, restores state and
 * watermarks, sets the sources' resume offsets and truncates output files.
 * NULL + err naming the file. */
ls_checkpoint *ls_checkpoint_open(const char *dir, int lock_fd, struct ls_plan *pl, ls_err *err);
/* The plan's sinks and dead-letter output (new ones after a reload): their
 * lengths are what the next batch's entry records. (The engine makes them
 * sync at each batch's end when it checkpoints.) */
void ls_checkpoint_adopt(ls_checkpoint *cp, struct ls_plan *pl);
/* After the sources are open: limits the first batch when replaying. */
void ls_checkpoint_apply_replay(ls_checkpoint *cp, struct ls_plan *pl);
/* The write-ahead entry of batch N (before the sinks write). */
int ls_checkpoint_wal(ls_checkpoint *cp, struct ls_plan *pl, int64_t batch, ls_err *err);
/* Snapshots and the commit record of batch N (after the sinks wrote). */
int ls_checkpoint_commit(ls_checkpoint *cp, struct ls_plan *pl, int64_t batch, ls_err *err);
void ls_checkpoint_free(ls_checkpoint *cp);

/* The crash protocol of every file here, for other files of the directory
 * (ls_state_cache.h): data written to path.tmp, fsync'ed, renamed over
 * path, the directory fsync'ed. -1 + err naming the path. */
int ls_checkpoint_write_file(const char *path, const char *data, size_t len, ls_err *err);
/* A signature of what query q's state depends on (grouping, aggregates and
 * their parameters, mode, topics) as 16 hex digits: state built under
 * another declaration is never loaded. */
struct ls_query;
void ls_checkpoint_signature(const struct ls_query *q, char out[17]);

#endif
