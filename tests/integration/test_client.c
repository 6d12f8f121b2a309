/*
 * test_client.c - the real squalld with the shipped hello module and the
 * test module (tests/modules/testmod.c), driven through the test client
 * library (squall/test.h), as a module author would write their own
 * tests: one-shot fetches, then connections that are kept alive,
 * pipelined, streamed and dropped on purpose.
 *
 * Needs $SQUALLD (the squalld to run), $SQUALL_MODULE_DIR (where
 * "hello.so" is found) and $SQUALL_TEST_MODULES (where testmod.so is);
 * `make check` sets them.
 */
#include <squall/test.h>

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* hello:hello answers "Hello, world!"; hello:echo answers the request
 * body. */
static const char hello_yaml[] = "server:\n"
                                 "  workers: 2\n"
                                 "  limits: {max_body_size: 4m}\n"
                                 "modules:\n"
                                 "  hello: {path: hello.so}\n"
                                 "routes:\n"
                                 "  - {path: /, handler: hello:hello}\n"
                                 "  - {path: /echo, handler: hello:echo}\n"
                                 "  - {path: /get-only, methods: [GET], "
                                 "handler: hello:hello}\n";

static sq_test_server *srv;

static void start_hello(void)
{
    char err[4096];

    srv = sq_test_start(hello_yaml, err, sizeof err);
    ck_assert_msg(srv != NULL, "sq_test_start: %s", err);
}

/* A crash or a sanitizer report in squalld during the test fails it. */
static void stop_hello(void)
{
    int status = srv != NULL ? sq_test_stop(srv) : 0;

    srv = NULL;
    ck_assert_msg(status == 0, "squalld did not stop cleanly: %d", status);
}

static sq_test_response *fetch(const char *method, const char *path,
                               const void *body, size_t len)
{
    sq_test_response *r = sq_test_fetch(srv, method, path, NULL, body, len);

    ck_assert_msg(r != NULL, "%s", sq_test_error(srv));
    return r;
}

static void assert_echo(const void *body, size_t len)
{
    sq_test_response *r = fetch("POST", "/echo", body, len);

    ck_assert_int_eq(r->status, 200);
    ck_assert_uint_eq(r->body_len, len);
    ck_assert_msg(memcmp(r->body, body, len) == 0, "echoed body differs");
    sq_test_response_free(r);
}

/* ---------------------------------------------------------------------
 * Requests (each test gets its own squalld)
 * ------------------------------------------------------------------- */

START_TEST(get_root_is_hello_world)
{
    sq_test_response *r = fetch("GET", "/", NULL, 0);
    const char *ct = sq_test_header(r, "content-type");

    ck_assert_int_eq(r->status, 200);
    ck_assert_str_eq(r->body, "Hello, world!");
    ck_assert_uint_eq(r->body_len, 13);
    ck_assert_ptr_nonnull(ct);
    ck_assert_msg(strncmp(ct, "text/plain", 10) == 0, "Content-Type %s", ct);
    sq_test_response_free(r);
}
END_TEST

START_TEST(post_echo_returns_body)
{
    static const char body[] = "name=squall&lang=C";

    assert_echo(body, sizeof body - 1);
}
END_TEST

START_TEST(post_echo_is_binary_safe)
{
    static const char body[] = "before\0after\r\n\xff\x80 end";

    assert_echo(body, sizeof body - 1);
}
END_TEST

START_TEST(post_echo_1mb)
{
    size_t len = 1024 * 1024, i;
    unsigned char *body = malloc(len);

    ck_assert_ptr_nonnull(body);
    for (i = 0; i < len; i++)
        body[i] = (unsigned char)(i * 7 + i / 251);
    assert_echo(body, len);
    free(body);
}
END_TEST

START_TEST(unknown_path_is_404)
{
    sq_test_response *r = fetch("GET", "/no/such/path", NULL, 0);

    ck_assert_int_eq(r->status, 404);
    sq_test_response_free(r);
}
END_TEST

