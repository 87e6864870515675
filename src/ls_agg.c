/* ls_agg.c - accumulator arithmetic for the aggregate functions (see ls_agg.h). */
#include "ls_agg.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ls_cast.h"

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

int ls_agg_prepare(ls_agg_fn fn, ls_value *v)
{
    if (v->type == LS_NULL) return 0;
    switch (fn) {
    case LS_AGG_COUNT:
    case LS_AGG_MIN:
    case LS_AGG_MAX:
        if (v->type == LS_WINDOW) break;
        return 0;
    case LS_AGG_SUM:
    case LS_AGG_AVG:
        if (v->type == LS_INT || v->type == LS_DOUBLE) return 0;
        if (v->type == LS_STR) { /* Spark's implicit cast of a string to double */
            double d;
            if (ls_cast_double(v->u.s.p, v->u.s.n, &d) == 0) {
                *v = ls_double(d);
                return 0;
            }
        }
        break;
    }
    *v = ls_null();
    return 1;
}

void ls_acc_init(ls_acc *a) { memset(a, 0, sizeof *a); }

void ls_acc_release(ls_acc *a)
{
    if (a->kind == LS_ACC_STR) free(a->v.s);
    ls_acc_init(a);
}

size_t ls_acc_extra_bytes(const ls_acc *a)
{
    if (a->kind != LS_ACC_STR || !a->v.s) return 0;
    uint32_t n;
    memcpy(&n, a->v.s, 4);
    return 4 + (size_t)n;
}

void ls_acc_set_str(ls_acc *a, const char *p, size_t n)
{
    char *s = ls_xmalloc(4 + n + 1);
    uint32_t len = (uint32_t)n;
    memcpy(s, &len, 4);
    memcpy(s + 4, p, n);
    s[4 + n] = '\0';
    if (a->kind == LS_ACC_STR) free(a->v.s);
    a->kind = LS_ACC_STR;
    a->v.s = s;
}

static ls_value acc_value(const ls_acc *a)
{
    switch (a->kind) {
    case LS_ACC_DOUBLE: return ls_double(a->v.d);
    case LS_ACC_STR: {
        uint32_t n;
        memcpy(&n, a->v.s, 4);
        return ls_str(a->v.s + 4, n);
    }
    case LS_ACC_BOOL: {
        ls_value v;
        v.type = LS_BOOL;
        v.u.b = a->v.i != 0;
        return v;
    }
    case LS_ACC_TIME: return ls_timestamp(a->v.i);
    default: return ls_int(a->v.i);
    }
}

static void acc_store(ls_acc *a, const ls_value *v)
{
    switch (v->type) {
    case LS_DOUBLE:
        if (a->kind == LS_ACC_STR) free(a->v.s);
        a->kind = LS_ACC_DOUBLE;
        a->v.d = v->u.d;
        break;
    case LS_STR: ls_acc_set_str(a, v->u.s.p, v->u.s.n); break;
    case LS_BOOL:
    case LS_TIME:
        if (a->kind == LS_ACC_STR) free(a->v.s);
        a->kind = v->type == LS_BOOL ? LS_ACC_BOOL : LS_ACC_TIME;
        a->v.i = v->type == LS_BOOL ? v->u.b : v->u.i;
        break;
    default:
        if (a->kind == LS_ACC_STR) free(a->v.s);
        a->kind = LS_ACC_INT;
        a->v.i = v->u.i;
        break;
    }
}

static int rank(const ls_value *v)
{
    switch (v->type) {
    case LS_BOOL: return 0;
    case LS_STR: return 2;
    case LS_TIME: return 3;
    default: return 1;
    }
}

/* An int64 against a double, exactly (beyond 2^53 too); NaN is above all. */
static int cmp_int_double(int64_t i, double d)
{
    if (isnan(d)) return -1;
    if (d >= 9223372036854775808.0) return -1;
    if (d < -9223372036854775808.0) return 1;
    double t = trunc(d);
    int64_t di = (int64_t)t;
    if (i != di) return i < di ? -1 : 1;
    return t < d ? -1 : t > d ? 1 : 0;
}

static int cmp_double(double x, double y)
{
    if (isnan(x) || isnan(y)) return isnan(x) - isnan(y);
    if (x != y) return x < y ? -1 : 1;
    return signbit(y) - signbit(x); /* -0.0 below 0.0, so min/max never depend on order */
}

