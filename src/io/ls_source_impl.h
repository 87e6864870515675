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
};

#endif
