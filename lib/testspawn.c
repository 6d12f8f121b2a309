/*
 * testspawn.c - the squalld child process, run the way systemd runs it:
 * the listening socket is fd 3 with LISTEN_FDS=1 and LISTEN_PID
 * (sd_listen_fds(3)), readiness goes to $NOTIFY_SOCKET (sd_notify(3)),
 * stdout and stderr go to a log file, and it gets a process group of its
 * own so that whatever it leaves behind can be killed.
 *
 * No signal handlers: the child is watched by polling waitid(), and
 * everything the child does between fork and exec is async-signal-safe.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* closefrom() on glibc; all else is POSIX */
#endif

#include "testlib.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef SQ_SQUALLD
#define SQ_SQUALLD "/usr/local/sbin/squalld"
#endif

#define POLL_MS 10 /* child-exit polling interval */

extern char **environ;

static const char *squalld_path(void)
{
    const char *p = getenv("SQUALLD");

    return p != NULL && *p != '\0' ? p : SQ_SQUALLD;
}

/* Variables set for squalld, dropped from the inherited environment. */
static const char *const own_vars[] = {
    "LISTEN_FDS=",    "LISTEN_PID=",    "LISTEN_FDNAMES=",
    "NOTIFY_SOCKET=", "WATCHDOG_USEC=", "WATCHDOG_PID=",
};

static int own_var(const char *e)
{
    size_t i;

    for (i = 0; i < sizeof own_vars / sizeof own_vars[0]; i++)
        if (strncmp(e, own_vars[i], strlen(own_vars[i])) == 0)
            return 1;
    return 0;
}

/* Everything the child needs, prepared before fork. */
struct exec_args {
    const char *argv[4];
    char **envp; /* pointers into environ and the buffers below */
    char notify_var[sizeof "NOTIFY_SOCKET=" +
                    sizeof(((struct sockaddr_un *)0)->sun_path)];
    char pid_var[32]; /* "LISTEN_PID=" filled in by the child */
    int listen_fd, log_fd;
    pid_t parent;
};

/* Built before fork so that the child only does async-signal-safe work
 * (execve with this array rather than setenv). */
static int child_env(struct exec_args *a, const char *notify)
{
    static char listen_fds[] = "LISTEN_FDS=1";
    size_t n = 0, i, j = 0;

    while (environ != NULL && environ[n] != NULL)
        n++;
    a->envp = calloc(n + 4, sizeof *a->envp);
    if (a->envp == NULL)
        return -1;
    for (i = 0; i < n; i++)
        if (!own_var(environ[i]))
            a->envp[j++] = environ[i];
    snprintf(a->notify_var, sizeof a->notify_var, "NOTIFY_SOCKET=%s", notify);
    a->envp[j++] = listen_fds;
    a->envp[j++] = a->notify_var;
    a->envp[j++] = a->pid_var;
    a->envp[j] = NULL;
    return 0;
}

/* "LISTEN_PID=<pid>" without stdio, in the child. */
static void format_pid_var(char *out, pid_t pid)
{
    static const char prefix[] = "LISTEN_PID=";
    char digits[24];
    int n = 0;

    memcpy(out, prefix, sizeof prefix - 1);
    out += sizeof prefix - 1;
    do {
        digits[n++] = (char)('0' + pid % 10);
        pid /= 10;
    } while (pid > 0);
    while (n > 0)
        *out++ = digits[--n];
    *out = '\0';
}

static void close_above_3(void)
{
#if (defined(__GLIBC__) &&                                                     \
     (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))) ||          \
    defined(__FreeBSD__) || defined(__OpenBSD__)
    closefrom(4);
#else
    long max = sysconf(_SC_OPEN_MAX);
    int fd;

    if (max < 0 || max > 65536)
        max = 65536;
    for (fd = 4; fd < max; fd++)
        close(fd);
#endif
}

/* In the child after fork: stdin /dev/null, stdout and stderr the log,
 * fd 3 the listening socket, nothing else; then exec. Never returns. */
static void child_exec(struct exec_args *a) __attribute__((noreturn));

static void child_exec(struct exec_args *a)
{
    static const char msg[] = "sq_test_start: cannot exec squalld\n";
    sigset_t none;
    ssize_t n;
    int lfd, logfd, nullfd;

    setpgid(0, 0); /* sq_test_stop() can kill what squalld leaves behind */
#ifdef __linux__
    /* A test that crashes must not leave a daemon running. */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != a->parent)
        _exit(126);
