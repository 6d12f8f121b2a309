/*
 * test_testclient.c - the test client library's own HTTP client
 * (lib/testclient.c): response framing, the rejection of malformed
 * responses, timeouts and the request head it sends.
 *
 * The real squalld only ever sends well-formed responses, so the server
 * here is tests/integration/fake_squalld.py, started through $SQUALLD like
 * squalld: it answers each request path with canned bytes. It is found in
 * $SQUALL_SRCDIR (set by `make check`; "." otherwise).
 */
#include <squall/test.h>

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The fake ignores its config; any YAML will do. */
static const char yaml[] = "server: {workers: 1}\n";

/* ---------------------------------------------------------------------
 * One fake server for the "responses" and "requests" test cases: started
 * once, in the runner process (unchecked fixture), so that forked tests
 * only talk to it over TCP. Its exit status is checked by main().
 * ------------------------------------------------------------------- */

static sq_test_server *srv;
static int srv_stop_status;

static void start_shared(void)
{
    char err[4096];

    if (srv != NULL)
        return;
    srv = sq_test_start(yaml, err, sizeof err);
    if (srv == NULL)
        fprintf(stderr, "sq_test_start: %s\n", err);
}

static void stop_shared(void)
{
    if (srv == NULL)
        return;
    srv_stop_status = sq_test_stop(srv);
    srv = NULL;
    if (srv_stop_status != 0)
        fprintf(stderr, "shared fake squalld: sq_test_stop() returned %d\n",
                srv_stop_status);
}

static sq_test_response *fetch(const char *method, const char *path,
                               const char *const *headers, const void *body,
                               size_t len)
{
    sq_test_response *r;

    ck_assert_msg(srv != NULL, "the fake squalld did not start");
    r = sq_test_fetch(srv, method, path, headers, body, len);
    ck_assert_msg(r != NULL, "%s", sq_test_error(srv));
    ck_assert_str_eq(sq_test_error(srv), "");
    return r;
}

/* A fetch that must fail with an error naming the request and the
 * problem. */
static void fetch_fails(const char *method, const char *path,
                        const char *const *headers, const char *problem)
{
    char prefix[128];
    sq_test_response *r;
    const char *err;

    ck_assert_msg(srv != NULL, "the fake squalld did not start");
    r = sq_test_fetch(srv, method, path, headers, NULL, 0);
    err = sq_test_error(srv);
    ck_assert_msg(r == NULL, "%s %s: accepted, status %d", method, path,
                  r != NULL ? r->status : 0);
    snprintf(prefix, sizeof prefix, "%s %s: ", method, path);
    ck_assert_msg(strncmp(err, prefix, strlen(prefix)) == 0,
                  "error does not start with \"%s\": %s", prefix, err);
    ck_assert_msg(strstr(err, problem) != NULL, "no \"%s\" in the error: %s",
                  problem, err);
}

/* ---------------------------------------------------------------------
 * Well-formed responses
 * ------------------------------------------------------------------- */

/* Chunk extensions are skipped; the trailer fields follow the header
 * fields, trimmed like them. */
START_TEST(chunked_body_and_trailers)
{
    sq_test_response *r = fetch("GET", "/chunked", NULL, NULL, 0);

    ck_assert_int_eq(r->status, 200);
    ck_assert_str_eq(r->body, "Hello, world! It works");
    ck_assert_uint_eq(r->body_len, 22);
    ck_assert_uint_eq(r->nheaders, 4);
    ck_assert_str_eq(r->headers[0].name, "Transfer-Encoding");
    ck_assert_str_eq(r->headers[0].value, "chunked");
    ck_assert_str_eq(r->headers[1].name, "X-Before");
    ck_assert_str_eq(r->headers[2].name, "X-Trailer");
    ck_assert_str_eq(r->headers[2].value, "yes");
    ck_assert_str_eq(r->headers[3].name, "X-Spaced");
    ck_assert_str_eq(r->headers[3].value, "padded");
    ck_assert_pstr_eq(sq_test_header(r, "x-trailer"), "yes");
    sq_test_response_free(r);
}
END_TEST

/* The bytes fake_squalld.py's big_body() sends. */
static unsigned char *big_body(size_t len)
{
    unsigned char *b = malloc(len);
    size_t i;

    ck_assert_ptr_nonnull(b);
    for (i = 0; i < len; i++)
        b[i] = (unsigned char)(i * 7 + i / 251);
    return b;
}

/* Chunks of 1 to 70001 bytes, so that chunk boundaries fall anywhere in
 * the client's reads. */
