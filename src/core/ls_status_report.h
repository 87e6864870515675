/* ls_status_report.h - what `luastream status --app ID` found out about a
 * job, as plain data, and its two renderings: a table for people and one
 * JSON object for tools. No Kafka here (ls_status.c asks Kafka and fills
 * the report), so every rendering is tested without a broker.
 *
 * A report holds the job's own consumer group (the app id) first, then
 * any other group whose name starts with "<app>-" (the job's internal
 * groups, "<app>-<query>...", once issue 12 adds them), each with its
 * state, its members (member id, client id, host, assigned partitions)
 * and, per partition, the group's committed offset, the partition's end
 * offset and the lag between them. Partitions with a committed offset
 * that no member is assigned (a stopped job, a rebalance in progress) are
 * listed apart. Plain data, as a source's declaration is: the report owns
 * every string in it (ls_status_report_free). */
#ifndef LS_STATUS_REPORT_H
#define LS_STATUS_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "ls_util.h"

typedef struct ls_status_part {
    char *topic;
    int32_t partition;
    int64_t committed;   /* the group's committed offset; -1: none */
    int64_t end;         /* the partition's end offset; -1: unknown */
    char *end_error;     /* why end is unknown, or NULL */
} ls_status_part;

typedef struct ls_status_member {
    char *member_id;
    char *client_id;
    char *host;
    char *instance_id;   /* group.instance.id (static membership), or NULL */
    size_t nparts;
    ls_status_part *parts;
} ls_status_member;

typedef struct ls_status_group {
    char *name;
    int job_group;       /* the app id's own group (not one of "<app>-*") */
    char *state;         /* Kafka's group state: Stable, Empty, PreparingRebalance, ... */
    char *assignor;      /* the partition assignor, or NULL when the group has none */
    int coordinator_id;  /* -1: unknown */
    char *coordinator_host;
    int coordinator_port;
    size_t nmembers;
    ls_status_member *members;
    size_t nunassigned;  /* committed partitions no member is assigned */
    ls_status_part *unassigned;
} ls_status_group;

typedef struct ls_status_report {
    char *app;
    char *bootstrap;
    size_t ngroups;      /* groups[0] is the job's own group */
    ls_status_group *groups;
    char *warning;       /* something incomplete (a listing that failed partly), or NULL */
} ls_status_report;

ls_status_report *ls_status_report_new(const char *app, const char *bootstrap);
void ls_status_report_free(ls_status_report *r);

/* Builders: the new element, zeroed but for what is given (offsets -1,
 * coordinator_id -1). NULL strings stay NULL. Pointers returned stay valid
 * only until the next add to the same array. */
ls_status_group *ls_status_add_group(ls_status_report *r, const char *name, int job_group);
ls_status_member *ls_status_add_member(ls_status_group *g, const char *member_id,
                                       const char *client_id, const char *host);
ls_status_part *ls_status_add_part(ls_status_member *m, const char *topic, int32_t partition);
ls_status_part *ls_status_add_unassigned(ls_status_group *g, const char *topic, int32_t partition);
/* The part of (topic, partition) in g, assigned or not, or NULL. */
ls_status_part *ls_status_find_part(ls_status_group *g, const char *topic, int32_t partition);

/* end - committed (never below 0), or -1 when either is unknown. */
int64_t ls_status_lag(const ls_status_part *p);

typedef struct ls_status_totals {
    size_t members;
    size_t partitions;   /* assigned and unassigned */
    int64_t lag;         /* the sum of the known lags */
    size_t unknown_lag;  /* partitions whose lag is unknown */
} ls_status_totals;
ls_status_totals ls_status_group_totals(const ls_status_group *g);

/* The report as a table, every group in turn (untrusted strings made
 * printable, columns aligned by display width). */
void ls_status_text(const ls_status_report *r, ls_buf *out);
/* The report as one JSON object (stable snake_case keys), newline-ended:
 * {"app", "bootstrap", "groups": [{"group", "job_group", "state",
 * "assignor", "coordinator": {"id", "host", "port"} | null, "members":
 * [{"member_id", "client_id", "host", "group_instance_id", "partitions":
 * [{"topic", "partition", "committed", "end", "lag"}], "lag"}],
 * "unassigned": [partitions], "totals": {"members", "partitions", "lag",
 * "unknown_lag"}}], "warning"}; an unknown offset or lag is null. */
void ls_status_json(const ls_status_report *r, ls_buf *out);

#endif
