/* clang-format off */
/*
 * test.h - the squall test client: Tornado's AsyncHTTPTestCase, in C.
 *
 * It starts the real squalld as a child process from a YAML string, sends
 * it HTTP/1.1 requests over loopback, and stops it, so a module's tests
 * exercise the module exactly as production will run it.
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
 * Link with -lsquall-test (pkg-config --libs squall); it needs only libc.
 *
 * The server listens on an ephemeral 127.0.0.1 port that the library binds
 * itself and hands over with systemd socket activation, so `server.listen`
 * may be left out of the YAML and tests never race for a port. Readiness is
 * squalld's sd_notify "READY=1", received on a private socket.
 *
 * Environment: $SQUALLD is the squalld to run (default: the one installed
 * with this library); $SQ_TEST_TIMEOUT is every deadline below in seconds
 * (default 10); $SQ_TEST_KEEP=1 keeps the server's temporary directory
 * (config and log) after sq_test_stop() and prints where it is. squalld
 * inherits the rest of the environment (e.g. $SQUALL_MODULE_DIR, where bare
 * module names like "hello.so" are looked up) and the working directory.
 *
 * Processes: squalld runs in its own process group; on Linux it gets
 * SIGTERM when the thread that started it exits, so a crashed test leaves
 * no daemon behind. No signal handlers are installed: children are watched
 * with waitpid(). Threads: one sq_test_server is for one thread at a time.
 */
/* clang-format on */
#ifndef SQUALL_TEST_H
#define SQUALL_TEST_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A running squalld and its temporary directory. */
typedef struct sq_test_server sq_test_server;

/* One response header or trailer, as received (name case preserved). */
typedef struct sq_test_field {
    char *name;
    char *value; /* leading and trailing whitespace removed */
} sq_test_field;

/* A complete response. Everything in it is owned by the response and freed
 * by sq_test_response_free(). */
typedef struct sq_test_response {
    int status;   /* 200, 404, ... (a final status: 1xx are skipped,
                     except 101) */
    int version;  /* 10 or 11, from the status line */
    char *reason; /* "OK"; "" when the server sent none */
    size_t nheaders;
    sq_test_field *headers; /* in the order received */
    char *body;      /* decoded (de-chunked); never NULL, NUL-terminated */
    size_t body_len; /* without that NUL */
} sq_test_response;

/* Writes yaml to a config file in a private temporary directory, starts
 * squalld on it, and waits until it reports READY=1. Returns NULL when
 * squalld exits or does not become ready in time; err (may be NULL) then
 * gets why, with the first lines of squalld's stderr (its config errors
 * read "file:line:col: message"). */
sq_test_server *sq_test_start(const char *yaml, char *err, size_t errlen);

/* The loopback TCP port the server listens on. */
int sq_test_port(const sq_test_server *s);

/* squalld's process id (the master), e.g. to send it SIGHUP. */
int sq_test_pid(const sq_test_server *s);

/* The file that collects squalld's stdout and stderr; it is removed by
 * sq_test_stop() unless $SQ_TEST_KEEP is set. */
const char *sq_test_log(const sq_test_server *s);

/* Sends one request on a new connection and reads the response. method
 * NULL means "GET". headers is NULL or a NULL-terminated array of
 * "Name: value" lines, sent after the library's own Host (omitted when
 * headers has one), Content-Length (sent when body != NULL or for POST,
 * PUT and PATCH; omitted when headers has Content-Length or
 * Transfer-Encoding: the body is then sent as is) and "Connection: close"
 * (omitted when headers has Connection). The response is read to its end
 * by Content-Length, chunked encoding or the close of the connection (none
 * for HEAD, 1xx, 204 and 304); with "Connection: close", any byte after it
 * is an error. Returns NULL on failure (refused, timed out, malformed or
 * truncated response): sq_test_error() says why. Free with
 * sq_test_response_free(). */
sq_test_response *sq_test_fetch(sq_test_server *s, const char *method,
                                const char *path, const char *const *headers,
                                const void *body, size_t body_len);

/* sq_test_fetch(s, "GET", path, NULL, NULL, 0). */
sq_test_response *sq_test_get(sq_test_server *s, const char *path);

/* Sends len bytes exactly as given (a request of your own making, valid or
 * not) and reads one response as sq_test_fetch() does; the request counts
 * as HEAD when the bytes start with "HEAD ". Bytes after that response are
 * not read. */
sq_test_response *sq_test_fetch_raw(sq_test_server *s, const void *request,
                                    size_t len);

/* Why the last fetch on s failed, e.g. "GET /: timed out after 10 s
 * reading the response"; "" when it did not. Valid until the next call. */
const char *sq_test_error(const sq_test_server *s);

/* The value of the first header named name (case-insensitive), or NULL. */
const char *sq_test_header(const sq_test_response *r, const char *name);

/* Frees a response; NULL is fine. */
void sq_test_response_free(sq_test_response *r);

/* Stops squalld with SIGTERM and waits for it (SIGKILL after the deadline,
 * for it and any process it left), then removes the temporary directory
 * and frees s. Returns squalld's exit status (0 for a clean stop), or -1
 * when it was killed by a signal, had to be killed or left processes
 * behind; the end of its log is then copied to stderr. Call it from the
 * process that started s (it waits for squalld as for a child). */
int sq_test_stop(sq_test_server *s);

#ifdef __cplusplus
}
#endif
#endif /* SQUALL_TEST_H */
