/*
 * test_conn.c - the transport (src/conn.c) with a recording protocol over
 * real loopback TCP sockets: input offered and kept, pausing, a client
 * leaving (FIN, reset) while input is paused, swapping the protocol in the
 * middle of the input, backpressure and the write timer, deferred close.
 */
#include "internal.h"

#include <check.h>
#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct rec {
    char in[1 << 16];
    size_t inlen;
    size_t consume; /* bytes taken per input call (0 = all) */
    int pause;      /* pause after the first input */
    int inputs, eofs, timeouts, drains, releases;
    int close_in_input;    /* conn_close() inside input */
    int released_in_input; /* release ran before input returned */
    int in_input;
    char swap_at; /* swap to proto B after consuming up to this byte */
};

static struct event_base *base;
static struct limits_conf lim;
static struct rec A, B;
static struct conn *conn;
static int client;
static const struct conn_proto proto_a, proto_b;

static size_t rec_input(struct conn *c, const char *data, size_t len)
{
    struct rec *r = conn_proto_data(c);
    size_t take = r->consume && r->consume < len ? r->consume : len;

    r->inputs++;
    r->in_input = 1;
    if (r->swap_at) {
        const char *p = memchr(data, r->swap_at, len);
        if (p != NULL) {
            take = (size_t)(p - data) + 1;
            conn_set_proto(c, &proto_b, &B);
        }
    }
    memcpy(r->in + r->inlen, data, take);
    r->inlen += take;
    if (r->pause)
        conn_pause(c, 1);
    if (r->close_in_input) {
        conn_close(c);
        r->released_in_input = r->releases > 0;
    }
    r->in_input = 0;
    return take;
}

static void rec_eof(struct conn *c)
{
    ((struct rec *)conn_proto_data(c))->eofs++;
}

static void rec_timeout(struct conn *c)
{
    ((struct rec *)conn_proto_data(c))->timeouts++;
    conn_close(c);
}

static void rec_drain(struct conn *c)
{
    ((struct rec *)conn_proto_data(c))->drains++;
}

static void rec_release(struct conn *c)
{
    ((struct rec *)conn_proto_data(c))->releases++;
    conn = NULL;
}

static const struct conn_proto proto_a = {
    .name = "a",
    .input = rec_input,
    .eof = rec_eof,
    .timeout = rec_timeout,
    .drain = rec_drain,
    .release = rec_release,
};
static const struct conn_proto proto_b = proto_a;

static void setup(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);
    int l, fd, small = 4096;

    memset(&A, 0, sizeof(A));
    memset(&B, 0, sizeof(B));
    lim.idle_timeout_ms = 300;
    base = event_base_new();
    ck_assert_ptr_nonnull(base);
    conn_setup(base, &lim, NULL);
    l = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_eq(bind(l, (struct sockaddr *)&sa, len), 0);
    ck_assert_int_eq(listen(l, 1), 0);
    ck_assert_int_eq(getsockname(l, (struct sockaddr *)&sa, &len), 0);
    client = socket(AF_INET, SOCK_STREAM, 0);
    /* small buffers: a client that does not read pushes back at once */
    setsockopt(client, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    ck_assert_int_eq(connect(client, (struct sockaddr *)&sa, len), 0);
    fd = accept4(l, NULL, NULL, SOCK_NONBLOCK);
    ck_assert_int_ge(fd, 0);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
    close(l);
    conn = conn_new(fd, (struct sockaddr *)&sa, 0);
    ck_assert_ptr_nonnull(conn);
    conn_set_proto(conn, &proto_a, &A);
}

