/* ls_record.h - one input record on its way from a source to the lanes,
 * whichever kind of source read it.
 *
 * A Kafka record owns its librdkafka message (released with
 * ls_record_release once the lanes are done with it). A file record
 * borrows its bytes from the file source, which keeps the file loaded
 * until the batch that reads it has ended; the file's path lives as long
 * as the source. */
#ifndef LS_RECORD_H
#define LS_RECORD_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>

#include "ls_files.h"

typedef struct ls_record {
    rd_kafka_message_t *msg; /* Kafka: the message (owned), else NULL */
    const char *data;        /* files: the record's text (borrowed) */
    size_t len;
    const char *file;        /* files: the file's path (borrowed) */
    int64_t line;            /* files: the line the record starts on, 1-based */
    int64_t index;           /* files: the record's number in its file, from 0 */
    const ls_file_msg *kmsg; /* a test input's Kafka message metadata (borrowed), or NULL */
} ls_record;

static inline void ls_record_release(ls_record *r)
{
    if (r->msg) rd_kafka_message_destroy(r->msg);
    r->msg = NULL;
}

#endif
