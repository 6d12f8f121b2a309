/*
 * testrequest.c - the request head the library sends (RFC 9112 3, 5):
 * request line, the library's own Host and Content-Length (and, for
 * sq_test_fetch(), Connection: close) unless the caller gave them, then
 * the caller's fields in order.
 */
#include "testlib.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

int tl_has_header(const char *const *headers, const char *name)
{
    size_t n = strlen(name);

    for (; headers != NULL && *headers != NULL; headers++)
        if (strncasecmp(*headers, name, n) == 0 && (*headers)[n] == ':')
            return 1;
    return 0;
}

static int needs_length(const struct tl_request *req)
{
    const char *m = req->method;

    return req->body != NULL || strcmp(m, "POST") == 0 ||
           strcmp(m, "PUT") == 0 || strcmp(m, "PATCH") == 0;
}

static int bad_text(const char *s)
{
    return strpbrk(s, "\r\n") != NULL;
}

/* Whether the parts would make a request other than the one meant. */
static int bad_parts(const struct tl_request *req)
{
    const char *const *h;
    int bad = bad_text(req->method) || bad_text(req->path) ||
              strchr(req->method, ' ') || strchr(req->path, ' ') ||
              *req->method == '\0' || *req->path == '\0';

    for (h = req->headers; h != NULL && *h != NULL; h++)
        bad = bad || bad_text(*h) || strchr(*h, ':') == NULL;
    return bad;
}

static int add_defaults(const struct tl_request *req, struct tl_buf *out)
{
    char line[160];
    int ret = 0;

    if (!tl_has_header(req->headers, "Host")) {
        snprintf(line, sizeof line, "Host: %s\r\n", req->host);
        ret |= tl_buf_str(out, line);
    }
    if (needs_length(req) && !tl_has_header(req->headers, "Content-Length") &&
        !tl_has_header(req->headers, "Transfer-Encoding")) {
        snprintf(line, sizeof line, "Content-Length: %zu\r\n",
                 req->body ? req->body_len : 0);
        ret |= tl_buf_str(out, line);
    }
    if (req->add_close && !tl_has_header(req->headers, "Connection"))
        ret |= tl_buf_str(out, "Connection: close\r\n");
    return ret;
}

int tl_request_head(const struct tl_request *req, struct tl_buf *out, char *err,
                    size_t errlen)
{
    const char *const *h;
    int ret = 0;

    if (bad_parts(req)) {
        tl_seterr(err, errlen,
                  "bad method, path or header line (use "
                  "sq_test_conn_send_raw() for malformed requests)");
        return -1;
    }
    ret |= tl_buf_str(out, req->method);
    ret |= tl_buf_str(out, " ");
    ret |= tl_buf_str(out, req->path);
    ret |= tl_buf_str(out, " HTTP/1.1\r\n");
    ret |= add_defaults(req, out);
    for (h = req->headers; h != NULL && *h != NULL; h++) {
        ret |= tl_buf_str(out, *h);
        ret |= tl_buf_str(out, "\r\n");
    }
    ret |= tl_buf_str(out, "\r\n");
    if (ret != 0) {
        tl_seterr(err, errlen, "request head too large or out of memory");
        return -1;
    }
    return 0;
}
