/*
 * test_hubredis.c - the pure parts of the hub's link to Redis: the ordered
 * output queue (outq.c), messages and URLs as Redis carries them
 * (redisproto.c), and channels fed with positions given elsewhere
 * (channel_append, channel_reset, channel_set_pinned in channel.c).
 */
#include "internal.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- outq ------------------------------------------------------------- */

static void put(struct buf *b, const char *s)
{
    ck_assert_ptr_nonnull(b);
    ck_assert_int_eq(buf_add(b, s, strlen(s)), 0);
}

static int ready_is(const struct outq *q, const char *s)
{
    return buf_pending(&q->out) == strlen(s) &&
           (*s == '\0' || memcmp(q->out.p + q->out.off, s, strlen(s)) == 0);
}

START_TEST(test_outq_no_hole_goes_straight_out)
{
    struct outq q;

    memset(&q, 0, sizeof(q));
    put(outq_tail(&q), "a");
    put(outq_tail(&q), "b");
    ck_assert(ready_is(&q, "ab"));
    ck_assert_uint_eq(outq_size(&q), 2);
    ck_assert_int_eq(outq_waiting(&q), 0);
    outq_free(&q);
}
END_TEST

START_TEST(test_outq_hole_holds_what_follows)
{
    struct outq q;
    struct outq_seg *s;

    memset(&q, 0, sizeof(q));
    put(outq_tail(&q), "1");
    s = outq_reserve(&q);
    ck_assert_ptr_nonnull(s);
    put(outq_tail(&q), "3");
    put(outq_tail(&q), "4");
    ck_assert(ready_is(&q, "1"));
    ck_assert_int_eq(outq_waiting(&q), 1);
    ck_assert_uint_eq(outq_size(&q), 3);
    put(&s->b, "2");
    ck_assert_uint_eq(outq_size(&q), 4);
    outq_fill(&q, s);
    ck_assert(ready_is(&q, "1234"));
    ck_assert_int_eq(outq_waiting(&q), 0);
    put(outq_tail(&q), "5");
    ck_assert(ready_is(&q, "12345"));
    outq_free(&q);
}
END_TEST

START_TEST(test_outq_filled_out_of_order)
{
    struct outq q;
    struct outq_seg *s1, *s2, *s3;

    memset(&q, 0, sizeof(q));
    s1 = outq_reserve(&q);
    put(outq_tail(&q), "b");
    s2 = outq_reserve(&q);
    s3 = outq_reserve(&q);
    put(outq_tail(&q), "e");
    /* the later ones first: nothing moves until the first is in */
    put(&s3->b, "d");
    outq_fill(&q, s3);
    put(&s2->b, "c");
    outq_fill(&q, s2);
    ck_assert(ready_is(&q, ""));
    ck_assert_int_eq(outq_waiting(&q), 1);
    put(&s1->b, "a");
    outq_fill(&q, s1);
    ck_assert(ready_is(&q, "abcde"));
    ck_assert_int_eq(outq_waiting(&q), 0);
    outq_free(&q);
}
END_TEST

START_TEST(test_outq_written_out_then_more)
{
    struct outq q;
    struct outq_seg *s;

    memset(&q, 0, sizeof(q));
    put(outq_tail(&q), "xy");
    buf_consume(&q.out, 2); /* written */
    s = outq_reserve(&q);
    put(outq_tail(&q), "z");
    outq_fill(&q, s); /* an empty answer: what waited goes */
    ck_assert(ready_is(&q, "z"));
    /* freed with holes still open */
    outq_reserve(&q);
    put(outq_tail(&q), "w");
    outq_free(&q);
}
END_TEST

/* --- redisproto ------------------------------------------------------- */

