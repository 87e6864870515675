/* ls_agg.h - aggregate functions: count, sum, min, max, avg.
 *
 * An accumulator is a fixed 24-byte cell stored inline in a group of the
 * aggregation state.  Nulls are ignored, as in SQL; count with no column
 * is count(*) and counts every row. */
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

typedef struct ls_acc {
    int64_t n; /* non-null inputs seen */
    union { int64_t i; double d; } v;
    uint8_t is_double;
} ls_acc;

/* Parses "count", "sum", ... Returns -1 for an unknown name. */
int ls_agg_fn_parse(const char *name, ls_agg_fn *fn);
const char *ls_agg_fn_name(ls_agg_fn fn);

void ls_acc_init(ls_acc *a);
/* Folds v into a. v is NULL for count(*). Returns -1 (and fills err) when v
 * is not numeric for sum/min/max/avg. */
int ls_acc_update(ls_acc *a, ls_agg_fn fn, const ls_value *v, char *err);
ls_value ls_acc_result(const ls_acc *a, ls_agg_fn fn);
/* Folds accumulator b into a (partial aggregates from parallel workers). */
void ls_acc_merge(ls_acc *a, const ls_acc *b, ls_agg_fn fn);

#endif
