/* docs/hostile.rst §C 20: a file grown past the output limit -> OLE (not RE by SIGXFSZ).
 * The job directory is read-only for the program, so the file is in /tmp. */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
int main(int argc, char **argv) {
    static char buf[65536];
    memset(buf, 'y', sizeof buf);
    int fd = open(argc > 1 ? argv[1] : "/tmp/grow", O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) return 2;
    for (;;) if (write(fd, buf, sizeof buf) < 0) return 1;
}
