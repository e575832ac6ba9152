/* bad-inputs A1: for(;;); -> TLE */
int main(void) { for (;;) { __asm__ volatile(""); } }
