/* ls_quantile.h - Spark's percentile_approx: the Greenwald-Khanna quantile
 * summary of Spark's QuantileSummaries, kept as Spark's streaming
 * aggregation keeps it.
 *
 * Spark (ApproximatePercentile, PercentileDigest) inserts each value into a
 * head buffer; at 50,000 buffered values they are sorted into the summary's
 * samples (value, g, delta), which are compressed once there are 10,000
 * of them; a summary is compressed (merge threshold 2 * relative error *
 * count) before it is merged or queried, and two summaries merge with each
 * side's rank uncertainty added to the other's interleaved samples. In a
 * streaming query each map task (one per Kafka partition) makes a partial
 * digest of its batch's values; after the shuffle they are merged one into
 * the next, and the result into the digest kept in the state store. A
 * digest here is all of that: the state summary S and the batch's partial
 * digests, one per source partition. ls_qsum_add inserts into the partial
 * of the value's partition, ls_qsum_seal merges the partials in partition
 * order into S (the engine seals at the end of every batch), ls_qsum_merge
 * folds another digest's partials into this one's (the partial states of
 * parallel workers), and a result is that of S merged with the partials.
 * Every step is Spark's, comparisons and rounding included, so the same
 * values in the same batches and partitions give Spark's percentiles;
 * while a group has fewer than 1 / (2 * relative error) values (5,000 at
 * the default accuracy 10,000) nothing is compressed away and the result
 * is exact whatever the batches (NaN aside: Spark's merge compares with <,
 * which NaN never satisfies, so where a NaN lands depends on the order of
 * the merges, which is Spark's here too).
 *
 * The result has the type of the values: integers give integers (Spark's
 * bigint column), timestamps timestamps, anything else (or a mix) doubles;
 * one percentage gives a value, a list of them (list set) a list.
 *
 * A digest is one flat block of bytes (the "blob" an accumulator owns): a
 * header with its length and capacity, then the percentages, the cached
 * results, S's samples, and each partial (its samples and its head
 * buffer). Functions that grow or rebuild it return the new block (the old
 * one is freed). */
#ifndef LS_QUANTILE_H
#define LS_QUANTILE_H

#include <stddef.h>
#include <stdint.h>

#include "ls_value.h"

#define LS_QSUM_DEFAULT_ACCURACY 10000
#define LS_QSUM_HEAD_SIZE 50000        /* Spark's defaultHeadSize */
#define LS_QSUM_COMPRESS_THRESHOLD 10000 /* Spark's defaultCompressThreshold */

/* Kinds of values a digest has seen (they decide the result's type). */
enum { LS_QK_INT = 1, LS_QK_DOUBLE = 2, LS_QK_TIME = 4 };

/* A new empty digest with relative error 1/accuracy and the percentages
 * pcts[0..npct) (npct >= 1, each in [0, 1]). */
unsigned char *ls_qsum_new(int64_t accuracy, const double *pcts, size_t npct, int list);
/* Inserts x (a value of kind LS_QK_*; a timestamp as epoch microseconds)
 * read from source partition part (-1 when not known). */
unsigned char *ls_qsum_add(unsigned char *q, double x, int kind, int64_t part);
/* Merges the batch's partials into the state summary (end of a batch). */
unsigned char *ls_qsum_seal(unsigned char *q);
/* Folds b into q: b's partials into q's of the same partition (a merge of
 * the two), b's summary into q's. */
unsigned char *ls_qsum_merge(unsigned char *q, const unsigned char *b);
/* The percentile(s) of everything inserted, or null when nothing was. A
 * list points into q (a cache of the last result, refreshed here when q
 * changed), valid until q changes. */
ls_value ls_qsum_result(const unsigned char *q);

/* Bytes in use (what a snapshot stores) and bytes allocated. */
size_t ls_qsum_len(const unsigned char *q);
size_t ls_qsum_cap(const unsigned char *q);
/* Values inserted (S's and the partials'). */
int64_t ls_qsum_count(const unsigned char *q);
/* A copy of the digest stored in p[0..n), checked to be well-formed, or
 * NULL (a corrupt snapshot). */
unsigned char *ls_qsum_load(const unsigned char *p, size_t n);

#endif
