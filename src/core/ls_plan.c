/* ls_plan.c - a compiled script's objects and who frees them (see ls_plan.h). */
#include "ls_plan.h"

#include <stdlib.h>
#include <string.h>

ls_plan *ls_plan_new(lua_State *L)
{
    ls_plan *p = ls_xcalloc(1, sizeof *p);
    p->L = L;
    return p;
}

void ls_plan_free(ls_plan *p)
{
    if (!p) return;
    /* queries first: their sinks write through the producers, their maps
     * and formats are references into L */
    for (size_t i = 0; i < p->nqueries; i++) ls_query_free(p->queries[i]);
    free(p->queries);
    for (size_t i = 0; i < p->nsources; i++) ls_source_free(p->sources[i]);
    free(p->sources);
    for (size_t i = 0; i < p->ntables; i++) ls_table_free(p->tables[i]);
    free(p->tables);
    ls_deadletter_free(p->dl);
    ls_sink_destroy(p->dl_plan);
    for (size_t i = 0; i < p->nproducers; i++) ls_kafka_producer_free(p->producers[i], 10000);
    free(p->producers);
    if (p->L) lua_close(p->L);
    free(p);
}

ls_kafka_producer *ls_plan_producer(ls_plan *p, const char *bootstrap, const ls_props *props,
                                    ls_err *err)
{
    for (size_t i = 0; i < p->nproducers; i++)
        if (strcmp(p->producers[i]->bootstrap, bootstrap) == 0) return p->producers[i];
    ls_kafka_producer *k = ls_kafka_producer_new(bootstrap, props, 10000, err);
    if (!k) return NULL;
    p->producers = ls_xrealloc(p->producers, (p->nproducers + 1) * sizeof *p->producers);
    p->producers[p->nproducers++] = k;
    return k;
}

void ls_plan_set_app_producer(ls_plan *plan, ls_kafka_producer *p)
{
    plan->producers = ls_xrealloc(plan->producers, (plan->nproducers + 1) * sizeof *plan->producers);
    plan->producers[plan->nproducers++] = p;
    plan->app_producer = p;
}
