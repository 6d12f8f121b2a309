/*
 * testclient.c - the squall test client (include/squall/test.h).
 *
 * sq_test_start() runs the real squalld the way systemd would: the listening
 * socket (127.0.0.1, an ephemeral port bound here, so there is no race for
 * a free port) is passed as fd 3 with LISTEN_FDS/LISTEN_PID, and readiness
 * is the "READY=1" datagram on $NOTIFY_SOCKET (sd_listen_fds(3),
 * sd_notify(3)). Everything squalld needs lives in one mkdtemp directory:
 * the config, its stderr log and the notify socket.
 *
 * sq_test_fetch() is a small, strict, blocking HTTP/1.1 client (RFC 9112)
 * over non-blocking sockets and poll(), so that every step has a deadline.
 * It is strict on purpose: it tests a server, so a bare LF, a wrong
 * Content-Length or a body after a HEAD response is an error, not something
 * to tolerate.
 *
 * Only libc: module authors link -lsquall-test and nothing else. No signal
 * handlers: child processes are watched by polling waitid()/waitpid().
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* closefrom() on glibc; all else is POSIX */
#endif

#include <squall/test.h>

#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#ifndef SQ_SQUALLD
#define SQ_SQUALLD "/usr/local/sbin/squalld"
#endif

#define DEFAULT_TIMEOUT 10.0
#define MAX_LINE (64 * 1024)   /* status line, header or chunk size */
#define MAX_HEAD (1024 * 1024) /* all header lines of one response */
#define ERR_LINES 20           /* squalld stderr lines in start errors */
#define LOG_TAIL 8192          /* bytes of log copied out by stop */
#define POLL_MS 10             /* child-exit polling interval */

struct sq_test_server {
    pid_t pid;    /* squalld master; -1 once reaped */
    pid_t parent; /* the process that started it (and can wait for it) */
    int port;
    int notify_fd;  /* our end of $NOTIFY_SOCKET */
    double timeout; /* seconds, for every deadline */
    char dir[PATH_MAX];
    char conf[PATH_MAX];
    char log[PATH_MAX];
    char notify[sizeof(((struct sockaddr_un *)0)->sun_path)];
    char error[1024];
};

/* ---------------------------------------------------------------------
 * Small helpers
 * ------------------------------------------------------------------- */

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Milliseconds left until deadline, at most cap, at least 0. */
static int ms_left(double deadline, int cap)
{
    double left = (deadline - now()) * 1000.0;

    if (left <= 0)
        return 0;
    if (left > cap)
        return cap;
    return (int)left + 1;
}

static double test_timeout(void)
{
    const char *v = getenv("SQ_TEST_TIMEOUT");
    char *end;
    double t;

    if (v == NULL || *v == '\0')
        return DEFAULT_TIMEOUT;
    t = strtod(v, &end);
    if (*end != '\0' || !(t > 0) || t > 86400)
        return DEFAULT_TIMEOUT;
    return t;
}

static void seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* Appends to a string already in err (for details after a message). */
static void adderr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void adderr(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    size_t used;

    if (err == NULL || errlen == 0)
        return;
    used = strlen(err);
    if (used + 1 >= errlen)
        return;
    va_start(ap, fmt);
    vsnprintf(err + used, errlen - used, fmt, ap);
    va_end(ap);
}

static int set_cloexec_nonblock(int fd, int nonblock)
{
    int fl = fcntl(fd, F_GETFD);

    if (fl < 0 || fcntl(fd, F_SETFD, fl | FD_CLOEXEC) < 0)
        return -1;
    if (!nonblock)
        return 0;
    fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -1;
    return 0;
}

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

/* A growable byte buffer. */
struct buf {
    char *data;
    size_t len, cap;
};

static int buf_reserve(struct buf *b, size_t n)
{
    size_t cap = b->cap ? b->cap : 4096;
    char *p;

    if (b->len + n <= b->cap)
        return 0;
    while (cap < b->len + n) {
        if (cap > SIZE_MAX / 2)
            return -1;
        cap *= 2;
    }
    p = realloc(b->data, cap);
    if (p == NULL)
        return -1;
    b->data = p;
    b->cap = cap;
    return 0;
}

