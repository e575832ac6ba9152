/* docs/hostile.rst §C 21: NUL bytes and invalid UTF-8 on stdout */
#include <unistd.h>
int main(void) { static const char b[] = "a\0b\xff\xfe\xc3(\n"; return write(1, b, sizeof b - 1) < 0; }
