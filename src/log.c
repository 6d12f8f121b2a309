/*
 * log.c - the error log and the access log.
 *
 * The error log goes to stderr (journald adds its own metadata) or to a
 * file; every line is written with one write(2) on an O_APPEND descriptor so
 * that lines from several processes never interleave. Access lines are
 * buffered per worker and written in batches by access_flush(), which the
 * worker calls from a short timer and before it exits.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *const level_names[] = {"debug", "info",  "notice",
                                          "warn",  "error", "crit"};

static struct {
    int level;
    int fd; /* error log */
    char *path;
    char role[32];
    int access_mode;
    int access_fd;
    char *access_path;
    char abuf[32768];
    size_t alen;
} L = {.level = SQ_LOG_INFO, .fd = 2, .role = "squalld", .access_fd = -1};

int log_level_from_name(const char *name)
{
    for (size_t i = 0; i < ARRAY_LEN(level_names); i++)
        if (strcmp(name, level_names[i]) == 0)
            return (int)i;
    return -1;
}

void log_set_role(const char *role)
{
    snprintf(L.role, sizeof(L.role), "%s", role);
}

static int open_append(const char *path, char *err, size_t errlen)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0)
        snprintf(err, errlen, "cannot open log file %s: %s", path,
                 strerror(errno));
    return fd;
}

/* Opens path for appending into *fd, remembering the path for reopening;
 * an error names where the config set it. */
static int open_log(const char *path, const struct conf_mark *m, int *fd,
                    char **saved, char *err, size_t errlen)
{
    char msg[512];
    int nfd = open_append(path, msg, sizeof(msg));

    if (nfd < 0) {
        errf(err, errlen, "%s:%d:%d: %s", m->file, m->line, m->col, msg);
        return -1;
    }
    if (*fd > 2)
        close(*fd);
    *fd = nfd;
    free(*saved);
    *saved = strdup(path);
    return 0;
}

int log_open(const struct config *cfg, char *err, size_t errlen)
{
    L.level = cfg->log_level;
    if (cfg->log_error != NULL && open_log(cfg->log_error, &cfg->log_error_mark,
                                           &L.fd, &L.path, err, errlen) < 0)
        return -1;
    L.access_mode = cfg->access_mode;
    if (cfg->access_mode == ACCESS_FILE)
        return open_log(cfg->log_access, &cfg->log_access_mark, &L.access_fd,
                        &L.access_path, err, errlen);
    if (cfg->access_mode == ACCESS_STDERR)
        L.access_fd = 2;
    return 0;
}

static void reopen_one(int *fd, const char *path)
{
    char err[256];
    int nfd;

    if (path == NULL)
        return;
    if ((nfd = open_append(path, err, sizeof(err))) < 0) {
        log_error("%s", err);
        return;
    }
    /* dup2 keeps the descriptor number every process shares; should it
     * fail, the old file stays in use, which is said */
    if (dup2(nfd, *fd) < 0)
        log_error("cannot reopen %s: %s", path, strerror(errno));
    close(nfd);
}

void log_reopen(void)
{
    access_flush();
    reopen_one(&L.fd, L.path);
    reopen_one(&L.access_fd, L.access_path);
    log_info("log files reopened");
}

static void write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return; /* nowhere left to report it */
        buf += n;
        len -= (size_t)n;
    }
}

void log_vmsg(int level, const char *fmt, va_list ap)
{
    char line[2048];
    struct tm tm;
    time_t now;
    int n, m;

    if (level < L.level)
        return;
    if (level < 0 || level > SQ_LOG_CRIT)
        level = SQ_LOG_CRIT;
    now = time(NULL);
    gmtime_r(&now, &tm);
    n = snprintf(line, sizeof(line),
                 "%04d-%02d-%02dT%02d:%02d:%02dZ [%s] squalld[%d] %s: ",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                 tm.tm_min, tm.tm_sec, level_names[level], (int)getpid(),
                 L.role);
    m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    if (m < 0)
        m = 0;
    n += m;
    if ((size_t)n > sizeof(line) - 2)
        n = (int)sizeof(line) - 2;
    line[n++] = '\n';
    write_all(L.fd, line, (size_t)n);
}

void log_msg(int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vmsg(level, fmt, ap);
    va_end(ap);
}

void sq_log(int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vmsg(level, fmt, ap);
    va_end(ap);
}

void fatal(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vmsg(SQ_LOG_CRIT, fmt, ap);
    va_end(ap);
    exit(1);
}

