/*
 * testwsdeflate.c - permessage-deflate (RFC 7692) for the WebSocket
 * client: the offer, the check of the server's answer to it, and whole
 * messages compressed and inflated with zlib (raw deflate, the 00 00 ff ff
 * of a sync flush stripped when sending and put back when receiving,
 * 7.2.1 and 7.2.2).
 *
 * Window sizes. server_max_window_bits bounds how far back the server's
 * compressor refers; our inflater always has a 15-bit window, which
 * decodes whatever a smaller window encoded (and takes no more memory than
 * a test can spare). client_max_window_bits bounds our compressor: the
 * smaller of the value we offered (a promise, 7.1.2.2) and the one the
 * server answered. zlib cannot make an 8-bit raw deflate window (1.2.9 and
 * later refuse -8; older ones silently used 9), so 8 is compressed with
 * 9, which is still correct: zlib's deflate never looks further back than
 * the window size minus MIN_LOOKAHEAD (262), that is 250 bytes with a
 * 512-byte window, within the 256 bytes a peer with an 8-bit window keeps.
 * squalld's own compressor (src/wsdeflate.c) relies on the same fact and
 * its unit tests check the distances.
 *
 * Context takeover: with client_no_context_takeover agreed, our compressor
 * is reset after each message; with server_no_context_takeover, our
 * inflater is, so a server that refers to an earlier message anyway fails
 * the inflate instead of passing unnoticed.
 */
#include "testlib.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const unsigned char tail[4] = {0x00, 0x00, 0xff, 0xff};

#define ZCHUNK 65536

/* ---------------------------------------------------------------------
 * The offer and the answer (RFC 7692 7.1)
 * ------------------------------------------------------------------- */

int tl_ws_deflate_offer(const sq_test_ws_options *o, char *out, size_t outlen,
                        char *err, size_t errlen)
{
    size_t n;

    if (o->server_max_window_bits != 0 &&
        (o->server_max_window_bits < 8 || o->server_max_window_bits > 15)) {
        tl_seterr(err, errlen, "server_max_window_bits %d is not 0 or 8..15",
                  o->server_max_window_bits);
        return -1;
    }
    if (o->client_max_window_bits != 0 && o->client_max_window_bits != 1 &&
        (o->client_max_window_bits < 8 || o->client_max_window_bits > 15)) {
        tl_seterr(err, errlen, "client_max_window_bits %d is not 0, 1 or 8..15",
                  o->client_max_window_bits);
        return -1;
    }
    n = (size_t)snprintf(
        out, outlen, "permessage-deflate%s%s",
        o->client_no_context_takeover ? "; client_no_context_takeover" : "",
        o->server_no_context_takeover ? "; server_no_context_takeover" : "");
    if (o->server_max_window_bits != 0 && n < outlen)
        n +=
            (size_t)snprintf(out + n, outlen - n, "; server_max_window_bits=%d",
                             o->server_max_window_bits);
    if (o->client_max_window_bits == 1 && n < outlen)
        n += (size_t)snprintf(out + n, outlen - n, "; client_max_window_bits");
    else if (o->client_max_window_bits != 0 && n < outlen)
        n +=
            (size_t)snprintf(out + n, outlen - n, "; client_max_window_bits=%d",
                             o->client_max_window_bits);
    return n < outlen ? 0 : -1;
}

struct scan {
    const char *p, *end;
};

/* RFC 9110 5.6.2 */
static int is_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
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

static size_t token(struct scan *sc, const char **tok)
{
    *tok = sc->p;
    while (sc->p < sc->end && is_tchar((unsigned char)*sc->p))
        sc->p++;
    return (size_t)(sc->p - *tok);
}

