/*
 * pubsub.c - the worker's side of pub/sub: its connection to the hub, its
 * subscribers, and the module API (sq_subscribe, sq_publish, ...).
 *
 * A worker subscribes to a channel at the hub once, however many of its
 * clients listen to it (struct lchan counts them), and hands each message
 * the hub sends to every local subscriber. Each subscriber remembers the
 * position (epoch, offset) of the last message it was given, and is given
 * only the one that follows it: whatever path a message takes (live, or
 * from history after a reconnect), nothing is delivered twice and a gap
 * is never papered over - it becomes one SQ_MSG_RELOAD.
 *
 * A new subscriber first asks the hub what came after its position
 * (HIST); until the answer it ignores live messages, which the answer
 * covers: the hub handles one worker's frames in order, so a message sent
 * live before the answer is also in it, and one sent after it comes after
 * it. Requests are answered in the order they were sent, so the pending
 * ones are a FIFO.
 *
 * The connection: a unix stream socket to the hub's listening socket,
 * which the master holds, so connecting succeeds even while the hub is
 * being respawned (the connection waits in its backlog). When the
 * connection ends, publishes waiting for an answer fail (503) and the
 * worker connects again at once: it says HELLO, subscribes again to each
 * channel and asks what each missed since the last position it saw
 * (resynchronising); a new hub has new epochs, so its subscribers get a
 * reload. A hub that answers nothing for HUB_ANSWER_MS is treated as gone.
 */
#include "internal.h"

#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define HUB_ANSWER_MS 5000
#define RECONNECT_MAX_MS 1000
#define READ_CHUNK 65536
#define LCHAN_BUCKETS_MIN 64

/* A subscriber. */
struct sq_sub {
    struct lchan *lc;
    struct sq_sub *next, **prev;   /* in lc->subs */
    struct sq_sub *onext, **oprev; /* in its owner's list */
    sq_msg_fn fn;
    void *arg;
    struct ps_pending *hist; /* its HIST, until answered */
    uint64_t epoch, offset;  /* last delivered; or where it starts */
    unsigned live : 1;       /* its HIST was answered */
    unsigned dead : 1;       /* unsubscribed during a delivery */
};

/* A channel this worker has subscribers to. */
struct lchan {
    struct lchan *hnext;
    struct sq_sub *subs;
    uint32_t nsubs;
    unsigned busy;          /* deliveries in progress */
    unsigned ndead;         /* subscribers to sweep after them */
    uint64_t epoch, offset; /* the last position the hub sent */
    size_t len;
    char name[];
};

enum pend_kind { P_PUB, P_HIST_SUB, P_HIST_RESYNC };

/* A request sent to the hub, waiting for its answer. */
struct ps_pending {
    struct ps_pending *next; /* FIFO */
    enum pend_kind kind;
    uint64_t id;
    int64_t sent_ms;
    /* P_PUB */
    sq_req *r; /* NULL when fire-and-forget, or cancelled */
    sq_publish_fn done;
    void *arg;
    struct ps_pending *rnext, **rprev; /* in r->pubs */
    /* P_HIST_SUB: the subscriber (NULL once cancelled); P_HIST_RESYNC:
     * the channel's name (the lchan may be gone by the answer) */
    struct sq_sub *sub;
    char *channel;
};

static struct {
    struct event_base *base;
    const struct config *cfg;
    int slot;
    int fd;
    struct event *ev, *timer;
    struct buf in, out;
    int connected;
    unsigned backoff_ms;
    uint64_t next_id;
    struct ps_pending *head, *tail;
    /* the HISTOK whose HITEMs are arriving, and the channel it holds */
    struct ps_pending *hist;
    struct lchan *hist_lc;
    uint32_t hist_left;
    uint8_t hist_recovered;
    uint64_t hist_epoch, hist_offset;
    struct lchan **buckets;
    size_t nbuckets, nchans;
    size_t max_frame;
} P = {.fd = -1};

/* --- local channels ----------------------------------------------------- */

