/* ls_app.h - one member of a job (issue 12): every process started with the
 * same app id (`--app ID`, `ls.app "ID"`) is a member of one consumer group
 * of that name, and the group assigns the input partitions among them.
 *
 * Exactly once across members (Kafka Streams' exactly-once v2, KIP-447):
 * each batch is one Kafka transaction on the member's transactional
 * producer, holding the batch's output messages (and dead letters) and
 * the offsets it consumed, sent with rd_kafka_send_offsets_to_transaction
 * and the consumer's group metadata (generation and member id), so a
 * member that the group has moved on from (a zombie) is fenced by the
 * group coordinator. Where a partition resumes is the group's committed
 * offset, never a local file: with an app id, --checkpoint is refused.
 * A batch whose transaction must abort (the member was fenced by a
 * rebalance, or a broker refused it) is rolled back whole: the
 * transaction is aborted and the source goes back to the group's committed
 * offsets, so the batch is read again by whoever owns its partitions.
 * A producer that librdkafka made fatal (after a broker loss its
 * transaction can time out at a coordinator that moved, and the producer
 * is fenced) is replaced by a new one with the same transactional.id
 * (ls_kafka_producer_renew) and the batch is rolled back the same way; a
 * third replacement in a row without a commit ends the run.
 *
 * Without a Kafka sink (console only) there is no transaction: the batch's
 * positions are committed to the group after it (at least once). */
#ifndef LS_APP_H
#define LS_APP_H

#include "ls_kafka.h"
#include "ls_source.h"

/* The longest app id: room for "-<query>-repartition" in a topic name. */
#define LS_APP_ID_MAX 200

typedef struct ls_app ls_app;

/* An app id is 1 to LS_APP_ID_MAX of a-zA-Z0-9._- (a legal consumer group
 * id, transactional id prefix and topic name prefix), not "." or "..".
 * -1 + err starting with the quoted id (the caller names the option) otherwise. */
int ls_app_check_id(const char *id, ls_err *err);

/* A member's transactional producer (the plan owns it: ls_plan_set_app_producer):
 * props plus transactional.id txn_id, idempotence, and a 10 s transaction
 * timeout unless props set one. NULL + err when the broker is not reachable. */
ls_kafka_producer *ls_app_producer_new(const char *bootstrap, const ls_props *props,
                                       const char *txn_id, ls_err *err);

/* A member reading src (joined to the group) and writing through p, the
 * transactional producer (NULL: no Kafka sink, no transaction). */
ls_app *ls_app_new(const char *id, ls_source *src, ls_kafka_producer *p);
/* Initialises the transactions (fencing an earlier producer of the same
 * transactional.id). */
int ls_app_start(ls_app *a, ls_err *err);
/* Before batch `batch`'s first message. */
int ls_app_begin(ls_app *a, int64_t batch, ls_err *err);
/* After the batch's sinks flushed: the positions go into the transaction
 * and it commits. (Fault injection for tests: LUASTREAM_TEST_ABORT_BATCH=N
 * in the environment aborts batch N once, as an abortable error would.) 0 committed, 1 aborted and the source rewound (logged,
 * the run goes on), -1 + err fatal. */
int ls_app_commit(ls_app *a, int64_t batch, ls_err *err);
/* How long a batch may read before the engine ends it early
 * (ls_source_cut_batch): half the producer's transaction.timeout.ms, so
 * that the rest of the batch and its commit fit in the other half (a
 * transaction open longer is aborted by the broker, and its producer
 * fenced). 0: no transaction, no limit. */
double ls_app_read_budget_ms(const ls_app *a);
/* A batch failed: when its transaction had been open longer than the
 * timeout, err says so and how to avoid it. */
void ls_app_explain_failure(const ls_app *a, ls_err *err);
/* The batch failed before its commit with err (a step that writes to
 * Kafka: a sink, the repartition or changelog records). When a message the
 * transaction holds could not be queued or delivered (a broker refused it
 * or went away for longer than the messages may wait, the transaction
 * entered an abortable state) and the producer has no fatal error, an
 * abort mends it: the transaction is aborted, the source rewound to the
 * group's committed offsets and 1 returned (logged with the cause; the run
 * goes on, the caller rebuilds the state); the same with a new producer
 * when this one was made fatal. 0: the error stands (not Kafka's);
 * -1 + err: the abort failed. */
int ls_app_abort_failed(ls_app *a, int64_t batch, ls_err *err);
/* Batches committed and aborted so far. */
int64_t ls_app_committed(const ls_app *a);
int64_t ls_app_aborted(const ls_app *a);
/* Aborts an open transaction (a run ending on an error), then frees. */
void ls_app_free(ls_app *a);

#endif
