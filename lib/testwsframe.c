/*
 * testwsframe.c - the pure parts of the WebSocket client (RFC 6455): frame
 * heads written (client frames, always masked) and read (server frames,
 * checked against 5.2 to 5.5), masking, the handshake's key and accept
 * value, UTF-8 and close codes. No I/O: testws.c does that.
 */
#include "testlib.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <stdio.h>
#include <string.h>

/* ---------------------------------------------------------------------
 * Frames
 * ------------------------------------------------------------------- */

size_t tl_ws_head(unsigned char *out, int fin, int rsv, int opcode,
                  uint64_t len, const unsigned char mask[4])
{
    size_t n = 2;
    int i;

    out[0] =
        (unsigned char)((fin ? 0x80 : 0) | ((rsv & 7) << 4) | (opcode & 0x0f));
    if (len < 126) {
        out[1] = (unsigned char)(0x80 | len);
    } else if (len <= 0xffff) {
        out[1] = 0x80 | 126;
        out[2] = (unsigned char)(len >> 8);
        out[3] = (unsigned char)len;
        n = 4;
    } else {
        out[1] = 0x80 | 127;
        for (i = 0; i < 8; i++)
            out[2 + i] = (unsigned char)(len >> (56 - 8 * i));
        n = 10;
    }
    memcpy(out + n, mask, 4);
    return n + 4;
}

void tl_ws_mask(unsigned char *p, size_t len, const unsigned char mask[4],
                uint64_t off)
{
    size_t i;

    for (i = 0; i < len; i++)
        p[i] ^= mask[(off + i) & 3];
}

int tl_ws_parse_head(const unsigned char *p, size_t len, struct tl_ws_frame *f,
                     char *err, size_t errlen)
{
    size_t need = 2, ext = 0;
    uint64_t n;
    int i;

    if (len < 2)
        return 0;
    f->fin = (p[0] & 0x80) != 0;
    f->rsv = (p[0] >> 4) & 7;
    f->opcode = p[0] & 0x0f;
    f->masked = (p[1] & 0x80) != 0;
    n = p[1] & 0x7f;
    if (n == 126)
        ext = 2;
    else if (n == 127)
        ext = 8;
    need += ext + (f->masked ? 4 : 0);
    if (len < need)
        return 0;
    if (ext > 0) {
        for (n = 0, i = 0; i < (int)ext; i++)
            n = n << 8 | p[2 + i];
        if (ext == 8 && (n >> 63) != 0) {
            tl_seterr(err, errlen,
                      "a 64-bit payload length with its top bit set "
                      "(RFC 6455 5.2)");
            return -1;
        }
        if ((ext == 2 && n < 126) || (ext == 8 && n <= 0xffff)) {
            tl_seterr(err, errlen,
                      "payload length %llu in %zu bytes, not the minimal "
                      "encoding (RFC 6455 5.2)",
                      (unsigned long long)n, ext);
            return -1;
        }
    }
    f->len = n;
    if (f->masked)
        memcpy(f->mask, p + 2 + ext, 4);
    return (int)need;
}

static int is_control(int opcode)
{
    return (opcode & 0x08) != 0;
}

