/*
 * wsdeflate.c - permessage-deflate (RFC 7692): which parameters a client
 * gets, and the compression of whole messages with zlib. No I/O and no
 * frames: websocket.c hands in header values and message payloads.
 *
 * Memory. zlib.h puts a deflate stream at (1 << (wbits + 2)) + (1 << (mem
 * level + 9)) bytes plus about 6 KiB of state, an inflate stream at
 * 1 << wbits plus about 7 KiB. The memory level follows the window
 * (mem_level()), so that a small window is also a small stream. Measured
 * with the counting allocator below (tests/unit/test_wsdeflate.c,
 * test_memory; zlib 1.2.13, requested bytes, z_stream included):
 *
 *   window bits        15        12        10     9 (and 8)
 *   compressor     268,208    55,216    18,352    12,208 bytes
 *   decompressor    40,040    11,368     8,296     7,784 bytes
 *
 * With context takeover both ways a connection keeps both between
 * messages: 308,248 bytes (301 KiB) at 15 bits, 66,584 at 12. With
 * no_context_takeover both ways it keeps none: the streams exist while one
 * message is (de)compressed and are freed after it, so an idle connection
 * costs only its struct wsdeflate (32 bytes).
 *
 * Window bits 8. zlib's deflate cannot make a 256-byte window: it silently
 * uses 512 bytes for 8 (zlib before 1.2.9) or refuses -8 for raw deflate
 * (1.2.9 and later). Yet a server that agreed server_max_window_bits=8 must
 * send data that an 8-bit window decodes (RFC 7692 7.1.2.1), that is with
 * no distance over 256. We compress with 9 bits, which is correct because
 * of how zlib's deflate looks for matches: never further back than
 * MAX_DIST = window size - MIN_LOOKAHEAD (258 + 3 + 1), so at most 250
 * bytes with a 512-byte window (zlib 1.1.4's own note on the 256-byte
 * window bug says as much). Huffman-only or RLE output would be safe with
 * any deflate but compress far worse; declining 8 would be allowed but
 * needless. A fork may differ (Intel's once ignored the window size in
 * deflate_medium), so tests/unit/test_wsdeflate.c decodes our output with
 * a decoder of its own and checks every distance: a zlib that behaved
 * otherwise would fail the tests, not a client.
 * Inflating, 9 bits decode a client that uses 8 (a larger window decodes a
 * smaller one), and some zlib versions refuse -8 for inflate too.
 */
#include "internal.h"

#include <limits.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#define LEVEL Z_DEFAULT_COMPRESSION
/* zlib takes at most UINT_MAX bytes at a time */
#define SLICE (1u << 30)
/* first output buffer of a decompressed message */
#define OUT_FIRST 4096

/* RFC 7692 7.2.1: the end of a sync flush, which a sender removes and a
 * receiver appends (7.2.2) */
static const unsigned char tail[4] = {0x00, 0x00, 0xff, 0xff};

/* negotiation --------------------------------------------------------- */

/* One offer of permessage-deflate, RFC 7692 7.1. */
struct offer {
    int bad; /* decline it (RFC 7692 5.1) */
    unsigned seen;
    int snct, cnct;
    int smwb; /* 0 absent, -1 without a valid value, else 8..15 */
    int cmwb; /* 0 absent, -1 without a value, else 8..15 */
};

enum { P_SNCT = 1, P_CNCT = 2, P_SMWB = 4, P_CMWB = 8 };

static const struct {
    const char *name;
    unsigned bit;
} params[] = {
    {"server_no_context_takeover", P_SNCT},
    {"client_no_context_takeover", P_CNCT},
    {"server_max_window_bits", P_SMWB},
    {"client_max_window_bits", P_CMWB},
};

struct scan {
    const char *p, *end;
};

/* RFC 7230 3.2.6 */
static int is_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("!#$%&'*+-.^_`|~", c));
}

static void skip_ows(struct scan *sc)
{
    while (sc->p < sc->end && (*sc->p == ' ' || *sc->p == '\t'))
        sc->p++;
}

