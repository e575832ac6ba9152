/* Spin for about 1 s of user CPU, then print the user CPU time used (us). */
#include <stdio.h>
#include <sys/resource.h>
static long user_us(void) {
    struct rusage ru; getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec * 1000000L + ru.ru_utime.tv_usec;
}
int main(void) {
    volatile unsigned long x = 0;
    while (user_us() < 1000000L) for (int i = 0; i < 100000; i++) x++;
    printf("%ld\n", user_us());
    return 0;
}
