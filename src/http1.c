/*
 * http1.c - HTTP/1.1 on a connection: the protocol handler that reads
 * requests (http.c parses them), routes and dispatches them, and queues
 * their responses (response.c serialises them) on the transport (conn.c).
 *
 * Requests on a connection are answered one at a time, in order: the
 * parser stops after each complete request and resumes when its response
 * is queued, so pipelined answers keep their order and a batch of them
 * goes out with one write. While a request waits in a handler (SQ_ASYNC)
 * input is paused; the transport still watches for the client leaving.
 *
 * This file is also the transport of the request lifecycle: sq_flush(),
 * sq_finish() and friends (request.c) reach the connection only through
 * the req_transport operations below, so request.c and response.c never
 * see a connection.
 *
 * Ownership: the connection owns its current request until the handler
 * returns SQ_ASYNC; if the client goes away after that, the request is
 * detached (r->tp = NULL), told through its on_close callback, and freed
 * by sq_finish(), never here.
 */
#include "internal.h"

#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

enum timer_kind { T_NONE, T_IDLE, T_HEAD, T_BODY };

struct http1 {
    struct conn *c;
    struct http_in *http;
    struct buf body; /* lent to the current request as r->out */
    sq_req *req;     /* the request being read or answered */
    uint64_t body_start; /* ms when the head of a request with a body ended */
    enum timer_kind timer;
    unsigned head_timing : 1; /* the head timer runs for the next request */
    unsigned eof : 1;         /* the client sent FIN */
    unsigned backlog : 1;     /* input paused until output drains */
};

static struct {
    const struct router *router;
    const struct limits_conf *lim;
    int stopping;
    struct timeval idle, head, body;
    const struct timeval *idle_p, *head_p, *body_p;
} H;

static const struct conn_proto http1_proto;
static const struct req_transport http1_transport;

void http1_setup(const struct router *rt, const struct limits_conf *lim)
{
    H.router = rt;
    H.lim = lim;
    H.stopping = 0;
    H.idle_p = conn_common_timeout(lim->idle_timeout_ms, &H.idle);
    H.head_p = conn_common_timeout(lim->header_timeout_ms, &H.head);
    H.body_p = conn_common_timeout(lim->body_timeout_ms, &H.body);
}

static void set_timer(struct http1 *h, enum timer_kind kind)
{
    switch (kind) {
    case T_NONE:
        conn_timer(h->c, NULL, 0);
        break;
    case T_IDLE:
        conn_timer(h->c, H.idle_p, H.lim->idle_timeout_ms);
        break;
    case T_HEAD:
        conn_timer(h->c, H.head_p, H.lim->header_timeout_ms);
        break;
    case T_BODY:
        conn_timer(h->c, H.body_p, H.lim->body_timeout_ms);
        break;
    }
    h->timer = kind;
}

/* No request is in progress: the idle timer runs, and the connection
 * holds no body buffer (the block goes back to a cache, so the next request
 * costs no malloc; a pipelined batch keeps it from one request to the
 * next). */
static void go_idle(struct http1 *h)
{
    set_timer(h, T_IDLE);
    buf_release(&h->body);
}

int http1_start(struct conn *c)
{
    struct http1 *h = calloc(1, sizeof(*h));

    if (h == NULL || (h->http = http_in_new()) == NULL) {
        free(h);
        log_error("%s: out of memory for a new connection", conn_remote(c));
        return -1;
    }
    h->c = c;
    conn_set_proto(c, &http1_proto, h);
    /* RFC 9112 9.5: the first head must come within header_timeout of
     * the connection, and this timer is not restarted by its first byte */
    set_timer(h, T_HEAD);
    h->head_timing = 1;
    return 0;
}

/* --- requests ---------------------------------------------------------- */

static sq_req *new_request(struct http1 *h)
{
    sq_pool *pool = pool_get();
    sq_req *r;

    if (pool == NULL || (r = sq_palloc(pool, sizeof(*r))) == NULL) {
        pool_recycle(pool);
        return NULL;
    }
    req_init(r, pool, h, &http1_transport);
    r->out = &h->body;
    strcpy(r->remote, conn_remote(h->c));
    r->https = conn_is_tls(h->c) != 0;
    http_in_begin(h->http, r, H.lim);
    h->req = r;
    if (!h->head_timing) {
        set_timer(h, T_HEAD);
        h->head_timing = 1;
    }
    return r;
}

