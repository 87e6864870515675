/* ls_window.h - event-time windows and the watermark.
 *
 * Windows follow Spark's window(col, size, slide): aligned to the epoch,
 * [start, start + size), one every `slide`; tumbling when slide == size.
 * The watermark is max(event time seen) - delay, advanced only at the end
 * of a batch and never moved backwards. */
#ifndef LS_WINDOW_H
#define LS_WINDOW_H

#include <stdint.h>

#define LS_NO_TIME INT64_MIN

typedef struct ls_window_spec {
    int64_t size;  /* ms */
    int64_t slide; /* ms, <= size */
} ls_window_spec;

/* Max windows one event can fall in (size/slide is capped at this). */
#define LS_MAX_WINDOWS 64

/* Writes the start of every window containing t, in ascending order, and
 * returns how many (at most LS_MAX_WINDOWS). */
int ls_window_assign(const ls_window_spec *w, int64_t t, int64_t *starts);

typedef struct ls_watermark {
    int64_t delay;     /* ms */
    int64_t max_event; /* LS_NO_TIME until an event is seen */
    int64_t current;   /* LS_NO_TIME until the first batch ends */
} ls_watermark;

void ls_watermark_init(ls_watermark *wm, int64_t delay);
void ls_watermark_observe(ls_watermark *wm, int64_t t);
/* Called at the end of a batch; returns 1 when the watermark moved. */
int ls_watermark_advance(ls_watermark *wm);
/* True when an event at t is too late for stateful operators. */
int ls_watermark_is_late(const ls_watermark *wm, int64_t t);

#endif
