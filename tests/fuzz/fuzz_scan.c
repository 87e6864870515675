/* fuzz_scan.c - libFuzzer target: the projection decoder (ls_json_scan)
 * on arbitrary bytes, projecting a few fields. Any crash, leak, hang or
 * sanitizer report is a bug. */
#include <stdint.h>
#include <stdlib.h>

#include "ls_json_scan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *fields[] = { "a", "call_date_time", "disposition", "n" };
    ls_fieldset *fs = ls_fieldset_new();
    for (size_t i = 0; i < 4; i++) ls_fieldset_add(fs, fields[i]);
    ls_recview v;
    ls_recview_init(&v, fs->n);
    ls_err err;
    ls_json_scan((const char *)data, size, fs, &v, &err);
    ls_recview_free(&v);
    ls_fieldset_free(fs);
    return 0;
}
