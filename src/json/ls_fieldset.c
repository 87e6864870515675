/* ls_fieldset.c - a small ordered set of field names (see ls_fieldset.h). */
#include "ls_fieldset.h"

#include <stdlib.h>
#include <string.h>

ls_fieldset *ls_fieldset_new(void) { return ls_xcalloc(1, sizeof(ls_fieldset)); }

int ls_fieldset_add(ls_fieldset *fs, const char *name)
{
    int at = ls_fieldset_index(fs, name, strlen(name));
    if (at >= 0) return at;
    fs->names = ls_xrealloc(fs->names, (fs->n + 1) * sizeof *fs->names);
    fs->lens = ls_xrealloc(fs->lens, (fs->n + 1) * sizeof *fs->lens);
    fs->names[fs->n] = ls_xstrdup(name);
    fs->lens[fs->n] = strlen(name);
    return (int)fs->n++;
}

int ls_fieldset_index(const ls_fieldset *fs, const char *name, size_t len)
{
    for (size_t i = 0; i < fs->n; i++)
        if (fs->lens[i] == len && memcmp(fs->names[i], name, len) == 0) return (int)i;
    return -1;
}

int ls_fieldset_has(const ls_fieldset *fs, const char *name, size_t len)
{
    return ls_fieldset_index(fs, name, len) >= 0;
}

void ls_fieldset_free(ls_fieldset *fs)
{
    if (!fs) return;
    for (size_t i = 0; i < fs->n; i++) free(fs->names[i]);
    free(fs->names);
    free(fs->lens);
    free(fs);
}
