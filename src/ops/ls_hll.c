/* ls_hll.c - HyperLogLog++ registers and Spark's estimate (see ls_hll.h). */
#include "ls_hll.h"

#include <math.h>
#include <string.h>

#include "ls_hll_tables.inc"

#define HEADER 8
#define K 6 /* neighbours interpolated for the bias */

int ls_hll_precision(double rsd)
{
    if (!(rsd > 0) || !isfinite(rsd)) return -1;
    double p = ceil(2.0 * log(1.106 / rsd) / log(2.0));
    if (p < 0) return -1;
    if (p > 63) return 64;
    return (int)p;
}

size_t ls_hll_size(int p) { return HEADER + ((size_t)1 << p); }

void ls_hll_init(unsigned char *blob, int p)
{
    uint32_t len = (uint32_t)ls_hll_size(p);
    memset(blob, 0, len);
    memcpy(blob, &len, 4);
    blob[4] = (unsigned char)p;
}

int ls_hll_p(const unsigned char *blob) { return blob[4]; }

void ls_hll_add(unsigned char *blob, uint64_t x)
{
    int p = blob[4];
    uint64_t idx = x >> (64 - p);
    uint64_t w = (x << p) | ((uint64_t)1 << (p - 1)); /* never 0: the padding bit */
    unsigned char pw = (unsigned char)(__builtin_clzll(w) + 1);
    unsigned char *reg = blob + HEADER + idx;
    if (pw > *reg) *reg = pw;
}

int ls_hll_merge(unsigned char *dst, const unsigned char *src)
{
    if (dst[4] != src[4]) return -1;
    size_t m = (size_t)1 << dst[4];
    unsigned char *a = dst + HEADER;
    const unsigned char *b = src + HEADER;
    for (size_t i = 0; i < m; i++)
        if (b[i] > a[i]) a[i] = b[i];
    return 0;
}

/* java.util.Arrays.binarySearch(double[], key): the index of key, or
 * -(insertion point) - 1. Reproduced exactly: a table that is not quite
 * sorted (precision 5 has 128.3464 before 128.3462) is searched the same. */
static int java_binary_search(const double *a, int n, double key)
{
    int low = 0, high = n - 1;
    while (low <= high) {
        int mid = (int)((unsigned)(low + high) >> 1);
        double v = a[mid];
        if (v < key) {
            low = mid + 1;
        } else if (v > key) {
            high = mid - 1;
        } else {
            int64_t vb, kb;
            memcpy(&vb, &v, 8);
            memcpy(&kb, &key, 8);
            if (vb == kb) return mid;
            if (vb < kb) low = mid + 1;
            else high = mid - 1;
        }
    }
    return -(low + 1);
}

static double estimate_bias(int p, double e)
{
    const double *est = hll_raw[p - 4], *bias = hll_bias[p - 4];
    int n = hll_raw_len[p - 4];
    int ix = java_binary_search(est, n, e);
    int nearest = ix < 0 ? -(ix + 1) : ix;
    int low = nearest - K + 1 > 0 ? nearest - K + 1 : 0;
    int high = low + K < n ? low + K : n;
    while (high < n && (e - est[high]) * (e - est[high]) < (e - est[low]) * (e - est[low])) {
        low++;
        high++;
    }
    double sum = 0.0;
    for (int i = low; i < high; i++) sum += bias[i];
    return sum / (high - low);
}

/* Java's Math.round for the non-negative estimates here: floor(x + 1/2)
 * computed without the rounding error of adding 0.5. */
static int64_t java_round(double x)
{
    double f = floor(x);
    if (x - f >= 0.5) f += 1.0;
    if (f >= 9.2233720368547758e18) return INT64_MAX;
    return (int64_t)f;
}

int64_t ls_hll_estimate(const unsigned char *blob)
{
    int p = blob[4];
    int m = 1 << p;
    const unsigned char *reg = blob + HEADER;
    double z_inverse = 0.0, v = 0.0;
    for (int i = 0; i < m; i++) { /* in register order, as Spark sums */
        z_inverse += 1.0 / (double)((uint64_t)1 << reg[i]);
        if (reg[i] == 0) v += 1.0;
    }
    double md = (double)m, alpha_m2;
    switch (p) {
    case 4: alpha_m2 = 0.673 * md * md; break;
    case 5: alpha_m2 = 0.697 * md * md; break;
    case 6: alpha_m2 = 0.709 * md * md; break;
    default: alpha_m2 = (0.7213 / (1.0 + 1.079 / md)) * md * md; break;
    }
    double e = alpha_m2 / z_inverse;
    double corrected = p < 19 && e < 5.0 * md ? e - estimate_bias(p, e) : e;
    double estimate = corrected;
    if (v > 0) {
        double h = md * log(md / v); /* linear counting for small cardinalities */
        if ((p < 19 && h <= hll_thresholds[p - 4]) || e <= 2.5 * md) estimate = h;
    }
    return java_round(estimate);
}

int ls_hll_check(const unsigned char *b, size_t n)
{
    if (n < HEADER) return -1;
    uint32_t len;
    memcpy(&len, b, 4);
    int p = b[4];
    if (p < LS_HLL_MIN_P || p > LS_HLL_MAX_P || len != n || n != ls_hll_size(p) || b[5] || b[6] ||
        b[7])
        return -1;
    for (size_t i = HEADER; i < n; i++)
        if (b[i] > 64 - p + 1) return -1; /* no hash has more leading zeros */
    return 0;
}
