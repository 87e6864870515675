/* ls_status.c - `luastream status`: asks Kafka's admin API about a job's
 * consumer groups and fills a report (see ls_status.h; the renderings are
 * ls_status_report.c). Every librdkafka call's result is checked; a reply
 * that cannot be used is an error naming the request, never a crash or a
 * silently shorter report (a partial listing is shown with a warning). */
#include "ls_status.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ls_app.h"
#include "ls_status_report.h"

/* ---- one admin request ---------------------------------------------------- */

typedef struct client {
    rd_kafka_t *rk;
    rd_kafka_queue_t *q;
    const ls_status_opts *o;
    int interrupted;
} client;

static rd_kafka_AdminOptions_t *admin_options(client *c, rd_kafka_admin_op_t op, ls_err *err)
{
    rd_kafka_AdminOptions_t *ao = rd_kafka_AdminOptions_new(c->rk, op);
    if (!ao) {
        ls_seterr(err, "cannot make the admin request's options");
        return NULL;
    }
    char errstr[256];
    if (rd_kafka_AdminOptions_set_request_timeout(ao, c->o->timeout_ms, errstr, sizeof errstr)) {
        ls_seterr(err, "admin request timeout: %s", errstr);
        rd_kafka_AdminOptions_destroy(ao);
        return NULL;
    }
    return ao;
}

/* The result of the request just made (an event of type want), waiting in
 * slices so that SIGINT is seen; NULL + err when it failed or timed out. */
static rd_kafka_event_t *wait_result(client *c, rd_kafka_event_type_t want, const char *what,
                                     ls_err *err)
{
    double until = ls_mono_ms() + c->o->timeout_ms + 5000; /* librdkafka times out first */
    for (;;) {
        if (c->o->stop && *c->o->stop) {
            c->interrupted = 1;
            ls_seterr(err, "interrupted while %s", what);
            return NULL;
        }
        rd_kafka_event_t *ev = rd_kafka_queue_poll(c->q, 200);
        if (!ev) {
            if (ls_mono_ms() > until) {
                ls_seterr(err, "%s: no answer from %s within %.1f s", what, c->o->bootstrap,
                          c->o->timeout_ms / 1000.0);
                return NULL;
            }
            continue;
        }
        if (rd_kafka_event_type(ev) != want) { /* not ours: only our requests use this queue */
            rd_kafka_event_destroy(ev);
            continue;
        }
        if (rd_kafka_event_error(ev)) {
            ls_seterr(err, "%s: %s", what, rd_kafka_event_error_string(ev));
            rd_kafka_event_destroy(ev);
            return NULL;
        }
        return ev;
    }
}

/* Errors of a group's coordinator that pass (a coordinator moving or
 * loading, the offsets topic being created on a new cluster): the request
 * is made again. */
static int coordinator_busy(rd_kafka_resp_err_t e)
{
    return e == RD_KAFKA_RESP_ERR_NOT_COORDINATOR ||
           e == RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE ||
           e == RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS;
}

/* Waits ms between two attempts; 0, or -1 when stopped meanwhile. */
static int pause_ms(client *c, int ms)
{
    for (int waited = 0; waited < ms; waited += 100) {
        if (c->o->stop && *c->o->stop) {
            c->interrupted = 1;
            return -1;
        }
        struct timespec ts = { 0, 100 * 1000000L };
        nanosleep(&ts, NULL);
    }
    return 0;
}

/* ---- the steps ------------------------------------------------------------ */

typedef struct names {
    size_t n;
    char **v;
} names;

