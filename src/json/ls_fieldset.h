/* ls_fieldset.h - the top-level field names a decoder keeps (a query's
 * projection, a source's schema): an ordered set, small enough that a
 * linear scan beats hashing (a handful of names). Owns its copies of the
 * names. Shared by both decoders, so neither depends on the other. */
#ifndef LS_FIELDSET_H
#define LS_FIELDSET_H

#include <stddef.h>

#include "ls_util.h"

typedef struct ls_fieldset {
    size_t n;
    char **names;
    size_t *lens;
} ls_fieldset;

ls_fieldset *ls_fieldset_new(void);
/* Adds name (once) and returns its index. */
int ls_fieldset_add(ls_fieldset *fs, const char *name);
/* Index of name, or -1. */
int ls_fieldset_index(const ls_fieldset *fs, const char *name, size_t len);
int ls_fieldset_has(const ls_fieldset *fs, const char *name, size_t len);
void ls_fieldset_free(ls_fieldset *fs);

#endif
