/*
 * response.c - building responses: the sq_* response API and the
 * serialisation of status line, headers and body (RFC 9112 4, 6).
 *
 * A handler's writes collect in r->out, a buffer the connection lends to its
 * current request. When the request finishes, the head and the body are
 * appended to the connection's output, so a batch of pipelined requests is
 * answered with one write. sq_flush() switches to chunked framing instead.
 */
#include "internal.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define DEFAULT_CONTENT_TYPE "text/html; charset=UTF-8"

/* The Date header is formatted at most once a second (RFC 9110 6.6.1). */
static const char *response_date_line(size_t *len)
{
    static const char *const day[] = {"Sun", "Mon", "Tue", "Wed",
                                      "Thu", "Fri", "Sat"};
    static const char *const mon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    static char line[64];
    static size_t line_len;
    static time_t last = -1;
    time_t now = time(NULL);

    if (now != last) {
        struct tm tm;
        gmtime_r(&now, &tm);
        line_len = (size_t)snprintf(
            line, sizeof(line), "Date: %s, %02d %s %04d %02d:%02d:%02d GMT\r\n",
            day[tm.tm_wday], tm.tm_mday, mon[tm.tm_mon], tm.tm_year + 1900,
            tm.tm_hour, tm.tm_min, tm.tm_sec);
        last = now;
    }
    *len = line_len;
    return line;
}

/* A head is written straight into the output buffer: head_size() bounds
 * it, one reservation makes room, and the puts below cannot overflow. */
struct head {
    char *p;
};

static void head_put(struct head *h, const char *s, size_t n)
{
    memcpy(h->p, s, n);
    h->p += n;
}

static void head_puts(struct head *h, const char *s)
{
    head_put(h, s, strlen(s));
}

static void head_put_field(struct head *h, const char *name, const char *value)
{
    head_puts(h, name);
    head_put(h, ": ", 2);
    head_puts(h, value);
    head_put(h, "\r\n", 2);
}

/* Decimal digits of v, written backwards from end; returns the start.
 * (snprintf is a measurable part of a small response's cost.) */
