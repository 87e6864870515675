/* ls_files.h - the files behind a file source: which ones exist, and the
 * records one of them holds.
 *
 * Listing follows Spark's file source: a path is a glob pattern (or a
 * directory, meaning the files in it); names starting with "." or "_"
 * (editors' temporary files, _SUCCESS markers) are left out; files come
 * oldest first (modification time, then path), the order Spark reads new
 * files in.
 *
 * A file is read whole into memory and split into records, each a span of
 * JSON text the engine decodes like a Kafka message's value:
 *   json    one JSON document: an array of records, or one or more values
 *           one after another (Spark's multiLine JSON)
 *   ndjson  one record per line; blank lines are skipped (Spark's json)
 *   lines   every line is a record {"value": "<the line>"} (Spark's text
 *           source, whose one column is `value`); invalid UTF-8 is replaced
 *           by U+FFFD as Java's decoder does
 *   kafka   (`luastream test` inputs named *.kafka.jsonl) one Kafka message
 *           per line: {"value": text or JSON, "key": text, "timestamp": ms
 *           or ISO text, "partition": n, "topic": name, "headers": {name:
 *           text, or a list of texts}}, all but value optional; offsets
 *           count per topic and partition in file order
 * Each record keeps the line it starts on, for dead letters. A json file
 * whose structure breaks (an unclosed array) gives its records up to the
 * break and then one record holding the broken text, which the decoder
 * turns into a dead letter naming the line. */
#ifndef LS_FILES_H
#define LS_FILES_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>
#include "ls_util.h"

typedef enum { LS_FORMAT_JSON, LS_FORMAT_NDJSON, LS_FORMAT_LINES, LS_FORMAT_KAFKA } ls_file_format;

/* "json", "ndjson" (also "jsonl"), "lines" (also "text"). -1 when unknown. */
int ls_file_format_parse(const char *name, ls_file_format *f);
const char *ls_file_format_name(ls_file_format f);

typedef struct ls_file_entry {
    char *path;          /* owned */
    int64_t mtime_ns;
    int64_t size;
} ls_file_entry;

/* The files pattern names, oldest first, hidden ones left out. A pattern
 * matching nothing gives none (not an error: files may come later); an
 * unreadable directory is an error. The list is the caller's: free it with
 * ls_files_list_free. */
int ls_files_list(const char *pattern, ls_file_entry **out, size_t *n, ls_err *err);
void ls_files_list_free(ls_file_entry *list, size_t n);

typedef struct ls_file_span {
    size_t off, len;     /* the record's bytes in buf */
    int64_t line;        /* the line it starts on, 1-based */
} ls_file_span;

/* A kafka-format record's message metadata (all owned by the records). */
typedef struct ls_file_msg {
    char *topic;                 /* NULL: the source's first topic */
    char *key;                   /* NULL: no key */
    size_t key_len;
    int64_t timestamp;           /* ms, -1 when none */
    int32_t partition;
    int64_t offset;
    rd_kafka_headers_t *headers; /* NULL when none */
} ls_file_msg;

/* A loaded file: its records' text and where each is. Owns everything. */
typedef struct ls_file_records {
    char *buf;
    size_t len;
    size_t n;
    ls_file_span *recs;
    ls_file_msg *msgs;           /* kafka format: one per record, else NULL */
} ls_file_records;

/* Reads path and splits it as format says. -1 with err when the file
 * cannot be read, or (kafka format) a line is not a message as described
 * above (err names the line); malformed content is never an error here
 * (its records fail to decode later, one by one). */
int ls_file_records_load(const char *path, ls_file_format format, ls_file_records *out,
                         ls_err *err);
void ls_file_records_free(ls_file_records *r);

#endif
