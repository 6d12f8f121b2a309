/*
 * jose.c - what squall reads of a JWT itself, before libjwt sees it: the
 * compact serialisation "header.payload.signature" (RFC 7515 7.1) and the
 * JOSE header (RFC 7515 4), whose "alg" must be exactly the configured
 * algorithm. Checking it here keeps "alg": "none" and algorithm confusion
 * (an HS256 token "signed" with the RSA public key as the HMAC secret)
 * out whatever libjwt would do with them. Also the `require:` templates
 * of claim binding. Pure functions (tests/fuzz/fuzz_jwt.c).
 */
#include "internal.h"

#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>

#define JOSE_HEADER_MAX 1024 /* bytes of a decoded header: a few fields */

static int b64url_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           (c >= '0' && c <= '9') || c == '-' || c == '_';
}

int jose_split(const char *t, size_t len, struct jose_token *tok, char *err,
               size_t errlen)
{
    size_t i, start = 0, k = 0;

    for (i = 0; i <= len; i++) {
        if (i < len && t[i] != '.') {
            if (!b64url_char((unsigned char)t[i])) {
                errf(err, errlen,
                     "a byte 0x%02x that is not base64url at "
                     "offset %zu",
                     (unsigned char)t[i], i);
                return -1;
            }
            continue;
        }
        if (k == 3) {
            errf(err, errlen, "more than three parts");
            return -1;
        }
        if (i == start) {
            errf(err, errlen, "the %s is empty",
                 k == 0   ? "header"
                 : k == 1 ? "payload"
                          : "signature");
            return -1;
        }
        tok->part[k] = t + start;
        tok->len[k] = i - start;
        k++;
        start = i + 1;
    }
    if (k != 3) {
        errf(err, errlen, "not three parts separated by '.'");
        return -1;
    }
    return 0;
}

long jose_b64url_decode(const char *in, size_t len, unsigned char *out,
                        size_t outcap)
{
    unsigned char quad[4], three[3];
    size_t i, o = 0, n, rest = len % 4;

    /* RFC 7515 2: unpadded, so a remainder of 1 character is impossible */
    if (rest == 1 || len / 4 * 3 + (rest ? rest - 1 : 0) > outcap)
        return -1;
    for (i = 0; i < len; i += 4) {
        n = len - i < 4 ? len - i : 4;
        for (size_t j = 0; j < 4; j++) {
            unsigned char c = j < n ? (unsigned char)in[i + j] : '=';
            if (j < n && !b64url_char(c))
                return -1;
            quad[j] = c == '-' ? '+' : c == '_' ? '/' : c;
        }
        /* EVP_DecodeBlock counts padding as zero bytes: take n - 1 of a
         * short group */
        if (EVP_DecodeBlock(three, quad, 4) != 3)
            return -1;
        memcpy(out + o, three, n == 4 ? 3 : n - 1);
        o += n == 4 ? 3 : n - 1;
    }
    return (long)o;
}

int jose_header_check(const char *b64, size_t len, const char *alg, char *err,
                      size_t errlen)
{
    unsigned char text[JOSE_HEADER_MAX];
    json_error_t jerr;
    json_t *h, *a;
    long n;
    int rc = -1;

    if (len > JOSE_HEADER_MAX / 3 * 4 ||
        (n = jose_b64url_decode(b64, len, text, sizeof(text))) < 0) {
        errf(err, errlen, "the header is not base64url of at most %d bytes",
             JOSE_HEADER_MAX);
        return -1;
    }
    h = json_loadb((const char *)text, (size_t)n, JSON_REJECT_DUPLICATES,
                   &jerr);
    if (h == NULL) {
        errf(err, errlen, "the header is not JSON: %s", jerr.text);
        return -1;
    }
    if (!json_is_object(h)) {
        errf(err, errlen, "the header is not a JSON object");
    } else if ((a = json_object_get(h, "alg")) == NULL || !json_is_string(a)) {
        errf(err, errlen, "the header has no \"alg\" string");
    } else if (json_string_length(a) != strlen(alg) ||
               memcmp(json_string_value(a), alg, strlen(alg)) != 0) {
        errf(err, errlen, "the header's \"alg\" is '%.32s', not %s",
             json_string_value(a), alg);
    } else if (json_object_get(h, "crit") != NULL) {
        errf(err, errlen, "the header has \"crit\" extensions");
    } else {
        rc = 0;
    }
    json_decref(h);
    return rc;
}

/* --- require: templates ------------------------------------------------ */