START_TEST(wrong_method_is_405_with_allow)
{
    sq_test_response *r = fetch("POST", "/get-only", "x", 1);
    const char *allow = sq_test_header(r, "Allow");

    ck_assert_int_eq(r->status, 405);
    ck_assert_ptr_nonnull(allow);
    ck_assert_msg(strstr(allow, "GET") != NULL, "Allow: %s", allow);
    ck_assert_msg(strstr(allow, "POST") == NULL, "Allow: %s", allow);
    sq_test_response_free(r);
}
END_TEST

/* The client fails the fetch if any byte follows the head, so a body sent
 * for HEAD cannot pass unnoticed. */
START_TEST(head_has_no_body_but_length)
{
    sq_test_response *r = fetch("HEAD", "/", NULL, 0);

    ck_assert_int_eq(r->status, 200);
    ck_assert_uint_eq(r->body_len, 0);
    ck_assert_str_eq(r->body, "");
    ck_assert_pstr_eq(sq_test_header(r, "Content-Length"), "13");
    sq_test_response_free(r);
}
END_TEST

/* ---------------------------------------------------------------------
 * Starting and stopping
 * ------------------------------------------------------------------- */

START_TEST(bad_config_reports_line_col)
{
    static const char yaml[] = "server:\n"
                               "  workers: 2\n"
                               "  no_such_option: 1\n";
    char err[4096];
    sq_test_server *s = sq_test_start(yaml, err, sizeof err);

    ck_assert_ptr_null(s);
    ck_assert_msg(strstr(err, ":3:3") != NULL, "no :3:3 in: %s", err);
    ck_assert_msg(strstr(err, "unknown key") != NULL, "no 'unknown key' in: %s",
                  err);
    ck_assert_msg(strstr(err, "no_such_option") != NULL, "key not named in: %s",
                  err);
}
END_TEST

START_TEST(missing_squalld_is_reported)
{
    const char *old = getenv("SQUALLD");
    char *saved = old ? strdup(old) : NULL;
    char err[1024];
    sq_test_server *s;

    setenv("SQUALLD", "/nonexistent/squalld", 1);
    s = sq_test_start(hello_yaml, err, sizeof err);
    if (saved != NULL)
        setenv("SQUALLD", saved, 1); /* for CK_FORK=no */
    else
        unsetenv("SQUALLD");
    free(saved);
    ck_assert_ptr_null(s);
    ck_assert_msg(strstr(err, "/nonexistent/squalld") != NULL, "%s", err);
}
END_TEST

START_TEST(stop_returns_0)
{
    char err[4096];
    sq_test_server *s = sq_test_start(hello_yaml, err, sizeof err);
    sq_test_response *r;

    ck_assert_msg(s != NULL, "sq_test_start: %s", err);
    r = sq_test_get(s, "/");
    ck_assert_msg(r != NULL, "%s", sq_test_error(s));
    sq_test_response_free(r);
    ck_assert_int_eq(sq_test_stop(s), 0);
}
END_TEST

/* ---------------------------------------------------------------------
 * Connections (each test gets its own squalld, with testmod)
 * ------------------------------------------------------------------- */

/* testmod:pid answers the worker's pid; slow, stream and drip finish
 * later, from timers (see tests/modules/testmod.c). */
static void start_testmod(void)
{
    const char *dir = getenv("SQUALL_TEST_MODULES");
    char yaml[2048], err[4096];

    snprintf(yaml, sizeof yaml,
             "server: {workers: 2, shutdown_timeout: 5s}\n"
             "log: {level: info, error: stderr}\n"
             "modules:\n"
             "  hello: {path: hello.so}\n"
             "  testmod: {path: \"%s/testmod.so\"}\n"
             "routes:\n"
             "  - {path: /, handler: hello:hello}\n"
             "  - {path: /echo, handler: hello:echo}\n"
             "  - {path: /pid, handler: testmod:pid}\n"
             "  - {path: /slow, handler: testmod:slow}\n"
             "  - {path: /stream, handler: testmod:stream}\n"
             "  - {path: /drip, handler: testmod:drip}\n"
             "  - {path: \"/args/{id}\", handler: testmod:args}\n",
             dir != NULL ? dir : "tests/modules");
    srv = sq_test_start(yaml, err, sizeof err);
    ck_assert_msg(srv != NULL, "sq_test_start: %s", err);
}