/* A token or quoted-string into v; its length, or -1. */
static long value(struct scan *sc, char *v, size_t vlen)
{
    const char *tok;
    size_t n = 0;

    if (sc->p < sc->end && *sc->p == '"') {
        for (sc->p++; sc->p < sc->end && *sc->p != '"'; sc->p++) {
            if (*sc->p == '\\' && ++sc->p == sc->end)
                return -1;
            if (n + 1 < vlen)
                v[n] = *sc->p;
            n++;
        }
        if (sc->p == sc->end)
            return -1;
        sc->p++;
    } else {
        n = token(sc, &tok);
        if (n == 0)
            return -1;
        memcpy(v, tok, n < vlen ? n : vlen - 1);
    }
    v[n < vlen ? n : vlen - 1] = '\0';
    return (long)n;
}

/* A window size value: "8" to "15", no leading zero (7.1.2). */
static int bits(const char *v)
{
    if (strlen(v) == 1 && v[0] == '8')
        return 8;
    if (strlen(v) == 1 && v[0] == '9')
        return 9;
    if (strlen(v) == 2 && v[0] == '1' && v[1] >= '0' && v[1] <= '5')
        return 10 + (v[1] - '0');
    return -1;
}

/* One parameter of the answer; 0, or -1 with err. */
static int answer_param(const sq_test_ws_options *o, struct tl_ws_deflate *a,
                        const char *name, size_t nlen, const char *v,
                        int has_value, unsigned *seen, char *err, size_t errlen)
{
    static const char *const names[] = {
        "server_no_context_takeover", "client_no_context_takeover",
        "server_max_window_bits", "client_max_window_bits"};
    unsigned i;
    int b = has_value ? bits(v) : 0;

    for (i = 0; i < 4; i++)
        if (strlen(names[i]) == nlen && strncasecmp(names[i], name, nlen) == 0)
            break;
    if (i == 4) {
        tl_seterr(err, errlen, "an unknown parameter \"%.*s\"", (int)nlen,
                  name);
        return -1;
    }
    if (*seen & (1u << i)) {
        tl_seterr(err, errlen, "%s twice", names[i]);
        return -1;
    }
    *seen |= 1u << i;
    if (i < 2 && has_value) {
        tl_seterr(err, errlen, "%s with a value (\"%s\")", names[i], v);
        return -1;
    }
    if (i >= 2 && b < 0) {
        tl_seterr(err, errlen, "%s without a value of 8 to 15 (\"%s\")",
                  names[i], has_value ? v : "");
        return -1;
    }
    switch (i) {
    case 0:
        a->snct = 1;
        break;
    case 1:
        a->cnct = 1;
        break;
    case 2:
        if (o->server_max_window_bits != 0 && b > o->server_max_window_bits) {
            tl_seterr(err, errlen,
                      "server_max_window_bits=%d, more than the %d offered "
                      "(RFC 7692 7.1.2.1)",
                      b, o->server_max_window_bits);
            return -1;
        }
        a->smwb = b;
        break;
    case 3:
        if (o->client_max_window_bits == 0) {
            tl_seterr(err, errlen,
                      "client_max_window_bits, which was not offered "
                      "(RFC 7692 7.1.2.2)");
            return -1;
        }
        a->cmwb = b;
        break;
    }
    return 0;
}

int tl_ws_deflate_accept(const sq_test_ws_options *o, const char *ext,
                         struct tl_ws_deflate *a, char *err, size_t errlen)
{
    struct scan sc = {ext, ext + strlen(ext)};
    const char *name;
    char v[32];
    size_t n;
    unsigned seen = 0;
    int found = 0, has_value;

