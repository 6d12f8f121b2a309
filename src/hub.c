/*
 * hub.c - the hub: the pub/sub broker of this host, a process of its own.
 *
 * The master creates the hub's listening socket before it forks anything
 * (hub_listen: a unix stream socket in the abstract namespace, under a
 * random name), so a worker can connect whether the hub is up, starting or
 * being respawned: the connection waits in the backlog. The master forks
 * the hub (hub_main) and respawns it when it dies; the workers reconnect
 * and resynchronise from their own subscription tables (pubsub.c). The hub
 * runs no module code.
 *
 * What the hub holds: the channels (channel.c) with their history and, per
 * worker slot, how many subscribers each channel has there. A publish gets
 * the channel's next offset, goes into its history and out to exactly the
 * workers that have subscribers, in publish order: one socket per worker,
 * read and written by one loop, so order per channel is order of arrival.
 *
 * Frames (hubproto.c) are written in batches: a frame is appended to the
 * worker's output and the output is written once the input that caused it
 * is handled, so a burst of publishes costs a few writes. The output to a
 * worker is bounded by pubsub.hub_queue: a worker that does not read is
 * disconnected rather than allowed to grow the hub. It reconnects, and
 * asks for what its channels missed from their last positions; what fell
 * out of history in the meantime is reported to its subscribers as lost
 * (the recovery signal), never silently skipped.
 */
#include "internal.h"

#include <errno.h>
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define HUB_BACKLOG 512
#define READ_CHUNK 65536

struct hub_address hub_address;

struct peer {
    int fd;
    int slot; /* -1 until its HELLO */
    pid_t pid;
    struct event *ev;
    struct buf in, out;
    int dirty;  /* on the flush list */
    int closing; /* over hub_queue or broken: closed after this read */
    struct peer *next, *next_dirty;
};

static struct {
    struct event_base *base;
    const struct config *cfg;
    struct channels ch;
    struct event *accept_ev, *expire_ev, *sig_term, *sig_int, *sig_usr1;
    struct peer *peers, *dirty;
    struct peer **by_slot;
    unsigned nslots;
    size_t max_frame;
    uid_t uid;
} H;

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* --- the listening socket (in the master) ------------------------------- */

