/*
 * testconn.c - sq_test_conn, the object: opening (connect to a server, or
 * adopt a socket), waiting for input with a deadline, errors, and the
 * end - the server's close seen, or the client leaving on purpose with
 * FIN, a half-close or RST so that a test can watch the server react.
 * Sending is testsend.c, reading responses testread.c.
 *
 * A blocking API over a non-blocking socket and poll(), so that every wait
 * has a deadline. Input is read only when the parser has used up what is
 * buffered (testread.c), so the buffer stays about one recv() large.
 */
#include "testlib.h"

#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DRAIN_MAX 1024 /* recv() calls before a close (64 MiB) */

/* ---------------------------------------------------------------------
 * Errors
 * ------------------------------------------------------------------- */

void tl_conn_fail(sq_test_conn *c, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    tl_vseterr(c->error, sizeof c->error, fmt, ap);
    va_end(ap);
    tl_server_note_exit(c->srv, c->error, sizeof c->error);
}

const char *sq_test_conn_error(const sq_test_conn *c)
{
    return c->error;
}

int tl_conn_timeout(sq_test_conn *c, double secs, const char *doing)
{
    tl_conn_fail(c, "%s: timed out after %g s %s", c->what, secs, doing);
    return -1;
}

/* ---------------------------------------------------------------------
 * Opening
 * ------------------------------------------------------------------- */

static sq_test_conn *conn_new(int fd)
{
    sq_test_conn *c = calloc(1, sizeof *c);

    if (c == NULL)
        return NULL;
    c->fd = fd;
    c->in.max = TL_IN_MAX + TL_RECV_SIZE;
    snprintf(c->what, sizeof c->what, "response");
    return c;
}

/* The Host field: the peer's address, or "localhost" off TCP. */
static void peer_host(sq_test_conn *c)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    char addr[INET6_ADDRSTRLEN];
    struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

    snprintf(c->host, sizeof c->host, "localhost");
    if (getpeername(c->fd, (struct sockaddr *)&ss, &len) < 0)
        return;
    if (ss.ss_family == AF_INET &&
        inet_ntop(AF_INET, &sin->sin_addr, addr, sizeof addr) != NULL)
        snprintf(c->host, sizeof c->host, "%s:%d", addr, ntohs(sin->sin_port));
    else if (ss.ss_family == AF_INET6 &&
             inet_ntop(AF_INET6, &sin6->sin6_addr, addr, sizeof addr) != NULL)
        snprintf(c->host, sizeof c->host, "[%s]:%d", addr,
                 ntohs(sin6->sin6_port));
}

sq_test_conn *sq_test_conn_adopt(int fd)
{
    sq_test_conn *c;

    if (fd < 0 || tl_cloexec_nonblock(fd, 1) < 0)
        return NULL;
    c = conn_new(fd);
    if (c != NULL)
        peer_host(c);
    return c;
}

/* Connects fd to 127.0.0.1:port by the deadline; 0, or -1 with err. */
static int connect_by(int fd, int port, double deadline, char *err,
                      size_t errlen)
{
    struct sockaddr_in sin;
    struct pollfd pfd = {.fd = fd, .events = POLLOUT};
    socklen_t len = sizeof(int);
    int e = 0;

    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sin.sin_port = htons((unsigned short)port);
    if (connect(fd, (struct sockaddr *)&sin, sizeof sin) == 0)
        return 0;
    if (errno != EINPROGRESS && errno != EINTR)
        e = errno;
    else if (poll(&pfd, 1, tl_ms_left(deadline, INT_MAX)) == 0)
        e = ETIMEDOUT;
    else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) < 0)
        e = errno;
    if (e == 0)
        return 0;
    tl_seterr(err, errlen, "connect 127.0.0.1:%d: %s", port, strerror(e));
    return -1;
}

sq_test_conn *sq_test_connect(sq_test_server *s)
{
    char err[256];
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    double deadline = tl_now() + tl_server_timeout(s);
    sq_test_conn *c = NULL;

    if (fd < 0 || tl_cloexec_nonblock(fd, 1) < 0) {
        tl_seterr(err, sizeof err, "socket: %s", strerror(errno));
        goto fail;
    }
    if (connect_by(fd, sq_test_port(s), deadline, err, sizeof err) < 0)
        goto fail;
    c = conn_new(fd);
    if (c == NULL) {
        tl_seterr(err, sizeof err, "out of memory");
        goto fail;
    }
    peer_host(c);
    c->srv = s;
    tl_server_attach(s, c);
    return c;
fail:
    tl_server_note_exit(s, err, sizeof err);
    tl_server_set_error(s, err);
    tl_close(&fd);
    return NULL;
}

int sq_test_conn_fd(const sq_test_conn *c)
{
    return c->fd;
}

/* ---------------------------------------------------------------------
 * The socket
 * ------------------------------------------------------------------- */

/* Reads what is there into c->in; sets c->eof at the end of the stream.
 * A reset ends it too: whether that lost anything shows in the parse. */
