/*
 * proxy.c - trusted proxies (server.trusted_proxies): which peers are
 * believed when they say who the client is (X-Real-IP, X-Forwarded-For)
 * and how it connected (X-Forwarded-Proto, X-Scheme), as Tornado's
 * xheaders and nginx's real_ip module with real_ip_recursive do.
 *
 * The trust of a peer is decided once, when its connection is accepted
 * (conn.c keeps it as one bit), so a connection stores no address in
 * binary form. The headers are read per request, before routing, and only
 * on a trusted connection; from anyone else they are ignored.
 *
 * Everything but proxy_setup and the worker's set is pure, and every
 * parse is bounded: an address longer than PROXY_ADDR_MAX is not one.
 */
#include "internal.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The set of this worker (NULL: none, trust no one). */
static const struct proxy_set *P;

void proxy_setup(const struct proxy_set *s)
{
    P = s;
}

/* Parses an address of exactly len bytes into a; 0, or -1 when it is not
 * one (inet_pton's forms: dotted quad, RFC 4291 text, no zone, no port,
 * no brackets). */
int proxy_addr_parse(const char *s, size_t len, struct proxy_addr *a)
{
    char buf[PROXY_ADDR_MAX];

    if (len == 0 || len >= sizeof(buf) || memchr(s, '\0', len) != NULL)
        return -1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    memset(a, 0, sizeof(*a));
    if (memchr(buf, ':', len) == NULL) {
        if (inet_pton(AF_INET, buf, a->addr) != 1)
            return -1;
        a->family = AF_INET;
        return 0;
    }
    if (inet_pton(AF_INET6, buf, a->addr) != 1)
        return -1;
    a->family = AF_INET6;
    return 0;
}

int proxy_addr_format(const struct proxy_addr *a, char *out, size_t outlen)
{
    char *p = out;

    if (a->family != AF_INET)
        return inet_ntop(a->family, a->addr, out, (socklen_t)outlen) == NULL
                   ? -1
                   : 0;
    /* glibc's inet_ntop formats IPv4 with sprintf: a thousand instructions
     * per request behind a proxy; this is the same text */
    if (outlen < INET_ADDRSTRLEN)
        return -1;
    for (int i = 0; i < 4; i++) {
        unsigned v = a->addr[i];

        if (v >= 100)
            *p++ = (char)('0' + v / 100);
        if (v >= 10)
            *p++ = (char)('0' + v / 10 % 10);
        *p++ = (char)('0' + v % 10);
        *p++ = i < 3 ? '.' : '\0';
    }
    return 0;
}

/* An IPv4-mapped IPv6 address (::ffff:a.b.c.d, what a dual-stack socket
 * shows for an IPv4 peer) as the IPv4 address it stands for. */
static void unmap(struct proxy_addr *a)
{
    static const uint8_t prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

    if (a->family == AF_INET6 && memcmp(a->addr, prefix, 12) == 0) {
        memmove(a->addr, a->addr + 12, 4);
        memset(a->addr + 4, 0, 12);
        a->family = AF_INET;
    }
}

/* Whether the first bits of a and b are equal. */
static int prefix_eq(const uint8_t *a, const uint8_t *b, unsigned bits)
{
    unsigned whole = bits / 8, rest = bits % 8;

    if (memcmp(a, b, whole) != 0)
        return 0;
    if (rest == 0)
        return 1;
    return ((a[whole] ^ b[whole]) & (0xff00u >> rest) & 0xff) == 0;
}

