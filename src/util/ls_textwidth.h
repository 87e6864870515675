/* ls_textwidth.h - how wide text is on a terminal, for tables that line up
 * whatever the cells hold ("São Tomé", "日本"): display width of UTF-8 in
 * columns (wide East Asian characters count 2, combining marks 0), cutting
 * on character boundaries, and making text printable. Independent of the
 * user's locale: libc's wcwidth under C.UTF-8 (per thread, uselocale), or a
 * compact table of wide ranges where that locale does not exist. */
#ifndef LS_TEXTWIDTH_H
#define LS_TEXTWIDTH_H

#include <stddef.h>
#include <stdint.h>

#include "ls_util.h"

/* Appends s[0..n) to out as printable UTF-8: invalid bytes and control
 * characters (C0, DEL, C1) become U+FFFD; with keep_layout, newlines and
 * tabs stay. */
void ls_text_printable(ls_buf *out, const char *s, size_t n, int keep_layout);
/* Display width of valid UTF-8 text in terminal columns. */
size_t ls_text_width(const char *s, size_t n);
/* Bytes of the longest prefix of valid UTF-8 s[0..n) at most cols columns
 * wide; it ends on a character boundary. */
size_t ls_text_prefix(const char *s, size_t n, size_t cols);
/* The columns of one code point from the built-in table (the fallback;
 * exposed for tests). */
int ls_text_cp_width_table(uint32_t cp);

#endif
