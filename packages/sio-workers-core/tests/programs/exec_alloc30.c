/* Touch 30 MiB of heap (volatile: the compiler must not drop the allocation). */
#include <stdlib.h>
#include <string.h>
int main(void) {
    size_t n = 30u << 20;
    char *volatile p = malloc(n);
    if (!p) return 3;
    memset(p, 7, n);
    return p[n / 2] == 7 ? 0 : 1;
}
