/*
 * testlib.h - private to libsquall-test (include/squall/test.h is the
 * public side). Prototypes are grouped by the file that defines them.
 *
 *   testutil.c     clocks, deadlines, error strings, bounded buffers
 *   testspawn.c    the squalld child: exec it as systemd would, reap it
 *   testserver.c   sq_test_start/stop: temporary directory, sockets
 *   testlog.c      squalld's log: quoted in errors, searched by tests
 *   teststrict.c   the framing checks Debian's lenient http-parser skips
 *   testparse.c    a response parser on http-parser (HTTP_RESPONSE)
 *   testresponse.c the sq_test_response object
 *   testrequest.c  serialising a request head
 *   testconn.c     sq_test_conn: open, wait for input, close on purpose
 *   testsend.c     sending requests on it, queued for pipelining
 *   testread.c     reading responses on it, whole or chunk by chunk
 *   testfetch.c    sq_test_fetch: one request on its own connection
 *   testwsframe.c  WebSocket frames, masks, handshake key, UTF-8: no I/O
 *   testwsdeflate.c permessage-deflate: offer, answer, zlib per message
 *   testws.c       sq_test_ws: handshake, send, receive, close
 */
#ifndef SQUALL_TESTLIB_H
#define SQUALL_TESTLIB_H

#include <squall/test.h>

#include <sys/types.h>
#include <sys/un.h>

#include <http_parser.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <zlib.h>

#define DEFAULT_TIMEOUT 10.0 /* seconds, unless $SQ_TEST_TIMEOUT */

/* ---------------------------------------------------------------------
 * testutil.c
 * ------------------------------------------------------------------- */

double tl_now(void);
/* Milliseconds left until deadline, at most cap, at least 0. */
int tl_ms_left(double deadline, int cap);
/* $SQ_TEST_TIMEOUT in seconds, or DEFAULT_TIMEOUT. */
double tl_default_timeout(void);
/* A timeout_ms argument as seconds: SQ_TEST_DEFAULT (any negative)
 * means tl_default_timeout(). */
double tl_timeout_s(int timeout_ms);

void tl_seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void tl_vseterr(char *err, size_t errlen, const char *fmt, va_list ap);
/* Appends to the string already in err. */
void tl_adderr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Up to max bytes of p, printable, C-escaped, quoted, into out. */
void tl_quote(char *out, size_t outlen, const char *p, size_t len, size_t max);

int tl_cloexec_nonblock(int fd, int nonblock);
void tl_close(int *fd);

/* A growable byte buffer that never grows past max; data is always
 * NUL-terminated once it holds anything (the NUL is not in len). It owns
 * data; tl_buf_free() releases it. */
struct tl_buf {
    char *data;
    size_t len, cap, max;
};

int tl_buf_reserve(struct tl_buf *b, size_t n);
int tl_buf_add(struct tl_buf *b, const void *p, size_t n);
int tl_buf_str(struct tl_buf *b, const char *s);
/* Drops the first n bytes. */
void tl_buf_consume(struct tl_buf *b, size_t n);
void tl_buf_free(struct tl_buf *b);

/* ---------------------------------------------------------------------
 * testspawn.c
 * ------------------------------------------------------------------- */

struct tl_child {
    pid_t pid;    /* the squalld master; -1 once reaped */
    pid_t parent; /* the process that started it (and can wait for it) */
};

/* Forks and execs squalld -c conf with stdout/stderr to log, the
 * listening socket as fd 3 (LISTEN_FDS=1) and NOTIFY_SOCKET=notify. */
int tl_spawn(struct tl_child *c, const char *conf, const char *log,
             const char *notify, int listen_fd, char *err, size_t errlen);
/* Whether squalld has exited (without reaping it). */
int tl_child_exited(const struct tl_child *c);
/* Waits until it exits or deadline passes; 0 when it exited. */
int tl_child_wait(const struct tl_child *c, double deadline);
/* Reaps it (kill_all: SIGKILL its process group first); returns the wait
 * status or -1; *stragglers tells whether its group outlived it. */
int tl_child_reap(struct tl_child *c, int kill_all, int *stragglers);
/* "exited with status 1", "was killed by signal 11 (...)", appended. */
void tl_describe_status(int status, char *err, size_t errlen);

/* ---------------------------------------------------------------------
 * testserver.c
 * ------------------------------------------------------------------- */

