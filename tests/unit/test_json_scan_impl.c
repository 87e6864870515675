/* test_json_scan_impl.c - the implementations of the projection decoder
 * (ls_json_scan_impl.h: scalar, SSE2, AVX2 when this CPU has it) against
 * each other and against expected results, on the inputs where a vector
 * loop can go wrong: strings of every length from 0 to 100 at every
 * alignment, every kind of run-ending byte (quote, escape, control
 * character, NUL, UTF-8 of 2-4 bytes, invalid UTF-8) at every offset of
 * strings that straddle 16- and 32-byte boundaries, every prefix of a
 * message (unterminated at each byte), random messages, and messages that
 * start or end against a PROT_NONE page (an over- or under-read is a
 * SIGSEGV, so the test fails). Every implementation must give the same
 * return code, the same error text (position included) and the same
 * projected values. test_json_scan.c covers what the decoder accepts and
 * rejects through ls_json_scan(), whichever implementation it picks. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ls_json_scan.h"
#include "ls_json_scan_impl.h"
#include "suites.h"

/* ---- run every implementation, compare ------------------------------- */

typedef struct impls {
    ls_fieldset *fs;
    ls_recview view[LS_SCAN_NIMPL];
    ls_err err[LS_SCAN_NIMPL];
    int rc[LS_SCAN_NIMPL];
    int n;                        /* implementations available */
    ls_scan_impl which[LS_SCAN_NIMPL];
} impls;

static void impls_open(impls *t, const char *const *names, size_t n)
{
    t->fs = ls_fieldset_new();
    for (size_t i = 0; i < n; i++) ls_fieldset_add(t->fs, names[i]);
    t->n = 0;
    for (int k = 0; k < LS_SCAN_NIMPL; k++)
        if (ls_json_scan_impl_available((ls_scan_impl)k)) t->which[t->n++] = (ls_scan_impl)k;
    for (int k = 0; k < t->n; k++) ls_recview_init(&t->view[k], t->fs->n);
}

static void impls_close(impls *t)
{
    for (int k = 0; k < t->n; k++) ls_recview_free(&t->view[k]);
    ls_fieldset_free(t->fs);
}

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

/* Scans p[0..n) with each implementation; all must agree with the scalar
 * one. Returns the scalar result (its error in t->err[0]). */
static int scan_all(impls *t, const char *p, size_t n, const char *what)
{
    for (int k = 0; k < t->n; k++) {
        t->err[k].msg[0] = '\0';
        t->rc[k] = ls_json_scan_with(t->which[k], p, n, t->fs, &t->view[k], &t->err[k]);
    }
    for (int k = 1; k < t->n; k++) {
        const char *name = ls_json_scan_impl_name(t->which[k]);
        ck_assert_msg(t->rc[k] == t->rc[0], "%s: %s returned %d, scalar %d (%s / %s)", what, name,
                      t->rc[k], t->rc[0], t->err[k].msg, t->err[0].msg);
        if (t->rc[0]) {
            ck_assert_msg(strcmp(t->err[k].msg, t->err[0].msg) == 0, "%s: %s says \"%s\", scalar \"%s\"",
                          what, name, t->err[k].msg, t->err[0].msg);
            continue;
        }
        for (size_t f = 0; f < t->fs->n; f++) {
            ck_assert_msg(t->view[k].present[f] == t->view[0].present[f] &&
                              t->view[k].nested[f] == t->view[0].nested[f] &&
                              same_value(&t->view[k].vals[f], &t->view[0].vals[f]),
                          "%s: %s and scalar differ on field %s", what, name, t->fs->names[f]);
        }
    }
    return t->rc[0];
}

#define NAMES(...) (const char *const[]){ __VA_ARGS__ }, \
    sizeof((const char *const[]){ __VA_ARGS__ }) / sizeof(const char *)

static const ls_value *field(impls *t, const char *name)
{
    int i = ls_fieldset_index(t->fs, name, strlen(name));
    ck_assert(i >= 0);
    return &t->view[0].vals[i];
}

static void expect_str(impls *t, const char *name, const char *want, size_t n, const char *what)
{
    const ls_value *v = field(t, name);
    ck_assert_msg(v->type == LS_STR && v->u.s.n == n && memcmp(v->u.s.p, want, n) == 0,
                  "%s: %s is not the expected %zu-byte string", what, name, n);
}

