/* ls_record.h - one input record on its way from a source to the lanes,
 * whichever kind of source read it, and where it came from (ls_origin:
 * what dead letters, metadata columns and a map's meta report).
 *
 * A Kafka record owns its librdkafka message (released with
 * ls_record_release once the lanes are done with it). A file record
 * borrows its bytes from the file source, which keeps the file loaded
 * until the batch that reads it has ended; the file's path lives as long
 * as the source. */
#ifndef LS_RECORD_H
#define LS_RECORD_H

#include <stddef.h>
#include <stdint.h>
#include "ls_util.h"

/* Opaque here: librdkafka's message and a test input's message metadata
 * (ls_files.h); only the io/ modules look inside. */
struct rd_kafka_message_s;
struct ls_file_msg;

typedef struct ls_record {
    struct rd_kafka_message_s *msg; /* Kafka: the message (owned), else NULL */
    const char *data;        /* files: the record's text (borrowed) */
    size_t len;
    const char *file;        /* files: the file's path (borrowed) */
    int64_t line;            /* files: the line the record starts on, 1-based */
    int64_t index;           /* files: the record's number in its file, from 0 */
    const struct ls_file_msg *kmsg; /* a test input's Kafka message (borrowed), or NULL */
} ls_record;

/* Where a record came from, and its Kafka metadata (what Spark's Kafka
 * source exposes as columns, and a map receives as its second argument). */
typedef struct ls_origin {
    const char *topic;
    int32_t partition;
    int64_t offset;
    int64_t timestamp;   /* Kafka message timestamp, ms; -1 if none */
    int timestamp_type;  /* Spark's timestampType: 0 CreateTime, 1 LogAppendTime, -1 none */
    const char *key;     /* the message key, NULL when it has none */
    size_t key_len;
    const void *msg;     /* the rd_kafka_message_t (headers are read from it when asked) */
    const void *headers; /* or (a test input's message) its rd_kafka_headers_t, or NULL */
    const char *file;    /* a file source's record: its file (topic NULL, partition -1) */
    int64_t line;        /* and the line it starts on */
    int meta;            /* a map's meta table at this Lua stack index, 0 when none */
    uint64_t seq;        /* the record's place in its batch's reading order */
} ls_origin;

/* Where an operator sends a record it cannot process (the dead-letter
 * output, through ls_deadletter_reject): fn(ctx, where it came from, the
 * query, why, its bytes). Returns -1 with err only when that output failed. */
typedef struct ls_reject {
    int (*fn)(void *ctx, const ls_origin *o, const char *query, const char *why,
              const char *payload, size_t n, ls_err *err);
    void *ctx;
} ls_reject;

/* Gives a Kafka record's message back to librdkafka (files: nothing). */
void ls_record_release(ls_record *r);

#endif
