/* Spins ARG * 100,000 iterations (default 10), then dies of SIGSEGV. */
#include <stdlib.h>

int main(int argc, char **argv)
{
    volatile unsigned long i, n = (argc > 1 ? strtoul(argv[1], NULL, 10) : 10) * 100000UL;
    volatile int *null = (volatile int *)strtoul("0", NULL, 10);
    for (i = 0; i < n; i++)
        ;
    return *null;
}
