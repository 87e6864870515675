/* ls_json_scan.h - the projection decoder: one pass over a JSON message
 * that validates all of it and extracts only the named top-level fields
 * into C values, with no Lua and no allocation per record.
 *
 * This is the hot path for queries without a `map`: profiling the Lua-table
 * path (yajl callbacks building a 14-field table, then reading 3 fields back)
 * showed malloc, Lua and yajl taking ~70% of the time per record; a query
 * that reads three fields should pay for three.  Validation is complete
 * (grammar, escapes, UTF-8, depth) and follows RFC 8259 strictly: it also
 * rejects what yajl lets through (overlong or surrogate UTF-8, unpaired
 * \u surrogates, form feed as whitespace), so such messages are
 * dead-lettered on this path and accepted on the Lua-table path.
 * Strings are searched 16 or 32 bytes at a time on x86-64 (SSE2, AVX2),
 * with identical results: ls_json_scan_impl.h. */
#ifndef LS_JSON_SCAN_H
#define LS_JSON_SCAN_H

#include <stddef.h>
#include <stdint.h>

#include "ls_fieldset.h"
#include "ls_value.h"

/* The projected fields of one record. Strings point into the message or
 * into `arena` (when they had escapes); both live until the next scan. */
typedef struct ls_recview {
    size_t n;            /* = number of fields in the projection */
    ls_value *vals;      /* LS_NULL when absent */
    uint8_t *nested;     /* 1 when the field held an object or an array */
    uint8_t *present;    /* 1 when the message had the field (null included) */
    ls_buf arena;
} ls_recview;

void ls_recview_init(ls_recview *v, size_t nfields);
void ls_recview_free(ls_recview *v);

/* Scans p[0..n): one JSON object. Returns 0 with view filled, or -1 with
 * err ("empty message", "not a JSON object", "invalid JSON at byte N: ..."). */
int ls_json_scan(const char *p, size_t n, const ls_fieldset *fields, ls_recview *view,
                 ls_err *err);

#endif