int hub_listen(char *err, size_t errlen)
{
    struct sockaddr_un *sun = &hub_address.sun;
    unsigned char rnd[8];
    int fd;

    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
        snprintf(err, errlen, "getrandom: %s", strerror(errno));
        return -1;
    }
    memset(sun, 0, sizeof(*sun));
    sun->sun_family = AF_UNIX;
    /* abstract: sun_path[0] is NUL, the name is the bytes after it */
    int n = snprintf(sun->sun_path + 1, sizeof(sun->sun_path) - 1,
                     "squalld-hub-%d-%02x%02x%02x%02x%02x%02x%02x%02x",
                     (int)getpid(), rnd[0], rnd[1], rnd[2], rnd[3], rnd[4],
                     rnd[5], rnd[6], rnd[7]);
    hub_address.len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
                                  (size_t)n);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 ||
        bind(fd, (struct sockaddr *)sun, hub_address.len) < 0 ||
        listen(fd, HUB_BACKLOG) < 0) {
        snprintf(err, errlen, "cannot create the hub's socket: %s",
                 strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    hub_address.fd = fd;
    return 0;
}

/* --- output ------------------------------------------------------------- */

static void peer_close(struct peer *p);

static void flush_peer(struct peer *p)
{
    while (buf_pending(&p->out) > 0) {
        ssize_t n = write(p->fd, p->out.p + p->out.off, buf_pending(&p->out));
        if (n > 0) {
            buf_consume(&p->out, (size_t)n);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return; /* EV_WRITE is armed: the rest goes when it can */
        log_warn("worker %d (pid %d): write: %s; dropping it", p->slot,
                 (int)p->pid, n < 0 ? strerror(errno) : "closed");
        p->closing = 1;
        return;
    }
    buf_release(&p->out); /* an idle worker holds no output buffer */
}

/* Writes what every dirty peer has; closes those that must go. */
static void flush_all(void)
{
    struct peer *p, *next;

    for (p = H.dirty, H.dirty = NULL; p != NULL; p = next) {
        next = p->next_dirty;
        p->dirty = 0;
        if (!p->closing)
            flush_peer(p);
        if (p->closing)
            peer_close(p);
    }
}

static void mark_dirty(struct peer *p)
{
    if (p->dirty)
        return;
    p->dirty = 1;
    p->next_dirty = H.dirty;
    H.dirty = p;
}

/* Queues f for p. Past pubsub.hub_queue the worker is cut off: it will
 * reconnect and resynchronise (the top of this file). */
static void send_frame(struct peer *p, const struct hub_frame *f)
{
    if (p->closing)
        return;
    mark_dirty(p);
    if (buf_pending(&p->out) > H.cfg->pubsub.hub_queue) {
        log_warn("worker %d (pid %d) has %zu bytes unread, over "
                 "pubsub.hub_queue; disconnecting it (it resynchronises)",
                 p->slot, (int)p->pid, buf_pending(&p->out));
        p->closing = 1;
        return;
    }
    if (hub_encode(&p->out, f) < 0) {
        log_error("out of memory for worker %d's output; disconnecting "
                  "it",
                  p->slot);
        p->closing = 1;
    }
}

static void send_error(struct peer *p, uint64_t id, int code)
{
    struct hub_frame f = {.type = HUB_ERR, .id = id, .code = (uint16_t)code};

    send_frame(p, &f);
}

/* --- requests from workers ---------------------------------------------- */

static void arm_expiry(int64_t ms)
{
    struct timeval tv;

    if (ms < 0 || evtimer_pending(H.expire_ev, NULL))
        return;
    tv.tv_sec = (time_t)(ms / 1000);
    tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
    evtimer_add(H.expire_ev, &tv);
}

static void on_expire(evutil_socket_t fd UNUSED, short what UNUSED,
                      void *arg UNUSED)
{
    arm_expiry(channels_expire(&H.ch, now_ms()));
}

static void do_hello(struct peer *p, const struct hub_frame *f)
{
    if (f->n >= H.nslots) {
        log_error("HELLO from slot %u of %u; dropping it", f->n,
                  H.nslots);
        p->closing = 1;
        return;
    }
    /* a worker that died: its successor may say hello before the hub
     * has seen the old connection end; the old one's subscriptions go,
     * the new one registers its own */
    if (H.by_slot[f->n] != NULL && H.by_slot[f->n] != p) {
        struct peer *old = H.by_slot[f->n];
        old->slot = -1;
        old->closing = 1;
        mark_dirty(old);
        channels_clear_slot(&H.ch, f->n);
    }
    p->slot = (int)f->n;
    p->pid = (pid_t)f->pid;
    H.by_slot[f->n] = p;
    log_info("worker %d (pid %d) connected", p->slot, (int)p->pid);
}

static void do_sub(struct peer *p, const struct hub_frame *f)
{
    struct channel *ch;
    int err;

    if (f->n == 0) {
        if ((ch = channel_find(&H.ch, f->channel, f->channel_len)) != NULL)
            channel_set_subs(&H.ch, ch, (unsigned)p->slot, 0);
        return;
    }
    /* a refusal reaches the subscriber through its HIST, sent next */
    if ((ch = channel_get(&H.ch, f->channel, f->channel_len, &err)) != NULL)
        channel_set_subs(&H.ch, ch, (unsigned)p->slot, f->n);
}

static void fan_out(const struct channel *ch, const void *data, size_t len)
{
    struct hub_frame m = {.type = HUB_MSG,
                          .channel = ch->name,
                          .channel_len = ch->len,
                          .epoch = ch->epoch,
                          .offset = ch->offset,
                          .data = data,
                          .len = len};

    for (unsigned s = 0; s < H.nslots; s++)
        if (ch->subs != NULL && ch->subs[s] > 0 && H.by_slot[s] != NULL)
            send_frame(H.by_slot[s], &m);
}

static void do_pub(struct peer *p, const struct hub_frame *f)
{
    struct hub_frame ok = {.type = HUB_PUBOK, .id = f->id};
    struct channel *ch;
    int err = 0;

    if ((ch = channel_get(&H.ch, f->channel, f->channel_len, &err)) == NULL) {
        send_error(p, f->id, err);
        return;
    }
    channel_publish(&H.ch, ch, f->data, f->len, now_ms(), &err);
    if (err != 0) {
        send_error(p, f->id, err);
        return;
    }
    fan_out(ch, f->data, f->len);
    ok.epoch = ch->epoch;
    ok.offset = ch->offset;
    ok.n = ch->nsubs;
    send_frame(p, &ok);
    arm_expiry(H.cfg->pubsub.history_ttl_ms);
}

static void do_hist(struct peer *p, const struct hub_frame *f)
{
    struct hub_frame ok = {.type = HUB_HISTOK, .id = f->id};
    struct hub_frame item = {.type = HUB_HITEM, .id = f->id};
    struct channel *ch;
    struct recovery r;
    const struct hmsg *m;
    int err = 0;

    if ((ch = channel_get(&H.ch, f->channel, f->channel_len, &err)) == NULL) {
        send_error(p, f->id, err);
        return;
    }
    channel_since(ch, f->epoch, f->offset, &r);
    ok.recovered = (uint8_t)r.recovered;
    ok.epoch = ch->epoch;
    ok.offset = ch->offset;
    ok.n = r.count;
    send_frame(p, &ok);
    for (m = r.from; m != NULL; m = m->next) {
        item.offset = m->offset;
        item.data = m->data;
        item.len = m->len;
        send_frame(p, &item);
    }
    /* a channel made only to answer this (nobody subscribed, nothing
     * published) goes at the next expiry */
    arm_expiry(H.cfg->pubsub.history_ttl_ms);
}

static int handle(struct peer *p, const struct hub_frame *f)
{
    if (p->slot < 0 && f->type != HUB_HELLO)
        return -1;
    switch (f->type) {
    case HUB_HELLO:
        do_hello(p, f);
        return 0;
    case HUB_SUB:
        do_sub(p, f);
        return 0;
    case HUB_PUB:
        do_pub(p, f);
        return 0;
    case HUB_HIST:
        do_hist(p, f);
        return 0;
    default:
        return -1; /* a frame only the hub sends */
    }
}

/* --- connections -------------------------------------------------------- */

static void peer_close(struct peer *p)
{
    struct peer **pp;

    if (p->slot >= 0 && H.by_slot[p->slot] == p) {
        H.by_slot[p->slot] = NULL;
        channels_clear_slot(&H.ch, (unsigned)p->slot);
        log_info("worker %d (pid %d) disconnected", p->slot,
                 (int)p->pid);
    }
    for (pp = &H.peers; *pp != NULL; pp = &(*pp)->next)
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    if (p->dirty) /* still listed: unlink */
        for (pp = &H.dirty; *pp != NULL; pp = &(*pp)->next_dirty)
            if (*pp == p) {
                *pp = p->next_dirty;
                break;
            }
    event_free(p->ev);
    close(p->fd);
    buf_free(&p->in);
    buf_free(&p->out);
    free(p);
    arm_expiry(H.cfg->pubsub.history_ttl_ms);
}

/* Reads what is there and handles every whole frame in it. */
static int peer_read(struct peer *p)
{
    for (;;) {
        char *room = buf_reserve(&p->in, READ_CHUNK);
        ssize_t n;

        if (room == NULL)
            return -1;
        n = read(p->fd, room, READ_CHUNK);
        if (n == 0)
            return -1;
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
        }
        p->in.len += (size_t)n;
        for (;;) {
            struct hub_frame f;
            long used = hub_decode(p->in.p + p->in.off, buf_pending(&p->in),
                                   H.max_frame, &f);
            if (used == 0)
                break;
            if (used < 0 || handle(p, &f) < 0) {
                log_error("a malformed frame from worker %d; dropping "
                          "it",
                          p->slot);
                return -1;
            }
            buf_consume(&p->in, (size_t)used);
            if (p->closing)
                return 0;
        }
        if (buf_pending(&p->in) == 0)
            buf_release(&p->in);
        /* edge-triggered: on until EAGAIN, or an end that came with
         * the data would never be seen */
    }
}

static void on_peer(evutil_socket_t fd UNUSED, short what, void *arg)
{
    struct peer *p = arg;

    if ((what & EV_READ) && !p->closing && peer_read(p) < 0)
        p->closing = 1;
    mark_dirty(p); /* written (or closed) with the others below */
    flush_all();
}

static void on_accept(evutil_socket_t lfd, short what UNUSED,
                      void *arg UNUSED)
{
    for (int i = 0; i < 16; i++) {
        struct ucred cred = {0, 0, 0};
        socklen_t clen = sizeof(cred);
        struct peer *p;
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

        if (fd < 0)
            return;
        /* the name is random, but abstract sockets have no permissions:
         * only processes of squalld's user may talk to the hub */
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0 ||
            cred.uid != H.uid) {
            log_warn("a connection from uid %d refused",
                     (int)cred.uid);
            close(fd);
            continue;
        }
        if ((p = calloc(1, sizeof(*p))) == NULL) {
            close(fd);
            continue;
        }
        p->fd = fd;
        p->slot = -1;
        p->pid = cred.pid;
        p->ev = event_new(H.base, fd, EV_READ | EV_WRITE | EV_PERSIST | EV_ET,
                          on_peer, p);
        if (p->ev == NULL || event_add(p->ev, NULL) < 0) {
            if (p->ev != NULL)
                event_free(p->ev);
            close(fd);
            free(p);
            continue;
        }
        p->next = H.peers;
        H.peers = p;
    }
}

