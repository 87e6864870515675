/* ls_time.h - event-time values: ISO-8601 timestamps and Spark-style durations.
 *
 * Internally every timestamp is int64 milliseconds since the Unix epoch, UTC.
 * A timestamp without a zone ("2018-12-31T23:57:00.000") is read as UTC. */
#ifndef LS_TIME_H
#define LS_TIME_H

#include <stddef.h>
#include <stdint.h>

/* Parses what Spark's cast from string to timestamp accepts
 * (DateTimeUtils.stringToTimestamp): "[+-]yyyy[y[y]]", "yyyy-[m]m",
 * "yyyy-[m]m-[d]d", then (after " " or "T") "[h]h", "[h]h:[m]m",
 * "[h]h:[m]m:[s]s", "[h]h:[m]m:[s]s.[fraction]" (digits past the
 * microsecond are dropped), then after the seconds an optional zone:
 * "Z", "UTC", "GMT", "UT", an offset ("+01", "+1:00", "+0100",
 * "-08:00", "+01:00:30", "UTC+1", "GMT+01:00"), or EST/MST/HST. No zone
 * means UTC. Surrounding whitespace is ignored. Refused, as by Spark:
 * "23:59:60", "24:00", Feb 30, ",5" fractions, a zone after minutes only.
 * Refused unlike Spark: time-only text (Spark takes today's date) and zone
 * region IDs such as "Europe/Paris" (no time-zone database here).
 * Returns 0 and sets *ms (truncated to milliseconds), or -1. */
int ls_time_parse(const char *s, size_t n, int64_t *ms);

/* Formats ms as "YYYY-MM-DDThh:mm:ssZ", or with ".fffZ" when ms has a
 * sub-second part. out must hold 32 bytes. Returns the length written. */
size_t ls_time_format(int64_t ms, char out[32]);
/* The same with milliseconds always written ("2018-12-31T23:57:00.000Z"),
 * as Spark renders timestamps in JSON and progress reports. */
size_t ls_time_format_ms(int64_t ms, char out[40]);

/* Parses a duration the way Spark writes intervals and triggers:
 * "500 milliseconds", "2 seconds", "1 minute", "10 minutes", "1 hour", "1 day",
 * and the short forms "500ms", "2s", "1m", "1h", "1d". Returns 0 on success. */
int ls_duration_parse(const char *s, int64_t *ms);

#endif
