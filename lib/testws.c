/*
 * testws.c - sq_test_ws, a WebSocket client over an sq_test_conn: the
 * opening handshake (RFC 6455 4.1, checked strictly), messages sent as
 * masked frames (compressed and fragmented on request), messages received
 * whole with every frame checked (testwsframe.c), pings answered, and the
 * close handshake.
 *
 * Input is taken from the connection's buffer as it arrives: a frame's
 * payload goes straight into the message being assembled, so the input
 * buffer stays about one recv() large and a message is bounded by
 * SQ_TEST_MAX_WS_MESSAGE, compressed and inflated.
 */
#include "testlib.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum {
    OP_CONT = 0x0,
    OP_TEXT = 0x1,
    OP_BINARY = 0x2,
    OP_CLOSE = 0x8,
    OP_PING = 0x9,
    OP_PONG = 0xa,
};

struct sq_test_ws {
    sq_test_conn *c;
    char *protocol; /* chosen by the server, or NULL */
    int deflate;
    struct tl_ws_zip zip;
    int no_compress;
    size_t fragment_size;
    /* receiving */
    int have_head;          /* f is the frame being received */
    struct tl_ws_frame f;   /* its head */
    uint64_t got;           /* payload bytes of it received */
    unsigned long frames;   /* frames received, for errors */
    int in_msg;             /* a fragmented message is open */
    int msg_op, msg_rsv1;   /* its opcode, whether compressed */
    int msg_frames;         /* frames it came in so far */
    int handed_out;         /* msg/out were returned: clear them */
    struct tl_buf msg;      /* the payload of the message */
    struct tl_buf out;      /* the same, inflated */
    unsigned char ctl[126]; /* the payload of a control frame */
    unsigned pings;         /* pings answered */
    int close_sent;         /* we sent a close frame */
    int closed;             /* the server closed: close_code and reason */
    int close_code;
    char close_reason[128];
    int failed; /* a protocol error: failure says which */
    char failure[sizeof(((sq_test_conn *)0)->error)];
    /* sending */
    struct tl_buf frames_out; /* the frames of one message */
    struct tl_buf packed;     /* a compressed message */
};

/* ---------------------------------------------------------------------
 * The opening handshake
 * ------------------------------------------------------------------- */

/* The value of "Name: value" in headers (NULL-terminated), trimmed into
 * out; NULL when absent. */
static const char *line_value(const char *const *headers, const char *name,
                              char *out, size_t outlen)
{
    size_t n = strlen(name), len;
    const char *v;

    for (; headers != NULL && *headers != NULL; headers++) {
        if (strncasecmp(*headers, name, n) != 0 || (*headers)[n] != ':')
            continue;
        for (v = *headers + n + 1; *v == ' ' || *v == '\t'; v++)
            ;
        len = strlen(v);
        while (len > 0 && (v[len - 1] == ' ' || v[len - 1] == '\t'))
            len--;
        snprintf(out, outlen, "%.*s", (int)len, v);
        return out;
    }
    return NULL;
}

/* Fields named name in r. */
static size_t count_fields(const sq_test_response *r, const char *name)
{
    size_t i, n = 0;

    for (i = 0; i < r->nheaders; i++)
        n += strcasecmp(r->headers[i].name, name) == 0;
    return n;
}

/* Whether a field named name lists token (comma-separated,
 * case-insensitive), RFC 9110 5.6.1. */
static int has_token(const sq_test_response *r, const char *name,
                     const char *token)
{
    size_t i, n = strlen(token), len;
    const char *p, *end;

    for (i = 0; i < r->nheaders; i++) {
        if (strcasecmp(r->headers[i].name, name) != 0)
            continue;
        for (p = r->headers[i].value; *p != '\0'; p = *end ? end + 1 : end) {
            while (*p == ' ' || *p == '\t')
                p++;
            end = strchr(p, ',');
            if (end == NULL)
                end = p + strlen(p);
            len = (size_t)(end - p);
            while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
                len--;
            if (len == n && strncasecmp(p, token, n) == 0)
                return 1;
        }
    }
    return 0;
}