static struct lchan *lchan_find(const char *name, size_t len)
{
    struct lchan *lc;

    if (P.nbuckets == 0)
        return NULL;
    for (lc = P.buckets[channel_hash(name, len) & (P.nbuckets - 1)]; lc != NULL;
         lc = lc->hnext)
        if (lc->len == len && memcmp(lc->name, name, len) == 0)
            return lc;
    return NULL;
}

static int lchan_grow(void)
{
    size_t n = P.nbuckets ? P.nbuckets * 2 : LCHAN_BUCKETS_MIN;
    struct lchan **b = calloc(n, sizeof(*b));

    if (b == NULL)
        return -1;
    for (size_t i = 0; i < P.nbuckets; i++)
        while (P.buckets[i] != NULL) {
            struct lchan *lc = P.buckets[i];
            P.buckets[i] = lc->hnext;
            lc->hnext = b[channel_hash(lc->name, lc->len) & (n - 1)];
            b[channel_hash(lc->name, lc->len) & (n - 1)] = lc;
        }
    free(P.buckets);
    P.buckets = b;
    P.nbuckets = n;
    return 0;
}

static struct lchan *lchan_new(const char *name, size_t len)
{
    struct lchan *lc;
    size_t b;

    if (P.nchans >= P.nbuckets && lchan_grow() < 0)
        return NULL;
    if ((lc = calloc(1, sizeof(*lc) + len + 1)) == NULL)
        return NULL;
    memcpy(lc->name, name, len);
    lc->len = len;
    b = channel_hash(name, len) & (P.nbuckets - 1);
    lc->hnext = P.buckets[b];
    P.buckets[b] = lc;
    P.nchans++;
    return lc;
}

static void lchan_free(struct lchan *lc)
{
    struct lchan **pp =
        &P.buckets[channel_hash(lc->name, lc->len) & (P.nbuckets - 1)];

    while (*pp != lc)
        pp = &(*pp)->hnext;
    *pp = lc->hnext;
    P.nchans--;
    free(lc);
}

/* --- output to the hub -------------------------------------------------- */

static void disconnect(const char *why);

