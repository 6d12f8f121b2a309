/*
 * timer.c - one-shot timers on the worker's event loop, for modules
 * (sq_call_later), and access to the loop itself.
 */
#include "internal.h"

#include <event2/event.h>
#include <event2/event_struct.h>
#include <stdlib.h>

struct sq_timer {
    struct event ev;
    void (*cb)(void *arg);
    void *arg;
};

/* The timer is freed before the callback runs, so the callback may do
 * anything, including finishing the request that owns arg. */
static void fire(evutil_socket_t fd UNUSED, short what UNUSED, void *p)
{
    struct sq_timer *t = p;
    void (*cb)(void *) = t->cb;
    void *arg = t->arg;

    free(t);
    cb(arg);
}

sq_timer *sq_call_later(unsigned ms, void (*cb)(void *arg), void *arg)
{
    struct sq_timer *t;
    struct timeval tv = {.tv_sec = ms / 1000,
                         .tv_usec = (suseconds_t)(ms % 1000) * 1000};

    if (worker == NULL || (t = malloc(sizeof(*t))) == NULL)
        return NULL;
    t->cb = cb;
    t->arg = arg;
    evtimer_assign(&t->ev, worker->base, fire, t);
    if (evtimer_add(&t->ev, &tv) < 0) {
        free(t);
        return NULL;
    }
    return t;
}

void sq_timer_cancel(sq_timer *t)
{
    if (t == NULL)
        return;
    evtimer_del(&t->ev);
    free(t);
}

void *sq_event_base(void)
{
    return worker != NULL ? worker->base : NULL;
}
