/* ls_schema.h - a source's optional schema: column names with Spark types.
 *
 * Without a schema, JSON types decide (5 and "5" are different values).
 * With `schema = { agency_id = "int", call_date_time = "timestamp" }` on a
 * source, every record is read as a Spark user reads it with from_json and
 * a StructType of strings followed by try_cast per column: each declared
 * column is cast to its type with Spark's cast rules (ls_cast.h), a value
 * the cast rejects becomes null (counted), and columns the schema does not
 * declare are not there at all: a query that names one fails at load, a
 * map does not see them. A nested value (object or array) in a declared
 * column becomes null. */
#ifndef LS_SCHEMA_H
#define LS_SCHEMA_H

#include <lua.h>
#include <stddef.h>

#include "ls_cast.h"
#include "ls_json_lua.h"
#include "ls_json_scan.h"

typedef struct ls_schema {
    ls_fieldset *fields; /* the declared columns, in declaration order */
    ls_type *types;      /* one per field */
} ls_schema;

ls_schema *ls_schema_new(void);
void ls_schema_free(ls_schema *s);
/* Declares a column; -1 when it is already declared. */
int ls_schema_add(ls_schema *s, const char *name, ls_type type);
/* The type of a column, or -1 when the schema does not declare it. */
int ls_schema_type(const ls_schema *s, const char *name);

/* Casts the projected values of a view in place. types[i] is the type of
 * the view's field i, or -1 to leave it. Strings made by a cast go into
 * scratch (emptied first). Returns how many values became null. */
size_t ls_schema_cast_view(const int *types, ls_recview *view, ls_buf *scratch);

/* Casts the declared columns of the record table at idx in place (the
 * table was decoded with the schema's fields as its projection). Returns
 * how many values became null. */
size_t ls_schema_cast_table(const ls_schema *s, lua_State *L, int idx, ls_buf *scratch);

#endif
