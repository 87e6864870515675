/* test_snapshot.c - state snapshots (ls_state_save / ls_state_load): round
 * trips, loading with another partition count, truncated and corrupt files
 * at every byte, incompatible headers. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ls_state.h"
#include "ls_value.h"
#include "ls_window.h"
#include "suites.h"
#include "test_helpers.h"

/* The aggregates of the states built here (the last one is count(*)). */
static const ls_agg_fn FNS[] = { LS_AGG_COUNT, LS_AGG_SUM, LS_AGG_SUM, LS_AGG_MIN,
                                 LS_AGG_MAX, LS_AGG_AVG, LS_AGG_COUNT };
enum { NFNS = sizeof FNS / sizeof FNS[0] };

/* Key of group k: an int, a string, and for some a double. */
static void key_of(ls_buf *key, int64_t k)
{
    char s[32];
    int n = snprintf(s, sizeof s, "station-%lld", (long long)(k % 97));
    ls_value a = ls_int(k), b = ls_str(s, (size_t)n), c = ls_double((double)k + 0.25);
    ls_buf_reset(key);
    ls_key_put(key, &a);
    ls_key_put(key, &b);
    if (k % 3 == 0) ls_key_put(key, &c);
}

/* Folds a few values into every aggregate of group k. */
static void fill_group(ls_group *g, int nagg, int64_t k)
{
    for (int r = 0; r < 1 + (int)(k % 4); r++) {
        ls_value iv = ls_int(k * 7 - 3 * r);
        ls_value dv = ls_double((double)k / 8.0 + r * 0.1);
        ls_value nv = ls_null();
        for (int a = 0; a < nagg; a++) {
            const ls_value *v;
            switch (a) {
            case 0: v = (k + r) % 5 == 0 ? &nv : &iv; break; /* count(col) with nulls */
            case 2: v = &dv; break;                          /* double sum */
            case 6: v = NULL; break;                         /* count(*) */
            case 5: v = r % 2 ? &dv : &iv; break;            /* avg of ints and doubles */
            default: v = &iv; break;
            }
            ck_assert_int_eq(ls_acc_update(&g->acc[a], FNS[a], v, NULL), 0);
        }
    }
    if (k == 5) { /* a sum that overflowed into a double */
        ls_value big = ls_int(INT64_MAX);
        ls_acc_update(&g->acc[1], LS_AGG_SUM, &big, NULL);
        ck_assert_int_eq(g->acc[1].kind, 1);
    }
}

/* A state of nkeys groups: every other one windowed, updated in various batches. */
static ls_state *build(int nparts, int64_t nkeys)
{
    ls_state *s = ls_state_new(nparts, NFNS);
    ls_buf key;
    ls_buf_init(&key);
    for (int64_t k = 0; k < nkeys; k++) {
        key_of(&key, k);
        int created;
        int64_t wend = k % 2 ? LS_NO_TIME : 1546300800000LL + (k % 10) * 60000;
        ls_group *g = ls_state_upsert(s, key.data, key.len, ls_hash(key.data, key.len), wend,
                                      &created);
        ck_assert_int_eq(created, 1);
        g->updated_batch = k % 7 == 0 ? -1 : k % 5;
        fill_group(g, NFNS, k);
    }
    /* the empty key (a global aggregate) too */
    int created;
    ls_group *g = ls_state_upsert(s, "", 0, ls_hash("", 0), LS_NO_TIME, &created);
    fill_group(g, NFNS, 11);
    ls_buf_free(&key);
    return s;
}

static ls_group *find(const ls_state *s, const char *key, size_t len)
{
    uint64_t h = ls_hash(key, len);
    return ls_state_find(s, key, len, h);
}

/* Same groups with the same windows, batches and accumulators, and each in
 * the partition its hash says. */
