/* Writes to stdout forever (OLE). */
#include <stdio.h>
int main(void) {
    for (;;) putchar('a');
}
