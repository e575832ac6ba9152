/* docs/hostile.rst §B 10: 512 MiB static array, touched -> MLE */
static char a[512 << 20];
int main(void) { for (long i = 0; i < (long)sizeof a; i += 4096) a[i] = 1; return a[12345]; }
