/* docs/hostile.rst §A 7: kill(getppid(), SIGSTOP) then spin -> TLE */
#include <signal.h>
#include <unistd.h>
int main(void) { kill(getppid(), SIGSTOP); kill(1, SIGSTOP); for (;;) { __asm__ volatile(""); } }
