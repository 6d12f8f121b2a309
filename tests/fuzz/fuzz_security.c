/*
 * fuzz_security.c - libFuzzer target for the parsers that read what a
 * client sends about itself: Cookie headers and Set-Cookie values
 * (src/cookie.c), signed values and XSRF tokens (src/signed.c), and
 * multipart/form-data bodies (src/form.c). Any bytes must be read or
 * refused, never crash, overread or loop, and what squall writes must read
 * back as what was written:
 *
 *   - a cookie that cookie_format writes is found again by cookie_get;
 *   - a value that signed_create signs decodes to the same bytes, and no
 *     other input decodes with a key it was not signed with;
 *   - an XSRF token that decodes encodes (version 1 and 2) to a token that
 *     decodes to the same raw bytes, and is equal to itself;
 *   - every multipart part lies inside the body.
 *
 * The first byte chooses the parser; the rest is its input.
 * tests/fuzz/run.sh builds and runs it with its seeds
 * (tests/fuzz/corpus/security/).
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

static const char SECRET[] = "fuzz-secret-0123456789abcdefghijklmnop";

static int secret_of(void *arg, long kv, const void **secret, size_t *len)
{
    (void)arg;
    if (kv > 5)
        return -1;
    *secret = SECRET;
    *len = sizeof(SECRET) - 1;
    return 0;
}

static int count_cookie(void *arg, const char *name, size_t nlen,
                        const char *value, size_t vlen)
{
    (void)name;
    (void)value;
    (void)nlen;
    (void)vlen;
    (*(size_t *)arg)++;
    return 0;
}

static void fuzz_cookie(const char *in, size_t len)
{
    char *scratch = malloc(len + 1), *out = malloc(len + 1);
    size_t n = 0;

    CHECK(scratch != NULL && out != NULL);
    CHECK(cookie_each(in, len, scratch, len, count_cookie, &n) >= 0);
    (void)cookie_get(in, len, "user", scratch, len, out, len + 1);
    free(scratch);
    free(out);
}

/* name NUL value: what cookie_format writes reads back. */
static void fuzz_cookie_format(const char *in, size_t len)
{
    const char *nul = memchr(in, '\0', len);
    char name[64], out[4 * 512 + 128], scratch[sizeof(out)], got[sizeof(out)];
    struct cookie_attrs a;
    size_t nlen, vlen, outlen;
    long n;

    if (nul == NULL || (nlen = (size_t)(nul - in)) >= sizeof(name))
        return;
    vlen = len - nlen - 1;
    if (vlen > 512 || memchr(nul + 1, '\0', vlen) != NULL)
        return;
    memcpy(name, in, nlen);
    name[nlen] = '\0';
    memset(&a, 0, sizeof(a));
    char *value = malloc(vlen + 1);
    CHECK(value != NULL);
    memcpy(value, nul + 1, vlen);
    value[vlen] = '\0';
    if (cookie_format(name, value, vlen, &a, out, sizeof(out), &outlen, NULL,
                      0) == 0) {
        CHECK(strlen(out) == outlen);
        n = cookie_get(out, outlen, name, scratch, sizeof(scratch), got,
                       sizeof(got));
        CHECK(n == (long)vlen && memcmp(got, value, vlen) == 0);
    }
    free(value);
}

static void fuzz_signed(const char *in, size_t len)
{
    struct signed_opts o = {secret_of, NULL, 31, 300, 1};
    char out[SIGNED_MAX + 1], back[SIGNED_MAX];
    size_t outlen, blen;
    int64_t now = 1700000000;

    /* any input: refused or decoded within bounds */
    if (signed_decode(&o, "user", in, len, now, back, sizeof(back), &blen,
                      NULL, 0) == 0)
        CHECK(blen <= sizeof(back));
    /* the input as a value: signed, it decodes to itself */
    if (signed_create(SECRET, sizeof(SECRET) - 1, 3, "user", in, len, now,
                      out, sizeof(out), &outlen, NULL, 0) == 0) {
        CHECK(strlen(out) == outlen);
        CHECK(signed_decode(&o, "user", out, outlen, now, back, sizeof(back),
                            &blen, NULL, 0) == 0);
        CHECK(blen == len && memcmp(back, in, len) == 0);
        CHECK(signed_decode(&o, "other", out, outlen, now, back, sizeof(back),
                            &blen, NULL, 0) == SIGNED_ENAME);
    }
}

static void fuzz_xsrf(const char *in, size_t len)
{
    static const unsigned char mask[XSRF_MASK_LEN] = {1, 2, 3, 4};
    struct xsrf_token t, u;
    char out[XSRF_V2_MAX];
    long n;

    if (xsrf_decode(in, len, 1700000000, &t, NULL, 0) < 0)
        return;
    CHECK(t.len > 0 && t.len <= XSRF_RAW_MAX);
    CHECK(xsrf_equal(&t, &t));
    n = xsrf_encode_v2(t.raw, t.len, mask, t.timestamp < 0 ? 0 : t.timestamp,
                       out, sizeof(out));
    CHECK(n > 0);
    CHECK(xsrf_decode(out, (size_t)n, 1700000000, &u, NULL, 0) == 0);
    CHECK(xsrf_equal(&t, &u));
    n = xsrf_encode_v1(t.raw, t.len, out, sizeof(out));
    CHECK(n > 0);
    CHECK(xsrf_decode(out, (size_t)n, 1700000000, &u, NULL, 0) == 0);
    CHECK(xsrf_equal(&t, &u));
}

struct span {
    const char *body;
    size_t len;
};

static int inside(void *arg, const struct form_part *p)
{
    const struct span *s = arg;

    CHECK(p->data >= s->body && p->data + p->dlen <= s->body + s->len);
    CHECK(p->nlen > 0 && strlen(p->name) == p->nlen);
    if (p->ctype != NULL)
        CHECK(p->ctype >= s->body && p->ctype + p->clen <= s->body + s->len);
    return 0;
}

/* boundary length byte, boundary, body */
static void fuzz_multipart(const char *in, size_t len)
{
    size_t blen;
    struct span s;

    if (len < 1)
        return;
    blen = (unsigned char)in[0] % 8 + 1;
    if (len < 1 + blen)
        return;
    s.body = in + 1 + blen;
    s.len = len - 1 - blen;
    (void)form_multipart_each(in + 1, blen, s.body, s.len, inside, &s, NULL,
                              0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* a copy of exactly size bytes, so that ASan sees any overread */
    char *in;

    if (size < 1)
        return 0;
    in = malloc(size - 1 ? size - 1 : 1);
    CHECK(in != NULL);
    memcpy(in, data + 1, size - 1);
    switch (data[0] % 5) {
    case 0:
        fuzz_cookie(in, size - 1);
        break;
    case 1:
        fuzz_cookie_format(in, size - 1);
        break;
    case 2:
        fuzz_signed(in, size - 1);
        break;
    case 3:
        fuzz_xsrf(in, size - 1);
        break;
    case 4:
        fuzz_multipart(in, size - 1);
        break;
    }
    free(in);
    return 0;
}
