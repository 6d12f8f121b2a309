/*
 * form.c - the fields of a multipart/form-data body (RFC 7578, with the
 * delimiters of RFC 2046 5.1.1), read the way browsers write them and
 * Tornado's parse_multipart_form_data reads them. Pure: bytes in, parts
 * out, nothing allocated; every part points into the body.
 *
 * An application/x-www-form-urlencoded body is a query string and is read
 * by req_parse_pairs() (request.c).
 */
#include "internal.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define MP_HEAD_MAX 8192   /* the header block of one part */
#define MP_PARAM_MAX 1024  /* a name or filename, unquoted */

/* errf, then -1 */
static int err_set(char *err, size_t errlen, const char *msg)
{
    errf(err, errlen, "%s", msg);
    return -1;
}

static int is_ws(char c)
{
    return c == ' ' || c == '\t';
}

/* RFC 2045 tspecials and controls end a token. */
static int is_token(unsigned char c)
{
    return c > ' ' && c < 0x7f && strchr("()<>@,;:\\\"/[]?=", c) == NULL;
}

/* Reads one parameter value at *p (before e): a quoted string (its
 * backslash escapes undone) or a token, into out (outcap, NUL-terminated).
 * Returns its length or -1. */
static long param_value(const char **p, const char *e, char *out,
                        size_t outcap)
{
    const char *s = *p;
    size_t n = 0;

    if (s < e && *s == '"') {
        for (s++; s < e && *s != '"'; s++) {
            if (*s == '\\' && s + 1 < e)
                s++;
            if (*s == '\r' || *s == '\n' || n + 1 >= outcap)
                return -1;
            out[n++] = *s;
        }
        if (s == e)
            return -1;
        s++;
    } else {
        while (s < e && *s != ';' && !is_ws(*s)) {
            if (!is_token((unsigned char)*s) || n + 1 >= outcap)
                return -1;
            out[n++] = *s++;
        }
    }
    out[n] = '\0';
    *p = s;
    return (long)n;
}

/*
 * Content-Disposition: form-data; name="field"; filename="a.txt"
 * Writes name and filename (when present) into the caller's buffers.
 * -1 when it is not form-data or a parameter is malformed.
 */
static int disposition(const char *v, const char *e, char *name,
                       long *nlen, char *fname, long *flen)
{
    const char *p = v, *k;
    char scratch[MP_PARAM_MAX];
    size_t klen;
    long n;

    *nlen = *flen = -1;
    while (p < e && is_ws(*p))
        p++;
    if ((size_t)(e - p) < 9 || strncasecmp(p, "form-data", 9) != 0)
        return -1;
    p += 9;
    for (;;) {
        while (p < e && is_ws(*p))
            p++;
        if (p == e)
            return 0;
        if (*p++ != ';')
            return -1;
        while (p < e && is_ws(*p))
            p++;
        if (p == e)
            return 0; /* a trailing ';' */
        for (k = p; p < e && is_token((unsigned char)*p); p++)
            ;
        klen = (size_t)(p - k);
        while (p < e && is_ws(*p))
            p++;
        if (klen == 0 || p == e || *p++ != '=')
            return -1;
        while (p < e && is_ws(*p))
            p++;
        if (klen == 4 && strncasecmp(k, "name", 4) == 0) {
            if ((n = param_value(&p, e, name, MP_PARAM_MAX)) < 0)
                return -1;
            *nlen = n;
        } else if (klen == 8 && strncasecmp(k, "filename", 8) == 0) {
            if ((n = param_value(&p, e, fname, MP_PARAM_MAX)) < 0)
                return -1;
            *flen = n;
        } else if (param_value(&p, e, scratch, sizeof(scratch)) < 0) {
            return -1;
        }
    }
}

/* The part's header block head[0, len): each line "Name: value". */
static int part_headers(const char *head, size_t len, struct form_part *fp,
                        char *name, char *fname, char *err, size_t errlen)
{
    const char *p = head, *e = head + len, *eol, *colon, *v;
    long nlen = -1, flen = -1;
    int seen = 0;

    fp->ctype = NULL;
    fp->clen = 0;
    while (p < e) {
        eol = memmem(p, (size_t)(e - p), "\r\n", 2);
        if (eol == NULL)
            eol = e;
        colon = memchr(p, ':', (size_t)(eol - p));
        if (colon == NULL || colon == p)
            return err_set(err, errlen, "a part header without a name");
        v = colon + 1;
        while (v < eol && is_ws(*v))
            v++;
        if ((size_t)(colon - p) == 19 &&
            strncasecmp(p, "Content-Disposition", 19) == 0) {
            if (seen++ || disposition(v, eol, name, &nlen, fname, &flen) < 0)
                return err_set(err, errlen,
                               "a part whose Content-Disposition is not "
                               "form-data with a name");
        } else if ((size_t)(colon - p) == 12 &&
                   strncasecmp(p, "Content-Type", 12) == 0) {
            fp->ctype = v;
            fp->clen = (size_t)(eol - v);
            while (fp->clen > 0 && is_ws(v[fp->clen - 1]))
                fp->clen--;
        }
        p = eol + 2;
    }
    if (nlen <= 0)
        return err_set(err, errlen, "a part without a name");
    fp->name = name;
    fp->nlen = (size_t)nlen;
    fp->filename = flen >= 0 ? fname : NULL;
    fp->flen = flen >= 0 ? (size_t)flen : 0;
    return 0;
}

