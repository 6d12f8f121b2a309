/*
 * timer.c - one-shot timers on the worker's event loop, for modules
 * (sq_call_later), and access to the loop itself.
 *
 * Lifetime of a handle: it lives until its callback has returned or it is
 * cancelled. A cancel from inside the callback only marks it, and the
 * handle is freed when the callback returns, so the common pattern - the
 * callback finishes a request whose cleanup cancels "its" timer - is not
 * a double free.
 */
#include "internal.h"

#include <event2/event.h>
#include <event2/event_struct.h>
#include <stdlib.h>

struct sq_timer {
    struct event ev;
    void (*cb)(void *arg);
    void *arg;
    int firing; /* inside cb: cancel only marks */
};

static void fire(evutil_socket_t fd UNUSED, short what UNUSED, void *p)
{
    struct sq_timer *t = p;

    t->firing = 1;
    t->cb(t->arg);
    free(t);
}

sq_timer *sq_call_later(unsigned ms, void (*cb)(void *arg), void *arg)
{
    struct sq_timer *t;
    struct timeval tv = {.tv_sec = ms / 1000,
                         .tv_usec = (suseconds_t)(ms % 1000) * 1000};

    if (worker == NULL || cb == NULL || (t = calloc(1, sizeof(*t))) == NULL)
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
    if (t == NULL || t->firing)
        return; /* freed by fire() when the callback returns */
    evtimer_del(&t->ev);
    free(t);
}

void *sq_event_base(void)
{
    return worker != NULL ? worker->base : NULL;
}
