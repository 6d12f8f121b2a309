/*
 * test_response.c - response serialisation (src/response.c): status line,
 * framing headers, HEAD, streaming with chunks, HTTP/1.0, error pages and
 * the header rules of the public API.
 */
#include "internal.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

static sq_pool *pool;
static sq_req *r;
static struct buf body, out;

static void setup(void)
{
    pool = pool_new(4096);
    ck_assert_ptr_nonnull(pool);
    r = sq_palloc(pool, sizeof(*r));
    /* the serialiser is pure: a transport is named (writes to a request
     * without one are dropped) but never called */
    req_init(r, pool, &body, NULL);
    r->out = &body;
    r->method = METHOD_GET;
    r->method_s = "GET";
    r->keep_alive = 1;
}

static void teardown(void)
{
    buf_free(&body);
    buf_free(&out);
    pool_free(pool);
}

/* What has been serialised so far, as a string. */
static const char *output(void)
{
    buf_add(&out, "", 1);
    out.len--;
    return out.p + out.off;
}

static void contains(const char *needle)
{
    ck_assert_msg(strstr(output(), needle) != NULL, "'%s' not in:\n%s", needle,
                  output());
}

static void lacks(const char *needle)
{
    ck_assert_msg(strstr(output(), needle) == NULL, "'%s' in:\n%s", needle,
                  output());
}

START_TEST(ok_with_length)
{
    sq_set_header(r, "Content-Type", "text/plain");
    sq_write(r, "Hello, world!", 13);
    ck_assert_int_eq(response_serialize(r, &out, NULL, 1), 0);
    ck_assert_int_eq(strncmp(output(),
                             "HTTP/1.1 200 OK\r\nServer: squall\r\n"
                             "Date: ",
                             39),
                     0);
    contains("\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\n"
             "Hello, world!");
    lacks("Connection:");
    ck_assert_uint_eq(buf_pending(&body), 0);
}
END_TEST

START_TEST(large_body_moves_to_tail)
{
    struct buf tail = {0};
    static char big[300 * 1024];

    memset(big, 'b', sizeof(big));
    sq_write(r, big, sizeof(big));
    ck_assert_int_eq(response_serialize(r, &out, &tail, 1), 0);
    contains("Content-Length: 307200\r\n\r\n");
    ck_assert_int_eq(strcmp(output() + strlen(output()) - 4, "\r\n\r\n"), 0);
    ck_assert_uint_eq(buf_pending(&tail), sizeof(big));
    ck_assert_int_eq(memcmp(tail.p + tail.off, big, sizeof(big)), 0);
    ck_assert_uint_eq(buf_pending(&body), 0);
    ck_assert_uint_eq(r->body_bytes, sizeof(big));
    buf_free(&tail);
}
END_TEST

START_TEST(small_body_is_copied_even_with_a_tail)
{
    struct buf tail = {0};

    sq_write(r, "small", 5);
    response_serialize(r, &out, &tail, 1);
    contains("\r\n\r\nsmall");
    ck_assert_uint_eq(buf_pending(&tail), 0);
}
END_TEST

START_TEST(default_content_type_is_html)
{
    sq_write(r, "x", 1);
    response_serialize(r, &out, NULL, 1);
    contains("Content-Type: text/html; charset=UTF-8\r\n");
}
END_TEST

START_TEST(head_has_length_but_no_body)
{
    r->method = METHOD_HEAD;
    sq_write(r, "Hello, world!", 13);
    response_serialize(r, &out, NULL, 1);
    contains("Content-Length: 13\r\n\r\n");
    ck_assert_int_eq(strcmp(output() + strlen(output()) - 4, "\r\n\r\n"), 0);
}
END_TEST

START_TEST(no_content_has_no_length)
{
    sq_set_status(r, 204);
    response_serialize(r, &out, NULL, 1);
    contains("HTTP/1.1 204 No Content\r\n");
    lacks("Content-Length");
    lacks("Content-Type");
}
END_TEST

START_TEST(flush_switches_to_chunked)
{
    sq_write(r, "first\n", 6);
    ck_assert_int_eq(response_serialize(r, &out, NULL, 0), 0);
    sq_write(r, "second\n", 7);
    response_serialize(r, &out, NULL, 1);
    contains("Transfer-Encoding: chunked\r\n\r\n6\r\nfirst\n\r\n7\r\nsecond\n"
             "\r\n0\r\n\r\n");
    lacks("Content-Length");
    ck_assert_int_eq(sq_set_header(r, "X-Late", "no"), SQ_ERROR);
    ck_assert_int_eq(sq_set_status(r, 500), SQ_ERROR);
}
END_TEST

