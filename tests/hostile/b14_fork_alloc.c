/* docs/hostile.rst §B 14: 8 forked children each allocating limit/4 (native profile: RV at fork) */
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
int main(void) {
    for (int i = 0; i < 8; i++)
        if (fork() == 0) { char *p = malloc(16 << 20); memset(p, 1, 16 << 20); sleep(5); return 0; }
    while (wait(0) > 0) {}
    return 0;
}