#endif
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGCHLD, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    signal(SIGHUP, SIG_DFL);

    /* Move our fds out of 0..3 first: any of them may be sitting there. */
    lfd = fcntl(a->listen_fd, F_DUPFD_CLOEXEC, 10);
    logfd = fcntl(a->log_fd, F_DUPFD_CLOEXEC, 10);
    nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (nullfd >= 0)
        nullfd = fcntl(nullfd, F_DUPFD_CLOEXEC, 10);
    if (lfd < 0 || logfd < 0 || nullfd < 0 || dup2(nullfd, 0) < 0 ||
        dup2(logfd, 1) < 0 || dup2(logfd, 2) < 0 || dup2(lfd, 3) < 0)
        _exit(126);
    close_above_3();
    format_pid_var(a->pid_var, getpid());
    execve(a->argv[0], (char *const *)a->argv, a->envp);
    n = write(2, msg, sizeof msg - 1); /* into the log, for sq_test_start */
    (void)n;
    _exit(127);
}

int tl_spawn(struct tl_child *c, const char *conf, const char *log,
             const char *notify, int listen_fd, char *err, size_t errlen)
{
    struct exec_args a;
    int ret = -1;

    memset(&a, 0, sizeof a);
    a.argv[0] = squalld_path();
    a.argv[1] = "-c";
    a.argv[2] = conf;
    a.listen_fd = listen_fd;
    a.parent = getpid();
    if (access(a.argv[0], X_OK) < 0) {
        tl_seterr(err, errlen, "cannot run squalld %s: %s (set SQUALLD)",
                  a.argv[0], strerror(errno));
        return -1;
    }
    a.log_fd =
        open(log, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
    if (a.log_fd < 0) {
        tl_seterr(err, errlen, "%s: %s", log, strerror(errno));
        return -1;
    }
    if (child_env(&a, notify) < 0) {
        tl_seterr(err, errlen, "out of memory");
        goto out;
    }
    c->parent = getpid();
    c->pid = fork();
    if (c->pid == 0)
        child_exec(&a);
    if (c->pid < 0) {
        tl_seterr(err, errlen, "fork: %s", strerror(errno));
        goto out;
    }
    setpgid(c->pid, c->pid); /* also here: whichever runs first wins */
    ret = 0;
out:
    free(a.envp);
    close(a.log_fd);
    return ret;
}

/* Without reaping: while squalld is a zombie its pid, and so its process
 * group id, cannot be reused. */
int tl_child_exited(const struct tl_child *c)
{
    siginfo_t si;

    if (c->pid <= 0)
        return 1;
    /* a forked test process (Check's fork mode) cannot wait for its
     * parent's child: ask whether the process still exists instead */
    if (getpid() != c->parent)
        return kill(c->pid, 0) < 0 && errno == ESRCH;
    memset(&si, 0, sizeof si);
    if (waitid(P_PID, (id_t)c->pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0)
        return errno == ECHILD;
    return si.si_pid != 0;
}

int tl_child_wait(const struct tl_child *c, double deadline)
{
    while (!tl_child_exited(c)) {
        if (tl_now() >= deadline)
            return -1;
        poll(NULL, 0, tl_ms_left(deadline, POLL_MS));
    }
    return 0;
}

/* With kill_all, the whole process group is killed first (while the
 * master is at least a zombie, the group id cannot be reused). Otherwise
 * *stragglers tells whether the group outlived the master, i.e. squalld
 * exited without stopping its workers; they are killed then. */
int tl_child_reap(struct tl_child *c, int kill_all, int *stragglers)
{
    int status;
    pid_t r;

    *stragglers = 0;
    if (c->pid <= 0)
        return -1;
    if (kill_all)
        kill(-c->pid, SIGKILL);
    do
        r = waitpid(c->pid, &status, 0);
    while (r < 0 && errno == EINTR);
    if (!kill_all && kill(-c->pid, SIGKILL) == 0)
        *stragglers = 1;
    c->pid = -1;
    return r < 0 ? -1 : status;
}

void tl_describe_status(int status, char *err, size_t errlen)
{
    if (status < 0)
        tl_adderr(err, errlen, "could not be waited for");
    else if (WIFEXITED(status))
        tl_adderr(err, errlen, "exited with status %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        tl_adderr(err, errlen, "was killed by signal %d (%s)", WTERMSIG(status),
                  strsignal(WTERMSIG(status)));
    else
        tl_adderr(err, errlen, "stopped with wait status %#x", status);
}
