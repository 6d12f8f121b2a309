/*
 * jwtauth.c - `auth: jwt`: bearer tokens (RFC 6750) checked with libjwt
 * before a route's target, and the claims they carry for handlers.
 *
 * The token comes from "Authorization: Bearer <token>", or, on GET
 * requests of websocket and subscribe routes only (a browser's WebSocket
 * and EventSource cannot set headers), from the `token` query argument.
 * First jose.c checks its form and that the JOSE header's "alg" is
 * exactly security.jwt.algorithm: libjwt 1.10 takes the algorithm from
 * the token, so without this an "alg": "none" token or an HS256 token
 * whose HMAC secret is the RSA public key could pass. Then the signature:
 * HS256 by libjwt; RS256 and ES256 by OpenSSL's EVP_DigestVerify with the
 * public key parsed once at startup, because libjwt 1.10 takes the key as
 * PEM text and OpenSSL 3 parses it again for every token (about 1 ms of
 * CPU, 86% of the check, where the verification itself is a few dozen
 * microseconds; see README "Benchmarks"). exp, nbf (with
 * security.jwt.leeway), iss and aud are checked here (libjwt 1.10 has no
 * validation API).
 *
 * Every refusal is a 401 with WWW-Authenticate and a body that says
 * nothing more; the reason goes to the error log (info) for the operator.
 * A valid token whose claims do not match the route's `require:` is a
 * 403 (error="insufficient_scope").
 */
#include "internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>
#include <jwt.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#define REALM "Bearer realm=\"squall\""
#define WHY_MAX 256
#define RSA_BITS_MIN 2048

static const struct jwt_conf *J;

static const char *alg_name(int alg)
{
    return alg == JWTC_HS256 ? "HS256" : alg == JWTC_RS256 ? "RS256" : "ES256";
}

static jwt_alg_t alg_lib(int alg)
{
    return alg == JWTC_HS256   ? JWT_ALG_HS256
           : alg == JWTC_RS256 ? JWT_ALG_RS256
                               : JWT_ALG_ES256;
}

/* --- the key, in the master --------------------------------------------- */

static int key_fail(const struct jwt_conf *jc, char *err, size_t errlen,
                    const char *what)
{
    snprintf(err, errlen, "%s:%d:%d: key file %s %s", jc->key_mark.file,
             jc->key_mark.line, jc->key_mark.col, jc->key_file, what);
    return -1;
}

/* The secret of HS256, with the checks of cookie secrets; a PEM key there
 * is a mistake (and would make the public key an HMAC secret). */
static int load_secret(struct jwt_conf *jc, char *err, size_t errlen)
{
    struct secret_conf s = {SIGNED_KV_NONE, jc->key_file, jc->key_mark, NULL,
                            0};

    if (security_read_secret(&s, err, errlen) < 0) {
        free(s.key);
        return -1;
    }
    jc->key = s.key;
    jc->key_len = s.len;
    if (jc->key_len >= 10 && memcmp(jc->key, "-----BEGIN", 10) == 0)
        return key_fail(jc, err, errlen,
                        "is a PEM key, but HS256 needs a shared secret "
                        "(RS256 and ES256 take a public key)");
    return 0;
}

/* Whether pkey is what alg verifies with: an RSA key of 2048 bits or more
 * for RS256, an EC key on P-256 for ES256. */
static const char *key_mismatch(int alg, EVP_PKEY *pkey)
{
    char group[64];
    size_t glen;

    if (alg == JWTC_RS256) {
        if (!EVP_PKEY_is_a(pkey, "RSA"))
            return "is not an RSA public key, which RS256 needs";
        if (EVP_PKEY_get_bits(pkey) < RSA_BITS_MIN)
            return "is an RSA key of fewer than 2048 bits";
        return NULL;
    }
    if (!EVP_PKEY_is_a(pkey, "EC") ||
        EVP_PKEY_get_group_name(pkey, group, sizeof(group), &glen) != 1 ||
        (strcmp(group, "prime256v1") != 0 && strcmp(group, "P-256") != 0))
        return "is not an EC P-256 public key, which ES256 needs";
    return NULL;
}

/* The PEM public key of RS256 or ES256: parsed and checked here, once,
 * and kept parsed for every token (see verify_pkey). */
