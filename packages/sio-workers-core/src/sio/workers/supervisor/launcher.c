/*
 * sio-launcher: the in-child half of the sio-workers supervisor.
 *
 * Started by the worker with posix_spawn (as root), it
 *   1. opens the run's cgroup.procs files and the program (before the
 *      filesystem view changes),
 *   3. unshares mount, pid, net, ipc and uts namespaces and forks the
 *      namespace init "I" (pid 1), which builds a minimal read-only root
 *      (tmpfs + read-only binds + /dev/{null,zero,urandom} + private /tmp +
 *      the namespace's own /proc) and forks the program "P" (pid 2),
 *   4. P joins the run's cgroups (writes "0" to each cgroup.procs file: only
 *      the program and what it starts are charged and counted, never the
 *      launcher's own setup), sets rlimits, drops to the slot's unprivileged uid/gid, sets
 *      PR_SET_PDEATHSIG and no_new_privs, loads the seccomp profile (a BPF
 *      filter written here for x86-64, built by libseccomp elsewhere; forbidden
 *      syscalls are SECCOMP_RET_USER_NOTIF: I receives the notification,
 *      records the syscall's name and kills the namespace) and execs the program through
 *      execveat(fd, "", AT_EMPTY_PATH) with a path pointer at a random address,
 *      the only exec the filter allows,
 *   5. I waits for P, kills whatever is left in the namespace, and writes ONE
 *      status line on fd 3 (the status pipe):
 *        "exit <wait-status> <wall-ns> <maxrss-kib> <cpu-us>\n"   the program ended
 *                 (maxrss: its own peak RSS; cpu: user+system time of every
 *                 process of the namespace that I reaped, all from wait4)
 *        "rv <name> <wall-ns>\n"            a forbidden operation was intercepted
 *        "error <text>\n"                   the launcher itself failed (SE)
 *      "exit" and "rv" lines are written by I after every other process of
 *      the namespace is gone: the worker may go on as soon as it reads one
 *      (it reaps the launcher later). "error" lines may come from any part.
 *
 * Usage: sio-launcher [options] -- PROGRAM ARGV0 [ARGS...]
 *   -c FILE        the program joins this cgroup (writes "0" into FILE) just
 *                  before it execs; repeatable
 *   -u UID -g GID  the slot's unprivileged credentials
 *   -r RES:SOFT:HARD  setrlimit (RES is the numeric resource); repeatable
 *   -M DIR         mountpoint (an existing host directory) for the new root
 *   -b SRC:DST:ro|rw  bind mount into the new root; repeatable
 *   -l SRC         re-create SRC (a symlink on the host) in the new root
 *   -t KIB:INODES  private /tmp size and inode limits
 *   -w DIR         working directory of the program (inside the new root)
 *   -s PROFILE     seccomp profile: none | native | python | jvm
 *   -o             plain profile: opening files for writing is RV
 *   -n FILE        join the (empty, pooled) network namespace bound at FILE
 *                  instead of creating one (creating a netns costs ~0.4 ms)
 *   -N             no namespaces (diagnostics only)
 *   -W             hold the program at its exec: P writes "ready" on the
 *                  status pipe and waits for one byte on fd 4 (the worker
 *                  attaches the instruction counter to it meanwhile); EOF
 *                  instead of the byte makes P exit with status 125, unrun
 *   -P             prepared mode (see below)
 *   -A             the program runs with address-space randomisation off
 *                  (as if the launcher had been started so: for -P)
 *   -T MS          wall-clock limit enforced by I itself: MS milliseconds
 *                  after P is forked, I kills every process of the run and
 *                  reports as usual (wait status: killed by SIGKILL). A
 *                  backstop set a little above the worker's own watchdog:
 *                  the run ends in time even when the worker hangs (and when
 *                  it dies, PR_SET_PDEATHSIG ends the launcher and I at once)
 * sio-launcher -K FILE creates an empty network namespace and binds it at FILE.
 * sio-launcher -F DIR mounts an empty named cgroup v1 hierarchy with the
 * "favordynmods" option at DIR: while it is mounted, the kernel keeps its
 * cgroup-wide thread-group lock in the mode where joining a cgroup never
 * waits for an RCU grace period (Linux >= 6.0; see docs/supervisor.rst).
 * The program's environment is the launcher's own environment.
 *
 * Prepared mode (-P): the launcher is started ahead of its run, with only
 * -M, -b, -l and -t, fd 3 the status pipe and fd 5 one end of a
 * SOCK_SEQPACKET socket pair. It makes the namespaces (not the network one)
 * and I builds the whole root, then I waits on fd 5 for ONE message: the
 * rest of a command line as NUL-terminated strings (the options -c, -u, -g,
 * -r, -t, -T, -w, -s, -o, -W, -A, -n, -e KEY=VALUE for each variable of the program's
 * environment, then "--", PROGRAM, ARGV0, ARGS...) with file descriptors
 * (SCM_RIGHTS) in this order: stdin, stdout, stderr, the program (O_PATH),
 * the network namespace (when -n is given: its value is then only a name),
 * the go pipe's read end (with -W), one cgroup.procs file opened for writing
 * per -c (its value is only a name). -t then resizes the private /tmp. I
 * forks P, which takes its stdio from the message, joins the network
 * namespace (a new one when -n is absent) and goes on as in the normal mode.
 * The status line protocol is the same. EOF on fd 5 makes I exit quietly.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/close_range.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef __O_TMPFILE
#define __O_TMPFILE 020000000 /* glibc's name for O_TMPFILE's own bit */
#endif

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

