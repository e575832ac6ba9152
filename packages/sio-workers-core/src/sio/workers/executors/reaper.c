/*
 * sio-reaper: measures one unprotected command the way the kernel sees it.
 *
 * Why: a process's ru_maxrss starts at the peak RSS of the address space it
 * was forked from (the kernel keeps the maximum across exec). Spawned from
 * the worker, a program would report the worker's ~20 MiB. Forked from this
 * small static process, it reports its own peak (plus at most the reaper's
 * few hundred KiB).
 *
 * Usage: sio-reaper REPORT_FD SHELL SCRIPT
 *   1. waits until one byte (or EOF) arrives on fd 3, the gate: meanwhile the
 *      worker sets the rlimits on this process, which the child inherits;
 *   2. forks the child, which makes its own process group, closes fds 3 and
 *      REPORT_FD and execs SHELL -c SCRIPT;
 *   3. writes "pid <child pid>\n" on REPORT_FD (the worker kills the child's
 *      process group, never the reaper's, at the wall-clock limit);
 *   4. waits for the child with wait4 and writes
 *      "exit <wait-status> <utime-us> <stime-us> <maxrss-kib>\n",
 *      then exits 0. On a failure of its own it writes "error <text>\n" and
 *      exits 125.
 * Signals that would stop the reaper are left at their defaults: the worker
 * started it with every disposition reset.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define GATE_FD 3

static int report_fd = -1;

static void report(const char *fmt, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if (n >= (int)sizeof buf) n = sizeof buf - 1;
    const char *p = buf;
    while (n > 0) {
        ssize_t w = write(report_fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return;
        p += w;
        n -= w;
    }
}

static void fail(const char *what) {
    report("error %s: %s\n", what, strerror(errno));
    _exit(125);
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fputs("usage: sio-reaper REPORT_FD SHELL SCRIPT\n", stderr);
        return 125;
    }
    report_fd = atoi(argv[1]);
    if (report_fd <= GATE_FD) {
        fputs("sio-reaper: REPORT_FD must be above 3\n", stderr);
        return 125;
    }
    char byte;
    while (read(GATE_FD, &byte, 1) < 0) {
        if (errno != EINTR) fail("read gate");
    }
    close(GATE_FD);
    pid_t child = fork();
    if (child < 0) fail("fork");
    if (child == 0) {
        setpgid(0, 0);
        close(report_fd);
        char *args[] = {argv[2], "-c", argv[3], NULL};
        execv(argv[2], args);
        _exit(127);
    }
    /* Both sides set the group, so the worker never kills a stale one. */
    setpgid(child, child);
    report("pid %d\n", (int)child);
    int status;
    struct rusage ru;
    while (wait4(child, &status, 0, &ru) < 0) {
        if (errno != EINTR) fail("wait4");
    }
    report("exit %d %ld %ld %ld\n", status,
           (long)ru.ru_utime.tv_sec * 1000000L + ru.ru_utime.tv_usec,
           (long)ru.ru_stime.tv_sec * 1000000L + ru.ru_stime.tv_usec,
           ru.ru_maxrss);
    return 0;
}
