/* ls_source.h - a source: a Kafka consumer reading every partition of its
 * topics from the starting offsets, or a file source (ls_source_files.c),
 * feeding all queries declared on it.
 *
 * Partitions are assigned explicitly (no group rebalancing) and read from
 * `starting_offsets`, as Spark's Kafka source does without a checkpoint;
 * the engine, not Kafka's group offsets, decides where reading starts.
 * (Except for a member of a job, --app: the group assigns the partitions
 * and its committed offsets say where they start; see
 * ls_source_join_group.)
 *
 * Batches are planned, not raced (as Spark's KafkaMicroBatchStream plans
 * them): at the start of a batch ls_source_plan fixes every partition's end
 * offset from the latest offsets the broker reports (or, in bounded runs,
 * the end offsets it had when the run started), with a cap split across
 * partitions in proportion to what each has available. The batch then
 * reads exactly [start, end) of each partition, partition after partition,
 * so the same topic contents and settings always give the same batches in
 * the same order. Each partition has its own librdkafka queue (not
 * forwarded to the consumer queue): a partition that is not being read
 * keeps prefetching, bounded by librdkafka's queue limits, and a message
 * fetched past a partition's end (a gap of transaction markers can hide
 * the end) is kept for the next batch, never dropped. */
#ifndef LS_SOURCE_H
#define LS_SOURCE_H

#include <librdkafka/rdkafka.h>
#include <stdint.h>

#include "ls_files.h"
#include "ls_kafka.h"
#include "ls_record.h"
#include "ls_schema.h"

typedef struct ls_source_part {
    char *topic;
    int32_t partition;
    rd_kafka_queue_t *queue; /* planned reading: this partition's own queue */
    int64_t next;        /* position: the next offset to read */
    int64_t batch_start; /* the current batch's planned start (= next when planned) */
    int64_t batch_end;   /* the current batch's planned end (exclusive) */
    int64_t latest;      /* the latest offset known when the batch was planned */
    int64_t bound;       /* bounded runs: the end offset when the run started; -1 */
    int64_t resume;      /* from a checkpoint: start here instead of starting_offsets; -1 */
    int64_t fixed_end;   /* replaying a recorded batch: its end offset; -1 */
    int reached;         /* this batch's end was reached */
    size_t nstash;       /* messages fetched at or past batch_end, in offset order */
    size_t stash_cap;
    rd_kafka_message_t **stash;
    ls_file_records *recs; /* file sources: the file's records while it is read, or NULL */
    ls_file_format format; /* file sources: how this file is read */
    int done;              /* file sources: read to its end (or unreadable): never again */
    int latest_known;      /* latest was read from the broker since the partition was
                              assigned (a partition just given to a member has not) */
    int revoked;           /* a member of a group: taken away by a rebalance; its position
                              goes into the batch's commit, then it is let go */
} ls_source_part;

/* A file source records a file read to its end at this position in its
 * checkpoint, so that a restart skips it without reading it again. */
#define LS_FILE_DONE (-1)

/* What a script declares about a source: plain data that the compiler sets
 * before ls_source_open (through ls_source_decl_of) and that explain,
 * reload and progress reports read. The source owns its strings. */
typedef struct ls_source_decl {
    char *name;              /* the description shown in progress reports */
    char *bootstrap;
    size_t ntopics;
    char **topics;           /* a file source: its path */
    int start_latest;        /* starting_offsets = "latest" */
    int64_t max_per_trigger; /* 0 = unlimited */
    size_t max_record_bytes;
    int connect_timeout_ms;
    ls_props props;          /* pass-through librdkafka properties */
    ls_schema *schema;       /* the declared column types, or NULL (JSON types) */
    char *group_id;          /* consumer group offsets are committed under (lag tools) */
    /* File sources (ls.file_source): each file is a part (topic = its path,
     * partition 0) whose offsets count records; no Kafka at all. */
    int is_files;
    char *path;              /* the glob pattern or directory; NULL: a fixed list
                                (ls_source_use_files) */
    ls_file_format format;
    int64_t max_files;       /* max_files_per_trigger, 0 = unlimited */
    int64_t polling_ms;      /* least time between two listings */
} ls_source_decl;

/* Opaque (its fields: ls_source_impl.h, for the source's own files). */
typedef struct ls_source ls_source;

