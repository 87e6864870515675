/* bench/rows_bench.c - micro-benchmark of the sinks: result rows written per second per core,
 * through the JSON-lines sink and (given a broker) the Kafka sink. Built and run by
 * bench/rows.sh (against this tree's library and, with --ref, a former one's); see
 * bench/README.md, "Row writer".
 *
 *   rows_bench [--rows N] [--rounds K] [--dir DIR] [--bootstrap B --topic T] [--label NAME]
 *
 * Rows, as an aggregation hands them to its sink (ls_row: names and values):
 *   window       scripts/pipeline.lua's crime_type_counts: {"window":{"start":...,"end":...},
 *                "original_crime_type_name":...,"count":...}, windows and names drawn at
 *                random (no two rows in a row share a window)
 *   disposition  its disposition_counts: {"disposition":...,"description":...,"count":...}
 *   record       a per-record query's row (write_out): a 412-byte call as it came from Kafka
 * Each round opens a batch, writes the N rows, closes the batch (the jsonl sink flushes it
 * to DIR/<shape>.jsonl, truncated first; the Kafka sink waits for every delivery). Timed by
 * the process's CPU clock (every thread: librdkafka's too), and the wall clock; the best round
 * of each is reported. The broker's own CPU is not counted. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ls_kafka.h"
#include "ls_sink.h"

#define NNAMES 1000
static char names[NNAMES][40];

static double now(clockid_t c)
{
    struct timespec ts;
    clock_gettime(c, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t rng = 88172645463325252ULL;
static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

enum { SHAPE_WINDOW, SHAPE_DISPOSITION, SHAPE_RECORD, NSHAPES };
static const char *const shape_names[NSHAPES] = { "window", "disposition", "record" };
static const char *const wcols[] = { "window", "original_crime_type_name", "count" };
static const char *const dcols[] = { "disposition", "description", "count" };
static const char *const dispos[][2] = {
    { "HAN", "Handled" }, { "GOA", "Gone on Arrival" }, { "ADV", "Advised" },
    { "CIT", "Cited" }, { "ND", "No Disposition" }, { "UTL", "Unable to Locate" },
    { "ARR", "Arrest Made" }, { "REP", "Report Made" }, { "NOM", "No Merit" },
};

static const char RECORD[] =
    "{\"crime_id\":\"183653763\",\"original_crime_type_name\":\"Traffic Stop\","
    "\"report_date\":\"2018-12-31T00:00:00\",\"call_date\":\"2018-12-31T00:00:00\","
    "\"offense_date\":\"2018-12-31T00:00:00\",\"call_time\":\"23:57\","
    "\"call_date_time\":\"2018-12-31T23:57:00\",\"disposition\":\"ADM\","
    "\"address\":\"Geary Bl/divisadero St\",\"city\":\"San Francisco\",\"state\":\"CA\","
    "\"agency_id\":\"1\",\"address_type\":\"Intersection\",\"common_location\":\"\"}";

typedef struct shape_rows {
    size_t n;
    ls_value *vals; /* 3 per row */
} shape_rows;

static void make_rows(shape_rows *r, int shape, size_t n)
{
    r->n = n;
    r->vals = calloc(3 * n + 1, sizeof *r->vals);
    for (size_t i = 0; i < n && shape != SHAPE_RECORD; i++) {
        ls_value *v = r->vals + 3 * i;
        if (shape == SHAPE_WINDOW) {
            int64_t start = 1543622400000LL + (int64_t)(next() % 10000) * 300000;
            v[0].type = LS_WINDOW;
            v[0].u.w.start = start;
            v[0].u.w.end = start + 600000;
            const char *nm = names[next() % NNAMES];
            v[1] = ls_str(nm, strlen(nm));
        } else {
            size_t d = next() % (sizeof dispos / sizeof dispos[0]);
            v[0] = ls_str(dispos[d][0], strlen(dispos[d][0]));
            v[1] = ls_str(dispos[d][1], strlen(dispos[d][1]));
        }
        v[2] = ls_int((int64_t)(1 + next() % 5000));
    }
}

static void make_names(void)
{
    static const char *const words[] = { "Traffic", "Stop", "Poss", "Unreported", "Suspicious",
                                         "Person", "Vehicle", "Alarm", "Burglary", "Complaint",
                                         "Noise", "Welfare", "Check", "Auto", "Boost", "Cite" };
    for (int i = 0; i < NNAMES; i++) {
        size_t n = 0, want = 8 + (size_t)(next() % 20);
        while (n < want) {
            const char *w = words[next() % 16];
            if (n) names[i][n++] = ' ';
            for (size_t k = 0; w[k] && n < want; k++) names[i][n++] = w[k];
        }
        names[i][n] = '\0';
    }
}

