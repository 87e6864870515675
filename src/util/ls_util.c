/* ls_util.c - allocation, byte buffers, clocks, UTF-8 check, base64, UUIDs. */
#include "ls_util.h"

#include <ctype.h>

#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/random.h>
#include <unistd.h>

static void oom(size_t n)
{
    fprintf(stderr, "luastream: out of memory allocating %zu bytes\n", n);
    abort();
}

void *ls_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) oom(n);
    return p;
}

void *ls_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) oom(n * size);
    return p;
}

void *ls_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) oom(n);
    return q;
}

char *ls_xstrndup(const char *s, size_t n)
{
    char *p = ls_xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *ls_xstrdup(const char *s) { return ls_xstrndup(s, strlen(s)); }

void ls_buf_init(ls_buf *b) { b->data = NULL; b->len = b->cap = 0; }

void ls_buf_free(ls_buf *b)
{
    free(b->data);
    ls_buf_init(b);
}

void ls_buf_reset(ls_buf *b)
{
    b->len = 0;
    if (b->data) b->data[0] = '\0';
}

void ls_buf_reserve(ls_buf *b, size_t extra)
{
    size_t need = b->len + extra + 1;
    if (need <= b->cap) return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) cap *= 2;
    b->data = ls_xrealloc(b->data, cap);
    b->cap = cap;
    b->data[b->len] = '\0';
}

void ls_buf_append(ls_buf *b, const void *p, size_t n)
{
    ls_buf_reserve(b, n);
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void ls_buf_putc(ls_buf *b, char c) { ls_buf_append(b, &c, 1); }

void ls_buf_puts(ls_buf *b, const char *s) { ls_buf_append(b, s, strlen(s)); }

void ls_buf_printf(ls_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    ls_buf_reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

int ls_read_stream(FILE *f, ls_buf *b)
{
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) ls_buf_append(b, chunk, n);
    ls_buf_reserve(b, 0); /* NUL-terminated even when empty */
    return ferror(f) ? -1 : 0;
}

int ls_write_all(int fd, const void *p, size_t n, size_t *done)
{
    size_t off = 0;
    int rc = 0;
    while (off < n) {
        ssize_t w = write(fd, (const char *)p + off, n - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            if (w == 0) errno = ENOSPC; /* write(2) wrote nothing and said no more */
            rc = -1;
            break;
        }
        off += (size_t)w;
    }
    if (done) *done = off;
    return rc;
}

int ls_read_file(const char *path, ls_buf *b, ls_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        ls_seterr(err, "%s: %s", path, strerror(errno));
        return -1;
    }
    int rc = ls_read_stream(f, b);
    fclose(f);
    if (rc) ls_seterr(err, "%s: read error", path);
    return rc;
}

void ls_seterr(ls_err *err, const char *fmt, ...)
{
    if (!err) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
}

void ls_err_prefix(ls_err *err, const char *prefix)
{
    if (!err) return;
    size_t cap = sizeof err->msg - 1, pl = strlen(prefix), ml = strnlen(err->msg, cap);
    if (pl + 2 >= cap) {
        snprintf(err->msg, sizeof err->msg, "%s", prefix);
        return;
    }
    if (pl + 2 + ml > cap) ml = cap - pl - 2;
    memmove(err->msg + pl + 2, err->msg, ml);
    memcpy(err->msg, prefix, pl);
    err->msg[pl] = ':';
    err->msg[pl + 1] = ' ';
    err->msg[pl + 2 + ml] = '\0';
}

int64_t ls_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

double ls_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

