/*
 * test_cookie.c - Cookie headers read and Set-Cookie values written as
 * Tornado 6.2 does (src/cookie.c). The expected results come from
 * Debian's python3-tornado:
 *   /usr/bin/python3 -c 'from tornado.httputil import parse_cookie as p;
 *                        print(p(H))'
 * for each header H below, and for Set-Cookie from the Morsel that
 * RequestHandler.set_cookie fills:
 *   import http.cookies as c; s = c.SimpleCookie(); s["n"] = V; m = s["n"]
 *   m["domain"] = "ex.com"; m["expires"] = format_timestamp(1700000000)
 *   m["httponly"] = True; m["max-age"] = 3600; m["path"] = "/"
 *   m["samesite"] = "Lax"; m["secure"] = True; print(m.OutputString())
 */
#include "internal.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

/* {'a': '2', 'b': 'x\\"y;zq400', '': 'd', 'e': '', 'f': '"unterminated',
 *  'g': 'sp ace'} */
#define H1                                                                    \
    "a=1; b=\"x\\\\\\\"y\\073\\zq\\400\"; c ; =d; e=\"\"; a=2 ;"              \
    "f=\"unterminated; g = sp ace "
/* {'x': '\\\n', 'y': '\\', 'z': '\x081', 'w': 'a=b'} */
#define H2 "x=\"\\\n\"; y=\"\\\"; z=\"\\0101\"; w=a=b"

static char scratch[256], out[256];

static long get(const char *h, const char *name)
{
    long n = cookie_get(h, strlen(h), name, scratch, sizeof(scratch), out,
                        sizeof(out));

    if (n >= 0)
        out[n] = '\0';
    return n;
}

START_TEST(parse_like_tornado)
{
    ck_assert_int_eq(get(H1, "a"), 1);
    ck_assert_str_eq(out, "2"); /* the last one */
    ck_assert_int_eq(get(H1, "b"), 10);
    ck_assert_str_eq(out, "x\\\"y;zq400");
    ck_assert_int_eq(get(H1, ""), 1);
    ck_assert_str_eq(out, "d"); /* "c" had no '=', then "=d" */
    ck_assert_int_eq(get(H1, "e"), 0);
    ck_assert_int_eq(get(H1, "f"), 13);
    ck_assert_str_eq(out, "\"unterminated");
    ck_assert_int_eq(get(H1, "g"), 6);
    ck_assert_str_eq(out, "sp ace");
    ck_assert_int_eq(get(H1, "c"), -1);
    ck_assert_int_eq(get(H1, "h"), -1);
}
END_TEST

START_TEST(unquote_escapes_like_tornado)
{
    ck_assert_int_eq(get(H2, "x"), 2);
    ck_assert_str_eq(out, "\\\n"); /* a backslash before a newline stays */
    ck_assert_int_eq(get(H2, "y"), 1);
    ck_assert_str_eq(out, "\\");
    ck_assert_int_eq(get(H2, "z"), 2);
    ck_assert_str_eq(out, "\x08" "1");
    ck_assert_int_eq(get(H2, "w"), 3);
    ck_assert_str_eq(out, "a=b");
}
END_TEST

struct seen {
    int n;
    char names[8][16];
};

static int record(void *arg, const char *name, size_t nlen, const char *v,
                  size_t vlen)
{
    struct seen *s = arg;

    (void)v;
    (void)vlen;
    snprintf(s->names[s->n++], sizeof(s->names[0]), "%.*s", (int)nlen, name);
    return s->n == 8;
}

START_TEST(empty_pairs_are_skipped)
{
    struct seen s = {0};
    const char *h = ";;  ; k";

    ck_assert_int_eq(cookie_each(h, strlen(h), scratch, sizeof(scratch),
                                 record, &s),
                     0);
    ck_assert_int_eq(s.n, 1);
    ck_assert_str_eq(s.names[0], "");
    ck_assert_int_eq(cookie_each("", 0, scratch, 0, record, &s), 0);
    ck_assert_int_eq(s.n, 1);
}
END_TEST

START_TEST(scratch_must_hold_the_header)
{
    struct seen s = {0};

    ck_assert_int_eq(cookie_each(H1, strlen(H1), scratch, strlen(H1) - 1,
                                 record, &s),
                     -1);
    ck_assert_int_eq(cookie_get(H1, strlen(H1), "a", scratch, 4, out,
                                sizeof(out)),
                     -2);
    ck_assert_int_eq(cookie_get(H1, strlen(H1), "b", scratch, sizeof(scratch),
                                out, 9),
                     -2);
}
END_TEST

START_TEST(a_signed_value_reads_back_unquoted)
{
    static const char v[] =
        "2|1:0|10:1700000000|4:user|8:YWxpY2U=|"
        "b3d8324671865581a3c6a6707295875bd5161b16a5cb183cda067445d0e57271";
    char hdr[512];
    struct cookie_attrs a = {0};
    size_t n;

    ck_assert_int_eq(cookie_format("user", v, strlen(v), &a, hdr, sizeof(hdr),
                                   &n, NULL, 0),
                     0);
    ck_assert_int_eq(hdr[5], '"'); /* '=' is not a legal character */
    ck_assert_int_eq(get(hdr, "user"), (long)strlen(v));
    ck_assert_str_eq(out, v);
}
END_TEST

