/*
 * worker.c - a worker process: one libevent loop that accepts on the
 * listening sockets shared by all workers (accept.c) and serves the
 * connections.
 *
 * A worker loads the modules itself after fork and runs their init, so a
 * module never runs in the master. SIGTERM/SIGINT stop it gracefully: it
 * stops accepting, closes idle connections, lets requests and thread pool
 * jobs in flight finish for up to server.shutdown_timeout, then runs the
 * modules' fini and exits. Pool jobs still unfinished then may be running
 * module code, so the worker exits without fini (see abandon_jobs).
 */
#include "internal.h"

#include <errno.h>
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct worker *worker;

static struct event *sig_term, *sig_int, *sig_usr1, *stop_timer, *log_timer;

/* conn.c tells every open and close: accepting pauses at
 * max_connections, and a stopping worker exits with its last one. */
static void conn_count_changed(unsigned count, int opened)
{
    if (opened) {
        worker_accept_enable(0); /* max_connections is re-checked */
        return;
    }
    accept_conn_closed();
    worker_accept_enable(1);
    if (worker->stopping && count == 0 &&
        threadpool_inflight(worker->pool) == 0)
        event_base_loopbreak(worker->base);
}

/* The thread pool's last job in flight completed. */
static void pool_idle(void *arg UNUSED)
{
    if (worker->stopping && conn_count() == 0)
        event_base_loopbreak(worker->base);
}

static void on_stop_timeout(evutil_socket_t fd UNUSED, short what UNUSED,
                            void *arg UNUSED)
{
    log_warn("shutdown_timeout reached with %u connection(s) open and %u "
             "thread pool job(s) in flight; closing them",
             conn_count(), threadpool_inflight(worker->pool));
    event_base_loopbreak(worker->base);
}

static void on_stop(evutil_socket_t sig UNUSED, short what UNUSED,
                    void *arg UNUSED)
{
    struct timeval tv;

    if (worker->stopping)
        return;
    log_info("stopping: %u connection(s) open, %u thread pool job(s)",
             conn_count(), threadpool_inflight(worker->pool));
    worker->stopping = 1;
    accept_stop(worker);
    http1_stop();
    conn_shutdown_all();
    if (conn_count() == 0 && threadpool_inflight(worker->pool) == 0) {
        event_base_loopbreak(worker->base);
        return;
    }
    tv.tv_sec = worker->cfg->shutdown_timeout_ms / 1000;
    tv.tv_usec = (suseconds_t)(worker->cfg->shutdown_timeout_ms % 1000) * 1000;
    stop_timer = evtimer_new(worker->base, on_stop_timeout, NULL);
    if (stop_timer == NULL || evtimer_add(stop_timer, &tv) < 0) {
        /* no timer, no deadline: close what is left now */
        log_error("cannot set shutdown_timeout; closing %u connection(s)",
                  conn_count());
        event_base_loopbreak(worker->base);
    }
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

static int setup_signals(struct worker *w)
{
    sig_term = evsignal_new(w->base, SIGTERM, on_stop, NULL);
    sig_int = evsignal_new(w->base, SIGINT, on_stop, NULL);
    sig_usr1 = evsignal_new(w->base, SIGUSR1, on_usr1, NULL);
    if (sig_term == NULL || sig_int == NULL || sig_usr1 == NULL)
        return -1;
    if (evsignal_add(sig_term, NULL) < 0 || evsignal_add(sig_int, NULL) < 0 ||
        evsignal_add(sig_usr1, NULL) < 0)
        return -1;
    return 0;
}

static int setup_events(struct worker *w)
{
    static const struct timeval flush_every = {0, 200 * 1000};

    if (setup_signals(w) < 0 || accept_start(w) < 0)
        return -1;
    if (w->cfg->access_mode == ACCESS_OFF)
        return 0;
    log_timer = event_new(w->base, -1, EV_PERSIST, on_log_timer, NULL);
    if (log_timer == NULL || evtimer_add(log_timer, &flush_every) < 0)
        return -1;
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
    struct event **evs[] = {&sig_term, &sig_int, &sig_usr1, &stop_timer,
                            &log_timer};

    conn_close_all();
    pubsub_free();
    threadpool_free(w->pool); /* idle here: done callbacks run before fini */
    w->pool = NULL;
    access_flush();
    for (size_t i = 0; i < ARRAY_LEN(evs); i++) {
        if (*evs[i] != NULL)
            event_free(*evs[i]);
        *evs[i] = NULL;
    }
    accept_free(w);
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

/* shutdown_timeout passed with pool jobs unfinished (queued or running).
 * A running job may be executing module code or using module memory, so
 * neither the modules' fini nor dlclose can run, nor can the worker wait:
 * it closes its connections (their on_close callbacks run), writes its
 * logs, and exits at once. The jobs' done callbacks never run. */
static void abandon_jobs(struct worker *w)
{
    unsigned n = threadpool_inflight(w->pool);

    if (n == 0)
        return;
    conn_close_all();
    access_flush();
    log_warn("%u thread pool job(s) unfinished at shutdown_timeout; exiting "
             "without them (module fini skipped)",
             n);
    _exit(0);
}

/* Creates the pool, loads the modules, builds the router and runs the
 * modules' init (which may use the pool). */
static int start(struct worker *w, char *err, size_t errlen)
{
    unsigned n = w->cfg->thread_pool;

    if (n > 0 && (w->pool = threadpool_new(w->base, n, THREADPOOL_QUEUE_MAX,
                                           pool_idle, NULL)) == NULL) {
        snprintf(err, errlen, "cannot start a thread pool of %u threads", n);
        return -1;
    }
    security_setup(&w->cfg->security);
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
    w.slot = slot;
    w.cfg = cfg;
    w.listeners = l;
    w.nlisteners = nl;
    worker = &w;
    if ((w.base = event_base_new()) == NULL)
        fatal("cannot create the event loop");
    conn_setup(w.base, &cfg->limits, conn_count_changed);
    if (start(&w, err, sizeof(err)) < 0) {
        log_crit("%s", err);
        teardown(&w);
        worker = NULL;
        return 2;
    }
    http1_setup(w.router, &cfg->limits);
    proxy_setup(&cfg->trusted_proxies);
    ws_setup(w.base, &cfg->ws);
    pubsub_setup(w.base, cfg, slot);
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
    abandon_jobs(&w);
    log_debug("exiting");
    teardown(&w);
    worker = NULL;
    return 0;
}