#define STATUS_FD 3
#define GO_FD 4
#define PREP_FD 5
#define MAX_ITEMS 64
#define MAX_ENV 1024
#define MAX_MSG_FDS (6 + MAX_ITEMS)

extern char **environ;

static const char *cgroups[MAX_ITEMS];
static int cgroup_fds[MAX_ITEMS];
static int n_cgroups;
static struct { int res; rlim_t soft, hard; } rlims[MAX_ITEMS];
static int n_rlims;
static struct { char *src, *dst; int ro; } binds[MAX_ITEMS];
static int n_binds;
static const char *links[MAX_ITEMS];
static int n_links;
static uid_t run_uid = 65534;
static gid_t run_gid = 65534;
static const char *mountpoint;
static const char *workdir = "/";
static unsigned long tmp_kib = 16384, tmp_inodes = 4096;
static const char *profile = "native";
static int plain_open;
static int no_namespaces;
static int hold_at_exec;
static const char *netns_file;
static int prepared;
static int aslr_off;
static char *run_env[MAX_ENV + 1];
static int n_env;
/* Prepared mode: what the go message brought (-1 = none). */
static int msg_stdio[3] = {-1, -1, -1};
static int msg_netns = -1, msg_go = -1;
static int tmp_given;
static long long wall_limit_ns; /* -T: I kills the run after this long (0: never) */

