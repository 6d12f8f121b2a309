/*
 * ws_bcast_client.c - the load generator of tests/bench/ws_broadcast.sh
 * and of the WebSocket half of tests/bench/pubsub_memory.sh: N WebSocket
 * subscribers of one channel, a steady stream of publishes, and how many
 * deliveries per second arrive how late.
 *
 *   cc -O2 -o ws_bcast_client tests/bench/ws_bcast_client.c
 *   ./ws_bcast_client -p 18580 -n 10000 -R 1,2,5,10,20,50 -d 5
 *   ./ws_bcast_client -p 18580 -n 15000 -H </some/fifo   # hold, idle
 *
 * One process, one thread, level-triggered epoll, non-blocking sockets.
 * Opens N connections to 127.0.0.1:PORT (or -a ADDR), spread round-robin
 * over the source addresses 127.0.0.2 .. 127.0.0.(1+S), at most W of them
 * in their handshake at a time; each does the opening handshake of RFC
 * 6455 on SUBPATH (a fixed key, so the expected Sec-WebSocket-Accept is a
 * constant) and then only reads. Once all are upgraded and SETTLE ms
 * passed, a publisher connection of its own sends "POST PUBPATH" requests
 * (pipelined, HTTP/1.1 keep-alive), each body "SSSSSSSSSS TTTTTTTTTTTTTTTTTTTT"
 * padded with 'x' to BYTES: the message's sequence number and the
 * CLOCK_MONOTONIC time in ns at which it was written to the socket. First
 * probes (one message every 500 ms, up to 20) until a publish's answer
 * says "subscribers":N and every subscriber got it: then all are
 * subscribed. Then, for each RATE of the list, a phase: RATE publishes per
 * second, evenly spaced, for SECONDS; then up to DRAIN seconds for the
 * deliveries still on their way. Every subscriber must get every message,
 * in order, as one unmasked text frame with exactly the published body
 * (a gap, a wrong body or a close is an error). A delivery's latency is
 * the time from its timestamp to the read that completed the frame.
 * One line per phase on stdout:
 *
 *   rate R published P expected E window_deliveries W per_second X
 *   drained Y|no lag L p50 A p99 B max C ms client_cpu K% server_cpu Z%
 *
 * W: deliveries that arrived within the SECONDS of the phase, X = W /
 * SECONDS; Y: seconds after the phase until the last delivery (no: not
 * all within DRAIN; L: the deliveries missing then); A, B, C: latency
 * percentiles (10 us resolution) over the phase's deliveries; K: this
 * process's CPU over the phase; Z: that of the processes -T lists (the
 * server's), summed, from /proc/PID/stat. A phase that does not drain
 * ends the run (the server is saturated: later phases would only measure
 * its backlog). Last line: "user U sys S" (getrusage, the whole run).
 *
 * -H (hold): once all are upgraded and SETTLE ms passed, prints
 * "ready N" and holds them open, idle, until standard input reaches end
 * of file; exits 0. Errors (a refused or closed connection, a handshake
 * that is not a 101 with the right accept key, a wrong, lost or
 * reordered message, a deadline -t passed) are reported on stderr with
 * exit status 1; a usage error exits 2.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
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

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

#define WS_KEY "dGhlIHNhbXBsZSBub25jZQ=="
#define WS_ACCEPT "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
#define PART_MAX 1024      /* a handshake answer, or a partial frame */
#define MIN_BYTES 31       /* "%010u %020llu" */
#define MAX_BYTES 125      /* one length byte */
#define MAX_EVENTS 1024
#define RBUF (256 * 1024)
#define BUCKET_US 10
#define NBUCKETS (20 * 1000 * 1000 / BUCKET_US) /* up to 20 s */
#define MAX_RATES 32

enum state { CONNECTING, HANDSHAKE, UPGRADED };

struct conn {
    int fd;
    unsigned id;
    enum state state;
    int64_t last; /* sequence number of the last message, -1: none yet */
    unsigned short part_len;
    unsigned char part[PART_MAX];
};

