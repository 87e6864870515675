/* ls_status_report.c - a job's groups as data, as a table and as JSON (see
 * ls_status_report.h). Every string that came from Kafka (member ids,
 * client ids, hosts: a client chooses its own client.id) is untrusted:
 * made printable for the terminal, valid UTF-8 for JSON. */
#include "ls_status_report.h"

#include <stdlib.h>
#include <string.h>
#include <yajl_gen.h>

#include "ls_textwidth.h"
#include "ls_value.h"

static char *dup_or_null(const char *s)
{
    return s ? ls_xstrdup(s) : NULL;
}

ls_status_report *ls_status_report_new(const char *app, const char *bootstrap)
{
    ls_status_report *r = ls_xcalloc(1, sizeof *r);
    r->app = ls_xstrdup(app ? app : "");
    r->bootstrap = ls_xstrdup(bootstrap ? bootstrap : "");
    return r;
}

static void free_parts(ls_status_part *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(p[i].topic);
        free(p[i].end_error);
    }
    free(p);
}

void ls_status_report_free(ls_status_report *r)
{
    if (!r) return;
    for (size_t g = 0; g < r->ngroups; g++) {
        ls_status_group *gr = &r->groups[g];
        for (size_t m = 0; m < gr->nmembers; m++) {
            ls_status_member *me = &gr->members[m];
            free(me->member_id);
            free(me->client_id);
            free(me->host);
            free(me->instance_id);
            free_parts(me->parts, me->nparts);
        }
        free(gr->members);
        free_parts(gr->unassigned, gr->nunassigned);
        free(gr->name);
        free(gr->state);
        free(gr->assignor);
        free(gr->coordinator_host);
    }
    free(r->groups);
    free(r->warning);
    free(r->app);
    free(r->bootstrap);
    free(r);
}

ls_status_group *ls_status_add_group(ls_status_report *r, const char *name, int job_group)
{
    r->groups = ls_xrealloc(r->groups, (r->ngroups + 1) * sizeof *r->groups);
    ls_status_group *g = &r->groups[r->ngroups++];
    memset(g, 0, sizeof *g);
    g->name = ls_xstrdup(name ? name : "");
    g->job_group = job_group;
    g->coordinator_id = -1;
    return g;
}

ls_status_member *ls_status_add_member(ls_status_group *g, const char *member_id,
                                       const char *client_id, const char *host)
{
    g->members = ls_xrealloc(g->members, (g->nmembers + 1) * sizeof *g->members);
    ls_status_member *m = &g->members[g->nmembers++];
    memset(m, 0, sizeof *m);
    m->member_id = dup_or_null(member_id);
    m->client_id = dup_or_null(client_id);
    m->host = dup_or_null(host);
    return m;
}

static ls_status_part *add_part(ls_status_part **parts, size_t *n, const char *topic,
                                int32_t partition)
{
    *parts = ls_xrealloc(*parts, (*n + 1) * sizeof **parts);
    ls_status_part *p = &(*parts)[(*n)++];
    memset(p, 0, sizeof *p);
    p->topic = ls_xstrdup(topic ? topic : "");
    p->partition = partition;
    p->committed = p->end = -1;
    return p;
}

ls_status_part *ls_status_add_part(ls_status_member *m, const char *topic, int32_t partition)
{
    return add_part(&m->parts, &m->nparts, topic, partition);
}

ls_status_part *ls_status_add_unassigned(ls_status_group *g, const char *topic, int32_t partition)
{
    return add_part(&g->unassigned, &g->nunassigned, topic, partition);
}

static ls_status_part *find_in(ls_status_part *p, size_t n, const char *topic, int32_t partition)
{
    for (size_t i = 0; i < n; i++)
        if (p[i].partition == partition && strcmp(p[i].topic, topic) == 0) return &p[i];
    return NULL;
}

ls_status_part *ls_status_find_part(ls_status_group *g, const char *topic, int32_t partition)
{
    for (size_t m = 0; m < g->nmembers; m++) {
        ls_status_part *p = find_in(g->members[m].parts, g->members[m].nparts, topic, partition);
        if (p) return p;
    }
    return find_in(g->unassigned, g->nunassigned, topic, partition);
}

