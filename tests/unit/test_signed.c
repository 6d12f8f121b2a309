/*
 * test_signed.c - Tornado-compatible signed values and XSRF tokens
 * (src/signed.c), against bytes Tornado 6.2 (Debian's python3-tornado)
 * writes and reads.
 *
 * Signed values were generated with:
 *   /usr/bin/python3 -c '
 *   from tornado.web import create_signed_value as c
 *   T = lambda: 1700000000
 *   print(c("sekrit", "user", "alice", version=2, clock=T))
 *   print(c("sekrit", "user", "alice", version=2, clock=T, key_version=0))
 *   print(c({3: "key-three", 7: "key-seven"}, "session", b"\x00\xffbin|ary:",
 *           version=2, clock=T, key_version=7))
 *   print(c("sekrit", "empty", "", version=2, clock=T))
 *   print(c("sekrit", "user", "alice", version=1, clock=T))'
 * (key_version=None and key_version=0 give the same bytes: "1:0").
 * V1_ZERO_TS is a version 1 value correctly signed over a timestamp with a
 * leading zero (tornado.web._create_signature_v1("sekrit", "user",
 * "YWxpY2U=", "01700000000")), which Tornado's decode refuses.
 *
 * The XSRF token mirrors RequestHandler.xsrf_token with a fixed mask:
 *   import binascii; from tornado.util import _websocket_mask
 *   token = bytes(range(0xa0, 0xb0)); mask = bytes([0xde, 0xad, 0xbe, 0xef])
 *   b"|".join([b"2", binascii.b2a_hex(mask),
 *              binascii.b2a_hex(_websocket_mask(mask, token)),
 *              str(int(1700000000.7)).encode()])
 * and the decodings were checked with
 * RequestHandler._decode_xsrf_token(None, cookie).
 */
#include "internal.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#define T0 1700000000LL
#define DAY 86400LL

#define V2_ALICE                                                              \
    "2|1:0|10:1700000000|4:user|8:YWxpY2U=|"                                  \
    "b3d8324671865581a3c6a6707295875bd5161b16a5cb183cda067445d0e57271"
#define V2_KV7                                                                \
    "2|1:7|10:1700000000|7:session|16:AP9iaW58YXJ5Og==|"                      \
    "dbe59e5a7d6278af99344fb6ffb0e7d99a26268c07434827be264aea524686c7"
#define V2_EMPTY                                                              \
    "2|1:0|10:1700000000|5:empty|0:|"                                         \
    "3e8ec69bc4949bf07999418e47ae137a8bd83221d6037eee3c420a9ca9e7b5e8"
#define V1_ALICE "YWxpY2U=|1700000000|c1a19ae8c750006e126d87fae97143c717d7221b"
#define V1_ZERO_TS                                                            \
    "YWxpY2U=|01700000000|62e45d20be7e68a8bc14703500cf9427bb824f1d"

#define XSRF_V2                                                               \
    "2|deadbeef|7e0c1c4c7a0818487604144472001040|1700000000"

/* Tornado's single cookie_secret: every key version, and version 1. */
static int one_secret(void *arg, long kv, const void **secret, size_t *len)
{
    (void)kv;
    *secret = arg;
    *len = strlen(arg);
    return 0;
}

/* A cookie_secret dict {3: "key-three", 7: "key-seven"}. */
static int keyring(void *arg, long kv, const void **secret, size_t *len)
{
    (void)arg;
    if (kv == 3)
        *secret = "key-three";
    else if (kv == 7)
        *secret = "key-seven";
    else
        return -1;
    *len = 9;
    return 0;
}

static struct signed_opts opts(void)
{
    struct signed_opts o = {one_secret, "sekrit", 31, 60, 1};
    return o;
}

static char err[256];
static unsigned char val[SIGNED_MAX];
static size_t vlen;

static int dec(const struct signed_opts *o, const char *name, const char *in,
               int64_t now)
{
    err[0] = '\0';
    vlen = 0;
    return signed_decode(o, name, in, strlen(in), now, val, sizeof(val), &vlen,
                         err, sizeof(err));
}