static void teardown(void)
{
    conn_close_all();
    if (client >= 0)
        close(client);
    event_base_free(base);
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Runs the loop until cond holds (then 1) or ms pass (then 0). */
#define RUN_UNTIL(cond, ms)                                                   \
    ({                                                                        \
        uint64_t end_ = now_ms() + (ms);                                      \
        while (!(cond) && now_ms() < end_) {                                  \
            event_base_loop(base, EVLOOP_NONBLOCK);                           \
            if (!(cond))                                                      \
                usleep(1000);                                                 \
        }                                                                     \
        (cond) != 0;                                                          \
    })

/* Runs the loop for ms, for checks that something does NOT happen. */
static void run_for(unsigned ms)
{
    RUN_UNTIL(0, ms);
}

static void send_str(const char *s)
{
    ck_assert_int_eq(write(client, s, strlen(s)), (ssize_t)strlen(s));
}

START_TEST(input_is_offered_and_the_rest_kept)
{
    A.consume = 3;
    A.pause = 1; /* one offer only */
    send_str("abcdefgh");
    ck_assert(RUN_UNTIL(A.inputs, 2000));
    ck_assert_uint_eq(A.inlen, 3);
    ck_assert_uint_eq(conn_kept(conn), 5);
    A.pause = 0;
    A.consume = 0;
    conn_pause(conn, 0);
    send_str("ij");
    /* kept input first, then the new bytes */
    ck_assert(RUN_UNTIL(A.inlen == 10, 2000));
    ck_assert_int_eq(memcmp(A.in, "abcdefghij", 10), 0);
    ck_assert_uint_eq(conn_kept(conn), 0);
}
END_TEST

START_TEST(paused_input_stays_in_the_kernel_until_resumed)
{
    A.consume = 3;
    A.pause = 1;
    send_str("abcdef");
    ck_assert(RUN_UNTIL(A.inputs, 2000));
    send_str("XYZ");
    run_for(100);
    ck_assert_int_eq(A.inputs, 1);
    ck_assert_uint_eq(conn_kept(conn), 3); /* "def": XYZ was not read */
    A.pause = 0;
    A.consume = 0;
    conn_pause(conn, 0);
    ck_assert(RUN_UNTIL(A.inlen == 9, 2000));
    ck_assert_int_eq(memcmp(A.in, "abcdefXYZ", 9), 0);
}
END_TEST

START_TEST(fin_while_paused_is_seen)
{
    A.pause = 1;
    send_str("GET");
    ck_assert(RUN_UNTIL(A.inputs, 2000));
    send_str("more input, never read");
    shutdown(client, SHUT_WR);
    ck_assert(RUN_UNTIL(A.eofs, 2000));
    ck_assert_int_eq(A.inputs, 1);
}
END_TEST

START_TEST(reset_while_paused_closes)
{
    struct linger lg = {1, 0};

    A.pause = 1;
    send_str("GET");
    ck_assert(RUN_UNTIL(A.inputs, 2000));
    send_str("more input, never read");
    setsockopt(client, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    close(client);
    client = -1;
    ck_assert(RUN_UNTIL(A.releases, 2000));
    ck_assert_ptr_null(conn);
}
END_TEST

START_TEST(a_new_protocol_gets_the_rest_of_the_input)
{
    A.swap_at = '\n';
    send_str("UPGRADE\nframe bytes");
    ck_assert(RUN_UNTIL(B.inlen == 11, 2000));
    ck_assert_uint_eq(A.inlen, 8);
    ck_assert_int_eq(memcmp(A.in, "UPGRADE\n", 8), 0);
    ck_assert_int_eq(memcmp(B.in, "frame bytes", 11), 0);
    ck_assert_int_eq(A.releases, 0);
}
END_TEST

START_TEST(drain_is_called_when_the_client_catches_up)
{
    static char chunk[1 << 20], sink[1 << 16];
    int i;

    memset(chunk, 'o', sizeof(chunk));
    for (i = 0; i < 3; i++)
        ck_assert_int_eq(buf_add(conn_out(conn), chunk, sizeof(chunk)), 0);
    conn_send(conn);
    ck_assert(conn_output_high(conn));
    conn_want_drain(conn);
    run_for(50);
    ck_assert_int_eq(A.drains, 0);
    while (!A.drains) {
        ssize_t n = read(client, sink, sizeof(sink));
        ck_assert_int_gt(n, 0);
        RUN_UNTIL(A.drains, 1);
    }
    ck_assert_uint_le(conn_pending(conn), CONN_OUT_LOW);
}
END_TEST

START_TEST(a_client_that_does_not_read_is_closed_by_the_write_timer)
{
    static char chunk[1 << 20];
    uint64_t start = now_ms();
    int i;

    memset(chunk, 'o', sizeof(chunk));
    for (i = 0; i < 8; i++)
        ck_assert_int_eq(buf_add(conn_out(conn), chunk, sizeof(chunk)), 0);
    conn_send(conn);
    /* more sends without progress do not postpone the timer */
    for (i = 0; i < 5 && conn != NULL; i++) {
        run_for(50);
        if (conn != NULL)
            conn_send(conn);
    }
    ck_assert(RUN_UNTIL(A.releases, 3000));
    ck_assert_uint_lt(now_ms() - start, 1500);
    ck_assert_int_eq(A.timeouts, 0);
}
END_TEST

START_TEST(close_inside_a_callback_is_deferred)
{
    A.close_in_input = 1;
    send_str("x");
    ck_assert(RUN_UNTIL(A.releases, 2000));
    ck_assert_int_eq(A.released_in_input, 0);
    ck_assert_int_eq(A.releases, 1);
}
END_TEST

START_TEST(output_beyond_the_limit_closes)
{
    static char chunk[1 << 20];

    memset(chunk, 'o', sizeof(chunk));
    for (int i = 0; i <= CONN_OUT_LIMIT / (int)sizeof(chunk); i++)
        ck_assert_int_eq(buf_add(conn_out(conn), chunk, sizeof(chunk)), 0);
    conn_send(conn);
    /* not under the caller: from the loop */
    ck_assert_int_eq(A.releases, 0);
    ck_assert(RUN_UNTIL(A.releases, 2000));
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("conn");
    TCase *tc = tcase_create("transport");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, input_is_offered_and_the_rest_kept);
    tcase_add_test(tc, paused_input_stays_in_the_kernel_until_resumed);
    tcase_add_test(tc, fin_while_paused_is_seen);
    tcase_add_test(tc, reset_while_paused_closes);
    tcase_add_test(tc, a_new_protocol_gets_the_rest_of_the_input);
    tcase_add_test(tc, drain_is_called_when_the_client_catches_up);
    tcase_add_test(tc, a_client_that_does_not_read_is_closed_by_the_write_timer);
    tcase_add_test(tc, close_inside_a_callback_is_deferred);
    tcase_add_test(tc, output_beyond_the_limit_closes);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
