/* ls_time.h - event-time values: ISO-8601 timestamps and Spark-style durations.
 *
 * Internally every timestamp is int64 milliseconds since the Unix epoch, UTC.
 * A timestamp without a zone ("2018-12-31T23:57:00.000") is read as UTC. */
#ifndef LS_TIME_H
#define LS_TIME_H

#include <stddef.h>
#include <stdint.h>

/* Parses "YYYY-MM-DD[(T| )hh:mm[:ss[.fff]]][Z|(+|-)hh[:]mm]".
 * Returns 0 and sets *ms on success, -1 on malformed or impossible dates. */
int ls_time_parse(const char *s, size_t n, int64_t *ms);

/* Formats ms as "YYYY-MM-DDThh:mm:ssZ", or with ".fffZ" when ms has a
 * sub-second part. out must hold 32 bytes. Returns the length written. */
size_t ls_time_format(int64_t ms, char out[32]);

/* Parses a duration the way Spark writes intervals and triggers:
 * "500 milliseconds", "2 seconds", "1 minute", "10 minutes", "1 hour", "1 day",
 * and the short forms "500ms", "2s", "1m", "1h", "1d". Returns 0 on success. */
int ls_duration_parse(const char *s, int64_t *ms);

#endif
