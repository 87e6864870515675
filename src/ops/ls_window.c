/* ls_window.c - window assignment and watermark bookkeeping. */
#include "ls_window.h"

static int64_t floor_mod(int64_t a, int64_t m)
{
    int64_t r = a % m;
    return r < 0 ? r + m : r;
}

int ls_window_assign(const ls_window_spec *w, int64_t t, int64_t *starts)
{
    /* The last window that starts at or before t ... */
    int64_t last = t - floor_mod(t, w->slide);
    /* ... and the earlier ones that still contain t. */
    int n = 0;
    int64_t first = last;
    while (first - w->slide > t - w->size && n + 1 < LS_MAX_WINDOWS) {
        first -= w->slide;
        n++;
    }
    int count = 0;
    for (int64_t s = first; s <= last && count < LS_MAX_WINDOWS; s += w->slide)
        if (s <= t && t < s + w->size) starts[count++] = s;
    return count;
}

void ls_watermark_init(ls_watermark *wm, int64_t delay)
{
    wm->delay = delay;
    wm->max_event = LS_NO_TIME;
    wm->global = 0;
    wm->batch = 0;
    wm->late = 0;
}

void ls_watermark_observe(ls_watermark *wm, int64_t t)
{
    if (t > wm->max_event) wm->max_event = t;
}

void ls_watermark_begin_batch(ls_watermark *wm)
{
    wm->late = wm->batch;
    wm->batch = wm->global;
}

int ls_watermark_end_batch(ls_watermark *wm)
{
    int64_t next;
    if (wm->max_event == LS_NO_TIME || __builtin_sub_overflow(wm->max_event, wm->delay, &next))
        return 0;
    if (next <= wm->global) return 0;
    wm->global = next;
    return 1;
}

int ls_watermark_is_late(const ls_watermark *wm, int64_t t)
{
    return t <= wm->late;
}

int ls_watermark_pending(const ls_watermark *wm)
{
    return wm->global > wm->batch;
}
