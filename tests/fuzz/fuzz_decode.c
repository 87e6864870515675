/* fuzz_decode.c - libFuzzer target: the JSON-to-Lua-table decoder
 * (ls_json_decode, projected and not) on arbitrary bytes. */
#include <lauxlib.h>
#include <stdint.h>

#include "ls_json_lua.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lua_State *L = luaL_newstate();
    ls_err err;
    if (ls_json_decode(L, (const char *)data, size, NULL, &err) == 0) lua_pop(L, 1);
    ls_fieldset *fs = ls_fieldset_new();
    ls_fieldset_add(fs, "a");
    if (ls_json_decode(L, (const char *)data, size, fs, &err) == 0) lua_pop(L, 1);
    if (ls_json_decode_any(L, (const char *)data, size, &err) == 0) lua_pop(L, 1);
    ls_fieldset_free(fs);
    lua_close(L);
    return 0;
}
