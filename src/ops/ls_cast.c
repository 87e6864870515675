/* ls_cast.c - Spark's casts from text and JSON values (see ls_cast.h). */
#include "ls_cast.h"

#include <ctype.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "ls_time.h"

static void trim(const char **p, size_t *n)
{
    while (*n && (unsigned char)(*p)[0] <= ' ') {
        (*p)++;
        (*n)--;
    }
    while (*n && (unsigned char)(*p)[*n - 1] <= ' ') (*n)--;
}

static int eq_nocase(const char *p, size_t n, const char *word)
{
    size_t m = strlen(word);
    if (n != m) return 0;
    for (size_t i = 0; i < n; i++)
        if (tolower((unsigned char)p[i]) != word[i]) return 0;
    return 1;
}

static int is_digit(char c) { return c >= '0' && c <= '9'; }
static int is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

/* strtod in the C locale, whatever the process's locale is. */
static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;
static void make_c_locale(void) { c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0); }

static double parse_c(const char *s)
{
    pthread_once(&c_locale_once, make_c_locale);
    return c_locale ? strtod_l(s, NULL, c_locale) : strtod(s, NULL);
}

/* Java's FloatingDecimal grammar: does q[0..n) (sign already taken) read
 * as a decimal or hexadecimal floating-point literal? */
static int java_number(const char *q, size_t n)
{
    size_t i = 0;
    if (n >= 2 && q[0] == '0' && (q[1] == 'x' || q[1] == 'X')) {
        i = 2;
        size_t digits = 0;
        while (i < n && is_hex(q[i])) i++, digits++;
        if (i < n && q[i] == '.') {
            i++;
            while (i < n && is_hex(q[i])) i++, digits++;
        }
        if (!digits || i >= n || (q[i] != 'p' && q[i] != 'P')) return 0; /* p is required */
        i++;
    } else {
        size_t digits = 0;
        while (i < n && is_digit(q[i])) i++, digits++;
        if (i < n && q[i] == '.') {
            i++;
            while (i < n && is_digit(q[i])) i++, digits++;
        }
        if (!digits) return 0;
        if (i < n && (q[i] == 'e' || q[i] == 'E')) i++;
        else goto suffix;
    }
    if (i < n && (q[i] == '+' || q[i] == '-')) i++;
    if (i >= n || !is_digit(q[i])) return 0;
    while (i < n && is_digit(q[i])) i++;
suffix:
    if (i < n && (q[i] == 'f' || q[i] == 'F' || q[i] == 'd' || q[i] == 'D')) i++;
    return i == n;
}

int ls_cast_double(const char *p, size_t n, double *out)
{
    trim(&p, &n);
    if (n == 0 || n > 400) return -1;
    /* Spark's special literals, case-insensitive */
    if (eq_nocase(p, n, "inf") || eq_nocase(p, n, "+inf") || eq_nocase(p, n, "infinity") ||
        eq_nocase(p, n, "+infinity")) {
        *out = INFINITY;
        return 0;
    }
    if (eq_nocase(p, n, "-inf") || eq_nocase(p, n, "-infinity")) {
        *out = -INFINITY;
        return 0;
    }
    if (eq_nocase(p, n, "nan")) {
        *out = NAN;
        return 0;
    }
    const char *q = p;
    size_t m = n;
    int neg = 0;
    if (q[0] == '+' || q[0] == '-') {
        neg = q[0] == '-';
        q++;
        m--;
    }
    /* Java's own spellings, after a sign */
    if (m == 3 && memcmp(q, "NaN", 3) == 0) {
        *out = NAN;
        return 0;
    }
    if (m == 8 && memcmp(q, "Infinity", 8) == 0) {
        *out = neg ? -INFINITY : INFINITY;
        return 0;
    }
    if (!java_number(q, m)) return -1;
    char buf[408];
    memcpy(buf, p, n);
    /* a valid literal ends in a digit or its type suffix (a hex literal's
     * exponent is decimal): drop the suffix, strtod does not know it */
    if (buf[n - 1] == 'f' || buf[n - 1] == 'F' || buf[n - 1] == 'd' || buf[n - 1] == 'D') n--;
    buf[n] = '\0';
    *out = parse_c(buf);
    return 0;
}