static int load_public(struct jwt_conf *jc, char *err, size_t errlen)
{
    char what[160];
    EVP_PKEY *pkey;
    const char *why;
    BIO *in;

    if ((in = BIO_new_file(jc->key_file, "r")) == NULL) {
        snprintf(what, sizeof(what), "cannot be opened: %s", strerror(errno));
        return key_fail(jc, err, errlen, what);
    }
    pkey = PEM_read_bio_PUBKEY(in, NULL, NULL, NULL);
    BIO_free(in);
    if (pkey == NULL) {
        snprintf(what, sizeof(what),
                 "is not a PEM public key (-----BEGIN PUBLIC KEY-----), "
                 "which %s needs",
                 alg_name(jc->alg));
        return key_fail(jc, err, errlen, what);
    }
    if ((why = key_mismatch(jc->alg, pkey)) != NULL) {
        EVP_PKEY_free(pkey);
        return key_fail(jc, err, errlen, why);
    }
    jc->pkey = pkey;
    return 0;
}

int jwt_load(struct jwt_conf *jc, char *err, size_t errlen)
{
    if (jc == NULL)
        return 0;
    return jc->alg == JWTC_HS256 ? load_secret(jc, err, errlen)
                                 : load_public(jc, err, errlen);
}

void jwt_setup(const struct jwt_conf *jc)
{
    J = jc;
}

/* --- claims ------------------------------------------------------------- */

const char *jwt_claims_get(const struct jwt_claims *c, const char *name)
{
    if (c == NULL || name == NULL)
        return NULL;
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->names[i], name) == 0)
            return c->values[i];
    return NULL;
}

struct jwt_claims *jwt_claims_copy(const struct jwt_claims *c)
{
    struct jwt_claims *d;
    size_t size = sizeof(*d) + 2 * c->n * sizeof(char *), i;
    char *p;

#define ROOM(s) ((s) != NULL ? strlen(s) + 1 : 0)
    size += ROOM(c->json) + ROOM(c->sub);
    for (i = 0; i < c->n; i++)
        size += ROOM(c->names[i]) + ROOM(c->values[i]);
    if ((d = malloc(size)) == NULL)
        return NULL;
    d->n = c->n;
    d->names = (const char **)(d + 1);
    d->values = d->names + c->n;
    p = (char *)(d->values + c->n);
#define COPY(dst, s)                                                           \
    do {                                                                       \
        if ((s) == NULL) {                                                     \
            (dst) = NULL;                                                      \
        } else {                                                               \
            size_t l_ = strlen(s) + 1;                                         \
            memcpy(p, (s), l_);                                                \
            (dst) = p;                                                         \
            p += l_;                                                           \
        }                                                                      \
    } while (0)
    COPY(d->json, c->json);
    COPY(d->sub, c->sub);
    for (i = 0; i < c->n; i++) {
        COPY(d->names[i], c->names[i]);
        COPY(d->values[i], c->values[i]);
    }
#undef COPY
#undef ROOM
    return d;
}

const char *sq_jwt_claim(sq_req *r, const char *name)
{
    return jwt_claims_get(r->jwt, name);
}

const char *sq_jwt_claims(sq_req *r)
{
    return r->jwt != NULL ? r->jwt->json : NULL;
}

/* The claims object as names and values in pool p; json, its text, is
 * already in p. */
static struct jwt_claims *claims_of(sq_pool *p, json_t *obj, const char *json)
{
    struct jwt_claims *c = sq_pcalloc(p, sizeof(*c));
    size_t n = json_object_size(obj), i = 0;
    const char *key;
    json_t *v;
    void *it;

