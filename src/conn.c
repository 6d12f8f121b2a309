/*
 * conn.c - client connections: reading, the request cycle, writing,
 * keep-alive, timeouts and backpressure.
 *
 * Reads go into one buffer shared by the whole worker and are parsed at
 * once; only bytes that cannot be parsed yet (behind a request that is still
 * being answered) are copied into the connection's own buffer. So an idle
 * or long-polling connection costs a few hundred bytes, not a read buffer.
 *
 * Requests on a connection are answered one at a time, in order: the parser
 * stops after each complete request (http.c) and resumes when its response
 * is queued. Responses queue in c->out and are written once per batch of
 * input, so a pipelined batch is answered with a single write.
 *
 * Ownership: the connection owns its current request until the handler
 * returns SQ_ASYNC; if the client goes away after that, the request is
 * detached (r->conn = NULL) and freed by sq_finish(), never here.
 */
#include "internal.h"

#include <errno.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define READ_SIZE 65536
/* Stop parsing new requests while this much output waits for the client,
 * and resume when it has drained below the low mark. */
#define OUT_HIGH (1024 * 1024)
#define OUT_LOW (256 * 1024)
/* Input kept for a client that sends ahead of our answers. */
#define IN_MAX (64 * 1024)
/* After an error response: how long and how much to read and discard so
 * that the client sees the response instead of a reset (RFC 9112 9.6). */
#define LINGER_MS 2000
#define LINGER_MAX (1024 * 1024)

enum timer_kind { T_NONE, T_IDLE, T_HEAD, T_BODY, T_WRITE, T_LINGER };

struct conn {
    int fd;
    struct event rev, wev, timer;
    struct http_in *http;
    struct buf out;  /* bytes for the client */
    struct buf tail; /* a large body, sent after out (response.c moves it) */
    struct buf body; /* lent to the current request as r->out */
    sq_req *req;     /* the request being read or answered */
    char *in;        /* input not parsed yet */
    size_t in_off, in_len, in_cap;
    char remote[48];
    enum timer_kind timer_kind;
    unsigned reading : 1;     /* rev is added */
    unsigned writing : 1;     /* wev is added */
    unsigned close_after : 1; /* close once c->out is written */
    unsigned lingering : 1;
    unsigned dispatching : 1; /* a handler is running */
    unsigned dead : 1;        /* closed while a handler ran */
    unsigned resume : 1;      /* input waits behind a finished request */
    unsigned eof : 1;         /* the client sent FIN */
    unsigned nreq, head_seq;  /* requests started; which one T_HEAD is for */
    size_t lingered;
    struct conn *prev, *next;
};

static struct {
    struct conn *head;
    unsigned count;
    char rbuf[READ_SIZE];
    struct timeval idle, head_to, body, linger;
    const struct timeval *idle_p, *head_p, *body_p, *linger_p;
} C;

static void on_read(evutil_socket_t fd, short what, void *arg);
static void on_write(evutil_socket_t fd, short what, void *arg);
static void on_timer(evutil_socket_t fd, short what, void *arg);
static void conn_close(struct conn *c);
static int conn_flush(struct conn *c);
static int process(struct conn *c, const char *data, size_t len);

unsigned conn_count(void)
{
    return C.count;
}

static void ms_to_tv(unsigned ms, struct timeval *tv)
{
    tv->tv_sec = ms / 1000;
    tv->tv_usec = (suseconds_t)(ms % 1000) * 1000;
}

/* libevent keeps timers of one duration in a queue instead of the heap,
 * so re-arming a connection timer per request is O(1). */
static const struct timeval *common_timeout(unsigned ms, struct timeval *tv)
{
    ms_to_tv(ms, tv);
    return event_base_init_common_timeout(worker->base, tv);
}

static void timers_init(void)
{
    const struct limits_conf *lim = &worker->cfg->limits;

    if (C.idle_p != NULL)
        return;
    C.idle_p = common_timeout(lim->idle_timeout_ms, &C.idle);
    C.head_p = common_timeout(lim->header_timeout_ms, &C.head_to);
    C.body_p = common_timeout(lim->body_timeout_ms, &C.body);
    C.linger_p = common_timeout(LINGER_MS, &C.linger);
}

