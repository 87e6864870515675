/* ls_agg.h - aggregate functions: count, sum, min, max, avg,
 * approx_count_distinct, percentile_approx.
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
 * Spark) ranks booleans < numbers < strings < timestamps.
 *
 * approx_count_distinct is Spark's HyperLogLog++ (ls_hll.h) over Spark's
 * hash of each value (ls_sparkhash.h); percentile_approx is Spark's
 * quantile summary (ls_quantile.h) over numbers (strings cast to double as
 * for sum, timestamps too), which an accumulator holds as the state
 * summary plus the batch's partial digests (one per source partition): the
 * owner seals it (ls_acc_seal) at the end of each batch, as Spark's state
 * store keeps the digest.
 *
 * What an accumulator owns apart from its cell is one blob: a string
 * min/max's copy, or a sketch. The owner of the accumulator calls
 * ls_acc_release before freeing it. */
#ifndef LS_AGG_H
#define LS_AGG_H

#include <stdint.h>

#include "ls_value.h"

typedef enum {
    LS_AGG_COUNT, LS_AGG_SUM, LS_AGG_MIN, LS_AGG_MAX, LS_AGG_AVG,
    LS_AGG_APPROX_DISTINCT, /* approx_count_distinct */
    LS_AGG_PERCENTILE,      /* percentile_approx */
} ls_agg_fn;

/* An aggregate of a query. The parameters of the sketches left zero mean
 * Spark's defaults (rsd 0.05, accuracy 10000, percentage 0.5). */
typedef struct ls_agg_spec {
    ls_agg_fn fn;
    char *column; /* NULL: count(*) */
    char *name;   /* output column name */
    int hll_p;      /* approx_count_distinct: precision, LS_HLL_MIN_P..LS_HLL_MAX_P */
    int hash_int32; /* approx_count_distinct: the column is a schema "int" (Spark's
                       IntegerType hashes 4 bytes, not a bigint's 8) */
    int64_t accuracy; /* percentile_approx: 1 / relative error */
    double *pcts;     /* percentile_approx: the percentages (owned), npcts of them */
    size_t npcts;
    int pct_list;     /* percentile_approx: p was a list: the result is one */
} ls_agg_spec;

/* A deep copy of src into dst; ls_agg_spec_free frees what a spec owns. */
void ls_agg_spec_copy(ls_agg_spec *dst, const ls_agg_spec *src);
void ls_agg_spec_free(ls_agg_spec *s);
/* The sketch parameters as text ("" for the other functions), for the
 * checkpoint's signature: state built with other parameters is another
 * state. */
void ls_agg_params_text(const ls_agg_spec *s, ls_buf *out);

/* What an accumulator holds (its kind byte; 0 and 1 are the int/double
 * flag of version-1 snapshots). */
enum {
    LS_ACC_INT = 0, LS_ACC_DOUBLE = 1, LS_ACC_STR = 2, LS_ACC_BOOL = 3, LS_ACC_TIME = 4,
    LS_ACC_HLL = 5,  /* an approx_count_distinct sketch (ls_hll.h) */
    LS_ACC_QSUM = 6, /* a percentile_approx digest (ls_quantile.h) */
};

typedef struct ls_acc {
    int64_t n; /* non-null inputs seen */
    union {
        int64_t i;
        double d;
        char *s;             /* LS_ACC_STR: owned, a uint32 length then the bytes, NUL */
        unsigned char *blob; /* LS_ACC_HLL, LS_ACC_QSUM: the owned sketch */
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
 * fills err) when v is a kind fn cannot fold (not prepared). Sketches get
 * Spark's default parameters. */
int ls_acc_update(ls_acc *a, ls_agg_fn fn, const ls_value *v, ls_err *err);
/* The same with the aggregate's parameters (what queries call); part is the
 * source partition the value was read from (-1 when not known): Spark
 * makes one partial percentile_approx digest per partition. */
int ls_acc_fold(ls_acc *a, const ls_agg_spec *spec, const ls_value *v, int64_t part, ls_err *err);
/* End of a batch: a percentile_approx digest merges the batch's values
 * into its summary; nothing for the other functions. */
void ls_acc_seal(ls_acc *a);
/* True for functions whose accumulators may own a blob (min, max,
 * sketches) and for those that need ls_acc_seal (percentile_approx). */
int ls_agg_owns_memory(ls_agg_fn fn);
int ls_agg_needs_seal(ls_agg_fn fn);
/* The result; a string points into a, valid until a changes. */
ls_value ls_acc_result(const ls_acc *a, ls_agg_fn fn);
/* Folds accumulator b into a (partial aggregates from parallel workers). */
void ls_acc_merge(ls_acc *a, const ls_acc *b, ls_agg_fn fn);
/* Frees what a owns (its blob); a is empty afterwards. */
void ls_acc_release(ls_acc *a);
/* Bytes of the blob a owns, as allocated (for memory accounting). */
size_t ls_acc_extra_bytes(const ls_acc *a);
/* Sets a string accumulator's value to a copy of p[0..n) (snapshots). */
void ls_acc_set_str(ls_acc *a, const char *p, size_t n);
/* Snapshots of sketches: the bytes to store (ls_acc_sketch_bytes returns
 * 0 when a holds no sketch), and a sketch set from stored bytes, checked
 * to be well-formed (-1: corrupt). */
size_t ls_acc_sketch_bytes(const ls_acc *a, const unsigned char **p);
int ls_acc_load_sketch(ls_acc *a, uint8_t kind, const unsigned char *p, size_t n);

/* Two numbers (LS_INT or LS_DOUBLE) compared exactly, as SQL compares
 * them: an int with a double by value, NaN equal to NaN and above every
 * number, -0.0 equal to 0.0. */
int ls_number_compare(const ls_value *a, const ls_value *b);

/* Spark's ordering of two non-null values for min/max (and order_by; lists,
 * as Spark's arrays, element by element): <0, 0, >0 (a total order: equal
 * numbers of different kinds, and -0.0 and 0.0, are told apart so the
 * result never depends on input order). */
int ls_value_order(const ls_value *a, const ls_value *b);

#endif