START_TEST(chunked_1mb_in_odd_chunks)
{
    size_t len = 1024 * 1024;
    unsigned char *want = big_body(len);
    sq_test_response *r = fetch("GET", "/chunked-big", NULL, NULL, 0);

    ck_assert_int_eq(r->status, 200);
    ck_assert_uint_eq(r->body_len, len);
    ck_assert_msg(memcmp(r->body, want, len) == 0, "1 MB body differs");
    ck_assert_int_eq(r->body[len], '\0');
    free(want);
    sq_test_response_free(r);
}
END_TEST

START_TEST(close_delimited_body)
{
    static const char want[] = "until the close\r\n\r\nincluding CRLFs";
    sq_test_response *r = fetch("GET", "/close", NULL, NULL, 0);

    ck_assert_int_eq(r->status, 200);
    ck_assert_int_eq(r->version, 10);
    ck_assert_str_eq(r->reason, "OK");
    ck_assert_uint_eq(r->body_len, sizeof want - 1);
    ck_assert_str_eq(r->body, want);
    ck_assert_pstr_eq(sq_test_header(r, "Content-Type"), "text/plain");
    sq_test_response_free(r);
}
END_TEST

static const char *const keep_alive[] = {"Connection: keep-alive", NULL};

/* Content-Length is the length of the GET body, and no body follows:
 * with "Connection: close" nothing comes before the close; with
 * keep-alive the fake does not close, so the client must stop at the
 * head (or time out). */
START_TEST(head_has_length_but_no_body)
{
    const char *const *hdrs[] = {NULL, keep_alive};
    sq_test_response *r;
    size_t i;

    for (i = 0; i < 2; i++) {
        r = fetch("HEAD", "/head-length", hdrs[i], NULL, 0);
        ck_assert_int_eq(r->status, 200);
        ck_assert_pstr_eq(sq_test_header(r, "Content-Length"), "1234");
        ck_assert_uint_eq(r->body_len, 0);
        ck_assert_str_eq(r->body, "");
        sq_test_response_free(r);
    }
}
END_TEST

/* sq_test_fetch_raw() recognizes HEAD by the request's first bytes. */
START_TEST(raw_head_has_no_body)
{
    static const char req[] = "HEAD /head-length HTTP/1.1\r\n"
                              "Host: x\r\n"
                              "Connection: keep-alive\r\n"
                              "\r\n";
    sq_test_response *r;

    ck_assert_ptr_nonnull(srv);
    r = sq_test_fetch_raw(srv, req, sizeof req - 1);
    ck_assert_msg(r != NULL, "%s", sq_test_error(srv));
    ck_assert_int_eq(r->status, 200);
    ck_assert_pstr_eq(sq_test_header(r, "Content-Length"), "1234");
    ck_assert_uint_eq(r->body_len, 0);
    sq_test_response_free(r);
}
END_TEST

START_TEST(no_content_204_has_no_body)
{
    const char *const *hdrs[] = {NULL, keep_alive};
    sq_test_response *r;
    size_t i;

    for (i = 0; i < 2; i++) {
        r = fetch("GET", "/no-content", hdrs[i], NULL, 0);
        ck_assert_int_eq(r->status, 204);
        ck_assert_str_eq(r->reason, "");
        ck_assert_pstr_eq(sq_test_header(r, "X-After"), "204");
        ck_assert_uint_eq(r->body_len, 0);
        ck_assert_str_eq(r->body, "");
        sq_test_response_free(r);
    }
}
END_TEST

START_TEST(not_modified_304_has_no_body)
{
    const char *const *hdrs[] = {NULL, keep_alive};
    sq_test_response *r;
    size_t i;

    for (i = 0; i < 2; i++) {
        r = fetch("GET", "/not-modified", hdrs[i], NULL, 0);
        ck_assert_int_eq(r->status, 304);
        ck_assert_str_eq(r->reason, "Not Modified");
        ck_assert_pstr_eq(sq_test_header(r, "Content-Length"), "1234");
        ck_assert_uint_eq(r->body_len, 0);
        sq_test_response_free(r);
    }
}
END_TEST

/* 100 and 103 are skipped, with the 103's Link field. */
START_TEST(interim_1xx_are_skipped)
{
    sq_test_response *r = fetch("GET", "/continue", NULL, NULL, 0);

    ck_assert_int_eq(r->status, 200);
    ck_assert_int_eq(r->version, 11);
    ck_assert_str_eq(r->reason, "OK");
    ck_assert_str_eq(r->body, "ok");
    ck_assert_uint_eq(r->nheaders, 1);
    ck_assert_pstr_eq(sq_test_header(r, "Content-Length"), "2");
    ck_assert_ptr_null(sq_test_header(r, "Link"));
    sq_test_response_free(r);
}
END_TEST

/* ---------------------------------------------------------------------
 * Malformed responses: NULL, and an error that says what is wrong
 * ------------------------------------------------------------------- */