int proxy_net_parse(const char *text, struct proxy_net *net, char *err,
                    size_t errlen)
{
    size_t len = strlen(text), alen;
    const char *slash = strchr(text, '/');
    struct proxy_addr a;
    unsigned bits, max;

    memset(net, 0, sizeof(*net));
    if (strcmp(text, "unix") == 0) {
        net->family = AF_UNIX;
        return 0;
    }
    alen = slash != NULL ? (size_t)(slash - text) : len;
    if (proxy_addr_parse(text, alen, &a) < 0) {
        errf(err, errlen,
             "bad address '%.*s' (expected an IPv4 or IPv6 address, a CIDR "
             "such as 10.0.0.0/8 or fd00::/8, or 'unix')",
             (int)(alen < 64 ? alen : 64), text);
        return -1;
    }
    max = a.family == AF_INET ? 32 : 128;
    bits = max;
    if (slash != NULL) {
        const char *p = slash + 1;
        size_t n = strspn(p, "0123456789");

        bits = 0;
        if (n == 0 || n > 3 || p[n] != '\0' || (n > 1 && p[0] == '0')) {
            errf(err, errlen, "bad prefix length '%.8s' in '%.64s'", p, text);
            return -1;
        }
        for (size_t i = 0; i < n; i++)
            bits = bits * 10 + (unsigned)(p[i] - '0');
        if (bits > max) {
            errf(err, errlen, "prefix length /%u is out of range in '%.64s' "
                 "(0 to %u for an %s address)",
                 bits, text, max, max == 32 ? "IPv4" : "IPv6");
            return -1;
        }
    }
    net->family = (uint8_t)a.family;
    net->bits = (uint8_t)bits;
    memcpy(net->addr, a.addr, sizeof(net->addr));
    /* bits set past the prefix are refused: 192.168.1.10/24 is more
     * likely a mistake for /32 than a way to write 192.168.1.0/24 */
    for (unsigned i = bits; i < max; i++)
        if (net->addr[i / 8] & (0x80u >> (i % 8))) {
            char net_text[PROXY_ADDR_MAX];
            struct proxy_addr masked = a;

            for (unsigned j = bits; j < max; j++)
                masked.addr[j / 8] &= (uint8_t) ~(0x80u >> (j % 8));
            if (proxy_addr_format(&masked, net_text, sizeof(net_text)) < 0)
                net_text[0] = '\0';
            errf(err, errlen,
                 "'%.64s' has bits set after its /%u prefix (the network "
                 "is %s/%u; a single address needs no prefix)",
                 text, bits, net_text, bits);
            return -1;
        }
    return 0;
}

int proxy_set_add(struct proxy_set *s, const char *text, char *err,
                  size_t errlen)
{
    struct proxy_net net, *nets;

    if (proxy_net_parse(text, &net, err, errlen) < 0)
        return -1;
    if (net.family == AF_UNIX) {
        s->unix_trusted = 1;
        return 0;
    }
    nets = realloc(s->nets, (s->n + 1) * sizeof(*nets));
    if (nets == NULL) {
        errf(err, errlen, "out of memory");
        return -1;
    }
    s->nets = nets;
    s->nets[s->n++] = net;
    return 0;
}

void proxy_set_free(struct proxy_set *s)
{
    free(s->nets);
    memset(s, 0, sizeof(*s));
}

int proxy_trusted_addr(const struct proxy_set *s, const struct proxy_addr *addr)
{
    struct proxy_addr a = *addr;

    if (s == NULL)
        return 0;
    unmap(&a);
    for (size_t i = 0; i < s->n; i++)
        if (s->nets[i].family == a.family &&
            prefix_eq(s->nets[i].addr, a.addr, s->nets[i].bits))
            return 1;
    return 0;
}

