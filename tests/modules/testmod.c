/*
 * testmod.c - the handler module behind squalld's integration tests
 * (tests/integration/test_*.py). Each handler exercises one part of the
 * module API; the tests route to them as testmod:NAME.
 *
 * Module config (all optional):
 *   spawn_log: FILE    every init appends "PID\n" to FILE (counts spawns)
 *   crash_file: FILE   init aborts while FILE exists (crash-loop test)
 *   init_fail: true    init returns -1 (a worker that cannot start)
 */
#include <squall/squall.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BIG_MAX (64u << 20) /* largest body /big writes */

/* An unsigned query argument, or def when absent or not a number. */
static unsigned long query_ulong(sq_req *r, const char *name, unsigned long def)
{
    const char *s = sq_query_arg(r, name);
    char *end;
    unsigned long v;

    if (s == NULL || *s == '\0')
        return def;
    v = strtoul(s, &end, 10);
    return *end == '\0' ? v : def;
}

static void append_pid(const char *path)
{
    char line[32];
    int fd, n;

    fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        return;
    n = snprintf(line, sizeof line, "%ld\n", (long)getpid());
    if (write(fd, line, (size_t)n) != n)
        sq_log(SQ_LOG_WARN, "testmod: cannot write %s", path);
    close(fd);
}

static int testmod_init(const sq_conf *config)
{
    const char *spawn_log = sq_conf_str(config, "spawn_log", NULL);
    const char *crash_file = sq_conf_str(config, "crash_file", NULL);

    if (spawn_log != NULL)
        append_pid(spawn_log); /* before crashing: every attempt counts */
    if (crash_file != NULL && access(crash_file, F_OK) == 0)
        abort();
    if (sq_conf_bool(config, "init_fail", 0))
        return -1;
    return 0;
}

/* GET /pid: the pid of the worker that serves the request. */
static int pid(sq_req *r)
{
    sq_set_header(r, "Content-Type", "text/plain");
    sq_printf(r, "%ld", (long)getpid());
    return SQ_DONE;
}

/* GET /slow?ms=N: answers "slow done" after N ms (default 1000). */
struct slow_state {
    sq_req *r;
    sq_timer *timer;
};

static void slow_fire(void *arg)
{
    struct slow_state *s = arg; /* in r's pool: gone after sq_finish */

    sq_set_header(s->r, "Content-Type", "text/plain");
    sq_write(s->r, "slow done", 9);
    sq_finish(s->r);
}

static void slow_gone(sq_req *r, void *arg)
{
    struct slow_state *s = arg;

    sq_log(SQ_LOG_INFO, "testmod: slow request closed");
    sq_timer_cancel(s->timer);
    sq_finish(r);
}

static int slow(sq_req *r)
{
    unsigned ms = (unsigned)query_ulong(r, "ms", 1000);
    struct slow_state *s = sq_palloc(sq_req_pool(r), sizeof *s);

    if (s == NULL)
        return SQ_ERROR;
    s->r = r;
    s->timer = sq_call_later(ms, slow_fire, s);
    if (s->timer == NULL)
        return SQ_ERROR;
    sq_on_close(r, slow_gone, s);
    /* the tests wait for this line to know the request is in flight */
    sq_log(SQ_LOG_INFO, "testmod: slow request started, %u ms", ms);
    return SQ_ASYNC;
}

/* GET /drip?n=N: N lines 5 ms apart, each flushed on its own. It keeps
 * using r after every sq_flush(), which must stay safe when the client has
 * gone: r lives until sq_finish(), whatever the connection does. */
struct drip {
    sq_req *r;
    sq_timer *timer;
    unsigned left;
};

static void drip_next(void *arg)
{
    struct drip *d = arg; /* in r's pool: gone after sq_finish */

    d->timer = NULL;
    sq_printf(d->r, "line %u\n", d->left);
    sq_flush(d->r);
    sq_printf(d->r, "after flush %u\n", d->left);
    if (--d->left == 0) {
        sq_finish(d->r);
        return;
    }
    d->timer = sq_call_later(5, drip_next, d);
}

static void drip_gone(sq_req *r, void *arg)
{
    struct drip *d = arg;

    sq_timer_cancel(d->timer);
    sq_finish(r);
}

static int drip(sq_req *r)
{
    struct drip *d = sq_palloc(sq_req_pool(r), sizeof *d);

    if (d == NULL)
        return SQ_ERROR;
    d->r = r;
    d->left = (unsigned)query_ulong(r, "n", 10);
    if (d->left == 0)
        return SQ_DONE;
    sq_set_header(r, "Content-Type", "text/plain");
    d->timer = sq_call_later(5, drip_next, d);
    if (d->timer == NULL)
        return SQ_ERROR;
    sq_on_close(r, drip_gone, d);
    return SQ_ASYNC;
}

