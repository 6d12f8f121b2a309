/*
 * lp_client.c - the load generator of tests/bench/longpoll_fanout.sh and
 * of the long-poll half of tests/bench/pubsub_memory.sh: N waiting
 * long-poll requests, one publish, and when each of them was answered.
 *
 *   cc -O2 -o lp_client tests/bench/lp_client.c
 *   ./lp_client -p 18580 -n 5000 -r 5            # fan-out rounds
 *   ./lp_client -p 18580 -n 15000 -H </some/fifo  # hold them, idle
 *
 * One process, one thread, level-triggered epoll, non-blocking sockets.
 * Opens N keep-alive connections to 127.0.0.1:PORT (or -a ADDR), spread
 * round-robin over the source addresses 127.0.0.2 .. 127.0.0.(1+S) (so
 * ephemeral ports do not run out), at most W of them connecting at a time.
 * Each sends "GET SUBPATH HTTP/1.1" (with "?position=P" once a round told
 * it the position of the last message) and waits for the answer.
 *
 * A round: once every connection has sent its request, it waits SETTLE
 * milliseconds (the server has then read and parked them all: it is idle
 * but for them), then sends one "POST PUBPATH" on a connection of its own
 * whose body names the round ("round R"), taking the time t0 just before
 * the write. Every waiting request must then be answered "200" with that
 * body (and, from squalld, a Squall-Position header, used in the next
 * round's requests); the time from t0 to the read that completed an answer
 * is that subscriber's latency. The publish's answer must be a 200 with a
 * JSON "subscribers":K: the subscribers the server had waiting when the
 * message came, which tells whether all N were waiting (K = N) or whether
 * the settle time was too short. One line per round on stdout:
 *
 *   round R subscribers K received M p50 A p99 B max C first D ms
 *
 * M: answers with the right body (N unless -t passed first); A, B, C:
 * latency percentiles in milliseconds over the M; D: the first answer's.
 * Then "user U sys S" (this process's CPU seconds, getrusage): a client
 * near 100% of its core was the limit.
 *
 * -H (hold): no publish; once all N requests are sent and SETTLE ms
 * passed, prints "ready N", then holds them open, idle, until its
 * standard input reaches end of file, and exits 0. Any answer during the
 * hold is an error (set the server's poll timeout beyond the hold).
 *
 * Errors (a refused or closed connection, a wrong answer, the deadline -t
 * passed) are reported on stderr with exit status 1; a usage error exits 2.
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

#define IN_MAX 2048 /* an answer: head and body */
#define POS_MAX 64
#define MAX_EVENTS 512

enum state { IDLE, CONNECTING, WAITING, DONE };

struct conn {
    int fd;
    unsigned id;
    enum state state;
    double at; /* when its answer was complete */
    size_t in_len;
    char in[IN_MAX];
};

static const char *prog = "lp_client";
static struct conn *conns, pub;
static int nconns = 5000, rounds = 3, nsources = 4, window = 256;
static int settle_ms = 1000, timeout_s = 60, hold;
static const char *addr = "127.0.0.1", *subpath = "/sub/room",
                  *pubpath = "/pub/room";
static int port;
static int ep;
static char position[POS_MAX]; /* of the last message, from its answers */
static char body[64];          /* the message of this round */

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

static void watch(struct conn *c, uint32_t events, int op)
{
    struct epoll_event ev = {.events = events, .data.ptr = c};

    if (epoll_ctl(ep, op, c->fd, &ev) < 0)
        fail("epoll_ctl: %s", strerror(errno));
}

/* Writes all of buf: requests are small, a socket's buffer takes them. */
static void send_all(struct conn *c, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(c->fd, buf, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN) { /* not expected: wait, briefly */
                struct pollfd p = {.fd = c->fd, .events = POLLOUT};
                (void)poll(&p, 1, 1000);
                continue;
            }
            fail("connection %u: write: %s", c->id, strerror(errno));
        }
        buf += n;
        len -= (size_t)n;
    }
}

