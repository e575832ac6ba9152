/* docs/hostile.rst §C 19: one 1 MiB write over a 64 KiB limit -> OLE */
#include <string.h>
#include <unistd.h>
static char buf[1 << 20];
int main(void) { memset(buf, 'x', sizeof buf); return write(1, buf, sizeof buf) == sizeof buf ? 0 : 0; }
