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

/* Reads exactly `width` digits at s[*i]. */
static int digits(const char *s, size_t n, size_t *i, int width, int *out)
{
    int v = 0;
    for (int k = 0; k < width; k++) {
        if (*i >= n || !isdigit((unsigned char)s[*i])) return -1;
        v = v * 10 + (s[(*i)++] - '0');
    }
    *out = v;
    return 0;
}

static int expect(const char *s, size_t n, size_t *i, char c)
{
    if (*i >= n || s[*i] != c) return -1;
    (*i)++;
    return 0;
}

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

int ls_time_parse(const char *s, size_t n, int64_t *ms)
{
    size_t i = 0;
    int Y, M, D, h = 0, m = 0, sec = 0, frac = 0;
    int offset_min = 0;
    while (i < n && isspace((unsigned char)s[i])) i++;
    if (digits(s, n, &i, 4, &Y) || expect(s, n, &i, '-') ||
        digits(s, n, &i, 2, &M) || expect(s, n, &i, '-') || digits(s, n, &i, 2, &D))
        return -1;
    if (i < n && (s[i] == 'T' || s[i] == ' ')) {
        i++;
        if (digits(s, n, &i, 2, &h) || expect(s, n, &i, ':') || digits(s, n, &i, 2, &m))
            return -1;
        if (i < n && s[i] == ':') {
            i++;
            if (digits(s, n, &i, 2, &sec)) return -1;
            if (i < n && (s[i] == '.' || s[i] == ',')) {
                i++;
                int nd = 0;
                while (i < n && isdigit((unsigned char)s[i])) {
                    if (nd < 3) frac = frac * 10 + (s[i] - '0');
                    nd++;
                    i++;
                }
                if (nd == 0) return -1;
                for (; nd < 3; nd++) frac *= 10;
            }
        }
        if (i < n && (s[i] == 'Z' || s[i] == 'z')) {
            i++;
        } else if (i < n && (s[i] == '+' || s[i] == '-')) {
            int sign = s[i++] == '-' ? -1 : 1, oh, om = 0;
            if (digits(s, n, &i, 2, &oh)) return -1;
            if (i < n && s[i] == ':') i++;
            if (i < n && isdigit((unsigned char)s[i]) && digits(s, n, &i, 2, &om)) return -1;
            if (oh > 23 || om > 59) return -1;
            offset_min = sign * (oh * 60 + om);
        }
    }
    while (i < n && isspace((unsigned char)s[i])) i++;
    if (i != n) return -1;
    if (M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 60) return -1;

    if (D > days_in_month(Y, M)) return -1; /* e.g. Feb 30 */
    int64_t t = days_from_civil(Y, M, D) * 86400 + h * 3600 + m * 60 + sec;
    *ms = (t - (int64_t)offset_min * 60) * 1000 + frac;
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
