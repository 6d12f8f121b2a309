/*
 * pool.c - memory pools.
 *
 * A pool hands out memory by bumping a pointer through blocks and frees it
 * all at once. Every request owns one; a finished request's pool goes back
 * to a per-process cache and serves the next request, so requests do not
 * call malloc. Allocations larger than a quarter of a block get their own
 * malloc so that they do not waste a block.
 *
 * Under ASan (asan.h) the free room of every block is poisoned and
 * sq_palloc unpoisons exactly what it hands out, so that writing past an
 * allocation into its neighbour, or using memory after pool_reset, is
 * reported; and a cached pool is poisoned whole until it is reused
 * (cache.h says when).
 */
#include "internal.h"
#include "asan.h"
#include "cache.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define POOL_ALIGN 16

struct pool_block {
    struct pool_block *next;
    char *cur, *end;
};

struct pool_large {
    struct pool_large *next;
};

struct pool_cleanup {
    struct pool_cleanup *next;
    void (*fn)(void *arg);
    void *arg;
};

struct sq_pool {
    struct pool_block *current; /* block allocations come from */
    struct pool_block *extra;   /* blocks after the first */
    struct pool_large *large;
    struct pool_cleanup *cleanups;
    size_t block_size;
    struct pool_block first; /* followed by block_size bytes */
};

static char *align_up(char *p)
{
    return (char *)(((uintptr_t)p + POOL_ALIGN - 1) &
                    ~(uintptr_t)(POOL_ALIGN - 1));
}

sq_pool *pool_new(size_t size)
{
    sq_pool *p = malloc(sizeof(*p) + size);
    if (p == NULL)
        return NULL;
    p->block_size = size;
    p->first.next = NULL;
    p->first.cur = (char *)(p + 1);
    p->first.end = p->first.cur + size;
    SQ_POISON(p->first.cur, size);
    p->current = &p->first;
    p->extra = NULL;
    p->large = NULL;
    p->cleanups = NULL;
    return p;
}

static void pool_release(sq_pool *p)
{
    /* Cleanups may use pool memory, so they run before anything is freed,
     * newest first. */
    while (p->cleanups != NULL) {
        struct pool_cleanup *c = p->cleanups;
        p->cleanups = c->next;
        c->fn(c->arg);
    }
    while (p->large != NULL) {
        struct pool_large *l = p->large;
        p->large = l->next;
        free(l);
    }
    while (p->extra != NULL) {
        struct pool_block *b = p->extra;
        p->extra = b->next;
        free(b);
    }
}

void pool_reset(sq_pool *p)
{
    pool_release(p);
    p->first.cur = (char *)(p + 1);
    SQ_POISON(p->first.cur, (size_t)(p->first.end - p->first.cur));
    p->current = &p->first;
}

void pool_free(sq_pool *p)
{
    if (p == NULL)
        return;
    pool_release(p);
    free(p);
}

static void *pool_large(sq_pool *p, size_t n)
{
    struct pool_large *l;
    if (n > SIZE_MAX - POOL_ALIGN - sizeof(*l))
        return NULL;
    /* the header is padded so that the payload stays aligned */
    l = malloc(POOL_ALIGN + n);
    if (l == NULL)
        return NULL;
    l->next = p->large;
    p->large = l;
    return (char *)l + POOL_ALIGN;
}

/* A new current block, after the first. */
static struct pool_block *block_new(sq_pool *p)
{
    struct pool_block *b = malloc(sizeof(*b) + POOL_ALIGN + p->block_size);

    if (b == NULL)
        return NULL;
    b->cur = (char *)(b + 1);
    b->end = b->cur + POOL_ALIGN + p->block_size;
    SQ_POISON(b->cur, (size_t)(b->end - b->cur));
    b->next = p->extra;
    p->extra = b;
    p->current = b;
    return b;
}

void *sq_palloc(sq_pool *p, size_t n)
{
    struct pool_block *b = p->current;
    char *m = align_up(b->cur);

    /* aligning may step past the end of a nearly full block */
    if (m > b->end || n > (size_t)(b->end - m)) {
        if (n > p->block_size / 4)
            return pool_large(p, n);
        if ((b = block_new(p)) == NULL)
            return NULL;
        m = align_up(b->cur);
    }
    b->cur = m + n;
    SQ_UNPOISON(m, n);
    return m;
}

void *sq_pcalloc(sq_pool *p, size_t n)
{
    void *m = sq_palloc(p, n);
    if (m != NULL)
        memset(m, 0, n);
    return m;
}

char *sq_pstrndup(sq_pool *p, const char *s, size_t n)
{
    char *d;

    if (n == SIZE_MAX) /* n + 1 would wrap to a 0-byte allocation */
        return NULL;
    d = sq_palloc(p, n + 1);
    if (d == NULL)
        return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *sq_pstrdup(sq_pool *p, const char *s)
{
    return sq_pstrndup(p, s, strlen(s));
}

char *sq_psprintf(sq_pool *p, const char *fmt, ...)
{
    va_list ap;
    int n;
    char *d;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    d = sq_palloc(p, (size_t)n + 1);
    if (d == NULL)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(d, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return d;
}

static struct cache cache; /* of POOL_REQUEST pools */

sq_pool *pool_get(void)
{
    sq_pool *p = cache_take(&cache);

    if (p == NULL)
        return pool_new(POOL_REQUEST);
    SQ_UNPOISON(p, sizeof(*p)); /* the block: as sq_palloc hands it out */
    return p;
}

void pool_recycle(sq_pool *p)
{
    if (p == NULL)
        return;
    pool_reset(p); /* which poisons the first block's memory */
    if (p->block_size != POOL_REQUEST || cache_put(&cache, p) < 0) {
        pool_free(p);
        return;
    }
    SQ_POISON(p, sizeof(*p));
}

int sq_pool_cleanup(sq_pool *p, void (*fn)(void *arg), void *arg)
{
    struct pool_cleanup *c = sq_palloc(p, sizeof(*c));
    if (c == NULL)
        return SQ_ERROR;
    c->fn = fn;
    c->arg = arg;
    c->next = p->cleanups;
    p->cleanups = c;
    return 0;
}