static void report(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void report(const char *fmt, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf - 1, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if (n > (int)sizeof buf - 2) n = sizeof buf - 2;
    buf[n++] = '\n';
    ssize_t w = write(STATUS_FD, buf, n);
    (void)w;
}

static void die(const char *what) {
    report("error %s: %s", what, strerror(errno));
    _exit(120);
}

static void die_msg(const char *what) {
    report("error %s", what);
    _exit(120);
}

static long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void mkdirs(const char *path, mode_t mode) {
    char buf[4096];
    size_t len = strlen(path);
    if (len >= sizeof buf) die_msg("path too long");
    memcpy(buf, path, len + 1);
    for (char *p = buf + 1; *p; p++) {
        if (*p == '/') {
            *p = 0;
            if (mkdir(buf, mode) < 0 && errno != EEXIST) die("mkdir");
            *p = '/';
        }
    }
    if (mkdir(buf, mode) < 0 && errno != EEXIST) die("mkdir");
}

static void bind_into(const char *root, const char *src, const char *dst, int ro) {
    char target[4096];
    struct stat st;
    if (snprintf(target, sizeof target, "%s%s", root, dst) >= (int)sizeof target)
        die_msg("bind target too long");
    if (stat(src, &st) < 0) die("stat bind source");
    if (S_ISDIR(st.st_mode)) {
        mkdirs(target, 0755);
    } else {
        char parent[4096];
        snprintf(parent, sizeof parent, "%s", target);
        char *slash = strrchr(parent, '/');
        if (slash && slash != parent) { *slash = 0; mkdirs(parent, 0755); }
        int fd = open(target, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0) die("create bind target");
        close(fd);
    }
    if (mount(src, target, NULL, MS_BIND | MS_REC, NULL) < 0) die("bind mount");
    unsigned long flags = MS_BIND | MS_REMOUNT | MS_NOSUID | MS_NODEV | (ro ? MS_RDONLY : 0);
    if (mount(NULL, target, NULL, flags, NULL) < 0) die("bind remount");
}

static void make_dev(const char *root, const char *name, unsigned maj, unsigned min) {
    char path[4096];
    snprintf(path, sizeof path, "%s/dev/%s", root, name);
    if (mknod(path, S_IFCHR | 0666, makedev(maj, min)) < 0) die("mknod");
    chmod(path, 0666);
}

/* Runs in I (pid 1 of the new pid namespace). */
static void build_root(void) {
    const char *root = mountpoint;
    char path[4096];
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) die("make / private");
    if (mount("sio-root", root, "tmpfs", MS_NOSUID, "size=1m,nr_inodes=512,mode=0755") < 0)
        die("mount root tmpfs");
    /* /tmp first: a job directory under /tmp is bound on top of it. */
    snprintf(path, sizeof path, "%s/tmp", root);
    mkdirs(path, 0755);
    char opts[128];
    snprintf(opts, sizeof opts, "size=%luk,nr_inodes=%lu,mode=1777", tmp_kib, tmp_inodes);
    if (mount("sio-tmp", path, "tmpfs", MS_NOSUID | MS_NODEV, opts) < 0) die("mount /tmp");
    for (int i = 0; i < n_links; i++) {
        char target[4096];
        ssize_t n = readlink(links[i], target, sizeof target - 1);
        if (n < 0) die("readlink");
        target[n] = 0;
        snprintf(path, sizeof path, "%s%s", root, links[i]);
        if (symlink(target, path) < 0) die("symlink");
    }
    for (int i = 0; i < n_binds; i++) bind_into(root, binds[i].src, binds[i].dst, binds[i].ro);
    snprintf(path, sizeof path, "%s/dev", root);
    mkdirs(path, 0755);
    make_dev(root, "null", 1, 3);
    make_dev(root, "zero", 1, 5);
    make_dev(root, "urandom", 1, 9);
    snprintf(path, sizeof path, "%s/proc", root);
    mkdirs(path, 0555);
    if (mount("proc", path, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0) die("mount /proc");
    if (chdir(root) < 0) die("chdir root");
    if (syscall(SYS_pivot_root, ".", ".") < 0) die("pivot_root");
    if (umount2(".", MNT_DETACH) < 0) die("detach old root");
    if (chdir("/") < 0) die("chdir /");
    if (mount(NULL, "/", NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID, NULL) < 0)
        die("remount / read-only");
    sethostname("sio", 3);
}

/* ---- seccomp ---- */

#define RULE(action, name, ...)                                                    \
    do {                                                                           \
        int nr_ = seccomp_syscall_resolve_name(name);                              \
        if (nr_ != __NR_SCMP_ERROR &&                                              \
            seccomp_rule_add(ctx, action, nr_, __VA_ARGS__) < 0)                   \
            die_msg("seccomp rule " name);                                         \
    } while (0)

static const char *const forbidden[] = {
    "socket", "socketpair", "connect", "bind", "listen", "accept", "accept4",
    "ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd",
    "mount", "umount2", "pivot_root", "chroot", "unshare", "setns",
    "fsopen", "fsconfig", "fsmount", "fspick", "move_mount", "open_tree",
    "mount_setattr", "open_by_handle_at", "name_to_handle_at",
    "keyctl", "add_key", "request_key", "bpf", "perf_event_open", "userfaultfd",
    "io_uring_setup", "io_uring_enter", "io_uring_register",
    "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
    "reboot", "swapon", "swapoff", "syslog", "acct", "quotactl", "quotactl_fd",
    "settimeofday", "clock_settime", "clock_adjtime", "adjtimex",
    "sethostname", "setdomainname", "iopl", "ioperm", "vhangup",
    "fanotify_init", "lookup_dcookie", "personality",
    NULL,
};

/* The filter built by libseccomp (any architecture; ~0.3 ms to generate).
 * Returns the notification fd. */
__attribute__((unused)) static int load_seccomp_libseccomp(int exe_fd, const char *magic) {
    int jvm = strcmp(profile, "jvm") == 0;
    int python = strcmp(profile, "python") == 0;
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
    if (!ctx) die_msg("seccomp_init");
    if (seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS) < 0)
        die_msg("seccomp badarch");
    for (int i = 0; forbidden[i]; i++) {
        if ((jvm || python) && strcmp(forbidden[i], "socket") == 0) {
            /* The JVM and CPython ask nscd (an AF_UNIX socket) for the user's
             * name: fail it quietly; any other socket is a violation. */
            RULE(SCMP_ACT_ERRNO(EACCES), "socket", 1, SCMP_A0(SCMP_CMP_EQ, AF_UNIX));
            RULE(SCMP_ACT_NOTIFY, "socket", 1, SCMP_A0(SCMP_CMP_NE, AF_UNIX));
            continue;
        }
        int nr = seccomp_syscall_resolve_name(forbidden[i]);
        if (nr == __NR_SCMP_ERROR) continue;
        if (seccomp_rule_add(ctx, SCMP_ACT_NOTIFY, nr, 0) < 0) die_msg("seccomp rule");
    }
    /* Processes: threads only (clone with CLONE_THREAD); clone3 gets ENOSYS so
     * that libc falls back to clone, whose flags the filter can inspect. */
    RULE(SCMP_ACT_ERRNO(ENOSYS), "clone3", 0);
    if (!jvm) {
        RULE(SCMP_ACT_NOTIFY, "fork", 0);
        RULE(SCMP_ACT_NOTIFY, "vfork", 0);
        RULE(SCMP_ACT_NOTIFY, "clone", 1, SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, 0));
        /* exec: only the launcher's own execveat(exe_fd, magic, ..., AT_EMPTY_PATH). */
        RULE(SCMP_ACT_NOTIFY, "execve", 0);
        RULE(SCMP_ACT_NOTIFY, "execveat", 1, SCMP_A0(SCMP_CMP_NE, (scmp_datum_t)exe_fd));
        RULE(SCMP_ACT_NOTIFY, "execveat", 1, SCMP_A1(SCMP_CMP_NE, (scmp_datum_t)(uintptr_t)magic));
        RULE(SCMP_ACT_NOTIFY, "execveat", 1, SCMP_A4(SCMP_CMP_NE, AT_EMPTY_PATH));
    } else {
        RULE(SCMP_ACT_NOTIFY, "fork", 0);
        RULE(SCMP_ACT_NOTIFY, "vfork", 0);
        RULE(SCMP_ACT_NOTIFY, "clone", 1, SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, 0));
    }
    if (plain_open) {
        /* Opening files for writing (or creating them) is a violation. */
        uint32_t action = python ? SCMP_ACT_ERRNO(EACCES) : SCMP_ACT_NOTIFY;
        const scmp_datum_t bits[] = {O_WRONLY, O_RDWR, O_CREAT, O_TRUNC, O_APPEND, __O_TMPFILE};
        for (size_t i = 0; i < sizeof bits / sizeof bits[0]; i++) {
            RULE(action, "open", 1, SCMP_A1(SCMP_CMP_MASKED_EQ, bits[i], bits[i]));
            RULE(action, "openat", 1, SCMP_A2(SCMP_CMP_MASKED_EQ, bits[i], bits[i]));
        }
        RULE(action, "creat", 0);
        RULE(SCMP_ACT_ERRNO(ENOSYS), "openat2", 0);
    }
    if (seccomp_load(ctx) < 0) die_msg("seccomp_load");
    int fd = seccomp_notify_fd(ctx);
    if (fd < 0) die_msg("seccomp_notify_fd");
    seccomp_release(ctx);
    return fd;
}

