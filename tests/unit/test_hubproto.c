/*
 * test_hubproto.c - src/hubproto.c: the frames between workers and the hub.
 *
 * Frames of every type are encoded and decoded back; every prefix of a
 * frame must ask for more input; several frames in one buffer decode one
 * after the other; and frames built by hand that break a rule each fail.
 */
#include "internal.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#define MAX (1 << 20)

static struct buf out;

static void setup(void)
{
    memset(&out, 0, sizeof(out));
}

static void teardown(void)
{
    buf_free(&out);
}

/* One frame of each type, every field its type has set to something that
 * is not 0, and the ones it has not left 0 (what the decoder gives). */
static struct hub_frame sample(uint8_t type)
{
    static const char ch[] = "chat.room-1";
    static const char data[] = "{\"text\":\"hello\"}";
    struct hub_frame f;

    memset(&f, 0, sizeof(f));
    f.type = type;
    switch (type) {
    case HUB_HELLO:
        f.n = 7;
        f.pid = 123456;
        break;
    case HUB_SUB:
        f.channel = ch;
        f.channel_len = strlen(ch);
        f.n = 0xfffffffe;
        break;
    case HUB_PUB:
        f.id = 0x0102030405060708ULL;
        f.channel = ch;
        f.channel_len = strlen(ch);
        f.data = data;
        f.len = strlen(data);
        break;
    case HUB_HIST:
        f.id = 42;
        f.channel = ch;
        f.channel_len = strlen(ch);
        f.epoch = 0xdeadbeefcafef00dULL;
        f.offset = UINT64_MAX;
        break;
    case HUB_PUBOK:
        f.id = 43;
        f.epoch = 9;
        f.offset = 1000;
        f.n = 3;
        break;
    case HUB_ERR:
        f.id = 44;
        f.code = HUB_ETOOMANY;
        break;
    case HUB_MSG:
        f.channel = ch;
        f.channel_len = strlen(ch);
        f.epoch = 5;
        f.offset = 6;
        f.data = data;
        f.len = strlen(data);
        break;
    case HUB_HISTOK:
        f.id = 45;
        f.recovered = 1;
        f.epoch = 5;
        f.offset = 7;
        f.n = 2;
        break;
    case HUB_HITEM:
        f.id = 45;
        f.offset = 6;
        f.data = data;
        f.len = strlen(data);
        break;
    }
    return f;
}

static void assert_same(const struct hub_frame *a, const struct hub_frame *b)
{
    ck_assert_uint_eq(a->type, b->type);
    ck_assert_uint_eq(a->recovered, b->recovered);
    ck_assert_uint_eq(a->code, b->code);
    ck_assert_uint_eq(a->n, b->n);
    ck_assert_uint_eq(a->pid, b->pid);
    ck_assert_uint_eq(a->id, b->id);
    ck_assert_uint_eq(a->epoch, b->epoch);
    ck_assert_uint_eq(a->offset, b->offset);
    ck_assert_uint_eq(a->channel_len, b->channel_len);
    if (a->channel_len > 0)
        ck_assert_mem_eq(a->channel, b->channel, a->channel_len);
    ck_assert_uint_eq(a->len, b->len);
    if (a->len > 0)
        ck_assert_mem_eq(a->data, b->data, a->len);
}

/* Builds a frame by hand: a 4-byte length, then body. */
static size_t raw(char *p, const void *body, size_t n)
{
    p[0] = (char)(n >> 24);
    p[1] = (char)(n >> 16);
    p[2] = (char)(n >> 8);
    p[3] = (char)n;
    memcpy(p + 4, body, n);
    return n + 4;
}

/* Round trips ----------------------------------------------------------- */

START_TEST(test_round_trip_every_type)
{
    struct hub_frame f = sample((uint8_t)_i), g;
    long n;

    ck_assert_int_eq(hub_encode(&out, &f), 0);
    n = hub_decode(out.p + out.off, buf_pending(&out), MAX, &g);
    ck_assert_int_eq(n, (long)buf_pending(&out));
    assert_same(&f, &g);
    /* zero-copy: channel and data point into the input */
    if (g.channel_len > 0)
        ck_assert(g.channel > out.p && g.channel < out.p + out.len);
    if (g.len > 0)
        ck_assert((const char *)g.data > out.p &&
                  (const char *)g.data + g.len == out.p + out.len);
}
END_TEST

START_TEST(test_layout_of_a_pub)
{
    struct hub_frame f = sample(HUB_PUB);
    static const char want[] = "\x00\x00\x00\x2a" /* 1 + 8 + 13 + 20 */
                               "\x03"
                               "\x01\x02\x03\x04\x05\x06\x07\x08"
                               "\x00\x0b"
                               "chat.room-1"
                               "\x00\x00\x00\x10"
                               "{\"text\":\"hello\"}";

    ck_assert_int_eq(hub_encode(&out, &f), 0);
    ck_assert_uint_eq(buf_pending(&out), sizeof(want) - 1);
    ck_assert_mem_eq(out.p + out.off, want, sizeof(want) - 1);
}
END_TEST