int64_t ls_status_lag(const ls_status_part *p)
{
    if (p->committed < 0 || p->end < 0) return -1;
    return p->end > p->committed ? p->end - p->committed : 0;
}

static void add_totals(ls_status_totals *t, const ls_status_part *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int64_t lag = ls_status_lag(&p[i]);
        t->partitions++;
        if (lag < 0) t->unknown_lag++;
        else t->lag += lag;
    }
}

ls_status_totals ls_status_group_totals(const ls_status_group *g)
{
    ls_status_totals t = { 0 };
    t.members = g->nmembers;
    for (size_t m = 0; m < g->nmembers; m++) add_totals(&t, g->members[m].parts, g->members[m].nparts);
    add_totals(&t, g->unassigned, g->nunassigned);
    return t;
}

/* ---- the table ----------------------------------------------------------- */

enum { C_MEMBER, C_CLIENT, C_HOST, C_TOPIC, C_PARTITION, C_COMMITTED, C_END, C_LAG, NCOLS };

static const char *const headings[NCOLS] = {
    "MEMBER", "CLIENT", "HOST", "TOPIC", "PARTITION", "COMMITTED", "END", "LAG",
};
static const int right_aligned[NCOLS] = { 0, 0, 0, 0, 1, 1, 1, 1 };

/* Rows of printable cells (each malloc'd), widths in terminal columns. */
typedef struct table {
    size_t nrows, cap;
    char *(*rows)[NCOLS];
    size_t width[NCOLS];
} table;

static char *printable(const char *s)
{
    ls_buf b;
    ls_buf_init(&b);
    if (s) ls_text_printable(&b, s, strlen(s), 0);
    char *out = ls_xstrdup(b.data ? b.data : "");
    ls_buf_free(&b);
    return out;
}

static char *number(int64_t v)
{
    char t[32];
    if (v < 0) return ls_xstrdup("-");
    snprintf(t, sizeof t, "%lld", (long long)v);
    return ls_xstrdup(t);
}

static void add_row(table *t, char *cells[NCOLS])
{
    if (t->nrows == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 16;
        t->rows = ls_xrealloc(t->rows, t->cap * sizeof *t->rows);
    }
    for (int c = 0; c < NCOLS; c++) {
        char *s = cells[c] ? cells[c] : ls_xstrdup("");
        t->rows[t->nrows][c] = s;
        size_t w = ls_text_width(s, strlen(s));
        if (w > t->width[c]) t->width[c] = w;
    }
    t->nrows++;
}

/* One row per partition; the member's columns on its first row only. */
static void part_rows(table *t, const char *member, const char *client, const char *host,
                      const ls_status_part *p, size_t n)
{
    if (n == 0) {
        char *cells[NCOLS] = { printable(member), printable(client), printable(host),
                               ls_xstrdup("(none)") };
        add_row(t, cells);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        char *cells[NCOLS] = { 0 };
        if (i == 0) {
            cells[C_MEMBER] = printable(member);
            cells[C_CLIENT] = printable(client);
            cells[C_HOST] = printable(host);
        }
        cells[C_TOPIC] = printable(p[i].topic);
        cells[C_PARTITION] = number(p[i].partition);
        cells[C_COMMITTED] = number(p[i].committed);
        cells[C_END] = number(p[i].end);
        cells[C_LAG] = number(ls_status_lag(&p[i]));
        add_row(t, cells);
    }
}

static void print_table(ls_buf *out, table *t)
{
    for (size_t r = 0; r < t->nrows; r++) {
        ls_buf line;
        ls_buf_init(&line);
        ls_buf_puts(&line, "  ");
        for (int c = 0; c < NCOLS; c++) {
            const char *s = t->rows[r][c];
            size_t w = ls_text_width(s, strlen(s)), pad = t->width[c] - w;
            if (c) ls_buf_puts(&line, "  ");
            if (right_aligned[c])
                for (size_t k = 0; k < pad; k++) ls_buf_putc(&line, ' ');
            ls_buf_puts(&line, s);
            if (!right_aligned[c])
                for (size_t k = 0; k < pad; k++) ls_buf_putc(&line, ' ');
        }
        while (line.len && line.data[line.len - 1] == ' ') line.data[--line.len] = '\0';
        ls_buf_append(out, line.data, line.len);
        ls_buf_putc(out, '\n');
        ls_buf_free(&line);
    }
}

