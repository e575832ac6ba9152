/* A checker that tries to read a file outside its directory. */
#include <stdio.h>
int main(void) {
    FILE *f = fopen("/etc/hostname", "r");
    if (f) { printf("OK\nread /etc/hostname\n"); return 0; }
    FILE *o = fopen("out", "r");
    printf(o ? "OK\nconfined\n" : "WRONG\ncannot read out\n");
    return 0;
}