int tl_ws_check_frame(const struct tl_ws_frame *f, int deflate, int in_message,
                      char *err, size_t errlen)
{
    int op = f->opcode;

    if (f->masked)
        tl_seterr(err, errlen,
                  "a masked frame: a server must not mask (RFC 6455 5.1)");
    else if (f->rsv & 3)
        tl_seterr(err, errlen,
                  "RSV2 or RSV3 set, which no extension agreed defines "
                  "(RFC 6455 5.2)");
    else if (op != 0 && op != 1 && op != 2 && op != 8 && op != 9 && op != 10)
        tl_seterr(err, errlen, "reserved opcode 0x%x (RFC 6455 5.2)", op);
    else if ((f->rsv & 4) && !deflate)
        tl_seterr(err, errlen,
                  "RSV1 set, but permessage-deflate was not agreed "
                  "(RFC 6455 5.2)");
    else if ((f->rsv & 4) && is_control(op))
        tl_seterr(err, errlen,
                  "RSV1 set on a control frame (opcode 0x%x; RFC 7692 6.1)",
                  op);
    else if ((f->rsv & 4) && op == 0)
        tl_seterr(err, errlen,
                  "RSV1 set on a continuation frame (RFC 7692 6.1)");
    else if (is_control(op) && !f->fin)
        tl_seterr(err, errlen,
                  "a fragmented control frame (opcode 0x%x; RFC 6455 5.5)", op);
    else if (is_control(op) && f->len > 125)
        tl_seterr(err, errlen,
                  "a control frame (opcode 0x%x) with %llu bytes of payload, "
                  "more than 125 (RFC 6455 5.5)",
                  op, (unsigned long long)f->len);
    else if (op == 0 && !in_message)
        tl_seterr(err, errlen,
                  "a continuation frame with no message to continue "
                  "(RFC 6455 5.4)");
    else if ((op == 1 || op == 2) && in_message)
        tl_seterr(err, errlen,
                  "a new data frame (opcode 0x%x) inside a fragmented "
                  "message (RFC 6455 5.4)",
                  op);
    else
        return 0;
    return -1;
}

/* ---------------------------------------------------------------------
 * The handshake's key and accept value (RFC 6455 4.1, 4.2.2)
 * ------------------------------------------------------------------- */

int tl_ws_random(void *p, size_t n)
{
    return RAND_bytes(p, (int)n) == 1 ? 0 : -1;
}

int tl_ws_key(char *out, size_t outlen)
{
    unsigned char nonce[16];

    if (outlen < TL_WS_KEY_LEN + 1 || tl_ws_random(nonce, sizeof nonce) < 0)
        return -1;
    return EVP_EncodeBlock((unsigned char *)out, nonce, sizeof nonce) ==
                   TL_WS_KEY_LEN
               ? 0
               : -1;
}

int tl_ws_accept(const char *key, char *out, size_t outlen)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_MD_CTX *ctx;
    int ok;

    if (outlen < TL_WS_ACCEPT_LEN + 1 || (ctx = EVP_MD_CTX_new()) == NULL)
        return -1;
    ok = EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) == 1 &&
         EVP_DigestUpdate(ctx, key, strlen(key)) == 1 &&
         EVP_DigestUpdate(ctx, TL_WS_GUID, sizeof TL_WS_GUID - 1) == 1 &&
         EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && mdlen == 20;
    EVP_MD_CTX_free(ctx);
    if (!ok)
        return -1;
    return EVP_EncodeBlock((unsigned char *)out, md, 20) == TL_WS_ACCEPT_LEN
               ? 0
               : -1;
}

/* ---------------------------------------------------------------------
 * UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing past
 * U+10FFFF) and close codes (RFC 6455 7.4)
 * ------------------------------------------------------------------- */

int tl_utf8_check(const char *s, size_t len, size_t *bad)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, n, k;
    uint32_t cp, min;

    while (i < len) {
        if (p[i] < 0x80) {
            i++;
            continue;
        }
        if (p[i] >= 0xc2 && p[i] <= 0xdf)
            n = 1, cp = p[i] & 0x1f, min = 0x80;
        else if (p[i] >= 0xe0 && p[i] <= 0xef)
            n = 2, cp = p[i] & 0x0f, min = 0x800;
        else if (p[i] >= 0xf0 && p[i] <= 0xf4)
            n = 3, cp = p[i] & 0x07, min = 0x10000;
        else
            goto fail;
        if (len - i <= n)
            goto fail;
        for (k = 1; k <= n; k++) {
            if ((p[i + k] & 0xc0) != 0x80)
                goto fail;
            cp = cp << 6 | (p[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            goto fail;
        i += n + 1;
    }
    return 0;
fail:
    if (bad != NULL)
        *bad = i;
    return -1;
}

int tl_ws_close_code_ok(int code)
{
    if (code >= 3000 && code <= 4999)
        return 1;
    /* 1004 is reserved; 1005, 1006 and 1015 are never sent */
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014);
}
