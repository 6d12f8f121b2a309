/*
 * test_client_ws.c - the real squalld with the shipped echo module and the
 * WebSocket test module (tests/modules/wsmod.c), driven through the
 * WebSocket client of the test client library (squall/test.h): echo of
 * text, binary, large and compressed messages, subprotocols, refusals
 * (403, 426), hostile frames (1002), oversized messages (1009), a close
 * the module starts (4001), server pings, the close handshake, and
 * deadlines.
 *
 * Needs $SQUALLD, $SQUALL_MODULE_DIR (where "echo.so" is found) and
 * $SQUALL_TEST_MODULES (where wsmod.so is); `make check` sets them.
 */
#include <squall/test.h>

#include <assert.h>
#include <check.h>
#include <err.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_MESSAGE (2u << 20) /* websocket.max_message_size below */

static sq_test_server *srv;

static void start_ws(void)
{
    const char *dir = getenv("SQUALL_TEST_MODULES");
    char yaml[2048], err[4096];

    snprintf(yaml, sizeof yaml,
             "server: {workers: 2, shutdown_timeout: 5s}\n"
             "log: {level: info, error: stderr}\n"
             "websocket: {max_message_size: 2m}\n"
             "modules:\n"
             "  echo: {path: echo.so}\n"
             "  wsmod: {path: \"%s/wsmod.so\"}\n"
             "routes:\n"
             "  - {path: /ws/echo, websocket: \"echo:echo\", deflate: true}\n"
             "  - {path: /ws/plain, websocket: \"echo:echo\"}\n"
             "  - {path: /ws/good, websocket: \"echo:echo\",\n"
             "     origins: [\"http://good.example\"]}\n"
             "  - {path: /ws/proto, websocket: \"echo:echo\",\n"
             "     subprotocols: [chat.v2, chat.v1]}\n"
             "  - {path: /ws/app, websocket: \"wsmod:app\"}\n",
             dir != NULL ? dir : "tests/modules");
    srv = sq_test_start(yaml, err, sizeof err);
    ck_assert_msg(srv != NULL, "sq_test_start: %s", err);
}

/* A crash or a sanitizer report in squalld during the test fails it. */
static void stop_ws(void)
{
    int status = srv != NULL ? sq_test_stop(srv) : 0;

    srv = NULL;
    ck_assert_msg(status == 0, "squalld did not stop cleanly: %d", status);
}

static double seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static sq_test_ws *connect_ok(const char *path, const sq_test_ws_options *o)
{
    sq_test_ws *ws = sq_test_ws_connect(srv, path, o);

    ck_assert_msg(ws != NULL, "%s", sq_test_error(srv));
    return ws;
}

/* The next message, which must be of kind k. */
static void recv_ok(sq_test_ws *ws, sq_test_ws_msg *m, enum sq_test_ws_kind k)
{
    enum sq_test_ws_kind got = sq_test_ws_recv(ws, m, SQ_TEST_DEFAULT);

    ck_assert_msg(got == k, "got kind %d, not %d: %s", got, k,
                  sq_test_ws_error(ws));
}

static void recv_text(sq_test_ws *ws, const char *want)
{
    sq_test_ws_msg m;

    recv_ok(ws, &m, SQ_TEST_WS_TEXT);
    ck_assert_str_eq(m.data, want);
    ck_assert_uint_eq(m.len, strlen(want));
}

static void send_ok(sq_test_ws *ws, enum sq_test_ws_kind k, const void *data,
                    size_t len)
{
    ck_assert_msg(sq_test_ws_send(ws, k, data, len) == 0, "%s",
                  sq_test_ws_error(ws));
}

static void close_ok(sq_test_ws *ws, int code)
{
    int got = sq_test_ws_close(ws, code, "bye", SQ_TEST_DEFAULT);

    ck_assert_msg(got == code, "close: %d: %s", got, sq_test_ws_error(ws));
    sq_test_ws_free(ws);
}

/* Bytes that deflate does not shrink much. */
static unsigned char *noise(size_t len)
{
    unsigned char *p = malloc(len);
    uint32_t x = 2463534242u;
    size_t i;

    ck_assert_ptr_nonnull(p);
    for (i = 0; i < len; i++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        p[i] = (unsigned char)x;
    }
    return p;
}

/* ---------------------------------------------------------------------
 * The README's example, as it is printed there
 * ------------------------------------------------------------------- */

/* The body of README.md's main(), as printed there: start, talk, close,
 * stop. */
