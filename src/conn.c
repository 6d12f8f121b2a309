/*
 * conn.c - the transport: one client socket, its buffers, its timer, and
 * the protocol that speaks on it (http1.c today; the WebSocket code takes
 * a connection over by swapping the protocol, as nginx swaps
 * c->read->handler).
 *
 * Events. A connection has one edge-triggered event that watches read,
 * write and peer close (EPOLLRDHUP) for its whole life and is never
 * modified: readiness is remembered in flags, as nginx does. A protocol
 * that stops taking input (a request waiting in a handler) therefore keeps
 * seeing the client: a FIN arrives as EV_CLOSED, and a reset, which epoll
 * reports as an error, as a read edge on which SO_ERROR is set.
 *
 * Input is read into one buffer shared by the worker and offered to the
 * protocol at once; only the bytes it does not consume are copied into the
 * connection, and at most IN_MAX of them, so a quiet connection holds no
 * input buffer.
 *
 * Output. Protocols append to c->out (a large body may be moved to
 * c->tail, written after it) and call conn_send(). Inside a protocol
 * callback the write is made once when the callback returns, so a batch of
 * pipelined answers costs one writev. Pending output is bounded: at
 * OUT_HIGH conn_output_high() tells producers to wait, they get a drain
 * callback below OUT_LOW, and beyond OUT_LIMIT the connection is closed.
 * While output waits, the timer is the write timer: idle_timeout from the
 * last write that made progress, never re-armed without progress.
 *
 * Lifetime: conn_close() inside a protocol callback (or with a write in
 * progress) only marks the connection; it is freed when the outermost
 * callback returns, after the protocol's release() has freed its state.
 * So no caller ever holds a freed connection.
 *
 * TLS (a `tls:` listener, tls.c): the same, with the bytes going through
 * OpenSSL (tls_read_in, tls_write_out) once the handshake is done; the protocols
 * never know. The handshake runs first, under the protocol's first timer
 * (header_timeout). OpenSSL may need to write while reading and to read
 * while writing: tls_rw and tls_wr remember that, so that the write edge
 * resumes reading and the read edge resumes writing. SSL_read returns one
 * record at a time, so a TLS read fills the shared buffer until the
 * socket has no more, and can_read is cleared only when OpenSSL saw
 * EAGAIN, or when its last read(2) was short and it holds nothing
 * buffered (tls_drained): nothing is left behind without an edge to
 * come. A close sends close_notify once the handshake
 * is done, unless the connection failed.
 */
#include "internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define READ_SIZE 65536
/* Input kept for a protocol that does not take it yet; reading stops
 * there and TCP pushes back on the client. */
#define IN_MAX (64 * 1024)
/* After an error response: how long and how much to read and discard so
 * that the client sees the response instead of a reset (RFC 9112 9.6). */
#define LINGER_MS 2000
#define LINGER_MAX (1024 * 1024)

