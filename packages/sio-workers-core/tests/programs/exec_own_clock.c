/* Spins until its own CPU clock (CLOCK_PROCESS_CPUTIME_ID, what clock()
   reads) says 20 ms and prints how many distinct values it read on the way:
   thousands where the clock is exact, a handful where it advances a
   scheduler tick at a time (what a CPU rlimit makes of it). */
#include <stdio.h>
#include <time.h>

int main(void) {
    struct timespec ts;
    long distinct = 0;
    long long last = -1, now;
    do {
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
        now = ts.tv_sec * 1000000000LL + ts.tv_nsec;
        if (now != last) {
            distinct++;
            last = now;
        }
    } while (now < 20000000LL);
    printf("%ld\n", distinct);
    return 0;
}
