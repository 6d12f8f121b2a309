/*
 * test_testclient.c - the test client library (lib/) on its own.
 *
 * The connection object (lib/testconn.c, testparse.c, teststrict.c) is
 * tested against canned server bytes: each test makes a loopback TCP pair,
 * hands the client end to sq_test_conn_adopt() and plays the server on the
 * other end itself, byte by byte and in its own time, so streaming, close
 * and timing cases are exact. The server side (lib/testserver.c) and
 * sq_test_fetch() are tested with tests/integration/fake_squalld.py run as
 * $SQUALLD: it starts like squalld (socket activation, READY=1) and
 * answers request paths with canned bytes. It is found in $SQUALL_SRCDIR
 * (set by `make check`; "." otherwise).
 */
#include <squall/test.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <check.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

/* ---------------------------------------------------------------------
 * Playing the server
 * ------------------------------------------------------------------- */

static double seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A connected loopback TCP pair: the client end becomes *c, the server
 * end is returned (the test closes it). */
static int tcp_pair(sq_test_conn **c)
{
    struct sockaddr_in sin;
    socklen_t len = sizeof sin;
    int lfd = socket(AF_INET, SOCK_STREAM, 0), cfd, sfd;

    ck_assert_int_ge(lfd, 0);
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sin, sizeof sin), 0);
    ck_assert_int_eq(listen(lfd, 1), 0);
    ck_assert_int_eq(getsockname(lfd, (struct sockaddr *)&sin, &len), 0);
    cfd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_eq(connect(cfd, (struct sockaddr *)&sin, sizeof sin), 0);
    sfd = accept(lfd, NULL, NULL);
    ck_assert_int_ge(sfd, 0);
    close(lfd);
    *c = sq_test_conn_adopt(cfd);
    ck_assert_ptr_nonnull(*c);
    return sfd;
}

static void put_n(int fd, const void *p, size_t len)
{
    ssize_t n;

    while (len > 0) {
        n = write(fd, p, len);
        ck_assert_msg(n > 0, "write: %s", strerror(errno));
        p = (const char *)p + n;
        len -= (size_t)n;
    }
}

static void put(int fd, const char *s)
{
    put_n(fd, s, strlen(s));
}

