/* ls_produce.h - the `produce` command. */
#ifndef LS_PRODUCE_H
#define LS_PRODUCE_H

#include <signal.h>
#include <stdint.h>

#include "ls_kafka.h"

typedef struct ls_produce_opts {
    const char *file;        /* path, or "-" for stdin */
    const char *topic;
    const char *bootstrap;
    const char *key_field;   /* top-level field used as message key, or NULL */
    int partition;           /* -1 = partitioner decides */
    double rate;             /* records/s, 0 = unlimited */
    int64_t max;             /* stop after this many records, 0 = all */
    int connect_timeout_ms;
    int flush_timeout_ms;
    int stop_flush_timeout_ms; /* after *stop: how long deliveries in flight may take */
    int quiet;
    int raw;                 /* each line is a message, sent unchecked */
    const ls_props *props;
    volatile sig_atomic_t *stop; /* the signal that asked to stop (SIGINT/SIGTERM), or 0 */
} ls_produce_opts;

/* Returns the process exit code: 0 ok, 1 delivery or input errors, 2 set-up. */
int ls_produce(const ls_produce_opts *o);


#endif