static int readme_example(void)
{
    char err[1024];
    sq_test_server *s = sq_test_start(
        "modules: {echo: {path: echo.so}}\n"
        "routes: [{path: /ws/echo, websocket: echo:echo, deflate: true}]\n",
        err, sizeof err);
    if (s == NULL)
        errx(1, "%s", err);

    /* offer permessage-deflate (NULL options: a plain handshake) */
    sq_test_ws_options opt = {.deflate = 1};
    sq_test_ws *ws = sq_test_ws_connect(s, "/ws/echo", &opt);
    if (ws == NULL)
        errx(1, "%s", sq_test_error(s)); /* "...: handshake refused: 403 ..." */

    sq_test_ws_send_text(ws, "hello");
    sq_test_ws_msg m;
    if (sq_test_ws_recv(ws, &m, SQ_TEST_DEFAULT) != SQ_TEST_WS_TEXT)
        errx(1, "%s", sq_test_ws_error(ws));
    assert(m.len == 5 && strcmp(m.data, "hello") == 0);
    assert(m.compressed); /* the server deflated its frame (RSV1) */

    /* the close handshake: squall answers with the same code */
    assert(sq_test_ws_close(ws, 1000, "bye", SQ_TEST_DEFAULT) == 1000);
    sq_test_ws_free(ws);
    return sq_test_stop(s) == 0 ? 0 : 1; /* exit status 0: a clean stop */
}

START_TEST(readme_example_runs)
{
    ck_assert_int_eq(readme_example(), 0);
}
END_TEST

/* ---------------------------------------------------------------------
 * Messages
 * ------------------------------------------------------------------- */

START_TEST(text_and_binary_echo)
{
    static const char bin[] = "\x00\x01\xff\x80 binary\r\n";
    sq_test_ws *ws = connect_ok("/ws/plain", NULL);
    sq_test_ws_msg m;

    ck_assert_int_eq(sq_test_ws_deflate(ws), 0);
    ck_assert_ptr_null(sq_test_ws_protocol(ws));
    ck_assert_int_eq(sq_test_ws_send_text(ws, "h\xc3\xa9llo, w\xc3\xb6rld"), 0);
    recv_text(ws, "h\xc3\xa9llo, w\xc3\xb6rld");
    ck_assert_int_eq(sq_test_ws_send_binary(ws, bin, sizeof bin - 1), 0);
    recv_ok(ws, &m, SQ_TEST_WS_BINARY);
    ck_assert_uint_eq(m.len, sizeof bin - 1);
    ck_assert_int_eq(memcmp(m.data, bin, m.len), 0);
    ck_assert_int_eq(m.compressed, 0);
    ck_assert_int_eq(m.frames, 1);
    send_ok(ws, SQ_TEST_WS_TEXT, "", 0); /* empty messages too */
    recv_text(ws, "");
    close_ok(ws, 1000);
}
END_TEST

/* 1 MiB each way, plain and compressed, whole and in 64 KiB fragments. */
START_TEST(large_message_echo)
{
    static const char *const paths[] = {"/ws/plain", "/ws/echo"};
    size_t len = 1u << 20, frag;
    unsigned char *data = noise(len);
    sq_test_ws_options opt = {.deflate = 1};
    sq_test_ws *ws;
    sq_test_ws_msg m;
    int i;

    for (i = 0; i < 4; i++) {
        frag = i < 2 ? 0 : 65536;
        opt.fragment_size = frag;
        ws = connect_ok(paths[i % 2], &opt);
        ck_assert_int_eq(sq_test_ws_deflate(ws), i % 2);
        send_ok(ws, SQ_TEST_WS_BINARY, data, len);
        recv_ok(ws, &m, SQ_TEST_WS_BINARY);
        ck_assert_uint_eq(m.len, len);
        ck_assert_msg(memcmp(m.data, data, len) == 0, "echo differs (%d)", i);
        ck_assert_int_eq(m.compressed, i % 2);
        close_ok(ws, 1000);
    }
    free(data);
}
END_TEST

/* ---------------------------------------------------------------------
 * permessage-deflate
 * ------------------------------------------------------------------- */

START_TEST(deflate_agreed_and_used)
{
    static const char *const exts[] = {"permessage-deflate", NULL};
    sq_test_response *r = NULL;
    sq_test_ws_options opt = {.deflate = 1, .response = &r};
    sq_test_ws *ws = connect_ok("/ws/echo", &opt);
    char text[4096];
    sq_test_ws_msg m;
    int i;

    ck_assert_int_eq(sq_test_ws_deflate(ws), 1);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(r->status, 101);
    ck_assert_pstr_eq(sq_test_header(r, "Sec-WebSocket-Extensions"), exts[0]);
    sq_test_response_free(r);
    memset(text, 'a', sizeof text - 1);
    text[sizeof text - 1] = '\0';
    for (i = 0; i < 3; i++) { /* context takeover both ways */
        ck_assert_int_eq(sq_test_ws_send_text(ws, text), 0);
        recv_ok(ws, &m, SQ_TEST_WS_TEXT);
        ck_assert_str_eq(m.data, text);
        ck_assert_int_eq(m.compressed, 1);
    }
    close_ok(ws, 1000);
}
END_TEST

