/* docs/hostile.rst §D 27: dump /proc/1/environ, the environment and /proc/self/mountinfo to stdout */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>
extern char **environ;
static void dump(const char *path) {
    char buf[4096];
    int fd = open(path, O_RDONLY);
    if (fd < 0) return;
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) fwrite(buf, 1, n, stdout);
    close(fd);
}
int main(void) {
    for (char **e = environ; *e; e++) printf("%s\n", *e);
    dump("/proc/1/environ"); dump("/proc/2/environ"); dump("/proc/self/environ");
    dump("/proc/self/mountinfo"); dump("/proc/1/cmdline");
    return 0;
}
