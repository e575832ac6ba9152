/*
 * sio-launcher: the namespace init I (pid 1) and the program P (pid 2).
 * I builds the root (launcher_ns.c), takes the run from the go message in
 * prepared mode (launcher_main.c), starts P (clone, sharing I's memory until
 * P's exec) and waits: it receives P's
 * seccomp notifications (the first one is the violation; the namespace is
 * killed), enforces the -T wall limit, reaps every process of the
 * namespace and writes the ONE final status line ("exit ..." or "rv ...").
 * P does its last steps as root, applies its limits (launcher_limits.c),
 * loads the seccomp profile (launcher_seccomp.c), whose notification fd is
 * in I's descriptor table (shared until the exec), and execs the program.
 * The protocol (options, status lines, prepared mode) is specified in the
 * header comment of launcher.h.
 */
#include "launcher.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <linux/futex.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* P shares I's memory until its exec (clone with CLONE_VM: no copy of I's
 * address space, as posix_spawn does it): P writes nothing I relies on but
 * p_notify_fd, uses raw system calls for its credentials, never returns
 * into I's frames (its own stack) and leaves by exec or _exit. While P
 * prepares, I waits for P's exec (p_tid, below): nothing P does after loading its
 * filter may be a notification (I could not answer it before the worker's
 * wall limit).
 * P also shares I's descriptor table (CLONE_FILES) until its exec, which
 * gives P a copy of its own and closes the close-on-exec descriptors there:
 * the notification fd of P's filter is then already in I's table, with no
 * socket pair to pass it. So P closes nothing (every descriptor but its
 * stdio is close-on-exec by then), and what P puts on 0-2 (the go
 * message's stdio, and GO_FD with -W) I puts back to /dev/null after the
 * exec (i_null_fd), so that I holds none of the run's stdio afterwards. */
#define P_STACK_SIZE (256 * 1024)
static char *p_stack;
static char *volatile exec_page = MAP_FAILED; /* P's exec path page, mapped by P */
static int i_null_fd = -1; /* prepared mode: /dev/null, put back on I's 0-2 after P's exec */

/* A serving I that loaded the run's filter itself (serve_filter_setup): every
 * P inherits it instead of loading its own. */
static int i_filtered;
static int i_nfd = -1;                   /* the filter's notification fd */
static int exe_slot = -1;               /* I's descriptor P puts the program on
                                          * (the filter names it) */
static struct stat served_netns;         /* the network namespace I joined */
static char *i_magic;                    /* "" (the exec path) and "/tmp" */
static char *served_profile;
static int served_plain_open;
static int last_pid_fd = -1;             /* /proc/sys/kernel/ns_last_pid */

/* `len` bytes at a random address the program cannot know (the filter
 * compares pointers into it). */
static char *map_random(size_t len) {
    for (int tries = 0; tries < 8; tries++) {
        uint64_t r;
        if (getrandom(&r, sizeof r, 0) != sizeof r) die("getrandom");
        uintptr_t addr = 0x100000000000ULL + (r & 0x3fffffff000ULL) * 16;
        char *page = mmap((void *)addr, len, PROT_READ | PROT_WRITE,
                          MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
        if (page != MAP_FAILED) return page;
    }
    die("mmap at a random address");
}

struct p_start { int exe_fd; char **argv; };
static volatile int p_notify_fd = -1; /* written by P (shared memory), read by I */

/* P is started ahead of its run and parks (start_parked): a serving I
 * starts the next run's P right after a run's cleanup, so that the clone is
 * off the next run's path. P waits on p_go (a futex) until I has put the
 * run in p_run; I then waits until P has exec'd or exited: CLONE_CHILD_CLEARTID
 * zeroes p_tid (and wakes its futex) when P lets go of I's memory, as
 * CLONE_VFORK would have let I go on. */
static struct p_start p_run;
static volatile int p_go;     /* 0 while P is parked; 1: the run is in p_run */
static volatile pid_t p_tid;  /* P's pid until its exec or exit (kernel-cleared) */
static pid_t parked = -1;     /* the parked P, or -1 */
/* A serving I's P after the first run takes its run from the go message
 * itself (the worker's message wakes P, not I, which waits on p_tid): I's
 * wakeup and hand-over are off the run's path. P sets p_took_run (and
 * p_run, run_start) once the message is its run; P ending without it is
 * the worker's EOF (exit 0), a bad message (its error line is out) or P
 * killed while parked (I starts another). */
static int p_receives;
static volatile int p_took_run;
static long long run_start;

/* Runs in P: never returns. */
static void __attribute__((noreturn)) run_program(int exe_fd, char **argv) {
    /* Every disposition is already the default (main() reset them; I sets no
     * handler): only the SIGCHLD that I blocks must be unblocked. */
    sigset_t none;
    sigemptyset(&none);
    if (sigprocmask(SIG_SETMASK, &none, NULL) < 0) die("sigprocmask");
    if (chdir(workdir) < 0) die("chdir to working directory");
    setpgid(0, 0);
    /* Join the run's cgroups last of the setup, as root (launcher_limits.c). */
    join_cgroups();
    set_rlimits();
    drop_credentials();
    set_personality();
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) die("pdeathsig");
    if (getppid() == 0) _exit(121); /* parent already gone */
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) die("no_new_privs");
    if (prctl(PR_SET_DUMPABLE, 0) < 0) die("dumpable");
    /* The exec path "" lives at a random address: the filter allows only an
     * execveat whose path pointer is exactly this one. */
    char *magic = i_magic;
    if (!i_filtered) {
        magic = map_random(4096);
        magic[0] = 0;
        exec_page = magic; /* in I's memory too: I unmaps it once P has exec'd */
    }
    if (syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC) < 0) die("close_range");
    if (!i_filtered) p_notify_fd = load_seccomp(exe_fd, magic); /* in I's table too */
    if (hold_at_exec) {
        /* Everything but the exec is done: the worker may now attach a
         * counter that starts at the exec and sees nothing of ours. */
        report("ready");
        char go;
        ssize_t r;
        do r = read(GO_FD, &go, 1); while (r < 0 && errno == EINTR);
        if (r != 1) _exit(125);
    }
    syscall(SYS_execveat, exe_fd, magic, argv, environ, AT_EMPTY_PATH);
    report("error exec %s: %s", argv[0], strerror(errno));
    _exit(127);
}