    if (c == NULL || (c->json = json) == NULL ||
        (c->names = sq_palloc(p, (n ? n : 1) * sizeof(char *))) == NULL ||
        (c->values = sq_palloc(p, (n ? n : 1) * sizeof(char *))) == NULL)
        return NULL;
    for (it = json_object_iter(obj); it != NULL && i < n;
         it = json_object_iter_next(obj, it)) {
        key = json_object_iter_key(it);
        v = json_object_iter_value(it);
        if (strlen(key) != json_object_iter_key_len(it))
            continue; /* a name with a NUL byte cannot be asked for */
        if ((c->names[i] = sq_pstrdup(p, key)) == NULL)
            return NULL;
        if (json_is_string(v)) {
            c->values[i] = strlen(json_string_value(v)) == json_string_length(v)
                               ? sq_pstrdup(p, json_string_value(v))
                               : NULL;
            if (c->values[i] != NULL && strcmp(key, "sub") == 0 &&
                *c->values[i] != '\0')
                c->sub = c->values[i];
        } else {
            char *t = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
            if (t == NULL)
                return NULL;
            c->values[i] = sq_pstrdup(p, t);
            free(t);
            if (c->values[i] == NULL)
                return NULL;
        }
        i++;
    }
    c->n = i;
    return c;
}

/* --- the token ------------------------------------------------------------ */

enum { TOKEN_MISSING, TOKEN_FOUND, TOKEN_BAD };

/* Browsers' WebSocket and EventSource cannot send a header: their
 * routes take the token from the query too, on GET. */
static int query_allowed(const struct route *rt, const sq_req *r)
{
    return r->method == METHOD_GET &&
           (rt->kind == ROUTE_WEBSOCKET || rt->kind == ROUTE_SUBSCRIBE);
}

static int find_token(const struct route *rt, sq_req *r, const char **tok,
                      size_t *len, const char **why)
{
    const char *v = NULL, *q, *name, *value;
    size_t i, nauth = 0;

    for (i = 0; i < sq_header_count(r); i++)
        if (sq_header_at(r, i, &name, &value) == 0 &&
            strcasecmp(name, "Authorization") == 0 && nauth++ == 0)
            v = value;
    q = sq_query_arg(r, "token");
    if (nauth > 1) {
        *why = "several Authorization headers";
        return TOKEN_BAD;
    }
    if (v != NULL) {
        /* RFC 6750 2.1: "Bearer" (case-insensitive, RFC 9110 11.1) SP */
        if (strncasecmp(v, "Bearer ", 7) != 0) {
            *why = "the Authorization header is not Bearer";
            return TOKEN_MISSING;
        }
        for (v += 7; *v == ' '; v++)
            ;
        *len = strlen(v);
        while (*len > 0 && v[*len - 1] == ' ')
            (*len)--;
        if (q != NULL && query_allowed(rt, r)) {
            *why = "a token both in the Authorization header and the query";
            return TOKEN_BAD;
        }
        *tok = v;
    } else if (q != NULL && query_allowed(rt, r)) {
        if (sq_query_arg_n(r, "token", 1) != NULL) {
            *why = "several token query arguments";
            return TOKEN_BAD;
        }
        *tok = q;
        *len = strlen(q);
    } else {
        *why = q != NULL ? "no Authorization header (the token query "
                           "argument is taken on GET requests of websocket "
                           "and subscribe routes only)"
                         : "no Authorization header";
        return TOKEN_MISSING;
    }
    if (*len == 0) {
        *why = "an empty bearer token";
        return TOKEN_BAD;
    }
    if (*len > JWT_TOKEN_MAX) {
        *why = "a bearer token longer than 8 KiB";
        return TOKEN_BAD;
    }
    return TOKEN_FOUND;
}

/* libjwt's and jansson's objects of one check, freed with the pool */
struct hold {
    jwt_t *jwt;
    json_t *claims;
};

static void hold_free(void *arg)
{
    struct hold *h = arg;

    if (h->jwt != NULL)
        jwt_free(h->jwt);
    json_decref(h->claims);
}

static double now_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int string_is(const json_t *v, const char *s)
{
    return json_is_string(v) && json_string_length(v) == strlen(s) &&
           memcmp(json_string_value(v), s, strlen(s)) == 0;
}

static int bad(char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes why and returns -1. */
static int bad(char *why, size_t whylen, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, whylen, fmt, ap);
    va_end(ap);
    return -1;
}

