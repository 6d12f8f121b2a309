/*
 * test_threadpool.c - the worker's thread pool (src/threadpool.c): where
 * work and done run, many jobs, the bounded queue, the idle notice the
 * worker's stop waits for, and freeing with jobs still queued.
 */
#include "internal.h"

#include <check.h>
#include <event2/event.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static struct worker w;
static pthread_t loop_thread;
static int idle_calls;

static void on_idle(void *arg)
{
    (void)arg;
    idle_calls++;
    event_base_loopbreak(w.base);
}

static void setup(void)
{
    memset(&w, 0, sizeof(w));
    w.base = event_base_new();
    ck_assert_ptr_nonnull(w.base);
    worker = &w;
    loop_thread = pthread_self();
    idle_calls = 0;
}

static void teardown(void)
{
    threadpool_free(w.pool);
    event_base_free(w.base);
    worker = NULL;
}

static void new_pool(unsigned threads, unsigned queue_max)
{
    w.pool = threadpool_new(w.base, threads, queue_max, on_idle, NULL);
    ck_assert_ptr_nonnull(w.pool);
}

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};

    while (nanosleep(&ts, &ts) < 0)
        ;
}

/* A loop run that fails the test instead of hanging. */
static void run_loop(unsigned max_ms)
{
    struct timeval tv = {max_ms / 1000, (suseconds_t)(max_ms % 1000) * 1000};

    event_base_loopexit(w.base, &tv);
    event_base_dispatch(w.base);
}

/* One job that records its threads ------------------------------------- */

struct where {
    pthread_t work, done;
    int worked, finished;
};

static void where_work(void *arg)
{
    struct where *wh = arg;

    wh->work = pthread_self();
    wh->worked = 1;
}

static void where_done(void *arg)
{
    struct where *wh = arg;

    wh->done = pthread_self();
    wh->finished++;
}

START_TEST(work_runs_off_the_loop_and_done_on_it)
{
    struct where wh = {0};

    new_pool(2, 16);
    ck_assert_int_eq(sq_run_in_pool(where_work, where_done, &wh), 0);
    ck_assert_uint_eq(threadpool_inflight(w.pool), 1);
    run_loop(5000);
    ck_assert_int_eq(wh.worked, 1);
    ck_assert_int_eq(wh.finished, 1);
    ck_assert(!pthread_equal(wh.work, loop_thread));
    ck_assert(pthread_equal(wh.done, loop_thread));
    ck_assert_int_eq(idle_calls, 1);
    ck_assert_uint_eq(threadpool_inflight(w.pool), 0);
}
END_TEST

START_TEST(no_pool_is_an_error)
{
    struct where wh = {0};

    ck_assert_int_eq(sq_run_in_pool(where_work, where_done, &wh), SQ_ERROR);
    worker = NULL;
    ck_assert_int_eq(sq_run_in_pool(where_work, where_done, &wh), SQ_ERROR);
    worker = &w;
    new_pool(1, 4);
    ck_assert_int_eq(sq_run_in_pool(NULL, where_done, &wh), SQ_ERROR);
    ck_assert_uint_eq(threadpool_inflight(w.pool), 0);
    ck_assert_int_eq(wh.finished, 0);
}
END_TEST

/* Many jobs ------------------------------------------------------------- */

#define MANY 2000

static int many_done[MANY];
static int many_worked[MANY];

static void many_work(void *arg)
{
    many_worked[(int *)arg - many_done]++;
}

static void many_finish(void *arg)
{
    ck_assert(pthread_equal(pthread_self(), loop_thread));
    (*(int *)arg)++;
}

START_TEST(many_jobs_each_run_and_complete_once)
{
    memset(many_done, 0, sizeof(many_done));
    memset(many_worked, 0, sizeof(many_worked));
    new_pool(4, MANY);
    for (int i = 0; i < MANY; i++)
        ck_assert_int_eq(sq_run_in_pool(many_work, many_finish, &many_done[i]),
                         0);
    run_loop(20000);
    ck_assert_int_eq(idle_calls, 1);
    for (int i = 0; i < MANY; i++) {
        ck_assert_int_eq(many_worked[i], 1);
        ck_assert_int_eq(many_done[i], 1);
    }
}
END_TEST

