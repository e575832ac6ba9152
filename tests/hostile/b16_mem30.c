/* docs/hostile.rst §B 16: 30 MiB in .bss / .data / heap / stack (argv[1]) */
#include <stdlib.h>
#include <string.h>
#define SZ (30 << 20)
static char bss[SZ];
static char data[SZ] = {1};
static int use_stack(void) { volatile char s[SZ]; for (long i = 0; i < SZ; i += 4096) s[i] = 1; return s[4096]; }
int main(int argc, char **argv) {
    const char *m = argc > 1 ? argv[1] : "bss";
    if (!strcmp(m, "bss")) { memset(bss, 1, SZ); return bss[77] - 1; }
    if (!strcmp(m, "data")) { for (long i = 0; i < SZ; i += 4096) data[i] = 2; return data[4096] - 2; }
    if (!strcmp(m, "heap")) {
        char *volatile p = malloc(SZ);
        if (!p) return 3;
        for (long i = 0; i < SZ; i += 4096) p[i] = 1;
        return p[4096] - 1;
    }
    return use_stack() - 1;
}
