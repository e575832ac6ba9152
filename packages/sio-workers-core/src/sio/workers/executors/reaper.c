/*
 * sio-reaper: runs one unprotected command and is the only thing that
 * watches it. Every process the command starts dies with the run, with the
 * wall-clock limit, and with the worker.
 *
 * Usage: sio-reaper -p PPID [-T WALL_MS] [-C DIR] [-r RES:SOFT:HARD]... -- ARGV0 [ARGS...]
 *   fd 0-2  the command's stdio
 *   fd 3    the report pipe (write end)
 *   -p PPID the worker's pid. The reaper sets PR_SET_PDEATHSIG(SIGKILL) and
 *           exits 125 at once when its parent is no longer PPID (the worker
 *           died before that)
 *   -T MS   the wall-clock limit, enforced here (not by the worker)
 *   -C DIR  the command's working directory (entered just before its exec)
 *   -r      an rlimit of the command (RES is the numeric resource), set in
 *           the command just before its exec; repeatable
 *   ARGV0   looked up in PATH like a shell's simple command: execvp (which
 *           runs a file without a #! line with /bin/sh); a name without a
 *           slash that is not found runs as /bin/sh -c '"$0" "$@"' ARGV0
 *           ARGS... (shell builtins work, a missing command exits 127 with
 *           the shell's message)
 *
 * Processes:
 *   R  the reaper, a child of the worker (PR_SET_PDEATHSIG SIGKILL);
 *   I  the watcher: pid 1 of a new pid namespace (with a mount namespace
 *      of its own, where I mounts the namespace's /proc: /proc/<getpid()>
 *      must be the caller) when unshare(CLONE_NEWPID | CLONE_NEWNS) is
 *      permitted (root), also with PR_SET_PDEATHSIG SIGKILL and a
 *      lifeline pipe from R. When I dies, the kernel kills every process of
 *      its namespace: a worker's death kills R, R's kills I, and I's kills
 *      the command and everything it forked, setsid-ed or double-forked.
 *      Without the namespace (no CAP_SYS_ADMIN) R itself is I, a child
 *      subreaper: orphans of the run become its children and are killed at
 *      the end, but a worker's death then kills only the command (its own
 *      PR_SET_PDEATHSIG), not what it forked. sio-doctor says which.
 *   C  the command.
 * I waits for C (wait4: C's own status and rusage), enforces the wall
 * limit, then kills every other process of the run and reaps them all, and
 * only then writes ONE line on fd 3:
 *   "exit <wait-status> <utime-us> <stime-us> <maxrss-kib> <timed-out> <pidns>\n"
 *   "error <text>\n"  (the reaper itself failed; exit status 125)
 * <timed-out> is 1 when the wall limit killed the run, <pidns> 1 when the
 * run had its own pid namespace.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define REPORT_FD 3
#define MAX_RLIMITS 16

static struct {
    int res;
    rlim_t soft, hard;
} rlims[MAX_RLIMITS];
static int n_rlims;
static int pidns;

static void report(const char *fmt, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf - 1, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if (n > (int)sizeof buf - 2) n = sizeof buf - 2;
    buf[n++] = '\n';
    const char *p = buf;
    while (n > 0) {
        ssize_t w = write(REPORT_FD, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return;
        p += w;
        n -= w;
    }
}

static void fail(const char *what) {
    report("error %s: %s", what, strerror(errno));
    _exit(125);
}

static long long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static long long tv_us(struct timeval tv) {
    return (long long)tv.tv_sec * 1000000 + tv.tv_usec;
}

static const char *workdir; /* -C: the command's working directory */

/* In C: never returns. */
static void run_command(char **argv) {
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    close(REPORT_FD);
    setpgid(0, 0);
    /* Without a namespace nothing else would take the command down with a
     * dead worker (with one this is redundant: I's death kills it). */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (workdir && chdir(workdir) < 0) {
        fprintf(stderr, "sio-reaper: cannot enter %s: %s\n", workdir, strerror(errno));
        _exit(126);
    }
    for (int i = 0; i < n_rlims; i++) {
        struct rlimit rl = {rlims[i].soft, rlims[i].hard};
        if (setrlimit(rlims[i].res, &rl) < 0) {
            fprintf(stderr, "sio-reaper: setrlimit %d: %s\n", rlims[i].res, strerror(errno));
            _exit(126);
        }
    }
    execvp(argv[0], argv);
    int err = errno;
    if (err == ENOENT && !strchr(argv[0], '/')) {
        int argc = 0;
        while (argv[argc]) argc++;
        char **sh = calloc((size_t)argc + 4, sizeof *sh);
        if (sh) {
            sh[0] = "sh";
            sh[1] = "-c";
            sh[2] = "\"$0\" \"$@\"";
            memcpy(sh + 3, argv, sizeof *sh * (size_t)(argc + 1));
            execv("/bin/sh", sh);
        }
    }
    fprintf(stderr, "sio-reaper: %s: %s\n", argv[0], strerror(err));
    _exit(err == ENOENT ? 127 : 126);
}

