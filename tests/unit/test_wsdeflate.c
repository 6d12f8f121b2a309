/*
 * test_wsdeflate.c - src/wsdeflate.c: permessage-deflate negotiation (RFC
 * 7692 5, 7.1).
 */
#include "internal.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct wsdeflate_policy defpol = WSDEFLATE_POLICY_DEFAULT;

/* negotiation helpers ------------------------------------------------------ */

static struct wsdeflate_params agreed;
static char resp[WSDEFLATE_RESPONSE_MAX];

/* The value is copied to a heap block of its exact length, without a NUL,
 * so that the sanitizer build sees any read past its end. */
static int nego(const struct wsdeflate_policy *pol, const char *value)
{
    size_t len = strlen(value);
    char *copy = malloc(len ? len : 1);
    int rc;

    ck_assert_ptr_nonnull(copy);
    memcpy(copy, value, len);
    memset(&agreed, 0xee, sizeof(agreed));
    strcpy(resp, "(none)");
    rc = wsdeflate_negotiate(pol, copy, len, &agreed, resp);
    free(copy);
    return rc;
}

static void assert_agreed(int snct, int cnct, int sbits, int cbits)
{
    ck_assert_int_eq(agreed.server_no_context_takeover, snct);
    ck_assert_int_eq(agreed.client_no_context_takeover, cnct);
    ck_assert_int_eq(agreed.server_max_window_bits, sbits);
    ck_assert_int_eq(agreed.client_max_window_bits, cbits);
}

static struct wsdeflate_policy policy(int snct, int cnct, int sbits, int cbits)
{
    struct wsdeflate_policy p = {1, snct, cnct, sbits, cbits};

    return p;
}

/* negotiation ------------------------------------------------------------- */

START_TEST(test_nego_defaults)
{
    ck_assert_int_eq(nego(&defpol, "permessage-deflate"), 1);
    ck_assert_str_eq(resp, "permessage-deflate");
    assert_agreed(0, 0, 15, 15);
}
END_TEST

START_TEST(test_nego_disabled)
{
    struct wsdeflate_policy off = defpol;

    off.enabled = 0;
    ck_assert_int_eq(nego(&off, "permessage-deflate"), 0);
    ck_assert_str_eq(resp, "(none)");
}
END_TEST

START_TEST(test_nego_no_offer)
{
    ck_assert_int_eq(nego(&defpol, ""), 0);
    ck_assert_int_eq(nego(&defpol, "   "), 0);
    ck_assert_int_eq(nego(&defpol, "x-webkit-deflate-frame"), 0);
    ck_assert_int_eq(nego(&defpol, "permessage-deflatex; a=1"), 0);
    ck_assert_str_eq(resp, "(none)");
}
END_TEST

/* RFC 7692 7.1.1.1: the server must honour it */
START_TEST(test_nego_server_no_context_takeover_offered)
{
    ck_assert_int_eq(
        nego(&defpol, "permessage-deflate; server_no_context_takeover"), 1);
    ck_assert_str_eq(resp, "permessage-deflate; server_no_context_takeover");
    assert_agreed(1, 0, 15, 15);
}
END_TEST

/* RFC 7692 7.1.1.1: and may add it unasked */
START_TEST(test_nego_server_no_context_takeover_policy)
{
    struct wsdeflate_policy p = policy(1, 0, 15, 15);

    ck_assert_int_eq(nego(&p, "permessage-deflate"), 1);
    ck_assert_str_eq(resp, "permessage-deflate; server_no_context_takeover");
    assert_agreed(1, 0, 15, 15);
}
END_TEST

/* RFC 7692 7.1.1.2: a hint from the client, confirmed so it binds */
START_TEST(test_nego_client_no_context_takeover_offered)
{
    ck_assert_int_eq(
        nego(&defpol, "permessage-deflate; client_no_context_takeover"), 1);
    ck_assert_str_eq(resp, "permessage-deflate; client_no_context_takeover");
    assert_agreed(0, 1, 15, 15);
}
END_TEST

