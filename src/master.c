/*
 * master.c - the master process: forks the workers and the hub, and
 * supervises them.
 *
 * The master never loads a module and never reads a request, so a broken
 * module can take down a worker but not the daemon. It respawns a worker
 * or the hub when it dies; one that dies again right after starting is
 * respawned with a growing delay, so a crash loop costs a few forks a
 * minute, not a hot loop. SIGTERM/SIGINT: stop accepting, let the workers
 * drain, then stop the hub (workers publish until their last request),
 * exit 0.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* A worker that dies sooner than this after it was started counts as a
 * failed start; the respawn delay doubles from FIRST to MAX with each. */
#define FAST_FAIL_MS 2000
#define RESPAWN_FIRST_MS 250
#define RESPAWN_MAX_MS 30000
/* grace added to shutdown_timeout before workers are killed */
#define KILL_GRACE_MS 5000

struct slot {
    int id; /* the worker's slot; -1 for the hub */
    pid_t pid; /* 0 when not running */
    uint64_t started_ms;
    uint64_t respawn_at; /* 0 when no respawn is due */
    unsigned fast_fails;
};

/* The master's whole state. It has no event library: a poll(2) on a
 * signalfd and the workers' ready pipe, with the next timer as timeout, is
 * all a supervisor needs, and it leaves nothing behind in the workers. */
static struct {
    const struct config *cfg;
    struct listener *listeners;
    size_t nlisteners;
    struct slot *slots;
    int nslots;
    struct slot hub;
    int hub_stopped; /* sent SIGTERM once the workers were gone */
    int sigfd;
    int ready_rd, ready_wr;
    int nready;  /* first-generation workers that reported ready */
    int started; /* every first-generation worker became ready once */
    int stopping;
    int exit_code;
    uint64_t kill_at; /* when stopping: SIGKILL the rest at this time */
    int killed_all;   /* that SIGKILL was sent */
} M;

static const int master_signals[] = {SIGTERM, SIGINT, SIGCHLD, SIGUSR1, SIGHUP};

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* "worker 3" or "hub", for messages */
static const char *name(const struct slot *s, char *buf, size_t len)
{
    if (s->id < 0)
        return "hub";
    snprintf(buf, len, "worker %d", s->id);
    return buf;
}

/* In the child: what a worker or the hub has no use for, then its main. */
static int child(struct slot *s)
{
    close(M.sigfd);
    close(M.ready_rd);
    if (M.started || s->id < 0)
        close(M.ready_wr);
    if (s->id < 0) {
        prctl(PR_SET_NAME, "squalld: hub");
        listen_close(M.listeners, M.nlisteners, 0);
        return hub_main(M.cfg);
    }
    close(hub_address.fd);
    return worker_main(s->id, M.cfg, M.listeners, M.nlisteners,
                       M.started ? -1 : M.ready_wr);
}

static int spawn(struct slot *s)
{
    char nm[32];
    pid_t pid;

    if (s->id >= 0)
        scoreboard_reset(s->id); /* nothing left of the slot's last worker */
    pid = fork();
    if (pid < 0) {
        log_error("cannot fork %s: %s", name(s, nm, sizeof(nm)),
                  strerror(errno));
        return -1;
    }
    /* exit, not _exit: a sanitizer build checks the child for leaks at
     * exit (stdio holds nothing: logs use write(2)) */
    if (pid == 0)
        exit(child(s));
    s->pid = pid;
    s->started_ms = now_ms();
    s->respawn_at = 0;
    log_info("%s started, pid %d", name(s, nm, sizeof(nm)), (int)pid);
    return 0;
}

static void describe(int status, char *buf, size_t len)
{
    if (WIFSIGNALED(status))
        snprintf(buf, len, "was killed by signal %d (%s)", WTERMSIG(status),
                 strsignal(WTERMSIG(status)));
    else
        snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
}

/* kill fails only for a worker that has exited and is not reaped yet
 * (ESRCH): its SIGCHLD is on the way, nothing to do. */
static void signal_workers(int sig)
{
    for (int i = 0; i < M.nslots; i++)
        if (M.slots[i].pid > 0)
            (void)kill(M.slots[i].pid, sig);
}

