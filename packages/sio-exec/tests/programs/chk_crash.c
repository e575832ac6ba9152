/* A checker that crashes. */
#include <signal.h>
#include <stdio.h>
int main(void) {
    puts("OK");
    fflush(stdout);
    raise(SIGSEGV);
    return 0;
}