START_TEST(test_payload_round_trip)
{
    struct buf b = {0};
    const char data[] = "a\nb\0c:";
    uint64_t e, o;
    const char *d;
    size_t len;

    ck_assert_int_eq(redis_payload_encode(&b, 0x0123456789abcdefULL, 42, data,
                                          sizeof(data)),
                     0);
    ck_assert_int_eq(memcmp(b.p, "0123456789abcdef:42\n", 20), 0);
    ck_assert_int_eq(redis_payload_decode(b.p, b.len, &e, &o, &d, &len), 0);
    ck_assert(e == 0x0123456789abcdefULL);
    ck_assert(o == 42);
    ck_assert_uint_eq(len, sizeof(data));
    ck_assert_int_eq(memcmp(d, data, len), 0);
    buf_free(&b);
    /* empty data */
    ck_assert_int_eq(redis_payload_encode(&b, 1, UINT64_MAX, NULL, 0), 0);
    ck_assert_int_eq(redis_payload_decode(b.p, b.len, &e, &o, &d, &len), 0);
    ck_assert(e == 1 && o == UINT64_MAX && len == 0);
    buf_free(&b);
}
END_TEST

START_TEST(test_payload_invalid)
{
    static const char *const bad[] = {
        "",
        "0123456789abcdef:1",           /* no newline */
        "0000000000000000:1\nx",        /* epoch 0 */
        "0123456789abcdef:0\nx",        /* offset 0 */
        "0123456789ABCDEF:1\nx",        /* uppercase */
        "0123456789abcde:1\nx",         /* 15 digits */
        "0123456789abcdef:01\nx",       /* leading zero */
        "0123456789abcdef:-1\nx",       /* sign */
        "0123456789abcdef:18446744073709551616\nx", /* over 64 bits */
        "0123456789abcdef;1\nx",
    };
    uint64_t e, o;
    const char *d;
    size_t len;

    for (size_t i = 0; i < ARRAY_LEN(bad); i++)
        ck_assert_msg(redis_payload_decode(bad[i], strlen(bad[i]), &e, &o, &d,
                                           &len) < 0,
                      "%s", bad[i]);
}
END_TEST

START_TEST(test_url_parse)
{
    struct redis_url u;

    ck_assert_int_eq(redis_url_parse("redis://127.0.0.1:6379", &u), 0);
    ck_assert_str_eq(u.host, "127.0.0.1");
    ck_assert_int_eq(u.port, 6379);
    ck_assert_int_eq(u.db, 0);
    ck_assert_int_eq(redis_url_parse("redis://cache.example:1/15", &u), 0);
    ck_assert_str_eq(u.host, "cache.example");
    ck_assert_int_eq(u.port, 1);
    ck_assert_int_eq(u.db, 15);
    ck_assert_int_eq(redis_url_parse("redis://[::1]:65535/2147483647", &u), 0);
    ck_assert_str_eq(u.host, "::1");
    ck_assert_int_eq(u.port, 65535);
    ck_assert_int_eq(u.db, 2147483647);
    ck_assert_int_eq(redis_url_parse("redis://h:0", &u), -1);
    ck_assert_int_eq(redis_url_parse("redis://h:65536", &u), -1);
    ck_assert_int_eq(redis_url_parse("redis://h", &u), -1);
    ck_assert_int_eq(redis_url_parse("redis://:1", &u), -1);
    ck_assert_int_eq(redis_url_parse("redis://h:1/2147483648", &u), -1);
    ck_assert_int_eq(redis_url_parse("http://h:1", &u), -1);
}
END_TEST

/* --- channels fed from elsewhere ------------------------------------- */

static uint64_t fixed_epoch(void *arg)
{
    (void)arg;
    return 7;
}

static struct channels t;

static void ch_setup(void)
{
    struct pubsub_conf c;

    memset(&c, 0, sizeof(c));
    c.history = 3;
    c.history_ttl_ms = 60000;
    c.max_channels = 10;
    c.max_message_size = 100;
    c.max_history_memory = 1 << 20;
    c.hub_queue = 1 << 20;
    ck_assert_int_eq(channels_init(&t, &c, 2, fixed_epoch, NULL), 0);
}

