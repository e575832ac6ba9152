/* docs/hostile.rst §A 8: burn argv[1] ms of CPU, then exit 0 */
#include <stdlib.h>
#include <time.h>
int main(int argc, char **argv) {
    long ms = argc > 1 ? atol(argv[1]) : 100;
    struct timespec ts;
    do clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts); while (ts.tv_sec * 1000 + ts.tv_nsec / 1000000 < ms);
    return 0;
}
