/*
 * asan_report.h - for the tests that only an ASan build runs: whether a
 * piece of code makes AddressSanitizer report an error.
 */
#ifndef SQUALL_ASAN_REPORT_H
#define SQUALL_ASAN_REPORT_H

#include <check.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/* Runs fn in a child process, which must not survive it (ASan exits 1, or
 * aborts under abort_on_error=1); out gets the start of what the child
 * wrote to stderr, the report. */
static void asan_report(void (*fn)(void), char *out, size_t len)
{
    size_t n = 0;
    ssize_t got;
    int fds[2], status;
    pid_t pid;

    ck_assert_int_eq(pipe(fds), 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        dup2(fds[1], STDERR_FILENO);
        close(fds[0]);
        close(fds[1]);
        fn();
        _exit(0);
    }
    close(fds[1]);
    while (n + 1 < len && (got = read(fds[0], out + n, len - 1 - n)) > 0)
        n += (size_t)got;
    out[n] = '\0';
    close(fds[0]); /* a longer report ends on EPIPE */
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(!WIFEXITED(status) || WEXITSTATUS(status) != 0,
                  "no ASan report; the child went on: %s", out);
}

#endif
