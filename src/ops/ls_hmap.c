/* ls_hmap.c - linear-probing hash index (see ls_hmap.h). */
#include "ls_hmap.h"

#include <stdlib.h>
#include <string.h>

#include "ls_util.h"

void ls_hmap_init(ls_hmap *m, ls_hmap_key_fn key_of)
{
    m->slots = NULL;
    m->cap = m->count = 0;
    m->key_of = key_of;
}

void ls_hmap_free(ls_hmap *m)
{
    free(m->slots);
    m->slots = NULL;
    m->cap = m->count = 0;
}

void *ls_hmap_get(const ls_hmap *m, const char *key, size_t len, uint64_t hash)
{
    if (!m->cap) return NULL;
    size_t mask = m->cap - 1;
    for (size_t i = hash & mask;; i = (i + 1) & mask) {
        const ls_hslot *s = &m->slots[i];
        if (!s->item) return NULL;
        if (s->hash == hash) {
            size_t klen;
            const char *k = m->key_of(s->item, &klen);
            if (klen == len && memcmp(k, key, len) == 0) return s->item;
        }
    }
}

static void place(ls_hslot *slots, size_t cap, void *item, uint64_t hash)
{
    size_t mask = cap - 1;
    size_t i = hash & mask;
    while (slots[i].item) i = (i + 1) & mask;
    slots[i].hash = hash;
    slots[i].item = item;
}

static void resize(ls_hmap *m, size_t cap)
{
    ls_hslot *slots = ls_xcalloc(cap, sizeof *slots);
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].item) place(slots, cap, m->slots[i].item, m->slots[i].hash);
    free(m->slots);
    m->slots = slots;
    m->cap = cap;
}

void ls_hmap_put(ls_hmap *m, void *item, uint64_t hash)
{
    if ((m->count + 1) * 4 > m->cap * 3) resize(m, m->cap ? m->cap * 2 : 16);
    place(m->slots, m->cap, item, hash);
    m->count++;
}

void ls_hmap_put_at(ls_hmap *m, size_t slot, void *item, uint64_t hash)
{
    if (slot == LS_HMAP_NO_SLOT || (m->count + 1) * 4 > m->cap * 3) {
        ls_hmap_put(m, item, hash);
        return;
    }
    m->slots[slot].hash = hash;
    m->slots[slot].item = item;
    m->count++;
}

void ls_hmap_reserve(ls_hmap *m, size_t n)
{
    size_t cap = m->cap ? m->cap : 16;
    while (n * 4 > cap * 3) cap *= 2;
    if (cap != m->cap) resize(m, cap);
}

void ls_hmap_clear(ls_hmap *m)
{
    if (m->cap) memset(m->slots, 0, m->cap * sizeof *m->slots);
    m->count = 0;
}

void ls_hmap_filter(ls_hmap *m, int (*keep)(void *item, void *ctx),
                    void (*drop)(void *item, void *ctx), void *ctx)
{
    if (!m->cap) return;
    ls_hslot *old = m->slots;
    size_t cap = m->cap;
    m->slots = ls_xcalloc(cap, sizeof *m->slots);
    m->count = 0;
    for (size_t i = 0; i < cap; i++) {
        if (!old[i].item) continue;
        if (keep(old[i].item, ctx)) {
            place(m->slots, cap, old[i].item, old[i].hash);
            m->count++;
        } else if (drop) {
            drop(old[i].item, ctx);
        }
    }
    free(old);
}

size_t ls_hmap_bytes(const ls_hmap *m) { return m->cap * sizeof(ls_hslot); }
