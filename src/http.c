/*
 * http.c - the HTTP/1.1 request parser, on http-parser.
 *
 * http-parser does the framing (request line, Content-Length, chunked);
 * this file turns its callbacks into an sq_req and adds what RFC 9112 asks
 * of a server that http-parser leaves to its user: limits with the right
 * status, strict field syntax, Host rules, and refusing every ambiguous
 * framing so that no request can be smuggled past a proxy. Where the
 * library (built non-strict on Debian) is lenient, a scan of the bytes
 * before it sees them refuses what it would take (struct scan). The rest
 * of squall sees only http_in_* and http_feed(), so the library can be
 * replaced (llhttp) here alone.
 */
#include "internal.h"

#include <http_parser.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum { CB_NONE, CB_FIELD, CB_VALUE };

struct text {
    char *p; /* NUL-terminated, in the request's pool; NULL when empty */
    size_t len;
};

/* The method token of the request line, as the scan sees it. */
enum { MTOK_IN, MTOK_OK, MTOK_BAD };

/* Where the scan of a chunked body is (RFC 9112 7.1). */
enum { CK_SIZE, CK_EXT, CK_LF, CK_DATA, CK_DATA_CR, CK_DATA_LF, CK_TRAILER };

/*
 * What http_feed() checks in the bytes of a message before http-parser
 * sees them: Debian builds the library non-strict, and then it takes a
 * bare CR for a line end and eats the byte after it, folds an empty first
 * value into the next line, and takes any two bytes after chunk data for
 * its CRLF. The scan covers the head and a chunked body (the lines that
 * frame it); lines end at LF, as they do in http-parser.
 */
struct scan {
    size_t at;            /* bytes of the message scanned */
    unsigned char cr;     /* the last byte was a CR */
    unsigned char bol;    /* at the beginning of a line */
    unsigned char done;   /* the end of the head, or of the message */
    unsigned char method; /* MTOK_* */
    unsigned lines;       /* non-empty lines begun */
    int chunk;            /* CK_* */
    uint64_t size;        /* the chunk size read, then the data still due */
};

struct http_in {
    http_parser parser;
    sq_req *r;
    const struct limits_conf *lim;
    /* the target, and the field being read, in the request's pool: a
     * piece split across reads is joined there (rare), so a field is
     * copied once, from the input into the pool */
    struct text url, name, value;
    size_t head_bytes; /* bytes of the head seen so far */
    int last_cb;
    int status;     /* our verdict when a callback fails */
    int state;      /* HTTP_IN_* reached by the current request */
    int head_event; /* the head completed since the last return */
    int started;
    int nhost, nte;
    int in_trailer;                  /* fields after the last chunk */
    int conn_close, conn_keep_alive; /* Connection tokens seen */
    int bad_method; /* http-parser refused the method: wait for its end */
    size_t fed;     /* bytes of the message given to the parser */
    struct scan scan;
    /* obs-fold detection: where the current http_parser_execute() input
     * starts, and whether the last value piece ended at the input's end */
    const char *feed_start, *value_end;
    int value_at_end;
};

static const http_parser_settings settings;

/* Appends s to t (in pool), NUL-terminated. */
static int text_add(sq_pool *pool, struct text *t, const char *s, size_t n)
{
    char *p = sq_palloc(pool, t->len + n + 1);

    if (p == NULL)
        return -1;
    if (t->len > 0)
        memcpy(p, t->p, t->len);
    memcpy(p + t->len, s, n);
    t->len += n;
    p[t->len] = '\0';
    t->p = p;
    return 0;
}

struct http_in *http_in_new(void)
{
    struct http_in *h = calloc(1, sizeof(*h));
    if (h == NULL)
        return NULL;
    http_parser_init(&h->parser, HTTP_REQUEST);
    h->parser.data = h;
    return h;
}

void http_in_free(struct http_in *h)
{
    if (h == NULL)
        return;
    free(h);
}

