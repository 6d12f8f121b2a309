/*
 * floor.c - the floor for tests/bench/run.sh: about the least CPU an
 * HTTP/1.1 keep-alive server can spend per request on Linux, so that
 * squalld's CPU per request has something to be measured against.
 *
 *   cc -O2 -o floor tests/bench/floor.c && ./floor 18080
 *
 * One process, one thread, level-triggered epoll, non-blocking sockets,
 * listening on 127.0.0.1 only. A request is anything that ends with an
 * empty line ("\r\n\r\n"): no parsing, no body, no routing, no limits but
 * the input buffer. Every complete head that one read(2) brought in is
 * answered with the same response, all of them in one write(2), so a
 * pipelined batch costs one read and one write, a lone request the same.
 * The response has the headers squalld sends (Server, Date, Content-Type,
 * Content-Length) so the bytes on the wire are alike; the Date is
 * formatted again only when the second changes. Connections stay open
 * until the client closes them. SIGTERM or SIGINT: exit 0.
 *
 *   ./floor 18480 ws
 *
 * is the WebSocket echo floor for tests/bench/ws_echo.sh: the first head
 * on a connection is answered with a fixed 101 whose Sec-WebSocket-Accept
 * is the one of RFC 6455's sample key, the key ws_echo_client.c sends (no
 * header is looked at, no SHA-1 computed); after it, every complete frame
 * one read brought in is unmasked and sent back as an unmasked frame with
 * the same first byte, all of them in one write. No fragments, control
 * frames, close handshake or UTF-8 check: the least CPU a WebSocket echo
 * can spend per message.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define IN_SIZE 8192
#define MAX_HEADS (IN_SIZE / 4) /* "\r\n\r\n" is the shortest head */
#define RESP_MAX 192
#define MAX_EVENTS 256

struct conn {
    int fd;
    int upgraded;   /* ws: the 101 is sent, frames follow */
    size_t in_len;  /* bytes in in[] */
    size_t scanned; /* in[0..scanned) holds no complete "\r\n\r\n" */
    char *out;      /* unsent output after a short write, or NULL */
    size_t out_len, out_off;
    char in[IN_SIZE];
};

static volatile sig_atomic_t stopping;
static int ep;
static char resp[RESP_MAX];
static size_t resp_len;
static time_t resp_time = -1;
static char batch[MAX_HEADS * RESP_MAX];
static int ws; /* the WebSocket echo floor */

static const char ws_resp[] = "HTTP/1.1 101 Switching Protocols\r\n"
                              "Upgrade: websocket\r\n"
                              "Connection: Upgrade\r\n"
                              "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
                              "\r\n";

static void on_signal(int sig)
{
    (void)sig;
    stopping = 1;
}

static void die(const char *what)
{
    perror(what);
    exit(1);
}

/* The response, with a Date (RFC 9110 6.6.1) of this second. */
static void refresh_response(void)
{
    static const char *const days[] = {"Sun", "Mon", "Tue", "Wed",
                                       "Thu", "Fri", "Sat"};
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr",
                                         "May", "Jun", "Jul", "Aug",
                                         "Sep", "Oct", "Nov", "Dec"};
    time_t now = time(NULL);
    struct tm tm;
    int n;

    if (now == resp_time)
        return;
    resp_time = now;
    gmtime_r(&now, &tm);
    n = snprintf(resp, sizeof(resp),
                 "HTTP/1.1 200 OK\r\n"
                 "Server: floor\r\n"
                 "Date: %s, %02d %s %04d %02d:%02d:%02d GMT\r\n"
                 "Content-Type: text/plain\r\n"
                 "Content-Length: 13\r\n"
                 "\r\n"
                 "Hello, world!",
                 days[tm.tm_wday], tm.tm_mday, months[tm.tm_mon],
                 tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
    if (n < 0 || (size_t)n >= sizeof(resp))
        die("snprintf");
    resp_len = (size_t)n;
}