static int eat(struct scan *sc, char c)
{
    skip_ows(sc);
    if (sc->p == sc->end || *sc->p != c)
        return 0;
    sc->p++;
    skip_ows(sc);
    return 1;
}

/* A token; its length, 0 when there is none. */
static size_t token(struct scan *sc, const char **tok)
{
    *tok = sc->p;
    while (sc->p < sc->end && is_tchar((unsigned char)*sc->p))
        sc->p++;
    return (size_t)(sc->p - *tok);
}

/* A parameter value, token or quoted-string (RFC 7230 3.2.6), unescaped
 * into v (truncated to vlen - 1 bytes, which no valid value reaches).
 * Returns its length, or -1 when it does not parse. */
static long value(struct scan *sc, char *v, size_t vlen)
{
    const char *tok;
    size_t n = 0, i;
    unsigned char c;

    if (sc->p == sc->end)
        return -1;
    if (*sc->p != '"') {
        n = token(sc, &tok);
        for (i = 0; i < n && i < vlen - 1; i++)
            v[i] = tok[i];
        v[i] = '\0';
        return n ? (long)n : -1;
    }
    for (sc->p++; sc->p < sc->end && *sc->p != '"'; sc->p++) {
        if (*sc->p == '\\' && ++sc->p == sc->end)
            return -1;
        c = (unsigned char)*sc->p;
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return -1;
        if (n < vlen - 1)
            v[n] = (char)c;
        n++;
    }
    if (sc->p == sc->end)
        return -1;
    sc->p++;
    v[n < vlen - 1 ? n : vlen - 1] = '\0';
    return (long)n;
}

/* RFC 7692 7.1.2.1, 7.1.2.2: a decimal 8..15 without leading zeros; -1
 * otherwise. */
static int window_bits(const char *v)
{
    if (v[0] >= '8' && v[0] <= '9' && v[1] == '\0')
        return v[0] - '0';
    if (v[0] == '1' && v[1] >= '0' && v[1] <= '5' && v[2] == '\0')
        return 10 + v[1] - '0';
    return -1;
}

/* Records one parameter of an offer; an unknown or repeated name, or a bad
 * value, declines the offer (RFC 7692 5.1). has_v: a value was given;
 * quoted values must be tokens too (RFC 6455 9.1), which window_bits()
 * checks by accepting digits only. */
static void offer_param(struct offer *o, const char *name, size_t nlen,
                        int has_v, const char *v)
{
    unsigned bit = 0;
    size_t i;

    for (i = 0; i < ARRAY_LEN(params); i++)
        if (strlen(params[i].name) == nlen &&
            strncasecmp(params[i].name, name, nlen) == 0)
            bit = params[i].bit;
    if (bit == 0 || (o->seen & bit)) {
        o->bad = 1;
        return;
    }
    o->seen |= bit;
    switch (bit) {
    case P_SNCT:
    case P_CNCT:
        /* RFC 7692 7.1.1.1, 7.1.1.2: no value */
        o->bad |= has_v;
        *(bit == P_SNCT ? &o->snct : &o->cnct) = 1;
        break;
    case P_SMWB:
        /* RFC 7692 7.1.2.1: a value is required */
        o->smwb = has_v ? window_bits(v) : -1;
        o->bad |= o->smwb < 0;
        break;
    default:
        /* RFC 7692 7.1.2.2: a value is optional */
        o->cmwb = has_v ? window_bits(v) : -1;
        o->bad |= has_v && o->cmwb < 0;
        break;
    }
}

static int min_bits(int a, int b)
{
    return a < b ? a : b;
}