/* in with byte i replaced by c (static buffer). */
static const char *with(const char *in, size_t i, char c)
{
    static char b[SIGNED_MAX + 2];

    snprintf(b, sizeof(b), "%s", in);
    b[i] = c;
    return b;
}

/* create -------------------------------------------------------------- */

START_TEST(create_matches_tornado_v2)
{
    char out[512];
    size_t n = 0;

    ck_assert_int_eq(signed_create("sekrit", 6, 0, "user", "alice", 5, T0, out,
                                   sizeof(out), &n, err, sizeof(err)),
                     0);
    ck_assert_str_eq(out, V2_ALICE);
    ck_assert_uint_eq(n, strlen(V2_ALICE));
}
END_TEST

START_TEST(create_with_key_version_and_binary_value)
{
    char out[512];
    size_t n = 0;

    ck_assert_int_eq(signed_create("key-seven", 9, 7, "session",
                                   "\x00\xff" "bin|ary:", 10, T0, out,
                                   sizeof(out), &n, err, sizeof(err)),
                     0);
    ck_assert_str_eq(out, V2_KV7);
}
END_TEST

START_TEST(create_empty_value)
{
    char out[512];
    size_t n = 0;

    ck_assert_int_eq(signed_create("sekrit", 6, 0, "empty", "", 0, T0, out,
                                   sizeof(out), &n, err, sizeof(err)),
                     0);
    ck_assert_str_eq(out, V2_EMPTY);
}
END_TEST

START_TEST(create_refuses_a_small_buffer)
{
    char out[sizeof(V2_ALICE)];
    size_t n = 0;

    ck_assert_int_eq(signed_create("sekrit", 6, 0, "user", "alice", 5, T0, out,
                                   sizeof(out), &n, err, sizeof(err)),
                     0);
    ck_assert_str_eq(out, V2_ALICE);
    ck_assert_int_eq(signed_create("sekrit", 6, 0, "user", "alice", 5, T0, out,
                                   sizeof(out) - 1, &n, err, sizeof(err)),
                     -1);
    ck_assert_ptr_nonnull(strstr(err, "longer than"));
}
END_TEST

START_TEST(create_refuses_bad_arguments)
{
    char out[512];
    size_t n;

    ck_assert_int_eq(signed_create("", 0, 0, "user", "a", 1, T0, out,
                                   sizeof(out), &n, err, sizeof(err)),
                     -1);
    ck_assert_int_eq(signed_create("s", 1, 0, "", "a", 1, T0, out,
                                   sizeof(out), &n, err, sizeof(err)),
                     -1);
    ck_assert_int_eq(signed_create("s", 1, -1, "user", "a", 1, T0, out,
                                   sizeof(out), &n, err, sizeof(err)),
                     -1);
    ck_assert_int_eq(signed_create("s", 1, 0, "user", "a", 1, -5, out,
                                   sizeof(out), &n, err, sizeof(err)),
                     -1);
    ck_assert_int_eq(signed_create("s", 1, 0, "us er", "a", 1, T0, out,
                                   sizeof(out), &n, err, sizeof(err)),
                     -1);
}
END_TEST

START_TEST(create_refuses_more_than_decode_reads)
{
    static char big[3000], out[2 * SIGNED_MAX];
    size_t n;

    /* 3000 bytes are 4000 of base64: with the fields, over SIGNED_MAX */
    ck_assert_int_eq(signed_create("s", 1, 0, "user", big, sizeof(big), T0,
                                   out, sizeof(out), &n, err, sizeof(err)),
                     -1);
    ck_assert_int_eq(signed_create("s", 1, 0, "user", big, 2900, T0, out,
                                   sizeof(out), &n, err, sizeof(err)),
                     0);
    ck_assert_uint_le(n, SIGNED_MAX);
}
END_TEST

