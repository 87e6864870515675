/* ls_files.c - listing a file source's files and splitting one into
 * records (see ls_files.h). */
#include "ls_files.h"

#include <dirent.h>
#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yajl_gen.h>
#include <yajl_tree.h>

#include "ls_json_split.h"
#include "ls_time.h"
#include "ls_util.h"

int ls_file_format_parse(const char *name, ls_file_format *f)
{
    if (!name) return -1;
    if (strcmp(name, "json") == 0) *f = LS_FORMAT_JSON;
    else if (strcmp(name, "ndjson") == 0 || strcmp(name, "jsonl") == 0) *f = LS_FORMAT_NDJSON;
    else if (strcmp(name, "lines") == 0 || strcmp(name, "text") == 0) *f = LS_FORMAT_LINES;
    else if (strcmp(name, "kafka") == 0) *f = LS_FORMAT_KAFKA;
    else return -1;
    return 0;
}

const char *ls_file_format_name(ls_file_format f)
{
    return f == LS_FORMAT_JSON ? "json" : f == LS_FORMAT_NDJSON ? "ndjson"
         : f == LS_FORMAT_LINES ? "lines" : "kafka";
}

/* ---- listing --------------------------------------------------------------- */

static int hidden(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    return base[0] == '.' || base[0] == '_';
}

typedef struct listing {
    ls_file_entry *v;
    size_t n, cap;
} listing;

static void add_file(listing *l, const char *path)
{
    struct stat st;
    if (hidden(path) || stat(path, &st) != 0 || !S_ISREG(st.st_mode)) return;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->v = ls_xrealloc(l->v, l->cap * sizeof *l->v);
    }
    ls_file_entry *e = &l->v[l->n++];
    e->path = ls_xstrdup(path);
    e->mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
    e->size = (int64_t)st.st_size;
}

static int older_first(const void *a, const void *b)
{
    const ls_file_entry *x = a, *y = b;
    if (x->mtime_ns != y->mtime_ns) return x->mtime_ns < y->mtime_ns ? -1 : 1;
    return strcmp(x->path, y->path);
}

static int list_dir(const char *dir, listing *l, ls_err *err)
{
    DIR *d = opendir(dir);
    if (!d) {
        ls_seterr(err, "cannot list %s: %s", dir, strerror(errno));
        return -1;
    }
    struct dirent *de;
    ls_buf p;
    ls_buf_init(&p);
    size_t dl = strlen(dir);
    while ((de = readdir(d))) {
        ls_buf_reset(&p);
        ls_buf_append(&p, dir, dl);
        if (dl && dir[dl - 1] != '/') ls_buf_putc(&p, '/');
        ls_buf_puts(&p, de->d_name);
        add_file(l, p.data);
    }
    ls_buf_free(&p);
    closedir(d);
    return 0;
}

int ls_files_list(const char *pattern, ls_file_entry **out, size_t *n, ls_err *err)
{
    listing l = { 0 };
    struct stat st;
    if (stat(pattern, &st) == 0 && S_ISDIR(st.st_mode)) {
        if (list_dir(pattern, &l, err)) return -1;
    } else {
        glob_t g;
        memset(&g, 0, sizeof g);
        int rc = glob(pattern, 0, NULL, &g);
        if (rc == 0) {
            for (size_t i = 0; i < g.gl_pathc; i++) add_file(&l, g.gl_pathv[i]);
        } else if (rc != GLOB_NOMATCH) {
            ls_seterr(err, "cannot list %s: %s", pattern,
                      rc == GLOB_NOSPACE ? "out of memory" : "a directory could not be read");
            globfree(&g);
            return -1;
        }
        globfree(&g);
    }
    if (l.n > 1) qsort(l.v, l.n, sizeof *l.v, older_first);
    *out = l.v;
    *n = l.n;
    return 0;
}

void ls_files_list_free(ls_file_entry *list, size_t n)
{
    for (size_t i = 0; i < n; i++) free(list[i].path);
    free(list);
}

/* ---- records --------------------------------------------------------------- */

static void add_span(ls_file_records *r, size_t *cap, size_t off, size_t len, int64_t line)
{
    if (r->n == *cap) {
        *cap = *cap ? *cap * 2 : 256;
        r->recs = ls_xrealloc(r->recs, *cap * sizeof *r->recs);
    }
    r->recs[r->n++] = (ls_file_span){ off, len, line };
}

static int blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r') return 0;
    return 1;
}

/* Calls fn for each line of buf (without its \n or \r\n); a last line
 * without a newline counts, an empty one after the last newline does not. */