struct conn {
    int fd;
    struct event ev; /* EV_READ | EV_WRITE | EV_CLOSED, edge-triggered */
    struct event timer;
    const struct conn_proto *proto;
    void *pdata;
    struct buf out, tail;
    char *in; /* input the protocol has not consumed */
    size_t in_off, in_len, in_cap;
    /* the protocol's timer: a common timeout, and when it expires (for
     * re-arming what is left of it after the write timer) */
    const struct timeval *ptimer;
    uint64_t ptimer_at;
    uint64_t armed_at; /* when the timer event fires; 0: not armed */
    unsigned depth; /* nesting of callbacks running on this connection */
    unsigned can_read : 1;    /* no EAGAIN since the last read edge */
    unsigned can_write : 1;   /* no EAGAIN since the last write edge */
    unsigned peer_closed : 1; /* EV_CLOSED seen: FIN from the client */
    unsigned paused : 1;      /* the protocol takes no input now */
    unsigned offer_kept : 1;  /* kept input to offer again */
    unsigned send_due : 1;    /* output to write when the callback ends */
    unsigned close_after : 1; /* close once the output is written */
    unsigned lingering : 1;   /* ... then read and discard for a while */
    unsigned half_closed : 1; /* we sent FIN, discarding input */
    unsigned closing : 1;     /* to be freed when depth reaches 0 */
    unsigned want_drain : 1;  /* the protocol waits for OUT_LOW */
    unsigned write_timer : 1; /* the timer is the write timer */
    unsigned eof_told : 1;    /* proto->eof has run */
    unsigned trusted : 1;     /* the peer is a trusted proxy (proxy.c) */
    unsigned tls_hs : 1;      /* TLS: handshake not complete */
    unsigned tls_rw : 1;      /* TLS: a read waits for the write edge */
    unsigned tls_wr : 1;      /* TLS: a write waits for the read edge */
    unsigned tls_tail : 1;    /* TLS: an SSL_write of tail is to retry */
    unsigned tls_quiet : 1;   /* TLS: no close_notify (failed, or sent) */
    struct ssl_st *ssl;       /* TLS: NULL on a plain connection */
    size_t lingered;
    char remote[48];
    struct conn *prev, *next;
};

static struct {
    struct event_base *base;
    const struct limits_conf *lim;
    void (*count_changed)(unsigned count, int opened);
    struct conn *head;
    unsigned count;
    char rbuf[READ_SIZE];
    struct timeval idle, linger;
    const struct timeval *idle_p, *linger_p;
} C;

static void on_event(evutil_socket_t fd, short what, void *arg);
static void on_timer(evutil_socket_t fd, short what, void *arg);
static void do_send(struct conn *c);

uint64_t conn_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void ms_to_tv(uint64_t ms, struct timeval *tv)
{
    tv->tv_sec = (time_t)(ms / 1000);
    tv->tv_usec = (suseconds_t)(ms % 1000) * 1000;
}

const struct timeval *conn_common_timeout(unsigned ms, struct timeval *tv)
{
    ms_to_tv(ms, tv);
    return event_base_init_common_timeout(C.base, tv);
}

void conn_setup(struct event_base *base, const struct limits_conf *lim,
                void (*count_changed)(unsigned count, int opened))
{
    C.base = base;
    C.lim = lim;
    C.count_changed = count_changed;
    C.idle_p = conn_common_timeout(lim->idle_timeout_ms, &C.idle);
    C.linger_p = conn_common_timeout(LINGER_MS, &C.linger);
}

unsigned conn_count(void)
{
    return C.count;
}

struct conn *conn_new(int fd, const struct sockaddr *sa, int is_unix)
{
    struct conn *c = calloc(1, sizeof(*c));

    if (c == NULL) {
        log_error("out of memory for a new connection");
        close(fd);
        return NULL;
    }
    c->fd = fd;
    c->trusted = proxy_peer_trusted(sa, is_unix) != 0;
    if (is_unix)
        strcpy(c->remote, "unix");
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr,
                  c->remote, sizeof(c->remote));
    else
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr,
                  c->remote, sizeof(c->remote));
    event_assign(&c->ev, C.base, fd,
                 EV_READ | EV_WRITE | EV_CLOSED | EV_ET | EV_PERSIST, on_event,
                 c);
    evtimer_assign(&c->timer, C.base, on_timer, c);
    if (event_add(&c->ev, NULL) < 0) {
        log_error("%s: cannot watch the connection", c->remote);
        close(fd);
        free(c);
        return NULL;
    }
    /* an accepted socket is writable; reads wait for the first edge */
    c->can_write = 1;
    c->next = C.head;
    if (C.head != NULL)
        C.head->prev = c;
    C.head = c;
    C.count++;
    if (C.count_changed != NULL)
        C.count_changed(C.count, 1);
    return c;
}

void conn_set_proto(struct conn *c, const struct conn_proto *proto,
                    void *data)
{
    c->proto = proto;
    c->pdata = data;
}

void *conn_proto_data(const struct conn *c)
{
    return c->pdata;
}

