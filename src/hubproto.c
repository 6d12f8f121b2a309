/*
 * hubproto.c - the frames between the workers and the hub (internal.h).
 *
 * Each type's fields are described once, as a string of field codes, and
 * both the encoder and the decoder walk that string: a field cannot be
 * written in one order and read in another.
 *
 * The decoder is strict: the hub and the workers are the same program, so
 * anything that does not decode exactly is a bug or a corrupt stream, and
 * the connection is dropped rather than resynchronised. It allocates
 * nothing and copies nothing: channel and data point into the input.
 */
#include "internal.h"

#include <string.h>

/* Field codes:
 *   n  u32 n          p  u32 pid        i  u64 id
 *   e  u64 epoch      o  u64 offset     k  u16 code
 *   r  u8 recovered (0 or 1)
 *   c  str channel (u16 length, 1..HUB_CHANNEL_MAX bytes)
 *   d  blob data (u32 length) */
static const char *const layouts[] = {
    [HUB_HELLO] = "np",  [HUB_SUB] = "cn",       [HUB_PUB] = "icd",
    [HUB_HIST] = "iceo", [HUB_PUBOK] = "ieon",   [HUB_ERR] = "ik",
    [HUB_MSG] = "ceod",  [HUB_HISTOK] = "ireon", [HUB_HITEM] = "iod",
};

static const char *layout(unsigned type)
{
    if (type >= ARRAY_LEN(layouts))
        return NULL;
    return layouts[type];
}

/* Encoding -------------------------------------------------------------- */

static uint8_t *put_be(uint8_t *p, uint64_t v, size_t n)
{
    for (size_t i = n; i > 0; i--) {
        p[i - 1] = (uint8_t)v;
        v >>= 8;
    }
    return p + n;
}

/* The bytes after the length: type and fields; 0 when f cannot be
 * encoded. */
static uint64_t body_size(const struct hub_frame *f, const char *l)
{
    uint64_t n = 1;

    for (; *l; l++) {
        switch (*l) {
        case 'n':
        case 'p':
            n += 4;
            break;
        case 'i':
        case 'e':
        case 'o':
            n += 8;
            break;
        case 'k':
            n += 2;
            break;
        case 'r':
            n += 1;
            break;
        case 'c':
            if (f->channel_len == 0 || f->channel_len > HUB_CHANNEL_MAX)
                return 0;
            n += 2 + f->channel_len;
            break;
        case 'd':
            if ((uint64_t)f->len > UINT32_MAX)
                return 0;
            n += 4 + (uint64_t)f->len;
            break;
        }
    }
    return n > UINT32_MAX ? 0 : n;
}

int hub_encode(struct buf *out, const struct hub_frame *f)
{
    const char *l = layout(f->type);
    uint64_t size;
    uint8_t *p;

    if (l == NULL || (size = body_size(f, l)) == 0)
        return -1;
    p = (uint8_t *)buf_reserve(out, 4 + (size_t)size);
    if (p == NULL)
        return -1;
    p = put_be(p, size, 4);
    *p++ = f->type;
    for (; *l; l++) {
        switch (*l) {
        case 'n':
            p = put_be(p, f->n, 4);
            break;
        case 'p':
            p = put_be(p, f->pid, 4);
            break;
        case 'i':
            p = put_be(p, f->id, 8);
            break;
        case 'e':
            p = put_be(p, f->epoch, 8);
            break;
        case 'o':
            p = put_be(p, f->offset, 8);
            break;
        case 'k':
            p = put_be(p, f->code, 2);
            break;
        case 'r':
            *p++ = f->recovered != 0;
            break;
        case 'c':
            p = put_be(p, f->channel_len, 2);
            memcpy(p, f->channel, f->channel_len);
            p += f->channel_len;
            break;
        case 'd':
            p = put_be(p, f->len, 4);
            if (f->len > 0)
                memcpy(p, f->data, f->len);
            p += f->len;
            break;
        }
    }
    out->len += 4 + (size_t)size;
    return 0;
}

/* Decoding -------------------------------------------------------------- */

/* A cursor over the body of one frame. */
struct rd {
    const uint8_t *p, *end;
};

/* The next n bytes as a big-endian integer; -1 past the end. */
static int get_be(struct rd *r, size_t n, uint64_t *v)
{
    if ((size_t)(r->end - r->p) < n)
        return -1;
    *v = 0;
    for (size_t i = 0; i < n; i++)
        *v = *v << 8 | r->p[i];
    r->p += n;
    return 0;
}

/* n bytes of a string or blob whose length was just read. */
static int get_bytes(struct rd *r, uint64_t n, const uint8_t **out)
{
    if ((uint64_t)(r->end - r->p) < n)
        return -1;
    *out = r->p;
    r->p += n;
    return 0;
}

static int get_field(struct rd *r, char code, struct hub_frame *f)
{
    const uint8_t *b;
    uint64_t v;

    switch (code) {
    case 'n':
    case 'p':
        if (get_be(r, 4, &v) < 0)
            return -1;
        *(code == 'n' ? &f->n : &f->pid) = (uint32_t)v;
        return 0;
    case 'i':
        return get_be(r, 8, &f->id);
    case 'e':
        return get_be(r, 8, &f->epoch);
    case 'o':
        return get_be(r, 8, &f->offset);
    case 'k':
        if (get_be(r, 2, &v) < 0)
            return -1;
        f->code = (uint16_t)v;
        return 0;
    case 'r':
        if (get_be(r, 1, &v) < 0 || v > 1)
            return -1;
        f->recovered = (uint8_t)v;
        return 0;
    case 'c':
        if (get_be(r, 2, &v) < 0 || v == 0 || v > HUB_CHANNEL_MAX ||
            get_bytes(r, v, &b) < 0)
            return -1;
        f->channel = (const char *)b;
        f->channel_len = (size_t)v;
        return 0;
    case 'd':
        if (get_be(r, 4, &v) < 0 || get_bytes(r, v, &b) < 0)
            return -1;
        f->data = b;
        f->len = (size_t)v;
        return 0;
    }
    return -1;
}

long hub_decode(const char *in, size_t len, size_t max_frame,
                struct hub_frame *f)
{
    const uint8_t *p = (const uint8_t *)in;
    struct rd r;
    const char *l;
    uint64_t size;

    if (len < 4)
        return 0;
    size = (uint64_t)p[0] << 24 | (uint64_t)p[1] << 16 | (uint64_t)p[2] << 8 |
           p[3];
    /* judged on its length alone, before its body arrives */
    if (size == 0 || size > max_frame)
        return -1;
    if (len < 5)
        return 0;
    l = layout(p[4]);
    if (l == NULL)
        return -1;
    if (len - 4 < size)
        return 0;
    memset(f, 0, sizeof(*f));
    f->type = p[4];
    r.p = p + 5;
    r.end = p + 4 + size;
    for (; *l; l++)
        if (get_field(&r, *l, f) < 0)
            return -1;
    if (r.p != r.end)
        return -1;
    return (long)(4 + size);
}