/* The Sec-WebSocket-Extensions fields of r joined with ", ". */
static int join_fields(const sq_test_response *r, const char *name,
                       struct tl_buf *b)
{
    size_t i;

    for (i = 0; i < r->nheaders; i++) {
        if (strcasecmp(r->headers[i].name, name) != 0)
            continue;
        if ((b->len > 0 && tl_buf_str(b, ", ") < 0) ||
            tl_buf_str(b, r->headers[i].value) < 0)
            return -1;
    }
    return tl_buf_add(b, "", 0);
}

/* The request's header lines: ours (unless the caller's replace them),
 * then the caller's; NULL-terminated. Ours are allocated: the first *nown
 * lines are the caller's to free, with the array. */
static char **request_lines(const sq_test_ws_options *o, const char *key,
                            const char *offer, size_t *nown)
{
    static const char *const names[] = {
        "Upgrade",
        "Connection",
        "Sec-WebSocket-Key",
        "Sec-WebSocket-Version",
        "Sec-WebSocket-Protocol",
        "Sec-WebSocket-Extensions",
    };
    const char *values[6] = {"websocket", "Upgrade", key, "13", NULL, offer};
    struct tl_buf protos = {NULL, 0, 0, 1u << 16};
    size_t nuser = 0, i, n = 0;
    const char *const *p;
    char **lines;

    for (p = o->headers; p != NULL && *p != NULL; p++)
        nuser++;
    for (p = o->subprotocols; p != NULL && *p != NULL; p++)
        if ((p != o->subprotocols && tl_buf_str(&protos, ", ") < 0) ||
            tl_buf_str(&protos, *p) < 0) {
            tl_buf_free(&protos);
            return NULL;
        }
    values[4] = protos.data;
    lines = calloc(6 + nuser + 1, sizeof *lines);
    for (i = 0; lines != NULL && i < 6; i++) {
        if (values[i] == NULL || tl_has_header(o->headers, names[i]))
            continue;
        lines[n] = malloc(strlen(names[i]) + strlen(values[i]) + 3);
        if (lines[n] == NULL)
            break;
        sprintf(lines[n++], "%s: %s", names[i], values[i]);
    }
    tl_buf_free(&protos);
    *nown = n;
    if (lines != NULL && i < 6) {
        while (n > 0)
            free(lines[--n]);
        free(lines);
        return NULL;
    }
    for (p = o->headers; lines != NULL && p != NULL && *p != NULL; p++)
        lines[n++] = (char *)*p;
    return lines;
}

static void free_lines(char **lines, size_t nown)
{
    size_t i;

    for (i = 0; lines != NULL && i < nown; i++)
        free(lines[i]);
    free(lines);
}

static void ws_free(sq_test_ws *ws)
{
    tl_ws_zip_free(&ws->zip);
    tl_buf_free(&ws->msg);
    tl_buf_free(&ws->out);
    tl_buf_free(&ws->frames_out);
    tl_buf_free(&ws->packed);
    free(ws->protocol);
    free(ws);
}

