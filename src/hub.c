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
#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
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
    struct buf in;
    struct outq q;      /* what goes to it, in order (outq.c) */
    int dirty;          /* on the flush list */
    int closing;        /* over hub_queue or broken: closed after this read */
    int paused;         /* its requests wait: its output is over hub_queue */
    size_t reply_bytes; /* of the output, at most this much is answers */
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

static uint64_t random_epoch(void *arg UNUSED)
{
    uint64_t e = 0;

    while (e == 0)
        if (getrandom(&e, sizeof(e), 0) != (ssize_t)sizeof(e))
            fatal("hub: getrandom: %s", strerror(errno));
    return e;
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
    hub_address.len =
        (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)sun, hub_address.len) < 0 ||
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
static void rsub_update_all(void);

static void flush_peer(struct peer *p)
{
    struct buf *out = &p->q.out;

    while (buf_pending(out) > 0) {
        ssize_t n = write(p->fd, out->p + out->off, buf_pending(out));
        if (n > 0) {
            buf_consume(out, (size_t)n);
            /* the oldest bytes went: count them off the answers, which
             * errs on the side of live messages */
            p->reply_bytes -=
                (size_t)n < p->reply_bytes ? (size_t)n : p->reply_bytes;
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
    buf_release(out); /* an idle worker holds no output buffer */
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

/* Queues f for p in b (the end of its queue, or a segment reserved for
 * an answer).
 *
 * The bound. Live messages (fan_out) may not take what waits for a worker
 * beyond pubsub.hub_queue, not counting answers: a worker over it is not
 * reading, and is cut off; it reconnects and resynchronises (the top of
 * this file). Answers are not cut off - a worker catching up asks for a
 * large one - but they are bounded all the same: a worker's requests are
 * read only while what waits for it is within hub_queue (peer_input), so
 * at most one answer (at most a channel's history) goes beyond. */
static void put_frame(struct peer *p, struct buf *b, const struct hub_frame *f,
                      int live)
{
    size_t before;

    if (p->closing)
        return;
    mark_dirty(p);
    if (live && outq_size(&p->q) - p->reply_bytes > H.cfg->pubsub.hub_queue) {
        log_warn("worker %d (pid %d) has %zu bytes unread, over "
                 "pubsub.hub_queue; disconnecting it (it resynchronises)",
                 p->slot, (int)p->pid, outq_size(&p->q));
        p->closing = 1;
        return;
    }
    before = b != NULL ? b->len : 0;
    if (b == NULL || hub_encode(b, f) < 0) {
        log_error("out of memory for worker %d's output; disconnecting "
                  "it",
                  p->slot);
        p->closing = 1;
        return;
    }
    if (!live)
        p->reply_bytes += b->len - before;
}

static void send_frame(struct peer *p, const struct hub_frame *f)
{
    if (!p->closing)
        put_frame(p, outq_tail(&p->q), f, 0);
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
    arm_expiry(channels_expire(&H.ch, (int64_t)conn_now_ms()));
}

static void do_hello(struct peer *p, const struct hub_frame *f)
{
    if (f->n >= H.nslots) {
        log_error("HELLO from slot %u of %u; dropping it", f->n, H.nslots);
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
        rsub_update_all();
    }
    p->slot = (int)f->n;
    p->pid = (pid_t)f->pid;
    H.by_slot[f->n] = p;
    log_info("worker %d (pid %d) connected", p->slot, (int)p->pid);
}

/* --- answers ------------------------------------------------------------- */

/* A HIST answered from the hub's own history of ch, into b. */
static void hist_local(struct peer *p, struct buf *b, uint64_t id,
                       const struct channel *ch, uint64_t epoch,
                       uint64_t offset)
{
    struct hub_frame ok = {.type = HUB_HISTOK, .id = id};
    struct hub_frame item = {.type = HUB_HITEM, .id = id};
    struct recovery r;
    const struct hmsg *m;

    channel_since(ch, epoch, offset, &r);
    ok.recovered = (uint8_t)r.recovered;
    ok.epoch = ch->epoch;
    ok.offset = ch->offset;
    ok.n = r.count;
    put_frame(p, b, &ok, 0);
    for (m = r.from; m != NULL; m = m->next) {
        item.offset = m->offset;
        item.data = m->data;
        item.len = m->len;
        put_frame(p, b, &item, 0);
    }
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
            if (!H.by_slot[s]->closing)
                put_frame(H.by_slot[s], outq_tail(&H.by_slot[s]->q), &m, 1);
}

/* A publish handled here alone: no Redis, or Redis out of reach. */
static void pub_local(struct peer *p, struct buf *b, uint64_t id,
                      struct channel *ch, const void *data, size_t len)
{
    struct hub_frame ok = {.type = HUB_PUBOK, .id = id};
    struct hub_frame e = {.type = HUB_ERR, .id = id};
    int err = 0;

    if (H.cfg->pubsub.redis != NULL && !ch->rlocal) {
        /* offsets given here are not Redis's: a new epoch, so that no
         * position of this stream is taken for one of Redis's */
        channel_reset(&H.ch, ch, random_epoch(NULL), 0);
        ch->rlocal = 1;
        ch->rsynced = 0;
    }
    channel_publish(&H.ch, ch, data, len, (int64_t)conn_now_ms(), &err);
    if (err != 0) {
        e.code = (uint16_t)err;
        put_frame(p, b, &e, 0);
        return;
    }
    fan_out(ch, data, len);
    ok.epoch = ch->epoch;
    ok.offset = ch->offset;
    ok.n = ch->nsubs;
    put_frame(p, b, &ok, 0);
    arm_expiry(H.cfg->pubsub.history_ttl_ms);
}

/* --- Redis (pubsub.redis) -------------------------------------------------
 *
 * With pubsub.redis, the squalld instances that name the same Redis share
 * their channels: Redis holds each channel's position and history, and
 * every hub passes on what Redis publishes. Two connections: one for the
 * script that publishes or reads history (one script, atomic), one
 * subscribed to the Redis channel of every channel with subscribers here.
 *
 * The channels of this hub are then a cache of Redis's: a message from
 * Redis is appended (channel_append) and sent to the workers in Redis's
 * order. A HIST the cache answers (it follows Redis since this hub's
 * subscription - rsynced - and covers the position) is answered at once;
 * any other waits for Redis, in a place reserved in the worker's queue
 * (outq.c), so that the worker gets its answers in order and each answer
 * covers the messages sent to it before: the history is read only once
 * this hub's subscription is confirmed, so whatever Redis publishes after
 * the read reaches this hub after it.
 *
 * Redis out of reach (not connected yet, lost, an answer late by more
 * than REDIS_TIMEOUT_MS): the hub goes on alone - a publish is handled
 * here, in a new local epoch per channel (pub_local); HISTs are answered
 * from the cache - and reconnects with back-off. Publishes in flight when
 * the link is lost get an error (503): whether Redis took them is not
 * known. HISTs in flight are answered from the cache. Back with Redis,
 * each channel follows Redis's stream again; a subscriber holding a
 * position of the outage is not covered, and is told so (a reload) by the
 * next message or its next HIST.
 */

#define REDIS_TIMEOUT_MS 2000
#define REDIS_BACKOFF_MIN_MS 100
#define REDIS_BACKOFF_MAX_MS 5000
#define REDIS_TICK_MS 100

enum { RS_DOWN, RS_CONNECTING, RS_UP };
enum { RSUB_NONE, RSUB_SUBSCRIBING, RSUB_SUBSCRIBED, RSUB_UNSUBSCRIBING };
enum { RQ_PUB, RQ_HIST };

/* A worker's request that waits for Redis. */
struct rreq {
    struct rreq *next, *prev; /* R.reqs, oldest first */
    struct peer *p;           /* NULL once the worker is gone */
    struct outq_seg *seg;     /* its answer's place in p's queue */
    int kind;
    int parked;  /* HIST: waits for the channel's subscription */
    int synced;  /* HIST: read after the subscription was confirmed */
    int evalsha; /* sent as EVALSHA (NOSCRIPT: again as EVAL) */
    uint64_t id, epoch, offset;
    int64_t since_ms;
    size_t clen, len;
    char *channel; /* clen bytes, NUL-terminated */
    char *data;    /* PUB: len bytes */
};

/* The script: KEYS meta, hist; ARGV mode ("pub" or "hist"), a new epoch
 * (16 hex) used only when the channel has none in Redis, ttl (ms),
 * history (messages kept), Redis channel, data. A channel whose keys
 * expired starts again in a new epoch. */
static const char redis_script[] =
    "local meta, hist = KEYS[1], KEYS[2]\n"
    "local ttl = tonumber(ARGV[3])\n"
    "local epoch = redis.call('HGET', meta, 'epoch')\n"
    "if not epoch then\n"
    "  epoch = ARGV[2]\n"
    "  redis.call('DEL', hist)\n"
    "  redis.call('HSET', meta, 'epoch', epoch)\n"
    "  redis.call('HSET', meta, 'offset', 0)\n"
    "  redis.call('PEXPIRE', meta, ttl)\n"
    "end\n"
    "if ARGV[1] == 'hist' then\n"
    "  local off = redis.call('HGET', meta, 'offset')\n"
    "  return {epoch, off, redis.call('LRANGE', hist, 0, -1)}\n"
    "end\n"
    "local off = redis.call('HINCRBY', meta, 'offset', 1)\n"
    "local msg = epoch .. ':' .. string.format('%d', off) .. '\\n' .. "
    "ARGV[6]\n"
    "local keep = tonumber(ARGV[4])\n"
    "if keep > 0 then\n"
    "  redis.call('RPUSH', hist, msg)\n"
    "  redis.call('LTRIM', hist, -keep, -1)\n"
    "  redis.call('PEXPIRE', hist, ttl)\n"
    "else\n"
    "  redis.call('DEL', hist)\n"
    "end\n"
    "redis.call('PEXPIRE', meta, ttl)\n"
    "redis.call('PUBLISH', ARGV[5], msg)\n"
    "return {epoch, string.format('%d', off)}\n";

static struct {
    struct redis_url url;
    int state;
    redisAsyncContext *cmd, *sub;
    int cmd_ready, sub_ready;
    int down_logged; /* the outage is in the log */
    int stopping;
    unsigned backoff_ms;
    int64_t since_ms; /* RS_CONNECTING: since; RS_DOWN: next try */
    char sha[41];
    char prefix[32]; /* of Redis channels: "squall:<db>:" */
    size_t prefix_len;
    struct rreq *reqs, *reqs_tail;
    struct event *tick, *flush;
} R;

static void redis_lost(const char *why);
static void rsub_update(struct channel *ch);

/* Output from Redis callbacks goes out when the loop comes round (a
 * callback may run inside the hub's own calls). */
static void schedule_flush(void)
{
    event_active(R.flush, EV_TIMEOUT, 0);
}

static void on_flush(evutil_socket_t fd UNUSED, short what UNUSED,
                     void *arg UNUSED)
{
    flush_all();
}

static void rq_link(struct rreq *rq)
{
    rq->since_ms = (int64_t)conn_now_ms();
    rq->next = NULL;
    rq->prev = R.reqs_tail;
    if (R.reqs_tail != NULL)
        R.reqs_tail->next = rq;
    else
        R.reqs = rq;
    R.reqs_tail = rq;
}

static void rq_unlink(struct rreq *rq)
{
    if (rq->prev != NULL)
        rq->prev->next = rq->next;
    else
        R.reqs = rq->next;
    if (rq->next != NULL)
        rq->next->prev = rq->prev;
    else
        R.reqs_tail = rq->prev;
}

static void rq_free(struct rreq *rq)
{
    rq_unlink(rq);
    free(rq->channel);
    free(rq->data);
    free(rq);
}

/* A request whose place is reserved in p's queue; NULL when out of
 * memory. */
static struct rreq *rq_new(struct peer *p, int kind, const struct hub_frame *f)
{
    struct rreq *rq = calloc(1, sizeof(*rq));

    if (rq == NULL)
        return NULL;
    rq->kind = kind;
    rq->p = p;
    rq->id = f->id;
    rq->epoch = f->epoch;
    rq->offset = f->offset;
    rq->clen = f->channel_len;
    rq->len = f->len;
    rq->channel = malloc(f->channel_len + 1);
    if (kind == RQ_PUB)
        rq->data = malloc(f->len > 0 ? f->len : 1);
    if (rq->channel == NULL || (kind == RQ_PUB && rq->data == NULL) ||
        (rq->seg = outq_reserve(&p->q)) == NULL) {
        free(rq->channel);
        free(rq->data);
        free(rq);
        return NULL;
    }
    memcpy(rq->channel, f->channel, f->channel_len);
    rq->channel[f->channel_len] = '\0';
    if (kind == RQ_PUB && f->len > 0)
        memcpy(rq->data, f->data, f->len);
    rq_link(rq);
    return rq;
}

/* rq's answer is in its segment: the worker gets it (and what waited
 * behind it); rq goes. */
static void rq_done(struct rreq *rq)
{
    if (rq->p != NULL) {
        outq_fill(&rq->p->q, rq->seg);
        mark_dirty(rq->p);
        if (outq_size(&rq->p->q) > H.cfg->pubsub.hub_queue)
            put_frame(rq->p, NULL, NULL, 0); /* says so, and cuts it off */
        schedule_flush();
    }
    rq_free(rq);
}

/* The HIST answered from the hub's own history (Redis is not there). */
static void rq_hist_local(struct rreq *rq)
{
    struct channel *ch;
    int err;

    if (rq->p == NULL) {
        rq_free(rq);
        return;
    }
    if ((ch = channel_get(&H.ch, rq->channel, rq->clen, &err)) == NULL) {
        struct hub_frame e = {
            .type = HUB_ERR, .id = rq->id, .code = (uint16_t)err};
        put_frame(rq->p, &rq->seg->b, &e, 0);
    } else {
        hist_local(rq->p, &rq->seg->b, rq->id, ch, rq->epoch, rq->offset);
        arm_expiry(H.cfg->pubsub.history_ttl_ms);
    }
    rq_done(rq);
}

static void rq_error(struct rreq *rq, int code)
{
    struct hub_frame e = {
        .type = HUB_ERR, .id = rq->id, .code = (uint16_t)code};

    if (rq->p != NULL)
        put_frame(rq->p, &rq->seg->b, &e, 0);
    rq_done(rq);
}

/* Whether reply is a string (bulk or status) or an integer, as a u64. */
static int reply_u64(const redisReply *r, uint64_t *v)
{
    if (r->type == REDIS_REPLY_INTEGER && r->integer >= 0) {
        *v = (uint64_t)r->integer;
        return 0;
    }
    if (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS)
        return parse_u64(r->str, (size_t)r->len, v);
    return -1;
}

static int reply_epoch(const redisReply *r, uint64_t *v)
{
    if (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_STATUS)
        return -1;
    return parse_epoch(r->str, (size_t)r->len, v);
}

static void on_script_reply(redisAsyncContext *ac, void *reply, void *priv);

/* Sends rq's script; -1 when the connection cannot take it. */
static int rq_send(struct rreq *rq)
{
    char epoch[17], ttl[24], keep[24];
    const char *argv[12];
    size_t argl[12];
    char meta[HUB_CHANNEL_MAX + 32], hist[HUB_CHANNEL_MAX + 32];
    char chan[HUB_CHANNEL_MAX + 40];
    int n = 0, ml, hl, cl;

    if (R.state != RS_UP || R.cmd == NULL)
        return -1;
    snprintf(epoch, sizeof(epoch), "%016" PRIx64, random_epoch(NULL));
    snprintf(ttl, sizeof(ttl), "%u", H.cfg->pubsub.history_ttl_ms);
    snprintf(keep, sizeof(keep), "%u", H.cfg->pubsub.history);
    ml = snprintf(meta, sizeof(meta), "squall:{%s}:meta", rq->channel);
    hl = snprintf(hist, sizeof(hist), "squall:{%s}:hist", rq->channel);
    cl = snprintf(chan, sizeof(chan), "%s%s", R.prefix, rq->channel);
    rq->evalsha = R.sha[0] != '\0';
#define ARG(s, l) (argv[n] = (s), argl[n] = (size_t)(l), n++)
    if (rq->evalsha) {
        ARG("EVALSHA", 7);
        ARG(R.sha, 40);
    } else {
        ARG("EVAL", 4);
        ARG(redis_script, sizeof(redis_script) - 1);
    }
    ARG("2", 1);
    ARG(meta, ml);
    ARG(hist, hl);
    ARG(rq->kind == RQ_PUB ? "pub" : "hist", rq->kind == RQ_PUB ? 3 : 4);
    ARG(epoch, 16);
    ARG(ttl, strlen(ttl));
    ARG(keep, strlen(keep));
    ARG(chan, cl);
    ARG(rq->kind == RQ_PUB ? rq->data : "", rq->kind == RQ_PUB ? rq->len : 0);
#undef ARG
    if (redisAsyncCommandArgv(R.cmd, on_script_reply, rq, n, argv, argl) !=
        REDIS_OK)
        return -1;
    return 0;
}

/* A HIST answered from what Redis holds: the channel at (epoch, last),
 * its kept messages items[0, n). */
static void hist_from_redis(struct rreq *rq, uint64_t epoch, uint64_t last,
                            redisReply **items, size_t n)
{
    struct hub_frame ok = {
        .type = HUB_HISTOK, .id = rq->id, .epoch = epoch, .offset = last};
    struct hub_frame item = {.type = HUB_HITEM, .id = rq->id};
    uint64_t e, o, first = 0;
    const char *data;
    size_t len, from = 0;
    int whole = n > 0;

    /* the kept messages: consecutive, up to last */
    for (size_t i = 0; i < n && whole; i++) {
        if (items[i]->type != REDIS_REPLY_STRING ||
            redis_payload_decode(items[i]->str, (size_t)items[i]->len, &e, &o,
                                 &data, &len) < 0 ||
            e != epoch || (i > 0 && o != first + i) ||
            len > H.cfg->pubsub.max_message_size)
            whole = 0;
        else if (i == 0)
            first = o;
    }
    if (whole && first + n - 1 != last)
        whole = 0;
    if (rq->epoch == 0 || (rq->epoch == epoch && rq->offset == last)) {
        ok.recovered = 1;
    } else if (rq->epoch == epoch && rq->offset < last && whole &&
               first <= rq->offset + 1) {
        ok.recovered = 1;
        from = (size_t)(rq->offset + 1 - first);
        ok.n = (uint32_t)(last - rq->offset);
    }
    put_frame(rq->p, &rq->seg->b, &ok, 0);
    for (size_t i = from; ok.n > 0 && i < n; i++) {
        redis_payload_decode(items[i]->str, (size_t)items[i]->len, &e, &o,
                             &data, &len);
        item.offset = o;
        item.data = data;
        item.len = len;
        put_frame(rq->p, &rq->seg->b, &item, 0);
    }

    /* read after this hub's subscription: the cache follows Redis from
     * here on (a message it has beyond this read came after it) */
    struct channel *ch = channel_find(&H.ch, rq->channel, rq->clen);
    if (ch == NULL || !rq->synced || ch->rstate != RSUB_SUBSCRIBED ||
        ch->rsynced)
        return;
    ch->rsynced = 1;
    ch->rlocal = 0;
    if (ch->epoch == epoch && ch->offset >= last)
        return;
    channel_reset(&H.ch, ch, epoch, last);
    if (whole) {
        int err;
        channel_reset(&H.ch, ch, epoch, first - 1);
        for (size_t i = 0; i < n; i++) {
            redis_payload_decode(items[i]->str, (size_t)items[i]->len, &e, &o,
                                 &data, &len);
            channel_append(&H.ch, ch, e, o, data, len, (int64_t)conn_now_ms(),
                           &err);
        }
        arm_expiry(H.cfg->pubsub.history_ttl_ms);
    }
}

static void on_script_reply(redisAsyncContext *ac UNUSED, void *reply,
                            void *priv)
{
    redisReply *r = reply;
    struct rreq *rq = priv;
    uint64_t epoch, offset;

    if (R.stopping || rq->p == NULL) {
        rq_free(rq);
        return;
    }
    if (r == NULL) { /* the connection is gone */
        if (rq->kind == RQ_PUB)
            rq_error(rq, HUB_EREDIS);
        else
            rq_hist_local(rq);
        return;
    }
    if (r->type == REDIS_REPLY_ERROR && rq->evalsha &&
        strncmp(r->str, "NOSCRIPT", 8) == 0) {
        R.sha[0] = '\0'; /* flushed: EVAL from now on */
        if (rq_send(rq) == 0)
            return;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 2 ||
        reply_epoch(r->element[0], &epoch) < 0 ||
        reply_u64(r->element[1], &offset) < 0 ||
        (rq->kind == RQ_HIST &&
         (r->elements < 3 || r->element[2]->type != REDIS_REPLY_ARRAY))) {
        log_error("redis: unexpected answer to the script: %s",
                  r->type == REDIS_REPLY_ERROR ? r->str : "(not its form)");
        if (rq->kind == RQ_PUB)
            rq_error(rq, HUB_EREDIS);
        else
            rq_hist_local(rq);
        return;
    }
    if (rq->kind == RQ_PUB) {
        struct channel *ch = channel_find(&H.ch, rq->channel, rq->clen);
        struct hub_frame ok = {.type = HUB_PUBOK,
                               .id = rq->id,
                               .epoch = epoch,
                               .offset = offset,
                               .n = ch != NULL ? ch->nsubs : 0};
        put_frame(rq->p, &rq->seg->b, &ok, 0);
    } else {
        hist_from_redis(rq, epoch, offset, r->element[2]->element,
                        r->element[2]->elements);
    }
    rq_done(rq);
}

/* The subscription of ch is confirmed: the HISTs that waited for it read
 * Redis now. */
static void unpark(const struct channel *ch)
{
    struct rreq *rq, *next;

    for (rq = R.reqs; rq != NULL; rq = next) {
        next = rq->next;
        if (!rq->parked || rq->clen != ch->len ||
            memcmp(rq->channel, ch->name, ch->len) != 0)
            continue;
        rq->parked = 0;
        rq->synced = 1;
        /* its deadline stays: the worker waits 5 s at most for all */
        if (rq_send(rq) < 0)
            rq_hist_local(rq);
    }
}

static void on_sub_message(const char *name, size_t nlen, const char *payload,
                           size_t plen)
{
    struct channel *ch = channel_find(&H.ch, name, nlen);
    uint64_t epoch, offset;
    const char *data;
    size_t len;
    int err;

    if (ch == NULL)
        return;
    if (redis_payload_decode(payload, plen, &epoch, &offset, &data, &len) < 0) {
        log_warn("redis: a message on %s%.*s not in squall's form; "
                 "ignored",
                 R.prefix, (int)nlen, name);
        return;
    }
    ch->rlocal = 0;
    switch (channel_append(&H.ch, ch, epoch, offset, data, len,
                           (int64_t)conn_now_ms(), &err)) {
    case 1:
    case 2:
        fan_out(ch, data, len);
        arm_expiry(H.cfg->pubsub.history_ttl_ms);
        schedule_flush();
        break;
    case -1:
        /* too large for this host (pubsub.max_message_size): not passed
         * on; the next message shows the gap to the subscribers */
        log_warn("redis: a message of %zu bytes on %s dropped (over "
                 "pubsub.max_message_size)",
                 len, ch->name);
        break;
    }
}

static void on_sub_reply(redisAsyncContext *ac UNUSED, void *reply,
                         void *priv UNUSED)
{
    redisReply *r = reply;
    const redisReply *kind, *chan;
    struct channel *ch;
    const char *name;
    size_t nlen;

    if (r == NULL || R.stopping || r->type != REDIS_REPLY_ARRAY ||
        r->elements < 3)
        return;
    kind = r->element[0];
    chan = r->element[1];
    if (kind->type != REDIS_REPLY_STRING || chan->type != REDIS_REPLY_STRING ||
        (size_t)chan->len <= R.prefix_len ||
        memcmp(chan->str, R.prefix, R.prefix_len) != 0)
        return;
    name = chan->str + R.prefix_len;
    nlen = (size_t)chan->len - R.prefix_len;
    if (strcmp(kind->str, "message") == 0) {
        if (r->element[2]->type == REDIS_REPLY_STRING)
            on_sub_message(name, nlen, r->element[2]->str,
                           (size_t)r->element[2]->len);
        return;
    }
    if ((ch = channel_find(&H.ch, name, nlen)) == NULL)
        return;
    if (strcmp(kind->str, "subscribe") == 0 && ch->rstate == RSUB_SUBSCRIBING) {
        ch->rstate = RSUB_SUBSCRIBED;
        unpark(ch);
        rsub_update(ch); /* nobody left meanwhile? */
        schedule_flush();
    } else if (strcmp(kind->str, "unsubscribe") == 0 &&
               ch->rstate == RSUB_UNSUBSCRIBING) {
        ch->rstate = RSUB_NONE;
        channel_set_pinned(&H.ch, ch, 0);
        rsub_update(ch); /* someone came meanwhile? */
    }
}

/* Subscribes to ch in Redis when it has subscribers here, unsubscribes
 * when it has none; one change at a time (a subscription is confirmed,
 * or ended, before the next). */
static void rsub_update(struct channel *ch)
{
    if (R.state != RS_UP || R.sub == NULL)
        return;
    if (ch->nsubs > 0 && ch->rstate == RSUB_NONE) {
        if (redisAsyncCommand(R.sub, on_sub_reply, NULL, "SUBSCRIBE %s%b",
                              R.prefix, ch->name, ch->len) != REDIS_OK) {
            redis_lost("cannot subscribe");
            return;
        }
        ch->rstate = RSUB_SUBSCRIBING;
        ch->rsynced = 0;
        channel_set_pinned(&H.ch, ch, 1);
    } else if (ch->nsubs == 0 && ch->rstate == RSUB_SUBSCRIBED) {
        if (redisAsyncCommand(R.sub, NULL, NULL, "UNSUBSCRIBE %s%b", R.prefix,
                              ch->name, ch->len) != REDIS_OK) {
            redis_lost("cannot unsubscribe");
            return;
        }
        ch->rstate = RSUB_UNSUBSCRIBING;
        ch->rsynced = 0; /* no longer follows Redis */
    }
}

static void rsub_update_all(void)
{
    for (size_t b = 0; b < H.ch.nbuckets; b++)
        for (struct channel *ch = H.ch.buckets[b]; ch != NULL; ch = ch->hnext) {
            if (R.state != RS_UP)
                return; /* lost on the way: nothing to keep up */
            rsub_update(ch);
        }
}

static void redis_up(void)
{
    R.state = RS_UP;
    R.backoff_ms = 0;
    R.down_logged = 0;
    log_info("redis: connected to %s", H.cfg->pubsub.redis);
    /* every channel follows Redis again, from its next message or HIST */
    for (size_t b = 0; b < H.ch.nbuckets; b++)
        for (struct channel *ch = H.ch.buckets[b]; ch != NULL; ch = ch->hnext) {
            ch->rstate = RSUB_NONE;
            ch->rsynced = 0;
            ch->rlocal = 0;
        }
    rsub_update_all();
}

static void on_script_loaded(redisAsyncContext *ac UNUSED, void *reply,
                             void *priv UNUSED)
{
    redisReply *r = reply;

    if (r == NULL || R.stopping)
        return;
    if (r->type != REDIS_REPLY_STRING || r->len != 40) {
        redis_lost(r->type == REDIS_REPLY_ERROR ? r->str
                                                : "SCRIPT LOAD failed");
        return;
    }
    memcpy(R.sha, r->str, 40);
    R.sha[40] = '\0';
    R.cmd_ready = 1;
    if (R.sub_ready && R.state == RS_CONNECTING)
        redis_up();
}

static void on_select(redisAsyncContext *ac UNUSED, void *reply,
                      void *priv UNUSED)
{
    redisReply *r = reply;

    if (r != NULL && !R.stopping && r->type == REDIS_REPLY_ERROR)
        redis_lost(r->str);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    if (R.stopping || (ac != R.cmd && ac != R.sub))
        return;
    if (status != REDIS_OK) {
        /* hiredis frees ac after this */
        if (ac == R.cmd)
            R.cmd = NULL;
        else
            R.sub = NULL;
        redis_lost(ac->errstr[0] ? ac->errstr : "cannot connect");
        return;
    }
    if (ac == R.sub) {
        R.sub_ready = 1;
        if (R.cmd_ready && R.state == RS_CONNECTING)
            redis_up();
    }
}

static void on_disconnect(const redisAsyncContext *ac, int status UNUSED)
{
    if (R.stopping || (ac != R.cmd && ac != R.sub))
        return;
    /* hiredis frees ac after this */
    if (ac == R.cmd)
        R.cmd = NULL;
    else
        R.sub = NULL;
    redis_lost(ac->errstr[0] ? ac->errstr : "connection closed");
}

static redisAsyncContext *redis_open(void)
{
    redisAsyncContext *ac = redisAsyncConnect(R.url.host, R.url.port);

    if (ac == NULL)
        return NULL;
    if (ac->err != 0 || redisLibeventAttach(ac, H.base) != REDIS_OK) {
        log_debug("redis: %s", ac->errstr);
        redisAsyncFree(ac);
        return NULL;
    }
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    return ac;
}

static void redis_connect(void)
{
    R.state = RS_CONNECTING;
    R.since_ms = (int64_t)conn_now_ms();
    R.cmd_ready = R.sub_ready = 0;
    R.sha[0] = '\0';
    if ((R.cmd = redis_open()) == NULL || (R.sub = redis_open()) == NULL) {
        redis_lost("cannot connect");
        return;
    }
    if (R.url.db != 0 && redisAsyncCommand(R.cmd, on_select, NULL, "SELECT %ld",
                                           R.url.db) != REDIS_OK) {
        redis_lost("cannot select the database");
        return;
    }
    if (redisAsyncCommand(R.cmd, on_script_loaded, NULL, "SCRIPT LOAD %b",
                          redis_script, sizeof(redis_script) - 1) != REDIS_OK)
        redis_lost("cannot load the script");
}

/* Both connections go (their requests are answered as above), and the
 * hub goes on alone until it reconnects. */
static void redis_lost(const char *why)
{
    redisAsyncContext *cmd = R.cmd, *sub = R.sub;
    struct rreq *rq, *next;
    int was = R.state;

    if (R.state == RS_DOWN)
        return;
    R.state = RS_DOWN;
    R.cmd = R.sub = NULL;
    R.cmd_ready = R.sub_ready = 0;
    if (was == RS_UP)
        log_warn("redis: lost %s (%s); publishing on this host alone "
                 "until it is back",
                 H.cfg->pubsub.redis, why);
    else if (!R.down_logged)
        log_warn("redis: cannot reach %s (%s); publishing on this host "
                 "alone, retrying",
                 H.cfg->pubsub.redis, why);
    R.down_logged = 1;
    for (size_t b = 0; b < H.ch.nbuckets; b++)
        for (struct channel *ch = H.ch.buckets[b]; ch != NULL; ch = ch->hnext) {
            ch->rstate = RSUB_NONE;
            ch->rsynced = 0;
            if (ch->pinned)
                channel_set_pinned(&H.ch, ch, 0);
        }
    /* the waiting HISTs are answered from here; those sent are answered
     * by their callbacks, called as the connections are freed */
    for (rq = R.reqs; rq != NULL; rq = next) {
        next = rq->next;
        if (rq->parked)
            rq_hist_local(rq);
    }
    if (cmd != NULL)
        redisAsyncFree(cmd);
    if (sub != NULL)
        redisAsyncFree(sub);
    R.backoff_ms = R.backoff_ms == 0 ? REDIS_BACKOFF_MIN_MS : R.backoff_ms * 2;
    if (R.backoff_ms > REDIS_BACKOFF_MAX_MS)
        R.backoff_ms = REDIS_BACKOFF_MAX_MS;
    R.since_ms = (int64_t)conn_now_ms() + R.backoff_ms;
    schedule_flush();
}

/* Reconnection, and the deadlines of the connection and of answers. */
static void on_tick(evutil_socket_t fd UNUSED, short what UNUSED,
                    void *arg UNUSED)
{
    int64_t now = (int64_t)conn_now_ms();

    if (R.state == RS_DOWN && now >= R.since_ms)
        redis_connect();
    else if (R.state == RS_CONNECTING && now - R.since_ms >= REDIS_TIMEOUT_MS)
        redis_lost("no connection within 2 s");
    else if (R.state == RS_UP && R.reqs != NULL &&
             now - R.reqs->since_ms >= REDIS_TIMEOUT_MS)
        redis_lost("no answer within 2 s");
}

static int redis_setup(void)
{
    struct timeval tv = {0, REDIS_TICK_MS * 1000};

    if (H.cfg->pubsub.redis == NULL)
        return 0;
    if (redis_url_parse(H.cfg->pubsub.redis, &R.url) < 0) {
        log_error("redis: cannot parse %s", H.cfg->pubsub.redis);
        return -1;
    }
    R.prefix_len =
        (size_t)snprintf(R.prefix, sizeof(R.prefix), "squall:%ld:", R.url.db);
    R.tick = event_new(H.base, -1, EV_PERSIST, on_tick, NULL);
    R.flush = event_new(H.base, -1, 0, on_flush, NULL);
    if (R.tick == NULL || R.flush == NULL || event_add(R.tick, &tv) < 0)
        return -1;
    redis_connect();
    return 0;
}

static void redis_teardown(void)
{
    if (H.cfg->pubsub.redis == NULL)
        return;
    R.stopping = 1;
    if (R.cmd != NULL)
        redisAsyncFree(R.cmd);
    if (R.sub != NULL)
        redisAsyncFree(R.sub);
    R.cmd = R.sub = NULL;
    while (R.reqs != NULL)
        rq_free(R.reqs);
    if (R.tick != NULL)
        event_free(R.tick);
    if (R.flush != NULL)
        event_free(R.flush);
}

/* The worker is gone: its requests are answered to nobody. */
static void redis_peer_gone(const struct peer *p)
{
    for (struct rreq *rq = R.reqs; rq != NULL; rq = rq->next)
        if (rq->p == p)
            rq->p = NULL;
}

/* --- requests from workers ---------------------------------------------- */

static void do_sub(struct peer *p, const struct hub_frame *f)
{
    struct channel *ch;
    int err;

    if (f->n == 0) {
        if ((ch = channel_find(&H.ch, f->channel, f->channel_len)) != NULL) {
            channel_set_subs(&H.ch, ch, (unsigned)p->slot, 0);
            rsub_update(ch);
        }
        return;
    }
    /* a refusal reaches the subscriber through its HIST, sent next */
    if ((ch = channel_get(&H.ch, f->channel, f->channel_len, &err)) != NULL) {
        channel_set_subs(&H.ch, ch, (unsigned)p->slot, f->n);
        rsub_update(ch);
    }
}

static void do_pub(struct peer *p, const struct hub_frame *f)
{
    struct channel *ch;
    struct rreq *rq;
    int err = 0;

    if ((ch = channel_get(&H.ch, f->channel, f->channel_len, &err)) == NULL) {
        send_error(p, f->id, err);
        return;
    }
    if (f->len > H.cfg->pubsub.max_message_size) {
        send_error(p, f->id, HUB_ETOOBIG);
        return;
    }
    if (R.state != RS_UP) {
        pub_local(p, outq_tail(&p->q), f->id, ch, f->data, f->len);
        return;
    }
    if ((rq = rq_new(p, RQ_PUB, f)) == NULL) {
        send_error(p, f->id, HUB_ENOMEM);
        return;
    }
    if (rq_send(rq) < 0) {
        redis_lost("cannot send");
        rq_error(rq, HUB_EREDIS);
    }
}

static void do_hist(struct peer *p, const struct hub_frame *f)
{
    struct channel *ch;
    struct recovery r = {0, NULL, 0};
    struct rreq *rq;
    int err = 0;

    if ((ch = channel_get(&H.ch, f->channel, f->channel_len, &err)) == NULL) {
        send_error(p, f->id, err);
        return;
    }
    /* a channel made only to answer this (nobody subscribed, nothing
     * published) goes at the next expiry */
    arm_expiry(H.cfg->pubsub.history_ttl_ms);
    if (R.state == RS_UP && ch->rsynced)
        channel_since(ch, f->epoch, f->offset, &r);
    if (R.state != RS_UP || (ch->rsynced && r.recovered)) {
        hist_local(p, outq_tail(&p->q), f->id, ch, f->epoch, f->offset);
        return;
    }
    if ((rq = rq_new(p, RQ_HIST, f)) == NULL) {
        send_error(p, f->id, HUB_ENOMEM);
        return;
    }
    if (ch->rstate == RSUB_SUBSCRIBING ||
        (ch->rstate == RSUB_UNSUBSCRIBING && ch->nsubs > 0)) {
        /* read once this hub's subscription is there (it is asked for
         * again once the one ending is over) */
        rq->parked = 1;
        return;
    }
    rq->synced = ch->rstate == RSUB_SUBSCRIBED;
    if (rq_send(rq) < 0) {
        redis_lost("cannot send");
        if (rq->p != NULL) /* not answered by redis_lost */
            rq_hist_local(rq);
    }
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
        rsub_update_all();
        log_info("worker %d (pid %d) disconnected", p->slot, (int)p->pid);
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
    redis_peer_gone(p);
    event_free(p->ev);
    close(p->fd);
    buf_free(&p->in);
    outq_free(&p->q);
    free(p);
    arm_expiry(H.cfg->pubsub.history_ttl_ms);
}

/* Handles the whole frames p sent; stops (p->paused) while what waits
 * for p is over hub_queue: its requests wait in the kernel's buffer and
 * ours, which holds at most one read, until its output drains. */
static int peer_input(struct peer *p)
{
    for (;;) {
        struct hub_frame f;
        long used;

        if (outq_size(&p->q) > H.cfg->pubsub.hub_queue) {
            p->paused = 1;
            return 0;
        }
        used = hub_decode(p->in.p + p->in.off, buf_pending(&p->in), H.max_frame,
                          &f);
        if (used == 0)
            break;
        if (used < 0 || handle(p, &f) < 0) {
            log_error("a malformed frame from worker %d; dropping it", p->slot);
            return -1;
        }
        buf_consume(&p->in, (size_t)used);
        if (p->closing)
            return 0;
    }
    p->paused = 0;
    if (buf_pending(&p->in) == 0)
        buf_release(&p->in);
    return 0;
}

/* Reads what is there and handles every whole frame in it. */
static int peer_read(struct peer *p)
{
    for (;;) {
        char *room;
        ssize_t n;

        if (peer_input(p) < 0)
            return -1;
        if (p->paused || p->closing)
            return 0; /* resumed by on_peer once the output drains */
        if ((room = buf_reserve(&p->in, READ_CHUNK)) == NULL)
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
        /* edge-triggered: on until EAGAIN, or an end that came with
         * the data would never be seen */
    }
}

static void resume_paused(void)
{
    int again = 1;

    while (again) {
        again = 0;
        for (struct peer *p = H.peers; p != NULL; p = p->next)
            if (p->paused && !p->closing &&
                outq_size(&p->q) <= H.cfg->pubsub.hub_queue) {
                if (peer_read(p) < 0)
                    p->closing = 1;
                mark_dirty(p);
                again = 1;
                break; /* the list may change in flush_all */
            }
        if (again)
            flush_all();
    }
}

static void on_peer(evutil_socket_t fd UNUSED, short what, void *arg)
{
    struct peer *p = arg;

    if ((what & EV_READ) && !p->closing && peer_read(p) < 0)
        p->closing = 1;
    mark_dirty(p); /* written (or closed) with the others below */
    flush_all();
    /* p may be gone: resume every paused worker whose output drained */
    resume_paused();
}

static void on_accept(evutil_socket_t lfd, short what UNUSED, void *arg UNUSED)
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
            log_warn("a connection from uid %d refused", (int)cred.uid);
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
    if (event_add(H.accept_ev, NULL) < 0 ||
        evsignal_add(H.sig_term, NULL) < 0 ||
        evsignal_add(H.sig_int, NULL) < 0 || evsignal_add(H.sig_usr1, NULL) < 0)
        return -1;
    return 0;
}

static void teardown(void)
{
    struct event **evs[] = {&H.accept_ev, &H.expire_ev, &H.sig_term, &H.sig_int,
                            &H.sig_usr1};

    redis_teardown();
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
        setup() < 0 || redis_setup() < 0)
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
