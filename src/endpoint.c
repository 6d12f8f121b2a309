/*
 * endpoint.c - the declarative pub/sub routes, written on the module API
 * (pubsub.c) like any module would be:
 *
 *   - { path: "/sub/{room}", subscribe: { channel: "chat.{room}" } }
 *   - { path: "/pub/{room}", publish: { channel: "chat.{room}" } }
 *
 * A subscribe route serves its channel in the way the client asks for:
 *
 *   WebSocket (an upgrade request): each channel message is one WebSocket
 *     message (text when it is UTF-8, else binary). With the subprotocol
 *     "squall.v1" each is prefixed by its position and a newline. Resume:
 *     ?position=. A reload closes with 4000, reason "reload <position>".
 *   server-sent events (Accept: text/event-stream): "id: <position>" and
 *     "data:" lines per message; resume with Last-Event-ID (what
 *     EventSource sends when it reconnects) or ?position=; a reload is an
 *     event named "reload" carrying the position to continue from; a
 *     comment every sse_keepalive keeps proxies from closing it.
 *   long poll (anything else): waits for the first message after
 *     ?position= (none: the next one) and answers it, 200, or 205 Reset
 *     Content for a reload, or 204 after poll_timeout; every answer has
 *     Squall-Position, the position to send next time.
 *
 * A publish route publishes the request body (at most
 * pubsub.max_message_size: 413) and answers 200 with the message's
 * position and how many subscribers on this host it reached, as JSON.
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define POSITION_HEADER "Squall-Position"
#define EXPOSE "Access-Control-Expose-Headers"
#define SSE_RETRY_MS 2000
#define SUBPROTOCOL "squall.v1"
#define RELOAD_CODE 4000

/* Answers r with an error page now. */
static int fail(sq_req *r, int status)
{
    response_error_page(r, status);
    return SQ_DONE;
}

/* The channel of r's route with r's path parameters: 0, or 400. */
static int channel_of(const struct route *rt, sq_req *r, char *out,
                      size_t outlen)
{
    long n = channel_template_fill(rt->conf->channel, r->match.params,
                                   r->match.nparams, out, outlen);

    if (n < 0) {
        log_info("%s: %s: no valid channel name from '%s'", r->remote, r->path,
                 rt->conf->channel);
        return 400;
    }
    return 0;
}

static const char *query_position(sq_req *r)
{
    const char *p = sq_query_arg(r, "position");

    return p != NULL && *p != '\0' ? p : NULL;
}

static int position_ok(const char *p)
{
    uint64_t e, o;

    return p == NULL || position_parse(p, strlen(p), &e, &o) == 0;
}

static const char *content_type(const void *data, size_t len)
{
    return utf8_valid(data, len) ? "text/plain; charset=utf-8"
                                 : "application/octet-stream";
}

/* --- long poll ---------------------------------------------------------- */

struct poll {
    sq_req *r;
    sq_sub *sub;
    sq_timer *timer;
    char since[POSITION_MAX]; /* what the client sent, for a 204 */
};

static void poll_answer(struct poll *p, int status, const char *position)
{
    sq_req *r = p->r;
    char pos[POSITION_MAX];

    /* position may be the subscription's own string (sq_sub_position),
     * which sq_unsubscribe frees: copy it first */
    snprintf(pos, sizeof(pos), "%s", position != NULL ? position : "");
    sq_timer_cancel(p->timer);
    p->timer = NULL;
    sq_unsubscribe(p->sub);
    p->sub = NULL;
    sq_set_status(r, status);
    sq_set_header(r, "Cache-Control", "no-store");
    sq_set_header(r, EXPOSE, POSITION_HEADER);
    if (pos[0] != '\0')
        sq_set_header(r, POSITION_HEADER, pos);
    sq_finish(r);
}

static void poll_message(sq_sub *s UNUSED, const sq_msg *m, void *arg)
{
    struct poll *p = arg;

    if (m->kind == SQ_MSG_ERROR) {
        sq_timer_cancel(p->timer);
        p->timer = NULL;
        sq_unsubscribe(p->sub);
        p->sub = NULL;
        response_error_page(p->r, atoi(m->data));
        sq_finish(p->r);
        return;
    }
    if (m->kind == SQ_MSG_RELOAD) {
        poll_answer(p, 205, m->position);
        return;
    }
    sq_set_header(p->r, "Content-Type", content_type(m->data, m->len));
    sq_write(p->r, m->data, m->len);
    poll_answer(p, 200, m->position);
}