static void names_free(names *ns)
{
    for (size_t i = 0; i < ns->n; i++) free(ns->v[i]);
    free(ns->v);
    memset(ns, 0, sizeof *ns);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every consumer group of the cluster, sorted; a listing some brokers
 * failed to answer becomes r->warning. */
static int list_groups(client *c, ls_status_report *r, names *all, ls_err *err)
{
    rd_kafka_AdminOptions_t *ao = admin_options(c, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPS, err);
    if (!ao) return -1;
    rd_kafka_ListConsumerGroups(c->rk, ao, c->q);
    rd_kafka_AdminOptions_destroy(ao);
    rd_kafka_event_t *ev =
        wait_result(c, RD_KAFKA_EVENT_LISTCONSUMERGROUPS_RESULT, "listing the consumer groups", err);
    if (!ev) return -1;
    const rd_kafka_ListConsumerGroups_result_t *res = rd_kafka_event_ListConsumerGroups_result(ev);
    if (!res) {
        ls_seterr(err, "listing the consumer groups: no result in the reply");
        rd_kafka_event_destroy(ev);
        return -1;
    }
    size_t n = 0, nerr = 0;
    const rd_kafka_ConsumerGroupListing_t **valid = rd_kafka_ListConsumerGroups_result_valid(res, &n);
    const rd_kafka_error_t **errors = rd_kafka_ListConsumerGroups_result_errors(res, &nerr);
    for (size_t i = 0; valid && i < n; i++) {
        const char *id = valid[i] ? rd_kafka_ConsumerGroupListing_group_id(valid[i]) : NULL;
        if (!id) continue;
        all->v = ls_xrealloc(all->v, (all->n + 1) * sizeof *all->v);
        all->v[all->n++] = ls_xstrdup(id);
    }
    if (all->n > 1) qsort(all->v, all->n, sizeof *all->v, cmp_str);
    if (errors && nerr > 0) {
        char w[LS_ERRLEN];
        snprintf(w, sizeof w, "listing the consumer groups failed on %zu broker%s (%s): groups "
                 "named %s-* may be missing", nerr, nerr == 1 ? "" : "s",
                 errors[0] ? rd_kafka_error_string(errors[0]) : "?", r->app);
        r->warning = ls_xstrdup(w);
    }
    rd_kafka_event_destroy(ev);
    return 0;
}

static int cmp_part(const void *a, const void *b)
{
    const ls_status_part *x = a, *y = b;
    int t = strcmp(x->topic, y->topic);
    return t ? t : (x->partition > y->partition) - (x->partition < y->partition);
}

static int cmp_member(const void *a, const void *b)
{
    const ls_status_member *x = a, *y = b;
    return strcmp(x->member_id ? x->member_id : "", y->member_id ? y->member_id : "");
}

static const char *state_name(rd_kafka_consumer_group_state_t st)
{
    const char *s = rd_kafka_consumer_group_state_name(st);
    return s ? s : "Unknown";
}

/* A group's description into a new group of r. */
static void add_described(ls_status_report *r, const rd_kafka_ConsumerGroupDescription_t *d,
                          const char *name, int job_group)
{
    ls_status_group *g = ls_status_add_group(r, name, job_group);
    g->state = ls_xstrdup(state_name(rd_kafka_ConsumerGroupDescription_state(d)));
    const char *assignor = rd_kafka_ConsumerGroupDescription_partition_assignor(d);
    g->assignor = assignor && *assignor ? ls_xstrdup(assignor) : NULL;
    const rd_kafka_Node_t *co = rd_kafka_ConsumerGroupDescription_coordinator(d);
    if (co) {
        g->coordinator_id = rd_kafka_Node_id(co);
        const char *h = rd_kafka_Node_host(co);
        g->coordinator_host = ls_xstrdup(h ? h : "?");
        g->coordinator_port = rd_kafka_Node_port(co);
    }
    size_t nm = rd_kafka_ConsumerGroupDescription_member_count(d);
    for (size_t i = 0; i < nm; i++) {
        const rd_kafka_MemberDescription_t *md = rd_kafka_ConsumerGroupDescription_member(d, i);
        if (!md) continue;
        ls_status_member *m = ls_status_add_member(g, rd_kafka_MemberDescription_consumer_id(md),
                                                   rd_kafka_MemberDescription_client_id(md),
                                                   rd_kafka_MemberDescription_host(md));
        const char *inst = rd_kafka_MemberDescription_group_instance_id(md);
        m->instance_id = inst && *inst ? ls_xstrdup(inst) : NULL;
        const rd_kafka_MemberAssignment_t *a = rd_kafka_MemberDescription_assignment(md);
        const rd_kafka_topic_partition_list_t *l = a ? rd_kafka_MemberAssignment_partitions(a) : NULL;
        for (int k = 0; l && k < l->cnt; k++)
            if (l->elems[k].topic) ls_status_add_part(m, l->elems[k].topic, l->elems[k].partition);
        if (m->nparts > 1) qsort(m->parts, m->nparts, sizeof *m->parts, cmp_part);
    }
    if (g->nmembers > 1) qsort(g->members, g->nmembers, sizeof *g->members, cmp_member);
}

/* Describes the job's group and the others named: adds those that exist
 * to r (the job's first). *missing is set when the job's group does not
 * exist. */
static int describe(client *c, ls_status_report *r, const names *others, int *missing,
                    int *busy, ls_err *err)
{
    *busy = 0;
    size_t n = others->n + 1;
    const char **ids = ls_xcalloc(n, sizeof *ids);
    ids[0] = r->app;
    for (size_t i = 0; i < others->n; i++) ids[i + 1] = others->v[i];
    rd_kafka_AdminOptions_t *ao = admin_options(c, RD_KAFKA_ADMIN_OP_DESCRIBECONSUMERGROUPS, err);
    if (!ao) {
        free(ids);
        return -1;
    }
    rd_kafka_DescribeConsumerGroups(c->rk, ids, n, ao, c->q);
    rd_kafka_AdminOptions_destroy(ao);
    free(ids);
    char what[LS_APP_ID_MAX + 64];
    snprintf(what, sizeof what, "describing consumer group %s", r->app);
    rd_kafka_event_t *ev = wait_result(c, RD_KAFKA_EVENT_DESCRIBECONSUMERGROUPS_RESULT, what, err);
    if (!ev) return -1;
    const rd_kafka_DescribeConsumerGroups_result_t *res =
        rd_kafka_event_DescribeConsumerGroups_result(ev);
    size_t nd = 0;
    const rd_kafka_ConsumerGroupDescription_t **ds =
        res ? rd_kafka_DescribeConsumerGroups_result_groups(res, &nd) : NULL;
    if (!ds) {
        ls_seterr(err, "%s: no result in the reply", what);
        rd_kafka_event_destroy(ev);
        return -1;
    }
    /* the job's group first, whatever order the reply has */
    int rc = 0, found = 0;
    *missing = 1;
    for (int pass = 0; pass < 2 && rc == 0; pass++)
        for (size_t i = 0; i < nd && rc == 0; i++) {
            const rd_kafka_ConsumerGroupDescription_t *d = ds[i];
            const char *id = d ? rd_kafka_ConsumerGroupDescription_group_id(d) : NULL;
            if (!id) continue;
            int job = strcmp(id, r->app) == 0;
            if (job != (pass == 0)) continue;
            const rd_kafka_error_t *e = rd_kafka_ConsumerGroupDescription_error(d);
            if (e) {
                if (rd_kafka_error_code(e) == RD_KAFKA_RESP_ERR_GROUP_ID_NOT_FOUND) continue;
                if (job) {
                    ls_seterr(err, "%s: %s", what, rd_kafka_error_string(e));
                    *busy = coordinator_busy(rd_kafka_error_code(e));
                    rc = -1; /* before anything was added to r (pass 0) */
                } else if (!r->warning) {
                    char w[LS_ERRLEN];
                    snprintf(w, sizeof w, "describing consumer group %s: %s", id,
                             rd_kafka_error_string(e));
                    r->warning = ls_xstrdup(w);
                }
                continue;
            }
            /* a group that does not exist (or no longer) is Dead */
            if (rd_kafka_ConsumerGroupDescription_state(d) == RD_KAFKA_CONSUMER_GROUP_STATE_DEAD)
                continue;
            if (job) {
                if (found++) continue; /* once */
                *missing = 0;
            }
            add_described(r, d, id, job);
        }
    rd_kafka_event_destroy(ev);
    return rc;
}

/* The group's committed offsets into its parts; partitions no member is
 * assigned are added as unassigned. A partition whose offset the reply
 * holds an error for keeps an unknown offset (r's warning says why). */
static int committed(client *c, ls_status_report *r, ls_status_group *g, int *busy, ls_err *err)
{
    char warning[LS_ERRLEN] = "";
    *busy = 0;
    rd_kafka_ListConsumerGroupOffsets_t *req = rd_kafka_ListConsumerGroupOffsets_new(g->name, NULL);
    if (!req) {
        ls_seterr(err, "cannot make the request for group %s's offsets", g->name);
        return -1;
    }
    rd_kafka_AdminOptions_t *ao = admin_options(c, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS, err);
    if (!ao) {
        rd_kafka_ListConsumerGroupOffsets_destroy(req);
        return -1;
    }
    rd_kafka_ListConsumerGroupOffsets(c->rk, &req, 1, ao, c->q);
    rd_kafka_AdminOptions_destroy(ao);
    rd_kafka_ListConsumerGroupOffsets_destroy(req);
    char what[LS_APP_ID_MAX + 300];
    snprintf(what, sizeof what, "listing the committed offsets of group %.250s", g->name);
    rd_kafka_event_t *ev = wait_result(c, RD_KAFKA_EVENT_LISTCONSUMERGROUPOFFSETS_RESULT, what, err);
    if (!ev) return -1;
    const rd_kafka_ListConsumerGroupOffsets_result_t *res =
        rd_kafka_event_ListConsumerGroupOffsets_result(ev);
    size_t n = 0;
    const rd_kafka_group_result_t **gr = res ? rd_kafka_ListConsumerGroupOffsets_result_groups(res, &n) : NULL;
    if (!gr || n < 1 || !gr[0]) {
        ls_seterr(err, "%s: no result in the reply", what);
        rd_kafka_event_destroy(ev);
        return -1;
    }
    const rd_kafka_error_t *e = rd_kafka_group_result_error(gr[0]);
    if (e) {
        ls_seterr(err, "%s: %s", what, rd_kafka_error_string(e));
        *busy = coordinator_busy(rd_kafka_error_code(e));
        rd_kafka_event_destroy(ev);
        return -1;
    }
    const rd_kafka_topic_partition_list_t *l = rd_kafka_group_result_partitions(gr[0]);
    for (int i = 0; l && i < l->cnt; i++) {
        const rd_kafka_topic_partition_t *tp = &l->elems[i];
        if (!tp->topic) continue;
        ls_status_part *p = ls_status_find_part(g, tp->topic, tp->partition);
        if (!p && (tp->offset < 0 || tp->err)) continue; /* nothing committed, nobody assigned */
        if (!p) p = ls_status_add_unassigned(g, tp->topic, tp->partition);
        p->committed = tp->offset >= 0 && !tp->err ? tp->offset : -1;
        if (tp->err && !*warning) /* that partition's committed offset (and lag) unknown */
            snprintf(warning, LS_ERRLEN, "%.250s: %.100s[%d]: %.80s (its lag is unknown)", what, tp->topic,
                     (int)tp->partition, rd_kafka_err2str(tp->err));
    }
    if (g->nunassigned > 1) qsort(g->unassigned, g->nunassigned, sizeof *g->unassigned, cmp_part);
    if (*warning && !r->warning) r->warning = ls_xstrdup(warning);
    rd_kafka_event_destroy(ev);
    return 0;
}

static void each_part(ls_status_report *r, void (*fn)(ls_status_part *, void *), void *ctx)
{
    for (size_t g = 0; g < r->ngroups; g++) {
        ls_status_group *gr = &r->groups[g];
        for (size_t m = 0; m < gr->nmembers; m++)
            for (size_t k = 0; k < gr->members[m].nparts; k++) fn(&gr->members[m].parts[k], ctx);
        for (size_t k = 0; k < gr->nunassigned; k++) fn(&gr->unassigned[k], ctx);
    }
}

static void collect(ls_status_part *p, void *ctx)
{
    rd_kafka_topic_partition_list_t *l = ctx;
    if (!rd_kafka_topic_partition_list_find(l, p->topic, p->partition))
        rd_kafka_topic_partition_list_add(l, p->topic, p->partition)->offset = RD_KAFKA_OFFSET_END;
}

typedef struct ends {
    const rd_kafka_topic_partition_list_t *l;
    const char *all_failed; /* the whole request failed: why */
} ends;

static void set_end(ls_status_part *p, void *ctx)
{
    const ends *e = ctx;
    if (e->all_failed) {
        p->end_error = ls_xstrdup(e->all_failed);
        return;
    }
    const rd_kafka_topic_partition_t *tp =
        rd_kafka_topic_partition_list_find((rd_kafka_topic_partition_list_t *)e->l, p->topic,
                                           p->partition);
    if (!tp) p->end_error = ls_xstrdup("not in the reply");
    else if (tp->err) p->end_error = ls_xstrdup(rd_kafka_err2str(tp->err));
    else if (tp->offset < 0) p->end_error = ls_xstrdup("no offset in the reply");
    else p->end = tp->offset;
}

/* Every partition's end offset: the latest offset, as a member's planning
 * reads it (read_committed: the last stable offset). A partition whose end
 * cannot be read (a deleted topic, a leader away) keeps an unknown end and
 * the report says why. */
static void end_offsets(client *c, ls_status_report *r)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(16);
    each_part(r, collect, l);
    ends e = { l, NULL };
    if (l->cnt > 0) {
        rd_kafka_resp_err_t err = rd_kafka_offsets_for_times(c->rk, l, c->o->timeout_ms);
        if (err) e.all_failed = rd_kafka_err2str(err);
        each_part(r, set_end, &e);
        if (err && !r->warning) {
            char w[LS_ERRLEN];
            snprintf(w, sizeof w, "cannot read the partitions' end offsets: %s (lag unknown)",
                     rd_kafka_err2str(err));
            r->warning = ls_xstrdup(w);
        }
    }
    rd_kafka_topic_partition_list_destroy(l);
}