static void assert_same_state(const ls_state *a, const ls_state *b)
{
    ck_assert_int_eq(ls_state_nagg(a), ls_state_nagg(b));
    ck_assert_uint_eq(ls_state_groups(a), ls_state_groups(b));
    size_t seen = 0;
    for (int p = 0; p < ls_state_nparts(a); p++) {
        const ls_group *g;
        LS_HMAP_FOREACH(ls_state_part(a, p), g) {
            const char *key = ls_group_key(g, ls_state_nagg(a));
            const ls_group *h = find(b, key, g->key_len);
            ck_assert_msg(h != NULL, "group %zu missing after load", seen);
            ck_assert_uint_eq(h->key_len, g->key_len);
            ck_assert_uint_eq(h->nagg, (uint32_t)ls_state_nagg(b));
            ck_assert_int_eq(h->window_end, g->window_end);
            ck_assert_int_eq(h->updated_batch, g->updated_batch);
            for (int i = 0; i < ls_state_nagg(a); i++) {
                ck_assert_int_eq(h->acc[i].n, g->acc[i].n);
                ck_assert_int_eq(h->acc[i].kind, g->acc[i].kind);
                ck_assert_int_eq(h->acc[i].v.i, g->acc[i].v.i); /* the same bits */
            }
            seen++;
        }
    }
    ck_assert_uint_eq(seen, ls_state_groups(a));
    size_t in_b = 0;
    for (int p = 0; p < ls_state_nparts(b); p++) {
        const ls_group *g;
        LS_HMAP_FOREACH(ls_state_part(b, p), g) {
            uint64_t h = ls_hash(ls_group_key(g, ls_state_nagg(b)), g->key_len);
            ck_assert_int_eq(ls_state_partition_of(b, h), p);
            in_b++;
        }
    }
    ck_assert_uint_eq(in_b, ls_state_groups(b));
}

/* The bytes of a snapshot of s. */
static char *snapshot(const ls_state *s, size_t *n)
{
    FILE *f = tmpfile();
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(ls_state_save(s, f), 0);
    char *bytes = th_read_stream(f, n);
    fclose(f);
    return bytes;
}

/* Loads the bytes into a fresh state; returns load's result, the state in *out. */
static int load_bytes(const char *bytes, size_t n, int nparts, int nagg, ls_state **out,
                      ls_err *err)
{
    FILE *f = tmpfile();
    ck_assert_ptr_nonnull(f);
    if (n) ck_assert_uint_eq(fwrite(bytes, 1, n, f), n);
    rewind(f);
    ls_state *s = ls_state_new(nparts, nagg);
    err->msg[0] = '\0';
    int rc = ls_state_load(s, f, "snap/7", err);
    fclose(f);
    if (out) *out = s;
    else ls_state_free(s);
    return rc;
}

START_TEST(snapshot_round_trip_many_groups)
{
    ls_state *s = build(8, 5000);
    ck_assert_uint_eq(ls_state_groups(s), 5001);
    size_t n;
    char *bytes = snapshot(s, &n);
    ck_assert_uint_gt(n, 5001 * 20);
    ck_assert_int_eq(memcmp(bytes, "LSST", 4), 0);

    ls_err err;
    ls_state *t;
    ck_assert_msg(load_bytes(bytes, n, 8, NFNS, &t, &err) == 0, "%s", err.msg);
    assert_same_state(s, t);
    assert_same_state(t, s);
    ck_assert_uint_eq(ls_state_group_bytes(t), ls_state_group_bytes(s));
    /* the loaded state is a working state: results read the same */
    ls_group *g = find(t, "", 0);
    ck_assert_ptr_nonnull(g);
    ls_value avg = ls_acc_result(&g->acc[5], LS_AGG_AVG);
    ck_assert_int_eq(avg.type, LS_DOUBLE);
    ck_assert_double_eq(avg.u.d, ls_acc_result(&find(s, "", 0)->acc[5], LS_AGG_AVG).u.d);
    /* and saving it again gives the same bytes (same partitions, same order) */
    size_t n2;
    char *again = snapshot(t, &n2);
    ck_assert_uint_eq(n2, n);
    ls_state_free(t);
    free(again);
    free(bytes);
    ls_state_free(s);
}
END_TEST

