/*
 * ws_echo_client.c - the load generator of tests/bench/ws_echo.sh: WebSocket
 * echo round trips over CONNS connections, as fast as a server answers.
 *
 *   cc -O2 -o ws_echo_client tests/bench/ws_echo_client.c
 *   ./ws_echo_client -p 18480 -P /ws/echo -c 64 -d 10 -s 32
 *
 * One process, one thread, level-triggered epoll, non-blocking sockets.
 * Each connection does the opening handshake of RFC 6455 (a fixed
 * Sec-WebSocket-Key, the one of the RFC's example, so the expected
 * Sec-WebSocket-Accept is a constant), and once every connection has been
 * upgraded, each sends DEPTH masked text messages of SIZE bytes and, for
 * every echo it reads, sends the next: a closed loop with DEPTH messages
 * in flight per connection (1: ping-pong, one at a time). Every echo is
 * checked: one unmasked, final text frame whose payload is exactly the
 * message sent, in order (the payload names the connection and the
 * message's sequence number). After SECONDS it stops sending, reads the
 * echoes still in flight (so that no server writes to a closed
 * connection), closes the connections and prints one line on stdout:
 *
 *   round_trips N seconds T per_second R user U sys S
 *
 * N: echoes read and checked between the end of the handshakes and the
 * end; T: that time; U, S: this process's own user and system CPU seconds
 * (getrusage, the whole run), to tell whether the client was the limit.
 * Any error (a refused connection, a handshake that is not a 101 with the
 * right Sec-WebSocket-Accept, a wrong echo, a closed connection, the
 * handshakes not done within -t) is reported on stderr with exit status 1;
 * a usage error exits 2. Connects to 127.0.0.1 (or -a ADDR) only.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_SIZE 125 /* a payload length that fits the frame's first byte */
#define MIN_SIZE 17  /* "cccccccc ssssssss": connection and sequence */
#define MAX_DEPTH 64
#define FRAME_MAX (2 + 4 + MAX_SIZE)
#define ECHO_MAX (2 + MAX_SIZE)
#define IN_SIZE (MAX_DEPTH * ECHO_MAX + 4096)
#define OUT_SIZE (MAX_DEPTH * FRAME_MAX + 1024)
#define MAX_EVENTS 256

/* RFC 6455 1.3's example key and the Sec-WebSocket-Accept it calls for. */
#define WS_KEY "dGhlIHNhbXBsZSBub25jZQ=="
#define WS_ACCEPT "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

enum state { CONNECTING, HANDSHAKE, UPGRADED };

struct conn {
    int fd;
    unsigned id;
    enum state state;
    int want_out; /* watching EPOLLOUT: a write was short */
    uint32_t sent;     /* messages sent: the next one's sequence number */
    uint32_t received; /* echoes read and checked */
    size_t in_len;
    size_t out_len, out_off; /* unsent output after a short write */
    unsigned char in[IN_SIZE];
    unsigned char out[OUT_SIZE];
};

static const char *prog = "ws_echo_client";
static struct conn *conns;
static int nconns = 64, depth = 1, size = 32;
static int ep, upgraded;
static uint64_t counted;     /* echoes read since every connection upgraded */
static uint64_t outstanding; /* messages sent and not yet echoed */
static int sending;          /* in the closed loop, not before or after */
static uint32_t rnd = 2463534242u;

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void fail(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "%s: ", prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* xorshift32: masking keys need not be unpredictable here. */
static uint32_t next_random(void)
{
    rnd ^= rnd << 13;
    rnd ^= rnd >> 17;
    rnd ^= rnd << 5;
    return rnd;
}

static void hex8(unsigned char *p, uint32_t v)
{
    static const char digits[] = "0123456789abcdef";
    int i;

    for (i = 7; i >= 0; i--, v >>= 4)
        p[i] = (unsigned char)digits[v & 15];
}

/* Message SEQ of connection C: "cccccccc ssssssss" and filler, SIZE bytes. */
static void payload(unsigned char *p, const struct conn *c, uint32_t seq)
{
    int i;

    hex8(p, c->id);
    p[8] = ' ';
    hex8(p + 9, seq);
    for (i = MIN_SIZE; i < size; i++)
        p[i] = (unsigned char)('a' + i % 26);
}

static void watch(struct conn *c, uint32_t events, int op)
{
    struct epoll_event ev = {.events = events, .data.ptr = c};

    if (epoll_ctl(ep, op, c->fd, &ev) < 0)
        fail("epoll_ctl: %s", strerror(errno));
}

/* Writes what waits in c->out; on a short write, waits for EPOLLOUT. */
static void flush(struct conn *c)
{
    while (c->out_off < c->out_len) {
        ssize_t n = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN) {
                if (!c->want_out)
                    watch(c, EPOLLIN | EPOLLOUT, EPOLL_CTL_MOD);
                c->want_out = 1;
                return;
            }
            fail("connection %u: write: %s", c->id, strerror(errno));
        }
        c->out_off += (size_t)n;
    }
    c->out_off = c->out_len = 0;
    if (c->want_out) { /* it had waited: back to reading only */
        watch(c, EPOLLIN, EPOLL_CTL_MOD);
        c->want_out = 0;
    }
}