/* Checks the 101 against the request; 0, or -1 with c's error set. */
static int check_101(sq_test_conn *c, const char *what,
                     const sq_test_response *r, const sq_test_ws_options *o,
                     const char *key, sq_test_ws *ws)
{
    char want[TL_WS_ACCEPT_LEN + 1], err[512];
    const char *got = sq_test_header(r, "Sec-WebSocket-Accept");
    const char *proto = sq_test_header(r, "Sec-WebSocket-Protocol");
    const char *const *p;
    struct tl_buf ext = {NULL, 0, 0, 1u << 20};
    struct tl_ws_deflate agreed;
    int n;

    if (!has_token(r, "Upgrade", "websocket")) {
        tl_conn_fail(c,
                     "%s: the 101 has no \"Upgrade: websocket\" "
                     "(RFC 6455 4.1)",
                     what);
        return -1;
    }
    if (!has_token(r, "Connection", "upgrade")) {
        tl_conn_fail(c,
                     "%s: the 101 has no \"Connection: Upgrade\" "
                     "(RFC 6455 4.1)",
                     what);
        return -1;
    }
    if (tl_ws_accept(key, want, sizeof want) < 0) {
        tl_conn_fail(c, "%s: SHA-1 failed", what);
        return -1;
    }
    if (got == NULL || count_fields(r, "Sec-WebSocket-Accept") != 1 ||
        strcmp(got, want) != 0) {
        tl_conn_fail(c,
                     "%s: Sec-WebSocket-Accept is %s%s%s, not \"%s\" "
                     "(RFC 6455 4.2.2)",
                     what, got ? "\"" : "", got ? got : "missing",
                     got ? "\"" : "", want);
        return -1;
    }
    if (proto != NULL) {
        for (p = o->subprotocols; p != NULL && *p != NULL; p++)
            if (strcmp(*p, proto) == 0)
                break;
        if (p == NULL || *p == NULL ||
            count_fields(r, "Sec-WebSocket-Protocol") != 1) {
            tl_conn_fail(c,
                         "%s: the server chose the subprotocol \"%s\", which "
                         "was not offered (RFC 6455 4.1)",
                         what, proto);
            return -1;
        }
        if ((ws->protocol = strdup(proto)) == NULL) {
            tl_conn_fail(c, "%s: out of memory", what);
            return -1;
        }
    }
    if (join_fields(r, "Sec-WebSocket-Extensions", &ext) < 0) {
        tl_buf_free(&ext);
        tl_conn_fail(c, "%s: Sec-WebSocket-Extensions too long", what);
        return -1;
    }
    n = tl_ws_deflate_accept(o, ext.data, &agreed, err, sizeof err);
    tl_buf_free(&ext);
    if (n < 0) {
        tl_conn_fail(c, "%s: %s", what, err);
        return -1;
    }
    if (n == 1 && tl_ws_zip_init(&ws->zip, &agreed) < 0) {
        tl_conn_fail(c, "%s: zlib: out of memory", what);
        return -1;
    }
    ws->deflate = n == 1;
    return 0;
}

sq_test_ws *sq_test_ws_upgrade(sq_test_conn *c, const char *path,
                               const sq_test_ws_options *opt)
{
    static const sq_test_ws_options none;
    const sq_test_ws_options *o = opt != NULL ? opt : &none;
    double secs = tl_timeout_s(o->timeout_ms == 0 ? -1 : o->timeout_ms);
    double deadline = tl_now() + secs;
    char key[64], offer[256], what[96], err[512], near[96];
    struct tl_buf head = {NULL, 0, 0, 1u << 20};
    struct tl_request req = {.method = "GET", .host = c->host};
    sq_test_response *r = NULL;
    char **lines = NULL;
    size_t nown = 0;
    sq_test_ws *ws = NULL;

    path = path != NULL ? path : "/";
    snprintf(what, sizeof what, "GET %.80s", path);
    c->error[0] = '\0';
    if (o->response != NULL)
        *o->response = NULL;
    if (tl_ws_key(key, sizeof key) < 0) {
        tl_conn_fail(c, "%s: no random bytes for Sec-WebSocket-Key", what);
        return NULL;
    }
    /* the caller's key, when given, is the one the accept answers */
    line_value(o->headers, "Sec-WebSocket-Key", key, sizeof key);
    if (o->deflate &&
        tl_ws_deflate_offer(o, offer, sizeof offer, err, sizeof err) < 0) {
        tl_conn_fail(c, "%s: %s", what, err);
        return NULL;
    }
    lines = request_lines(o, key, o->deflate ? offer : NULL, &nown);
    if (lines == NULL) {
        tl_conn_fail(c, "%s: out of memory", what);
        goto out;
    }
    req.path = path;
    req.headers = (const char *const *)lines;
    if (tl_request_head(&req, &head, err, sizeof err) < 0) {
        tl_conn_fail(c, "%s: %s", what, err);
        goto out;
    }
    if (tl_conn_expect(c, 0, what) < 0 ||
        tl_conn_send_all(c, what, head.data, head.len, deadline) < 0)
        goto out;
    r = sq_test_conn_read(c, tl_ms_left(deadline, INT_MAX));
    if (r == NULL)
        goto out;
    if (o->response != NULL)
        *o->response = r;
    if (r->status != 101) {
        tl_quote(near, sizeof near, r->body, r->body_len, 60);
        tl_conn_fail(c, "%s: handshake refused: %d %s%s%s", what, r->status,
                     r->reason, r->body_len > 0 ? ": " : "",
                     r->body_len > 0 ? near : "");
        goto out;
    }
    if ((ws = calloc(1, sizeof *ws)) == NULL) {
        tl_conn_fail(c, "%s: out of memory", what);
        goto out;
    }
    if (check_101(c, what, r, o, key, ws) < 0) {
        ws_free(ws);
        ws = NULL;
        goto out;
    }
    ws->c = c;
    ws->no_compress = o->no_compress;
    ws->fragment_size = o->fragment_size;
    ws->msg.max = SQ_TEST_MAX_WS_MESSAGE + 4; /* + the tail inflate adds */
    ws->out.max = SQ_TEST_MAX_WS_MESSAGE + 1;
    ws->frames_out.max = SIZE_MAX / 2;
    ws->packed.max = SIZE_MAX / 2;
    snprintf(c->what, sizeof c->what, "WebSocket %.80s", path);
out:
    if (o->response == NULL)
        sq_test_response_free(r);
    free_lines(lines, nown);
    tl_buf_free(&head);
    return ws;
}