#ifdef __x86_64__
/* The same filter written directly in classic BPF for x86-64 (generating it
 * with libseccomp costs ~0.3 ms per run).
 *
 * Layout: arch and x32 checks, then a binary search tree over the syscall
 * numbers that have a rule (JGE nodes, leaves of at most LEAF_RULES
 * "nr == N -> action" tests, everything else ALLOW). The tree matters for the
 * cost of loading: since Linux 5.11 the kernel emulates the filter for every
 * syscall number at load time (the seccomp action cache), so a linear chain
 * of ~80 tests cost ~0.25 ms per run; the tree costs ~0.02 ms, and every
 * syscall of the program walks ~8 instructions instead of up to ~170. */
#include <linux/audit.h>
#include <linux/filter.h>
#include <stddef.h>

#define MAX_INSNS 512
static struct sock_filter insns[MAX_INSNS];
static unsigned short n_insns;
#define OFF_NR ((uint32_t)offsetof(struct seccomp_data, nr))
#define OFF_ARCH ((uint32_t)offsetof(struct seccomp_data, arch))
#define OFF_LO(i) ((uint32_t)(offsetof(struct seccomp_data, args) + 8 * (i)))
#define OFF_HI(i) (OFF_LO(i) + 4)
#define RET_NOTIFY SECCOMP_RET_USER_NOTIF
#define RET_ERRNO(e) (SECCOMP_RET_ERRNO | ((e) & SECCOMP_RET_DATA))

