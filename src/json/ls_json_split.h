/* ls_json_split.h - splitting a JSON file into records, streamed.
 *
 * Accepts one JSON array of values (compact or pretty-printed) or a
 * sequence of values separated by whitespace (newline-delimited JSON).
 * Reads in chunks of at most 64 KiB (what a pipe has now, not a full
 * buffer) and holds only the record being assembled, so files of any size
 * pass through in bounded memory.  The splitter checks
 * structure (brackets, strings, separators); each record's content is
 * validated by the caller's JSON parser. */
#ifndef LS_JSON_SPLIT_H
#define LS_JSON_SPLIT_H

#include <stdint.h>
#include <stdio.h>

#include "ls_util.h"

#define LS_SPLIT_MAX_RECORD (64u << 20)

typedef struct ls_splitter {
    FILE *f;
    unsigned char buf[65536];
    size_t pos, len;
    int eof;
    int read_errno;      /* a read failed (not the end of input): its errno */
    int mode;            /* 0 unknown, 1 array, 2 sequence */
    int state;           /* internal: where between values we are */
    uint64_t offset;     /* bytes consumed so far */
    uint64_t line, col;  /* position of the next byte, 1-based */
    uint64_t rec_offset, rec_line, rec_col; /* start of the last record */
    uint64_t arr_line, arr_col; /* where the array opened (array files) */
    ls_buf rec;          /* the record, compact (whitespace between tokens dropped) */
    ls_buf raw;          /* the record's bytes as they are in the file */
} ls_splitter;

void ls_splitter_init(ls_splitter *s, FILE *f);
void ls_splitter_free(ls_splitter *s);
/* 1: s->rec holds the next record; 0: end of input; -1: malformed input
 * or a read error (err says what and where: byte offset, line and
 * column, the exact place of the offending byte). */
int ls_splitter_next(ls_splitter *s, ls_err *err);
/* The file position of byte k of s->raw (the last record as written):
 * byte offset, line and column (1-based, counted in bytes). */
void ls_splitter_locate(const ls_splitter *s, size_t k, uint64_t *offset, uint64_t *line,
                        uint64_t *col);

#endif
