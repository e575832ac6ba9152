/* docs/hostile.rst §C 25: create 100,000 empty files in /tmp; exit 0 when a limit stopped it */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>
int main(void) {
    char name[64];
    for (int i = 0; i < 100000; i++) {
        snprintf(name, sizeof name, "/tmp/f%d", i);
        int fd = open(name, O_WRONLY | O_CREAT, 0600);
        if (fd < 0) return 0;
        close(fd);
    }
    return 1;
}
