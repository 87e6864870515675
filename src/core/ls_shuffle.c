/* ls_shuffle.c - repartition and changelog topics of a job's aggregations
 * (see ls_shuffle.h). */
#include "ls_shuffle.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ls_app.h"
#include "ls_purge.h"
#include "ls_checkpoint.h"
#include "ls_query_stage.h"
#include "ls_sink_parts.h"
#include "ls_state.h"
#include "ls_standby.h"
#include "ls_state_cache.h"

#define ADMIN_TIMEOUT_MS 30000
#define RESTORE_IDLE_MS 60000 /* a restore that reads nothing for this long fails */
#define PURGE_INTERVAL_MS 10000 /* consumed repartition records deleted at most this often
                                  (Kafka Streams: repartition.purge.interval.ms, 30 s) */
#define PURGE_LAST_WAIT_MS 3000 /* a member stopping waits this long for its last purge */
#define CACHE_INTERVAL_MS 5000 /* the state cache is saved at most this often (and at the end) */
/* A snapshot older than this is not loaded: the changelog's tombstones are
 * kept DELETE_RETENTION_MS (set on the topics luastream creates), and one
 * written after the snapshot must still be there to be read. */
#define DELETE_RETENTION_MS 86400000LL
#define CACHE_MAX_AGE_MS (DELETE_RETENTION_MS / 2)
#define WATERMARK_SLICE_MS 5000 /* one try at a changelog partition's offsets */

/* The changelog key of a state partition's watermark stamps: a group key
 * starts with a type tag, never a NUL. */
static const char WM_KEY[3] = { '\0', 'w', 'm' };
static const char MARKER_MAGIC[4] = { 'L', 'S', 'W', 'M' };
/* A file sink's committed length of a state partition's part file
 * (ls_sink_parts.h): key "\0fl" + the directory's id, one per directory;
 * value the magic and the length (8 bytes). */
static const char FL_KEY[3] = { '\0', 'f', 'l' };
static const char FL_MAGIC[4] = { 'L', 'S', 'F', 'L' };
#define FL_KEY_LEN (sizeof FL_KEY + LS_PARTS_ID_LEN)

/* A state partition's watermark, from the markers read in its own
 * repartition partition only: a marker follows the partial groups its
 * batch sent there, so the partition's watermark can never pass a partial
 * group not yet read from it (a member's whole table could, after a move). */
typedef struct spart {
    int64_t *stamps;         /* per input partition: the latest stamp, LS_NO_TIME none */
    int nstamps;
    int dirty;               /* changed since last written to the changelog */
    int64_t global, batch, late; /* as ls_watermark's (ls_window.h) */
} spart;

typedef struct stage {
    ls_query *q;             /* borrowed: the plan owns it */
    char *repart, *changelog;
    int nparts;
    unsigned char *owned;    /* per state partition: owned and rebuilt */
    unsigned char *now;      /* scratch: owned according to the consumer */
    spart *sp;               /* per state partition: its watermark */
    int64_t *pmax;           /* per input partition: the greatest event time this member
                                read from it so far, LS_NO_TIME none */
    int npmax;
    uint64_t sent;           /* a digest of the stamps last sent (0: none) */
    ls_sink *parts;          /* the query's sink when it writes part files (borrowed), or NULL */
    int64_t *flen;           /* per state partition being restored: its part file's
                                committed length in this member's directory */
    int other_dir;           /* a restore found lengths of another directory (noted once) */
    int64_t *at;             /* per owned state partition: the changelog offset its state
                                stands for (every record before it is in it, nothing after
                                it): where its restore ended, raised by each record this
                                member writes there as the broker acknowledges it */
    int64_t *saved;          /* per state partition: the changelog offset of its last
                                snapshot in the cache (-1: none this run) */
    char sig[17];            /* the query's signature (ls_checkpoint_signature) */
} stage;

struct ls_shuffle {
    char *app;
    ls_source *src;          /* borrowed */
    ls_kafka_producer *p;    /* borrowed */
    char *input;             /* the input topic */
    int nin;                 /* its partitions */
    stage *st;
    size_t n;
    rd_kafka_t *restorer;    /* reads changelogs (no group), made at the first restore */
    ls_purge *purge;         /* deletes the repartition records read and committed */
    ls_shuffle_stats stats;
    ls_buf buf;
    char *cache_dir;         /* the checkpoint directory as a cache, or NULL */
    double cache_at;         /* when the cache was last saved (ls_mono_ms) */
    double cache_wait;       /* ms until the next save: CACHE_INTERVAL_MS, or ten times the
                                last save's duration when longer */
    int cache_warned;        /* a failed save was logged once */
    int nstandbys;           /* --standbys */
    ls_standby *standby;     /* its copies (made by prepare), or NULL */
    int debug;               /* LUASTREAM_DEBUG_SHUFFLE set: markers sent and late groups logged */
};

ls_shuffle *ls_shuffle_new(const char *app, ls_source *src, ls_kafka_producer *p)
{
    ls_shuffle *sh = ls_xcalloc(1, sizeof *sh);
    sh->app = ls_xstrdup(app);
    sh->src = src;
    sh->p = p;
    ls_buf_init(&sh->buf);
    const char *dbg = getenv("LUASTREAM_DEBUG_SHUFFLE");
    sh->debug = dbg && *dbg;
    return sh;
}

void ls_shuffle_free(ls_shuffle *sh)
{
    if (!sh) return;
    for (size_t i = 0; i < sh->n; i++) {
        free(sh->st[i].repart);
        free(sh->st[i].changelog);
        free(sh->st[i].owned);
        free(sh->st[i].now);
        for (int p = 0; p < sh->st[i].nparts; p++) free(sh->st[i].sp[p].stamps);
        free(sh->st[i].sp);
        free(sh->st[i].pmax);
        free(sh->st[i].flen);
        free(sh->st[i].saved);
        free(sh->st[i].at);
    }
    free(sh->st);
    ls_standby_free(sh->standby);
    ls_purge_free(sh->purge, PURGE_LAST_WAIT_MS); /* before the producer it sends on */
    if (sh->restorer) {
        rd_kafka_consumer_close(sh->restorer);
        rd_kafka_destroy(sh->restorer);
    }
    free(sh->input);
    free(sh->cache_dir);
    free(sh->app);
    ls_buf_free(&sh->buf);
    free(sh);
}

static char *topic_name(const char *app, const char *query, const char *what)
{
    ls_buf b;
    ls_buf_init(&b);
    ls_buf_printf(&b, "%s-%s-%s", app, query, what);
    return b.data;
}

