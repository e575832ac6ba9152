/* docs/hostile.rst §C 24: leave a file in /tmp (and a sleeping child); the next run sees neither.
 * argv[1] = "plant" or "check" (exit 0 when /tmp is clean), "child" forks a sleeper. */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
int main(int argc, char **argv) {
    const char *m = argc > 1 ? argv[1] : "plant";
    if (!strcmp(m, "check")) return access("/tmp/planted", F_OK) == 0;
    if (!strcmp(m, "child")) { if (fork() == 0) { setsid(); sleep(1000); } return 0; }
    int fd = open("/tmp/planted", O_WRONLY | O_CREAT, 0644);
    return fd < 0 ? 2 : 0;
}