START_TEST(test_nego_client_no_context_takeover_policy)
{
    struct wsdeflate_policy p = policy(0, 1, 15, 15);

    ck_assert_int_eq(nego(&p, "permessage-deflate"), 1);
    ck_assert_str_eq(resp, "permessage-deflate; client_no_context_takeover");
    assert_agreed(0, 1, 15, 15);
}
END_TEST

/* RFC 7692 7.1.2.1: accepted by answering it, same value or smaller */
START_TEST(test_nego_server_max_window_bits_offered)
{
    struct wsdeflate_policy p9 = policy(0, 0, 9, 15);

    ck_assert_int_eq(
        nego(&defpol, "permessage-deflate; server_max_window_bits=10"), 1);
    ck_assert_str_eq(resp, "permessage-deflate; server_max_window_bits=10");
    assert_agreed(0, 0, 10, 15);
    ck_assert_int_eq(
        nego(&defpol, "permessage-deflate; server_max_window_bits=15"), 1);
    ck_assert_str_eq(resp, "permessage-deflate; server_max_window_bits=15");
    ck_assert_int_eq(
        nego(&defpol, "permessage-deflate; server_max_window_bits=8"), 1);
    ck_assert_str_eq(resp, "permessage-deflate; server_max_window_bits=8");
    assert_agreed(0, 0, 8, 15);
    ck_assert_int_eq(nego(&p9, "permessage-deflate; server_max_window_bits=12"),
                     1);
    ck_assert_str_eq(resp, "permessage-deflate; server_max_window_bits=9");
    assert_agreed(0, 0, 9, 15);
}
END_TEST

START_TEST(test_nego_server_max_window_bits_policy)
{
    struct wsdeflate_policy p = policy(0, 0, 11, 15);

    ck_assert_int_eq(nego(&p, "permessage-deflate"), 1);
    ck_assert_str_eq(resp, "permessage-deflate; server_max_window_bits=11");
    assert_agreed(0, 0, 11, 15);
}
END_TEST

/* RFC 7692 7.1.2.2: without a value the client lets the server choose */
START_TEST(test_nego_client_max_window_bits_no_value)
{
    struct wsdeflate_policy p = policy(0, 0, 15, 10);

    ck_assert_int_eq(
        nego(&defpol, "permessage-deflate; client_max_window_bits"), 1);
    ck_assert_str_eq(resp, "permessage-deflate");
    assert_agreed(0, 0, 15, 15);
    ck_assert_int_eq(nego(&p, "permessage-deflate; client_max_window_bits"), 1);
    ck_assert_str_eq(resp, "permessage-deflate; client_max_window_bits=10");
    assert_agreed(0, 0, 15, 10);
}
END_TEST

START_TEST(test_nego_client_max_window_bits_value)
{
    struct wsdeflate_policy p = policy(0, 0, 15, 10);

    ck_assert_int_eq(
        nego(&defpol, "permessage-deflate; client_max_window_bits=9"), 1);
    ck_assert_str_eq(resp, "permessage-deflate; client_max_window_bits=9");
    assert_agreed(0, 0, 15, 9);
    ck_assert_int_eq(nego(&p, "permessage-deflate; client_max_window_bits=12"),
                     1);
    ck_assert_str_eq(resp, "permessage-deflate; client_max_window_bits=10");
    assert_agreed(0, 0, 15, 10);
    ck_assert_int_eq(nego(&p, "permessage-deflate; client_max_window_bits=8"),
                     1);
    ck_assert_str_eq(resp, "permessage-deflate; client_max_window_bits=8");
    assert_agreed(0, 0, 15, 8);
}
END_TEST

/* A policy that limits the client's window cannot take an offer that does
 * not let it (RFC 7692 7.1.2.2), and tries the next one. */