const char *conn_remote(const struct conn *c)
{
    return c->remote;
}

int conn_trusted(const struct conn *c)
{
    return c->trusted;
}

struct buf *conn_out(struct conn *c)
{
    return &c->out;
}

struct buf *conn_tail(struct conn *c)
{
    return &c->tail;
}

size_t conn_pending(const struct conn *c)
{
    return buf_pending(&c->out) + buf_pending(&c->tail);
}

int conn_output_high(const struct conn *c)
{
    return conn_pending(c) >= CONN_OUT_HIGH || buf_pending(&c->tail) > 0;
}

int conn_closing(const struct conn *c)
{
    return c->closing || c->close_after;
}


/* --- timers ------------------------------------------------------------ *
 *
 * The protocol's timer is lazy, as keep-alive asks: a request re-arms it
 * (header timeout, then idle timeout) twice, and an event_add each time
 * was a tenth of a small request's instructions. conn_timer() only
 * records the deadline; the event is re-armed when it would fire after
 * it, and when it fires before the deadline it is re-armed for the rest.
 */

static void arm_at(struct conn *c, const struct timeval *tv, uint64_t at)
{
    if (event_add(&c->timer, tv) < 0)
        fatal("cannot arm a connection timer");
    c->armed_at = at;
}

static void arm_rest(struct conn *c, uint64_t at)
{
    struct timeval tv;
    uint64_t now = conn_now_ms();

    ms_to_tv(at > now ? at - now : 0, &tv);
    arm_at(c, &tv, at);
}

void conn_timer(struct conn *c, const struct timeval *common, unsigned ms)
{
    c->ptimer = common;
    if (common == NULL)
        return; /* an armed event finds no deadline and does nothing */
    c->ptimer_at = conn_now_ms() + ms;
    if (c->write_timer)
        return;
    if (c->armed_at != 0 && c->armed_at <= c->ptimer_at)
        return; /* fires first, then re-armed for the rest */
    arm_at(c, common, c->ptimer_at);
}

/* Output waits: idle_timeout from now, called at each write that made
 * progress (and when output starts waiting), never otherwise. */
static void write_timer_progress(struct conn *c)
{
    c->write_timer = 1;
    arm_at(c, C.idle_p, conn_now_ms() + C.lim->idle_timeout_ms);
}

/* Output drained: back to what is left of the protocol's timer. */
static void write_timer_done(struct conn *c)
{
    if (!c->write_timer)
        return;
    c->write_timer = 0;
    if (c->ptimer != NULL)
        arm_rest(c, c->ptimer_at);
}

/* --- closing ----------------------------------------------------------- */

static void destroy(struct conn *c)
{
    if (c->proto != NULL && c->proto->release != NULL)
        c->proto->release(c);
    event_del(&c->ev);
    event_del(&c->timer);
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        C.head = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    if (c->ssl != NULL) {
        if (!c->tls_hs && !c->tls_quiet)
            tls_notify_close(c->ssl);
        tls_conn_free(c->ssl);
    }
    close(c->fd);
    buf_free(&c->out);
    buf_free(&c->tail);
    free(c->in);
    free(c);
    C.count--;
    if (C.count_changed != NULL)
        C.count_changed(C.count, 0);
}

void conn_close(struct conn *c)
{
    c->closing = 1;
    if (c->depth == 0)
        destroy(c);
}

/* Runs a callback's epilogue: the deferred write, then a deferred free. */
static void leave(struct conn *c)
{
    if (--c->depth > 0)
        return;
    if (!c->closing && c->send_due) {
        c->depth++;
        do_send(c);
        c->depth--;
    }
    if (c->closing)
        destroy(c);
}

void conn_close_after_output(struct conn *c, int linger)
{
    c->close_after = 1;
    c->lingering = linger != 0;
    c->paused = 1;
    conn_send(c);
}

/* Everything is written and the connection is to close: now, or after a
 * half-close and a moment of discarding what the client still sends. */
