/*
 * wsdeflate.c - permessage-deflate (RFC 7692): which parameters a client
 * gets, and the compression of whole messages with zlib. No I/O and no
 * frames: websocket.c hands in header values and message payloads.
 */
#include "internal.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* negotiation --------------------------------------------------------- */

/* One offer of permessage-deflate, RFC 7692 7.1. */
struct offer {
    int bad; /* decline it (RFC 7692 5.1) */
    unsigned seen;
    int snct, cnct;
    int smwb; /* 0 absent, -1 without a valid value, else 8..15 */
    int cmwb; /* 0 absent, -1 without a value, else 8..15 */
};

enum { P_SNCT = 1, P_CNCT = 2, P_SMWB = 4, P_CMWB = 8 };

static const struct {
    const char *name;
    unsigned bit;
} params[] = {
    {"server_no_context_takeover", P_SNCT},
    {"client_no_context_takeover", P_CNCT},
    {"server_max_window_bits", P_SMWB},
    {"client_max_window_bits", P_CMWB},
};

struct scan {
    const char *p, *end;
};

/* RFC 7230 3.2.6 */
static int is_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("!#$%&'*+-.^_`|~", c));
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

/* A token; its length, 0 when there is none. */
static size_t token(struct scan *sc, const char **tok)
{
    *tok = sc->p;
    while (sc->p < sc->end && is_tchar((unsigned char)*sc->p))
        sc->p++;
    return (size_t)(sc->p - *tok);
}

/* A parameter value, token or quoted-string (RFC 7230 3.2.6), unescaped
 * into v (truncated to vlen - 1 bytes, which no valid value reaches).
 * Returns its length, or -1 when it does not parse. */
static long value(struct scan *sc, char *v, size_t vlen)
{
    const char *tok;
    size_t n = 0, i;
    unsigned char c;

    if (sc->p == sc->end)
        return -1;
    if (*sc->p != '"') {
        n = token(sc, &tok);
        for (i = 0; i < n && i < vlen - 1; i++)
            v[i] = tok[i];
        v[i] = '\0';
        return n ? (long)n : -1;
    }
    for (sc->p++; sc->p < sc->end && *sc->p != '"'; sc->p++) {
        if (*sc->p == '\\' && ++sc->p == sc->end)
            return -1;
        c = (unsigned char)*sc->p;
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return -1;
        if (n < vlen - 1)
            v[n] = (char)c;
        n++;
    }
    if (sc->p == sc->end)
        return -1;
    sc->p++;
    v[n < vlen - 1 ? n : vlen - 1] = '\0';
    return (long)n;
}

/* RFC 7692 7.1.2.1, 7.1.2.2: a decimal 8..15 without leading zeros; -1
 * otherwise. */
static int window_bits(const char *v)
{
    if (v[0] >= '8' && v[0] <= '9' && v[1] == '\0')
        return v[0] - '0';
    if (v[0] == '1' && v[1] >= '0' && v[1] <= '5' && v[2] == '\0')
        return 10 + v[1] - '0';
    return -1;
}

/* Records one parameter of an offer; an unknown or repeated name, or a bad
 * value, declines the offer (RFC 7692 5.1). has_v: a value was given;
 * quoted values must be tokens too (RFC 6455 9.1), which window_bits()
 * checks by accepting digits only. */
static void offer_param(struct offer *o, const char *name, size_t nlen,
                        int has_v, const char *v)
{
    unsigned bit = 0;
    size_t i;

    for (i = 0; i < ARRAY_LEN(params); i++)
        if (strlen(params[i].name) == nlen &&
            strncasecmp(params[i].name, name, nlen) == 0)
            bit = params[i].bit;
    if (bit == 0 || (o->seen & bit)) {
        o->bad = 1;
        return;
    }
    o->seen |= bit;
    switch (bit) {
    case P_SNCT:
    case P_CNCT:
        /* RFC 7692 7.1.1.1, 7.1.1.2: no value */
        o->bad |= has_v;
        *(bit == P_SNCT ? &o->snct : &o->cnct) = 1;
        break;
    case P_SMWB:
        /* RFC 7692 7.1.2.1: a value is required */
        o->smwb = has_v ? window_bits(v) : -1;
        o->bad |= o->smwb < 0;
        break;
    default:
        /* RFC 7692 7.1.2.2: a value is optional */
        o->cmwb = has_v ? window_bits(v) : -1;
        o->bad |= has_v && o->cmwb < 0;
        break;
    }
}

static int min_bits(int a, int b)
{
    return a < b ? a : b;
}

