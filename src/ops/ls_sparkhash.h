/* ls_sparkhash.h - the 64-bit hash Spark gives a value: XXH64 with seed 42
 * of the value as Spark's UnsafeRow holds it (Spark's XxHash64Function, the
 * hash of approx_count_distinct and of the SQL function xxhash64).
 *
 * Spark hashes by type: a long (bigint, and a timestamp as its epoch
 * microseconds) as its 8 bytes, an int (and a boolean as 1 or 0) as its 4
 * bytes, a double as the 8 bytes of its bits with -0.0 made 0.0 and every
 * NaN the one canonical NaN (Double.doubleToLongBits), a string as its
 * UTF-8 bytes. Spark's XXH64 is the reference algorithm read little-endian,
 * so Debian's libxxhash computes it; the bytes are laid out little-endian
 * here whatever the host. */
#ifndef LS_SPARKHASH_H
#define LS_SPARKHASH_H

#include <stddef.h>
#include <stdint.h>

#include "ls_value.h"

#define LS_SPARK_HASH_SEED 42

uint64_t ls_spark_hash_long(int64_t v);
uint64_t ls_spark_hash_int(int32_t v);
uint64_t ls_spark_hash_double(double d);
uint64_t ls_spark_hash_bytes(const void *p, size_t n);

/* The hash of a non-null value v as Spark hashes the column type it comes
 * from: integers as bigint (as int when int32 is set: a column the source
 * schema declares "int"), doubles, strings, booleans, timestamps. Returns
 * -1 for null and for a value Spark has no column type for (a window). */
int ls_spark_hash_value(const ls_value *v, int int32, uint64_t *out);

#endif
