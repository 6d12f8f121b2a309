/*
 * fuzz_http.c - libFuzzer target for the request parser glue (src/http.c,
 * src/request.c): any bytes, split at any point, must give a request or an
 * HTTP status, never a crash, a leak or an overread.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude -Isrc -Ibuild \
 *       tests/fuzz/fuzz_http.c src/http.c src/request.c src/pool.c \
 *       src/buf.c src/router.c src/util.c src/log.c -lhttp_parser -lpcre2-8 \
 *       -o fuzz_http
 *   ./fuzz_http -max_total_time=60
 */
#include "internal.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct limits_conf lim = {.max_header_size = 4096,
                                           .max_uri_size = 1024,
                                           .max_body_size = 8192};
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
        if (rc == HTTP_IN_DONE) {
            (void)sq_query_arg(r, "a");
            (void)sq_header(r, "host");
        }
        if (rc != HTTP_IN_DONE)
            break;
        pool_reset(pool);
    }
    pool_free(pool);
    http_in_free(h);
    return 0;
}