static void sleep_100(void *arg)
{
    (void)arg;
    sleep_ms(100);
}

START_TEST(jobs_run_in_parallel)
{
    uint64_t start = now_ms(), took;

    new_pool(4, 16);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(sq_run_in_pool(sleep_100, NULL, NULL), 0);
    run_loop(5000);
    took = now_ms() - start;
    ck_assert_int_eq(idle_calls, 1);
    ck_assert_uint_ge(took, 100);
    ck_assert_uint_lt(took, 350); /* one after the other: 400 */
}
END_TEST

/* The bounded queue ----------------------------------------------------- */

static pthread_mutex_t gate_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cv = PTHREAD_COND_INITIALIZER;
static int gate_open, gate_entered;

static void gate_reset(void)
{
    gate_open = gate_entered = 0;
}

static void gated_work(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&gate_mu);
    gate_entered++;
    pthread_cond_broadcast(&gate_cv);
    while (!gate_open)
        pthread_cond_wait(&gate_cv, &gate_mu);
    pthread_mutex_unlock(&gate_mu);
}

static void wait_entered(int n)
{
    pthread_mutex_lock(&gate_mu);
    while (gate_entered < n)
        pthread_cond_wait(&gate_cv, &gate_mu);
    pthread_mutex_unlock(&gate_mu);
}

static void open_gate(void)
{
    pthread_mutex_lock(&gate_mu);
    gate_open = 1;
    pthread_cond_broadcast(&gate_cv);
    pthread_mutex_unlock(&gate_mu);
}

static int completed;

static void count_done(void *arg)
{
    (void)arg;
    completed++;
}

static void never(void *arg)
{
    (void)arg;
    ck_abort_msg("a refused job ran");
}

START_TEST(a_full_queue_says_again)
{
    gate_reset();
    completed = 0;
    new_pool(1, 2);
    ck_assert_int_eq(sq_run_in_pool(gated_work, count_done, NULL), 0);
    wait_entered(1); /* running: the queue is empty again */
    ck_assert_int_eq(sq_run_in_pool(gated_work, count_done, NULL), 0);
    ck_assert_int_eq(sq_run_in_pool(gated_work, count_done, NULL), 0);
    ck_assert_int_eq(sq_run_in_pool(never, never, NULL), SQ_AGAIN);
    ck_assert_uint_eq(threadpool_inflight(w.pool), 3);
    open_gate();
    run_loop(5000);
    ck_assert_int_eq(completed, 3);
    ck_assert_int_eq(idle_calls, 1);
    /* room again */
    ck_assert_int_eq(sq_run_in_pool(gated_work, count_done, NULL), 0);
    run_loop(5000);
    ck_assert_int_eq(completed, 4);
}
END_TEST

/* Only the loop thread may submit ----------------------------------------- */

static int nested_rc = 12345;

static void submit_from_pool(void *arg)
{
    (void)arg;
    nested_rc = sq_run_in_pool(never, never, NULL);
}

START_TEST(a_pool_thread_cannot_submit)
{
    completed = 0;
    new_pool(1, 4);
    ck_assert_int_eq(sq_run_in_pool(submit_from_pool, count_done, NULL), 0);
    run_loop(5000);
    ck_assert_int_eq(nested_rc, SQ_ERROR);
    ck_assert_int_eq(completed, 1);
}
END_TEST

/* Idle, and the worker's stop --------------------------------------------- */

static int chain_left;

static void chain_done(void *arg)
{
    (void)arg;
    ck_assert_int_eq(idle_calls, 0); /* not while a job is in flight */
    if (--chain_left > 0)
        ck_assert_int_eq(sq_run_in_pool(sleep_100, chain_done, NULL), 0);
}