static int open_conn(struct conn *c, int source)
{
    struct sockaddr_in src = {.sin_family = AF_INET}, dst = {.sin_family = AF_INET};
    int one = 1;

    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        fail("socket: %s (raise the open files limit?)", strerror(errno));
    (void)setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    if (source >= 0) {
        src.sin_addr.s_addr = htonl(0x7f000002u + (unsigned)source);
        if (bind(c->fd, (struct sockaddr *)&src, sizeof src) < 0)
            fail("bind to 127.0.0.%d: %s", 2 + source, strerror(errno));
    }
    dst.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, addr, &dst.sin_addr) != 1)
        fail("bad address '%s'", addr);
    if (connect(c->fd, (struct sockaddr *)&dst, sizeof dst) < 0 && errno != EINPROGRESS)
        fail("connect: %s", strerror(errno));
    c->state = CONNECTING;
    c->in_len = 0;
    watch(c, EPOLLOUT, EPOLL_CTL_ADD);
    return 0;
}

static void send_get(struct conn *c)
{
    char req[512];
    int n;

    if (position[0] != '\0')
        n = snprintf(req, sizeof req,
                     "GET %s?position=%s HTTP/1.1\r\nHost: %s:%d\r\n\r\n", subpath,
                     position, addr, port);
    else
        n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: %s:%d\r\n\r\n",
                     subpath, addr, port);
    if (n < 0 || (size_t)n >= sizeof req)
        fail("the request does not fit: path too long");
    c->state = WAITING;
    c->in_len = 0;
    send_all(c, req, (size_t)n);
}

/* The value of header NAME in head (NUL-terminated), copied to out. */
static int header(const char *head, const char *name, char *out, size_t size)
{
    size_t nl = strlen(name);
    const char *p = head;

    while ((p = strstr(p, "\r\n")) != NULL) {
        const char *v;
        size_t vl;
        p += 2;
        if (strncasecmp(p, name, nl) != 0 || p[nl] != ':')
            continue;
        v = p + nl + 1;
        while (*v == ' ' || *v == '\t')
            v++;
        vl = strcspn(v, "\r");
        if (vl >= size)
            return -1;
        memcpy(out, v, vl);
        out[vl] = '\0';
        return 0;
    }
    return -1;
}

/* Whether c->in holds a whole answer; sets *status, *body_at, *body_len. */
static int answer_complete(struct conn *c, int *status, size_t *body_at,
                           size_t *body_len)
{
    char *end, cl[32];
    size_t head_len;

    c->in[c->in_len] = '\0';
    end = strstr(c->in, "\r\n\r\n");
    if (end == NULL) {
        if (c->in_len >= IN_MAX - 1)
            fail("connection %u: an answer head of more than %d bytes", c->id,
                 IN_MAX - 1);
        return 0;
    }
    head_len = (size_t)(end - c->in) + 4;
    end[2] = '\0';
    if (strncmp(c->in, "HTTP/1.1 ", 9) != 0)
        fail("connection %u: not an HTTP/1.1 answer: '%.40s'", c->id, c->in);
    *status = atoi(c->in + 9);
    if (header(c->in, "Content-Length", cl, sizeof cl) < 0) {
        if (header(c->in, "Transfer-Encoding", cl, sizeof cl) == 0)
            fail("connection %u: a chunked answer (not supported)", c->id);
        *body_len = 0;
    } else {
        *body_len = (size_t)strtoul(cl, NULL, 10);
    }
    if (head_len + *body_len > IN_MAX - 1)
        fail("connection %u: an answer of %zu bytes", c->id, head_len + *body_len);
    end[2] = '\r';
    if (c->in_len < head_len + *body_len)
        return 0;
    if (c->in_len > head_len + *body_len)
        fail("connection %u: %zu bytes after the answer", c->id,
             c->in_len - head_len - *body_len);
    *body_at = head_len;
    return 1;
}

/* Reads what c has; returns 1 when a whole answer is in c->in. */
static int read_some(struct conn *c)
{
    ssize_t r = read(c->fd, c->in + c->in_len, IN_MAX - 1 - c->in_len);

    if (r < 0) {
        if (errno == EAGAIN || errno == EINTR)
            return 0;
        fail("connection %u: read: %s", c->id, strerror(errno));
    }
    if (r == 0)
        fail("connection %u: closed by the server (%s)", c->id,
             c->state == WAITING ? "waiting for an answer" : "idle");
    c->in_len += (size_t)r;
    return 1;
}

static int by_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

static double pct(const double *v, int n, double p)
{
    int i = (int)(p * n + 0.999999) - 1;

    if (i < 0)
        i = 0;
    if (i >= n)
        i = n - 1;
    return v[i];
}

