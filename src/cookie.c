/*
 * cookie.c - Cookie request headers read the way Tornado's parse_cookie
 * reads them (browser behaviour, not the RFCs), and Set-Cookie values
 * written the way Tornado's set_cookie (Python's Morsel) writes them.
 * Pure: no request, no clock.
 */
#include "internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* What Python's str.strip() removes among ASCII bytes. */
static int is_strip(unsigned char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f);
}

static void strip(const char **s, const char **e)
{
    while (*s < *e && is_strip((unsigned char)**s))
        (*s)++;
    while (*e > *s && is_strip((unsigned char)(*e)[-1]))
        (*e)--;
}

/* A value in double quotes loses them and its escapes: a backslash and
 * three octal digits (the first 0-3) is that byte, a backslash and any
 * other byte but a newline is that byte. Writes into out (room for n). */
static size_t unquote(const char *s, size_t n, char *out)
{
    size_t o = 0;

    if (n < 2 || s[0] != '"' || s[n - 1] != '"') {
        memcpy(out, s, n);
        return n;
    }
    s++;
    n -= 2;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\\' && i + 3 < n && s[i + 1] >= '0' && s[i + 1] <= '3' &&
            s[i + 2] >= '0' && s[i + 2] <= '7' && s[i + 3] >= '0' &&
            s[i + 3] <= '7') {
            out[o++] = (char)((s[i + 1] - '0') << 6 | (s[i + 2] - '0') << 3 |
                              (s[i + 3] - '0'));
            i += 3;
        } else if (s[i] == '\\' && i + 1 < n && s[i + 1] != '\n') {
            out[o++] = s[++i];
        } else {
            out[o++] = s[i];
        }
    }
    return o;
}

int cookie_each(const char *h, size_t len, char *scratch, size_t scratchlen,
                cookie_fn fn, void *arg)
{
    const char *p = h, *end = h + len;

    if (scratchlen < len)
        return -1;
    while (p <= end) {
        const char *semi = memchr(p, ';', (size_t)(end - p));
        const char *ce = semi != NULL ? semi : end;
        const char *eq = memchr(p, '=', (size_t)(ce - p));
        const char *ks = p, *ke = p, *vs, *ve = ce;
        int rc;

        if (eq != NULL) {
            ke = eq;
            vs = eq + 1;
        } else {
            vs = p; /* no '=': a value with an empty name */
        }
        strip(&ks, &ke);
        strip(&vs, &ve);
        if (ke > ks || ve > vs) {
            size_t vn = unquote(vs, (size_t)(ve - vs), scratch);

            if ((rc = fn(arg, ks, (size_t)(ke - ks), scratch, vn)) != 0)
                return rc;
        }
        if (semi == NULL)
            break;
        p = semi + 1;
    }
    return 0;
}

struct get {
    const char *name;
    size_t nlen;
    char *out;
    size_t cap;
    long found;
};

static int get_one(void *arg, const char *name, size_t nlen, const char *v,
                   size_t vlen)
{
    struct get *g = arg;

    if (nlen != g->nlen || memcmp(name, g->name, nlen) != 0)
        return 0;
    if (vlen > g->cap) {
        g->found = -2;
        return 0;
    }
    memcpy(g->out, v, vlen);
    g->found = (long)vlen;
    return 0;
}

long cookie_get(const char *h, size_t len, const char *name, char *scratch,
                size_t scratchlen, char *out, size_t outcap)
{
    struct get g = {name, strlen(name), out, outcap, -1};

    if (cookie_each(h, len, scratch, scratchlen, get_one, &g) < 0)
        return -2;
    return g.found;
}

/* Set-Cookie ---------------------------------------------------------- */

/* Python's http.cookies._LegalChars */
static int is_legal(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || strchr("!#$%&'*+-.^_`|~:", c) != NULL;
}

/* attributes Morsel reserves: not a cookie's name */
static const char *const reserved[] = {"expires", "path", "comment",
                                       "domain", "max-age", "secure",
                                       "httponly", "version", "samesite"};

struct out {
    char *p;
    size_t cap, n;
    int full;
};

static void put(struct out *o, const char *s, size_t n)
{
    if (o->full || o->cap - o->n <= n) {
        o->full = 1;
        return;
    }
    memcpy(o->p + o->n, s, n);
    o->n += n;
    o->p[o->n] = '\0';
}

static void puts_(struct out *o, const char *s)
{
    put(o, s, strlen(s));
}