START_TEST(test_empty_data_and_longest_channel)
{
    char ch[HUB_CHANNEL_MAX];
    struct hub_frame f = sample(HUB_MSG), g;

    memset(ch, 'x', sizeof(ch));
    f.channel = ch;
    f.channel_len = sizeof(ch);
    f.data = NULL;
    f.len = 0;
    ck_assert_int_eq(hub_encode(&out, &f), 0);
    ck_assert_int_eq(hub_decode(out.p, out.len, MAX, &g), (long)out.len);
    assert_same(&f, &g);
}
END_TEST

START_TEST(test_encode_refuses_what_cannot_decode)
{
    char ch[HUB_CHANNEL_MAX + 1];
    struct hub_frame f = sample(HUB_SUB);

    memset(ch, 'x', sizeof(ch));
    f.channel = ch;
    f.channel_len = 0;
    ck_assert_int_eq(hub_encode(&out, &f), -1);
    f.channel_len = sizeof(ch);
    ck_assert_int_eq(hub_encode(&out, &f), -1);
    f = sample(HUB_SUB);
    f.type = 0;
    ck_assert_int_eq(hub_encode(&out, &f), -1);
    f.type = HUB_HITEM + 1;
    ck_assert_int_eq(hub_encode(&out, &f), -1);
    ck_assert_uint_eq(out.len, 0); /* out unchanged */
}
END_TEST

/* Truncation and batching -------------------------------------------------- */

START_TEST(test_every_truncation_needs_more)
{
    struct hub_frame f = sample((uint8_t)_i), g;
    size_t len, i;
    char *copy;

    ck_assert_int_eq(hub_encode(&out, &f), 0);
    len = buf_pending(&out);
    for (i = 0; i < len; i++) {
        /* a copy of exactly i bytes, so that ASan sees any overread */
        copy = malloc(i ? i : 1);
        ck_assert_ptr_nonnull(copy);
        memcpy(copy, out.p + out.off, i);
        ck_assert_int_eq(hub_decode(copy, i, MAX, &g), 0);
        free(copy);
    }
}
END_TEST

START_TEST(test_batch)
{
    struct hub_frame f, g;
    size_t off = 0;
    long n;
    int t;

    for (t = HUB_HELLO; t <= HUB_HITEM; t++) {
        f = sample((uint8_t)t);
        ck_assert_int_eq(hub_encode(&out, &f), 0);
    }
    for (t = HUB_HELLO; t <= HUB_HITEM; t++) {
        f = sample((uint8_t)t);
        n = hub_decode(out.p + off, out.len - off, MAX, &g);
        ck_assert_int_gt(n, 0);
        assert_same(&f, &g);
        off += (size_t)n;
    }
    ck_assert_uint_eq(off, out.len);
    ck_assert_int_eq(hub_decode(out.p + off, 0, MAX, &g), 0);
}
END_TEST

/* The first frame is decoded when the next one is only partly there. */
START_TEST(test_batch_with_partial_tail)
{
    struct hub_frame f = sample(HUB_PUBOK), g;
    long n;

    ck_assert_int_eq(hub_encode(&out, &f), 0);
    ck_assert_int_eq(hub_encode(&out, &f), 0);
    n = hub_decode(out.p, out.len - 3, MAX, &g);
    ck_assert_int_eq(n, (long)out.len / 2);
    ck_assert_int_eq(hub_decode(out.p + n, out.len - 3 - (size_t)n, MAX, &g),
                     0);
}
END_TEST

/* max_frame ------------------------------------------------------------ */

START_TEST(test_max_frame)
{
    struct hub_frame f = sample(HUB_PUB), g;
    size_t body;

    ck_assert_int_eq(hub_encode(&out, &f), 0);
    body = out.len - 4;
    ck_assert_int_eq(hub_decode(out.p, out.len, body, &g), (long)out.len);
    ck_assert_int_eq(hub_decode(out.p, out.len, body - 1, &g), -1);
    /* known from the length alone, before the rest arrives */
    ck_assert_int_eq(hub_decode(out.p, 4, body - 1, &g), -1);
    ck_assert_int_eq(hub_decode(out.p, 3, body - 1, &g), 0);
}
END_TEST

START_TEST(test_frame_max_holds_the_largest_message)
{
    char ch[HUB_CHANNEL_MAX];
    size_t max = 1000;
    char *data = calloc(1, max);
    struct hub_frame f = sample(HUB_MSG), g;

    ck_assert_ptr_nonnull(data);
    memset(ch, 'c', sizeof(ch));
    f.channel = ch;
    f.channel_len = sizeof(ch);
    f.data = data;
    f.len = max;
    ck_assert_int_eq(hub_encode(&out, &f), 0);
    ck_assert_int_eq(hub_decode(out.p, out.len, HUB_FRAME_MAX(max), &g),
                     (long)out.len);
    free(data);
}
END_TEST

/* Malformed frames -------------------------------------------------------- */

START_TEST(test_length_zero)
{
    struct hub_frame g;

    ck_assert_int_eq(hub_decode("\0\0\0\0", 4, MAX, &g), -1);
}
END_TEST

