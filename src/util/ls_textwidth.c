/* ls_textwidth.c - display width of UTF-8 text (see ls_textwidth.h). */
#include "ls_textwidth.h"

#include <locale.h>
#include <pthread.h>
#include <wchar.h>

/* Decodes one UTF-8 sequence (shortest form, no surrogates); its length,
 * or 0 when the bytes at p are not one. */
static size_t decode(const unsigned char *p, size_t n, uint32_t *cp)
{
    unsigned c = p[0];
    size_t len;
    uint32_t v;
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF) { len = 2; v = c & 0x1F; }
    else if (c >= 0xE0 && c <= 0xEF) { len = 3; v = c & 0x0F; }
    else if (c >= 0xF0 && c <= 0xF4) { len = 4; v = c & 0x07; }
    else return 0;
    if (n < len) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80) return 0;
        v = v << 6 | (p[i] & 0x3F);
    }
    if ((len == 3 && (v < 0x800 || (v >= 0xD800 && v <= 0xDFFF))) ||
        (len == 4 && (v < 0x10000 || v > 0x10FFFF)))
        return 0;
    *cp = v;
    return len;
}

static int is_control(uint32_t cp) { return cp < 0x20 || (cp >= 0x7F && cp < 0xA0); }

void ls_text_printable(ls_buf *out, const char *s, size_t n, int keep_layout)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        uint32_t cp;
        size_t len = decode(p + i, n - i, &cp);
        if (len == 0 || (is_control(cp) && !(keep_layout && (cp == '\n' || cp == '\t')))) {
            ls_buf_puts(out, "\xEF\xBF\xBD"); /* U+FFFD */
            i += len ? len : 1;
        } else {
            ls_buf_append(out, p + i, len);
            i += len;
        }
    }
}

/* Wide (2 columns) and zero-width ranges, for when C.UTF-8 is missing. */
static const uint32_t wide[][2] = {
    { 0x1100, 0x115F }, { 0x231A, 0x231B }, { 0x2329, 0x232A }, { 0x23E9, 0x23EC },
    { 0x2E80, 0x303E }, { 0x3041, 0x33FF }, { 0x3400, 0x4DBF }, { 0x4E00, 0x9FFF },
    { 0xA000, 0xA4CF }, { 0xA960, 0xA97F }, { 0xAC00, 0xD7A3 }, { 0xF900, 0xFAFF },
    { 0xFE10, 0xFE19 }, { 0xFE30, 0xFE6F }, { 0xFF00, 0xFF60 }, { 0xFFE0, 0xFFE6 },
    { 0x1F300, 0x1F64F }, { 0x1F900, 0x1F9FF }, { 0x20000, 0x2FFFD }, { 0x30000, 0x3FFFD },
};
static const uint32_t zero[][2] = {
    { 0x0300, 0x036F }, { 0x0483, 0x0489 }, { 0x0591, 0x05BD }, { 0x0610, 0x061A },
    { 0x064B, 0x065F }, { 0x200B, 0x200F }, { 0x20D0, 0x20FF }, { 0xFE00, 0xFE0F },
    { 0xFE20, 0xFE2F },
};

static int in(const uint32_t (*r)[2], size_t n, uint32_t cp)
{
    for (size_t i = 0; i < n; i++)
        if (cp >= r[i][0] && cp <= r[i][1]) return 1;
    return 0;
}

int ls_text_cp_width_table(uint32_t cp)
{
    if (cp < 0x300) return 1;
    if (in(zero, sizeof zero / sizeof *zero, cp)) return 0;
    return in(wide, sizeof wide / sizeof *wide, cp) ? 2 : 1;
}

static int is_emoji(uint32_t cp)
{
    return (cp >= 0x1F300 && cp <= 0x1FAFF) || (cp >= 0x2600 && cp <= 0x27BF);
}

static locale_t utf8;
static pthread_once_t utf8_once = PTHREAD_ONCE_INIT;

static void open_utf8(void)
{
    utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
}

/* Walks s, calling each code point's width; stops past `cols` columns
 * (cols == SIZE_MAX: never). Returns the width; *bytes = the prefix length. */
static size_t walk(const char *s, size_t n, size_t cols, size_t *bytes)
{
    pthread_once(&utf8_once, open_utf8);
    locale_t old = utf8 ? uselocale(utf8) : (locale_t)0;
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, width = 0;
    uint32_t prev = 0;
    while (i < n) {
        uint32_t cp;
        size_t len = decode(p + i, n - i, &cp);
        if (len == 0) len = 1, cp = 0xFFFD;
        int w = utf8 ? wcwidth((wchar_t)cp) : ls_text_cp_width_table(cp);
        if (w < 0) w = 1; /* unassigned: the terminal shows a box */
        /* emoji sequences show as one glyph: a skin-tone modifier after an
         * emoji, and an emoji after a zero-width joiner, add no columns */
        if ((cp >= 0x1F3FB && cp <= 0x1F3FF && is_emoji(prev)) || (prev == 0x200D && is_emoji(cp)))
            w = 0;
        prev = cp;
        if (width + (size_t)w > cols) break;
        width += (size_t)w;
        i += len;
    }
    if (utf8) uselocale(old);
    if (bytes) *bytes = i;
    return width;
}

size_t ls_text_width(const char *s, size_t n) { return walk(s, n, SIZE_MAX, NULL); }

size_t ls_text_prefix(const char *s, size_t n, size_t cols)
{
    size_t bytes;
    walk(s, n, cols, &bytes);
    return bytes;
}