static void free_table(table *t)
{
    for (size_t r = 0; r < t->nrows; r++)
        for (int c = 0; c < NCOLS; c++) free(t->rows[r][c]);
    free(t->rows);
}

static const char *state_note(const char *state, size_t members)
{
    if (!state) return NULL;
    if (strcmp(state, "Empty") == 0)
        return "no member is running: the lag is what the job has left to read";
    if (strcmp(state, "PreparingRebalance") == 0 || strcmp(state, "CompletingRebalance") == 0)
        return "a rebalance is in progress: the assignment shown may be about to change";
    if (strcmp(state, "Stable") == 0 && members == 0) return NULL;
    if (strcmp(state, "Stable") != 0) return "the group is not stable";
    return NULL;
}

static void group_text(const ls_status_report *r, const ls_status_group *g, ls_buf *out)
{
    ls_status_totals t = ls_status_group_totals(g);
    char *name = printable(g->name), *state = printable(g->state ? g->state : "Unknown");
    if (g->job_group)
        ls_buf_printf(out, "job %s: consumer group %s", r->app, name);
    else
        ls_buf_printf(out, "group %s (name starts with %s-)", name, r->app);
    ls_buf_printf(out, ", %s, %zu member%s, %zu partition%s, lag %lld", state, t.members,
                  t.members == 1 ? "" : "s", t.partitions, t.partitions == 1 ? "" : "s",
                  (long long)t.lag);
    if (t.unknown_lag) ls_buf_printf(out, " (%zu unknown)", t.unknown_lag);
    ls_buf_putc(out, '\n');
    free(name);
    free(state);
    int detail = 0;
    if (g->assignor && *g->assignor) {
        char *a = printable(g->assignor);
        ls_buf_printf(out, "  assignor %s", a);
        free(a);
        detail = 1;
    }
    if (g->coordinator_id >= 0) {
        char *h = printable(g->coordinator_host);
        ls_buf_printf(out, "%scoordinator broker %d (%s:%d)", detail ? ", " : "  ",
                      g->coordinator_id, h, g->coordinator_port);
        free(h);
        detail = 1;
    }
    if (detail) ls_buf_putc(out, '\n');
    const char *note = state_note(g->state, g->nmembers);
    if (note) ls_buf_printf(out, "  (%s)\n", note);
    if (g->nmembers == 0 && g->nunassigned == 0) {
        ls_buf_puts(out, "  no members and no committed offsets\n");
        return;
    }
    table tb;
    memset(&tb, 0, sizeof tb);
    char *head[NCOLS];
    for (int c = 0; c < NCOLS; c++) head[c] = ls_xstrdup(headings[c]);
    add_row(&tb, head);
    for (size_t m = 0; m < g->nmembers; m++) {
        const ls_status_member *me = &g->members[m];
        part_rows(&tb, me->member_id ? me->member_id : "?", me->client_id, me->host, me->parts,
                  me->nparts);
    }
    if (g->nunassigned)
        part_rows(&tb, "(no member)", NULL, NULL, g->unassigned, g->nunassigned);
    char *total[NCOLS] = { ls_xstrdup("total"), 0 };
    total[C_LAG] = t.unknown_lag && t.unknown_lag == t.partitions ? ls_xstrdup("-") : number(t.lag);
    add_row(&tb, total);
    ls_buf_putc(out, '\n');
    print_table(out, &tb);
    free_table(&tb);
}

void ls_status_text(const ls_status_report *r, ls_buf *out)
{
    for (size_t g = 0; g < r->ngroups; g++) {
        if (g) ls_buf_putc(out, '\n');
        group_text(r, &r->groups[g], out);
    }
    if (r->warning) {
        char *w = printable(r->warning);
        ls_buf_printf(out, "\nwarning: %s\n", w);
        free(w);
    }
}

/* ---- JSON ------------------------------------------------------------------ */

static void key(yajl_gen g, const char *k)
{
    yajl_gen_string(g, (const unsigned char *)k, strlen(k));
}

/* A string from Kafka as valid UTF-8 (invalid bytes and controls become
 * U+FFFD), or null. */
