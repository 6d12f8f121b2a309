/*
 * test_wsframe.c - src/wsframe.c: the WebSocket frame codec (RFC 6455 5).
 *
 * Frames are built by hand, as a client sends them (masked). decode()
 * feeds them whole, byte by byte and in pieces of a few sizes, checks
 * that the events are consistent and that every split gives the same
 * messages, control frames and result; the tests then look at that.
 */
#include "internal.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#define FIN 0x80
#define RSV1 0x40
#define RSV2 0x20
#define RSV3 0x10

#define MB (1 << 20)
#define DATA_MAX (1 << 18) /* message bytes one decode() collects */

/* ck_assert() records where it is (a write to the runner per call): too
 * slow per byte of a 64 KiB frame fed byte by byte */
#define REQUIRE(cond)                                                          \
    do {                                                                       \
        if (!(cond))                                                           \
            ck_abort_msg("%s:%d: %s", __FILE__, __LINE__, #cond);              \
    } while (0)

static const uint8_t key[4] = {0x37, 0xfa, 0x21, 0x3d};

/* Appends a client frame to out: first byte b0 (FIN, RSV, opcode), the
 * shortest length, masked with k (unmasked when k is NULL). */
static size_t frame(uint8_t *out, unsigned b0, const void *payload, size_t len,
                    const uint8_t *k)
{
    size_t n = ws_encode_header(out, b0 & 0x0f, b0 & FIN, b0 & RSV1, len);

    out[0] = (uint8_t)b0; /* with RSV2 and RSV3, which the encoder lacks */
    if (k != NULL) {
        out[1] |= 0x80;
        memcpy(out + n, k, 4);
        n += 4;
    }
    if (len > 0)
        memcpy(out + n, payload, len);
    if (k != NULL)
        ws_mask(out + n, out + n, len, k, 0);
    return n + len;
}

/* A masked frame with a text payload. */
static size_t tframe(uint8_t *out, unsigned b0, const char *s)
{
    return frame(out, b0, s, strlen(s), key);
}

/* A close frame: code, then reason. */
static size_t close_frame(uint8_t *out, unsigned code, const char *reason)
{
    uint8_t p[WS_CONTROL_MAX + 8];
    size_t rlen = strlen(reason);

    p[0] = (uint8_t)(code >> 8);
    p[1] = (uint8_t)code;
    memcpy(p + 2, reason, rlen);
    return frame(out, FIN | WS_OP_CLOSE, p, 2 + rlen, key);
}

/* The test's masking helper: turns a server frame (unmasked) into the
 * client frame with the same content, masked with k. */
static size_t mask_frame(const uint8_t *in, size_t n, const uint8_t *k,
                         uint8_t *out)
{
    size_t hlen = (in[1] & 0x7f) == 126 ? 4 : (in[1] & 0x7f) == 127 ? 10 : 2;

    memcpy(out, in, hlen);
    out[1] |= 0x80;
    memcpy(out + hlen, k, 4);
    ws_mask(out + hlen + 4, in + hlen, n - hlen, k, 0);
    return n + 4;
}

/* What a decode gives. Split differently, a failing input may have given
 * more or fewer pieces of the message it fails in, but the same complete
 * messages and control frames. */
struct msg {
    uint8_t opcode, compressed;
    size_t off, len; /* in result.data */
};

struct ctl {
    uint8_t opcode;
    uint16_t code;
    size_t len, reason_len;
    uint8_t data[WS_CONTROL_MAX];
};

struct result {
    int rc;         /* WS_MORE, or the failure */
    size_t used;    /* input consumed, up to and with the failing piece */
    char order[32]; /* 'm' per message, 'c' per control frame, in order */
    int nmsg, nctl, pieces;
    struct msg msg[16];
    struct ctl ctl[16];
    uint8_t data[DATA_MAX];
    size_t len;      /* bytes in data */
    size_t done_len; /* of them, those of complete messages */
};

static void record_data(struct result *r, const struct ws_event *ev,
                        int *in_msg)
{
    struct msg *m = &r->msg[r->nmsg];

    REQUIRE(ev->opcode == WS_OP_TEXT || ev->opcode == WS_OP_BINARY);
    REQUIRE(ev->first == !*in_msg);
    if (ev->first) {
        m->opcode = ev->opcode;
        m->compressed = ev->compressed;
        m->off = r->len;
        m->len = 0;
        *in_msg = 1;
    }
    REQUIRE(ev->opcode == m->opcode);
    REQUIRE(ev->compressed == m->compressed);
    REQUIRE(r->len + ev->len <= DATA_MAX);
    if (ev->len > 0)
        memcpy(r->data + r->len, ev->data, ev->len);
    r->len += ev->len;
    m->len += ev->len;
    r->pieces++;
    if (ev->fin) {
        *in_msg = 0;
        r->done_len = r->len;
        r->nmsg++;
        REQUIRE(r->nmsg < 16);
        strcat(r->order, "m");
    }
}

static void record_control(struct result *r, const struct ws_event *ev)
{
    struct ctl *c = &r->ctl[r->nctl++];

    REQUIRE(r->nctl < 16);
    REQUIRE(ev->len <= WS_CONTROL_MAX);
    c->opcode = ev->opcode;
    c->len = ev->len;
    memcpy(c->data, ev->data, ev->len);
    c->code = ev->code;
    c->reason_len = ev->reason_len;
    if (ev->opcode == WS_OP_CLOSE && ev->code != WS_CLOSE_NO_STATUS)
        REQUIRE(ev->reason == ev->data + 2);
    strcat(r->order, "c");
}

/* Decodes a copy of in (unmasking changes it), step bytes at a time. */
static void decode_step(const uint8_t *in, size_t n, size_t step, uint64_t max,
                        int rsv1_ok, struct result *r)
{
    uint8_t *buf = malloc(n + 1);
    struct ws_decoder d;
    struct ws_event ev;
    size_t off = 0, used;
    int in_msg = 0;

    ck_assert_ptr_nonnull(buf);
    memcpy(buf, in, n);
    memset(r, 0, sizeof(*r));
    ws_decoder_init(&d, max, rsv1_ok);
    while (off < n && r->rc >= 0) {
        size_t end = off + step < n ? off + step : n;

        while (off < end) {
            r->rc = ws_decode(&d, buf + off, end - off, &used, &ev);
            REQUIRE(used <= end - off);
            off += used;
            if (r->rc < 0)
                break;
            if (r->rc == WS_MORE)
                REQUIRE(off == end);
            else if (r->rc == WS_DATA)
                record_data(r, &ev, &in_msg);
            else
                record_control(r, &ev);
        }
    }
    r->used = off;
    if (r->rc > 0)
        r->rc = WS_MORE;
    free(buf);
}

static void assert_same(const struct result *a, const struct result *b,
                        size_t step)
{
    ck_assert_msg(a->rc == b->rc, "step %zu: rc %d, not %d", step, b->rc,
                  a->rc);
    ck_assert_str_eq(a->order, b->order);
    ck_assert_uint_eq(a->done_len, b->done_len);
    ck_assert_int_eq(memcmp(a->data, b->data, a->done_len), 0);
    if (a->rc == WS_MORE)
        ck_assert_uint_eq(a->len, b->len);
    for (int i = 0; i < a->nctl; i++) {
        ck_assert_uint_eq(a->ctl[i].len, b->ctl[i].len);
        ck_assert_int_eq(memcmp(a->ctl[i].data, b->ctl[i].data, a->ctl[i].len),
                         0);
    }
}

static struct result *res;  /* fed whole */
static struct result *res1; /* fed byte by byte */
static struct result *tmp;

static void setup(void)
{
    res = malloc(sizeof(*res));
    res1 = malloc(sizeof(*res1));
    tmp = malloc(sizeof(*tmp));
    ck_assert(res != NULL && res1 != NULL && tmp != NULL);
}

static void teardown(void)
{
    free(res);
    free(res1);
    free(tmp);
}

/* Decodes in whole into res, byte by byte into res1, and checks that the
 * other splits agree. Returns res->rc. */
static int decode_with(const uint8_t *in, size_t n, uint64_t max, int rsv1)
{
    static const size_t steps[] = {2, 3, 7, 64};

    decode_step(in, n, n, max, rsv1, res);
    decode_step(in, n, 1, max, rsv1, res1);
    assert_same(res, res1, 1);
    for (size_t i = 0; i < ARRAY_LEN(steps) && steps[i] < n; i++) {
        decode_step(in, n, steps[i], max, rsv1, tmp);
        assert_same(res, tmp, steps[i]);
    }
    return res->rc;
}

static int decode(const uint8_t *in, size_t n)
{
    return decode_with(in, n, MB, 0);
}

/* Message i of res is the text s. */
static void assert_msg(int i, unsigned opcode, const void *s, size_t len)
{
    ck_assert_int_lt(i, res->nmsg);
    ck_assert_int_eq(res->msg[i].opcode, opcode);
    ck_assert_uint_eq(res->msg[i].len, len);
    ck_assert_int_eq(memcmp(res->data + res->msg[i].off, s, len), 0);
}

#define assert_text(i, s) assert_msg(i, WS_OP_TEXT, s, strlen(s))

/* A fixed pseudo-random payload. */
static void fill(uint8_t *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        p[i] = (uint8_t)(seed >> 16);
    }
}

