/*
 * testsend.c - sending on an sq_test_conn. Requests sent through
 * sq_test_conn_send() are queued with their method, because a response to
 * HEAD is framed differently (RFC 9112 6.3); testread.c takes them off
 * the queue in order, which is what makes pipelining work.
 */
#include "testlib.h"

#include <sys/socket.h>

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

/* Sends len bytes of p, reading what arrives meanwhile (so that a server
 * that answers before it has read everything cannot deadlock us). A
 * server that stops reading (EPIPE, reset) ends the send quietly: its
 * response, e.g. 413, tells the test why. */
int tl_conn_send_all(sq_test_conn *c, const char *what, const void *bytes,
                     size_t len, double deadline)
{
    const char *p = bytes;
    struct pollfd pfd = {.fd = c->fd};
    ssize_t n;

    while (len > 0) {
        pfd.events = POLLOUT | (!c->eof && c->in.len < TL_IN_MAX ? POLLIN : 0);
        n = poll(&pfd, 1, tl_ms_left(deadline, INT_MAX));
        if (n == 0) {
            tl_conn_fail(c, "%s: timed out after %g s sending", what,
                         tl_default_timeout());
            return -1;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            tl_conn_fail(c, "%s: poll: %s", what, strerror(errno));
            return -1;
        }
        if ((pfd.revents & POLLIN) && tl_conn_recv_some(c) < 0)
            return -1;
        if (!(pfd.revents & (POLLOUT | POLLERR | POLLHUP)))
            continue;
        n = send(c->fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && (errno == EPIPE || errno == ECONNRESET))
            return 0;
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
            errno != EINTR) {
            tl_conn_fail(c, "%s: send: %s", what, strerror(errno));
            return -1;
        }
        if (n > 0)
            p += n, len -= (size_t)n;
    }
    return 0;
}

/* ---------------------------------------------------------------------
 * Sending
 * ------------------------------------------------------------------- */

int tl_conn_expect(sq_test_conn *c, int head, const char *what)
{
    struct tl_pending *q;

    if (c->qlen == SQ_TEST_MAX_PIPELINE) {
        tl_conn_fail(c, "%s: more than %d requests awaiting a response", what,
                     SQ_TEST_MAX_PIPELINE);
        return -1;
    }
    q = &c->queue[(c->qfirst + c->qlen++) % SQ_TEST_MAX_PIPELINE];
    q->head = head;
    snprintf(q->what, sizeof q->what, "%s", what);
    return 0;
}

int sq_test_conn_expect(sq_test_conn *c, const char *method)
{
    char what[96];

    snprintf(what, sizeof what, "%.40s (sent raw)", method ? method : "GET");
    return tl_conn_expect(c, method != NULL && strcmp(method, "HEAD") == 0,
                          what);
}

static int can_send(sq_test_conn *c, const char *what)
{
    if (c->wr_shut)
        tl_conn_fail(c, "%s: cannot send after sq_test_conn_shutdown()", what);
    else if (c->upgraded)
        tl_conn_fail(c,
                     "%s: the connection switched protocols (101): use "
                     "sq_test_conn_send_raw()",
                     what);
    else
        return 0;
    return -1;
}

/* sq_test_conn_send(), with add_close for sq_test_fetch(). */
int tl_conn_send(sq_test_conn *c, const struct tl_request *in)
{
    struct tl_request r = *in, *req = &r;
    struct tl_buf head = {NULL, 0, 0, 1u << 20};
    double deadline = tl_now() + tl_default_timeout();
    char what[96], err[256];
    int ret = -1;

    if (req->host == NULL)
        req->host = c->host;
    snprintf(what, sizeof what, "%.40s %.50s", req->method, req->path);
    c->error[0] = '\0';
    if (can_send(c, what) < 0)
        return -1;
    if (tl_request_head(req, &head, err, sizeof err) < 0) {
        tl_conn_fail(c, "%s: %s", what, err);
        goto out;
    }
    if (tl_conn_expect(c, strcmp(req->method, "HEAD") == 0, what) < 0)
        goto out;
    if (tl_conn_send_all(c, what, head.data, head.len, deadline) < 0)
        goto out;
    ret = tl_conn_send_all(c, what, req->body, req->body ? req->body_len : 0,
                           deadline);
out:
    tl_buf_free(&head);
    return ret;
}

int sq_test_conn_send(sq_test_conn *c, const char *method, const char *path,
                      const char *const *headers, const void *body,
                      size_t body_len)
{
    struct tl_request req = {
        .method = method ? method : "GET",
        .path = path ? path : "/",
        .headers = headers,
        .body = body,
        .body_len = body_len,
        .host = c->host,
    };

    return tl_conn_send(c, &req);
}

int sq_test_conn_send_raw(sq_test_conn *c, const void *bytes, size_t len)
{
    c->error[0] = '\0';
    if (c->wr_shut) {
        tl_conn_fail(c, "raw send: cannot send after sq_test_conn_shutdown()");
        return -1;
    }
    return tl_conn_send_all(c, "raw send", bytes, len,
                            tl_now() + tl_default_timeout());
}