struct sq_test_server {
    struct tl_child child;
    int port;
    int notify_fd;       /* our end of $NOTIFY_SOCKET */
    double timeout;      /* seconds, for every default deadline */
    size_t log_mark;     /* sq_test_wait_log() searches from here */
    sq_test_conn *conns; /* from sq_test_connect(), not yet closed */
    char dir[PATH_MAX];
    char conf[PATH_MAX];
    char log[PATH_MAX];
    char notify[sizeof(((struct sockaddr_un *)0)->sun_path)];
    char error[1024];
};

/* Connections opened with sq_test_connect() are listed on their server,
 * which detaches them at sq_test_stop() (they stay usable, serverless). */
void tl_server_attach(sq_test_server *s, sq_test_conn *c);
void tl_server_detach(sq_test_server *s, sq_test_conn *c);
/* " (squalld is no longer running: see LOG)" appended to err when so. */
void tl_server_note_exit(const sq_test_server *s, char *err, size_t errlen);
void tl_server_set_error(sq_test_server *s, const char *msg);
double tl_server_timeout(const sq_test_server *s);

/* ---------------------------------------------------------------------
 * testlog.c
 * ------------------------------------------------------------------- */

/* Appends "; its stderr:\n" and the first lines of the log to err. */
void tl_log_head(const char *path, char *err, size_t errlen);
/* Copies the end of the log to stderr, after "squalld WHY". */
void tl_log_tail(const char *path, const char *why);

/* ---------------------------------------------------------------------
 * teststrict.c
 * ------------------------------------------------------------------- */

/* What the next bytes of the stream must look like; set by the parser at
 * each point where it learns what comes next. */
enum tl_expect {
    TL_NOTHING, /* body data: http-parser alone frames it */
    TL_HEAD,    /* status line and header lines up to an empty line */
    TL_TRAILER, /* trailer lines up to an empty line */
    TL_LINE,    /* one chunk-size line */
    TL_CHUNK,   /* skip chunk data, then CRLF, then a chunk-size line */
};

struct tl_strict {
    enum tl_expect expect;
    uint64_t pos;  /* stream offset of the next byte to check */
    uint64_t skip; /* TL_CHUNK: data bytes still to skip */
    unsigned line; /* lines done in this head (0: in the status line) */
    size_t col;    /* bytes in the current line */
    int cr;        /* the previous byte was CR */
    int delim;     /* TL_CHUNK: bytes of the CRLF after the data seen */
    char error[160];
};

/* Expect e from stream offset pos on (skip: chunk size for TL_CHUNK). */
void tl_strict_expect(struct tl_strict *st, enum tl_expect e, uint64_t pos,
                      uint64_t skip);
/* Checks the bytes of data (which starts at stream offset base) that have
 * not been checked yet. Returns how many bytes of data are fine to hand
 * to http-parser: len, or fewer when st->error says what is wrong at
 * that offset. */
size_t tl_strict_check(struct tl_strict *st, const char *data, size_t len,
                       uint64_t base);

/* ---------------------------------------------------------------------
 * testparse.c
 * ------------------------------------------------------------------- */

/* Where the parser stopped. */
enum tl_event {
    TL_MORE,       /* all input used: feed more */
    TL_HEAD_DONE,  /* a final status line and headers are in */
    TL_CHUNK_DONE, /* streaming: a whole chunk is in the chunk buffer */
    TL_MSG_DONE,   /* the final response is complete */
    TL_ERROR,      /* malformed: the error string says why */
};

struct tl_parse {
    http_parser hp;
    struct tl_strict strict;
    uint64_t pos;        /* stream offset of the next byte to feed */
    sq_test_response *r; /* being filled; owned here until taken */
    size_t cap_headers;  /* allocated entries of r->headers */
    struct tl_buf field; /* header name being received */
    struct tl_buf value; /* header value being received */
    int in_value;        /* the last callback was a value piece */
    int head_request;    /* the request was HEAD: no body */
    int streaming;       /* body goes to chunk, not r->body; pause per chunk */
    int started;         /* a byte of this response has arrived */
    int final_head;      /* the final head is in: now in its body */
    int done;            /* the final response is complete */
    int upgraded;        /* 101: the rest is another protocol */
    int status;          /* of the final response */
    uint64_t chunk_size; /* size of the chunk being received */
    struct tl_buf body;  /* whole-body mode: the body so far */
    struct tl_buf chunk; /* streaming: data since the last hand-out */
    enum tl_event event; /* set by the callbacks that pause */
    int paused;          /* a callback paused the parser */
    enum tl_expect next_expect; /* what the checker sees after a pause */
    uint64_t next_skip;
    char error[512];
};

/* Prepares p for the next response; head_request: the request was HEAD.
 * pos is the stream offset of the next byte that will be fed. */
int tl_parse_begin(struct tl_parse *p, int head_request, int streaming,
                   uint64_t pos);
