/* docs/hostile.rst §B 13: mmap 8 GiB, touch 1 MiB, under 64 MiB -> OK */
#include <string.h>
#include <sys/mman.h>
int main(void) {
    char *p = mmap(0, 8UL << 30, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) return 1;
    memset(p, 1, 1 << 20);
    return 0;
}