    memset(a, 0, sizeof *a);
    for (;;) {
        skip_ows(&sc);
        if (sc.p == sc.end)
            break;
        if (eat(&sc, ','))
            continue;
        n = token(&sc, &name);
        if (n == 0) {
            tl_seterr(err, errlen,
                      "Sec-WebSocket-Extensions: not a list of "
                      "extensions");
            return -1;
        }
        if (n != 18 || strncasecmp(name, "permessage-deflate", 18) != 0) {
            tl_seterr(err, errlen,
                      "Sec-WebSocket-Extensions: \"%.*s\" was not offered "
                      "(RFC 6455 4.1)",
                      (int)n, name);
            return -1;
        }
        if (!o->deflate || found) {
            tl_seterr(err, errlen,
                      "Sec-WebSocket-Extensions: permessage-deflate %s",
                      found ? "twice" : "was not offered (RFC 6455 4.1)");
            return -1;
        }
        found = 1;
        while (eat(&sc, ';')) {
            n = token(&sc, &name);
            if (n == 0) {
                tl_seterr(err, errlen,
                          "Sec-WebSocket-Extensions: a "
                          "parameter without a name");
                return -1;
            }
            has_value = eat(&sc, '=');
            if (has_value && value(&sc, v, sizeof v) < 0) {
                tl_seterr(err, errlen,
                          "Sec-WebSocket-Extensions: a bad "
                          "parameter value");
                return -1;
            }
            if (answer_param(o, a, name, n, has_value ? v : "", has_value,
                             &seen, err, errlen) < 0) {
                char why[200];

                snprintf(why, sizeof why, "%s", err);
                tl_seterr(err, errlen, "permessage-deflate answered with %s",
                          why);
                return -1;
            }
        }
        skip_ows(&sc);
        if (sc.p != sc.end && *sc.p != ',') {
            tl_seterr(err, errlen,
                      "Sec-WebSocket-Extensions: unexpected \"%c\"", *sc.p);
            return -1;
        }
    }
    if (found && o->server_no_context_takeover && !a->snct) {
        tl_seterr(err, errlen,
                  "permessage-deflate answered without the "
                  "server_no_context_takeover offered (RFC 7692 7.1.1.1)");
        return -1;
    }
    if (found && o->server_max_window_bits != 0 && a->smwb == 0) {
        tl_seterr(err, errlen,
                  "permessage-deflate answered without the "
                  "server_max_window_bits offered (RFC 7692 7.1.2.1)");
        return -1;
    }
    if (found) {
        a->cnct |= o->client_no_context_takeover;
        a->client_bits = 15;
        if (o->client_max_window_bits >= 8)
            a->client_bits = o->client_max_window_bits;
        if (a->cmwb != 0 && a->cmwb < a->client_bits)
            a->client_bits = a->cmwb;
    }
    return found;
}

/* ---------------------------------------------------------------------
 * Messages
 * ------------------------------------------------------------------- */

int tl_ws_zip_init(struct tl_ws_zip *z, const struct tl_ws_deflate *agreed)
{
    int wbits = agreed->client_bits < 9 ? 9 : agreed->client_bits;

    memset(z, 0, sizeof *z);
    z->params = *agreed;
    if (deflateInit2(&z->def, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -wbits, 8,
                     Z_DEFAULT_STRATEGY) != Z_OK)
        return -1;
    z->def_ready = 1;
    if (inflateInit2(&z->inf, -15) != Z_OK) {
        tl_ws_zip_free(z);
        return -1;
    }
    z->inf_ready = 1;
    return 0;
}

void tl_ws_zip_free(struct tl_ws_zip *z)
{
    if (z->def_ready)
        deflateEnd(&z->def);
    if (z->inf_ready)
        inflateEnd(&z->inf);
    z->def_ready = z->inf_ready = 0;
}

int tl_ws_compress(struct tl_ws_zip *z, const void *data, size_t len,
                   struct tl_buf *out, char *err, size_t errlen)
{
    z_stream *s = &z->def;
    int rc;

    out->len = 0;
    s->next_in = (Bytef *)(uintptr_t)data;
    s->avail_in = 0;
    do {
        if (s->avail_in == 0 && len > 0) {
            s->avail_in = len > (1u << 30) ? (1u << 30) : (uInt)len;
            len -= s->avail_in;
        }
        if (tl_buf_reserve(out, ZCHUNK) < 0) {
            tl_seterr(err, errlen, "compressing: out of memory");
            return -1;
        }
        s->next_out = (Bytef *)out->data + out->len;
        s->avail_out = ZCHUNK;
        rc = deflate(s, Z_SYNC_FLUSH);
        out->len += ZCHUNK - s->avail_out;
        if (rc != Z_OK && rc != Z_BUF_ERROR) {
            tl_seterr(err, errlen, "deflate: %s", s->msg ? s->msg : "error");
            return -1;
        }
    } while (s->avail_out == 0 || s->avail_in > 0 || len > 0);
    if (out->len < 4 || memcmp(out->data + out->len - 4, tail, 4) != 0) {
        tl_seterr(err, errlen, "deflate: no sync flush at the end");
        return -1;
    }
    out->len -= 4;
    if (z->params.cnct && deflateReset(s) != Z_OK) {
        tl_seterr(err, errlen, "deflateReset failed");
        return -1;
    }
    return 0;
}

