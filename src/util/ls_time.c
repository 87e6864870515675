/* ls_time.c - timestamp parsing/formatting and duration parsing.
 *
 * Every record's event time is parsed and every output window formatted,
 * so both avoid libc's timegm/gmtime_r/snprintf (which showed up at ~10% of
 * a profile of the pipeline) and use the proleptic-Gregorian day-count
 * conversions below, exact for all int64 day numbers we can meet. */
#include "ls_time.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* Days since 1970-01-01 of a civil date (y, m 1..12, d 1..31). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static int days_in_month(int64_t y, int m)
{
    static const int dm[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) return 29;
    return dm[m - 1];
}

/* ---- parsing, as Spark's DateTimeUtils.stringToTimestamp -------------- */

static int trimmable(unsigned char c) { return c <= ' ' || c == 0x7f; }
static int is_dig(char c) { return c >= '0' && c <= '9'; }

/* java.time.ZoneOffset.of: +h, +hh, +hh:mm, +hhmm, +hh:mm:ss, +hhmmss, at
 * most 18 hours. */
static int zone_offset(const char *z, size_t n, int *secs)
{
    if (n < 2 || (z[0] != '+' && z[0] != '-')) return -1;
    int sign = z[0] == '-' ? -1 : 1, f[3] = { 0, 0, 0 };
    const char *p = z + 1;
    size_t m = n - 1;
    if (m == 1 && is_dig(p[0])) {
        f[0] = p[0] - '0';
    } else if (m == 2 || m == 4 || m == 6) { /* hh, hhmm, hhmmss */
        for (size_t k = 0; k < m; k++)
            if (!is_dig(p[k])) return -1;
        for (size_t k = 0; k < m / 2; k++) f[k] = (p[2 * k] - '0') * 10 + (p[2 * k + 1] - '0');
    } else if (m == 5 || m == 8) { /* hh:mm, hh:mm:ss */
        for (size_t k = 0; k < m; k++)
            if ((k % 3 == 2) != (p[k] == ':') || (k % 3 != 2 && !is_dig(p[k]))) return -1;
        for (size_t k = 0; k * 3 < m; k++) f[k] = (p[3 * k] - '0') * 10 + (p[3 * k + 1] - '0');
    } else {
        return -1;
    }
    if (f[0] > 18 || f[1] > 59 || f[2] > 59) return -1;
    int total = f[0] * 3600 + f[1] * 60 + f[2];
    if (total > 18 * 3600) return -1;
    *secs = sign * total;
    return 0;
}

/* A zone after the time: Spark's getZoneId (a one-digit hour gets its
 * leading zero) then ZoneId.of with SHORT_IDS. Fixed offsets only: a
 * region ID (Europe/Paris, PST) needs the time-zone database and is
 * refused. */
static int zone(const char *z, size_t n, int *secs)
{
    while (n && trimmable((unsigned char)z[0])) z++, n--;
    while (n && trimmable((unsigned char)z[n - 1])) n--;
    char t[24];
    if (n == 0 || n > 16) return -1;
    /* +8:00 -> +08:00, +8 -> +08 (the first sign only, as Spark's regex) */
    size_t o = 0;
    int fixed = 0;
    for (size_t k = 0; k < n; k++) {
        t[o++] = z[k];
        if (!fixed && (z[k] == '+' || z[k] == '-') && k + 1 < n && is_dig(z[k + 1]) &&
            (k + 2 == n || z[k + 2] == ':')) {
            t[o++] = '0';
            fixed = 1;
        }
    }
    t[o] = '\0';
    if (strcmp(t, "Z") == 0 || strcmp(t, "UTC") == 0 || strcmp(t, "GMT") == 0 ||
        strcmp(t, "UT") == 0) {
        *secs = 0;
        return 0;
    }
    static const struct { const char *id; int secs; } shorts[] = {
        { "EST", -5 * 3600 }, { "MST", -7 * 3600 }, { "HST", -10 * 3600 },
    };
    for (size_t k = 0; k < 3; k++)
        if (strcmp(t, shorts[k].id) == 0) {
            *secs = shorts[k].secs;
            return 0;
        }
    if (t[0] == '+' || t[0] == '-') return zone_offset(t, o, secs);
    size_t pre = strncmp(t, "UTC", 3) == 0 || strncmp(t, "GMT", 3) == 0 ? 3
               : strncmp(t, "UT", 2) == 0                                ? 2
                                                                          : 0;
    if (pre && (t[pre] == '+' || t[pre] == '-')) return zone_offset(t + pre, o - pre, secs);
    return -1;
}