static char *format_u64(char *end, uint64_t v)
{
    do {
        *--end = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    return end;
}

static void head_put_number(struct head *h, const char *name, uint64_t v)
{
    char num[24], *start = format_u64(num + sizeof(num) - 1, v);
    num[sizeof(num) - 1] = '\0';
    head_put_field(h, name, start);
}

/* Room for everything but the handler's headers: status line, Server,
 * Date, Content-Type, framing, Connection, a chunk size and the CRLFs. */
#define HEAD_FIXED 512

static size_t head_size(const sq_req *r)
{
    size_t n = HEAD_FIXED;
    for (size_t i = 0; i < r->nout; i++)
        n += r->out_headers[i].name_len + r->out_headers[i].value_len + 4;
    return n;
}

static int has_out_header(const sq_req *r, const char *name, size_t len)
{
    for (size_t i = 0; i < r->nout; i++)
        if (name_eq(r->out_headers[i].name, r->out_headers[i].name_len, name,
                    len))
            return 1;
    return 0;
}

/* RFC 9110 6.4.1: 1xx, 204 and 304 never have content. */
static int status_has_body(int status)
{
    return status >= 200 && status != 204 && status != 304;
}

static void put_status_line(struct head *h, int status)
{
    static const char ok[] =
        "HTTP/1.1 200 OK\r\nServer: " SQ_SERVER_NAME "\r\n";
    char line[96];
    int n;

    if (status == 200) {
        head_put(h, ok, sizeof(ok) - 1);
        return;
    }
    n = snprintf(line, sizeof(line), "HTTP/1.1 %d %s\r\nServer: %s\r\n", status,
                 http_status_text(status), SQ_SERVER_NAME);
    head_put(h, line, (size_t)n);
}

static void put_head(sq_req *r, struct head *h, int final, size_t body_len)
{
    size_t dlen;
    const char *date = response_date_line(&dlen);

    put_status_line(h, r->status);
    head_put(h, date, dlen);
    for (size_t i = 0; i < r->nout; i++)
        head_put_field(h, r->out_headers[i].name, r->out_headers[i].value);
    /* RFC 9110 15.3.6: a 205 has no content (its Content-Length is 0) */
    if (status_has_body(r->status) && r->status != 205 &&
        !has_out_header(r, "Content-Type", sizeof("Content-Type") - 1))
        head_put_field(h, "Content-Type", DEFAULT_CONTENT_TYPE);
    if (!status_has_body(r->status)) {
        /* RFC 9110 8.6, 9112 6.1: no framing for a response that has no
         * content; a 304's Content-Length would have to be the one of the
         * 200 it stands for, which squall cannot know */
    } else if (final) {
        head_put_number(h, "Content-Length", body_len);
    } else if (r->version == 11) {
        head_put_field(h, "Transfer-Encoding", "chunked");
        r->chunked_out = 1;
    } else {
        /* HTTP/1.0 has no chunked coding: the body ends at close */
        r->keep_alive = 0;
    }
    if (!r->keep_alive && r->version == 11)
        head_put_field(h, "Connection", "close");
    else if (r->keep_alive && r->version == 10)
        head_put_field(h, "Connection", "keep-alive");
    head_put(h, "\r\n", 2);
}

/* A final body at least this large is not copied after its head: it moves
 * to the connection's tail buffer, written after the head with one writev. */
#define MOVE_BODY_MIN (256 * 1024)

int response_serialize(sq_req *r, struct buf *out, struct buf *tail, int final)
{
    struct buf *body = r->out;
    size_t len = body ? buf_pending(body) : 0;
    int send_body = r->method != METHOD_HEAD && status_has_body(r->status);
    struct head h;
    char *start;

    if ((start = buf_reserve(out, head_size(r))) == NULL)
        return -1;
    h.p = start;
    if (!r->head_sent) {
        put_head(r, &h, final, len);
        r->head_sent = 1;
    }
    if (len > 0 && send_body && r->chunked_out)
        h.p += sprintf(h.p, "%zx\r\n", len);
    out->len += (size_t)(h.p - start);
    if (len >= MOVE_BODY_MIN && send_body && final && !r->chunked_out &&
        tail != NULL && buf_pending(tail) == 0) {
        struct buf empty = *tail;
        r->body_bytes += len;
        *tail = *body;
        *body = empty;
        return 0;
    }
    if (len > 0 && send_body) {
        r->body_bytes += len;
        if (buf_add(out, body->p + body->off, len) < 0)
            return -1;
        if (r->chunked_out && buf_add(out, "\r\n", 2) < 0)
            return -1;
    }
    if (body != NULL)
        buf_clear(body);
    if (final && r->chunked_out && send_body)
        return buf_add(out, "0\r\n\r\n", 5);
    return 0;
}

static int error_page(char *buf, size_t len, int status)
{
    const char *text = http_status_text(status);
    return snprintf(buf, len,
                    "<html><title>%d: %s</title><body>%d: %s</body></html>",
                    status, text, status, text);
}

int response_simple_error(struct buf *out, int status, int close)
{
    char body[256];
    int blen = error_page(body, sizeof(body), status);
    size_t dlen;
    const char *date = response_date_line(&dlen);
    struct head h;
    char *start = buf_reserve(out, HEAD_FIXED + (size_t)blen);

    if (start == NULL)
        return -1;
    h.p = start;
    put_status_line(&h, status);
    head_put(&h, date, dlen);
    head_put_field(&h, "Content-Type", DEFAULT_CONTENT_TYPE);
    head_put_number(&h, "Content-Length", (uint64_t)blen);
    if (close)
        head_put_field(&h, "Connection", "close");
    head_put(&h, "\r\n", 2);
    head_put(&h, body, (size_t)blen);
    out->len += (size_t)(h.p - start);
    return 0;
}

void response_error_page(sq_req *r, int status)
{
    char body[256];
    int blen = error_page(body, sizeof(body), status);

    r->status = status;
    r->nout = 0;
    if (r->out != NULL) {
        buf_clear(r->out);
        /* out of memory: the page goes out empty, with its status */
        (void)buf_add(r->out, body, (size_t)blen);
    }
}

/* --- the public response API ------------------------------------------ */

int sq_set_status(sq_req *r, int status)
{
    /* A final 1xx would leave the client waiting for the real response
     * and desynchronise a pipelined stream (RFC 9110 15.2): interim
     * responses are squall's to send (100 Continue, 101 upgrades). */
    if (r->head_sent || status < 200 || status > 599)
        return SQ_ERROR;
    r->status = status;
    return 0;
}

/* The length of a header name or value a handler gives, or -1 when it
 * could split the head: CR or LF anywhere, ':' or space in a name. */
static long field_len(const char *s, int is_name)
{
    const char *p = s;

    for (; *p; p++)
        if (*p == '\r' || *p == '\n' || (is_name && (*p == ':' || *p == ' ')))
            return -1;
    return is_name && p == s ? -1 : (long)(p - s);
}

#define IS(name, len, lit) name_eq(name, len, lit, sizeof(lit) - 1)

/* The framing of a message is squall's to decide (RFC 9112 6): a handler
 * that set these could make the response say two different lengths. */
static int framing_header(const char *name, size_t len)
{
    return IS(name, len, "Content-Length") ||
           IS(name, len, "Transfer-Encoding") || IS(name, len, "Connection");
}

/* Checks a header a handler gives: 0, or -1 when it must be refused. */
static int check_header(const sq_req *r, const char *name, const char *value,
                        size_t *nlen, size_t *vlen)
{
    long n = field_len(name, 1), v = field_len(value, 0);

    if (r->head_sent || n < 0 || v < 0 || framing_header(name, (size_t)n))
        return -1;
    *nlen = (size_t)n;
    *vlen = (size_t)v;
    return 0;
}

static int add_header(sq_req *r, const char *name, size_t nlen,
                      const char *value, size_t vlen)
{
    struct header *h;

    if (r->nout == r->cap_out) {
        size_t cap = r->cap_out ? r->cap_out * 2 : 8;
        struct header *n = sq_palloc(r->pool, cap * sizeof(*n));
        if (n == NULL)
            return SQ_ERROR;
        if (r->nout > 0)
            memcpy(n, r->out_headers, r->nout * sizeof(*n));
        r->out_headers = n;
        r->cap_out = cap;
    }
    h = &r->out_headers[r->nout];
    h->name_len = (uint32_t)nlen;
    h->value_len = (uint32_t)vlen;
    h->name = sq_pstrndup(r->pool, name, nlen);
    h->value = sq_pstrndup(r->pool, value, vlen);
    if (h->name == NULL || h->value == NULL)
        return SQ_ERROR;
    r->nout++;
    return 0;
}

int sq_add_header(sq_req *r, const char *name, const char *value)
{
    size_t nlen, vlen;

    if (check_header(r, name, value, &nlen, &vlen) < 0)
        return SQ_ERROR;
    return add_header(r, name, nlen, value, vlen);
}

int sq_set_header(sq_req *r, const char *name, const char *value)
{
    size_t nlen, vlen, j = 0;

    if (check_header(r, name, value, &nlen, &vlen) < 0)
        return SQ_ERROR;
    for (size_t i = 0; i < r->nout; i++)
        if (!name_eq(r->out_headers[i].name, r->out_headers[i].name_len, name,
                     nlen))
            r->out_headers[j++] = r->out_headers[i];
    r->nout = j;
    return add_header(r, name, nlen, value, vlen);
}

int sq_write(sq_req *r, const void *data, size_t len)
{
    if (r->finished)
        return SQ_ERROR;
    if (r->tp == NULL || r->out == NULL)
        return 0; /* the client went away: dropped, as documented */
    return buf_add(r->out, data, len) == 0 ? 0 : SQ_ERROR;
}

int sq_vprintf(sq_req *r, const char *fmt, va_list ap)
{
    if (r->finished)
        return SQ_ERROR;
    if (r->tp == NULL || r->out == NULL)
        return 0;
    return buf_vprintf(r->out, fmt, ap) < 0 ? SQ_ERROR : 0;
}

int sq_printf(sq_req *r, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = sq_vprintf(r, fmt, ap);
    va_end(ap);
    return rc;
}

int sq_redirect(sq_req *r, const char *url, int status)
{
    if (status == 0)
        status = 302;
    if (r->head_sent || field_len(url, 0) < 0 ||
        (status != 301 && status != 302 && status != 303 && status != 307 &&
         status != 308))
        return SQ_ERROR;
    /* headers set before (Set-Cookie of a login) stay; the body goes */
    if (r->out != NULL)
        buf_clear(r->out);
    r->status = status;
    return sq_set_header(r, "Location", url);
}

int sq_send_error(sq_req *r, int status)
{
    if (r->head_sent || status < 400 || status > 599)
        return SQ_ERROR;
    response_error_page(r, status);
    return 0;
}
