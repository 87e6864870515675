/* ls_reload.h - hot reload (luastream SCRIPT --watch, or SIGHUP): a
 * running job takes a new version of its script between two batches and
 * keeps its state, when nothing its state depends on changed (see
 * ls_reload.c). */
#ifndef LS_RELOAD_H
#define LS_RELOAD_H

#include <stdint.h>

/* The engine's second file: it shares ls_engine_impl.h with ls_engine.c,
 * which calls it between batches; declared here without the engine's
 * header so the two do not include each other. */
struct ls_engine;
struct ls_engine_opts;
struct ls_err;

/* Loads the script again and, if every query kept its name, source,
 * grouping, aggregates, output mode, event time and watermark, swaps the
 * new declarations in with the old state. Returns 0 (reloaded), 1 (refused:
 * the reason is logged and the running script goes on) or -1 (the engine
 * cannot go on: fatal says why). Call between batches only. */
int ls_reload(struct ls_engine *e, const struct ls_engine_opts *o, struct ls_err *fatal);

/* What tells that a file changed: modification time, size, inode (an
 * editor that saves by renaming makes a new one). */
typedef struct ls_file_stamp {
    int64_t mtime_ns;
    int64_t size;
    uint64_t ino;
} ls_file_stamp;

int ls_reload_stat(const char *path, ls_file_stamp *st);

#endif
