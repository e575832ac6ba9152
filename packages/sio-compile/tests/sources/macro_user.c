#include <stdio.h>
int main(void) { printf("%s\n", GREETING); return 0; }