START_TEST(create_then_decode_round_trips)
{
    struct signed_opts o = opts();
    static char big[SIGNED_MAX];
    char out[SIGNED_MAX];
    size_t n;

    memset(big, 'z', 2000);
    ck_assert_int_eq(signed_create("sekrit", 6, 0, "blob", big, 2000, T0, out,
                                   sizeof(out), &n, err, sizeof(err)),
                     0);
    ck_assert_int_eq(dec(&o, "blob", out, T0), 0);
    ck_assert_uint_eq(vlen, 2000);
    ck_assert_mem_eq(val, big, 2000);
}
END_TEST

/* decode: what Tornado writes -------------------------------------------- */

START_TEST(decode_tornado_v2)
{
    struct signed_opts o = opts();

    ck_assert_int_eq(dec(&o, "user", V2_ALICE, T0 + 10), 0);
    ck_assert_uint_eq(vlen, 5);
    ck_assert_mem_eq(val, "alice", 5);
}
END_TEST

START_TEST(decode_tornado_v2_by_key_version)
{
    struct signed_opts o = opts();

    o.secret = keyring;
    ck_assert_int_eq(dec(&o, "session", V2_KV7, T0), 0);
    ck_assert_uint_eq(vlen, 10);
    ck_assert_mem_eq(val, "\x00\xff" "bin|ary:", 10);
}
END_TEST

START_TEST(decode_tornado_v2_empty_value)
{
    struct signed_opts o = opts();

    ck_assert_int_eq(dec(&o, "empty", V2_EMPTY, T0), 0);
    ck_assert_uint_eq(vlen, 0);
}
END_TEST

START_TEST(decode_tornado_v1)
{
    struct signed_opts o = opts();

    ck_assert_int_eq(dec(&o, "user", V1_ALICE, T0), 0);
    ck_assert_uint_eq(vlen, 5);
    ck_assert_mem_eq(val, "alice", 5);
}
END_TEST

START_TEST(max_age_is_inclusive)
{
    struct signed_opts o = opts();

    ck_assert_int_eq(dec(&o, "user", V2_ALICE, T0 + 31 * DAY), 0);
    ck_assert_int_eq(dec(&o, "user", V1_ALICE, T0 + 31 * DAY), 0);
}
END_TEST

/* decode: each rejection --------------------------------------------------- */

START_TEST(reject_tampered_value)
{
    struct signed_opts o = opts();
    size_t i = strlen("2|1:0|10:1700000000|4:user|8:");

    ck_assert_int_eq(dec(&o, "user", with(V2_ALICE, i, 'Z'), T0), SIGNED_ESIG);
    ck_assert_int_eq(dec(&o, "user", with(V1_ALICE, 0, 'Z'), T0), SIGNED_ESIG);
}
END_TEST

START_TEST(reject_tampered_timestamp)
{
    struct signed_opts o = opts();

    ck_assert_int_eq(dec(&o, "user", with(V2_ALICE, 18, '1'), T0), SIGNED_ESIG);
    ck_assert_int_eq(dec(&o, "user", with(V1_ALICE, 17, '1'), T0), SIGNED_ESIG);
}
END_TEST

START_TEST(reject_tampered_signature)
{
    struct signed_opts o = opts();
    size_t l2 = strlen(V2_ALICE), l1 = strlen(V1_ALICE);

    ck_assert_int_eq(dec(&o, "user", with(V2_ALICE, l2 - 1, '0'), T0),
                     SIGNED_ESIG);
    ck_assert_int_eq(dec(&o, "user", with(V1_ALICE, l1 - 1, 'c'), T0),
                     SIGNED_ESIG);
    /* the same digest in uppercase is not Tornado's spelling */
    ck_assert_int_eq(dec(&o, "user", with(V2_ALICE, l2 - 2, 'D'), T0),
                     SIGNED_ESIG);
}
END_TEST

START_TEST(reject_truncated_signature)
{
    struct signed_opts o = opts();
    char b[sizeof(V2_ALICE)];

    memcpy(b, V2_ALICE, sizeof(b));
    b[sizeof(b) - 2] = '\0';
    ck_assert_int_eq(dec(&o, "user", b, T0), SIGNED_ESIG);
    b[strlen("2|1:0|10:1700000000|4:user|8:YWxpY2U=|")] = '\0';
    ck_assert_int_eq(dec(&o, "user", b, T0), SIGNED_ESIG);
}
END_TEST