START_TEST(bare_lf_is_an_error)
{
    fetch_fails("GET", "/bare-lf", NULL,
                "line not ended by CRLF before the status line");
}
END_TEST

START_TEST(conflicting_lengths_are_an_error)
{
    fetch_fails("GET", "/two-lengths", NULL,
                "conflicting Content-Length fields");
}
END_TEST

START_TEST(obs_fold_is_an_error)
{
    fetch_fails("GET", "/fold", NULL, "obsolete line folding");
}
END_TEST

START_TEST(bytes_after_the_body_are_an_error)
{
    fetch_fails("GET", "/extra", NULL,
                "5 unexpected bytes after the end of the response");
}
END_TEST

START_TEST(body_after_head_response_is_an_error)
{
    fetch_fails("HEAD", "/head-body", NULL,
                "4 unexpected bytes after the end of the response");
}
END_TEST

START_TEST(truncated_body_is_an_error)
{
    fetch_fails("GET", "/truncated", NULL,
                "connection closed before the end of the body");
}
END_TEST

START_TEST(bad_chunk_size_is_an_error)
{
    fetch_fails("GET", "/bad-chunk", NULL, "malformed chunk size line \"1g\"");
}
END_TEST

START_TEST(huge_chunk_size_is_an_error)
{
    fetch_fails("GET", "/huge-chunk", NULL, "chunk size too large");
}
END_TEST

/* ---------------------------------------------------------------------
 * The request head the client sends (the fake answers it as the body)
 * ------------------------------------------------------------------- */

static unsigned count(const char *haystack, const char *needle)
{
    unsigned n = 0;

    while ((haystack = strstr(haystack, needle)) != NULL) {
        n++;
        haystack++;
    }
    return n;
}

static void assert_has(const char *head, const char *line, unsigned times)
{
    ck_assert_msg(count(head, line) == times, "%u x \"%s\" expected in:\n%s",
                  times, line, head);
}

START_TEST(post_sends_host_length_and_close)
{
    static const char body[] = "a=1&b=\0binary\r\n";
    char host[64];
    sq_test_response *r =
        fetch("POST", "/echo-head", NULL, body, sizeof body - 1);

    snprintf(host, sizeof host, "\r\nHost: 127.0.0.1:%d\r\n",
             sq_test_port(srv));
    ck_assert_int_eq(r->status, 200);
    ck_assert_msg(strncmp(r->body, "POST /echo-head HTTP/1.1\r\n", 26) == 0,
                  "request line: %s", r->body);
    assert_has(r->body, host, 1);
    assert_has(r->body, "\r\nContent-Length: 15\r\n", 1);
    assert_has(r->body, "\r\nConnection: close\r\n", 1);
    assert_has(r->body, "\r\n\r\n", 1);
    ck_assert_uint_eq(r->body_len, strlen(r->body));
    ck_assert_str_eq(r->body + r->body_len - 4, "\r\n\r\n");
    ck_assert_pstr_eq(sq_test_header(r, "X-Body-Length"), "15");
    sq_test_response_free(r);
}
END_TEST

/* POST has a length even without a body; GET without a body has none. */
START_TEST(length_only_with_a_body_or_for_post)
{
    sq_test_response *r = fetch("POST", "/echo-head", NULL, NULL, 0);

    assert_has(r->body, "\r\nContent-Length: 0\r\n", 1);
    sq_test_response_free(r);
    r = fetch("GET", "/echo-head", NULL, NULL, 0);
    ck_assert_msg(strncmp(r->body, "GET /echo-head HTTP/1.1\r\n", 25) == 0,
                  "request line: %s", r->body);
    assert_has(r->body, "Content-Length", 0);
    assert_has(r->body, "\r\nConnection: close\r\n", 1);
    sq_test_response_free(r);
    r = fetch("GET", "/echo-head", NULL, "xyz", 3);
    assert_has(r->body, "\r\nContent-Length: 3\r\n", 1);
    ck_assert_pstr_eq(sq_test_header(r, "X-Body-Length"), "3");
    sq_test_response_free(r);
}
END_TEST

/* The caller's Host and Connection replace the library's, and come after
 * its own fields, in order. */
START_TEST(caller_headers_replace_defaults)
{
    static const char *const hdrs[] = {
        "Host: example.test", "Connection: keep-alive", "X-A: 1", NULL};
    sq_test_response *r = fetch("GET", "/echo-head", hdrs, NULL, 0);

    ck_assert_str_eq(r->body, "GET /echo-head HTTP/1.1\r\n"
                              "Host: example.test\r\n"
                              "Connection: keep-alive\r\n"
                              "X-A: 1\r\n"
                              "\r\n");
    sq_test_response_free(r);
}
END_TEST

