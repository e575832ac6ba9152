/*
 * sio-launcher: the seccomp profiles (-s none | native | python | jvm, -o)
 * loaded by the program P: forbidden syscalls are SECCOMP_RET_USER_NOTIF,
 * received by the namespace init I (launcher_run.c), which names the
 * violation with describe_violation. On x86-64 the filter is written here
 * in classic BPF; elsewhere libseccomp builds the same one.
 * The protocol (options, status lines, prepared mode) is specified in the
 * header comment of launcher.h.
 */
#include "launcher.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <seccomp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef __O_TMPFILE
#define __O_TMPFILE 020000000 /* glibc's name for O_TMPFILE's own bit */
#endif

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
    R_WORDS,    /* ALLOW when (word at `off` & `val`) != 0 (`val` 0: never) or
                 * every check of `checks` matches, else NOTIFY */
};
struct word_check { uint32_t off, mask, val; }; /* (word at off & mask) == val */
#define MAX_CHECKS 10
struct checks { int n; struct word_check c[MAX_CHECKS]; };
static struct checks exec_ok, clone_ok, mount_ok, umount_ok;
struct rule {
    int nr; enum rule_kind kind; uint32_t off, val, a, b;
    const struct checks *checks;
};
#define MAX_RULES 128
static struct rule rules[MAX_RULES];
static int n_rules;
#define LEAF_RULES 8

static void add_rule(int nr, enum rule_kind kind, uint32_t off, uint32_t val, uint32_t a,
                     uint32_t b) {
    for (int i = 0; i < n_rules; i++)
        if (rules[i].nr == nr) die_msg("seccomp: two rules for one syscall");
    if (n_rules == MAX_RULES) die_msg("seccomp: too many rules");
    rules[n_rules++] = (struct rule){nr, kind, off, val, a, b, NULL};
}

/* ALLOW when (word at `off` & `allow_bits`) != 0 (0: no such test) or every
 * check matches; else NOTIFY. */
static void add_checked(int nr, uint32_t off, uint32_t allow_bits, const struct checks *c) {
    add_rule(nr, R_WORDS, off, allow_bits, 0, 0);
    rules[n_rules - 1].checks = c;
}

static void add_check(struct checks *c, uint32_t off, uint32_t mask, uint32_t val) {
    if (c->n == MAX_CHECKS) die_msg("seccomp: too many checks");
    c->c[c->n++] = (struct word_check){off, mask, val};
}

/* Checks that a 64-bit argument is exactly `v`. */
static void add_check64(struct checks *c, int arg, uint64_t v) {
    add_check(c, OFF_LO(arg), ~0U, (uint32_t)v);
    add_check(c, OFF_HI(arg), ~0U, (uint32_t)(v >> 32));
}

static int check_len(const struct word_check *w) { return w->mask == ~0U ? 2 : 3; }