static void flush_out(void)
{
    while (P.connected && buf_pending(&P.out) > 0) {
        ssize_t n = write(P.fd, P.out.p + P.out.off, buf_pending(&P.out));
        if (n > 0) {
            buf_consume(&P.out, (size_t)n);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return; /* EV_WRITE (edge-triggered) brings us back */
        disconnect(n < 0 ? strerror(errno) : "closed");
        return;
    }
    if (buf_pending(&P.out) == 0)
        buf_release(&P.out);
}

/* Queues a frame; 0, or -1 when the hub is not there or does not keep up
 * (pubsub.hub_queue waiting) or out of memory. */
static int send_frame(const struct hub_frame *f)
{
    if (!P.connected)
        return -1;
    if (buf_pending(&P.out) > P.cfg->pubsub.hub_queue) {
        log_error("pubsub: %zu bytes wait for the hub; refusing more",
                  buf_pending(&P.out));
        return -1;
    }
    if (hub_encode(&P.out, f) < 0)
        return -1;
    /* written when the loop comes round: frames queued meanwhile go in the
     * same write */
    event_active(P.ev, EV_WRITE, 0);
    return 0;
}

static struct ps_pending *pend(enum pend_kind kind)
{
    struct ps_pending *p = calloc(1, sizeof(*p));

    if (p == NULL)
        return NULL;
    p->kind = kind;
    p->id = ++P.next_id;
    p->sent_ms = (int64_t)conn_now_ms();
    if (P.tail != NULL)
        P.tail->next = p;
    else
        P.head = p;
    P.tail = p;
    if (!evtimer_pending(P.timer, NULL)) {
        struct timeval tv = {HUB_ANSWER_MS / 1000, 0};
        evtimer_add(P.timer, &tv);
    }
    return p;
}

/* Undoes pend() for a frame that could not be queued (it is the tail). */
static void unpend(struct ps_pending *p)
{
    struct ps_pending **pp = &P.head;

    while (*pp != p)
        pp = &(*pp)->next;
    *pp = NULL;
    P.tail = NULL;
    for (struct ps_pending *q = P.head; q != NULL; q = q->next)
        P.tail = q;
    free(p->channel);
    free(p);
}

static void pending_free(struct ps_pending *p)
{
    if (p->rprev != NULL) {
        *p->rprev = p->rnext;
        if (p->rnext != NULL)
            p->rnext->rprev = p->rprev;
    }
    free(p->channel);
    free(p);
}

/* --- delivery ----------------------------------------------------------- */

/* The text of a position, formatted once however many subscribers a
 * message goes to (deliveries do not nest: a callback cannot cause one). */
static const char *position_text(uint64_t epoch, uint64_t offset)
{
    static char text[POSITION_MAX];
    static uint64_t e, o;

    if (epoch != e || offset != o || text[0] == '\0') {
        position_format(epoch, offset, text, sizeof(text));
        e = epoch;
        o = offset;
    }
    return text;
}

static void deliver(struct sq_sub *s, int kind, const void *data, size_t len)
{
    sq_msg m = {.kind = kind,
                .channel = s->lc->name,
                .data = data,
                .len = len,
                .position = position_text(s->epoch, s->offset)};

    s->lc->busy++;
    s->fn(s, &m, s->arg);
    s->lc->busy--;
}

/* Gives s the message at (epoch, offset) if it is the next one for it. */
static void offer(struct sq_sub *s, uint64_t epoch, uint64_t offset,
                  const void *data, size_t len)
{
    if (s->dead || !s->live)
        return;
    if (epoch == s->epoch && offset <= s->offset)
        return; /* had it */
    s->epoch = epoch;
    if (offset == s->offset + 1) {
        s->offset = offset;
        deliver(s, SQ_MSG_DATA, data, len);
        return;
    }
    /* a gap, or another epoch: what is between is lost */
    s->offset = offset;
    deliver(s, SQ_MSG_RELOAD, NULL, 0);
}

/* Tells the hub how many subscribers lc has here (0: none, forget it);
 * it counts them in what a publish reached. */
static void send_count(const struct lchan *lc)
{
    struct hub_frame f = {.type = HUB_SUB,
                          .channel = lc->name,
                          .channel_len = lc->len,
                          .n = lc->nsubs};

    (void)send_frame(&f);
}

static void sub_free(struct sq_sub *s)
{
    struct lchan *lc = s->lc;

    *s->prev = s->next;
    if (s->next != NULL)
        s->next->prev = s->prev;
    free(s);
    lc->nsubs--;
    send_count(lc);
    if (lc->nsubs == 0)
        lchan_free(lc);
}

/* After deliveries: frees those unsubscribed during them. */
static void sweep(struct lchan *lc)
{
    struct sq_sub *s, *next;

    if (lc->busy > 0 || lc->ndead == 0)
        return;
    lc->ndead = 0;
    lc->busy++; /* lc may go with its last subscriber: not in the loop */
    for (s = lc->subs; s != NULL; s = next) {
        next = s->next;
        if (s->dead) {
            *s->prev = s->next;
            if (s->next != NULL)
                s->next->prev = s->prev;
            free(s);
            lc->nsubs--;
        }
    }
    lc->busy--;
    send_count(lc);
    if (lc->nsubs == 0)
        lchan_free(lc);
}

/* A message for every live subscriber of lc (a live message, or one of a
 * resynchronisation). */
static void offer_all(struct lchan *lc, uint64_t epoch, uint64_t offset,
                      const void *data, size_t len)
{
    struct sq_sub *s;

    lc->busy++;
    for (s = lc->subs; s != NULL; s = s->next)
        offer(s, epoch, offset, data, len);
    lc->busy--;
    sweep(lc);
}

/* --- answers from the hub ----------------------------------------------- */

static struct ps_pending *answered(uint64_t id)
{
    struct ps_pending *p = P.head;

    if (p == NULL || p->id != id)
        return NULL; /* the hub answers in order: a broken stream */
    P.head = p->next;
    if (P.head == NULL)
        P.tail = NULL;
    return p;
}

static int hub_status(int code)
{
    switch (code) {
    case HUB_ETOOBIG:
        return 413;
    case HUB_EBADNAME:
        return 400;
    default:
        return 503;
    }
}

static void publish_done(struct ps_pending *p, int status, uint64_t epoch,
                         uint64_t offset, unsigned reached)
{
    char pos[POSITION_MAX];

    if (p->r != NULL && p->done != NULL) {
        position_format(epoch, offset, pos, sizeof(pos));
        p->done(p->r, status, status == 0 ? pos : NULL, reached, p->arg);
    }
    pending_free(p);
}

/* A subscriber's own HIST is answered: it goes live at the hub's position,
 * after what it missed (HITEMs, through offer) or a reload. */
static void hist_begin(struct ps_pending *p, const struct hub_frame *f)
{
    struct sq_sub *s = p->sub;

    P.hist = p;
    P.hist_left = f->n;
    P.hist_recovered = f->recovered;
    P.hist_epoch = f->epoch;
    P.hist_offset = f->offset;
    if (s != NULL)
        s->hist = NULL;
    /* a channel that has had no message yet knows its stream from this
     * answer: after a reconnection it resynchronises from here, so its
     * subscribers learn of a new hub (a new epoch) at once */
    if (s != NULL && s->lc->epoch == 0) {
        s->lc->epoch = f->epoch;
        s->lc->offset = f->offset;
    }
    if (p->kind == P_HIST_SUB && s != NULL && !s->dead) {
        int had_position = s->epoch != 0;
        s->live = 1;
        if (!f->recovered || !had_position) {
            s->epoch = f->epoch;
            s->offset = f->offset;
            if (had_position)
                deliver(s, SQ_MSG_RELOAD, NULL, 0);
            p->sub = NULL; /* nothing more for it in this answer */
        }
    }
    if (p->kind == P_HIST_RESYNC && !f->recovered) {
        /* every live subscriber is behind what was lost */
        struct lchan *lc = lchan_find(p->channel, strlen(p->channel));
        if (lc != NULL) {
            lc->epoch = f->epoch;
            lc->offset = f->offset;
            lc->busy++;
            for (struct sq_sub *t = lc->subs; t != NULL; t = t->next)
                if (t->live && !t->dead &&
                    (t->epoch != f->epoch || t->offset != f->offset)) {
                    t->epoch = f->epoch;
                    t->offset = f->offset;
                    deliver(t, SQ_MSG_RELOAD, NULL, 0);
                }
            lc->busy--;
            sweep(lc);
        }
    }
}

static void hist_item(const struct hub_frame *f)
{
    struct ps_pending *p = P.hist;
    struct lchan *lc;

    if (p->kind == P_HIST_SUB) {
        if (p->sub != NULL) /* the channel is held: p->sub stays */
            offer(p->sub, P.hist_epoch, f->offset, f->data, f->len);
    } else if ((lc = lchan_find(p->channel, strlen(p->channel))) != NULL) {
        lc->epoch = P.hist_epoch;
        lc->offset = f->offset;
        offer_all(lc, P.hist_epoch, f->offset, f->data, f->len);
    }
}

/* The last HITEM is in (or there was none): the subscriber is at the
 * hub's position, whatever of the items it had already. */
static void hist_end(void)
{
    struct ps_pending *p = P.hist;
    struct lchan *lc = P.hist_lc;

    P.hist = NULL;
    P.hist_lc = NULL;
    if (p->kind == P_HIST_SUB && p->sub != NULL && !p->sub->dead) {
        p->sub->epoch = P.hist_epoch;
        if (p->sub->offset < P.hist_offset)
            p->sub->offset = P.hist_offset;
    }
    if (p->kind == P_HIST_RESYNC &&
        (lc = lchan_find(p->channel, strlen(p->channel))) != NULL) {
        lc->epoch = P.hist_epoch;
        lc->offset = P.hist_offset;
        lc = NULL;
    }
    pending_free(p);
    if (lc != NULL) { /* held since the HISTOK */
        lc->busy--;
        sweep(lc);
    }
}

/* The hub could not make s's channel: s is told (SQ_MSG_ERROR), then
 * ended. */
static void refused(struct sq_sub *s, int status)
{
    struct lchan *lc = s->lc;
    char why[8];
    sq_msg m = {
        .kind = SQ_MSG_ERROR, .channel = lc->name, .data = why, .position = ""};

    s->hist = NULL;
    m.len = (size_t)snprintf(why, sizeof(why), "%d", status);
    lc->busy++;
    s->fn(s, &m, s->arg);
    sq_unsubscribe(s); /* a no-op if fn did; freed by sweep, with lc */
    lc->busy--;
    sweep(lc);
}

static int hub_input(const struct hub_frame *f)
{
    struct ps_pending *p;
    struct lchan *lc;

    if (P.hist != NULL && f->type != HUB_HITEM)
        return -1;
    switch (f->type) {
    case HUB_MSG:
        if ((lc = lchan_find(f->channel, f->channel_len)) != NULL) {
            lc->epoch = f->epoch;
            lc->offset = f->offset;
            offer_all(lc, f->epoch, f->offset, f->data, f->len);
        }
        return 0;
    case HUB_PUBOK:
        if ((p = answered(f->id)) == NULL || p->kind != P_PUB)
            return -1;
        publish_done(p, 0, f->epoch, f->offset, f->n);
        return 0;
    case HUB_ERR:
        if ((p = answered(f->id)) == NULL)
            return -1;
        if (p->kind == P_PUB) {
            publish_done(p, hub_status(f->code), 0, 0, 0);
        } else {
            /* the channel could not be made (pubsub.max_channels) */
            log_warn("pubsub: the hub refused a subscription: %d", f->code);
            if (p->kind == P_HIST_SUB && p->sub != NULL)
                refused(p->sub, hub_status(f->code));
            pending_free(p);
        }
        return 0;
    case HUB_HISTOK:
        if ((p = answered(f->id)) == NULL || p->kind == P_PUB)
            return -1;
        if (p->kind == P_HIST_SUB && p->sub != NULL) {
            /* keeps the subscriber (and p->sub) through the items */
            P.hist_lc = p->sub->lc;
            P.hist_lc->busy++;
        }
        hist_begin(p, f);
        if (P.hist_left == 0)
            hist_end();
        return 0;
    case HUB_HITEM:
        if (P.hist == NULL || f->id != P.hist->id)
            return -1;
        hist_item(f);
        if (--P.hist_left == 0)
            hist_end();
        return 0;
    default:
        return -1;
    }
}

/* --- the connection ----------------------------------------------------- */

static void on_hub(evutil_socket_t fd, short what, void *arg);
static void connect_hub(void);

/* The answers that will not come: publishes fail, subscribers' HISTs are
 * sent again on the next connection. */
static void fail_pending(void)
{
    struct ps_pending *p, *next;

    if ((p = P.hist) != NULL) {
        /* cut off in its items: the subscriber asks again from where the
         * items left it, on the next connection */
        struct lchan *lc = P.hist_lc;
        P.hist = NULL;
        P.hist_lc = NULL;
        if (p->kind == P_HIST_SUB && p->sub != NULL) {
            p->sub->live = 0;
            p->sub->hist = NULL;
        }
        pending_free(p);
        if (lc != NULL) {
            lc->busy--;
            sweep(lc);
        }
    }
    for (p = P.head, P.head = P.tail = NULL; p != NULL; p = next) {
        next = p->next;
        if (p->kind == P_PUB) {
            publish_done(p, 503, 0, 0, 0);
            continue;
        }
        if (p->kind == P_HIST_SUB && p->sub != NULL)
            p->sub->hist = NULL;
        pending_free(p);
    }
}

static void disconnect(const char *why)
{
    if (P.fd < 0)
        return;
    log_warn("pubsub: lost the hub (%s); reconnecting", why);
    event_free(P.ev);
    P.ev = NULL;
    close(P.fd);
    P.fd = -1;
    P.connected = 0;
    buf_release(&P.in);
    buf_release(&P.out);
    fail_pending();
    connect_hub();
}

static int send_hist(struct ps_pending *p, const char *name, size_t len,
                     uint64_t epoch, uint64_t offset)
{
    struct hub_frame f = {.type = HUB_HIST,
                          .id = p->id,
                          .channel = name,
                          .channel_len = len,
                          .epoch = epoch,
                          .offset = offset};

    if (send_frame(&f) < 0) {
        unpend(p);
        return -1;
    }
    return 0;
}

/* A subscriber asks what came after its position. */
static void sub_ask(struct sq_sub *s)
{
    struct ps_pending *p;

    if (s->hist != NULL || s->dead || (p = pend(P_HIST_SUB)) == NULL)
        return;
    p->sub = s;
    s->hist = p;
    if (send_hist(p, s->lc->name, s->lc->len, s->epoch, s->offset) < 0)
        s->hist = NULL;
}

/* After a (re)connection: HELLO, then each channel's subscription and
 * what it missed. Subscribers still waiting for their own answer ask
 * again; the live ones are brought up to date together from the
 * channel's last position. */
static void resync(void)
{
    struct hub_frame hello = {
        .type = HUB_HELLO, .n = (uint32_t)P.slot, .pid = (uint32_t)getpid()};

    send_frame(&hello);
    for (size_t b = 0; b < P.nbuckets; b++)
        for (struct lchan *lc = P.buckets[b]; lc != NULL; lc = lc->hnext) {
            struct hub_frame sub = {.type = HUB_SUB,
                                    .channel = lc->name,
                                    .channel_len = lc->len,
                                    .n = lc->nsubs};
            struct ps_pending *p;
            send_frame(&sub);
            if (lc->epoch != 0 && (p = pend(P_HIST_RESYNC)) != NULL) {
                if ((p->channel = strdup(lc->name)) == NULL)
                    unpend(p);
                else
                    send_hist(p, lc->name, lc->len, lc->epoch, lc->offset);
            }
            for (struct sq_sub *s = lc->subs; s != NULL; s = s->next)
                if (!s->live)
                    sub_ask(s);
        }
}

static void connect_hub(void)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    if (fd < 0 ||
        connect(fd, (struct sockaddr *)&hub_address.sun, hub_address.len) < 0) {
        /* the backlog is full, or no memory: try again a little later */
        struct timeval tv;
        log_error("pubsub: cannot connect to the hub: %s", strerror(errno));
        if (fd >= 0)
            close(fd);
        P.backoff_ms = P.backoff_ms ? P.backoff_ms * 2 : 10;
        if (P.backoff_ms > RECONNECT_MAX_MS)
            P.backoff_ms = RECONNECT_MAX_MS;
        tv.tv_sec = P.backoff_ms / 1000;
        tv.tv_usec = (suseconds_t)(P.backoff_ms % 1000) * 1000;
        evtimer_add(P.timer, &tv);
        return;
    }
    P.backoff_ms = 0;
    P.fd = fd;
    P.ev = event_new(P.base, fd, EV_READ | EV_WRITE | EV_PERSIST | EV_ET,
                     on_hub, NULL);
    if (P.ev == NULL || event_add(P.ev, NULL) < 0)
        fatal("pubsub: cannot watch the hub connection");
    P.connected = 1;
    resync();
}

