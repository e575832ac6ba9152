/* docs/hostile.rst §E 37: SIGSEGV / SIGFPE / SIGABRT / exit 42 (argv[1]) -> RE */
#include <stdlib.h>
#include <string.h>
int main(int argc, char **argv) {
    const char *m = argc > 1 ? argv[1] : "segv";
    if (!strcmp(m, "segv")) { volatile int *p = 0; return *p; }
    if (!strcmp(m, "fpe")) { volatile int z = 0, one = 1; int r = one / z; return r; }
    if (!strcmp(m, "abort")) abort();
    return 42;
}
