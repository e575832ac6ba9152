/* Starts ARG threads (default 4); each runs the same fixed loop of
 * 20,000,000 instructions (10 per iteration, as in ref_loop.c); joins them. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static void *work(void *arg)
{
    unsigned long x = (unsigned long)arg + 1, t = 0, n = 2000000UL;
    __asm__ volatile(
        "1:\n\t"
        "mov %0, %1\n\t"
        "shl $13, %1\n\t"
        "xor %1, %0\n\t"
        "mov %0, %1\n\t"
        "shr $7, %1\n\t"
        "xor %1, %0\n\t"
        "mov %0, %1\n\t"
        "shl $17, %1\n\t"
        "dec %2\n\t"
        "jnz 1b\n\t"
        : "+r"(x), "+r"(t), "+r"(n)
        :
        : "cc");
    return (void *)x;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 4;
    pthread_t threads[64];
    unsigned long acc = 0;
    if (n < 0 || n > 64)
        return 2;
    for (int i = 0; i < n; i++)
        if (pthread_create(&threads[i], NULL, work, (void *)(unsigned long)i) != 0)
            return 3;
    for (int i = 0; i < n; i++) {
        void *r;
        pthread_join(threads[i], &r);
        acc ^= (unsigned long)r;
    }
    printf("%d %lu\n", n, acc);
    return 0;
}
