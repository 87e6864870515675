/* ls_partitions.c - a set of Kafka partitions as short text (see
 * ls_partitions.h). */
#include "ls_partitions.h"

#include <stdlib.h>
#include <string.h>

typedef struct tp {
    const char *topic;
    int32_t partition;
} tp;

static int cmp_tp(const void *a, const void *b)
{
    const tp *x = a, *y = b;
    int c = strcmp(x->topic, y->topic);
    if (c) return c;
    return x->partition < y->partition ? -1 : x->partition > y->partition;
}

void ls_partitions_text(ls_buf *out, size_t n, const char *const *topics,
                        const int32_t *partitions)
{
    if (n == 0) return;
    tp *v = ls_xcalloc(n, sizeof *v);
    for (size_t i = 0; i < n; i++) {
        v[i].topic = topics[i] ? topics[i] : "?";
        v[i].partition = partitions[i];
    }
    qsort(v, n, sizeof *v, cmp_tp);
    size_t i = 0;
    while (i < n) {
        const char *topic = v[i].topic;
        ls_buf_printf(out, "%s%s[", i ? ", " : "", topic);
        int first = 1;
        while (i < n && strcmp(v[i].topic, topic) == 0) {
            int32_t lo = v[i].partition, hi = lo;
            /* the run of consecutive partitions from lo (duplicates skipped) */
            while (i + 1 < n && strcmp(v[i + 1].topic, topic) == 0 &&
                   (v[i + 1].partition == hi || (hi < INT32_MAX && v[i + 1].partition == hi + 1))) {
                hi = v[i + 1].partition;
                i++;
            }
            i++;
            if (lo == hi) ls_buf_printf(out, "%s%d", first ? "" : ",", (int)lo);
            else ls_buf_printf(out, "%s%d-%d", first ? "" : ",", (int)lo, (int)hi);
            first = 0;
        }
        ls_buf_putc(out, ']');
    }
    free(v);
}