START_TEST(test_nego_client_limit_needs_offer)
{
    struct wsdeflate_policy p = policy(0, 0, 15, 12);

    ck_assert_int_eq(nego(&p, "permessage-deflate"), 0);
    ck_assert_int_eq(nego(&p, "permessage-deflate; server_max_window_bits=10, "
                              "permessage-deflate; client_max_window_bits"),
                     1);
    ck_assert_str_eq(resp, "permessage-deflate; client_max_window_bits=12");
    assert_agreed(0, 0, 15, 12);
}
END_TEST

START_TEST(test_nego_all_parameters)
{
    struct wsdeflate_policy p = policy(0, 0, 12, 11);

    ck_assert_int_eq(nego(&p, "permessage-deflate; server_no_context_takeover;"
                              " client_no_context_takeover;"
                              " server_max_window_bits=14;"
                              " client_max_window_bits=13"),
                     1);
    ck_assert_str_eq(resp, "permessage-deflate; server_no_context_takeover; "
                           "client_no_context_takeover; "
                           "server_max_window_bits=12; "
                           "client_max_window_bits=11");
    assert_agreed(1, 1, 12, 11);
}
END_TEST

START_TEST(test_nego_longest_response_fits)
{
    struct wsdeflate_policy p = policy(1, 1, 10, 10);

    ck_assert_int_eq(nego(&p, "permessage-deflate; client_max_window_bits"), 1);
    ck_assert_uint_lt(strlen(resp), WSDEFLATE_RESPONSE_MAX);
}
END_TEST

/* The first acceptable offer wins; earlier bad ones are declined. */
START_TEST(test_nego_first_acceptable_offer)
{
    ck_assert_int_eq(nego(&defpol,
                          "permessage-deflate; server_max_window_bits=7,"
                          " permessage-deflate; server_max_window_bits=9,"
                          " permessage-deflate"),
                     1);
    ck_assert_str_eq(resp, "permessage-deflate; server_max_window_bits=9");
    assert_agreed(0, 0, 9, 15);
}
END_TEST

START_TEST(test_nego_other_extensions)
{
    ck_assert_int_eq(nego(&defpol, "foo; x=\"a,b;c\", bar,"
                                   " permessage-deflate, baz; q"),
                     1);
    ck_assert_str_eq(resp, "permessage-deflate");
}
END_TEST

/* RFC 7692 5.1: the server declines an offer with an unknown parameter, a
 * repeated one, or a bad value; each of these is the only offer here. */
START_TEST(test_nego_invalid_offers_declined)
{
    static const char *bad[] = {
        "permessage-deflate; foo",
        "permessage-deflate; foo=1",
        "permessage-deflate; server_no_context_takeover;"
        " server_no_context_takeover",
        "permessage-deflate; client_max_window_bits; client_max_window_bits=9",
        "permessage-deflate; server_max_window_bits=10;"
        " server_max_window_bits=10",
        "permessage-deflate; server_no_context_takeover=1",
        "permessage-deflate; client_no_context_takeover=\"\"",
        "permessage-deflate; server_max_window_bits",
        "permessage-deflate; server_max_window_bits=7",
        "permessage-deflate; server_max_window_bits=16",
        "permessage-deflate; server_max_window_bits=08",
        "permessage-deflate; server_max_window_bits=010",
        "permessage-deflate; server_max_window_bits=1",
        "permessage-deflate; server_max_window_bits=abc",
        "permessage-deflate; server_max_window_bits=\"\"",
        "permessage-deflate; server_max_window_bits=\"9 \"",
        "permessage-deflate; server_max_window_bits=9999999999999999999999",
        "permessage-deflate; client_max_window_bits=0",
        "permessage-deflate; client_max_window_bits=16",
        "permessage-deflate; client_max_window_bits=-9",
    };
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(nego(&defpol, bad[i]) == 0, "accepted: %s", bad[i]);
}
END_TEST

