/*
 * test_timer.c - module timers (src/timer.c): firing once, cancelling
 * before and inside the callback, the handle's lifetime; periodic timers
 * firing until cancelled, from inside or from another callback.
 */
#include "internal.h"

#include <check.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static struct worker w;
static int fired;
static sq_timer *self;

static void setup(void)
{
    memset(&w, 0, sizeof(w));
    w.base = event_base_new();
    ck_assert_ptr_nonnull(w.base);
    worker = &w;
    fired = 0;
    self = NULL;
}

static void teardown(void)
{
    event_base_free(w.base);
    worker = NULL;
}

static void count(void *arg)
{
    (void)arg;
    fired++;
}

START_TEST(fires_once)
{
    ck_assert_ptr_nonnull(sq_call_later(1, count, NULL));
    event_base_dispatch(w.base); /* returns when no event is left */
    ck_assert_int_eq(fired, 1);
}
END_TEST

START_TEST(cancel_before_it_fires)
{
    sq_timer *t = sq_call_later(10, count, NULL);

    ck_assert_ptr_nonnull(t);
    sq_timer_cancel(t);
    event_base_dispatch(w.base);
    ck_assert_int_eq(fired, 0);
}
END_TEST

/* The handle lives until the callback returns: cancelling it there (as a
 * request's cleanup does) is allowed and frees nothing twice. */
static void cancel_self(void *arg)
{
    (void)arg;
    fired++;
    sq_timer_cancel(self);
}

START_TEST(cancel_inside_the_callback)
{
    self = sq_call_later(1, cancel_self, NULL);
    ck_assert_ptr_nonnull(self);
    event_base_dispatch(w.base);
    ck_assert_int_eq(fired, 1);
}
END_TEST

static void chain(void *arg)
{
    fired++;
    if (fired < 3)
        ck_assert_ptr_nonnull(sq_call_later(0, chain, arg));
}

START_TEST(a_callback_may_start_another_timer)
{
    ck_assert_ptr_nonnull(sq_call_later(0, chain, NULL));
    event_base_dispatch(w.base);
    ck_assert_int_eq(fired, 3);
}
END_TEST

START_TEST(no_loop_no_timer)
{
    worker = NULL;
    ck_assert_ptr_null(sq_call_later(1, count, NULL));
    ck_assert_ptr_null(sq_event_base());
    sq_timer_cancel(NULL);
    worker = &w;
    ck_assert_ptr_eq(sq_event_base(), w.base);
}
END_TEST

/* Periodic ------------------------------------------------------------ */

static sq_timer *other;
static int after_cancel, other_cancelled;

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Stops itself on its 5th call; the loop then has nothing left and
 * returns, which proves the event is gone from the base too. */
static void tick_five(void *arg)
{
    (void)arg;
    if (++fired == 5)
        sq_timer_cancel(self);
}

START_TEST(periodic_fires_until_cancelled_inside)
{
    uint64_t start = now_ms();

    self = sq_call_every(10, tick_five, NULL);
    ck_assert_ptr_nonnull(self);
    event_base_dispatch(w.base);
    ck_assert_int_eq(fired, 5);
    ck_assert_uint_ge(now_ms() - start, 45); /* 5 periods, not 5 at once */
}
END_TEST

static void cancel_other(void *arg)
{
    (void)arg;
    sq_timer_cancel(other);
    other_cancelled = 1;
}

/* On its third tick it asks another callback to cancel it (a one-shot due
 * now; a tick may still come first, which is fine): once cancelled, no
 * tick may follow. Counting ticks rather than waiting a time keeps the
 * test independent of how busy the machine is. */
static void tick_forever(void *arg)
{
    (void)arg;
    if (other_cancelled)
        after_cancel++;
    if (++fired == 3)
        ck_assert_ptr_nonnull(sq_call_later(0, cancel_other, NULL));
    if (fired > 100)
        event_base_loopbreak(w.base); /* never: the test failed */
}

START_TEST(periodic_cancelled_from_another_callback)
{
    after_cancel = other_cancelled = 0;
    other = sq_call_every(2, tick_forever, NULL);
    ck_assert_ptr_nonnull(other);
    event_base_dispatch(w.base); /* returns once both are gone */
    ck_assert_int_eq(other_cancelled, 1);
    ck_assert_int_eq(after_cancel, 0);
    ck_assert_int_ge(fired, 3);
    ck_assert_int_le(fired, 100);
}
END_TEST

/* A periodic callback that starts and cancels other timers, then stops
 * itself, keeps working: the handle is not freed under it. */
static void tick_busy(void *arg)
{
    (void)arg;
    sq_timer_cancel(sq_call_later(1000, count, NULL));
    if (++fired == 3) {
        sq_timer_cancel(self);
        sq_timer_cancel(self); /* still inside: a second mark is harmless */
    }
}

START_TEST(periodic_cancel_twice_inside)
{
    self = sq_call_every(1, tick_busy, NULL);
    ck_assert_ptr_nonnull(self);
    event_base_dispatch(w.base);
    ck_assert_int_eq(fired, 3);
}
END_TEST

START_TEST(periodic_cancel_before_it_fires)
{
    sq_timer *t = sq_call_every(1, count, NULL);

    ck_assert_ptr_nonnull(t);
    sq_timer_cancel(t);
    event_base_dispatch(w.base);
    ck_assert_int_eq(fired, 0);
}
END_TEST

START_TEST(periodic_needs_an_interval)
{
    ck_assert_ptr_null(sq_call_every(0, count, NULL));
    ck_assert_ptr_null(sq_call_every(10, NULL, NULL));
    worker = NULL;
    ck_assert_ptr_null(sq_call_every(10, count, NULL));
    worker = &w;
}
END_TEST

int main(void)
{
    Suite *s = suite_create("timer");
    TCase *tc = tcase_create("timer");
    SRunner *sr;
    int failed;

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, fires_once);
    tcase_add_test(tc, cancel_before_it_fires);
    tcase_add_test(tc, cancel_inside_the_callback);
    tcase_add_test(tc, a_callback_may_start_another_timer);
    tcase_add_test(tc, no_loop_no_timer);
    tcase_add_test(tc, periodic_fires_until_cancelled_inside);
    tcase_add_test(tc, periodic_cancelled_from_another_callback);
    tcase_add_test(tc, periodic_cancel_twice_inside);
    tcase_add_test(tc, periodic_cancel_before_it_fires);
    tcase_add_test(tc, periodic_needs_an_interval);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