static void finish_close(struct conn *c)
{
    if (!c->lingering || c->half_closed) {
        conn_close(c);
        return;
    }
    c->half_closed = 1;
    if (c->ssl != NULL && !c->tls_hs && !c->tls_quiet) {
        tls_notify_close(c->ssl);
        c->tls_quiet = 1;
    }
    shutdown(c->fd, SHUT_WR);
    c->ptimer = NULL;
    c->write_timer = 0;
    arm_at(c, C.linger_p, conn_now_ms() + LINGER_MS);
    /* what arrived already is read from the loop, not from this caller */
    event_active(&c->ev, EV_READ, 1);
}

/* --- output ------------------------------------------------------------ */

static void consume_out(struct conn *c, size_t n)
{
    size_t head = buf_pending(&c->out) < n ? buf_pending(&c->out) : n;

    buf_consume(&c->out, head);
    if (n > head)
        buf_consume(&c->tail, n - head);
}

/* TLS output: one SSL_write of out, else of tail (in that order, as
 * writev would send them; a retry of tail is made first, since OpenSSL
 * wants the bytes of a write that wanted more again). Bytes written, 0
 * when the socket takes no more (flags set), -1 on an error. */
static ssize_t tls_write_out(struct conn *c)
{
    int tail = buf_pending(&c->out) == 0 || c->tls_tail, st;
    struct buf *b = tail ? &c->tail : &c->out;
    size_t n = tls_write(c->ssl, b->p + b->off, buf_pending(b), &st, c->remote);

    c->tls_tail = 0;
    if (n > 0) {
        buf_consume(b, n);
        return (ssize_t)n;
    }
    if (st == TLS_WANT_WRITE || st == TLS_WANT_READ) {
        c->tls_tail = tail;
        if (st == TLS_WANT_WRITE) {
            c->can_write = 0;
        } else {
            c->tls_wr = 1;
            c->can_read = 0;
        }
        return 0;
    }
    c->tls_quiet = 1;
    return -1;
}

/* Writes what it can; 0, or -1 on a write error. */
static int write_out(struct conn *c, int *progress)
{
    if (c->ssl != NULL) {
        while (!c->tls_hs && c->can_write && !c->tls_wr &&
               conn_pending(c) > 0) {
            ssize_t w = tls_write_out(c);
            if (w < 0)
                return -1;
            if (w > 0)
                *progress = 1;
        }
        return 0;
    }
    while (c->can_write && conn_pending(c) > 0) {
        struct iovec iov[2];
        int n = 0;
        ssize_t w;

        if (buf_pending(&c->out) > 0)
            iov[n++] =
                (struct iovec){c->out.p + c->out.off, buf_pending(&c->out)};
        if (buf_pending(&c->tail) > 0)
            iov[n++] =
                (struct iovec){c->tail.p + c->tail.off, buf_pending(&c->tail)};
        /* one buffer (the usual small response): write(2) skips the
         * kernel's iovec import */
        w = n == 1 ? write(c->fd, iov[0].iov_base, iov[0].iov_len)
                   : writev(c->fd, iov, n);
        if (w > 0) {
            consume_out(c, (size_t)w);
            *progress = 1;
        } else if (w < 0 && errno == EAGAIN) {
            c->can_write = 0;
        } else if (w < 0 && errno != EINTR) {
            return -1;
        }
    }
    return 0;
}

/* An idle connection holds no buffers, so that thousands of quiet
 * connections cost little memory. */
static void release_buffers(struct conn *c)
{
    buf_release(&c->out);
    buf_release(&c->tail);
}

static void do_send(struct conn *c)
{
    int progress = 0;

    c->send_due = 0;
    if (write_out(c, &progress) < 0) {
        conn_close(c);
        return;
    }
    if (conn_pending(c) > 0) {
        if (progress || !c->write_timer)
            write_timer_progress(c);
    } else {
        write_timer_done(c);
        release_buffers(c);
        if (c->close_after) {
            finish_close(c);
            return;
        }
    }
    if (c->want_drain && conn_pending(c) <= CONN_OUT_LOW &&
        c->proto->drain != NULL) {
        c->want_drain = 0;
        c->proto->drain(c);
    }
}

