/* ls_sandbox.h - what a script may touch (unless --unsafe-lua).
 *
 * Allowed: reading files under the script's folder and the working
 * directory (io.open / io.lines / io.input in read mode, loadfile, dofile),
 * Lua modules from the package.path fixed at start and the script's folder,
 * lua-cjson, stdin/stdout/stderr, os.getenv (secrets come from the
 * environment), os.time/clock/date/difftime, and debug.traceback and
 * debug.getinfo. Refused with an error at the script's line: writing,
 * renaming or removing files, temporary files, running programs
 * (os.execute, io.popen), os.exit, os.setlocale (the engine parses numbers),
 * native modules, binary chunks (load/loadfile/dofile read text only), and
 * the rest of the debug library (it would reach the originals through
 * upvalues). */
#ifndef LS_SANDBOX_H
#define LS_SANDBOX_H

#include <lua.h>

/* Applies the sandbox to L (standard libraries open, package.path final).
 * script: the script's path (its folder is readable). */
void ls_sandbox_apply(lua_State *L, const char *script);

#endif
