/*
 * fuzz_http.c - libFuzzer target for the request parser glue (src/http.c,
 * src/request.c): any bytes, split at any point, must give a request or an
 * HTTP status, never a crash, a leak, an overread or a hang.
 *
 * tests/fuzz/run.sh builds it with clang and runs it on its seed corpus
 * (tests/fuzz/corpus/http/) with its dictionary (tests/fuzz/http.dict);
 * http-parser is not instrumented, so from an empty corpus it is blind.
 * The limits are small so that inputs of a few KiB reach 413, 414 and 431.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Reads what a handler may read, so that ASan sees every string end. */
static void read_request(sq_req *r)
{
    const char *name, *value;
    size_t len, sum = 0;

    sum += strlen(sq_method(r)) + strlen(sq_path(r)) + strlen(sq_query(r));
    for (size_t i = 0; sq_header_at(r, i, &name, &value) == 0; i++)
        sum += strlen(name) + strlen(value);
    for (size_t i = 0; (value = sq_query_arg_n(r, "a", i)) != NULL; i++)
        sum += strlen(value);
    if (sq_body(r, &len)[len] != '\0' || sum == 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct limits_conf lim = {.max_header_size = 1024,
                                           .max_uri_size = 256,
                                           .max_body_size = 2048};
    struct http_in *h = http_in_new();
    sq_pool *pool = pool_new(4096);
    size_t split = size > 0 ? data[0] % (size + 1) : 0, off = 0;
    int rc = HTTP_IN_MORE;

    /* the first byte chooses where the input is cut in two reads */
    while (off < size && rc >= 0) {
        sq_req *r = sq_palloc(pool, sizeof(*r));
        size_t end = off < split ? split : size, used;

        req_init(r, pool, NULL, NULL);
        http_in_begin(h, r, &lim);
        do {
            rc = http_feed(h, (const char *)data + off, end - off, &used);
            off += used;
            if (rc == HTTP_IN_MORE && off == end && end < size)
                end = size;
        } while (rc == HTTP_IN_HEAD || (rc == HTTP_IN_MORE && off < end));
        if (rc == HTTP_IN_DONE)
            read_request(r);
        if (rc != HTTP_IN_DONE)
            break;
        pool_reset(pool);
    }
    pool_free(pool);
    http_in_free(h);
    return 0;
}
