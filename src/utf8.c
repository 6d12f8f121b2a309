/*
 * utf8.c - incremental UTF-8 validation (RFC 3629).
 *
 * A WebSocket text message may arrive in any number of fragments and
 * reads, and must be refused at the first byte that can never be part of
 * valid UTF-8 (RFC 6455 8.1), not once it is complete. So the validator
 * keeps what it needs across calls: how many continuation bytes are still
 * expected and the range the next one must fall in.
 *
 * The ranges are those of the syntax in RFC 3629 section 4, which leaves
 * out overlong forms (C0, C1, E0 80-9F, F0 80-8F), the surrogates
 * (ED A0-BF) and everything above U+10FFFF (F4 90-BF, F5-FF).
 */
#include "internal.h"

#include <string.h>

/* need after an invalid byte: every later feed fails too */
#define UTF8_BAD 0xff

#define ASCII_MASK 0x8080808080808080ULL

void utf8_init(struct utf8_state *s)
{
    s->need = 0;
    s->lo = 0x80;
    s->hi = 0xbf;
}

/* The first non-ASCII byte of [p, end), or end; 8 bytes at a time. */
static const uint8_t *skip_ascii(const uint8_t *p, const uint8_t *end)
{
    uint64_t w;

    while (end - p >= 8) {
        memcpy(&w, p, sizeof(w));
        if (w & ASCII_MASK)
            break;
        p += 8;
    }
    while (p < end && *p < 0x80)
        p++;
    return p;
}

/* A lead byte: sets how many continuation bytes follow and the range of
 * the first one (RFC 3629 4). -1 for bytes that never start a sequence. */
static int lead(struct utf8_state *s, uint8_t c)
{
    s->lo = 0x80;
    s->hi = 0xbf;
    if (c < 0xc2) /* a continuation byte, or C0/C1: overlong 2 bytes */
        return -1;
    if (c < 0xe0) {
        s->need = 1;
        return 0;
    }
    if (c < 0xf0) {
        s->need = 2;
        if (c == 0xe0) /* overlong 3 bytes below U+0800 */
            s->lo = 0xa0;
        else if (c == 0xed) /* U+D800-DFFF, the surrogates */
            s->hi = 0x9f;
        return 0;
    }
    if (c < 0xf5) {
        s->need = 3;
        if (c == 0xf0) /* overlong 4 bytes below U+10000 */
            s->lo = 0x90;
        else if (c == 0xf4) /* above U+10FFFF */
            s->hi = 0x8f;
        return 0;
    }
    return -1; /* F5-FF: above U+10FFFF */
}

int utf8_feed(struct utf8_state *s, const uint8_t *p, size_t n)
{
    const uint8_t *end;

    if (s->need == UTF8_BAD)
        return -1;
    if (n == 0) /* p may be NULL */
        return 0;
    end = p + n;
    while (p < end) {
        if (s->need == 0) {
            p = skip_ascii(p, end);
            if (p == end)
                break;
            if (lead(s, *p++) < 0)
                goto bad;
            continue;
        }
        if (*p < s->lo || *p > s->hi)
            goto bad;
        p++;
        s->need--;
        s->lo = 0x80;
        s->hi = 0xbf;
    }
    return 0;
bad:
    s->need = UTF8_BAD;
    return -1;
}

int utf8_complete(const struct utf8_state *s)
{
    return s->need == 0;
}

int utf8_valid(const uint8_t *p, size_t n)
{
    struct utf8_state s;

    utf8_init(&s);
    return utf8_feed(&s, p, n) == 0 && utf8_complete(&s);
}