int tl_conn_recv_some(sq_test_conn *c)
{
    ssize_t n;

    if (tl_buf_reserve(&c->in, TL_RECV_SIZE) < 0) {
        tl_conn_fail(c, "%s: more than %u bytes of input kept", c->what,
                     TL_IN_MAX);
        return -1;
    }
    n = recv(c->fd, c->in.data + c->in.len, TL_RECV_SIZE, 0);
    if (n > 0) {
        c->in.len += (size_t)n;
        c->in.data[c->in.len] = '\0';
    } else if (n == 0) {
        c->eof = 1;
    } else if (errno == ECONNRESET) {
        c->eof = c->reset = 1;
    } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        tl_conn_fail(c, "%s: recv: %s", c->what, strerror(errno));
        return -1;
    }
    return 0;
}

/* Waits for input (or its end) until deadline and reads it: 0 when
 * something happened, 1 on timeout, -1 on error. */
int tl_conn_fill(sq_test_conn *c, double deadline)
{
    struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
    int n;

    for (;;) {
        if (c->eof)
            return 0;
        n = poll(&pfd, 1, tl_ms_left(deadline, INT_MAX));
        if (n < 0 && errno != EINTR) {
            tl_conn_fail(c, "%s: poll: %s", c->what, strerror(errno));
            return -1;
        }
        if (n == 0)
            return 1;
        if (n > 0)
            return tl_conn_recv_some(c);
    }
}

/* ---------------------------------------------------------------------
 * Raw bytes, the end of the connection
 * ------------------------------------------------------------------- */

ssize_t sq_test_conn_recv(sq_test_conn *c, void *buf, size_t len,
                          int timeout_ms)
{
    double secs = tl_timeout_s(timeout_ms), deadline = tl_now() + secs;
    size_t n;

    c->error[0] = '\0';
    while (c->in.len == 0 && !c->eof) {
        switch (tl_conn_fill(c, deadline)) {
        case 1:
            tl_conn_fail(c, "raw recv: timed out after %g s", secs);
            return -1;
        case -1:
            return -1;
        }
    }
    n = c->in.len < len ? c->in.len : len;
    memcpy(buf, c->in.data ? c->in.data : "", n);
    tl_buf_consume(&c->in, n);
    c->in_pos += n;
    return (ssize_t)n;
}

size_t tl_conn_unread(const sq_test_conn *c)
{
    return c->in.len;
}

int sq_test_conn_closed(sq_test_conn *c, int timeout_ms)
{
    double secs = tl_timeout_s(timeout_ms), deadline = tl_now() + secs;
    char near[96];
    int r = 0;

    c->error[0] = '\0';
    while (c->in.len == 0 && !c->eof && r == 0)
        r = tl_conn_fill(c, deadline);
    if (r < 0)
        return -1;
    if (c->in.len > 0) {
        tl_quote(near, sizeof near, c->in.data, c->in.len, 40);
        tl_conn_fail(c, "%zu unexpected bytes arrived instead of the close: %s",
                     c->in.len, near);
        return -1;
    }
    if (c->eof)
        return 1;
    tl_conn_fail(c, "the connection is still open after %g s", secs);
    return 0;
}

int sq_test_conn_shutdown(sq_test_conn *c)
{
    if (shutdown(c->fd, SHUT_WR) < 0) {
        tl_conn_fail(c, "shutdown: %s", strerror(errno));
        return -1;
    }
    c->wr_shut = 1;
    return 0;
}

static void conn_free(sq_test_conn *c)
{
    if (c->srv != NULL)
        tl_server_detach(c->srv, c);
    tl_close(&c->fd);
    tl_parse_free(&c->parse);
    tl_buf_free(&c->in);
    free(c);
}

/* Closing with unread input would make the kernel send RST, not FIN
 * (RFC 1122 4.2.2.13): read it away first. */
void sq_test_conn_close(sq_test_conn *c)
{
    char scrap[TL_RECV_SIZE];
    int i;

    if (c == NULL)
        return;
    for (i = 0; i < DRAIN_MAX; i++)
        if (recv(c->fd, scrap, sizeof scrap, 0) <= 0)
            break;
    conn_free(c);
}

/* SO_LINGER with a zero timeout: close() sends RST and drops the rest. */
void sq_test_conn_reset(sq_test_conn *c)
{
    struct linger lg = {.l_onoff = 1, .l_linger = 0};

    if (c == NULL)
        return;
    setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    conn_free(c);
}

/* ---------------------------------------------------------------------
 * For testserver.c
 * ------------------------------------------------------------------- */

void tl_conn_detach(sq_test_conn *c)
{
    c->srv = NULL;
    c->next = NULL;
}

sq_test_conn *tl_conn_next(const sq_test_conn *c)
{
    return c->next;
}

void tl_conn_set_next(sq_test_conn *c, sq_test_conn *next)
{
    c->next = next;
}