/* basics --------------------------------------------------------------- */

START_TEST(test_masked_text_frame)
{
    uint8_t f[64];
    size_t n = tframe(f, FIN | WS_OP_TEXT, "Hello");

    ck_assert_int_eq(decode(f, n), WS_MORE);
    ck_assert_str_eq(res->order, "m");
    assert_text(0, "Hello");
    ck_assert_uint_eq(res->used, n);
}
END_TEST

START_TEST(test_masked_binary_frame)
{
    uint8_t f[300], p[256];
    size_t n;

    for (size_t i = 0; i < sizeof(p); i++)
        p[i] = (uint8_t)i;
    n = frame(f, FIN | WS_OP_BINARY, p, sizeof(p), key);
    ck_assert_int_eq(decode(f, n), WS_MORE);
    assert_msg(0, WS_OP_BINARY, p, sizeof(p));
    ck_assert_int_eq(res->msg[0].compressed, 0);
}
END_TEST

/* A data frame comes out in a piece per read, each with its flags. */
START_TEST(test_piece_per_read)
{
    uint8_t f[64];
    size_t n = tframe(f, FIN | WS_OP_TEXT, "abcdef");

    ck_assert_int_eq(decode(f, n), WS_MORE);
    ck_assert_int_eq(res->pieces, 1);
    ck_assert_int_eq(res1->pieces, 6);
    assert_text(0, "abcdef");
}
END_TEST

/* An event ends the call; the bytes after it stay for the next one. */
START_TEST(test_event_stops_reading)
{
    uint8_t f[64];
    size_t a = tframe(f, FIN | WS_OP_TEXT, "one");
    size_t n = a + tframe(f + a, FIN | WS_OP_TEXT, "two");
    struct ws_decoder d;
    struct ws_event ev;
    size_t used;

    ws_decoder_init(&d, MB, 0);
    ck_assert_int_eq(ws_decode(&d, f, n, &used, &ev), WS_DATA);
    ck_assert_uint_eq(used, a);
    ck_assert(ev.first && ev.fin);
    ck_assert_int_eq(memcmp(ev.data, "one", 3), 0);
    ck_assert_ptr_eq(ev.data, f + a - 3); /* unmasked in place */
    ck_assert_int_eq(ws_decode(&d, f + a, n - a, &used, &ev), WS_DATA);
    ck_assert_uint_eq(used, n - a);
    ck_assert_int_eq(memcmp(ev.data, "two", 3), 0);
    ck_assert_int_eq(ws_decode(&d, f + n, 0, &used, &ev), WS_MORE);
    ck_assert_uint_eq(used, 0);
}
END_TEST

START_TEST(test_empty_message)
{
    uint8_t f[64];
    size_t n = tframe(f, FIN | WS_OP_TEXT, "");

    n += frame(f + n, FIN | WS_OP_BINARY, NULL, 0, key);
    ck_assert_int_eq(decode(f, n), WS_MORE);
    ck_assert_str_eq(res->order, "mm");
    assert_text(0, "");
    assert_msg(1, WS_OP_BINARY, "", 0);
}
END_TEST

START_TEST(test_empty_fragments)
{
    uint8_t f[64];
    size_t n = tframe(f, WS_OP_TEXT, "");

    n += tframe(f + n, WS_OP_CONT, "ab");
    n += tframe(f + n, WS_OP_CONT, "");
    n += tframe(f + n, FIN | WS_OP_CONT, "");
    ck_assert_int_eq(decode(f, n), WS_MORE);
    ck_assert_str_eq(res->order, "m");
    assert_text(0, "ab");
}
END_TEST

