/*
 * testserver.c - the server side of the test client: sq_test_start()
 * writes the config into a private mkdtemp directory, binds an ephemeral
 * 127.0.0.1 port itself (no race for a free port), hands it to squalld by
 * socket activation (testspawn.c) and waits for "READY=1" on a notify
 * socket in that directory; sq_test_stop() stops squalld and returns its
 * exit status. squalld's stderr goes to a log file in the directory
 * (testlog.c reads it).
 */
#include "testlib.h"

#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define POLL_MS 10 /* readiness polling interval */

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
        tl_seterr(err, errlen, "temporary directory name too long");
        s->dir[0] = '\0';
        return -1;
    }
    if (mkdtemp(s->dir) == NULL) {
        tl_seterr(err, errlen, "mkdtemp %s: %s", s->dir, strerror(errno));
        s->dir[0] = '\0';
        return -1;
    }
    if (path_in(s->conf, sizeof s->conf, s->dir, "squall.yaml") < 0 ||
        path_in(s->log, sizeof s->log, s->dir, "squalld.log") < 0 ||
        path_in(s->notify, sizeof s->notify, s->dir, "notify") < 0) {
        tl_seterr(err, errlen, "%s: path too long", s->dir);
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
    tl_seterr(err, errlen, "%s: %s", path, strerror(errno));
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

    if (fd < 0 || tl_cloexec_nonblock(fd, 0) < 0)
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
    tl_seterr(err, errlen, "listening socket on 127.0.0.1: %s",
              strerror(errno));
    if (fd >= 0)
        close(fd);
    return -1;
}

/* Our end of $NOTIFY_SOCKET: a datagram socket bound to s->notify. */
static int notify_socket(const sq_test_server *s, char *err, size_t errlen)
{
    struct sockaddr_un sun;
    int fd = socket(AF_UNIX, SOCK_DGRAM, 0);

    if (fd < 0 || tl_cloexec_nonblock(fd, 1) < 0)
        goto fail;
    memset(&sun, 0, sizeof sun);
    sun.sun_family = AF_UNIX;
    memcpy(sun.sun_path, s->notify, strlen(s->notify) + 1);
    if (bind(fd, (struct sockaddr *)&sun, sizeof sun) < 0)
        goto fail;
    return fd;
fail:
    tl_seterr(err, errlen, "notify socket %s: %s", s->notify, strerror(errno));
    if (fd >= 0)
        close(fd);
    return -1;
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
    double deadline = tl_now() + s->timeout;
    struct pollfd pfd = {.fd = s->notify_fd, .events = POLLIN};
    int status, stragglers;

    for (;;) {
        if (got_ready(s))
            return 0;
        if (tl_child_exited(&s->child)) {
            status = tl_child_reap(&s->child, 1, &stragglers);
            tl_seterr(err, errlen, "squalld ");
            tl_describe_status(status, err, errlen);
            tl_adderr(err, errlen, " before it was ready");
            break;
        }
        if (tl_now() >= deadline) {
            tl_child_reap(&s->child, 1, &stragglers);
            tl_seterr(err, errlen,
                      "squalld did not report READY=1 within %g s "
                      "(SQ_TEST_TIMEOUT)",
                      s->timeout);
            break;
        }
        poll(&pfd, 1, tl_ms_left(deadline, POLL_MS));
    }
    tl_log_head(s->log, err, errlen);
    return -1;
}

static void server_free(sq_test_server *s)
{
    while (s->conns != NULL) {
        sq_test_conn *c = s->conns;

        s->conns = tl_conn_next(c);
        tl_conn_detach(c); /* the caller still closes it */
    }
    tl_close(&s->notify_fd);
    remove_dir(s);
    free(s);
}

