/* bad-inputs E31: fork bomb (native profile: RV at the first fork) */
#include <unistd.h>
int main(void) { for (;;) fork(); }
