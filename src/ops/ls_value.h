/* ls_value.h - the scalar values that flow between operators.
 *
 * A value is what a group column, an aggregate or a joined column holds:
 * null, boolean, integer, double, string, timestamp (from a source schema)
 * or an event-time window, and, as an aggregate's result only, a list of
 * numbers (percentile_approx with several percentages).  Strings and lists
 * are borrowed (pointer + length) unless stated otherwise.
 *
 * Rendering follows Spark's to_json: a double is written as the shortest
 * text that reads back to the same double, with ".0" when it is integral
 * (7.0, 448.99, 1e+21); NaN and the infinities, which JSON cannot hold as
 * numbers, as the strings "NaN", "Infinity", "-Infinity"; timestamps and
 * window bounds as "2018-12-31T23:50:00.000Z" (UTC, milliseconds).
 *
 * Group keys are tuples of values serialized into compact, type-tagged bytes
 * (ls_key_*): two keys are equal exactly when their bytes are equal, which
 * makes hashing and comparison in the aggregation state cheap. */
#ifndef LS_VALUE_H
#define LS_VALUE_H

#include <stddef.h>
#include <stdint.h>
#include <yajl_gen.h>

#include "ls_util.h"

typedef enum {
    LS_NULL = 0,
    LS_BOOL,
    LS_INT,
    LS_DOUBLE,
    LS_STR,
    LS_WINDOW,
    LS_TIME,   /* u.i: epoch milliseconds */
    LS_LIST,   /* u.l: n numbers of one type (elem: LS_INT, LS_DOUBLE or LS_TIME), each
                  8 bytes (an int64, a double's bits, epoch ms); JSON array, Spark's array */
} ls_vtype;

typedef struct ls_value {
    ls_vtype type;
    union {
        int b;
        int64_t i;
        double d;
        struct { const char *p; size_t n; } s;
        struct { int64_t start, end; } w; /* epoch ms, [start, end) */
        struct { const int64_t *cells; uint32_t n; uint8_t elem; } l;
    } u;
} ls_value;

static inline ls_value ls_null(void) { ls_value v; v.type = LS_NULL; v.u.i = 0; return v; }
static inline ls_value ls_int(int64_t i) { ls_value v; v.type = LS_INT; v.u.i = i; return v; }
static inline ls_value ls_double(double d) { ls_value v; v.type = LS_DOUBLE; v.u.d = d; return v; }
static inline ls_value ls_str(const char *p, size_t n)
{ ls_value v; v.type = LS_STR; v.u.s.p = p; v.u.s.n = n; return v; }
static inline ls_value ls_timestamp(int64_t ms) { ls_value v; v.type = LS_TIME; v.u.i = ms; return v; }

/* Element i of a list, as a value of the list's element type. */
ls_value ls_list_at(const ls_value *list, uint32_t i);

/* Appends the tagged encoding of v to a key buffer. */
void ls_key_put(ls_buf *key, const ls_value *v);
/* Decodes the value at key[*pos], advancing *pos; strings point into key.
 * Returns -1 on a malformed key. */
int ls_key_get(const char *key, size_t len, size_t *pos, ls_value *v);

/* 64-bit hash of a byte string (FNV-1a folded with a final mix). */
uint64_t ls_hash(const void *p, size_t n);

/* Writes v as JSON into an open yajl generator (windows become
 * {"start": ISO, "end": ISO}). Returns the yajl status. */
yajl_gen_status ls_value_json(yajl_gen g, const ls_value *v);

/* Appends what g generated so far to out and empties g's buffer (the
 * generator itself is left to the caller to reset or free). */
void ls_json_take(yajl_gen g, ls_buf *out);

/* Human-readable text of v (for the console sink): doubles as in JSON,
 * NaN and Infinity bare, windows as {start, end}. */
void ls_value_text(ls_buf *out, const ls_value *v);

/* The shortest decimal text that reads back to d exactly (%.15g, %.16g or
 * %.17g, whichever is first), with ".0" added to an integral value. d must
 * be finite. Returns the length written into out (at most 32 bytes). */
size_t ls_double_text(double d, char out[40]);

#endif