void ls_shuffle_add(ls_shuffle *sh, ls_query *q)
{
    ls_query_stage_enable(q);
    sh->st = ls_xrealloc(sh->st, (sh->n + 1) * sizeof *sh->st);
    stage *s = &sh->st[sh->n++];
    memset(s, 0, sizeof *s);
    s->q = q;
    const char *name = ls_query_declared(q)->name;
    s->repart = topic_name(sh->app, name, "repartition");
    s->changelog = topic_name(sh->app, name, "changelog");
    s->nparts = ls_state_nparts(ls_query_state(q));
    s->owned = ls_xcalloc((size_t)s->nparts, 1);
    s->now = ls_xcalloc((size_t)s->nparts, 1);
    s->sp = ls_xcalloc((size_t)s->nparts, sizeof *s->sp);
    s->saved = ls_xcalloc((size_t)s->nparts, sizeof *s->saved);
    s->at = ls_xcalloc((size_t)s->nparts, sizeof *s->at);
    for (int p = 0; p < s->nparts; p++) s->saved[p] = -1;
    ls_checkpoint_signature(q, s->sig);
    s->flen = ls_xcalloc((size_t)s->nparts, sizeof *s->flen);
    ls_sink *sink = ls_query_declared(q)->sink;
    s->parts = ls_sink_is_parts(sink) ? sink : NULL;
}

void ls_shuffle_set_standbys(ls_shuffle *sh, int n)
{
    sh->nstandbys = n;
}

void ls_shuffle_set_cache(ls_shuffle *sh, const char *dir)
{
    free(sh->cache_dir);
    sh->cache_dir = dir ? ls_xstrdup(dir) : NULL;
}

size_t ls_shuffle_count(const ls_shuffle *sh)
{
    return sh->n;
}

/* ---- topics -------------------------------------------------------------- */

static rd_kafka_t *changelog_reader(ls_shuffle *sh, const char *what, const char *reset,
                                    ls_err *err);

static const struct rd_kafka_metadata_topic *find_topic(const struct rd_kafka_metadata *md,
                                                        const char *name)
{
    for (int i = 0; i < md->topic_cnt; i++)
        if (strcmp(md->topics[i].topic, name) == 0 && !md->topics[i].err) return &md->topics[i];
    return NULL;
}

static int read_metadata(ls_shuffle *sh, const struct rd_kafka_metadata **md, ls_err *err)
{
    rd_kafka_resp_err_t e = rd_kafka_metadata(sh->p->rk, 1, NULL, md, ADMIN_TIMEOUT_MS);
    if (e || !*md) {
        ls_seterr(err, "app %s: cannot read the cluster's metadata from %s: %s", sh->app,
                  sh->p->bootstrap, rd_kafka_err2str(e));
        return -1;
    }
    return 0;
}

/* An internal topic that exists must have the query's partition count: a
 * different one would send keys to other state partitions. */
static int check_parts(const ls_shuffle *sh, const stage *s, const char *topic, int have,
                       ls_err *err)
{
    if (have == s->nparts) return 0;
    ls_seterr(err, "app %s: topic %s has %d partitions, query %s has %d state partitions "
              "(its `partitions`, or --partitions): they must be equal. Run the job with "
              "partitions = %d, or give it a new app id (the topics of app %s are never "
              "re-created by luastream: delete them yourself to start over)",
              sh->app, topic, have, ls_query_declared(s->q)->name, s->nparts, have, sh->app);
    return -1;
}

static rd_kafka_NewTopic_t *new_topic(const char *name, int parts, int rf, int compact,
                                      ls_err *err)
{
    char errstr[256];
    rd_kafka_NewTopic_t *t = rd_kafka_NewTopic_new(name, parts, rf, errstr, sizeof errstr);
    if (!t) {
        ls_seterr(err, "topic %s: %s", name, errstr);
        return NULL;
    }
    char mir[4];
    snprintf(mir, sizeof mir, "%d", rf > 1 ? 2 : 1);
    char keep[32];
    snprintf(keep, sizeof keep, "%lld", DELETE_RETENTION_MS);
    if (rd_kafka_NewTopic_set_config(t, "cleanup.policy", compact ? "compact" : "delete") ||
        rd_kafka_NewTopic_set_config(t, "min.insync.replicas", mir) ||
        (compact && rd_kafka_NewTopic_set_config(t, "delete.retention.ms", keep))) {
        ls_seterr(err, "topic %s: cannot set its configuration", name);
        rd_kafka_NewTopic_destroy(t);
        return NULL;
    }
    return t;
}

static int create_topics(ls_shuffle *sh, rd_kafka_NewTopic_t **nt, size_t n, ls_err *err)
{
    rd_kafka_queue_t *q = rd_kafka_queue_new(sh->p->rk);
    rd_kafka_AdminOptions_t *o = rd_kafka_AdminOptions_new(sh->p->rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    char errstr[256];
    int rc = 0;
    if (rd_kafka_AdminOptions_set_operation_timeout(o, ADMIN_TIMEOUT_MS, errstr, sizeof errstr)) {
        ls_seterr(err, "app %s: create topics: %s", sh->app, errstr);
        rc = -1;
        goto out;
    }
    rd_kafka_CreateTopics(sh->p->rk, nt, n, o, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, ADMIN_TIMEOUT_MS + 5000);
    const rd_kafka_CreateTopics_result_t *res = ev ? rd_kafka_event_CreateTopics_result(ev) : NULL;
    if (!res) {
        ls_seterr(err, "app %s: creating the job's topics on %s: %s", sh->app, sh->p->bootstrap,
                  ev ? rd_kafka_event_error_string(ev) : "no answer in time");
        rc = -1;
    } else {
        size_t cnt;
        const rd_kafka_topic_result_t **tr = rd_kafka_CreateTopics_result_topics(res, &cnt);
        for (size_t i = 0; i < cnt && rc == 0; i++) {
            rd_kafka_resp_err_t e = rd_kafka_topic_result_error(tr[i]);
            if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
                ls_log("app %s: created topic %s", sh->app, rd_kafka_topic_result_name(tr[i]));
            } else if (e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) { /* another member was first */
                const char *why = rd_kafka_topic_result_error_string(tr[i]);
                ls_seterr(err, "app %s: cannot create topic %s: %s", sh->app,
                          rd_kafka_topic_result_name(tr[i]), why ? why : rd_kafka_err2str(e));
                rc = -1;
            }
        }
    }
    if (ev) rd_kafka_event_destroy(ev);
out:
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_queue_destroy(q);
    return rc;
}

/* Waits until every internal topic shows its partitions in the metadata
 * (a topic just created takes a moment to reach every broker). */
