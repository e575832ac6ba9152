/*
 * sio-launcher: main, option parsing, the status-line protocol (report,
 * die) and prepared mode's go message (receive_run, take_run_fds).
 * The protocol (options, status lines, prepared mode) is specified in the
 * header comment of launcher.h.
 */
#include "launcher.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifdef SIO_MUSL
/* Debian's libseccomp.a is built with _FORTIFY_SOURCE against glibc; its
 * debugging output (never used here) calls glibc's checked fprintf. */
int __fprintf_chk(FILE *stream, int flag, const char *format, ...) {
    (void)flag;
    va_list ap;
    va_start(ap, format);
    int n = vfprintf(stream, format, ap);
    va_end(ap);
    return n;
}
#endif

const char *cgroups[MAX_ITEMS];
int cgroup_fds[MAX_ITEMS];
int n_cgroups;
struct rlimit_opt rlims[MAX_ITEMS];
int n_rlims;
struct bind_opt binds[MAX_ITEMS];
int n_binds;
const char *links[MAX_ITEMS];
int n_links;
uid_t run_uid = 65534;
gid_t run_gid = 65534;
const char *mountpoint;
const char *workdir = "/";
unsigned long tmp_kib = 16384, tmp_inodes = 4096;
const char *profile = "native";
int plain_open;
int no_namespaces;
int hold_at_exec;
const char *netns_file;
int prepared;
int serving;
static unsigned long start_tmp_kib, start_tmp_inodes;
int aslr_off;
char *run_env[MAX_ENV + 1];
int n_env;
int msg_stdio[3] = {-1, -1, -1};
int msg_netns = -1, msg_go = -1;
int run_event_fd = -1;
int launcher_alive_fd = -1;
int tmp_given;
long long wall_limit_ns;

void report(const char *fmt, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf - 1, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if (n > (int)sizeof buf - 2) n = sizeof buf - 2;
    buf[n++] = '\n';
    ssize_t w = write(STATUS_FD, buf, n);
    if (run_event_fd >= 0) {
        /* after the line: the worker reads it once the eventfd is readable */
        uint64_t one = 1;
        w = write(run_event_fd, &one, sizeof one);
    }
    (void)w;
}

void die(const char *what) {
    report("error %s: %s", what, strerror(errno));
    _exit(120);
}

void die_msg(const char *what) {
    report("error %s", what);
    _exit(120);
}

long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void reset_signals(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    for (int s = 1; s < NSIG; s++) sigaction(s, &sa, NULL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
}

/* Prepared mode, in I: wait for the go message on PREP_FD and take the run's
 * options, environment, argv and descriptors from it. Returns the program's
 * O_PATH descriptor and sets *prog_argv. */
int receive_run(char ***prog_argv) {
    static char buf[1 << 16];
    char cbuf[CMSG_SPACE(sizeof(int) * MAX_MSG_FDS)];
    struct iovec iov = {.iov_base = buf, .iov_len = sizeof buf - 1};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
                         .msg_controllen = sizeof cbuf};
    ssize_t n;
    do n = recvmsg(PREP_FD, &msg, MSG_CMSG_CLOEXEC); while (n < 0 && errno == EINTR);
    if (n == 0) _exit(0); /* the worker dropped this prepared launcher */
    if (n < 0) die("receive the run");
    if (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) die_msg("the run's message is too long");
    if (!serving) close(PREP_FD);
    int fds[MAX_MSG_FDS], n_fds = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        int k = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
        if (n_fds + k > MAX_MSG_FDS) die_msg("too many descriptors");
        memcpy(fds + n_fds, CMSG_DATA(c), sizeof(int) * (size_t)k);
        n_fds += k;
    }
    buf[n] = 0;
    int argc = 1;
    for (ssize_t i = 0; i < n; i++) argc += buf[i] == 0;
    static char **argv;
    free(argv); /* the previous run's (serving mode) */
    argv = calloc((size_t)argc + 2, sizeof *argv);
    if (!argv) die_msg("out of memory");
    argv[0] = "sio-launcher";
    int a = 1;
    for (ssize_t i = 0; i < n; i += (ssize_t)strlen(buf + i) + 1) argv[a++] = buf + i;
    argv[a] = NULL;
    int saved_binds = n_binds, saved_links = n_links;
    const char *saved_mountpoint = mountpoint;
    tmp_given = 0;
    int pi;
    parse_args(a, argv, &pi);
    if (pi + 1 >= a) die_msg("no program in the run's message");
    if (n_binds != saved_binds || n_links != saved_links || mountpoint != saved_mountpoint ||
        no_namespaces)
        die_msg("the run's message may not change the root");
    int need = 4 + 2 * serving + (netns_file ? 1 : 0) + (hold_at_exec ? 1 : 0) + n_cgroups;
    if (n_fds != need) die_msg("wrong number of descriptors in the run's message");
    int k = 0;
    if (serving) {
        /* The run's status pipe replaces fd 3 in I (the launcher keeps its own). */
        /* (close-on-exec, as every received descriptor: never the program's) */
        if (fds[k] != STATUS_FD) {
            if (dup3(fds[k], STATUS_FD, O_CLOEXEC) < 0) die("dup3 status");
            close(fds[k]);
        }
        k++;
        run_event_fd = fds[k++];
    }
    for (int i = 0; i < 3; i++) msg_stdio[i] = fds[k++];
    int exe_fd = fds[k++];
    if (netns_file) msg_netns = fds[k++];
    if (hold_at_exec) msg_go = fds[k++];
    for (int i = 0; i < n_cgroups; i++) cgroup_fds[i] = fds[k++];
    run_env[n_env] = NULL;
    environ = run_env;
    if (tmp_given) {
        char opts[128];
        snprintf(opts, sizeof opts, "size=%luk,nr_inodes=%lu", tmp_kib, tmp_inodes);
        if (mount("sio-tmp", tmp_path, "tmpfs", MS_REMOUNT | MS_NOSUID | MS_NODEV, opts) < 0)
            die("resize /tmp");
    }
    *prog_argv = argv + pi + 1;
    return exe_fd;
}