static long futex(volatile int *word, int op, int val) {
    return syscall(SYS_futex, word, op, val, NULL, NULL, 0);
}

static void serve_filter_setup(void);

static int program_main(void *arg) {
    (void)arg;
    if (p_receives) {
        char **argv;
        int fd = receive_run(&argv);
        serve_filter_setup(); /* only its check: I decided at the first run */
        run_start = now_ns();
        p_run = (struct p_start){fd, argv};
        __atomic_store_n(&p_took_run, 1, __ATOMIC_RELEASE);
    } else {
        while (__atomic_load_n(&p_go, __ATOMIC_ACQUIRE) == 0) futex(&p_go, FUTEX_WAIT, 0);
    }
    struct p_start *ps = &p_run;
    int exe_fd = ps->exe_fd;
    if (i_filtered) {
        /* onto the descriptor the inherited filter names (I's table) */
        if (dup3(exe_fd, exe_slot, O_CLOEXEC) < 0) die("dup3 the program");
        exe_fd = exe_slot;
    }
    /* a filtered I is in the run's network namespace already */
    if (prepared) take_run_fds(i_filtered ? -2 : msg_netns);
    run_program(exe_fd, ps->argv);
}

static int same_netns(int fd) {
    struct stat st;
    return fd >= 0 && fstat(fd, &st) == 0 && st.st_dev == served_netns.st_dev &&
           st.st_ino == served_netns.st_ino;
}

