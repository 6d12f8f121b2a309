/*
 * fuzz_wsframe.c - libFuzzer target for the WebSocket frame decoder
 * (src/wsframe.c, src/utf8.c): any bytes, cut anywhere, must give events
 * or a close code, never a crash, an overread or a hang.
 *
 * The first input byte chooses the decoder's settings (message limit,
 * permessage-deflate), the second how the rest is cut. The rest is decoded
 * twice, in pieces and byte by byte, and both must agree: same complete
 * messages, same control frames, same result. Every event is checked
 * against what the decoder promises (a text message is UTF-8, a close code
 * may be sent, a control payload can be sent back by the encoder).
 *
 * tests/fuzz/run.sh builds and runs it with its seeds
 * (tests/fuzz/corpus/wsframe/).
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct run {
    int rc;
    uint8_t *msgs; /* the bytes of every complete message, in order */
    size_t len, done;
    uint8_t *ctls; /* opcode, length and payload of every control frame */
    size_t clen;
    uint8_t op; /* of the message being read; 0: none */
    uint8_t compressed;
};

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond))                                                           \
            abort();                                                           \
    } while (0)

static void on_data(struct run *r, const struct ws_event *ev, const uint8_t *in,
                    size_t inlen)
{
    CHECK(ev->opcode == WS_OP_TEXT || ev->opcode == WS_OP_BINARY);
    CHECK(ev->first == (r->op == 0));
    CHECK(ev->data >= in && ev->data + ev->len <= in + inlen);
    if (ev->first) {
        r->op = ev->opcode;
        r->compressed = ev->compressed;
    }
    CHECK(ev->opcode == r->op && ev->compressed == r->compressed);
    if (ev->len > 0)
        memcpy(r->msgs + r->len, ev->data, ev->len);
    r->len += ev->len;
    if (!ev->fin)
        return;
    /* the decoder promises whole text messages are UTF-8 */
    if (r->op == WS_OP_TEXT && !r->compressed)
        CHECK(utf8_valid(r->msgs + r->done, r->len - r->done));
    r->done = r->len;
    r->op = 0;
}

static void on_control(struct run *r, const struct ws_event *ev)
{
    uint8_t out[WS_CONTROL_FRAME_MAX];

    CHECK(ev->len <= WS_CONTROL_MAX);
    CHECK(ev->opcode == WS_OP_CLOSE || ev->opcode == WS_OP_PING ||
          ev->opcode == WS_OP_PONG);
    if (ev->opcode == WS_OP_CLOSE && ev->code != WS_CLOSE_NO_STATUS)
        /* what was accepted can be echoed */
        CHECK(ws_encode_close(out, ev->code, (const char *)ev->reason,
                              ev->reason_len) == (int)ev->len + 2);
    else if (ev->opcode == WS_OP_CLOSE)
        CHECK(ev->len == 0);
    else
        CHECK(ws_encode_control(out, ev->opcode, ev->data, ev->len) ==
              (int)ev->len + 2);
    r->ctls[r->clen++] = ev->opcode;
    r->ctls[r->clen++] = (uint8_t)ev->len;
    memcpy(r->ctls + r->clen, ev->data, ev->len);
    r->clen += ev->len;
}

/* Decodes a copy of in, in pieces of 1 to `most` bytes chosen by seed. */
static void decode(const uint8_t *in, size_t size, uint64_t max, int rsv1,
                   unsigned seed, size_t most, struct run *r)
{
    uint8_t *buf = malloc(size + 1);
    struct ws_decoder d;
    struct ws_event ev;
    size_t off = 0, used;

    CHECK(buf != NULL);
    memcpy(buf, in, size);
    ws_decoder_init(&d, max, rsv1);
    r->rc = WS_MORE;
    while (off < size && r->rc >= 0) {
        size_t n = 1 + (seed = seed * 1103515245u + 12345u) % most;
        size_t end = n < size - off ? off + n : size;

        while (off < end) {
            r->rc = ws_decode(&d, buf + off, end - off, &used, &ev);
            CHECK(used <= end - off);
            if (r->rc == WS_DATA)
                on_data(r, &ev, buf + off, used);
            else if (r->rc == WS_CONTROL)
                on_control(r, &ev);
            off += used;
            if (r->rc < 0)
                break;
            CHECK(r->rc != WS_MORE || off == end);
        }
    }
    if (r->rc < 0)
        CHECK(r->rc == -WS_CLOSE_PROTOCOL || r->rc == -WS_CLOSE_BAD_DATA ||
              r->rc == -WS_CLOSE_TOO_BIG);
    else
        r->rc = WS_MORE;
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint64_t limits[] = {0, 16, 125, 1000};
    struct run a = {0}, b = {0};
    uint64_t max;
    int rsv1;

    if (size < 2)
        return 0;
    max = limits[data[0] & 3];
    rsv1 = (data[0] >> 2) & 1;
    a.msgs = malloc(size);
    b.msgs = malloc(size);
    a.ctls = malloc(size * 2);
    b.ctls = malloc(size * 2);
    CHECK(a.msgs && b.msgs && a.ctls && b.ctls);
    decode(data + 2, size - 2, max, rsv1, data[1], 1 + data[1] % 64, &a);
    decode(data + 2, size - 2, max, rsv1, 0, 1, &b);
    CHECK(a.rc == b.rc);
    CHECK(a.done == b.done && memcmp(a.msgs, b.msgs, a.done) == 0);
    CHECK(a.clen == b.clen && memcmp(a.ctls, b.ctls, a.clen) == 0);
    free(a.msgs);
    free(b.msgs);
    free(a.ctls);
    free(b.ctls);
    return 0;
}
