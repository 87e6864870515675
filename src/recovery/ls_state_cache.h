/* ls_state_cache.h - a job member's local cache of state partitions (issue
 * 12): with --app, the checkpoint directory is not where a member resumes
 * (its consumer group's committed offsets are) but a cache that makes a
 * restart on the same machine cheap. A state partition's snapshot holds its
 * groups (and watermark stamps) as the changelog records that would rebuild
 * it, and the changelog offset they stand for: a member that gains the
 * partition loads the snapshot and reads the changelog from that offset only.
 *
 *   DIR/state-cache/<query>.<part>   one snapshot per state partition
 *
 * The bytes (native byte order, as ls_acc_codec.h):
 *   "LSSC", u32 version, u32 length + app id, u32 length + query name,
 *   16 bytes of the query's signature (ls_checkpoint_signature), u32 state
 *   partitions, u32 partition, i64 changelog offset, i64 saved at (ms since
 *   the epoch), then per record u32 key length + key, u32 value length +
 *   value, then u64 record count and u64 checksum (ls_hash of every byte
 *   before it).
 * A snapshot is written with the checkpoint's crash protocol (temporary
 * file, fsync, rename), so a kill leaves the old one or the new one; one
 * that does not parse whole, or was made for another app, query,
 * declaration or partition count, is refused with the reason, and the
 * caller reads the changelog from its start: the cache can make a restore
 * faster, never its result different. */
#ifndef LS_STATE_CACHE_H
#define LS_STATE_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "ls_util.h"

#define LS_SNAP_VERSION 1

/* What a snapshot is of. */
typedef struct ls_snap_id {
    const char *app, *query;
    const char *signature; /* 16 hex digits */
    int nparts, part;
} ls_snap_id;

/* Builds a snapshot in memory: begin, one add per record, finish. */
typedef struct ls_snap_writer {
    ls_buf *b;       /* borrowed */
    uint64_t count;
} ls_snap_writer;
void ls_snap_begin(ls_snap_writer *w, ls_buf *b, const ls_snap_id *id, int64_t offset,
                   int64_t saved_ms);
void ls_snap_add(ls_snap_writer *w, const void *key, size_t klen, const void *val, size_t vlen);
void ls_snap_finish(ls_snap_writer *w);

/* A parsed snapshot: its offset and time, and its records to walk. */
typedef struct ls_snap_view {
    int64_t offset, saved_ms;
    uint64_t count;
    const unsigned char *p, *end; /* the records not walked yet */
} ls_snap_view;
/* Checks every byte of data (length len) and that it is a snapshot of want:
 * 0 and v set, or -1 + err saying why not. */
int ls_snap_parse(const void *data, size_t len, const ls_snap_id *want, ls_snap_view *v,
                  ls_err *err);
/* The next record of a parsed snapshot: 1, or 0 when none is left. */
int ls_snap_next(ls_snap_view *v, const void **key, size_t *klen, const void **val,
                 size_t *vlen);

/* DIR/state-cache/<query>.<part> into out. */
void ls_snap_path(ls_buf *out, const char *dir, const char *query, int part);
/* Writes b as the snapshot of (query, part) under dir (creating
 * DIR/state-cache). -1 + err. */
int ls_snap_save(const char *dir, const char *query, int part, const ls_buf *b, ls_err *err);
/* Reads the snapshot of (query, part) into b: 0 read, 1 there is none,
 * -1 + err (it exists but cannot be read). */
int ls_snap_load(const char *dir, const char *query, int part, ls_buf *b, ls_err *err);

#endif