START_TEST(reject_wrong_secret)
{
    struct signed_opts o = opts();

    o.arg = "sekriT";
    ck_assert_int_eq(dec(&o, "user", V2_ALICE, T0), SIGNED_ESIG);
    ck_assert_int_eq(dec(&o, "user", V1_ALICE, T0), SIGNED_ESIG);
}
END_TEST

START_TEST(reject_wrong_name)
{
    struct signed_opts o = opts();

    ck_assert_int_eq(dec(&o, "users", V2_ALICE, T0), SIGNED_ENAME);
    ck_assert_int_eq(dec(&o, "usr", V2_ALICE, T0), SIGNED_ENAME);
    /* version 1 signs the name in: another one is a bad signature */
    ck_assert_int_eq(dec(&o, "users", V1_ALICE, T0), SIGNED_ESIG);
}
END_TEST

START_TEST(reject_expired)
{
    struct signed_opts o = opts();

    ck_assert_int_eq(dec(&o, "user", V2_ALICE, T0 + 31 * DAY + 1),
                     SIGNED_EEXPIRED);
    ck_assert_int_eq(dec(&o, "user", V1_ALICE, T0 + 31 * DAY + 1),
                     SIGNED_EEXPIRED);
    o.max_age_days = 0.5;
    ck_assert_int_eq(dec(&o, "user", V2_ALICE, T0 + DAY / 2), 0);
    ck_assert_int_eq(dec(&o, "user", V2_ALICE, T0 + DAY / 2 + 1),
                     SIGNED_EEXPIRED);
}
END_TEST

START_TEST(reject_future_beyond_skew)
{
    struct signed_opts o = opts(); /* skew 60 s */

    ck_assert_int_eq(dec(&o, "user", V2_ALICE, T0 - 60), 0);
    ck_assert_int_eq(dec(&o, "user", V2_ALICE, T0 - 61), SIGNED_EFUTURE);
    ck_assert_int_eq(dec(&o, "user", V1_ALICE, T0 - 61), SIGNED_EFUTURE);
}
END_TEST

START_TEST(reject_v1_future_beyond_31_days_whatever_the_skew)
{
    struct signed_opts o = opts();

    o.skew = 100 * DAY;
    ck_assert_int_eq(dec(&o, "user", V2_ALICE, T0 - 40 * DAY), 0);
    ck_assert_int_eq(dec(&o, "user", V1_ALICE, T0 - 31 * DAY), 0);
    ck_assert_int_eq(dec(&o, "user", V1_ALICE, T0 - 31 * DAY - 1),
                     SIGNED_EFUTURE);
}
END_TEST

START_TEST(reject_v1_timestamp_with_leading_zero)
{
    struct signed_opts o = opts();

    ck_assert_int_eq(dec(&o, "user", V1_ZERO_TS, T0), SIGNED_EMALFORMED);
}
END_TEST

START_TEST(reject_unknown_key_version)
{
    struct signed_opts o = opts();
    char out[512];
    size_t n;

    o.secret = keyring;
    ck_assert_int_eq(dec(&o, "user", V2_ALICE, T0), SIGNED_EKEY); /* kv 0 */
    /* a keyring has no secret for version 1 */
    ck_assert_int_eq(dec(&o, "user", V1_ALICE, T0), SIGNED_EKEY);
    /* kv 3 exists: signed with kv 7's secret but relabelled is bad */
    ck_assert_int_eq(dec(&o, "session", with(V2_KV7, 4, '3'), T0), SIGNED_ESIG);
    ck_assert_int_eq(signed_create("key-three", 9, 3, "s", "v", 1, T0, out,
                                   sizeof(out), &n, err, sizeof(err)),
                     0);
    ck_assert_int_eq(dec(&o, "s", out, T0), 0);
}
END_TEST

