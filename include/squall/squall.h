/*
 * squall.h - the handler module API of squall.
 *
 * A module is a shared object (.so) that squalld loads in every worker after
 * fork. It exports one descriptor, declared with SQ_MODULE(), that names the
 * module, its optional per-worker init/fini, and its handlers. A route in the
 * YAML config names a handler as "module:function".
 *
 *     #include <squall/squall.h>
 *
 *     static int hello(sq_req *r)
 *     {
 *         sq_set_header(r, "Content-Type", "text/plain");
 *         sq_write(r, "Hello, world!", 13);
 *         return SQ_DONE;
 *     }
 *
 *     SQ_MODULE(.name = "hello", .handlers = SQ_HANDLERS(hello));
 *
 * Build it with: cc -shared -fPIC $(pkg-config --cflags squall) -o hello.so hello.c
 *
 * Threading: every function here is called on, and may only be called from,
 * the worker's event-loop thread, with one exception: sq_log() may also be
 * called from a thread pool job (sq_run_in_pool). A handler must not block:
 * it either answers at once (SQ_DONE) or returns SQ_ASYNC and answers later
 * with sq_finish(), from a timer (sq_call_later, sq_call_every), a pool
 * job's done callback, or any other event on the worker's loop. Blocking or
 * CPU-heavy work goes to the thread pool.
 *
 * Errors: functions that can fail return 0 on success and a negative value on
 * failure (SQ_ERROR); nothing here aborts on a client's mistake.
 */
#ifndef SQUALL_H
#define SQUALL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped whenever the module ABI (this header's structs or semantics)
 * changes; squalld refuses a module built against another ABI version. */
#define SQ_ABI_VERSION 3

/* Handler results, and the return convention of the API. */
#define SQ_DONE 0      /* the response is complete now */
#define SQ_ASYNC 1     /* the handler will call sq_finish() later */
#define SQ_DECLINED -2 /* the handler does not serve this: 404 */
#define SQ_ERROR -1    /* failure: 500 if nothing was sent yet */
#define SQ_AGAIN 2     /* sq_flush: queued, but wait for sq_on_drain() */

typedef struct sq_req sq_req;   /* one HTTP request and its response */
typedef struct sq_pool sq_pool; /* memory freed all at once */
typedef struct sq_conf sq_conf; /* a plain tree of the module's YAML block */
typedef struct sq_timer sq_timer;
typedef struct sq_ws sq_ws;     /* one WebSocket connection */

/* A request handler: returns SQ_DONE, SQ_ASYNC, SQ_DECLINED or SQ_ERROR. */
typedef int (*sq_handler_fn)(sq_req *r);

/* ---------------------------------------------------------------------
 * Modules
 * ------------------------------------------------------------------- */

typedef struct sq_handler_def {
    const char *name; /* the "function" part of "module:function" */
    sq_handler_fn fn;
} sq_handler_def;

/* A WebSocket endpoint, named by a route's `websocket: module:name` (see
 * "WebSockets" below for the callbacks' contract). */
typedef struct sq_ws_def {
    const char *name;
    /* The handshake is valid: return 0 to accept it, SQ_DECLINED to refuse
     * it with 403, SQ_ERROR with 500. r is valid only during the call. */
    int (*open)(sq_ws *ws, sq_req *r);
    /* One whole message: binary is 0 for text (valid UTF-8, not
     * NUL-terminated). data is squall's, valid during the call. */
    void (*message)(sq_ws *ws, int binary, const void *data, size_t len);
    /* The connection ended, whatever the cause: called exactly once for
     * every accepted ws; ws is freed when it returns. May be NULL. */
    void (*close)(sq_ws *ws, int code, const char *reason);
    /* A pong arrived (an answer to sq_ws_ping). May be NULL. */
    void (*pong)(sq_ws *ws, const void *data, size_t len);
} sq_ws_def;

#define SQ_MODULE_MAGIC 0x5351554cu /* "SQUL" */

typedef struct sq_module {
    uint32_t magic; /* SQ_MODULE_MAGIC, set by SQ_MODULE */
    uint32_t abi;   /* SQ_ABI_VERSION the module was built against */
    const char *name;
    /* Per worker, after fork, before the first request. config is the
     * module's `modules.<name>.config` block (NULL when absent); it lives
     * until fini. Return 0, or a negative value to stop the worker. */
    int (*init)(const sq_conf *config);
    /* Per worker, after the last request, before exit. May be NULL. */
    void (*fini)(void);
    /* The handlers, ended by an entry whose name is NULL. May be NULL
     * when the module has WebSocket endpoints. */
    const sq_handler_def *handlers;
    /* The WebSocket endpoints, ended by an entry whose name is NULL, or
     * NULL. */
    const sq_ws_def *websockets;
} sq_module;