/* GET /stream: "first\n" flushed at once, "second\n" 50 ms later; the
 * flush makes the response chunked. */
static void stream_rest(void *arg)
{
    sq_req *r = arg;

    sq_write(r, "second\n", 7);
    sq_finish(r);
}

static void stream_gone(sq_req *r, void *arg)
{
    sq_timer_cancel(arg);
    sq_finish(r);
}

static int stream(sq_req *r)
{
    sq_timer *t;

    sq_set_header(r, "Content-Type", "text/plain");
    sq_write(r, "first\n", 6);
    if (sq_flush(r) < 0)
        return SQ_ERROR;
    t = sq_call_later(50, stream_rest, r);
    if (t == NULL)
        return SQ_ERROR;
    sq_on_close(r, stream_gone, t);
    return SQ_ASYNC;
}

/* GET /big?n=N: N bytes of 'x' in a single write (N <= 64 MiB). */
static int big(sq_req *r)
{
    unsigned long n = query_ulong(r, "n", 0);
    char *buf;

    if (n > BIG_MAX)
        return sq_send_error(r, 400) < 0 ? SQ_ERROR : SQ_DONE;
    buf = sq_palloc(sq_req_pool(r), n ? n : 1);
    if (buf == NULL)
        return SQ_ERROR;
    memset(buf, 'x', n);
    sq_set_header(r, "Content-Type", "application/octet-stream");
    return sq_write(r, buf, n) < 0 ? SQ_ERROR : SQ_DONE;
}

/* GET /headers: the request headers, one "Name: value\n" line each. */
static int headers(sq_req *r)
{
    size_t i, n = sq_header_count(r);
    const char *name, *value;

    sq_set_header(r, "Content-Type", "text/plain");
    for (i = 0; i < n; i++) {
        if (sq_header_at(r, i, &name, &value) == 0)
            sq_printf(r, "%s: %s\n", name, value);
    }
    return SQ_DONE;
}

/* GET /client: who the client is and how it came, as handlers see it
 * (after server.trusted_proxies): "ADDRESS SCHEME". */
static int client(sq_req *r)
{
    sq_set_header(r, "Content-Type", "text/plain");
    sq_printf(r, "%s %s", sq_remote_addr(r), sq_scheme(r));
    return SQ_DONE;
}

/* GET /args/{id}?q=...: the decoded path and query arguments. */
static int args(sq_req *r)
{
    const char *id = sq_path_arg(r, "id");
    const char *q = sq_query_arg(r, "q");

    sq_set_header(r, "Content-Type", "text/plain");
    sq_printf(r, "id=%s\nq=%s\n", id ? id : "", q ? q : "");
    return SQ_DONE;
}

/* GET /status?code=N: an empty-ish response with status N. */
static int status(sq_req *r)
{
    unsigned long code = query_ulong(r, "code", 200);

    if (sq_set_status(r, (int)code) < 0)
        return SQ_ERROR;
    sq_set_header(r, "Content-Type", "text/plain");
    sq_printf(r, "status %lu\n", code);
    return SQ_DONE;
}

/* GET /redirect[?cookie=1]: 302 to /target (after setting a cookie, as
 * a login handler does). */
static int redirect(sq_req *r)
{
    if (query_ulong(r, "cookie", 0) &&
        sq_add_header(r, "Set-Cookie", "session=s1; Path=/") < 0)
        return SQ_ERROR;
    return sq_redirect(r, "/target", 302) < 0 ? SQ_ERROR : SQ_DONE;
}

/* GET /flushstatus?code=N: status N, a body written and flushed, then
 * finished: for statuses that have no content (204, 304) nothing of the
 * body nor a chunked framing may go out. */
static int flushstatus(sq_req *r)
{
    if (sq_set_status(r, (int)query_ulong(r, "code", 204)) < 0)
        return SQ_ERROR;
    sq_write(r, "dropped", 7);
    if (sq_flush(r) < 0)
        return SQ_ERROR;
    sq_write(r, "dropped too", 11);
    return SQ_DONE;
}

/* GET /hold: a long poll that never answers; when the client goes away
 * it logs "testmod: hold closed" and finishes. */
static void hold_gone(sq_req *r, void *arg)
{
    (void)arg;
    sq_log(SQ_LOG_INFO, "testmod: hold closed");
    sq_finish(r);
}

static int hold(sq_req *r)
{
    sq_on_close(r, hold_gone, NULL);
    sq_log(SQ_LOG_INFO, "testmod: hold started");
    return SQ_ASYNC;
}

