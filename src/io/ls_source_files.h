/* ls_source_files.h - the file source's side of ls_source's functions
 * (ls_source_files.c): ls_source.c calls these for a source with
 * is_files set; nothing else does. */
#ifndef LS_SOURCE_FILES_H
#define LS_SOURCE_FILES_H

#include "ls_source.h"

int ls_fsrc_open(ls_source *s, int bounded, ls_err *err);
int64_t ls_fsrc_plan(ls_source *s, int64_t cap);
size_t ls_fsrc_read(ls_source *s, size_t pi, ls_record *out, size_t max);
void ls_fsrc_end_batch(ls_source *s);
size_t ls_fsrc_arrived(ls_source *s);
void ls_fsrc_free(ls_source *s);

#endif
