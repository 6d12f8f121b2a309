/*
 * test_wsdeflate.c - src/wsdeflate.c: permessage-deflate negotiation (RFC
 * 7692 5, 7.1) and the message codec (7.2).
 *
 * What the server sends is decoded twice: by zlib at the agreed window,
 * and by a small DEFLATE decoder of this file's own (RFC 1951), which
 * also reports the longest distance, so the 8-bit window can be checked.
 * What the server receives is made by an independent zlib "client".
 */
#include "internal.h"

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

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

/* an independent DEFLATE decoder (RFC 1951) -------------------------------- */

struct inf {
    const unsigned char *in;
    size_t len, pos;
    unsigned bitbuf, bitcnt;
    unsigned char *out; /* all output so far: the history */
    size_t olen, ocap;
    size_t maxdist;
};

struct huff {
    short count[16];   /* codes of each length */
    short symbol[320]; /* symbols by code */
};

/* Next n bits, LSB first (RFC 1951 3.1.1); -1 past the end. */
static int bits(struct inf *s, unsigned n)
{
    unsigned v;

    while (s->bitcnt < n) {
        if (s->pos == s->len)
            return -1;
        s->bitbuf |= (unsigned)s->in[s->pos++] << s->bitcnt;
        s->bitcnt += 8;
    }
    v = s->bitbuf & ((1u << n) - 1);
    s->bitbuf >>= n;
    s->bitcnt -= n;
    return (int)v;
}

/* Canonical codes from code lengths (RFC 1951 3.2.2). */
static void huff_build(struct huff *h, const unsigned char *len, int n)
{
    short offs[16];
    int i;

    memset(h->count, 0, sizeof(h->count));
    for (i = 0; i < n; i++)
        h->count[len[i]]++;
    h->count[0] = 0;
    offs[1] = 0;
    for (i = 1; i < 15; i++)
        offs[i + 1] = (short)(offs[i] + h->count[i]);
    for (i = 0; i < n; i++)
        if (len[i])
            h->symbol[offs[len[i]]++] = (short)i;
}

/* Reads a code bit by bit, MSB of the code first. */
static int huff_decode(struct inf *s, const struct huff *h)
{
    int code = 0, first = 0, index = 0, len, b;

    for (len = 1; len < 16; len++) {
        if ((b = bits(s, 1)) < 0)
            return -1;
        code |= b;
        if (code - first < h->count[len])
            return h->symbol[index + code - first];
        index += h->count[len];
        first = (first + h->count[len]) << 1;
        code <<= 1;
    }
    return -1;
}

static void put(struct inf *s, unsigned char c)
{
    if (s->olen == s->ocap) {
        s->ocap = s->ocap ? 2 * s->ocap : 4096;
        s->out = realloc(s->out, s->ocap);
        ck_assert_ptr_nonnull(s->out);
    }
    s->out[s->olen++] = c;
}

static const short lbase[29] = {3,  4,  5,  6,   7,   8,   9,   10,  11, 13,
                                15, 17, 19, 23,  27,  31,  35,  43,  51, 59,
                                67, 83, 99, 115, 131, 163, 195, 227, 258};