START_TEST(snapshot_load_other_partition_count)
{
    ls_state *s = build(16, 3000);
    size_t n;
    char *bytes = snapshot(s, &n);
    static const int parts[] = { 1, 3, 7, 16, 64 };
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        ls_err err;
        ls_state *t;
        ck_assert_msg(load_bytes(bytes, n, parts[i], NFNS, &t, &err) == 0, "%s", err.msg);
        ck_assert_int_eq(ls_state_nparts(t), parts[i]);
        assert_same_state(s, t);
        assert_same_state(t, s);
        ck_assert_uint_eq(ls_state_group_bytes(t), ls_state_group_bytes(s));
        /* upserting a loaded key finds it, in its new partition */
        ls_buf key;
        ls_buf_init(&key);
        key_of(&key, 1234);
        int created;
        ls_group *g = ls_state_upsert(t, key.data, key.len, ls_hash(key.data, key.len), 0, &created);
        ck_assert_int_eq(created, 0);
        ck_assert_int_eq(g->window_end, find(s, key.data, key.len)->window_end);
        ls_buf_free(&key);
        /* snapshots of the reloaded state load back into the original count */
        size_t n2;
        char *b2 = snapshot(t, &n2);
        ck_assert_uint_eq(n2, n);
        ls_state *u;
        ck_assert_msg(load_bytes(b2, n2, 16, NFNS, &u, &err) == 0, "%s", err.msg);
        assert_same_state(s, u);
        ls_state_free(u);
        free(b2);
        ls_state_free(t);
    }
    free(bytes);
    ls_state_free(s);
}
END_TEST