/* --- the process -------------------------------------------------------- */

static uint64_t random_epoch(void *arg UNUSED)
{
    uint64_t e = 0;

    while (e == 0)
        if (getrandom(&e, sizeof(e), 0) != (ssize_t)sizeof(e))
            fatal("hub: getrandom: %s", strerror(errno));
    return e;
}

static void on_stop(evutil_socket_t sig UNUSED, short what UNUSED,
                    void *arg UNUSED)
{
    event_base_loopbreak(H.base);
}

static void on_usr1(evutil_socket_t sig UNUSED, short what UNUSED,
                    void *arg UNUSED)
{
    log_reopen();
}

static int setup(void)
{
    H.accept_ev = event_new(H.base, hub_address.fd, EV_READ | EV_PERSIST,
                            on_accept, NULL);
    H.expire_ev = evtimer_new(H.base, on_expire, NULL);
    H.sig_term = evsignal_new(H.base, SIGTERM, on_stop, NULL);
    H.sig_int = evsignal_new(H.base, SIGINT, on_stop, NULL);
    H.sig_usr1 = evsignal_new(H.base, SIGUSR1, on_usr1, NULL);
    if (H.accept_ev == NULL || H.expire_ev == NULL || H.sig_term == NULL ||
        H.sig_int == NULL || H.sig_usr1 == NULL)
        return -1;
    if (event_add(H.accept_ev, NULL) < 0 || evsignal_add(H.sig_term, NULL) < 0 ||
        evsignal_add(H.sig_int, NULL) < 0 || evsignal_add(H.sig_usr1, NULL) < 0)
        return -1;
    return 0;
}

