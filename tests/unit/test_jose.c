/*
 * test_jose.c - src/jose.c: what squall reads of a bearer token before
 * libjwt does (the compact form, base64url, the JOSE header's "alg") and
 * the require: templates of claim binding.
 */
#include "internal.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

static char err[256];

/* base64url of s, unpadded, into a static buffer */
static const char *b64(const char *s)
{
    static const char tbl[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    static char out[512];
    size_t n = strlen(s), o = 0;

    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned char)s[i] << 16;
        if (i + 1 < n)
            v |= (unsigned char)s[i + 1] << 8;
        if (i + 2 < n)
            v |= (unsigned char)s[i + 2];
        out[o++] = tbl[v >> 18 & 63];
        out[o++] = tbl[v >> 12 & 63];
        if (i + 1 < n)
            out[o++] = tbl[v >> 6 & 63];
        if (i + 2 < n)
            out[o++] = tbl[v & 63];
    }
    out[o] = '\0';
    return out;
}

static int header(const char *json)
{
    const char *h = b64(json);

    err[0] = '\0';
    return jose_header_check(h, strlen(h), "HS256", err, sizeof(err));
}

START_TEST(test_b64url)
{
    unsigned char out[16];

    ck_assert_int_eq(jose_b64url_decode("", 0, out, sizeof(out)), 0);
    ck_assert_int_eq(jose_b64url_decode("YQ", 2, out, sizeof(out)), 1);
    ck_assert_mem_eq(out, "a", 1);
    ck_assert_int_eq(jose_b64url_decode("YWI", 3, out, sizeof(out)), 2);
    ck_assert_mem_eq(out, "ab", 2);
    ck_assert_int_eq(jose_b64url_decode("YWJj", 4, out, sizeof(out)), 3);
    ck_assert_int_eq(jose_b64url_decode("-_-_", 4, out, sizeof(out)), 3);
    ck_assert_mem_eq(out, "\xfb\xff\xbf", 3);
    /* padding, the standard alphabet, a lone character, no room */
    ck_assert_int_eq(jose_b64url_decode("YQ==", 4, out, sizeof(out)), -1);
    ck_assert_int_eq(jose_b64url_decode("+/+/", 4, out, sizeof(out)), -1);
    ck_assert_int_eq(jose_b64url_decode("YWJjZ", 5, out, sizeof(out)), -1);
    ck_assert_int_eq(jose_b64url_decode("YWJj", 4, out, 2), -1);
}
END_TEST

START_TEST(test_split)
{
    struct jose_token t;

    ck_assert_int_eq(jose_split("aa.bb.cc", 8, &t, err, sizeof(err)), 0);
    ck_assert_uint_eq(t.len[0], 2);
    ck_assert_mem_eq(t.part[1], "bb", 2);
    ck_assert_mem_eq(t.part[2], "cc", 2);
    ck_assert_int_eq(jose_split("aa.bb.", 6, &t, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "the signature is empty");
    ck_assert_int_eq(jose_split(".bb.cc", 6, &t, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "the header is empty");
    ck_assert_int_eq(jose_split("aa.bb", 5, &t, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "not three parts separated by '.'");
    ck_assert_int_eq(jose_split("a.b.c.d", 7, &t, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "more than three parts");
    ck_assert_int_eq(jose_split("a.b=.c", 6, &t, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "a byte 0x3d that is not base64url at offset 3");
    /* the length given, not the NUL, ends it */
    ck_assert_int_eq(jose_split("a.b.c\0.d", 8, &t, err, sizeof(err)), -1);
}
END_TEST

START_TEST(test_header)
{
    ck_assert_int_eq(header("{\"alg\":\"HS256\",\"typ\":\"JWT\"}"), 0);
    ck_assert_int_eq(header("{\"alg\":\"none\"}"), -1);
    ck_assert_str_eq(err, "the header's \"alg\" is 'none', not HS256");
    ck_assert_int_eq(header("{\"alg\":\"hs256\"}"), -1);
    ck_assert_int_eq(header("{\"alg\":\"HS256 \"}"), -1);
    ck_assert_int_eq(header("{\"alg\":\"HS256\\u0000x\"}"), -1);
    ck_assert_int_eq(header("{\"alg\":\"RS256\"}"), -1);
    ck_assert_int_eq(header("{\"typ\":\"JWT\"}"), -1);
    ck_assert_str_eq(err, "the header has no \"alg\" string");
    ck_assert_int_eq(header("{\"alg\":[\"HS256\"]}"), -1);
    ck_assert_int_eq(header("[\"HS256\"]"), -1);
    ck_assert_str_eq(err, "the header is not a JSON object");
    /* which "alg" would another parser take? neither */
    ck_assert_int_eq(header("{\"alg\":\"none\",\"alg\":\"HS256\"}"), -1);
    ck_assert_int_eq(header("{\"alg\":\"HS256\",\"crit\":[\"b64\"]}"), -1);
    ck_assert_str_eq(err, "the header has \"crit\" extensions");
    ck_assert_int_eq(header("not json"), -1);
    ck_assert_int_eq(jose_header_check("!!", 2, "HS256", err, sizeof(err)), -1);
}
END_TEST

START_TEST(test_templates)
{
    static const char *const names[] = {"user", "room"};
    static const struct route_param p[] = {{"user", "alice"}, {"room", "r1"}};
    char out[16];

    ck_assert_int_eq(template_check("{user}", "", names, 2, err, sizeof(err)),
                     0);
    ck_assert_int_eq(
        template_check("x-{room}-{user}", "", names, 2, err, sizeof(err)), 0);
    ck_assert_int_eq(template_check("admin", "", names, 0, err, sizeof(err)),
                     0);
    ck_assert_int_eq(template_check("{who}", "", names, 2, err, sizeof(err)),
                     -1);
    ck_assert_int_eq(template_check("{}", "", names, 2, err, sizeof(err)), -1);
    ck_assert_int_eq(template_check("a}", "", names, 2, err, sizeof(err)), -1);
    ck_assert_int_eq(template_check("{a{b}}", "", names, 2, err, sizeof(err)),
                     -1);
    ck_assert_int_eq(template_fill("{user}", p, 2, out, sizeof(out)), 5);
    ck_assert_str_eq(out, "alice");
    ck_assert_int_eq(
        template_fill("x-{room}-{user}", p, 2, out, sizeof(out)), 10);
    ck_assert_str_eq(out, "x-r1-alice");
    ck_assert_int_eq(template_fill("{user}", p, 1, out, 5), -1);
    ck_assert_int_eq(template_fill("{room}", p, 1, out, sizeof(out)), -1);
    ck_assert_int_eq(template_fill("", p, 2, out, sizeof(out)), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("jose");
    TCase *tc = tcase_create("jose");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, test_b64url);
    tcase_add_test(tc, test_split);
    tcase_add_test(tc, test_header);
    tcase_add_test(tc, test_templates);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