static int listen_on(int port)
{
    struct sockaddr_in sin = {.sin_family = AF_INET,
                              .sin_port = htons((uint16_t)port)};
    int fd, one = 1;

    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        die("socket");
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
        die("SO_REUSEADDR");
    if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0)
        die("bind 127.0.0.1");
    if (listen(fd, SOMAXCONN) < 0)
        die("listen");
    return fd;
}

static void conn_close(struct conn *c)
{
    close(c->fd); /* also takes it out of the epoll set */
    free(c->out);
    free(c);
}

static int conn_watch(struct conn *c, int op, unsigned events)
{
    struct epoll_event ev = {.events = events, .data.ptr = c};

    return epoll_ctl(ep, op, c->fd, &ev);
}

static void accept_all(int lfd)
{
    struct conn *c;
    int fd, one = 1;

    for (;;) {
        fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                perror("accept4"); /* EMFILE and the like: try later */
            return;
        }
        /* as squalld and nginx do, so a response is never held back */
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        c = malloc(sizeof(*c));
        if (c == NULL) {
            close(fd);
            continue;
        }
        c->fd = fd;
        c->upgraded = 0;
        c->in_len = c->scanned = 0;
        c->out = NULL;
        if (conn_watch(c, EPOLL_CTL_ADD, EPOLLIN) < 0) {
            perror("epoll_ctl");
            conn_close(c);
        }
    }
}

/* Where the first "\r\n\r\n" in p[0..len) ends, or NULL. memchr for the
 * '\n' is the fast part (glibc's memmem sets up a two-way search on every
 * call, which costs more than the rest of a request here). */
static const char *head_end(const char *p, size_t len)
{
    const char *end = p + len, *nl = p;

    while ((nl = memchr(nl, '\n', (size_t)(end - nl))) != NULL) {
        if (nl - p >= 3 && nl[-1] == '\r' && nl[-2] == '\n' && nl[-3] == '\r')
            return nl + 1;
        nl++;
    }
    return NULL;
}

/* Counts the complete heads in c->in and drops them; 0 when none. */
static size_t take_heads(struct conn *c)
{
    size_t n = 0, start = 0, rest;
    const char *end;

    /* c->scanned stops 3 bytes short of the old end, so the "\r\n\r" of a
     * terminator split across reads is looked at again */
    while ((end = head_end(c->in + c->scanned, c->in_len - c->scanned))) {
        n++;
        start = c->scanned = (size_t)(end - c->in);
    }
    rest = c->in_len - start;
    if (start > 0)
        memmove(c->in, c->in + start, rest);
    c->in_len = rest;
    c->scanned = rest > 3 ? rest - 3 : 0;
    return n;
}

/* Sends what is left of c->out: 0 when all is out, 1 when the socket is
 * full again, -1 on error. */
static int flush_pending(struct conn *c)
{
    ssize_t w;

    while (c->out_off < c->out_len) {
        w = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 1;
        if (w <= 0)
            return -1;
        c->out_off += (size_t)w;
    }
    free(c->out);
    c->out = NULL;
    return conn_watch(c, EPOLL_CTL_MOD, EPOLLIN);
}

/* Writes len bytes of batch; what the socket does not take waits. */
static int send_batch(struct conn *c, size_t len)
{
    ssize_t w;

    do
        w = write(c->fd, batch, len);
    while (w < 0 && errno == EINTR);
    if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
        return -1;
    if (w == (ssize_t)len)
        return 0;
    if (w < 0)
        w = 0;
    /* short write: keep the rest and stop reading until it is out */
    c->out_len = len - (size_t)w;
    c->out_off = 0;
    c->out = malloc(c->out_len);
    if (c->out == NULL)
        return -1;
    memcpy(c->out, batch + w, c->out_len);
    return conn_watch(c, EPOLL_CTL_MOD, EPOLLOUT);
}

/* Writes n responses at once. */
static int respond(struct conn *c, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        memcpy(batch + i * resp_len, resp, resp_len);
    return send_batch(c, n * resp_len);
}

/* Echoes the complete frames in c->in, unmasked, in one write, and keeps
 * the rest; -1 for an unmasked frame or one larger than the buffer. */
