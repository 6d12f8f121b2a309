/*
 * test_util.c - src/util.c: percent-decoding, status texts, CPU count.
 */
#include "internal.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Decodes s in a copy followed by a non-NUL byte, so that a missing
 * terminator shows. */
static long decode(const char *s, int plus, char *out, size_t outlen)
{
    size_t len = strlen(s);

    ck_assert_uint_lt(len, outlen);
    memcpy(out, s, len);
    out[len] = 'Z';
    return url_decode(out, len, plus);
}

START_TEST(test_url_decode_plain)
{
    char buf[64];

    ck_assert_int_eq(decode("/a/b.html", 0, buf, sizeof(buf)), 9);
    ck_assert_str_eq(buf, "/a/b.html");
    ck_assert_int_eq(decode("", 0, buf, sizeof(buf)), 0);
    ck_assert_str_eq(buf, "");
}
END_TEST

START_TEST(test_url_decode_escapes)
{
    char buf[64];

    ck_assert_int_eq(decode("a%20b%2Fc%2fd", 0, buf, sizeof(buf)), 7);
    ck_assert_str_eq(buf, "a b/c/d");
    ck_assert_int_eq(decode("%C3%b6%7e", 0, buf, sizeof(buf)), 3);
    ck_assert_str_eq(buf, "\xc3\xb6~");
    /* an escaped '%' is not decoded twice */
    ck_assert_int_eq(decode("%2541", 0, buf, sizeof(buf)), 3);
    ck_assert_str_eq(buf, "%41");
}
END_TEST

START_TEST(test_url_decode_nul_escape)
{
    char buf[64];

    ck_assert_int_eq(decode("a%00b", 0, buf, sizeof(buf)), 3);
    ck_assert_int_eq(memcmp(buf, "a\0b\0", 4), 0);
}
END_TEST

START_TEST(test_url_decode_plus)
{
    char buf[64];

    ck_assert_int_eq(decode("a+b%2B", 1, buf, sizeof(buf)), 4);
    ck_assert_str_eq(buf, "a b+");
    ck_assert_int_eq(decode("a+b%2B", 0, buf, sizeof(buf)), 4);
    ck_assert_str_eq(buf, "a+b+");
}
END_TEST

START_TEST(test_url_decode_bad_escapes)
{
    static const char *const bad[] = {"%",   "a%",  "%4",    "ab%4", "%zz",
                                      "%4g", "%g4", "x%%41", "%-1"};
    char buf[64];
    size_t i;

    for (i = 0; i < ARRAY_LEN(bad); i++) {
        size_t len = strlen(bad[i]);

        ck_assert_msg(decode(bad[i], 0, buf, sizeof(buf)) == -1, "%s", bad[i]);
        /* left as it was */
        ck_assert_msg(memcmp(buf, bad[i], len) == 0, "%s", bad[i]);
    }
}
END_TEST

START_TEST(test_url_decode_bounded_by_len)
{
    char buf[] = "ab%41%4";

    /* the incomplete escape lies beyond len and is not looked at */
    ck_assert_int_eq(url_decode(buf, 5, 0), 3);
    ck_assert_str_eq(buf, "abA");
}
END_TEST

START_TEST(test_url_decoded_len)
{
    ck_assert_int_eq(url_decoded_len("a%20b", 5), 3);
    ck_assert_int_eq(url_decoded_len("a+b", 3), 3);
    ck_assert_int_eq(url_decoded_len("", 0), 0);
    ck_assert_int_eq(url_decoded_len("%2", 2), -1);
    ck_assert_int_eq(url_decoded_len("%41%", 4), -1);
}
END_TEST

START_TEST(test_status_text_common)
{
    ck_assert_str_eq(http_status_text(200), "OK");
    ck_assert_str_eq(http_status_text(101), "Switching Protocols");
    ck_assert_str_eq(http_status_text(206), "Partial Content");
    ck_assert_str_eq(http_status_text(304), "Not Modified");
    ck_assert_str_eq(http_status_text(308), "Permanent Redirect");
    ck_assert_str_eq(http_status_text(404), "Not Found");
    ck_assert_str_eq(http_status_text(405), "Method Not Allowed");
    ck_assert_str_eq(http_status_text(408), "Request Timeout");
    ck_assert_str_eq(http_status_text(413), "Content Too Large");
    ck_assert_str_eq(http_status_text(414), "URI Too Long");
    ck_assert_str_eq(http_status_text(417), "Expectation Failed");
    ck_assert_str_eq(http_status_text(426), "Upgrade Required");
    ck_assert_str_eq(http_status_text(429), "Too Many Requests");
    ck_assert_str_eq(http_status_text(431), "Request Header Fields Too Large");
    ck_assert_str_eq(http_status_text(451), "Unavailable For Legal Reasons");
    ck_assert_str_eq(http_status_text(500), "Internal Server Error");
    ck_assert_str_eq(http_status_text(505), "HTTP Version Not Supported");
    ck_assert_str_eq(http_status_text(511), "Network Authentication Required");
}
END_TEST

START_TEST(test_status_text_all_listed)
{
    static const int codes[] = {
        100, 101, 200, 201, 202, 203, 204, 205, 206, 300, 301, 302, 303,
        304, 305, 307, 308, 400, 401, 402, 403, 404, 405, 406, 407, 408,
        409, 410, 411, 412, 413, 414, 415, 416, 417, 421, 422, 426, 428,
        429, 431, 451, 500, 501, 502, 503, 504, 505, 511};
    size_t i;

    for (i = 0; i < ARRAY_LEN(codes); i++)
        ck_assert_msg(strcmp(http_status_text(codes[i]), "Unknown") != 0,
                      "no text for %d", codes[i]);
}
END_TEST

START_TEST(test_status_text_unknown)
{
    static const int codes[] = {-1, 0, 99, 199, 306, 418, 599, 600, 1000};
    size_t i;

    for (i = 0; i < ARRAY_LEN(codes); i++)
        ck_assert_str_eq(http_status_text(codes[i]), "Unknown");
}
END_TEST

START_TEST(test_cpu_count)
{
    long online = sysconf(_SC_NPROCESSORS_ONLN);

    ck_assert_int_ge(cpu_count(), 1);
    if (online >= 1)
        ck_assert_int_eq(cpu_count(), online);
}
END_TEST

static Suite *util_suite(void)
{
    Suite *s = suite_create("util");
    TCase *tc = tcase_create("util");

    tcase_add_test(tc, test_url_decode_plain);
    tcase_add_test(tc, test_url_decode_escapes);
    tcase_add_test(tc, test_url_decode_nul_escape);
    tcase_add_test(tc, test_url_decode_plus);
    tcase_add_test(tc, test_url_decode_bad_escapes);
    tcase_add_test(tc, test_url_decode_bounded_by_len);
    tcase_add_test(tc, test_url_decoded_len);
    tcase_add_test(tc, test_status_text_common);
    tcase_add_test(tc, test_status_text_all_listed);
    tcase_add_test(tc, test_status_text_unknown);
    tcase_add_test(tc, test_cpu_count);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(util_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