sq_test_ws *sq_test_ws_connect(sq_test_server *s, const char *path,
                               const sq_test_ws_options *opt)
{
    sq_test_conn *c = sq_test_connect(s);
    sq_test_ws *ws;

    if (c == NULL)
        return NULL;
    ws = sq_test_ws_upgrade(c, path, opt);
    if (ws == NULL) {
        tl_server_set_error(s, sq_test_conn_error(c));
        sq_test_conn_close(c);
        return NULL;
    }
    tl_server_set_error(s, "");
    return ws;
}

const char *sq_test_ws_protocol(const sq_test_ws *ws)
{
    return ws->protocol;
}

int sq_test_ws_deflate(const sq_test_ws *ws)
{
    return ws->deflate;
}

const char *sq_test_ws_error(const sq_test_ws *ws)
{
    return ws->c->error;
}

sq_test_conn *sq_test_ws_conn(const sq_test_ws *ws)
{
    return ws->c;
}

unsigned sq_test_ws_pings(const sq_test_ws *ws)
{
    return ws->pings;
}

/* ---------------------------------------------------------------------
 * Sending
 * ------------------------------------------------------------------- */

/* One message (or control frame) as masked frames of at most frag
 * payload bytes (0: one frame), each with a fresh mask (RFC 6455 5.3),
 * sent in one go. */
static int send_frames(sq_test_ws *ws, int opcode, int rsv1, const void *data,
                       size_t len, size_t frag, const char *what)
{
    struct tl_buf *b = &ws->frames_out;
    unsigned char head[TL_WS_HEAD_MAX], mask[4];
    const unsigned char *p = data;
    size_t off = 0, n, h;
    int first = 1;

    b->len = 0;
    if (frag == 0 || frag > len)
        frag = len;
    do {
        n = len - off < frag ? len - off : frag;
        if (tl_ws_random(mask, sizeof mask) < 0) {
            tl_conn_fail(ws->c, "%s: no random bytes for a mask", what);
            return -1;
        }
        h = tl_ws_head(head, off + n == len, first && rsv1 ? 4 : 0,
                       first ? opcode : OP_CONT, n, mask);
        if (tl_buf_add(b, head, h) < 0 || tl_buf_add(b, p + off, n) < 0) {
            tl_conn_fail(ws->c, "%s: out of memory", what);
            return -1;
        }
        tl_ws_mask((unsigned char *)b->data + b->len - n, n, mask, 0);
        off += n;
        first = 0;
    } while (off < len);
    return tl_conn_send_all(ws->c, what, b->data, b->len,
                            tl_now() + tl_default_timeout());
}

