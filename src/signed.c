/*
 * signed.c - Tornado-compatible signed values and XSRF tokens, so that
 * cookies set by a Tornado application read here and the reverse.
 *
 * Version 2 signed value (what signed_create writes):
 *   2|<n>:<key version>|<n>:<timestamp>|<n>:<name>|<n>:<base64 value>|<sig>
 * each <n> the decimal length of the field after its colon, <sig> the
 * lowercase hex HMAC-SHA256 of every byte before it (the last pipe too).
 * Version 1 (read only): <base64 value>|<timestamp>|<sig>, <sig> the hex
 * HMAC-SHA1 of name, base64 value and timestamp run together.
 *
 * Pure: time and randomness come from the caller.
 */
#include "internal.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SECONDS_PER_DAY 86400
/* version 1 carries no delimiter between the signed parts, so Tornado
 * bounds its timestamps to 31 days ahead whatever else is allowed */
#define V1_FUTURE_MAX (31 * SECONDS_PER_DAY)

static const char hexdig[] = "0123456789abcdef";

static void hex_encode(const unsigned char *p, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hexdig[p[i] >> 4];
        out[2 * i + 1] = hexdig[p[i] & 15];
    }
}

/* binascii.a2b_hex: an even number of hex digits of either case; -1 when
 * not, or when the bytes would not fit in cap. */
static int hex_decode(const char *s, size_t n, unsigned char *out, size_t cap,
                      size_t *outlen)
{
    if (n % 2 != 0 || n / 2 > cap)
        return -1;
    for (size_t i = 0; i < n; i += 2) {
        int hi = hex_value((unsigned char)s[i]), lo = hex_value((unsigned char)s[i + 1]);

        if (hi < 0 || lo < 0)
            return -1;
        out[i / 2] = (unsigned char)(hi << 4 | lo);
    }
    *outlen = n / 2;
    return 0;
}

/* Decimal digits s[0, n), at most max. */
static int parse_digits(const char *s, size_t n, int64_t max, int64_t *v)
{
    int64_t x = 0;

    if (n == 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        if (x > (max - (s[i] - '0')) / 10)
            return -1;
        x = x * 10 + (s[i] - '0');
    }
    *v = x;
    return 0;
}

/* The same without a leading zero but in "0" itself. */
static int parse_dec(const char *s, size_t n, int64_t max, int64_t *v)
{
    uint64_t u;

    if (parse_u64(s, n, &u) < 0 || u > (uint64_t)max)
        return -1;
    *v = (int64_t)u;
    return 0;
}

static int b64val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* Standard base64 with its padding, canonical (the unused bits of the
 * last symbol zero), as base64.b64encode writes it; -1 when not, or when
 * it does not fit in cap. */
static int b64_decode(const char *s, size_t n, unsigned char *out, size_t cap,
                      size_t *outlen)
{
    size_t o = 0;

    if (n % 4 != 0)
        return -1;
    for (size_t i = 0; i < n; i += 4) {
        int v[4], pad = 0;
        uint32_t w = 0;

        for (int k = 0; k < 4; k++) {
            unsigned char c = (unsigned char)s[i + k];

            if (c == '=' && i + 4 == n && k >= 2) {
                v[k] = 0;
                pad++;
                continue;
            }
            if (pad > 0 || (v[k] = b64val(c)) < 0)
                return -1;
        }
        w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 |
            (uint32_t)v[3];
        if ((pad == 1 && (w & 0xff) != 0) || (pad == 2 && (w & 0xffff) != 0))
            return -1;
        if (o + 3 - (size_t)pad > cap)
            return -2;
        out[o++] = (unsigned char)(w >> 16);
        if (pad < 2)
            out[o++] = (unsigned char)(w >> 8);
        if (pad < 1)
            out[o++] = (unsigned char)w;
    }
    *outlen = o;
    return 0;
}

/*
 * HMAC contexts keyed once and kept: a context set up with a key (the
 * algorithm fetched, the digest fetched, the padded key hashed) costs
 * four times the HMAC of a cookie, and a cookie is checked on every
 * request of a logged-in user. A kept context is reset for the next value
 * with EVP_MAC_init(ctx, NULL, 0, NULL), which keeps its key. A process
 * has a few secrets (key versions, HMAC-SHA1 for version 1 values), so a
 * few slots, replaced in turn, are enough; a slot holds its own copy of
 * the key and is found by comparing keys (our own, not the client's).
 * Loop-thread only, as every caller is.
 */
#define HMAC_SLOTS 4