/* Appends N masked text frames, the next messages, to c->out. */
static void queue_messages(struct conn *c, int n)
{
    unsigned char msg[MAX_SIZE];

    while (n-- > 0) {
        unsigned char *f;
        uint32_t key = next_random();
        int i;

        if (c->out_len + (size_t)(6 + size) > OUT_SIZE)
            fail("connection %u: output buffer full", c->id);
        f = c->out + c->out_len;
        payload(msg, c, c->sent++);
        f[0] = 0x81;                        /* FIN, text */
        f[1] = (unsigned char)(0x80 | size); /* masked, length */
        memcpy(f + 2, &key, 4);
        for (i = 0; i < size; i++)
            f[6 + i] = msg[i] ^ f[2 + (i & 3)];
        c->out_len += (size_t)(6 + size);
        outstanding++;
    }
}

/* Sends the next N messages, or queues them behind a short write. */
static void send_messages(struct conn *c, int n)
{
    queue_messages(c, n);
    if (!c->want_out)
        flush(c);
}

static void start_handshake(struct conn *c, const char *host, int port,
                            const char *path)
{
    int err = 0;
    socklen_t len = sizeof err;
    int n;

    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err)
        fail("connection %u: connect: %s", c->id, strerror(err ? err : errno));
    n = snprintf((char *)c->out, OUT_SIZE,
                 "GET %s HTTP/1.1\r\nHost: %s:%d\r\n"
                 "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                 "Sec-WebSocket-Key: " WS_KEY "\r\n"
                 "Sec-WebSocket-Version: 13\r\n\r\n",
                 path, host, port);
    if (n < 0 || n >= OUT_SIZE)
        fail("the handshake request does not fit: path too long");
    c->out_len = (size_t)n;
    c->out_off = 0;
    c->state = HANDSHAKE;
    watch(c, EPOLLIN, EPOLL_CTL_MOD);
    flush(c);
}

/* Whether the head in[0..len) has NAME: VALUE (name case-insensitively). */
static int has_header(const char *head, const char *name, const char *value,
                      int value_case)
{
    size_t nl = strlen(name), vl = strlen(value);
    const char *p = head;

    while ((p = strstr(p, "\r\n")) != NULL) {
        const char *v;
        p += 2;
        if (strncasecmp(p, name, nl) != 0 || p[nl] != ':')
            continue;
        v = p + nl + 1;
        while (*v == ' ' || *v == '\t')
            v++;
        if ((value_case ? strncmp(v, value, vl) : strncasecmp(v, value, vl)) == 0 &&
            (v[vl] == '\r' || v[vl] == ' ' || v[vl] == '\t'))
            return 1;
    }
    return 0;
}

