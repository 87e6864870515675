/* ls_produce.c - `luastream produce`: replay a JSON file into a topic.
 *
 * Streams records out of a JSON array or NDJSON file (ls_json_split),
 * validates each with the engine's scanner, optionally takes the message
 * key from a top-level field, rate-limits, and logs progress once a second.
 * Every delivery failure is counted and reported; a malformed file stops
 * after sending everything before the error, with the error's exact line
 * and column; a file without records is an error. SIGINT/SIGTERM stop the
 * sending at once: the deliveries in flight get a bounded wait, the summary
 * is printed, and the exit code is 128 + the signal (130, 143). */
#include "ls_produce.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include "ls_json_scan.h"
#include "ls_json_split.h"
#include "ls_kafka.h"

typedef struct produce_run {
    const ls_produce_opts *o;
    ls_kafka_producer *p;
    int64_t records;    /* handed to librdkafka */
    int64_t keyless;    /* --key: records whose key field was null or missing */
    double start, last_report;
} produce_run;

static int stopped(const ls_produce_opts *o) { return o->stop && *o->stop; }

static void sleep_ms(double ms)
{
    if (ms <= 0) return;
    struct timespec ts = { (time_t)(ms / 1000), (long)((ms - (double)(time_t)(ms / 1000) * 1000) * 1e6) };
    nanosleep(&ts, NULL); /* a signal cuts it short: the loop then sees stop */
}

static void report(const produce_run *r, const char *final)
{
    double secs = (ls_mono_ms() - r->start) / 1000.0;
    char keyless[160] = "";
    if (r->keyless)
        snprintf(keyless, sizeof keyless, ", %lld without a key (field %.80s null or missing)",
                 (long long)r->keyless, r->o->key_field);
    fprintf(stderr,
            "luastream produce: %s%lld records sent, %lld delivered, %lld errors%s, %.1f s, "
            "%.0f records/s\n",
            final, (long long)r->records, (long long)r->p->delivered, (long long)r->p->failed,
            keyless, secs, secs > 0 ? (double)r->records / secs : 0.0);
}

static void pace(const produce_run *r)
{
    if (r->o->rate <= 0) return;
    double due = r->start + (double)r->records * 1000.0 / r->o->rate;
    double now = ls_mono_ms();
    if (due > now) sleep_ms(due - now);
}

static void progress(produce_run *r)
{
    double now = ls_mono_ms();
    if (!r->o->quiet && now - r->last_report >= 1000.0) {
        report(r, "");
        r->last_report = now;
    }
}

/* The message key of a record (view of the --key field): strings as they
 * are, numbers and booleans as their JSON text; null or missing: no key
 * (*has = 0); an object or array: -1 + err. */
static int key_of(const ls_recview *view, const char *field, ls_buf *key, int *has, ls_err *err)
{
    ls_buf_reset(key);
    const ls_value *v = &view->vals[0];
    if (view->nested[0]) {
        ls_seterr(err, "key field \"%.200s\" holds an object or an array; a message key must be "
                  "a string, number or boolean", field);
        return -1;
    }
    *has = v->type != LS_NULL;
    if (*has) ls_value_text(key, v);
    return 0;
}

/* Where in the file the scanner's complaint about the record points:
 * "invalid JSON at byte K: what" is byte K of the record as written. */
static void record_error(const ls_splitter *sp, const char *scan_err, char *out, size_t n)
{
    size_t k = 0;
    int at = -1;
    uint64_t off, line, col;
    if (sscanf(scan_err, "invalid JSON at byte %zu: %n", &k, &at) == 1 && at > 0) {
        ls_splitter_locate(sp, k, &off, &line, &col);
        snprintf(out, n, "at line %llu, column %llu (byte %llu): %s", (unsigned long long)line,
                 (unsigned long long)col, (unsigned long long)off, scan_err + at);
    } else {
        ls_splitter_locate(sp, 0, &off, &line, &col);
        snprintf(out, n, "at line %llu, column %llu (byte %llu): %s", (unsigned long long)line,
                 (unsigned long long)col, (unsigned long long)off, scan_err);
    }
}

/* Hands one record to librdkafka, paced, with progress. Returns 1 when the
 * replay must stop: a failed send (*rc = 1, unless a signal stopped it) or
 * --max records sent. */
static int send_record(produce_run *r, const char *key, size_t klen, const char *val, size_t n, int *rc)
{
    const ls_produce_opts *o = r->o;
    ls_err err;
    if (ls_kafka_produce(r->p, o->topic, o->partition, key, klen, val, n, &err)) {
        if (!stopped(o)) {
            ls_log("produce: %s", err.msg);
            *rc = 1;
        }
        return 1;
    }
    r->records++;
    pace(r);
    if (o->max > 0 && r->records >= o->max) return 1;
    progress(r);
    return 0;
}

/* --raw: every line is one message, byte for byte, empty lines included
 * (no JSON check): for replaying captures and for testing bad input. */
static int produce_lines(produce_run *r, FILE *f)
{
    const ls_produce_opts *o = r->o;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int rc = 0;
    for (;;) {
        if (stopped(o)) break;
        errno = 0;
        n = getline(&line, &cap, f);
        if (n < 0) {
            if (ferror(f) && !stopped(o)) {
                ls_log("produce: %s: read error after %lld lines: %s", o->file,
                       (long long)r->records, strerror(errno ? errno : EIO));
                rc = 1;
            }
            break;
        }
        if (n > 0 && line[n - 1] == '\n') n--;
        if (send_record(r, NULL, 0, line, (size_t)n, &rc)) break;
    }
    free(line);
    return rc;
}

