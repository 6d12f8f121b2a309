/*
 * test_utf8.c - src/utf8.c: incremental UTF-8 validation (RFC 3629).
 *
 * Besides hand-picked samples, every scalar value is encoded and checked,
 * and every one- to three-byte input is compared with a plain decoder
 * written here from the RFC's definition.
 */
#include "internal.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

/* Feeds s whole: 1 valid and complete, 0 not. */
static int valid(const char *s, size_t n)
{
    return utf8_valid((const uint8_t *)s, n);
}

#define VALID(lit) valid(lit, sizeof(lit) - 1)

/* Feeds s one byte at a time: the index of the byte at which it fails,
 * n if it never does (complete or not). */
static size_t fail_at(const char *s, size_t n)
{
    struct utf8_state st;

    utf8_init(&st);
    for (size_t i = 0; i < n; i++)
        if (utf8_feed(&st, (const uint8_t *)s + i, 1) < 0)
            return i;
    return n;
}

#define FAIL_AT(lit) fail_at(lit, sizeof(lit) - 1)

/* Encodes the scalar value c as RFC 3629 3 says (it does not refuse
 * surrogates); returns the length. */
static size_t encode(uint32_t c, uint8_t *out)
{
    if (c < 0x80) {
        out[0] = (uint8_t)c;
        return 1;
    }
    if (c < 0x800) {
        out[0] = (uint8_t)(0xc0 | c >> 6);
        out[1] = (uint8_t)(0x80 | (c & 0x3f));
        return 2;
    }
    if (c < 0x10000) {
        out[0] = (uint8_t)(0xe0 | c >> 12);
        out[1] = (uint8_t)(0x80 | (c >> 6 & 0x3f));
        out[2] = (uint8_t)(0x80 | (c & 0x3f));
        return 3;
    }
    out[0] = (uint8_t)(0xf0 | c >> 18);
    out[1] = (uint8_t)(0x80 | (c >> 12 & 0x3f));
    out[2] = (uint8_t)(0x80 | (c >> 6 & 0x3f));
    out[3] = (uint8_t)(0x80 | (c & 0x3f));
    return 4;
}

/* The reference: decodes each character by its bit pattern and refuses
 * what is not the shortest form, a surrogate or above U+10FFFF. */
static int reference_valid(const uint8_t *p, size_t n)
{
    static const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
    size_t i = 0;

    while (i < n) {
        size_t len = p[i] < 0x80   ? 1
                     : p[i] < 0xc0 ? 0
                     : p[i] < 0xe0 ? 2
                     : p[i] < 0xf0 ? 3
                     : p[i] < 0xf8 ? 4
                                   : 0;
        uint32_t c;

        if (len == 0 || i + len > n)
            return 0;
        c = len == 1 ? p[i] : p[i] & (0x7f >> len);
        for (size_t k = 1; k < len; k++) {
            if ((p[i + k] & 0xc0) != 0x80)
                return 0;
            c = c << 6 | (p[i + k] & 0x3f);
        }
        if (c < min[len] || (c >= 0xd800 && c <= 0xdfff) || c > 0x10ffff)
            return 0;
        i += len;
    }
    return 1;
}

/* A text with characters of every length, for splitting. */
static const char mixed[] = "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"
                            "z\xed\x9f\xbf\xee\x80\x80\xf4\x8f\xbf\xbf";

/* valid ---------------------------------------------------------------- */

START_TEST(test_empty_is_valid)
{
    struct utf8_state s;

    utf8_init(&s);
    ck_assert_int_eq(utf8_feed(&s, NULL, 0), 0);
    ck_assert(utf8_complete(&s));
    ck_assert(valid("", 0));
}
END_TEST

START_TEST(test_ascii_valid)
{
    ck_assert(VALID("hello, world"));
    ck_assert(VALID("\x00\x01\x7f"));
}
END_TEST

