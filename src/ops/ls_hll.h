/* ls_hll.h - HyperLogLog++ as Spark's approx_count_distinct computes it.
 *
 * Spark's HyperLogLogPlusPlusHelper: precision p = ceil(2 log2(1.106 /
 * rsd)), 2^p dense registers, each the largest (leading zeros + 1) of the
 * 64-bit hashes (ls_sparkhash.h) addressed to it by their top p bits; the
 * estimate is the HLL raw estimate with the HLL++ paper's bias correction
 * (k-nearest-neighbour interpolation, k = 6, in the paper's tables, which
 * ls_hll_tables.inc holds as Spark has them) below 5m, linear counting
 * below the paper's thresholds, rounded as Java's Math.round. The same
 * hashes give Spark's estimate exactly; merging two sketches (register by
 * register maximum) equals one sketch of both inputs.
 *
 * A sketch is one flat block of bytes (the "blob" an accumulator owns):
 * a uint32 total length, the precision, three zero bytes, then one byte
 * per register. Spark packs ten 6-bit registers per long; the registers
 * and so the estimate are the same. */
#ifndef LS_HLL_H
#define LS_HLL_H

#include <stddef.h>
#include <stdint.h>

#define LS_HLL_MIN_P 4
#define LS_HLL_MAX_P 18
#define LS_HLL_DEFAULT_RSD 0.05

/* Spark's precision for a relative standard deviation (may be outside
 * LS_HLL_MIN_P..LS_HLL_MAX_P: callers refuse those). */
int ls_hll_precision(double rsd);

/* Bytes of a sketch of precision p. */
size_t ls_hll_size(int p);
/* Writes an empty sketch of precision p into blob (ls_hll_size(p) bytes). */
void ls_hll_init(unsigned char *blob, int p);
int ls_hll_p(const unsigned char *blob);
void ls_hll_add(unsigned char *blob, uint64_t hash);
/* dst takes the maximum of each register; -1 (dst unchanged) when the
 * precisions differ. */
int ls_hll_merge(unsigned char *dst, const unsigned char *src);
/* Spark's estimate of the number of distinct hashes added. */
int64_t ls_hll_estimate(const unsigned char *blob);
/* 0 when p[0..n) is a well-formed sketch (snapshots), else -1. */
int ls_hll_check(const unsigned char *p, size_t n);

#endif
