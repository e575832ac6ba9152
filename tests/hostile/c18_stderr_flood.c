/* docs/hostile.rst §C 18: infinite writes to stderr -> no deadlock (discarded: TLE; to a file: OLE) */
#include <stdio.h>
int main(void) { for (;;) fputs("error error error error error\n", stderr); }