/* Every request ends here (or is detached in http1_release), also the
 * one a handler finishes with sq_finish, so this is where its
 * subscriptions end: nothing is delivered to it after. */
static void end_request(struct http1 *h, sq_req *r)
{
    pubsub_req_gone(r);
    h->req = NULL;
    h->head_timing = 0;
    r->out = NULL;
    r->tp = NULL;
    pool_recycle(r->pool);
}

/* Whether the connection ends after this response. Decided before the
 * head is serialised, so that a closing connection always says so
 * (RFC 9112 9.6): a keep-alive pool (nginx upstream) must never reuse it. */
static void decide_close(struct http1 *h, sq_req *r, int force)
{
    if (force || H.stopping || h->eof || conn_closing(h->c))
        r->keep_alive = 0;
}

/* The request is answered: queue its response, log it, release it. */
static void complete(struct http1 *h, sq_req *r, int force_close)
{
    struct conn *c = h->c;

    if (!r->head_sent)
        decide_close(h, r, force_close);
    if (response_serialize(r, conn_out(c), conn_tail(c), 1) < 0) {
        log_error("%s: out of memory for a response", conn_remote(c));
        r->keep_alive = 0;
    }
    access_log(r);
    /* a response streamed before the stop began said nothing of closing,
     * but the connection still ends with it */
    if (!r->keep_alive || force_close || H.stopping)
        conn_close_after_output(c, 0);
    end_request(h, r);
}

static void answer_error(struct http1 *h, sq_req *r, int status, int close)
{
    response_error_page(r, status);
    if (status == 405) {
        char allow[128];
        methods_format(r->match.allow, allow, sizeof(allow));
        sq_set_header(r, "Allow", allow);
    }
    if (status == 426) /* RFC 6455 4.4: the versions squall speaks */
        sq_set_header(r, "Sec-WebSocket-Version", "13");
    complete(h, r, close);
}

/* A request that cannot be parsed: answer status, log it, and close
 * after a moment of reading what the client still sends. */
static void protocol_error(struct http1 *h, int status)
{
    struct conn *c = h->c;
    sq_req *r = h->req;

    log_info("%s: bad request, answering %d", conn_remote(c), status);
    response_simple_error(conn_out(c), status, 1);
    if (r != NULL) {
        r->status = status;
        r->keep_alive = 0;
        access_log(r);
        end_request(h, r);
    }
    conn_close_after_output(c, 1);
}

/* Finds the route of r; 0, or the status to answer with. The head is
 * complete: the route pipeline starts with what a trusted proxy says of
 * the client (proxy.c). */
static int route(struct http1 *h, sq_req *r)
{
    int rc;

    if (r->routed)
        return 0;
    if (conn_trusted(h->c))
        proxy_apply(r);
    rc = router_match(H.router, r->path, r->path_len, r->method, r->pool,
                      &r->match);
    r->routed = rc == ROUTER_OK;
    return rc == ROUTER_OK           ? 0
           : rc == ROUTER_NOT_FOUND  ? 404
           : rc == ROUTER_BAD_METHOD ? 405
                                     : 500;
}

static void http1_free(struct http1 *h)
{
    http_in_free(h->http);
    buf_free(&h->body);
    free(h);
}

/* A WebSocket route: the handshake, then the connection is the
 * WebSocket's (its 101 is queued). The request is logged and recycled, and
 * HTTP/1's state is freed here: h is gone when this returns 1. */
static int upgrade(struct http1 *h, const struct route *rt, sq_req *r)
{
    struct conn *c = h->c;
    int status;

    if (H.stopping) {
        answer_error(h, r, 503, 1);
        return 0;
    }
    if ((status = ws_upgrade(c, rt, r)) != 0) {
        answer_error(h, r, status, 0);
        return 0;
    }
    r->status = 101;
    access_log(r);
    end_request(h, r);
    http1_free(h);
    return 1;
}

/* Runs the request's route; 1 when the connection is no longer HTTP/1's
 * (h is freed). */
