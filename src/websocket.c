/*
 * websocket.c - the WebSocket protocol (RFC 6455, RFC 7692) on a
 * connection: the opening handshake that takes a connection over from
 * HTTP/1 (ws_upgrade), then a struct conn_proto that turns frames
 * (wsframe.c) into whole messages for a module and its messages into
 * frames.
 *
 * Memory: between messages a WebSocket holds its struct sq_ws only (no
 * read or write buffer: conn.c keeps none for a quiet connection, and the
 * message buffer is released after each message), plus zlib streams while
 * context takeover keeps them (wsdeflate.c).
 *
 * Ownership: the connection owns the sq_ws (conn_proto_data) from the
 * upgrade; it is freed in ws_release, the one place, right after the
 * module's close callback has run. Every end of a connection reaches
 * ws_release, so close runs exactly once.
 *
 * Closing (RFC 6455 7): when the client's close arrives the module is told
 * at once, the code is echoed and TCP closes once the echo is written. A
 * close squall starts (a protocol error, the module's sq_ws_close, a full
 * send buffer, a ping timeout, the worker stopping) queues a close frame
 * and waits for the client's for up to close_timeout; the module is told
 * when the connection ends, with that code.
 */
#include "internal.h"

#include <event2/event.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum ws_state {
    WS_OPENING, /* in the module's open: output is held in msg */
    WS_OPEN,
    WS_CLOSING, /* our close frame is queued; waiting for the client's */
    WS_CLOSED,  /* no frame goes in or out any more */
};

/* The user and JWT claims of the handshake, for sq_ws_current_user and
 * sq_ws_jwt_claim(s): one block (the user's name after it), and only for
 * a connection that has either, so that an anonymous WebSocket pays one
 * pointer. */
struct ws_auth {
    struct jwt_claims *jwt; /* auth: jwt's claims, or NULL */
    char user[];            /* "" when nobody */
};

struct sq_ws {
    struct conn *c;
    const struct route *rt;
    void *data;             /* the module's */
    sq_req *req;            /* during open only */
    const char *protocol;   /* agreed subprotocol, or NULL */
    struct wsdeflate *z;    /* NULL unless permessage-deflate was agreed */
    struct event *close_ev; /* the close_timeout, while closing */
    struct buf msg;         /* fragments of a message; output during open */
    struct sq_sub *subs;    /* its pub/sub subscriptions */
    struct ws_auth *auth; /* who opened it (a module's route only), or NULL */
    uint16_t code;          /* of the close we sent, or 1006 */
    uint8_t state;
    uint8_t told : 1;     /* the module's close has run */
    uint8_t ping_out : 1; /* a server ping waits for its pong */
    uint8_t protocol_owned : 1;
    struct ws_decoder dec;
};

static struct {
    struct event_base *base;
    const struct ws_conf *conf;
    struct timeval ping, pong;
    const struct timeval *ping_p, *pong_p;
} W;

static const struct conn_proto ws_proto;

void ws_setup(struct event_base *base, const struct ws_conf *conf)
{
    W.base = base;
    W.conf = conf;
    W.ping_p = conf->ping_interval_ms == 0
                   ? NULL
                   : conn_common_timeout(conf->ping_interval_ms, &W.ping);
    W.pong_p = conn_common_timeout(conf->ping_timeout_ms, &W.pong);
}

/* Subscribing is allowed from the module's open on (where it is most
 * natural): deliveries come from the loop, after open has returned, and a
 * refused ws is freed with its subscriptions. */
struct sq_sub **ws_subs(sq_ws *ws)
{
    return ws != NULL && (ws->state == WS_OPENING || ws->state == WS_OPEN)
               ? &ws->subs
               : NULL;
}

size_t ws_state_size(void)
{
    return sizeof(struct sq_ws);
}

/* --- the module's close ------------------------------------------------ */

static void tell_close(sq_ws *ws, unsigned code, const uint8_t *reason,
                       size_t len)
{
    char text[WS_CONTROL_MAX + 1];

    if (ws->told)
        return;
    ws->told = 1;
    pubsub_owner_gone(&ws->subs); /* no delivery once it is closing */
    if (ws->rt->ws->close == NULL)
        return;
    if (len > 0)
        memcpy(text, reason, len);
    text[len] = '\0';
    ws->rt->ws->close(ws, (int)code, text);
}