static int await_topics(ls_shuffle *sh, ls_err *err)
{
    for (int attempt = 0;; attempt++) {
        const struct rd_kafka_metadata *md;
        if (read_metadata(sh, &md, err)) return -1;
        int missing = 0;
        for (size_t i = 0; i < sh->n && !missing; i++) {
            const stage *s = &sh->st[i];
            const struct rd_kafka_metadata_topic *r = find_topic(md, s->repart);
            const struct rd_kafka_metadata_topic *c = find_topic(md, s->changelog);
            missing = !r || !c || r->partition_cnt != s->nparts || c->partition_cnt != s->nparts;
            for (int p = 0; !missing && p < s->nparts; p++) /* and every partition has a leader */
                missing = r->partitions[p].leader < 0 || c->partitions[p].leader < 0;
        }
        rd_kafka_metadata_destroy(md);
        if (!missing) return 0;
        if (attempt >= 100) {
            ls_seterr(err, "app %s: the job's topics were created but do not show in the "
                      "metadata of %s after 10 s", sh->app, sh->p->bootstrap);
            return -1;
        }
        struct timespec ts = { 0, 100 * 1000000L };
        nanosleep(&ts, NULL);
    }
}

int ls_shuffle_prepare(ls_shuffle *sh, ls_err *err)
{
    if (!sh->n) return 0;
    const ls_source_decl *sd = ls_source_declared(sh->src);
    if (sd->ntopics != 1) {
        ls_seterr(err, "app %s: an aggregation read by several members reads one topic (the "
                  "source has %zu): give each topic its own source and job", sh->app, sd->ntopics);
        return -1;
    }
    sh->input = ls_xstrdup(sd->topics[0]);
    const struct rd_kafka_metadata *md;
    if (read_metadata(sh, &md, err)) return -1;
    const struct rd_kafka_metadata_topic *in = find_topic(md, sh->input);
    sh->nin = in ? in->partition_cnt : 0;
    int rf = md->broker_cnt < 3 ? md->broker_cnt : 3;
    if (rf < 1) rf = 1;
    rd_kafka_NewTopic_t **nt = ls_xcalloc(2 * sh->n + 1, sizeof *nt);
    size_t nn = 0;
    int rc = 0;
    for (size_t i = 0; i < sh->n && rc == 0; i++) {
        stage *s = &sh->st[i];
        const char *names[2] = { s->repart, s->changelog };
        for (int k = 0; k < 2 && rc == 0; k++) {
            const struct rd_kafka_metadata_topic *t = find_topic(md, names[k]);
            if (t) {
                rc = check_parts(sh, s, names[k], t->partition_cnt, err);
            } else {
                nt[nn] = new_topic(names[k], s->nparts, rf, k == 1, err);
                rc = nt[nn] ? 0 : -1;
                if (nt[nn]) nn++;
            }
        }
    }
    rd_kafka_metadata_destroy(md);
    if (rc == 0 && nn) rc = create_topics(sh, nt, nn, err);
    for (size_t i = 0; i < nn; i++) rd_kafka_NewTopic_destroy(nt[i]);
    free(nt);
    if (rc == 0 && nn) rc = await_topics(sh, err);
    if (rc) return -1;
    for (size_t i = 0; i < sh->n; i++) {
        stage *s = &sh->st[i];
        ls_source_add_internal_topic(sh->src, s->repart);
    }
    sh->purge = ls_purge_new(sh->app, sh->p->rk, PURGE_INTERVAL_MS);
    if (sh->nstandbys > 0) {
        rd_kafka_t *rk = changelog_reader(sh, "standby", "error", err);
        if (!rk) return -1;
        sh->standby = ls_standby_new(sh->app, sh->nstandbys, rk);
        for (size_t i = 0; i < sh->n; i++)
            ls_standby_add(sh->standby, sh->st[i].changelog, sh->st[i].repart, sh->st[i].nparts);
    }
    return 0;
}

int ls_shuffle_topic(const ls_shuffle *sh, const char *topic)
{
    for (size_t i = 0; i < sh->n; i++)
        if (strcmp(sh->st[i].repart, topic) == 0) return (int)i;
    return -1;
}

/* ---- watermark stamps ------------------------------------------------------ */

static void stamp(spart *s, int32_t part, int64_t t)
{
    if (part < 0 || part > 1 << 20) return; /* not a partition number */
    if (part >= s->nstamps) {
        s->stamps = ls_xrealloc(s->stamps, ((size_t)part + 1) * sizeof *s->stamps);
        for (int k = s->nstamps; k <= part; k++) s->stamps[k] = LS_NO_TIME;
        s->nstamps = part + 1;
    }
    if (s->stamps[part] == LS_NO_TIME || t > s->stamps[part]) {
        s->stamps[part] = t;
        s->dirty = 1;
    }
}

/* The stamps as bytes: magic, count, then (partition, stamp) pairs. */
static void put_stamps(ls_buf *b, const int32_t *parts, const int64_t *ts, uint32_t n)
{
    ls_buf_append(b, MARKER_MAGIC, 4);
    ls_buf_append(b, &n, 4);
    for (uint32_t i = 0; i < n; i++) {
        ls_buf_append(b, &parts[i], 4);
        ls_buf_append(b, &ts[i], 8);
    }
}

static int take_stamps(spart *s, const unsigned char *p, size_t len)
{
    uint32_t n;
    if (len < 8 || memcmp(p, MARKER_MAGIC, 4) != 0) return -1;
    memcpy(&n, p + 4, 4);
    if ((len - 8) / 12 < n || len != 8 + (size_t)n * 12) return -1;
    for (uint32_t i = 0; i < n; i++) {
        int32_t part;
        int64_t t;
        memcpy(&part, p + 8 + i * 12, 4);
        memcpy(&t, p + 12 + i * 12, 8);
        stamp(s, part, t);
    }
    return 0;
}

/* A state partition's stamps as bytes (its changelog record "\0wm"). */
static void stamps_of(ls_buf *b, const spart *sp)
{
    int32_t *parts = ls_xcalloc((size_t)sp->nstamps + 1, sizeof *parts);
    int64_t *ts = ls_xcalloc((size_t)sp->nstamps + 1, sizeof *ts);
    uint32_t n = 0;
    for (int k = 0; k < sp->nstamps; k++)
        if (sp->stamps[k] != LS_NO_TIME) {
            parts[n] = k;
            ts[n++] = sp->stamps[k];
        }
    ls_buf_reset(b);
    put_stamps(b, parts, ts, n);
    free(parts);
    free(ts);
}

/* The job's event-time maximum: the least stamp, once every input
 * partition has one. */
static int64_t job_max(const spart *s, int nin)
{
    if (nin <= 0) return LS_NO_TIME;
    int64_t m = LS_NO_TIME;
    for (int k = 0; k < nin; k++) {
        if (k >= s->nstamps || s->stamps[k] == LS_NO_TIME) return LS_NO_TIME;
        if (m == LS_NO_TIME || s->stamps[k] < m) m = s->stamps[k];
    }
    return m;
}

/* The partition's watermark moves to what its stamps give (monotone). */
static void advance(spart *sp, int nin, int64_t delay)
{
    int64_t m = job_max(sp, nin), w;
    if (m != LS_NO_TIME && !__builtin_sub_overflow(m, delay, &w) && w > sp->global) sp->global = w;
}