/* Feeds data (stream offsets p->pos onward); *used gets how many bytes
 * the parser took, the rest must be fed again after a pause. */
enum tl_event tl_parse_feed(struct tl_parse *p, const char *data, size_t len,
                            size_t *used);
/* The end of the stream (reset: by RST). */
enum tl_event tl_parse_eof(struct tl_parse *p, int reset);
/* Hands the response over to the caller (NULL if none is ready). */
sq_test_response *tl_parse_take(struct tl_parse *p);
void tl_parse_free(struct tl_parse *p);

/* ---------------------------------------------------------------------
 * testresponse.c
 * ------------------------------------------------------------------- */

sq_test_response *tl_response_new(void);
int tl_response_add_field(sq_test_response *r, size_t *cap, const char *name,
                          size_t nlen, const char *value, size_t vlen);
void tl_response_clear_fields(sq_test_response *r);
/* Gives r the body (taken from b, which is left empty). */
int tl_response_set_body(sq_test_response *r, struct tl_buf *b);

/* ---------------------------------------------------------------------
 * testrequest.c
 * ------------------------------------------------------------------- */

struct tl_request {
    const char *method, *path;
    const char *const *headers; /* "Name: value", NULL-terminated */
    const void *body;
    size_t body_len;
    const char *host; /* value of the Host field the library adds */
    int add_close;    /* add "Connection: close" (unless in headers) */
};

/* Serialises the request head into out. Returns 0, or -1 with err. */
int tl_request_head(const struct tl_request *req, struct tl_buf *out, char *err,
                    size_t errlen);
/* Whether one of the "Name: value" lines has this name. */
int tl_has_header(const char *const *headers, const char *name);

/* ---------------------------------------------------------------------
 * testconn.c, testsend.c, testread.c: the connection
 * ------------------------------------------------------------------- */

#define TL_RECV_SIZE 65536
#define TL_IN_MAX (16u << 20) /* input kept while a request is being sent */

/* A request sent and not yet answered. */
struct tl_pending {
    int head;      /* a HEAD request: its response has no body */
    char what[96]; /* "GET /path", the prefix of error messages */
};

/* Where a body read with sq_test_conn_read_head() stands. */
enum tl_stream { TL_NO_STREAM, TL_IN_STREAM, TL_STREAM_END };

struct sq_test_conn {
    int fd;
    sq_test_server *srv; /* borrowed; NULL when adopted or detached */
    sq_test_conn *next;  /* in srv's list of connections */
    char host[80];       /* the Host field the library sends */
    struct tl_buf in;    /* received, not yet parsed */
    uint64_t in_pos;     /* stream offset of in.data[0] */
    int eof, reset;      /* the server closed (FIN) / reset (RST) */
    int wr_shut;         /* sq_test_conn_shutdown() was called */
    struct tl_pending queue[SQ_TEST_MAX_PIPELINE]; /* a ring */
    size_t qfirst, qlen;
    struct tl_parse parse;
    int reading; /* parse holds a response in progress */
    enum tl_stream stream;
    int handed_out; /* the chunk buffer was returned: clear it next */
    int upgraded;   /* after 101: HTTP is over on this connection */
    int broken;     /* malformed input: the framing is lost */
    char what[96];  /* label of the response being read */
    char error[1024];
};

/* testconn.c */

/* testsend.c */

/* Sends len bytes, reading what arrives meanwhile; a server that stops
 * reading (EPIPE, reset) ends it quietly. what labels errors. */
int tl_conn_send_all(sq_test_conn *c, const char *what, const void *p,
                     size_t len, double deadline);

/* Sends a request built from req (sq_test_conn_send(), or with
 * add_close for sq_test_fetch()). */
int tl_conn_send(sq_test_conn *c, const struct tl_request *req);
/* Queues an expected response (head: to a HEAD request; what: label of
 * its error messages, e.g. "GET /path"). */