/* GET /firehose?chunk=N&every=MS&total=N&polite=0|1: writes and flushes
 * chunk bytes every MS ms until total bytes (0 = forever). polite=1 obeys
 * backpressure: on SQ_AGAIN it stops until sq_on_drain. It logs what it
 * did when the client goes away. */
struct firehose {
    sq_req *r;
    sq_timer *timer;
    char *chunk;
    size_t size, total, sent;
    unsigned every, waits;
    int polite;
};

static void firehose_next(void *arg);

static void firehose_drained(sq_req *r, void *arg)
{
    struct firehose *f = arg;

    (void)r;
    f->timer = sq_call_later(f->every, firehose_next, f);
}

static void firehose_next(void *arg)
{
    struct firehose *f = arg;
    int rc;

    f->timer = NULL;
    sq_write(f->r, f->chunk, f->size);
    f->sent += f->size;
    rc = sq_flush(f->r);
    if (f->total != 0 && f->sent >= f->total) {
        sq_finish(f->r);
        return;
    }
    if (rc == SQ_AGAIN && f->polite) {
        f->waits++;
        sq_on_drain(f->r, firehose_drained, f);
        return;
    }
    f->timer = sq_call_later(f->every, firehose_next, f);
}

static void firehose_gone(sq_req *r, void *arg)
{
    struct firehose *f = arg;

    sq_timer_cancel(f->timer);
    sq_log(SQ_LOG_INFO, "testmod: firehose gone after %zu bytes, %u waits",
           f->sent, f->waits);
    sq_finish(r);
}

static int firehose(sq_req *r)
{
    struct firehose *f = sq_pcalloc(sq_req_pool(r), sizeof *f);

    if (f == NULL)
        return SQ_ERROR;
    f->r = r;
    f->size = query_ulong(r, "chunk", 65536);
    f->every = (unsigned)query_ulong(r, "every", 2);
    f->total = query_ulong(r, "total", 0);
    f->polite = (int)query_ulong(r, "polite", 0);
    if (f->size == 0 || f->size > BIG_MAX ||
        (f->chunk = sq_palloc(sq_req_pool(r), f->size)) == NULL)
        return SQ_ERROR;
    memset(f->chunk, 'f', f->size);
    sq_set_header(r, "Content-Type", "application/octet-stream");
    f->timer = sq_call_later(0, firehose_next, f);
    if (f->timer == NULL)
        return SQ_ERROR;
    sq_on_close(r, firehose_gone, f);
    return SQ_ASYNC;
}

/* GET /selfcancel: a timer whose callback cancels its own handle (the
 * handle lives until the callback returns), then answers. */
struct selfcancel {
    sq_req *r;
    sq_timer *timer;
};

static void selfcancel_fire(void *arg)
{
    struct selfcancel *s = arg;

    sq_timer_cancel(s->timer);
    sq_write(s->r, "cancelled inside", 16);
    sq_finish(s->r);
}

static int selfcancel(sq_req *r)
{
    struct selfcancel *s = sq_palloc(sq_req_pool(r), sizeof *s);

    if (s == NULL)
        return SQ_ERROR;
    s->r = r;
    s->timer = sq_call_later(1, selfcancel_fire, s);
    return s->timer == NULL ? SQ_ERROR : SQ_ASYNC;
}

/* GET /fail: the handler fails, squalld answers 500. */
static int fail(sq_req *r)
{
    (void)r; /* fails whatever the request */
    return SQ_ERROR;
}

/* POST /body: echoes the request body, its length in X-Body-Length. */
static int body(sq_req *r)
{
    size_t len;
    const char *data = sq_body(r, &len);
    char lenbuf[32];

    snprintf(lenbuf, sizeof lenbuf, "%zu", len);
    sq_set_header(r, "X-Body-Length", lenbuf);
    sq_set_header(r, "Content-Type", "application/octet-stream");
    return sq_write(r, data, len) < 0 ? SQ_ERROR : SQ_DONE;
}

/* GET /scheme: sq_scheme(r), "http" or "https" (a tls: listener). */
static int scheme(sq_req *r)
{
    sq_set_header(r, "Content-Type", "text/plain");
    sq_printf(r, "%s", sq_scheme(r));
    return SQ_DONE;
}

SQ_MODULE(.name = "testmod", .init = testmod_init,
          .handlers = SQ_HANDLERS(pid, slow, drip, stream, big, headers, args,
                                  status, redirect, fail, body, flushstatus,
                                  hold, firehose, selfcancel, client,
                                  scheme));