/* exp, nbf, iss, aud (RFC 7519 4.1) */
static int check_claims(const json_t *c, char *why, size_t whylen)
{
    double now = now_seconds(), leeway = J->leeway_ms / 1000.0;
    const json_t *exp = json_object_get(c, "exp");
    const json_t *nbf = json_object_get(c, "nbf");
    const json_t *aud = json_object_get(c, "aud");
    size_t i;

    if (exp != NULL && !json_is_number(exp))
        return bad(why, whylen, "\"exp\" is not a number");
    if (exp != NULL && now >= json_number_value(exp) + leeway)
        return bad(why, whylen, "expired %.0f s ago",
                   now - json_number_value(exp));
    if (nbf != NULL && !json_is_number(nbf))
        return bad(why, whylen, "\"nbf\" is not a number");
    if (nbf != NULL && now + leeway < json_number_value(nbf))
        return bad(why, whylen, "not valid for another %.0f s",
                   json_number_value(nbf) - now);
    if (J->issuer != NULL && !string_is(json_object_get(c, "iss"), J->issuer))
        return bad(why, whylen, "\"iss\" is not security.jwt.issuer");
    if (aud != NULL && J->audience == NULL)
        return bad(why, whylen,
                   "it has an \"aud\" and security.jwt.audience is not "
                   "set (RFC 7519 4.1.3)");
    if (J->audience != NULL) {
        int ok = string_is(aud, J->audience);
        for (i = 0; !ok && json_is_array(aud) && i < json_array_size(aud); i++)
            ok = string_is(json_array_get(aud, i), J->audience);
        if (!ok)
            return bad(why, whylen,
                       "its \"aud\" does not name security.jwt.audience");
    }
    return 0;
}

/* JWS signatures of RS256 (RSASSA-PKCS1-v1_5) and ES256 (ECDSA P-256,
 * the signature as the 32-byte r and s, RFC 7518 3.4, which OpenSSL wants
 * as DER) over tok's header.payload, with J->pkey. 0 when it verifies. */
static int verify_pkey(const struct jose_token *tok, sq_pool *pool)
{
    size_t cap = tok->len[2] / 4 * 3 + 2, siglen, inlen;
    unsigned char *sig = sq_palloc(pool, cap), *der = NULL;
    const unsigned char *in = (const unsigned char *)tok->part[0];
    EVP_MD_CTX *md = NULL;
    ECDSA_SIG *es = NULL;
    BIGNUM *br = NULL, *bs = NULL;
    long n;
    int derlen = 0, rc = -1;

    if (sig == NULL ||
        (n = jose_b64url_decode(tok->part[2], tok->len[2], sig, cap)) < 0)
        return -1;
    siglen = (size_t)n;
    /* the signing input: "<header>.<payload>", as the token holds it */
    inlen = (size_t)(tok->part[1] + tok->len[1] - tok->part[0]);
    if (J->alg == JWTC_ES256) {
        if (siglen != 64 || (es = ECDSA_SIG_new()) == NULL ||
            (br = BN_bin2bn(sig, 32, NULL)) == NULL ||
            (bs = BN_bin2bn(sig + 32, 32, NULL)) == NULL ||
            ECDSA_SIG_set0(es, br, bs) != 1)
            goto out;
        br = bs = NULL; /* es owns them */
        if ((derlen = i2d_ECDSA_SIG(es, &der)) <= 0)
            goto out;
    }
    if ((md = EVP_MD_CTX_new()) != NULL &&
        EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, J->pkey) == 1 &&
        EVP_DigestVerify(md, der != NULL ? der : sig,
                         der != NULL ? (size_t)derlen : siglen, in,
                         inlen) == 1)
        rc = 0;
out:
    EVP_MD_CTX_free(md);
    OPENSSL_free(der);
    ECDSA_SIG_free(es);
    BN_free(br);
    BN_free(bs);
    return rc;
}