static int read_hub(void)
{
    for (;;) {
        char *room = buf_reserve(&P.in, READ_CHUNK);
        ssize_t n;

        if (room == NULL)
            return -1;
        n = read(P.fd, room, READ_CHUNK);
        if (n == 0)
            return -1;
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
        P.in.len += (size_t)n;
        while (P.fd >= 0) {
            struct hub_frame f;
            long used = hub_decode(P.in.p + P.in.off, buf_pending(&P.in),
                                   P.max_frame, &f);
            if (used == 0)
                break;
            if (used < 0 || hub_input(&f) < 0) {
                log_error("pubsub: a frame from the hub out of place");
                return -1;
            }
            buf_consume(&P.in, (size_t)used);
        }
        if (P.fd < 0)
            return 0; /* a callback's send found the hub gone */
        if (buf_pending(&P.in) == 0)
            buf_release(&P.in);
        /* edge-triggered: on until EAGAIN, or an end that came with
         * the data would never be seen */
    }
}

static void on_hub(evutil_socket_t fd UNUSED, short what, void *arg UNUSED)
{
    if ((what & EV_READ) && read_hub() < 0) {
        disconnect("connection closed");
        return;
    }
    if (P.fd >= 0)
        flush_out();
}

/* Reconnection back-off, and the deadline of the oldest answer. */
static void on_timer(evutil_socket_t fd UNUSED, short what UNUSED,
                     void *arg UNUSED)
{
    int64_t late;

    if (P.fd < 0) {
        connect_hub();
        return;
    }
    if (P.head == NULL)
        return;
    late = (int64_t)conn_now_ms() - P.head->sent_ms;
    if (late >= HUB_ANSWER_MS) {
        disconnect("no answer within 5 s");
        return;
    }
    struct timeval tv = {(HUB_ANSWER_MS - late) / 1000,
                         (suseconds_t)((HUB_ANSWER_MS - late) % 1000) * 1000};
    evtimer_add(P.timer, &tv);
}

