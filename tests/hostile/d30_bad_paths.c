/* docs/hostile.rst §D 30: NULL, 64 KiB long and invalid UTF-8 paths -> errno (exit 0) */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
int main(void) {
    static char longp[65536];
    memset(longp, 'a', sizeof longp - 1);
    if (syscall(SYS_openat, AT_FDCWD, (char *)0, O_RDONLY) >= 0 || errno != EFAULT) return 1;
    if (open(longp, O_RDONLY) >= 0 || errno != ENAMETOOLONG) return 2;
    if (open("/tmp/\xff\xfe\xc3(", O_RDONLY) >= 0) return 3;
    if (syscall(SYS_openat, AT_FDCWD, (char *)1, O_RDONLY) >= 0) return 4;
    return 0;
}
