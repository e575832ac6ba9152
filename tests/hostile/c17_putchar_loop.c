/* docs/hostile.rst §C 17: while(1) putchar('a'); -> OLE quickly */
#include <stdio.h>
int main(void) { for (;;) putchar('a'); }
