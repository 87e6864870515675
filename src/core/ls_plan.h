/* ls_plan.h - a script compiled: what it declares, as objects ready to run
 * (sources not yet open), and nothing about running them.
 *
 * lua/ls_lua_api.c fills a plan from the script's declarations; the engine
 * takes it over (ls_engine_new), `luastream explain` prints it, a reload
 * swaps in a new one, `luastream test` runs one whose sinks keep rows in
 * memory. What the compiler needs to know about the run comes in
 * ls_plan_opts; nothing of the plan points back at the engine.
 *
 * Ownership: the plan owns everything in it (the Lua state the maps live
 * in, sources, tables, queries and their sinks, the dead-letter output,
 * the producers the sinks share); ls_plan_free frees it in the order the
 * pieces depend on each other. */
#ifndef LS_PLAN_H
#define LS_PLAN_H

#include <lua.h>

#include "ls_deadletter.h"
#include "ls_kafka.h"
#include "ls_query.h"
#include "ls_sink.h"
#include "ls_source.h"
#include "ls_table.h"
#include "ls_trigger.h"

typedef struct ls_plan_opts {
    const char *script;         /* the script's path (errors, relative table paths) */
    const char *checkpoint_dir; /* or NULL: with one, Kafka sinks are transactional */
    int partitions;             /* default hash partitions of a query's state */
    int64_t max_state_rows;     /* default cap on groups per query, 0 = none */
    int capture;                /* luastream test: sinks and dead letters kept in memory */
    int explain;                /* luastream explain: sinks planned, nothing opened */
    const char *app;            /* --app / ls.app: this process is a member of that job */
    const char *app_txn_id;     /* and its transactional.id (one producer per member) */
} ls_plan_opts;

typedef struct ls_plan {
    lua_State *L;               /* the script's state: maps, formats, topic functions */
    size_t nsources;
    ls_source **sources;        /* declaration order */
    size_t ntables;
    ls_table **tables;
    size_t nqueries;
    ls_query **queries;         /* declaration order; each owns its sink */
    ls_deadletter *dl;          /* where bad records go (NULL when explaining) */
    ls_sink *dl_plan;           /* explain: where they would go */
    size_t nproducers;
    ls_kafka_producer **producers; /* shared by the Kafka sinks, by bootstrap address */
    ls_kafka_producer *app_producer; /* --app: the transactional one, among producers, or NULL */
    int has_trigger;            /* the script's queries set a trigger: */
    ls_trigger trigger;         /* the shortest interval wins */
} ls_plan;

/* An empty plan over L (the plan owns L from here). */
ls_plan *ls_plan_new(lua_State *L);
void ls_plan_free(ls_plan *p);

/* The producer for bootstrap, shared by every sink of the plan writing
 * there (created on first use: it checks the broker is reachable). */
ls_kafka_producer *ls_plan_producer(ls_plan *p, const char *bootstrap, const ls_props *props,
                                    ls_err *err);

/* Adds p (a member's transactional producer) to the plan's producers and
 * makes it the app producer. */
void ls_plan_set_app_producer(ls_plan *plan, ls_kafka_producer *p);

#endif
