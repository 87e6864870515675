/* ls_acc_codec.h - the bytes of one accumulator, shared by the two places
 * that write state out: snapshots (ls_state_save/load, checkpoints) and
 * the groups a job's members send through Kafka (ls_group_codec.h:
 * repartition and changelog topics). One encoding, so that a value means
 * the same in a file and on a topic.
 *
 * An accumulator is its count (8 bytes), its kind (1 byte), then either 8
 * value bytes, a string's uint32 length and bytes, or a sketch's uint64
 * length and bytes. Native byte order: every member of a job runs on the
 * same kind of machine (stated in the README). */
#ifndef LS_ACC_CODEC_H
#define LS_ACC_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "ls_agg.h"
#include "ls_util.h"

/* Writes a's bytes through put(ctx, bytes, n). */
void ls_acc_encode(const ls_acc *a, void (*put)(void *ctx, const void *p, size_t n), void *ctx);

/* Reads one accumulator of the given snapshot version (1: count, value,
 * kind; 2: strings; 3: sketches) from *p (at most end), into a (which was
 * ls_acc_init'ed; on failure it holds nothing to release). Advances *p.
 * -1 when the bytes do not parse. */
int ls_acc_decode(const unsigned char **p, const unsigned char *end, uint32_t version, ls_acc *a);

/* A group's value on a job's topics (its key is the message key): a
 * version byte (1), its window end, then its nagg accumulators. */
#define LS_GROUP_CODEC_VERSION 1
void ls_group_encode(int64_t window_end, const ls_acc *acc, int nagg, ls_buf *out);
/* Parses one into *window_end and acc (nagg initialised accumulators,
 * which take the blobs). -1 when the bytes do not parse (acc then holds
 * nothing to release). */
int ls_group_decode(const void *p, size_t n, int nagg, int64_t *window_end, ls_acc *acc);

#endif