/* Serving mode, in I, at its first run (the go message has set the profile):
 * when the filter can be I's own (x86-64, a seccomp profile, the slot's
 * network namespace given, address-space randomisation on), I joins that
 * network namespace and loads the filter now, for all its runs; the worker
 * serves it only runs of the same profile, -o, -A and network namespace
 * (prepared.filter_key), and I refuses any other. */
static void serve_filter_setup(void) {
    static int decided;
    if (decided) {
        if (i_filtered && (strcmp(profile, served_profile) != 0 ||
                           plain_open != served_plain_open || aslr_off || !same_netns(msg_netns)))
            die_msg("the run does not fit the serving launcher's filter");
        return;
    }
    decided = 1;
    if (!served_filter_supported() || no_namespaces || strcmp(profile, "none") == 0 ||
        aslr_off || msg_netns < 0)
        return; /* every P loads its own */
    served_profile = strdup(profile);
    if (!served_profile) die_msg("out of memory");
    served_plain_open = plain_open;
    i_magic = map_random(4096);
    i_magic[0] = 0;
    strcpy(i_magic + 16, "/tmp");
    tmp_path = i_magic + 16;
    exe_slot = fcntl(i_null_fd, F_DUPFD_CLOEXEC, 64);
    if (exe_slot < 0) die("reserve a descriptor");
    if (fstat(msg_netns, &served_netns) < 0) die("fstat netns");
    if (setns(msg_netns, CLONE_NEWNET) < 0) die("setns netns");
    /* what I opens for writing, it opens before its filter */
    last_pid_fd = open("/proc/sys/kernel/ns_last_pid", O_WRONLY | O_CLOEXEC);
    if (last_pid_fd < 0) die("open ns_last_pid");
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) die("no_new_privs");
    struct served_filter sf = {p_stack + P_STACK_SIZE - 4096, tmp_path};
    i_nfd = load_seccomp_served(exe_slot, i_magic, &sf);
    i_filtered = 1;
}

static long long tv_us(struct timeval tv) {
    return (long long)tv.tv_sec * 1000000 + tv.tv_usec;
}

static void kill_namespace(void) {
    if (no_namespaces) return;
    kill(-1, SIGKILL); /* as pid 1: every other process of the namespace */
}

/* In I: start the next run's P, parked until run_one gives it its run. */
static void start_parked(void) {
    if (serving && !no_namespaces) {
        /* Every run's program is pid 2, as in a namespace of its own (a
         * program seeding with its pid judges the same on every run): the
         * earlier runs' processes are all reaped, so 2 is free. */
        if (last_pid_fd < 0) last_pid_fd = open("/proc/sys/kernel/ns_last_pid", O_WRONLY | O_CLOEXEC);
        if (last_pid_fd < 0 || pwrite(last_pid_fd, "1", 1, 0) != 1) die("ns_last_pid");
    }
    p_go = 0;
    p_took_run = 0;
    p_notify_fd = -1;
    p_tid = 1;
    parked = clone(program_main, p_stack + P_STACK_SIZE, P_CLONE_FLAGS, NULL, NULL, NULL,
                   &p_tid);
    if (parked < 0) die("start the program");
}

/* In I: until P has exec'd or exited (CLONE_CHILD_CLEARTID). */
static void wait_for_p_exec(void) {
    for (int tid; (tid = __atomic_load_n(&p_tid, __ATOMIC_ACQUIRE)) != 0;)
        futex(&p_tid, FUTEX_WAIT, tid);
}

/* In I, when P takes its run itself (p_receives): wait until a P has taken
 * a run and exec'd (or failed after taking it); returns that P. */
