/*
 * testconn.c - sq_test_conn: one client connection that holds as many
 * requests as the test wants (keep-alive), sends several before reading
 * (pipelining), reads a response whole or its body chunk by chunk as it
 * arrives (streaming), notices the server closing, and leaves on purpose
 * (FIN, half-close or RST) so that a test can watch the server react.
 *
 * A blocking API over a non-blocking socket and poll(), so that every wait
 * has a deadline. Input is read only when the parser has used up what is
 * buffered, so the buffer stays about one recv() large; the parser pauses
 * after each response, leaving the bytes of the next pipelined one here.
 * Requests sent through sq_test_conn_send() are queued with their method,
 * because a response to HEAD is framed differently (RFC 9112 6.3).
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

#define RECV_SIZE 65536
#define IN_MAX (16u << 20) /* input kept while a request is being sent */
#define DRAIN_MAX 1024     /* recv() calls before a close (64 MiB) */

struct pending {
    int head;      /* a HEAD request: its response has no body */
    char what[96]; /* "GET /path", the prefix of error messages */
};

enum stream_state { NO_STREAM, IN_STREAM, STREAM_END };

struct sq_test_conn {
    int fd;
    sq_test_server *srv; /* borrowed; NULL when adopted or detached */
    sq_test_conn *next;  /* in srv's list of connections */
    char host[80];       /* the Host field the library sends */
    struct tl_buf in;    /* received, not yet parsed */
    uint64_t in_pos;     /* stream offset of in.data[0] */
    int eof, reset;      /* the server closed (FIN) / reset (RST) */
    int wr_shut;         /* sq_test_conn_shutdown() was called */
    struct pending queue[SQ_TEST_MAX_PIPELINE]; /* a ring */
    size_t qfirst, qlen;
    struct tl_parse parse;
    int reading; /* parse holds a response in progress */
    enum stream_state stream;
    int handed_out; /* the chunk buffer was returned: clear it next */
    int upgraded;   /* after 101: HTTP is over on this connection */
    int broken;     /* malformed input: the framing is lost */
    char what[96];  /* label of the response being read */
    char error[1024];
};

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

static int fail_timeout(sq_test_conn *c, double secs, const char *doing)
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
    c->in.max = IN_MAX + RECV_SIZE;
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
static int recv_some(sq_test_conn *c)
{
    ssize_t n;

    if (tl_buf_reserve(&c->in, RECV_SIZE) < 0) {
        tl_conn_fail(c, "%s: more than %u bytes of input kept", c->what,
                     IN_MAX);
        return -1;
    }
    n = recv(c->fd, c->in.data + c->in.len, RECV_SIZE, 0);
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
static int fill(sq_test_conn *c, double deadline)
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
            return recv_some(c);
    }
}

/* Sends len bytes of p, reading what arrives meanwhile (so that a server
 * that answers before it has read everything cannot deadlock us). A
 * server that stops reading (EPIPE, reset) ends the send quietly: its
 * response, e.g. 413, tells the test why. */
static int send_all(sq_test_conn *c, const char *p, size_t len, double deadline)
{
    struct pollfd pfd = {.fd = c->fd};
    ssize_t n;

    while (len > 0) {
        pfd.events = POLLOUT | (!c->eof && c->in.len < IN_MAX ? POLLIN : 0);
        n = poll(&pfd, 1, tl_ms_left(deadline, INT_MAX));
        if (n == 0)
            return fail_timeout(c, tl_default_timeout(), "sending");
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            tl_conn_fail(c, "%s: poll: %s", c->what, strerror(errno));
            return -1;
        }
        if ((pfd.revents & POLLIN) && recv_some(c) < 0)
            return -1;
        if (!(pfd.revents & (POLLOUT | POLLERR | POLLHUP)))
            continue;
        n = send(c->fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && (errno == EPIPE || errno == ECONNRESET))
            return 0;
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
            errno != EINTR) {
            tl_conn_fail(c, "%s: send: %s", c->what, strerror(errno));
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
    struct pending *q;

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
    if (send_all(c, head.data, head.len, deadline) == 0 &&
        send_all(c, req->body, req->body ? req->body_len : 0, deadline) == 0)
        ret = 0;
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
    return send_all(c, bytes, len, tl_now() + tl_default_timeout());
}

/* ---------------------------------------------------------------------
 * Reading responses
 * ------------------------------------------------------------------- */

/* Makes the parser ready for the next response, labelled by the oldest
 * request awaiting one. */
static int begin(sq_test_conn *c, int streaming)
{
    struct pending *q = &c->queue[c->qfirst];
    int head = 0;

    if (c->reading)
        return 0;
    snprintf(c->what, sizeof c->what, "response");
    if (c->qlen > 0) {
        head = q->head;
        snprintf(c->what, sizeof c->what, "%s", q->what);
        c->qfirst = (c->qfirst + 1) % SQ_TEST_MAX_PIPELINE;
        c->qlen--;
    }
    if (tl_parse_begin(&c->parse, head, streaming, c->in_pos) < 0) {
        tl_conn_fail(c, "%s: out of memory", c->what);
        return -1;
    }
    c->reading = 1;
    return 0;
}

/* Whether the connection can still carry HTTP; sets the error if not. */
static int usable(sq_test_conn *c)
{
    c->error[0] = '\0';
    if (c->broken)
        tl_conn_fail(c,
                     "%s: an earlier response was malformed; the "
                     "connection's framing is lost",
                     c->what);
    else if (c->upgraded)
        tl_conn_fail(c, "the connection switched protocols (101): use "
                        "sq_test_conn_recv()");
    else
        return 0;
    return -1;
}

