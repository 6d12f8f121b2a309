/*
 * listen.c - listening sockets.
 *
 * The master binds every `server.listen` address before it forks, so all
 * workers inherit the same sockets and accept on them. Under systemd socket
 * activation (sd_listen_fds(3): $LISTEN_PID is ours, $LISTEN_FDS sockets
 * start at fd 3) the inherited sockets are used instead, which is also how
 * the test client hands squalld an ephemeral port without a race.
 *
 * A unix socket file belongs to whoever bound it: squalld removes only the
 * ones it bound itself (systemd keeps listening on an activated one after
 * squalld stops), and never replaces the socket of a process that still
 * accepts on it.
 */
#include "internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define LISTEN_BACKLOG 4096
#define SD_LISTEN_FDS_START 3

static int parse_port(const char *s, in_port_t *port)
{
    char *end;
    long v;

    if (*s < '0' || *s > '9')
        return -1;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < 0 || v > 65535)
        return -1;
    *port = htons((in_port_t)v);
    return 0;
}

static int parse_unix(const char *path, struct listen_conf *lc, char *err,
                      size_t errlen)
{
    struct sockaddr_un *sun = (struct sockaddr_un *)&lc->addr;
    size_t len = strlen(path);

    if (path[0] != '/') {
        snprintf(err, errlen, "unix socket path must be absolute: '%s'", path);
        return -1;
    }
    if (len >= sizeof(sun->sun_path)) {
        snprintf(err, errlen, "unix socket path too long (max %zu bytes)",
                 sizeof(sun->sun_path) - 1);
        return -1;
    }
    memset(sun, 0, sizeof(*sun));
    sun->sun_family = AF_UNIX;
    memcpy(sun->sun_path, path, len + 1);
    lc->addrlen = (socklen_t)sizeof(*sun);
    return 0;
}

int listen_parse(const char *text, struct listen_conf *lc, char *err,
                 size_t errlen)
{
    char host[256];
    const char *colon, *h = text;
    size_t hlen;
    in_port_t port;

    memset(&lc->addr, 0, sizeof(lc->addr));
    if (strncmp(text, "unix:", 5) == 0)
        return parse_unix(text + 5, lc, err, errlen);
    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (close == NULL || close[1] != ':')
            goto bad;
        h = text + 1;
        hlen = (size_t)(close - h);
        colon = close + 1;
    } else {
        colon = strrchr(text, ':');
        if (colon == NULL)
            goto bad;
        hlen = (size_t)(colon - text);
    }
    if (hlen == 0 || hlen >= sizeof(host) || parse_port(colon + 1, &port) < 0)
        goto bad;
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    if (text[0] == '[') {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&lc->addr;
        if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1)
            goto bad;
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = port;
        lc->addrlen = (socklen_t)sizeof(*sin6);
        return 0;
    }
    {
        struct sockaddr_in *sin = (struct sockaddr_in *)&lc->addr;
        if (strcmp(host, "*") == 0)
            sin->sin_addr.s_addr = htonl(INADDR_ANY);
        else if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
            goto bad;
        sin->sin_family = AF_INET;
        sin->sin_port = port;
        lc->addrlen = (socklen_t)sizeof(*sin);
    }
    return 0;
bad:
    snprintf(err, errlen,
             "bad listen address '%s' (expected host:port, [ipv6]:port or "
             "unix:/path; host is a numeric address or *)",
             text);
    return -1;
}

static int set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* Whether something accepts connections on the unix socket at lc: a
 * connect that succeeds, or finds the backlog full (EAGAIN), means a live
 * listener; ECONNREFUSED means a stale file from a process that is gone. */
static int unix_path_live(const struct listen_conf *lc)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int rc, live;

    if (fd < 0)
        return -1;
    rc = connect(fd, (const struct sockaddr *)&lc->addr, lc->addrlen);
    live = rc == 0 || errno == EAGAIN;
    if (!live && errno != ECONNREFUSED)
        live = -1; /* cannot tell (EACCES, ...): bind will say why */
    close(fd);
    return live;
}

/* A socket file at lc's path would make bind fail: a stale one is removed,
 * a live one is an error. Anything else there is left for bind to report. */
