/*
 * test_channel.c - src/channel.c: channels, their history and recovery,
 * positions, names and route templates.
 *
 * Epochs come from a counter (1000, 1001, ...) so that a recreated channel
 * is seen to get a new one; time is whatever the test passes.
 */
#include "internal.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HMSG_SIZE(len) (sizeof(struct hmsg) + (len))

static struct channels t;
static uint64_t next_epoch;

static uint64_t counter_epoch(void *arg)
{
    (void)arg;
    return next_epoch++;
}

static struct pubsub_conf conf_default(void)
{
    struct pubsub_conf c;

    memset(&c, 0, sizeof(c));
    c.history = 100;
    c.history_ttl_ms = 60000;
    c.max_channels = 1000;
    c.max_message_size = 64 * 1024;
    c.max_history_memory = 64 * 1024 * 1024;
    c.hub_queue = 16 * 1024 * 1024;
    return c;
}

static void init_with(const struct pubsub_conf *c)
{
    channels_free(&t);
    next_epoch = 1000;
    ck_assert_int_eq(channels_init(&t, c, 4, counter_epoch, NULL), 0);
}

static void setup(void)
{
    struct pubsub_conf c = conf_default();

    memset(&t, 0, sizeof(t));
    init_with(&c);
}

static void teardown(void)
{
    channels_free(&t);
}

static struct channel *get(const char *name)
{
    int err = -1;
    struct channel *ch = channel_get(&t, name, strlen(name), &err);

    ck_assert_ptr_nonnull(ch);
    ck_assert_int_eq(err, 0);
    return ch;
}

/* Publishes "<name>#<n>", n the offset it will get; returns whether it was
 * kept. */
static int pub(struct channel *ch, int64_t now)
{
    char text[300];
    int err = -1, n;
    const struct hmsg *m;

    n = snprintf(text, sizeof(text), "%s#%llu", ch->name,
                 (unsigned long long)ch->offset + 1);
    m = channel_publish(&t, ch, text, (size_t)n, now, &err);
    ck_assert_int_eq(err, 0);
    if (m != NULL) {
        ck_assert_uint_eq(m->offset, ch->offset);
        ck_assert_uint_eq(m->len, (unsigned)n);
        ck_assert_mem_eq(m->data, text, (size_t)n);
        ck_assert_ptr_eq(m->ch, ch);
        ck_assert_int_eq(m->at_ms, now);
    }
    return m != NULL;
}

/* Checks ch's history is exactly offsets first..last, contiguous, and
 * that the table's age list and memory agree with every channel's. */
static void assert_history(const struct channel *ch, uint64_t first,
                           uint64_t last)
{
    const struct hmsg *m;
    uint64_t want = first;
    uint32_t n = 0;

    for (m = ch->first; m != NULL; m = m->next, want++, n++) {
        ck_assert_uint_eq(m->offset, want);
        if (m->next == NULL)
            ck_assert_ptr_eq(m, ch->last);
    }
    if (first > last) {
        ck_assert_ptr_null(ch->first);
        ck_assert_ptr_null(ch->last);
    }
    ck_assert_uint_eq(want, last + 1);
    ck_assert_uint_eq(n, ch->count);
}

static void assert_table(void)
{
    const struct hmsg *m, *prev = NULL;
    size_t mem = 0;

    for (m = t.oldest; m != NULL; prev = m, m = m->newer) {
        ck_assert_ptr_eq(m->older, prev);
        mem += HMSG_SIZE(m->len);
    }
    ck_assert_ptr_eq(t.newest, prev);
    ck_assert_uint_eq(mem, t.mem);
}

/* History window --------------------------------------------------------- */

START_TEST(test_new_channel)
{
    struct channel *ch = get("chat.1");

    ck_assert_uint_eq(ch->epoch, 1000);
    ck_assert_uint_eq(ch->offset, 0);
    ck_assert_uint_eq(ch->count, 0);
    ck_assert_uint_eq(ch->nsubs, 0);
    ck_assert_str_eq(ch->name, "chat.1");
    ck_assert_uint_eq(ch->len, 6);
    ck_assert_ptr_eq(get("chat.1"), ch);
    ck_assert_ptr_eq(channel_find(&t, "chat.1", 6), ch);
    ck_assert_ptr_null(channel_find(&t, "chat.2", 6));
    ck_assert_ptr_null(channel_find(&t, "chat.", 5));
    ck_assert_uint_eq(t.count, 1);
    assert_history(ch, 1, 0);
}
END_TEST

