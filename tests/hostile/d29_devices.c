/* docs/hostile.rst §D 29: /dev/mem, /dev/kmsg, block devices fail; null, zero, urandom work (exit 0) */
#include <fcntl.h>
#include <unistd.h>
int main(int argc, char **argv) {
    int rw = argc > 1; /* the plain profile forbids opening anything for writing */
    const char *bad[] = {"/dev/mem", "/dev/kmsg", "/dev/sda", "/dev/vda", "/dev/nvme0n1", "/dev/port", "/dev/tty", 0};
    for (int i = 0; bad[i]; i++) if (open(bad[i], O_RDONLY) >= 0) return 1;
    char c[16];
    int z = open("/dev/zero", O_RDONLY), u = open("/dev/urandom", O_RDONLY);
    int n = open("/dev/null", rw ? O_RDWR : O_RDONLY);
    if (z < 0 || u < 0 || n < 0) return 2;
    if (read(z, c, 16) != 16 || read(u, c, 16) != 16 || read(n, c, 16) != 0) return 3;
    if (rw && write(n, c, 16) != 16) return 4;
    return 0;
}
