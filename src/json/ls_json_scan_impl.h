/* ls_json_scan_impl.h - the implementations of the projection decoder
 * (ls_json_scan.h) and which one runs.
 *
 * The scanner exists in up to three builds of the same grammar
 * (ls_json_scan_body.inc) that differ only in how they find the end of a
 * run of plain string bytes: one byte at a time (scalar, every platform),
 * 16 bytes at a time (SSE2, the x86-64 baseline) and 32 bytes at a time
 * (AVX2, x86-64 CPUs that have it, chosen at run time). All give identical
 * results on every input: values, errors, error messages and positions
 * (tests/unit/test_json_scan_impl.c and tests/fuzz/fuzz_scan.c compare
 * them; bench/scan.sh measures them).
 *
 * ls_json_scan() uses the best implementation this CPU supports, unless
 * the environment variable LS_JSON_SCAN names another (scalar, sse2, avx2;
 * read at the first scan; an unavailable one is ignored). Tests and
 * benchmarks call one by name with ls_json_scan_with(). */
#ifndef LS_JSON_SCAN_IMPL_H
#define LS_JSON_SCAN_IMPL_H

#include "ls_json_scan.h"

typedef enum ls_scan_impl {
    LS_SCAN_SCALAR = 0,
    LS_SCAN_SSE2,
    LS_SCAN_AVX2,
    LS_SCAN_NIMPL
} ls_scan_impl;

/* "scalar", "sse2", "avx2". */
const char *ls_json_scan_impl_name(ls_scan_impl impl);
/* 1 when impl is compiled in and this CPU runs it. */
int ls_json_scan_impl_available(ls_scan_impl impl);
/* The implementation ls_json_scan() uses. */
ls_scan_impl ls_json_scan_impl(void);
/* Makes ls_json_scan() use impl from now on (all threads); -1 if it is not
 * available. */
int ls_json_scan_set_impl(ls_scan_impl impl);
/* ls_json_scan() with the given implementation, whatever the selection
 * (an unavailable one: -1 with err set). */
int ls_json_scan_with(ls_scan_impl impl, const char *p, size_t n, const ls_fieldset *fields,
                      ls_recview *view, ls_err *err);

#endif