static const char *prog = "ws_bcast_client";
static struct conn *conns;
static int nconns = 10000, nsources = 4, window = 256, settle_ms = 1000;
static int seconds = 5, drain_s = 10, timeout_s = 60, bytes = 40, hold;
static const char *addr = "127.0.0.1", *subpath = "/sub/room",
                  *pubpath = "/pub/room";
static int port, ep, upgraded;
static double rates[MAX_RATES];
static int nrates;
static int server_pids[64], nserver_pids;

/* the publisher */
static int pub_fd;
static char pub_in[RBUF];
static size_t pub_in_len;
static uint64_t pub_sent, pub_answered; /* requests and answers */
static int last_subscribers = -1;
static uint32_t next_seq; /* of the next message */

/* this phase's deliveries */
static uint32_t phase_first;   /* first sequence number of the phase */
static uint64_t delivered;     /* of this phase's messages (all phases) */
static uint64_t in_window;     /* of those, before window_end */
static double window_end;
static double last_delivery;
static uint32_t *hist;
static uint64_t probe_got;     /* deliveries of the current probe */
static uint32_t probe_seq;

static unsigned char rbuf[RBUF + PART_MAX];

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

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void watch(int fd, void *ptr, uint32_t events, int op)
{
    struct epoll_event ev = {.events = events, .data.ptr = ptr};

    if (epoll_ctl(ep, op, fd, &ev) < 0)
        fail("epoll_ctl: %s", strerror(errno));
}

static void send_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN) {
                struct pollfd p = {.fd = fd, .events = POLLOUT};
                (void)poll(&p, 1, 1000);
                continue;
            }
            fail("write: %s", strerror(errno));
        }
        buf += n;
        len -= (size_t)n;
    }
}

static int connect_to(int source)
{
    struct sockaddr_in src = {.sin_family = AF_INET}, dst = {.sin_family = AF_INET};
    int one = 1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    if (fd < 0)
        fail("socket: %s (raise the open files limit?)", strerror(errno));
    (void)setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    if (source >= 0) {
        src.sin_addr.s_addr = htonl(0x7f000002u + (unsigned)source);
        if (bind(fd, (struct sockaddr *)&src, sizeof src) < 0)
            fail("bind to 127.0.0.%d: %s", 2 + source, strerror(errno));
    }
    dst.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, addr, &dst.sin_addr) != 1)
        fail("bad address '%s'", addr);
    if (connect(fd, (struct sockaddr *)&dst, sizeof dst) < 0 && errno != EINPROGRESS)
        fail("connect: %s", strerror(errno));
    return fd;
}

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
            (v[vl] == '\r' || v[vl] == ' ' || v[vl] == '\t' || v[vl] == ','))
            return 1;
    }
    return 0;
}

/* One message: sequence number seq, stamp ns. */
static void deliver(struct conn *c, const unsigned char *p, size_t len, double t)
{
    char tmp[MAX_BYTES + 1];
    unsigned long long seq, ns;
    size_t i;

    if (len != (size_t)bytes)
        fail("connection %u: a message of %zu bytes, not %d", c->id, len, bytes);
    memcpy(tmp, p, len);
    tmp[len] = '\0';
    if (sscanf(tmp, "%10llu %20llu", &seq, &ns) != 2 || tmp[10] != ' ')
        fail("connection %u: a message '%s'", c->id, tmp);
    for (i = MIN_BYTES; i < len; i++)
        if (tmp[i] != 'x')
            fail("connection %u: a message '%s'", c->id, tmp);
    if ((int64_t)seq <= c->last)
        fail("connection %u: message %llu after %lld", c->id, seq, (long long)c->last);
    if (c->last >= 0 && (int64_t)seq != c->last + 1)
        fail("connection %u: messages %lld..%llu lost", c->id,
             (long long)c->last + 1, seq - 1);
    c->last = (int64_t)seq;
    if (seq == probe_seq)
        probe_got++;
    if (seq >= phase_first && phase_first > 0) {
        double us = (t * 1e9 - (double)ns) / 1000.0;
        size_t b = us < 0 ? 0 : (size_t)(us / BUCKET_US);
        if (b >= NBUCKETS)
            b = NBUCKETS - 1;
        hist[b]++;
        delivered++;
        if (t <= window_end)
            in_window++;
        last_delivery = t;
    }
}