sq_test_server *sq_test_start(const char *yaml, char *err, size_t errlen)
{
    sq_test_server *s = calloc(1, sizeof *s);
    int lfd = -1;

    tl_seterr(err, errlen, "%s", "");
    if (s == NULL) {
        tl_seterr(err, errlen, "out of memory");
        return NULL;
    }
    s->child.pid = -1;
    s->notify_fd = -1;
    s->timeout = tl_default_timeout();
    if (make_dir(s, err, errlen) < 0 ||
        write_file(s->conf, yaml ? yaml : "", err, errlen) < 0 ||
        (lfd = listen_socket(&s->port, err, errlen)) < 0 ||
        (s->notify_fd = notify_socket(s, err, errlen)) < 0 ||
        tl_spawn(&s->child, s->conf, s->log, s->notify, lfd, err, errlen) < 0)
        goto fail;
    /* Closed here so that a dead squalld means "connection refused", not
     * a connection that the kernel accepts and nobody serves. */
    tl_close(&lfd);
    if (wait_ready(s, err, errlen) < 0)
        goto fail;
    return s;
fail:
    tl_close(&lfd);
    server_free(s);
    return NULL;
}

int sq_test_port(const sq_test_server *s)
{
    return s->port;
}

int sq_test_pid(const sq_test_server *s)
{
    return (int)s->child.pid;
}

const char *sq_test_log(const sq_test_server *s)
{
    return s->log;
}

int sq_test_running(const sq_test_server *s)
{
    return !tl_child_exited(&s->child);
}

const char *sq_test_error(const sq_test_server *s)
{
    return s->error;
}

/* ---------------------------------------------------------------------
 * What the connections need
 * ------------------------------------------------------------------- */

void tl_server_attach(sq_test_server *s, sq_test_conn *c)
{
    tl_conn_set_next(c, s->conns);
    s->conns = c;
}

void tl_server_detach(sq_test_server *s, sq_test_conn *c)
{
    sq_test_conn *prev;

    if (s->conns == c) {
        s->conns = tl_conn_next(c);
        return;
    }
    for (prev = s->conns; prev != NULL; prev = tl_conn_next(prev))
        if (tl_conn_next(prev) == c) {
            tl_conn_set_next(prev, tl_conn_next(c));
            return;
        }
}

void tl_server_note_exit(const sq_test_server *s, char *err, size_t errlen)
{
    if (s != NULL && tl_child_exited(&s->child))
        tl_adderr(err, errlen, " (squalld is no longer running: see %s)",
                  s->log);
}

void tl_server_set_error(sq_test_server *s, const char *msg)
{
    snprintf(s->error, sizeof s->error, "%s", msg);
}

double tl_server_timeout(const sq_test_server *s)
{
    return s->timeout;
}

/* ---------------------------------------------------------------------
 * Stopping
 * ------------------------------------------------------------------- */

static int keep_dir(void)
{
    const char *v = getenv("SQ_TEST_KEEP");

    return v != NULL && *v != '\0' && strcmp(v, "0") != 0;
}

int sq_test_stop(sq_test_server *s)
{
    char why[256] = "";
    int status, stragglers, killed = 0, ret;

    if (s == NULL)
        return -1;
    if (s->child.pid > 0) {
        kill(s->child.pid, SIGTERM);
        killed = tl_child_wait(&s->child, tl_now() + s->timeout) < 0;
    }
    status = tl_child_reap(&s->child, killed, &stragglers);
    if (killed)
        tl_seterr(why, sizeof why,
                  "did not exit within %g s of SIGTERM: killed", s->timeout);
    else if (stragglers)
        tl_seterr(why, sizeof why, "exited but left processes, now killed");
    else
        tl_describe_status(status, why, sizeof why);
    ret = killed || stragglers || status < 0 || !WIFEXITED(status)
              ? -1
              : WEXITSTATUS(status);
    if (ret != 0)
        tl_log_tail(s->log, why);
    if (keep_dir()) {
        fprintf(stderr, "sq_test_stop: kept %s\n", s->dir);
        s->dir[0] = '\0';
    }
    server_free(s);
    return ret;
}
