/*
 * test_client.c - the real squalld with the shipped hello module, driven
 * through the test client library (squall/test.h), as a module author
 * would write their own tests.
 *
 * Needs $SQUALLD (the squalld to run) and $SQUALL_MODULE_DIR (where
 * "hello.so" is found); `make check` sets both.
 */
#include <squall/test.h>

#include <check.h>
#include <stdlib.h>
#include <string.h>

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

static Suite *client_suite(void)
{
    Suite *s = suite_create("client");
    TCase *req = tcase_create("requests");
    TCase *life = tcase_create("lifecycle");

    tcase_add_checked_fixture(req, start_hello, stop_hello);
    tcase_add_test(req, get_root_is_hello_world);
    tcase_add_test(req, post_echo_returns_body);
    tcase_add_test(req, post_echo_is_binary_safe);
    tcase_add_test(req, post_echo_1mb);
    tcase_add_test(req, unknown_path_is_404);
    tcase_add_test(req, wrong_method_is_405_with_allow);
    tcase_add_test(req, head_has_no_body_but_length);
    suite_add_tcase(s, req);

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