/* Whether the policy can take offer o; fills a if so. */
static int offer_accept(const struct wsdeflate_policy *pol,
                        const struct offer *o, struct wsdeflate_params *a)
{
    /* RFC 7692 7.1.2.2: without client_max_window_bits in the offer the
     * response may not limit the client's window, so the client may use
     * 15 bits; a policy that caps it declines such an offer, to keep the
     * memory it promised. */
    if (o->cmwb == 0 && pol->client_max_window_bits < 15)
        return 0;
    /* RFC 7692 7.1.1.1: a server must honour server_no_context_takeover;
     * 7.1.1.2: a client that offers client_no_context_takeover will not
     * use takeover anyway, so say so and free our inflater between
     * messages. */
    a->server_no_context_takeover =
        (uint8_t)(o->snct || pol->server_no_context_takeover);
    a->client_no_context_takeover =
        (uint8_t)(o->cnct || pol->client_no_context_takeover);
    a->server_max_window_bits = (uint8_t)min_bits(pol->server_max_window_bits,
                                                  o->smwb > 0 ? o->smwb : 15);
    a->client_max_window_bits = (uint8_t)min_bits(pol->client_max_window_bits,
                                                  o->cmwb > 0 ? o->cmwb : 15);
    return 1;
}

/* RFC 7692 7.1: the response names each parameter that binds. */
static void response(const struct offer *o, const struct wsdeflate_params *a,
                     char *resp)
{
    size_t n = 0, room = WSDEFLATE_RESPONSE_MAX;

    n += (size_t)snprintf(resp, room, "permessage-deflate");
    if (a->server_no_context_takeover)
        n += (size_t)snprintf(resp + n, room - n,
                              "; server_no_context_takeover");
    if (a->client_no_context_takeover)
        n += (size_t)snprintf(resp + n, room - n,
                              "; client_no_context_takeover");
    /* RFC 7692 7.1.2.1: an offer with server_max_window_bits is accepted
     * by answering it, with the same value or a smaller one */
    if (o->smwb > 0 || a->server_max_window_bits < 15)
        n += (size_t)snprintf(resp + n, room - n, "; server_max_window_bits=%d",
                              a->server_max_window_bits);
    /* RFC 7692 7.1.2.2: only when offered, with a value */
    if (o->cmwb != 0 && a->client_max_window_bits < 15)
        snprintf(resp + n, room - n, "; client_max_window_bits=%d",
                 a->client_max_window_bits);
}

/* One extension of the list and its parameters (RFC 6455 9.1):
 *   extension = extension-token *( ";" extension-param )
 *   extension-param = token [ "=" ( token | quoted-string ) ]
 * Returns -1 when it does not parse; sets *is_pmd and o. */
static int extension(struct scan *sc, int *is_pmd, struct offer *o)
{
    const char *name;
    size_t nlen = token(sc, &name);
    char v[16];
    int has_v;

    if (nlen == 0)
        return -1;
    *is_pmd = nlen == 18 && strncasecmp(name, "permessage-deflate", 18) == 0;
    memset(o, 0, sizeof(*o));
    while (eat(sc, ';')) {
        if ((nlen = token(sc, &name)) == 0)
            return -1;
        has_v = eat(sc, '=');
        if (has_v && value(sc, v, sizeof(v)) < 0)
            return -1;
        if (*is_pmd)
            offer_param(o, name, nlen, has_v, v);
    }
    return 0;
}

int wsdeflate_negotiate(const struct wsdeflate_policy *policy,
                        const char *value, size_t len,
                        struct wsdeflate_params *agreed, char *resp)
{
    struct scan sc = {value, value + len};
    struct offer o;
    int is_pmd, found = 0;

    if (!policy->enabled)
        return 0;
    if (policy->server_max_window_bits < 8 ||
        policy->server_max_window_bits > 15 ||
        policy->client_max_window_bits < 8 ||
        policy->client_max_window_bits > 15)
        fatal("wsdeflate: policy window bits out of 8..15");
    /* 1#extension: elements separated by commas, empty ones allowed
     * (RFC 7230 7); the whole value must parse even after a match */
    for (;;) {
        skip_ows(&sc);
        if (sc.p == sc.end)
            break;
        if (*sc.p == ',') {
            sc.p++;
            continue;
        }
        if (extension(&sc, &is_pmd, &o) < 0)
            return -1;
        skip_ows(&sc);
        if (sc.p < sc.end && *sc.p != ',')
            return -1;
        if (!found && is_pmd && !o.bad && offer_accept(policy, &o, agreed)) {
            response(&o, agreed, resp);
            found = 1;
        }
    }
    return found;
}

