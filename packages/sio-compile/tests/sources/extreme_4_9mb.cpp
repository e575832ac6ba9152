// docs/hostile.rst §G 47: a static executable just under 5 MiB
#include <cstdio>
const int SIZE = 4 * 1024 * 1024;
const char BIG[SIZE] = {3};
int main(int argc, char **argv) { std::printf("%hhd\n", BIG[argc]); return 0; }
