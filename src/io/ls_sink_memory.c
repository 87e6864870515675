/* ls_sink_memory.c - a sink that keeps a query's final rows in memory, for
 * `luastream test`: what a table fed by the query would hold at the end.
 *
 *   complete  the last batch's rows (each batch replaces the table)
 *   update    the last row written for each group key
 *   append    every row, as written (per-record queries too)
 *
 * A per-record row bound for a Kafka sink carries its routing in the row
 * itself: "_topic" (the sink's topic, or the one _topic or a topic
 * function chose), "_key" and "_headers" (name -> value) when it has them,
 * so a test sees where each message would go. Rows are kept as JSON text; the sink owns them. */
#include <stdlib.h>
#include <string.h>

#include "ls_hmap.h"
#include "ls_sink.h"

typedef struct mem_row {
    char *key;   /* update mode: the group key as JSON */
    size_t key_len;
    char *json;
} mem_row;

typedef struct mem_sink {
    ls_sink base;
    int mode;          /* 0 complete, 1 update, 2 append (ls_mode's order) */
    char *topic;       /* a Kafka sink's own topic, for rows it does not route */
    mem_row **rows;
    size_t n, cap;
    ls_hmap index;     /* update mode: key -> row */
    ls_buf line, key;
    yajl_gen gen;
} mem_sink;

static const char *row_key(const void *item, size_t *len)
{
    const mem_row *r = item;
    *len = r->key_len;
    return r->key;
}

static void free_row(mem_row *r)
{
    free(r->key);
    free(r->json);
    free(r);
}

static void clear(mem_sink *m)
{
    for (size_t i = 0; i < m->n; i++) free_row(m->rows[i]);
    m->n = 0;
    ls_hmap_free(&m->index);
    ls_hmap_init(&m->index, row_key);
}

static void push(mem_sink *m, mem_row *r)
{
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 64;
        m->rows = ls_xrealloc(m->rows, m->cap * sizeof *m->rows);
    }
    m->rows[m->n++] = r;
}

static int open_batch(ls_sink *s, int64_t batch_id, ls_err *err)
{
    (void)batch_id;
    (void)err;
    mem_sink *m = (mem_sink *)s;
    s->rows_in_batch = 0;
    if (m->mode == 0) clear(m);
    return 0;
}

static int write_row(ls_sink *s, const ls_row *row, ls_err *err)
{
    (void)err;
    mem_sink *m = (mem_sink *)s;
    ls_buf_reset(&m->line);
    ls_row_json_with(m->gen, row, 0, &m->line);
    s->rows_in_batch++;
    if (m->mode == 1) {
        ls_buf_reset(&m->key);
        ls_row_json_with(m->gen, row, 1, &m->key);
        uint64_t h = ls_hash(m->key.data, m->key.len);
        mem_row *r = ls_hmap_get(&m->index, m->key.data, m->key.len, h);
        if (r) {
            free(r->json);
            r->json = ls_xstrndup(m->line.data, m->line.len);
            return 0;
        }
        r = ls_xcalloc(1, sizeof *r);
        r->key = ls_xstrndup(m->key.data, m->key.len);
        r->key_len = m->key.len;
        r->json = ls_xstrndup(m->line.data, m->line.len);
        ls_hmap_put(&m->index, r, h);
        push(m, r);
        return 0;
    }
    mem_row *r = ls_xcalloc(1, sizeof *r);
    r->json = ls_xstrndup(m->line.data, m->line.len);
    push(m, r);
    return 0;
}

static int gen_text(yajl_gen g, const char *s, size_t n)
{
    return yajl_gen_string(g, (const unsigned char *)s, n) != yajl_gen_status_ok;
}

/* The routing of o as a JSON object's members, into g (open map). Nonzero
 * when a text was not valid UTF-8. */
