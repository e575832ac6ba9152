/* docs/hostile.rst §E 36: execve("/bin/sh") / system("reboot") (argv[1]) -> RV */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
int main(int argc, char **argv) {
    if (argc > 1 && !strcmp(argv[1], "system")) return system("reboot");
    char *args[] = {"/bin/sh", "-c", "echo escaped", 0};
    execve("/bin/sh", args, 0);
    return 9;
}