START_TEST(format_like_tornado)
{
    static const char v[] = "2|1:0|a=b;c,d\"\\\x7f\xe9" "x";
    struct cookie_attrs a = {"ex.com", "/", "Lax", 1, 1, 1700000000, 3600,
                             1, 1};
    char hdr[512];
    size_t n;

    ck_assert_int_eq(cookie_format("n", v, strlen(v), &a, hdr, sizeof(hdr),
                                   &n, NULL, 0),
                     0);
    ck_assert_str_eq(hdr, "n=\"2|1:0|a=b\\073c\\054d\\\"\\\\\\177\\351x\"; "
                          "Domain=ex.com; expires=Tue, 14 Nov 2023 22:13:20 "
                          "GMT; HttpOnly; Max-Age=3600; Path=/; SameSite=Lax; "
                          "Secure");
    ck_assert_uint_eq(n, strlen(hdr));
}
END_TEST

START_TEST(format_plain_value_and_path_only)
{
    struct cookie_attrs a = {0};
    char hdr[64];
    size_t n;

    a.path = "/";
    ck_assert_int_eq(cookie_format("_xsrf", "2|deadbeef|7e0c|17", 18, &a, hdr,
                                   sizeof(hdr), &n, NULL, 0),
                     0);
    ck_assert_str_eq(hdr, "_xsrf=2|deadbeef|7e0c|17; Path=/");
    /* clear_cookie: an empty value, expired a year ago */
    a.has_expires = 1;
    a.expires = 0;
    ck_assert_int_eq(cookie_format("x", "", 0, &a, hdr, sizeof(hdr), &n, NULL,
                                   0),
                     0);
    ck_assert_str_eq(hdr, "x=; expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/");
}
END_TEST

START_TEST(format_refuses_what_would_break_the_header)
{
    struct cookie_attrs a = {0}, bad = {0};
    char hdr[128], err[128];
    size_t n;

    ck_assert_int_eq(cookie_format("", "v", 1, &a, hdr, sizeof(hdr), &n, err,
                                   sizeof(err)),
                     -1);
    ck_assert_int_eq(cookie_format("a b", "v", 1, &a, hdr, sizeof(hdr), &n,
                                   err, sizeof(err)),
                     -1);
    ck_assert_int_eq(cookie_format("a=b", "v", 1, &a, hdr, sizeof(hdr), &n,
                                   err, sizeof(err)),
                     -1);
    ck_assert_int_eq(cookie_format("a;b", "v", 1, &a, hdr, sizeof(hdr), &n,
                                   err, sizeof(err)),
                     -1);
    ck_assert_int_eq(cookie_format("Path", "v", 1, &a, hdr, sizeof(hdr), &n,
                                   err, sizeof(err)),
                     -1);
    ck_assert_int_eq(cookie_format("n", "a b", 3, &a, hdr, sizeof(hdr), &n,
                                   err, sizeof(err)),
                     -1);
    ck_assert_int_eq(cookie_format("n", "a\r\nX: y", 7, &a, hdr, sizeof(hdr),
                                   &n, err, sizeof(err)),
                     -1);
    ck_assert_int_eq(cookie_format("n", "a\0b", 3, &a, hdr, sizeof(hdr), &n,
                                   err, sizeof(err)),
                     -1);
    bad.domain = "ex.com; Secure";
    ck_assert_int_eq(cookie_format("n", "v", 1, &bad, hdr, sizeof(hdr), &n,
                                   err, sizeof(err)),
                     -1);
    bad.domain = NULL;
    bad.path = "/\r\nX: y";
    ck_assert_int_eq(cookie_format("n", "v", 1, &bad, hdr, sizeof(hdr), &n,
                                   err, sizeof(err)),
                     -1);
    bad.path = NULL;
    bad.samesite = "Lax\n";
    ck_assert_int_eq(cookie_format("n", "v", 1, &bad, hdr, sizeof(hdr), &n,
                                   err, sizeof(err)),
                     -1);
}
END_TEST

START_TEST(format_refuses_a_small_buffer)
{
    struct cookie_attrs a = {0};
    char hdr[8];
    size_t n;

    ck_assert_int_eq(cookie_format("n", "123456", 6, &a, hdr, 9 - 1, &n, NULL,
                                   0),
                     -1); /* "n=123456" needs 9 with its NUL */
    ck_assert_int_eq(cookie_format("n", "12345", 5, &a, hdr, sizeof(hdr), &n,
                                   NULL, 0),
                     0);
    ck_assert_str_eq(hdr, "n=12345");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cookie");
    TCase *tc = tcase_create("cookie");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, parse_like_tornado);
    tcase_add_test(tc, unquote_escapes_like_tornado);
    tcase_add_test(tc, empty_pairs_are_skipped);
    tcase_add_test(tc, scratch_must_hold_the_header);
    tcase_add_test(tc, a_signed_value_reads_back_unquoted);
    tcase_add_test(tc, format_like_tornado);
    tcase_add_test(tc, format_plain_value_and_path_only);
    tcase_add_test(tc, format_refuses_what_would_break_the_header);
    tcase_add_test(tc, format_refuses_a_small_buffer);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