static void usage(void)
{
    fprintf(stderr,
            "usage: %s -p PORT [-a ADDR] [-P SUBPATH] [-Q PUBPATH] [-n N]\n"
            "       [-r ROUNDS] [-S SOURCES] [-w WINDOW] [-s SETTLE_MS]\n"
            "       [-t SECONDS] [-H]\n",
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

/* Opens every connection and sends its first request, within the deadline. */
static void open_all(double deadline)
{
    struct epoll_event ev[MAX_EVENTS];
    int next = 0, connecting = 0, sent = 0;

    while (sent < nconns) {
        int i, n;
        while (next < nconns && connecting < window) {
            conns[next].id = (unsigned)next;
            open_conn(&conns[next], next % nsources);
            next++;
            connecting++;
        }
        if (now() > deadline)
            fail("%d of %d connections made within %d s", sent, nconns, timeout_s);
        n = epoll_wait(ep, ev, MAX_EVENTS, 100);
        if (n < 0 && errno != EINTR)
            fail("epoll_wait: %s", strerror(errno));
        for (i = 0; i < n; i++) {
            struct conn *c = ev[i].data.ptr;
            int err = 0;
            socklen_t len = sizeof err;
            if (c->state != CONNECTING)
                fail("connection %u: answered before any publish", c->id);
            if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err)
                fail("connection %u: connect: %s", c->id, strerror(err ? err : errno));
            watch(c, EPOLLIN, EPOLL_CTL_MOD);
            send_get(c);
            connecting--;
            sent++;
        }
    }
}

/* Sleeps ms milliseconds while watching for answers nobody asked for. */
static void settle(int ms)
{
    struct epoll_event ev[MAX_EVENTS];
    double end = now() + ms / 1000.0;
    int i, n;

    while (now() < end) {
        n = epoll_wait(ep, ev, MAX_EVENTS, (int)((end - now()) * 1000) + 1);
        if (n < 0 && errno != EINTR)
            fail("epoll_wait: %s", strerror(errno));
        for (i = 0; i < n; i++) {
            struct conn *c = ev[i].data.ptr;
            read_some(c);
            fail("connection %u: answered before any publish: '%.40s'", c->id,
                 c->in);
        }
    }
}

static void hold_them(void)
{
    struct epoll_event ev[MAX_EVENTS];
    struct epoll_event in = {.events = EPOLLIN, .data.ptr = NULL};
    char buf[256];
    int i, n;

    if (epoll_ctl(ep, EPOLL_CTL_ADD, 0, &in) < 0)
        fail("epoll_ctl on standard input: %s", strerror(errno));
    printf("ready %d\n", nconns);
    fflush(stdout);
    for (;;) {
        n = epoll_wait(ep, ev, MAX_EVENTS, -1);
        if (n < 0 && errno != EINTR)
            fail("epoll_wait: %s", strerror(errno));
        for (i = 0; i < n; i++) {
            struct conn *c = ev[i].data.ptr;
            if (c == NULL) {
                ssize_t r = read(0, buf, sizeof buf);
                if (r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN))
                    return;
                continue;
            }
            read_some(c);
            fail("connection %u: answered while held: '%.40s'", c->id, c->in);
        }
    }
}