static const short lext[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2,
                               2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
static const short dbase[30] = {
    1,    2,    3,    4,    5,    7,    9,    13,    17,    25,
    33,   49,   65,   97,   129,  193,  257,  385,   513,   769,
    1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577};
static const short dext[30] = {0, 0, 0,  0,  1,  1,  2,  2,  3,  3,
                               4, 4, 5,  5,  6,  6,  7,  7,  8,  8,
                               9, 9, 10, 10, 11, 11, 12, 12, 13, 13};

/* Literals and matches of one Huffman block; 0 at its end. */
static int codes(struct inf *s, const struct huff *lit, const struct huff *dist)
{
    int sym, len, d, e;

    for (;;) {
        if ((sym = huff_decode(s, lit)) < 0)
            return -1;
        if (sym < 256) {
            put(s, (unsigned char)sym);
            continue;
        }
        if (sym == 256)
            return 0;
        if ((sym -= 257) >= 29 || (e = bits(s, (unsigned)lext[sym])) < 0)
            return -1;
        len = lbase[sym] + e;
        if ((sym = huff_decode(s, dist)) < 0 || sym >= 30 ||
            (e = bits(s, (unsigned)dext[sym])) < 0)
            return -1;
        d = dbase[sym] + e;
        if ((size_t)d > s->olen)
            return -1;
        if ((size_t)d > s->maxdist)
            s->maxdist = (size_t)d;
        while (len--)
            put(s, s->out[s->olen - (size_t)d]);
    }
}

static int stored(struct inf *s)
{
    unsigned n;

    s->bitbuf = s->bitcnt = 0; /* to a byte boundary */
    if (s->len - s->pos < 4)
        return -1;
    n = s->in[s->pos] | (unsigned)s->in[s->pos + 1] << 8;
    if ((n ^ 0xffff) != (s->in[s->pos + 2] | (unsigned)s->in[s->pos + 3] << 8))
        return -1;
    s->pos += 4;
    if (s->len - s->pos < n)
        return -1;
    while (n--)
        put(s, s->in[s->pos++]);
    return 0;
}

static int fixed(struct inf *s)
{
    unsigned char len[320];
    struct huff lit, dist;
    int i;

    for (i = 0; i < 288; i++)
        len[i] = i < 144 ? 8 : i < 256 ? 9 : i < 280 ? 7 : 8;
    huff_build(&lit, len, 288);
    for (i = 0; i < 30; i++)
        len[i] = 5;
    huff_build(&dist, len, 30);
    return codes(s, &lit, &dist);
}

static int dynamic(struct inf *s)
{
    static const unsigned char order[19] = {16, 17, 18, 0, 8,  7, 9,  6, 10, 5,
                                            11, 4,  12, 3, 13, 2, 14, 1, 15};
    unsigned char len[320];
    struct huff lens, lit, dist;
    int nlen, ndist, ncode, i, sym, rep, prev;

    if ((nlen = bits(s, 5)) < 0 || (ndist = bits(s, 5)) < 0 ||
        (ncode = bits(s, 4)) < 0)
        return -1;
    nlen += 257;
    ndist += 1;
    ncode += 4;
    memset(len, 0, sizeof(len));
    for (i = 0; i < ncode; i++) {
        int v = bits(s, 3);
        if (v < 0)
            return -1;
        len[order[i]] = (unsigned char)v;
    }
    huff_build(&lens, len, 19);
    for (i = 0; i < nlen + ndist;) {
        if ((sym = huff_decode(s, &lens)) < 0)
            return -1;
        if (sym < 16) {
            len[i++] = (unsigned char)sym;
            continue;
        }
        prev = 0;
        if (sym == 16) {
            if (i == 0)
                return -1;
            prev = len[i - 1];
            rep = 3 + bits(s, 2);
        } else if (sym == 17) {
            rep = 3 + bits(s, 3);
        } else {
            rep = 11 + bits(s, 7);
        }
        if (i + rep > nlen + ndist)
            return -1;
        while (rep--)
            len[i++] = (unsigned char)prev;
    }
    huff_build(&lit, len, nlen);
    huff_build(&dist, len + nlen, ndist);
    return codes(s, &lit, &dist);
}

/* Decodes one message payload + 00 00 ff ff, appending to the history; the
 * longest distance is in s->maxdist. -1 when it is not DEFLATE. */
static int inf_message(struct inf *s, const unsigned char *p, size_t n)
{
    unsigned char *in = malloc(n + 4);
    int last = 0, type, rc = 0;

    ck_assert_ptr_nonnull(in);
    memcpy(in, p, n);
    memcpy(in + n, "\x00\x00\xff\xff", 4);
    s->in = in;
    s->len = n + 4;
    s->pos = 0;
    s->bitbuf = s->bitcnt = 0;
    while (rc == 0 && !last && (s->pos < s->len || s->bitcnt >= 3)) {
        last = bits(s, 1);
        type = bits(s, 2);
        if (last < 0 || type < 0)
            rc = -1;
        else if (type == 0)
            rc = stored(s);
        else if (type == 1)
            rc = fixed(s);
        else if (type == 2)
            rc = dynamic(s);
        else
            rc = -1;
    }
    free(in);
    return rc;
}

/* the client: zlib, independent of the code under test ----------------------
 */

/* zlib's own limits, not the code under test's: deflate makes no 8-bit
 * window, inflate takes -8 in zlib 1.2.13 */
static int zbits(int b)
{
    return b < 9 ? 9 : b;
}

static int mem_level(int b)
{
    return zbits(b) - 6 > 8 ? 8 : zbits(b) - 6;
}

struct client {
    z_stream def, inf;
    int takeover;
};

static void client_init(struct client *c, int bits, int takeover)
{
    memset(c, 0, sizeof(*c));
    c->takeover = takeover;
    ck_assert_int_eq(deflateInit2(&c->def, 6, Z_DEFLATED, -zbits(bits), 8,
                                  Z_DEFAULT_STRATEGY),
                     Z_OK);
    ck_assert_int_eq(inflateInit2(&c->inf, -15), Z_OK);
}

static void client_free(struct client *c)
{
    deflateEnd(&c->def);
    inflateEnd(&c->inf);
}

/* RFC 7692 7.2.1, done with zlib directly; *n gets the length. */
static unsigned char *client_compress(struct client *c, const void *in,
                                      size_t len, size_t *n)
{
    size_t cap = deflateBound(&c->def, len) + 64;
    unsigned char *out = malloc(cap);

    ck_assert_ptr_nonnull(out);
    if (len == 0) {
        /* an empty stored block: zlib will not flush nothing twice */
        out[0] = 0;
        *n = 1;
        return out;
    }
    c->def.next_in = (Bytef *)(uintptr_t)in;
    c->def.avail_in = (uInt)len;
    c->def.next_out = out;
    c->def.avail_out = (uInt)cap;
    ck_assert_int_eq(deflate(&c->def, Z_SYNC_FLUSH), Z_OK);
    ck_assert_uint_eq(c->def.avail_in, 0);
    ck_assert_uint_gt(c->def.avail_out, 0);
    *n = cap - c->def.avail_out;
    ck_assert_uint_ge(*n, 4);
    ck_assert_int_eq(memcmp(out + *n - 4, "\x00\x00\xff\xff", 4), 0);
    *n -= 4;
    if (!c->takeover)
        deflateReset(&c->def);
    return out;
}

/* Inflates with zlib at window bits `bits` (RFC 7692 7.2.2). */
static unsigned char *zlib_inflate(int bits, const void *in, size_t len,
                                   size_t expect)
{
    z_stream z;
    unsigned char *out = malloc(expect + 1);
    unsigned char *all = malloc(len + 4);

    ck_assert_ptr_nonnull(out);
    ck_assert_ptr_nonnull(all);
    memcpy(all, in, len);
    memcpy(all + len, "\x00\x00\xff\xff", 4);
    memset(&z, 0, sizeof(z));
    ck_assert_int_eq(inflateInit2(&z, -bits), Z_OK);
    z.next_in = all;
    z.avail_in = (uInt)(len + 4);
    z.next_out = out;
    z.avail_out = (uInt)(expect + 1);
    ck_assert_int_eq(inflate(&z, Z_SYNC_FLUSH), Z_OK);
    ck_assert_uint_eq(z.avail_in, 0);
    ck_assert_uint_eq(z.avail_out, 1);
    inflateEnd(&z);
    free(all);
    return out;
}

/* data ------------------------------------------------------------------ */

static unsigned long rnd_state = 12345;

static unsigned rnd(void)
{
    rnd_state = rnd_state * 6364136223846793005ul + 1442695040888963407ul;
    return (unsigned)(rnd_state >> 33);
}

static unsigned char *random_bytes(size_t n)
{
    unsigned char *p = malloc(n ? n : 1);
    size_t i;

    ck_assert_ptr_nonnull(p);
    for (i = 0; i < n; i++)
        p[i] = (unsigned char)rnd();
    return p;
}

/* Text that repeats at every distance: random words from a small set, so
 * that matches are found near and far. */
static unsigned char *text_bytes(size_t n)
{
    static const char *words[] = {
        "squall ", "deflate ", "window ",   "message ", "the ",
        "frame ",  "context ", "takeover ", "zlib ",    "\n"};
    unsigned char *p = malloc(n ? n : 1);
    size_t i = 0, k;
    const char *w;

    ck_assert_ptr_nonnull(p);
    while (i < n) {
        w = words[rnd() % 10];
        for (k = 0; w[k] && i < n; k++)
            p[i++] = (unsigned char)w[k];
        if (rnd() % 7 == 0 && i < n)
            p[i++] = (unsigned char)('A' + rnd() % 26);
    }
    return p;
}

static struct wsdeflate_params params(int snct, int cnct, int sbits, int cbits)
{
    struct wsdeflate_params p = {(uint8_t)snct, (uint8_t)cnct, (uint8_t)sbits,
                                 (uint8_t)cbits};

    return p;
}

/* server to client: compress, check with both decoders */
static size_t send_check(struct wsdeflate *d, struct inf *hist,
                         const unsigned char *msg, size_t len)
{
    struct buf out = {0};
    unsigned char *z;
    size_t before = hist->olen, n;

    ck_assert_int_eq(wsdeflate_compress(d, msg, len, &out), 0);
    n = out.len;
    ck_assert_int_eq(inf_message(hist, (unsigned char *)out.p, out.len), 0);
    ck_assert_uint_eq(hist->olen - before, len);
    ck_assert(len == 0 || memcmp(hist->out + before, msg, len) == 0);
    if (d->p.server_no_context_takeover) {
        /* each message alone, at the agreed window */
        z = zlib_inflate(d->p.server_max_window_bits, out.p, out.len, len);
        ck_assert(len == 0 || memcmp(z, msg, len) == 0);
        free(z);
    }
    buf_free(&out);
    return n;
}

/* client to server: compress with zlib, decompress, compare */
static void recv_check(struct wsdeflate *d, struct client *c,
                       const unsigned char *msg, size_t len)
{
    struct buf out = {0};
    size_t n;
    unsigned char *z = client_compress(c, msg, len, &n);

    ck_assert_int_eq(wsdeflate_decompress(d, z, n, len, &out), 0);
    ck_assert_uint_eq(out.len, len);
    ck_assert(len == 0 || memcmp(out.p, msg, len) == 0);
    free(z);
    buf_free(&out);
}

static void roundtrip(struct wsdeflate_params p, const unsigned char *msg,
                      size_t len)
{
    struct wsdeflate d;
    struct inf hist = {0};
    struct client c;
    int i;

    wsdeflate_init(&d, &p);
    client_init(&c, p.client_max_window_bits, !p.client_no_context_takeover);
    for (i = 0; i < 3; i++) {
        if (p.server_no_context_takeover)
            hist.olen = 0;
        send_check(&d, &hist, msg, len);
        recv_check(&d, &c, msg, len);
    }
    ck_assert_uint_le(hist.maxdist, 1u << p.server_max_window_bits);
    wsdeflate_free(&d);
    ck_assert_uint_eq(d.zmem, 0);
    client_free(&c);
    free(hist.out);
}

static struct wsdeflate_params takeover = {0, 0, 15, 15};
static struct wsdeflate_params no_takeover = {1, 1, 15, 15};

/* RFC 7692 7.2.3 examples ----------------------------------------------------
 */

static void assert_decompress(struct wsdeflate *d, const char *in, size_t n,
                              const char *expect)
{
    struct buf out = {0};

    ck_assert_int_eq(wsdeflate_decompress(d, in, n, 1000, &out), 0);
    ck_assert_uint_eq(out.len, strlen(expect));
    ck_assert(memcmp(out.p, expect, out.len) == 0);
    buf_free(&out);
}

START_TEST(test_rfc_examples_decompress)
{
    struct wsdeflate d;

    wsdeflate_init(&d, &takeover);
    /* 7.2.3.1 */
    assert_decompress(&d, "\xf2\x48\xcd\xc9\xc9\x07\x00", 7, "Hello");
    /* 7.2.3.2: the same again, then a reference to it */
    assert_decompress(&d, "\xf2\x00\x11\x00\x00", 5, "Hello");
    /* 7.2.3.3 */
    assert_decompress(&d, "\x00\x05\x00\xfa\xff\x48\x65\x6c\x6c\x6f\x00", 11,
                      "Hello");
    /* 7.2.3.4, BFINAL; then 7.2.3.2's reference still finds the window */
    assert_decompress(&d, "\xf3\x48\xcd\xc9\xc9\x07\x00\x00", 8, "Hello");
    assert_decompress(&d, "\xf2\x00\x11\x00\x00", 5, "Hello");
    /* 7.2.3.5 */
    assert_decompress(&d,
                      "\xf2\x48\x05\x00\x00\x00\xff\xff\xca\xc9\xc9\x07\x00",
                      13, "Hello");
    wsdeflate_free(&d);
}
END_TEST

START_TEST(test_rfc_example_compress)
{
    struct wsdeflate d;
    struct buf out = {0};

    wsdeflate_init(&d, &takeover);
    ck_assert_int_eq(wsdeflate_compress(&d, "Hello", 5, &out), 0);
    ck_assert_uint_eq(out.len, 7);
    ck_assert(memcmp(out.p, "\xf2\x48\xcd\xc9\xc9\x07\x00", 7) == 0);
    buf_clear(&out);
    /* 7.2.3.2: the second one refers to the first */
    ck_assert_int_eq(wsdeflate_compress(&d, "Hello", 5, &out), 0);
    ck_assert_uint_lt(out.len, 7);
    buf_free(&out);
    wsdeflate_free(&d);
}
END_TEST

/* round trips ------------------------------------------------------------- */

START_TEST(test_empty_message)
{
    struct wsdeflate d;
    struct buf out = {0};
    int i;

    wsdeflate_init(&d, &takeover);
    for (i = 0; i < 2; i++) {
        ck_assert_int_eq(wsdeflate_compress(&d, "", 0, &out), 0);
        ck_assert_uint_eq(out.len, 1);
        ck_assert_int_eq(out.p[0], 0);
        buf_clear(&out);
        ck_assert_int_eq(wsdeflate_compress(&d, "ab", 2, &out), 0);
        buf_clear(&out);
    }
    ck_assert_int_eq(wsdeflate_decompress(&d, "\x00", 1, 10, &out), 0);
    ck_assert_uint_eq(out.len, 0);
    /* not DEFLATE, but an empty message by any reading */
    ck_assert_int_eq(wsdeflate_decompress(&d, "", 0, 10, &out), 0);
    ck_assert_uint_eq(out.len, 0);
    roundtrip(takeover, (const unsigned char *)"", 0);
    roundtrip(no_takeover, (const unsigned char *)"", 0);
    buf_free(&out);
    wsdeflate_free(&d);
}
END_TEST

START_TEST(test_roundtrip_small)
{
    static const unsigned char hi[] = "Hello, squall!";

    roundtrip(takeover, hi, sizeof(hi) - 1);
    roundtrip(no_takeover, hi, sizeof(hi) - 1);
    roundtrip(params(0, 1, 15, 15), hi, 1);
    roundtrip(params(1, 0, 15, 15), hi, 1);
}
END_TEST

START_TEST(test_roundtrip_1mib_random)
{
    unsigned char *p = random_bytes(1 << 20);

    roundtrip(takeover, p, 1 << 20);
    roundtrip(no_takeover, p, 1 << 20);
    free(p);
}
END_TEST

START_TEST(test_roundtrip_1mib_repetitive)
{
    unsigned char *p = text_bytes(1 << 20);
    struct wsdeflate d;
    struct buf out = {0};

    roundtrip(takeover, p, 1 << 20);
    roundtrip(no_takeover, p, 1 << 20);
    wsdeflate_init(&d, &takeover);
    ck_assert_int_eq(wsdeflate_compress(&d, p, 1 << 20, &out), 0);
    ck_assert_uint_lt(out.len, (1 << 20) / 3);
    buf_free(&out);
    wsdeflate_free(&d);
    free(p);
}
END_TEST

/* context takeover -----------------------------------------------------------
 */

/* RFC 7692 7.2.3.2: with takeover the second message refers to the first */
START_TEST(test_takeover_second_message_smaller)
{
    unsigned char *p = text_bytes(2000);
    struct wsdeflate d;
    struct inf hist = {0};
    size_t first, second;

    wsdeflate_init(&d, &takeover);
    first = send_check(&d, &hist, p, 2000);
    second = send_check(&d, &hist, p, 2000);
    ck_assert_uint_lt(second * 10, first);
    ck_assert_uint_gt(d.zmem, 0); /* kept for the next message */
    wsdeflate_free(&d);
    free(hist.out);
    memset(&hist, 0, sizeof(hist));

    wsdeflate_init(&d, &no_takeover);
    first = send_check(&d, &hist, p, 2000);
    hist.olen = 0;
    second = send_check(&d, &hist, p, 2000);
    ck_assert_uint_eq(second, first);
    wsdeflate_free(&d);
    free(hist.out);
    free(p);
}
END_TEST

/* Without takeover no zlib stream outlives its message. */
START_TEST(test_no_takeover_frees_streams)
{
    unsigned char *p = text_bytes(5000);
    struct wsdeflate d;
    struct client c;
    struct inf hist = {0};

    wsdeflate_init(&d, &no_takeover);
    client_init(&c, 15, 0);
    ck_assert_uint_eq(d.zmem, 0);
    send_check(&d, &hist, p, 5000);
    ck_assert_ptr_null(d.tx);
    ck_assert_uint_eq(d.zmem, 0);
    recv_check(&d, &c, p, 5000);
    ck_assert_ptr_null(d.rx);
    ck_assert_uint_eq(d.zmem, 0);
    ck_assert_uint_gt(d.zpeak, 0);
    client_free(&c);
    free(hist.out);
    free(p);
}
END_TEST

/* One direction with takeover, the other without. */
START_TEST(test_takeover_per_direction)
{
    unsigned char *p = text_bytes(5000);
    struct wsdeflate d;
    struct client c;
    struct inf hist = {0};
    struct wsdeflate_params sp = params(1, 0, 15, 15);

    wsdeflate_init(&d, &sp);
    client_init(&c, 15, 1);
    send_check(&d, &hist, p, 5000);
    recv_check(&d, &c, p, 5000);
    recv_check(&d, &c, p, 5000); /* refers to the first */
    ck_assert_ptr_null(d.tx);
    ck_assert_ptr_nonnull(d.rx);
    wsdeflate_free(&d);
    ck_assert_uint_eq(d.zmem, 0);
    client_free(&c);
    free(hist.out);
    free(p);
}
END_TEST

/* A peer that ends a message with a final block (RFC 7692 7.2.3.4) may
 * still refer to it from the next one. */
START_TEST(test_final_block_then_reference)
{
    unsigned char *p = text_bytes(3000), m1[4000], m2[4000];
    struct wsdeflate d;
    struct buf out = {0};
    z_stream z;
    size_t n1, n2;

    memset(&z, 0, sizeof(z));
    ck_assert_int_eq(deflateInit2(&z, 6, Z_DEFLATED, -15, 8, 0), Z_OK);
    z.next_in = p;
    z.avail_in = 3000;
    z.next_out = m1;
    z.avail_out = sizeof(m1) - 1;
    ck_assert_int_eq(deflate(&z, Z_FINISH), Z_STREAM_END);
    n1 = sizeof(m1) - 1 - z.avail_out;
    m1[n1++] = 0; /* 7.2.3.4: an empty stored block, its tail removed */
    deflateReset(&z);
    ck_assert_int_eq(deflateSetDictionary(&z, p, 3000), Z_OK);
    z.next_in = p;
    z.avail_in = 3000;
    z.next_out = m2;
    z.avail_out = sizeof(m2);
    ck_assert_int_eq(deflate(&z, Z_SYNC_FLUSH), Z_OK);
    n2 = sizeof(m2) - z.avail_out - 4;
    deflateEnd(&z);
    ck_assert_uint_lt(n2, 100);

    wsdeflate_init(&d, &takeover);
    ck_assert_int_eq(wsdeflate_decompress(&d, m1, n1, 3000, &out), 0);
    ck_assert_uint_eq(out.len, 3000);
    buf_clear(&out);
    ck_assert_int_eq(wsdeflate_decompress(&d, m2, n2, 3000, &out), 0);
    ck_assert_uint_eq(out.len, 3000);
    ck_assert(memcmp(out.p, p, 3000) == 0);
    buf_free(&out);
    wsdeflate_free(&d);
    free(p);
}
END_TEST

/* window bits ------------------------------------------------------------- */

/* Copies n random bytes to p + at and again to p + at + dist. */
static void repeat_at(unsigned char *p, size_t at, size_t dist, size_t n)
{
    unsigned char *r = random_bytes(n);

    memcpy(p + at, r, n);
    memcpy(p + at + dist, r, n);
    free(r);
}

/* Server to client at each window size, over random data with a few
 * repeats: one just inside the window, which must be found, and one just
 * outside, which must not; with takeover and across two messages. 8 bits
 * is the case that matters: zlib compresses with 9, and a repeat at 300
 * bytes must still not become a match (RFC 7692 7.1.2.1). */
START_TEST(test_server_window_bits)
{
    int bits = _i;
    size_t w = (size_t)1 << bits, len = 4 * w + 8192;
    size_t inside = bits == 8 ? 240 : w - 300;
    unsigned char *p = random_bytes(len);
    struct wsdeflate_params wp = params(0, 0, bits, 15);
    struct wsdeflate d;
    struct inf hist = {0};

    repeat_at(p, 1000, inside, 100);
    repeat_at(p, 3000, 300, 100);
    repeat_at(p, 5000, w + 100, 100);
    wsdeflate_init(&d, &wp);
    send_check(&d, &hist, p, 1100 + inside / 2);
    send_check(&d, &hist, p + 1100 + inside / 2, len - 1100 - inside / 2);
    ck_assert_uint_le(hist.maxdist, w);
    ck_assert_uint_ge(hist.maxdist, inside);
    wsdeflate_free(&d);
    free(hist.out);
    free(p);
}
END_TEST

/* Each message alone, decoded by zlib at the agreed window, 8 included
 * when zlib's inflate takes it. */
START_TEST(test_server_window_bits_zlib)
{
    int bits = _i;
    unsigned char *p = text_bytes(100000);
    struct wsdeflate_params wp = params(1, 0, bits, 15);
    struct wsdeflate d;
    struct inf hist = {0};

    wsdeflate_init(&d, &wp);
    send_check(&d, &hist, p, 100000);
    send_check(&d, &hist, p, 100000);
    ck_assert_uint_le(hist.maxdist, 1u << bits);
    wsdeflate_free(&d);
    free(hist.out);
    free(p);
}
END_TEST

/* Client to server at each window size: zlib as the client, which itself
 * compresses with 9 bits when 8 was agreed. */
START_TEST(test_client_window_bits)
{
    int bits = _i;
    unsigned char *p = text_bytes(100000);

    roundtrip(params(0, 0, 15, bits), p, 100000);
    roundtrip(params(1, 1, 15, bits), p, 100000);
    roundtrip(params(0, 0, bits, bits), p, 100000);
    free(p);
}
END_TEST

/* A client that uses a larger window than agreed is caught when it refers
 * back past it into an earlier message. */
START_TEST(test_client_window_exceeded)
{
    unsigned char *p = random_bytes(2000);
    struct wsdeflate_params wp = params(0, 0, 15, 9);
    struct wsdeflate d;
    struct client c;
    struct buf out = {0};
    unsigned char *z;
    size_t n;

    wsdeflate_init(&d, &wp);
    client_init(&c, 15, 1);
    recv_check(&d, &c, p, 2000);
    z = client_compress(&c, p, 2000, &n); /* distance 2000 > 512 */
    ck_assert_int_eq(wsdeflate_decompress(&d, z, n, 2000, &out),
                     WSDEFLATE_EDATA);
    ck_assert_uint_eq(out.len, 0);
    ck_assert_ptr_null(d.rx);
    free(z);
    buf_free(&out);
    client_free(&c);
    free(p);
}
END_TEST

/* limits ----------------------------------------------------------------- */

/* 16 MiB of zeros in about 16 KiB: the limit is reached without out ever
 * growing past it, and zlib holds only its state and window. */
START_TEST(test_zip_bomb)
{
    size_t big = 16u << 20, max = 64 * 1024, n;
    unsigned char *zeros = calloc(1, big), *z;
    struct wsdeflate d;
    struct client c;
    struct buf out = {0};

    ck_assert_ptr_nonnull(zeros);
    client_init(&c, 15, 1);
    z = client_compress(&c, zeros, big, &n);
    ck_assert_uint_lt(n, 20000);
    wsdeflate_init(&d, &takeover);
    ck_assert_int_eq(wsdeflate_decompress(&d, z, n, max, &out),
                     WSDEFLATE_ETOOBIG);
    ck_assert_uint_eq(out.len, 0);
    ck_assert_uint_le(out.cap, max);
    ck_assert_uint_lt(d.zpeak, 48 * 1024);
    ck_assert_uint_eq(d.zmem, 0);
    ck_assert_ptr_null(d.rx);
    buf_free(&out);
    free(z);
    client_free(&c);
    free(zeros);
}
END_TEST

START_TEST(test_limit_exact)
{
    unsigned char *p = text_bytes(10000), *z;
    struct wsdeflate d;
    struct client c;
    struct buf out = {0};
    size_t n;

    client_init(&c, 15, 0);
    z = client_compress(&c, p, 10000, &n);
    wsdeflate_init(&d, &no_takeover);
    ck_assert_int_eq(wsdeflate_decompress(&d, z, n, 9999, &out),
                     WSDEFLATE_ETOOBIG);
    ck_assert_uint_le(out.cap, 9999);
    ck_assert_int_eq(wsdeflate_decompress(&d, z, n, 10000, &out), 0);
    ck_assert_uint_eq(out.len, 10000);
    ck_assert_uint_le(out.cap, 10000);
    ck_assert(memcmp(out.p, p, 10000) == 0);
    ck_assert_int_eq(wsdeflate_decompress(&d, "\x00", 1, 0, &out), 0);
    buf_free(&out);
    free(z);
    client_free(&c);
    free(p);
}
END_TEST

/* The limit counts what this message adds to out. */
START_TEST(test_limit_appends)
{
    struct wsdeflate d;
    struct buf out = {0};

    wsdeflate_init(&d, &takeover);
    ck_assert_int_eq(buf_add(&out, "abc", 3), 0);
    ck_assert_int_eq(
        wsdeflate_decompress(&d, "\xf2\x48\xcd\xc9\xc9\x07\x00", 7, 5, &out),
        0);
    ck_assert_uint_eq(out.len, 8);
    ck_assert(memcmp(out.p, "abcHello", 8) == 0);
    ck_assert_int_eq(
        wsdeflate_decompress(&d, "\xf2\x00\x11\x00\x00", 5, 4, &out),
        WSDEFLATE_ETOOBIG);
    ck_assert_uint_eq(out.len, 8);
    buf_free(&out);
    wsdeflate_free(&d);
}
END_TEST

/* corrupt input ----------------------------------------------------------- */

START_TEST(test_corrupt_input)
{
    static const struct {
        const char *p;
        size_t n;
    } bad[] = {
        {"\xff", 1},                     /* block type 3 */
        {"\x07", 1},                     /* type 3 again, final */
        {"\x00\x05\x00\x00\x00", 5},     /* stored, NLEN wrong */
        {"\x00\x0a\x00\xf5\xff\x48", 6}, /* stored, cut short */
        {"\xf2\x48\xcd\xc9\xc9", 5},     /* Huffman block cut short */
        {"\xf2\x00\x11\x00\x00", 5},     /* distance before the start */
        {"\xfc\xff\xff\xff", 4},         /* dynamic, bad code lengths */
    };
    struct wsdeflate d;
    struct buf out = {0};
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        wsdeflate_init(&d, &takeover);
        ck_assert_msg(wsdeflate_decompress(&d, bad[i].p, bad[i].n, 1000,
                                           &out) == WSDEFLATE_EDATA,
                      "bad[%zu] accepted", i);
        ck_assert_uint_eq(out.len, 0);
        ck_assert_uint_eq(d.zmem, 0);
        wsdeflate_free(&d);
    }
    buf_free(&out);
}
END_TEST

