/* Integer division by zero: SIGFPE. */
#include <stdio.h>
int main(int argc, char **argv) {
    (void)argv;
    volatile int zero = argc - 1, num = 1000 + argc;
    printf("%d\n", num / zero);
    return 0;
}
