/* docs/hostile.rst §E 33: fork 100 children, exit 0 -> children killed */
#include <unistd.h>
int main(void) { for (int i = 0; i < 100; i++) if (fork() == 0) { sleep(1000); return 0; } return 0; }