START_TEST(test_partial_then_full_then_wrapped)
{
    struct pubsub_conf c = conf_default();
    struct channel *ch;
    int i;

    c.history = 5;
    init_with(&c);
    ch = get("a");
    for (i = 1; i <= 3; i++)
        ck_assert(pub(ch, i));
    assert_history(ch, 1, 3);
    for (; i <= 5; i++)
        pub(ch, i);
    assert_history(ch, 1, 5);
    for (; i <= 12; i++)
        pub(ch, i);
    assert_history(ch, 8, 12);
    ck_assert_uint_eq(ch->offset, 12);
    assert_table();
    /* "a#8", "a#9", then "a#10" .. "a#12" */
    ck_assert_uint_eq(t.mem, 2 * HMSG_SIZE(3) + 3 * HMSG_SIZE(4));
}
END_TEST

START_TEST(test_many_channels_grow_the_table)
{
    char name[32];
    struct channel *ch;
    int i;

    for (i = 0; i < 500; i++) {
        snprintf(name, sizeof(name), "room.%d", i);
        ch = get(name);
        pub(ch, 1);
    }
    ck_assert_uint_eq(t.count, 500);
    ck_assert_uint_ge(t.nbuckets, 500);
    for (i = 0; i < 500; i++) {
        snprintf(name, sizeof(name), "room.%d", i);
        ch = channel_find(&t, name, strlen(name));
        ck_assert_ptr_nonnull(ch);
        ck_assert_str_eq(ch->name, name);
        assert_history(ch, 1, 1);
    }
    assert_table();
}
END_TEST

START_TEST(test_history_zero_keeps_nothing)
{
    struct pubsub_conf c = conf_default();
    struct channel *ch;

    c.history = 0;
    init_with(&c);
    ch = get("a");
    ck_assert(!pub(ch, 1));
    ck_assert(!pub(ch, 2));
    ck_assert_uint_eq(ch->offset, 2);
    assert_history(ch, 1, 0);
    ck_assert_uint_eq(t.mem, 0);
}
END_TEST

/* Memory: the globally oldest messages go first, whatever their channel. */
START_TEST(test_memory_evicts_globally_oldest)
{
    struct pubsub_conf c = conf_default();
    struct channel *a, *b;

    c.max_history_memory = 4 * HMSG_SIZE(3); /* "a#1" is 3 bytes */
    init_with(&c);
    a = get("a");
    b = get("b");
    pub(a, 1); /* a1 */
    pub(b, 2); /* b1 */
    pub(a, 3); /* a2 */
    pub(b, 4); /* b2 */
    ck_assert_uint_eq(t.mem, 4 * HMSG_SIZE(3));
    pub(b, 5); /* b3: a1 goes */
    assert_history(a, 2, 2);
    assert_history(b, 1, 3);
    pub(b, 6); /* b4: b1 goes */
    assert_history(a, 2, 2);
    assert_history(b, 2, 4);
    pub(b, 7); /* b5: a2 goes, a is empty now */
    assert_history(a, 1, 0);
    ck_assert_uint_eq(a->offset, 2);
    assert_history(b, 2, 5);
    ck_assert_uint_le(t.mem, c.max_history_memory);
    assert_table();
}
END_TEST

/* A message larger than all the memory is published, not kept; and the
 * channel's older history goes, since it no longer leads up to now. */
START_TEST(test_message_larger_than_memory)
{
    struct pubsub_conf c = conf_default();
    const struct hmsg *m;
    struct channel *a, *b;
    char big[200];
    int err = -1;

    c.max_history_memory = HMSG_SIZE(100);
    init_with(&c);
    a = get("a");
    b = get("b");
    pub(a, 1);
    pub(b, 2);
    memset(big, 'x', sizeof(big));
    m = channel_publish(&t, a, big, sizeof(big), 3, &err);
    ck_assert_ptr_null(m);
    ck_assert_int_eq(err, 0);
    ck_assert_uint_eq(a->offset, 2);
    assert_history(a, 1, 0);
    assert_history(b, 1, 1); /* other channels keep theirs */
    /* exactly the memory: kept, alone */
    m = channel_publish(&t, a, big, 100, 4, &err);
    ck_assert_ptr_nonnull(m);
    ck_assert_uint_eq(m->offset, 3);
    ck_assert_uint_eq(t.mem, HMSG_SIZE(100));
    assert_history(a, 3, 3);
    assert_history(b, 1, 0);
    assert_table();
}
END_TEST