START_TEST(test_fragmented_message)
{
    uint8_t f[64];
    size_t n = tframe(f, WS_OP_BINARY, "frag");

    n += tframe(f + n, WS_OP_CONT, "ment");
    n += tframe(f + n, FIN | WS_OP_CONT, "ed");
    ck_assert_int_eq(decode(f, n), WS_MORE);
    ck_assert_str_eq(res->order, "m");
    assert_msg(0, WS_OP_BINARY, "fragmented", 10);
}
END_TEST

/* RFC 6455 5.1: a server closes on a frame that is not masked. */
START_TEST(test_unmasked_frame_1002)
{
    uint8_t f[64];
    size_t n = frame(f, FIN | WS_OP_TEXT, "hi", 2, NULL);

    ck_assert_int_eq(decode(f, n), -WS_CLOSE_PROTOCOL);
    ck_assert_uint_eq(res1->used, 2); /* judged on its second byte */
    n = frame(f, FIN | WS_OP_PING, NULL, 0, NULL);
    ck_assert_int_eq(decode(f, n), -WS_CLOSE_PROTOCOL);
}
END_TEST

START_TEST(test_error_sticks)
{
    uint8_t f[64];
    size_t n = frame(f, FIN | WS_OP_TEXT, "hi", 2, NULL), used = 99;
    size_t m = tframe(f + n, FIN | WS_OP_TEXT, "ok");
    struct ws_decoder d;
    struct ws_event ev;

    ws_decoder_init(&d, MB, 0);
    ck_assert_int_eq(ws_decode(&d, f, n, &used, &ev), -WS_CLOSE_PROTOCOL);
    ck_assert_int_eq(ws_decode(&d, f + n, m, &used, &ev), -WS_CLOSE_PROTOCOL);
    ck_assert_uint_eq(used, 0);
}
END_TEST

/* no pointer inside, and small: it lives in every WebSocket's state */
START_TEST(test_decoder_is_small)
{
    ck_assert_uint_le(sizeof(struct ws_decoder), 192);
}
END_TEST

/* reserved bits and opcodes (5.2) -------------------------------------- */

START_TEST(test_rsv1_without_extension_1002)
{
    uint8_t f[64];
    size_t n = tframe(f, FIN | RSV1 | WS_OP_TEXT, "x");

    ck_assert_int_eq(decode(f, n), -WS_CLOSE_PROTOCOL);
    ck_assert_uint_eq(res1->used, 2);
}
END_TEST

/* RSV2 and RSV3 are never defined, not even by permessage-deflate. */
START_TEST(test_rsv2_rsv3_1002)
{
    uint8_t f[64];
    size_t n = tframe(f, FIN | RSV2 | WS_OP_TEXT, "x");

    ck_assert_int_eq(decode_with(f, n, MB, 1), -WS_CLOSE_PROTOCOL);
    n = tframe(f, FIN | RSV3 | WS_OP_BINARY, "x");
    ck_assert_int_eq(decode_with(f, n, MB, 1), -WS_CLOSE_PROTOCOL);
}
END_TEST

/* RFC 7692 6: with permessage-deflate, RSV1 on a first frame marks the
 * message compressed; its payload is not UTF-8 yet, so not checked. */
START_TEST(test_rsv1_marks_compressed)
{
    uint8_t f[64];
    size_t n = frame(f, RSV1 | WS_OP_TEXT, "\xf2\x48", 2, key);

    n += frame(f + n, FIN | WS_OP_CONT, "\xcd\xc9\x00", 3, key);
    n += tframe(f + n, FIN | WS_OP_TEXT, "plain");
    ck_assert_int_eq(decode_with(f, n, MB, 1), WS_MORE);
    ck_assert_str_eq(res->order, "mm");
    assert_msg(0, WS_OP_TEXT, "\xf2\x48\xcd\xc9\x00", 5);
    ck_assert_int_eq(res->msg[0].compressed, 1);
    ck_assert_int_eq(res->msg[1].compressed, 0);
}
END_TEST

/* RFC 7692 6.1: RSV1 only on a message's first frame. */
START_TEST(test_rsv1_on_continuation_1002)
{
    uint8_t f[64];
    size_t n = tframe(f, RSV1 | WS_OP_TEXT, "a");

    n += tframe(f + n, FIN | RSV1 | WS_OP_CONT, "b");
    ck_assert_int_eq(decode_with(f, n, MB, 1), -WS_CLOSE_PROTOCOL);
}
END_TEST

START_TEST(test_rsv1_on_control_1002)
{
    uint8_t f[64];
    size_t n = tframe(f, FIN | RSV1 | WS_OP_PING, "a");

    ck_assert_int_eq(decode_with(f, n, MB, 1), -WS_CLOSE_PROTOCOL);
}
END_TEST

START_TEST(test_reserved_data_opcodes_1002)
{
    uint8_t f[64];

    for (unsigned op = 3; op <= 7; op++) {
        size_t n = tframe(f, FIN | op, "x");

        ck_assert_int_eq(decode(f, n), -WS_CLOSE_PROTOCOL);
        ck_assert_uint_eq(res1->used, 2);
    }
}
END_TEST

START_TEST(test_reserved_control_opcodes_1002)
{
    uint8_t f[64];

    for (unsigned op = 0xb; op <= 0xf; op++) {
        size_t n = tframe(f, FIN | op, "x");

        ck_assert_int_eq(decode(f, n), -WS_CLOSE_PROTOCOL);
    }
}
END_TEST

/* control frames (5.5) ------------------------------------------------- */

START_TEST(test_ping_and_pong_delivered)
{
    uint8_t f[64];
    size_t n = tframe(f, FIN | WS_OP_PING, "are you there");

    n += tframe(f + n, FIN | WS_OP_PONG, "");
    ck_assert_int_eq(decode(f, n), WS_MORE);
    ck_assert_str_eq(res->order, "cc");
    ck_assert_int_eq(res->ctl[0].opcode, WS_OP_PING);
    ck_assert_uint_eq(res->ctl[0].len, 13);
    ck_assert_int_eq(memcmp(res->ctl[0].data, "are you there", 13), 0);
    ck_assert_int_eq(res->ctl[1].opcode, WS_OP_PONG);
    ck_assert_uint_eq(res->ctl[1].len, 0);
}
END_TEST

START_TEST(test_control_125_bytes)
{
    uint8_t f[256], p[125];
    size_t n;

    fill(p, sizeof(p), 1);
    n = frame(f, FIN | WS_OP_PING, p, sizeof(p), key);
    ck_assert_int_eq(decode(f, n), WS_MORE);
    ck_assert_uint_eq(res->ctl[0].len, 125);
    ck_assert_int_eq(memcmp(res->ctl[0].data, p, 125), 0);
}
END_TEST

