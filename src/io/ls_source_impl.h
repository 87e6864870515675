/* ls_source_impl.h - the fields of a source, for the source's own files
 * (ls_source.c reads Kafka, ls_source_files.c reads files) and white-box
 * unit tests; everything else uses ls_source.h's functions. */
#ifndef LS_SOURCE_IMPL_H
#define LS_SOURCE_IMPL_H

#include "ls_source.h"

struct ls_source {
    ls_source_decl d;        /* what the script declared */
    rd_kafka_t *rk;
    rd_kafka_queue_t *queue; /* the consumer queue: errors, and records when not planned */
    size_t nparts;
    ls_source_part *parts;
    int bounded;
    int planned;             /* set before open: batches are planned per partition */
    size_t nresume;          /* resume offsets set before open */
    ls_source_part *resume;
    /* File sources (ls.file_source): each file is a part (topic = its path,
     * partition 0) whose offsets count records; no Kafka at all. */
    size_t nfixed;           /* ls_source_use_files: the files, their formats */
    char **fixed;
    ls_file_format *fixed_formats;
    double listed_at;        /* when the files were last listed (monotonic ms), -1 never */
    int list_failing;        /* listing failed (reported once until it works again) */
    /* Members of one job (--app, ls_source_join_group): the partitions
     * come from the consumer group's assignment (cooperative-sticky) and
     * start at the group's committed offsets. */
    char *group;             /* the app id = the consumer group; NULL: partitions assigned */
    int assigned_once;       /* the group has given this member an assignment */
    int failed;              /* a rebalance could not be carried out: fatal_err says why */
    char fatal_err[LS_ERRLEN];
    int64_t rebalances;      /* assignments and revocations carried out */
    int64_t rebalance_events; /* rebalances this member took part in (assign callbacks) */
    int closing;             /* leaving the group (ls_source_free): nothing is read any more */
    ls_source_revoke_fn on_revoke; /* ls_source_on_revoke, or NULL */
    size_t first_internal;   /* topics from this index on are a job's internal topics
                                (ls_source_add_internal_topic): read from the earliest */
    void *on_revoke_ctx;
};

#endif