/* Every parameter offered, the smallest windows (8: compressed with 9),
 * fragments of compressed data, and messages sent uncompressed. */
START_TEST(deflate_parameters)
{
    sq_test_response *r = NULL;
    sq_test_ws_options opt = {
        .deflate = 1,
        .client_no_context_takeover = 1,
        .server_no_context_takeover = 1,
        .server_max_window_bits = 8,
        .client_max_window_bits = 8,
        .fragment_size = 7,
        .response = &r,
    };
    size_t len = 100000;
    unsigned char *data = noise(len);
    const char *ext;
    sq_test_ws *ws = connect_ok("/ws/echo", &opt);
    sq_test_ws_msg m;
    int i;

    ext = sq_test_header(r, "Sec-WebSocket-Extensions");
    ck_assert_ptr_nonnull(ext);
    ck_assert_msg(strstr(ext, "server_no_context_takeover") != NULL, "%s", ext);
    ck_assert_msg(strstr(ext, "server_max_window_bits=8") != NULL, "%s", ext);
    sq_test_response_free(r);
    for (i = 0; i < 3; i++) {
        memset(data, 'a' + i, 1000); /* compressible, at least in part */
        send_ok(ws, SQ_TEST_WS_BINARY, data, len);
        recv_ok(ws, &m, SQ_TEST_WS_BINARY);
        ck_assert_uint_eq(m.len, len);
        ck_assert_int_eq(memcmp(m.data, data, len), 0);
        ck_assert_int_eq(m.compressed, 1);
    }
    close_ok(ws, 1000);

    opt.no_compress = 1;
    opt.response = NULL;
    ws = connect_ok("/ws/echo", &opt);
    ck_assert_int_eq(sq_test_ws_send_text(ws, "plain"), 0);
    recv_text(ws, "plain");
    close_ok(ws, 1000);
    free(data);
}
END_TEST

/* A route without deflate: true declines the offer. */
START_TEST(deflate_declined)
{
    sq_test_ws_options opt = {.deflate = 1};
    sq_test_ws *ws = connect_ok("/ws/plain", &opt);
    sq_test_ws_msg m;

    ck_assert_int_eq(sq_test_ws_deflate(ws), 0);
    ck_assert_int_eq(sq_test_ws_send_text(ws, "x"), 0);
    recv_ok(ws, &m, SQ_TEST_WS_TEXT);
    ck_assert_int_eq(m.compressed, 0);
    close_ok(ws, 1000);
}
END_TEST

/* ---------------------------------------------------------------------
 * The handshake
 * ------------------------------------------------------------------- */

START_TEST(subprotocol_chosen)
{
    static const char *const offer[] = {"chat.v3", "chat.v1", NULL};
    sq_test_ws_options opt = {.subprotocols = offer};
    sq_test_ws *ws = connect_ok("/ws/proto", &opt);

    ck_assert_pstr_eq(sq_test_ws_protocol(ws), "chat.v1");
    close_ok(ws, 1000);

    /* wsmod chooses from what is offered and says hello with it */
    ws = connect_ok("/ws/app?proto=chat.v3", &opt);
    ck_assert_pstr_eq(sq_test_ws_protocol(ws), "chat.v3");
    recv_text(ws, "hello chat.v3");
    close_ok(ws, 1000);
}
END_TEST

START_TEST(refused_origin_is_403)
{
    static const char *const evil[] = {"Origin: http://evil.example", NULL};
    static const char *const good[] = {"Origin: http://good.example", NULL};
    sq_test_response *r = NULL;
    sq_test_ws_options opt = {.headers = evil, .response = &r};
    sq_test_ws *ws = sq_test_ws_connect(srv, "/ws/good", &opt);

    ck_assert_ptr_null(ws);
    ck_assert_msg(strstr(sq_test_error(srv), "refused: 403") != NULL, "%s",
                  sq_test_error(srv));
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(r->status, 403);
    sq_test_response_free(r);

    opt.headers = good;
    opt.response = NULL;
    ws = connect_ok("/ws/good", &opt);
    close_ok(ws, 1000);
}
END_TEST

