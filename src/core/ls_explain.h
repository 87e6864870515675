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
#include "ls_sink_planned.h"

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
