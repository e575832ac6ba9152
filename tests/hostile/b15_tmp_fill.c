/* docs/hostile.rst §B 15: write 700 MiB into /tmp (and /dev/shm) -> MLE or OLE */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
int main(void) {
    static char buf[1 << 20];
    memset(buf, 'x', sizeof buf);
    int shm = open("/dev/shm/x", O_WRONLY | O_CREAT, 0600);
    if (shm >= 0) for (int i = 0; i < 700; i++) write(shm, buf, sizeof buf);
    int fd = open("/tmp/fill", O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) return 2;
    for (int i = 0; i < 700; i++) if (write(fd, buf, sizeof buf) < 0) return 3;
    return 0;
}
