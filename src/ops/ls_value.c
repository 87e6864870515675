/* ls_value.c - key encoding, hashing and rendering of ls_value. */
#include "ls_value.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ls_time.h"

ls_value ls_list_at(const ls_value *list, uint32_t i)
{
    int64_t c;
    memcpy(&c, &list->u.l.cells[i], 8);
    if (list->u.l.elem == LS_TIME) return ls_timestamp(c);
    if (list->u.l.elem == LS_INT) return ls_int(c);
    double d;
    memcpy(&d, &c, 8);
    return ls_double(d);
}

/* A tag byte and up to two 8-byte fields, or a string's length and bytes,
 * written with one reserve per value: keys are built per record and per
 * window, and byte-at-a-time appends showed in profiles. */
static char *key_room(ls_buf *key, size_t n)
{
    ls_buf_reserve(key, n);
    char *p = key->data + key->len;
    key->len += n;
    key->data[key->len] = '\0';
    return p;
}

void ls_key_put(ls_buf *key, const ls_value *v)
{
    char *p;
    switch (v->type) {
    case LS_NULL:
        ls_buf_putc(key, 'N');
        break;
    case LS_BOOL:
        ls_buf_putc(key, v->u.b ? 'T' : 'F');
        break;
    case LS_INT:
        p = key_room(key, 9);
        p[0] = 'I';
        memcpy(p + 1, &v->u.i, 8);
        break;
    case LS_DOUBLE: {
        /* Integral doubles are keyed as integers so 3 and 3.0 group together. */
        double d = v->u.d;
        p = key_room(key, 9);
        if (d == floor(d) && fabs(d) < 9.0e15) {
            int64_t i = (int64_t)d;
            p[0] = 'I';
            memcpy(p + 1, &i, 8);
        } else {
            if (isnan(d)) d = NAN; /* every NaN is one group, as Spark normalizes them */
            p[0] = 'D';
            memcpy(p + 1, &d, 8);
        }
        break;
    }
    case LS_STR: {
        uint32_t n = (uint32_t)v->u.s.n;
        p = key_room(key, 5 + (size_t)n);
        p[0] = 'S';
        memcpy(p + 1, &n, 4);
        if (n) memcpy(p + 5, v->u.s.p, n);
        break;
    }
    case LS_WINDOW:
        p = key_room(key, 17);
        p[0] = 'W';
        memcpy(p + 1, &v->u.w.start, 8);
        memcpy(p + 9, &v->u.w.end, 8);
        break;
    case LS_TIME:
        p = key_room(key, 9);
        p[0] = 'M';
        memcpy(p + 1, &v->u.i, 8);
        break;
    case LS_LIST: /* unreachable: a list is an aggregate's result, never a group value */
        ls_buf_putc(key, 'N');
        break;
    }
}

int ls_key_get(const char *key, size_t len, size_t *pos, ls_value *v)
{
    size_t p = *pos;
    if (p >= len) return -1;
    char tag = key[p++];
    switch (tag) {
    case 'N': v->type = LS_NULL; break;
    case 'T': v->type = LS_BOOL; v->u.b = 1; break;
    case 'F': v->type = LS_BOOL; v->u.b = 0; break;
    case 'I':
        if (p + 8 > len) return -1;
        v->type = LS_INT;
        memcpy(&v->u.i, key + p, 8);
        p += 8;
        break;
    case 'D':
        if (p + 8 > len) return -1;
        v->type = LS_DOUBLE;
        memcpy(&v->u.d, key + p, 8);
        p += 8;
        break;
    case 'M':
        if (p + 8 > len) return -1;
        v->type = LS_TIME;
        memcpy(&v->u.i, key + p, 8);
        p += 8;
        break;
    case 'S': {
        uint32_t n;
        if (p + 4 > len) return -1;
        memcpy(&n, key + p, 4);
        p += 4;
        if (p + n > len) return -1;
        v->type = LS_STR;
        v->u.s.p = key + p;
        v->u.s.n = n;
        p += n;
        break;
    }
    case 'W':
        if (p + 16 > len) return -1;
        v->type = LS_WINDOW;
        memcpy(&v->u.w.start, key + p, 8);
        memcpy(&v->u.w.end, key + p + 8, 8);
        p += 16;
        break;
    default:
        return -1;
    }
    *pos = p;
    return 0;
}

uint64_t ls_hash(const void *p, size_t n)
{
    const unsigned char *s = p;
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 1099511628211ULL;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
}

/* Integers without printf (yajl_gen_integer uses sprintf): rows are
 * written by the million. */