START_TEST(test_unknown_types)
{
    static const uint8_t types[] = {0, HUB_HITEM + 1, 0x80, 0xff};
    char p[64], body[16];
    struct hub_frame g;

    memset(body, 0, sizeof(body));
    for (size_t i = 0; i < ARRAY_LEN(types); i++) {
        body[0] = (char)types[i];
        ck_assert_int_eq(hub_decode(p, raw(p, body, 9), MAX, &g), -1);
        /* known from the type byte alone */
        ck_assert_int_eq(hub_decode(p, 5, MAX, &g), -1);
    }
}
END_TEST

/* A HELLO is 1 + 4 + 4 bytes: one more or one fewer is refused. */
START_TEST(test_length_disagrees_with_fields)
{
    char p[64];
    struct hub_frame g;

    ck_assert_int_eq(hub_decode(p, raw(p, "\x01\0\0\0\1\0\0\0\2", 9), MAX, &g),
                     13);
    ck_assert_int_eq(
        hub_decode(p, raw(p, "\x01\0\0\0\1\0\0\0\2\0", 10), MAX, &g), -1);
    ck_assert_int_eq(hub_decode(p, raw(p, "\x01\0\0\0\1\0\0\0", 8), MAX, &g),
                     -1);
    /* a type with no room for any of its fields */
    ck_assert_int_eq(hub_decode(p, raw(p, "\x05", 1), MAX, &g), -1);
}
END_TEST

START_TEST(test_string_longer_than_frame)
{
    char p[64];
    struct hub_frame g;

    /* SUB: channel length 5, 3 bytes there, then n */
    ck_assert_int_eq(hub_decode(p,
                                raw(p,
                                    "\x02\0\x05"
                                    "abc\0\0\0\1",
                                    10),
                                MAX, &g),
                     -1);
    /* HITEM: data length 2^32 - 1 in a small frame */
    ck_assert_int_eq(hub_decode(p,
                                raw(p,
                                    "\x09"
                                    "\0\0\0\0\0\0\0\1"
                                    "\0\0\0\0\0\0\0\1"
                                    "\xff\xff\xff\xff"
                                    "ab",
                                    23),
                                MAX, &g),
                     -1);
}
END_TEST

START_TEST(test_channel_length_bounds)
{
    char body[600], p[700];
    struct hub_frame g;
    size_t n;

    /* SUB with an empty channel */
    ck_assert_int_eq(hub_decode(p, raw(p, "\x02\0\0\0\0\0\1", 7), MAX, &g), -1);
    /* SUB with a channel of HUB_CHANNEL_MAX + 1 bytes */
    body[0] = HUB_SUB;
    body[1] = 0x01;
    body[2] = 0x00; /* 256 */
    memset(body + 3, 'x', 256);
    memset(body + 3 + 256, 0, 4);
    n = raw(p, body, 3 + 256 + 4);
    ck_assert_int_eq(hub_decode(p, n, MAX, &g), -1);
    /* and with HUB_CHANNEL_MAX it is fine */
    body[1] = 0x00;
    body[2] = (char)0xff;
    n = raw(p, body, 3 + 255 + 4);
    ck_assert_int_eq(hub_decode(p, n, MAX, &g), (long)n);
    ck_assert_uint_eq(g.channel_len, 255);
}
END_TEST

START_TEST(test_recovered_is_0_or_1)
{
    struct hub_frame f = sample(HUB_HISTOK), g;

    ck_assert_int_eq(hub_encode(&out, &f), 0);
    /* type, id (8), then recovered */
    ck_assert_int_eq(out.p[4 + 1 + 8], 1);
    out.p[4 + 1 + 8] = 2;
    ck_assert_int_eq(hub_decode(out.p, out.len, MAX, &g), -1);
}
END_TEST

static Suite *hubproto_suite(void)
{
    Suite *s = suite_create("hubproto");
    TCase *tc;

    tc = tcase_create("round trip");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, test_round_trip_every_type, HUB_HELLO,
                        HUB_HITEM + 1);
    tcase_add_test(tc, test_layout_of_a_pub);
    tcase_add_test(tc, test_empty_data_and_longest_channel);
    tcase_add_test(tc, test_encode_refuses_what_cannot_decode);
    suite_add_tcase(s, tc);

    tc = tcase_create("stream");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, test_every_truncation_needs_more, HUB_HELLO,
                        HUB_HITEM + 1);
    tcase_add_test(tc, test_batch);
    tcase_add_test(tc, test_batch_with_partial_tail);
    tcase_add_test(tc, test_max_frame);
    tcase_add_test(tc, test_frame_max_holds_the_largest_message);
    suite_add_tcase(s, tc);

    tc = tcase_create("malformed");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_length_zero);
    tcase_add_test(tc, test_unknown_types);
    tcase_add_test(tc, test_length_disagrees_with_fields);
    tcase_add_test(tc, test_string_longer_than_frame);
    tcase_add_test(tc, test_channel_length_bounds);
    tcase_add_test(tc, test_recovered_is_0_or_1);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(hubproto_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