static void signal_all(int sig)
{
    signal_workers(sig);
    if (M.hub.pid > 0)
        (void)kill(M.hub.pid, sig);
}

static void begin_stop(int exit_code)
{
    M.stopping = 1;
    M.exit_code = exit_code;
    M.kill_at = now_ms() + M.cfg->shutdown_timeout_ms + KILL_GRACE_MS;
    for (int i = 0; i < M.nslots; i++)
        M.slots[i].respawn_at = 0;
    M.hub.respawn_at = 0;
    /* from now on connections are refused rather than queued */
    if (M.listeners != NULL)
        listen_close(M.listeners, M.nlisteners, 1);
    M.listeners = NULL;
    M.nlisteners = 0;
    signal_workers(SIGTERM); /* and the hub once they are gone */
}

static void schedule_respawn(struct slot *s, const char *how)
{
    uint64_t up = now_ms() - s->started_ms;
    unsigned delay = 0;
    char nm[32];

    s->fast_fails = up < FAST_FAIL_MS ? s->fast_fails + 1 : 0;
    if (s->fast_fails > 0) {
        unsigned shift = s->fast_fails - 1 > 7 ? 7 : s->fast_fails - 1;
        delay = RESPAWN_FIRST_MS << shift;
        if (delay > RESPAWN_MAX_MS)
            delay = RESPAWN_MAX_MS;
    }
    if (s->fast_fails >= 2)
        log_crit("%s %s, %u times in a row within %d ms of starting; "
                 "next respawn in %u ms",
                 name(s, nm, sizeof(nm)), how, s->fast_fails, FAST_FAIL_MS,
                 delay);
    else
        log_error("%s %s; respawning in %u ms", name(s, nm, sizeof(nm)), how,
                  delay);
    s->respawn_at = now_ms() + delay;
}

/* The hub: respawned whenever it dies before the stop; at the stop it
 * must exit 0 like a worker. */
static void hub_reaped(int status)
{
    char how[96];

    M.hub.pid = 0;
    describe(status, how, sizeof(how));
    if (!M.stopping) {
        schedule_respawn(&M.hub, how);
    } else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        log_info("hub %s", how);
    } else if (!M.killed_all) {
        log_error("hub %s while stopping", how);
        M.exit_code = 1;
    }
}

static void reaped(pid_t pid, int status)
{
    char how[96];

    if (pid == M.hub.pid) {
        hub_reaped(status);
        return;
    }
    for (int i = 0; i < M.nslots; i++) {
        struct slot *s = &M.slots[i];
        if (s->pid != pid)
            continue;
        s->pid = 0;
        /* its connections are gone; the others stop counting it in their
         * fair share */
        scoreboard_reset(s->id);
        describe(status, how, sizeof(how));
        if (M.stopping) {
            /* a worker that fails its own shutdown (a crash, or a leak
             * found by a sanitizer build) makes the stop unclean */
            int clean =
                WIFEXITED(status) ? WEXITSTATUS(status) == 0 : M.killed_all;
            if (clean) {
                log_info("worker %d %s", s->id, how);
            } else {
                log_error("worker %d %s while stopping", s->id, how);
                M.exit_code = 1;
            }
        } else if (!M.started) {
            log_crit("worker %d %s during startup; stopping", s->id, how);
            begin_stop(1);
        } else {
            schedule_respawn(s, how);
        }
        return;
    }
}

static void reap(void)
{
    pid_t pid;
    int status;

    while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
        reaped(pid, status);
}

static void on_signal(int sig)
{
    switch (sig) {
    case SIGCHLD:
        reap();
        break;
    case SIGTERM:
    case SIGINT:
        if (M.stopping)
            break;
        log_notice("received %s, stopping", strsignal(sig));
        notify_send("STOPPING=1");
        begin_stop(M.exit_code);
        break;
    case SIGUSR1:
        log_reopen();
        signal_all(SIGUSR1);
        break;
    case SIGHUP:
        log_warn("SIGHUP: configuration reload is not supported yet; "
                 "ignored");
        break;
    }
}