/* ---- which implementations ------------------------------------------- */

START_TEST(impl_available_and_chosen)
{
    ck_assert(ls_json_scan_impl_available(LS_SCAN_SCALAR));
    ck_assert_str_eq(ls_json_scan_impl_name(LS_SCAN_SCALAR), "scalar");
    ck_assert_str_eq(ls_json_scan_impl_name(LS_SCAN_SSE2), "sse2");
    ck_assert_str_eq(ls_json_scan_impl_name(LS_SCAN_AVX2), "avx2");
    ck_assert(!ls_json_scan_impl_available(LS_SCAN_NIMPL));
#if defined(__x86_64__)
    ck_assert(ls_json_scan_impl_available(LS_SCAN_SSE2));
    __builtin_cpu_init();
    ck_assert_int_eq(ls_json_scan_impl_available(LS_SCAN_AVX2), !!__builtin_cpu_supports("avx2"));
#else
    ck_assert(!ls_json_scan_impl_available(LS_SCAN_SSE2));
    ck_assert(!ls_json_scan_impl_available(LS_SCAN_AVX2));
#endif
    /* the default is the best available, unless LS_JSON_SCAN names another */
    ls_scan_impl was = ls_json_scan_impl();
    ck_assert(ls_json_scan_impl_available(was));
    if (!getenv("LS_JSON_SCAN"))
        for (int k = was + 1; k < LS_SCAN_NIMPL; k++)
            ck_assert(!ls_json_scan_impl_available((ls_scan_impl)k));
    /* forcing one: ls_json_scan() then gives its results */
    ls_fieldset *fs = ls_fieldset_new();
    ls_fieldset_add(fs, "a");
    ls_recview v;
    ls_recview_init(&v, fs->n);
    ls_err err;
    for (int k = 0; k < LS_SCAN_NIMPL; k++) {
        if (!ls_json_scan_impl_available((ls_scan_impl)k)) {
            ck_assert_int_eq(ls_json_scan_set_impl((ls_scan_impl)k), -1);
            ck_assert_int_eq(ls_json_scan_with((ls_scan_impl)k, "{}", 2, fs, &v, &err), -1);
            ck_assert(strstr(err.msg, "not available") != NULL);
            continue;
        }
        ck_assert_int_eq(ls_json_scan_set_impl((ls_scan_impl)k), 0);
        ck_assert_int_eq(ls_json_scan_impl(), k);
        const char *msg = "{\"a\":\"0123456789abcdefghijklmnopqrstuvwxyz\\n\"}";
        ck_assert_int_eq(ls_json_scan(msg, strlen(msg), fs, &v, &err), 0);
        ck_assert_int_eq(v.vals[0].u.s.n, 37);
        ck_assert_int_eq(ls_json_scan("{\"a\":\"x\ty\"}", 11, fs, &v, &err), -1);
        ck_assert_str_eq(err.msg, "invalid JSON at byte 7: control character in string");
    }
    ck_assert_int_eq(ls_json_scan_set_impl(was), 0);
    ls_recview_free(&v);
    ls_fieldset_free(fs);
}
END_TEST

/* ---- strings of every length at every alignment ---------------------- */

START_TEST(impl_string_lengths_and_alignments)
{
    impls t;
    impls_open(&t, NAMES("a", "p"));
    char msg[256], want[128];
    for (size_t pad = 0; pad < 40; pad++) {
        for (size_t len = 0; len <= 100; len++) {
            for (size_t i = 0; i < len; i++) want[i] = (char)(' ' + 1 + (i * 7 + pad) % 90);
            for (size_t i = 0; i < len; i++)
                if (want[i] == '"' || want[i] == '\\') want[i] = '_';
            /* pad shifts the string's start against the message's start */
            int n = snprintf(msg, sizeof msg, "{\"p\":\"%.*s\",\"a\":\"%.*s\"}", (int)pad,
                             "........................................", (int)len, want);
            char what[64];
            snprintf(what, sizeof what, "pad %zu, length %zu", pad, len);
            ck_assert_int_eq(scan_all(&t, msg, (size_t)n, what), 0);
            expect_str(&t, "a", want, len, what);
            /* the string last: its closing quote in the final vector */
            n = snprintf(msg, sizeof msg, "{\"p\":\"%.*s\",\"a\":\"%.*s\"}", (int)pad, "", (int)len,
                         want);
            ck_assert_int_eq(scan_all(&t, msg, (size_t)n - 1, what), -1); /* no '}' */
            ck_assert_int_eq(scan_all(&t, msg, (size_t)n, what), 0);
        }
    }
    impls_close(&t);
}
END_TEST

