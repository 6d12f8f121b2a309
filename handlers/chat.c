/*
 * chat.c - a chat room in a browser, correct across workers: the second
 * module to read, after hello.c.
 *
 *   modules:
 *     chat: { path: chat.so }
 *   routes:
 *     - { path: /chat/, methods: [GET], handler: chat:page, auth: login }
 *     - { path: /chat/chat.js, methods: [GET], handler: chat:script }
 *     - { path: "/chat/{room}", methods: [GET], handler: chat:page,
 *         auth: login }
 *     - { path: "/chat/{room}/message", methods: [POST], handler: chat:post,
 *         auth: login }
 *     - { path: "/chat/{room}/updates", subscribe: {channel: "chat.{room}"},
 *         auth: login }
 *
 * Who writes is who logged in (handlers/account.c: the signed cookie that
 * sq_current_user reads); `auth: login` sends a visitor to /login first.
 *
 * Sending is the module's: POST /chat/{room}/message with a JSON body
 * {"body": "hi"} is checked (non-blank, bounded, valid UTF-8) and
 * published with sq_publish_req to the channel chat.{room} as {"id":
 * "...", "from": "<the user>", "body": "..."}; the answer carries the
 * message's position. With security.xsrf_cookies the page's script sends
 * the _xsrf cookie back in an X-XSRFToken header. Nothing is escaped for
 * HTML here but the user's name in the page: the script shows every text
 * with textContent, so markup in a message stays text.
 *
 * Receiving needs no C at all: the subscribe route above serves the
 * channel as a long poll, as server-sent events and as a WebSocket, each
 * resuming from a position (see src/endpoint.c). Written here with
 * sq_subscribe it would be the same code again, so the module keeps to
 * what only it knows: what a valid message is.
 *
 * Every worker serves every room: a message posted to one worker reaches
 * the subscribers on all of them through the hub, and a client that comes
 * back with the last position it saw gets exactly what it missed - or,
 * when the channel no longer keeps that far back, a reload, which the page
 * owns up to. The page keeps its position in sessionStorage, so even
 * reloading it loses nothing.
 *
 * JSON in and out is jansson's (libjansson-dev): it rejects invalid UTF-8,
 * lone surrogates and NULs, and escapes what it writes.
 */
#include <squall/squall.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#define MAX_REQUEST 8192 /* bytes of JSON: enough for the two below */
#define MAX_FROM 100     /* bytes of UTF-8 */
#define MAX_BODY 2000

/* An error as JSON, for the page to show: {"error": "why"} */
static int fail(sq_req *r, int status, const char *why)
{
    json_t *err = json_pack("{s:s}", "error", why);
    char *text = err != NULL ? json_dumps(err, JSON_COMPACT) : NULL;

    sq_set_status(r, status);
    sq_set_header(r, "Content-Type", "application/json");
    if (text != NULL)
        sq_write(r, text, strlen(text));
    free(text);
    json_decref(err);
    return SQ_DONE;
}

/* Whether s has something besides white space. */
static int blank(const char *s)
{
    return s[strspn(s, " \t\r\n")] == '\0';
}

/* A text field of the request: NULL, and *why, when it is missing, blank
 * or longer than max bytes. */
static const char *field(json_t *req, const char *name, size_t max,
                         const char **why)
{
    json_t *v = json_object_get(req, name);

    if (!json_is_string(v) || blank(json_string_value(v)))
        *why = "the body must be a non-blank string";
    else if (json_string_length(v) > max)
        *why = "the body is too long";
    else
        return json_string_value(v);
    return NULL;
}

/* The message's id: 64 random bits, for clients to tell messages apart
 * without parsing positions. 0, or -1 when the kernel has no randomness. */
static int new_id(char out[17])
{
    unsigned long long v;

    if (getrandom(&v, sizeof(v), GRND_NONBLOCK) != (ssize_t)sizeof(v))
        return -1;
    snprintf(out, 17, "%016llx", v);
    return 0;
}

/* sq_publish_req's outcome: the hub has the message, or an HTTP status
 * says why not. Not called when the client left first. */
static void published(sq_req *r, int status, const char *position,
                      unsigned reached, void *arg)
{
    const char *id = arg;
    json_t *ok;
    char *text;

    (void)reached;
    if (status != 0) {
        fail(r, status, "not published");
        sq_finish(r);
        return;
    }
    ok = json_pack("{s:s, s:s}", "id", id, "position", position);
    text = ok != NULL ? json_dumps(ok, JSON_COMPACT) : NULL;
    if (text == NULL) {
        fail(r, 500, "out of memory");
    } else {
        sq_set_header(r, "Content-Type", "application/json");
        sq_set_header(r, "Squall-Position", position);
        sq_write(r, text, strlen(text));
    }
    free(text);
    json_decref(ok);
    sq_finish(r);
}