static void set_timer(struct conn *c, enum timer_kind kind)
{
    const struct timeval *tv = NULL;

    switch (kind) {
    case T_NONE:
        if (c->timer_kind != T_NONE)
            event_del(&c->timer);
        c->timer_kind = T_NONE;
        return;
    case T_IDLE:
    case T_WRITE:
        tv = C.idle_p;
        break;
    case T_HEAD:
        /* the head must be complete within header_timeout of its first
         * byte: a slow client does not get a fresh period per read */
        if (c->timer_kind == T_HEAD && c->head_seq == c->nreq)
            return;
        c->head_seq = c->nreq;
        tv = C.head_p;
        break;
    case T_BODY:
        tv = C.body_p;
        break;
    case T_LINGER:
        tv = C.linger_p;
        break;
    }
    c->timer_kind = kind;
    event_add(&c->timer, tv);
}

static void reading(struct conn *c, int on)
{
    if (on && !c->reading)
        event_add(&c->rev, NULL);
    else if (!on && c->reading)
        event_del(&c->rev);
    c->reading = on != 0;
}

void conn_new(int fd, const struct sockaddr *sa, int is_unix)
{
    struct conn *c = calloc(1, sizeof(*c));

    if (c == NULL)
        goto fail;
    c->fd = fd;
    c->http = http_in_new();
    if (c->http == NULL)
        goto fail;
    if (is_unix)
        strcpy(c->remote, "unix");
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr,
                  c->remote, sizeof(c->remote));
    else
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr,
                  c->remote, sizeof(c->remote));
    timers_init();
    event_assign(&c->rev, worker->base, fd, EV_READ | EV_PERSIST, on_read, c);
    event_assign(&c->wev, worker->base, fd, EV_WRITE | EV_PERSIST, on_write, c);
    evtimer_assign(&c->timer, worker->base, on_timer, c);
    reading(c, 1);
    /* a new connection gets header_timeout for its first request */
    set_timer(c, T_HEAD);
    c->next = C.head;
    if (C.head != NULL)
        C.head->prev = c;
    C.head = c;
    if (++C.count >= worker->cfg->limits.max_connections)
        worker_accept_enable(0);
    return;
fail:
    log_error("out of memory for a new connection");
    free(c);
    close(fd);
}

/* Client went away or we are done: the request in the handler's hands is
 * detached and told; everything else is freed now. */
static void conn_close(struct conn *c)
{
    sq_req *r = c->req;

    if (c->dispatching) {
        c->dead = 1; /* finished when the handler returns */
        return;
    }
    if (r != NULL) {
        c->req = NULL;
        if (r->async && !r->finished) {
            r->conn = NULL;
            r->out = NULL;
            if (r->on_close != NULL)
                r->on_close(r, r->on_close_arg);
        } else {
            pool_recycle(r->pool);
        }
    }
    event_del(&c->rev);
    event_del(&c->wev);
    event_del(&c->timer);
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        C.head = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    close(c->fd);
    http_in_free(c->http);
    buf_free(&c->out);
    buf_free(&c->tail);
    buf_free(&c->body);
    free(c->in);
    free(c);
    if (C.count-- >= worker->cfg->limits.max_connections)
        worker_accept_enable(1);
    worker_conn_closed();
}

/* Closes after what is queued has been written, discarding further input
 * for a moment so that the client reads our answer rather than a reset. */
static void close_after_output(struct conn *c, int linger)
{
    c->close_after = 1;
    c->lingering = linger != 0;
}

static void protocol_error(struct conn *c, int status)
{
    log_info("%s: bad request, answering %d", c->remote, status);
    response_simple_error(&c->out, status, 1);
    close_after_output(c, 1);
}

static sq_req *new_request(struct conn *c)
{
    sq_pool *pool = pool_get();
    sq_req *r;

    if (pool == NULL)
        return NULL;
    r = sq_palloc(pool, sizeof(*r));
    req_init(r, pool, c);
    r->out = &c->body;
    memcpy(r->remote, c->remote, sizeof(r->remote));
    http_in_begin(c->http, r, &worker->cfg->limits);
    c->req = r;
    c->nreq++;
    return r;
}

/* The request is answered: queue its response and get ready for the next. */
static void complete(struct conn *c, sq_req *r)
{
    if (response_serialize(r, &c->out, &c->tail, 1) < 0) {
        log_error("%s: out of memory for a response", c->remote);
        close_after_output(c, 0);
    }
    access_log(r);
    if (!r->keep_alive || worker->stopping || c->eof)
        close_after_output(c, 0);
    c->req = NULL;
    r->out = NULL;
    pool_recycle(r->pool);
}