/* ---- a run-ending byte at every offset ------------------------------- */

typedef struct special {
    const char *bytes;
    size_t n;
    const char *value;   /* decoded, when valid */
    size_t vn;
    const char *error;   /* NULL when valid */
    size_t errat;        /* the error's position past the special's first byte */
} special;

#define SP(b, v) { b, sizeof(b) - 1, v, sizeof(v) - 1, NULL, 0 }
#define SPBAD(b, e) { b, sizeof(b) - 1, NULL, 0, e, 0 }
#define SPBADAT(b, e, at) { b, sizeof(b) - 1, NULL, 0, e, at }

static const special specials[] = {
    SP("\\\"", "\""), SP("\\\\", "\\"), SP("\\/", "/"), SP("\\n", "\n"), SP("\\t", "\t"),
    SP("\\b", "\b"), SP("\\f", "\f"), SP("\\r", "\r"),
    SP("\\u00e9", "\xc3\xa9"), SP("\\u0000", "\0"), SP("\\ud83d\\ude00", "\xf0\x9f\x98\x80"),
    SP("\xc3\xa9", "\xc3\xa9"), SP("\xe6\x9d\xb1", "\xe6\x9d\xb1"),
    SP("\xf0\x9f\x9a\x93", "\xf0\x9f\x9a\x93"), SP("\x7f", "\x7f"), SP(" ", " "), SP("!", "!"),
    SP("#", "#"), SP("[", "["), SP("]", "]"), SP("\xef\xbb\xbf", "\xef\xbb\xbf"),
    SPBAD("\x01", "control character in string"), SPBAD("\x1f", "control character in string"),
    SPBAD("\0", "control character in string"), SPBAD("\n", "control character in string"),
    SPBAD("\t", "control character in string"),
    SPBAD("\xff", "invalid UTF-8"), SPBAD("\x80", "invalid UTF-8"), SPBAD("\xc0\x80", "invalid UTF-8"),
    SPBAD("\xc3", "invalid UTF-8"), SPBAD("\xe6\x9d", "invalid UTF-8"),
    SPBAD("\xed\xa0\x80", "invalid UTF-8"), SPBAD("\xf4\x90\x80\x80", "invalid UTF-8"),
    SPBAD("\xf0\x9f\x9a", "invalid UTF-8"), SPBAD("\\x", "bad escape in string"),
    SPBAD("\\u12g4", "bad \\u escape"), /* a \\u surrogate's error is reported past it */
    SPBADAT("\\ud83d", "unpaired surrogate in \\u escape", 6),
    SPBADAT("\\ude00", "unpaired surrogate in \\u escape", 6),
};

