/*
 * wsframe.c - the WebSocket frame codec (RFC 6455 5), server side.
 *
 * The decoder is a push parser: the transport hands it the bytes it read,
 * cut anywhere, and gets back one event at a time - a piece of a data
 * message, or a whole control frame - or the close code with which the
 * connection fails. It holds no pointer and allocates nothing: data
 * payload is unmasked in place in the caller's buffer and handed back from
 * there; only control payloads (125 bytes at most) are copied, into the
 * decoder, because the pong or close they call for needs them whole.
 *
 * Every rule of RFC 6455 5 that a client can break is checked as soon as
 * the bytes that break it have arrived: a frame header is judged before
 * its payload, and text before the rest of its message.
 *
 * The encoder writes the frames a server sends: never masked (RFC 6455
 * 5.1), into the caller's buffer.
 */
#include "internal.h"

#include <string.h>

enum { ST_HEADER, ST_PAYLOAD };

/* The issue asks 1002 for a close reason that is not UTF-8, like the other
 * malformed close payloads; RFC 6455 7.4.1 would also allow 1007, which
 * some servers send. One place to change it. */
#define WS_CLOSE_BAD_REASON WS_CLOSE_PROTOCOL

#define B0_FIN 0x80
#define B0_RSV1 0x40
#define B0_RSV23 0x30
#define B1_MASK 0x80

static int is_control(unsigned op)
{
    return (op & 0x8) != 0; /* RFC 6455 5.5: opcodes 0x8-0xF */
}

