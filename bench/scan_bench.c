/* bench/scan_bench.c - micro-benchmark of the projection decoder (ls_json_scan) on one core:
 * MB/s and ns per record of each implementation (scalar, sse2, avx2; "ref": a former
 * version of the scanner built in by bench/scan.sh --ref REV) over corpora written by
 * bench/scan_corpus.py, with a typical projection (the first line of NAME.fields) and with
 * every field (its second line). Built and run by bench/scan.sh; see bench/README.md.
 *
 *   scan_bench [--impl scalar,sse2,avx2,ref] [--proj typical,all] [--rounds K]
 *              [--min-seconds S] CORPUS.msgs...
 *
 * Each round scans the whole corpus once with each implementation in turn (interleaved, so
 * that a passing load touches all alike); the best round of each is reported, timed by the
 * thread's CPU clock (time on a core) and, for reference, by the wall clock. The results of
 * every implementation (values, errors and their messages) are hashed and must be equal. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ls_json_scan.h"
#ifndef SCAN_BENCH_NO_IMPL
#include "ls_json_scan_impl.h"
#endif

#ifdef SCAN_BENCH_REF
int ls_json_scan_ref(const char *p, size_t n, const ls_fieldset *fields, ls_recview *view,
                     ls_err *err);
#endif

enum { IMPL_SCALAR, IMPL_SSE2, IMPL_AVX2, IMPL_REF, NIMPLS };
static const char *const impl_names[NIMPLS] = { "scalar", "sse2", "avx2", "ref" };

typedef struct corpus {
    char *data;
    size_t size, n;
    size_t *off, *len;
    char fields[2][4096]; /* typical, all */
} corpus;

static int impl_ok(int impl)
{
#ifdef SCAN_BENCH_NO_IMPL
    return impl == IMPL_REF;
#else
    if (impl == IMPL_REF) {
#ifdef SCAN_BENCH_REF
        return 1;
#else
        return 0;
#endif
    }
    return ls_json_scan_impl_available((ls_scan_impl)impl);
#endif
}

static int scan_one(int impl, const char *p, size_t n, const ls_fieldset *fs, ls_recview *v,
                    ls_err *err)
{
#ifdef SCAN_BENCH_REF
    if (impl == IMPL_REF) return ls_json_scan_ref(p, n, fs, v, err);
#endif
#ifndef SCAN_BENCH_NO_IMPL
    return ls_json_scan_with((ls_scan_impl)impl, p, n, fs, v, err);
#else
    (void)p; (void)n; (void)fs; (void)v; (void)err;
    abort();
#endif
}

static double now(clockid_t c)
{
    struct timespec ts;
    clock_gettime(c, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ULL;
    return h;
}

static uint64_t hash_result(uint64_t h, int rc, const ls_recview *v, const char *err)
{
    h = fnv(h, &rc, sizeof rc);
    if (rc) return fnv(h, err, strlen(err));
    for (size_t i = 0; i < v->n; i++) {
        const ls_value *x = &v->vals[i];
        h = fnv(h, &v->present[i], 1);
        h = fnv(h, &v->nested[i], 1);
        h = fnv(h, &x->type, sizeof x->type);
        if (x->type == LS_STR) h = fnv(h, x->u.s.p, x->u.s.n);
        else if (x->type == LS_BOOL) h = fnv(h, &x->u.b, sizeof x->u.b);
        else if (x->type != LS_NULL) h = fnv(h, &x->u.i, sizeof x->u.i);
    }
    return h;
}

static int load(const char *path, corpus *c)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "scan_bench: %s: %s\n", path, strerror(errno));
        return -1;
    }
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *raw = malloc((size_t)sz + 1);
    if (fread(raw, 1, (size_t)sz, f) != (size_t)sz) {
        fprintf(stderr, "scan_bench: %s: short read\n", path);
        fclose(f);
        return -1;
    }
    fclose(f);
    /* messages back to back, as a batch of Kafka messages would sit in memory */
    memset(c, 0, sizeof *c);
    c->data = malloc((size_t)sz + 1);
    size_t cap = 1024;
    c->off = malloc(cap * sizeof *c->off);
    c->len = malloc(cap * sizeof *c->len);
    for (size_t at = 0; at + 4 <= (size_t)sz;) {
        const unsigned char *h = (const unsigned char *)raw + at;
        size_t n = (size_t)h[0] | (size_t)h[1] << 8 | (size_t)h[2] << 16 | (size_t)h[3] << 24;
        at += 4;
        if (at + n > (size_t)sz) break;
        if (c->n == cap) {
            cap *= 2;
            c->off = realloc(c->off, cap * sizeof *c->off);
            c->len = realloc(c->len, cap * sizeof *c->len);
        }
        memcpy(c->data + c->size, raw + at, n);
        c->off[c->n] = c->size;
        c->len[c->n++] = n;
        c->size += n;
        at += n;
    }
    free(raw);
    /* NAME.fields next to NAME.msgs */
    char fpath[4096];
    snprintf(fpath, sizeof fpath, "%.*s.fields", (int)(strlen(path) - 5), path);
    f = fopen(fpath, "r");
    if (!f) {
        fprintf(stderr, "scan_bench: %s: %s\n", fpath, strerror(errno));
        return -1;
    }
    for (int i = 0; i < 2; i++) {
        if (!fgets(c->fields[i], sizeof c->fields[i], f)) c->fields[i][0] = '\0';
        c->fields[i][strcspn(c->fields[i], "\n")] = '\0';
    }
    fclose(f);
    return 0;
}

