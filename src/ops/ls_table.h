/* ls_table.h - static tables for stream-static joins.
 *
 * A table is loaded once from a JSON file holding an array of objects and
 * indexed by one key column.  Its values are copied and owned by the table;
 * rows handed out by lookups stay valid for the table's lifetime. */
#ifndef LS_TABLE_H
#define LS_TABLE_H

#include <stddef.h>

#include "ls_hmap.h"
#include "ls_value.h"

typedef struct ls_table {
    char *path;
    char *key;        /* key column name */
    size_t ncols;
    char **cols;      /* column names, in order of first appearance */
    size_t nrows;
    ls_value *cells;  /* nrows * ncols, LS_NULL where a row lacks a column */
    ls_hmap index;    /* key value -> row */
    struct ls_table_row *rows;
} ls_table;

typedef struct ls_table_row {
    ls_buf key;       /* encoded key value */
    size_t row;
} ls_table_row;

/* Loads path; returns NULL and fills err (naming the file) on failure:
 * unreadable file, invalid JSON, not an array of objects, missing or
 * duplicate key. */
ls_table *ls_table_load(const char *path, const char *key, ls_err *err);
void ls_table_free(ls_table *t);
/* Column index by name, or -1. */
int ls_table_col(const ls_table *t, const char *name);
/* Row index whose key equals v, or -1. scratch is a caller-owned buffer
 * for the encoded key (lookups run per record and must not allocate). */
long ls_table_lookup(const ls_table *t, const ls_value *v, ls_buf *scratch);
static inline const ls_value *ls_table_cell(const ls_table *t, size_t row, size_t col)
{
    return &t->cells[row * t->ncols + col];
}

#endif
