/*
 * testfetch.c - sq_test_fetch(): one request on a connection of its own,
 * with "Connection: close", read strictly: after the response the server
 * must close (RFC 9112 9.6), so any byte after it - a body longer than
 * its Content-Length, a body after a HEAD response or a 204 - fails the
 * fetch instead of passing unseen.
 */
#include "testlib.h"

#include <stdio.h>
#include <string.h>

/* Copies the connection's error (or err) into the server's. */
static sq_test_response *fail(sq_test_server *s, sq_test_conn *c,
                              sq_test_response *r)
{
    tl_server_set_error(s, sq_test_conn_error(c));
    sq_test_response_free(r);
    sq_test_conn_close(c);
    return NULL;
}

/* After the response to a "Connection: close" request, nothing but the
 * close may come. */
static int expect_close(sq_test_conn *c, const char *what)
{
    size_t extra;

    switch (sq_test_conn_closed(c, SQ_TEST_DEFAULT)) {
    case 1:
        return 0;
    case 0:
        tl_conn_fail(c,
                     "%s: timed out after %g s waiting for the server to "
                     "close the connection",
                     what, tl_default_timeout());
        return -1;
    }
    extra = tl_conn_unread(c);
    if (extra > 0)
        tl_conn_fail(c,
                     "%s: %zu unexpected bytes after the end of the response "
                     "(wrong Content-Length, or a body where none belongs?)",
                     what, extra);
    return -1;
}

/* A fresh connection for a one-shot fetch; NULL with the server's error
 * set, naming what was to be fetched. */
static sq_test_conn *connect_for(sq_test_server *s, const char *what)
{
    char err[1024];
    sq_test_conn *c;

    tl_server_set_error(s, "");
    if ((c = sq_test_connect(s)) != NULL)
        return c;
    snprintf(err, sizeof err, "%s: %s", what, sq_test_error(s));
    tl_server_set_error(s, err);
    return NULL;
}

sq_test_response *sq_test_fetch(sq_test_server *s, const char *method,
                                const char *path, const char *const *headers,
                                const void *body, size_t body_len)
{
    struct tl_request req = {
        .method = method ? method : "GET",
        .path = path ? path : "/",
        .headers = headers,
        .body = body,
        .body_len = body_len,
        .add_close = 1,
    };
    char what[96];
    sq_test_response *r = NULL;
    sq_test_conn *c;

    snprintf(what, sizeof what, "%.40s %.50s", req.method, req.path);
    if ((c = connect_for(s, what)) == NULL)
        return NULL;
    if (tl_conn_send(c, &req) < 0)
        return fail(s, c, NULL);
    r = sq_test_conn_read(c, SQ_TEST_DEFAULT);
    if (r == NULL)
        return fail(s, c, NULL);
    if (!tl_has_header(headers, "Connection") && r->status != 101 &&
        expect_close(c, what) < 0)
        return fail(s, c, r);
    sq_test_conn_close(c);
    return r;
}

sq_test_response *sq_test_get(sq_test_server *s, const char *path)
{
    return sq_test_fetch(s, "GET", path, NULL, NULL, 0);
}

sq_test_response *sq_test_fetch_raw(sq_test_server *s, const void *request,
                                    size_t len)
{
    const char *req = request, *eol = memchr(request, '\n', len);
    size_t n = eol ? (size_t)(eol - req) : len;
    char what[96];
    sq_test_response *r;
    sq_test_conn *c;

    if (n > 0 && req[n - 1] == '\r')
        n--;
    snprintf(what, sizeof what, "raw request \"%.*s\"", (int)(n < 60 ? n : 60),
             req);
    if ((c = connect_for(s, what)) == NULL)
        return NULL;
    if (tl_conn_expect(c, len >= 5 && memcmp(req, "HEAD ", 5) == 0, what) < 0 ||
        sq_test_conn_send_raw(c, request, len) < 0)
        return fail(s, c, NULL);
    r = sq_test_conn_read(c, SQ_TEST_DEFAULT);
    if (r == NULL)
        return fail(s, c, NULL);
    sq_test_conn_close(c);
    return r;
}