/* The declaration, to set before ls_source_open; read it any time. */
ls_source_decl *ls_source_decl_of(ls_source *s);
const ls_source_decl *ls_source_declared(const ls_source *s);
/* A Kafka client was made (by ls_source_open). */
int ls_source_connected(const ls_source *s);
/* The partitions (or files) known so far, in reading order. */
size_t ls_source_nparts(const ls_source *s);
const ls_source_part *ls_source_part_at(const ls_source *s, size_t i);

ls_source *ls_source_new(const char *bootstrap);
/* A file source over path (a glob pattern or a directory) read as format. */
ls_source *ls_source_new_files(const char *path, ls_file_format format);
/* Before open: makes s (of either kind) read exactly these n files, in this
 * order, each as its format says, and nothing else (`luastream test`). */
void ls_source_use_files(ls_source *s, const char *const *paths, const ls_file_format *formats,
                         size_t n);
void ls_source_add_topic(ls_source *s, const char *topic);
void ls_source_free(ls_source *s);

/* Before open: batches are planned per partition (ls_source_plan, the
 * engine); without it records are polled from one queue (luastream consume). */
void ls_source_plan_batches(ls_source *s);

/* Connects (bounded wait), discovers partitions, assigns them from the
 * starting offsets (or the resume offsets) and, when bounded, records the
 * end offsets the run stops at. */
int ls_source_open(ls_source *s, int bounded, ls_err *err);

/* Unplanned reading (`luastream consume`): the next message of any
 * partition within timeout_ms, or NULL. Fatal errors fill err, set *fatal. */
rd_kafka_message_t *ls_source_poll(ls_source *s, int timeout_ms, ls_source_part **part,
                                   int *fatal, ls_err *err);

/* Bounded runs: every partition has reached the end offset it had at start. */
int ls_source_exhausted(const ls_source *s);

/* Spark's rate limit (KafkaMicroBatchStream.rateLimit): spreads limit over
 * partitions in proportion to what each has between start[i] and latest[i]
 * (a share below one is rounded up so no partition starves, others down),
 * never past latest[i]. Writes the ends into end[]. */
void ls_source_rate_limit(int64_t limit, size_t n, const int64_t *start, const int64_t *latest,
                          int64_t *end);

/* Plans the next batch: every partition reads [next, end). end comes from
 * the replay entry when one is set (ls_source_replay), else from the
 * latest offsets (the broker's now, or the run's bound), capped by cap
 * (0 = no cap). Returns the number of offsets planned (0: nothing new), or
 * -1 with err when the broker could not be asked. */
int64_t ls_source_plan(ls_source *s, int64_t cap, ls_err *err);

/* Reads the planned batch of partition pi: up to max records below its
 * end, waiting at most timeout_ms when none is there yet. Returns how many
 * (the caller releases them: ls_record_release). Sets the partition's
 * `reached` once its end is reached. Fatal consumer errors fill err and
 * set *fatal. A file record's bytes stay valid until the next plan. */
size_t ls_source_read(ls_source *s, size_t pi, int timeout_ms, ls_record *out, size_t max,
                      int *fatal, ls_err *err);

/* After a batch: every partition's position moves to its planned end. */
void ls_source_end_batch(ls_source *s);
/* Ends the batch being read where each Kafka partition's reading is now
 * (its planned end becomes its position): what was not read yet stays in
 * the partition's queue for the next batch. For a member of a job, whose
 * batch must commit within its transaction timeout (ls_app.h); never with
 * a checkpoint, whose write-ahead log holds the planned ends. */
void ls_source_cut_batch(ls_source *s);

/* Between batches: takes what librdkafka fetched meanwhile into the
 * partitions' kept messages; returns how many records arrived (a cheap
 * way to learn that a batch is worth planning). */
size_t ls_source_arrived(ls_source *s);

/* Before open: start partition (topic, partition) at offset (a checkpoint's
 * position) instead of starting_offsets. */
void ls_source_resume_at(ls_source *s, const char *topic, int32_t partition, int64_t offset);
/* Replay of a batch recorded in a checkpoint: the next plan ends partition
 * (topic, partition) at end instead of planning anew. */
