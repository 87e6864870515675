/* ls_consume.h - the `consume` command: a topic's messages printed for a
 * look by eye, through the engine's own source. */
#ifndef LS_CONSUME_H
#define LS_CONSUME_H

#include <signal.h>
#include <stdint.h>

#include "ls_kafka.h"

typedef struct ls_consume_opts {
    const char *topic;
    const char *bootstrap;
    int from_beginning;
    int to_end;              /* stop at the end offsets seen at start */
    int64_t max;             /* 0 = no limit */
    int show_meta;           /* prefix topic/partition@offset and key */
    int connect_timeout_ms;
    const ls_props *props;
    volatile sig_atomic_t *stop;
} ls_consume_opts;

/* Returns the process exit code: 0 done, 1 a consumer or output error, 2
 * set-up (128 + the signal when stopped while still reaching the broker). */
int ls_consume(const ls_consume_opts *o);

#endif