static int dispatch(struct http1 *h, sq_req *r)
{
    int rc = route(h, r);
    const struct route *rt = r->match.target;

    if (rc != 0) {
        answer_error(h, r, rc, 0);
        return 0;
    }
    rc = route_run(rt, r);
    if (rc == ROUTE_UPGRADE && rt->ws != NULL)
        return upgrade(h, rt, r);
    if (rc == SQ_ASYNC && !r->finished) {
        r->async = 1;
        conn_pause(h->c, 1);
        set_timer(h, T_NONE); /* the handler decides how long it takes */
        return 0;
    }
    if (rc == SQ_DECLINED && !r->head_sent)
        answer_error(h, r, 404, 0);
    else if (rc != SQ_DONE && rc != SQ_ASYNC && !r->head_sent)
        answer_error(h, r, 500, 0);
    else
        /* an error after the head went out cannot be signalled but by
         * closing before the body is complete */
        complete(h, r, rc != SQ_DONE && rc != SQ_ASYNC);
    return 0;
}

/* The head of a request with a body is complete. A request that no route
 * takes is answered now, before its body is read (and the connection is
 * then closed, the body unread), so a client that sent Expect:
 * 100-continue gets its 404 or 405 instead of an invitation to upload. */
static void head_complete(struct http1 *h, sq_req *r)
{
    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
    int status = route(h, r);

    if (status != 0) {
        answer_error(h, r, status, 1);
        conn_close_after_output(h->c, 1);
        return;
    }
    /* nor does a client that the route's auth refuses: its answer (a 302
     * to the login page, 401, 403) comes before the body, instead of
     * 100 Continue, and the body is not read */
    if (security_auth(r->match.target, r) == ROUTE_ANSWERED) {
        complete(h, r, 1);
        conn_close_after_output(h->c, 1);
        return;
    }
    /* RFC 9110 10.1.1: the client waits for this before sending the body */
    if (r->expect_continue && r->version == 11 &&
        buf_add(conn_out(h->c), cont, sizeof(cont) - 1) < 0) {
        protocol_error(h, 500);
        return;
    }
    h->body_start = conn_now_ms();
    set_timer(h, T_BODY);
}

/* Body bytes arrived: the stall timer starts over, and the body must keep
 * up body_min_rate after body_rate_grace (Apache's mod_reqtimeout MinRate:
 * a client that drips a byte now and then holds no connection for long). */
static int body_progress(struct http1 *h, sq_req *r)
{
    uint64_t allowed, elapsed;

    set_timer(h, T_BODY);
    if (H.lim->body_min_rate == 0)
        return 0;
    elapsed = conn_now_ms() - h->body_start;
    allowed = H.lim->body_rate_grace_ms +
              (uint64_t)r->body_len * 1000 / H.lim->body_min_rate;
    if (elapsed <= allowed)
        return 0;
    log_info("%s: request body slower than %zu bytes/s (%zu bytes in %llu "
             "ms)",
             conn_remote(h->c), H.lim->body_min_rate, r->body_len,
             (unsigned long long)elapsed);
    protocol_error(h, 408);
    return -1;
}

/* Output waits: take no new request until it drains. */
static void wait_backlog(struct http1 *h)
{
    h->backlog = 1;
    conn_pause(h->c, 1);
    conn_want_drain(h->c);
}

/* --- the protocol handler ---------------------------------------------- */

/* Parses and answers what can be answered in data; returns the bytes
 * consumed. Stops at a request whose answer is pending. */
static size_t http1_input(struct conn *c, const char *data, size_t len)
{
    struct http1 *h = conn_proto_data(c);
    size_t off = 0;

    while (off < len && !conn_closing(c)) {
        sq_req *r = h->req;
        size_t used;
        int rc;

        if (r == NULL) {
            if (conn_output_high(c)) {
                wait_backlog(h);
                break;
            }
            if ((r = new_request(h)) == NULL) {
                protocol_error(h, 500);
                break;
            }
        } else if (r->async) {
            break;
        }
        rc = http_feed(h->http, data + off, len - off, &used);
        off += used;
        if (rc < 0)
            protocol_error(h, -rc);
        else if (rc == HTTP_IN_HEAD)
            head_complete(h, r);
        else if (rc == HTTP_IN_DONE) {
            if (dispatch(h, r))
                return off; /* a WebSocket now: it takes the rest */
        } else if (used > 0 && http_in_head_done(h->http))
            body_progress(h, r);
    }
    if (h->req == NULL && !conn_closing(c) && !h->backlog) {
        if (h->eof && off == len)
            conn_close_after_output(c, 0);
        else
            go_idle(h);
    }
    conn_send(c);
    return off;
}