static void client_gone(sq_req *r, void *arg)
{
    (void)arg;
    sq_finish(r); /* the publish goes on; its outcome is not told */
}

/* POST /chat/{room}/message {"body": "..."}, from the logged-in user */
static int post(sq_req *r)
{
    const char *type = sq_header(r, "Content-Type");
    const char *room = sq_path_arg(r, "room");
    const char *from, *body, *why = NULL;
    size_t len;
    const char *data = sq_body(r, &len);
    char *id = sq_palloc(sq_req_pool(r), 17), *channel, *msg;
    json_t *req, *out;
    int status;

    /* Only JSON: a cross-site <form> cannot send it without the browser
     * asking first (CORS), so no other site can post in a user's name. */
    if (type == NULL || strncasecmp(type, "application/json", 16) != 0)
        return fail(r, 415, "send application/json");
    if (len > MAX_REQUEST)
        return fail(r, 413, "too long");
    if ((from = sq_current_user(r)) == NULL)
        return fail(r, 403, "log in first");
    if (strlen(from) > MAX_FROM || blank(from))
        return fail(r, 400, "your name is blank or over 100 bytes");
    if ((req = json_loadb(data, len, JSON_REJECT_DUPLICATES, NULL)) == NULL)
        return fail(r, 400, "not JSON, or not UTF-8");
    if ((body = field(req, "body", MAX_BODY, &why)) == NULL) {
        json_decref(req);
        return fail(r, 400, why);
    }

    if (id == NULL || new_id(id) < 0) {
        json_decref(req);
        return fail(r, 500, "no message id");
    }
    /* jansson refuses a name that is not UTF-8 (a cookie may hold any
     * bytes a Tornado application signed) */
    out = json_pack("{s:s, s:s, s:s}", "id", id, "from", from, "body", body);
    if (out == NULL) {
        json_decref(req);
        return fail(r, 400, "your name is not UTF-8");
    }
    msg = out != NULL ? json_dumps(out, JSON_COMPACT) : NULL;
    json_decref(out);
    json_decref(req);
    if (msg == NULL)
        return fail(r, 500, "out of memory");

    /* the hub copies the message: msg is ours to free at once */
    channel = sq_psprintf(sq_req_pool(r), "chat.%s", room);
    status = channel == NULL ? 500
             : sq_publish_req(r, channel, msg, strlen(msg), published, id);
    free(msg);
    if (status != 0)
        return fail(r, status, status == 400 ? "bad room name"
                                             : "cannot publish now");
    sq_on_close(r, client_gone, NULL);
    return SQ_ASYNC;
}

/* The page and its script. The script is a file of its own so that the
 * page can forbid inline scripts (Content-Security-Policy): should a
 * message ever reach the DOM as markup, it still could not run. */
static const char page_head[] =
    "<!doctype html>\n"
    "<html lang='en'>\n"
    "<meta charset='utf-8'>\n"
    "<meta name='viewport' content='width=device-width'>\n"
    "<title>squall chat</title>\n"
    "<style>\n"
    "body { font: 16px system-ui, sans-serif; max-width: 40em;"
    " margin: 2em auto; padding: 0 1em }\n"
    "#messages { list-style: none; padding: 0; white-space: pre-wrap;"
    " overflow-wrap: anywhere }\n"
    "#messages li { margin: .3em 0 }\n"
    ".notice { color: #a60; font-style: italic }\n"
    "#status, #error { color: #555; font-size: 90% }\n"
    "#error { color: #b00 }\n"
    "</style>\n"
    "<h1>Room <span id='room'></span></h1>\n";

/* then: <p>You are <b id='me'>NAME</b> ... */

static const char page_tail[] =
    "<p id='status'>connecting&hellip;</p>\n"
    "<p>Receive by <a href='?mode=poll'>long polling</a>,"
    " <a href='?mode=ws'>WebSocket</a> or"
    " <a href='?mode=sse'>server-sent events</a>.</p>\n"
    "<ul id='messages'></ul>\n"
    "<form id='form'>\n"
    "<input id='text' autocomplete='off' autofocus size='40'"
    " maxlength='500' placeholder='a message' required>\n"
    "<button id='send'>Send</button>\n"
    "</form>\n"
    "<p id='error'></p>\n"
    "<script src='chat.js'></script>\n";