static void answer_error(struct conn *c, sq_req *r, int status)
{
    response_error_page(r, status);
    if (status == 405) {
        char allow[128];
        methods_format(r->match.allow, allow, sizeof(allow));
        sq_set_header(r, "Allow", allow);
    }
    complete(c, r);
}

/* Finds the route of r; 0, or the status to answer with. */
static int route(sq_req *r)
{
    int rc;

    if (r->routed)
        return 0;
    rc = router_match(worker->router, r->path, r->path_len, r->method, r->pool,
                      &r->match);
    r->routed = rc == ROUTER_OK;
    return rc == ROUTER_OK           ? 0
           : rc == ROUTER_NOT_FOUND  ? 404
           : rc == ROUTER_BAD_METHOD ? 405
                                     : 500;
}

/* Runs the handler of r; returns -1 when the connection was closed. */
static int dispatch(struct conn *c, sq_req *r)
{
    const struct route *rt;
    int rc = route(r);

    if (rc != 0) {
        answer_error(c, r, rc);
        return 0;
    }
    rt = r->match.target;
    c->dispatching = 1;
    r->in_handler = 1;
    rc = rt->fn(r);
    r->in_handler = 0;
    c->dispatching = 0;
    if (rc == SQ_ASYNC && !r->finished) {
        r->async = 1;
        goto out;
    }
    if (rc == SQ_DECLINED && !r->head_sent)
        answer_error(c, r, 404);
    else if (rc != SQ_DONE && rc != SQ_ASYNC && !r->head_sent)
        answer_error(c, r, 500);
    else if (rc != SQ_DONE && rc != SQ_ASYNC)
        close_after_output(c, 0); /* cannot signal an error mid-body */
    else
        complete(c, r);
out:
    if (!c->dead)
        return 0;
    conn_close(c); /* detaches an async r and calls its on_close */
    return -1;
}

/* The head of a request with a body is complete. A request that no route
 * takes is answered now, before its body is read (and the connection is
 * then closed, the body unread), so a client that sent Expect:
 * 100-continue gets its 404 or 405 instead of an invitation to upload. */
static void head_complete(struct conn *c, sq_req *r)
{
    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
    int status = route(r);

    if (status != 0) {
        answer_error(c, r, status);
        close_after_output(c, 1);
        return;
    }
    /* RFC 9110 10.1.1: the client waits for this before sending the body */
    if (r->expect_continue && r->version == 11)
        buf_add(&c->out, cont, sizeof(cont) - 1);
    set_timer(c, T_BODY);
}

static size_t output_pending(const struct conn *c)
{
    return buf_pending(&c->out) + buf_pending(&c->tail);
}

/* Whether no new request may be answered yet: too much output waits, or a
 * tail does, which must stay the last thing queued. */
static int output_backlog(const struct conn *c)
{
    return buf_pending(&c->tail) > 0 || buf_pending(&c->out) >= OUT_HIGH;
}

/* Parses and answers what can be answered in data; returns the number of
 * bytes consumed, or -1 when the connection was closed. Stops at a request
 * whose answer is pending. */
static ssize_t parse_requests(struct conn *c, const char *data, size_t len)
{
    size_t off = 0;

    while (off < len && !c->close_after) {
        sq_req *r = c->req;
        size_t used;
        int rc;

        if (r == NULL) {
            if (output_backlog(c))
                break;
            if ((r = new_request(c)) == NULL) {
                protocol_error(c, 500);
                break;
            }
        } else if (r->async) {
            break;
        }
        rc = http_feed(c->http, data + off, len - off, &used);
        off += used;
        if (rc < 0) {
            protocol_error(c, -rc);
            break;
        }
        if (rc == HTTP_IN_HEAD)
            head_complete(c, r);
        else if (rc == HTTP_IN_DONE && dispatch(c, r) < 0)
            return -1;
    }
    return (ssize_t)off;
}

static int keep_input(struct conn *c, const char *data, size_t len)
{
    if (c->in_len + len > c->in_cap) {
        size_t cap = c->in_cap ? c->in_cap : 4096;
        char *p;
        while (cap < c->in_len + len)
            cap *= 2;
        if ((p = realloc(c->in, cap)) == NULL)
            return -1;
        c->in = p;
        c->in_cap = cap;
    }
    memcpy(c->in + c->in_len, data, len);
    c->in_len += len;
    return 0;
}

