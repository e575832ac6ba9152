/* docs/hostile.rst §B 9: malloc+memset until NULL, then exit(3) -> MLE */
#include <stdlib.h>
#include <string.h>
int main(void) {
    for (;;) { char *p = malloc(1 << 20); if (!p) exit(3); memset(p, 1, 1 << 20); }
}
