/* ls_json_scan.c - validating single-pass JSON scanner with top-level
 * projection (see ls_json_scan.h). Grammar per RFC 8259.
 *
 * Owns the pieces every implementation shares (the view, errors, UTF-8
 * sequences, escapes and unescaping, numbers, literals, field lookup), the
 * search for the end of a run of plain string bytes in its three forms
 * (scalar, SSE2, AVX2), the grammar compiled once per form from
 * ls_json_scan_body.inc, and the choice among them (ls_json_scan_impl.h).
 *
 * Why SIMD: the string loop, one byte at a time, was 46% of all the
 * instructions of the filter benchmark's process (callgrind, bench/README.md,
 * 2026-11-30); a police call is 28 strings (keys and values, 11.6 bytes on
 * average) in 412 bytes. Testing 16 bytes at a time (SSE2, the x86-64
 * baseline) or 32 (AVX2, chosen at run time with __builtin_cpu_supports;
 * only the functions that use it are compiled for it, with a target
 * attribute, so the binary still runs on any x86-64) took the sample's
 * calls from 7,274 to about 3,000 instructions and from about 500 to about
 * 220 ns per record (bench/scan.sh; figures in bench/README.md). AVX2 only
 * gains on long strings (6-11% on 2 KB messages of text), so it starts
 * with two 16-byte tests and only its long-string loop is AVX2 code. The
 * vector loads never read outside the message: whole vectors while that
 * many bytes remain, then one load that ends at the message's last byte
 * (bytes already seen masked off), or one byte at a time when the whole
 * message is shorter than a vector. Other platforms get
 * the scalar form only. */
#include "ls_json_scan.h"
#include "ls_json_scan_impl.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define LS_SCAN_X86 1
#include <immintrin.h>
#endif

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

/* Whitespace. Most calls find none (compact messages: about 56 calls per
 * police call, none with whitespace), so one test first: every byte that
 * can follow is above ' ' (5% fewer instructions on the sample). Runs are
 * short even in pretty JSON (bench/scan.sh's indent-2 calls: 114 bytes of
 * whitespace in about 30 runs per record), so no vector form was written. */
static inline void ws(scan *s)
{
    const char *p = s->p, *end = s->end;
    if (p >= end || (unsigned char)*p > ' ') return;
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) p++;
    s->p = p;
}

/* Validates one UTF-8 sequence at s->p (first byte >= 0x80). Inlined into
 * string(): as a call it cost 15% more instructions on bench/scan.sh's
 * utf8 corpus (text in Greek, Russian, Chinese...). */
static inline __attribute__((always_inline)) int utf8_seq(scan *s)
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