/* After a final block, a new raw stream that still has the window: the
 * next message may refer back into it (context takeover). */
static int restart(z_stream *s)
{
    unsigned char window[1u << 15];
    uInt n = sizeof window;
    int rc = inflateGetDictionary(s, window, &n);

    if (rc == Z_OK)
        rc = inflateReset(s);
    if (rc == Z_OK && n > 0)
        rc = inflateSetDictionary(s, window, n);
    return rc;
}

int tl_ws_inflate(struct tl_ws_zip *z, struct tl_buf *in, struct tl_buf *out,
                  char *err, size_t errlen)
{
    z_stream *s = &z->inf;
    size_t room;
    uInt before;
    int rc, end = 0, type = 0;

    out->len = 0;
    if (tl_buf_add(in, tail, 4) < 0) {
        tl_seterr(err, errlen, "inflating: out of memory");
        return -1;
    }
    s->next_in = (Bytef *)in->data;
    s->avail_in = (uInt)in->len;
    for (;;) {
        room = SQ_TEST_MAX_WS_MESSAGE - out->len;
        if (room > ZCHUNK)
            room = ZCHUNK;
        if (room == 0)
            room = 1; /* one byte more tells it is over the limit */
        if (tl_buf_reserve(out, room) < 0) {
            tl_seterr(err, errlen, "inflating: out of memory");
            return -1;
        }
        s->next_out = (Bytef *)out->data + out->len;
        s->avail_out = (uInt)room;
        before = s->avail_in;
        rc = inflate(s, Z_SYNC_FLUSH);
        if (s->avail_in < before) /* a call without input resets it */
            type = s->data_type;
        out->len += room - s->avail_out;
        out->data[out->len] = '\0';
        if (out->len > SQ_TEST_MAX_WS_MESSAGE) {
            tl_seterr(err, errlen,
                      "a compressed message that inflates past "
                      "SQ_TEST_MAX_WS_MESSAGE (%u bytes)",
                      SQ_TEST_MAX_WS_MESSAGE);
            return -1;
        }
        if (rc == Z_STREAM_END) {
            end = 1; /* a block with BFINAL set (RFC 7692 7.2.3.4) */
            break;
        }
        if (rc != Z_OK && rc != Z_BUF_ERROR) {
            tl_seterr(err, errlen,
                      "a compressed message that does not "
                      "inflate: %s",
                      s->msg ? s->msg : "zlib error");
            return -1;
        }
        if (s->avail_in == 0 && s->avail_out > 0)
            break;
        if (rc == Z_BUF_ERROR && s->avail_out > 0) {
            tl_seterr(err, errlen, "inflate made no progress");
            return -1;
        }
    }
    /* what follows a final block is ignored, as the tail we appended
     * (RFC 7692 7.2.3.4 has a byte of padding there) */
    in->len -= 4;
    /* the tail completes an empty stored block: then zlib waits for a
     * block header (data_type 128, zlib.h, as the call that took the last
     * input left it) unless the data was cut short */
    if (!end && !(type & 128)) {
        tl_seterr(err, errlen,
                  "a compressed message that does not end "
                  "with a whole deflate block (RFC 7692 7.2.1)");
        return -1;
    }
    if (z->params.snct)
        rc = inflateReset(s);
    else if (end)
        rc = restart(s);
    else
        rc = Z_OK;
    if (rc != Z_OK) {
        tl_seterr(err, errlen, "inflateReset failed");
        return -1;
    }
    return 0;
}