/* ---------------------------------------------------------------------
 * A server of its own: timeouts and stopping
 * ------------------------------------------------------------------- */

static double seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* $SQ_TEST_TIMEOUT, read by sq_test_start(), bounds each fetch. */
START_TEST(silent_server_times_out)
{
    const char *old = getenv("SQ_TEST_TIMEOUT");
    char *saved = old ? strdup(old) : NULL;
    char err[4096];
    sq_test_server *s;
    sq_test_response *r;
    const char *e;
    double t0, took;

    setenv("SQ_TEST_TIMEOUT", "2", 1);
    s = sq_test_start(yaml, err, sizeof err);
    if (saved != NULL) /* for CK_FORK=no */
        setenv("SQ_TEST_TIMEOUT", saved, 1);
    else
        unsetenv("SQ_TEST_TIMEOUT");
    free(saved);
    ck_assert_msg(s != NULL, "sq_test_start: %s", err);
    t0 = seconds();
    r = sq_test_get(s, "/slow");
    took = seconds() - t0;
    e = sq_test_error(s);
    ck_assert_ptr_null(r);
    ck_assert_msg(strstr(e, "GET /slow: timed out after 2 s reading the "
                            "response") != NULL,
                  "%s", e);
    ck_assert_msg(took >= 1.9 && took < 4.0, "timed out after %.2f s", took);
    /* the fake still serves others while it ignores /slow */
    r = sq_test_get(s, "/continue");
    ck_assert_msg(r != NULL, "%s", sq_test_error(s));
    sq_test_response_free(r);
    ck_assert_int_eq(sq_test_stop(s), 0);
}
END_TEST

START_TEST(stop_returns_0)
{
    char err[4096];
    sq_test_server *s = sq_test_start(yaml, err, sizeof err);
    sq_test_response *r;

    ck_assert_msg(s != NULL, "sq_test_start: %s", err);
    r = sq_test_get(s, "/chunked");
    ck_assert_msg(r != NULL, "%s", sq_test_error(s));
    sq_test_response_free(r);
    ck_assert_int_eq(sq_test_stop(s), 0);
}
END_TEST

static Suite *testclient_suite(void)
{
    Suite *s = suite_create("testclient");
    TCase *resp = tcase_create("responses");
    TCase *bad = tcase_create("malformed");
    TCase *req = tcase_create("requests");
    TCase *life = tcase_create("lifecycle");

    tcase_add_unchecked_fixture(resp, start_shared, NULL);
    tcase_add_test(resp, chunked_body_and_trailers);
    tcase_add_test(resp, chunked_1mb_in_odd_chunks);
    tcase_add_test(resp, close_delimited_body);
    tcase_add_test(resp, head_has_length_but_no_body);
    tcase_add_test(resp, raw_head_has_no_body);
    tcase_add_test(resp, no_content_204_has_no_body);
    tcase_add_test(resp, not_modified_304_has_no_body);
    tcase_add_test(resp, interim_1xx_are_skipped);
    suite_add_tcase(s, resp);

    tcase_add_unchecked_fixture(bad, start_shared, NULL);
    tcase_add_test(bad, bare_lf_is_an_error);
    tcase_add_test(bad, conflicting_lengths_are_an_error);
    tcase_add_test(bad, obs_fold_is_an_error);
    tcase_add_test(bad, bytes_after_the_body_are_an_error);
    tcase_add_test(bad, body_after_head_response_is_an_error);
    tcase_add_test(bad, truncated_body_is_an_error);
    tcase_add_test(bad, bad_chunk_size_is_an_error);
    tcase_add_test(bad, huge_chunk_size_is_an_error);
    suite_add_tcase(s, bad);

    tcase_add_unchecked_fixture(req, start_shared, stop_shared);
    tcase_add_test(req, post_sends_host_length_and_close);
    tcase_add_test(req, length_only_with_a_body_or_for_post);
    tcase_add_test(req, caller_headers_replace_defaults);
    suite_add_tcase(s, req);

    tcase_set_timeout(life, 20);
    tcase_add_test(life, silent_server_times_out);
    tcase_add_test(life, stop_returns_0);
    suite_add_tcase(s, life);
    return s;
}

int main(void)
{
    const char *srcdir = getenv("SQUALL_SRCDIR");
    char fake[4096];
    SRunner *sr;
    int failed;

    snprintf(fake, sizeof fake, "%s/tests/integration/fake_squalld.py",
             srcdir != NULL && *srcdir != '\0' ? srcdir : ".");
    setenv("SQUALLD", fake, 1);
    sr = srunner_create(testclient_suite());
    srunner_run_all(sr, CK_ENV); /* CK_VERBOSITY=verbose lists tests */
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    stop_shared(); /* if a test case was skipped */
    if (srv_stop_status != 0)
        failed++;
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
