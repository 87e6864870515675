/* ls_outbuf.h - a batch's per-record output rows held back by a worker.
 *
 * A per-record query on the engine thread writes each row to its sink as
 * it goes (records are read in a fixed order). With --parallelism, worker
 * threads process chunks side by side: each keeps its rows here, with the
 * record they came from, and at the end of the batch the engine writes
 * every worker's rows to the sink in the order the batch read their records
 * (each record carries its place), so the output is the same bytes as with
 * one thread. The buffer owns copies of
 * everything (one arena, entries as offsets into it). */
#ifndef LS_OUTBUF_H
#define LS_OUTBUF_H

#include <stddef.h>
#include <stdint.h>

#include "ls_sink.h"

typedef struct ls_outbuf_entry {
    uint64_t seq;            /* the record's place in the batch's reading order */
    uint32_t sub;            /* rows of one record (a map's list), in order */
    size_t at;               /* the entry's bytes in the arena */
    size_t json_len, key_len, topic_len;
    int has_key, has_topic;
    size_t nheaders;
} ls_outbuf_entry;

typedef struct ls_outbuf {
    size_t n, cap;
    ls_outbuf_entry *entries;
    ls_buf arena;
} ls_outbuf;

void ls_outbuf_init(ls_outbuf *b);
void ls_outbuf_free(ls_outbuf *b);
void ls_outbuf_clear(ls_outbuf *b);
/* Keeps a copy of o, the sub-th row of the seq-th record of the batch. */
void ls_outbuf_add(ls_outbuf *b, uint64_t seq, uint32_t sub, const ls_out *o);

/* Writes the rows of n buffers to sink in (seq, sub) order and clears
 * them. -1 + err when the sink failed. */
int ls_outbuf_write(ls_outbuf *const *bufs, size_t n, ls_sink *sink, ls_err *err);

#endif