int sq_test_ws_send(sq_test_ws *ws, enum sq_test_ws_kind kind, const void *data,
                    size_t len)
{
    char what[128], err[256];
    int op;

    ws->c->error[0] = '\0';
    switch (kind) {
    case SQ_TEST_WS_TEXT:
        op = OP_TEXT;
        break;
    case SQ_TEST_WS_BINARY:
        op = OP_BINARY;
        break;
    case SQ_TEST_WS_PING:
        op = OP_PING;
        break;
    case SQ_TEST_WS_PONG:
        op = OP_PONG;
        break;
    default:
        tl_conn_fail(ws->c, "%s: kind %d cannot be sent", ws->c->what, kind);
        return -1;
    }
    snprintf(what, sizeof what, "%s: sending", ws->c->what);
    if (ws->close_sent) {
        tl_conn_fail(ws->c, "%s after the close frame (RFC 6455 5.5.1)", what);
        return -1;
    }
    if (data == NULL)
        data = "", len = 0;
    if (op >= OP_CLOSE) {
        if (len > 125) {
            tl_conn_fail(ws->c,
                         "%s: a control frame of %zu bytes (at most 125; "
                         "sq_test_ws_send_raw() sends anything)",
                         what, len);
            return -1;
        }
        return send_frames(ws, op, 0, data, len, 0, what);
    }
    if (!ws->deflate || ws->no_compress)
        return send_frames(ws, op, 0, data, len, ws->fragment_size, what);
    if (tl_ws_compress(&ws->zip, data, len, &ws->packed, err, sizeof err) < 0) {
        tl_conn_fail(ws->c, "%s: %s", what, err);
        return -1;
    }
    return send_frames(ws, op, 1, ws->packed.data ? ws->packed.data : "",
                       ws->packed.len, ws->fragment_size, what);
}

int sq_test_ws_send_text(sq_test_ws *ws, const char *text)
{
    return sq_test_ws_send(ws, SQ_TEST_WS_TEXT, text, strlen(text));
}

int sq_test_ws_send_binary(sq_test_ws *ws, const void *data, size_t len)
{
    return sq_test_ws_send(ws, SQ_TEST_WS_BINARY, data, len);
}

int sq_test_ws_ping(sq_test_ws *ws, const void *data, size_t len)
{
    return sq_test_ws_send(ws, SQ_TEST_WS_PING, data, len);
}

/* A close frame; code < 0 echoes none (a close without a code). */
static int send_close(sq_test_ws *ws, int code, const char *reason)
{
    unsigned char payload[125];
    size_t rlen = reason != NULL ? strlen(reason) : 0;
    char what[128];

    snprintf(what, sizeof what, "%s: sending the close", ws->c->what);
    if (code <= 0 && rlen > 0) {
        tl_conn_fail(ws->c, "%s: a reason needs a code", what);
        return -1;
    }
    if (code > 0xffff || rlen > 123) {
        tl_conn_fail(ws->c,
                     "%s: code %d or a reason of %zu bytes (at most "
                     "123) does not fit a close frame",
                     what, code, rlen);
        return -1;
    }
    ws->close_sent = 1;
    if (code <= 0)
        return send_frames(ws, OP_CLOSE, 0, payload, 0, 0, what);
    payload[0] = (unsigned char)(code >> 8);
    payload[1] = (unsigned char)code;
    if (rlen > 0)
        memcpy(payload + 2, reason, rlen);
    return send_frames(ws, OP_CLOSE, 0, payload, 2 + rlen, 0, what);
}

int sq_test_ws_send_close(sq_test_ws *ws, int code, const char *reason)
{
    ws->c->error[0] = '\0';
    if (ws->close_sent)
        return 0;
    return send_close(ws, code, reason);
}

