/*
 * test_http.c - the request parser glue (src/http.c, src/request.c):
 * framing, pipelining, limits and the RFC 9112 rules that keep requests
 * from being smuggled.
 */
#include "internal.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct limits_conf lim;
static struct http_in *h;
static sq_pool *pool;
static sq_req *r;

static void setup(void)
{
    lim.max_header_size = 1024;
    lim.max_uri_size = 256;
    lim.max_body_size = 100;
    h = http_in_new();
    pool = pool_new(4096);
    ck_assert_ptr_nonnull(h);
    ck_assert_ptr_nonnull(pool);
}

static void teardown(void)
{
    http_in_free(h);
    pool_free(pool);
}

static void begin(void)
{
    r = sq_palloc(pool, sizeof(*r));
    req_init(r, pool, NULL, NULL);
    http_in_begin(h, r, &lim);
}

/* Feeds all of s (resuming after a pause at the head) and returns the
 * final verdict. */
static int feed_all(const char *s, size_t len, size_t *used_total)
{
    size_t off = 0, used;
    int rc;

    begin();
    do {
        rc = http_feed(h, s + off, len - off, &used);
        off += used;
    } while (rc == HTTP_IN_HEAD);
    if (used_total != NULL)
        *used_total = off;
    return rc;
}

static int feed(const char *s)
{
    return feed_all(s, strlen(s), NULL);
}

START_TEST(simple_get)
{
    ck_assert_int_eq(feed("GET /a/b?x=1&y=%20z HTTP/1.1\r\nHost: h\r\n"
                          "X-Thing:  v  \r\n\r\n"),
                     HTTP_IN_DONE);
    ck_assert_str_eq(sq_method(r), "GET");
    ck_assert_int_eq(r->method, METHOD_GET);
    ck_assert_str_eq(sq_path(r), "/a/b");
    ck_assert_str_eq(sq_query(r), "x=1&y=%20z");
    ck_assert_str_eq(sq_query_arg(r, "y"), " z");
    ck_assert_str_eq(sq_header(r, "x-thing"), "v");
    ck_assert_str_eq(sq_header(r, "HOST"), "h");
    ck_assert_int_eq(sq_http_version(r), 11);
    ck_assert_int_eq(r->keep_alive, 1);
}
END_TEST

START_TEST(pipelined_requests_stop_after_each)
{
    const char *two = "GET /1 HTTP/1.1\r\nHost: h\r\n\r\n"
                      "GET /2 HTTP/1.1\r\nHost: h\r\n\r\n";
    size_t first = strlen("GET /1 HTTP/1.1\r\nHost: h\r\n\r\n"), used;

    begin();
    ck_assert_int_eq(http_feed(h, two, strlen(two), &used), HTTP_IN_DONE);
    ck_assert_uint_eq(used, first);
    ck_assert_str_eq(sq_path(r), "/1");
    begin();
    ck_assert_int_eq(http_feed(h, two + used, strlen(two) - used, &used),
                     HTTP_IN_DONE);
    ck_assert_uint_eq(used, strlen(two) - first);
    ck_assert_str_eq(sq_path(r), "/2");
}
END_TEST

START_TEST(byte_at_a_time)
{
    const char *s = "POST /p HTTP/1.1\r\nHost: example\r\nContent-Length: 5\r\n"
                    "X-Long-Header: abcdefgh\r\n\r\nhello";
    size_t used;
    int rc = HTTP_IN_MORE;

    begin();
    for (size_t i = 0; s[i] != '\0'; i += used) {
        rc = http_feed(h, s + i, 1, &used);
        ck_assert_int_ge(rc, 0);
        /* the byte that completes a head followed by a body is consumed
         * when parsing resumes */
        ck_assert_uint_eq(used, rc == HTTP_IN_HEAD ? 0 : 1);
    }
    ck_assert_int_eq(rc, HTTP_IN_DONE);
    ck_assert_str_eq(sq_header(r, "X-Long-Header"), "abcdefgh");
    ck_assert_str_eq(sq_header(r, "host"), "example");
    ck_assert_str_eq(sq_body(r, NULL), "hello");
}
END_TEST

START_TEST(content_length_body)
{
    size_t len;
    ck_assert_int_eq(feed("PUT /x HTTP/1.1\r\nHost: h\r\nContent-Length: 3"
                          "\r\n\r\nabc"),
                     HTTP_IN_DONE);
    ck_assert_str_eq(sq_body(r, &len), "abc");
    ck_assert_uint_eq(len, 3);
}
END_TEST

