/* docs/hostile.rst §A 2: sleep / pause / blocking read on a pipe nobody closes -> TLE (wall) */
#include <string.h>
#include <unistd.h>
int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "sleep";
    if (!strcmp(mode, "pause")) pause();
    if (!strcmp(mode, "pipe")) { int p[2]; char c; pipe(p); read(p[0], &c, 1); }
    sleep(1000);
    return 0;
}