void ls_log(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("luastream: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

size_t ls_utf8_seq_len(const unsigned char *s, size_t n)
{
    if (n == 0) return 0;
    unsigned c = s[0];
    if (c < 0x80) return 1;
    size_t len;
    unsigned min;
    if ((c & 0xE0) == 0xC0) { len = 2; min = 0x80; c &= 0x1F; }
    else if ((c & 0xF0) == 0xE0) { len = 3; min = 0x800; c &= 0x0F; }
    else if ((c & 0xF8) == 0xF0) { len = 4; min = 0x10000; c &= 0x07; }
    else return 0;
    if (len > n) return 0;
    for (size_t k = 1; k < len; k++) {
        if ((s[k] & 0xC0) != 0x80) return 0;
        c = (c << 6) | (s[k] & 0x3F);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return 0;
    return len;
}

int ls_utf8_valid(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < n) {
        if (s[i] < 0x80) { i++; continue; }
        size_t len = ls_utf8_seq_len(s + i, n - i);
        if (!len) return 0;
        i += len;
    }
    return 1;
}

void ls_base64(ls_buf *b, const unsigned char *p, size_t n)
{
    static const char tab[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    ls_buf_reserve(b, (n + 2) / 3 * 4);
    size_t i = 0;
    for (; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        char q[4] = { tab[v >> 18], tab[(v >> 12) & 63], tab[(v >> 6) & 63], tab[v & 63] };
        ls_buf_append(b, q, 4);
    }
    if (i < n) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0);
        char q[4] = { tab[v >> 18], tab[(v >> 12) & 63],
                      i + 1 < n ? tab[(v >> 6) & 63] : '=', '=' };
        ls_buf_append(b, q, 4);
    }
}

void ls_uuid4(char out[37])
{
    unsigned char r[16];
    size_t got = 0;
    while (got < sizeof r) {
        ssize_t n = getrandom(r + got, sizeof r - got, 0);
        if (n <= 0) { /* fall back to the clock: ids need only be unique */
            int64_t t = ls_now_ms();
            for (size_t i = got; i < sizeof r; i++) r[i] = (unsigned char)(t >> (8 * (i % 8))) ^ (unsigned char)i;
            break;
        }
        got += (size_t)n;
    }
    r[6] = (r[6] & 0x0F) | 0x40;
    r[8] = (r[8] & 0x3F) | 0x80;
    snprintf(out, 37,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10],
             r[11], r[12], r[13], r[14], r[15]);
}

static size_t edit_distance(const char *a, const char *b)
{
    size_t m = strlen(a), n = strlen(b);
    if (m > 64 || n > 64) return (size_t)-1;
    size_t row[65];
    for (size_t j = 0; j <= n; j++) row[j] = j;
    for (size_t i = 1; i <= m; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= n; j++) {
            size_t up = row[j];
            size_t best = diag + (tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]));
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[n];
}

const char *ls_nearest(const char *word, const char *const *cands, size_t n)
{
    const char *best = NULL;
    size_t best_d = (size_t)-1, limit = strlen(word) / 3 + 1;
    for (size_t i = 0; i < n; i++) {
        size_t d = edit_distance(word, cands[i]);
        if (d < best_d) {
            best_d = d;
            best = cands[i];
        }
    }
    return best_d <= limit ? best : NULL;
}

int ls_mkdirs(const char *dir, ls_err *err)
{
    char *p = ls_xstrdup(dir);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/') continue;
        *s = '\0';
        if (mkdir(p, 0777) && errno != EEXIST) {
            ls_seterr(err, "cannot create directory %s: %s", p, strerror(errno));
            free(p);
            return -1;
        }
        *s = '/';
    }
    int rc = 0;
    if (mkdir(p, 0777) && errno != EEXIST) {
        ls_seterr(err, "cannot create directory %s: %s", p, strerror(errno));
        rc = -1;
    }
    free(p);
    return rc;
}

/* Appends component c (not "" or ".") to the absolute path in b, ".."
 * removing the last one. */
static void path_push(ls_buf *b, const char *c, size_t n)
{
    if (n == 0 || (n == 1 && c[0] == '.')) return;
    if (n == 2 && c[0] == '.' && c[1] == '.') {
        char *slash = strrchr(b->data, '/');
        b->len = slash && slash != b->data ? (size_t)(slash - b->data) : 1;
        b->data[b->len] = '\0';
        return;
    }
    if (b->data[b->len - 1] != '/') ls_buf_putc(b, '/');
    ls_buf_append(b, c, n);
}

char *ls_abspath_to_be(const char *path)
{
    char *r = realpath(path, NULL);
    if (r) return r;
    ls_buf full;
    ls_buf_init(&full);
    if (path[0] != '/') {
        char *cwd = getcwd(NULL, 0);
        if (!cwd) {
            ls_buf_free(&full);
            return ls_xstrdup(path);
        }
        ls_buf_printf(&full, "%s/", cwd);
        free(cwd);
    }
    ls_buf_puts(&full, path);
    /* the deepest ancestor that exists: realpath() of it is what it will be */
    size_t rest = 0;
    char *base = NULL;
    for (size_t i = full.len; i-- > 0 && !base;) {
        if (full.data[i] != '/') continue;
        char *prefix = i == 0 ? ls_xstrdup("/") : ls_xstrndup(full.data, i);
        base = realpath(prefix, NULL);
        free(prefix);
        rest = i + 1;
    }
    ls_buf out;
    ls_buf_init(&out);
    ls_buf_puts(&out, base ? base : "/");
    if (!base) rest = 0;
    free(base);
    for (size_t i = rest; i < full.len;) {
        size_t n = strcspn(full.data + i, "/");
        path_push(&out, full.data + i, n);
        i += n + 1;
    }
    ls_buf_free(&full);
    return out.data;
}
