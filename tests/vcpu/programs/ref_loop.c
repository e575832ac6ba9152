/* Reference loop: executes ARG * 2,000,000 instructions in its loop (ARG =
 * virtual milliseconds, default 1000), i.e. ARG ms of virtual time at
 * 2*10^9 instructions per second, plus process start-up. 10 instructions per
 * iteration (8 xorshift/ALU + dec + jnz). */
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    unsigned long ms = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000;
    unsigned long iterations = ms * 200000UL;
    unsigned long x = 88172645463325252UL, t = 0;
    if (iterations == 0)
        return 0;
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
        : "+r"(x), "+r"(t), "+r"(iterations)
        :
        : "cc");
    printf("%lu\n", x);
    return 0;
}