void http_in_begin(struct http_in *h, sq_req *r, const struct limits_conf *lim)
{
    enum http_errno e = HTTP_PARSER_ERRNO(&h->parser);

    /* after an error the connection closes; starting over is for tests */
    if ((e != HPE_OK && e != HPE_PAUSED) || h->status != 0) {
        http_parser_init(&h->parser, HTTP_REQUEST);
        h->parser.data = h;
    }
    h->r = r;
    h->lim = lim;
    h->url = h->name = h->value = (struct text){NULL, 0};
    h->head_bytes = 0;
    h->last_cb = CB_NONE;
    h->status = 0;
    h->state = HTTP_IN_MORE;
    h->head_event = 0;
    h->started = 0;
    h->nhost = h->nte = 0;
    h->in_trailer = 0;
    h->conn_close = h->conn_keep_alive = 0;
    h->bad_method = 0;
    h->fed = 0;
    memset(&h->scan, 0, sizeof(h->scan));
    h->scan.bol = 1;
}

int http_in_head_done(const struct http_in *h)
{
    return h->state >= HTTP_IN_HEAD;
}

int http_in_started(const struct http_in *h)
{
    return h->started;
}

static int fail(struct http_in *h, int status)
{
    h->status = status;
    return -1;
}

static int on_message_begin(http_parser *p)
{
    struct http_in *h = p->data;
    h->started = 1;
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
    struct http_in *h = p->data;
    if (h->url.len + len > h->lim->max_uri_size)
        return fail(h, 414);
    return text_add(h->r->pool, &h->url, at, len) < 0 ? fail(h, 500) : 0;
}

/* RFC 9110 5.6.2: tchar, the bytes of a token (field names, methods); a
 * table, since every byte of every field name goes through it. */