/* --- the worker --------------------------------------------------------- */

void pubsub_setup(struct event_base *base, const struct config *cfg, int slot)
{
    P.base = base;
    P.cfg = cfg;
    P.slot = slot;
    P.max_frame = HUB_FRAME_MAX(cfg->pubsub.max_message_size);
    if ((P.timer = evtimer_new(base, on_timer, NULL)) == NULL)
        fatal("pubsub: cannot create a timer");
    connect_hub();
}

void pubsub_free(void)
{
    struct ps_pending *p, *next;

    /* the requests and WebSockets are gone, and their subscriptions */
    for (size_t b = 0; b < P.nbuckets; b++)
        while (P.buckets[b] != NULL) {
            struct lchan *lc = P.buckets[b];
            while (lc->subs != NULL) {
                struct sq_sub *s = lc->subs;
                lc->subs = s->next;
                free(s);
            }
            P.buckets[b] = lc->hnext;
            free(lc);
        }
    free(P.buckets);
    for (p = P.head; p != NULL; p = next) {
        next = p->next;
        pending_free(p);
    }
    if (P.ev != NULL)
        event_free(P.ev);
    if (P.timer != NULL)
        event_free(P.timer);
    if (P.fd >= 0)
        close(P.fd);
    buf_free(&P.in);
    buf_free(&P.out);
    memset(&P, 0, sizeof(P));
    P.fd = -1;
}