START_TEST(test_too_big)
{
    struct pubsub_conf c = conf_default();
    struct channel *ch;
    char data[101];
    int err = 0;

    c.max_message_size = 100;
    init_with(&c);
    ch = get("a");
    memset(data, 'x', sizeof(data));
    ck_assert_ptr_null(channel_publish(&t, ch, data, 101, 1, &err));
    ck_assert_int_eq(err, HUB_ETOOBIG);
    ck_assert_uint_eq(ch->offset, 0);
    ck_assert_ptr_nonnull(channel_publish(&t, ch, data, 100, 1, &err));
    ck_assert_int_eq(err, 0);
    ck_assert_ptr_nonnull(channel_publish(&t, ch, "", 0, 1, &err));
    ck_assert_uint_eq(ch->offset, 2);
}
END_TEST

START_TEST(test_too_many)
{
    struct pubsub_conf c = conf_default();
    struct channel *a;
    int err = 0;

    c.max_channels = 2;
    init_with(&c);
    a = get("a");
    pub(a, 1);
    channel_set_subs(&t, get("b"), 0, 1);
    ck_assert_ptr_null(channel_get(&t, "c", 1, &err));
    ck_assert_int_eq(err, HUB_ETOOMANY);
    ck_assert_ptr_eq(get("a"), a); /* existing ones are still found */
    /* b's subscriber leaves: b is idle, and makes room */
    channel_set_subs(&t, channel_find(&t, "b", 1), 0, 0);
    get("c");
    ck_assert_ptr_null(channel_find(&t, "b", 1));
    ck_assert_uint_eq(t.count, 2);
}
END_TEST

START_TEST(test_bad_name)
{
    int err = 0;

    ck_assert_ptr_null(channel_get(&t, "a b", 3, &err));
    ck_assert_int_eq(err, HUB_EBADNAME);
    ck_assert_ptr_null(channel_get(&t, "", 0, &err));
    ck_assert_int_eq(err, HUB_EBADNAME);
    ck_assert_uint_eq(t.count, 0);
}
END_TEST

/* TTL --------------------------------------------------------------------- */

START_TEST(test_ttl_expiry)
{
    struct channel *a, *b;

    /* ttl 60s */
    a = get("a");
    b = get("b");
    channel_set_subs(&t, a, 1, 1);
    channel_set_subs(&t, b, 2, 1);
    ck_assert_int_eq(channels_expire(&t, 0), -1);
    pub(a, 1000);
    pub(b, 2000);
    pub(a, 3000);
    ck_assert_int_eq(channels_expire(&t, 1000), 60000);
    ck_assert_int_eq(channels_expire(&t, 60999), 1);
    assert_history(a, 1, 2);
    ck_assert_int_eq(channels_expire(&t, 61000), 1000); /* a1 went */
    assert_history(a, 2, 2);
    assert_history(b, 1, 1);
    ck_assert_int_eq(channels_expire(&t, 62500), 500); /* b1 went */
    assert_history(b, 1, 0);
    ck_assert_int_eq(channels_expire(&t, 100000), -1);
    assert_history(a, 1, 0);
    /* subscribed: kept, with their positions */
    ck_assert_ptr_eq(channel_find(&t, "a", 1), a);
    ck_assert_ptr_eq(channel_find(&t, "b", 1), b);
    ck_assert_uint_eq(a->offset, 2);
    ck_assert_uint_eq(t.mem, 0);
    assert_table();
}
END_TEST

START_TEST(test_expired_channel_freed_and_recreated_with_new_epoch)
{
    struct channel *ch = get("a");
    uint64_t epoch = ch->epoch;
    struct recovery r;

    pub(ch, 0);
    pub(ch, 10);
    ck_assert_int_eq(channels_expire(&t, 59999), 1);
    ck_assert_ptr_nonnull(channel_find(&t, "a", 1));
    ck_assert_int_eq(channels_expire(&t, 60010), -1);
    ck_assert_ptr_null(channel_find(&t, "a", 1));
    ck_assert_uint_eq(t.count, 0);
    ch = get("a");
    ck_assert_uint_ne(ch->epoch, epoch);
    ck_assert_uint_eq(ch->offset, 0);
    /* the old position is not recovered: the client reloads */
    channel_since(ch, epoch, 2, &r);
    ck_assert_int_eq(r.recovered, 0);
}
END_TEST