int tl_conn_expect(sq_test_conn *c, int head, const char *what);
/* The error of the last failed call on c. */
void tl_conn_fail(sq_test_conn *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* A server's connection is cut off from it (sq_test_stop). */
void tl_conn_detach(sq_test_conn *c);
sq_test_conn *tl_conn_next(const sq_test_conn *c);
void tl_conn_set_next(sq_test_conn *c, sq_test_conn *next);
/* Sets c's error to "WHAT: timed out after SECS s DOING"; returns -1. */
int tl_conn_timeout(sq_test_conn *c, double secs, const char *doing);
/* Reads what is there into c->in; sets c->eof at the end of the stream
 * (a reset counts: whether it lost anything shows in the parse). */
int tl_conn_recv_some(sq_test_conn *c);
/* Waits for input (or its end) until deadline and reads it into c->in:
 * 0 when something happened, 1 on timeout, -1 on error. */
int tl_conn_fill(sq_test_conn *c, double deadline);
/* Bytes received but not yet parsed. */
size_t tl_conn_unread(const sq_test_conn *c);

/* ---------------------------------------------------------------------
 * testwsframe.c
 * ------------------------------------------------------------------- */

#define TL_WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define TL_WS_KEY_LEN 24    /* base64 of 16 bytes */
#define TL_WS_ACCEPT_LEN 28 /* base64 of a SHA-1 */
#define TL_WS_HEAD_MAX 14   /* 2 + 8 (length) + 4 (mask) */

/* A frame head as read. */
struct tl_ws_frame {
    int fin;
    int rsv; /* RSV1 = 4, RSV2 = 2, RSV3 = 1 */
    int opcode;
    int masked;
    unsigned char mask[4];
    uint64_t len; /* payload length */
};

/* Writes a client frame head, masked with mask, into out (at least
 * TL_WS_HEAD_MAX bytes); returns its length. */
size_t tl_ws_head(unsigned char *out, int fin, int rsv, int opcode,
                  uint64_t len, const unsigned char mask[4]);
/* XORs len bytes with mask, p being at offset off of the payload. */
void tl_ws_mask(unsigned char *p, size_t len, const unsigned char mask[4],
                uint64_t off);
/* Reads a frame head from p: its length, 0 when more bytes are needed,
 * -1 when its length field is malformed (err says how). */
int tl_ws_parse_head(const unsigned char *p, size_t len, struct tl_ws_frame *f,
                     char *err, size_t errlen);
/* The rules a server's frame must follow (RFC 6455 5.1 to 5.5, RFC 7692
 * 6.1): 0, or -1 with err. in_message: a fragmented message is open. */
int tl_ws_check_frame(const struct tl_ws_frame *f, int deflate, int in_message,
                      char *err, size_t errlen);
/* Random bytes (OpenSSL's RAND_bytes): 0, or -1. */
int tl_ws_random(void *p, size_t n);
/* A fresh Sec-WebSocket-Key into out; 0, or -1. */
int tl_ws_key(char *out, size_t outlen);
/* Sec-WebSocket-Accept for key into out; 0, or -1. */
int tl_ws_accept(const char *key, char *out, size_t outlen);
/* 0 when s is valid UTF-8, else -1 with the offset of the bad sequence. */
int tl_utf8_check(const char *s, size_t len, size_t *bad);
/* Whether a close frame may carry code (RFC 6455 7.4). */
int tl_ws_close_code_ok(int code);

/* ---------------------------------------------------------------------
 * testwsdeflate.c
 * ------------------------------------------------------------------- */

/* permessage-deflate as agreed. */
struct tl_ws_deflate {
    int snct, cnct;  /* server_/client_no_context_takeover */
    int smwb, cmwb;  /* server_/client_max_window_bits answered; 0: none */
    int client_bits; /* the window our compressor may use, 8..15 */
};

struct tl_ws_zip {
    struct tl_ws_deflate params;
    z_stream def, inf;
    int def_ready, inf_ready;
};

/* The Sec-WebSocket-Extensions value offering what o asks for; 0, or -1
 * with err (a window size out of range). */
int tl_ws_deflate_offer(const sq_test_ws_options *o, char *out, size_t outlen,
                        char *err, size_t errlen);
/* Checks the server's Sec-WebSocket-Extensions (all its fields joined
 * with ",") against the offer o: 1 when deflate was agreed (a gets the
 * parameters), 0 when not, -1 with err when the answer is invalid. */
int tl_ws_deflate_accept(const sq_test_ws_options *o, const char *ext,
                         struct tl_ws_deflate *a, char *err, size_t errlen);
int tl_ws_zip_init(struct tl_ws_zip *z, const struct tl_ws_deflate *agreed);
void tl_ws_zip_free(struct tl_ws_zip *z);
/* Compresses a whole message into out (the sync flush's tail removed). */
int tl_ws_compress(struct tl_ws_zip *z, const void *data, size_t len,
                   struct tl_buf *out, char *err, size_t errlen);
/* Inflates the payload of a whole message in (which needs 4 bytes of
 * room past its max) into out, at most SQ_TEST_MAX_WS_MESSAGE bytes. */
int tl_ws_inflate(struct tl_ws_zip *z, struct tl_buf *in, struct tl_buf *out,
                  char *err, size_t errlen);

#endif /* SQUALL_TESTLIB_H */
