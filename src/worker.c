/*
 * worker.c - a worker process: one libevent loop that accepts on the
 * listening sockets shared by all workers and serves the connections.
 *
 * A worker loads the modules itself after fork and runs their init, so a
 * module never runs in the master. SIGTERM/SIGINT stop it gracefully: it
 * stops accepting, closes idle connections, lets requests in flight finish
 * for up to server.shutdown_timeout, then runs the modules' fini and exits.
 */
#include "internal.h"

#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Connections taken per wakeup and listener. A small batch leaves the rest
 * of a burst to the other workers, which keeps the spread even. */
#define ACCEPT_BATCH 8

struct worker *worker;

/* Out of file descriptors (or memory): accepting would fail again at once
 * and spin, so it stops for this long while connections close. */
#define ACCEPT_PAUSE_MS 100

static struct event *sig_term, *sig_int, *sig_usr1, *stop_timer, *log_timer;
static struct event *accept_pause;
static int accept_paused;

static void on_accept_pause_end(evutil_socket_t fd UNUSED, short what UNUSED,
                                void *arg UNUSED)
{
    accept_paused = 0;
    if (conn_count() < worker->cfg->limits.max_connections)
        worker_accept_enable(1);
}

static void pause_accepting(const struct listener *l, int err)
{
    static const struct timeval pause = {0, ACCEPT_PAUSE_MS * 1000};

    log_error("accept on %s: %s; not accepting for %d ms", l->name,
              strerror(err), ACCEPT_PAUSE_MS);
    worker_accept_enable(0);
    accept_paused = 1;
    evtimer_add(accept_pause, &pause);
}

static void on_accept(evutil_socket_t fd, short what UNUSED, void *arg)
{
    const struct listener *l = arg;

    for (int i = 0; i < ACCEPT_BATCH && !worker->stopping; i++) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        int one = 1;
        int cfd = accept4(fd, (struct sockaddr *)&ss, &len,
                          SOCK_NONBLOCK | SOCK_CLOEXEC);

        if (cfd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
                errno == ENOMEM)
                pause_accepting(l, errno);
            return; /* EAGAIN: another worker took it */
        }
        if (!l->is_unix)
            setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        conn_new(cfd, (struct sockaddr *)&ss, l->is_unix);
        if (conn_count() >= worker->cfg->limits.max_connections)
            return;
    }
}

void worker_accept_enable(int on)
{
    if (on && accept_paused)
        return; /* on_accept_pause_end decides */
    for (size_t i = 0; i < worker->nlisteners && !worker->stopping; i++) {
        if (on)
            event_add(worker->accept_ev[i], NULL);
        else
            event_del(worker->accept_ev[i]);
    }
}

void worker_conn_closed(void)
{
    if (worker->stopping && conn_count() == 0)
        event_base_loopbreak(worker->base);
}

static void on_stop_timeout(evutil_socket_t fd UNUSED, short what UNUSED,
                            void *arg UNUSED)
{
    log_warn("shutdown_timeout reached with %u connection(s) open; closing "
             "them",
             conn_count());
    event_base_loopbreak(worker->base);
}

static void stop_accepting(void)
{
    for (size_t i = 0; i < worker->nlisteners; i++) {
        event_del(worker->accept_ev[i]);
        /* close our copy so that, once every process has, new connections
         * are refused instead of waiting in the backlog */
        close(worker->listeners[i].fd);
        worker->listeners[i].fd = -1;
    }
}

static void on_stop(evutil_socket_t sig UNUSED, short what UNUSED,
                    void *arg UNUSED)
{
    struct timeval tv;

    if (worker->stopping)
        return;
    log_info("stopping: %u connection(s) open", conn_count());
    worker->stopping = 1;
    stop_accepting();
    conn_shutdown_all();
    if (conn_count() == 0) {
        event_base_loopbreak(worker->base);
        return;
    }
    tv.tv_sec = worker->cfg->shutdown_timeout_ms / 1000;
    tv.tv_usec = (suseconds_t)(worker->cfg->shutdown_timeout_ms % 1000) * 1000;
    stop_timer = evtimer_new(worker->base, on_stop_timeout, NULL);
    evtimer_add(stop_timer, &tv);
}

static void on_usr1(evutil_socket_t sig UNUSED, short what UNUSED,
                    void *arg UNUSED)
{
    log_reopen();
}

static void on_log_timer(evutil_socket_t fd UNUSED, short what UNUSED,
                         void *arg UNUSED)
{
    access_flush();
}

static int build_router(struct worker *w, char *err, size_t errlen)
{
    char msg[512];

    if ((w->router = router_new()) == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < w->mods.nroutes; i++) {
        const struct route_conf *rc = w->mods.routes[i].conf;
        if (router_add(w->router, rc->path, rc->methods, &w->mods.routes[i],
                       msg, sizeof(msg)) < 0) {
            snprintf(err, errlen, "%s:%d:%d: %s", rc->mark.file, rc->mark.line,
                     rc->mark.col, msg);
            return -1;
        }
    }
    return 0;
}

