/* An input verifier: the input must be two integers in [0, 1000]. */
#include <stdio.h>
int main(int argc, char **argv) {
    long long a, b;
    const char *name = argc > 1 ? argv[1] : "?";
    if (scanf("%lld %lld", &a, &b) != 2 || a < 0 || a > 1000 || b < 0 || b > 1000) {
        printf("WRONG\n%s: values out of range\n", name);
        return 1;
    }
    printf("OK\n%s: a=%lld b=%lld\n", name, a, b);
    return 0;
}
