/*
 * sio-launcher: the in-child half of the sio-workers supervisor.
 *
 * Started by the worker with posix_spawn (as root), it
 *   1. opens the run's cgroup.procs files and the program (before the
 *      filesystem view changes),
 *   3. unshares mount, pid, net, ipc and uts namespaces and forks the
 *      namespace init "I" (pid 1), which builds a minimal read-only root
 *      (tmpfs + read-only binds + /dev/{null,zero,urandom} + private /tmp +
 *      the namespace's own /proc) and starts the program "P" (pid 2,
 *      clone(CLONE_VM | CLONE_CHILD_CLEARTID): it shares I's memory until
 *      its exec, and I waits for that exec as vfork would),
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
 * starts P, which takes its stdio from the message, joins the network
 * namespace (a new one when -n is absent) and goes on as in the normal mode.
 * The status line protocol is the same. EOF on fd 5 makes I exit quietly.
 *
 * Serving mode (-S, with -P): I serves one run after another in the same
 * namespaces and root. Each go message carries one more descriptor, first:
 * the write end of the run's own status pipe (the status line goes there,
 * and I closes it after the line; fd 3, the launcher's, only tells the
 * worker that the launcher is alive: EOF when it has died), then an eventfd
 * that every status line is followed by a write of 1 to (the worker waits on
 * it and on the pipe's hang-up: an eventfd's wakeup is not a synchronous
 * one, so the worker may go on at once on an idle CPU while I does its work
 * between runs on its own). After each run
 * I kills every other process of the namespace and reaps them (as after any
 * run), closes everything of the run, mounts a fresh /tmp (the -t size of
 * the start) unless the run left /tmp empty and did not resize it, removes
 * every SysV object of the namespace (the runs share I's IPC namespace one
 * after another: nothing of one run reaches the next; POSIX message queues
 * need RLIMIT_MSGQUEUE, 0 for every program) and starts the next run's P.
 * From the second run on, that P takes the next message itself (it shares
 * I's memory and descriptors until its exec), so the message wakes P, not I;
 * I waits for P's exec (CLONE_CHILD_CLEARTID). P ending before it has a run
 * means EOF on fd 5 (I exits quietly, as for EOF at the first run), a bad
 * message (its error line is out; I exits as it would have) or P killed
 * while it waited (I starts another). No -b destination may lie under /tmp.
 *
 * The filter of a serving I (x86-64): at its first run, when that run has a
 * seccomp profile (-s other than none), the network namespace by descriptor
 * (-n) and no -A, I joins that network namespace and loads the run's filter
 * itself, once; every P it starts inherits it instead of loading its own
 * (which cost about a tenth of a served run). The filter is the profile's,
 * plus what I itself does under it, each allowed only with arguments that
 * exist in I's memory alone, at random addresses, so that the program (whose
 * memory is its own from its exec) cannot present them:
 *   clone    exactly P's flags (P_CLONE_FLAGS) with a stack pointer in the
 *            top page of I's stack for P;
 *   mount, umount2   with I's own "/tmp" string as the target (fresh /tmp).
 * P puts the program on a descriptor number I reserved (the filter's exec
 * rule names it) and joins nothing (it is in I's network namespace). The
 * worker serves such a launcher only runs with the same profile, -o, -A and
 * network namespace (prepared.filter_key); I refuses any other run with an
 * error line. Elsewhere, or when the first run does not qualify, every P
 * loads its own filter, as in the other modes.
 *
 * Source layout: one translation unit per responsibility, sharing this
 * header (the protocol above is the contract of them all):
 *   launcher_main.c     main, option parsing, the status-line protocol
 *                       (report/die) and prepared mode's go message
 *   launcher_ns.c       the namespaces' root (mounts, binds, /dev, /tmp,
 *                       /proc, pivot_root), -K (netns) and -F (favordynmods)
 *   launcher_limits.c   what P applies to itself: cgroup join, rlimits,
 *                       credentials, personality (ASLR)
 *   launcher_seccomp.c  the seccomp profiles (classic BPF on x86-64,
 *                       libseccomp elsewhere) and syscall names
 *   launcher_run.c      the namespace init I: start of P, P's last steps to
 *                       its exec, the wait loop with seccomp notifications,
 *                       the -T wall limit and the final status line
 * All are compiled into one static binary (sio.workers.native.LAUNCHER).
 */
#ifndef SIO_LAUNCHER_H
#define SIO_LAUNCHER_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <sys/resource.h>
#include <sys/types.h>

#define STATUS_FD 3
#define GO_FD 4
#define PREP_FD 5
#define MAX_ITEMS 64
#define MAX_ENV 1024
#define MAX_MSG_FDS (7 + MAX_ITEMS)

extern char **environ;

/* ---- the run's options (set by parse_args, launcher_main.c) ---- */

struct rlimit_opt { int res; rlim_t soft, hard; };
struct bind_opt { char *src, *dst; int ro; };

