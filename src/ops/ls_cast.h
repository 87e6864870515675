/* ls_cast.h - Spark's casts from text (and JSON values) to typed values.
 *
 * luastream reads JSON, where a number can arrive as text ("agency_id":
 * "1"). Where Spark would cast (sum and avg over a string column, a source
 * `schema`), luastream casts with Spark's rules, and a value Spark's cast
 * rejects becomes null (Spark's try_cast, or its cast with ANSI mode off)
 * rather than failing the stream.
 *
 *   double   Java's Double.parseDouble after trimming (signs, "1e3", "7.",
 *            ".5", a d/D/f/F suffix, hex "0x1p3", "NaN", "Infinity") plus
 *            Spark's case-insensitive "inf", "infinity", "nan"; "0x10" and
 *            "1_000" are null; out of range is +-Infinity.
 *   bigint   trimmed, optional sign, digits; out of range is null.
 *   int      the same within 32 bits.
 *   boolean  trimmed, case-insensitive t, true, y, yes, 1 / f, false, n,
 *            no, 0.
 * Trimming removes ASCII whitespace and control characters (<= 0x20) at
 * both ends, as Java's String.trim. */
#ifndef LS_CAST_H
#define LS_CAST_H

#include <stddef.h>
#include <stdint.h>

#include "ls_value.h"

/* Each returns 0 and sets *out, or -1 when Spark's cast gives null. */
int ls_cast_double(const char *p, size_t n, double *out);
int ls_cast_bigint(const char *p, size_t n, int64_t *out);
int ls_cast_int(const char *p, size_t n, int64_t *out);
int ls_cast_bool(const char *p, size_t n, int *out);

/* Types of a source schema, by Spark's names. */
typedef enum {
    LS_TYPE_STRING,
    LS_TYPE_INT,       /* "int", "integer" */
    LS_TYPE_BIGINT,    /* "bigint", "long" */
    LS_TYPE_DOUBLE,    /* "double", "float" */
    LS_TYPE_BOOLEAN,   /* "boolean" */
    LS_TYPE_TIMESTAMP, /* "timestamp" */
} ls_type;

/* Parses a type name; -1 when unknown. */
int ls_type_parse(const char *name, ls_type *t);
const char *ls_type_name(ls_type t);

/* Casts a JSON value *v in place to type t as a Spark user's from_json
 * with a string column followed by try_cast(col as t) does: a number or
 * boolean is first its JSON text (5 -> "5", true -> "true"), then the text
 * is cast (so 7.5 is no bigint, true no double), except that a number as a
 * timestamp is epoch seconds (from_json's own reading of a timestamp
 * column). Strings of the result may point into scratch (the caller
 * reserves room for the text and empties it between records). Returns 0,
 * or 1 when the cast failed and *v became null. */
int ls_cast_value(ls_type t, ls_value *v, ls_buf *scratch);

#endif
