/*
 * echo.c - a WebSocket echo: every message comes back as it came, text as
 * text, binary as binary; and a page to try it in a browser.
 *
 *   modules:
 *     echo: { path: echo.so }
 *   routes:
 *     - { path: /ws/, methods: [GET], handler: echo:page }
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

/* The page connects to "echo" next to its own URL, so it works under any
 * prefix (behind nginx too) and over wss:// when served over https://.
 * Echoes are shown with textContent: never parsed as HTML. */
static const char page_html[] =
    "<!doctype html>\n"
    "<html lang=\"en\">\n"
    "<meta charset=\"utf-8\">\n"
    "<meta name=\"viewport\" content=\"width=device-width\">\n"
    "<title>squall WebSocket echo</title>\n"
    "<style>\n"
    "body { font: 16px system-ui, sans-serif; max-width: 40em;"
    " margin: 2em auto; padding: 0 1em }\n"
    "#log { list-style: none; padding: 0; font-family: monospace }\n"
    ".sent { color: #555 }\n"
    "</style>\n"
    "<h1>WebSocket echo</h1>\n"
    "<p id=\"status\">connecting&hellip;</p>\n"
    "<form id=\"form\">\n"
    "<input id=\"text\" autocomplete=\"off\" autofocus size=\"40\""
    " placeholder=\"a message\">\n"
    "<button id=\"send\" disabled>Send</button>\n"
    "</form>\n"
    "<ul id=\"log\"></ul>\n"
    "<script>\n"
    "\"use strict\";\n"
    "const $ = (id) => document.getElementById(id);\n"
    "function show(cls, text) {\n"
    "  const li = document.createElement(\"li\");\n"
    "  li.className = cls;\n"
    "  li.textContent = text;\n"
    "  $(\"log\").prepend(li);\n"
    "}\n"
    "const url = new URL(\"echo\", location.href);\n"
    "url.protocol = url.protocol === \"https:\" ? \"wss:\" : \"ws:\";\n"
    "const ws = new WebSocket(url);\n"
    "ws.onopen = () => {\n"
    "  $(\"status\").textContent = \"connected to \" + url +\n"
    "    (ws.extensions ? \" with \" + ws.extensions : \"\");\n"
    "  $(\"send\").disabled = false;\n"
    "};\n"
    "ws.onmessage = (e) => show(\"echo\", \"\\u2190 \" + e.data);\n"
    "ws.onclose = (e) => {\n"
    "  $(\"status\").textContent = \"closed: \" + e.code + \" \" + e.reason;\n"
    "  $(\"send\").disabled = true;\n"
    "};\n"
    "$(\"form\").onsubmit = (e) => {\n"
    "  e.preventDefault();\n"
    "  ws.send($(\"text\").value);\n"
    "  show(\"sent\", \"\\u2192 \" + $(\"text\").value);\n"
    "  $(\"text\").value = \"\";\n"
    "};\n"
    "</script>\n";

/* GET /ws/ -> the page */
static int page(sq_req *r)
{
    sq_set_header(r, "Content-Type", "text/html; charset=utf-8");
    sq_write(r, page_html, sizeof(page_html) - 1);
    return SQ_DONE;
}

SQ_MODULE(.name = "echo", .handlers = SQ_HANDLERS(page),
          .websockets = SQ_WEBSOCKETS({"echo", NULL, message, closed, NULL}));
