/*
 * timer.c - timers on the worker's event loop for modules: one-shot
 * (sq_call_later) and periodic (sq_call_every), and access to the loop
 * itself.
 *
 * Lifetime of a handle: a one-shot handle lives until its callback has
 * returned or it is cancelled; a periodic one until it is cancelled. A
 * cancel from inside the timer's own callback only marks it, and the
 * handle is freed when the callback returns, so the common pattern - the
 * callback finishes a request whose cleanup cancels "its" timer - is not
 * a double free, and a periodic timer may stop itself.
 */
#include "internal.h"

#include <event2/event.h>
#include <event2/event_struct.h>
#include <stdlib.h>

struct sq_timer {
    struct event ev;
    void (*cb)(void *arg);
    void *arg;
    unsigned periodic : 1;
    unsigned firing : 1;    /* inside cb: cancel only marks */
    unsigned cancelled : 1; /* marked inside cb: freed when cb returns */
};

static void fire(evutil_socket_t fd UNUSED, short what UNUSED, void *p)
{
    struct sq_timer *t = p;

    t->firing = 1;
    t->cb(t->arg);
    t->firing = 0;
    if (t->periodic && !t->cancelled)
        return; /* libevent re-arms it (EV_PERSIST) */
    if (t->periodic)
        evtimer_del(&t->ev);
    free(t);
}

static sq_timer *timer_start(unsigned ms, short flags, void (*cb)(void *arg),
                             void *arg)
{
    struct sq_timer *t;
    struct timeval tv = {.tv_sec = ms / 1000,
                         .tv_usec = (suseconds_t)(ms % 1000) * 1000};

    if (worker == NULL || cb == NULL || (t = calloc(1, sizeof(*t))) == NULL)
        return NULL;
    t->cb = cb;
    t->arg = arg;
    t->periodic = (flags & EV_PERSIST) != 0;
    event_assign(&t->ev, worker->base, -1, flags, fire, t);
    if (evtimer_add(&t->ev, &tv) < 0) {
        free(t);
        return NULL;
    }
    return t;
}

sq_timer *sq_call_later(unsigned ms, void (*cb)(void *arg), void *arg)
{
    return timer_start(ms, 0, cb, arg);
}

sq_timer *sq_call_every(unsigned ms, void (*cb)(void *arg), void *arg)
{
    if (ms == 0)
        return NULL; /* it would starve the loop */
    return timer_start(ms, EV_PERSIST, cb, arg);
}

void sq_timer_cancel(sq_timer *t)
{
    if (t == NULL)
        return;
    if (t->firing) {
        t->cancelled = 1; /* freed by fire() when the callback returns */
        return;
    }
    evtimer_del(&t->ev);
    free(t);
}

void *sq_event_base(void)
{
    return worker != NULL ? worker->base : NULL;
}