static void poll_timeout(void *arg)
{
    struct poll *p = arg;
    const char *at = sq_sub_position(p->sub);

    p->timer = NULL; /* it is this one, and it is over */
    poll_answer(p, 204, at != NULL ? at : p->since[0] ? p->since : NULL);
}

static void poll_gone(sq_req *r, void *arg)
{
    struct poll *p = arg;

    sq_timer_cancel(p->timer); /* the subscription ended with the client */
    sq_finish(r);
}

static int long_poll(const struct route *rt, sq_req *r, const char *channel,
                     const char *position)
{
    struct poll *p = sq_pcalloc(r->pool, sizeof(*p));

    if (p == NULL)
        return fail(r, 500);
    p->r = r;
    if (position != NULL)
        snprintf(p->since, sizeof(p->since), "%s", position);
    p->sub = sq_subscribe(r, channel, position, poll_message, p);
    p->timer = sq_call_later(rt->conf->poll_timeout_ms, poll_timeout, p);
    if (p->sub == NULL || p->timer == NULL) {
        sq_timer_cancel(p->timer);
        sq_unsubscribe(p->sub);
        return fail(r, 503);
    }
    sq_on_close(r, poll_gone, p);
    return SQ_ASYNC;
}

/* --- server-sent events --------------------------------------------------- */

struct sse {
    sq_req *r;
    sq_timer *keepalive;
};

/* data: lines, split where the event stream splits lines (CR, LF, CRLF) */
static void sse_data(sq_req *r, const char *d, size_t len)
{
    size_t i = 0, start = 0;

    for (;;) {
        if (i == len || d[i] == '\r' || d[i] == '\n') {
            sq_write(r, "data: ", 6);
            sq_write(r, d + start, i - start);
            sq_write(r, "\n", 1);
            if (i == len)
                return;
            if (d[i] == '\r' && i + 1 < len && d[i + 1] == '\n')
                i++;
            start = ++i;
            continue;
        }
        i++;
    }
}

static void sse_message(sq_sub *s UNUSED, const sq_msg *m, void *arg)
{
    struct sse *e = arg;

    if (m->kind == SQ_MSG_ERROR) { /* the stream ends; EventSource retries */
        sq_timer_cancel(e->keepalive);
        e->keepalive = NULL;
        sq_finish(e->r);
        return;
    }
    if (m->kind == SQ_MSG_RELOAD)
        sq_write(e->r, "event: reload\n", 14);
    sq_write(e->r, "id: ", 4);
    sq_write(e->r, m->position, strlen(m->position));
    sq_write(e->r, "\n", 1);
    if (m->kind == SQ_MSG_RELOAD)
        sq_write(e->r, "data: reload\n", 13); /* an event needs data */
    else
        sse_data(e->r, m->data, m->len);
    sq_write(e->r, "\n", 1);
    sq_flush(e->r); /* past its output bound the connection closes */
}

static void sse_keepalive(void *arg)
{
    struct sse *e = arg;

    sq_write(e->r, ": keepalive\n\n", 13);
    sq_flush(e->r);
}

static void sse_gone(sq_req *r, void *arg)
{
    struct sse *e = arg;

    sq_timer_cancel(e->keepalive);
    sq_finish(r);
}

static int sse(const struct route *rt, sq_req *r, const char *channel,
               const char *position)
{
    struct sse *e = sq_pcalloc(r->pool, sizeof(*e));
    char retry[32];

    if (e == NULL)
        return fail(r, 500);
    e->r = r;
    if (sq_subscribe(r, channel, position, sse_message, e) == NULL)
        return fail(r, 503);
    e->keepalive = sq_call_every(rt->conf->sse_keepalive_ms, sse_keepalive, e);
    if (e->keepalive == NULL)
        return fail(r, 503); /* the subscription ends with the request */
    sq_set_header(r, "Content-Type", "text/event-stream");
    sq_set_header(r, "Cache-Control", "no-cache");
    sq_set_header(r, "X-Accel-Buffering", "no"); /* nginx: pass it on */
    snprintf(retry, sizeof(retry), "retry: %d\n\n", SSE_RETRY_MS);
    sq_write(r, retry, strlen(retry));
    sq_flush(r);
    sq_on_close(r, sse_gone, e);
    return SQ_ASYNC;
}

static int wants_sse(const sq_req *r)
{
    const char *accept = sq_header(r, "Accept");

    return accept != NULL && strstr(accept, "text/event-stream") != NULL;
}

static int is_upgrade(const sq_req *r)
{
    const char *up = sq_header(r, "Upgrade");

    return up != NULL && strcasecmp(up, "websocket") == 0;
}