/* What the client sent, up to want bytes or 2 s of silence. */
static char *got(int fd, size_t want)
{
    static char buf[65536];
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    size_t len = 0;
    ssize_t n;

    while (len < want && len < sizeof buf - 1 && poll(&pfd, 1, 2000) == 1) {
        n = read(fd, buf + len, sizeof buf - 1 - len);
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    buf[len] = '\0';
    return buf;
}

/* The client's request heads, until n of them ("\r\n\r\n") are in. */
static char *got_heads(int fd, int n)
{
    static char all[65536];
    size_t len = 0;
    const char *p;
    int heads;

    all[0] = '\0';
    for (;;) {
        for (heads = 0, p = all; (p = strstr(p, "\r\n\r\n")); p += 4)
            heads++;
        if (heads >= n)
            return all;
        p = got(fd, 1);
        ck_assert_msg(*p != '\0', "only %d request heads: %s", heads, all);
        ck_assert_uint_lt(len + strlen(p), sizeof all);
        memcpy(all + len, p, strlen(p) + 1);
        len += strlen(p);
    }
}

static sq_test_response *read_ok(sq_test_conn *c)
{
    sq_test_response *r = sq_test_conn_read(c, 2000);

    ck_assert_msg(r != NULL, "%s", sq_test_conn_error(c));
    ck_assert_str_eq(sq_test_conn_error(c), "");
    return r;
}

static void send_ok(sq_test_conn *c, const char *method, const char *path)
{
    ck_assert_msg(sq_test_conn_send(c, method, path, NULL, NULL, 0) == 0, "%s",
                  sq_test_conn_error(c));
}

/* ---------------------------------------------------------------------
 * Responses read whole
 * ------------------------------------------------------------------- */

START_TEST(content_length_body_and_fields)
{
    sq_test_conn *c;
    int s = tcp_pair(&c);
    sq_test_response *r;

    send_ok(c, "GET", "/");
    put(s, "HTTP/1.1 200 OK\r\n"
           "Content-Length: 5\r\n"
           "X-Spaced: \t padded \t\r\n"
           "\r\n"
           "hello");
    r = read_ok(c);
    ck_assert_int_eq(r->status, 200);
    ck_assert_int_eq(r->version, 11);
    ck_assert_str_eq(r->reason, "OK");
    ck_assert_str_eq(r->body, "hello");
    ck_assert_uint_eq(r->body_len, 5);
    ck_assert_int_eq(r->keep_alive, 1);
    ck_assert_uint_eq(r->nheaders, 2);
    ck_assert_str_eq(r->headers[1].name, "X-Spaced");
    ck_assert_str_eq(r->headers[1].value, "padded");
    ck_assert_pstr_eq(sq_test_header(r, "content-length"), "5");
    sq_test_response_free(r);
    sq_test_conn_close(c);
    close(s);
}
END_TEST

/* Chunk extensions are skipped; the trailer fields follow the header
 * fields, trimmed like them. */
START_TEST(chunked_body_and_trailers)
{
    sq_test_conn *c;
    int s = tcp_pair(&c);
    sq_test_response *r;

    send_ok(c, "GET", "/");
    put(s, "HTTP/1.1 200 OK\r\n"
           "Transfer-Encoding: chunked\r\n"
           "X-Before: 1\r\n"
           "\r\n"
           "5;name=value\r\nHello\r\n"
           "7 ; ext\r\n, world\r\n"
           "A;q=\"a;b\"\r\n! It works\r\n"
           "0;last\r\n"
           "X-Trailer: yes\r\n"
           "X-Spaced: \t padded \t\r\n"
           "\r\n");
    r = read_ok(c);
    ck_assert_str_eq(r->body, "Hello, world! It works");
    ck_assert_uint_eq(r->body_len, 22);
    ck_assert_uint_eq(r->nheaders, 4);
    ck_assert_str_eq(r->headers[2].name, "X-Trailer");
    ck_assert_str_eq(r->headers[2].value, "yes");
    ck_assert_str_eq(r->headers[3].value, "padded");
    sq_test_response_free(r);
    sq_test_conn_close(c);
    close(s);
}
END_TEST

/* 1 MiB in chunks of 1 to 70001 bytes, so that chunk boundaries fall
 * anywhere in the client's reads; written by a child process, since it is
 * more than the socket buffers hold. */
static unsigned char *big_body(size_t len)
{
    unsigned char *b = malloc(len);
    size_t i;

    ck_assert_ptr_nonnull(b);
    for (i = 0; i < len; i++)
        b[i] = (unsigned char)(i * 7 + i / 251);
    return b;
}

static void write_chunked(int fd, const unsigned char *body, size_t len)
{
    static const size_t sizes[] = {1, 4093, 17, 65521, 333, 70001, 2};
    char line[32];
    size_t pos = 0, n, i = 0;

    put(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
    while (pos < len) {
        n = sizes[i++ % 7];
        n = n < len - pos ? n : len - pos;
        snprintf(line, sizeof line, i % 2 ? "%zx\r\n" : "%zX\r\n", n);
        put(fd, line);
        put_n(fd, body + pos, n);
        put(fd, "\r\n");
        pos += n;
    }
    put(fd, "0\r\n\r\n");
}

START_TEST(chunked_1mb_in_odd_chunks)
{
    size_t len = 1024 * 1024;
    unsigned char *want = big_body(len);
    sq_test_conn *c;
    int s = tcp_pair(&c), status;
    sq_test_response *r;
    pid_t pid;

    send_ok(c, "GET", "/big");
    pid = fork();
    if (pid == 0) {
        write_chunked(s, want, len);
        _exit(0);
    }
    r = read_ok(c);
    ck_assert_uint_eq(r->body_len, len);
    ck_assert_msg(memcmp(r->body, want, len) == 0, "1 MiB body differs");
    ck_assert_int_eq(r->body[len], '\0');
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    free(want);
    sq_test_response_free(r);
    sq_test_conn_close(c);
    close(s);
}
END_TEST

START_TEST(close_delimited_body)
{
    static const char want[] = "until the close\r\n\r\nincluding CRLFs";
    sq_test_conn *c;
    int s = tcp_pair(&c);
    sq_test_response *r;

    send_ok(c, "GET", "/");
    put(s, "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n");
    put(s, want);
    shutdown(s, SHUT_WR);
    r = read_ok(c);
    ck_assert_int_eq(r->version, 10);
    ck_assert_str_eq(r->body, want);
    ck_assert_int_eq(r->keep_alive, 0);
    sq_test_response_free(r);
    ck_assert_int_eq(sq_test_conn_closed(c, 0), 1);
    sq_test_conn_close(c);
    close(s);
}
END_TEST

/* HEAD, 204 and 304 end at the head whatever their Content-Length says;
 * the next response follows at once. */
START_TEST(no_body_after_head_204_304)
{
    sq_test_conn *c;
    int s = tcp_pair(&c);
    sq_test_response *r;

    send_ok(c, "HEAD", "/h");
    send_ok(c, "GET", "/204");
    send_ok(c, "GET", "/304");
    send_ok(c, "GET", "/ok");
    put(s, "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n"
           "HTTP/1.1 204\r\nX-After: 204\r\n\r\n"
           "HTTP/1.1 304 Not Modified\r\nContent-Length: 1234\r\n\r\n"
           "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    r = read_ok(c);
    ck_assert_int_eq(r->status, 200);
    ck_assert_pstr_eq(sq_test_header(r, "Content-Length"), "1234");
    ck_assert_str_eq(r->body, "");
    sq_test_response_free(r);
    r = read_ok(c);
    ck_assert_int_eq(r->status, 204);
    ck_assert_str_eq(r->reason, "");
    ck_assert_uint_eq(r->body_len, 0);
    sq_test_response_free(r);
    r = read_ok(c);
    ck_assert_int_eq(r->status, 304);
    ck_assert_uint_eq(r->body_len, 0);
    sq_test_response_free(r);
    r = read_ok(c);
    ck_assert_str_eq(r->body, "ok");
    sq_test_response_free(r);
    sq_test_conn_close(c);
    close(s);
}
END_TEST

/* 100 and 103 are counted, their fields dropped. */
START_TEST(interim_1xx_are_counted)
{
    sq_test_conn *c;
    int s = tcp_pair(&c);
    sq_test_response *r;

    send_ok(c, "GET", "/");
    put(s, "HTTP/1.1 100 Continue\r\n\r\n"
           "HTTP/1.1 103 Early Hints\r\n"
           "Link: </style.css>; rel=preload\r\n\r\n"
           "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    r = read_ok(c);
    ck_assert_int_eq(r->status, 200);
    ck_assert_str_eq(r->reason, "OK");
    ck_assert_uint_eq(r->ninterim, 2);
    ck_assert_int_eq(r->interim[0], 100);
    ck_assert_int_eq(r->interim[1], 103);
    ck_assert_uint_eq(r->nheaders, 1);
    ck_assert_ptr_null(sq_test_header(r, "Link"));
    ck_assert_str_eq(r->body, "ok");
    sq_test_response_free(r);
    sq_test_conn_close(c);
    close(s);
}
END_TEST

/* After 101 the bytes are another protocol's, read raw. */
START_TEST(switching_protocols_then_raw)
{
    sq_test_conn *c;
    int s = tcp_pair(&c);
    sq_test_response *r;
    char buf[16];

    send_ok(c, "GET", "/ws");
    put(s, "HTTP/1.1 101 Switching Protocols\r\n"
           "Upgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
           "\x81\x05hello");
    r = read_ok(c);
    ck_assert_int_eq(r->status, 101);
    ck_assert_int_eq(r->keep_alive, 0);
    sq_test_response_free(r);
    ck_assert_int_eq(sq_test_conn_recv(c, buf, sizeof buf, 1000), 7);
    ck_assert_int_eq(memcmp(buf, "\x81\x05hello", 7), 0);
    ck_assert_ptr_null(sq_test_conn_read(c, 100));
    ck_assert_msg(strstr(sq_test_conn_error(c), "switched protocols"), "%s",
                  sq_test_conn_error(c));
    got_heads(s, 1);
    ck_assert_int_eq(sq_test_conn_send_raw(c, "\x88\x00", 2), 0);
    ck_assert_int_eq(memcmp(got(s, 2), "\x88\x00", 2), 0);
    sq_test_conn_close(c);
    close(s);
}
END_TEST

/* ---------------------------------------------------------------------
 * Keep-alive and pipelining
 * ------------------------------------------------------------------- */

START_TEST(keep_alive_reuses_the_connection)
{
    sq_test_conn *c;
    int s = tcp_pair(&c), i;
    sq_test_response *r;
    char want[8];

    for (i = 0; i < 3; i++) {
        send_ok(c, "GET", i == 1 ? "/b" : "/a");
        ck_assert_msg(strstr(got_heads(s, 1), i == 1 ? "GET /b " : "GET /a "),
                      "request %d", i);
        put(s, i == 1 ? "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nb"
                      : "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na");
        r = read_ok(c);
        snprintf(want, sizeof want, "%s", i == 1 ? "b" : "a");
        ck_assert_str_eq(r->body, want);
        ck_assert_int_eq(r->keep_alive, 1);
        sq_test_response_free(r);
    }
    sq_test_conn_close(c);
    close(s);
}
END_TEST

/* Three requests out before any response; the responses, in one write,
 * come back in order, HEAD's without its body. */
START_TEST(pipelined_responses_in_order)
{
    static const char *const want[] = {"one", "", "three"};
    sq_test_conn *c;
    int s = tcp_pair(&c), i;
    sq_test_response *r;
    const char *heads;

    send_ok(c, "GET", "/1");
    send_ok(c, "HEAD", "/2");
    ck_assert_int_eq(sq_test_conn_send(c, "POST", "/3", NULL, "x", 1), 0);
    heads = got_heads(s, 3);
    ck_assert_msg(strstr(heads, "GET /1 ") < strstr(heads, "HEAD /2 ") &&
                      strstr(heads, "HEAD /2 ") < strstr(heads, "POST /3 "),
                  "order: %s", heads);
    put(s, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\none"
           "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"
           "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n"
           "5\r\nthree\r\n0\r\n\r\n");
    for (i = 0; i < 3; i++) {
        r = read_ok(c);
        ck_assert_str_eq(r->body, want[i]);
        sq_test_response_free(r);
    }
    sq_test_conn_close(c);
    close(s);
}
END_TEST

/* Every byte in a read of its own: the parser's pauses and the framing
 * checks must resume anywhere, in a head, a size line, a CRLF. */
START_TEST(byte_by_byte)
{
    static const char bytes[] =
        "HTTP/1.1 100 Continue\r\n\r\n"
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        "3;x=y\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nX-T: 1\r\n\r\n"
        "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n"
        "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nend";
    sq_test_response *r[3] = {NULL, NULL, NULL};
    sq_test_conn *c;
    int s = tcp_pair(&c), n = 0;
    size_t i;

    send_ok(c, "GET", "/1");
    send_ok(c, "HEAD", "/2");
    send_ok(c, "GET", "/3");
    for (i = 0; i < sizeof bytes - 1; i++) {
        put_n(s, bytes + i, 1);
        while (n < 3 && (r[n] = sq_test_conn_read(c, 1)) != NULL)
            n++;
        ck_assert_msg(strstr(sq_test_conn_error(c), "timed out") ||
                          sq_test_conn_error(c)[0] == '\0',
                      "at byte %zu: %s", i, sq_test_conn_error(c));
    }
    ck_assert_int_eq(n, 3);
    ck_assert_str_eq(r[0]->body, "abc0123456789abcdef");
    ck_assert_uint_eq(r[0]->ninterim, 1);
    ck_assert_pstr_eq(sq_test_header(r[0], "X-T"), "1");
    ck_assert_str_eq(r[1]->body, "");
    ck_assert_str_eq(r[2]->body, "end");
    for (i = 0; i < 3; i++)
        sq_test_response_free(r[i]);
    sq_test_conn_close(c);
    close(s);
}
END_TEST

/* Raw requests: the reader learns of a HEAD from sq_test_conn_expect(). */
START_TEST(raw_pipeline_with_expect)
{
    sq_test_conn *c;
    int s = tcp_pair(&c);
    sq_test_response *r;

    ck_assert_int_eq(sq_test_conn_send_raw(c,
                                           "HEAD / HTTP/1.1\r\n\r\n"
                                           "GET / HTTP/1.1\r\n\r\n",
                                           38),
                     0);
    ck_assert_int_eq(sq_test_conn_expect(c, "HEAD"), 0);
    ck_assert_int_eq(sq_test_conn_expect(c, "GET"), 0);
    put(s, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n"
           "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    r = read_ok(c);
    ck_assert_uint_eq(r->body_len, 0);
    sq_test_response_free(r);
    r = read_ok(c);
    ck_assert_str_eq(r->body, "ok");
    sq_test_response_free(r);
    sq_test_conn_close(c);
    close(s);
}
END_TEST

/* ---------------------------------------------------------------------
 * Streaming
 * ------------------------------------------------------------------- */

static const char *chunk_ok(sq_test_conn *c, ssize_t want)
{
    const char *data = NULL;
    ssize_t n = sq_test_conn_read_chunk(c, &data, 2000);

    ck_assert_msg(n == want, "chunk of %zd bytes, not %zd: %s", n, want,
                  sq_test_conn_error(c));
    return data;
}

/* Each chunk is handed out as soon as it is whole, and not before; a
 * chunk split across writes comes out whole. */
START_TEST(chunks_streamed_as_they_arrive)
{
    sq_test_conn *c;
    int s = tcp_pair(&c);
    sq_test_response *r;
    const char *data;

    send_ok(c, "GET", "/events");
    put(s, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
    r = sq_test_conn_read_head(c, 2000);
    ck_assert_msg(r != NULL, "%s", sq_test_conn_error(c));
    ck_assert_int_eq(r->status, 200);
    ck_assert_str_eq(r->body, "");
    sq_test_response_free(r);
    put(s, "7\r\ndata: 1\r\n");
    ck_assert_str_eq(chunk_ok(c, 7), "data: 1");
    put(s, "8\r\ndata");
    ck_assert_int_eq(sq_test_conn_read_chunk(c, &data, 100), -1);
    ck_assert_msg(strstr(sq_test_conn_error(c), "timed out after 0.1 s"), "%s",
                  sq_test_conn_error(c));
    put(s, ": 22\r\n");
    ck_assert_str_eq(chunk_ok(c, 8), "data: 22");
    put(s, "1\r\nx\r\n2\r\nyz\r\n0\r\nX-T: 1\r\n\r\n");
    ck_assert_str_eq(chunk_ok(c, 1), "x");
    ck_assert_str_eq(chunk_ok(c, 2), "yz");
    chunk_ok(c, 0);
    chunk_ok(c, 0);
    /* and the connection goes on */
    send_ok(c, "GET", "/next");
    put(s, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nnext");
    r = read_ok(c);
    ck_assert_str_eq(r->body, "next");
    sq_test_response_free(r);
    sq_test_conn_close(c);
    close(s);
}
END_TEST

/* A Content-Length body is handed out as it arrives. */
START_TEST(length_body_streamed_in_pieces)
{
    sq_test_conn *c;
    int s = tcp_pair(&c);
    sq_test_response *r;

    send_ok(c, "GET", "/");
    put(s, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabcd");
    r = sq_test_conn_read_head(c, 2000);
    ck_assert_ptr_nonnull(r);
    sq_test_response_free(r);
    ck_assert_str_eq(chunk_ok(c, 4), "abcd");
    put(s, "efghij");
    ck_assert_str_eq(chunk_ok(c, 6), "efghij");
    chunk_ok(c, 0);
    sq_test_conn_close(c);
    close(s);
}
END_TEST

START_TEST(read_waits_for_a_streamed_body)
{
    sq_test_conn *c;
    int s = tcp_pair(&c);
    sq_test_response *r;

    send_ok(c, "GET", "/");
    put(s, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
    r = sq_test_conn_read_head(c, 2000);
    ck_assert_ptr_nonnull(r);
    sq_test_response_free(r);
    ck_assert_ptr_null(sq_test_conn_read(c, 100));
    ck_assert_msg(strstr(sq_test_conn_error(c), "being streamed"), "%s",
                  sq_test_conn_error(c));
    sq_test_conn_close(c);
    close(s);
}
END_TEST

/* ---------------------------------------------------------------------
 * Close, timeouts, leaving on purpose
 * ------------------------------------------------------------------- */

START_TEST(server_close_is_detected)
{
    sq_test_conn *c;
    int s = tcp_pair(&c);
    sq_test_response *r;

    send_ok(c, "GET", "/");
    put(s, "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n"
           "\r\nok");
    r = read_ok(c);
    ck_assert_int_eq(r->keep_alive, 0);
    sq_test_response_free(r);
    ck_assert_int_eq(sq_test_conn_closed(c, 100), 0);
    ck_assert_msg(strstr(sq_test_conn_error(c), "still open after 0.1 s"), "%s",
                  sq_test_conn_error(c));
    got_heads(s, 1); /* or closing would send RST */
    close(s);
    ck_assert_int_eq(sq_test_conn_closed(c, 2000), 1);
    ck_assert_ptr_null(sq_test_conn_read(c, 100));
    ck_assert_msg(strstr(sq_test_conn_error(c), "connection closed without "
                                                "a response"),
                  "%s", sq_test_conn_error(c));
    sq_test_conn_close(c);
}
END_TEST

START_TEST(server_reset_is_a_close)
{
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    sq_test_conn *c;
    int s = tcp_pair(&c);

    setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(s);
    ck_assert_int_eq(sq_test_conn_closed(c, 2000), 1);
    sq_test_conn_close(c);
}
END_TEST

START_TEST(bytes_instead_of_the_close)
{
    sq_test_conn *c;
    int s = tcp_pair(&c);

    put(s, "xyz");
    ck_assert_int_eq(sq_test_conn_closed(c, 2000), -1);
    ck_assert_msg(strstr(sq_test_conn_error(c), "3 unexpected bytes arrived "
                                                "instead of the close: "
                                                "\"xyz\""),
                  "%s", sq_test_conn_error(c));
    sq_test_conn_close(c);
    close(s);
}
END_TEST

/* A read that times out loses nothing: the next one gets the response. */
START_TEST(read_times_out_then_resumes)
{
    sq_test_conn *c;
    int s = tcp_pair(&c);
    sq_test_response *r;
    double t0 = seconds(), took;

    send_ok(c, "GET", "/slow");
    put(s, "HTTP/1.1 200 OK\r\nContent-Le");
    r = sq_test_conn_read(c, 200);
    took = seconds() - t0;
    ck_assert_ptr_null(r);
    ck_assert_str_eq(sq_test_conn_error(c),
                     "GET /slow: timed out after 0.2 s reading the response");
    ck_assert_msg(took >= 0.19 && took < 1.5, "timed out after %.2f s", took);
    put(s, "ngth: 2\r\n\r\nok");
    r = read_ok(c);
    ck_assert_str_eq(r->body, "ok");
    sq_test_response_free(r);
    sq_test_conn_close(c);
    close(s);
}
END_TEST

/* The server still reads after a half-close, and can answer. */
START_TEST(shutdown_half_closes)
{
    sq_test_conn *c;
    int s = tcp_pair(&c);
    sq_test_response *r;

    send_ok(c, "GET", "/");
    ck_assert_int_eq(sq_test_conn_shutdown(c), 0);
    ck_assert_msg(strstr(got(s, 1 << 20), "GET / HTTP/1.1\r\n"), "request");
    ck_assert_int_eq(read(s, (char[1]){0}, 1), 0); /* our FIN */
    ck_assert_int_eq(sq_test_conn_send(c, "GET", "/", NULL, NULL, 0), -1);
    put(s, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    r = read_ok(c);
    ck_assert_str_eq(r->body, "ok");
    sq_test_response_free(r);
    sq_test_conn_close(c);
    close(s);
}
END_TEST

/* close() is a FIN even with input left unread. */
START_TEST(close_sends_fin)
{
    sq_test_conn *c;
    int s = tcp_pair(&c);
    char buf[8];

    put(s, "unread bytes");
    usleep(20000);
    sq_test_conn_close(c);
    ck_assert_int_eq(read(s, buf, sizeof buf), 0);
    close(s);
}
END_TEST

START_TEST(reset_sends_rst)
{
    sq_test_conn *c;
    int s = tcp_pair(&c);
    char buf[8];

    sq_test_conn_reset(c);
    ck_assert_int_eq(read(s, buf, sizeof buf), -1);
    ck_assert_int_eq(errno, ECONNRESET);
    close(s);
}
END_TEST

/* ---------------------------------------------------------------------
 * Malformed responses: NULL, and an error that says what and where
 * ------------------------------------------------------------------- */

struct bad_case {
    const char *bytes;
    const char *problem;
};

static const struct bad_case bad_cases[] = {
    {"HTTP/1.1 200 OK\nContent-Length: 2\r\n\r\nok",
     "bare LF (line not ended by CRLF) in the status line"},
    {"HTTP/1.1 200 OK\r\nX-A: 1\nContent-Length: 2\r\n\r\nok",
     "bare LF (line not ended by CRLF) in the headers"},
    {"HTTP/1.1 200 OK\r\nX-A: 1\rContent-Length: 2\r\n\r\nok",
     "bare CR (not followed by LF) in the headers"},
    {"HTTP/1.1 200 OK\r\nX-Folded: one\r\n two\r\nContent-Length: 2\r\n\r\nok",
     "obsolete line folding"},
    {"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nokk",
     "conflicting Content-Length fields"},
    {"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
     "Transfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
     "Content-Length with Transfer-Encoding"},
    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1g\r\nx\r\n",
     "malformed chunk size line at byte"},
    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
     "FFFFFFFFFFFFFFFF\r\nx\r\n",
     "chunk size too large"},
    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
     "5\r\nhelloXY0\r\n\r\n",
     "chunk data not followed by CRLF (wrong chunk size?)"},
    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
     "5\nhello\r\n0\r\n\r\n",
     "in a chunk-size line"},
    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
     "0\r\nX-T: 1\n\r\n",
     "bare LF (line not ended by CRLF) in the chunked trailer"},
    {"HTTP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n",
     "unsupported version HTTP/2.0"},
    {"HTTP/1.1 999 Odd\r\nContent-Length: 0\r\n\r\n",
     "status code 999 out of range"},
    {"HTTP/1.1 200 OK\r\nBad Name: x\r\nContent-Length: 0\r\n\r\n",
     "malformed header name \"Bad Name\""},
    {"HTTP/1.1 200 OK\r\nX-Nul: a\0b\r\n\r\n", "invalid character in header"},
    {"SMTP ready\r\n", "invalid constant string"},
    {"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789",
     "connection closed before the end of the body"},
    {"HTTP/1.1 200 OK\r\nContent-Le", "connection closed in the head"},
    {"", "connection closed without a response"},
};

/* Bytes after them the client must not reach: had it accepted the bad
 * framing, it would read this and fail differently. */
static void check_bad(const struct bad_case *bc, size_t len)
{
    sq_test_conn *c;
    int s = tcp_pair(&c);
    sq_test_response *r;
    const char *err;

    send_ok(c, "GET", "/bad");
    put_n(s, bc->bytes, len);
    shutdown(s, SHUT_WR);
    r = sq_test_conn_read(c, 2000);
    err = sq_test_conn_error(c);
    ck_assert_msg(r == NULL, "accepted: %s", bc->bytes);
    ck_assert_msg(strncmp(err, "GET /bad: ", 10) == 0, "no prefix: %s", err);
    ck_assert_msg(strstr(err, bc->problem) != NULL, "no \"%s\" in: %s",
                  bc->problem, err);
    sq_test_conn_close(c);
    close(s);
}

START_TEST(malformed_is_an_error)
{
    const struct bad_case *bc = &bad_cases[_i];
    size_t len = strlen(bc->bytes);

    if (strstr(bc->bytes, "X-Nul: a") != NULL)
        len = sizeof "HTTP/1.1 200 OK\r\nX-Nul: a\0b\r\n\r\n" - 1;
    check_bad(bc, len);
}
END_TEST

/* A body two bytes longer than its Content-Length: the next response
 * seems to start with an empty line. */
START_TEST(empty_line_before_status_is_an_error)
{
    sq_test_conn *c;
    int s = tcp_pair(&c);
    sq_test_response *r;

    send_ok(c, "GET", "/1");
    send_ok(c, "GET", "/2");
    put(s, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok\r\n"
           "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    r = read_ok(c);
    sq_test_response_free(r);
    ck_assert_ptr_null(sq_test_conn_read(c, 2000));
    ck_assert_msg(strstr(sq_test_conn_error(c),
                         "GET /2: empty line before the status line"),
                  "%s", sq_test_conn_error(c));
    /* and the framing is lost for good */
    ck_assert_ptr_null(sq_test_conn_read(c, 100));
    ck_assert_msg(strstr(sq_test_conn_error(c), "framing is lost"), "%s",
                  sq_test_conn_error(c));
    sq_test_conn_close(c);
    close(s);
}
END_TEST

START_TEST(reset_in_a_close_delimited_body_is_an_error)
{
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    sq_test_conn *c;
    int s = tcp_pair(&c);

    send_ok(c, "GET", "/");
    put(s, "HTTP/1.0 200 OK\r\n\r\npartial");
    usleep(20000);
    setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(s);
    ck_assert_ptr_null(sq_test_conn_read(c, 2000));
    ck_assert_msg(strstr(sq_test_conn_error(c), "connection reset"), "%s",
                  sq_test_conn_error(c));
    sq_test_conn_close(c);
}
END_TEST

/* ---------------------------------------------------------------------
 * The request head sent
 * ------------------------------------------------------------------- */

START_TEST(send_adds_host_and_length_not_close)
{
    static const char body[] = "a=1&b=\0binary\r\n";
    sq_test_conn *c;
    int s = tcp_pair(&c);
    struct sockaddr_in sin;
    socklen_t len = sizeof sin;
    char want[256];

    getsockname(s, (struct sockaddr *)&sin, &len);
    ck_assert_int_eq(
        sq_test_conn_send(c, "POST", "/p?q=1", NULL, body, sizeof body - 1), 0);
    snprintf(want, sizeof want,
             "POST /p?q=1 HTTP/1.1\r\n"
             "Host: 127.0.0.1:%d\r\n"
             "Content-Length: 15\r\n"
             "\r\n",
             ntohs(sin.sin_port));
    ck_assert_int_eq(memcmp(got(s, strlen(want) + 15), want, strlen(want)), 0);
    sq_test_conn_close(c);
    close(s);
}
END_TEST

/* The caller's Host and Connection replace the library's, after its own
 * fields, in order; GET without a body has no Content-Length. */
START_TEST(caller_headers_replace_defaults)
{
    static const char *const hdrs[] = {"Host: example.test",
                                       "Connection: close", "X-A: 1", NULL};
    sq_test_conn *c;
    int s = tcp_pair(&c);

    ck_assert_int_eq(sq_test_conn_send(c, "GET", "/h", hdrs, NULL, 0), 0);
    ck_assert_str_eq(got_heads(s, 1), "GET /h HTTP/1.1\r\n"
                                      "Host: example.test\r\n"
                                      "Connection: close\r\n"
                                      "X-A: 1\r\n"
                                      "\r\n");
    sq_test_conn_close(c);
    close(s);
}
END_TEST

START_TEST(bad_request_parts_are_refused)
{
    static const char *const hdrs[] = {"X-A: 1\r\nX-Injected: 1", NULL};
    sq_test_conn *c;
    int s = tcp_pair(&c);

    ck_assert_int_eq(sq_test_conn_send(c, "GET", "/a b", NULL, NULL, 0), -1);
    ck_assert_msg(strstr(sq_test_conn_error(c), "bad method, path or header"),
                  "%s", sq_test_conn_error(c));
    ck_assert_int_eq(sq_test_conn_send(c, "GET", "/", hdrs, NULL, 0), -1);
    ck_assert_int_eq(sq_test_conn_closed(c, 50), 0); /* nothing was sent */
    sq_test_conn_close(c);
    close(s);
}
END_TEST

/* ---------------------------------------------------------------------
 * The server side, with fake_squalld.py as squalld
 * ------------------------------------------------------------------- */

static const char yaml[] = "server: {workers: 1}\n";

static sq_test_server *start(const char *conf)
{
    char err[4096];
    sq_test_server *s = sq_test_start(conf, err, sizeof err);

    ck_assert_msg(s != NULL, "sq_test_start: %s", err);
    return s;
}

static void fetch_fails(sq_test_server *srv, const char *method,
                        const char *path, const char *problem)
{
    sq_test_response *r = sq_test_fetch(srv, method, path, NULL, NULL, 0);
    const char *err = sq_test_error(srv);
    char prefix[128];

    ck_assert_msg(r == NULL, "%s %s: accepted", method, path);
    snprintf(prefix, sizeof prefix, "%s %s: ", method, path);
    ck_assert_msg(strncmp(err, prefix, strlen(prefix)) == 0,
                  "error does not start with \"%s\": %s", prefix, err);
    ck_assert_msg(strstr(err, problem) != NULL, "no \"%s\" in: %s", problem,
                  err);
}

/* Readiness, the port handed over, the log, and a clean stop. */
START_TEST(start_fetch_stop)
{
    sq_test_server *srv = start(yaml);
    sq_test_response *r;
    char host[64];

    ck_assert_int_eq(sq_test_running(srv), 1);
    ck_assert_int_eq(sq_test_wait_log(srv, "fake_squalld: ready", 5000), 1);
    ck_assert_int_eq(sq_test_wait_log(srv, "fake_squalld: ready", 100), 0);
    ck_assert_msg(strstr(sq_test_error(srv), "not in"), "%s",
                  sq_test_error(srv));
    r = sq_test_fetch(srv, "POST", "/echo-head", NULL, "xyz", 3);
    ck_assert_msg(r != NULL, "%s", sq_test_error(srv));
    snprintf(host, sizeof host, "\r\nHost: 127.0.0.1:%d\r\n",
             sq_test_port(srv));
    ck_assert_msg(strstr(r->body, host), "%s", r->body);
    ck_assert_msg(strstr(r->body, "\r\nContent-Length: 3\r\n"), "%s", r->body);
    ck_assert_msg(strstr(r->body, "\r\nConnection: close\r\n"), "%s", r->body);
    ck_assert_pstr_eq(sq_test_header(r, "X-Body-Length"), "3");
    sq_test_response_free(r);
    ck_assert_int_eq(sq_test_stop(srv), 0);
}
END_TEST

/* sq_test_fetch() says "Connection: close", so what follows the response
 * is a framing error of the server's. */
START_TEST(fetch_rejects_bytes_after_the_response)
{
    static const char head[] = "HEAD /head-length HTTP/1.1\r\nHost: x\r\n"
                               "Connection: keep-alive\r\n\r\n";
    sq_test_server *srv = start(yaml);
    sq_test_response *r;

    fetch_fails(srv, "GET", "/extra",
                "5 unexpected bytes after the end of the response");
    fetch_fails(srv, "HEAD", "/head-body",
                "4 unexpected bytes after the end of the response");
    fetch_fails(srv, "GET", "/truncated",
                "connection closed before the end of the body");
    r = sq_test_fetch_raw(srv, head, sizeof head - 1);
    ck_assert_msg(r != NULL, "%s", sq_test_error(srv));
    ck_assert_uint_eq(r->body_len, 0);
    sq_test_response_free(r);
    ck_assert_int_eq(sq_test_stop(srv), 0);
}
END_TEST

/* $SQ_TEST_TIMEOUT, read by sq_test_start(), bounds each fetch. */
START_TEST(fetch_times_out)
{
    const char *old = getenv("SQ_TEST_TIMEOUT");
    char *saved = old ? strdup(old) : NULL;
    sq_test_server *srv;
    sq_test_response *r;
    double t0, took;

    setenv("SQ_TEST_TIMEOUT", "1", 1);
    srv = start(yaml);
    t0 = seconds();
    r = sq_test_get(srv, "/slow");
    took = seconds() - t0;
    if (saved != NULL) /* for CK_FORK=no */
        setenv("SQ_TEST_TIMEOUT", saved, 1);
    else
        unsetenv("SQ_TEST_TIMEOUT");
    free(saved);
    ck_assert_ptr_null(r);
    ck_assert_str_eq(sq_test_error(srv),
                     "GET /slow: timed out after 1 s reading the response");
    ck_assert_msg(took >= 0.9 && took < 3.0, "timed out after %.2f s", took);
    ck_assert_int_eq(sq_test_stop(srv), 0);
}
END_TEST

/* The exit status comes back from sq_test_stop(), and a connection still
 * open at the stop stays the caller's. */
START_TEST(stop_returns_the_exit_status)
{
    sq_test_server *srv = start("exit_status: 3\n");
    sq_test_conn *c = sq_test_connect(srv);

    ck_assert_msg(c != NULL, "%s", sq_test_error(srv));
    ck_assert_int_eq(sq_test_stop(srv), 3);
    sq_test_conn_close(c);
}
END_TEST

START_TEST(dead_server_refuses)
{
    sq_test_server *srv = start(yaml);
    sq_test_response *r;

    kill(sq_test_pid(srv), SIGKILL);
    while (sq_test_running(srv))
        usleep(1000);
    r = sq_test_get(srv, "/");
    ck_assert_ptr_null(r);
    ck_assert_msg(strstr(sq_test_error(srv), "GET /: connect 127.0.0.1:"), "%s",
                  sq_test_error(srv));
    ck_assert_msg(strstr(sq_test_error(srv), "squalld is no longer running"),
                  "%s", sq_test_error(srv));
    ck_assert_int_eq(sq_test_stop(srv), -1);
}
END_TEST

/* ---------------------------------------------------------------------
 * WebSocket (lib/testws*.c), against canned server bytes
 * ------------------------------------------------------------------- */

/* The example of RFC 6455 1.3: a key and its accept value. */
#define WS_KEY "dGhlIHNhbXBsZSBub25jZQ=="
#define WS_ACCEPT "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
#define WS_101                                                                 \
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"               \
    "Connection: Upgrade\r\nSec-WebSocket-Accept: " WS_ACCEPT "\r\n"

static const char *const rfc_key[] = {"Sec-WebSocket-Key: " WS_KEY, NULL};
static char ws_err[2048], ws_req[8192];

/* A WebSocket over a TCP pair whose server end (returned in *sfd) has
 * already answered with head (a whole response head) and then len bytes
 * of after. NULL on failure, with the reason in ws_err; on success the
 * request is read, into ws_req. */
static sq_test_ws *ws_pair(int *sfd, const char *head, const void *after,
                           size_t len, const sq_test_ws_options *opt)
{
    sq_test_ws_options o = {0};
    sq_test_conn *c;
    sq_test_ws *ws;

    if (opt != NULL)
        o = *opt;
    if (o.headers == NULL)
        o.headers = rfc_key;
    *sfd = tcp_pair(&c);
    put(*sfd, head);
    put_n(*sfd, after, len);
    ws = sq_test_ws_upgrade(c, "/ws", &o);
    snprintf(ws_err, sizeof ws_err, "%s", sq_test_conn_error(c));
    if (ws == NULL)
        sq_test_conn_close(c);
    else
        snprintf(ws_req, sizeof ws_req, "%s", got_heads(*sfd, 1));
    return ws;
}

static sq_test_ws *ws_ok(int *sfd, const void *after, size_t len)
{
    sq_test_ws *ws = ws_pair(sfd, WS_101 "\r\n", after, len, NULL);

    ck_assert_msg(ws != NULL, "%s", ws_err);
    return ws;
}

/* Reads n bytes exactly from the server end. */
static void read_n(int fd, void *buf, size_t n)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    size_t got_ = 0;
    ssize_t r;

    while (got_ < n) {
        ck_assert_int_eq(poll(&pfd, 1, 2000), 1);
        r = read(fd, (char *)buf + got_, n - got_);
        ck_assert_int_gt(r, 0);
        got_ += (size_t)r;
    }
}

/* One client frame: it must be masked; its payload (unmasked) goes to
 * payload (NUL-terminated); returns its first byte (FIN, RSV, opcode). */
static int client_frame(int fd, unsigned char *payload, size_t max, size_t *len)
{
    unsigned char h[2], ext[8], mask[4];
    uint64_t n;
    size_t i, k;

    read_n(fd, h, 2);
    ck_assert_msg(h[1] & 0x80, "a client frame without a mask");
    n = h[1] & 0x7f;
    k = n == 126 ? 2 : n == 127 ? 8 : 0;
    if (k > 0) {
        read_n(fd, ext, k);
        for (n = 0, i = 0; i < k; i++)
            n = n << 8 | ext[i];
    }
    read_n(fd, mask, 4);
    ck_assert_uint_lt(n, max);
    read_n(fd, payload, (size_t)n);
    for (i = 0; i < n; i++)
        payload[i] ^= mask[i & 3];
    payload[n] = '\0';
    *len = (size_t)n;
    return h[0];
}

static void ws_recv_ok(sq_test_ws *ws, sq_test_ws_msg *m,
                       enum sq_test_ws_kind k)
{
    enum sq_test_ws_kind got_ = sq_test_ws_recv(ws, m, 2000);

    ck_assert_msg(got_ == k, "kind %d, not %d: %s", got_, k,
                  sq_test_ws_error(ws));
}

START_TEST(ws_handshake_request_and_accept)
{
    static const char *const protos[] = {"chat.v2", "chat.v1", NULL};
    sq_test_ws_options o = {.subprotocols = protos, .headers = rfc_key};
    sq_test_conn *c;
    sq_test_ws *ws;
    const char *req;
    int s = tcp_pair(&c);

    put(s, WS_101 "Sec-WebSocket-Protocol: chat.v1\r\n\r\n");
    ws = sq_test_ws_upgrade(c, "/ws/x?a=1", &o);
    ck_assert_msg(ws != NULL, "%s", sq_test_conn_error(c));
    req = got_heads(s, 1);
    ck_assert_msg(strncmp(req, "GET /ws/x?a=1 HTTP/1.1\r\n", 24) == 0, "%s",
                  req);
    ck_assert_msg(strstr(req, "\r\nUpgrade: websocket\r\n"), "%s", req);
    ck_assert_msg(strstr(req, "\r\nConnection: Upgrade\r\n"), "%s", req);
    ck_assert_msg(strstr(req, "\r\nSec-WebSocket-Version: 13\r\n"), "%s", req);
    ck_assert_msg(strstr(req, "\r\nSec-WebSocket-Protocol: chat.v2, "
                              "chat.v1\r\n"),
                  "%s", req);
    /* the caller's key replaced the library's: it is there once */
    ck_assert_ptr_nonnull(strstr(req, "Sec-WebSocket-Key: " WS_KEY "\r\n"));
    ck_assert_ptr_null(
        strstr(strstr(req, "Sec-WebSocket-Key") + 1, "Sec-WebSocket-Key"));
    ck_assert_ptr_null(strstr(req, "Sec-WebSocket-Extensions"));
    ck_assert_pstr_eq(sq_test_ws_protocol(ws), "chat.v1");
    ck_assert_int_eq(sq_test_ws_deflate(ws), 0);
    ck_assert_ptr_eq(sq_test_ws_conn(ws), c);
    sq_test_ws_free(ws);
    close(s);
}
END_TEST

/* The library's own key: 24 characters of base64, answered wrongly. */
START_TEST(ws_own_key_wrong_accept)
{
    sq_test_ws_options o = {.headers = NULL};
    sq_test_conn *c;
    const char *req, *key;
    int s = tcp_pair(&c);

    put(s, WS_101 "\r\n"); /* the accept of another key */
    ck_assert_ptr_null(sq_test_ws_upgrade(c, "/", &o));
    ck_assert_msg(strstr(sq_test_conn_error(c),
                         "Sec-WebSocket-Accept is \"" WS_ACCEPT "\", not"),
                  "%s", sq_test_conn_error(c));
    req = got_heads(s, 1);
    key = strstr(req, "Sec-WebSocket-Key: ");
    ck_assert_ptr_nonnull(key);
    ck_assert_uint_eq(strcspn(key + 19, "\r"), 24);
    ck_assert_int_eq(key[19 + 22], '=');
    sq_test_conn_close(c);
    close(s);
}
END_TEST

static const struct {
    const char *head;
    int deflate, smwb, cmwb, snct;
    const char *error;
} ws_bad_handshakes[] = {
    {"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
     "Sec-WebSocket-Accept: " WS_ACCEPT "\r\n\r\n",
     0, 0, 0, 0, "no \"Upgrade: websocket\""},
    {"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
     "Sec-WebSocket-Accept: " WS_ACCEPT "\r\n\r\n",
     0, 0, 0, 0, "no \"Connection: Upgrade\""},
    {"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
     "Connection: Upgrade\r\n\r\n",
     0, 0, 0, 0, "Sec-WebSocket-Accept is missing"},
    {WS_101 "Sec-WebSocket-Accept: " WS_ACCEPT "\r\n\r\n", 0, 0, 0, 0,
     "Sec-WebSocket-Accept"},
    {WS_101 "Sec-WebSocket-Protocol: chat\r\n\r\n", 0, 0, 0, 0,
     "subprotocol \"chat\", which was not offered"},
    {WS_101 "Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n", 0, 0, 0, 0,
     "permessage-deflate was not offered"},
    {WS_101 "Sec-WebSocket-Extensions: x-foo\r\n\r\n", 1, 0, 0, 0,
     "\"x-foo\" was not offered"},
    {WS_101 "Sec-WebSocket-Extensions: permessage-deflate, "
            "permessage-deflate\r\n\r\n",
     1, 0, 0, 0, "permessage-deflate twice"},
    {WS_101 "Sec-WebSocket-Extensions: permessage-deflate; "
            "server_max_window_bits=12\r\n\r\n",
     1, 10, 0, 0, "server_max_window_bits=12, more than the 10 offered"},
    {WS_101 "Sec-WebSocket-Extensions: permessage-deflate; "
            "server_max_window_bits=08\r\n\r\n",
     1, 0, 0, 0, "without a value of 8 to 15"},
    {WS_101 "Sec-WebSocket-Extensions: permessage-deflate; "
            "client_max_window_bits=10\r\n\r\n",
     1, 0, 0, 0, "client_max_window_bits, which was not offered"},
    {WS_101 "Sec-WebSocket-Extensions: permessage-deflate; "
            "client_no_context_takeover=1\r\n\r\n",
     1, 0, 0, 0, "client_no_context_takeover with a value"},
    {WS_101 "Sec-WebSocket-Extensions: permessage-deflate; x=1\r\n\r\n", 1, 0,
     0, 0, "unknown parameter \"x\""},
    {WS_101 "Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n", 1, 0, 0, 1,
     "without the server_no_context_takeover offered"},
    {WS_101 "Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n", 1, 9, 0, 0,
     "without the server_max_window_bits offered"},
    {"HTTP/1.1 403 Forbidden\r\nContent-Length: 4\r\n\r\nnope", 0, 0, 0, 0,
     "GET /ws: handshake refused: 403 Forbidden: \"nope\""},
};

START_TEST(ws_bad_handshake_is_an_error)
{
    sq_test_response *r = NULL;
    sq_test_ws_options o = {
        .deflate = ws_bad_handshakes[_i].deflate,
        .server_max_window_bits = ws_bad_handshakes[_i].smwb,
        .client_max_window_bits = ws_bad_handshakes[_i].cmwb,
        .server_no_context_takeover = ws_bad_handshakes[_i].snct,
        .response = &r,
    };
    int s;

    ck_assert_ptr_null(ws_pair(&s, ws_bad_handshakes[_i].head, "", 0, &o));
    ck_assert_msg(strstr(ws_err, ws_bad_handshakes[_i].error) != NULL,
                  "case %d: %s", _i, ws_err);
    ck_assert_ptr_nonnull(r); /* the response, 101 or not */
    sq_test_response_free(r);
    close(s);
}
END_TEST

START_TEST(ws_deflate_answers_accepted)
{
    sq_test_ws_options o = {.deflate = 1, .client_max_window_bits = 1};
    int s;
    sq_test_ws *ws = ws_pair(&s,
                             WS_101 "Sec-WebSocket-Extensions: "
                                    "permessage-deflate; "
                                    "server_max_window_bits=\"10\"; "
                                    "client_max_window_bits=9; "
                                    "client_no_context_takeover\r\n\r\n",
                             "", 0, &o);
    const char *req;

    ck_assert_msg(ws != NULL, "%s", ws_err);
    ck_assert_int_eq(sq_test_ws_deflate(ws), 1);
    sq_test_ws_free(ws);
    close(s);

    /* what the offer looks like; a 101 that declines it is fine */
    o.client_max_window_bits = 8;
    o.server_max_window_bits = 12;
    o.client_no_context_takeover = o.server_no_context_takeover = 1;
    ws = ws_pair(&s, WS_101 "\r\n", "", 0, &o);
    ck_assert_msg(ws != NULL, "%s", ws_err);
    ck_assert_int_eq(sq_test_ws_deflate(ws), 0);
    sq_test_ws_free(ws);
    req = ws_req;
    ck_assert_msg(strstr(req, "\r\nSec-WebSocket-Extensions: "
                              "permessage-deflate; "
                              "client_no_context_takeover; "
                              "server_no_context_takeover; "
                              "server_max_window_bits=12; "
                              "client_max_window_bits=8\r\n"),
                  "%s", req);
    close(s);
    o.server_max_window_bits = 7;
    ck_assert_ptr_null(ws_pair(&s, WS_101 "\r\n", "", 0, &o));
    ck_assert_msg(strstr(ws_err, "server_max_window_bits 7"), "%s", ws_err);
    close(s);
}
END_TEST

static const struct {
    const char *bytes;
    size_t len;
    const char *error;
} ws_bad_frames[] = {
    {"\x81\x82\x01\x02\x03\x04"
     "ab",
     8, "a masked frame"},
    {"\xa1\x00", 2, "RSV2 or RSV3"},
    {"\xc1\x00", 2, "RSV1 set, but permessage-deflate was not agreed"},
    {"\x83\x00", 2, "reserved opcode 0x3"},
    {"\x8b\x00", 2, "reserved opcode 0xb"},
    {"\x09\x00", 2, "a fragmented control frame"},
    {"\x89\x7e\x00\x7e", 4, "126 bytes of payload, more than 125"},
    {"\x82\x7e\x00\x05hello", 9, "not the minimal encoding"},
    {"\x82\x7f\x80\x00\x00\x00\x00\x00\x00\x00", 10, "top bit"},
    {"\x82\x7f\x00\x00\x00\x00\x01\x00\x00\x01", 10,
     "more than SQ_TEST_MAX_WS_MESSAGE"},
    {"\x80\x01x", 3, "a continuation frame with no message"},
    {"\x01\x01"
     "a\x81\x01"
     "b",
     6, "frame 2 from the server: a new data frame"},
    {"\x81\x02\xc3\x28", 4,
     "frame 1 from the server: a text message that is not UTF-8 (at byte 0"},
    {"\x81\x02\xc0\xaf", 4, "not UTF-8"},         /* overlong */
    {"\x81\x03\xed\xa0\x80", 5, "not UTF-8"},     /* surrogate */
    {"\x81\x04\xf4\x90\x80\x80", 6, "not UTF-8"}, /* > U+10FFFF */
    {"\x01\x02\xc3\x28\x80\x00", 6, "not UTF-8"}, /* fragmented */
    {"\x88\x01\x03", 3, "a 1-byte payload"},
    {"\x88\x02\x03\xed", 4, "close code 1005"},
    {"\x88\x02\x03\xec", 4, "close code 1004"},
    {"\x88\x02\x0b\xb7", 4, "close code 2999"},
    {"\x88\x03\x03\xe8\xff", 5, "a close reason that is not UTF-8"},
};

START_TEST(ws_bad_frame_is_an_error)
{
    int s;
    sq_test_ws *ws = ws_ok(&s, ws_bad_frames[_i].bytes, ws_bad_frames[_i].len);
    sq_test_ws_msg m;
    char first[1024];

    ck_assert_int_eq(sq_test_ws_recv(ws, &m, 2000), SQ_TEST_WS_ERROR);
    ck_assert_int_eq(m.kind, SQ_TEST_WS_ERROR);
    ck_assert_msg(strstr(sq_test_ws_error(ws), ws_bad_frames[_i].error),
                  "case %d: %s", _i, sq_test_ws_error(ws));
    snprintf(first, sizeof first, "%s", sq_test_ws_error(ws));
    ck_assert_int_eq(sq_test_ws_recv(ws, &m, 2000), SQ_TEST_WS_ERROR);
    ck_assert_str_eq(sq_test_ws_error(ws), first); /* and again */
    sq_test_ws_free(ws);
    close(s);
}
END_TEST

/* Fragments reassembled, a ping in between answered with a masked pong,
 * a pong reported, a close without a code answered. */
START_TEST(ws_fragments_pings_and_close)
{
    static const char in[] = "\x01\x03Hel\x89\x01p\x80\x02lo"
                             "\x82\x00\x8a\x02pq\x88\x00";
    int s;
    sq_test_ws *ws = ws_ok(&s, in, sizeof in - 1);
    unsigned char buf[256];
    sq_test_ws_msg m;
    size_t len;

    ws_recv_ok(ws, &m, SQ_TEST_WS_TEXT);
    ck_assert_str_eq(m.data, "Hello");
    ck_assert_int_eq(m.frames, 2);
    ck_assert_uint_eq(sq_test_ws_pings(ws), 1);
    ck_assert_int_eq(client_frame(s, buf, sizeof buf, &len), 0x8a);
    ck_assert_str_eq((char *)buf, "p");
    ws_recv_ok(ws, &m, SQ_TEST_WS_BINARY); /* empty */
    ck_assert_uint_eq(m.len, 0);
    ck_assert_str_eq(m.data, "");
    ws_recv_ok(ws, &m, SQ_TEST_WS_PONG);
    ck_assert_str_eq(m.data, "pq");
    ws_recv_ok(ws, &m, SQ_TEST_WS_CLOSE);
    ck_assert_int_eq(m.code, 1005);
    ck_assert_int_eq(client_frame(s, buf, sizeof buf, &len), 0x88);
    ck_assert_uint_eq(len, 0); /* answered without a code */
    close(s);                  /* the server ends TCP */
    ck_assert_int_eq(sq_test_ws_close(ws, 1000, NULL, 2000), 1005);
    sq_test_ws_free(ws);
}
END_TEST

START_TEST(ws_close_handshake)
{
    int s;
    sq_test_ws *ws = ws_ok(&s, "", 0);
    unsigned char buf[256];
    size_t len;

    ck_assert_int_eq(sq_test_ws_send_close(ws, 4000, "done"), 0);
    ck_assert_int_eq(client_frame(s, buf, sizeof buf, &len), 0x88);
    ck_assert_int_eq(memcmp(buf,
                            "\x0f\xa0"
                            "done",
                            6),
                     0);
    /* a message, dropped, before the server's close and its FIN */
    put_n(s,
          "\x81\x01x\x88\x05\x03\xe8"
          "bye",
          10);
    shutdown(s, SHUT_WR);
    ck_assert_int_eq(sq_test_ws_close(ws, 4000, "done", 2000), 1000);
    sq_test_ws_free(ws);
    close(s);
}
END_TEST

/* Bytes after the server's close, or a server that keeps TCP open. */
START_TEST(ws_close_checks_the_tcp_end)
{
    int s;
    sq_test_ws *ws = ws_ok(&s, "\x88\x02\x03\xe8junk", 8);
    double t0;

    ck_assert_int_eq(sq_test_ws_close(ws, 1000, NULL, 2000), -1);
    ck_assert_msg(strstr(sq_test_ws_error(ws), "4 bytes after the server's "
                                               "close frame"),
                  "%s", sq_test_ws_error(ws));
    sq_test_ws_free(ws);
    close(s);

    ws = ws_ok(&s, "\x88\x02\x03\xe8", 4);
    t0 = seconds();
    ck_assert_int_eq(sq_test_ws_close(ws, 1000, NULL, 200), -1);
    ck_assert_double_lt(seconds() - t0, 1.5);
    ck_assert_msg(strstr(sq_test_ws_error(ws), "did not end the TCP"), "%s",
                  sq_test_ws_error(ws));
    sq_test_ws_free(ws);
    close(s);
}
END_TEST

START_TEST(ws_eof_without_close_is_1006)
{
    int s;
    sq_test_ws *ws = ws_ok(&s, "\x81\x05He", 4);
    sq_test_ws_msg m;

    close(s);
    ws_recv_ok(ws, &m, SQ_TEST_WS_CLOSE);
    ck_assert_int_eq(m.code, 1006);
    ck_assert_int_eq(sq_test_ws_close(ws, 1000, NULL, 1000), -1);
    ck_assert_msg(strstr(sq_test_ws_error(ws), "without a close frame"), "%s",
                  sq_test_ws_error(ws));
    sq_test_ws_free(ws);
}
END_TEST

START_TEST(ws_recv_times_out_then_resumes)
{
    int s;
    sq_test_ws *ws = ws_ok(&s, "\x81\x05He", 4);
    sq_test_ws_msg m;
    double t0 = seconds();

    ck_assert_int_eq(sq_test_ws_recv(ws, &m, 200), SQ_TEST_WS_TIMEOUT);
    ck_assert_double_ge(seconds() - t0, 0.19);
    ck_assert_double_lt(seconds() - t0, 1.5);
    ck_assert_msg(strstr(sq_test_ws_error(ws), "timed out after 0.2 s"), "%s",
                  sq_test_ws_error(ws));
    put(s, "llo");
    ws_recv_ok(ws, &m, SQ_TEST_WS_TEXT);
    ck_assert_str_eq(m.data, "Hello");
    ck_assert_str_eq(sq_test_ws_error(ws), "");
    sq_test_ws_free(ws);
    close(s);
}
END_TEST

/* Client frames: masked, fragmented as asked, a fresh mask each; control
 * frames whole. */
START_TEST(ws_client_frames)
{
    sq_test_ws_options o = {.fragment_size = 2};
    int s;
    sq_test_ws *ws = ws_pair(&s, WS_101 "\r\n", "", 0, &o);
    unsigned char buf[256];
    size_t len;

    ck_assert_msg(ws != NULL, "%s", ws_err);
    ck_assert_int_eq(sq_test_ws_send_text(ws, "hello"), 0);
    ck_assert_int_eq(client_frame(s, buf, sizeof buf, &len), 0x01);
    ck_assert_str_eq((char *)buf, "he");
    ck_assert_int_eq(client_frame(s, buf, sizeof buf, &len), 0x00);
    ck_assert_str_eq((char *)buf, "ll");
    ck_assert_int_eq(client_frame(s, buf, sizeof buf, &len), 0x80);
    ck_assert_str_eq((char *)buf, "o");
    ck_assert_int_eq(sq_test_ws_ping(ws, "ping!", 5), 0);
    ck_assert_int_eq(client_frame(s, buf, sizeof buf, &len), 0x89);
    ck_assert_str_eq((char *)buf, "ping!");
    ck_assert_int_eq(sq_test_ws_ping(ws, buf, 126), -1);
    ck_assert_msg(strstr(sq_test_ws_error(ws), "at most 125"), "%s",
                  sq_test_ws_error(ws));
    ck_assert_int_eq(sq_test_ws_send_close(ws, 1001, "away"), 0);
    ck_assert_int_eq(client_frame(s, buf, sizeof buf, &len), 0x88);
    ck_assert_uint_eq(len, 6);
    ck_assert_int_eq(memcmp(buf,
                            "\x03\xe9"
                            "away",
                            6),
                     0);
    ck_assert_int_eq(sq_test_ws_send_text(ws, "late"), -1);
    ck_assert_msg(strstr(sq_test_ws_error(ws), "after the close frame"), "%s",
                  sq_test_ws_error(ws));
    ck_assert_int_eq(sq_test_ws_send_raw(ws, "\x81\x00", 2), 0);
    read_n(s, buf, 2);
    ck_assert_int_eq(memcmp(buf, "\x81\x00", 2), 0);
    sq_test_ws_free(ws);
    close(s);
}
END_TEST

/* RFC 7692 7.2.3: "Hello" compressed, then again with the window of the
 * first, then in a block with BFINAL set. */
START_TEST(ws_inflates_rfc7692_examples)
{
    static const char in[] = "\xc1\x07\xf2\x48\xcd\xc9\xc9\x07\x00"
                             "\xc1\x05\xf2\x00\x11\x00\x00"
                             "\xc1\x08\xf3\x48\xcd\xc9\xc9\x07\x00\x00"
                             "\xc1\x05\xf2\x00\x11\x00\x00";
    sq_test_ws_options o = {.deflate = 1};
    int s, i;
    sq_test_ws *ws = ws_pair(&s,
                             WS_101 "Sec-WebSocket-Extensions: "
                                    "permessage-deflate\r\n\r\n",
                             in, sizeof in - 1, &o);
    sq_test_ws_msg m;

    ck_assert_msg(ws != NULL, "%s", ws_err);
    for (i = 0; i < 4; i++) {
        ws_recv_ok(ws, &m, SQ_TEST_WS_TEXT);
        ck_assert_str_eq(m.data, "Hello");
        ck_assert_int_eq(m.compressed, 1);
    }
    sq_test_ws_free(ws);
    close(s);

    /* server_no_context_takeover agreed: the second refers back */
    o.server_no_context_takeover = 1;
    ws = ws_pair(&s,
                 WS_101 "Sec-WebSocket-Extensions: permessage-deflate; "
                        "server_no_context_takeover\r\n\r\n",
                 in, 16, &o);
    ck_assert_msg(ws != NULL, "%s", ws_err);
    ws_recv_ok(ws, &m, SQ_TEST_WS_TEXT);
    ck_assert_int_eq(sq_test_ws_recv(ws, &m, 2000), SQ_TEST_WS_ERROR);
    ck_assert_msg(strstr(sq_test_ws_error(ws), "does not inflate"), "%s",
                  sq_test_ws_error(ws));
    sq_test_ws_free(ws);
    close(s);

    /* "Hello" cut short: not a whole block */
    o.server_no_context_takeover = 0;
    ws = ws_pair(&s,
                 WS_101 "Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n",
                 "\xc1\x03\xf2\x48\xcd", 5, &o);
    ck_assert_msg(ws != NULL, "%s", ws_err);
    ck_assert_int_eq(sq_test_ws_recv(ws, &m, 2000), SQ_TEST_WS_ERROR);
    ck_assert_msg(strstr(sq_test_ws_error(ws), "a compressed message that "
                                               "does not"),
                  "%s", sq_test_ws_error(ws));
    sq_test_ws_free(ws);
    close(s);
}
END_TEST

/* A message that inflates past SQ_TEST_MAX_WS_MESSAGE; and ours, which
 * the server end inflates. */
START_TEST(ws_deflate_bounds_and_sends)
{
    size_t big = SQ_TEST_MAX_WS_MESSAGE + 1, zlen;
    unsigned char *zeros = calloc(1, big), *z, buf[256];
    unsigned char head[4] = {0xc2};
    sq_test_ws_options o = {.deflate = 1};
    z_stream zs;
    int s;
    sq_test_ws *ws;
    size_t len;

    ck_assert_ptr_nonnull(zeros);
    memset(&zs, 0, sizeof zs);
    ck_assert_int_eq(
        deflateInit2(&zs, 9, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
    zlen = deflateBound(&zs, big);
    z = malloc(zlen);
    zs.next_in = zeros, zs.avail_in = (uInt)big;
    zs.next_out = z, zs.avail_out = (uInt)zlen;
    ck_assert_int_eq(deflate(&zs, Z_SYNC_FLUSH), Z_OK);
    zlen -= zs.avail_out + 4;
    deflateEnd(&zs);
    ck_assert_uint_lt(zlen, 65536); /* 16 MiB of zeros: about 16 KiB */
    head[1] = 126;
    head[2] = (unsigned char)(zlen >> 8);
    head[3] = (unsigned char)zlen;
    ws = ws_pair(&s,
                 WS_101 "Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n",
                 "", 0, &o);
    ck_assert_msg(ws != NULL, "%s", ws_err);
    put_n(s, head, sizeof head);
    put_n(s, z, zlen);
    ck_assert_int_eq(sq_test_ws_recv(ws, NULL, 5000), SQ_TEST_WS_ERROR);
    ck_assert_msg(strstr(sq_test_ws_error(ws), "inflates past"), "%s",
                  sq_test_ws_error(ws));

    /* ours: RSV1 on the first frame only, the tail stripped */
    free(z);
    sq_test_ws_free(ws);
    close(s);
    o.fragment_size = 3;
    ws = ws_pair(&s,
                 WS_101 "Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n",
                 "", 0, &o);
    ck_assert_msg(ws != NULL, "%s", ws_err);
    ck_assert_int_eq(sq_test_ws_send_text(ws, "Hello"), 0);
    ck_assert_int_eq(client_frame(s, buf, sizeof buf, &len), 0x41);
    ck_assert_uint_eq(len, 3);
    ck_assert_int_eq(client_frame(s, buf + 3, sizeof buf - 3, &len), 0x00);
    ck_assert_int_eq(client_frame(s, buf + 6, sizeof buf - 6, &len), 0x80);
    ck_assert_uint_eq(len, 1);
    ck_assert_int_eq(memcmp(buf, "\xf2\x48\xcd\xc9\xc9\x07\x00", 7), 0);
    sq_test_ws_free(ws);
    close(s);
    free(zeros);
}
END_TEST

static Suite *testclient_suite(void)
{
    Suite *s = suite_create("testclient");
    TCase *whole = tcase_create("responses");
    TCase *conn = tcase_create("connection");
    TCase *stream = tcase_create("streaming");
    TCase *close_ = tcase_create("closing");
    TCase *bad = tcase_create("malformed");
    TCase *req = tcase_create("requests");
    TCase *srv = tcase_create("server");
    TCase *ws = tcase_create("websocket");

    tcase_add_test(whole, content_length_body_and_fields);
    tcase_add_test(whole, chunked_body_and_trailers);
    tcase_add_test(whole, chunked_1mb_in_odd_chunks);
    tcase_add_test(whole, close_delimited_body);
    tcase_add_test(whole, no_body_after_head_204_304);
    tcase_add_test(whole, interim_1xx_are_counted);
    tcase_add_test(whole, switching_protocols_then_raw);
    suite_add_tcase(s, whole);

    tcase_add_test(conn, keep_alive_reuses_the_connection);
    tcase_add_test(conn, pipelined_responses_in_order);
    tcase_add_test(conn, raw_pipeline_with_expect);
    tcase_add_test(conn, byte_by_byte);
    suite_add_tcase(s, conn);

    tcase_add_test(stream, chunks_streamed_as_they_arrive);
    tcase_add_test(stream, length_body_streamed_in_pieces);
    tcase_add_test(stream, read_waits_for_a_streamed_body);
    suite_add_tcase(s, stream);

    tcase_add_test(close_, server_close_is_detected);
    tcase_add_test(close_, server_reset_is_a_close);
    tcase_add_test(close_, bytes_instead_of_the_close);
    tcase_add_test(close_, read_times_out_then_resumes);
    tcase_add_test(close_, shutdown_half_closes);
    tcase_add_test(close_, close_sends_fin);
    tcase_add_test(close_, reset_sends_rst);
    suite_add_tcase(s, close_);

    tcase_add_loop_test(bad, malformed_is_an_error, 0,
                        sizeof bad_cases / sizeof bad_cases[0]);
    tcase_add_test(bad, empty_line_before_status_is_an_error);
    tcase_add_test(bad, reset_in_a_close_delimited_body_is_an_error);
    suite_add_tcase(s, bad);

    tcase_add_test(req, send_adds_host_and_length_not_close);
    tcase_add_test(req, caller_headers_replace_defaults);
    tcase_add_test(req, bad_request_parts_are_refused);
    suite_add_tcase(s, req);

    tcase_add_test(ws, ws_handshake_request_and_accept);
    tcase_add_test(ws, ws_own_key_wrong_accept);
    tcase_add_loop_test(ws, ws_bad_handshake_is_an_error, 0,
                        sizeof ws_bad_handshakes / sizeof ws_bad_handshakes[0]);
    tcase_add_test(ws, ws_deflate_answers_accepted);
    tcase_add_loop_test(ws, ws_bad_frame_is_an_error, 0,
                        sizeof ws_bad_frames / sizeof ws_bad_frames[0]);
    tcase_add_test(ws, ws_fragments_pings_and_close);
    tcase_add_test(ws, ws_close_handshake);
    tcase_add_test(ws, ws_close_checks_the_tcp_end);
    tcase_add_test(ws, ws_eof_without_close_is_1006);
    tcase_add_test(ws, ws_recv_times_out_then_resumes);
    tcase_add_test(ws, ws_client_frames);
    tcase_add_test(ws, ws_inflates_rfc7692_examples);
    tcase_add_test(ws, ws_deflate_bounds_and_sends);
    suite_add_tcase(s, ws);

    tcase_set_timeout(srv, 20);
    tcase_add_test(srv, start_fetch_stop);
    tcase_add_test(srv, fetch_rejects_bytes_after_the_response);
    tcase_add_test(srv, fetch_times_out);
    tcase_add_test(srv, stop_returns_the_exit_status);
    tcase_add_test(srv, dead_server_refuses);
    suite_add_tcase(s, srv);
    return s;
}

int main(void)
{
    const char *srcdir = getenv("SQUALL_SRCDIR");
    char fake[4096];
    SRunner *sr;
    int failed;

    snprintf(fake, sizeof fake, "%s/tests/integration/fake_squalld.py",
             srcdir != NULL && *srcdir != '\0' ? srcdir : ".");
    setenv("SQUALLD", fake, 1);
    sr = srunner_create(testclient_suite());
    srunner_run_all(sr, CK_ENV); /* CK_VERBOSITY=verbose lists tests */
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
