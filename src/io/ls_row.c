/* ls_row.c - JSON rendering of result rows.
 *
 * Two writers of the same bytes. ls_row_json goes through a yajl generator
 * (yajl does the escaping): the memory sink, tests, and the reference. The
 * row writer (ls_row_write) formats a row straight into the sink's output
 * buffer: the column names rendered once per query (",\"name\":"), strings
 * checked and copied 8 bytes at a time and escaped only when they need it,
 * numbers and timestamps written in place, the last two timestamps kept
 * formatted, and the date of the last day (rows come grouped by window in
 * the state's memory order). Measured with bench/rows.sh (one core, rows
 * of scripts/pipeline.lua's window query into the jsonl sink): 1.2-1.4M
 * rows per CPU second through the generator (yajl's state machine per
 * token, a copy out of its buffer, then stdio's), 4.8-5.7M with the writer
 * (bench/README.md, "Row writer"). Its output is yajl's byte for byte,
 * which tests/unit/test_sinks.c checks on random rows: yajl's escapes
 * (\" \\ \b \f \n \r \t, other control characters as \u00XX in upper case,
 * nothing else), its lax UTF-8 check (a string it refuses becomes null, as
 * ls_row_json_with does), ls_value_json's numbers. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <yajl_gen.h>

#include "ls_sink.h"
#include "ls_time.h"

yajl_gen ls_row_gen_new(void)
{
    yajl_gen g = yajl_gen_alloc(NULL);
    yajl_gen_config(g, yajl_gen_validate_utf8, 1);
    return g;
}

void ls_row_json(const ls_row *row, int key_only, ls_buf *out)
{
    yajl_gen g = ls_row_gen_new();
    ls_row_json_with(g, row, key_only, out);
    yajl_gen_free(g);
}

void ls_row_json_with(yajl_gen g, const ls_row *row, int key_only, ls_buf *out)
{
    yajl_gen_map_open(g);
    size_t n = key_only ? row->nkey : row->ncols;
    for (size_t i = 0; i < n; i++) {
        yajl_gen_string(g, (const unsigned char *)row->names[i], strlen(row->names[i]));
        if (ls_value_json(g, &row->vals[i]) != yajl_gen_status_ok) {
            /* Invalid UTF-8 in a string value: keep the row, null the cell. */
            yajl_gen_null(g);
        }
    }
    yajl_gen_map_close(g);
    ls_json_take(g, out);
    yajl_gen_reset(g, NULL);
}

/* ---- the row writer -------------------------------------------------------- */

/* yajl_string_validate_utf8: lead bytes 110xxxxx, 1110xxxx, 11110xxx followed
 * by as many 10xxxxxx (overlong forms and surrogates pass, as in yajl). */
static int yajl_utf8_ok(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i++];
        size_t more;
        if (c <= 0x7f) continue;
        if ((c >> 5) == 0x6) more = 1;
        else if ((c >> 4) == 0xe) more = 2;
        else if ((c >> 3) == 0x1e) more = 3;
        else return 0;
        if (n - i < more) return 0;
        for (; more; more--)
            if ((s[i++] >> 6) != 0x2) return 0;
    }
    return 1;
}

#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL

/* Does a word hold a byte that a JSON string cannot take as it is (below
 * 0x20, '"', '\\') or one above 0x7f (to validate)? */
static inline int word_special(uint64_t w)
{
    uint64_t ctl = (w - ONES * 0x20) & ~w;
    uint64_t q = w ^ (ONES * '"'), b = w ^ (ONES * '\\');
    q = (q - ONES) & ~q;
    b = (b - ONES) & ~b;
    return ((ctl | q | b) & HIGHS) != 0 || (w & HIGHS) != 0;
}

static int plain(const unsigned char *s, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        if (word_special(w)) return 0;
    }
    for (; i < n; i++)
        if (s[i] < 0x20 || s[i] == '"' || s[i] == '\\' || s[i] >= 0x80) return 0;
    return 1;
}

static inline char *room(ls_buf *out, size_t n)
{
    if (out->len + n >= out->cap) ls_buf_reserve(out, n);
    return out->data + out->len;
}