START_TEST(snapshot_empty_state)
{
    ls_state *s = ls_state_new(4, 3);
    size_t n;
    char *bytes = snapshot(s, &n);
    ck_assert_uint_eq(n, 4 + 4 + 4 + 8 + 1 + 8 + 8); /* header (with length), end mark, count, checksum */
    ls_err err;
    ls_state *t;
    ck_assert_msg(load_bytes(bytes, n, 2, 3, &t, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(ls_state_groups(t), 0);
    ck_assert_uint_eq(ls_state_group_bytes(t), 0);
    /* usable afterwards */
    int created;
    ls_state_upsert(t, "k", 1, ls_hash("k", 1), LS_NO_TIME, &created);
    ck_assert_int_eq(created, 1);
    ls_state_free(t);
    /* an empty snapshot with another nagg is still refused */
    ck_assert_int_eq(load_bytes(bytes, n, 2, 4, NULL, &err), -1);
    ck_assert_msg(strstr(err.msg, "3 aggregates") != NULL, "%s", err.msg);
    /* and one without aggregates at all round-trips too */
    ls_state *z = ls_state_new(1, 0);
    int c;
    ls_state_upsert(z, "only", 4, ls_hash("only", 4), 99, &c);
    free(bytes);
    bytes = snapshot(z, &n);
    ck_assert_msg(load_bytes(bytes, n, 5, 0, &t, &err) == 0, "%s", err.msg);
    assert_same_state(z, t);
    ls_state_free(t);
    ls_state_free(z);
    free(bytes);
    ls_state_free(s);
}
END_TEST

START_TEST(snapshot_wrong_magic_and_nagg)
{
    ls_state *s = build(4, 20);
    size_t n;
    char *bytes = snapshot(s, &n);
    ls_err err;

    char *bad = malloc(n);
    memcpy(bad, bytes, n);
    memcpy(bad, "LSSX", 4);
    ck_assert_int_eq(load_bytes(bad, n, 4, NFNS, NULL, &err), -1);
    ck_assert_msg(strstr(err.msg, "snap/7") && strstr(err.msg, "not a luastream state snapshot"), "%s", err.msg);
    /* not a snapshot at all */
    const char *json = "{\"batchId\":3}";
    ck_assert_int_eq(load_bytes(json, strlen(json), 4, NFNS, NULL, &err), -1);
    ck_assert_msg(strstr(err.msg, "not a luastream state snapshot") != NULL, "%s", err.msg);

    /* another format version */
    memcpy(bad, bytes, n);
    bad[4] = 9;
    ck_assert_int_eq(load_bytes(bad, n, 4, NFNS, NULL, &err), -1);
    ck_assert_msg(strstr(err.msg, "snap/7") && strstr(err.msg, "version"), "%s", err.msg);

    /* a state with another number of aggregates: refused both ways */
    ck_assert_int_eq(load_bytes(bytes, n, 4, NFNS - 1, NULL, &err), -1);
    ck_assert_msg(strstr(err.msg, "snap/7") && strstr(err.msg, "7 aggregates"), "%s", err.msg);
    ck_assert_int_eq(load_bytes(bytes, n, 4, NFNS + 1, NULL, &err), -1);
    ck_assert_msg(strstr(err.msg, "7 aggregates, the query 8") != NULL, "%s", err.msg);
    ls_state *t;
    ck_assert_int_eq(load_bytes(bytes, n, 4, 0, &t, &err), -1);
    ck_assert_uint_eq(ls_state_groups(t), 0); /* nothing was loaded */
    ls_state_free(t);
    free(bad);
    free(bytes);
    ls_state_free(s);
}
END_TEST

/* A small snapshot: three groups, two aggregates. */
static char *small_snapshot(size_t *n)
{
    ls_state *s = ls_state_new(2, 2);
    static const char *const keys[] = { "alpha", "b", "" };
    for (int i = 0; i < 3; i++) {
        int created;
        size_t len = strlen(keys[i]);
        ls_group *g = ls_state_upsert(s, keys[i], len, ls_hash(keys[i], len),
                                      i == 1 ? 600000 : LS_NO_TIME, &created);
        g->updated_batch = i;
        ls_value v = ls_int(i + 1), d = ls_double(2.5 * i);
        ls_acc_update(&g->acc[0], LS_AGG_SUM, &v, NULL);
        ls_acc_update(&g->acc[1], LS_AGG_AVG, &d, NULL);
    }
    char *bytes = snapshot(s, n);
    ls_state_free(s);
    return bytes;
}

/* Every cut of the file after the header fails as truncated or corrupt,
 * names the file, leaves a state that can still be freed (ASan: no leak). */
START_TEST(snapshot_truncated_at_every_length)
{
    size_t n;
    char *bytes = small_snapshot(&n);
    ls_err err;
    ls_state *t;
    ck_assert_msg(load_bytes(bytes, n, 2, 2, &t, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(ls_state_groups(t), 3);
    ls_state_free(t);
    for (size_t len = 12; len < n; len++) {
        ck_assert_msg(load_bytes(bytes, len, 3, 2, &t, &err) == -1, "a %zu-byte prefix loaded", len);
        ck_assert_msg(strstr(err.msg, "snap/7") != NULL, "%zu: %s", len, err.msg);
        ck_assert_msg(strstr(err.msg, "truncated") || strstr(err.msg, "corrupt"), "%zu: %s", len, err.msg);
        ck_assert_uint_le(ls_state_groups(t), 3);
        ls_state_free(t);
    }
    /* trailing garbage is not silently accepted either: it is ignored or an error */
    char *longer = malloc(n + 5);
    memcpy(longer, bytes, n);
    memcpy(longer + n, "junk!", 5);
    int rc = load_bytes(longer, n + 5, 2, 2, &t, &err);
    if (rc == 0) ck_assert_uint_eq(ls_state_groups(t), 3);
    ls_state_free(t);
    free(longer);
    free(bytes);
}
END_TEST

/* Regression (was a bug in ls_state.c, ls_state_load): a snapshot cut inside its 12-byte
 * header is not reported as truncated: 0-3 bytes give "not a luastream
 * state snapshot" and 4-11 bytes (a correct "LSST" magic, then the file
 * ends) give "unsupported snapshot version", which sends the operator
 * looking for a version mismatch.  The reads of version and nagg fail
 * (get() returns -1) but share the branch of a wrong version.  Expected:
 * every prefix shorter than the file fails with "truncated" (or
 * "corrupt"); a file shorter than the magic may reasonably say so too, so
 * only lengths 4..11 are checked strictly here, plus the empty file. */
START_TEST(snapshot_truncated_header)
{
    size_t n;
    char *bytes = small_snapshot(&n);
    ls_err err;
    char report[4096] = "";
    int bad = 0;
    for (size_t len = 0; len < 12; len++) {
        if (len >= 1 && len < 4) continue;
        ck_assert_int_eq(load_bytes(bytes, len, 2, 2, NULL, &err), -1);
        if (!strstr(err.msg, "truncated") && !strstr(err.msg, "corrupt")) {
            bad++;
            size_t used = strlen(report);
            snprintf(report + used, sizeof report - used, "\n  %zu bytes: %s", len, err.msg);
        }
    }
    free(bytes);
    ck_assert_msg(bad == 0, "%d cut headers not reported as truncated:%s", bad, report);
}
END_TEST

/* Flipping bits of any single byte makes the load fail, with a message
 * that fits the byte hit. */
START_TEST(snapshot_single_byte_corruption)
{
    size_t n;
    char *bytes = small_snapshot(&n);
    char *bad = malloc(n);
    static const unsigned char masks[] = { 0x01, 0x10, 0x80, 0xff };
    ls_err err;
    int as_corrupt = 0, as_truncated = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t m = 0; m < sizeof masks; m++) {
            memcpy(bad, bytes, n);
            bad[i] = (char)(bad[i] ^ masks[m]);
            ls_state *t;
            int rc = load_bytes(bad, n, 2, 2, &t, &err);
            ck_assert_msg(rc == -1, "byte %zu ^ 0x%02x: corrupt snapshot loaded", i, masks[m]);
            ck_assert_msg(strstr(err.msg, "snap/7") != NULL, "%s", err.msg);
            if (i < 4) {
                ck_assert_msg(strstr(err.msg, "not a luastream state snapshot") != NULL, "%s", err.msg);
            } else if (i < 8) { /* 3 ^ 0x01 is 2, an older version still read: the checksum */
                ck_assert_msg(strstr(err.msg, "version") != NULL || strstr(err.msg, "corrupt") != NULL,
                              "%s", err.msg);
            } else if (i < 12) {
                ck_assert_msg(strstr(err.msg, "aggregates") != NULL, "%s", err.msg);
            } else {
                /* the content: caught by the checksum, the count or the
                 * record structure (a length or end mark that no longer
                 * fits the file reads as a cut file) */
                int c = strstr(err.msg, "corrupt") != NULL, tr = strstr(err.msg, "truncated") != NULL;
                ck_assert_msg(c || tr, "byte %zu ^ 0x%02x: %s", i, masks[m], err.msg);
                as_corrupt += c;
                as_truncated += tr;
            }
            ls_state_free(t);
        }
    /* most content bytes are caught by the checksum itself */
    ck_assert_int_gt(as_corrupt, as_truncated);
    free(bad);
    free(bytes);
}
END_TEST

/* Regression (was a bug in ls_state.c, ls_state_load): the checksum is checked only after
 * the whole file was parsed, trusting every length and end mark read on the
 * way.  A flipped bit in a group's key length or "more" mark makes the
 * reader run off the end of the file and report "snapshot is truncated"
 * (43 of the 752 single-byte corruptions of this 200-byte snapshot), as if
 * the file had been cut, and a corrupt key length up to 2^30 is allocated
 * before anything is checked (ls_buf_reserve rounds up to a power of two: a
 * 0x20 flip in the length's high byte reserves 1 GB, up to 2 GB in the
 * worst case).  Expected: any corruption of an intact-length
 * file is reported as corrupt (checksum), e.g. by reading the file and
 * verifying the trailing checksum before parsing it. */
START_TEST(snapshot_corruption_reported_as_corrupt)
{
    size_t n;
    char *bytes = small_snapshot(&n);
    char *bad = malloc(n);
    static const unsigned char masks[] = { 0x01, 0x10, 0x80, 0xff };
    char first[LS_ERRLEN + 64] = "";
    ls_err err;
    int wrong = 0;
    for (size_t i = 12; i < n; i++)
        for (size_t m = 0; m < sizeof masks; m++) {
            memcpy(bad, bytes, n);
            bad[i] = (char)(bad[i] ^ masks[m]);
            ck_assert_int_eq(load_bytes(bad, n, 2, 2, NULL, &err), -1);
            if (!strstr(err.msg, "corrupt")) {
                if (!wrong++) snprintf(first, sizeof first, "byte %zu ^ 0x%02x: %s", i, masks[m], err.msg);
            }
        }
    free(bad);
    free(bytes);
    ck_assert_msg(wrong == 0, "%d corruptions not reported as corrupt, first: %s", wrong, first);
}
END_TEST

/* Two groups with the same key in one snapshot (a checksum-valid but
 * inconsistent file) are refused rather than merged or leaked. */
START_TEST(snapshot_duplicate_key_refused)
{
    ls_state *a = ls_state_new(1, 1), *b = ls_state_new(1, 1);
    int created;
    ls_state_upsert(a, "dup", 3, ls_hash("dup", 3), LS_NO_TIME, &created);
    /* b holds the same key twice: put it in under two different hashes */
    ls_state_upsert(b, "dup", 3, ls_hash("dup", 3), LS_NO_TIME, &created);
    ls_state_upsert(b, "dup", 3, ls_hash("dup", 3) ^ 1, LS_NO_TIME, &created);
    ck_assert_uint_eq(ls_state_groups(b), 2);
    size_t n;
    char *bytes = snapshot(b, &n);
    ls_err err;
    ck_assert_int_eq(load_bytes(bytes, n, 4, 1, NULL, &err), -1);
    ck_assert_msg(strstr(err.msg, "corrupt") != NULL, "%s", err.msg);
    free(bytes);
    ls_state_free(a);
    ls_state_free(b);
}
END_TEST

START_TEST(snapshot_save_reports_write_errors)
{
    ls_state *s = build(2, 10);
    char *dir = th_tmpdir();
    char *path = th_write_file(dir, "ro", "", 0);
    FILE *f = fopen(path, "rb"); /* not writable */
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(ls_state_save(s, f), -1);
    fclose(f);
    free(path);
    th_rmrf(dir);
    free(dir);
    ls_state_free(s);
}
END_TEST

/* A snapshot written to and read from a real file, as checkpoints do. */
START_TEST(snapshot_in_a_file)
{
    char *dir = th_tmpdir();
    ck_assert_ptr_nonnull(dir);
    size_t plen = strlen(dir) + 16;
    char *path = malloc(plen);
    snprintf(path, plen, "%s/state.bin", dir);
    ls_state *s = build(5, 700);
    FILE *f = fopen(path, "wb");
    ck_assert_int_eq(ls_state_save(s, f), 0);
    ck_assert_int_eq(fclose(f), 0);
    f = fopen(path, "rb");
    ls_state *t = ls_state_new(9, NFNS);
    ls_err err;
    ck_assert_msg(ls_state_load(t, f, path, &err) == 0, "%s", err.msg);
    fclose(f);
    assert_same_state(s, t);
    ls_state_free(t);
    /* the same file cut in the middle names its path */
    size_t n;
    char *bytes = th_read_file(path, &n);
    free(th_write_file(dir, "state.bin", bytes, n / 2));
    f = fopen(path, "rb");
    t = ls_state_new(9, NFNS);
    ck_assert_int_eq(ls_state_load(t, f, path, &err), -1);
    ck_assert_msg(strstr(err.msg, path) && strstr(err.msg, "truncated"), "%s", err.msg);
    fclose(f);
    ls_state_free(t);
    free(bytes);
    ls_state_free(s);
    th_rmrf(dir);
    free(dir);
    free(path);
}
END_TEST

Suite *snapshot_suite(void)
{
    Suite *s = suite_create("snapshot");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, snapshot_round_trip_many_groups);
    tcase_add_test(tc, snapshot_load_other_partition_count);
    tcase_add_test(tc, snapshot_empty_state);
    tcase_add_test(tc, snapshot_wrong_magic_and_nagg);
    tcase_add_test(tc, snapshot_truncated_at_every_length);
    tcase_add_test(tc, snapshot_single_byte_corruption);
    tcase_add_test(tc, snapshot_duplicate_key_refused);
    tcase_add_test(tc, snapshot_save_reports_write_errors);
    tcase_add_test(tc, snapshot_in_a_file);
    suite_add_tcase(s, tc);
    tc = tcase_create("regressions");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, snapshot_truncated_header);
    tcase_add_test(tc, snapshot_corruption_reported_as_corrupt);
    suite_add_tcase(s, tc);
    return s;
}