/* Random payloads: an error or a message within the limit, never more. */
START_TEST(test_random_input)
{
    struct wsdeflate d;
    struct buf out = {0};
    unsigned char *p;
    int i, rc;

    for (i = 0; i < 2000; i++) {
        size_t n = 1 + rnd() % 64;

        p = random_bytes(n);
        wsdeflate_init(&d, &takeover);
        rc = wsdeflate_decompress(&d, p, n, 300, &out);
        ck_assert(rc == 0 || rc == WSDEFLATE_EDATA || rc == WSDEFLATE_ETOOBIG);
        ck_assert_uint_le(out.len, 300);
        ck_assert_uint_le(out.cap, 4096);
        buf_clear(&out);
        wsdeflate_free(&d);
        ck_assert_uint_eq(d.zmem, 0);
        free(p);
    }
    buf_free(&out);
}
END_TEST

/* memory --------------------------------------------------------------------
 */

/* What the streams of a connection hold between messages, with context
 * takeover, per window size; the numbers in wsdeflate.c's comment. */
START_TEST(test_memory)
{
    static const int sizes[] = {8, 9, 10, 11, 12, 13, 14, 15};
    unsigned char *p = text_bytes(100000);
    size_t i;

    for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        struct wsdeflate_params wp = params(0, 0, sizes[i], sizes[i]);
        struct wsdeflate tx, rx;
        struct client c;
        struct inf hist = {0};

        wsdeflate_init(&tx, &wp);
        send_check(&tx, &hist, p, 100000);
        wsdeflate_init(&rx, &wp);
        client_init(&c, sizes[i], 1);
        recv_check(&rx, &c, p, 100000);
        fprintf(stderr,
                "wsdeflate memory: %2d window bits: compressor %7u bytes,"
                " decompressor %6u bytes\n",
                sizes[i], (unsigned)tx.zmem, (unsigned)rx.zmem);
        ck_assert_uint_eq(tx.zmem, tx.zpeak);
        ck_assert_uint_le(rx.zmem, 8 * 1024 + (1u << zbits(sizes[i])));
        /* zlib.h: (1 << (windowBits + 2)) + (1 << (memLevel + 9)), and
         * the state; memLevel as wsdeflate.c picks it */
        ck_assert_uint_le(tx.zmem, 8 * 1024 + (4u << zbits(sizes[i])) +
                                       (1u << (mem_level(sizes[i]) + 9)));
        wsdeflate_free(&tx);
        wsdeflate_free(&rx);
        client_free(&c);
        free(hist.out);
    }
    free(p);
}
END_TEST

