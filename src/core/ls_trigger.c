/* ls_trigger.c - reading and showing triggers (see ls_trigger.h). */
#include "ls_trigger.h"

#include <stdio.h>
#include <string.h>

#include "ls_time.h"

int ls_trigger_parse(const char *s, ls_trigger *t)
{
    if (!s) return -1;
    if (strcmp(s, "once") == 0) {
        t->kind = LS_TRIGGER_ONCE;
        t->interval_ms = 0;
        return 0;
    }
    if (strcmp(s, "available-now") == 0 || strcmp(s, "availableNow") == 0 ||
        strcmp(s, "available_now") == 0) {
        t->kind = LS_TRIGGER_AVAILABLE_NOW;
        t->interval_ms = 0;
        return 0;
    }
    int64_t ms;
    if (ls_duration_parse(s, &ms)) return -1;
    t->kind = LS_TRIGGER_INTERVAL;
    t->interval_ms = ms;
    return 0;
}

void ls_trigger_text(const ls_trigger *t, char *out, size_t n)
{
    if (t->kind == LS_TRIGGER_ONCE) snprintf(out, n, "once");
    else if (t->kind == LS_TRIGGER_AVAILABLE_NOW) snprintf(out, n, "available-now");
    else if (t->interval_ms == 0) snprintf(out, n, "a batch as soon as the last ends");
    else snprintf(out, n, "every %lld ms", (long long)t->interval_ms);
}
