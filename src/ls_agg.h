/* ls_agg.h - aggregate functions: count, sum, min, max, avg.
 *
 * An accumulator is a fixed 24-byte cell stored inline in a group of the
 * aggregation state. Nulls are ignored, as in SQL; count with no column is
 * count(*) and counts every row.
 *
 * Values follow Spark's rules. sum and avg read numbers; a string is cast
 * to double as Spark casts it (" 7" is 7, "0x10" is null), and a value
 * they cannot use (text that is not a number, a boolean) counts as null
 * (ls_agg_prepare says so, for the progress report). Integer sums stay
 * exact 64-bit integers until one would overflow, then continue in double.
 * min and max order numbers numerically with NaN above every number (so
 * the result never depends on input order), strings by their bytes (UTF-8
 * code point order, as Spark's UTF8String), booleans false < true,
 * timestamps as instants; a column mixing kinds (possible in JSON, never in
 * Spark) ranks booleans < numbers < strings < timestamps. A string min/max is an owned copy: the owner of the
 * accumulator calls ls_acc_release before freeing it. */
#ifndef LS_AGG_H
#define LS_AGG_H

#include <stdint.h>

#include "ls_value.h"

typedef enum { LS_AGG_COUNT, LS_AGG_SUM, LS_AGG_MIN, LS_AGG_MAX, LS_AGG_AVG } ls_agg_fn;

typedef struct ls_agg_spec {
    ls_agg_fn fn;
    char *column; /* NULL: count(*) */
    char *name;   /* output column name */
} ls_agg_spec;

/* What an accumulator holds (its kind byte; 0 and 1 are the int/double
 * flag of version-1 snapshots). */
enum { LS_ACC_INT = 0, LS_ACC_DOUBLE = 1, LS_ACC_STR = 2, LS_ACC_BOOL = 3, LS_ACC_TIME = 4 };

typedef struct ls_acc {
    int64_t n; /* non-null inputs seen */
    union {
        int64_t i;
        double d;
        char *s; /* LS_ACC_STR: owned, a uint32 length then the bytes */
    } v;
    uint8_t kind;
} ls_acc;

/* Parses "count", "sum", ... Returns -1 for an unknown name. */
int ls_agg_fn_parse(const char *name, ls_agg_fn *fn);
const char *ls_agg_fn_name(ls_agg_fn fn);

/* Turns v into what fn folds (a string into a double for sum/avg, as
 * Spark's cast). Returns 1 when v was a value fn cannot use and became
 * null, else 0. */
int ls_agg_prepare(ls_agg_fn fn, ls_value *v);

void ls_acc_init(ls_acc *a);
/* Folds v (prepared) into a. v is NULL for count(*). Returns -1 (and
 * fills err) when v is a kind fn cannot fold (not prepared). */
int ls_acc_update(ls_acc *a, ls_agg_fn fn, const ls_value *v, char *err);
/* The result; a string points into a, valid until a changes. */
ls_value ls_acc_result(const ls_acc *a, ls_agg_fn fn);
/* Folds accumulator b into a (partial aggregates from parallel workers). */
void ls_acc_merge(ls_acc *a, const ls_acc *b, ls_agg_fn fn);
/* Frees what a owns (a string min/max); a is empty afterwards. */
void ls_acc_release(ls_acc *a);
/* Bytes a owns besides its cell (for memory accounting). */
size_t ls_acc_extra_bytes(const ls_acc *a);
/* Sets a string accumulator's value to a copy of p[0..n) (snapshots). */
void ls_acc_set_str(ls_acc *a, const char *p, size_t n);

/* Two numbers (LS_INT or LS_DOUBLE) compared exactly, as SQL compares
 * them: an int with a double by value, NaN equal to NaN and above every
 * number, -0.0 equal to 0.0. */
int ls_number_compare(const ls_value *a, const ls_value *b);

/* Spark's ordering of two non-null values for min/max: <0, 0, >0 (a total
 * order: equal numbers of different kinds, and -0.0 and 0.0, are told
 * apart so the result never depends on input order). */
int ls_value_order(const ls_value *a, const ls_value *b);

#endif
