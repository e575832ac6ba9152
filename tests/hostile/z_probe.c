/* After every hostile case: the next run sees an empty /tmp and no other process (exit 0). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
int main(void) {
    int bad = 0;
    DIR *d = opendir("/tmp");
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) { printf("tmp: %s\n", e->d_name); bad = 1; }
    d = opendir("/proc");
    while (d && (e = readdir(d)))
        if (strspn(e->d_name, "0123456789") == strlen(e->d_name) && atoi(e->d_name) > 2) {
            printf("proc: %s\n", e->d_name);
            bad = 1;
        }
    return bad;
}
