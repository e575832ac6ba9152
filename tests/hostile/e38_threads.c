/* docs/hostile.rst §E 38: threads are allowed (and counted) in the native profile -> OK */
#include <pthread.h>
static void *work(void *a) { volatile long x = 0; for (long i = 0; i < 1000000; i++) x += i; return a; }
int main(void) {
    pthread_t t[4];
    for (int i = 0; i < 4; i++) if (pthread_create(&t[i], 0, work, 0)) return 1;
    for (int i = 0; i < 4; i++) pthread_join(t[i], 0);
    return 0;
}