static void teardown(void)
{
    struct event **evs[] = {&H.accept_ev, &H.expire_ev, &H.sig_term,
                            &H.sig_int, &H.sig_usr1};

    while (H.peers != NULL)
        peer_close(H.peers);
    for (size_t i = 0; i < ARRAY_LEN(evs); i++)
        if (*evs[i] != NULL)
            event_free(*evs[i]);
    channels_free(&H.ch);
    free(H.by_slot);
    event_base_free(H.base);
}

int hub_main(const struct config *cfg)
{
    sigset_t none;

    log_set_role("hub");
    signal(SIGPIPE, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    memset(&H, 0, sizeof(H));
    H.cfg = cfg;
    H.uid = geteuid();
    H.nslots = (unsigned)cfg->workers;
    H.max_frame = HUB_FRAME_MAX(cfg->pubsub.max_message_size);
    if ((H.base = event_base_new()) == NULL ||
        (H.by_slot = calloc(H.nslots, sizeof(*H.by_slot))) == NULL ||
        channels_init(&H.ch, &cfg->pubsub, H.nslots, random_epoch, NULL) < 0 ||
        setup() < 0)
        fatal("hub: cannot set up");
    /* the master blocks these for its signalfd; libevent handles them now */
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    log_debug("hub serving");
    event_base_dispatch(H.base);
    teardown();
    close(hub_address.fd);
    return 0;
}