static int clear_unix_path(const struct listen_conf *lc, char *err,
                           size_t errlen)
{
    const char *path = ((const struct sockaddr_un *)&lc->addr)->sun_path;
    struct stat st;
    int live;

    if (lstat(path, &st) < 0 || !S_ISSOCK(st.st_mode))
        return 0;
    live = unix_path_live(lc);
    if (live > 0) {
        snprintf(err, errlen,
                 "%s:%d:%d: cannot listen on %s: another process is "
                 "listening on %s",
                 lc->mark.file, lc->mark.line, lc->mark.col, lc->text, path);
        return -1;
    }
    if (live == 0 && unlink(path) < 0 && errno != ENOENT) {
        snprintf(err, errlen, "%s:%d:%d: cannot remove the stale socket %s: %s",
                 lc->mark.file, lc->mark.line, lc->mark.col, path,
                 strerror(errno));
        return -1;
    }
    return 0;
}

static int open_one(const struct listen_conf *lc, struct listener *l, char *err,
                    size_t errlen)
{
    int family = lc->addr.ss_family, one = 1, fd;

    if (family == AF_UNIX && clear_unix_path(lc, err, errlen) < 0)
        return -1;
    fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        goto fail;
    if (family != AF_UNIX) {
        /* best effort: without them a restart may wait for TIME_WAIT, or
         * an IPv6 wildcard may also take the IPv4 port */
        (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (family == AF_INET6)
            (void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    }
    if (bind(fd, (const struct sockaddr *)&lc->addr, lc->addrlen) < 0)
        goto fail;
    l->fd = fd;
    l->is_unix = family == AF_UNIX;
    l->owned = 1; /* from here on, listen_close removes a unix path */
    if (listen(fd, LISTEN_BACKLOG) < 0)
        goto fail;
    if ((l->name = strdup(lc->text)) == NULL)
        goto fail;
    return 0;
fail:
    snprintf(err, errlen, "%s:%d:%d: cannot listen on %s: %s", lc->mark.file,
             lc->mark.line, lc->mark.col, lc->text, strerror(errno));
    if (fd >= 0 && l->fd != fd)
        close(fd);
    return -1;
}

/* Sockets passed by systemd (or by the test client): 0 when there are
 * none, the count otherwise. */
static int inherited_count(void)
{
    const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
    long n;

    if (pid == NULL || fds == NULL || atol(pid) != (long)getpid())
        return 0;
    n = atol(fds);
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_FDNAMES");
    return n > 0 && n < 1024 ? (int)n : 0;
}

static int inherit(int n, struct listener *ls, char *err, size_t errlen)
{
    for (int i = 0; i < n; i++) {
        int fd = SD_LISTEN_FDS_START + i;
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        char name[32];

        if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
            snprintf(err, errlen, "inherited fd %d is not a socket: %s", fd,
                     strerror(errno));
            return -1;
        }
        if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0 || set_nonblock(fd) < 0) {
            snprintf(err, errlen, "inherited fd %d: %s", fd, strerror(errno));
            return -1;
        }
        snprintf(name, sizeof(name), "fd:%d", fd);
        ls[i].fd = fd;
        ls[i].is_unix = ss.ss_family == AF_UNIX;
        ls[i].owned = 0; /* systemd's: it keeps listening after we stop */
        if ((ls[i].name = strdup(name)) == NULL) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
    }
    return 0;
}

int listen_open(const struct config *cfg, struct listener **out, size_t *n,
                char *err, size_t errlen)
{
    int inherited = inherited_count();
    size_t count = inherited > 0 ? (size_t)inherited : cfg->nlisten;
    struct listener *ls = calloc(count, sizeof(*ls));
    size_t i;

    if (ls == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (i = 0; i < count; i++)
        ls[i].fd = -1;
    if (inherited > 0) {
        if (inherit(inherited, ls, err, errlen) < 0)
            goto fail;
    } else {
        for (i = 0; i < count; i++)
            if (open_one(&cfg->listen[i], &ls[i], err, errlen) < 0)
                goto fail;
    }
    *out = ls;
    *n = count;
    return 0;
fail:
    listen_close(ls, count, 1); /* removes only what it bound */
    return -1;
}

void listen_close(struct listener *l, size_t n, int unlink_unix)
{
    for (size_t i = 0; i < n; i++) {
        if (l[i].fd >= 0) {
            if (unlink_unix && l[i].is_unix && l[i].owned) {
                struct sockaddr_un sun;
                socklen_t len = sizeof(sun);
                if (getsockname(l[i].fd, (struct sockaddr *)&sun, &len) == 0 &&
                    sun.sun_path[0] == '/')
                    unlink(sun.sun_path);
            }
            close(l[i].fd);
        }
        tls_ctx_free(l[i].tls);
        free(l[i].name);
    }
    free(l);
}
