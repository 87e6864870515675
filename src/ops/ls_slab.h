/* ls_slab.h - the memory of one state partition's groups: a slab of chunks.
 *
 * A partition's groups were one malloc each: about 40 ns to allocate and 30-90 ns
 * to free (a cache miss per group at 1M groups), 8 bytes of malloc header each, and
 * the groups of a partition scattered through the heap. Here they are carved from
 * chunks that belong to the partition (4 KiB, doubling up to 2 MiB), so:
 * allocating is a pointer bump; a freed item (an evicted group) goes to a free
 * list of its size class and is reused by the next item of that class; clearing a
 * worker's partial state after its merge is a reset, not a free per group; freeing
 * the partition frees its chunks. Items are 16-byte granules; an item above
 * LS_SLAB_MAX_SMALL bytes gets a chunk of its own, freed with it.
 *
 * The slab does not know its items' sizes: the owner passes the size to free and,
 * to walk the items in address order (sequential memory, unlike a walk through a
 * hash index), says how big each item it meets is. A freed item keeps its bytes
 * past the first 8 (where the free list links it), so an owner that marks its dead
 * items there can still size and skip them during a walk.
 *
 * One slab is used by one thread at a time (a partition is merged by one worker). */
#ifndef LS_SLAB_H
#define LS_SLAB_H

#include <stddef.h>
#include <stdint.h>

#define LS_SLAB_GRAIN 16
#define LS_SLAB_MAX_SMALL 1024
#define LS_SLAB_CLASSES (LS_SLAB_MAX_SMALL / LS_SLAB_GRAIN + 1)

typedef struct ls_slab_chunk {
    char *mem;   /* NULL: an empty place (a large item's chunk, freed) */
    size_t size; /* bytes of mem */
    size_t used; /* bytes handed out from the start (items are contiguous) */
    int large;   /* holds one item of more than LS_SLAB_MAX_SMALL bytes, after a
                    16-byte header holding the chunk's place */
} ls_slab_chunk;

typedef struct ls_slab {
    ls_slab_chunk *chunks; /* small chunks in the order they were taken into use */
    size_t nchunks, cap;
    size_t cur;            /* the chunk small items are bumped from (nchunks: none yet) */
    size_t next_size;      /* size of the next small chunk */
    void *free[LS_SLAB_CLASSES]; /* by size class: freed items, linked through their first 8 bytes */
} ls_slab;

void ls_slab_init(ls_slab *s);
/* Frees every chunk; the slab is empty and can be used again. */
void ls_slab_release(ls_slab *s);
/* Every item freed at once; small chunks are kept for reuse, large ones freed. */
void ls_slab_reset(ls_slab *s);
/* Bytes of every chunk (what the slab holds, used or not). */
size_t ls_slab_bytes(const ls_slab *s);

/* The bytes an item of n bytes takes (what memory accounting counts). */
static inline size_t ls_slab_cost(size_t n)
{
    return (n + LS_SLAB_GRAIN - 1) & ~(size_t)(LS_SLAB_GRAIN - 1);
}

/* n bytes (n >= 8), 16-byte aligned, uninitialised. Aborts when out of memory. */
void *ls_slab_alloc(ls_slab *s, size_t n);
/* Gives back an item of n bytes (n as allocated). Its first 8 bytes are
 * overwritten; the rest is left as it was. */
void ls_slab_free(ls_slab *s, void *p, size_t n);

/* Walking the items in address order, chunk by chunk: every item allocated
 * since the last reset, freed ones included (the owner tells them apart).
 *   ls_slab_iter it; ls_slab_iter_init(&it, slab);
 *   for (void *p; (p = ls_slab_iter_item(&it)) != NULL; ls_slab_iter_skip(&it, size of p)) */
typedef struct ls_slab_iter {
    const ls_slab *s;
    size_t chunk, off;
} ls_slab_iter;

void ls_slab_iter_init(ls_slab_iter *it, const ls_slab *s);
/* The item at the iterator, or NULL at the end. */
void *ls_slab_iter_item(ls_slab_iter *it);
/* Past the current item, of n bytes as allocated. */
static inline void ls_slab_iter_skip(ls_slab_iter *it, size_t n)
{
    it->off += ls_slab_cost(n);
}

#endif