extern const char *cgroups[MAX_ITEMS];      /* -c: cgroup.procs files */
extern int cgroup_fds[MAX_ITEMS];           /* ... opened (or from the go message) */
extern int n_cgroups;
extern struct rlimit_opt rlims[MAX_ITEMS];  /* -r */
extern int n_rlims;
extern struct bind_opt binds[MAX_ITEMS];    /* -b */
extern int n_binds;
extern const char *links[MAX_ITEMS];        /* -l */
extern int n_links;
extern uid_t run_uid;                       /* -u */
extern gid_t run_gid;                       /* -g */
extern const char *mountpoint;              /* -M */
extern const char *workdir;                 /* -w */
extern unsigned long tmp_kib, tmp_inodes;   /* -t */
extern int tmp_given;                       /* -t was given (prepared mode: resize /tmp) */
extern const char *profile;                 /* -s */
extern int plain_open;                      /* -o */
extern int no_namespaces;                   /* -N */
extern int hold_at_exec;                    /* -W */
extern const char *netns_file;              /* -n */
extern int prepared;                        /* -P */
extern int serving;                         /* -S (with -P): one run after another */
extern int aslr_off;                        /* -A */
extern char *run_env[MAX_ENV + 1];          /* -e (prepared mode) */
extern int n_env;
extern long long wall_limit_ns;             /* -T: I kills the run after this long (0: never) */

/* Prepared mode: what the go message brought (-1 = none). */
extern int msg_stdio[3];
extern int msg_netns, msg_go;
/* serving mode: the run's eventfd, written after every status line; -1 */
extern int run_event_fd;

/* ---- launcher_main.c: the status-line protocol, options, go message ---- */

/* Write one status line ("\n" added) on STATUS_FD. */
void report(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "error WHAT: strerror(errno)", exit 120. */
void die(const char *what) __attribute__((noreturn));
/* "error WHAT", exit 120. */
void die_msg(const char *what) __attribute__((noreturn));
long long now_ns(void);
/* Set the options from argv[1..]; *prog_index: the index after "--". */
void parse_args(int argc, char **argv, int *prog_index);
/* Prepared mode, in I: wait for the go message; the program's O_PATH fd. */
int receive_run(char ***prog_argv);
/* Serving mode, in I: the run's options back to their defaults. */
void reset_run_options(void);
/* Prepared mode, in P: put the message's descriptors in place and join the
 * network namespace of netns_fd (-1: a new one; -2: stay in I's). */
void take_run_fds(int netns_fd);

/* ---- launcher_ns.c: the new root, -K, -F ---- */

/* In I (pid 1 of the new pid namespace): build the root and pivot into it. */
void build_root(void);
/* "/tmp", where I mounts it (a serving I's filter names this very string). */
extern const char *tmp_path;
/* Serving mode, in I, between runs: /tmp as new, of the starting size
 * (resized: the run had a -t of its own). */
void fresh_tmp(int resized);
/* Serving mode, in I, between runs: no SysV object of the run is left. */
void clear_ipc(void);
/* -K FILE: an empty network namespace bound at FILE; 0 or 1 (perror). */
int make_netns(const char *file);
/* -F DIR: the empty named favordynmods cgroup v1 hierarchy; 0 or 1 (perror). */
int favor_dynmods(const char *dir);

/* ---- launcher_limits.c: what P applies to itself before its exec ---- */

/* Before the namespaces: open every -c file (cgroup_fds). */
void open_cgroups(void);
/* In P, as root: write "0" to every cgroup.procs file. */
void join_cgroups(void);
void set_rlimits(void);
/* No supplementary groups, the slot's gid and uid. */
void drop_credentials(void);
/* -A: address-space randomisation off. */
void set_personality(void);

/* ---- launcher_seccomp.c: the profiles ---- */

struct seccomp_notif;
/* In P: load the -s profile; the notification fd, or -1 for "none". */
int load_seccomp(int exe_fd, const char *magic);
/* The flags I starts P with (clone, sharing I's memory and descriptors). */
#define P_CLONE_FLAGS (CLONE_VM | CLONE_FILES | CLONE_CHILD_CLEARTID | SIGCHLD)
/* The filter of a serving I, loaded once by I and inherited by every P: the
 * -s profile plus what I does under it (clone with exactly P_CLONE_FLAGS on
 * a stack whose top lies in clone_stack_page; mount and umount2 of the
 * string at tmp_path). */
struct served_filter { const void *clone_stack_page; const char *tmp_path; };
int load_seccomp_served(int exe_fd, const char *magic, const struct served_filter *served);
/* Whether load_seccomp_served exists here (x86-64). */
int served_filter_supported(void);
void resolve_seccomp_names(void);
/* The violation a notification stands for ("opening files" or the
 * syscall's name) into out. */
void describe_violation(const struct seccomp_notif *req, char *out, size_t size);

/* ---- launcher_run.c: the namespace init I and the program P ---- */

/* In I (pid 1): never returns. */
/* read end of a pipe whose write end only the launcher holds (I checks it
 * after setting its parent-death signal); -1 once checked */
extern int launcher_alive_fd;
void run_init(int exe_fd, char **argv) __attribute__((noreturn));

#endif