static void emit(unsigned short code, uint32_t k, unsigned char jt, unsigned char jf) {
    if (n_insns >= MAX_INSNS) die_msg("seccomp filter too long");
    insns[n_insns++] = (struct sock_filter){code, jt, jf, k};
}
static void ld(uint32_t off) { emit(BPF_LD | BPF_W | BPF_ABS, off, 0, 0); }
static void ret(uint32_t v) { emit(BPF_RET | BPF_K, v, 0, 0); }

/* One rule: what happens to syscall `nr`. Every handler ends in RET on every
 * path (it may clobber the accumulator). */
enum rule_kind {
    R_RET,      /* return `a` */
    R_EQ,       /* word at `off` == `val` ? `a` : `b` */
    R_MASK,     /* (word at `off` & `val`) != 0 ? `a` : `b` */
    R_EXEC,     /* ALLOW when every word of `exec_ok` matches, else NOTIFY */
};
struct word_check { uint32_t off, val; };
static struct word_check exec_ok[6];
struct rule { int nr; enum rule_kind kind; uint32_t off, val, a, b; };
#define MAX_RULES 128
static struct rule rules[MAX_RULES];
static int n_rules;
#define LEAF_RULES 8

static void add_rule(int nr, enum rule_kind kind, uint32_t off, uint32_t val, uint32_t a,
                     uint32_t b) {
    for (int i = 0; i < n_rules; i++)
        if (rules[i].nr == nr) die_msg("seccomp: two rules for one syscall");
    if (n_rules == MAX_RULES) die_msg("seccomp: too many rules");
    rules[n_rules++] = (struct rule){nr, kind, off, val, a, b};
}

static int handler_len(const struct rule *r) {
    switch (r->kind) {
    case R_RET: return 1;
    case R_EQ: case R_MASK: return 4;
    default: return 2 * 6 + 2;
    }
}

static void emit_handler(const struct rule *r) {
    switch (r->kind) {
    case R_RET: ret(r->a); break;
    case R_EQ:
        ld(r->off);
        emit(BPF_JMP | BPF_JEQ | BPF_K, r->val, 0, 1);
        ret(r->a);
        ret(r->b);
        break;
    case R_MASK:
        ld(r->off);
        emit(BPF_JMP | BPF_JSET | BPF_K, r->val, 0, 1);
        ret(r->a);
        ret(r->b);
        break;
    case R_EXEC:
        for (int j = 0; j < 6; j++) {
            ld(exec_ok[j].off);
            emit(BPF_JMP | BPF_JEQ | BPF_K, exec_ok[j].val, 0, (unsigned char)(2 * (5 - j) + 1));
        }
        ret(SECCOMP_RET_ALLOW);
        ret(RET_NOTIFY);
        break;
    }
}

/* In a leaf, "nr == N -> NOTIFY" is one jump to the leaf's shared RET NOTIFY. */
static int shared_notify(const struct rule *r) { return r->kind == R_RET && r->a == RET_NOTIFY; }

static int leaf_len(int lo, int hi) {
    int n = 2; /* RET ALLOW, RET NOTIFY */
    for (int i = lo; i < hi; i++) n += 1 + (shared_notify(&rules[i]) ? 0 : handler_len(&rules[i]));
    return n;
}

/* Size of the code for rules[lo, hi) (the accumulator holds the number). */
static int tree_len(int lo, int hi) {
    if (hi - lo <= LEAF_RULES) return leaf_len(lo, hi);
    int mid = (lo + hi) / 2;
    int left = tree_len(lo, mid);
    return (left > 255 ? 2 : 1) + left + tree_len(mid, hi);
}

static void emit_tree(int lo, int hi) {
    if (hi - lo <= LEAF_RULES) {
        unsigned short notify_at = (unsigned short)(n_insns + leaf_len(lo, hi) - 1);
        for (int i = lo; i < hi; i++) {
            if (shared_notify(&rules[i])) {
                int jt = notify_at - n_insns - 1;
                if (jt > 255) die_msg("seccomp leaf too long");
                emit(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)rules[i].nr, (unsigned char)jt, 0);
            } else {
                emit(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)rules[i].nr, 0,
                     (unsigned char)handler_len(&rules[i]));
                emit_handler(&rules[i]);
            }
        }
        ret(SECCOMP_RET_ALLOW);
        ret(RET_NOTIFY);
        return;
    }
    int mid = (lo + hi) / 2;
    int left = tree_len(lo, mid);
    if (left > 255) {
        /* nr >= rules[mid].nr: a long jump over the left subtree */
        emit(BPF_JMP | BPF_JGE | BPF_K, (uint32_t)rules[mid].nr, 0, 1);
        emit(BPF_JMP | BPF_JA, (uint32_t)left, 0, 0);
    } else {
        emit(BPF_JMP | BPF_JGE | BPF_K, (uint32_t)rules[mid].nr, (unsigned char)left, 0);
    }
    emit_tree(lo, mid);
    emit_tree(mid, hi);
}

