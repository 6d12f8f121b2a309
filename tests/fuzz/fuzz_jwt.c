/*
 * fuzz_jwt.c - libFuzzer target for what squall parses of a bearer token
 * itself before libjwt sees it (src/jose.c): splitting the compact form,
 * base64url, the JOSE header's "alg", and the require: templates. Any
 * bytes must be refused or taken, never crash, overread or loop.
 *
 * The first input byte chooses what the rest is: a token (split, decode
 * every part, check the header against HS256), or a template (checked
 * against the names {user} and {room}, then filled). What is promised is
 * checked: a split token's parts lie inside the input, are non-empty,
 * and put back together with '.' are the input; a part decodes to
 * exactly len / 4 * 3 + (len % 4 ? len % 4 - 1 : 0) bytes; a header that
 * passes names "HS256"; a template that checks fills.
 *
 * tests/fuzz/run.sh builds and runs it with its seeds
 * (tests/fuzz/corpus/jwt/).
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

static void token(const char *in, size_t size)
{
    static unsigned char out[JWT_TOKEN_MAX];
    struct jose_token tok;
    char err[256];
    size_t total = 0;

    if (jose_split(in, size, &tok, err, sizeof(err)) < 0) {
        CHECK(err[0] != '\0');
        return;
    }
    for (int i = 0; i < 3; i++) {
        size_t len = tok.len[i];
        long n;

        CHECK(len > 0 && tok.part[i] >= in && tok.part[i] + len <= in + size);
        CHECK(i == 2 || tok.part[i][len] == '.');
        total += len + (i < 2);
        n = jose_b64url_decode(tok.part[i], len, out, sizeof(out));
        CHECK(n < 0 || (size_t)n == len / 4 * 3 + (len % 4 ? len % 4 - 1 : 0));
        if (len % 4 == 1)
            CHECK(n < 0);
    }
    CHECK(tok.part[0] == in && total == size);
    if (jose_header_check(tok.part[0], tok.len[0], "HS256", err, sizeof(err)) ==
        0) {
        long n = jose_b64url_decode(tok.part[0], tok.len[0], out, sizeof(out));
        CHECK(n > 0 && memmem(out, (size_t)n, "HS256", 5) != NULL);
    }
}

static void template(const char *in)
{
    static const char *const names[] = {"user", "room"};
    static const struct route_param params[] = {{"user", "alice"},
                                                {"room", "r1"}};
    char out[64], err[256];

    if (template_check(in, "", names, 2, err, sizeof(err)) < 0)
        return;
    /* a checked template fills, unless it does not fit */
    if (template_fill(in, params, 2, out, sizeof(out)) >= 0)
        CHECK(strlen(out) < sizeof(out));
    else
        CHECK(strlen(in) >= sizeof(out) - 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *in;

    if (size < 1 || size - 1 > JWT_TOKEN_MAX)
        return 0;
    /* a copy of exactly the input (NUL-terminated for the template), so
     * that an overread is seen */
    in = malloc(size);
    CHECK(in != NULL);
    memcpy(in, data + 1, size - 1);
    in[size - 1] = '\0';
    if (data[0] & 1)
        template(in);
    else
        token(in, size - 1);
    free(in);
    return 0;
}
