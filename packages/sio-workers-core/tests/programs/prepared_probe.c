/* Prints what a run's sandbox looks like from inside: the size of /tmp
 * (KiB), the LC_ALL variable, the working directory and the network
 * namespace (an inode number), one per line. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

int main(void) {
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
    return 0;
}