START_TEST(test_not_freed_while_subscribed)
{
    struct channel *ch = get("a");

    channel_set_subs(&t, ch, 3, 2);
    ck_assert_int_eq(channels_expire(&t, 0), -1);
    ck_assert_ptr_eq(channel_find(&t, "a", 1), ch);
    channel_set_subs(&t, ch, 3, 0);
    ck_assert_ptr_eq(channel_find(&t, "a", 1), ch); /* until the next call */
    ck_assert_int_eq(channels_expire(&t, 0), -1);
    ck_assert_ptr_null(channel_find(&t, "a", 1));
}
END_TEST

/* A channel that has history but no subscriber stays. */
START_TEST(test_not_freed_while_history)
{
    struct channel *ch = get("a");

    pub(ch, 0);
    ck_assert_int_eq(channels_expire(&t, 1), 59999);
    ck_assert_ptr_eq(channel_find(&t, "a", 1), ch);
}
END_TEST

START_TEST(test_set_subs_sums_slots)
{
    struct channel *ch = get("a");

    channel_set_subs(&t, ch, 0, 3);
    channel_set_subs(&t, ch, 2, 5);
    ck_assert_uint_eq(ch->nsubs, 8);
    channel_set_subs(&t, ch, 0, 1);
    ck_assert_uint_eq(ch->nsubs, 6);
    channel_set_subs(&t, ch, 2, 0);
    ck_assert_uint_eq(ch->nsubs, 1);
    channel_set_subs(&t, ch, 3, 10);
    ck_assert_uint_eq(ch->nsubs, 11);
    ck_assert_uint_eq(ch->subs[0], 1);
    ck_assert_uint_eq(ch->subs[1], 0);
    ck_assert_uint_eq(ch->subs[3], 10);
    channel_set_subs(&t, ch, 4, 7); /* no such slot: ignored */
    ck_assert_uint_eq(ch->nsubs, 11);
}
END_TEST

/* Recovery ----------------------------------------------------------------- */

static struct channel *five_of_ten(void)
{
    struct pubsub_conf c = conf_default();
    struct channel *ch;

    c.history = 5;
    init_with(&c);
    ch = get("a");
    for (int i = 1; i <= 10; i++)
        pub(ch, i);
    assert_history(ch, 6, 10);
    return ch;
}

static void since(const struct channel *ch, uint64_t epoch, uint64_t offset,
                  int recovered, uint64_t from, uint32_t count)
{
    struct recovery r;

    memset(&r, 0xa5, sizeof(r));
    channel_since(ch, epoch, offset, &r);
    ck_assert_int_eq(r.recovered, recovered);
    ck_assert_uint_eq(r.count, count);
    if (from == 0) {
        ck_assert_ptr_null(r.from);
        return;
    }
    ck_assert_ptr_nonnull(r.from);
    ck_assert_uint_eq(r.from->offset, from);
    /* count messages from there to the last */
    uint32_t n = 0;
    for (const struct hmsg *m = r.from; m != NULL; m = m->next)
        n++;
    ck_assert_uint_eq(n, count);
}

START_TEST(test_since_same_position)
{
    struct channel *ch = five_of_ten();

    since(ch, ch->epoch, 10, 1, 0, 0);
}
END_TEST

START_TEST(test_since_behind_in_window)
{
    struct channel *ch = five_of_ten();

    since(ch, ch->epoch, 9, 1, 10, 1);
    since(ch, ch->epoch, 7, 1, 8, 3);
    /* offset + 1 == the first kept: exactly recoverable */
    since(ch, ch->epoch, 5, 1, 6, 5);
}
END_TEST

START_TEST(test_since_gap)
{
    struct channel *ch = five_of_ten();

    since(ch, ch->epoch, 4, 0, 0, 0);
    since(ch, ch->epoch, 0, 0, 0, 0);
}
END_TEST

START_TEST(test_since_behind_with_empty_history)
{
    struct pubsub_conf c = conf_default();
    struct channel *ch;

    c.history = 0;
    init_with(&c);
    ch = get("a");
    pub(ch, 1);
    pub(ch, 2);
    since(ch, ch->epoch, 1, 0, 0, 0);
    since(ch, ch->epoch, 2, 1, 0, 0); /* not behind: nothing missed */
}
END_TEST

