/*
 * psmod.c - the pub/sub module API in use (tests/integration/
 * test_pubsub.py):
 *
 *   GET  /ps/next/{ch}?position=P  a long poll written with sq_subscribe:
 *        the next message after P, as "data <position> <body>" or
 *        "reload <position>", or "error <status>" when it failed
 *   GET  /ps/two/{ch}              two subscriptions of one request, the
 *        first of which unsubscribes the second from inside its delivery:
 *        answers "two <body>" once
 *   GET  /ps/where/{ch}            subscribes, waits for ?ms=, answers
 *        sq_sub_position (or "none")
 *   POST /ps/pub/{ch}              sq_publish (fire and forget): 202
 *   POST /ps/pubreq/{ch}           sq_publish_req: "<status> <position>
 *        <reached>"
 *   GET  /ps/block?ms=N            blocks the worker for N ms (a worker
 *        that does not read its hub connection)
 *   WebSocket "room" (?ch=NAME)    sq_ws_subscribe to NAME; each channel
 *        message is sent as "<position> <body>"; each message the client
 *        sends is published to NAME with sq_publish
 */
#include <squall/squall.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void answer(sq_req *r, int status, const char *text, size_t len)
{
    sq_set_status(r, status);
    sq_set_header(r, "Content-Type", "text/plain");
    sq_write(r, text, len);
}

/* --- a long poll -------------------------------------------------------- */

static void next_message(sq_sub *s, const sq_msg *m, void *arg)
{
    sq_req *r = arg;

    if (m->kind == SQ_MSG_ERROR) {
        sq_printf(r, "error %.*s", (int)m->len, (const char *)m->data);
        sq_finish(r); /* s has ended already */
        return;
    }
    if (m->kind == SQ_MSG_RELOAD) {
        sq_printf(r, "reload %s", m->position);
    } else {
        sq_printf(r, "data %s ", m->position);
        sq_write(r, m->data, m->len);
    }
    sq_unsubscribe(s);
    sq_finish(r);
}

static void gone(sq_req *r, void *arg)
{
    (void)arg;
    sq_log(SQ_LOG_INFO, "psmod: client gone from %s", sq_path_arg(r, "ch"));
    sq_finish(r);
}

static int next(sq_req *r)
{
    if (sq_subscribe(r, sq_path_arg(r, "ch"), sq_query_arg(r, "position"),
                     next_message, r) == NULL) {
        answer(r, 400, "cannot subscribe", 16);
        return SQ_DONE;
    }
    sq_on_close(r, gone, NULL);
    sq_log(SQ_LOG_INFO, "psmod: waiting on %s", sq_path_arg(r, "ch"));
    return SQ_ASYNC;
}

/* --- unsubscribing another subscription during a delivery --------------- */

struct two {
    sq_req *r;
    sq_sub *other;
    int told;
};

static void two_message(sq_sub *s, const sq_msg *m, void *arg)
{
    struct two *t = arg;

    (void)s;
    if (t->told++ > 0) {
        sq_log(SQ_LOG_ERROR, "psmod: a second delivery after unsubscribe");
        return;
    }
    sq_unsubscribe(t->other); /* it is next in line for this message */
    sq_write(t->r, "two ", 4);
    sq_write(t->r, m->data, m->len);
    sq_finish(t->r); /* and this one ends with the request */
}

static int two(sq_req *r)
{
    struct two *t = sq_pcalloc(sq_req_pool(r), sizeof(*t));
    const char *ch = sq_path_arg(r, "ch");

    if (t == NULL)
        return SQ_ERROR;
    t->r = r;
    if (sq_subscribe(r, ch, NULL, two_message, t) == NULL ||
        (t->other = sq_subscribe(r, ch, NULL, two_message, t)) == NULL)
        return SQ_ERROR;
    sq_on_close(r, gone, NULL);
    return SQ_ASYNC;
}

/* --- where a subscriber is ---------------------------------------------- */

struct where {
    sq_req *r;
    sq_sub *sub;
    sq_timer *timer;
};

static void where_ignore(sq_sub *s, const sq_msg *m, void *arg)
{
    (void)s;
    (void)m;
    (void)arg;
}

static void where_answer(void *arg)
{
    struct where *w = arg;
    const char *pos = sq_sub_position(w->sub);

    sq_printf(w->r, "%s", pos != NULL ? pos : "none");
    sq_finish(w->r);
}