static const char script_js[] =
    "'use strict';\n"
    "// The chat page of handlers/chat.c: sends with POST .../message and\n"
    "// receives from .../updates, resuming from the last position seen.\n"
    "const $ = (id) => document.getElementById(id);\n"
    "const asked = new URLSearchParams(location.search).get('mode');\n"
    "const mode = ['poll', 'ws', 'sse'].includes(asked) ? asked : 'poll';\n"
    "// /chat/ is the lobby, /chat/ROOM a room; URLs are relative to the\n"
    "// page, so it works under any prefix (behind nginx too)\n"
    "const room = decodeURIComponent(location.pathname.replace(/.*\\//, ''))"
    " || 'lobby';\n"
    "const base = new URL(encodeURIComponent(room) + '/', location.href);\n"
    "$('room').textContent = room;\n"
    "\n"
    "// The last position seen, kept across reloads of the page (the tab's\n"
    "// sessionStorage): coming back with it, the server sends what was\n"
    "// missed meanwhile, in order, nothing twice.\n"
    "const key = 'squall-chat-position:' + room;\n"
    "let position = sessionStorage.getItem(key);\n"
    "function advance(p) {\n"
    "  if (!p) return;\n"
    "  position = p;\n"
    "  sessionStorage.setItem(key, p);\n"
    "}\n"
    "\n"
    "function status(text) { $('status').textContent = mode + ': ' + text; }\n"
    "function add(li) {\n"
    "  $('messages').append(li);\n"
    "  li.scrollIntoView({block: 'nearest'});\n"
    "}\n"
    "function notice(text) {\n"
    "  const li = document.createElement('li');\n"
    "  li.className = 'notice';\n"
    "  li.textContent = text;\n"
    "  add(li);\n"
    "}\n"
    "// Every text goes in with textContent: never parsed as HTML.\n"
    "function show(data) {\n"
    "  let m;\n"
    "  try { m = JSON.parse(data); } catch (e) { return notice('(unreadable)'); }\n"
    "  const li = document.createElement('li');\n"
    "  const from = document.createElement('b');\n"
    "  const body = document.createElement('span');\n"
    "  li.className = 'message';\n"
    "  from.textContent = m.from;\n"
    "  body.textContent = m.body;\n"
    "  li.append(from, ': ', body);\n"
    "  add(li);\n"
    "}\n"
    "// The server no longer keeps what came after our position: say so,\n"
    "// and go on from where it says.\n"
    "function reload(p) {\n"
    "  advance(p);\n"
    "  notice('Some messages were missed: the server no longer keeps them.'"
    " +\n"
    "    ' New ones follow.');\n"
    "}\n"
    "function updates(protocol) {\n"
    "  const url = new URL('updates', base);\n"
    "  if (protocol) url.protocol = protocol;\n"
    "  if (position) url.searchParams.set('position', position);\n"
    "  return url;\n"
    "}\n"
    "let delay = 0;\n"
    "function backoff() { return delay = Math.min(2 * delay || 500, 10000); }\n"
    "const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));\n"
    "\n"
    "// Long polling: one message per answer; 205 is a reload, 204 a\n"
    "// timeout. Every answer says where to continue (Squall-Position).\n"
    "async function poll() {\n"
    "  for (;;) {\n"
    "    let resp;\n"
    "    try {\n"
    "      status('waiting for messages');\n"
    "      resp = await fetch(updates(), {cache: 'no-store'});\n"
    "    } catch (e) {\n"
    "      status('offline, retrying');\n"
    "      await sleep(backoff());\n"
    "      continue;\n"
    "    }\n"
    "    const p = resp.headers.get('Squall-Position');\n"
    "    if (resp.status === 200) {\n"
    "      show(await resp.text());\n"
    "      advance(p);\n"
    "    } else if (resp.status === 205) {\n"
    "      reload(p);\n"
    "    } else if (resp.status === 204) {\n"
    "      advance(p);\n"
    "    } else if (resp.status === 400 && position) {\n"
    "      position = null; // not a position the server knows: start anew\n"
    "      sessionStorage.removeItem(key);\n"
    "    } else {\n"
    "      status('error ' + resp.status + ', retrying');\n"
    "      await sleep(backoff());\n"
    "      continue;\n"
    "    }\n"
    "    delay = 0;\n"
    "  }\n"
    "}\n"
    "\n"
    "// WebSocket with the squall.v1 subprotocol: each message is\n"
    "// POSITION, a newline, the message. Close code 4000 is a reload.\n"
    "function websocket() {\n"
    "  const ws = new WebSocket(updates(location.protocol === 'https:'"
    " ? 'wss:' : 'ws:'),\n"
    "                           'squall.v1');\n"
    "  ws.onopen = () => { status('connected'); delay = 0; };\n"
    "  ws.onmessage = (e) => {\n"
    "    const nl = e.data.indexOf('\\n');\n"
    "    show(e.data.slice(nl + 1));\n"
    "    advance(e.data.slice(0, nl));\n"
    "  };\n"
    "  ws.onclose = (e) => {\n"
    "    if (e.code === 4000) {\n"
    "      reload(e.reason.replace(/^reload /, ''));\n"
    "      websocket();\n"
    "      return;\n"
    "    }\n"
    "    status('disconnected, reconnecting');\n"
    "    setTimeout(websocket, backoff());\n"
    "  };\n"
    "}\n"
    "\n"
    "// Server-sent events: the browser reconnects by itself and sends the\n"
    "// last event id, which is the position.\n"
    "function sse() {\n"
    "  const es = new EventSource(updates());\n"
    "  es.onopen = () => status('connected');\n"
    "  es.onmessage = (e) => { show(e.data); advance(e.lastEventId); };\n"
    "  es.addEventListener('reload', (e) => reload(e.lastEventId));\n"
    "  es.onerror = () => {\n"
    "    status('disconnected, reconnecting');\n"
    "    if (es.readyState === EventSource.CLOSED) { // given up: start again\n"
    "      es.close();\n"
    "      setTimeout(sse, backoff());\n"
    "    }\n"
    "  };\n"
    "}\n"
    "\n"
    "$('form').onsubmit = async (e) => {\n"
    "  e.preventDefault();\n"
    "  $('error').textContent = '';\n"
    "  // the XSRF token squalld checks on a POST (security.xsrf_cookies)\n"
    "  const xsrf = document.cookie.match(/(?:^|; )_xsrf=([^;]*)/);\n"
    "  const headers = {'Content-Type': 'application/json'};\n"
    "  if (xsrf) headers['X-XSRFToken'] = xsrf[1];\n"
    "  try {\n"
    "    const resp = await fetch(new URL('message', base), {\n"
    "      method: 'POST',\n"
    "      headers,\n"
    "      body: JSON.stringify({body: $('text').value}),\n"
    "    });\n"
    "    if (!resp.ok) {\n"
    "      const answer = await resp.json().catch(() => ({}));\n"
    "      throw new Error(answer.error || 'error ' + resp.status);\n"
    "    }\n"
    "    $('text').value = ''; // it shows once it comes back from the room\n"
    "  } catch (err) {\n"
    "    $('error').textContent = 'Not sent: ' + err.message;\n"
    "  }\n"
    "};\n"
    "\n"
    "({poll, ws: websocket, sse})[mode]();\n";