static int handler_len(const struct rule *r) {
    switch (r->kind) {
    case R_RET: return 1;
    case R_EQ: case R_MASK: return 4;
    default: {
        int n = 2 + (r->val ? 2 : 0);
        for (int j = 0; j < r->checks->n; j++) n += check_len(&r->checks->c[j]);
        return n;
    }
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
    case R_WORDS: {
        /* every jump lands on the final "RET ALLOW; RET NOTIFY" pair */
        int left = handler_len(r) - 2; /* instructions before RET ALLOW */
        if (r->val) {
            ld(r->off);
            emit(BPF_JMP | BPF_JSET | BPF_K, r->val, (unsigned char)(left - 2), 0);
            left -= 2;
        }
        for (int j = 0; j < r->checks->n; j++) {
            const struct word_check *w = &r->checks->c[j];
            ld(w->off);
            left--;
            if (w->mask != ~0U) {
                emit(BPF_ALU | BPF_AND | BPF_K, w->mask, 0, 0);
                left--;
            }
            left--;
            emit(BPF_JMP | BPF_JEQ | BPF_K, w->val, 0, (unsigned char)(left + 1));
        }
        ret(SECCOMP_RET_ALLOW);
        ret(RET_NOTIFY);
        break;
    }
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

static int forbidden_nr[sizeof forbidden / sizeof forbidden[0]];
static int names_resolved;

/* I resolves the names once, before its first P (a serving I forks many). */
void resolve_seccomp_names(void) {
    if (names_resolved) return;
    for (int i = 0; forbidden[i]; i++) forbidden_nr[i] = syscall_nr(forbidden[i]);
    names_resolved = 1;
}

int load_seccomp(int exe_fd, const char *magic) {
    return load_seccomp_served(exe_fd, magic, NULL);
}

int served_filter_supported(void) { return 1; }

int load_seccomp_served(int exe_fd, const char *magic, const struct served_filter *served) {
    if (strcmp(profile, "none") == 0) return -1;
    int jvm = strcmp(profile, "jvm") == 0;
    int python = strcmp(profile, "python") == 0;
    n_insns = 0;
    n_rules = 0;
    resolve_seccomp_names();
    if (served) {
        /* What the serving I does itself under the filter, and P before its
         * exec, each allowed only with arguments the program cannot know or
         * have (launcher.h, "The filter of a serving I"): */
        uintptr_t page = (uintptr_t)served->clone_stack_page, tmp = (uintptr_t)served->tmp_path;
        clone_ok.n = mount_ok.n = umount_ok.n = 0;
        /* I starts P: exactly P_CLONE_FLAGS, on a stack whose top is in I's page */
        add_check64(&clone_ok, 0, P_CLONE_FLAGS);
        add_check(&clone_ok, OFF_LO(1), ~0xfffU, (uint32_t)page);
        add_check(&clone_ok, OFF_HI(1), ~0U, (uint32_t)(page >> 32));
        /* I's fresh /tmp: mount and umount2 of I's "/tmp" string */
        add_check64(&mount_ok, 1, tmp);
        add_check64(&umount_ok, 0, tmp);
        add_checked(__NR_mount, 0, 0, &mount_ok);
        add_checked(__NR_umount2, 0, 0, &umount_ok);
    }
    for (int i = 0; forbidden[i]; i++) {
        int nr = forbidden_nr[i];
        if (nr < 0) continue;
        if (served && (nr == __NR_mount || nr == __NR_umount2)) continue;
        if (nr == __NR_socket && (jvm || python))
            /* nscd lookups of the JVM and CPython: fail quietly; other sockets: RV */
            add_rule(nr, R_EQ, OFF_LO(0), AF_UNIX, RET_ERRNO(EACCES), RET_NOTIFY);
        else
            add_rule(nr, R_RET, 0, 0, RET_NOTIFY, 0);
    }
    add_rule(__NR_clone3, R_RET, 0, 0, RET_ERRNO(ENOSYS), 0);
    add_rule(__NR_fork, R_RET, 0, 0, RET_NOTIFY, 0);
    add_rule(__NR_vfork, R_RET, 0, 0, RET_NOTIFY, 0);
    if (served)
        add_checked(__NR_clone, OFF_LO(0), CLONE_THREAD, &clone_ok);
    else
        add_rule(__NR_clone, R_MASK, OFF_LO(0), CLONE_THREAD, SECCOMP_RET_ALLOW, RET_NOTIFY);
    if (!jvm) {
        /* exec: only the launcher's own execveat(exe_fd, magic, ..., AT_EMPTY_PATH) */
        exec_ok.n = 0;
        add_check64(&exec_ok, 0, (uint64_t)exe_fd);
        add_check64(&exec_ok, 1, (uintptr_t)magic);
        add_check64(&exec_ok, 4, AT_EMPTY_PATH);
        add_rule(__NR_execve, R_RET, 0, 0, RET_NOTIFY, 0);
        add_checked(__NR_execveat, 0, 0, &exec_ok);
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
void resolve_seccomp_names(void) {}

int load_seccomp(int exe_fd, const char *magic) {
    if (strcmp(profile, "none") == 0) return -1;
    return load_seccomp_libseccomp(exe_fd, magic);
}

/* Elsewhere every P loads its own filter (libseccomp). */
int served_filter_supported(void) { return 0; }

int load_seccomp_served(int exe_fd, const char *magic, const struct served_filter *served) {
    (void)exe_fd, (void)magic, (void)served;
    die_msg("a serving launcher's own filter needs x86-64");
}
#endif

void describe_violation(const struct seccomp_notif *req, char *out, size_t size) {
    int plain = plain_open && (req->data.nr == __NR_open || req->data.nr == __NR_openat ||
                               req->data.nr == __NR_creat);
    char *name = seccomp_syscall_resolve_num_arch(req->data.arch, req->data.nr);
    if (plain)
        snprintf(out, size, "opening files");
    else
        snprintf(out, size, "%s", name ? name : "unknown");
    free(name);
}