int ls_cast_bigint(const char *p, size_t n, int64_t *out)
{
    trim(&p, &n);
    if (n == 0) return -1;
    size_t i = 0;
    int neg = 0;
    if (p[0] == '+' || p[0] == '-') {
        neg = p[0] == '-';
        i = 1;
    }
    if (i == n) return -1;
    uint64_t v = 0;
    const uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; i < n; i++) {
        if (!is_digit(p[i])) return -1;
        uint64_t d = (uint64_t)(p[i] - '0');
        if (v > (limit - d) / 10) return -1;
        v = v * 10 + d;
    }
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return 0;
}

int ls_cast_int(const char *p, size_t n, int64_t *out)
{
    int64_t v;
    if (ls_cast_bigint(p, n, &v) || v < INT32_MIN || v > INT32_MAX) return -1;
    *out = v;
    return 0;
}

int ls_cast_bool(const char *p, size_t n, int *out)
{
    trim(&p, &n);
    static const char *const yes[] = { "t", "true", "y", "yes", "1" };
    static const char *const no[] = { "f", "false", "n", "no", "0" };
    for (size_t i = 0; i < 5; i++) {
        if (eq_nocase(p, n, yes[i])) {
            *out = 1;
            return 0;
        }
        if (eq_nocase(p, n, no[i])) {
            *out = 0;
            return 0;
        }
    }
    return -1;
}

static const struct { const char *name; ls_type t; } types[] = {
    { "string", LS_TYPE_STRING },   { "int", LS_TYPE_INT },         { "integer", LS_TYPE_INT },
    { "bigint", LS_TYPE_BIGINT },   { "long", LS_TYPE_BIGINT },     { "double", LS_TYPE_DOUBLE },
    { "float", LS_TYPE_DOUBLE },    { "boolean", LS_TYPE_BOOLEAN }, { "timestamp", LS_TYPE_TIMESTAMP },
};

int ls_type_parse(const char *name, ls_type *t)
{
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (strcmp(name, types[i].name) == 0) {
            *t = types[i].t;
            return 0;
        }
    return -1;
}

const char *ls_type_name(ls_type t)
{
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (types[i].t == t) return types[i].name;
    return "?";
}

int ls_cast_value(ls_type t, ls_value *v, ls_buf *scratch)
{
    if (v->type == LS_NULL) return 0;
    if (t == LS_TYPE_TIMESTAMP && (v->type == LS_INT || v->type == LS_DOUBLE)) {
        /* a JSON number as a timestamp: epoch seconds, as from_json reads it */
        int64_t ms;
        if (v->type == LS_INT) {
            if (__builtin_mul_overflow(v->u.i, 1000, &ms)) goto null;
        } else {
            if (!(v->u.d > -9.2e12 && v->u.d < 9.2e12)) goto null;
            int64_t us = (int64_t)(v->u.d * 1e6); /* Spark: to microseconds, truncated */
            ms = us / 1000 - (us % 1000 < 0);
        }
        *v = ls_timestamp(ms);
        return 0;
    }
    if ((t == LS_TYPE_TIMESTAMP && v->type == LS_TIME) || (t == LS_TYPE_STRING && v->type == LS_STR))
        return 0;
    /* Any other value is read as the text a string column of from_json
     * would hold (5 -> "5", 7.50 -> "7.5", true -> "true"), then cast. */
    size_t at = scratch->len;
    const char *p;
    size_t n;
    if (v->type == LS_STR) {
        p = v->u.s.p;
        n = v->u.s.n;
    } else if (v->type == LS_INT || v->type == LS_DOUBLE || v->type == LS_BOOL || v->type == LS_TIME) {
        ls_value_text(scratch, v);
        p = scratch->data + at;
        n = scratch->len - at;
    } else {
        goto null;
    }
    int64_t i;
    double d;
    int b;
    switch (t) {
    case LS_TYPE_STRING:
        *v = ls_str(p, n);
        return 0;
    case LS_TYPE_INT:
        if (ls_cast_int(p, n, &i)) goto null;
        *v = ls_int(i);
        return 0;
    case LS_TYPE_BIGINT:
        if (ls_cast_bigint(p, n, &i)) goto null;
        *v = ls_int(i);
        return 0;
    case LS_TYPE_DOUBLE:
        if (ls_cast_double(p, n, &d)) goto null;
        *v = ls_double(d);
        return 0;
    case LS_TYPE_BOOLEAN:
        if (ls_cast_bool(p, n, &b)) goto null;
        v->type = LS_BOOL;
        v->u.b = b;
        return 0;
    case LS_TYPE_TIMESTAMP:
        if (ls_time_parse(p, n, &i)) goto null;
        *v = ls_timestamp(i);
        return 0;
    }
null:
    *v = ls_null();
    return 1;
}