/* The frames in buf[0..len); keeps a partial one in c->part. */
static void frames(struct conn *c, unsigned char *buf, size_t len, double t)
{
    size_t off = 0;

    while (len - off >= 2) {
        const unsigned char *f = buf + off;
        size_t plen = f[1] & 0x7f, hl = 2;
        if ((f[0] & 0x0f) == 0x8)
            fail("connection %u: closed by the server (a close frame)", c->id);
        if (f[0] != 0x81 || (f[1] & 0x80))
            fail("connection %u: a frame starting %02x %02x, not an unmasked text "
                 "frame",
                 c->id, f[0], f[1]);
        if (plen == 126) {
            if (len - off < 4)
                break;
            plen = (size_t)f[2] << 8 | f[3];
            hl = 4;
        } else if (plen == 127) {
            fail("connection %u: a frame of more than 64 KiB", c->id);
        }
        if (len - off < hl + plen)
            break;
        deliver(c, f + hl, plen, t);
        off += hl + plen;
    }
    if (len - off > PART_MAX)
        fail("connection %u: a partial frame of %zu bytes", c->id, len - off);
    memcpy(c->part, buf + off, len - off);
    c->part_len = (unsigned short)(len - off);
}

static void start_handshake(struct conn *c)
{
    char req[512];
    int err = 0, n;
    socklen_t len = sizeof err;

    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err)
        fail("connection %u: connect: %s", c->id, strerror(err ? err : errno));
    n = snprintf(req, sizeof req,
                 "GET %s HTTP/1.1\r\nHost: %s:%d\r\n"
                 "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                 "Sec-WebSocket-Key: " WS_KEY "\r\n"
                 "Sec-WebSocket-Version: 13\r\n\r\n",
                 subpath, addr, port);
    if (n < 0 || (size_t)n >= sizeof req)
        fail("the handshake request does not fit: path too long");
    c->state = HANDSHAKE;
    watch(c->fd, c, EPOLLIN, EPOLL_CTL_MOD);
    send_all(c->fd, req, (size_t)n);
}

static void on_conn(struct conn *c)
{
    size_t have = c->part_len;
    ssize_t r;
    double t;

    if (c->state == CONNECTING) {
        start_handshake(c);
        return;
    }
    memcpy(rbuf, c->part, have);
    r = read(c->fd, rbuf + have, RBUF);
    if (r < 0) {
        if (errno == EAGAIN || errno == EINTR)
            return;
        fail("connection %u: read: %s", c->id, strerror(errno));
    }
    if (r == 0)
        fail("connection %u: closed by the server", c->id);
    t = now();
    have += (size_t)r;
    if (c->state == HANDSHAKE) {
        char *end;
        size_t head;
        if (have >= PART_MAX)
            fail("connection %u: a handshake answer of %zu bytes", c->id, have);
        rbuf[have] = '\0';
        end = strstr((char *)rbuf, "\r\n\r\n");
        if (end == NULL) {
            memcpy(c->part, rbuf, have);
            c->part_len = (unsigned short)have;
            return;
        }
        head = (size_t)(end - (char *)rbuf) + 4;
        end[2] = '\0';
        if (strncmp((char *)rbuf, "HTTP/1.1 101 ", 13) != 0)
            fail("connection %u: handshake answered with '%.*s'", c->id,
                 (int)strcspn((char *)rbuf, "\r"), (char *)rbuf);
        if (!has_header((char *)rbuf, "Upgrade", "websocket", 0) ||
            !has_header((char *)rbuf, "Sec-WebSocket-Accept", WS_ACCEPT, 1))
            fail("connection %u: a 101 without Upgrade: websocket and the right "
                 "Sec-WebSocket-Accept",
                 c->id);
        c->state = UPGRADED;
        upgraded++;
        frames(c, rbuf + head, have - head, t);
        return;
    }
    if (hold)
        fail("connection %u: %zd bytes while held", c->id, r);
    frames(c, rbuf, have, t);
}

