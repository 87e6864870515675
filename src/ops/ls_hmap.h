/* ls_hmap.h - an open-addressing hash index over caller-owned items.
 *
 * The map stores (hash, item pointer) pairs with linear probing; the item
 * itself carries its key, which the map reads through a key_of callback.
 * The aggregation state and the static join tables both use it: they own
 * their items, the map only indexes them. */
#ifndef LS_HMAP_H
#define LS_HMAP_H

#include <stddef.h>
#include <stdint.h>

typedef const char *(*ls_hmap_key_fn)(const void *item, size_t *len);

typedef struct ls_hslot {
    uint64_t hash;
    void *item; /* NULL = empty */
} ls_hslot;

typedef struct ls_hmap {
    ls_hslot *slots;
    size_t cap;   /* power of two */
    size_t count;
    ls_hmap_key_fn key_of;
} ls_hmap;

void ls_hmap_init(ls_hmap *m, ls_hmap_key_fn key_of);
void ls_hmap_free(ls_hmap *m); /* frees the index, not the items */
void *ls_hmap_get(const ls_hmap *m, const char *key, size_t len, uint64_t hash);
/* Inserts an item whose key is not present yet. */
void ls_hmap_put(ls_hmap *m, void *item, uint64_t hash);
/* One probe for find-or-insert: the caller probed from hash & (cap - 1) and
 * stopped at the empty slot `slot` (LS_HMAP_NO_SLOT when cap is 0); this
 * puts item there, or, when the map must grow first, wherever it lands in
 * the grown index. */
#define LS_HMAP_NO_SLOT ((size_t)-1)
void ls_hmap_put_at(ls_hmap *m, size_t slot, void *item, uint64_t hash);
/* Grows the index so that n items fit without another resize. */
void ls_hmap_reserve(ls_hmap *m, size_t n);
/* Forgets every item (the caller frees them), keeping the index's size. */
void ls_hmap_clear(ls_hmap *m);
/* Keeps only the items for which keep(item, ctx) is true; calls drop on the
 * others (which may free them). Rebuilds the index in place. */
void ls_hmap_filter(ls_hmap *m, int (*keep)(void *item, void *ctx),
                    void (*drop)(void *item, void *ctx), void *ctx);
size_t ls_hmap_bytes(const ls_hmap *m);

#define LS_HMAP_FOREACH(m, var)                                   \
    for (size_t var##_i = 0; var##_i < (m)->cap; var##_i++)       \
        if (((var) = (m)->slots[var##_i].item) != NULL)

#endif
