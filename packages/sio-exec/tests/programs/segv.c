/* Dies from SIGSEGV (RE). */
#include <signal.h>
int main(void) {
    raise(SIGSEGV);
    return 0;
}
