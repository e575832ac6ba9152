/* docs/hostile.rst §A 4: 4 threads, each burning 150 ms of CPU (under a 400 ms limit), together over */
#include <pthread.h>
#include <time.h>
static void *burn(void *arg) {
    (void)arg;
    struct timespec ts;
    do clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts); while (ts.tv_sec * 1000 + ts.tv_nsec / 1000000 < 150);
    return 0;
}
int main(void) {
    pthread_t t[4];
    for (int i = 0; i < 4; i++) pthread_create(&t[i], 0, burn, 0);
    for (int i = 0; i < 4; i++) pthread_join(t[i], 0);
    return 0;
}