static void str(yajl_gen g, const char *s)
{
    if (!s) {
        yajl_gen_null(g);
        return;
    }
    ls_buf b;
    ls_buf_init(&b);
    ls_text_printable(&b, s, strlen(s), 0);
    yajl_gen_string(g, (const unsigned char *)(b.data ? b.data : ""), b.len);
    ls_buf_free(&b);
}

static void num_or_null(yajl_gen g, int64_t v)
{
    if (v < 0) yajl_gen_null(g);
    else yajl_gen_integer(g, v);
}

static void parts_json(yajl_gen g, const ls_status_part *p, size_t n)
{
    yajl_gen_array_open(g);
    for (size_t i = 0; i < n; i++) {
        yajl_gen_map_open(g);
        key(g, "topic"); str(g, p[i].topic);
        key(g, "partition"); yajl_gen_integer(g, p[i].partition);
        key(g, "committed"); num_or_null(g, p[i].committed);
        key(g, "end"); num_or_null(g, p[i].end);
        key(g, "lag"); num_or_null(g, ls_status_lag(&p[i]));
        if (p[i].end_error) {
            key(g, "end_error"); str(g, p[i].end_error);
        }
        yajl_gen_map_close(g);
    }
    yajl_gen_array_close(g);
}

static void group_json(yajl_gen g, const ls_status_group *gr)
{
    ls_status_totals t = ls_status_group_totals(gr);
    yajl_gen_map_open(g);
    key(g, "group"); str(g, gr->name);
    key(g, "job_group"); yajl_gen_bool(g, gr->job_group);
    key(g, "state"); str(g, gr->state);
    key(g, "assignor"); str(g, gr->assignor && *gr->assignor ? gr->assignor : NULL);
    key(g, "coordinator");
    if (gr->coordinator_id < 0) {
        yajl_gen_null(g);
    } else {
        yajl_gen_map_open(g);
        key(g, "id"); yajl_gen_integer(g, gr->coordinator_id);
        key(g, "host"); str(g, gr->coordinator_host);
        key(g, "port"); yajl_gen_integer(g, gr->coordinator_port);
        yajl_gen_map_close(g);
    }
    key(g, "members");
    yajl_gen_array_open(g);
    for (size_t m = 0; m < gr->nmembers; m++) {
        const ls_status_member *me = &gr->members[m];
        ls_status_totals mt = { 0 };
        add_totals(&mt, me->parts, me->nparts);
        yajl_gen_map_open(g);
        key(g, "member_id"); str(g, me->member_id);
        key(g, "client_id"); str(g, me->client_id);
        key(g, "host"); str(g, me->host);
        key(g, "group_instance_id"); str(g, me->instance_id);
        key(g, "partitions"); parts_json(g, me->parts, me->nparts);
        key(g, "lag"); yajl_gen_integer(g, mt.lag);
        yajl_gen_map_close(g);
    }
    yajl_gen_array_close(g);
    key(g, "unassigned"); parts_json(g, gr->unassigned, gr->nunassigned);
    key(g, "totals");
    yajl_gen_map_open(g);
    key(g, "members"); yajl_gen_integer(g, (long long)t.members);
    key(g, "partitions"); yajl_gen_integer(g, (long long)t.partitions);
    key(g, "lag"); yajl_gen_integer(g, t.lag);
    key(g, "unknown_lag"); yajl_gen_integer(g, (long long)t.unknown_lag);
    yajl_gen_map_close(g);
    yajl_gen_map_close(g);
}

void ls_status_json(const ls_status_report *r, ls_buf *out)
{
    yajl_gen g = yajl_gen_alloc(NULL);
    yajl_gen_map_open(g);
    key(g, "app"); str(g, r->app);
    key(g, "bootstrap"); str(g, r->bootstrap);
    key(g, "groups");
    yajl_gen_array_open(g);
    for (size_t i = 0; i < r->ngroups; i++) group_json(g, &r->groups[i]);
    yajl_gen_array_close(g);
    key(g, "warning"); str(g, r->warning);
    yajl_gen_map_close(g);
    ls_json_take(g, out);
    yajl_gen_free(g);
    ls_buf_putc(out, '\n');
}