START_TEST(test_control_over_125_1002)
{
    uint8_t f[256], p[126] = {0};
    size_t n = frame(f, FIN | WS_OP_PING, p, sizeof(p), key);

    ck_assert_int_eq(decode(f, n), -WS_CLOSE_PROTOCOL);
    ck_assert_uint_eq(res1->used, 2); /* before its extended length */
    n = frame(f, FIN | WS_OP_PONG, p, sizeof(p), key);
    ck_assert_int_eq(decode(f, n), -WS_CLOSE_PROTOCOL);
}
END_TEST

START_TEST(test_fragmented_control_1002)
{
    uint8_t f[64];
    size_t n = tframe(f, WS_OP_PING, "a");

    ck_assert_int_eq(decode(f, n), -WS_CLOSE_PROTOCOL);
    n = tframe(f, WS_OP_CLOSE, "");
    ck_assert_int_eq(decode(f, n), -WS_CLOSE_PROTOCOL);
}
END_TEST

/* 5.4: control frames may come between the fragments of a message. */
START_TEST(test_control_between_fragments)
{
    uint8_t f[128];
    size_t n = tframe(f, WS_OP_TEXT, "Hel");

    n += tframe(f + n, FIN | WS_OP_PING, "p1");
    n += tframe(f + n, WS_OP_CONT, "lo, ");
    n += tframe(f + n, FIN | WS_OP_PONG, "p2");
    n += tframe(f + n, FIN | WS_OP_PING, "");
    n += tframe(f + n, FIN | WS_OP_CONT, "world");
    n += close_frame(f + n, 1000, "bye");
    ck_assert_int_eq(decode(f, n), WS_MORE);
    ck_assert_str_eq(res->order, "cccmc");
    assert_text(0, "Hello, world");
    ck_assert_int_eq(res->ctl[0].opcode, WS_OP_PING);
    ck_assert_int_eq(memcmp(res->ctl[0].data, "p1", 2), 0);
    ck_assert_int_eq(res->ctl[1].opcode, WS_OP_PONG);
    ck_assert_int_eq(res->ctl[3].opcode, WS_OP_CLOSE);
    ck_assert_int_eq(res->ctl[3].code, 1000);
}
END_TEST

/* fragmentation (5.4) -------------------------------------------------- */

START_TEST(test_continuation_without_start_1002)
{
    uint8_t f[64];
    size_t n = tframe(f, FIN | WS_OP_CONT, "x");

    ck_assert_int_eq(decode(f, n), -WS_CLOSE_PROTOCOL);
    ck_assert_uint_eq(res1->used, 2);
    /* nor after a message that ended */
    n = tframe(f, FIN | WS_OP_TEXT, "a");
    n += tframe(f + n, WS_OP_CONT, "b");
    ck_assert_int_eq(decode(f, n), -WS_CLOSE_PROTOCOL);
    ck_assert_str_eq(res->order, "m");
}
END_TEST

START_TEST(test_new_message_inside_fragmented_1002)
{
    uint8_t f[64];
    size_t n = tframe(f, WS_OP_TEXT, "a");

    n += tframe(f + n, FIN | WS_OP_TEXT, "b");
    ck_assert_int_eq(decode(f, n), -WS_CLOSE_PROTOCOL);
    n = tframe(f, WS_OP_BINARY, "a");
    n += tframe(f + n, FIN | WS_OP_PING, "");
    n += tframe(f + n, WS_OP_BINARY, "b");
    ck_assert_int_eq(decode(f, n), -WS_CLOSE_PROTOCOL);
    ck_assert_str_eq(res->order, "c");
}
END_TEST

/* lengths (5.2) -------------------------------------------------------- */

static void check_length(size_t len, size_t header)
{
    uint8_t *f = malloc(len + 14), *p = malloc(len + 1);
    size_t n;

    fill(p, len, (unsigned)len);
    n = frame(f, FIN | WS_OP_BINARY, p, len, key);
    ck_assert_uint_eq(n, header + 4 + len);
    ck_assert_int_eq(decode(f, n), WS_MORE);
    assert_msg(0, WS_OP_BINARY, p, len);
    free(f);
    free(p);
}

START_TEST(test_length_7bit)
{
    check_length(0, 2);
    check_length(1, 2);
    check_length(125, 2);
}
END_TEST

START_TEST(test_length_16bit)
{
    check_length(126, 4);
    check_length(65535, 4);
}
END_TEST

START_TEST(test_length_64bit)
{
    check_length(65536, 10);
    check_length(100003, 10);
}
END_TEST

/* "the minimal number of bytes MUST be used to encode the length" */
START_TEST(test_length_16bit_not_minimal_1002)
{
    uint8_t f[] = {FIN | WS_OP_BINARY, 0x80 | 126, 0, 125, 1, 2, 3, 4};

    ck_assert_int_eq(decode(f, sizeof(f)), -WS_CLOSE_PROTOCOL);
    ck_assert_uint_eq(res1->used, 8); /* judged once the header is in */
}
END_TEST

START_TEST(test_length_64bit_not_minimal_1002)
{
    uint8_t f[] = {FIN | WS_OP_BINARY,
                   0x80 | 127,
                   0,
                   0,
                   0,
                   0,
                   0,
                   0,
                   0xff,
                   0xff,
                   1,
                   2,
                   3,
                   4};

    ck_assert_int_eq(decode(f, sizeof(f)), -WS_CLOSE_PROTOCOL);
}
END_TEST

/* "the most significant bit MUST be 0" */
START_TEST(test_length_64bit_top_bit_1002)
{
    uint8_t f[] = {
        FIN | WS_OP_BINARY, 0x80 | 127, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4};

    ck_assert_int_eq(decode_with(f, sizeof(f), 0, 0), -WS_CLOSE_PROTOCOL);
}
END_TEST

/* Without a limit, a 2^62-byte frame is just a long wait. */
START_TEST(test_length_64bit_unlimited)
{
    uint8_t f[] = {FIN | WS_OP_BINARY,
                   0x80 | 127,
                   0x40,
                   0,
                   0,
                   0,
                   0,
                   0,
                   0,
                   0,
                   1,
                   2,
                   3,
                   4,
                   'x'};

    ck_assert_int_eq(decode_with(f, sizeof(f), 0, 0), WS_MORE);
    ck_assert_int_eq(res->pieces, 1);
    ck_assert_int_eq(res->nmsg, 0);
}
END_TEST

/* masking (5.3) -------------------------------------------------------- */