START_TEST(module_refuses_in_open)
{
    sq_test_ws *ws = sq_test_ws_connect(srv, "/ws/app?refuse=403", NULL);

    ck_assert_ptr_null(ws);
    ck_assert_msg(strstr(sq_test_error(srv), "refused: 403") != NULL, "%s",
                  sq_test_error(srv));
    ws = sq_test_ws_connect(srv, "/ws/app?refuse=500", NULL);
    ck_assert_ptr_null(ws);
    ck_assert_msg(strstr(sq_test_error(srv), "refused: 500") != NULL, "%s",
                  sq_test_error(srv));
}
END_TEST

/* A header of the caller's replaces the library's own. */
START_TEST(other_version_is_426)
{
    static const char *const v8[] = {"Sec-WebSocket-Version: 8", NULL};
    sq_test_response *r = NULL;
    sq_test_ws_options opt = {.headers = v8, .response = &r};

    ck_assert_ptr_null(sq_test_ws_connect(srv, "/ws/echo", &opt));
    ck_assert_msg(strstr(sq_test_error(srv), "refused: 426") != NULL, "%s",
                  sq_test_error(srv));
    ck_assert_int_eq(r->status, 426);
    ck_assert_pstr_eq(sq_test_header(r, "Sec-WebSocket-Version"), "13");
    sq_test_response_free(r);
}
END_TEST

/* ---------------------------------------------------------------------
 * Closes
 * ------------------------------------------------------------------- */

/* An unmasked client frame, sent raw: the server fails the connection. */
START_TEST(unmasked_frame_gets_1002)
{
    sq_test_ws *ws = connect_ok("/ws/echo", NULL);
    sq_test_ws_msg m;

    ck_assert_int_eq(sq_test_ws_send_raw(ws, "\x81\x02hi", 4), 0);
    recv_ok(ws, &m, SQ_TEST_WS_CLOSE);
    ck_assert_int_eq(m.code, 1002);
    recv_ok(ws, &m, SQ_TEST_WS_CLOSE); /* and again */
    ck_assert_int_eq(m.code, 1002);
    ck_assert_int_eq(sq_test_ws_close(ws, 1000, NULL, SQ_TEST_DEFAULT), 1002);
    sq_test_ws_free(ws);
}
END_TEST

START_TEST(oversized_message_gets_1009)
{
    size_t len = MAX_MESSAGE + 1;
    unsigned char *data = noise(len);
    sq_test_ws *ws = connect_ok("/ws/plain", NULL);
    sq_test_ws_msg m;

    send_ok(ws, SQ_TEST_WS_BINARY, data, len);
    recv_ok(ws, &m, SQ_TEST_WS_CLOSE);
    ck_assert_int_eq(m.code, 1009);
    sq_test_ws_free(ws);
    free(data);
}
END_TEST

START_TEST(module_closes_with_4001)
{
    sq_test_ws *ws = connect_ok("/ws/app", NULL);
    sq_test_ws_msg m;

    recv_text(ws, "hello -");
    ck_assert_int_eq(sq_test_ws_send_text(ws, "close"), 0);
    recv_ok(ws, &m, SQ_TEST_WS_CLOSE);
    ck_assert_int_eq(m.code, 4001);
    ck_assert_str_eq(m.reason, "asked");
    /* the handshake is over: close() only sees the TCP end */
    ck_assert_int_eq(sq_test_ws_close(ws, 1000, NULL, SQ_TEST_DEFAULT), 4001);
    sq_test_ws_free(ws);
    /* the module is told the code of our answer, which echoes its own */
    ck_assert_msg(sq_test_wait_log(srv, "wsmod: closed 4001", SQ_TEST_DEFAULT),
                  "%s", sq_test_error(srv));
}
END_TEST

/* The close handshake from our side: squalld echoes the code, and the
 * module hears it. */
START_TEST(close_handshake_echoes_the_code)
{
    sq_test_ws *ws = connect_ok("/ws/echo", NULL);
    int code = sq_test_ws_close(ws, 4000, "done", SQ_TEST_DEFAULT);

    ck_assert_msg(code == 4000, "%d: %s", code, sq_test_ws_error(ws));
    sq_test_ws_free(ws);
    ck_assert_msg(
        sq_test_wait_log(srv, "echo: closed 4000 'done'", SQ_TEST_DEFAULT),
        "%s", sq_test_error(srv));
}
END_TEST

/* A close without a code: the module is told 1005 (RFC 6455 7.1.5), and
 * squalld answers with 1000 (an answer need not echo, 5.5.1). */
