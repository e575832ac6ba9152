/* docs/hostile.rst §A 5: parent waits while forked children burn CPU (native profile: RV at fork) */
#include <sys/wait.h>
#include <unistd.h>
int main(void) {
    for (int i = 0; i < 4; i++) if (fork() == 0) for (;;) { __asm__ volatile(""); }
    while (wait(0) > 0) {}
    return 0;
}