/* One round: publish, wait for every answer; prints its line. */
static void round_once(int r, double *lat)
{
    struct epoll_event ev[MAX_EVENTS];
    char req[512], json[IN_MAX];
    int n, i, got = 0, pub_done = 0, subscribers = -1, status;
    size_t bat, blen;
    double t0, deadline;

    snprintf(body, sizeof body, "round %d", r);
    n = snprintf(req, sizeof req,
                 "POST %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: text/plain\r\n"
                 "Content-Length: %zu\r\n\r\n%s",
                 pubpath, addr, port, strlen(body), body);
    pub.in_len = 0;
    pub.state = WAITING;
    t0 = now();
    send_all(&pub, req, (size_t)n);
    deadline = t0 + timeout_s;
    while (got < nconns || !pub_done) {
        if (now() > deadline)
            break;
        n = epoll_wait(ep, ev, MAX_EVENTS, 100);
        if (n < 0 && errno != EINTR)
            fail("epoll_wait: %s", strerror(errno));
        for (i = 0; i < n; i++) {
            struct conn *c = ev[i].data.ptr;
            if (!read_some(c) || !answer_complete(c, &status, &bat, &blen))
                continue;
            if (c == &pub) {
                char *s;
                if (status != 200)
                    fail("the publish was answered %d", status);
                memcpy(json, c->in + bat, blen);
                json[blen] = '\0';
                s = strstr(json, "\"subscribers\":");
                if (s == NULL)
                    fail("the publish's answer has no subscribers: '%s'", json);
                subscribers = atoi(s + 14);
                pub_done = 1;
                continue;
            }
            if (c->state != WAITING)
                fail("connection %u: a second answer", c->id);
            if (status != 200)
                fail("connection %u: answered %d, not 200", c->id, status);
            if (blen != strlen(body) || memcmp(c->in + bat, body, blen) != 0)
                fail("connection %u: body '%.*s', not '%s'", c->id, (int)blen,
                     c->in + bat, body);
            c->at = now();
            c->state = DONE;
            if (got == 0) {
                char p[POS_MAX];
                c->in[bat - 2] = '\0';
                if (header(c->in, "Squall-Position", p, sizeof p) == 0)
                    memcpy(position, p, sizeof p);
            }
            lat[got++] = (c->at - t0) * 1000.0;
        }
    }
    if (!pub_done)
        fail("round %d: the publish was not answered within %d s", r, timeout_s);
    if (got == 0)
        fail("round %d: no subscriber got the message within %d s", r, timeout_s);
    {
        double first = lat[0];
        qsort(lat, (size_t)got, sizeof *lat, by_double);
        printf("round %d subscribers %d received %d p50 %.3f p99 %.3f max %.3f "
               "first %.3f ms\n",
               r, subscribers, got, pct(lat, got, 0.50), pct(lat, got, 0.99),
               lat[got - 1], first);
        fflush(stdout);
    }
    if (got < nconns)
        fail("round %d: %d of %d subscribers got the message within %d s", r, got,
             nconns, timeout_s);
}

int main(int argc, char **argv)
{
    struct rusage ru;
    double *lat;
    int opt, r, i;

    while ((opt = getopt(argc, argv, "p:a:P:Q:n:r:S:w:s:t:H")) != -1) {
        switch (opt) {
        case 'p': port = num(optarg, 1, 65535); break;
        case 'a': addr = optarg; break;
        case 'P': subpath = optarg; break;
        case 'Q': pubpath = optarg; break;
        case 'n': nconns = num(optarg, 1, 1000000); break;
        case 'r': rounds = num(optarg, 1, 1000); break;
        case 'S': nsources = num(optarg, 1, 250); break;
        case 'w': window = num(optarg, 1, 100000); break;
        case 's': settle_ms = num(optarg, 0, 600000); break;
        case 't': timeout_s = num(optarg, 1, 3600); break;
        case 'H': hold = 1; break;
        default: usage();
        }
    }
    if (optind != argc || port == 0)
        usage();
    ep = epoll_create1(EPOLL_CLOEXEC);
    conns = calloc((size_t)nconns, sizeof *conns);
    lat = calloc((size_t)nconns, sizeof *lat);
    if (ep < 0 || conns == NULL || lat == NULL)
        fail("out of memory or epoll: %s", strerror(errno));
    open_all(now() + timeout_s);
    settle(settle_ms);
    if (hold) {
        hold_them();
        return 0;
    }
    pub.id = (unsigned)nconns;
    open_conn(&pub, -1);
    {
        struct pollfd p = {.fd = pub.fd, .events = POLLOUT};
        int err = 0;
        socklen_t len = sizeof err;
        if (poll(&p, 1, timeout_s * 1000) != 1 ||
            getsockopt(pub.fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err)
            fail("the publisher's connection: %s", strerror(err ? err : ETIMEDOUT));
        watch(&pub, EPOLLIN, EPOLL_CTL_MOD);
    }
    for (r = 1; r <= rounds; r++) {
        if (r > 1) {
            for (i = 0; i < nconns; i++)
                send_get(&conns[i]);
            settle(settle_ms);
        }
        round_once(r, lat);
    }
    getrusage(RUSAGE_SELF, &ru);
    printf("user %.3f sys %.3f\n",
           (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6,
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6);
    return 0;
}
