/*
 * cache.h - the per-process caches of pool.c and buf.c: memory that one
 * request or connection gives back and the next one takes, without a
 * malloc per request.
 *
 * A plain build hands out the newest entry (LIFO), whose memory is still
 * warm in the CPU's cache. Under ASan that would hide a use after
 * recycle: the very next request would get the memory back, and a pointer
 * kept from the finished one would silently alias its data. So under ASan
 * the owner poisons what it caches, and the cache hands entries out
 * oldest first, and only once CACHE_DELAY newer ones wait behind them: a
 * stale pointer is reported for at least the next CACHE_DELAY recycles.
 * Freeing instead would be as strong, but would leave the memory to ASan's
 * own quarantine (256 MB by default), and a sanitizer build could no
 * longer measure what an idle connection costs.
 */
#ifndef SQUALL_CACHE_H
#define SQUALL_CACHE_H

#include "asan.h"

#include <stddef.h>

#define CACHE_SIZE 512 /* entries: enough for what is active at one time */
/* Under ASan: long enough for any test to catch a stale pointer, short
 * enough that what waits stays small (64 pools or blocks: 256 kB). */
#define CACHE_DELAY (SQ_ASAN ? 64 : 0)

struct cache {
    void *items[CACHE_SIZE];
    size_t first, n; /* a ring: items[first] is the oldest of n */
};

/* Keeps item; -1 when the cache is full (the caller frees it). */
static inline int cache_put(struct cache *c, void *item)
{
    if (c->n == CACHE_SIZE)
        return -1;
    c->items[(c->first + c->n++) % CACHE_SIZE] = item;
    return 0;
}

/* An entry to reuse, or NULL (the caller allocates). */
static inline void *cache_take(struct cache *c)
{
    void *item;

    if (c->n <= CACHE_DELAY)
        return NULL;
    if (!SQ_ASAN)
        return c->items[(c->first + --c->n) % CACHE_SIZE];
    item = c->items[c->first];
    c->first = (c->first + 1) % CACHE_SIZE;
    c->n--;
    return item;
}

#endif