START_TEST(impl_special_at_every_offset)
{
    impls t;
    impls_open(&t, NAMES("a"));
    char msg[512], want[256];
    for (size_t s = 0; s < sizeof specials / sizeof *specials; s++) {
        const special *sp = &specials[s];
        for (size_t len = 1; len <= 70; len++) {
            for (size_t at = 0; at <= len; at++) {
                /* len plain bytes with the special one inserted at offset at */
                size_t n = 0, wn = 0;
                n += (size_t)sprintf(msg, "{\"a\":\"");
                for (size_t i = 0; i < at; i++) msg[n++] = want[wn++] = (char)('a' + i % 26);
                memcpy(msg + n, sp->bytes, sp->n);
                n += sp->n;
                if (sp->value) {
                    memcpy(want + wn, sp->value, sp->vn);
                    wn += sp->vn;
                }
                for (size_t i = at; i < len; i++) msg[n++] = want[wn++] = (char)('A' + i % 26);
                msg[n++] = '"';
                msg[n++] = '}';
                char what[96];
                snprintf(what, sizeof what, "special %zu at %zu of %zu", s, at, len);
                int rc = scan_all(&t, msg, n, what);
                if (sp->error) {
                    ck_assert_msg(rc == -1, "%s: accepted", what);
                    char e[LS_ERRLEN];
                    snprintf(e, sizeof e, "invalid JSON at byte %zu: %s", 6 + at + sp->errat, sp->error);
                    ck_assert_msg(strcmp(t.err[0].msg, e) == 0, "%s: \"%s\", expected \"%s\"", what,
                                  t.err[0].msg, e);
                } else {
                    ck_assert_msg(rc == 0, "%s: %s", what, t.err[0].msg);
                    expect_str(&t, "a", want, wn, what);
                }
                /* the same string as a key, and unprojected */
                char msg2[600];
                int n2 = snprintf(msg2, sizeof msg2, "{%.*s:[%.*s]}", (int)(n - 6), msg + 5,
                                  (int)(n - 6), msg + 5);
                scan_all(&t, msg2, (size_t)n2, what);
            }
        }
    }
    impls_close(&t);
}
END_TEST

/* ---- every prefix of messages: unterminated at each byte ------------- */

static const char *const messages[] = {
    "{\"crime_id\":\"183653763\",\"original_crime_type_name\":\"Traffic Stop\",\"report_date\":"
    "\"2018-12-31T00:00:00.000\",\"call_date\":\"2018-12-31T00:00:00.000\",\"offense_date\":"
    "\"2018-12-31T00:00:00.000\",\"call_time\":\"23:57\",\"call_date_time\":"
    "\"2018-12-31T23:57:00.000\",\"disposition\":\"ADM\",\"address\":\"Geary Bl\\/divisadero St\","
    "\"city\":\"San Francisco\",\"state\":\"CA\",\"agency_id\":\"1\",\"address_type\":"
    "\"Intersection\",\"common_location\":\"\"}",
    "{ \"a\" : [1, -2.5e3, true, false, null, {\"x\": \"caf\xc3\xa9 \\u6771\\u4eac \\ud83d\\ude93\"}],\n"
    "  \"b\": \"a long string with no escapes at all, longer than thirty-two bytes\",\n"
    "  \"c\": \"\\\"quoted\\\" and \\\\ and \\/ and \\n\" }",
    "\"a top-level string longer than thirty-two bytes, not an object\"",
    "{\"a\":\"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"}",
};

START_TEST(impl_every_prefix)
{
    impls t;
    impls_open(&t, NAMES("a", "b", "c", "disposition", "call_date_time"));
    for (size_t m = 0; m < sizeof messages / sizeof *messages; m++) {
        size_t n = strlen(messages[m]);
        for (size_t k = 0; k <= n; k++) {
            char what[64];
            snprintf(what, sizeof what, "message %zu, first %zu bytes", m, k);
            /* in its own allocation of exactly k bytes: ASan sees any over-read */
            char *copy = malloc(k ? k : 1);
            memcpy(copy, messages[m], k);
            int rc = scan_all(&t, copy, k, what);
            ck_assert_msg(k == n ? rc == (m == 2 ? -1 : 0) : rc == -1, "%s: rc %d", what, rc);
            free(copy);
        }
    }
    impls_close(&t);
}
END_TEST

/* ---- random messages ------------------------------------------------- */

static uint64_t rng_state;

static uint32_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 11);
}

