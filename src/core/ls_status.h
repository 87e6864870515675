/* ls_status.h - `luastream status --app ID`: the members of a job (issue 12)
 * as Kafka's admin API sees them, from any machine that reaches the
 * brokers, with nothing of the job's own running there: the job's consumer
 * group (the app id) described (state, members, each member's assigned
 * partitions), its committed offsets listed, each partition's end offset
 * read, and the lag between them; then the same for every other group
 * whose name starts with "<app>-" (the job's internal groups, once issue
 * 12 adds them). Printed as a table, or one JSON object with --json
 * (ls_status_report.h). Read only: it joins no group and commits nothing. */
#ifndef LS_STATUS_H
#define LS_STATUS_H

#include <signal.h>
#include <stdio.h>

#include "ls_kafka.h"

typedef struct ls_status_opts {
    const char *app;           /* the app id (checked with ls_app_check_id) */
    const char *bootstrap;
    int json;                  /* one JSON object instead of the table */
    int timeout_ms;            /* for reaching the brokers and each request */
    const ls_props *props;     /* librdkafka properties (TLS, SASL), or NULL */
    volatile sig_atomic_t *stop; /* raised by SIGINT/SIGTERM: give up; or NULL */
    FILE *out;                 /* where the report goes (stdout); errors go to stderr */
} ls_status_opts;

/* Returns the exit code: 0 the job's group was found and shown; 1 there is
 * no such group on the cluster, or Kafka refused a request; 2 a bad app id
 * or librdkafka property, or no broker reached; 128 + the signal when
 * stopped. Every error is one line on stderr with what to check. */
int ls_status(const ls_status_opts *o);

#endif