#define EACH_LINE(buf, len, body)                                                   \
    do {                                                                            \
        size_t pos_ = 0;                                                            \
        int64_t line_no = 0;                                                        \
        while (pos_ < (len)) {                                                      \
            const char *nl_ = memchr((buf) + pos_, '\n', (len) - pos_);             \
            size_t end_ = nl_ ? (size_t)(nl_ - (buf)) : (len);                      \
            size_t line_off = pos_, line_len = end_ - pos_;                         \
            if (line_len && (buf)[end_ - 1] == '\r') line_len--;                    \
            line_no++;                                                              \
            body;                                                                   \
            pos_ = end_ + 1;                                                        \
        }                                                                           \
    } while (0)

static void split_ndjson(ls_file_records *r)
{
    size_t cap = 0;
    EACH_LINE(r->buf, r->len, {
        if (!blank(r->buf + line_off, line_len)) add_span(r, &cap, line_off, line_len, line_no);
    });
}

/* The line as valid UTF-8: each byte that starts no valid sequence becomes
 * U+FFFD. */
static void repair_utf8(const char *s, size_t n, ls_buf *out)
{
    ls_buf_reset(out);
    size_t i = 0;
    while (i < n) {
        size_t k = ls_utf8_seq_len((const unsigned char *)s + i, n - i);
        if (k) {
            ls_buf_append(out, s + i, k);
            i += k;
        } else {
            ls_buf_append(out, "\xEF\xBF\xBD", 3);
            i++;
        }
    }
}

static int split_lines(ls_file_records *r, ls_err *err)
{
    yajl_gen g = yajl_gen_alloc(NULL);
    if (!g) {
        ls_seterr(err, "out of memory");
        return -1;
    }
    ls_buf out, fixed;
    ls_buf_init(&out);
    ls_buf_init(&fixed);
    size_t cap = 0;
    int rc = 0;
    EACH_LINE(r->buf, r->len, {
        const char *text = r->buf + line_off;
        size_t tl = line_len;
        if (!ls_utf8_valid(text, tl)) {
            repair_utf8(text, tl, &fixed);
            text = fixed.data;
            tl = fixed.len;
        }
        yajl_gen_clear(g);
        yajl_gen_reset(g, NULL);
        const unsigned char *p;
        size_t pl;
        if (yajl_gen_map_open(g) != yajl_gen_status_ok ||
            yajl_gen_string(g, (const unsigned char *)"value", 5) != yajl_gen_status_ok ||
            yajl_gen_string(g, (const unsigned char *)text, tl) != yajl_gen_status_ok ||
            yajl_gen_map_close(g) != yajl_gen_status_ok ||
            yajl_gen_get_buf(g, &p, &pl) != yajl_gen_status_ok) {
            rc = -1;
            break;
        }
        add_span(r, &cap, out.len, pl, line_no);
        ls_buf_append(&out, p, pl);
    });
    yajl_gen_free(g);
    ls_buf_free(&fixed);
    if (rc) {
        ls_buf_free(&out);
        ls_seterr(err, "cannot encode a line as JSON");
        return -1;
    }
    free(r->buf);
    r->buf = out.data;
    r->len = out.len;
    return 0;
}

static int split_json(ls_file_records *r, const char *path, ls_err *err)
{
    if (r->len == 0) return 0;
    FILE *f = fmemopen(r->buf, r->len, "r");
    if (!f) {
        ls_seterr(err, "%s: %s", path, strerror(errno));
        return -1;
    }
    ls_splitter sp;
    ls_splitter_init(&sp, f);
    ls_buf out;
    ls_buf_init(&out);
    size_t cap = 0;
    for (;;) {
        ls_err why;
        int s = ls_splitter_next(&sp, &why);
        if (s == 0) break;
        if (s < 0) {
            /* the broken rest: its text as far as it went, to fail decoding */
            ls_log("%s: malformed JSON: %s (the records before it are read)", path, why.msg);
            add_span(r, &cap, out.len, sp.raw.len, (int64_t)sp.rec_line);
            ls_buf_append(&out, sp.raw.data ? sp.raw.data : "", sp.raw.len);
            break;
        }
        add_span(r, &cap, out.len, sp.rec.len, (int64_t)sp.rec_line);
        ls_buf_append(&out, sp.rec.data, sp.rec.len);
    }
    ls_splitter_free(&sp);
    fclose(f);
    free(r->buf);
    r->buf = out.data;
    r->len = out.len;
    return 0;
}

/* ---- kafka messages (test inputs) ------------------------------------------- */

static yajl_val member(yajl_val obj, const char *name)
{
    for (size_t i = 0; i < YAJL_GET_OBJECT(obj)->len; i++)
        if (strcmp(YAJL_GET_OBJECT(obj)->keys[i], name) == 0) return YAJL_GET_OBJECT(obj)->values[i];
    return NULL;
}