/* ---- the command ---------------------------------------------------------- */

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("luastream: status: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

int ls_status(const ls_status_opts *o)
{
    ls_err err = { "" };
    if (ls_app_check_id(o->app ? o->app : "", &err)) {
        fprintf(stderr, "luastream: status: --app %s\n", err.msg);
        return 2;
    }
    ls_props props = { 0 };
    for (size_t i = 0; o->props && i < o->props->n; i++)
        ls_props_set(&props, o->props->names[i], o->props->values[i]);
    rd_kafka_conf_t *conf = ls_kafka_conf(o->bootstrap, &props, &err);
    ls_props_free(&props);
    if (!conf) {
        fprintf(stderr, "luastream: status: %s\n", err.msg);
        return 2;
    }
    char errstr[512];
    client c = { 0 };
    c.o = o;
    /* a consumer without a group: it joins nothing; its latest offsets are
     * read as a member's are (read_committed) */
    c.rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    if (!c.rk) {
        rd_kafka_conf_destroy(conf);
        fail("kafka client: %s", errstr); /* a combination of properties it refuses */
        return 2;
    }
    c.q = rd_kafka_queue_new(c.rk);
    int rc = 0;
    ls_status_report *r = ls_status_report_new(o->app, o->bootstrap);
    names all = { 0 }, others = { 0 };
    if (!c.q) {
        rc = fail("kafka client: no queue for the admin requests");
        goto done;
    }
    if (ls_kafka_check_reachable(c.rk, o->bootstrap, o->timeout_ms, &err)) {
        if (o->stop && *o->stop) {
            rc = 128 + (int)*o->stop;
        } else {
            fprintf(stderr, "luastream: status: %s (is a broker running there? check "
                    "--bootstrap, and --kafka for TLS or SASL settings)\n", err.msg);
            rc = 2;
        }
        goto done;
    }
    if (list_groups(&c, r, &all, &err)) goto failed;
    size_t plen = strlen(o->app);
    for (size_t i = 0; i < all.n; i++)
        if (strncmp(all.v[i], o->app, plen) == 0 && all.v[i][plen] == '-') {
            others.v = ls_xrealloc(others.v, (others.n + 1) * sizeof *others.v);
            others.v[others.n++] = ls_xstrdup(all.v[i]);
        }
    int missing = 0, busy = 0;
    double until = ls_mono_ms() + o->timeout_ms;
    while (describe(&c, r, &others, &missing, &busy, &err))
        if (!busy || ls_mono_ms() > until || pause_ms(&c, 500)) goto failed;
    if (missing) {
        const char *near = ls_nearest(o->app, (const char *const *)all.v, all.n);
        fprintf(stderr, "luastream: status: no consumer group %s on %s: no member of job %s "
                "has run against this cluster (or the group's offsets expired)", o->app,
                o->bootstrap, o->app);
        if (near) fprintf(stderr, "; did you mean %s?", near);
        else fprintf(stderr, "; check --app and --bootstrap");
        if (others.n)
            fprintf(stderr, " (%zu group%s named %s-* exist%s)", others.n,
                    others.n == 1 ? "" : "s", o->app, others.n == 1 ? "s" : "");
        fputc('\n', stderr);
        rc = 1;
        goto done;
    }
    for (size_t g = 0; g < r->ngroups; g++)
        while (committed(&c, r, &r->groups[g], &busy, &err))
            if (!busy || ls_mono_ms() > until || pause_ms(&c, 500)) goto failed;
    end_offsets(&c, r);
    ls_buf out;
    ls_buf_init(&out);
    if (o->json) ls_status_json(r, &out);
    else ls_status_text(r, &out);
    FILE *f = o->out ? o->out : stdout;
    if (out.len) fwrite(out.data, 1, out.len, f);
    ls_buf_free(&out);
    if ((fflush(f) != 0 || ferror(f)) && errno != EPIPE) /* a reader gone (| head) is no failure */
        rc = fail("cannot write the report: %s", strerror(errno));
    goto done;
failed:
    if (c.interrupted && o->stop && *o->stop) {
        rc = 128 + (int)*o->stop;
    } else {
        fprintf(stderr, "luastream: status: %s\n", err.msg);
        rc = 1;
    }
done:
    names_free(&all);
    names_free(&others);
    ls_status_report_free(r);
    if (c.q) rd_kafka_queue_destroy(c.q);
    rd_kafka_destroy(c.rk);
    return rc;
}
