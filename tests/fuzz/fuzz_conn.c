/*
 * fuzz_conn.c - libFuzzer target for a whole connection: the transport
 * (src/conn.c), HTTP/1 (src/http1.c), the request lifecycle and the
 * serialiser, with handlers that answer at once, later, streaming, or
 * fail, and a WebSocket echo at /ws (deflate on) whose close callback must
 * run exactly once per accepted connection. Any bytes, delivered in any
 * pieces, with the client closing or
 * resetting at any point, must end in responses or a closed connection:
 * never a crash, a leak, a use after free or a hang.
 *
 * Input layout: byte 0 picks the client's way of leaving (0: stays, 1:
 * FIN, 2: close); byte 1 the piece size; the rest is what the client
 * sends, a piece per turn of the event loop.
 *
 * tests/fuzz/run.sh builds it with every file of src/ but main.c.
 */
#include "internal.h"

#include <event2/event.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct worker w;
static struct config cfg;
static struct route_conf rconf[5];
static struct route routes[5];
static int ws_opened, ws_closed;

static int h_sync(sq_req *r)
{
    size_t len;
    const char *body = sq_body(r, &len);

    sq_set_header(r, "X-Test", "sync");
    return sq_write(r, body, len) < 0 ? SQ_ERROR : SQ_DONE;
}

struct later {
    sq_req *r;
    sq_timer *t;
};

static void later_fire(void *arg)
{
    struct later *l = arg;

    sq_write(l->r, "later", 5);
    sq_finish(l->r);
}

static void later_gone(sq_req *r, void *arg)
{
    struct later *l = arg;

    sq_timer_cancel(l->t);
    sq_finish(r);
}

/* answers from a timer; with ?flush it streams a first chunk now */
static int h_async(sq_req *r)
{
    struct later *l = sq_palloc(sq_req_pool(r), sizeof(*l));

    if (l == NULL)
        return SQ_ERROR;
    l->r = r;
    if (sq_query_arg(r, "flush") != NULL) {
        sq_write(r, "first", 5);
        sq_flush(r);
    }
    if ((l->t = sq_call_later(0, later_fire, l)) == NULL)
        return SQ_ERROR;
    sq_on_close(r, later_gone, l);
    return SQ_ASYNC;
}

static int h_fail(sq_req *r)
{
    if (sq_query_arg(r, "after-flush") != NULL) {
        sq_write(r, "x", 1);
        sq_flush(r);
    }
    return SQ_ERROR;
}

static int h_status(sq_req *r)
{
    const char *code = sq_query_arg(r, "code");

    if (code != NULL)
        sq_set_status(r, atoi(code));
    if (sq_query_arg(r, "redirect") != NULL)
        sq_redirect(r, "/elsewhere", 0);
    return SQ_DONE;
}

static int ws_open(sq_ws *ws, sq_req *r)
{
    (void)r;
    ws_opened++;
    sq_ws_set_data(ws, &ws_opened);
    return sq_ws_send_text(ws, "hi", 2) < 0 ? SQ_ERROR : 0;
}

/* echoes; "close" closes from the module, "ping" pings */
static void ws_message(sq_ws *ws, int binary, const void *data, size_t len)
{
    if (len == 5 && memcmp(data, "close", 5) == 0)
        sq_ws_close(ws, 4000, "bye");
    else if (len == 4 && memcmp(data, "ping", 4) == 0)
        sq_ws_ping(ws, data, len);
    else if (binary)
        sq_ws_send_binary(ws, data, len);
    else
        sq_ws_send_text(ws, data, len);
}

static void ws_close(sq_ws *ws, int code, const char *reason)
{
    if (sq_ws_data(ws) != &ws_opened || code < 1000 || reason == NULL)
        abort();
    ws_closed++;
}

static const sq_ws_def ws_echo = {"echo", ws_open, ws_message, ws_close, NULL};