int sq_test_ws_send_raw(sq_test_ws *ws, const void *bytes, size_t len)
{
    char what[128];

    ws->c->error[0] = '\0';
    snprintf(what, sizeof what, "%s: raw send", ws->c->what);
    return tl_conn_send_all(ws->c, what, bytes, len,
                            tl_now() + tl_default_timeout());
}

/* ---------------------------------------------------------------------
 * Receiving
 * ------------------------------------------------------------------- */

/* A protocol error: the connection is done, and later calls say so. */
static enum sq_test_ws_kind protocol_error(sq_test_ws *ws, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static enum sq_test_ws_kind protocol_error(sq_test_ws *ws, const char *fmt, ...)
{
    char why[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    tl_conn_fail(ws->c, "%s: frame %lu from the server: %s", ws->c->what,
                 ws->frames + 1, why);
    snprintf(ws->failure, sizeof ws->failure, "%s", ws->c->error);
    ws->failed = 1;
    return SQ_TEST_WS_ERROR;
}

static void fill_close(const sq_test_ws *ws, sq_test_ws_msg *m)
{
    m->kind = SQ_TEST_WS_CLOSE;
    m->code = ws->close_code;
    m->reason = ws->close_reason;
    m->data = ws->close_reason;
    m->len = strlen(ws->close_reason);
}

/* The server's close frame (payload in ws->ctl): checked, answered. */
static enum sq_test_ws_kind got_close(sq_test_ws *ws, size_t len,
                                      sq_test_ws_msg *m)
{
    size_t bad;
    int code = 1005;

    if (len == 1)
        return protocol_error(ws, "a close frame with a 1-byte payload "
                                  "(RFC 6455 5.5.1)");
    if (len >= 2) {
        code = ws->ctl[0] << 8 | ws->ctl[1];
        if (!tl_ws_close_code_ok(code))
            return protocol_error(ws,
                                  "close code %d, which may not be sent "
                                  "(RFC 6455 7.4)",
                                  code);
        if (tl_utf8_check((const char *)ws->ctl + 2, len - 2, &bad) < 0)
            return protocol_error(ws,
                                  "a close reason that is not UTF-8 "
                                  "(at byte %zu)",
                                  bad);
        memcpy(ws->close_reason, ws->ctl + 2, len - 2);
        ws->close_reason[len - 2] = '\0';
    }
    ws->closed = 1;
    ws->close_code = code;
    /* RFC 6455 5.5.1: answer with a close, echoing the code */
    if (!ws->close_sent && send_close(ws, code == 1005 ? 0 : code, NULL) < 0)
        return SQ_TEST_WS_ERROR;
    ws->c->error[0] = '\0';
    fill_close(ws, m);
    return SQ_TEST_WS_CLOSE;
}

/* A whole data message is in ws->msg: inflated, checked. */
static enum sq_test_ws_kind got_message(sq_test_ws *ws, sq_test_ws_msg *m)
{
    struct tl_buf *b = &ws->msg;
    char err[512];
    size_t bad;

    ws->in_msg = 0;
    ws->handed_out = 1;
    if (ws->msg_rsv1) {
        if (tl_ws_inflate(&ws->zip, b, &ws->out, err, sizeof err) < 0)
            return protocol_error(ws, "%s", err);
        b = &ws->out;
    }
    if (tl_buf_add(b, "", 0) < 0) /* the NUL, also when empty */
        return protocol_error(ws, "out of memory");
    if (ws->msg_op == OP_TEXT && tl_utf8_check(b->data, b->len, &bad) < 0)
        return protocol_error(ws,
                              "a text message that is not UTF-8 (at "
                              "byte %zu of %zu; RFC 6455 8.1)",
                              bad, b->len);
    m->kind = ws->msg_op == OP_TEXT ? SQ_TEST_WS_TEXT : SQ_TEST_WS_BINARY;
    m->data = b->data;
    m->len = b->len;
    m->compressed = ws->msg_rsv1;
    m->frames = ws->msg_frames;
    return m->kind;
}

/* A frame head is complete at the front of the input: checked, taken. */
static enum sq_test_ws_kind take_head(sq_test_ws *ws, size_t n)
{
    struct tl_ws_frame *f = &ws->f;
    char err[512];

    if (tl_ws_check_frame(f, ws->deflate, ws->in_msg, err, sizeof err) < 0)
        return protocol_error(ws, "%s", err);
    if (f->opcode < OP_CLOSE && f->len > SQ_TEST_MAX_WS_MESSAGE - ws->msg.len)
        return protocol_error(ws,
                              "a message of more than "
                              "SQ_TEST_MAX_WS_MESSAGE (%u) bytes",
                              SQ_TEST_MAX_WS_MESSAGE);
    if (f->opcode == OP_TEXT || f->opcode == OP_BINARY) {
        ws->in_msg = 1;
        ws->msg_op = f->opcode;
        ws->msg_rsv1 = (f->rsv & 4) != 0;
        ws->msg_frames = 0;
    }
    if (f->opcode < OP_CLOSE)
        ws->msg_frames++;
    tl_buf_consume(&ws->c->in, n);
    ws->c->in_pos += n;
    ws->have_head = 1;
    ws->got = 0;
    return SQ_TEST_WS_TIMEOUT; /* nothing to report yet */
}

/* The frame being received is whole: what it means. TIMEOUT: nothing to
 * report (a fragment, or a ping answered). */
static enum sq_test_ws_kind frame_done(sq_test_ws *ws, sq_test_ws_msg *m)
{
    struct tl_ws_frame *f = &ws->f;
    size_t len = (size_t)f->len;
    enum sq_test_ws_kind k = SQ_TEST_WS_TIMEOUT;

    ws->have_head = 0;
    switch (f->opcode) {
    case OP_PING:
        ws->pings++;
        if (!ws->close_sent && send_frames(ws, OP_PONG, 0, ws->ctl, len, 0,
                                           "answering a ping") < 0)
            k = SQ_TEST_WS_ERROR;
        break;
    case OP_PONG:
        ws->ctl[len] = '\0';
        m->kind = k = SQ_TEST_WS_PONG;
        m->data = (const char *)ws->ctl;
        m->len = len;
        break;
    case OP_CLOSE:
        k = got_close(ws, len, m);
        break;
    default:
        if (f->fin)
            k = got_message(ws, m);
    }
    ws->frames++; /* after: protocol_error() names this frame */
    return k;
}

/* Moves payload bytes from the input to where the frame's go. */
static int take_payload(sq_test_ws *ws)
{
    sq_test_conn *c = ws->c;
    uint64_t want = ws->f.len - ws->got;
    size_t n = c->in.len < want ? c->in.len : (size_t)want;

    if (n == 0)
        return 0;
    if (ws->f.opcode >= OP_CLOSE)
        memcpy(ws->ctl + ws->got, c->in.data, n);
    else if (tl_buf_add(&ws->msg, c->in.data, n) < 0)
        return -1;
    ws->got += n;
    tl_buf_consume(&c->in, n);
    c->in_pos += n;
    return 0;
}

/* The next thing to report, by the deadline. */
static enum sq_test_ws_kind next(sq_test_ws *ws, sq_test_ws_msg *m,
                                 double deadline, double secs)
{
    sq_test_conn *c = ws->c;
    enum sq_test_ws_kind k;
    char err[512];
    int n;

    for (;;) {
        if (!ws->have_head) {
            n = tl_ws_parse_head((const unsigned char *)c->in.data, c->in.len,
                                 &ws->f, err, sizeof err);
            if (n < 0)
                return protocol_error(ws, "%s", err);
            if (n > 0 && (k = take_head(ws, (size_t)n)) != SQ_TEST_WS_TIMEOUT)
                return k;
        }
        if (ws->have_head) {
            if (take_payload(ws) < 0)
                return protocol_error(ws, "out of memory");
            if (ws->got == ws->f.len) {
                k = frame_done(ws, m);
                if (k != SQ_TEST_WS_TIMEOUT)
                    return k;
                continue;
            }
        }
        if (c->eof) { /* without a close frame (RFC 6455 7.1.5) */
            ws->closed = 1;
            ws->close_code = 1006;
            ws->close_reason[0] = '\0';
            fill_close(ws, m);
            return SQ_TEST_WS_CLOSE;
        }
        switch (tl_conn_fill(c, deadline)) {
        case 1:
            tl_conn_timeout(c, secs, "waiting for a message");
            m->kind = SQ_TEST_WS_TIMEOUT;
            return SQ_TEST_WS_TIMEOUT;
        case -1:
            return SQ_TEST_WS_ERROR;
        }
    }
}

static enum sq_test_ws_kind recv_by(sq_test_ws *ws, sq_test_ws_msg *m,
                                    double deadline, double secs)
{
    memset(m, 0, sizeof *m);
    m->data = "";
    m->reason = "";
    ws->c->error[0] = '\0';
    if (ws->handed_out) {
        ws->msg.len = ws->out.len = 0;
        ws->handed_out = 0;
    }
    if (ws->failed) {
        tl_conn_fail(ws->c, "%s", ws->failure);
        m->kind = SQ_TEST_WS_ERROR;
        return SQ_TEST_WS_ERROR;
    }
    if (ws->closed) {
        fill_close(ws, m);
        return SQ_TEST_WS_CLOSE;
    }
    m->kind = next(ws, m, deadline, secs);
    return m->kind;
}

enum sq_test_ws_kind sq_test_ws_recv(sq_test_ws *ws, sq_test_ws_msg *m,
                                     int timeout_ms)
{
    double secs = tl_timeout_s(timeout_ms);
    sq_test_ws_msg scrap;

    return recv_by(ws, m != NULL ? m : &scrap, tl_now() + secs, secs);
}

/* ---------------------------------------------------------------------
 * Closing
 * ------------------------------------------------------------------- */

int sq_test_ws_close(sq_test_ws *ws, int code, const char *reason,
                     int timeout_ms)
{
    double secs = tl_timeout_s(timeout_ms), deadline = tl_now() + secs;
    sq_test_conn *c = ws->c;
    enum sq_test_ws_kind k = SQ_TEST_WS_CLOSE;
    sq_test_ws_msg m;
    char near[96];

    c->error[0] = '\0';
    if (!ws->close_sent && !ws->closed && send_close(ws, code, reason) < 0)
        return -1;
    while (!ws->closed) {
        k = recv_by(ws, &m, deadline, secs);
        if (k == SQ_TEST_WS_ERROR)
            return -1;
        if (k == SQ_TEST_WS_TIMEOUT) {
            tl_conn_fail(c,
                         "%s: timed out after %g s waiting for the "
                         "server's close frame",
                         c->what, secs);
            return -1;
        }
    }
    if (ws->close_code == 1006) {
        tl_conn_fail(c, "%s: the connection ended without a close frame",
                     c->what);
        return -1;
    }
    /* RFC 6455 7.1.1: the server ends the TCP connection first */
    for (;;) {
        if (c->in.len > 0) {
            tl_quote(near, sizeof near, c->in.data, c->in.len, 40);
            tl_conn_fail(c, "%s: %zu bytes after the server's close frame: %s",
                         c->what, c->in.len, near);
            return -1;
        }
        if (c->eof)
            return ws->close_code;
        switch (tl_conn_fill(c, deadline)) {
        case 1:
            tl_conn_fail(c,
                         "%s: the server did not end the TCP connection "
                         "within %g s of the close handshake (RFC 6455 7.1.1)",
                         c->what, secs);
            return -1;
        case -1:
            return -1;
        }
    }
}

void sq_test_ws_free(sq_test_ws *ws)
{
    if (ws == NULL)
        return;
    sq_test_conn_close(ws->c);
    ws_free(ws);
}

void sq_test_ws_reset(sq_test_ws *ws)
{
    if (ws == NULL)
        return;
    sq_test_conn_reset(ws->c);
    ws_free(ws);
}