START_TEST(test_mask_keys)
{
    static const uint8_t keys[][4] = {
        {0, 0, 0, 0}, {0xff, 0xff, 0xff, 0xff}, {1, 2, 3, 4}, {0x80, 0, 0, 1}};
    uint8_t p[77], f[128];

    fill(p, sizeof(p), 7);
    for (size_t i = 0; i < ARRAY_LEN(keys); i++) {
        size_t n = frame(f, FIN | WS_OP_BINARY, p, sizeof(p), keys[i]);

        ck_assert_int_eq(decode(f, n), WS_MORE);
        assert_msg(0, WS_OP_BINARY, p, sizeof(p));
    }
}
END_TEST

/* Each frame has its own key; a frame's key goes on across pieces that
 * are not multiples of 4 (the splits of decode()). */
START_TEST(test_mask_per_frame)
{
    static const uint8_t k2[4] = {9, 8, 7, 6};
    uint8_t p[23], f[128];
    size_t n;

    fill(p, sizeof(p), 3);
    n = frame(f, WS_OP_BINARY, p, 11, key);
    n += frame(f + n, FIN | WS_OP_CONT, p + 11, 12, k2);
    ck_assert_int_eq(decode(f, n), WS_MORE);
    assert_msg(0, WS_OP_BINARY, p, sizeof(p));
}
END_TEST

START_TEST(test_mask_function)
{
    uint8_t a[41], b[41], c[41];

    fill(a, sizeof(a), 5);
    for (size_t phase = 0; phase < 4; phase++) {
        ws_mask(b, a, sizeof(a), key, phase);
        for (size_t i = 0; i < sizeof(a); i++)
            ck_assert_int_eq(b[i], a[i] ^ key[(phase + i) % 4]);
        /* in two parts, the second one continuing the phase */
        memcpy(c, a, sizeof(c));
        ws_mask(c, c, 13, key, phase);
        ws_mask(c + 13, c + 13, sizeof(c) - 13, key, phase + 13);
        ck_assert_int_eq(memcmp(b, c, sizeof(b)), 0);
    }
}
END_TEST

/* message size ------------------------------------------------------- */

/* 1009 as soon as the header shows it, before any payload. */
START_TEST(test_message_over_max_1009_before_payload)
{
    uint8_t f[] = {FIN | WS_OP_BINARY, 0x80 | 126, 0x01, 0x00, 1, 2, 3, 4};

    ck_assert_int_eq(decode_with(f, sizeof(f), 255, 0), -WS_CLOSE_TOO_BIG);
    ck_assert_uint_eq(res1->used, sizeof(f));
}
END_TEST

START_TEST(test_message_at_max)
{
    uint8_t p[100], f[128];
    size_t n;

    fill(p, sizeof(p), 9);
    n = frame(f, FIN | WS_OP_BINARY, p, sizeof(p), key);
    ck_assert_int_eq(decode_with(f, n, 100, 0), WS_MORE);
    assert_msg(0, WS_OP_BINARY, p, sizeof(p));
    ck_assert_int_eq(decode_with(f, n, 99, 0), -WS_CLOSE_TOO_BIG);
}
END_TEST

/* The limit is on the message, the sum of its fragments. */
START_TEST(test_fragments_over_max_1009)
{
    uint8_t p[40] = {0}, f[256];
    size_t n = frame(f, WS_OP_BINARY, p, 40, key), at;

    n += frame(f + n, WS_OP_CONT, p, 40, key);
    at = n;
    n += frame(f + n, FIN | WS_OP_CONT, p, 40, key);
    ck_assert_int_eq(decode_with(f, n, 100, 0), -WS_CLOSE_TOO_BIG);
    ck_assert_uint_eq(res1->used, at + 6); /* the third header */
    ck_assert_int_eq(decode_with(f, n, 120, 0), WS_MORE);
}
END_TEST

/* Each message starts from 0, and control frames do not count. */
START_TEST(test_max_per_message)
{
    uint8_t p[60] = {0}, f[512];
    size_t n = frame(f, FIN | WS_OP_BINARY, p, 60, key);

    n += frame(f + n, WS_OP_BINARY, p, 30, key);
    n += frame(f + n, FIN | WS_OP_PING, p, 60, key);
    n += frame(f + n, FIN | WS_OP_CONT, p, 30, key);
    n += frame(f + n, FIN | WS_OP_BINARY, p, 60, key);
    ck_assert_int_eq(decode_with(f, n, 60, 0), WS_MORE);
    ck_assert_str_eq(res->order, "mcmm");
}
END_TEST

/* A compressed message may be a little larger on the wire than inflated
 * (its limit is checked after inflation), but not much. */
START_TEST(test_compressed_wire_allowance)
{
    uint8_t p[200] = {0}, f[512];
    size_t n = frame(f, FIN | RSV1 | WS_OP_BINARY, p, 150, key);

    ck_assert_int_eq(decode_with(f, n, 100, 1), WS_MORE);
    ck_assert_int_eq(res->msg[0].compressed, 1);
    n = frame(f, FIN | RSV1 | WS_OP_BINARY, p, 200, key);
    ck_assert_int_eq(decode_with(f, n, 100, 1), -WS_CLOSE_TOO_BIG);
    n = frame(f, FIN | WS_OP_BINARY, p, 150, key);
    ck_assert_int_eq(decode_with(f, n, 100, 1), -WS_CLOSE_TOO_BIG);
}
END_TEST

/* text (5.6, 8.1) ------------------------------------------------------ */

START_TEST(test_text_utf8_valid)
{
    uint8_t f[64];
    size_t n = tframe(f, FIN | WS_OP_TEXT,
                      "gr\xc3\xbc\xc3\x9f \xe2\x82\xac "
                      "\xf0\x9f\x98\x80");

    ck_assert_int_eq(decode(f, n), WS_MORE);
    assert_text(0, "gr\xc3\xbc\xc3\x9f \xe2\x82\xac \xf0\x9f\x98\x80");
}
END_TEST

START_TEST(test_text_invalid_utf8_1007)
{
    uint8_t f[64];
    size_t n = tframe(f, FIN | WS_OP_TEXT, "ab\xed\xa0\x80");

    ck_assert_int_eq(decode(f, n), -WS_CLOSE_BAD_DATA);
    ck_assert_int_eq(res->nmsg, 0);
}
END_TEST