static void init_once(void)
{
    static const char *const paths[] = {"/sync", "/async", "/fail",
                                        "/status/{code}", "/ws"};
    static sq_handler_fn fns[] = {h_sync, h_async, h_fail, h_status, NULL};
    char err[256];

    if (w.base != NULL)
        return;
    cfg.limits = (struct limits_conf){.max_header_size = 4096,
                                      .max_uri_size = 1024,
                                      .max_body_size = 16384,
                                      .header_timeout_ms = 1000,
                                      .body_timeout_ms = 1000,
                                      .idle_timeout_ms = 1000,
                                      .max_connections = 16,
                                      .body_min_rate = 1,
                                      .body_rate_grace_ms = 1000};
    cfg.ws = (struct ws_conf){.max_message_size = 4096,
                              .max_send_buffer = 8192,
                              .ping_interval_ms = 0,
                              .ping_timeout_ms = 1000,
                              .close_timeout_ms = 1000};
    w.cfg = &cfg;
    w.base = event_base_new();
    w.router = router_new();
    if (w.base == NULL || w.router == NULL)
        abort();
    worker = &w;
    for (size_t i = 0; i < ARRAY_LEN(routes); i++) {
        rconf[i].path = (char *)paths[i];
        routes[i] = (struct route){.conf = &rconf[i],
                                   .kind = ROUTE_HANDLER,
                                   .fn = fns[i]};
        if (fns[i] == NULL) {
            rconf[i].websocket = 1;
            rconf[i].deflate =
                (struct wsdeflate_policy)WSDEFLATE_POLICY_DEFAULT;
            routes[i].kind = ROUTE_WEBSOCKET;
            routes[i].ws = &ws_echo;
        }
        if (router_add(w.router, paths[i], 0, &routes[i], err,
                       sizeof(err)) < 0)
            abort();
    }
    /* the fuzzer's unix peer is a trusted proxy: its X-Real-IP,
     * X-Forwarded-For and X-Forwarded-Proto are read (proxy.c) */
    if (proxy_set_add(&cfg.trusted_proxies, "unix", err, sizeof(err)) < 0)
        abort();
    proxy_setup(&cfg.trusted_proxies);
    conn_setup(w.base, &cfg.limits, NULL);
    http1_setup(w.router, &cfg.limits);
    ws_setup(w.base, &cfg.ws);
}

static void drain_client(int fd)
{
    char sink[16384];

    while (read(fd, sink, sizeof(sink)) > 0) {
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int sv[2], leave;
    size_t piece, off = 2;
    struct conn *c;

    if (size < 2)
        return 0;
    init_once();
    leave = data[0] % 3;
    piece = 1 + data[1] % 64;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) < 0)
        return 0;
    if ((c = conn_new(sv[0], NULL, 1)) == NULL || http1_start(c) < 0) {
        if (c != NULL)
            conn_close(c);
        close(sv[1]);
        return 0;
    }
    while (off < size && conn_count() > 0) {
        size_t n = size - off < piece ? size - off : piece;
        if (write(sv[1], data + off, n) < 0)
            break;
        off += n;
        event_base_loop(w.base, EVLOOP_NONBLOCK);
        drain_client(sv[1]);
    }
    if (leave == 1)
        shutdown(sv[1], SHUT_WR);
    else if (leave == 2)
        close(sv[1]);
    /* a few turns for timers at 0 ms and the client leaving */
    for (int i = 0; i < 4 && conn_count() > 0; i++) {
        event_base_loop(w.base, EVLOOP_NONBLOCK);
        if (leave != 2)
            drain_client(sv[1]);
    }
    conn_close_all();
    if (ws_closed != ws_opened) /* close runs exactly once per WebSocket */
        abort();
    /* timers of requests detached by the close may still be due */
    event_base_loop(w.base, EVLOOP_NONBLOCK);
    if (leave != 2)
        close(sv[1]);
    return 0;
}
