/* Replaces itself with /bin/true (an uncounted native program). */
#include <unistd.h>

int main(void)
{
    char *argv[] = {"/bin/true", NULL};
    execv("/bin/true", argv);
    return 3;
}