START_TEST(reject_unsupported_version)
{
    struct signed_opts o = opts();

    ck_assert_int_eq(dec(&o, "user", with(V2_ALICE, 0, '3'), T0),
                     SIGNED_EVERSION);
    ck_assert_int_eq(dec(&o, "user", "999|x", T0), SIGNED_EVERSION);
    o.min_version = 2;
    ck_assert_int_eq(dec(&o, "user", V1_ALICE, T0), SIGNED_EVERSION);
    ck_assert_int_eq(dec(&o, "user", V2_ALICE, T0), 0);
}
END_TEST

START_TEST(long_number_prefix_is_version_1)
{
    struct signed_opts o = opts();

    /* "1234|..." is base64 of version 1, as Tornado's _get_version says:
     * then not three fields */
    ck_assert_int_eq(dec(&o, "user", "1234|5|6|7", T0), SIGNED_EMALFORMED);
    ck_assert_int_eq(dec(&o, "user", "1234|5|6", T0), SIGNED_ESIG);
}
END_TEST

START_TEST(reject_malformed_v2_fields)
{
    static const char *const bad[] = {
        "2|",
        "2|1:0",
        "2|1:0|",
        "2|1:0|10:1700000000|4:user|8:YWxpY2U=",  /* no pipe after value */
        "2|2:0|10:1700000000|4:user|8:YWxpY2U=|", /* length overruns */
        "2|1:0|10:1700000000|5:user|8:YWxpY2U=|ab",
        "2|x:0|10:1700000000|4:user|8:YWxpY2U=|ab",
        "2|01:0|10:1700000000|4:user|8:YWxpY2U=|ab", /* leading zero */
        "2|:0|10:1700000000|4:user|8:YWxpY2U=|ab",
        "2|1:a|10:1700000000|4:user|8:YWxpY2U=|ab",  /* key version */
        "2|1:0|10:17000000x0|4:user|8:YWxpY2U=|ab",  /* timestamp */
        "2|1:0|20:17000000001700000000|4:user|8:YWxpY2U=|ab", /* too big */
        "2|99999999999999999999:0|",
    };
    struct signed_opts o = opts();

    for (size_t i = 0; i < ARRAY_LEN(bad); i++)
        ck_assert_msg(dec(&o, "user", bad[i], T0) == SIGNED_EMALFORMED,
                      "%s: %s", bad[i], err);
}
END_TEST

START_TEST(reject_malformed_v1_fields)
{
    struct signed_opts o = opts();

    ck_assert_int_eq(dec(&o, "user", "YWxpY2U=|1700000000", T0),
                     SIGNED_EMALFORMED);
    ck_assert_int_eq(dec(&o, "user", "a|b|c|d", T0), SIGNED_EMALFORMED);
    ck_assert_int_eq(dec(&o, "user", "", T0), SIGNED_EMALFORMED);
}
END_TEST

START_TEST(reject_control_bytes_and_spaces)
{
    struct signed_opts o = opts();

    ck_assert_int_eq(dec(&o, "user", with(V2_ALICE, 5, ' '), T0),
                     SIGNED_EMALFORMED);
    ck_assert_int_eq(dec(&o, "user", with(V2_ALICE, 5, '\n'), T0),
                     SIGNED_EMALFORMED);
    ck_assert_int_eq(signed_decode(&o, "user", V2_ALICE, sizeof(V2_ALICE),
                                   T0, val, sizeof(val), &vlen, err,
                                   sizeof(err)),
                     SIGNED_EMALFORMED); /* with its NUL */
}
END_TEST