/* Validates the escape at s->p (on the backslash) and moves past it. */
static int escape(scan *s)
{
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

/* The value of the validated string [begin, stop) with escapes, in the arena. */
static void unescape(scan *s, const char *begin, const char *stop, ls_value *out)
{
    ls_buf *a = &s->view->arena;
    size_t at = a->len;
    for (const char *q = begin; q < stop;) {
        if (*q != '\\') {
            const char *r = memchr(q, '\\', (size_t)(stop - q)); /* libc's, vectorised */
            if (!r) r = stop;
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

/* The projection slot of a top-level key, or -1. */
static inline long field_slot(const scan *s, const ls_value *key)
{
    if (!s->fields) return -1;
    for (size_t i = 0; i < s->fields->n; i++)
        if (s->fields->lens[i] == key->u.s.n &&
            memcmp(s->fields->names[i], key->u.s.p, key->u.s.n) == 0)
            return (long)i;
    return -1;
}

/* ---- the end of a run of plain string bytes ---------------------------- */

/* One byte at a time: the reference, and the only form off x86-64. */
static inline const char *run_scalar(const char *p, const char *end)
{
    while (p < end) {
        unsigned char c = (unsigned char)*p;
        if (c == '"' || c == '\\' || c < 0x20 || c >= 0x80) break;
        p++;
    }
    return p;
}

#ifdef LS_SCAN_X86
/* Bit i set when byte i of x ends a run: '"', '\\', or (as a signed byte)
 * below 0x20, which takes in control characters and every byte >= 0x80. */
static inline unsigned stops_sse2(__m128i x)
{
    __m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('"')),
                                          _mm_cmpeq_epi8(x, _mm_set1_epi8('\\'))),
                             _mm_cmplt_epi8(x, _mm_set1_epi8(0x20)));
    return (unsigned)_mm_movemask_epi8(m);
}

/* 16 bytes at a time over [p, end); the last partial vector is the 16
 * bytes ending at end when the message has them (bits before p dropped). */
static inline const char *run_sse2(const char *start, const char *p, const char *end)
{
    while (end - p >= 16) {
        unsigned bits = stops_sse2(_mm_loadu_si128((const __m128i *)(const void *)p));
        if (bits) return p + __builtin_ctz(bits);
        p += 16;
    }
    if (p >= end) return end;
    if (end - start < 16) return run_scalar(p, end);
    const char *t = end - 16;
    unsigned bits = stops_sse2(_mm_loadu_si128((const __m128i *)(const void *)t)) >> (p - t);
    return bits ? p + __builtin_ctz(bits) : end;
}

__attribute__((target("avx2"))) static inline unsigned stops_avx2(__m256i x)
{
    __m256i m = _mm256_or_si256(_mm256_or_si256(_mm256_cmpeq_epi8(x, _mm256_set1_epi8('"')),
                                                _mm256_cmpeq_epi8(x, _mm256_set1_epi8('\\'))),
                                _mm256_cmpgt_epi8(_mm256_set1_epi8(0x20), x));
    return (unsigned)_mm256_movemask_epi8(m);
}

/* Past a string's first 32 bytes: 32 bytes at a time, then as run_sse2
 * for the last 0-31. The only code compiled for AVX2, out of line: the
 * grammar around it is the same code as the SSE2 form's, and one call per
 * string longer than 32 bytes is small next to the bytes it scans. */
__attribute__((target("avx2"), noinline)) static const char *run_avx2_long(const char *start,
                                                                           const char *p,
                                                                           const char *end)
{
    while (end - p >= 32) {
        unsigned bits = stops_avx2(_mm256_loadu_si256((const __m256i *)(const void *)p));
        if (bits) return p + __builtin_ctz(bits);
        p += 32;
    }
    return run_sse2(start, p, end);
}

/* The first 32 bytes 16 at a time, as run_sse2 (99.9% of the sample's
 * strings are shorter, 77% under 16), the rest in run_avx2_long. */
static inline const char *run_avx2(const char *start, const char *p, const char *end)
{
    for (int i = 0; i < 2; i++) {
        if (end - p < 16) return run_sse2(start, p, end);
        unsigned bits = stops_sse2(_mm_loadu_si128((const __m128i *)(const void *)p));
        if (bits) return p + __builtin_ctz(bits);
        p += 16;
    }
    return run_avx2_long(start, p, end);
}
#endif

/* ---- the grammar, once per implementation ------------------------------ */

#define SCAN_WS(s) ws(s)

#define SCAN_FN(name) name##_scalar
#define SCAN_ATTR static
#define SCAN_RUN(s) run_scalar((s)->p, (s)->end)
#include "ls_json_scan_body.inc"
#undef SCAN_FN
#undef SCAN_ATTR
#undef SCAN_RUN

#ifdef LS_SCAN_X86
#define SCAN_FN(name) name##_sse2
#define SCAN_ATTR static
#define SCAN_RUN(s) run_sse2((s)->start, (s)->p, (s)->end)
#include "ls_json_scan_body.inc"
#undef SCAN_FN
#undef SCAN_ATTR
#undef SCAN_RUN

#define SCAN_FN(name) name##_avx2
#define SCAN_ATTR static
#define SCAN_RUN(s) run_avx2((s)->start, (s)->p, (s)->end)
#include "ls_json_scan_body.inc"
#undef SCAN_FN
#undef SCAN_ATTR
#undef SCAN_RUN
#endif

/* ---- which implementation ----------------------------------------------- */

typedef int (*document_fn)(scan *s);

static const char *const impl_names[LS_SCAN_NIMPL] = { "scalar", "sse2", "avx2" };

static document_fn impl_fn(ls_scan_impl impl)
{
    switch (impl) {
    case LS_SCAN_SCALAR: return document_scalar;
#ifdef LS_SCAN_X86
    case LS_SCAN_SSE2: return document_sse2;
    case LS_SCAN_AVX2: return __builtin_cpu_supports("avx2") ? document_avx2 : NULL;
#endif
    default: return NULL;
    }
}

const char *ls_json_scan_impl_name(ls_scan_impl impl)
{
    return (unsigned)impl < LS_SCAN_NIMPL ? impl_names[impl] : "?";
}

int ls_json_scan_impl_available(ls_scan_impl impl)
{
    return impl_fn(impl) != NULL;
}

/* -1 until the first scan chooses. */
static _Atomic int current = -1;

static ls_scan_impl choose(void)
{
    ls_scan_impl best = LS_SCAN_SCALAR;
    for (int i = LS_SCAN_NIMPL - 1; i > 0; i--)
        if (ls_json_scan_impl_available((ls_scan_impl)i)) {
            best = (ls_scan_impl)i;
            break;
        }
    const char *env = getenv("LS_JSON_SCAN");
    if (env)
        for (int i = 0; i < LS_SCAN_NIMPL; i++)
            if (strcmp(env, impl_names[i]) == 0 && ls_json_scan_impl_available((ls_scan_impl)i))
                best = (ls_scan_impl)i;
    return best;
}

ls_scan_impl ls_json_scan_impl(void)
{
    int c = atomic_load_explicit(&current, memory_order_relaxed);
    if (c < 0) {
        c = (int)choose(); /* every thread chooses the same */
        atomic_store_explicit(&current, c, memory_order_relaxed);
    }
    return (ls_scan_impl)c;
}

int ls_json_scan_set_impl(ls_scan_impl impl)
{
    if (!ls_json_scan_impl_available(impl)) return -1;
    atomic_store_explicit(&current, (int)impl, memory_order_relaxed);
    return 0;
}

static int scan_with(document_fn fn, const char *p, size_t n, const ls_fieldset *fields,
                     ls_recview *view, ls_err *err)
{
    scan s = { p, p, p + n, fields, view, err };
    for (size_t i = 0; i < view->n; i++) {
        view->vals[i] = ls_null();
        view->nested[i] = 0;
        view->present[i] = 0;
    }
    ls_buf_reset(&view->arena);
    ls_buf_reserve(&view->arena, n); /* unescaped text never exceeds the input */
    return fn(&s);
}

int ls_json_scan_with(ls_scan_impl impl, const char *p, size_t n, const ls_fieldset *fields,
                      ls_recview *view, ls_err *err)
{
    document_fn fn = impl_fn(impl);
    if (!fn) {
        ls_seterr(err, "JSON scanner %s is not available on this CPU", ls_json_scan_impl_name(impl));
        return -1;
    }
    return scan_with(fn, p, n, fields, view, err);
}

int ls_json_scan(const char *p, size_t n, const ls_fieldset *fields, ls_recview *view, ls_err *err)
{
    static document_fn const fns[LS_SCAN_NIMPL] = {
        document_scalar,
#ifdef LS_SCAN_X86
        document_sse2, document_avx2,
#endif
    };
    return scan_with(fns[ls_json_scan_impl()], p, n, fields, view, err);
}
