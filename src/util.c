/*
 * util.c - small helpers shared by the daemon: percent-decoding, HTTP
 * status reason phrases, the number of CPUs.
 */
#include "internal.h"

#include <stdio.h>
#include <string.h>

#include <stdarg.h>

#include <unistd.h>

int hex_value(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

long url_decoded_len(const char *s, size_t len)
{
    size_t i, out = 0;

    for (i = 0; i < len; i++, out++) {
        if (s[i] != '%')
            continue;
        /* RFC 3986 2.1: a '%' always starts a two-hex-digit triplet */
        if (len - i < 3 || hex_value((unsigned char)s[i + 1]) < 0 ||
            hex_value((unsigned char)s[i + 2]) < 0)
            return -1;
        i += 2;
    }
    return (long)out;
}

/*
 * s must have room for len + 1 bytes: the result is NUL-terminated even
 * when nothing was decoded. It is validated first, so s is left untouched
 * when an escape is bad.
 */
long url_decode(char *s, size_t len, int plus)
{
    size_t r, w = 0;

    if (url_decoded_len(s, len) < 0)
        return -1;
    for (r = 0; r < len; r++) {
        char c = s[r];

        if (c == '%') {
            c = (char)(hex_value((unsigned char)s[r + 1]) << 4 |
                       hex_value((unsigned char)s[r + 2]));
            r += 2;
        } else if (plus && c == '+') {
            c = ' ';
        }
        s[w++] = c;
    }
    s[w] = '\0';
    return (long)w;
}

/* Reason phrases as registered by IANA, with the RFC 9110 names where it
 * renamed them (413, 422). Indexed by status - 100. */
static const char *const status_text[] = {
    [100 - 100] = "Continue",
    [101 - 100] = "Switching Protocols",
    [102 - 100] = "Processing",
    [103 - 100] = "Early Hints",
    [200 - 100] = "OK",
    [201 - 100] = "Created",
    [202 - 100] = "Accepted",
    [203 - 100] = "Non-Authoritative Information",
    [204 - 100] = "No Content",
    [205 - 100] = "Reset Content",
    [206 - 100] = "Partial Content",
    [207 - 100] = "Multi-Status",
    [208 - 100] = "Already Reported",
    [226 - 100] = "IM Used",
    [300 - 100] = "Multiple Choices",
    [301 - 100] = "Moved Permanently",
    [302 - 100] = "Found",
    [303 - 100] = "See Other",
    [304 - 100] = "Not Modified",
    [305 - 100] = "Use Proxy",
    [307 - 100] = "Temporary Redirect",
    [308 - 100] = "Permanent Redirect",
    [400 - 100] = "Bad Request",
    [401 - 100] = "Unauthorized",
    [402 - 100] = "Payment Required",
    [403 - 100] = "Forbidden",
    [404 - 100] = "Not Found",
    [405 - 100] = "Method Not Allowed",
    [406 - 100] = "Not Acceptable",
    [407 - 100] = "Proxy Authentication Required",
    [408 - 100] = "Request Timeout",
    [409 - 100] = "Conflict",
    [410 - 100] = "Gone",
    [411 - 100] = "Length Required",
    [412 - 100] = "Precondition Failed",
    [413 - 100] = "Content Too Large",
    [414 - 100] = "URI Too Long",
    [415 - 100] = "Unsupported Media Type",
    [416 - 100] = "Range Not Satisfiable",
    [417 - 100] = "Expectation Failed",
    [421 - 100] = "Misdirected Request",
    [422 - 100] = "Unprocessable Content",
    [423 - 100] = "Locked",
    [424 - 100] = "Failed Dependency",
    [425 - 100] = "Too Early",
    [426 - 100] = "Upgrade Required",
    [428 - 100] = "Precondition Required",
    [429 - 100] = "Too Many Requests",
    [431 - 100] = "Request Header Fields Too Large",
    [451 - 100] = "Unavailable For Legal Reasons",
    [500 - 100] = "Internal Server Error",
    [501 - 100] = "Not Implemented",
    [502 - 100] = "Bad Gateway",
    [503 - 100] = "Service Unavailable",
    [504 - 100] = "Gateway Timeout",
    [505 - 100] = "HTTP Version Not Supported",
    [506 - 100] = "Variant Also Negotiates",
    [507 - 100] = "Insufficient Storage",
    [508 - 100] = "Loop Detected",
    [511 - 100] = "Network Authentication Required",
};

const char *http_status_text(int status)
{
    size_t i = (size_t)status - 100;

    if (status < 100 || i >= ARRAY_LEN(status_text) || !status_text[i])
        return "Unknown";
    return status_text[i];
}

int cpu_count(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);

    return n < 1 ? 1 : (int)n;
}

