/*
 * hello.c - the smallest useful squall module, and the first one to read.
 *
 *   modules:
 *     hello: { path: hello.so }
 *   routes:
 *     - { path: /, handler: hello:hello }
 *     - { path: /echo, handler: hello:echo }
 *
 * A handler gets the request, writes a response and returns SQ_DONE. What it
 * writes is buffered and sent with a Content-Length when it returns.
 */
#include <squall/squall.h>

/* GET / -> "Hello, world!" */
static int hello(sq_req *r)
{
    sq_set_header(r, "Content-Type", "text/plain");
    sq_write(r, "Hello, world!", 13);
    return SQ_DONE;
}

/* Any method -> the request body, byte for byte. */
static int echo(sq_req *r)
{
    size_t len;
    const char *body = sq_body(r, &len);

    sq_set_header(r, "Content-Type", "application/octet-stream");
    sq_write(r, body, len);
    return SQ_DONE;
}

SQ_MODULE(.name = "hello", .handlers = SQ_HANDLERS(hello, echo));
