/* ls_partitions.h - a set of Kafka partitions as short text for people:
 * "police.calls[0-3,7], other[1]" (topics by name, each topic's partitions
 * as ranges). Shared by the progress line of a member of a job and by
 * `luastream status`, so both write a member's partitions the same way.
 * Pure: no Kafka client. */
#ifndef LS_PARTITIONS_H
#define LS_PARTITIONS_H

#include <stddef.h>
#include <stdint.h>

#include "ls_util.h"

/* Appends the n partitions (topics[i], partitions[i]) to out, in any order
 * given, duplicates once: topics sorted by name, each followed by its
 * partitions in brackets, consecutive ones as a range ("t[0-3,7]"). A
 * topic name is written as it is (Kafka allows only a-zA-Z0-9._-); NULL
 * topics count as "?". Appends nothing when n is 0. */
void ls_partitions_text(ls_buf *out, size_t n, const char *const *topics,
                        const int32_t *partitions);

#endif