int ls_time_parse(const char *s, size_t n, int64_t *ms)
{
    /* segments: year, month, day, hour, minute, second, microseconds */
    int64_t seg[7] = { 1, 1, 1, 0, 0, 0, 0 };
    size_t j = 0, end = n;
    while (j < end && trimmable((unsigned char)s[j])) j++;
    while (end > j && trimmable((unsigned char)s[end - 1])) end--;
    int year_sign = 0;
    if (j < end && (s[j] == '-' || s[j] == '+')) year_sign = s[j++] == '-' ? -1 : 1;
    int i = 0, digits = 0, frac_digits = 0;
    int64_t cur = 0;
    const char *tz = NULL;
    size_t tzn = 0;
#define SEG_OK(k, d) ((k) == 6 || ((k) == 0 && (d) >= 4 && (d) <= 6) || ((k) != 0 && (d) > 0 && (d) <= 2))
#define NEXT_SEG()                                                                               \
    do {                                                                                         \
        if (!SEG_OK(i, digits)) return -1;                                                       \
        seg[i++] = cur;                                                                          \
        cur = 0;                                                                                 \
        digits = 0;                                                                              \
    } while (0)
    for (; j < end; j++) {
        char b = s[j];
        if (is_dig(b)) {
            if (i == 6) frac_digits++;
            if (i != 6 || digits < 6) cur = cur * 10 + (b - '0');
            if (cur > 999999) return -1; /* 7+ digits of a year: out of range */
            digits++;
            continue;
        }
        if (i < 2) {
            if (b != '-') return -1; /* time-only text ("12:00", "T12:00") needs today's date */
            NEXT_SEG();
        } else if (i == 2) {
            if (b != ' ' && b != 'T') return -1;
            NEXT_SEG();
        } else if (i == 3 || i == 4) {
            if (b != ':') return -1;
            NEXT_SEG();
        } else if (i == 5 && b == '.') {
            NEXT_SEG();
        } else if (i == 5 || i == 6) {
            NEXT_SEG(); /* the rest is the zone: "Z", "+01:00", " UTC" */
            tz = s + j;
            tzn = end - j;
            j = end;
            break;
        } else {
            return -1;
        }
    }
    if (!tz) {
        if (!SEG_OK(i, digits)) return -1;
        seg[i] = cur;
    }
#undef NEXT_SEG
#undef SEG_OK
    for (; frac_digits < 6; frac_digits++) seg[6] *= 10;
    if (year_sign) seg[0] *= year_sign;
    if (seg[1] < 1 || seg[1] > 12 || seg[2] < 1 || seg[2] > days_in_month(seg[0], (int)seg[1]) ||
        seg[3] > 23 || seg[4] > 59 || seg[5] > 59)
        return -1;
    int offset = 0;
    if (tz && zone(tz, tzn, &offset)) return -1;
    int64_t t = days_from_civil(seg[0], (int)seg[1], (int)seg[2]) * 86400 + seg[3] * 3600 +
                seg[4] * 60 + seg[5] - offset;
    *ms = t * 1000 + seg[6] / 1000;
    return 0;
}

static char *put2(char *p, int v)
{
    p[0] = (char)('0' + v / 10);
    p[1] = (char)('0' + v % 10);
    return p + 2;
}

size_t ls_time_format(int64_t ms, char out[32])
{
    int64_t secs = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
    int frac = (int)(ms - secs * 1000);
    int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
    int64_t sod = secs - days * 86400;
    int64_t y;
    int mo, d;
    civil_from_days(days, &y, &mo, &d);
    if (y < 0 || y > 9999) { /* outside ISO-8601's four-digit years */
        int n = snprintf(out, 32, "%lldms", (long long)ms);
        return n < 0 ? 0 : (size_t)n;
    }
    char *p = out;
    p = put2(p, (int)(y / 100));
    p = put2(p, (int)(y % 100));
    *p++ = '-';
    p = put2(p, mo);
    *p++ = '-';
    p = put2(p, d);
    *p++ = 'T';
    p = put2(p, (int)(sod / 3600));
    *p++ = ':';
    p = put2(p, (int)(sod / 60 % 60));
    *p++ = ':';
    p = put2(p, (int)(sod % 60));
    if (frac) {
        *p++ = '.';
        *p++ = (char)('0' + frac / 100);
        p = put2(p, frac % 100);
    }
    *p++ = 'Z';
    *p = '\0';
    return (size_t)(p - out);
}

size_t ls_time_format_ms(int64_t ms, char out[40])
{
    size_t n = ls_time_format(ms, out);
    if (n < 20 || out[n - 1] != 'Z' || out[19] == '.') return n;
    memcpy(out + 19, ".000Z", 6);
    return 24;
}

static const struct { const char *name; int64_t ms; } units[] = {
    { "ms", 1 }, { "milli", 1 }, { "millis", 1 }, { "millisecond", 1 }, { "milliseconds", 1 },
    { "s", 1000 }, { "sec", 1000 }, { "secs", 1000 }, { "second", 1000 }, { "seconds", 1000 },
    { "m", 60000 }, { "min", 60000 }, { "mins", 60000 }, { "minute", 60000 }, { "minutes", 60000 },
    { "h", 3600000 }, { "hour", 3600000 }, { "hours", 3600000 },
    { "d", 86400000 }, { "day", 86400000 }, { "days", 86400000 },
    { "w", 604800000 }, { "week", 604800000 }, { "weeks", 604800000 },
};

int ls_duration_parse(const char *s, int64_t *ms)
{
    if (!s) return -1;
    while (isspace((unsigned char)*s)) s++;
    if (strncasecmp(s, "interval", 8) == 0 && isspace((unsigned char)s[8])) s += 8;
    while (isspace((unsigned char)*s)) s++;
    if (!isdigit((unsigned char)*s)) return -1;
    char *end;
    double v = strtod(s, &end);
    if (end == s || v < 0 || v > 1e15) return -1;
    while (isspace((unsigned char)*end)) end++;
    size_t ul = strcspn(end, " \t\r\n");
    const char *rest = end + ul;
    while (isspace((unsigned char)*rest)) rest++;
    if (*rest || ul == 0) return -1;
    for (size_t k = 0; k < sizeof units / sizeof units[0]; k++) {
        if (strlen(units[k].name) == ul && strncasecmp(end, units[k].name, ul) == 0) {
            double r = v * (double)units[k].ms + 0.5;
            if (r > 9.0e15) return -1; /* ~285,000 years: surely a mistake */
            *ms = (int64_t)r;
            return 0;
        }
    }
    return -1;
}