/* The symbol squalld looks up in every module. */
#define SQ_MODULE_SYMBOL "sq_module_descriptor"

/* Declares the module descriptor; takes designated initialisers. */
#define SQ_MODULE(...)                                                        \
    __attribute__((visibility("default"))) const sq_module                  \
        sq_module_descriptor = {.magic = SQ_MODULE_MAGIC,                     \
                                .abi = SQ_ABI_VERSION,                        \
                                __VA_ARGS__}

/* SQ_HANDLERS(f, g, ...) lists up to 32 handler functions under their own
 * names. For other names, point .handlers at your own sq_handler_def array
 * ended by {NULL, NULL}. */
#define SQ_HANDLERS(...)                                                      \
    ((const sq_handler_def[]){SQ__EACH(SQ__DEF, __VA_ARGS__){NULL, NULL}})

/* ---------------------------------------------------------------------
 * The request
 * ------------------------------------------------------------------- */

/* The method as sent ("GET", "POST", ...). */
const char *sq_method(const sq_req *r);
/* The path of the request target, still percent-encoded, without query. */
const char *sq_path(const sq_req *r);
/* The raw query string after '?', or "" when there is none. */
const char *sq_query(const sq_req *r);
/* The first value of query argument `name`, percent-decoded ('+' is a
 * space), or NULL when absent. Owned by the request. A pair whose name or
 * value has a broken escape or decodes to a NUL (%00) is skipped, as the
 * router refuses such path parameters: values are always whole C strings. */
const char *sq_query_arg(sq_req *r, const char *name);
/* The n-th (from 0) value of query argument `name`, or NULL. */
const char *sq_query_arg_n(sq_req *r, const char *name, size_t n);
/* The path parameter `name` of the matched route ({name} or a named regex
 * group), percent-decoded, or NULL. Owned by the request. */
const char *sq_path_arg(const sq_req *r, const char *name);
/* The first value of request header `name` (case-insensitive), or NULL. */
const char *sq_header(const sq_req *r, const char *name);
/* The number of request headers, and the i-th one (0 <= i < count), in the
 * order received. Returns SQ_ERROR when i is out of range. */
size_t sq_header_count(const sq_req *r);
int sq_header_at(const sq_req *r, size_t i, const char **name,
                 const char **value);
/* The request body (never NULL; "" when empty) and its length. The body is
 * complete when the handler runs; it is NUL-terminated for convenience. */
const char *sq_body(const sq_req *r, size_t *len);
/* The client address as text ("127.0.0.1", "::1", "unix"). */
const char *sq_remote_addr(const sq_req *r);
/* The HTTP version as 10 or 11. */
int sq_http_version(const sq_req *r);
/* "https" when the request came over TLS (a `tls:` listener) or, from a
 * trusted proxy (server.trusted_proxies), with X-Forwarded-Proto: https;
 * "http" otherwise. Redirects, same-origin checks and the Secure default
 * of cookies follow it. */
const char *sq_scheme(const sq_req *r);

/* ---------------------------------------------------------------------
 * The response
 *
 * Writes are buffered until the handler finishes, then sent with a
 * Content-Length. sq_flush() sends what is buffered now and turns the rest
 * of the response into chunked encoding (HTTP/1.1) or a close-delimited body
 * (HTTP/1.0). Headers and status may be changed until the first flush.
 *
 * Streaming and backpressure: a connection's pending output is bounded.
 * sq_flush() returns SQ_AGAIN once 1 MiB waits for the client; the producer
 * should then stop and resume from sq_on_drain(), called when it is down to
 * 256 KiB. A connection with more than 16 MiB waiting is closed (sq_on_close
 * runs). A client that reads nothing for server.limits.idle_timeout while
 * output waits is closed too: the timer restarts only when a write makes
 * progress.
 * ------------------------------------------------------------------- */

/* Sets the status code (default 200). Returns SQ_ERROR after a flush or for
 * a code outside 200..599 (interim 1xx responses are squall's to send). A
 * 204 or 304 is sent without a body and without framing, also when it is
 * flushed. */
int sq_set_status(sq_req *r, int status);
/* Sets a response header, replacing any of the same name; name and value
 * are copied. Returns SQ_ERROR after a flush, when name or value holds CR or
 * LF, or for Content-Length, Transfer-Encoding and Connection: squall frames
 * every response itself. */