START_TEST(test_two_byte_valid)
{
    ck_assert(VALID("\xc2\x80"));    /* U+0080 */
    ck_assert(VALID("caf\xc3\xa9")); /* U+00E9 */
    ck_assert(VALID("\xdf\xbf"));    /* U+07FF */
}
END_TEST

START_TEST(test_three_byte_valid)
{
    ck_assert(VALID("\xe0\xa0\x80")); /* U+0800 */
    ck_assert(VALID("\xe2\x82\xac")); /* U+20AC */
    ck_assert(VALID("\xed\x9f\xbf")); /* U+D7FF, below the surrogates */
    ck_assert(VALID("\xee\x80\x80")); /* U+E000, above them */
    ck_assert(VALID("\xef\xbf\xbf")); /* U+FFFF */
}
END_TEST

START_TEST(test_four_byte_valid)
{
    ck_assert(VALID("\xf0\x90\x80\x80")); /* U+10000 */
    ck_assert(VALID("\xf0\x9f\x98\x80")); /* U+1F600 */
    ck_assert(VALID("\xf4\x8f\xbf\xbf")); /* U+10FFFF */
}
END_TEST

START_TEST(test_every_scalar_value_valid)
{
    uint8_t b[4];

    for (uint32_t c = 0; c <= 0x10ffff; c++) {
        if (c == 0xd800)
            c = 0xe000;
        if (!utf8_valid(b, encode(c, b))) /* not ck_assert: too slow */
            ck_abort_msg("U+%04X", c);
    }
}
END_TEST

/* The 8-byte ASCII path: a non-ASCII byte at any offset, in any
 * alignment, is still seen. */
START_TEST(test_ascii_fast_path_finds_every_position)
{
    char buf[64];

    for (size_t start = 0; start < 8; start++) {
        for (size_t pos = start; pos < sizeof(buf); pos++) {
            memset(buf, 'x', sizeof(buf));
            buf[pos] = (char)0x80;
            ck_assert_uint_eq(fail_at(buf + start, sizeof(buf) - start),
                              pos - start);
            ck_assert(!valid(buf + start, sizeof(buf) - start));
            buf[pos] = 'y';
            ck_assert(valid(buf + start, sizeof(buf) - start));
        }
    }
}
END_TEST

/* invalid -------------------------------------------------------------- */

START_TEST(test_overlong_two_byte)
{
    ck_assert(!VALID("\xc0\x80")); /* U+0000 */
    ck_assert(!VALID("\xc1\xbf")); /* U+007F */
    ck_assert_uint_eq(FAIL_AT("\xc0\x80"), 0);
}
END_TEST

START_TEST(test_overlong_three_byte)
{
    ck_assert(!VALID("\xe0\x80\x80")); /* U+0000 */
    ck_assert(!VALID("\xe0\x9f\xbf")); /* U+07FF */
    ck_assert_uint_eq(FAIL_AT("\xe0\x9f\xbf"), 1);
}
END_TEST

START_TEST(test_overlong_four_byte)
{
    ck_assert(!VALID("\xf0\x80\x80\x80")); /* U+0000 */
    ck_assert(!VALID("\xf0\x8f\xbf\xbf")); /* U+FFFF */
    ck_assert_uint_eq(FAIL_AT("\xf0\x8f\xbf\xbf"), 1);
}
END_TEST

START_TEST(test_surrogates)
{
    ck_assert(!VALID("\xed\xa0\x80")); /* U+D800 */
    ck_assert(!VALID("\xed\xbf\xbf")); /* U+DFFF */
    /* a surrogate pair, CESU-8 style */
    ck_assert(!VALID("\xed\xa0\xbd\xed\xb8\x80"));
    ck_assert_uint_eq(FAIL_AT("\xed\xa0\x80"), 1);
}
END_TEST