static void free_ws(sq_ws *ws)
{
    pubsub_owner_gone(&ws->subs);
    if (ws->close_ev != NULL)
        event_free(ws->close_ev);
    if (ws->z != NULL) {
        wsdeflate_free(ws->z);
        free(ws->z);
    }
    if (ws->protocol_owned)
        free((char *)ws->protocol);
    if (ws->auth != NULL) {
        free(ws->auth->jwt);
        free(ws->auth);
    }
    buf_release(&ws->msg);
    free(ws);
}

/* --- output ------------------------------------------------------------ */

/* Appends one frame; while the module's open runs, to msg, which follows
 * the 101 response. */
static int queue_frame(sq_ws *ws, unsigned op, int rsv1, const void *data,
                       size_t len)
{
    struct buf *out = ws->state == WS_OPENING ? &ws->msg : conn_out(ws->c);
    uint8_t head[WS_HEADER_MAX];
    size_t hlen = ws_encode_header(head, op, 1, rsv1, len);
    size_t before = out->len;

    if (buf_add(out, head, hlen) < 0 ||
        (len > 0 && buf_add(out, data, len) < 0)) {
        out->len = before;
        return -1;
    }
    return 0;
}

static int queue_close(sq_ws *ws, unsigned code, const char *reason)
{
    uint8_t frame[WS_CONTROL_FRAME_MAX];
    int n = ws_encode_close(frame, code, reason, reason ? strlen(reason) : 0);

    if (n < 0)
        return -1;
    if (ws->state == WS_OPENING)
        return buf_add(&ws->msg, frame, (size_t)n);
    return buf_add(conn_out(ws->c), frame, (size_t)n);
}

static void on_close_timeout(evutil_socket_t fd UNUSED, short what UNUSED,
                             void *arg)
{
    sq_ws *ws = arg;

    log_info("%s: no WebSocket close from the client within %u ms; closing",
             conn_remote(ws->c), W.conf->close_timeout_ms);
    conn_close(ws->c);
}

/* The client has close_timeout to answer (or to read what waits). */
static void arm_close_timeout(sq_ws *ws)
{
    struct timeval tv;

    if (ws->close_ev != NULL)
        return;
    tv.tv_sec = W.conf->close_timeout_ms / 1000;
    tv.tv_usec = (suseconds_t)(W.conf->close_timeout_ms % 1000) * 1000;
    ws->close_ev = evtimer_new(W.base, on_close_timeout, ws);
    if (ws->close_ev == NULL || evtimer_add(ws->close_ev, &tv) < 0)
        conn_abort(ws->c); /* no deadline: do not wait at all */
}

/* Starts the close handshake from our side (RFC 6455 7.1.2). */
static void begin_close(sq_ws *ws, unsigned code, const char *reason)
{
    if (ws->state != WS_OPEN)
        return;
    if (queue_close(ws, code, reason) < 0)
        (void)queue_close(ws, WS_CLOSE_NORMAL, NULL);
    ws->code = (uint16_t)code;
    ws->state = WS_CLOSING;
    conn_timer(ws->c, NULL, 0); /* no more pings */
    arm_close_timeout(ws);
    conn_send(ws->c);
}

/* The connection fails (RFC 6455 7.1.7): a close frame with code, then
 * TCP closes once it is written, without waiting for an answer; what the
 * client still sends is read and dropped meanwhile, so that it sees the
 * close frame rather than a reset. */
static void fail(sq_ws *ws, unsigned code)
{
    if (ws->state == WS_CLOSED)
        return;
    log_info("%s: closing the WebSocket with %u", conn_remote(ws->c), code);
    if (ws->state == WS_OPEN)
        (void)queue_close(ws, code, NULL);
    ws->code = (uint16_t)code;
    ws->state = WS_CLOSED;
    conn_timer(ws->c, NULL, 0);
    arm_close_timeout(ws);
    conn_close_after_output(ws->c, 1);
}

/* Output above max_send_buffer even after a write: the client does not
 * keep up. (Inside a callback conn_send only schedules the write, so what
 * waits is measured after writing what the socket takes.) */
static void check_backlog(sq_ws *ws)
{
    size_t pending = conn_pending(ws->c);

    if (ws->state != WS_OPEN || pending <= W.conf->max_send_buffer)
        return;
    conn_flush(ws->c);
    pending = conn_pending(ws->c);
    if (pending <= W.conf->max_send_buffer || conn_closing(ws->c))
        return;
    log_info("%s: %zu bytes wait for a WebSocket client (max_send_buffer "
             "%zu)",
             conn_remote(ws->c), pending, W.conf->max_send_buffer);
    /* its close frame waits behind the rest: a client that reads again
     * within close_timeout sees it, one that does not is dropped then */
    begin_close(ws, WS_CLOSE_POLICY, NULL);
}