/* At the first impossible byte, before the rest of the frame arrives. */
START_TEST(test_text_fails_fast)
{
    char s[200];
    uint8_t f[256];
    size_t n;

    memset(s, 'a', sizeof(s) - 1);
    s[sizeof(s) - 1] = '\0';
    s[10] = (char)0xc0;
    n = tframe(f, FIN | WS_OP_TEXT, s);
    ck_assert_int_eq(decode(f, n), -WS_CLOSE_BAD_DATA);
    ck_assert_uint_eq(res1->used, 4 + 4 + 11); /* header, key, 11 bytes */
}
END_TEST

/* Text is UTF-8 as a whole message: a character may be cut between
 * fragments, with control frames between the halves. */
START_TEST(test_text_utf8_split_across_fragments)
{
    uint8_t f[128];
    size_t n = tframe(f, WS_OP_TEXT, "1 \xe2");

    n += tframe(f + n, FIN | WS_OP_PING, "");
    n += tframe(f + n, WS_OP_CONT, "\x82");
    n += tframe(f + n, WS_OP_CONT, "\xac \xf0\x9f");
    n += tframe(f + n, FIN | WS_OP_CONT, "\x98\x80");
    ck_assert_int_eq(decode(f, n), WS_MORE);
    ck_assert_str_eq(res->order, "cm");
    assert_text(0, "1 \xe2\x82\xac \xf0\x9f\x98\x80");
}
END_TEST

START_TEST(test_text_invalid_across_fragments_1007)
{
    uint8_t f[128];
    size_t n = tframe(f, WS_OP_TEXT, "ok \xe2\x82");
    size_t at = n;

    n += tframe(f + n, FIN | WS_OP_CONT, "Aok");
    ck_assert_int_eq(decode(f, n), -WS_CLOSE_BAD_DATA);
    ck_assert_uint_eq(res1->used, at + 6 + 1);
}
END_TEST

/* A message must not end inside a character, even if each frame could. */
START_TEST(test_text_truncated_at_message_end_1007)
{
    uint8_t f[128];
    size_t n = tframe(f, WS_OP_TEXT, "ab");

    n += tframe(f + n, FIN | WS_OP_CONT, "\xf0\x9f\x98");
    ck_assert_int_eq(decode(f, n), -WS_CLOSE_BAD_DATA);
    ck_assert_uint_eq(res1->used, n);
    n = tframe(f, FIN | WS_OP_TEXT, "\xc3");
    ck_assert_int_eq(decode(f, n), -WS_CLOSE_BAD_DATA);
}
END_TEST

/* Each text message is validated from its start. */
START_TEST(test_text_state_per_message)
{
    uint8_t f[128];
    size_t n = tframe(f, FIN | WS_OP_TEXT, "\xc3\xa9");

    n += tframe(f + n, FIN | WS_OP_TEXT, "\xa9");
    ck_assert_int_eq(decode(f, n), -WS_CLOSE_BAD_DATA);
    ck_assert_str_eq(res->order, "m");
}
END_TEST

START_TEST(test_binary_not_validated)
{
    uint8_t f[64];
    size_t n = frame(f, FIN | WS_OP_BINARY, "\xff\xc0\xed\xa0", 4, key);

    ck_assert_int_eq(decode(f, n), WS_MORE);
    assert_msg(0, WS_OP_BINARY, "\xff\xc0\xed\xa0", 4);
}
END_TEST

/* close frames (5.5.1, 7.4) -------------------------------------------- */

static int decode_close(unsigned code, const char *reason)
{
    uint8_t f[256];

    return decode(f, close_frame(f, code, reason));
}

START_TEST(test_close_without_code)
{
    uint8_t f[64];
    size_t n = frame(f, FIN | WS_OP_CLOSE, NULL, 0, key);

    ck_assert_int_eq(decode(f, n), WS_MORE);
    ck_assert_int_eq(res->ctl[0].opcode, WS_OP_CLOSE);
    ck_assert_int_eq(res->ctl[0].code, WS_CLOSE_NO_STATUS);
    ck_assert_uint_eq(res->ctl[0].reason_len, 0);
}
END_TEST

START_TEST(test_close_code_and_reason)
{
    ck_assert_int_eq(decode_close(1001, "going \xc3\xa0 bed"), WS_MORE);
    ck_assert_int_eq(res->ctl[0].code, 1001);
    ck_assert_uint_eq(res->ctl[0].reason_len, 12);
    ck_assert_int_eq(memcmp(res->ctl[0].data + 2, "going \xc3\xa0 bed", 12), 0);
    ck_assert_int_eq(decode_close(1000, ""), WS_MORE);
    ck_assert_int_eq(res->ctl[0].code, 1000);
    ck_assert_uint_eq(res->ctl[0].reason_len, 0);
}
END_TEST

START_TEST(test_close_longest_reason)
{
    char reason[124];

    memset(reason, 'r', 123);
    reason[123] = '\0';
    ck_assert_int_eq(decode_close(4000, reason), WS_MORE);
    ck_assert_uint_eq(res->ctl[0].reason_len, 123);
}
END_TEST

START_TEST(test_close_length_1_1002)
{
    uint8_t f[64];
    size_t n = frame(f, FIN | WS_OP_CLOSE, "\x03", 1, key);

    ck_assert_int_eq(decode(f, n), -WS_CLOSE_PROTOCOL);
    /* not read as a code with a byte left over from the ping before */
    n = frame(f, FIN | WS_OP_PING, "\x03\xe8", 2, key);
    n += frame(f + n, FIN | WS_OP_CLOSE, "\x03", 1, key);
    ck_assert_int_eq(decode(f, n), -WS_CLOSE_PROTOCOL);
    ck_assert_str_eq(res->order, "c");
}
END_TEST

START_TEST(test_close_code_below_1000_1002)
{
    ck_assert_int_eq(decode_close(0, ""), -WS_CLOSE_PROTOCOL);
    ck_assert_int_eq(decode_close(999, ""), -WS_CLOSE_PROTOCOL);
}
END_TEST

/* 7.4.1: 1004 is reserved; 1005 and 1006 MUST NOT be set in a frame */
START_TEST(test_close_code_1004_1005_1006_1002)
{
    ck_assert_int_eq(decode_close(1004, ""), -WS_CLOSE_PROTOCOL);
    ck_assert_int_eq(decode_close(1005, ""), -WS_CLOSE_PROTOCOL);
    ck_assert_int_eq(decode_close(1006, ""), -WS_CLOSE_PROTOCOL);
}
END_TEST

/* 7.4.1: 1015 (TLS handshake failure) MUST NOT be set in a frame */
START_TEST(test_close_code_1015_1002)
{
    ck_assert_int_eq(decode_close(1015, ""), -WS_CLOSE_PROTOCOL);
}
END_TEST