/* JSON records, split out of the file and checked one by one. */
static int produce_records(produce_run *r, FILE *f)
{
    const ls_produce_opts *o = r->o;
    ls_err err;
    ls_splitter sp;
    ls_splitter_init(&sp, f);
    ls_buf key;
    ls_buf_init(&key);
    ls_fieldset *kf = NULL;
    if (o->key_field) {
        kf = ls_fieldset_new();
        ls_fieldset_add(kf, o->key_field);
    }
    ls_recview view;
    ls_recview_init(&view, kf ? 1 : 0);
    int rc = 0;
    for (;;) {
        if (stopped(o)) break;
        int s = ls_splitter_next(&sp, &err);
        if (s == 0 || (s < 0 && stopped(o))) break; /* a read cut short by the signal is no error */
        if (s < 0) {
            ls_log("produce: %s: malformed JSON: %s; %lld records before it were sent", o->file,
                   err.msg, (long long)r->records);
            rc = 1;
            break;
        }
        ls_err rerr;
        char where[LS_ERRLEN];
        if (ls_json_scan(sp.raw.data, sp.raw.len, kf, &view, &rerr) &&
            strcmp(rerr.msg, "not a JSON object") != 0) {
            /* Records that are valid JSON but not objects are sent too: the
             * producer is not the place to judge them. */
            record_error(&sp, rerr.msg, where, sizeof where);
            ls_log("produce: %s: malformed record %lld %s; %lld records before it were sent",
                   o->file, (long long)r->records + 1, where, (long long)r->records);
            rc = 1;
            break;
        }
        int has_key = 0;
        if (kf && key_of(&view, o->key_field, &key, &has_key, &rerr)) {
            record_error(&sp, rerr.msg, where, sizeof where);
            ls_log("produce: %s: record %lld %s; %lld records before it were sent", o->file,
                   (long long)r->records + 1, where, (long long)r->records);
            rc = 1;
            break;
        }
        if (kf && !has_key) {
            if (r->keyless++ == 0) {
                uint64_t off, line, col;
                ls_splitter_locate(&sp, 0, &off, &line, &col);
                ls_log("produce: %s: record %lld (line %llu, column %llu): key field \"%s\" is "
                       "null or missing: sent without a key (further ones are counted in the "
                       "summary)", o->file, (long long)r->records + 1, (unsigned long long)line,
                       (unsigned long long)col, o->key_field);
            }
        }
        if (send_record(r, has_key ? key.data : NULL, has_key ? key.len : 0, sp.rec.data, sp.rec.len, &rc))
            break;
    }
    ls_buf_free(&key);
    ls_recview_free(&view);
    ls_fieldset_free(kf);
    ls_splitter_free(&sp);
    return rc;
}

static FILE *open_input(const char *file)
{
    if (strcmp(file, "-") == 0) return stdin;
    FILE *f = fopen(file, "rb");
    if (!f) {
        ls_log("produce: cannot open %s: %s", file, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        ls_log("produce: cannot read %s: it is a directory", file);
        fclose(f);
        return NULL;
    }
    return f;
}

int ls_produce(const ls_produce_opts *o)
{
    ls_err err;
    if (ls_kafka_check_topic(o->topic, &err)) {
        ls_log("produce: --topic %s", err.msg);
        return 2;
    }
    FILE *f = open_input(o->file);
    if (!f) return 2;
    produce_run r = { 0 };
    r.o = o;
    /* Idempotent unless --kafka says otherwise: a retried request then cannot
     * land after later ones, so each partition keeps the file's order (a
     * replayed event-time file stays in order: without it, a retry at a
     * broker's start put records of one day after the next day's, which a
     * watermark then drops as late). */
    ls_props props = { 0 };
    for (size_t i = 0; o->props && i < o->props->n; i++)
        ls_props_set(&props, o->props->names[i], o->props->values[i]);
    if (!ls_props_get(&props, "enable.idempotence")) ls_props_set(&props, "enable.idempotence", "true");
    r.p = ls_kafka_producer_new(o->bootstrap, &props, o->connect_timeout_ms, &err);
    ls_props_free(&props);
    if (!r.p) {
        ls_log("produce: %s", err.msg);
        if (f != stdin) fclose(f);
        return stopped(o) ? 128 + (int)*o->stop : 2;
    }
    r.p->stop = o->stop;
    r.start = r.last_report = ls_mono_ms();
    int rc = o->raw ? produce_lines(&r, f) : produce_records(&r, f);
    if (f != stdin) fclose(f);

    int sig = stopped(o) ? (int)*o->stop : 0;
    if (sig) {
        /* Stop sending at once; what is in flight gets a bounded wait. */
        int wait = o->stop_flush_timeout_ms > 0 ? o->stop_flush_timeout_ms : 10000;
        if (ls_kafka_flush(r.p, wait, &err)) ls_log("produce: %s", err.msg);
        report(&r, sig == SIGINT ? "stopped by SIGINT: " : "stopped by SIGTERM: ");
        ls_kafka_producer_free(r.p, 0);
        return 128 + sig;
    }
    if (rc == 0 && r.records == 0) {
        ls_log("produce: %s has no records (%s): nothing was sent", o->file,
               o->raw ? "no lines" : "empty, or an empty array");
        ls_kafka_producer_free(r.p, 0);
        return 1;
    }
    if (ls_kafka_flush(r.p, o->flush_timeout_ms, &err)) {
        ls_log("produce: %s", err.msg);
        rc = 1;
    }
    report(&r, "done: ");
    if (r.p->failed && rc == 0) rc = 1;
    ls_kafka_producer_free(r.p, 0);
    return rc;
}