static int syscall_nr(const char *name) {
    return seccomp_syscall_resolve_name_arch(SCMP_ARCH_X86_64, name);
}

static int load_seccomp(int exe_fd, const char *magic) {
    if (strcmp(profile, "none") == 0) return -1;
    int jvm = strcmp(profile, "jvm") == 0;
    int python = strcmp(profile, "python") == 0;
    n_insns = 0;
    n_rules = 0;
    for (int i = 0; forbidden[i]; i++) {
        int nr = syscall_nr(forbidden[i]);
        if (nr < 0) continue;
        if (nr == __NR_socket && (jvm || python))
            /* nscd lookups of the JVM and CPython: fail quietly; other sockets: RV */
            add_rule(nr, R_EQ, OFF_LO(0), AF_UNIX, RET_ERRNO(EACCES), RET_NOTIFY);
        else
            add_rule(nr, R_RET, 0, 0, RET_NOTIFY, 0);
    }
    add_rule(__NR_clone3, R_RET, 0, 0, RET_ERRNO(ENOSYS), 0);
    add_rule(__NR_fork, R_RET, 0, 0, RET_NOTIFY, 0);
    add_rule(__NR_vfork, R_RET, 0, 0, RET_NOTIFY, 0);
    add_rule(__NR_clone, R_MASK, OFF_LO(0), CLONE_THREAD, SECCOMP_RET_ALLOW, RET_NOTIFY);
    if (!jvm) {
        uintptr_t m = (uintptr_t)magic;
        const struct word_check ok[6] = {
            {OFF_LO(0), (uint32_t)exe_fd}, {OFF_HI(0), 0},
            {OFF_LO(1), (uint32_t)m}, {OFF_HI(1), (uint32_t)(m >> 32)},
            {OFF_LO(4), AT_EMPTY_PATH}, {OFF_HI(4), 0},
        };
        memcpy(exec_ok, ok, sizeof ok);
        add_rule(__NR_execve, R_RET, 0, 0, RET_NOTIFY, 0);
        add_rule(__NR_execveat, R_EXEC, 0, 0, 0, 0);
    }
    if (plain_open) {
        uint32_t action = python ? RET_ERRNO(EACCES) : RET_NOTIFY;
        /* O_TMPFILE is 020000000 | O_DIRECTORY: only its own bit, or opendir() would match */
        uint32_t mask = O_WRONLY | O_RDWR | O_CREAT | O_TRUNC | O_APPEND | 020000000;
        add_rule(__NR_open, R_MASK, OFF_LO(1), mask, action, SECCOMP_RET_ALLOW);
        add_rule(__NR_openat, R_MASK, OFF_LO(2), mask, action, SECCOMP_RET_ALLOW);
        add_rule(__NR_creat, R_RET, 0, 0, action, 0);
        add_rule(__NR_openat2, R_RET, 0, 0, RET_ERRNO(ENOSYS), 0);
    }
    /* sort by number (insertion sort: ~80 rules) */
    for (int i = 1; i < n_rules; i++) {
        struct rule r = rules[i];
        int j = i - 1;
        for (; j >= 0 && rules[j].nr > r.nr; j--) rules[j + 1] = rules[j];
        rules[j + 1] = r;
    }
    ld(OFF_ARCH);
    emit(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0);
    ret(SECCOMP_RET_KILL_PROCESS);
    ld(OFF_NR);
    emit(BPF_JMP | BPF_JGE | BPF_K, 0x40000000U, 0, 1); /* x32 ABI */
    ret(SECCOMP_RET_KILL_PROCESS);
    emit_tree(0, n_rules);
    struct sock_fprog fprog = {.len = n_insns, .filter = insns};
    int fd = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER,
                          &fprog);
    if (fd < 0) die("seccomp");
    return fd;
}
#else
static int load_seccomp(int exe_fd, const char *magic) {
    if (strcmp(profile, "none") == 0) return -1;
    return load_seccomp_libseccomp(exe_fd, magic);
}
#endif