static const unsigned char tchar[256] = {
    ['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1,
    ['*'] = 1, ['+'] = 1, ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1,
    ['`'] = 1, ['|'] = 1, ['~'] = 1,
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1,
    ['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1,
    ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1,
    ['G'] = 1, ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1,
    ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1,
    ['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1,
    ['Y'] = 1, ['Z'] = 1,
    ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1,
    ['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1,
    ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1,
    ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1,
    ['y'] = 1, ['z'] = 1,
};

static int is_tchar(unsigned char c)
{
    return tchar[c];
}

static int valid_name(const char *s, size_t n)
{
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!is_tchar((unsigned char)s[i]))
            return 0;
    return 1;
}

/* RFC 9110 5.5: no CTLs other than HTAB in a field value. */
static int valid_value(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return 0;
    }
    return 1;
}

/* Whether the name in b is the literal lit, in any case. */
#define NAME_IS(b, lit) name_eq((b)->p, (b)->len, lit, sizeof(lit) - 1)

/* RFC 9112 6.1: the only transfer coding we implement is chunked; a coding
 * before it is unknown to us (501), and chunked not last cannot frame a
 * request (400). */
static int check_te(struct http_in *h, const char *v)
{
    size_t n = strlen(v);

    if (++h->nte > 1)
        return fail(h, 400);
    if (strcasecmp(v, "chunked") == 0)
        return 0;
    if (n > 7 && strcasecmp(v + n - 7, "chunked") == 0)
        return fail(h, 501);
    return fail(h, 400);
}

/* RFC 9110 7.6.1: Connection is a list of case-insensitive tokens,
 * separated by commas with optional whitespace (SP, HTAB) around them, and
 * may be sent as several fields. */
static void connection_tokens(struct http_in *h, const char *v)
{
    while (*v != '\0') {
        size_t n = strcspn(v, ",");
        const char *t = v, *e = v + n;

        while (t < e && (*t == ' ' || *t == '\t'))
            t++;
        while (e > t && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        if (name_eq(t, (size_t)(e - t), "close", 5))
            h->conn_close = 1;
        else if (name_eq(t, (size_t)(e - t), "keep-alive", 10))
            h->conn_keep_alive = 1;
        v += n + (v[n] == ',');
    }
}

static int commit_header(struct http_in *h)
{
    sq_req *r = h->r;
    struct text *v = &h->value;
    char *name = h->name.p, *value = v->len ? v->p : "";

    while (v->len > 0 && (v->p[v->len - 1] == ' ' || v->p[v->len - 1] == '\t'))
        v->p[--v->len] = '\0';
    if (!valid_name(h->name.p, h->name.len) || !valid_value(v->p, v->len))
        return fail(h, 400);
    /* RFC 9110 6.5.1: trailer fields are checked, then dropped, since
     * none that squall knows may be merged into the header section */
    if (h->in_trailer) {
        h->name = h->value = (struct text){NULL, 0};
        return 0;
    }
    if (req_add_header(r, name, h->name.len, value, v->len) < 0)
        return fail(h, 500);
    if (NAME_IS(&h->name, "host")) {
        h->nhost++;
        r->host = value;
    } else if (NAME_IS(&h->name, "transfer-encoding")) {
        if (check_te(h, value) < 0)
            return -1;
    } else if (NAME_IS(&h->name, "connection")) {
        connection_tokens(h, value);
    } else if (NAME_IS(&h->name, "expect")) {
        if (strcasecmp(value, "100-continue") != 0)
            return fail(h, 417);
        r->expect_continue = 1;
    }
    h->name = h->value = (struct text){NULL, 0};
    return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
    struct http_in *h = p->data;
    if (h->last_cb == CB_VALUE && commit_header(h) < 0)
        return -1;
    h->last_cb = CB_FIELD;
    return text_add(h->r->pool, &h->name, at, len) < 0 ? fail(h, 500) : 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
    struct http_in *h = p->data;

    /* A second value piece for the same field is either the rest of a value
     * split across two reads (the first piece ended where that input ended
     * and this one starts where this input starts) or an obs-fold
     * continuation line, which RFC 9112 5.2 lets a server reject. The scan
     * refuses fold lines, in the head and the trailer section, before the
     * parser sees them; this stays as a second guard. */
    if (h->last_cb == CB_VALUE && (!h->value_at_end || at != h->feed_start))
        return fail(h, 400);
    h->last_cb = CB_VALUE;
    h->value_end = at + len;
    if (text_add(h->r->pool, &h->value, at, len) < 0)
        return fail(h, 500);
    return 0;
}

static int method_of(const http_parser *p, sq_req *r)
{
    const char *m = http_method_str((enum http_method)p->method);
    r->method_s = m;
    return method_from_name(m, strlen(m));
}

/* RFC 9112 9.3: HTTP/1.1 persists unless "close" is listed; HTTP/1.0 only
 * with "keep-alive", and "close" wins over it. http-parser's own verdict
 * misses tokens followed by whitespace ("close\t"). */
static int keep_alive(const struct http_in *h, int version)
{
    if (h->conn_close)
        return 0;
    return version == 11 || h->conn_keep_alive;
}

/* Whether an absolute-form target carries userinfo (scheme "://" then an
 * authority with an '@'). RFC 9110 4.2.4: a sender must not send it and a
 * recipient should treat it as an error: it is a phishing vector, and
 * parsers disagree on where such an authority ends. */
static int has_userinfo(const char *t)
{
    static const char scheme[] = "abcdefghijklmnopqrstuvwxyz"
                                 "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-.";
    size_t n;

    if (t[0] == '/')
        return 0; /* origin-form, the usual case */
    n = strspn(t, scheme);
    if (n == 0 || strncmp(t + n, "://", 3) != 0)
        return 0;
    t += n + 3;
    return memchr(t, '@', strcspn(t, "/?#")) != NULL;
}

static int on_headers_complete(http_parser *p)
{
    struct http_in *h = p->data;
    sq_req *r = h->r;

    if (h->last_cb == CB_VALUE && commit_header(h) < 0)
        return -1;
    h->last_cb = CB_NONE;
    h->in_trailer = 1;
    if (p->http_major != 1)
        return fail(h, 505);
    r->version = p->http_minor == 0 ? 10 : 11;
    /* RFC 9112 6.1: Transfer-Encoding in HTTP/1.0 means the framing is
     * faulty (a 1.0 intermediary may have ignored it): refuse, and close */
    if (r->version == 10 && h->nte > 0)
        return fail(h, 400);
    /* RFC 9112 3.2: exactly one Host in HTTP/1.1, at most one before */
    if (h->nhost > 1 || (r->version == 11 && h->nhost == 0))
        return fail(h, 400);
    r->method = method_of(p, r);
    r->target = h->url.p != NULL ? h->url.p : sq_pstrdup(r->pool, "");
    if (r->target == NULL)
        return fail(h, 500);
    if (has_userinfo(r->target) || req_parse_target(r) < 0)
        return fail(h, 400);
    r->keep_alive = keep_alive(h, r->version) && !p->upgrade;
    r->chunked_in = (p->flags & F_CHUNKED) != 0;
    if (!r->chunked_in && p->content_length != ULLONG_MAX &&
        p->content_length > h->lim->max_body_size)
        return fail(h, 413);
    h->state = HTTP_IN_HEAD;
    h->head_event = 1;
    if (r->chunked_in) {
        h->scan.done = 0;
        h->scan.chunk = CK_SIZE;
    }
    /* Stop here when a body follows, so that the connection can answer
     * Expect: 100-continue and switch to the body timeout. */
    if (r->chunked_in ||
        (p->content_length != ULLONG_MAX && p->content_length > 0))
        http_parser_pause(p, 1);
    return 0;
}

/* Frees the body of the request whose pool is released. */
static void body_free(void *arg)
{
    sq_req *r = arg;
    free(r->body);
    r->body = NULL;
}

/*
 * Makes room for need bytes of body (and its NUL). The buffer grows with
 * what arrives, doubling from 1 KiB, and never past the declared length:
 * reserving the whole Content-Length at the first byte would let clients
 * that declare max_body_size and send little hold that much each. It is
 * malloc'd so that realloc can grow it in place; the request's pool frees
 * it. declared is the Content-Length, or 0 when chunked.
 */
static int body_reserve(sq_req *r, size_t need, size_t declared)
{
    size_t cap = r->body_cap ? r->body_cap : 1024;
    char *b;

    if (need <= r->body_cap)
        return 0;
    while (cap < need)
        cap *= 2;
    if (declared > 0 && cap > declared + 1)
        cap = declared + 1;
    if (r->body == NULL && sq_pool_cleanup(r->pool, body_free, r) < 0)
        return -1;
    if ((b = realloc(r->body, cap)) == NULL)
        return -1;
    r->body = b;
    r->body_cap = cap;
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
    struct http_in *h = p->data;
    sq_req *r = h->r;
    size_t declared = 0;

    if (r->body_len + len > h->lim->max_body_size)
        return fail(h, 413);
    /* http-parser counts content_length down: what is still to come */
    if (!r->chunked_in && p->content_length != ULLONG_MAX)
        declared = r->body_len + len + (size_t)p->content_length;
    if (body_reserve(r, r->body_len + len + 1, declared) < 0)
        return fail(h, 500);
    memcpy(r->body + r->body_len, at, len);
    r->body_len += len;
    r->body[r->body_len] = '\0';
    return 0;
}

static int on_message_complete(http_parser *p)
{
    struct http_in *h = p->data;
    if (h->last_cb == CB_VALUE && commit_header(h) < 0)
        return -1;
    if (h->r->body == NULL)
        h->r->body = "";
    h->state = HTTP_IN_DONE;
    /* one request at a time: the next one is parsed after this one is
     * answered, which keeps pipelined responses in order */
    http_parser_pause(p, 1);
    return 0;
}

static const http_parser_settings settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

static int status_of(const struct http_in *h)
{
    if (h->status != 0)
        return h->status;
    return HTTP_PARSER_ERRNO(&h->parser) == HPE_HEADER_OVERFLOW ? 431 : 400;
}

/* Follows the method token of the request line: RFC 9112 3 wants a token
 * (RFC 9110 9.1) and then SP. */
static void scan_method(struct scan *sc, unsigned char c, int first)
{
    if (sc->method != MTOK_IN)
        return;
    if (c == ' ')
        sc->method = first ? MTOK_BAD : MTOK_OK;
    else if (!is_tchar(c))
        sc->method = MTOK_BAD;
}

/* The line rules of a head and of a trailer section. */
static int line_byte(struct http_in *h, unsigned char c)
{
    struct scan *sc = &h->scan;

    /* RFC 9112 2.2: a bare CR is invalid; taken as a line end, it would
     * hide the byte after it from us but not from another parser */
    if (sc->cr && c != '\n')
        return fail(h, 400);
    sc->cr = c == '\r';
    if (c == '\r')
        return 0;
    if (c == '\n') {
        /* RFC 9112 2.2: empty lines before the request line are ignored */
        sc->done = sc->bol && sc->lines > 0;
        sc->bol = 1;
        return 0;
    }
    if (sc->bol) {
        /* RFC 9112 5.2: obs-fold is refused, even after an empty value
         * (http-parser then uses the folded value to frame the body);
         * RFC 9112 2.2: so is whitespace before the first field line */
        if (sc->lines > 0 && (c == ' ' || c == '\t'))
            return fail(h, 400);
        sc->lines++;
    }
    sc->bol = 0;
    return 0;
}

static int head_byte(struct http_in *h, unsigned char c)
{
    struct scan *sc = &h->scan;
    int first = sc->bol && c != '\r' && c != '\n';

    if (line_byte(h, c) < 0)
        return -1;
    if (sc->lines == 1)
        scan_method(sc, c, first);
    return 0;
}

static int hex_digit(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* A byte of a chunk-size line, up to its extensions or its CR. A chunk
 * larger than the body may be is refused before its data comes. */
static int chunk_size_byte(struct http_in *h, unsigned char c)
{
    struct scan *sc = &h->scan;
    int v = hex_digit(c);

    if (v < 0) {
        sc->chunk = c == '\r' ? CK_LF : CK_EXT;
        return c == '\n' ? fail(h, 400) : 0;
    }
    if (sc->size > h->lim->max_body_size / 16)
        return fail(h, 413);
    sc->size = sc->size * 16 + (uint64_t)v;
    return sc->size > h->lim->max_body_size ? fail(h, 413) : 0;
}

/* The CR LF that ends a chunk-size line: then data, or the trailer
 * section after the last chunk. */
static int chunk_line_end(struct http_in *h, unsigned char c)
{
    struct scan *sc = &h->scan;

    if (c != '\n')
        return fail(h, 400); /* RFC 9112 2.2: a bare CR */
    if (sc->size > 0) {
        sc->chunk = CK_DATA;
        return 0;
    }
    sc->chunk = CK_TRAILER;
    sc->cr = 0;
    sc->bol = 1;
    return 0;
}

/* A byte of the framing of a chunked body (RFC 9112 7.1). */
static int chunk_byte(struct http_in *h, unsigned char c)
{
    struct scan *sc = &h->scan;

    switch (sc->chunk) {
    case CK_SIZE:
        return chunk_size_byte(h, c);
    case CK_EXT:
        /* the line ends with CRLF: http-parser would read on past a bare
         * LF, taking the next line for an extension */
        if (c == '\r')
            sc->chunk = CK_LF;
        return c == '\n' ? fail(h, 400) : 0;
    case CK_LF:
        return chunk_line_end(h, c);
    case CK_DATA_CR:
    case CK_DATA_LF:
        /* chunk data ends with CRLF; http-parser takes any two bytes */
        if (c != (sc->chunk == CK_DATA_CR ? '\r' : '\n'))
            return fail(h, 400);
        sc->chunk = sc->chunk == CK_DATA_CR ? CK_DATA_LF : CK_SIZE;
        return 0;
    default:
        return line_byte(h, c);
    }
}

/* Skips chunk data in s; returns the bytes skipped. */
static size_t chunk_data(struct scan *sc, size_t len)
{
    size_t n = len < sc->size ? len : (size_t)sc->size;

    sc->size -= n;
    if (sc->size == 0)
        sc->chunk = CK_DATA_CR;
    return n;
}

/* Whether the scan is inside a line where only CR and LF matter: past
 * the method token of the request line, or past the start of a field
 * line or of a chunk extension. */
static int in_line(const struct scan *sc, int head)
{
    if (!head && sc->chunk == CK_EXT)
        return 1;
    if (!head && sc->chunk != CK_TRAILER)
        return 0;
    return !sc->bol && !sc->cr && (!head || sc->method != MTOK_IN);
}

/* The number of bytes before the next CR or LF (memchr is vectorised;
 * the CR is looked for only up to the LF, so that a head of bare-LF lines
 * is not read again for each line). */
static size_t line_rest(const char *s, size_t len)
{
    const char *lf = memchr(s, '\n', len), *cr;

    if (lf != NULL)
        len = (size_t)(lf - s);
    cr = memchr(s, '\r', len);
    return cr != NULL ? (size_t)(cr - s) : len;
}

/* Scans s up to the end of the head or of the chunked body; returns the
 * bytes scanned, or -1 with the status set. Inside lines and chunk data
 * it skips ahead, so that it costs little next to the parser. */
static long scan_bytes(struct http_in *h, const char *s, size_t len)
{
    int head = h->state == HTTP_IN_MORE;
    size_t i = 0;
    unsigned char c;

    while (i < len && !h->scan.done) {
        if (!head && h->scan.chunk == CK_DATA) {
            i += chunk_data(&h->scan, len - i);
            continue;
        }
        if (in_line(&h->scan, head) && (i += line_rest(s + i, len - i)) == len)
            break;
        c = (unsigned char)s[i++];
        if ((head ? head_byte(h, c) : chunk_byte(h, c)) < 0)
            return -1;
    }
    return (long)i;
}

/* Scans what of s the scan has not seen: the parser stops short of a head
 * followed by a body and is given its last byte again. A Content-Length
 * body is not scanned. */
static int scan(struct http_in *h, const char *s, size_t len)
{
    struct scan *sc = &h->scan;
    long n;

    if (h->state != HTTP_IN_MORE && !h->r->chunked_in)
        return 0;
    if (sc->at < h->fed)
        sc->at = h->fed;
    if (sc->at - h->fed >= len)
        return 0;
    n = scan_bytes(h, s + (sc->at - h->fed), len - (sc->at - h->fed));
    if (n < 0)
        return -1;
    sc->at += (size_t)n;
    return 0;
}

/* RFC 9110 9.1: a method token that we do not know is 501 (Not
 * Implemented), one that is not a token is 400. http-parser refuses both
 * at their first unknown byte; the head scan tells them apart once it has
 * seen where the token ends, so until then the input is taken and kept
 * from the parser. Returns 0 for more, or -status. */
static int method_verdict(struct http_in *h, size_t len, size_t *n)
{
    h->bad_method = 1;
    h->started = 1; /* http-parser began no message: the timers need it */
    *n = len;
    if (h->scan.method == MTOK_OK)
        return -501;
    return h->scan.method == MTOK_BAD ? -400 : 0;
}

/* Runs http-parser over s; *n gets the bytes it took. Returns 0 to go on,
 * 1 when it paused at a complete head or message, or -status. */
static int parse(struct http_in *h, const char *s, size_t len, size_t *n)
{
    enum http_errno e;

    http_parser_pause(&h->parser, 0);
    h->feed_start = s;
    *n = http_parser_execute(&h->parser, &settings, s, len);
    /* a value piece ending exactly at the input's end may continue */
    h->value_at_end = h->last_cb == CB_VALUE && h->value_end == s + len;
    e = HTTP_PARSER_ERRNO(&h->parser);
    if (e == HPE_INVALID_METHOD && h->status == 0)
        return method_verdict(h, len, n);
    if (e != HPE_OK && e != HPE_PAUSED)
        return -status_of(h);
    return e == HPE_PAUSED || h->parser.upgrade;
}

/* Feeds one piece of input: it is scanned before the parser sees it, and
 * a head no further than the head size limit, so that an oversized head is
 * refused before it is buffered. */
static int feed_piece(struct http_in *h, const char *s, size_t len, size_t *n)
{
    int head = h->state == HTTP_IN_MORE, rc;

    if (head && len > h->lim->max_header_size + 1 - h->head_bytes)
        len = h->lim->max_header_size + 1 - h->head_bytes;
    *n = 0;
    if (scan(h, s, len) < 0)
        return -h->status;
    if (h->bad_method)
        rc = method_verdict(h, len, n);
    else
        rc = parse(h, s, len, n);
    h->fed += *n;
    if (rc < 0 || !head || h->state != HTTP_IN_MORE)
        return rc;
    h->head_bytes += *n;
    if (h->head_bytes > h->lim->max_header_size) {
        h->status = 431;
        return -431;
    }
    return rc;
}

int http_feed(struct http_in *h, const char *data, size_t len, size_t *used)
{
    size_t total = 0, n;
    int rc = 0;

    while (total < len && rc == 0) {
        rc = feed_piece(h, data + total, len - total, &n);
        total += n;
    }
    *used = total;
    if (rc < 0)
        return rc;
    if (h->state == HTTP_IN_DONE)
        return HTTP_IN_DONE;
    if (h->head_event) {
        h->head_event = 0;
        return HTTP_IN_HEAD;
    }
    return HTTP_IN_MORE;
}