static struct hmac_slot {
    const EVP_MD *md;
    unsigned char *key;
    size_t keylen;
    EVP_MAC_CTX *ctx;
} hmac_slots[HMAC_SLOTS];
static unsigned hmac_next;

static EVP_MAC_CTX *hmac_keyed(const EVP_MD *md, const void *key,
                               size_t keylen)
{
    static EVP_MAC *alg;
    struct hmac_slot *s;
    OSSL_PARAM params[2];
    EVP_MAC_CTX *c;
    unsigned char *copy;

    for (unsigned i = 0; i < HMAC_SLOTS; i++) {
        s = &hmac_slots[i];
        if (s->ctx != NULL && s->md == md && s->keylen == keylen &&
            memcmp(s->key, key, keylen) == 0)
            return EVP_MAC_init(s->ctx, NULL, 0, NULL) == 1 ? s->ctx : NULL;
    }
    if (alg == NULL && (alg = EVP_MAC_fetch(NULL, "HMAC", NULL)) == NULL)
        return NULL;
    params[0] = OSSL_PARAM_construct_utf8_string(
        "digest", (char *)EVP_MD_get0_name(md), 0);
    params[1] = OSSL_PARAM_construct_end();
    if ((c = EVP_MAC_CTX_new(alg)) == NULL ||
        EVP_MAC_init(c, key, keylen, params) != 1 ||
        (copy = malloc(keylen)) == NULL) {
        EVP_MAC_CTX_free(c);
        return NULL;
    }
    memcpy(copy, key, keylen);
    s = &hmac_slots[hmac_next++ % HMAC_SLOTS];
    EVP_MAC_CTX_free(s->ctx);
    if (s->key != NULL)
        OPENSSL_clear_free(s->key, s->keylen);
    *s = (struct hmac_slot){md, copy, keylen, c};
    return c;
}

/* HMAC of the concatenated parts into hex (NUL-terminated). */
static int hmac_hex(const EVP_MD *md, const void *key, size_t keylen,
                    const char *const *parts, const size_t *lens, size_t n,
                    char *hex)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    size_t maclen = 0;
    EVP_MAC_CTX *c = hmac_keyed(md, key, keylen);

    if (c == NULL)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (EVP_MAC_update(c, (const unsigned char *)parts[i], lens[i]) != 1)
            return -1;
    if (EVP_MAC_final(c, mac, &maclen, sizeof(mac)) != 1)
        return -1;
    hex_encode(mac, maclen, hex);
    hex[2 * maclen] = '\0';
    return 0;
}

static int sig_v2(const void *key, size_t keylen, const char *s, size_t n,
                  char hex[2 * 32 + 1])
{
    const char *parts[] = {s};
    size_t lens[] = {n};

    return hmac_hex(EVP_sha256(), key, keylen, parts, lens, 1, hex);
}

/* Appends "<len>:<field>|". */
static int put_field(char *out, size_t cap, size_t *o, const char *f, size_t n)
{
    int k = snprintf(out + *o, cap - *o, "%zu:", n);

    if (k < 0 || (size_t)k >= cap - *o || cap - *o - (size_t)k < n + 2)
        return -1;
    *o += (size_t)k;
    memcpy(out + *o, f, n);
    *o += n;
    out[(*o)++] = '|';
    return 0;
}

int signed_create(const void *secret, size_t secret_len, long kv,
                  const char *name, const void *value, size_t vlen,
                  int64_t timestamp, char *out, size_t outcap, size_t *outlen,
                  char *err, size_t errlen)
{
    char num[24], sig[2 * 32 + 1], *b64;
    size_t o = 0, b64len = 4 * ((vlen + 2) / 3);
    int n, rc = -1;

    if (secret_len == 0 || name[0] == '\0') {
        errf(err, errlen, "signed value: an empty %s",
             secret_len == 0 ? "secret" : "name");
        return -1;
    }
    for (const char *c = name; *c != '\0'; c++)
        if ((unsigned char)*c <= ' ' || *c == 0x7f) {
            errf(err, errlen, "signed value: a control byte or space in the "
                              "name");
            return -1;
        }
    if (kv < 0 || kv > INT32_MAX || timestamp < 0) {
        errf(err, errlen, "signed value: a negative key version or timestamp");
        return -1;
    }
    if (vlen > SIGNED_MAX || outcap < 2) {
        errf(err, errlen, "signed value: does not fit in %zu bytes", outcap);
        return -1;
    }
    if ((b64 = malloc(b64len + 1)) == NULL) {
        errf(err, errlen, "signed value: out of memory");
        return -1;
    }
    EVP_EncodeBlock((unsigned char *)b64, value, (int)vlen);
    memcpy(out, "2|", 2);
    o = 2;
    n = snprintf(num, sizeof(num), "%ld", kv);
    if (put_field(out, outcap, &o, num, (size_t)n) < 0)
        goto toolong;
    n = snprintf(num, sizeof(num), "%" PRId64, timestamp);
    if (put_field(out, outcap, &o, num, (size_t)n) < 0 ||
        put_field(out, outcap, &o, name, strlen(name)) < 0 ||
        put_field(out, outcap, &o, b64, b64len) < 0 ||
        outcap - o < sizeof(sig))
        goto toolong;
    if (sig_v2(secret, secret_len, out, o, sig) < 0) {
        errf(err, errlen, "signed value: HMAC failed");
        goto done;
    }
    if (o + sizeof(sig) - 1 > SIGNED_MAX)
        goto toolong;
    memcpy(out + o, sig, sizeof(sig)); /* with its NUL */
    *outlen = o + sizeof(sig) - 1;
    rc = 0;
    goto done;
toolong:
    errf(err, errlen, "signed value: longer than %zu bytes",
         outcap - 1 < SIGNED_MAX ? outcap - 1 : (size_t)SIGNED_MAX);
done:
    free(b64);
    return rc;
}