/* Copies s into the access buffer with '"', '\' and non-printable bytes
 * escaped as \xHH, so that a client cannot forge log lines. */
static void access_put_escaped(const char *s, size_t room_needed)
{
    static const char hex[] = "0123456789abcdef";
    char *d = L.abuf + L.alen;
    char *end = L.abuf + sizeof(L.abuf) - room_needed;

    for (; *s != '\0' && d + 4 < end; s++) {
        unsigned char c = (unsigned char)*s;
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
            *d++ = (char)c;
            continue;
        }
        *d++ = '\\';
        *d++ = 'x';
        *d++ = hex[c >> 4];
        *d++ = hex[c & 15];
    }
    L.alen = (size_t)(d - L.abuf);
}

static void access_put(const char *s)
{
    size_t n = strlen(s);
    if (n > sizeof(L.abuf) - L.alen)
        n = sizeof(L.abuf) - L.alen;
    memcpy(L.abuf + L.alen, s, n);
    L.alen += n;
}

/* Whether the query pair name q[0, n) is "token" once percent-decoded
 * (as sq_query_arg would read it): a bearer token (auth: jwt). */
static int is_token_name(const char *q, size_t n)
{
    char name[16];

    if (n >= sizeof(name) || n < 5)
        return 0;
    memcpy(name, q, n);
    name[n] = '\0';
    return url_decode(name, n, 1) == 5 && memcmp(name, "token", 5) == 0;
}

/* Appends s[0, n) to out[*o, cap - 1), truncating. */
static void put_piece(char *out, size_t *o, size_t cap, const char *s, size_t n)
{
    if (n > cap - 1 - *o)
        n = cap - 1 - *o;
    memcpy(out + *o, s, n);
    *o += n;
}

/* The request target with the value of every `token` query argument
 * replaced by "...": logs are read by more people than tokens should be.
 * (A line holds about 8 KiB of target anyway.) */
static void access_put_target(const char *t, size_t room_needed)
{
    const char *q = strchr(t, '?'), *pair, *end, *eq;
    char out[8192 + 1];
    size_t o = 0;

    if (q == NULL) {
        access_put_escaped(t, room_needed);
        return;
    }
    put_piece(out, &o, sizeof(out), t, (size_t)(q + 1 - t));
    for (pair = q + 1;; pair = end + 1) {
        end = pair + strcspn(pair, "&#");
        eq = memchr(pair, '=', (size_t)(end - pair));
        if (eq != NULL && is_token_name(pair, (size_t)(eq - pair))) {
            put_piece(out, &o, sizeof(out), pair, (size_t)(eq + 1 - pair));
            put_piece(out, &o, sizeof(out), "...", 3);
        } else {
            put_piece(out, &o, sizeof(out), pair, (size_t)(end - pair));
        }
        if (*end != '&')
            break;
        put_piece(out, &o, sizeof(out), "&", 1);
    }
    put_piece(out, &o, sizeof(out), end, strlen(end));
    out[o] = '\0';
    access_put_escaped(out, room_needed);
}

void access_log(const struct sq_req *r)
{
    static const char *const mon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    const char *ref, *ua;
    char head[160];
    struct tm tm;
    time_t now;

    if (L.access_mode == ACCESS_OFF)
        return;
    /* a line is at most ~8 KiB of escaped fields; keep room for one */
    if (sizeof(L.abuf) - L.alen < 12288)
        access_flush();
    now = time(NULL);
    gmtime_r(&now, &tm);
    snprintf(head, sizeof(head),
             "%s - - [%02d/%s/%04d:%02d:%02d:%02d +0000] \"", r->remote,
             tm.tm_mday, mon[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour,
             tm.tm_min, tm.tm_sec);
    access_put(head);
    access_put_escaped(r->method_s ? r->method_s : "-", 64);
    access_put(" ");
    access_put_target(r->target ? r->target : "-", 4096 + 64);
    snprintf(head, sizeof(head), " HTTP/%d.%d\" %d %llu \"", r->version / 10,
             r->version % 10, r->status, (unsigned long long)r->body_bytes);
    access_put(head);
    ref = sq_header(r, "Referer");
    ua = sq_header(r, "User-Agent");
    access_put_escaped(ref ? ref : "-", 1024 + 16);
    access_put("\" \"");
    access_put_escaped(ua ? ua : "-", 16);
    access_put("\"\n");
}

void access_flush(void)
{
    if (L.alen == 0 || L.access_fd < 0)
        return;
    write_all(L.access_fd, L.abuf, L.alen);
    L.alen = 0;
}