START_TEST(reject_bad_base64_even_when_signed)
{
    /* correctly signed values whose value field is not base64, each signed
     * with tornado.web._create_signature_v2("sekrit", to_sign) for
     * to_sign = "2|1:0|10:1700000000|4:user|%d:%s|" % (len(f), f); Tornado
     * refuses all but the last, whose unused bits are not zero (its
     * lenient decoder reads "alice"; this one refuses what b64encode never
     * writes) */
    static const char *const bad[] = {
        "2|1:0|10:1700000000|4:user|7:YWxpY2U|"
        "a6677cb05f6684c81a03bfa4c8969ba6dad3035f6bd62b89aff99c7bb8f198b2",
        "2|1:0|10:1700000000|4:user|8:YW*pY2U=|"
        "2b003b5f9843abc2585f0c94ff4e3973fdd589a7b9e8e42d7da22507a57221bb",
        "2|1:0|10:1700000000|4:user|4:YQ=a|"
        "0fb6f539d3669ab3fe6a564752ad2951e68147999b89ed85e7861b5e1d8b7716",
        "2|1:0|10:1700000000|4:user|8:YWxpY2V=|"
        "03c334ea65c4e853742ddcf2b5713f2ac2536dea461d8305857c34d37d1c0224",
    };
    struct signed_opts o = opts();

    for (size_t i = 0; i < ARRAY_LEN(bad); i++)
        ck_assert_msg(dec(&o, "user", bad[i], T0) == SIGNED_EMALFORMED,
                      "%s: %s", bad[i], err);
}
END_TEST

START_TEST(reject_oversized)
{
    struct signed_opts o = opts();
    static char big[SIGNED_MAX + 2];

    memset(big, 'A', SIGNED_MAX + 1);
    big[SIGNED_MAX + 1] = '\0';
    ck_assert_int_eq(dec(&o, "user", big, T0), SIGNED_ESIZE);
}
END_TEST

START_TEST(reject_value_larger_than_the_buffer)
{
    struct signed_opts o = opts();
    unsigned char small[5];

    /* "alice": 4 bytes of room is too few, 5 is enough */
    ck_assert_int_eq(signed_decode(&o, "user", V2_ALICE, strlen(V2_ALICE), T0,
                                   small, 4, &vlen, err, sizeof(err)),
                     SIGNED_ESIZE);
    ck_assert_int_eq(signed_decode(&o, "user", V2_ALICE, strlen(V2_ALICE), T0,
                                   small, 5, &vlen, err, sizeof(err)),
                     0);
    ck_assert_mem_eq(small, "alice", 5);
}
END_TEST

/* XSRF ------------------------------------------------------------------ */

static const unsigned char raw16[16] = {0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5,
                                        0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xab,
                                        0xac, 0xad, 0xae, 0xaf};
static const unsigned char mask[4] = {0xde, 0xad, 0xbe, 0xef};

START_TEST(xsrf_encode_v2_matches_tornado)
{
    char out[XSRF_V2_MAX];

    ck_assert_int_eq(xsrf_encode_v2(raw16, 16, mask, T0, out, sizeof(out)),
                     (long)strlen(XSRF_V2));
    ck_assert_str_eq(out, XSRF_V2);
    ck_assert_int_eq(xsrf_encode_v2(raw16, 16, mask, T0, out,
                                    strlen(XSRF_V2)),
                     -1);
    ck_assert_int_eq(xsrf_encode_v2(raw16, 0, mask, T0, out, sizeof(out)), -1);
}
END_TEST

START_TEST(xsrf_encode_v1_is_hex)
{
    char out[64];

    ck_assert_int_eq(xsrf_encode_v1(raw16, 2, out, sizeof(out)), 4);
    ck_assert_str_eq(out, "a0a1");
}
END_TEST

START_TEST(xsrf_decode_v2)
{
    struct xsrf_token t;

    ck_assert_int_eq(xsrf_decode(XSRF_V2, strlen(XSRF_V2), 5, &t, err,
                                 sizeof(err)),
                     0);
    ck_assert_int_eq(t.version, 2);
    ck_assert_uint_eq(t.len, 16);
    ck_assert_mem_eq(t.raw, raw16, 16);
    ck_assert_int_eq(t.timestamp, T0);
}
END_TEST