/* --- the module API ----------------------------------------------------- */

static sq_sub *subscribe(sq_sub **owner, const char *channel,
                         const char *position, sq_msg_fn fn, void *arg)
{
    size_t len = channel != NULL ? strlen(channel) : 0;
    uint64_t epoch = 0, offset = 0;
    struct lchan *lc;
    sq_sub *s;

    if (P.base == NULL || fn == NULL || !channel_name_ok(channel, len))
        return NULL;
    if (position != NULL && *position != '\0' &&
        position_parse(position, strlen(position), &epoch, &offset) < 0)
        return NULL;
    if ((s = calloc(1, sizeof(*s))) == NULL)
        return NULL;
    if ((lc = lchan_find(channel, len)) == NULL &&
        (lc = lchan_new(channel, len)) == NULL) {
        free(s);
        return NULL;
    }
    s->lc = lc;
    s->fn = fn;
    s->arg = arg;
    s->epoch = epoch;
    s->offset = offset;
    s->next = lc->subs;
    if (lc->subs != NULL)
        lc->subs->prev = &s->next;
    s->prev = &lc->subs;
    lc->subs = s;
    s->onext = *owner;
    if (*owner != NULL)
        (*owner)->oprev = &s->onext;
    s->oprev = owner;
    *owner = s;
    lc->nsubs++;
    send_count(lc); /* when not connected, resync() subscribes */
    sub_ask(s);     /* and asks */
    return s;
}