static double seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static sq_test_conn *connect_ok(void)
{
    sq_test_conn *c = sq_test_connect(srv);

    ck_assert_msg(c != NULL, "%s", sq_test_error(srv));
    return c;
}

static void send_ok(sq_test_conn *c, const char *method, const char *path,
                    const char *body)
{
    ck_assert_msg(sq_test_conn_send(c, method, path, NULL, body,
                                    body ? strlen(body) : 0) == 0,
                  "%s", sq_test_conn_error(c));
}

static sq_test_response *read_ok(sq_test_conn *c, int status)
{
    sq_test_response *r = sq_test_conn_read(c, SQ_TEST_DEFAULT);

    ck_assert_msg(r != NULL, "%s", sq_test_conn_error(c));
    ck_assert_int_eq(r->status, status);
    return r;
}

static const char *chunk_ok(sq_test_conn *c)
{
    const char *data;
    ssize_t n = sq_test_conn_read_chunk(c, &data, SQ_TEST_DEFAULT);

    ck_assert_msg(n >= 0, "%s", sq_test_conn_error(c));
    return n > 0 ? data : NULL;
}

/* Requests on one connection are served by the worker that accepted it. */
START_TEST(keep_alive_stays_on_one_worker)
{
    sq_test_conn *c = connect_ok();
    sq_test_response *r;
    char first[32] = "";
    int i;

    for (i = 0; i < 5; i++) {
        send_ok(c, "GET", "/pid", NULL);
        r = read_ok(c, 200);
        ck_assert_int_eq(r->keep_alive, 1);
        if (i == 0)
            snprintf(first, sizeof first, "%s", r->body);
        ck_assert_str_eq(r->body, first);
        sq_test_response_free(r);
    }
    ck_assert_int_gt(atoi(first), 0);
    sq_test_conn_close(c);
}
END_TEST

/* Four requests out before any answer; HEAD's response has the length of
 * GET's body and no body, which the next response's parse proves. */
START_TEST(pipelined_requests_in_order)
{
    sq_test_conn *c = connect_ok();
    sq_test_response *r;

    send_ok(c, "GET", "/args/1?q=a", NULL);
    send_ok(c, "HEAD", "/args/2?q=b", NULL);
    send_ok(c, "POST", "/echo", "payload");
    send_ok(c, "GET", "/args/4?q=d", NULL);
    r = read_ok(c, 200);
    ck_assert_str_eq(r->body, "id=1\nq=a\n");
    sq_test_response_free(r);
    r = read_ok(c, 200);
    ck_assert_str_eq(r->body, "");
    ck_assert_pstr_eq(sq_test_header(r, "Content-Length"), "9");
    sq_test_response_free(r);
    r = read_ok(c, 200);
    ck_assert_str_eq(r->body, "payload");
    sq_test_response_free(r);
    r = read_ok(c, 200);
    ck_assert_str_eq(r->body, "id=4\nq=d\n");
    sq_test_response_free(r);
    sq_test_conn_close(c);
}
END_TEST

/* The same, sent in one write: squalld parses them back to back. */
START_TEST(pipelined_in_one_write)
{
    static const char reqs[] = "GET /args/1?q=x HTTP/1.1\r\nHost: t\r\n\r\n"
                               "GET /args/2?q=y HTTP/1.1\r\nHost: t\r\n\r\n"
                               "GET /args/3?q=z HTTP/1.1\r\nHost: t\r\n\r\n";
    static const char *const want[] = {"id=1\nq=x\n", "id=2\nq=y\n",
                                       "id=3\nq=z\n"};
    sq_test_conn *c = connect_ok();
    sq_test_response *r;
    int i;

    ck_assert_int_eq(sq_test_conn_send_raw(c, reqs, sizeof reqs - 1), 0);
    for (i = 0; i < 3; i++) {
        r = read_ok(c, 200);
        ck_assert_str_eq(r->body, want[i]);
        sq_test_response_free(r);
    }
    sq_test_conn_close(c);
}
END_TEST