/* _get_version: "<1-9><digits>|" with at most 3 digits is that version;
 * anything else (a longer number is base64 of version 1) is 1. */
static int get_version(const char *s, size_t n)
{
    size_t d = 0;
    int v = 0;

    if (n == 0 || s[0] < '1' || s[0] > '9')
        return 1;
    while (d < n && s[d] >= '0' && s[d] <= '9')
        d++;
    if (d == n || s[d] != '|' || d > 3)
        return 1;
    for (size_t i = 0; i < d; i++)
        v = v * 10 + (s[i] - '0');
    return v;
}

static int bad(int rc, char *err, size_t errlen, const char *why)
{
    errf(err, errlen, "signed value: %s", why);
    return rc;
}

/* The value of the base64 field f[0, n). */
static int value_out(const char *f, size_t n, void *out, size_t outcap,
                     size_t *outlen, char *err, size_t errlen)
{
    int rc = b64_decode(f, n, out, outcap, outlen);

    if (rc == -2)
        return bad(SIGNED_ESIZE, err, errlen, "the value does not fit");
    if (rc < 0)
        return bad(SIGNED_EMALFORMED, err, errlen, "bad base64");
    return 0;
}

static int check_time(const struct signed_opts *o, int64_t ts, int64_t now,
                      int64_t future_max, char *err, size_t errlen)
{
    if ((double)ts < (double)now - o->max_age_days * SECONDS_PER_DAY)
        return bad(SIGNED_EEXPIRED, err, errlen, "expired");
    if (ts - now > future_max)
        return bad(SIGNED_EFUTURE, err, errlen, "timestamp in the future");
    return 0;
}

/* timestamp is at most 12 digits: year 33658, well past any clock */
#define TS_MAX 999999999999LL

static int decode_v1(const struct signed_opts *o, const char *name,
                     const char *in, size_t len, int64_t now, void *out,
                     size_t outcap, size_t *outlen, char *err, size_t errlen)
{
    const char *p1 = memchr(in, '|', len), *p2, *sig;
    const void *key;
    size_t keylen, vlen, tlen, siglen;
    char want[2 * 20 + 1];
    const char *parts[3];
    size_t lens[3];
    int64_t ts, future = o->skew < V1_FUTURE_MAX ? o->skew : V1_FUTURE_MAX;
    int rc;

    if (p1 == NULL ||
        (p2 = memchr(p1 + 1, '|', len - (size_t)(p1 + 1 - in))) == NULL ||
        memchr(p2 + 1, '|', len - (size_t)(p2 + 1 - in)) != NULL)
        return bad(SIGNED_EMALFORMED, err, errlen, "not 3 fields (version 1)");
    vlen = (size_t)(p1 - in);
    tlen = (size_t)(p2 - p1 - 1);
    sig = p2 + 1;
    siglen = len - (size_t)(sig - in);
    if (o->secret(o->arg, SIGNED_KV_NONE, &key, &keylen) < 0 || keylen == 0)
        return bad(SIGNED_EKEY, err, errlen, "no secret for version 1");
    parts[0] = name;
    lens[0] = strlen(name);
    parts[1] = in;
    lens[1] = vlen;
    parts[2] = p1 + 1;
    lens[2] = tlen;
    if (hmac_hex(EVP_sha1(), key, keylen, parts, lens, 3, want) < 0)
        return bad(SIGNED_ESIG, err, errlen, "HMAC failed");
    if (siglen != strlen(want) || CRYPTO_memcmp(sig, want, siglen) != 0)
        return bad(SIGNED_ESIG, err, errlen, "bad signature");
    /* signed, so only its timestamp's spelling is left to check: Tornado
     * rejects a leading zero (digits moved from the value) */
    if (parse_dec(p1 + 1, tlen, TS_MAX, &ts) < 0)
        return bad(SIGNED_EMALFORMED, err, errlen, "bad timestamp");
    if ((rc = check_time(o, ts, now, future, err, errlen)) < 0)
        return rc;
    return value_out(in, vlen, out, outcap, outlen, err, errlen);
}