void conn_abort(struct conn *c)
{
    c->closing = 1;
    if (c->depth == 0)
        event_active(&c->ev, EV_READ, 1);
}

void conn_send(struct conn *c)
{
    if (c->closing)
        return;
    if (conn_pending(c) > CONN_OUT_LIMIT) {
        log_warn("%s: more than %d bytes of output wait for a client that "
                 "does not read; closing",
                 c->remote, CONN_OUT_LIMIT);
        conn_abort(c);
        return;
    }
    if (c->depth > 0) {
        c->send_due = 1;
        return;
    }
    conn_flush(c);
}

/* Also called by the request API (sq_flush, sq_finish): a failed write
 * must not free the connection under the caller, who may still hold the
 * request; it is freed from the loop (conn_abort). */
void conn_flush(struct conn *c)
{
    if (c->closing)
        return;
    c->depth++;
    do_send(c);
    c->depth--;
    if (c->closing)
        conn_abort(c);
}

void conn_want_drain(struct conn *c)
{
    c->want_drain = 1;
    /* already below the mark: tell it from the loop */
    if (conn_pending(c) <= CONN_OUT_LOW)
        event_active(&c->ev, EV_WRITE, 1);
}

/* --- input ------------------------------------------------------------- */

static int keep_input(struct conn *c, const char *data, size_t len)
{
    if (c->in_len + len > c->in_cap) {
        size_t cap = c->in_cap ? c->in_cap : 4096;
        char *p;
        while (cap < c->in_len + len)
            cap *= 2;
        if ((p = realloc(c->in, cap)) == NULL)
            return -1;
        c->in = p;
        c->in_cap = cap;
    }
    memcpy(c->in + c->in_len, data, len);
    c->in_len += len;
    return 0;
}

static void drop_kept(struct conn *c)
{
    free(c->in);
    c->in = NULL;
    c->in_off = c->in_len = c->in_cap = 0;
}

size_t conn_kept(const struct conn *c)
{
    return c->in_len - c->in_off;
}

/* Offers kept input, with data (new bytes) appended; what the protocol
 * does not consume stays kept. 0, or -1 when the connection closes. */
static int offer(struct conn *c, const char *data, size_t len)
{
    const struct conn_proto *proto = c->proto;
    size_t used;

    if (conn_kept(c) > 0) {
        if (len > 0 && keep_input(c, data, len) < 0)
            goto oom;
        used = proto->input(c, c->in + c->in_off, conn_kept(c));
        c->in_off += used;
        if (c->in_off == c->in_len)
            drop_kept(c);
    } else {
        used = proto->input(c, data, len);
        if (used < len && !conn_closing(c) &&
            keep_input(c, data + used, len - used) < 0)
            goto oom;
    }
    if (conn_closing(c))
        drop_kept(c);
    /* the protocol was swapped (an upgrade): the new one gets the rest */
    if (c->proto != proto && conn_kept(c) > 0)
        c->offer_kept = 1;
    return c->closing ? -1 : 0;
oom:
    log_error("%s: out of memory for input", c->remote);
    conn_close(c);
    return -1;
}

/* The peer sends nothing more (FIN, or a reset seen while paused). */
static void peer_eof(struct conn *c)
{
    if (c->eof_told)
        return;
    c->eof_told = 1;
    c->can_read = 0;
    c->proto->eof(c);
}

/* Reads and discards after an error response, until EOF, LINGER_MAX or
 * the linger timer. */
static void linger_read(struct conn *c)
{
    ssize_t n;

    do {
        n = read(c->fd, C.rbuf, sizeof(C.rbuf));
        if (n > 0)
            c->lingered += (size_t)n;
    } while (n > 0 && c->lingered < LINGER_MAX);
    if (n == 0 || c->lingered >= LINGER_MAX ||
        (n < 0 && errno != EAGAIN && errno != EINTR))
        conn_close(c);
}

