/* bad-inputs B12: deep recursion past the limit -> MLE (stack rlimit = memory limit) */
#include <stdio.h>
static int depth(int n) { volatile char buf[1024]; buf[0] = (char)n; return depth(n + 1) + buf[0]; }
int main(void) { return depth(0); }