/* A partition that leaves (or is rebuilt): no stamps, the epoch. */
static void reset(spart *sp)
{
    for (int k = 0; k < sp->nstamps; k++) sp->stamps[k] = LS_NO_TIME;
    sp->dirty = 0;
    sp->global = sp->batch = sp->late = 0;
}

/* ---- restoring state partitions -------------------------------------------- */

/* A consumer of changelogs outside the group (group id "<app>-<what>",
 * never joined nor committed), read_committed, end of partition reported;
 * reset: what to do at an offset out of range. NULL + err. */
static rd_kafka_t *changelog_reader(ls_shuffle *sh, const char *what, const char *reset,
                                    ls_err *err)
{
    const ls_source_decl *sd = ls_source_declared(sh->src);
    ls_props props = { 0 };
    for (size_t i = 0; i < sd->props.n; i++) ls_props_set(&props, sd->props.names[i], sd->props.values[i]);
    char gid[LS_APP_ID_MAX + 16];
    snprintf(gid, sizeof gid, "%s-%s", sh->app, what);
    ls_props_set(&props, "group.id", gid);
    ls_props_set(&props, "isolation.level", "read_committed");
    ls_props_set(&props, "enable.partition.eof", "true");
    ls_props_set(&props, "enable.auto.commit", "false");
    ls_props_set(&props, "auto.offset.reset", reset);
    rd_kafka_conf_t *conf = ls_kafka_conf(sd->bootstrap, &props, err);
    ls_props_free(&props);
    if (!conf) return NULL;
    char errstr[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        ls_seterr(err, "app %s: changelog reader: %s", sh->app, errstr);
        return NULL;
    }
    rd_kafka_resp_err_t e = rd_kafka_poll_set_consumer(rk);
    if (e) {
        ls_seterr(err, "app %s: changelog reader: %s", sh->app, rd_kafka_err2str(e));
        rd_kafka_destroy(rk);
        return NULL;
    }
    return rk;
}

static int make_restorer(ls_shuffle *sh, ls_err *err)
{
    sh->restorer = changelog_reader(sh, "restore", "earliest", err);
    return sh->restorer ? 0 : -1;
}

/* Prefixes err with the message's place. */
static void where(ls_err *err, const char *topic, const rd_kafka_message_t *m)
{
    char at[300];
    snprintf(at, sizeof at, "%s[%d] offset %lld", topic, (int)m->partition, (long long)m->offset);
    ls_err_prefix(err, at);
}

static stage *stage_of_changelog(ls_shuffle *sh, const char *topic)
{
    for (size_t i = 0; i < sh->n; i++)
        if (strcmp(sh->st[i].changelog, topic) == 0) return &sh->st[i];
    return NULL;
}

/* A part file's committed length (key FL_KEY + a directory's id): kept
 * when it is this member's directory's. */
static int take_file_length(ls_shuffle *sh, stage *s, int part, const char *key,
                            const void *val, size_t vlen, ls_err *err)
{
    int64_t len;
    if (!val || vlen != 12 || memcmp(val, FL_MAGIC, 4) != 0 ||
        (memcpy(&len, (const char *)val + 4, 8), len < 0)) {
        ls_seterr(err, "a file length of %zu bytes that does not parse", vlen);
        return -1;
    }
    if (!s->parts) return 0; /* the sink is no longer a file sink: nothing to cut */
    const char *id = key + sizeof FL_KEY;
    if (memcmp(id, ls_sink_parts_dir_id(s->parts), LS_PARTS_ID_LEN) == 0) {
        s->flen[part] = len;
    } else if (!s->other_dir) {
        s->other_dir = 1;
        ls_log("app %s: query %s's state partition %d was also written to a file sink directory "
               "other than %s (id %.*s): each directory holds exactly the rows its members "
               "committed, but a partition's latest rows are in the directory of its last owner; "
               "give every member one shared directory to read the job's output in one place",
               sh->app, ls_query_declared(s->q)->name, part, ls_sink_parts_folder(s->parts),
               LS_PARTS_ID_LEN, id);
    }
    return 0;
}

/* The changelog record of part p's committed file length (s->flen[p]) in
 * this member's directory. */
static void fl_record(const stage *s, int p, char key[FL_KEY_LEN], char val[12])
{
    memcpy(key, FL_KEY, sizeof FL_KEY);
    memcpy(key + sizeof FL_KEY, ls_sink_parts_dir_id(s->parts), LS_PARTS_ID_LEN);
    memcpy(val, FL_MAGIC, 4);
    memcpy(val + 4, &s->flen[p], 8);
}

/* One record of state partition part's changelog, or of a state loaded
 * from elsewhere in the same form (a snapshot, a standby's copy): val NULL
 * is a tombstone. -1 + err when it does not parse. */
static int apply_record(ls_shuffle *sh, stage *s, int part, const void *key, size_t klen,
                        const void *val, size_t vlen, ls_err *err)
{
    if (klen == sizeof WM_KEY && memcmp(key, WM_KEY, sizeof WM_KEY) == 0) {
        if (val && take_stamps(&s->sp[part], val, vlen) == 0) return 0;
        ls_seterr(err, "watermark stamps of %zu bytes do not parse", vlen);
        return -1;
    }
    if (klen == FL_KEY_LEN && memcmp(key, FL_KEY, sizeof FL_KEY) == 0)
        return take_file_length(sh, s, part, key, val, vlen, err);
    return ls_query_stage_restore(s->q, part, key ? key : "", klen, val, vlen, err);
}

static int apply(ls_shuffle *sh, const rd_kafka_message_t *m, ls_err *err)
{
    stage *s = stage_of_changelog(sh, rd_kafka_topic_name(m->rkt));
    if (!s || m->partition < 0 || m->partition >= s->nparts) return 0;
    sh->stats.restored_records++;
    int rc = apply_record(sh, s, m->partition, m->key, m->key_len, m->payload, m->len, err);
    if (rc) {
        where(err, s->changelog, m);
        char at[LS_APP_ID_MAX + 8];
        snprintf(at, sizeof at, "app %s", sh->app);
        ls_err_prefix(err, at);
    }
    return rc;
}

/* The earliest and end offsets of a changelog partition. A broker going
 * away (its partitions' leadership moving, a coordinator changing) is
 * transient: the question is asked again, in slices of WATERMARK_SLICE_MS,
 * until RESTORE_IDLE_MS have passed (the member's batch waits; the run goes
 * on); an error that no retry mends (no such partition) fails at once. */