/* A value's JSON text (for a value that is not a string). */
static void gen_tree(yajl_gen g, yajl_val v)
{
    if (YAJL_IS_OBJECT(v)) {
        yajl_gen_map_open(g);
        for (size_t i = 0; i < YAJL_GET_OBJECT(v)->len; i++) {
            const char *k = YAJL_GET_OBJECT(v)->keys[i];
            yajl_gen_string(g, (const unsigned char *)k, strlen(k));
            gen_tree(g, YAJL_GET_OBJECT(v)->values[i]);
        }
        yajl_gen_map_close(g);
    } else if (YAJL_IS_ARRAY(v)) {
        yajl_gen_array_open(g);
        for (size_t i = 0; i < YAJL_GET_ARRAY(v)->len; i++) gen_tree(g, YAJL_GET_ARRAY(v)->values[i]);
        yajl_gen_array_close(g);
    } else if (YAJL_IS_STRING(v)) {
        const char *t = YAJL_GET_STRING(v);
        yajl_gen_string(g, (const unsigned char *)t, strlen(t));
    } else if (YAJL_IS_NUMBER(v)) {
        const char *t = YAJL_GET_NUMBER(v);
        yajl_gen_number(g, t, strlen(t));
    } else if (YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v)) {
        yajl_gen_bool(g, YAJL_IS_TRUE(v));
    } else {
        yajl_gen_null(g);
    }
}

static int add_header(rd_kafka_headers_t *h, const char *name, yajl_val v)
{
    if (YAJL_IS_NULL(v)) return rd_kafka_header_add(h, name, -1, NULL, 0) ? -1 : 0;
    if (!YAJL_IS_STRING(v)) return -1;
    const char *t = YAJL_GET_STRING(v);
    return rd_kafka_header_add(h, name, -1, t, (ssize_t)strlen(t)) ? -1 : 0;
}

/* One message line into its value text (appended to out) and m. */
static int parse_message(const char *line, size_t n, ls_buf *out, ls_file_msg *m, ls_err *why)
{
    char *text = ls_xstrndup(line, n);
    char perr[256];
    yajl_val v = yajl_tree_parse(text, perr, sizeof perr);
    free(text);
    memset(m, 0, sizeof *m);
    m->timestamp = -1;
    if (!v || !YAJL_IS_OBJECT(v)) {
        ls_seterr(why, "not a message object {\"value\": ..., \"key\": ..., \"timestamp\": ...}");
        if (v) yajl_tree_free(v);
        return -1;
    }
    int rc = 0;
    static const char *known[] = { "value", "key", "timestamp", "partition", "topic", "headers" };
    for (size_t i = 0; i < YAJL_GET_OBJECT(v)->len && rc == 0; i++) {
        const char *k = YAJL_GET_OBJECT(v)->keys[i];
        size_t j = 0;
        while (j < sizeof known / sizeof *known && strcmp(known[j], k) != 0) j++;
        if (j == sizeof known / sizeof *known) {
            ls_seterr(why, "unknown member \"%.64s\" (a message has value, key, timestamp, "
                      "partition, topic, headers)", k);
            rc = -1;
        }
    }
    yajl_val f;
    if (rc == 0 && (f = member(v, "value")) && !YAJL_IS_NULL(f)) {
        if (YAJL_IS_STRING(f)) {
            ls_buf_puts(out, YAJL_GET_STRING(f));
        } else {
            yajl_gen g = yajl_gen_alloc(NULL);
            gen_tree(g, f);
            const unsigned char *p;
            size_t pl;
            yajl_gen_get_buf(g, &p, &pl);
            ls_buf_append(out, p, pl);
            yajl_gen_free(g);
        }
    }
    if (rc == 0 && (f = member(v, "key")) && !YAJL_IS_NULL(f)) {
        if (!YAJL_IS_STRING(f)) {
            ls_seterr(why, "key must be a string");
            rc = -1;
        } else {
            m->key = ls_xstrdup(YAJL_GET_STRING(f));
            m->key_len = strlen(m->key);
        }
    }
    if (rc == 0 && (f = member(v, "timestamp")) && !YAJL_IS_NULL(f)) {
        const char *ts = YAJL_IS_STRING(f) ? YAJL_GET_STRING(f) : NULL;
        if (YAJL_IS_INTEGER(f) && YAJL_GET_INTEGER(f) >= 0) {
            m->timestamp = YAJL_GET_INTEGER(f);
        } else if (!ts || ls_time_parse(ts, strlen(ts), &m->timestamp) || m->timestamp < 0) {
            ls_seterr(why, "timestamp must be epoch milliseconds or an ISO-8601 time after 1970");
            rc = -1;
        }
    }
    if (rc == 0 && (f = member(v, "partition")) && !YAJL_IS_NULL(f)) {
        if (!YAJL_IS_INTEGER(f) || YAJL_GET_INTEGER(f) < 0 || YAJL_GET_INTEGER(f) > INT32_MAX) {
            ls_seterr(why, "partition must be a whole number from 0");
            rc = -1;
        } else {
            m->partition = (int32_t)YAJL_GET_INTEGER(f);
        }
    }
    if (rc == 0 && (f = member(v, "topic")) && !YAJL_IS_NULL(f)) {
        if (!YAJL_IS_STRING(f) || !YAJL_GET_STRING(f)[0]) {
            ls_seterr(why, "topic must be a topic name");
            rc = -1;
        } else {
            m->topic = ls_xstrdup(YAJL_GET_STRING(f));
        }
    }
    if (rc == 0 && (f = member(v, "headers")) && !YAJL_IS_NULL(f)) {
        if (!YAJL_IS_OBJECT(f)) {
            ls_seterr(why, "headers must be an object {name: text or [texts]}");
            rc = -1;
        } else {
            m->headers = rd_kafka_headers_new(YAJL_GET_OBJECT(f)->len + 1);
            for (size_t i = 0; i < YAJL_GET_OBJECT(f)->len && rc == 0; i++) {
                const char *name = YAJL_GET_OBJECT(f)->keys[i];
                yajl_val hv = YAJL_GET_OBJECT(f)->values[i];
                if (YAJL_IS_ARRAY(hv)) {
                    for (size_t k = 0; k < YAJL_GET_ARRAY(hv)->len && rc == 0; k++)
                        rc = add_header(m->headers, name, YAJL_GET_ARRAY(hv)->values[k]);
                } else {
                    rc = add_header(m->headers, name, hv);
                }
                if (rc) ls_seterr(why, "header %.64s: values must be text (or null)", name);
            }
        }
    }
    yajl_tree_free(v);
    return rc;
}