START_TEST(pauses_at_head_when_a_body_follows)
{
    const char *s = "POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n"
                    "Content-Length: 2\r\n\r\nok";
    size_t used;

    begin();
    ck_assert_int_eq(http_feed(h, s, strlen(s), &used), HTTP_IN_HEAD);
    ck_assert_int_eq(r->expect_continue, 1);
    ck_assert_int_eq(http_feed(h, s + used, strlen(s) - used, &used),
                     HTTP_IN_DONE);
    ck_assert_str_eq(sq_body(r, NULL), "ok");
}
END_TEST

START_TEST(chunked_body)
{
    size_t len;
    ck_assert_int_eq(feed("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: "
                          "chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n"
                          "\r\n"),
                     HTTP_IN_DONE);
    ck_assert_str_eq(sq_body(r, &len), "hello world");
    ck_assert_uint_eq(len, 11);
    ck_assert_int_eq(r->chunked_in, 1);
}
END_TEST

START_TEST(chunked_trailer_is_accepted_and_dropped)
{
    ck_assert_int_eq(feed("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: "
                          "chunked\r\n\r\n5\r\nhello\r\n0\r\nX-Sum: 12\r\n"
                          "\r\n"),
                     HTTP_IN_DONE);
    ck_assert_str_eq(sq_body(r, NULL), "hello");
    ck_assert_ptr_null(sq_header(r, "X-Sum"));
}
END_TEST

START_TEST(bad_trailer_is_400)
{
    ck_assert_int_eq(feed("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: "
                          "chunked\r\n\r\n0\r\nX-Sum: 1\x01\r\n\r\n"),
                     -400);
}
END_TEST

START_TEST(header_too_large_is_431)
{
    char big[2048];
    int n = snprintf(big, sizeof(big), "GET / HTTP/1.1\r\nHost: h\r\nX: ");
    memset(big + n, 'a', sizeof(big) - (size_t)n - 1);
    big[sizeof(big) - 1] = '\0';
    ck_assert_int_eq(feed(big), -431);
}
END_TEST

START_TEST(uri_too_long_is_414)
{
    char req[600];
    int n = snprintf(req, sizeof(req), "GET /");
    memset(req + n, 'u', 300);
    strcpy(req + n + 300, " HTTP/1.1\r\nHost: h\r\n\r\n");
    ck_assert_int_eq(feed(req), -414);
}
END_TEST

START_TEST(body_too_large_by_length_is_413)
{
    ck_assert_int_eq(feed("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 101"
                          "\r\n\r\n"),
                     -413);
}
END_TEST

START_TEST(body_too_large_by_chunks_is_413)
{
    char req[1024];
    int n = snprintf(req, sizeof(req),
                     "POST / HTTP/1.1\r\nHost: h\r\n"
                     "Transfer-Encoding: chunked\r\n\r\n"
                     "3c\r\n");
    memset(req + n, 'b', 60);
    n += 60;
    n += snprintf(req + n, sizeof(req) - (size_t)n, "\r\n3c\r\n");
    memset(req + n, 'c', 60);
    n += 60;
    strcpy(req + n, "\r\n0\r\n\r\n");
    ck_assert_int_eq(feed(req), -413);
}
END_TEST