static int changelog_ends(ls_shuffle *sh, const char *topic, int32_t part, int64_t *lo,
                          int64_t *hi, ls_err *err)
{
    double until = ls_mono_ms() + RESTORE_IDLE_MS;
    for (int attempt = 0;; attempt++) {
        rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(sh->restorer, topic, part, lo, hi,
                                                                 WATERMARK_SLICE_MS);
        if (!e) return 0;
        char fe[512];
        int fatal = rd_kafka_fatal_error(sh->restorer, fe, sizeof fe) != RD_KAFKA_RESP_ERR_NO_ERROR;
        int permanent = e == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION ||
                        e == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED ||
                        e == RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED;
        if (fatal || permanent || ls_mono_ms() >= until) {
            ls_seterr(err, "app %s: %s[%d]: cannot read the changelog's offsets: %s%s", sh->app,
                      topic, (int)part, fatal ? fe : rd_kafka_err2str(e),
                      fatal || permanent ? "" : " (retried for 60 s: is the cluster reachable?)");
            return -1;
        }
        if (attempt == 0)
            ls_log("app %s: %s[%d]: reading the changelog's offsets: %s (retrying until the "
                   "partition's leader answers)", sh->app, topic, (int)part, rd_kafka_err2str(e));
        struct timespec ts = { 0, 250 * 1000000L };
        nanosleep(&ts, NULL);
        ls_kafka_refresh_topic(sh->restorer, topic, WATERMARK_SLICE_MS); /* the leader moved? */
    }
}

/* The first and next offsets of a changelog partition, as a read_committed
 * reader sees them (changelog_ends: retried while a leader moves). */
static int changelog_bounds(ls_shuffle *sh, const char *topic, int part, int64_t *lo,
                            int64_t *hi, ls_err *err)
{
    if (!sh->restorer && make_restorer(sh, err)) return -1;
    *lo = *hi = 0;
    if (changelog_ends(sh, topic, part, lo, hi, err)) {
        return -1;
    }
    return 0;
}

/* Reads the changelog partitions in l, each from its offset to its end
 * (opaque: non-NULL when there is something to read); each offset is then
 * where its reading ended. */
static int read_changelogs(ls_shuffle *sh, rd_kafka_topic_partition_list_t *l, ls_err *err)
{
    int left = 0;
    for (int i = 0; i < l->cnt; i++) left += l->elems[i].opaque != NULL;
    if (!left) return 0;
    rd_kafka_resp_err_t e = rd_kafka_assign(sh->restorer, l);
    if (e) {
        ls_seterr(err, "app %s: changelog reader: assign: %s", sh->app, rd_kafka_err2str(e));
        return -1;
    }
    int rc = 0;
    double idle_since = ls_mono_ms();
    while (left > 0 && rc == 0) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(sh->restorer, 200);
        if (!m) {
            if (ls_mono_ms() - idle_since > RESTORE_IDLE_MS) {
                ls_seterr(err, "app %s: restoring state: nothing read from the changelogs for "
                          "%d s (%d partition%s not read to the end)", sh->app,
                          RESTORE_IDLE_MS / 1000, left, left == 1 ? "" : "s");
                rc = -1;
            }
            continue;
        }
        idle_since = ls_mono_ms();
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            for (int i = 0; i < l->cnt; i++)
                if (l->elems[i].opaque && l->elems[i].partition == m->partition &&
                    strcmp(l->elems[i].topic, rd_kafka_topic_name(m->rkt)) == 0) {
                    l->elems[i].opaque = NULL;
                    l->elems[i].offset = m->offset; /* read to here */
                    left--;
                }
        } else if (m->err) {
            /* librdkafka retries what a broker going away breaks (it says
             * so through the error callback); only a fatal error, or one
             * that no retry mends, ends the restore */
            char fe[512];
            int fatal = rd_kafka_fatal_error(sh->restorer, fe, sizeof fe) != RD_KAFKA_RESP_ERR_NO_ERROR;
            if (fatal || m->err == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION ||
                m->err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC ||
                m->err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED ||
                m->err == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE) {
                ls_seterr(err, "app %s: reading changelog %s: %s", sh->app,
                          m->rkt ? rd_kafka_topic_name(m->rkt) : "?",
                          fatal ? fe : rd_kafka_message_errstr(m));
                rc = -1;
            } else {
                ls_log("app %s: reading changelog %s: %s (retrying)", sh->app,
                       m->rkt ? rd_kafka_topic_name(m->rkt) : "?", rd_kafka_message_errstr(m));
            }
        } else {
            rc = apply(sh, m, err);
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_resp_err_t ue = rd_kafka_assign(sh->restorer, NULL);
    if (ue && rc == 0) {
        ls_seterr(err, "app %s: changelog reader: unassign: %s", sh->app, rd_kafka_err2str(ue));
        rc = -1;
    }
    return rc;
}

/* Where state partition p of s restores from: a state already at
 * changelog offset *from replayed into it (from the cache: 1), or nothing
 * (0: the whole changelog, lo to hi). Any doubt about the loaded state and
 * it is dropped: the restore then reads from lo, as without a cache. */
static int prime_from_cache(ls_shuffle *sh, stage *s, int p, int64_t lo, int64_t hi,
                            int64_t *from)
{
    if (!sh->cache_dir) return 0;
    const char *name = ls_query_declared(s->q)->name;
    ls_buf b;
    ls_buf_init(&b);
    ls_err why = { "" };
    int used = 0;
    int rc = ls_snap_load(sh->cache_dir, name, p, &b, &why);
    if (rc == 1) {
        ls_buf_free(&b);
        return 0;
    }
    if (rc == 0) {
        ls_snap_id id = { sh->app, name, s->sig, s->nparts, p };
        ls_snap_view v;
        rc = ls_snap_parse(b.data, b.len, &id, &v, &why);
        if (rc == 0 && (v.offset > hi || v.offset < lo)) {
            ls_seterr(&why, "it stands for changelog offset %lld, and %s[%d] now holds offsets "
                      "%lld to %lld (the topic was truncated or re-created)", (long long)v.offset,
                      s->changelog, p, (long long)lo, (long long)hi);
            rc = -1;
        } else if (rc == 0 && ls_now_ms() - v.saved_ms > CACHE_MAX_AGE_MS) {
            ls_seterr(&why, "it is %lld h old, and the changelog keeps tombstones for %lld h only",
                      (long long)((ls_now_ms() - v.saved_ms) / 3600000),
                      DELETE_RETENTION_MS / 3600000);
            rc = -1;
        }
        if (rc == 0) {
            const void *k, *x;
            size_t kl, xl;
            while (rc == 0 && ls_snap_next(&v, &k, &kl, &x, &xl))
                rc = apply_record(sh, s, p, k, kl, x, xl, &why);
            if (rc) { /* nothing of it stays */
                ls_query_stage_drop(s->q, p);
                reset(&s->sp[p]);
            } else {
                *from = v.offset;
                used = 1;
            }
        }
    }
    if (rc) {
        ls_buf path;
        ls_buf_init(&path);
        ls_snap_path(&path, sh->cache_dir, name, p);
        ls_log("warning: app %s: state cache %s not used: %s; state partition %d of query %s "
               "is restored from its whole changelog", sh->app, path.data, why.msg, p, name);
        ls_buf_free(&path);
    }
    ls_buf_free(&b);
    return used;
}

