/*
 * lifemod.c - a module for the worker life-cycle tests
 * (tests/integration/test_process.py): a slow init, an event that lives in
 * the module's own memory, and a fini that leaves a trace.
 *
 * Module config (all optional):
 *   init_log: FILE      init appends "start PID" when it begins and
 *                       "done PID" when it returns
 *   init_sleep_ms: N    init sleeps N ms (a module that loads a lot)
 *   static_event: true  init adds a persistent timer living in this .so's
 *                       static memory, and fini leaves it added: squalld
 *                       must not touch it after unmapping the module
 *   fini_file: FILE     fini appends "fini PID"
 */
#include <squall/squall.h>

#include <event2/event.h>
#include <event2/event_struct.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static struct event tick;
static char fini_file[4096];

static void append_line(const char *path, const char *what)
{
    char line[64];
    int fd, n;

    if (path == NULL || path[0] == '\0')
        return;
    fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        return;
    n = snprintf(line, sizeof line, "%s %ld\n", what, (long)getpid());
    if (write(fd, line, (size_t)n) != n)
        sq_log(SQ_LOG_WARN, "lifemod: cannot write %s", path);
    close(fd);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
}

/* The reproducer of a teardown that unmaps the module before the event
 * base lets go of its events: deliberately never deleted. */
static int add_static_event(void)
{
    static const struct timeval every = {3600, 0};

    if (event_assign(&tick, sq_event_base(), -1, EV_PERSIST, on_tick, NULL) < 0)
        return -1;
    return event_add(&tick, &every);
}

static int lifemod_init(const sq_conf *config)
{
    const char *init_log = sq_conf_str(config, "init_log", NULL);
    long long ms = sq_conf_int(config, "init_sleep_ms", 0);
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000};

    append_line(init_log, "start");
    /* a signal must not cut this short: squalld keeps them blocked */
    while (ms > 0 && nanosleep(&ts, &ts) < 0)
        ;
    if (sq_conf_bool(config, "static_event", 0) && add_static_event() < 0)
        return -1;
    snprintf(fini_file, sizeof fini_file, "%s",
             sq_conf_str(config, "fini_file", ""));
    append_line(init_log, "done");
    return 0;
}

static void lifemod_fini(void)
{
    append_line(fini_file, "fini");
}

/* GET: the pid of the worker, like testmod's /pid. */
static int pid(sq_req *r)
{
    sq_printf(r, "%ld", (long)getpid());
    return SQ_DONE;
}

SQ_MODULE(.name = "lifemod", .init = lifemod_init, .fini = lifemod_fini,
          .handlers = SQ_HANDLERS(pid));