/* One round: a batch of every row. Returns -1 on a sink error. */
static int round_of(ls_sink *s, int shape, const shape_rows *r, size_t *bytes)
{
    ls_err err;
    if (s->vt->open_batch(s, 0, &err)) goto fail;
    *bytes = 0;
    for (size_t i = 0; i < r->n; i++) {
        int rc;
        if (shape == SHAPE_RECORD) {
            ls_out o = { RECORD, sizeof RECORD - 1, NULL, 0, NULL, 0, NULL, NULL, NULL };
            rc = s->vt->write_out(s, &o, &err);
        } else {
            ls_row row = { 3, shape == SHAPE_WINDOW ? wcols : dcols, r->vals + 3 * i, 2 };
            rc = s->vt->write(s, &row, &err);
        }
        if (rc) goto fail;
    }
    if (s->vt->close_batch(s, &err)) goto fail;
    return 0;
fail:
    fprintf(stderr, "rows_bench: %s\n", err.msg);
    return -1;
}

int main(int argc, char **argv)
{
    size_t nrows = 1000000;
    int rounds = 5;
    const char *dir = "bench/work/rows", *bootstrap = NULL, *topic = "rows.bench", *label = "rows";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--rows") && i + 1 < argc) nrows = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--rounds") && i + 1 < argc) rounds = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--dir") && i + 1 < argc) dir = argv[++i];
        else if (!strcmp(argv[i], "--bootstrap") && i + 1 < argc) bootstrap = argv[++i];
        else if (!strcmp(argv[i], "--topic") && i + 1 < argc) topic = argv[++i];
        else if (!strcmp(argv[i], "--label") && i + 1 < argc) label = argv[++i];
        else {
            fprintf(stderr, "usage: rows_bench [--rows N] [--rounds K] [--dir DIR] "
                            "[--bootstrap B --topic T] [--label NAME]\n");
            return 2;
        }
    }
    make_names();
    shape_rows rows[NSHAPES];
    for (int sh = 0; sh < NSHAPES; sh++) make_rows(&rows[sh], sh, nrows);
    ls_kafka_producer *prod = NULL;
    if (bootstrap) {
        ls_err err;
        prod = ls_kafka_producer_new(bootstrap, NULL, 10000, &err);
        if (!prod) {
            fprintf(stderr, "rows_bench: %s\n", err.msg);
            return 1;
        }
    }
    for (int kind = 0; kind < (prod ? 2 : 1); kind++) {
        for (int sh = 0; sh < NSHAPES; sh++) {
            double best_cpu = 0, best_wall = 0;
            size_t bytes = 0;
            for (int r = 0; r < rounds; r++) {
                ls_err err;
                ls_sink *s;
                char t[256];
                if (kind == 0) {
                    snprintf(t, sizeof t, "%s/%s.jsonl", dir, shape_names[sh]);
                    unlink(t); /* a fresh file each round */
                    s = ls_sink_jsonl_new(dir, shape_names[sh], &err);
                } else {
                    snprintf(t, sizeof t, "%s.%s", topic, shape_names[sh]);
                    s = ls_sink_kafka_new(prod, t, &err);
                }
                if (!s) {
                    fprintf(stderr, "rows_bench: %s\n", err.msg);
                    return 1;
                }
                double c0 = now(CLOCK_PROCESS_CPUTIME_ID), w0 = now(CLOCK_MONOTONIC);
                if (round_of(s, sh, &rows[sh], &bytes)) return 1;
                double c1 = now(CLOCK_PROCESS_CPUTIME_ID), w1 = now(CLOCK_MONOTONIC);
                if (kind == 0) {
                    FILE *f = fopen(t, "rb");
                    if (f) {
                        fseek(f, 0, SEEK_END);
                        bytes = (size_t)ftell(f);
                        fclose(f);
                    }
                }
                ls_sink_destroy(s);
                if (r == 0 || c1 - c0 < best_cpu) {
                    best_cpu = c1 - c0;
                    best_wall = w1 - w0;
                }
            }
            printf("%s sink=%s shape=%s rows=%zu rows_per_cpu_s=%.0f rows_per_wall_s=%.0f "
                   "ns_per_row=%.1f bytes=%zu\n",
                   label, kind ? "kafka" : "jsonl", shape_names[sh], nrows, (double)nrows / best_cpu,
                   (double)nrows / best_wall, best_cpu * 1e9 / (double)nrows, bytes);
            fflush(stdout);
        }
    }
    if (prod) ls_kafka_producer_free(prod, 10000);
    for (int sh = 0; sh < NSHAPES; sh++) free(rows[sh].vals);
    return 0;
}
