/* docs/hostile.rst §B 12: deep recursion past the limit -> MLE (stack rlimit = 2 x memory limit) */
#include <stdio.h>
static int depth(int n) { volatile char buf[1024]; buf[0] = (char)n; return depth(n + 1) + buf[0]; }
int main(void) { return depth(0); }