typedef struct replay_ctx {
    ls_shuffle *sh;
    stage *s;
    int part;
} replay_ctx;

static int replay(void *ctx, const void *key, size_t klen, const void *val, size_t vlen,
                  ls_err *err)
{
    replay_ctx *r = ctx;
    return apply_record(r->sh, r->s, r->part, key, klen, val, vlen, err);
}

/* From this member's standby copy of the partition, if it holds one (1):
 * *from is the offset the restore goes on from. */
static int prime_from_standby(ls_shuffle *sh, stage *s, int p, int64_t lo, int64_t hi,
                              int64_t *from)
{
    if (!sh->standby) return 0;
    replay_ctx r = { sh, s, p };
    ls_err why = { "" };
    int rc = ls_standby_take(sh->standby, (int)(s - sh->st), p, lo, hi, replay, &r, from, &why);
    if (rc == 1) return 1;
    if (rc < 0) {
        ls_query_stage_drop(s->q, p);
        reset(&s->sp[p]);
        ls_log("warning: app %s: the standby copy of %s[%d] does not parse (%s): restored from "
               "the whole changelog", sh->app, s->changelog, p, why.msg);
    }
    return 0;
}

/* Restores the state partitions in l (the changelog of each): each
 * starts from what this member's standby copy or its cache holds of it,
 * then reads its changelog from there to its end. */
static int restore(ls_shuffle *sh, rd_kafka_topic_partition_list_t *l, int *cached,
                   int *standby, ls_err *err)
{
    *cached = *standby = 0;
    for (int i = 0; i < l->cnt; i++) {
        rd_kafka_topic_partition_t *tp = &l->elems[i];
        stage *s = stage_of_changelog(sh, tp->topic);
        int64_t lo, hi;
        if (changelog_bounds(sh, tp->topic, tp->partition, &lo, &hi, err)) return -1;
        int64_t from = lo;
        if (prime_from_standby(sh, s, tp->partition, lo, hi, &from))
            (*standby)++;
        else if (prime_from_cache(sh, s, tp->partition, lo, hi, &from))
            (*cached)++;
        else
            from = lo;
        tp->offset = from;
        tp->opaque = (void *)(intptr_t)(hi > from); /* something to read */
    }
    if (read_changelogs(sh, l, err)) return -1;
    for (int i = 0; i < l->cnt; i++) { /* what each state partition stands for */
        stage *s = stage_of_changelog(sh, l->elems[i].topic);
        s->at[l->elems[i].partition] = l->elems[i].offset;
    }
    return 0;
}

/* ls_standby_owned_fn: a partition owned or coming to this member. */
static int owned_now(void *ctx, int ti, int part)
{
    const stage *s = &((ls_shuffle *)ctx)->st[ti];
    return part >= 0 && part < s->nparts && (s->owned[part] || s->now[part]);
}

static void tick_standby(ls_shuffle *sh)
{
    char *me = ls_source_member_id(sh->src);
    ls_standby_tick(sh->standby, me, ls_source_rebalance_count(sh->src), owned_now, sh);
    free(me);
}

void ls_shuffle_idle(ls_shuffle *sh)
{
    if (sh->standby) tick_standby(sh);
}

int ls_shuffle_sync(ls_shuffle *sh, ls_err *err)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(8);
    ls_buf names;
    ls_buf_init(&names);
    int owned = 0;
    for (size_t i = 0; i < sh->n; i++) {
        stage *s = &sh->st[i];
        memset(s->now, 0, (size_t)s->nparts);
        int n_new = 0;
        for (size_t k = 0; k < ls_source_nparts(sh->src); k++) {
            const ls_source_part *sp = ls_source_part_at(sh->src, k);
            if (!sp->revoked && sp->partition >= 0 && sp->partition < s->nparts &&
                strcmp(sp->topic, s->repart) == 0)
                s->now[sp->partition] = 1;
        }
        for (int p = 0; p < s->nparts; p++) {
            if (s->owned[p] && !s->now[p]) {
                ls_query_stage_drop(s->q, p);
                if (s->parts) ls_sink_parts_drop(s->parts, p);
                reset(&s->sp[p]);
                s->owned[p] = 0;
                s->saved[p] = -1;
            } else if (!s->owned[p] && s->now[p]) {
                rd_kafka_topic_partition_list_add(l, s->changelog, p);
                s->flen[p] = 0; /* no length committed: no row of this directory's file is */
                s->saved[p] = -1;
                n_new++;
            }
            owned += s->now[p];
        }
        if (n_new) ls_buf_printf(&names, "%s%s: %d", names.len ? ", " : "", ls_query_declared(s->q)->name, n_new);
    }
    sh->stats.owned = owned;
    if (sh->standby) tick_standby(sh); /* before restoring: the copies as fresh as can be */
    /* an input partition that left: if it comes back, it resumes from the
     * committed offset, which may be behind what this member read of it */
    for (size_t i = 0; i < sh->n; i++) {
        stage *s = &sh->st[i];
        for (int k = 0; k < s->npmax; k++) {
            const ls_source_part *sp = sh->input ? ls_source_find(sh->src, sh->input, k) : NULL;
            if (!sp || sp->revoked) s->pmax[k] = LS_NO_TIME;
        }
    }
    int rc = 0;
    if (l->cnt) {
        double t0 = ls_mono_ms();
        int64_t before = sh->stats.restored_records;
        int cached = 0, standby = 0;
        rc = restore(sh, l, &cached, &standby, err);
        if (rc == 0) {
            for (size_t i = 0; i < sh->n && rc == 0; i++) {
                stage *s = &sh->st[i];
                for (int p = 0; p < s->nparts && rc == 0; p++)
                    if (!s->owned[p] && s->now[p]) {
                        /* the part file as the last committed batch left it */
                        if (s->parts && ls_sink_parts_own(s->parts, p, s->flen[p], err) < 0) {
                            char at[LS_APP_ID_MAX + 8];
                            snprintf(at, sizeof at, "app %s", sh->app);
                            ls_err_prefix(err, at);
                            rc = -1;
                            break;
                        }
                        ls_query_stage_restored(s->q, p);
                        s->owned[p] = 1;
                    }
                int64_t delay = ls_query_declared(s->q)->watermark_ms;
                for (int p = 0; p < s->nparts; p++)
                    if (s->owned[p]) advance(&s->sp[p], sh->nin, delay);
            }
        }
        if (rc == 0) { /* every restored partition owned, its part file cut back */
            double ms = ls_mono_ms() - t0;
            sh->stats.restores += l->cnt;
            sh->stats.restored_from_cache += cached;
            sh->stats.restored_from_standby += standby;
            sh->stats.restore_ms += ms;
            char from[96] = "";
            if (cached || standby)
                snprintf(from, sizeof from, "%s%.0d%s%s%.0d%s", cached ? ", " : "", cached,
                         cached ? " from the state cache" : "", standby ? ", " : "", standby,
                         standby ? " from standby copies" : "");
            ls_log("app %s: restored %d state partition%s from %lld changelog records in %.0f ms (%s%s)",
                   sh->app, l->cnt, l->cnt == 1 ? "" : "s",
                   (long long)(sh->stats.restored_records - before), ms,
                   names.data ? names.data : "", from);
        }
    }
    ls_buf_free(&names);
    rd_kafka_topic_partition_list_destroy(l);
    /* the batch begins: each partition's watermark, and the query's, the
     * least of its partitions' (eviction and append-mode output then never
     * run ahead of any partition) */
    for (size_t i = 0; rc == 0 && i < sh->n; i++) {
        stage *s = &sh->st[i];
        int64_t least = INT64_MAX;
        for (int p = 0; p < s->nparts; p++) {
            if (!s->owned[p]) continue;
            s->sp[p].late = s->sp[p].batch;
            s->sp[p].batch = s->sp[p].global;
            if (s->sp[p].batch < least) least = s->sp[p].batch;
        }
        if (least != INT64_MAX && ls_query_declared(s->q)->has_watermark)
            ls_query_restore_watermark(s->q, least, least);
    }
    return rc;
}