/* zlib streams ---------------------------------------------------------- */

/* Every zlib allocation carries its size in front, so that d->zmem says
 * what the connection holds. */
#define ZHDR alignof(max_align_t)

static voidpf zalloc_count(voidpf opaque, uInt items, uInt size)
{
    struct wsdeflate *d = opaque;
    size_t n = (size_t)items * size;
    char *p;

    if (n > UINT32_MAX - ZHDR - d->zmem || (p = malloc(ZHDR + n)) == NULL)
        return Z_NULL;
    memcpy(p, &n, sizeof(n));
    d->zmem += (uint32_t)n;
    if (d->zmem > d->zpeak)
        d->zpeak = d->zmem;
    return p + ZHDR;
}

static void zfree_count(voidpf opaque, voidpf address)
{
    struct wsdeflate *d = opaque;
    char *p = (char *)address - ZHDR;
    size_t n;

    memcpy(&n, p, sizeof(n));
    d->zmem -= (uint32_t)n;
    free(p);
}

/* zlib's deflate makes no 8-bit window; 9 is safe, see the top. */
static int zlib_bits(int bits)
{
    return bits < 9 ? 9 : bits;
}

/* The hash table and block buffer in step with the window: 8 (zlib's
 * default) at 14 and 15 bits, 3 at 9. On JSON-like text this costs 0.3%
 * more output at 12 bits (and saves 95 KiB), 6% at 9. */
static int mem_level(int bits)
{
    int m = zlib_bits(bits) - 6;

    return m > 8 ? 8 : m < 2 ? 2 : m;
}

static z_stream *stream_new(struct wsdeflate *d)
{
    z_stream *z = zalloc_count(d, 1, sizeof(*z));

    if (z == NULL)
        return NULL;
    memset(z, 0, sizeof(*z));
    z->zalloc = zalloc_count;
    z->zfree = zfree_count;
    z->opaque = d;
    return z;
}

static int tx_open(struct wsdeflate *d)
{
    int bits = d->p.server_max_window_bits, rc;

    if (d->tx != NULL)
        return 0;
    if ((d->tx = stream_new(d)) == NULL)
        return -1;
    rc = deflateInit2(d->tx, LEVEL, Z_DEFLATED, -zlib_bits(bits),
                      mem_level(bits), Z_DEFAULT_STRATEGY);
    if (rc == Z_OK)
        return 0;
    if (rc != Z_MEM_ERROR)
        fatal("wsdeflate: deflateInit2: %d", rc);
    zfree_count(d, d->tx);
    d->tx = NULL;
    return -1;
}

static void tx_close(struct wsdeflate *d)
{
    if (d->tx == NULL)
        return;
    deflateEnd(d->tx);
    zfree_count(d, d->tx);
    d->tx = NULL;
}

static int rx_open(struct wsdeflate *d)
{
    int rc;

    if (d->rx != NULL)
        return 0;
    if ((d->rx = stream_new(d)) == NULL)
        return -1;
    rc = inflateInit2(d->rx, -zlib_bits(d->p.client_max_window_bits));
    if (rc == Z_OK)
        return 0;
    if (rc != Z_MEM_ERROR)
        fatal("wsdeflate: inflateInit2: %d", rc);
    zfree_count(d, d->rx);
    d->rx = NULL;
    return -1;
}

static void rx_close(struct wsdeflate *d)
{
    if (d->rx == NULL)
        return;
    inflateEnd(d->rx);
    zfree_count(d, d->rx);
    d->rx = NULL;
}

