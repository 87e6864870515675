/* ls_sink_parts.h - the JSON-lines sink of a job's member (--app): an
 * aggregation's rows by state partition, DIR/<query>/part-<p>.jsonl.
 *
 * Whichever member owns state partition p appends p's rows to
 * part-<p>.jsonl, so the directory (one shared by every member) holds the
 * job's output wherever partitions move: a key lives in one partition, and
 * the last line for a key in its part file is its current row.
 *
 * Files are not in the job's Kafka transaction, so each part's committed
 * length is (ls_shuffle.c): a batch's rows are written and fsync'ed before
 * its transaction commits, and the transaction holds, in the partition's
 * changelog, the file's length after them (key "\0fl" + the directory's
 * id). A member that comes to own p cuts part-<p>.jsonl back to the length
 * recorded for its directory (ls_sink_parts_own): the rows of a batch that
 * did not commit (a member killed, a transaction aborted) are dropped, as
 * a checkpointed run cuts its files back (ls_checkpoint.h).
 *
 * The directory's id: DIR/<query>/_id, made by the first member that uses
 * the directory (16 hex digits and the app id). Members sharing a
 * directory share its id; a directory per machine has its own, and its
 * own committed lengths. A directory holding another app's output is
 * refused.
 *
 * Before appending, the sink checks that the file is as long as it left
 * it: a file another process wrote meanwhile (a member the group has
 * moved on from, still running) is an error, never interleaved rows. */
#ifndef LS_SINK_PARTS_H
#define LS_SINK_PARTS_H

#include "ls_sink.h"

#define LS_PARTS_ID_LEN 16

/* DIR/<query>/ (created) for app id app. The rows a query writes go to
 * the part its ls_sink.part names. NULL + err. */
ls_sink *ls_sink_parts_new(const char *dir, const char *query, const char *app, ls_err *err);
int ls_sink_is_parts(const ls_sink *s);
/* The directory's id: LS_PARTS_ID_LEN hex digits. */
const char *ls_sink_parts_dir_id(const ls_sink *s);
/* The folder, DIR/<query>. */
const char *ls_sink_parts_folder(const ls_sink *s);

/* This member owns partition p from now on: part-<p>.jsonl is cut back to
 * len, the length committed for this directory (0 when none was), and
 * what was cut is logged. A file shorter than len (rows written but lost,
 * e.g. a machine that stopped before they reached its disk) is logged
 * and appended to as it is. Returns the bytes cut, or -1 + err. */
int64_t ls_sink_parts_own(ls_sink *s, int p, int64_t len, ls_err *err);
/* Partition p is no longer this member's: its file is closed. */
void ls_sink_parts_drop(ls_sink *s, int p);
/* After a batch's close_batch: 1 and part p's length when rows were
 * written to p since the last call (the flag is cleared), 0 otherwise. */
int ls_sink_parts_written(ls_sink *s, int p, int64_t *len);

#endif
