/* docs/hostile.rst §E 34: kill(-1, SIGKILL), kill(getppid(), SIGKILL) -> fail; the worker survives */
#include <signal.h>
#include <unistd.h>
int main(void) {
    int bad = 0;
    bad |= kill(getppid(), SIGKILL) == 0;
    bad |= kill(1, SIGKILL) == 0;
    kill(-1, SIGKILL);
    return bad;
}
