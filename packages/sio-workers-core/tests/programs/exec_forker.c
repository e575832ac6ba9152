/* Fork N children that sleep, print their pids, then sleep. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 2;
    for (int i = 0; i < n; i++) {
        pid_t pid = fork();
        if (pid == 0) { for (;;) pause(); }
        printf("%d\n", (int)pid); fflush(stdout);
    }
    for (;;) pause();
}
