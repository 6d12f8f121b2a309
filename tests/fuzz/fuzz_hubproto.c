/*
 * fuzz_hubproto.c - libFuzzer target for the hub protocol decoder
 * (src/hubproto.c): any bytes must decode to frames, ask for more or be
 * refused, never crash, overread or loop.
 *
 * The first input byte chooses max_frame. The rest is decoded as a
 * stream of frames, and every frame taken must be what the decoder
 * promises: inside the input, its channel 1 to HUB_CHANNEL_MAX bytes when
 * its type has one, and encoded again to exactly the bytes it came from.
 * Every proper prefix of a frame taken must ask for more (or be refused
 * from its length or type, which a prefix already shows).
 *
 * tests/fuzz/run.sh builds and runs it with its seeds
 * (tests/fuzz/corpus/hubproto/).
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond))                                                           \
            abort();                                                           \
    } while (0)

static int has_channel(uint8_t type)
{
    return type == HUB_SUB || type == HUB_PUB || type == HUB_HIST ||
           type == HUB_MSG;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const size_t maxes[] = {16, 300, HUB_FRAME_MAX(1024), 1 << 20};
    struct buf out = {0};
    struct hub_frame f, g;
    size_t max, off;
    char *in;
    long n;

    if (size < 1)
        return 0;
    max = maxes[data[0] & 3];
    size--;
    /* a copy of exactly the input, so that an overread is seen */
    in = malloc(size ? size : 1);
    CHECK(in != NULL);
    memcpy(in, data + 1, size);
    for (off = 0; off < size; off += (size_t)n) {
        n = hub_decode(in + off, size - off, max, &f);
        if (n <= 0)
            break;
        CHECK((size_t)n <= size - off && (size_t)n - 4 <= max);
        CHECK(f.type >= HUB_HELLO && f.type <= HUB_HITEM);
        if (has_channel(f.type)) {
            CHECK(f.channel_len >= 1 && f.channel_len <= HUB_CHANNEL_MAX);
            CHECK(f.channel > in + off &&
                  f.channel + f.channel_len <= in + off + n);
        }
        if (f.len > 0)
            CHECK((const char *)f.data > in + off &&
                  (const char *)f.data + f.len <= in + off + n);
        buf_clear(&out);
        CHECK(hub_encode(&out, &f) == 0);
        CHECK(buf_pending(&out) == (size_t)n);
        CHECK(memcmp(out.p + out.off, in + off, (size_t)n) == 0);
        for (size_t i = 0; i < (size_t)n; i++)
            CHECK(hub_decode(in + off, i, max, &g) <= 0);
    }
    buf_free(&out);
    free(in);
    return 0;
}