/* ---- a batch ----------------------------------------------------------------- */

int ls_shuffle_take(ls_shuffle *sh, int qi, const ls_record *r, ls_err *err)
{
    stage *s = &sh->st[qi];
    const rd_kafka_message_t *m = r->msg;
    if (!m) return 0;
    int inside = m->partition >= 0 && m->partition < s->nparts;
    if (!m->key) { /* a marker: watermark stamps */
        if (inside && m->payload && take_stamps(&s->sp[m->partition], m->payload, m->len) == 0)
            return 0;
        ls_seterr(err, "app %s: %s[%d] offset %lld: a message without a key that is not a "
                  "watermark marker (is something else writing to this job's topic?)",
                  sh->app, s->repart, (int)m->partition, (long long)m->offset);
        return -1;
    }
    if (!inside || !s->owned[m->partition]) return 0;
    const ls_query_decl *d = ls_query_declared(s->q);
    if (sh->debug && d->late_filter && m->len >= 9) {
        int64_t wend;
        memcpy(&wend, (const char *)m->payload + 1, 8);
        if (wend <= s->sp[m->partition].late)
            ls_log("debug: late %s[%d]@%lld wend %lld late %lld", s->repart, (int)m->partition,
                   (long long)m->offset, (long long)wend, (long long)s->sp[m->partition].late);
    }
    int rc = ls_query_stage_merge(s->q, m->partition, m->key, m->key_len, m->payload, m->len,
                                  d->late_filter ? s->sp[m->partition].late : LS_NO_TIME, err);
    if (rc) where(err, s->repart, m);
    return rc;
}

typedef struct out_ctx {
    ls_shuffle *sh;
    const char *topic;
    int64_t *at;             /* a changelog: its partitions' offsets noted (stage.at) */
} out_ctx;

static int send_out(void *ctx, int part, const char *key, size_t klen, const char *val,
                    size_t vlen, ls_err *err)
{
    out_ctx *o = ctx;
    return ls_kafka_produce_noting(o->sh->p, o->topic, part, key, klen, val, vlen,
                                   o->at ? &o->at[part] : NULL, err);
}

/* Stamps every input partition this member owns with the greatest event
 * time it read from it, to every repartition partition. A partition read
 * to its end (idle) is stamped with at least the member's greatest event
 * time, so that an idle partition does not hold the job's watermark back
 * (Flink's idleness). Markers go only when the stamps changed: a marker is
 * a record of the repartition topic, and one every batch would make every
 * batch run another. */
static int send_markers(ls_shuffle *sh, stage *s, ls_err *err)
{
    size_t n = 0, np = ls_source_nparts(sh->src);
    int32_t *parts = ls_xcalloc(np + 1, sizeof *parts);
    int64_t *ts = ls_xcalloc(np + 1, sizeof *ts);
    int64_t member = LS_NO_TIME;
    for (int k = 0; k < s->npmax; k++)
        if (s->pmax[k] != LS_NO_TIME && (member == LS_NO_TIME || s->pmax[k] > member)) member = s->pmax[k];
    uint64_t digest = 1469598103934665603ULL;
    for (size_t k = 0; k < np; k++) {
        const ls_source_part *sp = ls_source_part_at(sh->src, k);
        if (sp->revoked || strcmp(sp->topic, sh->input) != 0) continue;
        int32_t p = sp->partition;
        int64_t t = p >= 0 && p < s->npmax ? s->pmax[p] : LS_NO_TIME;
        if (sp->latest_known && sp->next >= sp->latest && member != LS_NO_TIME &&
            (t == LS_NO_TIME || member > t))
            t = member; /* idle */
        if (t == LS_NO_TIME) continue;
        parts[n] = p;
        ts[n++] = t;
        digest = (digest ^ (uint64_t)(uint32_t)p) * 1099511628211ULL;
        digest = (digest ^ (uint64_t)t) * 1099511628211ULL;
    }
    int rc = 0;
    if (n && digest != s->sent) {
        s->sent = digest;
        if (sh->debug)
            for (size_t i = 0; i < n; i++)
                ls_log("debug: marker %s[%d] = %lld (pmax %lld)", sh->input, parts[i], (long long)ts[i],
                       parts[i] < s->npmax ? (long long)s->pmax[parts[i]] : -1LL);
        ls_buf_reset(&sh->buf);
        put_stamps(&sh->buf, parts, ts, (uint32_t)n);
        for (int p = 0; p < s->nparts && rc == 0; p++)
            rc = ls_kafka_produce(sh->p, s->repart, p, NULL, 0, sh->buf.data, sh->buf.len, err);
    }
    free(parts);
    free(ts);
    return rc;
}

/* Folds the batch's greatest event time per partition into the member's. */
static void note_read(stage *s)
{
    const int64_t *m;
    int n = ls_query_stage_part_max(s->q, &m);
    if (n > s->npmax) {
        s->pmax = ls_xrealloc(s->pmax, (size_t)n * sizeof *s->pmax);
        for (int k = s->npmax; k < n; k++) s->pmax[k] = LS_NO_TIME;
        s->npmax = n;
    }
    for (int k = 0; k < n; k++)
        if (m[k] != LS_NO_TIME && (s->pmax[k] == LS_NO_TIME || m[k] > s->pmax[k])) s->pmax[k] = m[k];
}

static int in_batch(const stage *s, int64_t batch)
{
    return ls_query_batch_id(s->q) == batch;
}

