/* A test generator: writes gen1.in, gen2.in and notes.txt, prints a log. */
#include <stdio.h>
int main(void) {
    for (int i = 1; i <= 2; i++) {
        char name[32];
        snprintf(name, sizeof name, "gen%d.in", i);
        FILE *f = fopen(name, "w");
        if (!f) return 1;
        fprintf(f, "%d %d\n", i, i * 10);
        fclose(f);
        printf("wrote %s\n", name);
    }
    FILE *n = fopen("notes.txt", "w");
    if (!n) return 1;
    fputs("not a test\n", n);
    fclose(n);
    for (int i = 0; i < 1000; i++) printf("padding line %d\n", i);
    return 0;
}
