/* ls_agg.c - accumulator arithmetic for the aggregate functions. */
#include "ls_agg.h"

#include <string.h>

static const char *const names[] = { "count", "sum", "min", "max", "avg" };

int ls_agg_fn_parse(const char *name, ls_agg_fn *fn)
{
    for (int i = 0; i < 5; i++)
        if (strcmp(name, names[i]) == 0) {
            *fn = (ls_agg_fn)i;
            return 0;
        }
    if (strcmp(name, "mean") == 0) {
        *fn = LS_AGG_AVG;
        return 0;
    }
    return -1;
}

const char *ls_agg_fn_name(ls_agg_fn fn) { return names[fn]; }

void ls_acc_init(ls_acc *a) { memset(a, 0, sizeof *a); }

static double as_double(const ls_acc *a) { return a->is_double ? a->v.d : (double)a->v.i; }

int ls_acc_update(ls_acc *a, ls_agg_fn fn, const ls_value *v, char *err)
{
    if (fn == LS_AGG_COUNT) {
        if (!v || v->type != LS_NULL) a->n++;
        return 0;
    }
    if (!v || v->type == LS_NULL) return 0;
    int is_int = v->type == LS_INT;
    if (!is_int && v->type != LS_DOUBLE) {
        ls_seterr(err, "%s: value is not a number", names[fn]);
        return -1;
    }
    double d = is_int ? (double)v->u.i : v->u.d;
    if (a->n == 0) {
        a->is_double = (uint8_t)(!is_int || fn == LS_AGG_AVG);
        if (a->is_double) a->v.d = d; else a->v.i = v->u.i;
        a->n = 1;
        return 0;
    }
    a->n++;
    switch (fn) {
    case LS_AGG_SUM:
    case LS_AGG_AVG:
        if (!a->is_double && is_int) {
            int64_t sum;
            if (!__builtin_add_overflow(a->v.i, v->u.i, &sum)) {
                a->v.i = sum;
                return 0;
            }
        }
        if (!a->is_double) { a->v.d = (double)a->v.i; a->is_double = 1; }
        a->v.d += d;
        return 0;
    case LS_AGG_MIN:
    case LS_AGG_MAX: {
        int better;
        if (is_int && !a->is_double) /* exact for integers beyond 2^53 */
            better = fn == LS_AGG_MIN ? v->u.i < a->v.i : v->u.i > a->v.i;
        else
            better = fn == LS_AGG_MIN ? d < as_double(a) : d > as_double(a);
        if (better) {
            a->is_double = (uint8_t)!is_int;
            if (is_int) a->v.i = v->u.i; else a->v.d = d;
        }
        return 0;
    }
    default:
        return 0;
    }
}

void ls_acc_merge(ls_acc *a, const ls_acc *b, ls_agg_fn fn)
{
    if (b->n == 0) return;
    if (fn == LS_AGG_COUNT) {
        a->n += b->n;
        return;
    }
    if (a->n == 0) {
        *a = *b;
        return;
    }
    /* b's value as a single input, then fix the count */
    ls_value v = b->is_double ? ls_double(b->v.d) : ls_int(b->v.i);
    if (fn == LS_AGG_AVG) { /* avg keeps a double sum */
        a->v.d += b->v.d;
        a->n += b->n;
        return;
    }
    int64_t n = a->n + b->n;
    ls_acc_update(a, fn, &v, NULL);
    a->n = n;
}

ls_value ls_acc_result(const ls_acc *a, ls_agg_fn fn)
{
    if (fn == LS_AGG_COUNT) return ls_int(a->n);
    if (a->n == 0) return ls_null();
    if (fn == LS_AGG_AVG) return ls_double(as_double(a) / (double)a->n);
    return a->is_double ? ls_double(a->v.d) : ls_int(a->v.i);
}