/* Reads the handshake's answer; returns 1 once it is complete and right. */
static int read_handshake(struct conn *c)
{
    char *end;
    size_t head_len;

    c->in[c->in_len] = '\0';
    end = strstr((char *)c->in, "\r\n\r\n");
    if (end == NULL) {
        if (c->in_len >= IN_SIZE - 1)
            fail("connection %u: a handshake answer of more than %d bytes", c->id,
                 IN_SIZE - 1);
        return 0;
    }
    head_len = (size_t)(end - (char *)c->in) + 4;
    end[2] = '\0'; /* keep the last header's "\r\n" for has_header */
    if (strncmp((char *)c->in, "HTTP/1.1 101 ", 13) != 0)
        fail("connection %u: handshake answered with '%.*s'", c->id,
             (int)strcspn((char *)c->in, "\r"), (char *)c->in);
    if (!has_header((char *)c->in, "Upgrade", "websocket", 0) ||
        !has_header((char *)c->in, "Sec-WebSocket-Accept", WS_ACCEPT, 1))
        fail("connection %u: a 101 without Upgrade: websocket and "
             "Sec-WebSocket-Accept: " WS_ACCEPT,
             c->id);
    if (c->in_len > head_len)
        fail("connection %u: the server sent %zu bytes before any message", c->id,
             c->in_len - head_len);
    c->in_len = 0;
    c->state = UPGRADED;
    return 1;
}

/* Checks the echoes in c->in; returns how many whole ones it held. */
static int read_echoes(struct conn *c)
{
    unsigned char want[MAX_SIZE];
    size_t off = 0, echo = (size_t)(2 + size);
    int n = 0;

    while (c->in_len - off >= 2) {
        const unsigned char *f = c->in + off;
        if (f[0] != 0x81 || f[1] != size)
            fail("connection %u: echo %u: a frame starting %02x %02x, not "
                 "an unmasked text frame of %d bytes (81 %02x)",
                 c->id, c->received, f[0], f[1], size, size);
        if (c->in_len - off < echo)
            break;
        if (c->received == c->sent)
            fail("connection %u: an echo of a message never sent", c->id);
        payload(want, c, c->received);
        if (memcmp(f + 2, want, (size_t)size) != 0)
            fail("connection %u: echo %u is '%.*s', not '%.*s'", c->id, c->received,
                 size, (const char *)f + 2, size, (const char *)want);
        c->received++;
        off += echo;
        n++;
    }
    if (off > 0) {
        memmove(c->in, c->in + off, c->in_len - off);
        c->in_len -= off;
    }
    return n;
}

static void on_event(struct conn *c, uint32_t events, const char *host, int port,
                     const char *path)
{
    ssize_t r;
    int n;

    if (c->state == CONNECTING) {
        start_handshake(c, host, port, path);
        return;
    }
    if (events & EPOLLOUT)
        flush(c);
    if (!(events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
        return;
    r = read(c->fd, c->in + c->in_len, IN_SIZE - 1 - c->in_len);
    if (r < 0) {
        if (errno == EAGAIN || errno == EINTR)
            return;
        fail("connection %u: read: %s", c->id, strerror(errno));
    }
    if (r == 0)
        fail("connection %u: closed by the server (after %u echoes)", c->id,
             c->received);
    c->in_len += (size_t)r;
    if (c->state == HANDSHAKE) {
        if (read_handshake(c))
            upgraded++;
        return;
    }
    if (c->in_len >= IN_SIZE - 1)
        fail("connection %u: more input than %d messages in flight", c->id, depth);
    n = read_echoes(c);
    outstanding -= (uint64_t)n;
    if (n > 0 && sending) {
        counted += (uint64_t)n;
        send_messages(c, n);
    }
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: %s -p PORT [options]\n"
            "\n"
            "  -p PORT     the server's port\n"
            "  -a ADDR     its IPv4 address (default 127.0.0.1)\n"
            "  -P PATH     the WebSocket's path (default /ws/echo)\n"
            "  -c N        connections (default 64)\n"
            "  -d SECONDS  how long to ping-pong once all are upgraded (default 10;\n"
            "              0: one round trip per connection, to check a server)\n"
            "  -D N        messages in flight per connection, 1..%d (default 1)\n"
            "  -s BYTES    message size, %d..%d (default 32)\n"
            "  -t SECONDS  deadline for all the handshakes (default 10)\n"
            "  -h          this help\n",
            prog, MAX_DEPTH, MIN_SIZE, MAX_SIZE);
}

static long number(const char *s, long lo, long hi, int opt)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "%s: -%c wants an integer from %ld to %ld, got '%s'\n", prog,
                opt, lo, hi, s);
        exit(2);
    }
    return v;
}

