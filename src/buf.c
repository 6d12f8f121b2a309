/*
 * buf.c - flat byte buffers for responses and request heads.
 *
 * A connection's output is one contiguous buffer: a response head is
 * formatted straight into it, small bodies are copied after it, and one
 * write(2) sends a whole batch.
 *
 * Buffers start as one BUF_BLOCK and go back to a per-process cache of
 * such blocks when a connection has nothing to hold (buf_release), so a
 * busy connection costs no malloc per request and an idle one - a long
 * poll, a quiet keep-alive - holds no buffer at all.
 */
#include "internal.h"
#include "asan.h"
#include "cache.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUF_BLOCK 4096
/* Buffers that grew past this are freed once empty, so that one large
 * response does not pin its memory to the connection. */
#define BUF_KEEP (64 * 1024)

static struct cache cache; /* of BUF_BLOCK blocks */

static char *block_get(void)
{
    char *p = cache_take(&cache);

    if (p == NULL)
        return malloc(BUF_BLOCK);
    SQ_UNPOISON(p, BUF_BLOCK);
    return p;
}

/* A cached block is poisoned until it is reused (cache.h says why). */
void buf_release(struct buf *b)
{
    if (b->p != NULL && b->cap == BUF_BLOCK && cache_put(&cache, b->p) == 0)
        SQ_POISON(b->p, BUF_BLOCK);
    else
        free(b->p);
    b->p = NULL;
    b->off = b->len = b->cap = 0;
}

char *buf_reserve(struct buf *b, size_t n)
{
    size_t used = b->len - b->off, cap;
    char *p;

    /* first, so that even n = 0 gets memory, not the NULL + 0 of a buffer
     * that has none (sq_write(r, p, 0) on a fresh connection) */
    if (b->p == NULL && n <= BUF_BLOCK) {
        if ((b->p = block_get()) == NULL)
            return NULL;
        b->cap = BUF_BLOCK;
        return b->p;
    }
    if (b->cap - b->len >= n)
        return b->p + b->len;
    /* move pending bytes to the front before growing */
    if (b->off > 0 && b->cap - used >= n) {
        memmove(b->p, b->p + b->off, used);
        b->off = 0;
        b->len = used;
        return b->p + b->len;
    }
    cap = b->cap ? b->cap : BUF_BLOCK;
    while (cap - used < n) {
        if (cap > SIZE_MAX / 2)
            return NULL;
        cap *= 2;
    }
    if (b->off > 0) {
        memmove(b->p, b->p + b->off, used);
        b->off = 0;
        b->len = used;
    }
    if ((p = realloc(b->p, cap)) == NULL)
        return NULL;
    b->p = p;
    b->cap = cap;
    return b->p + b->len;
}

int buf_add(struct buf *b, const void *data, size_t n)
{
    char *p = buf_reserve(b, n);

    if (p == NULL)
        return -1;
    memcpy(p, data, n);
    b->len += n;
    return 0;
}

int buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
    va_list copy;
    size_t room = b->cap - b->len;
    int n;

    va_copy(copy, ap);
    n = vsnprintf(room ? b->p + b->len : NULL, room, fmt, copy);
    va_end(copy);
    if (n < 0)
        return -1;
    if ((size_t)n >= room) {
        if (buf_reserve(b, (size_t)n + 1) == NULL)
            return -1;
        vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    }
    b->len += (size_t)n;
    return 0;
}

void buf_consume(struct buf *b, size_t n)
{
    b->off += n;
    if (b->off < b->len)
        return;
    b->off = b->len = 0;
    if (b->cap > BUF_KEEP)
        buf_free(b);
}

void buf_clear(struct buf *b)
{
    buf_consume(b, b->len - b->off);
}

void buf_free(struct buf *b)
{
    buf_release(b);
}
