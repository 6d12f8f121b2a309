/*
 * wsmod.c - the WebSocket module API in use (tests/integration/
 * test_websocket.py): refusing in open, a subprotocol the module chooses,
 * a message sent from open, per-connection data, a close the module
 * starts, server pings and their pongs.
 *
 *   /ws/app?refuse=403|500   open refuses
 *   /ws/app?proto=NAME       open answers with subprotocol NAME
 *
 * Then "hello <subprotocol or ->" is sent from open, and each message
 * "close" closes with 4001 "asked", "ping" sends a ping "p1" (its pong is
 * answered "pong p1"), "count" answers the messages seen so far; any other
 * message is echoed. Lines logged start with "wsmod: ".
 */
#include <squall/squall.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct state {
    int messages;
};

static int open_app(sq_ws *ws, sq_req *r)
{
    const char *refuse = sq_query_arg(r, "refuse");
    const char *proto = sq_query_arg(r, "proto");
    struct state *st;
    char hello[128];

    if (refuse != NULL)
        return strcmp(refuse, "403") == 0 ? SQ_DECLINED : SQ_ERROR;
    if (proto != NULL && sq_ws_set_protocol(ws, proto) != 0)
        return SQ_ERROR;
    if ((st = calloc(1, sizeof(*st))) == NULL)
        return SQ_ERROR;
    sq_ws_set_data(ws, st);
    snprintf(hello, sizeof(hello), "hello %s",
             sq_ws_protocol(ws) ? sq_ws_protocol(ws) : "-");
    sq_ws_send_text(ws, hello, strlen(hello));
    return 0;
}

static void message(sq_ws *ws, int binary, const void *data, size_t len)
{
    struct state *st = sq_ws_data(ws);
    char out[64];

    st->messages++;
    if (!binary && len == 5 && memcmp(data, "close", 5) == 0) {
        sq_ws_close(ws, 4001, "asked");
        sq_log(SQ_LOG_INFO, "wsmod: send after close: %d",
               sq_ws_send_text(ws, "late", 4));
    } else if (!binary && len == 4 && memcmp(data, "ping", 4) == 0) {
        sq_ws_ping(ws, "p1", 2);
    } else if (!binary && len == 5 && memcmp(data, "count", 5) == 0) {
        snprintf(out, sizeof(out), "count %d", st->messages);
        sq_ws_send_text(ws, out, strlen(out));
    } else if (binary) {
        sq_ws_send_binary(ws, data, len);
    } else {
        sq_ws_send_text(ws, data, len);
    }
}

static void pong(sq_ws *ws, const void *data, size_t len)
{
    char out[160];

    snprintf(out, sizeof(out), "pong %.*s", (int)len, (const char *)data);
    sq_ws_send_text(ws, out, strlen(out));
}

static void closed(sq_ws *ws, int code, const char *reason)
{
    struct state *st = sq_ws_data(ws);

    sq_log(SQ_LOG_INFO, "wsmod: closed %d '%s' after %d messages", code, reason,
           st->messages);
    free(st);
}

SQ_MODULE(.name = "wsmod",
          .websockets = SQ_WEBSOCKETS({"app", open_app, message, closed,
                                       pong}));
