/* test_helpers.h - small helpers shared by the unit tests: temporary
 * directories and files, reading a file back, substring counting. */
#ifndef LS_TEST_HELPERS_H
#define LS_TEST_HELPERS_H

#include <stddef.h>
#include <stdio.h>

/* mkdtemp under $TMPDIR (or /tmp); returns a malloc'd path. */
char *th_tmpdir(void);
/* Removes dir and everything below it. */
void th_rmrf(const char *dir);
/* Writes content to dir/name; returns the malloc'd path. */
char *th_write_file(const char *dir, const char *name, const char *content, size_t n);
/* Writes script to dir/job.lua with every "DIR" replaced by dir; returns the malloc'd path. */
char *th_write_script(const char *dir, const char *script);
/* Reads a whole file (NUL-terminated, malloc'd); NULL if it cannot be read. */
char *th_read_file(const char *path, size_t *n);
/* Reads everything written to f so far (rewinds it). */
char *th_read_stream(FILE *f, size_t *n);
/* Non-overlapping occurrences of needle in hay. */
int th_count(const char *hay, const char *needle);
/* Splits text into lines in place; returns the count, fills lines[max]. */
int th_lines(char *text, char **lines, int max);
/* Points LUASTREAM_LUA_PATH at the source tree's lua/ folder (found from the
 * working directory or the test binary's location); 0, or -1 if not found. */
int th_set_lua_path(void);

#endif
