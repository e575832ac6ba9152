#include <stdio.h>
#include "lib.h"
int main(void) { printf("answer %d\n", lib_answer()); return 0; }
