/*
 * redisproto.c - the pure parts of the hub's link to Redis (internal.h):
 * the URL of pubsub.redis, and a message as Redis carries it.
 *
 * A message is published on Redis and kept in its history list as
 * "<epoch>:<offset>\n<data>": the epoch as 16 lowercase hex digits (as in
 * a position), the offset in decimal, then the data, any bytes.
 */
#include "internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int redis_url_parse(const char *text, struct redis_url *u)
{
    const char *p = text, *host, *end;
    uint64_t n;
    size_t len;

    memset(u, 0, sizeof(*u));
    if (strncmp(p, "redis://", 8) != 0)
        return -1;
    p += 8;
    if (*p == '[') {
        host = ++p;
        if ((end = strchr(p, ']')) == NULL)
            return -1;
        p = end + 1;
    } else {
        host = p;
        end = p + strcspn(p, ":/");
        p = end;
    }
    len = (size_t)(end - host);
    if (len == 0 || len >= sizeof(u->host) || *p != ':')
        return -1;
    memcpy(u->host, host, len);
    u->host[len] = '\0';
    p++;
    if (parse_u64(p, strcspn(p, "/"), &n) < 0 || n == 0 || n > 65535)
        return -1;
    u->port = (int)n;
    p += strcspn(p, "/");
    if (*p == '\0')
        return 0;
    p++;
    if (parse_u64(p, strlen(p), &n) < 0 || n > 2147483647)
        return -1;
    u->db = (long)n;
    return 0;
}

int redis_payload_encode(struct buf *out, uint64_t epoch, uint64_t offset,
                         const void *data, size_t len)
{
    char head[48];
    int n = snprintf(head, sizeof(head), "%016" PRIx64 ":%" PRIu64 "\n",
                     epoch, offset);

    if (n < 0 || buf_add(out, head, (size_t)n) < 0 ||
        (len > 0 && buf_add(out, data, len) < 0))
        return -1;
    return 0;
}

int redis_payload_decode(const char *p, size_t len, uint64_t *epoch,
                         uint64_t *offset, const char **data, size_t *datalen)
{
    const char *nl;
    uint64_t e, o;

    /* "<position>\n<data>" */
    nl = memchr(p, '\n', len < POSITION_MAX ? len : POSITION_MAX);
    if (nl == NULL || position_parse(p, (size_t)(nl - p), &e, &o) < 0 ||
        o == 0)
        return -1;
    *epoch = e;
    *offset = o;
    *data = nl + 1;
    *datalen = len - (size_t)(nl + 1 - p);
    return 0;
}
