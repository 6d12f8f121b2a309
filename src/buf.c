/*
 * buf.c - flat byte buffers for responses.
 *
 * A connection's output is one contiguous buffer: a response head is
 * formatted straight into it, small bodies are copied after it, and one
 * write(2) sends a whole batch. This costs no allocation per request (the
 * memory is kept while the connection lives) where a chain of evbuffer
 * segments cost a malloc and a free per response.
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Buffers that grew past this are released once empty, so that one large
 * response does not pin its memory to an idle connection. */
#define BUF_KEEP (64 * 1024)

char *buf_reserve(struct buf *b, size_t n)
{
    size_t used = b->len - b->off, cap;
    char *p;

    if (b->cap - b->len >= n)
        return b->p + b->len;
    /* move pending bytes to the front before growing */
    if (b->off > 0 && b->cap - used >= n) {
        memmove(b->p, b->p + b->off, used);
        b->off = 0;
        b->len = used;
        return b->p + b->len;
    }
    cap = b->cap ? b->cap : 4096;
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
    free(b->p);
    b->p = NULL;
    b->off = b->len = b->cap = 0;
}