static void ch_teardown(void)
{
    channels_free(&t);
}

static struct channel *get(const char *name)
{
    int err;
    struct channel *ch = channel_get(&t, name, strlen(name), &err);

    ck_assert_ptr_nonnull(ch);
    return ch;
}

START_TEST(test_append_follows_restarts_and_ignores)
{
    struct channel *ch = get("c");
    struct recovery r;
    int err;

    /* another epoch: the history starts at it */
    ck_assert_int_eq(channel_append(&t, ch, 99, 5, "e", 1, 0, &err), 2);
    ck_assert(ch->epoch == 99 && ch->offset == 5 && ch->count == 1);
    ck_assert_int_eq(channel_append(&t, ch, 99, 6, "f", 1, 0, &err), 1);
    /* had it */
    ck_assert_int_eq(channel_append(&t, ch, 99, 6, "f", 1, 0, &err), 0);
    ck_assert_int_eq(channel_append(&t, ch, 99, 2, "b", 1, 0, &err), 0);
    ck_assert(ch->offset == 6 && ch->count == 2);
    channel_since(ch, 99, 4, &r);
    ck_assert_int_eq(r.recovered, 1); /* 5 and 6 are kept */
    ck_assert_uint_eq(r.count, 2);
    /* a gap: what was kept no longer leads up to it */
    ck_assert_int_eq(channel_append(&t, ch, 99, 9, "i", 1, 0, &err), 2);
    ck_assert(ch->offset == 9 && ch->count == 1);
    channel_since(ch, 99, 6, &r);
    ck_assert_int_eq(r.recovered, 0);
    channel_since(ch, 99, 8, &r);
    ck_assert_int_eq(r.recovered, 1);
    ck_assert_uint_eq(r.count, 1);
    /* too large for this host: not kept, the channel is past it */
    char big[200];
    memset(big, 'x', sizeof(big));
    ck_assert_int_eq(channel_append(&t, ch, 99, 10, big, sizeof(big), 0, &err),
                     -1);
    ck_assert_int_eq(err, HUB_ETOOBIG);
    ck_assert(ch->offset == 10 && ch->count == 0);
    channel_since(ch, 99, 9, &r);
    ck_assert_int_eq(r.recovered, 0);
}
END_TEST

START_TEST(test_reset_and_pin)
{
    struct channel *ch = get("p");
    int err;

    channel_publish(&t, ch, "a", 1, 0, &err);
    channel_reset(&t, ch, 1234, 77);
    ck_assert(ch->epoch == 1234 && ch->offset == 77 && ch->count == 0);
    /* idle, but pinned: kept */
    channel_set_pinned(&t, ch, 1);
    channels_expire(&t, 0);
    ck_assert_ptr_eq(channel_find(&t, "p", 1), ch);
    channel_set_pinned(&t, ch, 0);
    channels_expire(&t, 0);
    ck_assert_ptr_null(channel_find(&t, "p", 1));
}
END_TEST

static Suite *hubredis_suite(void)
{
    Suite *s = suite_create("hubredis");
    TCase *tc;

    tc = tcase_create("outq");
    tcase_add_test(tc, test_outq_no_hole_goes_straight_out);
    tcase_add_test(tc, test_outq_hole_holds_what_follows);
    tcase_add_test(tc, test_outq_filled_out_of_order);
    tcase_add_test(tc, test_outq_written_out_then_more);
    suite_add_tcase(s, tc);

    tc = tcase_create("redisproto");
    tcase_add_test(tc, test_payload_round_trip);
    tcase_add_test(tc, test_payload_invalid);
    tcase_add_test(tc, test_url_parse);
    suite_add_tcase(s, tc);

    tc = tcase_create("channels");
    tcase_add_checked_fixture(tc, ch_setup, ch_teardown);
    tcase_add_test(tc, test_append_follows_restarts_and_ignores);
    tcase_add_test(tc, test_reset_and_pin);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(hubredis_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
