/* Allocates and touches ARG MiB (default 16), prints one byte of it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 16;
    char *p = malloc((mib << 20) + 1);
    if (p == NULL)
        return 1;
    memset(p, 1, (mib << 20) + 1);
    printf("%d\n", p[mib << 20]);
    return 0;
}