/* A JSON string as yajl_gen_string writes it; 0, or -1 (nothing written)
 * when yajl would refuse it. */
static int put_string(ls_buf *out, const char *p, size_t n)
{
    const unsigned char *s = (const unsigned char *)p;
    if (plain(s, n)) {
        char *d = room(out, n + 2);
        d[0] = '"';
        if (n) memcpy(d + 1, s, n);
        d[n + 1] = '"';
        out->len += n + 2;
        return 0;
    }
    if (!yajl_utf8_ok(s, n)) return -1;
    static const char hex[] = "0123456789ABCDEF";
    char *d = room(out, 6 * n + 2), *d0 = d;
    *d++ = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = s[i];
        char e = 0;
        switch (c) {
        case '\r': e = 'r'; break;
        case '\n': e = 'n'; break;
        case '\\': e = '\\'; break;
        case '"': e = '"'; break;
        case '\f': e = 'f'; break;
        case '\b': e = 'b'; break;
        case '\t': e = 't'; break;
        default:
            if (c < 0x20) {
                memcpy(d, "\\u00", 4);
                d[4] = hex[c >> 4];
                d[5] = hex[c & 15];
                d += 6;
                continue;
            }
            *d++ = (char)c;
            continue;
        }
        d[0] = '\\';
        d[1] = e;
        d += 2;
    }
    *d++ = '"';
    out->len += (size_t)(d - d0);
    return 0;
}

static inline void put_bytes(ls_buf *out, const char *p, size_t n)
{
    char *d = room(out, n);
    memcpy(d, p, n);
    out->len += n;
}

static void put_int(ls_buf *out, int64_t v)
{
    char t[24], *p = t + sizeof t;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0) *--p = '-';
    put_bytes(out, p, (size_t)(t + sizeof t - p));
}

static inline char *put2(char *p, int v)
{
    p[0] = (char)('0' + v / 10);
    p[1] = (char)('0' + v % 10);
    return p + 2;
}

/* A timestamp as a JSON string, as ls_time_format_ms writes it. The last
 * two are kept whole, and the date of the last day formatted: most rows
 * share their window's day, and the calendar is the costly part. */
static void put_time(ls_rowfmt *f, ls_buf *out, int64_t ms)
{
    for (int k = 0; k < 2; k++)
        if (f->tcache[k].len && f->tcache[k].ms == ms) {
            put_bytes(out, f->tcache[k].text, f->tcache[k].len);
            return;
        }
    int k = f->tnext;
    f->tnext ^= 1;
    char *t = f->tcache[k].text;
    int64_t day = ms / 86400000 - (ms % 86400000 < 0);
    t[0] = '"';
    if (f->day_ok && day == f->day) {
        int64_t r = ms - day * 86400000; /* 0 .. 86399999 */
        memcpy(t + 1, f->date, 10);
        char *p = t + 11;
        *p++ = 'T';
        p = put2(p, (int)(r / 3600000));
        *p++ = ':';
        p = put2(p, (int)(r / 60000 % 60));
        *p++ = ':';
        p = put2(p, (int)(r / 1000 % 60));
        *p++ = '.';
        *p++ = (char)('0' + r % 1000 / 100);
        p = put2(p, (int)(r % 100));
        *p++ = 'Z';
        f->tcache[k].len = (size_t)(p - t);
    } else {
        size_t n = ls_time_format_ms(ms, t + 1);
        f->tcache[k].len = n + 1;
        /* "YYYY-MM-DDThh:mm:ss.fffZ": its date serves the rest of the day */
        f->day_ok = n == 24 && t[11] == 'T';
        if (f->day_ok) {
            f->day = day;
            memcpy(f->date, t + 1, 10);
        }
    }
    t[f->tcache[k].len++] = '"';
    f->tcache[k].ms = ms;
    put_bytes(out, t, f->tcache[k].len);
}

static void put_double(ls_buf *out, double d)
{
    if (!isfinite(d)) { /* Spark's strings */
        if (isnan(d)) put_bytes(out, "\"NaN\"", 5);
        else if (d > 0) put_bytes(out, "\"Infinity\"", 10);
        else put_bytes(out, "\"-Infinity\"", 11);
        return;
    }
    char t[40];
    put_bytes(out, t, ls_double_text(d, t));
}

