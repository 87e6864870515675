/* fuzz_split.c - libFuzzer target: the producer's streaming file reader
 * (ls_json_split) on an arbitrary file. */
#include <stdint.h>
#include <stdio.h>

#include "ls_json_split.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FILE *f = fmemopen((void *)data, size ? size : 1, "rb");
    if (!f) return 0;
    if (!size) {
        fclose(f);
        return 0;
    }
    ls_splitter s;
    ls_splitter_init(&s, f);
    ls_err err;
    while (ls_splitter_next(&s, &err) > 0) {
    }
    ls_splitter_free(&s);
    fclose(f);
    return 0;
}