static int send_message(sq_ws *ws, unsigned op, const void *data, size_t len)
{
    static struct buf packed; /* the deflated payload, released after */
    int rc;

    if (ws->state != WS_OPEN && ws->state != WS_OPENING)
        return SQ_ERROR;
    if (ws->z == NULL) {
        rc = queue_frame(ws, op, 0, data, len);
    } else {
        rc = wsdeflate_compress(ws->z, data, len, &packed);
        if (rc == 0)
            rc = queue_frame(ws, op, 1, packed.p + packed.off,
                             buf_pending(&packed));
        buf_release(&packed);
    }
    if (rc < 0) {
        log_error("%s: out of memory for a WebSocket message",
                  conn_remote(ws->c));
        return SQ_ERROR;
    }
    if (ws->state == WS_OPEN) {
        conn_send(ws->c);
        check_backlog(ws);
    }
    return 0;
}

/* --- input ------------------------------------------------------------- */

static void deliver(sq_ws *ws, unsigned op, const void *data, size_t len)
{
    if (ws->rt->ws->message != NULL)
        ws->rt->ws->message(ws, op == WS_OP_BINARY, len ? data : "", len);
}

/* A compressed message is complete (RFC 7692 7.2.2): inflated within
 * max_message_size, then checked as UTF-8 if it is text. */
static void deliver_inflated(sq_ws *ws, unsigned op, const void *data,
                             size_t len)
{
    struct buf plain = {0};
    int rc = wsdeflate_decompress(ws->z, data, len, W.conf->max_message_size,
                                  &plain);

    if (rc == 0 && op == WS_OP_TEXT &&
        !utf8_valid((const uint8_t *)plain.p + plain.off, buf_pending(&plain)))
        rc = WSDEFLATE_EDATA;
    if (rc == 0)
        deliver(ws, op, plain.p + plain.off, buf_pending(&plain));
    buf_release(&plain);
    if (rc == WSDEFLATE_ETOOBIG)
        fail(ws, WS_CLOSE_TOO_BIG);
    else if (rc == WSDEFLATE_EDATA)
        fail(ws, WS_CLOSE_BAD_DATA);
    else if (rc < 0)
        fail(ws, WS_CLOSE_INTERNAL);
}

/* A piece of a data message. A message in one piece is delivered from the
 * input itself; fragments are joined in msg, released once delivered. */
static void on_data(sq_ws *ws, const struct ws_event *ev)
{
    struct buf *m = &ws->msg;

    if (ws->state != WS_OPEN)
        return; /* RFC 6455 5.5.1: after our close, data is dropped */
    if (!(ev->first && ev->fin)) {
        if (ev->len > 0 && buf_add(m, ev->data, ev->len) < 0) {
            log_error("%s: out of memory for a WebSocket message",
                      conn_remote(ws->c));
            fail(ws, WS_CLOSE_INTERNAL);
            return;
        }
        if (!ev->fin)
            return;
    }
    if (ev->first && ev->fin && ev->compressed)
        deliver_inflated(ws, ev->opcode, ev->data, ev->len);
    else if (ev->first && ev->fin)
        deliver(ws, ev->opcode, ev->data, ev->len);
    else if (ev->compressed)
        deliver_inflated(ws, ev->opcode, m->p + m->off, buf_pending(m));
    else
        deliver(ws, ev->opcode, m->p + m->off, buf_pending(m));
    buf_release(m);
}

/* The client's close (RFC 6455 5.5.1): echo its code (1000 when it gave
 * none), tell the module, and close TCP once the echo is written. */
static void on_close_frame(sq_ws *ws, const struct ws_event *ev)
{
    unsigned echo = ev->code == WS_CLOSE_NO_STATUS ? WS_CLOSE_NORMAL : ev->code;

    if (ws->state == WS_OPEN && queue_close(ws, echo, NULL) < 0)
        (void)queue_close(ws, WS_CLOSE_NORMAL, NULL);
    ws->state = WS_CLOSED;
    conn_timer(ws->c, NULL, 0);
    tell_close(ws, ev->code, ev->reason, ev->reason_len);
    arm_close_timeout(ws); /* for a client that does not read the echo */
    conn_close_after_output(ws->c, 0);
}