static ls_fieldset *fieldset(const char *list)
{
    ls_fieldset *fs = ls_fieldset_new();
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", list);
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save))
        ls_fieldset_add(fs, t);
    return fs;
}

/* The corpus's name: the file name without its folder and .msgs. */
static const char *base(const char *path)
{
    static char name[256];
    const char *b = strrchr(path, '/');
    snprintf(name, sizeof name, "%s", b ? b + 1 : path);
    char *dot = strstr(name, ".msgs");
    if (dot) *dot = '\0';
    return name;
}

int main(int argc, char **argv)
{
    int want[NIMPLS] = { 1, 1, 1, 1 };
    int proj[2] = { 1, 1 };
    int rounds = 5;
    double min_seconds = 1.0;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (!strcmp(argv[i], "--impl") && i + 1 < argc) {
            memset(want, 0, sizeof want);
            for (int k = 0; k < NIMPLS; k++)
                if (strstr(argv[i + 1], impl_names[k])) want[k] = 1;
            i++;
        } else if (!strcmp(argv[i], "--proj") && i + 1 < argc) {
            proj[0] = strstr(argv[i + 1], "typical") != NULL;
            proj[1] = strstr(argv[i + 1], "all") != NULL;
            i++;
        } else if (!strcmp(argv[i], "--rounds") && i + 1 < argc) {
            rounds = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--min-seconds") && i + 1 < argc) {
            min_seconds = atof(argv[++i]);
        } else {
            fprintf(stderr, "usage: scan_bench [--impl scalar,sse2,avx2,ref] [--proj typical,all] "
                            "[--rounds K] [--min-seconds S] CORPUS.msgs...\n");
            return 2;
        }
    }
    int status = 0;
    printf("| corpus | fields | impl | records | MB | MB/s (CPU) | ns/record (CPU) | MB/s (wall) | vs scalar |\n");
    printf("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |\n");
    fflush(stdout);
    for (; i < argc; i++) {
        corpus c;
        if (load(argv[i], &c)) return 2;
        for (int pj = 0; pj < 2; pj++) {
            if (!proj[pj]) continue;
            ls_fieldset *fs = fieldset(c.fields[pj]);
            ls_recview view;
            ls_recview_init(&view, fs->n);
            ls_err err;
            double best_cpu[NIMPLS], best_wall[NIMPLS];
            uint64_t sum[NIMPLS];
            size_t bad[NIMPLS];
            for (int k = 0; k < NIMPLS; k++) {
                best_cpu[k] = best_wall[k] = 1e99;
                sum[k] = 0;
                bad[k] = 0;
            }
            double t_start = now(CLOCK_MONOTONIC);
            for (int r = 0; r < rounds || now(CLOCK_MONOTONIC) - t_start < min_seconds; r++) {
                for (int k = 0; k < NIMPLS; k++) {
                    if (!want[k] || !impl_ok(k)) continue;
                    uint64_t h = 0xcbf29ce484222325ULL;
                    size_t nbad = 0;
                    double w0 = now(CLOCK_MONOTONIC), c0 = now(CLOCK_THREAD_CPUTIME_ID);
                    if (r == 0) {
                        /* the first round checks (hashing every result), untimed */
                        for (size_t m = 0; m < c.n; m++) {
                            int rc = scan_one(k, c.data + c.off[m], c.len[m], fs, &view, &err);
                            nbad += rc != 0;
                            h = hash_result(h, rc, &view, err.msg);
                        }
                        sum[k] = h;
                        bad[k] = nbad;
                        continue;
                    }
                    for (size_t m = 0; m < c.n; m++)
                        nbad += scan_one(k, c.data + c.off[m], c.len[m], fs, &view, &err) != 0;
                    double cpu = now(CLOCK_THREAD_CPUTIME_ID) - c0, wall = now(CLOCK_MONOTONIC) - w0;
                    if (nbad != bad[k]) status = 1;
                    if (cpu < best_cpu[k]) best_cpu[k] = cpu;
                    if (wall < best_wall[k]) best_wall[k] = wall;
                }
            }
            int first = -1;
            for (int k = 0; k < NIMPLS; k++) {
                if (!want[k] || !impl_ok(k)) continue;
                if (first < 0) first = k;
                double mbs = (double)c.size / best_cpu[k] / 1e6;
                char vs[32] = "";
                if (want[IMPL_SCALAR] && impl_ok(IMPL_SCALAR))
                    snprintf(vs, sizeof vs, "%.2fx", best_cpu[IMPL_SCALAR] / best_cpu[k]);
                printf("| %s | %s | %s | %zu | %.1f | %.0f | %.0f | %.0f | %s |\n", base(argv[i]),
                       pj ? "all" : "typical", impl_names[k], c.n, (double)c.size / 1e6, mbs,
                       best_cpu[k] / (double)c.n * 1e9, (double)c.size / best_wall[k] / 1e6, vs);
                if (sum[k] != sum[first] || bad[k] != bad[first]) {
                    printf("MISMATCH: %s and %s differ on %s (%zu and %zu invalid)\n",
                           impl_names[first], impl_names[k], base(argv[i]), bad[first], bad[k]);
                    status = 1;
                }
            }
            if (first >= 0 && bad[first])
                printf("(%zu of %zu messages invalid)\n", bad[first], c.n);
            fflush(stdout);
            ls_recview_free(&view);
            ls_fieldset_free(fs);
        }
        free(c.data);
        free(c.off);
        free(c.len);
    }
    return status;
}
