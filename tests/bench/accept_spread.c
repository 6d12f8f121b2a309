/*
 * accept_spread.c - how a burst of long-lived connections spreads over
 * pre-forked workers, for each way of sharing the listening socket.
 *
 *   accept_spread MODE WORKERS CONNECTIONS [CLIENT_PROCS]
 *
 * MODE is one of
 *   shared      one listening socket in every worker's epoll (squall's
 *               old behaviour)
 *   exclusive   the same with EPOLLEXCLUSIVE (libevent 2.1 cannot set it)
 *   throttle    shared socket; a worker stops accepting while it holds more
 *               than its fair share of the connections open in all
 *               workers (counts in a MAP_SHARED page)
 *   reuseport   one SO_REUSEPORT socket per worker
 *
 * Each worker accepts up to 8 connections per wakeup (as squalld does),
 * keeps them open and counts them. Client processes open CONNECTIONS
 * connections to 127.0.0.x in a burst and hold them. Prints the count per
 * worker and the largest deviation from a fair share, in percent.
 *
 * An experiment for README's "Accepting" paragraph, not part of squalld.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_WORKERS 64
#define BATCH 8

enum mode { SHARED, EXCLUSIVE, THROTTLE, REUSEPORT };

struct board {
    atomic_uint count[MAX_WORKERS];
    atomic_uint total;
};

static struct board *board;
static int nworkers;

static void die(const char *what)
{
    perror(what);
    exit(2);
}

static int listener(int port, int reuseport)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

    if (fd < 0)
        die("socket");
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (reuseport)
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
    sin.sin_addr.s_addr = htonl(INADDR_ANY);
    sin.sin_port = htons((unsigned short)port);
    if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0)
        die("bind");
    if (listen(fd, 4096) < 0)
        die("listen");
    return fd;
}

static int port_of(int fd)
{
    struct sockaddr_in sin;
    socklen_t len = sizeof(sin);

    if (getsockname(fd, (struct sockaddr *)&sin, &len) < 0)
        die("getsockname");
    return ntohs(sin.sin_port);
}

/* The throttle rule squalld uses: accept while holding no more than the
 * average of the workers plus a slack. */
static int over_share(int me)
{
    unsigned total = atomic_load(&board->total);
    unsigned mine = atomic_load(&board->count[me]);
    unsigned avg = total / (unsigned)nworkers;

    return mine > avg + BATCH + avg / 32;
}

static void worker(int me, int lfd, enum mode mode)
{
    struct epoll_event ev = {.events = EPOLLIN}, out[64];
    int ep = epoll_create1(0), armed = 1;

    if (mode == EXCLUSIVE)
        ev.events |= EPOLLEXCLUSIVE;
    ev.data.fd = lfd;
    if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) < 0)
        die("epoll_ctl");
    for (;;) {
        int n = epoll_wait(ep, out, 64, armed ? -1 : 1);

        if (mode == THROTTLE && !armed && !over_share(me)) {
            ev.events = EPOLLIN;
            epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
            armed = 1;
        }
        for (int i = 0; i < n; i++) {
            if (out[i].data.fd != lfd)
                continue;
            for (int k = 0; k < BATCH; k++) {
                if (mode == THROTTLE && over_share(me)) {
                    epoll_ctl(ep, EPOLL_CTL_DEL, lfd, NULL);
                    armed = 0;
                    break;
                }
                int c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);
                if (c < 0)
                    break;
                struct epoll_event cev = {.events = EPOLLIN, .data.fd = c};
                epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
                atomic_fetch_add(&board->count[me], 1);
                atomic_fetch_add(&board->total, 1);
            }
        }
    }
}

static void client(int port, int n, int id)
{
    for (int i = 0; i < n; i++) {
        struct sockaddr_in sin = {.sin_family = AF_INET,
                                  .sin_port = htons((unsigned short)port)};
        /* several source addresses: 10,000 connections exceed one
         * address's ephemeral ports on some hosts */
        sin.sin_addr.s_addr = htonl(0x7f000001u + (unsigned)(id % 4));
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0)
            die("connect");
    }
    pause(); /* hold them until killed */
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    static const char *names[] = {"shared", "exclusive", "throttle",
                                  "reuseport"};
    pid_t pids[MAX_WORKERS + 64];
    int npids = 0, conns, nclients, port, lfd = -1;
    enum mode mode = SHARED;
    struct rlimit rl = {65536, 65536};
    double t0;

    if (argc < 4)
        return fprintf(stderr,
                       "usage: %s MODE WORKERS CONNECTIONS "
                       "[CLIENT_PROCS]\n",
                       argv[0]),
               2;
    while (strcmp(argv[1], names[mode]) != 0)
        if (++mode > REUSEPORT)
            return fprintf(stderr, "unknown mode %s\n", argv[1]), 2;
    nworkers = atoi(argv[2]);
    conns = atoi(argv[3]);
    nclients = argc > 4 ? atoi(argv[4]) : 4;
    if (nworkers < 1 || nworkers > MAX_WORKERS || nclients < 1 || nclients > 64)
        return 2;
    setrlimit(RLIMIT_NOFILE, &rl); /* may fail: then keep below the limit */
    board = mmap(NULL, sizeof(*board), PROT_READ | PROT_WRITE,
                 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (board == MAP_FAILED)
        die("mmap");
    lfd = listener(0, mode == REUSEPORT);
    port = port_of(lfd);
    for (int w = 0; w < nworkers; w++) {
        int fd = mode == REUSEPORT && w > 0 ? listener(port, 1) : lfd;
        if ((pids[npids] = fork()) == 0)
            worker(w, fd, mode);
        npids++;
        if (mode == REUSEPORT && w > 0)
            close(fd);
    }
    if (mode == REUSEPORT)
        close(lfd);
    usleep(100000); /* every worker in epoll_wait */
    t0 = now();
    for (int c = 0; c < nclients; c++) {
        int n = conns / nclients + (c < conns % nclients);
        if ((pids[npids] = fork()) == 0)
            client(port, n, c);
        npids++;
    }
    while (atomic_load(&board->total) < (unsigned)conns && now() - t0 < 30)
        usleep(1000);
    printf("%-9s workers=%d conns=%d time=%.2fs split=", names[mode], nworkers,
           conns, now() - t0);
    double fair = (double)conns / nworkers, worst = 0;
    for (int w = 0; w < nworkers; w++) {
        unsigned n = atomic_load(&board->count[w]);
        double dev = ((double)n - fair) / fair * 100;
        if (dev < 0)
            dev = -dev;
        if (dev > worst)
            worst = dev;
        printf("%s%u", w ? "/" : "", n);
    }
    printf(" worst=%.1f%%\n", worst);
    for (int i = 0; i < npids; i++)
        kill(pids[i], SIGKILL);
    while (wait(NULL) > 0)
        ;
    return 0;
}