START_TEST(test_since_other_epoch)
{
    struct channel *ch = five_of_ten();

    since(ch, ch->epoch + 1, 10, 0, 0, 0);
    since(ch, ch->epoch + 1, 8, 0, 0, 0);
}
END_TEST

START_TEST(test_since_ahead)
{
    struct channel *ch = five_of_ten();

    since(ch, ch->epoch, 11, 0, 0, 0);
    since(ch, ch->epoch, UINT64_MAX, 0, 0, 0);
}
END_TEST

START_TEST(test_since_no_position)
{
    struct channel *ch = five_of_ten();

    since(ch, 0, 0, 1, 0, 0);
    since(ch, 0, 3, 1, 0, 0);
    ch = get("fresh");
    since(ch, 0, 0, 1, 0, 0);
}
END_TEST

/* A fresh channel at offset 0: (epoch, 0) is the present. */
START_TEST(test_since_fresh_channel)
{
    struct channel *ch = get("a");

    since(ch, ch->epoch, 0, 1, 0, 0);
    pub(ch, 1);
    since(ch, ch->epoch, 0, 1, 1, 1);
}
END_TEST

/* Positions -----------------------------------------------------------------
 */

START_TEST(test_position_format)
{
    char out[POSITION_MAX];

    ck_assert_int_eq(position_format(0xabc, 12, out, sizeof(out)), 19);
    ck_assert_str_eq(out, "0000000000000abc:12");
    ck_assert_int_eq(position_format(UINT64_MAX, UINT64_MAX, out, sizeof(out)),
                     37);
    ck_assert_str_eq(out, "ffffffffffffffff:18446744073709551615");
    ck_assert_int_eq(position_format(1, 0, out, 20), 18);
    ck_assert_int_eq(position_format(1, 0, out, 18), -1);
}
END_TEST

START_TEST(test_position_parse_valid)
{
    char out[POSITION_MAX];
    uint64_t e, o;

    ck_assert_int_eq(position_parse("0000000000000abc:12", 19, &e, &o), 0);
    ck_assert_uint_eq(e, 0xabc);
    ck_assert_uint_eq(o, 12);
    ck_assert_int_eq(position_parse("0000000000000001:0", 18, &e, &o), 0);
    ck_assert_uint_eq(e, 1);
    ck_assert_uint_eq(o, 0);
    ck_assert_int_eq(
        position_parse("ffffffffffffffff:18446744073709551615", 37, &e, &o), 0);
    ck_assert_uint_eq(e, UINT64_MAX);
    ck_assert_uint_eq(o, UINT64_MAX);
    /* only len bytes count */
    ck_assert_int_eq(position_parse("0123456789abcdef:77xyz", 19, &e, &o), 0);
    ck_assert_uint_eq(e, 0x0123456789abcdefULL);
    ck_assert_uint_eq(o, 77);
    /* round trip */
    position_format(0xfedcba9876543210ULL, 99999, out, sizeof(out));
    ck_assert_int_eq(position_parse(out, strlen(out), &e, &o), 0);
    ck_assert_uint_eq(e, 0xfedcba9876543210ULL);
    ck_assert_uint_eq(o, 99999);
}
END_TEST

START_TEST(test_position_parse_invalid)
{
    static const char *const bad[] = {
        "",
        "0000000000000000:5",                     /* epoch 0: no position */
        "0000000000000ABC:5",                     /* uppercase */
        "000000000000abc:5",                      /* 15 digits */
        "00000000000000abc:5",                    /* 17 digits */
        "0000000000000abc:",                      /* no offset */
        "0000000000000abc",                       /* no colon */
        "0000000000000abc;5",                     /* not a colon */
        "0000000000000abc:05",                    /* leading zero */
        "0000000000000abc:00",                    /* leading zero */
        "0000000000000abc:+5",                    /* sign */
        "0000000000000abc:-5",                    /* sign */
        "0000000000000abc: 5",                    /* space */
        "0000000000000abc:5 ",                    /* trailing space */
        " 000000000000abc:5",                     /* leading space */
        "0000000000000abc:5:6",                   /* more */
        "0000000000000abg:5",                     /* not hex */
        "0x00000000000abc:5",                     /* prefix */
        "0000000000000abc:18446744073709551616",  /* 2^64 */
        "0000000000000abc:99999999999999999999",  /* 20 digits, over */
        "0000000000000abc:100000000000000000000", /* 21 digits */
        "0000000000000abc:1.5",
    };
    uint64_t e = 7, o = 7;

    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        ck_assert_msg(position_parse(bad[i], strlen(bad[i]), &e, &o) == -1,
                      "accepted '%s'", bad[i]);
        ck_assert_uint_eq(e, 7);
        ck_assert_uint_eq(o, 7);
    }
    /* a NUL inside */
    ck_assert_int_eq(position_parse("0000000000000abc:1\0", 19, &e, &o), -1);
}
END_TEST