static void pick_timer(struct conn *c)
{
    sq_req *r = c->req;

    if (c->lingering && c->close_after)
        return;
    if (c->writing)
        set_timer(c, T_WRITE);
    else if (r == NULL)
        set_timer(c, c->in_len > c->in_off ? T_HEAD : T_IDLE);
    else if (r->async)
        set_timer(c, T_NONE); /* the handler decides how long it takes */
    else if (http_in_head_done(c->http))
        set_timer(c, T_BODY);
    else
        set_timer(c, T_HEAD);
}

/* Parses the kept input from the event loop: after an answer that others
 * waited behind, without recursing into the caller. */
static void resume_later(struct conn *c)
{
    c->resume = 1;
    if (!c->eof)
        reading(c, 1);
    event_active(&c->rev, EV_READ, 1);
}

/* Feeds new input (data, len) after whatever input was kept before;
 * returns -1 when the connection was closed. */
static int process(struct conn *c, const char *data, size_t len)
{
    ssize_t used;

    if (c->in_len > c->in_off) {
        if (len > 0 && keep_input(c, data, len) < 0)
            goto oom;
        used = parse_requests(c, c->in + c->in_off, c->in_len - c->in_off);
        if (used < 0)
            return -1;
        c->in_off += (size_t)used;
        if (c->in_off == c->in_len) {
            free(c->in);
            c->in = NULL;
            c->in_off = c->in_len = c->in_cap = 0;
        }
    } else {
        used = parse_requests(c, data, len);
        if (used < 0)
            return -1;
        if ((size_t)used < len && !c->close_after &&
            keep_input(c, data + used, len - (size_t)used) < 0)
            goto oom;
    }
    /* Too much unanswered input: let TCP push back on the client. */
    if (c->in_len - c->in_off >= IN_MAX)
        reading(c, 0);
    if (conn_flush(c) < 0)
        return -1;
    /* The output that held requests back may have gone out at once, with
     * no write event to come: resume them from the loop. */
    if (c->req == NULL && c->in_len > c->in_off && !c->close_after &&
        !output_backlog(c))
        resume_later(c);
    return 0;
oom:
    log_error("%s: out of memory for input", c->remote);
    conn_close(c);
    return -1;
}

/* FIN from the client: answer the complete requests it sent, then close;
 * a request still waiting in a handler means the client is gone. */
static void on_eof(struct conn *c)
{
    if (c->req != NULL && c->req->async) {
        conn_close(c);
        return;
    }
    c->eof = 1;
    reading(c, 0);
    if (process(c, C.rbuf, 0) < 0)
        return;
    if (c->close_after || (c->req != NULL && c->req->async))
        return; /* closing, or closing when the handler is done */
    close_after_output(c, 0);
    (void)conn_flush(c);
}

static void linger_read(struct conn *c)
{
    ssize_t n;

    do {
        n = read(c->fd, C.rbuf, sizeof(C.rbuf));
        if (n > 0)
            c->lingered += (size_t)n;
    } while (n > 0 && c->lingered < LINGER_MAX);
    if (n == 0 || c->lingered >= LINGER_MAX ||
        (n < 0 && errno != EAGAIN && errno != EINTR))
        conn_close(c);
}

static void on_read(evutil_socket_t fd, short what UNUSED, void *arg)
{
    struct conn *c = arg;
    ssize_t n;

    if (c->close_after) {
        if (c->lingering)
            linger_read(c);
        else
            reading(c, 0);
        return;
    }
    n = read(fd, C.rbuf, sizeof(C.rbuf));
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        if (c->resume) {
            c->resume = 0;
            process(c, C.rbuf, 0);
        }
        return;
    }
    if (n == 0) {
        on_eof(c);
        return;
    }
    if (n < 0) {
        conn_close(c);
        return;
    }
    c->resume = 0;
    process(c, C.rbuf, (size_t)n);
}

static void finish_close(struct conn *c)
{
    if (!c->lingering) {
        conn_close(c);
        return;
    }
    /* half-close, then drain what the client still sends */
    shutdown(c->fd, SHUT_WR);
    reading(c, 1);
    set_timer(c, T_LINGER);
}