/* Input is paused: any read edge is either more data, left in the kernel,
 * or the client going away, which must not go unnoticed. */
static void watch_paused(struct conn *c)
{
    int err = 0;
    socklen_t len = sizeof(err);

    if (c->peer_closed) {
        peer_eof(c);
        return;
    }
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err != 0)
        conn_close(c);
}

/* TLS input into p: records until len is full or the socket has no more.
 * Bytes read; 0 at EOF; -1 with errno EAGAIN (an edge will come: the
 * flags say which) or EIO (failed, logged by tls.c). */
static ssize_t tls_read_in(struct conn *c, char *p, size_t len)
{
    size_t got = 0;
    int st = TLS_DONE;

    while (got < len) {
        size_t n = tls_read(c->ssl, p + got, len - got, &st, c->remote);
        if (n == 0)
            break;
        got += n;
        /* as a short read(2) does below: the socket is empty (after a
         * FIN, read on to see the end) */
        if (!c->peer_closed && tls_drained(c->ssl)) {
            c->can_read = 0;
            break;
        }
    }
    if (st == TLS_WANT_READ)
        c->can_read = 0;
    else if (st == TLS_WANT_WRITE) {
        c->can_write = 0;
        c->tls_rw = 1;
    } else if (st == TLS_ERROR)
        c->tls_quiet = 1;
    if (got > 0)
        return (ssize_t)got; /* EOF or an error again on the next call */
    if (st == TLS_EOF)
        return 0;
    errno = st == TLS_ERROR ? EIO : EAGAIN;
    return -1;
}

/* Runs the TLS handshake as far as the socket allows. 0 once complete
 * (or still going: c->tls_hs), -1 when the connection was closed. */
static int tls_handshake_step(struct conn *c)
{
    int st;

    /* what it waits for has not come (the first event of a connection
     * is a write edge, with no ClientHello to read yet) */
    if (c->tls_rw ? !c->can_write : !c->can_read && !c->peer_closed)
        return 0;
    c->tls_rw = 0;
    st = tls_handshake(c->ssl, c->remote);
    switch (st) {
    case TLS_DONE:
        c->tls_hs = 0;
        return 0;
    case TLS_WANT_READ:
        c->can_read = 0;
        return 0;
    case TLS_WANT_WRITE:
        c->can_write = 0;
        c->tls_rw = 1; /* resumed by the write edge */
        return 0;
    default:
        c->tls_quiet = 1;
        conn_close(c);
        return -1;
    }
}