/* FIN from the client (or a reset while input was paused): requests it
 * sent completely are still answered; one waiting in a handler means the
 * client is gone (Tornado's on_connection_close). */
static void http1_eof(struct conn *c)
{
    struct http1 *h = conn_proto_data(c);

    h->eof = 1;
    if (h->req != NULL && h->req->async) {
        conn_close(c);
        return;
    }
    if (h->backlog || conn_kept(c) > 0)
        return; /* answered when the output drains; then closed */
    conn_close_after_output(c, 0);
}

static void http1_timeout(struct conn *c)
{
    struct http1 *h = conn_proto_data(c);
    enum timer_kind kind = h->timer;

    h->timer = T_NONE;
    /* RFC 9110 15.5.9: tell the client why, then close */
    if (h->req != NULL && !h->req->async &&
        (kind == T_BODY || (kind == T_HEAD && http_in_started(h->http)))) {
        log_info("%s: %s timeout", conn_remote(c),
                 kind == T_HEAD ? "header" : "body");
        protocol_error(h, 408);
        return;
    }
    conn_close(c);
}

static void http1_drain(struct conn *c)
{
    struct http1 *h = conn_proto_data(c);
    sq_req *r = h->req;

    if (h->backlog) {
        h->backlog = 0;
        conn_pause(c, 0);
    }
    if (r != NULL && r->on_drain != NULL) {
        void (*cb)(sq_req *, void *) = r->on_drain;
        r->on_drain = NULL;
        cb(r, r->on_drain_arg);
    }
}

/* Graceful stop: idle connections close now, the others after their
 * current response; a request still arriving is read and answered. */
static void http1_shutdown(struct conn *c)
{
    struct http1 *h = conn_proto_data(c);

    if (h->req == NULL && conn_pending(c) == 0 && conn_kept(c) == 0)
        conn_close(c);
    else if (h->req == NULL || !http_in_started(h->http))
        conn_close_after_output(c, 0);
}

/* The connection is freed: a request in a handler's hands is detached and
 * told; everything else is freed now. */
static void http1_release(struct conn *c)
{
    struct http1 *h = conn_proto_data(c);
    sq_req *r = h->req;

    if (r != NULL) {
        h->req = NULL;
        pubsub_req_gone(r); /* before on_close: no delivery after it */
        if (r->async && !r->finished) {
            r->tp = NULL;
            r->out = NULL;
            if (r->on_close != NULL)
                r->on_close(r, r->on_close_arg);
        } else {
            pool_recycle(r->pool);
        }
    }
    http1_free(h);
}

static const struct conn_proto http1_proto = {
    .name = "http/1.1",
    .input = http1_input,
    .eof = http1_eof,
    .timeout = http1_timeout,
    .drain = http1_drain,
    .shutdown = http1_shutdown,
    .release = http1_release,
};

void http1_stop(void)
{
    H.stopping = 1;
}

/* --- the request lifecycle's transport ---------------------------------- */

static int tp_flush(sq_req *r)
{
    struct http1 *h = r->tp;
    struct conn *c = h->c;

    if (!r->head_sent)
        decide_close(h, r, 0);
    if (response_serialize(r, conn_out(c), NULL, 0) < 0) {
        log_error("%s: out of memory for a response", conn_remote(c));
        conn_abort(c);
        return SQ_ERROR;
    }
    conn_send(c);
    return conn_output_high(c) ? SQ_AGAIN : 0;
}

static void tp_finish(sq_req *r)
{
    struct http1 *h = r->tp;
    struct conn *c = h->c;

    complete(h, r, 0);
    /* requests pipelined behind this one are parsed from the loop, not
     * from inside the caller of sq_finish (maybe another handler) */
    if (!conn_closing(c)) {
        if (conn_kept(c) == 0 && h->eof)
            conn_close_after_output(c, 0);
        else if (conn_kept(c) == 0)
            go_idle(h);
        conn_pause(c, 0);
    }
    conn_send(c);
}

static void tp_want_drain(sq_req *r)
{
    struct http1 *h = r->tp;
    conn_want_drain(h->c);
}

static size_t tp_pending(const sq_req *r)
{
    const struct http1 *h = r->tp;
    return conn_pending(h->c);
}

static const struct req_transport http1_transport = {
    .flush = tp_flush,
    .finish = tp_finish,
    .want_drain = tp_want_drain,
    .pending = tp_pending,
};
