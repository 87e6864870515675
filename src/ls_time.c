/* ls_time.c - timestamp parsing/formatting (libc timegm/gmtime_r do the
 * calendar arithmetic) and duration parsing. */
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

    struct tm tm = { 0 };
    tm.tm_year = Y - 1900;
    tm.tm_mon = M - 1;
    tm.tm_mday = D;
    tm.tm_hour = h;
    tm.tm_min = m;
    tm.tm_sec = sec;
    time_t t = timegm(&tm);
    if (tm.tm_mday != D || tm.tm_mon != M - 1) return -1; /* e.g. Feb 30 */
    *ms = ((int64_t)t - (int64_t)offset_min * 60) * 1000 + frac;
    return 0;
}

size_t ls_time_format(int64_t ms, char out[32])
{
    int64_t secs = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
    int frac = (int)(ms - secs * 1000);
    time_t t = (time_t)secs;
    struct tm tm;
    if (!gmtime_r(&t, &tm)) {
        out[0] = '\0';
        return 0;
    }
    int n;
    if (frac)
        n = snprintf(out, 32, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
    else
        n = snprintf(out, 32, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    return n < 0 ? 0 : (size_t)n;
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
