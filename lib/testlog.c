/*
 * testlog.c - squalld's log (its stdout and stderr, in the server's
 * temporary directory): its first lines go into sq_test_start() errors,
 * its end to stderr when sq_test_stop() finds an unclean exit, and tests
 * wait for lines in it with sq_test_wait_log().
 */
#include "testlib.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ERR_LINES 20        /* log lines in start errors */
#define LOG_TAIL 8192       /* bytes of log copied out by stop */
#define LOG_MAX (16u << 20) /* bytes of log sq_test_wait_log() searches */
#define POLL_MS 10          /* log polling interval */

/* Where to start reading: from, or (tail) max bytes before the end; and
 * how much there is to read, at most max. */
static off_t span(int fd, size_t from, size_t max, int tail, size_t *len)
{
    off_t size = lseek(fd, 0, SEEK_END);

    *len = 0;
    if (size < 0)
        return -1;
    if (tail)
        from = (size_t)size > max ? (size_t)size - max : 0;
    if ((off_t)from < size)
        *len = (size_t)(size - (off_t)from) < max ? (size_t)(size - (off_t)from)
                                                  : max;
    return lseek(fd, (off_t)from, SEEK_SET);
}

/* Up to max bytes of the log from offset from (tail: its last max bytes
 * instead). Returns a malloc'd NUL-terminated string ("" when unreadable)
 * that the caller frees, or NULL; *got gets its length. */
static char *read_log(const char *path, size_t from, size_t max, int tail,
                      size_t *got)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    size_t want = 0, n = 0;
    char *text;
    ssize_t r;

    if (fd >= 0 && span(fd, from, max, tail, &want) < 0)
        want = 0;
    text = malloc(want + 1);
    while (text != NULL && fd >= 0 && n < want) {
        r = read(fd, text + n, want - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    if (text != NULL)
        text[n] = '\0';
    if (got != NULL)
        *got = n;
    if (fd >= 0)
        close(fd);
    return text;
}

void tl_log_head(const char *path, char *err, size_t errlen)
{
    char *text = read_log(path, 0, errlen, 0, NULL), *p;
    int lines = 0;
    size_t len;

    if (text == NULL)
        return;
    for (p = text; *p != '\0' && lines < ERR_LINES; p++)
        if (*p == '\n' && ++lines == ERR_LINES)
            *p = '\0';
    len = strlen(text);
    while (len > 0 && text[len - 1] == '\n')
        text[--len] = '\0';
    if (len == 0)
        tl_adderr(err, errlen, " (its stderr was empty)");
    else
        tl_adderr(err, errlen, "; its stderr:\n%s", text);
    free(text);
}

void tl_log_tail(const char *path, const char *why)
{
    char *text = read_log(path, 0, LOG_TAIL, 1, NULL);

    fprintf(stderr, "sq_test_stop: squalld %s; the end of its log (%s):\n%s%s",
            why, path, text ? text : "",
            text && *text && text[strlen(text) - 1] != '\n' ? "\n" : "");
    free(text);
}

/* Looks for text in the log after the mark; moves the mark past it. */
static int find_in_log(sq_test_server *s, const char *text)
{
    char *log = read_log(s->log, s->log_mark, LOG_MAX, 0, NULL);
    char *hit = log ? strstr(log, text) : NULL;

    if (hit != NULL)
        s->log_mark += (size_t)(hit - log) + strlen(text);
    free(log);
    return hit != NULL;
}

int sq_test_wait_log(sq_test_server *s, const char *text, int timeout_ms)
{
    double secs = tl_timeout_s(timeout_ms), deadline = tl_now() + secs;

    s->error[0] = '\0';
    for (;;) {
        if (find_in_log(s, text))
            return 1;
        if (tl_now() >= deadline)
            break;
        poll(NULL, 0, tl_ms_left(deadline, POLL_MS));
    }
    tl_seterr(s->error, sizeof s->error, "\"%.100s\" not in %s within %g s",
              text, s->log, secs);
    tl_server_note_exit(s, s->error, sizeof s->error);
    return 0;
}
