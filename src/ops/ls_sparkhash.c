/* ls_sparkhash.c - Spark's XxHash64Function over luastream values (see ls_sparkhash.h). */
#include "ls_sparkhash.h"

#include <math.h>
#include <string.h>
#include <xxhash.h>

static void put_le(unsigned char *b, uint64_t v, int n)
{
    for (int i = 0; i < n; i++) b[i] = (unsigned char)(v >> (8 * i));
}

uint64_t ls_spark_hash_long(int64_t v)
{
    unsigned char b[8];
    put_le(b, (uint64_t)v, 8);
    return XXH64(b, 8, LS_SPARK_HASH_SEED);
}

uint64_t ls_spark_hash_int(int32_t v)
{
    unsigned char b[4];
    put_le(b, (uint32_t)v, 4);
    return XXH64(b, 4, LS_SPARK_HASH_SEED);
}

uint64_t ls_spark_hash_double(double d)
{
    if (d == 0.0) d = 0.0;        /* -0.0 hashes as 0.0 */
    uint64_t bits;
    if (isnan(d)) bits = 0x7ff8000000000000ULL; /* Double.doubleToLongBits: one NaN */
    else memcpy(&bits, &d, 8);
    return ls_spark_hash_long((int64_t)bits);
}

uint64_t ls_spark_hash_bytes(const void *p, size_t n)
{
    return XXH64(n ? p : "", n, LS_SPARK_HASH_SEED);
}

int ls_spark_hash_value(const ls_value *v, int int32, uint64_t *out)
{
    switch (v->type) {
    case LS_INT:
        *out = int32 ? ls_spark_hash_int((int32_t)v->u.i) : ls_spark_hash_long(v->u.i);
        return 0;
    case LS_DOUBLE: *out = ls_spark_hash_double(v->u.d); return 0;
    case LS_STR: *out = ls_spark_hash_bytes(v->u.s.p, v->u.s.n); return 0;
    case LS_BOOL: *out = ls_spark_hash_int(v->u.b ? 1 : 0); return 0;
    case LS_TIME: /* Spark's timestamps are epoch microseconds */
        *out = ls_spark_hash_long((int64_t)((uint64_t)v->u.i * 1000u));
        return 0;
    default: return -1;
    }
}