/* Checks the token t[0, len): 0 with r->jwt set, or -1 with why. */
static int verify(sq_req *r, const char *t, size_t len, char *why,
                  size_t whylen)
{
    struct jose_token tok;
    struct hold *h;
    json_error_t jerr;
    char *copy, *payload;
    long n;
    int rc;

    if (jose_split(t, len, &tok, why, whylen) < 0 ||
        jose_header_check(tok.part[0], tok.len[0], alg_name(J->alg), why,
                          whylen) < 0)
        return -1;
    if ((h = sq_pcalloc(r->pool, sizeof(*h))) == NULL ||
        sq_pool_cleanup(r->pool, hold_free, h) < 0)
        return bad(why, whylen, "out of memory");
    if (J->alg != JWTC_HS256) {
        if (verify_pkey(&tok, r->pool) < 0)
            return bad(why, whylen, "the %s signature does not verify",
                       alg_name(J->alg));
    } else {
        if ((copy = sq_pstrndup(r->pool, t, len)) == NULL)
            return bad(why, whylen, "out of memory");
        rc = jwt_decode(&h->jwt, copy, J->key, (int)J->key_len);
        if (rc != 0) {
            h->jwt = NULL;
            return bad(why, whylen,
                       "the signature does not verify, or the token does "
                       "not decode (libjwt: %s)",
                       strerror(rc));
        }
        if (jwt_get_alg(h->jwt) != alg_lib(J->alg))
            return bad(why, whylen, "libjwt decoded it as %s",
                       jwt_alg_str(jwt_get_alg(h->jwt)));
    }
    /* the payload libjwt verified, read once more here rather than
     * dumped by libjwt and parsed again; a claim given twice is refused
     * (which one would another reader take?) */
    if ((payload = sq_palloc(r->pool, tok.len[1] / 4 * 3 + 3)) == NULL)
        return bad(why, whylen, "out of memory");
    n = jose_b64url_decode(tok.part[1], tok.len[1], (unsigned char *)payload,
                           tok.len[1] / 4 * 3 + 2);
    if (n < 0 ||
        (h->claims = json_loadb(payload, (size_t)n, JSON_REJECT_DUPLICATES,
                                &jerr)) == NULL ||
        !json_is_object(h->claims))
        return bad(why, whylen,
                   "the claims are not a JSON object without duplicates");
    payload[n] = '\0';
    if (check_claims(h->claims, why, whylen) < 0)
        return -1;
    if ((r->jwt = claims_of(r->pool, h->claims, payload)) == NULL)
        return bad(why, whylen, "out of memory");
    return 0;
}

/* require: every claim named equals its template filled with the path's
 * parameters (string claims as they are, others as JSON text). */
static int bound(const struct route *rt, sq_req *r, char *why, size_t whylen)
{
    const struct route_conf *rc = rt->conf;
    const char *have;
    char want[1024];

    for (size_t i = 0; i < rc->nrequire; i++) {
        const struct jwt_require *q = &rc->require[i];
        if (template_fill(q->tmpl, r->match.params, r->match.nparams, want,
                              sizeof(want)) < 0)
            return bad(why, whylen, "require.%s: no value from '%s'", q->claim,
                       q->tmpl);
        if ((have = jwt_claims_get(r->jwt, q->claim)) == NULL)
            return bad(why, whylen, "no claim \"%s\" (require)", q->claim);
        if (strcmp(have, want) != 0)
            return bad(why, whylen,
                       "claim \"%s\" is not what require.%s asks for", q->claim,
                       q->claim);
    }
    return 0;
}

static int refuse(sq_req *r, int status, const char *challenge, const char *why)
{
    log_info("%s: %s %s: %d, bearer token refused: %s", r->remote, r->method_s,
             r->path, status, why);
    sq_send_error(r, status); /* the page says no more than its status */
    sq_set_header(r, "WWW-Authenticate", challenge);
    sq_set_header(r, "Cache-Control", "no-store");
    return ROUTE_ANSWERED;
}

int jwt_route(const struct route *rt, sq_req *r)
{
    char why[WHY_MAX];
    const char *tok = NULL, *reason = NULL;
    size_t len = 0;

    if (J == NULL)
        fatal("route %s: auth: jwt without security.jwt", rt->conf->path);
    switch (find_token(rt, r, &tok, &len, &reason)) {
    case TOKEN_MISSING:
        return refuse(r, 401, REALM, reason);
    case TOKEN_BAD:
        return refuse(r, 401, REALM ", error=\"invalid_token\"", reason);
    default:
        break;
    }
    if (verify(r, tok, len, why, sizeof(why)) < 0) {
        r->jwt = NULL;
        return refuse(r, 401, REALM ", error=\"invalid_token\"", why);
    }
    r->user = r->jwt->sub;
    r->user_known = 1;
    if (bound(rt, r, why, sizeof(why)) < 0)
        return refuse(r, 403, REALM ", error=\"insufficient_scope\"", why);
    return 0;
}