START_TEST(test_above_max)
{
    ck_assert(!VALID("\xf4\x90\x80\x80")); /* U+110000 */
    ck_assert(!VALID("\xf7\xbf\xbf\xbf"));
    ck_assert(!VALID("\xf8\x88\x80\x80\x80")); /* 5-byte forms */
    ck_assert(!VALID("\xfc\x84\x80\x80\x80\x80"));
    ck_assert(!VALID("\xfe"));
    ck_assert(!VALID("\xff"));
    ck_assert_uint_eq(FAIL_AT("\xf4\x90\x80\x80"), 1);
    ck_assert_uint_eq(FAIL_AT("\xf5\x80\x80\x80"), 0);
}
END_TEST

START_TEST(test_lone_continuation)
{
    ck_assert(!VALID("\x80"));
    ck_assert(!VALID("a\xbf"));
    ck_assert(!VALID("\xc3\xa9\xa9")); /* one too many */
    ck_assert_uint_eq(FAIL_AT("\xc3\xa9\xa9"), 2);
}
END_TEST

START_TEST(test_bad_continuation)
{
    ck_assert(!VALID("\xc3\x41"));
    ck_assert(!VALID("\xe2\x82\x41"));
    ck_assert(!VALID("\xf0\x9f\x98\xc3"));
    ck_assert(!VALID("\xe2\xc3\xa9"));
    ck_assert_uint_eq(FAIL_AT("\xe2\x82\x41"), 2);
}
END_TEST

/* A text ending inside a sequence passes every feed, but is not complete. */
START_TEST(test_truncated_at_end)
{
    static const char *const cut[] = {"\xc3", "\xe2",     "\xe2\x82",
                                      "\xf0", "\xf0\x9f", "\xf0\x9f\x98"};
    struct utf8_state s;

    for (size_t i = 0; i < ARRAY_LEN(cut); i++) {
        utf8_init(&s);
        ck_assert_int_eq(utf8_feed(&s, (const uint8_t *)"ok", 2), 0);
        ck_assert_int_eq(utf8_feed(&s, (const uint8_t *)cut[i], strlen(cut[i])),
                         0);
        ck_assert(!utf8_complete(&s));
        ck_assert(!valid(cut[i], strlen(cut[i])));
    }
}
END_TEST

START_TEST(test_every_short_input_matches_reference)
{
    uint8_t b[3];

    for (uint32_t v = 0; v < 1u << 24; v++) {
        size_t n = v < 1u << 8 ? 1 : v < 1u << 16 ? 2 : 3;

        for (size_t i = 0; i < n; i++)
            b[i] = (uint8_t)(v >> (8 * i));
        if (utf8_valid(b, n) != reference_valid(b, n))
            ck_abort_msg("%02x %02x %02x (%zu bytes)", b[0], b[1], b[2], n);
    }
}
END_TEST

/* incremental ---------------------------------------------------------- */

START_TEST(test_split_anywhere_in_two)
{
    size_t n = sizeof(mixed) - 1;
    const uint8_t *p = (const uint8_t *)mixed;
    struct utf8_state s;

    for (size_t cut = 0; cut <= n; cut++) {
        utf8_init(&s);
        ck_assert_int_eq(utf8_feed(&s, p, cut), 0);
        ck_assert_int_eq(utf8_feed(&s, p + cut, n - cut), 0);
        ck_assert(utf8_complete(&s));
    }
}
END_TEST

START_TEST(test_split_anywhere_in_three)
{
    size_t n = sizeof(mixed) - 1;
    const uint8_t *p = (const uint8_t *)mixed;
    struct utf8_state s;

    for (size_t a = 0; a <= n; a++) {
        for (size_t b = a; b <= n; b++) {
            utf8_init(&s);
            ck_assert_int_eq(utf8_feed(&s, p, a), 0);
            ck_assert_int_eq(utf8_feed(&s, p + a, b - a), 0);
            ck_assert_int_eq(utf8_feed(&s, p + b, n - b), 0);
            ck_assert(utf8_complete(&s));
        }
    }
}
END_TEST