static void read_input(struct conn *c)
{
    while (!c->closing) {
        ssize_t n;

        if (c->half_closed) {
            linger_read(c);
            return;
        }
        if (c->paused || c->close_after) {
            watch_paused(c);
            return;
        }
        if (c->offer_kept) {
            c->offer_kept = 0;
            if (conn_kept(c) > 0 && offer(c, C.rbuf, 0) < 0)
                return;
            continue;
        }
        if (conn_kept(c) >= IN_MAX || !c->can_read || c->tls_rw)
            return;
        if (c->ssl != NULL) {
            n = tls_read_in(c, C.rbuf, sizeof(C.rbuf));
            if (n < 0 && errno == EAGAIN)
                return;
            if (n > 0 && offer(c, C.rbuf, (size_t)n) < 0)
                return;
            if (n > 0)
                continue;
            goto closed;
        }
        n = read(c->fd, C.rbuf, sizeof(C.rbuf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            c->can_read = 0;
            return;
        }
        if (n <= 0) {
        closed:
            if (n == 0)
                peer_eof(c);
            else
                conn_close(c);
            return;
        }
        /* A short read emptied the socket: the next byte is a new edge.
         * (After a FIN, read on to see the 0.) */
        if ((size_t)n < sizeof(C.rbuf) && !c->peer_closed)
            c->can_read = 0;
        if (offer(c, C.rbuf, (size_t)n) < 0)
            return;
    }
}

void conn_pause(struct conn *c, int on)
{
    if (on) {
        c->paused = 1;
        return;
    }
    if (!c->paused || c->close_after)
        return;
    c->paused = 0;
    /* input may be kept or waiting in the kernel, with no edge to come:
     * it is taken from the loop, not inside the caller */
    c->offer_kept = conn_kept(c) > 0;
    if (c->offer_kept || c->can_read || c->peer_closed)
        event_active(&c->ev, EV_READ, 1);
}

/* --- events ------------------------------------------------------------ */

static void on_event(evutil_socket_t fd UNUSED, short what, void *arg)
{
    struct conn *c = arg;

    c->depth++;
    if (what & EV_CLOSED)
        c->peer_closed = 1;
    if (what & EV_READ)
        c->can_read = 1;
    if (c->ssl != NULL && !c->closing) {
        if (what & EV_WRITE)
            c->can_write = 1;
        if (c->tls_hs) {
            if (tls_handshake_step(c) < 0 || c->tls_hs) {
                leave(c);
                return;
            }
            /* complete: what the handshake left to read and write */
            what |= EV_READ | EV_WRITE;
        }
        /* OpenSSL's cross wants: a write that needed the read edge, a
         * read that needed the write edge */
        if ((what & EV_READ) && c->tls_wr) {
            c->tls_wr = 0;
            what |= EV_WRITE;
        }
        if ((what & EV_WRITE) && c->tls_rw) {
            c->tls_rw = 0;
            what |= EV_READ;
        }
    }
    if ((what & EV_WRITE) && !c->closing) {
        c->can_write = c->ssl == NULL ? 1 : c->can_write;
        do_send(c);
    }
    if (what & (EV_READ | EV_CLOSED))
        read_input(c);
    leave(c);
}

/* How early (ms) a timer may fire against the coarse clock and still
 * count as expired. */
#define TIMER_SLACK 10

static void on_timer(evutil_socket_t fd UNUSED, short what UNUSED, void *arg)
{
    struct conn *c = arg;

    c->armed_at = 0;
    if (c->tls_hs && c->ptimer != NULL &&
        c->ptimer_at <= conn_now_ms() + TIMER_SLACK) {
        log_info("%s: TLS handshake not complete in time; closing", c->remote);
        conn_close(c);
        return;
    }
    if (c->half_closed) {
        conn_close(c);
        return;
    }
    if (c->write_timer) {
        log_info("%s: client read nothing for %u ms with output waiting; "
                 "closing",
                 c->remote, C.lim->idle_timeout_ms);
        conn_close(c);
        return;
    }
    if (c->ptimer == NULL)
        return;
    if (c->ptimer_at > conn_now_ms() + TIMER_SLACK) {
        arm_rest(c, c->ptimer_at);
        return;
    }
    c->ptimer = NULL;
    c->depth++;
    c->proto->timeout(c);
    leave(c);
}

/* Runs fn(c) as a callback of c, so that a close inside it is deferred. */
static void conn_call(struct conn *c, void (*fn)(struct conn *c))
{
    c->depth++;
    fn(c);
    leave(c);
}

void conn_shutdown_all(void)
{
    struct conn *c = C.head, *next;

    for (; c != NULL; c = next) {
        next = c->next;
        if (c->proto->shutdown != NULL)
            conn_call(c, c->proto->shutdown);
        else
            conn_close(c);
    }
}

int conn_start_tls(struct conn *c, struct ssl_ctx_st *ctx)
{
    if ((c->ssl = tls_conn_new(ctx, c->fd)) == NULL) {
        log_error("%s: out of memory for a TLS connection", c->remote);
        return -1;
    }
    c->tls_hs = 1;
    return 0;
}

int conn_is_tls(const struct conn *c)
{
    return c->ssl != NULL;
}

void conn_close_all(void)
{
    while (C.head != NULL)
        conn_close(C.head);
}
