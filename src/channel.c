/*
 * channel.c - the hub's channels: their stream positions and history,
 * positions as clients write them, channel names and route templates.
 * Pure: no I/O, no clock (the caller passes the time), no randomness (the
 * caller passes a function for new epochs).
 *
 * A channel's history is contiguous: it holds the messages first..last
 * with consecutive offsets, and last is the channel's latest message
 * (last->offset == ch->offset) whenever it is not empty. Messages only
 * ever leave from the front - for the channel's count bound, for the
 * global memory bound (the globally oldest message is the first of its
 * channel, since both orders are publication order), for their TTL - and
 * a message published but not kept empties its channel's history, so that
 * recovery never hands out a window with a hole in it.
 *
 * Channels with neither history nor subscribers are "idle": they are put
 * on a list when they may have become so, and freed (their epoch with
 * them) by channels_expire, or by channel_get when the table is full.
 */
#include "internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUCKETS_MIN 16

/* The table ----------------------------------------------------------- */

uint64_t channel_hash(const char *s, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ULL;

    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

int channels_init(struct channels *t, const struct pubsub_conf *conf,
                  unsigned nslots, uint64_t (*new_epoch)(void *),
                  void *epoch_arg)
{
    memset(t, 0, sizeof(*t));
    t->buckets = calloc(BUCKETS_MIN, sizeof(*t->buckets));
    if (t->buckets == NULL)
        return -1;
    t->nbuckets = BUCKETS_MIN;
    t->nslots = nslots;
    t->conf = *conf;
    t->conf.redis = NULL; /* not ours to keep */
    t->new_epoch = new_epoch;
    t->epoch_arg = epoch_arg;
    return 0;
}

void channels_free(struct channels *t)
{
    struct channel *ch, *next;
    struct hmsg *m, *mnext;

    for (m = t->oldest; m != NULL; m = mnext) {
        mnext = m->newer;
        free(m);
    }
    for (size_t i = 0; i < t->nbuckets; i++)
        for (ch = t->buckets[i]; ch != NULL; ch = next) {
            next = ch->hnext;
            free(ch);
        }
    free(t->buckets);
    memset(t, 0, sizeof(*t));
}

struct channel *channel_find(struct channels *t, const char *name, size_t len)
{
    struct channel *ch;

    ch = t->buckets[channel_hash(name, len) & (t->nbuckets - 1)];
    for (; ch != NULL; ch = ch->hnext)
        if (ch->len == len && memcmp(ch->name, name, len) == 0)
            return ch;
    return NULL;
}

/* Doubles the buckets; stays as it is when out of memory (chains only get
 * longer). */
static void grow(struct channels *t)
{
    size_t n = t->nbuckets * 2;
    struct channel **b, *ch, *next;

    b = calloc(n, sizeof(*b));
    if (b == NULL)
        return;
    for (size_t i = 0; i < t->nbuckets; i++)
        for (ch = t->buckets[i]; ch != NULL; ch = next) {
            size_t j = channel_hash(ch->name, ch->len) & (n - 1);

            next = ch->hnext;
            ch->hnext = b[j];
            b[j] = ch;
        }
    free(t->buckets);
    t->buckets = b;
    t->nbuckets = n;
}

static int is_idle(const struct channel *ch)
{
    return ch->count == 0 && ch->nsubs == 0 && !ch->pinned;
}

/* ch may have become idle: remember to look at it. */
static void maybe_idle(struct channels *t, struct channel *ch)
{
    if (ch->idle_listed || !is_idle(ch))
        return;
    ch->idle_listed = 1;
    ch->idle_next = t->idle;
    t->idle = ch;
}

static void unlink_channel(struct channels *t, struct channel *ch)
{
    struct channel **pp;

    pp = &t->buckets[channel_hash(ch->name, ch->len) & (t->nbuckets - 1)];
    while (*pp != ch)
        pp = &(*pp)->hnext;
    *pp = ch->hnext;
    t->count--;
}

/* Frees the channels of the idle list that are still idle. */
static void free_idle(struct channels *t)
{
    struct channel *ch, *next;

    for (ch = t->idle; ch != NULL; ch = next) {
        next = ch->idle_next;
        ch->idle_listed = 0;
        if (!is_idle(ch))
            continue;
        unlink_channel(t, ch);
        free(ch);
    }
    t->idle = NULL;
}

struct channel *channel_get(struct channels *t, const char *name, size_t len,
                            int *err)
{
    struct channel *ch;
    size_t subs_off, i;
    uint64_t epoch;

    *err = 0;
    if (!channel_name_ok(name, len)) {
        *err = HUB_EBADNAME;
        return NULL;
    }
    ch = channel_find(t, name, len);
    if (ch != NULL)
        return ch;
    if (t->count >= t->conf.max_channels)
        free_idle(t);
    if (t->count >= t->conf.max_channels) {
        *err = HUB_ETOOMANY;
        return NULL;
    }
    /* one block: the channel, its name, then the counts per slot */
    subs_off = sizeof(*ch) + len + 1;
    subs_off = (subs_off + sizeof(uint32_t) - 1) & ~(sizeof(uint32_t) - 1);
    ch = calloc(1, subs_off + (size_t)t->nslots * sizeof(uint32_t));
    if (ch == NULL) {
        *err = HUB_ENOMEM;
        return NULL;
    }
    epoch = t->new_epoch(t->epoch_arg);
    ch->epoch = epoch != 0 ? epoch : 1;
    ch->subs = (uint32_t *)((char *)ch + subs_off);
    ch->len = len;
    memcpy(ch->name, name, len);
    ch->name[len] = '\0';
    if (t->count >= t->nbuckets)
        grow(t);
    i = channel_hash(name, len) & (t->nbuckets - 1);
    ch->hnext = t->buckets[i];
    t->buckets[i] = ch;
    t->count++;
    /* until someone subscribes or a message is kept */
    maybe_idle(t, ch);
    return ch;
}

/* History ----------------------------------------------------------------- */

/* Drops the first message of its channel. */
static void drop_first(struct channels *t, struct channel *ch)
{
    struct hmsg *m = ch->first;

    ch->first = m->next;
    if (ch->first == NULL)
        ch->last = NULL;
    ch->count--;
    if (m->older != NULL)
        m->older->newer = m->newer;
    else
        t->oldest = m->newer;
    if (m->newer != NULL)
        m->newer->older = m->older;
    else
        t->newest = m->older;
    t->mem -= sizeof(*m) + m->len;
    free(m);
    maybe_idle(t, ch);
}

static void drop_all(struct channels *t, struct channel *ch)
{
    while (ch->first != NULL)
        drop_first(t, ch);
}

const struct hmsg *channel_publish(struct channels *t, struct channel *ch,
                                   const void *data, size_t len, int64_t now_ms,
                                   int *err)
{
    struct hmsg *m;

    *err = 0;
    if (len > t->conf.max_message_size || len > UINT32_MAX) {
        *err = HUB_ETOOBIG;
        return NULL;
    }
    if (t->conf.history == 0 || sizeof(*m) + len > t->conf.max_history_memory) {
        /* published, not kept: what history there was no longer leads
         * up to the present */
        ch->offset++;
        drop_all(t, ch);
        return NULL;
    }
    m = malloc(sizeof(*m) + len);
    if (m == NULL) {
        *err = HUB_ENOMEM;
        return NULL;
    }
    m->next = NULL;
    m->ch = ch;
    m->offset = ++ch->offset;
    m->at_ms = now_ms;
    m->len = (uint32_t)len;
    if (len > 0)
        memcpy(m->data, data, len);
    if (ch->last != NULL)
        ch->last->next = m;
    else
        ch->first = m;
    ch->last = m;
    ch->count++;
    m->newer = NULL;
    m->older = t->newest;
    if (t->newest != NULL)
        t->newest->newer = m;
    else
        t->oldest = m;
    t->newest = m;
    t->mem += sizeof(*m) + len;

    while (ch->count > t->conf.history)
        drop_first(t, ch);
    /* never m itself: it fits alone */
    while (t->mem > t->conf.max_history_memory)
        drop_first(t, t->oldest->ch);
    return m;
}

void channel_since(const struct channel *ch, uint64_t epoch, uint64_t offset,
                   struct recovery *r)
{
    const struct hmsg *m;

    r->recovered = 0;
    r->from = NULL;
    r->count = 0;
    if (epoch == 0) { /* no position: what comes next */
        r->recovered = 1;
        return;
    }
    if (epoch != ch->epoch || offset > ch->offset)
        return;
    if (offset == ch->offset) { /* missed nothing */
        r->recovered = 1;
        return;
    }
    /* behind: offset + 1 .. ch->offset must all be kept */
    if (ch->first == NULL || ch->first->offset > offset + 1)
        return;
    for (m = ch->first; m->offset != offset + 1; m = m->next)
        ;
    r->recovered = 1;
    r->from = m;
    r->count = (uint32_t)(ch->offset - offset);
}

void channel_set_subs(struct channels *t, struct channel *ch, unsigned slot,
                      uint32_t n)
{
    if (slot >= t->nslots)
        return;
    ch->nsubs = ch->nsubs - ch->subs[slot] + n;
    ch->subs[slot] = n;
    maybe_idle(t, ch);
}

void channels_clear_slot(struct channels *t, unsigned slot)
{
    for (size_t b = 0; b < t->nbuckets; b++) {
        struct channel *ch, *next;
        for (ch = t->buckets[b]; ch != NULL; ch = next) {
            next = ch->hnext; /* ch may become idle, not freed here */
            if (slot < t->nslots && ch->subs[slot] > 0)
                channel_set_subs(t, ch, slot, 0);
        }
    }
}

void channel_set_pinned(struct channels *t, struct channel *ch, int pinned)
{
    ch->pinned = pinned != 0;
    maybe_idle(t, ch);
}

void channel_reset(struct channels *t, struct channel *ch, uint64_t epoch,
                   uint64_t offset)
{
    drop_all(t, ch);
    ch->epoch = epoch;
    ch->offset = offset;
}

int channel_append(struct channels *t, struct channel *ch, uint64_t epoch,
                   uint64_t offset, const void *data, size_t len,
                   int64_t now_ms, int *err)
{
    int restarted = 0;

    *err = 0;
    if (epoch == ch->epoch && offset <= ch->offset)
        return 0;
    if (epoch != ch->epoch || offset != ch->offset + 1) {
        channel_reset(t, ch, epoch, offset - 1);
        restarted = 1;
    }
    channel_publish(t, ch, data, len, now_ms, err);
    if (*err != 0) {
        channel_reset(t, ch, epoch, offset);
        return -1;
    }
    return restarted ? 2 : 1;
}

int64_t channels_expire(struct channels *t, int64_t now_ms)
{
    int64_t ttl = t->conf.history_ttl_ms;

    while (t->oldest != NULL && now_ms - t->oldest->at_ms >= ttl)
        drop_first(t, t->oldest->ch);
    free_idle(t);
    if (t->oldest == NULL)
        return -1;
    return t->oldest->at_ms + ttl - now_ms;
}

/* Positions ------------------------------------------------------------- */

int position_format(uint64_t epoch, uint64_t offset, char *out, size_t len)
{
    int n = snprintf(out, len, "%016" PRIx64 ":%" PRIu64, epoch, offset);

    return n < 0 || (size_t)n >= len ? -1 : n;
}

int position_parse(const char *s, size_t len, uint64_t *epoch, uint64_t *offset)
{
    uint64_t e, o;

    /* 16 hex digits, ':', 1 to 20 decimal digits */
    if (len < 18 || s[16] != ':' || parse_epoch(s, 16, &e) < 0 ||
        parse_u64(s + 17, len - 17, &o) < 0)
        return -1;
    *epoch = e;
    *offset = o;
    return 0;
}

/* Names ---------------------------------------------------------------- */

/* Whether the bytes may be part of a channel name (any length, and cut
 * only between characters): printable ASCII without space, and valid
 * UTF-8 without the C1 controls (U+0080..U+009F, C2 80..C2 9F). */
static int name_bytes_ok(const char *name, size_t len)
{
    const uint8_t *p = (const uint8_t *)name;
    int ascii = 1;

    for (size_t i = 0; i < len; i++) {
        if (p[i] < 0x21 || p[i] == 0x7f)
            return 0;
        if (p[i] >= 0x80) {
            ascii = 0;
            if (p[i] == 0xc2 && i + 1 < len && p[i + 1] < 0xa0)
                return 0;
        }
    }
    return ascii || utf8_valid(p, len);
}

int channel_name_ok(const char *name, size_t len)
{
    return len >= 1 && len <= HUB_CHANNEL_MAX && name_bytes_ok(name, len);
}

/* Templates -------------------------------------------------------------- */

int channel_template_check(const char *tmpl, const char *const *names,
                           size_t nnames, char *err, size_t errlen)
{
    const char *p = tmpl;
    size_t literal = 0, n;

    if (*tmpl == '\0') {
        errf(err, errlen, "empty channel name");
        return -1;
    }
    if (template_check(tmpl, "channel ", names, nnames, err, errlen) < 0)
        return -1;
    /* the literal parts, between the {name}s that template_check paired */
    for (;;) {
        n = strcspn(p, "{");
        if (!name_bytes_ok(p, n)) {
            errf(err, errlen,
                 "bad character in channel '%s' (a name is printable "
                 "characters: no space or control character)",
                 tmpl);
            return -1;
        }
        literal += n;
        if (p[n] == '\0')
            break;
        p = strchr(p + n, '}') + 1;
    }
    if (literal > HUB_CHANNEL_MAX) {
        errf(err, errlen, "channel '%s' is longer than %d bytes", tmpl,
             HUB_CHANNEL_MAX);
        return -1;
    }
    return 0;
}

long channel_template_fill(const char *tmpl, const struct route_param *params,
                           size_t nparams, char *out, size_t outlen)
{
    long len = template_fill(tmpl, params, nparams, out, outlen);

    return len >= 0 && len <= HUB_CHANNEL_MAX &&
                   channel_name_ok(out, (size_t)len)
               ? len
               : -1;
}
