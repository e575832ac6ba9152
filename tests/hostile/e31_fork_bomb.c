/* docs/hostile.rst §E 31: fork bomb (native profile: RV at the first fork) */
#include <unistd.h>
int main(void) { for (;;) fork(); }