void wsdeflate_init(struct wsdeflate *d, const struct wsdeflate_params *p)
{
    memset(d, 0, sizeof(*d));
    d->p = *p;
}

void wsdeflate_free(struct wsdeflate *d)
{
    tx_close(d);
    rx_close(d);
}

/* compression ------------------------------------------------------------ */

static uInt slice(size_t n)
{
    return n > SLICE ? SLICE : (uInt)n;
}

/* Runs deflate over in with flush until it has taken all of it and, for a
 * flush, written all it had. */
static int deflate_into(z_stream *z, const unsigned char *in, size_t len,
                        struct buf *out)
{
    size_t chunk = deflateBound(z, slice(len)) + 16;
    size_t given = 0;
    char *room;
    int flush, rc;

    if (chunk > 64 * 1024)
        chunk = 64 * 1024;
    z->avail_in = 0;
    do {
        if (z->avail_in == 0 && given < len) {
            z->next_in = (Bytef *)(uintptr_t)(in + given);
            z->avail_in = slice(len - given);
            given += z->avail_in;
        }
        flush = given == len ? Z_SYNC_FLUSH : Z_NO_FLUSH;
        if ((room = buf_reserve(out, chunk)) == NULL)
            return -1;
        z->next_out = (Bytef *)room;
        z->avail_out = (uInt)chunk;
        rc = deflate(z, flush);
        if (rc != Z_OK && rc != Z_BUF_ERROR)
            fatal("wsdeflate: deflate: %d", rc);
        out->len += chunk - z->avail_out;
    } while (given < len || z->avail_in > 0 || z->avail_out == 0);
    return 0;
}

int wsdeflate_compress(struct wsdeflate *d, const void *in, size_t len,
                       struct buf *out)
{
    size_t start = out->len;

    /* An empty stored block, whose LEN and NLEN are the tail dropped
     * below: what a sync flush of nothing would give. Asking zlib for it
     * fails right after another flush (no progress, Z_BUF_ERROR), and the
     * stream is byte-aligned between messages anyway. */
    if (len == 0)
        return buf_add(out, "", 1) < 0 ? WSDEFLATE_ENOMEM : 0;
    if (tx_open(d) < 0)
        return WSDEFLATE_ENOMEM;
    if (deflate_into(d->tx, in, len, out) < 0) {
        /* the stream is mid-message: it cannot serve another one */
        tx_close(d);
        out->len = start;
        return WSDEFLATE_ENOMEM;
    }
    /* RFC 7692 7.2.1: drop the 00 00 ff ff that ends the sync flush */
    if (out->len - start < sizeof(tail) ||
        memcmp(out->p + out->len - sizeof(tail), tail, sizeof(tail)) != 0)
        fatal("wsdeflate: a sync flush without its empty stored block");
    out->len -= sizeof(tail);
    /* RFC 7692 7.1.1.1: a fresh window for every message */
    if (d->p.server_no_context_takeover)
        tx_close(d);
    return 0;
}

/* decompression ---------------------------------------------------------- */

/* Free room at out->p + out->len, growing out but never past limit (an
 * absolute length): a small message can inflate a thousand times over,
 * and only what may be delivered is ever allocated. 0 at the limit. */
static size_t out_room(struct buf *out, size_t limit, size_t first)
{
    size_t cap;
    char *p;

    if (out->len >= limit)
        return 0;
    if (out->cap > out->len)
        return (out->cap < limit ? out->cap : limit) - out->len;
    if (out->cap == 0)
        cap = first;
    else
        cap = out->cap > SIZE_MAX / 2 ? SIZE_MAX : out->cap * 2;
    if (cap > limit)
        cap = limit;
    if ((p = realloc(out->p, cap)) == NULL)
        return 0;
    out->p = p;
    out->cap = cap;
    return cap - out->len;
}

/* Inflates in into out up to limit. Returns 1 at the end of a final
 * block, 0 when all of in was taken, or an error. */