static int buf_add(struct buf *b, const void *p, size_t n)
{
    if (buf_reserve(b, n + 1) < 0)
        return -1;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

static int buf_str(struct buf *b, const char *s)
{
    return buf_add(b, s, strlen(s));
}

/* ---------------------------------------------------------------------
 * The temporary directory
 * ------------------------------------------------------------------- */

static int path_in(char *out, size_t outlen, const char *dir, const char *name)
{
    int n = snprintf(out, outlen, "%s/%s", dir, name);

    return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

/* $TMPDIR, unless the notify socket's path would not fit in sun_path. */
static const char *tmp_base(void)
{
    const char *t = getenv("TMPDIR");
    size_t room = sizeof(((struct sockaddr_un *)0)->sun_path);

    if (t == NULL || *t != '/' || strlen(t) + 32 >= room)
        return "/tmp";
    return t;
}

static int make_dir(sq_test_server *s, char *err, size_t errlen)
{
    if (snprintf(s->dir, sizeof s->dir, "%s/squall-test.XXXXXX", tmp_base()) >=
        (int)sizeof s->dir) {
        seterr(err, errlen, "temporary directory name too long");
        s->dir[0] = '\0';
        return -1;
    }
    if (mkdtemp(s->dir) == NULL) {
        seterr(err, errlen, "mkdtemp %s: %s", s->dir, strerror(errno));
        s->dir[0] = '\0';
        return -1;
    }
    if (path_in(s->conf, sizeof s->conf, s->dir, "squall.yaml") < 0 ||
        path_in(s->log, sizeof s->log, s->dir, "squalld.log") < 0 ||
        path_in(s->notify, sizeof s->notify, s->dir, "notify") < 0) {
        seterr(err, errlen, "%s: path too long", s->dir);
        return -1;
    }
    return 0;
}

static int write_file(const char *path, const char *text, char *err,
                      size_t errlen)
{
    size_t len = strlen(text), off = 0;
    ssize_t n;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

    if (fd < 0)
        goto fail;
    while (off < len) {
        n = write(fd, text + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            goto fail;
        off += (size_t)n;
    }
    if (close(fd) < 0) {
        fd = -1;
        goto fail;
    }
    return 0;
fail:
    seterr(err, errlen, "%s: %s", path, strerror(errno));
    if (fd >= 0)
        close(fd);
    return -1;
}

/* Removes the directory and whatever squalld left in it (one level). */
static void remove_dir(sq_test_server *s)
{
    char path[PATH_MAX];
    struct dirent *de;
    DIR *d;

    if (s->dir[0] == '\0')
        return;
    d = opendir(s->dir);
    while (d != NULL && (de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (path_in(path, sizeof path, s->dir, de->d_name) == 0)
            unlink(path);
    }
    if (d != NULL)
        closedir(d);
    rmdir(s->dir);
    s->dir[0] = '\0';
}

/* Up to max bytes of the log: its start (tail = 0) or its end. Returns a
 * malloc'd NUL-terminated string ("" when unreadable), or NULL. */
static char *read_log(const char *path, size_t max, int tail)
{
    char *text = calloc(1, max + 1);
    ssize_t n;
    off_t size;
    size_t got = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (text == NULL || fd < 0)
        goto out;
    size = lseek(fd, 0, SEEK_END);
    if (size < 0 ||
        lseek(fd, tail && (size_t)size > max ? size - (off_t)max : 0,
              SEEK_SET) < 0)
        goto out;
    while (got < max && (n = read(fd, text + got, max - got)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            break;
        got += (size_t)n;
    }
    text[got] = '\0';
out:
    if (fd >= 0)
        close(fd);
    return text;
}

/* Appends the first lines of squalld's log to err. */
static void add_log_head(const sq_test_server *s, char *err, size_t errlen)
{
    char *text = read_log(s->log, errlen, 0), *p;
    int lines = 0;
    size_t len;

    if (text == NULL)
        return;
    for (p = text; *p != '\0' && lines < ERR_LINES; p++)
        if (*p == '\n' && ++lines == ERR_LINES)
            *p = '\0';
    len = strlen(text);
    while (len > 0 && text[len - 1] == '\n')
        text[--len] = '\0';
    if (len == 0)
        adderr(err, errlen, " (its stderr was empty)");
    else
        adderr(err, errlen, "; its stderr:\n%s", text);
    free(text);
}

/* ---------------------------------------------------------------------
 * Sockets handed to squalld
 * ------------------------------------------------------------------- */

/* The listening socket: 127.0.0.1, port chosen by the kernel. */
static int listen_socket(int *port, char *err, size_t errlen)
{
    struct sockaddr_in sin;
    socklen_t len = sizeof sin;
    int one = 1;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    if (fd < 0 || set_cloexec_nonblock(fd, 0) < 0)
        goto fail;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sin.sin_port = 0;
    if (bind(fd, (struct sockaddr *)&sin, sizeof sin) < 0 ||
        listen(fd, SOMAXCONN) < 0 ||
        getsockname(fd, (struct sockaddr *)&sin, &len) < 0)
        goto fail;
    *port = ntohs(sin.sin_port);
    return fd;
fail:
    seterr(err, errlen, "listening socket on 127.0.0.1: %s", strerror(errno));
    if (fd >= 0)
        close(fd);
    return -1;
}

/* Our end of $NOTIFY_SOCKET: a datagram socket bound to s->notify. */
static int notify_socket(const sq_test_server *s, char *err, size_t errlen)
{
    struct sockaddr_un sun;
    int fd = socket(AF_UNIX, SOCK_DGRAM, 0);

    if (fd < 0 || set_cloexec_nonblock(fd, 1) < 0)
        goto fail;
    memset(&sun, 0, sizeof sun);
    sun.sun_family = AF_UNIX;
    memcpy(sun.sun_path, s->notify, strlen(s->notify) + 1);
    if (bind(fd, (struct sockaddr *)&sun, sizeof sun) < 0)
        goto fail;
    return fd;
fail:
    seterr(err, errlen, "notify socket %s: %s", s->notify, strerror(errno));
    if (fd >= 0)
        close(fd);
    return -1;
}

/* ---------------------------------------------------------------------
 * The child: fork, then exec squalld as systemd would
 * ------------------------------------------------------------------- */

static const char *squalld_path(void)
{
    const char *p = getenv("SQUALLD");

    return p != NULL && *p != '\0' ? p : SQ_SQUALLD;
}

/* Variables set for squalld, dropped from the inherited environment. */
static const char *const own_vars[] = {
    "LISTEN_FDS=",    "LISTEN_PID=",    "LISTEN_FDNAMES=",
    "NOTIFY_SOCKET=", "WATCHDOG_USEC=", "WATCHDOG_PID=",
};

static int own_var(const char *e)
{
    size_t i;

    for (i = 0; i < sizeof own_vars / sizeof own_vars[0]; i++)
        if (strncmp(e, own_vars[i], strlen(own_vars[i])) == 0)
            return 1;
    return 0;
}

struct child {
    const char *argv[4];
    char **envp; /* pointers into environ and the buffers below */
    char notify_var[sizeof "NOTIFY_SOCKET=" +
                    sizeof(((struct sockaddr_un *)0)->sun_path)];
    char pid_var[32]; /* "LISTEN_PID=" filled in by the child */
    int listen_fd, log_fd;
    pid_t parent;
};

extern char **environ;

/* Built before fork so that the child only does async-signal-safe work
 * (execve with this array rather than setenv). */
static int child_env(struct child *c, const sq_test_server *s)
{
    static char listen_fds[] = "LISTEN_FDS=1";
    size_t n = 0, i, j = 0;

    while (environ != NULL && environ[n] != NULL)
        n++;
    c->envp = calloc(n + 4, sizeof *c->envp);
    if (c->envp == NULL)
        return -1;
    for (i = 0; i < n; i++)
        if (!own_var(environ[i]))
            c->envp[j++] = environ[i];
    snprintf(c->notify_var, sizeof c->notify_var, "NOTIFY_SOCKET=%s",
             s->notify);
    c->envp[j++] = listen_fds;
    c->envp[j++] = c->notify_var;
    c->envp[j++] = c->pid_var;
    c->envp[j] = NULL;
    return 0;
}

/* "LISTEN_PID=<pid>" without stdio, in the child. */
static void format_pid_var(char *out, pid_t pid)
{
    static const char prefix[] = "LISTEN_PID=";
    char digits[24];
    int n = 0;

    memcpy(out, prefix, sizeof prefix - 1);
    out += sizeof prefix - 1;
    do {
        digits[n++] = (char)('0' + pid % 10);
        pid /= 10;
    } while (pid > 0);
    while (n > 0)
        *out++ = digits[--n];
    *out = '\0';
}

static void close_above_3(void)
{
#if (defined(__GLIBC__) &&                                                     \
     (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))) ||          \
    defined(__FreeBSD__) || defined(__OpenBSD__)
    closefrom(4);
#else
    long max = sysconf(_SC_OPEN_MAX);
    int fd;

    if (max < 0 || max > 65536)
        max = 65536;
    for (fd = 4; fd < max; fd++)
        close(fd);
#endif
}

/* In the child after fork: stdin /dev/null, stdout and stderr the log,
 * fd 3 the listening socket, nothing else; then exec. Never returns. */
static void child_exec(struct child *c) __attribute__((noreturn));

static void child_exec(struct child *c)
{
    static const char msg[] = "sq_test_start: cannot exec squalld\n";
    sigset_t none;
    ssize_t n;
    int lfd, logfd, nullfd;

    setpgid(0, 0); /* sq_test_stop() can kill what squalld leaves behind */
#ifdef __linux__
    /* A test that crashes must not leave a daemon running. */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != c->parent)
        _exit(126);
#endif
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGCHLD, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    signal(SIGHUP, SIG_DFL);

    /* Move our fds out of 0..3 first: any of them may be sitting there. */
    lfd = fcntl(c->listen_fd, F_DUPFD_CLOEXEC, 10);
    logfd = fcntl(c->log_fd, F_DUPFD_CLOEXEC, 10);
    nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (nullfd >= 0)
        nullfd = fcntl(nullfd, F_DUPFD_CLOEXEC, 10);
    if (lfd < 0 || logfd < 0 || nullfd < 0 || dup2(nullfd, 0) < 0 ||
        dup2(logfd, 1) < 0 || dup2(logfd, 2) < 0 || dup2(lfd, 3) < 0)
        _exit(126);
    close_above_3();
    format_pid_var(c->pid_var, getpid());
    execve(c->argv[0], (char *const *)c->argv, c->envp);
    n = write(2, msg, sizeof msg - 1); /* into the log, for sq_test_start */
    (void)n;
    _exit(127);
}

/* ---------------------------------------------------------------------
 * Watching the child
 * ------------------------------------------------------------------- */

/* Whether squalld has exited, without reaping it: while it is a zombie its
 * pid, and so its process group id, cannot be reused. */
static int child_exited(const sq_test_server *s)
{
    siginfo_t si;

    if (s->pid <= 0)
        return 1;
    /* a forked test process (Check's fork mode) cannot wait for its
     * parent's child: ask whether the process still exists instead */
    if (getpid() != s->parent)
        return kill(s->pid, 0) < 0 && errno == ESRCH;
    memset(&si, 0, sizeof si);
    if (waitid(P_PID, (id_t)s->pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0)
        return errno == ECHILD;
    return si.si_pid != 0;
}

/* Waits until squalld exits or the deadline passes; 0 when it exited. */
static int wait_exit(const sq_test_server *s, double deadline)
{
    while (!child_exited(s)) {
        if (now() >= deadline)
            return -1;
        poll(NULL, 0, ms_left(deadline, POLL_MS));
    }
    return 0;
}

/* Reaps squalld. With kill_all, its whole process group is killed first
 * (while the master is at least a zombie, the group id cannot be reused).
 * Otherwise *stragglers tells whether the group outlived the master, i.e.
 * squalld exited without stopping its workers; they are killed then. */
static int reap(sq_test_server *s, int kill_all, int *stragglers)
{
    int status;
    pid_t r;

    *stragglers = 0;
    if (s->pid <= 0)
        return -1;
    if (kill_all)
        kill(-s->pid, SIGKILL);
    do
        r = waitpid(s->pid, &status, 0);
    while (r < 0 && errno == EINTR);
    if (!kill_all && kill(-s->pid, SIGKILL) == 0)
        *stragglers = 1;
    s->pid = -1;
    return r < 0 ? -1 : status;
}

static void describe_status(int status, char *err, size_t errlen)
{
    if (status < 0)
        adderr(err, errlen, "could not be waited for");
    else if (WIFEXITED(status))
        adderr(err, errlen, "exited with status %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        adderr(err, errlen, "was killed by signal %d (%s)", WTERMSIG(status),
               strsignal(WTERMSIG(status)));
    else
        adderr(err, errlen, "stopped with wait status %#x", status);
}

/* ---------------------------------------------------------------------
 * Starting
 * ------------------------------------------------------------------- */

/* Whether a notify datagram holds the line READY=1 (sd_notify(3)). */
static int has_ready(char *msg)
{
    char *line, *save = NULL;

    for (line = strtok_r(msg, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save))
        if (strcmp(line, "READY=1") == 0)
            return 1;
    return 0;
}

/* Drains pending notify datagrams; 1 when one said READY=1. */
static int got_ready(const sq_test_server *s)
{
    char msg[4096];
    ssize_t n;

    while ((n = recv(s->notify_fd, msg, sizeof msg - 1, 0)) >= 0 ||
           errno == EINTR) {
        if (n < 0)
            continue;
        msg[n] = '\0';
        if (has_ready(msg))
            return 1;
    }
    return 0;
}

static int wait_ready(sq_test_server *s, char *err, size_t errlen)
{
    double deadline = now() + s->timeout;
    struct pollfd pfd = {.fd = s->notify_fd, .events = POLLIN};
    int status, stragglers;

    for (;;) {
        if (got_ready(s))
            return 0;
        if (child_exited(s)) {
            status = reap(s, 1, &stragglers);
            seterr(err, errlen, "squalld ");
            describe_status(status, err, errlen);
            adderr(err, errlen, " before it was ready");
            break;
        }
        if (now() >= deadline) {
            reap(s, 1, &stragglers);
            seterr(err, errlen,
                   "squalld did not report READY=1 within %g s "
                   "(SQ_TEST_TIMEOUT)",
                   s->timeout);
            break;
        }
        poll(&pfd, 1, ms_left(deadline, POLL_MS));
    }
    add_log_head(s, err, errlen);
    return -1;
}

static int spawn(sq_test_server *s, int lfd, char *err, size_t errlen)
{
    struct child c;
    int ret = -1;

    memset(&c, 0, sizeof c);
    c.argv[0] = squalld_path();
    c.argv[1] = "-c";
    c.argv[2] = s->conf;
    c.listen_fd = lfd;
    c.parent = getpid();
    if (access(c.argv[0], X_OK) < 0) {
        seterr(err, errlen, "cannot run squalld %s: %s (set SQUALLD)",
               c.argv[0], strerror(errno));
        return -1;
    }
    c.log_fd =
        open(s->log, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
    if (c.log_fd < 0) {
        seterr(err, errlen, "%s: %s", s->log, strerror(errno));
        return -1;
    }
    if (child_env(&c, s) < 0) {
        seterr(err, errlen, "out of memory");
        goto out;
    }
    s->parent = getpid();
    s->pid = fork();
    if (s->pid == 0)
        child_exec(&c);
    if (s->pid < 0) {
        seterr(err, errlen, "fork: %s", strerror(errno));
        goto out;
    }
    setpgid(s->pid, s->pid); /* also here: whichever runs first wins */
    ret = 0;
out:
    free(c.envp);
    close(c.log_fd);
    return ret;
}

static void server_free(sq_test_server *s)
{
    close_fd(&s->notify_fd);
    remove_dir(s);
    free(s);
}

sq_test_server *sq_test_start(const char *yaml, char *err, size_t errlen)
{
    sq_test_server *s = calloc(1, sizeof *s);
    int lfd = -1;

    seterr(err, errlen, "%s", "");
    if (s == NULL) {
        seterr(err, errlen, "out of memory");
        return NULL;
    }
    s->pid = -1;
    s->notify_fd = -1;
    s->timeout = test_timeout();
    if (make_dir(s, err, errlen) < 0 ||
        write_file(s->conf, yaml ? yaml : "", err, errlen) < 0 ||
        (lfd = listen_socket(&s->port, err, errlen)) < 0 ||
        (s->notify_fd = notify_socket(s, err, errlen)) < 0 ||
        spawn(s, lfd, err, errlen) < 0)
        goto fail;
    /* Closed here so that a dead squalld means "connection refused", not
     * a connection that the kernel accepts and nobody serves. */
    close_fd(&lfd);
    if (wait_ready(s, err, errlen) < 0)
        goto fail;
    return s;
fail:
    close_fd(&lfd);
    server_free(s);
    return NULL;
}

int sq_test_port(const sq_test_server *s)
{
    return s->port;
}

int sq_test_pid(const sq_test_server *s)
{
    return (int)s->pid;
}

const char *sq_test_log(const sq_test_server *s)
{
    return s->log;
}

const char *sq_test_error(const sq_test_server *s)
{
    return s->error;
}

/* ---------------------------------------------------------------------
 * Stopping
 * ------------------------------------------------------------------- */

static int keep_dir(void)
{
    const char *v = getenv("SQ_TEST_KEEP");

    return v != NULL && *v != '\0' && strcmp(v, "0") != 0;
}

static void copy_log_tail(const sq_test_server *s, const char *why)
{
    char *text = read_log(s->log, LOG_TAIL, 1);

    fprintf(stderr, "sq_test_stop: squalld %s; the end of its log (%s):\n%s%s",
            why, s->log, text ? text : "",
            text && *text && text[strlen(text) - 1] != '\n' ? "\n" : "");
    free(text);
}

int sq_test_stop(sq_test_server *s)
{
    char why[256] = "";
    int status, stragglers, killed = 0, ret;

    if (s == NULL)
        return -1;
    if (s->pid > 0) {
        kill(s->pid, SIGTERM);
        killed = wait_exit(s, now() + s->timeout) < 0;
    }
    status = reap(s, killed, &stragglers);
    if (killed)
        seterr(why, sizeof why, "did not exit within %g s of SIGTERM: killed",
               s->timeout);
    else if (stragglers)
        seterr(why, sizeof why, "exited but left processes, now killed");
    else
        describe_status(status, why, sizeof why);
    ret = killed || stragglers || status < 0 || !WIFEXITED(status)
              ? -1
              : WEXITSTATUS(status);
    if (ret != 0)
        copy_log_tail(s, why);
    if (keep_dir()) {
        fprintf(stderr, "sq_test_stop: kept %s\n", s->dir);
        s->dir[0] = '\0';
    }
    server_free(s);
    return ret;
}

/* ---------------------------------------------------------------------
 * Fetching: one request, one connection
 * ------------------------------------------------------------------- */

struct fetch {
    sq_test_server *s;
    char what[160]; /* "GET /path", prefix of error messages */
    int fd;
    double deadline;
    int head;         /* a HEAD request: no body in the response */
    int expect_close; /* we sent Connection: close */
    struct buf out;   /* request head */
    const char *body; /* request body, sent after out */
    size_t body_len, sent;
    struct buf in; /* everything received */
    size_t pos;    /* parsed up to here */
    int eof, reset;
    sq_test_response *r;
    size_t cap_headers;
};

static int fail(struct fetch *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int fail(struct fetch *f, const char *fmt, ...)
{
    char *e = f->s->error;
    size_t n, len = sizeof f->s->error;
    va_list ap;

    n = (size_t)snprintf(e, len, "%s: ", f->what);
    if (n >= len)
        return -1;
    va_start(ap, fmt);
    vsnprintf(e + n, len - n, fmt, ap);
    va_end(ap);
    if (child_exited(f->s))
        adderr(e, len, " (squalld is no longer running: see %s)", f->s->log);
    return -1;
}

static int fail_timeout(struct fetch *f, const char *doing)
{
    return fail(f, "timed out after %g s %s", f->s->timeout, doing);
}

static int open_conn(struct fetch *f)
{
    struct sockaddr_in sin;
    struct pollfd pfd;
    socklen_t len = sizeof(int);
    int e = 0;

    f->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (f->fd < 0 || set_cloexec_nonblock(f->fd, 1) < 0)
        return fail(f, "socket: %s", strerror(errno));
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sin.sin_port = htons((unsigned short)f->s->port);
    if (connect(f->fd, (struct sockaddr *)&sin, sizeof sin) == 0)
        return 0;
    if (errno != EINPROGRESS && errno != EINTR)
        return fail(f, "connect 127.0.0.1:%d: %s", f->s->port, strerror(errno));
    pfd.fd = f->fd;
    pfd.events = POLLOUT;
    if (poll(&pfd, 1, ms_left(f->deadline, INT_MAX)) == 0)
        return fail_timeout(f, "connecting");
    if (getsockopt(f->fd, SOL_SOCKET, SO_ERROR, &e, &len) < 0)
        e = errno;
    if (e != 0)
        return fail(f, "connect 127.0.0.1:%d: %s", f->s->port, strerror(e));
    return 0;
}

/* Reads what is there into f->in; sets f->eof at the end of the stream.
 * A reset counts as the end too: whether it lost anything shows when the
 * response turns out incomplete. */
static int recv_some(struct fetch *f)
{
    ssize_t n;

    if (buf_reserve(&f->in, 65536 + 1) < 0)
        return fail(f, "out of memory");
    n = recv(f->fd, f->in.data + f->in.len, 65536, 0);
    if (n > 0) {
        f->in.len += (size_t)n;
        f->in.data[f->in.len] = '\0';
    } else if (n == 0) {
        f->eof = 1;
    } else if (errno == ECONNRESET) {
        f->eof = f->reset = 1;
    } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        return fail(f, "recv: %s", strerror(errno));
    }
    return 0;
}

/* Waits for input (or the end of it) and reads it. */
static int recv_wait(struct fetch *f, const char *doing)
{
    struct pollfd pfd = {.fd = f->fd, .events = POLLIN};
    int n = poll(&pfd, 1, ms_left(f->deadline, INT_MAX));

    if (n < 0 && errno != EINTR)
        return fail(f, "poll: %s", strerror(errno));
    if (n == 0)
        return fail_timeout(f, doing);
    return n > 0 ? recv_some(f) : 0;
}

/* Sends the next piece of the request; *done when all is sent or the
 * server stopped reading (it may have answered early, e.g. 413). */
static int send_some(struct fetch *f, int *done)
{
    const char *p = f->sent < f->out.len ? f->out.data + f->sent
                                         : f->body + (f->sent - f->out.len);
    size_t left = f->sent < f->out.len ? f->out.len - f->sent
                                       : f->body_len - (f->sent - f->out.len);
    ssize_t n = send(f->fd, p, left, MSG_NOSIGNAL);

    if (n >= 0)
        f->sent += (size_t)n;
    else if (errno == EPIPE || errno == ECONNRESET)
        *done = 1;
    else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
        return fail(f, "send: %s", strerror(errno));
    if (f->sent == f->out.len + f->body_len)
        *done = 1;
    return 0;
}

/* Sends the request while reading whatever arrives meanwhile, so that a
 * server answering before the whole body is in cannot deadlock us. */
static int send_request(struct fetch *f)
{
    struct pollfd pfd = {.fd = f->fd, .events = POLLIN | POLLOUT};
    int done = f->out.len + f->body_len == 0, n;

    while (!done) {
        n = poll(&pfd, 1, ms_left(f->deadline, INT_MAX));
        if (n < 0 && errno != EINTR)
            return fail(f, "poll: %s", strerror(errno));
        if (n == 0)
            return fail_timeout(f, "sending the request");
        if (n < 0)
            continue;
        if ((pfd.revents & (POLLIN | POLLHUP | POLLERR)) && !f->eof &&
            recv_some(f) < 0)
            return -1;
        if ((pfd.revents & (POLLOUT | POLLERR | POLLHUP)) &&
            send_some(f, &done) < 0)
            return -1;
        if (f->eof)
            pfd.events = POLLOUT;
    }
    return 0;
}

/* ---------------------------------------------------------------------
 * Parsing the response (RFC 9112)
 * ------------------------------------------------------------------- */

static int fail_truncated(struct fetch *f, const char *where)
{
    if (f->in.len == 0)
        return fail(f, "connection %s without a response",
                    f->reset ? "reset" : "closed");
    return fail(f, "connection %s %s", f->reset ? "reset" : "closed", where);
}

/* The next CRLF-terminated line, without its CRLF, NUL-terminated in
 * place. RFC 9112 2.2: a bare LF is accepted by lenient recipients; we
 * test a server, so it is an error here. */
static int next_line(struct fetch *f, char **line, size_t *len,
                     const char *where)
{
    char *nl;

    for (;;) {
        nl = memchr(f->in.data ? f->in.data + f->pos : "", '\n',
                    f->in.len - f->pos);
        if (nl != NULL)
            break;
        if (f->in.len - f->pos > MAX_LINE)
            return fail(f, "line longer than %d bytes %s", MAX_LINE, where);
        if (f->eof)
            return fail_truncated(f, where);
        if (recv_wait(f, "reading the response") < 0)
            return -1;
    }
    *line = f->in.data + f->pos;
    *len = (size_t)(nl - *line);
    if (*len == 0 || nl[-1] != '\r')
        return fail(f, "line not ended by CRLF %s", where);
    *len -= 1;
    (*line)[*len] = '\0';
    f->pos = (size_t)(nl - f->in.data) + 1;
    return 0;
}

/* Makes sure n bytes after f->pos have arrived. */
static int need_bytes(struct fetch *f, size_t n, const char *where)
{
    while (f->in.len - f->pos < n) {
        if (f->eof)
            return fail_truncated(f, where);
        if (recv_wait(f, "reading the response body") < 0)
            return -1;
    }
    return 0;
}

/* "HTTP/1.1 200 OK" (RFC 9112 4). */
static int parse_status(struct fetch *f, const char *line)
{
    sq_test_response *r = f->r;

    if (strncmp(line, "HTTP/1.", 7) != 0 ||
        (line[7] != '0' && line[7] != '1') || line[8] != ' ' || line[9] < '1' ||
        line[9] > '5' || line[10] < '0' || line[10] > '9' || line[11] < '0' ||
        line[11] > '9' || (line[12] != ' ' && line[12] != '\0'))
        return fail(f, "malformed status line \"%.80s\"", line);
    r->version = line[7] == '1' ? 11 : 10;
    r->status = (line[9] - '0') * 100 + (line[10] - '0') * 10 + line[11] - '0';
    free(r->reason);
    r->reason = strdup(line[12] == ' ' ? line + 13 : "");
    return r->reason ? 0 : fail(f, "out of memory");
}

static int is_tchar(unsigned char c)
{
    return c != 0 &&
           ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
            (c >= 'A' && c <= 'Z') || strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static int add_field(struct fetch *f, const char *name, size_t nlen,
                     const char *value, size_t vlen)
{
    sq_test_response *r = f->r;
    sq_test_field *h;

    if (r->nheaders == f->cap_headers) {
        size_t cap = f->cap_headers ? f->cap_headers * 2 : 16;

        h = realloc(r->headers, cap * sizeof *h);
        if (h == NULL)
            return fail(f, "out of memory");
        r->headers = h;
        f->cap_headers = cap;
    }
    h = &r->headers[r->nheaders];
    h->name = strndup(name, nlen);
    h->value = strndup(value, vlen);
    r->nheaders++;
    return h->name && h->value ? 0 : fail(f, "out of memory");
}

/* "Name: value" (RFC 9112 5): no space before the colon, OWS around the
 * value, no obsolete line folding. */
static int parse_field(struct fetch *f, const char *line, size_t len)
{
    const char *colon = memchr(line, ':', len), *v, *end = line + len;
    size_t nlen;

    if (colon == NULL || colon == line)
        return fail(f, "malformed header line \"%.80s\"", line);
    nlen = (size_t)(colon - line);
    for (v = line; v < colon; v++)
        if (!is_tchar((unsigned char)*v))
            return fail(f, "malformed header name \"%.80s\"", line);
    for (v = colon + 1; v < end && (*v == ' ' || *v == '\t'); v++)
        ;
    while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    if (memchr(v, '\0', (size_t)(end - v)) != NULL)
        return fail(f, "NUL in the value of header \"%.*s\"", (int)nlen, line);
    return add_field(f, line, nlen, v, (size_t)(end - v));
}

static void free_fields(sq_test_response *r)
{
    size_t i;

    for (i = 0; i < r->nheaders; i++) {
        free(r->headers[i].name);
        free(r->headers[i].value);
    }
    r->nheaders = 0;
}

/* Status line and header fields, up to the empty line. */
static int read_head(struct fetch *f)
{
    size_t start = f->pos, len;
    char *line;

    if (next_line(f, &line, &len, "before the status line") < 0 ||
        parse_status(f, line) < 0)
        return -1;
    for (;;) {
        if (next_line(f, &line, &len, "in the headers") < 0)
            return -1;
        if (len == 0)
            return 0;
        if (f->pos - start > MAX_HEAD)
            return fail(f, "headers longer than %d bytes", MAX_HEAD);
        if (line[0] == ' ' || line[0] == '\t')
            return fail(f, "obsolete line folding in the headers");
        if (parse_field(f, line, len) < 0)
            return -1;
    }
}

/* RFC 9110 15.2: interim responses precede the final one; 101 is final
 * for this connection. */
static int read_final_head(struct fetch *f)
{
    for (;;) {
        if (read_head(f) < 0)
            return -1;
        if (f->r->status >= 200 || f->r->status == 101)
            return 0;
        free_fields(f->r);
    }
}

static int set_body(struct fetch *f, const char *p, size_t n)
{
    char *b = malloc(n + 1);

    if (b == NULL)
        return fail(f, "out of memory");
    memcpy(b, p, n);
    b[n] = '\0';
    free(f->r->body);
    f->r->body = b;
    f->r->body_len = n;
    return 0;
}

/* Digits only; every Content-Length field must agree (RFC 9110 8.6). */
static int content_length(struct fetch *f, int *present, size_t *len)
{
    const sq_test_response *r = f->r;
    size_t i, v;
    const char *p;

    *present = 0;
    for (i = 0; i < r->nheaders; i++) {
        if (strcasecmp(r->headers[i].name, "Content-Length") != 0)
            continue;
        p = r->headers[i].value;
        if (*p == '\0')
            return fail(f, "empty Content-Length");
        for (v = 0; *p != '\0'; p++) {
            if (*p < '0' || *p > '9' || v > (SIZE_MAX - 9) / 10)
                return fail(f, "bad Content-Length \"%s\"",
                            r->headers[i].value);
            v = v * 10 + (size_t)(*p - '0');
        }
        if (*present && v != *len)
            return fail(f, "conflicting Content-Length fields");
        *present = 1;
        *len = v;
    }
    return 0;
}

static int read_fixed_body(struct fetch *f, size_t len)
{
    if (need_bytes(f, len, "before the end of the body (Content-Length)") < 0)
        return -1;
    if (set_body(f, f->in.data + f->pos, len) < 0)
        return -1;
    f->pos += len;
    return 0;
}

static int read_close_body(struct fetch *f)
{
    while (!f->eof)
        if (recv_wait(f, "reading the body up to the close") < 0)
            return -1;
    if (f->reset)
        return fail(f, "connection reset in a close-delimited body");
    if (set_body(f, f->in.data + f->pos, f->in.len - f->pos) < 0)
        return -1;
    f->pos = f->in.len;
    return 0;
}

/* chunk-size [ chunk-ext ] CRLF (RFC 9112 7.1). */
static int chunk_size(struct fetch *f, size_t *size)
{
    char *line, *p;
    size_t len, v = 0;

    if (next_line(f, &line, &len, "in a chunk size line") < 0)
        return -1;
    for (p = line; *p != '\0' && strchr("0123456789abcdefABCDEF", *p); p++) {
        /* after this digit v + 2 (the CRLF) must still fit */
        if (v > (SIZE_MAX - 2 - 15) / 16)
            return fail(f, "chunk size too large \"%.40s\"", line);
        v = v * 16 + (size_t)(*p <= '9' ? *p - '0' : (*p | 0x20) - 'a' + 10);
    }
    while (*p == ' ' || *p == '\t')
        p++;
    if (p == line || (*p != '\0' && *p != ';'))
        return fail(f, "malformed chunk size line \"%.80s\"", line);
    *size = v;
    return 0;
}

static int read_chunked_body(struct fetch *f)
{
    struct buf body = {NULL, 0, 0};
    size_t size = 0, len;
    char *line;

    for (;;) {
        if (chunk_size(f, &size) < 0)
            goto fail;
        if (size == 0)
            break;
        if (need_bytes(f, size + 2, "in a chunk") < 0)
            goto fail;
        if (memcmp(f->in.data + f->pos + size, "\r\n", 2) != 0) {
            fail(f, "chunk data not followed by CRLF (wrong chunk size?)");
            goto fail;
        }
        if (buf_add(&body, f->in.data + f->pos, size) < 0) {
            fail(f, "out of memory");
            goto fail;
        }
        f->pos += size + 2;
    }
    /* trailer section (RFC 9112 7.1.2): kept with the headers, and as
     * bounded as they are */
    for (size_t total = 0;; total += len) {
        if (next_line(f, &line, &len, "in the chunked trailer") < 0)
            goto fail;
        if (len == 0)
            break;
        if (total + len > MAX_HEAD) {
            fail(f, "chunked trailer larger than %d bytes", MAX_HEAD);
            goto fail;
        }
        if (parse_field(f, line, len) < 0)
            goto fail;
    }
    if (set_body(f, body.data ? body.data : "", body.len) < 0)
        goto fail;
    free(body.data);
    return 0;
fail:
    free(body.data);
    return -1;
}

/* Message body length, RFC 9112 6.3, in its order. */
static int read_body(struct fetch *f, int *close_delimited)
{
    const char *te = sq_test_header(f->r, "Transfer-Encoding");
    int status = f->r->status, has_cl;
    size_t cl = 0;

    *close_delimited = 0;
    if (f->head || status < 200 || status == 204 || status == 304)
        return 0;
    if (content_length(f, &has_cl, &cl) < 0)
        return -1;
    if (te != NULL && has_cl)
        return fail(f, "both Transfer-Encoding and Content-Length");
    if (te != NULL && strcasecmp(te, "chunked") == 0)
        return read_chunked_body(f);
    if (te != NULL)
        return fail(f, "unsupported Transfer-Encoding \"%s\"", te);
    if (has_cl)
        return read_fixed_body(f, cl);
    *close_delimited = 1;
    return read_close_body(f);
}

/* After a complete response on a "Connection: close" request the server
 * must close (RFC 9112 9.6); anything before that is a framing bug. */
static int expect_close(struct fetch *f)
{
    while (!f->eof && f->in.len == f->pos)
        if (recv_wait(f, "waiting for the server to close the connection") < 0)
            return -1;
    if (f->in.len > f->pos)
        return fail(f,
                    "%zu unexpected bytes after the end of the response "
                    "(wrong Content-Length, or a body where none belongs?)",
                    f->in.len - f->pos);
    return 0;
}

static int read_response(struct fetch *f)
{
    int close_delimited;

    f->r = calloc(1, sizeof *f->r);
    if (f->r == NULL)
        return fail(f, "out of memory");
    if (read_final_head(f) < 0 || read_body(f, &close_delimited) < 0)
        return -1;
    if (f->r->body == NULL && set_body(f, "", 0) < 0)
        return -1;
    if (f->expect_close && !close_delimited && f->r->status != 101)
        return expect_close(f);
    return 0;
}

static sq_test_response *run_fetch(struct fetch *f)
{
    sq_test_response *r = NULL;

    f->s->error[0] = '\0';
    f->fd = -1;
    f->deadline = now() + f->s->timeout;
    if (open_conn(f) == 0 && send_request(f) == 0 && read_response(f) == 0) {
        r = f->r;
        f->r = NULL;
    }
    sq_test_response_free(f->r);
    close_fd(&f->fd);
    free(f->out.data);
    free(f->in.data);
    return r;
}

/* Whether one of the caller's "Name: value" lines has this name. */
static int has_header(const char *const *headers, const char *name)
{
    size_t n = strlen(name);

    for (; headers != NULL && *headers != NULL; headers++)
        if (strncasecmp(*headers, name, n) == 0 && (*headers)[n] == ':')
            return 1;
    return 0;
}

static int needs_length(const char *method, const void *body)
{
    return body != NULL || strcmp(method, "POST") == 0 ||
           strcmp(method, "PUT") == 0 || strcmp(method, "PATCH") == 0;
}

static int bad_text(const char *s)
{
    return strpbrk(s, "\r\n") != NULL;
}

/* The request line and header section (RFC 9112 3, 5). */
static int build_head(struct fetch *f, const char *method, const char *path,
                      const char *const *headers)
{
    const char *const *h;
    char line[128];
    int bad = bad_text(method) || bad_text(path) || strchr(method, ' ') ||
              strchr(path, ' ') || *method == '\0' || *path == '\0';

    for (h = headers; h != NULL && *h != NULL; h++)
        bad = bad || bad_text(*h) || strchr(*h, ':') == NULL;
    if (bad)
        return fail(f, "bad method, path or header line "
                       "(use sq_test_fetch_raw() for malformed requests)");
    if (buf_str(&f->out, method) || buf_str(&f->out, " ") ||
        buf_str(&f->out, path) || buf_str(&f->out, " HTTP/1.1\r\n"))
        return fail(f, "out of memory");
    if (!has_header(headers, "Host")) {
        snprintf(line, sizeof line, "Host: 127.0.0.1:%d\r\n", f->s->port);
        if (buf_str(&f->out, line))
            return fail(f, "out of memory");
    }
    if (needs_length(method, f->body) &&
        !has_header(headers, "Content-Length") &&
        !has_header(headers, "Transfer-Encoding")) {
        snprintf(line, sizeof line, "Content-Length: %zu\r\n", f->body_len);
        if (buf_str(&f->out, line))
            return fail(f, "out of memory");
    }
    f->expect_close = !has_header(headers, "Connection");
    if (f->expect_close && buf_str(&f->out, "Connection: close\r\n"))
        return fail(f, "out of memory");
    for (h = headers; h != NULL && *h != NULL; h++)
        if (buf_str(&f->out, *h) || buf_str(&f->out, "\r\n"))
            return fail(f, "out of memory");
    return buf_str(&f->out, "\r\n") ? fail(f, "out of memory") : 0;
}

sq_test_response *sq_test_fetch(sq_test_server *s, const char *method,
                                const char *path, const char *const *headers,
                                const void *body, size_t body_len)
{
    struct fetch f;

    memset(&f, 0, sizeof f);
    f.s = s;
    method = method ? method : "GET";
    path = path ? path : "/";
    snprintf(f.what, sizeof f.what, "%s %s", method, path);
    f.head = strcmp(method, "HEAD") == 0;
    f.body = body;
    f.body_len = body ? body_len : 0;
    if (build_head(&f, method, path, headers) < 0) {
        free(f.out.data);
        return NULL;
    }
    return run_fetch(&f);
}

sq_test_response *sq_test_get(sq_test_server *s, const char *path)
{
    return sq_test_fetch(s, "GET", path, NULL, NULL, 0);
}

sq_test_response *sq_test_fetch_raw(sq_test_server *s, const void *request,
                                    size_t len)
{
    const char *req = request, *eol = memchr(request, '\n', len);
    size_t n = eol ? (size_t)(eol - req) : len;
    struct fetch f;

    memset(&f, 0, sizeof f);
    f.s = s;
    if (n > 0 && req[n - 1] == '\r')
        n--;
    snprintf(f.what, sizeof f.what, "raw request \"%.*s\"",
             (int)(n < 60 ? n : 60), req);
    f.head = len >= 5 && memcmp(req, "HEAD ", 5) == 0;
    f.body = req;
    f.body_len = len;
    return run_fetch(&f);
}

const char *sq_test_header(const sq_test_response *r, const char *name)
{
    size_t i;

    for (i = 0; r != NULL && i < r->nheaders; i++)
        if (strcasecmp(r->headers[i].name, name) == 0)
            return r->headers[i].value;
    return NULL;
}

void sq_test_response_free(sq_test_response *r)
{
    if (r == NULL)
        return;
    free_fields(r);
    free(r->headers);
    free(r->reason);
    free(r->body);
    free(r);
}