/* Whether the policy can take offer o; fills a if so. */
static int offer_accept(const struct wsdeflate_policy *pol,
                        const struct offer *o, struct wsdeflate_params *a)
{
    /* RFC 7692 7.1.2.2: without client_max_window_bits in the offer the
     * response may not limit the client's window, so the client may use
     * 15 bits; a policy that caps it declines such an offer, to keep the
     * memory it promised. */
    if (o->cmwb == 0 && pol->client_max_window_bits < 15)
        return 0;
    /* RFC 7692 7.1.1.1: a server must honour server_no_context_takeover;
     * 7.1.1.2: a client that offers client_no_context_takeover will not
     * use takeover anyway, so say so and free our inflater between
     * messages. */
    a->server_no_context_takeover =
        (uint8_t)(o->snct || pol->server_no_context_takeover);
    a->client_no_context_takeover =
        (uint8_t)(o->cnct || pol->client_no_context_takeover);
    a->server_max_window_bits = (uint8_t)min_bits(pol->server_max_window_bits,
                                                  o->smwb > 0 ? o->smwb : 15);
    a->client_max_window_bits = (uint8_t)min_bits(pol->client_max_window_bits,
                                                  o->cmwb > 0 ? o->cmwb : 15);
    return 1;
}

/* RFC 7692 7.1: the response names each parameter that binds. */
static void response(const struct offer *o, const struct wsdeflate_params *a,
                     char *resp)
{
    size_t n = 0, room = WSDEFLATE_RESPONSE_MAX;

    n += (size_t)snprintf(resp, room, "permessage-deflate");
    if (a->server_no_context_takeover)
        n += (size_t)snprintf(resp + n, room - n,
                              "; server_no_context_takeover");
    if (a->client_no_context_takeover)
        n += (size_t)snprintf(resp + n, room - n,
                              "; client_no_context_takeover");
    /* RFC 7692 7.1.2.1: an offer with server_max_window_bits is accepted
     * by answering it, with the same value or a smaller one */
    if (o->smwb > 0 || a->server_max_window_bits < 15)
        n += (size_t)snprintf(resp + n, room - n, "; server_max_window_bits=%d",
                              a->server_max_window_bits);
    /* RFC 7692 7.1.2.2: only when offered, with a value */
    if (o->cmwb != 0 && a->client_max_window_bits < 15)
        snprintf(resp + n, room - n, "; client_max_window_bits=%d",
                 a->client_max_window_bits);
}

/* One extension of the list and its parameters (RFC 6455 9.1):
 *   extension = extension-token *( ";" extension-param )
 *   extension-param = token [ "=" ( token | quoted-string ) ]
 * Returns -1 when it does not parse; sets *is_pmd and o. */
static int extension(struct scan *sc, int *is_pmd, struct offer *o)
{
    const char *name;
    size_t nlen = token(sc, &name);
    char v[16];
    int has_v;

    if (nlen == 0)
        return -1;
    *is_pmd = nlen == 18 && strncasecmp(name, "permessage-deflate", 18) == 0;
    memset(o, 0, sizeof(*o));
    while (eat(sc, ';')) {
        if ((nlen = token(sc, &name)) == 0)
            return -1;
        has_v = eat(sc, '=');
        if (has_v && value(sc, v, sizeof(v)) < 0)
            return -1;
        if (*is_pmd)
            offer_param(o, name, nlen, has_v, v);
    }
    return 0;
}

int wsdeflate_negotiate(const struct wsdeflate_policy *policy,
                        const char *value, size_t len,
                        struct wsdeflate_params *agreed, char *resp)
{
    struct scan sc = {value, value + len};
    struct offer o;
    int is_pmd, found = 0;

    if (!policy->enabled)
        return 0;
    if (policy->server_max_window_bits < 8 ||
        policy->server_max_window_bits > 15 ||
        policy->client_max_window_bits < 8 ||
        policy->client_max_window_bits > 15)
        fatal("wsdeflate: policy window bits out of 8..15");
    /* 1#extension: elements separated by commas, empty ones allowed
     * (RFC 7230 7); the whole value must parse even after a match */
    for (;;) {
        skip_ows(&sc);
        if (sc.p == sc.end)
            break;
        if (*sc.p == ',') {
            sc.p++;
            continue;
        }
        if (extension(&sc, &is_pmd, &o) < 0)
            return -1;
        skip_ows(&sc);
        if (sc.p < sc.end && *sc.p != ',')
            return -1;
        if (!found && is_pmd && !o.bad && offer_accept(policy, &o, agreed)) {
            response(&o, agreed, resp);
            found = 1;
        }
    }
    return found;
}
