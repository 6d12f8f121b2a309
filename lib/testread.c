/*
 * testread.c - reading responses on an sq_test_conn: whole, or the head
 * and then the body chunk by chunk as it arrives. The parser
 * (testparse.c) pauses after each response, so the bytes of the next
 * pipelined one stay in the connection's buffer until it is asked for.
 */
#include "testlib.h"

#include <stdio.h>
#include <string.h>

/* Makes the parser ready for the next response, labelled by the oldest
 * request awaiting one. */
static int begin(sq_test_conn *c, int streaming)
{
    struct tl_pending *q = &c->queue[c->qfirst];
    int head = 0;

    if (c->reading)
        return 0;
    snprintf(c->what, sizeof c->what, "response");
    if (c->qlen > 0) {
        head = q->head;
        snprintf(c->what, sizeof c->what, "%s", q->what);
        c->qfirst = (c->qfirst + 1) % SQ_TEST_MAX_PIPELINE;
        c->qlen--;
    }
    if (tl_parse_begin(&c->parse, head, streaming, c->in_pos) < 0) {
        tl_conn_fail(c, "%s: out of memory", c->what);
        return -1;
    }
    c->reading = 1;
    return 0;
}

/* Whether the connection can still carry HTTP; sets the error if not. */
static int usable(sq_test_conn *c)
{
    c->error[0] = '\0';
    if (c->broken)
        tl_conn_fail(c,
                     "%s: an earlier response was malformed; the "
                     "connection's framing is lost",
                     c->what);
    else if (c->upgraded)
        tl_conn_fail(c, "the connection switched protocols (101): use "
                        "sq_test_conn_recv()");
    else
        return 0;
    return -1;
}

/* broken: the bytes were malformed, so where the next response starts
 * is unknown (a closed connection is merely over). */
static enum tl_event fail_parse(sq_test_conn *c, int broken)
{
    c->broken |= broken;
    tl_conn_fail(c, "%s: %s", c->what, c->parse.error);
    return TL_ERROR;
}

/* Feeds buffered input to the parser until it stops at an event. */
static enum tl_event feed(sq_test_conn *c)
{
    enum tl_event e = TL_MORE;
    size_t used;

    while (c->in.len > 0) {
        e = tl_parse_feed(&c->parse, c->in.data, c->in.len, &used);
        tl_buf_consume(&c->in, used);
        c->in_pos += used;
        if (e == TL_ERROR)
            return fail_parse(c, 1);
        if (e != TL_MORE)
            return e;
        if (used == 0) { /* a parser that neither moves nor stops */
            snprintf(c->parse.error, sizeof c->parse.error,
                     "internal error: the parser made no progress");
            return fail_parse(c, 1);
        }
    }
    return e;
}

/* Whether a streamed body without chunks has data to hand out. */
static int piece_ready(const sq_test_conn *c)
{
    const struct tl_parse *p = &c->parse;

    return p->streaming && p->final_head && p->chunk.len > 0 &&
           !(p->hp.flags & F_CHUNKED);
}

/* The next parser event (never TL_MORE), reading input as needed. */
static enum tl_event next_event(sq_test_conn *c, double deadline, double secs)
{
    enum tl_event e;

    for (;;) {
        e = feed(c);
        if (e != TL_MORE)
            return e;
        if (piece_ready(c))
            return TL_CHUNK_DONE;
        if (c->eof) {
            e = tl_parse_eof(&c->parse, c->reset);
            return e == TL_ERROR ? fail_parse(c, 0) : e;
        }
        switch (tl_conn_fill(c, deadline)) {
        case 1:
            tl_conn_timeout(c, secs, "reading the response");
            return TL_ERROR;
        case -1:
            return TL_ERROR;
        }
    }
}

/* The response is complete: the connection moves on to the next one.
 * Returns it (the caller's to free), or NULL when out of memory. */
static sq_test_response *finish(sq_test_conn *c)
{
    sq_test_response *r = tl_parse_take(&c->parse);

    c->upgraded = c->parse.upgraded;
    c->reading = 0;
    c->stream = c->stream == TL_IN_STREAM ? TL_STREAM_END : TL_NO_STREAM;
    if (r == NULL)
        tl_conn_fail(c, "%s: out of memory", c->what);
    return r;
}

sq_test_response *sq_test_conn_read(sq_test_conn *c, int timeout_ms)
{
    double secs = tl_timeout_s(timeout_ms), deadline = tl_now() + secs;
    enum tl_event e;

    if (usable(c) < 0)
        return NULL;
    if (c->stream == TL_IN_STREAM) {
        tl_conn_fail(c,
                     "%s: its body is being streamed: read it to its end "
                     "with sq_test_conn_read_chunk() first",
                     c->what);
        return NULL;
    }
    c->stream = TL_NO_STREAM;
    if (begin(c, 0) < 0)
        return NULL;
    do
        e = next_event(c, deadline, secs);
    while (e == TL_HEAD_DONE);
    return e == TL_MSG_DONE ? finish(c) : NULL;
}

sq_test_response *sq_test_conn_read_head(sq_test_conn *c, int timeout_ms)
{
    double secs = tl_timeout_s(timeout_ms), deadline = tl_now() + secs;
    sq_test_response *r;
    enum tl_event e;

    if (usable(c) < 0)
        return NULL;
    if (c->stream == TL_IN_STREAM) {
        tl_conn_fail(c, "%s: its body is still being streamed", c->what);
        return NULL;
    }
    if (begin(c, 1) < 0)
        return NULL;
    e = next_event(c, deadline, secs);
    if (e == TL_MSG_DONE) { /* a read that timed out got this far */
        c->stream = TL_IN_STREAM;
        return finish(c);
    }
    if (e != TL_HEAD_DONE)
        return NULL;
    r = tl_parse_take(&c->parse);
    if (r == NULL)
        tl_conn_fail(c, "%s: out of memory", c->what);
    c->stream = TL_IN_STREAM;
    return r;
}

ssize_t sq_test_conn_read_chunk(sq_test_conn *c, const char **data,
                                int timeout_ms)
{
    double secs = tl_timeout_s(timeout_ms), deadline = tl_now() + secs;
    struct tl_buf *chunk = &c->parse.chunk;
    enum tl_event e;

    *data = "";
    c->error[0] = '\0';
    if (c->stream == TL_STREAM_END)
        return 0;
    if (c->stream != TL_IN_STREAM) {
        tl_conn_fail(c,
                     "%s: no body is being streamed: call "
                     "sq_test_conn_read_head() first",
                     c->what);
        return -1;
    }
    if (c->handed_out) /* the previous piece; a partial chunk stays */
        tl_buf_consume(chunk, chunk->len);
    c->handed_out = 0;
    e = next_event(c, deadline, secs);
    if (e == TL_ERROR)
        return -1;
    if (e == TL_MSG_DONE) /* what is left: the trailers, dropped */
        sq_test_response_free(finish(c));
    *data = chunk->data ? chunk->data : "";
    c->handed_out = 1;
    return (ssize_t)chunk->len; /* 0 at the end of the body */
}
