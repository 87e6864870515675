/* ls_json_scan.c - validating single-pass JSON scanner with top-level
 * projection (see ls_json_scan.h). Grammar per RFC 8259. */
#include "ls_json_scan.h"

#include <stdlib.h>
#include <string.h>

typedef struct scan {
    const char *start, *p, *end;
    const ls_fieldset *fields;
    ls_recview *view;
    ls_err *err;
} scan;

void ls_recview_init(ls_recview *v, size_t nfields)
{
    v->n = nfields;
    v->vals = ls_xcalloc(nfields + 1, sizeof *v->vals);
    v->nested = ls_xcalloc(nfields + 1, 1);
    v->present = ls_xcalloc(nfields + 1, 1);
    ls_buf_init(&v->arena);
}

void ls_recview_free(ls_recview *v)
{
    free(v->vals);
    free(v->nested);
    free(v->present);
    ls_buf_free(&v->arena);
}

static int bad(scan *s, const char *what)
{
    ls_seterr(s->err, "invalid JSON at byte %zu: %s", (size_t)(s->p - s->start), what);
    return -1;
}

static void ws(scan *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\n' || *s->p == '\r' || *s->p == '\t'))
        s->p++;
}

/* Validates one UTF-8 sequence at s->p (first byte >= 0x80). */
static int utf8_seq(scan *s)
{
    const unsigned char *u = (const unsigned char *)s->p;
    size_t left = (size_t)(s->end - s->p);
    unsigned c = u[0], cp;
    size_t len;
    if (c >= 0xC2 && c <= 0xDF) { len = 2; cp = c & 0x1F; }
    else if (c >= 0xE0 && c <= 0xEF) { len = 3; cp = c & 0x0F; }
    else if (c >= 0xF0 && c <= 0xF4) { len = 4; cp = c & 0x07; }
    else return bad(s, "invalid UTF-8");
    if (left < len) return bad(s, "invalid UTF-8");
    for (size_t i = 1; i < len; i++) {
        if ((u[i] & 0xC0) != 0x80) return bad(s, "invalid UTF-8");
        cp = cp << 6 | (u[i] & 0x3F);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
        return bad(s, "invalid UTF-8");
    s->p += len;
    return 0;
}

static int hex4(scan *s, const char *q, unsigned *out)
{
    unsigned v = 0;
    if (s->end - q < 4) return -1;
    for (int i = 0; i < 4; i++) {
        char c = q[i];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
        else return -1;
    }
    *out = v;
    return 0;
}

static void put_utf8(ls_buf *b, unsigned cp)
{
    char t[4];
    size_t n;
    if (cp < 0x80) { t[0] = (char)cp; n = 1; }
    else if (cp < 0x800) { t[0] = (char)(0xC0 | cp >> 6); t[1] = (char)(0x80 | (cp & 0x3F)); n = 2; }
    else if (cp < 0x10000) {
        t[0] = (char)(0xE0 | cp >> 12); t[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        t[2] = (char)(0x80 | (cp & 0x3F)); n = 3;
    } else {
        t[0] = (char)(0xF0 | cp >> 18); t[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        t[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); t[3] = (char)(0x80 | (cp & 0x3F)); n = 4;
    }
    ls_buf_append(b, t, n); /* capacity was reserved up front: no realloc */
}

/* Scans a string at s->p (on the opening quote). With out, stores its
 * unescaped value: a pointer into the message when it has no escapes,
 * else into the arena. */
static int string(scan *s, ls_value *out)
{
    const char *begin = ++s->p;
    int escaped = 0;
    for (;;) {
        /* fast path: plain ASCII */
        while (s->p < s->end) {
            unsigned char c = (unsigned char)*s->p;
            if (c == '"' || c == '\\' || c < 0x20 || c >= 0x80) break;
            s->p++;
        }
        if (s->p >= s->end) return bad(s, "unterminated string");
        unsigned char c = (unsigned char)*s->p;
        if (c == '"') break;
        if (c < 0x20) return bad(s, "control character in string");
        if (c >= 0x80) {
            if (utf8_seq(s)) return -1;
            continue;
        }
        /* backslash */
        escaped = 1;
        if (s->end - s->p < 2) return bad(s, "unterminated string");
        char e = s->p[1];
        if (e == 'u') {
            unsigned cp;
            if (hex4(s, s->p + 2, &cp)) return bad(s, "bad \\u escape");
            s->p += 6;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                unsigned lo;
                if (s->end - s->p < 6 || s->p[0] != '\\' || s->p[1] != 'u' ||
                    hex4(s, s->p + 2, &lo) || lo < 0xDC00 || lo > 0xDFFF)
                    return bad(s, "unpaired surrogate in \\u escape");
                s->p += 6;
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                return bad(s, "unpaired surrogate in \\u escape");
            }
        } else if (strchr("\"\\/bfnrt", e) && e) {
            s->p += 2;
        } else {
            return bad(s, "bad escape in string");
        }
    }
    const char *stop = s->p++; /* past the closing quote */
    if (!out) return 0;
    if (!escaped) {
        *out = ls_str(begin, (size_t)(stop - begin));
        return 0;
    }
    ls_buf *a = &s->view->arena;
    size_t at = a->len;
    for (const char *q = begin; q < stop;) {
        if (*q != '\\') {
            const char *r = q;
            while (r < stop && *r != '\\') r++;
            ls_buf_append(a, q, (size_t)(r - q));
            q = r;
            continue;
        }
        char e = q[1];
        unsigned cp;
        switch (e) {
        case 'b': ls_buf_putc(a, '\b'); q += 2; break;
        case 'f': ls_buf_putc(a, '\f'); q += 2; break;
        case 'n': ls_buf_putc(a, '\n'); q += 2; break;
        case 'r': ls_buf_putc(a, '\r'); q += 2; break;
        case 't': ls_buf_putc(a, '\t'); q += 2; break;
        case 'u':
            hex4(s, q + 2, &cp);
            q += 6;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                unsigned lo;
                hex4(s, q + 2, &lo);
                q += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            put_utf8(a, cp);
            break;
        default: ls_buf_putc(a, e); q += 2; break; /* " \ / */
        }
    }
    *out = ls_str(a->data + at, a->len - at);
    return 0;
}

static int number(scan *s, ls_value *out)
{
    const char *b = s->p;
    int integral = 1;
    if (s->p < s->end && *s->p == '-') s->p++;
    if (s->p >= s->end) return bad(s, "bad number");
    if (*s->p == '0') s->p++;
    else if (*s->p >= '1' && *s->p <= '9') while (s->p < s->end && *s->p >= '0' && *s->p <= '9') s->p++;
    else return bad(s, "bad number");
    if (s->p < s->end && *s->p == '.') {
        integral = 0;
        s->p++;
        if (s->p >= s->end || *s->p < '0' || *s->p > '9') return bad(s, "bad number");
        while (s->p < s->end && *s->p >= '0' && *s->p <= '9') s->p++;
    }
    if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
        integral = 0;
        s->p++;
        if (s->p < s->end && (*s->p == '+' || *s->p == '-')) s->p++;
        if (s->p >= s->end || *s->p < '0' || *s->p > '9') return bad(s, "bad number");
        while (s->p < s->end && *s->p >= '0' && *s->p <= '9') s->p++;
    }
    if (!out) return 0;
    size_t len = (size_t)(s->p - b);
    char small[64];
    char *tmp = len < sizeof small ? small : ls_xmalloc(len + 1); /* long numbers are rare */
    memcpy(tmp, b, len);
    tmp[len] = '\0';
    if (integral) {
        /* overflow-checked base-10 accumulation */
        const char *q = tmp;
        int neg = *q == '-';
        if (neg) q++;
        uint64_t v = 0;
        int ok = 1;
        for (; *q; q++) {
            if (v > (UINT64_MAX - 9) / 10) { ok = 0; break; }
            v = v * 10 + (uint64_t)(*q - '0');
        }
        if (ok && (neg ? v <= (uint64_t)INT64_MAX + 1 : v <= (uint64_t)INT64_MAX)) {
            *out = ls_int(neg ? (int64_t)(0 - v) : (int64_t)v);
            if (tmp != small) free(tmp);
            return 0;
        }
    }
    *out = ls_double(strtod(tmp, NULL));
    if (tmp != small) free(tmp);
    return 0;
}

static int literal(scan *s, const char *word, size_t n)
{
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0) return bad(s, "unexpected character");
    s->p += n;
    return 0;
}

