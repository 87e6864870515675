/* ls_table.c - loading and indexing static JSON tables (yajl's tree API:
 * tables are small and read once, so a DOM is the simple choice). */
#include "ls_table.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl_tree.h>

#include "ls_util.h"

static const char *row_key_of(const void *item, size_t *len)
{
    const ls_table_row *r = item;
    *len = r->key.len;
    return r->key.data;
}

/* Copies a yajl node into a table cell (strings are duplicated). */
static int cell_from_node(ls_value *out, yajl_val v)
{
    if (!v || YAJL_IS_NULL(v)) *out = ls_null();
    else if (YAJL_IS_TRUE(v)) { out->type = LS_BOOL; out->u.b = 1; }
    else if (YAJL_IS_FALSE(v)) { out->type = LS_BOOL; out->u.b = 0; }
    else if (YAJL_IS_INTEGER(v)) *out = ls_int(YAJL_GET_INTEGER(v));
    else if (YAJL_IS_NUMBER(v)) *out = ls_double(YAJL_GET_DOUBLE(v));
    else if (YAJL_IS_STRING(v)) {
        const char *s = YAJL_GET_STRING(v);
        size_t n = strlen(s);
        *out = ls_str(ls_xstrndup(s, n), n);
    } else return -1; /* nested values are not supported in tables */
    return 0;
}

static int col_index(ls_table *t, const char *name, int add)
{
    for (size_t i = 0; i < t->ncols; i++)
        if (strcmp(t->cols[i], name) == 0) return (int)i;
    if (!add) return -1;
    t->cols = ls_xrealloc(t->cols, (t->ncols + 1) * sizeof *t->cols);
    t->cols[t->ncols] = ls_xstrdup(name);
    return (int)t->ncols++;
}

ls_table *ls_table_load(const char *path, const char *key, ls_err *err)
{
    ls_buf text;
    ls_buf_init(&text);
    if (ls_read_file(path, &text, err)) {
        ls_buf_free(&text);
        return NULL;
    }
    char perr[256] = "";
    yajl_val root = yajl_tree_parse(text.data, perr, sizeof perr);
    ls_buf_free(&text);
    if (!root) {
        char *nl = strchr(perr, '\n');
        if (nl) *nl = '\0';
        ls_seterr(err, "%s: invalid JSON: %s", path, perr);
        return NULL;
    }
    if (!YAJL_IS_ARRAY(root)) {
        ls_seterr(err, "%s: expected a JSON array of objects", path);
        yajl_tree_free(root);
        return NULL;
    }
    ls_table *t = ls_xcalloc(1, sizeof *t);
    t->path = ls_xstrdup(path);
    t->key = ls_xstrdup(key);
    ls_hmap_init(&t->index, row_key_of);
    size_t n = YAJL_GET_ARRAY(root)->len;
    yajl_val *items = YAJL_GET_ARRAY(root)->values;

    /* Pass 1: columns. */
    col_index(t, key, 1);
    for (size_t r = 0; r < n; r++) {
        if (!YAJL_IS_OBJECT(items[r])) {
            ls_seterr(err, "%s: element %zu (counting from 1) is not an object", path, r + 1);
            goto fail;
        }
        for (size_t k = 0; k < YAJL_GET_OBJECT(items[r])->len; k++)
            col_index(t, YAJL_GET_OBJECT(items[r])->keys[k], 1);
    }
    /* Pass 2: cells and index. */
    t->nrows = n;
    t->cells = ls_xcalloc(n * t->ncols + 1, sizeof *t->cells);
    t->rows = ls_xcalloc(n ? n : 1, sizeof *t->rows);
    for (size_t r = 0; r < n; r++) {
        yajl_val obj = items[r];
        for (size_t k = 0; k < YAJL_GET_OBJECT(obj)->len; k++) {
            int c = col_index(t, YAJL_GET_OBJECT(obj)->keys[k], 0);
            ls_value *cell = &t->cells[r * t->ncols + (size_t)c];
            if (cell->type == LS_STR) free((char *)cell->u.s.p); /* repeated field: last wins */
            *cell = ls_null();
            if (cell_from_node(cell, YAJL_GET_OBJECT(obj)->values[k])) {
                ls_seterr(err, "%s: element %zu (counting from 1), field \"%s\": nested values "
                          "are not supported", path, r + 1, YAJL_GET_OBJECT(obj)->keys[k]);
                goto fail;
            }
        }
        const ls_value *kv = &t->cells[r * t->ncols];
        if (kv->type == LS_NULL) {
            ls_seterr(err, "%s: element %zu (counting from 1) has no key \"%s\"", path, r + 1, key);
            goto fail;
        }
        ls_table_row *row = &t->rows[r];
        ls_buf_init(&row->key);
        ls_key_put(&row->key, kv);
        row->row = r;
        uint64_t h = ls_hash(row->key.data, row->key.len);
        if (ls_hmap_get(&t->index, row->key.data, row->key.len, h)) {
            ls_buf text;
            ls_buf_init(&text);
            ls_value_text(&text, kv);
            ls_seterr(err, "%s: duplicate key %s = \"%s\" at element %zu (counting from 1)", path,
                      key, text.data, r + 1);
            ls_buf_free(&text);
            goto fail;
        }
        ls_hmap_put(&t->index, row, h);
    }
    yajl_tree_free(root);
    return t;
fail:
    yajl_tree_free(root);
    ls_table_free(t);
    return NULL;
}

void ls_table_free(ls_table *t)
{
    if (!t) return;
    for (size_t i = 0; t->cells && i < t->nrows * t->ncols; i++)
        if (t->cells[i].type == LS_STR) free((char *)t->cells[i].u.s.p);
    for (size_t r = 0; t->rows && r < t->nrows; r++) ls_buf_free(&t->rows[r].key);
    for (size_t c = 0; c < t->ncols; c++) free(t->cols[c]);
    ls_hmap_free(&t->index);
    free(t->rows);
    free(t->cells);
    free(t->cols);
    free(t->path);
    free(t->key);
    free(t);
}

int ls_table_col(const ls_table *t, const char *name)
{
    for (size_t i = 0; i < t->ncols; i++)
        if (strcmp(t->cols[i], name) == 0) return (int)i;
    return -1;
}

long ls_table_lookup(const ls_table *t, const ls_value *v, ls_buf *scratch)
{
    ls_buf_reset(scratch);
    ls_key_put(scratch, v);
    const ls_table_row *row =
        ls_hmap_get(&t->index, scratch->data, scratch->len, ls_hash(scratch->data, scratch->len));
    return row ? (long)row->row : -1;
}
