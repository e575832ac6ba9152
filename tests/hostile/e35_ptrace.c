/* docs/hostile.rst §E 35: ptrace(PTRACE_ATTACH) on the parent / pid 1 -> RV */
#include <sys/ptrace.h>
#include <unistd.h>
int main(void) { return ptrace(PTRACE_ATTACH, getppid(), 0, 0) == 0 || ptrace(PTRACE_ATTACH, 1, 0, 0) == 0; }