static yajl_gen_status gen_int(yajl_gen g, int64_t v)
{
    char t[24], *p = t + sizeof t;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0) *--p = '-';
    return yajl_gen_number(g, p, (size_t)(t + sizeof t - p));
}

static yajl_gen_status gen_time(yajl_gen g, int64_t ms)
{
    char t[40];
    size_t n = ls_time_format_ms(ms, t);
    return yajl_gen_string(g, (const unsigned char *)t, n);
}

size_t ls_double_text(double d, char out[40])
{
    int n = 0;
    for (int prec = 15; prec <= 17; prec++) {
        n = snprintf(out, 40, "%.*g", prec, d);
        if (prec == 17 || strtod(out, NULL) == d) break;
    }
    if (!strpbrk(out, ".en")) { /* integral: say it is a double, as Spark does */
        out[n++] = '.';
        out[n++] = '0';
        out[n] = '\0';
    }
    return (size_t)n;
}

static const char *non_finite(double d)
{
    return isnan(d) ? "NaN" : d > 0 ? "Infinity" : "-Infinity";
}

yajl_gen_status ls_value_json(yajl_gen g, const ls_value *v)
{
    switch (v->type) {
    case LS_NULL: return yajl_gen_null(g);
    case LS_BOOL: return yajl_gen_bool(g, v->u.b);
    case LS_INT: return gen_int(g, v->u.i);
    case LS_DOUBLE: {
        if (!isfinite(v->u.d)) {
            const char *t = non_finite(v->u.d);
            return yajl_gen_string(g, (const unsigned char *)t, strlen(t));
        }
        char t[40];
        size_t n = ls_double_text(v->u.d, t);
        return yajl_gen_number(g, t, n);
    }
    case LS_TIME: return gen_time(g, v->u.i);
    case LS_STR: return yajl_gen_string(g, (const unsigned char *)v->u.s.p, v->u.s.n);
    case LS_LIST: {
        yajl_gen_status st = yajl_gen_array_open(g);
        for (uint32_t i = 0; st == yajl_gen_status_ok && i < v->u.l.n; i++) {
            ls_value e = ls_list_at(v, i);
            st = ls_value_json(g, &e);
        }
        return st == yajl_gen_status_ok ? yajl_gen_array_close(g) : st;
    }
    case LS_WINDOW: {
        yajl_gen_status st = yajl_gen_map_open(g);
        if (st == yajl_gen_status_ok) st = yajl_gen_string(g, (const unsigned char *)"start", 5);
        if (st == yajl_gen_status_ok) st = gen_time(g, v->u.w.start);
        if (st == yajl_gen_status_ok) st = yajl_gen_string(g, (const unsigned char *)"end", 3);
        if (st == yajl_gen_status_ok) st = gen_time(g, v->u.w.end);
        if (st == yajl_gen_status_ok) st = yajl_gen_map_close(g);
        return st;
    }
    }
    return yajl_gen_invalid_string;
}

void ls_json_take(yajl_gen g, ls_buf *out)
{
    const unsigned char *p;
    size_t len;
    yajl_gen_get_buf(g, &p, &len);
    ls_buf_append(out, p, len);
    yajl_gen_clear(g);
}

void ls_value_text(ls_buf *out, const ls_value *v)
{
    char a[40], b[40];
    switch (v->type) {
    case LS_NULL: ls_buf_puts(out, "null"); break;
    case LS_BOOL: ls_buf_puts(out, v->u.b ? "true" : "false"); break;
    case LS_INT: ls_buf_printf(out, "%lld", (long long)v->u.i); break;
    case LS_DOUBLE:
        if (!isfinite(v->u.d)) ls_buf_puts(out, non_finite(v->u.d));
        else ls_buf_append(out, a, ls_double_text(v->u.d, a));
        break;
    case LS_STR: ls_buf_append(out, v->u.s.p, v->u.s.n); break;
    case LS_WINDOW:
        ls_time_format(v->u.w.start, a);
        ls_time_format(v->u.w.end, b);
        ls_buf_printf(out, "{%s, %s}", a, b);
        break;
    case LS_TIME:
        ls_buf_append(out, a, ls_time_format(v->u.i, a));
        break;
    case LS_LIST: /* as Spark's show(): [1.0, 2.5] */
        ls_buf_putc(out, '[');
        for (uint32_t i = 0; i < v->u.l.n; i++) {
            ls_value e = ls_list_at(v, i);
            if (i) ls_buf_puts(out, ", ");
            ls_value_text(out, &e);
        }
        ls_buf_putc(out, ']');
        break;
    }
}