/* Names --------------------------------------------------------------- */

START_TEST(test_names)
{
    char name[HUB_CHANNEL_MAX + 1];
    static const char *const good[] = {
        "a",
        "chat.room-1",
        "news:sports/eu",
        "~!@#$%^&*()_+{}[]|\\\"'<>?,=`",
        "caf\xc3\xa9",
        "\xe2\x82\xac",
        "\xf0\x9f\x98\x80",
        "\xc2\xa0",
    };
    static const char *const bad[] = {
        "a b",          "a\tb",     "a\nb",     "\x7f",
        "a\x01",        "caf\xc3",  "\xc3\x28", "\xc0\xaf",
        "\xed\xa0\x80", "\xc2\x80", "\xc2\x9f", "\xff",
    };

    for (size_t i = 0; i < ARRAY_LEN(good); i++)
        ck_assert_msg(channel_name_ok(good[i], strlen(good[i])), "refused '%s'",
                      good[i]);
    for (size_t i = 0; i < ARRAY_LEN(bad); i++)
        ck_assert_msg(!channel_name_ok(bad[i], strlen(bad[i])), "accepted '%s'",
                      bad[i]);
    ck_assert(!channel_name_ok("", 0));
    ck_assert(!channel_name_ok("a\0b", 3));
    memset(name, 'x', sizeof(name));
    ck_assert(channel_name_ok(name, HUB_CHANNEL_MAX));
    ck_assert(!channel_name_ok(name, HUB_CHANNEL_MAX + 1));
}
END_TEST

/* Templates ------------------------------------------------------------ */

static const char *const room_id[] = {"room", "id"};

static void check_ok(const char *tmpl)
{
    char e[256] = "";

    ck_assert_msg(channel_template_check(tmpl, room_id, 2, e, sizeof(e)) == 0,
                  "'%s': %s", tmpl, e);
}

static void check_err(const char *tmpl, size_t nnames, const char *msg)
{
    char e[512] = "";

    ck_assert_int_eq(
        channel_template_check(tmpl, room_id, nnames, e, sizeof(e)), -1);
    ck_assert_str_eq(e, msg);
}

START_TEST(test_template_check)
{
    char long_tmpl[300], msg[512];

    check_ok("chat");
    check_ok("chat.{room}");
    check_ok("{room}");
    check_ok("{room}{id}");
    check_ok("u.{id}.r.{room}.{id}");
    check_ok("caf\xc3\xa9.{room}");
    check_err("chat.{user}", 2,
              "unknown parameter '{user}' in channel 'chat.{user}' (the "
              "path has room, id)");
    check_err("chat.{room}", 0,
              "unknown parameter '{room}' in channel 'chat.{room}' (the "
              "path has none)");
    check_err("chat.{}", 2,
              "unknown parameter '{}' in channel 'chat.{}' (the path has "
              "room, id)");
    check_err("chat.{room", 2, "unbalanced '{' at offset 5 of 'chat.{room'");
    check_err("chat.{ro{om}", 2,
              "unbalanced '{' at offset 5 of 'chat.{ro{om}'");
    check_err("chat.room}", 2, "unbalanced '}' at offset 9 of 'chat.room}'");
    check_err("{room}}", 2, "unbalanced '}' at offset 6 of '{room}}'");
    check_err("chat room.{room}", 2,
              "bad character in channel 'chat room.{room}' (a name is "
              "printable characters: no space or control character)");
    check_err("chat.{room}\x01", 2,
              "bad character in channel 'chat.{room}\x01' (a name is "
              "printable characters: no space or control character)");
    check_err("", 2, "empty channel name");
    memset(long_tmpl, 'x', 256);
    strcpy(long_tmpl + 256, "{room}");
    snprintf(msg, sizeof(msg), "channel '%s' is longer than 255 bytes",
             long_tmpl);
    check_err(long_tmpl, 2, msg);
    /* 255 literal bytes are fine */
    strcpy(long_tmpl + 255, "{room}");
    check_ok(long_tmpl);
}
END_TEST