static int echo_frames(struct conn *c)
{
    const unsigned char *in = (const unsigned char *)c->in;
    unsigned char *out = (unsigned char *)batch;
    size_t off = 0, len = 0, head, plen, i;

    while (c->in_len - off >= 2) {
        const unsigned char *f = in + off;
        if (!(f[1] & 0x80))
            return -1; /* a client's frames are masked */
        plen = f[1] & 0x7f;
        head = 2;
        if (plen == 126) {
            if (c->in_len - off < 4)
                break;
            plen = (size_t)f[2] << 8 | f[3];
            head = 4;
        } else if (plen == 127) {
            return -1;
        }
        if (head + 4 + plen > IN_SIZE)
            return -1;
        if (c->in_len - off < head + 4 + plen)
            break;
        memcpy(out + len, f, head);
        out[len + 1] &= 0x7f;
        for (i = 0; i < plen; i++)
            out[len + head + i] = f[head + 4 + i] ^ f[head + (i & 3)];
        len += head + plen;
        off += head + 4 + plen;
    }
    if (off > 0) {
        memmove(c->in, c->in + off, c->in_len - off);
        c->in_len -= off;
    }
    return len > 0 ? send_batch(c, len) : 0;
}

static void on_conn(struct conn *c, unsigned events)
{
    ssize_t r;
    size_t n;

    if (c->out != NULL) {
        if (flush_pending(c) < 0)
            conn_close(c);
        return;
    }
    if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
        return;
    r = read(c->fd, c->in + c->in_len, IN_SIZE - c->in_len);
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (r <= 0) {
        conn_close(c);
        return;
    }
    c->in_len += (size_t)r;
    if (c->upgraded) {
        if (echo_frames(c) < 0)
            conn_close(c);
        return;
    }
    n = take_heads(c);
    if (n == 0 && c->in_len == IN_SIZE) {
        conn_close(c); /* a head larger than the buffer */
        return;
    }
    if (n > 0 && ws) {
        /* the handshake; anything after it is the first frames */
        c->upgraded = 1;
        memcpy(batch, ws_resp, sizeof ws_resp - 1);
        if (send_batch(c, sizeof ws_resp - 1) < 0 ||
            (c->out == NULL && echo_frames(c) < 0))
            conn_close(c);
        return;
    }
    if (n > 0 && respond(c, n) < 0)
        conn_close(c);
}

int main(int argc, char **argv)
{
    struct epoll_event evs[MAX_EVENTS], lev = {.events = EPOLLIN};
    struct sigaction sa = {.sa_handler = on_signal};
    sigset_t stop_sigs, run_mask;
    int port, lfd, n, i;

    if (argc < 2 || argc > 3 || (port = atoi(argv[1])) <= 0 || port > 65535 ||
        (argc == 3 && strcmp(argv[2], "ws") != 0)) {
        fprintf(stderr, "usage: %s PORT [ws]\n", argv[0]);
        return 2;
    }
    ws = argc == 3;
    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGTERM, &sa, NULL) < 0 || sigaction(SIGINT, &sa, NULL) < 0)
        die("sigaction");
    /* The stop signals are let in only while waiting in epoll_pwait, so
     * one that comes between the check of `stopping` and the wait is not
     * lost until the next event. */
    sigemptyset(&stop_sigs);
    sigaddset(&stop_sigs, SIGTERM);
    sigaddset(&stop_sigs, SIGINT);
    if (sigprocmask(SIG_BLOCK, &stop_sigs, &run_mask) < 0)
        die("sigprocmask");
    sigdelset(&run_mask, SIGTERM);
    sigdelset(&run_mask, SIGINT);
    lfd = listen_on(port);
    ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0)
        die("epoll_create1");
    lev.data.ptr = NULL; /* the listener; connections carry their conn */
    if (epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &lev) < 0)
        die("epoll_ctl");
    while (!stopping) {
        n = epoll_pwait(ep, evs, MAX_EVENTS, -1, &run_mask);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            die("epoll_pwait");
        }
        refresh_response();
        for (i = 0; i < n; i++) {
            if (evs[i].data.ptr == NULL)
                accept_all(lfd);
            else
                on_conn(evs[i].data.ptr, evs[i].events);
        }
    }
    return 0;
}