void ls_source_replay(ls_source *s, const char *topic, int32_t partition, int64_t end);
/* The position a checkpoint records for part p: the planned end of the
 * batch (planned_end) or the position reached; LS_FILE_DONE for a file
 * read to its end. */
int64_t ls_source_position(const ls_source_part *p, int planned_end);
/* Commits the current positions to the consumer group (asynchronously):
 * for lag tools; the checkpoint, not the group, is the source of truth.
 * Nothing for a file source. */
void ls_source_commit_group(ls_source *s);
ls_source_part *ls_source_find(ls_source *s, const char *topic, int32_t partition);

/* ---- members of one job (--app, issue 12) ---------------------------------
 * Before open: the source joins consumer group `group` (the app id) and
 * subscribes to its topics instead of assigning itself every partition.
 * The group assigns partitions (cooperative-sticky); the rebalance callback
 * runs only while the consumer queue is served: when a batch is planned, and
 * during a batch when a partition has nothing to read (librdkafka pauses
 * fetching while a rebalance waits for the member). A partition revoked
 * during a batch ends the batch's reading there (its planned end becomes
 * its position) and stays in the source until the batch's transaction has
 * committed its position (or aborted): ls_source_release_revoked. Its
 * position goes into the open transaction before the group is told
 * (ls_source_on_revoke), and its new owner reads the group's offsets with
 * require_stable, so it waits for that transaction. A newly assigned
 * partition starts at the group's committed offset (read with
 * require_stable: while a transaction holding offsets for it is open, the
 * read waits for it to end), or at starting_offsets when the group has
 * none. */
void ls_source_join_group(ls_source *s, const char *group);
/* The group joined (ls_source_join_group), or NULL. */
const char *ls_source_group(const ls_source *s);
/* A rebalance that could not be carried out (fatal): -1 + err, else 0. */
int ls_source_check(const ls_source *s, ls_err *err);
/* The positions to commit with the batch just read: each owned
 * partition's next offset (a new list: the caller destroys it), or NULL
 * when the member owns no partition. */
rd_kafka_topic_partition_list_t *ls_source_positions(const ls_source *s);
/* The consumer's group metadata (generation, member id) for
 * rd_kafka_send_offsets_to_transaction; the caller destroys it. */
rd_kafka_consumer_group_metadata_t *ls_source_group_metadata(ls_source *s);
/* After a batch whose transaction aborted: every owned partition goes back
 * to the group's committed offset (kept and prefetched messages dropped),
 * so the batch is read again. -1 + err when that cannot be done. */
int ls_source_rewind(ls_source *s, ls_err *err);
/* Called in the rebalance callback with the positions of the partitions
 * being revoked, before the group is told (incremental_unassign): the
 * member puts them into its open transaction there (KIP-447: the new
 * owner's require_stable read of the committed offsets then waits for that
 * transaction, so it can neither read them twice nor skip any). Returns 0,
 * or -1 when it could not (the member then aborts the batch: its own
 * business). */
typedef int (*ls_source_revoke_fn)(void *ctx, const rd_kafka_topic_partition_list_t *positions);
void ls_source_on_revoke(ls_source *s, ls_source_revoke_fn fn, void *ctx);
/* After a batch's commit (or abort): lets go of the partitions revoked
 * during it (their positions were in the commit). */
void ls_source_release_revoked(ls_source *s);
/* Before open, with a group: the source also subscribes to topic, a job's
 * internal topic (ls_shuffle.h), whose partitions the group assigns like
 * the others' and which is read from its earliest offset when the group
 * has none, whatever starting_offsets says. */
void ls_source_add_internal_topic(ls_source *s, const char *topic);
/* Topic is one of those internal topics. */
int ls_source_is_internal(const ls_source *s, const char *topic);
/* Partitions assigned and revoked so far (each counts one). */
int64_t ls_source_rebalances(const ls_source *s);
/* Rebalances of the group this member has taken part in (each assignment
 * the group handed it, even an empty one: the cooperative protocol hands
 * every member one per rebalance). 0 outside a group. */
int64_t ls_source_rebalance_count(const ls_source *s);
/* The member id the group coordinator gave this member (a new string: the
 * caller frees it), or NULL outside a group or before it has joined. The
 * partitions it owns are the parts that are not `revoked`. */
char *ls_source_member_id(const ls_source *s);


#endif
