#include <stdio.h>
#include "archived/archlib.h"
int main(void) { printf("archived %d\n", ARCHIVED_VALUE); return 0; }