/* The publisher's answers: 200s with Content-Length bodies. */
static void on_pub(void)
{
    ssize_t r = read(pub_fd, pub_in + pub_in_len, sizeof pub_in - 1 - pub_in_len);

    if (r < 0) {
        if (errno == EAGAIN || errno == EINTR)
            return;
        fail("publisher: read: %s", strerror(errno));
    }
    if (r == 0)
        fail("publisher: closed by the server");
    pub_in_len += (size_t)r;
    for (;;) {
        char *end, *cl, *s;
        size_t head, blen;
        pub_in[pub_in_len] = '\0';
        end = strstr(pub_in, "\r\n\r\n");
        if (end == NULL)
            break;
        head = (size_t)(end - pub_in) + 4;
        if (strncmp(pub_in, "HTTP/1.1 200 ", 13) != 0)
            fail("publisher: answered '%.*s'", (int)strcspn(pub_in, "\r"), pub_in);
        *end = '\0';
        cl = strcasestr(pub_in, "\r\nContent-Length:");
        if (cl == NULL)
            fail("publisher: an answer without Content-Length");
        blen = strtoul(cl + 17, NULL, 10);
        *end = '\r';
        if (pub_in_len < head + blen)
            break;
        {
            char json[256];
            size_t jl = blen < sizeof json - 1 ? blen : sizeof json - 1;
            memcpy(json, pub_in + head, jl);
            json[jl] = '\0';
            s = strstr(json, "\"subscribers\":");
            if (s == NULL)
                fail("publisher: no subscribers in the answer '%s'", json);
            last_subscribers = atoi(s + 14);
        }
        pub_answered++;
        memmove(pub_in, pub_in + head + blen, pub_in_len - head - blen);
        pub_in_len -= head + blen;
    }
}

static void publish(void)
{
    char req[512];
    char body[MAX_BYTES + 1];
    int n, i;

    n = snprintf(body, sizeof body, "%010u %020llu", next_seq,
                 (unsigned long long)now_ns());
    for (i = n; i < bytes; i++)
        body[i] = 'x';
    body[bytes] = '\0';
    n = snprintf(req, sizeof req,
                 "POST %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: text/plain\r\n"
                 "Content-Length: %d\r\n\r\n%s",
                 pubpath, addr, port, bytes, body);
    next_seq++;
    pub_sent++;
    send_all(pub_fd, req, (size_t)n);
}

/* Waits up to ms for events and handles them. */
static void poll_once(int ms)
{
    static struct epoll_event ev[MAX_EVENTS];
    int n, i;

    n = epoll_wait(ep, ev, MAX_EVENTS, ms);
    if (n < 0 && errno != EINTR)
        fail("epoll_wait: %s", strerror(errno));
    for (i = 0; i < n; i++) {
        if (ev[i].data.ptr == &pub_fd)
            on_pub();
        else
            on_conn(ev[i].data.ptr);
    }
}

static void open_all(void)
{
    double deadline = now() + timeout_s;
    int next = 0;

    while (upgraded < nconns) {
        while (next < nconns && next - upgraded < window) {
            struct conn *c = &conns[next];
            c->id = (unsigned)next;
            c->last = -1;
            c->state = CONNECTING;
            c->fd = connect_to(next % nsources);
            watch(c->fd, c, EPOLLOUT, EPOLL_CTL_ADD);
            next++;
        }
        if (now() > deadline)
            fail("%d of %d connections upgraded within %d s", upgraded, nconns,
                 timeout_s);
        poll_once(100);
    }
}

static double hist_pct(uint64_t total, double p)
{
    uint64_t want = (uint64_t)(p * (double)total + 0.999999), sum = 0;
    size_t b;

    if (want == 0)
        want = 1;
    for (b = 0; b < NBUCKETS; b++) {
        sum += hist[b];
        if (sum >= want)
            return (double)(b + 1) * BUCKET_US / 1000.0; /* upper bound, ms */
    }
    return -1;
}