static void where_gone(sq_req *r, void *arg)
{
    struct where *w = arg;

    sq_timer_cancel(w->timer);
    sq_finish(r);
}

static int where(sq_req *r)
{
    struct where *w = sq_pcalloc(sq_req_pool(r), sizeof(*w));
    const char *ms = sq_query_arg(r, "ms");

    if (w == NULL)
        return SQ_ERROR;
    w->r = r;
    w->sub = sq_subscribe(r, sq_path_arg(r, "ch"), NULL, where_ignore, w);
    w->timer = sq_call_later(ms ? (unsigned)atoi(ms) : 200, where_answer, w);
    if (w->sub == NULL || w->timer == NULL)
        return SQ_ERROR;
    sq_on_close(r, where_gone, w);
    return SQ_ASYNC;
}

/* --- publishing --------------------------------------------------------- */

static int pub(sq_req *r)
{
    size_t len;
    const char *body = sq_body(r, &len);

    if (sq_publish(sq_path_arg(r, "ch"), body, len) != 0) {
        answer(r, 503, "not published", 13);
        return SQ_DONE;
    }
    answer(r, 202, "queued", 6);
    return SQ_DONE;
}

static void pubreq_done(sq_req *r, int status, const char *position,
                        unsigned reached, void *arg)
{
    (void)arg;
    sq_printf(r, "%d %s %u", status, position ? position : "-", reached);
    sq_finish(r);
}

static int pubreq(sq_req *r)
{
    size_t len;
    const char *body = sq_body(r, &len);
    int status = sq_publish_req(r, sq_path_arg(r, "ch"), body, len,
                                pubreq_done, NULL);

    if (status != 0) {
        char text[32];
        int n = snprintf(text, sizeof(text), "%d - 0", status);
        answer(r, 200, text, (size_t)n);
        return SQ_DONE;
    }
    sq_on_close(r, gone, NULL);
    return SQ_ASYNC;
}

/* --- a worker that does not read ---------------------------------------- */

static int block(sq_req *r)
{
    const char *ms = sq_query_arg(r, "ms");
    struct timespec ts;
    long n = ms ? atol(ms) : 1000;

    ts.tv_sec = n / 1000;
    ts.tv_nsec = (n % 1000) * 1000000L;
    sq_log(SQ_LOG_INFO, "psmod: blocking for %ld ms", n);
    nanosleep(&ts, NULL); /* never do this in a real handler */
    answer(r, 200, "blocked", 7);
    return SQ_DONE;
}

/* --- a WebSocket that subscribes and publishes --------------------------- */

static void room_message(sq_sub *s, const sq_msg *m, void *arg)
{
    sq_ws *ws = arg;
    char *text = malloc(64 + m->len);
    int n;

    (void)s;
    if (text == NULL)
        return;
    n = snprintf(text, 64, "%s %s ",
                 m->kind == SQ_MSG_RELOAD ? "reload" : "data", m->position);
    memcpy(text + n, m->data, m->len);
    sq_ws_send_text(ws, text, (size_t)n + m->len);
    free(text);
}

static int room_open(sq_ws *ws, sq_req *r)
{
    const char *ch = sq_query_arg(r, "ch");
    char *name;

    if (ch == NULL || (name = strdup(ch)) == NULL)
        return SQ_DECLINED;
    if (sq_ws_subscribe(ws, ch, sq_query_arg(r, "position"), room_message,
                        ws) == NULL) {
        free(name);
        return SQ_DECLINED;
    }
    sq_ws_set_data(ws, name);
    return 0;
}

static void room_input(sq_ws *ws, int binary, const void *data, size_t len)
{
    (void)binary;
    if (sq_publish(sq_ws_data(ws), data, len) != 0)
        sq_ws_close(ws, 1011, "publish failed");
}

static void room_close(sq_ws *ws, int code, const char *reason)
{
    sq_log(SQ_LOG_INFO, "psmod: room %s closed %d '%s'",
           (char *)sq_ws_data(ws), code, reason);
    free(sq_ws_data(ws));
}

SQ_MODULE(.name = "psmod",
          .handlers = SQ_HANDLERS(next, two, where, pub, pubreq, block),
          .websockets = SQ_WEBSOCKETS({"room", room_open, room_input,
                                       room_close, NULL}));