static void on_pong(sq_ws *ws, const struct ws_event *ev)
{
    if (ws->ping_out) {
        ws->ping_out = 0;
        conn_timer(ws->c, W.ping_p, W.conf->ping_interval_ms);
    }
    if (ws->state == WS_OPEN && ws->rt->ws->pong != NULL)
        ws->rt->ws->pong(ws, ev->len ? (const void *)ev->data : "", ev->len);
}

static void on_control(sq_ws *ws, const struct ws_event *ev)
{
    switch (ev->opcode) {
    case WS_OP_PING: /* RFC 6455 5.5.2: answered with the same payload */
        if (ws->state == WS_OPEN &&
            queue_frame(ws, WS_OP_PONG, 0, ev->data, ev->len) == 0)
            conn_send(ws->c);
        break;
    case WS_OP_PONG:
        on_pong(ws, ev);
        break;
    case WS_OP_CLOSE:
        on_close_frame(ws, ev);
        break;
    }
}

static size_t ws_input(struct conn *c, const char *data, size_t len)
{
    sq_ws *ws = conn_proto_data(c);
    /* the decoder unmasks in place: conn.c's input buffers are ours */
    uint8_t *in = (uint8_t *)(uintptr_t)data;
    struct ws_event ev;
    size_t off = 0, used;
    int rc;

    while (off < len && ws->state != WS_CLOSED) {
        rc = ws_decode(&ws->dec, in + off, len - off, &used, &ev);
        off += used;
        if (rc < 0)
            fail(ws, (unsigned)-rc);
        else if (rc == WS_DATA)
            on_data(ws, &ev);
        else if (rc == WS_CONTROL)
            on_control(ws, &ev);
        else if (used == 0)
            break;
    }
    if (ws->state == WS_OPEN)
        check_backlog(ws);
    return len; /* after the close, the rest is dropped */
}

/* --- the other protocol callbacks --------------------------------------- */

/* TCP ended without a close handshake (RFC 6455 7.1.5: 1006), unless ours
 * is being written after the client's close. */
static void ws_eof(struct conn *c)
{
    sq_ws *ws = conn_proto_data(c);

    if (ws->state == WS_CLOSED)
        return; /* our close frame is on its way; then TCP closes */
    ws->code = WS_CLOSE_ABNORMAL;
    conn_close(c);
}

/* Server pings: one every ping_interval; no pong within ping_timeout
 * closes (1011, as the keepalive of python-websockets does). */
static void ws_timeout(struct conn *c)
{
    sq_ws *ws = conn_proto_data(c);

    if (ws->state != WS_OPEN)
        return;
    if (ws->ping_out) {
        log_info("%s: no WebSocket pong within %u ms", conn_remote(c),
                 W.conf->ping_timeout_ms);
        begin_close(ws, WS_CLOSE_INTERNAL, "ping timeout");
        return;
    }
    if (queue_frame(ws, WS_OP_PING, 0, NULL, 0) < 0) {
        fail(ws, WS_CLOSE_INTERNAL);
        return;
    }
    ws->ping_out = 1;
    conn_timer(c, W.pong_p, W.conf->ping_timeout_ms);
    conn_send(c);
}

/* The worker stops: 1001 (going away), and the worker waits for the
 * handshake up to shutdown_timeout. */
static void ws_shutdown(struct conn *c)
{
    begin_close(conn_proto_data(c), WS_CLOSE_GOING_AWAY, "server stopping");
}

static void ws_release(struct conn *c)
{
    sq_ws *ws = conn_proto_data(c);

    ws->state = WS_CLOSED; /* close may not send any more */
    tell_close(ws, ws->code ? ws->code : WS_CLOSE_ABNORMAL, NULL, 0);
    free_ws(ws);
}

static const struct conn_proto ws_proto = {
    .name = "websocket",
    .input = ws_input,
    .eof = ws_eof,
    .timeout = ws_timeout,
    .drain = NULL,
    .shutdown = ws_shutdown,
    .release = ws_release,
};

/* --- the opening handshake ---------------------------------------------- */

struct handshake {
    char accept[WS_ACCEPT_LEN + 1];
    const char *protocol;
    int deflate;
    struct wsdeflate_params params;
    char ext[WSDEFLATE_RESPONSE_MAX];
};

