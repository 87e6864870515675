/* ls_sink_planned.c - planned sinks (see ls_sink_planned.h): a sink
 * vtable whose every write fails, and the plan it describes. Owns copies
 * of every string of its plan. */
#include "ls_sink_planned.h"

#include <stdlib.h>
#include <string.h>

typedef struct planned_sink {
    ls_sink base;
    ls_sink_plan plan; /* its strings point at the copies below */
    char *dir, *name, *path, *topic, *bootstrap, *txn_id;
    ls_props props;
} planned_sink;

static int refuse(ls_sink *s, ls_err *err)
{
    ls_seterr(err, "%s is only planned (luastream explain): nothing is written", s->description);
    return -1;
}

static int planned_open(ls_sink *s, int64_t batch, ls_err *err)
{
    (void)batch;
    return refuse(s, err);
}

static int planned_write(ls_sink *s, const ls_row *row, ls_err *err)
{
    (void)row;
    return refuse(s, err);
}

static int planned_write_out(ls_sink *s, const ls_out *o, ls_err *err)
{
    (void)o;
    return refuse(s, err);
}

static int planned_close(ls_sink *s, ls_err *err) { return refuse(s, err); }

static void planned_destroy(ls_sink *s)
{
    planned_sink *p = (planned_sink *)s;
    free(p->dir);
    free(p->name);
    free(p->path);
    free(p->topic);
    free(p->bootstrap);
    free(p->txn_id);
    ls_props_free(&p->props);
    free(s->description);
    free(p);
}

static const ls_sink_vt planned_vt = { planned_open, planned_write, planned_write_out,
                                       planned_close, planned_destroy };

static char *dup_or_null(const char *s) { return s ? ls_xstrdup(s) : NULL; }

ls_sink *ls_sink_planned(const ls_sink_plan *in, ls_err *err)
{
    if (in->kind == LS_PLAN_KAFKA) {
        /* what the producer's configuration would refuse, without a producer */
        rd_kafka_conf_t *conf = ls_kafka_conf(in->bootstrap ? in->bootstrap : "", in->props, err);
        if (!conf) return NULL;
        rd_kafka_conf_destroy(conf);
    }
    planned_sink *p = ls_xcalloc(1, sizeof *p);
    p->base.vt = &planned_vt;
    p->plan = *in;
    p->dir = dup_or_null(in->dir);
    p->name = dup_or_null(in->name);
    p->topic = dup_or_null(in->topic);
    p->bootstrap = dup_or_null(in->bootstrap);
    p->txn_id = dup_or_null(in->txn_id);
    for (size_t i = 0; in->props && i < in->props->n; i++)
        ls_props_set(&p->props, in->props->names[i], in->props->values[i]);
    ls_buf d;
    ls_buf_init(&d);
    if (in->kind == LS_PLAN_JSONL) {
        ls_buf path;
        ls_buf_init(&path);
        ls_buf_printf(&path, in->parts ? "%s/%s/part-<p>.jsonl" : "%s/%s.jsonl",
                      in->dir ? in->dir : ".", in->name ? in->name : "rows");
        p->path = path.data;
        ls_buf_printf(&d, "FileSink[%s]", p->path);
    } else if (in->kind == LS_PLAN_KAFKA) {
        ls_buf_printf(&d, "KafkaSink[%s]", p->topic ? p->topic : "");
    } else {
        ls_buf_puts(&d, in->kind == LS_PLAN_CONSOLE ? "ConsoleSink" : "stderr");
    }
    p->base.description = d.data;
    p->plan.dir = p->dir;
    p->plan.name = p->name;
    p->plan.path = p->path;
    p->plan.topic = p->topic;
    p->plan.bootstrap = p->bootstrap;
    p->plan.txn_id = p->txn_id;
    p->plan.props = &p->props;
    return &p->base;
}

const ls_sink_plan *ls_sink_plan_of(const ls_sink *s)
{
    return s && s->vt == &planned_vt ? &((const planned_sink *)s)->plan : NULL;
}
