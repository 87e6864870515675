/* ls_trigger.h - when batches start, as Spark's triggers say it: an
 * interval (batches on its multiples; 0: one as soon as the last ended),
 * once (one batch of everything there), available-now (everything there at
 * the start, in capped batches, then exit). */
#ifndef LS_TRIGGER_H
#define LS_TRIGGER_H

#include <stddef.h>
#include <stdint.h>

typedef enum { LS_TRIGGER_INTERVAL, LS_TRIGGER_ONCE, LS_TRIGGER_AVAILABLE_NOW } ls_trigger_kind;

typedef struct ls_trigger {
    ls_trigger_kind kind;
    int64_t interval_ms; /* LS_TRIGGER_INTERVAL; 0 = next batch as soon as one ends */
} ls_trigger;

/* "2 seconds", "500ms", "once", "available-now" (also "availableNow"). */
int ls_trigger_parse(const char *s, ls_trigger *t);
void ls_trigger_text(const ls_trigger *t, char *out, size_t n);

#endif
