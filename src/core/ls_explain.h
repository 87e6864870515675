/* ls_explain.h - `luastream explain SCRIPT`: the plan of a script, printed
 * without connecting to anything.
 *
 * The script is loaded and compiled exactly as a run loads it (the same
 * sandbox, parameters, checks and errors at file:line), by ls_engine_new
 * with opts->explain set: the engine then stops after the decoding plan.
 * It opens no Kafka client, no checkpoint directory (neither created nor
 * locked), no output file or directory, no web UI, no progress file and
 * starts no worker thread. Sinks and the dead-letter output are compiled
 * into *planned* sinks (below): what a run would open, described, with
 * nothing opened; a Kafka sink's librdkafka properties are still checked
 * one by one as librdkafka reads them (no client is made).
 *
 * The plan: every source (topics, bootstrap, starting offsets, cap, group,
 * schema, how its messages are decoded: the C projection's fields and/or a
 * whole-record Lua table), every static table, and every query's
 * operators in the order a record meets them (where, map, joins, event
 * time and watermark, window, group keys, aggregates, output mode,
 * order/limit, state, sink) and whether Lua runs per record. As text (a
 * stable, aligned tree) or as one JSON object with stable keys. */
#ifndef LS_EXPLAIN_H
#define LS_EXPLAIN_H

#include <stdio.h>

#include "ls_engine.h"
#include "ls_kafka.h"
#include "ls_sink.h"

typedef enum { LS_PLAN_CONSOLE, LS_PLAN_JSONL, LS_PLAN_KAFKA, LS_PLAN_STDERR } ls_plan_kind;

/* What a sink (or the dead-letter output) would be. The constructor copies
 * every string; it owns nothing of the caller's. */
typedef struct ls_sink_plan {
    ls_plan_kind kind;
    const char *dir, *name;  /* jsonl: rows go to DIR/NAME.jsonl (set as path) */
    const char *path;        /* jsonl: filled by ls_sink_planned */
    const char *topic;       /* kafka: the topic (PREFIX.<query>, a fixed name, or the
                                query's name when a function picks each row's topic) */
    const char *bootstrap;   /* kafka */
    const char *txn_id;      /* kafka with a checkpoint: exactly once under this
                                transactional.id; NULL: at least once */
    const ls_props *props;   /* kafka: the sink's own librdkafka properties, or NULL */
    int num_rows, truncate, format; /* console: rows per batch, cells cut, a Lua format */
} ls_sink_plan;

/* A sink that only describes itself: every write fails ("only planned").
 * A Kafka plan's properties are checked (ls_kafka_conf, no client):
 * NULL + err when librdkafka refuses one, as a run would report it. */
ls_sink *ls_sink_planned(const ls_sink_plan *p, ls_err *err);
/* The plan of a sink made by ls_sink_planned, NULL for any other sink. */
const ls_sink_plan *ls_sink_plan_of(const ls_sink *s);

/* The canonical absolute path path will have once a run creates it
 * (mkdir -p): realpath() of its deepest existing ancestor, the rest
 * normalized. Used for the default consumer group of a checkpointed job,
 * whose directory explain does not create. Never NULL (malloc'd). */
char *ls_explain_abspath(const char *path);

/* Appends the plan of e (built with opts->explain; o gives what only the
 * command line knows, e.g. --parallelism) to out: text, or one JSON object
 * when json. */
void ls_explain_text(const ls_engine *e, const ls_engine_opts *o, ls_buf *out);
void ls_explain_json(const ls_engine *e, const ls_engine_opts *o, ls_buf *out);

/* The whole command: loads and compiles o->script in explain mode (what
 * the script prints while loading goes to stderr when out is stdout, so
 * out holds only the plan), checks the sources' librdkafka properties,
 * writes the plan to out. Returns 0; 2 + err when the script (or a
 * property) is refused, as a run would refuse it; 1 + err when out cannot
 * be written (a reader that went away is not an error). */
int ls_explain(const ls_engine_opts *o, int json, FILE *out, ls_err *err);

#endif