static long fill(const char *tmpl, const char *room, char *out, size_t len)
{
    struct route_param p[2] = {{"room", room}, {"id", "42"}};

    return channel_template_fill(tmpl, p, 2, out, len);
}

START_TEST(test_template_fill)
{
    char out[HUB_CHANNEL_MAX + 1], big[300];

    ck_assert_int_eq(fill("chat.{room}", "lobby", out, sizeof(out)), 10);
    ck_assert_str_eq(out, "chat.lobby");
    ck_assert_int_eq(fill("{room}.{id}.{room}", "x", out, sizeof(out)), 6);
    ck_assert_str_eq(out, "x.42.x");
    ck_assert_int_eq(fill("static", "x", out, sizeof(out)), 6);
    ck_assert_str_eq(out, "static");
    /* a decoded value may hold '/' and UTF-8 */
    ck_assert_int_eq(fill("chat.{room}", "a/b", out, sizeof(out)), 8);
    ck_assert_str_eq(out, "chat.a/b");
    ck_assert_int_eq(fill("c.{room}", "caf\xc3\xa9", out, sizeof(out)), 7);
    /* but not what a name may not have */
    ck_assert_int_eq(fill("chat.{room}", "a b", out, sizeof(out)), -1);
    ck_assert_int_eq(fill("chat.{room}", "a\nb", out, sizeof(out)), -1);
    ck_assert_int_eq(fill("chat.{room}", "\x7f", out, sizeof(out)), -1);
    ck_assert_int_eq(fill("chat.{room}", "\xc3", out, sizeof(out)), -1);
    ck_assert_int_eq(fill("{room}", "", out, sizeof(out)), -1);
    /* too long: 5 + 251 = 256 */
    memset(big, 'r', 251);
    big[251] = '\0';
    ck_assert_int_eq(fill("chat.{room}", big, out, sizeof(out)), -1);
    big[250] = '\0';
    ck_assert_int_eq(fill("chat.{room}", big, out, sizeof(out)), 255);
    /* out too small */
    ck_assert_int_eq(fill("chat.{room}", "lobby", out, 10), -1);
    ck_assert_int_eq(fill("chat.{room}", "lobby", out, 11), 10);
    /* a parameter the request does not have */
    ck_assert_int_eq(fill("chat.{user}", "lobby", out, sizeof(out)), -1);
}
END_TEST

static Suite *channel_suite(void)
{
    Suite *s = suite_create("channel");
    TCase *tc;

    tc = tcase_create("history");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_new_channel);
    tcase_add_test(tc, test_partial_then_full_then_wrapped);
    tcase_add_test(tc, test_many_channels_grow_the_table);
    tcase_add_test(tc, test_history_zero_keeps_nothing);
    tcase_add_test(tc, test_memory_evicts_globally_oldest);
    tcase_add_test(tc, test_message_larger_than_memory);
    tcase_add_test(tc, test_too_big);
    tcase_add_test(tc, test_too_many);
    tcase_add_test(tc, test_bad_name);
    suite_add_tcase(s, tc);

    tc = tcase_create("expiry");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_ttl_expiry);
    tcase_add_test(tc, test_expired_channel_freed_and_recreated_with_new_epoch);
    tcase_add_test(tc, test_not_freed_while_subscribed);
    tcase_add_test(tc, test_not_freed_while_history);
    tcase_add_test(tc, test_set_subs_sums_slots);
    suite_add_tcase(s, tc);

    tc = tcase_create("recovery");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_since_same_position);
    tcase_add_test(tc, test_since_behind_in_window);
    tcase_add_test(tc, test_since_gap);
    tcase_add_test(tc, test_since_behind_with_empty_history);
    tcase_add_test(tc, test_since_other_epoch);
    tcase_add_test(tc, test_since_ahead);
    tcase_add_test(tc, test_since_no_position);
    tcase_add_test(tc, test_since_fresh_channel);
    suite_add_tcase(s, tc);

    tc = tcase_create("names");
    tcase_add_test(tc, test_position_format);
    tcase_add_test(tc, test_position_parse_valid);
    tcase_add_test(tc, test_position_parse_invalid);
    tcase_add_test(tc, test_names);
    tcase_add_test(tc, test_template_check);
    tcase_add_test(tc, test_template_fill);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(channel_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