static pid_t wait_for_taken_run(void) {
    for (;;) {
        if (parked < 0) start_parked();
        wait_for_p_exec();
        if (__atomic_load_n(&p_took_run, __ATOMIC_ACQUIRE)) {
            pid_t p = parked;
            parked = -1;
            return p;
        }
        int st = 0;
        while (waitpid(parked, &st, __WALL) < 0 && errno == EINTR) {}
        parked = -1;
        /* the worker's EOF (exit 0), or a bad message (exit 120, with its
         * error line), as when I takes the message; killed: start another */
        if (WIFEXITED(st)) _exit(WEXITSTATUS(st) == 0 ? 0 : 120);
    }
}

/* Runs in I (pid 1): never returns. */
static void run_one(int exe_fd, char **argv);

void run_init(int exe_fd, char **argv) {
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) die("pdeathsig");
    if (launcher_alive_fd >= 0) {
        /* The launcher died before the line above: no one waits for us. */
        struct pollfd pf = {launcher_alive_fd, POLLIN, 0};
        if (poll(&pf, 1, 0) > 0 && (pf.revents & (POLLHUP | POLLERR))) _exit(0);
        close(launcher_alive_fd);
        launcher_alive_fd = -1;
    }
    if (!no_namespaces) build_root();
    if (prepared) {
        /* P puts the run's stdio on 0-2 and the go pipe on GO_FD of the
         * descriptor table it shares with I: between runs those numbers
         * hold /dev/null, so that no descriptor of I's own ever gets one */
        int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (fd < 0) die("open /dev/null");
        i_null_fd = fcntl(fd, F_DUPFD_CLOEXEC, 64);
        if (i_null_fd < 0) die("dup /dev/null");
        close(fd);
        if (dup2(i_null_fd, GO_FD) < 0) die("dup2 /dev/null");
    }
    /* at a random address: a serving I's filter lets it clone only onto
     * this stack (serve_filter_setup) */
    p_stack = map_random(P_STACK_SIZE);
    resolve_seccomp_names();
    for (;;) {
        if (prepared && !p_receives) exe_fd = receive_run(&argv);
        if (serving && !p_receives) serve_filter_setup();
        run_one(exe_fd, argv);
        if (!serving) _exit(0);
        /* Serving mode: nothing of this run is left (run_one killed and
         * reaped every other process of the namespace); its status pipe
         * goes, and the next run gets default options and a fresh /tmp. */
        close(STATUS_FD);
        close(run_event_fd);
        run_event_fd = -1;
        int resized = tmp_given;
        reset_run_options();
        fresh_tmp(resized);
        clear_ipc();
        /* the next run's P, while the worker takes this run's result: it
         * takes its run from the next message itself */
        p_receives = 1;
        start_parked();
    }
}