START_TEST(close_without_a_code)
{
    sq_test_ws *ws = connect_ok("/ws/echo", NULL);

    ck_assert_int_eq(sq_test_ws_close(ws, 0, NULL, SQ_TEST_DEFAULT), 1000);
    sq_test_ws_free(ws);
    ck_assert_msg(sq_test_wait_log(srv, "echo: closed 1005", SQ_TEST_DEFAULT),
                  "%s", sq_test_error(srv));
}
END_TEST

START_TEST(reset_is_1006_for_the_module)
{
    sq_test_ws *ws = connect_ok("/ws/echo", NULL);

    ck_assert_int_eq(sq_test_ws_send_text(ws, "x"), 0);
    recv_text(ws, "x");
    sq_test_ws_reset(ws);
    ck_assert_msg(sq_test_wait_log(srv, "echo: closed 1006", SQ_TEST_DEFAULT),
                  "%s", sq_test_error(srv));
}
END_TEST

/* ---------------------------------------------------------------------
 * Pings, deadlines
 * ------------------------------------------------------------------- */

/* wsmod pings on "ping" and reports the pong it gets back. */
START_TEST(server_ping_is_answered)
{
    sq_test_ws *ws = connect_ok("/ws/app", NULL);
    sq_test_ws_msg m;

    recv_text(ws, "hello -");
    ck_assert_int_eq(sq_test_ws_send_text(ws, "ping"), 0);
    recv_text(ws, "pong p1");
    ck_assert_uint_eq(sq_test_ws_pings(ws), 1);
    /* and ours: squalld answers with a pong, reported as such */
    ck_assert_int_eq(sq_test_ws_ping(ws, "mine", 4), 0);
    recv_ok(ws, &m, SQ_TEST_WS_PONG);
    ck_assert_str_eq(m.data, "mine");
    ck_assert_int_eq(sq_test_ws_send_text(ws, "count"), 0);
    recv_text(ws, "count 2");
    close_ok(ws, 1000);
}
END_TEST

START_TEST(recv_timeout_is_bounded)
{
    sq_test_ws *ws = connect_ok("/ws/echo", NULL);
    sq_test_ws_msg m;
    double t0 = seconds(), took;

    ck_assert_int_eq(sq_test_ws_recv(ws, &m, 300), SQ_TEST_WS_TIMEOUT);
    took = seconds() - t0;
    ck_assert_msg(took >= 0.29 && took < 2.0, "took %.3f s", took);
    ck_assert_msg(strstr(sq_test_ws_error(ws), "timed out after 0.3 s") != NULL,
                  "%s", sq_test_ws_error(ws));
    /* nothing lost: the connection goes on */
    ck_assert_int_eq(sq_test_ws_send_text(ws, "still here"), 0);
    recv_text(ws, "still here");
    close_ok(ws, 1000);
}
END_TEST

static Suite *client_ws_suite(void)
{
    Suite *s = suite_create("client_ws");
    TCase *readme = tcase_create("readme");
    TCase *msg = tcase_create("messages");
    TCase *hs = tcase_create("handshake");
    TCase *cl = tcase_create("closing");

    tcase_add_test(readme, readme_example_runs);
    suite_add_tcase(s, readme);

    tcase_add_checked_fixture(msg, start_ws, stop_ws);
    tcase_add_test(msg, text_and_binary_echo);
    tcase_add_test(msg, large_message_echo);
    tcase_add_test(msg, deflate_agreed_and_used);
    tcase_add_test(msg, deflate_parameters);
    tcase_add_test(msg, deflate_declined);
    tcase_add_test(msg, server_ping_is_answered);
    tcase_add_test(msg, recv_timeout_is_bounded);
    suite_add_tcase(s, msg);

    tcase_add_checked_fixture(hs, start_ws, stop_ws);
    tcase_add_test(hs, subprotocol_chosen);
    tcase_add_test(hs, refused_origin_is_403);
    tcase_add_test(hs, module_refuses_in_open);
    tcase_add_test(hs, other_version_is_426);
    suite_add_tcase(s, hs);

    tcase_add_checked_fixture(cl, start_ws, stop_ws);
    tcase_add_test(cl, unmasked_frame_gets_1002);
    tcase_add_test(cl, oversized_message_gets_1009);
    tcase_add_test(cl, module_closes_with_4001);
    tcase_add_test(cl, close_handshake_echoes_the_code);
    tcase_add_test(cl, close_without_a_code);
    tcase_add_test(cl, reset_is_1006_for_the_module);
    suite_add_tcase(s, cl);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(client_ws_suite());
    int failed;

    srunner_run_all(sr, CK_ENV); /* CK_VERBOSITY=verbose lists tests */
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
