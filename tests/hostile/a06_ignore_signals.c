/* docs/hostile.rst §A 6: ignore/catch SIGXCPU, SIGTERM, SIGALRM and keep spinning -> TLE */
#include <signal.h>
static void h(int s) { (void)s; }
int main(void) {
    signal(SIGXCPU, h); signal(SIGTERM, SIG_IGN); signal(SIGALRM, h); signal(SIGINT, SIG_IGN);
    for (;;) { __asm__ volatile(""); }
}