static int setup_events(struct worker *w)
{
    static const struct timeval flush_every = {0, 200 * 1000};

    w->accept_ev = calloc(w->nlisteners, sizeof(*w->accept_ev));
    if (w->accept_ev == NULL)
        return -1;
    for (size_t i = 0; i < w->nlisteners; i++) {
        w->accept_ev[i] =
            event_new(w->base, w->listeners[i].fd, EV_READ | EV_PERSIST,
                      on_accept, &w->listeners[i]);
        if (w->accept_ev[i] == NULL || event_add(w->accept_ev[i], NULL) < 0)
            return -1;
    }
    sig_term = evsignal_new(w->base, SIGTERM, on_stop, NULL);
    sig_int = evsignal_new(w->base, SIGINT, on_stop, NULL);
    sig_usr1 = evsignal_new(w->base, SIGUSR1, on_usr1, NULL);
    accept_pause = evtimer_new(w->base, on_accept_pause_end, NULL);
    if (sig_term == NULL || sig_int == NULL || sig_usr1 == NULL ||
        accept_pause == NULL)
        return -1;
    evsignal_add(sig_term, NULL);
    evsignal_add(sig_int, NULL);
    evsignal_add(sig_usr1, NULL);
    if (w->cfg->access_mode != ACCESS_OFF) {
        log_timer = event_new(w->base, -1, EV_PERSIST, on_log_timer, NULL);
        if (log_timer == NULL)
            return -1;
        evtimer_add(log_timer, &flush_every);
    }
    return 0;
}

/* Everything worker_main set up, in an order that never touches unmapped
 * memory: fini of every module, then the event base (event_base_free still
 * walks the events left in it, and a module may own some, e.g. a static
 * struct event its fini did not delete), then dlclose. Also the cleanup
 * after a failed start, where it runs fini for the modules whose init did
 * succeed. */
static void teardown(struct worker *w)
{
    struct event **evs[] = {&sig_term,   &sig_int,   &sig_usr1,
                            &stop_timer, &log_timer, &accept_pause};

    conn_close_all();
    access_flush();
    for (size_t i = 0; i < ARRAY_LEN(evs); i++) {
        if (*evs[i] != NULL)
            event_free(*evs[i]);
        *evs[i] = NULL;
    }
    for (size_t i = 0; w->accept_ev != NULL && i < w->nlisteners; i++)
        if (w->accept_ev[i] != NULL)
            event_free(w->accept_ev[i]);
    free(w->accept_ev);
    w->accept_ev = NULL;
    modset_fini(&w->mods);
    router_free(w->router);
    w->router = NULL;
    event_base_free(w->base);
    w->base = NULL;
    modset_unload(&w->mods);
}

/* The signals a worker handles in its loop. They are blocked from fork
 * (the master blocks them for its signalfd, and the mask is inherited)
 * until libevent's handlers exist: one that arrives during a slow module
 * init then waits, and is delivered to those handlers when the mask is
 * lifted, instead of killing the worker with its default action. */
static void block_loop_signals(void)
{
    static const int sigs[] = {SIGTERM, SIGINT, SIGUSR1};
    sigset_t set;

    sigemptyset(&set);
    for (size_t i = 0; i < ARRAY_LEN(sigs); i++)
        sigaddset(&set, sigs[i]);
    if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
        fatal("cannot block signals: %s", strerror(errno));
}

static void unblock_signals(void)
{
    sigset_t none;

    sigemptyset(&none);
    if (sigprocmask(SIG_SETMASK, &none, NULL) < 0)
        fatal("cannot unblock signals: %s", strerror(errno));
}

/* Loads the modules, builds the router and runs the modules' init. */
static int start(struct worker *w, char *err, size_t errlen)
{
    if (modset_load(&w->mods, w->cfg, err, errlen) < 0)
        return -1;
    if (build_router(w, err, errlen) < 0)
        return -1;
    return modset_init(&w->mods, err, errlen);
}

int worker_main(int slot, const struct config *cfg, struct listener *l,
                size_t nl, int ready_fd)
{
    static struct worker w;
    char role[32], err[1024];

    block_loop_signals();
    signal(SIGPIPE, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    snprintf(role, sizeof(role), "worker %d", slot);
    log_set_role(role);
    memset(&w, 0, sizeof(w));
    w.cfg = cfg;
    w.listeners = l;
    w.nlisteners = nl;
    worker = &w;
    if ((w.base = event_base_new()) == NULL)
        fatal("cannot create the event loop");
    if (start(&w, err, sizeof(err)) < 0) {
        log_crit("%s", err);
        teardown(&w);
        worker = NULL;
        return 2;
    }
    if (setup_events(&w) < 0)
        fatal("cannot set up the worker's events");
    unblock_signals(); /* a signal queued during start-up is handled now */
    if (ready_fd >= 0) {
        if (write(ready_fd, "R", 1) != 1)
            log_error("cannot tell the master this worker is ready: %s",
                      strerror(errno));
        close(ready_fd);
    }
    log_debug("serving");
    event_base_dispatch(w.base);
    log_debug("exiting");
    teardown(&w);
    worker = NULL;
    return 0;
}