static void free_msg(ls_file_msg *m)
{
    free(m->topic);
    free(m->key);
    if (m->headers) rd_kafka_headers_destroy(m->headers);
}

static int same_topic(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* Offsets per (topic, partition), in file order: each pair's next offset
 * is kept in a short list (a test file names few partitions). */
static void number_messages(ls_file_records *r)
{
    size_t *last = ls_xcalloc(r->n + 1, sizeof *last); /* record index of each pair's last */
    size_t npairs = 0;
    for (size_t i = 0; i < r->n; i++) {
        ls_file_msg *m = &r->msgs[i];
        size_t k = 0;
        while (k < npairs && !(r->msgs[last[k]].partition == m->partition &&
                               same_topic(r->msgs[last[k]].topic, m->topic)))
            k++;
        m->offset = k < npairs ? r->msgs[last[k]].offset + 1 : 0;
        if (k == npairs) npairs++;
        last[k] = i;
    }
    free(last);
}

static int split_kafka(ls_file_records *r, const char *path, ls_err *err)
{
    ls_buf out;
    ls_buf_init(&out);
    size_t cap = 0, mcap = 0;
    int rc = 0;
    EACH_LINE(r->buf, r->len, {
        if (rc == 0 && !blank(r->buf + line_off, line_len)) {
            ls_err why;
            ls_file_msg m;
            size_t start = out.len;
            if (parse_message(r->buf + line_off, line_len, &out, &m, &why)) {
                ls_seterr(err, "%s:%lld: %s", path, (long long)line_no, why.msg);
                free_msg(&m);
                rc = -1;
            } else {
                if (r->n == mcap) {
                    mcap = mcap ? mcap * 2 : 64;
                    r->msgs = ls_xrealloc(r->msgs, mcap * sizeof *r->msgs);
                }
                r->msgs[r->n] = m;
                add_span(r, &cap, start, out.len - start, line_no);
            }
        }
    });
    free(r->buf);
    r->buf = out.data;
    r->len = out.len;
    if (rc == 0) number_messages(r);
    return rc;
}

int ls_file_records_load(const char *path, ls_file_format format, ls_file_records *out,
                         ls_err *err)
{
    memset(out, 0, sizeof *out);
    ls_buf b;
    ls_buf_init(&b);
    if (ls_read_file(path, &b, err)) {
        ls_buf_free(&b);
        return -1;
    }
    out->buf = b.data;
    out->len = b.len;
    int rc = 0;
    if (format == LS_FORMAT_NDJSON) split_ndjson(out);
    else if (format == LS_FORMAT_LINES) rc = split_lines(out, err);
    else if (format == LS_FORMAT_KAFKA) rc = split_kafka(out, path, err);
    else rc = split_json(out, path, err);
    if (rc) ls_file_records_free(out);
    return rc;
}

void ls_file_records_free(ls_file_records *r)
{
    for (size_t i = 0; r->msgs && i < r->n; i++) free_msg(&r->msgs[i]);
    free(r->msgs);
    free(r->buf);
    free(r->recs);
    memset(r, 0, sizeof *r);
}
