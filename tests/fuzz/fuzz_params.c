/* fuzz_params.c - libFuzzer target: everything that parses user text in
 * scripts and on the command line: timestamps, durations, triggers. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ls_engine.h"
#include "ls_time.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = '\0';
    int64_t ms;
    if (ls_time_parse(s, size, &ms) == 0) {
        char out[32];
        ls_time_format(ms, out);
    }
    ls_duration_parse(s, &ms);
    ls_trigger t;
    ls_trigger_parse(s, &t);
    free(s);
    return 0;
}