static uint64_t get_be(const uint8_t *p, size_t n)
{
    uint64_t v = 0;

    for (size_t i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

static void next_frame(struct ws_decoder *d)
{
    d->state = ST_HEADER;
    d->have = 0;
    d->need = 2;
}

void ws_decoder_init(struct ws_decoder *d, uint64_t max_message, int rsv1_ok)
{
    memset(d, 0, sizeof(*d));
    d->max_message = max_message;
    d->rsv1_ok = rsv1_ok != 0;
    utf8_init(&d->utf8);
    next_frame(d);
}

void ws_mask(uint8_t *dst, const uint8_t *src, size_t n, const uint8_t key[4],
             size_t phase)
{
    uint8_t k8[8];
    uint64_t k, w;
    size_t i;

    for (i = 0; i < 8; i++)
        k8[i] = key[(phase + i) & 3];
    memcpy(&k, k8, sizeof(k));
    for (i = 0; i + 8 <= n; i += 8) {
        memcpy(&w, src + i, sizeof(w));
        w ^= k;
        memcpy(dst + i, &w, sizeof(w));
    }
    for (; i < n; i++)
        dst[i] = src[i] ^ key[(phase + i) & 3];
}

/* decoder: the header ---------------------------------------------------- */

/* The first two bytes: everything but the extended length. */
static int check_start(struct ws_decoder *d)
{
    unsigned b0 = d->hdr[0], b1 = d->hdr[1], op = b0 & 0x0f;
    unsigned len7 = b1 & 0x7f;

    /* 5.1: a server MUST close the connection on an unmasked frame */
    if (!(b1 & B1_MASK))
        return -WS_CLOSE_PROTOCOL;
    /* 5.2: RSV bits only with an extension defining them; RFC 7692 6:
     * permessage-deflate's RSV1 is on a message's first frame only */
    if (b0 & B0_RSV23)
        return -WS_CLOSE_PROTOCOL;
    if ((b0 & B0_RSV1) && (!d->rsv1_ok || op == WS_OP_CONT || is_control(op)))
        return -WS_CLOSE_PROTOCOL;
    if (is_control(op)) {
        /* 5.2: unknown opcode; 5.5: control frames are not fragmented
         * and carry 125 bytes at most */
        if (op > WS_OP_PONG || !(b0 & B0_FIN) || len7 > WS_CONTROL_MAX)
            return -WS_CLOSE_PROTOCOL;
    } else {
        if (op > WS_OP_BINARY)
            return -WS_CLOSE_PROTOCOL;
        /* 5.4: a continuation continues something, and a fragmented
         * message ends before the next one starts */
        if ((op == WS_OP_CONT) != (d->msg_op != 0))
            return -WS_CLOSE_PROTOCOL;
    }
    d->need = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + 4;
    return 0;
}

/* The payload length (5.2); -1 when its encoding breaks the rules. */
static int read_length(const struct ws_decoder *d, uint64_t *len)
{
    unsigned len7 = d->hdr[1] & 0x7f;

    if (len7 < 126) {
        *len = len7;
        return 0;
    }
    if (len7 == 126) {
        *len = get_be(d->hdr + 2, 2);
        /* "the minimal number of bytes MUST be used" */
        return *len < 126 ? -1 : 0;
    }
    *len = get_be(d->hdr + 2, 8);
    /* "the most significant bit MUST be 0", and minimal again */
    return (*len >> 63) != 0 || *len <= 0xffff ? -1 : 0;
}

/* How many payload bytes the current message may have on the wire. A
 * compressed one is bounded by its inflated size, which the inflater
 * checks; deflate may make it a little larger than that (stored blocks:
 * at most n + n/4096 + n/16384 + 13, zlib's deflateBound), so it gets that
 * much room - and no more, so that a stream of empty deflate blocks that
 * inflates to nothing cannot go on forever. */
static uint64_t wire_limit(const struct ws_decoder *d)
{
    uint64_t m = d->max_message, slack;

    if (m == 0 || !d->msg_deflate)
        return m;
    slack = (m >> 11) + 64;
    return m > UINT64_MAX - slack ? UINT64_MAX : m + slack;
}

/* A data frame starts: maybe a message too. */
static int start_data(struct ws_decoder *d, uint64_t len)
{
    unsigned op = d->hdr[0] & 0x0f;
    uint64_t limit;

    if (op != WS_OP_CONT) {
        d->msg_op = (uint8_t)op;
        d->msg_deflate = (d->hdr[0] & B0_RSV1) != 0;
        d->msg_first = 1;
        d->msg_len = 0;
        utf8_init(&d->utf8);
    }
    limit = wire_limit(d);
    if (limit != 0 && len > limit - d->msg_len)
        return -WS_CLOSE_TOO_BIG;
    d->msg_len = len > UINT64_MAX - d->msg_len ? UINT64_MAX : d->msg_len + len;
    return 0;
}

/* The whole header is in: length, masking key, message bookkeeping. */
static int start_frame(struct ws_decoder *d)
{
    uint64_t len;
    int rc;

    if (read_length(d, &len) < 0)
        return -WS_CLOSE_PROTOCOL;
    memcpy(d->mask, d->hdr + d->need - 4, 4);
    d->phase = 0;
    d->left = len;
    d->ctl_len = 0;
    if (!is_control(d->hdr[0] & 0x0f) && (rc = start_data(d, len)) < 0)
        return rc;
    d->state = ST_PAYLOAD;
    return 0;
}

/* Copies header bytes; the state becomes ST_PAYLOAD once all are in. */
static int read_header(struct ws_decoder *d, const uint8_t *p, size_t len,
                       size_t *used)
{
    size_t i = 0;
    int rc;

    while (i < len && d->have < d->need) {
        d->hdr[d->have++] = p[i++];
        if (d->have == 2 && (rc = check_start(d)) < 0) {
            *used = i;
            return rc;
        }
    }
    *used = i;
    return d->have < d->need ? 0 : start_frame(d);
}

/* decoder: the payload --------------------------------------------------- */

/* 5.5.1: an empty close, or a code that may be sent and a UTF-8 reason. */
static int check_close(struct ws_event *ev)
{
    ev->code = WS_CLOSE_NO_STATUS;
    ev->reason = NULL;
    ev->reason_len = 0;
    if (ev->len == 0)
        return 0;
    if (ev->len == 1)
        return -WS_CLOSE_PROTOCOL;
    ev->code = (uint16_t)get_be(ev->data, 2);
    if (!ws_close_code_valid(ev->code))
        return -WS_CLOSE_PROTOCOL;
    ev->reason = ev->data + 2;
    ev->reason_len = ev->len - 2;
    if (!utf8_valid(ev->reason, ev->reason_len))
        return -WS_CLOSE_BAD_REASON;
    return 0;
}

static int control_event(struct ws_decoder *d, struct ws_event *ev)
{
    int rc;

    memset(ev, 0, sizeof(*ev));
    ev->opcode = d->hdr[0] & 0x0f;
    ev->data = d->ctl;
    ev->len = d->ctl_len;
    if (ev->opcode == WS_OP_CLOSE && (rc = check_close(ev)) < 0)
        return rc;
    next_frame(d);
    return WS_CONTROL;
}

/* A piece of a data frame: n unmasked bytes at p, the last of the frame
 * when d->left is 0. */
static int data_event(struct ws_decoder *d, const uint8_t *p, size_t n,
                      struct ws_event *ev)
{
    int text = d->msg_op == WS_OP_TEXT && !d->msg_deflate;
    int fin = d->left == 0 && (d->hdr[0] & B0_FIN);

    /* 8.1: fail as soon as text is not UTF-8, and a message must not end
     * inside a character (RFC 6455 5.6: text is UTF-8 as a whole, not
     * each fragment) */
    if (text && utf8_feed(&d->utf8, p, n) < 0)
        return -WS_CLOSE_BAD_DATA;
    if (text && fin && !utf8_complete(&d->utf8))
        return -WS_CLOSE_BAD_DATA;
    memset(ev, 0, sizeof(*ev));
    ev->data = p;
    ev->len = n;
    ev->opcode = d->msg_op;
    ev->first = d->msg_first;
    ev->fin = (uint8_t)fin;
    ev->compressed = d->msg_deflate;
    d->msg_first = 0;
    if (fin)
        d->msg_op = 0;
    if (d->left == 0)
        next_frame(d);
    return WS_DATA;
}

/* Unmasks what is there of the payload. A data frame gives an event for
 * every piece; a control frame one when it is whole. */
static int read_payload(struct ws_decoder *d, uint8_t *p, size_t len,
                        size_t *used, struct ws_event *ev)
{
    size_t n = d->left < len ? (size_t)d->left : len;

    ws_mask(p, p, n, d->mask, d->phase);
    d->phase = (uint8_t)((d->phase + n) & 3);
    d->left -= n;
    *used = n;
    if (!is_control(d->hdr[0] & 0x0f))
        return data_event(d, p, n, ev);
    memcpy(d->ctl + d->ctl_len, p, n);
    d->ctl_len = (uint8_t)(d->ctl_len + n);
    return d->left == 0 ? control_event(d, ev) : WS_MORE;
}

int ws_decode(struct ws_decoder *d, uint8_t *in, size_t len, size_t *used,
              struct ws_event *ev)
{
    size_t off = 0, n;
    int rc = WS_MORE;

    *used = 0;
    if (d->error != 0)
        return -(int)d->error;
    for (;;) {
        if (d->state == ST_HEADER) {
            if (off == len)
                break;
            rc = read_header(d, in + off, len - off, &n);
            off += n;
            if (rc < 0 || d->state == ST_HEADER)
                break;
        }
        /* an empty payload is complete without more input */
        if (off == len && d->left > 0)
            break;
        rc = read_payload(d, in + off, len - off, &n, ev);
        off += n;
        if (rc != WS_MORE)
            break;
    }
    *used = off;
    if (rc < 0)
        d->error = (uint16_t)-rc;
    return rc;
}

int ws_close_code_valid(unsigned code)
{
    /* 7.4.2: 3000-3999 registered by libraries and applications,
     * 4000-4999 private use */
    if (code >= 3000 && code <= 4999)
        return 1;
    /* 0-999 are not used, 1016-2999 are not assigned, 1015 (TLS failure)
     * like 1005 and 1006 only reports what happened, 1004 is reserved */
    if (code < 1000 || code > 1014)
        return 0;
    return code != 1004 && code != 1005 && code != 1006;
}

/* encoder ----------------------------------------------------------------- */

size_t ws_encode_header(uint8_t *out, unsigned opcode, int fin, int rsv1,
                        uint64_t len)
{
    size_t n, i;

    out[0] =
        (uint8_t)((fin ? B0_FIN : 0) | (rsv1 ? B0_RSV1 : 0) | (opcode & 0x0f));
    /* 5.2: the shortest length encoding; 5.1: no mask from a server */
    if (len < 126) {
        out[1] = (uint8_t)len;
        return 2;
    }
    n = len <= 0xffff ? 2 : 8;
    out[1] = n == 2 ? 126 : 127;
    for (i = 0; i < n; i++)
        out[2 + i] = (uint8_t)(len >> (8 * (n - 1 - i)));
    return 2 + n;
}

int ws_encode_control(uint8_t *out, unsigned opcode, const void *payload,
                      size_t len)
{
    if (len > WS_CONTROL_MAX)
        return -1;
    ws_encode_header(out, opcode, 1, 0, len);
    if (len > 0)
        memcpy(out + 2, payload, len);
    return (int)(2 + len);
}

int ws_encode_close(uint8_t *out, unsigned code, const char *reason,
                    size_t reason_len)
{
    uint8_t payload[WS_CONTROL_MAX];

    if (code == 0)
        return ws_encode_control(out, WS_OP_CLOSE, NULL, 0);
    /* 5.5: the code takes 2 of the 125 bytes; 5.5.1: the reason is UTF-8 */
    if (!ws_close_code_valid(code) || reason_len > WS_CONTROL_MAX - 2 ||
        !utf8_valid((const uint8_t *)reason, reason_len))
        return -1;
    payload[0] = (uint8_t)(code >> 8);
    payload[1] = (uint8_t)code;
    if (reason_len > 0)
        memcpy(payload + 2, reason, reason_len);
    return ws_encode_control(out, WS_OP_CLOSE, payload, 2 + reason_len);
}