/* 7.4.2: 1000-2999 belong to the protocol; 1016-2999 are not assigned */
START_TEST(test_close_code_unassigned_1002)
{
    ck_assert_int_eq(decode_close(1016, ""), -WS_CLOSE_PROTOCOL);
    ck_assert_int_eq(decode_close(2000, ""), -WS_CLOSE_PROTOCOL);
    ck_assert_int_eq(decode_close(2999, ""), -WS_CLOSE_PROTOCOL);
}
END_TEST

START_TEST(test_close_code_above_4999_1002)
{
    ck_assert_int_eq(decode_close(5000, ""), -WS_CLOSE_PROTOCOL);
    ck_assert_int_eq(decode_close(65535, ""), -WS_CLOSE_PROTOCOL);
}
END_TEST

/* 7.4.1 and the IANA registry (1012-1014 came after the RFC) */
START_TEST(test_close_codes_defined)
{
    static const unsigned ok[] = {1000, 1001, 1002, 1003, 1007, 1008,
                                  1009, 1010, 1011, 1012, 1013, 1014};

    for (size_t i = 0; i < ARRAY_LEN(ok); i++) {
        ck_assert_int_eq(decode_close(ok[i], "x"), WS_MORE);
        ck_assert_int_eq(res->ctl[0].code, ok[i]);
    }
}
END_TEST

/* 7.4.2: 3000-3999 registered by libraries, 4000-4999 private */
START_TEST(test_close_codes_application)
{
    static const unsigned ok[] = {3000, 3999, 4000, 4999};

    for (size_t i = 0; i < ARRAY_LEN(ok); i++)
        ck_assert_int_eq(decode_close(ok[i], ""), WS_MORE);
}
END_TEST

/* The issue asks 1002 for it, like the other malformed close payloads. */
START_TEST(test_close_reason_bad_utf8_1002)
{
    ck_assert_int_eq(decode_close(1000, "bad \xc0\xaf"), -WS_CLOSE_PROTOCOL);
    ck_assert_int_eq(decode_close(1000, "cut \xe2\x82"), -WS_CLOSE_PROTOCOL);
}
END_TEST

/* encoder -------------------------------------------------------------- */

START_TEST(test_encode_header_lengths)
{
    static const struct {
        uint64_t len;
        size_t size;
        uint8_t b1;
    } t[] = {{0, 2, 0},
             {125, 2, 125},
             {126, 4, 126},
             {65535, 4, 126},
             {65536, 10, 127},
             {1ULL << 32, 10, 127},
             {(1ULL << 63) - 1, 10, 127}};
    uint8_t h[WS_HEADER_MAX];

    for (size_t i = 0; i < ARRAY_LEN(t); i++) {
        uint64_t back = 0;

        ck_assert_uint_eq(ws_encode_header(h, WS_OP_BINARY, 1, 0, t[i].len),
                          t[i].size);
        ck_assert_int_eq(h[1], t[i].b1); /* never masked */
        for (size_t k = 2; k < t[i].size; k++)
            back = back << 8 | h[k];
        if (t[i].size > 2)
            ck_assert(back == t[i].len);
    }
}
END_TEST

START_TEST(test_encode_header_bits)
{
    uint8_t h[WS_HEADER_MAX];

    ws_encode_header(h, WS_OP_TEXT, 1, 0, 5);
    ck_assert_int_eq(h[0], 0x81);
    ws_encode_header(h, WS_OP_TEXT, 0, 1, 5);
    ck_assert_int_eq(h[0], 0x41);
    ws_encode_header(h, WS_OP_CONT, 1, 0, 5);
    ck_assert_int_eq(h[0], 0x80);
    ws_encode_header(h, WS_OP_PONG, 1, 0, 0);
    ck_assert_int_eq(h[0], 0x8a);
}
END_TEST

START_TEST(test_encode_ping_pong)
{
    uint8_t f[WS_CONTROL_FRAME_MAX];

    ck_assert_int_eq(ws_encode_control(f, WS_OP_PING, "hi", 2), 4);
    ck_assert_int_eq(memcmp(f, "\x89\x02hi", 4), 0);
    ck_assert_int_eq(ws_encode_control(f, WS_OP_PONG, NULL, 0), 2);
    ck_assert_int_eq(memcmp(f, "\x8a\x00", 2), 0);
}
END_TEST

START_TEST(test_encode_control_too_long)
{
    uint8_t f[WS_CONTROL_FRAME_MAX], p[126] = {0};

    ck_assert_int_eq(ws_encode_control(f, WS_OP_PING, p, 125), 127);
    ck_assert_int_eq(ws_encode_control(f, WS_OP_PING, p, 126), -1);
}
END_TEST

START_TEST(test_encode_close)
{
    uint8_t f[WS_CONTROL_FRAME_MAX];

    ck_assert_int_eq(ws_encode_close(f, 1001, "bye", 3), 7);
    ck_assert_int_eq(memcmp(f,
                            "\x88\x05\x03\xe9"
                            "bye",
                            7),
                     0);
    ck_assert_int_eq(ws_encode_close(f, 1000, NULL, 0), 4);
    ck_assert_int_eq(memcmp(f, "\x88\x02\x03\xe8", 4), 0);
    /* code 0: an empty close, to answer one that had no code */
    ck_assert_int_eq(ws_encode_close(f, 0, NULL, 0), 2);
    ck_assert_int_eq(memcmp(f, "\x88\x00", 2), 0);
}
END_TEST

START_TEST(test_encode_close_refuses_bad_payload)
{
    uint8_t f[WS_CONTROL_FRAME_MAX];
    char r[124];

    memset(r, 'r', sizeof(r));
    ck_assert_int_eq(ws_encode_close(f, 1005, NULL, 0), -1);
    ck_assert_int_eq(ws_encode_close(f, 1006, NULL, 0), -1);
    ck_assert_int_eq(ws_encode_close(f, 999, NULL, 0), -1);
    ck_assert_int_eq(ws_encode_close(f, 1000, r, 123), 127);
    ck_assert_int_eq(ws_encode_close(f, 1000, r, 124), -1);
    ck_assert_int_eq(ws_encode_close(f, 1000, "\xc3", 1), -1);
}
END_TEST

/* What the encoder writes, masked by the test's helper as a client would,
 * decodes to what it was. */
