/*
 * sio-launcher: the namespaces' root, built by the namespace init I (tmpfs,
 * private /tmp, the host's links, read-only or read-write binds,
 * /dev/{null,zero,urandom}, the namespace's own /proc, pivot_root, a
 * read-only /), and the two one-shot modes -K (an empty network namespace)
 * and -F (the favordynmods cgroup v1 hierarchy).
 * The protocol (options, status lines, prepared mode) is specified in the
 * header comment of launcher.h.
 */
#include "launcher.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <stdint.h>
#include <sys/ipc.h>
#include <sys/mount.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

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
void build_root(void) {
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

/* Whether /tmp holds nothing but "." and "..". A tmpfs with an inode limit
 * says it in one call: one inode in use (its root) and no block (what a
 * file, directory, symlink or FIFO left takes one inode more; a removed
 * one gives its inode back, and no process of the run is left to hold one
 * open). Without a limit, the directory is read. */
static int tmp_is_empty(void) {
    struct statfs sf;
    if (statfs("/tmp", &sf) == 0 && sf.f_type == TMPFS_MAGIC && sf.f_files > 0)
        return sf.f_files - sf.f_ffree == 1 && sf.f_blocks == sf.f_bfree;
    int fd = open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return 0;
    char buf[4096];
    long n;
    int empty = 1;
    while (empty && (n = syscall(SYS_getdents64, fd, buf, sizeof buf)) > 0) {
        for (long off = 0; off < n;) {
            struct dirent64_head { uint64_t ino; int64_t off; unsigned short reclen;
                                   unsigned char type; char name[]; } *d = (void *)(buf + off);
            if (strcmp(d->name, ".") != 0 && strcmp(d->name, "..") != 0) { empty = 0; break; }
            off += d->reclen;
        }
    }
    if (n < 0) empty = 0;
    close(fd);
    return empty;
}

const char *tmp_path = "/tmp";

void fresh_tmp(int resized) {
    /* Every process of the run is gone, so an empty /tmp of the starting
     * size is as good as a new one (nothing open, nothing charged): it is
     * kept. Unmounting costs an RCU grace period (~0.15 ms of CPU). */
    if (!resized && tmp_is_empty()) return;
    if (umount2(tmp_path, MNT_DETACH) < 0) die("unmount /tmp");
    char opts[128];
    snprintf(opts, sizeof opts, "size=%luk,nr_inodes=%lu,mode=1777", tmp_kib, tmp_inodes);
    if (mount("sio-tmp", tmp_path, "tmpfs", MS_NOSUID | MS_NODEV, opts) < 0) die("mount /tmp");
}

/* Remove every SysV object of one kind (all its users are gone). */
#define CLEAR_IPC(info_call, in_use, stat_call, rmid_call)                       \
    do {                                                                          \
        int max = (info_call);                                                    \
        if (max < 0) die("ipc info");                                             \
        for (int i = 0; (in_use) && i <= max; i++) {                              \
            int id = (stat_call);                                                 \
            if (id >= 0 && (rmid_call) < 0) die("ipc remove");                    \
        }                                                                         \
    } while (0)

void clear_ipc(void) {
    /* The IPC namespace is I's, shared by its runs one after another: what a
     * run left (its processes are all gone) is removed before the next. An
     * empty namespace costs three calls; a new one per run cost ~40 us on the
     * run's path and its teardown later. POSIX message queues need
     * RLIMIT_MSGQUEUE, which is 0 for every program. */
    struct shm_info shm;
    struct shmid_ds shm_ds;
    CLEAR_IPC(shmctl(0, SHM_INFO, (struct shmid_ds *)&shm), shm.used_ids,
              shmctl(i, SHM_STAT, &shm_ds), shmctl(id, IPC_RMID, NULL));
    struct seminfo sem;
    struct semid_ds sem_ds;
    union { struct semid_ds *buf; struct seminfo *info; } info = {.info = &sem}, stat = {&sem_ds};
    CLEAR_IPC(semctl(0, 0, SEM_INFO, info), sem.semusz, semctl(i, 0, SEM_STAT, stat),
              semctl(id, 0, IPC_RMID));
    struct msginfo msg;
    struct msqid_ds msg_ds;
    CLEAR_IPC(msgctl(0, MSG_INFO, (struct msqid_ds *)&msg), msg.msgpool,
              msgctl(i, MSG_STAT, &msg_ds), msgctl(id, IPC_RMID, NULL));
}

int make_netns(const char *file) {
    int fd = open(file, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) { perror("create netns file"); return 1; }
    close(fd);
    if (unshare(CLONE_NEWNET) < 0) { perror("unshare"); return 1; }
    if (mount("/proc/self/ns/net", file, NULL, MS_BIND, NULL) < 0) { perror("bind netns"); return 1; }
    return 0;
}

int favor_dynmods(const char *dir) {
    if (mount("cgroup", dir, "cgroup", MS_NOSUID | MS_NODEV | MS_NOEXEC,
              "none,name=sio-workers-favordynmods,favordynmods") < 0) {
        perror("mount favordynmods hierarchy");
        return 1;
    }
    return 0;
}
