/* ls_json_split.c - streaming record splitter (see ls_json_split.h). */
#include "ls_json_split.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

enum { ST_START, ST_VALUE_OR_END, ST_SEP_OR_END, ST_AFTER_END, ST_DONE };

void ls_splitter_init(ls_splitter *s, FILE *f)
{
    memset(s, 0, sizeof *s);
    s->f = f;
    s->line = s->col = 1;
    ls_buf_init(&s->rec);
    ls_buf_init(&s->raw);
}

void ls_splitter_free(ls_splitter *s)
{
    ls_buf_free(&s->rec);
    ls_buf_free(&s->raw);
}

/* Next byte, or -1 at end of input (or on a read error: s->read_errno).
 * Files with a descriptor are read with read(2), which returns what a pipe
 * has now (fread would wait for a whole buffer): records from a pipe go out
 * as they arrive, and a signal interrupts the wait (EINTR, for the caller to
 * see its stop flag). */
static int peek(ls_splitter *s)
{
    if (s->pos == s->len) {
        if (s->eof) return -1;
        int fd = fileno(s->f);
        s->pos = 0;
        if (fd >= 0) {
            ssize_t n = read(fd, s->buf, sizeof s->buf);
            if (n < 0) s->read_errno = errno ? errno : EIO;
            s->len = n > 0 ? (size_t)n : 0;
        } else {
            s->len = fread(s->buf, 1, sizeof s->buf, s->f);
            if (s->len == 0 && ferror(s->f)) s->read_errno = errno ? errno : EIO;
        }
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

static int read_error(ls_splitter *s, ls_err *err)
{
    ls_seterr(err, "read error at byte %llu: %s", (unsigned long long)s->offset,
              strerror(s->read_errno));
    s->state = ST_DONE;
    return -1;
}

static int fail(ls_splitter *s, ls_err *err, const char *what)
{
    if (s->read_errno) return read_error(s, err);
    ls_seterr(err, "%s at byte %llu (line %llu, column %llu)", what,
              (unsigned long long)s->offset, (unsigned long long)s->line,
              (unsigned long long)s->col);
    s->state = ST_DONE;
    return -1;
}

/* Reads one value into s->rec. Containers end at their matching bracket;
 * scalars end at whitespace, ',' or ']'. */
static int read_value(ls_splitter *s, ls_err *err)
{
    ls_buf_reset(&s->rec);
    ls_buf_reset(&s->raw);
    s->rec_offset = s->offset;
    s->rec_line = s->line;
    s->rec_col = s->col;
    int depth = 0, in_str = 0, esc = 0, c;
    int container = 0, pending_ws = 0;
    uint64_t str_line = 0, str_col = 0; /* where the open string started */
    for (;;) {
        c = peek(s);
        if (c < 0) {
            if (s->read_errno) return read_error(s, err);
            if (in_str || depth > 0) {
                /* The end of the file is not where the mistake is: say where
                 * the unclosed record (and string) began. */
                char what[200];
                if (in_str)
                    snprintf(what, sizeof what, "the record that starts at line %llu, column %llu "
                             "is cut off: its string opened at line %llu, column %llu is never "
                             "closed: end of file",
                             (unsigned long long)s->rec_line, (unsigned long long)s->rec_col,
                             (unsigned long long)str_line, (unsigned long long)str_col);
                else
                    snprintf(what, sizeof what, "the record that starts at line %llu, column %llu "
                             "is cut off: %d bracket%s never closed: end of file",
                             (unsigned long long)s->rec_line, (unsigned long long)s->rec_col,
                             depth, depth == 1 ? " is" : "s are");
                return fail(s, err, what);
            }
            break;
        }
        if (in_str && !esc) { /* copy a run of plain string bytes at once */
            const unsigned char *b = s->buf + s->pos;
            size_t run = 0, avail = s->len - s->pos;
            while (run < avail && b[run] != '"' && b[run] != '\\' && b[run] != '\n') run++;
            if (run) {
                if (s->raw.len + run > LS_SPLIT_MAX_RECORD)
                    return fail(s, err, "record larger than 64 MiB");
                ls_buf_append(&s->rec, b, run);
                ls_buf_append(&s->raw, b, run);
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
            if (c == '\n') {
                /* JSON strings cannot hold a raw newline: the mistake is here
                 * (most often a missing closing quote), not at the end of the file */
                char what[160];
                snprintf(what, sizeof what, "a line break inside the string opened at line %llu, "
                         "column %llu (a missing closing quote?)",
                         (unsigned long long)str_line, (unsigned long long)str_col);
                return fail(s, err, what);
            }
            if (esc) esc = 0;
            else if (c == '\\') esc = 1;
            else if (c == '"') in_str = 0;
        } else if (c == '"') {
            in_str = 1;
            str_line = s->line;
            str_col = s->col;
        } else if (c == '{' || c == '[') {
            depth++;
        } else if (c == '}' || c == ']') {
            if (depth == 0) return fail(s, err, "unexpected closing bracket");
            depth--;
            if (depth == 0) container = 1;
        } else if (c == ',' && depth == 0) {
            return fail(s, err, "unexpected ','");
        }
        if (s->raw.len >= LS_SPLIT_MAX_RECORD) return fail(s, err, "record larger than 64 MiB");
        ls_buf_putc(&s->raw, (char)c);
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

static int unclosed_array(ls_splitter *s, ls_err *err)
{
    char what[160];
    snprintf(what, sizeof what, "unexpected end of file: the array opened at line %llu, column %llu "
             "is not closed: end of file", (unsigned long long)s->arr_line, (unsigned long long)s->arr_col);
    return fail(s, err, what);
}

void ls_splitter_locate(const ls_splitter *s, size_t k, uint64_t *offset, uint64_t *line,
                        uint64_t *col)
{
    uint64_t l = s->rec_line, c = s->rec_col;
    if (k > s->raw.len) k = s->raw.len;
    for (size_t i = 0; i < k; i++) {
        if (s->raw.data[i] == '\n') {
            l++;
            c = 1;
        } else {
            c++;
        }
    }
    *offset = s->rec_offset + k;
    *line = l;
    *col = c;
}

int ls_splitter_next(ls_splitter *s, ls_err *err)
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
                if (s->read_errno) return read_error(s, err);
                s->state = ST_DONE;
                return 0;
            }
            if (c == '[') {
                s->mode = 1;
                s->arr_line = s->line;
                s->arr_col = s->col;
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
                if (s->mode == 1) return unclosed_array(s, err);
                if (s->read_errno) return read_error(s, err);
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
            if (c < 0) return unclosed_array(s, err);
            return fail(s, err, "expected ',' or ']' between records");
        case ST_AFTER_END:
            skip_ws(s);
            if (peek(s) >= 0) return fail(s, err, "unexpected data after the closing ']'");
            if (s->read_errno) return read_error(s, err);
            s->state = ST_DONE;
            return 0;
        }
    }
}
