/* ls_window.h - event-time windows and the watermark.
 *
 * Windows follow Spark's window(col, size, slide): aligned to the epoch,
 * [start, start + size), one every `slide`; tumbling when slide == size.
 * The watermark follows Spark's micro-batch rules (below). */
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

/* The watermark, as Spark's micro-batch engine keeps it (one per query):
 *
 *   global  max over finished batches of (max event time - delay), from 0
 *           (the epoch), never moving back: Spark's WatermarkTracker;
 *   batch   the value in effect during the current batch, fixed when it
 *           began (= global then): state eviction, append-mode emission
 *           and the progress report's eventTime.watermark use it;
 *   late    the previous batch's `batch`: a (row, window) pair whose window
 *           ends at or before it (or, grouping by the event-time column
 *           itself, whose event time is at or before it) is late and
 *           dropped at the stateful operator. Spark 3.5+ judges late rows one
 *           batch behind eviction (statefulOperator.allowMultiple, default
 *           true: PropagateWatermarkSimulator.getInputWatermarkForLateEvents).
 *
 * A checkpoint keeps `batch` and `global`, so a restart continues exactly. */
typedef struct ls_watermark {
    int64_t delay;     /* ms */
    int64_t max_event; /* LS_NO_TIME until an event is seen */
    int64_t global;
    int64_t batch;
    int64_t late;
} ls_watermark;

void ls_watermark_init(ls_watermark *wm, int64_t delay);
void ls_watermark_observe(ls_watermark *wm, int64_t t);
/* At the start of a batch: late = batch, batch = global. */
void ls_watermark_begin_batch(ls_watermark *wm);
/* At the end of a batch: folds the events seen into global; returns 1 when
 * it moved. */
int ls_watermark_end_batch(ls_watermark *wm);
/* True when a pair whose window ends at t (or whose grouped event time is
 * t) is too late for the stateful operator of the current batch. */
int ls_watermark_is_late(const ls_watermark *wm, int64_t t);
/* True when the global watermark is past the current batch's: another
 * batch would evict (Spark then runs one even without new data). */
int ls_watermark_pending(const ls_watermark *wm);

#endif
