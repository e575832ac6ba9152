/* Opens /tmp/out for writing and writes to it. */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

int main(void)
{
    int fd = open("/tmp/out", O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) {
        perror("open");
        return 2;
    }
    if (write(fd, "x", 1) != 1)
        return 3;
    close(fd);
    puts("written");
    return 0;
}