int proxy_trusted_sockaddr(const struct proxy_set *s, const struct sockaddr *sa,
                           int is_unix)
{
    struct proxy_addr a;

    if (s == NULL)
        return 0;
    if (is_unix || sa == NULL || sa->sa_family == AF_UNIX)
        return is_unix && s->unix_trusted;
    memset(&a, 0, sizeof(a));
    if (sa->sa_family == AF_INET) {
        a.family = AF_INET;
        memcpy(a.addr, &((const struct sockaddr_in *)sa)->sin_addr, 4);
    } else if (sa->sa_family == AF_INET6) {
        a.family = AF_INET6;
        memcpy(a.addr, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
    } else {
        return 0;
    }
    return proxy_trusted_addr(s, &a);
}

int proxy_peer_trusted(const struct sockaddr *sa, int is_unix)
{
    return P != NULL && proxy_trusted_sockaddr(P, sa, is_unix);
}

/* --- the headers --------------------------------------------------------- */

static int is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* The forwarding headers of a request, found in one pass (it runs for
 * every request from a proxy): the last of each, and how many X-Real-IP.
 * Names are compared by length first, then with glibc's strncasecmp,
 * several times faster than a byte loop (a name has no NUL). */
struct fwd {
    const struct header *real, *scheme, *proto;
    size_t nreal;
    int xff;
};

static void scan(const struct header *h, size_t n, struct fwd *f)
{
    memset(f, 0, sizeof(*f));
    for (size_t i = 0; i < n; i++) {
        const char *name = h[i].name;

        switch (h[i].name_len) {
        case 8:
            if (strncasecmp(name, "X-Scheme", 8) == 0)
                f->scheme = &h[i];
            break;
        case 9:
            if (strncasecmp(name, "X-Real-IP", 9) == 0) {
                f->real = &h[i];
                f->nreal++;
            }
            break;
        case 15:
            if (strncasecmp(name, "X-Forwarded-For", 15) == 0)
                f->xff = 1;
            break;
        case 17:
            if (strncasecmp(name, "X-Forwarded-Proto", 17) == 0)
                f->proto = &h[i];
            break;
        }
    }
}

/* The walk over X-Forwarded-For: from the right, over every element of
 * every such header (the last header first), empty elements skipped. */
static int xff_walk(const struct proxy_set *s, const struct header *h,
                    size_t n, struct proxy_addr *out)
{
    int found = 0;

    for (size_t i = n; i-- > 0;) {
        const char *v = h[i].value;
        size_t end = h[i].value_len;

        if (!name_eq(h[i].name, h[i].name_len, "X-Forwarded-For", 15))
            continue;
        while (end > 0) {
            size_t start = end, e;
            struct proxy_addr a;

            while (start > 0 && v[start - 1] != ',')
                start--;
            e = end;
            end = start > 0 ? start - 1 : 0;
            while (start < e && is_ows(v[start]))
                start++;
            while (e > start && is_ows(v[e - 1]))
                e--;
            if (e == start)
                continue; /* "a,,b", ", a": empty elements do not count */
            if (proxy_addr_parse(v + start, e - start, &a) < 0)
                return found; /* garbage: the last good one stands */
            *out = a;
            found = 1;
            if (!proxy_trusted_addr(s, &a))
                return 1;
        }
    }
    return found;
}

static int client_addr(const struct proxy_set *s, const struct header *h,
                       size_t n, const struct fwd *f, struct proxy_addr *out)
{
    /* X-Real-IP first, as Tornado reads it: one header, a valid address;
     * several are joined by Tornado into a value that is not one */
    if (f->real != NULL && f->nreal == 1) {
        const char *v = f->real->value;
        size_t start = 0, e = f->real->value_len;

        while (start < e && is_ows(v[start]))
            start++;
        while (e > start && is_ows(v[e - 1]))
            e--;
        if (proxy_addr_parse(v + start, e - start, out) == 0)
            return 1;
    }
    return f->xff ? xff_walk(s, h, n, out) : 0;
}

int proxy_client_addr(const struct proxy_set *s, const struct header *h,
                      size_t n, struct proxy_addr *out)
{
    struct fwd f;

    scan(h, n, &f);
    return client_addr(s, h, n, &f, out);
}

static int scheme_of(const struct fwd *f)
{
    /* as Tornado: X-Scheme before X-Forwarded-Proto, the last element */
    const struct header *x = f->scheme != NULL ? f->scheme : f->proto;
    size_t start, e;
    const char *v;

    if (x == NULL)
        return -1;
    v = x->value;
    e = x->value_len;
    start = e;
    while (start > 0 && v[start - 1] != ',')
        start--;
    while (start < e && is_ows(v[start]))
        start++;
    while (e > start && is_ows(v[e - 1]))
        e--;
    if (e - start == 5 && strncasecmp(v + start, "https", 5) == 0)
        return 1;
    if (e - start == 4 && strncasecmp(v + start, "http", 4) == 0)
        return 0;
    return -1;
}

int proxy_scheme(const struct header *h, size_t n)
{
    struct fwd f;

    scan(h, n, &f);
    return scheme_of(&f);
}

void proxy_apply(sq_req *r)
{
    char text[PROXY_ADDR_MAX];
    struct proxy_addr a;
    struct fwd f;
    int https;

    scan(r->headers, r->nheaders, &f);
    if (client_addr(P, r->headers, r->nheaders, &f, &a) == 1 &&
        proxy_addr_format(&a, text, sizeof(text)) == 0)
        memcpy(r->remote, text, strlen(text) + 1);
    if ((https = scheme_of(&f)) >= 0)
        r->https = (unsigned)https;
}
