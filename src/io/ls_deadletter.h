/* ls_deadletter.h - the dead-letter output.
 *
 * Any input the engine cannot process (invalid JSON, not an object, too
 * large, invalid UTF-8, a transform that raised, a bad event time) is
 * written here as one JSON object with where it came from and why:
 *   {"topic","partition","offset","timestamp","query","error",
 *    "value" | "value_base64"}
 * (a file source's record has "file" and "line" instead of the first four)
 * "value" holds the payload when it is valid UTF-8, otherwise
 * "value_base64" holds it encoded.  Nothing is dropped silently.
 *
 * Entries of a batch are kept until ls_deadletter_flush and written in
 * the order the batch read them (seq), so the
 * output is the same from run to run whatever worker thread found them. */
#ifndef LS_DEADLETTER_H
#define LS_DEADLETTER_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ls_kafka.h"
#include "ls_record.h"


typedef struct ls_dl_entry ls_dl_entry;

typedef struct ls_deadletter {
    FILE *f;                 /* file or stderr */
    int owns_f;
    char *path;
    char *mem;               /* ls_deadletter_memory: open_memstream's buffer */
    size_t mem_len;
    ls_kafka_producer *kp;   /* or a Kafka topic (producer borrowed) */
    char *topic;
    int64_t count;
    pthread_mutex_t lock;    /* worker threads write here too */
    int sync;                /* fsync on flush (set when checkpointing) */
    size_t npending, pending_cap;
    ls_dl_entry *pending;    /* this batch's entries, written at flush */
} ls_deadletter;

/* Kinds: stderr (prefix "dead-letter: "), a JSON-lines file, a Kafka topic. */
ls_deadletter *ls_deadletter_stderr(void);
ls_deadletter *ls_deadletter_file(const char *path, ls_err *err);
ls_deadletter *ls_deadletter_kafka(ls_kafka_producer *kp, const char *topic);
/* In memory (`luastream test`): the entries flushed so far, as JSON lines,
 * are ls_deadletter_text's. */
ls_deadletter *ls_deadletter_memory(void);
const char *ls_deadletter_text(ls_deadletter *d, size_t *len);
void ls_deadletter_free(ls_deadletter *d);
/* Checkpointed runs: the output syncs (fsync) on each flush. */
void ls_deadletter_sync_each_flush(ls_deadletter *d);

/* Formats the entry (exposed for tests) into out. */
void ls_deadletter_format(const ls_origin *o, const char *query, const char *error,
                          const char *payload, size_t n, ls_buf *out);
/* Queues one entry for the batch's flush. Returns -1 with err if the
 * output failed. */
int ls_deadletter_write(ls_deadletter *d, const ls_origin *o, const char *query,
                        const char *error, const char *payload, size_t n, ls_err *err);
/* ls_deadletter_write as an ls_reject's fn (ctx: the ls_deadletter); ls_reject_to(dl) makes
 * the ls_reject. */
int ls_deadletter_reject(void *dl, const ls_origin *o, const char *query, const char *error,
                         const char *payload, size_t n, ls_err *err);
#define ls_reject_to(dl) (&(ls_reject){ ls_deadletter_reject, (dl) })
/* Writes the batch's entries in order and flushes them (end of batch). */
int ls_deadletter_flush(ls_deadletter *d, ls_err *err);

#endif
