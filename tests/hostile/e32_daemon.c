/* docs/hostile.rst §E 32: fork + setsid + double fork (daemon) -> no survivor */
#include <unistd.h>
int main(void) {
    if (fork() == 0) { setsid(); if (fork() == 0) { for (;;) sleep(1); } return 0; }
    return 0;
}