/* Every Sec-WebSocket-Extensions field joined with ", " (RFC 9110 5.3),
 * in r's pool; NULL when there is none (or no memory). */
static const char *extensions(sq_req *r)
{
    struct buf b = {0};
    const char *joined = NULL;

    for (size_t i = 0; i < r->nheaders; i++) {
        const struct header *h = &r->headers[i];
        if (!name_eq(h->name, h->name_len, "Sec-WebSocket-Extensions", 24))
            continue;
        if ((b.len > 0 && buf_add(&b, ", ", 2) < 0) ||
            buf_add(&b, h->value, h->value_len) < 0)
            goto out;
    }
    if (b.len > 0)
        joined = sq_pstrndup(r->pool, b.p, b.len);
out:
    buf_release(&b);
    return joined;
}

/* RFC 6455 4.2.1, 4.2.2: 0, or the status that refuses r. */
static int handshake(const struct route *rt, sq_req *r, struct handshake *hs)
{
    const struct route_conf *rc = rt->conf;
    const char *why, *ext;
    int status = ws_check_request(r, &why);

    memset(hs, 0, sizeof(*hs));
    if (status != 0) {
        log_info("%s: not a WebSocket handshake (%s): %d", r->remote, why,
                 status);
        return status;
    }
    if (!ws_origin_allowed(r, (const char *const *)rc->origins, rc->norigins)) {
        log_info("%s: WebSocket Origin '%s' not allowed on %s", r->remote,
                 sq_header(r, "Origin"), rc->path);
        return 403;
    }
    if (rc->nsubprotocols > 0)
        hs->protocol = ws_select_protocol(
            r, (const char *const *)rc->subprotocols, rc->nsubprotocols);
    if (rc->deflate.enabled && (ext = extensions(r)) != NULL) {
        int n = wsdeflate_negotiate(&rc->deflate, ext, strlen(ext), &hs->params,
                                    hs->ext);
        if (n < 0)
            return 400; /* RFC 6455 9.1: a header that does not parse */
        hs->deflate = n == 1;
    }
    if (ws_accept_key(sq_header(r, "Sec-WebSocket-Key"), hs->accept) < 0)
        return 400;
    return 0;
}

static int buf_printf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

/* The 101 response (RFC 6455 4.2.2 item 5), then what open sent. */
static int queue_switch(sq_ws *ws, const struct handshake *hs)
{
    struct buf *out = conn_out(ws->c);
    size_t before = out->len;

    if (buf_printf(out,
                   "HTTP/1.1 101 Switching Protocols\r\n"
                   "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Accept: %s\r\n",
                   hs->accept) < 0 ||
        (ws->protocol != NULL &&
         buf_printf(out, "Sec-WebSocket-Protocol: %s\r\n", ws->protocol) < 0) ||
        (hs->deflate &&
         buf_printf(out, "Sec-WebSocket-Extensions: %s\r\n", hs->ext) < 0) ||
        buf_add(out, "\r\n", 2) < 0 ||
        (buf_pending(&ws->msg) > 0 &&
         buf_add(out, ws->msg.p + ws->msg.off, buf_pending(&ws->msg)) < 0)) {
        out->len = before;
        return -1;
    }
    buf_release(&ws->msg);
    return 0;
}

/* Copies the handshake's user and claims into ws->auth (none: NULL): 0,
 * or -1 when out of memory. */
static int keep_auth(sq_ws *ws, const sq_req *r)
{
    const char *user = r->user_known && r->user != NULL ? r->user : "";
    size_t n = strlen(user);

    if (r->jwt == NULL && n == 0)
        return 0;
    if ((ws->auth = malloc(sizeof(*ws->auth) + n + 1)) == NULL)
        return -1;
    memcpy(ws->auth->user, user, n + 1);
    ws->auth->jwt = NULL;
    if (r->jwt != NULL && (ws->auth->jwt = jwt_claims_copy(r->jwt)) == NULL)
        return -1;
    return 0;
}

