/* fuzz_scan.c - libFuzzer target: the projection decoder (ls_json_scan)
 * on arbitrary bytes, projecting a few fields, with every implementation
 * this CPU runs (ls_json_scan_impl.h: scalar, SSE2, AVX2). Any crash, leak,
 * hang or sanitizer report is a bug, and so is any difference between the
 * implementations (return code, error text with its position, projected
 * values): the SIMD forms must reject exactly what the scalar one rejects.
 * The input is libFuzzer's own allocation of exactly `size` bytes, so ASan
 * reports a vector load that reads past the message. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ls_json_scan.h"
#include "ls_json_scan_impl.h"

static int same_value(const ls_value *a, const ls_value *b)
{
    if (a->type != b->type) return 0;
    switch (a->type) {
    case LS_NULL: return 1;
    case LS_STR: return a->u.s.n == b->u.s.n && memcmp(a->u.s.p, b->u.s.p, a->u.s.n) == 0;
    case LS_BOOL: return !!a->u.b == !!b->u.b;
    default: return memcmp(&a->u, &b->u, sizeof a->u) == 0;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *fields[] = { "a", "call_date_time", "disposition", "n" };
    ls_fieldset *fs = ls_fieldset_new();
    for (size_t i = 0; i < 4; i++) ls_fieldset_add(fs, fields[i]);
    ls_recview v[LS_SCAN_NIMPL];
    ls_err err[LS_SCAN_NIMPL];
    int rc[LS_SCAN_NIMPL], first = -1;
    for (int k = 0; k < LS_SCAN_NIMPL; k++) {
        if (!ls_json_scan_impl_available((ls_scan_impl)k)) continue;
        ls_recview_init(&v[k], fs->n);
        err[k].msg[0] = '\0';
        rc[k] = ls_json_scan_with((ls_scan_impl)k, (const char *)data, size, fs, &v[k], &err[k]);
        if (first < 0) {
            first = k;
            continue;
        }
        int same = rc[k] == rc[first] && strcmp(err[k].msg, err[first].msg) == 0;
        for (size_t f = 0; same && rc[k] == 0 && f < fs->n; f++)
            same = v[k].present[f] == v[first].present[f] && v[k].nested[f] == v[first].nested[f] &&
                   same_value(&v[k].vals[f], &v[first].vals[f]);
        if (!same) {
            fprintf(stderr, "fuzz_scan: %s and %s differ: %d \"%s\" / %d \"%s\"\n",
                    ls_json_scan_impl_name((ls_scan_impl)first),
                    ls_json_scan_impl_name((ls_scan_impl)k), rc[first], err[first].msg, rc[k], err[k].msg);
            abort();
        }
    }
    /* and through the default choice */
    ls_err e;
    ls_recview d;
    ls_recview_init(&d, fs->n);
    if (ls_json_scan((const char *)data, size, fs, &d, &e) != rc[first]) abort();
    ls_recview_free(&d);
    for (int k = 0; k < LS_SCAN_NIMPL; k++)
        if (ls_json_scan_impl_available((ls_scan_impl)k)) ls_recview_free(&v[k]);
    ls_fieldset_free(fs);
    return 0;
}
