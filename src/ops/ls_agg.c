/* ls_agg.c - accumulator arithmetic for the aggregate functions (see ls_agg.h). */
#include "ls_agg.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ls_cast.h"
#include "ls_hll.h"
#include "ls_quantile.h"
#include "ls_sparkhash.h"

static const char *const names[] = { "count", "sum", "min", "max", "avg",
                                     "approx_count_distinct", "percentile_approx" };
#define NFNS ((int)(sizeof names / sizeof names[0]))

int ls_agg_fn_parse(const char *name, ls_agg_fn *fn)
{
    for (int i = 0; i < NFNS; i++)
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

int ls_agg_owns_memory(ls_agg_fn fn)
{
    return fn == LS_AGG_MIN || fn == LS_AGG_MAX || fn == LS_AGG_APPROX_DISTINCT ||
           fn == LS_AGG_PERCENTILE;
}

int ls_agg_needs_seal(ls_agg_fn fn) { return fn == LS_AGG_PERCENTILE; }

void ls_agg_spec_copy(ls_agg_spec *dst, const ls_agg_spec *src)
{
    *dst = *src;
    dst->column = src->column ? ls_xstrdup(src->column) : NULL;
    dst->name = src->name ? ls_xstrdup(src->name) : NULL;
    dst->pcts = NULL;
    if (src->pcts) {
        dst->pcts = ls_xmalloc((src->npcts + 1) * sizeof *dst->pcts);
        memcpy(dst->pcts, src->pcts, src->npcts * sizeof *dst->pcts);
    }
}

void ls_agg_spec_free(ls_agg_spec *s)
{
    free(s->column);
    free(s->name);
    free(s->pcts);
    s->column = s->name = NULL;
    s->pcts = NULL;
}

void ls_agg_params_text(const ls_agg_spec *s, ls_buf *out)
{
    if (s->fn == LS_AGG_APPROX_DISTINCT) {
        ls_buf_printf(out, " p=%d%s", s->hll_p ? s->hll_p : ls_hll_precision(LS_HLL_DEFAULT_RSD),
                      s->hash_int32 ? " int" : "");
    } else if (s->fn == LS_AGG_PERCENTILE) {
        ls_buf_printf(out, " accuracy=%lld %s", (long long)(s->accuracy ? s->accuracy
                                                             : LS_QSUM_DEFAULT_ACCURACY),
                      s->pct_list ? "list" : "p");
        for (size_t i = 0; i < s->npcts; i++) ls_buf_printf(out, " %.17g", s->pcts[i]);
    }
}

int ls_agg_prepare(ls_agg_fn fn, ls_value *v)
{
    if (v->type == LS_NULL) return 0;
    switch (fn) {
    case LS_AGG_COUNT:
    case LS_AGG_MIN:
    case LS_AGG_MAX:
        if (v->type == LS_WINDOW) break;
        return 0;
    case LS_AGG_APPROX_DISTINCT: {
        uint64_t h;
        if (ls_spark_hash_value(v, 0, &h) == 0) return 0;
        break;
    }
    case LS_AGG_SUM:
    case LS_AGG_AVG:
    case LS_AGG_PERCENTILE:
        if (v->type == LS_INT || v->type == LS_DOUBLE) return 0;
        if (v->type == LS_TIME && fn == LS_AGG_PERCENTILE) return 0;
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

static int has_blob(const ls_acc *a)
{
    return a->kind == LS_ACC_STR || a->kind == LS_ACC_HLL || a->kind == LS_ACC_QSUM;
}

void ls_acc_release(ls_acc *a)
{
    if (has_blob(a)) free(a->v.blob);
    ls_acc_init(a);
}

size_t ls_acc_extra_bytes(const ls_acc *a)
{
    if (!has_blob(a) || !a->v.blob) return 0;
    uint32_t n;
    switch (a->kind) {
    case LS_ACC_HLL: return ls_hll_size(ls_hll_p(a->v.blob));
    case LS_ACC_QSUM: return ls_qsum_cap(a->v.blob);
    default:
        memcpy(&n, a->v.s, 4);
        return 4 + (size_t)n + 1;
    }
}

size_t ls_acc_sketch_bytes(const ls_acc *a, const unsigned char **p)
{
    *p = NULL;
    if ((a->kind != LS_ACC_HLL && a->kind != LS_ACC_QSUM) || !a->v.blob) return 0;
    *p = a->v.blob;
    return a->kind == LS_ACC_HLL ? ls_hll_size(ls_hll_p(a->v.blob)) : ls_qsum_len(a->v.blob);
}

int ls_acc_load_sketch(ls_acc *a, uint8_t kind, const unsigned char *p, size_t n)
{
    unsigned char *blob = NULL;
    if (kind == LS_ACC_HLL && ls_hll_check(p, n) == 0) {
        blob = ls_xmalloc(n);
        memcpy(blob, p, n);
    } else if (kind == LS_ACC_QSUM) {
        blob = ls_qsum_load(p, n);
    }
    if (!blob) return -1;
    if (has_blob(a)) free(a->v.blob);
    a->kind = kind;
    a->v.blob = blob;
    return 0;
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
    case LS_LIST: return 4;
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
    if (ra == 4) { /* lists (percentiles): element by element, then the shorter first */
        for (uint32_t i = 0; i < a->u.l.n && i < b->u.l.n; i++) {
            ls_value x = ls_list_at(a, i), y = ls_list_at(b, i);
            int c = ls_value_order(&x, &y);
            if (c) return c;
        }
        return a->u.l.n < b->u.l.n ? -1 : a->u.l.n > b->u.l.n;
    }
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

/* approx_count_distinct: the value's Spark hash into the registers. */
static int fold_hll(ls_acc *a, const ls_agg_spec *spec, const ls_value *v, ls_err *err)
{
    uint64_t h;
    if (ls_spark_hash_value(v, spec->hash_int32, &h)) {
        ls_seterr(err, "approx_count_distinct: a %s cannot be hashed", v->type == LS_LIST ? "list" : "window");
        return -1;
    }
    if (a->kind != LS_ACC_HLL) {
        int p = spec->hll_p ? spec->hll_p : ls_hll_precision(LS_HLL_DEFAULT_RSD);
        if (p < LS_HLL_MIN_P || p > LS_HLL_MAX_P) {
            ls_seterr(err, "approx_count_distinct: precision %d out of range", p);
            return -1;
        }
        ls_acc_release(a);
        a->v.blob = ls_xmalloc(ls_hll_size(p));
        ls_hll_init(a->v.blob, p);
        a->kind = LS_ACC_HLL;
    }
    ls_hll_add(a->v.blob, h);
    a->n++;
    return 0;
}

/* percentile_approx: the value as Spark's digest takes it (a double; a
 * timestamp as epoch microseconds). */
static int fold_qsum(ls_acc *a, const ls_agg_spec *spec, const ls_value *v, int64_t part,
                     ls_err *err)
{
    double x;
    int kind;
    switch (v->type) {
    case LS_INT: x = (double)v->u.i; kind = LS_QK_INT; break;
    case LS_DOUBLE: x = v->u.d; kind = LS_QK_DOUBLE; break;
    case LS_TIME: x = (double)v->u.i * 1000.0; kind = LS_QK_TIME; break;
    default:
        ls_seterr(err, "percentile_approx: value is not a number");
        return -1;
    }
    if (a->kind != LS_ACC_QSUM) {
        static const double half = 0.5;
        ls_acc_release(a);
        a->v.blob = ls_qsum_new(spec->accuracy, spec->pcts ? spec->pcts : &half,
                                spec->pcts ? spec->npcts : 1, spec->pct_list);
        a->kind = LS_ACC_QSUM;
    }
    a->v.blob = ls_qsum_add(a->v.blob, x, kind, part);
    a->n++;
    return 0;
}

int ls_acc_fold(ls_acc *a, const ls_agg_spec *spec, const ls_value *v, int64_t part, ls_err *err)
{
    if (spec->fn != LS_AGG_APPROX_DISTINCT && spec->fn != LS_AGG_PERCENTILE)
        return ls_acc_update(a, spec->fn, v, err);
    if (!v || v->type == LS_NULL) return 0;
    return spec->fn == LS_AGG_APPROX_DISTINCT ? fold_hll(a, spec, v, err)
                                              : fold_qsum(a, spec, v, part, err);
}

void ls_acc_seal(ls_acc *a)
{
    if (a->kind == LS_ACC_QSUM) a->v.blob = ls_qsum_seal(a->v.blob);
}

int ls_acc_update(ls_acc *a, ls_agg_fn fn, const ls_value *v, ls_err *err)
{
    if (fn == LS_AGG_APPROX_DISTINCT || fn == LS_AGG_PERCENTILE) {
        ls_agg_spec spec;
        memset(&spec, 0, sizeof spec);
        spec.fn = fn;
        return ls_acc_fold(a, &spec, v, -1, err);
    }
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

/* A sketch of b folded into a (a copy of b's when a has none). */
static void merge_sketch(ls_acc *a, const ls_acc *b)
{
    if (b->kind != LS_ACC_HLL && b->kind != LS_ACC_QSUM) return;
    if (a->kind != b->kind) {
        const unsigned char *p;
        size_t n = ls_acc_sketch_bytes(b, &p);
        if (ls_acc_load_sketch(a, b->kind, p, n)) return; /* b is well-formed: never */
        a->n = b->n;
        return;
    }
    if (a->kind == LS_ACC_HLL) ls_hll_merge(a->v.blob, b->v.blob);
    else a->v.blob = ls_qsum_merge(a->v.blob, b->v.blob);
    a->n += b->n;
}

void ls_acc_merge(ls_acc *a, const ls_acc *b, ls_agg_fn fn)
{
    if (b->n == 0) return;
    if (fn == LS_AGG_COUNT) {
        a->n += b->n;
        return;
    }
    if (fn == LS_AGG_APPROX_DISTINCT || fn == LS_AGG_PERCENTILE) {
        merge_sketch(a, b);
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
    if (fn == LS_AGG_APPROX_DISTINCT) /* 0 for no values: never null, as Spark's */
        return ls_int(a->kind == LS_ACC_HLL ? ls_hll_estimate(a->v.blob) : 0);
    if (fn == LS_AGG_PERCENTILE) return a->kind == LS_ACC_QSUM ? ls_qsum_result(a->v.blob) : ls_null();
    if (a->n == 0) return ls_null();
    if (fn == LS_AGG_AVG) {
        double sum = a->kind == LS_ACC_INT ? (double)a->v.i : a->v.d;
        return ls_double(sum / (double)a->n);
    }
    return acc_value(a);
}
