#define _GNU_SOURCE
/* Run by a serving launcher whose init loaded the filter for all its runs
 * (launcher.h): with no argument it prints how many seccomp filters it is
 * under (Seccomp_filters of /proc/self/status: must be 1); otherwise it
 * tries what that filter lets the init itself do, with arguments of its own:
 *   clone   clone with the init's exact flags (CLONE_VM | CLONE_VFORK |
 *           CLONE_FILES | SIGCHLD) on a stack of its own
 *   mount   mount a tmpfs on its own "/tmp" string
 *   umount  umount2 its own "/tmp" string
 *   setns   setns into its own network namespace
 *   socket  socket(AF_UNIX): the python profile fails it with EACCES
 * and prints "allowed" if the call was let through. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

static char stack[65536];

int main(int argc, char **argv) {
    if (argc < 2) {
        FILE *f = fopen("/proc/self/status", "r");
        char line[256];
        while (f && fgets(line, sizeof line, f))
            if (strncmp(line, "Seccomp_filters:", 16) == 0) fputs(line, stdout);
        return 0;
    }
    long r = -1;
    if (strcmp(argv[1], "clone") == 0) {
        r = syscall(SYS_clone, CLONE_VM | CLONE_VFORK | CLONE_FILES | SIGCHLD,
                    stack + sizeof stack - 16, NULL, NULL, 0);
        if (r == 0) _exit(0);
    } else if (strcmp(argv[1], "mount") == 0) {
        r = mount("x", "/tmp", "tmpfs", 0, NULL);
    } else if (strcmp(argv[1], "umount") == 0) {
        r = umount2("/tmp", MNT_DETACH);
    } else if (strcmp(argv[1], "setns") == 0) {
        int fd = open("/proc/self/ns/net", O_RDONLY);
        r = setns(fd, CLONE_NEWNET);
    } else if (strcmp(argv[1], "socket") == 0) {
        r = socket(AF_UNIX, SOCK_STREAM, 0);
        printf("%s\n", r < 0 ? strerror(errno) : "socket");
        return 0;
    }
    printf("allowed (%ld, %s)\n", r, strerror(errno));
    return 0;
}