int ls_number_compare(const ls_value *a, const ls_value *b)
{
    if (a->type == LS_INT && b->type == LS_INT) return a->u.i < b->u.i ? -1 : a->u.i > b->u.i;
    if (a->type == LS_INT) return cmp_int_double(a->u.i, b->u.d);
    if (b->type == LS_INT) return -cmp_int_double(b->u.i, a->u.d);
    double x = a->u.d, y = b->u.d;
    if (isnan(x) || isnan(y)) return isnan(x) - isnan(y);
    return x < y ? -1 : x > y;
}

int ls_value_order(const ls_value *a, const ls_value *b)
{
    int ra = rank(a), rb = rank(b);
    if (ra != rb) return ra < rb ? -1 : 1;
    if (ra == 0) return a->u.b - b->u.b;
    if (ra == 3) return a->u.i < b->u.i ? -1 : a->u.i > b->u.i;
    if (ra == 2) {
        size_t n = a->u.s.n < b->u.s.n ? a->u.s.n : b->u.s.n;
        int c = memcmp(a->u.s.p, b->u.s.p, n);
        if (c) return c < 0 ? -1 : 1;
        return a->u.s.n < b->u.s.n ? -1 : a->u.s.n > b->u.s.n;
    }
    if (a->type == LS_INT && b->type == LS_INT) return a->u.i < b->u.i ? -1 : a->u.i > b->u.i;
    if (a->type == LS_INT) return cmp_int_double(a->u.i, b->u.d);
    if (b->type == LS_INT) return -cmp_int_double(b->u.i, a->u.d);
    int c = cmp_double(a->u.d, b->u.d);
    if (c == 0 && a->type != b->type) return a->type == LS_DOUBLE ? 1 : -1;
    return c;
}

/* sum/avg: exact integers until an overflow, then double. */
static void add(ls_acc *a, const ls_value *v)
{
    if (a->kind == LS_ACC_INT && v->type == LS_INT) {
        int64_t sum;
        if (!__builtin_add_overflow(a->v.i, v->u.i, &sum)) {
            a->v.i = sum;
            return;
        }
    }
    if (a->kind == LS_ACC_INT) {
        a->v.d = (double)a->v.i;
        a->kind = LS_ACC_DOUBLE;
    }
    a->v.d += v->type == LS_INT ? (double)v->u.i : v->u.d;
}

int ls_acc_update(ls_acc *a, ls_agg_fn fn, const ls_value *v, char *err)
{
    if (fn == LS_AGG_COUNT) {
        if (!v || v->type != LS_NULL) a->n++;
        return 0;
    }
    if (!v || v->type == LS_NULL) return 0;
    int numeric = v->type == LS_INT || v->type == LS_DOUBLE;
    int orderable = numeric || v->type == LS_STR || v->type == LS_BOOL || v->type == LS_TIME;
    if ((fn == LS_AGG_SUM || fn == LS_AGG_AVG) ? !numeric : !orderable) {
        ls_seterr(err, "%s: value is not a %s", names[fn],
                  fn == LS_AGG_SUM || fn == LS_AGG_AVG ? "number" : "number, string or boolean");
        return -1;
    }
    if (a->n == 0) {
        acc_store(a, v);
        if (fn == LS_AGG_AVG && a->kind == LS_ACC_INT) { /* avg keeps a double sum */
            a->v.d = (double)a->v.i;
            a->kind = LS_ACC_DOUBLE;
        }
        a->n = 1;
        return 0;
    }
    a->n++;
    switch (fn) {
    case LS_AGG_SUM:
    case LS_AGG_AVG:
        add(a, v);
        return 0;
    case LS_AGG_MIN:
    case LS_AGG_MAX: {
        ls_value cur = acc_value(a);
        int c = ls_value_order(v, &cur);
        if (fn == LS_AGG_MIN ? c < 0 : c > 0) acc_store(a, v);
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
    ls_value v = acc_value(b);
    if (a->n == 0) {
        acc_store(a, &v);
        a->n = b->n;
        return;
    }
    int64_t n = a->n + b->n;
    ls_acc_update(a, fn, &v, NULL); /* b's value as one input, then fix the count */
    a->n = n;
}

ls_value ls_acc_result(const ls_acc *a, ls_agg_fn fn)
{
    if (fn == LS_AGG_COUNT) return ls_int(a->n);
    if (a->n == 0) return ls_null();
    if (fn == LS_AGG_AVG) {
        double sum = a->kind == LS_ACC_INT ? (double)a->v.i : a->v.d;
        return ls_double(sum / (double)a->n);
    }
    return acc_value(a);
}