static int value(scan *s, int depth, ls_value *out, uint8_t *nested);

static int object(scan *s, int depth, int top)
{
    s->p++; /* { */
    ws(s);
    if (s->p < s->end && *s->p == '}') {
        s->p++;
        return 0;
    }
    for (;;) {
        ws(s);
        if (s->p >= s->end || *s->p != '"') return bad(s, "expected a string key");
        ls_value key;
        if (string(s, top ? &key : NULL)) return -1;
        ws(s);
        if (s->p >= s->end || *s->p != ':') return bad(s, "expected ':'");
        s->p++;
        ws(s);
        long slot = -1;
        if (top && s->fields) {
            for (size_t i = 0; i < s->fields->n; i++)
                if (s->fields->lens[i] == key.u.s.n &&
                    memcmp(s->fields->names[i], key.u.s.p, key.u.s.n) == 0) {
                    slot = (long)i;
                    break;
                }
        }
        if (slot >= 0) {
            s->view->nested[slot] = 0;
            s->view->present[slot] = 1;
            if (value(s, depth + 1, &s->view->vals[slot], &s->view->nested[slot])) return -1;
        } else if (value(s, depth + 1, NULL, NULL)) {
            return -1;
        }
        ws(s);
        if (s->p >= s->end) return bad(s, "unterminated object");
        if (*s->p == ',') { s->p++; continue; }
        if (*s->p == '}') { s->p++; return 0; }
        return bad(s, "expected ',' or '}'");
    }
}