sq_sub *sq_subscribe(sq_req *r, const char *channel, const char *position,
                     sq_msg_fn fn, void *arg)
{
    if (r == NULL || r->finished || r->tp == NULL)
        return NULL;
    return subscribe(&r->subs, channel, position, fn, arg);
}

sq_sub *sq_ws_subscribe(sq_ws *ws, const char *channel, const char *position,
                        sq_msg_fn fn, void *arg)
{
    sq_sub **owner = ws_subs(ws);

    return owner != NULL ? subscribe(owner, channel, position, fn, arg) : NULL;
}

void sq_unsubscribe(sq_sub *s)
{
    struct lchan *lc;

    if (s == NULL || s->dead)
        return;
    *s->oprev = s->onext;
    if (s->onext != NULL)
        s->onext->oprev = s->oprev;
    s->oprev = NULL;
    s->onext = NULL;
    if (s->hist != NULL) {
        s->hist->sub = NULL;
        s->hist = NULL;
    }
    lc = s->lc;
    if (lc->busy > 0) { /* in a delivery: freed by sweep() after it */
        s->dead = 1;
        lc->ndead++;
        return;
    }
    s->dead = 1;
    sub_free(s);
}

const char *sq_sub_position(const sq_sub *s)
{
    static char text[POSITION_MAX];

    if (s == NULL || s->dead || !s->live || s->epoch == 0)
        return NULL;
    position_format(s->epoch, s->offset, text, sizeof(text));
    return text;
}