START_TEST(xsrf_decode_v2_timestamp_as_int_reads_it)
{
    struct xsrf_token t;
    const char *s = "2|deadbeef|7e0c|0017"; /* Tornado: (2, a0a1, 17) */

    ck_assert_int_eq(xsrf_decode(s, strlen(s), 5, &t, err, sizeof(err)), 0);
    ck_assert_uint_eq(t.len, 2);
    ck_assert_mem_eq(t.raw, raw16, 2);
    ck_assert_int_eq(t.timestamp, 17);
}
END_TEST

START_TEST(xsrf_decode_v1_hex_either_case)
{
    struct xsrf_token t;

    ck_assert_int_eq(xsrf_decode("A0a1a2a3", 8, 42, &t, err, sizeof(err)), 0);
    ck_assert_int_eq(t.version, 1);
    ck_assert_uint_eq(t.len, 4);
    ck_assert_mem_eq(t.raw, raw16, 4);
    ck_assert_int_eq(t.timestamp, 42);
}
END_TEST

START_TEST(xsrf_decode_v1_raw_when_not_hex)
{
    struct xsrf_token t;

    ck_assert_int_eq(xsrf_decode("not-hex!", 8, 42, &t, err, sizeof(err)), 0);
    ck_assert_int_eq(t.version, 1);
    ck_assert_uint_eq(t.len, 8);
    ck_assert_mem_eq(t.raw, "not-hex!", 8);
    ck_assert_int_eq(xsrf_decode("abc", 3, 42, &t, err, sizeof(err)), 0);
    ck_assert_mem_eq(t.raw, "abc", 3); /* odd length: raw */
}
END_TEST

START_TEST(xsrf_reject_malformed)
{
    static const char *const bad[] = {
        "",
        "2|deadbeef|zz|1",          /* masked token not hex */
        "3|a|b|c",                  /* unknown version */
        "1|abcd",                   /* "1|" is a version prefix, not v1 */
        "2|deadbeef|7e0c|1|x",      /* five fields */
        "2|deadbeef|7e0c",          /* three */
        "2|dead|7e0c|1",            /* a mask of 2 bytes (Tornado's C
                                     * speedup reads past it) */
        "2|deadbeef00|7e0c|1",
        "2|deadbeef||1",            /* empty token */
        "2|deadbeef|7e0c|",         /* no timestamp */
        "2|deadbeef|7e0c|-1",
        "2|deadbeef|7e0c|1.5",
    };
    struct xsrf_token t;

    for (size_t i = 0; i < ARRAY_LEN(bad); i++)
        ck_assert_msg(xsrf_decode(bad[i], strlen(bad[i]), 0, &t, err,
                                  sizeof(err)) == -1,
                      "accepted %s", bad[i]);
}
END_TEST

START_TEST(xsrf_reject_too_long)
{
    static char s[2 * XSRF_RAW_MAX + 3];
    struct xsrf_token t;

    memset(s, 'a', sizeof(s) - 1);
    ck_assert_int_eq(xsrf_decode(s, 2 * XSRF_RAW_MAX, 0, &t, err, sizeof(err)),
                     0);
    ck_assert_uint_eq(t.len, XSRF_RAW_MAX);
    ck_assert_int_eq(xsrf_decode(s, 2 * XSRF_RAW_MAX + 2, 0, &t, err,
                                 sizeof(err)),
                     -1);
}
END_TEST

START_TEST(xsrf_masked_and_plain_compare_equal)
{
    struct xsrf_token a, b, c;
    char v1[64];
    long n = xsrf_encode_v1(raw16, 16, v1, sizeof(v1));

    ck_assert_int_eq(xsrf_decode(XSRF_V2, strlen(XSRF_V2), 0, &a, err,
                                 sizeof(err)),
                     0);
    ck_assert_int_eq(xsrf_decode(v1, (size_t)n, 0, &b, err, sizeof(err)), 0);
    ck_assert(xsrf_equal(&a, &b));
    v1[31] = v1[31] == '0' ? '1' : '0';
    ck_assert_int_eq(xsrf_decode(v1, (size_t)n, 0, &c, err, sizeof(err)), 0);
    ck_assert(!xsrf_equal(&a, &c));
    ck_assert_int_eq(xsrf_decode(v1, 30, 0, &c, err, sizeof(err)), 0);
    ck_assert(!xsrf_equal(&a, &c)); /* a prefix */
}
END_TEST