START_TEST(http10_flush_is_close_delimited)
{
    r->version = 10;
    sq_write(r, "a", 1);
    response_serialize(r, &out, NULL, 0);
    response_serialize(r, &out, NULL, 1);
    lacks("chunked");
    lacks("Content-Length");
    ck_assert_int_eq(r->keep_alive, 0);
}
END_TEST

START_TEST(closing_http11_says_close)
{
    r->keep_alive = 0;
    response_serialize(r, &out, NULL, 1);
    contains("Connection: close\r\n");
}
END_TEST

START_TEST(kept_http10_says_keep_alive)
{
    r->version = 10;
    response_serialize(r, &out, NULL, 1);
    contains("Connection: keep-alive\r\n");
}
END_TEST

START_TEST(framing_headers_are_refused)
{
    ck_assert_int_eq(sq_set_header(r, "Content-Length", "5"), SQ_ERROR);
    ck_assert_int_eq(sq_add_header(r, "transfer-encoding", "chunked"),
                     SQ_ERROR);
    ck_assert_int_eq(sq_set_header(r, "Connection", "close"), SQ_ERROR);
    ck_assert_int_eq(sq_set_header(r, "X-Split", "a\r\nInjected: 1"), SQ_ERROR);
    ck_assert_int_eq(sq_set_header(r, "Bad Name", "v"), SQ_ERROR);
    response_serialize(r, &out, NULL, 1);
    lacks("Injected");
    contains("Content-Length: 0\r\n");
}
END_TEST

START_TEST(set_header_replaces_add_header_keeps)
{
    sq_set_header(r, "X-One", "a");
    sq_set_header(r, "x-one", "b");
    sq_add_header(r, "Set-Cookie", "a=1");
    sq_add_header(r, "Set-Cookie", "b=2");
    response_serialize(r, &out, NULL, 1);
    lacks("X-One: a");
    contains("x-one: b\r\n");
    contains("Set-Cookie: a=1\r\nSet-Cookie: b=2\r\n");
}
END_TEST

START_TEST(error_page_replaces_response)
{
    sq_set_header(r, "X-Gone", "1");
    sq_write(r, "partial", 7);
    ck_assert_int_eq(sq_send_error(r, 404), 0);
    response_serialize(r, &out, NULL, 1);
    contains("HTTP/1.1 404 Not Found\r\n");
    contains("<body>404: Not Found</body>");
    lacks("X-Gone");
    lacks("partial");
}
END_TEST

START_TEST(redirect_sets_location)
{
    ck_assert_int_eq(sq_redirect(r, "/next", 0), 0);
    response_serialize(r, &out, NULL, 1);
    contains("HTTP/1.1 302 Found\r\n");
    contains("Location: /next\r\n");
    ck_assert_int_eq(sq_redirect(r, "/x", 200), SQ_ERROR);
}
END_TEST

START_TEST(simple_error_closes)
{
    ck_assert_int_eq(response_simple_error(&out, 431, 1), 0);
    contains("HTTP/1.1 431 Request Header Fields Too Large\r\n");
    contains("Connection: close\r\n");
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("response");
    TCase *t = tcase_create("serialize");

    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, ok_with_length);
    tcase_add_test(t, large_body_moves_to_tail);
    tcase_add_test(t, small_body_is_copied_even_with_a_tail);
    tcase_add_test(t, default_content_type_is_html);
    tcase_add_test(t, head_has_length_but_no_body);
    tcase_add_test(t, no_content_has_no_length);
    tcase_add_test(t, flush_switches_to_chunked);
    tcase_add_test(t, http10_flush_is_close_delimited);
    tcase_add_test(t, closing_http11_says_close);
    tcase_add_test(t, kept_http10_says_keep_alive);
    tcase_add_test(t, framing_headers_are_refused);
    tcase_add_test(t, set_header_replaces_add_header_keeps);
    tcase_add_test(t, error_page_replaces_response);
    tcase_add_test(t, redirect_sets_location);
    tcase_add_test(t, simple_error_closes);
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
