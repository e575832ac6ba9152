/* docs/hostile.rst §A 1: for(;;); -> TLE */
int main(void) { for (;;) { __asm__ volatile(""); } }