START_TEST(impl_random_messages)
{
    static const char *const pieces[] = {
        "{", "}", "[", "]", ",", ":", "\"", "\\", "\\u", "\\ud83d", "\\ude00", "\\n", "\\\"",
        "a", "abcdefghijklmnop", "0123456789abcdef0123456789abcdef", " ", "\n", "\t", "1", "-0.5",
        "1e9", "true", "null", "\xc3\xa9", "\xe6\x9d\xb1", "\xf0\x9f\x9a\x93", "\xff", "\x80",
        "\x01", "\"a\":", "\"b\":\"", "\",\"a\":\"",
    };
    impls t;
    impls_open(&t, NAMES("a", "b"));
    rng_state = 0x9e3779b97f4a7c15ULL;
    char msg[600];
    for (int iter = 0; iter < 20000; iter++) {
        size_t n = 0;
        /* mostly well-formed: an object with a string whose body is random pieces */
        int wrap = rnd() % 4 != 0;
        if (wrap) n += (size_t)sprintf(msg, "{\"a\":\"");
        int parts = (int)(rnd() % 40);
        for (int i = 0; i < parts; i++) {
            const char *p = pieces[rnd() % (sizeof pieces / sizeof *pieces)];
            size_t pl = strlen(p);
            if (n + pl + 8 > sizeof msg) break;
            memcpy(msg + n, p, pl);
            n += pl;
        }
        if (wrap && rnd() % 8) n += (size_t)sprintf(msg + n, "\"}");
        char *copy = malloc(n ? n : 1);
        memcpy(copy, msg, n);
        char what[32];
        snprintf(what, sizeof what, "random message %d", iter);
        scan_all(&t, copy, n, what);
        free(copy);
    }
    impls_close(&t);
}
END_TEST

/* ---- against a guard page -------------------------------------------- */

START_TEST(impl_guard_pages)
{
    long page = sysconf(_SC_PAGESIZE);
    /* guard | page | guard */
    char *map = mmap(NULL, (size_t)page * 3, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                     -1, 0);
    ck_assert(map != MAP_FAILED);
    ck_assert_int_eq(mprotect(map, (size_t)page, PROT_NONE), 0);
    ck_assert_int_eq(mprotect(map + 2 * page, (size_t)page, PROT_NONE), 0);
    char *lo = map + page, *hi = map + 2 * page;
    impls t;
    impls_open(&t, NAMES("a", "disposition"));
    char msg[512];
    for (size_t len = 0; len <= 100; len++) {
        /* a string of len bytes, then variants ending in and after it */
        int n = snprintf(msg, sizeof msg, "{\"a\":\"%.*s\"}", (int)len,
                         "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
                         "0123456789abcdef0123456789abcdef");
        size_t cuts[] = { (size_t)n, (size_t)n - 1, (size_t)n - 2, (size_t)n - 3, 6 + len / 2 };
        for (size_t c = 0; c < sizeof cuts / sizeof *cuts; c++) {
            size_t k = cuts[c];
            char what[64];
            snprintf(what, sizeof what, "length %zu, first %zu bytes", len, k);
            memcpy(hi - k, msg, k); /* ends at the guard */
            int rc1 = scan_all(&t, hi - k, k, what);
            memcpy(lo, msg, k); /* starts at the guard */
            int rc2 = scan_all(&t, lo, k, what);
            ck_assert_int_eq(rc1, rc2);
            ck_assert_int_eq(rc1, c == 0 ? 0 : -1);
        }
        /* a message that is only an unterminated string, and only plain bytes */
        memset(hi - len - 1, 'x', len + 1);
        hi[-(long)len - 1] = '"';
        scan_all(&t, hi - len - 1, len + 1, "unterminated top-level string");
        memset(lo, 'x', len + 1);
        lo[0] = '"';
        scan_all(&t, lo, len + 1, "unterminated top-level string");
    }
    /* the police call, ending at the guard and at every offset of the page's end */
    size_t n = strlen(messages[0]);
    for (size_t k = 0; k <= n; k++) {
        memcpy(hi - k, messages[0], k);
        scan_all(&t, hi - k, k, "police call prefix at the guard");
    }
    impls_close(&t);
    munmap(map, (size_t)page * 3);
}
END_TEST

Suite *json_scan_impl_suite(void)
{
    Suite *s = suite_create("json_scan_impl");
    TCase *tc = tcase_create("impl");
    tcase_set_timeout(tc, 120); /* under valgrind; not a time assertion */
    tcase_add_test(tc, impl_available_and_chosen);
    tcase_add_test(tc, impl_string_lengths_and_alignments);
    tcase_add_test(tc, impl_special_at_every_offset);
    tcase_add_test(tc, impl_every_prefix);
    tcase_add_test(tc, impl_random_messages);
    tcase_add_test(tc, impl_guard_pages);
    suite_add_tcase(s, tc);
    return s;
}
