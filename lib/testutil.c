/*
 * testutil.c - what every part of the test client needs: a monotonic
 * clock and deadlines (every wait in the library has one), error strings,
 * fd flags, and a byte buffer with a ceiling (every buffer has one).
 */
#include "testlib.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

double tl_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int tl_ms_left(double deadline, int cap)
{
    double left = (deadline - tl_now()) * 1000.0;

    if (left <= 0)
        return 0;
    if (left > cap)
        return cap;
    return (int)left + 1;
}

double tl_default_timeout(void)
{
    const char *v = getenv("SQ_TEST_TIMEOUT");
    char *end;
    double t;

    if (v == NULL || *v == '\0')
        return DEFAULT_TIMEOUT;
    t = strtod(v, &end);
    if (*end != '\0' || !(t > 0) || t > 86400)
        return DEFAULT_TIMEOUT;
    return t;
}

double tl_timeout_s(int timeout_ms)
{
    return timeout_ms < 0 ? tl_default_timeout() : timeout_ms / 1000.0;
}

void tl_vseterr(char *err, size_t errlen, const char *fmt, va_list ap)
{
    if (err != NULL && errlen > 0)
        vsnprintf(err, errlen, fmt, ap);
}

void tl_seterr(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    tl_vseterr(err, errlen, fmt, ap);
    va_end(ap);
}

void tl_adderr(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    size_t used;

    if (err == NULL || errlen == 0)
        return;
    used = strlen(err);
    if (used + 1 >= errlen)
        return;
    va_start(ap, fmt);
    vsnprintf(err + used, errlen - used, fmt, ap);
    va_end(ap);
}

void tl_quote(char *out, size_t outlen, const char *p, size_t len, size_t max)
{
    size_t i, o = 0;
    unsigned char c;

    if (outlen < 8)
        return;
    out[o++] = '"';
    for (i = 0; i < len && i < max && o + 6 < outlen; i++) {
        c = (unsigned char)p[i];
        if (c == '\r' || c == '\n' || c == '\t')
            o += (size_t)sprintf(out + o, "\\%c",
                                 c == '\r'   ? 'r'
                                 : c == '\n' ? 'n'
                                             : 't');
        else if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\')
            o += (size_t)sprintf(out + o, "\\x%02x", c);
        else
            out[o++] = (char)c;
    }
    if (i < len && o + 4 < outlen)
        o += (size_t)sprintf(out + o, "...");
    out[o++] = '"';
    out[o] = '\0';
}

int tl_cloexec_nonblock(int fd, int nonblock)
{
    int fl = fcntl(fd, F_GETFD);

    if (fl < 0 || fcntl(fd, F_SETFD, fl | FD_CLOEXEC) < 0)
        return -1;
    if (!nonblock)
        return 0;
    fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -1;
    return 0;
}

void tl_close(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

/* Room for n more bytes and the NUL; -1 (errno ENOBUFS) past b->max. */
int tl_buf_reserve(struct tl_buf *b, size_t n)
{
    size_t need, cap = b->cap ? b->cap : 256;
    char *p;

    if (n > b->max || b->len > b->max - n) {
        errno = ENOBUFS;
        return -1;
    }
    need = b->len + n + 1;
    if (need <= b->cap)
        return 0;
    while (cap < need)
        cap *= 2;
    p = realloc(b->data, cap);
    if (p == NULL)
        return -1;
    b->data = p;
    b->cap = cap;
    return 0;
}

int tl_buf_add(struct tl_buf *b, const void *p, size_t n)
{
    if (tl_buf_reserve(b, n) < 0)
        return -1;
    if (n > 0)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int tl_buf_str(struct tl_buf *b, const char *s)
{
    return tl_buf_add(b, s, strlen(s));
}

void tl_buf_consume(struct tl_buf *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
    } else {
        memmove(b->data, b->data + n, b->len - n);
        b->len -= n;
    }
    if (b->data != NULL)
        b->data[b->len] = '\0';
}

void tl_buf_free(struct tl_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}
