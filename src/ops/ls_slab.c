/* ls_slab.c - chunks for one state partition's groups (see ls_slab.h for why).
 *
 * Chunks are plain malloc blocks. Advising the 2 MiB ones for transparent huge
 * pages (MADV_HUGEPAGE) was measured and dropped: 8% off an update at 1M groups
 * read at random, but faulting a huge page in cost up to twice as much as 4 KiB
 * pages, erratically (the kernel compacts memory for it on a shared machine), on
 * the path that creates groups (bench/README.md, "State micro-benchmark"). */
#include "ls_slab.h"

#include <stdlib.h>
#include <string.h>

#include "ls_util.h"

#define FIRST_CHUNK 4096
#define MAX_CHUNK ((size_t)2 << 20)
#define LARGE_HEADER 16

void ls_slab_init(ls_slab *s)
{
    memset(s, 0, sizeof *s);
    s->next_size = FIRST_CHUNK;
}

void ls_slab_release(ls_slab *s)
{
    for (size_t i = 0; i < s->nchunks; i++) free(s->chunks[i].mem);
    free(s->chunks);
    ls_slab_init(s);
}

void ls_slab_reset(ls_slab *s)
{
    size_t n = 0;
    for (size_t i = 0; i < s->nchunks; i++) {
        ls_slab_chunk *c = &s->chunks[i];
        if (c->large || !c->mem) {
            free(c->mem);
            continue;
        }
        c->used = 0;
        s->chunks[n++] = *c; /* small chunks keep their order */
    }
    s->nchunks = n;
    s->cur = 0;
    memset(s->free, 0, sizeof s->free);
}

size_t ls_slab_bytes(const ls_slab *s)
{
    size_t b = 0;
    for (size_t i = 0; i < s->nchunks; i++) b += s->chunks[i].size;
    return b;
}

static ls_slab_chunk *add_chunk(ls_slab *s)
{
    if (s->nchunks == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 8;
        s->chunks = ls_xrealloc(s->chunks, s->cap * sizeof *s->chunks);
    }
    ls_slab_chunk *c = &s->chunks[s->nchunks++];
    memset(c, 0, sizeof *c);
    return c;
}

/* A large item: a chunk of its own, whose place in chunks is in its header
 * (so that freeing it finds it at once); an empty place is reused. */
static void *alloc_large(ls_slab *s, size_t n)
{
    size_t i;
    for (i = 0; i < s->nchunks && s->chunks[i].mem; i++) continue;
    ls_slab_chunk *c = i < s->nchunks ? &s->chunks[i] : add_chunk(s);
    i = (size_t)(c - s->chunks);
    c->size = LARGE_HEADER + ls_slab_cost(n);
    c->mem = ls_xmalloc(c->size);
    c->used = c->size;
    c->large = 1;
    memcpy(c->mem, &i, sizeof i);
    return c->mem + LARGE_HEADER;
}

void *ls_slab_alloc(ls_slab *s, size_t n)
{
    size_t cost = ls_slab_cost(n);
    if (cost > LS_SLAB_MAX_SMALL) return alloc_large(s, n);
    void **head = &s->free[cost / LS_SLAB_GRAIN];
    if (*head) {
        void *p = *head;
        memcpy(head, p, sizeof *head);
        return p;
    }
    for (;;) {
        if (s->cur < s->nchunks) {
            ls_slab_chunk *c = &s->chunks[s->cur];
            if (c->mem && !c->large && c->size - c->used >= cost) {
                void *p = c->mem + c->used;
                c->used += cost;
                return p;
            }
            s->cur++;
            continue;
        }
        ls_slab_chunk *c = add_chunk(s);
        c->size = s->next_size;
        c->mem = ls_xmalloc(c->size);
        if (s->next_size < MAX_CHUNK) s->next_size *= 2;
        s->cur = s->nchunks - 1;
    }
}

void ls_slab_free(ls_slab *s, void *p, size_t n)
{
    size_t cost = ls_slab_cost(n);
    if (cost > LS_SLAB_MAX_SMALL) {
        char *mem = (char *)p - LARGE_HEADER;
        size_t i;
        memcpy(&i, mem, sizeof i);
        free(mem);
        s->chunks[i].mem = NULL;
        s->chunks[i].size = s->chunks[i].used = 0;
        return;
    }
    void **head = &s->free[cost / LS_SLAB_GRAIN];
    memcpy(p, head, sizeof *head);
    *head = p;
}

void ls_slab_iter_init(ls_slab_iter *it, const ls_slab *s)
{
    it->s = s;
    it->chunk = 0;
    it->off = 0;
}

void *ls_slab_iter_item(ls_slab_iter *it)
{
    while (it->chunk < it->s->nchunks) {
        const ls_slab_chunk *c = &it->s->chunks[it->chunk];
        if (c->mem && c->large) {
            if (it->off == 0) return c->mem + LARGE_HEADER;
        } else if (c->mem && it->off < c->used) {
            return c->mem + it->off;
        }
        it->chunk++;
        it->off = 0;
    }
    return NULL;
}