int sq_set_header(sq_req *r, const char *name, const char *value);
/* Adds a response header, keeping others of the same name (Set-Cookie). */
int sq_add_header(sq_req *r, const char *name, const char *value);
/* Appends to the response body. */
int sq_write(sq_req *r, const void *data, size_t len);
/* Appends printf-formatted text to the response body. */
int sq_printf(sq_req *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int sq_vprintf(sq_req *r, const char *fmt, va_list ap);
/* Sends the headers and what is buffered now (streaming). Returns 0, or
 * SQ_AGAIN when the bytes are queued but the connection's output is above
 * its high mark (wait for sq_on_drain before producing more), or SQ_ERROR.
 * After the client went away it returns 0 and the bytes are dropped. */
int sq_flush(sq_req *r);
/* Calls cb(r, arg) once, from the event loop, when the output waiting for
 * the client is down to the low mark (at once, from the loop, if it is
 * already). One callback at a time: a new call replaces it. SQ_ERROR after
 * sq_finish or when the client is gone (sq_on_close tells that). */
int sq_on_drain(sq_req *r, void (*cb)(sq_req *r, void *arg), void *arg);
/* Bytes of r's connection waiting to be written to the client. */
size_t sq_output_pending(const sq_req *r);
/* Ends an SQ_ASYNC request: sends the rest of the response and releases the
 * request and its pool; r must not be used afterwards. Safe to call after
 * the client went away (the access log then shows 499 when nothing had been
 * sent). */
void sq_finish(sq_req *r);
/* Replaces the response by a redirect to url (status 301, 302, 303, 307 or
 * 308; 0 means 302): the body is dropped, headers set before (Set-Cookie)
 * are kept. The handler still returns or calls sq_finish(). */
int sq_redirect(sq_req *r, const char *url, int status);
/* Replaces the response by a small HTML error page for status. The handler
 * still returns or calls sq_finish(). */
int sq_send_error(sq_req *r, int status);
/* Calls cb(r, arg) once if the client goes away before the request
 * finishes (like Tornado's on_connection_close): a FIN or a reset is seen
 * while the request waits, without reading further input. After it, writes
 * are dropped, but the handler must still call sq_finish() (from cb or
 * later). Nothing of the connection calls back into r after sq_finish. */
void sq_on_close(sq_req *r, void (*cb)(sq_req *r, void *arg), void *arg);
/* Whether the client connection is still there. */
int sq_connected(const sq_req *r);

/* ---------------------------------------------------------------------
 * Forms, cookies, signed cookies, the current user, XSRF
 *
 * All compatible with Tornado byte for byte: a cookie signed by Tornado's
 * set_signed_cookie with the same secret reads here and the other way
 * round, and so do XSRF tokens. Strings returned are owned by the request.
 * ------------------------------------------------------------------- */

/* The first value of form field `name` of an application/x-www-form-
 * urlencoded or multipart/form-data body (not a file part), or NULL. A
 * field whose value has a NUL byte is skipped, as in sq_query_arg. */
const char *sq_body_arg(sq_req *r, const char *name);
const char *sq_body_arg_n(sq_req *r, const char *name, size_t n);
/* The first file part named `name` of a multipart/form-data body: its
 * bytes and their length, its filename and Content-Type (NULL when the
 * part had none); NULL when there is none. */
const char *sq_body_file(sq_req *r, const char *name, size_t *len,
                         const char **filename, const char **content_type);

/* A cookie of the request's Cookie headers (the last one of that name,
 * quoted values unquoted, as Tornado's get_cookie), or NULL. */
const char *sq_cookie(sq_req *r, const char *name);

/* Attributes of a Set-Cookie. A zeroed struct (or NULL) gives Path=/ and
 * nothing else but Secure on an https request (sq_scheme). */
typedef struct sq_cookie_opts {
    const char *domain;    /* NULL: none (the host that set it) */
    const char *path;      /* NULL: "/" (Tornado's default) */
    const char *same_site; /* NULL: none; "Lax", "Strict" or "None" */
    long long expires;     /* Unix time; 0: none, a session cookie */
    long long max_age;     /* seconds; 0: none */
    int http_only;         /* 1: HttpOnly */
    int secure;            /* 0: when https, 1: always, -1: never */
} sq_cookie_opts;

/* Adds a Set-Cookie; one set earlier in this response for the same name
 * is replaced. SQ_ERROR, with the reason in the error log, for a name that
 * is empty or not an RFC 6265 token, a value with a space, control byte,
 * ';' or ',' that Tornado would refuse too (other bytes are quoted as
 * Python's Morsel quotes them), an attribute with ';' or a control byte,
 * or after the head was sent. */
int sq_set_cookie(sq_req *r, const char *name, const char *value,
                  const sq_cookie_opts *o);
/* Deletes a cookie in the browser: an empty value that expired a year ago
 * (Tornado's clear_cookie). Domain and Path must be those it was set with. */
int sq_clear_cookie(sq_req *r, const char *name, const sq_cookie_opts *o);

/* Sets a cookie signed with security.cookie_secret_file's current key
 * (Tornado's signed value version 2, with security.key_version). Expires
 * 30 days from now when o->expires is 0 (Tornado's expires_days=30); -1
 * makes it a session cookie. SQ_ERROR when no secret is configured. */
int sq_set_signed_cookie(sq_req *r, const char *name, const void *value,
                         size_t len, const sq_cookie_opts *o);
/* The value of a signed cookie if its signature is valid for its name
 * with the secret of its key version and it is at most max_age_days old
 * (0: security.max_age_days, default 31) and not from the future (5
 * minutes of clock skew allowed); else NULL. Versions 1 and 2 are read.
 * NUL-terminated, its length in *len when len is not NULL. */
const char *sq_signed_cookie(sq_req *r, const char *name,
                             unsigned max_age_days, size_t *len);
/* Who is logged in: the signed cookie security.user_cookie (default
 * "user") as text, or, on an `auth: jwt` route, the token's "sub" claim;
 * NULL when nobody (or a value with a NUL byte). */
const char *sq_current_user(sq_req *r);

/* Logs user in: sets the signed cookie security.user_cookie to user
 * (HttpOnly, SameSite=Lax, Secure on https, 30 days), which
 * sq_current_user then reads on every later request, also in a Tornado
 * application that has the same cookie_secret. SQ_ERROR as
 * sq_set_signed_cookie, or for an empty user. */
int sq_login(sq_req *r, const char *user);
/* Clears that cookie. */
int sq_logout(sq_req *r);

/* The XSRF token for this client (Tornado's xsrf_token: version 2, masked
 * afresh each request). Sets the _xsrf cookie first when the request had
 * none. For forms (sq_xsrf_form_html) and for JavaScript that sends it
 * back in an X-XSRFToken header. NULL when out of memory. */
const char *sq_xsrf_token(sq_req *r);
/* <input type="hidden" name="_xsrf" value="TOKEN"/> for a form. */
const char *sq_xsrf_form_html(sq_req *r);

/* ---------------------------------------------------------------------
 * JWT: the claims of an `auth: jwt` route's bearer token
 *
 * squall has checked the token before the handler runs (signature,
 * "alg", exp, nbf, iss, aud, the route's `require:`), so what these
 * return can be trusted as far as the key can. sq_current_user returns
 * the "sub" claim on such routes. Strings are owned by the request.
 * ------------------------------------------------------------------- */

/* The claim `name` of the request's token: a string claim as it is, a
 * number, boolean, null, array or object as compact JSON text ("42",
 * "true", "[\"a\",\"b\"]"); NULL when it is absent, is a string with a
 * NUL byte, or the route is not an auth: jwt route. */
const char *sq_jwt_claim(sq_req *r, const char *name);
/* All the claims as a JSON object's text, or NULL without a token. */
const char *sq_jwt_claims(sq_req *r);

/* ---------------------------------------------------------------------
 * Memory
 *
 * Every request has a pool; what is allocated from it is freed when the
 * request ends, so handlers do not free per-request memory.
 * ------------------------------------------------------------------- */

/* The request's pool. */
sq_pool *sq_req_pool(sq_req *r);
/* Allocates n bytes (aligned for any type) from a pool; NULL when out of
 * memory. */
void *sq_palloc(sq_pool *p, size_t n);
/* Zeroed allocation from a pool. */
void *sq_pcalloc(sq_pool *p, size_t n);
/* Copies a string into a pool. */
char *sq_pstrdup(sq_pool *p, const char *s);
char *sq_pstrndup(sq_pool *p, const char *s, size_t n);
/* printf into a pool. */
char *sq_psprintf(sq_pool *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Runs fn(arg) when the pool is freed (files, foreign objects). */
int sq_pool_cleanup(sq_pool *p, void (*fn)(void *arg), void *arg);

/* ---------------------------------------------------------------------
 * Timers (the worker's event loop)
 *
 * A timer knows nothing of requests: one that a request started must be
 * cancelled by the module when the request ends (see "Asynchronous
 * requests" below), and one the module started in init, in fini at the
 * latest.
 * ------------------------------------------------------------------- */

/* Calls cb(arg) once after ms milliseconds on this worker's loop. Returns
 * NULL when out of memory. The handle is valid until cb has returned or
 * sq_timer_cancel() was called, whichever comes first; squall frees it
 * then. Cancelling from inside cb is allowed (and changes nothing). */
sq_timer *sq_call_later(unsigned ms, void (*cb)(void *arg), void *arg);
/* Calls cb(arg) every ms milliseconds (the first time ms from now) until
 * sq_timer_cancel(), like Tornado's PeriodicCallback; a late call does not
 * add up the delay. NULL when ms is 0 or out of memory. The handle is
 * valid until it is cancelled; cancelling from inside cb is allowed: cb
 * is not called again and the handle is freed when cb returns. */
sq_timer *sq_call_every(unsigned ms, void (*cb)(void *arg), void *arg);
/* Stops t and frees it (from inside t's own callback: when it returns);
 * t must not be used after. NULL is ignored. */
void sq_timer_cancel(sq_timer *t);
/* The worker's libevent event_base (struct event_base *), for modules that
 * watch their own file descriptors. */
void *sq_event_base(void);

/* ---------------------------------------------------------------------
 * Thread pool (per worker, server.thread_pool threads, default 4)
 *
 * A job's work(arg) runs on one of the worker's pool threads; done(arg)
 * then runs on the worker's loop thread, where the whole API may be used
 * again (Tornado's run_in_executor). work may block and may use any
 * thread-safe C library, but of this API only sq_log(): no request, pool,
 * timer or response function, and nothing of the loop. Jobs run in
 * parallel, in no guaranteed order.
 *
 * Every accepted job runs, and its done runs exactly once afterwards,
 * whatever happened to the request that started it meanwhile (the one
 * exception: a job abandoned at shutdown, below). The pool does not know
 * requests: see "Asynchronous requests" below for the pattern that keeps
 * done away from a finished request.
 *
 * At shutdown (SIGTERM, reload) the worker stops accepting connections but
 * keeps running its loop until both its connections and its jobs in flight
 * are finished, for up to server.shutdown_timeout: queued jobs still run
 * and done callbacks still run (and may answer their requests). Jobs
 * unfinished at the deadline are abandoned: the worker closes its
 * connections and exits without waiting for them, without their done
 * callbacks and without the modules' fini, which could free what they use.
 * ------------------------------------------------------------------- */

/* Queues work(arg) for the pool; done(arg) (may be NULL) runs on the loop
 * after work has returned. arg is the caller's: squall never frees it.
 * Returns 0; SQ_AGAIN when 1024 jobs already wait for a thread (the queue
 * is bounded: try later, or answer 503); SQ_ERROR without a pool
 * (server.thread_pool: 0 - jobs are never run inline on the loop), when
 * out of memory, or when called off the loop thread. On a non-zero return
 * neither work nor done is ever called. */
int sq_run_in_pool(void (*work)(void *arg), void (*done)(void *arg), void *arg);

/* ---------------------------------------------------------------------
 * Asynchronous requests: the written guarantee
 *
 * After sq_on_close's callback has run, or sq_finish() has returned, squall
 * itself never calls back into the request: no drain or close callback,
 * nothing else of its connection. What the module started for the request
 * (timers, pool jobs) is the module's, and the module must make sure none
 * of it touches r afterwards. The pattern:
 *
 *   - keep the request's async state in memory the module owns when it
 *     can outlive the request (a pool job: malloc, not the request pool);
 *     state that only timers use may live in the request pool, because a
 *     timer can be cancelled;
 *   - register sq_on_close(r, gone, state) when going async;
 *   - in gone: cancel the request's timers, mark the state (state->r =
 *     NULL), and call sq_finish(r);
 *   - in a timer callback: use r, and when answering, cancel the other
 *     timers and call sq_finish(r) (cancelling the running timer itself is
 *     allowed);
 *   - in a pool job's done: if state->r is NULL the client went away, so
 *     only free the state; else answer, sq_finish(state->r), free the
 *     state. A job cannot be cancelled: its done is where the state is
 *     freed.
 *
 * tests/modules/asyncmod.c shows both.
 * ------------------------------------------------------------------- */

/* ---------------------------------------------------------------------
 * WebSockets (RFC 6455, with permessage-deflate, RFC 7692)
 *
 * A route `{path: /ws/chat, websocket: "chat:room"}` upgrades GET requests
 * that are a valid handshake (else 400, or 426 for another version) from
 * an allowed Origin (else 403) and calls the endpoint's open. squall does
 * the framing: pings are answered, fragments are joined into whole
 * messages of at most websocket.max_message_size (else close 1009), text
 * is checked as UTF-8 (else 1007), a broken frame is closed with 1002,
 * compressed messages are inflated and sent messages deflated when the
 * client agreed.
 *
 *     static void echo(sq_ws *ws, int binary, const void *data, size_t len)
 *     {
 *         if (binary)
 *             sq_ws_send_binary(ws, data, len);
 *         else
 *             sq_ws_send_text(ws, data, len);
 *     }
 *
 *     SQ_MODULE(.name = "echo",
 *               .websockets = SQ_WEBSOCKETS({"echo", NULL, echo, NULL, NULL}));
 *
 * Ownership: squall owns the sq_ws from the handshake until the close
 * callback returns; the module owns what it sets with sq_ws_set_data and
 * frees it in close. Everything here is loop-thread only, and no sq_ws_*
 * call may be made on a ws after its close callback.
 *
 * Backpressure: sent frames wait in the connection's output; more than
 * websocket.max_send_buffer waiting closes the connection with 1008.
 * ------------------------------------------------------------------- */

/* SQ_WEBSOCKETS({"name", open, message, close, pong}, ...) builds the
 * endpoint list, ended for you. */
#define SQ_WEBSOCKETS(...)                                                    \
    ((const sq_ws_def[]){__VA_ARGS__, {NULL, NULL, NULL, NULL, NULL}})

/* Queues one text (valid UTF-8) or binary message. 0; SQ_ERROR once the
 * connection is closing, for text that is not UTF-8, or when out of
 * memory. A send that takes the waiting output above max_send_buffer
 * starts the close (1008) and still returns 0. */
int sq_ws_send_text(sq_ws *ws, const char *text, size_t len);
int sq_ws_send_binary(sq_ws *ws, const void *data, size_t len);
/* Sends a ping with up to 125 bytes of payload; the pong callback gets
 * the answer. 0 or SQ_ERROR. */
int sq_ws_ping(sq_ws *ws, const void *data, size_t len);
/* Starts the close handshake with code (1000, 1001, 1003, 1007-1014,
 * 3000-4999) and reason (UTF-8, up to 123 bytes; may be NULL). The close
 * callback follows once the client answers, or after
 * websocket.close_timeout. 0, or SQ_ERROR when already closing or for a
 * bad code or reason. */
int sq_ws_close(sq_ws *ws, int code, const char *reason);
/* Bytes of this connection waiting to be written to the client. */
size_t sq_ws_buffered(const sq_ws *ws);
/* The module's per-connection pointer (NULL until set). */
void sq_ws_set_data(sq_ws *ws, void *data);
void *sq_ws_data(const sq_ws *ws);
/* In open only: the subprotocol to answer with (Sec-WebSocket-Protocol),
 * one the client offered; for routes that list no `subprotocols`. The
 * string is copied. 0, or SQ_ERROR when the client did not offer it. */
int sq_ws_set_protocol(sq_ws *ws, const char *protocol);
/* The subprotocol agreed on, or NULL. */
const char *sq_ws_protocol(const sq_ws *ws);
/* What the route's auth found in the opening handshake, kept for the
 * connection's life: the claims of an `auth: jwt` route's token, as
 * sq_jwt_claim and sq_jwt_claims give them, and the current user (the
 * token's "sub", or the signed cookie's user on an `auth: login` route).
 * NULL when there is none; on a route without auth, open can still ask
 * sq_current_user(r). */
const char *sq_ws_jwt_claim(const sq_ws *ws, const char *name);
const char *sq_ws_jwt_claims(const sq_ws *ws);
const char *sq_ws_current_user(const sq_ws *ws);

/* ---------------------------------------------------------------------
 * Pub/sub: channels across workers (and hosts, with pubsub.redis)
 *
 * A message published on any worker reaches every subscriber of its
 * channel on every worker, in publish order. Each channel keeps its last
 * pubsub.history messages (for at most pubsub.history_ttl), each with a
 * position: "<epoch>:<offset>", where the offset counts the channel's
 * messages and the epoch changes whenever the channel's history was lost
 * (the hub restarted, the channel expired). A subscriber that comes back
 * with the last position it saw gets exactly what it missed, in order,
 * nothing twice; when that is no longer possible (another epoch, or the
 * messages fell out of the history) it gets one SQ_MSG_RELOAD instead: its
 * state is stale, it must reload it, and it continues after the position
 * the reload carries.
 *
 *     static void on_message(sq_sub *s, const sq_msg *m, void *arg)
 *     {
 *         sq_req *r = arg;
 *         sq_set_header(r, "Squall-Position", m->position);
 *         if (m->kind == SQ_MSG_DATA)
 *             sq_write(r, m->data, m->len);
 *         sq_unsubscribe(s);
 *         sq_finish(r);
 *     }
 *
 *     static int wait_message(sq_req *r)      // a long poll
 *     {
 *         if (sq_subscribe(r, "news", sq_query_arg(r, "position"),
 *                          on_message, r) == NULL)
 *             return 503;
 *         return SQ_ASYNC;
 *     }
 *
 * Channel names are 1 to 255 bytes, printable and without spaces. All of
 * this is loop-thread only; callbacks run on the worker's loop.
 * ------------------------------------------------------------------- */

typedef struct sq_sub sq_sub;

enum sq_msg_kind {
    SQ_MSG_DATA = 0,   /* a message */
    SQ_MSG_RELOAD = 1, /* messages were lost: reload, continue after this */
    SQ_MSG_ERROR = 2,  /* the subscription failed and has ended; data is
                        * the HTTP status that says why (503: more than
                        * pubsub.max_channels channels) */
};

typedef struct sq_msg {
    int kind;             /* enum sq_msg_kind */
    const char *channel;
    const void *data;     /* SQ_MSG_DATA: the message, len bytes */
    size_t len;
    const char *position; /* this message's, or where to continue */
} sq_msg;

/* A delivery. m and its strings are valid during the call only. The
 * callback may unsubscribe s, or finish or close what owns it. */
typedef void (*sq_msg_fn)(sq_sub *s, const sq_msg *m, void *arg);

/* Subscribes the request r to channel. position: the last one the client
 * saw, to get what came after it (or a reload), or NULL for the next
 * messages only. The subscription ends by sq_unsubscribe, when r is
 * finished, or when its client goes away (before sq_on_close's callback
 * runs): fn is never called after. Returns NULL for a bad channel name or
 * position, or when out of memory. */
sq_sub *sq_subscribe(sq_req *r, const char *channel, const char *position,
                     sq_msg_fn fn, void *arg);
/* The same for a WebSocket; it ends when the WebSocket closes (before its
 * close callback). */
sq_sub *sq_ws_subscribe(sq_ws *ws, const char *channel, const char *position,
                        sq_msg_fn fn, void *arg);
/* Ends a subscription; fn is not called again. */
void sq_unsubscribe(sq_sub *s);
/* The position the subscriber is at: of the last message delivered, or
 * the channel's when it subscribed without one. NULL until the hub has
 * answered (the first delivery, or shortly after subscribing). The string
 * is squall's, valid until the next call or delivery: copy it to keep it. */
const char *sq_sub_position(const sq_sub *s);

/* Publishes len bytes (at most pubsub.max_message_size) to channel. 0 when
 * it was handed to the hub; SQ_ERROR for a bad name or size, when the hub
 * is unreachable, or when out of memory. Fire and forget: use
 * sq_publish_req to learn the outcome. */
int sq_publish(const char *channel, const void *data, size_t len);

/* The outcome of sq_publish_req: status 0 with the message's position and
 * the number of subscribers on this host it reached, else an HTTP status
 * that says why (413: too large, 400: bad channel name, 503: too many
 * channels, or the hub unreachable). */
typedef void (*sq_publish_fn)(sq_req *r, int status, const char *position,
                              unsigned reached, void *arg);
/* Publishes for the request r: done runs once, on the loop, unless r is
 * finished or its client goes away first. Returns 0, or an HTTP status
 * (as above) when it failed at once (done is then not called). */
int sq_publish_req(sq_req *r, const char *channel, const void *data,
                   size_t len, sq_publish_fn done, void *arg);

/* ---------------------------------------------------------------------
 * Module configuration
 *
 * init() gets the module's YAML block as a plain, read-only tree; scalars
 * are text. Lookups on NULL return NULL or the default, so chains are safe.
 * ------------------------------------------------------------------- */

enum sq_conf_type { SQ_CONF_SCALAR = 1, SQ_CONF_LIST, SQ_CONF_MAP };

int sq_conf_type(const sq_conf *c);
/* The scalar's text, or NULL when c is not a scalar. */
const char *sq_conf_value(const sq_conf *c);
/* Number of entries of a list or map (0 for a scalar or NULL). */
size_t sq_conf_len(const sq_conf *c);
/* The i-th entry of a list or map; for a map, *key (when key != NULL) gets
 * the entry's key. */
const sq_conf *sq_conf_at(const sq_conf *c, size_t i, const char **key);
/* The value under key in a map, or NULL. */
const sq_conf *sq_conf_get(const sq_conf *map, const char *key);
/* Scalar lookups in a map with a default for "absent". A value of the wrong
 * form (not a number, not a boolean) also yields the default. */
const char *sq_conf_str(const sq_conf *map, const char *key, const char *def);
long long sq_conf_int(const sq_conf *map, const char *key, long long def);
int sq_conf_bool(const sq_conf *map, const char *key, int def);

/* ---------------------------------------------------------------------
 * Logging (to squalld's error log)
 * ------------------------------------------------------------------- */

enum sq_log_level {
    SQ_LOG_DEBUG,
    SQ_LOG_INFO,
    SQ_LOG_NOTICE,
    SQ_LOG_WARN,
    SQ_LOG_ERROR,
    SQ_LOG_CRIT
};

/* Writes one line to the error log. May also be called from a thread
 * pool job (sq_run_in_pool): a line is formatted on the caller's stack and
 * written with a single write(2). */
void sq_log(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---------------------------------------------------------------------
 * Internals of the macros above (not part of the API)
 * ------------------------------------------------------------------- */

#define SQ__DEF(fn) {#fn, fn},
#define SQ__NARGS(...)                                                        \
    SQ__NARGS_(__VA_ARGS__, 32, 31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21,  \
               20, 19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, \
               3, 2, 1, 0)
#define SQ__NARGS_(_1, _2, _3, _4, _5, _6, _7, _8, _9, _10, _11, _12, _13,    \
                   _14, _15, _16, _17, _18, _19, _20, _21, _22, _23, _24,     \
                   _25, _26, _27, _28, _29, _30, _31, _32, N, ...)            \
    N
#define SQ__CAT(a, b) SQ__CAT_(a, b)
#define SQ__CAT_(a, b) a##b
#define SQ__EACH(m, ...) SQ__CAT(SQ__EACH_, SQ__NARGS(__VA_ARGS__))(m, __VA_ARGS__)
#define SQ__EACH_1(m, x) m(x)
#define SQ__EACH_2(m, x, ...) m(x) SQ__EACH_1(m, __VA_ARGS__)
#define SQ__EACH_3(m, x, ...) m(x) SQ__EACH_2(m, __VA_ARGS__)
#define SQ__EACH_4(m, x, ...) m(x) SQ__EACH_3(m, __VA_ARGS__)
#define SQ__EACH_5(m, x, ...) m(x) SQ__EACH_4(m, __VA_ARGS__)
#define SQ__EACH_6(m, x, ...) m(x) SQ__EACH_5(m, __VA_ARGS__)
#define SQ__EACH_7(m, x, ...) m(x) SQ__EACH_6(m, __VA_ARGS__)
#define SQ__EACH_8(m, x, ...) m(x) SQ__EACH_7(m, __VA_ARGS__)
#define SQ__EACH_9(m, x, ...) m(x) SQ__EACH_8(m, __VA_ARGS__)
#define SQ__EACH_10(m, x, ...) m(x) SQ__EACH_9(m, __VA_ARGS__)
#define SQ__EACH_11(m, x, ...) m(x) SQ__EACH_10(m, __VA_ARGS__)
#define SQ__EACH_12(m, x, ...) m(x) SQ__EACH_11(m, __VA_ARGS__)
#define SQ__EACH_13(m, x, ...) m(x) SQ__EACH_12(m, __VA_ARGS__)
#define SQ__EACH_14(m, x, ...) m(x) SQ__EACH_13(m, __VA_ARGS__)
#define SQ__EACH_15(m, x, ...) m(x) SQ__EACH_14(m, __VA_ARGS__)
#define SQ__EACH_16(m, x, ...) m(x) SQ__EACH_15(m, __VA_ARGS__)
#define SQ__EACH_17(m, x, ...) m(x) SQ__EACH_16(m, __VA_ARGS__)
#define SQ__EACH_18(m, x, ...) m(x) SQ__EACH_17(m, __VA_ARGS__)
#define SQ__EACH_19(m, x, ...) m(x) SQ__EACH_18(m, __VA_ARGS__)
#define SQ__EACH_20(m, x, ...) m(x) SQ__EACH_19(m, __VA_ARGS__)
#define SQ__EACH_21(m, x, ...) m(x) SQ__EACH_20(m, __VA_ARGS__)
#define SQ__EACH_22(m, x, ...) m(x) SQ__EACH_21(m, __VA_ARGS__)
#define SQ__EACH_23(m, x, ...) m(x) SQ__EACH_22(m, __VA_ARGS__)
#define SQ__EACH_24(m, x, ...) m(x) SQ__EACH_23(m, __VA_ARGS__)
#define SQ__EACH_25(m, x, ...) m(x) SQ__EACH_24(m, __VA_ARGS__)
#define SQ__EACH_26(m, x, ...) m(x) SQ__EACH_25(m, __VA_ARGS__)
#define SQ__EACH_27(m, x, ...) m(x) SQ__EACH_26(m, __VA_ARGS__)
#define SQ__EACH_28(m, x, ...) m(x) SQ__EACH_27(m, __VA_ARGS__)
#define SQ__EACH_29(m, x, ...) m(x) SQ__EACH_28(m, __VA_ARGS__)
#define SQ__EACH_30(m, x, ...) m(x) SQ__EACH_29(m, __VA_ARGS__)
#define SQ__EACH_31(m, x, ...) m(x) SQ__EACH_30(m, __VA_ARGS__)
#define SQ__EACH_32(m, x, ...) m(x) SQ__EACH_31(m, __VA_ARGS__)

#ifdef __cplusplus
}
#endif
#endif /* SQUALL_H */
