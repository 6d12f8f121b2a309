/*
 * wshandshake.c - the server side of the WebSocket opening handshake
 * (RFC 6455 4.2): which requests are a handshake, the accept key, the
 * subprotocol, and the origin check. Pure functions of the request, so
 * the protocol handler that performs the upgrade stays small and these
 * rules are tested on their own.
 */
#include "internal.h"

#include <openssl/evp.h>
#include <string.h>
#include <strings.h>

/* RFC 6455 1.3: the GUID appended to the key before hashing */
#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

/* Calls fn(token, len, arg) for each comma-separated token of every
 * header `name` (RFC 9110 5.6.1: a list, OWS around the commas, empty
 * elements ignored); stops when fn returns nonzero and returns that. */
static int each_token(const sq_req *r, const char *name,
                      int (*fn)(const char *t, size_t n, void *arg), void *arg)
{
    size_t nlen = strlen(name);

    for (size_t i = 0; i < r->nheaders; i++) {
        const char *v = r->headers[i].value;

        if (!name_eq(r->headers[i].name, r->headers[i].name_len, name, nlen))
            continue;
        while (*v != '\0') {
            size_t n = strcspn(v, ",");
            const char *t = v, *e = v + n;
            int rc;

            while (t < e && (*t == ' ' || *t == '\t'))
                t++;
            while (e > t && (e[-1] == ' ' || e[-1] == '\t'))
                e--;
            if (e > t && (rc = fn(t, (size_t)(e - t), arg)) != 0)
                return rc;
            v += n + (v[n] == ',');
        }
    }
    return 0;
}

static int token_is(const char *t, size_t n, void *want)
{
    return name_eq(t, n, want, strlen(want));
}

int ws_header_has_token(const sq_req *r, const char *name, const char *token)
{
    return each_token(r, name, token_is, (void *)token);
}

static int is_b64(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           (c >= '0' && c <= '9') || c == '+' || c == '/';
}

/* RFC 6455 4.1: the key is 16 random bytes, base64: 22 characters and
 * "==" (a value of another length cannot decode to 16 bytes). */
int ws_key_valid(const char *key)
{
    if (key == NULL || strlen(key) != 24 || strcmp(key + 22, "==") != 0)
        return 0;
    for (int i = 0; i < 22; i++)
        if (!is_b64((unsigned char)key[i]))
            return 0;
    return 1;
}

int ws_accept_key(const char *key, char out[WS_ACCEPT_LEN + 1])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    char buf[24 + sizeof(WS_GUID)];

    if (!ws_key_valid(key))
        return -1;
    memcpy(buf, key, 24);
    memcpy(buf + 24, WS_GUID, sizeof(WS_GUID) - 1);
    if (EVP_Digest(buf, 24 + sizeof(WS_GUID) - 1, md, &mdlen, EVP_sha1(),
                   NULL) != 1 ||
        mdlen != 20)
        return -1;
    /* 20 bytes are 28 base64 characters, and a NUL */
    return EVP_EncodeBlock((unsigned char *)out, md, 20) == WS_ACCEPT_LEN
               ? 0
               : -1;
}

int ws_check_request(const sq_req *r, const char **why)
{
    const char *v;

    /* RFC 6455 4.1: GET, HTTP/1.1 or later */
    if (r->method != METHOD_GET || r->version < 11) {
        *why = "a WebSocket handshake is a GET over HTTP/1.1";
        return 400;
    }
    if (!ws_header_has_token(r, "Upgrade", "websocket") ||
        !ws_header_has_token(r, "Connection", "upgrade")) {
        *why = "no Upgrade: websocket and Connection: upgrade";
        return 400;
    }
    /* RFC 6455 4.4: another version gets 426 and the one we speak */
    v = sq_header(r, "Sec-WebSocket-Version");
    if (v == NULL || strcmp(v, "13") != 0) {
        *why = "Sec-WebSocket-Version is not 13";
        return 426;
    }
    if (!ws_key_valid(sq_header(r, "Sec-WebSocket-Key"))) {
        *why = "Sec-WebSocket-Key is not 16 bytes in base64";
        return 400;
    }
    return 0;
}

struct pick {
    const char *const *supported;
    size_t n;
    const char *chosen;
};

static int pick_one(const char *t, size_t n, void *arg)
{
    struct pick *p = arg;

    /* RFC 6455 4.2.2: subprotocol names are compared exactly */
    for (size_t i = 0; i < p->n; i++)
        if (strlen(p->supported[i]) == n && memcmp(p->supported[i], t, n) == 0) {
            p->chosen = p->supported[i];
            return 1;
        }
    return 0;
}

const char *ws_select_protocol(const sq_req *r, const char *const *supported,
                               size_t n)
{
    struct pick p = {supported, n, NULL};

    /* the client's order is its preference (RFC 6455 4.1, item 10) */
    each_token(r, "Sec-WebSocket-Protocol", pick_one, &p);
    return p.chosen;
}

/* The host[:port] part of an origin "scheme://host[:port]", or NULL. */
static const char *origin_authority(const char *origin, size_t *len)
{
    const char *a = strstr(origin, "://");

    if (a == NULL)
        return NULL;
    a += 3;
    *len = strcspn(a, "/?#");
    return *len > 0 ? a : NULL;
}

int ws_origin_allowed(const sq_req *r, const char *const *allowed, size_t n)
{
    const char *origin = sq_header(r, "Origin"), *auth;
    size_t alen;

    /* not a browser: nothing to protect against (as Tornado) */
    if (origin == NULL)
        return 1;
    for (size_t i = 0; i < n; i++)
        if (strcmp(allowed[i], "*") == 0 || strcasecmp(allowed[i], origin) == 0)
            return 1;
    if (n > 0)
        return 0;
    /* by default, the same host as the request's (Tornado's
     * check_origin): a page elsewhere cannot open it with the cookies.
     * Tornado compares the host only; squall also refuses a plain http
     * page opening a request that came over https (sq_scheme, from TLS
     * or a trusted proxy): a page anyone on the path can rewrite must not
     * reach the secure side with its cookies. An https page on a request
     * seen as http is still let in, as Tornado does: behind a TLS proxy
     * that is not trusted, that is every page. */
    if (r->https && strncasecmp(origin, "http://", 7) == 0)
        return 0;
    auth = origin_authority(origin, &alen);
    return auth != NULL && r->host != NULL && strlen(r->host) == alen &&
           strncasecmp(auth, r->host, alen) == 0;
}
