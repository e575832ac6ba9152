/*
 * sio-launcher: the limits the program P puts on itself before its exec, in
 * the order launcher_run.c calls them: it joins the run's cgroups (opened
 * by main before the filesystem view changes, or brought by the go
 * message), sets its rlimits, drops to the slot's credentials and, with
 * -A, turns address-space randomisation off.
 * The protocol (options, status lines, prepared mode) is specified in the
 * header comment of launcher.h.
 */
#include "launcher.h"

#include <fcntl.h>
#include <grp.h>
#include <sys/personality.h>
#include <sys/syscall.h>
#include <unistd.h>

void open_cgroups(void) {
    for (int i = 0; i < n_cgroups; i++) {
        cgroup_fds[i] = open(cgroups[i], O_WRONLY | O_CLOEXEC);
        if (cgroup_fds[i] < 0) die("open cgroup");
    }
}

/* Last of the setup done as root: from here on every CPU cycle, page and
 * task is the program's. */
void join_cgroups(void) {
    for (int i = 0; i < n_cgroups; i++) {
        if (write(cgroup_fds[i], "0", 1) != 1) die("join cgroup");
        /* not closed: I's (shared) table; close-on-exec */
    }
}

void set_rlimits(void) {
    for (int i = 0; i < n_rlims; i++) {
        struct rlimit rl = {rlims[i].soft, rlims[i].hard};
        if (setrlimit(rlims[i].res, &rl) < 0) die("setrlimit");
    }
}

/* Raw system calls: P shares I's memory (launcher_run.c), and the libc
 * wrappers may act for every thread of the process they think they are in. */
void drop_credentials(void) {
    if (syscall(SYS_setgroups, 0, NULL) < 0) die("setgroups");
    if (syscall(SYS_setresgid, run_gid, run_gid, run_gid) < 0) die("setresgid");
    if (syscall(SYS_setresuid, run_uid, run_uid, run_uid) < 0) die("setresuid");
}

void set_personality(void) {
    if (!aslr_off) return;
    int persona = personality(0xffffffff);
    if (persona < 0 || personality((unsigned long)persona | ADDR_NO_RANDOMIZE) < 0)
        die("personality");
}