void errf(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

long template_fill(const char *tmpl, const struct route_param *params,
                   size_t nparams, char *out, size_t outlen)
{
    const char *p = tmpl, *close, *v;
    size_t len = 0, n, i;

    if (outlen == 0)
        return -1;
    while (*p != '\0') {
        if (*p == '{') {
            if ((close = strchr(p + 1, '}')) == NULL)
                return -1;
            n = (size_t)(close - p - 1);
            for (i = 0; i < nparams; i++)
                if (strlen(params[i].name) == n &&
                    memcmp(params[i].name, p + 1, n) == 0)
                    break;
            if (i == nparams)
                return -1;
            v = params[i].value;
            n = strlen(v);
            p = close + 1;
        } else {
            v = p;
            n = strcspn(p, "{");
            p += n;
        }
        if (n >= outlen - len)
            return -1;
        memcpy(out + len, v, n);
        len += n;
    }
    out[len] = '\0';
    return (long)len;
}

int parse_u64(const char *p, size_t len, uint64_t *v)
{
    uint64_t n = 0;

    if (len == 0 || len > 20 || (p[0] == '0' && len > 1))
        return -1;
    for (size_t i = 0; i < len; i++) {
        unsigned d = (unsigned)(p[i] - '0');
        if (d > 9 || n > (UINT64_MAX - d) / 10)
            return -1;
        n = n * 10 + d;
    }
    *v = n;
    return 0;
}

int parse_epoch(const char *p, size_t len, uint64_t *v)
{
    uint64_t e = 0;

    if (len != 16)
        return -1;
    for (size_t i = 0; i < 16; i++) {
        /* lowercase only: one spelling per epoch */
        int d = p[i] >= 'A' && p[i] <= 'F' ? -1 : hex_value(p[i]);
        if (d < 0)
            return -1;
        e = e << 4 | (uint64_t)d;
    }
    if (e == 0)
        return -1;
    *v = e;
    return 0;
}

int template_check(const char *tmpl, const char *what,
                   const char *const *names, size_t nnames, char *err,
                   size_t errlen)
{
    const char *p = tmpl, *open, *close;
    size_t i, n;

    while ((open = strpbrk(p, "{}")) != NULL) {
        if (*open == '}') {
            errf(err, errlen, "unbalanced '}' at offset %zu of '%s'",
                 (size_t)(open - tmpl), tmpl);
            return -1;
        }
        close = strpbrk(open + 1, "{}");
        if (close == NULL || *close == '{') {
            errf(err, errlen, "unbalanced '{' at offset %zu of '%s'",
                 (size_t)(open - tmpl), tmpl);
            return -1;
        }
        n = (size_t)(close - open - 1);
        for (i = 0; i < nnames; i++)
            if (strlen(names[i]) == n && memcmp(names[i], open + 1, n) == 0)
                break;
        if (i == nnames) {
            char list[256];
            size_t at = 0;

            list[0] = '\0';
            for (i = 0; i < nnames && at < sizeof(list); i++) {
                int w = snprintf(list + at, sizeof(list) - at, "%s%s",
                                 i > 0 ? ", " : "", names[i]);
                at += w > 0 ? (size_t)w : 0;
            }
            errf(err, errlen,
                 "unknown parameter '{%.*s}' in %s'%s' (the path has %s%s)",
                 (int)n, open + 1, what, tmpl, nnames == 0 ? "none" : "",
                 list);
            return -1;
        }
        p = close + 1;
    }
    return 0;
}
