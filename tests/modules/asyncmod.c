/*
 * asyncmod.c - the asynchronous API in use: periodic timers and the thread
 * pool, with the pattern squall.h asks for so that nothing calls into a
 * request after it ended (tests/integration/test_async.py).
 *
 *   GET /tick?n=N&ms=M     answers "ticks N" after a periodic timer of M ms
 *                          (default 3 and 50) ticked N times
 *   GET /compute?ms=M      sleeps M ms (default 200) in a pool job, sums
 *                          1..1000 there, then answers from done
 *
 * The tests follow the lines logged here ("asyncmod: ...").
 */
#include <squall/squall.h>

#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static long loop_tid; /* init runs on the loop thread */

static long thread_id(void)
{
    return (long)syscall(SYS_gettid);
}

static unsigned query_uint(sq_req *r, const char *name, unsigned def)
{
    const char *s = sq_query_arg(r, name);
    char *end;
    unsigned long v;

    if (s == NULL || *s == '\0')
        return def;
    v = strtoul(s, &end, 10);
    return *end == '\0' && v <= 600000 ? (unsigned)v : def;
}

static int asyncmod_init(const sq_conf *config)
{
    (void)config; /* nothing to configure */
    loop_tid = thread_id();
    return 0;
}

/* /tick: the state lives in the request pool, since the only thing that
 * outlives a callback is the timer, and the timer is cancelled when the
 * request ends either way. */
struct tick {
    sq_req *r;
    sq_timer *timer;
    unsigned left, ticks;
};

static void tick_fire(void *arg)
{
    struct tick *t = arg;

    t->ticks++;
    if (--t->left > 0)
        return;
    sq_timer_cancel(t->timer); /* inside its own callback: allowed */
    sq_printf(t->r, "ticks %u\n", t->ticks);
    sq_finish(t->r);
}

static void tick_gone(sq_req *r, void *arg)
{
    struct tick *t = arg;

    sq_log(SQ_LOG_INFO, "asyncmod: tick closed after %u ticks", t->ticks);
    sq_timer_cancel(t->timer);
    sq_finish(r);
}

static int tick(sq_req *r)
{
    struct tick *t = sq_pcalloc(sq_req_pool(r), sizeof *t);

    if (t == NULL)
        return SQ_ERROR;
    t->r = r;
    t->left = query_uint(r, "n", 3);
    if (t->left == 0)
        t->left = 1;
    t->timer = sq_call_every(query_uint(r, "ms", 50), tick_fire, t);
    if (t->timer == NULL)
        return SQ_ERROR;
    sq_on_close(r, tick_gone, t);
    sq_log(SQ_LOG_INFO, "asyncmod: tick started");
    return SQ_ASYNC;
}

/* /compute: the job's state is malloc'ed, not in the request pool: the
 * job cannot be cancelled, and its done runs even when the request ended
 * long before. r is NULL once the client has gone. */
struct compute {
    sq_req *r; /* loop thread only */
    unsigned ms;
    long work_tid, sum; /* written by the job, read by done */
};

static void compute_work(void *arg)
{
    struct compute *c = arg;
    struct timespec ts = {.tv_sec = c->ms / 1000,
                          .tv_nsec = (long)(c->ms % 1000) * 1000000};

    c->work_tid = thread_id();
    sq_log(SQ_LOG_INFO, "asyncmod: job started"); /* allowed off the loop */
    while (nanosleep(&ts, &ts) < 0)
        ;
    for (long i = 1; i <= 1000; i++)
        c->sum += i;
}

static void compute_done(void *arg)
{
    struct compute *c = arg;

    if (c->r == NULL) {
        sq_log(SQ_LOG_INFO, "asyncmod: job done, client gone");
        free(c);
        return;
    }
    sq_set_header(c->r, "Content-Type", "text/plain");
    sq_printf(c->r, "sum %ld\nwork off the loop: %s\ndone on the loop: %s\n",
              c->sum, c->work_tid != loop_tid ? "yes" : "no",
              thread_id() == loop_tid ? "yes" : "no");
    sq_finish(c->r);
    free(c);
}

static void compute_gone(sq_req *r, void *arg)
{
    struct compute *c = arg;

    sq_log(SQ_LOG_INFO, "asyncmod: compute closed");
    c->r = NULL; /* the job's done must not touch r any more */
    sq_finish(r);
}

static int busy(sq_req *r, const char *why)
{
    sq_send_error(r, 503);
    sq_set_header(r, "X-Asyncmod", why);
    return SQ_DONE;
}

static int compute(sq_req *r)
{
    struct compute *c = calloc(1, sizeof *c);
    int rc;

    if (c == NULL)
        return SQ_ERROR;
    c->r = r;
    c->ms = query_uint(r, "ms", 200);
    rc = sq_run_in_pool(compute_work, compute_done, c);
    if (rc != 0) {
        free(c); /* neither work nor done will run */
        return busy(r, rc == SQ_AGAIN ? "queue full" : "no thread pool");
    }
    sq_on_close(r, compute_gone, c);
    return SQ_ASYNC;
}

SQ_MODULE(.name = "asyncmod", .init = asyncmod_init,
          .handlers = SQ_HANDLERS(tick, compute));
