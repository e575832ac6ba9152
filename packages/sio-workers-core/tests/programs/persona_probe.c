/* Prints "aslr off" when it runs with address-space randomisation off
 * (ADDR_NO_RANDOMIZE in its persona, read from /proc/self/personality),
 * else "aslr on". */
#include <stdio.h>
#include <stdlib.h>

int main(void) {
    FILE *f = fopen("/proc/self/personality", "r");
    char text[32];
    if (!f || !fgets(text, sizeof text, f)) return 2;
    unsigned long persona = strtoul(text, NULL, 16);
    puts(persona & 0x0040000 ? "aslr off" : "aslr on");
    return 0;
}