/* An attribute value may not end the header or the attribute. */
static int attr_ok(const char *v)
{
    for (; *v != '\0'; v++)
        if ((unsigned char)*v < 0x20 || *v == 0x7f || *v == ';')
            return 0;
    return 1;
}

int cookie_format(const char *name, const char *value, size_t vlen,
                  const struct cookie_attrs *a, char *out, size_t outcap,
                  size_t *outlen, char *err, size_t errlen)
{
    struct out o = {out, outcap, 0, outcap == 0};
    int plain = 1;
    char tmp[64];

    if (name[0] == '\0') {
        errf(err, errlen, "cookie: an empty name");
        return -1;
    }
    for (const char *c = name; *c != '\0'; c++)
        if (!is_legal((unsigned char)*c)) {
            errf(err, errlen, "cookie: a bad byte in the name");
            return -1;
        }
    for (size_t i = 0; i < ARRAY_LEN(reserved); i++)
        if (strcasecmp(name, reserved[i]) == 0) {
            errf(err, errlen, "cookie: %s is an attribute's name", name);
            return -1;
        }
    for (size_t i = 0; i < vlen; i++) {
        unsigned char c = (unsigned char)value[i];

        if (c <= 0x20) {
            errf(err, errlen, "cookie: a space or control byte in the value");
            return -1;
        }
        plain &= is_legal(c);
    }
    if ((a->domain != NULL && !attr_ok(a->domain)) ||
        (a->path != NULL && !attr_ok(a->path)) ||
        (a->samesite != NULL && !attr_ok(a->samesite))) {
        errf(err, errlen, "cookie: a control byte or ';' in an attribute");
        return -1;
    }
    puts_(&o, name);
    put(&o, "=", 1);
    if (plain) {
        put(&o, value, vlen);
    } else {
        /* Python's _quote: in double quotes, '"' and '\' escaped, ',',
         * ';' and bytes outside 0x20-0x7e in three octal digits */
        put(&o, "\"", 1);
        for (size_t i = 0; i < vlen; i++) {
            unsigned char c = (unsigned char)value[i];

            if (c == '"' || c == '\\') {
                tmp[0] = '\\';
                tmp[1] = (char)c;
                put(&o, tmp, 2);
            } else if (c == ',' || c == ';' || c >= 0x7f) {
                snprintf(tmp, sizeof(tmp), "\\%03o", c);
                put(&o, tmp, 4);
            } else {
                put(&o, (const char *)&value[i], 1);
            }
        }
        put(&o, "\"", 1);
    }
    /* Morsel's order: its attribute names sorted */
    if (a->domain != NULL && a->domain[0] != '\0') {
        puts_(&o, "; Domain=");
        puts_(&o, a->domain);
    }
    if (a->has_expires) {
        struct tm tm;
        time_t t = (time_t)a->expires;

        static const char days[][4] = {"Sun", "Mon", "Tue", "Wed",
                                       "Thu", "Fri", "Sat"};
        static const char months[][4] = {"Jan", "Feb", "Mar", "Apr",
                                         "May", "Jun", "Jul", "Aug",
                                         "Sep", "Oct", "Nov", "Dec"};

        /* RFC 7231 IMF-fixdate, English whatever the locale */
        if (gmtime_r(&t, &tm) == NULL || tm.tm_year + 1900 > 9999 ||
            tm.tm_year + 1900 < 0) {
            errf(err, errlen, "cookie: a bad expiry time");
            return -1;
        }
        snprintf(tmp, sizeof(tmp), "%s, %02d %s %04d %02d:%02d:%02d GMT",
                 days[tm.tm_wday], tm.tm_mday, months[tm.tm_mon],
                 tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
        puts_(&o, "; expires=");
        puts_(&o, tmp);
    }
    if (a->httponly)
        puts_(&o, "; HttpOnly");
    if (a->has_max_age) {
        snprintf(tmp, sizeof(tmp), "; Max-Age=%" PRId64, a->max_age);
        puts_(&o, tmp);
    }
    if (a->path != NULL && a->path[0] != '\0') {
        puts_(&o, "; Path=");
        puts_(&o, a->path);
    }
    if (a->samesite != NULL && a->samesite[0] != '\0') {
        puts_(&o, "; SameSite=");
        puts_(&o, a->samesite);
    }
    if (a->secure)
        puts_(&o, "; Secure");
    if (o.full) {
        errf(err, errlen, "cookie: longer than %zu bytes", outcap);
        return -1;
    }
    *outlen = o.n;
    return 0;
}
