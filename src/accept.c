/*
 * accept.c - how a worker takes connections from the listening sockets it
 * shares with the other workers.
 *
 * Every worker watches every listening socket. Left alone, epoll wakes the
 * workers unevenly and a burst of long-lived connections piles onto one of
 * them (157/843 over 2 workers for 1,000 connections). So a worker that
 * holds more than its fair share of the connections open in all live
 * workers (counts in the scoreboard) stops accepting until the others have
 * caught up: nginx's accept_disabled heuristic, with the others' counts
 * instead of its own free list. README ("Accepting") gives the measurements
 * behind this choice over EPOLLEXCLUSIVE and SO_REUSEPORT.
 *
 * The socket stays shared, so a connection queued while a worker dies is
 * taken by another. A worker that holds back watches the others: if none
 * of them accepts anything for ACCEPT_STUCK_MS (a blocked loop, a stopped
 * process), it accepts regardless of its share until they do again.
 */
#include "internal.h"

#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Connections taken per wakeup and listener, which is also the slack of
 * the fair share: a small batch leaves the rest of a burst to the others. */
#define ACCEPT_BATCH 8

/* Out of file descriptors (or memory): accepting would fail again at once
 * and spin, so it stops for this long while connections close. */
#define ACCEPT_PAUSE_MS 100

/* While over its share, a worker looks at the others this often... */
#define ACCEPT_RECHECK_MS 10
/* ...and accepts anyway once they have taken nothing for this long. */
#define ACCEPT_STUCK_MS 100

static struct {
    struct event *pause_timer, *share_timer;
    int on;           /* the accept events are added */
    int paused;       /* out of fds: until pause_timer fires */
    int held;         /* over its share: until share_timer says otherwise */
    int blind;        /* the others seem stuck: the share is not checked */
    unsigned idle_ms; /* how long the others have accepted nothing */
    unsigned long others_seen; /* their accepted count at the last look */
} A;

static int accept_wanted(void)
{
    return !worker->stopping && !A.paused && !A.held &&
           conn_count() < worker->cfg->limits.max_connections;
}

/* Adds or deletes the accept events to match accept_wanted(). */
static void accept_update(void)
{
    int on = accept_wanted();

    if (on == A.on)
        return;
    for (size_t i = 0; i < worker->nlisteners; i++) {
        struct event *ev = worker->accept_ev[i];
        if ((on ? event_add(ev, NULL) : event_del(ev)) < 0) {
            /* cannot happen short of ENOMEM; the next update retries, and
             * the other workers accept meanwhile */
            log_error("cannot %s accepting on %s", on ? "resume" : "pause",
                      worker->listeners[i].name);
            return;
        }
    }
    A.on = on;
}

void worker_accept_enable(int on UNUSED)
{
    accept_update(); /* max_connections is one of its inputs */
}

static void arm(struct event *timer, unsigned ms)
{
    struct timeval tv = {0, (suseconds_t)ms * 1000};

    if (evtimer_add(timer, &tv) < 0)
        fatal("cannot add an accept timer");
}

static void on_pause_end(evutil_socket_t fd UNUSED, short what UNUSED,
                         void *arg UNUSED)
{
    A.paused = 0;
    accept_update();
}

static void pause_accepting(const struct listener *l, int err)
{
    log_error("accept on %s: %s; not accepting for %d ms", l->name,
              strerror(err), ACCEPT_PAUSE_MS);
    A.paused = 1;
    accept_update();
    arm(A.pause_timer, ACCEPT_PAUSE_MS);
}

/* Fair share ------------------------------------------------------------ */

static int over_share(struct sb_view *v)
{
    scoreboard_view(worker->slot, v);
    return scoreboard_over_share(v, ACCEPT_BATCH);
}

static void hold(const struct sb_view *v)
{
    A.held = 1;
    A.blind = 0;
    A.idle_ms = 0;
    A.others_seen = v->others_accepted;
    accept_update();
    arm(A.share_timer, ACCEPT_RECHECK_MS);
}