/* /stream flushes "first\n" at once and writes "second\n" 50 ms later:
 * two chunks, the second arriving after the first, then the end. */
START_TEST(stream_read_chunk_by_chunk)
{
    sq_test_conn *c = connect_ok();
    sq_test_response *r;
    double t0;

    send_ok(c, "GET", "/stream", NULL);
    r = sq_test_conn_read_head(c, SQ_TEST_DEFAULT);
    ck_assert_msg(r != NULL, "%s", sq_test_conn_error(c));
    ck_assert_int_eq(r->status, 200);
    ck_assert_pstr_eq(sq_test_header(r, "Transfer-Encoding"), "chunked");
    sq_test_response_free(r);
    ck_assert_pstr_eq(chunk_ok(c), "first\n");
    t0 = seconds();
    ck_assert_pstr_eq(chunk_ok(c), "second\n");
    ck_assert_msg(seconds() - t0 > 0.02, "second chunk after %.3f s",
                  seconds() - t0);
    ck_assert_ptr_null(chunk_ok(c));
    /* the framing was right: the connection carries the next request */
    send_ok(c, "GET", "/", NULL);
    r = read_ok(c, 200);
    ck_assert_str_eq(r->body, "Hello, world!");
    sq_test_response_free(r);
    sq_test_conn_close(c);
}
END_TEST

/* /drip?n=3 flushes "line N\n" every 5 ms; what follows each flush goes
 * out with the next one. */
START_TEST(drip_arrives_in_flushes)
{
    sq_test_conn *c = connect_ok();
    sq_test_response *r;
    char all[256] = "";
    const char *data;
    int chunks = 0;

    send_ok(c, "GET", "/drip?n=3", NULL);
    r = sq_test_conn_read_head(c, SQ_TEST_DEFAULT);
    ck_assert_msg(r != NULL, "%s", sq_test_conn_error(c));
    sq_test_response_free(r);
    while ((data = chunk_ok(c)) != NULL) {
        if (chunks++ == 0)
            ck_assert_str_eq(data, "line 3\n");
        ck_assert_uint_lt(strlen(all) + strlen(data), sizeof all);
        strcat(all, data);
    }
    ck_assert_int_ge(chunks, 3);
    ck_assert_str_eq(all, "line 3\nafter flush 3\nline 2\nafter flush 2\n"
                          "line 1\nafter flush 1\n");
    sq_test_conn_close(c);
}
END_TEST

/* A client that leaves while /slow is in flight, by RST and by FIN: the
 * handler's on_close runs (testmod logs it) long before the 1.5 s answer,
 * the worker survives (the fixture asserts exit 0 at the stop) and serves. */
START_TEST(client_leaves_mid_request)
{
    sq_test_conn *c;
    sq_test_response *r;
    int i;

    for (i = 0; i < 2; i++) {
        c = connect_ok();
        send_ok(c, "GET", "/slow?ms=1500", NULL);
        ck_assert_msg(sq_test_wait_log(srv, "testmod: slow request started",
                                       SQ_TEST_DEFAULT),
                      "%s", sq_test_error(srv));
        if (i == 0)
            sq_test_conn_reset(c);
        else
            sq_test_conn_close(c);
        ck_assert_msg(sq_test_wait_log(srv, "testmod: slow request closed",
                                       1000),
                      "%s", sq_test_error(srv));
    }
    ck_assert_int_eq(sq_test_running(srv), 1);
    r = fetch("GET", "/", NULL, 0);
    ck_assert_int_eq(r->status, 200);
    sq_test_response_free(r);
}
END_TEST