START_TEST(idle_waits_for_jobs_that_done_starts)
{
    chain_left = 3;
    new_pool(2, 4);
    ck_assert_int_eq(sq_run_in_pool(sleep_100, chain_done, NULL), 0);
    run_loop(5000);
    ck_assert_int_eq(chain_left, 0);
    ck_assert_int_eq(idle_calls, 1);
}
END_TEST

/* The worker's stop, in small: the loop runs until the pool is idle or a
 * deadline passes. A job that outlasts the deadline is still in flight
 * then (the worker exits without it); one that does not has completed. */
static int deadline_hit;

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what, (void)arg;
    deadline_hit = 1;
    event_base_loopbreak(w.base);
}

static uint64_t stop_with_deadline(unsigned ms)
{
    struct timeval tv = {0, (suseconds_t)ms * 1000};
    struct event *ev = evtimer_new(w.base, on_deadline, NULL);
    uint64_t start = now_ms();

    deadline_hit = 0;
    ck_assert_ptr_nonnull(ev);
    evtimer_add(ev, &tv);
    event_base_dispatch(w.base);
    event_free(ev);
    return now_ms() - start;
}

START_TEST(stop_waits_for_a_job_within_the_deadline)
{
    uint64_t took;

    completed = 0;
    new_pool(2, 4);
    ck_assert_int_eq(sq_run_in_pool(sleep_100, count_done, NULL), 0);
    took = stop_with_deadline(800);
    ck_assert_int_eq(deadline_hit, 0);
    ck_assert_int_eq(completed, 1);
    ck_assert_uint_ge(took, 90);
    ck_assert_uint_lt(took, 800);
}
END_TEST

START_TEST(stop_deadline_leaves_a_long_job_in_flight)
{
    uint64_t took;

    gate_reset();
    completed = 0;
    new_pool(2, 4);
    ck_assert_int_eq(sq_run_in_pool(gated_work, count_done, NULL), 0);
    ck_assert_int_eq(sq_run_in_pool(sleep_100, count_done, NULL), 0);
    took = stop_with_deadline(300);
    ck_assert_int_eq(deadline_hit, 1);
    ck_assert_uint_ge(took, 290);
    ck_assert_int_eq(completed, 1); /* the short one */
    ck_assert_uint_eq(threadpool_inflight(w.pool), 1);
    open_gate(); /* so that teardown's free can join it */
}
END_TEST

/* threadpool_free lets queued jobs run and runs their done on the caller,
 * the loop thread. */
START_TEST(free_finishes_queued_jobs)
{
    struct where wh[5];

    memset(wh, 0, sizeof(wh));
    new_pool(1, 8);
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(sq_run_in_pool(where_work, where_done, &wh[i]), 0);
    threadpool_free(w.pool);
    w.pool = NULL;
    for (int i = 0; i < 5; i++) {
        ck_assert_int_eq(wh[i].worked, 1);
        ck_assert_int_eq(wh[i].finished, 1);
        ck_assert(pthread_equal(wh[i].done, loop_thread));
    }
    ck_assert_int_eq(idle_calls, 0); /* the owner is going away */
}
END_TEST

int main(void)
{
    Suite *s = suite_create("threadpool");
    TCase *tc = tcase_create("threadpool");
    SRunner *sr;
    int failed;

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, work_runs_off_the_loop_and_done_on_it);
    tcase_add_test(tc, no_pool_is_an_error);
    tcase_add_test(tc, many_jobs_each_run_and_complete_once);
    tcase_add_test(tc, jobs_run_in_parallel);
    tcase_add_test(tc, a_full_queue_says_again);
    tcase_add_test(tc, a_pool_thread_cannot_submit);
    tcase_add_test(tc, idle_waits_for_jobs_that_done_starts);
    tcase_add_test(tc, stop_waits_for_a_job_within_the_deadline);
    tcase_add_test(tc, stop_deadline_leaves_a_long_job_in_flight);
    tcase_add_test(tc, free_finishes_queued_jobs);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