/* _consume_field: "<n>:<n bytes>|" from *p (up to e). */
static int consume(const char **p, const char *e, const char **f, size_t *n)
{
    const char *colon = memchr(*p, ':', (size_t)(e - *p));
    int64_t v;

    if (colon == NULL || parse_dec(*p, (size_t)(colon - *p), SIGNED_MAX, &v) < 0)
        return -1;
    if ((size_t)(e - colon - 1) < (size_t)v + 1 || colon[1 + v] != '|')
        return -1;
    *f = colon + 1;
    *n = (size_t)v;
    *p = colon + 1 + v + 1;
    return 0;
}

static int decode_v2(const struct signed_opts *o, const char *name,
                     const char *in, size_t len, int64_t now, void *out,
                     size_t outcap, size_t *outlen, char *err, size_t errlen)
{
    const char *p = in + 2, *e = in + len, *kvf, *tsf, *namef, *valf;
    size_t kvn, tsn, namen, valn, keylen;
    const void *key;
    char want[2 * 32 + 1];
    int64_t kv, ts;
    int rc;

    if (consume(&p, e, &kvf, &kvn) < 0 || consume(&p, e, &tsf, &tsn) < 0 ||
        consume(&p, e, &namef, &namen) < 0 || consume(&p, e, &valf, &valn) < 0)
        return bad(SIGNED_EMALFORMED, err, errlen, "malformed field");
    if (parse_dec(kvf, kvn, INT32_MAX, &kv) < 0 ||
        parse_dec(tsf, tsn, TS_MAX, &ts) < 0)
        return bad(SIGNED_EMALFORMED, err, errlen,
                   "bad key version or timestamp");
    if (o->secret(o->arg, (long)kv, &key, &keylen) < 0 || keylen == 0)
        return bad(SIGNED_EKEY, err, errlen, "unknown key version");
    if (sig_v2(key, keylen, in, (size_t)(p - in), want) < 0)
        return bad(SIGNED_ESIG, err, errlen, "HMAC failed");
    if ((size_t)(e - p) != sizeof(want) - 1 ||
        CRYPTO_memcmp(p, want, sizeof(want) - 1) != 0)
        return bad(SIGNED_ESIG, err, errlen, "bad signature");
    if (namen != strlen(name) || memcmp(namef, name, namen) != 0)
        return bad(SIGNED_ENAME, err, errlen, "signed for another name");
    if ((rc = check_time(o, ts, now, o->skew, err, errlen)) < 0)
        return rc;
    return value_out(valf, valn, out, outcap, outlen, err, errlen);
}

int signed_decode(const struct signed_opts *o, const char *name,
                  const char *in, size_t len, int64_t now, void *out,
                  size_t outcap, size_t *outlen, char *err, size_t errlen)
{
    int version;

    if (len > SIGNED_MAX)
        return bad(SIGNED_ESIZE, err, errlen, "too long");
    if (len == 0)
        return bad(SIGNED_EMALFORMED, err, errlen, "empty");
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)in[i] <= ' ' || in[i] == 0x7f)
            return bad(SIGNED_EMALFORMED, err, errlen, "a control byte");
    version = get_version(in, len);
    if (version < o->min_version || version > 2)
        return bad(SIGNED_EVERSION, err, errlen, "unsupported version");
    if (version == 1)
        return decode_v1(o, name, in, len, now, out, outcap, outlen, err,
                         errlen);
    return decode_v2(o, name, in, len, now, out, outcap, outlen, err, errlen);
}

/* XSRF tokens -------------------------------------------------------- */

static void mask_bytes(const unsigned char *mask, const unsigned char *in,
                       size_t n, unsigned char *out)
{
    for (size_t i = 0; i < n; i++)
        out[i] = in[i] ^ mask[i % XSRF_MASK_LEN];
}

