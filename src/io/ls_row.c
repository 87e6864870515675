/* ls_row.c - JSON rendering of result rows (yajl_gen does the escaping). */
#include <string.h>
#include <yajl_gen.h>

#include "ls_sink.h"

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