/* "Connection: close" from the client: squalld answers and closes. */
START_TEST(server_closes_after_connection_close)
{
    static const char *const close_hdr[] = {"Connection: close", NULL};
    sq_test_conn *c = connect_ok();
    sq_test_response *r;

    ck_assert_int_eq(sq_test_conn_send(c, "GET", "/", close_hdr, NULL, 0), 0);
    r = read_ok(c, 200);
    ck_assert_int_eq(r->keep_alive, 0);
    sq_test_response_free(r);
    ck_assert_msg(sq_test_conn_closed(c, SQ_TEST_DEFAULT) == 1, "%s",
                  sq_test_conn_error(c));
    sq_test_conn_close(c);
}
END_TEST

/* A malformed request gets 400, and the connection is closed. */
START_TEST(malformed_request_gets_400)
{
    static const char bad[] = "GET / HTTP/1.1\r\nHost: t\r\n"
                              "Content-Length: x\r\n\r\n";
    sq_test_conn *c = connect_ok();
    sq_test_response *r;

    ck_assert_int_eq(sq_test_conn_send_raw(c, bad, sizeof bad - 1), 0);
    r = read_ok(c, 400);
    sq_test_response_free(r);
    ck_assert_msg(sq_test_conn_closed(c, SQ_TEST_DEFAULT) == 1, "%s",
                  sq_test_conn_error(c));
    sq_test_conn_close(c);
}
END_TEST

/* An idle keep-alive connection does not hold up a stop: squalld closes
 * it and exits 0. */
START_TEST(stop_closes_idle_connections)
{
    sq_test_conn *c = connect_ok();
    sq_test_response *r;
    int status;

    send_ok(c, "GET", "/pid", NULL);
    r = read_ok(c, 200);
    sq_test_response_free(r);
    status = sq_test_stop(srv);
    srv = NULL;
    ck_assert_int_eq(status, 0);
    ck_assert_msg(sq_test_conn_closed(c, 1000) == 1, "%s",
                  sq_test_conn_error(c));
    sq_test_conn_close(c);
}
END_TEST

static Suite *client_suite(void)
{
    Suite *s = suite_create("client");
    TCase *req = tcase_create("requests");
    TCase *life = tcase_create("lifecycle");
    TCase *conn = tcase_create("connections");

    tcase_add_checked_fixture(req, start_hello, stop_hello);
    tcase_add_test(req, get_root_is_hello_world);
    tcase_add_test(req, post_echo_returns_body);
    tcase_add_test(req, post_echo_is_binary_safe);
    tcase_add_test(req, post_echo_1mb);
    tcase_add_test(req, unknown_path_is_404);
    tcase_add_test(req, wrong_method_is_405_with_allow);
    tcase_add_test(req, head_has_no_body_but_length);
    suite_add_tcase(s, req);

    tcase_add_checked_fixture(conn, start_testmod, stop_hello);
    tcase_add_test(conn, keep_alive_stays_on_one_worker);
    tcase_add_test(conn, pipelined_requests_in_order);
    tcase_add_test(conn, pipelined_in_one_write);
    tcase_add_test(conn, stream_read_chunk_by_chunk);
    tcase_add_test(conn, drip_arrives_in_flushes);
    tcase_add_test(conn, client_leaves_mid_request);
    tcase_add_test(conn, server_closes_after_connection_close);
    tcase_add_test(conn, malformed_request_gets_400);
    tcase_add_test(conn, stop_closes_idle_connections);
    suite_add_tcase(s, conn);

    tcase_add_test(life, bad_config_reports_line_col);
    tcase_add_test(life, missing_squalld_is_reported);
    tcase_add_test(life, stop_returns_0);
    suite_add_tcase(s, life);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(client_suite());
    int failed;

    srunner_run_all(sr, CK_ENV); /* CK_VERBOSITY=verbose lists tests */
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
