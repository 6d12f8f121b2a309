/*
 * outq.c - the hub's ordered output to one worker (internal.h).
 *
 * A worker needs its answers in the order it asked, and a subscriber's
 * history answer to cover every message sent to it before that answer
 * (pubsub.c). When an answer has to wait for Redis, the hub reserves its
 * place here and goes on: what it queues meanwhile (messages, answers
 * that need nothing) waits behind the reserved segment and is written
 * only once the segment is filled. Pure: no I/O.
 */
#include "internal.h"

#include <stdlib.h>

static void release(struct outq *q)
{
    /* the ready segments at the head join out, in order */
    while (q->head != NULL && !q->head->pending) {
        struct outq_seg *s = q->head;
        size_t n = buf_pending(&s->b);

        if (n > 0 && buf_add(&q->out, s->b.p + s->b.off, n) < 0)
            return; /* out of memory: stays held, tried again next time */
        q->head = s->next;
        if (q->head == NULL)
            q->tail = NULL;
        buf_free(&s->b);
        free(s);
    }
}

struct buf *outq_tail(struct outq *q)
{
    struct outq_seg *s;

    release(q);
    if (q->tail == NULL)
        return &q->out;
    if (!q->tail->pending)
        return &q->tail->b;
    /* behind a hole: a new segment, ready, that waits for it */
    if ((s = calloc(1, sizeof(*s))) == NULL)
        return NULL;
    q->tail->next = s;
    q->tail = s;
    return &s->b;
}

struct outq_seg *outq_reserve(struct outq *q)
{
    struct outq_seg *s = calloc(1, sizeof(*s));

    if (s == NULL)
        return NULL;
    s->pending = 1;
    if (q->tail != NULL)
        q->tail->next = s;
    else
        q->head = s;
    q->tail = s;
    return s;
}

void outq_fill(struct outq *q, struct outq_seg *seg)
{
    seg->pending = 0;
    release(q);
}

size_t outq_size(const struct outq *q)
{
    size_t n = buf_pending(&q->out);

    for (const struct outq_seg *s = q->head; s != NULL; s = s->next)
        n += buf_pending(&s->b);
    return n;
}

int outq_waiting(const struct outq *q)
{
    for (const struct outq_seg *s = q->head; s != NULL; s = s->next)
        if (s->pending)
            return 1;
    return 0;
}

void outq_free(struct outq *q)
{
    while (q->head != NULL) {
        struct outq_seg *s = q->head;
        q->head = s->next;
        buf_free(&s->b);
        free(s);
    }
    q->tail = NULL;
    buf_free(&q->out);
}
