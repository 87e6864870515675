/* ls_sink_planned.h - a sink that is only planned: what a run would open
 * (a console, a jsonl file, a Kafka topic, the dead-letter output),
 * described, with nothing opened. The compiler makes these instead of real
 * sinks when the script is compiled for `luastream explain`
 * (ls_explain.h), which prints them. */
#ifndef LS_SINK_PLANNED_H
#define LS_SINK_PLANNED_H

#include "ls_kafka.h"
#include "ls_sink.h"

typedef enum { LS_PLAN_CONSOLE, LS_PLAN_JSONL, LS_PLAN_KAFKA, LS_PLAN_STDERR } ls_plan_kind;

/* What a sink (or the dead-letter output) would be. The constructor copies
 * every string; it owns nothing of the caller's. */
typedef struct ls_sink_plan {
    ls_plan_kind kind;
    const char *dir, *name;  /* jsonl: rows go to DIR/NAME.jsonl (set as path) */
    const char *path;        /* jsonl: filled by ls_sink_planned */
    int parts;               /* jsonl of a job's member: DIR/NAME/part-<p>.jsonl, one file
                                per state partition (ls_sink_parts.h) */
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

#endif