static double cpu_self(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static double cpu_server(void)
{
    double sum = 0;
    long hz = sysconf(_SC_CLK_TCK);
    int i;

    for (i = 0; i < nserver_pids; i++) {
        char path[64], line[1024], *p;
        unsigned long long ut, st;
        FILE *f;
        snprintf(path, sizeof path, "/proc/%d/stat", server_pids[i]);
        f = fopen(path, "r");
        if (f == NULL)
            continue;
        if (fgets(line, sizeof line, f) != NULL && (p = strrchr(line, ')')) != NULL &&
            sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut,
                   &st) == 2)
            sum += (double)(ut + st) / (double)hz;
        fclose(f);
    }
    return sum;
}

/* Probes until every subscriber is subscribed: a publish reaches N. */
static void probe(void)
{
    int tries;

    for (tries = 0; tries < 20; tries++) {
        double end;
        uint64_t answered = pub_answered;
        probe_seq = next_seq;
        probe_got = 0;
        publish();
        end = now() + 5;
        while ((pub_answered == answered || probe_got < (uint64_t)nconns) &&
               now() < end) {
            poll_once(10);
            if (pub_answered > answered && last_subscribers < nconns &&
                probe_got >= (uint64_t)last_subscribers)
                break;
        }
        if (pub_answered == answered)
            fail("a probe publish was not answered within 5 s");
        if (last_subscribers == nconns && probe_got == (uint64_t)nconns)
            return;
        end = now() + 0.5;
        while (now() < end)
            poll_once(10);
    }
    fail("after 20 probes, a publish reached %d of %d subscribers", last_subscribers,
         nconns);
}

static void phase(double rate)
{
    double t0, next_at, c0, s0, c1, s1, drained_at, wall;
    uint64_t published, expected;
    uint64_t answered0 = pub_answered;

    memset(hist, 0, NBUCKETS * sizeof *hist);
    delivered = in_window = 0;
    phase_first = next_seq;
    c0 = cpu_self();
    s0 = cpu_server();
    t0 = now();
    window_end = t0 + seconds;
    next_at = t0;
    published = 0;
    while (now() < window_end) {
        double t = now();
        int ms;
        while (next_at <= t && next_at < window_end) {
            publish();
            published++;
            next_at = t0 + (double)published / rate;
        }
        ms = (int)((next_at - now()) * 1000);
        poll_once(ms < 0 ? 0 : ms > 100 ? 100 : ms);
    }
    wall = now() - t0;
    c1 = cpu_self();
    s1 = cpu_server();
    expected = published * (uint64_t)nconns;
    while ((delivered < expected || pub_answered - answered0 < published) &&
           now() < window_end + drain_s)
        poll_once(10);
    drained_at = delivered >= expected ? last_delivery - window_end : -1;
    if (drained_at < 0 && delivered >= expected)
        drained_at = 0;
    printf("rate %g published %llu expected %llu window_deliveries %llu per_second "
           "%.0f ",
           rate, (unsigned long long)published, (unsigned long long)expected,
           (unsigned long long)in_window, (double)in_window / seconds);
    if (delivered >= expected)
        printf("drained %.3f lag 0 ", drained_at < 0 ? 0 : drained_at);
    else
        printf("drained no lag %llu ", (unsigned long long)(expected - delivered));
    printf("p50 %.2f p99 %.2f max %.2f ms client_cpu %.0f%% server_cpu %.0f%%\n",
           delivered ? hist_pct(delivered, 0.50) : -1,
           delivered ? hist_pct(delivered, 0.99) : -1,
           delivered ? hist_pct(delivered, 1.0) : -1, 100 * (c1 - c0) / wall,
           nserver_pids ? 100 * (s1 - s0) / wall : -1);
    fflush(stdout);
    if (delivered < expected) {
        printf("saturated at rate %g: stopping\n", rate);
        fflush(stdout);
    }
}