static sq_ws *new_ws(struct conn *c, const struct route *rt, sq_req *r,
                     const struct handshake *hs)
{
    sq_ws *ws = calloc(1, sizeof(*ws));

    if (ws == NULL)
        return NULL;
    ws->c = c;
    ws->rt = rt;
    ws->req = r;
    ws->state = WS_OPENING;
    ws->protocol = hs->protocol;
    if (hs->deflate) {
        if ((ws->z = malloc(sizeof(*ws->z))) == NULL) {
            free(ws);
            return NULL;
        }
        wsdeflate_init(ws->z, &hs->params);
    }
    /* a module's handler may ask later; pub/sub's own endpoint never */
    if (rt->kind == ROUTE_WEBSOCKET && keep_auth(ws, r) < 0) {
        free_ws(ws);
        return NULL;
    }
    ws_decoder_init(&ws->dec, W.conf->max_message_size, hs->deflate);
    return ws;
}

int ws_upgrade(struct conn *c, const struct route *rt, sq_req *r)
{
    struct handshake hs;
    int status = handshake(rt, r, &hs), rc = 0;
    sq_ws *ws;

    if (status != 0)
        return status;
    if ((ws = new_ws(c, rt, r, &hs)) == NULL)
        goto oom;
    if (rt->ws->open != NULL)
        rc = rt->ws->open(ws, r);
    ws->req = NULL;
    if (rc != 0) {
        free_ws(ws); /* refused: close is not called */
        return rc == SQ_DECLINED ? 403 : 500;
    }
    if (queue_switch(ws, &hs) < 0) {
        ws->told = 1; /* open ran but the connection never opened */
        free_ws(ws);
        goto oom;
    }
    ws->state = WS_OPEN;
    /* the request's timers end with it; a WebSocket has only pings */
    conn_set_proto(c, &ws_proto, ws);
    conn_timer(c, W.ping_p, W.conf->ping_interval_ms);
    conn_send(c);
    return 0;
oom:
    log_error("%s: out of memory for a WebSocket", conn_remote(c));
    return 500;
}

/* --- the module API ------------------------------------------------------ */

int sq_ws_send_text(sq_ws *ws, const char *text, size_t len)
{
    if (!utf8_valid((const uint8_t *)text, len))
        return SQ_ERROR;
    return send_message(ws, WS_OP_TEXT, text, len);
}

int sq_ws_send_binary(sq_ws *ws, const void *data, size_t len)
{
    return send_message(ws, WS_OP_BINARY, data, len);
}

int sq_ws_ping(sq_ws *ws, const void *data, size_t len)
{
    if ((ws->state != WS_OPEN && ws->state != WS_OPENING) ||
        len > WS_CONTROL_MAX || queue_frame(ws, WS_OP_PING, 0, data, len) < 0)
        return SQ_ERROR;
    if (ws->state == WS_OPEN)
        conn_send(ws->c);
    return 0;
}

int sq_ws_close(sq_ws *ws, int code, const char *reason)
{
    uint8_t probe[WS_CONTROL_FRAME_MAX];

    if (ws->state != WS_OPEN || code < 1000 ||
        ws_encode_close(probe, (unsigned)code, reason,
                        reason ? strlen(reason) : 0) < 0)
        return SQ_ERROR;
    begin_close(ws, (unsigned)code, reason);
    return 0;
}

size_t sq_ws_buffered(const sq_ws *ws)
{
    return ws->state == WS_OPENING ? buf_pending(&ws->msg)
                                   : conn_pending(ws->c);
}

void sq_ws_set_data(sq_ws *ws, void *data)
{
    ws->data = data;
}

void *sq_ws_data(const sq_ws *ws)
{
    return ws->data;
}

int sq_ws_set_protocol(sq_ws *ws, const char *protocol)
{
    char *copy;

    if (ws->state != WS_OPENING || protocol == NULL ||
        ws_select_protocol(ws->req, &protocol, 1) == NULL ||
        (copy = strdup(protocol)) == NULL)
        return SQ_ERROR;
    if (ws->protocol_owned)
        free((char *)ws->protocol);
    ws->protocol = copy;
    ws->protocol_owned = 1;
    return 0;
}

const char *sq_ws_protocol(const sq_ws *ws)
{
    return ws->protocol;
}

const char *sq_ws_jwt_claim(const sq_ws *ws, const char *name)
{
    return jwt_claims_get(ws->auth != NULL ? ws->auth->jwt : NULL, name);
}

const char *sq_ws_jwt_claims(const sq_ws *ws)
{
    return ws->auth != NULL && ws->auth->jwt != NULL ? ws->auth->jwt->json
                                                     : NULL;
}

const char *sq_ws_current_user(const sq_ws *ws)
{
    return ws->auth != NULL && ws->auth->user[0] != '\0' ? ws->auth->user
                                                          : NULL;
}