static int inflate_into(z_stream *z, const unsigned char *in, size_t len,
                        struct buf *out, size_t limit)
{
    unsigned char probe;
    size_t room, given = 0;
    int rc;

    z->avail_in = 0; /* what a final block left of the last message */
    for (;;) {
        if (z->avail_in == 0 && given < len) {
            z->next_in = (Bytef *)(uintptr_t)(in + given);
            z->avail_in = slice(len - given);
            given += z->avail_in;
        }
        room = out_room(out, limit, OUT_FIRST);
        if (room == 0 && out->len < limit)
            return WSDEFLATE_ENOMEM;
        /* at the limit, one byte more says whether there is more */
        z->next_out = room ? (Bytef *)out->p + out->len : &probe;
        z->avail_out = room ? slice(room) : 1;
        rc = inflate(z, Z_SYNC_FLUSH);
        if (room == 0 && z->avail_out == 0)
            return WSDEFLATE_ETOOBIG;
        if (room)
            out->len += slice(room) - z->avail_out;
        if (rc == Z_STREAM_END)
            return 1;
        if (rc == Z_MEM_ERROR)
            return WSDEFLATE_ENOMEM;
        if (rc != Z_OK && rc != Z_BUF_ERROR)
            return WSDEFLATE_EDATA;
        if (rc == Z_BUF_ERROR && z->avail_in > 0 && z->avail_out > 0)
            return WSDEFLATE_EDATA; /* no progress: cannot happen */
        if (z->avail_in == 0 && given == len && z->avail_out > 0)
            return 0;
    }
}

/* The peer ended its last message with a final block (RFC 7692 7.2.3.4):
 * the stream is over, but with context takeover the next message may
 * still refer to this one, so restart it with its window. */
static int rx_restart(struct wsdeflate *d)
{
    uInt n = 1u << zlib_bits(d->p.client_max_window_bits);
    unsigned char *dict = malloc(n);
    int rc;

    if (dict == NULL)
        return -1;
    rc = inflateGetDictionary(d->rx, dict, &n);
    if (rc == Z_OK)
        rc = inflateReset(d->rx);
    if (rc == Z_OK && n > 0)
        rc = inflateSetDictionary(d->rx, dict, n);
    free(dict);
    return rc == Z_OK ? 0 : -1;
}

static int inflate_message(struct wsdeflate *d, const void *in, size_t len,
                           size_t limit, struct buf *out)
{
    int rc = inflate_into(d->rx, in, len, out, limit);

    /* RFC 7692 7.2.2: then the tail the sender removed */
    if (rc == 0)
        rc = inflate_into(d->rx, tail, sizeof(tail), out, limit);
    if (rc < 0)
        return rc;
    /* Past a final block, what follows (7.2.3.4 shows a 00 and our tail)
     * is not part of the message. */
    if (rc == 1)
        return d->p.client_no_context_takeover || rx_restart(d) == 0
                   ? 0
                   : WSDEFLATE_ENOMEM;
    /* A whole message ends on a block boundary (zlib's data_type 128); a
     * truncated one stops inside a block. */
    return d->rx->data_type & 128 ? 0 : WSDEFLATE_EDATA;
}

int wsdeflate_decompress(struct wsdeflate *d, const void *in, size_t len,
                         size_t max, struct buf *out)
{
    size_t start = out->len;
    size_t limit = max > SIZE_MAX - start ? SIZE_MAX : start + max;
    int rc;

    /* An empty payload is not a deflate stream (our own empty message is
     * 00, see wsdeflate_compress), but some senders use it for an empty
     * message, and it can mean nothing else. */
    if (len == 0)
        return 0;
    if (rx_open(d) < 0)
        return WSDEFLATE_ENOMEM;
    rc = inflate_message(d, in, len, limit, out);
    /* RFC 7692 7.1.1.2: a fresh window for every message; after an error
     * the stream is in no state to go on */
    if (rc < 0 || d->p.client_no_context_takeover)
        rx_close(d);
    if (rc < 0)
        out->len = start;
    return rc;
}