/* Tornado's version pattern: "<1-9><digits>|" at the start. */
static int has_version_prefix(const char *s, size_t n, int64_t *version)
{
    size_t d = 0;

    if (n == 0 || s[0] < '1' || s[0] > '9')
        return 0;
    while (d < n && s[d] >= '0' && s[d] <= '9')
        d++;
    if (d == n || s[d] != '|')
        return 0;
    if (parse_dec(s, d, INT32_MAX, version) < 0)
        *version = -1; /* huge: still a version, an unknown one */
    return 1;
}

static int xbad(char *err, size_t errlen, const char *why)
{
    errf(err, errlen, "xsrf token: %s", why);
    return -1;
}

int xsrf_decode(const char *s, size_t len, int64_t now, struct xsrf_token *t,
                char *err, size_t errlen)
{
    const char *f[4];
    size_t n[4], k = 0, mlen, tlen;
    unsigned char mask[XSRF_MASK_LEN], masked[XSRF_RAW_MAX];
    int64_t version, ts;

    if (len > SIGNED_MAX)
        return xbad(err, errlen, "too long");
    if (len == 0)
        return xbad(err, errlen, "empty");
    if (!has_version_prefix(s, len, &version)) {
        /* version 1: hex, or when not hex the bytes as they are */
        if (hex_decode(s, len, t->raw, sizeof(t->raw), &t->len) < 0) {
            if (len > sizeof(t->raw))
                return xbad(err, errlen, "token too long");
            memcpy(t->raw, s, len);
            t->len = len;
        }
        if (t->len == 0)
            return xbad(err, errlen, "empty token");
        t->version = 1;
        t->timestamp = now;
        return 0;
    }
    if (version != 2)
        return xbad(err, errlen, "unknown version");
    /* exactly four '|'-separated fields */
    f[0] = s;
    for (size_t i = 0; i <= len; i++)
        if (i == len || s[i] == '|') {
            if (k == 4)
                return xbad(err, errlen, "not 4 fields");
            n[k] = (size_t)(s + i - f[k]);
            if (++k < 4)
                f[k] = s + i + 1;
        }
    if (k != 4)
        return xbad(err, errlen, "not 4 fields");
    if (hex_decode(f[1], n[1], mask, sizeof(mask), &mlen) < 0 ||
        mlen != XSRF_MASK_LEN)
        return xbad(err, errlen, "bad mask");
    if (hex_decode(f[2], n[2], masked, sizeof(masked), &tlen) < 0)
        return xbad(err, errlen, "bad or too long token");
    if (tlen == 0)
        return xbad(err, errlen, "empty token");
    /* int() takes leading zeros */
    if (parse_digits(f[3], n[3], TS_MAX, &ts) < 0)
        return xbad(err, errlen, "bad timestamp");
    mask_bytes(mask, masked, tlen, t->raw);
    t->len = tlen;
    t->version = 2;
    t->timestamp = ts;
    return 0;
}

long xsrf_encode_v2(const unsigned char *raw, size_t n,
                    const unsigned char mask[XSRF_MASK_LEN], int64_t timestamp,
                    char *out, size_t outcap)
{
    unsigned char masked[XSRF_RAW_MAX];
    size_t o = 0;
    int k;

    if (n == 0 || n > XSRF_RAW_MAX || timestamp < 0 ||
        outcap < 2 + 2 * XSRF_MASK_LEN + 1 + 2 * n + 1)
        return -1;
    mask_bytes(mask, raw, n, masked);
    out[o++] = '2';
    out[o++] = '|';
    hex_encode(mask, XSRF_MASK_LEN, out + o);
    o += 2 * XSRF_MASK_LEN;
    out[o++] = '|';
    hex_encode(masked, n, out + o);
    o += 2 * n;
    out[o++] = '|';
    k = snprintf(out + o, outcap - o, "%" PRId64, timestamp);
    if (k < 0 || (size_t)k >= outcap - o)
        return -1;
    return (long)(o + (size_t)k);
}

long xsrf_encode_v1(const unsigned char *raw, size_t n, char *out,
                    size_t outcap)
{
    if (n == 0 || n > XSRF_RAW_MAX || outcap < 2 * n + 1)
        return -1;
    hex_encode(raw, n, out);
    out[2 * n] = '\0';
    return (long)(2 * n);
}

int xsrf_equal(const struct xsrf_token *a, const struct xsrf_token *b)
{
    return a->len == b->len && CRYPTO_memcmp(a->raw, b->raw, a->len) == 0;
}