static void read_signals(void)
{
    struct signalfd_siginfo si;

    while (read(M.sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
        on_signal((int)si.ssi_signo);
}

static void read_ready(void)
{
    char buf[64];
    ssize_t n = read(M.ready_rd, buf, sizeof(buf));

    if (n <= 0 || M.started)
        return;
    M.nready += (int)n;
    if (M.nready < M.nslots || M.stopping)
        return;
    M.started = 1;
    log_notice("ready: %d worker(s)", M.nslots);
    notify_send("READY=1");
}

/* Runs due timers; returns the poll timeout until the next one. */
static int run_timers(void)
{
    uint64_t now = now_ms(), next = UINT64_MAX;

    if (M.stopping && M.kill_at != 0) {
        if (now >= M.kill_at) {
            log_warn("workers did not stop in time; killing them");
            signal_all(SIGKILL);
            M.killed_all = 1;
            M.kill_at = 0;
        } else {
            next = M.kill_at;
        }
    }
    for (int i = 0; i <= M.nslots && !M.stopping; i++) {
        struct slot *s = i < M.nslots ? &M.slots[i] : &M.hub;
        if (s->pid != 0 || s->respawn_at == 0)
            continue;
        if (now >= s->respawn_at && spawn(s) < 0)
            s->respawn_at = now + 1000;
        if (s->pid == 0 && s->respawn_at < next)
            next = s->respawn_at;
    }
    if (next == UINT64_MAX)
        return -1;
    return next <= now ? 0 : (int)(next - now);
}

static int workers_running(void)
{
    for (int i = 0; i < M.nslots; i++)
        if (M.slots[i].pid > 0)
            return 1;
    return 0;
}

/* Once the last worker is gone, nobody publishes: the hub may go. */
static int running(void)
{
    if (workers_running())
        return 1;
    if (M.stopping && M.hub.pid > 0 && !M.hub_stopped) {
        (void)kill(M.hub.pid, SIGTERM);
        M.hub_stopped = 1;
    }
    return M.hub.pid > 0;
}

static int setup(struct config *cfg, struct listener *l, size_t nl)
{
    sigset_t set;
    int p[2];

    M.cfg = cfg;
    M.listeners = l;
    M.nlisteners = nl;
    M.nslots = cfg->workers;
    sigemptyset(&set);
    for (size_t i = 0; i < ARRAY_LEN(master_signals); i++)
        sigaddset(&set, master_signals[i]);
    if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
        return -1;
    M.sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (M.sigfd < 0 || pipe2(p, O_CLOEXEC) < 0)
        return -1;
    M.ready_rd = p[0];
    M.ready_wr = p[1];
    M.slots = calloc((size_t)M.nslots, sizeof(*M.slots));
    if (M.slots == NULL || scoreboard_create(M.nslots) < 0)
        return -1;
    for (int i = 0; i < M.nslots; i++)
        M.slots[i].id = i;
    M.hub.id = -1;
    return 0;
}

int master_main(struct config *cfg, const char *config_path, struct listener *l,
                size_t nl)
{
    char err[256];

    log_set_role("master");
    signal(SIGPIPE, SIG_IGN);
    if (setup(cfg, l, nl) < 0)
        fatal("cannot set up the master: %s", strerror(errno));
    log_notice("squalld %s starting %d worker(s) with %s", PACKAGE_VERSION,
               M.nslots, config_path);
    if (hub_listen(err, sizeof(err)) < 0)
        fatal("%s", err);
    if (spawn(&M.hub) < 0)
        begin_stop(1);
    for (int i = 0; i < M.nslots && !M.stopping; i++)
        if (spawn(&M.slots[i]) < 0)
            begin_stop(1);
    while (!M.stopping || running()) {
        struct pollfd pfd[2] = {{M.sigfd, POLLIN, 0}, {M.ready_rd, POLLIN, 0}};
        int timeout = run_timers();

        if (poll(pfd, 2, timeout) < 0 && errno != EINTR)
            fatal("poll: %s", strerror(errno));
        if (pfd[0].revents & POLLIN)
            read_signals();
        if (pfd[1].revents & POLLIN)
            read_ready();
    }
    if (M.listeners != NULL)
        listen_close(M.listeners, M.nlisteners, 1);
    free(M.slots);
    close(hub_address.fd);
    scoreboard_destroy();
    log_notice("stopped");
    return M.exit_code;
}
