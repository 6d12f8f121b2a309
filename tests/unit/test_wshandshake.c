/*
 * test_wshandshake.c - the WebSocket opening handshake rules
 * (src/wshandshake.c): which requests are a handshake, the accept key of
 * RFC 6455's own example, subprotocol choice, the origin check.
 */
#include "internal.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static sq_pool *pool;
static sq_req *r;

static void add(const char *name, const char *value)
{
    ck_assert_int_eq(req_add_header(r, name, strlen(name), value,
                                    strlen(value)),
                     0);
    if (strcasecmp(name, "Host") == 0)
        r->host = value;
}

/* A valid handshake (RFC 6455 1.2's example key). */
static void setup(void)
{
    pool = pool_new(4096);
    r = sq_palloc(pool, sizeof(*r));
    req_init(r, pool, NULL, NULL);
    r->method = METHOD_GET;
    r->method_s = "GET";
    r->version = 11;
    add("Host", "server.example.com");
    add("Upgrade", "websocket");
    add("Connection", "Upgrade");
    add("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==");
    add("Sec-WebSocket-Version", "13");
}

static void teardown(void)
{
    pool_free(pool);
}

/* Replaces the value of the first header `name`. */
static void set(const char *name, const char *value)
{
    for (size_t i = 0; i < r->nheaders; i++)
        if (strcasecmp(r->headers[i].name, name) == 0) {
            r->headers[i].value = value;
            r->headers[i].value_len = (uint32_t)strlen(value);
            return;
        }
    add(name, value);
}

static int check(void)
{
    const char *why = NULL;
    int rc = ws_check_request(r, &why);

    ck_assert(rc == 0 || why != NULL);
    return rc;
}