static int gen_routing(yajl_gen g, const ls_out *o, const char *topic)
{
    int bad = 0;
    if (o->nheaders) {
        bad |= gen_text(g, "_headers", 8);
        yajl_gen_map_open(g);
        for (size_t i = 0; i < o->nheaders; i++) {
            bad |= gen_text(g, o->hnames[i], strlen(o->hnames[i]));
            if (o->hvals[i]) bad |= gen_text(g, o->hvals[i], o->hlens[i]);
            else yajl_gen_null(g);
        }
        yajl_gen_map_close(g);
    }
    if (o->key) bad |= gen_text(g, "_key", 4) | gen_text(g, o->key, o->key_len);
    if (topic) bad |= gen_text(g, "_topic", 6) | gen_text(g, topic, strlen(topic));
    return bad;
}

/* {"_headers":{...},"_key":"k","_topic":"t", ...the row's fields}: the
 * routing first, then the row's own text after its opening brace. */
static int write_out(ls_sink *s, const ls_out *o, ls_err *err)
{
    (void)err;
    mem_sink *m = (mem_sink *)s;
    ls_buf_reset(&m->line);
    int bad = 0;
    const char *topic = o->topic ? o->topic : m->topic;
    if (o->len > 0 && o->json[0] == '{' && (o->key || topic || o->nheaders)) {
        yajl_gen g = m->gen;
        yajl_gen_clear(g);
        yajl_gen_reset(g, NULL);
        yajl_gen_map_open(g);
        bad = gen_routing(g, o, topic);
        yajl_gen_map_close(g);
        if (!bad) {
            ls_json_take(g, &m->line); /* {...routing} */
            m->line.len--;            /* without its closing brace */
            if (o->len > 2) ls_buf_putc(&m->line, ',');
            ls_buf_append(&m->line, o->json + 1, o->len - 1);
        }
    }
    if (bad || !m->line.len) { /* no routing, or routing that is not text */
        ls_buf_reset(&m->line);
        ls_buf_append(&m->line, o->json, o->len);
    }
    mem_row *r = ls_xcalloc(1, sizeof *r);
    r->json = ls_xstrndup(m->line.data ? m->line.data : "", m->line.len);
    push(m, r);
    s->rows_in_batch++;
    return 0;
}

static int close_batch(ls_sink *s, ls_err *err)
{
    (void)s;
    (void)err;
    return 0;
}

static void destroy(ls_sink *s)
{
    mem_sink *m = (mem_sink *)s;
    clear(m);
    ls_hmap_free(&m->index);
    free(m->rows);
    ls_buf_free(&m->line);
    ls_buf_free(&m->key);
    yajl_gen_free(m->gen);
    free(s->description);
    free(m->topic);
    free(m);
}

static const ls_sink_vt memory_vt = { open_batch, write_row, write_out, close_batch, destroy };

ls_sink *ls_sink_memory_new(const char *query, int mode, const char *topic)
{
    mem_sink *m = ls_xcalloc(1, sizeof *m);
    m->topic = topic ? ls_xstrdup(topic) : NULL;
    m->base.vt = &memory_vt;
    ls_buf d;
    ls_buf_init(&d);
    ls_buf_printf(&d, "MemorySink[%s]", query);
    m->base.description = d.data;
    m->mode = mode;
    ls_hmap_init(&m->index, row_key);
    ls_buf_init(&m->line);
    ls_buf_init(&m->key);
    m->gen = ls_row_gen_new();
    return &m->base;
}

int ls_sink_is_memory(const ls_sink *s)
{
    return s && s->vt == &memory_vt;
}

size_t ls_sink_memory_count(const ls_sink *s)
{
    return ls_sink_is_memory(s) ? ((const mem_sink *)s)->n : 0;
}

const char *ls_sink_memory_row(const ls_sink *s, size_t i)
{
    const mem_sink *m = (const mem_sink *)s;
    return ls_sink_is_memory(s) && i < m->n ? m->rows[i]->json : NULL;
}
