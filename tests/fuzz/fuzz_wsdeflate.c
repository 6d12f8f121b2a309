/*
 * fuzz_wsdeflate.c - libFuzzer target for src/wsdeflate.c: any
 * Sec-WebSocket-Extensions value gives an agreement, a refusal or a parse
 * error, and any message payloads give a message within the limit or an
 * error; never a crash, a leak, an overread or an allocation past the
 * limit. What the compressor makes of a message inflates back to it.
 *
 * The first byte chooses: even, negotiate the rest with a policy taken
 * from the second byte; odd, the rest is message payloads separated by
 * '|', for a connection whose parameters the second byte sets.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

#define LIMIT 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void negotiate(uint8_t b, const char *v, size_t len)
{
    struct wsdeflate_policy pol = {1, b & 1, (b >> 1) & 1, 8 + ((b >> 2) & 7),
                                   8 + ((b >> 5) & 7)};
    static const struct wsdeflate_policy any = WSDEFLATE_POLICY_DEFAULT;
    struct wsdeflate_params a, again;
    char resp[WSDEFLATE_RESPONSE_MAX];
    int rc = wsdeflate_negotiate(&pol, v, len, &a, resp);

    if (rc < -1 || rc > 1)
        abort();
    if (rc != 1)
        return;
    if (a.server_max_window_bits < 8 || a.server_max_window_bits > 15 ||
        a.client_max_window_bits < 8 || a.client_max_window_bits > 15 ||
        a.server_max_window_bits > pol.server_max_window_bits ||
        a.client_max_window_bits > pol.client_max_window_bits)
        abort();
    /* a response is also a valid offer */
    if (wsdeflate_negotiate(&any, resp, strlen(resp), &again, resp) != 1)
        abort();
}

/* What we send inflates back to what we meant, at the agreed window. */
static void echo(struct wsdeflate *tx, struct wsdeflate *rx, const char *m,
                 size_t len)
{
    struct buf z = {0}, back = {0};

    if (wsdeflate_compress(tx, m, len, &z) != 0)
        abort();
    if (wsdeflate_decompress(rx, z.p, z.len, len, &back) != 0 ||
        back.len != len || (len && memcmp(back.p, m, len) != 0))
        abort();
    buf_free(&z);
    buf_free(&back);
}

static void messages(uint8_t b, const uint8_t *p, size_t len)
{
    struct wsdeflate_params prm = {b & 1, (b >> 1) & 1, 8 + ((b >> 2) & 7),
                                   8 + ((b >> 5) & 7)};
    /* the peer that reads what d sends */
    struct wsdeflate_params peer = {0, prm.server_no_context_takeover, 15,
                                    prm.server_max_window_bits};
    struct wsdeflate d, e;
    struct buf out = {0};
    const uint8_t *end = p + len, *bar;
    int rc = 0;

    wsdeflate_init(&d, &prm);
    wsdeflate_init(&e, &peer);
    while (rc == 0 && p <= end) {
        bar = memchr(p, '|', (size_t)(end - p));
        if (bar == NULL)
            bar = end;
        rc = wsdeflate_decompress(&d, p, (size_t)(bar - p), LIMIT, &out);
        if (rc != 0 && rc != WSDEFLATE_EDATA && rc != WSDEFLATE_ETOOBIG)
            abort();
        if (out.len > LIMIT || out.cap > LIMIT)
            abort();
        if (rc == 0)
            echo(&d, &e, out.p, out.len);
        buf_clear(&out);
        p = bar + 1;
    }
    buf_free(&out);
    wsdeflate_free(&d);
    wsdeflate_free(&e);
    if (d.zmem != 0 || e.zmem != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    if (data[0] % 2 == 0)
        negotiate(data[1], (const char *)data + 2, size - 2);
    else
        messages(data[1], data + 2, size - 2);
    return 0;
}