START_TEST(accept_key_of_the_rfc_example)
{
    char out[WS_ACCEPT_LEN + 1];

    /* RFC 6455 1.3 */
    ck_assert_int_eq(ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", out), 0);
    ck_assert_str_eq(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}
END_TEST

START_TEST(a_valid_handshake_passes)
{
    ck_assert_int_eq(check(), 0);
}
END_TEST

START_TEST(connection_lists_upgrade_among_tokens)
{
    set("Connection", "keep-alive, Upgrade");
    ck_assert_int_eq(check(), 0);
    set("Connection", "keep-alive,\tupgrade ");
    ck_assert_int_eq(check(), 0);
    set("Connection", "keep-alive, upgraded");
    ck_assert_int_eq(check(), 400);
}
END_TEST

START_TEST(upgrade_must_name_websocket)
{
    set("Upgrade", "h2c");
    ck_assert_int_eq(check(), 400);
    set("Upgrade", "WebSocket");
    ck_assert_int_eq(check(), 0);
}
END_TEST

START_TEST(only_get_over_http11)
{
    r->method = METHOD_POST;
    ck_assert_int_eq(check(), 400);
    r->method = METHOD_GET;
    r->version = 10;
    ck_assert_int_eq(check(), 400);
}
END_TEST

START_TEST(another_version_is_426)
{
    set("Sec-WebSocket-Version", "8");
    ck_assert_int_eq(check(), 426);
}
END_TEST

START_TEST(missing_version_is_426)
{
    for (size_t i = 0; i < r->nheaders; i++)
        if (strcasecmp(r->headers[i].name, "Sec-WebSocket-Version") == 0)
            r->headers[i].name = "X-Removed";
    ck_assert_int_eq(check(), 426);
}
END_TEST

START_TEST(key_must_be_16_bytes_of_base64)
{
    static const char *const bad[] = {
        "",
        "dGhlIHNhbXBsZSBub25jZQ",      /* no padding */
        "dGhlIHNhbXBsZSBub25jZQ=",     /* 23 */
        "dGhlIHNhbXBsZSBub25jZQ===",   /* 25 */
        "dGhlIHNhbXBsZSBub25j!Q==",    /* not base64 */
        "dGhlIHNhbXBsZSBub25jZWVl",    /* 18 bytes */
        "dGhlIHNhbXBsZSBub25jZQ=A",
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        set("Sec-WebSocket-Key", bad[i]);
        ck_assert_msg(check() == 400, "key '%s' passed", bad[i]);
        ck_assert_int_eq(ws_key_valid(bad[i]), 0);
    }
    ck_assert_int_eq(ws_key_valid(NULL), 0);
}
END_TEST

START_TEST(subprotocol_is_the_clients_first_we_support)
{
    static const char *const ours[] = {"chat", "superchat"};

    ck_assert_ptr_null(ws_select_protocol(r, ours, 2));
    add("Sec-WebSocket-Protocol", "v2.bookings, superchat");
    add("Sec-WebSocket-Protocol", "chat");
    ck_assert_str_eq(ws_select_protocol(r, ours, 2), "superchat");
    ck_assert_ptr_null(ws_select_protocol(r, ours, 0));
}
END_TEST

START_TEST(subprotocol_names_are_exact)
{
    static const char *const ours[] = {"chat"};

    add("Sec-WebSocket-Protocol", "Chat, chatty");
    ck_assert_ptr_null(ws_select_protocol(r, ours, 1));
}
END_TEST

START_TEST(origin_defaults_to_the_same_host)
{
    ck_assert_int_eq(ws_origin_allowed(r, NULL, 0), 1); /* no Origin */
    add("Origin", "http://server.example.com");
    ck_assert_int_eq(ws_origin_allowed(r, NULL, 0), 1);
    set("Origin", "https://SERVER.example.com/");
    ck_assert_int_eq(ws_origin_allowed(r, NULL, 0), 1);
    set("Origin", "http://evil.example.net");
    ck_assert_int_eq(ws_origin_allowed(r, NULL, 0), 0);
    set("Origin", "http://server.example.com.evil.net");
    ck_assert_int_eq(ws_origin_allowed(r, NULL, 0), 0);
    set("Origin", "http://server.example.com:8080");
    ck_assert_int_eq(ws_origin_allowed(r, NULL, 0), 0);
    set("Origin", "null");
    ck_assert_int_eq(ws_origin_allowed(r, NULL, 0), 0);
}
END_TEST

/* On an https request (TLS, or a trusted proxy's X-Forwarded-Proto) an
 * http page of the same host is refused; an https page is let in on
 * either scheme, as Tornado lets it (it compares the host only). */
START_TEST(origin_scheme_on_an_https_request)
{
    add("Origin", "https://server.example.com");
    r->https = 1;
    ck_assert_int_eq(ws_origin_allowed(r, NULL, 0), 1);
    set("Origin", "http://server.example.com");
    ck_assert_int_eq(ws_origin_allowed(r, NULL, 0), 0);
    set("Origin", "HTTP://server.example.com");
    ck_assert_int_eq(ws_origin_allowed(r, NULL, 0), 0);
    set("Origin", "https://evil.example.net");
    ck_assert_int_eq(ws_origin_allowed(r, NULL, 0), 0);
    r->https = 0;
    set("Origin", "http://server.example.com");
    ck_assert_int_eq(ws_origin_allowed(r, NULL, 0), 1);
    set("Origin", "https://server.example.com");
    ck_assert_int_eq(ws_origin_allowed(r, NULL, 0), 1);
}
END_TEST

START_TEST(origin_from_an_allowed_list)
{
    static const char *const list[] = {"https://app.example.com"};
    static const char *const any[] = {"*"};

    add("Origin", "https://app.example.com");
    ck_assert_int_eq(ws_origin_allowed(r, list, 1), 1);
    set("Origin", "http://server.example.com"); /* same host, not listed */
    ck_assert_int_eq(ws_origin_allowed(r, list, 1), 0);
    ck_assert_int_eq(ws_origin_allowed(r, any, 1), 1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("wshandshake");
    TCase *tc = tcase_create("handshake");
    SRunner *sr;
    int failed;

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, accept_key_of_the_rfc_example);
    tcase_add_test(tc, a_valid_handshake_passes);
    tcase_add_test(tc, connection_lists_upgrade_among_tokens);
    tcase_add_test(tc, upgrade_must_name_websocket);
    tcase_add_test(tc, only_get_over_http11);
    tcase_add_test(tc, another_version_is_426);
    tcase_add_test(tc, missing_version_is_426);
    tcase_add_test(tc, key_must_be_16_bytes_of_base64);
    tcase_add_test(tc, subprotocol_is_the_clients_first_we_support);
    tcase_add_test(tc, subprotocol_names_are_exact);
    tcase_add_test(tc, origin_defaults_to_the_same_host);
    tcase_add_test(tc, origin_scheme_on_an_https_request);
    tcase_add_test(tc, origin_from_an_allowed_list);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