START_TEST(test_encode_round_trip)
{
    static const size_t lens[] = {0, 1, 125, 126, 65535, 65536, 70001};
    uint8_t *p = malloc(70001), *srv = malloc(70020), *cli = malloc(70100);
    size_t n;

    for (size_t i = 0; i < ARRAY_LEN(lens); i++) {
        fill(p, lens[i], (unsigned)i);
        n = ws_encode_header(srv, WS_OP_BINARY, 1, 0, lens[i]);
        memcpy(srv + n, p, lens[i]);
        n = mask_frame(srv, n + lens[i], key, cli);
        ck_assert_int_eq(decode(cli, n), WS_MORE);
        assert_msg(0, WS_OP_BINARY, p, lens[i]);
    }
    free(p);
    free(srv);
    free(cli);
}
END_TEST

START_TEST(test_encode_round_trip_fragments_and_controls)
{
    uint8_t srv[256], cli[512];
    size_t m = 0, k;

    /* a text cut inside its euro sign, a ping between the halves */
    k = ws_encode_header(srv, WS_OP_TEXT, 0, 0, 2);
    memcpy(srv + k, "\xe2\x82", 2);
    m += mask_frame(srv, k + 2, key, cli + m);
    k = (size_t)ws_encode_control(srv, WS_OP_PING, "ping", 4);
    m += mask_frame(srv, k, key, cli + m);
    k = ws_encode_header(srv, WS_OP_CONT, 1, 0, 2);
    memcpy(srv + k, "\xac!", 2);
    m += mask_frame(srv, k + 2, key, cli + m);
    k = (size_t)ws_encode_close(srv, 1000, "done", 4);
    m += mask_frame(srv, k, key, cli + m);
    ck_assert_int_eq(decode(cli, m), WS_MORE);
    ck_assert_str_eq(res->order, "cmc");
    assert_text(0, "\xe2\x82\xac!");
    ck_assert_int_eq(res->ctl[1].code, 1000);
    ck_assert_uint_eq(res->ctl[1].reason_len, 4);
}
END_TEST

static Suite *wsframe_suite(void)
{
    Suite *s = suite_create("wsframe");
    TCase *tc = tcase_create("basics");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_masked_text_frame);
    tcase_add_test(tc, test_masked_binary_frame);
    tcase_add_test(tc, test_piece_per_read);
    tcase_add_test(tc, test_event_stops_reading);
    tcase_add_test(tc, test_empty_message);
    tcase_add_test(tc, test_empty_fragments);
    tcase_add_test(tc, test_fragmented_message);
    tcase_add_test(tc, test_unmasked_frame_1002);
    tcase_add_test(tc, test_error_sticks);
    tcase_add_test(tc, test_decoder_is_small);
    suite_add_tcase(s, tc);

    tc = tcase_create("reserved");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_rsv1_without_extension_1002);
    tcase_add_test(tc, test_rsv2_rsv3_1002);
    tcase_add_test(tc, test_rsv1_marks_compressed);
    tcase_add_test(tc, test_rsv1_on_continuation_1002);
    tcase_add_test(tc, test_rsv1_on_control_1002);
    tcase_add_test(tc, test_reserved_data_opcodes_1002);
    tcase_add_test(tc, test_reserved_control_opcodes_1002);
    suite_add_tcase(s, tc);

    tc = tcase_create("control");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_ping_and_pong_delivered);
    tcase_add_test(tc, test_control_125_bytes);
    tcase_add_test(tc, test_control_over_125_1002);
    tcase_add_test(tc, test_fragmented_control_1002);
    tcase_add_test(tc, test_control_between_fragments);
    suite_add_tcase(s, tc);

    tc = tcase_create("fragments");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_continuation_without_start_1002);
    tcase_add_test(tc, test_new_message_inside_fragmented_1002);
    suite_add_tcase(s, tc);

    tc = tcase_create("length");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_length_7bit);
    tcase_add_test(tc, test_length_16bit);
    tcase_add_test(tc, test_length_64bit);
    tcase_add_test(tc, test_length_16bit_not_minimal_1002);
    tcase_add_test(tc, test_length_64bit_not_minimal_1002);
    tcase_add_test(tc, test_length_64bit_top_bit_1002);
    tcase_add_test(tc, test_length_64bit_unlimited);
    suite_add_tcase(s, tc);

    tc = tcase_create("mask");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_mask_keys);
    tcase_add_test(tc, test_mask_per_frame);
    tcase_add_test(tc, test_mask_function);
    suite_add_tcase(s, tc);

    tc = tcase_create("size");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_message_over_max_1009_before_payload);
    tcase_add_test(tc, test_message_at_max);
    tcase_add_test(tc, test_fragments_over_max_1009);
    tcase_add_test(tc, test_max_per_message);
    tcase_add_test(tc, test_compressed_wire_allowance);
    suite_add_tcase(s, tc);

    tc = tcase_create("text");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_text_utf8_valid);
    tcase_add_test(tc, test_text_invalid_utf8_1007);
    tcase_add_test(tc, test_text_fails_fast);
    tcase_add_test(tc, test_text_utf8_split_across_fragments);
    tcase_add_test(tc, test_text_invalid_across_fragments_1007);
    tcase_add_test(tc, test_text_truncated_at_message_end_1007);
    tcase_add_test(tc, test_text_state_per_message);
    tcase_add_test(tc, test_binary_not_validated);
    suite_add_tcase(s, tc);

    tc = tcase_create("close");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_close_without_code);
    tcase_add_test(tc, test_close_code_and_reason);
    tcase_add_test(tc, test_close_longest_reason);
    tcase_add_test(tc, test_close_length_1_1002);
    tcase_add_test(tc, test_close_code_below_1000_1002);
    tcase_add_test(tc, test_close_code_1004_1005_1006_1002);
    tcase_add_test(tc, test_close_code_1015_1002);
    tcase_add_test(tc, test_close_code_unassigned_1002);
    tcase_add_test(tc, test_close_code_above_4999_1002);
    tcase_add_test(tc, test_close_codes_defined);
    tcase_add_test(tc, test_close_codes_application);
    tcase_add_test(tc, test_close_reason_bad_utf8_1002);
    suite_add_tcase(s, tc);

    tc = tcase_create("encode");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_encode_header_lengths);
    tcase_add_test(tc, test_encode_header_bits);
    tcase_add_test(tc, test_encode_ping_pong);
    tcase_add_test(tc, test_encode_control_too_long);
    tcase_add_test(tc, test_encode_close);
    tcase_add_test(tc, test_encode_close_refuses_bad_payload);
    tcase_add_test(tc, test_encode_round_trip);
    tcase_add_test(tc, test_encode_round_trip_fragments_and_controls);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(wsframe_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
