#define _GNU_SOURCE
/* Prints what a run's sandbox looks like from inside: the size of /tmp
 * (KiB), the LC_ALL variable, the working directory, the network
 * namespace (an inode number), its own pid, the IPC namespace (an inode
 * number) and how many entries /tmp holds, one per line; with an
 * argument also how many SysV objects (shared memory segments, semaphore
 * sets, message queues) exist, and it then leaves a file in /tmp and one
 * object of each kind, plus a keyless segment (the next run must see none
 * of them). */
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

int main(int argc, char **argv) {
    (void)argv;
    struct statvfs vfs;
    if (statvfs("/tmp", &vfs) != 0) return 2;
    printf("%llu\n", (unsigned long long)vfs.f_blocks * vfs.f_frsize / 1024);
    const char *lc = getenv("LC_ALL");
    printf("%s\n", lc ? lc : "-");
    char cwd[256];
    printf("%s\n", getcwd(cwd, sizeof cwd) ? cwd : "?");
    struct stat st;
    if (stat("/proc/self/ns/net", &st) != 0) return 3;
    printf("%llu\n", (unsigned long long)st.st_ino);
    printf("%d\n", (int)getpid());
    if (stat("/proc/self/ns/ipc", &st) != 0) return 4;
    printf("%llu\n", (unsigned long long)st.st_ino);
    int entries = 0;
    DIR *d = opendir("/tmp");
    struct dirent *e;
    while (d && (e = readdir(d))) entries += e->d_name[0] != '.';
    printf("%d\n", entries);
    if (argc > 1) {
        struct shm_info shm;
        struct seminfo sem;
        struct msginfo msg;
        if (shmctl(0, SHM_INFO, (struct shmid_ds *)&shm) < 0) return 7;
        if (semctl(0, 0, SEM_INFO, &sem) < 0) return 8;
        if (msgctl(0, MSG_INFO, (struct msqid_ds *)&msg) < 0) return 9;
        printf("%d\n", (int)shm.used_ids + sem.semusz + msg.msgpool);
        if (shmget(0x5105e, 4096, IPC_CREAT | 0600) < 0) return 6;
        if (shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600) < 0) return 6;
        if (semget(0x5105e, 1, IPC_CREAT | 0600) < 0) return 6;
        if (msgget(0x5105e, IPC_CREAT | 0600) < 0) return 6;
        int fd = open("/tmp/left-by-probe", O_WRONLY | O_CREAT, 0644);
        if (fd < 0) return 5;
        close(fd);
    }
    return 0;
}
