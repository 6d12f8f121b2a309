/*
 * threadpool.c - a worker's thread pool: blocking or CPU-heavy jobs run on
 * a few threads, and their completion comes back to the worker's loop
 * (sq_run_in_pool, Tornado's run_in_executor).
 *
 * A job goes loop -> queue -> a pool thread runs work(arg) -> done list ->
 * the loop runs done(arg). The queue and the done list share one mutex; a
 * thread that puts the first job on an empty done list writes to an
 * eventfd, which the loop watches, so nothing polls. The loop takes the
 * whole done list at once and runs the callbacks in the order the jobs
 * finished.
 *
 * A job is "in flight" from submit until its done callback has returned;
 * the worker stops only when none is (or at shutdown_timeout), and the
 * idle callback tells it when the count falls to 0.
 */
#include "internal.h"

#include <errno.h>
#include <event2/event.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct job {
    void (*work)(void *arg);
    void (*done)(void *arg);
    void *arg;
    struct job *next;
};

struct jobq {
    struct job *head, *tail;
    unsigned len;
};

struct threadpool {
    pthread_mutex_t mu;
    pthread_cond_t work_cv; /* a job was queued, or quit */
    struct jobq queue;      /* waiting for a thread */
    struct jobq finished;   /* work ran, done did not */
    unsigned queue_max;
    int quit; /* threads exit once the queue is empty */

    /* loop thread only */
    struct event_base *base;
    struct event *ev; /* efd readable: finished jobs */
    int efd;
    pthread_t loop;
    unsigned inflight;
    void (*idle)(void *arg);
    void *idle_arg;

    pthread_t *threads;
    unsigned nthreads;
};

static void jobq_push(struct jobq *q, struct job *j)
{
    j->next = NULL;
    if (q->tail != NULL)
        q->tail->next = j;
    else
        q->head = j;
    q->tail = j;
    q->len++;
}

static struct job *jobq_pop(struct jobq *q)
{
    struct job *j = q->head;

    if (j == NULL)
        return NULL;
    q->head = j->next;
    if (q->head == NULL)
        q->tail = NULL;
    q->len--;
    return j;
}

/* Pool threads ------------------------------------------------------------ */

static void wake_loop(struct threadpool *p)
{
    uint64_t one = 1;

    /* EAGAIN only when the counter is near overflow: the loop is woken
     * anyway */
    while (write(p->efd, &one, sizeof(one)) < 0 && errno == EINTR)
        ;
}