int ls_shuffle_end_stage1(ls_shuffle *sh, int64_t batch, ls_err *err)
{
    for (size_t i = 0; i < sh->n; i++) {
        stage *s = &sh->st[i];
        if (!in_batch(s, batch)) continue;
        note_read(s);
        out_ctx o = { sh, s->repart, NULL };
        if (ls_query_stage_send(s->q, send_out, &o, err)) return -1;
        if (ls_query_declared(s->q)->has_watermark && send_markers(sh, s, err)) return -1;
        for (int p = 0; p < s->nparts; p++)
            if (s->owned[p]) advance(&s->sp[p], sh->nin, ls_query_declared(s->q)->watermark_ms);
        ls_query_stage_event_max(s->q);
        out_ctx c = { sh, s->changelog, s->at };
        if (ls_query_stage_evictions(s->q, send_out, &c, err)) return -1;
    }
    return 0;
}

int ls_shuffle_end_stage2(ls_shuffle *sh, int64_t batch, ls_err *err)
{
    for (size_t i = 0; i < sh->n; i++) {
        stage *s = &sh->st[i];
        if (!in_batch(s, batch)) continue;
        out_ctx c = { sh, s->changelog, s->at };
        if (ls_query_stage_updates(s->q, send_out, &c, err)) return -1;
        for (int p = 0; p < s->nparts; p++) {
            spart *sp = &s->sp[p];
            if (!s->owned[p] || !sp->dirty) continue;
            stamps_of(&sh->buf, sp);
            if (ls_kafka_produce_noting(sh->p, s->changelog, p, WM_KEY, sizeof WM_KEY,
                                        sh->buf.data, sh->buf.len, &s->at[p], err))
                return -1;
            sp->dirty = 0;
        }
        /* the part files' lengths after the batch's rows (written and
         * synced by now): committed with the batch, or not at all */
        int64_t len;
        for (int p = 0; s->parts && p < s->nparts; p++) {
            if (!s->owned[p] || !ls_sink_parts_written(s->parts, p, &len)) continue;
            s->flen[p] = len;
            char key[FL_KEY_LEN], val[12];
            fl_record(s, p, key, val);
            if (ls_kafka_produce_noting(sh->p, s->changelog, p, key, sizeof key, val, sizeof val,
                                        &s->at[p], err))
                return -1;
        }
    }
    return 0;
}

void ls_shuffle_rollback(ls_shuffle *sh)
{
    for (size_t i = 0; i < sh->n; i++) {
        stage *s = &sh->st[i];
        ls_query_stage_discard(s->q); /* a batch aborted before its end folded some */
        for (int p = 0; p < s->nparts; p++)
            if (s->owned[p]) {
                ls_query_stage_drop(s->q, p);
                if (s->parts) ls_sink_parts_drop(s->parts, p); /* cut back when owned again */
                s->owned[p] = 0;
            }
        for (int p = 0; p < s->nparts; p++) reset(&s->sp[p]);
        s->sent = 0;
        /* what the aborted batch read is read again: a stamp must never pass
         * a record whose partial group has not been sent */
        for (int k = 0; k < s->npmax; k++) s->pmax[k] = LS_NO_TIME; /* the aborted batch's markers are gone */
    }
}

void ls_shuffle_committed(ls_shuffle *sh)
{
    if (!sh->purge) return;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(16);
    for (size_t k = 0; k < ls_source_nparts(sh->src); k++) {
        const ls_source_part *sp = ls_source_part_at(sh->src, k);
        if (!sp->revoked && sp->next >= 0 && ls_shuffle_topic(sh, sp->topic) >= 0)
            rd_kafka_topic_partition_list_add(l, sp->topic, sp->partition)->offset = sp->next;
    }
    ls_purge_committed(sh->purge, l);
    rd_kafka_topic_partition_list_destroy(l);
}

void ls_shuffle_stats_get(const ls_shuffle *sh, ls_shuffle_stats *st)
{
    *st = sh->stats;
    st->purges = sh->purge ? ls_purge_done(sh->purge) : 0;
    if (sh->standby) ls_standby_stats(sh->standby, &st->standby, &st->standby_lag);
}


/* ---- the state cache ------------------------------------------------------- */

static int snap_out(void *ctx, int part, const char *key, size_t klen, const char *val,
                    size_t vlen, ls_err *err)
{
    (void)part;
    (void)err;
    ls_snap_add(ctx, key, klen, val, vlen);
    return 0;
}

/* Saves state partition p of s, which stands for changelog offset `at`. */
static int save_part(ls_shuffle *sh, stage *s, int p, int64_t at, ls_buf *b, ls_err *err)
{
    const char *name = ls_query_declared(s->q)->name;
    ls_snap_id id = { sh->app, name, s->sig, s->nparts, p };
    ls_snap_writer w;
    ls_snap_begin(&w, b, &id, at, ls_now_ms());
    if (ls_query_stage_snapshot(s->q, p, snap_out, &w, err)) return -1;
    int any = 0;
    for (int k = 0; k < s->sp[p].nstamps; k++) any |= s->sp[p].stamps[k] != LS_NO_TIME;
    if (any) {
        ls_buf st;
        ls_buf_init(&st);
        stamps_of(&st, &s->sp[p]);
        ls_snap_add(&w, WM_KEY, sizeof WM_KEY, st.data, st.len);
        ls_buf_free(&st);
    }
    if (s->parts) { /* the part file's committed length: a restore from here cuts back to it */
        char key[FL_KEY_LEN], val[12];
        fl_record(s, p, key, val);
        ls_snap_add(&w, key, sizeof key, val, sizeof val);
    }
    ls_snap_finish(&w);
    return ls_snap_save(sh->cache_dir, name, p, b, err);
}

void ls_shuffle_save_cache(ls_shuffle *sh, int force)
{
    if (!sh->cache_dir || !sh->n) return;
    double now = ls_mono_ms();
    if (!force && sh->cache_at && now - sh->cache_at < sh->cache_wait) return;
    sh->cache_at = now;
    ls_buf b;
    ls_buf_init(&b);
    ls_err err = { "" };
    int rc = 0;
    for (size_t i = 0; i < sh->n && rc == 0; i++) {
        stage *s = &sh->st[i];
        for (int p = 0; p < s->nparts && rc == 0; p++) {
            if (!s->owned[p]) continue;
            /* where its restore ended, or just after the last record this
             * member wrote there: never past its state, whoever writes next */
            int64_t at = s->at[p];
            if (at == s->saved[p]) continue; /* unchanged since */
            rc = save_part(sh, s, p, at, &b, &err);
            if (rc == 0) {
                s->saved[p] = at;
                sh->stats.cache_saves++;
            }
        }
    }
    ls_buf_free(&b);
    /* a large state is not written more than a tenth of the time */
    double took = ls_mono_ms() - now;
    sh->cache_wait = took * 10 > CACHE_INTERVAL_MS ? took * 10 : CACHE_INTERVAL_MS;
    if (rc && !sh->cache_warned) { /* the job goes on: a cache only saves time */
        ls_log("warning: app %s: state cache in %s not saved (logged once): %s", sh->app,
               sh->cache_dir, err.msg);
        sh->cache_warned = 1;
    }
}
