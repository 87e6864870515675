/* ls_where.c - evaluating a query's `where` predicates (see ls_where.h). */
#include "ls_where.h"

#include <stdlib.h>
#include <string.h>

#include "ls_agg.h"
#include "ls_cast.h"

static const struct { const char *name; ls_where_op op; } ops[] = {
    { "=", LS_OP_EQ },     { "==", LS_OP_EQ },       { "~=", LS_OP_NE },
    { "!=", LS_OP_NE },    { "<>", LS_OP_NE },       { "<", LS_OP_LT },
    { "<=", LS_OP_LE },    { ">", LS_OP_GT },        { ">=", LS_OP_GE },
    { "in", LS_OP_IN },    { "is null", LS_OP_IS_NULL }, { "is not null", LS_OP_NOT_NULL },
};

int ls_where_op_parse(const char *s, ls_where_op *op)
{
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (strcmp(s, ops[i].name) == 0) {
            *op = ops[i].op;
            return 0;
        }
    return -1;
}

const char *ls_where_op_name(ls_where_op op)
{
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (ops[i].op == op) return ops[i].name;
    return "?";
}

void ls_where_operand_init(ls_where_operand *w, ls_where_op op)
{
    memset(w, 0, sizeof *w);
    w->op = op;
}

void ls_where_operand_add(ls_where_operand *w, const ls_value *v)
{
    w->vals = ls_xrealloc(w->vals, (w->nvals + 1) * sizeof *w->vals);
    ls_value c = *v;
    if (c.type == LS_STR) c.u.s.p = ls_xstrndup(v->u.s.p, v->u.s.n);
    w->vals[w->nvals++] = c;
}

void ls_where_operand_free(ls_where_operand *w)
{
    for (size_t i = 0; i < w->nvals; i++)
        if (w->vals[i].type == LS_STR) free((char *)w->vals[i].u.s.p);
    free(w->vals);
    memset(w, 0, sizeof *w);
}

static int numeric(const ls_value *v) { return v->type == LS_INT || v->type == LS_DOUBLE; }

/* a against b: <0, 0, >0, or 2 when they cannot be compared (Spark: null). */
static int compare(const ls_value *a, const ls_value *b)
{
    ls_value x = *a, y = *b;
    double d;
    if (numeric(&x) && y.type == LS_STR) {
        if (ls_cast_double(y.u.s.p, y.u.s.n, &d)) return 2;
        y = ls_double(d);
    } else if (x.type == LS_STR && numeric(&y)) {
        if (ls_cast_double(x.u.s.p, x.u.s.n, &d)) return 2;
        x = ls_double(d);
    }
    if (numeric(&x) != numeric(&y) || (!numeric(&x) && x.type != y.type)) return 2;
    return numeric(&x) ? ls_number_compare(&x, &y) : ls_value_order(&x, &y);
}

int ls_where_match(const ls_where_operand *w, const ls_value *v)
{
    if (w->op == LS_OP_IS_NULL) return v->type == LS_NULL;
    if (w->op == LS_OP_NOT_NULL) return v->type != LS_NULL;
    if (v->type == LS_NULL) return 0;
    if (w->op == LS_OP_IN) {
        for (size_t i = 0; i < w->nvals; i++)
            if (compare(v, &w->vals[i]) == 0) return 1;
        return 0;
    }
    int c = compare(v, &w->vals[0]);
    if (c == 2) return 0;
    switch (w->op) {
    case LS_OP_EQ: return c == 0;
    case LS_OP_NE: return c != 0;
    case LS_OP_LT: return c < 0;
    case LS_OP_LE: return c <= 0;
    case LS_OP_GT: return c > 0;
    case LS_OP_GE: return c >= 0;
    default: return 0;
    }
}