static void *thread_main(void *arg)
{
    struct threadpool *p = arg;
    struct job *j;

    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (p->queue.len == 0 && !p->quit)
            pthread_cond_wait(&p->work_cv, &p->mu);
        if ((j = jobq_pop(&p->queue)) == NULL)
            break; /* quit, and nothing is left to run */
        pthread_mutex_unlock(&p->mu);
        j->work(j->arg);
        pthread_mutex_lock(&p->mu);
        jobq_push(&p->finished, j);
        if (p->finished.len == 1) /* the loop empties the list on a wake */
            wake_loop(p);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* Pool threads take no asynchronous signal: SIGTERM and friends belong to
 * the loop, and a blocking job is not interrupted by them. Faults stay
 * deliverable so that a crash in a job is reported like any other. */
static int start_threads(struct threadpool *p, unsigned n)
{
    static const int faults[] = {SIGSEGV, SIGBUS,  SIGFPE,
                                 SIGILL,  SIGABRT, SIGTRAP};
    sigset_t all, old;
    int rc = 0;

    sigfillset(&all);
    for (size_t i = 0; i < ARRAY_LEN(faults); i++)
        sigdelset(&all, faults[i]);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    for (; p->nthreads < n; p->nthreads++) {
        rc = pthread_create(&p->threads[p->nthreads], NULL, thread_main, p);
        if (rc != 0)
            break;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc == 0 ? 0 : -1;
}

/* The loop ----------------------------------------------------------------- */

/* Runs the done callback of every finished job. A done callback may submit
 * a new job, which keeps the pool busy, so idle is told only when the
 * count is 0 after the whole batch. */
static void run_finished(struct threadpool *p)
{
    struct jobq batch;
    struct job *j;

    pthread_mutex_lock(&p->mu);
    batch = p->finished;
    memset(&p->finished, 0, sizeof(p->finished));
    pthread_mutex_unlock(&p->mu);
    if (batch.len == 0)
        return;
    while ((j = jobq_pop(&batch)) != NULL) {
        if (j->done != NULL)
            j->done(j->arg);
        free(j);
        p->inflight--;
    }
    if (p->inflight == 0 && p->idle != NULL)
        p->idle(p->idle_arg);
}

static void on_wake(evutil_socket_t fd, short what UNUSED, void *arg)
{
    uint64_t n;

    if (read(fd, &n, sizeof(n)) < 0 && errno != EAGAIN && errno != EINTR)
        log_error("thread pool: cannot read its eventfd: %s", strerror(errno));
    run_finished(arg);
}

/* API ---------------------------------------------------------------------- */

struct threadpool *threadpool_new(struct event_base *base, unsigned nthreads,
                                  unsigned queue_max, void (*idle)(void *arg),
                                  void *idle_arg)
{
    struct threadpool *p = calloc(1, sizeof(*p));

    if (p == NULL)
        return NULL;
    p->efd = -1;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->work_cv, NULL);
    p->base = base;
    p->loop = pthread_self();
    p->queue_max = queue_max;
    p->idle = idle;
    p->idle_arg = idle_arg;
    p->threads = calloc(nthreads > 0 ? nthreads : 1, sizeof(*p->threads));
    p->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (p->threads == NULL || p->efd < 0)
        goto fail;
    p->ev = event_new(base, p->efd, EV_READ | EV_PERSIST, on_wake, p);
    if (p->ev == NULL || event_add(p->ev, NULL) < 0)
        goto fail;
    if (start_threads(p, nthreads) < 0)
        goto fail;
    return p;
fail:
    threadpool_free(p);
    return NULL;
}

int threadpool_submit(struct threadpool *p, void (*work)(void *arg),
                      void (*done)(void *arg), void *arg)
{
    struct job *j;
    int full; /* or stopped: SQ_AGAIN, SQ_ERROR */

    if (p == NULL || work == NULL || !pthread_equal(p->loop, pthread_self()))
        return SQ_ERROR;
    if ((j = malloc(sizeof(*j))) == NULL)
        return SQ_ERROR;
    j->work = work;
    j->done = done;
    j->arg = arg;
    pthread_mutex_lock(&p->mu);
    full = p->quit ? SQ_ERROR : p->queue.len >= p->queue_max ? SQ_AGAIN : 0;
    if (full == 0) {
        jobq_push(&p->queue, j);
        pthread_cond_signal(&p->work_cv);
    }
    pthread_mutex_unlock(&p->mu);
    if (full != 0) {
        free(j);
        return full;
    }
    p->inflight++;
    return 0;
}

unsigned threadpool_inflight(const struct threadpool *p)
{
    return p != NULL ? p->inflight : 0;
}

/* Threads finish what is queued, then exit; the done callbacks of their
 * jobs run here, on the loop thread, after the join. */
void threadpool_free(struct threadpool *p)
{
    if (p == NULL)
        return;
    pthread_mutex_lock(&p->mu);
    p->quit = 1;
    pthread_cond_broadcast(&p->work_cv);
    pthread_mutex_unlock(&p->mu);
    for (unsigned i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    p->nthreads = 0;
    p->idle = NULL; /* the owner is going away: no news */
    run_finished(p);
    if (p->ev != NULL)
        event_free(p->ev);
    if (p->efd >= 0)
        close(p->efd);
    free(p->threads);
    pthread_cond_destroy(&p->work_cv);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

int sq_run_in_pool(void (*work)(void *arg), void (*done)(void *arg), void *arg)
{
    if (worker == NULL)
        return SQ_ERROR;
    return threadpool_submit(worker->pool, work, done, arg);
}