/* One run in I: start P, watch it, kill what is left, write the status line. */
static void run_one(int exe_fd, char **argv) {
    /* I's signalfd and ns_last_pid file serve all its runs. */
    static int sfd = -1;
    if (sfd < 0) {
        sigset_t chld;
        sigemptyset(&chld);
        sigaddset(&chld, SIGCHLD);
        sigprocmask(SIG_BLOCK, &chld, NULL);
        sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
        if (sfd < 0) die("signalfd");
    }
    pid_t p;
    long long start;
    if (p_receives) {
        p = wait_for_taken_run();
        start = run_start;
        exe_fd = p_run.exe_fd;
    } else {
        if (parked > 0 && __atomic_load_n(&p_tid, __ATOMIC_ACQUIRE) == 0) {
            /* the parked P is gone (it never exits by itself): start another */
            while (waitpid(parked, NULL, __WALL) < 0 && errno == EINTR) {}
            parked = -1;
        }
        if (parked < 0) start_parked();
        start = now_ns();
        p_run = (struct p_start){exe_fd, argv};
        p = parked;
        parked = -1;
        __atomic_store_n(&p_go, 1, __ATOMIC_RELEASE);
        futex(&p_go, FUTEX_WAKE, 1);
        wait_for_p_exec();
    }
    /* P has exec'd (or exited): its descriptor table is its own now. */
    if (exec_page != MAP_FAILED) {
        munmap(exec_page, 4096);
        exec_page = MAP_FAILED;
    }
    int nfd = i_filtered ? i_nfd : p_notify_fd;
    if (i_filtered && dup3(i_null_fd, exe_slot, O_CLOEXEC) < 0) die("dup3 /dev/null");
    close(exe_fd);
    if (hold_at_exec && !prepared) close(GO_FD);
    if (prepared) {
        if (hold_at_exec && dup2(i_null_fd, GO_FD) < 0) die("dup2 /dev/null");
        for (int i = 0; i < 3; i++) {
            close(msg_stdio[i]);
            if (dup2(i_null_fd, i) < 0) die("dup2 /dev/null");
        }
        if (hold_at_exec) close(msg_go);
        if (msg_netns >= 0) close(msg_netns);
    }
    for (int i = 0; i < n_cgroups; i++) close(cgroup_fds[i]);
    char violation[128] = "";
    struct seccomp_notif notif;
    struct seccomp_notif *req = &notif;
    int status = 0, done = 0;
    long maxrss = 0;
    long long cpu_us = 0;
    int wall_killed = 0;
    while (!done) {
        struct pollfd fds[2] = {{sfd, POLLIN, 0}, {nfd, POLLIN, 0}};
        int timeout_ms = -1;
        if (wall_limit_ns && !wall_killed) {
            long long left = start + wall_limit_ns - now_ns();
            if (left <= 0) {
                kill_namespace();
                if (no_namespaces) kill(p, SIGKILL);
                wall_killed = 1;
            } else {
                timeout_ms = (int)((left + 999999) / 1000000);
            }
        }
        int r = poll(fds, nfd >= 0 ? 2 : 1, timeout_ms);
        if (r < 0 && errno != EINTR) die("poll");
        if (nfd >= 0 && (fds[1].revents & POLLIN)) {
            memset(req, 0, sizeof *req);
            if (ioctl(nfd, SECCOMP_IOCTL_NOTIF_RECV, req) == 0 && !violation[0]) {
                describe_violation(req, violation, sizeof violation);
                kill_namespace();
            }
        }
        if (nfd >= 0 && !i_filtered && (fds[1].revents & (POLLHUP | POLLERR))) {
            close(nfd);
            nfd = -1;
        }
        struct signalfd_siginfo si;
        while (read(sfd, &si, sizeof si) > 0) {}
        for (;;) {
            int st;
            struct rusage ru;
            pid_t w = wait4(-1, &st, WNOHANG, &ru);
            if (w <= 0) break;
            cpu_us += tv_us(ru.ru_utime) + tv_us(ru.ru_stime);
            if (w == p) { status = st; maxrss = ru.ru_maxrss; done = 1; }
        }
    }
    long long wall = now_ns() - start;
    /* Kill and reap until no other process is left in the namespace: a
     * serving I lives on, so nothing may be left for the namespace's end to
     * take. Every process of the namespace descends from I (an orphan is
     * I's child), so once I has no child at all (ECHILD) none is left:
     * kill(-1), which walks every process of the machine, is needed only
     * when the program left some. */
    for (int round = 0; round < 100; round++) {
        struct rusage ru;
        pid_t w;
        while ((w = wait4(-1, NULL, WNOHANG, &ru)) > 0)
            cpu_us += tv_us(ru.ru_utime) + tv_us(ru.ru_stime);
        if (w < 0 && errno == ECHILD) break;
        int signalled = no_namespaces ? 0 : kill(-1, SIGKILL) == 0;
        while (wait4(-1, NULL, 0, &ru) > 0) cpu_us += tv_us(ru.ru_utime) + tv_us(ru.ru_stime);
        if (!signalled) break;
    }
    if (nfd >= 0 && !i_filtered) close(nfd);
    if (violation[0])
        report("rv %s %lld", violation, wall);
    else
        report("exit %d %lld %ld %lld", status, wall, maxrss, cpu_us);
}
