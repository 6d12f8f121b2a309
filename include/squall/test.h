/* clang-format off */
/*
 * test.h - the squall test client: Tornado's AsyncHTTPTestCase, in C.
 *
 * It starts the real squalld as a child process from a YAML string, talks
 * HTTP/1.1 to it over loopback, and stops it, so a module's tests exercise
 * the module exactly as production will run it.
 *
 *     char err[1024];
 *     sq_test_server *s = sq_test_start(
 *         "modules: {hello: {path: /path/to/hello.so}}\n"
 *         "routes: [{path: /, handler: hello:hello}]\n", err, sizeof err);
 *     if (s == NULL)
 *         die("%s", err);           // squalld's message, with file:line:col
 *     sq_test_response *r = sq_test_get(s, "/");
 *     if (r == NULL)
 *         die("%s", sq_test_error(s));
 *     assert(r->status == 200 && strcmp(r->body, "Hello, world!") == 0);
 *     sq_test_response_free(r);
 *     assert(sq_test_stop(s) == 0); // clean shutdown, no leaks
 *
 * sq_test_fetch() is one request on a connection of its own. To test what
 * happens on a connection - keep-alive, pipelining, a streamed (chunked,
 * SSE) body read as it arrives, the server closing, a client that leaves
 * in the middle - open an sq_test_conn:
 *
 *     sq_test_conn *c = sq_test_connect(s);
 *     sq_test_conn_send(c, "GET", "/events", NULL, NULL, 0);
 *     sq_test_response *h = sq_test_conn_read_head(c, SQ_TEST_DEFAULT);
 *     const char *data;
 *     ssize_t n = sq_test_conn_read_chunk(c, &data, 1000);  // one chunk
 *     sq_test_conn_reset(c);        // leave with RST: sq_on_close runs
 *
 * Link with $(pkg-config --libs squall): -lsquall-test -lhttp_parser
 * -lcrypto -lz (the last two for the WebSocket client, sq_test_ws_*).
 *
 * The server listens on an ephemeral 127.0.0.1 port that the library binds
 * itself and hands over with systemd socket activation, so `server.listen`
 * may be left out of the YAML and tests never race for a port. Readiness is
 * squalld's sd_notify "READY=1", received on a private socket.
 *
 * Deadlines: every call that waits has one, and none waits forever. A
 * timeout_ms argument is in milliseconds; SQ_TEST_DEFAULT (or any negative
 * value) means $SQ_TEST_TIMEOUT seconds (default 10), which also bounds
 * starting, stopping, connecting and sending. Buffers are bounded too (the
 * SQ_TEST_MAX_* limits below, and http-parser's HTTP_MAX_HEADER_SIZE for a
 * head): a response past a limit is an error, not an allocation spree.
 *
 * Strictness: responses are parsed by http-parser, plus the checks its
 * lenient Debian build skips. A bare LF or CR, obs-fold, an empty line
 * before a status line, chunk data not followed by CRLF, conflicting
 * Content-Length fields, a version other than HTTP/1.0 and 1.1: each is an
 * error that says what and where, because each hides a server bug.
 *
 * Environment: $SQUALLD is the squalld to run (default: the one installed
 * with this library); $SQ_TEST_TIMEOUT as above; $SQ_TEST_KEEP=1 keeps the
 * server's temporary directory (config and log) after sq_test_stop() and
 * prints where it is. squalld inherits the rest of the environment (e.g.
 * $SQUALL_MODULE_DIR, where bare module names like "hello.so" are looked
 * up) and the working directory.
 *
 * Processes: squalld runs in its own process group; on Linux it gets
 * SIGTERM when the thread that started it exits, so a crashed test leaves
 * no daemon behind. No signal handlers are installed: children are watched
 * with waitid(), and sockets are written with MSG_NOSIGNAL (no SIGPIPE).
 *
 * Threads: every call blocks its caller until done or until its deadline.
 * An sq_test_server, and each sq_test_conn, is for one thread at a time;
 * different objects may be used from different threads.
 */
/* clang-format on */
#ifndef SQUALL_TEST_H
#define SQUALL_TEST_H

#include <stddef.h>
#include <sys/types.h> /* ssize_t */