/* Kill every process of the run but I itself. */
static void kill_rest(pid_t group) {
    if (pidns) {
        kill(-1, SIGKILL); /* as pid 1: every other process of the namespace */
        return;
    }
    if (group > 0) kill(-group, SIGKILL);
    /* a subreaper: every orphan of the run is one of our children */
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%d/children", (int)getpid());
    FILE *f = fopen(path, "re");
    if (!f) return;
    int pid;
    while (fscanf(f, "%d", &pid) == 1) kill(pid, SIGKILL);
    fclose(f);
}

/* I: runs the command, watches it, reports. Never returns. */
static void watch(char **argv, long long wall_ms, int lifeline) {
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    if (sigprocmask(SIG_BLOCK, &chld, NULL) < 0) fail("sigprocmask");
    int sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sfd < 0) fail("signalfd");
    long long deadline = wall_ms >= 0 ? now_ms() + wall_ms : -1;
    pid_t c = fork();
    if (c < 0) fail("fork command");
    if (c == 0) {
        close(sfd);
        if (lifeline >= 0) close(lifeline);
        run_command(argv);
    }
    setpgid(c, c); /* both sides set it: the group exists before any kill */
    int status = 0, done = 0, timed_out = 0;
    struct rusage ru;
    memset(&ru, 0, sizeof ru);
    while (!done) {
        struct pollfd fds[2] = {{sfd, POLLIN, 0}, {lifeline, POLLIN, 0}};
        int timeout = -1;
        if (deadline >= 0) {
            long long left = deadline - now_ms();
            timeout = left > 0 ? (int)(left > 1 << 30 ? 1 << 30 : left) : 0;
        }
        int r = poll(fds, lifeline >= 0 ? 2 : 1, timeout);
        if (r < 0 && errno != EINTR) fail("poll");
        if (r == 0 && deadline >= 0 && now_ms() >= deadline) {
            timed_out = 1;
            kill_rest(c);
            deadline = -1;
        }
        if (lifeline >= 0 && fds[1].revents) {
            /* R is gone (so is the worker): take the run down, say nothing */
            kill_rest(c);
            _exit(125);
        }
        struct signalfd_siginfo si;
        while (read(sfd, &si, sizeof si) > 0) {}
        for (;;) {
            int st;
            struct rusage u;
            pid_t w = wait4(-1, &st, WNOHANG, &u);
            if (w <= 0) break;
            if (w == c) { status = st; ru = u; done = 1; }
        }
    }
    /* The command is done: nothing it started may outlive it. */
    for (;;) {
        kill_rest(c);
        pid_t w = waitpid(-1, NULL, 0);
        if (w < 0 && errno == ECHILD) break;
        if (w < 0 && errno != EINTR) break;
    }
    report("exit %d %lld %lld %ld %d %d", status, tv_us(ru.ru_utime), tv_us(ru.ru_stime),
           ru.ru_maxrss, timed_out, pidns);
    _exit(0);
}

int main(int argc, char **argv) {
    long long ppid = -1, wall_ms = -1;
    int i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) { i++; break; }
        if (i + 1 >= argc || a[0] != '-' || !a[1] || a[2]) goto usage;
        const char *v = argv[++i];
        if (a[1] == 'p') ppid = atoll(v);
        else if (a[1] == 'T') wall_ms = atoll(v);
        else if (a[1] == 'C') workdir = v;
        else if (a[1] == 'r') {
            unsigned long long res, soft, hard;
            if (n_rlims == MAX_RLIMITS || sscanf(v, "%llu:%llu:%llu", &res, &soft, &hard) != 3)
                goto usage;
            rlims[n_rlims].res = (int)res;
            rlims[n_rlims].soft = (rlim_t)soft;
            rlims[n_rlims].hard = (rlim_t)hard;
            n_rlims++;
        } else goto usage;
    }
    if (i >= argc || ppid <= 0) goto usage;
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) fail("pdeathsig");
    if (getppid() != (pid_t)ppid) _exit(125); /* the worker is already gone */
    char **command = argv + i;
    if (unshare(CLONE_NEWPID | CLONE_NEWNS) < 0) {
        /* No namespace: R watches the run itself, as a child subreaper. */
        if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) fail("child subreaper");
        watch(command, wall_ms, -1);
    }
    pidns = 1;
    int life[2];
    if (pipe2(life, O_CLOEXEC) < 0) fail("pipe");
    pid_t init = fork();
    if (init < 0) fail("fork watcher");
    if (init == 0) {
        close(life[1]);
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) fail("pdeathsig");
        struct pollfd p = {life[0], POLLIN, 0};
        if (poll(&p, 1, 0) != 0) _exit(125); /* R died meanwhile */
        /* The namespace's own /proc, so that /proc/<getpid()> is the
         * caller (PRoot, for one, relies on it); slave propagation: the
         * host's mount events still arrive, ours never leave. */
        if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0) fail("make / a slave mount");
        if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
            fail("mount /proc");
        watch(command, wall_ms, life[0]);
    }
    close(life[0]);
    close(REPORT_FD);
    int st;
    while (waitpid(init, &st, 0) < 0) {
        if (errno != EINTR) _exit(125);
    }
    if (WIFEXITED(st)) return WEXITSTATUS(st);
    return 125;

usage:
    fputs("usage: sio-reaper -p PPID [-T WALL_MS] [-r RES:SOFT:HARD]... -- ARGV0 [ARGS...]\n",
          stderr);
    return 125;
}