/* Everything an owner (a request, a WebSocket) subscribed to ends. */
void pubsub_owner_gone(sq_sub **owner)
{
    while (*owner != NULL)
        sq_unsubscribe(*owner);
}

static int publish(sq_req *r, const char *channel, const void *data, size_t len,
                   sq_publish_fn done, void *arg)
{
    size_t clen = channel != NULL ? strlen(channel) : 0;
    struct hub_frame f = {.type = HUB_PUB,
                          .channel = channel,
                          .channel_len = clen,
                          .data = data,
                          .len = len};
    struct ps_pending *p;

    if (P.base == NULL || !channel_name_ok(channel, clen))
        return 400;
    if (len > P.cfg->pubsub.max_message_size)
        return 413;
    if (!P.connected || (p = pend(P_PUB)) == NULL)
        return 503;
    f.id = p->id;
    if (send_frame(&f) < 0) {
        unpend(p);
        return 503;
    }
    if (r != NULL) {
        p->r = r;
        p->done = done;
        p->arg = arg;
        p->rnext = r->pubs;
        if (r->pubs != NULL)
            r->pubs->rprev = &p->rnext;
        p->rprev = &r->pubs;
        r->pubs = p;
    }
    return 0;
}

int sq_publish(const char *channel, const void *data, size_t len)
{
    return publish(NULL, channel, data, len, NULL, NULL) == 0 ? 0 : SQ_ERROR;
}

int sq_publish_req(sq_req *r, const char *channel, const void *data, size_t len,
                   sq_publish_fn done, void *arg)
{
    if (r == NULL || r->finished || r->tp == NULL)
        return 500;
    return publish(r, channel, data, len, done, arg);
}

/* A request is finished or its client is gone: its subscriptions end and
 * its publishes' outcomes are not told. */
void pubsub_req_gone(sq_req *r)
{
    pubsub_owner_gone(&r->subs);
    while (r->pubs != NULL) {
        struct ps_pending *p = r->pubs;
        r->pubs = p->rnext;
        p->r = NULL;
        p->rprev = NULL;
        p->rnext = NULL;
    }
}