START_TEST(test_state_is_small)
{
    ck_assert_uint_le(sizeof(struct wsdeflate), 32);
}
END_TEST

static Suite *wsdeflate_suite(void)
{
    Suite *s = suite_create("wsdeflate");
    TCase *tn = tcase_create("negotiate");
    TCase *tc = tcase_create("codec");

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

    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_rfc_examples_decompress);
    tcase_add_test(tc, test_rfc_example_compress);
    tcase_add_test(tc, test_empty_message);
    tcase_add_test(tc, test_roundtrip_small);
    tcase_add_test(tc, test_roundtrip_1mib_random);
    tcase_add_test(tc, test_roundtrip_1mib_repetitive);
    tcase_add_test(tc, test_takeover_second_message_smaller);
    tcase_add_test(tc, test_no_takeover_frees_streams);
    tcase_add_test(tc, test_takeover_per_direction);
    tcase_add_test(tc, test_final_block_then_reference);
    tcase_add_loop_test(tc, test_server_window_bits, 8, 16);
    tcase_add_loop_test(tc, test_server_window_bits_zlib, 8, 16);
    tcase_add_loop_test(tc, test_client_window_bits, 8, 16);
    tcase_add_test(tc, test_client_window_exceeded);
    tcase_add_test(tc, test_zip_bomb);
    tcase_add_test(tc, test_limit_exact);
    tcase_add_test(tc, test_limit_appends);
    tcase_add_test(tc, test_corrupt_input);
    tcase_add_test(tc, test_random_input);
    tcase_add_test(tc, test_memory);
    tcase_add_test(tc, test_state_is_small);
    suite_add_tcase(s, tc);
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