int endpoint_subscribe(const struct route *rt, sq_req *r)
{
    char channel[HUB_CHANNEL_MAX + 1];
    const char *position = query_position(r);
    int status;

    if ((status = channel_of(rt, r, channel, sizeof(channel))) != 0)
        return fail(r, status);
    if (is_upgrade(r))
        return position_ok(position) ? ROUTE_UPGRADE : fail(r, 400);
    if (wants_sse(r)) {
        const char *last = sq_header(r, "Last-Event-ID");
        if (last != NULL && *last != '\0')
            position = last;
        if (!position_ok(position))
            return fail(r, 400);
        return sse(rt, r, channel, position);
    }
    if (!position_ok(position))
        return fail(r, 400);
    return long_poll(rt, r, channel, position);
}

/* --- WebSocket subscribers ---------------------------------------------- */

static void ws_message(sq_sub *s UNUSED, const sq_msg *m, void *arg)
{
    /* "<position>\n<data>", built once per delivery in a buffer kept
     * between them (a broadcast builds thousands in a row) */
    static struct buf framed;
    sq_ws *ws = arg;
    char reason[16 + POSITION_MAX];
    int text = utf8_valid(m->data, m->len);

    if (m->kind == SQ_MSG_ERROR) {
        sq_ws_close(ws, 1013, "try again later"); /* RFC 6455 7.4.1 */
        return;
    }
    if (m->kind == SQ_MSG_RELOAD) {
        snprintf(reason, sizeof(reason), "reload %s", m->position);
        sq_ws_close(ws, RELOAD_CODE, reason);
        return;
    }
    if (sq_ws_protocol(ws) == NULL) {
        if (text)
            sq_ws_send_text(ws, m->data, m->len);
        else
            sq_ws_send_binary(ws, m->data, m->len);
        return;
    }
    buf_clear(&framed);
    if (buf_add(&framed, m->position, strlen(m->position)) < 0 ||
        buf_add(&framed, "\n", 1) < 0 || buf_add(&framed, m->data, m->len) < 0)
        sq_ws_close(ws, 1011, "out of memory");
    else if (text)
        sq_ws_send_text(ws, framed.p, framed.len);
    else
        sq_ws_send_binary(ws, framed.p, framed.len);
    if (framed.cap > 65536) /* a large message: not kept */
        buf_release(&framed);
}

static int ws_open(sq_ws *ws, sq_req *r)
{
    const struct route *rt = r->match.target;
    char channel[HUB_CHANNEL_MAX + 1];

    /* checked by endpoint_subscribe before the handshake */
    if (channel_of(rt, r, channel, sizeof(channel)) != 0)
        return SQ_ERROR;
    (void)sq_ws_set_protocol(ws, SUBPROTOCOL); /* if the client offers it */
    if (sq_ws_subscribe(ws, channel, query_position(r), ws_message, ws) == NULL)
        return SQ_ERROR;
    return 0;
}

/* A subscriber has nothing to say: what it sends is refused. */
static void ws_input(sq_ws *ws, int binary UNUSED, const void *data UNUSED,
                     size_t len UNUSED)
{
    sq_ws_close(ws, 1003, "this endpoint only sends");
}

const sq_ws_def endpoint_ws = {"subscribe", ws_open, ws_input, NULL, NULL};

/* --- publish ------------------------------------------------------------ */

static void published(sq_req *r, int status, const char *position,
                      unsigned reached, void *arg UNUSED)
{
    char json[96 + POSITION_MAX];

    if (status != 0) {
        response_error_page(r, status);
        sq_finish(r);
        return;
    }
    snprintf(json, sizeof(json), "{\"position\":\"%s\",\"subscribers\":%u}\n",
             position, reached);
    sq_set_header(r, "Content-Type", "application/json");
    sq_set_header(r, "Cache-Control", "no-store");
    sq_set_header(r, EXPOSE, POSITION_HEADER);
    sq_set_header(r, POSITION_HEADER, position);
    sq_write(r, json, strlen(json));
    sq_finish(r);
}

static void publish_gone(sq_req *r, void *arg UNUSED)
{
    sq_finish(r);
}

int endpoint_publish(const struct route *rt, sq_req *r)
{
    char channel[HUB_CHANNEL_MAX + 1];
    size_t len;
    const char *body = sq_body(r, &len);
    int status;

    if ((status = channel_of(rt, r, channel, sizeof(channel))) != 0)
        return fail(r, status);
    status = sq_publish_req(r, channel, body, len, published, NULL);
    if (status != 0)
        return fail(r, status);
    sq_on_close(r, publish_gone, NULL);
    return SQ_ASYNC;
}