static void send_fd(int sock, int fd) {
    char dummy = 'x';
    struct iovec iov = {.iov_base = &dummy, .iov_len = 1};
    char cbuf[CMSG_SPACE(sizeof(int))];
    memset(cbuf, 0, sizeof cbuf);
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
                         .msg_controllen = sizeof cbuf};
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof(int));
    if (sendmsg(sock, &msg, 0) < 0) die("send notify fd");
}

static int recv_fd(int sock) {
    char dummy;
    struct iovec iov = {.iov_base = &dummy, .iov_len = 1};
    char cbuf[CMSG_SPACE(sizeof(int))];
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
                         .msg_controllen = sizeof cbuf};
    ssize_t n;
    do n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC); while (n < 0 && errno == EINTR);
    if (n <= 0) return -1;
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    if (!c || c->cmsg_type != SCM_RIGHTS) return -1;
    int fd;
    memcpy(&fd, CMSG_DATA(c), sizeof(int));
    return fd;
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

/* Runs in P: never returns. */
static void run_program(int exe_fd, char **argv, int sock) {
    /* Every disposition is already the default (main() reset them; I sets no
     * handler): only the SIGCHLD that I blocks must be unblocked. */
    sigset_t none;
    sigemptyset(&none);
    if (sigprocmask(SIG_SETMASK, &none, NULL) < 0) die("sigprocmask");
    if (chdir(workdir) < 0) die("chdir to working directory");
    setpgid(0, 0);
    /* Join the run's cgroups last of the setup, as root: from here on every
     * CPU cycle, page and task is the program's. */
    for (int i = 0; i < n_cgroups; i++) {
        if (write(cgroup_fds[i], "0", 1) != 1) die("join cgroup");
        close(cgroup_fds[i]);
    }
    for (int i = 0; i < n_rlims; i++) {
        struct rlimit rl = {rlims[i].soft, rlims[i].hard};
        if (setrlimit(rlims[i].res, &rl) < 0) die("setrlimit");
    }
    if (setgroups(0, NULL) < 0) die("setgroups");
    if (setresgid(run_gid, run_gid, run_gid) < 0) die("setresgid");
    if (setresuid(run_uid, run_uid, run_uid) < 0) die("setresuid");
    if (aslr_off) {
        int persona = personality(0xffffffff);
        if (persona < 0 || personality((unsigned long)persona | ADDR_NO_RANDOMIZE) < 0)
            die("personality");
    }
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) die("pdeathsig");
    if (getppid() == 0) _exit(121); /* parent already gone */
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) die("no_new_privs");
    if (prctl(PR_SET_DUMPABLE, 0) < 0) die("dumpable");
    /* The exec path "" lives at a random address: the filter allows only an
     * execveat whose path pointer is exactly this one. */
    char *magic = MAP_FAILED;
    for (int tries = 0; tries < 8 && magic == MAP_FAILED; tries++) {
        uint64_t r;
        if (getrandom(&r, sizeof r, 0) != sizeof r) die("getrandom");
        uintptr_t addr = 0x100000000000ULL + (r & 0x3fffffff000ULL) * 16;
        magic = mmap((void *)addr, 4096, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    }
    if (magic == MAP_FAILED) die("mmap exec path");
    magic[0] = 0;
    if (syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC) < 0) die("close_range");
    int nfd = load_seccomp(exe_fd, magic);
    if (nfd >= 0) send_fd(sock, nfd);
    close(sock);
    if (nfd >= 0) close(nfd);
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

static long long tv_us(struct timeval tv) {
    return (long long)tv.tv_sec * 1000000 + tv.tv_usec;
}

static void kill_namespace(void) {
    if (no_namespaces) return;
    kill(-1, SIGKILL); /* as pid 1: every other process of the namespace */
}

static void parse_args(int argc, char **argv, int *prog_index);

/* Prepared mode, in I: wait for the go message on PREP_FD and take the run's
 * options, environment, argv and descriptors from it. Returns the program's
 * O_PATH descriptor and sets *prog_argv. */
