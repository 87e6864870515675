/* ls_json_split.c - streaming record splitter (see ls_json_split.h). */
#include "ls_json_split.h"

#include <string.h>

enum { ST_START, ST_VALUE_OR_END, ST_SEP_OR_END, ST_AFTER_END, ST_DONE };

void ls_splitter_init(ls_splitter *s, FILE *f)
{
    memset(s, 0, sizeof *s);
    s->f = f;
    s->line = s->col = 1;
    ls_buf_init(&s->rec);
}

void ls_splitter_free(ls_splitter *s) { ls_buf_free(&s->rec); }

/* Next byte, or -1 at end of input. */
static int peek(ls_splitter *s)
{
    if (s->pos == s->len) {
        if (s->eof) return -1;
        s->len = fread(s->buf, 1, sizeof s->buf, s->f);
        s->pos = 0;
        if (s->len == 0) {
            s->eof = 1;
            return -1;
        }
    }
    return s->buf[s->pos];
}

static void advance(ls_splitter *s)
{
    if (s->buf[s->pos] == '\n') {
        s->line++;
        s->col = 1;
    } else {
        s->col++;
    }
    s->pos++;
    s->offset++;
}

static int is_ws(int c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

static void skip_ws(ls_splitter *s)
{
    int c;
    while ((c = peek(s)) >= 0 && is_ws(c)) advance(s);
}

static int fail(ls_splitter *s, char *err, const char *what)
{
    ls_seterr(err, "%s at byte %llu (line %llu, column %llu)", what,
              (unsigned long long)s->offset, (unsigned long long)s->line,
              (unsigned long long)s->col);
    s->state = ST_DONE;
    return -1;
}

/* Reads one value into s->rec. Containers end at their matching bracket;
 * scalars end at whitespace, ',' or ']'. */
static int read_value(ls_splitter *s, char *err)
{
    ls_buf_reset(&s->rec);
    s->rec_offset = s->offset;
    s->rec_line = s->line;
    s->rec_col = s->col;
    int depth = 0, in_str = 0, esc = 0, c;
    int container = 0, pending_ws = 0;
    for (;;) {
        c = peek(s);
        if (c < 0) {
            if (in_str || depth > 0) return fail(s, err, "unexpected end of file inside a record");
            break;
        }
        if (in_str && !esc) { /* copy a run of plain string bytes at once */
            const unsigned char *b = s->buf + s->pos;
            size_t run = 0, avail = s->len - s->pos;
            while (run < avail && b[run] != '"' && b[run] != '\\' && b[run] != '\n') run++;
            if (run) {
                if (s->rec.len + run > LS_SPLIT_MAX_RECORD)
                    return fail(s, err, "record larger than 64 MiB");
                ls_buf_append(&s->rec, b, run);
                s->pos += run;
                s->offset += run;
                s->col += run;
                continue;
            }
        }
        if (!in_str && depth == 0 && s->rec.len > 0 &&
            (container || is_ws(c) || c == ',' || c == ']'))
            break;
        if (in_str) {
            if (esc) esc = 0;
            else if (c == '\\') esc = 1;
            else if (c == '"') in_str = 0;
        } else if (c == '"') {
            in_str = 1;
        } else if (c == '{' || c == '[') {
            depth++;
        } else if (c == '}' || c == ']') {
            if (depth == 0) return fail(s, err, "unexpected closing bracket");
            depth--;
            if (depth == 0) container = 1;
        } else if (c == ',' && depth == 0) {
            return fail(s, err, "unexpected ','");
        }
        if (s->rec.len >= LS_SPLIT_MAX_RECORD) return fail(s, err, "record larger than 64 MiB");
        /* Records leave compact: whitespace around structural characters is
         * dropped, so a pretty-printed file gives the same messages as a
         * compact one; between two other tokens ("1 2") one space stays, so
         * malformed input stays malformed. */
        if (!in_str && is_ws(c)) {
            pending_ws = 1;
        } else {
            if (pending_ws && !strchr("{[,:", s->rec.data[s->rec.len - 1]) && !strchr("}],:", c))
                ls_buf_putc(&s->rec, ' ');
            pending_ws = 0;
            ls_buf_putc(&s->rec, (char)c);
        }
        advance(s);
        if (container && depth == 0) break;
    }
    return 1;
}

int ls_splitter_next(ls_splitter *s, char *err)
{
    int c;
    for (;;) {
        switch (s->state) {
        case ST_DONE:
            return 0;
        case ST_START:
            skip_ws(s);
            /* a UTF-8 byte order mark is allowed at the very start */
            if (s->offset == 0 && peek(s) == 0xEF) {
                for (int i = 0; i < 3 && peek(s) >= 0; i++) advance(s);
                skip_ws(s);
            }
            c = peek(s);
            if (c < 0) {
                s->state = ST_DONE;
                return 0;
            }
            if (c == '[') {
                s->mode = 1;
                advance(s);
                skip_ws(s);
                if (peek(s) == ']') {
                    advance(s);
                    s->state = ST_AFTER_END;
                    continue;
                }
                s->state = ST_VALUE_OR_END;
                continue;
            }
            s->mode = 2;
            s->state = ST_VALUE_OR_END;
            continue;
        case ST_VALUE_OR_END:
            skip_ws(s);
            c = peek(s);
            if (c < 0) {
                if (s->mode == 1) return fail(s, err, "unexpected end of file: the array is not closed");
                s->state = ST_DONE;
                return 0;
            }
            if (c == ',' || c == ']') return fail(s, err, s->mode == 1 ? "expected a value" : "unexpected character");
            if (read_value(s, err) < 0) return -1;
            s->state = s->mode == 1 ? ST_SEP_OR_END : ST_VALUE_OR_END;
            return 1;
        case ST_SEP_OR_END:
            skip_ws(s);
            c = peek(s);
            if (c == ',') {
                advance(s);
                s->state = ST_VALUE_OR_END;
                continue;
            }
            if (c == ']') {
                advance(s);
                s->state = ST_AFTER_END;
                continue;
            }
            return fail(s, err, c < 0 ? "unexpected end of file: the array is not closed"
                                      : "expected ',' or ']' between records");
        case ST_AFTER_END:
            skip_ws(s);
            if (peek(s) >= 0) return fail(s, err, "unexpected data after the closing ']'");
            s->state = ST_DONE;
            return 0;
        }
    }
}