/* Prepared mode, in P: put the message's descriptors in place. */
void take_run_fds(int netns_fd) {
    for (int i = 0; i < 3; i++)
        if (dup2(msg_stdio[i], i) < 0) die("dup2 stdio");
    if (hold_at_exec && dup2(msg_go, GO_FD) < 0) die("dup2 go");
    if (hold_at_exec) fcntl(GO_FD, F_SETFD, FD_CLOEXEC);
    if (netns_fd >= 0) {
        if (setns(netns_fd, CLONE_NEWNET) < 0) die("setns netns");
    } else if (netns_fd == -1 && unshare(CLONE_NEWNET) < 0) {
        die("unshare netns");
    }
}

void reset_run_options(void) {
    n_cgroups = 0;
    n_rlims = 0;
    n_env = 0;
    run_uid = 65534;
    run_gid = 65534;
    workdir = "/";
    profile = "native";
    plain_open = 0;
    hold_at_exec = 0;
    netns_file = NULL;
    aslr_off = 0;
    wall_limit_ns = 0;
    msg_stdio[0] = msg_stdio[1] = msg_stdio[2] = -1;
    msg_netns = msg_go = -1;
    tmp_kib = start_tmp_kib;
    tmp_inodes = start_tmp_inodes;
    tmp_given = 0;
}