#ifdef __cplusplus
extern "C" {
#endif

/* timeout_ms: $SQ_TEST_TIMEOUT seconds (10 unless set). */
#define SQ_TEST_DEFAULT (-1)
/* Largest body sq_test_conn_read() and sq_test_fetch() keep (128 MiB). */
#define SQ_TEST_MAX_BODY (128u << 20)
/* Largest chunk sq_test_conn_read_chunk() hands out whole (16 MiB). */
#define SQ_TEST_MAX_CHUNK (16u << 20)
/* Most requests a connection holds awaiting their responses. */
#define SQ_TEST_MAX_PIPELINE 256
/* Most interim (1xx) responses accepted before a final one. */
#define SQ_TEST_MAX_INTERIM 8

/* ---------------------------------------------------------------------
 * The server
 * ------------------------------------------------------------------- */

/* A running squalld and its temporary directory. */
typedef struct sq_test_server sq_test_server;

/* Writes yaml to a config file in a private temporary directory, starts
 * squalld on it, and waits until it reports READY=1. Returns the server,
 * to be stopped with sq_test_stop(); NULL when squalld exits or does not
 * become ready in time: err (may be NULL) then gets why, with the first
 * lines of squalld's stderr (its config errors read "file:line:col:
 * message"). */
sq_test_server *sq_test_start(const char *yaml, char *err, size_t errlen);

/* The loopback TCP port the server listens on. */
int sq_test_port(const sq_test_server *s);

/* squalld's process id (the master), e.g. to send it SIGHUP. */
int sq_test_pid(const sq_test_server *s);

/* Whether squalld is still running (it may have crashed). */
int sq_test_running(const sq_test_server *s);

/* The file that collects squalld's stdout and stderr; it is removed by
 * sq_test_stop() unless $SQ_TEST_KEEP is set. The string is owned by s. */
const char *sq_test_log(const sq_test_server *s);

/* Waits until text appears in the log after the previous match (the
 * first call searches from the start), e.g. a line a handler logs when a
 * request is in flight. Returns 1 when found, 0 after the deadline (then
 * sq_test_error() says so). Each match moves the search past it, so
 * waiting twice for the same text waits for two occurrences. */
int sq_test_wait_log(sq_test_server *s, const char *text, int timeout_ms);

/* Stops squalld with SIGTERM and waits for it (SIGKILL after the deadline,
 * for it and any process it left), then removes the temporary directory
 * and frees s. Returns squalld's exit status (0 for a clean stop, which a
 * test should assert), or -1 when it was killed by a signal, had to be
 * killed or left processes behind; the end of its log is then copied to
 * stderr. Connections from sq_test_connect() stay open and must still be
 * closed by their owner. Call it from the process that started s (it
 * waits for squalld as for a child). */
int sq_test_stop(sq_test_server *s);

/* ---------------------------------------------------------------------
 * Responses
 * ------------------------------------------------------------------- */

/* One response header or trailer, as received (name case preserved). */
typedef struct sq_test_field {
    char *name;
    char *value; /* leading and trailing whitespace removed */
} sq_test_field;

/* A response. Everything in it is owned by the response and freed by
 * sq_test_response_free(). */
typedef struct sq_test_response {
    int status;   /* 200, 404, ...: the final status (101 is final) */
    int version;  /* 10 or 11, from the status line */
    char *reason; /* "OK"; "" when the server sent none */
    size_t nheaders;
    sq_test_field *headers; /* in the order received, then the trailer
                               fields of a chunked body read whole */
    char *body;             /* decoded (de-chunked); never NULL, NUL-terminated;
                               "" from sq_test_conn_read_head() */
    size_t body_len;        /* without that NUL */
    int keep_alive;         /* 1 when the connection may carry another request
                               (RFC 9112 9.3): not after "Connection: close", a
                               close-delimited body, or HTTP/1.0 without
                               keep-alive */
    size_t ninterim;        /* interim 1xx responses received before this one */
    int interim[SQ_TEST_MAX_INTERIM]; /* their status codes, in order */
} sq_test_response;

/* The value of the first header named name (case-insensitive), or NULL.
 * The string is owned by r. */
const char *sq_test_header(const sq_test_response *r, const char *name);

/* Frees a response; NULL is fine. */
void sq_test_response_free(sq_test_response *r);

/* ---------------------------------------------------------------------
 * One request on a connection of its own
 * ------------------------------------------------------------------- */

/* Connects, sends one request and reads the response. method NULL means
 * "GET". headers is NULL or a NULL-terminated array of "Name: value"
 * lines, sent after the library's own Host (omitted when headers has
 * one), Content-Length (sent when body != NULL or for POST, PUT and
 * PATCH; omitted when headers has Content-Length or Transfer-Encoding:
 * the body is then sent as is) and "Connection: close" (omitted when
 * headers has Connection). With "Connection: close", any byte after the
 * response is an error, and so is a server that does not close. Returns
 * the response (the caller frees it), or NULL on failure (refused, timed
 * out, malformed or truncated response): sq_test_error() says why. */
sq_test_response *sq_test_fetch(sq_test_server *s, const char *method,
                                const char *path, const char *const *headers,
                                const void *body, size_t body_len);

/* sq_test_fetch(s, "GET", path, NULL, NULL, 0). */
sq_test_response *sq_test_get(sq_test_server *s, const char *path);

/* Sends len bytes exactly as given (a request of your own making, valid or
 * not) on a new connection and reads one response as sq_test_fetch()
 * does; the request counts as HEAD when the bytes start with "HEAD ".
 * Bytes after that response are not read. */
sq_test_response *sq_test_fetch_raw(sq_test_server *s, const void *request,
                                    size_t len);

/* Why the last fetch, connect or wait_log on s failed, e.g. "GET /: timed
 * out after 10 s reading the response"; "" when it did not. Owned by s,
 * valid until the next call on s. */
const char *sq_test_error(const sq_test_server *s);

/* ---------------------------------------------------------------------
 * Connections
 * ------------------------------------------------------------------- */

/* A client connection: its socket, the bytes received and not yet read,
 * and the requests sent and not yet answered. */
typedef struct sq_test_conn sq_test_conn;

/* Opens a connection to s. Returns it (the caller closes it with
 * sq_test_conn_close() or sq_test_conn_reset(), also after sq_test_stop()),
 * or NULL with the reason in sq_test_error(s). */
sq_test_conn *sq_test_connect(sq_test_server *s);

/* Makes a connection of a connected stream socket (TCP, or a unix socket,
 * e.g. one end of a socketpair() in a test of your own server code); it
 * owns fd from then on and makes it non-blocking. NULL on failure (fd is
 * then still the caller's). */
sq_test_conn *sq_test_conn_adopt(int fd);

/* Sends a request as sq_test_fetch() builds it, without "Connection:
 * close": HTTP/1.1 keeps the connection open. Send several before reading
 * to pipeline them (at most SQ_TEST_MAX_PIPELINE unanswered); responses
 * are read in the same order. Blocks until all is sent (reading what
 * arrives meanwhile); a server that stops reading ends the send quietly,
 * and its response says why. Returns 0, or -1 (sq_test_conn_error()). */
int sq_test_conn_send(sq_test_conn *c, const char *method, const char *path,
                      const char *const *headers, const void *body,
                      size_t body_len);

/* Sends len bytes exactly as given: malformed requests, a request in
 * pieces, or another protocol after a 101. Such requests are not known
 * to the reader: their responses are read as answers to GET, unless
 * sq_test_conn_expect() says otherwise. Returns 0 or -1. */
int sq_test_conn_send_raw(sq_test_conn *c, const void *bytes, size_t len);

/* Declares that a request of this method was sent with send_raw, after
 * those already awaiting a response; only "HEAD" changes how its response
 * is read (it has no body). Returns 0, or -1 when too many are queued. */
int sq_test_conn_expect(sq_test_conn *c, const char *method);

/* Reads the next response whole (interim 1xx ones are counted in it),
 * waiting up to timeout_ms. Returns it (the caller frees it), or NULL on a
 * timeout, a malformed or truncated response, or the connection's end:
 * sq_test_conn_error() says which. A timeout loses nothing: a later read
 * continues the same response. After a malformed response the connection
 * is unusable for HTTP (its framing is lost). */
sq_test_response *sq_test_conn_read(sq_test_conn *c, int timeout_ms);

/* Reads only the status line and headers of the next response, so that
 * its body can be read piece by piece with sq_test_conn_read_chunk()
 * (which must reach the end of it before the next read). The returned
 * response has an empty body; the caller frees it. NULL as for read. */
sq_test_response *sq_test_conn_read_head(sq_test_conn *c, int timeout_ms);

/* The next piece of the body whose head sq_test_conn_read_head() read: for
 * a chunked body, exactly one chunk (waited for whole, so chunk boundaries
 * are what the server sent: one per sq_flush()); otherwise whatever has
 * arrived. Returns its length and points *data at it (NUL-terminated;
 * owned by c, valid until the next call on c); 0 at the end of the body
 * (trailer fields are checked and dropped), and again after it; -1 on a
 * timeout (nothing is lost: call again) or an error. */
ssize_t sq_test_conn_read_chunk(sq_test_conn *c, const char **data,
                                int timeout_ms);

/* Raw bytes from the connection, up to len: first those received and not
 * yet parsed (e.g. what followed a 101), then from the socket. Returns
 * how many, 0 at the end of the stream, -1 on a timeout or an error.
 * Bytes read this way are never seen by the response reader. */
ssize_t sq_test_conn_recv(sq_test_conn *c, void *buf, size_t len,
                          int timeout_ms);

/* Waits for the server to close the connection (FIN or RST). Returns 1
 * when it did, 0 when it is still open at the deadline, -1 when bytes
 * arrived instead (they stay readable; the error quotes them) or on an
 * error. */
int sq_test_conn_closed(sq_test_conn *c, int timeout_ms);

/* Half-closes: sends FIN but keeps reading (shutdown(SHUT_WR)), as a
 * client that has sent all it will send. Nothing can be sent after it. */
int sq_test_conn_shutdown(sq_test_conn *c);

/* Closes with FIN and frees c (unread input is read away first, or the
 * kernel would send RST). NULL is fine. */
void sq_test_conn_close(sq_test_conn *c);

/* Closes with RST (SO_LINGER 0), as a client that crashes or a
 * middlebox that gives up, and frees c. NULL is fine. */
void sq_test_conn_reset(sq_test_conn *c);

/* Why the last call on c failed, prefixed by the request it concerns
 * ("GET /stream: timed out after 1 s reading the response"); "" after a
 * call that succeeded. Owned by c, valid until the next call on c. */
const char *sq_test_conn_error(const sq_test_conn *c);

/* The socket, for setsockopt() or poll(); owned by c: do not close it. */
int sq_test_conn_fd(const sq_test_conn *c);

/* ---------------------------------------------------------------------
 * WebSocket clients (RFC 6455, with permessage-deflate, RFC 7692)
 * ------------------------------------------------------------------- */

/* clang-format off */
/*
 * A WebSocket client of the kind Tornado's websocket_connect() gives a
 * test: it opens a connection with the opening handshake, sends messages
 * (client frames masked with fresh random masks) and receives whole ones,
 * and checks what the server sends as strictly as the HTTP reader does:
 * a masked server frame, a reserved bit or opcode, a fragmented or long
 * control frame, text that is not UTF-8, a bad close code: each is an
 * error that says what was wrong.
 *
 *     sq_test_ws *ws = sq_test_ws_connect(s, "/ws/echo", NULL);
 *     if (ws == NULL)
 *         die("%s", sq_test_error(s));  // "... refused: 403 Forbidden"
 *     sq_test_ws_send_text(ws, "hello");
 *     sq_test_ws_msg m;
 *     if (sq_test_ws_recv(ws, &m, SQ_TEST_DEFAULT) != SQ_TEST_WS_TEXT)
 *         die("%s", sq_test_ws_error(ws));
 *     assert(m.len == 5 && strcmp(m.data, "hello") == 0);
 *     assert(sq_test_ws_close(ws, 1000, "bye", SQ_TEST_DEFAULT) == 1000);
 *     sq_test_ws_free(ws);
 *
 * Pings from the server are answered with pongs as they are read
 * (sq_test_ws_pings() counts them); pongs are handed to the test as
 * messages of kind SQ_TEST_WS_PONG. A close from the server is answered
 * with a close (the same code) and reported as SQ_TEST_WS_CLOSE.
 *
 * Link with $(pkg-config --libs squall), which adds -lcrypto (SHA-1 of
 * the handshake, random masks) and -lz (permessage-deflate).
 */
/* clang-format on */

/* Largest message sq_test_ws_recv() accepts, after inflating (16 MiB). */
#define SQ_TEST_MAX_WS_MESSAGE (16u << 20)

/* A WebSocket connection; one thread at a time, like sq_test_conn. */
typedef struct sq_test_ws sq_test_ws;

/* What sq_test_ws_recv() got, and what sq_test_ws_send() sends. */
enum sq_test_ws_kind {
    SQ_TEST_WS_ERROR = -1,  /* a protocol error or a failure: see
                               sq_test_ws_error(); the connection is done */
    SQ_TEST_WS_TIMEOUT = 0, /* nothing whole by the deadline; nothing is
                               lost (a frame in progress continues) */
    SQ_TEST_WS_TEXT = 1,    /* a text message, valid UTF-8 */
    SQ_TEST_WS_BINARY = 2,  /* a binary message */
    SQ_TEST_WS_CLOSE = 3,   /* the server closed: code and reason */
    SQ_TEST_WS_PING = 4,    /* (only sent: received ones are answered) */
    SQ_TEST_WS_PONG = 5     /* a pong, its application data in data */
};

/* Options of sq_test_ws_connect(); NULL, or a zeroed struct, is a plain
 * handshake with no extensions, no subprotocols and default deadlines. */
typedef struct sq_test_ws_options {
    /* NULL, or "Name: value" lines, NULL-terminated, sent after the
     * library's own; a line naming one of the library's fields (Host,
     * Upgrade, Connection, Sec-WebSocket-Key, Sec-WebSocket-Version,
     * Sec-WebSocket-Protocol, Sec-WebSocket-Extensions) replaces it, e.g.
     * "Sec-WebSocket-Version: 8" to be refused with 426. */
    const char *const *headers;
    /* NULL, or subprotocols to offer in order of preference,
     * NULL-terminated. The server must choose one of them or none. */
    const char *const *subprotocols;
    /* Offer permessage-deflate, with these parameters (RFC 7692 7.1). */
    int deflate;
    int client_no_context_takeover; /* we reset our compressor per message */
    int server_no_context_takeover; /* the server must reset its own */
    int server_max_window_bits;     /* 0: not offered; else 8..15 */
    int client_max_window_bits;     /* 0: not offered; 1: offered without a
                                       value; else 8..15 */
    /* With deflate agreed, send text and binary messages uncompressed
     * anyway (RSV1 clear; RFC 7692 allows it). */
    int no_compress;
    /* Send text and binary messages in frames of at most this many
     * payload bytes (after compression); 0: one frame per message. */
    size_t fragment_size;
    /* Deadline of the handshake; 0 or SQ_TEST_DEFAULT: $SQ_TEST_TIMEOUT. */
    int timeout_ms;
    /* When not NULL, *response gets the handshake's response, the 101 or
     * the refusal (e.g. 403 with its body), or NULL when none was read
     * whole; the caller frees it. */
    sq_test_response **response;
} sq_test_ws_options;

/* Connects to s and performs the opening handshake for path (RFC 6455
 * 4.1). The answer must be a 101 with Upgrade: websocket, Connection:
 * Upgrade and the right Sec-WebSocket-Accept; a subprotocol, when chosen,
 * must be one offered; permessage-deflate, when agreed, must be a valid
 * answer to the offer (RFC 7692 7.1); no other extension may be agreed.
 * Returns the connection, or NULL: sq_test_error(s) then says why, and a
 * server that refused is quoted with its status ("GET /ws: handshake
 * refused: 403 Forbidden"; opt->response gets the response itself). */
sq_test_ws *sq_test_ws_connect(sq_test_server *s, const char *path,
                               const sq_test_ws_options *opt);

/* The same handshake on a connection already open (e.g. adopted with
 * sq_test_conn_adopt() in a test of your own server). On success the
 * WebSocket owns c; on failure it returns NULL and c is still the
 * caller's, with the reason in sq_test_conn_error(c). */
sq_test_ws *sq_test_ws_upgrade(sq_test_conn *c, const char *path,
                               const sq_test_ws_options *opt);

/* The subprotocol the server chose, or NULL. Owned by ws. */
const char *sq_test_ws_protocol(const sq_test_ws *ws);

/* Whether permessage-deflate was agreed. */
int sq_test_ws_deflate(const sq_test_ws *ws);

/* Sends one message: kind SQ_TEST_WS_TEXT (not checked for UTF-8, so
 * that a test can send bad text) or SQ_TEST_WS_BINARY, compressed when
 * deflate was agreed (unless no_compress) and fragmented as the options
 * say; or a control frame, SQ_TEST_WS_PING or SQ_TEST_WS_PONG, of at
 * most 125 bytes. Returns 0, or -1 (sq_test_ws_error()). A server that
 * stops reading ends the send quietly, as for sq_test_conn_send(): what
 * it says next (a close, 1009 say) tells why. */
int sq_test_ws_send(sq_test_ws *ws, enum sq_test_ws_kind kind, const void *data,
                    size_t len);

/* sq_test_ws_send(ws, SQ_TEST_WS_TEXT, text, strlen(text)). */
int sq_test_ws_send_text(sq_test_ws *ws, const char *text);

/* sq_test_ws_send(ws, SQ_TEST_WS_BINARY, data, len). */
int sq_test_ws_send_binary(sq_test_ws *ws, const void *data, size_t len);

/* sq_test_ws_send(ws, SQ_TEST_WS_PING, data, len). */
int sq_test_ws_ping(sq_test_ws *ws, const void *data, size_t len);

/* Sends a close frame and does not wait: code 0 sends none (the server
 * sees 1005), reason NULL none. Data messages cannot be sent after it. */
int sq_test_ws_send_close(sq_test_ws *ws, int code, const char *reason);

/* Sends len bytes as they are: hostile frames (unmasked, reserved bits,
 * bad lengths) written by the test. Returns 0 or -1. */
int sq_test_ws_send_raw(sq_test_ws *ws, const void *bytes, size_t len);

/* A message received. data and reason are owned by ws, valid until the
 * next call on it. */
typedef struct sq_test_ws_msg {
    enum sq_test_ws_kind kind;
    const char *data;   /* payload (inflated), NUL-terminated; never NULL */
    size_t len;         /* without that NUL */
    int compressed;     /* it came with RSV1 (permessage-deflate) */
    int frames;         /* how many frames it came in */
    int code;           /* SQ_TEST_WS_CLOSE: the close code; 1005 when the
                           close frame had none, 1006 when the connection
                           ended without a close frame */
    const char *reason; /* SQ_TEST_WS_CLOSE: the reason (UTF-8), or "" */
} sq_test_ws_msg;

/* Waits up to timeout_ms for the next whole message (fragments
 * reassembled, inflated, text checked as UTF-8), a pong, or the close.
 * Pings that arrive meanwhile are answered. Returns m->kind: TEXT,
 * BINARY, PONG, CLOSE (again on every later call), TIMEOUT or ERROR (then
 * the connection is unusable, and every later call says the same). */
enum sq_test_ws_kind sq_test_ws_recv(sq_test_ws *ws, sq_test_ws_msg *m,
                                     int timeout_ms);

/* Pings received from the server (and answered with pongs). */
unsigned sq_test_ws_pings(const sq_test_ws *ws);

/* The close handshake: sends a close (code 0: with no code; skipped when
 * one was sent already), reads and drops messages until the server's
 * close, then waits for the server to end the TCP connection. Returns the
 * server's code (1005 when it sent none), or -1 on a timeout, an error or
 * an end without a close frame (sq_test_ws_error()). ws must still be
 * freed. */
int sq_test_ws_close(sq_test_ws *ws, int code, const char *reason,
                     int timeout_ms);

/* Why the last call on ws failed; "" after one that succeeded. Owned by
 * ws. */
const char *sq_test_ws_error(const sq_test_ws *ws);

/* The connection underneath (for sq_test_conn_fd(), or
 * sq_test_conn_closed() after a close); owned by ws. */
sq_test_conn *sq_test_ws_conn(const sq_test_ws *ws);

/* Closes the socket (FIN, without a close handshake unless
 * sq_test_ws_close() did one) and frees ws. NULL is fine. */
void sq_test_ws_free(sq_test_ws *ws);

/* Drops the connection with RST, as sq_test_conn_reset(), and frees ws.
 * NULL is fine. */
void sq_test_ws_reset(sq_test_ws *ws);

#ifdef __cplusplus
}
#endif
#endif /* SQUALL_TEST_H */