START_TEST(length_and_chunked_is_400)
{
    ck_assert_int_eq(feed("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n"
                          "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
                     -400);
}
END_TEST

START_TEST(conflicting_lengths_is_400)
{
    ck_assert_int_eq(feed("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n"
                          "Content-Length: 4\r\n\r\nabcd"),
                     -400);
}
END_TEST

START_TEST(chunked_not_last_is_400)
{
    ck_assert_int_eq(feed("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: "
                          "gzip\r\n\r\n"),
                     -400);
}
END_TEST

START_TEST(unknown_coding_is_501)
{
    ck_assert_int_eq(feed("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: "
                          "gzip, chunked\r\n\r\n0\r\n\r\n"),
                     -501);
}
END_TEST

START_TEST(obs_fold_is_400)
{
    ck_assert_int_eq(feed("GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n"),
                     -400);
}
END_TEST

START_TEST(obs_fold_across_reads_is_400)
{
    const char *a = "GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n";
    const char *b = " b\r\n\r\n";
    size_t used;

    begin();
    ck_assert_int_eq(http_feed(h, a, strlen(a), &used), HTTP_IN_MORE);
    ck_assert_int_eq(http_feed(h, b, strlen(b), &used), -400);
}
END_TEST

START_TEST(value_split_across_reads_is_fine)
{
    const char *a = "GET / HTTP/1.1\r\nHost: h\r\nX: abc";
    const char *b = "def\r\n\r\n";
    size_t used;

    begin();
    ck_assert_int_eq(http_feed(h, a, strlen(a), &used), HTTP_IN_MORE);
    ck_assert_int_eq(http_feed(h, b, strlen(b), &used), HTTP_IN_DONE);
    ck_assert_str_eq(sq_header(r, "X"), "abcdef");
}
END_TEST

START_TEST(space_before_colon_is_400)
{
    ck_assert_int_eq(feed("GET / HTTP/1.1\r\nHost : h\r\n\r\n"), -400);
}
END_TEST

START_TEST(control_char_in_value_is_400)
{
    ck_assert_int_eq(feed("GET / HTTP/1.1\r\nHost: h\r\nX: a\x7f b\r\n\r\n"),
                     -400);
    ck_assert_int_eq(feed("GET / HTTP/1.1\r\nHost: h\r\nX: a\x01 b\r\n\r\n"),
                     -400);
}
END_TEST

START_TEST(control_char_in_name_is_400)
{
    ck_assert_int_eq(feed("GET / HTTP/1.1\r\nHost: h\r\nX\x01Y: a\r\n\r\n"),
                     -400);
}
END_TEST

START_TEST(missing_host_is_400)
{
    ck_assert_int_eq(feed("GET / HTTP/1.1\r\nX: a\r\n\r\n"), -400);
}
END_TEST

START_TEST(repeated_host_is_400)
{
    ck_assert_int_eq(feed("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"),
                     -400);
}
END_TEST

START_TEST(http10_without_host_is_fine)
{
    ck_assert_int_eq(feed("GET / HTTP/1.0\r\n\r\n"), HTTP_IN_DONE);
    ck_assert_int_eq(sq_http_version(r), 10);
    ck_assert_int_eq(r->keep_alive, 0);
    ck_assert_int_eq(feed("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"),
                     HTTP_IN_DONE);
    ck_assert_int_eq(r->keep_alive, 1);
}
END_TEST

START_TEST(http2_version_is_505)
{
    ck_assert_int_eq(feed("GET / HTTP/2.0\r\nHost: h\r\n\r\n"), -505);
}
END_TEST

START_TEST(garbage_is_400)
{
    ck_assert_int_eq(feed("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"),
                     -400);
    ck_assert_int_eq(feed("GET / FOO/1.1\r\n\r\n"), -400);
}
END_TEST

START_TEST(unknown_expectation_is_417)
{
    ck_assert_int_eq(feed("GET / HTTP/1.1\r\nHost: h\r\nExpect: magic\r\n\r\n"),
                     -417);
}
END_TEST

START_TEST(absolute_form_target)
{
    ck_assert_int_eq(feed("GET http://example.com:8080/p/q?a=1 HTTP/1.1\r\n"
                          "Host: other\r\n\r\n"),
                     HTTP_IN_DONE);
    ck_assert_str_eq(sq_path(r), "/p/q");
    ck_assert_str_eq(sq_query(r), "a=1");
    ck_assert_str_eq(r->host, "example.com:8080");
}
END_TEST

START_TEST(upgrade_request_closes_after)
{
    ck_assert_int_eq(feed("GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\n"
                          "Upgrade: websocket\r\n\r\n"),
                     HTTP_IN_DONE);
    ck_assert_int_eq(r->keep_alive, 0);
}
END_TEST

/* Feeds a then b as two reads; returns the verdict of the second. */
static int feed_two(const char *a, const char *b)
{
    size_t used;
    int rc;

    begin();
    rc = http_feed(h, a, strlen(a), &used);
    ck_assert_int_eq(rc, HTTP_IN_MORE);
    ck_assert_uint_eq(used, strlen(a));
    return http_feed(h, b, strlen(b), &used);
}

/* RFC 9112 2.2: a bare CR is invalid, never a line end that swallows the
 * byte after it. */
START_TEST(bare_cr_before_a_line_is_400)
{
    ck_assert_int_eq(feed("GET / HTTP/1.1\r\nHost: a\r\n\rXGET /echo HTTP/1.1"
                          "\r\nHost: a\r\n\r\n"),
                     -400);
}
END_TEST

START_TEST(bare_cr_in_value_is_400)
{
    ck_assert_int_eq(feed("POST / HTTP/1.1\r\nHost: a\r\nx:\rContent-Length: 5"
                          "\r\n\r\nhello"),
                     -400);
    ck_assert_int_eq(feed("GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n"), -400);
}
END_TEST

START_TEST(bare_cr_in_request_line_is_400)
{
    ck_assert_int_eq(feed("GET /a\rb HTTP/1.1\r\nHost: a\r\n\r\n"), -400);
    ck_assert_int_eq(feed("GET / HTTP/1.1\rXHost: a\r\n\r\n"), -400);
}
END_TEST

START_TEST(bare_cr_at_end_of_a_read_is_400)
{
    ck_assert_int_eq(feed_two("GET / HTTP/1.1\r\nHost: a\r\n\r", "X\r\n"),
                     -400);
    ck_assert_int_eq(feed_two("GET / HTTP/1.1\r\nHost: a\r", "X: b\r\n\r\n"),
                     -400);
}
END_TEST

START_TEST(crlf_split_across_reads_is_fine)
{
    ck_assert_int_eq(feed_two("GET / HTTP/1.1\r\nHost: a\r", "\n\r\n"),
                     HTTP_IN_DONE);
    ck_assert_str_eq(sq_header(r, "Host"), "a");
    ck_assert_int_eq(feed_two("GET / HTTP/1.1\r\nHost: a\r\n\r", "\n"),
                     HTTP_IN_DONE);
}
END_TEST

START_TEST(bare_cr_in_body_is_data)
{
    ck_assert_int_eq(feed("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3"
                          "\r\n\r\na\rb"),
                     HTTP_IN_DONE);
    ck_assert_str_eq(sq_body(r, NULL), "a\rb");
}
END_TEST

START_TEST(empty_lines_before_request_line_are_ignored)
{
    ck_assert_int_eq(feed("\r\n\nGET /x HTTP/1.1\r\nHost: a\r\n\r\n"),
                     HTTP_IN_DONE);
    ck_assert_str_eq(sq_path(r), "/x");
}
END_TEST

static int keeps_alive(const char *version, const char *fields)
{
    char req[256];

    snprintf(req, sizeof(req), "GET / %s\r\nHost: h\r\n%s\r\n", version,
             fields);
    ck_assert_int_eq(feed(req), HTTP_IN_DONE);
    return r->keep_alive;
}

/* RFC 9112 9.6, RFC 9110 7.6.1: Connection is a comma-separated list of
 * case-insensitive tokens with optional whitespace. */
START_TEST(connection_close_with_whitespace_closes)
{
    ck_assert_int_eq(keeps_alive("HTTP/1.1", "Connection: close\t\r\n"), 0);
    ck_assert_int_eq(keeps_alive("HTTP/1.1", "Connection: close \r\n"), 0);
    ck_assert_int_eq(keeps_alive("HTTP/1.1", "Connection:\tCLOSE\t\r\n"), 0);
}
END_TEST

START_TEST(connection_close_in_a_list_closes)
{
    ck_assert_int_eq(
        keeps_alive("HTTP/1.1", "Connection: keep-alive, close\r\n"), 0);
    ck_assert_int_eq(keeps_alive("HTTP/1.1", "Connection: foo\t,close\r\n"), 0);
    ck_assert_int_eq(keeps_alive("HTTP/1.1", "Connection: ,, Close ,\r\n"), 0);
    ck_assert_int_eq(
        keeps_alive("HTTP/1.1", "Connection: te\r\nConnection: close\r\n"), 0);
}
END_TEST

START_TEST(connection_other_tokens_keep_alive)
{
    ck_assert_int_eq(keeps_alive("HTTP/1.1", ""), 1);
    ck_assert_int_eq(keeps_alive("HTTP/1.1", "Connection: closed\r\n"), 1);
    ck_assert_int_eq(keeps_alive("HTTP/1.1", "Connection: te, foo\r\n"), 1);
}
END_TEST

START_TEST(http10_keep_alive_tokens)
{
    ck_assert_int_eq(keeps_alive("HTTP/1.0", ""), 0);
    ck_assert_int_eq(keeps_alive("HTTP/1.0", "Connection: Keep-Alive\t\r\n"),
                     1);
    ck_assert_int_eq(keeps_alive("HTTP/1.0", "Connection: te, keep-alive\r\n"),
                     1);
    ck_assert_int_eq(
        keeps_alive("HTTP/1.0", "Connection: keep-alive, close\r\n"), 0);
}
END_TEST

/* RFC 9112 5.2: obs-fold gets 400, also after an empty first value, where
 * http-parser would frame the body with the folded value. */
START_TEST(obs_fold_after_empty_value_is_400)
{
    ck_assert_int_eq(feed("POST / HTTP/1.1\r\nHost: h\r\nContent-Length:\r\n"
                          " 5\r\n\r\nhello"),
                     -400);
    ck_assert_int_eq(feed("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding:"
                          "\r\n chunked\r\n\r\n0\r\n\r\n"),
                     -400);
    ck_assert_int_eq(feed("GET / HTTP/1.1\r\nHost: h\r\nX:\r\n\tb\r\n\r\n"),
                     -400);
}
END_TEST

START_TEST(obs_fold_after_empty_value_across_reads_is_400)
{
    ck_assert_int_eq(feed_two("POST / HTTP/1.1\r\nHost: h\r\nContent-Length:"
                              "\r\n",
                              " 5\r\n\r\nhello"),
                     -400);
}
END_TEST

/* RFC 9112 2.2: whitespace between the start line and the first field. */
START_TEST(whitespace_before_first_field_is_400)
{
    ck_assert_int_eq(feed("GET / HTTP/1.1\r\n Host: h\r\n\r\n"), -400);
}
END_TEST

/* RFC 9110 4.2.4: userinfo in a target is an error. */
START_TEST(userinfo_in_absolute_target_is_400)
{
    ck_assert_int_eq(feed("GET http://user@host/ HTTP/1.1\r\nHost: h\r\n\r\n"),
                     -400);
    ck_assert_int_eq(
        feed("GET http://u:pw@host:80/p?q HTTP/1.1\r\nHost: h\r\n\r\n"), -400);
    ck_assert_int_eq(feed("GET https://@host HTTP/1.1\r\nHost: h\r\n\r\n"),
                     -400);
}
END_TEST

START_TEST(at_sign_outside_authority_is_fine)
{
    ck_assert_int_eq(
        feed("GET http://host/a@b?c@d HTTP/1.1\r\nHost: h\r\n\r\n"),
        HTTP_IN_DONE);
    ck_assert_str_eq(r->host, "host");
    ck_assert_str_eq(sq_path(r), "/a@b");
    ck_assert_int_eq(feed("GET /a@b HTTP/1.1\r\nHost: h\r\n\r\n"),
                     HTTP_IN_DONE);
    ck_assert_str_eq(sq_path(r), "/a@b");
}
END_TEST

/* RFC 9110 9.1: a method token we do not implement is 501; what is not a
 * token is 400. */
START_TEST(unknown_method_is_501)
{
    ck_assert_int_eq(feed("FOO / HTTP/1.1\r\nHost: h\r\n\r\n"), -501);
    ck_assert_int_eq(feed("GETX / HTTP/1.1\r\nHost: h\r\n\r\n"), -501);
    ck_assert_int_eq(feed("PROPFINDX / HTTP/1.1\r\nHost: h\r\n\r\n"), -501);
    ck_assert_int_eq(feed("get / HTTP/1.1\r\nHost: h\r\n\r\n"), -501);
    ck_assert_int_eq(feed("X-Custom! / HTTP/1.1\r\nHost: h\r\n\r\n"), -501);
}
END_TEST

START_TEST(unknown_method_split_across_reads_is_501)
{
    size_t used;

    ck_assert_int_eq(feed_two("FO", "O / HTTP/1.1\r\nHost: h\r\n\r\n"), -501);
    ck_assert_int_eq(feed_two("FOO", " "), -501);
    /* while the token is incomplete, the request has begun (timers) */
    begin();
    ck_assert_int_eq(http_feed(h, "FO", 2, &used), HTTP_IN_MORE);
    ck_assert_int_eq(http_in_started(h), 1);
}
END_TEST

START_TEST(invalid_method_token_is_400)
{
    ck_assert_int_eq(feed("GE(T / HTTP/1.1\r\nHost: h\r\n\r\n"), -400);
    ck_assert_int_eq(feed("FOO\r\nHost: h\r\n\r\n"), -400);
    ck_assert_int_eq(feed(" GET / HTTP/1.1\r\nHost: h\r\n\r\n"), -400);
    ck_assert_int_eq(feed("G\x01T / HTTP/1.1\r\nHost: h\r\n\r\n"), -400);
    ck_assert_int_eq(feed_two("FO", "O\t/ HTTP/1.1\r\n\r\n"), -400);
}
END_TEST

START_TEST(endless_unknown_method_is_431)
{
    char big[2048];

    memset(big, 'F', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    ck_assert_int_eq(feed(big), -431);
}
END_TEST

START_TEST(method_known_to_the_library_is_parsed)
{
    ck_assert_int_eq(feed("PROPFIND /d HTTP/1.1\r\nHost: h\r\n\r\n"),
                     HTTP_IN_DONE);
    ck_assert_str_eq(sq_method(r), "PROPFIND");
    ck_assert_int_eq(r->method, METHOD_OTHER);
}
END_TEST

/* RFC 9112 6.1: Transfer-Encoding in an HTTP/1.0 message is faulty
 * framing. */
START_TEST(http10_transfer_encoding_is_400)
{
    ck_assert_int_eq(feed("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n"
                          "\r\n0\r\n\r\n"),
                     -400);
    ck_assert_int_eq(feed("POST / HTTP/1.0\r\nConnection: keep-alive\r\n"
                          "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n"
                          "0\r\n\r\n"),
                     -400);
}
END_TEST

/* A value or name that decodes to NUL would be cut short; skip the pair,
 * as the router refuses %00 in path parameters. */
START_TEST(query_arg_with_nul_is_skipped)
{
    ck_assert_int_eq(feed("GET /?name=admin%00.evil&name=bob&x%00y=1&ok=%41"
                          "&%00=2 HTTP/1.1\r\nHost: h\r\n\r\n"),
                     HTTP_IN_DONE);
    ck_assert_str_eq(sq_query_arg(r, "name"), "bob");
    ck_assert_ptr_null(sq_query_arg_n(r, "name", 1));
    ck_assert_ptr_null(sq_query_arg(r, "x"));
    ck_assert_ptr_null(sq_query_arg(r, ""));
    ck_assert_str_eq(sq_query_arg(r, "ok"), "A");
}
END_TEST

START_TEST(query_arg_with_broken_escape_is_skipped)
{
    ck_assert_int_eq(feed("GET /?a=%zz&a=2&b=%4 HTTP/1.1\r\nHost: h\r\n\r\n"),
                     HTTP_IN_DONE);
    ck_assert_str_eq(sq_query_arg(r, "a"), "2");
    ck_assert_ptr_null(sq_query_arg(r, "b"));
}
END_TEST

/* The body buffer grows with what arrives, not with what is declared. */
START_TEST(body_buffer_grows_with_what_arrives)
{
    const char *head = "POST / HTTP/1.1\r\nHost: h\r\n"
                       "Content-Length: 10485760\r\n\r\n";
    size_t used;

    lim.max_body_size = 10 * 1024 * 1024;
    begin();
    ck_assert_int_eq(http_feed(h, head, strlen(head), &used), HTTP_IN_HEAD);
    ck_assert_int_eq(http_feed(h, head + used, strlen(head) - used, &used),
                     HTTP_IN_MORE);
    ck_assert_int_eq(http_feed(h, "0123456789", 10, &used), HTTP_IN_MORE);
    ck_assert_uint_eq(r->body_len, 10);
    ck_assert_uint_lt(r->body_cap, 64 * 1024);
}
END_TEST

START_TEST(body_buffer_grows_to_the_declared_length)
{
    char req[8192];
    int n = snprintf(req, sizeof(req),
                     "POST / HTTP/1.1\r\nHost: h\r\n"
                     "Content-Length: 5000\r\n\r\n");
    size_t off = 0, used;
    int rc;

    for (int i = 0; i < 5000; i++)
        req[n + i] = (char)('a' + i % 26);
    n += 5000;
    lim.max_body_size = 5000;
    begin();
    /* in reads of 7 bytes: the buffer doubles, and stops at the length */
    do {
        size_t piece = (size_t)n - off < 7 ? (size_t)n - off : 7;
        rc = http_feed(h, req + off, piece, &used);
        off += used;
        ck_assert_int_ge(rc, 0);
    } while (rc != HTTP_IN_DONE);
    ck_assert_uint_eq(r->body_len, 5000);
    ck_assert_uint_eq(r->body_cap, 5001);
    ck_assert_int_eq(memcmp(r->body, req + n - 5000, 5000), 0);
    ck_assert_int_eq(r->body[5000], '\0');
}
END_TEST

START_TEST(small_body_gets_a_small_buffer)
{
    ck_assert_int_eq(feed("PUT /x HTTP/1.1\r\nHost: h\r\nContent-Length: 3"
                          "\r\n\r\nabc"),
                     HTTP_IN_DONE);
    ck_assert_uint_eq(r->body_cap, 4);
}
END_TEST

#define CHUNKED_HEAD                                                           \
    "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"

/* RFC 9112 7.1: chunk data ends with CRLF; non-strict http-parser takes
 * any two bytes there. */
START_TEST(chunk_data_not_followed_by_crlf_is_400)
{
    ck_assert_int_eq(feed(CHUNKED_HEAD "5\r\nhelloXY0\r\n\r\n"), -400);
    ck_assert_int_eq(feed(CHUNKED_HEAD "5\r\nhello\rX0\r\n\r\n"), -400);
    ck_assert_int_eq(feed(CHUNKED_HEAD "5\r\nhello\n0\r\n\r\n"), -400);
}
END_TEST

/* RFC 9112 2.2 in the lines that frame a chunked body. */
START_TEST(bare_cr_in_chunk_line_is_400)
{
    ck_assert_int_eq(feed(CHUNKED_HEAD "5\rXhello\r\n0\r\n\r\n"), -400);
    ck_assert_int_eq(feed(CHUNKED_HEAD "5;a=b\rXhello\r\n0\r\n\r\n"), -400);
    ck_assert_int_eq(feed(CHUNKED_HEAD "5\r\nhello\r\n0\rX\r\n"), -400);
}
END_TEST

START_TEST(bare_lf_in_chunk_extension_is_400)
{
    ck_assert_int_eq(feed(CHUNKED_HEAD "5;a\nb\r\nhello\r\n0\r\n\r\n"), -400);
}
END_TEST

START_TEST(trailer_fold_after_empty_value_is_400)
{
    ck_assert_int_eq(feed(CHUNKED_HEAD "5\r\nhello\r\n0\r\nX:\r\n b\r\n\r\n"),
                     -400);
    ck_assert_int_eq(feed(CHUNKED_HEAD "0\r\nX: a\r\rb\r\n\r\n"), -400);
}
END_TEST

START_TEST(chunk_larger_than_body_limit_is_413_before_data)
{
    ck_assert_int_eq(feed(CHUNKED_HEAD "65\r\n"), -413); /* 101 > 100 */
    ck_assert_int_eq(feed(CHUNKED_HEAD "ffffffffffffffffff\r\n"), -413);
}
END_TEST

/* A chunked request with extensions and a trailer, then a pipelined one,
 * fed one byte at a time: the scan keeps its place across reads and
 * across the byte the parser is given twice at the head. */
START_TEST(chunked_byte_at_a_time_is_fine)
{
    const char *s = CHUNKED_HEAD "5;ext=\"v\"\r\nhello\r\n6\r\n world\r\n"
                                 "0\r\nX-Sum: 1\r\n\r\n"
                                 "GET /next HTTP/1.1\r\nHost: h\r\n\r\n";
    size_t off = 0, used;
    int rc;

    begin();
    do {
        rc = http_feed(h, s + off, 1, &used);
        ck_assert_int_ge(rc, 0);
        off += used;
    } while (rc != HTTP_IN_DONE);
    ck_assert_str_eq(sq_body(r, NULL), "hello world");
    begin();
    ck_assert_int_eq(http_feed(h, s + off, strlen(s) - off, &used),
                     HTTP_IN_DONE);
    ck_assert_str_eq(sq_path(r), "/next");
}
END_TEST

START_TEST(chunked_in_one_read_then_pipelined_is_fine)
{
    const char *s = CHUNKED_HEAD "3\r\nabc\r\n0\r\n\r\n"
                                 "GET /next HTTP/1.1\r\nHost: h\r\n\r\n";
    size_t used;

    ck_assert_int_eq(feed_all(s, strlen(s), &used), HTTP_IN_DONE);
    ck_assert_str_eq(sq_body(r, NULL), "abc");
    begin();
    ck_assert_int_eq(http_feed(h, s + used, strlen(s) - used, &used),
                     HTTP_IN_DONE);
    ck_assert_str_eq(sq_path(r), "/next");
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("http");
    TCase *t = tcase_create("parser");

    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, simple_get);
    tcase_add_test(t, pipelined_requests_stop_after_each);
    tcase_add_test(t, byte_at_a_time);
    tcase_add_test(t, content_length_body);
    tcase_add_test(t, pauses_at_head_when_a_body_follows);
    tcase_add_test(t, chunked_body);
    tcase_add_test(t, chunked_trailer_is_accepted_and_dropped);
    tcase_add_test(t, bad_trailer_is_400);
    tcase_add_test(t, header_too_large_is_431);
    tcase_add_test(t, uri_too_long_is_414);
    tcase_add_test(t, body_too_large_by_length_is_413);
    tcase_add_test(t, body_too_large_by_chunks_is_413);
    tcase_add_test(t, length_and_chunked_is_400);
    tcase_add_test(t, conflicting_lengths_is_400);
    tcase_add_test(t, chunked_not_last_is_400);
    tcase_add_test(t, unknown_coding_is_501);
    tcase_add_test(t, obs_fold_is_400);
    tcase_add_test(t, obs_fold_across_reads_is_400);
    tcase_add_test(t, value_split_across_reads_is_fine);
    tcase_add_test(t, space_before_colon_is_400);
    tcase_add_test(t, control_char_in_value_is_400);
    tcase_add_test(t, control_char_in_name_is_400);
    tcase_add_test(t, missing_host_is_400);
    tcase_add_test(t, repeated_host_is_400);
    tcase_add_test(t, http10_without_host_is_fine);
    tcase_add_test(t, http2_version_is_505);
    tcase_add_test(t, garbage_is_400);
    tcase_add_test(t, unknown_expectation_is_417);
    tcase_add_test(t, absolute_form_target);
    tcase_add_test(t, upgrade_request_closes_after);
    tcase_add_test(t, bare_cr_before_a_line_is_400);
    tcase_add_test(t, bare_cr_in_value_is_400);
    tcase_add_test(t, bare_cr_in_request_line_is_400);
    tcase_add_test(t, bare_cr_at_end_of_a_read_is_400);
    tcase_add_test(t, crlf_split_across_reads_is_fine);
    tcase_add_test(t, bare_cr_in_body_is_data);
    tcase_add_test(t, empty_lines_before_request_line_are_ignored);
    tcase_add_test(t, connection_close_with_whitespace_closes);
    tcase_add_test(t, connection_close_in_a_list_closes);
    tcase_add_test(t, connection_other_tokens_keep_alive);
    tcase_add_test(t, http10_keep_alive_tokens);
    tcase_add_test(t, obs_fold_after_empty_value_is_400);
    tcase_add_test(t, obs_fold_after_empty_value_across_reads_is_400);
    tcase_add_test(t, whitespace_before_first_field_is_400);
    tcase_add_test(t, userinfo_in_absolute_target_is_400);
    tcase_add_test(t, at_sign_outside_authority_is_fine);
    tcase_add_test(t, unknown_method_is_501);
    tcase_add_test(t, unknown_method_split_across_reads_is_501);
    tcase_add_test(t, invalid_method_token_is_400);
    tcase_add_test(t, endless_unknown_method_is_431);
    tcase_add_test(t, method_known_to_the_library_is_parsed);
    tcase_add_test(t, http10_transfer_encoding_is_400);
    tcase_add_test(t, query_arg_with_nul_is_skipped);
    tcase_add_test(t, query_arg_with_broken_escape_is_skipped);
    tcase_add_test(t, body_buffer_grows_with_what_arrives);
    tcase_add_test(t, body_buffer_grows_to_the_declared_length);
    tcase_add_test(t, small_body_gets_a_small_buffer);
    tcase_add_test(t, chunk_data_not_followed_by_crlf_is_400);
    tcase_add_test(t, bare_cr_in_chunk_line_is_400);
    tcase_add_test(t, bare_lf_in_chunk_extension_is_400);
    tcase_add_test(t, trailer_fold_after_empty_value_is_400);
    tcase_add_test(t, chunk_larger_than_body_limit_is_413_before_data);
    tcase_add_test(t, chunked_byte_at_a_time_is_fine);
    tcase_add_test(t, chunked_in_one_read_then_pipelined_is_fine);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