static int array(scan *s, int depth)
{
    s->p++; /* [ */
    ws(s);
    if (s->p < s->end && *s->p == ']') {
        s->p++;
        return 0;
    }
    for (;;) {
        ws(s);
        if (value(s, depth + 1, NULL, NULL)) return -1;
        ws(s);
        if (s->p >= s->end) return bad(s, "unterminated array");
        if (*s->p == ',') { s->p++; continue; }
        if (*s->p == ']') { s->p++; return 0; }
        return bad(s, "expected ',' or ']'");
    }
}

/* One value; out/nested receive it when this is a projected field. */
static int value(scan *s, int depth, ls_value *out, uint8_t *nested)
{
    if (s->p >= s->end) return bad(s, "unexpected end");
    switch (*s->p) {
    case '{':
    case '[':
        /* depth counts containers, as the Lua-table decoder does */
        if (depth > LS_JSON_MAX_DEPTH) {
            ls_seterr(s->err, "JSON nested deeper than %d levels", LS_JSON_MAX_DEPTH);
            return -1;
        }
        if (out) { *out = ls_null(); *nested = 1; }
        return *s->p == '{' ? object(s, depth, 0) : array(s, depth);
    case '"':
        return string(s, out);
    case 't':
        if (out) { out->type = LS_BOOL; out->u.b = 1; }
        return literal(s, "true", 4);
    case 'f':
        if (out) { out->type = LS_BOOL; out->u.b = 0; }
        return literal(s, "false", 5);
    case 'n':
        if (out) *out = ls_null();
        return literal(s, "null", 4);
    default:
        if (*s->p == '-' || (*s->p >= '0' && *s->p <= '9')) return number(s, out);
        return bad(s, "unexpected character");
    }
}

int ls_json_scan(const char *p, size_t n, const ls_fieldset *fields, ls_recview *view, ls_err *err)
{
    scan s = { p, p, p + n, fields, view, err };
    for (size_t i = 0; i < view->n; i++) {
        view->vals[i] = ls_null();
        view->nested[i] = 0;
        view->present[i] = 0;
    }
    ls_buf_reset(&view->arena);
    ls_buf_reserve(&view->arena, n); /* unescaped text never exceeds the input */
    ws(&s);
    if (s.p >= s.end) {
        ls_seterr(err, "empty message");
        return -1;
    }
    if (*s.p != '{') {
        /* still tell garbage from valid non-objects */
        if (value(&s, 1, NULL, NULL)) return -1;
        ws(&s);
        if (s.p != s.end) return bad(&s, "trailing characters");
        ls_seterr(err, "not a JSON object");
        return -1;
    }
    if (object(&s, 1, 1)) return -1;
    ws(&s);
    if (s.p != s.end) return bad(&s, "trailing characters");
    return 0;
}