/* Writes what is queued; returns -1 when that closed the connection. */
static ssize_t write_out(struct conn *c)
{
    struct iovec iov[2];
    int n = 0;

    if (buf_pending(&c->out) > 0)
        iov[n++] = (struct iovec){c->out.p + c->out.off, buf_pending(&c->out)};
    if (buf_pending(&c->tail) > 0)
        iov[n++] =
            (struct iovec){c->tail.p + c->tail.off, buf_pending(&c->tail)};
    return writev(c->fd, iov, n);
}

static void consume_out(struct conn *c, size_t n)
{
    size_t head = buf_pending(&c->out) < n ? buf_pending(&c->out) : n;

    buf_consume(&c->out, head);
    if (n > head)
        buf_consume(&c->tail, n - head);
}

static int conn_flush(struct conn *c)
{
    while (output_pending(c) > 0) {
        ssize_t n = write_out(c);
        if (n > 0) {
            consume_out(c, (size_t)n);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            break;
        conn_close(c);
        return -1;
    }
    if (output_pending(c) > 0) {
        if (!c->writing) {
            event_add(&c->wev, NULL);
            c->writing = 1;
        }
        pick_timer(c);
        return 0;
    }
    if (c->writing) {
        event_del(&c->wev);
        c->writing = 0;
    }
    if (c->close_after) {
        finish_close(c);
        return -1;
    }
    /* Idle (nothing to answer, nothing read ahead): hold no buffers, so
     * that thousands of quiet connections cost little memory. */
    if (c->req == NULL && c->in_len == c->in_off) {
        buf_release(&c->out);
        buf_release(&c->tail);
        buf_release(&c->body);
    }
    pick_timer(c);
    return 0;
}

static void on_write(evutil_socket_t fd UNUSED, short what UNUSED, void *arg)
{
    struct conn *c = arg;

    if (conn_flush(c) < 0)
        return;
    /* output drained enough: answer requests that waited behind it */
    if (!output_backlog(c) && buf_pending(&c->out) <= OUT_LOW &&
        !c->close_after && c->req == NULL && c->in_len > c->in_off) {
        if (!c->eof)
            reading(c, 1);
        process(c, C.rbuf, 0);
    }
}

static void on_timer(evutil_socket_t fd UNUSED, short what UNUSED, void *arg)
{
    struct conn *c = arg;
    enum timer_kind kind = c->timer_kind;

    c->timer_kind = T_NONE;
    switch (kind) {
    case T_HEAD:
    case T_BODY:
        /* RFC 9110 15.5.9: tell the client why, then close */
        if (c->req != NULL && !c->close_after &&
            (kind == T_BODY || http_in_started(c->http))) {
            log_info("%s: %s timeout", c->remote,
                     kind == T_HEAD ? "header" : "body");
            response_simple_error(&c->out, 408, 1);
            close_after_output(c, 0);
            (void)conn_flush(c);
            return;
        }
        conn_close(c);
        return;
    default:
        conn_close(c);
        return;
    }
}

void conn_request_flush(struct conn *c, sq_req *r)
{
    if (response_serialize(r, &c->out, NULL, 0) < 0) {
        log_error("%s: out of memory for a response", c->remote);
        close_after_output(c, 0);
    }
    /* Written from the loop, not here: a failed write closes the
     * connection, which calls r's on_close, and whoever called sq_flush()
     * still holds r. */
    if (!c->dispatching)
        event_active(&c->wev, EV_WRITE, 1);
}

void conn_request_done(struct conn *c, sq_req *r)
{
    complete(c, r);
    /* Requests pipelined behind this one are parsed from the loop, not
     * from inside the caller of sq_finish (which may be another handler). */
    if (c->in_len > c->in_off && !c->close_after) {
        resume_later(c);
    } else if (c->eof && !c->close_after) {
        close_after_output(c, 0);
    }
    (void)conn_flush(c);
}

void conn_shutdown_all(void)
{
    struct conn *c = C.head, *next;

    for (; c != NULL; c = next) {
        next = c->next;
        if (c->req == NULL && output_pending(c) == 0) {
            conn_close(c);
        } else if (c->req == NULL || !http_in_started(c->http)) {
            close_after_output(c, 0);
            (void)conn_flush(c); /* closes now if nothing is left to send */
        }
    }
}

void conn_close_all(void)
{
    while (C.head != NULL)
        conn_close(C.head);
}
