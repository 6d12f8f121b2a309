/*
 * testparse.c - reading a response with http-parser (HTTP_RESPONSE).
 *
 * The parser is paused at every point where the caller may want control
 * or where the strictness checker (teststrict.c) must learn what comes
 * next: after each head (then the body's framing is known), after each
 * chunk-size line, after each chunk when streaming, and after each
 * message. Pausing after each message keeps the bytes of the next
 * pipelined response in the connection's buffer, untouched, until it is
 * asked for.
 *
 * RFC 9112 6.3 decides the body length; http-parser implements it, told
 * by on_headers_complete() when the request was HEAD. Interim 1xx
 * responses are counted into the final one (RFC 9110 15.2); 101 is final,
 * and what follows it is another protocol.
 */
#include "testlib.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_BODY ((size_t)SQ_TEST_MAX_BODY)
#define MAX_CHUNK ((size_t)SQ_TEST_MAX_CHUNK)

static struct tl_parse *of(http_parser *hp)
{
    return hp->data;
}

/* Fails the callback with a message of our own (it wins over
 * http-parser's "callback failed"). */
static int cb_fail(struct tl_parse *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int cb_fail(struct tl_parse *p, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    tl_vseterr(p->error, sizeof p->error, fmt, ap);
    va_end(ap);
    return -1;
}

/* Stops http_parser_execute() after this callback; next: what the
 * strictness checker must expect after the bytes parsed so far. */
static int cb_pause(struct tl_parse *p, enum tl_event e, enum tl_expect next,
                    uint64_t skip)
{
    p->event = e;
    p->next_expect = next;
    p->next_skip = skip;
    p->paused = 1;
    http_parser_pause(&p->hp, 1);
    return 0;
}

/* ---------------------------------------------------------------------
 * Fields
 * ------------------------------------------------------------------- */

static int is_tchar(unsigned char c)
{
    return c != 0 &&
           ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
            (c >= 'A' && c <= 'Z') || strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* The field received so far goes into the response: a token name (the
 * lenient parser lets a space through), the value without OWS. */
static int commit_field(struct tl_parse *p)
{
    const char *v = p->value.data ? p->value.data : "";
    size_t i, vlen = p->value.len;

    if (p->field.len == 0)
        return 0;
    for (i = 0; i < p->field.len; i++)
        if (!is_tchar((unsigned char)p->field.data[i]))
            return cb_fail(p, "malformed header name \"%.80s\"", p->field.data);
    while (vlen > 0 && (*v == ' ' || *v == '\t'))
        v++, vlen--;
    while (vlen > 0 && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
        vlen--;
    if (tl_response_add_field(p->r, &p->cap_headers, p->field.data,
                              p->field.len, v, vlen) < 0)
        return cb_fail(p, "out of memory");
    p->field.len = p->value.len = 0;
    p->in_value = 0;
    return 0;
}

static int on_header_field(http_parser *hp, const char *at, size_t len)
{
    struct tl_parse *p = of(hp);

    if (p->in_value && commit_field(p) < 0)
        return -1;
    return tl_buf_add(&p->field, at, len) < 0 ? cb_fail(p, "out of memory") : 0;
}

static int on_header_value(http_parser *hp, const char *at, size_t len)
{
    struct tl_parse *p = of(hp);

    p->in_value = 1;
    if (memchr(at, '\0', len) != NULL)
        return cb_fail(p, "NUL in the value of header \"%.80s\"",
                       p->field.data ? p->field.data : "");
    return tl_buf_add(&p->value, at, len) < 0 ? cb_fail(p, "out of memory") : 0;
}

/* ---------------------------------------------------------------------
 * Messages
 * ------------------------------------------------------------------- */

static int on_message_begin(http_parser *hp)
{
    struct tl_parse *p = of(hp);

    tl_response_clear_fields(p->r);
    p->field.len = p->value.len = 0;
    p->in_value = 0;
    free(p->r->reason);
    p->r->reason = NULL;
    return 0;
}

static int on_status(http_parser *hp, const char *at, size_t len)
{
    struct tl_parse *p = of(hp);
    size_t old = p->r->reason ? strlen(p->r->reason) : 0;
    char *s = realloc(p->r->reason, old + len + 1);

    if (s == NULL)
        return cb_fail(p, "out of memory");
    memcpy(s + old, at, len);
    s[old + len] = '\0';
    p->r->reason = s;
    return 0;
}

static int is_interim(int status)
{
    return status >= 100 && status < 200 && status != 101;
}

/* RFC 9112 4: HTTP-version and a 3-digit status code that means
 * something (RFC 9110 15). */
static int check_status_line(struct tl_parse *p)
{
    http_parser *hp = &p->hp;

    if (hp->http_major != 1 || hp->http_minor > 1)
        return cb_fail(p, "unsupported version HTTP/%u.%u in the status line",
                       hp->http_major, hp->http_minor);
    if (hp->status_code < 100 || hp->status_code > 599)
        return cb_fail(p, "status code %u out of range 100-599",
                       hp->status_code);
    return 0;
}

static int on_headers_complete(http_parser *hp)
{
    struct tl_parse *p = of(hp);
    sq_test_response *r = p->r;
    int skip_body;

    if (commit_field(p) < 0 || check_status_line(p) < 0)
        return -1;
    r->status = hp->status_code;
    r->version = hp->http_major * 10 + hp->http_minor;
    if (r->reason == NULL && (r->reason = strdup("")) == NULL)
        return cb_fail(p, "out of memory");
    /* RFC 9110 6.4.1: no content in 1xx, 204 and 304, whatever the
     * framing fields say (http-parser would read a 304's Content-Length) */
    skip_body = p->head_request || r->status < 200 || r->status == 204 ||
                r->status == 304;
    if (is_interim(r->status)) {
        if (r->ninterim == SQ_TEST_MAX_INTERIM)
            return cb_fail(p, "more than %d interim responses",
                           SQ_TEST_MAX_INTERIM);
        r->interim[r->ninterim++] = r->status;
        return 1;
    }
    p->final_head = 1;
    p->status = r->status;
    r->keep_alive = http_should_keep_alive(hp) && r->status != 101;
    cb_pause(p, TL_HEAD_DONE,
             !skip_body && (hp->flags & F_CHUNKED) ? TL_LINE : TL_NOTHING, 0);
    /* 1 tells http-parser that no body follows (RFC 9112 6.3 rule 1) */
    return skip_body;
}

static int on_body(http_parser *hp, const char *at, size_t len)
{
    struct tl_parse *p = of(hp);
    struct tl_buf *b = p->streaming ? &p->chunk : &p->body;

    if (tl_buf_add(b, at, len) == 0)
        return 0;
    return cb_fail(p, "%s larger than %zu bytes",
                   p->streaming ? "chunk" : "body", b->max);
}

static int on_chunk_header(http_parser *hp)
{
    struct tl_parse *p = of(hp);

    /* http-parser keeps the chunk size in content_length here */
    p->chunk_size = hp->content_length;
    if (!p->streaming && p->chunk_size > MAX_BODY - p->body.len)
        return cb_fail(p, "body larger than %zu bytes", MAX_BODY);
    if (p->streaming && p->chunk_size > MAX_CHUNK)
        return cb_fail(p, "chunk of %llu bytes, larger than %zu",
                       (unsigned long long)p->chunk_size, MAX_CHUNK);
    /* a pause only for the checker: data, CRLF, a size line - or the
     * trailer after the last chunk */
    if (p->chunk_size == 0)
        return cb_pause(p, TL_MORE, TL_TRAILER, 0);
    return cb_pause(p, TL_MORE, TL_CHUNK, p->chunk_size);
}

static int on_chunk_complete(http_parser *hp)
{
    struct tl_parse *p = of(hp);

    /* streaming: hand the chunk out (the checker needs nothing new: it
     * was told about the next size line at this chunk's header) */
    if (p->streaming && p->chunk_size > 0)
        return cb_pause(p, TL_CHUNK_DONE, TL_NOTHING, 0);
    return 0;
}

static int on_message_complete(http_parser *hp)
{
    struct tl_parse *p = of(hp);

    if (p->in_value && commit_field(p) < 0) /* the last trailer field */
        return -1;
    if (!p->final_head) /* an interim response: the final one is next */
        return cb_pause(p, TL_MORE, TL_HEAD, 0);
    p->r->keep_alive = http_should_keep_alive(hp) && p->status != 101;
    p->done = 1;
    p->upgraded = p->status == 101;
    return cb_pause(p, TL_MSG_DONE, TL_NOTHING, 0);
}

static const http_parser_settings settings = {
    .on_message_begin = on_message_begin,
    .on_status = on_status,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
    .on_chunk_header = on_chunk_header,
    .on_chunk_complete = on_chunk_complete,
};

/* ---------------------------------------------------------------------
 * Driving it
 * ------------------------------------------------------------------- */

int tl_parse_begin(struct tl_parse *p, int head_request, int streaming,
                   uint64_t pos)
{
    tl_parse_free(p);
    memset(p, 0, sizeof *p);
    http_parser_init(&p->hp, HTTP_RESPONSE);
    p->hp.data = p;
    p->pos = pos;
    p->head_request = head_request;
    p->streaming = streaming;
    p->field.max = p->value.max = (size_t)HTTP_MAX_HEADER_SIZE;
    p->body.max = MAX_BODY;
    p->chunk.max = MAX_CHUNK;
    tl_strict_expect(&p->strict, TL_HEAD, pos, 0);
    p->r = tl_response_new();
    return p->r != NULL ? 0 : -1;
}

/* After a pause: tells the checker what the bytes after pos are (a
 * TL_CHUNK_DONE pause changes nothing: the checker has already been told
 * about the next size line). */
static void next_expectation(struct tl_parse *p, enum tl_event e)
{
    if (e != TL_CHUNK_DONE)
        tl_strict_expect(&p->strict, p->next_expect, p->pos, p->next_skip);
}

/* Why http-parser stopped, in words that point at the server's bug. */
static void parser_error(struct tl_parse *p, const char *data, size_t len,
                         size_t at)
{
    enum http_errno e = HTTP_PARSER_ERRNO(&p->hp);
    const char *what = http_errno_description(e);
    size_t from = at > 16 ? at - 16 : 0;
    char near[128];

    if (p->error[0] != '\0') /* ours, from a callback */
        return;
    if (e == HPE_UNEXPECTED_CONTENT_LENGTH)
        what = "conflicting Content-Length fields, or Content-Length with "
               "Transfer-Encoding (RFC 9112 6.3)";
    else if (e == HPE_INVALID_CHUNK_SIZE)
        what = "malformed chunk size line";
    else if (e == HPE_INVALID_CONTENT_LENGTH && p->final_head)
        what = "chunk size too large";
    else if (e == HPE_INVALID_CONTENT_LENGTH)
        what = "bad Content-Length";
    else if (e == HPE_HEADER_OVERFLOW)
        what = "head larger than http-parser's HTTP_MAX_HEADER_SIZE";
    tl_quote(near, sizeof near, data + from, len - from, 40);
    snprintf(p->error, sizeof p->error,
             "%s at byte %llu of the stream, near %s", what,
             (unsigned long long)(p->pos + at), near);
}

enum tl_event tl_parse_feed(struct tl_parse *p, const char *data, size_t len,
                            size_t *used)
{
    size_t ok, n;
    enum tl_event e;

    *used = 0;
    if (p->error[0] != '\0')
        return TL_ERROR;
    if (p->done)
        return TL_MSG_DONE;
    if (len > 0)
        p->started = 1;
    ok = tl_strict_check(&p->strict, data, len, p->pos);
    p->event = TL_MORE;
    p->paused = 0;
    n = http_parser_execute(&p->hp, &settings, data, ok);
    if (HTTP_PARSER_ERRNO(&p->hp) == HPE_PAUSED) {
        http_parser_pause(&p->hp, 0);
        e = p->event;
    } else if (HTTP_PARSER_ERRNO(&p->hp) != HPE_OK) {
        parser_error(p, data, len, n);
        return TL_ERROR;
    } else if (ok < len) {
        snprintf(p->error, sizeof p->error, "%s", p->strict.error);
        return TL_ERROR;
    } else {
        e = TL_MORE;
    }
    *used = n;
    p->pos += n;
    if (p->paused)
        next_expectation(p, e);
    if (e == TL_MSG_DONE && !p->streaming &&
        tl_response_set_body(p->r, &p->body) < 0) {
        snprintf(p->error, sizeof p->error, "out of memory");
        return TL_ERROR;
    }
    return e;
}

enum tl_event tl_parse_eof(struct tl_parse *p, int reset)
{
    const char *how = reset ? "reset" : "closed";

    if (p->error[0] != '\0')
        return TL_ERROR;
    if (p->done)
        return TL_MSG_DONE;
    if (!p->started) {
        snprintf(p->error, sizeof p->error, "connection %s without a response",
                 how);
        return TL_ERROR;
    }
    /* a reset may have lost the end of a close-delimited body */
    if (!reset) {
        http_parser_execute(&p->hp, &settings, NULL, 0);
        if (HTTP_PARSER_ERRNO(&p->hp) == HPE_PAUSED) {
            http_parser_pause(&p->hp, 0);
            if (p->done &&
                (p->streaming || tl_response_set_body(p->r, &p->body) == 0))
                return TL_MSG_DONE;
        }
    }
    snprintf(p->error, sizeof p->error, "connection %s %s", how,
             !p->final_head ? "in the head of the response"
             : reset        ? "in the body (a reset can lose its end)"
                            : "before the end of the body");
    return TL_ERROR;
}

sq_test_response *tl_parse_take(struct tl_parse *p)
{
    sq_test_response *r = p->r;

    if (r == NULL || !p->final_head)
        return NULL;
    if (r->body == NULL) {
        struct tl_buf empty = {NULL, 0, 0, 0};

        if (tl_response_set_body(r, &empty) < 0)
            return NULL;
    }
    /* a streamed body goes on: its trailer fields go to a scratch
     * response, which the next take hands out */
    p->r = p->done ? NULL : tl_response_new();
    if (!p->done && p->r == NULL) {
        p->r = r;
        return NULL;
    }
    p->cap_headers = 0;
    return r;
}

void tl_parse_free(struct tl_parse *p)
{
    sq_test_response_free(p->r);
    p->r = NULL;
    tl_buf_free(&p->field);
    tl_buf_free(&p->value);
    tl_buf_free(&p->body);
    tl_buf_free(&p->chunk);
}
