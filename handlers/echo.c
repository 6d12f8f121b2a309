/*
 * echo.c - a WebSocket echo: every message comes back as it came, text as
 * text, binary as binary.
 *
 *   modules:
 *     echo: { path: echo.so }
 *   routes:
 *     - { path: /ws/echo, websocket: echo:echo, deflate: true }
 *
 * squall does the handshake, the framing, pings and the close handshake;
 * the module sees whole messages and is told once when the connection
 * ends.
 */
#include <squall/squall.h>

static void message(sq_ws *ws, int binary, const void *data, size_t len)
{
    if (binary)
        sq_ws_send_binary(ws, data, len);
    else
        sq_ws_send_text(ws, data, len);
}

static void closed(sq_ws *ws, int code, const char *reason)
{
    (void)ws;
    sq_log(SQ_LOG_INFO, "echo: closed %d '%s'", code, reason);
}

SQ_MODULE(.name = "echo",
          .websockets = SQ_WEBSOCKETS({"echo", NULL, message, closed, NULL}));
