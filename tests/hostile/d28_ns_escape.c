/* docs/hostile.rst §D 28: chroot, mount, unshare, setns, pivot_root (argv[1]) -> RV */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>
int main(int argc, char **argv) {
    const char *m = argc > 1 ? argv[1] : "chroot";
    if (!strcmp(m, "chroot")) return chroot("/tmp") == 0;
    if (!strcmp(m, "mount")) return mount("none", "/tmp", "tmpfs", 0, 0) == 0;
    if (!strcmp(m, "unshare")) return unshare(CLONE_NEWUSER) == 0;
    if (!strcmp(m, "setns")) return setns(open("/proc/1/ns/mnt", O_RDONLY), 0) == 0;
    return syscall(SYS_pivot_root, "/tmp", "/tmp") == 0;
}
