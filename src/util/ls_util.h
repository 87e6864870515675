/* ls_util.h - allocation helpers, a growable byte buffer and logging.
 *
 * Every module allocates through ls_xmalloc/ls_xrealloc, which abort on
 * out-of-memory: a stream processor that cannot allocate cannot keep its
 * promises about state, so failing loudly is the honest behaviour. */
#ifndef LS_UTIL_H
#define LS_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdio.h>

/* Error text: modules report failures by filling a caller-owned buffer. */
#define LS_ERRLEN 512

/* An error message that carries its size in its type: a function that can
 * fail takes `ls_err *err`, fills it (ls_seterr) and returns -1 or NULL;
 * the caller owns the buffer (usually on its stack) and prints err.msg.
 * librdkafka passes errstr with errstr_size for the same reason; here the
 * compiler checks it, so no function can be handed a shorter buffer. */
typedef struct ls_err {
    char msg[LS_ERRLEN];
} ls_err;

void *ls_xmalloc(size_t n);
void *ls_xcalloc(size_t n, size_t size);
void *ls_xrealloc(void *p, size_t n);
char *ls_xstrdup(const char *s);
char *ls_xstrndup(const char *s, size_t n);

/* A growable byte buffer; always NUL-terminated after any append. */
typedef struct ls_buf {
    char *data;
    size_t len;
    size_t cap;
} ls_buf;

void ls_buf_init(ls_buf *b);
void ls_buf_free(ls_buf *b);
void ls_buf_reset(ls_buf *b);
void ls_buf_reserve(ls_buf *b, size_t extra);
void ls_buf_append(ls_buf *b, const void *p, size_t n);
void ls_buf_putc(ls_buf *b, char c);
void ls_buf_puts(ls_buf *b, const char *s);
void ls_buf_printf(ls_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Appends all of f to b. Returns -1 on a read error. */
int ls_read_stream(FILE *f, ls_buf *b);
/* Writes n bytes of p to fd, again after a short write or EINTR. Returns
 * 0, or -1 with errno set (ENOSPC when write wrote nothing); *done (may be
 * NULL) holds the bytes written either way. */
int ls_write_all(int fd, const void *p, size_t n, size_t *done);
/* Reads the whole file at path into b (NUL-terminated). -1 + err
 * ("path: reason") when it cannot be opened or read. */
int ls_read_file(const char *path, ls_buf *b, ls_err *err);

/* The deepest JSON nesting any decoder or encoder of the engine accepts. */
#define LS_JSON_MAX_DEPTH 128
void ls_seterr(ls_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* err becomes "prefix: " followed by what it said (cut to fit). */
void ls_err_prefix(ls_err *err, const char *prefix);

/* Monotonic and wall clocks in milliseconds / microseconds. */
int64_t ls_now_ms(void);      /* wall clock, epoch ms */
/* Per-record durations are estimated from 1 record in LS_TIME_SAMPLE: two
 * clock reads for every record and operator cost ~5% of the work. */
#define LS_TIME_SAMPLE 16
double ls_mono_ms(void);      /* monotonic, fractional ms */

/* Logging to stderr with a "luastream: " prefix. */
void ls_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The length of the valid UTF-8 sequence at s (1 to 4), 0 when none starts there. */
size_t ls_utf8_seq_len(const unsigned char *s, size_t n);
/* Creates dir and its parents (mkdir -p). Returns 0 or -1 with err. */
int ls_mkdirs(const char *dir, ls_err *err);

/* True when s[0..n) is valid UTF-8. */
int ls_utf8_valid(const char *s, size_t n);

/* Standard base64 of p[0..n) appended to b. */
void ls_base64(ls_buf *b, const unsigned char *p, size_t n);

/* The candidate closest to word by edit distance (for "did you mean"), or
 * NULL when none is close (more than a third of word's length away). */
const char *ls_nearest(const char *word, const char *const *cands, size_t n);

/* Random version-4 UUID in canonical text form (37 bytes with NUL). */
void ls_uuid4(char out[37]);

/* The canonical absolute path path will have once a run creates it
 * (mkdir -p): realpath() of its deepest existing ancestor, the rest
 * normalized. Used for the default consumer group of a checkpointed job,
 * whose directory explain does not create. Never NULL (malloc'd). */
char *ls_abspath_to_be(const char *path);

#endif