/* The next delimiter line in [p, e): "\r\n--boundary" followed by "--"
 * or by optional padding and CRLF. Text that only starts like one is
 * data (RFC 2046 5.1.1 forbids it in a body, but Tornado takes it so). */
static const char *find_delim(const char *p, const char *e, const char *delim,
                              size_t dlen)
{
    const char *d, *q;

    while ((d = memmem(p, (size_t)(e - p), delim, dlen)) != NULL) {
        q = d + dlen;
        if (e - q >= 2 && q[0] == '-' && q[1] == '-')
            return d;
        while (q < e && is_ws(*q))
            q++;
        if (e - q >= 2 && q[0] == '\r' && q[1] == '\n')
            return d;
        p = d + 1;
    }
    return NULL;
}

int form_boundary(const char *ctype, const char **b, size_t *blen)
{
    const char *p = ctype, *s;
    size_t n;

    while (is_ws(*p))
        p++;
    if (strncasecmp(p, "multipart/form-data", 19) != 0)
        return -1;
    p += 19;
    while (*p != '\0') {
        p += strcspn(p, ";");
        if (*p == '\0')
            break;
        p++;
        while (is_ws(*p))
            p++;
        if (strncasecmp(p, "boundary=", 9) != 0)
            continue;
        s = p + 9;
        if (*s == '"') {
            s++;
            n = strcspn(s, "\"");
            if (s[n] != '"')
                return -1;
        } else {
            n = strcspn(s, "; \t");
        }
        /* RFC 2046: 1 to 70 characters */
        if (n == 0 || n > 70)
            return -1;
        *b = s;
        *blen = n;
        return 0;
    }
    return -1;
}

int form_multipart_each(const char *boundary, size_t blen, const char *body,
                        size_t len, form_part_fn fn, void *arg, char *err,
                        size_t errlen)
{
    char delim[2 + 70 + 2], name[MP_PARAM_MAX], fname[MP_PARAM_MAX];
    const char *p, *e = body + len, *next, *eoh;
    struct form_part fp;
    size_t dlen;
    int rc;

    if (blen == 0 || blen > 70)
        return err_set(err, errlen, "a boundary of 1 to 70 characters");
    /* "\r\n--boundary": the first delimiter may also open the body */
    memcpy(delim, "\r\n--", 4);
    memcpy(delim + 4, boundary, blen);
    dlen = 4 + blen;
    if (len >= dlen - 2 && memcmp(body, delim + 2, dlen - 2) == 0) {
        p = body + dlen - 2;
    } else {
        p = memmem(body, len, delim, dlen);
        if (p == NULL)
            return err_set(err, errlen, "no boundary in the body");
        p += dlen;
    }
    for (;;) {
        /* after a delimiter: "--" ends the body, else padding and CRLF */
        if (e - p >= 2 && p[0] == '-' && p[1] == '-')
            return 0;
        while (p < e && is_ws(*p))
            p++;
        if (e - p < 2 || p[0] != '\r' || p[1] != '\n')
            return err_set(err, errlen,
                           "no final boundary (the body is cut short)");
        p += 2;
        next = find_delim(p, e, delim, dlen);
        if (next == NULL)
            return err_set(err, errlen,
                           "no final boundary (the body is cut short)");
        if (next - p >= 2 && p[0] == '\r' && p[1] == '\n') {
            eoh = p; /* no headers at all */
        } else {
            eoh = memmem(p, (size_t)(next - p), "\r\n\r\n", 4);
            if (eoh == NULL)
                return err_set(err, errlen, "a part without a blank line "
                                            "after its headers");
        }
        if (eoh - p > MP_HEAD_MAX)
            return err_set(err, errlen, "a part's headers are too long");
        if (part_headers(p, (size_t)(eoh - p), &fp, name, fname, err,
                         errlen) < 0)
            return -1;
        fp.data = eoh + (eoh == p ? 2 : 4);
        fp.dlen = (size_t)(next - fp.data);
        if ((rc = fn(arg, &fp)) != 0)
            return rc;
        p = next + dlen;
    }
}
