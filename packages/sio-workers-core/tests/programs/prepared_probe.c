/* Prints what a run's sandbox looks like from inside: the size of /tmp
 * (KiB), the LC_ALL variable, the working directory, the network
 * namespace (an inode number), its own pid, the IPC namespace (an inode
 * number) and how many entries /tmp holds, one per line; with an
 * argument also whether a SysV shared memory segment of a fixed key exists
 * (1) or not (0), and it then leaves a file in /tmp and such a segment
 * (the next run must see neither). */
#include <sys/ipc.h>
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
        printf("%d\n", shmget(0x5105e, 0, 0) >= 0);
        if (shmget(0x5105e, 4096, IPC_CREAT | 0600) < 0) return 6;
        int fd = open("/tmp/left-by-probe", O_WRONLY | O_CREAT, 0644);
        if (fd < 0) return 5;
        close(fd);
    }
    return 0;
}
