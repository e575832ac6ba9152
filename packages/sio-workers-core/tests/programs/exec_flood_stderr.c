/* Write 100 MB to stderr and a short line to stdout. */
#include <stdio.h>
#include <string.h>
int main(void) {
    static char buf[1 << 16]; memset(buf, 'e', sizeof buf);
    for (long done = 0; done < 100000000L; done += sizeof buf) fwrite(buf, 1, sizeof buf, stderr);
    fputs("done\n", stdout); return 0;
}