static void serve(sq_req *r, const char *type, const char *text, size_t len)
{
    sq_set_header(r, "Content-Type", type);
    sq_set_header(r, "Cache-Control", "no-cache");
    sq_write(r, text, len);
}

/* The user's name with &, <, >, " and ' escaped, written to r. */
static void write_html(sq_req *r, const char *s)
{
    for (; *s != '\0'; s++) {
        const char *e = *s == '&'    ? "&amp;"
                        : *s == '<'  ? "&lt;"
                        : *s == '>'  ? "&gt;"
                        : *s == '"'  ? "&quot;"
                        : *s == '\'' ? "&#39;"
                                     : NULL;
        if (e != NULL)
            sq_write(r, e, strlen(e));
        else
            sq_write(r, s, 1);
    }
}

/* GET /chat/ and /chat/{room} -> the page, which names the user; the
 * script reads the room from the URL. The XSRF cookie is set here, for
 * the script to send back. */
static int page(sq_req *r)
{
    const char *user = sq_current_user(r);

    if (user == NULL)
        return fail(r, 403, "log in first");
    (void)sq_xsrf_token(r);
    sq_set_header(r, "Content-Security-Policy",
                  "script-src 'self'; object-src 'none'; base-uri 'none'");
    serve(r, "text/html; charset=utf-8", page_head, sizeof(page_head) - 1);
    sq_write(r, "<p>You are <b id='me'>", 22);
    write_html(r, user);
    sq_printf(r, "</b> (<a href='/logout'>log out</a>).</p>\n");
    sq_write(r, page_tail, sizeof(page_tail) - 1);
    return SQ_DONE;
}

/* GET /chat/chat.js */
static int script(sq_req *r)
{
    serve(r, "text/javascript; charset=utf-8", script_js,
          sizeof(script_js) - 1);
    return SQ_DONE;
}

SQ_MODULE(.name = "chat", .handlers = SQ_HANDLERS(page, script, post));