/* Complete only at character boundaries: after each prefix that ends one. */
START_TEST(test_complete_only_on_boundaries)
{
    static const size_t bounds[] = {0, 1, 3, 6, 10, 11, 14, 17, 21};
    size_t n = sizeof(mixed) - 1, k = 0;
    struct utf8_state s;

    utf8_init(&s);
    for (size_t i = 0; i <= n; i++) {
        int at = k < ARRAY_LEN(bounds) && bounds[k] == i;

        ck_assert_int_eq(utf8_complete(&s), at);
        k += at;
        if (i < n)
            ck_assert_int_eq(utf8_feed(&s, (const uint8_t *)mixed + i, 1), 0);
    }
}
END_TEST

/* The bad byte is reported in whichever feed it is, wherever the cut. */
START_TEST(test_invalid_split_anywhere)
{
    static const char bad[] = "ab\xe2\x82\xac\xed\xa0\x80xyz";
    size_t n = sizeof(bad) - 1;
    const uint8_t *p = (const uint8_t *)bad;
    struct utf8_state s;

    for (size_t cut = 0; cut <= n; cut++) {
        int rc;

        utf8_init(&s);
        rc = utf8_feed(&s, p, cut);
        /* the A0 at offset 6 is the first impossible byte */
        ck_assert_int_eq(rc, cut > 6 ? -1 : 0);
        if (rc == 0)
            rc = utf8_feed(&s, p + cut, n - cut);
        ck_assert_int_eq(rc, -1);
    }
}
END_TEST

START_TEST(test_fails_fast)
{
    /* at the first impossible byte, not at the end */
    ck_assert_uint_eq(FAIL_AT("hello \xff world"), 6);
    ck_assert_uint_eq(FAIL_AT("\xe2\x82\xac\xe2\x28\xa1"), 4);
    ck_assert_uint_eq(FAIL_AT("\xf0\x9f\x98\x80\x80"), 4);
    ck_assert_uint_eq(FAIL_AT("x\xc1\x81"), 1);
}
END_TEST

START_TEST(test_invalid_sticks)
{
    struct utf8_state s;

    utf8_init(&s);
    ck_assert_int_eq(utf8_feed(&s, (const uint8_t *)"\xc0", 1), -1);
    ck_assert_int_eq(utf8_feed(&s, (const uint8_t *)"ok", 2), -1);
    ck_assert_int_eq(utf8_feed(&s, NULL, 0), -1);
    ck_assert(!utf8_complete(&s));
}
END_TEST

static Suite *utf8_suite(void)
{
    Suite *s = suite_create("utf8");
    TCase *tc = tcase_create("valid");

    tcase_add_test(tc, test_empty_is_valid);
    tcase_add_test(tc, test_ascii_valid);
    tcase_add_test(tc, test_two_byte_valid);
    tcase_add_test(tc, test_three_byte_valid);
    tcase_add_test(tc, test_four_byte_valid);
    tcase_add_test(tc, test_every_scalar_value_valid);
    tcase_add_test(tc, test_ascii_fast_path_finds_every_position);
    suite_add_tcase(s, tc);

    tc = tcase_create("invalid");
    tcase_add_test(tc, test_overlong_two_byte);
    tcase_add_test(tc, test_overlong_three_byte);
    tcase_add_test(tc, test_overlong_four_byte);
    tcase_add_test(tc, test_surrogates);
    tcase_add_test(tc, test_above_max);
    tcase_add_test(tc, test_lone_continuation);
    tcase_add_test(tc, test_bad_continuation);
    tcase_add_test(tc, test_truncated_at_end);
    tcase_add_test(tc, test_every_short_input_matches_reference);
    suite_add_tcase(s, tc);

    tc = tcase_create("incremental");
    tcase_add_test(tc, test_split_anywhere_in_two);
    tcase_add_test(tc, test_split_anywhere_in_three);
    tcase_add_test(tc, test_complete_only_on_boundaries);
    tcase_add_test(tc, test_invalid_split_anywhere);
    tcase_add_test(tc, test_fails_fast);
    tcase_add_test(tc, test_invalid_sticks);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(utf8_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
