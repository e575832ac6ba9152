/* docs/hostile.rst §A 3: spin on clock_gettime -> TLE */
#include <time.h>
int main(void) { struct timespec ts; for (;;) clock_gettime(CLOCK_MONOTONIC, &ts); }