static void on_share_timer(evutil_socket_t fd UNUSED, short what UNUSED,
                           void *arg UNUSED)
{
    struct sb_view v;

    if (worker->stopping)
        return; /* accepts no more: nothing to look at */
    if (!over_share(&v)) {
        A.held = 0;
        accept_update();
        return;
    }
    if (v.others_accepted != A.others_seen) {
        A.idle_ms = 0;
        A.others_seen = v.others_accepted;
    } else if ((A.idle_ms += ACCEPT_RECHECK_MS) >= ACCEPT_STUCK_MS) {
        log_debug("the other workers accepted nothing for %u ms; accepting "
                  "beyond this worker's share",
                  A.idle_ms);
        A.held = 0;
        A.blind = 1;
        accept_update();
        return;
    }
    arm(A.share_timer, ACCEPT_RECHECK_MS);
}

/* Whether to hold back before taking one more connection. A blind worker
 * looks again once the others accept something. */
static int should_hold(void)
{
    struct sb_view v;

    if (!over_share(&v)) {
        A.blind = 0;
        return 0;
    }
    if (A.blind && v.others_accepted == A.others_seen)
        return 0;
    hold(&v);
    return 1;
}

/* Accepting --------------------------------------------------------------- */

static void take(int fd, const struct sockaddr_storage *ss,
                 const struct listener *l)
{
    struct conn *c;
    int one = 1;

    /* best effort: without it small responses may wait for Nagle */
    if (!l->is_unix)
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c = conn_new(fd, (const struct sockaddr *)ss, l->is_unix);
    if (c != NULL && ((l->tls != NULL && conn_start_tls(c, l->tls) < 0) ||
                      http1_start(c) < 0))
        conn_close(c);
    scoreboard_set_conns(worker->slot, conn_count());
    scoreboard_accepted(worker->slot, 1);
}

static void on_accept(evutil_socket_t fd, short what UNUSED, void *arg)
{
    const struct listener *l = arg;

    for (int i = 0; i < ACCEPT_BATCH && accept_wanted(); i++) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        int cfd;

        if (should_hold())
            return;
        cfd = accept4(fd, (struct sockaddr *)&ss, &len,
                      SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
                errno == ENOMEM)
                pause_accepting(l, errno);
            return; /* EAGAIN: another worker took it */
        }
        take(cfd, &ss, l);
    }
}

void accept_conn_closed(void)
{
    struct sb_view v;

    scoreboard_set_conns(worker->slot, conn_count());
    /* back under its share: no need to wait for the next look (short
     * requests close fast, and every held ms is a ms not accepting) */
    if (A.held && !over_share(&v)) {
        A.held = 0;
        (void)event_del(A.share_timer); /* a timer: cannot fail */
        accept_update();
    }
}

int accept_start(struct worker *w)
{
    memset(&A, 0, sizeof(A));
    w->accept_ev = calloc(w->nlisteners, sizeof(*w->accept_ev));
    A.pause_timer = evtimer_new(w->base, on_pause_end, NULL);
    A.share_timer = evtimer_new(w->base, on_share_timer, NULL);
    if (w->accept_ev == NULL || A.pause_timer == NULL || A.share_timer == NULL)
        return -1;
    for (size_t i = 0; i < w->nlisteners; i++) {
        w->accept_ev[i] =
            event_new(w->base, w->listeners[i].fd, EV_READ | EV_PERSIST,
                      on_accept, &w->listeners[i]);
        if (w->accept_ev[i] == NULL)
            return -1;
    }
    accept_update();
    if (!A.on)
        return -1;
    scoreboard_set_live(w->slot, 1);
    return 0;
}

void accept_stop(struct worker *w)
{
    scoreboard_set_live(w->slot, 0);
    accept_update(); /* w->stopping is set: deletes the events */
    for (size_t i = 0; i < w->nlisteners; i++) {
        /* close our copy so that, once every process has, new connections
         * are refused instead of waiting in the backlog */
        close(w->listeners[i].fd);
        w->listeners[i].fd = -1;
    }
}

void accept_free(struct worker *w)
{
    for (size_t i = 0; w->accept_ev != NULL && i < w->nlisteners; i++)
        if (w->accept_ev[i] != NULL)
            event_free(w->accept_ev[i]);
    free(w->accept_ev);
    w->accept_ev = NULL;
    if (A.pause_timer != NULL)
        event_free(A.pause_timer);
    if (A.share_timer != NULL)
        event_free(A.share_timer);
    memset(&A, 0, sizeof(A));
}
