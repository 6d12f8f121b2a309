/*
 * test_timer.c - module timers (src/timer.c): firing once, cancelling
 * before and inside the callback, the handle's lifetime.
 */
#include "internal.h"

#include <check.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

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
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