static void usage(void)
{
    fprintf(stderr,
            "usage: %s -p PORT [-a ADDR] [-P SUBPATH] [-Q PUBPATH] [-n N]\n"
            "       [-R RATE,RATE..] [-d SECONDS] [-D DRAIN] [-b BYTES]\n"
            "       [-S SOURCES] [-w WINDOW] [-s SETTLE_MS] [-t SECONDS]\n"
            "       [-T PID,PID..] [-H]\n",
            prog);
    exit(2);
}

static int num(const char *s, int lo, int hi)
{
    char *end;
    long v = strtol(s, &end, 10);

    if (*s == '\0' || *end != '\0' || v < lo || v > hi)
        usage();
    return (int)v;
}

int main(int argc, char **argv)
{
    char *list = NULL, *pids = NULL, *tok, *save;
    struct rusage ru;
    int opt, i;

    while ((opt = getopt(argc, argv, "p:a:P:Q:n:R:d:D:b:S:w:s:t:T:H")) != -1) {
        switch (opt) {
        case 'p': port = num(optarg, 1, 65535); break;
        case 'a': addr = optarg; break;
        case 'P': subpath = optarg; break;
        case 'Q': pubpath = optarg; break;
        case 'n': nconns = num(optarg, 1, 1000000); break;
        case 'R': list = optarg; break;
        case 'd': seconds = num(optarg, 1, 3600); break;
        case 'D': drain_s = num(optarg, 1, 3600); break;
        case 'b': bytes = num(optarg, MIN_BYTES, MAX_BYTES); break;
        case 'S': nsources = num(optarg, 1, 250); break;
        case 'w': window = num(optarg, 1, 100000); break;
        case 's': settle_ms = num(optarg, 0, 600000); break;
        case 't': timeout_s = num(optarg, 1, 3600); break;
        case 'T': pids = optarg; break;
        case 'H': hold = 1; break;
        default: usage();
        }
    }
    if (optind != argc || port == 0)
        usage();
    list = strdup(list ? list : "1,2,5,10,20,50,100");
    if (list == NULL)
        fail("out of memory");
    for (tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *end;
        if (nrates == MAX_RATES)
            usage();
        rates[nrates] = strtod(tok, &end);
        if (*end != '\0' || rates[nrates] <= 0 || rates[nrates] > 100000)
            usage();
        nrates++;
    }
    for (tok = pids ? strtok_r(pids, ",", &save) : NULL; tok;
         tok = strtok_r(NULL, ",", &save)) {
        if (nserver_pids == 64)
            usage();
        server_pids[nserver_pids++] = num(tok, 1, 1 << 30);
    }
    ep = epoll_create1(EPOLL_CLOEXEC);
    conns = calloc((size_t)nconns, sizeof *conns);
    hist = calloc(NBUCKETS, sizeof *hist);
    if (ep < 0 || conns == NULL || hist == NULL)
        fail("out of memory or epoll: %s", strerror(errno));
    open_all();
    {
        double end = now() + settle_ms / 1000.0;
        while (now() < end)
            poll_once(10);
    }
    if (hold) {
        char buf[256];
        printf("ready %d\n", nconns);
        fflush(stdout);
        for (;;) {
            struct pollfd p = {.fd = 0, .events = POLLIN};
            ssize_t r;
            poll_once(100);
            if (poll(&p, 1, 0) == 1) {
                r = read(0, buf, sizeof buf);
                if (r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN))
                    return 0;
            }
        }
    }
    pub_fd = connect_to(-1);
    {
        struct pollfd p = {.fd = pub_fd, .events = POLLOUT};
        int err = 0;
        socklen_t len = sizeof err;
        if (poll(&p, 1, timeout_s * 1000) != 1 ||
            getsockopt(pub_fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err)
            fail("the publisher's connection: %s", strerror(err ? err : ETIMEDOUT));
        watch(pub_fd, &pub_fd, EPOLLIN, EPOLL_CTL_ADD);
    }
    probe();
    for (i = 0; i < nrates; i++) {
        phase(rates[i]);
        if (delivered < (uint64_t)(next_seq - phase_first) * (uint64_t)nconns)
            break;
    }
    getrusage(RUSAGE_SELF, &ru);
    printf("user %.3f sys %.3f\n",
           (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6,
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6);
    return 0;
}
