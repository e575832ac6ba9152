/* Tries to overwrite every file it may reach: its input (reopened for
 * writing through /proc/self/fd/0), and ./in, ./hint, ./exe in its working
 * directory. Then prints the sum of two numbers it had read first (so that
 * it passes when it is a checker too: it prints OK). */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void scribble(const char *path) {
    int fd = open(path, O_WRONLY | O_TRUNC);
    if (fd >= 0) {
        (void)!write(fd, "9 9\n", 4);
        close(fd);
    }
}

int main(int argc, char **argv) {
    long a = 0, b = 0;
    if (scanf("%ld %ld", &a, &b) != 2) a = b = 0;
    scribble("/proc/self/fd/0");
    const char *names[] = {"in", "hint", argc > 2 ? argv[2] : "in", argc > 3 ? argv[3] : "hint"};
    for (int i = 0; i < 4; i++) scribble(names[i]);
    if (argc > 1) printf("OK\n");
    else printf("%ld\n", a + b);
    return 0;
}