static enum tl_event fail_parse(sq_test_conn *c)
{
    c->broken = 1;
    tl_conn_fail(c, "%s: %s", c->what, c->parse.error);
    return TL_ERROR;
}

/* Feeds buffered input to the parser until it stops at an event. */
static enum tl_event feed(sq_test_conn *c)
{
    enum tl_event e = TL_MORE;
    size_t used;

    while (c->in.len > 0) {
        e = tl_parse_feed(&c->parse, c->in.data, c->in.len, &used);
        tl_buf_consume(&c->in, used);
        c->in_pos += used;
        if (e == TL_ERROR)
            return fail_parse(c);
        if (e != TL_MORE)
            return e;
        if (used == 0) { /* a parser that neither moves nor stops */
            snprintf(c->parse.error, sizeof c->parse.error,
                     "internal error: the parser made no progress");
            return fail_parse(c);
        }
    }
    return e;
}

/* Whether a streamed body without chunks has data to hand out. */
static int piece_ready(const sq_test_conn *c)
{
    const struct tl_parse *p = &c->parse;

    return p->streaming && p->final_head && p->chunk.len > 0 &&
           !(p->hp.flags & F_CHUNKED);
}

/* The next parser event (never TL_MORE), reading input as needed. */
static enum tl_event next_event(sq_test_conn *c, double deadline, double secs)
{
    enum tl_event e;

    for (;;) {
        e = feed(c);
        if (e != TL_MORE)
            return e;
        if (piece_ready(c))
            return TL_CHUNK_DONE;
        if (c->eof) {
            e = tl_parse_eof(&c->parse, c->reset);
            return e == TL_ERROR ? fail_parse(c) : e;
        }
        switch (fill(c, deadline)) {
        case 1:
            fail_timeout(c, secs, "reading the response");
            return TL_ERROR;
        case -1:
            return TL_ERROR;
        }
    }
}

/* The response is complete: the connection moves on to the next one.
 * Returns it (the caller's to free), or NULL when out of memory. */
static sq_test_response *finish(sq_test_conn *c)
{
    sq_test_response *r = tl_parse_take(&c->parse);

    c->upgraded = c->parse.upgraded;
    c->reading = 0;
    c->stream = c->stream == IN_STREAM ? STREAM_END : NO_STREAM;
    if (r == NULL)
        tl_conn_fail(c, "%s: out of memory", c->what);
    return r;
}

sq_test_response *sq_test_conn_read(sq_test_conn *c, int timeout_ms)
{
    double secs = tl_timeout_s(timeout_ms), deadline = tl_now() + secs;
    enum tl_event e;

    if (usable(c) < 0)
        return NULL;
    if (c->stream == IN_STREAM) {
        tl_conn_fail(c,
                     "%s: its body is being streamed: read it to its end "
                     "with sq_test_conn_read_chunk() first",
                     c->what);
        return NULL;
    }
    c->stream = NO_STREAM;
    if (begin(c, 0) < 0)
        return NULL;
    do
        e = next_event(c, deadline, secs);
    while (e == TL_HEAD_DONE);
    return e == TL_MSG_DONE ? finish(c) : NULL;
}

sq_test_response *sq_test_conn_read_head(sq_test_conn *c, int timeout_ms)
{
    double secs = tl_timeout_s(timeout_ms), deadline = tl_now() + secs;
    sq_test_response *r;
    enum tl_event e;

    if (usable(c) < 0)
        return NULL;
    if (c->stream == IN_STREAM) {
        tl_conn_fail(c, "%s: its body is still being streamed", c->what);
        return NULL;
    }
    if (begin(c, 1) < 0)
        return NULL;
    e = next_event(c, deadline, secs);
    if (e == TL_MSG_DONE) { /* no body: HEAD, 204, 304, Content-Length: 0 */
        c->stream = IN_STREAM;
        return finish(c);
    }
    if (e != TL_HEAD_DONE)
        return NULL;
    r = tl_parse_take(&c->parse);
    if (r == NULL)
        tl_conn_fail(c, "%s: out of memory", c->what);
    c->stream = IN_STREAM;
    return r;
}

ssize_t sq_test_conn_read_chunk(sq_test_conn *c, const char **data,
                                int timeout_ms)
{
    double secs = tl_timeout_s(timeout_ms), deadline = tl_now() + secs;
    struct tl_buf *chunk = &c->parse.chunk;
    enum tl_event e;

    *data = "";
    c->error[0] = '\0';
    if (c->stream == STREAM_END)
        return 0;
    if (c->stream != IN_STREAM) {
        tl_conn_fail(c,
                     "%s: no body is being streamed: call "
                     "sq_test_conn_read_head() first",
                     c->what);
        return -1;
    }
    if (c->handed_out) /* the previous piece; a partial chunk stays */
        tl_buf_consume(chunk, chunk->len);
    c->handed_out = 0;
    if (!c->reading) { /* the body ended with the head */
        c->stream = STREAM_END;
        return 0;
    }
    e = next_event(c, deadline, secs);
    if (e == TL_ERROR)
        return -1;
    if (e == TL_MSG_DONE) /* what is left: the trailers, dropped */
        sq_test_response_free(finish(c));
    *data = chunk->data ? chunk->data : "";
    c->handed_out = 1;
    return (ssize_t)chunk->len; /* 0 at the end of the body */
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
        switch (fill(c, deadline)) {
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
        r = fill(c, deadline);
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
    char scrap[RECV_SIZE];
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
