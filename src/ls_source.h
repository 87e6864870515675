/* ls_source.h - a Kafka source: one consumer reading every partition of
 * its topics, from the starting offsets, feeding all queries declared on it.
 *
 * Partitions are assigned explicitly (no group rebalancing) and read from
 * `starting_offsets`, as Spark's Kafka source does without a checkpoint;
 * the engine, not Kafka's group offsets, decides where reading starts.
 * In bounded mode (available-now / once) each partition stops at the end
 * offset it had when the run started. */
#ifndef LS_SOURCE_H
#define LS_SOURCE_H

#include <librdkafka/rdkafka.h>
#include <stdint.h>

#include "ls_kafka.h"

typedef struct ls_source_part {
    char *topic;
    int32_t partition;
    int64_t next;      /* next offset to read (known after the first message) */
    int64_t end;       /* bounded mode: stop before this offset; -1 = unbounded */
    int64_t batch_start;
    int64_t resume;    /* from a checkpoint: start here instead of starting_offsets; -1 */
    int64_t limit;     /* replaying a batch: stop before this offset; -1 = no limit */
    int done;
} ls_source_part;

typedef struct ls_source {
    char *name;              /* the description shown in progress reports */
    char *bootstrap;
    size_t ntopics;
    char **topics;
    int start_latest;        /* starting_offsets = "latest" */
    int64_t max_per_trigger; /* 0 = unlimited */
    size_t max_record_bytes;
    int connect_timeout_ms;
    ls_props props;          /* pass-through librdkafka properties */
    rd_kafka_t *rk;
    rd_kafka_queue_t *queue; /* the consumer queue, for batched reads */
    size_t nparts;
    ls_source_part *parts;
    int bounded;
    size_t remaining;        /* bounded mode: partitions not yet done */
    char *group_id;          /* consumer group offsets are committed under (lag tools) */
    size_t nresume;          /* resume offsets set before open */
    ls_source_part *resume;
} ls_source;

ls_source *ls_source_new(const char *bootstrap);
void ls_source_add_topic(ls_source *s, const char *topic);
void ls_source_free(ls_source *s);

/* Connects (bounded wait), discovers partitions, assigns them from the
 * starting offsets and, when bounded, records the end offsets. */
int ls_source_open(ls_source *s, int bounded, char *err);

/* Next message within timeout_ms, or NULL. *part is set to the message's
 * partition state. Fatal consumer errors fill err and set *fatal. */
rd_kafka_message_t *ls_source_poll(ls_source *s, int timeout_ms, ls_source_part **part,
                                   int *fatal, char *err);

/* Up to max messages within timeout_ms into out (the caller destroys them);
 * returns how many. Fatal consumer errors fill err and set *fatal. */
size_t ls_source_poll_batch(ls_source *s, int timeout_ms, rd_kafka_message_t **out, size_t max,
                            int *fatal, char *err);

/* Bounded mode: every partition has reached its end offset. */
static inline int ls_source_exhausted(const ls_source *s)
{
    return s->bounded && s->remaining == 0;
}

/* Marks the current positions as the start of a new batch. */
void ls_source_begin_batch(ls_source *s);

/* Before open: start partition (topic, partition) at offset (a checkpoint's
 * position) instead of starting_offsets. */
void ls_source_resume_at(ls_source *s, const char *topic, int32_t partition, int64_t offset);
/* Replay of a batch recorded in a checkpoint: read partition only up to
 * limit (exclusive). ls_source_limits_reached tells when every limited
 * partition got there; ls_source_clear_limits goes back to normal reading. */
void ls_source_limit(ls_source *s, const char *topic, int32_t partition, int64_t limit);
int ls_source_limits_reached(const ls_source *s);
int ls_source_clear_limits(ls_source *s, char *err);
/* Commits the current positions to the consumer group (asynchronously):
 * for lag tools; the checkpoint, not the group, is the source of truth. */
void ls_source_commit_group(ls_source *s);
ls_source_part *ls_source_find(ls_source *s, const char *topic, int32_t partition);

#endif