/* RFC 6455 9.1: a quoted value is unescaped, then must be a token */
START_TEST(test_nego_quoted_values)
{
    ck_assert_int_eq(
        nego(&defpol, "permessage-deflate; server_max_window_bits=\"10\""), 1);
    ck_assert_str_eq(resp, "permessage-deflate; server_max_window_bits=10");
    ck_assert_int_eq(
        nego(&defpol, "permessage-deflate; client_max_window_bits=\"1\\1\""),
        1);
    assert_agreed(0, 0, 15, 11);
}
END_TEST

START_TEST(test_nego_whitespace_and_case)
{
    struct wsdeflate_policy p = policy(0, 0, 15, 9);

    ck_assert_int_eq(nego(&p, " \tPermessage-Deflate ;Client_Max_Window_Bits ;"
                              "  server_max_window_bits = 10\t, foo "),
                     1);
    ck_assert_str_eq(resp, "permessage-deflate; server_max_window_bits=10; "
                           "client_max_window_bits=9");
    assert_agreed(0, 0, 10, 9);
}
END_TEST

/* RFC 7230 7: empty list elements are accepted */
START_TEST(test_nego_empty_elements)
{
    ck_assert_int_eq(nego(&defpol, ", ,permessage-deflate ,,"), 1);
    ck_assert_str_eq(resp, "permessage-deflate");
}
END_TEST

/* RFC 6455 9.1: a value that does not parse is -1, even after an offer
 * that was taken. */
START_TEST(test_nego_syntax_errors)
{
    static const char *bad[] = {
        ";",
        "permessage-deflate;",
        "permessage-deflate; ;",
        "permessage-deflate; =1",
        "permessage-deflate; a=",
        "permessage-deflate; server_max_window_bits=",
        "permessage-deflate; server_max_window_bits=\"",
        "permessage-deflate x",
        "permessage-deflate; a=b c",
        "foo; a=\"unterminated",
        "foo; a=\"bad\\",
        "foo; a=\"ctl\x01\"",
        "permessage-deflate, @",
        "permessage-deflate; server_max_window_bits=10 10",
        "\"permessage-deflate\"",
    };
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(nego(&defpol, bad[i]) == -1, "parsed: %s", bad[i]);
}
END_TEST

static Suite *wsdeflate_suite(void)
{
    Suite *s = suite_create("wsdeflate");
    TCase *tn = tcase_create("negotiate");

    tcase_add_test(tn, test_nego_defaults);
    tcase_add_test(tn, test_nego_disabled);
    tcase_add_test(tn, test_nego_no_offer);
    tcase_add_test(tn, test_nego_server_no_context_takeover_offered);
    tcase_add_test(tn, test_nego_server_no_context_takeover_policy);
    tcase_add_test(tn, test_nego_client_no_context_takeover_offered);
    tcase_add_test(tn, test_nego_client_no_context_takeover_policy);
    tcase_add_test(tn, test_nego_server_max_window_bits_offered);
    tcase_add_test(tn, test_nego_server_max_window_bits_policy);
    tcase_add_test(tn, test_nego_client_max_window_bits_no_value);
    tcase_add_test(tn, test_nego_client_max_window_bits_value);
    tcase_add_test(tn, test_nego_client_limit_needs_offer);
    tcase_add_test(tn, test_nego_all_parameters);
    tcase_add_test(tn, test_nego_longest_response_fits);
    tcase_add_test(tn, test_nego_first_acceptable_offer);
    tcase_add_test(tn, test_nego_other_extensions);
    tcase_add_test(tn, test_nego_invalid_offers_declined);
    tcase_add_test(tn, test_nego_quoted_values);
    tcase_add_test(tn, test_nego_whitespace_and_case);
    tcase_add_test(tn, test_nego_empty_elements);
    tcase_add_test(tn, test_nego_syntax_errors);
    suite_add_tcase(s, tn);

    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(wsdeflate_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
