/* Prints NUL bytes and invalid UTF-8 instead of the answer. */
#include <stdio.h>
int main(void) {
    fwrite("\0\xff\xfe\xc3\x28 \x00x\n", 1, 10, stdout);
    return 0;
}