static int receive_run(char ***prog_argv) {
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
    close(PREP_FD);
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
    char **argv = calloc((size_t)argc + 2, sizeof *argv);
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
    int need = 4 + (netns_file ? 1 : 0) + (hold_at_exec ? 1 : 0) + n_cgroups;
    if (n_fds != need) die_msg("wrong number of descriptors in the run's message");
    int k = 0;
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
        if (mount("sio-tmp", "/tmp", "tmpfs", MS_REMOUNT | MS_NOSUID | MS_NODEV, opts) < 0)
            die("resize /tmp");
    }
    *prog_argv = argv + pi + 1;
    return exe_fd;
}

/* Prepared mode, in P: put the message's descriptors in place. */
static void take_run_fds(void) {
    for (int i = 0; i < 3; i++)
        if (dup2(msg_stdio[i], i) < 0) die("dup2 stdio");
    if (hold_at_exec && dup2(msg_go, GO_FD) < 0) die("dup2 go");
    if (hold_at_exec) fcntl(GO_FD, F_SETFD, FD_CLOEXEC);
    if (msg_netns >= 0) {
        if (setns(msg_netns, CLONE_NEWNET) < 0) die("setns netns");
    } else if (unshare(CLONE_NEWNET) < 0) {
        die("unshare netns");
    }
}

/* Runs in I (pid 1): never returns. */
static void run_init(int exe_fd, char **argv) {
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) die("pdeathsig");
    if (!no_namespaces) build_root();
    if (prepared) exe_fd = receive_run(&argv);
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) die("socketpair");
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, NULL);
    int sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sfd < 0) die("signalfd");
    long long start = now_ns();
    pid_t p = fork();
    if (p < 0) die("fork program");
    if (p == 0) {
        close(sv[0]);
        close(sfd);
        if (prepared) take_run_fds();
        run_program(exe_fd, argv, sv[1]);
    }
    close(sv[1]);
    close(exe_fd);
    if (hold_at_exec) close(prepared ? msg_go : GO_FD);
    if (prepared) {
        for (int i = 0; i < 3; i++) close(msg_stdio[i]);
        if (msg_netns >= 0) close(msg_netns);
    }
    for (int i = 0; i < n_cgroups; i++) close(cgroup_fds[i]);
    int nfd = -1;
    if (strcmp(profile, "none") != 0) nfd = recv_fd(sv[0]);
    close(sv[0]);
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
                int plain = plain_open && (req->data.nr == __NR_open || req->data.nr == __NR_openat ||
                                           req->data.nr == __NR_creat);
                char *name = seccomp_syscall_resolve_num_arch(req->data.arch, req->data.nr);
                if (plain)
                    snprintf(violation, sizeof violation, "opening files");
                else
                    snprintf(violation, sizeof violation, "%s", name ? name : "unknown");
                free(name);
                kill_namespace();
            }
        }
        if (nfd >= 0 && (fds[1].revents & (POLLHUP | POLLERR))) {
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
    kill_namespace();
    {
        struct rusage ru;
        while (wait4(-1, NULL, 0, &ru) > 0) cpu_us += tv_us(ru.ru_utime) + tv_us(ru.ru_stime);
    }
    if (violation[0])
        report("rv %s %lld", violation, wall);
    else
        report("exit %d %lld %ld %lld", status, wall, maxrss, cpu_us);
    _exit(0);
}

static void parse_args(int argc, char **argv, int *prog_index) {
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

static int make_netns(const char *file) {
    int fd = open(file, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) { perror("create netns file"); return 1; }
    close(fd);
    if (unshare(CLONE_NEWNET) < 0) { perror("unshare"); return 1; }
    if (mount("/proc/self/ns/net", file, NULL, MS_BIND, NULL) < 0) { perror("bind netns"); return 1; }
    return 0;
}

static int favor_dynmods(const char *dir) {
    if (mount("cgroup", dir, "cgroup", MS_NOSUID | MS_NODEV | MS_NOEXEC,
              "none,name=sio-workers-favordynmods,favordynmods") < 0) {
        perror("mount favordynmods hierarchy");
        return 1;
    }
    return 0;
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
    if (prepared) {
        /* Only the root's options now; the run's come in the go message. */
        if (no_namespaces || hold_at_exec || n_cgroups || netns_file || n_env)
            die_msg("-P takes only -M, -b, -l and -t");
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
    for (int i = 0; i < n_cgroups; i++) {
        cgroup_fds[i] = open(cgroups[i], O_WRONLY | O_CLOEXEC);
        if (cgroup_fds[i] < 0) die("open cgroup");
    }
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
    pid_t init = fork();
    if (init < 0) die("fork init");
    if (init == 0) run_init(exe_fd, argv + pi + 1);
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
