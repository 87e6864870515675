/* ls_where.h - a query's `where`: predicates on record columns evaluated in
 * C, before any map, so a filter needs no Lua per record.
 *
 *   where = { disposition = "HAN",              -- =
 *             priority = { ">", 2 },            -- ~=  <  <=  >  >=
 *             code = { "in", { "A", "B" } },
 *             note = { "is null" },             -- or "is not null"
 *             ["@partition"] = 0 }              -- Kafka metadata columns too
 *
 * Every predicate must hold (AND). Comparisons follow Spark's: a null value
 * never satisfies a comparison (only "is null"), numbers compare as numbers
 * (an int with a double exactly), a string against a number is cast to
 * double as Spark's implicit cast does (not a number: no match), strings
 * compare by their bytes, booleans with booleans. */
#ifndef LS_WHERE_H
#define LS_WHERE_H

#include <stddef.h>

#include "ls_value.h"

typedef enum {
    LS_OP_EQ, LS_OP_NE, LS_OP_LT, LS_OP_LE, LS_OP_GT, LS_OP_GE, LS_OP_IN, LS_OP_IS_NULL,
    LS_OP_NOT_NULL,
} ls_where_op;

/* Parses "=", "==", "~=", "!=", "<", "<=", ">", ">=", "in", "is null",
 * "is not null"; -1 when unknown. */
int ls_where_op_parse(const char *s, ls_where_op *op);
const char *ls_where_op_name(ls_where_op op);

/* One predicate's operand(s): values it owns (strings copied). */
typedef struct ls_where_operand {
    ls_where_op op;
    size_t nvals;        /* 1, or the members of an "in" list, or 0 for the null tests */
    ls_value *vals;
} ls_where_operand;

void ls_where_operand_init(ls_where_operand *w, ls_where_op op);
/* Adds a value (a string is copied). */
void ls_where_operand_add(ls_where_operand *w, const ls_value *v);
void ls_where_operand_free(ls_where_operand *w);

/* Whether the column's value v satisfies w. */
int ls_where_match(const ls_where_operand *w, const ls_value *v);

#endif