int main(int argc, char **argv)
{
    const char *addr = "127.0.0.1", *path = "/ws/echo";
    int port = 0, opt, i;
    double seconds = 10, handshake_deadline = 10, t0, t_end, t;
    struct epoll_event events[MAX_EVENTS];
    struct sockaddr_in sa = {.sin_family = AF_INET};
    struct rusage ru;

    while ((opt = getopt(argc, argv, "p:a:P:c:d:D:s:t:h")) != -1) {
        switch (opt) {
        case 'p': port = (int)number(optarg, 1, 65535, opt); break;
        case 'a': addr = optarg; break;
        case 'P': path = optarg; break;
        case 'c': nconns = (int)number(optarg, 1, 100000, opt); break;
        case 'd': seconds = (double)number(optarg, 0, 86400, opt); break;
        case 'D': depth = (int)number(optarg, 1, MAX_DEPTH, opt); break;
        case 's': size = (int)number(optarg, MIN_SIZE, MAX_SIZE, opt); break;
        case 't': handshake_deadline = (double)number(optarg, 1, 3600, opt); break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc || port == 0) {
        usage(stderr);
        return 2;
    }
    if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
        fprintf(stderr, "%s: -a wants an IPv4 address, got '%s'\n", prog, addr);
        return 2;
    }
    sa.sin_port = htons((uint16_t)port);
    rnd ^= (uint32_t)getpid();

    conns = calloc((size_t)nconns, sizeof *conns);
    if (conns == NULL)
        fail("out of memory for %d connections", nconns);
    ep = epoll_create1(0);
    if (ep < 0)
        fail("epoll_create1: %s", strerror(errno));
    for (i = 0; i < nconns; i++) {
        struct conn *c = &conns[i];
        int one = 1;

        c->id = (unsigned)i;
        c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (c->fd < 0)
            fail("socket: %s", strerror(errno));
        setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (connect(c->fd, (struct sockaddr *)&sa, sizeof sa) < 0 &&
            errno != EINPROGRESS)
            fail("connection %u: connect to %s:%d: %s", c->id, addr, port,
                 strerror(errno));
        c->state = CONNECTING;
        watch(c, EPOLLOUT, EPOLL_CTL_ADD);
    }

    /* the handshakes, all of them, before any message */
    t = now() + handshake_deadline;
    while (upgraded < nconns) {
        int n, ms = (int)((t - now()) * 1000);
        if (ms <= 0)
            fail("%d of %d connections upgraded after %.0f s", upgraded, nconns,
                 handshake_deadline);
        n = epoll_wait(ep, events, MAX_EVENTS, ms);
        if (n < 0 && errno != EINTR)
            fail("epoll_wait: %s", strerror(errno));
        for (i = 0; i < n; i++)
            on_event(events[i].data.ptr, events[i].events, addr, port, path);
    }

    /* the closed loop */
    t0 = now();
    t_end = t0 + seconds;
    sending = 1;
    for (i = 0; i < nconns; i++)
        send_messages(&conns[i], depth);
    for (;;) {
        int n, ms;
        t = now();
        if (t >= t_end)
            break;
        ms = (int)((t_end - t) * 1000) + 1;
        n = epoll_wait(ep, events, MAX_EVENTS, ms);
        if (n < 0 && errno != EINTR)
            fail("epoll_wait: %s", strerror(errno));
        for (i = 0; i < n; i++)
            on_event(events[i].data.ptr, events[i].events, addr, port, path);
    }
    sending = 0;
    t = now() - t0;

    /* the echoes in flight, within 10 s */
    t_end = now() + 10;
    while (outstanding > 0) {
        int n, ms = (int)((t_end - now()) * 1000);
        if (ms <= 0)
            fail("%llu echoes still missing 10 s after the end",
                 (unsigned long long)outstanding);
        n = epoll_wait(ep, events, MAX_EVENTS, ms);
        if (n < 0 && errno != EINTR)
            fail("epoll_wait: %s", strerror(errno));
        for (i = 0; i < n; i++)
            on_event(events[i].data.ptr, events[i].events, addr, port, path);
    }
    for (i = 0; i < nconns; i++)
        close(conns[i].fd);
    getrusage(RUSAGE_SELF, &ru);
    printf("round_trips %llu seconds %.3f per_second %.1f user %.3f sys %.3f\n",
           (unsigned long long)counted, t, t > 0 ? (double)counted / t : 0.0,
           (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6,
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6);
    return 0;
}
