/* ls_acc_codec.c - an accumulator's bytes (see ls_acc_codec.h). */
#include "ls_acc_codec.h"

#include <string.h>

void ls_acc_encode(const ls_acc *a, void (*put)(void *ctx, const void *p, size_t n), void *ctx)
{
    put(ctx, &a->n, 8);
    put(ctx, &a->kind, 1);
    const unsigned char *sk;
    uint64_t skn = ls_acc_sketch_bytes(a, &sk);
    if (a->kind == LS_ACC_STR) {
        uint32_t n;
        memcpy(&n, a->v.s, 4);
        put(ctx, a->v.s, 4 + (size_t)n);
    } else if (skn) {
        put(ctx, &skn, 8);
        put(ctx, sk, (size_t)skn);
    } else {
        put(ctx, &a->v, 8);
    }
}

static int take(const unsigned char **p, const unsigned char *end, void *out, size_t n)
{
    if ((size_t)(end - *p) < n) return -1;
    memcpy(out, *p, n);
    *p += n;
    return 0;
}

int ls_acc_decode(const unsigned char **p, const unsigned char *end, uint32_t version, ls_acc *a)
{
    if (version == 1) /* n, value, is_double */
        return take(p, end, &a->n, 8) || take(p, end, &a->v, 8) || take(p, end, &a->kind, 1) ||
                       a->kind > LS_ACC_DOUBLE
                   ? -1
                   : 0;
    uint8_t kind;
    if (take(p, end, &a->n, 8) || take(p, end, &kind, 1) ||
        kind > (version >= 3 ? LS_ACC_QSUM : LS_ACC_TIME))
        return -1;
    if (kind == LS_ACC_HLL || kind == LS_ACC_QSUM) {
        uint64_t n;
        if (take(p, end, &n, 8) || (uint64_t)(end - *p) < n ||
            ls_acc_load_sketch(a, kind, *p, (size_t)n))
            return -1;
        *p += n;
        return 0;
    }
    if (kind == LS_ACC_STR) {
        uint32_t n;
        if (take(p, end, &n, 4) || (size_t)(end - *p) < n) return -1;
        ls_acc_set_str(a, (const char *)*p, n);
        *p += n;
        return 0;
    }
    a->kind = kind;
    return take(p, end, &a->v, 8);
}

static void put_buf(void *b, const void *p, size_t n)
{
    ls_buf_append(b, p, n);
}

void ls_group_encode(int64_t window_end, const ls_acc *acc, int nagg, ls_buf *out)
{
    ls_buf_putc(out, LS_GROUP_CODEC_VERSION);
    ls_buf_append(out, &window_end, 8);
    for (int a = 0; a < nagg; a++) ls_acc_encode(&acc[a], put_buf, out);
}

static void release_all(ls_acc *acc, int n)
{
    for (int k = 0; k < n; k++) ls_acc_release(&acc[k]);
}

int ls_group_decode(const void *data, size_t n, int nagg, int64_t *window_end, ls_acc *acc)
{
    const unsigned char *p = data, *end = p + n;
    if (n < 9 || p[0] != LS_GROUP_CODEC_VERSION) return -1;
    memcpy(window_end, p + 1, 8);
    p += 9;
    for (int a = 0; a < nagg; a++)
        if (ls_acc_decode(&p, end, 3, &acc[a])) {
            release_all(acc, a + 1);
            return -1;
        }
    if (p != end) {
        release_all(acc, nagg);
        return -1;
    }
    return 0;
}
