/* ls_produce.c - `luastream produce`: replay a JSON file into a topic.
 *
 * Streams records out of a JSON array or NDJSON file (ls_json_split),
 * validates each with yajl, optionally takes the message key from a
 * top-level field, rate-limits, and logs progress once a second.  Every
 * delivery failure is counted and reported; a malformed file stops after
 * sending everything before the error, with the error's position. */
#include "ls_produce.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "ls_json_scan.h"
#include "ls_json_split.h"
#include "ls_kafka.h"

static void sleep_ms(double ms)
{
    if (ms <= 0) return;
    struct timespec ts = { (time_t)(ms / 1000), (long)((ms - (double)(time_t)(ms / 1000) * 1000) * 1e6) };
    nanosleep(&ts, NULL);
}

/* Validates rec with the engine's own scanner (the same rules the
 * consumer side applies); with key_field, takes that top-level field's
 * text as the message key. Records that are valid JSON but not objects are
 * sent too: the producer is not the place to judge them. */
static int check_record(const ls_buf *rec, const ls_fieldset *key_field, ls_recview *view,
                        ls_buf *key, char *err)
{
    if (ls_json_scan(rec->data, rec->len, key_field, view, err)) {
        if (strcmp(err, "not a JSON object") != 0) return -1;
        err[0] = '\0';
    }
    ls_buf_reset(key);
    if (key_field) {
        const ls_value *v = &view->vals[0];
        if (v->type == LS_STR || v->type == LS_INT || v->type == LS_DOUBLE || v->type == LS_BOOL)
            ls_value_text(key, v);
    }
    return 0;
}

static void report(const ls_kafka_producer *p, int64_t records, double start, const char *final)
{
    double secs = (ls_mono_ms() - start) / 1000.0;
    fprintf(stderr,
            "luastream produce: %s%lld records sent, %lld delivered, %lld errors, %.1f s, "
            "%.0f records/s\n",
            final, (long long)records, (long long)p->delivered, (long long)p->failed, secs,
            secs > 0 ? (double)records / secs : 0.0);
}

static void pace(const ls_produce_opts *o, int64_t records, double start)
{
    if (o->rate <= 0) return;
    double due = start + (double)records * 1000.0 / o->rate;
    double now = ls_mono_ms();
    if (due > now) sleep_ms(due - now);
}

/* --raw: every line is one message, byte for byte, empty lines included
 * (no JSON check): for replaying captures and for testing bad input. */
static int produce_lines(const ls_produce_opts *o, ls_kafka_producer *p, FILE *f)
{
    char err[LS_ERRLEN];
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int64_t records = 0;
    int rc = 0;
    double start = ls_mono_ms();
    while ((n = getline(&line, &cap, f)) >= 0) {
        if (n > 0 && line[n - 1] == '\n') n--;
        if (ls_kafka_produce(p, o->topic, o->partition, NULL, 0, line, (size_t)n, err)) {
            ls_log("produce: %s", err);
            rc = 1;
            break;
        }
        records++;
        pace(o, records, start);
        if (o->max > 0 && records >= o->max) break;
    }
    free(line);
    if (ls_kafka_flush(p, o->flush_timeout_ms, err)) {
        ls_log("produce: %s", err);
        rc = 1;
    }
    report(p, records, start, "done: ");
    if (p->failed) rc = 1;
    ls_kafka_producer_free(p, 0);
    return rc;
}

int ls_produce(const ls_produce_opts *o)
{
    char err[LS_ERRLEN];
    FILE *f = strcmp(o->file, "-") == 0 ? stdin : fopen(o->file, "rb");
    if (!f) {
        ls_log("produce: cannot open %s: %s", o->file, strerror(errno));
        return 2;
    }
    ls_kafka_producer *p = ls_kafka_producer_new(o->bootstrap, o->props, o->connect_timeout_ms, err);
    if (!p) {
        ls_log("produce: %s", err);
        if (f != stdin) fclose(f);
        return 2;
    }
    if (o->raw) {
        int r = produce_lines(o, p, f);
        if (f != stdin) fclose(f);
        return r;
    }
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
    int64_t records = 0;
    double start = ls_mono_ms(), last_report = start;
    for (;;) {
        int r = ls_splitter_next(&sp, err);
        if (r == 0) break;
        if (r < 0) {
            ls_log("produce: %s: malformed JSON: %s; %lld records before it were sent",
                   o->file, err, (long long)records);
            rc = 1;
            break;
        }
        char rerr[LS_ERRLEN];
        if (check_record(&sp.rec, kf, &view, &key, rerr)) {
            ls_log("produce: %s: malformed record %lld at byte %llu (line %llu, column %llu): %s; "
                   "%lld records before it were sent",
                   o->file, (long long)records + 1, (unsigned long long)sp.rec_offset,
                   (unsigned long long)sp.rec_line, (unsigned long long)sp.rec_col, rerr,
                   (long long)records);
            rc = 1;
            break;
        }
        if (ls_kafka_produce(p, o->topic, o->partition, o->key_field ? key.data : NULL,
                             o->key_field ? key.len : 0, sp.rec.data, sp.rec.len, err)) {
            ls_log("produce: %s", err);
            rc = 1;
            break;
        }
        records++;
        pace(o, records, start);
        if (o->max > 0 && records >= o->max) break;
        double now = ls_mono_ms();
        if (!o->quiet && now - last_report >= 1000.0) {
            report(p, records, start, "");
            last_report = now;
        }
    }
    if (ls_kafka_flush(p, o->flush_timeout_ms, err)) {
        ls_log("produce: %s", err);
        rc = 1;
    }
    report(p, records, start, "done: ");
    if (p->failed && rc == 0) rc = 1;
    ls_buf_free(&key);
    ls_recview_free(&view);
    ls_fieldset_free(kf);
    ls_splitter_free(&sp);
    ls_kafka_producer_free(p, 0);
    if (f != stdin) fclose(f);
    return rc;
}