void parse_args(int argc, char **argv, int *prog_index) {
    int i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) { i++; break; }
        if (a[0] != '-' || !a[1] || a[2]) die_msg("bad option");
        char opt = a[1];
        if (opt == 'N') { no_namespaces = 1; continue; }
        if (opt == 'W') { hold_at_exec = 1; continue; }
        if (opt == 'o') { plain_open = 1; continue; }
        if (opt == 'P') { prepared = 1; continue; }
        if (opt == 'S') { serving = 1; continue; }
        if (opt == 'A') { aslr_off = 1; continue; }
        if (i + 1 >= argc) die_msg("option needs a value");
        char *v = argv[++i];
        switch (opt) {
        case 'c':
            if (n_cgroups == MAX_ITEMS) die_msg("too many cgroups");
            cgroups[n_cgroups++] = v;
            break;
        case 'u': run_uid = (uid_t)strtoul(v, NULL, 10); break;
        case 'g': run_gid = (gid_t)strtoul(v, NULL, 10); break;
        case 'r': {
            if (n_rlims == MAX_ITEMS) die_msg("too many rlimits");
            unsigned long long res, soft, hard;
            if (sscanf(v, "%llu:%llu:%llu", &res, &soft, &hard) != 3) die_msg("bad rlimit");
            rlims[n_rlims].res = (int)res;
            rlims[n_rlims].soft = soft;
            rlims[n_rlims].hard = hard;
            n_rlims++;
            break;
        }
        case 'M': mountpoint = v; break;
        case 'b': {
            if (n_binds == MAX_ITEMS) die_msg("too many binds");
            char *last = strrchr(v, ':');
            if (!last) die_msg("bad bind");
            *last = 0;
            char *mid = strrchr(v, ':');
            if (!mid) die_msg("bad bind");
            *mid = 0;
            binds[n_binds].src = v;
            binds[n_binds].dst = mid + 1;
            binds[n_binds].ro = strcmp(last + 1, "rw") != 0;
            n_binds++;
            break;
        }
        case 'l':
            if (n_links == MAX_ITEMS) die_msg("too many links");
            links[n_links++] = v;
            break;
        case 't':
            if (sscanf(v, "%lu:%lu", &tmp_kib, &tmp_inodes) != 2) die_msg("bad tmp");
            tmp_given = 1;
            break;
        case 'e':
            if (n_env == MAX_ENV) die_msg("too many environment variables");
            run_env[n_env++] = v;
            break;
        case 'T': wall_limit_ns = strtoll(v, NULL, 10) * 1000000LL; break;
        case 'w': workdir = v; break;
        case 'n': netns_file = v; break;
        case 's': profile = v; break;
        default: die_msg("unknown option");
        }
    }
    *prog_index = i; /* the program (when there is one: i + 1 < argc) */
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "-K") == 0) return make_netns(argv[2]);
    if (argc == 3 && strcmp(argv[1], "-F") == 0) return favor_dynmods(argv[2]);
    if (fcntl(STATUS_FD, F_GETFD) < 0) return 120;
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) die("pdeathsig");
    if (getppid() == 1) return 121;
    int pi;
    parse_args(argc, argv, &pi);
    if (!prepared && pi + 1 >= argc) die_msg("no program");
    if (!no_namespaces && !mountpoint) die_msg("no mountpoint (-M)");
    if (n_env && !prepared) {
        run_env[n_env] = NULL;
        environ = run_env;
    }
    reset_signals();
    if (serving && !prepared) die_msg("-S needs -P");
    for (int i = 0; serving && i < n_binds; i++)
        if (strcmp(binds[i].dst, "/tmp") == 0 || strncmp(binds[i].dst, "/tmp/", 5) == 0)
            die_msg("-S: a bind under /tmp would not survive a fresh /tmp");
    start_tmp_kib = tmp_kib;
    start_tmp_inodes = tmp_inodes;
    if (prepared) {
        /* Only the root's options now; the run's come in the go message. */
        if (no_namespaces || hold_at_exec || n_cgroups || netns_file || n_env)
            die_msg("-P takes only -M, -b, -l, -t and -S");
        if (fcntl(PREP_FD, F_GETFD) < 0) die("no fd 5 for -P");
        if (syscall(SYS_close_range, GO_FD, GO_FD, 0) < 0 ||
            syscall(SYS_close_range, PREP_FD + 1, ~0U, 0) < 0)
            die("close_range");
        fcntl(PREP_FD, F_SETFD, FD_CLOEXEC);
    } else if (syscall(SYS_close_range, hold_at_exec ? GO_FD + 1 : GO_FD, ~0U, 0) < 0) {
        die("close_range");
    }
    if (hold_at_exec && fcntl(GO_FD, F_GETFD) < 0) die("no fd 4 for -W");
    fcntl(STATUS_FD, F_SETFD, FD_CLOEXEC);
    if (hold_at_exec) fcntl(GO_FD, F_SETFD, FD_CLOEXEC);
    open_cgroups();
    int exe_fd = -1;
    if (!prepared) {
        exe_fd = open(argv[pi], O_PATH | O_CLOEXEC);
        if (exe_fd < 0) {
            report("error open program %s: %s", argv[pi], strerror(errno));
            _exit(120);
        }
    }
    if (!no_namespaces) {
        int flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS;
        if (prepared) {
            /* P joins the run's network namespace itself. */
        } else if (netns_file) {
            int nfd = open(netns_file, O_RDONLY | O_CLOEXEC);
            if (nfd < 0) die("open netns");
            if (setns(nfd, CLONE_NEWNET) < 0) die("setns netns");
            close(nfd);
        } else {
            flags |= CLONE_NEWNET;
        }
        if (unshare(flags) < 0) die("unshare");
    }
    /* I learns whether the launcher died before I's PR_SET_PDEATHSIG took
     * effect (getppid() cannot tell: I is pid 1 of its namespace) from the
     * write end of this pipe, which only the launcher holds. */
    int alive[2];
    if (pipe2(alive, O_CLOEXEC) < 0) die("pipe");
    pid_t init = fork();
    if (init < 0) die("fork init");
    if (init == 0) {
        close(alive[1]);
        launcher_alive_fd = alive[0];
        run_init(exe_fd, argv + pi + 1);
    }
    close(alive[0]);
    if (exe_fd >= 0) close(exe_fd);
    if (hold_at_exec) close(GO_FD);
    if (prepared) close(PREP_FD); /* I alone holds it: its death fails the worker's send */
    int st;
    while (waitpid(init, &st, 0) < 0) {
        if (errno != EINTR) die("wait init");
    }
    if (WIFEXITED(st)) return WEXITSTATUS(st);
    return 128 + WTERMSIG(st);
}