START_TEST(xsrf_round_trip_with_another_mask)
{
    static const unsigned char m2[4] = {1, 2, 3, 4};
    struct xsrf_token a, b;
    char s1[XSRF_V2_MAX], s2[XSRF_V2_MAX];

    ck_assert_int_gt(xsrf_encode_v2(raw16, 16, mask, T0, s1, sizeof(s1)), 0);
    ck_assert_int_gt(xsrf_encode_v2(raw16, 16, m2, T0, s2, sizeof(s2)), 0);
    ck_assert_str_ne(s1, s2);
    ck_assert_int_eq(xsrf_decode(s1, strlen(s1), 0, &a, err, sizeof(err)), 0);
    ck_assert_int_eq(xsrf_decode(s2, strlen(s2), 0, &b, err, sizeof(err)), 0);
    ck_assert(xsrf_equal(&a, &b));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("signed");
    TCase *tc = tcase_create("signed");
    TCase *tx = tcase_create("xsrf");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, create_matches_tornado_v2);
    tcase_add_test(tc, create_with_key_version_and_binary_value);
    tcase_add_test(tc, create_empty_value);
    tcase_add_test(tc, create_refuses_a_small_buffer);
    tcase_add_test(tc, create_refuses_bad_arguments);
    tcase_add_test(tc, create_refuses_more_than_decode_reads);
    tcase_add_test(tc, create_then_decode_round_trips);
    tcase_add_test(tc, decode_tornado_v2);
    tcase_add_test(tc, decode_tornado_v2_by_key_version);
    tcase_add_test(tc, decode_tornado_v2_empty_value);
    tcase_add_test(tc, decode_tornado_v1);
    tcase_add_test(tc, max_age_is_inclusive);
    tcase_add_test(tc, reject_tampered_value);
    tcase_add_test(tc, reject_tampered_timestamp);
    tcase_add_test(tc, reject_tampered_signature);
    tcase_add_test(tc, reject_truncated_signature);
    tcase_add_test(tc, reject_wrong_secret);
    tcase_add_test(tc, reject_wrong_name);
    tcase_add_test(tc, reject_expired);
    tcase_add_test(tc, reject_future_beyond_skew);
    tcase_add_test(tc, reject_v1_future_beyond_31_days_whatever_the_skew);
    tcase_add_test(tc, reject_v1_timestamp_with_leading_zero);
    tcase_add_test(tc, reject_unknown_key_version);
    tcase_add_test(tc, reject_unsupported_version);
    tcase_add_test(tc, long_number_prefix_is_version_1);
    tcase_add_test(tc, reject_malformed_v2_fields);
    tcase_add_test(tc, reject_malformed_v1_fields);
    tcase_add_test(tc, reject_control_bytes_and_spaces);
    tcase_add_test(tc, reject_bad_base64_even_when_signed);
    tcase_add_test(tc, reject_oversized);
    tcase_add_test(tc, reject_value_larger_than_the_buffer);
    suite_add_tcase(s, tc);
    tcase_add_test(tx, xsrf_encode_v2_matches_tornado);
    tcase_add_test(tx, xsrf_encode_v1_is_hex);
    tcase_add_test(tx, xsrf_decode_v2);
    tcase_add_test(tx, xsrf_decode_v2_timestamp_as_int_reads_it);
    tcase_add_test(tx, xsrf_decode_v1_hex_either_case);
    tcase_add_test(tx, xsrf_decode_v1_raw_when_not_hex);
    tcase_add_test(tx, xsrf_reject_malformed);
    tcase_add_test(tx, xsrf_reject_too_long);
    tcase_add_test(tx, xsrf_masked_and_plain_compare_equal);
    tcase_add_test(tx, xsrf_round_trip_with_another_mask);
    suite_add_tcase(s, tx);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