/* A value as ls_value_json writes it; -1 (nothing written) for a string
 * yajl refuses. */
static int put_value(ls_rowfmt *f, ls_buf *out, const ls_value *v)
{
    switch (v->type) {
    case LS_NULL: put_bytes(out, "null", 4); return 0;
    case LS_BOOL: put_bytes(out, v->u.b ? "true" : "false", v->u.b ? 4 : 5); return 0;
    case LS_INT: put_int(out, v->u.i); return 0;
    case LS_DOUBLE: put_double(out, v->u.d); return 0;
    case LS_TIME: put_time(f, out, v->u.i); return 0;
    case LS_STR: return put_string(out, v->u.s.p, v->u.s.n);
    case LS_LIST:
        ls_buf_putc(out, '[');
        for (uint32_t i = 0; i < v->u.l.n; i++) {
            ls_value e = ls_list_at(v, i);
            if (i) ls_buf_putc(out, ',');
            put_value(f, out, &e); /* numbers and timestamps: never refused */
        }
        ls_buf_putc(out, ']');
        return 0;
    case LS_WINDOW:
        put_bytes(out, "{\"start\":", 9);
        put_time(f, out, v->u.w.start);
        put_bytes(out, ",\"end\":", 7);
        put_time(f, out, v->u.w.end);
        ls_buf_putc(out, '}');
        return 0;
    }
    put_bytes(out, "null", 4);
    return 0;
}

void ls_rowfmt_init(ls_rowfmt *f)
{
    memset(f, 0, sizeof *f);
    ls_buf_init(&f->text);
}

void ls_rowfmt_free(ls_rowfmt *f)
{
    ls_buf_free(&f->text);
    free(f->off);
    free(f->cached);
    if (f->gen) yajl_gen_free(f->gen);
    ls_rowfmt_init(f);
}

/* The names of row rendered once: piece i is ",\"name\":" ('{' instead of
 * ',' for the first). Rebuilt when the row's names are not the ones it was
 * made for (a sink serves one query, so that happens once). */
static void prepare(ls_rowfmt *f, const ls_row *row)
{
    if (f->cached && f->ncols == row->ncols) {
        size_t i = 0;
        while (i < row->ncols && f->cached[i] == row->names[i]) i++;
        if (i == row->ncols) return;
    }
    free(f->off);
    free(f->cached);
    ls_buf_reset(&f->text);
    f->ncols = row->ncols;
    f->cached = ls_xcalloc(row->ncols + 1, sizeof *f->cached);
    f->off = ls_xcalloc(row->ncols + 1, sizeof *f->off);
    f->use_yajl = 0;
    for (size_t i = 0; i < row->ncols; i++) {
        f->cached[i] = row->names[i];
        f->off[i] = f->text.len;
        ls_buf_putc(&f->text, i ? ',' : '{');
        /* a name yajl would refuse: its generator's own (odd) output then */
        if (put_string(&f->text, row->names[i], strlen(row->names[i]))) f->use_yajl = 1;
        ls_buf_putc(&f->text, ':');
    }
    f->off[row->ncols] = f->text.len;
    if (f->use_yajl && !f->gen) f->gen = ls_row_gen_new();
}

size_t ls_row_write(ls_rowfmt *f, const ls_row *row, ls_buf *out)
{
    prepare(f, row);
    size_t start = out->len;
    if (f->use_yajl) {
        ls_row_json_with(f->gen, row, 0, out);
        return SIZE_MAX;
    }
    size_t key_end = 0;
    for (size_t i = 0; i < row->ncols; i++) {
        put_bytes(out, f->text.data + f->off[i], f->off[i + 1] - f->off[i]);
        if (put_value(f, out, &row->vals[i])) put_bytes(out, "null", 4);
        if (i + 1 == row->nkey) key_end = out->len - start;
    }
    if (!row->ncols) ls_buf_putc(out, '{');
    if (!row->nkey) key_end = 1; /* "{" */
    ls_buf_putc(out, '}'); /* and the buffer's NUL, which the pieces above did not write */
    return key_end;
}
